// Overload and the server's own WebSocket (issue 15 items 1 and 2; server/wsconnection.h):
// - under a flood the server stops reading while its output backlog is over its bound, so the
//   backlog stays bounded and every op still reaches every reading member once, in order;
// - the slow-reader cut counts only what a peer failed to read: a member that keeps reading
//   survives the flood that cuts one that stopped reading;
// - the upgrade handshake refuses what it cannot serve, saying why; fragmented messages, pings
//   between fragments, and a peer's close are handled as RFC 6455 says.

#include "core/limits.h"
#include "server/wallserver.h"
#include "server/wsconnection.h"
#include "tests/support/rawwsclient.h"

#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace scrawl;
using scrawl::test::RawWsClient;
using scrawl::test::wsFrame;

namespace {

const QString kWall = QStringLiteral("flood");

pb::Envelope chatEnvelope(std::uint64_t clientOpId, const QString &text)
{
    pb::Envelope env;
    pb::Op *op = env.mutable_op();
    op->set_client_op_id(clientOpId);
    op->mutable_chat()->set_text(toWire(text));
    return env;
}

// What a client sends to upgrade, with `extra` header lines (each ending in \r\n).
QByteArray upgradeRequest(const QByteArray &method, const QByteArray &version)
{
    return method + " / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " + version
         + "\r\n\r\n";
}

// Sends `request` on a new connection and returns what comes back until the server closes.
QByteArray exchange(quint16 port, const QByteArray &request)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return {};
    socket.write(request);
    QByteArray answer;
    RawWsClient::waitFor([&] {
        answer += socket.readAll();
        return socket.state() != QAbstractSocket::ConnectedState
            || (answer.contains("\r\n\r\n") && answer.contains("}"));
    });
    return answer;
}

} // namespace

class TstOverload : public QObject
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
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    std::unique_ptr<RawWsClient> member(const QString &name)
    {
        auto c = std::make_unique<RawWsClient>();
        if (!c->upgrade(m_server->port()) || !c->hello(name) || !c->join(kWall))
            return nullptr;
        return c;
    }

private slots:
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
    }

    // Three publishers each write 4,000 chats of 4,000 characters at once (48 MB for every
    // member): far more than the server can pass on as fast as it comes. Reading pauses while
    // the backlog is over its bound, the member that reads gets every op once and in order and
    // is never cut, and the one that stopped reading is cut when *it* is 16 MB behind.
    // A connection's queue of frames (a ring reusing its slots): oldest first through wraps and
    // growth while wrapped, each frame let go as it is sent.
    void frameQueueKeepsOrderAndLetsFramesGo()
    {
        FrameQueue q;
        int pushed = 0, popped = 0;
        for (int round = 0; round < 60; ++round) {
            for (int i = 0; i < round * 7 % 40 + 1; ++i)
                q.push(QByteArray::number(pushed++));
            for (int i = 0; i < round * 5 % 33 && !q.empty(); ++i) {
                QCOMPARE(q.front(), QByteArray::number(popped++));
                q.pop();
            }
            QCOMPARE(q.size(), size_t(pushed - popped));
            for (size_t i = 0; i < q.size(); ++i)
                QCOMPARE(q.at(i), QByteArray::number(popped + int(i)));
        }
        while (!q.empty()) {
            QCOMPARE(q.front(), QByteArray::number(popped++));
            q.pop();
        }
        QCOMPARE(popped, pushed);
        QVERIFY(pushed > 1000);

        const QByteArray frame(100, 'x');
        q.push(frame);
        QVERIFY(!frame.isDetached()); // shared with the queue, not copied
        q.pop();
        QVERIFY(frame.isDetached());
        q.push(frame);
        q.clear();
        QVERIFY(q.empty() && frame.isDetached());
    }

    void readerSurvivesTheFloodThatCutsANonReader()
    {
        auto reader = member(QStringLiteral("Reader"));
        auto sleeper = member(QStringLiteral("Sleeper"));
        QVERIFY(reader && sleeper);
        sleeper->socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
        sleeper->stopReading();
        std::vector<std::unique_ptr<RawWsClient>> publishers;
        for (int i = 0; i < 3; ++i) {
            publishers.push_back(member(QStringLiteral("Pub %1").arg(i)));
            QVERIFY(publishers.back());
        }
        const int perPublisher = 4000; // within kOpsBurst: the op rate limit is not what acts here
        static_assert(perPublisher <= limits::kOpsBurst);
        const QString text(limits::kMaxChatChars, QLatin1Char('x'));
        const std::uint64_t head = m_server->headSeq(kWall);
        for (auto &p : publishers) {
            QByteArray all;
            for (int i = 1; i <= perPublisher; ++i)
                all += wsFrame(0x2, serialize(chatEnvelope(std::uint64_t(i), text)));
            p->sendRaw(all); // Qt writes it as fast as the server reads it
        }

        WsHub *hub = m_server->wsHub();
        qint64 maxQueued = 0;
        QTimer sample;
        connect(&sample, &QTimer::timeout, this, [&] { maxQueued = std::max(maxQueued, hub->queuedBytes()); });
        sample.start(1);
        const size_t total = size_t(perPublisher) * publishers.size();
        auto ops = [](const RawWsClient &c) { return c.count(pb::Envelope::kOp); };
        QVERIFY2(RawWsClient::waitFor([&] { return ops(*reader) >= total || reader->closed(); }, 120000),
                 qPrintable(QStringLiteral("the reader got %1 of %2 ops").arg(ops(*reader)).arg(total)));
        sample.stop();

        // The reader: never cut, every op once, in sequence order, nothing refused.
        QVERIFY2(!reader->closed(), qPrintable(QStringLiteral("the reader was cut: %1 %2")
                                                   .arg(reader->closeCode)
                                                   .arg(reader->closeReason)));
        QCOMPARE(reader->lastError(), nullptr);
        std::uint64_t expect = head + 1;
        for (const pb::Envelope &env : reader->received) {
            if (env.has_op())
                QCOMPARE(env.op().seq(), expect++);
        }
        QCOMPARE(expect, head + 1 + total);
        for (auto &p : publishers)
            QVERIFY(RawWsClient::waitFor([&] { return ops(*p) >= total; }, 30000));

        // The sleeper: cut (its session left the wall), for what it did not read.
        QTRY_COMPARE_WITH_TIMEOUT(m_server->loadedRoom(kWall)->members.size(), size_t(4), 10000);
        QCOMPARE(m_server->sessionCount(), 4);
        // What the server queued: what waited for the sleeper until it was cut, and little more.
        const qint64 bound = limits::kSlowReaderDisconnectBytes + 4 * 1024 * 1024;
        QVERIFY2(maxQueued <= bound, qPrintable(QStringLiteral("the server queued up to %1 MB "
                                                               "(bound %2 MB)")
                                                    .arg(maxQueued / 1e6)
                                                    .arg(bound / 1e6)));
        qInfo("queued at most %.1f MB", maxQueued / 1e6);
        QTRY_COMPARE(hub->queuedBytes(), qint64(0));
    }

    // Most of the room reads slower than the flood comes (40 members reading 32 KiB every 5 ms,
    // 6.5 MB/s each; 2 publishers write 32 MB for each at once). The server stops reading while
    // they are behind, so that the flood waits in the publishers' buffers: nobody is cut (each
    // would be 16 MB behind without it), every op reaches every member once and in order, and
    // the server's queue stays bounded.
    void aRoomThatFallsBehindSlowsThePublishers()
    {
        std::vector<std::unique_ptr<RawWsClient>> readers;
        for (int i = 0; i < 40; ++i) {
            readers.push_back(member(QStringLiteral("Slow %1").arg(i)));
            QVERIFY(readers.back());
            readers.back()->socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
            readers.back()->throttleReading(32 * 1024, 5);
        }
        std::vector<std::unique_ptr<RawWsClient>> publishers;
        for (int i = 0; i < 2; ++i) {
            publishers.push_back(member(QStringLiteral("Pub %1").arg(i)));
            QVERIFY(publishers.back());
        }
        const int perPublisher = 4000;
        const QString text(limits::kMaxChatChars, QLatin1Char('z'));
        const std::uint64_t head = m_server->headSeq(kWall);
        for (auto &p : publishers) {
            QByteArray all;
            for (int i = 1; i <= perPublisher; ++i)
                all += wsFrame(0x2, serialize(chatEnvelope(std::uint64_t(i), text)));
            p->sendRaw(all);
        }
        WsHub *hub = m_server->wsHub();
        const quint64 pausesBefore = hub->pauseCount();
        qint64 maxQueued = 0;
        QTimer sample;
        connect(&sample, &QTimer::timeout, this, [&] { maxQueued = std::max(maxQueued, hub->queuedBytes()); });
        sample.start(1);
        const size_t total = size_t(perPublisher) * publishers.size();
        auto done = [&] {
            for (auto &r : readers) {
                if (r->count(pb::Envelope::kOp) < total && !r->closed())
                    return false;
            }
            return true;
        };
        QVERIFY(RawWsClient::waitFor(done, 180000));
        sample.stop();
        for (auto &r : readers) {
            QVERIFY2(!r->closed(), qPrintable(QStringLiteral("a reader was cut: %1 %2")
                                                  .arg(r->closeCode)
                                                  .arg(r->closeReason)));
            std::uint64_t expect = head + 1;
            for (const pb::Envelope &env : r->received) {
                if (env.has_op())
                    QCOMPARE(env.op().seq(), expect++);
            }
            QCOMPARE(expect, head + 1 + total);
        }
        QVERIFY(hub->pauseCount() > pausesBefore);
        // Reading pauses once the readers are together pauseAboveBytes() behind (counting up to
        // peerShareBytes each); what a pass adds before it stops, and what each reader had taken
        // into its socket's buffers, come on top.
        const qint64 bound = 40 * 2 * 1024 * 1024;
        QVERIFY2(maxQueued <= bound, qPrintable(QStringLiteral("the server queued up to %1 MB "
                                                               "(bound %2 MB)")
                                                    .arg(maxQueued / 1e6)
                                                    .arg(bound / 1e6)));
        qInfo("queued at most %.1f MB for 40 readers (%.0f KB each); reading paused %llu times, "
              "%lld ms in all", maxQueued / 1e6, maxQueued / 40 / 1e3,
              qulonglong(hub->pauseCount() - pausesBefore), qlonglong(hub->pausedMs()));
        QTRY_COMPARE(hub->queuedBytes(), qint64(0));
        QVERIFY(!hub->readingPaused());
    }

    // A member that stopped reading holds up nobody: it counts for at most kOutputPeerShareBytes
    // in the backlog that pauses reading, and for nothing once its output has waited
    // kOutputStallMs.
    void aStalledPeerDoesNotPauseTheServer()
    {
        auto reader = member(QStringLiteral("Reader"));
        auto sleeper = member(QStringLiteral("Sleeper"));
        auto publisher = member(QStringLiteral("Pub"));
        QVERIFY(reader && sleeper && publisher);
        sleeper->socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
        sleeper->stopReading();
        // ~14 MB for the sleeper (a few of them in the kernel's buffers): over the pause bound,
        // under the cut.
        const QString text(limits::kMaxChatChars, QLatin1Char('y'));
        const int n = 3500;
        QByteArray all;
        for (int i = 1; i <= n; ++i)
            all += wsFrame(0x2, serialize(chatEnvelope(std::uint64_t(i), text)));
        publisher->sendRaw(all);
        QVERIFY(RawWsClient::waitFor([&] { return reader->count(pb::Envelope::kOp) >= size_t(n); }, 60000));
        WsHub *hub = m_server->wsHub();
        QTRY_VERIFY_WITH_TIMEOUT(hub->queuedBytes() > limits::kOutputBacklogPauseBytes, 5000);
        QVERIFY(hub->backlogBytes() <= limits::kOutputPeerShareBytes);
        // The sleeper's backlog is its own: reading goes on, and a new op goes through at once.
        QTRY_VERIFY_WITH_TIMEOUT(!hub->readingPaused(), limits::kOutputStallMs * 4);
        publisher->sendEnvelope(chatEnvelope(n + 1, QStringLiteral("still here")));
        QVERIFY(RawWsClient::waitFor([&] { return reader->count(pb::Envelope::kOp) >= size_t(n + 1); }, 2000));
        QCOMPARE(m_server->sessionCount(), 3); // not cut: under max_send_buffer_bytes
    }

    void upgradeRefusalsSayWhy()
    {
        const QByteArray oldVersion = exchange(m_server->port(), upgradeRequest("GET", "8"));
        QVERIFY2(oldVersion.startsWith("HTTP/1.1 426"), oldVersion.constData());
        QVERIFY(oldVersion.contains("Sec-WebSocket-Version: 13"));
        QVERIFY(oldVersion.contains("version 13 only"));
        const QByteArray post = exchange(m_server->port(), upgradeRequest("POST", "13"));
        QVERIFY2(post.startsWith("HTTP/1.1 405"), post.constData());
        QVERIFY(post.contains("must be a GET request"));
        // An upgrade after an HTTP request on the same connection.
        const QByteArray second = exchange(m_server->port(),
                                           "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                               + upgradeRequest("GET", "13"));
        QVERIFY2(second.contains("must be the first request on its connection"), second.constData());
        // The server still upgrades a proper request.
        auto ok = member(QStringLiteral("Fine"));
        QVERIFY(ok);
    }

    // A Hello in three fragments with a ping between them; the pong comes back, then the
    // Welcome. Then the peer's close is answered with its code.
    void fragmentsPingsAndClose()
    {
        RawWsClient c;
        QVERIFY(c.upgrade(m_server->port()));
        pb::Envelope env;
        env.mutable_hello()->set_protocol_version(kProtocolVersion);
        env.mutable_hello()->set_display_name(toWire(QStringLiteral("Fragmented")));
        const QByteArray hello = serialize(env);
        const qsizetype third = hello.size() / 3;
        c.sendFrame(0x2, hello.left(third), false);
        c.sendFrame(0x9, "are you there", true);
        c.sendFrame(0x0, hello.mid(third, third), false);
        c.sendFrame(0x0, hello.mid(2 * third), true);
        QVERIFY(RawWsClient::waitFor([&] { return c.count(pb::Envelope::kWelcome) == 1; }));
        QCOMPARE(c.pongs, 1);
        QByteArray code(2, '\0');
        code[0] = char(1000 >> 8);
        code[1] = char(1000 & 0xff);
        c.sendFrame(0x8, code + "bye");
        QVERIFY(RawWsClient::waitFor([&] { return c.closeCode >= 0; }));
        QCOMPARE(c.closeCode, 1000);
        QTRY_COMPARE(m_server->sessionCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TstOverload)
#include "tst_overload.moc"
