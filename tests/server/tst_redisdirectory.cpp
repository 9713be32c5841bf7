// Issue 18: the Directory (people, walls, access, roles, kicks) behind one interface, checked
// the same way on the embedded SQLite storage and on Redis (a real redis-server of the test's
// own); then what only a cluster has: two servers' directories see each other's changes, and a
// Redis that hangs costs one call its timeout, not every call.

#include "server/redisdirectory.h"
#include "server/storage.h"
#include "tests/support/redisprocess.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

#include <set>

using namespace scrawl;
using scrawl::test::RedisProcess;

namespace {

RedisAddress addressOf(const RedisProcess &redis)
{
    QString error;
    return *RedisAddress::parse(redis.url(), &error);
}

// The contract, whatever is behind it.
void checkDirectory(Directory &d)
{
    // Walls: made once, found by name, listed by name.
    QVERIFY(!d.findWall(QStringLiteral("team")));
    const auto team = d.createWall(QStringLiteral("team"));
    QVERIFY2(team, qPrintable(d.lastError()));
    QVERIFY(team->id > 0);
    QCOMPARE(team->headSeq, 0u);
    const auto again = d.findWall(QStringLiteral("team"));
    QVERIFY(again);
    QCOMPARE(again->id, team->id);
    const auto alpha = d.createWall(QStringLiteral("alpha {1}"));
    QVERIFY(alpha && alpha->id != team->id);
    const auto all = d.walls();
    QCOMPARE(all.size(), 2u);
    QCOMPARE(all[0].name, QStringLiteral("alpha {1}"));
    QCOMPARE(all[1].name, QStringLiteral("team"));

    // Access: none until saved; every field comes back, bytes and all.
    QVERIFY(!d.wallAccess(team->id));
    WallAccess access;
    access.ownerUser = 42;
    access.ownerTokenHash = QByteArray("\x00\x01owner\xff", 8);
    access.passwordHash = QByteArray("\x10\x00hash", 6);
    access.passwordSalt = "salt";
    access.passwordIterations = 600000;
    access.apiTokenHash = QByteArray(32, '\x7f');
    access.locked = true;
    access.protectedWork = true;
    QVERIFY2(d.saveWallAccess(team->id, access), qPrintable(d.lastError()));
    auto stored = d.wallAccess(team->id);
    QVERIFY(stored);
    QCOMPARE(stored->ownerUser, 42u);
    QCOMPARE(stored->ownerTokenHash, access.ownerTokenHash);
    QCOMPARE(stored->passwordHash, access.passwordHash);
    QCOMPARE(stored->passwordSalt, access.passwordSalt);
    QCOMPARE(stored->passwordIterations, 600000);
    QCOMPARE(stored->apiTokenHash, access.apiTokenHash);
    QVERIFY(stored->locked);
    QVERIFY(stored->protectedWork);
    // Changed: the password removed, unlocked.
    access.passwordHash.clear();
    access.passwordSalt.clear();
    access.locked = false;
    QVERIFY(d.saveWallAccess(team->id, access));
    stored = d.wallAccess(team->id);
    QVERIFY(!stored->hasPassword());
    QVERIFY(!stored->locked);
    QVERIFY(!d.wallAccess(alpha->id)); // another wall's is its own

    // Roles: set, changed, removed with 0.
    QVERIFY(d.setRole(team->id, 5, pb::ROLE_MODERATOR));
    QVERIFY(d.setRole(team->id, 6, pb::ROLE_OWNER));
    QVERIFY(d.setRole(team->id, 6, pb::ROLE_MODERATOR));
    QVERIFY(d.setRole(team->id, 5, 0));
    auto roles = d.roles(team->id);
    QCOMPARE(roles.size(), 1u);
    QCOMPARE(roles[0].first, 6u);
    QCOMPARE(roles[0].second, int(pb::ROLE_MODERATOR));
    QVERIFY(d.roles(alpha->id).empty());

    // Kicks: the ones that last are given; the ones that ended are gone for good.
    const qint64 now = 1'800'000'000'000;
    QVERIFY(d.saveKick(team->id, {5, QStringLiteral("203.0.113.7"), now + 10000}));
    QVERIFY(d.saveKick(team->id, {5, QStringLiteral("2001:db8:1:2::/64"), now + 5000}));
    QVERIFY(d.saveKick(team->id, {7, QString(), now - 1}));
    auto kicks = d.kicks(team->id, now);
    QVERIFY(kicks);
    QCOMPARE(kicks->size(), 2u);
    std::set<QString> addresses;
    for (const StoredKick &k : *kicks) {
        QCOMPARE(k.user, 5u);
        addresses.insert(k.address);
    }
    QCOMPARE(addresses, (std::set<QString>{QStringLiteral("203.0.113.7"), QStringLiteral("2001:db8:1:2::/64")}));
    QCOMPARE(d.kicks(team->id, now + 7000)->size(), 1u);
    QCOMPARE(d.kicks(team->id, now)->size(), 1u); // the one that ended at now + 5000 was deleted
    QVERIFY(d.kicks(team->id, now + 20000)->empty());

    // People: one id per token, made only when asked.
    QCOMPARE(d.findUser("token of ada"), std::optional<std::uint64_t>(0)); // unknown: 0, not a failure
    const auto ada = d.createUser("token of ada");
    QVERIFY(ada && *ada > 0);
    QCOMPARE(d.findUser("token of ada"), ada);
    const auto grace = d.createUser("token of grace");
    QVERIFY(grace && *grace != *ada);
}

} // namespace

class TestRedisDirectory : public QObject
{
    Q_OBJECT

private slots:
    void sqliteKeepsTheContract();
    void redisKeepsTheContract();
    void everyServerSeesTheSameDirectory();
    void aHungRedisCostsOneTimeoutThenFailsAtOnce();
};

void TestRedisDirectory::sqliteKeepsTheContract()
{
    QTemporaryDir dir;
    auto storage = makeSqliteStorage(dir.path());
    QString error;
    QVERIFY2(storage->open(&error), qPrintable(error));
    checkDirectory(*storage);
    storage->close();
}

void TestRedisDirectory::redisKeepsTheContract()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    RedisDirectory directory(addressOf(redis));
    checkDirectory(directory);
}

void TestRedisDirectory::everyServerSeesTheSameDirectory()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    RedisDirectory a(addressOf(redis));
    RedisDirectory b(addressOf(redis));
    const auto wall = a.createWall(QStringLiteral("shared"));
    QVERIFY2(wall, qPrintable(a.lastError()));
    // The other server finds it, by name and by id, and what one changes the other reads.
    QCOMPARE(b.findWall(QStringLiteral("shared"))->id, wall->id);
    QVERIFY(b.setRole(wall->id, 9, pb::ROLE_MODERATOR));
    QCOMPARE(a.roles(wall->id).size(), 1u);
    WallAccess access;
    access.ownerUser = 3;
    access.locked = true;
    QVERIFY(a.saveWallAccess(wall->id, access));
    QVERIFY(b.wallAccess(wall->id)->locked);
    const qint64 now = 1'800'000'000'000;
    QVERIFY(b.saveKick(wall->id, {9, QStringLiteral("198.51.100.1"), now + 1000}));
    QCOMPARE(a.kicks(wall->id, now)->size(), 1u);
    const auto ada = a.createUser("ada");
    QCOMPARE(b.findUser("ada"), ada);
    QCOMPARE(b.createUser("ada"), ada); // arriving at the other server: still one person
    // Made at once on both (a race): one wall, one id.
    const auto x = a.createWall(QStringLiteral("raced"));
    const auto y = b.createWall(QStringLiteral("raced"));
    QCOMPARE(x->id, y->id);
    QCOMPARE(a.walls().size(), 2u);
    // An unknown wall id is an error that says so, not a crash or an empty record.
    QVERIFY(!a.wallAccess(9999));
    QVERIFY2(a.lastError().contains(QStringLiteral("no wall 9999")), qPrintable(a.lastError()));
}

void TestRedisDirectory::aHungRedisCostsOneTimeoutThenFailsAtOnce()
{
    RedisProcess redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    RedisSyncConnection::Options options;
    options.timeoutMs = 400;
    options.failFastMs = 2000;
    RedisDirectory directory(addressOf(redis), options);
    const auto wall = directory.createWall(QStringLiteral("w"));
    QVERIFY(wall);

    redis.pause();
    QElapsedTimer clock;
    clock.start();
    QVERIFY(!directory.findUser("someone"));
    const qint64 first = clock.elapsed();
    QVERIFY2(first >= 350 && first < 1500, qPrintable(QStringLiteral("%1 ms").arg(first)));
    QVERIFY2(directory.lastError().contains(QStringLiteral("did not answer within 400 ms")),
             qPrintable(directory.lastError()));
    QVERIFY2(directory.lastError().contains(redis.url()), qPrintable(directory.lastError()));
    // The next calls do not wait again.
    clock.restart();
    for (int i = 0; i < 20; ++i) {
        QVERIFY(!directory.findWall(QStringLiteral("w")));
        QVERIFY(directory.lastError().contains(QStringLiteral("did not answer")));
    }
    QVERIFY2(clock.elapsed() < 100, qPrintable(QStringLiteral("%1 ms").arg(clock.elapsed())));

    redis.resume();
    // Once the fail-fast window is over, the next call connects again.
    QTRY_VERIFY_WITH_TIMEOUT(directory.findWall(QStringLiteral("w")).has_value(), 5000);
    QCOMPARE(directory.findWall(QStringLiteral("w"))->id, wall->id);
}

QTEST_GUILESS_MAIN(TestRedisDirectory)
#include "tst_redisdirectory.moc"
