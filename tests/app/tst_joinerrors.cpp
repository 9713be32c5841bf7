// A refused Join never leaves the app on "Connecting…": for every pb::ErrorCode the server could
// answer a Join with, WallClient leaves the connecting state with a sentence for the person and
// a way on (Failed: the banner's "Back to start" / "Try now"; Reconnecting: it tries again).
//
// One row per value of pb::ErrorCode_descriptor(), so a code added to the proto fails here until
// WallClient::joinRefusal has a sentence for it. Those rows use a real QWebSocketServer in the
// test that answers Hello with Welcome and the Join with that Error (without a message, so the
// app's own sentence is what shows). The refusals the real server can be made to give (wall name
// too long, join rate, password required, wrong password) have rows against the real server.

#include "app/wallclient.h"
#include "core/protocol.h"
#include "server/wallserver.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include <memory>

using namespace scrawl;

namespace {

// Answers Hello with Welcome and every Join with one Error.
class RefusingServer : public QObject
{
public:
    RefusingServer(int code, const QString &message)
        : m_server(QStringLiteral("refusing"), QWebSocketServer::NonSecureMode)
        , m_code(code)
        , m_message(message)
    {
        connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            while (QWebSocket *s = m_server.nextPendingConnection()) {
                s->setParent(this);
                connect(s, &QWebSocket::binaryMessageReceived, this,
                        [this, s](const QByteArray &bytes) { onMessage(s, bytes); });
            }
        });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    int joins = 0;

private:
    void onMessage(QWebSocket *s, const QByteArray &bytes)
    {
        pb::Envelope in;
        if (!parse(bytes, &in))
            return;
        pb::Envelope out;
        if (in.has_hello()) {
            out.mutable_welcome()->set_user_id(7);
            out.mutable_welcome()->set_resume_token("token");
        } else if (in.has_join()) {
            ++joins;
            out.mutable_error()->set_code(pb::ErrorCode(m_code));
            out.mutable_error()->set_message(m_message.toStdString());
        } else {
            return;
        }
        s->sendBinaryMessage(serialize(out));
    }

    QWebSocketServer m_server;
    int m_code;
    QString m_message;
};

} // namespace

class TestJoinErrors : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    bool startServer(const AddressLimits &limits = {})
    {
        m_dir = std::make_unique<QTemporaryDir>();
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        o.passwordIterations = 1000; // fast; tst_security checks the real count
        o.addressLimits = limits;
        m_server = std::make_unique<WallServer>(o);
        QString error;
        return m_server->start(&error);
    }

    static std::unique_ptr<WallClient> makeClient()
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(QStringLiteral("Joiner"));
        c->setBackoff(60000, 60000); // a Retry row must not reconnect during the check
        return c;
    }

    // The client left "Connecting…" and says something a person can act on.
    static void checkLeftConnecting(WallClient &c, bool retry)
    {
        QTRY_VERIFY2(c.state() != WallClient::Connecting, qPrintable(c.statusText()));
        QCOMPARE(c.state(), retry ? WallClient::Reconnecting : WallClient::Failed);
        QVERIFY(!c.errorText().isEmpty());
        QVERIFY2(c.errorText().endsWith(QLatin1Char('.')), qPrintable(c.errorText()));
        QVERIFY(!c.everJoined());
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void everyErrorCodeEndsConnecting_data()
    {
        QTest::addColumn<int>("code");
        const auto *d = pb::ErrorCode_descriptor();
        for (int i = 0; i < d->value_count(); ++i)
            QTest::newRow(d->value(i)->name().c_str()) << d->value(i)->number();
    }

    void everyErrorCodeEndsConnecting()
    {
        QFETCH(int, code);
        const WallClient::JoinRefusal what = WallClient::joinRefusal(code, {}, QStringLiteral("w"));
        QVERIFY2(!what.text.isEmpty(), "WallClient::joinRefusal has no sentence for this code");

        RefusingServer server(code, QString());
        QVERIFY(server.listen());
        auto c = makeClient();
        c->connectToWall(QStringLiteral("127.0.0.1:%1").arg(server.port()), QStringLiteral("w"));
        checkLeftConnecting(*c, what.retry);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(server.joins, 1);
        QCOMPARE(c->errorText(), what.text);
        QCOMPARE(c->statusText().contains(QLatin1String("Connecting")), false);
        // A way on: "Try now" asks again.
        c->reconnectNow();
        QTRY_COMPARE(server.joins, 2);
        checkLeftConnecting(*c, what.retry);
    }

    // The server's own sentence wins over the app's (it names the limit and the numbers).
    void serverMessageIsShown()
    {
        RefusingServer server(pb::LIMIT_EXCEEDED, QStringLiteral("Something exact happened."));
        QVERIFY(server.listen());
        auto c = makeClient();
        c->connectToWall(QStringLiteral("127.0.0.1:%1").arg(server.port()), QStringLiteral("w"));
        checkLeftConnecting(*c, false);
        QCOMPARE(c->errorText(), QStringLiteral("Something exact happened."));
    }

    void realServerRefusals_data()
    {
        QTest::addColumn<QString>("scenario");
        QTest::addColumn<bool>("retry");
        QTest::newRow("wall name too long") << "longName" << false;
        QTest::newRow("join rate limit") << "joinRate" << true;
        QTest::newRow("password required") << "password" << false;
        QTest::newRow("wrong password") << "wrongPassword" << false;
    }

    void realServerRefusals()
    {
        QFETCH(QString, scenario);
        QFETCH(bool, retry);
        AddressLimits limits;
        if (scenario == QLatin1String("joinRate"))
            limits.maxJoinsPerMinute = 1;
        QVERIFY(startServer(limits));
        const QString address = QStringLiteral("127.0.0.1:%1").arg(m_server->port());
        QString wall = QStringLiteral("w");
        QString password;
        if (scenario == QLatin1String("longName")) {
            wall = QString(limits::kMaxWallNameChars + 1, QLatin1Char('x'));
        } else if (scenario == QLatin1String("joinRate")) {
            auto first = makeClient();
            first->connectToWall(address, QStringLiteral("other"));
            QTRY_COMPARE(first->state(), WallClient::Connected);
        } else {
            auto owner = makeClient();
            owner->connectToWall(address, wall, QStringLiteral("secret"));
            QTRY_COMPARE(owner->state(), WallClient::Connected);
            if (scenario == QLatin1String("wrongPassword"))
                password = QStringLiteral("guess");
        }
        auto c = makeClient();
        c->connectToWall(address, wall, password);
        checkLeftConnecting(*c, retry);
        if (scenario.contains(QLatin1String("assword")))
            QVERIFY(c->passwordRequired());
        if (scenario == QLatin1String("longName"))
            QVERIFY2(c->errorText().contains(QLatin1String(limits::kMaxWallNameCharsName)),
                     qPrintable(c->errorText()));
        if (scenario == QLatin1String("joinRate"))
            QVERIFY2(c->errorText().contains(QLatin1String(limits::kMaxJoinsPerAddressPerMinuteName)),
                     qPrintable(c->errorText()));
    }
};

QTEST_MAIN(TestJoinErrors)
#include "tst_joinerrors.moc"
