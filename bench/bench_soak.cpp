// scrawl-bench soak: many people drawing and chatting on one wall for minutes against one real
// scrawl-server process, which is killed (SIGKILL) in the middle and started again on the same
// port and data directory. The people (bench/soakcrowd.h) reconnect with their resume token,
// join with the last sequence number they saw, and resend every op not yet acknowledged under
// its original client_op_id, so the server must apply each op exactly once.
//
// At the end the server is stopped and its SQLite file is read (QtSql) to check, op by op:
// - every acknowledged op is stored, at the seq its ack named, with the same bytes;
// - no (author, client_op_id) is stored twice;
// - every client ends with exactly the stored sequence (each seq once, same bytes);
// - every op a client made was acknowledged.
// Anything acknowledged and missing from storage or from a client's view counts as lost; the
// command exits 1 if anything was lost (or any other integrity check failed).
//
// The server's memory is sampled from /proc/PID/status every 10 s.

#include "bench/child.h"
#include "bench/common.h"
#include "bench/soakcrowd.h"
#include "bench/strokegen.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

namespace scrawl::bench {

namespace {

constexpr const char *kWall = "soak";
constexpr std::int64_t kSecond = 1'000'000'000LL;

// --- the server process: fixed port and data dir across the restart ---

struct Server
{
    pid_t pid = -1;
    std::uint16_t port = 0;
    std::string dataDir;
    std::string log;
    int outFd = -1;      // its stdout, until it said "listening"
    std::string outText; // what it said so far

    void spawn()
    {
        ChildOptions options;
        // Every soak client comes from 127.0.0.1: lift the per-address limits.
        options.argv = {binDir() + "/scrawl-server", "--port", std::to_string(port), "--host", "127.0.0.1",
                        "--data", dataDir, "--max-connections-per-address", "1000000",
                        "--max-connects-per-address", "1000000", "--max-joins-per-address", "1000000"};
        options.env = {{"QT_LOGGING_RULES", "scrawl.*.info=false"}};
        options.log = log;
        options.pipeStdout = true;
        pid = spawnChild(options, &outFd);
        outText.clear();
    }

    // Reads what the server printed; true once it said "listening on ws://HOST:PORT".
    bool readListening()
    {
        char buf[256];
        const ssize_t n = ::read(outFd, buf, sizeof buf);
        if (n <= 0)
            die("scrawl-server exited before listening; see " + log);
        outText.append(buf, size_t(n));
        if (outText.find('\n') == std::string::npos)
            return false;
        if (outText.rfind("listening on ws://", 0) != 0)
            die("unexpected first line from scrawl-server: " + outText);
        port = std::uint16_t(std::atoi(outText.c_str() + outText.rfind(':') + 1));
        ::close(outFd);
        outFd = -1;
        return true;
    }

    void startBlocking()
    {
        spawn();
        const std::string line = readFirstLine(outFd, 20000);
        if (line.empty())
            die("scrawl-server did not say it was listening within 20 s; see " + log);
        outText = line + "\n";
        ::close(outFd);
        outFd = -1;
        if (line.rfind("listening on ws://", 0) != 0)
            die("unexpected first line from scrawl-server: " + line);
        port = std::uint16_t(std::atoi(line.c_str() + line.rfind(':') + 1));
    }

    void killHard() { killChild(pid); }

    // SIGTERM: the server flushes storage and exits.
    bool stop() { return stopChild(pid, 20000); }

    std::int64_t rssBytes() const
    {
        if (pid <= 0)
            return 0;
        ServerProcess p;
        p.pid = pid;
        return p.rssBytes();
    }

    double cpuSeconds() const
    {
        if (pid <= 0)
            return 0;
        ServerProcess p;
        p.pid = pid;
        return p.cpuSeconds();
    }
};

struct Sample
{
    double t = 0;
    std::int64_t rss = 0;
    std::uint64_t made = 0, acked = 0, deliveries = 0;
    int live = 0;
};

class Soak
{
public:
    Soak(Server &server, int clients, double minutes, double restartAt, const Args &args)
        : m_server(server)
        , m_pace(SoakPace::fromArgs(args))
        , m_crowd(kWall, clients, m_pace, [&server](int) { return server.port; })
        , m_durationNs(std::int64_t(minutes * 60 * kSecond))
        , m_restartAt(restartAt)
    {
    }

    void run()
    {
        m_crowd.joinAll(60);
        std::fprintf(stderr, "soak: %d clients joined; drawing for %.1f min, restart at %.0f %%\n",
                     m_crowd.clients(), double(m_durationNs) / 60e9, 100 * m_restartAt);

        m_start = nowNs();
        m_crowd.startDrawing(m_start);
        const std::int64_t restartNs = m_start + std::int64_t(m_restartAt * double(m_durationNs));
        bool restarted = m_restartAt <= 0 || m_restartAt >= 1;
        std::int64_t nextSample = m_start;
        const std::int64_t end = m_start + m_durationNs;
        for (;;) {
            const std::int64_t now = nowNs();
            if (now >= nextSample) {
                sample(now);
                nextSample += 10 * kSecond;
            }
            if (now >= end && m_crowd.drawing()) {
                m_crowd.stopDrawing(now);
                m_drawEnd = now;
            }
            bool busy = false;
            const std::int64_t due = std::min(nextSample, m_crowd.act(now, &busy));
            // After the actions: ops just written are in flight, some read by the server and
            // not yet committed, when the kill comes.
            if (!restarted && now >= restartNs) {
                restart(now);
                restarted = true;
            }
            if (!m_crowd.drawing() && !busy)
                break;
            m_crowd.pump(std::min<std::int64_t>(due - nowNs(), 20'000'000));
        }
        sample(nowNs());
        m_drainSeconds = m_crowd.drain(120);
    }

    std::uint64_t freshJoinHead() const { return m_crowd.freshJoinHead(m_server.port); }
    void closeAll() { m_crowd.closeAll(); }

    bool report(const std::vector<StoredOp> &stored, std::uint64_t storedCount, std::uint64_t freshHead,
                std::uint64_t storedDuplicates, bool cleanStop, const std::string &markdownPath);

    double serverCpuSeconds() const { return m_serverCpuBeforeKill + m_server.cpuSeconds(); }
    double m_serverCpu = 0;           // both processes, set before the final stop
    std::int64_t m_snapshotBytes = 0; // the stored snapshot of the wall, at the end

private:
    void restart(std::int64_t now)
    {
        m_unackedAtKill = m_crowd.unacknowledged();
        m_rssBeforeKill = m_server.rssBytes();
        m_serverCpuBeforeKill = m_server.cpuSeconds();
        std::fprintf(stderr, "soak: t=%.1f s: SIGKILL the server (pid %d, %llu ops unacknowledged)\n",
                     double(now - m_start) / 1e9, m_server.pid, (unsigned long long)m_unackedAtKill);
        m_server.killHard();
        m_killAt = now;
        m_server.spawn();
        m_crowd.watch(m_server.outFd, [this] {
            if (!m_server.readListening())
                return;
            m_crowd.unwatch(m_server.outFd);
            m_restartedAt = nowNs();
            std::fprintf(stderr, "soak: server back after %.2f s (pid %d, port %u)\n",
                         double(m_restartedAt - m_killAt) / 1e9, m_server.pid, m_server.port);
        });
    }

    void sample(std::int64_t now)
    {
        Sample s;
        s.t = double(now - m_start) / 1e9;
        s.rss = m_server.rssBytes();
        s.made = m_crowd.made();
        s.acked = m_crowd.acked();
        s.deliveries = m_crowd.deliveries();
        s.live = m_crowd.live();
        if (!m_samples.empty()) {
            const Sample &p = m_samples.back();
            const double dt = std::max(1e-3, s.t - p.t);
            std::fprintf(stderr,
                         "soak: t=%5.0f s  live %3d  made %8llu  acked %8llu  ops/s %6.0f  "
                         "deliveries/s %8.0f  server RSS %6.1f MiB\n",
                         s.t, s.live, (unsigned long long)s.made, (unsigned long long)s.acked,
                         double(s.acked - p.acked) / dt, double(s.deliveries - p.deliveries) / dt,
                         double(s.rss) / 1048576.0);
        }
        m_samples.push_back(s);
    }

    Server &m_server;
    SoakPace m_pace;
    SoakCrowd m_crowd;
    std::int64_t m_durationNs;
    double m_restartAt;
    std::int64_t m_start = 0, m_drawEnd = 0, m_killAt = 0, m_restartedAt = 0;
    std::uint64_t m_unackedAtKill = 0;
    std::int64_t m_rssBeforeKill = 0;
    double m_serverCpuBeforeKill = 0;
    double m_drainSeconds = 0;
    std::vector<Sample> m_samples;
};

bool Soak::report(const std::vector<StoredOp> &stored, std::uint64_t storedCount, std::uint64_t freshHead,
                  std::uint64_t storedDuplicates, bool cleanStop, const std::string &markdownPath)
{
    const SoakCheck k = m_crowd.verify(stored, storedDuplicates, m_start);
    const std::uint64_t head = k.head, storeGaps = k.storeGaps, made = k.made, acked = k.acked;
    const std::uint64_t sends = k.sends, resends = k.resends, refused = k.refused, unacked = k.unacked;
    const std::uint64_t lost = k.lost, viewMissing = k.viewMissing, viewPhantom = k.viewPhantom;
    const std::uint64_t clientsExact = k.clientsExact, minDistinct = k.minDistinct, maxDistinct = k.maxDistinct;
    const std::uint64_t duplicates = k.duplicates, otherBytes = k.otherBytes;
    const int connects = k.connects, snapshotJoins = k.snapshotJoins, resumeFailures = k.resumeFailures;
    const std::vector<std::string> &lostSamples = k.lostSamples;
    const bool ok = k.ok();
    const std::uint64_t ackedBeforeKill = m_killAt ? m_crowd.ackedBefore(m_killAt) : 0;
    // Acked by the dying server's last bytes, read after it died.
    const std::uint64_t ackedWhileDown = m_killAt ? m_crowd.ackedBetween(m_killAt, m_restartedAt) : 0;
    const std::uint64_t ackedOnRejoin = m_crowd.ackedOnRejoin();
    const int clients = m_crowd.clients();

    const double drawSeconds = double(m_drawEnd - m_start) / 1e9;
    std::int64_t rssMin = 0, rssMax = 0;
    for (const Sample &s : m_samples) {
        if (!s.rss)
            continue;
        rssMin = rssMin ? std::min(rssMin, s.rss) : s.rss;
        rssMax = std::max(rssMax, s.rss);
    }
    auto mib = [](std::int64_t b) { return double(b) / 1048576.0; };

    char restartText[128] = "no server restart";
    if (m_killAt)
        std::snprintf(restartText, sizeof restartText, "server SIGKILLed at t=%.1f s, back after %.2f s",
                      double(m_killAt - m_start) / 1e9, double(m_restartedAt - m_killAt) / 1e9);
    std::printf("\n== soak: %zu clients, %.1f s drawing, %s\n", size_t(clients), drawSeconds, restartText);
    std::printf("ops sent (made)          %llu  (%.0f ops/s, %.2f per client a second; %llu frames, "
                "%llu of them resends after a reconnect)\n",
                (unsigned long long)made, double(made) / drawSeconds,
                double(made) / drawSeconds / double(size_t(clients)), (unsigned long long)sends,
                (unsigned long long)resends);
    std::printf("ops acknowledged         %llu  (%llu before the kill; %llu unacknowledged at the kill, of them "
                "%llu acked while the server was down, %llu by Joined.ops on rejoin; %llu never acknowledged; "
                "%llu refused)\n",
                (unsigned long long)acked, (unsigned long long)ackedBeforeKill,
                (unsigned long long)m_unackedAtKill, (unsigned long long)ackedWhileDown,
                (unsigned long long)ackedOnRejoin, (unsigned long long)unacked, (unsigned long long)refused);
    std::printf("ops stored (SQLite)      %llu  (head seq %llu, gaps %llu, duplicate (author, client_op_id) %llu; "
                "fresh client's join: head %llu; clean stop %s)\n",
                (unsigned long long)storedCount, (unsigned long long)head, (unsigned long long)storeGaps,
                (unsigned long long)storedDuplicates, (unsigned long long)freshHead, cleanStop ? "yes" : "NO");
    std::printf("delivered per client     min %llu  max %llu  (%llu of %zu clients hold exactly the stored "
                "sequence; %llu deliveries in all, %llu duplicates, %llu missing, %llu not stored, %llu with "
                "other bytes)\n",
                (unsigned long long)minDistinct, (unsigned long long)maxDistinct, (unsigned long long)clientsExact,
                size_t(clients), (unsigned long long)m_crowd.deliveries(), (unsigned long long)duplicates,
                (unsigned long long)viewMissing, (unsigned long long)viewPhantom,
                (unsigned long long)otherBytes);
    std::printf("CPU                      server %.0f s (%.0f %% of a core), generator %.0f s (%.0f %%); "
                "stored snapshot %.1f MiB\n",
                m_serverCpu, 100 * m_serverCpu / drawSeconds, selfCpuSeconds(),
                100 * selfCpuSeconds() / drawSeconds, mib(m_snapshotBytes));
    std::printf("connections              %d  (%llu dropped while live; %d snapshot rejoins; %d resume "
                "failures); drain %.1f s\n",
                connects, (unsigned long long)m_crowd.drops(), snapshotJoins, resumeFailures, m_drainSeconds);
    if (!m_crowd.errors().empty()) {
        std::printf("errors from the server  ");
        for (const auto &[code, n] : m_crowd.errors())
            std::printf(" code %d: %llu", code, (unsigned long long)n);
        std::printf("\n");
        for (const std::string &s : m_crowd.errorSamples())
            std::printf("  %s\n", s.c_str());
    }
    std::printf("OPS LOST                 %llu\n", (unsigned long long)lost);
    for (const std::string &s : lostSamples)
        std::printf("  %s\n", s.c_str());
    std::printf("server RSS over time (every 10 s; MiB):");
    for (const Sample &s : m_samples)
        std::printf(" %.0fs=%.1f", s.t, mib(s.rss));
    std::printf("\nverdict: %s\n", ok ? "PASS" : "FAIL");
    std::fflush(stdout);

    std::ostringstream json;
    json << "{\"bench\":\"soak\",\"clients\":" << size_t(clients) << ",\"draw_seconds\":" << drawSeconds
         << ",\"kill_at_s\":" << double(m_killAt - m_start) / 1e9
         << ",\"restart_s\":" << double(m_restartedAt - m_killAt) / 1e9 << ",\"made\":" << made
         << ",\"acked\":" << acked << ",\"stored\":" << storedCount << ",\"unacked\":" << unacked
         << ",\"refused\":" << refused << ",\"resent\":" << resends << ",\"lost\":" << lost
         << ",\"view_missing\":" << viewMissing << ",\"min_delivered\":" << minDistinct
         << ",\"max_delivered\":" << maxDistinct << ",\"clients_exact\":" << clientsExact
         << ",\"deliveries\":" << m_crowd.deliveries() << ",\"rss_min\":" << rssMin << ",\"rss_max\":" << rssMax
         << ",\"rss\":[";
    for (size_t i = 0; i < m_samples.size(); ++i)
        json << (i ? "," : "") << "[" << m_samples[i].t << "," << m_samples[i].rss << "]";
    json << "],\"pass\":" << (ok ? "true" : "false") << "}";
    result(json.str());

    if (!markdownPath.empty()) {
        std::ostringstream md;
        char line[2048];
        md << "\n## Soak (`scrawl-bench soak`)\n\n";
        std::snprintf(line, sizeof line,
                      "%zu clients on one wall drew and chatted for %.1f min against one `scrawl-server` "
                      "process (%s). Each client is a person: strokes of "
                      "50–150 points at %.0f Hz sent in fixed batches (the app's batching before its ack-clocked pacer), a batch at %d points or after "
                      "%g–%g ms (its own batch time), a pause of "
                      "%.1f–%.1f s between strokes, a chat line in %.0f. Clients reconnect with their "
                      "resume token, join with the last seq they saw and resend every unacknowledged op "
                      "under its client_op_id. Storage is counted in the server's SQLite file after a "
                      "clean stop.\n\n",
                      size_t(clients), drawSeconds / 60,
                      m_killAt ? (std::string("killed with SIGKILL at t = ") + std::to_string(std::llround(double(m_killAt - m_start) / 1e9))
                                  + " s and started again on the same port and data directory, listening again after "
                                  + std::to_string(std::llround(double(m_restartedAt - m_killAt) / 1e6)) + " ms").c_str()
                               : "not restarted",
                      m_pace.hz, kFixedBatchPoints, kFixedBatchDelayMs / 2.0, double(kFixedBatchDelayMs),
                      m_pace.pauseMinMs / 1000,
                      m_pace.pauseMaxMs / 1000, m_pace.chatEvery);
        md << line;
        md << "| figure | value |\n|---|---|\n";
        md << "| ops sent (made by the clients) | " << made << " (" << std::llround(double(made) / drawSeconds)
           << " ops/s in all) |\n";
        md << "| frames sent, incl. resends after the restart | " << sends << " (" << resends << " resent) |\n";
        md << "| ops acknowledged | " << acked << " (" << m_unackedAtKill << " unacknowledged at the kill: "
           << ackedWhileDown << " of them acked by the dying server's last bytes, " << ackedOnRejoin
           << " by Joined.ops on rejoin, the rest stored when resent; " << unacked << " never acknowledged; " << refused
           << " refused) |\n";
        md << "| ops stored (SQLite) | " << storedCount << " (gaps " << storeGaps
           << ", duplicate client_op_ids " << storedDuplicates << "; a fresh join's head_seq " << freshHead
           << ") |\n";
        md << "| delivered per client | min " << minDistinct << ", max " << maxDistinct << "; " << clientsExact
           << " of " << size_t(clients) << " clients hold exactly the stored sequence (" << viewMissing
           << " missing, " << duplicates << " duplicates, " << otherBytes
           << " with other bytes, the client op id aside) |\n";
        md << "| deliveries in all | " << m_crowd.deliveries() << " |\n";
        md << "| connections | " << connects << " (" << snapshotJoins << " rejoins by snapshot, "
           << resumeFailures << " resume failures) |\n";
        std::snprintf(line, sizeof line,
                      "| CPU | server %.0f s (%.0f %% of a core over the drawing time), load generator %.0f s |\n",
                      m_serverCpu, 100 * m_serverCpu / drawSeconds, selfCpuSeconds());
        md << line;
        std::snprintf(line, sizeof line, "| the wall at the end | stored snapshot %.1f MiB |\n", mib(m_snapshotBytes));
        md << line;
        md << "| **ops lost** | **" << lost << "** |\n";
        std::snprintf(line, sizeof line, "| server RSS | %.1f MiB min, %.1f MiB max; %.1f MiB just before the kill |\n",
                      mib(rssMin), mib(rssMax), mib(m_rssBeforeKill));
        md << line;
        md << "\nServer RSS (VmRSS) every minute:\n\n| t (s) |";
        std::string row = "| RSS (MiB) |";
        std::string sep = "|---|";
        for (const Sample &s : m_samples) {
            if (std::llround(s.t) % 60 > 5 && &s != &m_samples.back())
                continue;
            std::snprintf(line, sizeof line, " %.0f |", s.t);
            md << line;
            std::snprintf(line, sizeof line, " %.1f |", mib(s.rss));
            row += line;
            sep += "---|";
        }
        md << "\n" << sep << "\n" << row << "\n";
        if (!lostSamples.empty()) {
            md << "\nLost:\n\n";
            for (const std::string &s : lostSamples)
                md << "- " << s << "\n";
        }
        if (FILE *f = std::fopen(markdownPath.c_str(), "w")) {
            std::fputs(md.str().c_str(), f);
            std::fclose(f);
        }
    }
    return ok;
}

// Reads the wall's ops from the server's SQLite file: seq -> (author, client_op_id, hash).
bool readStorage(const std::string &dataDir, std::vector<StoredOp> *stored, std::uint64_t *count,
                 std::uint64_t *duplicates, std::int64_t *snapshotBytes)
{
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("soak"));
        db.setDatabaseName(QString::fromStdString(dataDir + "/scrawl.sqlite"));
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        if (db.open()) {
            QSqlQuery q(db);
            q.setForwardOnly(true);
            q.prepare(QStringLiteral("SELECT o.seq, o.author, o.client_op_id, o.body FROM ops o "
                                     "JOIN walls w ON w.id = o.wall_id WHERE w.name = ? ORDER BY o.seq"));
            q.addBindValue(QString::fromLatin1(kWall));
            if (q.exec()) {
                ok = true;
                std::set<std::pair<std::uint64_t, std::uint64_t>> keys;
                while (q.next()) {
                    const std::uint64_t seq = q.value(0).toULongLong();
                    const QByteArray body = q.value(3).toByteArray();
                    if (seq >= stored->size())
                        stored->resize(seq + 1);
                    StoredOp &s = (*stored)[seq];
                    s.author = q.value(1).toULongLong();
                    s.clientOpId = q.value(2).toULongLong();
                    s.hash = hashOp(reinterpret_cast<const std::uint8_t *>(body.constData()),
                                    size_t(body.size()));
                    ++*count;
                    if (!keys.insert({s.author, s.clientOpId}).second)
                        ++*duplicates;
                }
            } else {
                std::fprintf(stderr, "soak: cannot read the ops: %s\n", qPrintable(q.lastError().text()));
            }
            QSqlQuery snap(db);
            if (snap.exec(QStringLiteral("SELECT MAX(bytes) FROM snapshot_heads")) && snap.next())
                *snapshotBytes = snap.value(0).toLongLong();
        } else {
            std::fprintf(stderr, "soak: cannot open the database: %s\n", qPrintable(db.lastError().text()));
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("soak"));
    return ok;
}

} // namespace

int runSoak(const Args &args)
{
    const int clients = int(args.integer("clients", 200));
    const double minutes = args.number("minutes", 10);
    const double restartAt = args.number("restart-at", 0.5);
    if (clients < 1 || minutes <= 0)
        die("soak needs --clients >= 1 and --minutes > 0");
    if (const char *nice = std::getenv("SCRAWL_BENCH_NICE"))
        setpriority(PRIO_PROCESS, 0, std::atoi(nice));

    Server server;
    char tmpl[] = "/tmp/scrawl-soak-XXXXXX";
    if (!mkdtemp(tmpl))
        die("cannot make a temporary data directory");
    server.dataDir = tmpl;
    server.log = args.text("log", "/tmp/scrawl-soak-server.log");
    std::remove(server.log.c_str());
    server.startBlocking();
    std::fprintf(stderr, "soak: scrawl-server pid %d on port %u, data %s, log %s; load average %s\n",
                 server.pid, server.port, server.dataDir.c_str(), server.log.c_str(), loadAverage().c_str());

    Soak soak(server, clients, minutes, restartAt, args);
    soak.run();
    const std::uint64_t freshHead = soak.freshJoinHead();
    soak.closeAll();
    soak.m_serverCpu = soak.serverCpuSeconds();
    const bool cleanStop = server.stop();

    if (args.has("tamper-delete-seq")) {
        // Proves that the checks can fail: one stored op removed behind the clients' backs must
        // show up as lost.
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("tamper"));
        db.setDatabaseName(QString::fromStdString(server.dataDir + "/scrawl.sqlite"));
        if (db.open()) {
            QSqlQuery q(db);
            q.prepare(QStringLiteral("DELETE FROM ops WHERE seq = ?"));
            q.addBindValue(args.integer("tamper-delete-seq", 1));
            q.exec();
            std::fprintf(stderr, "soak: tampered: deleted seq %lld (%d rows)\n",
                         args.integer("tamper-delete-seq", 1), q.numRowsAffected());
        }
        db.close();
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("tamper"));
    }

    std::vector<StoredOp> stored;
    std::uint64_t count = 0, duplicates = 0;
    if (!readStorage(server.dataDir, &stored, &count, &duplicates, &soak.m_snapshotBytes))
        die("cannot read the server's database in " + server.dataDir);
    const bool ok = soak.report(stored, count, freshHead, duplicates, cleanStop, args.text("markdown", ""));
    if (ok && !args.has("keep-data"))
        std::filesystem::remove_all(server.dataDir);
    else
        std::fprintf(stderr, "soak: data kept in %s\n", server.dataDir.c_str());
    return ok ? 0 : 1;
}

} // namespace scrawl::bench
