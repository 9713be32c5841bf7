#pragma once

// HTTP on the WebSocket port: health, wall list, read and post chat as JSON. A WebSocket upgrade
// is answered here and the connection handed to the WallServer (server/wsconnection.h).

#include <QAbstractHttpServer>
#include <QHostAddress>
#include <QSslConfiguration>

#include <memory>

namespace scrawl {

class AddressGuard;
class WallServer;
struct RequestHead;

class HttpFront : public QAbstractHttpServer
{
    Q_OBJECT

public:
    explicit HttpFront(WallServer *server);

    // Listens with TCP_NODELAY on every accepted socket, TLS first when `tls` is given, and
    // connection limits per address from `guard`. Returns the port, 0 on failure.
    quint16 listenOn(const QHostAddress &host, quint16 port, const QSslConfiguration *tls,
                     std::shared_ptr<AddressGuard> guard);
    QString listenError() const { return m_listenError; }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    void closeWhenIdle(QTcpSocket *socket);
    // The image routes; false when `path` is not one of them.
    bool handleImages(const QHttpServerRequest &request, QTcpSocket *socket, const QString &path);
    void upgrade(QTcpSocket *socket, const RequestHead &head);

    WallServer *m_server;
    QString m_listenError;
};

} // namespace scrawl
