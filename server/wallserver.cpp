#include "server/wallserver.h"

#include "server/cluster.h"
#include "server/fanout.h"
#include "server/httpfront.h"
#include "server/redisdirectory.h"
#include "server/imagestore.h"
#include "server/session.h"
#include "server/sqlitewalllog.h"
#include "server/wsconnection.h"

#include <QElapsedTimer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFutureWatcher>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslKey>
#include <QStandardPaths>
#include <QWebSocket>
#include <QtConcurrent/QtConcurrentRun>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cmath>

Q_LOGGING_CATEGORY(lcServer, "scrawl.server", QtInfoMsg)

namespace scrawl {

namespace {

constexpr TextRules kWallNameRules{"wall name", limits::kMaxWallNameChars,
                                   limits::kMaxWallNameCharsName, false, false};
constexpr TextRules kPasswordRules{"password", limits::kMaxPasswordChars,
                                   limits::kMaxPasswordCharsName, true, false};

const char *roleName(pb::Role role)
{
    switch (role) {
    case pb::ROLE_OWNER: return "owner";
    case pb::ROLE_MODERATOR: return "moderator";
    default: return "member";
    }
}

// A box a cursor carries (a selection, a view): finite, inside the wall, not inside out.
std::optional<Problem> boxProblem(const QString &what, double x, double y, double w, double h)
{
    if (isValidCoordinate(x) && isValidCoordinate(y) && std::isfinite(w) && std::isfinite(h) && w >= 0
        && h >= 0 && isValidCoordinate(x + w) && isValidCoordinate(y + h))
        return std::nullopt;
    return Problem{pb::INVALID_OP,
                   QStringLiteral("The cursor's %1 is not a box inside the wall (finite, width and height "
                                  "0 or more, limit %2).")
                       .arg(what, QLatin1String(limits::kMaxCoordinateName)),
                   QString::fromLatin1(limits::kMaxCoordinateName)};
}

Problem notPermitted(const QString &what, pb::Role needed)
{
    return {pb::NOT_PERMITTED,
            QStringLiteral("%1 needs the %2 role on this wall; ask its owner.")
                .arg(what, QLatin1String(roleName(needed))),
            {}};
}

// Loads the certificate chain and key for TLS. Returns a sentence for a person on failure.
std::optional<QSslConfiguration> loadTls(const QString &certFile, const QString &keyFile,
                                         QString *error)
{
    QFile cert(certFile);
    if (!cert.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("Cannot read the TLS certificate %1: %2.").arg(certFile, cert.errorString());
        return std::nullopt;
    }
    const QList<QSslCertificate> chain = QSslCertificate::fromData(cert.readAll(), QSsl::Pem);
    if (chain.isEmpty() || chain.front().isNull()) {
        *error = QStringLiteral("%1 holds no PEM certificate; pass the certificate with --tls-cert.").arg(certFile);
        return std::nullopt;
    }
    QFile keyFileIo(keyFile);
    if (!keyFileIo.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("Cannot read the TLS key %1: %2.").arg(keyFile, keyFileIo.errorString());
        return std::nullopt;
    }
    const QByteArray keyPem = keyFileIo.readAll();
    QSslKey key(keyPem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(keyPem, QSsl::Ec, QSsl::Pem);
    if (key.isNull()) {
        *error = QStringLiteral("%1 holds no unencrypted PEM RSA or EC private key; pass the key "
                                "with --tls-key.").arg(keyFile);
        return std::nullopt;
    }
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    conf.setLocalCertificateChain(chain);
    conf.setPrivateKey(key);
    conf.setProtocol(QSsl::TlsV1_2OrLater);
    conf.setPeerVerifyMode(QSslSocket::VerifyNone); // clients are not asked for certificates
    return conf;
}

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
        model.serializeSnapshot(&snapshotCache);
        snapshotCacheSeq = model.seq();
    }
    return snapshotCache;
}

pb::Role Room::roleOf(std::uint64_t user) const
{
    if (user != 0 && user == access.ownerUser)
        return pb::ROLE_OWNER;
    const auto it = roles.find(user);
    return it == roles.end() ? pb::ROLE_MEMBER : it->second;
}

WallServer::WallServer(ServerOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_guard(std::make_shared<AddressGuard>(m_options.addressLimits))
{
    if (m_options.dataDir.isEmpty())
        m_options.dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    m_hub = new WsHub({limits::kOutputBacklogPauseBytes, limits::kOutputBacklogPerConnectionBytes,
                       limits::kOutputPeerShareBytes, limits::kOutputStallMs},
                      this);
    connect(&m_liveness, &QTimer::timeout, this, &WallServer::checkLiveness);
    connect(&m_unloadTimer, &QTimer::timeout, this, &WallServer::unloadIdleRooms);
    connect(&m_storageRetry, &QTimer::timeout, this, &WallServer::retryUnavailable);
}

WallServer::~WallServer()
{
    stop();
    // Sessions (and their connections) go before the hub they are counted in: children are
    // deleted in the order they came, and the hub came first.
    qDeleteAll(findChildren<Session *>(Qt::FindDirectChildrenOnly));
    delete m_hub;
}

bool WallServer::start(QString *error)
{
    m_storage = makeSqliteStorage(m_options.dataDir);
    m_directory = m_storage.get();
    if (!m_options.redisUrl.isEmpty()) {
        const auto address = RedisAddress::parse(m_options.redisUrl, error);
        if (!address)
            return false;
        auto directory = std::make_unique<RedisDirectory>(*address);
        m_directory = directory.get();
        m_sharedDirectory = std::move(directory);
        auto cluster = std::make_unique<Cluster>(*this, *address);
        m_cluster = cluster.get();
        m_log = std::move(cluster);
    } else {
        m_log = std::make_unique<SqliteWallLog>(*this, *m_storage);
    }
    m_log->start();
    if (!m_options.tlsCertFile.isEmpty() || !m_options.tlsKeyFile.isEmpty()) {
        if (m_options.tlsCertFile.isEmpty() || m_options.tlsKeyFile.isEmpty()) {
            *error = QStringLiteral("TLS needs both --tls-cert and --tls-key.");
            return false;
        }
        m_tls = loadTls(m_options.tlsCertFile, m_options.tlsKeyFile, error);
        if (!m_tls)
            return false;
    }
    if (!m_storage->open(error))
        return false;
    m_images = std::make_unique<ImageStore>(QDir(m_options.dataDir).filePath(QStringLiteral("scrawl.sqlite")),
                                            m_cluster ? std::optional(m_cluster->address()) : std::nullopt);
    if (!m_images->open(error))
        return false;
    m_http = new HttpFront(this);
    m_port = m_http->listenOn(m_options.host, m_options.port, m_tls ? &*m_tls : nullptr, m_guard);
    if (m_port == 0) {
        *error = QStringLiteral("Cannot listen on port %1: %2. Pick another port with --port, or "
                                "--port 0 for any free one.")
                     .arg(m_options.port)
                     .arg(m_http->listenError());
        return false;
    }
    m_liveness.start(m_options.pingIntervalMs);
    // A wall is unloaded between wallIdleUnloadMs and a quarter more after its last use.
    m_unloadTimer.start(std::clamp(m_options.wallIdleUnloadMs / 4, 10, 30000));
    qCInfo(lcServer) << "serving on port" << m_port << "data in" << m_options.dataDir;
    return true;
}

void WallServer::stop()
{
    if (!m_storage || !m_log)
        return; // never started
    // Everything sequenced is committed and broadcast (and joins waiting for it answered)
    // before anybody is told to go.
    m_log->flush();
    for (auto &[name, room] : m_rooms)
        m_log->storeSnapshotIfDue(room.get(), true);
    m_log->close();
    const auto sessions = m_sessions;
    for (Session *s : sessions)
        s->fail({pb::SHUTTING_DOWN, QStringLiteral("The server is shutting down; reconnect in a "
                                                   "moment."), {}});
    m_hub->flush(); // the close frames, as far as the sockets take them now
    m_sessions.clear();
    for (auto &[name, room] : m_rooms)
        m_log->unload(room.get());
    m_rooms.clear();
    delete m_http;
    m_http = nullptr;
    m_liveness.stop();
    m_unloadTimer.stop();
    m_storageRetry.stop();
    m_images.reset(); // waits for uploads being stored
    m_storage->close(); // ends the commit thread (nothing is queued: flushed above)
    m_cluster = nullptr;
    m_log.reset(); // after the commit thread, which may still answer about a snapshot
    m_directory = nullptr;
    m_sharedDirectory.reset();
    m_storage.reset();
}

bool WallServer::chatBefore(const QString &wall, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                            std::vector<pb::Op> *out)
{
    return m_log->chatBefore(wall, wallId, beforeSeq, limit, out);
}

bool WallServer::chatAfter(const QString &wall, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                           std::vector<pb::Op> *out)
{
    return m_log->chatAfter(wall, wallId, afterSeq, limit, out);
}

bool WallServer::storageHealthy() const
{
    return m_log->healthy();
}

void WallServer::whenStored(Room *room, std::function<void(bool)> run)
{
    m_log->whenStored(room, std::move(run));
}

bool WallServer::isOnWall(const QString &wall, const Room *room, std::uint64_t user) const
{
    if (room && std::any_of(room->members.begin(), room->members.end(),
                            [user](const Session *s) { return s->userId() == user; }))
        return true;
    return m_cluster && m_cluster->isOnline(wall, user);
}

QUrl WallServer::url() const
{
    QUrl url;
    url.setScheme(m_tls ? QStringLiteral("wss") : QStringLiteral("ws"));
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

Room *WallServer::loadedRoom(const QString &name) const
{
    const auto it = m_rooms.find(name);
    return it == m_rooms.end() ? nullptr : it->second.get();
}

Room *WallServer::room(const QString &name, bool create, Problem *problem)
{
    if (auto it = m_rooms.find(name); it != m_rooms.end()) {
        Room *r = it->second.get();
        r->idle.restart();
        if (!recover(r, true)) {
            *problem = unavailableProblem(r);
            return nullptr;
        }
        return r;
    }
    std::optional<StoredWall> stored = m_directory->findWall(name);
    if (!stored && !create) {
        *problem = {pb::INVALID_OP, QStringLiteral("There is no wall named \"%1\".").arg(name), {}};
        return nullptr;
    }
    if (!stored)
        stored = m_directory->createWall(name);
    if (!stored) {
        *problem = {pb::STORAGE_UNAVAILABLE,
                    QStringLiteral("The server cannot create the wall right now (storage "
                                   "error); try again later."),
                    {}};
        return nullptr;
    }
    auto room = std::make_unique<Room>();
    room->idle.start();
    room->name = name;
    room->wallId = stored->id;
    // In a cluster the access record (its owner) is read first: replaying the wall's log checks
    // each op against it.
    if (!loadAccess(room.get())) {
        *problem = {pb::STORAGE_UNAVAILABLE,
                    QStringLiteral("The server cannot read the wall's access settings right now "
                                   "(storage error); try again later."),
                    {}};
        return nullptr;
    }
    if (!m_log->load(room.get())) {
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

bool WallServer::loadAccess(Room *room)
{
    // In a cluster the lock, the protection and the roles come from the wall's log, in order
    // with its ops (Cluster::applyAccess), never from here.
    const bool fromLog = m_log->governsAccess();
    const pb::ClusterAccess governing = fromLog ? governingAccess(*room) : pb::ClusterAccess();
    auto keepGoverning = [&] {
        if (fromLog) {
            room->roles.clear();
            applyAccess(room, governing);
        }
    };
    if (auto access = m_directory->wallAccess(room->wallId)) {
        room->access = std::move(*access);
        keepGoverning();
    } else {
        // A wall from before owners existed: it stays without an owner, and so without an API
        // token anybody could be shown.
        room->access = WallAccess{};
        keepGoverning();
        if (!m_directory->saveWallAccess(room->wallId, room->access))
            return false;
    }
    if (!fromLog) {
        room->roles.clear();
        for (const auto &[user, role] : m_directory->roles(room->wallId)) {
            if (pb::Role_IsValid(role) && role != pb::ROLE_MEMBER)
                room->roles[user] = pb::Role(role);
        }
    }
    const auto kicks = m_directory->kicks(room->wallId, QDateTime::currentMSecsSinceEpoch());
    if (!kicks)
        return false;
    room->kickedUntil.clear();
    room->kickedAddresses.clear();
    for (const StoredKick &k : *kicks) {
        qint64 &user = room->kickedUntil[k.user];
        user = std::max(user, k.untilMs);
        if (!k.address.isEmpty()) {
            qint64 &address = room->kickedAddresses[k.address];
            address = std::max(address, k.untilMs);
        }
    }
    return true;
}

bool WallServer::apiTokenMatches(const WallAccess &access, const QByteArray &token) const
{
    return !token.isEmpty() && !access.apiTokenHash.isEmpty()
        && constantTimeEquals(sha256(token), access.apiTokenHash);
}

int WallServer::unloadIdleRooms()
{
    if (!m_storage)
        return 0;
    int unloaded = 0;
    for (auto it = m_rooms.begin(); it != m_rooms.end();) {
        Room *r = it->second.get();
        // Kicks are stored (Storage::kicks) and come back with the wall. A wall with ops or a
        // join waiting for a commit stays until it landed: an unloaded wall is exactly what
        // storage holds.
        if (!r->members.empty() || r->idle.elapsed() < m_options.wallIdleUnloadMs || m_log->holdsWork(r)) {
            ++it;
            continue;
        }
        // A snapshot that is due is stored first (a part per pass, as always); the wall goes at
        // a later sweep, once it is written.
        m_log->storeSnapshotIfDue(r, false);
        if (m_log->holdsWork(r)) {
            ++it;
            continue;
        }
        qCDebug(lcServer) << "unloading wall" << r->name << "idle for" << r->idle.elapsed() << "ms";
        m_log->unload(r);
        it = m_rooms.erase(it);
        ++unloaded;
    }
    if (unloaded)
        qCInfo(lcServer) << "unloaded" << unloaded << "idle walls;" << m_rooms.size()
                         << "stay in memory";
    return unloaded;
}

bool WallServer::apiTokenMatches(const Room *room, const QByteArray &token) const
{
    return apiTokenMatches(room->access, token);
}

QString WallServer::kickAddressKey(const QHostAddress &address)
{
    // The same key as the per-address limits: a kick that held one IPv6 address alone would let
    // the person back in from the next address of their /64.
    return AddressGuard::key(address);
}

Problem WallServer::unavailableProblem(const Room *room)
{
    return {pb::STORAGE_UNAVAILABLE,
            QStringLiteral("The wall \"%1\" is unavailable: the server cannot read it back from "
                           "storage (storage error); your changes are not applied, send them "
                           "again in a minute.")
                .arg(room->name),
            {}};
}

QStringList WallServer::unavailableWalls() const
{
    QStringList out;
    for (const auto &[name, room] : m_rooms) {
        if (room->unavailable)
            out.append(name);
    }
    return out;
}

void WallServer::markUnavailable(Room *room)
{
    // The in-memory wall may hold ops that storage does not (sequenced, then refused): keep
    // nothing of it, so that no seq is handed out twice or skipped, no resend is mistaken for
    // a stored op and no snapshot saves what was never stored. committedSeq stays: it is what
    // the members have seen.
    qCWarning(lcServer) << "wall" << room->name << "is unavailable: storage cannot reload it:"
                        << m_log->lastError();
    room->unavailable = true;
    room->epoch = m_log->newEpoch();
    room->model = WallModel();
    room->lastClientOp.clear();
    room->storedSnapshotSeq = 0;
    room->storedSnapshotBytes = 0;
    room->opBytesSinceSnapshot = 0;
    room->snapshotCache.clear();
    room->snapshotCacheSeq = ~std::uint64_t(0);
    room->dropSnapshotWrite();
    room->lastReloadAttempt.start();
    const Problem problem = unavailableProblem(room);
    const std::vector<Session *> members = room->members;
    for (Session *s : members)
        s->refuse(problem);
    if (!m_storageRetry.isActive())
        m_storageRetry.start(m_options.storageRetryMs);
}

bool WallServer::recover(Room *room, bool onUse)
{
    if (!room->unavailable)
        return true;
    // A reload reads the whole wall: a flood of refused ops must not turn into a flood of them.
    if (onUse && room->lastReloadAttempt.isValid()
        && room->lastReloadAttempt.elapsed() < limits::kStorageRetryOnUseMs)
        return false;
    room->lastReloadAttempt.start();
    const std::uint64_t seen = room->committedSeq;
    if (!m_log->load(room)) {
        qCInfo(lcServer) << "wall" << room->name << "still unavailable:" << m_log->lastError();
        return false;
    }
    room->unavailable = false;
    qCInfo(lcServer) << "wall" << room->name << "is available again at seq" << room->model.seq()
                     << "(its members saw" << seen << ")";
    if (room->model.seq() > seen) {
        // The failed commit was stored after all: the members get what they have not seen.
        std::uint64_t after = seen;
        std::vector<pb::Op> ops;
        while (m_log->opsAfter(room, after, 2000, &ops) && !ops.empty()) {
            for (pb::Op &op : ops) {
                after = op.seq();
                pb::Envelope env;
                *env.mutable_op() = std::move(op);
                fanout::broadcast(room->members, serialize(env));
            }
            ops.clear();
        }
    } else if (room->model.seq() < seen) {
        // Storage lost what they saw: they rejoin and get the wall as stored.
        const std::vector<Session *> members = room->members;
        for (Session *s : members)
            s->fail({pb::STORAGE_UNAVAILABLE,
                     QStringLiteral("The wall \"%1\" came back from storage without its latest "
                                    "changes; reconnect to see it as stored.")
                         .arg(room->name),
                     {}});
    }
    return true;
}

void WallServer::retryUnavailable()
{
    bool left = false;
    for (auto &[name, room] : m_rooms)
        left |= !recover(room.get(), false);
    if (!left)
        m_storageRetry.stop();
}

void WallServer::adopt(WsConnection *connection, const QHostAddress &peer)
{
    auto *session = new Session(connection, this, peer);
    m_sessions.push_back(session);
}

void WallServer::forget(Session *session)
{
    leave(session);
    std::erase(m_sessions, session);
}

void WallServer::join(Session *session, const pb::Join &join)
{
    if (session->joinPending()) {
        session->refuse({pb::INVALID_OP,
                         QStringLiteral("A join is already under way on this connection; wait "
                                        "for its answer."),
                         {}});
        return;
    }
    QString name;
    if (auto p = decodeText(join.wall(), kWallNameRules, &name)) {
        session->refuse(*p);
        return;
    }
    name = name.trimmed();
    const QHostAddress peer = session->peerAddress();
    if (const qint64 left = m_guard->lockedOutFor(peer)) {
        session->refuse({pb::ADDRESS_BLOCKED,
                         QStringLiteral("Too many wrong passwords came from your address (limit "
                                        "%1: %2); try again in %3 minutes.")
                             .arg(QLatin1String(limits::kMaxPasswordFailuresName))
                             .arg(m_guard->limits().maxPasswordFailures)
                             .arg((left + 59999) / 60000),
                         QString::fromLatin1(limits::kMaxPasswordFailuresName)});
        return;
    }
    if (const char *limit = m_guard->admitJoin(peer)) {
        session->refuse(limitProblem(limit,
                                     QStringLiteral("Too many joins from your address (limit %1: "
                                                    "%2 a minute); wait a minute and try again.")
                                         .arg(QLatin1String(limit))
                                         .arg(m_guard->limits().maxJoinsPerMinute)));
        return;
    }
    QString password;
    if (auto p = decodeText(join.password(), kPasswordRules, &password)) {
        session->refuse(*p);
        return;
    }
    Problem problem;
    Room *r = room(name, false, &problem);
    if (!r && problem.code == pb::STORAGE_UNAVAILABLE) {
        session->refuse(problem);
        return;
    }
    if (!r) {
        // Walls are created by joining them: bound how many one address can make.
        if (const char *limit = m_guard->admitWallCreation(peer)) {
            session->refuse(limitProblem(limit,
                                         QStringLiteral("Too many new walls from your address (limit "
                                                        "%1: %2 an hour); join an existing wall or "
                                                        "try again later.")
                                             .arg(QLatin1String(limit))
                                             .arg(m_guard->limits().maxWallsCreatedPerHour)));
            return;
        }
        createAndJoin(session, name, password, join);
    } else {
        continueJoin(session, r, join, password);
    }
}

void WallServer::deriveThen(Session *session, const QString &password, const QByteArray &salt,
                            int iterations, bool guess, std::function<void(QByteArray)> done)
{
    // Counted from the start, so that one address cannot queue a minute of CPU: over its
    // limits the check is refused now, not after the others ran.
    const QHostAddress peer = session->peerAddress();
    if (const char *limit = m_guard->beginPasswordCheck(peer, guess)) {
        const bool checks = qstrcmp(limit, limits::kMaxPasswordChecksPerAddressName) == 0;
        session->refuse(limitProblem(
            limit,
            checks ? QStringLiteral("Too many passwords from your address are being checked at once "
                                    "(limit %1: %2); wait for their answers, then try again.")
                         .arg(QLatin1String(limit))
                         .arg(m_guard->limits().maxPasswordChecks)
                   : QStringLiteral("Too many passwords from your address were wrong or are still "
                                    "being checked (limit %1: %2); wait for their answers, then "
                                    "try again.")
                         .arg(QLatin1String(limit))
                         .arg(m_guard->limits().maxPasswordFailures)));
        return;
    }
    session->setJoinPending(true);
    auto *watcher = new QFutureWatcher<QByteArray>(this);
    QPointer<Session> guard(session);
    connect(watcher, &QFutureWatcher<QByteArray>::finished, this,
            [this, watcher, guard, peer, guess, done = std::move(done)] {
                watcher->deleteLater();
                m_guard->endPasswordCheck(peer, guess);
                if (!guard || guard->state() != Session::State::Ready || !m_storage)
                    return;
                guard->setJoinPending(false);
                done(watcher->result());
            });
    watcher->setFuture(QtConcurrent::run(derivePasswordHash, password, salt, iterations));
}

void WallServer::createAndJoin(Session *session, const QString &name, const QString &password,
                               const pb::Join &join)
{
    auto create = [this, session, name, join](QByteArray hash, QByteArray salt) {
        Problem problem;
        if (Room *existing = room(name, false, &problem)) {
            // Somebody else created it while the password was being hashed: join theirs.
            continueJoin(session, existing, join, {});
            return;
        }
        std::optional<StoredWall> stored = m_directory->createWall(name);
        WallAccess access;
        access.ownerUser = session->userId();
        const QByteArray ownerToken = newTextToken(limits::kOwnerTokenBytes);
        access.ownerTokenHash = sha256(ownerToken);
        const QByteArray apiToken = newTextToken(limits::kApiTokenBytes);
        access.apiTokenHash = sha256(apiToken);
        if (!hash.isEmpty()) {
            access.passwordHash = hash;
            access.passwordSalt = salt;
            access.passwordIterations = m_options.passwordIterations;
        }
        if (!stored || !m_directory->saveWallAccess(stored->id, access)
            || !m_directory->setRole(stored->id, session->userId(), pb::ROLE_OWNER)) {
            session->refuse({pb::STORAGE_UNAVAILABLE,
                             QStringLiteral("The server cannot create the wall right now (storage "
                                            "error); try again later."),
                             {}});
            return;
        }
        Room *r = room(name, false, &problem);
        if (!r) {
            session->refuse(problem);
            return;
        }
        qCInfo(lcServer) << "wall" << name << "created by user" << session->userId()
                         << (hash.isEmpty() ? "" : "with a password");
        finishJoin(session, r, join, ownerToken, apiToken);
    };
    if (password.isEmpty()) {
        create({}, {});
        return;
    }
    const QByteArray salt = randomBytes(limits::kPasswordSaltBytes);
    deriveThen(session, password, salt, m_options.passwordIterations, false,
               [create, salt](QByteArray hash) { create(std::move(hash), salt); });
}

void WallServer::continueJoin(Session *session, Room *r, const pb::Join &join,
                              const QString &password)
{
    const std::uint64_t user = session->userId();
    const QByteArray ownerToken = QByteArray::fromStdString(join.owner_token());
    if (!ownerToken.isEmpty() && r->roleOf(user) != pb::ROLE_OWNER) {
        if (!r->access.ownerTokenHash.isEmpty()
            && constantTimeEquals(sha256(ownerToken), r->access.ownerTokenHash)) {
            // The token proves ownership for a new identity (another machine, lost settings).
            // Theirs at once here (in a cluster their ops follow it into the log); everywhere
            // when it lands.
            r->roles[user] = pb::ROLE_OWNER;
            pb::ClusterAccess change;
            pb::ClusterRole *owner = change.add_roles();
            owner->set_user(user);
            owner->set_role(pb::ROLE_OWNER);
            if (m_log->changeAccess(r, nullptr, change))
                r->roles.erase(user);
        } else {
            qCInfo(lcServer) << "user" << user << "presented a wrong owner token for" << r->name;
        }
    }
    const pb::Role role = r->roleOf(user);
    // A kick holds the user and the address they were on (a new identity from there stays out
    // too). Never a moderator or the owner: they may share the address (the host and a guest on
    // one machine, people behind one NAT), and nobody below them can kick them.
    if (role == pb::ROLE_MEMBER) {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        qint64 until = 0;
        if (const auto it = r->kickedUntil.find(user); it != r->kickedUntil.end())
            until = it->second;
        if (const auto it = r->kickedAddresses.find(kickAddressKey(session->peerAddress()));
            it != r->kickedAddresses.end())
            until = std::max(until, it->second);
        if (until > now) {
            session->refuse({pb::KICKED,
                             QStringLiteral("A moderator removed you from the wall \"%1\"; you "
                                            "may rejoin in %2 minutes.")
                                 .arg(r->name)
                                 .arg((until - now + 59999) / 60000),
                             {}});
            return;
        }
    }
    if (!r->access.hasPassword() || role != pb::ROLE_MEMBER || r->admitted.count(user)) {
        finishJoin(session, r, join, {});
        return;
    }
    if (password.isEmpty()) {
        session->refuse({pb::PASSWORD_REQUIRED,
                         QStringLiteral("The wall \"%1\" has a password; enter it to join.").arg(r->name),
                         {}});
        return;
    }
    const QString name = r->name;
    const QByteArray salt = r->access.passwordSalt;
    deriveThen(session, password, salt, r->access.passwordIterations, true,
               [this, session, name, salt, join](QByteArray hash) {
                   Problem problem;
                   Room *room = this->room(name, false, &problem);
                   if (!room && problem.code == pb::STORAGE_UNAVAILABLE) {
                       session->refuse(problem);
                       return;
                   }
                   if (!room) {
                       session->refuse({pb::WALL_DELETED,
                                        QStringLiteral("The wall \"%1\" was deleted.").arg(name), {}});
                       return;
                   }
                   if (room->access.passwordSalt == salt
                       && constantTimeEquals(hash, room->access.passwordHash)) {
                       room->admitted.insert(session->userId());
                       finishJoin(session, room, join, {});
                       return;
                   }
                   const QHostAddress peer = session->peerAddress();
                   if (m_guard->passwordFailed(peer)) {
                       qCWarning(lcServer) << "locking out" << peer << "after"
                                           << m_guard->limits().maxPasswordFailures
                                           << "wrong passwords";
                       session->refuse({pb::ADDRESS_BLOCKED,
                                        QStringLiteral("Wrong password, and too many wrong "
                                                       "passwords came from your address (limit "
                                                       "%1: %2); try again in %3 minutes.")
                                            .arg(QLatin1String(limits::kMaxPasswordFailuresName))
                                            .arg(m_guard->limits().maxPasswordFailures)
                                            .arg((m_guard->limits().lockoutMs + 59999) / 60000),
                                        QString::fromLatin1(limits::kMaxPasswordFailuresName)});
                       return;
                   }
                   session->refuse({pb::WRONG_PASSWORD,
                                    QStringLiteral("Wrong password for the wall \"%1\"; check it "
                                                   "with whoever invited you.")
                                        .arg(name),
                                    {}});
               });
}

bool WallServer::makeRoomFor(Session *session, Room *r)
{
    if (session->room() != r && int(r->members.size()) >= limits::kMaxClientsPerWall) {
        session->refuse(limitProblem(limits::kMaxClientsPerWallName,
                                     QStringLiteral("The wall \"%1\" already has %2 people (limit "
                                                    "%3); try again later.")
                                         .arg(r->name)
                                         .arg(r->members.size())
                                         .arg(QLatin1String(limits::kMaxClientsPerWallName))));
        return false;
    }
    if (session->room() && session->room() != r)
        leave(session);
    return true;
}

void WallServer::finishJoin(Session *session, Room *r, const pb::Join &join,
                            const QByteArray &ownerToken, const QByteArray &apiToken)
{
    if (!makeRoomFor(session, r))
        return;
    if (r->unavailable) {
        // A commit failed and the wall could not be read back.
        session->refuse(unavailableProblem(r));
        return;
    }
    // The joiner must see a wall that storage holds: the answer is the wall as sequenced now,
    // sent once its commits landed, between that batch's broadcast and the next one's, so that
    // the joiner gets every later op as a member and none twice. Nothing blocks meanwhile.
    const std::uint64_t head = r->model.seq();
    const QByteArray snapshot = r->snapshotBytes();
    if (r->committedSeq >= head) {
        answerJoin(session, r, join, ownerToken, apiToken, head, snapshot);
        return;
    }
    session->setJoinPending(true);
    QPointer<Session> guard(session);
    m_log->whenStored(r, [this, guard, r, join, ownerToken, apiToken, head, snapshot](bool sameState) {
        if (!guard || guard->state() != Session::State::Ready || !m_storage)
            return;
        guard->setJoinPending(false);
        if (sameState)
            answerJoin(guard, r, join, ownerToken, apiToken, head, snapshot);
        else // refused and reloaded meanwhile: from the start, on the wall as storage holds it
            finishJoin(guard, r, join, ownerToken, apiToken);
    });
}

void WallServer::answerJoin(Session *session, Room *r, const pb::Join &join,
                            const QByteArray &ownerToken, const QByteArray &apiToken,
                            std::uint64_t head, const QByteArray &snapshot)
{
    const QString name = r->name;
    // Checked again: others may have joined while the answer waited for its commits.
    if (!makeRoomFor(session, r))
        return;
    pb::Joined joined;
    joined.set_wall(toWire(name));
    joined.set_head_seq(head);
    joined.set_wall_full(r->model.isFull());
    const pb::Role role = r->roleOf(session->userId());
    joined.set_role(role);
    joined.set_locked(r->access.locked);
    joined.set_protected_work(r->access.protectedWork);
    joined.set_has_password(r->access.hasPassword());
    if (!ownerToken.isEmpty()) {
        joined.set_owner_token(ownerToken.toStdString());
        joined.set_created(true);
    }
    if (!apiToken.isEmpty())
        joined.set_api_token(apiToken.toStdString());
    joined.set_image_token(m_images->imageToken(r->wallId, session->userId()).toStdString());
    if (session->room() != r) {
        r->members.push_back(session);
        session->setRoom(r);
        pb::Envelope presence;
        *presence.mutable_presence()->mutable_member() = session->member();
        presence.mutable_presence()->set_online(true);
        fanout::broadcast(r->members, serialize(presence), session);
        if (m_cluster) {
            m_cluster->announceMembers(r); // the others tell their members (Cluster::onLive)
            m_cluster->memberJoined(r, session->userId());
        }
    }
    for (Session *m : r->members)
        *joined.add_members() = m->member();
    if (m_cluster) {
        for (pb::Member &m : m_cluster->remoteMembers(r)) {
            m.set_role(r->roleOf(m.user_id()));
            *joined.add_members() = std::move(m);
        }
    }

    // Ops since last_seq, unless they would weigh more than the snapshot.
    // (Storage may hold ops past head already, committed but not yet broadcast: they come to
    // the joiner as a member.)
    const std::uint64_t lastSeq = join.last_seq();
    bool useSnapshot = lastSeq == 0 || lastSeq > head;
    if (!useSnapshot && lastSeq < head) {
        const qsizetype budget = snapshot.size();
        qsizetype used = 0;
        std::uint64_t after = lastSeq;
        while (!useSnapshot && after < head) {
            std::vector<pb::Op> ops;
            if (!m_log->opsAfter(r, after, 2000, &ops) || ops.empty()) {
                useSnapshot = true;
                break;
            }
            for (pb::Op &op : ops) {
                if (op.seq() > head)
                    break;
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
        session->sendJoinAnswer(serialize([&] {
            pb::Envelope env;
            *env.mutable_joined() = std::move(joined);
            return env;
        }()));
        return;
    }
    // The newest chat, and whether chat the joiner has not seen is older than that: a returning
    // client pages that (Joined.more_chat), so that it ends up with every message it missed.
    const std::uint64_t chatAfter = lastSeq <= head ? lastSeq : 0;
    std::vector<pb::Op> chat; // newest first; one more than sent tells whether more exist
    chatBefore(r->name, r->wallId, head + 1, limits::kRecentChatOnJoin + 1, &chat);
    const bool moreChat = chat.size() > size_t(limits::kRecentChatOnJoin)
                       && chat[size_t(limits::kRecentChatOnJoin)].seq() > chatAfter;
    if (chat.size() > size_t(limits::kRecentChatOnJoin))
        chat.resize(size_t(limits::kRecentChatOnJoin));
    for (auto it = chat.rbegin(); it != chat.rend(); ++it)
        *joined.add_recent_chat() = std::move(*it);
    joined.set_more_chat(moreChat);
    joined.set_chat_after_seq(chatAfter);
    session->sendJoinAnswer(joinedWithSnapshot(joined, snapshot));
}

void WallServer::leave(Session *session)
{
    Room *r = session->room();
    if (!r)
        return;
    session->setRoom(nullptr);
    std::erase(r->members, session);
    r->idle.restart();
    pb::Envelope presence;
    *presence.mutable_presence()->mutable_member() = session->member();
    presence.mutable_presence()->set_online(false);
    fanout::broadcast(r->members, serialize(presence));
    if (m_cluster) {
        m_cluster->announceMembers(r);
        m_cluster->memberLeft(r, session->userId());
    }
}

std::optional<Problem> WallServer::submit(Room *room, Session *session, pb::Op op)
{
    if (!recover(room, true))
        return unavailableProblem(room);
    const std::uint64_t author = session ? session->userId() : 0;
    if (isSessionOnlyUser(author))
        return Problem{pb::STORAGE_UNAVAILABLE,
                       QStringLiteral("The server could not store your identity when you "
                                      "connected (storage error); reconnect, then send this again."),
                       {}};
    if (session && op.client_op_id() == 0)
        return Problem{pb::INVALID_OP,
                       QStringLiteral("The first op on a connection needs a client op id above 0 (later "
                                      "ones may leave it out to mean the previous one plus 1); "
                                      "number your ops."),
                       {}};
    if (session) {
        const auto last = room->lastClientOp.find(author);
        if (last != room->lastClientOp.end() && op.client_op_id() <= last->second) {
            // A resend after a reconnect: answer with the stored op, apply nothing. The op
            // may still be on its way to storage: the answer waits for it to land.
            if (room->committedSeq >= room->model.seq())
                return answerResend(room, session, op);
            QPointer<Session> guard(session);
            m_log->whenStored(room, [this, guard, room, op](bool sameState) {
                if (!guard || guard->state() != Session::State::Ready || !m_storage)
                    return;
                // Refused and reloaded meanwhile: from the start, on the wall as storage holds
                // it (stored: answered with the stored op; not: taken as a new op).
                const std::optional<Problem> problem = sameState ? answerResend(room, guard, op)
                                                                 : submit(room, guard, op);
                if (problem)
                    guard->refuse(*problem, op.client_op_id());
            });
            return std::nullopt;
        }
    }
    // A new op: its turn, and so its checks against the wall, are the log's to decide (at once
    // on one server; in a cluster when the shared log hands it back).
    return m_log->append(room, session, std::move(op));
}

void WallServer::submitAndWait(Room *room, pb::Op op,
                               std::function<void(std::optional<pb::Op>, std::optional<Problem>)> done)
{
    auto answer = [this, wall = room->name, done](std::uint64_t seq, bool stored) {
        Room *r = loadedRoom(wall);
        if (!stored || !r) {
            done(std::nullopt, Problem{pb::STORAGE_UNAVAILABLE,
                                       QStringLiteral("The server could not store the message; try again later."), {}});
            return;
        }
        std::vector<pb::Op> chat;
        chatAfter(r->name, r->wallId, seq - 1, 1, &chat);
        if (!chat.empty() && chat.front().seq() == seq) {
            done(std::move(chat.front()), std::nullopt);
            return;
        }
        pb::Op landed;
        landed.set_seq(seq);
        done(std::move(landed), std::nullopt);
    };
    if (!recover(room, true)) {
        QMetaObject::invokeMethod(this, [done, problem = unavailableProblem(room)] { done(std::nullopt, problem); },
                                  Qt::QueuedConnection);
        return;
    }
    // Once its place is known (on one server at once, in a cluster once Redis took it), and
    // then once it landed here.
    auto problem = m_log->append(room, nullptr, std::move(op),
                                 [this, wall = room->name, answer, done](std::uint64_t seq, std::optional<Problem> refused) {
        Room *r = loadedRoom(wall);
        if (refused || !r) {
            done(std::nullopt, refused ? refused : std::optional<Problem>(Problem{pb::STORAGE_UNAVAILABLE,
                QStringLiteral("The wall was unloaded meanwhile; try again."), {}}));
            return;
        }
        m_log->whenLanded(r, seq, [answer, seq](bool sameState) { answer(seq, sameState); });
    });
    if (problem)
        QMetaObject::invokeMethod(this, [done, problem] { done(std::nullopt, problem); }, Qt::QueuedConnection);
}

// Every field the proto calls stamped is set (or cleared) here on every op kind, whatever the
// client put in it: others and storage see only the server's word. (The seq is the order's.)
void WallServer::stamp(Session *session, pb::Op *op)
{
    op->clear_seq();
    op->set_author(session ? session->userId() : 0);
    // A stroke's time is its begin's; its batches and its end go without one (7 bytes each, a
    // quarter of a small batch on the wire).
    if (!op->has_stroke_points() && !op->has_stroke_end())
        op->set_time_ms(QDateTime::currentMSecsSinceEpoch());
    else
        op->clear_time_ms();
    if (op->has_chat() && session) {
        op->mutable_chat()->set_author_name(toWire(session->name()));
        op->mutable_chat()->set_author_color(session->color());
    }
}

std::optional<Problem> WallServer::answerResend(Room *room, Session *session, const pb::Op &op)
{
    if (room->unavailable)
        return unavailableProblem(room);
    return m_log->answerResend(room, session, op);
}

std::optional<Problem> WallServer::checkAtTurn(const Room *room, std::uint64_t author, const pb::Op &op) const
{
    // Shape and limits first (so a malformed op is named as such), then the sender's role.
    if (auto problem = room->model.check(op, author))
        return problem;
    if (author != 0)
        return checkPermission(room, author, op);
    return std::nullopt;
}

std::optional<Problem> WallServer::checkUploaded(const Room *room, const pb::Op &op)
{
    if (!op.has_image_add())
        return std::nullopt;
    const QByteArray hash = QByteArray::fromStdString(op.image_add().hash());
    if (m_images->has(room->wallId, hash))
        return std::nullopt;
    return Problem{pb::INVALID_OP,
                   QStringLiteral("The image %1 was never uploaded to this wall; upload it "
                                  "(POST /api/walls/NAME/images) before placing it.")
                       .arg(QString::fromLatin1(hash.toHex())),
                   {}};
}

std::optional<Problem> WallServer::checkPermission(const Room *room, std::uint64_t author,
                                                   const pb::Op &op) const
{
    const pb::Role role = room->roleOf(author);
    if (role != pb::ROLE_MEMBER)
        return std::nullopt;
    if (room->access.locked && !op.has_chat())
        return Problem{pb::WALL_LOCKED,
                       QStringLiteral("The owner locked this wall: you can read it and chat, but "
                                      "not change it."),
                       {}};
    // On an open wall (the default) members change anyone's work; undo stays each author's own
    // (the model checks that). On a protected one, only their own: ownership of strokes and
    // notes is in their key (author << 32 | id).
    if (!room->access.protectedWork && !op.has_clear())
        return std::nullopt;
    const auto othersWork = [](const QString &what) {
        return Problem{pb::NOT_PERMITTED,
                       QStringLiteral("%1: the owner protected people's work on this wall, so only "
                                      "its author or a moderator may change it.").arg(what),
                       {}};
    };
    switch (op.body_case()) {
    case pb::Op::kErase:
        for (const std::uint64_t key : op.erase().strokes()) {
            if (keyAuthor(key) != author)
                return othersWork(QStringLiteral("You cannot erase someone else's stroke"));
        }
        break;
    case pb::Op::kNoteEdit:
        if (keyAuthor(op.note_edit().note()) != author)
            return othersWork(QStringLiteral("You cannot edit someone else's note"));
        break;
    case pb::Op::kNoteMove:
        if (keyAuthor(op.note_move().note()) != author)
            return othersWork(QStringLiteral("You cannot move someone else's note"));
        break;
    case pb::Op::kNoteStyle:
        if (keyAuthor(op.note_style().note()) != author)
            return othersWork(QStringLiteral("You cannot restyle someone else's note"));
        break;
    case pb::Op::kNoteDelete:
        if (keyAuthor(op.note_delete().note()) != author)
            return othersWork(QStringLiteral("You cannot delete someone else's note"));
        break;
    case pb::Op::kImageDelete:
        if (keyAuthor(op.image_delete().image()) != author)
            return othersWork(QStringLiteral("You cannot delete someone else's image"));
        break;
    case pb::Op::kTransform:
        for (const auto *list : {&op.transform().strokes(), &op.transform().notes(),
                                 &op.transform().images(), &op.transform().shapes()}) {
            for (const std::uint64_t key : *list) {
                if (keyAuthor(key) != author)
                    return othersWork(QStringLiteral("You cannot move someone else's work"));
            }
        }
        break;
    case pb::Op::kArrange:
        for (const auto *list : {&op.arrange().strokes(), &op.arrange().notes(), &op.arrange().images(),
                                 &op.arrange().shapes()}) {
            for (const std::uint64_t key : *list) {
                if (keyAuthor(key) != author)
                    return othersWork(QStringLiteral("You cannot bring someone else's work to the "
                                                     "front or send it to the back"));
            }
        }
        break;
    case pb::Op::kShapeEdit:
        if (keyAuthor(op.shape_edit().key()) != author)
            return othersWork(QStringLiteral("You cannot change someone else's shape"));
        break;
    case pb::Op::kShapeDelete:
        if (keyAuthor(op.shape_delete().key()) != author)
            return othersWork(QStringLiteral("You cannot delete someone else's shape"));
        break;
    case pb::Op::kClear:
        return notPermitted(QStringLiteral("Clearing the wall"), pb::ROLE_MODERATOR);
    default:
        break;
    }
    return std::nullopt;
}

void WallServer::broadcastWallState(Room *room, bool changedHere)
{
    pb::Envelope env;
    pb::WallState *state = env.mutable_wall_state();
    state->set_locked(room->access.locked);
    state->set_has_password(room->access.hasPassword());
    state->set_protected_work(room->access.protectedWork);
    for (Session *m : room->members)
        *state->add_members() = m->member();
    if (m_cluster) {
        for (pb::Member &m : m_cluster->remoteMembers(room)) {
            m.set_role(room->roleOf(m.user_id()));
            *state->add_members() = std::move(m);
        }
        if (changedHere)
            m_cluster->accessChanged(room);
    }
    fanout::broadcast(room->members, serialize(env));
}

void WallServer::reloadAccess(Room *room)
{
    const QByteArray password = room->access.passwordHash;
    if (!loadAccess(room)) {
        qCWarning(lcServer) << "could not read the access of wall" << room->name << "again:" << m_directory->lastError();
        return;
    }
    if (room->access.passwordHash != password) {
        // A new password, set on another server: as there, whoever is on the wall now stays
        // and may come back; anybody else let in with the old one needs the new one.
        room->admitted.clear();
        for (Session *m : room->members)
            room->admitted.insert(m->userId());
    }
    // Removed on another server: gone from this one too.
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const std::vector<Session *> members = room->members;
    for (Session *s : members) {
        const auto kicked = room->kickedUntil.find(s->userId());
        if (kicked != room->kickedUntil.end() && kicked->second > now)
            s->fail({pb::KICKED,
                     QStringLiteral("A moderator removed you from the wall \"%1\"; you may rejoin in %2 minutes.")
                         .arg(room->name)
                         .arg((kicked->second - now + 59999) / 60000),
                     {}});
    }
    broadcastWallState(room, false);
}

void WallServer::moderate(Session *session, const pb::Moderate &request)
{
    Room *r = session->room();
    const std::uint64_t me = session->userId();
    const pb::Role myRole = r->roleOf(me);
    const std::uint64_t target = request.user_id();
    switch (request.action()) {
    case pb::Moderate::KICK:
        kick(session, r, target);
        return;
    case pb::Moderate::SET_MODERATOR: {
        if (myRole != pb::ROLE_OWNER) {
            session->refuse(notPermitted(QStringLiteral("Making moderators"), pb::ROLE_OWNER));
            return;
        }
        if (target == 0 || target == me || r->roleOf(target) == pb::ROLE_OWNER) {
            session->refuse({pb::INVALID_OP,
                             QStringLiteral("Pick another person than an owner to make or unmake "
                                            "moderator."),
                             {}});
            return;
        }
        // Takes effect at its place in the wall's order (in a cluster, on every server at once).
        pb::ClusterAccess change;
        pb::ClusterRole *entry = change.add_roles();
        entry->set_user(target);
        entry->set_role(request.on() ? pb::ROLE_MODERATOR : pb::ROLE_MEMBER);
        if (auto p = m_log->changeAccess(r, session, change))
            session->refuse(*p);
        return;
    }
    case pb::Moderate::LOCK:
    case pb::Moderate::PROTECT: {
        const bool lock = request.action() == pb::Moderate::LOCK;
        if (myRole != pb::ROLE_OWNER) {
            session->refuse(notPermitted(lock ? QStringLiteral("Locking the wall")
                                              : QStringLiteral("Protecting people's work"),
                                         pb::ROLE_OWNER));
            return;
        }
        pb::ClusterAccess change;
        if (lock)
            change.set_locked(request.on());
        else
            change.set_protected_work(request.on());
        if (auto p = m_log->changeAccess(r, session, change))
            session->refuse(*p);
        return;
    }
    case pb::Moderate::DELETE_WALL:
        if (myRole != pb::ROLE_OWNER) {
            session->refuse(notPermitted(QStringLiteral("Deleting the wall"), pb::ROLE_OWNER));
            return;
        }
        deleteRoom(r, session);
        return;
    case pb::Moderate::NEW_API_TOKEN:
        newApiToken(session, r);
        return;
    case pb::Moderate::SET_PASSWORD:
        setPassword(session, r, request.password());
        return;
    default:
        session->refuse({pb::INVALID_OP,
                         QStringLiteral("Unknown moderation action %1; update the app.")
                             .arg(int(request.action())),
                         {}});
        return;
    }
}

void WallServer::kick(Session *by, Room *r, std::uint64_t target)
{
    const std::uint64_t me = by->userId();
    const pb::Role myRole = r->roleOf(me);
    if (myRole == pb::ROLE_MEMBER) {
        by->refuse(notPermitted(QStringLiteral("Removing someone from the wall"), pb::ROLE_MODERATOR));
        return;
    }
    if (target == me || r->roleOf(target) >= myRole) {
        by->refuse({pb::NOT_PERMITTED,
                    QStringLiteral("You can only remove people with a lower role than yours from "
                                   "this wall."),
                    {}});
        return;
    }
    const qint64 until = QDateTime::currentMSecsSinceEpoch() + m_options.kickBanMs;
    std::vector<StoredKick> kicks{{target, {}, until}};
    for (Session *s : r->members) {
        if (s->userId() == target)
            kicks.push_back({target, kickAddressKey(s->peerAddress()), until});
    }
    for (const StoredKick &k : kicks) {
        // Held in memory even if storage fails: the kick works until a restart.
        if (!m_directory->saveKick(r->wallId, k))
            qCWarning(lcServer) << "could not store a kick of user" << target << "from" << r->name
                                << ":" << m_directory->lastError();
        qint64 &user = r->kickedUntil[target];
        user = std::max(user, until);
        if (!k.address.isEmpty())
            r->kickedAddresses[k.address] = std::max(r->kickedAddresses[k.address], until);
    }
    const std::vector<Session *> members = r->members;
    for (Session *s : members) {
        if (s->userId() == target)
            s->fail({pb::KICKED,
                     QStringLiteral("A moderator removed you from the wall \"%1\"; you may "
                                    "rejoin in %2 minutes.")
                         .arg(r->name)
                         .arg((m_options.kickBanMs + 59999) / 60000),
                     {}});
    }
    qCInfo(lcServer) << "user" << me << "kicked user" << target << "from" << r->name << "and"
                     << kicks.size() - 1 << "addresses";
    if (m_cluster)
        m_cluster->accessChanged(r);
}

void WallServer::newApiToken(Session *by, Room *r)
{
    if (r->roleOf(by->userId()) != pb::ROLE_OWNER) {
        by->refuse(notPermitted(QStringLiteral("Making a new API token"), pb::ROLE_OWNER));
        return;
    }
    const QByteArray token = newTextToken(limits::kApiTokenBytes);
    WallAccess access = r->access;
    access.apiTokenHash = sha256(token);
    if (!m_directory->saveWallAccess(r->wallId, access)) {
        by->refuse({pb::STORAGE_UNAVAILABLE,
                    QStringLiteral("The server could not store a new API token; the old one still "
                                   "works. Try again later."),
                    {}});
        return;
    }
    // From here the old token opens nothing: HTTP checks r->access on every request (and, in a
    // cluster, the other servers read the record again).
    r->access = access;
    if (m_cluster)
        m_cluster->accessChanged(r);
    pb::Envelope env;
    env.mutable_api_token()->set_token(token.toStdString());
    by->send(serialize(env));
    qCInfo(lcServer) << "user" << by->userId() << "made a new API token for" << r->name;
}

void WallServer::setPassword(Session *by, Room *r, const std::string &bytes)
{
    if (r->roleOf(by->userId()) != pb::ROLE_OWNER) {
        by->refuse(notPermitted(QStringLiteral("Changing the wall's password"), pb::ROLE_OWNER));
        return;
    }
    QString password;
    if (auto p = decodeText(bytes, kPasswordRules, &password)) {
        by->refuse(*p);
        return;
    }
    // Applied once the hash is ready; the room is looked up again by name, since it may have
    // been deleted (or unloaded) meanwhile.
    const QString name = r->name;
    auto apply = [this, by, name](QByteArray hash, QByteArray salt, int iterations) {
        Problem problem;
        Room *room = this->room(name, false, &problem);
        if (!room || room->roleOf(by->userId()) != pb::ROLE_OWNER)
            return;
        WallAccess access = room->access;
        access.passwordHash = hash;
        access.passwordSalt = salt;
        access.passwordIterations = iterations;
        if (!m_directory->saveWallAccess(room->wallId, access)) {
            by->refuse({pb::STORAGE_UNAVAILABLE,
                        QStringLiteral("The server could not store the new password; the wall "
                                       "keeps the old one. Try again later."),
                        {}});
            return;
        }
        room->access = access;
        // Whoever is on the wall now stays and may come back without the new password; anybody
        // else who was let in with the old one needs the new one.
        room->admitted.clear();
        for (Session *m : room->members)
            room->admitted.insert(m->userId());
        qCInfo(lcServer) << "user" << by->userId()
                         << (hash.isEmpty() ? "removed the password of" : "set a password on") << name;
        broadcastWallState(room);
    };
    if (password.isEmpty()) {
        apply({}, {}, 0);
        return;
    }
    // One derivation at a time per connection, as for joins: PBKDF2 is slow on purpose, and a
    // client that sent SET_PASSWORD in a loop would otherwise queue them on the thread pool.
    if (by->joinPending()) {
        by->refuse({pb::INVALID_OP,
                    QStringLiteral("A password change or join is already under way on this "
                                   "connection; wait for its answer."),
                    {}});
        return;
    }
    const QByteArray salt = randomBytes(limits::kPasswordSaltBytes);
    const int iterations = m_options.passwordIterations;
    deriveThen(by, password, salt, iterations, false,
               [apply, salt, iterations](QByteArray hash) { apply(std::move(hash), salt, iterations); });
}

void WallServer::deleteRoom(Room *room, Session *by)
{
    // After the ops sequenced before it; every member is told as it takes effect (at once on
    // one server; in a cluster on every server as the deletion reaches it: forgetDeletedRoom).
    const QString name = room->name;
    if (auto p = m_log->deleteWall(room, by))
        by->refuse(*p);
    else
        qCInfo(lcServer) << "wall" << name << "deleted by user" << by->userId();
}

void WallServer::forgetDeletedRoom(Room *room)
{
    const QString name = room->name;
    for (Session *s : std::vector<Session *>(room->members)) {
        s->fail({pb::WALL_DELETED,
                 QStringLiteral("The owner deleted the wall \"%1\"; join another wall.").arg(name),
                 {}});
    }
    // Whoever waited for the wall's ops (the HTTP API) is answered: they will not land.
    m_log->unload(room);
    m_rooms.erase(name);
}

bool WallServer::flush()
{
    return m_storage ? m_log->flush() : true;
}

void WallServer::landed(Room *room, pb::Op op)
{
    const std::uint64_t seq = op.seq();
    room->opBytesSinceSnapshot += std::uint64_t(fanout::sendOp(room->members, std::move(op)));
    emit opCommitted(room->name, seq);
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
    if (auto p = boxProblem(QStringLiteral("selection box"), cursor.selection_x(), cursor.selection_y(),
                            cursor.selection_width(), cursor.selection_height())) {
        session->refuse(*p);
        return;
    }
    if (cursor.has_preview()) {
        if (auto p = WallModel::checkPreview(cursor.preview())) {
            session->refuse(*p);
            return;
        }
    }
    if (auto p = boxProblem(QStringLiteral("view"), cursor.view_x(), cursor.view_y(), cursor.view_width(),
                            cursor.view_height())) {
        session->refuse(*p);
        return;
    }
    if (cursor.presenting() && session->room()->roleOf(session->userId()) == pb::ROLE_MEMBER) {
        // Refused; the cursor still goes, as a member's.
        cursor.set_presenting(false);
        session->refuse(notPermitted(QStringLiteral("Presenting (everyone's view following yours)"),
                                     pb::ROLE_MODERATOR));
    }
    bool flooding = false;
    const bool now = session->admitCursor(cursor, &flooding);
    if (flooding) {
        // Once a second at most: the error must not become the flood.
        session->refuse(limitProblem(limits::kMaxCursorsPerSecondName,
                                     QStringLiteral("Cursor positions are coming much faster than "
                                                    "the %1 a second that are passed on (limit %2); "
                                                    "send fewer.")
                                         .arg(limits::kMaxCursorsPerSecond)
                                         .arg(QLatin1String(limits::kMaxCursorsPerSecondName))));
    }
    if (now)
        broadcastCursor(session, std::move(cursor));
}

void WallServer::broadcastCursor(Session *session, pb::Cursor cursor)
{
    if (!session->room())
        return;
    cursor.set_user_id(session->userId());
    pb::Envelope env;
    *env.mutable_cursor() = cursor;
    const QByteArray bytes = serialize(env);
    if (m_cluster)
        m_cluster->publishCursor(session->room(), session->userId(), bytes);
    fanout::broadcastEphemeral(session->room()->members, bytes, session);
}

void WallServer::sendHistory(Session *session, const pb::HistoryRequest &request)
{
    if (!session->takeHistoryToken()) {
        session->refuse(limitProblem(limits::kMaxHistoryRequestsPerMinuteName,
                                     QStringLiteral("Chat history was asked for too often (limit "
                                                    "%1: %2 pages a minute); wait a few seconds, "
                                                    "then ask again.")
                                         .arg(QLatin1String(limits::kMaxHistoryRequestsPerMinuteName))
                                         .arg(limits::kMaxHistoryRequestsPerMinute)));
        return;
    }
    if (!recover(session->room(), true)) {
        session->refuse(unavailableProblem(session->room()));
        return;
    }
    const int limit = std::clamp<int>(int(request.limit()), 1, limits::kMaxHistoryPage);
    std::vector<pb::Op> chat;
    // One more than asked tells whether older messages exist (after after_seq: a returning
    // client filling what it missed, Joined.more_chat).
    chatBefore(session->room()->name, session->room()->wallId, request.before_seq(), limit + 1, &chat);
    std::erase_if(chat, [&](const pb::Op &op) { return op.seq() <= request.after_seq(); });
    pb::Envelope env;
    pb::History *history = env.mutable_history();
    history->set_more(int(chat.size()) > limit);
    if (int(chat.size()) > limit)
        chat.resize(size_t(limit));
    for (auto it = chat.rbegin(); it != chat.rend(); ++it)
        *history->add_chat() = std::move(*it);
    session->send(serialize(env));
}

void WallServer::sendOps(Session *session, const pb::OpsRequest &request)
{
    if (!session->takeHistoryToken()) {
        session->refuse(limitProblem(limits::kMaxHistoryRequestsPerMinuteName,
                                     QStringLiteral("The wall's past was asked for too often (limit "
                                                    "%1: %2 pages a minute); wait a few seconds, "
                                                    "then ask again.")
                                         .arg(QLatin1String(limits::kMaxHistoryRequestsPerMinuteName))
                                         .arg(limits::kMaxHistoryRequestsPerMinute)));
        return;
    }
    Room *r = session->room();
    if (!recover(r, true)) {
        session->refuse(unavailableProblem(r));
        return;
    }
    pb::Envelope env;
    pb::OpsPage *page = env.mutable_ops_page();
    const std::uint64_t head = r->committedSeq;
    page->set_after_seq(request.after_seq());
    page->set_head_seq(head);
    if (request.after_seq() < head) {
        const int limit = std::clamp<int>(int(request.limit()), 1, limits::kMaxOpsPage);
        std::vector<pb::Op> ops;
        bool read = m_log->opsAfter(r, request.after_seq(), limit, &ops);
        if (!read) {
            // Older than the log keeps, or than this server has read it from: where history
            // starts instead (reading on from it may need the base to have been read).
            QByteArray base;
            if (m_log->historyBase(r, &base)) {
                read = m_log->opsAfter(r, request.after_seq(), limit, &ops);
                if (!read)
                    page->set_base(base.constData(), size_t(base.size()));
            }
            page->set_gone(!read);
        }
        if (read) {
            size_t bytes = 0;
            for (pb::Op &op : ops) {
                bytes += op.ByteSizeLong();
                // Never past what members have seen; the first op always, however big.
                if (op.seq() > head || (bytes > size_t(limits::kMaxOpsPageBytes) && page->ops_size() > 0))
                    break;
                *page->add_ops() = std::move(op);
            }
        }
    }
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
