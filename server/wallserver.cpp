#include "server/wallserver.h"

#include "server/httpfront.h"
#include "server/session.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QStandardPaths>
#include <QWebSocket>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

Q_LOGGING_CATEGORY(lcServer, "scrawl.server", QtInfoMsg)

namespace scrawl {

namespace {

constexpr TextRules kWallNameRules{"wall name", limits::kMaxWallNameChars,
                                   limits::kMaxWallNameCharsName, false, false};

// Serialises Envelope{joined: J} where J is `joined` plus a snapshot given as bytes, without
// copying the snapshot into a message first: a protobuf message is the concatenation of its
// fields, so the snapshot field can be appended to the serialised rest.
QByteArray joinedWithSnapshot(const pb::Joined &joined, const QByteArray &snapshot)
{
    using google::protobuf::io::CodedOutputStream;
    constexpr int kSnapshotField = pb::Joined::kSnapshotFieldNumber;
    const size_t restSize = joined.ByteSizeLong();
    const size_t snapFieldSize = CodedOutputStream::VarintSize32((kSnapshotField << 3) | 2)
                               + CodedOutputStream::VarintSize64(std::uint64_t(snapshot.size()))
                               + size_t(snapshot.size());
    const size_t joinedSize = restSize + snapFieldSize;
    const size_t total = CodedOutputStream::VarintSize32((pb::Envelope::kJoinedFieldNumber << 3) | 2)
                       + CodedOutputStream::VarintSize64(joinedSize) + joinedSize;
    QByteArray out;
    out.resize(qsizetype(total));
    auto *p = reinterpret_cast<std::uint8_t *>(out.data());
    p = CodedOutputStream::WriteVarint32ToArray((pb::Envelope::kJoinedFieldNumber << 3) | 2, p);
    p = CodedOutputStream::WriteVarint64ToArray(joinedSize, p);
    p = joined.SerializeWithCachedSizesToArray(p);
    p = CodedOutputStream::WriteVarint32ToArray((kSnapshotField << 3) | 2, p);
    p = CodedOutputStream::WriteVarint64ToArray(std::uint64_t(snapshot.size()), p);
    memcpy(p, snapshot.constData(), size_t(snapshot.size()));
    return out;
}

} // namespace

const QByteArray &Room::snapshotBytes()
{
    if (snapshotCacheSeq != model.seq()) {
        const pb::WallSnapshot snap = model.snapshot();
        snapshotCache.resize(qsizetype(snap.ByteSizeLong()));
        snap.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t *>(snapshotCache.data()));
        snapshotCacheSeq = model.seq();
    }
    return snapshotCache;
}

WallServer::WallServer(ServerOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{
    if (m_options.dataDir.isEmpty())
        m_options.dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    connect(&m_liveness, &QTimer::timeout, this, &WallServer::checkLiveness);
}

WallServer::~WallServer()
{
    stop();
}

bool WallServer::start(QString *error)
{
    m_storage = makeSqliteStorage(m_options.dataDir);
    if (!m_storage->open(error))
        return false;
    m_http = new HttpFront(this);
    m_port = m_http->listenOn(m_options.host, m_options.port);
    if (m_port == 0) {
        *error = QStringLiteral("Cannot listen on port %1: %2. Pick another port with --port, or "
                                "--port 0 for any free one.")
                     .arg(m_options.port)
                     .arg(m_http->listenError());
        return false;
    }
    m_liveness.start(m_options.pingIntervalMs);
    qCInfo(lcServer) << "serving on port" << m_port << "data in" << m_options.dataDir;
    return true;
}

void WallServer::stop()
{
    if (!m_storage)
        return;
    flush();
    for (auto &[name, room] : m_rooms)
        storeSnapshotIfDue(room.get(), true);
    const auto sessions = m_sessions;
    for (Session *s : sessions)
        s->fail({pb::SHUTTING_DOWN, QStringLiteral("The server is shutting down; reconnect in a "
                                                   "moment."), {}});
    m_sessions.clear();
    m_rooms.clear();
    delete m_http;
    m_http = nullptr;
    m_liveness.stop();
    m_storage->close();
    m_storage.reset();
}

QUrl WallServer::url() const
{
    QUrl url;
    url.setScheme(QStringLiteral("ws"));
    const bool any = m_options.host == QHostAddress::Any || m_options.host == QHostAddress::AnyIPv4
                  || m_options.host == QHostAddress::AnyIPv6;
    url.setHost(any ? QStringLiteral("127.0.0.1") : m_options.host.toString());
    url.setPort(m_port);
    return url;
}

std::uint64_t WallServer::headSeq(const QString &wall)
{
    Problem p;
    Room *r = room(wall, false, &p);
    return r ? r->model.seq() : 0;
}

std::vector<Room *> WallServer::loadedRooms() const
{
    std::vector<Room *> out;
    for (const auto &[name, room] : m_rooms)
        out.push_back(room.get());
    return out;
}

Room *WallServer::room(const QString &name, bool create, Problem *problem)
{
    if (auto it = m_rooms.find(name); it != m_rooms.end())
        return it->second.get();
    std::optional<StoredWall> stored = m_storage->findWall(name);
    if (!stored && !create) {
        *problem = {pb::INVALID_OP, QStringLiteral("There is no wall named \"%1\".").arg(name), {}};
        return nullptr;
    }
    if (!stored)
        stored = m_storage->createWall(name);
    if (!stored) {
        *problem = {pb::STORAGE_UNAVAILABLE,
                    QStringLiteral("The server cannot create the wall right now (storage "
                                   "error); try again later."),
                    {}};
        return nullptr;
    }
    auto room = std::make_unique<Room>();
    room->name = name;
    room->wallId = stored->id;
    if (!reloadRoom(room.get())) {
        *problem = {pb::STORAGE_UNAVAILABLE,
                    QStringLiteral("The server cannot read the wall right now (storage error); "
                                   "try again later."),
                    {}};
        return nullptr;
    }
    Room *raw = room.get();
    m_rooms.emplace(name, std::move(room));
    return raw;
}

bool WallServer::reloadRoom(Room *room)
{
    QElapsedTimer timer;
    timer.start();
    WallModel model;
    std::uint64_t snapshotSeq = 0;
    if (auto bytes = m_storage->latestSnapshot(room->wallId)) {
        pb::WallSnapshot snap;
        if (snap.ParseFromArray(bytes->constData(), int(bytes->size())) && !model.load(snap))
            snapshotSeq = snap.seq();
        else
            qCWarning(lcServer) << "wall" << room->name << "has a damaged snapshot; replaying ops";
        if (!snapshotSeq)
            model = WallModel();
    }
    model.setCapacity(m_options.wallCapacity);
    // Replay what came after the snapshot, in pages so memory stays bounded.
    std::uint64_t after = snapshotSeq;
    for (;;) {
        std::vector<pb::Op> ops;
        if (!m_storage->opsAfter(room->wallId, after, 5000, &ops))
            return false;
        if (ops.empty())
            break;
        for (const pb::Op &op : ops)
            model.apply(op);
        after = ops.back().seq();
    }
    room->model = std::move(model);
    room->committedSeq = room->model.seq();
    room->storedSnapshotSeq = snapshotSeq;
    room->snapshotCacheSeq = ~std::uint64_t(0);
    room->lastClientOp.clear();
    for (const auto &[author, id] : m_storage->lastClientOpIds(room->wallId))
        room->lastClientOp[author] = id;
    qCInfo(lcServer) << "loaded wall" << room->name << "at seq" << room->model.seq() << "in"
                     << timer.elapsed() << "ms";
    return true;
}

void WallServer::adopt(QWebSocket *socket)
{
    auto *session = new Session(socket, this);
    m_sessions.push_back(session);
}

void WallServer::forget(Session *session)
{
    leave(session);
    std::erase(m_sessions, session);
}

void WallServer::join(Session *session, const pb::Join &join)
{
    QString name;
    if (auto p = decodeText(join.wall(), kWallNameRules, &name)) {
        session->refuse(*p);
        return;
    }
    name = name.trimmed();
    Problem problem;
    Room *r = room(name, true, &problem);
    if (!r) {
        session->refuse(problem);
        return;
    }
    if (session->room() != r && int(r->members.size()) >= limits::kMaxClientsPerWall) {
        session->refuse(limitProblem(limits::kMaxClientsPerWallName,
                                     QStringLiteral("The wall \"%1\" already has %2 people (limit "
                                                    "%3); try again later.")
                                         .arg(name)
                                         .arg(r->members.size())
                                         .arg(QLatin1String(limits::kMaxClientsPerWallName))));
        return;
    }
    if (session->room() && session->room() != r)
        leave(session);
    // The joiner must see a wall that storage holds: commit what is queued first.
    flush();

    pb::Joined joined;
    joined.set_wall(toWire(name));
    joined.set_head_seq(r->model.seq());
    joined.set_wall_full(r->model.isFull());
    if (session->room() != r) {
        r->members.push_back(session);
        session->setRoom(r);
        pb::Envelope presence;
        *presence.mutable_presence()->mutable_member() = session->member();
        presence.mutable_presence()->set_online(true);
        broadcast(r, serialize(presence), session);
    }
    for (Session *m : r->members)
        *joined.add_members() = m->member();

    // Ops since last_seq, unless they would weigh more than the snapshot.
    const std::uint64_t lastSeq = join.last_seq();
    bool useSnapshot = lastSeq == 0 || lastSeq > r->model.seq();
    if (!useSnapshot && lastSeq < r->model.seq()) {
        const qsizetype budget = r->snapshotBytes().size();
        qsizetype used = 0;
        std::uint64_t after = lastSeq;
        while (!useSnapshot && after < r->model.seq()) {
            std::vector<pb::Op> ops;
            if (!m_storage->opsAfter(r->wallId, after, 2000, &ops) || ops.empty()) {
                useSnapshot = true;
                break;
            }
            for (pb::Op &op : ops) {
                used += qsizetype(op.ByteSizeLong());
                if (used > budget) {
                    useSnapshot = true;
                    break;
                }
                after = op.seq();
                *joined.add_ops() = std::move(op);
            }
        }
        if (useSnapshot)
            joined.clear_ops();
    }
    if (!useSnapshot) {
        session->send(serialize([&] {
            pb::Envelope env;
            *env.mutable_joined() = std::move(joined);
            return env;
        }()));
        return;
    }
    std::vector<pb::Op> chat;
    m_storage->chatBefore(r->wallId, 0, limits::kRecentChatOnJoin, &chat);
    for (auto it = chat.rbegin(); it != chat.rend(); ++it)
        *joined.add_recent_chat() = std::move(*it);
    session->send(joinedWithSnapshot(joined, r->snapshotBytes()));
}

void WallServer::leave(Session *session)
{
    Room *r = session->room();
    if (!r)
        return;
    session->setRoom(nullptr);
    std::erase(r->members, session);
    pb::Envelope presence;
    *presence.mutable_presence()->mutable_member() = session->member();
    presence.mutable_presence()->set_online(false);
    broadcast(r, serialize(presence));
}

std::optional<Problem> WallServer::submit(Room *room, Session *session, pb::Op op)
{
    const std::uint64_t author = session ? session->userId() : 0;
    if (isSessionOnlyUser(author))
        return Problem{pb::STORAGE_UNAVAILABLE,
                       QStringLiteral("The server could not store your identity when you "
                                      "connected (storage error); reconnect, then send this again."),
                       {}};
    if (session && op.client_op_id() == 0)
        return Problem{pb::INVALID_OP,
                       QStringLiteral("Every op needs a client op id above 0; number your ops."),
                       {}};
    if (session) {
        const auto last = room->lastClientOp.find(author);
        if (last != room->lastClientOp.end() && op.client_op_id() <= last->second) {
            // A resend after a reconnect: answer with the stored op, apply nothing.
            flush();
            if (auto stored = m_storage->findOp(room->wallId, author, op.client_op_id())) {
                pb::Envelope env;
                *env.mutable_op() = std::move(*stored);
                session->send(serialize(env));
                return std::nullopt;
            }
            return Problem{pb::INVALID_OP,
                           QStringLiteral("Op %1 is older than your last stored op and was not "
                                          "stored; it is dropped.")
                               .arg(op.client_op_id()),
                           {}};
        }
    }
    if (auto problem = room->model.check(op, author))
        return problem;

    op.set_seq(room->model.seq() + 1);
    op.set_author(author);
    // A stroke's time is its begin's; the batches in between go without one (7 bytes each, a
    // quarter of a small batch on the wire).
    if (!op.has_stroke_points())
        op.set_time_ms(QDateTime::currentMSecsSinceEpoch());
    if (op.has_chat() && session) {
        op.mutable_chat()->set_author_name(toWire(session->name()));
        op.mutable_chat()->set_author_color(session->color());
    }
    room->model.apply(op);
    if (session)
        room->lastClientOp[author] = op.client_op_id();
    m_pending.push_back({room, std::move(op), session});
    scheduleFlush();
    return std::nullopt;
}

void WallServer::scheduleFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    // Group commit: everything sequenced in this event-loop pass goes in one transaction.
    QMetaObject::invokeMethod(this, [this] { flush(); }, Qt::QueuedConnection);
}

bool WallServer::flush()
{
    m_flushScheduled = false;
    if (m_pending.empty())
        return true;
    std::vector<Pending> batch;
    batch.swap(m_pending);
    std::vector<PendingOp> rows;
    rows.reserve(batch.size());
    for (const Pending &p : batch)
        rows.push_back({p.room->wallId, &p.op});

    if (!m_storage->appendOps(rows)) {
        // Nothing of this batch is stored, so nothing of it may be acknowledged: put every
        // touched wall back to what storage holds and tell the authors.
        m_storageHealthy = false;
        qCWarning(lcServer) << "storage refused" << batch.size() << "ops:" << m_storage->lastError();
        std::vector<Room *> touched;
        for (const Pending &p : batch) {
            if (std::find(touched.begin(), touched.end(), p.room) == touched.end())
                touched.push_back(p.room);
            if (p.origin)
                p.origin->refuse({pb::STORAGE_UNAVAILABLE,
                                  QStringLiteral("The server could not store your change "
                                                 "(storage error); it was not applied. Try "
                                                 "again later."),
                                  {}},
                                 p.op.client_op_id());
        }
        for (Room *r : touched)
            reloadRoom(r);
        return false;
    }
    m_storageHealthy = true;
    for (Pending &p : batch) {
        p.room->committedSeq = p.op.seq();
        pb::Envelope env;
        *env.mutable_op() = std::move(p.op);
        // Serialised once; the same bytes go to every member, sender included (its ack).
        broadcast(p.room, serialize(env));
        emit opCommitted(p.room->name, p.room->committedSeq);
    }
    for (auto &[name, room] : m_rooms)
        storeSnapshotIfDue(room.get(), false);
    return true;
}

void WallServer::storeSnapshotIfDue(Room *room, bool force)
{
    const std::uint64_t since = room->model.seq() - room->storedSnapshotSeq;
    if (since == 0 || (!force && since < std::uint64_t(m_options.snapshotEveryOps)))
        return;
    if (m_storage->saveSnapshot(room->wallId, room->model.seq(), room->snapshotBytes()))
        room->storedSnapshotSeq = room->model.seq();
}

void WallServer::broadcast(Room *room, const QByteArray &bytes, Session *except)
{
    // Copy: a send may disconnect a slow reader, which edits the member list.
    const std::vector<Session *> members = room->members;
    for (Session *s : members) {
        if (s != except)
            s->send(bytes);
    }
}

void WallServer::relayCursor(Session *session, pb::Cursor cursor)
{
    if (!isValidCoordinate(cursor.x()) || !isValidCoordinate(cursor.y())) {
        session->refuse({pb::INVALID_OP,
                         QStringLiteral("The cursor position is not a finite number inside the "
                                        "wall (limit %1)."
                                        ).arg(QLatin1String(limits::kMaxCoordinateName)),
                         QString::fromLatin1(limits::kMaxCoordinateName)});
        return;
    }
    cursor.set_user_id(session->userId());
    pb::Envelope env;
    *env.mutable_cursor() = cursor;
    const QByteArray bytes = serialize(env);
    const std::vector<Session *> members = session->room()->members;
    for (Session *s : members) {
        if (s != session)
            s->sendEphemeral(bytes);
    }
}

void WallServer::sendHistory(Session *session, const pb::HistoryRequest &request)
{
    const int limit = std::clamp<int>(int(request.limit()), 1, limits::kMaxHistoryPage);
    std::vector<pb::Op> chat;
    // One more than asked tells whether older messages exist.
    m_storage->chatBefore(session->room()->wallId, request.before_seq(), limit + 1, &chat);
    pb::Envelope env;
    pb::History *history = env.mutable_history();
    history->set_more(int(chat.size()) > limit);
    if (int(chat.size()) > limit)
        chat.resize(size_t(limit));
    for (auto it = chat.rbegin(); it != chat.rend(); ++it)
        *history->add_chat() = std::move(*it);
    session->send(serialize(env));
}

void WallServer::checkLiveness()
{
    const auto sessions = m_sessions;
    for (Session *s : sessions) {
        if (s->msSinceHeard() > m_options.peerTimeoutMs)
            s->fail({pb::TIMEOUT,
                     QStringLiteral("Nothing was heard from this client for %1 s; reconnect to "
                                    "resume.")
                         .arg(m_options.peerTimeoutMs / 1000),
                     {}});
        else
            s->ping();
    }
}

} // namespace scrawl
