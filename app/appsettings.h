#pragma once

// What the app remembers between runs (QSettings): name, colour, recent walls, last tool and pen,
// window geometry, the port to host on. Also picks this instance's identity profile: a second
// copy of the app on the same machine gets its own profile (and so its own user on a server),
// because two windows sharing one user id would refuse each other's op ids.

#include "core/limits.h"

#include <QColor>
#include <QDBusMessage>
#include <QLockFile>
#include <QObject>
#include <QVariantList>
#include <QWindow>
#include <QtQml/qqmlregistration.h>

#include <memory>


namespace scrawl {

class AppSettings : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    Q_PROPERTY(QString displayName READ displayName WRITE setDisplayName NOTIFY changed)
    Q_PROPERTY(QColor color READ color WRITE setColor NOTIFY changed)
    Q_PROPERTY(QVariantList recentWalls READ recentWalls NOTIFY recentWallsChanged)
    Q_PROPERTY(int lastTool READ lastTool WRITE setLastTool NOTIFY changed)
    Q_PROPERTY(QColor penColor READ penColor WRITE setPenColor NOTIFY changed)
    Q_PROPERTY(double penWidth READ penWidth WRITE setPenWidth NOTIFY changed)
    Q_PROPERTY(int hostPort READ hostPort WRITE setHostPort NOTIFY changed)
    // Host over wss:// (true, the default) or plain ws:// (an explicit choice, remembered).
    Q_PROPERTY(bool hostSecure READ hostSecure WRITE setHostSecure NOTIFY changed)
    // Announce hosted walls on the local network (DNS-SD); on unless switched off.
    Q_PROPERTY(bool announceHosted READ announceHosted WRITE setAnnounceHosted NOTIFY changed)
    Q_PROPERTY(QString lastAddress READ lastAddress WRITE setLastAddress NOTIFY changed)
    Q_PROPERTY(QString lastWall READ lastWall WRITE setLastWall NOTIFY changed)
    Q_PROPERTY(QString profile READ profile CONSTANT)
    Q_PROPERTY(QString appVersion READ appVersion CONSTANT)
    // The server's limits (core/limits.h) for what the start screen lets a person type.
    Q_PROPERTY(int maxNameChars READ maxNameChars CONSTANT)
    Q_PROPERTY(int maxWallNameChars READ maxWallNameChars CONSTANT)
    // "system" (the default: the desktop's light or dark preference), "light" or "dark".
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY themeChanged)
    // What the theme comes to now: true for dark.
    Q_PROPERTY(bool dark READ dark NOTIFY themeChanged)
    // The desktop's text size, in points (the application font), followed while the app runs:
    // Theme's type sizes are made from it. Qt 6.4's Qt.application.font never says it changed.
    Q_PROPERTY(qreal fontPoints READ fontPoints NOTIFY fontChanged)

public:
    explicit AppSettings(QObject *parent = nullptr);
    ~AppSettings() override;

    QString displayName() const;
    void setDisplayName(const QString &name);
    QColor color() const;
    void setColor(const QColor &color);
    QVariantList recentWalls() const;
    int lastTool() const;
    void setLastTool(int tool);
    QColor penColor() const;
    void setPenColor(const QColor &color);
    double penWidth() const;
    void setPenWidth(double width);
    int hostPort() const;
    void setHostPort(int port);
    bool hostSecure() const;
    bool announceHosted() const;
    void setAnnounceHosted(bool on);
    void setHostSecure(bool secure);
    QString lastAddress() const;
    void setLastAddress(const QString &address);
    QString lastWall() const;
    void setLastWall(const QString &wall);
    QString profile() const { return m_profile; }
    QString appVersion() const;
    static int maxNameChars() { return limits::kMaxNameChars; }
    static int maxWallNameChars() { return limits::kMaxWallNameChars; }
    QString theme() const;
    void setTheme(const QString &theme);
    bool dark() const;
    qreal fontPoints() const;

    // Where the app keeps hosted walls, outboxes and profile locks: the application's name in
    // lower case under the user's data folder (~/.local/share/scrawl), without Qt's extra
    // organisation level.
    static QString dataDir();
    // Moves what an older version kept in Qt's AppDataLocation (~/.local/share/Scrawl/Scrawl)
    // into dataDir(), once: when that exists and dataDir() does not. Returns what it did, for
    // the log ("" when there was nothing to move).
    static QString migrateDataDir();
    // Remembers a wall at the top of the recent list (at most 8, each wall of each server once:
    // see serverKey).
    static QString serverKey(const QString &address);
    Q_INVOKABLE void addRecent(const QString &address, const QString &wall, bool hosted);
    Q_INVOKABLE void removeRecent(int index);
    Q_INVOKABLE void saveWindow(QWindow *window);
    Q_INVOKABLE void restoreWindow(QWindow *window);
    Q_INVOKABLE void copyToClipboard(const QString &text);
    // Exports: the folder offered first (Pictures, or home when there is none: always one that
    // exists), a file name for `wall` today in `format` ("png" or "svg"), and where what a person
    // typed goes: an absolute path (or ~/...) as it is, a bare name into `folder`, with the
    // format's suffix added when it has neither .png nor .svg.
    Q_INVOKABLE QString exportFolder() const;
    Q_INVOKABLE QString exportFileName(const QString &wall, const QString &format) const;
    Q_INVOKABLE QString resolveExportPath(const QString &typed, const QString &folder, const QString &format) const;
    Q_INVOKABLE bool fileExists(const QString &path) const;
    // Palette of pen and person colours offered in the UI.
    Q_INVOKABLE QVariantList palette() const;

signals:
    void changed();
    void recentWallsChanged();
    void themeChanged();
    void fontChanged();

private slots:
    // The desktop portal's SettingChanged(group, key, value); org.freedesktop.appearance
    // color-scheme 1 prefers dark.
    void portalSettingChanged(const QDBusMessage &message);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    QVariant value(const char *key, const QVariant &fallback) const;
    void setValue(const char *key, const QVariant &value);

    void watchSystemTheme();
    void pickColour();

    QString m_profile;
    // The desktop's preference as last heard: -1 not known (then the application palette
    // decides), 0 light, 1 dark.
    int m_systemDark = -1;
    std::unique_ptr<QLockFile> m_lock;
};

} // namespace scrawl
