#include "server/httpfront.h"

#include "core/limits.h"
#include "server/cluster.h"
#include "server/imagestore.h"
#include "server/security.h"
#include "server/wallserver.h"
#include "server/wsconnection.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QPointer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QCryptographicHash>
#include <QUrlQuery>

#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcHttp, "scrawl.server.http", QtInfoMsg)

namespace scrawl {

namespace {

using Status = QHttpServerResponder::StatusCode;

class ConnectionCount : public QObject
{
public:
    ConnectionCount(QObject *socket, std::shared_ptr<AddressGuard> guard, QHostAddress peer)
        : QObject(socket)
        , m_guard(std::move(guard))
        , m_peer(std::move(peer))
    {
    }
    ~ConnectionCount() override { m_guard->connectionClosed(m_peer); }

private:
    std::shared_ptr<AddressGuard> m_guard;
    QHostAddress m_peer;
};

// Accepted sockets get TCP_NODELAY: without it small frames wait for delayed ACKs (Nagle).
// Set on a socket once a whole request arrived on it (HTTP or WebSocket upgrade).
constexpr const char *kRequestSeen = "scrawlRequestSeen";
// Counts HTTP requests on a keep-alive socket, so that an idle timer knows if it is stale.
constexpr const char *kRequestCount = "scrawlRequestCount";
// The object name of a keep-alive connection's idle timer (HttpFront::closeWhenIdle).
constexpr const char *kIdleTimer = "scrawlIdleTimer";

} // namespace

// The head of an HTTP request (request line and headers), enough to tell and answer a
// WebSocket upgrade (RFC 6455 4.2).
struct RequestHead
{
    QByteArray method;
    QByteArray target;
    QByteArray version;
    std::map<QByteArray, QByteArray> headers; // names in lower case; repeated ones joined by ','
    qsizetype size = 0;                        // bytes, the blank line included

    static RequestHead parse(const QByteArray &bytes)
    {
        RequestHead head;
        head.size = bytes.size();
        const QList<QByteArray> lines = bytes.split('\n');
        const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
        head.method = first.value(0);
        head.target = first.value(1);
        head.version = first.value(2);
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon <= 0)
                continue;
            const QByteArray name = lines[i].left(colon).trimmed().toLower();
            const QByteArray value = lines[i].mid(colon + 1).trimmed();
            QByteArray &slot = head.headers[name];
            slot = slot.isEmpty() ? value : slot + ',' + value;
        }
        return head;
    }
    QByteArray value(const char *name) const
    {
        const auto it = headers.find(QByteArray(name));
        return it == headers.end() ? QByteArray() : it->second;
    }
    // A header's comma-separated tokens include `token` (case-insensitive).
    bool hasToken(const char *name, const char *token) const
    {
        for (const QByteArray &t : value(name).split(','))
            if (t.trimmed().compare(token, Qt::CaseInsensitive) == 0)
                return true;
        return false;
    }
    bool isWebSocketUpgrade() const { return hasToken("upgrade", "websocket"); }
};

namespace {

// Per-address connection limits are enforced here, before a byte is read. With TLS, a socket is
// handed to QtHttpServer only once its handshake is done: QtHttpServer 6.4's sslSetup() only
// applies to its own listen(), not to a QTcpServer given to bind(), so TLS is done here.
void refuseUpgrade(QTcpSocket *socket, const char *status, const QString &message,
                   const QByteArray &extraHeaders = {});

// A request whose head announces a body over what its route takes is answered 413 from the head
// alone, before QtHttpServer reads (and holds) the body: image uploads take max_image_bytes,
// everything else max_http_body_bytes. Returns true when it refused.
bool refuseOversizedBody(QTcpSocket *socket, const RequestHead &head)
{
    const auto length = head.headers.find("content-length");
    if (length == head.headers.end())
        return false;
    bool ok = false;
    const qint64 bytes = length->second.trimmed().toLongLong(&ok);
    if (!ok)
        return false; // QtHttpServer's parser answers a malformed length itself
    const qsizetype query = head.target.indexOf('?');
    const QByteArray path = query < 0 ? head.target : head.target.left(query);
    const bool image = path.startsWith("/api/walls/") && path.endsWith("/images");
    const qint64 max = image ? limits::kMaxImageBytes : limits::kMaxHttpBodyBytes;
    const char *name = image ? limits::kMaxImageBytesName : limits::kMaxHttpBodyBytesName;
    if (bytes <= max)
        return false;
    const QByteArray body =
        QJsonDocument(
            QJsonObject{
                {QStringLiteral("error"),
                 QStringLiteral("The request announces %1 bytes; the limit %2 is %3 bytes. %4")
                     .arg(bytes)
                     .arg(QLatin1String(name))
                     .arg(max)
                     .arg(image ? QStringLiteral("Scale the image down and upload it again.")
                                : QStringLiteral("Send less."))},
                {QStringLiteral("limit"), QLatin1String(name)}})
            .toJson(QJsonDocument::Compact);
    socket->write("HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: "
                  + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    // A client that is still sending reads the answer only once its send stops failing: what it
    // sends is read and dropped (never held) until it has sent what it announced, at most
    // kDrainBytes or kDrainMs, and then the connection ends.
    constexpr qint64 kDrainBytes = 2 * limits::kMaxImageBytes;
    constexpr int kDrainMs = 5000;
    const qint64 until = std::min(bytes, kDrainBytes);
    auto drained = std::make_shared<qint64>(0);
    auto drain = [socket, drained, until] {
        *drained += socket->skip(socket->bytesAvailable());
        if (*drained >= until)
            socket->disconnectFromHost();
    };
    QObject::connect(socket, &QIODevice::readyRead, socket, drain);
    // Nobody else owns it (QtHttpServer never saw it): its end releases its address's count.
    QObject::connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
    drain();
    QTimer::singleShot(kDrainMs, socket, [socket] { socket->disconnectFromHost(); });
    return true;
}

class GuardedTcpServer : public QTcpServer
{
public:
    GuardedTcpServer(QObject *parent, int requestTimeoutMs, std::optional<QSslConfiguration> tls,
                     std::shared_ptr<AddressGuard> guard)
        : QTcpServer(parent)
        , m_requestTimeoutMs(requestTimeoutMs)
        , m_tls(std::move(tls))
        , m_guard(std::move(guard))
    {
    }

protected:
    void incomingConnection(qintptr handle) override
    {
        QTcpSocket *socket = m_tls ? new QSslSocket(this) : new QTcpSocket(this);
        if (!socket->setSocketDescriptor(handle)) {
            delete socket;
            return;
        }
        const QHostAddress peer = socket->peerAddress();
        if (const char *limit = m_guard->admitConnection(peer)) {
            qCInfo(lcHttp) << "refusing a connection from" << peer << "(limit" << limit << ")";
            socket->abort();
            socket->deleteLater();
            return;
        }
        // Counted while the socket object lives: a child object releases the count when the
        // socket is deleted. (Signal connections would not do: QWebSocket disconnects every
        // signal of the socket it takes over, destroyed() included.)
        new ConnectionCount(socket, m_guard, peer);
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        // QtHttpServer 6.4 waits forever for a request that never completes (slowloris): a
        // connection without a whole request after the hello timeout is cut (with TLS, the
        // handshake counts in that time).
        QTimer::singleShot(m_requestTimeoutMs, socket, [socket] {
            if (!socket->property(kRequestSeen).toBool()) {
                qCInfo(lcHttp) << "no complete request from" << socket->peerAddress()
                               << "in time; closing";
                socket->abort();
            }
        });
        if (!m_tls) {
            sniff(socket);
            return;
        }
        auto *ssl = static_cast<QSslSocket *>(socket);
        ssl->setSslConfiguration(*m_tls);
        connect(ssl, &QSslSocket::encrypted, this, [this, ssl] { sniff(ssl); });
        connect(ssl, &QSslSocket::sslErrors, ssl, [ssl](const QList<QSslError> &errors) {
            qCInfo(lcHttp) << "TLS handshake with" << ssl->peerAddress() << "failed:" << errors;
        });
        // Until the handshake is done nobody else owns the socket: clean up after a failure,
        // and cut off a peer that never finishes it.
        connect(ssl, &QSslSocket::disconnected, ssl, [ssl] {
            if (!ssl->isEncrypted())
                ssl->deleteLater();
        });
        connect(ssl, &QAbstractSocket::errorOccurred, ssl, [ssl](QAbstractSocket::SocketError) {
            if (!ssl->isEncrypted()) {
                qCDebug(lcHttp) << "TLS connection from" << ssl->peerAddress()
                                << "failed:" << ssl->errorString();
                ssl->abort();
                ssl->deleteLater();
            }
        });
        QTimer::singleShot(limits::kHelloTimeoutMs, ssl, [ssl] {
            if (!ssl->isEncrypted()) {
                ssl->abort();
                ssl->deleteLater();
            }
        });
        ssl->startServerEncryption();
    }

private:
    // Looks at the request's head without taking it: a WebSocket upgrade goes to `upgrade` (the
    // server's own WebSocket, server/wsconnection.h), anything else to QtHttpServer.
    void sniff(QTcpSocket *socket)
    {
        auto *watch = new QObject(socket); // deleted once decided: ends the connection below
        auto decide = [this, socket, watch] {
            const QByteArray peeked = socket->peek(limits::kMaxUpgradeRequestBytes);
            const qsizetype end = peeked.indexOf("\r\n\r\n");
            if (end < 0 && peeked.size() < limits::kMaxUpgradeRequestBytes)
                return; // the head is still arriving
            delete watch;
            if (end >= 0) {
                RequestHead head = RequestHead::parse(peeked.left(end + 4));
                if (head.isWebSocketUpgrade()) {
                    socket->setProperty(kRequestSeen, true);
                    upgrade(socket, head);
                    return;
                }
                if (refuseOversizedBody(socket, head))
                    return;
            }
            addPendingConnection(socket);
            emit newConnection();
            // What arrived before QtHttpServer listened: it reads on readyRead.
            QMetaObject::invokeMethod(
                socket,
                [socket] {
                    if (socket->bytesAvailable() > 0)
                        emit socket->readyRead();
                },
                Qt::QueuedConnection);
        };
        connect(socket, &QIODevice::readyRead, watch, decide);
        if (socket->bytesAvailable() > 0)
            decide();
    }

public:
    std::function<void(QTcpSocket *, const RequestHead &)> upgrade;

private:
    int m_requestTimeoutMs;
    std::optional<QSslConfiguration> m_tls;
    std::shared_ptr<AddressGuard> m_guard;
};

// The address a connection is counted under. Behind a trusted reverse proxy that is the last
// X-Forwarded-For entry (the address the proxy itself saw); earlier entries are the client's own
// claims and are ignored. Anyone else's X-Forwarded-For is ignored too: it would be a free way
// around the per-address limits.
QHostAddress clientAddress(const QHostAddress &peer, const RequestHead &head,
                           const QList<QHostAddress> &trustedProxies)
{
    bool trusted = false;
    for (const QHostAddress &proxy : trustedProxies)
        trusted |= peer.isEqual(proxy, QHostAddress::TolerantConversion);
    if (!trusted)
        return peer;
    const QList<QByteArray> hops = head.value("x-forwarded-for").split(',');
    const QHostAddress forwarded(QString::fromLatin1(hops.last().trimmed()));
    return forwarded.isNull() ? peer : forwarded;
}

// A refused upgrade: the status line, a JSON body that says why, and the end of the connection.
void refuseUpgrade(QTcpSocket *socket, const char *status, const QString &message,
                   const QByteArray &extraHeaders)
{
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("error"), message}})
                                .toJson(QJsonDocument::Compact);
    socket->write(QByteArray("HTTP/1.1 ") + status + "\r\nContent-Type: application/json\r\n"
                  + "Content-Length: " + QByteArray::number(body.size()) + "\r\n" + extraHeaders
                  + "Connection: close\r\n\r\n" + body);
    socket->disconnectFromHost();
}

// The API token: "Authorization: Bearer TOKEN", or ?token=TOKEN for quick scripts.
QByteArray requestToken(const QHttpServerRequest &request)
{
    const QByteArray auth = request.value("authorization").trimmed();
    if (auth.size() > 7 && auth.left(7).compare("bearer ", Qt::CaseInsensitive) == 0)
        return auth.mid(7).trimmed();
    return request.query().queryItemValue(QStringLiteral("token")).toUtf8();
}

QJsonObject chatJson(const pb::Op &op)
{
    return {{QStringLiteral("seq"), qint64(op.seq())},
            {QStringLiteral("author"), fromWire(op.chat().author_name())},
            {QStringLiteral("author_id"), qint64(op.author())},
            {QStringLiteral("color"), QStringLiteral("#%1").arg(op.chat().author_color(), 6, 16,
                                                                  QLatin1Char('0'))},
            {QStringLiteral("text"), fromWire(op.chat().text())},
            {QStringLiteral("time_ms"), qint64(op.time_ms())}};
}

// Seconds a client is told to wait (Retry-After) when the server cannot take its request now.
constexpr int kRetryAfterSeconds = 1;

void replyError(QHttpServerResponder &responder, Status status, const QString &message,
                const QString &limit = {})
{
    QJsonObject body{{QStringLiteral("error"), message}};
    if (!limit.isEmpty())
        body.insert(QStringLiteral("limit"), limit);
    // 503 is "not now": say when to try again (RFC 9110 10.2.3), so a bot backs off instead of
    // hammering a server that waits for its disk.
    if (status == Status::ServiceUnavailable)
        responder.write(QJsonDocument(body),
                        {{"Content-Type", "application/json"},
                         {"Retry-After", QByteArray::number(kRetryAfterSeconds)}},
                        status);
    else
        responder.write(QJsonDocument(body), status);
}

} // namespace

HttpFront::HttpFront(WallServer *server)
    : QAbstractHttpServer(server)
    , m_server(server)
{
}

// RFC 6455 4.2: checks the upgrade, answers 101, and hands the connection to the WallServer on
// the server's own WebSocket (server/wsconnection.h). A plain TCP connection leaves its
// QTcpSocket here: the descriptor is taken over (duplicated, then Qt's copy closed).
void HttpFront::upgrade(QTcpSocket *socket, const RequestHead &head)
{
    if (head.method != "GET") {
        refuseUpgrade(socket, "405 Method Not Allowed",
                      QStringLiteral("A WebSocket upgrade must be a GET request."));
        return;
    }
    if (head.value("sec-websocket-version").trimmed() != "13") {
        refuseUpgrade(socket, "426 Upgrade Required",
                      QStringLiteral("This server speaks WebSocket version 13 only (RFC 6455); "
                                     "the client asked for version \"%1\".")
                          .arg(QString::fromLatin1(head.value("sec-websocket-version"))),
                      "Sec-WebSocket-Version: 13\r\n");
        return;
    }
    const QByteArray key = head.value("sec-websocket-key").trimmed();
    if (QByteArray::fromBase64(key).size() != 16 || !head.hasToken("connection", "upgrade")) {
        refuseUpgrade(socket, "400 Bad Request",
                      QStringLiteral("This WebSocket upgrade lacks a valid Sec-WebSocket-Key or "
                                     "\"Connection: Upgrade\" (RFC 6455 4.1)."));
        return;
    }
    const QByteArray accept = QCryptographicHash::hash(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                                                       QCryptographicHash::Sha1)
                                  .toBase64();
    const QByteArray answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                              + accept + "\r\n\r\n";
    const QHostAddress peer = clientAddress(socket->peerAddress(), head,
                                            m_server->options().trustedProxies);
    socket->read(head.size);
    QByteArray early = socket->readAll();
    WsConnection *connection = nullptr;
    if (auto *ssl = qobject_cast<QSslSocket *>(socket)) {
        ssl->write(answer);
        ssl->disconnect(this);
        connection = new WsConnection(ssl, m_server->wsHub(), std::move(early));
    } else {
        const int fd = ::dup(int(socket->socketDescriptor()));
        if (fd < 0 || ::send(fd, answer.constData(), size_t(answer.size()), MSG_NOSIGNAL) != answer.size()) {
            qCWarning(lcHttp) << "could not take over a WebSocket from" << peer << ":"
                              << strerror(errno);
            if (fd >= 0)
                ::close(fd);
            socket->abort();
            socket->deleteLater();
            return;
        }
        connection = new WsConnection(fd, m_server->wsHub(), std::move(early));
        // The per-address count goes with the connection, not with Qt's socket object.
        for (QObject *child : socket->children()) {
            if (dynamic_cast<ConnectionCount *>(child))
                child->setParent(connection);
        }
        socket->abort(); // closes Qt's descriptor; the connection lives on in `fd`
        socket->deleteLater();
    }
    m_server->adopt(connection, peer);
}

quint16 HttpFront::listenOn(const QHostAddress &host, quint16 port, const QSslConfiguration *tls,
                            std::shared_ptr<AddressGuard> guard)
{
    auto *tcp = new GuardedTcpServer(this, m_server->options().helloTimeoutMs,
                                     tls ? std::optional<QSslConfiguration>(*tls) : std::nullopt,
                                     std::move(guard));
    if (!tcp->listen(host, port)) {
        m_listenError = tcp->errorString();
        delete tcp;
        return 0;
    }
    tcp->upgrade = [this](QTcpSocket *socket, const RequestHead &head) { upgrade(socket, head); };
    bind(tcp);
    return tcp->serverPort();
}

bool HttpFront::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    socket->setProperty(kRequestSeen, true);
    closeWhenIdle(socket);
    // A WebSocket upgrade is taken before QtHttpServer sees the connection (GuardedTcpServer::
    // sniff); one here came after an HTTP request on the same connection. Answering it also
    // keeps QtHttpServer from handing it to its own QWebSocketServer.
    if (request.value("upgrade").compare("websocket", Qt::CaseInsensitive) == 0) {
        QHttpServerResponder responder = makeResponder(request, socket);
        replyError(responder, Status::BadRequest,
                   QStringLiteral("A WebSocket upgrade must be the first request on its "
                                  "connection; open a new connection for it."));
        return true;
    }
    const QString path = request.url().path(QUrl::FullyDecoded);
    const auto method = request.method();
    qCDebug(lcHttp) << method << path;
    if (path == QLatin1String("/")) {
        // The WebSocket endpoint asked for in plain HTTP: say what it is.
        QHttpServerResponder responder = makeResponder(request, socket);
        replyError(responder, Status::UpgradeRequired,
                   QStringLiteral("This is a Scrawl WebSocket endpoint; connect with the Scrawl "
                                  "app, or use /health and /api/walls over HTTP."));
        return true;
    }
    const bool known = path == QLatin1String("/health") || path.startsWith(QLatin1String("/api/"));
    if (!known)
        return false;
    QHttpServerResponder responder = makeResponder(request, socket);

    if (path == QLatin1String("/health")) {
        // "unavailable": walls that storage could not read back after a failed commit refuse
        // everything until a reload succeeds; "degraded": the last commit failed.
        // In a cluster, "holding" while the shared store cannot be reached (changes are held:
        // a Redis restart passes without anybody moving), then "unavailable" once that has
        // lasted kClusterRedisGraceMs: the server sends its people elsewhere and the load
        // balancer's check sends nobody new.
        const QStringList unavailable = m_server->unavailableWalls();
        const Cluster *cluster = m_server->cluster();
        const bool clusterDown = cluster && !cluster->ready();
        const bool outOfService = cluster && cluster->outOfService();
        QJsonObject health{
            {QStringLiteral("status"), !unavailable.isEmpty() || outOfService ? QStringLiteral("unavailable")
                                       : clusterDown                          ? QStringLiteral("holding")
                                       : m_server->storageHealthy()           ? QStringLiteral("ok")
                                                                              : QStringLiteral("degraded")},
            {QStringLiteral("version"), QLatin1String(kAppVersion)},
            {QStringLiteral("protocol"), int(kProtocolVersion)},
            {QStringLiteral("clients"), m_server->sessionCount()}};
        // Backpressure (WsHub): whether reading is paused now, how often and how long it was,
        // and the output waiting in the server (a frame counted once per connection).
        WsHub *hub = m_server->wsHub();
        health.insert(QStringLiteral("output"),
                      QJsonObject{{QStringLiteral("reading_paused"), hub->readingPaused()},
                                  {QStringLiteral("pauses"), qint64(hub->pauseCount())},
                                  {QStringLiteral("paused_ms"), hub->pausedMs()},
                                  {QStringLiteral("queued_bytes"), hub->queuedBytes()}});
        if (cluster) {
            health.insert(QStringLiteral("cluster"),
                          QJsonObject{{QStringLiteral("redis"), cluster->address().toString()},
                                      {QStringLiteral("ready"), cluster->ready()}});
        }
        if (clusterDown) {
            health.insert(QStringLiteral("problem"),
                          outOfService
                              ? QStringLiteral("The cluster's shared store cannot be reached: %1. This server "
                                               "sent its people to other servers and takes no changes until "
                                               "it is back.")
                                    .arg(cluster->problem())
                              : QStringLiteral("The cluster's shared store cannot be reached: %1. This server "
                                               "holds changes until it is back, for up to %2 s before it "
                                               "sends its people to other servers.")
                                    .arg(cluster->problem())
                                    .arg(limits::kClusterRedisGraceMs / 1000));
        }
        if (!unavailable.isEmpty()) {
            health.insert(QStringLiteral("unavailable_walls"), QJsonArray::fromStringList(unavailable));
            health.insert(QStringLiteral("problem"),
                          QStringLiteral("Storage cannot read back %1 wall(s) after a failed "
                                         "commit; check the disk and the database file in the "
                                         "data directory. The server retries by itself.")
                              .arg(unavailable.size()));
        }
        // 503 once the cluster's store has been out of reach past the grace: a load balancer's
        // check (HAProxy's httpchk) takes the server out by its status code alone. A wall
        // storage cannot read back is that wall's problem: the server serves the others (200).
        responder.write(QJsonDocument(health), outOfService ? Status::ServiceUnavailable : Status::Ok);
        return true;
    }
    if (path == QLatin1String("/api/walls")) {
        if (method != QHttpServerRequest::Method::Get) {
            replyError(responder, Status::MethodNotAllowed, QStringLiteral("Use GET on /api/walls."));
            return true;
        }
        QJsonArray walls;
        std::map<QString, int> online;
        for (Room *r : m_server->loadedRooms())
            online[r->name] = int(r->members.size());
        for (const WallSummary &w : m_server->directory().walls()) {
            const auto it = online.find(w.name);
            walls.append(QJsonObject{{QStringLiteral("name"), w.name},
                                     {QStringLiteral("online"), it == online.end() ? 0 : it->second},
                                     {QStringLiteral("ops"), qint64(w.ops)}});
        }
        responder.write(QJsonDocument(QJsonObject{{QStringLiteral("walls"), walls}}));
        return true;
    }
    if (handleImages(request, socket, path))
        return true;
    static const QString prefix = QStringLiteral("/api/walls/");
    static const QString suffix = QStringLiteral("/messages");
    if (path.startsWith(prefix) && path.endsWith(suffix)
        && path.size() > prefix.size() + suffix.size()) {
        const QString wall = path.mid(prefix.size(), path.size() - prefix.size() - suffix.size());
        // Anyone may send this, so it never creates a wall, and reading does not load one into
        // memory either: a wall not in use is answered from storage (its access record and
        // chat rows), and only a POST, once its token is checked, loads it.
        Room *room = m_server->loadedRoom(wall);
        std::optional<StoredWall> stored;
        WallAccess storedAccess;
        if (!room) {
            stored = m_server->directory().findWall(wall);
            if (!stored) {
                replyError(responder, Status::NotFound,
                           QStringLiteral("There is no wall named \"%1\"; join it from the app "
                                          "first to create it.").arg(wall));
                return true;
            }
            // A wall from before owners existed has no record: open, and without a token yet.
            storedAccess = m_server->directory().wallAccess(stored->id).value_or(WallAccess{});
        }
        const WallAccess &access = room ? room->access : storedAccess;
        const bool tokenOk = m_server->apiTokenMatches(access, requestToken(request));
        const bool needsToken = method == QHttpServerRequest::Method::Post
                             || access.hasPassword();
        if (needsToken && !tokenOk) {
            replyError(responder, Status::Unauthorized,
                       method == QHttpServerRequest::Method::Post
                           ? QStringLiteral("Posting to \"%1\" needs the wall's API token (the "
                                            "owner sees it in the app): send \"Authorization: "
                                            "Bearer TOKEN\".").arg(wall)
                           : QStringLiteral("The wall \"%1\" has a password; reading it needs the "
                                            "wall's API token: send \"Authorization: Bearer "
                                            "TOKEN\".").arg(wall));
            return true;
        }
        if (method == QHttpServerRequest::Method::Get) {
            bool ok = true;
            const QUrlQuery query = request.query();
            const QString afterText = query.queryItemValue(QStringLiteral("after"));
            const qulonglong after = afterText.isEmpty() ? 0 : afterText.toULongLong(&ok);
            if (!ok) {
                replyError(responder, Status::BadRequest,
                           QStringLiteral("'after' must be a sequence number, got \"%1\".").arg(afterText));
                return true;
            }
            const QString limitText = query.queryItemValue(QStringLiteral("limit"));
            const int limit = limitText.isEmpty() ? limits::kMaxHistoryPage : limitText.toInt(&ok);
            if (!ok || limit < 1 || limit > limits::kMaxHistoryPage) {
                replyError(responder, Status::BadRequest,
                           QStringLiteral("'limit' must be 1 to %1.").arg(limits::kMaxHistoryPage));
                return true;
            }
            // What storage holds is committed: the answer never shows an op that a crash could
            // still take back, and it does not wait for the ops being committed now (a GET on a
            // busy wall must not stall the server behind its disk). head_seq is as far as this
            // answer saw: the wall's committed head, or a newer committed message.
            std::vector<pb::Op> chat;
            m_server->chatAfter(wall, room ? room->wallId : stored->id, after, limit, &chat);
            QJsonArray messages;
            std::uint64_t head = room ? room->committedSeq : stored->headSeq;
            for (const pb::Op &op : chat) {
                messages.append(chatJson(op));
                head = std::max<std::uint64_t>(head, op.seq());
            }
            responder.write(QJsonDocument(QJsonObject{{QStringLiteral("wall"), wall},
                                                      {QStringLiteral("head_seq"), qint64(head)},
                                                      {QStringLiteral("messages"), messages}}));
            return true;
        }
        if (method == QHttpServerRequest::Method::Post) {
            const QByteArray body = request.body();
            if (body.size() > limits::kMaxHttpBodyBytes) {
                replyError(responder, Status::PayloadTooLarge,
                           QStringLiteral("The request body has %1 bytes; the limit %2 is %3.")
                               .arg(body.size())
                               .arg(QLatin1String(limits::kMaxHttpBodyBytesName))
                               .arg(limits::kMaxHttpBodyBytes),
                           QString::fromLatin1(limits::kMaxHttpBodyBytesName));
                return true;
            }
            QJsonParseError parseError;
            const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
            if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
                replyError(responder, Status::BadRequest,
                           QStringLiteral("The body must be a JSON object like {\"author\": \"bot\", "
                                          "\"text\": \"hello\"}; %1.")
                               .arg(parseError.error != QJsonParseError::NoError
                                        ? parseError.errorString()
                                        : QStringLiteral("it is not an object")));
                return true;
            }
            const QJsonObject obj = doc.object();
            const QJsonValue author = obj.value(QStringLiteral("author"));
            const QJsonValue text = obj.value(QStringLiteral("text"));
            if (!author.isString() || !text.isString()) {
                replyError(responder, Status::BadRequest,
                           QStringLiteral("Both \"author\" and \"text\" must be strings."));
                return true;
            }
            Problem problem;
            room = m_server->room(wall, false, &problem);
            if (!room) {
                replyError(responder, problem.code == pb::STORAGE_UNAVAILABLE ? Status::ServiceUnavailable
                                                                              : Status::NotFound,
                           problem.message);
                return true;
            }
            QString name;
            const TextRules nameRules{"author", limits::kMaxNameChars, limits::kMaxNameCharsName,
                                      false, false};
            if (auto p = decodeText(toWire(author.toString()), nameRules, &name)) {
                replyError(responder, Status::BadRequest, p->message, p->limit);
                return true;
            }
            pb::Op op;
            op.mutable_chat()->set_text(toWire(text.toString()));
            op.mutable_chat()->set_author_name(toWire(name.trimmed()));
            op.mutable_chat()->set_author_color(0x607d8b);
            // Answered once it is stored and on the wall, like a WebSocket acknowledgement,
            // without holding the server up meanwhile: a disk (or, in a cluster, a Redis) that
            // stalls delays this answer, not the rest of the server.
            auto shared = std::make_shared<QHttpServerResponder>(std::move(responder));
            m_server->submitAndWait(room, std::move(op), [shared, alive = QPointer<QTcpSocket>(socket)](
                                                             std::optional<pb::Op> landed, std::optional<Problem> p) {
                if (!alive)
                    return; // the client went away meanwhile
                if (p) {
                    // Refused for the server's state (its disk is behind: max_uncommitted_bytes,
                    // or the wall is unavailable) is 503, try again; refused for the message is 4xx.
                    replyError(*shared, p->code == pb::STORAGE_UNAVAILABLE ? Status::ServiceUnavailable
                                        : p->code == pb::LIMIT_EXCEEDED   ? Status::PayloadTooLarge
                                                                          : Status::BadRequest,
                               p->message, p->limit);
                    return;
                }
                shared->write(QJsonDocument(landed->has_chat() ? chatJson(*landed)
                                                               : QJsonObject{{QStringLiteral("seq"), qint64(landed->seq())}}),
                              Status::Created);
            });
            return true;
        }
        replyError(responder, Status::MethodNotAllowed,
                   QStringLiteral("Use GET or POST on %1.").arg(path));
        return true;
    }
    return false;
}

// /api/walls/NAME/images (POST: upload) and /api/walls/NAME/images/HASH (GET: download). Only a
// member on the wall now may do either, proven by the image token of their Joined (README,
// Security). Storing and reading the bytes run on the image store's thread; the answer goes out
// when they are done, on this connection if it is still open.
bool HttpFront::handleImages(const QHttpServerRequest &request, QTcpSocket *socket,
                             const QString &path)
{
    static const QString prefix = QStringLiteral("/api/walls/");
    static const QString images = QStringLiteral("/images");
    if (!path.startsWith(prefix))
        return false;
    QString wall;
    QByteArray hash;
    QString hashText;
    if (path.endsWith(images)) {
        wall = path.mid(prefix.size(), path.size() - prefix.size() - images.size());
    } else {
        const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
        if (slash < prefix.size() || !QStringView(path).left(slash).endsWith(images))
            return false;
        wall = path.mid(prefix.size(), slash - prefix.size() - images.size());
        hashText = path.mid(slash + 1);
        hash = ImageStore::hexToHash(hashText.toLatin1());
    }
    if (wall.isEmpty())
        return false;
    QHttpServerResponder responder = makeResponder(request, socket);
    const auto method = request.method();
    const bool upload = hashText.isNull();
    if (upload && method != QHttpServerRequest::Method::Post) {
        replyError(responder, Status::MethodNotAllowed,
                   QStringLiteral("Upload an image with POST on %1 (the body is the image).").arg(path));
        return true;
    }
    if (!upload && method != QHttpServerRequest::Method::Get) {
        replyError(responder, Status::MethodNotAllowed,
                   QStringLiteral("Download an image with GET on %1.").arg(path));
        return true;
    }
    if (!upload && hash.isEmpty()) {
        replyError(responder, Status::BadRequest,
                   QStringLiteral("\"%1\" is not an image hash: images are named by the 64 hex "
                                  "digits of their SHA-256.").arg(hashText));
        return true;
    }
    // Membership: the token names a user on the wall now. The wall is loaded while anybody is
    // on it; in a cluster they may be on another server, where this wall is not loaded here.
    Room *room = m_server->loadedRoom(wall);
    std::int64_t wallId = room && !room->unavailable ? room->wallId : 0;
    if (!room && m_server->cluster()) {
        if (const auto stored = m_server->directory().findWall(wall))
            wallId = stored->id;
    }
    const std::optional<std::uint64_t> user =
        wallId ? m_server->images().tokenUser(wallId, requestToken(request)) : std::nullopt;
    if (!wallId || !user || !m_server->isOnWall(wall, room, *user)) {
        replyError(responder, Status::Forbidden,
                   QStringLiteral("Only members on the wall \"%1\" can %2 its images: join it in "
                                  "the app and send the image token of that join as "
                                  "\"Authorization: Bearer TOKEN\".")
                       .arg(wall, upload ? QStringLiteral("upload") : QStringLiteral("download")));
        return true;
    }
    auto shared = std::make_shared<QHttpServerResponder>(std::move(responder));
    if (upload) {
        const QByteArray body = request.body();
        if (body.size() > limits::kMaxImageBytes) {
            replyError(*shared, Status::PayloadTooLarge,
                       QStringLiteral("The image has %1 bytes; the limit %2 is %3. Scale it down "
                                      "or save it as JPEG or WebP first.")
                           .arg(body.size())
                           .arg(QLatin1String(limits::kMaxImageBytesName))
                           .arg(limits::kMaxImageBytes),
                       QString::fromLatin1(limits::kMaxImageBytesName));
            return true;
        }
        if (!ImageStore::sniff(body)) {
            replyError(*shared, Status::UnsupportedMediaType,
                       QStringLiteral("This is not a PNG, JPEG, GIF or WebP image; only those can "
                                      "be put on a wall."));
            return true;
        }
        m_server->images().store(
            wallId, body, socket,
            [shared, wall, user = *user](const std::optional<ImageInfo> &info, const ImageProblem &p) {
                if (!info) {
                    replyError(*shared, Status(p.status), p.message, p.limit);
                    return;
                }
                qCInfo(lcHttp) << "image" << ImageStore::hashToHex(info->hash) << info->mime
                               << info->bytes << "bytes" << (info->added ? "stored" : "already stored")
                               << "for wall" << wall << "by user" << user;
                shared->write(QJsonDocument(QJsonObject{
                                  {QStringLiteral("hash"), QString::fromLatin1(ImageStore::hashToHex(info->hash))},
                                  {QStringLiteral("type"), QString::fromLatin1(info->mime)},
                                  {QStringLiteral("width"), info->width},
                                  {QStringLiteral("height"), info->height},
                                  {QStringLiteral("bytes"), info->bytes},
                                  {QStringLiteral("added"), info->added}}),
                              info->added ? Status::Created : Status::Ok);
            });
        return true;
    }
    // Images never change under their hash: the ETag is the hash, and a cached copy is good
    // for ever (private: it is for this member, not for shared caches).
    const QByteArray etag = '"' + ImageStore::hashToHex(hash) + '"';
    if (request.value("if-none-match").trimmed() == etag) {
        shared->write({{"ETag", etag}}, Status::NotModified);
        return true;
    }
    m_server->images().fetch(wallId, hash, socket, [shared, etag, wall](const std::optional<ImageBlob> &blob) {
        if (!blob) {
            replyError(*shared, Status::NotFound,
                       QStringLiteral("The wall \"%1\" has no image with this hash; upload it "
                                      "first.").arg(wall));
            return;
        }
        shared->write(blob->bytes,
                      {{"Content-Type", blob->mime},
                       {"ETag", etag},
                       {"Cache-Control", "private, max-age=31536000, immutable"},
                       {"X-Content-Type-Options", "nosniff"}},
                      Status::Ok);
    });
    return true;
}

void HttpFront::closeWhenIdle(QTcpSocket *socket)
{
    // A keep-alive HTTP connection that stays idle (or trickles a next request) for the peer
    // timeout is closed: idle sockets would otherwise pile up without bound.
    const int count = socket->property(kRequestCount).toInt() + 1;
    socket->setProperty(kRequestCount, count);
    // One timer per connection, restarted by each request: a timer per request would keep
    // every request of a busy keep-alive connection in memory for the whole timeout.
    auto *timer = socket->findChild<QTimer *>(QLatin1String(kIdleTimer), Qt::FindDirectChildrenOnly);
    if (!timer) {
        timer = new QTimer(socket);
        timer->setObjectName(QLatin1String(kIdleTimer));
        timer->setSingleShot(true);
        connect(timer, &QTimer::timeout, socket, [socket, timer] {
            if (socket->property(kRequestCount).toInt() == timer->property(kRequestCount).toInt()
                && socket->state() == QAbstractSocket::ConnectedState) {
                qCDebug(lcHttp) << "closing idle HTTP connection from" << socket->peerAddress();
                socket->disconnectFromHost();
            }
        });
    }
    timer->setProperty(kRequestCount, count);
    timer->start(m_server->options().peerTimeoutMs);
}

void HttpFront::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    socket->setProperty(kRequestSeen, true);
    closeWhenIdle(socket);
    QHttpServerResponder responder = makeResponder(request, socket);
    replyError(responder, Status::NotFound,
               QStringLiteral("Nothing here at %1. Try /health, /api/walls or "
                              "/api/walls/NAME/messages.")
                   .arg(request.url().path()));
}

} // namespace scrawl
