#include "app/appsettings.h"

#include "core/protocol.h"

#include <QClipboard>
#include <QDir>
#include <QGuiApplication>
#include <QRandomGenerator>
#include <QSettings>
#include <QStandardPaths>
#include <QWindow>

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

AppSettings::AppSettings(QObject *parent)
    : QObject(parent)
{
    // SCRAWL_PROFILE picks one explicitly (screenshots, several test users on one machine);
    // otherwise the first profile no other running copy of the app holds.
    m_profile = qEnvironmentVariable("SCRAWL_PROFILE");
    if (m_profile.isEmpty()) {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
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

int AppSettings::hostPort() const { return value("host/port", 7777).toInt(); }
void AppSettings::setHostPort(int port) { setValue("host/port", port); }
bool AppSettings::hostSecure() const { return value("host/secure", true).toBool(); }
void AppSettings::setHostSecure(bool secure) { setValue("host/secure", secure); }

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

void AppSettings::addRecent(const QString &address, const QString &wall, bool hosted)
{
    QVariantList list = recentWalls();
    for (int i = list.size() - 1; i >= 0; --i) {
        const QVariantMap m = list[i].toMap();
        if (m.value(QStringLiteral("address")).toString() == address
            && m.value(QStringLiteral("wall")).toString() == wall)
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

} // namespace scrawl
