#pragma once

// Hosting a wall from the app: the same WallServer as scrawl-server, run in this process, with
// its data in the user's data directory, plus the addresses other people can join with.

#include <QObject>
#include <QStringList>
#include <QtQml/qqmlregistration.h>

#include <memory>
#include <utility>
#include <vector>

namespace scrawl {

class WallServer;
class WallAnnouncer;

class HostController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool running READ running NOTIFY runningChanged)
    Q_PROPERTY(int port READ port NOTIFY runningChanged)
    Q_PROPERTY(QString errorText READ errorText NOTIFY errorTextChanged)
    // "192.168.1.20:7777" for each LAN address of this machine, the loopback one last.
    Q_PROPERTY(QStringList addresses READ addresses NOTIFY runningChanged)
    Q_PROPERTY(QString dataDir READ dataDir WRITE setDataDir NOTIFY dataDirChanged)
    // Serve wss:// with a self-signed certificate made once (openssl) and kept in dataDir/tls.
    // On by default: resume tokens carry the owner role and would cross the LAN in clear over
    // ws://, which stays available as an explicit choice (AppSettings.hostSecure remembers it).
    Q_PROPERTY(bool secure READ secure WRITE setSecure NOTIFY secureChanged)
    // The certificate's SHA-256 fingerprint, for people to compare with what their app shows.
    Q_PROPERTY(QString fingerprint READ fingerprint NOTIFY runningChanged)
    // What this machine's own app joins with: "127.0.0.1:PORT" or "wss://127.0.0.1:PORT".
    Q_PROPERTY(QString localAddress READ localAddress NOTIFY runningChanged)
    // Walls hosted here are announced on the local network (DNS-SD, app/dnssd.h) while this is
    // on (the default; AppSettings.announceHosted remembers the choice).
    Q_PROPERTY(bool announce READ announce WRITE setAnnounce NOTIFY announceChanged)
    // The names they are announced under now (none without an Avahi daemon).
    Q_PROPERTY(QStringList announced READ announced NOTIFY announceChanged)

public:
    explicit HostController(QObject *parent = nullptr);
    ~HostController() override;

    bool running() const { return m_server != nullptr; }
    int port() const;
    QString errorText() const { return m_errorText; }
    QStringList addresses() const;
    QString dataDir() const { return m_dataDir; }
    void setDataDir(const QString &dir);
    bool secure() const { return m_secure; }
    void setSecure(bool secure);
    QString fingerprint() const { return m_fingerprint; }
    QString localAddress() const;

    bool announce() const { return m_announce; }
    void setAnnounce(bool on);
    QStringList announced() const;
    // While hosting: announces `wall`, hosted by `hostName` (a person's name), if announcing is on.
    Q_INVOKABLE void announceWall(const QString &wall, const QString &hostName);

    // Starts serving on `port` (0: any free port). Returns false and sets errorText on failure.
    Q_INVOKABLE bool start(int port);
    Q_INVOKABLE void stop();
    // This machine's IPv4 addresses other people on the network can reach (no loopback).
    static QStringList lanAddresses();

signals:
    void runningChanged();
    void errorTextChanged();
    void dataDirChanged();
    void secureChanged();
    void announceChanged();

private:
    std::unique_ptr<WallServer> m_server;
    QString m_errorText;
    QString m_dataDir;
    bool m_secure = true;
    QString m_fingerprint;
    bool m_announce = true;
    std::unique_ptr<WallAnnouncer> m_announcer;
    std::vector<std::pair<QString, QString>> m_hostedWalls; // wall, host name: announced while on
};

} // namespace scrawl
