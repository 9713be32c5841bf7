// Secrets and bans (issue 14, item 8): resume and API tokens are stored only as hashes (and old
// databases that kept them in clear are migrated on open), the owner makes a new API token, a
// kick holds the address and survives a restart, the owner changes or removes the password.
// Real server on 127.0.0.1 port 0, real WebSocket clients, real SQLite in a temporary directory.

#include "server/security.h"
#include "server/wallserver.h"
#include "tests/support/testclient.h"

#include <QDateTime>
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

// Sends Join with a password; waits for Joined or Error. True on Joined.
bool joinWith(TestClient &c, const QString &wall, const QString &password = {})
{
    const size_t before = c.count(pb::Envelope::kJoined) + c.count(pb::Envelope::kError);
    pb::Envelope env;
    env.mutable_join()->set_wall(toWire(wall));
    env.mutable_join()->set_password(toWire(password));
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

void moderate(TestClient &c, pb::Moderate::Action action, std::uint64_t user = 0, bool on = true,
              const QString &password = {})
{
    pb::Envelope env;
    env.mutable_moderate()->set_action(action);
    env.mutable_moderate()->set_user_id(user);
    env.mutable_moderate()->set_on(on);
    env.mutable_moderate()->set_password(toWire(password));
    c.sendEnvelope(env);
}

bool waitError(TestClient &c, size_t errorsBefore, pb::ErrorCode code)
{
    return TestClient::waitFor([&] {
        return c.count(pb::Envelope::kError) > errorsBefore && lastErrorCode(c) == code;
    });
}

const pb::WallState *lastWallState(const TestClient &c)
{
    for (auto it = c.received.rbegin(); it != c.received.rend(); ++it) {
        if (it->has_wall_state())
            return &it->wall_state();
    }
    return nullptr;
}

// The schema of scrawl.sqlite before tokens were hashed (as of b3f2f68): tokens in clear.
const char *const kOldSchema[] = {
    "CREATE TABLE walls (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "created_ms INTEGER NOT NULL, head_seq INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE ops (wall_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "author INTEGER NOT NULL, client_op_id INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "body BLOB NOT NULL, PRIMARY KEY (wall_id, seq)) WITHOUT ROWID",
    "CREATE TABLE client_heads (wall_id INTEGER NOT NULL, author INTEGER NOT NULL, "
    "client_op_id INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (wall_id, author)) WITHOUT ROWID",
    "CREATE INDEX ops_kind ON ops (wall_id, kind, seq)",
    "CREATE TABLE snapshots (wall_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, body BLOB NOT NULL)",
    "CREATE TABLE snapshot_heads (wall_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
    "slot INTEGER NOT NULL, parts INTEGER NOT NULL, bytes INTEGER NOT NULL)",
    "CREATE TABLE snapshot_parts (wall_id INTEGER NOT NULL, slot INTEGER NOT NULL, "
    "part INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE (wall_id, slot, part))",
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, token BLOB NOT NULL "
    "UNIQUE, created_ms INTEGER NOT NULL)",
    "CREATE TABLE wall_access (wall_id INTEGER PRIMARY KEY, owner_user INTEGER NOT "
    "NULL, owner_token_hash BLOB, password_hash BLOB, password_salt BLOB, password_iterations "
    "INTEGER NOT NULL DEFAULT 0, api_token BLOB NOT NULL, locked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE wall_roles (wall_id INTEGER NOT NULL, user_id INTEGER NOT NULL, "
    "role INTEGER NOT NULL, PRIMARY KEY (wall_id, user_id)) WITHOUT ROWID",
};

} // namespace

class TstSecrets : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    static ServerOptions fastOptions()
    {
        ServerOptions o;
        o.passwordIterations = 1000;
        return o;
    }
    void startServer(ServerOptions options = fastOptions())
    {
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    QUrl url() const { return m_server->url(); }
    QString dbPath() const { return QDir(m_dir->path()).filePath(QStringLiteral("scrawl.sqlite")); }

    // Rows of `statement` on the database file, through a connection of the test's own.
    QList<QVariantList> onFile(const QStringList &statements, const QVariantList &binds = {})
    {
        QList<QVariantList> rows;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("onfile"));
            db.setDatabaseName(dbPath());
            if (!db.open())
                qWarning() << "cannot open the database:" << db.lastError().text();
            for (const QString &statement : statements) {
                QSqlQuery q(db);
                q.prepare(statement);
                for (const QVariant &v : binds)
                    q.addBindValue(v);
                if (!q.exec())
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

    // POSTs a chat message through the HTTP API with `token`; returns the status.
    int post(const QString &wall, const QByteArray &token)
    {
        QUrl u = url();
        u.setScheme(QStringLiteral("http"));
        u.setPath(QStringLiteral("/api/walls/%1/messages").arg(wall));
        QNetworkRequest request(u);
        request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        if (!token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + token);
        QNetworkAccessManager nam;
        QNetworkReply *reply = nam.post(request, QByteArray(R"({"author": "bot", "text": "hi"})"));
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            finished.wait(10000);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        delete reply;
        return status;
    }

private slots:
    void init() { m_dir = std::make_unique<QTemporaryDir>(); }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    // What is on disk: the SHA-256 of each token, never the token.
    void tokensAreStoredAsHashes()
    {
        startServer();
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(joinWith(a, QStringLiteral("w")));
        const QByteArray resume = QByteArray::fromStdString(a.resumeToken);
        const QByteArray api = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(resume.size() >= 16);
        QVERIFY(api.size() >= 24);
        QCOMPARE(post(QStringLiteral("w"), api), 201);

        const auto users = onFile({QStringLiteral("SELECT token FROM users")});
        QCOMPARE(users.size(), 1);
        QCOMPARE(users[0][0].toByteArray(), sha256(resume));
        const auto walls = onFile({QStringLiteral("SELECT api_token FROM wall_access")});
        QCOMPARE(walls.size(), 1);
        QCOMPARE(walls[0][0].toByteArray(), sha256(api));

        // The stored hash is no token: presented as one, it opens nothing.
        QCOMPARE(post(QStringLiteral("w"), walls[0][0].toByteArray().toBase64()), 401);
        TestClient mallory;
        QVERIFY(mallory.connectAs(url(), QStringLiteral("Mallory"), users[0][0].toByteArray().toStdString()));
        QVERIFY(mallory.userId != a.userId);
        // The real one still resumes the identity.
        TestClient a2;
        QVERIFY(a2.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QCOMPARE(a2.userId, a.userId);
    }

    // A database written before tokens were hashed: its clear tokens are replaced by their
    // hashes on open; people keep their identity (and with it the owner role), scripts their
    // API token.
    void clearTokensMigrateOnOpen()
    {
        const QByteArray resume = "old-resume-token-of-ada-0123456789";
        const QByteArray api = "old-api-token-abcdefghijklmnop";
        const QByteArray ownerToken = "old-owner-token-abcdefghijkl";
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("old"));
            db.setDatabaseName(dbPath());
            QVERIFY(db.open());
            for (const char *statement : kOldSchema) {
                QSqlQuery q(db);
                QVERIFY2(q.exec(QString::fromLatin1(statement)), qPrintable(q.lastError().text()));
            }
            QSqlQuery q(db);
            QVERIFY(q.exec(QStringLiteral("INSERT INTO walls (id, name, created_ms) VALUES (1, 'old', 0)")));
            q.prepare(QStringLiteral("INSERT INTO users (id, token, created_ms) VALUES (7, ?, 0)"));
            q.addBindValue(resume);
            QVERIFY(q.exec());
            q.prepare(QStringLiteral("INSERT INTO users (id, token, created_ms) VALUES (8, ?, 0)"));
            q.addBindValue(QByteArray("someone-else"));
            QVERIFY(q.exec());
            q.prepare(QStringLiteral("INSERT INTO wall_access (wall_id, owner_user, owner_token_hash, "
                                     "api_token) VALUES (1, 7, ?, ?)"));
            q.addBindValue(sha256(ownerToken));
            q.addBindValue(api);
            QVERIFY(q.exec());
            QVERIFY(q.exec(QStringLiteral("INSERT INTO wall_roles VALUES (1, 7, 2)")));
            q.finish();
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("old"));

        startServer();
        // On disk: hashes only.
        const auto users = onFile({QStringLiteral("SELECT id, token FROM users ORDER BY id")});
        QCOMPARE(users.size(), 2);
        QCOMPARE(users[0][1].toByteArray(), sha256(resume));
        QCOMPARE(users[1][1].toByteArray(), sha256("someone-else"));
        QCOMPARE(onFile({QStringLiteral("SELECT api_token FROM wall_access")})[0][0].toByteArray(),
                 sha256(api));

        // Ada is still user 7 and the owner; the old API token still posts.
        TestClient a;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada"), resume.toStdString()));
        QCOMPARE(a.userId, std::uint64_t(7));
        QVERIFY(a.received.front().welcome().resumed());
        QVERIFY(joinWith(a, QStringLiteral("old")));
        QCOMPARE(a.lastJoined()->role(), pb::ROLE_OWNER);
        // A wall from before protection existed keeps what members could do then: only their
        // own work (a new wall is open).
        QVERIFY(a.lastJoined()->protected_work());
        QCOMPARE(post(QStringLiteral("old"), api), 201);
        QCOMPARE(post(QStringLiteral("old"), api + "x"), 401);

        // Once only: a second open does not hash the hashes.
        m_server.reset();
        startServer();
        TestClient again;
        QVERIFY(again.connectAs(url(), QStringLiteral("Ada"), resume.toStdString()));
        QCOMPARE(again.userId, std::uint64_t(7));
        QCOMPARE(post(QStringLiteral("old"), api), 201);
        // The owner opens it; that is stored like any other access change.
        QVERIFY(joinWith(again, QStringLiteral("old")));
        moderate(again, pb::Moderate::PROTECT, 0, false);
        QVERIFY(TestClient::waitFor([&] {
            const pb::WallState *state = lastWallState(again);
            return state && !state->protected_work();
        }));
        QCOMPARE(onFile({QStringLiteral("SELECT protected_work FROM wall_access")})[0][0].toInt(), 0);
    }

    // The API token is shown once; the owner makes a new one, the old one stops at once.
    void ownerMakesANewApiToken()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(joinWith(a, QStringLiteral("w")));
        const QByteArray first = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(!first.isEmpty());
        QVERIFY(joinWith(b, QStringLiteral("w")));
        QCOMPARE(post(QStringLiteral("w"), first), 201);

        // The owner on another connection is not shown it again (the server cannot).
        TestClient a2;
        QVERIFY(a2.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QVERIFY(joinWith(a2, QStringLiteral("w")));
        QCOMPARE(a2.lastJoined()->role(), pb::ROLE_OWNER);
        QVERIFY(a2.lastJoined()->api_token().empty());

        // A member may not.
        const size_t errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::NEW_API_TOKEN);
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));

        moderate(a2, pb::Moderate::NEW_API_TOKEN);
        QVERIFY(TestClient::waitFor([&] { return a2.count(pb::Envelope::kApiToken) == 1; }));
        QByteArray second;
        for (const auto &env : a2.received) {
            if (env.has_api_token())
                second = QByteArray::fromStdString(env.api_token().token());
        }
        QVERIFY(second.size() >= 24);
        QVERIFY(second != first);
        QCOMPARE(post(QStringLiteral("w"), first), 401);
        QCOMPARE(post(QStringLiteral("w"), second), 201);
        // Only the one who asked saw it.
        QCOMPARE(a.count(pb::Envelope::kApiToken), size_t(0));
        QCOMPARE(b.count(pb::Envelope::kApiToken), size_t(0));
        QCOMPARE(onFile({QStringLiteral("SELECT api_token FROM wall_access")})[0][0].toByteArray(),
                 sha256(second));
        // And it lasts across a restart.
        m_server.reset();
        startServer();
        QCOMPARE(post(QStringLiteral("w"), first), 401);
        QCOMPARE(post(QStringLiteral("w"), second), 201);
    }

    // A kick holds the address too (a new identity from there stays out), survives a restart,
    // never holds out the owner or a moderator on the same address, and ends.
    void kickHoldsTheAddressAcrossRestart()
    {
        ServerOptions options = fastOptions();
        options.kickBanMs = 6000;
        startServer(options);
        TestClient owner, mod, guest;
        QVERIFY(owner.connectAs(url(), QStringLiteral("Host")));
        QVERIFY(mod.connectAs(url(), QStringLiteral("Mod")));
        QVERIFY(guest.connectAs(url(), QStringLiteral("Guest")));
        QVERIFY(joinWith(owner, QStringLiteral("w")));
        QVERIFY(joinWith(mod, QStringLiteral("w")));
        QVERIFY(joinWith(guest, QStringLiteral("w")));
        moderate(owner, pb::Moderate::SET_MODERATOR, mod.userId, true);
        QVERIFY(TestClient::waitFor([&] { return mod.count(pb::Envelope::kWallState) == 1; }));

        const qint64 kickedAt = QDateTime::currentMSecsSinceEpoch();
        moderate(owner, pb::Moderate::KICK, guest.userId);
        QVERIFY(TestClient::waitFor([&] { return guest.disconnects == 1; }));
        QCOMPARE(lastErrorCode(guest), pb::KICKED);
        const qint64 until = kickedAt + options.kickBanMs;

        // Every check below runs while the kick lasts; if the machine were so slow that it
        // ended first, the test says so rather than pass for the wrong reason.
        const auto stillKicked = [&] { return QDateTime::currentMSecsSinceEpoch() < until - 500; };

        // A new identity from the same address: refused.
        TestClient fresh;
        QVERIFY(fresh.connectAs(url(), QStringLiteral("Not Guest")));
        QVERIFY(fresh.userId != guest.userId);
        QVERIFY(!joinWith(fresh, QStringLiteral("w")));
        QCOMPARE(lastErrorCode(fresh), pb::KICKED);
        // The owner and the moderator, on the same address, come back in.
        TestClient owner2, mod2;
        QVERIFY(owner2.connectAs(url(), QStringLiteral("Host"), owner.resumeToken));
        QVERIFY(joinWith(owner2, QStringLiteral("w")));
        QVERIFY(mod2.connectAs(url(), QStringLiteral("Mod"), mod.resumeToken));
        QVERIFY(joinWith(mod2, QStringLiteral("w")));
        // The kick is on disk with its address.
        const auto rows = onFile({QStringLiteral("SELECT user_id, address FROM wall_kicks ORDER BY address")});
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows[0][0].toULongLong(), guest.userId);
        QCOMPARE(rows[0][1].toString(), QString());
        QCOMPARE(rows[1][1].toString(), QStringLiteral("127.0.0.1"));
        QVERIFY2(stillKicked(), "the kick ended before the checks ran; raise kickBanMs");

        // A restart keeps it: neither the guest's identity nor another one from there gets in.
        m_server.reset();
        startServer(options);
        TestClient guest2, fresh2, owner3;
        QVERIFY(guest2.connectAs(url(), QStringLiteral("Guest"), guest.resumeToken));
        QCOMPARE(guest2.userId, guest.userId);
        QVERIFY(!joinWith(guest2, QStringLiteral("w")));
        QCOMPARE(lastErrorCode(guest2), pb::KICKED);
        QVERIFY(fresh2.connectAs(url(), QStringLiteral("Another")));
        QVERIFY(!joinWith(fresh2, QStringLiteral("w")));
        QCOMPARE(lastErrorCode(fresh2), pb::KICKED);
        QVERIFY(owner3.connectAs(url(), QStringLiteral("Host"), owner.resumeToken));
        QVERIFY(joinWith(owner3, QStringLiteral("w")));
        QCOMPARE(owner3.lastJoined()->role(), pb::ROLE_OWNER);
        QVERIFY2(stillKicked(), "the kick ended before the checks ran; raise kickBanMs");

        // Once it ends, both get in; loading the wall after a restart prunes the ended kick.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentMSecsSinceEpoch() > until, 15000);
        QVERIFY(joinWith(guest2, QStringLiteral("w")));
        QVERIFY(joinWith(fresh2, QStringLiteral("w")));
        m_server.reset();
        QCOMPARE(onFile({QStringLiteral("SELECT count(*) FROM wall_kicks")})[0][0].toInt(), 2);
        startServer(options);
        TestClient later;
        QVERIFY(later.connectAs(url(), QStringLiteral("Later")));
        QVERIFY(joinWith(later, QStringLiteral("w")));
        QCOMPARE(onFile({QStringLiteral("SELECT count(*) FROM wall_kicks")})[0][0].toInt(), 0);
    }

    // The owner sets, changes and removes the password; people on the wall stay.
    void ownerChangesThePassword()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(url(), QStringLiteral("Ada")));
        QVERIFY(b.connectAs(url(), QStringLiteral("Bob")));
        QVERIFY(joinWith(a, QStringLiteral("w")));
        QVERIFY(joinWith(b, QStringLiteral("w")));
        QVERIFY(!a.lastJoined()->has_password());

        // A member may not.
        size_t errors = b.count(pb::Envelope::kError);
        moderate(b, pb::Moderate::SET_PASSWORD, 0, true, QStringLiteral("mine"));
        QVERIFY(waitError(b, errors, pb::NOT_PERMITTED));

        moderate(a, pb::Moderate::SET_PASSWORD, 0, true, QStringLiteral("one"));
        QVERIFY(TestClient::waitFor([&] { return b.count(pb::Envelope::kWallState) == 1; }));
        QVERIFY(lastWallState(b)->has_password());
        QVERIFY(TestClient::waitFor([&] { return a.count(pb::Envelope::kWallState) == 1; }));
        QCOMPARE(b.disconnects, 0);

        // Newcomers need it; Bob, who was on the wall, comes back without it.
        TestClient c;
        QVERIFY(c.connectAs(url(), QStringLiteral("Cy")));
        QVERIFY(!joinWith(c, QStringLiteral("w")));
        QCOMPARE(lastErrorCode(c), pb::PASSWORD_REQUIRED);
        QVERIFY(joinWith(c, QStringLiteral("w"), QStringLiteral("one")));
        TestClient b2;
        QVERIFY(b2.connectAs(url(), QStringLiteral("Bob"), b.resumeToken));
        QVERIFY(joinWith(b2, QStringLiteral("w")));

        // Changed: the old one is refused, the new one works, and a restart keeps it.
        moderate(a, pb::Moderate::SET_PASSWORD, 0, true, QStringLiteral("two"));
        QVERIFY(TestClient::waitFor([&] { return a.count(pb::Envelope::kWallState) == 2; }));
        m_server.reset();
        startServer();
        TestClient d;
        QVERIFY(d.connectAs(url(), QStringLiteral("Di")));
        QVERIFY(!joinWith(d, QStringLiteral("w"), QStringLiteral("one")));
        QCOMPARE(lastErrorCode(d), pb::WRONG_PASSWORD);
        QVERIFY(joinWith(d, QStringLiteral("w"), QStringLiteral("two")));
        QVERIFY(d.lastJoined()->has_password());

        // Removed: anybody joins without one.
        TestClient a2;
        QVERIFY(a2.connectAs(url(), QStringLiteral("Ada"), a.resumeToken));
        QVERIFY(joinWith(a2, QStringLiteral("w")));
        moderate(a2, pb::Moderate::SET_PASSWORD, 0, true, {});
        QVERIFY(TestClient::waitFor([&] { return d.count(pb::Envelope::kWallState) == 1; }));
        QVERIFY(!lastWallState(d)->has_password());
        TestClient e;
        QVERIFY(e.connectAs(url(), QStringLiteral("Eve")));
        QVERIFY(joinWith(e, QStringLiteral("w")));
        QVERIFY(!e.lastJoined()->has_password());
        const auto rows = onFile({QStringLiteral("SELECT password_hash FROM wall_access")});
        QVERIFY(rows[0][0].toByteArray().isEmpty());

        // A password over the limit is refused with its name, and nothing changes.
        errors = a2.count(pb::Envelope::kError);
        moderate(a2, pb::Moderate::SET_PASSWORD, 0, true,
                 QString(limits::kMaxPasswordChars + 1, QLatin1Char('x')));
        QVERIFY(TestClient::waitFor([&] { return a2.count(pb::Envelope::kError) > errors; }));
        QCOMPARE(QByteArray::fromStdString(a2.lastError()->limit()),
                 QByteArray(limits::kMaxPasswordCharsName));
        QVERIFY(onFile({QStringLiteral("SELECT password_hash FROM wall_access")})[0][0].toByteArray().isEmpty());
    }
};

QTEST_MAIN(TstSecrets)
#include "tst_secrets.moc"
