#pragma once

// Where a wall's ops get their order and are kept: one interface, two implementations.
//
// - SqliteWallLog (server/sqlitewalllog.h): one server. An op is sequenced here as it comes,
//   committed to the SQLite file on the commit thread a batch at a time, and lands (goes to the
//   members, its author's sessions taking it as the ack) once its batch is committed.
// - Cluster (server/cluster.h): several servers. An op is appended to the wall's log in Redis,
//   which decides its seq; every server lands it as the log hands it back.
//
// The server (server/wallserver.h) keeps what does not depend on where the order is decided:
// sessions, joins, moderation, the checks an op must pass (WallServer::checkAtTurn, run by the
// log at the op's turn) and the fan-out to members (WallServer::landed, called by the log for
// each op that landed). Lock, protection and roles decide which ops a wall takes: they change
// through the log too (changeAccess), so that each op is checked against them as they stood at
// its turn.

#include "core/protocol.h"
#include "proto/cluster.pb.h"

#include <QObject>
#include <QString>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace scrawl {

class Room;
class Session;
class WallServer;

class WallLog : public QObject
{
    Q_OBJECT

public:
    explicit WallLog(WallServer &server);
    ~WallLog() override;

    virtual void start() {}
    // Lets go of everything: what is still queued is committed first where that can be done
    // without waiting for another machine.
    virtual void close() {}

    // Reads the wall into `room` (its name and id set): its state, its seq, the newest client op
    // id of each author. False when storage could not be read.
    virtual bool load(Room *room) = 0;
    virtual void unload(Room *room);
    // Whether the wall has ops, a snapshot or a waiter in flight: it stays in memory until they
    // landed (WallServer::unloadIdleRooms), so that an unloaded wall is what storage holds.
    virtual bool holdsWork(const Room *room) const;

    // Sequences a new op of `origin`'s (nullptr: the HTTP API), not yet stamped: the log stamps
    // it and checks it at its turn (WallServer::checkAtTurn). A problem returned is a refusal
    // now; one found at the op's turn goes to its author then. `appended` (if given) learns the
    // op's seq once its place is decided, or why it got none.
    using Appended = std::function<void(std::uint64_t seq, std::optional<Problem> refused)>;
    virtual std::optional<Problem> append(Room *room, Session *origin, pb::Op op, Appended appended = {}) = 0;
    // Answers an op resent with a client op id at or below its author's newest: with the op as
    // stored (nothing is applied again), or the problem.
    virtual std::optional<Problem> answerResend(Room *room, Session *session, const pb::Op &op) = 0;
    // The ops after `afterSeq`, oldest first, at most `limit`, as they landed (an op that landed
    // as a void comes without a body). False when they cannot be read or are no longer kept
    // (the reader gets a snapshot instead).
    virtual bool opsAfter(Room *room, std::uint64_t afterSeq, int limit, std::vector<pb::Op> *out) = 0;
    // Where the wall's history starts when its oldest ops are no longer kept: a snapshot (the
    // bytes of a pb::WallSnapshot) with every op after it kept. False when there is none: a log
    // that keeps every op (SQLite) needs none.
    virtual bool historyBase(Room *room, QByteArray *snapshot)
    {
        Q_UNUSED(room);
        Q_UNUSED(snapshot);
        return false;
    }
    // The wall's stored chat: seq < beforeSeq (0: the newest), newest first; or seq > afterSeq,
    // oldest first; at most `limit`. The wall need not be loaded.
    virtual bool chatBefore(const QString &wall, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                            std::vector<pb::Op> *out) = 0;
    virtual bool chatAfter(const QString &wall, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                           std::vector<pb::Op> *out) = 0;
    // Changes the wall's lock, protection or roles (only what `change` holds). Takes effect at its
    // place in the wall's order, and the members are told then. A problem returned: it was not
    // stored (`by`, if given, is told by the caller).
    virtual std::optional<Problem> changeAccess(Room *room, Session *by, const pb::ClusterAccess &change) = 0;
    // Whether lock, protection and roles come from the log (a cluster), not from the directory.
    virtual bool governsAccess() const { return false; }
    // Deletes the wall after the ops sequenced on it so far; its members are told as the deletion
    // takes effect (WallServer::forgetDeletedRoom). A problem returned: it was not deleted.
    virtual std::optional<Problem> deleteWall(Room *room, Session *by) = 0;
    // Stores a snapshot if enough ops came since the last one; `closing`: the server stops, and
    // any op since is worth keeping in one.
    virtual void storeSnapshotIfDue(Room *room, bool closing) = 0;
    // Blocks until what was sequenced so far is stored and landed, where that can be waited for
    // here. False if storage refused any of it.
    virtual bool flush() { return true; }
    // Whether the last write to storage succeeded, and if not why.
    virtual bool healthy() const = 0;
    virtual QString lastError() const = 0;

    // Runs `run` once every op sequenced on `room` so far has landed (at once if none is in
    // flight), on this thread; `sameState` is false when the wall was reloaded, marked
    // unavailable or deleted meanwhile.
    void whenStored(Room *room, std::function<void(bool sameState)> run);
    // The same for the op at `seq`.
    void whenLanded(Room *room, std::uint64_t seq, std::function<void(bool sameState)> run);
    // Each load of a wall gets a new epoch (Room::epoch): work begun on an older one is stale.
    std::uint64_t newEpoch() { return ++m_epochs; }

protected:
    // Runs the waiters whose ops landed (or whose wall moved on): call after each landing.
    void runWaiters();
    // The wall is gone: its waiters are told so.
    void dropWaiters(const Room *room);

    WallServer &m_server;

private:
    struct Waiter
    {
        Room *room;
        std::uint64_t epoch;
        std::uint64_t seq;
        std::function<void(bool)> run;
    };
    std::vector<Waiter> m_waiters;
    std::uint64_t m_epochs = 0;
};

// The wall's lock, protection and roles as they stand, all of them (a snapshot's).
pb::ClusterAccess governingAccess(const Room &room);
// Applies what `change` holds to the wall's lock, protection and roles.
void applyAccess(Room *room, const pb::ClusterAccess &change);

} // namespace scrawl
