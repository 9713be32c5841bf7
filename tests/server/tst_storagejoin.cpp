// What the server holds against what storage holds, and joins (issue 14 items 3-5), with the
// real things: the real server on port 0, real WebSocket clients, a real SQLite file made to
// fail for real, and a loopback proxy that limits the bandwidth of one link.

#include "server/wallserver.h"
#include "tests/support/faultproxy.h"
#include "tests/support/storedwall.h"
#include "tests/support/testclient.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cmath>
#include <map>

using namespace scrawl;
using scrawl::test::FaultProxy;
using scrawl::test::TestClient;

namespace {

using scrawl::test::serverDatabase;

// The op log of one wall straight from the SQLite file: seq -> op.
std::map<std::uint64_t, pb::Op> storedOps(const QString &dataDir, const QString &wall)
{
    std::map<std::uint64_t, pb::Op> out;
    for (const auto &[seq, body] : scrawl::test::storedOpRows(dataDir, wall))
        out[seq].ParseFromArray(body.constData(), int(body.size()));
    return out;
}

std::vector<QPointF> wave(int n, double phase)
{
    std::vector<QPointF> out;
    for (int i = 0; i < n; ++i)
        out.emplace_back(50 + i * 2.5, 300 + 30 * std::sin(i / 6.0 + phase));
    return out;
}

pb::Op strokeBegin(std::uint32_t id, int points)
{
    pb::Op op;
    op.mutable_stroke_begin()->set_id(id);
    op.mutable_stroke_begin()->set_width(2);
    std::vector<FixedPoint> fixed;
    for (const QPointF &p : wave(points, id))
        fixed.push_back(toFixed(p));
    encodePoints(fixed, {}, op.mutable_stroke_begin());
    return op;
}

const pb::Error *errorFor(const TestClient &c, std::uint64_t clientOpId)
{
    for (auto it = c.received.rbegin(); it != c.received.rend(); ++it) {
        if (it->has_error() && it->error().client_op_id() == clientOpId)
            return &it->error();
    }
    return nullptr;
}

} // namespace

class TstStorageJoin : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    void startServer(ServerOptions options = {})
    {
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    // An HTTP request to the server: status code and JSON body.
    std::pair<int, QJsonObject> http(const QString &path, const QByteArray &postBody = {},
                                     const QByteArray &token = {})
    {
        QNetworkAccessManager net;
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->port()).arg(path)));
        QNetworkReply *reply;
        if (postBody.isEmpty()) {
            reply = net.get(request);
        } else {
            request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
            request.setRawHeader("Authorization", "Bearer " + token);
            reply = net.post(request, postBody);
        }
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished() && !finished.wait(5000))
            return {0, {}};
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
        reply->deleteLater();
        return {status, body};
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    // Item 3. A commit fails and reading the wall back fails too (the op log's table is out of
    // reach: SQLite answers "no such table" to the INSERT and to every read of it). The wall
    // must not keep the refused op in memory: it says it is unavailable (Error to its members,
    // refused joins, ops and HTTP posts, /health) until a reload succeeds - on the retry timer,
    // or on the next use. Then the same op, resent with the same client op id, lands once,
    // under the next seq (no gap), and nothing that was refused shows up in a snapshot.
    void unreadableStorageMakesTheWallUnavailableUntilItReloads_data()
    {
        QTest::addColumn<bool>("byTimer");
        QTest::newRow("recovers on the retry timer") << true;
        QTest::newRow("recovers on the next use") << false;
    }

    void unreadableStorageMakesTheWallUnavailableUntilItReloads()
    {
        QFETCH(bool, byTimer);
        ServerOptions options;
        options.storageRetryMs = byTimer ? 100 : 3600 * 1000;
        startServer(options);
        const QString wall = QStringLiteral("vault");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(wall));
        QVERIFY(b.join(wall));
        const auto first = a.chat(QStringLiteral("stored"));
        QTRY_VERIFY(a.acked(first));
        QTRY_COMPARE(b.ops().size(), size_t(1));
        const QByteArray apiToken = QByteArray::fromStdString(a.lastJoined()->api_token());

        QSqlDatabase db = serverDatabase();
        QVERIFY(db.isOpen());
        QSqlQuery q(db);
        QVERIFY2(q.exec(QStringLiteral("ALTER TABLE ops RENAME TO ops_out_of_reach")),
                 qPrintable(q.lastError().text()));

        // A stroke: refused, and the wall cannot be read back.
        pb::Op stroke = strokeBegin(1, 40);
        stroke.set_client_op_id(++a.nextClientOpId);
        a.sendOp(stroke);
        QTRY_VERIFY(errorFor(a, stroke.client_op_id()));
        QCOMPARE(errorFor(a, stroke.client_op_id())->code(), pb::STORAGE_UNAVAILABLE);
        QVERIFY(!a.acked(stroke.client_op_id()));
        // Every member is told the wall is unavailable, in a sentence that says what to do.
        auto toldUnavailable = [](const TestClient &c) {
            for (const auto &env : c.received) {
                if (env.has_error() && env.error().client_op_id() == 0
                    && env.error().code() == pb::STORAGE_UNAVAILABLE && !env.error().fatal())
                    return fromWire(env.error().message());
            }
            return QString();
        };
        QTRY_VERIFY(!toldUnavailable(b).isEmpty());
        QVERIFY(toldUnavailable(b).contains(QLatin1String("unavailable")));
        QVERIFY(toldUnavailable(b).contains(QLatin1String("again")));
        QVERIFY(!toldUnavailable(a).isEmpty());
        QCOMPARE(b.ops().size(), size_t(1)); // nobody saw what was not stored
        QCOMPARE(a.disconnects + b.disconnects, 0);

        // /health names the problem.
        auto [status, health] = http(QStringLiteral("/health"));
        QCOMPARE(status, 200);
        QCOMPARE(health.value(QStringLiteral("status")).toString(), QStringLiteral("unavailable"));
        QCOMPARE(health.value(QStringLiteral("unavailable_walls")).toArray(), QJsonArray{wall});
        QVERIFY(health.value(QStringLiteral("problem")).toString().contains(QLatin1String("storage"), Qt::CaseInsensitive));

        // While unavailable: the retried op, a new join and an HTTP post are refused.
        a.sendOp(stroke);
        QTRY_VERIFY(std::count_if(a.received.begin(), a.received.end(), [&](const pb::Envelope &e) {
                        return e.has_error() && e.error().client_op_id() == stroke.client_op_id();
                    }) == 2);
        QCOMPARE(errorFor(a, stroke.client_op_id())->code(), pb::STORAGE_UNAVAILABLE);
        TestClient c;
        QVERIFY(c.connectAs(m_server->url(), QStringLiteral("Cy")));
        {
            pb::Envelope join;
            join.mutable_join()->set_wall(toWire(wall));
            c.sendEnvelope(join);
            QTRY_VERIFY(c.lastError());
            QCOMPARE(c.lastError()->code(), pb::STORAGE_UNAVAILABLE);
            QCOMPARE(c.count(pb::Envelope::kJoined), size_t(0));
        }
        const auto [postStatus, postBody] = http(QStringLiteral("/api/walls/%1/messages").arg(wall),
                                                 R"({"author": "bot", "text": "hi"})", apiToken);
        QCOMPARE(postStatus, 503);
        QVERIFY(postBody.value(QStringLiteral("error")).toString().contains(QLatin1String("unavailable")));

        // Storage comes back.
        QVERIFY2(q.exec(QStringLiteral("ALTER TABLE ops_out_of_reach RENAME TO ops")),
                 qPrintable(q.lastError().text()));
        if (byTimer) {
            // Nobody touches the wall: the timer reloads it.
            QTRY_VERIFY(http(QStringLiteral("/health")).second.value(QStringLiteral("status")).toString()
                        != QLatin1String("unavailable"));
            QVERIFY(m_server->unavailableWalls().isEmpty());
        }
        // The author resends the refused op with the same client op id, as a client does after a
        // STORAGE_UNAVAILABLE, until it is taken: it lands once, as seq 2.
        QVERIFY(TestClient::waitFor([&] {
            if (a.acked(stroke.client_op_id()))
                return true;
            const size_t refusals = size_t(std::count_if(a.received.begin(), a.received.end(), [&](const pb::Envelope &e) {
                return e.has_error() && e.error().client_op_id() == stroke.client_op_id();
            }));
            a.sendOp(stroke);
            TestClient::waitFor([&] {
                return a.acked(stroke.client_op_id())
                    || size_t(std::count_if(a.received.begin(), a.received.end(), [&](const pb::Envelope &e) {
                           return e.has_error() && e.error().client_op_id() == stroke.client_op_id();
                       })) > refusals;
            });
            return a.acked(stroke.client_op_id());
        }, 10000));
        const auto next = a.chat(QStringLiteral("after"));
        QTRY_VERIFY(a.acked(next));
        QTRY_COMPARE(b.ops().size(), size_t(3));
        std::vector<std::uint64_t> seqs;
        for (const pb::Op &op : b.ops())
            seqs.push_back(op.seq());
        QCOMPARE(seqs, (std::vector<std::uint64_t>{1, 2, 3}));
        for (const pb::Op &op : a.ops()) {
            if (op.client_op_id() == stroke.client_op_id())
                QCOMPARE(op.seq(), std::uint64_t(2));
        }
        QCOMPARE(a.count(pb::Envelope::kOp), size_t(3)); // the stroke acknowledged once
        QCOMPARE(http(QStringLiteral("/health")).second.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));

        // Storage holds exactly that, and a newcomer joins; the HTTP post now goes through.
        const auto stored = storedOps(m_dir->path(), wall);
        QCOMPARE(stored.size(), size_t(3));
        QCOMPARE(stored.at(2).client_op_id(), stroke.client_op_id());
        TestClient d;
        QVERIFY(d.connectAs(m_server->url(), QStringLiteral("Dee")));
        QVERIFY(d.join(wall));
        QCOMPARE(d.lastJoined()->head_seq(), std::uint64_t(3));
        QCOMPARE(d.model.snapshot().SerializeAsString(), b.model.snapshot().SerializeAsString());

        // The next snapshot (stored at shutdown) holds no phantom: a restart loads the same wall.
        const std::string expected = b.model.snapshot().SerializeAsString();
        q = QSqlQuery();
        db = QSqlDatabase();
        m_server.reset();
        startServer(options);
        TestClient e;
        QVERIFY(e.connectAs(m_server->url(), QStringLiteral("Eve")));
        QVERIFY(e.join(wall));
        QVERIFY(e.lastJoined()->has_snapshot());
        QCOMPARE(e.lastJoined()->snapshot().seq(), std::uint64_t(3));
        QCOMPARE(e.model.snapshot().SerializeAsString(), expected);
        QCOMPARE(e.model.strokes().size(), size_t(1));
    }

    // Item 4. A client away while 60 chat messages (and a stroke) went by comes back with its
    // last_seq; the ops it missed weigh more than the snapshot (chat is not in a snapshot), so
    // it gets the snapshot path: the newest 50 chats, more_chat and chat_after_seq; it pages
    // the other 10 with HistoryRequest.after_seq and ends up with all 60, each once, in order.
    // Away for 20 only, it gets them all in recent_chat and more_chat is false even though
    // older chat (which it has) exists.
    void returningClientGetsEveryChatItMissed()
    {
        startServer();
        const QString wall = QStringLiteral("chatty");
        TestClient w, r;
        QVERIFY(w.connectAs(m_server->url(), QStringLiteral("Writer")));
        QVERIFY(r.connectAs(m_server->url(), QStringLiteral("Returner")));
        QVERIFY(w.join(wall));
        QVERIFY(r.join(wall));
        // Chat the returner has seen.
        for (int i = 0; i < 5; ++i)
            w.chat(QStringLiteral("seen %1").arg(i));
        w.stroke(1, wave(30, 0), 2);
        QTRY_COMPARE(r.model.seq(), std::uint64_t(5 + 3));
        const std::uint64_t lastSeq = r.model.seq();
        r.socket().close();
        QTRY_COMPARE(r.disconnects, 1);

        const QString padding(200, QLatin1Char('.'));
        auto chatMany = [&](int n, const QString &prefix) {
            std::uint64_t id = 0;
            for (int i = 0; i < n; ++i)
                id = w.chat(QStringLiteral("%1 %2 %3").arg(prefix).arg(i).arg(padding));
            return TestClient::waitFor([&] { return w.acked(id); });
        };
        QVERIFY(chatMany(60, QStringLiteral("missed")));
        w.stroke(2, wave(30, 1), 2);
        const std::uint64_t head = lastSeq + 60 + 3;
        QTRY_COMPARE(w.model.seq(), head);

        // Everything after lastSeq that is chat, as the writer saw it acknowledged.
        auto chatAfter = [&](std::uint64_t after) {
            std::vector<std::string> out;
            for (const pb::Op &op : w.ops()) {
                if (op.has_chat() && op.seq() > after)
                    out.push_back(op.SerializeAsString());
            }
            return out;
        };
        const std::vector<std::string> missed = chatAfter(lastSeq);
        QCOMPARE(missed.size(), size_t(60));

        TestClient back;
        back.model = r.model;
        QVERIFY(back.connectAs(m_server->url(), QStringLiteral("Returner"), r.resumeToken));
        QVERIFY(back.join(wall, lastSeq));
        const pb::Joined joined = *back.lastJoined();
        QVERIFY(joined.has_snapshot()); // the path that used to lose chat
        QCOMPARE(joined.head_seq(), head);
        QCOMPARE(joined.chat_after_seq(), lastSeq);
        QCOMPARE(joined.recent_chat_size(), limits::kRecentChatOnJoin);
        QVERIFY(joined.more_chat());
        std::vector<std::string> got;
        for (const pb::Op &op : joined.recent_chat())
            got.push_back(op.SerializeAsString());
        // Page what is missing, a small page at a time, as a client may.
        std::uint64_t before = joined.recent_chat(0).seq();
        bool more = joined.more_chat();
        int pages = 0;
        while (more) {
            QVERIFY(++pages < 10);
            pb::Envelope env;
            env.mutable_history_request()->set_before_seq(before);
            env.mutable_history_request()->set_after_seq(joined.chat_after_seq());
            env.mutable_history_request()->set_limit(4);
            const size_t histories = back.count(pb::Envelope::kHistory);
            back.sendEnvelope(env);
            QTRY_COMPARE(back.count(pb::Envelope::kHistory), histories + 1);
            const pb::History &h = back.received.back().history();
            QVERIFY(h.chat_size() > 0);
            std::vector<std::string> page;
            for (const pb::Op &op : h.chat()) {
                QVERIFY(op.seq() > lastSeq);
                page.push_back(op.SerializeAsString());
            }
            got.insert(got.begin(), page.begin(), page.end());
            before = h.chat(0).seq();
            more = h.more();
        }
        QCOMPARE(pages, 3); // 10 messages, 4 a page
        QCOMPARE(got, missed);
        QCOMPARE(back.model.seq(), head);
        QCOMPARE(back.model.snapshot().SerializeAsString(), w.model.snapshot().SerializeAsString());

        // Away for 20 messages only: all in recent_chat, nothing more to page.
        const std::uint64_t lastSeq2 = back.model.seq();
        back.socket().close();
        QTRY_COMPARE(back.disconnects, 1);
        QVERIFY(chatMany(20, QStringLiteral("later")));
        QTRY_COMPARE(w.model.seq(), lastSeq2 + 20);
        TestClient again;
        QVERIFY(again.connectAs(m_server->url(), QStringLiteral("Returner"), r.resumeToken));
        QVERIFY(again.join(wall, lastSeq2));
        const pb::Joined &j2 = *again.lastJoined();
        QVERIFY(j2.has_snapshot());
        QCOMPARE(j2.chat_after_seq(), lastSeq2);
        QVERIFY(!j2.more_chat());
        std::vector<std::string> got2;
        for (const pb::Op &op : j2.recent_chat()) {
            if (op.seq() > lastSeq2)
                got2.push_back(op.SerializeAsString());
        }
        QCOMPARE(got2, chatAfter(lastSeq2));
        QCOMPARE(got2.size(), size_t(20));

        // A new client: the newest 50, and more_chat says older chat exists.
        TestClient fresh;
        QVERIFY(fresh.connectAs(m_server->url(), QStringLiteral("New")));
        QVERIFY(fresh.join(wall));
        QCOMPARE(fresh.lastJoined()->chat_after_seq(), std::uint64_t(0));
        QCOMPARE(fresh.lastJoined()->recent_chat_size(), limits::kRecentChatOnJoin);
        QVERIFY(fresh.lastJoined()->more_chat());
    }

    // Item 5. A 30 MB wall joined over a 1 MB/s link (the fault proxy's throttle, both ways)
    // while 10 others draw: the join answer alone is above the slow-reader bound
    // (max_send_buffer_bytes), what is queued behind it is not; the pings queued behind it
    // are answered only after it, later than the peer timeout. The joiner stays connected,
    // joins once and ends with the same wall as the others.
    void bigWallJoinsOverASlowLinkWhileOthersDraw()
    {
        ServerOptions options;
        options.pingIntervalMs = 500;
        options.peerTimeoutMs = 8000; // well under the ~30 s the join takes
        startServer(options);
        const QString wall = QStringLiteral("mural");

        // 30 MB of notes, sequenced and stored by the server as the HTTP API's ops are.
        const QString text(limits::kMaxNoteChars, QChar(0x20AC)); // 12,000 bytes each
        const int notes = 30 * 1000 * 1000 / (3 * limits::kMaxNoteChars) + 1;
        {
            Problem problem;
            Room *room = m_server->room(wall, true, &problem);
            QVERIFY(room);
            for (int i = 1; i <= notes; ++i) {
                pb::Op op;
                op.mutable_note_add()->set_id(std::uint32_t(i));
                op.mutable_note_add()->set_x(float(i % 100) * 30);
                op.mutable_note_add()->set_y(float(i / 100) * 30);
                op.mutable_note_add()->set_text(toWire(text));
                const auto refused = m_server->submit(room, nullptr, op);
                QVERIFY2(!refused, refused ? qPrintable(refused->message) : "");
                if (i % 200 == 0)
                    QVERIFY(m_server->flush());
            }
            QVERIFY(m_server->flush());
            QVERIFY(room->snapshotBytes().size() > 30 * 1000 * 1000);
            qInfo("wall of %d notes, snapshot %lld bytes", notes, qlonglong(room->snapshotBytes().size()));
        }

        // The drawers come back having seen it all (a quick join: no snapshot to take).
        std::vector<std::unique_ptr<TestClient>> drawers;
        const std::uint64_t built = m_server->headSeq(wall);
        for (int i = 0; i < 10; ++i) {
            drawers.push_back(std::make_unique<TestClient>());
            QVERIFY(drawers.back()->connectAs(m_server->url(), QStringLiteral("Drawer %1").arg(i)));
            QVERIFY(drawers.back()->join(wall, built));
        }

        FaultProxy proxy(m_server->port());
        QVERIFY(proxy.listen());
        const qint64 rate = 1000 * 1000;
        proxy.setThrottle(rate);
        TestClient joiner;
        QVERIFY(joiner.connectAs(QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(proxy.port())),
                                 QStringLiteral("Far")));

        // Everyone draws: a stroke of 3 ops every 20 ms, round robin.
        std::uint32_t strokes = 0;
        QTimer pen;
        pen.setInterval(20);
        connect(&pen, &QTimer::timeout, this, [&] {
            TestClient &d = *drawers[strokes % drawers.size()];
            ++strokes;
            d.stroke(strokes, wave(24, strokes), 2);
        });
        pen.start();
        QTRY_VERIFY(strokes >= 10);

        QElapsedTimer clock;
        clock.start();
        pb::Envelope join;
        join.mutable_join()->set_wall(toWire(wall));
        joiner.sendEnvelope(join);
        QTRY_VERIFY_WITH_TIMEOUT(joiner.count(pb::Envelope::kJoined) == 1 || joiner.disconnects > 0, 60000);
        const qint64 joinMs = clock.elapsed();
        pen.stop();
        qInfo("joined in %lld ms over a %lld B/s link while %u strokes were drawn; %lld bytes "
              "came down", joinMs, rate, strokes, proxy.bytesDown());
        QCOMPARE(joiner.disconnects, 0);
        QVERIFY(joiner.lastJoined()->has_snapshot());
        // The link was that slow: the answer took about its size over the rate.
        QVERIFY(joinMs > 25 * 1000);

        // Then it catches up with what was drawn meanwhile, and has the server's wall.
        for (const auto &d : drawers) // what is in flight is sequenced first
            QTRY_VERIFY(d->nextClientOpId == 0 || d->acked(d->nextClientOpId));
        const std::uint64_t head = m_server->headSeq(wall);
        QTRY_COMPARE_WITH_TIMEOUT(joiner.model.seq(), head, 20000);
        Problem problem;
        pb::WallSnapshot server;
        const QByteArray &bytes = m_server->room(wall, false, &problem)->snapshotBytes();
        QVERIFY(server.ParseFromArray(bytes.constData(), int(bytes.size())));
        QCOMPARE(joiner.model.snapshot().SerializeAsString(), server.SerializeAsString());
        QCOMPARE(joiner.count(pb::Envelope::kJoined), size_t(1));
        QCOMPARE(joiner.disconnects, 0);
        QCOMPARE(m_server->sessionCount(), 11);
        for (const auto &d : drawers)
            QCOMPARE(d->disconnects, 0);
    }
};

QTEST_GUILESS_MAIN(TstStorageJoin)
#include "tst_storagejoin.moc"
