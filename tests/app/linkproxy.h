#pragma once

// A TCP relay between a client and a server on loopback that a test can make misbehave: swallow
// what the server sends (the link looks alive to the server but the client hears nothing) or
// cut every connection. Used to lose acknowledgements and to fake a dead link.

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

#include <vector>

namespace scrawl::test {

class LinkProxy : public QObject
{
public:
    explicit LinkProxy(quint16 targetPort, QObject *parent = nullptr)
        : QObject(parent)
        , m_targetPort(targetPort)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *down = m_server.nextPendingConnection()) {
                auto *up = new QTcpSocket(this);
                down->setParent(this);
                m_pairs.push_back({down, up});
                connect(down, &QTcpSocket::readyRead, up, [down, up] { up->write(down->readAll()); });
                connect(up, &QTcpSocket::readyRead, down, [this, down, up] {
                    const QByteArray bytes = up->readAll();
                    if (!m_swallowDownstream)
                        down->write(bytes);
                });
                connect(down, &QTcpSocket::disconnected, up, &QTcpSocket::disconnectFromHost);
                connect(up, &QTcpSocket::disconnected, down, &QTcpSocket::disconnectFromHost);
                up->connectToHost(QHostAddress::LocalHost, m_targetPort);
                // What the client sent before the upstream connection was up is relayed then.
                connect(up, &QTcpSocket::connected, up, [down, up] { up->write(down->readAll()); });
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    void setTargetPort(quint16 port) { m_targetPort = port; }
    void setSwallowDownstream(bool swallow) { m_swallowDownstream = swallow; }
    void cutAll()
    {
        for (auto &[down, up] : m_pairs) {
            if (down)
                down->abort();
            if (up)
                up->abort();
        }
        m_pairs.clear();
    }

private:
    struct Pair
    {
        QPointer<QTcpSocket> down;
        QPointer<QTcpSocket> up;
    };
    QTcpServer m_server;
    quint16 m_targetPort;
    bool m_swallowDownstream = false;
    std::vector<Pair> m_pairs;
};

} // namespace scrawl::test
