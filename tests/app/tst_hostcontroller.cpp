// Hosting from the app: HostController runs the real WallServer in this process on a port,
// lists the addresses others join with, refuses a taken port with a sentence a person can act
// on, and a WallClient joins through the address it shows.

#include "app/appsettings.h"
#include "app/dnssd.h"
#include "app/hostcontroller.h"
#include "app/wallclient.h"

#include <QHostAddress>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;

class TestHostController : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        // No Avahi daemon to be found, whatever this machine runs (tests/app/discovery.py starts
        // one of its own where it can).
        qputenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/scrawl-test-bus");
    }

    // Without an Avahi daemon hosting works and announces nothing; the list of walls nearby says
    // why, in words a person can act on.
    void hostingWorksWithoutAnAvahiDaemon()
    {
        QTemporaryDir dir;
        HostController host;
        host.setDataDir(dir.path() + QStringLiteral("/hosted"));
        host.setSecure(false);
        QVERIFY(host.announce()); // on by default
        QVERIFY2(host.start(0), qPrintable(host.errorText()));
        host.announceWall(QStringLiteral("team"), QStringLiteral("Ada"));
        QVERIFY(host.announced().isEmpty());
        NearbyWalls nearby;
        QVERIFY(!nearby.available());
        QCOMPARE(nearby.rowCount(), 0);
        QVERIFY2(nearby.statusText().contains(QStringLiteral("avahi-daemon"))
                     && nearby.statusText().contains(QStringLiteral("everything else works")),
                 qPrintable(nearby.statusText()));
        WallClient client;
        client.setDisplayName(QStringLiteral("Guest"));
        client.connectToWall(QStringLiteral("127.0.0.1:%1").arg(host.port()), QStringLiteral("team"));
        QTRY_COMPARE(client.state(), WallClient::Connected);
        host.setAnnounce(false);
        QVERIFY(!host.announce());
        host.stop();
    }

    void hostsAndIsJoinedThroughItsAddress()
    {
        QTemporaryDir dir;
        HostController host;
        host.setDataDir(dir.path() + QStringLiteral("/hosted"));
        host.setSecure(false); // plain ws:// chosen: this test is about the addresses
        QSignalSpy running(&host, &HostController::runningChanged);
        QVERIFY(!host.running());
        QVERIFY(host.addresses().isEmpty());
        QVERIFY2(host.start(0), qPrintable(host.errorText()));
        QCOMPARE(running.count(), 1);
        QVERIFY(host.running());
        QVERIFY(host.port() > 0);

        // Every address is ip:port with this port; LAN ones first, loopback last.
        const QStringList addresses = host.addresses();
        QVERIFY(!addresses.isEmpty());
        QCOMPARE(addresses.last(), QStringLiteral("127.0.0.1:%1").arg(host.port()));
        static const QRegularExpression shape(QStringLiteral("^(\\d+\\.){3}\\d+:(\\d+)$"));
        for (const QString &a : addresses) {
            const auto m = shape.match(a);
            QVERIFY2(m.hasMatch(), qPrintable(a));
            QCOMPARE(m.captured(2).toInt(), host.port());
        }
        for (const QString &lan : HostController::lanAddresses())
            QVERIFY2(!QHostAddress(lan).isLoopback(), qPrintable(lan));
        QCOMPARE(addresses.size(), HostController::lanAddresses().size() + 1);

        // Someone joins with the address shown (loopback here: tests stay on this machine).
        WallClient client;
        client.setDisplayName(QStringLiteral("Guest"));
        client.connectToWall(addresses.last(), QStringLiteral("team"));
        QTRY_COMPARE(client.state(), WallClient::Connected);
        QVERIFY(client.sendChat(QStringLiteral("hi host")));
        QTRY_COMPARE(client.pendingCount(), 0);
        // The data lands in the chosen data directory.
        QVERIFY(!QDir(host.dataDir()).entryList(QDir::Files).isEmpty());

        // Stopping the host: the guest notices and starts waiting to reconnect.
        host.stop();
        QVERIFY(!host.running());
        QCOMPARE(running.count(), 2);
        QTRY_COMPARE(client.state(), WallClient::Reconnecting);
        // The host says it is shutting down before it closes; the guest shows that.
        QVERIFY2(client.errorText().contains(QLatin1String("shutting down")), qPrintable(client.errorText()));
    }

    // Hosting is encrypted unless plain ws:// is chosen: resume tokens carry the owner role.
    void hostsOverWssByDefault()
    {
        QSettings().clear();
        QTemporaryDir dir;
        HostController host;
        QVERIFY(host.secure());
        AppSettings settings;
        QVERIFY(settings.hostSecure());
        host.setDataDir(dir.path() + QStringLiteral("/hosted"));
        QVERIFY2(host.start(0), qPrintable(host.errorText()));
        QCOMPARE(host.localAddress(), QStringLiteral("wss://127.0.0.1:%1").arg(host.port()));
        for (const QString &a : host.addresses())
            QVERIFY2(a.startsWith(QLatin1String("wss://")), qPrintable(a));
        QVERIFY(!host.fingerprint().isEmpty());

        // A guest pins the certificate on first use and joins encrypted.
        WallClient client;
        client.setDisplayName(QStringLiteral("Guest"));
        client.connectToWall(host.addresses().last(), QStringLiteral("team"));
        QTRY_COMPARE(client.state(), WallClient::Connected);
        QVERIFY(client.encrypted());
        QCOMPARE(client.tlsFingerprint(), host.fingerprint());
        host.stop();

        // Plain ws:// is a choice the settings remember.
        settings.setHostSecure(false);
        QVERIFY(!AppSettings().hostSecure());
        QSettings().clear();
    }

    void takenPortIsExplained()
    {
        QTcpServer squatter;
        QVERIFY(squatter.listen(QHostAddress::Any, 0));
        QTemporaryDir dir;
        HostController host;
        host.setDataDir(dir.path());
        host.setSecure(false); // about ports, not certificates
        QSignalSpy errors(&host, &HostController::errorTextChanged);
        QVERIFY(!host.start(squatter.serverPort()));
        QVERIFY(!host.running());
        QCOMPARE(errors.count(), 1);
        QVERIFY2(host.errorText().contains(QString::number(squatter.serverPort())), qPrintable(host.errorText()));

        // A free port afterwards works and clears the message.
        QVERIFY(host.start(0));
        QVERIFY(host.errorText().isEmpty());
    }

    void badPortIsExplained()
    {
        HostController host;
        QVERIFY(!host.start(70000));
        QVERIFY(host.errorText().contains(QLatin1String("70000")));
        QVERIFY(!host.start(-1));
        QVERIFY(!host.running());
    }
};

QTEST_GUILESS_MAIN(TestHostController)
#include "tst_hostcontroller.moc"
