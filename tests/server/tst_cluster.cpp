// Issue 18: several scrawl-servers serving the same walls through Redis. A real redis-server of
// the test's own (free port, AOF with fsync always in a temp dir), two real WallServers on port 0
// started with --redis's option, real WebSocket clients on each: they see one wall, with the
// same ops at the same seqs; an op that no longer fits when its turn comes lands as a void on
// every server and its author is told; cursors cross servers; a server that cannot reach Redis
// says so on /health and holds changes until it can; a server killed with -9 loses nothing
// acknowledged; Redis killed and restarted (its AOF) loses nothing acknowledged either.

#include "core/wallmodel.h"
#include "server/cluster.h"
#include "server/wallserver.h"
#include "tests/support/balancerprocess.h"
#include "tests/support/faultproxy.h"
#include "tests/support/redisprocess.h"
#include "tests/support/serverprocess.h"
#include "tests/support/testclient.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QImage>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <set>

using namespace scrawl;
using scrawl::test::BalancerProcess;
using scrawl::test::FaultProxy;
using scrawl::test::RedisProcess;
using scrawl::test::ServerProcess;
using scrawl::test::TestClient;

namespace {

struct Node
{
    QTemporaryDir dir;
    std::unique_ptr<WallServer> server;
};

std::vector<std::uint64_t> seqsOf(const TestClient &c)
{
    std::vector<std::uint64_t> out;
    std::uint64_t last = c.lastJoined() ? c.lastJoined()->head_seq() : 0;
    for (const pb::Op &op : c.ops()) {
        // Stroke points and ends come unnumbered: the op after the last.
        last = op.seq() ? op.seq() : last + 1;
        out.push_back(last);
    }
    return out;
}

size_t liveNotes(const WallModel &model)
{
    return size_t(std::count_if(model.notes().begin(), model.notes().end(),
                                [](const WallModel::Note &n) { return !n.deleted; }));
}

// GET /health: its body, and its HTTP status under "http".
QJsonObject health(const QUrl &wsUrl)
{
    QUrl url = wsUrl;
    url.setScheme(QStringLiteral("http"));
    url.setPath(QStringLiteral("/health"));
    QNetworkAccessManager nam;
    std::unique_ptr<QNetworkReply> reply(nam.get(QNetworkRequest(url)));
    QSignalSpy done(reply.get(), &QNetworkReply::finished);
    if (!reply->isFinished() && !done.wait(5000))
        return {};
    QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
    body.insert(QStringLiteral("http"), reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt());
    return body;
}

// An HTTP request to a server of the cluster: its status and body.
struct HttpReply
{
    int status = 0;
    QByteArray body;
};

HttpReply httpRequest(const QUrl &wsUrl, const QByteArray &verb, const QString &path, const QByteArray &token,
                      const QByteArray &body = {})
{
    QUrl url = wsUrl;
    url.setScheme(QStringLiteral("http"));
    url.setPath(path);
    QNetworkAccessManager nam;
    QNetworkRequest request(url);
    if (!body.isNull())
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/octet-stream");
    if (!token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + token);
    std::unique_ptr<QNetworkReply> reply(nam.sendCustomRequest(request, verb, body));
    QSignalSpy done(reply.get(), &QNetworkReply::finished);
    if (!reply->isFinished() && !done.wait(20000))
        return {};
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
}

pb::Op noteAdd(std::uint32_t id)
{
    pb::Op op;
    op.mutable_note_add()->set_id(id);
    op.mutable_note_add()->set_x(double(id % 50) * 20);
    op.mutable_note_add()->set_text("busy");
    return op;
}

QByteArray imageTokenOf(const TestClient &c)
{
    return c.lastJoined() ? QByteArray::fromStdString(c.lastJoined()->image_token()) : QByteArray();
}

} // namespace

class TestCluster : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void clientsOnTwoServersSeeOneWall();
    void anOpThatNoLongerFitsIsAVoidEverywhereAndItsAuthorIsTold();
    void aLockTakesEffectInLogOrderOnEveryServer();
    void aReturningClientResumesOnAnotherServerFromItsSeq();
    void cursorsCrossServers();
    void peopleOnOtherServersArePresentAndRolesCross();
    void theOwnerDeletesAWallOnEveryServer();
    void aDeleteRacingChangesFromAnotherServerLeavesNoWallBehind();
    void aDeadServersPeopleAreForgotten();
    void chatHistoryIsSharedAndOutlivesTheTrimmedLog();
    void theTimelineReplaysFromAKeptSnapshotOnAnyServer();
    void theHttpApiPostsThroughAnyServer();
    void imagesUploadedThroughOneServerAreServedByEvery();
    void aServerWithoutRedisSaysSoAndHoldsChangesUntilItIsBack();
    void aStalledLinkToRedisIsNoticedAndItsClientsMoveElsewhere();
    void aBadRedisAddressIsRefusedByName();
    void aServerKilledMidStreamLosesNothingAcknowledged();
    void behindALoadBalancerClientsMoveOffKilledServers_data();
    void behindALoadBalancerClientsMoveOffKilledServers();
    void redisKilledMidStreamLosesNothingAcknowledged();
    void redisBackEmptyIsNoticedAndMembersAreToldToRejoin();

private:
    std::unique_ptr<RedisProcess> m_redis;
    std::vector<std::unique_ptr<Node>> m_nodes;

    int m_logKeepOps = 0; // > 0: the nodes' clusterLogKeepOps

    WallServer &node(size_t i) { return *m_nodes.at(i)->server; }
    void startNodes(int count, int snapshotEveryOps = 0, QString redisUrl = {})
    {
        for (int i = 0; i < count; ++i) {
            auto n = std::make_unique<Node>();
            ServerOptions options;
            options.host = QHostAddress::LocalHost;
            options.port = 0;
            options.dataDir = n->dir.path();
            options.redisUrl = redisUrl.isEmpty() ? m_redis->url() : redisUrl;
            options.passwordIterations = 1000;
            if (snapshotEveryOps > 0)
                options.snapshotEveryOps = snapshotEveryOps;
            if (m_logKeepOps > 0)
                options.clusterLogKeepOps = m_logKeepOps;
            n->server = std::make_unique<WallServer>(options);
            QString error;
            QVERIFY2(n->server->start(&error), qPrintable(error));
            m_nodes.push_back(std::move(n));
        }
        for (auto &n : m_nodes)
            QTRY_VERIFY_WITH_TIMEOUT(n->server->cluster() && n->server->cluster()->ready(), 10000);
    }
};

void TestCluster::init()
{
    m_redis = std::make_unique<RedisProcess>();
    QVERIFY2(m_redis->start(), qPrintable(m_redis->error()));
}

void TestCluster::cleanup()
{
    for (auto &n : m_nodes)
        n->server->stop();
    m_nodes.clear();
    m_redis.reset();
    m_logKeepOps = 0;
}

void TestCluster::clientsOnTwoServersSeeOneWall()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("team"))); // made on the first server
    QVERIFY(grace.join(QStringLiteral("team"))); // found on the second
    QVERIFY(ada.userId != grace.userId); // one directory: two people, two ids

    // Both draw and chat at once, each on their own server.
    std::vector<std::uint64_t> adaIds = ada.stroke(1, {{10, 10}, {20, 20}, {30, 25}, {40, 40}, {50, 45}, {60, 70}}, 3);
    std::vector<std::uint64_t> graceIds = grace.stroke(1, {{100, 10}, {110, 30}, {120, 50}, {130, 60}}, 2);
    adaIds.push_back(ada.chat(QStringLiteral("hello from server one")));
    graceIds.push_back(grace.chat(QStringLiteral("and from server two")));
    const size_t total = adaIds.size() + graceIds.size();
    QTRY_COMPARE_WITH_TIMEOUT(ada.ops().size(), total, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(grace.ops().size(), total, 10000);
    for (std::uint64_t id : adaIds)
        QVERIFY(ada.acked(id));
    for (std::uint64_t id : graceIds)
        QVERIFY(grace.acked(id));

    // The same ops at the same seqs, gap-free, on both; the same wall.
    const auto seqs = seqsOf(ada);
    QCOMPARE(seqsOf(grace), seqs);
    for (size_t i = 0; i < seqs.size(); ++i)
        QCOMPARE(seqs[i], std::uint64_t(i + 1));
    QCOMPARE(ada.model.seq(), std::uint64_t(total));
    QCOMPARE(ada.model.serializedSnapshot(), grace.model.serializedSnapshot());
    QCOMPARE(ada.model.strokes().size(), 2u);

    // A third person joining on either server gets that wall.
    TestClient late;
    QVERIFY(late.connectAs(node(1).url(), QStringLiteral("Late")));
    QVERIFY(late.join(QStringLiteral("team")));
    QCOMPARE(late.lastJoined()->head_seq(), std::uint64_t(total));
    QCOMPARE(late.model.serializedSnapshot(), ada.model.serializedSnapshot());
}

void TestCluster::anOpThatNoLongerFitsIsAVoidEverywhereAndItsAuthorIsTold()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("notes")));
    QVERIFY(grace.join(QStringLiteral("notes")));

    pb::Op add;
    add.mutable_note_add()->set_id(1);
    add.mutable_note_add()->set_text("plan");
    const std::uint64_t added = ada.sendOp(add);
    QTRY_VERIFY(ada.acked(added));
    QTRY_COMPARE(liveNotes(grace.model), 1u);
    const std::uint64_t note = objectKey(ada.userId, 1);

    // Ada deletes the note; Grace edits it after the delete has landed. Her server takes the edit
    // (what depends on the wall is checked at its turn), and at its turn the note is gone.
    pb::Op del;
    del.mutable_note_delete()->set_note(note);
    const std::uint64_t deleted = ada.sendOp(del);
    QTRY_COMPARE(liveNotes(grace.model), 0u);
    pb::Op edit;
    edit.mutable_note_edit()->set_note(note);
    edit.mutable_note_edit()->set_text("plan, v2");
    const std::uint64_t edited = grace.sendOp(edit);

    // Grace is told why, with her op's id; everyone gets a void at its seq (no change, the seq
    // kept, so that the order stays gap-free).
    QTRY_VERIFY(grace.lastError() && grace.lastError()->client_op_id() == edited);
    QVERIFY2(QString::fromStdString(grace.lastError()->message()).contains(QStringLiteral("is not on this wall")),
             grace.lastError()->message().c_str());
    QTRY_COMPARE(ada.ops().size(), 3u);
    QTRY_COMPARE(grace.ops().size(), 3u);
    QVERIFY(ada.acked(deleted));
    const pb::Op voidAtAda = ada.ops().back();
    const pb::Op voidAtGrace = grace.ops().back();
    QCOMPARE(voidAtAda.seq(), 3u);
    QCOMPARE(voidAtGrace.seq(), 3u);
    QCOMPARE(int(voidAtAda.body_case()), int(pb::Op::BODY_NOT_SET));
    QCOMPARE(voidAtAda.author(), grace.userId);
    QCOMPARE(ada.model.serializedSnapshot(), grace.model.serializedSnapshot());

    // A server that loads the wall afterwards (from the log in Redis) lands it the same way.
    auto third = std::make_unique<Node>();
    ServerOptions options;
    options.host = QHostAddress::LocalHost;
    options.port = 0;
    options.dataDir = third->dir.path();
    options.redisUrl = m_redis->url();
    third->server = std::make_unique<WallServer>(options);
    QString error;
    QVERIFY2(third->server->start(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(third->server->cluster()->ready(), 10000);
    TestClient late;
    QVERIFY(late.connectAs(third->server->url(), QStringLiteral("Late")));
    QVERIFY(late.join(QStringLiteral("notes")));
    QCOMPARE(late.lastJoined()->head_seq(), 3u);
    QCOMPARE(late.model.serializedSnapshot(), ada.model.serializedSnapshot());
    m_nodes.push_back(std::move(third));
}

void TestCluster::aLockTakesEffectInLogOrderOnEveryServer()
{
    // Small snapshots, so that one is stored after the lock and a server loading the wall later
    // starts from it.
    startNodes(2, 20);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("review"))); // Ada owns it
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("review")));

    // Grace adds notes on server two while Ada, on server one, locks the wall in the middle.
    auto addNote = [&](std::uint32_t id) {
        pb::Op add;
        add.mutable_note_add()->set_id(id);
        add.mutable_note_add()->set_text("idea");
        return grace.sendOp(add);
    };
    std::vector<std::uint64_t> sent;
    for (std::uint32_t id = 1; id <= 30; ++id)
        sent.push_back(addNote(id));
    QTRY_VERIFY_WITH_TIMEOUT(liveNotes(ada.model) >= 5, 5000);
    pb::Envelope lock;
    lock.mutable_moderate()->set_action(pb::Moderate::LOCK);
    lock.mutable_moderate()->set_on(true);
    ada.sendEnvelope(lock);
    for (std::uint32_t id = 31; id <= 60; ++id)
        sent.push_back(addNote(id));
    for (std::uint64_t id : sent)
        QTRY_VERIFY_WITH_TIMEOUT(grace.acked(id), 10000);

    // The lock is an entry of the log: an op without a body and without an author, at a seq of
    // its own. Every op of Grace's before it is on the wall, every one after it a void.
    const std::vector<pb::Op> ops = ada.ops();
    std::uint64_t lockSeq = 0;
    for (const pb::Op &op : ops) {
        if (op.author() == 0 && op.body_case() == pb::Op::BODY_NOT_SET)
            lockSeq = op.seq();
    }
    QVERIFY(lockSeq > 0);
    size_t before = 0;
    size_t after = 0;
    for (const pb::Op &op : ops) {
        if (op.author() != grace.userId)
            continue;
        if (op.seq() < lockSeq) {
            QCOMPARE(int(op.body_case()), int(pb::Op::kNoteAdd));
            ++before;
        } else {
            QCOMPARE(int(op.body_case()), int(pb::Op::BODY_NOT_SET));
            ++after;
        }
    }
    QCOMPARE(before + after, sent.size());
    QVERIFY(after >= 30); // all those sent after the lock, and maybe some sent before it
    QVERIFY(grace.lastError()
            && QString::fromStdString(grace.lastError()->message()).contains(QStringLiteral("locked")));
    QTRY_COMPARE_WITH_TIMEOUT(grace.ops().size(), ops.size(), 5000);
    QCOMPARE(grace.model.serializedSnapshot(), ada.model.serializedSnapshot());
    QCOMPARE(liveNotes(ada.model), before);
    // Both servers say the wall is locked.
    auto saysLocked = [](const TestClient &c) {
        for (auto it = c.received.rbegin(); it != c.received.rend(); ++it) {
            if (it->has_wall_state())
                return it->wall_state().locked();
        }
        return false;
    };
    QTRY_VERIFY(saysLocked(ada));
    QTRY_VERIFY(saysLocked(grace));

    // A server that loads the wall afterwards, from the snapshot stored after the lock and the
    // log after it, lands everything the same way and knows the wall is locked.
    const QByteArray snap = RedisWallLog::keyPrefix(QStringLiteral("review")) + "snap";
    auto snapshotSeq = [&] { return m_redis->call({"HGET", snap, "seq"}).split('\n').value(1).trimmed().toULongLong(); };
    // The owner may still write: her notes make the wall grow until a snapshot is due.
    for (std::uint32_t id = 1; id <= 500 && snapshotSeq() <= lockSeq; ++id) {
        pb::Op own;
        own.mutable_note_add()->set_id(id);
        own.mutable_note_add()->set_text("the owner's note, long enough to weigh something");
        const std::uint64_t sentOwn = ada.sendOp(own);
        QTRY_VERIFY(ada.acked(sentOwn));
    }
    QVERIFY(snapshotSeq() > lockSeq);
    QTRY_COMPARE(grace.model.seq(), ada.model.seq());
    startNodes(1);
    TestClient late;
    QVERIFY(late.connectAs(node(2).url(), QStringLiteral("Newcomer")));
    QVERIFY(late.join(QStringLiteral("review")));
    QCOMPARE(late.model.serializedSnapshot(), ada.model.serializedSnapshot());
    QVERIFY(late.lastJoined()->locked());
    pb::Op add;
    add.mutable_note_add()->set_id(99);
    const std::uint64_t refused = late.sendOp(add);
    QTRY_VERIFY(late.lastError() && late.lastError()->client_op_id() == refused);
    QVERIFY2(QString::fromStdString(late.lastError()->message()).contains(QStringLiteral("locked")),
             late.lastError()->message().c_str());

    // And one that loads the whole log, without a snapshot, too: Redis's snapshot removed.
    m_redis->call({"DEL", snap});
    startNodes(1);
    TestClient replayed;
    QVERIFY(replayed.connectAs(node(3).url(), QStringLiteral("Replay")));
    QVERIFY(replayed.join(QStringLiteral("review")));
    QCOMPARE(replayed.model.serializedSnapshot(), late.model.serializedSnapshot());
    QVERIFY(replayed.lastJoined()->locked());
}

void TestCluster::aReturningClientResumesOnAnotherServerFromItsSeq()
{
    startNodes(2);
    TestClient grace; // on server two from the start: it knows how every op landed
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("trip")));
    TestClient ada;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("trip")));
    // A long stroke first: the wall weighs more than what Ada will miss (else the snapshot is
    // the cheaper answer).
    std::vector<QPointF> long_;
    for (int i = 0; i < 400; ++i)
        long_.push_back(QPointF(i, (i * 37) % 100));
    std::vector<std::uint64_t> ids = ada.stroke(1, long_, 50);
    for (std::uint64_t id : ids)
        QTRY_VERIFY(ada.acked(id));
    const std::uint64_t seen = ada.model.seq();
    const std::string token = ada.resumeToken;
    ada.socket().close();
    QTRY_COMPARE(ada.disconnects, 1);

    // While Ada is away: Grace draws, a note of Ada's is edited after it was deleted (a void),
    // and Grace's role changes (an access change in the log).
    pb::Op add;
    add.mutable_note_add()->set_id(7);
    add.mutable_note_add()->set_text("meet at 9");
    const std::uint64_t added = grace.sendOp(add);
    QTRY_VERIFY(grace.acked(added));
    pb::Op del;
    del.mutable_note_delete()->set_note(objectKey(grace.userId, 7));
    grace.sendOp(del);
    pb::Op edit;
    edit.mutable_note_edit()->set_note(objectKey(grace.userId, 7));
    edit.mutable_note_edit()->set_text("meet at 10");
    const std::uint64_t voided = grace.sendOp(edit);
    QTRY_VERIFY(grace.acked(voided));
    for (std::uint64_t id : grace.stroke(2, {{50, 50}, {60, 70}, {80, 75}}, 2))
        QTRY_VERIFY(grace.acked(id));
    const std::uint64_t head = grace.model.seq();

    // Ada comes back through the other server with the seq she had: she gets the ops she
    // missed, as they landed, instead of the whole wall.
    TestClient back;
    back.model = ada.model;
    QVERIFY(back.connectAs(node(1).url(), QStringLiteral("Ada"), token));
    QVERIFY(back.join(QStringLiteral("trip"), seen));
    const pb::Joined *joined = back.lastJoined();
    QVERIFY(joined);
    QVERIFY2(!joined->has_snapshot(), "a resume within the log gets the ops, not the snapshot");
    QCOMPARE(joined->head_seq(), head);
    QCOMPARE(std::uint64_t(joined->ops_size()), head - seen);
    bool sawVoid = false;
    for (const pb::Op &op : joined->ops()) {
        if (op.author() == grace.userId && op.client_op_id() == voided) {
            QCOMPARE(int(op.body_case()), int(pb::Op::BODY_NOT_SET));
            sawVoid = true;
        }
    }
    QVERIFY(sawVoid);
    QCOMPARE(back.model.serializedSnapshot(), grace.model.serializedSnapshot());

    // Away past what the log keeps (trimmed behind a snapshot): the whole wall, as it is.
    back.socket().close();
    QTRY_COMPARE(back.disconnects, 1);
    for (std::uint64_t id : grace.stroke(3, {{90, 90}, {95, 99}}, 2))
        QTRY_VERIFY(grace.acked(id));
    m_redis->call({"XTRIM", RedisWallLog::keyPrefix(QStringLiteral("trip")) + "log", "MINID",
                   QByteArray::number(head) + "-0"});
    TestClient again;
    again.model = back.model;
    QVERIFY(again.connectAs(node(0).url(), QStringLiteral("Ada"), token));
    QVERIFY(again.join(QStringLiteral("trip"), seen));
    QVERIFY(again.lastJoined()->has_snapshot());
    QCOMPARE(again.model.serializedSnapshot(), grace.model.serializedSnapshot());
}

void TestCluster::chatHistoryIsSharedAndOutlivesTheTrimmedLog()
{
    startNodes(2);
    TestClient ada;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("talk")));
    constexpr int kMessages = 80;
    std::uint64_t last = 0;
    for (int i = 1; i <= kMessages; ++i)
        last = ada.chat(QStringLiteral("message %1").arg(i));
    QTRY_VERIFY_WITH_TIMEOUT(ada.acked(last), 10000);
    // The wall's log is trimmed behind a snapshot (as a busy wall's is): chat stays.
    RedisWallLog log(*RedisAddress::parse(m_redis->url(), nullptr));
    log.start();
    QTRY_VERIFY(log.isReady());
    const QByteArray epoch = m_redis->call({"HGET", RedisWallLog::keyPrefix(QStringLiteral("talk")) + "meta", "epoch"})
                                 .split('\n').value(1).trimmed();
    std::optional<RedisWallLog::SnapshotSaved> saved;
    pb::ClusterSnapshot kept; // as a server keeps it: the wall and its access (none here)
    kept.set_wall(ada.model.serializedSnapshot().toStdString());
    log.saveSnapshot(QStringLiteral("talk"), epoch, kMessages, QByteArray::fromStdString(kept.SerializeAsString()), 0,
                     [&](RedisWallLog::SnapshotSaved r) { saved = r; });
    QTRY_VERIFY(saved.has_value());
    QCOMPARE(int(saved->status), int(RedisWallLog::SnapshotSaved::Status::Ok));
    QCOMPARE(m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("talk")) + "log"}), QByteArray(":0\r\n"));

    // Someone joining on the other server gets the newest 50 and is told there is more; paging
    // back gets the rest, oldest first; the HTTP API reads the same history.
    TestClient grace;
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("talk")));
    const pb::Joined *joined = grace.lastJoined();
    QCOMPARE(joined->recent_chat_size(), 50);
    QVERIFY(joined->more_chat());
    QCOMPARE(joined->recent_chat(0).chat().text(), std::string("message 31"));
    QCOMPARE(joined->recent_chat(49).chat().text(), std::string("message 80"));
    QCOMPARE(joined->recent_chat(49).seq(), std::uint64_t(kMessages));
    pb::Envelope request;
    request.mutable_history_request()->set_before_seq(joined->recent_chat(0).seq());
    request.mutable_history_request()->set_limit(200);
    grace.sendEnvelope(request);
    QTRY_COMPARE(grace.count(pb::Envelope::kHistory), 1u);
    const pb::History *history = nullptr;
    for (const pb::Envelope &e : grace.received) {
        if (e.has_history())
            history = &e.history();
    }
    QCOMPARE(history->chat_size(), 30);
    QCOMPARE(history->chat(0).chat().text(), std::string("message 1"));
    QCOMPARE(history->chat(29).chat().text(), std::string("message 30"));
    QVERIFY(!history->more());
}

// The timeline in a cluster: the log is trimmed behind snapshots, yet it keeps every op after a
// snapshot kept for replaying history (at least cluster_log_keep_ops back). A client asking a
// server that loaded the wall later (from the newest snapshot) for the wall's past gets that
// snapshot and then every op after it as it landed, voids included: replayed, it is the wall.
void TestCluster::theTimelineReplaysFromAKeptSnapshotOnAnyServer()
{
    constexpr int kKeep = 10;
    m_logKeepOps = kKeep;
    startNodes(2, 5);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("past")));
    QVERIFY(grace.join(QStringLiteral("past")));
    const std::string words(300, 'w'); // chat heavy enough that snapshots come every 5 ops
    std::set<std::uint64_t> voids;
    for (std::uint32_t round = 1; round <= 8; ++round) {
        pb::Op add;
        add.mutable_note_add()->set_id(round);
        add.mutable_note_add()->set_text("plan");
        const std::uint64_t added = ada.sendOp(add);
        QTRY_VERIFY(ada.acked(added));
        QTRY_COMPARE(liveNotes(grace.model), 1u);
        // Ada deletes it, Grace edits it after the delete landed: a void at its turn.
        pb::Op del;
        del.mutable_note_delete()->set_note(objectKey(ada.userId, round));
        ada.sendOp(del);
        QTRY_COMPARE(liveNotes(grace.model), 0u);
        pb::Op edit;
        edit.mutable_note_edit()->set_note(objectKey(ada.userId, round));
        edit.mutable_note_edit()->set_text("plan, v2");
        const std::uint64_t edited = grace.sendOp(edit);
        QTRY_VERIFY(grace.lastError() && grace.lastError()->client_op_id() == edited);
        std::uint64_t last = 0;
        for (int i = 0; i < 6; ++i)
            last = ada.chat(QString::fromStdString(words));
        QTRY_VERIFY(ada.acked(last));
    }
    QTRY_COMPARE(grace.model.seq(), ada.model.seq());
    const std::uint64_t head = ada.model.seq();
    for (const pb::Op &op : ada.ops()) {
        if (op.body_case() == pb::Op::BODY_NOT_SET && op.author() == grace.userId)
            voids.insert(op.seq());
    }
    QCOMPARE(voids.size(), 8u);
    // The log was trimmed: its oldest ops are gone.
    const QByteArray prefix = RedisWallLog::keyPrefix(QStringLiteral("past"));
    QTRY_VERIFY(m_redis->call({"XLEN", prefix + "log"}).mid(1).trimmed().toULongLong() < head);

    // A server started now loads the wall from its newest snapshot.
    startNodes(1, 5);
    TestClient late;
    QVERIFY(late.connectAs(node(2).url(), QStringLiteral("Late")));
    QVERIFY(late.join(QStringLiteral("past")));
    auto page = [&](std::uint64_t after) -> const pb::OpsPage * {
        const size_t before = late.count(pb::Envelope::kOpsPage);
        pb::Envelope ask;
        ask.mutable_ops_request()->set_after_seq(after);
        ask.mutable_ops_request()->set_limit(7);
        late.sendEnvelope(ask);
        if (!TestClient::waitFor([&] { return late.count(pb::Envelope::kOpsPage) > before; }))
            return nullptr;
        return late.lastOpsPage();
    };
    const pb::OpsPage *first = page(0);
    QVERIFY(first);
    QVERIFY2(first->gone(), "the oldest ops are gone");
    pb::WallSnapshot base;
    QVERIFY2(base.ParseFromString(first->base()), "the page says where history starts instead");
    QVERIFY(base.seq() > 0);
    QVERIFY2(base.seq() + kKeep <= head, "history reaches back at least cluster_log_keep_ops");
    WallModel replay;
    QVERIFY(!replay.load(base));
    std::uint64_t after = base.seq();
    int voidsSeen = 0;
    while (after < head) {
        const pb::OpsPage *p = page(after);
        QVERIFY(p);
        QVERIFY2(!p->gone(), qPrintable(QStringLiteral("the ops after %1 are kept").arg(after)));
        QVERIFY(p->ops_size() > 0);
        for (const pb::Op &op : p->ops()) {
            QCOMPARE(op.seq(), after + 1);
            const bool isVoid = voids.count(op.seq()) > 0;
            QCOMPARE(op.body_case() == pb::Op::BODY_NOT_SET, isVoid || op.author() == 0);
            voidsSeen += isVoid ? 1 : 0;
            replay.apply(op);
            after = op.seq();
        }
    }
    QVERIFY2(voidsSeen > 0, "some voids lie after the base");
    QCOMPARE(replay.serializedSnapshot(), ada.model.serializedSnapshot());
}

void TestCluster::theHttpApiPostsThroughAnyServer()
{
    startNodes(2);
    TestClient ada;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("api wall")));
    const QByteArray token = QByteArray::fromStdString(ada.lastJoined()->api_token());
    QVERIFY(!token.isEmpty());
    const std::uint64_t first = ada.chat(QStringLiteral("before"));
    QTRY_VERIFY(ada.acked(first));

    // The API token made on the first server works on the second; the answer comes once the
    // message is stored and on the wall, with its seq.
    QUrl url = node(1).url();
    url.setScheme(QStringLiteral("http"));
    url.setPath(QStringLiteral("/api/walls/api wall/messages"));
    QNetworkAccessManager nam;
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    request.setRawHeader("Authorization", "Bearer " + token);
    std::unique_ptr<QNetworkReply> reply(nam.post(request, QByteArray(R"({"author":"CI bot","text":"build passed"})")));
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    QVERIFY(reply->isFinished() || finished.wait(10000));
    QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);
    const QJsonObject answer = QJsonDocument::fromJson(reply->readAll()).object();
    QCOMPARE(answer.value(QStringLiteral("seq")).toInt(), 2);
    QCOMPARE(answer.value(QStringLiteral("text")).toString(), QStringLiteral("build passed"));
    // Ada, on the other server, gets it at that seq.
    QTRY_COMPARE(ada.ops().size(), 2u);
    QCOMPARE(ada.ops().back().seq(), 2u);
    QCOMPARE(ada.ops().back().chat().author_name(), std::string("CI bot"));
}

namespace {

// Whether `c` was told `user` is on the wall (Joined's members or a Presence), and not told
// since that they left.
bool sees(const TestClient &c, std::uint64_t user)
{
    bool online = false;
    for (const pb::Envelope &e : c.received) {
        if (e.has_joined()) {
            for (const pb::Member &m : e.joined().members())
                online = online || m.user_id() == user;
        } else if (e.has_presence() && e.presence().member().user_id() == user) {
            online = e.presence().online();
        }
    }
    return online;
}

} // namespace

void TestCluster::peopleOnOtherServersArePresentAndRolesCross()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("people")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("people")));
    // Each sees the other, whichever server they are on.
    QTRY_VERIFY_WITH_TIMEOUT(sees(grace, ada.userId), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(sees(ada, grace.userId), 5000);
    // A third person on the first server gets both in Joined.
    TestClient late;
    QVERIFY(late.connectAs(node(0).url(), QStringLiteral("Late")));
    QVERIFY(late.join(QStringLiteral("people")));
    QVERIFY(sees(late, ada.userId));
    QVERIFY(sees(late, grace.userId));
    QTRY_VERIFY_WITH_TIMEOUT(sees(grace, late.userId), 5000);

    // The owner (Ada, on server one) makes Grace (on server two) a moderator: Grace's own server
    // says so to her, and lets her do what moderators do.
    pb::Envelope make;
    make.mutable_moderate()->set_action(pb::Moderate::SET_MODERATOR);
    make.mutable_moderate()->set_user_id(grace.userId);
    make.mutable_moderate()->set_on(true);
    ada.sendEnvelope(make);
    auto graceIsModerator = [&] {
        for (auto it = grace.received.rbegin(); it != grace.received.rend(); ++it) {
            if (!it->has_wall_state())
                continue;
            for (const pb::Member &m : it->wall_state().members()) {
                if (m.user_id() == grace.userId)
                    return m.role() == pb::ROLE_MODERATOR;
            }
            return false;
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(graceIsModerator(), 5000);
    // Kicking Late (on server one) from server two: Late is removed there.
    pb::Envelope kick;
    kick.mutable_moderate()->set_action(pb::Moderate::KICK);
    kick.mutable_moderate()->set_user_id(late.userId);
    grace.sendEnvelope(kick);
    QTRY_COMPARE_WITH_TIMEOUT(late.disconnects, 1, 5000);
    QVERIFY2(late.closeReason.contains(QStringLiteral("removed you")), qPrintable(late.closeReason));

    // Leaving is seen on the other server.
    grace.socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(!sees(ada, grace.userId), 5000);
}

void TestCluster::theOwnerDeletesAWallOnEveryServer()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("gone")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("gone")));
    const std::uint64_t said = grace.chat(QStringLiteral("hello"));
    QTRY_VERIFY(grace.acked(said));
    QTRY_COMPARE(ada.model.seq(), 1u);
    // An image of this wall's alone, and one it shares with another wall.
    auto png = [](QRgb colour) {
        QImage image(8, 8, QImage::Format_ARGB32);
        image.fill(colour);
        QByteArray bytes;
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        image.save(&buffer, "PNG");
        return bytes;
    };
    const QByteArray own = png(0xff112233), shared = png(0xff445566);
    for (const QByteArray &bytes : {own, shared})
        QCOMPARE(httpRequest(node(0).url(), "POST", QStringLiteral("/api/walls/gone/images"), imageTokenOf(ada), bytes).status,
                 201);
    TestClient elsewhere;
    QVERIFY(elsewhere.connectAs(node(1).url(), QStringLiteral("Elsewhere")));
    QVERIFY(elsewhere.join(QStringLiteral("kept")));
    QCOMPARE(httpRequest(node(1).url(), "POST", QStringLiteral("/api/walls/kept/images"), imageTokenOf(elsewhere), shared)
                 .status,
             201);
    auto imageKey = [](const QByteArray &bytes) {
        return "scrawl:image:" + QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex();
    };

    // Only the owner may; Grace (a member, on the other server) is refused.
    pb::Envelope del;
    del.mutable_moderate()->set_action(pb::Moderate::DELETE_WALL);
    grace.sendEnvelope(del);
    QTRY_VERIFY(grace.lastError() && grace.lastError()->code() == pb::NOT_PERMITTED);

    // The owner deletes it on server one: everyone on it, on either server, is told so.
    ada.sendEnvelope(del);
    QTRY_COMPARE_WITH_TIMEOUT(ada.disconnects, 1, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(grace.disconnects, 1, 5000);
    for (const TestClient *c : {&ada, &grace}) {
        QVERIFY2(c->closeReason.contains(QStringLiteral("deleted the wall")), qPrintable(c->closeReason));
        QCOMPARE(c->lastError()->code(), pb::WALL_DELETED);
    }
    // Nothing of it is left in Redis, and neither server holds it.
    const QByteArray prefix = RedisWallLog::keyPrefix(QStringLiteral("gone"));
    for (const char *key : {"meta", "log", "snap", "chat", "access", "roles", "kicks"})
        QVERIFY2(m_redis->call({"EXISTS", prefix + key}) == ":0\r\n", key);
    QCOMPARE(m_redis->call({"HEXISTS", "scrawl:walls", "gone"}), QByteArray(":0\r\n"));
    // Its own image's bytes went with it; the one another wall links stays, for that wall.
    QCOMPARE(m_redis->call({"EXISTS", imageKey(own)}), QByteArray(":0\r\n"));
    QCOMPARE(m_redis->call({"HGET", imageKey(shared), "walls"}), QByteArray("$1\r\n1\r\n"));
    const HttpReply kept = httpRequest(node(1).url(), "GET",
                                       QStringLiteral("/api/walls/kept/images/")
                                           + QString::fromLatin1(QCryptographicHash::hash(shared, QCryptographicHash::Sha256).toHex()),
                                       imageTokenOf(elsewhere));
    QCOMPARE(kept.status, 200);
    QCOMPARE(kept.body, shared);
    QTRY_VERIFY(!node(0).loadedRoom(QStringLiteral("gone")) && !node(1).loadedRoom(QStringLiteral("gone")));
    // The name is free: joining it makes a new, empty wall, owned by whoever made it.
    TestClient again;
    QVERIFY(again.connectAs(node(1).url(), QStringLiteral("Grace"), grace.resumeToken));
    QVERIFY(again.join(QStringLiteral("gone")));
    QCOMPARE(again.lastJoined()->head_seq(), 0u);
    QCOMPARE(again.lastJoined()->role(), pb::ROLE_OWNER);
}

// Changes sent on another server while the owner deletes the wall: those that reach Redis after
// the deletion are refused there (the wall's history is gone), which a server also sees when
// Redis loses its data. A deleted wall must not be taken for that and made again, empty.
void TestCluster::aDeleteRacingChangesFromAnotherServerLeavesNoWallBehind()
{
    startNodes(2);
    for (int round = 0; round < 5; ++round) {
        const QString wall = QStringLiteral("race-%1").arg(round);
        TestClient owner;
        TestClient busy;
        QVERIFY(owner.connectAs(node(0).url(), QStringLiteral("Owner")));
        QVERIFY(owner.join(wall));
        QVERIFY(busy.connectAs(node(1).url(), QStringLiteral("Busy")));
        QVERIFY(busy.join(wall));
        const std::uint64_t first = busy.chat(QStringLiteral("first"));
        QTRY_VERIFY(busy.acked(first));
        // Busy keeps sending while the owner's deletion goes in among her changes.
        std::uint32_t id = 0;
        for (; id < 150; ++id)
            busy.sendOp(noteAdd(id + 1));
        pb::Envelope del;
        del.mutable_moderate()->set_action(pb::Moderate::DELETE_WALL);
        owner.sendEnvelope(del);
        for (; id < 300; ++id)
            busy.sendOp(noteAdd(id + 1));
        QTRY_COMPARE_WITH_TIMEOUT(owner.disconnects, 1, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(busy.disconnects, 1, 5000);
        QCOMPARE(owner.lastError()->code(), pb::WALL_DELETED);
        QVERIFY2(busy.lastError()->code() == pb::WALL_DELETED, busy.lastError()->message().c_str());
        QTRY_VERIFY(!node(0).loadedRoom(wall) && !node(1).loadedRoom(wall));
        // Gone from Redis, with nothing made again in its place.
        QCOMPARE(m_redis->call({"HEXISTS", "scrawl:walls", wall.toUtf8()}), QByteArray(":0\r\n"));
        QCOMPARE(m_redis->call({"EXISTS", RedisWallLog::keyPrefix(wall) + "meta"}), QByteArray(":0\r\n"));
    }
}

void TestCluster::aDeadServersPeopleAreForgotten()
{
    startNodes(1);
    ServerProcess doomed({}, {QStringLiteral("--redis"), m_redis->url()});
    QVERIFY(doomed.start());
    TestClient ada;
    TestClient ghost;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("wake")));
    QVERIFY(ghost.connectAs(doomed.url(), QStringLiteral("Ghost")));
    QVERIFY(ghost.join(QStringLiteral("wake")));
    QTRY_VERIFY_WITH_TIMEOUT(sees(ada, ghost.userId), 5000);
    // Killed: it never says goodbye; after three presence rounds without a word, it is gone.
    doomed.kill9();
    QTRY_VERIFY_WITH_TIMEOUT(!sees(ada, ghost.userId), 4 * limits::kClusterPresenceRefreshMs + 5000);
}

void TestCluster::cursorsCrossServers()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("cursors")));
    QVERIFY(grace.join(QStringLiteral("cursors")));
    pb::Envelope env;
    env.mutable_cursor()->set_x(123);
    env.mutable_cursor()->set_y(45);
    ada.sendEnvelope(env);
    QTRY_COMPARE_WITH_TIMEOUT(grace.count(pb::Envelope::kCursor), 1u, 5000);
    for (const pb::Envelope &e : grace.received) {
        if (e.has_cursor()) {
            QCOMPARE(e.cursor().user_id(), ada.userId);
            QCOMPARE(e.cursor().x(), 123.0f);
        }
    }
    QCOMPARE(ada.count(pb::Envelope::kCursor), 0u); // not echoed back to its sender

    // Many pointers moving on one server reach the other in a message per frame, not one per
    // cursor: counted on the wall's live channel by a listener of the test's own.
    RedisWallLog listener(*RedisAddress::parse(m_redis->url(), nullptr));
    listener.start();
    QTRY_VERIFY(listener.isReady());
    int cursorMessages = 0;
    listener.watchLive(QStringLiteral("cursors"), [&](const QByteArray &, const QByteArray &payload) {
        if (payload.startsWith('C'))
            ++cursorMessages;
    });
    QTRY_VERIFY(m_redis->call({"PUBSUB", "NUMSUB", RedisWallLog::keyPrefix(QStringLiteral("cursors")) + "live"})
                    .contains(":3\r\n")); // the two servers and the listener
    std::vector<std::unique_ptr<TestClient>> movers;
    for (int i = 0; i < 8; ++i) {
        movers.push_back(std::make_unique<TestClient>());
        QVERIFY(movers.back()->connectAs(node(0).url(), QStringLiteral("Mover %1").arg(i)));
        QVERIFY(movers.back()->join(QStringLiteral("cursors")));
    }
    const size_t before = grace.count(pb::Envelope::kCursor);
    for (auto &m : movers) {
        pb::Envelope move;
        move.mutable_cursor()->set_x(float(500 + m->userId));
        move.mutable_cursor()->set_y(7);
        m->sendEnvelope(move);
    }
    // Each person's newest position arrives at Grace's server.
    QTRY_COMPARE_WITH_TIMEOUT(grace.count(pb::Envelope::kCursor), before + movers.size(), 5000);
    for (auto &m : movers) {
        bool seen = false;
        for (const pb::Envelope &e : grace.received)
            seen = seen || (e.has_cursor() && e.cursor().user_id() == m->userId && e.cursor().x() == float(500 + m->userId));
        QVERIFY(seen);
    }
    qInfo() << movers.size() << "cursors crossed in" << cursorMessages << "live messages";
    QVERIFY2(cursorMessages < int(movers.size()), "cursors were not sent together in a frame");
}

void TestCluster::imagesUploadedThroughOneServerAreServedByEvery()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("pics")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("pics")));
    QImage image(64, 48, QImage::Format_ARGB32);
    image.fill(0xff2288cc);
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    QVERIFY(image.save(&buffer, "PNG"));
    const QByteArray hash = QCryptographicHash::hash(png, QCryptographicHash::Sha256);
    const QString path = QStringLiteral("/api/walls/pics/images/") + QString::fromLatin1(hash.toHex());

    // Ada uploads through her server and puts it on the wall.
    const HttpReply uploaded = httpRequest(node(0).url(), "POST", QStringLiteral("/api/walls/pics/images"),
                                           imageTokenOf(ada), png);
    QCOMPARE(uploaded.status, 201);
    pb::Op add;
    add.mutable_image_add()->set_id(1);
    add.mutable_image_add()->set_hash(hash.toStdString());
    add.mutable_image_add()->set_width(64);
    add.mutable_image_add()->set_height(48);
    const std::uint64_t added = ada.sendOp(add);
    QTRY_VERIFY(ada.acked(added));
    QTRY_COMPARE(grace.model.seq(), ada.model.seq());
    QVERIFY2(!ada.lastError(), ada.lastError() ? ada.lastError()->message().c_str() : "");

    // A picture whose bytes were never uploaded to this wall is refused by the server it is sent
    // to, by name, and gets no place in the log: the next op lands right after Ada's picture.
    const std::uint64_t before = ada.model.seq();
    pb::Op unknown = add;
    unknown.mutable_image_add()->set_id(2);
    unknown.mutable_image_add()->set_hash(std::string(32, '\x5a'));
    grace.sendOp(unknown);
    QTRY_VERIFY(grace.lastError());
    QCOMPARE(grace.lastError()->code(), pb::INVALID_OP);
    QVERIFY2(QString::fromStdString(grace.lastError()->message()).contains(QLatin1String("never uploaded")),
             grace.lastError()->message().c_str());
    pb::Op note;
    note.mutable_note_add()->set_id(3);
    note.mutable_note_add()->set_text("after the refused picture");
    const std::uint64_t noted = ada.sendOp(note);
    QTRY_VERIFY(ada.acked(noted));
    QCOMPARE(ada.model.seq(), before + 1);
    QTRY_COMPARE(grace.model.seq(), before + 1);
    QCOMPARE(grace.model.images().size(), size_t(1));

    // Grace downloads it from her own server, and from Ada's (a load balancer may send her
    // request to either): the same bytes. Her token was made by her server; Ada's takes it.
    for (const QUrl &server : {node(1).url(), node(0).url()}) {
        const HttpReply got = httpRequest(server, "GET", path, imageTokenOf(grace));
        QCOMPARE(got.status, 200);
        QCOMPARE(got.body, png);
    }
    // A server that does not have the wall loaded serves it too, to a member on the wall.
    startNodes(1);
    QCOMPARE(httpRequest(node(2).url(), "GET", path, imageTokenOf(grace)).status, 200);
    // Nobody without a token of a member gets it.
    QCOMPARE(httpRequest(node(1).url(), "GET", path, QByteArray()).status, 403);
    QCOMPARE(httpRequest(node(1).url(), "GET", path, "2.forged").status, 403);

    // The server it was uploaded through goes away: the image stays, for everyone.
    m_nodes[0]->server->stop();
    QTRY_COMPARE_WITH_TIMEOUT(ada.disconnects, 1, 5000);
    const HttpReply after = httpRequest(node(1).url(), "GET", path, imageTokenOf(grace));
    QCOMPARE(after.status, 200);
    QCOMPARE(after.body, png);

    // Once Grace has left the wall, her token opens nothing on any server.
    const QByteArray token = imageTokenOf(grace);
    grace.socket().close();
    QTRY_COMPARE(grace.disconnects, 1);
    QTRY_COMPARE_WITH_TIMEOUT(httpRequest(node(2).url(), "GET", path, token).status, 403, 5000);
    QCOMPARE(httpRequest(node(1).url(), "GET", path, token).status, 403);
}

void TestCluster::aServerWithoutRedisSaysSoAndHoldsChangesUntilItIsBack()
{
    startNodes(1);
    TestClient ada;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("w")));
    const QJsonObject up = health(node(0).url());
    QCOMPARE(up.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
    QCOMPARE(up.value(QStringLiteral("http")).toInt(), 200);

    m_redis->pause();
    QTRY_VERIFY_WITH_TIMEOUT(!node(0).cluster()->ready(), 10000);
    // Said at once; but within the grace the server still answers 200 to a load balancer's check:
    // a Redis restart must not take every server out and cut everyone.
    const QJsonObject down = health(node(0).url());
    QCOMPARE(down.value(QStringLiteral("status")).toString(), QStringLiteral("holding"));
    QCOMPARE(down.value(QStringLiteral("http")).toInt(), 200);
    QVERIFY2(down.value(QStringLiteral("problem")).toString().contains(m_redis->url()),
             qPrintable(down.value(QStringLiteral("problem")).toString()));
    // Someone coming back meanwhile is not taken for someone new (their resent changes would
    // be stored twice, under two identities): asked to try again.
    TestClient returning;
    QVERIFY(returning.open(node(0).url()));
    returning.sendHello(QStringLiteral("Ada"), kProtocolVersion, ada.resumeToken);
    QTRY_VERIFY(returning.lastError());
    QCOMPARE(returning.count(pb::Envelope::kWelcome), 0u);
    QCOMPARE(returning.lastError()->code(), pb::STORAGE_UNAVAILABLE);
    // Changes made meanwhile are held, not refused (one of them may even have reached Redis
    // before it hung), and go on once it answers: each once, in order.
    const std::uint64_t first = ada.chat(QStringLiteral("while Redis hangs"));
    const std::uint64_t second = ada.chat(QStringLiteral("still hanging"));
    QTRY_VERIFY(node(0).cluster()->waitingOps() == 2);
    QVERIFY(!ada.lastError());

    m_redis->resume();
    QTRY_VERIFY_WITH_TIMEOUT(node(0).cluster()->ready(), 10000);
    QCOMPARE(health(node(0).url()).value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
    QTRY_VERIFY_WITH_TIMEOUT(ada.acked(first) && ada.acked(second), 10000);
    QCOMPARE(ada.disconnects, 0); // nobody was sent away
    // Back, the same person. (The directory's connection fails fast for a moment after its last
    // failure.)
    QTRY_VERIFY(node(0).directory().findUser(QByteArray::fromStdString(ada.resumeToken)).has_value());
    TestClient back;
    QVERIFY(back.connectAs(node(0).url(), QStringLiteral("Ada"), ada.resumeToken));
    QCOMPARE(back.userId, ada.userId);
    const std::uint64_t third = ada.chat(QStringLiteral("back"));
    QTRY_VERIFY(ada.acked(third));
    QCOMPARE(ada.ops().size(), 3u);
    QCOMPARE(ada.ops()[0].chat().text(), std::string("while Redis hangs"));
    QCOMPARE(ada.ops()[2].seq(), 3u);
    QVERIFY(!ada.lastError());
}

void TestCluster::aStalledLinkToRedisIsNoticedAndItsClientsMoveElsewhere()
{
    // Server one (a process of its own: its blocking reads must not wait on this test's event
    // loop, which runs the proxy) reaches Redis through a proxy that can go silent: no FIN, no
    // RST, a link that died where neither end can see it. Server two reaches Redis directly.
    FaultProxy link(m_redis->port());
    QVERIFY(link.listen());
    ServerProcess one({}, {QStringLiteral("--redis"), QStringLiteral("redis://127.0.0.1:%1/0").arg(link.port())});
    QVERIFY(one.start());
    startNodes(1);
    QTRY_COMPARE_WITH_TIMEOUT(health(one.url()).value(QStringLiteral("http")).toInt(), 200, 10000);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(one.url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("stall")));
    QVERIFY(grace.connectAs(node(0).url(), QStringLiteral("Grace")));
    QVERIFY(grace.join(QStringLiteral("stall")));
    const std::uint64_t before = ada.chat(QStringLiteral("before"));
    QTRY_VERIFY(ada.acked(before));

    link.setMode(FaultProxy::Mode::Stall);
    QElapsedTimer clock;
    clock.start();
    const std::uint64_t held = ada.chat(QStringLiteral("during the stall"));
    // Noticed by the connection's watchdog, not by TCP (which would take minutes), and said on
    // /health at once.
    QTRY_COMPARE_WITH_TIMEOUT(health(one.url()).value(QStringLiteral("status")).toString(), QStringLiteral("holding"),
                              10000);
    qInfo() << "stall noticed on /health after" << clock.elapsed() << "ms";
    QVERIFY(!ada.acked(held));
    // Past the grace, its members are sent elsewhere, told why, and /health answers 503 so
    // that the load balancer sends nobody new.
    QTRY_COMPARE_WITH_TIMEOUT(ada.disconnects, 1, limits::kClusterRedisGraceMs + 10000);
    QCOMPARE(health(one.url()).value(QStringLiteral("http")).toInt(), 503);
    QVERIFY2(ada.closeReason.contains(QStringLiteral("shared store")), qPrintable(ada.closeReason));
    qInfo() << "members sent elsewhere after" << clock.elapsed() << "ms";

    // Ada reconnects to server two, resumes and sends again what was not acknowledged.
    TestClient again;
    again.model = ada.model;
    QVERIFY(again.connectAs(node(0).url(), QStringLiteral("Ada"), ada.resumeToken));
    QVERIFY(again.join(QStringLiteral("stall"), ada.model.seq()));
    pb::Op resend;
    resend.mutable_chat()->set_text("during the stall");
    resend.set_client_op_id(held);
    again.sendOp(resend);
    QTRY_VERIFY(again.acked(held));

    // The link comes back: server one recovers, and the copy it held is not applied twice.
    link.setMode(FaultProxy::Mode::Pass);
    QTRY_COMPARE_WITH_TIMEOUT(health(one.url()).value(QStringLiteral("http")).toInt(), 200, 15000);
    TestClient late;
    QVERIFY(late.connectAs(one.url(), QStringLiteral("Late")));
    QVERIFY(late.join(QStringLiteral("stall")));
    const std::uint64_t after = grace.chat(QStringLiteral("after"));
    QTRY_VERIFY(grace.acked(after));
    QTRY_COMPARE(late.model.seq(), grace.model.seq());
    QCOMPARE(grace.model.seq(), 3u); // before, during the stall (once), after
    QCOMPARE(m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("stall")) + "log"}), QByteArray(":3\r\n"));
    QCOMPARE(late.model.serializedSnapshot(), grace.model.serializedSnapshot());
}

void TestCluster::aBadRedisAddressIsRefusedByName()
{
    QTemporaryDir dir;
    ServerOptions options;
    options.host = QHostAddress::LocalHost;
    options.port = 0;
    options.dataDir = dir.path();
    options.redisUrl = QStringLiteral("localhost:6379");
    WallServer server(options);
    QString error;
    QVERIFY(!server.start(&error));
    QVERIFY2(error.contains(QStringLiteral("\"localhost:6379\" is not a Redis address")), qPrintable(error));
}

void TestCluster::aServerKilledMidStreamLosesNothingAcknowledged()
{
    ServerProcess one({}, {QStringLiteral("--redis"), m_redis->url()});
    ServerProcess two({}, {QStringLiteral("--redis"), m_redis->url()});
    QVERIFY(one.start());
    QVERIFY(two.start());
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(one.url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(two.url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("stream")));
    QVERIFY(grace.join(QStringLiteral("stream")));

    // Ada sends 2,000 changes without waiting; her server is killed with -9 as the first is
    // acknowledged, with the others in flight: some appended to Redis and not acknowledged,
    // some read and not appended, some not read yet.
    constexpr int kOps = 2000;
    std::vector<pb::Op> sent;
    for (int i = 1; i <= kOps; ++i) {
        pb::Op op;
        op.mutable_chat()->set_text(toWire(QStringLiteral("change %1").arg(i)));
        op.set_client_op_id(std::uint64_t(i));
        ada.sendOp(op);
        sent.push_back(op);
    }
    ada.nextClientOpId = kOps;
    QVERIFY(TestClient::waitFor([&] { return ada.acked(1); }, 10000));
    one.kill9();
    const int appendedAtKill = m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("stream")) + "log"}).mid(1).trimmed().toInt();
    std::set<std::uint64_t> ackedBefore;
    for (const pb::Op &op : ada.ops()) {
        if (op.author() == ada.userId)
            ackedBefore.insert(op.client_op_id());
    }
    qInfo() << "at the kill:" << ackedBefore.size() << "of" << kOps << "acknowledged," << appendedAtKill
            << "appended";
    QVERIFY2(ackedBefore.size() < size_t(kOps), "all were acknowledged before the kill: it tested nothing");

    // She reconnects through the other server with her identity, joins, and resends everything
    // not acknowledged under its own client op id, as the app's outbox does.
    TestClient again;
    QVERIFY(again.connectAs(two.url(), QStringLiteral("Ada"), ada.resumeToken));
    QCOMPARE(again.userId, ada.userId);
    QVERIFY(again.join(QStringLiteral("stream"), ada.model.seq()));
    for (const pb::Op &op : sent) {
        if (!ackedBefore.count(op.client_op_id()))
            again.sendOp(op);
    }
    QVERIFY(TestClient::waitFor([&] {
        for (int i = 1; i <= kOps; ++i) {
            if (!ackedBefore.count(std::uint64_t(i)) && !again.acked(std::uint64_t(i)))
                return false;
        }
        return true;
    }, 30000));

    // Every change is on the wall exactly once, in Ada's order: at Grace's (who stayed on the
    // surviving server throughout) and in the shared log.
    QTRY_COMPARE_WITH_TIMEOUT(grace.model.seq(), std::uint64_t(kOps), 10000);
    std::vector<int> seen;
    for (const pb::Op &op : grace.ops()) {
        QVERIFY2(op.has_chat(), "only Ada's chat was sent, and no op was a void");
        seen.push_back(QString::fromStdString(op.chat().text()).mid(7).toInt());
    }
    QCOMPARE(int(seen.size()), kOps);
    for (int i = 0; i < kOps; ++i)
        QCOMPARE(seen[size_t(i)], i + 1);
    QCOMPARE(m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("stream")) + "log"}),
             QByteArray(":") + QByteArray::number(kOps) + "\r\n");
}

void TestCluster::behindALoadBalancerClientsMoveOffKilledServers_data()
{
    QTest::addColumn<int>("kind");
    QTest::newRow("haproxy") << int(BalancerProcess::Kind::HAProxy);
    QTest::newRow("nginx") << int(BalancerProcess::Kind::Nginx);
}

void TestCluster::behindALoadBalancerClientsMoveOffKilledServers()
{
    QFETCH(int, kind);
    // Three real servers behind the balancer as deploy/ configures it; people join through the
    // balancer's one address, wherever it sends them.
    std::vector<std::unique_ptr<ServerProcess>> servers;
    std::vector<quint16> ports;
    for (int i = 0; i < 3; ++i) {
        servers.push_back(std::make_unique<ServerProcess>(QString(), QStringList{QStringLiteral("--redis"), m_redis->url()}));
        QVERIFY(servers.back()->start());
        ports.push_back(servers.back()->port());
    }
    BalancerProcess balancer{BalancerProcess::Kind(kind)};
    QVERIFY2(balancer.start(ports), qPrintable(balancer.error()));

    constexpr int kPeople = 6;
    constexpr int kOpsEach = 300;
    struct Person
    {
        std::unique_ptr<TestClient> client;
        std::string token;
        std::vector<pb::Op> sent;
        std::set<std::uint64_t> acked; // over every connection
        int moves = 0;
    };
    std::vector<Person> people(kPeople);
    auto connect = [&](Person &p, int index, std::uint64_t lastSeq, const WallModel *model) {
        // As the app does: try again until the balancer finds a live server.
        for (int attempt = 0; attempt < 20; ++attempt) {
            auto c = std::make_unique<TestClient>();
            if (model)
                c->model = *model;
            if (c->connectAs(balancer.url(), QStringLiteral("P%1").arg(index), p.token) && c->join(QStringLiteral("lb"), lastSeq)
                && c->lastJoined()) {
                p.token = c->resumeToken;
                p.client = std::move(c);
                return true;
            }
        }
        return false;
    };
    for (int i = 0; i < kPeople; ++i)
        QVERIFY(connect(people[size_t(i)], i, 0, nullptr));

    // Everyone sends without waiting; two of the three servers are killed with -9 once some
    // ops are acknowledged and others are in flight.
    for (int n = 1; n <= kOpsEach; ++n) {
        for (int i = 0; i < kPeople; ++i) {
            Person &p = people[size_t(i)];
            pb::Op op;
            op.mutable_chat()->set_text(toWire(QStringLiteral("%1:%2").arg(i).arg(n)));
            op.set_client_op_id(std::uint64_t(n));
            p.client->sendOp(op);
            p.sent.push_back(op);
        }
    }
    for (Person &p : people)
        p.client->nextClientOpId = kOpsEach;
    QVERIFY(TestClient::waitFor([&] { return people[0].client->acked(1); }, 10000));
    servers[0]->kill9();
    servers[1]->kill9();

    // Whoever lost their server reconnects through the balancer, resumes from their seq and
    // sends again what was not acknowledged, as the app does.
    auto ackedAll = [&](Person &p) {
        for (const pb::Op &op : p.client->ops()) {
            if (op.author() == p.client->userId)
                p.acked.insert(op.client_op_id());
        }
        return p.acked.size() == size_t(kOpsEach);
    };
    QElapsedTimer clock;
    clock.start();
    int moved = 0;
    while (clock.elapsed() < 60000) {
        bool done = true;
        for (int i = 0; i < kPeople; ++i) {
            Person &p = people[size_t(i)];
            const bool connected = p.client->disconnects == 0
                                && p.client->socket().state() == QAbstractSocket::ConnectedState;
            if (ackedAll(p) && connected)
                continue;
            done = false;
            if (connected)
                continue;
            const WallModel model = p.client->model;
            QVERIFY2(connect(p, i, model.seq(), &model), "could not reconnect through the balancer");
            ++p.moves;
            ++moved;
            for (const pb::Op &op : p.sent) {
                if (!p.acked.count(op.client_op_id()))
                    p.client->sendOp(op);
            }
        }
        if (done)
            break;
        QTest::qWait(20); // let the clients' sockets run; the loop is bounded by the clock
    }
    qInfo() << moved << "reconnections through the balancer after the kills, in" << clock.elapsed() << "ms";
    QVERIFY2(moved > 0, "nobody was on the killed servers: it tested nothing");
    for (Person &p : people)
        QVERIFY2(ackedAll(p), "an op was never acknowledged");

    // Every op is on the wall exactly once, each person's in their order, at everyone's.
    const std::uint64_t total = std::uint64_t(kPeople) * kOpsEach;
    for (Person &p : people)
        QTRY_COMPARE_WITH_TIMEOUT(p.client->model.seq(), total, 10000);
    QCOMPARE(m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("lb")) + "log"}),
             QByteArray(":") + QByteArray::number(total) + "\r\n");
    TestClient reader;
    QVERIFY(reader.connectAs(balancer.url(), QStringLiteral("Reader")));
    QVERIFY(reader.join(QStringLiteral("lb")));
    QCOMPARE(reader.lastJoined()->head_seq(), total);
    for (Person &p : people)
        QCOMPARE(p.client->model.serializedSnapshot(), reader.model.serializedSnapshot());
    // The log itself, in order: each person's ops 1..kOpsEach, once each.
    QString error;
    const auto address = RedisAddress::parse(m_redis->url(), &error);
    QVERIFY2(address, qPrintable(error));
    RedisSyncConnection redis(*address);
    const RedisReply entries = redis.command({"XRANGE", RedisWallLog::keyPrefix(QStringLiteral("lb")) + "log", "-", "+"});
    QCOMPARE(entries.elements.size(), size_t(total));
    std::vector<int> next(kPeople, 1);
    for (const RedisReply &entry : entries.elements) {
        const auto &fields = entry.elements.at(1).elements;
        pb::Op op;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
            if (fields[i].text == "op")
                QVERIFY(op.ParseFromArray(fields[i + 1].text.constData(), int(fields[i + 1].text.size())));
        }
        const QStringList parts = QString::fromStdString(op.chat().text()).split(QLatin1Char(':'));
        QCOMPARE(parts.size(), 2);
        const int who = parts[0].toInt();
        QCOMPARE(parts[1].toInt(), next[size_t(who)]);
        ++next[size_t(who)];
    }
    for (int n : next)
        QCOMPARE(n, kOpsEach + 1);
}

void TestCluster::redisKilledMidStreamLosesNothingAcknowledged()
{
    startNodes(2);
    TestClient ada;
    TestClient grace;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(grace.connectAs(node(1).url(), QStringLiteral("Grace")));
    QVERIFY(ada.join(QStringLiteral("redis dies")));
    QVERIFY(grace.join(QStringLiteral("redis dies")));

    // 2,000 changes in flight; Redis is killed with -9 as the first is acknowledged, and started
    // again on its own AOF.
    constexpr int kOps = 2000;
    for (int i = 1; i <= kOps; ++i)
        ada.chat(QStringLiteral("change %1").arg(i));
    QVERIFY(TestClient::waitFor([&] { return ada.acked(1); }, 10000));
    m_redis->kill();
    size_t ackedAtKill = 0;
    for (const pb::Op &op : ada.ops())
        ackedAtKill += op.author() == ada.userId ? 1 : 0;
    qInfo() << "at the kill:" << ackedAtKill << "of" << kOps << "acknowledged";
    QVERIFY2(ackedAtKill < size_t(kOps), "all were acknowledged before the kill: it tested nothing");
    QTRY_VERIFY_WITH_TIMEOUT(!node(0).cluster()->ready(), 10000);
    QVERIFY2(m_redis->start(), qPrintable(m_redis->error()));

    // The servers held what was not answered and append it again: every change once, in order,
    // at both people's, and nothing refused.
    QTRY_COMPARE_WITH_TIMEOUT(ada.model.seq(), std::uint64_t(kOps), 20000);
    QTRY_COMPARE_WITH_TIMEOUT(grace.model.seq(), std::uint64_t(kOps), 20000);
    for (const TestClient *c : {&ada, &grace}) {
        const auto ops = c->ops();
        QCOMPARE(int(ops.size()), kOps);
        for (int i = 0; i < kOps; ++i)
            QCOMPARE(ops[size_t(i)].chat().text(), toWire(QStringLiteral("change %1").arg(i + 1)));
    }
    QVERIFY(!ada.lastError());
    QCOMPARE(m_redis->call({"XLEN", RedisWallLog::keyPrefix(QStringLiteral("redis dies")) + "log"}),
             QByteArray(":") + QByteArray::number(kOps) + "\r\n");
}

void TestCluster::redisBackEmptyIsNoticedAndMembersAreToldToRejoin()
{
    startNodes(1);
    TestClient ada;
    QVERIFY(ada.connectAs(node(0).url(), QStringLiteral("Ada")));
    QVERIFY(ada.join(QStringLiteral("forgotten")));
    const std::uint64_t first = ada.chat(QStringLiteral("before"));
    QTRY_VERIFY(ada.acked(first));

    m_redis->kill();
    m_redis->wipe();
    QVERIFY2(m_redis->start(), qPrintable(m_redis->error()));
    // Never numbered afresh on top of the lost history: the member is told the wall is being
    // reloaded and to reconnect.
    QTRY_COMPARE_WITH_TIMEOUT(ada.disconnects, 1, 15000);
    QVERIFY2(ada.closeReason.contains(QStringLiteral("reloaded")), qPrintable(ada.closeReason));
}

QTEST_GUILESS_MAIN(TestCluster)
#include "tst_cluster.moc"
