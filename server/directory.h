#pragma once

// Who and what the walls are: people by their resume token, walls by name, and each wall's
// access record, roles and kicks. The embedded SQLite storage is one (Storage derives from it);
// in a cluster it is shared by every server, in Redis (server/redisdirectory.h). Calls answer
// at once, from this thread; a failure is an empty answer (or false) with lastError() saying why.

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace scrawl {

struct StoredWall
{
    std::int64_t id = 0;
    QString name;
    std::uint64_t headSeq = 0;
};

// Who owns a wall and how it is protected. Secrets are never stored in clear: the owner token
// and the API token are kept as SHA-256 hashes (random tokens of kOwnerTokenBytes and
// kApiTokenBytes: too much entropy to guess from a hash), the password as PBKDF2. The API token
// is shown to the owner once, when it is made (wall creation, Moderate.NEW_API_TOKEN).
struct WallAccess
{
    std::uint64_t ownerUser = 0;       // 0: a wall from before owners existed
    QByteArray ownerTokenHash;         // SHA-256 of the owner token
    QByteArray passwordHash;           // empty: no password
    QByteArray passwordSalt;
    int passwordIterations = 0;
    QByteArray apiTokenHash;           // SHA-256 of the API token
    bool locked = false;
    // Only authors and moderators change someone's work. A new wall is open (everyone may, as in
    // the whiteboards people know); walls stored before this existed stay protected, as they were.
    bool protectedWork = false;
    bool hasPassword() const { return !passwordHash.isEmpty(); }
};

// A kick: the user, and the address they were on (empty when they were not online), held out
// of the wall until untilMs (ms since the epoch).
struct StoredKick
{
    std::uint64_t user = 0;
    QString address;
    qint64 untilMs = 0;
};

struct WallSummary
{
    QString name;
    std::uint64_t ops = 0;
};

class Directory
{
public:
    virtual ~Directory() = default;

    virtual QString lastError() const = 0;

    virtual std::optional<StoredWall> findWall(const QString &name) = 0;
    virtual std::optional<StoredWall> createWall(const QString &name) = 0;
    virtual std::vector<WallSummary> walls() = 0;

    // Access: one record per wall, and each user's role on it (pb::Role values).
    virtual std::optional<WallAccess> wallAccess(std::int64_t wallId) = 0;
    virtual bool saveWallAccess(std::int64_t wallId, const WallAccess &access) = 0;
    virtual std::vector<std::pair<std::uint64_t, int>> roles(std::int64_t wallId) = 0;
    // Role 0 (member) removes the row.
    virtual bool setRole(std::int64_t wallId, std::uint64_t user, int role) = 0;
    // Kicks of the wall that last past nowMs; the ones that ended are deleted.
    virtual std::optional<std::vector<StoredKick>> kicks(std::int64_t wallId, qint64 nowMs) = 0;
    virtual bool saveKick(std::int64_t wallId, const StoredKick &kick) = 0;

    // Users: a resume token maps to a stable user id across connections and restarts. Only the
    // token's SHA-256 is stored (it carries the owner role of the walls its user created).
    // findUser: 0 when no user has that token; nothing when storage could not be read (the
    // person must not be taken for someone new: their changes would be stored twice, under two
    // identities).
    virtual std::optional<std::uint64_t> findUser(const QByteArray &token) = 0;
    virtual std::optional<std::uint64_t> createUser(const QByteArray &token) = 0;
};

} // namespace scrawl
