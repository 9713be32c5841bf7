// End-to-end tests of the wall server: the real server on 127.0.0.1 port 0, real WebSocket
// clients, a real SQLite file in a temporary directory.

#include "server/wallserver.h"
#include "tests/support/rawsocket.h"
#include "tests/support/testclient.h"

#include <QDir>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlRecord>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

std::vector<QPointF> wave(int n, double phase = 0)
{
    std::vector<QPointF> out;
    for (int i = 0; i < n; ++i)
        out.emplace_back(100 + i * 3.1, 200 + 40 * std::sin(i / 8.0 + phase));
    return out;
}

} // namespace

class TstWallServer : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    void startServer(quint16 port = 0, int snapshotEveryOps = ServerOptions().snapshotEveryOps)
    {
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = port;
        options.dataDir = m_dir->path();
        options.snapshotEveryOps = snapshotEveryOps;
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    QUrl url() const { return m_server->url(); }

    // Runs `statements` on the server's database through a connection of its own, as an
    // operator or a crash would change the file; returns the rows of the last one.
    QList<QVariantList> onFile(const QStringList &statements)
    {
        QList<QVariantList> rows;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("onfile"));
            db.setDatabaseName(QDir(m_dir->path()).filePath(QStringLiteral("scrawl.sqlite")));
            if (!db.open())
                qWarning() << "cannot open the database:" << db.lastError().text();
            for (const QString &statement : statements) {
                QSqlQuery q(db);
                if (!q.exec(statement))
                    qWarning() << statement << "failed:" << q.lastError().text();
                rows.clear();
                while (q.next()) {
                    QVariantList row;
                    for (int i = 0; i < q.record().count(); ++i)
                        row.append(q.value(i));
                    rows.append(row);
                }
            }
        }
        QSqlDatabase::removeDatabase(QStringLiteral("onfile"));
        return rows;
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

    void helloIsAnsweredWithWelcome()
    {
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(c.userId > 0);
        QCOMPARE(c.resumeToken.size(), size_t(16));
        const auto &w = c.received.front().welcome();
        QCOMPARE(w.protocol_version(), kProtocolVersion);
        QCOMPARE(fromWire(w.server_version()), QLatin1String(kAppVersion));
    }

    void resumeTokenKeepsUserId()
    {
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        TestClient b;
        QVERIFY(b.connectAs(url(), QStringLiteral("Ada again"), a.resumeToken));
        QCOMPARE(b.userId, a.userId);
        QVERIFY(b.received.front().welcome().resumed());
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Stranger"), std::string(16, 'x')));
        QVERIFY(c.userId != a.userId);
        QVERIFY(!c.received.front().welcome().resumed());
    }

    void versionMismatchSaysBothVersions()
    {
        TestClient c;
        QVERIFY(c.open(url()));
        c.sendHello(QStringLiteral("Old"), kProtocolVersion + 1);
        QTRY_COMPARE(c.disconnects, 1);
        QCOMPARE(c.closeCode, closeCodeFor(pb::VERSION_MISMATCH));
        QVERIFY(c.lastError());
        const QString message = fromWire(c.lastError()->message());
        QVERIFY2(message.contains(QStringLiteral("protocol %1").arg(kProtocolVersion))
                     && message.contains(QStringLiteral("protocol %1").arg(kProtocolVersion + 1)),
                 qPrintable(message));
        QVERIFY(c.lastError()->fatal());
    }

    void twoClientsSeeTheSameOpsInTheSameOrder()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("team")));
        QVERIFY(b.join(QStringLiteral("team")));
        // Bob's arrival reaches Ada as presence.
        QTRY_VERIFY(a.count(pb::Envelope::kPresence) >= 1);

        for (int i = 0; i < 20; ++i) {
            a.chat(QStringLiteral("a%1").arg(i));
            b.stroke(std::uint32_t(i + 1), wave(30, i), 3);
            b.chat(QStringLiteral("b%1").arg(i));
        }
        const size_t total = 20 * (1 + 4 + 1);
        QTRY_COMPARE(a.ops().size(), total);
        QTRY_COMPARE(b.ops().size(), total);
        const auto opsA = a.ops();
        const auto opsB = b.ops();
        for (size_t i = 0; i < total; ++i) {
            QCOMPARE(opsA[i].seq(), std::uint64_t(i + 1));
            // A stroke's points and end carry their client op id only to their author (its
            // ack); everything else is the same bytes for everyone.
            pb::Op seenByA = opsA[i], seenByB = opsB[i];
            const bool strokeBatch = seenByA.has_stroke_points() || seenByA.has_stroke_end();
            const bool byA = seenByA.author() == a.userId;
            QVERIFY((byA ? seenByA : seenByB).client_op_id() != 0);
            QCOMPARE((byA ? seenByB : seenByA).client_op_id() != 0, !strokeBatch);
            if (strokeBatch) {
                seenByA.clear_client_op_id();
                seenByB.clear_client_op_id();
            }
            QCOMPARE(seenByA.SerializeAsString(), seenByB.SerializeAsString());
        }
        QCOMPARE(a.model.strokes().size(), size_t(20));
        QCOMPARE(a.model.snapshot().SerializeAsString(), b.model.snapshot().SerializeAsString());
        // Authors are stamped by the server, names too.
        QCOMPARE(opsA.front().author(), a.userId);
        QCOMPARE(fromWire(opsA.front().chat().author_name()), QStringLiteral("Ada"));
        QVERIFY(opsA.front().time_ms() > 0);
    }

    void lateJoinerGetsSnapshotAndRecentChat()
    {
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("late")));
        for (int i = 0; i < 30; ++i)
            a.stroke(std::uint32_t(i + 1), wave(50, i), 5);
        a.chat(QStringLiteral("hello late people"));
        const std::uint64_t head = 30 * 6 + 1; // begin + 4 point batches + end, per stroke
        QTRY_COMPARE(a.model.seq(), head);

        TestClient late;
        QVERIFY(late.connectAs(url(), QStringLiteral("Late")));
        QVERIFY(late.join(QStringLiteral("late")));
        const pb::Joined *j = late.lastJoined();
        QVERIFY(j->has_snapshot());
        QCOMPARE(j->ops_size(), 0);
        QCOMPARE(j->head_seq(), head);
        QCOMPARE(j->snapshot().strokes_size(), 30);
        QCOMPARE(j->recent_chat_size(), 1);
        QCOMPARE(fromWire(j->recent_chat(0).chat().text()), QStringLiteral("hello late people"));
        QCOMPARE(j->members_size(), 2);
        QCOMPARE(late.model.snapshot().SerializeAsString(), a.model.snapshot().SerializeAsString());
    }

    void reconnectWithLastSeqGetsOnlyMissedOps()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("resume")));
        for (int i = 0; i < 50; ++i)
            a.stroke(std::uint32_t(i + 1), wave(40, i), 2);
        QTRY_COMPARE(a.model.seq(), std::uint64_t(150));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(b.join(QStringLiteral("resume")));
        const std::uint64_t seen = b.model.seq();
        QCOMPARE(seen, std::uint64_t(150));
        b.socket().close();
        QTRY_COMPARE(b.disconnects, 1);

        a.chat(QStringLiteral("while you were away"));
        a.stroke(999, wave(20), 1);
        QTRY_COMPARE(a.model.seq(), std::uint64_t(153));

        TestClient b2;
        b2.model = b.model;
        QVERIFY(b2.connectAs(url(), QStringLiteral("Bob"), b.resumeToken));
        QVERIFY(b2.join(QStringLiteral("resume"), seen));
        const pb::Joined *j = b2.lastJoined();
        QVERIFY(!j->has_snapshot());
        QCOMPARE(j->ops_size(), 3);
        QCOMPARE(j->ops(0).seq(), std::uint64_t(151));
        QCOMPARE(j->ops(2).seq(), std::uint64_t(153));
        QCOMPARE(b2.model.snapshot().SerializeAsString(), a.model.snapshot().SerializeAsString());
    }

    void duplicateClientOpIdIsAppliedOnce()
    {
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("dup")));
        pb::Op op;
        op.set_client_op_id(7);
        op.mutable_chat()->set_text("once");
        a.sendOp(op);
        QTRY_VERIFY(a.acked(7));
        a.sendOp(op); // same client op id, as an outbox resend after a reconnect would
        QTRY_COMPARE(a.ops().size(), size_t(2));
        const auto ops = a.ops();
        QCOMPARE(ops[1].seq(), ops[0].seq());
        QCOMPARE(ops[1].SerializeAsString(), ops[0].SerializeAsString());
        QCOMPARE(m_server->headSeq(QStringLiteral("dup")), std::uint64_t(1));

        // A second client on the same wall saw it exactly once.
        TestClient b;
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(b.join(QStringLiteral("dup")));
        QCOMPARE(b.lastJoined()->recent_chat_size(), 1);

        // The resend also works on a new connection that resumed the identity.
        TestClient again;
        QVERIFY(again.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QVERIFY(again.join(QStringLiteral("dup"), 1));
        again.sendOp(op);
        QTRY_VERIFY(again.acked(7));
        QCOMPARE(m_server->headSeq(QStringLiteral("dup")), std::uint64_t(1));

        // An id below the newest that was never stored (a client that skipped ids) is refused,
        // not applied.
        pb::Op skipped;
        skipped.set_client_op_id(5);
        skipped.mutable_chat()->set_text("never sent before");
        again.sendOp(skipped);
        QTRY_VERIFY(again.lastError());
        QCOMPARE(again.lastError()->code(), pb::INVALID_OP);
        QCOMPARE(QString::fromStdString(again.lastError()->limit()), QStringLiteral("resend_lookback_ops"));
        QCOMPARE(m_server->headSeq(QStringLiteral("dup")), std::uint64_t(1));
    }

    void leftOutClientOpIdsCountOnFromThePrevious()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("ids")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(b.join(QStringLiteral("ids")));
        const auto send = [](TestClient &c, std::uint64_t id, const char *text) {
            pb::Envelope env;
            env.mutable_op()->set_client_op_id(id); // 0: left out
            env.mutable_op()->mutable_chat()->set_text(text);
            c.sendEnvelope(env);
        };
        // The first op on a connection must say its id.
        send(b, 0, "no id");
        QTRY_VERIFY(b.lastError());
        QCOMPARE(b.lastError()->code(), pb::INVALID_OP);
        QVERIFY2(fromWire(b.lastError()->message()).contains(QStringLiteral("first op")),
                 b.lastError()->message().c_str());

        send(a, 1000, "first");
        send(a, 0, "second");
        send(a, 0, "third");
        send(a, 2000, "a jump");
        send(a, 0, "after the jump");
        QTRY_COMPARE(a.ops().size(), size_t(5));
        const std::uint64_t expected[] = {1000, 1001, 1002, 2000, 2001};
        for (size_t i = 0; i < 5; ++i)
            QCOMPARE(a.ops()[i].client_op_id(), expected[i]);
        QCOMPARE(m_server->headSeq(QStringLiteral("ids")), std::uint64_t(5));

        // A left-out id names a resend as well as a written one: sent again on a new
        // connection (first with its id, then without), the ops are answered, not applied.
        TestClient again;
        QVERIFY(again.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QVERIFY(again.join(QStringLiteral("ids"), 0));
        send(again, 1001, "second");
        send(again, 0, "third");
        QTRY_VERIFY(again.acked(1001) && again.acked(1002));
        QCOMPARE(m_server->headSeq(QStringLiteral("ids")), std::uint64_t(5));
    }

    void resendsAreRecognisedAfterARestart()
    {
        // Each author's newest client op id outlives the server, also in a database from before
        // client_heads (an index of every op by author and client op id), which is upgraded.
        std::string token;
        std::vector<std::uint64_t> ids;
        {
            TestClient a;
            QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
            QVERIFY(a.join(QStringLiteral("again")));
            ids = a.stroke(1, wave(40), 4);
            ids.push_back(a.chat(QStringLiteral("last")));
            QTRY_VERIFY(a.acked(ids.back()));
            token = a.resumeToken;
        }
        const quint16 port = m_server->port();
        for (const bool upgrade : {false, true}) {
            m_server.reset();
            if (upgrade) {
                onFile({QStringLiteral("DELETE FROM client_heads"),
                        QStringLiteral("CREATE INDEX ops_client ON ops (wall_id, author, client_op_id)")});
            }
            startServer(port);
            if (upgrade) {
                QCOMPARE(onFile({QStringLiteral("SELECT count(*) FROM sqlite_master WHERE name = 'ops_client'")})
                             .front()[0].toInt(), 0);
            }
            TestClient a;
            QVERIFY(a.connectAs(url(), QStringLiteral("Ada"), token));
            QVERIFY(a.join(QStringLiteral("again"), 1));
            const std::uint64_t head = m_server->headSeq(QStringLiteral("again"));
            // The outbox of a client that lost the connection with these in flight: the newest,
            // and one a few ops before it.
            for (const size_t i : {ids.size() - 1, size_t(1)}) {
                pb::Op op;
                op.set_client_op_id(ids[i]);
                op.mutable_chat()->set_text("resent");
                a.sendOp(op);
                QTRY_VERIFY2(a.acked(ids[i]), upgrade ? "after the upgrade" : "after a restart");
                const pb::Op answer = a.ops().back();
                QCOMPARE(answer.client_op_id(), ids[i]);
                QCOMPARE(answer.seq(), std::uint64_t(i + 1)); // the stored op, not the resent one
            }
            QCOMPARE(m_server->headSeq(QStringLiteral("again")), head);
        }
    }

    void restartKeepsTheWall()
    {
        QByteArray before;
        std::string token;
        {
            TestClient a;
            QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
            QVERIFY(a.join(QStringLiteral("keep")));
            for (int i = 0; i < 10; ++i)
                a.stroke(std::uint32_t(i + 1), wave(25, i), 2);
            pb::Op note;
            note.mutable_note_add()->set_id(1);
            note.mutable_note_add()->set_x(10);
            note.mutable_note_add()->set_y(20);
            note.mutable_note_add()->set_text("remember me");
            const auto id = a.sendOp(note);
            a.chat(QStringLiteral("bye"));
            QTRY_VERIFY(a.acked(id + 1));
            before = QByteArray::fromStdString(a.model.snapshot().SerializeAsString());
            token = a.resumeToken;
        }
        const quint16 port = m_server->port();
        m_server.reset();
        startServer(port);
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada"), token));
        QVERIFY(a.received.front().welcome().resumed());
        QVERIFY(a.join(QStringLiteral("keep")));
        QCOMPARE(QByteArray::fromStdString(a.model.snapshot().SerializeAsString()), before);
        QCOMPARE(a.model.notes().size(), size_t(1));
        QCOMPARE(a.lastJoined()->recent_chat_size(), 1);
    }

    void snapshotsWaitForTheirWeightInOps()
    {
        // A snapshot is stored once snapshotEveryOps ops *and* as many bytes of ops as the last
        // snapshot weighed have come: cheap chat does not rewrite a heavy wall.
        m_server.reset();
        startServer(0, 10);
        // What storage holds, read the way an operator would: its own connection to the file.
        auto stored = [this]() -> std::pair<std::uint64_t, qint64> {
            const QList<QVariantList> rows = onFile({QStringLiteral("SELECT seq, bytes FROM snapshot_heads")});
            if (rows.isEmpty())
                return {0, 0};
            return {rows.front()[0].toULongLong(), rows.front()[1].toLongLong()};
        };
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("snaps")));
        std::uint64_t last = 0;
        for (int i = 0; i < 4; ++i)
            last = a.stroke(std::uint32_t(i + 1), wave(300, i), 3).back(); // 5 ops each
        QTRY_VERIFY(a.acked(last));
        // Stored a part per event-loop pass: it lands a moment after the acks.
        QTRY_VERIFY(stored().first >= 10);
        const auto [firstSeq, firstBytes] = stored();
        QVERIFY2(firstSeq >= 10, qPrintable(QString::number(firstSeq)));
        QVERIFY2(firstBytes > 1200, qPrintable(QString::number(firstBytes))); // 1,200 points, about a byte each

        // 15 chat lines: past snapshotEveryOps, yet far lighter than the snapshot.
        for (int i = 0; i < 15; ++i)
            last = a.chat(QStringLiteral("line %1").arg(i));
        QTRY_VERIFY(a.acked(last));
        QCOMPARE(stored().first, firstSeq);

        // Strokes that outweigh the snapshot: the next one is stored.
        std::uint32_t id = 100;
        while (stored().first == firstSeq && id < 140) {
            last = a.stroke(id, wave(300, id), 3).back();
            ++id;
            QTRY_VERIFY(a.acked(last));
        }
        QVERIFY2(stored().first > firstSeq, "no second snapshot after 40 heavy strokes");
        QVERIFY(id > 101); // not on the first stroke: it waited for the bytes

        // And a restart starts from it, replaying the rest: the same wall.
        const std::string before = a.model.snapshot().SerializeAsString();
        const quint16 port = m_server->port();
        m_server.reset();
        startServer(port, 10);
        TestClient b;
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(b.join(QStringLiteral("snaps")));
        QCOMPARE(b.model.snapshot().SerializeAsString(), before);
    }

    void bigSnapshotsAreStoredInParts()
    {
        // A snapshot is written a part (Storage::kSnapshotPartBytes) per event-loop pass into the
        // spare slot; the wall starts from it after a restart, a torn one is passed over for the
        // ops, and the single-row form of older databases still loads.
        m_server.reset();
        startServer(0, 10);
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("big")));
        std::uint64_t last = 0;
        for (int i = 0; i < 40; ++i) // 200,000 points: about 200 KB of snapshot
            last = a.stroke(std::uint32_t(i + 1), wave(5000, i), 5).back();
        QTRY_VERIFY(a.acked(last));
        const std::string before = a.model.snapshot().SerializeAsString();
        const QString head = QStringLiteral("SELECT seq, slot, parts, bytes FROM snapshot_heads");
        QTRY_VERIFY(!onFile({head}).isEmpty()); // stored while the ops came
        const quint16 port = m_server->port();
        m_server.reset(); // and now the whole wall, on the way out
        const QVariantList stored = onFile({head}).front();
        QCOMPARE(stored[0].toULongLong(), a.model.seq());
        const int slot = stored[1].toInt();
        const int parts = stored[2].toInt();
        QVERIFY2(parts >= 3, qPrintable(QString::number(parts)));
        QVERIFY(stored[3].toLongLong() > qint64(parts - 1) * Storage::kSnapshotPartBytes);
        const QString partsOf = QStringLiteral("SELECT part, body FROM snapshot_parts WHERE slot = %1 ORDER BY part");
        QCOMPARE(onFile({partsOf.arg(slot)}).size(), parts);

        auto restartAndCompare = [&](const char *what) {
            startServer(port, 10);
            TestClient b;
            QVERIFY2(b.connectAs(url(), QStringLiteral("Bob")), what);
            QVERIFY2(b.join(QStringLiteral("big")), what);
            QVERIFY2(b.model.snapshot().SerializeAsString() == before, what);
            m_server.reset();
        };

        // A part gone (a torn write): the ops are replayed instead, and stopping stores the
        // snapshot whole again, in the other slot.
        onFile({QStringLiteral("DELETE FROM snapshot_parts WHERE slot = %1 AND part = 1").arg(slot)});
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("snapshot of wall .* is incomplete: 1 of %1 parts").arg(parts)));
        restartAndCompare("torn snapshot");
        if (QTest::currentTestFailed())
            return;
        const QVariantList again = onFile({head}).front();
        QCOMPARE(again[0].toULongLong(), a.model.seq());
        QCOMPARE(again[1].toInt(), 1 - slot);
        const QList<QVariantList> rows = onFile({partsOf.arg(1 - slot)});
        QCOMPARE(rows.size(), again[2].toInt());

        // Now the only record of the ops: the wall comes from it.
        onFile({QStringLiteral("DELETE FROM ops")});
        restartAndCompare("snapshot in parts");
        if (QTest::currentTestFailed())
            return;

        // The single-row form of older databases.
        QByteArray whole;
        for (const QVariantList &row : rows)
            whole += row[1].toByteArray();
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("put"));
            db.setDatabaseName(QDir(m_dir->path()).filePath(QStringLiteral("scrawl.sqlite")));
            QVERIFY(db.open());
            QSqlQuery q(db);
            q.prepare(QStringLiteral("INSERT INTO snapshots (wall_id, seq, body) SELECT wall_id, seq, ? FROM snapshot_heads"));
            q.addBindValue(whole);
            QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
            QVERIFY(q.exec(QStringLiteral("DELETE FROM snapshot_heads")));
            QVERIFY(q.exec(QStringLiteral("DELETE FROM snapshot_parts")));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("put"));
        restartAndCompare("single-row snapshot");
        startServer(port, 10);
    }

    void undoAndRedoAreSeenByEveryone()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("undo")));
        QVERIFY(b.join(QStringLiteral("undo")));
        const auto ids = a.stroke(1, wave(10), 1);
        pb::Op undo;
        undo.mutable_undo()->set_target_client_op_id(ids.front());
        const auto undoId = a.sendOp(undo);
        QTRY_VERIFY(a.acked(undoId));
        QTRY_COMPARE(b.model.seq(), a.model.seq());
        QVERIFY(!b.model.strokes().front().visible());
        // Bob cannot undo Ada's stroke.
        pb::Op steal;
        steal.mutable_redo()->set_target_client_op_id(ids.front());
        const auto stealId = b.sendOp(steal);
        QTRY_VERIFY(b.lastError() && b.lastError()->client_op_id() == stealId);
        QCOMPARE(b.lastError()->code(), pb::INVALID_OP);
        pb::Op redo;
        redo.mutable_redo()->set_target_client_op_id(ids.front());
        const auto redoId = a.sendOp(redo);
        QTRY_VERIFY(a.acked(redoId));
        QTRY_VERIFY(b.model.strokes().front().visible());
    }

    void historyPagesOlderChat()
    {
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("talk")));
        for (int i = 0; i < 120; ++i)
            a.chat(QStringLiteral("m%1").arg(i));
        QTRY_COMPARE(a.model.seq(), std::uint64_t(120));
        TestClient b;
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(b.join(QStringLiteral("talk")));
        const pb::Joined *j = b.lastJoined();
        QCOMPARE(j->recent_chat_size(), limits::kRecentChatOnJoin);
        QCOMPARE(fromWire(j->recent_chat(j->recent_chat_size() - 1).chat().text()), QStringLiteral("m119"));
        pb::Envelope req;
        req.mutable_history_request()->set_before_seq(j->recent_chat(0).seq());
        req.mutable_history_request()->set_limit(60);
        b.sendEnvelope(req);
        QTRY_COMPARE(b.count(pb::Envelope::kHistory), size_t(1));
        const auto &h = b.received.back().history();
        QCOMPARE(h.chat_size(), 60);
        QVERIFY(h.more());
        QCOMPARE(fromWire(h.chat(59).chat().text()), QStringLiteral("m69"));
        QCOMPARE(fromWire(h.chat(0).chat().text()), QStringLiteral("m10"));
    }

    void cursorsAreRelayedToOthersOnly()
    {
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("cur")));
        QVERIFY(b.join(QStringLiteral("cur")));
        pb::Envelope env;
        env.mutable_cursor()->set_x(12.5f);
        env.mutable_cursor()->set_y(-3);
        env.mutable_cursor()->set_user_id(424242); // forged: the server stamps the real one
        a.sendEnvelope(env);
        QTRY_COMPARE(b.count(pb::Envelope::kCursor), size_t(1));
        QCOMPARE(b.received.back().cursor().user_id(), a.userId);
        QCOMPARE(b.received.back().cursor().x(), 12.5f);
        QCOMPARE(a.count(pb::Envelope::kCursor), size_t(0));
    }

    void leavingIsAnnounced()
    {
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("bye")));
        {
            TestClient b;
            QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
            QVERIFY(b.join(QStringLiteral("bye")));
            QTRY_COMPARE(a.count(pb::Envelope::kPresence), size_t(1));
        }
        QTRY_COMPARE(a.count(pb::Envelope::kPresence), size_t(2));
        const auto &p = a.received.back().presence();
        QVERIFY(!p.online());
        QCOMPARE(fromWire(p.member().name()), QStringLiteral("Bob"));
    }

    void silentPeerIsDropped()
    {
        m_server.reset();
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        options.pingIntervalMs = 100;
        options.peerTimeoutMs = 400;
        options.helloTimeoutMs = 300;
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));

        // A connection that never says Hello is closed with TIMEOUT.
        TestClient mute;
        QVERIFY(mute.open(url()));
        QTRY_COMPARE_WITH_TIMEOUT(mute.disconnects, 1, 3000);
        QCOMPARE(mute.closeCode, closeCodeFor(pb::TIMEOUT));

        // A live client answers pings (QWebSocket does so by itself) and stays.
        TestClient live;
        QVERIFY(live.connectAs(url(), QStringLiteral("Live")));

        // A peer that said Hello and then went silent (answers no ping) is dropped.
        QTcpSocket silent;
        QVERIFY(test::rawUpgrade(silent, m_server->port()));
        pb::Envelope hello;
        hello.mutable_hello()->set_protocol_version(kProtocolVersion);
        hello.mutable_hello()->set_display_name("Silent");
        silent.write(test::wsFrame(0x2, serialize(hello)));
        QTRY_COMPARE(m_server->sessionCount(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(silent.state(), QAbstractSocket::UnconnectedState, 5000);
        QCOMPARE(m_server->sessionCount(), 1);
        // The live client outlived the silent one's whole timeout.
        QCOMPARE(live.disconnects, 0);
    }
};

QTEST_GUILESS_MAIN(TstWallServer)
#include "tst_wallserver.moc"
