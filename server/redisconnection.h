#pragma once

// One connection to one Redis, on the thread's event loop. Commands are written at once
// (pipelined) and answered in order; hiredis's reader parses the replies. The async API of
// hiredis 0.14 has no timeouts at all (a stopped Redis leaves a command waiting for ever), so
// this class keeps its own: a command not answered within commandTimeoutMs drops the connection,
// every waiting command gets an error, and the connection is made again with a backoff. An idle
// connection sends a PING now and then, so a link that stalled while nothing was asked is
// noticed too.
//
// A connection that subscribes (subscribe()) receives the channel's messages as message(); it
// may still send PING (Redis answers it in subscribed mode), and nothing else. Use one connection
// to subscribe and another for commands.

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QTcpSocket>
#include <QTimer>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

struct redisReader;

namespace scrawl {

// Where a Redis is: redis://HOST[:PORT][/DB].
struct RedisAddress
{
    QString host;
    quint16 port = 6379;
    int db = 0;

    // Nothing, with a sentence in *error, when `text` is not such an address.
    static std::optional<RedisAddress> parse(const QString &text, QString *error);
    QString toString() const;
};

struct RedisReply
{
    enum class Type { Nil, Status, Error, Integer, String, Array };
    Type type = Type::Nil;
    QByteArray text; // Status, Error and String
    long long integer = 0;
    std::vector<RedisReply> elements;

    // An error of the connection's own (not connected, lost, closed), not Redis's: a command
    // that got one may or may not have run.
    bool connectionError = false;
    bool isError() const { return type == Type::Error; }
    bool isNil() const { return type == Type::Nil; }
    static RedisReply error(const QByteArray &message);
};

// A command in Redis's wire format (RESP).
QByteArray encodeRedisCommand(const std::vector<QByteArray> &args);

class RedisConnection : public QObject
{
    Q_OBJECT

public:
    enum class State { Closed, Connecting, Loading, Ready };
    using Callback = std::function<void(const RedisReply &)>;

    struct Options
    {
        int commandTimeoutMs = 2500;
        // An idle connection checks the link this often.
        int keepAliveMs = 1000;
        // Waits between attempts to connect: doubling from the first to the last.
        int reconnectFirstMs = 100;
        int reconnectMaxMs = 2000;
    };

    explicit RedisConnection(RedisAddress address, QObject *parent = nullptr);
    RedisConnection(RedisAddress address, Options options, QObject *parent = nullptr);
    ~RedisConnection() override;

    // Connects, and keeps connecting after every loss until close().
    void open();
    void close();
    State state() const { return m_state; }
    bool isReady() const { return m_state == State::Ready; }
    const RedisAddress &address() const { return m_address; }
    // Why the connection is not ready (empty when it is).
    QString problem() const { return m_problem; }

    // Sends a command now. `done` runs once, on this thread, with the reply or an error reply
    // (never within this call): "not connected" when the connection is not ready, or why it
    // was lost while the command waited. `done` may be empty.
    void command(const std::vector<QByteArray> &args, Callback done = {});
    // Subscribes to `channel` (again after every reconnect, before ready() is emitted).
    // `subscribed` runs once Redis has made the subscription (the first time only).
    void subscribe(const QByteArray &channel, std::function<void()> subscribed = {});
    void unsubscribe(const QByteArray &channel);

    // Test hook: how many commands wait for their reply.
    int waiting() const { return int(m_waiting.size()); }

signals:
    // Connected and answering (after a reconnect too, with the subscriptions made again).
    void ready();
    // The connection was lost or could not be made; it is being made again.
    void lost(const QString &why);
    // A message published to a channel this connection subscribed to.
    void message(const QByteArray &channel, const QByteArray &payload);

private:
    struct Waiting
    {
        Callback done;
        qint64 sentMs = 0;
        bool internal = false; // PING, SELECT and SUBSCRIBE of the connection's own
    };
    void connectNow();
    void onConnected();
    void onReadyRead();
    void onReply(RedisReply reply);
    void drop(const QString &why);
    void check();
    void handshakeStep();
    void becomeReady();
    void write(const std::vector<QByteArray> &args, Callback done, bool internal);

    RedisAddress m_address;
    Options m_options;
    QTcpSocket *m_socket = nullptr;
    redisReader *m_reader = nullptr;
    State m_state = State::Closed;
    bool m_open = false;
    QString m_problem;
    std::deque<Waiting> m_waiting;
    std::set<QByteArray> m_channels;
    std::vector<std::function<void()>> m_whenSubscribed; // until the connection is ready
    bool m_subscriber = false; // subscribe() was called: arrays may be pushed messages
    QElapsedTimer m_clock;
    qint64 m_lastHeardMs = 0;
    int m_reconnectMs = 0;
    QTimer m_reconnect;
    QTimer m_watchdog;
};

// For the few calls that must answer at once (Directory): commands sent and their replies
// awaited on the calling thread, for at most timeoutMs all together. After a failure the
// connection is made again on the next call, but not before failFastMs: meanwhile calls fail
// at once, so that a Redis known to be down never holds the thread again and again.
class RedisSyncConnection
{
public:
    struct Options
    {
        int timeoutMs = 1000;
        int failFastMs = 500;
    };
    explicit RedisSyncConnection(RedisAddress address);
    RedisSyncConnection(RedisAddress address, Options options);
    ~RedisSyncConnection();

    // Run after every connect, before anything else (a library to load). Their replies must
    // not be errors.
    void setOnConnect(std::vector<std::vector<QByteArray>> commands) { m_onConnect = std::move(commands); }
    // One reply per command, in order (an error reply for each when the connection failed).
    std::vector<RedisReply> pipeline(const std::vector<std::vector<QByteArray>> &commands);
    RedisReply command(const std::vector<QByteArray> &args);
    // Why the last call failed (empty when it did not).
    QString lastError() const { return m_error; }

private:
    bool ensureConnected(qint64 deadlineMs);
    bool roundTrip(const std::vector<std::vector<QByteArray>> &commands, std::vector<RedisReply> *replies,
                   qint64 deadlineMs);
    void fail(const QString &why);

    RedisAddress m_address;
    Options m_options;
    std::unique_ptr<QTcpSocket> m_socket;
    redisReader *m_reader = nullptr;
    std::vector<std::vector<QByteArray>> m_onConnect;
    QElapsedTimer m_clock;
    qint64 m_failedAtMs = -1;
    QString m_error;
};

} // namespace scrawl
