// WallClient's side of security against a real in-process WallServer on 127.0.0.1 port 0:
// trust on first use of a self-signed certificate and refusal of a changed one (real TLS, real
// certificates made by openssl), wall passwords, the owner token kept with the profile, the API
// token shown to the owner, moderation, and a host that makes its own certificate.

#include "app/hostcontroller.h"
#include "app/invitelink.h"
#include "app/tlstrust.h"
#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

using namespace scrawl;

class TstClientSecurity : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    bool startServer(quint16 port = 0, const QString &cert = {}, const QString &key = {})
    {
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = port;
        o.dataDir = m_dir->path() + QStringLiteral("/data");
        o.tlsCertFile = cert;
        o.tlsKeyFile = key;
        o.passwordIterations = 1000; // keep the test fast; tst_security checks the real count
        m_server = std::make_unique<WallServer>(o);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            return false;
        }
        return true;
    }
    QString address() const
    {
        return (m_server->tls() ? QStringLiteral("wss://127.0.0.1:%1") : QStringLiteral("127.0.0.1:%1"))
            .arg(m_server->port());
    }
    std::unique_ptr<WallClient> makeClient(const QString &name, const QString &profile = {})
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->setProfile(profile);
        c->setBackoff(50, 400);
        return c;
    }
    bool makeCertificate(const QString &name, QString *cert, QString *key)
    {
        *cert = m_dir->filePath(name + QStringLiteral("-cert.pem"));
        *key = m_dir->filePath(name + QStringLiteral("-key.pem"));
        QString error;
        const bool ok = TlsTrust::makeSelfSigned(*cert, *key, {QStringLiteral("127.0.0.1")}, &error);
        if (!ok)
            qWarning() << error;
        return ok;
    }
    static QString fingerprintOf(const QString &certFile)
    {
        QFile f(certFile);
        f.open(QIODevice::ReadOnly);
        return TlsTrust::fingerprint(QSslCertificate::fromData(f.readAll(), QSsl::Pem).front());
    }

    // Waits until the client has handled the end of its connection: WallClient::onDisconnected
    // deletes the socket and, in the same call, either gives up (Failed) or schedules the next
    // attempt (Reconnecting). A client that loops is caught here in Reconnecting or Connecting.
    static bool settledWithoutSocket(WallClient &c)
    {
        return QTest::qWaitFor([&] { return c.findChild<QWebSocket *>() == nullptr; }, 5000);
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
        QSettings().clear();
    }

    void trustsOnFirstUseAndRefusesAChangedCertificate()
    {
        QString cert1, key1, cert2, key2;
        QVERIFY(makeCertificate(QStringLiteral("one"), &cert1, &key1));
        QVERIFY(makeCertificate(QStringLiteral("two"), &cert2, &key2));
        const QString fp1 = fingerprintOf(cert1), fp2 = fingerprintOf(cert2);
        QVERIFY(fp1 != fp2);
        QVERIFY(startServer(0, cert1, key1));
        const quint16 port = m_server->port();

        // First use: accepted, pinned, and the person is told the fingerprint.
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QVERIFY(a->encrypted());
        QCOMPARE(a->tlsFingerprint(), fp1);
        QVERIFY(a->notice().contains(fp1));
        QCOMPARE(TlsTrust::pinnedFingerprint(QStringLiteral("127.0.0.1"), port), fp1);
        QVERIFY(a->address().startsWith(QLatin1String("wss://")));
        const QString chat = QStringLiteral("over wss");
        QVERIFY(a->sendChat(chat));
        QTRY_COMPARE(a->pendingCount(), 0);

        // Known: a second client connects without a word.
        auto b = makeClient(QStringLiteral("Bob"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QVERIFY(!b->notice().contains(fp1));

        // The server comes back on the same port with another certificate: refused, with both
        // fingerprints, and no reconnect loop.
        b.reset();
        m_server.reset();
        QTRY_VERIFY(a->state() == WallClient::Reconnecting);
        QVERIFY(startServer(port, cert2, key2));
        auto c = makeClient(QStringLiteral("Cy"));
        c->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(c->state(), WallClient::Failed);
        QVERIFY2(c->errorText().contains(fp1) && c->errorText().contains(fp2), qPrintable(c->errorText()));
        QVERIFY(c->errorText().contains(QLatin1String("changed")));
        QTRY_COMPARE(a->state(), WallClient::Failed); // the reconnecting one too
        QVERIFY(a->errorText().contains(fp2));
        // No reconnect loop: once each has dropped its socket (where it decides between giving
        // up and trying again) it has given up.
        QVERIFY(settledWithoutSocket(*c));
        QVERIFY(settledWithoutSocket(*a));
        QCOMPARE(c->state(), WallClient::Failed);
        QCOMPARE(a->state(), WallClient::Failed);
        QTRY_COMPARE(m_server->sessionCount(), 0);

        // Confirmed out of band: forget the pin, and the new certificate is trusted.
        c->forgetPinnedCertificate();
        c->reconnectNow();
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QCOMPARE(c->tlsFingerprint(), fp2);
    }

    // Joined from an invite link that names the certificate: that one is accepted from the first
    // connection (no trust-on-first-use moment, no notice), any other refused with both named;
    // the link the member copies names it again.
    void anInvitationNamesTheCertificateFromTheFirstConnection()
    {
        QString cert1, key1, cert2, key2;
        QVERIFY(makeCertificate(QStringLiteral("one"), &cert1, &key1));
        QVERIFY(makeCertificate(QStringLiteral("two"), &cert2, &key2));
        const QString fp1 = fingerprintOf(cert1), fp2 = fingerprintOf(cert2);
        QVERIFY(startServer(0, cert1, key1));
        const quint16 port = m_server->port();

        // A link naming another certificate (old, or someone in between): refused, never pinned.
        auto wrong = makeClient(QStringLiteral("Ann"));
        wrong->connectToWall(address(), QStringLiteral("w"), {}, fp2);
        QTRY_COMPARE(wrong->state(), WallClient::Failed);
        QVERIFY2(wrong->errorText().contains(fp1) && wrong->errorText().contains(fp2), qPrintable(wrong->errorText()));
        QVERIFY(wrong->errorText().contains(QLatin1String("invitation")));
        QVERIFY(settledWithoutSocket(*wrong));
        QCOMPARE(wrong->state(), WallClient::Failed);
        QVERIFY(TlsTrust::pinnedFingerprint(QStringLiteral("127.0.0.1"), port).isEmpty());
        QCOMPARE(m_server->sessionCount(), 0);

        // The right one, even over a pin this machine kept for another certificate: in at once,
        // without the first-use notice, and pinned.
        TlsTrust::pin(QStringLiteral("127.0.0.1"), port, fp2);
        auto right = makeClient(QStringLiteral("Bob"));
        right->connectToWall(address(), QStringLiteral("w"), {}, fp1);
        QTRY_COMPARE(right->state(), WallClient::Connected);
        QCOMPARE(right->tlsFingerprint(), fp1);
        QVERIFY(!right->notice().contains(fp1));
        QCOMPARE(TlsTrust::pinnedFingerprint(QStringLiteral("127.0.0.1"), port), fp1);

        // The link Bob copies for someone else names the certificate too.
        const QString link = right->inviteLink(address());
        QVERIFY2(link.contains(QLatin1String("?fp=")), qPrintable(link));
        QString error;
        const auto read = parseInviteLink(link, &error);
        QVERIFY2(read, qPrintable(error));
        QCOMPARE(read->fingerprint, fp1);
        QCOMPARE(read->wall, QStringLiteral("w"));
        QCOMPARE(read->address, QStringLiteral("wss://127.0.0.1:%1").arg(port));
        // Unencrypted walls' links carry none.
        QVERIFY(!makeInviteLink(QStringLiteral("127.0.0.1:%1").arg(port), QStringLiteral("w"), fp1).contains(QLatin1String("fp=")));
    }

    void passwordIsAskedForAndUsed()
    {
        QVERIFY(startServer());
        auto owner = makeClient(QStringLiteral("Ann"));
        owner->connectToWall(address(), QStringLiteral("p"), QStringLiteral("open sesame"));
        QTRY_COMPARE(owner->state(), WallClient::Connected);
        QVERIFY(owner->hasPassword());
        QVERIFY(owner->isOwner());

        auto guest = makeClient(QStringLiteral("Bob"));
        guest->connectToWall(address(), QStringLiteral("p"));
        QTRY_COMPARE(guest->state(), WallClient::Failed);
        QVERIFY(guest->passwordRequired());
        QVERIFY(guest->errorText().contains(QLatin1String("password")));
        // No reconnect loop on a refusal only the person can fix: once the client has dropped
        // its socket (where it decides between giving up and trying again) it has given up.
        QVERIFY(settledWithoutSocket(*guest));
        QCOMPARE(guest->state(), WallClient::Failed);

        guest->retryWithPassword(QStringLiteral("wrong"));
        QTRY_COMPARE(guest->state(), WallClient::Failed);
        QTRY_VERIFY(guest->errorText().contains(QLatin1String("Wrong password")));
        QVERIFY(guest->passwordRequired());

        guest->retryWithPassword(QStringLiteral("open sesame"));
        QTRY_COMPARE(guest->state(), WallClient::Connected);
        QVERIFY(!guest->passwordRequired());
        QCOMPARE(guest->role(), WallClient::Member);
        QVERIFY(guest->apiToken().isEmpty());

        // A server restart forgets who was admitted: the remembered password gets back in.
        const quint16 port = m_server->port();
        m_server.reset();
        QTRY_COMPARE(guest->state(), WallClient::Reconnecting);
        QVERIFY(startServer(port));
        QTRY_COMPARE(guest->state(), WallClient::Connected);
    }

    void ownerTokenIsKeptWithTheProfile()
    {
        QVERIFY(startServer());
        auto a = makeClient(QStringLiteral("Ann"), QStringLiteral("annprofile"));
        a->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QVERIFY(a->isOwner());
        const QString token = a->apiToken();
        QVERIFY(token.size() >= 24);
        a.reset();

        // Ann's identity (resume token) is lost, but the owner token in her profile is not.
        QSettings s;
        for (const QString &k : s.allKeys()) {
            if (k.contains(QLatin1String("/tokens/")))
                s.remove(k);
        }
        auto a2 = makeClient(QStringLiteral("Ann"), QStringLiteral("annprofile"));
        a2->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(a2->state(), WallClient::Connected);
        QVERIFY(a2->isOwner());
        QCOMPARE(a2->apiToken(), token);

        // Another profile is just a member.
        auto b = makeClient(QStringLiteral("Bob"), QStringLiteral("bobprofile"));
        b->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QVERIFY(!b->isOwner());
        QVERIFY(!b->isModerator());
        QVERIFY(b->apiToken().isEmpty());

        // Moderation from the app: lock, then make Bob moderator, then kick him.
        a2->setWallLocked(true);
        QTRY_VERIFY(b->locked());
        a2->setModerator(QString::number(b->userId()), true);
        QTRY_VERIFY(b->isModerator());
        a2->kick(QString::number(b->userId()));
        // The owner may remove a moderator (any role below her own).
        QTRY_COMPARE(b->state(), WallClient::Failed);
        QVERIFY(b->errorText().contains(QLatin1String("removed you")));
    }

    void hostMakesAndKeepsACertificate()
    {
        HostController host;
        host.setDataDir(m_dir->filePath(QStringLiteral("hosted")));
        host.setSecure(true);
        QVERIFY2(host.start(0), qPrintable(host.errorText()));
        QVERIFY(host.localAddress().startsWith(QLatin1String("wss://127.0.0.1:")));
        const QString fp = host.fingerprint();
        QCOMPARE(fp.size(), 32 * 3 - 1);
        for (const QString &a : host.addresses())
            QVERIFY(a.startsWith(QLatin1String("wss://")));

        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(host.localAddress(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QCOMPARE(a->tlsFingerprint(), fp);
        a.reset();

        // Kept: a restart serves the same certificate, so pins stay valid.
        host.stop();
        QVERIFY(host.start(0));
        QCOMPARE(host.fingerprint(), fp);
        const QFile::Permissions keyPerms =
            QFile::permissions(m_dir->filePath(QStringLiteral("hosted/tls/key.pem")));
        QVERIFY(!(keyPerms & (QFileDevice::ReadGroup | QFileDevice::ReadOther)));
        host.stop();
    }
};

QTEST_MAIN(TstClientSecurity)
#include "tst_clientsecurity.moc"
