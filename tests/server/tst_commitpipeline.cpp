// Issue 15 item 4: commits on their own thread. The real server on port 0, real WebSocket
// clients, the real SqliteStorage whose commit thread a test hook holds before its next commit
// (Storage::setCommitGate), as a write stalled in the kernel would. While it is held: what was
// committed is delivered, cursors flow, joins of other walls are answered, nothing uncommitted
// is shown to anybody; when it ends: everything arrives, in order, exactly once.

#include "server/wallserver.h"
#include "tests/support/storedwall.h"
#include "tests/support/testclient.h"

#include <QDir>
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

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

std::vector<std::uint64_t> seqsOf(const std::vector<pb::Op> &ops)
{
    std::vector<std::uint64_t> out;
    for (const pb::Op &op : ops)
        out.push_back(op.seq());
    return out;
}

std::vector<QString> chatTexts(const std::vector<pb::Op> &ops)
{
    std::vector<QString> out;
    for (const pb::Op &op : ops) {
        if (op.has_chat())
            out.push_back(fromWire(op.chat().text()));
    }
    return out;
}

bool refusedWith(const TestClient &c, std::uint64_t clientOpId, pb::ErrorCode code)
{
    for (const auto &env : c.received) {
        if (env.has_error() && env.error().client_op_id() == clientOpId && env.error().code() == code)
            return true;
    }
    return false;
}

void sendCursor(TestClient &c, float x)
{
    pb::Envelope env;
    env.mutable_cursor()->set_x(x);
    env.mutable_cursor()->set_y(1);
    c.sendEnvelope(env);
}

// A second join while the first is unanswered is refused at once: proof the first is waiting.
bool secondJoinRefused(TestClient &c, const QString &wall)
{
    const size_t errors = c.count(pb::Envelope::kError);
    pb::Envelope env;
    env.mutable_join()->set_wall(toWire(wall));
    c.sendEnvelope(env);
    return TestClient::waitFor([&] { return c.count(pb::Envelope::kError) > errors; })
        && fromWire(c.lastError()->message()).contains(QLatin1String("already under way"));
}

} // namespace

class TstCommitPipeline : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    bool m_stopped = false;

    void startServer(ServerOptions options = {})
    {
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    // The op log of a wall as storage holds it: seq -> chat text ("" for other ops).
    std::map<std::uint64_t, QString> storedChat(const QString &wall)
    {
        std::map<std::uint64_t, QString> out;
        for (const auto &[seq, body] : scrawl::test::storedOpRows(m_dir->path(), wall)) {
            pb::Op op;
            op.ParseFromArray(body.constData(), int(body.size()));
            out[seq] = op.has_chat() ? fromWire(op.chat().text()) : QString();
        }
        return out;
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }
    void cleanup()
    {
        if (m_server && !m_stopped)
            m_server->storage().setCommitGate(-1);
        m_stopped = false;
        m_server.reset();
        m_dir.reset();
    }

    void stalledCommitHoldsOnlyWhatItCommits()
    {
        startServer();
        Storage &storage = m_server->storage();
        const QString busy = QStringLiteral("busy");
        const QString calm = QStringLiteral("calm");
        TestClient a, b, c, d;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(c.connectAs(m_server->url(), QStringLiteral("Cy")));
        QVERIFY(d.connectAs(m_server->url(), QStringLiteral("Dee")));
        QVERIFY(a.join(busy));
        QVERIFY(b.join(busy));
        QVERIFY(c.join(calm));
        QVERIFY(d.join(calm));
        const auto one = a.chat(QStringLiteral("one"));
        QTRY_VERIFY(a.acked(one));
        QTRY_COMPARE(b.ops().size(), size_t(1));

        // The commit thread stalls before its next commit.
        storage.setCommitGate(0);
        const auto two = a.chat(QStringLiteral("two"));
        QTRY_COMPARE(storage.commitsQueued(), 1);
        QCOMPARE(m_server->headSeq(busy), std::uint64_t(2)); // sequenced, not committed

        // A join of the stalled wall waits for the commit of what it would be shown.
        TestClient f;
        QVERIFY(f.connectAs(m_server->url(), QStringLiteral("Fay")));
        {
            pb::Envelope env;
            env.mutable_join()->set_wall(toWire(busy));
            f.sendEnvelope(env);
        }
        QVERIFY(secondJoinRefused(f, busy));
        QCOMPARE(f.count(pb::Envelope::kJoined), size_t(0));

        // More ops gather behind the stalled batch: on the same wall, and chat on another one.
        const auto three = a.chat(QStringLiteral("three"));
        const auto calmChat = c.chat(QStringLiteral("calm chat"));
        QTRY_COMPARE(m_server->headSeq(busy), std::uint64_t(3));
        QTRY_COMPARE(m_server->headSeq(calm), std::uint64_t(1));

        // Meanwhile the event loop is free: cursors flow on both walls, and a join of a wall with
        // nothing waiting for a commit is answered at once.
        sendCursor(c, 5);
        QTRY_COMPARE(d.count(pb::Envelope::kCursor), size_t(1));
        sendCursor(a, 7);
        QTRY_COMPARE(b.count(pb::Envelope::kCursor), size_t(1));
        TestClient e;
        QVERIFY(e.connectAs(m_server->url(), QStringLiteral("Eve")));
        QVERIFY(e.join(QStringLiteral("third")));
        // Nothing uncommitted was shown to anybody: no ack, no broadcast, no join answer.
        QVERIFY(!a.acked(two) && !a.acked(three) && !c.acked(calmChat));
        QCOMPARE(b.ops().size(), size_t(1));
        QCOMPARE(d.ops().size(), size_t(0));
        QCOMPARE(f.count(pb::Envelope::kJoined), size_t(0));
        QCOMPARE(storedChat(busy).size(), size_t(1));

        // One commit goes through: "two" lands and is delivered and acknowledged, and the
        // waiting join is answered at exactly seq 2, while the next batch stalls in turn.
        storage.setCommitGate(1);
        QTRY_VERIFY(a.acked(two));
        QTRY_COMPARE(b.ops().size(), size_t(2));
        QTRY_COMPARE(f.count(pb::Envelope::kJoined), size_t(1));
        QCOMPARE(f.lastJoined()->head_seq(), std::uint64_t(2));
        QCOMPARE(f.model.seq(), std::uint64_t(2));
        QTRY_COMPARE(storage.commitsQueued(), 1);
        QVERIFY(!a.acked(three) && !c.acked(calmChat));
        QCOMPARE(b.ops().size(), size_t(2));
        QCOMPARE(d.ops().size(), size_t(0));
        QCOMPARE(storedChat(busy).size(), size_t(2));
        sendCursor(c, 6);
        QTRY_COMPARE(d.count(pb::Envelope::kCursor), size_t(2));

        // The stall ends: everything arrives, in order, exactly once, to everybody.
        storage.setCommitGate(-1);
        QTRY_VERIFY(a.acked(three) && c.acked(calmChat));
        QTRY_COMPARE(b.ops().size(), size_t(3));
        QTRY_COMPARE(f.ops().size(), size_t(1));
        QTRY_COMPARE(d.ops().size(), size_t(1));
        QCOMPARE(seqsOf(a.ops()), (std::vector<std::uint64_t>{1, 2, 3}));
        QCOMPARE(seqsOf(b.ops()), (std::vector<std::uint64_t>{1, 2, 3}));
        QCOMPARE(chatTexts(b.ops()), (std::vector<QString>{QStringLiteral("one"), QStringLiteral("two"),
                                                            QStringLiteral("three")}));
        QCOMPARE(seqsOf(f.ops()), (std::vector<std::uint64_t>{3})); // 1 and 2 came in its join
        QCOMPARE(f.model.seq(), std::uint64_t(3));
        QCOMPARE(chatTexts(d.ops()), (std::vector<QString>{QStringLiteral("calm chat")}));
        const auto stored = storedChat(busy);
        QCOMPARE(stored.size(), size_t(3));
        QCOMPARE(stored.at(3), QStringLiteral("three"));
        // Nothing more is on its way.
        QVERIFY(m_server->flush());
        QCOMPARE(b.ops().size(), size_t(3));
        QCOMPARE(a.disconnects + b.disconnects + c.disconnects + d.disconnects + f.disconnects, 0);
    }

    // A commit fails while the next ops of the wall are already sequenced on it: those are
    // refused with it (their seqs were built on the refused ones), the wall is reloaded to what
    // storage holds, a join that waited is answered with that, and the resent ops land once.
    void failedCommitRefusesWhatWasBuiltOnIt()
    {
        startServer();
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("full");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(wall));
        QVERIFY(b.join(wall));
        const auto first = a.chat(QStringLiteral("stored"));
        QTRY_VERIFY(a.acked(first));
        QTRY_COMPARE(b.ops().size(), size_t(1));

        // The commit connection's database is full (SQLITE_FULL, as on a full disk).
        QSqlDatabase db = scrawl::test::serverDatabase();
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("PRAGMA page_count")) && q.next());
        const int pages = q.value(0).toInt();
        QString error;
        QVERIFY2(storage.execOnCommitConnection(QStringLiteral("PRAGMA max_page_count = %1").arg(pages), &error),
                 qPrintable(error));

        storage.setCommitGate(0);
        const QString big(limits::kMaxChatChars, QChar(0x20AC)); // needs new pages
        const auto lost = a.chat(big);
        QTRY_COMPARE(storage.commitsQueued(), 1);
        const auto builtOn = a.chat(QStringLiteral("sequenced on the lost one"));
        QTRY_COMPARE(m_server->headSeq(wall), std::uint64_t(3));
        TestClient f;
        QVERIFY(f.connectAs(m_server->url(), QStringLiteral("Fay")));
        {
            pb::Envelope env;
            env.mutable_join()->set_wall(toWire(wall));
            f.sendEnvelope(env);
        }
        QVERIFY(secondJoinRefused(f, wall));

        storage.setCommitGate(-1);
        QTRY_VERIFY(refusedWith(a, lost, pb::STORAGE_UNAVAILABLE));
        QTRY_VERIFY(refusedWith(a, builtOn, pb::STORAGE_UNAVAILABLE));
        QVERIFY(!a.acked(lost) && !a.acked(builtOn));
        // Storage still reads: the wall is back at what it holds, and the join shows that.
        QTRY_COMPARE(f.count(pb::Envelope::kJoined), size_t(1));
        QCOMPARE(f.lastJoined()->head_seq(), std::uint64_t(1));
        QCOMPARE(m_server->headSeq(wall), std::uint64_t(1));
        QCOMPARE(b.ops().size(), size_t(1));
        QVERIFY(!m_server->storageHealthy());

        // Storage returns; the author resends both (same client op ids): each lands once.
        QVERIFY2(storage.execOnCommitConnection(QStringLiteral("PRAGMA max_page_count = 1073741823"), &error),
                 qPrintable(error));
        pb::Op resend = pb::Op();
        resend.mutable_chat()->set_text(toWire(big));
        resend.set_client_op_id(lost);
        a.sendOp(resend);
        resend.mutable_chat()->set_text(toWire(QStringLiteral("sequenced on the lost one")));
        resend.set_client_op_id(builtOn);
        a.sendOp(resend);
        QTRY_VERIFY(a.acked(lost) && a.acked(builtOn));
        QTRY_COMPARE(b.ops().size(), size_t(3));
        QTRY_COMPARE(f.ops().size(), size_t(2));
        QCOMPARE(seqsOf(b.ops()), (std::vector<std::uint64_t>{1, 2, 3}));
        QCOMPARE(seqsOf(f.ops()), (std::vector<std::uint64_t>{2, 3}));
        QCOMPARE(storedChat(wall).size(), size_t(3));
        QVERIFY(m_server->storageHealthy());
    }

    // A client resends an op whose commit is still in flight (a reconnect during a stall): the
    // answer waits for it to land and is the stored op, never a second copy.
    void resendWhileCommittingIsAnsweredOnceStored()
    {
        startServer();
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("resend");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(wall));
        QVERIFY(b.join(wall));
        storage.setCommitGate(0);
        pb::Op op;
        op.mutable_chat()->set_text(toWire(QStringLiteral("once")));
        const auto id = a.sendOp(op);
        QTRY_COMPARE(storage.commitsQueued(), 1);
        op.set_client_op_id(id);
        a.sendOp(op); // the resend: not above the newest sequenced id
        // A history page is answered at once, after the resend on the same connection: had the
        // resend been answered (or refused) at once, that answer would have come first.
        {
            pb::Envelope history;
            history.mutable_history_request()->set_limit(10);
            a.sendEnvelope(history);
        }
        QTRY_COMPARE(a.count(pb::Envelope::kHistory), size_t(1));
        QVERIFY(!a.acked(id));
        QVERIFY(!a.lastError() || a.lastError()->client_op_id() != id);
        storage.setCommitGate(-1);
        QTRY_COMPARE(a.count(pb::Envelope::kOp), size_t(2)); // the ack and the resend's answer
        for (const pb::Op &got : a.ops())
            QCOMPARE(got.seq(), std::uint64_t(1));
        QTRY_COMPARE(b.ops().size(), size_t(1));
        QCOMPARE(storedChat(wall).size(), size_t(1));
    }

    // While the disk stalls, ops gather in memory for the next commit, up to a bound: past it a
    // new op is refused with a named limit (non-fatal STORAGE_UNAVAILABLE, which the app sends
    // again); what was taken arrives in order once the stall ends, and the refused op goes
    // through when sent again.
    void backlogIsBoundedWhileTheDiskStalls()
    {
        ServerOptions options;
        options.maxUncommittedBytes = 4096;
        startServer(options);
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("backlog");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(wall));
        QVERIFY(b.join(wall));
        storage.setCommitGate(0);
        const QString text(1000, QLatin1Char('x'));
        std::vector<std::uint64_t> ids;
        for (int i = 0; i < 10; ++i)
            ids.push_back(a.chat(QStringLiteral("%1 %2").arg(i).arg(text)));
        auto refusedOverTheBound = [&](std::uint64_t id) {
            for (const auto &env : a.received) {
                if (env.has_error() && env.error().client_op_id() == id)
                    return env.error().code() == pb::STORAGE_UNAVAILABLE && !env.error().fatal()
                        && env.error().limit() == limits::kMaxUncommittedBytesName;
            }
            return false;
        };
        QTRY_VERIFY(refusedOverTheBound(ids.back()));
        const std::uint64_t taken = m_server->headSeq(wall);
        QVERIFY2(taken >= 4 && taken <= 5, qPrintable(QString::number(taken))); // 4 KiB of 1 KiB ops
        for (size_t i = taken; i < ids.size(); ++i)
            QVERIFY(refusedOverTheBound(ids[i]));
        QVERIFY(!a.acked(ids[0]));

        storage.setCommitGate(-1);
        QTRY_COMPARE(b.ops().size(), size_t(taken));
        for (size_t i = 0; i < taken; ++i) {
            QVERIFY(a.acked(ids[i]));
            QCOMPARE(b.ops()[i].seq(), std::uint64_t(i + 1));
            QVERIFY(fromWire(b.ops()[i].chat().text()).startsWith(QStringLiteral("%1 ").arg(i)));
        }
        // Sent again (with a new id, as the app does): taken.
        const auto again = a.chat(QStringLiteral("%1 %2").arg(taken).arg(text));
        QTRY_VERIFY(a.acked(again));
        QTRY_COMPARE(b.ops().size(), size_t(taken + 1));
        QCOMPARE(storedChat(wall).size(), size_t(taken + 1));
        QCOMPARE(a.disconnects + b.disconnects, 0);
    }

    // The HTTP API while the disk stalls: a GET answers at once from what is committed (it used
    // to wait for every commit in flight, holding up the whole server behind its disk), with
    // head_seq at the committed head; a POST refused because the disk is behind is 503 with
    // Retry-After and the limit's name (it was 400, which tells a bot its message was wrong).
    void httpDoesNotWaitForTheDisk()
    {
        ServerOptions options;
        options.maxUncommittedBytes = 4096;
        startServer(options);
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("api");
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(wall));
        const QByteArray token = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(!token.isEmpty());
        const std::uint64_t first = a.chat(QStringLiteral("stored"));
        QTRY_VERIFY(a.acked(first));
        QTRY_COMPARE(storedChat(wall).size(), size_t(1));

        storage.setCommitGate(0);
        const QString text(1000, QLatin1Char('x'));
        std::uint64_t last = 0;
        for (int i = 0; i < 10; ++i)
            last = a.chat(QStringLiteral("held %1 %2").arg(i).arg(text));
        QTRY_VERIFY(refusedWith(a, last, pb::STORAGE_UNAVAILABLE));
        QVERIFY(m_server->headSeq(wall) > 1);

        QNetworkAccessManager net;
        struct Reply
        {
            bool finished = false;
            int status = 0;
            QByteArray retryAfter;
            QJsonObject json;
        };
        auto request = [&](const QByteArray &verb, const QByteArray &body) {
            QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/walls/%2/messages")
                                         .arg(m_server->port()).arg(wall)));
            req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
            req.setRawHeader("Authorization", "Bearer " + token);
            std::unique_ptr<QNetworkReply> reply(net.sendCustomRequest(req, verb, body));
            QSignalSpy finished(reply.get(), &QNetworkReply::finished);
            Reply out;
            out.finished = reply->isFinished() || finished.wait(10000);
            out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            out.retryAfter = reply->rawHeader("Retry-After");
            out.json = QJsonDocument::fromJson(reply->readAll()).object();
            return out;
        };
        const Reply got = request("GET", {});
        QVERIFY(got.finished);
        QCOMPARE(got.status, 200);
        QCOMPARE(got.json.value(QStringLiteral("head_seq")).toInteger(), 1);
        const QJsonArray messages = got.json.value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("stored"));
        QCOMPARE(storage.commitsQueued(), 1); // answered while the commit is still held

        const Reply posted = request("POST", R"({"author": "bot", "text": "hello"})");
        QVERIFY(posted.finished);
        QCOMPARE(posted.status, 503);
        QCOMPARE(posted.retryAfter, QByteArray("1"));
        QCOMPARE(posted.json.value(QStringLiteral("limit")).toString(),
                 QLatin1String(limits::kMaxUncommittedBytesName));
        QVERIFY(!posted.json.value(QStringLiteral("error")).toString().isEmpty());

        // Once the disk catches up, a GET shows what was held, and a POST goes through.
        storage.setCommitGate(-1);
        const std::uint64_t head = m_server->headSeq(wall);
        QTRY_COMPARE(storedChat(wall).size(), size_t(head));
        QTRY_COMPARE(a.ops().size(), size_t(head));
        QCOMPARE(request("GET", {}).json.value(QStringLiteral("head_seq")).toInteger(), qint64(head));
        QCOMPARE(request("POST", R"({"author": "bot", "text": "hello"})").status, 201);
    }

    // A POST waits for its own commit without holding the server up: while the disk is stalled
    // the event loop goes on (cursors flow, a GET is answered, the POST is not), and the POST
    // is answered 201 with the stored message once its commit lands. (It used to wait inside
    // a blocking flush: the whole server stopped behind its disk, here for good.)
    void httpPostWaitsForItsCommitAlone()
    {
        startServer();
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("bots");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(wall));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(b.join(wall));
        const QByteArray token = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(!token.isEmpty());

        storage.setCommitGate(0);
        QNetworkAccessManager net;
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/walls/%2/messages")
                                     .arg(m_server->port()).arg(wall)));
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        req.setRawHeader("Authorization", "Bearer " + token);
        std::unique_ptr<QNetworkReply> posted(net.post(req, QByteArray(R"({"author": "bot", "text": "deploy done"})")));
        QTRY_COMPARE(m_server->headSeq(wall), std::uint64_t(1)); // sequenced, not stored
        QCOMPARE(storage.commitsQueued(), 1);

        sendCursor(a, 3);
        QTRY_COMPARE(b.count(pb::Envelope::kCursor), size_t(1));
        std::unique_ptr<QNetworkReply> got(net.get(req));
        QSignalSpy gotDone(got.get(), &QNetworkReply::finished);
        QVERIFY(got->isFinished() || gotDone.wait(10000));
        QCOMPARE(got->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(QJsonDocument::fromJson(got->readAll()).object().value(QStringLiteral("head_seq")).toInteger(), 0);
        QVERIFY(!posted->isFinished());
        QCOMPARE(b.ops().size(), size_t(0)); // nothing uncommitted shown

        storage.setCommitGate(-1);
        QTRY_VERIFY(posted->isFinished());
        QCOMPARE(posted->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);
        const QJsonObject answer = QJsonDocument::fromJson(posted->readAll()).object();
        QCOMPARE(answer.value(QStringLiteral("text")).toString(), QStringLiteral("deploy done"));
        QCOMPARE(answer.value(QStringLiteral("seq")).toInteger(), 1);
        QTRY_COMPARE(b.ops().size(), size_t(1));
        QCOMPARE(storedChat(wall).size(), size_t(1));
    }

    // Snapshots are stored on the commit thread, in turn with the op batches: while the disk
    // is held nothing of one is stored, a snapshot showing ops still being committed becomes
    // the wall's only after them, and a restart loads a wall whose snapshot and op log agree.
    void snapshotIsStoredInTurnWithTheOps()
    {
        ServerOptions options;
        options.snapshotEveryOps = 5;
        startServer(options);
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("snap");
        TestClient a, watcher;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(wall));
        QVERIFY(watcher.connectAs(m_server->url(), QStringLiteral("Wes")));
        QVERIFY(watcher.join(wall));
        auto snapshotSeq = [&]() -> std::int64_t { // -1: none stored
            QSqlQuery q(scrawl::test::serverDatabase());
            q.prepare(QStringLiteral("SELECT snapshot_heads.seq FROM snapshot_heads JOIN walls ON "
                                     "walls.id = snapshot_heads.wall_id WHERE walls.name = ?"));
            q.addBindValue(wall);
            return q.exec() && q.next() ? q.value(0).toLongLong() : -1;
        };

        storage.setCommitGate(0);
        std::uint64_t last = 0;
        for (int i = 1; i <= 6; ++i)
            last = a.chat(QStringLiteral("first %1").arg(i));
        QTRY_COMPARE(m_server->headSeq(wall), std::uint64_t(6));
        QTRY_COMPARE(storage.commitsQueued(), 1);
        for (int i = 1; i <= 3; ++i)
            last = a.chat(QStringLiteral("then %1").arg(i));
        QTRY_COMPARE(m_server->headSeq(wall), std::uint64_t(9));
        // The first batch lands; a snapshot is due, at seq 9, showing the three held behind it.
        storage.setCommitGate(1);
        QTRY_COMPARE(storedChat(wall).size(), size_t(6));
        sendCursor(a, 1); // the event loop is free while the disk is held
        QTRY_COMPARE(watcher.count(pb::Envelope::kCursor), size_t(1));
        QCOMPARE(snapshotSeq(), -1);
        QVERIFY(!a.acked(last));

        storage.setCommitGate(-1);
        QTRY_VERIFY(a.acked(last));
        QTRY_COMPARE(snapshotSeq(), 9);
        QCOMPARE(storedChat(wall).size(), size_t(9));

        // A restart loads the snapshot (and no op after it): the same nine messages.
        m_server.reset();
        startServer(options);
        TestClient b;
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(b.join(wall));
        QCOMPARE(b.lastJoined()->head_seq(), std::uint64_t(9));
        QCOMPARE(b.lastJoined()->recent_chat_size(), 9);
        QCOMPARE(m_server->headSeq(wall), std::uint64_t(9));
    }

    // Shutdown commits and broadcasts everything sequenced before anybody is told to go.
    void stopCommitsAndBroadcastsEverything()
    {
        startServer();
        Storage &storage = m_server->storage();
        const QString wall = QStringLiteral("closing");
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(wall));
        QVERIFY(b.join(wall));
        storage.setCommitGate(0);
        a.chat(QStringLiteral("in flight"));
        QTRY_COMPARE(storage.commitsQueued(), 1);
        a.chat(QStringLiteral("queued"));
        QTRY_COMPARE(m_server->headSeq(wall), std::uint64_t(2));
        // The stall ends as the server stops, before the event loop hears of any commit.
        storage.setCommitGate(-1);
        m_server->stop();
        m_stopped = true;
        QTRY_VERIFY(b.disconnects > 0 || b.socket().state() == QAbstractSocket::UnconnectedState);
        QCOMPARE(chatTexts(b.ops()), (std::vector<QString>{QStringLiteral("in flight"), QStringLiteral("queued")}));
        QCOMPARE(seqsOf(a.ops()), (std::vector<std::uint64_t>{1, 2}));
        const auto stored = storedChat(wall);
        QCOMPARE(stored.size(), size_t(2));
        QCOMPARE(stored.at(2), QStringLiteral("queued"));
    }
};

QTEST_GUILESS_MAIN(TstCommitPipeline)
#include "tst_commitpipeline.moc"
