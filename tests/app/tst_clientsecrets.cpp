// The owner's secrets in the app: the API token it was shown is kept with the profile for that
// server and wall, "New API token" replaces it (the old one stops working for HTTP at once), and
// the owner sets, changes and removes the wall's password. Real server on 127.0.0.1 port 0, real
// WallClients, real SQLite in a temporary directory.

#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;

class TstClientSecrets : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    void startServer()
    {
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        options.passwordIterations = 1000;
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }
    std::unique_ptr<WallClient> makeClient(const QString &name, const QString &profile = {})
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->setProfile(profile);
        c->setBackoff(50, 400);
        return c;
    }
    // POSTs a chat message through the HTTP API; returns the status.
    int post(const QString &wall, const QString &token)
    {
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/api/walls/%2/messages")
                                         .arg(m_server->port())
                                         .arg(wall)));
        request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        request.setRawHeader("Authorization", "Bearer " + token.toLatin1());
        QNetworkAccessManager nam;
        QNetworkReply *reply = nam.post(request, QByteArray(R"({"author": "bot", "text": "hi"})"));
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            finished.wait(10000);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        delete reply;
        return status;
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
        startServer();
    }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
        QSettings().clear();
    }

    void apiTokenIsKeptAndRenewed()
    {
        auto a = makeClient(QStringLiteral("Ann"), QStringLiteral("ann"));
        a->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        const QString first = a->apiToken();
        QVERIFY(first.size() >= 24);
        QCOMPARE(post(QStringLiteral("mine"), first), 201);
        a.reset();

        // The server never shows it again; the app shows the one it kept for this server + wall.
        auto a2 = makeClient(QStringLiteral("Ann"), QStringLiteral("ann"));
        a2->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(a2->state(), WallClient::Connected);
        QVERIFY(a2->isOwner());
        QCOMPARE(a2->apiToken(), first);

        QSignalSpy access(a2.get(), &WallClient::accessChanged);
        a2->newApiToken();
        QTRY_VERIFY(a2->apiToken() != first);
        const QString second = a2->apiToken();
        QVERIFY(second.size() >= 24);
        QVERIFY(access.count() >= 1);
        QVERIFY(a2->notice().contains(QLatin1String("API token")));
        QCOMPARE(post(QStringLiteral("mine"), first), 401);
        QCOMPARE(post(QStringLiteral("mine"), second), 201);
        a2.reset();

        auto a3 = makeClient(QStringLiteral("Ann"), QStringLiteral("ann"));
        a3->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(a3->state(), WallClient::Connected);
        QCOMPARE(a3->apiToken(), second);

        // A member neither sees one nor can make one.
        auto b = makeClient(QStringLiteral("Bob"), QStringLiteral("bob"));
        b->connectToWall(address(), QStringLiteral("mine"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QVERIFY(b->apiToken().isEmpty());
        b->newApiToken();
        QTRY_VERIFY(b->notice().contains(QLatin1String("owner role")));
        QVERIFY(b->apiToken().isEmpty());
        QCOMPARE(post(QStringLiteral("mine"), second), 201);
    }

    void ownerSetsChangesAndRemovesThePassword()
    {
        auto a = makeClient(QStringLiteral("Ann"), QStringLiteral("ann"));
        auto b = makeClient(QStringLiteral("Bob"), QStringLiteral("bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QVERIFY(!a->hasPassword());

        a->setWallPassword(QStringLiteral("open sesame"));
        QTRY_VERIFY(a->hasPassword());
        QTRY_VERIFY(b->hasPassword());
        QCOMPARE(b->state(), WallClient::Connected); // whoever is on the wall stays

        auto c = makeClient(QStringLiteral("Cy"), QStringLiteral("cy"));
        c->connectToWall(address(), QStringLiteral("w"));
        QTRY_VERIFY(c->passwordRequired());
        c->retryWithPassword(QStringLiteral("open sesame"));
        QTRY_COMPARE(c->state(), WallClient::Connected);

        a->setWallPassword(QString());
        QTRY_VERIFY(!a->hasPassword());
        QTRY_VERIFY(!c->hasPassword());
        auto d = makeClient(QStringLiteral("Di"), QStringLiteral("di"));
        d->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(d->state(), WallClient::Connected);
        QVERIFY(!d->hasPassword());
    }
};

QTEST_MAIN(TstClientSecrets)
#include "tst_clientsecrets.moc"
