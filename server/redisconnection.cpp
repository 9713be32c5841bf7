#include "server/redisconnection.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QUrl>

#include <utility>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

namespace scrawl {

Q_LOGGING_CATEGORY(lcRedis, "scrawl.server.redis", QtInfoMsg)

// --- address ---------------------------------------------------------------------------------

std::optional<RedisAddress> RedisAddress::parse(const QString &text, QString *error)
{
    const QUrl url(text.trimmed(), QUrl::StrictMode);
    if (!url.isValid() || url.scheme() != QLatin1String("redis") || url.host().isEmpty()) {
        *error = QStringLiteral("\"%1\" is not a Redis address: give it as redis://HOST:PORT or "
                                "redis://HOST:PORT/DB (for example redis://127.0.0.1:6379).")
                     .arg(text);
        return std::nullopt;
    }
    if (!url.userInfo().isEmpty() || url.hasQuery() || url.hasFragment()) {
        *error = QStringLiteral("The Redis address \"%1\" has parts Scrawl does not use (a user, "
                                "a query or a fragment): give it as redis://HOST:PORT/DB.")
                     .arg(text);
        return std::nullopt;
    }
    RedisAddress address;
    address.host = url.host();
    const int port = url.port(6379);
    if (port <= 0 || port > 65535) {
        *error = QStringLiteral("The Redis address \"%1\" has no usable port.").arg(text);
        return std::nullopt;
    }
    address.port = quint16(port);
    QString path = url.path();
    if (path.startsWith(QLatin1Char('/')))
        path.remove(0, 1);
    if (!path.isEmpty()) {
        bool ok = false;
        address.db = path.toInt(&ok);
        if (!ok || address.db < 0 || address.db > 15) {
            *error = QStringLiteral("The Redis address \"%1\" names database \"%2\": give a "
                                    "number from 0 to 15 after the port.")
                         .arg(text, path);
            return std::nullopt;
        }
    }
    return address;
}

QString RedisAddress::toString() const
{
    return QStringLiteral("redis://%1:%2/%3").arg(host).arg(port).arg(db);
}

RedisReply RedisReply::error(const QByteArray &message)
{
    RedisReply reply;
    reply.type = Type::Error;
    reply.text = message;
    reply.connectionError = true;
    return reply;
}

namespace {

RedisReply fromHiredis(const redisReply *r)
{
    RedisReply out;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        out.type = RedisReply::Type::String;
        out.text = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        out.type = RedisReply::Type::Status;
        out.text = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        out.type = RedisReply::Type::Error;
        out.text = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::Integer;
        out.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::Array;
        out.elements.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i)
            out.elements.push_back(fromHiredis(r->element[i]));
        break;
    default:
        out.type = RedisReply::Type::Nil;
        break;
    }
    return out;
}

} // namespace


// --- connection ------------------------------------------------------------------------------

RedisConnection::RedisConnection(RedisAddress address, QObject *parent)
    : RedisConnection(std::move(address), Options{}, parent)
{
}

RedisConnection::RedisConnection(RedisAddress address, Options options, QObject *parent)
    : QObject(parent)
    , m_address(std::move(address))
    , m_options(options)
{
    m_clock.start();
    m_reconnectMs = m_options.reconnectFirstMs;
    m_reconnect.setSingleShot(true);
    connect(&m_reconnect, &QTimer::timeout, this, &RedisConnection::connectNow);
    m_watchdog.setInterval(std::max(20, std::min(m_options.commandTimeoutMs, m_options.keepAliveMs) / 4));
    connect(&m_watchdog, &QTimer::timeout, this, &RedisConnection::check);
}

RedisConnection::~RedisConnection()
{
    m_open = false;
    // Callbacks still waiting are told, as on any loss; they must not reach back into this
    // object, which is going.
    std::deque<Waiting> waiting;
    waiting.swap(m_waiting);
    if (m_socket)
        m_socket->abort();
    if (m_reader)
        redisReaderFree(m_reader);
    for (Waiting &w : waiting) {
        if (w.done && !w.internal)
            w.done(RedisReply::error("ERR the connection to Redis was closed"));
    }
}

void RedisConnection::open()
{
    if (m_open)
        return;
    m_open = true;
    m_watchdog.start();
    connectNow();
}

void RedisConnection::close()
{
    if (!m_open)
        return;
    drop(QStringLiteral("closed"));
    m_open = false;
    m_reconnect.stop();
    m_watchdog.stop();
    m_state = State::Closed;
}

void RedisConnection::connectNow()
{
    if (!m_open || m_socket)
        return;
    m_state = State::Connecting;
    m_reader = redisReaderCreate();
    m_socket = new QTcpSocket(this);
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    connect(m_socket, &QTcpSocket::connected, this, &RedisConnection::onConnected);
    connect(m_socket, &QTcpSocket::readyRead, this, &RedisConnection::onReadyRead);
    connect(m_socket, &QTcpSocket::errorOccurred, this, [this, socket = m_socket] {
        if (socket == m_socket)
            drop(socket->errorString());
    });
    m_lastHeardMs = m_clock.elapsed();
    m_socket->connectToHost(m_address.host, m_address.port);
}

void RedisConnection::onConnected()
{
    m_state = State::Loading;
    m_lastHeardMs = m_clock.elapsed();
    if (m_address.db != 0) {
        write({"SELECT", QByteArray::number(m_address.db)}, [this](const RedisReply &reply) {
            if (reply.isError())
                drop(QStringLiteral("Redis refused database %1: %2").arg(m_address.db).arg(QString::fromUtf8(reply.text)));
        }, true);
    }
    handshakeStep();
}

// PING until Redis has loaded its data (it answers -LOADING meanwhile), then subscribe again,
// then ready.
void RedisConnection::handshakeStep()
{
    write({"PING"}, [this, socket = QPointer<QTcpSocket>(m_socket)](const RedisReply &reply) {
        if (socket != m_socket || m_state != State::Loading)
            return;
        if (reply.isError()) {
            if (reply.text.startsWith("LOADING")) {
                m_problem = QStringLiteral("Redis at %1 is loading its data").arg(m_address.toString());
                QTimer::singleShot(100, this, [this, socket] {
                    if (socket == m_socket && socket && m_state == State::Loading)
                        handshakeStep();
                });
                return;
            }
            drop(QStringLiteral("Redis refused PING: %1").arg(QString::fromUtf8(reply.text)));
            return;
        }
        if (m_channels.empty()) {
            becomeReady();
            return;
        }
        // Subscribed again before ready: a PING after the SUBSCRIBEs is answered once Redis has
        // made all of them, so what is read after ready() cannot miss a message.
        for (const QByteArray &channel : m_channels)
            write({"SUBSCRIBE", channel}, {}, true);
        write({"PING"}, [this, socket](const RedisReply &) {
            if (socket == m_socket && m_state == State::Loading)
                becomeReady();
        }, true);
    }, true);
}

void RedisConnection::becomeReady()
{
    m_state = State::Ready;
    m_problem.clear();
    m_reconnectMs = m_options.reconnectFirstMs;
    QPointer<RedisConnection> self = this;
    for (auto &run : std::exchange(m_whenSubscribed, {})) {
        run();
        if (!self)
            return;
    }
    emit ready();
}

void RedisConnection::command(const std::vector<QByteArray> &args, Callback done)
{
    if (m_state != State::Ready) {
        const QByteArray why = "ERR not connected to Redis: "
                               + (m_problem.isEmpty() ? QByteArray("connecting") : m_problem.toUtf8());
        QTimer::singleShot(0, this, [done = std::move(done), why] {
            if (done)
                done(RedisReply::error(why));
        });
        return;
    }
    write(args, std::move(done), false);
}

void RedisConnection::subscribe(const QByteArray &channel, std::function<void()> subscribed)
{
    m_subscriber = true;
    if (!m_channels.insert(channel).second) {
        if (subscribed)
            QTimer::singleShot(0, this, std::move(subscribed));
        return;
    }
    if (m_state != State::Ready) {
        // The handshake subscribes; `subscribed` runs when it is done.
        if (subscribed)
            m_whenSubscribed.push_back(std::move(subscribed));
        return;
    }
    write({"SUBSCRIBE", channel}, [subscribed = std::move(subscribed)](const RedisReply &reply) {
        if (subscribed && !reply.isError())
            subscribed();
    }, true);
}

void RedisConnection::unsubscribe(const QByteArray &channel)
{
    if (m_channels.erase(channel) == 0)
        return;
    if (m_state == State::Ready)
        write({"UNSUBSCRIBE", channel}, {}, true);
}

QByteArray encodeRedisCommand(const std::vector<QByteArray> &args)
{
    QByteArray out;
    qsizetype size = 16;
    for (const QByteArray &a : args)
        size += a.size() + 16;
    out.reserve(size);
    out += '*';
    out += QByteArray::number(qsizetype(args.size()));
    out += "\r\n";
    for (const QByteArray &a : args) {
        out += '$';
        out += QByteArray::number(a.size());
        out += "\r\n";
        out += a;
        out += "\r\n";
    }
    return out;
}

void RedisConnection::write(const std::vector<QByteArray> &args, Callback done, bool internal)
{
    m_waiting.push_back({std::move(done), m_clock.elapsed(), internal});
    m_socket->write(encodeRedisCommand(args));
}

void RedisConnection::onReadyRead()
{
    QPointer<QTcpSocket> socket = m_socket;
    const QByteArray bytes = m_socket->readAll();
    if (bytes.isEmpty())
        return;
    m_lastHeardMs = m_clock.elapsed();
    if (redisReaderFeed(m_reader, bytes.constData(), size_t(bytes.size())) != REDIS_OK) {
        drop(QStringLiteral("Redis sent something that is not a Redis reply"));
        return;
    }
    QPointer<RedisConnection> self = this;
    for (;;) {
        void *raw = nullptr;
        if (redisReaderGetReply(m_reader, &raw) != REDIS_OK) {
            drop(QStringLiteral("Redis sent something that is not a Redis reply: %1").arg(QString::fromUtf8(m_reader->errstr)));
            return;
        }
        if (!raw)
            return;
        RedisReply reply = fromHiredis(static_cast<redisReply *>(raw));
        freeReplyObject(raw);
        onReply(std::move(reply));
        // A callback may have closed the connection, or deleted this object.
        if (!self || socket != m_socket || !m_reader)
            return;
    }
}

void RedisConnection::onReply(RedisReply reply)
{
    // On a subscribed connection, a message is pushed, not an answer to a command.
    // (A message may still come for a channel just unsubscribed from.)
    if (m_subscriber && reply.type == RedisReply::Type::Array && reply.elements.size() == 3
        && reply.elements[0].text == "message") {
        if (m_channels.count(reply.elements[1].text))
            emit message(reply.elements[1].text, reply.elements[2].text);
        return;
    }
    if (m_waiting.empty()) {
        drop(QStringLiteral("Redis sent a reply nobody asked for"));
        return;
    }
    Waiting w = std::move(m_waiting.front());
    m_waiting.pop_front();
    if (w.done)
        w.done(reply);
}

void RedisConnection::drop(const QString &why)
{
    if (!m_socket)
        return;
    const bool wasReady = m_state == State::Ready;
    QTcpSocket *socket = m_socket;
    m_socket = nullptr;
    socket->disconnect(this);
    socket->abort();
    socket->deleteLater();
    if (m_reader) {
        redisReaderFree(m_reader);
        m_reader = nullptr;
    }
    m_problem = QStringLiteral("%1 (%2)").arg(why, m_address.toString());
    m_state = m_open ? State::Connecting : State::Closed;
    if (wasReady)
        qCWarning(lcRedis).noquote() << "lost Redis:" << m_problem;
    std::deque<Waiting> waiting;
    waiting.swap(m_waiting);
    const QByteArray error = "ERR the connection to Redis was lost: " + why.toUtf8();
    for (Waiting &w : waiting) {
        if (w.done && !w.internal)
            w.done(RedisReply::error(error));
    }
    if (m_open) {
        m_reconnect.start(m_reconnectMs);
        m_reconnectMs = std::min(m_reconnectMs * 2, m_options.reconnectMaxMs);
    }
    emit lost(m_problem);
}

void RedisConnection::check()
{
    if (!m_socket)
        return;
    const qint64 now = m_clock.elapsed();
    if (m_state == State::Connecting) {
        if (now - m_lastHeardMs > m_options.commandTimeoutMs)
            drop(QStringLiteral("Redis could not be reached within %1 ms").arg(m_options.commandTimeoutMs));
        return;
    }
    if (!m_waiting.empty()) {
        if (now - m_waiting.front().sentMs > m_options.commandTimeoutMs)
            drop(QStringLiteral("Redis did not answer for %1 ms").arg(m_options.commandTimeoutMs));
        return;
    }
    if (m_state == State::Ready && now - m_lastHeardMs > m_options.keepAliveMs)
        write({"PING"}, {}, true);
}

// --- blocking connection -----------------------------------------------------------------------

RedisSyncConnection::RedisSyncConnection(RedisAddress address)
    : RedisSyncConnection(std::move(address), Options{})
{
}

RedisSyncConnection::RedisSyncConnection(RedisAddress address, Options options)
    : m_address(std::move(address))
    , m_options(options)
{
    m_clock.start();
}

RedisSyncConnection::~RedisSyncConnection()
{
    if (m_reader)
        redisReaderFree(m_reader);
}

void RedisSyncConnection::fail(const QString &why)
{
    m_error = QStringLiteral("%1 (%2)").arg(why, m_address.toString());
    m_failedAtMs = m_clock.elapsed();
    if (m_socket) {
        m_socket->abort();
        m_socket.reset();
    }
    if (m_reader) {
        redisReaderFree(m_reader);
        m_reader = nullptr;
    }
}

bool RedisSyncConnection::ensureConnected(qint64 deadlineMs)
{
    if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
        return true;
    if (m_failedAtMs >= 0 && m_clock.elapsed() - m_failedAtMs < m_options.failFastMs)
        return false; // m_error still says why
    // (A connection that Redis closed: its socket and reader go before new ones are made.)
    if (m_reader)
        redisReaderFree(m_reader);
    m_socket = std::make_unique<QTcpSocket>();
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_reader = redisReaderCreate();
    m_socket->connectToHost(m_address.host, m_address.port);
    if (!m_socket->waitForConnected(int(std::max<qint64>(1, deadlineMs - m_clock.elapsed())))) {
        fail(QStringLiteral("Redis could not be reached: %1").arg(m_socket->errorString()));
        return false;
    }
    std::vector<std::vector<QByteArray>> setup;
    if (m_address.db != 0)
        setup.push_back({"SELECT", QByteArray::number(m_address.db)});
    setup.insert(setup.end(), m_onConnect.begin(), m_onConnect.end());
    if (setup.empty())
        return true;
    std::vector<RedisReply> replies;
    if (!roundTrip(setup, &replies, deadlineMs))
        return false;
    for (const RedisReply &r : replies) {
        if (r.isError()) {
            fail(QStringLiteral("Redis refused a connection's setup: %1").arg(QString::fromUtf8(r.text)));
            return false;
        }
    }
    return true;
}

bool RedisSyncConnection::roundTrip(const std::vector<std::vector<QByteArray>> &commands,
                                    std::vector<RedisReply> *replies, qint64 deadlineMs)
{
    QByteArray out;
    for (const auto &c : commands)
        out += encodeRedisCommand(c);
    m_socket->write(out);
    while (m_socket->bytesToWrite() > 0) {
        const qint64 left = deadlineMs - m_clock.elapsed();
        if (left <= 0 || !m_socket->waitForBytesWritten(int(left))) {
            fail(QStringLiteral("Redis did not take a command within %1 ms").arg(m_options.timeoutMs));
            return false;
        }
    }
    while (replies->size() < commands.size()) {
        void *raw = nullptr;
        if (redisReaderGetReply(m_reader, &raw) != REDIS_OK) {
            fail(QStringLiteral("Redis sent something that is not a Redis reply"));
            return false;
        }
        if (raw) {
            replies->push_back(fromHiredis(static_cast<redisReply *>(raw)));
            freeReplyObject(raw);
            continue;
        }
        const qint64 left = deadlineMs - m_clock.elapsed();
        if (left <= 0 || !m_socket->waitForReadyRead(int(left))) {
            fail(left <= 0 || m_socket->error() == QAbstractSocket::SocketTimeoutError
                     ? QStringLiteral("Redis did not answer within %1 ms").arg(m_options.timeoutMs)
                     : QStringLiteral("the connection to Redis was lost: %1").arg(m_socket->errorString()));
            return false;
        }
        const QByteArray bytes = m_socket->readAll();
        if (redisReaderFeed(m_reader, bytes.constData(), size_t(bytes.size())) != REDIS_OK) {
            fail(QStringLiteral("Redis sent something that is not a Redis reply"));
            return false;
        }
    }
    return true;
}

std::vector<RedisReply> RedisSyncConnection::pipeline(const std::vector<std::vector<QByteArray>> &commands)
{
    const qint64 deadline = m_clock.elapsed() + m_options.timeoutMs;
    std::vector<RedisReply> replies;
    if (ensureConnected(deadline) && roundTrip(commands, &replies, deadline)) {
        m_error.clear();
        m_failedAtMs = -1;
        return replies;
    }
    const QByteArray error = "ERR " + m_error.toUtf8();
    return std::vector<RedisReply>(commands.size(), RedisReply::error(error));
}

RedisReply RedisSyncConnection::command(const std::vector<QByteArray> &args)
{
    return pipeline({args}).front();
}

} // namespace scrawl
