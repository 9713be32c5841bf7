// Offline work survives Leave, switching walls, quitting and a crash of the app (issue 14 item
// 10): WallClient keeps its outbox on disk per profile, server and wall (OutboxStore) and sends
// it once on the next join of that wall.
//
// Real server (127.0.0.1, port 0, SQLite in a temp dir), real WallClients. "Offline" is the
// server stopped; it comes back on the same port and data. The crash case runs this binary again
// as a child process (`--child`) that joins, draws offline and is killed with SIGKILL; the test
// then starts a new client with the same profile. What counts is what the server stored: every
// change once, with client op ids that never repeat.
//
// Settings and data go to a temporary XDG_CONFIG_HOME / XDG_DATA_HOME made in main(), which the
// child inherits.

#include "app/outboxstore.h"
#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QCoreApplication>
#include <QFile>
#include <QGuiApplication>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <map>
#include <memory>
#include <set>

using namespace scrawl;

namespace {

constexpr int kStrokes = 3;
constexpr int kPointsPerStroke = 40;

void drawStroke(WallClient &c, QPointF from, int points)
{
    std::uint32_t id = c.beginStroke(from, Qt::red, 3);
    for (int i = 1; i < points; ++i)
        id = c.extendStroke(id, from + QPointF(i * 2.0, i % 7));
    c.endStroke(id);
}

// What a person does offline in every case: strokes, a chat message, a note.
void drawOffline(WallClient &c)
{
    for (int s = 0; s < kStrokes; ++s)
        drawStroke(c, QPointF(0, 50.0 * s), kPointsPerStroke);
    c.sendChat(QStringLiteral("written offline"));
    c.addNote(300, 300, QStringLiteral("note offline"));
}

std::unique_ptr<WallClient> makeClient(const QString &profile)
{
    auto c = std::make_unique<WallClient>();
    c->setDisplayName(QStringLiteral("Offliner"));
    c->setProfile(profile);
    c->setBackoff(50, 300);
    return c;
}

// The crash case's child: join, wait for the server to go, draw, wait to be killed.
int childMain(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 5)
        return 2;
    const QString address = QString::fromLocal8Bit(argv[2]);
    const QString wall = QString::fromLocal8Bit(argv[3]);
    auto c = makeClient(QString::fromLocal8Bit(argv[4]));
    bool drawn = false;
    QObject::connect(c.get(), &WallClient::stateChanged, &app, [&] {
        if (c->state() == WallClient::Connected && !drawn) {
            printf("joined %llu\n", static_cast<unsigned long long>(c->userId()));
            fflush(stdout);
        } else if (c->state() == WallClient::Reconnecting && !drawn) {
            drawn = true;
            drawOffline(*c);
            printf("drawn %d\n", c->pendingCount());
            fflush(stdout);
        }
    });
    c->connectToWall(address, wall);
    return app.exec(); // killed here; nothing is flushed on the way out
}

} // namespace

class TestOutbox : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    quint16 m_port = 0;

    bool startServer()
    {
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = m_port;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            return false;
        }
        m_port = m_server->port();
        return true;
    }
    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }

    std::vector<pb::Op> storedOps(const QString &wall)
    {
        std::vector<pb::Op> ops;
        const auto w = m_server->storage().findWall(wall);
        if (w)
            m_server->storage().opsAfter(w->id, 0, 1000000, &ops);
        return ops;
    }

    // Every change made offline is stored exactly once: kStrokes whole strokes, one chat, one
    // note, and no client op id of `author` twice.
    void checkStoredOnce(const QString &wall, std::uint64_t author)
    {
        const std::vector<pb::Op> ops = storedOps(wall);
        std::set<std::uint64_t> ids;
        int begins = 0, ends = 0, chats = 0, notes = 0;
        for (const pb::Op &op : ops) {
            if (op.author() != author)
                continue;
            QVERIFY2(ids.insert(op.client_op_id()).second, "a client op id was stored twice");
            begins += op.has_stroke_begin();
            ends += op.has_stroke_end();
            chats += op.has_chat();
            notes += op.has_note_add();
        }
        QCOMPARE(begins, kStrokes);
        QCOMPARE(ends, kStrokes);
        QCOMPARE(chats, 1);
        QCOMPARE(notes, 1);
        // And whole: a fresh reader sees every stroke with all its points.
        auto reader = makeClient(QString());
        reader->connectToWall(address(), wall);
        QTRY_COMPARE(reader->state(), WallClient::Connected);
        int strokes = 0;
        for (const auto &s : reader->model().strokes()) {
            if (s.visible() && keyAuthor(s.key) == author) {
                ++strokes;
                QCOMPARE(int(s.points.size()), kPointsPerStroke);
                QVERIFY(s.closed);
            }
        }
        QCOMPARE(strokes, kStrokes);
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_port = 0;
        QVERIFY(startServer());
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    // Quit: the client object goes away while offline (the app's window closes).
    void survivesQuit()
    {
        const QString profile = QStringLiteral("quit");
        std::uint64_t user = 0;
        QString path;
        {
            auto c = makeClient(profile);
            c->connectToWall(address(), QStringLiteral("w"));
            QTRY_COMPARE(c->state(), WallClient::Connected);
            user = c->userId();
            path = c->outboxPath();
            QVERIFY(!path.isEmpty());
            m_server->stop();
            QTRY_COMPARE(c->state(), WallClient::Reconnecting);
            drawOffline(*c);
            QCOMPARE(c->pendingCount(), kStrokes + 2);
        }
        QVERIFY(QFile::exists(path));
        QVERIFY(startServer());
        auto c = makeClient(profile);
        c->connectToWall(address(), QStringLiteral("w"));
        // Back before the join: shown as waiting, strokes drawn from the outbox.
        QCOMPARE(c->pendingCount(), kStrokes + 2);
        QCOMPARE(int(c->localStrokes().size()), kStrokes);
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QCOMPARE(c->userId(), user);
        QTRY_COMPARE(c->pendingCount(), 0);
        QTRY_VERIFY(!QFile::exists(path)); // nothing waiting: nothing kept
        checkStoredOnce(QStringLiteral("w"), user);

        // A new change after the restart gets an id of its own (stored, not taken for a resend).
        drawStroke(*c, QPointF(500, 500), 5);
        QTRY_COMPARE(c->pendingCount(), 0);
        int begins = 0;
        for (const pb::Op &op : storedOps(QStringLiteral("w")))
            begins += op.author() == user && op.has_stroke_begin();
        QCOMPARE(begins, kStrokes + 1);
    }

    // Leave, then another wall, then back: the first wall's changes wait for it, and only it.
    void survivesLeaveAndSwitchingWalls()
    {
        const QString profile = QStringLiteral("switch");
        auto c = makeClient(profile);
        c->connectToWall(address(), QStringLiteral("first"));
        QTRY_COMPARE(c->state(), WallClient::Connected);
        const std::uint64_t user = c->userId();
        m_server->stop();
        QTRY_COMPARE(c->state(), WallClient::Reconnecting);
        drawOffline(*c);
        c->disconnectFromWall(); // Leave
        QCOMPARE(c->state(), WallClient::Idle);

        QVERIFY(startServer());
        c->connectToWall(address(), QStringLiteral("second"));
        QCOMPARE(c->pendingCount(), 0); // the other wall's changes are not this one's
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QCOMPARE(c->chat()->rowCount(), 0);
        QVERIFY(storedOps(QStringLiteral("second")).empty());
        QVERIFY(storedOps(QStringLiteral("first")).empty());

        c->connectToWall(address(), QStringLiteral("first"));
        QCOMPARE(c->pendingCount(), kStrokes + 2);
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QTRY_COMPARE(c->pendingCount(), 0);
        QCOMPARE(c->chat()->rowCount(), 1);
        checkStoredOnce(QStringLiteral("first"), user);
        QVERIFY(storedOps(QStringLiteral("second")).empty());
    }

    // A crash: the app process is killed (SIGKILL) right after drawing offline.
    void survivesACrash()
    {
        const QString profile = QStringLiteral("crash");
        const QString wall = QStringLiteral("crashwall");
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QCoreApplication::applicationFilePath(),
                    {QStringLiteral("--child"), address(), wall, profile});
        QVERIFY(child.waitForStarted());
        QByteArray out;
        auto readUntil = [&](const char *prefix) {
            QTRY_VERIFY_WITH_TIMEOUT((out += child.readAllStandardOutput()).contains(prefix), 10000);
        };
        readUntil("joined ");
        const std::uint64_t user = out.mid(out.indexOf("joined ") + 7).split('\n').first().toULongLong();
        QVERIFY(user != 0);
        m_server->stop();
        readUntil("drawn ");
        // The child writes its outbox within OutboxStore::kSaveDelayMs of the change, on its own.
        const QString path = OutboxStore::pathFor(profile, QStringLiteral("127.0.0.1"), m_port, wall);
        auto keptNote = [&] {
            const std::vector<pb::Op> kept = OutboxStore::loadFile(path);
            return std::any_of(kept.begin(), kept.end(), [](const pb::Op &op) { return op.has_note_add(); });
        };
        QTRY_VERIFY(keptNote()); // the last change made
        child.kill();
        QVERIFY(child.waitForFinished());
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);

        QVERIFY(startServer());
        auto c = makeClient(profile);
        c->connectToWall(address(), wall);
        QCOMPARE(c->pendingCount(), kStrokes + 2);
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QCOMPARE(c->userId(), user);
        QTRY_COMPARE(c->pendingCount(), 0);
        checkStoredOnce(wall, user);
    }

    // A stroke the app quit in the middle of is ended with every point drawn.
    void strokeCutByQuitIsEnded()
    {
        const QString profile = QStringLiteral("midstroke");
        std::uint64_t user = 0;
        {
            auto c = makeClient(profile);
            c->connectToWall(address(), QStringLiteral("w"));
            QTRY_COMPARE(c->state(), WallClient::Connected);
            user = c->userId();
            m_server->stop();
            QTRY_COMPARE(c->state(), WallClient::Reconnecting);
            std::uint32_t id = c->beginStroke(QPointF(0, 0), Qt::blue, 2);
            // 24 of them go out in two batches of 12; the last 5 wait for the batch timer.
            for (int i = 1; i < 30; ++i)
                id = c->extendStroke(id, QPointF(i * 3.0, 0));
        }
        QVERIFY(startServer());
        auto c = makeClient(profile);
        c->connectToWall(address(), QStringLiteral("w"));
        QVERIFY(!c->drawing());
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QTRY_COMPARE(c->pendingCount(), 0);
        int closed = 0;
        for (const auto &s : c->model().strokes()) {
            if (keyAuthor(s.key) == user && s.closed) {
                ++closed;
                QCOMPARE(int(s.points.size()), 30);
            }
        }
        QCOMPARE(closed, 1);
    }
};

int main(int argc, char **argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--child") == 0)
        return childMain(argc, argv);
    // Settings and the outbox live here for this run (and its child), never in the real ones.
    QTemporaryDir home;
    qputenv("XDG_CONFIG_HOME", (home.path() + QStringLiteral("/config")).toLocal8Bit());
    qputenv("XDG_DATA_HOME", (home.path() + QStringLiteral("/data")).toLocal8Bit());
    QGuiApplication app(argc, argv);
    TestOutbox test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_outbox.moc"
