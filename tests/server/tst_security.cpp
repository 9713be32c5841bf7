// End-to-end tests of the server's security: identity, roles, wall passwords, TLS, the HTTP API
// token and per-address limits. Real server on 127.0.0.1 port 0, real WebSocket clients, real
// SQLite in a temporary directory, a real certificate made by openssl in the test.

#include "server/security.h"
#include "server/wallserver.h"
#include "tests/support/rawsocket.h"
#include "tests/support/testclient.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

// Sends Join with a password and an owner token; waits for Joined or Error.
bool joinWith(TestClient &c, const QString &wall, const QString &password = {},
              const std::string &ownerToken = {})
{
    const size_t before = c.count(pb::Envelope::kJoined) + c.count(pb::Envelope::kError);
    pb::Envelope env;
    env.mutable_join()->set_wall(toWire(wall));
    env.mutable_join()->set_password(toWire(password));
    env.mutable_join()->set_owner_token(ownerToken);
    c.sendEnvelope(env);
    if (!TestClient::waitFor([&] {
            return c.count(pb::Envelope::kJoined) + c.count(pb::Envelope::kError) > before;
        }, 15000))
        return false;
    return c.received.back().has_joined();
}

pb::ErrorCode lastErrorCode(const TestClient &c)
{
    const pb::Error *e = c.lastError();
    return e ? e->code() : pb::ERROR_UNSPECIFIED;
}

void moderate(TestClient &c, pb::Moderate::Action action, std::uint64_t user = 0, bool on = true)
{
    pb::Envelope env;
    env.mutable_moderate()->set_action(action);
    env.mutable_moderate()->set_user_id(user);
    env.mutable_moderate()->set_on(on);
    c.sendEnvelope(env);
}

bool waitError(TestClient &c, size_t errorsBefore, pb::ErrorCode code)
{
    return TestClient::waitFor([&] {
        return c.count(pb::Envelope::kError) > errorsBefore && lastErrorCode(c) == code;
    });
}

pb::Op noteAdd(std::uint32_t id)
{
    pb::Op op;
    op.mutable_note_add()->set_id(id);
    op.mutable_note_add()->set_x(10);
    op.mutable_note_add()->set_y(20);
    op.mutable_note_add()->set_text("note");
    return op;
}

struct Http
{
    int status = 0;
    QJsonObject body;
};

Http httpRequest(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &method,
                 const QByteArray &token = {}, const QByteArray &body = {})
{
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + token);
    QNetworkReply *reply = nam.sendCustomRequest(request, method, body);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(10000);
    Http out;
    out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    out.body = QJsonDocument::fromJson(reply->readAll()).object();
    reply->deleteLater();
    return out;
}

} // namespace

class TstSecurity : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    QString m_cert, m_key;

    void startServer(ServerOptions options = fastOptions())
    {
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    static ServerOptions fastOptions()
    {
        ServerOptions o;
        // PBKDF2 at 120k iterations takes over a second here; most tests check behaviour, one
        // checks the real count.
        o.passwordIterations = 1000;
        return o;
    }
    QUrl url() const { return m_server->url(); }
    QUrl httpUrl(const QString &path) const
    {
        QUrl u = url();
        u.setScheme(m_server->tls() ? QStringLiteral("https") : QStringLiteral("http"));
        u.setPath(path);
        return u;
    }

    // A self-signed certificate for 127.0.0.1 / localhost, made with the openssl CLI.
    bool makeCertificate(const QString &dir, QString *cert, QString *key)
    {
        *cert = dir + QStringLiteral("/cert.pem");
        *key = dir + QStringLiteral("/key.pem");
        QProcess openssl;
        openssl.start(QStringLiteral("openssl"),
                      {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                       QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-keyout"),
                       *key, QStringLiteral("-out"), *cert, QStringLiteral("-days"),
                       QStringLiteral("2"), QStringLiteral("-subj"), QStringLiteral("/CN=localhost"),
                       QStringLiteral("-addext"),
                       QStringLiteral("subjectAltName=IP:127.0.0.1,DNS:localhost")});
        return openssl.waitForFinished(60000) && openssl.exitCode() == 0 && QFile::exists(*cert);
    }
    QSslConfiguration trusting(const QString &certFile) const
    {
        QFile f(certFile);
        f.open(QIODevice::ReadOnly);
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        conf.setCaCertificates(QSslCertificate::fromData(f.readAll(), QSsl::Pem));
        return conf;
    }

private slots:
    void initTestCase()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty())
            QFAIL("the openssl command is needed to make test certificates (apt-get install openssl)");
    }
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

    // --- identity ---

    void authorAndNameAreStampedByTheServer()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        // Bob claims to be Ada in every field a client can fill.
        pb::Op op;
        op.set_author(a.userId);
        op.mutable_chat()->set_text("I am Ada");
        op.mutable_chat()->set_author_name("Ada");
        op.mutable_chat()->set_author_color(0x123456);
        const auto id = b.sendOp(op);
        QVERIFY(TestClient::waitFor([&] { return b.acked(id); }));
        const pb::Op seen = a.ops().back();
        QCOMPARE(seen.author(), b.userId);
        QCOMPARE(fromWire(seen.chat().author_name()), QStringLiteral("Bob"));
        // A cursor claiming Ada's id arrives as Bob's.
        pb::Envelope cursor;
        cursor.mutable_cursor()->set_x(5);
        cursor.mutable_cursor()->set_y(6);
        cursor.mutable_cursor()->set_user_id(a.userId);
        b.sendEnvelope(cursor);
        QVERIFY(TestClient::waitFor([&] { return a.count(pb::Envelope::kCursor) == 1; }));
        for (const auto &env : a.received) {
            if (env.has_cursor())
                QCOMPARE(env.cursor().user_id(), b.userId);
        }
        // Bob's strokes are keyed under Bob's id, so they can never be Ada's.
        b.stroke(1, {{0, 0}, {10, 10}});
        QVERIFY(TestClient::waitFor([&] { return a.model.stroke(objectKey(b.userId, 1)); }));
        QVERIFY(!a.model.stroke(objectKey(a.userId, 1)));
    }

    // --- roles ---

    void creatorOwnsTheWall()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(joinWith(a, QStringLiteral("w")));
        const pb::Joined ja = *a.lastJoined();
        QVERIFY(ja.created());
        QCOMPARE(ja.role(), pb::ROLE_OWNER);
        QVERIFY(ja.owner_token().size() >= 24);
        QVERIFY(!ja.api_token().empty());
        QVERIFY(joinWith(b, QStringLiteral("w")));
        const pb::Joined jb = *b.lastJoined();
        QVERIFY(!jb.created());
        QCOMPARE(jb.role(), pb::ROLE_MEMBER);
        QVERIFY(jb.owner_token().empty());
        QVERIFY(jb.api_token().empty());
        // Roles travel with the member list.
        bool sawOwner = false;
        for (const auto &m : jb.members())
            sawOwner |= m.user_id() == a.userId && m.role() == pb::ROLE_OWNER;
        QVERIFY(sawOwner);

        // The owner token proves ownership for a new identity; a wrong one proves nothing.
        TestClient c, d;
        QVERIFY(c.connectAs(url(), QStringLiteral("Ada on her laptop")));
        QVERIFY(joinWith(c, QStringLiteral("w"), {}, ja.owner_token()));
        QCOMPARE(c.lastJoined()->role(), pb::ROLE_OWNER);
        // The API token is shown once, to the creator: the server keeps only its hash.
        QVERIFY(c.lastJoined()->api_token().empty());
        QVERIFY(d.connectAs(url(), QStringLiteral("Mallory")));
        std::string forged = ja.owner_token();
        forged.back() = forged.back() == 'A' ? 'B' : 'A';
        QVERIFY(joinWith(d, QStringLiteral("w"), {}, forged));
        QCOMPARE(d.lastJoined()->role(), pb::ROLE_MEMBER);
        QVERIFY(d.lastJoined()->api_token().empty());

        // Ownership survives a restart (the resume token keeps the user id).
        const std::string tokenA = a.resumeToken;
        m_server.reset();
        startServer();
        TestClient a2;
        QVERIFY(a2.connectAs(url(), QStringLiteral("Ada"), tokenA));
        QVERIFY(joinWith(a2, QStringLiteral("w")));
        QCOMPARE(a2.lastJoined()->role(), pb::ROLE_OWNER);
        QVERIFY(!a2.lastJoined()->created());
    }

    void protectedWallKeepsOthersWorkTheirs_data()
    {
        QTest::addColumn<QString>("what");
        QTest::newRow("erase") << "erase";
        QTest::newRow("note edit") << "edit";
        QTest::newRow("note move") << "move";
        QTest::newRow("note delete") << "delete";
        QTest::newRow("shape edit") << "shape edit";
        QTest::newRow("shape delete") << "shape delete";
        QTest::newRow("move") << "transform";
        QTest::newRow("turn") << "turn";
        QTest::newRow("bring to front") << "arrange";
        QTest::newRow("clear") << "clear";
        QTest::newRow("undo") << "undo";
    }
    // The owner protects people's work: members change only their own (clear and others' undo
    // are never a member's, protected or not).
    void protectedWallKeepsOthersWorkTheirs()
    {
        QFETCH(QString, what);
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        QVERIFY(!b.lastJoined()->protected_work());
        moderate(a, pb::Moderate::PROTECT, 0, true);
        QVERIFY(TestClient::waitFor([&] {
            return b.count(pb::Envelope::kWallState) > 0 && b.received.back().has_wall_state()
                && b.received.back().wall_state().protected_work();
        }));
        const auto strokeIds = a.stroke(1, {{0, 0}, {30, 30}});
        const auto noteId = a.sendOp(noteAdd(1));
        pb::Op rect;
        rect.mutable_shape_add()->set_id(1);
        rect.mutable_shape_add()->mutable_shape()->set_kind(pb::SHAPE_RECT);
        rect.mutable_shape_add()->mutable_shape()->set_width(40);
        rect.mutable_shape_add()->mutable_shape()->set_height(40);
        rect.mutable_shape_add()->mutable_shape()->set_stroke_width(2);
        a.sendOp(rect);
        QVERIFY(TestClient::waitFor([&] { return b.model.seq() == 4; }));
        const pb::WallSnapshot before = a.model.snapshot();

        pb::Op op;
        const std::uint64_t note = objectKey(a.userId, 1);
        if (what == QLatin1String("erase"))
            op.mutable_erase()->add_strokes(objectKey(a.userId, 1));
        else if (what == QLatin1String("edit"))
            op.mutable_note_edit()->set_note(note), op.mutable_note_edit()->set_text("mine now");
        else if (what == QLatin1String("move"))
            op.mutable_note_move()->set_note(note), op.mutable_note_move()->set_x(99);
        else if (what == QLatin1String("delete"))
            op.mutable_note_delete()->set_note(note);
        else if (what == QLatin1String("shape edit")) {
            op.mutable_shape_edit()->set_key(objectKey(a.userId, 1));
            *op.mutable_shape_edit()->mutable_shape() = rect.shape_add().shape();
            op.mutable_shape_edit()->mutable_shape()->set_x(200);
        } else if (what == QLatin1String("shape delete"))
            op.mutable_shape_delete()->set_key(objectKey(a.userId, 1));
        else if (what == QLatin1String("transform") || what == QLatin1String("turn")) {
            op.mutable_transform()->add_shapes(objectKey(a.userId, 1));
            op.mutable_transform()->set_dx(10);
            if (what == QLatin1String("turn"))
                op.mutable_transform()->set_rotation(1);
        } else if (what == QLatin1String("arrange"))
            op.mutable_arrange()->add_strokes(objectKey(a.userId, 1));
        else if (what == QLatin1String("clear"))
            op.mutable_clear();
        else
            op.mutable_undo()->set_target_client_op_id(noteId);
        const size_t errors = b.count(pb::Envelope::kError);
        const auto id = b.sendOp(op);
        QVERIFY(TestClient::waitFor([&] { return b.count(pb::Envelope::kError) > errors; }));
        const pb::Error *e = b.lastError();
        QCOMPARE(e->client_op_id(), id);
        if (what == QLatin1String("undo")) {
            // Undo names the sender's own ops only: another's op is simply not there to undo.
            QCOMPARE(e->code(), pb::INVALID_OP);
        } else {
            QCOMPARE(e->code(), pb::NOT_PERMITTED);
            QVERIFY2(fromWire(e->message()).contains(QLatin1String("moderator")),
                     e->message().c_str());
            if (what != QLatin1String("clear"))
                QVERIFY2(fromWire(e->message()).contains(QLatin1String("protected")), e->message().c_str());
        }
        // Nothing changed, and Ada's own change of her own work still goes through.
        QCOMPARE(a.model.snapshot().SerializeAsString(), before.SerializeAsString());
        pb::Op own;
        own.mutable_note_move()->set_note(note);
        own.mutable_note_move()->set_x(5);
        const auto ownId = a.sendOp(own);
        QVERIFY(TestClient::waitFor([&] { return a.acked(ownId); }));
        Q_UNUSED(strokeIds);
    }

    // A new wall is open, as in the whiteboards people know: a member moves, edits, erases and
    // deletes someone else's work, and undoes that change of theirs; only the owner switches
    // protection, it is stored, and a joiner is told.
    void openWallLetsMembersChangeOthersWork()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        QVERIFY(!a.lastJoined()->protected_work());
        a.stroke(1, {{0, 0}, {30, 30}});
        a.sendOp(noteAdd(1));
        QVERIFY(TestClient::waitFor([&] { return b.model.seq() == 3; }));
        const std::uint64_t stroke = objectKey(a.userId, 1);
        const std::uint64_t note = objectKey(a.userId, 1);

        pb::Op move;
        move.mutable_note_move()->set_note(note);
        move.mutable_note_move()->set_x(140);
        move.mutable_note_move()->set_y(60);
        const auto moveId = b.sendOp(move);
        pb::Op edit;
        edit.mutable_note_edit()->set_note(note);
        edit.mutable_note_edit()->set_text("edited by Bob");
        b.sendOp(edit);
        pb::Op erase;
        erase.mutable_erase()->add_strokes(stroke);
        const auto eraseId = b.sendOp(erase);
        QVERIFY(TestClient::waitFor([&] { return a.model.seq() == 6; }));
        QCOMPARE(a.model.note(note)->x, 140.f);
        QCOMPARE(a.model.note(note)->text, QStringLiteral("edited by Bob"));
        QVERIFY(!a.model.stroke(stroke)->visible());
        QVERIFY(b.acked(eraseId));

        // Undo stays each person's own (names the sender's own ops): Bob undoes his erase and
        // his move of Ada's work.
        pb::Op undo;
        undo.mutable_undo()->set_target_client_op_id(eraseId);
        b.sendOp(undo);
        pb::Op undoMove;
        undoMove.mutable_undo()->set_target_client_op_id(moveId);
        b.sendOp(undoMove);
        QVERIFY(TestClient::waitFor([&] { return a.model.seq() == 8; }));
        QVERIFY(a.model.stroke(stroke)->visible());
        QCOMPARE(a.model.note(note)->x, 10.f);

        // Clear is still a moderator's; protection is the owner's.
        pb::Op clear;
        clear.mutable_clear();
        size_t errors = b.count(pb::Envelope::kError);
        b.sendOp(clear);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));
        errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::PROTECT, 0, true);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));
        QVERIFY(fromWire(b.lastError()->message()).contains(QLatin1String("owner")));

        // The owner protects the wall: stored, so a joiner after a restart is told.
        moderate(a, pb::Moderate::PROTECT, 0, true);
        QVERIFY(TestClient::waitFor([&] {
            return b.received.back().has_wall_state() && b.received.back().wall_state().protected_work();
        }));
        m_server.reset();
        startServer();
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(c.join(QStringLiteral("w")));
        QVERIFY(c.lastJoined()->protected_work());
    }

    void moderatorsAndOwnersModerate()
    {
        startServer();
        TestClient a, b, c;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        QVERIFY(c.join(QStringLiteral("w")));
        c.stroke(1, {{0, 0}, {5, 5}});
        QVERIFY(TestClient::waitFor([&] { return b.model.seq() == 2; }));

        // A member cannot make moderators.
        size_t errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::SET_MODERATOR, b.userId);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));

        // The owner makes Bob moderator; everyone hears it.
        moderate(a, pb::Moderate::SET_MODERATOR, b.userId);
        QVERIFY(TestClient::waitFor([&] { return c.count(pb::Envelope::kWallState) == 1; }));
        bool bobIsModerator = false;
        for (const auto &m : c.received.back().wall_state().members())
            bobIsModerator |= m.user_id() == b.userId && m.role() == pb::ROLE_MODERATOR;
        QVERIFY(bobIsModerator);

        // A moderator erases someone else's stroke and clears the wall...
        pb::Op erase;
        erase.mutable_erase()->add_strokes(objectKey(c.userId, 1));
        const auto eraseId = b.sendOp(erase);
        QVERIFY(TestClient::waitFor([&] { return b.acked(eraseId); }));
        QVERIFY(!c.model.stroke(objectKey(c.userId, 1))->visible());
        pb::Op clear;
        clear.mutable_clear();
        const auto clearId = b.sendOp(clear);
        QVERIFY(TestClient::waitFor([&] { return b.acked(clearId); }));
        // ...but may neither make moderators nor lock nor delete (owner only).
        for (auto action : {pb::Moderate::SET_MODERATOR, pb::Moderate::LOCK, pb::Moderate::DELETE_WALL}) {
            errors = b.count(pb::Envelope::kError);
            moderate(b, action, c.userId);
            QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));
            QVERIFY(fromWire(b.lastError()->message()).contains(QLatin1String("owner")));
        }
        // A moderator cannot kick the owner.
        errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::KICK, a.userId);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));
        QCOMPARE(a.disconnects, 0);

        // The role is stored: it survives a restart.
        const std::string tokenB = b.resumeToken;
        m_server.reset();
        startServer();
        TestClient b2;
        b2.nextClientOpId = b.nextClientOpId; // the same identity: client op ids go on
        QVERIFY(b2.connectAs(url(), QStringLiteral("Bob"), tokenB));
        QVERIFY(b2.join(QStringLiteral("w")));
        QCOMPARE(b2.lastJoined()->role(), pb::ROLE_MODERATOR);

        // The owner takes it back.
        TestClient a2;
        QVERIFY(a2.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QVERIFY(a2.join(QStringLiteral("w")));
        moderate(a2, pb::Moderate::SET_MODERATOR, b2.userId, false);
        QVERIFY(TestClient::waitFor([&] { return b2.count(pb::Envelope::kWallState) == 1; }));
        pb::Op again;
        again.mutable_clear();
        errors = b2.count(pb::Envelope::kError);
        b2.sendOp(again);
        QVERIFY(waitError(b2, errors, pb::NOT_PERMITTED));
    }

    void lockedWallIsReadOnlyForOthers()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        moderate(a, pb::Moderate::LOCK, 0, true);
        QVERIFY(TestClient::waitFor([&] { return b.count(pb::Envelope::kWallState) == 1; }));
        QVERIFY(b.received.back().wall_state().locked());

        const size_t errors = b.count(pb::Envelope::kError);
        b.sendOp(noteAdd(1));
        QVERIFY(waitError(b, errors, pb::WALL_LOCKED));
        QCOMPARE(b.model.seq(), std::uint64_t(0));
        // Chat stays open; the owner still draws.
        const auto chatId = b.chat(QStringLiteral("can I draw?"));
        QVERIFY(TestClient::waitFor([&] { return b.acked(chatId); }));
        const auto ownerNote = a.sendOp(noteAdd(1));
        QVERIFY(TestClient::waitFor([&] { return a.acked(ownerNote); }));

        // A late joiner learns of the lock in Joined; after unlocking, Bob draws.
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(c.join(QStringLiteral("w")));
        QVERIFY(c.lastJoined()->locked());
        moderate(a, pb::Moderate::LOCK, 0, false);
        QVERIFY(TestClient::waitFor([&] { return b.count(pb::Envelope::kWallState) == 2; }));
        const auto bobNote = b.sendOp(noteAdd(2));
        QVERIFY(TestClient::waitFor([&] { return b.acked(bobNote); }));
    }

    void kickedUserStaysOut()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        // A member cannot kick.
        size_t errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::KICK, a.userId);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));

        moderate(a, pb::Moderate::KICK, b.userId);
        QVERIFY(TestClient::waitFor([&] { return b.disconnects == 1; }));
        QCOMPARE(lastErrorCode(b), pb::KICKED);
        QCOMPARE(b.closeCode, closeCodeFor(pb::KICKED));
        // Presence tells the others.
        QVERIFY(TestClient::waitFor([&] {
            for (const auto &env : a.received)
                if (env.has_presence() && env.presence().member().user_id() == b.userId
                    && !env.presence().online())
                    return true;
            return false;
        }));
        // Reconnecting with the same identity does not get back in.
        TestClient b2;
        QVERIFY(b2.connectAs(url(), QStringLiteral("Bob"), b.resumeToken));
        QVERIFY(!joinWith(b2, QStringLiteral("w")));
        QCOMPARE(lastErrorCode(b2), pb::KICKED);
        // Other walls are open to him.
        QVERIFY(joinWith(b2, QStringLiteral("other")));
    }

    void ownerDeletesTheWall()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        const auto id = a.chat(QStringLiteral("soon gone"));
        QVERIFY(TestClient::waitFor([&] { return a.acked(id); }));
        size_t errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::DELETE_WALL);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));

        moderate(a, pb::Moderate::DELETE_WALL);
        QVERIFY(TestClient::waitFor([&] { return b.disconnects == 1; }));
        QCOMPARE(lastErrorCode(b), pb::WALL_DELETED);
        QNetworkAccessManager nam;
        QCOMPARE(httpRequest(nam, httpUrl(QStringLiteral("/api/walls/w/messages")), "GET").status, 404);
        // The name is free again: whoever joins next creates and owns a new, empty wall.
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(joinWith(c, QStringLiteral("w")));
        QVERIFY(c.lastJoined()->created());
        QCOMPARE(c.lastJoined()->role(), pb::ROLE_OWNER);
        QCOMPARE(c.lastJoined()->head_seq(), std::uint64_t(0));
        QCOMPARE(c.lastJoined()->recent_chat_size(), 0);
    }

    // --- passwords ---

    void passwordProtectsTheWall()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(joinWith(a, QStringLiteral("p"), QStringLiteral("s3cret-pw")));
        QVERIFY(a.lastJoined()->has_password());

        QVERIFY(!joinWith(b, QStringLiteral("p")));
        QCOMPARE(lastErrorCode(b), pb::PASSWORD_REQUIRED);
        QVERIFY(!joinWith(b, QStringLiteral("p"), QStringLiteral("guess")));
        QCOMPARE(lastErrorCode(b), pb::WRONG_PASSWORD);
        QVERIFY(fromWire(b.lastError()->message()).contains(QLatin1String("Wrong password")));
        QVERIFY(!b.lastError()->fatal());
        QVERIFY(joinWith(b, QStringLiteral("p"), QStringLiteral("s3cret-pw")));
        QVERIFY(b.lastJoined()->has_password());
        // Once admitted, the same identity rejoins without typing it again.
        TestClient b2;
        QVERIFY(b2.connectAs(url(), QStringLiteral("Bob"), b.resumeToken));
        QVERIFY(joinWith(b2, QStringLiteral("p")));

        // Stored salted and slowed, never in clear.
        m_server.reset();
        const QString file = m_dir->filePath(QStringLiteral("scrawl.sqlite"));
        QFile raw(file);
        QVERIFY(raw.open(QIODevice::ReadOnly));
        QVERIFY(!raw.readAll().contains("s3cret-pw"));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("check"));
            db.setDatabaseName(file);
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY(q.exec(QStringLiteral("SELECT password_hash, password_salt, password_iterations "
                                          "FROM wall_access")));
            QVERIFY(q.next());
            const QByteArray hash = q.value(0).toByteArray();
            const QByteArray salt = q.value(1).toByteArray();
            QCOMPARE(hash.size(), limits::kPasswordHashBytes);
            QCOMPARE(salt.size(), limits::kPasswordSaltBytes);
            QCOMPARE(q.value(2).toInt(), 1000);
            QCOMPARE(hash, derivePasswordHash(QStringLiteral("s3cret-pw"), salt, 1000));
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("check"));
    }

    void realIterationCountIsUsed()
    {
        QVERIFY(limits::kPasswordIterations >= 100000);
        ServerOptions options; // the defaults, as scrawl-server runs
        startServer(options);
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(joinWith(a, QStringLiteral("p"), QStringLiteral("long enough")));
        m_server.reset();
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("check2"));
            db.setDatabaseName(m_dir->filePath(QStringLiteral("scrawl.sqlite")));
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY(q.exec(QStringLiteral("SELECT password_iterations FROM wall_access")));
            QVERIFY(q.next());
            QCOMPARE(q.value(0).toInt(), limits::kPasswordIterations);
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("check2"));
    }

    void constantTimeCompareIsCorrect()
    {
        QVERIFY(constantTimeEquals("abc", "abc"));
        QVERIFY(!constantTimeEquals("abc", "abd"));
        QVERIFY(!constantTimeEquals("abc", "ab"));
        QVERIFY(constantTimeEquals({}, {}));
    }

    void tenWrongPasswordsShutTheAddressOut()
    {
        ServerOptions options = fastOptions();
        options.addressLimits.lockoutMs = 2000;
        startServer(options);
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(joinWith(a, QStringLiteral("p"), QStringLiteral("right")));
        QVERIFY(joinWith(a, QStringLiteral("open")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        for (int i = 1; i < limits::kMaxPasswordFailures; ++i) {
            QVERIFY(!joinWith(b, QStringLiteral("p"), QStringLiteral("wrong%1").arg(i)));
            QCOMPARE(lastErrorCode(b), pb::WRONG_PASSWORD);
        }
        QVERIFY(!joinWith(b, QStringLiteral("p"), QStringLiteral("wrong10")));
        QCOMPARE(lastErrorCode(b), pb::ADDRESS_BLOCKED);
        QCOMPARE(fromWire(b.lastError()->limit()), QLatin1String(limits::kMaxPasswordFailuresName));
        // Now even the right password, from a fresh connection, is refused, as is any wall.
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(!joinWith(c, QStringLiteral("p"), QStringLiteral("right")));
        QCOMPARE(lastErrorCode(c), pb::ADDRESS_BLOCKED);
        QVERIFY(!joinWith(c, QStringLiteral("open")));
        QCOMPARE(lastErrorCode(c), pb::ADDRESS_BLOCKED);
        // The server keeps serving those already in.
        const auto id = a.chat(QStringLiteral("still here"));
        QVERIFY(TestClient::waitFor([&] { return a.acked(id); }));
        // After the lockout, the right password works.
        QVERIFY(TestClient::waitFor([&] { return joinWith(c, QStringLiteral("p"), QStringLiteral("right")); },
                                    10000));
    }

    void trustedProxyForwardsTheClientAddress()
    {
        ServerOptions options = fastOptions();
        options.trustedProxies = {QHostAddress::LocalHost};
        options.addressLimits.maxJoinsPerMinute = 2;
        startServer(options);
        auto from = [&](TestClient &c, const QByteArray &forwardedFor) {
            QNetworkRequest request(url());
            request.setRawHeader("X-Forwarded-For", forwardedFor);
            QSignalSpy connected(&c.socket(), &QWebSocket::connected);
            c.socket().open(request);
            if (!connected.wait(5000))
                return false;
            c.sendHello(QStringLiteral("someone"));
            return TestClient::waitFor([&] { return c.count(pb::Envelope::kWelcome) == 1; });
        };
        // Two joins from 203.0.113.7 (the last hop, what the proxy saw; the first is a claim).
        TestClient a;
        QVERIFY(from(a, "10.0.0.1, 203.0.113.7"));
        QVERIFY(joinWith(a, QStringLiteral("w1")));
        QVERIFY(joinWith(a, QStringLiteral("w2")));
        QVERIFY(!joinWith(a, QStringLiteral("w3")));
        QCOMPARE(fromWire(a.lastError()->limit()),
                 QLatin1String(limits::kMaxJoinsPerAddressPerMinuteName));
        // Another client address behind the same proxy has its own count.
        TestClient b;
        QVERIFY(from(b, "198.51.100.9"));
        QVERIFY(joinWith(b, QStringLiteral("w1")));
        QVERIFY(joinWith(b, QStringLiteral("w2")));

        // Without the proxy being trusted, the header is ignored: no way around the limits.
        m_server.reset();
        options.trustedProxies.clear();
        startServer(options);
        TestClient c, d;
        QVERIFY(from(c, "203.0.113.7"));
        QVERIFY(from(d, "198.51.100.9"));
        QVERIFY(joinWith(c, QStringLiteral("w1")));
        QVERIFY(joinWith(d, QStringLiteral("w1")));
        QVERIFY(!joinWith(c, QStringLiteral("w2")));
        QCOMPARE(lastErrorCode(c), pb::LIMIT_EXCEEDED);
    }

    // --- TLS ---

    void tlsServesWssAndHttps()
    {
        QVERIFY(makeCertificate(m_dir->path(), &m_cert, &m_key));
        ServerOptions options = fastOptions();
        options.tlsCertFile = m_cert;
        options.tlsKeyFile = m_key;
        startServer(options);
        QCOMPARE(url().scheme(), QStringLiteral("wss"));

        TestClient a, b;
        a.socket().setSslConfiguration(trusting(m_cert));
        b.socket().setSslConfiguration(trusting(m_cert));
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("w")));
        QVERIFY(b.join(QStringLiteral("w")));
        a.stroke(1, {{0, 0}, {3, 4}, {8, 9}});
        const auto id = b.chat(QStringLiteral("over TLS"));
        QVERIFY(TestClient::waitFor([&] { return a.acked(id) || !a.ops().empty(); }));
        QVERIFY(TestClient::waitFor([&] { return b.model.stroke(objectKey(a.userId, 1)); }));
        QVERIFY(TestClient::waitFor([&] {
            for (const auto &op : a.ops())
                if (op.has_chat() && fromWire(op.chat().text()) == QLatin1String("over TLS"))
                    return true;
            return false;
        }));
        // The peer certificate is ours.
        QSslCertificate seen = a.socket().sslConfiguration().peerCertificate();
        QCOMPARE(seen, trusting(m_cert).caCertificates().front());

        // HTTPS on the same port, with the owner's API token.
        QNetworkAccessManager nam;
        nam.setStrictTransportSecurityEnabled(false);
        QNetworkRequest probe(httpUrl(QStringLiteral("/health")));
        probe.setSslConfiguration(trusting(m_cert));
        QNetworkReply *health = nam.get(probe);
        QSignalSpy done(health, &QNetworkReply::finished);
        QVERIFY(done.wait(10000));
        QCOMPARE(health->error(), QNetworkReply::NoError);
        QCOMPARE(QJsonDocument::fromJson(health->readAll()).object().value("status").toString(),
                 QStringLiteral("ok"));
        health->deleteLater();

        // Plain ws:// to the TLS port gets nowhere, and the server keeps serving.
        TestClient plain;
        QUrl ws = url();
        ws.setScheme(QStringLiteral("ws"));
        plain.socket().open(ws);
        QVERIFY(TestClient::waitFor([&] { return plain.socket().state() == QAbstractSocket::UnconnectedState; }, 12000));
        QCOMPARE(plain.count(pb::Envelope::kWelcome), size_t(0));
        // A client that does not trust the certificate is refused by its own TLS check.
        TestClient untrusting;
        QSignalSpy sslErrors(&untrusting.socket(), &QWebSocket::sslErrors);
        untrusting.socket().open(url());
        QVERIFY(sslErrors.wait(10000));
        const auto id2 = a.chat(QStringLiteral("still fine"));
        QVERIFY(TestClient::waitFor([&] { return a.acked(id2); }));
    }

    void serverExecutablePrintsWss()
    {
        QVERIFY(makeCertificate(m_dir->path(), &m_cert, &m_key));
        QProcess server;
        server.start(QStringLiteral(SCRAWL_SERVER_EXE),
                     {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--host"),
                      QStringLiteral("127.0.0.1"), QStringLiteral("--data"), m_dir->filePath("data"),
                      QStringLiteral("--tls-cert"), m_cert, QStringLiteral("--tls-key"), m_key});
        QVERIFY(server.waitForStarted(10000));
        QByteArray out;
        QVERIFY(TestClient::waitFor([&] {
            out += server.readAllStandardOutput();
            return out.contains('\n');
        }, 15000));
        QVERIFY2(out.startsWith("listening on wss://127.0.0.1:"), out.constData());
        QUrl u(QString::fromUtf8(out.trimmed().mid(int(strlen("listening on ")))));
        TestClient a;
        a.socket().setSslConfiguration(trusting(m_cert));
        QVERIFY(a.connectAs(u, QStringLiteral("Ada")));
        server.terminate();
        QVERIFY(server.waitForFinished(10000));

        // A missing key file is a clear start-up error.
        QProcess bad;
        bad.start(QStringLiteral(SCRAWL_SERVER_EXE),
                  {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"),
                   m_dir->filePath("data2"), QStringLiteral("--tls-cert"), m_cert,
                   QStringLiteral("--tls-key"), m_dir->filePath("nope.pem")});
        QVERIFY(bad.waitForFinished(10000));
        QVERIFY(bad.exitCode() != 0);
        QVERIFY(bad.readAllStandardError().contains("TLS key"));
    }

    // --- HTTP API token ---

    void httpApiNeedsTheWallToken()
    {
        startServer();
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(joinWith(a, QStringLiteral("open")));
        const QByteArray token = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(joinWith(a, QStringLiteral("closed"), QStringLiteral("pw")));
        const QByteArray closedToken = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(token != closedToken);

        QNetworkAccessManager nam;
        const QByteArray body = R"({"author": "bot", "text": "hi"})";
        const QUrl open = httpUrl(QStringLiteral("/api/walls/open/messages"));
        const QUrl closed = httpUrl(QStringLiteral("/api/walls/closed/messages"));
        Http r = httpRequest(nam, open, "POST", {}, body);
        QCOMPARE(r.status, 401);
        QVERIFY(r.body.value("error").toString().contains(QLatin1String("API token")));
        QCOMPARE(httpRequest(nam, open, "POST", closedToken, body).status, 401);
        QCOMPARE(httpRequest(nam, open, "POST", token + "x", body).status, 401);
        r = httpRequest(nam, open, "POST", token, body);
        QCOMPARE(r.status, 201);
        // ?token= works for quick scripts too.
        QUrl withQuery = open;
        withQuery.setQuery(QStringLiteral("token=") + QString::fromLatin1(token));
        QCOMPARE(httpRequest(nam, withQuery, "POST", {}, body).status, 201);
        // Reading an open wall needs no token; a password-protected one does.
        QCOMPARE(httpRequest(nam, open, "GET").status, 200);
        QCOMPARE(httpRequest(nam, closed, "GET").status, 401);
        QCOMPARE(httpRequest(nam, closed, "GET", token).status, 401);
        r = httpRequest(nam, closed, "GET", closedToken);
        QCOMPARE(r.status, 200);
        // Refused posts left nothing: two messages on "open", none on "closed".
        QCOMPARE(m_server->headSeq(QStringLiteral("open")), std::uint64_t(2));
        QCOMPARE(m_server->headSeq(QStringLiteral("closed")), std::uint64_t(0));
    }

    // --- per-address limits ---

    void connectionsPerAddressAreLimited()
    {
        ServerOptions options = fastOptions();
        options.addressLimits.maxConnections = 3;
        startServer(options);
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(std::make_unique<TestClient>());
            QVERIFY(clients.back()->connectAs(url(), QStringLiteral("c%1").arg(i)));
        }
        QTcpSocket extra;
        extra.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(TestClient::waitFor([&] { return extra.state() == QAbstractSocket::UnconnectedState; }));
        QCOMPARE(m_server->addressGuard().openConnections(QHostAddress::LocalHost), 3);
        // The ones inside keep working; when one leaves, a new one gets in.
        QVERIFY(clients[0]->join(QStringLiteral("w")));
        clients[2]->socket().close();
        QVERIFY(TestClient::waitFor([&] {
            return m_server->addressGuard().openConnections(QHostAddress::LocalHost) == 2;
        }));
        TestClient late;
        QVERIFY(late.connectAs(url(), QStringLiteral("late")));
    }

    void connectsPerMinuteAreLimited()
    {
        ServerOptions options = fastOptions();
        options.addressLimits.maxConnectsPerMinute = 4;
        startServer(options);
        for (int i = 0; i < 4; ++i) {
            TestClient c;
            QVERIFY(c.connectAs(url(), QStringLiteral("c%1").arg(i)));
        }
        QTcpSocket extra;
        extra.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(TestClient::waitFor([&] { return extra.state() == QAbstractSocket::UnconnectedState; }));
        TestClient refused;
        QVERIFY(!refused.connectAs(url(), QStringLiteral("again")));
    }

    void joinsPerMinuteAreLimited()
    {
        ServerOptions options = fastOptions();
        options.addressLimits.maxJoinsPerMinute = 5;
        startServer(options);
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        for (int i = 0; i < 5; ++i)
            QVERIFY(joinWith(a, QStringLiteral("w%1").arg(i)));
        QVERIFY(!joinWith(a, QStringLiteral("w5")));
        QCOMPARE(lastErrorCode(a), pb::LIMIT_EXCEEDED);
        QCOMPARE(fromWire(a.lastError()->limit()),
                 QLatin1String(limits::kMaxJoinsPerAddressPerMinuteName));
        QVERIFY(!a.lastError()->fatal());
        // Still connected and in the last wall joined.
        const auto id = a.chat(QStringLiteral("still here"));
        QVERIFY(TestClient::waitFor([&] { return a.acked(id); }));
    }
};

QTEST_GUILESS_MAIN(TstSecurity)
#include "tst_security.moc"
