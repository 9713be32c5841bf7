#include "server/redislog.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QRandomGenerator>

#include <algorithm>

namespace scrawl {

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

namespace {

// The function library. Scripts are atomic but never rolled back (a write before a failing
// command stays), so each function checks everything first and writes the XADD, which Redis
// refuses for an id at or below the stream's last, before anything else it changes.
// Seqs and client op ids stay far below 2^53, where Lua's numbers are exact.
const char kLibrary[] = R"LUA(#!lua name=scrawl

-- The wall's head and its latest snapshot, in one step; the wall is made when asked to.
-- KEYS: meta, snap, walls (name -> id), wall-ids, wall-names (id -> name).
-- ARGV: name, fresh epoch, create (1/0).
-- Returns {epoch, seq, id, snapshot seq, snapshot bytes}; epoch '' when there is no such wall.
local function open(keys, args)
  local meta, snap, walls, ids, names = keys[1], keys[2], keys[3], keys[4], keys[5]
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    if args[3] ~= '1' then
      return {'', 0, 0, 0, ''}
    end
    epoch = args[2]
    local id = redis.call('INCR', ids)
    redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'id', id)
    redis.call('HSET', walls, args[1], id)
    redis.call('HSET', names, id, args[1])
  end
  local s = redis.call('HMGET', snap, 'epoch', 'seq', 'data')
  local snapSeq, snapData = 0, ''
  if s[1] == epoch then
    snapSeq, snapData = tonumber(s[2]), s[3]
  end
  return {epoch, tonumber(redis.call('HGET', meta, 'seq')), tonumber(redis.call('HGET', meta, 'id')), snapSeq, snapData}
end

-- Keeps a snapshot of the wall at seq and trims the log behind it, keeping the last `keep` ops
-- it shows (resends and short resumes read them) and every op after the timeline's base. An
-- older snapshot than the one kept is not stored. KEYS: meta, log, snap. ARGV: epoch, seq,
-- bytes, keep.
--
-- The timeline's base (base_seq, base_data in snap) is a snapshot the wall's history can be
-- replayed from: the log keeps every op after it. The first snapshot at least `keep` ops after
-- the base waits as the next base (cand_seq, cand_data) and takes its place once a snapshot is
-- `keep` ops past it, so history reaches back between `keep` and about twice that.
local function snapshot(keys, args)
  local meta, log, snap = keys[1], keys[2], keys[3]
  local epoch, seq, keep = args[1], tonumber(args[2]), tonumber(args[4])
  local current = redis.call('HGET', meta, 'epoch')
  if current ~= epoch then
    return {'epoch', current or ''}
  end
  if seq > tonumber(redis.call('HGET', meta, 'seq')) then
    return redis.error_reply('ERR a snapshot past the wall\'s last op')
  end
  local s = redis.call('HMGET', snap, 'epoch', 'seq', 'base_seq', 'cand_seq')
  if s[1] == epoch and tonumber(s[2]) >= seq then
    return {'older', tonumber(s[2])}
  end
  if s[1] ~= epoch then
    redis.call('DEL', snap)
    s = {}
  end
  redis.call('HSET', snap, 'epoch', epoch, 'seq', seq, 'data', args[3])
  local base, cand = tonumber(s[3]), tonumber(s[4])
  if not base then
    base = seq
    redis.call('HSET', snap, 'base_seq', seq, 'base_data', args[3])
  elseif not cand then
    if seq - base >= keep then
      redis.call('HSET', snap, 'cand_seq', seq, 'cand_data', args[3])
    end
  elseif seq - cand >= keep then
    base = cand
    redis.call('HSET', snap, 'base_seq', cand, 'base_data', redis.call('HGET', snap, 'cand_data'),
               'cand_seq', seq, 'cand_data', args[3])
  end
  local from = math.min(seq - keep + 1, base + 1)
  if from > 1 then
    redis.call('XTRIM', log, 'MINID', from .. '-0')
  end
  return {'ok', seq}
end

-- A person's id by the hash of their resume token; made when asked to (0: none).
-- KEYS: users (hash -> id), user-ids. ARGV: token hash, create (1/0).
local function user(keys, args)
  local id = redis.call('HGET', keys[1], args[1])
  if id then
    return tonumber(id)
  end
  if args[2] ~= '1' then
    return 0
  end
  id = redis.call('INCR', keys[2])
  redis.call('HSET', keys[1], args[1], id)
  return id
end

-- KEYS: meta, log, chat. ARGV: channel, epoch, author, client op id, op, and for a chat message
-- how many of the wall's chat messages to keep (0: not chat). Chat outlives the trimmed log
-- in a stream of its own, for history.
local function append(keys, args)
  local meta, log, chat = keys[1], keys[2], keys[3]
  local channel, expect, author, cid, op = args[1], args[2], args[3], tonumber(args[4]), args[5]
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch ~= expect then
    return {'epoch', epoch or ''}
  end
  if cid > 0 then
    local last = tonumber(redis.call('HGET', meta, 'a:' .. author) or '0')
    if cid <= last then
      return {'dup', epoch, tonumber(redis.call('HGET', meta, 's:' .. author) or '0'), last}
    end
  end
  local seq = tonumber(redis.call('HGET', meta, 'seq')) + 1
  redis.call('XADD', log, seq .. '-0', 'op', op, 'a', author, 'c', args[4])
  local keepChat = tonumber(args[6] or '0')
  if keepChat > 0 then
    redis.call('XADD', chat, 'MAXLEN', '~', keepChat, seq .. '-0', 'op', op)
  end
  redis.call('HSET', meta, 'seq', seq)
  if cid > 0 then
    redis.call('HSET', meta, 'a:' .. author, cid, 's:' .. author, seq)
  end
  redis.call('PUBLISH', channel, seq .. ':' .. epoch .. ':' .. op)
  return {'ok', epoch, seq}
end

local function read(keys, args)
  local meta, log = keys[1], keys[2]
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    return {'', 0, {}}
  end
  local entries = redis.call('XRANGE', log, (tonumber(args[1]) + 1) .. '-0', '+', 'COUNT', args[2])
  return {epoch, tonumber(redis.call('HGET', meta, 'seq')), entries}
end

-- The entry of `author`'s op `cid` among the log's last `scan` entries (a resend's answer):
-- {seq, op}, or {} when it is not there. KEYS: log. ARGV: author, cid, scan.
local function find(keys, args)
  local author, cid, left = args[1], args[2], tonumber(args[3])
  local last = '+'
  while left > 0 do
    local entries = redis.call('XREVRANGE', keys[1], last, '-', 'COUNT', math.min(left, 1000))
    if #entries == 0 then
      return {}
    end
    for _, e in ipairs(entries) do
      local f = e[2]
      local a, c, op
      for i = 1, #f, 2 do
        if f[i] == 'a' then a = f[i + 1] elseif f[i] == 'c' then c = f[i + 1] elseif f[i] == 'op' then op = f[i + 1] end
      end
      if a == author and c == cid then
        return {tonumber(string.match(e[1], '^(%d+)')), op}
      end
    end
    left = left - #entries
    local id = tonumber(string.match(entries[#entries][1], '^(%d+)'))
    if id <= 1 then
      return {}
    end
    last = '(' .. id .. '-0'
  end
  return {}
end

-- Links an image to a wall within the wall's image budget, storing its bytes once (by hash)
-- for every wall that has it. KEYS: the image (a hash: mime, width, height, size, bytes, and
-- walls: how many walls link it), the wall's images (a hash: image hex -> size, and '@total' ->
-- the sum). ARGV: hex, mime, width, height, size, bytes, the budget. Returns {'ok'}, {'dup'}
-- (the wall has it) or {'full', total}.
local function image_add(keys, args)
  local blob, links = keys[1], keys[2]
  local hex, size, budget = args[1], tonumber(args[5]), tonumber(args[7])
  if redis.call('HEXISTS', links, hex) == 1 then
    return {'dup'}
  end
  local total = tonumber(redis.call('HGET', links, '@total') or '0')
  if total + size > budget then
    return {'full', total}
  end
  if redis.call('EXISTS', blob) == 0 then
    redis.call('HSET', blob, 'mime', args[2], 'width', args[3], 'height', args[4], 'size', args[5], 'bytes', args[6])
  end
  redis.call('HINCRBY', blob, 'walls', 1)
  redis.call('HSET', links, hex, size)
  redis.call('HINCRBY', links, '@total', size)
  return {'ok'}
end

-- Deletes a wall: publishes its last entry (after its last op, so that every server that
-- follows the wall ends it there) and removes its keys and its names, in one step; an image
-- no other wall links goes too (its key is made here from the link: not for Redis Cluster).
-- KEYS: meta, log, snap, chat, access, roles, kicks, walls, wall-names, the wall's images, the
-- deleted epoch's mark. ARGV: name, epoch, ops channel, entry, wall id. Returns {'ok', seq} or {'epoch', now}.
local function delete(keys, args)
  local meta = keys[1]
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch ~= args[2] then
    return {'epoch', epoch or ''}
  end
  local seq = tonumber(redis.call('HGET', meta, 'seq')) + 1
  redis.call('PUBLISH', args[3], seq .. ':' .. epoch .. ':' .. args[4])
  for _, hex in ipairs(redis.call('HKEYS', keys[10])) do
    if hex ~= '@total' then
      local blob = 'scrawl:image:' .. hex
      if redis.call('HINCRBY', blob, 'walls', -1) <= 0 then
        redis.call('DEL', blob)
      end
    end
  end
  redis.call('DEL', keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7], keys[10])
  -- The wall's history under this epoch ended here, not with Redis losing it (which looks the
  -- same to an append that comes too late): a server refused for this epoch forgets the wall
  -- instead of making it again. Kept a day, longer than any append can be held.
  redis.call('SET', keys[11], 1, 'EX', 86400)
  redis.call('HDEL', keys[8], args[1])
  redis.call('HDEL', keys[9], args[5])
  return {'ok', seq}
end

redis.register_function('scrawl_delete', delete)
redis.register_function('scrawl_image_add', image_add)
redis.register_function('scrawl_open', open)
redis.register_function('scrawl_find', find)
redis.register_function('scrawl_snapshot', snapshot)
redis.register_function('scrawl_user', user)
redis.register_function('scrawl_append', append)
redis.register_function('scrawl_read', read)
)LUA";

} // namespace

QByteArray RedisWallLog::functionLibrary()
{
    return QByteArray(kLibrary);
}

QByteArray RedisWallLog::deletedKey(const QByteArray &epoch)
{
    return "scrawl:deleted:" + epoch;
}

QByteArray RedisWallLog::newEpoch()
{
    // Time and randomness: two servers making a lost wall again at once still differ.
    return QByteArray::number(QDateTime::currentMSecsSinceEpoch(), 36) + '-'
           + QByteArray::number(QRandomGenerator::global()->generate64(), 36);
}

namespace {

std::uint64_t toSeq(const RedisReply &r)
{
    if (r.type == RedisReply::Type::Integer)
        return std::uint64_t(std::max<long long>(0, r.integer));
    return r.text.toULongLong();
}

QString errorText(const RedisReply &r)
{
    return QString::fromUtf8(r.text);
}

} // namespace

RedisWallLog::RedisWallLog(RedisAddress address, QObject *parent)
    : RedisWallLog(std::move(address), RedisConnection::Options{}, parent)
{
}

RedisWallLog::RedisWallLog(RedisAddress address, RedisConnection::Options options, QObject *parent)
    : QObject(parent)
    , m_commands(new RedisConnection(address, options, this))
    , m_subscriber(new RedisConnection(address, options, this))
{
    m_serverId.resize(kServerIdBytes);
    QRandomGenerator::system()->generate(m_serverId.begin(), m_serverId.end());
    connect(m_commands, &RedisConnection::ready, this, &RedisWallLog::loadLibrary);
    connect(m_commands, &RedisConnection::lost, this, [this] {
        m_libraryLoaded = false;
        updateReady();
    });
    connect(m_subscriber, &RedisConnection::ready, this, &RedisWallLog::updateReady);
    connect(m_subscriber, &RedisConnection::lost, this, &RedisWallLog::updateReady);
    connect(m_subscriber, &RedisConnection::message, this, [this](const QByteArray &channel, const QByteArray &payload) {
        if (const auto live = m_live.find(channel); live != m_live.end()) {
            if (payload.size() < kServerIdBytes || payload.startsWith(m_serverId))
                return; // this server's own
            const LiveListener listener = live->second; // it may unwatch
            listener(payload.first(kServerIdBytes), payload.sliced(kServerIdBytes));
            return;
        }
        const auto watched = m_watched.find(channel);
        if (watched == m_watched.end())
            return;
        const qsizetype first = payload.indexOf(':');
        const qsizetype second = first < 0 ? -1 : payload.indexOf(':', first + 1);
        if (second < 0) {
            qCWarning(lcRedis) << "a message on" << channel << "that is not <seq>:<epoch>:<op>; ignored";
            return;
        }
        const Listener listener = watched->second; // it may unwatch
        listener(payload.sliced(first + 1, second - first - 1), payload.left(first).toULongLong(), payload.sliced(second + 1));
    });
}

void RedisWallLog::start()
{
    m_commands->open();
    m_subscriber->open();
}

void RedisWallLog::stop()
{
    m_commands->close();
    m_subscriber->close();
    m_libraryLoaded = false;
    updateReady();
}

QString RedisWallLog::problem() const
{
    if (!m_commands->isReady())
        return m_commands->problem();
    if (!m_subscriber->isReady())
        return m_subscriber->problem();
    return m_libraryProblem;
}

void RedisWallLog::loadLibrary()
{
    m_commands->command({"FUNCTION", "LOAD", "REPLACE", functionLibrary()}, [this](const RedisReply &reply) {
        if (reply.isError()) {
            m_libraryProblem = QStringLiteral("Redis refused Scrawl's function library: %1").arg(errorText(reply));
            qCWarning(lcRedis).noquote() << m_libraryProblem;
            return;
        }
        m_libraryProblem.clear();
        m_libraryLoaded = true;
        updateReady();
    });
}

void RedisWallLog::updateReady()
{
    const bool ready = m_libraryLoaded && m_commands->isReady() && m_subscriber->isReady();
    if (ready == m_ready)
        return;
    m_ready = ready;
    emit readyChanged(ready);
}

QByteArray RedisWallLog::keyPrefix(const QString &wall)
{
    return "scrawl:{w:" + wall.toUtf8().toHex() + "}:";
}

void RedisWallLog::open(const QString &wall, bool create, std::function<void(std::optional<Opened>, QString)> done)
{
    const QByteArray prefix = keyPrefix(wall);
    m_commands->command({"FCALL", "scrawl_open", "5", prefix + "meta", prefix + "snap", "scrawl:walls",
                         "scrawl:wall-ids", "scrawl:wall-names", wall.toUtf8(), newEpoch(), create ? "1" : "0"},
                        [done = std::move(done)](const RedisReply &reply) {
        if (reply.isError() || reply.elements.size() != 5) {
            done(std::nullopt, reply.isError() ? errorText(reply) : QStringLiteral("an unexpected reply from scrawl_open"));
            return;
        }
        const auto &e = reply.elements;
        Opened opened;
        opened.head = {e[0].text, toSeq(e[1])};
        opened.wallId = std::int64_t(toSeq(e[2]));
        opened.snapshotSeq = toSeq(e[3]);
        opened.snapshot = e[4].text;
        done(std::move(opened), {});
    });
}

void RedisWallLog::saveSnapshot(const QString &wall, const QByteArray &epoch, std::uint64_t seq,
                                const QByteArray &bytes, std::uint64_t keepOps,
                                std::function<void(SnapshotSaved)> done)
{
    const QByteArray prefix = keyPrefix(wall);
    m_commands->command({"FCALL", "scrawl_snapshot", "3", prefix + "meta", prefix + "log", prefix + "snap", epoch,
                         QByteArray::number(seq), bytes, QByteArray::number(keepOps)},
                        [done = std::move(done)](const RedisReply &reply) {
        SnapshotSaved result;
        const auto &e = reply.elements;
        const QByteArray kind = e.empty() ? QByteArray() : e[0].text;
        if (reply.isError()) {
            result.error = errorText(reply);
        } else if (kind == "ok" && e.size() == 2) {
            result.status = SnapshotSaved::Status::Ok;
        } else if (kind == "older" && e.size() == 2) {
            result.status = SnapshotSaved::Status::Older;
            result.keptSeq = toSeq(e[1]);
        } else if (kind == "epoch" && e.size() == 2) {
            result.status = SnapshotSaved::Status::EpochChanged;
            result.epoch = e[1].text;
        } else {
            result.error = QStringLiteral("an unexpected reply from scrawl_snapshot");
        }
        if (done)
            done(std::move(result));
    });
}

void RedisWallLog::find(const QString &wall, std::uint64_t author, std::uint64_t clientOpId, int scan,
                        std::function<void(std::optional<Entry>, QString)> done)
{
    m_commands->command({"FCALL", "scrawl_find", "1", keyPrefix(wall) + "log", QByteArray::number(author),
                         QByteArray::number(clientOpId), QByteArray::number(std::max(1, scan))},
                        [done = std::move(done)](const RedisReply &reply) {
        if (reply.isError()) {
            done(std::nullopt, errorText(reply));
            return;
        }
        if (reply.elements.size() != 2) {
            done(std::nullopt, {}); // not there
            return;
        }
        done(Entry{toSeq(reply.elements[0]), reply.elements[1].text}, {});
    });
}

void RedisWallLog::user(const QByteArray &tokenHash, bool create, std::function<void(std::optional<std::uint64_t>, QString)> done)
{
    m_commands->command({"FCALL", "scrawl_user", "2", "scrawl:users", "scrawl:user-ids", tokenHash, create ? "1" : "0"},
                        [done = std::move(done)](const RedisReply &reply) {
        if (reply.isError() || reply.type != RedisReply::Type::Integer) {
            done(std::nullopt, reply.isError() ? errorText(reply) : QStringLiteral("an unexpected reply from scrawl_user"));
            return;
        }
        done(std::uint64_t(reply.integer), {});
    });
}

void RedisWallLog::append(const QString &wall, const QByteArray &epoch, std::uint64_t author,
                          std::uint64_t clientOpId, const QByteArray &op, std::function<void(Appended)> done,
                          int keepChat)
{
    if (!done)
        done = [](Appended) {};
    const QByteArray prefix = keyPrefix(wall);
    m_commands->command({"FCALL", "scrawl_append", "3", prefix + "meta", prefix + "log", prefix + "chat", prefix + "ops",
                         epoch, QByteArray::number(author), QByteArray::number(clientOpId), op,
                         QByteArray::number(std::max(0, keepChat))},
                        [done = std::move(done)](const RedisReply &reply) {
        Appended result;
        if (reply.isError()) {
            result.error = errorText(reply);
            result.connectionLost = reply.connectionError;
            done(std::move(result));
            return;
        }
        const auto &e = reply.elements;
        const QByteArray kind = e.empty() ? QByteArray() : e[0].text;
        if (kind == "ok" && e.size() == 3) {
            result.status = Appended::Status::Ok;
            result.epoch = e[1].text;
            result.seq = toSeq(e[2]);
        } else if (kind == "dup" && e.size() == 4) {
            result.status = Appended::Status::Duplicate;
            result.epoch = e[1].text;
            result.seq = toSeq(e[2]);
            result.clientOpId = toSeq(e[3]);
        } else if (kind == "epoch" && e.size() == 2) {
            result.status = Appended::Status::EpochChanged;
            result.epoch = e[1].text;
        } else {
            result.error = QStringLiteral("an unexpected reply from scrawl_append");
        }
        done(std::move(result));
    });
}

void RedisWallLog::deleteWall(const QString &wall, const QByteArray &epoch, std::int64_t wallId,
                              const QByteArray &entry, std::function<void(Appended)> done)
{
    const QByteArray prefix = keyPrefix(wall);
    m_commands->command({"FCALL", "scrawl_delete", "11", prefix + "meta", prefix + "log", prefix + "snap",
                         prefix + "chat", prefix + "access", prefix + "roles", prefix + "kicks", "scrawl:walls",
                         "scrawl:wall-names", "scrawl:wall-images:" + QByteArray::number(qint64(wallId)),
                         deletedKey(epoch),
                         wall.toUtf8(), epoch, prefix + "ops", entry, QByteArray::number(qint64(wallId))},
                        [done = std::move(done)](const RedisReply &reply) {
        Appended result;
        const QByteArray kind = reply.elements.empty() ? QByteArray() : reply.elements[0].text;
        if (reply.isError()) {
            result.error = errorText(reply);
            result.connectionLost = reply.connectionError;
        } else if (kind == "ok" && reply.elements.size() == 2) {
            result.status = Appended::Status::Ok;
            result.seq = toSeq(reply.elements[1]);
        } else if (kind == "epoch" && reply.elements.size() == 2) {
            result.status = Appended::Status::EpochChanged;
            result.epoch = reply.elements[1].text;
        } else {
            result.error = QStringLiteral("an unexpected reply from scrawl_delete");
        }
        done(std::move(result));
    });
}

void RedisWallLog::read(const QString &wall, std::uint64_t afterSeq, int limit,
                        std::function<void(std::optional<Head>, std::vector<Entry>, QString)> done)
{
    const QByteArray prefix = keyPrefix(wall);
    m_commands->command({"FCALL", "scrawl_read", "2", prefix + "meta", prefix + "log", QByteArray::number(afterSeq),
                         QByteArray::number(std::max(1, limit))},
                        [done = std::move(done)](const RedisReply &reply) {
        if (reply.isError() || reply.elements.size() != 3) {
            done(std::nullopt, {}, reply.isError() ? errorText(reply) : QStringLiteral("an unexpected reply from scrawl_read"));
            return;
        }
        Head head{reply.elements[0].text, toSeq(reply.elements[1])};
        std::vector<Entry> entries;
        entries.reserve(reply.elements[2].elements.size());
        // Each entry: [id, [field, value, ...]]; the id is "<seq>-0", the op in field "op".
        for (const RedisReply &entry : reply.elements[2].elements) {
            const QByteArray *op = nullptr;
            if (entry.elements.size() == 2) {
                const auto &fields = entry.elements[1].elements;
                for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                    if (fields[i].text == "op")
                        op = &fields[i + 1].text;
                }
            }
            if (!op) {
                done(std::nullopt, {}, QStringLiteral("a log entry without its op"));
                return;
            }
            const QByteArray &id = entry.elements[0].text;
            entries.push_back({id.left(id.indexOf('-')).toULongLong(), *op});
        }
        done(std::move(head), std::move(entries), {});
    });
}

void RedisWallLog::trim(const QString &wall, std::uint64_t upTo, std::function<void(bool, QString)> done)
{
    m_commands->command({"XTRIM", keyPrefix(wall) + "log", "MINID", QByteArray::number(upTo + 1) + "-0"},
                        [done = std::move(done)](const RedisReply &reply) {
        if (done)
            done(!reply.isError(), errorText(reply));
    });
}

void RedisWallLog::watch(const QString &wall, Listener listener, std::function<void()> subscribed)
{
    const QByteArray channel = keyPrefix(wall) + "ops";
    m_watched[channel] = std::move(listener);
    m_subscriber->subscribe(channel, std::move(subscribed));
}

void RedisWallLog::unwatch(const QString &wall)
{
    const QByteArray channel = keyPrefix(wall) + "ops";
    if (m_watched.erase(channel))
        m_subscriber->unsubscribe(channel);
}

void RedisWallLog::publishLive(const QString &wall, const QByteArray &payload)
{
    m_commands->command({"PUBLISH", keyPrefix(wall) + "live", m_serverId + payload});
}

void RedisWallLog::watchLive(const QString &wall, LiveListener listener)
{
    const QByteArray channel = keyPrefix(wall) + "live";
    m_live[channel] = std::move(listener);
    m_subscriber->subscribe(channel);
}

void RedisWallLog::unwatchLive(const QString &wall)
{
    const QByteArray channel = keyPrefix(wall) + "live";
    if (m_live.erase(channel))
        m_subscriber->unsubscribe(channel);
}

} // namespace scrawl
