#include "app/hostcontroller.h"

#include "app/appsettings.h"
#include "app/dnssd.h"
#include "app/tlstrust.h"
#include "server/wallserver.h"

#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QNetworkInterface>
#include <QStandardPaths>
#include <QTcpServer>

Q_LOGGING_CATEGORY(lcHost, "scrawl.app.host", QtInfoMsg)

namespace scrawl {

HostController::HostController(QObject *parent)
    : QObject(parent)
    , m_dataDir(AppSettings::dataDir()
                + QStringLiteral("/hosted"))
{
}

HostController::~HostController() { stop(); }

int HostController::port() const { return m_server ? m_server->port() : 0; }

void HostController::setDataDir(const QString &dir)
{
    if (m_dataDir == dir)
        return;
    m_dataDir = dir;
    emit dataDirChanged();
}

void HostController::setSecure(bool secure)
{
    if (m_secure == secure)
        return;
    m_secure = secure;
    emit secureChanged();
}

QString HostController::localAddress() const
{
    if (!m_server)
        return {};
    return (m_secure ? QStringLiteral("wss://127.0.0.1:") : QStringLiteral("127.0.0.1:"))
         + QString::number(m_server->port());
}

bool HostController::start(int port)
{
    if (m_server)
        return true;
    if (port < 0 || port > 65535) {
        m_errorText = tr("Port %1 is not a port number; use one from 1024 to 65535.").arg(port);
        emit errorTextChanged();
        return false;
    }
    QDir().mkpath(m_dataDir);
    ServerOptions options;
    options.port = quint16(port);
    options.dataDir = m_dataDir;
    m_fingerprint.clear();
    if (m_secure) {
        // One certificate per data directory, kept: people who pinned it stay safe across
        // restarts. Made with openssl the first time.
        options.tlsCertFile = m_dataDir + QStringLiteral("/tls/cert.pem");
        options.tlsKeyFile = m_dataDir + QStringLiteral("/tls/key.pem");
        if (!QFile::exists(options.tlsCertFile) || !QFile::exists(options.tlsKeyFile)) {
            QStringList names{QStringLiteral("localhost"), QStringLiteral("127.0.0.1")};
            names << lanAddresses();
            QString error;
            if (!TlsTrust::makeSelfSigned(options.tlsCertFile, options.tlsKeyFile, names, &error)) {
                m_errorText = error;
                emit errorTextChanged();
                return false;
            }
        }
        QFile cert(options.tlsCertFile);
        if (cert.open(QIODevice::ReadOnly)) {
            const auto chain = QSslCertificate::fromData(cert.readAll(), QSsl::Pem);
            if (!chain.isEmpty())
                m_fingerprint = TlsTrust::fingerprint(chain.front());
        }
    }
    auto server = std::make_unique<WallServer>(options);
    QString error;
    if (port != 0) {
        // The server's own message speaks of --port; in the app the person picks the port
        // in the form, so say it in those words.
        QTcpServer probe;
        if (!probe.listen(QHostAddress::Any, quint16(port))) {
            m_errorText = tr("Port %1 is already in use on this computer (is another Scrawl "
                             "hosting?); pick another port, such as %2.")
                              .arg(port)
                              .arg(port < 65535 ? port + 1 : 7777);
            emit errorTextChanged();
            return false;
        }
    }
    if (!server->start(&error)) {
        m_errorText = error;
        emit errorTextChanged();
        return false;
    }
    m_server = std::move(server);
    qCInfo(lcHost) << "hosting on port" << m_server->port() << "data in" << m_dataDir;
    if (!m_errorText.isEmpty()) {
        m_errorText.clear();
        emit errorTextChanged();
    }
    emit runningChanged();
    return true;
}

void HostController::stop()
{
    if (!m_server)
        return;
    m_hostedWalls.clear();
    if (m_announcer)
        m_announcer->withdrawAll();
    m_server->stop();
    m_server.reset();
    emit runningChanged();
}

void HostController::setAnnounce(bool on)
{
    if (m_announce == on)
        return;
    m_announce = on;
    if (!on && m_announcer) {
        m_announcer->withdrawAll();
    } else if (on && m_server) {
        for (const auto &[wall, host] : m_hostedWalls)
            announceWall(wall, host);
    }
    emit announceChanged();
}

QStringList HostController::announced() const
{
    return m_announcer ? m_announcer->announced() : QStringList();
}

void HostController::announceWall(const QString &wall, const QString &hostName)
{
    if (!m_server || wall.trimmed().isEmpty())
        return;
    if (std::find(m_hostedWalls.begin(), m_hostedWalls.end(), std::pair(wall, hostName)) == m_hostedWalls.end())
        m_hostedWalls.emplace_back(wall, hostName);
    if (!m_announce)
        return;
    if (!m_announcer) {
        m_announcer = std::make_unique<WallAnnouncer>();
        connect(m_announcer.get(), &WallAnnouncer::announcedChanged, this, &HostController::announceChanged);
    }
    m_announcer->announce(wall, hostName, port(), m_secure);
}

QStringList HostController::lanAddresses()
{
    QStringList out;
    for (const QNetworkInterface &iface : QNetworkInterface::allInterfaces()) {
        const auto flags = iface.flags();
        if (!(flags & QNetworkInterface::IsUp) || !(flags & QNetworkInterface::IsRunning)
            || (flags & QNetworkInterface::IsLoopBack))
            continue;
        for (const QNetworkAddressEntry &entry : iface.addressEntries()) {
            const QHostAddress a = entry.ip();
            if (a.protocol() == QAbstractSocket::IPv4Protocol && !a.isLoopback())
                out << a.toString();
        }
    }
    return out;
}

QStringList HostController::addresses() const
{
    if (!m_server)
        return {};
    QStringList out;
    const QString port = QString::number(m_server->port());
    const QString scheme = m_secure ? QStringLiteral("wss://") : QString();
    for (const QString &a : lanAddresses())
        out << scheme + a + QLatin1Char(':') + port;
    out << scheme + QStringLiteral("127.0.0.1:") + port;
    return out;
}

} // namespace scrawl
