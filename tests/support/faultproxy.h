#pragma once

// A loopback TCP proxy for fault tests: every connection accepted on its port is relayed to the
// target port, and the test can make the link misbehave:
//   Pass  - relay as is;
//   Stall - relay nothing either way but keep both TCP connections open (a dead link that
//           neither side can see: no FIN, no RST, just silence);
//   Slow  - hold every chunk for delayMs in each direction (a long, thin link).
// dropAll() cuts every connection (RST both ways), like a pulled cable seen by both ends.

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <vector>

namespace scrawl::test {

class FaultProxy : public QObject
{
public:
    enum class Mode { Pass, Stall, Slow };

    explicit FaultProxy(quint16 targetPort, QObject *parent = nullptr)
        : QObject(parent)
        , m_targetPort(targetPort)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *down = m_server.nextPendingConnection())
                addPair(down);
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    int connections() const { return int(m_pairs.size()); }

    void setMode(Mode mode, int delayMs = 0)
    {
        m_mode = mode;
        m_delayMs = delayMs;
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
    };

    void addPair(QTcpSocket *down)
    {
        down->setParent(this);
        auto *up = new QTcpSocket(this);
        m_pairs.push_back({down, up});
        connect(down, &QTcpSocket::readyRead, this, [this, down, up] { relay(down, up); });
        connect(up, &QTcpSocket::readyRead, this, [this, down, up] { relay(up, down); });
        connect(up, &QTcpSocket::connected, this, [this, down, up] { relay(down, up); });
        connect(down, &QTcpSocket::disconnected, up, &QTcpSocket::disconnectFromHost);
        connect(up, &QTcpSocket::disconnected, down, &QTcpSocket::disconnectFromHost);
        up->connectToHost(QHostAddress::LocalHost, m_targetPort);
    }

    void relay(QTcpSocket *from, QTcpSocket *to)
    {
        if (!from || !to || m_mode == Mode::Stall)
            return;
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
    qint64 m_bytesDown = 0;
    std::vector<Pair> m_pairs;
};

} // namespace scrawl::test
