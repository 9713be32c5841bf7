#include "server/cluster.h"

#include "core/limits.h"
#include "server/fanout.h"
#include "server/imagestore.h"
#include "server/session.h"
#include "server/wallserver.h"
#include "server/wsconnection.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>

#include <set>

namespace scrawl {

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

namespace {

Problem redisProblem(const QString &why)
{
    return {pb::STORAGE_UNAVAILABLE,
            QStringLiteral("The server could not reach the cluster's shared store (%1); your change "
                           "was not applied. Send it again in a moment.")
                .arg(why),
            {}};
}

} // namespace

Cluster::Cluster(WallServer &server, RedisAddress address)
    : WallLog(server)
    , m_address(address)
    , m_log(address)
    , m_sync(address)
{
    m_sync.setOnConnect({{"FUNCTION", "LOAD", "REPLACE", RedisWallLog::functionLibrary()}});
}

Cluster::~Cluster() = default;

void Cluster::start()
{
    m_clock.start();
    m_presenceTimer.setInterval(limits::kClusterPresenceRefreshMs);
    connect(&m_presenceTimer, &QTimer::timeout, this, &Cluster::refreshPresence);
    m_presenceTimer.start();
    // What was held while Redis could not be reached goes now.
    m_cursorFrame.setSingleShot(true);
    m_cursorFrame.setTimerType(Qt::PreciseTimer);
    m_cursorFrame.setInterval(limits::kClusterCursorFrameMs);
    connect(&m_cursorFrame, &QTimer::timeout, this, &Cluster::sendCursors);
    m_redisLost.setSingleShot(true);
    m_redisLost.setInterval(limits::kClusterRedisGraceMs);
    connect(&m_redisLost, &QTimer::timeout, this, &Cluster::sendMembersElsewhere);
    m_downSince.start();
    connect(&m_log, &RedisWallLog::readyChanged, this, [this](bool ready) {
        if (ready) {
            m_redisLost.stop();
            m_downSince.invalidate();
            m_sentElsewhere = false;
            pump();
        } else if (!m_redisLost.isActive()) {
            m_redisLost.start();
            if (!m_downSince.isValid())
                m_downSince.start();
        }
    });
    m_log.start();
}

bool Cluster::load(Room *room)
{
    QElapsedTimer timer;
    timer.start();
    const QByteArray prefix = RedisWallLog::keyPrefix(room->name);
    const auto replies = m_sync.pipeline({{"FCALL", "scrawl_open", "5", prefix + "meta", prefix + "snap",
                                           "scrawl:walls", "scrawl:wall-ids", "scrawl:wall-names",
                                           room->name.toUtf8(), RedisWallLog::newEpoch(), "1"},
                                          {"HGETALL", prefix + "meta"}});
    const RedisReply &opened = replies[0];
    if (opened.isError() || opened.elements.size() != 5) {
        qCWarning(lcRedis).noquote() << "cannot load wall" << room->name << "from Redis:"
                                     << (opened.isError() ? QString::fromUtf8(opened.text) : QStringLiteral("an unexpected reply"));
        return false;
    }
    const QByteArray epoch = opened.elements[0].text;
    const std::uint64_t head = std::uint64_t(std::max(0LL, opened.elements[1].integer));
    const std::uint64_t snapshotSeq = std::uint64_t(std::max(0LL, opened.elements[3].integer));
    const QByteArray &snapshot = opened.elements[4].text;

    room->model = WallModel();
    // The access that decides which ops the wall takes, as it stood at the snapshot (a wall's
    // log starts unlocked, unprotected, without moderators); the log's changes follow.
    room->access.locked = false;
    room->access.protectedWork = false;
    room->roles.clear();
    if (snapshotSeq > 0) {
        pb::ClusterSnapshot kept;
        pb::WallSnapshot snap;
        if (!kept.ParseFromArray(snapshot.constData(), int(snapshot.size()))
            || !snap.ParseFromString(kept.wall()) || room->model.load(snap)) {
            qCWarning(lcRedis) << "wall" << room->name << "has a damaged snapshot in Redis";
            return false;
        }
        applyAccess(room, kept.access());
    }
    room->model.setCapacity(m_server.options().wallCapacity);
    room->model.setKeepsSnapshotPaths(true);
    room->logEpoch = epoch;
    room->voided.clear();
    room->voidsKnownAfter = snapshotSeq;
    room->storedSnapshotSeq = snapshotSeq;
    room->storedSnapshotBytes = snapshot.size();
    room->opBytesSinceSnapshot = 0;
    room->snapshotCacheSeq = ~std::uint64_t(0);
    room->dropSnapshotWrite();
    room->lastClientOp.clear();
    // Client op ids appended so far, by author (fields "a:<author>" of the wall's meta).
    const RedisReply &meta = replies[1];
    for (size_t i = 0; i + 1 < meta.elements.size(); i += 2) {
        const QByteArray &field = meta.elements[i].text;
        if (field.startsWith("a:"))
            room->lastClientOp[field.mid(2).toULongLong()] = meta.elements[i + 1].text.toULongLong();
    }
    QString error;
    if (!readLog(room, snapshotSeq, head, &error)) {
        qCWarning(lcRedis).noquote() << "cannot read the log of wall" << room->name << ":" << error;
        return false;
    }
    room->committedSeq = room->model.seq();
    room->epoch = newEpoch();

    // Follow the log from here: ops appended since come as Redis publishes them.
    auto &follower = m_followers[room];
    follower = std::make_unique<WallLogFollower>(m_log, room->name, epoch, room->model.seq());
    connect(follower.get(), &WallLogFollower::op, this, [this, room](std::uint64_t seq, const QByteArray &bytes) {
        land(room, seq, bytes, true);
    });
    // Reloading replaces the follower: not from within its own signal.
    WallLogFollower *raw = follower.get();
    auto later = [this, room, raw](const QString &why) {
        QMetaObject::invokeMethod(this, [this, room, raw, why] {
            const auto it = m_followers.find(room);
            if (it != m_followers.end() && it->second.get() == raw) // still that wall, loaded
                resynchronise(room, why);
        }, Qt::QueuedConnection);
    };
    connect(raw, &WallLogFollower::behindTrimmedLog, this,
            [later] { later(QStringLiteral("this server fell behind the wall's log")); });
    connect(raw, &WallLogFollower::epochChanged, this,
            [later] { later(QStringLiteral("the cluster's store lost the wall's history")); });
    follower->start();
    m_log.watchLive(room->name, [this, room](const QByteArray &server, const QByteArray &payload) {
        onLive(room, server, payload);
    });
    m_rosters[room].clear();
    m_log.publishLive(room->name, "Q"); // who is here? (the others answer with their rosters)
    qCInfo(lcRedis) << "loaded wall" << room->name << "from Redis at seq" << room->model.seq() << "in"
                    << timer.elapsed() << "ms";
    return true;
}

bool Cluster::outOfService() const
{
    return !ready() && (m_sentElsewhere || (m_downSince.isValid() && m_downSince.elapsed() >= limits::kClusterRedisGraceMs));
}

void Cluster::sendMembersElsewhere()
{
    // The load balancer takes this server out (/health says 503); its members reconnect to
    // one that can reach Redis and resume there.
    const QString why = m_log.problem();
    m_sentElsewhere = true;
    int closed = 0;
    for (Room *room : m_server.loadedRooms()) {
        for (Session *s : std::vector<Session *>(room->members)) {
            s->fail({pb::STORAGE_UNAVAILABLE,
                     QStringLiteral("This server has not reached the cluster's shared store for %1 s (%2); "
                                    "reconnect to reach another server. Changes not yet acknowledged are "
                                    "sent again from there.")
                         .arg(limits::kClusterRedisGraceMs / 1000)
                         .arg(why),
                     {}});
            ++closed;
        }
    }
    qCWarning(lcRedis).noquote() << "Redis unreachable for" << limits::kClusterRedisGraceMs << "ms (" << why
                                 << "): closed" << closed << "members' connections";
}

bool Cluster::readLog(Room *room, std::uint64_t after, std::uint64_t head, QString *error)
{
    const QByteArray prefix = RedisWallLog::keyPrefix(room->name);
    while (after < head) {
        const RedisReply r = m_sync.command({"FCALL", "scrawl_read", "2", prefix + "meta", prefix + "log",
                                             QByteArray::number(after), "5000"});
        if (r.isError() || r.elements.size() != 3) {
            *error = r.isError() ? QString::fromUtf8(r.text) : QStringLiteral("an unexpected reply");
            return false;
        }
        const auto &entries = r.elements[2].elements;
        if (entries.empty()) {
            *error = QStringLiteral("the log has no ops after %1 (trimmed behind a newer snapshot)").arg(after);
            return false;
        }
        for (const RedisReply &entry : entries) {
            const QByteArray &id = entry.elements[0].text;
            const std::uint64_t seq = id.left(id.indexOf('-')).toULongLong();
            if (seq != after + 1) {
                *error = QStringLiteral("the log has no ops %1 to %2 (trimmed behind a newer snapshot)")
                             .arg(after + 1)
                             .arg(seq - 1);
                return false;
            }
            const auto &fields = entry.elements[1].elements;
            QByteArray op;
            for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                if (fields[i].text == "op")
                    op = fields[i + 1].text;
            }
            land(room, seq, op, false);
            after = seq;
        }
    }
    return true;
}

bool Cluster::historyBase(Room *room, QByteArray *snapshot)
{
    const RedisReply r = m_sync.command({"HMGET", RedisWallLog::keyPrefix(room->name) + "snap", "epoch", "base_data"});
    if (r.isError() || r.elements.size() != 2 || r.elements[0].text != room->logEpoch || r.elements[1].isNil())
        return false;
    pb::ClusterSnapshot kept;
    pb::WallSnapshot wall;
    if (!kept.ParseFromString(r.elements[1].text.toStdString()) || !wall.ParseFromString(kept.wall()))
        return false;
    // The ops between the base and the snapshot this wall was loaded from go out as they landed:
    // which of them landed as voids is learnt by replaying them from the base, each checked at
    // its turn as every server decided it (once per load of the wall).
    if (wall.seq() < room->voidsKnownAfter) {
        Room past;
        past.name = room->name;
        past.wallId = room->wallId;
        past.logEpoch = room->logEpoch;
        past.model.setCapacity(m_server.options().wallCapacity);
        if (past.model.load(wall))
            return false;
        applyAccess(&past, kept.access());
        QString error;
        if (!readLog(&past, wall.seq(), room->voidsKnownAfter, &error)) {
            qCWarning(lcRedis).noquote() << "cannot replay the history of wall" << room->name << ":" << error;
            return false;
        }
        for (std::uint64_t seq : past.voided) {
            if (seq <= room->voidsKnownAfter)
                room->voided.insert(seq);
        }
        room->voidsKnownAfter = wall.seq();
    }
    *snapshot = QByteArray::fromStdString(kept.wall());
    return true;
}

bool Cluster::opsAfter(Room *room, std::uint64_t afterSeq, int limit, std::vector<pb::Op> *out)
{
    if (afterSeq < room->voidsKnownAfter)
        return false;
    const QByteArray prefix = RedisWallLog::keyPrefix(room->name);
    const RedisReply r = m_sync.command({"FCALL", "scrawl_read", "2", prefix + "meta", prefix + "log",
                                         QByteArray::number(afterSeq), QByteArray::number(std::max(1, limit))});
    if (r.isError() || r.elements.size() != 3 || r.elements[0].text != room->logEpoch)
        return false;
    std::uint64_t expected = afterSeq + 1;
    for (const RedisReply &entry : r.elements[2].elements) {
        if (entry.elements.size() != 2)
            return false;
        const QByteArray &id = entry.elements[0].text;
        const std::uint64_t seq = id.left(id.indexOf('-')).toULongLong();
        if (seq != expected)
            return false; // trimmed
        if (seq > room->committedSeq)
            break; // not landed here yet: the joiner gets it as a member
        ++expected;
        QByteArray bytes;
        const auto &fields = entry.elements[1].elements;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
            if (fields[i].text == "op")
                bytes = fields[i + 1].text;
        }
        pb::Op op;
        if (!isAccessEntry(bytes) && !op.ParseFromArray(bytes.constData(), int(bytes.size())))
            return false;
        if (isAccessEntry(bytes) || room->voided.count(seq)) {
            pb::Op none;
            none.set_author(op.author());
            none.set_client_op_id(op.client_op_id());
            op = std::move(none);
        }
        op.set_seq(seq);
        out->push_back(std::move(op));
    }
    return expected > afterSeq + 1 || afterSeq >= room->committedSeq;
}

void Cluster::unload(Room *room)
{
    WallLog::unload(room);
    m_cursors.erase(room->name);
    m_followers.erase(room);
    m_rosters.erase(room);
    m_log.unwatchLive(room->name);
}

namespace {

// Refused at once: more than maxUncommittedBytes wait for Redis.
std::optional<Problem> backlogProblem(std::uint64_t waiting, std::uint64_t limit, const RedisWallLog &log)
{
    if (waiting < limit)
        return std::nullopt;
    return Problem{pb::STORAGE_UNAVAILABLE,
                   log.isReady()
                       ? QStringLiteral("The server is waiting for the cluster's shared store: %1 MiB of "
                                        "changes wait to be stored (limit %2); this one was not applied, "
                                        "send it again in a moment.")
                             .arg(double(waiting) / (1024 * 1024), 0, 'f', 1)
                             .arg(QLatin1String(limits::kMaxUncommittedBytesName))
                       : QStringLiteral("The server cannot reach the cluster's shared store (%1) and "
                                        "holds as many changes as it may (limit %2); this one was not "
                                        "applied, send it again in a moment.")
                             .arg(log.problem(), QLatin1String(limits::kMaxUncommittedBytesName)),
                   QString::fromLatin1(limits::kMaxUncommittedBytesName)};
}

} // namespace

std::optional<Problem> Cluster::append(Room *room, Session *origin, pb::Op op, Appended appended)
{
    if (auto p = backlogProblem(m_appendingBytes, m_server.options().maxUncommittedBytes, m_log))
        return p;
    // Uploads are not in the log: whether the bytes are there is asked here, before the op
    // has a place (a hash of the wrong length is the op's shape, checked at its turn).
    if (op.has_image_add() && op.image_add().hash().size() == 32) {
        if (auto p = m_server.checkUploaded(room, op))
            return p;
    }
    WallServer::stamp(origin, &op);
    queue(room, origin, op.author(), origin ? op.client_op_id() : 0, op.client_op_id(),
          QByteArray::fromStdString(op.SerializeAsString()), op.has_chat(), std::move(appended));
    return std::nullopt;
}

std::optional<Problem> Cluster::changeAccess(Room *room, Session *by, const pb::ClusterAccess &change)
{
    if (auto p = backlogProblem(m_appendingBytes, m_server.options().maxUncommittedBytes, m_log))
        return p;
    // No author and no client op id: sent again after a lost connection it may land twice,
    // which sets the same access twice.
    queue(room, by, 0, 0, 0, QByteArray(1, '\0') + QByteArray::fromStdString(change.SerializeAsString()), false, {});
    return std::nullopt;
}

std::optional<Problem> Cluster::deleteWall(Room *room, Session *by)
{
    if (auto p = backlogProblem(m_appendingBytes, m_server.options().maxUncommittedBytes, m_log))
        return p;
    pb::ClusterAccess entry;
    entry.set_deleted(true);
    queue(room, by, 0, 0, 0, QByteArray(1, '\0') + QByteArray::fromStdString(entry.SerializeAsString()), false, {},
          room->wallId);
    return std::nullopt;
}

void Cluster::queue(Room *room, Session *origin, std::uint64_t author, std::uint64_t clientOpId,
                    std::uint64_t originClientOpId, QByteArray bytes, bool chat, Appended appended,
                    std::int64_t deletesWall)
{
    Outgoing out;
    out.id = ++m_nextOutgoing;
    out.wall = room->name;
    out.epoch = room->logEpoch;
    out.author = author;
    out.clientOpId = clientOpId;
    out.originClientOpId = originClientOpId;
    out.bytes = std::move(bytes);
    out.origin = origin;
    out.chat = chat;
    out.appended = std::move(appended);
    out.deletesWall = deletesWall;
    m_appendingBytes += std::uint64_t(out.bytes.size());
    m_outgoing.push_back(std::move(out));
    pump();
}

void Cluster::pump()
{
    if (!m_log.isReady())
        return; // held until Redis is back (readyChanged)
    const std::uint64_t generation = m_generation;
    while (m_sent < m_outgoing.size()) {
        const Outgoing &out = m_outgoing[m_sent++];
        auto answer = [this, id = out.id, generation](RedisWallLog::Appended result) {
            answered(id, generation, std::move(result));
        };
        if (out.deletesWall)
            m_log.deleteWall(out.wall, out.epoch, out.deletesWall, out.bytes, std::move(answer));
        else
            m_log.append(out.wall, out.epoch, out.author, out.clientOpId, out.bytes, std::move(answer),
                         out.chat ? limits::kClusterChatKeep : 0);
    }
}

void Cluster::answered(std::uint64_t id, std::uint64_t generation, RedisWallLog::Appended result)
{
    using Status = RedisWallLog::Appended::Status;
    if (generation != m_generation)
        return; // sent again since
    if (m_outgoing.empty() || m_outgoing.front().id != id) {
        qCCritical(lcRedis) << "an append was answered out of order";
        return;
    }
    if (result.status == Status::Failed && result.connectionLost) {
        // It may or may not have reached Redis, and so may everything sent after it: all of it
        // goes again, in order, once Redis is back (the client op ids settle which got there).
        ++m_generation;
        m_sent = 0;
        qCWarning(lcRedis).noquote() << "holding" << m_outgoing.size() << "changes until Redis is back:"
                                     << result.error;
        return;
    }
    Outgoing out = std::move(m_outgoing.front());
    m_outgoing.pop_front();
    --m_sent;
    m_appendingBytes -= std::uint64_t(out.bytes.size());
    switch (result.status) {
    case Status::Ok:
    case Status::Duplicate:
        // It comes back through the log (a duplicate was appended before: the same).
        if (out.appended)
            out.appended(result.seq, std::nullopt);
        return;
    case Status::EpochChanged: {
        epochGone(out.wall, out.epoch);
        const Problem problem = deletedEpoch(out.epoch)
            ? Problem{pb::WALL_DELETED,
                      QStringLiteral("The owner deleted the wall \"%1\"; your change was not applied. "
                                     "Join another wall.").arg(out.wall),
                      {}}
            : redisProblem(QStringLiteral("the wall's history was lost and is being reloaded"));
        if (out.origin)
            out.origin->refuse(problem, out.originClientOpId);
        if (out.appended)
            out.appended(0, problem);
        return;
    }
    case Status::Failed:
        // Refused by Redis itself (out of memory): not appended.
        if (out.origin)
            out.origin->refuse(redisProblem(result.error), out.originClientOpId);
        if (out.appended)
            out.appended(0, redisProblem(result.error));
        return;
    }
}

std::optional<Problem> Cluster::answerResend(Room *room, Session *session, const pb::Op &op)
{
    QPointer<Session> guard(session);
    const std::uint64_t author = session->userId();
    const std::uint64_t clientOpId = op.client_op_id();
    const QString wall = room->name;
    m_log.find(wall, author, clientOpId, m_server.options().clusterLogKeepOps,
               [this, guard, clientOpId, wall](std::optional<RedisWallLog::Entry> entry, QString error) {
        if (!guard)
            return;
        Room *room = m_server.loadedRoom(wall);
        if (!entry || !room) {
            guard->refuse(error.isEmpty()
                              ? Problem{pb::INVALID_OP,
                                        QStringLiteral("Op %1 is not above your newest stored op and is not "
                                                       "among the wall's last %2 changes (%3); it is not "
                                                       "applied again.")
                                            .arg(clientOpId)
                                            .arg(m_server.options().clusterLogKeepOps)
                                            .arg(QLatin1String(limits::kClusterLogKeepOpsName)),
                                        QString::fromLatin1(limits::kClusterLogKeepOpsName)}
                              : redisProblem(error),
                          clientOpId);
            return;
        }
        pb::Op stored;
        stored.ParseFromArray(entry->op.constData(), int(entry->op.size()));
        stored.set_seq(entry->seq);
        if (room->voided.count(entry->seq)) {
            // Landed as a void: acknowledged as one (its author was told why when it landed).
            pb::Op none;
            none.set_seq(entry->seq);
            none.set_author(stored.author());
            none.set_client_op_id(stored.client_op_id());
            stored = std::move(none);
        }
        pb::Envelope env;
        *env.mutable_op() = std::move(stored);
        guard->send(serialize(env));
    });
    return std::nullopt;
}

void Cluster::land(Room *room, std::uint64_t seq, const QByteArray &bytes, bool live)
{
    if (isAccessEntry(bytes)) {
        landAccess(room, seq, bytes, live);
        return;
    }
    pb::Op op;
    std::optional<Problem> problem;
    if (!op.ParseFromArray(bytes.constData(), int(bytes.size()))) {
        problem = Problem{pb::PROTOCOL, QStringLiteral("The shared log holds a damaged op at %1.").arg(seq), {}};
        op.Clear();
    }
    op.set_seq(seq);
    const std::uint64_t author = op.author();
    // Checked against the wall as it stands at this op's turn: every server decides the same.
    if (!problem)
        problem = m_server.checkAtTurn(room, author, op);
    if (problem) {
        pb::Op none;
        none.set_seq(seq);
        none.set_author(author);
        none.set_client_op_id(op.client_op_id());
        room->voided.insert(seq);
        if (live) {
            for (Session *s : std::vector<Session *>(room->members)) {
                if (s->userId() == author && author != 0)
                    s->refuse(*problem, op.client_op_id());
            }
        }
        op = std::move(none);
    }
    room->model.apply(op);
    if (author != 0 && op.client_op_id() != 0) {
        std::uint64_t &last = room->lastClientOp[author];
        last = std::max(last, op.client_op_id());
    }
    room->committedSeq = seq;
    if (!live) {
        room->opBytesSinceSnapshot += op.ByteSizeLong();
        return;
    }
    m_server.landed(room, std::move(op));
    runWaiters();
    scheduleFlush();
    storeSnapshotIfDue(room, false);
}

void Cluster::landAccess(Room *room, std::uint64_t seq, const QByteArray &bytes, bool live)
{
    pb::ClusterAccess access;
    if (access.ParseFromArray(bytes.constData() + 1, int(bytes.size() - 1)))
        applyAccess(room, access);
    else
        qCWarning(lcRedis) << "wall" << room->name << "has a damaged access change at" << seq << "in its log";
    if (access.deleted()) {
        // The wall's last entry. Forgotten once this pass is over (not from within the
        // follower's signal), unless it was reloaded meanwhile.
        QMetaObject::invokeMethod(this, [this, wall = room->name, epoch = room->logEpoch] {
            Room *r = m_server.loadedRoom(wall);
            if (r && r->logEpoch == epoch)
                m_server.forgetDeletedRoom(r);
        }, Qt::QueuedConnection);
        return;
    }
    // Members see an op without a body at its seq, and the wall's new state.
    pb::Op none;
    none.set_seq(seq);
    room->model.apply(none);
    room->committedSeq = seq;
    if (!live) {
        room->opBytesSinceSnapshot += bytes.size();
        return;
    }
    m_server.landed(room, std::move(none));
    m_server.broadcastWallState(room, false);
    runWaiters();
    scheduleFlush();
    storeSnapshotIfDue(room, false);
}

void Cluster::scheduleFlush()
{
    if (std::exchange(m_flushScheduled, true))
        return;
    // Corked: each member's share of what landed in this pass leaves in one write.
    QMetaObject::invokeMethod(this, [this] {
        m_flushScheduled = false;
        m_server.wsHub()->flush();
    }, Qt::QueuedConnection);
}

void Cluster::storeSnapshotIfDue(Room *room, bool closing)
{
    if (closing)
        return;
    // As often as the single server's: after snapshotEveryOps ops and at least as many bytes
    // of them as the last snapshot weighed. Every server may store one; Redis keeps the newest.
    const std::uint64_t seq = room->model.seq();
    if (seq - room->storedSnapshotSeq < std::uint64_t(m_server.options().snapshotEveryOps)
        || room->opBytesSinceSnapshot < std::uint64_t(room->storedSnapshotBytes) || room->snapshotWrite)
        return;
    pb::ClusterSnapshot kept;
    const QByteArray &wall = room->snapshotBytes();
    kept.set_wall(wall.constData(), size_t(wall.size()));
    *kept.mutable_access() = governingAccess(*room);
    const QByteArray bytes = QByteArray::fromStdString(kept.SerializeAsString());
    room->storedSnapshotSeq = seq;
    room->storedSnapshotBytes = bytes.size();
    room->opBytesSinceSnapshot = 0;
    const QString name = room->name;
    m_log.saveSnapshot(name, room->logEpoch, seq, bytes, m_server.options().clusterLogKeepOps,
                       [wall = name, seq](RedisWallLog::SnapshotSaved saved) {
        if (saved.status == RedisWallLog::SnapshotSaved::Status::Failed)
            qCWarning(lcRedis).noquote() << "the snapshot of wall" << wall << "at" << seq
                                         << "was not stored:" << saved.error;
    });
}

bool Cluster::deletedEpoch(const QByteArray &epoch)
{
    if (m_deletedEpochs.count(epoch))
        return true;
    const RedisReply r = m_sync.command({"EXISTS", RedisWallLog::deletedKey(epoch)});
    if (r.isError() || r.integer != 1)
        return false;
    m_deletedEpochs.insert(epoch);
    return true;
}

void Cluster::epochGone(const QString &wall, const QByteArray &epoch)
{
    if (!m_server.loadedRoom(wall) || !m_epochsGone.insert({wall, epoch}).second)
        return;
    QMetaObject::invokeMethod(this, [this, wall, epoch] {
        m_epochsGone.erase({wall, epoch});
        Room *r = m_server.loadedRoom(wall);
        if (r && r->logEpoch == epoch) // not reloaded meanwhile
            resynchronise(r, QStringLiteral("the cluster's store lost the wall's history"));
    }, Qt::QueuedConnection);
}

void Cluster::resynchronise(Room *room, const QString &why)
{
    if (deletedEpoch(room->logEpoch)) {
        // Deleted (on any server), its last entry not yet landed here: never made again.
        m_server.forgetDeletedRoom(room);
        return;
    }
    // The members' walls may hold what the store no longer has, or miss what this server cannot
    // read any more: they join again, from a snapshot.
    qCWarning(lcRedis).noquote() << "wall" << room->name << ":" << why << "; reloading it";
    for (Session *s : std::vector<Session *>(room->members))
        s->fail({pb::STORAGE_UNAVAILABLE,
                 QStringLiteral("The wall is being reloaded (%1); reconnect to see it as it is now.").arg(why),
                 {}});
    if (!load(room))
        m_server.markUnavailable(room);
}

bool Cluster::readChat(const std::vector<QByteArray> &command, const QString &wall, std::vector<pb::Op> *out)
{
    const RedisReply r = m_sync.command(command);
    if (r.isError()) {
        qCWarning(lcRedis).noquote() << "cannot read the chat of wall" << wall << ":" << QString::fromUtf8(r.text);
        return false;
    }
    const Room *room = m_server.loadedRoom(wall);
    for (const RedisReply &entry : r.elements) {
        if (entry.elements.size() != 2 || entry.elements[1].elements.size() < 2)
            continue;
        const QByteArray &id = entry.elements[0].text;
        const std::uint64_t seq = id.left(id.indexOf('-')).toULongLong();
        if (room && room->voided.count(seq))
            continue; // landed as a void: never shown
        const QByteArray &bytes = entry.elements[1].elements[1].text;
        pb::Op op;
        if (!op.ParseFromArray(bytes.constData(), int(bytes.size())) || !op.has_chat())
            continue;
        op.set_seq(seq);
        out->push_back(std::move(op));
    }
    return true;
}

bool Cluster::chatBefore(const QString &wall, std::int64_t, std::uint64_t beforeSeq, int limit,
                         std::vector<pb::Op> *out)
{
    if (beforeSeq == 1)
        return true;
    const QByteArray end = beforeSeq == 0 ? QByteArray("+") : QByteArray::number(beforeSeq - 1) + "-0";
    return readChat({"XREVRANGE", RedisWallLog::keyPrefix(wall) + "chat", end, "-", "COUNT",
                     QByteArray::number(std::max(1, limit))},
                    wall, out);
}

bool Cluster::chatAfter(const QString &wall, std::int64_t, std::uint64_t afterSeq, int limit,
                        std::vector<pb::Op> *out)
{
    return readChat({"XRANGE", RedisWallLog::keyPrefix(wall) + "chat", QByteArray::number(afterSeq + 1) + "-0", "+",
                     "COUNT", QByteArray::number(std::max(1, limit))},
                    wall, out);
}

// The live channel's messages: a kind byte, then
//   C  cursor envelopes for the wall's members (the newest of each person's in a frame), each
//      after its length (4 bytes, big-endian);
//   R  a WallState whose members are the sender's people on the wall (its roster);
//   Q  a question: every server answers with its roster;
//   A  the wall's access record or kicks changed: read them again.
void Cluster::publishCursor(Room *room, std::uint64_t user, const QByteArray &envelope)
{
    m_cursors[room->name][user] = envelope;
    if (!m_cursorFrame.isActive())
        m_cursorFrame.start();
}

void Cluster::sendCursors()
{
    for (const auto &[wall, cursors] : m_cursors) {
        QByteArray payload(1, 'C');
        for (const auto &[user, envelope] : cursors) {
            const quint32 size = quint32(envelope.size());
            const char length[4] = {char(size >> 24), char(size >> 16), char(size >> 8), char(size)};
            payload.append(length, 4).append(envelope);
        }
        m_log.publishLive(wall, payload);
    }
    m_cursors.clear();
}

void Cluster::announceMembers(Room *room)
{
    pb::WallState roster;
    for (const Session *s : room->members)
        *roster.add_members() = s->member();
    m_log.publishLive(room->name, 'R' + QByteArray::fromStdString(roster.SerializeAsString()));
}

void Cluster::accessChanged(Room *room)
{
    m_log.publishLive(room->name, "A");
}

std::vector<pb::Member> Cluster::remoteMembers(const Room *room) const
{
    std::vector<pb::Member> out;
    const auto it = m_rosters.find(room);
    if (it == m_rosters.end())
        return out;
    for (const auto &[server, roster] : it->second)
        out.insert(out.end(), roster.members.begin(), roster.members.end());
    return out;
}

void Cluster::onLive(Room *room, const QByteArray &server, const QByteArray &payload)
{
    if (payload.isEmpty())
        return;
    switch (payload.front()) {
    case 'R': {
        pb::WallState roster;
        if (!roster.ParseFromArray(payload.constData() + 1, int(payload.size() - 1)))
            return;
        Roster &r = m_rosters[room][server];
        // Each person who came or went there is a presence here (one a session, as on one server).
        std::map<std::uint64_t, int> change;
        for (const pb::Member &m : r.members)
            --change[m.user_id()];
        for (const pb::Member &m : roster.members())
            ++change[m.user_id()];
        auto tell = [&](const pb::Member &m, bool online) {
            pb::Envelope presence;
            *presence.mutable_presence()->mutable_member() = m;
            presence.mutable_presence()->mutable_member()->set_role(room->roleOf(m.user_id()));
            presence.mutable_presence()->set_online(online);
            fanout::broadcast(room->members, serialize(presence));
        };
        for (const pb::Member &m : r.members) {
            if (change[m.user_id()] < 0) {
                ++change[m.user_id()];
                tell(m, false);
            }
        }
        for (const pb::Member &m : roster.members()) {
            if (change[m.user_id()] > 0) {
                --change[m.user_id()];
                tell(m, true);
            }
        }
        r.members.assign(roster.members().begin(), roster.members().end());
        r.heardMs = m_clock.elapsed();
        scheduleFlush();
        return;
    }
    case 'C':
        for (qsizetype at = 1; at + 4 <= payload.size();) {
            const auto *p = reinterpret_cast<const unsigned char *>(payload.constData() + at);
            const qsizetype size = qsizetype((quint32(p[0]) << 24) | (quint32(p[1]) << 16) | (quint32(p[2]) << 8) | p[3]);
            if (size > payload.size() - at - 4)
                return; // cut short: not from a server of ours
            fanout::broadcast(room->members, payload.sliced(at + 4, size));
            at += 4 + size;
        }
        scheduleFlush();
        return;
    case 'Q':
        announceMembers(room);
        return;
    case 'A':
        m_server.reloadAccess(room);
        return;
    default:
        return;
    }
}

namespace {

QByteArray onlineKey(const QString &wall, std::uint64_t user)
{
    return RedisWallLog::keyPrefix(wall) + "on:" + QByteArray::number(quint64(user));
}

} // namespace

void Cluster::memberJoined(Room *room, std::uint64_t user)
{
    const QByteArray key = onlineKey(room->name, user);
    const qint64 goodFor = 3 * limits::kClusterPresenceRefreshMs;
    m_log.commands().command({"HSET", key, m_log.serverId(), QByteArray::number(QDateTime::currentMSecsSinceEpoch() + goodFor)});
    m_log.commands().command({"PEXPIRE", key, QByteArray::number(goodFor)});
}

void Cluster::memberLeft(Room *room, std::uint64_t user)
{
    for (const Session *s : room->members) {
        if (s->userId() == user)
            return; // still here in another session
    }
    m_log.commands().command({"HDEL", onlineKey(room->name, user), m_log.serverId()});
}

bool Cluster::isOnline(const QString &wall, std::uint64_t user)
{
    const RedisReply r = m_sync.command({"HVALS", onlineKey(wall, user)});
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    return std::any_of(r.elements.begin(), r.elements.end(),
                       [now](const RedisReply &until) { return until.text.toLongLong() > now; });
}

void Cluster::refreshPresence()
{
    const qint64 now = m_clock.elapsed();
    for (Room *room : m_server.loadedRooms()) {
        announceMembers(room);
        std::set<std::uint64_t> users;
        for (const Session *s : room->members)
            users.insert(s->userId());
        for (const std::uint64_t user : users)
            memberJoined(room, user);
        // A server not heard from for three rounds is gone (killed, cut off): so are its people.
        auto &rosters = m_rosters[room];
        for (auto it = rosters.begin(); it != rosters.end();) {
            if (now - it->second.heardMs <= 3 * limits::kClusterPresenceRefreshMs) {
                ++it;
                continue;
            }
            for (const pb::Member &m : it->second.members) {
                pb::Envelope gone;
                *gone.mutable_presence()->mutable_member() = m;
                gone.mutable_presence()->set_online(false);
                fanout::broadcast(room->members, serialize(gone));
            }
            it = rosters.erase(it);
        }
    }
    scheduleFlush();
}

} // namespace scrawl
