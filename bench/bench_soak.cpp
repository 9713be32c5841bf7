// scrawl-bench soak: many people drawing and chatting on one wall for minutes against one real
// scrawl-server process, which is killed (SIGKILL) in the middle and started again on the same
// port and data directory. Clients reconnect with their resume token, join with the last
// sequence number they saw, and resend every op not yet acknowledged under its original
// client_op_id, so the server must apply each op exactly once.
//
// At the end the server is stopped and its SQLite file is read (QtSql) to check, op by op:
// - every acknowledged op is stored, at the seq its ack named, with the same bytes;
// - no (author, client_op_id) is stored twice;
// - every client ends with exactly the stored sequence (each seq once, same bytes);
// - every op a client made was acknowledged.
// Anything acknowledged and missing from storage or from a client's view counts as lost; the
// command exits 1 if anything was lost (or any other integrity check failed).
//
// One thread on epoll drives every client over RawWs (like the fan-out bench); the server's
// memory is sampled from /proc/PID/status every 10 s.

#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/limits.h"
#include "core/protocol.h"

#include <QPointF>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

namespace scrawl::bench {

namespace {

constexpr const char *kWall = "soak";
constexpr std::int64_t kSecond = 1'000'000'000LL;

std::uint64_t hashBytes(const void *data, size_t len)
{
    // Never 0, so that 0 can mean "not seen".
    return std::hash<std::string_view>{}(std::string_view(static_cast<const char *>(data), len)) | 1;
}

bool readVarint(const std::uint8_t *p, size_t len, size_t &i, std::uint64_t *v)
{
    *v = 0;
    for (int shift = 0; i < len && shift < 64; shift += 7) {
        const std::uint8_t b = p[i++];
        *v |= std::uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

// The hash of a serialised Op without its client_op_id (field 2): the server sends a stroke's
// points and end to everyone but their author without it, and stores it with it.
std::uint64_t hashOp(const std::uint8_t *p, size_t len)
{
    thread_local std::string rest;
    rest.clear();
    size_t i = 0;
    while (i < len) {
        const size_t start = i;
        std::uint64_t tag, v;
        if (!readVarint(p, len, i, &tag))
            break;
        switch (tag & 7) {
        case 0:
            if (!readVarint(p, len, i, &v))
                i = len;
            break;
        case 2:
            if (!readVarint(p, len, i, &v))
                i = len;
            else
                i = std::min(len, i + size_t(v));
            break;
        case 1: i = std::min(len, i + 8); break;
        case 5: i = std::min(len, i + 4); break;
        default: i = len; break;
        }
        if (tag != ((2 << 3) | 0))
            rest.append(reinterpret_cast<const char *>(p) + start, i - start);
    }
    return hashBytes(rest.data(), rest.size());
}

// The header fields of a serialised Op (seq 1, client_op_id 2, author 3) without parsing it all.
struct OpHead
{
    std::uint64_t seq = 0, clientOpId = 0, author = 0;
};

bool scanOpHead(const std::uint8_t *p, size_t len, OpHead *head)
{
    size_t i = 0;
    int found = 0;
    while (i < len && found < 3) {
        std::uint64_t tag, v;
        if (!readVarint(p, len, i, &tag))
            return false;
        switch (tag & 7) {
        case 0:
            if (!readVarint(p, len, i, &v))
                return false;
            if ((tag >> 3) == 1)
                head->seq = v, ++found;
            else if ((tag >> 3) == 2)
                head->clientOpId = v, ++found;
            else if ((tag >> 3) == 3)
                head->author = v, ++found;
            break;
        case 2:
            if (!readVarint(p, len, i, &v))
                return false;
            i += size_t(v);
            break;
        case 1: i += 8; break;
        case 5: i += 4; break;
        default: return false;
        }
    }
    return head->seq > 0;
}

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
        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0)
            die("pipe failed");
        const pid_t child = fork();
        if (child < 0)
            die("fork failed");
        if (child == 0) {
            dup2(out[1], 1);
            if (FILE *f = std::fopen(log.c_str(), "a"))
                dup2(fileno(f), 2);
            setenv("QT_LOGGING_RULES", "scrawl.*.info=false", 1);
            const std::string bin = binDir() + "/scrawl-server";
            const std::string portText = std::to_string(port);
            // Every soak client comes from 127.0.0.1: lift the per-address limits.
            execl(bin.c_str(), bin.c_str(), "--port", portText.c_str(), "--host", "127.0.0.1",
                  "--data", dataDir.c_str(), "--max-connections-per-address", "1000000",
                  "--max-connects-per-address", "1000000", "--max-joins-per-address", "1000000",
                  static_cast<char *>(nullptr));
            std::fprintf(stderr, "cannot run %s: %s\n", bin.c_str(), strerror(errno));
            _exit(127);
        }
        ::close(out[1]);
        pid = child;
        outFd = out[0];
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
        const std::int64_t deadline = nowNs() + 20 * kSecond;
        for (;;) {
            pollfd pfd{outFd, POLLIN, 0};
            const int left = int((deadline - nowNs()) / 1000000);
            if (left <= 0 || poll(&pfd, 1, left) <= 0)
                die("scrawl-server did not say it was listening within 20 s; see " + log);
            if (readListening())
                return;
        }
    }

    void killHard()
    {
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        pid = -1;
    }

    // SIGTERM: the server flushes storage and exits.
    bool stop()
    {
        if (pid <= 0)
            return true;
        kill(pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 400; ++i) { // 20 s
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(status) && WEXITSTATUS(status) == 0;
            }
            usleep(50000);
        }
        killHard();
        return false;
    }

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

// --- one simulated person ---

struct OutOp
{
    std::uint64_t id = 0;
    std::string bytes; // the serialised Envelope
    bool done = false; // acknowledged or refused
    bool sent = false; // written on some connection already
};

struct Acked
{
    std::uint64_t clientOpId = 0;
    std::uint64_t seq = 0;
    std::uint64_t hash = 0;
    std::int64_t atNs = 0;
};

enum class State { Down, Greeting, Joining, Live };

struct Client
{
    int index = 0;
    std::unique_ptr<RawWs> ws;
    State state = State::Down;
    bool wantOut = false;
    std::string token;
    std::uint64_t userId = 0;
    std::int64_t reconnectAt = 0;
    int backoffMs = 500;

    // Outbox: every op made and not yet acknowledged, in client_op_id order (ids contiguous).
    std::deque<OutOp> outbox;
    std::uint64_t nextOpId = 0;
    std::uint64_t nextToSend = 1; // first client_op_id not yet written on this connection
    std::uint32_t strokeId = 0;

    // Drawing.
    std::mt19937_64 rng;
    std::unique_ptr<StrokeGen> gen;
    Batching batching;
    std::uint32_t color = 0;
    std::vector<TimedOp> stroke;
    size_t strokePos = 0;
    std::int64_t strokeStart = 0;
    std::int64_t nextDue = 0;

    // What this client has seen.
    std::vector<std::uint64_t> seen; // bitmap by seq
    std::uint64_t maxSeq = 0;
    std::uint64_t distinct = 0;
    std::uint64_t duplicates = 0;
    std::vector<Acked> acked;

    // Counters.
    std::uint64_t made = 0, sends = 0, resends = 0, refused = 0;
    int connects = 0, snapshotJoins = 0, resumeFailures = 0;

    bool has(std::uint64_t seq) const
    {
        return seq / 64 < seen.size() && (seen[seq / 64] >> (seq % 64)) & 1;
    }
};

struct Sample
{
    double t = 0;
    std::int64_t rss = 0;
    std::uint64_t made = 0, acked = 0, deliveries = 0;
    int live = 0;
};

struct StoredOp
{
    std::uint64_t author = 0, clientOpId = 0, hash = 0;
};

class Soak
{
public:
    Soak(Server &server, int clients, double minutes, double restartAt, const Args &args)
        : m_server(server)
        , m_durationNs(std::int64_t(minutes * 60 * kSecond))
        , m_restartAt(restartAt)
        , m_pauseMin(args.number("pause-min-ms", 1000))
        , m_pauseMax(args.number("pause-max-ms", 6000))
        , m_chatEvery(args.number("chat-every", 10))
        , m_hz(args.number("hz", 120))
    {
        m_epoll = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < clients; ++i) {
            auto c = std::make_unique<Client>();
            c->index = i;
            c->rng.seed(std::uint64_t(1000 + i));
            c->gen = std::make_unique<StrokeGen>(std::uint64_t(77 + i));
            c->batching.delayMs = kFixedBatchDelayMs * (0.5 + 0.5 * uniform(*c));
            c->color = std::uint32_t(c->rng() & 0xffffff);
            m_clients.push_back(std::move(c));
        }
    }

    int run()
    {
        // Everyone joins before anyone draws, so that each first Joined is the empty wall.
        for (auto &c : m_clients) {
            if (!connect(*c))
                die("client " + std::to_string(c->index) + " could not connect");
            pump(0);
        }
        const std::int64_t joinDeadline = nowNs() + 60 * kSecond;
        while (liveCount() < int(m_clients.size()) && nowNs() < joinDeadline)
            pump(10'000'000);
        if (liveCount() < int(m_clients.size()))
            die("not every client joined within 60 s");
        std::fprintf(stderr, "soak: %zu clients joined; drawing for %.1f min, restart at %.0f %%\n",
                     m_clients.size(), double(m_durationNs) / 60e9, 100 * m_restartAt);

        m_start = nowNs();
        m_drawing = true;
        for (auto &c : m_clients)
            c->nextDue = m_start + std::int64_t(uniform(*c) * m_pauseMax * 1e6);
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
            if (now >= end && m_drawing) {
                // Stop starting strokes; the ones under way are finished (pen up).
                m_drawing = false;
                m_drawEnd = now;
            }
            std::int64_t due = nextSample;
            bool busy = false;
            for (auto &c : m_clients) {
                tick(*c, now);
                if (c->state == State::Down && now >= c->reconnectAt)
                    connect(*c);
                if (c->nextDue > 0)
                    due = std::min(due, c->nextDue), busy = true;
                if (c->state == State::Down)
                    due = std::min(due, c->reconnectAt);
            }
            // After the ticks: ops just written are in flight, some read by the server and not
            // yet committed, when the kill comes.
            if (!restarted && now >= restartNs) {
                restart(now);
                restarted = true;
            }
            if (!m_drawing && !busy)
                break;
            pump(std::min<std::int64_t>(due - nowNs(), 20'000'000));
        }
        sample(nowNs());
        return drain();
    }

    // After drawing: wait until every client is connected, has an empty outbox and has seen the
    // highest seq anyone saw. Bounded.
    int drain()
    {
        const std::int64_t start = nowNs();
        const std::int64_t cap = start + 120 * kSecond;
        while (nowNs() < cap) {
            bool settled = true;
            for (auto &c : m_clients) {
                if (c->state == State::Down && nowNs() >= c->reconnectAt)
                    connect(*c);
                if (c->state != State::Live || !c->outbox.empty() || c->maxSeq < m_maxSeq)
                    settled = false;
            }
            if (settled)
                break;
            pump(10'000'000);
        }
        m_drainSeconds = double(nowNs() - start) / 1e9;
        // A quiet second more: anything still in flight would show up as a duplicate or phantom.
        const std::int64_t quiet = nowNs() + kSecond;
        while (nowNs() < quiet)
            pump(10'000'000);
        return 0;
    }

    // A fresh client's view of the head: Joined.head_seq.
    std::uint64_t freshJoinHead()
    {
        RawWs ws;
        std::string error;
        if (!ws.connect(m_server.port, "/", &error))
            return 0;
        pb::Envelope joined;
        if (!scrawlHello(ws, "fresh") || !scrawlJoin(ws, kWall, &joined))
            return 0;
        return joined.joined().head_seq();
    }

    void closeAll()
    {
        for (auto &c : m_clients)
            c->ws.reset();
    }

    bool report(const std::vector<StoredOp> &stored, std::uint64_t storedCount, std::uint64_t freshHead,
                std::uint64_t storedDuplicates, bool cleanStop, const std::string &markdownPath);

private:
    double uniform(Client &c) { return std::uniform_real_distribution<double>(0, 1)(c.rng); }

    int liveCount() const
    {
        int n = 0;
        for (const auto &c : m_clients)
            n += c->state == State::Live;
        return n;
    }

    void restart(std::int64_t now)
    {
        std::uint64_t unacked = 0;
        for (auto &c : m_clients)
            unacked += c->outbox.size();
        m_unackedAtKill = unacked;
        m_rssBeforeKill = m_server.rssBytes();
        m_serverCpuBeforeKill = m_server.cpuSeconds();
        std::fprintf(stderr, "soak: t=%.1f s: SIGKILL the server (pid %d, %llu ops unacknowledged)\n",
                     double(now - m_start) / 1e9, m_server.pid, (unsigned long long)unacked);
        m_server.killHard();
        m_killAt = now;
        m_server.spawn();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = nullptr; // the server's stdout
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_server.outFd, &ev);
    }

    void sample(std::int64_t now)
    {
        Sample s;
        s.t = double(now - m_start) / 1e9;
        s.rss = m_server.rssBytes();
        s.made = m_made;
        s.acked = m_ackedTotal;
        s.deliveries = m_deliveries;
        s.live = liveCount();
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

    // The person's next action, when it is due: a stroke batch, a chat line, or a pause.
    void tick(Client &c, std::int64_t now)
    {
        while (c.nextDue > 0 && c.nextDue <= now) {
            if (c.strokePos < c.stroke.size()) {
                TimedOp &t = c.stroke[c.strokePos++];
                make(c, std::move(t.op));
                if (c.strokePos < c.stroke.size()) {
                    c.nextDue = c.strokeStart + std::int64_t(c.stroke[c.strokePos].ms * 1e6);
                } else {
                    c.stroke.clear();
                    c.strokePos = 0;
                    c.nextDue = m_drawing ? now + pause(c) : 0;
                }
                continue;
            }
            if (!m_drawing) {
                c.nextDue = 0;
                break;
            }
            if (uniform(c) * m_chatEvery < 1) {
                pb::Op op;
                op.mutable_chat()->set_text("soak line " + std::to_string(c.nextOpId + 1) + " from person "
                                            + std::to_string(c.index) + " \xe2\x9c\x8f");
                make(c, std::move(op));
                c.nextDue = now + pause(c);
                continue;
            }
            const int points = 50 + int(uniform(c) * 101);
            c.stroke = appStroke(c.gen->next(points, m_hz), ++c.strokeId, c.color, c.batching);
            c.strokePos = 0;
            c.strokeStart = now;
        }
    }

    std::int64_t pause(Client &c)
    {
        return std::int64_t((m_pauseMin + (m_pauseMax - m_pauseMin) * uniform(c)) * 1e6);
    }

    // A new op: numbered, kept in the outbox until acknowledged, sent now when connected.
    void make(Client &c, pb::Op op)
    {
        op.set_client_op_id(++c.nextOpId);
        pb::Envelope env;
        *env.mutable_op() = std::move(op);
        OutOp out;
        out.id = c.nextOpId;
        out.bytes = env.SerializeAsString();
        c.outbox.push_back(std::move(out));
        ++c.made;
        ++m_made;
        if (c.state == State::Live)
            sendPending(c);
    }

    void sendPending(Client &c)
    {
        if (c.outbox.empty()) {
            c.nextToSend = c.nextOpId + 1;
            return;
        }
        const std::uint64_t first = c.outbox.front().id;
        c.nextToSend = std::max(c.nextToSend, first);
        for (std::uint64_t id = c.nextToSend; id <= c.nextOpId; ++id) {
            OutOp &o = c.outbox[size_t(id - first)];
            if (o.done)
                continue;
            c.ws->queueFrame(kBinary, o.bytes.data(), o.bytes.size());
            ++c.sends;
            c.resends += o.sent;
            o.sent = true;
        }
        c.nextToSend = c.nextOpId + 1;
        flush(c);
    }

    bool connect(Client &c)
    {
        c.ws = std::make_unique<RawWs>();
        std::string error;
        if (!c.ws->connect(m_server.port, "/", &error)) {
            c.ws.reset();
            scheduleReconnect(c);
            return false;
        }
        ++c.connects;
        c.ws->setNonBlocking();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &c;
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.ws->fd(), &ev);
        c.wantOut = false;
        pb::Envelope env;
        auto *h = env.mutable_hello();
        h->set_protocol_version(kProtocolVersion);
        h->set_app_version("bench-soak");
        h->set_display_name("person " + std::to_string(c.index));
        h->set_color(c.color);
        h->set_resume_token(c.token);
        const std::string bytes = env.SerializeAsString();
        c.ws->queueFrame(kBinary, bytes.data(), bytes.size());
        c.state = State::Greeting;
        flush(c);
        return c.ws != nullptr;
    }

    void scheduleReconnect(Client &c)
    {
        // As the app does: 0.5 s doubling to 10 s, with jitter so that 200 clients do not
        // arrive in one burst.
        c.reconnectAt = nowNs() + std::int64_t(c.backoffMs * (0.5 + uniform(c)) * 1e6);
        c.backoffMs = std::min(10000, c.backoffMs * 2);
    }

    void disconnect(Client &c)
    {
        if (c.ws)
            c.ws->close(); // closing the fd takes it out of the epoll set
        c.ws.reset();
        if (c.state == State::Live)
            ++m_drops;
        c.state = State::Down;
        scheduleReconnect(c);
    }

    void flush(Client &c)
    {
        if (!c.ws)
            return;
        if (!c.ws->flush()) {
            disconnect(c);
            return;
        }
        const bool want = c.ws->pendingWrite() > 0;
        if (want != c.wantOut) {
            c.wantOut = want;
            epoll_event ev{};
            ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
            ev.data.ptr = &c;
            epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.ws->fd(), &ev);
        }
    }

    void pump(std::int64_t timeoutNs)
    {
        timeoutNs = std::max<std::int64_t>(0, timeoutNs);
        timespec ts{time_t(timeoutNs / kSecond), long(timeoutNs % kSecond)};
        epoll_event events[256];
        const int n = epoll_pwait2(m_epoll, events, 256, &ts, nullptr);
        for (int i = 0; i < n; ++i) {
            auto *c = static_cast<Client *>(events[i].data.ptr);
            if (!c) {
                if (m_server.readListening()) {
                    m_restartedAt = nowNs();
                    std::fprintf(stderr, "soak: server back after %.2f s (pid %d, port %u)\n",
                                 double(m_restartedAt - m_killAt) / 1e9, m_server.pid, m_server.port);
                }
                continue;
            }
            if (!c->ws)
                continue; // disconnected earlier in this batch
            if (events[i].events & EPOLLOUT)
                flush(*c);
            if (!c->ws)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                bool closed = false;
                const bool ok = c->ws->readAvailable([&](int opcode, const std::uint8_t *data, size_t len) {
                    if (closed)
                        return;
                    if (opcode == kClose) {
                        closed = true;
                        return;
                    }
                    if (opcode == kBinary)
                        onMessage(*c, data, len);
                });
                if (!c->ws)
                    continue;
                if (!ok || closed) {
                    disconnect(*c);
                    continue;
                }
                if (c->ws->pendingWrite() > 0)
                    flush(*c);
            }
        }
    }

    void onMessage(Client &c, const std::uint8_t *data, size_t len)
    {
        if (len > 1 && data[0] == ((6 << 3) | 2)) { // Envelope.op: the hot path, not parsed
            size_t i = 1;
            std::uint64_t opLen;
            if (!readVarint(data, len, i, &opLen) || i + opLen > len)
                die("unparsable op from the server");
            deliver(c, data + i, size_t(opLen));
            return;
        }
        pb::Envelope env;
        if (!env.ParseFromArray(data, int(len)))
            die("unparsable message from the server");
        switch (env.msg_case()) {
        case pb::Envelope::kWelcome: {
            const pb::Welcome &w = env.welcome();
            if (!c.token.empty() && (!w.resumed() || w.user_id() != c.userId)) {
                // A new identity: the server could no longer match resent client_op_ids.
                ++c.resumeFailures;
                std::fprintf(stderr, "soak: client %d was not resumed (user %llu -> %llu)\n", c.index,
                             (unsigned long long)c.userId, (unsigned long long)w.user_id());
            }
            c.userId = w.user_id();
            c.token = w.resume_token();
            pb::Envelope join;
            join.mutable_join()->set_wall(kWall);
            join.mutable_join()->set_last_seq(c.maxSeq);
            const std::string bytes = join.SerializeAsString();
            c.ws->queueFrame(kBinary, bytes.data(), bytes.size());
            c.state = State::Joining;
            flush(c);
            break;
        }
        case pb::Envelope::kJoined: {
            const pb::Joined &j = env.joined();
            if (j.has_snapshot()) {
                if (j.snapshot().seq() > 0 || c.maxSeq > 0) {
                    // Its ops up to snapshot.seq cannot be checked one by one.
                    ++c.snapshotJoins;
                    std::fprintf(stderr, "soak: client %d got a snapshot at seq %llu (last seen %llu)\n",
                                 c.index, (unsigned long long)j.snapshot().seq(),
                                 (unsigned long long)c.maxSeq);
                }
            }
            for (const pb::Op &op : j.ops()) {
                const std::string bytes = op.SerializeAsString();
                deliver(c, reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size(), true);
            }
            c.state = State::Live;
            c.backoffMs = 500;
            c.nextToSend = 0; // resend everything not acknowledged, in order
            sendPending(c);
            break;
        }
        case pb::Envelope::kError: {
            const pb::Error &e = env.error();
            ++m_errors[int(e.code())];
            if (m_errorSamples.size() < 20)
                m_errorSamples.push_back("client " + std::to_string(c.index) + ": code "
                                         + std::to_string(int(e.code())) + " op "
                                         + std::to_string(e.client_op_id()) + ": " + e.message());
            if (e.client_op_id() > 0 && !c.outbox.empty() && e.code() != pb::STORAGE_UNAVAILABLE
                && e.code() != pb::LIMIT_EXCEEDED) {
                const std::uint64_t first = c.outbox.front().id;
                if (e.client_op_id() >= first && e.client_op_id() < first + c.outbox.size()) {
                    c.outbox[size_t(e.client_op_id() - first)].done = true;
                    ++c.refused;
                    popDone(c);
                }
            }
            break;
        }
        default:
            break; // presence, cursors
        }
    }

    void popDone(Client &c)
    {
        while (!c.outbox.empty() && c.outbox.front().done)
            c.outbox.pop_front();
    }

    // One op as this client received it: a broadcast, an ack of its own, or part of Joined.
    void deliver(Client &c, const std::uint8_t *op, size_t len, bool fromJoined = false)
    {
        OpHead head;
        if (!scanOpHead(op, len, &head))
            die("an op without seq from the server");
        const std::uint64_t hash = hashOp(op, len);
        ++m_deliveries;
        if (head.seq >= m_hashBySeq.size())
            m_hashBySeq.resize(std::max<size_t>(head.seq + 1, m_hashBySeq.size() * 2), 0);
        std::uint64_t &known = m_hashBySeq[head.seq];
        if (!known)
            known = hash;
        else if (known != hash && m_contentMismatches++ < 10)
            std::fprintf(stderr, "soak: client %d got other bytes for seq %llu than another client\n",
                         c.index, (unsigned long long)head.seq);
        m_maxSeq = std::max(m_maxSeq, head.seq);
        if (head.seq / 64 >= c.seen.size())
            c.seen.resize(std::max<size_t>(head.seq / 64 + 1, c.seen.size() * 2), 0);
        std::uint64_t &word = c.seen[head.seq / 64];
        const std::uint64_t bit = 1ULL << (head.seq % 64);
        if (word & bit) {
            ++c.duplicates;
        } else {
            word |= bit;
            ++c.distinct;
        }
        c.maxSeq = std::max(c.maxSeq, head.seq);
        if (head.author != c.userId || c.outbox.empty())
            return;
        const std::uint64_t first = c.outbox.front().id;
        if (head.clientOpId < first || head.clientOpId >= first + c.outbox.size())
            return; // an ack already taken (a resend answered with the stored op)
        OutOp &o = c.outbox[size_t(head.clientOpId - first)];
        if (o.done)
            return;
        o.done = true;
        c.acked.push_back({head.clientOpId, head.seq, hash, nowNs()});
        ++m_ackedTotal;
        if (fromJoined)
            ++m_ackedOnRejoin; // stored before the kill, its broadcast lost with the process
        else if (m_killAt && !m_restartedAt)
            ++m_ackedWhileDown; // sent by the old process, read after it died
        popDone(c);
    }

    Server &m_server;
    std::int64_t m_durationNs;
    double m_restartAt;
    double m_pauseMin, m_pauseMax, m_chatEvery, m_hz;
    int m_epoll = -1;
    std::vector<std::unique_ptr<Client>> m_clients;
    bool m_drawing = false;
    std::int64_t m_start = 0, m_drawEnd = 0, m_killAt = 0, m_restartedAt = 0;
    std::uint64_t m_made = 0, m_ackedTotal = 0, m_deliveries = 0, m_maxSeq = 0;
    std::uint64_t m_ackedOnRejoin = 0, m_ackedWhileDown = 0;
    std::uint64_t m_unackedAtKill = 0, m_drops = 0, m_contentMismatches = 0;
    std::int64_t m_rssBeforeKill = 0;
    double m_serverCpuBeforeKill = 0;

public:
    double serverCpuSeconds() const { return m_serverCpuBeforeKill + m_server.cpuSeconds(); }
    double m_serverCpu = 0;    // both processes, set before the final stop
    std::int64_t m_snapshotBytes = 0; // the stored snapshot of the wall, at the end

private:
    double m_drainSeconds = 0;
    std::vector<std::uint64_t> m_hashBySeq;
    std::map<int, std::uint64_t> m_errors;
    std::vector<std::string> m_errorSamples;
    std::vector<Sample> m_samples;
};

bool Soak::report(const std::vector<StoredOp> &stored, std::uint64_t storedCount, std::uint64_t freshHead,
                  std::uint64_t storedDuplicates, bool cleanStop, const std::string &markdownPath)
{
    const std::uint64_t head = stored.empty() ? 0 : stored.size() - 1; // stored[seq], seq from 1
    std::uint64_t storeGaps = 0;
    for (std::uint64_t s = 1; s <= head; ++s)
        storeGaps += stored[s].hash == 0;

    // Acknowledged ops: stored at the seq the ack named, with the same bytes, by the same author.
    std::uint64_t made = 0, acked = 0, sends = 0, resends = 0, refused = 0, unacked = 0;
    std::uint64_t lostFromStorage = 0, ackedBeforeKill = 0, doubleAcks = 0;
    std::vector<std::string> lostSamples;
    std::set<std::uint64_t> lostSeqs;
    std::vector<bool> ackedSeq(head + 1, false);
    int connects = 0, snapshotJoins = 0, resumeFailures = 0;
    for (const auto &c : m_clients) {
        made += c->made;
        sends += c->sends;
        resends += c->resends;
        refused += c->refused;
        unacked += c->outbox.size();
        connects += c->connects;
        snapshotJoins += c->snapshotJoins;
        resumeFailures += c->resumeFailures;
        std::set<std::uint64_t> ids;
        for (const Acked &a : c->acked) {
            ++acked;
            if (!ids.insert(a.clientOpId).second)
                ++doubleAcks;
            if (m_killAt && a.atNs < m_killAt)
                ++ackedBeforeKill;
            if (a.seq <= head)
                ackedSeq[a.seq] = true;
            const bool ok = a.seq <= head && stored[a.seq].hash == a.hash && stored[a.seq].author == c->userId
                         && stored[a.seq].clientOpId == a.clientOpId;
            if (!ok) {
                ++lostFromStorage;
                lostSeqs.insert(a.seq);
                if (lostSamples.size() < 20) {
                    std::ostringstream s;
                    s << "client " << c->index << " (user " << c->userId << ") op " << a.clientOpId
                      << " acked as seq " << a.seq << " at t=" << double(a.atNs - m_start) / 1e9 << " s ("
                      << (m_killAt && a.atNs < m_killAt ? "before" : "after") << " the kill): storage has "
                      << (a.seq > head || !stored[a.seq].hash
                              ? std::string("nothing")
                              : "user " + std::to_string(stored[a.seq].author) + " op "
                                    + std::to_string(stored[a.seq].clientOpId)
                                    + (stored[a.seq].hash == a.hash ? "" : " (other bytes)"))
                      << " there";
                    lostSamples.push_back(s.str());
                }
            }
        }
    }

    // Every client's final view against storage: each stored seq once, with the stored bytes.
    std::uint64_t viewMissing = 0, viewPhantom = 0, clientsExact = 0, minDistinct = ~0ULL, maxDistinct = 0;
    std::uint64_t duplicates = 0, contentVsStore = 0;
    for (std::uint64_t s = 1; s < m_hashBySeq.size(); ++s) {
        if (m_hashBySeq[s] && (s > head || stored[s].hash != m_hashBySeq[s]))
            ++contentVsStore;
    }
    for (const auto &c : m_clients) {
        std::uint64_t missing = 0, phantom = 0;
        for (std::uint64_t s = 1; s <= head; ++s) {
            if (!stored[s].hash) {
                phantom += c->has(s); // a gap in storage that this client holds
                continue;
            }
            if (!c->has(s)) {
                ++missing;
                if (ackedSeq[s])
                    lostSeqs.insert(s);
                if (lostSamples.size() < 20)
                    lostSamples.push_back("client " + std::to_string(c->index) + " never received seq "
                                          + std::to_string(s));
            }
        }
        for (std::uint64_t s = head + 1; s < c->seen.size() * 64; ++s)
            phantom += c->has(s);
        viewMissing += missing;
        viewPhantom += phantom;
        duplicates += c->duplicates;
        clientsExact += missing == 0 && phantom == 0;
        minDistinct = std::min(minDistinct, c->distinct);
        maxDistinct = std::max(maxDistinct, c->distinct);
    }
    const std::uint64_t lost = lostSeqs.size();
    const bool ok = lost == 0 && viewMissing == 0 && refused == 0 && storedDuplicates == 0 && storeGaps == 0 && unacked == 0 && viewPhantom == 0
                 && contentVsStore == 0 && m_contentMismatches == 0 && doubleAcks == 0 && resumeFailures == 0;

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
    std::printf("\n== soak: %zu clients, %.1f s drawing, %s\n", m_clients.size(), drawSeconds, restartText);
    std::printf("ops sent (made)          %llu  (%.0f ops/s, %.2f per client a second; %llu frames, "
                "%llu of them resends after a reconnect)\n",
                (unsigned long long)made, double(made) / drawSeconds,
                double(made) / drawSeconds / double(m_clients.size()), (unsigned long long)sends,
                (unsigned long long)resends);
    std::printf("ops acknowledged         %llu  (%llu before the kill; %llu unacknowledged at the kill, of them "
                "%llu acked while the server was down, %llu by Joined.ops on rejoin; %llu never acknowledged; "
                "%llu refused)\n",
                (unsigned long long)acked, (unsigned long long)ackedBeforeKill,
                (unsigned long long)m_unackedAtKill, (unsigned long long)m_ackedWhileDown,
                (unsigned long long)m_ackedOnRejoin, (unsigned long long)unacked, (unsigned long long)refused);
    std::printf("ops stored (SQLite)      %llu  (head seq %llu, gaps %llu, duplicate (author, client_op_id) %llu; "
                "fresh client's join: head %llu; clean stop %s)\n",
                (unsigned long long)storedCount, (unsigned long long)head, (unsigned long long)storeGaps,
                (unsigned long long)storedDuplicates, (unsigned long long)freshHead, cleanStop ? "yes" : "NO");
    std::printf("delivered per client     min %llu  max %llu  (%llu of %zu clients hold exactly the stored "
                "sequence; %llu deliveries in all, %llu duplicates, %llu missing, %llu not stored, %llu with "
                "other bytes)\n",
                (unsigned long long)minDistinct, (unsigned long long)maxDistinct, (unsigned long long)clientsExact,
                m_clients.size(), (unsigned long long)m_deliveries, (unsigned long long)duplicates,
                (unsigned long long)viewMissing, (unsigned long long)viewPhantom,
                (unsigned long long)(m_contentMismatches + contentVsStore));
    std::printf("CPU                      server %.0f s (%.0f %% of a core), generator %.0f s (%.0f %%); "
                "stored snapshot %.1f MiB\n",
                m_serverCpu, 100 * m_serverCpu / drawSeconds, selfCpuSeconds(),
                100 * selfCpuSeconds() / drawSeconds, mib(m_snapshotBytes));
    std::printf("connections              %d  (%llu dropped while live; %d snapshot rejoins; %d resume "
                "failures); drain %.1f s\n",
                connects, (unsigned long long)m_drops, snapshotJoins, resumeFailures, m_drainSeconds);
    if (!m_errors.empty()) {
        std::printf("errors from the server  ");
        for (const auto &[code, n] : m_errors)
            std::printf(" code %d: %llu", code, (unsigned long long)n);
        std::printf("\n");
        for (const std::string &s : m_errorSamples)
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
    json << "{\"bench\":\"soak\",\"clients\":" << m_clients.size() << ",\"draw_seconds\":" << drawSeconds
         << ",\"kill_at_s\":" << double(m_killAt - m_start) / 1e9
         << ",\"restart_s\":" << double(m_restartedAt - m_killAt) / 1e9 << ",\"made\":" << made
         << ",\"acked\":" << acked << ",\"stored\":" << storedCount << ",\"unacked\":" << unacked
         << ",\"refused\":" << refused << ",\"resent\":" << resends << ",\"lost\":" << lost
         << ",\"view_missing\":" << viewMissing << ",\"min_delivered\":" << minDistinct
         << ",\"max_delivered\":" << maxDistinct << ",\"clients_exact\":" << clientsExact
         << ",\"deliveries\":" << m_deliveries << ",\"rss_min\":" << rssMin << ",\"rss_max\":" << rssMax
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
                      m_clients.size(), drawSeconds / 60,
                      m_killAt ? (std::string("killed with SIGKILL at t = ") + std::to_string(std::llround(double(m_killAt - m_start) / 1e9))
                                  + " s and started again on the same port and data directory, listening again after "
                                  + std::to_string(std::llround(double(m_restartedAt - m_killAt) / 1e6)) + " ms").c_str()
                               : "not restarted",
                      m_hz, kFixedBatchPoints, kFixedBatchDelayMs / 2.0, double(kFixedBatchDelayMs),
                      m_pauseMin / 1000,
                      m_pauseMax / 1000, m_chatEvery);
        md << line;
        md << "| figure | value |\n|---|---|\n";
        md << "| ops sent (made by the clients) | " << made << " (" << std::llround(double(made) / drawSeconds)
           << " ops/s in all) |\n";
        md << "| frames sent, incl. resends after the restart | " << sends << " (" << resends << " resent) |\n";
        md << "| ops acknowledged | " << acked << " (" << m_unackedAtKill << " unacknowledged at the kill: "
           << m_ackedWhileDown << " of them acked by the dying server's last bytes, " << m_ackedOnRejoin
           << " by Joined.ops on rejoin, the rest stored when resent; " << unacked << " never acknowledged; " << refused
           << " refused) |\n";
        md << "| ops stored (SQLite) | " << storedCount << " (gaps " << storeGaps
           << ", duplicate client_op_ids " << storedDuplicates << "; a fresh join's head_seq " << freshHead
           << ") |\n";
        md << "| delivered per client | min " << minDistinct << ", max " << maxDistinct << "; " << clientsExact
           << " of " << m_clients.size() << " clients hold exactly the stored sequence (" << viewMissing
           << " missing, " << duplicates << " duplicates, " << (m_contentMismatches + contentVsStore)
           << " with other bytes, the client op id aside) |\n";
        md << "| deliveries in all | " << m_deliveries << " |\n";
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
                 server.pid, server.port, server.dataDir.c_str(), server.log.c_str(), [] {
                     static char buf[64] = "?";
                     if (FILE *f = std::fopen("/proc/loadavg", "r")) {
                         if (!std::fgets(buf, sizeof buf, f))
                             buf[0] = 0;
                         std::fclose(f);
                     }
                     buf[std::strcspn(buf, "\n")] = 0;
                     return buf;
                 }());

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
