#include "app/appsettings.h"

#include "core/protocol.h"

#include <QClipboard>
#include <QCoreApplication>
#include <QDBusConnection>
#include <QDBusMessage>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QDate>
#include <QDir>
#include <QEvent>
#include <QFileInfo>
#include <QFont>
#include <QGuiApplication>
#include <QPalette>
#include <QRandomGenerator>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>
#include <QWindow>

#include <algorithm>

namespace scrawl {

namespace {
const QList<QColor> &paletteColors()
{
    static const QList<QColor> colors = {
        QColor(0x22, 0x22, 0x22), QColor(0xe0, 0x3e, 0x3e), QColor(0xf0, 0x8c, 0x00),
        QColor(0xe8, 0xc5, 0x00), QColor(0x2f, 0x9e, 0x44), QColor(0x1c, 0x7e, 0xd6),
        QColor(0x70, 0x48, 0xe8), QColor(0xd6, 0x33, 0x6c),
    };
    return colors;
}
} // namespace

static QString settingsKey(const char *key, const QString &profile);

AppSettings::AppSettings(QObject *parent)
    : QObject(parent)
{
    // SCRAWL_PROFILE picks one explicitly (screenshots, several test users on one machine);
    // otherwise the first profile no other running copy of the app holds.
    m_profile = qEnvironmentVariable("SCRAWL_PROFILE");
    if (m_profile.isEmpty()) {
        const QString dir = dataDir();
        QDir().mkpath(dir);
        for (int i = 0; i < 32 && m_profile.isEmpty(); ++i) {
            const QString name = i == 0 ? QStringLiteral("default") : QStringLiteral("default-%1").arg(i);
            auto lock = std::make_unique<QLockFile>(dir + QStringLiteral("/profile-%1.lock").arg(name));
            lock->setStaleLockTime(0);
            if (lock->tryLock(0)) {
                m_lock = std::move(lock);
                m_profile = name;
            }
        }
        if (m_profile.isEmpty())
            m_profile = QStringLiteral("p%1").arg(QRandomGenerator::global()->generate());
    }
    pickColour();
    watchSystemTheme();
    // The desktop's font size changing reaches the application object as an event.
    // (QCoreApplication's: a guiless test may make one; qApp would cast it to QGuiApplication.)
    if (QCoreApplication *app = QCoreApplication::instance())
        app->installEventFilter(this);
}

// A profile that never chose a colour gets one of the palette's (not its near-black, which is for
// ink) at random, and keeps it: people who never chose are not all one colour, and a second
// profile on this machine differs from the first.
void AppSettings::pickColour()
{
    QSettings s;
    const QString own = settingsKey("person/color", m_profile);
    if (s.contains(own))
        return;
    const QColor first = s.value(QStringLiteral("profiles/default/person/color")).value<QColor>();
    QList<QColor> choices;
    for (int i = 1; i < paletteColors().size(); ++i) {
        if (paletteColors().at(i) != first)
            choices.append(paletteColors().at(i));
    }
    s.setValue(own, choices.at(int(QRandomGenerator::global()->bounded(choices.size()))));
}

AppSettings::~AppSettings() = default;

// Who you are (name, colour) belongs to the profile, so that a second copy of the app on the
// same machine can be a second person; everything else is shared.
static QString settingsKey(const char *key, const QString &profile)
{
    const QString k = QLatin1String(key);
    return k.startsWith(QLatin1String("person/")) ? QStringLiteral("profiles/%1/%2").arg(profile, k) : k;
}

QVariant AppSettings::value(const char *key, const QVariant &fallback) const
{
    QSettings s;
    const QString k = settingsKey(key, m_profile);
    // A new profile starts from what the first one chose.
    if (!s.contains(k) && k != QLatin1String(key))
        return s.value(QStringLiteral("profiles/default/") + QLatin1String(key), fallback);
    return s.value(k, fallback);
}

void AppSettings::setValue(const char *key, const QVariant &v)
{
    QSettings s;
    const QString k = settingsKey(key, m_profile);
    if (s.contains(k) && s.value(k) == v)
        return;
    s.setValue(k, v);
    emit changed();
}

QString AppSettings::displayName() const
{
    QString fallback = qEnvironmentVariable("USER");
    if (!fallback.isEmpty())
        fallback[0] = fallback[0].toUpper();
    return value("person/name", fallback).toString();
}
void AppSettings::setDisplayName(const QString &name) { setValue("person/name", name.trimmed()); }

QColor AppSettings::color() const
{
    return value("person/color", paletteColors().at(5)).value<QColor>();
}
void AppSettings::setColor(const QColor &color) { setValue("person/color", color); }

int AppSettings::lastTool() const { return value("wall/tool", 0).toInt(); }
void AppSettings::setLastTool(int tool) { setValue("wall/tool", tool); }

QColor AppSettings::penColor() const
{
    return value("wall/penColor", paletteColors().at(0)).value<QColor>();
}
void AppSettings::setPenColor(const QColor &color) { setValue("wall/penColor", color); }

double AppSettings::penWidth() const { return value("wall/penWidth", 4.0).toDouble(); }
void AppSettings::setPenWidth(double width) { setValue("wall/penWidth", width); }

int AppSettings::hostPort() const { return value("host/port", kDefaultPort).toInt(); }
void AppSettings::setHostPort(int port) { setValue("host/port", port); }
bool AppSettings::hostSecure() const { return value("host/secure", true).toBool(); }
void AppSettings::setHostSecure(bool secure) { setValue("host/secure", secure); }
bool AppSettings::announceHosted() const { return value("host/announce", true).toBool(); }
void AppSettings::setAnnounceHosted(bool on) { setValue("host/announce", on); }

QString AppSettings::lastAddress() const { return value("join/address", QString()).toString(); }
void AppSettings::setLastAddress(const QString &a) { setValue("join/address", a.trimmed()); }

QString AppSettings::lastWall() const
{
    return value("join/wall", QStringLiteral("main")).toString();
}
void AppSettings::setLastWall(const QString &w) { setValue("join/wall", w.trimmed()); }

QString AppSettings::appVersion() const { return QString::fromLatin1(kAppVersion); }

QVariantList AppSettings::recentWalls() const
{
    return value("recent/walls", QVariantList()).toList();
}

// One server, however its address was typed: no scheme, lower case, "localhost" as 127.0.0.1,
// the default port spelled out.
QString AppSettings::serverKey(const QString &address)
{
    QString a = address.trimmed().toLower();
    for (const char *scheme : {"wss://", "ws://", "scrawl://"}) {
        if (a.startsWith(QLatin1String(scheme)))
            a = a.mid(int(qstrlen(scheme)));
    }
    const QUrl url(QStringLiteral("ws://") + a.section(QLatin1Char('/'), 0, 0));
    QString host = url.host();
    if (host == QLatin1String("localhost") || host == QLatin1String("::1"))
        host = QStringLiteral("127.0.0.1");
    return host + QLatin1Char(':') + QString::number(url.port(kDefaultPort));
}

void AppSettings::addRecent(const QString &address, const QString &wall, bool hosted)
{
    QVariantList list = recentWalls();
    const QString server = serverKey(address);
    for (int i = list.size() - 1; i >= 0; --i) {
        const QVariantMap m = list[i].toMap();
        if (m.value(QStringLiteral("wall")).toString() != wall)
            continue;
        // The same wall on the same server, whichever way it was reached: listed once. A wall
        // hosted here is the same wall whatever port it had.
        const bool bothHosted = hosted && m.value(QStringLiteral("hosted")).toBool();
        if (bothHosted || serverKey(m.value(QStringLiteral("address")).toString()) == server)
            list.removeAt(i);
    }
    list.prepend(QVariantMap{{QStringLiteral("address"), address},
                             {QStringLiteral("wall"), wall},
                             {QStringLiteral("hosted"), hosted}});
    while (list.size() > 8)
        list.removeLast();
    QSettings().setValue(QStringLiteral("recent/walls"), list);
    emit recentWallsChanged();
}

void AppSettings::removeRecent(int index)
{
    QVariantList list = recentWalls();
    if (index < 0 || index >= list.size())
        return;
    list.removeAt(index);
    QSettings().setValue(QStringLiteral("recent/walls"), list);
    emit recentWallsChanged();
}

void AppSettings::saveWindow(QWindow *window)
{
    if (!window)
        return;
    QSettings s;
    s.setValue(QStringLiteral("window/maximized"), window->visibility() == QWindow::Maximized);
    if (window->visibility() == QWindow::Windowed)
        s.setValue(QStringLiteral("window/geometry"), window->geometry());
}

void AppSettings::restoreWindow(QWindow *window)
{
    if (!window)
        return;
    QSettings s;
    const QRect g = s.value(QStringLiteral("window/geometry")).toRect();
    if (g.isValid() && g.width() > 200 && g.height() > 200)
        window->setGeometry(g);
    if (s.value(QStringLiteral("window/maximized"), false).toBool())
        window->setVisibility(QWindow::Maximized);
}

void AppSettings::copyToClipboard(const QString &text)
{
    QGuiApplication::clipboard()->setText(text);
}

QVariantList AppSettings::palette() const
{
    QVariantList out;
    for (const QColor &c : paletteColors())
        out.push_back(c);
    return out;
}

// --- data folder -------------------------------------------------------------------------------

QString AppSettings::dataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QLatin1Char('/')
         + QCoreApplication::applicationName().toLower();
}

QString AppSettings::migrateDataDir()
{
    const QString old = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    const QString now = dataDir();
    if (old == now || !QFileInfo(old).isDir() || QFileInfo::exists(now))
        return {};
    QDir().mkpath(QFileInfo(now).path());
    if (!QDir().rename(old, now))
        return QStringLiteral("could not move the data folder %1 to %2; the walls hosted there stay where they are").arg(old, now);
    // The organisation folder it was in, when nothing else is left there.
    QDir().rmdir(QFileInfo(old).path());
    return QStringLiteral("moved the data folder %1 to %2").arg(old, now);
}

// --- export paths ------------------------------------------------------------------------------

QString AppSettings::exportFolder() const
{
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    if (!pictures.isEmpty() && QFileInfo(pictures).isDir())
        return pictures;
    return QDir::homePath();
}

QString AppSettings::exportFileName(const QString &wall, const QString &format) const
{
    QString base = wall.trimmed();
    // Characters that file systems or shells make trouble of become '-'.
    for (QChar &c : base) {
        if (c == QLatin1Char('/') || c == QLatin1Char('\\') || c == QLatin1Char(':') || c.isSpace() || c < QLatin1Char(' '))
            c = QLatin1Char('-');
    }
    if (base.isEmpty() || base.startsWith(QLatin1Char('.')))
        base.prepend(QStringLiteral("wall"));
    return QStringLiteral("%1-%2.%3").arg(base, QDate::currentDate().toString(Qt::ISODate),
                                          format == QLatin1String("svg") ? QStringLiteral("svg") : QStringLiteral("png"));
}

QString AppSettings::resolveExportPath(const QString &typed, const QString &folder, const QString &format) const
{
    QString path = typed.trimmed();
    if (path.startsWith(QLatin1String("file://")))
        path = QUrl(path).toLocalFile();
    if (path.isEmpty())
        return {};
    if (path == QLatin1String("~") || path.startsWith(QLatin1String("~/")))
        path = QDir::homePath() + path.mid(1);
    if (QDir::isRelativePath(path))
        path = QDir(folder.isEmpty() ? exportFolder() : folder).filePath(path);
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix != QLatin1String("png") && suffix != QLatin1String("svg"))
        path += format == QLatin1String("svg") ? QStringLiteral(".svg") : QStringLiteral(".png");
    return QDir::cleanPath(path);
}

bool AppSettings::fileExists(const QString &path) const { return QFileInfo::exists(path); }

// --- light and dark ----------------------------------------------------------------------------

namespace {
const QString kPortalService = QStringLiteral("org.freedesktop.portal.Desktop");
const QString kPortalPath = QStringLiteral("/org/freedesktop/portal/desktop");
const QString kPortalSettings = QStringLiteral("org.freedesktop.portal.Settings");
const QString kAppearance = QStringLiteral("org.freedesktop.appearance");
const QString kColorScheme = QStringLiteral("color-scheme");

// The portal's color-scheme value (0 no preference, 1 dark, 2 light), unwrapped from the one or
// two QDBusVariant layers that Read puts around it.
int colorScheme(QVariant v)
{
    while (v.canConvert<QDBusVariant>() && v.userType() == qMetaTypeId<QDBusVariant>())
        v = v.value<QDBusVariant>().variant();
    return v.toInt();
}
} // namespace

// Qt 6.4 has no colour-scheme API: the desktop's preference is read from the XDG settings
// portal (GNOME, KDE and others answer it) and followed while the app runs. Without a session
// bus or a portal, the application palette's window colour decides.
void AppSettings::watchSystemTheme()
{
    QDBusConnection bus = QDBusConnection::sessionBus();
    if (!bus.isConnected())
        return;
    // The slot takes the whole message: Qt 6.4 refuses (returns false, no error set) a slot
    // typed (QString, QString, QDBusVariant) for this signal, and theme changes went unheard.
    if (!bus.connect(kPortalService, kPortalPath, kPortalSettings, QStringLiteral("SettingChanged"), this,
                     SLOT(portalSettingChanged(QDBusMessage))))
        qWarning("scrawl: cannot follow the desktop's theme changes: %s",
                 qPrintable(bus.lastError().message()));
    QDBusMessage read = QDBusMessage::createMethodCall(kPortalService, kPortalPath, kPortalSettings,
                                                       QStringLiteral("Read"));
    read << kAppearance << kColorScheme;
    auto *watcher = new QDBusPendingCallWatcher(bus.asyncCall(read, 2000), this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this, [this](QDBusPendingCallWatcher *w) {
        w->deleteLater();
        const QDBusPendingReply<QVariant> reply = *w;
        if (reply.isError())
            return;
        const bool wasDark = dark();
        m_systemDark = colorScheme(reply.value()) == 1 ? 1 : 0;
        if (dark() != wasDark)
            emit themeChanged();
    });
}

void AppSettings::portalSettingChanged(const QDBusMessage &message)
{
    const QVariantList args = message.arguments();
    if (args.size() != 3 || args.at(0).toString() != kAppearance || args.at(1).toString() != kColorScheme)
        return;
    const bool wasDark = dark();
    m_systemDark = colorScheme(args.at(2)) == 1 ? 1 : 0;
    if (dark() != wasDark)
        emit themeChanged();
}

QString AppSettings::theme() const
{
    const QString t = value("ui/theme", QStringLiteral("system")).toString();
    return t == QLatin1String("light") || t == QLatin1String("dark") ? t : QStringLiteral("system");
}

void AppSettings::setTheme(const QString &theme)
{
    if (theme == this->theme())
        return;
    setValue("ui/theme", theme);
    emit themeChanged();
}

bool AppSettings::dark() const
{
    const QString t = theme();
    if (t != QLatin1String("system"))
        return t == QLatin1String("dark");
    if (m_systemDark >= 0)
        return m_systemDark == 1;
    return QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
}

// --- text size ---------------------------------------------------------------------------------

qreal AppSettings::fontPoints() const
{
    const QFont font = QGuiApplication::font();
    if (font.pointSizeF() > 0)
        return font.pointSizeF();
    return std::max(6.0, font.pixelSize() * 0.75); // a font set in pixels: 96 dpi's points
}

bool AppSettings::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == QCoreApplication::instance() && event->type() == QEvent::ApplicationFontChange)
        emit fontChanged();
    return QObject::eventFilter(watched, event);
}

} // namespace scrawl
