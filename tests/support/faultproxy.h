#pragma once

// A loopback TCP proxy for fault tests: every connection accepted on its port is relayed to the
// target port, and the test can make the link misbehave:
//   Pass  - relay as is;
//   Stall - relay nothing either way but keep both TCP connections open (a dead link that
//           neither side can see: no FIN, no RST, just silence);
//   Slow  - hold every chunk for delayMs in each direction (a long, thin link);
//   Throttle - relay at most bytesPerSecond in each direction of each connection, paced by a
//           timer (a narrow link). The proxy then reads only what it relays and keeps its
//           sockets' buffers small, so the sender feels it as TCP back-pressure, as on a real
//           slow link, instead of the proxy buffering everything at loopback speed.
// dropAll() cuts every connection (RST both ways), like a pulled cable seen by both ends.

#include <QElapsedTimer>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <vector>

namespace scrawl::test {

class FaultProxy : public QObject
{
public:
    enum class Mode { Pass, Stall, Slow, Throttle };

    explicit FaultProxy(quint16 targetPort, QObject *parent = nullptr)
        : QObject(parent)
        , m_targetPort(targetPort)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *down = m_server.nextPendingConnection())
                addPair(down);
        });
        m_pace.setTimerType(Qt::PreciseTimer);
        m_pace.setInterval(kPaceMs);
        connect(&m_pace, &QTimer::timeout, this, &FaultProxy::pace);
    }

    // Throttle mode: at most bytesPerSecond each way on each connection.
    void setThrottle(qint64 bytesPerSecond)
    {
        m_bytesPerSecond = bytesPerSecond;
        m_mode = Mode::Throttle;
        for (auto &p : m_pairs)
            throttleBuffers(p);
        m_paceClock.start();
        m_pace.start();
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    int connections() const { return int(m_pairs.size()); }

    void setMode(Mode mode, int delayMs = 0)
    {
        m_mode = mode;
        m_delayMs = delayMs;
        m_pace.stop();
        for (auto &p : m_pairs) {
            for (QTcpSocket *s : {p.down.data(), p.up.data()}) {
                if (s)
                    s->setReadBufferSize(0);
            }
        }
        if (mode != Mode::Stall) {
            // Whatever was held back while stalled goes now.
            for (auto &p : m_pairs) {
                relay(p.down, p.up);
                relay(p.up, p.down);
            }
        }
    }

    void dropAll()
    {
        for (auto &p : m_pairs) {
            if (p.down)
                p.down->abort();
            if (p.up)
                p.up->abort();
        }
        m_pairs.clear();
    }

    qint64 bytesDown() const { return m_bytesDown; }

private:
    struct Pair
    {
        QPointer<QTcpSocket> down; // the client's side
        QPointer<QTcpSocket> up;   // the server's side
        double downBudget = 0;     // throttle: bytes that may go to the client now
        double upBudget = 0;       // and to the server
    };

    // A tick of the throttle: every 10 ms, each direction may relay what the rate allows.
    static constexpr int kPaceMs = 10;
    // What the proxy holds per socket while throttling: a few ticks of a fast link, so that
    // the sender's queue stays with the sender.
    static constexpr qint64 kThrottleBufferBytes = 64 * 1024;

    void throttleBuffers(Pair &p)
    {
        for (QTcpSocket *s : {p.down.data(), p.up.data()}) {
            if (!s)
                continue;
            s->setReadBufferSize(kThrottleBufferBytes);
            s->setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, int(kThrottleBufferBytes));
        }
    }

    void pace()
    {
        const double seconds = m_paceClock.restart() / 1000.0;
        const double cap = double(m_bytesPerSecond) * kPaceMs * 5 / 1000.0; // no bursts after a stall
        for (auto &p : m_pairs) {
            p.downBudget = std::min(cap, p.downBudget + seconds * double(m_bytesPerSecond));
            p.upBudget = std::min(cap, p.upBudget + seconds * double(m_bytesPerSecond));
            p.downBudget -= double(relayAtMost(p.up, p.down, qint64(p.downBudget)));
            p.upBudget -= double(relayAtMost(p.down, p.up, qint64(p.upBudget)));
        }
    }

    qint64 relayAtMost(QTcpSocket *from, QTcpSocket *to, qint64 max)
    {
        if (!from || !to || max <= 0 || to->state() != QAbstractSocket::ConnectedState)
            return 0;
        const QByteArray bytes = from->read(max);
        if (bytes.isEmpty())
            return 0;
        if (isDown(to))
            m_bytesDown += bytes.size();
        to->write(bytes);
        return bytes.size();
    }

    void addPair(QTcpSocket *down)
    {
        down->setParent(this);
        auto *up = new QTcpSocket(this);
        m_pairs.push_back({down, up});
        if (m_mode == Mode::Throttle)
            throttleBuffers(m_pairs.back());
        connect(down, &QTcpSocket::readyRead, this, [this, down, up] { relay(down, up); });
        connect(up, &QTcpSocket::readyRead, this, [this, down, up] { relay(up, down); });
        connect(up, &QTcpSocket::connected, this, [this, down, up] {
            if (m_mode == Mode::Throttle) {
                for (auto &p : m_pairs) {
                    if (p.up == up)
                        throttleBuffers(p); // the option needs the connected socket
                }
            }
            relay(down, up);
        });
        connect(down, &QTcpSocket::disconnected, up, &QTcpSocket::disconnectFromHost);
        connect(up, &QTcpSocket::disconnected, down, &QTcpSocket::disconnectFromHost);
        up->connectToHost(QHostAddress::LocalHost, m_targetPort);
    }

    void relay(QTcpSocket *from, QTcpSocket *to)
    {
        if (!from || !to || m_mode == Mode::Stall || m_mode == Mode::Throttle)
            return; // throttled bytes go on the pace timer
        if (to->state() != QAbstractSocket::ConnectedState)
            return; // read later, once connected
        const QByteArray bytes = from->readAll();
        if (bytes.isEmpty())
            return;
        if (to->parent() == this && isDown(to))
            m_bytesDown += bytes.size();
        if (m_mode == Mode::Slow && m_delayMs > 0) {
            QPointer<QTcpSocket> target(to);
            QTimer::singleShot(m_delayMs, this, [target, bytes] {
                if (target)
                    target->write(bytes);
            });
            return;
        }
        to->write(bytes);
    }

    bool isDown(QTcpSocket *s) const
    {
        for (const auto &p : m_pairs) {
            if (p.down == s)
                return true;
        }
        return false;
    }

    QTcpServer m_server;
    quint16 m_targetPort;
    Mode m_mode = Mode::Pass;
    int m_delayMs = 0;
    qint64 m_bytesPerSecond = 0;
    QTimer m_pace;
    QElapsedTimer m_paceClock;
    qint64 m_bytesDown = 0;
    std::vector<Pair> m_pairs;
};

} // namespace scrawl::test
