// scrawl-bench cluster-soak: the soak against a cluster. A durable redis-server, three
// scrawl-servers with --redis and HAProxy with the shipped deploy/haproxy.cfg in front
// (bench/clusterrig.h); every person (bench/soakcrowd.h) connects through HAProxy and draws and
// chats on one wall. During the run one scrawl-server is killed with -9 (its people reconnect
// through HAProxy to the others, resume with their last seq and resend what was not
// acknowledged under the same client op ids) and started again on its port; later Redis is
// killed with -9 and started again on the same AOF and port (the servers hold what people send
// meanwhile and append it once Redis is back).
//
// The wall's log is read from Redis's stream (scrawl:{w:HEX}:log) as it grows, before snapshots
// trim it, and at the end every acknowledged op is checked against it, and every client's view
// against it: sent = acknowledged = stored = delivered to every client, nothing lost or twice,
// the same bytes everywhere. Also measured: how long the people took to be back after each
// kill, ops/s, and how long an op took from being made to being acknowledged.
// Exits 1 if any check failed.

#include "bench/child.h"
#include "bench/clusterrig.h"
#include "bench/common.h"
#include "bench/fanoutgen.h"
#include "bench/soakcrowd.h"

#include "server/redisconnection.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

namespace scrawl::bench {

namespace {

constexpr const char *kWall = "cluster-soak";
constexpr std::int64_t kSecond = 1'000'000'000LL;

// The wall's log in Redis, read as it grows. A snapshot trims the stream behind it (keeping
// cluster_log_keep_ops entries), so it is read every few seconds: what it no longer held when
// first asked for cannot be checked op by op and is counted in trimmedUnread.
class LogTail
{
public:
    LogTail(std::uint16_t redisPort, const std::string &wall)
        : m_redis(RedisAddress{QStringLiteral("127.0.0.1"), redisPort, 0}, RedisSyncConnection::Options{2000, 200})
        , m_prefix("scrawl:{w:" + QByteArray::fromStdString(wall).toHex() + "}:")
    {
    }

    // Reads the entries appended since the last read. False if Redis did not answer.
    bool read()
    {
        for (;;) {
            const RedisReply reply = m_redis.command(
                {"XRANGE", m_prefix + "log", QByteArray::number(qulonglong(m_next)) + "-0", "+", "COUNT", "2000"});
            if (reply.type != RedisReply::Type::Array)
                return false;
            for (const RedisReply &entry : reply.elements)
                take(entry);
            if (reply.elements.size() < 2000)
                return true;
        }
    }

    // The stream's length and the wall's head seq (meta's seq), 0 when Redis does not answer.
    std::uint64_t length()
    {
        return std::uint64_t(m_redis.command({"XLEN", m_prefix + "log"}).integer);
    }
    std::uint64_t head()
    {
        return m_redis.command({"HGET", m_prefix + "meta", "seq"}).text.toULongLong();
    }

    const std::vector<StoredOp> &stored() const { return m_stored; }
    std::uint64_t duplicates() const { return m_duplicates; }
    std::uint64_t trimmedUnread() const { return m_trimmedUnread; }

private:
    void take(const RedisReply &entry)
    {
        if (entry.elements.size() != 2)
            return;
        const QByteArray &id = entry.elements[0].text;
        const std::uint64_t seq = id.left(id.indexOf('-')).toULongLong();
        if (seq < m_next)
            return;
        m_trimmedUnread += seq - m_next;
        QByteArray bytes, author, clientOpId;
        const auto &fields = entry.elements[1].elements;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
            if (fields[i].text == "op")
                bytes = fields[i + 1].text;
            else if (fields[i].text == "a")
                author = fields[i + 1].text;
            else if (fields[i].text == "c")
                clientOpId = fields[i + 1].text;
        }
        // Stored without its seq (Redis numbers it); members get it with the seq set, which is
        // what the clients hashed.
        pb::Op op;
        op.ParseFromArray(bytes.constData(), int(bytes.size()));
        op.set_seq(seq);
        const std::string full = op.SerializeAsString();
        StoredOp s;
        s.author = author.toULongLong();
        s.clientOpId = clientOpId.toULongLong();
        s.hash = hashOp(reinterpret_cast<const std::uint8_t *>(full.data()), full.size());
        if (seq >= m_stored.size())
            m_stored.resize(seq + 1);
        m_stored[seq] = s;
        if (s.clientOpId && !m_keys.insert({s.author, s.clientOpId}).second)
            ++m_duplicates;
        m_next = seq + 1;
    }

    RedisSyncConnection m_redis;
    QByteArray m_prefix;
    std::uint64_t m_next = 1;
    std::vector<StoredOp> m_stored;
    std::set<std::pair<std::uint64_t, std::uint64_t>> m_keys;
    std::uint64_t m_duplicates = 0, m_trimmedUnread = 0;
};

// One kill and how the people came back from it.
struct Fault
{
    double atFraction = 0;      // of the drawing time
    double downSeconds = 0;     // until the process is started again
    std::int64_t killAt = 0, respawnAt = 0, answeringAt = 0, backAt = 0;
    std::uint64_t dropsAtKill = 0, unackedAtKill = 0;
    bool pending() const { return killAt == 0; }
    double since(std::int64_t from, std::int64_t to) const { return from && to ? double(to - from) / 1e9 : -1; }
};

double seconds(std::int64_t ns)
{
    return double(ns) / 1e9;
}

} // namespace

int runClusterSoak(const Args &args)
{
    const bool quick = args.has("quick");
    const int clients = int(args.integer("clients", quick ? 40 : 100));
    const double drawSeconds = args.number("seconds", quick ? 60 : 180);
    if (clients < 1 || drawSeconds < 10)
        die("cluster-soak needs --clients >= 1 and --seconds >= 10");
    Fault serverFault, redisFault;
    serverFault.atFraction = args.number("server-kill-at", 0.3);
    serverFault.downSeconds = args.number("server-down-seconds", 5);
    redisFault.atFraction = args.number("redis-kill-at", 0.65);
    redisFault.downSeconds = args.number("redis-down-seconds", 2);
    const int victim = int(args.integer("victim", 1)); // which server is killed (0-2)
    const std::string loadStart = loadAverage();

    ClusterRig rig("cluster-soak");
    rig.startRedis();
    rig.startServers(3);
    rig.startHaproxy();
    std::fprintf(stderr, "cluster-soak: Redis on %u, servers on %u %u %u, HAProxy on %u; data and logs in %s; "
                         "load average %s\n",
                 rig.redisPort(), rig.serverPort(0), rig.serverPort(1), rig.serverPort(2), rig.proxyPort(),
                 rig.dir().c_str(), loadStart.c_str());

    LogTail tail(rig.redisPort(), kWall);
    SoakCrowd crowd(kWall, clients, SoakPace::fromArgs(args), [&rig](int) { return rig.proxyPort(); });
    crowd.joinAll(60);
    std::fprintf(stderr, "cluster-soak: %d clients joined through HAProxy; drawing for %.0f s, server %d killed at "
                         "%.0f %% for %.0f s, Redis killed at %.0f %% for %.0f s\n",
                 clients, drawSeconds, victim + 1, 100 * serverFault.atFraction, serverFault.downSeconds,
                 100 * redisFault.atFraction, redisFault.downSeconds);

    const std::int64_t start = nowNs();
    const std::int64_t end = start + std::int64_t(drawSeconds * 1e9);
    crowd.startDrawing(start);
    std::int64_t drawEnd = 0, nextSample = start, nextRead = start;
    std::uint64_t lastAcked = 0;
    int serverOut = -1;
    // Bounded: drawing stops at `end`, strokes under way end within seconds, and a fault still
    // not recovered a minute after drawing stopped is given up on (its back time stays unset).
    const std::int64_t hardEnd = end + 60 * kSecond;
    for (;;) {
        const std::int64_t now = nowNs();
        if (now >= nextSample) {
            const double dt = seconds(now - (nextSample - 5 * kSecond));
            std::fprintf(stderr, "cluster-soak: t=%5.0f s  live %3d  made %7llu  acked %7llu  acks/s %5.0f  "
                                 "unacknowledged %5llu\n",
                         seconds(now - start), crowd.live(), (unsigned long long)crowd.made(),
                         (unsigned long long)crowd.acked(), now > start ? double(crowd.acked() - lastAcked) / dt : 0.0,
                         (unsigned long long)crowd.unacknowledged());
            lastAcked = crowd.acked();
            nextSample = now + 5 * kSecond;
        }
        // The log is read while Redis is up, every 2 s: well inside what a snapshot keeps.
        if (now >= nextRead && (redisFault.pending() || redisFault.answeringAt)) {
            tail.read();
            nextRead = now + 2 * kSecond;
        }
        if (now >= end && crowd.drawing()) {
            crowd.stopDrawing(now);
            drawEnd = now;
        }
        bool busy = false;
        const std::int64_t due = std::min({crowd.act(now, &busy), nextSample, now + 50'000'000});

        // A scrawl-server killed; started again on its port serverFault.downSeconds later.
        if (serverFault.pending() && now >= start + std::int64_t(serverFault.atFraction * drawSeconds * 1e9)) {
            serverFault.killAt = now;
            serverFault.dropsAtKill = crowd.drops();
            serverFault.unackedAtKill = crowd.unacknowledged();
            rig.killServer(victim);
            std::fprintf(stderr, "cluster-soak: t=%.1f s: SIGKILL server %d (%llu ops unacknowledged)\n",
                         seconds(now - start), victim + 1, (unsigned long long)serverFault.unackedAtKill);
        } else if (serverFault.killAt && !serverFault.respawnAt
                   && now >= serverFault.killAt + std::int64_t(serverFault.downSeconds * 1e9)) {
            serverFault.respawnAt = now;
            serverOut = rig.respawnServer(victim);
            crowd.watch(serverOut, [&] {
                if (!rig.serverListening(victim, serverOut))
                    return; // not the whole line yet, or it exited (its log says why)
                crowd.unwatch(serverOut);
                ::close(serverOut);
                serverFault.answeringAt = nowNs();
                std::fprintf(stderr, "cluster-soak: server %d listening again after %.2f s\n", victim + 1,
                             seconds(serverFault.answeringAt - serverFault.respawnAt));
            });
        }
        // Back: every person on a server again, after the killed server's people were cut off,
        // and every op made before the kill acknowledged.
        if (serverFault.killAt && !serverFault.backAt && now > serverFault.killAt + 100'000'000
            && crowd.drops() > serverFault.dropsAtKill && crowd.live() == clients
            && crowd.settledBefore(serverFault.killAt)) {
            serverFault.backAt = now;
            std::fprintf(stderr, "cluster-soak: people back %.2f s after the server kill (%llu connections lost)\n",
                         seconds(now - serverFault.killAt),
                         (unsigned long long)(crowd.drops() - serverFault.dropsAtKill));
        }

        // Redis killed; started again on the same AOF and port redisFault.downSeconds later.
        if (redisFault.pending() && now >= start + std::int64_t(redisFault.atFraction * drawSeconds * 1e9)) {
            tail.read(); // what is there now, before the outage
            redisFault.killAt = nowNs();
            redisFault.dropsAtKill = crowd.drops();
            redisFault.unackedAtKill = crowd.unacknowledged();
            rig.killRedis();
            std::fprintf(stderr, "cluster-soak: t=%.1f s: SIGKILL redis-server (%llu ops unacknowledged)\n",
                         seconds(redisFault.killAt - start), (unsigned long long)redisFault.unackedAtKill);
        } else if (redisFault.killAt && !redisFault.respawnAt
                   && now >= redisFault.killAt + std::int64_t(redisFault.downSeconds * 1e9)) {
            redisFault.respawnAt = now;
            rig.respawnRedis();
        } else if (redisFault.respawnAt && !redisFault.answeringAt && rig.redisAnswers(20)) {
            redisFault.answeringAt = nowNs();
            std::fprintf(stderr, "cluster-soak: Redis answering again %.2f s after its restart\n",
                         seconds(redisFault.answeringAt - redisFault.respawnAt));
        }
        if (redisFault.answeringAt && !redisFault.backAt && crowd.live() == clients
            && crowd.settledBefore(redisFault.answeringAt)) {
            redisFault.backAt = now;
            std::fprintf(stderr, "cluster-soak: people back %.2f s after Redis restarted (%llu connections lost "
                                 "meanwhile)\n",
                         seconds(now - redisFault.respawnAt),
                         (unsigned long long)(crowd.drops() - redisFault.dropsAtKill));
        }

        const bool faultsDone = (serverFault.backAt || serverFault.atFraction >= 1)
                             && (redisFault.backAt || redisFault.atFraction >= 1);
        if ((!crowd.drawing() && !busy && faultsDone) || now >= hardEnd)
            break;
        crowd.pump(std::min<std::int64_t>(due - nowNs(), 20'000'000));
    }
    if (!drawEnd)
        drawEnd = nowNs();
    const double drainSeconds = crowd.drain(120);
    tail.read();
    const std::uint64_t xlen = tail.length(), head = tail.head();
    const std::uint64_t freshHead = crowd.freshJoinHead(rig.proxyPort());
    crowd.closeAll();
    const bool cleanStop = rig.stopServers();
    const std::string loadEnd = loadAverage();
    // Connections lost to the server kill: until the Redis kill (or the end, without one).
    const std::uint64_t serverDrops = (redisFault.killAt ? redisFault.dropsAtKill : crowd.drops())
                                    - serverFault.dropsAtKill;
    const std::uint64_t redisDrops = redisFault.killAt ? crowd.drops() - redisFault.dropsAtKill : 0;
    // What HAProxy made of it: servers it took out (by its health check), and moments it had
    // none left to send anyone to.
    const int proxyDowns = rig.haproxyLogCount("is DOWN");
    const int proxyEmpty = rig.haproxyLogCount("has no server available");

    const SoakCheck k = crowd.verify(tail.stored(), tail.duplicates(), start);
    // Ack latency: from the moment an op was made (sent, when its person was connected) to its
    // acknowledgement, over the whole run and over the time no fault was being recovered from.
    std::vector<double> all = crowd.ackLatenciesMs(start, drawEnd);
    std::vector<double> steady = crowd.ackLatenciesMs(start, serverFault.killAt ? serverFault.killAt : drawEnd);
    const double ackP50 = percentile(all, 50), ackP99 = percentile(all, 99);
    const double steadyP50 = percentile(steady, 50), steadyP99 = percentile(steady, 99);
    const double drawn = seconds(drawEnd - start);
    const std::uint64_t ackedWhileRedisDown =
        redisFault.killAt ? crowd.ackedBetween(redisFault.killAt + 100'000'000, redisFault.answeringAt) : 0;
    const std::uint64_t duplicated = k.storedDuplicates + k.storedTwice + k.duplicates + k.doubleAcks;
    // (XLEN is what the stream holds now, after snapshots trimmed it: the tail, which read every
    // entry before it was trimmed, is what shows the log whole.)
    const bool ok = k.ok() && tail.trimmedUnread() == 0 && serverFault.backAt && redisFault.backAt && cleanStop
                 && head == k.head && freshHead == k.head;

    std::printf("\n== cluster-soak: %d clients through HAProxy to 3 scrawl-servers and one Redis, %.1f s drawing\n",
                clients, drawn);
    std::printf("ops sent (made)          %llu  (%.0f ops/s; %llu frames, %llu of them resends)\n",
                (unsigned long long)k.made, double(k.made) / drawn, (unsigned long long)k.sends,
                (unsigned long long)k.resends);
    std::printf("ops acknowledged         %llu  (%llu never acknowledged, %llu refused; ack p50 %.1f ms, p99 %.1f ms; "
                "before the first kill p50 %.1f ms, p99 %.1f ms)\n",
                (unsigned long long)k.acked, (unsigned long long)k.unacked, (unsigned long long)k.refused, ackP50,
                ackP99, steadyP50, steadyP99);
    std::printf("ops stored (Redis log)   %llu  (head seq %llu, XLEN %llu, gaps %llu, read after a trim %llu, "
                "duplicate (author, client op id) %llu, one person's op under two identities %llu; a fresh join's "
                "head %llu; servers stopped cleanly %s)\n",
                (unsigned long long)k.stored, (unsigned long long)head, (unsigned long long)xlen,
                (unsigned long long)k.storeGaps, (unsigned long long)tail.trimmedUnread(),
                (unsigned long long)k.storedDuplicates, (unsigned long long)k.storedTwice, (unsigned long long)freshHead,
                cleanStop ? "yes" : "NO");
    std::printf("delivered per client     min %llu  max %llu  (%llu of %d clients hold exactly the stored sequence; "
                "%llu missing, %llu duplicates, %llu with other bytes)\n",
                (unsigned long long)k.minDistinct, (unsigned long long)k.maxDistinct,
                (unsigned long long)k.clientsExact, clients, (unsigned long long)k.viewMissing,
                (unsigned long long)k.duplicates, (unsigned long long)k.otherBytes);
    std::printf("server %d killed          at t=%.1f s (%llu unacknowledged); listening again %.2f s after its "
                "restart; people back after %.2f s (%llu connections lost)\n",
                victim + 1, seconds(serverFault.killAt - start), (unsigned long long)serverFault.unackedAtKill,
                serverFault.since(serverFault.respawnAt, serverFault.answeringAt),
                serverFault.since(serverFault.killAt, serverFault.backAt),
                (unsigned long long)serverDrops);
    std::printf("Redis killed             at t=%.1f s (%llu unacknowledged), restarted after %.1f s, answering "
                "%.2f s later; people back %.2f s after the restart (%llu acknowledged while it was down, %llu "
                "connections lost)\n",
                seconds(redisFault.killAt - start), (unsigned long long)redisFault.unackedAtKill,
                redisFault.since(redisFault.killAt, redisFault.respawnAt),
                redisFault.since(redisFault.respawnAt, redisFault.answeringAt),
                redisFault.since(redisFault.respawnAt, redisFault.backAt), (unsigned long long)ackedWhileRedisDown,
                (unsigned long long)redisDrops);
    std::printf("HAProxy                  took a server out %d times, had none left %d times\n", proxyDowns,
                proxyEmpty);
    std::printf("connections              %d  (%d snapshot rejoins, %d resume failures); drain %.1f s; load "
                "average %s -> %s\n",
                k.connects, k.snapshotJoins, k.resumeFailures, drainSeconds, loadStart.c_str(), loadEnd.c_str());
    if (!crowd.errors().empty()) {
        std::printf("errors from the servers ");
        for (const auto &[code, n] : crowd.errors())
            std::printf(" code %d: %llu", code, (unsigned long long)n);
        std::printf("\n");
        for (const std::string &s : crowd.errorSamples())
            std::printf("  %s\n", s.c_str());
    }
    std::printf("OPS LOST                 %llu   DUPLICATED %llu\n", (unsigned long long)k.lost,
                (unsigned long long)duplicated);
    for (const std::string &s : k.lostSamples)
        std::printf("  %s\n", s.c_str());
    std::printf("verdict: %s\n", ok ? "PASS" : "FAIL");
    std::fflush(stdout);

    std::ostringstream json;
    json << "{\"bench\":\"cluster_soak\",\"clients\":" << clients << ",\"servers\":3,\"draw_seconds\":" << drawn
         << ",\"made\":" << k.made << ",\"acked\":" << k.acked << ",\"stored\":" << k.stored
         << ",\"xlen\":" << xlen << ",\"head\":" << head << ",\"fresh_head\":" << freshHead
         << ",\"trimmed_unread\":" << tail.trimmedUnread() << ",\"min_delivered\":" << k.minDistinct
         << ",\"max_delivered\":" << k.maxDistinct << ",\"clients_exact\":" << k.clientsExact
         << ",\"lost\":" << k.lost << ",\"duplicated\":" << duplicated << ",\"other_bytes\":" << k.otherBytes
         << ",\"view_missing\":" << k.viewMissing << ",\"unacked\":" << k.unacked << ",\"refused\":" << k.refused
         << ",\"resent\":" << k.resends << ",\"ops_per_s\":" << double(k.acked) / drawn
         << ",\"ack_p50_ms\":" << ackP50 << ",\"ack_p99_ms\":" << ackP99
         << ",\"steady_ack_p50_ms\":" << steadyP50 << ",\"steady_ack_p99_ms\":" << steadyP99
         << ",\"server_kill_at_s\":" << seconds(serverFault.killAt - start)
         << ",\"server_unacked_at_kill\":" << serverFault.unackedAtKill
         << ",\"server_down_s\":" << serverFault.since(serverFault.killAt, serverFault.respawnAt)
         << ",\"server_back_s\":" << serverFault.since(serverFault.killAt, serverFault.backAt)
         << ",\"server_connections_lost\":" << serverDrops
         << ",\"redis_kill_at_s\":" << seconds(redisFault.killAt - start)
         << ",\"redis_unacked_at_kill\":" << redisFault.unackedAtKill
         << ",\"redis_down_s\":" << redisFault.since(redisFault.killAt, redisFault.respawnAt)
         << ",\"redis_answering_s\":" << redisFault.since(redisFault.respawnAt, redisFault.answeringAt)
         << ",\"redis_back_s\":" << redisFault.since(redisFault.respawnAt, redisFault.backAt)
         << ",\"redis_connections_lost\":" << redisDrops
         << ",\"acked_while_redis_down\":" << ackedWhileRedisDown << ",\"haproxy_downs\":" << proxyDowns
         << ",\"haproxy_no_server\":" << proxyEmpty << ",\"connections\":" << k.connects
         << ",\"stored_twice\":" << k.storedTwice << ",\"snapshot_joins\":" << k.snapshotJoins << ",\"resume_failures\":" << k.resumeFailures
         << ",\"loadavg_start\":" << jsonString(loadStart) << ",\"loadavg_end\":" << jsonString(loadEnd)
         << ",\"pass\":" << (ok ? "true" : "false") << "}";
    result(json.str());
    if (args.has("keep-logs"))
        rig.keepDir();
    if (!ok) {
        rig.keepDir();
        std::fprintf(stderr, "cluster-soak: FAILED; logs and data kept in %s\n", rig.dir().c_str());
    }
    return ok ? 0 : 1;
}

} // namespace scrawl::bench
