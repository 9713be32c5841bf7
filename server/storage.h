#pragma once

// Where walls live between runs. One interface, so that a distributed backend can follow the
// embedded SQLite one without the rooms noticing.

#include "core/protocol.h"
#include "server/directory.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace scrawl {

// One sequenced op ready to be written: the wall it belongs to, the op, and the generation of
// the wall's in-memory state it was sequenced on (WallServer::reloadRoom starts a new one; a
// failed commit refuses every later op of the same generation, see appendOpsAsync).
struct PendingOp
{
    std::int64_t wallId = 0;
    const pb::Op *op = nullptr;
    std::uint64_t epoch = 0;
};

// The op log, snapshots and history of walls, and (through Directory) who and what they are.
class Storage : public Directory
{
public:
    virtual bool open(QString *error) = 0;
    virtual void close() = 0;


    // The op log is written on a commit thread with its own connection, so that a write that
    // stalls (dirty-page writeback, a checkpoint's fsync) never holds up the thread that
    // sequences and broadcasts. Batches are committed in the order given, each in one
    // transaction, all or nothing; `done(ok, error)` runs on the commit thread once the COMMIT
    // returned (or failed). The ops must stay alive and unchanged until then.
    // A batch that fails poisons the generations of the walls it touched: every later batch
    // with an op of such a wall at that generation (or older) is refused without being written,
    // since its seqs were built on the refused ones, and the walls of a refused batch are
    // poisoned in turn. Ops of a newer generation (the wall was reloaded) are written again.
    using CommitDone = std::function<void(bool ok, const QString &error)>;
    virtual void appendOpsAsync(std::vector<PendingOp> ops, CommitDone done) = 0;
    // Blocks until every batch given so far is committed or refused and its `done` has run.
    virtual void waitForCommits() = 0;

    // Test hooks (tests/server/tst_commitpipeline.cpp, tst_faults). The commit thread commits
    // `commits` more batches, then waits before the next one until the gate changes; -1 (the
    // default) never waits. Like a write that stalls in the kernel, without the kernel.
    // waitForCommits (so WallServer::flush and stop) waits for the gate to open.
    virtual void setCommitGate(int commits) = 0;
    // Batches given and not yet committed or refused (one waiting at the gate included).
    virtual int commitsQueued() = 0;
    // Runs `sql` on the commit thread's connection, after what is queued (a connection-level
    // PRAGMA that makes writes fail, and back).
    virtual bool execOnCommitConnection(const QString &sql, QString *error) = 0;

    // A wall's snapshot is stored in parts of at most kSnapshotPartBytes, each its own short
    // write, into the wall's spare slot while the snapshot in use stays whole; committing makes
    // the spare the one in use. The server writes a part per event-loop pass, so storing a big
    // wall never holds its clients up, and a crash midway leaves the previous snapshot in use.
    static constexpr qsizetype kSnapshotPartBytes = 64 * 1024;
    virtual bool saveSnapshotPart(std::int64_t wallId, int part, QByteArrayView bytes) = 0;
    // The same, on the commit thread, so that a write that stalls holds up nothing the event
    // loop does: the parts of `bytes` go into the wall's spare slot one per turn, after what is
    // queued (an op batch given meanwhile waits for one part at most), until all are written,
    // storage fails, or *cancel is set (a newer snapshot replaces it). `done(ok, error)` runs
    // on the commit thread, once; cancelled, it is not called.
    virtual void saveSnapshotPartsAsync(std::int64_t wallId, QByteArray bytes,
                                        std::shared_ptr<std::atomic<bool>> cancel, CommitDone done) = 0;
    // commitSnapshot on the commit thread, after what is queued.
    virtual void commitSnapshotAsync(std::int64_t wallId, std::uint64_t seq, int parts, qsizetype bytes,
                                     CommitDone done) = 0;
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

    // Removes the wall with its ops, snapshots, access record, roles and kicks. All or nothing.
    virtual bool deleteWall(std::int64_t wallId) = 0;
};

// SQLite through QtSql, in WAL mode, one file in the data directory.
std::unique_ptr<Storage> makeSqliteStorage(const QString &dataDir);

} // namespace scrawl
