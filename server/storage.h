#pragma once

// Where walls live between runs. One interface, so that a distributed backend can follow the
// embedded SQLite one without the rooms noticing.

#include "core/protocol.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace scrawl {

struct StoredWall
{
    std::int64_t id = 0;
    QString name;
    std::uint64_t headSeq = 0;
};

// Who owns a wall and how it is protected. Secrets never stored in clear: the owner token and the
// password are kept as hashes (SHA-256 and PBKDF2); the API token is a bearer credential the
// owner must be able to read again, so it is stored as issued.
struct WallAccess
{
    std::uint64_t ownerUser = 0;       // 0: a wall from before owners existed
    QByteArray ownerTokenHash;         // SHA-256 of the owner token
    QByteArray passwordHash;           // empty: no password
    QByteArray passwordSalt;
    int passwordIterations = 0;
    QByteArray apiToken;
    bool locked = false;
    bool hasPassword() const { return !passwordHash.isEmpty(); }
};

struct WallSummary
{
    QString name;
    std::uint64_t ops = 0;
};

// One sequenced op ready to be written: the wall it belongs to and its serialised Op.
struct PendingOp
{
    std::int64_t wallId = 0;
    const pb::Op *op = nullptr;
};

class Storage
{
public:
    virtual ~Storage() = default;

    virtual bool open(QString *error) = 0;
    virtual void close() = 0;
    virtual QString lastError() const = 0;

    virtual std::optional<StoredWall> findWall(const QString &name) = 0;
    virtual std::optional<StoredWall> createWall(const QString &name) = 0;
    virtual std::vector<WallSummary> walls() = 0;

    // Writes a batch of ops, possibly of several walls, in one transaction. All or nothing.
    virtual bool appendOps(const std::vector<PendingOp> &ops) = 0;

    // A wall's snapshot is stored in parts of at most kSnapshotPartBytes, each its own short
    // write, into the wall's spare slot while the snapshot in use stays whole; committing makes
    // the spare the one in use. The server writes a part per event-loop pass, so storing a big
    // wall never holds its clients up, and a crash midway leaves the previous snapshot in use.
    static constexpr qsizetype kSnapshotPartBytes = 64 * 1024;
    virtual bool saveSnapshotPart(std::int64_t wallId, int part, QByteArrayView bytes) = 0;
    // Makes parts 0..parts-1 of the spare slot, `bytes` in all, the wall's snapshot at `seq`.
    virtual bool commitSnapshot(std::int64_t wallId, std::uint64_t seq, int parts, qsizetype bytes) = 0;
    // Every part and the commit at once.
    bool saveSnapshot(std::int64_t wallId, std::uint64_t seq, const QByteArray &bytes)
    {
        const int parts = snapshotParts(bytes.size());
        for (int part = 0; part < parts; ++part) {
            if (!saveSnapshotPart(wallId, part, snapshotPart(bytes, part)))
                return false;
        }
        return commitSnapshot(wallId, seq, parts, bytes.size());
    }
    static int snapshotParts(qsizetype bytes) { return int((bytes + kSnapshotPartBytes - 1) / kSnapshotPartBytes); }
    static QByteArrayView snapshotPart(const QByteArray &bytes, int part)
    {
        const qsizetype at = qsizetype(part) * kSnapshotPartBytes;
        return QByteArrayView(bytes).sliced(at, std::min(kSnapshotPartBytes, bytes.size() - at));
    }
    // The newest snapshot, if any.
    virtual std::optional<QByteArray> latestSnapshot(std::int64_t wallId) = 0;

    // Ops with seq > afterSeq, in order, at most `limit`; and their serialised size.
    virtual bool opsAfter(std::int64_t wallId, std::uint64_t afterSeq, int limit,
                          std::vector<pb::Op> *out) = 0;
    // Chat ops with seq < beforeSeq (0: newest), newest first, at most `limit`.
    virtual bool chatBefore(std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                            std::vector<pb::Op> *out) = 0;
    // Chat ops with seq > afterSeq, oldest first, at most `limit`.
    virtual bool chatAfter(std::int64_t wallId, std::uint64_t afterSeq, int limit,
                           std::vector<pb::Op> *out) = 0;
    // The stored op of `author` with `clientOpId`, if it is among the limits::kResendLookbackOps
    // ops of the wall up to the author's newest.
    virtual std::optional<pb::Op> findOp(std::int64_t wallId, std::uint64_t author,
                                         std::uint64_t clientOpId) = 0;
    // For each author: the highest client op id stored on the wall (exactly-once bookkeeping).
    virtual std::vector<std::pair<std::uint64_t, std::uint64_t>>
    lastClientOpIds(std::int64_t wallId) = 0;

    // Access: one record per wall, and each user's role on it (pb::Role values).
    virtual std::optional<WallAccess> wallAccess(std::int64_t wallId) = 0;
    virtual bool saveWallAccess(std::int64_t wallId, const WallAccess &access) = 0;
    virtual std::vector<std::pair<std::uint64_t, int>> roles(std::int64_t wallId) = 0;
    // Role 0 (member) removes the row.
    virtual bool setRole(std::int64_t wallId, std::uint64_t user, int role) = 0;
    // Removes the wall with its ops, snapshots, access record and roles. All or nothing.
    virtual bool deleteWall(std::int64_t wallId) = 0;

    // Users: a resume token maps to a stable user id across connections and restarts.
    virtual std::optional<std::uint64_t> findUser(const QByteArray &token) = 0;
    virtual std::optional<std::uint64_t> createUser(const QByteArray &token) = 0;
};

// SQLite through QtSql, in WAL mode, one file in the data directory.
std::unique_ptr<Storage> makeSqliteStorage(const QString &dataDir);

} // namespace scrawl
