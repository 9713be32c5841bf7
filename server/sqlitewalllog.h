#pragma once

// One server's wall log: the order is decided here and kept in the SQLite file (server/walllog.h
// says what a wall log does).
//
// An op is checked and sequenced as it comes (its seq the wall's next, applied to the wall in
// memory at once, so that the next op is checked against it), then committed on the storage's
// commit thread: a batch at a time, the next one gathering while one commits (group commit).
// When a batch's commit lands, its ops go to the members, in order. A refused commit acknowledges
// nothing: every wall it touched is read back from storage (WallServer::markUnavailable if that
// fails too) and its authors are told.
//
// Snapshots bound what loading a wall replays: built here, stored on the commit thread a part per
// turn between op batches, and made the wall's once every op they show is committed.

#include "server/storage.h"
#include "server/walllog.h"

#include <QPointer>

#include <deque>
#include <mutex>

namespace scrawl {

class SqliteWallLog : public WallLog
{
    Q_OBJECT

public:
    SqliteWallLog(WallServer &server, Storage &storage);
    ~SqliteWallLog() override;

    void close() override;
    bool load(Room *room) override;
    bool holdsWork(const Room *room) const override;
    std::optional<Problem> append(Room *room, Session *origin, pb::Op op, Appended appended = {}) override;
    std::optional<Problem> answerResend(Room *room, Session *session, const pb::Op &op) override;
    bool opsAfter(Room *room, std::uint64_t afterSeq, int limit, std::vector<pb::Op> *out) override;
    bool chatBefore(const QString &wall, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                    std::vector<pb::Op> *out) override;
    bool chatAfter(const QString &wall, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                   std::vector<pb::Op> *out) override;
    std::optional<Problem> changeAccess(Room *room, Session *by, const pb::ClusterAccess &change) override;
    std::optional<Problem> deleteWall(Room *room, Session *by) override;
    void storeSnapshotIfDue(Room *room, bool closing) override;
    // Commits what is queued now and waits (blocking this thread) until every commit in flight
    // has landed and been broadcast.
    bool flush() override;
    bool healthy() const override { return m_healthy; }
    QString lastError() const override { return m_storage.lastError(); }

private:
    struct Pending
    {
        Room *room;
        pb::Op op;
        QPointer<Session> origin;
        std::uint64_t epoch = 0; // room->epoch when it was sequenced
        std::uint64_t bytes = 0; // its serialised size, counted in m_uncommittedBytes
        qint64 fanout = 0;       // what its broadcast will queue, counted in m_pendingFanoutBytes
    };
    struct Landed
    {
        bool ok;
        QString error;
    };

    void scheduleFlush();
    // Hands what is queued to the commit thread as one batch, unless a batch is in flight (it
    // goes when that one lands).
    void sendBatch();
    // Broadcasts (or refuses) the batches whose commits landed, in order. False if any was refused.
    bool processLanded();
    bool landBatch(std::vector<Pending> &batch, bool ok, const QString &error);
    // Takes an op out of what waits for a commit, and tells its author it was refused.
    void refuse(const Pending &p);
    void forgetPending(const Pending &p);
    // The commit thread's answers about snapshot write `id` of the wall `wallId`.
    void snapshotPartsStored(std::int64_t wallId, std::uint64_t id, bool ok, const QString &error);
    void snapshotHeadStored(std::int64_t wallId, std::uint64_t id, bool ok, const QString &error);
    // Queues the head of each snapshot whose parts are stored and whose ops are all committed.
    void commitSnapshotHeads();
    Room *roomOfSnapshotWrite(std::int64_t wallId, std::uint64_t id);
    void storedSnapshot(Room *room, qint64 writeNs);

    Storage &m_storage;
    std::vector<Pending> m_pending;
    // The batch being committed (at most one; a deque so that its ops never move).
    std::deque<std::vector<Pending>> m_inFlight;
    // Results from the commit thread, taken by processLanded on this thread.
    std::mutex m_landedMutex;
    std::deque<Landed> m_landed;
    bool m_landedPosted = false;
    bool m_processingLanded = false;
    bool m_flushScheduled = false;
    // Serialised bytes of the ops in m_pending and m_inFlight (ServerOptions::maxUncommittedBytes).
    std::uint64_t m_uncommittedBytes = 0;
    // Bytes the ops not yet broadcast (pending and in flight) will put in members' queues
    // (WsHub's backlog).
    qint64 m_pendingFanoutBytes = 0;
    std::uint64_t m_snapshotWrites = 0;
    bool m_healthy = true;
};

} // namespace scrawl
