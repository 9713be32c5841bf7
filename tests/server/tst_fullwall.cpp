// Limits (issue 4 item 3): a wall that reaches its size limit says so (WALL_FULL naming the
// limit) and stays usable for reading and chat. The capacity is shrunk through ServerOptions so
// that a few ops fill the wall; the limit names are those of core/limits.h.

#include "server/wallserver.h"
#include "tests/support/testclient.h"

#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::TestClient;

class TstFullWall : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    void startServer(limits::WallCapacity capacity)
    {
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        options.wallCapacity = capacity;
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    // The Error that refused this client op id, if any.
    static const pb::Error *errorFor(const TestClient &c, std::uint64_t clientOpId)
    {
        for (const auto &env : c.received) {
            if (env.has_error() && env.error().client_op_id() == clientOpId)
                return &env.error();
        }
        return nullptr;
    }

    static std::vector<QPointF> line(int n, double y)
    {
        std::vector<QPointF> out;
        for (int i = 0; i < n; ++i)
            out.emplace_back(10 + i, y);
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
        m_server.reset();
        m_dir.reset();
    }

    void fullOfObjectsSaysSoAndStaysReadableAndChatty()
    {
        startServer({/*maxObjects*/ 5, /*maxPoints*/ 1000000});
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("small")));
        QVERIFY(b.join(QStringLiteral("small")));
        QVERIFY(!a.lastJoined()->wall_full());
        for (int i = 0; i < 4; ++i)
            a.stroke(std::uint32_t(i + 1), line(10, i * 5), 1);
        pb::Op note;
        note.mutable_note_add()->set_id(1);
        note.mutable_note_add()->set_text("the fifth object");
        const auto noteId = a.sendOp(note);
        QTRY_VERIFY(a.acked(noteId));
        const std::uint64_t head = m_server->headSeq(QStringLiteral("small"));

        // The sixth object is refused, by name, for strokes and notes alike, and not fatally.
        const auto ids = b.stroke(9, line(5, 50), 1);
        QTRY_VERIFY(errorFor(b, ids.front()));
        const pb::Error *full = errorFor(b, ids.front());
        QCOMPARE(full->code(), pb::WALL_FULL);
        QCOMPARE(QString::fromStdString(full->limit()), QLatin1String(limits::kMaxWallObjectsName));
        const QString message = fromWire(full->message());
        QVERIFY2(message.contains(QLatin1String(limits::kMaxWallObjectsName)) && message.contains(QStringLiteral("chat")),
                 qPrintable(message));
        QVERIFY(!full->fatal());
        pb::Op note2;
        note2.mutable_note_add()->set_id(2);
        note2.mutable_note_add()->set_text("one too many");
        const auto note2Id = a.sendOp(note2);
        QTRY_VERIFY(a.lastError() && a.lastError()->client_op_id() == note2Id);
        QCOMPARE(a.lastError()->code(), pb::WALL_FULL);
        QCOMPARE(m_server->headSeq(QStringLiteral("small")), head);

        // Chat goes on; editing, moving, undoing and erasing what is there go on.
        const auto chatId = b.chat(QStringLiteral("the wall is full, let's talk"));
        QTRY_VERIFY(b.acked(chatId));
        pb::Op move;
        move.mutable_note_move()->set_note(objectKey(a.userId, 1));
        move.mutable_note_move()->set_x(100);
        move.mutable_note_move()->set_y(100);
        const auto moveId = a.sendOp(move);
        QTRY_VERIFY(a.acked(moveId));
        pb::Op erase;
        erase.mutable_erase()->add_strokes(objectKey(a.userId, 1));
        const auto eraseId = a.sendOp(erase);
        QTRY_VERIFY(a.acked(eraseId));
        QTRY_COMPARE(b.model.seq(), a.model.seq());

        // Joining and reading still work, and the joiner is told the wall is full.
        TestClient c;
        QVERIFY(c.connectAs(m_server->url(), QStringLiteral("Cy")));
        QVERIFY(c.join(QStringLiteral("small")));
        QVERIFY(c.lastJoined()->wall_full());
        QCOMPARE(c.model.snapshot().SerializeAsString(), a.model.snapshot().SerializeAsString());
        QCOMPARE(c.lastJoined()->recent_chat_size(), 1);
        pb::Envelope req;
        req.mutable_history_request()->set_limit(10);
        c.sendEnvelope(req);
        QTRY_COMPARE(c.count(pb::Envelope::kHistory), size_t(1));

        // Still full after a restart (the limit is a property of the wall, not of memory).
        m_server.reset();
        startServer({5, 1000000});
        TestClient d;
        QVERIFY(d.connectAs(m_server->url(), QStringLiteral("Dee")));
        QVERIFY(d.join(QStringLiteral("small")));
        QVERIFY(d.lastJoined()->wall_full());
        const auto refused = d.stroke(1, line(3, 0), 1);
        QTRY_VERIFY(errorFor(d, refused.front()));
        QCOMPARE(errorFor(d, refused.front())->code(), pb::WALL_FULL);
        const auto dChat = d.chat(QStringLiteral("still chatting"));
        QTRY_VERIFY(d.acked(dChat));
    }

    void fullOfPointsSaysSoAndTheStrokeCanStillEnd()
    {
        startServer({/*maxObjects*/ 1000, /*maxPoints*/ 100});
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ada")));
        QVERIFY(a.join(QStringLiteral("points")));
        // A stroke of 60 points, then a batch of 50 more: past 100 points on the wall.
        std::vector<FixedPoint> fixed;
        for (const QPointF &p : line(60, 0))
            fixed.push_back(toFixed(p));
        pb::Op begin;
        begin.mutable_stroke_begin()->set_id(1);
        begin.mutable_stroke_begin()->set_width(2);
        encodePoints(fixed, {}, begin.mutable_stroke_begin());
        const auto beginId = a.sendOp(begin);
        QTRY_VERIFY(a.acked(beginId));
        pb::Op more;
        more.mutable_stroke_points()->set_id(1);
        for (int i = 0; i < 50; ++i)
            more.mutable_stroke_points()->add_path(0); // on along the stroke's last step
        const auto moreId = a.sendOp(more);
        QTRY_VERIFY(a.lastError() && a.lastError()->client_op_id() == moreId);
        QCOMPARE(a.lastError()->code(), pb::WALL_FULL);
        QCOMPARE(QString::fromStdString(a.lastError()->limit()), QLatin1String(limits::kMaxWallPointsName));
        // The open stroke can still be ended (it is not left dangling), and chat works.
        pb::Op end;
        end.mutable_stroke_end()->set_id(1);
        const auto endId = a.sendOp(end);
        QTRY_VERIFY(a.acked(endId));
        QVERIFY(a.model.strokes().front().closed);
        QCOMPARE(a.model.strokes().front().points.size(), size_t(60));
        const auto chatId = a.chat(QStringLiteral("full of points"));
        QTRY_VERIFY(a.acked(chatId));
    }
};

QTEST_GUILESS_MAIN(TstFullWall)
#include "tst_fullwall.moc"
