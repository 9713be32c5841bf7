// Issue 18: one contract, two wall logs (server/walllog.h). Every case runs twice, on a server
// whose walls are in its SQLite file (SqliteWallLog) and on one whose walls are in a real
// redis-server of the test's own (Cluster), with real WebSocket clients: what a person sees must
// not depend on which one keeps the wall.

#include "core/wallmodel.h"
#include "server/cluster.h"
#include "server/wallserver.h"
#include "tests/support/redisprocess.h"
#include "tests/support/testclient.h"

#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace scrawl;
using scrawl::test::RedisProcess;
using scrawl::test::TestClient;

namespace {

std::vector<std::uint64_t> seqsOf(const TestClient &c, std::uint64_t from)
{
    std::vector<std::uint64_t> out;
    std::uint64_t last = from;
    for (const pb::Op &op : c.ops()) {
        last = op.seq() ? op.seq() : last + 1; // stroke points and ends come unnumbered
        out.push_back(last);
    }
    return out;
}

pb::Op noteAdd(std::uint32_t id, const char *text)
{
    pb::Op op;
    op.mutable_note_add()->set_id(id);
    op.mutable_note_add()->set_x(10.0 * id);
    op.mutable_note_add()->set_text(text);
    return op;
}

const pb::WallState *lastWallState(const TestClient &c)
{
    for (auto it = c.received.rbegin(); it != c.received.rend(); ++it) {
        if (it->has_wall_state())
            return &it->wall_state();
    }
    return nullptr;
}

void moderate(TestClient &c, pb::Moderate::Action action, bool on)
{
    pb::Envelope env;
    env.mutable_moderate()->set_action(action);
    env.mutable_moderate()->set_on(on);
    c.sendEnvelope(env);
}

} // namespace

class TestWallLog : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void opsLandInOneOrderAndAResendIsAnsweredNotApplied_data() { backends(); }
    void opsLandInOneOrderAndAResendIsAnsweredNotApplied();
    void eachOpIsCheckedAgainstTheLockAsItStoodAtItsTurn_data() { backends(); }
    void eachOpIsCheckedAgainstTheLockAsItStoodAtItsTurn();
    void aReturningClientGetsOnlyWhatItMissed_data() { backends(); }
    void aReturningClientGetsOnlyWhatItMissed();
    void anUnloadedWallComesBackAsItWas_data() { backends(); }
    void anUnloadedWallComesBackAsItWas();
    void chatHistoryPagesBack_data() { backends(); }
    void chatHistoryPagesBack();
    void deletingAWallEndsItsSessionsAndItsOps_data() { backends(); }
    void deletingAWallEndsItsSessionsAndItsOps();
    void thePastComesInPagesAsItLanded_data() { backends(); }
    void thePastComesInPagesAsItLanded();

private:
    static void backends()
    {
        QTest::addColumn<bool>("redis");
        QTest::newRow("sqlite") << false;
        QTest::newRow("redis") << true;
    }
    // A server on the row's wall log; false (and the test failed) if it did not start.
    bool startServer();
    QUrl url() const { return m_server->url(); }

    QTemporaryDir m_dir;
    std::unique_ptr<RedisProcess> m_redis;
    std::unique_ptr<WallServer> m_server;
};

void TestWallLog::init()
{
    QVERIFY(m_dir.isValid());
}

void TestWallLog::cleanup()
{
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_redis.reset();
}

bool TestWallLog::startServer()
{
    QFETCH(bool, redis);
    ServerOptions options;
    options.host = QHostAddress::LocalHost;
    options.port = 0;
    options.dataDir = m_dir.path() + QLatin1String(redis ? "/redis" : "/sqlite") + QLatin1String(QTest::currentTestFunction());
    options.passwordIterations = 1000;
    options.wallIdleUnloadMs = 200;
    if (redis) {
        m_redis = std::make_unique<RedisProcess>();
        if (!m_redis->start()) {
            qWarning() << m_redis->error();
            return false;
        }
        options.redisUrl = m_redis->url();
    }
    m_server = std::make_unique<WallServer>(options);
    QString error;
    if (!m_server->start(&error)) {
        qWarning() << error;
        return false;
    }
    if (redis && !QTest::qWaitFor([&] { return m_server->cluster()->ready(); }, 10000))
        return false;
    return true;
}

void TestWallLog::opsLandInOneOrderAndAResendIsAnsweredNotApplied()
{
    QVERIFY(startServer());
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("contract")));
    QVERIFY(grace.join(QStringLiteral("contract")));

    std::vector<std::uint64_t> adaIds = ada.stroke(1, {{10, 10}, {20, 20}, {30, 25}, {40, 40}}, 2);
    const std::uint64_t note = ada.sendOp(noteAdd(2, "first"));
    const std::uint64_t hello = grace.chat(QStringLiteral("hello"));
    const size_t total = adaIds.size() + 2;
    QTRY_COMPARE(ada.ops().size(), total);
    QTRY_COMPARE(grace.ops().size(), total);
    for (std::uint64_t id : adaIds)
        QVERIFY(ada.acked(id));
    QVERIFY(ada.acked(note));
    QVERIFY(grace.acked(hello));
    // One order, gap-free, the same for both.
    const auto seqs = seqsOf(ada, 0);
    QCOMPARE(seqsOf(grace, 0), seqs);
    for (size_t i = 0; i < seqs.size(); ++i)
        QCOMPARE(seqs[i], std::uint64_t(i + 1));
    QCOMPARE(ada.model.serializedSnapshot(), grace.model.serializedSnapshot());

    // Ada's connection drops before she saw the ack of her note; she comes back as herself and
    // sends it again: she gets it as it was stored, at its seq, and nothing is applied twice.
    std::uint64_t noteSeq = 0;
    for (const pb::Op &op : ada.ops()) {
        if (op.author() == ada.userId && op.client_op_id() == note)
            noteSeq = op.seq();
    }
    QVERIFY(noteSeq > 0);
    const std::uint64_t head = ada.model.seq();
    ada.socket().close();
    QTRY_COMPARE(ada.disconnects, 1);
    TestClient back;
    QVERIFY(back.connectAs(url(), QStringLiteral("Ada"), ada.resumeToken));
    QCOMPARE(back.userId, ada.userId);
    QVERIFY(back.join(QStringLiteral("contract"), head));
    pb::Op again = noteAdd(2, "first");
    again.set_client_op_id(note);
    back.sendOp(again);
    QTRY_VERIFY(back.acked(note));
    QCOMPARE(back.ops().back().seq(), noteSeq);
    // Grace's next op is the next seq: the resend took none.
    const std::uint64_t after = grace.chat(QStringLiteral("after the resend"));
    QTRY_VERIFY(grace.acked(after));
    QCOMPARE(grace.ops().back().seq(), head + 1);
    QTRY_COMPARE(back.model.seq(), head + 1);
    QVERIFY(!back.lastError());
}

void TestWallLog::eachOpIsCheckedAgainstTheLockAsItStoodAtItsTurn()
{
    QVERIFY(startServer());
    TestClient owner;
    TestClient member;
    QVERIFY(owner.connectAs(url(), QStringLiteral("Owner")));
    QVERIFY(member.connectAs(url(), QStringLiteral("Member")));
    QVERIFY(owner.join(QStringLiteral("locked"))); // made by the owner
    QVERIFY(member.join(QStringLiteral("locked")));

    moderate(owner, pb::Moderate::LOCK, true);
    QTRY_VERIFY(lastWallState(member) && lastWallState(member)->locked());
    const std::uint64_t refused = member.sendOp(noteAdd(1, "while locked"));
    QTRY_VERIFY(member.lastError());
    QCOMPARE(member.lastError()->code(), pb::WALL_LOCKED);
    QCOMPARE(member.lastError()->client_op_id(), refused);
    // Chat stays open on a locked wall; the owner still draws.
    const std::uint64_t chat = member.chat(QStringLiteral("may I?"));
    const std::uint64_t ownerNote = owner.sendOp(noteAdd(2, "the owner's"));
    QTRY_VERIFY(member.acked(chat));
    QTRY_VERIFY(owner.acked(ownerNote));

    moderate(owner, pb::Moderate::LOCK, false);
    QTRY_VERIFY(lastWallState(member) && !lastWallState(member)->locked());
    const std::uint64_t accepted = member.sendOp(noteAdd(3, "after the unlock"));
    QTRY_VERIFY(member.acked(accepted));
    QTRY_COMPARE(owner.model.seq(), member.model.seq());
    QCOMPARE(owner.model.serializedSnapshot(), member.model.serializedSnapshot());
    size_t notes = 0;
    for (const auto &n : member.model.notes())
        notes += n.deleted ? 0 : 1;
    QCOMPARE(notes, size_t(2)); // the owner's and the one after the unlock
}

void TestWallLog::aReturningClientGetsOnlyWhatItMissed()
{
    QVERIFY(startServer());
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("resume")));
    QVERIFY(grace.join(QStringLiteral("resume")));
    for (std::uint32_t i = 1; i <= 3; ++i)
        ada.sendOp(noteAdd(i, "before"));
    QTRY_COMPARE(grace.model.seq(), std::uint64_t(3));
    const std::uint64_t seen = grace.model.seq();
    const QByteArray token = QByteArray::fromStdString(grace.resumeToken);
    grace.socket().close();
    QTRY_COMPARE(grace.disconnects, 1);
    for (std::uint32_t i = 4; i <= 6; ++i)
        ada.sendOp(noteAdd(i, "while Grace was away"));
    QTRY_COMPARE(ada.model.seq(), std::uint64_t(6));

    TestClient back;
    QVERIFY(back.connectAs(url(), QStringLiteral("Grace"), token.toStdString()));
    back.model = grace.model; // what the app kept
    QVERIFY(back.join(QStringLiteral("resume"), seen));
    const pb::Joined *joined = back.lastJoined();
    QVERIFY(joined);
    QVERIFY(!joined->has_snapshot()); // three small ops weigh less than the wall
    QCOMPARE(joined->ops_size(), 3);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(joined->ops(i).seq(), seen + 1 + std::uint64_t(i));
    QCOMPARE(back.model.serializedSnapshot(), ada.model.serializedSnapshot());
}

void TestWallLog::anUnloadedWallComesBackAsItWas()
{
    QVERIFY(startServer());
    QByteArray before;
    std::uint64_t head = 0;
    {
        TestClient ada;
        QVERIFY(ada.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(ada.join(QStringLiteral("sleepy")));
        ada.stroke(1, {{5, 5}, {50, 60}, {90, 20}}, 2);
        const std::uint64_t last = ada.sendOp(noteAdd(2, "kept"));
        QTRY_VERIFY(ada.acked(last));
        before = ada.model.serializedSnapshot();
        head = ada.model.seq();
        ada.socket().close();
        QTRY_COMPARE(ada.disconnects, 1);
    }
    // Nobody on it: it leaves memory (wallIdleUnloadMs), and comes back from its log.
    QTRY_VERIFY_WITH_TIMEOUT(!m_server->loadedRoom(QStringLiteral("sleepy")), 5000);
    TestClient grace;
    QVERIFY(grace.connectAs(url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("sleepy")));
    QCOMPARE(grace.lastJoined()->head_seq(), head);
    QCOMPARE(grace.model.serializedSnapshot(), before);
    // And it goes on from there.
    const std::uint64_t next = grace.sendOp(noteAdd(3, "next"));
    QTRY_VERIFY(grace.acked(next));
    QCOMPARE(grace.model.seq(), head + 1);
}

void TestWallLog::chatHistoryPagesBack()
{
    QVERIFY(startServer());
    TestClient ada;
    QVERIFY(ada.connectAs(url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("talk")));
    std::uint64_t last = 0;
    for (int i = 1; i <= 5; ++i) {
        last = ada.chat(QStringLiteral("message %1").arg(i));
        ada.sendOp(noteAdd(std::uint32_t(i), "between")); // chat is not every op
    }
    QTRY_VERIFY(ada.acked(last));
    QTRY_COMPARE(ada.model.seq(), std::uint64_t(10));

    pb::Envelope ask;
    ask.mutable_history_request()->set_limit(3);
    ada.sendEnvelope(ask);
    QTRY_COMPARE(ada.count(pb::Envelope::kHistory), size_t(1));
    const pb::History *page = nullptr;
    for (const auto &env : ada.received) {
        if (env.has_history())
            page = &env.history();
    }
    QVERIFY(page);
    QCOMPARE(page->chat_size(), 3);
    QVERIFY(page->more());
    QCOMPARE(page->chat(0).chat().text(), std::string("message 3")); // oldest first
    QCOMPARE(page->chat(2).chat().text(), std::string("message 5"));
    QCOMPARE(page->chat(2).chat().author_name(), std::string("Ada"));

    ask.mutable_history_request()->set_before_seq(page->chat(0).seq());
    ada.sendEnvelope(ask);
    QTRY_COMPARE(ada.count(pb::Envelope::kHistory), size_t(2));
    const pb::History &older = ada.received.back().history();
    QCOMPARE(older.chat_size(), 2);
    QVERIFY(!older.more());
    QCOMPARE(older.chat(0).chat().text(), std::string("message 1"));
}

void TestWallLog::deletingAWallEndsItsSessionsAndItsOps()
{
    QVERIFY(startServer());
    TestClient owner;
    TestClient member;
    QVERIFY(owner.connectAs(url(), QStringLiteral("Owner")));
    QVERIFY(member.connectAs(url(), QStringLiteral("Member")));
    QVERIFY(owner.join(QStringLiteral("doomed")));
    QVERIFY(member.join(QStringLiteral("doomed")));
    const std::uint64_t last = member.sendOp(noteAdd(1, "gone soon"));
    QTRY_VERIFY(member.acked(last));

    moderate(owner, pb::Moderate::DELETE_WALL, true);
    QTRY_VERIFY(member.lastError());
    QCOMPARE(member.lastError()->code(), pb::WALL_DELETED);
    QTRY_VERIFY(owner.lastError());
    QCOMPARE(owner.lastError()->code(), pb::WALL_DELETED);
    QTRY_VERIFY(!m_server->loadedRoom(QStringLiteral("doomed")));
    QVERIFY(!m_server->directory().findWall(QStringLiteral("doomed")));

    // The name is free again: whoever joins it next starts a new, empty wall.
    TestClient next;
    QVERIFY(next.connectAs(url(), QStringLiteral("Next")));
    QVERIFY(next.join(QStringLiteral("doomed")));
    QCOMPARE(next.lastJoined()->head_seq(), std::uint64_t(0));
    QVERIFY(next.lastJoined()->created());
}

// The timeline's source: the wall's ops after a seq, in pages, as they landed; replayed, they
// make the wall.
void TestWallLog::thePastComesInPagesAsItLanded()
{
    QVERIFY(startServer());
    TestClient ada;
    QVERIFY(ada.connectAs(url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("past")));
    std::uint64_t last = 0;
    for (std::uint32_t i = 1; i <= 12; ++i)
        last = ada.sendOp(noteAdd(i, "then"));
    last = ada.chat(QStringLiteral("and a word"));
    QTRY_VERIFY(ada.acked(last));
    QTRY_COMPARE(ada.model.seq(), std::uint64_t(13));

    auto page = [&](std::uint64_t after, std::uint32_t limit) -> const pb::OpsPage * {
        const size_t before = ada.count(pb::Envelope::kOpsPage);
        pb::Envelope ask;
        ask.mutable_ops_request()->set_after_seq(after);
        ask.mutable_ops_request()->set_limit(limit);
        ada.sendEnvelope(ask);
        if (!TestClient::waitFor([&] { return ada.count(pb::Envelope::kOpsPage) > before; }))
            return nullptr;
        return ada.lastOpsPage();
    };
    WallModel replay;
    std::uint64_t after = 0;
    std::vector<std::uint64_t> seqs;
    while (after < 13) {
        const pb::OpsPage *p = page(after, 5);
        QVERIFY(p);
        QVERIFY(!p->gone());
        QCOMPARE(p->after_seq(), after);
        QCOMPARE(p->head_seq(), std::uint64_t(13));
        QVERIFY(p->ops_size() > 0 && p->ops_size() <= 5);
        for (const pb::Op &op : p->ops()) {
            seqs.push_back(op.seq());
            replay.apply(op);
        }
        after = p->ops(p->ops_size() - 1).seq();
    }
    QCOMPARE(seqs.size(), size_t(13));
    for (size_t i = 0; i < seqs.size(); ++i)
        QCOMPARE(seqs[i], std::uint64_t(i + 1));
    QCOMPARE(replay.serializedSnapshot(), ada.model.serializedSnapshot());
    // At the head: an empty page that says where the head is.
    const pb::OpsPage *end = page(13, 5);
    QVERIFY(end);
    QCOMPARE(end->ops_size(), 0);
    QCOMPARE(end->head_seq(), std::uint64_t(13));
    QVERIFY(!ada.lastError());
}

QTEST_GUILESS_MAIN(TestWallLog)
#include "tst_walllog.moc"
