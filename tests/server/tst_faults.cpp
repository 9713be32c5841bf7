// Faults (issue 4 item 1), server side, with the real things: kill -9 of a real scrawl-server
// process, a loopback proxy that stalls, drops or slows one connection, a client that stops
// reading, and SQLite that cannot write. (App clients reconnecting and resending their outbox
// are covered in tests/app/tst_wallclient.cpp.)

#include "server/wallserver.h"
#include "tests/support/faultproxy.h"
#include "tests/support/serverprocess.h"
#include "tests/support/rawwsclient.h"
#include "tests/support/storedwall.h"
#include "tests/support/testclient.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

#include <algorithm>
#include <map>

using namespace scrawl;
using scrawl::test::FaultProxy;
using scrawl::test::RawWsClient;
using scrawl::test::ServerProcess;
using scrawl::test::TestClient;

namespace {

std::map<std::uint64_t, QByteArray> storedOps(const QString &dataDir, const QString &wall)
{
    return scrawl::test::storedOpRows(dataDir, wall);
}
using scrawl::test::serverDatabase;

pb::Op chatOp(const QString &text)
{
    pb::Op op;
    op.mutable_chat()->set_text(toWire(text));
    return op;
}

std::vector<QPointF> wave(int n, double phase)
{
    std::vector<QPointF> out;
    for (int i = 0; i < n; ++i)
        out.emplace_back(50 + i * 2.5, 300 + 30 * std::sin(i / 6.0 + phase));
    return out;
}

// The same ops, acknowledged by a server, in the order it sequenced them.
struct Ack
{
    std::uint64_t seq;
    QByteArray bytes;
};

} // namespace

class TstFaults : public QObject
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

    // GET /health over real HTTP: its "status" field.
    QString healthStatus()
    {
        QNetworkAccessManager net;
        QNetworkReply *reply = net.get(QNetworkRequest(
            QUrl(QStringLiteral("http://127.0.0.1:%1/health").arg(m_server->port()))));
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished() && !finished.wait(5000))
            return {};
        const QString status = QJsonDocument::fromJson(reply->readAll()).object().value(QStringLiteral("status")).toString();
        reply->deleteLater();
        return status;
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

    // kill -9 mid-stream: every op a client saw acknowledged is stored, byte for byte, with its
    // sequence number; after the restart the client resends its unacknowledged outbox and the
    // wall ends with every op exactly once.
    void killNineKeepsEveryAcknowledgedOp()
    {
        ServerProcess server(m_dir->path());
        QVERIFY(server.start());
        TestClient writer, watcher;
        QVERIFY(writer.connectAs(server.url(), QStringLiteral("Writer")));
        QVERIFY(watcher.connectAs(server.url(), QStringLiteral("Watcher")));
        QVERIFY(writer.join(QStringLiteral("crash")));
        QVERIFY(watcher.join(QStringLiteral("crash")));

        // The outbox: every op the writer sent, by client op id.
        std::map<std::uint64_t, pb::Op> outbox;
        std::uint32_t strokeId = 0;
        auto send = [&](pb::Op op) {
            op.set_client_op_id(++writer.nextClientOpId);
            outbox[op.client_op_id()] = op;
            writer.sendOp(op);
        };
        // Per tick: four chat messages and one stroke of five ops.
        auto tick = [&] {
            for (int i = 0; i < 4; ++i)
                send(chatOp(QStringLiteral("message %1").arg(writer.nextClientOpId + 1)));
            ++strokeId;
            std::vector<FixedPoint> fixed;
            for (const QPointF &p : wave(30, strokeId))
                fixed.push_back(toFixed(p));
            for (size_t k = 0; k < fixed.size(); k += 10) {
                const std::vector<FixedPoint> part(fixed.begin() + long(k), fixed.begin() + long(k + 10));
                pb::Op op;
                if (k == 0) {
                    op.mutable_stroke_begin()->set_id(strokeId);
                    op.mutable_stroke_begin()->set_color(0xff0000);
                    op.mutable_stroke_begin()->set_width(3);
                    encodePoints(part, {}, op.mutable_stroke_begin());
                } else {
                    op.mutable_stroke_points()->set_id(strokeId);
                    encodePoints(part, tailOf(fixed, k), op.mutable_stroke_points());
                }
                send(op);
            }
            pb::Op end;
            end.mutable_stroke_end()->set_id(strokeId);
            send(end);
        };
        QTimer pump;
        pump.setInterval(2);
        connect(&pump, &QTimer::timeout, this, tick);
        pump.start();
        QVERIFY(TestClient::waitFor([&] { return writer.count(pb::Envelope::kOp) >= 300; }, 20000));
        pump.stop();
        // Kill while ops are in flight: a burst of 900 more, and the server stopped (SIGSTOP) the
        // moment the first acknowledgement of the burst arrives, busy with the rest. A few more
        // go to the stopped server, so that some are surely unacknowledged however fast it was
        // (on a loaded machine it could otherwise answer the whole burst before the signal
        // landed); then SIGKILL, where it stopped.
        const size_t ackedBefore = writer.count(pb::Envelope::kOp);
        bool armed = true;
        connect(&writer.socket(), &QWebSocket::binaryMessageReceived, this, [&] {
            if (armed && writer.count(pb::Envelope::kOp) > ackedBefore) {
                armed = false;
                ::kill(pid_t(server.process().processId()), SIGSTOP);
            }
        });
        for (int i = 0; i < 100; ++i)
            tick();
        QVERIFY(TestClient::waitFor([&] { return !armed; }, 10000));
        for (int i = 0; i < 3; ++i)
            tick();
        server.kill9();
        QTRY_VERIFY(writer.disconnects == 1);

        std::map<std::uint64_t, Ack> acked; // by client op id
        for (const pb::Op &op : writer.ops()) {
            if (op.author() == writer.userId)
                acked[op.client_op_id()] = {op.seq(), QByteArray::fromStdString(op.SerializeAsString())};
        }
        const std::uint64_t sent = writer.nextClientOpId;
        qInfo("sent %llu ops, %zu acknowledged before kill -9", qulonglong(sent), acked.size());
        QVERIFY(sent > acked.size()); // some were in flight: the test tests something

        // Every acknowledged op is in the file, byte for byte, under the same seq.
        const auto stored = storedOps(m_dir->path(), QStringLiteral("crash"));
        qInfo("stored after kill -9: %zu ops", stored.size());
        QVERIFY(stored.size() >= acked.size());
        for (const auto &[clientOpId, ack] : acked) {
            const auto it = stored.find(ack.seq);
            QVERIFY2(it != stored.end(), qPrintable(QStringLiteral("acknowledged op %1 (seq %2) was lost")
                                                        .arg(clientOpId).arg(ack.seq)));
            QCOMPARE(it->second, ack.bytes);
        }

        // Restart on the same data; the writer resumes and resends its whole outbox, in order.
        QVERIFY(server.start());
        TestClient writer2, watcher2;
        QVERIFY(writer2.connectAs(server.url(), QStringLiteral("Writer"), writer.resumeToken));
        QCOMPARE(writer2.userId, writer.userId);
        QVERIFY(writer2.join(QStringLiteral("crash")));
        for (std::uint64_t id = 1; id <= sent; ++id) {
            if (!acked.count(id)) {
                QVERIFY(outbox.count(id));
                writer2.sendOp(outbox[id]);
            }
        }
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(outbox.begin(), outbox.end(), [&](const auto &entry) {
                                     return entry.first > sent || acked.count(entry.first)
                                         || writer2.acked(entry.first);
                                 }),
                                 20000);
        // Exactly once: the wall holds one op per client op id sent, no gaps, no doubles.
        const auto after = storedOps(m_dir->path(), QStringLiteral("crash"));
        QCOMPARE(after.size(), size_t(sent));
        std::vector<std::uint64_t> ids;
        for (const auto &[seq, bytes] : after) {
            pb::Op op;
            QVERIFY(op.ParseFromArray(bytes.constData(), int(bytes.size())));
            QCOMPARE(op.seq(), seq);
            ids.push_back(op.client_op_id());
        }
        std::sort(ids.begin(), ids.end());
        for (size_t i = 0; i < ids.size(); ++i)
            QCOMPARE(ids[i], std::uint64_t(i + 1));
        // And a newcomer draws the same wall as the writer, whose view is its acks.
        QVERIFY(watcher2.connectAs(server.url(), QStringLiteral("Watcher")));
        QVERIFY(watcher2.join(QStringLiteral("crash")));
        QCOMPARE(watcher2.lastJoined()->head_seq(), std::uint64_t(sent));
        QCOMPARE(watcher2.model.strokes().size(), size_t(strokeId));
    }

    // A link that goes silent (the proxy stalls it: no FIN, no RST): the server's pings go
    // unanswered and it drops the peer after peerTimeoutMs; the others see it leave. The client
    // then resumes through the proxy with its last seq and gets exactly what it missed.
    void stalledLinkIsDroppedAndResumes()
    {
        ServerOptions options;
        options.pingIntervalMs = 100;
        options.peerTimeoutMs = 600;
        startServer(options);
        FaultProxy proxy(m_server->port());
        QVERIFY(proxy.listen());
        const QUrl viaProxy(QStringLiteral("ws://127.0.0.1:%1").arg(proxy.port()));

        TestClient far, near;
        QVERIFY(far.connectAs(viaProxy, QStringLiteral("Far")));
        QVERIFY(near.connectAs(m_server->url(), QStringLiteral("Near")));
        QVERIFY(far.join(QStringLiteral("link")));
        QVERIFY(near.join(QStringLiteral("link")));
        near.chat(QStringLiteral("before"));
        QTRY_COMPARE(far.model.seq(), std::uint64_t(1));
        QTRY_COMPARE(far.count(pb::Envelope::kPresence), size_t(1)); // far saw near arrive

        proxy.setMode(FaultProxy::Mode::Stall);
        QElapsedTimer stalled;
        stalled.start();
        // Near keeps working while far's link is dead.
        near.chat(QStringLiteral("while you were gone"));
        near.stroke(1, wave(20, 0), 2);
        QTRY_COMPARE(near.model.seq(), std::uint64_t(5));
        // The server notices by itself: far leaves the wall.
        auto farLeft = [&] {
            for (const auto &env : near.received) {
                if (env.has_presence() && !env.presence().online()
                    && env.presence().member().user_id() == far.userId)
                    return true;
            }
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(farLeft(), 5000);
        const qint64 noticedMs = stalled.elapsed();
        qInfo("silent peer dropped %lld ms after the link stalled (timeout %d ms)", noticedMs,
              options.peerTimeoutMs);
        // Silence is counted from the last pong, up to one ping interval before the stall.
        QVERIFY(noticedMs >= options.peerTimeoutMs - options.pingIntervalMs);
        QCOMPARE(m_server->sessionCount(), 1);
        QCOMPARE(far.model.seq(), std::uint64_t(1)); // it heard nothing while stalled

        // The client's own ping timeout (the app's) would cut here; the proxy cuts for it.
        proxy.dropAll();
        QTRY_COMPARE(far.disconnects, 1);
        proxy.setMode(FaultProxy::Mode::Pass);
        TestClient again;
        again.model = far.model;
        QVERIFY(again.connectAs(viaProxy, QStringLiteral("Far"), far.resumeToken));
        QCOMPARE(again.userId, far.userId);
        QVERIFY(again.join(QStringLiteral("link"), far.model.seq()));
        // The ops it missed, or a snapshot when that is smaller (DESIGN: whichever is smaller).
        const pb::Joined *j = again.lastJoined();
        QCOMPARE(j->head_seq(), std::uint64_t(5));
        if (!j->has_snapshot()) {
            QCOMPARE(j->ops_size(), 4);
            QCOMPARE(j->ops(0).seq(), std::uint64_t(2));
        }
        QCOMPARE(again.model.snapshot().SerializeAsString(), near.model.snapshot().SerializeAsString());
    }

    // A dropped connection (RST) is seen by the server at once; a slow link (150 ms each way,
    // more than the ping interval) is not mistaken for a dead one and receives everything.
    void droppedAndSlowLinks()
    {
        ServerOptions options;
        options.pingIntervalMs = 100;
        options.peerTimeoutMs = 800;
        startServer(options);
        FaultProxy proxy(m_server->port());
        QVERIFY(proxy.listen());
        const QUrl viaProxy(QStringLiteral("ws://127.0.0.1:%1").arg(proxy.port()));

        TestClient near;
        QVERIFY(near.connectAs(m_server->url(), QStringLiteral("Near")));
        QVERIFY(near.join(QStringLiteral("links")));
        {
            TestClient dropped;
            QVERIFY(dropped.connectAs(viaProxy, QStringLiteral("Dropped")));
            QVERIFY(dropped.join(QStringLiteral("links")));
            QTRY_COMPARE(m_server->sessionCount(), 2);
            QElapsedTimer clock;
            clock.start();
            proxy.dropAll();
            QTRY_COMPARE_WITH_TIMEOUT(m_server->sessionCount(), 1, 2000);
            qInfo("dropped link noticed in %lld ms", clock.elapsed());
            QVERIFY(clock.elapsed() < options.peerTimeoutMs); // not by the timeout: by the RST
        }

        proxy.setMode(FaultProxy::Mode::Slow, 150);
        TestClient slow;
        QVERIFY(slow.connectAs(viaProxy, QStringLiteral("Slow")));
        QVERIFY(slow.join(QStringLiteral("links")));
        for (int i = 0; i < 10; ++i)
            near.stroke(std::uint32_t(i + 1), wave(30, i), 3);
        const std::uint64_t head = 10 * 4; // begin, 2 point batches, end
        QTRY_COMPARE(near.model.seq(), head);
        // Three ping timeouts' worth of a slow link: still connected, everything arrives.
        QTRY_COMPARE_WITH_TIMEOUT(slow.model.seq(), head, 5000);
        // Staying connected is the point: watch for three peer timeouts that nothing drops it.
        QVERIFY(!TestClient::waitFor([&] { return slow.disconnects > 0; }, 3 * options.peerTimeoutMs));
        QCOMPARE(slow.disconnects, 0);
        QCOMPARE(m_server->sessionCount(), 2);
        QCOMPARE(slow.model.snapshot().SerializeAsString(), near.model.snapshot().SerializeAsString());
    }

    // A client that stops reading first loses ephemeral traffic (cursors), then, past the
    // send-buffer limit, is disconnected; the others' latency stays low all along.
    void slowReaderLosesCursorsThenIsCutWithoutDelayingOthers()
    {
        startServer();
        RawWsClient slow;
        QVERIFY(slow.upgrade(m_server->port()));
        slow.socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
        QVERIFY(slow.hello(QStringLiteral("Sleepy")));
        QVERIFY(slow.join(QStringLiteral("busy")));
        TestClient publisher, watcher;
        QVERIFY(publisher.connectAs(m_server->url(), QStringLiteral("Pub")));
        QVERIFY(watcher.connectAs(m_server->url(), QStringLiteral("Watch")));
        QVERIFY(publisher.join(QStringLiteral("busy")));
        QVERIFY(watcher.join(QStringLiteral("busy")));
        slow.stopReading();

        // ~12 KB chat messages (4,000 three-byte characters).
        const QString bulk(limits::kMaxChatChars, QChar(0x20AC));
        auto publish = [&](int n) {
            const size_t before = watcher.count(pb::Envelope::kOp);
            for (int i = 0; i < n; ++i)
                publisher.chat(bulk);
            return TestClient::waitFor(
                [&] { return watcher.count(pb::Envelope::kOp) >= before + size_t(n); }, 30000);
        };
        // Latency publisher -> watcher of small chats, one at a time.
        auto probe = [&](int n, std::vector<qint64> *out) {
            for (int i = 0; i < n; ++i) {
                QElapsedTimer t;
                qint64 arrivedUs = -1;
                // Timed when the watcher's socket delivers it, not when the poll below looks.
                const auto timing = connect(&watcher.socket(), &QWebSocket::binaryMessageReceived,
                                            this, [&] {
                                                if (arrivedUs < 0)
                                                    arrivedUs = t.nsecsElapsed() / 1000;
                                            });
                t.start();
                const auto id = publisher.chat(QStringLiteral("probe"));
                if (!TestClient::waitFor([&] {
                        const pb::Envelope &last = watcher.received.back();
                        return last.has_op() && last.op().client_op_id() == id
                            && last.op().author() == publisher.userId;
                    }, 5000))
                    return false;
                disconnect(timing);
                out->push_back(arrivedUs);
            }
            return true;
        };

        // Phase 1: ~8 MB behind (more than the kernel buffers hold, less than the 16 MiB limit).
        QVERIFY(publish(700));
        std::vector<qint64> latencyUs;
        QVERIFY(probe(20, &latencyUs));
        const int cursors = 50;
        for (int i = 0; i < cursors; ++i) {
            pb::Envelope env;
            env.mutable_cursor()->set_x(float(i));
            env.mutable_cursor()->set_y(1);
            publisher.sendEnvelope(env);
        }
        QTRY_COMPARE(watcher.count(pb::Envelope::kCursor), size_t(cursors));
        QVERIFY(!slow.closed());
        QCOMPARE(m_server->sessionCount(), 3);

        // Phase 2: another ~18 MB: past max_send_buffer_bytes, the slow reader is cut off.
        QVERIFY(publish(1500));
        QVERIFY(probe(20, &latencyUs));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->sessionCount(), 2, 10000);
        auto sawLeave = [&] {
            for (const auto &env : watcher.received) {
                if (env.has_presence() && !env.presence().online()
                    && fromWire(env.presence().member().name()) == QStringLiteral("Sleepy"))
                    return true;
            }
            return false;
        };
        QTRY_VERIFY(sawLeave());

        // What the slow reader got before it was cut: durable ops in order, but no cursor.
        slow.resumeReading();
        QVERIFY(RawWsClient::waitFor([&] { return slow.closed(); }, 10000));
        std::uint64_t lastSeq = 0;
        for (const auto &env : slow.received) {
            if (env.has_op()) {
                if (lastSeq != 0)
                    QCOMPARE(env.op().seq(), lastSeq + 1);
                lastSeq = env.op().seq();
            }
        }
        QCOMPARE(slow.count(pb::Envelope::kCursor), size_t(0));
        qInfo("slow reader received %zu ops before being cut (the wall has %llu)",
              slow.count(pb::Envelope::kOp), qulonglong(m_server->headSeq(QStringLiteral("busy"))));

        // The others were not slowed: the watcher got everything, quickly.
        QCOMPARE(watcher.disconnects, 0);
        std::sort(latencyUs.begin(), latencyUs.end());
        const qint64 p50 = latencyUs[latencyUs.size() / 2];
        const qint64 worst = latencyUs.back();
        qInfo("watcher latency while a reader stalls: p50 %lld us, max %lld us over %zu probes",
              p50, worst, latencyUs.size());
        QVERIFY2(worst < 250 * 1000, "another client's latency grew while a reader stalled");

        // It resumes from its last seq like any reconnecting client.
        TestClient back;
        QVERIFY(back.connectAs(m_server->url(), QStringLiteral("Sleepy")));
        QVERIFY(back.join(QStringLiteral("busy"), lastSeq));
        QCOMPARE(back.lastJoined()->head_seq(), m_server->headSeq(QStringLiteral("busy")));
    }

    // SQLite that cannot write (the database is full, as on a full disk): ops are refused with
    // STORAGE_UNAVAILABLE and never acknowledged or broadcast; /health says degraded; reading and
    // joining go on; when storage returns, the same ops (same client op ids) go through once.
    void unwritableStorageRefusesOpsAndRecovers_data()
    {
        QTest::addColumn<QString>("fault");   // SQL run on the server's connection; %1 = pages
        QTest::addColumn<QString>("restore");
        // SQLITE_FULL, what a full disk gives.
        QTest::newRow("database full") << QStringLiteral("PRAGMA max_page_count = %1")
                                       << QStringLiteral("PRAGMA max_page_count = 1073741823");
        // SQLITE_READONLY, what a read-only database file gives (chmod does not stop root).
        QTest::newRow("read-only database") << QStringLiteral("PRAGMA query_only = ON")
                                            << QStringLiteral("PRAGMA query_only = OFF");
    }

    void unwritableStorageRefusesOpsAndRecovers()
    {
        QFETCH(QString, fault);
        QFETCH(QString, restore);
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("disk")));
        QVERIFY(b.join(QStringLiteral("disk")));
        const auto first = a.chat(QStringLiteral("stored"));
        QTRY_VERIFY(a.acked(first));
        QTRY_COMPARE(b.ops().size(), size_t(1));

        QSqlDatabase db = serverDatabase();
        QVERIFY(db.isOpen());
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("PRAGMA page_count")) && q.next());
        const int pages = q.value(0).toInt();
        const QString faultSql = fault.contains(QLatin1String("%1")) ? fault.arg(pages) : fault;
        QVERIFY(q.exec(faultSql));
        // Ops are written on the commit thread's own connection (Storage::appendOpsAsync): the
        // connection-level fault goes there too.
        QString commitError;
        QVERIFY2(m_server->storage().execOnCommitConnection(faultSql, &commitError), qPrintable(commitError));

        // Big enough to need new pages.
        const QString big(limits::kMaxChatChars, QChar(0x20AC));
        pb::Op lost = chatOp(big);
        lost.set_client_op_id(++a.nextClientOpId);
        a.sendOp(lost);
        pb::Op stroke;
        stroke.mutable_stroke_begin()->set_id(1);
        stroke.mutable_stroke_begin()->set_width(2);
        for (int i = 0; i < 1000; ++i)
            stroke.mutable_stroke_begin()->add_path(i % 2 ? 3 : 12);
        stroke.set_client_op_id(++a.nextClientOpId);
        a.sendOp(stroke);
        QTRY_VERIFY(a.lastError() && a.lastError()->client_op_id() == stroke.client_op_id());
        int refused = 0;
        for (const auto &env : a.received) {
            if (env.has_error()) {
                QCOMPARE(env.error().code(), pb::STORAGE_UNAVAILABLE);
                QVERIFY(!env.error().fatal());
                ++refused;
            }
        }
        QCOMPARE(refused, 2);
        QVERIFY(!a.acked(lost.client_op_id()) && !a.acked(stroke.client_op_id()));
        QCOMPARE(m_server->headSeq(QStringLiteral("disk")), std::uint64_t(1));
        QCOMPARE(a.model.seq(), std::uint64_t(1));
        QVERIFY(!m_server->storageHealthy());
        QCOMPARE(healthStatus(), QStringLiteral("degraded"));
        // Nobody else saw what was not stored; the wall still reads: a newcomer joins.
        QCOMPARE(b.ops().size(), size_t(1));
        TestClient reader;
        QVERIFY(reader.connectAs(m_server->url(), QStringLiteral("Reader")));
        QVERIFY(reader.join(QStringLiteral("disk")));
        QCOMPARE(reader.lastJoined()->head_seq(), std::uint64_t(1));
        QCOMPARE(reader.lastJoined()->recent_chat_size(), 1);
        if (reader.resumeToken.empty()) {
            // Storage could not keep the newcomer's identity: it reads, but cannot write yet.
            const auto id = reader.chat(QStringLiteral("can I?"));
            QTRY_VERIFY(reader.lastError() && reader.lastError()->client_op_id() == id);
            QCOMPARE(reader.lastError()->code(), pb::STORAGE_UNAVAILABLE);
        }
        qInfo("a newcomer while storage is down got %s identity",
              reader.resumeToken.empty() ? "a session-only" : "a stored");

        // Storage returns: the client resends the refused ops (same ids) and they land once.
        QVERIFY(q.exec(restore));
        QVERIFY2(m_server->storage().execOnCommitConnection(restore, &commitError), qPrintable(commitError));
        a.sendOp(lost);
        a.sendOp(stroke);
        QTRY_VERIFY(a.acked(lost.client_op_id()) && a.acked(stroke.client_op_id()));
        QTRY_COMPARE(b.ops().size(), size_t(3));
        QCOMPARE(m_server->headSeq(QStringLiteral("disk")), std::uint64_t(3));
        QVERIFY(m_server->storageHealthy());
        QCOMPARE(healthStatus(), QStringLiteral("ok"));
        QCOMPARE(b.model.snapshot().SerializeAsString(), a.model.snapshot().SerializeAsString());
        const auto stored = storedOps(m_dir->path(), QStringLiteral("disk"));
        QCOMPARE(stored.size(), size_t(3));
    }
};

QTEST_GUILESS_MAIN(TstFaults)
#include "tst_faults.moc"
