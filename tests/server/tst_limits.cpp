// Amplification and unbounded memory (issue 14 item 7): cursor and history rates, idle walls
// unloaded, HTTP reads that neither create nor load walls, bounds per address on new walls, new
// identities and password checks, IPv6 addresses counted by their /64, and 10,000 walls touched
// over HTTP and WebSocket leaving memory bounded. The real server on 127.0.0.1 port 0, real
// WebSocket clients and HTTP requests, real SQLite in a temporary directory; AddressGuard is
// also tested alone with real QHostAddresses.

#include "server/security.h"
#include "server/wallserver.h"
#include "tests/support/testclient.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>

#include <malloc.h>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

// Resident set size of this process in KiB (Linux), -1 if unknown.
qint64 rssKiB()
{
    // Freed memory goes back to the system first: what is left is what the process holds, not
    // what glibc's allocator keeps around for reuse.
    malloc_trim(0);
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// The errors `c` received that name `limit`.
int errorsNaming(const TestClient &c, const char *limit)
{
    int n = 0;
    for (const auto &env : c.received)
        n += env.has_error() && env.error().limit() == limit;
    return n;
}

int errorsWithCode(const TestClient &c, pb::ErrorCode code)
{
    int n = 0;
    for (const auto &env : c.received)
        n += env.has_error() && env.error().code() == code;
    return n;
}

// Runs the event loop until pred() holds, checking after each message `client` receives.
// (TestClient::waitFor polls with sleeps in between: 10,000 joins must not wait for them.)
bool waitOnMessages(TestClient &client, const std::function<bool()> &pred, int timeoutMs)
{
    if (pred())
        return true;
    QEventLoop loop;
    QTimer timeout;
    timeout.setSingleShot(true);
    QObject::connect(&timeout, &QTimer::timeout, &loop, &QEventLoop::quit);
    // Connected after TestClient's own handler, so it runs after the message was recorded.
    const auto connection = QObject::connect(&client.socket(), &QWebSocket::binaryMessageReceived,
                                             &loop, [&] {
                                                 if (pred())
                                                     loop.quit();
                                             });
    timeout.start(timeoutMs);
    loop.exec();
    QObject::disconnect(connection);
    return pred();
}

pb::Envelope joinEnvelope(const QString &wall, const QString &password = {})
{
    pb::Envelope env;
    env.mutable_join()->set_wall(toWire(wall));
    env.mutable_join()->set_password(toWire(password));
    return env;
}

} // namespace

class TstLimits : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    QNetworkAccessManager m_net;

    void startServer(const std::function<void(ServerOptions &)> &tune = {})
    {
        m_server.reset();
        if (!m_dir)
            m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        options.passwordIterations = 1000;
        if (tune)
            tune(options);
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    QNetworkReply *startGet(const QString &path, const QByteArray &token = {})
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->port()).arg(path)));
        if (!token.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + token);
        return m_net.get(req);
    }

    // GET and wait; returns the status, the JSON body in *json.
    int get(const QString &path, QJsonObject *json = nullptr, const QByteArray &token = {})
    {
        QNetworkReply *reply = startGet(path, token);
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished() && !finished.wait(10000)) {
            reply->abort();
            reply->deleteLater();
            return 0;
        }
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (json)
            *json = QJsonDocument::fromJson(reply->readAll()).object();
        reply->deleteLater();
        return status;
    }

    bool wallStored(const QString &name)
    {
        for (const WallSummary &w : m_server->storage().walls()) {
            if (w.name == name)
                return true;
        }
        return false;
    }

private slots:
    void init() { m_dir = std::make_unique<QTemporaryDir>(); }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    // g: every address of an IPv6 /64 is one address to the limits; an IPv4-mapped IPv6
    // address is its IPv4 address.
    void addressGuardCountsIpv6ByPrefix()
    {
        AddressLimits limits;
        limits.maxJoinsPerMinute = 2;
        limits.maxConnections = 2;
        AddressGuard guard(limits);
        const QHostAddress a(QStringLiteral("2001:db8:1:2::1"));
        const QHostAddress b(QStringLiteral("2001:db8:1:2:ffff:ffff:ffff:fffe"));
        const QHostAddress c(QStringLiteral("2001:db8:1:2:abcd::9"));
        const QHostAddress otherPrefix(QStringLiteral("2001:db8:1:3::1"));
        QCOMPARE(AddressGuard::key(a), AddressGuard::key(b));
        QVERIFY(AddressGuard::key(a) != AddressGuard::key(otherPrefix));

        QCOMPARE(QByteArray(guard.admitJoin(a)), QByteArray());
        QCOMPARE(QByteArray(guard.admitJoin(b)), QByteArray());
        QCOMPARE(QByteArray(guard.admitJoin(c)), QByteArray(limits::kMaxJoinsPerAddressPerMinuteName));
        QCOMPARE(QByteArray(guard.admitJoin(otherPrefix)), QByteArray());

        QCOMPARE(QByteArray(guard.admitConnection(b)), QByteArray());
        QCOMPARE(QByteArray(guard.admitConnection(c)), QByteArray());
        QCOMPARE(QByteArray(guard.admitConnection(a)), QByteArray(limits::kMaxConnectionsPerAddressName));
        QCOMPARE(guard.openConnections(a), 2);
        guard.connectionClosed(c);
        QCOMPARE(guard.openConnections(b), 1);
        QCOMPARE(QByteArray(guard.admitConnection(a)), QByteArray());

        // IPv4 and IPv4-mapped IPv6 are one address; its neighbour is another.
        const QHostAddress v4(QStringLiteral("192.0.2.7"));
        const QHostAddress mapped(QStringLiteral("::ffff:192.0.2.7"));
        QCOMPARE(AddressGuard::key(mapped), AddressGuard::key(v4));
        QCOMPARE(QByteArray(guard.admitJoin(v4)), QByteArray());
        QCOMPARE(QByteArray(guard.admitJoin(mapped)), QByteArray());
        QCOMPARE(QByteArray(guard.admitJoin(v4)), QByteArray(limits::kMaxJoinsPerAddressPerMinuteName));
        QCOMPARE(QByteArray(guard.admitJoin(QHostAddress(QStringLiteral("192.0.2.8")))), QByteArray());

        // Wrong passwords from one /64 lock the whole /64 out.
        AddressLimits strict;
        strict.maxPasswordFailures = 2;
        AddressGuard locks(strict);
        QVERIFY(!locks.passwordFailed(a));
        QVERIFY(locks.passwordFailed(b));
        QVERIFY(locks.lockedOutFor(c) > 0);
        QCOMPARE(locks.lockedOutFor(otherPrefix), qint64(0));
    }

    // f, alone: checks are counted when they start; at most maxPasswordChecks run at once, and
    // guesses under way count against max_password_failures.
    void addressGuardCountsPasswordChecksAtStart()
    {
        AddressLimits limits;
        limits.maxPasswordChecks = 2;
        limits.maxPasswordFailures = 3;
        AddressGuard guard(limits);
        const QHostAddress a(QStringLiteral("2001:db8::1"));
        const QHostAddress sameNet(QStringLiteral("2001:db8::2"));
        const QHostAddress other(QStringLiteral("198.51.100.1"));
        QCOMPARE(QByteArray(guard.beginPasswordCheck(a, true)), QByteArray());
        QCOMPARE(QByteArray(guard.beginPasswordCheck(sameNet, false)), QByteArray());
        QCOMPARE(QByteArray(guard.beginPasswordCheck(a, true)), QByteArray(limits::kMaxPasswordChecksPerAddressName));
        QCOMPARE(QByteArray(guard.beginPasswordCheck(other, true)), QByteArray());
        guard.endPasswordCheck(sameNet, false);
        QCOMPARE(QByteArray(guard.beginPasswordCheck(a, true)), QByteArray());
        // One wrong, one more under way; the cap on checks at once holds guesses too.
        guard.endPasswordCheck(a, true);
        QVERIFY(!guard.passwordFailed(a));
        QCOMPARE(QByteArray(guard.beginPasswordCheck(a, true)), QByteArray());
        QCOMPARE(QByteArray(guard.beginPasswordCheck(a, true)), QByteArray(limits::kMaxPasswordChecksPerAddressName));

        AddressLimits wide = limits;
        wide.maxPasswordChecks = 10;
        AddressGuard guesses(wide);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(QByteArray(guesses.beginPasswordCheck(a, true)), QByteArray());
        QCOMPARE(QByteArray(guesses.beginPasswordCheck(a, true)), QByteArray(limits::kMaxPasswordFailuresName));
        // Setting a password (creating a wall) is no guess.
        QCOMPARE(QByteArray(guesses.beginPasswordCheck(a, false)), QByteArray());
        guesses.endPasswordCheck(a, true);
        QCOMPARE(QByteArray(guesses.beginPasswordCheck(a, true)), QByteArray());
    }

    // a: a flood of cursors reaches the others at the cursor rate; the last position always
    // arrives; the sender is told once a second and keeps its connection.
    void cursorsAreRateLimitedAndTheLastArrives()
    {
        startServer();
        TestClient a, b;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ann")));
        QVERIFY(b.connectAs(m_server->url(), QStringLiteral("Bob")));
        QVERIFY(a.join(QStringLiteral("cursors")));
        QVERIFY(b.join(QStringLiteral("cursors")));
        const int sent = 1000;
        QElapsedTimer timer;
        timer.start();
        for (int i = 1; i <= sent; ++i) {
            pb::Envelope env;
            env.mutable_cursor()->set_x(float(i));
            env.mutable_cursor()->set_y(1);
            a.sendEnvelope(env);
        }
        auto lastX = [&] {
            for (auto it = b.received.rbegin(); it != b.received.rend(); ++it) {
                if (it->has_cursor())
                    return int(it->cursor().x());
            }
            return 0;
        };
        QTRY_COMPARE_WITH_TIMEOUT(lastX(), sent, 10000);
        const double seconds = timer.elapsed() / 1000.0;
        const int relayed = int(b.count(pb::Envelope::kCursor));
        const int bound = limits::kCursorBurst + int(seconds * limits::kMaxCursorsPerSecond) + 2;
        qInfo("%d cursors sent, %d relayed in %.2f s (bound %d)", sent, relayed, seconds, bound);
        QVERIFY2(relayed <= bound, qPrintable(QStringLiteral("%1 relayed").arg(relayed)));
        // The flood was named, once or once a second, and the connection stays.
        QTRY_VERIFY(errorsNaming(a, limits::kMaxCursorsPerSecondName) >= 1);
        QVERIFY(errorsNaming(a, limits::kMaxCursorsPerSecondName) <= int(seconds) + 1);
        QCOMPARE(a.lastError()->code(), pb::LIMIT_EXCEEDED);
        QVERIFY(a.lastError()->message().find(limits::kMaxCursorsPerSecondName) != std::string::npos);
        const auto id = a.chat(QStringLiteral("still here"));
        QTRY_VERIFY(a.acked(id));
        QCOMPARE(a.disconnects, 0);
    }

    // b: history pages are a token bucket per client, refused with a named error over it.
    void historyRequestsAreRateLimited()
    {
        startServer();
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ann")));
        QVERIFY(a.join(QStringLiteral("history")));
        const auto id = a.chat(QStringLiteral("one"));
        QTRY_VERIFY(a.acked(id));
        const int asked = limits::kHistoryBurst + 10;
        for (int i = 0; i < asked; ++i) {
            pb::Envelope env;
            env.mutable_history_request()->set_limit(limits::kMaxHistoryPage);
            a.sendEnvelope(env);
        }
        auto answered = [&] {
            return int(a.count(pb::Envelope::kHistory))
                 + errorsNaming(a, limits::kMaxHistoryRequestsPerMinuteName);
        };
        QTRY_COMPARE(answered(), asked);
        const int pages = int(a.count(pb::Envelope::kHistory));
        QVERIFY2(pages >= limits::kHistoryBurst && pages <= limits::kHistoryBurst + 1,
                 qPrintable(QStringLiteral("%1 pages").arg(pages)));
        QCOMPARE(a.lastError()->code(), pb::LIMIT_EXCEEDED);
        QCOMPARE(a.disconnects, 0);
    }

    // c: a wall nobody is on is unloaded after the idle time; one with people stays; a later
    // join loads it again with everything stored, exactly-once bookkeeping included.
    void idleWallsAreUnloadedAndComeBack()
    {
        startServer([](ServerOptions &o) {
            o.wallIdleUnloadMs = 200;
            o.snapshotEveryOps = 3;
        });
        TestClient stay, a;
        QVERIFY(stay.connectAs(m_server->url(), QStringLiteral("Stay")));
        QVERIFY(stay.join(QStringLiteral("busy")));
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ann")));
        QVERIFY(a.join(QStringLiteral("quiet")));
        const auto strokeIds = a.stroke(1, {{10, 10}, {20, 20}, {30, 10}}, 2);
        a.chat(QStringLiteral("before"));
        pb::Op note;
        note.mutable_note_add()->set_id(7);
        note.mutable_note_add()->set_text("note");
        const auto last = a.sendOp(note);
        QTRY_VERIFY(a.acked(last));
        const std::string before = a.model.snapshot().SerializeAsString();
        const std::uint64_t head = a.lastJoined()->head_seq() + 5; // begin, points, end, chat, note
        QCOMPARE(m_server->headSeq(QStringLiteral("quiet")), head);
        QCOMPARE(m_server->loadedRooms().size(), size_t(2));

        // Leaving makes it idle; "busy" was looked up just before but has someone on it: only
        // "quiet" goes.
        QVERIFY(a.join(QStringLiteral("busy")));
        QTRY_VERIFY(!m_server->loadedRoom(QStringLiteral("quiet")));
        QVERIFY(m_server->loadedRoom(QStringLiteral("busy")));

        // A new connection of the same person joins it again: all there, and a resent op is
        // answered with the stored copy, not applied again.
        TestClient back;
        QVERIFY(back.connectAs(m_server->url(), QStringLiteral("Ann"), a.resumeToken));
        QCOMPARE(back.userId, a.userId);
        QVERIFY(back.join(QStringLiteral("quiet")));
        QVERIFY(m_server->loadedRoom(QStringLiteral("quiet")));
        QCOMPARE(back.lastJoined()->head_seq(), head);
        QCOMPARE(back.model.snapshot().SerializeAsString(), before);
        QCOMPARE(back.lastJoined()->recent_chat_size(), 1);
        pb::Op again;
        again.set_client_op_id(last);
        again.mutable_note_add()->set_id(7);
        again.mutable_note_add()->set_text("note");
        back.sendOp(again);
        QTRY_VERIFY(back.acked(last));
        QCOMPARE(back.ops().back().seq(), head);
        QCOMPARE(m_server->headSeq(QStringLiteral("quiet")), head);
        Q_UNUSED(strokeIds);

        // Once everyone has gone, both go.
        back.socket().close();
        stay.socket().close();
        a.socket().close();
        QTRY_COMPARE(m_server->loadedRooms().size(), size_t(0));
    }

    // d (HTTP): reading chat neither creates nor loads a wall; an unknown wall is 404.
    void httpReadsNeitherCreateNorLoadWalls()
    {
        startServer([](ServerOptions &o) { o.wallIdleUnloadMs = 100; });
        QCOMPARE(get(QStringLiteral("/api/walls/nowhere/messages")), 404);
        QVERIFY(!wallStored(QStringLiteral("nowhere")));
        QCOMPARE(m_server->loadedRooms().size(), size_t(0));

        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ann")));
        QVERIFY(a.join(QStringLiteral("open")));
        const auto id = a.chat(QStringLiteral("hello"));
        QTRY_VERIFY(a.acked(id));
        pb::Envelope withPassword = joinEnvelope(QStringLiteral("closed"), QStringLiteral("secret"));
        a.sendEnvelope(withPassword);
        QTRY_COMPARE(a.count(pb::Envelope::kJoined), size_t(2));
        const QByteArray closedToken = QByteArray::fromStdString(a.lastJoined()->api_token());
        QVERIFY(!closedToken.isEmpty());
        a.socket().close();
        QTRY_COMPARE(m_server->loadedRooms().size(), size_t(0));

        QJsonObject json;
        QCOMPARE(get(QStringLiteral("/api/walls/open/messages"), &json), 200);
        QCOMPARE(json.value(QStringLiteral("head_seq")).toInteger(), 1);
        const QJsonArray messages = json.value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.at(0).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("hello"));
        // The password is checked from storage too.
        QCOMPARE(get(QStringLiteral("/api/walls/closed/messages")), 401);
        QCOMPARE(get(QStringLiteral("/api/walls/closed/messages"), nullptr, closedToken), 200);
        QCOMPARE(get(QStringLiteral("/api/walls/nowhere/messages")), 404);
        QCOMPARE(m_server->loadedRooms().size(), size_t(0));
        QVERIFY(!wallStored(QStringLiteral("nowhere")));
    }

    // d (Join): walls are created by joining, at most maxWallsCreatedPerHour an address.
    void wallCreationIsBoundedPerAddress()
    {
        startServer([](ServerOptions &o) { o.addressLimits.maxWallsCreatedPerHour = 3; });
        TestClient a;
        QVERIFY(a.connectAs(m_server->url(), QStringLiteral("Ann")));
        for (int i = 1; i <= 3; ++i)
            QVERIFY(a.join(QStringLiteral("new%1").arg(i)));
        a.sendEnvelope(joinEnvelope(QStringLiteral("new4")));
        QTRY_VERIFY(errorsNaming(a, limits::kMaxWallsCreatedPerAddressPerHourName) == 1);
        QCOMPARE(a.lastError()->code(), pb::LIMIT_EXCEEDED);
        QVERIFY(!wallStored(QStringLiteral("new4")));
        // Existing walls are joined as before.
        QVERIFY(a.join(QStringLiteral("new1")));
        QCOMPARE(a.disconnects, 0);
    }

    // e: a Hello without a resume token stores a new identity: at most maxNewUsersPerHour an
    // address. Returning with a token is not counted.
    void newIdentitiesAreBoundedPerAddress()
    {
        startServer([](ServerOptions &o) { o.addressLimits.maxNewUsersPerHour = 3; });
        TestClient first, second, third, fourth, back;
        QVERIFY(first.connectAs(m_server->url(), QStringLiteral("One")));
        QVERIFY(second.connectAs(m_server->url(), QStringLiteral("Two")));
        QVERIFY(third.connectAs(m_server->url(), QStringLiteral("Three")));
        QVERIFY(fourth.open(m_server->url()));
        fourth.sendHello(QStringLiteral("Four"));
        QTRY_COMPARE(fourth.disconnects, 1);
        QCOMPARE(fourth.count(pb::Envelope::kWelcome), size_t(0));
        QCOMPARE(errorsNaming(fourth, limits::kMaxNewUsersPerAddressPerHourName), 1);
        QCOMPARE(fourth.lastError()->code(), pb::LIMIT_EXCEEDED);
        QVERIFY(back.connectAs(m_server->url(), QStringLiteral("One"), first.resumeToken));
        QCOMPARE(back.userId, first.userId);
    }

    // f, end to end: password checks run at most maxPasswordChecks at once per address; more
    // are refused at once, before the running ones answer.
    void passwordChecksAreBoundedWhenTheyStart()
    {
        // Slow enough that the checks overlap however loaded the machine is.
        startServer([](ServerOptions &o) { o.passwordIterations = 100000; });
        TestClient owner;
        QVERIFY(owner.connectAs(m_server->url(), QStringLiteral("Owner")));
        owner.sendEnvelope(joinEnvelope(QStringLiteral("locked"), QStringLiteral("right")));
        QTRY_COMPARE_WITH_TIMEOUT(owner.count(pb::Envelope::kJoined), size_t(1), 20000);

        const int guessers = limits::kMaxPasswordChecksPerAddress + 2;
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < guessers; ++i) {
            clients.push_back(std::make_unique<TestClient>());
            QVERIFY(clients.back()->connectAs(m_server->url(), QStringLiteral("G%1").arg(i)));
        }
        for (auto &c : clients)
            c->sendEnvelope(joinEnvelope(QStringLiteral("locked"), QStringLiteral("wrong")));
        auto total = [&](auto count) {
            int n = 0;
            for (auto &c : clients)
                n += count(*c);
            return n;
        };
        auto refused = [&] {
            return total([](const TestClient &c) {
                return errorsNaming(c, limits::kMaxPasswordChecksPerAddressName);
            });
        };
        auto wrong = [&] {
            return total([](const TestClient &c) { return errorsWithCode(c, pb::WRONG_PASSWORD); });
        };
        QTRY_COMPARE(refused(), guessers - limits::kMaxPasswordChecksPerAddress);
        QCOMPARE(wrong(), 0); // refused at once, not after the others' checks
        QTRY_COMPARE_WITH_TIMEOUT(wrong(), limits::kMaxPasswordChecksPerAddress, 30000);
        // Once they answered, the address may try again.
        TestClient later;
        QVERIFY(later.connectAs(m_server->url(), QStringLiteral("Later")));
        later.sendEnvelope(joinEnvelope(QStringLiteral("locked"), QStringLiteral("right")));
        QTRY_COMPARE_WITH_TIMEOUT(later.count(pb::Envelope::kJoined), size_t(1), 20000);
    }

    // h: 10,000 walls touched over HTTP and WebSocket; idle unloading brings the walls in
    // memory back to none, and the process's memory grows by less than a stated bound.
    void tenThousandWallsLeaveMemoryBounded()
    {
        QLoggingCategory::setFilterRules(QStringLiteral("scrawl.*.info=false"));
        startServer([](ServerOptions &o) {
            o.wallIdleUnloadMs = 300;
            // One address does everything here: lift its limits (tested above).
            o.addressLimits.maxJoinsPerMinute = 1000000;
            o.addressLimits.maxWallsCreatedPerHour = 1000000;
        });
        TestClient walker;
        QVERIFY(walker.connectAs(m_server->url(), QStringLiteral("Walker")));
        size_t peakLoaded = 0;

        // Names [from, to) in batches: GET each (unknown: 404), join each (creates it), and
        // GET each again (200), all pipelined.
        auto touch = [&](int from, int to) {
            const int batch = 250;
            for (int start = from; start < to; start += batch) {
                const int end = std::min(to, start + batch);
                auto getAll = [&](int expected) {
                    std::vector<QNetworkReply *> replies;
                    for (int i = start; i < end; ++i)
                        replies.push_back(startGet(QStringLiteral("/api/walls/m%1/messages").arg(i)));
                    bool ok = true;
                    for (QNetworkReply *r : replies) {
                        if (!r->isFinished()) {
                            QSignalSpy finished(r, &QNetworkReply::finished);
                            ok = ok && finished.wait(20000);
                        }
                        ok = ok && r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == expected;
                        r->deleteLater();
                    }
                    // No event loop runs at this level to delete them: the client's replies
                    // must not pile up in the memory being measured.
                    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
                    return ok;
                };
                if (!getAll(404))
                    return false;
                const size_t joined = walker.count(pb::Envelope::kJoined);
                for (int i = start; i < end; ++i)
                    walker.sendEnvelope(joinEnvelope(QStringLiteral("m%1").arg(i)));
                if (!waitOnMessages(walker, [&] {
                        return walker.count(pb::Envelope::kJoined) == joined + size_t(end - start)
                            || walker.lastError();
                    }, 20000)
                    || walker.lastError())
                    return false;
                // The client keeps nothing of it (what is measured is the server).
                walker.received.clear();
                peakLoaded = std::max(peakLoaded, m_server->loadedRooms().size());
                if (!getAll(200))
                    return false;
            }
            return true;
        };
        auto settle = [&] {
            // The walker leaves its last wall; then every wall is idle.
            walker.sendEnvelope(joinEnvelope(QStringLiteral("lobby")));
            return TestClient::waitFor([&] { return m_server->loadedRooms().size() <= 1; }, 20000);
        };

        QElapsedTimer timer;
        timer.start();
        // Warm-up: SQLite's page cache, Qt's and the allocator's pools reach their working size.
        QVERIFY(touch(0, 1000));
        QVERIFY(settle());
        const qint64 baseline = rssKiB();
        QVERIFY(baseline > 0);
        const qint64 warmupMs = timer.restart();

        QVERIFY(touch(1000, 6000));
        QVERIFY(settle());
        const qint64 middle = rssKiB();
        QVERIFY(touch(6000, 11000));
        const qint64 touchMs = timer.elapsed();
        QVERIFY(settle());
        const qint64 after = rssKiB();
        const size_t loaded = m_server->loadedRooms().size();
        // The walker sits on "lobby"; nothing else stays.
        QCOMPARE(loaded, size_t(1));
        QCOMPARE(m_server->storage().walls().size(), size_t(11001));

        // Bound: 10,000 walls kept in memory cost about 14 MiB here (seen with the idle time
        // set beyond the test); with unloading the growth is SQLite's page caches filling up and
        // the per-address windows (about 2.5 MiB, half of it in the first 5,000 walls).
        const qint64 boundKiB = 6 * 1024;
        qInfo("warm-up %lld ms, 10,000 walls in %lld ms; at most %zu walls in memory at once; "
              "RSS %lld KiB after warm-up, %lld KiB after 5,000, %lld KiB after 10,000 (grew %lld KiB, "
              "bound %lld KiB)",
              warmupMs, touchMs, peakLoaded, baseline, middle, after, after - baseline, boundKiB);
        QVERIFY(peakLoaded < 10000);
#if defined(__SANITIZE_ADDRESS__)
        // AddressSanitizer keeps freed memory in quarantine (up to 256 MiB) and pads every
        // allocation, so RSS there says nothing about what the server holds; the walls loaded
        // (above) still must come back down.
        qInfo("RSS bound not checked under AddressSanitizer");
#else
        QVERIFY2(after - baseline < boundKiB,
                 qPrintable(QStringLiteral("RSS grew %1 KiB").arg(after - baseline)));
#endif
        QLoggingCategory::setFilterRules(QString());
    }
};

QTEST_MAIN(TstLimits)
#include "tst_limits.moc"
