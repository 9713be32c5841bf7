#include "server/redisdirectory.h"

#include "server/redislog.h"
#include "server/security.h"

#include <algorithm>

namespace scrawl {

RedisDirectory::RedisDirectory(RedisAddress address, RedisSyncConnection::Options options)
    : m_redis(std::move(address), options)
{
    // The functions this uses (scrawl_open, scrawl_user) are there whichever server started first.
    m_redis.setOnConnect({{"FUNCTION", "LOAD", "REPLACE", RedisWallLog::functionLibrary()}});
}

bool RedisDirectory::ok(const RedisReply &reply)
{
    if (!reply.isError())
        return true;
    m_error = QString::fromUtf8(reply.text);
    return false;
}

QByteArray RedisDirectory::prefixOf(std::int64_t wallId)
{
    auto it = m_names.find(wallId);
    if (it == m_names.end()) {
        const RedisReply name = m_redis.command({"HGET", "scrawl:wall-names", QByteArray::number(wallId)});
        if (!ok(name))
            return {};
        if (name.isNil()) {
            m_error = QStringLiteral("there is no wall %1").arg(wallId);
            return {};
        }
        it = m_names.emplace(wallId, QString::fromUtf8(name.text)).first;
    }
    return RedisWallLog::keyPrefix(it->second);
}

std::optional<StoredWall> RedisDirectory::findWall(const QString &name)
{
    const auto replies = m_redis.pipeline({{"HGET", "scrawl:walls", name.toUtf8()},
                                           {"HGET", RedisWallLog::keyPrefix(name) + "meta", "seq"}});
    if (!ok(replies[0]) || !ok(replies[1]) || replies[0].isNil())
        return std::nullopt;
    const std::int64_t id = replies[0].text.toLongLong();
    m_names.emplace(id, name);
    return StoredWall{id, name, replies[1].text.toULongLong()};
}

std::optional<StoredWall> RedisDirectory::createWall(const QString &name)
{
    const QByteArray prefix = RedisWallLog::keyPrefix(name);
    const RedisReply reply = m_redis.command({"FCALL", "scrawl_open", "5", prefix + "meta", prefix + "snap",
                                              "scrawl:walls", "scrawl:wall-ids", "scrawl:wall-names",
                                              name.toUtf8(), RedisWallLog::newEpoch(), "1"});
    if (!ok(reply))
        return std::nullopt;
    if (reply.elements.size() != 5) {
        m_error = QStringLiteral("an unexpected reply from scrawl_open");
        return std::nullopt;
    }
    const std::int64_t id = reply.elements[2].integer;
    m_names.emplace(id, name);
    return StoredWall{id, name, std::uint64_t(std::max(0LL, reply.elements[1].integer))};
}

std::vector<WallSummary> RedisDirectory::walls()
{
    std::vector<WallSummary> out;
    const RedisReply all = m_redis.command({"HKEYS", "scrawl:walls"});
    if (!ok(all))
        return out;
    std::vector<std::vector<QByteArray>> heads;
    for (const RedisReply &name : all.elements)
        heads.push_back({"HGET", RedisWallLog::keyPrefix(QString::fromUtf8(name.text)) + "meta", "seq"});
    if (heads.empty())
        return out;
    const auto seqs = m_redis.pipeline(heads);
    for (size_t i = 0; i < all.elements.size(); ++i) {
        if (!ok(seqs[i]))
            return {};
        out.push_back({QString::fromUtf8(all.elements[i].text), seqs[i].text.toULongLong()});
    }
    std::sort(out.begin(), out.end(), [](const WallSummary &a, const WallSummary &b) { return a.name < b.name; });
    return out;
}

std::optional<WallAccess> RedisDirectory::wallAccess(std::int64_t wallId)
{
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return std::nullopt;
    const RedisReply r = m_redis.command({"HMGET", prefix + "access", "owner", "ownerToken", "password", "salt",
                                          "iterations", "apiToken", "locked", "protectedWork"});
    if (!ok(r) || r.elements.size() != 8 || r.elements[0].isNil())
        return std::nullopt; // no record: a wall from before access records (as in SQLite)
    WallAccess a;
    a.ownerUser = r.elements[0].text.toULongLong();
    a.ownerTokenHash = r.elements[1].text;
    a.passwordHash = r.elements[2].text;
    a.passwordSalt = r.elements[3].text;
    a.passwordIterations = r.elements[4].text.toInt();
    a.apiTokenHash = r.elements[5].text;
    a.locked = r.elements[6].text == "1";
    a.protectedWork = r.elements[7].text == "1";
    return a;
}

bool RedisDirectory::saveWallAccess(std::int64_t wallId, const WallAccess &a)
{
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return false;
    return ok(m_redis.command({"HSET", prefix + "access", "owner", QByteArray::number(a.ownerUser), "ownerToken",
                               a.ownerTokenHash, "password", a.passwordHash, "salt", a.passwordSalt, "iterations",
                               QByteArray::number(a.passwordIterations), "apiToken", a.apiTokenHash, "locked",
                               a.locked ? "1" : "0", "protectedWork", a.protectedWork ? "1" : "0"}));
}

std::vector<std::pair<std::uint64_t, int>> RedisDirectory::roles(std::int64_t wallId)
{
    std::vector<std::pair<std::uint64_t, int>> out;
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return out;
    const RedisReply r = m_redis.command({"HGETALL", prefix + "roles"});
    if (!ok(r))
        return out;
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
        out.emplace_back(r.elements[i].text.toULongLong(), r.elements[i + 1].text.toInt());
    return out;
}

bool RedisDirectory::setRole(std::int64_t wallId, std::uint64_t user, int role)
{
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return false;
    if (role == 0)
        return ok(m_redis.command({"HDEL", prefix + "roles", QByteArray::number(user)}));
    return ok(m_redis.command({"HSET", prefix + "roles", QByteArray::number(user), QByteArray::number(role)}));
}

std::optional<std::vector<StoredKick>> RedisDirectory::kicks(std::int64_t wallId, qint64 nowMs)
{
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return std::nullopt;
    const RedisReply r = m_redis.command({"HGETALL", prefix + "kicks"});
    if (!ok(r))
        return std::nullopt;
    std::vector<StoredKick> out;
    std::vector<QByteArray> ended{"HDEL", prefix + "kicks"};
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
        const QByteArray &field = r.elements[i].text;
        const qint64 until = r.elements[i + 1].text.toLongLong();
        if (until <= nowMs) {
            ended.push_back(field);
            continue;
        }
        const qsizetype colon = field.indexOf(':');
        out.push_back({field.left(colon).toULongLong(), QString::fromUtf8(field.mid(colon + 1)), until});
    }
    if (ended.size() > 2 && !ok(m_redis.command(ended)))
        return std::nullopt;
    return out;
}

bool RedisDirectory::saveKick(std::int64_t wallId, const StoredKick &kick)
{
    const QByteArray prefix = prefixOf(wallId);
    if (prefix.isEmpty())
        return false;
    return ok(m_redis.command({"HSET", prefix + "kicks", QByteArray::number(kick.user) + ':' + kick.address.toUtf8(),
                               QByteArray::number(kick.untilMs)}));
}

std::optional<std::uint64_t> RedisDirectory::user(const QByteArray &token, bool create)
{
    const RedisReply r = m_redis.command({"FCALL", "scrawl_user", "2", "scrawl:users", "scrawl:user-ids",
                                          sha256(token), create ? "1" : "0"});
    if (!ok(r))
        return std::nullopt;
    if (r.type != RedisReply::Type::Integer || r.integer < 0 || (create && r.integer == 0)) {
        m_error = QStringLiteral("an unexpected reply from scrawl_user");
        return std::nullopt;
    }
    return std::uint64_t(r.integer); // 0: unknown (not made)
}

std::optional<std::uint64_t> RedisDirectory::findUser(const QByteArray &token)
{
    return user(token, false);
}

std::optional<std::uint64_t> RedisDirectory::createUser(const QByteArray &token)
{
    return user(token, true);
}

} // namespace scrawl
