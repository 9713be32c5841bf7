#include "app/linkinbox.h"

#include <QDir>
#include <QLocalSocket>
#include <QStandardPaths>

namespace scrawl {

namespace {

// A link is one line; more than this is not a link.
constexpr qint64 kMaxLinkBytes = 4096;

} // namespace

LinkInbox::LinkInbox(QObject *parent)
    : QObject(parent)
{
    connect(&m_server, &QLocalServer::newConnection, this, [this] {
        while (QLocalSocket *socket = m_server.nextPendingConnection()) {
            connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
            connect(socket, &QLocalSocket::readyRead, socket, [this, socket] {
                if (!socket->canReadLine()) {
                    if (socket->bytesAvailable() > kMaxLinkBytes)
                        socket->abort();
                    return;
                }
                const QString link = QString::fromUtf8(socket->readLine(kMaxLinkBytes)).trimmed();
                socket->write("ok\n");
                socket->disconnectFromServer();
                if (!link.isEmpty())
                    emit linkReceived(link);
            });
        }
    });
}

QString LinkInbox::socketPath()
{
    QString dir = QStandardPaths::writableLocation(QStandardPaths::RuntimeLocation);
    if (dir.isEmpty())
        dir = QDir::tempPath();
    return QDir(dir).filePath(QStringLiteral("scrawl-links"));
}

bool LinkInbox::forward(const QString &link)
{
    QLocalSocket socket;
    socket.connectToServer(socketPath());
    if (!socket.waitForConnected(1500))
        return false;
    socket.write(link.toUtf8() + '\n');
    if (!socket.waitForBytesWritten(1500))
        return false;
    // Taken once the running app said so: a socket left by a crashed app takes nothing.
    while (!socket.canReadLine()) {
        if (!socket.waitForReadyRead(1500))
            return false;
    }
    return socket.readLine().trimmed() == "ok";
}

bool LinkInbox::listen(QString *error)
{
    // Asked first: listening would replace the running app's socket (with access options set,
    // Qt makes the socket aside and renames it into place).
    QLocalSocket probe;
    probe.connectToServer(socketPath());
    if (probe.waitForConnected(500)) {
        *error = QStringLiteral("another Scrawl is running and takes the links opened");
        return false;
    }
    // Nobody answers: none there, or one left by an app that crashed.
    QLocalServer::removeServer(socketPath());
    m_server.setSocketOptions(QLocalServer::UserAccessOption);
    if (m_server.listen(socketPath()))
        return true;
    *error = m_server.errorString();
    return false;
}

} // namespace scrawl
