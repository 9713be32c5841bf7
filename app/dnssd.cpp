#include "app/dnssd.h"

#include "core/protocol.h"

#include <QLoggingCategory>
#include <QSocketNotifier>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/timeval.h>
#include <avahi-common/watch.h>

#include <sys/time.h>

Q_LOGGING_CATEGORY(lcDnsSd, "scrawl.app.dnssd")

// Avahi's watches and timeouts on Qt's event loop: a watch is a read and a write socket notifier,
// a timeout a single-shot timer. Avahi may free either from within its own callback, so notifiers
// go with deleteLater and nothing is touched after a callback returns.
struct AvahiWatch
{
    int fd = -1;
    AvahiWatchEvent wanted = AvahiWatchEvent(0);
    AvahiWatchEvent happened = AvahiWatchEvent(0);
    AvahiWatchCallback callback = nullptr;
    void *userdata = nullptr;
    QSocketNotifier *read = nullptr;
    QSocketNotifier *write = nullptr;
};

struct AvahiTimeout
{
    QTimer *timer = nullptr;
    AvahiTimeoutCallback callback = nullptr;
    void *userdata = nullptr;
};

namespace {

void fire(AvahiWatch *w, AvahiWatchEvent event)
{
    w->happened = event;
    w->callback(w, w->fd, event, w->userdata); // may free w
}

void setWatchEvents(AvahiWatch *w, AvahiWatchEvent events)
{
    w->wanted = events;
    w->read->setEnabled(events & AVAHI_WATCH_IN);
    w->write->setEnabled(events & AVAHI_WATCH_OUT);
}

AvahiWatch *watchNew(const AvahiPoll *, int fd, AvahiWatchEvent events, AvahiWatchCallback callback, void *userdata)
{
    auto *w = new AvahiWatch;
    w->fd = fd;
    w->callback = callback;
    w->userdata = userdata;
    w->read = new QSocketNotifier(fd, QSocketNotifier::Read);
    w->write = new QSocketNotifier(fd, QSocketNotifier::Write);
    QObject::connect(w->read, &QSocketNotifier::activated, [w] { fire(w, AVAHI_WATCH_IN); });
    QObject::connect(w->write, &QSocketNotifier::activated, [w] { fire(w, AVAHI_WATCH_OUT); });
    setWatchEvents(w, events);
    return w;
}

void watchUpdate(AvahiWatch *w, AvahiWatchEvent events) { setWatchEvents(w, events); }

AvahiWatchEvent watchGetEvents(AvahiWatch *w) { return w->happened; }

void watchFree(AvahiWatch *w)
{
    w->read->setEnabled(false);
    w->write->setEnabled(false);
    w->read->disconnect();
    w->write->disconnect();
    w->read->deleteLater();
    w->write->deleteLater();
    delete w;
}

void timeoutUpdate(AvahiTimeout *t, const struct timeval *tv)
{
    t->timer->stop();
    if (!tv)
        return; // disabled
    struct timeval now;
    gettimeofday(&now, nullptr);
    const AvahiUsec usec = avahi_timeval_diff(tv, &now);
    t->timer->start(usec <= 0 ? 0 : int(std::min<AvahiUsec>(usec / 1000 + 1, 1 << 30)));
}

AvahiTimeout *timeoutNew(const AvahiPoll *, const struct timeval *tv, AvahiTimeoutCallback callback, void *userdata)
{
    auto *t = new AvahiTimeout;
    t->callback = callback;
    t->userdata = userdata;
    t->timer = new QTimer;
    t->timer->setSingleShot(true);
    QObject::connect(t->timer, &QTimer::timeout, [t] { t->callback(t, t->userdata); }); // may free t
    timeoutUpdate(t, tv);
    return t;
}

void timeoutFree(AvahiTimeout *t)
{
    t->timer->stop();
    t->timer->disconnect();
    t->timer->deleteLater();
    delete t;
}

// Instance names are at most 63 bytes of UTF-8: the wall's name first, cut on a character.
QByteArray serviceName(const QString &wall, const QString &host)
{
    QString name = host.trimmed().isEmpty() ? wall : QStringLiteral("%1 — %2").arg(wall, host.trimmed());
    while (name.toUtf8().size() > 63)
        name.chop(1);
    return name.toUtf8();
}

} // namespace

namespace scrawl {

// Avahi's callbacks, in its own types, handing over to the objects they are for.
struct AvahiCallbacks
{
    static void client(AvahiClient *c, AvahiClientState state, void *self)
    {
        static_cast<DnsSd *>(self)->onClientState(c, int(state));
    }

    static void group(AvahiEntryGroup *, AvahiEntryGroupState state, void *service)
    {
        auto *s = static_cast<WallAnnouncer::Service *>(service);
        s->owner->onGroupState(*s, int(state));
    }

    static void browse(AvahiServiceBrowser *, AvahiIfIndex interface, AvahiProtocol protocol, AvahiBrowserEvent event,
                       const char *name, const char *type, const char *domain, AvahiLookupResultFlags, void *self)
    {
        auto *model = static_cast<NearbyWalls *>(self);
        const QString key = QStringLiteral("%1/%2/%3").arg(interface).arg(protocol).arg(QString::fromUtf8(name));
        switch (event) {
        case AVAHI_BROWSER_NEW:
            if (AvahiServiceResolver *r = avahi_service_resolver_new(
                    DnsSd::instance()->client(), interface, protocol, name, type, domain, AVAHI_PROTO_INET,
                    AvahiLookupFlags(0), &AvahiCallbacks::resolve, self))
                model->m_resolvers.push_back(r);
            break;
        case AVAHI_BROWSER_REMOVE:
            model->removed(key);
            break;
        case AVAHI_BROWSER_FAILURE:
            qCWarning(lcDnsSd) << "browsing failed:"
                               << avahi_strerror(avahi_client_errno(DnsSd::instance()->client()));
            break;
        default:
            break;
        }
    }

    static void resolve(AvahiServiceResolver *r, AvahiIfIndex interface, AvahiProtocol protocol,
                        AvahiResolverEvent event, const char *name, const char *, const char *, const char *,
                        const AvahiAddress *address, uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags,
                        void *self)
    {
        auto *model = static_cast<NearbyWalls *>(self);
        NearbyWalls::Found found;
        if (event == AVAHI_RESOLVER_FOUND && address) {
            auto text = [txt](const char *key) {
                AvahiStringList *item = avahi_string_list_find(txt, key);
                char *k = nullptr;
                char *v = nullptr;
                if (!item || avahi_string_list_get_pair(item, &k, &v, nullptr) < 0)
                    return QString();
                const QString value = v ? QString::fromUtf8(v) : QString();
                avahi_free(k);
                avahi_free(v);
                return value;
            };
            char host[AVAHI_ADDRESS_STR_MAX];
            avahi_address_snprint(host, sizeof host, address);
            found.key = QStringLiteral("%1/%2/%3").arg(interface).arg(protocol).arg(QString::fromUtf8(name));
            found.name = QString::fromUtf8(name);
            found.wall = text("wall");
            found.host = text("host");
            found.secure = text("tls") == QLatin1String("1");
            found.address = QStringLiteral("%1%2:%3").arg(found.secure ? QStringLiteral("wss://") : QString(),
                                                          QString::fromLatin1(host))
                                .arg(port);
        }
        model->resolved(r, found);
    }
};

// --- the daemon ------------------------------------------------------------------------------------

DnsSd *DnsSd::instance()
{
    static DnsSd *one = new DnsSd; // lives as long as the app (Avahi's objects hang off it)
    return one;
}

DnsSd::DnsSd()
    : m_poll(std::make_unique<AvahiPoll>())
{
    m_poll->userdata = this;
    m_poll->watch_new = watchNew;
    m_poll->watch_update = watchUpdate;
    m_poll->watch_get_events = watchGetEvents;
    m_poll->watch_free = watchFree;
    m_poll->timeout_new = timeoutNew;
    m_poll->timeout_update = timeoutUpdate;
    m_poll->timeout_free = timeoutFree;
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &DnsSd::connectToDaemon);
    connectToDaemon();
}

DnsSd::~DnsSd()
{
    if (m_client)
        avahi_client_free(m_client);
}

void DnsSd::connectToDaemon()
{
    int error = 0;
    // NO_FAIL: without a daemon it waits for one to appear (CONNECTING) instead of failing.
    m_client = avahi_client_new(m_poll.get(), AVAHI_CLIENT_NO_FAIL, &AvahiCallbacks::client, this, &error);
    if (!m_client) {
        // Not even a system bus to wait on.
        m_problem = tr("Walls on this network cannot be found or announced: %1. Install and start "
                       "avahi-daemon to use them; everything else works without.")
                        .arg(QString::fromUtf8(avahi_strerror(error)));
        qCInfo(lcDnsSd).noquote() << "nearby walls unavailable:" << avahi_strerror(error);
        m_retry.start(10000);
        emit availableChanged();
    }
}

void DnsSd::onClientState(AvahiClient *client, int state)
{
    m_client = client; // the callback may come from within avahi_client_new
    const bool running = state == AVAHI_CLIENT_S_RUNNING || state == AVAHI_CLIENT_S_REGISTERING
                      || state == AVAHI_CLIENT_S_COLLISION;
    if (state == AVAHI_CLIENT_CONNECTING) {
        m_problem = tr("No Avahi daemon is running on this computer, so walls on this network cannot "
                       "be found or announced. Install and start avahi-daemon to use them; "
                       "everything else works without.");
        qCInfo(lcDnsSd) << "nearby walls unavailable: no Avahi daemon (waiting for one)";
    } else if (state == AVAHI_CLIENT_FAILURE) {
        const int error = avahi_client_errno(client);
        m_problem = tr("The Avahi daemon went away (%1): walls on this network are not listed or "
                       "announced until it is back.")
                        .arg(QString::fromUtf8(avahi_strerror(error)));
        qCInfo(lcDnsSd).noquote() << "nearby walls unavailable:" << avahi_strerror(error);
    } else if (running) {
        m_problem.clear();
        if (!m_running)
            qCInfo(lcDnsSd) << "nearby walls available: the Avahi daemon answers";
    }
    const bool changed = running != m_running;
    m_running = running;
    if (state == AVAHI_CLIENT_FAILURE) {
        // What hangs off this client goes with it; a new one waits for the daemon.
        m_running = false;
        emit availableChanged();
        QMetaObject::invokeMethod(this, [this, client] {
            if (m_client == client) {
                avahi_client_free(client);
                m_client = nullptr;
                connectToDaemon();
            }
        }, Qt::QueuedConnection);
        return;
    }
    if (changed || state == AVAHI_CLIENT_CONNECTING)
        emit availableChanged();
}

// --- announcing -----------------------------------------------------------------------------------

WallAnnouncer::WallAnnouncer(QObject *parent)
    : QObject(parent)
{
    connect(DnsSd::instance(), &DnsSd::availableChanged, this, &WallAnnouncer::republishAll);
}

WallAnnouncer::~WallAnnouncer()
{
    withdrawAll();
}

void WallAnnouncer::announce(const QString &wall, const QString &hostName, int port, bool tls)
{
    for (const auto &s : m_services) {
        if (s->wall == wall && s->port == port && s->tls == tls)
            return; // already
    }
    auto s = std::make_unique<Service>();
    s->wall = wall;
    s->hostName = hostName;
    s->name = QString::fromUtf8(serviceName(wall, hostName));
    s->port = port;
    s->tls = tls;
    s->owner = this;
    publish(*s);
    m_services.push_back(std::move(s));
}

void WallAnnouncer::withdrawAll()
{
    for (auto &s : m_services) {
        if (s->group)
            avahi_entry_group_free(s->group);
    }
    const bool had = !m_services.empty();
    m_services.clear();
    if (had)
        emit announcedChanged();
}

QStringList WallAnnouncer::announced() const
{
    QStringList out;
    for (const auto &s : m_services) {
        if (s->established)
            out << s->name;
    }
    return out;
}

void WallAnnouncer::republishAll()
{
    for (auto &s : m_services) {
        // The old client's groups went with it.
        s->group = nullptr;
        s->established = false;
        publish(*s);
    }
    emit announcedChanged();
}

void WallAnnouncer::publish(Service &s)
{
    DnsSd *dnssd = DnsSd::instance();
    if (!dnssd->available() || !dnssd->client())
        return; // published once the daemon is there (republishAll)
    if (!s.group)
        s.group = avahi_entry_group_new(dnssd->client(), &AvahiCallbacks::group, &s);
    if (!s.group) {
        qCWarning(lcDnsSd) << "cannot announce wall" << s.wall << ":"
                           << avahi_strerror(avahi_client_errno(dnssd->client()));
        return;
    }
    avahi_entry_group_reset(s.group);
    const QByteArray wallTxt = "wall=" + s.wall.toUtf8();
    const QByteArray hostTxt = "host=" + s.hostName.toUtf8();
    const QByteArray tlsTxt = s.tls ? "tls=1" : "tls=0";
    const QByteArray versionTxt = "v=" + QByteArray::number(kProtocolVersion);
    const int error = avahi_entry_group_add_service(
        s.group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, AvahiPublishFlags(0), s.name.toUtf8().constData(),
        DnsSd::kServiceType, nullptr, nullptr, std::uint16_t(s.port), wallTxt.constData(), hostTxt.constData(),
        tlsTxt.constData(), versionTxt.constData(), static_cast<const char *>(nullptr));
    if (error == AVAHI_ERR_COLLISION) {
        onGroupState(s, AVAHI_ENTRY_GROUP_COLLISION);
        return;
    }
    if (error < 0 || avahi_entry_group_commit(s.group) < 0) {
        qCWarning(lcDnsSd) << "cannot announce wall" << s.wall << ":" << avahi_strerror(error);
        return;
    }
}

void WallAnnouncer::onGroupState(Service &s, int state)
{
    if (state == AVAHI_ENTRY_GROUP_ESTABLISHED) {
        s.established = true;
        qCInfo(lcDnsSd).noquote() << "announced wall" << s.wall << "as" << s.name << "on port" << s.port;
        emit announcedChanged();
    } else if (state == AVAHI_ENTRY_GROUP_COLLISION) {
        // Another service of that name on the network: the next free one ("… #2").
        char *next = avahi_alternative_service_name(s.name.toUtf8().constData());
        s.name = QString::fromUtf8(next);
        avahi_free(next);
        s.established = false;
        QMetaObject::invokeMethod(this, [this, service = &s] {
            for (auto &kept : m_services) {
                if (kept.get() == service)
                    publish(*kept);
            }
        }, Qt::QueuedConnection);
    } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
        qCWarning(lcDnsSd) << "announcing wall" << s.wall << "failed:"
                           << avahi_strerror(avahi_client_errno(DnsSd::instance()->client()));
    }
}

// --- finding --------------------------------------------------------------------------------------

NearbyWalls::NearbyWalls(QObject *parent)
    : QAbstractListModel(parent)
{
    connect(DnsSd::instance(), &DnsSd::availableChanged, this, [this] {
        stopBrowsing();
        if (DnsSd::instance()->available())
            startBrowsing();
        emit statusChanged();
    });
    if (DnsSd::instance()->available())
        startBrowsing();
}

NearbyWalls::~NearbyWalls()
{
    stopBrowsing();
}

void NearbyWalls::startBrowsing()
{
    m_browser = avahi_service_browser_new(DnsSd::instance()->client(), AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                          DnsSd::kServiceType, nullptr, AvahiLookupFlags(0), &AvahiCallbacks::browse,
                                          this);
    if (!m_browser)
        qCWarning(lcDnsSd) << "cannot browse for walls:"
                           << avahi_strerror(avahi_client_errno(DnsSd::instance()->client()));
}

void NearbyWalls::stopBrowsing()
{
    // A client that failed freed its browsers and resolvers itself; one that runs has them.
    if (DnsSd::instance()->client() && DnsSd::instance()->available()) {
        for (AvahiServiceResolver *r : m_resolvers)
            avahi_service_resolver_free(r);
        if (m_browser)
            avahi_service_browser_free(m_browser);
    }
    m_resolvers.clear();
    m_browser = nullptr;
    if (!m_rows.empty()) {
        beginResetModel();
        m_rows.clear();
        endResetModel();
        emit countChanged();
        emit statusChanged();
    }
}

void NearbyWalls::resolved(AvahiServiceResolver *r, const Found &found)
{
    std::erase(m_resolvers, r);
    avahi_service_resolver_free(r);
    if (found.key.isEmpty() || found.wall.isEmpty())
        return; // not resolved, or not a wall
    qCInfo(lcDnsSd).noquote() << "found wall" << found.wall << "hosted by" << found.host << "at" << found.address;
    for (size_t i = 0; i < m_rows.size(); ++i) {
        if (m_rows[i].key == found.key) {
            m_rows[i] = found;
            emit dataChanged(index(int(i)), index(int(i)));
            return;
        }
    }
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
    m_rows.push_back(found);
    endInsertRows();
    emit countChanged();
    emit statusChanged();
}

void NearbyWalls::removed(const QString &key)
{
    for (size_t i = 0; i < m_rows.size(); ++i) {
        if (m_rows[i].key == key) {
            qCInfo(lcDnsSd).noquote() << "wall" << m_rows[i].wall << "is no longer announced";
            beginRemoveRows({}, int(i), int(i));
            m_rows.erase(m_rows.begin() + long(i));
            endRemoveRows();
            emit countChanged();
            emit statusChanged();
            return;
        }
    }
}

int NearbyWalls::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant NearbyWalls::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Found &f = m_rows[size_t(index.row())];
    switch (role) {
    case WallRole: return f.wall;
    case HostRole: return f.host;
    case AddressRole: return f.address;
    case NameRole: return f.name;
    case SecureRole: return f.secure;
    default: return {};
    }
}

QHash<int, QByteArray> NearbyWalls::roleNames() const
{
    return {{WallRole, "wall"}, {HostRole, "host"}, {AddressRole, "address"}, {NameRole, "serviceName"},
            {SecureRole, "secure"}};
}

bool NearbyWalls::available() const
{
    return DnsSd::instance()->available();
}

QString NearbyWalls::statusText() const
{
    if (!available())
        return DnsSd::instance()->problem();
    return m_rows.empty() ? tr("No walls announced on this network yet.") : QString();
}

} // namespace scrawl
