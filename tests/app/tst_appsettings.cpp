// What the app remembers between runs: name and colour, recent walls (newest first, no
// duplicates, at most 8), last tool and pen, host port, window geometry; and a second running
// copy of the app gets its own identity profile. Real QSettings in Qt's test location.

#include "app/appsettings.h"

#include <QDBusConnection>
#include <QDBusMessage>
#include <QDBusVariant>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>

#include <QGuiApplication>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <QWindow>

using namespace scrawl;

// A stand-in for the XDG desktop portal's settings interface (what GNOME and KDE answer), on a
// private session bus of the test's own: Read gives the colour scheme it holds, doubly wrapped
// in variants as the portal's Read does; change() sets it and signals SettingChanged.
class StandInPortal : public QObject
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "org.freedesktop.portal.Settings")

public:
    explicit StandInPortal(QDBusConnection bus) : m_bus(bus) {}
    uint scheme = 0;

    void change(uint value)
    {
        scheme = value;
        QDBusMessage signal = QDBusMessage::createSignal(QStringLiteral("/org/freedesktop/portal/desktop"),
                                                         QStringLiteral("org.freedesktop.portal.Settings"),
                                                         QStringLiteral("SettingChanged"));
        signal << QStringLiteral("org.freedesktop.appearance") << QStringLiteral("color-scheme")
               << QVariant::fromValue(QDBusVariant(QVariant::fromValue(value)));
        m_bus.send(signal);
    }

public slots:
    QDBusVariant Read(const QString &group, const QString &key)
    {
        if (group != QLatin1String("org.freedesktop.appearance") || key != QLatin1String("color-scheme"))
            return QDBusVariant(QString());
        return QDBusVariant(QVariant::fromValue(QDBusVariant(QVariant::fromValue(scheme))));
    }

private:
    QDBusConnection m_bus;
};

// Counts the portal's SettingChanged signals as the app's own bus connection delivers them.
class SignalCounter : public QObject
{
    Q_OBJECT
public:
    int count = 0;
public slots:
    void seen(const QDBusMessage &) { ++count; }
};

class TestAppSettings : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("ScrawlTest"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_appsettings"));
        qunsetenv("SCRAWL_PROFILE");
        // A session bus of the test's own, so the desktop the test runs on never decides the
        // theme, and the portal there is the test's stand-in.
        QVERIFY(m_busDir.isValid());
        m_bus.setProgram(QStringLiteral("dbus-daemon"));
        m_bus.setArguments({QStringLiteral("--session"), QStringLiteral("--nofork"), QStringLiteral("--nopidfile"),
                            QStringLiteral("--address=unix:path=") + m_busDir.filePath(QStringLiteral("bus")),
                            QStringLiteral("--print-address")});
        m_bus.start();
        QVERIFY2(m_bus.waitForStarted(), "dbus-daemon starts (scripts/deps installs it)");
        QTRY_VERIFY(m_bus.canReadLine());
        const QByteArray address = m_bus.readLine().trimmed();
        qputenv("DBUS_SESSION_BUS_ADDRESS", address);
        QVERIFY(QDBusConnection::sessionBus().isConnected());
    }
    void cleanupTestCase()
    {
        m_bus.kill();
        m_bus.waitForFinished();
    }
    void init() { QSettings().clear(); }

    void personAndToolsSurviveARestart()
    {
        {
            AppSettings s;
            QSignalSpy changed(&s, &AppSettings::changed);
            s.setDisplayName(QStringLiteral("  Ada  "));
            // Not a palette colour: a new profile picks one of those at random, and setting the
            // one it picked would change nothing.
            s.setColor(QColor(0x12, 0x34, 0x56));
            s.setLastTool(2);
            s.setPenColor(QColor(0x2f, 0x9e, 0x44));
            s.setPenWidth(8);
            s.setHostPort(7788);
            s.setLastAddress(QStringLiteral("10.0.0.5:7777"));
            s.setLastWall(QStringLiteral("design"));
            QCOMPARE(changed.count(), 8);
            s.setLastTool(2); // unchanged: no signal
            QCOMPARE(changed.count(), 8);
        }
        AppSettings again;
        QCOMPARE(again.displayName(), QStringLiteral("Ada"));
        QCOMPARE(again.color(), QColor(0x12, 0x34, 0x56));
        QCOMPARE(again.lastTool(), 2);
        QCOMPARE(again.penColor(), QColor(0x2f, 0x9e, 0x44));
        QCOMPARE(again.penWidth(), 8.0);
        QCOMPARE(again.hostPort(), 7788);
        QCOMPARE(again.lastAddress(), QStringLiteral("10.0.0.5:7777"));
        QCOMPARE(again.lastWall(), QStringLiteral("design"));
    }

    void defaults()
    {
        AppSettings s;
        QCOMPARE(s.hostPort(), 7777);
        QCOMPARE(s.lastTool(), 0);
        QVERIFY(s.recentWalls().isEmpty());
        QCOMPARE(s.palette().size(), 8);
    }

    void recentWallsNewestFirstNoDuplicatesAtMost8()
    {
        AppSettings s;
        QSignalSpy spy(&s, &AppSettings::recentWallsChanged);
        for (int i = 0; i < 10; ++i)
            s.addRecent(QStringLiteral("host%1:7777").arg(i), QStringLiteral("w%1").arg(i), false);
        QCOMPARE(spy.count(), 10);
        QVariantList list = s.recentWalls();
        QCOMPARE(list.size(), 8);
        QCOMPARE(list.first().toMap().value("wall").toString(), QStringLiteral("w9"));
        QCOMPARE(list.last().toMap().value("wall").toString(), QStringLiteral("w2"));
        // Joining one again moves it to the top instead of adding it twice.
        s.addRecent(QStringLiteral("host5:7777"), QStringLiteral("w5"), false);
        list = s.recentWalls();
        QCOMPARE(list.size(), 8);
        QCOMPARE(list.first().toMap().value("wall").toString(), QStringLiteral("w5"));
        QCOMPARE(std::count_if(list.begin(), list.end(),
                               [](const QVariant &v) { return v.toMap().value("wall") == "w5"; }),
                 1);
        s.addRecent(QStringLiteral("127.0.0.1:7777"), QStringLiteral("mine"), true);
        QVERIFY(s.recentWalls().first().toMap().value("hosted").toBool());
        s.removeRecent(0);
        QCOMPARE(s.recentWalls().first().toMap().value("wall").toString(), QStringLiteral("w5"));
        QCOMPARE(s.recentWalls().size(), 7); // "mine" pushed w2 out, then went itself
        s.removeRecent(99); // out of range: nothing happens
        QCOMPARE(s.recentWalls().size(), 7);
        AppSettings again;
        QCOMPARE(again.recentWalls().size(), 7);
    }

    void windowGeometryIsRestored()
    {
        {
            QWindow w;
            w.setGeometry(120, 90, 1000, 700);
            w.show();
            QVERIFY(QTest::qWaitForWindowExposed(&w));
            AppSettings s;
            s.saveWindow(&w);
        }
        QWindow w2;
        w2.resize(400, 300);
        AppSettings s;
        s.restoreWindow(&w2);
        QCOMPARE(w2.geometry().size(), QSize(1000, 700));
        QCOMPARE(w2.geometry().topLeft(), QPoint(120, 90));
    }

    void secondCopyGetsItsOwnProfile()
    {
        AppSettings first;
        first.setDisplayName(QStringLiteral("Ada"));
        AppSettings second; // another running copy of the app on this machine
        QVERIFY(first.profile() != second.profile());
        // It starts from what the first chose, then goes its own way.
        QCOMPARE(second.displayName(), QStringLiteral("Ada"));
        second.setDisplayName(QStringLiteral("Grace"));
        QCOMPARE(first.displayName(), QStringLiteral("Ada"));
        QCOMPARE(second.displayName(), QStringLiteral("Grace"));
    }

    // Issue 17 §6: each wall of each server once, however the address was typed; a wall hosted
    // here once whatever port it had.
    void recentWallsListEachServersWallOnce()
    {
        AppSettings s;
        s.addRecent(QStringLiteral("localhost"), QStringLiteral("plan"), false);
        s.addRecent(QStringLiteral("127.0.0.1:7777"), QStringLiteral("plan"), false);
        s.addRecent(QStringLiteral("ws://LOCALHOST:7777/"), QStringLiteral("plan"), false);
        QCOMPARE(s.recentWalls().size(), 1);
        s.addRecent(QStringLiteral("10.0.0.5:7777"), QStringLiteral("plan"), false); // another server
        s.addRecent(QStringLiteral("127.0.0.1:7777"), QStringLiteral("other"), false); // another wall
        QCOMPARE(s.recentWalls().size(), 3);
        s.addRecent(QStringLiteral("127.0.0.1:7790"), QStringLiteral("mine"), true);
        s.addRecent(QStringLiteral("127.0.0.1:7791"), QStringLiteral("mine"), true);
        QCOMPARE(s.recentWalls().size(), 4);
        QCOMPARE(s.recentWalls().first().toMap().value("address").toString(), QStringLiteral("127.0.0.1:7791"));
        QCOMPARE(AppSettings::serverKey(QStringLiteral("[::1]:7000")), QStringLiteral("127.0.0.1:7000"));
        QCOMPARE(AppSettings::serverKey(QStringLiteral("wss://Host.example")), QStringLiteral("host.example:7777"));
    }

    // Issue 17 §6: the data folder is ~/.local/share/<app> (scrawl for the app); what an older
    // version kept in Qt's AppDataLocation moves there once, with its walls.
    void dataFolderMovesOnce()
    {
        const QString old = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        const QString now = AppSettings::dataDir();
        QVERIFY(now.endsWith(QLatin1String("/tst_appsettings")));
        QVERIFY(old != now);
        QDir(now).removeRecursively();
        QVERIFY(QDir().mkpath(old + QStringLiteral("/hosted")));
        QFile wall(old + QStringLiteral("/hosted/scrawl.sqlite"));
        QVERIFY(wall.open(QIODevice::WriteOnly));
        wall.write("walls");
        wall.close();
        QVERIFY(AppSettings::migrateDataDir().contains(now));
        QVERIFY(QFile::exists(now + QStringLiteral("/hosted/scrawl.sqlite")));
        QVERIFY(!QFileInfo::exists(old));
        QCOMPARE(AppSettings::migrateDataDir(), QString()); // once
        // Both there: the new one is kept as it is, the old one left alone.
        QVERIFY(QDir().mkpath(old));
        QCOMPARE(AppSettings::migrateDataDir(), QString());
        QVERIFY(QFile::exists(now + QStringLiteral("/hosted/scrawl.sqlite")));
        QDir(old).removeRecursively();
        QDir(now).removeRecursively();
    }

    // Issue 17 §4: people who never chose a colour are not all one colour.
    void aColourIsPickedOnceAndDiffersFromTheFirstProfile()
    {
        AppSettings first;
        const QColor mine = first.color();
        QVERIFY(first.palette().mid(1).contains(QVariant(mine)));
        QVERIFY(mine != first.palette().first().value<QColor>()); // not the ink's near-black
        {
            AppSettings second; // another copy, another person
            QVERIFY(second.profile() != first.profile());
            QVERIFY(second.color() != mine);
            QCOMPARE(first.color(), mine); // kept
        }
        first.setColor(QColor(0x2f, 0x9e, 0x44));
        QCOMPARE(first.color(), QColor(0x2f, 0x9e, 0x44)); // a choice stays a choice
    }

    void themeIsRememberedAndExplicitChoicesWin()
    {
        AppSettings s;
        QCOMPARE(s.theme(), QStringLiteral("system"));
        QSignalSpy spy(&s, &AppSettings::themeChanged);
        s.setTheme(QStringLiteral("dark"));
        QVERIFY(s.dark());
        QCOMPARE(spy.count(), 1);
        s.setTheme(QStringLiteral("light"));
        QVERIFY(!s.dark());
        AppSettings again;
        QCOMPARE(again.theme(), QStringLiteral("light"));
        s.setTheme(QStringLiteral("nonsense"));
        QCOMPARE(s.theme(), QStringLiteral("system")); // anything else follows the system
    }

    // Issue 17 §3: "system" follows the desktop's colour scheme from the settings portal, at
    // start and when it changes while the app runs; a choice made in the app wins over it.
    void systemThemeFollowsThePortal()
    {
        QDBusConnection portalBus = QDBusConnection::connectToBus(
            QString::fromUtf8(qgetenv("DBUS_SESSION_BUS_ADDRESS")), QStringLiteral("stand-in portal"));
        QVERIFY(portalBus.isConnected());
        StandInPortal portal(portalBus);
        portal.scheme = 1; // dark
        QVERIFY(portalBus.registerObject(QStringLiteral("/org/freedesktop/portal/desktop"), &portal,
                                         QDBusConnection::ExportAllSlots));
        QVERIFY(portalBus.registerService(QStringLiteral("org.freedesktop.portal.Desktop")));

        SignalCounter heard;
        QVERIFY(QDBusConnection::sessionBus().connect(
            QStringLiteral("org.freedesktop.portal.Desktop"), QStringLiteral("/org/freedesktop/portal/desktop"),
            QStringLiteral("org.freedesktop.portal.Settings"), QStringLiteral("SettingChanged"), &heard,
            SLOT(seen(QDBusMessage))));
        AppSettings s;
        QCOMPARE(s.theme(), QStringLiteral("system"));
        QSignalSpy spy(&s, &AppSettings::themeChanged);
        QTRY_VERIFY2(s.dark(), "the desktop prefers dark at start");
        portal.change(2); // light
        QTRY_VERIFY2(!s.dark(), "the desktop switched to light");
        portal.change(1);
        QTRY_VERIFY2(s.dark(), "and back to dark");
        QCOMPARE(spy.count(), 3);
        s.setTheme(QStringLiteral("light"));
        QVERIFY(!s.dark());
        portal.change(2);
        portal.change(1);
        QTRY_COMPARE(heard.count, 4); // the app's connection has had both
        QCOMPARE(spy.count(), 4);     // the person's choice holds; no flicker
        QVERIFY(!s.dark());
        s.setTheme(QStringLiteral("system"));
        QVERIFY(s.dark());

        portalBus.unregisterService(QStringLiteral("org.freedesktop.portal.Desktop"));
        portalBus.unregisterObject(QStringLiteral("/org/freedesktop/portal/desktop"));
        QDBusConnection::disconnectFromBus(QStringLiteral("stand-in portal"));
    }

    // Issue 17 §5: where an export goes.
    void exportPaths()
    {
        AppSettings s;
        QVERIFY(QFileInfo(s.exportFolder()).isDir());
        const QString name = s.exportFileName(QStringLiteral("team/plan: Q3"), QStringLiteral("png"));
        QVERIFY2(name.startsWith(QLatin1String("team-plan--Q3-")) && name.endsWith(QLatin1String(".png")), qPrintable(name));
        QVERIFY(s.exportFileName(QStringLiteral(".hidden"), QStringLiteral("svg")).startsWith(QLatin1String("wall.hidden-")));
        // A typed absolute path as it is; a bare name into the folder; ~ is home; a suffix only
        // when there is none of ours.
        QCOMPARE(s.resolveExportPath(QStringLiteral("/srv/shots/exact.png"), QStringLiteral("/tmp"), QStringLiteral("png")),
                 QStringLiteral("/srv/shots/exact.png"));
        QCOMPARE(s.resolveExportPath(QStringLiteral("/srv/shots/exact.svg"), QStringLiteral("/tmp"), QStringLiteral("png")),
                 QStringLiteral("/srv/shots/exact.svg"));
        QCOMPARE(s.resolveExportPath(QStringLiteral("  plan "), QStringLiteral("/tmp/out"), QStringLiteral("svg")),
                 QStringLiteral("/tmp/out/plan.svg"));
        QCOMPARE(s.resolveExportPath(QStringLiteral("~/plan.png"), QStringLiteral("/tmp"), QStringLiteral("png")),
                 QDir::homePath() + QStringLiteral("/plan.png"));
        QCOMPARE(s.resolveExportPath(QStringLiteral("file:///tmp/a%20b.png"), QStringLiteral("/x"), QStringLiteral("png")),
                 QStringLiteral("/tmp/a b.png"));
        QCOMPARE(s.resolveExportPath(QStringLiteral("   "), QStringLiteral("/tmp"), QStringLiteral("png")), QString());
    }

    // Copying is tested where the app copies: the invite popup's and the start screen's Copy
    // buttons (tests/app/qml/tst_views.qml, test_94_inviteCopiesTheJoinText and
    // test_hostShowsCopyableAddressesAndOpensTheWall), which check what reached the clipboard.

private:
    QTemporaryDir m_busDir;
    QProcess m_bus;
};

QTEST_MAIN(TestAppSettings)
#include "tst_appsettings.moc"
