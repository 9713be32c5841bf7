// Issue 19: the wall's history as a timeline (app/timeline.h) between WallClients on a real
// in-process server, on SQLite and in a cluster on a real redis-server. Bob records the wall as
// he had it after every op; Ada's timeline, fetched in pages, shows at every seq (visited in a
// shuffled order) exactly that wall. The live wall goes on while the timeline is open; playing runs
// to the end; a state copied into a new wall is that state; a history fetched faster than the
// server's page limit allows waits and comes in whole. In a cluster whose log was trimmed the
// timeline starts from the snapshot kept for it, and says so.

#include "app/timeline.h"
#include "app/wallclient.h"
#include "core/limits.h"
#include "server/cluster.h"
#include "server/wallserver.h"
#include "tests/support/redisprocess.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <map>
#include <memory>
#include <random>

using namespace scrawl;
using scrawl::test::RedisProcess;

namespace {

// What a person sees of a wall, whatever the objects' keys: strokes, notes and shapes in order.
QStringList visibleContent(const WallModel &model)
{
    QStringList out;
    for (const auto &s : model.strokes()) {
        if (!s.visible())
            continue;
        QString line = QStringLiteral("stroke c%1 w%2:").arg(s.color).arg(double(s.width));
        for (const FixedPoint p : s.points)
            line += QStringLiteral(" %1,%2").arg(p.x).arg(p.y);
        out << line;
    }
    for (const auto &n : model.notes()) {
        if (n.visible())
            out << QStringLiteral("note (%1, %2) \"%3\"").arg(double(n.x)).arg(double(n.y)).arg(n.text);
    }
    for (const auto &sh : model.shapes()) {
        if (sh.visible())
            out << QStringLiteral("shape %1 (%2, %3) %4x%5").arg(int(sh.data.kind)).arg(double(sh.data.x))
                       .arg(double(sh.data.y)).arg(double(sh.data.width)).arg(double(sh.data.height));
    }
    return out;
}

} // namespace

class TestTimeline : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<RedisProcess> m_redis;
    std::unique_ptr<WallServer> m_server;
    const QString m_wall = QStringLiteral("past");
    // Bob's wall after every op: serialized snapshots by seq.
    std::map<std::uint64_t, QByteArray> m_seen;

    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }

    bool startServer(bool cluster)
    {
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        if (cluster) {
            m_redis = std::make_unique<RedisProcess>();
            if (!m_redis->start()) {
                qWarning() << m_redis->error();
                return false;
            }
            o.redisUrl = m_redis->url();
            // A short log and frequent snapshots: trimmed after a few dozen ops.
            o.clusterLogKeepOps = 20;
            o.snapshotEveryOps = 10;
        }
        m_server = std::make_unique<WallServer>(o);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            return false;
        }
        return !cluster || QTest::qWaitFor([&] { return m_server->cluster()->ready(); }, 10000);
    }

    std::unique_ptr<WallClient> join(const QString &name)
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->setProfile(name);
        c->connectToWall(address(), m_wall);
        if (!QTest::qWaitFor([&] { return c->state() == WallClient::Connected; }, 5000))
            return {};
        return c;
    }

    // Bob keeps the wall as he had it after each op.
    void record(WallClient *bob)
    {
        m_seen[bob->model().seq()] = bob->model().serializedSnapshot();
        connect(bob, &WallClient::opApplied, this, [this, bob](std::uint64_t seq) {
            if (bob->model().seq() == seq)
                m_seen[seq] = bob->model().serializedSnapshot();
        });
    }

    // Ada makes a wall of every kind of change: strokes, notes added, moved and edited, shapes,
    // an erase and an undo. Returns when all of it is stored.
    static bool draw(WallClient *ada, int strokes)
    {
        for (int i = 0; i < strokes; ++i) {
            const double y = 40.0 * i;
            const std::uint32_t id = ada->beginStroke({0, y}, QColor(0x22, 0x22, 0x22), 3);
            for (int p = 1; p <= 12; ++p)
                ada->extendStroke(id, {p * 15.0, y + (p % 3) * 4.0});
            ada->endStroke(id);
            if (i % 3 == 0) {
                const QString note = ada->addNote(400, y, QStringLiteral("note %1").arg(i));
                ada->moveNote(note, 420, y + 5);
                ada->editNote(note, QStringLiteral("note %1, edited").arg(i));
            }
            if (i % 4 == 1)
                ada->addShape(3, {600, y}, {700, y + 30}, QColor(0x1c, 0x7e, 0xd6), 2, Qt::transparent);
            if (i == strokes / 2)
                ada->undo(); // whatever was last, undone
            if (!QTest::qWaitFor([&] { return ada->pendingCount() == 0; }, 10000))
                return false;
        }
        const auto &all = ada->model().strokes();
        if (!all.empty())
            ada->erase({all.front().key});
        return QTest::qWaitFor([&] { return ada->pendingCount() == 0; }, 10000);
    }

    static bool open(Timeline &timeline)
    {
        timeline.show();
        return QTest::qWaitFor([&] { return timeline.ready(); }, 20000);
    }

    // Shows `seq` and checks that it is what Bob had then.
    bool showsWhatBobHad(Timeline &timeline, std::uint64_t seq)
    {
        timeline.setPosition(seq);
        if (!QTest::qWaitFor([&] { return timeline.shownSeq() == seq; }, 5000)) {
            qWarning() << "the timeline did not show seq" << seq;
            return false;
        }
        const auto it = m_seen.find(seq);
        if (it == m_seen.end() || timeline.past()->model().serializedSnapshot() != it->second) {
            qWarning() << "the wall at seq" << seq << "is not what Bob had";
            return false;
        }
        return true;
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_seen.clear();
    }

    void cleanup()
    {
        m_server.reset();
        m_redis.reset();
        m_dir.reset();
    }

    void everyEarlierStateIsWhatAClientHadThen_data()
    {
        QTest::addColumn<bool>("cluster");
        QTest::newRow("sqlite") << false;
        QTest::newRow("cluster") << true;
    }

    void everyEarlierStateIsWhatAClientHadThen()
    {
        QFETCH(bool, cluster);
        QVERIFY(startServer(cluster));
        auto ada = join(QStringLiteral("Ada"));
        auto bob = join(QStringLiteral("Bob"));
        QVERIFY(ada && bob);
        record(bob.get());
        QVERIFY(draw(ada.get(), 12));
        if (cluster) {
            // Chat heavy enough that snapshots are taken and the log trimmed behind them.
            for (int i = 0; i < 60; ++i)
                ada->sendChat(QString(300, QLatin1Char('w')));
            QTRY_COMPARE_WITH_TIMEOUT(ada->pendingCount(), 0, 10000);
        }
        QTRY_COMPARE(bob->model().seq(), ada->model().seq());
        const std::uint64_t head = ada->model().seq();

        Timeline timeline;
        timeline.setClient(ada.get());
        QVERIFY(open(timeline));
        QCOMPARE(std::uint64_t(timeline.lastSeqValue()), head);
        QCOMPARE(timeline.position(), head);
        const std::uint64_t first = std::uint64_t(timeline.firstSeqValue());
        if (cluster) {
            QVERIFY2(first > 0, "the log was trimmed: history starts at a kept snapshot");
            QVERIFY2(first + 20 <= head, "it reaches back at least cluster_log_keep_ops");
            QVERIFY2(timeline.reachText().contains(QStringLiteral("keeps no older changes")),
                     qPrintable(timeline.reachText()));
        } else {
            QCOMPARE(first, 0u);
            QCOMPARE(timeline.reachText(), QStringLiteral("History from the wall's first change."));
        }
        std::vector<std::uint64_t> order;
        for (std::uint64_t s = first; s <= head; ++s)
            order.push_back(s);
        std::shuffle(order.begin(), order.end(), std::mt19937_64(19));
        for (std::uint64_t s : order)
            QVERIFY(showsWhatBobHad(timeline, s));
        // A drag along the slider: many positions before the wall is drawn once.
        for (std::uint64_t s = head; s > first; s -= std::min<std::uint64_t>(3, s - first))
            timeline.setPosition(s);
        QVERIFY(showsWhatBobHad(timeline, first + 1));
        QVERIFY(timeline.timeText().contains(QStringLiteral("change %1 of").arg(first + 1)));
        if (!cluster) // (there, history starts after the drawing: chat is no change of the wall)
            QVERIFY2(timeline.authorsText().contains(QStringLiteral("Ada")), qPrintable(timeline.authorsText()));

        // Back to live: the live wall is untouched.
        timeline.close();
        QVERIFY(!timeline.isOpen());
        QCOMPARE(ada->model().serializedSnapshot(), m_seen[head]);
    }

    void theLiveWallGoesOnWhileTheTimelineIsOpen()
    {
        QVERIFY(startServer(false));
        auto ada = join(QStringLiteral("Ada"));
        auto bob = join(QStringLiteral("Bob"));
        QVERIFY(ada && bob);
        record(bob.get());
        QVERIFY(draw(ada.get(), 3));
        Timeline timeline;
        timeline.setClient(ada.get());
        QVERIFY(open(timeline));
        const std::uint64_t opened = timeline.position();
        QVERIFY(showsWhatBobHad(timeline, opened - 2));

        // Bob draws on: Ada's live wall has it, her timeline grows to include it and stays where
        // she put it.
        QVERIFY(draw(bob.get(), 2));
        QTRY_COMPARE(ada->model().seq(), bob->model().seq());
        QTRY_COMPARE(std::uint64_t(timeline.lastSeqValue()), bob->model().seq());
        QCOMPARE(timeline.shownSeq(), opened - 2);
        QVERIFY(showsWhatBobHad(timeline, bob->model().seq()));
        QVERIFY(timeline.authorsText().contains(QStringLiteral("Bob")));
    }

    void playingRunsThroughEveryChangeToTheEnd()
    {
        QVERIFY(startServer(false));
        auto ada = join(QStringLiteral("Ada"));
        QVERIFY(ada);
        QVERIFY(draw(ada.get(), 6));
        Timeline timeline;
        timeline.setClient(ada.get());
        QVERIFY(open(timeline));
        timeline.setSpeed(64);
        QCOMPARE(timeline.speed(), 32); // 1x to 32x
        timeline.setSpeed(2); // each change takes at least kPlayStepMs / 2: a frame shows a few
        QSignalSpy shown(&timeline, &Timeline::positionChanged);
        timeline.play(); // at the end: from the start again
        QVERIFY(timeline.playing());
        QCOMPARE(timeline.position(), 0u);
        QTRY_VERIFY_WITH_TIMEOUT(!timeline.playing(), 20000);
        QCOMPARE(timeline.position(), std::uint64_t(timeline.lastSeqValue()));
        QTRY_COMPARE(timeline.shownSeq(), timeline.position());
        QVERIFY2(shown.count() > 5, "it went through the changes, not straight to the end");
        QCOMPARE(timeline.past()->model().serializedSnapshot(), ada->model().serializedSnapshot());
    }

    void aLongHistoryComesInPagesAndWaitsOutThePageLimit()
    {
        QVERIFY(startServer(false));
        auto ada = join(QStringLiteral("Ada"));
        auto bob = join(QStringLiteral("Bob"));
        QVERIFY(ada && bob);
        record(bob.get());
        QVERIFY(draw(ada.get(), 4));
        QTRY_COMPARE(bob->model().seq(), ada->model().seq());
        // Ada's pages of the past for this minute are spent (max_history_requests_per_minute).
        QSignalSpy refused(ada.get(), &WallClient::opsRefused);
        for (int i = 0; i < limits::kMaxHistoryRequestsPerMinute + 5; ++i)
            ada->requestOps(0, 1);
        QTRY_VERIFY(refused.count() > 0);
        QTRY_COMPARE(ada->notice(), QString()); // nobody need be told

        Timeline timeline;
        timeline.setClient(ada.get());
        timeline.setPageOps(7);
        QSignalSpy loaded(&timeline, &Timeline::loadedChanged);
        timeline.show();
        QVERIFY(timeline.isOpen() && !timeline.ready());
        QVERIFY(timeline.reachText().startsWith(QStringLiteral("Fetching the wall's history")));
        QTRY_VERIFY_WITH_TIMEOUT(timeline.ready(), 30000);
        QCOMPARE(std::uint64_t(timeline.lastSeqValue()), ada->model().seq());
        QVERIFY2(loaded.count() > int(ada->model().seq() / 7), "it came in pages");
        QCOMPARE(ada->notice(), QString());
        for (std::uint64_t s = 0; s <= ada->model().seq(); s += 5)
            QVERIFY(showsWhatBobHad(timeline, s));
    }

    void aStateCopiedIntoANewWallIsThatState()
    {
        QVERIFY(startServer(false));
        auto ada = join(QStringLiteral("Ada"));
        QVERIFY(ada);
        QVERIFY(draw(ada.get(), 6));
        const QStringList now = visibleContent(ada->model());
        Timeline timeline;
        timeline.setClient(ada.get());
        QVERIFY(open(timeline));
        const std::uint64_t then = timeline.position() / 2;
        timeline.setPosition(then);
        QTRY_COMPARE(timeline.shownSeq(), then);
        const QStringList wanted = visibleContent(timeline.past()->model());
        QVERIFY(!wanted.isEmpty());
        QVERIFY(wanted != now);

        QVERIFY(!timeline.copyToNewWall(ada->wall()));
        QVERIFY(timeline.errorText().contains(QStringLiteral("choose a new name")));
        QVERIFY(timeline.copyToNewWall(QStringLiteral("past, as it was")));
        QVERIFY(!timeline.isOpen());
        QTRY_COMPARE(ada->wall(), QStringLiteral("past, as it was"));
        QTRY_VERIFY(ada->state() == WallClient::Connected && ada->model().seq() > 0 && ada->pendingCount() == 0);
        QCOMPARE(visibleContent(ada->model()), wanted);
        QVERIFY(ada->notice().contains(QStringLiteral("starts as the original was")));

        // The original is as it was.
        auto bob = join(QStringLiteral("Bob"));
        QVERIFY(bob);
        QCOMPARE(visibleContent(bob->model()), now);
    }
};

QTEST_MAIN(TestTimeline)
#include "tst_timeline.moc"
