#pragma once

// A scrawl-server's part in a cluster (scrawl-server --redis), and its wall log (server/walllog.h):
// the order of its walls' ops is decided in Redis, not here. An op a member sends is stamped and appended to the wall's shared
// log (RedisWallLog::append); every server, this one included, gets the wall's ops back from
// the log in seq order (WallLogFollower) and lands each: checks it against the wall as it stands
// at its turn, applies it or makes it a void (its seq kept, no change), and sends it to its own
// members. All servers see the same ops at the same seqs and so land them the same way; the
// author's server tells the author why a void was refused.
//
// A wall's access changes that decide which ops it takes (lock, protection, roles: a
// pb::ClusterAccess) travel in the same log, at seqs of their own, and take effect when they
// land: every server checks each op against the access as it stood at that op's turn. Members
// get such an entry as an op without a body (its seq kept, so that the order stays gap-free),
// and the wall's new state. Snapshots keep the access with the wall.
//
// Walls are loaded from Redis (the latest snapshot and the log after it, blocking, as SQLite
// loads them), and snapshots stored there, trimming the log behind them. Cursors go to the other
// servers on the wall's live channel, never stored.

#include "core/protocol.h"
#include "proto/cluster.pb.h"
#include "server/logfollower.h"
#include "server/redislog.h"
#include "server/walllog.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QPointer>

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <vector>
#include <memory>

namespace scrawl {

class Room;
class Session;
class WallServer;

class Cluster : public WallLog
{
    Q_OBJECT

public:
    Cluster(WallServer &server, RedisAddress address);
    ~Cluster() override;

    void start() override;
    // Connected to Redis, the function library loaded.
    bool ready() const { return m_log.isReady(); }
    QString problem() const { return m_log.problem(); }
    // Redis out of reach for kClusterRedisGraceMs or more: this server's members were sent
    // elsewhere, and /health answers 503 so that the load balancer sends nobody new. (A shorter
    // outage, a Redis restart, holds changes and takes nobody out.)
    bool outOfService() const;
    const RedisAddress &address() const { return m_address; }

    // Loads `room` (its name and id set) from Redis and follows its log. False when Redis could
    // not be read.
    bool load(Room *room) override;
    void unload(Room *room) override;

    // Appends a stamped op from `origin` (nullptr: the HTTP API). Ops go to Redis in the order
    // given, pipelined; while Redis cannot be reached they are held, and appended again (same
    // client op id, so that one that did reach Redis is not appended twice) once it is back.
    // Refused at once only when more than maxUncommittedBytes wait. `appended` (if given) is
    // told the op's seq once Redis took it (it lands on this server later), or why it did not.
    std::optional<Problem> append(Room *room, Session *origin, pb::Op op, Appended appended = {}) override;
    // Ops given to append() and not yet answered by Redis (held or on their way).
    size_t waitingOps() const { return m_outgoing.size(); }
    // The ops after `afterSeq` up to the wall's landed seq, as this server landed them (voids
    // and access changes as ops without a body), at most `limit`, read from the log in Redis.
    // False when Redis cannot be read, or the log no longer holds the op after `afterSeq`
    // (trimmed behind a snapshot) or this server does not know how it landed (from before the
    // snapshot it loaded the wall from): the joiner gets the snapshot instead.
    bool opsAfter(Room *room, std::uint64_t afterSeq, int limit, std::vector<pb::Op> *out) override;
    bool historyBase(Room *room, QByteArray *snapshot) override;
    // Answers an op resent with a client op id already landed: with the op as the log holds it
    // (later: it is read from Redis without blocking).
    std::optional<Problem> answerResend(Room *room, Session *session, const pb::Op &op) override;
    // Chat kept in Redis (cluster_chat_keep of a wall's newest messages): with seq < beforeSeq
    // (0: the newest), newest first; or with seq > afterSeq, oldest first. At most `limit`.
    bool chatBefore(const QString &wall, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                    std::vector<pb::Op> *out) override;
    bool chatAfter(const QString &wall, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                   std::vector<pb::Op> *out) override;
    // Every server may store a wall's snapshot as it goes (Redis keeps the newest): none is
    // stored for closing.
    void storeSnapshotIfDue(Room *room, bool closing) override;
    // Ops waiting for Redis are not waited for: they were not acknowledged, and their authors
    // send them again to whichever server they reach next.
    bool healthy() const override { return ready(); }
    QString lastError() const override { return problem(); }
    // A cursor envelope of `user`'s for the wall's members on other servers: held until the
    // frame ends (kClusterCursorFrameMs), when the newest of each person's go in one message.
    void publishCursor(Room *room, std::uint64_t user, const QByteArray &envelope);
    // Tells the other servers who is on the wall here (after a join or a leave; and every
    // kClusterPresenceRefreshMs, so that a server that died is forgotten).
    void announceMembers(Room *room);
    // Who is on which wall, for the HTTP API's image checks on any server: a person's sessions
    // here, kept in Redis (scrawl:{w:HEX}:on:USER, a hash of server id -> until when, in ms
    // since the epoch), written as they join and every kClusterPresenceRefreshMs, good for
    // three rounds (a server killed is forgotten), removed when they leave.
    void memberJoined(Room *room, std::uint64_t user);
    void memberLeft(Room *room, std::uint64_t user);
    // Whether `user` is on `wall` on any server (a blocking read).
    bool isOnline(const QString &wall, std::uint64_t user);
    // The wall's people on other servers (each server's latest word).
    std::vector<pb::Member> remoteMembers(const Room *room) const;
    // The wall's access record or kicks changed (a password, an API token, a kick): the other
    // servers read them again.
    void accessChanged(Room *room);
    // Appends a change of what decides which ops the wall takes (lock, protection, roles) to its
    // log; it takes effect on every server, this one included, when it lands. `by` (if given)
    // is told if it could not be stored.
    std::optional<Problem> changeAccess(Room *room, Session *by, const pb::ClusterAccess &change) override;
    bool governsAccess() const override { return true; }
    // Deletes the wall in Redis (its keys and names), after the ops this server appended to it
    // before; every server, as the deletion reaches it, ends its members' sessions and forgets
    // the wall. `by` is told if it could not be done.
    std::optional<Problem> deleteWall(Room *room, Session *by) override;
    // Log entries that are access changes start with a zero byte, which no serialised op does
    // (protobuf has no field 0); the ClusterAccess follows.
    static bool isAccessEntry(const QByteArray &bytes) { return !bytes.isEmpty() && bytes.front() == '\0'; }

    // Test hook: the shared log.
    RedisWallLog &log() { return m_log; }

private:
    // Lands the op appended at `seq`; `live`: its members get it (false while loading).
    void land(Room *room, std::uint64_t seq, const QByteArray &bytes, bool live);
    void landAccess(Room *room, std::uint64_t seq, const QByteArray &bytes, bool live);
    void queue(Room *room, Session *origin, std::uint64_t author, std::uint64_t clientOpId,
               std::uint64_t originClientOpId, QByteArray bytes, bool chat, Appended appended,
               std::int64_t deletesWall = 0);
    void resynchronise(Room *room, const QString &why);
    // Whether the wall's history under `epoch` ended in a delete (RedisWallLog::deletedKey).
    bool deletedEpoch(const QByteArray &epoch);
    // Redis refused an append for the epoch the wall was loaded under: the wall was deleted, or
    // Redis lost it. Once per wall and epoch, however many appends were refused.
    void epochGone(const QString &wall, const QByteArray &epoch);
    void scheduleFlush();
    void onLive(Room *room, const QByteArray &server, const QByteArray &payload);
    void refreshPresence();
    bool readLog(Room *room, std::uint64_t after, std::uint64_t head, QString *error);

    // Sends the outgoing ops not yet sent, in order.
    void pump();
    void answered(std::uint64_t id, std::uint64_t generation, RedisWallLog::Appended result);

    struct Outgoing
    {
        std::uint64_t id = 0;
        QString wall;
        QByteArray epoch;
        std::uint64_t author = 0;
        std::uint64_t clientOpId = 0; // 0: no exactly-once check (the HTTP API)
        QByteArray bytes;
        QPointer<Session> origin;
        std::uint64_t originClientOpId = 0;
        bool chat = false;
        Appended appended;
        std::int64_t deletesWall = 0; // not 0: the wall's id, and this deletes it (bytes: the entry)
    };
    bool readChat(const std::vector<QByteArray> &command, const QString &wall, std::vector<pb::Op> *out);

    RedisAddress m_address;
    RedisWallLog m_log;
    RedisSyncConnection m_sync;
    std::map<Room *, std::unique_ptr<WallLogFollower>> m_followers;
    // Who is on each wall on the other servers, by server, and when that server last said so.
    struct Roster
    {
        std::vector<pb::Member> members;
        qint64 heardMs = 0;
    };
    std::map<const Room *, std::map<QByteArray, Roster>> m_rosters;
    QTimer m_presenceTimer;
    QTimer m_redisLost; // kClusterRedisGraceMs after Redis was lost: members are sent elsewhere
    bool m_sentElsewhere = false;
    // Cursors waiting for the frame's end, by wall, the newest per person.
    std::map<QString, std::map<std::uint64_t, QByteArray>> m_cursors;
    QTimer m_cursorFrame;
    void sendCursors();
    QElapsedTimer m_downSince; // valid while Redis is out of reach (from start until it is first reached)
    void sendMembersElsewhere();
    QElapsedTimer m_clock;
    std::set<QByteArray> m_deletedEpochs;
    std::set<std::pair<QString, QByteArray>> m_epochsGone; // handled later in this pass
    // Given to append(), not yet answered; the first m_sent of them are on their way. A lost
    // connection makes them all unsent again (a new generation: answers of the old one that
    // still come are ignored).
    std::deque<Outgoing> m_outgoing;
    size_t m_sent = 0;
    std::uint64_t m_generation = 0;
    std::uint64_t m_nextOutgoing = 0;
    std::uint64_t m_appendingBytes = 0; // of m_outgoing
    bool m_flushScheduled = false;
};

} // namespace scrawl
