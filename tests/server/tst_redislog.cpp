// Issue 18, the shared log: RedisWallLog against a real redis-server (its own process, port and
// data directory). Two logs stand for two scrawl-servers: their appends to one wall get one
// gap-free order, each op is published to the other, a retried client op id is not appended
// twice, a Redis that comes back empty is never numbered afresh on top of the lost history, a
// Redis killed with -9 keeps every acknowledged op (AOF, fsync always), and a Redis that hangs
// is noticed within the command timeout.

#include "server/logfollower.h"
#include "server/redislog.h"
#include "tests/support/redisprocess.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <set>

using namespace scrawl;
using scrawl::test::RedisProcess;

namespace {

// Short timeouts, so that a hang is found in a test's time.
RedisConnection::Options quickOptions()
{
    RedisConnection::Options options;
    options.commandTimeoutMs = 600;
    options.keepAliveMs = 200;
    options.reconnectFirstMs = 50;
    options.reconnectMaxMs = 300;
    return options;
}

RedisAddress addressOf(const RedisProcess &redis)
{
    QString error;
    return *RedisAddress::parse(redis.url(), &error);
}

std::unique_ptr<RedisWallLog> readyLog(const RedisProcess &redis)
{
    auto log = std::make_unique<RedisWallLog>(addressOf(redis), quickOptions());
    log->start();
    return log;
}

RedisWallLog::Head openWall(RedisWallLog &log, const QString &wall)
{
    std::optional<RedisWallLog::Head> head;
    QString error = QStringLiteral("no answer");
    bool answered = false;
    log.open(wall, true, [&](std::optional<RedisWallLog::Opened> o, QString e) {
        if (o)
            head = o->head;
        error = e;
        answered = true;
    });
    if (!QTest::qWaitFor([&] { return answered; }, 5000) || !head)
        qWarning() << "open failed:" << error;
    return head.value_or(RedisWallLog::Head{});
}

RedisWallLog::Appended appendOne(RedisWallLog &log, const QString &wall, const QByteArray &epoch,
                                 std::uint64_t author, std::uint64_t cid, const QByteArray &op)
{
    std::optional<RedisWallLog::Appended> result;
    log.append(wall, epoch, author, cid, op, [&](RedisWallLog::Appended a) { result = std::move(a); });
    if (!QTest::qWaitFor([&] { return result.has_value(); }, 5000))
        qWarning() << "append: no answer within 5 s";
    return result.value_or(RedisWallLog::Appended{});
}

struct ReadResult
{
    std::optional<RedisWallLog::Head> head;
    std::vector<RedisWallLog::Entry> entries;
    QString error;
};

ReadResult readAll(RedisWallLog &log, const QString &wall, std::uint64_t after)
{
    ReadResult out;
    bool answered = false;
    log.read(wall, after, 100000, [&](std::optional<RedisWallLog::Head> h, std::vector<RedisWallLog::Entry> e, QString error) {
        out = {std::move(h), std::move(e), error};
        answered = true;
    });
    if (!QTest::qWaitFor([&] { return answered; }, 5000))
        out.error = QStringLiteral("read: no answer within 5 s");
    return out;
}

} // namespace

class TestRedisLog : public QObject
{
    Q_OBJECT

private slots:
    void addressesAreParsedOrRefusedByName_data();
    void addressesAreParsedOrRefusedByName();
    void appendsFromTwoServersGetOneGapFreeOrder();
    void everyAppendIsPublishedToTheOtherServer();
    void aRetriedClientOpIsNotAppendedTwice();
    void aRedisThatCameBackEmptyIsNotNumberedAfresh();
    void acknowledgedOpsSurviveKillNine();
    void aHungRedisIsNoticedWithinTheTimeout();
    void anUnreachableRedisFailsAtOnceWithTheAddress();
    void aTrimmedLogShowsTheGap();
    void liveTrafficReachesTheOtherServersAndIsNotStored();
    void wallsAreMadeOnlyWhenAskedAndNumberedOnce();
    void aSnapshotComesWithOpenAndTrimsTheLogBehindIt();
    void aPersonIsOneIdOnEveryServer();
    void anImageIsStoredOnceAndAWallsImagesKeepWithinItsBudget();
    // WallLogFollower: what one server applies of a wall.
    void aFollowerHandsOverEveryOpInOrderOnce();
    void aFollowerFillsTheGapOfALostMessage();
    void aFollowerFindsALostLastMessage();
    void aFollowerCatchesUpAfterItsSubscriptionWasCut();
    void aFollowerBehindTheTrimmedLogStopsAndSaysSo();
    void aFollowerOfAHistoryRedisLostStopsAndSaysSo();
};

void TestRedisLog::addressesAreParsedOrRefusedByName_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<int>("db");
    QTest::addColumn<QString>("errorNames");

    QTest::newRow("full") << "redis://127.0.0.1:6380/2" << true << "127.0.0.1" << 6380 << 2 << "";
    QTest::newRow("default port and db") << "redis://redis.internal" << true << "redis.internal" << 6379 << 0 << "";
    QTest::newRow("spaces around") << "  redis://10.0.0.5:7000  " << true << "10.0.0.5" << 7000 << 0 << "";
    QTest::newRow("no scheme") << "127.0.0.1:6379" << false << "" << 0 << 0 << "redis://HOST:PORT";
    QTest::newRow("other scheme") << "http://127.0.0.1:6379" << false << "" << 0 << 0 << "not a Redis address";
    QTest::newRow("no host") << "redis://" << false << "" << 0 << 0 << "not a Redis address";
    QTest::newRow("db too high") << "redis://h:6379/16" << false << "" << 0 << 0 << "from 0 to 15";
    QTest::newRow("db not a number") << "redis://h:6379/walls" << false << "" << 0 << 0 << "\"walls\"";
    QTest::newRow("user") << "redis://me:secret@h:6379" << false << "" << 0 << 0 << "a user";
    QTest::newRow("query") << "redis://h:6379?timeout=1" << false << "" << 0 << 0 << "a query";
}

void TestRedisLog::addressesAreParsedOrRefusedByName()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QString error;
    const auto address = RedisAddress::parse(text, &error);
    QCOMPARE(address.has_value(), ok);
    if (ok) {
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(int, db);
        QCOMPARE(address->host, host);
        QCOMPARE(int(address->port), port);
        QCOMPARE(address->db, db);
        QVERIFY(error.isEmpty());
    } else {
        QFETCH(QString, errorNames);
        QVERIFY2(error.contains(text.trimmed()), qPrintable(error));
        QVERIFY2(error.contains(errorNames), qPrintable(error));
    }
}

void TestRedisLog::appendsFromTwoServersGetOneGapFreeOrder()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);

    const QString wall = QStringLiteral("team {board}"); // braces must not break the hash tag
    const RedisWallLog::Head head = openWall(*a, wall);
    QVERIFY(!head.epoch.isEmpty());
    QCOMPARE(head.seq, 0u);
    QCOMPARE(openWall(*b, wall).epoch, head.epoch); // the second server finds the same history

    // 300 ops from each, all sent before any is answered (pipelined, interleaved in Redis).
    constexpr int kEach = 300;
    std::map<std::uint64_t, QByteArray> bySeq;
    int answered = 0;
    int failed = 0;
    for (int i = 0; i < kEach; ++i) {
        for (RedisWallLog *log : {a.get(), b.get()}) {
            const QByteArray op = (log == a.get() ? "a" : "b") + QByteArray::number(i);
            log->append(wall, head.epoch, log == a.get() ? 1 : 2, std::uint64_t(i + 1), op,
                        [&, op](RedisWallLog::Appended r) {
                ++answered;
                if (r.status != RedisWallLog::Appended::Status::Ok || r.epoch != head.epoch) {
                    ++failed;
                    return;
                }
                if (!bySeq.emplace(r.seq, op).second)
                    ++failed; // one seq given twice
            });
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 2 * kEach, 10000);
    QCOMPARE(failed, 0);
    QCOMPARE(bySeq.size(), size_t(2 * kEach));
    QCOMPARE(bySeq.begin()->first, 1u);
    QCOMPARE(bySeq.rbegin()->first, std::uint64_t(2 * kEach)); // 1..600, no gap
    // Each server's own ops keep the order it sent them in.
    int lastA = -1;
    int lastB = -1;
    for (const auto &[seq, op] : bySeq) {
        int &last = op.startsWith('a') ? lastA : lastB;
        const int n = op.mid(1).toInt();
        QVERIFY2(n == last + 1, qPrintable(QStringLiteral("seq %1 holds %2 after %3").arg(seq).arg(QString::fromUtf8(op)).arg(last)));
        last = n;
    }

    // What is stored is what was acknowledged, seq by seq.
    const ReadResult stored = readAll(*b, wall, 0);
    QVERIFY2(stored.head, qPrintable(stored.error));
    QCOMPARE(stored.head->seq, std::uint64_t(2 * kEach));
    QCOMPARE(stored.entries.size(), size_t(2 * kEach));
    for (const RedisWallLog::Entry &e : stored.entries)
        QCOMPARE(e.op, bySeq.at(e.seq));
    // Reading on from the middle starts right after it.
    const ReadResult tail = readAll(*a, wall, 550);
    QCOMPARE(tail.entries.size(), 50u);
    QCOMPARE(tail.entries.front().seq, 551u);
}

void TestRedisLog::everyAppendIsPublishedToTheOtherServer()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    const QString wall = QStringLiteral("published");
    const QString other = QStringLiteral("another wall");
    struct Published
    {
        QByteArray epoch;
        std::uint64_t seq;
        QByteArray op;
    };
    std::vector<Published> published;
    bool subscribed = false;
    // Watched before it is ready: subscribed as the connection comes up.
    b->watch(wall, [&](const QByteArray &epoch, std::uint64_t seq, const QByteArray &op) {
        published.push_back({epoch, seq, op});
    }, [&] { subscribed = true; });
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    QVERIFY(subscribed);

    const QByteArray epoch = openWall(*a, wall).epoch;
    const QByteArray otherEpoch = openWall(*a, other).epoch;
    QByteArray binary("\0:\r\n\xff op", 8); // any bytes, colons and all
    for (int i = 1; i <= 20; ++i) {
        a->append(wall, epoch, 1, 0, binary + QByteArray::number(i), {});
        a->append(other, otherEpoch, 1, 0, "not watched", {});
    }
    QTRY_COMPARE_WITH_TIMEOUT(published.size(), 20u, 5000);
    for (int i = 0; i < 20; ++i) {
        QCOMPARE(published.at(i).epoch, epoch);
        QCOMPARE(published.at(i).seq, std::uint64_t(i + 1));
        QCOMPARE(published.at(i).op, binary + QByteArray::number(i + 1));
    }
    // The other wall's ops never arrived (checked after one more of the watched wall's).
    a->append(wall, epoch, 1, 0, "last", {});
    QTRY_COMPARE_WITH_TIMEOUT(published.size(), 21u, 5000);
    QCOMPARE(published.back().op, QByteArray("last"));

    // Watching another wall once ready: `subscribed` says when, and nothing after it is missed.
    bool otherSubscribed = false;
    int otherSeen = 0;
    b->watch(other, [&](const QByteArray &, std::uint64_t, const QByteArray &) { ++otherSeen; },
             [&] { otherSubscribed = true; });
    QTRY_VERIFY(otherSubscribed);
    a->append(other, otherEpoch, 1, 0, "seen", {});
    QTRY_COMPARE(otherSeen, 1);
    // Unwatched: no more.
    b->unwatch(wall);
    a->append(wall, epoch, 1, 0, "after unwatch", {});
    a->append(other, otherEpoch, 1, 0, "seen too", {});
    QTRY_COMPARE(otherSeen, 2);
    QCOMPARE(published.size(), 21u);
}

void TestRedisLog::aRetriedClientOpIsNotAppendedTwice()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    const QString wall = QStringLiteral("retries");
    const QByteArray epoch = openWall(*a, wall).epoch;

    using Status = RedisWallLog::Appended::Status;
    auto first = appendOne(*a, wall, epoch, 7, 1, "stroke");
    QCOMPARE(first.status, Status::Ok);
    QCOMPARE(first.seq, 1u);
    // The same op again, through the other server (the client reconnected elsewhere).
    auto again = appendOne(*b, wall, epoch, 7, 1, "stroke");
    QCOMPARE(again.status, Status::Duplicate);
    QCOMPARE(again.seq, 1u);
    QCOMPARE(again.clientOpId, 1u);
    // Another author's op id 1 is its own.
    QCOMPARE(appendOne(*b, wall, epoch, 8, 1, "note").seq, 2u);
    auto second = appendOne(*a, wall, epoch, 7, 2, "chat");
    QCOMPARE(second.status, Status::Ok);
    QCOMPARE(second.seq, 3u);
    // An older id than the newest is a duplicate too, and says the newest.
    auto old = appendOne(*a, wall, epoch, 7, 1, "stroke");
    QCOMPARE(old.status, Status::Duplicate);
    QCOMPARE(old.seq, 3u);
    QCOMPARE(old.clientOpId, 2u);
    // Id 0 asks for no check.
    QCOMPARE(appendOne(*a, wall, epoch, 7, 0, "cursor-ish").status, Status::Ok);
    QCOMPARE(appendOne(*a, wall, epoch, 7, 0, "cursor-ish").status, Status::Ok);
    QCOMPARE(readAll(*a, wall, 0).entries.size(), 5u);

    // A resend is answered with the stored op: found by author and client op id.
    auto find = [&](std::uint64_t author, std::uint64_t cid, int scan) {
        std::optional<RedisWallLog::Entry> found;
        bool answered = false;
        b->find(wall, author, cid, scan, [&](std::optional<RedisWallLog::Entry> e, QString) {
            found = std::move(e);
            answered = true;
        });
        if (!QTest::qWaitFor([&] { return answered; }, 5000))
            qWarning() << "find: no answer within 5 s";
        return found;
    };
    const auto chat = find(7, 2, 100);
    QVERIFY(chat);
    QCOMPARE(chat->seq, 3u);
    QCOMPARE(chat->op, QByteArray("chat"));
    QCOMPARE(find(8, 1, 100)->op, QByteArray("note"));
    QVERIFY(!find(7, 99, 100));  // never sent
    QVERIFY(!find(7, 1, 2));     // further back than the scan
    QCOMPARE(find(7, 1, 5)->seq, 1u);
}

void TestRedisLog::aRedisThatCameBackEmptyIsNotNumberedAfresh()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    QSignalSpy readyChanged(a.get(), &RedisWallLog::readyChanged);
    const QString wall = QStringLiteral("lost");
    const QByteArray epoch = openWall(*a, wall).epoch;
    for (int i = 0; i < 5; ++i)
        QCOMPARE(appendOne(*a, wall, epoch, 1, 0, "op").status, RedisWallLog::Appended::Status::Ok);

    redis.kill();
    redis.wipe();
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    QTRY_VERIFY_WITH_TIMEOUT(readyChanged.size() >= 2 && a->isReady(), 10000); // lost, then back

    // The server still believes in the old history: refused, and told the wall has none now.
    auto refused = appendOne(*a, wall, epoch, 1, 0, "op 6");
    QCOMPARE(refused.status, RedisWallLog::Appended::Status::EpochChanged);
    QVERIFY(refused.epoch.isEmpty());
    // Opening it again makes a new history, from 0, which the old epoch cannot write to.
    const RedisWallLog::Head fresh = openWall(*a, wall);
    QVERIFY(!fresh.epoch.isEmpty());
    QVERIFY(fresh.epoch != epoch);
    QCOMPARE(fresh.seq, 0u);
    auto stillRefused = appendOne(*a, wall, epoch, 1, 0, "op 6");
    QCOMPARE(stillRefused.status, RedisWallLog::Appended::Status::EpochChanged);
    QCOMPARE(stillRefused.epoch, fresh.epoch);
    QCOMPARE(readAll(*a, wall, 0).entries.size(), 0u);
}

void TestRedisLog::acknowledgedOpsSurviveKillNine()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    const QString wall = QStringLiteral("durable");
    const QByteArray epoch = openWall(*a, wall).epoch;
    int acknowledged = 0;
    for (int i = 1; i <= 200; ++i) {
        a->append(wall, epoch, 3, std::uint64_t(i), "op " + QByteArray::number(i), [&](RedisWallLog::Appended r) {
            if (r.status == RedisWallLog::Appended::Status::Ok)
                ++acknowledged;
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(acknowledged, 200, 10000);

    redis.kill(); // SIGKILL right after the last acknowledgement
    QTRY_VERIFY_WITH_TIMEOUT(!a->isReady(), 5000);
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 10000);

    const ReadResult stored = readAll(*a, wall, 0);
    QVERIFY2(stored.head, qPrintable(stored.error));
    QCOMPARE(stored.head->epoch, epoch);
    QCOMPARE(stored.head->seq, 200u);
    QCOMPARE(stored.entries.size(), 200u);
    QCOMPARE(stored.entries.back().op, QByteArray("op 200"));
    // The exactly-once record came back too, and the order goes on.
    QCOMPARE(appendOne(*a, wall, epoch, 3, 200, "op 200").status, RedisWallLog::Appended::Status::Duplicate);
    QCOMPARE(appendOne(*a, wall, epoch, 3, 201, "op 201").seq, 201u);
}

void TestRedisLog::aHungRedisIsNoticedWithinTheTimeout()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    const QString wall = QStringLiteral("hung");
    const QByteArray epoch = openWall(*a, wall).epoch;

    redis.pause(); // the socket stays open; nothing answers
    QElapsedTimer clock;
    clock.start();
    std::optional<RedisWallLog::Appended> result;
    a->append(wall, epoch, 1, 1, "op", [&](RedisWallLog::Appended r) { result = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 5000);
    const qint64 tookMs = clock.elapsed();
    QCOMPARE(result->status, RedisWallLog::Appended::Status::Failed);
    QVERIFY2(result->error.contains(QStringLiteral("did not answer")), qPrintable(result->error));
    QVERIFY2(tookMs < 2000, qPrintable(QStringLiteral("noticed after %1 ms").arg(tookMs)));
    QVERIFY(!a->isReady());
    QVERIFY2(a->problem().contains(redis.url()), qPrintable(a->problem()));

    // While it hangs, commands fail at once instead of piling up.
    auto meanwhile = appendOne(*a, wall, epoch, 1, 1, "op");
    QCOMPARE(meanwhile.status, RedisWallLog::Appended::Status::Failed);

    redis.resume();
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 10000);
    // The op may or may not have been applied before the hang was seen: the client op id says.
    auto retried = appendOne(*a, wall, epoch, 1, 1, "op");
    QVERIFY(retried.status == RedisWallLog::Appended::Status::Ok
            || retried.status == RedisWallLog::Appended::Status::Duplicate);
    QCOMPARE(retried.seq, 1u);
    QCOMPARE(readAll(*a, wall, 0).entries.size(), 1u);
}

void TestRedisLog::anUnreachableRedisFailsAtOnceWithTheAddress()
{
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        port = probe.serverPort();
    } // nothing listens there now
    QString error;
    const auto address = RedisAddress::parse(QStringLiteral("redis://127.0.0.1:%1").arg(port), &error);
    QVERIFY(address);
    RedisWallLog log(*address, quickOptions());
    QSignalSpy lost(&log.commands(), &RedisConnection::lost);
    log.start();
    QTRY_VERIFY_WITH_TIMEOUT(lost.size() >= 1, 5000);
    QVERIFY2(log.problem().contains(QStringLiteral("127.0.0.1:%1").arg(port)), qPrintable(log.problem()));
    auto result = appendOne(log, QStringLiteral("w"), "e", 1, 0, "op");
    QCOMPARE(result.status, RedisWallLog::Appended::Status::Failed);
    QVERIFY2(result.error.contains(QStringLiteral("not connected")), qPrintable(result.error));
    // It keeps trying, with a growing wait, not in a tight loop.
    QTRY_VERIFY_WITH_TIMEOUT(lost.size() >= 3, 5000);
    QVERIFY(lost.size() < 40);
}

void TestRedisLog::aTrimmedLogShowsTheGap()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    const QString wall = QStringLiteral("trimmed");
    const QByteArray epoch = openWall(*a, wall).epoch;
    for (int i = 1; i <= 10; ++i)
        appendOne(*a, wall, epoch, 1, 0, QByteArray::number(i));
    std::optional<bool> trimmed;
    a->trim(wall, 6, [&](bool ok, QString) { trimmed = ok; });
    QTRY_VERIFY(trimmed.has_value());
    QVERIFY(*trimmed);
    const ReadResult r = readAll(*a, wall, 2);
    QCOMPARE(r.head->seq, 10u);
    QCOMPARE(r.entries.size(), 4u);
    QCOMPARE(r.entries.front().seq, 7u); // 3..6 are gone: the reader sees it must load a snapshot
    QCOMPARE(r.entries.front().op, QByteArray("7"));
    // Appends go on after a trim.
    QCOMPARE(appendOne(*a, wall, epoch, 1, 0, "11").seq, 11u);
}

void TestRedisLog::liveTrafficReachesTheOtherServersAndIsNotStored()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    const QString wall = QStringLiteral("live");
    std::vector<QByteArray> atA;
    std::vector<QByteArray> atB;
    // Watched before the connections are up: subscribed as they come up, before ready.
    QByteArray senderAtA;
    a->watchLive(wall, [&](const QByteArray &from, const QByteArray &p) {
        senderAtA = from;
        atA.push_back(p);
    });
    b->watchLive(wall, [&](const QByteArray &, const QByteArray &p) { atB.push_back(p); });
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    QVERIFY(a->serverId() != b->serverId());

    const QByteArray cursor("\x0a\x00cursor:1,2", 12);
    for (int i = 0; i < 50; ++i)
        b->publishLive(wall, cursor + QByteArray::number(i));
    a->publishLive(wall, "from a");
    QTRY_COMPARE(atA.size(), 50u);
    QTRY_COMPARE(atB.size(), 1u);
    for (int i = 0; i < 50; ++i)
        QCOMPARE(atA[size_t(i)], cursor + QByteArray::number(i)); // in order, bytes intact
    QCOMPARE(atB[0], QByteArray("from a")); // each server hears the others, not itself
    QCOMPARE(senderAtA, b->serverId());     // and knows which one said it
    QCOMPARE(atA.size(), 50u);

    // Nothing of it was stored: the wall has no log, no meta, no keys at all.
    QCOMPARE(redis.call({"DBSIZE"}), QByteArray(":0\r\n"));

    // Unwatched: no more (checked after a message on a wall still watched arrived).
    std::vector<QByteArray> other;
    a->watchLive(QStringLiteral("other"), [&](const QByteArray &, const QByteArray &p) { other.push_back(p); });
    a->unwatchLive(wall);
    QTRY_VERIFY(redis.call({"PUBSUB", "NUMSUB", RedisWallLog::keyPrefix(wall) + "live"}).contains(":1\r\n"));
    b->publishLive(wall, "after unwatch");
    b->publishLive(QStringLiteral("other"), "on the other wall");
    QTRY_COMPARE(other.size(), 1u);
    QCOMPARE(atA.size(), 50u);
}

namespace {

std::optional<RedisWallLog::Opened> openOrNot(RedisWallLog &log, const QString &wall, bool create)
{
    std::optional<RedisWallLog::Opened> out;
    bool answered = false;
    log.open(wall, create, [&](std::optional<RedisWallLog::Opened> o, QString) {
        out = std::move(o);
        answered = true;
    });
    if (!QTest::qWaitFor([&] { return answered; }, 5000))
        qWarning() << "open: no answer within 5 s";
    return out;
}

RedisWallLog::SnapshotSaved saveSnapshot(RedisWallLog &log, const QString &wall, const QByteArray &epoch,
                                         std::uint64_t seq, const QByteArray &bytes, std::uint64_t keep)
{
    std::optional<RedisWallLog::SnapshotSaved> out;
    log.saveSnapshot(wall, epoch, seq, bytes, keep, [&](RedisWallLog::SnapshotSaved r) { out = std::move(r); });
    if (!QTest::qWaitFor([&] { return out.has_value(); }, 5000))
        qWarning() << "saveSnapshot: no answer within 5 s";
    return out.value_or(RedisWallLog::SnapshotSaved{});
}

std::optional<std::uint64_t> userOf(RedisWallLog &log, const QByteArray &tokenHash, bool create)
{
    std::optional<std::uint64_t> out;
    bool answered = false;
    log.user(tokenHash, create, [&](std::optional<std::uint64_t> id, QString) {
        out = id;
        answered = true;
    });
    if (!QTest::qWaitFor([&] { return answered; }, 5000))
        qWarning() << "user: no answer within 5 s";
    return out;
}

} // namespace

void TestRedisLog::wallsAreMadeOnlyWhenAskedAndNumberedOnce()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);

    auto none = openOrNot(*a, QStringLiteral("nowhere"), false);
    QVERIFY(none);
    QVERIFY(none->head.epoch.isEmpty());
    QCOMPARE(none->wallId, 0);
    QCOMPARE(redis.call({"EXISTS", RedisWallLog::keyPrefix(QStringLiteral("nowhere")) + "meta"}), QByteArray(":0\r\n"));

    auto first = openOrNot(*a, QStringLiteral("first"), true);
    auto second = openOrNot(*b, QStringLiteral("second"), true);
    QVERIFY(first && second);
    QCOMPARE(first->wallId, 1);
    QCOMPARE(second->wallId, 2);
    // Found again, from either server, with the same id and history; never made twice.
    auto again = openOrNot(*b, QStringLiteral("first"), true);
    QCOMPARE(again->wallId, 1);
    QCOMPARE(again->head.epoch, first->head.epoch);
    QCOMPARE(openOrNot(*a, QStringLiteral("first"), false)->wallId, 1);
    QVERIFY(first->snapshot.isEmpty());
    QCOMPARE(first->snapshotSeq, 0u);
}

void TestRedisLog::aSnapshotComesWithOpenAndTrimsTheLogBehindIt()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    const QString wall = QStringLiteral("snapped");
    const QByteArray epoch = openWall(*a, wall).epoch;
    for (int i = 1; i <= 20; ++i)
        appendOne(*a, wall, epoch, 1, 0, QByteArray::number(i));

    using Status = RedisWallLog::SnapshotSaved::Status;
    const QByteArray picture(300000, 's'); // a few hundred kB, as a real wall's is
    QCOMPARE(saveSnapshot(*a, wall, epoch, 15, picture, 5).status, Status::Ok);
    // The log keeps the last 5 ops the snapshot shows (11..15), and everything after it.
    const ReadResult kept = readAll(*b, wall, 0);
    QCOMPARE(kept.entries.size(), 10u);
    QCOMPARE(kept.entries.front().seq, 11u);
    QCOMPARE(kept.head->seq, 20u);
    // Another server opening the wall gets the snapshot and the head with it.
    auto opened = openOrNot(*b, wall, false);
    QCOMPARE(opened->snapshotSeq, 15u);
    QCOMPARE(opened->snapshot, picture);
    QCOMPARE(opened->head.seq, 20u);

    // An older snapshot (a slower server's) does not replace it.
    auto older = saveSnapshot(*b, wall, epoch, 12, "older", 5);
    QCOMPARE(older.status, Status::Older);
    QCOMPARE(older.keptSeq, 15u);
    QCOMPARE(openOrNot(*b, wall, false)->snapshot, picture);
    // One past the wall's last op is refused by name.
    auto ahead = saveSnapshot(*a, wall, epoch, 21, "ahead", 5);
    QCOMPARE(ahead.status, Status::Failed);
    QVERIFY2(ahead.error.contains(QStringLiteral("past the wall's last op")), qPrintable(ahead.error));
    // One of another history is refused and says the wall's.
    auto stale = saveSnapshot(*a, wall, "some-old-epoch", 18, "stale", 5);
    QCOMPARE(stale.status, Status::EpochChanged);
    QCOMPARE(stale.epoch, epoch);
    // A newer one replaces it and trims further, but never past the snapshot the timeline
    // replays from (the first one, at 15): every op after it stays.
    QCOMPARE(saveSnapshot(*b, wall, epoch, 20, "newest", 0).status, Status::Ok);
    const ReadResult after = readAll(*a, wall, 0);
    QCOMPARE(after.entries.size(), 5u);
    QCOMPARE(after.entries.front().seq, 16u);
    QCOMPARE(openOrNot(*a, wall, false)->snapshot, QByteArray("newest"));
    const QByteArray snap = RedisWallLog::keyPrefix(wall) + "snap";
    QVERIFY(redis.call({"HGET", snap, "base_seq"}).contains("15"));
    QVERIFY(redis.call({"HGET", snap, "base_data"}).contains(picture.left(20)));

    // The timeline's snapshot moves on once a newer one is `keep` ops behind the newest: history
    // then reaches back between `keep` and about twice that.
    for (int i = 21; i <= 40; ++i)
        appendOne(*a, wall, epoch, 1, 0, QByteArray::number(i));
    QCOMPARE(saveSnapshot(*a, wall, epoch, 30, "thirty", 5).status, Status::Ok); // base 20
    QVERIFY(redis.call({"HGET", snap, "base_seq"}).contains("20"));
    QCOMPARE(readAll(*a, wall, 0).entries.front().seq, 21u);
    QCOMPARE(saveSnapshot(*a, wall, epoch, 33, "thirty-three", 5).status, Status::Ok); // 33 - 30 < 5
    QVERIFY(redis.call({"HGET", snap, "base_seq"}).contains("20"));
    QCOMPARE(readAll(*a, wall, 0).entries.front().seq, 21u);
    QCOMPARE(saveSnapshot(*a, wall, epoch, 36, "thirty-six", 5).status, Status::Ok); // base 30
    QVERIFY(redis.call({"HGET", snap, "base_seq"}).contains("30"));
    QVERIFY(redis.call({"HGET", snap, "base_data"}).contains("thirty"));
    QCOMPARE(readAll(*a, wall, 0).entries.front().seq, 31u);
}

void TestRedisLog::aPersonIsOneIdOnEveryServer()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    QCOMPARE(userOf(*a, "hash-of-ada", false), std::optional<std::uint64_t>(0)); // unknown, not made
    const auto ada = userOf(*a, "hash-of-ada", true);
    QCOMPARE(ada, std::optional<std::uint64_t>(1));
    QCOMPARE(userOf(*b, "hash-of-ada", false), ada); // the same person on the other server
    QCOMPARE(userOf(*b, "hash-of-ada", true), ada);  // not made twice
    // Many people arriving at both servers at once: one id each, all different.
    std::set<std::uint64_t> ids;
    int answered = 0;
    for (int i = 0; i < 100; ++i) {
        for (RedisWallLog *log : {a.get(), b.get()}) {
            log->user("person-" + QByteArray::number(i), true, [&](std::optional<std::uint64_t> id, QString) {
                ++answered;
                if (id)
                    ids.insert(*id);
            });
        }
    }
    QTRY_COMPARE(answered, 200);
    QCOMPARE(ids.size(), 100u); // each person's two arrivals got one id
    QVERIFY(!ids.count(*ada));
}

void TestRedisLog::anImageIsStoredOnceAndAWallsImagesKeepWithinItsBudget()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto log = readyLog(redis); // loads the library
    QTRY_VERIFY_WITH_TIMEOUT(log->isReady(), 5000);
    // scrawl_image_add(blob, wall's images; hex, mime, width, height, size, bytes, budget)
    auto add = [&](const QByteArray &wall, const QByteArray &hex, int size) {
        return redis.call({"FCALL", "scrawl_image_add", "2", "scrawl:image:" + hex, "scrawl:wall-images:" + wall,
                           hex, "image/png", "4", "3", QByteArray::number(size), QByteArray(size, 'x'), "100"});
    };
    QCOMPARE(add("1", "aa", 60), QByteArray("*1\r\n$2\r\nok\r\n"));
    QCOMPARE(add("1", "aa", 60), QByteArray("*1\r\n$3\r\ndup\r\n")); // the wall has it
    // A second image would pass the wall's budget: refused with what the wall holds, nothing
    // written.
    QCOMPARE(add("1", "bb", 60), QByteArray("*2\r\n$4\r\nfull\r\n:60\r\n"));
    QCOMPARE(redis.call({"EXISTS", "scrawl:image:bb"}), QByteArray(":0\r\n"));
    // Another wall may have the same image: its bytes are kept once, counted for each wall.
    QCOMPARE(add("2", "aa", 60), QByteArray("*1\r\n$2\r\nok\r\n"));
    QCOMPARE(redis.call({"HGET", "scrawl:wall-images:2", "@total"}), QByteArray("$2\r\n60\r\n"));
    QCOMPARE(redis.call({"HGET", "scrawl:image:aa", "size"}), QByteArray("$2\r\n60\r\n"));
    QCOMPARE(redis.call({"HGET", "scrawl:image:aa", "walls"}), QByteArray("$1\r\n2\r\n")); // linked by two
}

namespace {

// What a follower handed over, checked as it comes: each seq the one after the last.
struct Followed
{
    std::vector<std::uint64_t> seqs;
    std::vector<QByteArray> ops;
    int outOfOrder = 0;

    void attach(WallLogFollower &f, std::uint64_t from = 0)
    {
        std::uint64_t last = from;
        QObject::connect(&f, &WallLogFollower::op, &f, [this, last](std::uint64_t seq, const QByteArray &op) mutable {
            if (seq != last + 1)
                ++outOfOrder;
            last = seq;
            seqs.push_back(seq);
            ops.push_back(op);
        });
    }
};

WallLogFollower::Options quickFollow()
{
    WallLogFollower::Options o;
    o.positionCheckMs = 150;
    o.readBatch = 64; // several reads for a long gap
    return o;
}

// An append that nobody hears of: published on a channel no server listens to (as if the
// message were lost on its way).
QByteArray appendUnheard(const RedisProcess &redis, const QString &wall, const QByteArray &epoch, const QByteArray &op)
{
    const QByteArray prefix = RedisWallLog::keyPrefix(wall);
    return redis.call({"FCALL", "scrawl_append", "3", prefix + "meta", prefix + "log", prefix + "chat", "nobody-listens",
                       epoch, "9", "0", op, "0"});
}

} // namespace

void TestRedisLog::aFollowerHandsOverEveryOpInOrderOnce()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    const QString wall = QStringLiteral("followed");
    const QByteArray epoch = openWall(*a, wall).epoch;
    // Some ops before the follower starts, some while it subscribes, more after.
    for (int i = 1; i <= 100; ++i)
        a->append(wall, epoch, 1, 0, QByteArray::number(i), {});
    WallLogFollower follower(*b, wall, epoch, 0, quickFollow());
    Followed seen;
    seen.attach(follower);
    follower.start();
    for (int i = 101; i <= 1000; ++i)
        a->append(wall, epoch, 1, 0, QByteArray::number(i), {});
    QTRY_COMPARE_WITH_TIMEOUT(seen.seqs.size(), 1000u, 10000);
    QCOMPARE(seen.outOfOrder, 0);
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(seen.ops[size_t(i)], QByteArray::number(i + 1));
    // Nothing more comes (no op handed over twice by the position checks that follow).
    const int reads = follower.reads();
    QTRY_VERIFY_WITH_TIMEOUT(follower.reads() >= reads + 2, 5000);
    QCOMPARE(seen.seqs.size(), 1000u);
}

void TestRedisLog::aFollowerFillsTheGapOfALostMessage()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    const QString wall = QStringLiteral("gap");
    const QByteArray epoch = openWall(*a, wall).epoch;
    WallLogFollower::Options slow = quickFollow();
    slow.positionCheckMs = 60000; // only the gap can make it read
    WallLogFollower follower(*b, wall, epoch, 0, slow);
    Followed seen;
    seen.attach(follower);
    follower.start();
    QTRY_VERIFY(follower.reads() >= 1); // the first read, after subscribing
    const int readsBefore = follower.reads();
    QCOMPARE(appendOne(*a, wall, epoch, 1, 0, "1").seq, 1u);
    QTRY_COMPARE(seen.seqs.size(), 1u);
    for (int i = 2; i <= 150; ++i)
        QVERIFY(appendUnheard(redis, wall, epoch, QByteArray::number(i)).startsWith("*3"));
    QCOMPARE(appendOne(*a, wall, epoch, 1, 0, "151").seq, 151u); // published: shows the gap
    QTRY_COMPARE_WITH_TIMEOUT(seen.seqs.size(), 151u, 5000);
    QCOMPARE(seen.outOfOrder, 0);
    QCOMPARE(seen.ops.back(), QByteArray("151"));
    QVERIFY(follower.reads() > readsBefore + 1); // 149 missed ops in reads of 64
}

void TestRedisLog::aFollowerFindsALostLastMessage()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(b->isReady(), 5000);
    const QString wall = QStringLiteral("last one");
    const QByteArray epoch = openWall(*b, wall).epoch;
    WallLogFollower follower(*b, wall, epoch, 0, quickFollow());
    Followed seen;
    seen.attach(follower);
    follower.start();
    QTRY_VERIFY(follower.reads() >= 1);
    QVERIFY(appendUnheard(redis, wall, epoch, "lost").startsWith("*3"));
    // No later op shows the gap: the position check (every 150 ms here) finds it.
    QTRY_COMPARE_WITH_TIMEOUT(seen.seqs.size(), 1u, 3000);
    QCOMPARE(seen.ops.front(), QByteArray("lost"));
}

void TestRedisLog::aFollowerCatchesUpAfterItsSubscriptionWasCut()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    auto b = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady() && b->isReady(), 5000);
    const QString wall = QStringLiteral("cut");
    const QByteArray epoch = openWall(*a, wall).epoch;
    WallLogFollower::Options slow = quickFollow();
    slow.positionCheckMs = 60000; // only the reconnect can make it read
    WallLogFollower follower(*b, wall, epoch, 0, slow);
    Followed seen;
    seen.attach(follower);
    follower.start();
    QTRY_VERIFY(follower.reads() >= 1);
    QSignalSpy readyChanged(b.get(), &RedisWallLog::readyChanged);

    // Redis drops every subscriber connection (as it does one over its output buffer limit),
    // while ops keep coming.
    QVERIFY(redis.call({"CLIENT", "KILL", "TYPE", "pubsub"}).startsWith(":1"));
    for (int i = 1; i <= 300; ++i)
        a->append(wall, epoch, 1, 0, QByteArray::number(i), {});
    QTRY_VERIFY_WITH_TIMEOUT(readyChanged.size() >= 2, 5000); // lost, back
    QTRY_COMPARE_WITH_TIMEOUT(seen.seqs.size(), 300u, 5000);
    QCOMPARE(seen.outOfOrder, 0);
    // Subscribed again: published ops arrive without a read.
    const int reads = follower.reads();
    a->append(wall, epoch, 1, 0, "301", {});
    QTRY_COMPARE(seen.seqs.size(), 301u);
    QCOMPARE(follower.reads(), reads);
}

void TestRedisLog::aFollowerBehindTheTrimmedLogStopsAndSaysSo()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    const QString wall = QStringLiteral("behind");
    const QByteArray epoch = openWall(*a, wall).epoch;
    for (int i = 1; i <= 10; ++i)
        appendOne(*a, wall, epoch, 1, 0, QByteArray::number(i));
    std::optional<bool> trimmed;
    a->trim(wall, 6, [&](bool ok, QString) { trimmed = ok; });
    QTRY_VERIFY(trimmed.value_or(false));

    // A server that applied up to 3: 4..6 are gone.
    WallLogFollower follower(*a, wall, epoch, 3, quickFollow());
    Followed seen;
    seen.attach(follower, 3);
    QSignalSpy behind(&follower, &WallLogFollower::behindTrimmedLog);
    follower.start();
    QTRY_COMPARE(behind.size(), 1);
    QCOMPARE(behind.at(0).at(0).value<std::uint64_t>(), 3u);
    QCOMPARE(behind.at(0).at(1).value<std::uint64_t>(), 7u);
    QVERIFY(follower.stopped());
    QVERIFY(seen.seqs.empty()); // nothing handed over past the hole
    // Published ops wait too while it is stopped (checked below: 11 comes after 9 and 10).
    appendOne(*a, wall, epoch, 1, 0, "11");

    // Its owner loaded a snapshot at 8: it follows on from there.
    follower.restart(epoch, 8);
    QTRY_COMPARE(seen.seqs.size(), 3u);
    QCOMPARE(seen.seqs, (std::vector<std::uint64_t>{9, 10, 11}));

    // Everything after what a server applied trimmed away (none kept after it): also said.
    a->trim(wall, 11);
    WallLogFollower late(*a, wall, epoch, 5, quickFollow());
    QSignalSpy lateBehind(&late, &WallLogFollower::behindTrimmedLog);
    late.start();
    QTRY_COMPARE(lateBehind.size(), 1);
    QCOMPARE(lateBehind.at(0).at(1).value<std::uint64_t>(), 12u);
}

void TestRedisLog::aFollowerOfAHistoryRedisLostStopsAndSaysSo()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    auto a = readyLog(redis);
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);
    const QString wall = QStringLiteral("forgotten");
    const QByteArray epoch = openWall(*a, wall).epoch;
    appendOne(*a, wall, epoch, 1, 0, "1");
    WallLogFollower follower(*a, wall, epoch, 0, quickFollow());
    Followed seen;
    seen.attach(follower);
    QSignalSpy changed(&follower, &WallLogFollower::epochChanged);
    follower.start();
    QTRY_COMPARE(seen.seqs.size(), 1u);

    redis.kill();
    redis.wipe();
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    // Back, empty: the first read after the reconnect sees the wall is gone.
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 10000);
    QVERIFY(changed.at(0).at(0).toByteArray().isEmpty());
    QVERIFY(follower.stopped());
    QTRY_VERIFY_WITH_TIMEOUT(a->isReady(), 5000);

    // Made again (a new history): followed from its start, and an op published on it comes.
    // (Below: a history that went back, as a promoted replica without the newest ops has.)
    const RedisWallLog::Head fresh = openWall(*a, wall);
    QVERIFY(fresh.epoch != epoch);
    follower.restart(fresh.epoch, 0);
    QCOMPARE(appendOne(*a, wall, fresh.epoch, 1, 0, "new 1").seq, 1u);
    QTRY_COMPARE(seen.seqs.size(), 2u);
    QCOMPARE(seen.ops.back(), QByteArray("new 1"));

    // The same epoch with a head behind what was handed over: stopped, as a lost history.
    appendOne(*a, wall, fresh.epoch, 1, 0, "new 2");
    QTRY_COMPARE(seen.seqs.size(), 3u);
    QVERIFY(redis.call({"HSET", RedisWallLog::keyPrefix(wall) + "meta", "seq", "1"}).startsWith(":"));
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 2, 5000); // found by the position check
    QCOMPARE(changed.at(1).at(0).toByteArray(), fresh.epoch);
    QVERIFY(follower.stopped());
}

QTEST_GUILESS_MAIN(TestRedisLog)
#include "tst_redislog.moc"
