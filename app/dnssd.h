#pragma once

// Walls on this network, with DNS-SD over mDNS through the machine's Avahi daemon: a hosted wall
// is announced as a service of type _scrawl._tcp (WallAnnouncer, used by HostController), and the
// start screen lists the ones it finds (NearbyWalls), one click to join. Without a running
// avahi-daemon (or without a system bus to reach it) both say so, wait for it to appear, and
// everything else works.
//
// A service's instance name is "WALL — HOST"; its TXT records: wall=NAME, host=the host's name,
// tls=1 for wss://, v=the protocol version. Avahi's callbacks run on Qt's event loop (an AvahiPoll
// made of socket notifiers and timers), so nothing here is touched from another thread.

#include <QAbstractListModel>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <memory>
#include <vector>

struct AvahiClient;
struct AvahiEntryGroup;
struct AvahiServiceBrowser;
struct AvahiServiceResolver;
struct AvahiPoll;

namespace scrawl {

// One connection to the Avahi daemon for the app, shared by the announcer and the browser.
class DnsSd : public QObject
{
    Q_OBJECT

public:
    static DnsSd *instance();
    ~DnsSd() override;
    // The daemon answers: announcing and browsing work.
    bool available() const { return m_running; }
    // Why not, in a sentence for a person ("" when available).
    QString problem() const { return m_problem; }
    AvahiClient *client() const { return m_client; }

    // The service type announced and browsed.
    static constexpr const char *kServiceType = "_scrawl._tcp";

signals:
    // Available or not any more: whatever was made with client() before is gone; make it anew.
    void availableChanged();

private:
    friend struct AvahiCallbacks; // dnssd.cpp: Avahi's callbacks, with its types
    DnsSd();
    void connectToDaemon();
    void onClientState(AvahiClient *client, int state);

    std::unique_ptr<AvahiPoll> m_poll;
    AvahiClient *m_client = nullptr;
    bool m_running = false;
    QString m_problem;
    QTimer m_retry;
};

// Announces walls hosted here while it lives (and the daemon runs): one service per wall.
class WallAnnouncer : public QObject
{
    Q_OBJECT

public:
    explicit WallAnnouncer(QObject *parent = nullptr);
    ~WallAnnouncer() override;
    // Announces `wall`, served on `port` (wss:// when `tls`), hosted by `hostName`.
    void announce(const QString &wall, const QString &hostName, int port, bool tls);
    void withdrawAll();
    // The instance names announced, as the daemon took them (a clash gets " #2" and so on).
    QStringList announced() const;

signals:
    void announcedChanged();

private:
    struct Service
    {
        QString wall, hostName, name;
        int port = 0;
        bool tls = false;
        AvahiEntryGroup *group = nullptr;
        bool established = false;
        WallAnnouncer *owner = nullptr;
    };
    friend struct AvahiCallbacks;
    void publish(Service &s);
    void onGroupState(Service &s, int state);
    void republishAll();

    std::vector<std::unique_ptr<Service>> m_services;
};

// The walls announced on this network, for the start screen.
class NearbyWalls : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    // Browsing works (the daemon answers); else `statusText` says why.
    Q_PROPERTY(bool available READ available NOTIFY statusChanged)
    Q_PROPERTY(QString statusText READ statusText NOTIFY statusChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Role {
        WallRole = Qt::UserRole + 1, // "wall": the wall's name
        HostRole,                    // "host": who hosts it
        AddressRole,                 // "address": to join with ("wss://10.0.0.5:7777" or "10.0.0.5:7777")
        NameRole,                    // "serviceName": the announced name
        SecureRole,                  // "secure": wss://
    };
    Q_ENUM(Role)

    explicit NearbyWalls(QObject *parent = nullptr);
    ~NearbyWalls() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool available() const;
    QString statusText() const;

signals:
    void statusChanged();
    void countChanged();

private:
    struct Found
    {
        QString key; // interface, protocol and name: one row per announcement seen
        QString name, wall, host, address;
        bool secure = false;
    };
    friend struct AvahiCallbacks;
    void startBrowsing();
    void stopBrowsing();
    void resolved(AvahiServiceResolver *r, const Found &found);
    void removed(const QString &key);

    AvahiServiceBrowser *m_browser = nullptr;
    std::vector<AvahiServiceResolver *> m_resolvers;
    std::vector<Found> m_rows;
};

} // namespace scrawl
