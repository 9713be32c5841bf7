#include "server/sqlitewalllog.h"

#include "core/limits.h"
#include "server/imagestore.h"
#include "server/session.h"
#include "server/wallserver.h"
#include "server/wsconnection.h"

#include <QElapsedTimer>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcServer)

namespace scrawl {

namespace {

Problem notStored()
{
    return {pb::STORAGE_UNAVAILABLE,
            QStringLiteral("The server could not store your change (storage error); it was not "
                           "applied. Try again later."),
            {}};
}

} // namespace

SqliteWallLog::SqliteWallLog(WallServer &server, Storage &storage)
    : WallLog(server)
    , m_storage(storage)
{
}

SqliteWallLog::~SqliteWallLog() = default;

void SqliteWallLog::close()
{
    flush();
}

bool SqliteWallLog::load(Room *room)
{
    QElapsedTimer timer;
    timer.start();
    WallModel model;
    std::uint64_t snapshotSeq = 0;
    qsizetype snapshotBytes = 0;
    std::uint64_t opBytes = 0;
    if (auto bytes = m_storage.latestSnapshot(room->wallId)) {
        pb::WallSnapshot snap;
        if (snap.ParseFromArray(bytes->constData(), int(bytes->size())) && !model.load(snap)) {
            snapshotSeq = snap.seq();
            snapshotBytes = bytes->size();
        } else {
            qCWarning(lcServer) << "wall" << room->name << "has a damaged snapshot; replaying ops";
        }
        if (!snapshotSeq)
            model = WallModel();
    }
    model.setCapacity(m_server.options().wallCapacity);
    model.setKeepsSnapshotPaths(true);
    // Replay what came after the snapshot, in pages so memory stays bounded.
    std::uint64_t after = snapshotSeq;
    for (;;) {
        std::vector<pb::Op> ops;
        if (!m_storage.opsAfter(room->wallId, after, 5000, &ops))
            return false;
        if (ops.empty())
            break;
        for (const pb::Op &op : ops) {
            model.apply(op);
            opBytes += op.ByteSizeLong();
        }
        after = ops.back().seq();
    }
    room->model = std::move(model);
    room->epoch = newEpoch();
    room->committedSeq = room->model.seq();
    room->storedSnapshotSeq = snapshotSeq;
    room->storedSnapshotBytes = snapshotBytes;
    room->opBytesSinceSnapshot = opBytes;
    room->snapshotCacheSeq = ~std::uint64_t(0);
    room->dropSnapshotWrite();
    room->lastClientOp.clear();
    for (const auto &[author, id] : m_storage.lastClientOpIds(room->wallId))
        room->lastClientOp[author] = id;
    qCInfo(lcServer) << "loaded wall" << room->name << "at seq" << room->model.seq() << "in"
                     << timer.elapsed() << "ms";
    return true;
}

bool SqliteWallLog::holdsWork(const Room *room) const
{
    return room->uncommittedOps > 0 || room->snapshotWrite || WallLog::holdsWork(room);
}

std::optional<Problem> SqliteWallLog::append(Room *room, Session *origin, pb::Op op, Appended appended)
{
    if (m_uncommittedBytes >= m_server.options().maxUncommittedBytes)
        return Problem{pb::STORAGE_UNAVAILABLE,
                       QStringLiteral("The server is waiting for its disk: %1 MiB of changes wait to "
                                      "be stored (limit %2); this one was not applied, send it again "
                                      "in a moment.")
                           .arg(double(m_uncommittedBytes) / (1024 * 1024), 0, 'f', 1)
                           .arg(QLatin1String(limits::kMaxUncommittedBytesName)),
                       QString::fromLatin1(limits::kMaxUncommittedBytesName)};
    // Its turn is now: checked against the wall as sequenced so far.
    const std::uint64_t author = origin ? origin->userId() : 0;
    if (auto problem = m_server.checkAtTurn(room, author, op))
        return problem;
    if (auto problem = m_server.checkUploaded(room, op))
        return problem;

    WallServer::stamp(origin, &op);
    op.set_seq(room->model.seq() + 1);
    room->model.apply(op);
    if (origin)
        room->lastClientOp[author] = op.client_op_id();
    ++room->uncommittedOps;
    const std::uint64_t bytes = op.ByteSizeLong();
    m_uncommittedBytes += bytes;
    // Reading stops before this op's broadcast would take the backlog past its bound (WsHub):
    // what it will queue counts from now until it is broadcast.
    const qint64 fanout = qint64(bytes + 8) * qint64(room->members.size());
    m_pendingFanoutBytes += fanout;
    m_server.wsHub()->setPendingBytes(m_pendingFanoutBytes);
    const std::uint64_t seq = op.seq();
    m_pending.push_back({room, std::move(op), origin, room->epoch, bytes, fanout});
    scheduleFlush();
    if (appended)
        appended(seq, std::nullopt);
    return std::nullopt;
}

std::optional<Problem> SqliteWallLog::answerResend(Room *room, Session *session, const pb::Op &op)
{
    const std::uint64_t author = session->userId();
    if (auto stored = m_storage.findOp(room->wallId, author, op.client_op_id())) {
        pb::Envelope env;
        *env.mutable_op() = std::move(*stored);
        session->send(serialize(env));
        return std::nullopt;
    }
    // Never sent (a client that skipped ids), or stored longer ago than a resend can be:
    // either way it is not applied again.
    const auto last = room->lastClientOp.find(author);
    return Problem{pb::INVALID_OP,
                   QStringLiteral("Op %1 is not above your newest stored op (%2) and is not among "
                                  "the wall's last %3 changes (%4); it is not applied again.")
                       .arg(op.client_op_id())
                       .arg(last == room->lastClientOp.end() ? 0 : last->second)
                       .arg(limits::kResendLookbackOps)
                       .arg(QLatin1String(limits::kResendLookbackOpsName)),
                   QString::fromLatin1(limits::kResendLookbackOpsName)};
}

bool SqliteWallLog::opsAfter(Room *room, std::uint64_t afterSeq, int limit, std::vector<pb::Op> *out)
{
    return m_storage.opsAfter(room->wallId, afterSeq, limit, out);
}

bool SqliteWallLog::chatBefore(const QString &, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                               std::vector<pb::Op> *out)
{
    return m_storage.chatBefore(wallId, beforeSeq, limit, out);
}

bool SqliteWallLog::chatAfter(const QString &, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                              std::vector<pb::Op> *out)
{
    return m_storage.chatAfter(wallId, afterSeq, limit, out);
}

std::optional<Problem> SqliteWallLog::changeAccess(Room *room, Session *, const pb::ClusterAccess &change)
{
    // Stored now and in force from the next op sequenced: on one server that is its place in
    // the order.
    if (change.has_locked() || change.has_protected_work()) {
        WallAccess access = room->access;
        if (change.has_locked())
            access.locked = change.locked();
        if (change.has_protected_work())
            access.protectedWork = change.protected_work();
        if (!m_storage.saveWallAccess(room->wallId, access))
            return Problem{pb::STORAGE_UNAVAILABLE,
                           change.has_locked()
                               ? QStringLiteral("The server could not store the lock; try again later.")
                               : QStringLiteral("The server could not store the protection; try again later."),
                           {}};
    }
    for (const pb::ClusterRole &r : change.roles()) {
        const pb::Role role = pb::Role_IsValid(r.role()) ? pb::Role(r.role()) : pb::ROLE_MEMBER;
        if (!m_storage.setRole(room->wallId, r.user(), role))
            return Problem{pb::STORAGE_UNAVAILABLE,
                           QStringLiteral("The server could not store the role; try again later."), {}};
    }
    applyAccess(room, change);
    m_server.broadcastWallState(room);
    return std::nullopt;
}

std::optional<Problem> SqliteWallLog::deleteWall(Room *room, Session *)
{
    // Nothing of the wall may be written after its rows are gone.
    flush();
    if (!m_storage.deleteWall(room->wallId))
        return Problem{pb::STORAGE_UNAVAILABLE,
                       QStringLiteral("The server could not delete the wall (storage error); try "
                                      "again later."),
                       {}};
    m_server.forgetDeletedRoom(room);
    return std::nullopt;
}

void SqliteWallLog::scheduleFlush()
{
    if (m_flushScheduled || !m_inFlight.empty())
        return; // a batch in flight: the next one goes when it lands
    m_flushScheduled = true;
    // Group commit: everything sequenced in this event-loop pass goes in one transaction.
    QMetaObject::invokeMethod(this, [this] { sendBatch(); }, Qt::QueuedConnection);
}

void SqliteWallLog::sendBatch()
{
    m_flushScheduled = false;
    if (m_pending.empty() || !m_inFlight.empty())
        return;
    std::vector<Pending> &batch = m_inFlight.emplace_back();
    batch.swap(m_pending);
    std::vector<PendingOp> rows;
    rows.reserve(batch.size());
    for (const Pending &p : batch)
        rows.push_back({p.room->wallId, &p.op, p.epoch});
    // On the commit thread: hand the result over to this one.
    m_storage.appendOpsAsync(std::move(rows), [this](bool ok, const QString &error) {
        bool post = false;
        {
            std::lock_guard lock(m_landedMutex);
            m_landed.push_back({ok, error});
            post = !std::exchange(m_landedPosted, true);
        }
        if (post)
            QMetaObject::invokeMethod(this, [this] { processLanded(); }, Qt::QueuedConnection);
    });
}

bool SqliteWallLog::flush()
{
    if (m_processingLanded) {
        qCWarning(lcServer) << "flush() while broadcasting a landed batch: not waiting";
        return true;
    }
    m_flushScheduled = false;
    bool ok = true;
    while (!m_pending.empty() || !m_inFlight.empty()) {
        sendBatch();
        m_storage.waitForCommits();
        ok &= processLanded(); // sends the next batch, if any
    }
    return ok;
}

bool SqliteWallLog::processLanded()
{
    if (m_processingLanded)
        return true;
    m_processingLanded = true;
    bool ok = true;
    for (;;) {
        Landed result;
        {
            std::lock_guard lock(m_landedMutex);
            if (m_landed.empty()) {
                m_landedPosted = false;
                break;
            }
            result = std::move(m_landed.front());
            m_landed.pop_front();
        }
        if (m_inFlight.empty()) {
            qCCritical(lcServer) << "a commit landed that was not in flight";
            continue;
        }
        std::vector<Pending> batch = std::move(m_inFlight.front());
        m_inFlight.pop_front();
        ok &= landBatch(batch, result.ok, result.error);
        runWaiters();
        // What gathered while this batch committed goes now.
        sendBatch();
    }
    m_processingLanded = false;
    for (Room *room : m_server.loadedRooms())
        storeSnapshotIfDue(room, false);
    commitSnapshotHeads();
    return ok;
}

void SqliteWallLog::forgetPending(const Pending &p)
{
    --p.room->uncommittedOps;
    m_uncommittedBytes -= p.bytes;
    m_pendingFanoutBytes -= p.fanout;
}

void SqliteWallLog::refuse(const Pending &p)
{
    if (p.origin)
        p.origin->refuse(notStored(), p.op.client_op_id());
}

bool SqliteWallLog::landBatch(std::vector<Pending> &batch, bool ok, const QString &error)
{
    for (const Pending &p : batch)
        forgetPending(p);
    m_server.wsHub()->setPendingBytes(m_pendingFanoutBytes);
    if (!ok) {
        // Nothing of this batch is stored, so nothing of it may be acknowledged: put every
        // touched wall back to what storage holds and tell the authors.
        m_healthy = false;
        qCWarning(lcServer) << "storage refused" << batch.size() << "ops:" << error;
        std::vector<Room *> reload;
        for (const Pending &p : batch) {
            // A wall reloaded since (after an earlier refused batch) already holds what
            // storage holds.
            if (p.epoch == p.room->epoch
                && std::find(reload.begin(), reload.end(), p.room) == reload.end())
                reload.push_back(p.room);
            refuse(p);
        }
        for (Room *r : reload) {
            if (!load(r))
                m_server.markUnavailable(r);
        }
        // Ops sequenced on those walls while this batch committed were built on it: refused
        // with it.
        std::erase_if(m_pending, [this](const Pending &p) {
            if (p.epoch == p.room->epoch)
                return false;
            forgetPending(p);
            refuse(p);
            return true;
        });
        m_server.wsHub()->setPendingBytes(m_pendingFanoutBytes);
        return false;
    }
    m_healthy = true;
    for (Pending &p : batch) {
        p.room->committedSeq = p.op.seq();
        m_server.landed(p.room, std::move(p.op));
    }
    // Corked: each member's share of this batch leaves in one write, now.
    m_server.wsHub()->flush();
    return true;
}

// A stored snapshot bounds what a restart replays. It waits for snapshotEveryOps ops *and* for
// as many bytes of ops as the last snapshot weighed: a restart replays at most about one
// snapshot's worth of ops, and a big wall in heavy use is not rewritten every few seconds
// (snapshot writes never outweigh the ops). It is built here and stored on the commit thread,
// a part per turn between op batches: a disk that stalls while it is written holds up no
// client. `closing` (shutting down) stores it whole, now.
void SqliteWallLog::storeSnapshotIfDue(Room *room, bool closing)
{
    const std::uint64_t since = room->model.seq() - room->storedSnapshotSeq;
    if (since == 0)
        return;
    if (!closing
        && (room->snapshotWrite
            || since < std::uint64_t(m_server.options().snapshotEveryOps)
            || room->opBytesSinceSnapshot < std::uint64_t(room->storedSnapshotBytes)))
        return;
    room->dropSnapshotWrite(); // a newer one replaces it
    Room::SnapshotWrite write;
    write.sinceStart.start();
    write.id = ++m_snapshotWrites;
    write.bytes = room->snapshotBytes(); // shared, not copied: a rebuild detaches the cache
    write.seq = room->model.seq();
    write.opBytesAtStart = room->opBytesSinceSnapshot;
    write.buildNs = write.sinceStart.nsecsElapsed();
    room->snapshotWrite = std::move(write);
    Room::SnapshotWrite &now = *room->snapshotWrite;
    if (closing) {
        m_storage.waitForCommits(); // nothing of an earlier write is still being written
        if (m_storage.saveSnapshot(room->wallId, now.seq, now.bytes))
            storedSnapshot(room, now.sinceStart.nsecsElapsed() - now.buildNs);
        else
            room->dropSnapshotWrite();
        return;
    }
    now.cancel = std::make_shared<std::atomic<bool>>(false);
    m_storage.saveSnapshotPartsAsync(
        room->wallId, now.bytes, now.cancel,
        [this, wallId = room->wallId, id = now.id](bool ok, const QString &error) {
            QMetaObject::invokeMethod(
                this, [this, wallId, id, ok, error] { snapshotPartsStored(wallId, id, ok, error); },
                Qt::QueuedConnection);
        });
}

Room *SqliteWallLog::roomOfSnapshotWrite(std::int64_t wallId, std::uint64_t id)
{
    for (Room *room : m_server.loadedRooms()) {
        if (room->wallId == wallId)
            return room->snapshotWrite && room->snapshotWrite->id == id ? room : nullptr;
    }
    return nullptr; // deleted or unloaded meanwhile
}

void SqliteWallLog::snapshotPartsStored(std::int64_t wallId, std::uint64_t id, bool ok, const QString &error)
{
    Room *room = roomOfSnapshotWrite(wallId, id);
    if (!room)
        return; // dropped meanwhile
    if (!ok) {
        // Tried again once as many bytes of ops again have come (not after every batch).
        qCWarning(lcServer) << "could not store the snapshot of wall" << room->name << ":" << error;
        room->opBytesSinceSnapshot = 0;
        room->dropSnapshotWrite();
        return;
    }
    room->snapshotWrite->partsStored = true;
    commitSnapshotHeads();
}

// A snapshot may show ops still being committed: it becomes the wall's only once they landed
// (processLanded calls this again then). A refused commit reloads the wall, which drops it.
void SqliteWallLog::commitSnapshotHeads()
{
    for (Room *room : m_server.loadedRooms()) {
        Room::SnapshotWrite *write = room->snapshotWrite ? &*room->snapshotWrite : nullptr;
        if (!write || !write->partsStored || write->headQueued || room->committedSeq < write->seq)
            continue;
        write->headQueued = true;
        m_storage.commitSnapshotAsync(
            room->wallId, write->seq, Storage::snapshotParts(write->bytes.size()), write->bytes.size(),
            [this, wallId = room->wallId, id = write->id](bool ok, const QString &error) {
                QMetaObject::invokeMethod(
                    this, [this, wallId, id, ok, error] { snapshotHeadStored(wallId, id, ok, error); },
                    Qt::QueuedConnection);
            });
    }
}

void SqliteWallLog::snapshotHeadStored(std::int64_t wallId, std::uint64_t id, bool ok, const QString &error)
{
    Room *room = roomOfSnapshotWrite(wallId, id);
    if (!room)
        return;
    if (!ok) {
        qCWarning(lcServer) << "could not store the snapshot of wall" << room->name << ":" << error;
        room->opBytesSinceSnapshot = 0;
        room->dropSnapshotWrite();
        return;
    }
    storedSnapshot(room, room->snapshotWrite->sinceStart.nsecsElapsed() - room->snapshotWrite->buildNs);
}

void SqliteWallLog::storedSnapshot(Room *room, qint64 writeNs)
{
    const Room::SnapshotWrite &write = *room->snapshotWrite;
    qCInfo(lcServer).nospace() << "snapshot of wall " << room->name << " at seq " << write.seq
                               << ": " << write.bytes.size() << " bytes, built in "
                               << write.buildNs / 1e6 << " ms, stored " << writeNs / 1e6
                               << " ms later (" << Storage::snapshotParts(write.bytes.size())
                               << " parts)";
    room->storedSnapshotSeq = write.seq;
    room->storedSnapshotBytes = write.bytes.size();
    room->opBytesSinceSnapshot -= std::min(room->opBytesSinceSnapshot, write.opBytesAtStart);
    room->snapshotWrite.reset();
}

} // namespace scrawl
