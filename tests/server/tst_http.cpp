// The HTTP API on the WebSocket port, end to end: the real server on 127.0.0.1 port 0, real
// HTTP requests (QNetworkAccessManager) and real WebSocket clients on the same walls.

#include "server/wallserver.h"
#include "tests/support/testclient.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

struct Reply
{
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    bool isJsonObject() const { return QJsonDocument::fromJson(body).isObject(); }
};

} // namespace

class TstHttp : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    QNetworkAccessManager m_net;
    // The wall's API token (from its creator's Joined), sent as a bearer token when set:
    // posting needs it (tst_security tests the refusals).
    QByteArray m_token;

    QUrl http(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->port()).arg(pathAndQuery));
    }

    Reply request(const QByteArray &verb, const QString &pathAndQuery, const QByteArray &body = {},
                  const QByteArray &contentType = "application/json")
    {
        QNetworkRequest req(http(pathAndQuery));
        if (!body.isNull())
            req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
        if (!m_token.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + m_token);
        QNetworkReply *reply = m_net.sendCustomRequest(req, verb, body);
        QSignalSpy finished(reply, &QNetworkReply::finished);
        Reply out;
        if (!reply->isFinished() && !finished.wait(10000)) {
            reply->abort();
            reply->deleteLater();
            return out;
        }
        out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        out.body = reply->readAll();
        out.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
        reply->deleteLater();
        return out;
    }
    Reply get(const QString &path) { return request("GET", path); }
    Reply post(const QString &path, const QByteArray &body) { return request("POST", path, body); }

    static void verifyJsonError(const Reply &r, int status)
    {
        QVERIFY2(r.status == status, qPrintable(QStringLiteral("status %1, body %2")
                                                    .arg(r.status)
                                                    .arg(QString::fromUtf8(r.body))));
        QVERIFY2(r.contentType.startsWith("application/json"), r.contentType.constData());
        QVERIFY2(r.isJsonObject(), r.body.constData());
        QVERIFY2(!r.json().value(QStringLiteral("error")).toString().isEmpty(), r.body.constData());
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    void cleanup()
    {
        m_token.clear();
        m_server.reset();
        m_dir.reset();
    }

    void health()
    {
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        const Reply r = get(QStringLiteral("/health"));
        QCOMPARE(r.status, 200);
        QVERIFY(r.contentType.startsWith("application/json"));
        const QJsonObject o = r.json();
        QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        QCOMPARE(o.value(QStringLiteral("version")).toString(), QLatin1String(kAppVersion));
        QCOMPARE(o.value(QStringLiteral("protocol")).toInt(), int(kProtocolVersion));
        QCOMPARE(o.value(QStringLiteral("clients")).toInt(), 1);
        const QJsonObject output = o.value(QStringLiteral("output")).toObject();
        QCOMPARE(output.value(QStringLiteral("reading_paused")).toBool(true), false);
        QCOMPARE(output.value(QStringLiteral("pauses")).toInt(-1), 0);
        QCOMPARE(output.value(QStringLiteral("queued_bytes")).toInt(-1), 0);
    }

    void wallListShowsMembersAndOpCount()
    {
        TestClient a, b, c;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(c.connectAs(m_server->url(), QStringLiteral("Cy")));
        QVERIFY(a.join(QStringLiteral("alpha")));
        QVERIFY(b.join(QStringLiteral("alpha")));
        QVERIFY(c.join(QStringLiteral("beta")));
        a.chat(QStringLiteral("one"));
        const auto ids = a.stroke(1, {{0, 0}, {5, 5}, {9, 2}}, 2); // begin, points, end
        QTRY_VERIFY(a.acked(ids.back()));

        const Reply r = get(QStringLiteral("/api/walls"));
        QCOMPARE(r.status, 200);
        const QJsonArray walls = r.json().value(QStringLiteral("walls")).toArray();
        QCOMPARE(walls.size(), 2);
        QJsonObject alpha, beta;
        for (const QJsonValue &v : walls) {
            const QJsonObject w = v.toObject();
            if (w.value(QStringLiteral("name")) == QStringLiteral("alpha"))
                alpha = w;
            if (w.value(QStringLiteral("name")) == QStringLiteral("beta"))
                beta = w;
        }
        QCOMPARE(alpha.value(QStringLiteral("online")).toInt(), 2);
        QCOMPARE(alpha.value(QStringLiteral("ops")).toInt(), 4);
        QCOMPARE(beta.value(QStringLiteral("online")).toInt(), 1);
        QCOMPARE(beta.value(QStringLiteral("ops")).toInt(), 0);

        // Leaving shows in the list.
        b.socket().close();
        QTRY_COMPARE(b.disconnects, 1);
        QTRY_COMPARE(m_server->sessionCount(), 2);
        const QJsonArray after = get(QStringLiteral("/api/walls")).json().value(QStringLiteral("walls")).toArray();
        for (const QJsonValue &v : after) {
            if (v.toObject().value(QStringLiteral("name")) == QStringLiteral("alpha"))
                QCOMPARE(v.toObject().value(QStringLiteral("online")).toInt(), 1);
        }
    }

    void messagesAfterSeq()
    {
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("talk")));
        for (int i = 0; i < 5; ++i) {
            a.chat(QStringLiteral("m%1").arg(i));
            a.stroke(std::uint32_t(i + 1), {{0, 0}, {1, 1}}, 1); // ops that are not chat
        }
        QTRY_COMPARE(a.model.seq(), std::uint64_t(15));

        Reply r = get(QStringLiteral("/api/walls/talk/messages"));
        QCOMPARE(r.status, 200);
        QJsonArray messages = r.json().value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 5);
        QCOMPARE(r.json().value(QStringLiteral("head_seq")).toInt(), 15);
        const QJsonObject first = messages.at(0).toObject();
        QCOMPARE(first.value(QStringLiteral("text")).toString(), QStringLiteral("m0"));
        QCOMPARE(first.value(QStringLiteral("author")).toString(), QStringLiteral("Ada"));
        QCOMPARE(first.value(QStringLiteral("author_id")).toInteger(), qint64(a.userId));
        QCOMPARE(first.value(QStringLiteral("seq")).toInt(), 1);
        QVERIFY(first.value(QStringLiteral("time_ms")).toInteger() > 0);

        // after=SEQ returns only what came later, oldest first.
        const int seqOfM2 = messages.at(2).toObject().value(QStringLiteral("seq")).toInt();
        r = get(QStringLiteral("/api/walls/talk/messages?after=%1").arg(seqOfM2));
        messages = r.json().value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages.at(0).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("m3"));
        QCOMPARE(messages.at(1).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("m4"));
        r = get(QStringLiteral("/api/walls/talk/messages?after=15"));
        QCOMPARE(r.json().value(QStringLiteral("messages")).toArray().size(), 0);
        r = get(QStringLiteral("/api/walls/talk/messages?after=0&limit=2"));
        QCOMPARE(r.json().value(QStringLiteral("messages")).toArray().size(), 2);

        verifyJsonError(get(QStringLiteral("/api/walls/talk/messages?after=soon")), 400);
        verifyJsonError(get(QStringLiteral("/api/walls/talk/messages?after=-1")), 400);
        verifyJsonError(get(QStringLiteral("/api/walls/talk/messages?limit=0")), 400);
        verifyJsonError(get(QStringLiteral("/api/walls/talk/messages?limit=100000")), 400);
    }

    void postReachesWebSocketClientsLikeAnAppMessage()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("bots")));
        QVERIFY(b.join(QStringLiteral("bots")));
        m_token = QByteArray::fromStdString(a.lastJoined()->api_token());
        const auto appId = a.chat(QStringLiteral("from the app"));
        QTRY_VERIFY(a.acked(appId));

        const Reply r = post(QStringLiteral("/api/walls/bots/messages"),
                             R"({"author": "deploy-bot", "text": "build 42 is green ✓"})");
        QVERIFY2(r.status == 201, r.body.constData());
        const QJsonObject created = r.json();
        QCOMPARE(created.value(QStringLiteral("seq")).toInt(), 2);
        QCOMPARE(created.value(QStringLiteral("author")).toString(), QStringLiteral("deploy-bot"));
        QCOMPARE(created.value(QStringLiteral("text")).toString(), QStringLiteral("build 42 is green ✓"));

        // Both WebSocket clients get it as the next op in the wall's order, as a chat op.
        for (TestClient *c : {&a, &b}) {
            QTRY_COMPARE(c->ops().size(), size_t(2));
            const pb::Op app = c->ops()[0];
            const pb::Op bot = c->ops()[1];
            QCOMPARE(bot.seq(), app.seq() + 1);
            QVERIFY(bot.has_chat());
            QCOMPARE(fromWire(bot.chat().text()), QStringLiteral("build 42 is green ✓"));
            QCOMPARE(fromWire(bot.chat().author_name()), QStringLiteral("deploy-bot"));
            QVERIFY(bot.time_ms() >= app.time_ms());
            QCOMPARE(bot.author(), std::uint64_t(0)); // not a user of the wall
            QCOMPARE(c->model.seq(), std::uint64_t(2));
        }
        // Stored like one: a late joiner sees it in recent chat, HTTP readers too.
        TestClient late;
        QVERIFY(late.connectAs(m_server->url(), QStringLiteral("Late")));
        QVERIFY(late.join(QStringLiteral("bots")));
        QCOMPARE(late.lastJoined()->recent_chat_size(), 2);
        QCOMPARE(fromWire(late.lastJoined()->recent_chat(1).chat().text()),
                 QStringLiteral("build 42 is green ✓"));
        const QJsonArray messages =
            get(QStringLiteral("/api/walls/bots/messages?after=1")).json().value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value(QStringLiteral("author")).toString(), QStringLiteral("deploy-bot"));
    }

    // Keep-alive works, and a connection left idle after its requests is closed after the
    // peer timeout (idle sockets must not pile up).
    void idleKeepAliveConnectionIsClosed()
    {
        m_server.reset();
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        options.pingIntervalMs = 200;
        options.peerTimeoutMs = 700;
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));

        QTcpSocket tcp;
        QByteArray in;
        connect(&tcp, &QTcpSocket::readyRead, this, [&] { in += tcp.readAll(); });
        tcp.connectToHost(QHostAddress::LocalHost, m_server->port());
        QTRY_COMPARE(tcp.state(), QAbstractSocket::ConnectedState);
        for (int i = 0; i < 2; ++i) {
            in.clear();
            tcp.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            QTRY_VERIFY(in.contains("\"status\""));
            QVERIFY2(in.startsWith("HTTP/1.1 200"), in.constData());
        }
        QElapsedTimer idle;
        idle.start();
        QTRY_COMPARE_WITH_TIMEOUT(tcp.state(), QAbstractSocket::UnconnectedState, 5000);
        QVERIFY2(idle.elapsed() >= options.peerTimeoutMs - 100, qPrintable(QString::number(idle.elapsed())));

        // A WebSocket on the same server is not touched by the HTTP idle rule.
        TestClient ws;
        QVERIFY(ws.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(!TestClient::waitFor([&] { return ws.disconnects > 0; }, 3 * options.peerTimeoutMs));
    }

    void badRequestsGetJsonErrors_data()
    {
        QTest::addColumn<QByteArray>("verb");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("limit");
        const QString messages = QStringLiteral("/api/walls/room/messages");
        QTest::newRow("bad JSON") << QByteArray("POST") << messages << QByteArray("{\"author\": \"x\", ") << 400 << QString();
        QTest::newRow("JSON array") << QByteArray("POST") << messages << QByteArray("[1,2]") << 400 << QString();
        QTest::newRow("text missing") << QByteArray("POST") << messages << QByteArray(R"({"author":"x"})") << 400 << QString();
        QTest::newRow("text not a string") << QByteArray("POST") << messages << QByteArray(R"({"author":"x","text":5})") << 400 << QString();
        QTest::newRow("empty text") << QByteArray("POST") << messages << QByteArray(R"({"author":"x","text":"  "})") << 400 << QString();
        QTest::newRow("empty author") << QByteArray("POST") << messages << QByteArray(R"({"author":"","text":"hi"})") << 400 << QString();
        QTest::newRow("author too long") << QByteArray("POST") << messages
                                         << (R"({"author":")" + QByteArray(200, 'a') + R"(","text":"hi"})") << 400
                                         << QString::fromLatin1(limits::kMaxNameCharsName);
        QTest::newRow("text over max_chat_chars") << QByteArray("POST") << messages
                                                  << (R"({"author":"x","text":")" + QByteArray(limits::kMaxChatChars + 1, 'a') + R"("})")
                                                  << 413 << QString::fromLatin1(limits::kMaxChatCharsName);
        QTest::newRow("body over max_http_body_bytes") << QByteArray("POST") << messages
                                                       << (R"({"author":"x","text":")" + QByteArray(limits::kMaxHttpBodyBytes, 'a') + R"("})")
                                                       << 413 << QString::fromLatin1(limits::kMaxHttpBodyBytesName);
        QTest::newRow("unknown wall GET") << QByteArray("GET") << QStringLiteral("/api/walls/nowhere/messages") << QByteArray() << 404 << QString();
        QTest::newRow("unknown wall POST") << QByteArray("POST") << QStringLiteral("/api/walls/nowhere/messages")
                                           << QByteArray(R"({"author":"x","text":"hi"})") << 404 << QString();
        QTest::newRow("unknown path") << QByteArray("GET") << QStringLiteral("/api/nothing") << QByteArray() << 404 << QString();
        QTest::newRow("wrong method on walls") << QByteArray("DELETE") << QStringLiteral("/api/walls") << QByteArray() << 405 << QString();
        QTest::newRow("wrong method on messages") << QByteArray("PUT") << messages << QByteArray("{}") << 405 << QString();
    }

    void badRequestsGetJsonErrors()
    {
        QFETCH(QByteArray, verb);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, limit);
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("room")));
        m_token = QByteArray::fromStdString(a.lastJoined()->api_token());
        const auto id = a.chat(QStringLiteral("before"));
        QTRY_VERIFY(a.acked(id));

        const Reply r = request(verb, path, body);
        verifyJsonError(r, status);
        QCOMPARE(r.json().value(QStringLiteral("limit")).toString(), limit);
        // Nothing was stored, nothing reached the wall, the server still serves.
        QCOMPARE(m_server->headSeq(QStringLiteral("room")), std::uint64_t(1));
        QCOMPARE(a.ops().size(), size_t(1));
        QCOMPARE(get(QStringLiteral("/health")).status, 200);
        const Reply ok = post(QStringLiteral("/api/walls/room/messages"), R"({"author":"bot","text":"after"})");
        QCOMPARE(ok.status, 201);
        QTRY_COMPARE(a.ops().size(), size_t(2));
    }
};

QTEST_GUILESS_MAIN(TstHttp)
#include "tst_http.moc"
