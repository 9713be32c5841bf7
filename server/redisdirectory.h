#pragma once

// The Directory of a cluster, in Redis: every server sees the same people, walls, access
// records, roles and kicks. Calls answer at once over a connection of their own
// (RedisSyncConnection: at most timeoutMs each, and failing at once for a moment after a
// failure), as the SQLite directory answers from its file.
//
// Keys (a wall's under its hash tag, beside its log: server/redislog.h):
//   scrawl:walls, scrawl:wall-names, scrawl:wall-ids     made by scrawl_open
//   scrawl:users, scrawl:user-ids                         made by scrawl_user
//   scrawl:{w:HEX}:access  hash: the WallAccess fields
//   scrawl:{w:HEX}:roles   hash: user id -> role
//   scrawl:{w:HEX}:kicks   hash: "<user>:<address>" -> until (ms since the epoch)

#include "server/directory.h"
#include "server/redisconnection.h"

#include <map>

namespace scrawl {

class RedisDirectory : public Directory
{
public:
    explicit RedisDirectory(RedisAddress address, RedisSyncConnection::Options options = {});

    QString lastError() const override { return m_error; }

    std::optional<StoredWall> findWall(const QString &name) override;
    std::optional<StoredWall> createWall(const QString &name) override;
    std::vector<WallSummary> walls() override;

    std::optional<WallAccess> wallAccess(std::int64_t wallId) override;
    bool saveWallAccess(std::int64_t wallId, const WallAccess &access) override;
    std::vector<std::pair<std::uint64_t, int>> roles(std::int64_t wallId) override;
    bool setRole(std::int64_t wallId, std::uint64_t user, int role) override;
    std::optional<std::vector<StoredKick>> kicks(std::int64_t wallId, qint64 nowMs) override;
    bool saveKick(std::int64_t wallId, const StoredKick &kick) override;

    std::optional<std::uint64_t> findUser(const QByteArray &token) override;
    std::optional<std::uint64_t> createUser(const QByteArray &token) override;

private:
    // The key prefix of wall `wallId` (its name is looked up once, then remembered: ids are
    // never reused). Empty when it cannot be found.
    QByteArray prefixOf(std::int64_t wallId);
    std::optional<std::uint64_t> user(const QByteArray &token, bool create);
    // False (and m_error set) when the reply is an error.
    bool ok(const RedisReply &reply);

    RedisSyncConnection m_redis;
    std::map<std::int64_t, QString> m_names;
    QString m_error;
};

} // namespace scrawl
