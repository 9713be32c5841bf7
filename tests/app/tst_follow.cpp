// Issue 19: follow, present and the laser pointer between two WallClients on a real in-process
// server. Where a person looks crosses with their cursor (pb::Cursor.view) and the other sees it
// (memberView, memberViewChanged); a moderator presents and everyone learns who (presenterId), a
// member cannot; laser positions reach the other (and the sender's own at once) and nothing of
// any of it is stored: the wall's seq does not move.

#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace scrawl;

class TestFollow : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    const QString m_wall = QStringLiteral("show");

    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }

    std::unique_ptr<WallClient> join(const QString &name)
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->setProfile(name);
        c->connectToWall(address(), m_wall);
        return c;
    }

    // Ada (who makes the wall, so its owner) and Bob, both joined, each knowing the other.
    std::pair<std::unique_ptr<WallClient>, std::unique_ptr<WallClient>> adaAndBob()
    {
        auto ada = join(QStringLiteral("Ada"));
        if (!QTest::qWaitFor([&] { return ada->state() == WallClient::Connected; }, 5000))
            return {};
        auto bob = join(QStringLiteral("Bob"));
        if (!QTest::qWaitFor([&] { return bob->state() == WallClient::Connected
                                          && !bob->memberName(ada->userIdText()).isEmpty(); }, 5000))
            return {};
        return {std::move(ada), std::move(bob)};
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void whereSomeoneLooksCrossesAndIsNotStored()
    {
        auto [ada, bob] = adaAndBob();
        QVERIFY(ada && bob);
        const std::uint64_t seq = m_server->headSeq(m_wall);

        QSignalSpy viewChanged(bob.get(), &WallClient::memberViewChanged);
        const QRectF adaView(1000, -400, 1600, 900);
        ada->setView(adaView);
        QTRY_COMPARE(bob->memberView(ada->userIdText()), adaView);
        QVERIFY(!viewChanged.isEmpty());
        QCOMPARE(viewChanged.last().front().toString(), ada->userIdText());
        // She zooms out: the newest view arrives (cursors are coalesced, the latest wins).
        const QRectF wider(0, -1000, 4000, 2250);
        ada->setView(wider);
        QTRY_COMPARE(bob->memberView(ada->userIdText()), wider);
        QCOMPARE(bob->memberName(ada->userIdText()), QStringLiteral("Ada"));
        QCOMPARE(m_server->headSeq(m_wall), seq);
    }

    void theLaserReachesTheOtherAndIsNotStored()
    {
        auto [ada, bob] = adaAndBob();
        QVERIFY(ada && bob);
        const std::uint64_t seq = m_server->headSeq(m_wall);

        QSignalSpy own(ada.get(), &WallClient::laserMoved);
        QSignalSpy seen(bob.get(), &WallClient::laserMoved);
        ada->setLaser(true);
        for (int i = 0; i < 20; ++i) {
            ada->sendCursor(100 + 10 * i, 200);
            QTest::qWait(20); // a hand moving: the cursor goes ~30 times a second
        }
        // Her own trail at once, every point; Bob's as her cursors arrive, in her colour.
        QCOMPARE(own.count(), 20);
        QCOMPARE(own.front().at(0).toString(), ada->userIdText());
        QTRY_VERIFY(seen.count() >= 5);
        QCOMPARE(seen.last().at(0).toString(), ada->userIdText());
        QTRY_COMPARE(seen.last().at(1).toDouble(), 290.0);
        QCOMPARE(seen.last().at(3).value<QColor>(), ada->color());
        // Off: her cursor goes on moving without a trail.
        ada->setLaser(false);
        ada->sendCursor(500, 500);
        QTRY_COMPARE(bob->members()->find(ada->userId())->cursor, QPointF(500, 500));
        for (const QList<QVariant> &point : seen)
            QVERIFY(point.at(1).toDouble() < 500);
        // Nothing of it was stored.
        QCOMPARE(m_server->headSeq(m_wall), seq);
    }

    void aModeratorPresentsAndAMemberCannot()
    {
        auto [ada, bob] = adaAndBob();
        QVERIFY(ada && bob);
        QVERIFY(ada->isOwner());

        ada->setView(QRectF(0, 0, 800, 600));
        ada->setPresenting(true);
        QVERIFY(ada->presenting());
        QCOMPARE(ada->presenterId(), ada->userIdText());
        QTRY_COMPARE(bob->presenterId(), ada->userIdText());
        QCOMPARE(bob->memberView(ada->userIdText()), QRectF(0, 0, 800, 600));

        // A member cannot: the app does not send it.
        bob->setPresenting(true);
        QVERIFY(!bob->presenting());

        // Someone joining while she presents learns it within her next round (every second).
        auto cat = join(QStringLiteral("Cat"));
        QTRY_COMPARE(cat->state(), WallClient::Connected);
        QTRY_COMPARE_WITH_TIMEOUT(cat->presenterId(), ada->userIdText(), 3000);
        QCOMPARE(cat->memberView(ada->userIdText()), QRectF(0, 0, 800, 600));

        // She stops: nobody presents.
        ada->setPresenting(false);
        QTRY_COMPARE(bob->presenterId(), QString());
        QTRY_COMPARE(cat->presenterId(), QString());

        // She presents again and leaves: the presentation ends with her.
        ada->setPresenting(true);
        QTRY_COMPARE(bob->presenterId(), ada->userIdText());
        ada->disconnectFromWall();
        QTRY_COMPARE(bob->presenterId(), QString());
    }
};

QTEST_GUILESS_MAIN(TestFollow)
#include "tst_follow.moc"
