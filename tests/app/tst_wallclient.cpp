// WallClient against a real in-process WallServer on 127.0.0.1, port 0, temporary data dir:
// join, live ops between two clients, reconnect after a server restart with the outbox drained
// exactly once, resume with only the missed ops, lost acknowledgements, a dead link, version
// mismatch and wrong address messages, undo/redo, notes, erase, chat history paging.

#include "app/wallclient.h"
#include "core/limits.h"
#include "linkproxy.h"
#include "server/wallserver.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>
#include <memory>

using namespace scrawl;

class TestWallClient : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    quint16 m_port = 0;

    bool startServer(quint16 port = 0)
    {
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = port;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            return false;
        }
        m_port = m_server->port();
        return true;
    }

    QString address(quint16 port = 0) const
    {
        return QStringLiteral("127.0.0.1:%1").arg(port ? port : m_port);
    }

    std::unique_ptr<WallClient> makeClient(const QString &name)
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->setColor(QColor(0x20, 0x80, 0xc0));
        c->setBackoff(50, 400);
        return c;
    }

    static void drawStroke(WallClient &c, QPointF from, int points)
    {
        std::uint32_t id = c.beginStroke(from, Qt::red, 3);
        QVERIFY(id != 0);
        for (int i = 1; i < points; ++i)
            id = c.extendStroke(id, from + QPointF(i * 2.0, i % 7));
        c.endStroke(id);
    }

    static int visibleStrokes(const WallModel &m)
    {
        return int(std::count_if(m.strokes().begin(), m.strokes().end(),
                                 [](const WallModel::Stroke &s) { return s.visible(); }));
    }

    // Calls step(0), step(1), ... every `ms` from a timer (a hand moving the mouse) until it
    // returns false, and waits for that: clients and server run in between, as they would. In a
    // real event loop: QTest::qWaitFor sleeps 10 ms between polls, longer than these steps.
    static bool paced(int ms, const std::function<bool(int)> &step)
    {
        QEventLoop loop;
        QTimer timer;
        timer.setTimerType(Qt::PreciseTimer);
        int i = 0;
        bool done = false;
        QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
            if (!step(i++)) {
                timer.stop();
                done = true;
                loop.quit();
            }
        });
        QTimer::singleShot(10000, &loop, &QEventLoop::quit); // a step that never ends: fail
        timer.start(ms);
        loop.exec();
        return done;
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        QVERIFY(startServer());
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void joinsAndSeesEachOther()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QVERIFY(a->userId() != 0);
        QCOMPARE(a->members()->rowCount(), 1);

        auto b = makeClient(QStringLiteral("Bob"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QTRY_COMPARE(a->members()->rowCount(), 2);
        QCOMPARE(b->members()->rowCount(), 2);
        QVERIFY(a->userId() != b->userId());

        // Cursors: ephemeral, relayed to the others.
        a->sendCursor(10, 20);
        QTRY_VERIFY(b->members()->find(a->userId()) && b->members()->find(a->userId())->hasCursor);
        QCOMPARE(b->members()->find(a->userId())->cursor, QPointF(10, 20));

        b.reset();
        QTRY_COMPARE(a->members()->rowCount(), 1);
    }

    void strokesAndChatFlowLive()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);

        // While the pen moves, the other side sees the stroke grow before it ends.
        std::uint32_t id = a->beginStroke(QPointF(0, 0), Qt::blue, 4);
        for (int i = 1; i <= 10; ++i)
            id = a->extendStroke(id, QPointF(i * 3, i));
        const std::uint64_t key = objectKey(a->userId(), id);
        QTRY_VERIFY(b->model().stroke(key) && b->model().stroke(key)->points.size() == 11);
        QVERIFY(!b->model().stroke(key)->closed);
        QVERIFY(!a->localStrokes().empty());
        a->endStroke(id);
        QTRY_VERIFY(b->model().stroke(key)->closed);
        QTRY_COMPARE(a->pendingCount(), 0);
        QVERIFY(a->localStrokes().empty()); // acknowledged: drawn from the model now
        QCOMPARE(a->model().stroke(key)->points, b->model().stroke(key)->points);

        QVERIFY(a->sendChat(QStringLiteral("hello Bob")));
        QCOMPARE(a->chat()->rowCount(), 1);
        QTRY_COMPARE(b->chat()->rowCount(), 1);
        QCOMPARE(b->chat()->data(b->chat()->index(0), ChatModel::AuthorRole).toString(),
                 QStringLiteral("Ann"));
        QCOMPARE(b->chat()->data(b->chat()->index(0), ChatModel::TextRole).toString(),
                 QStringLiteral("hello Bob"));
        QTRY_VERIFY(!a->chat()->data(a->chat()->index(0), ChatModel::PendingRole).toBool());
        QCOMPARE(a->chat()->rowCount(), 1);
    }

    void strokePointsFollowTheirAcknowledgements()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QSignalSpy committed(m_server.get(), &WallServer::opCommitted);

        // Bob's view of the stroke after each op he applies.
        std::vector<size_t> seen;
        connect(b.get(), &WallClient::wallChanged, this, [&](const WallModel::Change &change) {
            for (const std::uint64_t key : change.strokes)
                seen.push_back(b->model().stroke(key)->points.size());
        });
        // The begin goes at once; what is drawn while it is in flight waits for its
        // acknowledgement and then goes together, however many points that is.
        std::uint32_t id = a->beginStroke(QPointF(0, 0), Qt::blue, 4);
        for (int i = 1; i <= 25; ++i)
            id = a->extendStroke(id, QPointF(i * 3, i % 5));
        const std::uint64_t key = objectKey(a->userId(), id);
        QTRY_COMPARE(seen.size(), size_t(2));
        QCOMPARE(seen, (std::vector<size_t>{1, 26}));
        QCOMPARE(committed.count(), 2);

        // Acknowledged, and a frame after the last batch: the next point goes at once, and
        // those drawn behind it wait for its acknowledgement.
        QTRY_COMPARE(a->model().stroke(key)->points.size(), size_t(26));
        QElapsedTimer sinceAck;
        sinceAck.start();
        QTRY_VERIFY(sinceAck.elapsed() > kStrokeFrameMs);
        id = a->extendStroke(id, QPointF(100, 0));
        for (int i = 1; i <= 5; ++i)
            id = a->extendStroke(id, QPointF(100 + i * 3, 0));
        QTRY_COMPARE(seen.size(), size_t(4));
        QCOMPARE(seen, (std::vector<size_t>{1, 26, 27, 32}));
        QVERIFY(!b->model().stroke(key)->closed);
        a->endStroke(id);
        QTRY_VERIFY(b->model().stroke(key)->closed);
        QCOMPARE(committed.count(), 5);

        // A short stroke is two messages: its points ride in the end.
        committed.clear();
        id = a->beginStroke(QPointF(0, 50), Qt::blue, 4);
        const int extra = 6;
        for (int i = 1; i <= extra; ++i)
            id = a->extendStroke(id, QPointF(i * 3, 50));
        a->endStroke(id);
        const std::uint64_t shortKey = objectKey(a->userId(), id);
        QTRY_VERIFY(b->model().stroke(shortKey) && b->model().stroke(shortKey)->closed);
        QCOMPARE(b->model().stroke(shortKey)->points.size(), size_t(extra + 1));
        QTRY_COMPARE(a->pendingCount(), 0);
        QCOMPARE(committed.count(), 2);
        QCOMPARE(a->model().stroke(shortKey)->points, b->model().stroke(shortKey)->points);
    }

    void strokePointsGoAtTheCapWhenNoAcknowledgementComes()
    {
        test::LinkProxy proxy(m_port);
        QVERIFY(proxy.listen());
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(proxy.port()), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);

        // Ann's acknowledgements never reach her: her points wait for the begin's, then go
        // anyway after limits::kStrokeAckWaitCapMs, so that Bob still sees the ink.
        proxy.setSwallowDownstream(true);
        std::uint32_t id = a->beginStroke(QPointF(0, 0), Qt::blue, 4);
        QElapsedTimer waited;
        waited.start();
        for (int i = 1; i <= 3; ++i)
            id = a->extendStroke(id, QPointF(i * 3, 0));
        const std::uint64_t key = objectKey(a->userId(), id);
        QTRY_VERIFY(b->model().stroke(key) && b->model().stroke(key)->points.size() == 4);
        QVERIFY2(waited.elapsed() >= limits::kStrokeAckWaitCapMs * 9 / 10,
                 qPrintable(QString::number(waited.elapsed())));
        a->endStroke(id);
        QTRY_VERIFY(b->model().stroke(key)->closed);
        proxy.setSwallowDownstream(false);
    }

    void undoRedoNotesErase()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        // Ann creates the wall, so she owns it (clear needs the moderator role).
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);

        drawStroke(*a, QPointF(0, 0), 5);
        QTRY_COMPARE(visibleStrokes(b->model()), 1);
        QVERIFY(a->canUndo());
        a->undo();
        QTRY_COMPARE(visibleStrokes(b->model()), 0);
        QVERIFY(a->canRedo());
        a->redo();
        QTRY_COMPARE(visibleStrokes(b->model()), 1);

        // On a protected wall Bob may not erase Ann's stroke (a member touches only their own
        // work there): asked anyway (the canvas would not offer it), it hides at once, the
        // server refuses, it comes back.
        a->setWallProtected(true);
        QTRY_VERIFY(b->protectedWork());
        const std::uint64_t key = b->model().strokes().front().key;
        QVERIFY(!b->mayChange(key));
        b->erase({key});
        QVERIFY(b->isHiddenLocally(key)); // at once, before the server answers
        QTRY_COMPARE(b->pendingCount(), 0);
        QVERIFY(!b->isHiddenLocally(key));
        QCOMPARE(visibleStrokes(b->model()), 1);
        QVERIFY(b->notice().contains(QLatin1String("moderator")) || b->errorText().contains(QLatin1String("moderator")));
        // Ann erases it; everyone sees it go.
        a->erase({key});
        QVERIFY(a->isHiddenLocally(key));
        QTRY_COMPARE(visibleStrokes(b->model()), 0);
        QTRY_COMPARE(a->pendingCount(), 0);
        QVERIFY(!a->isHiddenLocally(key));

        const QString note = a->addNote(100, 50, QStringLiteral("first"));
        QVERIFY(!note.isEmpty());
        QCOMPARE(a->notes()->rowCount(), 1); // shown before the acknowledgement
        QTRY_COMPARE(b->notes()->rowCount(), 1);
        a->editNote(note, QStringLiteral("edited"));
        a->moveNote(note, 300, 200);
        QTRY_COMPARE(b->notes()->data(b->notes()->index(0), NotesModel::TextRole).toString(),
                     QStringLiteral("edited"));
        QTRY_COMPARE(b->notes()->data(b->notes()->index(0), NotesModel::XRole).toDouble(), 300.0);
        a->undo(); // the move
        QTRY_COMPARE(b->notes()->data(b->notes()->index(0), NotesModel::XRole).toDouble(), 100.0);
        a->deleteNote(note);
        QTRY_COMPARE(b->notes()->rowCount(), 0);

        a->clearWall();
        QTRY_COMPARE(b->model().strokes().size(), size_t(0));
        // Said to everyone, by name: nobody's work vanishes without a word (issue 17 §2).
        QTRY_COMPARE(b->notice(), QStringLiteral("Ann cleared the wall."));
        QTRY_COMPARE(a->notice(), QStringLiteral("You cleared the wall for everyone."));
    }

    // A change on its way (acknowledged within a round trip) leaves the status alone: a badge
    // that grew with every stroke made the toolbar wrap and the wall jump. A change that has
    // waited a second is shown.
    void statusShowsOnlySlowSending()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        QSignalSpy status(a.get(), &WallClient::statusChanged);
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QVERIFY(a->sendChat(QStringLiteral("quick")));
        QCOMPARE(a->pendingCount(), 1);
        QCOMPARE(a->statusText(), QStringLiteral("Connected"));
        QVERIFY(!a->sendingSlowly());
        QTRY_COMPARE(a->pendingCount(), 0);
        QCOMPARE(a->statusText(), QStringLiteral("Connected"));

        // More than the client's own rate lets out at once: the last go out over a second later.
        const int n = int(limits::kOpsBurst / 2 + limits::kMaxOpsPerSecond * 0.8 * 1.5);
        for (int i = 0; i < n; ++i)
            QVERIFY(a->sendChat(QStringLiteral("m%1").arg(i)));
        QCOMPARE(a->statusText(), QStringLiteral("Connected"));
        status.clear();
        QTRY_VERIFY_WITH_TIMEOUT(a->sendingSlowly(), 5000);
        QVERIFY(!status.isEmpty());
        QVERIFY2(a->statusText().startsWith(QStringLiteral("Connected · sending ")), qPrintable(a->statusText()));
        QTRY_COMPARE_WITH_TIMEOUT(a->pendingCount(), 0, 15000);
        QVERIFY(!a->sendingSlowly());
        QCOMPARE(a->statusText(), QStringLiteral("Connected"));
    }

    void reconnectsAfterServerRestartAndDrainsOutboxOnce()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        const std::uint64_t userA = a->userId();
        drawStroke(*a, QPointF(0, 0), 20);
        QTRY_COMPARE(a->pendingCount(), 0);

        const quint16 port = m_port;
        m_server->stop();
        QTRY_COMPARE(a->state(), WallClient::Reconnecting);
        QVERIFY(!a->errorText().isEmpty());
        QVERIFY(a->statusText().contains(QLatin1String("reconnecting in")));

        // Offline: drawing and chatting go on, into the outbox.
        drawStroke(*a, QPointF(0, 100), 30);
        QVERIFY(a->sendChat(QStringLiteral("written offline")));
        // One stroke (many point batches) and one message: two changes for the person.
        QCOMPARE(a->pendingCount(), 2);
        QVERIFY2(a->statusText().endsWith(QStringLiteral(" · 2 changes waiting")), qPrintable(a->statusText()));
        // Nobody is shown as here while offline.
        QCOMPARE(a->members()->rowCount(), 0);

        QVERIFY(startServer(port));
        QTRY_COMPARE_WITH_TIMEOUT(a->state(), WallClient::Connected, 10000);
        QCOMPARE(a->userId(), userA); // resumed
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(b->state(), WallClient::Connected, 10000);
        QTRY_COMPARE(visibleStrokes(b->model()), 2);
        QTRY_COMPARE(b->chat()->rowCount(), 1);
        QCOMPARE(b->model().seq(), a->model().seq());
        QCOMPARE(m_server->headSeq(QStringLiteral("w")), a->model().seq());
        QCOMPARE(a->chat()->rowCount(), 1);
        QVERIFY(a->errorText().isEmpty());
    }

    void lostAcknowledgementsAreNotDoubled()
    {
        test::LinkProxy proxy(m_port);
        QVERIFY(proxy.listen());
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address(proxy.port()), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);

        // The server stores these but its answers never reach the client.
        proxy.setSwallowDownstream(true);
        QSignalSpy committed(m_server.get(), &WallServer::opCommitted);
        drawStroke(*a, QPointF(5, 5), 10);
        QVERIFY(a->sendChat(QStringLiteral("once")));
        QTRY_VERIFY(committed.count() >= 3); // begin, end with the points, chat
        const std::uint64_t head = m_server->headSeq(QStringLiteral("w"));
        QTRY_COMPARE(a->pendingCount(), 2); // a stroke and a chat message
        QCOMPARE(a->model().seq(), 0u);

        proxy.setSwallowDownstream(false);
        proxy.cutAll();
        QTRY_COMPARE_WITH_TIMEOUT(a->state(), WallClient::Connected, 10000);
        QTRY_COMPARE(a->pendingCount(), 0);
        // Sent twice, stored once.
        QCOMPARE(m_server->headSeq(QStringLiteral("w")), head);
        QCOMPARE(a->model().seq(), head);
        QCOMPARE(visibleStrokes(a->model()), 1);
        QCOMPARE(a->chat()->rowCount(), 1);
        QVERIFY(a->localStrokes().empty());
    }

    void resumeGetsOnlyMissedOps()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        // Enough on the wall that a snapshot would weigh more than three chat messages.
        drawStroke(*a, QPointF(0, 0), 400);
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(b->model().seq(), a->model().seq());
        const std::uint64_t seen = b->model().seq();

        b->disconnectFromWall();
        QCOMPARE(b->state(), WallClient::Idle);
        for (int i = 0; i < 3; ++i)
            QVERIFY(a->sendChat(QStringLiteral("missed %1").arg(i)));
        QTRY_COMPARE(a->pendingCount(), 0);

        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QCOMPARE(b->lastJoin().lastSeqSent, seen);
        QVERIFY(!b->lastJoin().snapshot);
        QCOMPARE(b->lastJoin().ops, 3);
        QCOMPARE(b->model().seq(), a->model().seq());
        QCOMPARE(b->chat()->rowCount(), 3);
    }

    void deadLinkIsNoticed()
    {
        test::LinkProxy proxy(m_port);
        QVERIFY(proxy.listen());
        auto a = makeClient(QStringLiteral("Ann"));
        a->setPingInterval(200);
        a->setDeadAfter(1000);
        a->connectToWall(address(proxy.port()), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        proxy.setSwallowDownstream(true); // no pongs, nothing
        QTRY_VERIFY_WITH_TIMEOUT(a->state() != WallClient::Connected, 5000);
        QVERIFY(a->errorText().contains(QLatin1String("Nothing heard")));
        proxy.setSwallowDownstream(false);
        QTRY_COMPARE_WITH_TIMEOUT(a->state(), WallClient::Connected, 10000);
    }

    void versionMismatchIsExplained()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        a->setProtocolVersion(kProtocolVersion + 1);
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Failed);
        QVERIFY2(a->errorText().contains(QLatin1String("protocol")), qPrintable(a->errorText()));
        QVERIFY(a->errorText().contains(QString::number(kProtocolVersion + 1)));
    }

    void wrongAddressIsExplained_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<bool>("retries");
        QTest::newRow("nothing listening") << QStringLiteral("127.0.0.1:1") << QStringLiteral("Nothing answers") << true;
        QTest::newRow("garbage") << QStringLiteral("ws://") << QStringLiteral("not an address") << false;
        QTest::newRow("empty") << QString() << QStringLiteral("Enter the address") << false;
    }
    void wrongAddressIsExplained()
    {
        QFETCH(QString, address);
        QFETCH(QString, expected);
        QFETCH(bool, retries);
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address, QStringLiteral("w"));
        QTRY_VERIFY2(a->errorText().contains(expected), qPrintable(a->errorText()));
        QTRY_COMPARE(a->state(), retries ? WallClient::Reconnecting : WallClient::Failed);
    }

    void normalizesAddresses_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        QTest::newRow("host") << "example.org" << "ws://example.org:7777/";
        QTest::newRow("host:port") << "10.0.0.2:9000" << "ws://10.0.0.2:9000/";
        QTest::newRow("url") << "ws://10.0.0.2:9000/x" << "ws://10.0.0.2:9000/x";
        QTest::newRow("http") << " http://h:1 " << "ws://h:1/";
    }
    void normalizesAddresses()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        QString error;
        QCOMPARE(WallClient::normalizeAddress(in, &error).toString(), out);
    }

    void chatHistoryPages()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        for (int i = 0; i < 120; ++i)
            QVERIFY(a->sendChat(QStringLiteral("m%1").arg(i)));
        QTRY_COMPARE(a->pendingCount(), 0);

        auto b = makeClient(QStringLiteral("Bob"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QCOMPARE(b->chat()->rowCount(), 50);
        QVERIFY(b->chat()->hasMore());
        b->fetchOlderChat();
        QTRY_COMPARE(b->chat()->rowCount(), 100);
        b->fetchOlderChat();
        QTRY_COMPARE(b->chat()->rowCount(), 120);
        QTRY_VERIFY(!b->chat()->hasMore());
        QCOMPARE(b->chat()->data(b->chat()->index(0), ChatModel::TextRole).toString(),
                 QStringLiteral("m0"));
        QCOMPARE(b->chat()->data(b->chat()->index(119), ChatModel::TextRole).toString(),
                 QStringLiteral("m119"));
    }

    void backoffDelays_data()
    {
        QTest::addColumn<int>("attempt");
        QTest::addColumn<double>("random");
        QTest::addColumn<int>("expected");
        // first 500 ms, cap 10 s, ±25 % jitter clamped into [500, 10000]
        QTest::newRow("first, low jitter") << 0 << 0.0 << 500;   // 375 clamped up
        QTest::newRow("first, mid") << 0 << 0.5 << 500;
        QTest::newRow("first, high jitter") << 0 << 0.999999 << 624;
        QTest::newRow("second, mid") << 1 << 0.5 << 1000;
        QTest::newRow("third, low") << 2 << 0.0 << 1500;
        QTest::newRow("fifth, mid") << 4 << 0.5 << 8000;
        QTest::newRow("sixth, mid: capped") << 5 << 0.5 << 10000;
        QTest::newRow("sixth, low: spread below the cap") << 5 << 0.0 << 7500;
        QTest::newRow("huge attempt") << 1000 << 0.2 << 8500;
        QTest::newRow("negative attempt") << -3 << 0.5 << 500;
    }
    void backoffDelays()
    {
        QFETCH(int, attempt);
        QFETCH(double, random);
        QFETCH(int, expected);
        QCOMPARE(WallClient::reconnectDelayMs(attempt, 500, 10000, random), expected);
    }

    void backoffGrowsWhileNothingAnswers()
    {
        // A real client against a port nothing listens on: each failed attempt waits longer, up
        // to the cap, with the countdown in the status text.
        auto a = makeClient(QStringLiteral("Ann"));
        a->setBackoff(40, 320);
        m_server.reset(); // the port is free now
        a->connectToWall(address(), QStringLiteral("w"));
        std::vector<int> delays;
        connect(a.get(), &WallClient::stateChanged, this, [&] {
            if (a->state() == WallClient::Reconnecting)
                delays.push_back(a->lastReconnectDelayMs());
        });
        QTRY_VERIFY_WITH_TIMEOUT(delays.size() >= 6, 8000);
                for (size_t i = 0; i < delays.size(); ++i) {
            const int expectedBase = std::min(320, 40 << std::min<int>(int(i), 10));
            QVERIFY2(delays[i] >= std::max(40, int(expectedBase * 0.75)) && delays[i] <= std::min(320, int(expectedBase * 1.25) + 1),
                     qPrintable(QStringLiteral("attempt %1 waited %2 ms").arg(i).arg(delays[i])));
        }
        QVERIFY(a->statusText().contains(QLatin1String("reconnecting in")));
        QVERIFY(a->errorText().contains(QLatin1String("Nothing answers")));
    }

    void serverGoneIsExplainedAndCountsDown()
    {
        // The link drops without a goodbye (server killed, network gone): through a relay that
        // cuts every connection and from then on leads nowhere.
        test::LinkProxy proxy(m_port);
        QVERIFY(proxy.listen());
        auto a = makeClient(QStringLiteral("Ann"));
        a->setBackoff(3000, 10000);
        a->connectToWall(address(proxy.port()), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        proxy.setTargetPort(1);
        proxy.cutAll();
        QTRY_COMPARE(a->state(), WallClient::Reconnecting);
        QVERIFY2(a->errorText().contains(QLatin1String("went away")), qPrintable(a->errorText()));
        QVERIFY(a->reconnectSeconds() >= 3 && a->reconnectSeconds() <= 4);
        QVERIFY2(a->statusText().startsWith(QStringLiteral("Offline · reconnecting in %1 s").arg(a->reconnectSeconds())),
                 qPrintable(a->statusText()));
        // Offline changes are counted in the status.
        QVERIFY(a->sendChat(QStringLiteral("while offline")));
        QVERIFY2(a->statusText().endsWith(QStringLiteral(" · 1 change waiting")), qPrintable(a->statusText()));
        QVERIFY(a->sendChat(QStringLiteral("and again")));
        QVERIFY2(a->statusText().endsWith(QStringLiteral(" · 2 changes waiting")), qPrintable(a->statusText()));
        // The countdown goes down by itself.
        const int before = a->reconnectSeconds();
        QTRY_VERIFY_WITH_TIMEOUT(a->reconnectSeconds() < before, 2500);
    }

    void cursorUpdatesAreLimitedToAbout30PerSecond()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QTRY_COMPARE(b->members()->rowCount(), 2);
        QSignalSpy moved(b.get(), &WallClient::cursorMoved);
        // A mouse moving at ~200 Hz for one second.
        QElapsedTimer t;
        t.start();
        int sent = 0;
        QVERIFY(paced(5, [&](int) {
            if (t.elapsed() >= 1000)
                return false;
            a->sendCursor(sent, 2.0 * sent);
            ++sent;
            return true;
        }));
        const double seconds = t.elapsed() / 1000.0;
        // The last position always arrives (trailing update).
        const double last = sent - 1;
        QTRY_VERIFY(!moved.isEmpty() && moved.last().at(1).toPointF() == QPointF(last, 2 * last));
        const double rate = moved.count() / seconds;
        qInfo() << sent << "cursor moves sent," << moved.count() << "relayed in" << seconds << "s";
        QVERIFY2(sent > 100, "the test loop did not produce enough moves");
        QVERIFY2(rate <= 32.0, qPrintable(QStringLiteral("%1 cursor updates/s").arg(rate)));
        QVERIFY2(rate >= 15.0, qPrintable(QStringLiteral("%1 cursor updates/s").arg(rate)));
    }

    void noCursorIsSentWhileDrawing()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        auto b = makeClient(QStringLiteral("Bob"));
        a->connectToWall(address(), QStringLiteral("w"));
        b->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QTRY_COMPARE(b->members()->rowCount(), 2);
        QSignalSpy moved(b.get(), &WallClient::cursorMoved);
        a->sendCursor(1, 1);
        QTRY_COMPARE(moved.count(), 1);

        // The pen's moves while drawing travel as the stroke's points, not as cursor messages.
        std::uint32_t id = a->beginStroke(QPointF(0, 0), Qt::blue, 4);
        QVERIFY(a->drawing());
        // A pen moving every 5 ms: the cursor timer gets its chances to send in between.
        QVERIFY(paced(5, [&](int i) {
            if (i >= 40)
                return false;
            a->sendCursor((i + 1) * 3, 0);
            id = a->extendStroke(id, QPointF((i + 1) * 3, 0));
            return true;
        }));
        a->endStroke(id);
        QVERIFY(!a->drawing());
        QTRY_COMPARE(a->pendingCount(), 0);
        // After pen up the cursor moves again; nothing from the stroke came before it (messages
        // on one connection keep their order).
        a->sendCursor(500, 500);
        QTRY_COMPARE(moved.count(), 2);
        QCOMPARE(moved.last().at(1).toPointF(), QPointF(500, 500));
    }

    void messagePostedOverHttpAppearsInChat()
    {
        auto a = makeClient(QStringLiteral("Ann"));
        a->connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QNetworkAccessManager nam;
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/walls/w/messages").arg(m_port)));
        req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        // Posting needs the wall's API token, which Ann sees as its creator (owner).
        QVERIFY(a->isOwner());
        req.setRawHeader("Authorization", "Bearer " + a->apiToken().toLatin1());
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("author"), QStringLiteral("build-bot")},
                                                          {QStringLiteral("text"), QStringLiteral("deploy done")}})
                                    .toJson();
        std::unique_ptr<QNetworkReply> reply(nam.post(req, body));
        QTRY_VERIFY(reply->isFinished());
        QVERIFY2(reply->error() == QNetworkReply::NoError, qPrintable(reply->errorString()));
        QTRY_COMPARE(a->chat()->rowCount(), 1);
        QCOMPARE(a->chat()->data(a->chat()->index(0), ChatModel::TextRole).toString(),
                 QStringLiteral("deploy done"));
        QVERIFY(a->chat()->data(a->chat()->index(0), ChatModel::AuthorRole).toString().contains(QLatin1String("build-bot")));
    }
};

QTEST_GUILESS_MAIN(TestWallClient)
#include "tst_wallclient.moc"
