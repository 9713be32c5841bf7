// scrawl-bench fanout: one wall (room), N connected clients, P of them publishing stroke-point
// batches and chat at a fixed open-loop rate. For each server (Scrawl, Node ws, Socket.IO) and N:
// delivered messages/s at saturation, latency percentiles at half of it, server CPU-seconds per
// million deliveries, server memory per connection, and the generator's own CPU use (to show it
// is not the bottleneck).
//
// The generator is one thread on epoll with RawWs connections (no QWebSocket), pinned to its own
// core; the server is started under `taskset -c` on another. Latency runs from the *intended*
// send time of the open-loop schedule, so a late generator or a backed-up server both count.

#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/limits.h"

#include <sys/epoll.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

namespace scrawl::bench {

namespace {

constexpr size_t kRing = 1 << 16; // send times kept per publisher, by op id
const char kSioHeader[] = "451-[\"m\",{\"_placeholder\":true,\"num\":0}]";

struct Conn
{
    RawWs ws;
    int index = 0;
    int publisher = -1; // index among publishers, -1 for a pure reader
    bool wantOut = false;
    std::uint64_t nextOpId = 0;
    std::uint32_t strokeId = 0;
    int strokeStep = 0;
    std::uint64_t sent = 0;
    std::vector<std::int64_t> sentAt;
    std::vector<std::uint64_t> lastFrom; // by publisher: the client op id last received from it
};

struct StepResult
{
    double offeredOps = 0;        // ops/s the publishers sent
    double offeredDeliveries = 0; // ops/s x N
    double delivered = 0;         // deliveries/s received in the window
    double serverCpu = 0;         // s in the window
    double generatorCpu = 0;      // s in the window
    double window = 0;            // s
    std::uint64_t deliveries = 0;
    std::uint64_t errors = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0; // ms
    bool drained = true;
};

// Reads (client_op_id, author) from an Envelope{op{...}} without parsing it all. Scrawl sends a
// stroke's points and end to everyone but their author without the client op id: *opId is 0.
bool scanOp(const std::uint8_t *p, size_t len, std::uint64_t *opId, std::uint64_t *author)
{
    auto varint = [&](size_t &i, std::uint64_t *v) {
        *v = 0;
        for (int shift = 0; i < len && shift < 64; shift += 7) {
            const std::uint8_t b = p[i++];
            *v |= std::uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80))
                return true;
        }
        return false;
    };
    size_t i = 0;
    if (len < 2 || p[0] != ((6 << 3) | 2))
        return false;
    ++i;
    std::uint64_t opLen;
    if (!varint(i, &opLen))
        return false;
    bool gotId = false, gotAuthor = false;
    *opId = 0;
    while (i < len && !(gotId && gotAuthor)) {
        std::uint64_t tag, v;
        if (!varint(i, &tag))
            return false;
        switch (tag & 7) {
        case 0:
            if (!varint(i, &v))
                return false;
            if ((tag >> 3) == 2) {
                *opId = v;
                gotId = true;
            } else if ((tag >> 3) == 3) {
                *author = v;
                gotAuthor = true;
            }
            break;
        case 2:
            if (!varint(i, &v))
                return false;
            i += size_t(v);
            break;
        case 1: i += 8; break;
        case 5: i += 4; break;
        default: return false;
        }
    }
    return gotAuthor;
}

class Fanout
{
public:
    Fanout(ServerKind kind, std::uint16_t port, int clients, int publishers)
        : m_kind(kind), m_port(port), m_n(clients), m_p(publishers)
    {
        StrokeGen gen(11);
        for (int i = 0; i < 64; ++i)
            m_strokes.push_back(toGrid(gen.next(93, 200)));
    }

    void connectAll()
    {
        m_epoll = epoll_create1(EPOLL_CLOEXEC);
        std::string error;
        const std::string path = m_kind == ServerKind::Scrawl ? "/"
                               : m_kind == ServerKind::NodeWs ? "/?room=bench"
                                                              : "/socket.io/?EIO=4&transport=websocket&room=bench";
        for (int i = 0; i < m_n; ++i) {
            auto c = std::make_unique<Conn>();
            c->index = i;
            if (!c->ws.connect(m_port, path, &error))
                die("client " + std::to_string(i) + ": " + error);
            if (m_kind == ServerKind::Scrawl) {
                const std::uint64_t user = scrawlHello(c->ws, "client" + std::to_string(i));
                if (!user || !scrawlJoin(c->ws, "fanout"))
                    die("client " + std::to_string(i) + " could not join");
                m_byAuthor[user] = i;
            } else if (m_kind == ServerKind::SocketIo) {
                int op;
                std::string payload;
                if (!c->ws.readMessage(&op, &payload, 10000) || payload.empty() || payload[0] != '0')
                    die("no Engine.IO open packet");
                c->ws.queueFrame(kText, "40", 2);
                c->ws.flushBlocking();
                do {
                    if (!c->ws.readMessage(&op, &payload, 10000))
                        die("no Socket.IO connect answer");
                } while (payload.rfind("40", 0) != 0);
            }
            if (i < m_p) {
                c->publisher = i;
                c->sentAt.assign(kRing, 0);
                m_publishers.push_back(c.get());
            }
            c->ws.setNonBlocking();
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = c.get();
            epoll_ctl(m_epoll, EPOLL_CTL_ADD, c->ws.fd(), &ev);
            m_conns.push_back(std::move(c));
            // Keep the ones already connected served (presence, pings): setting up 1000 clients
            // can outlast the server's peer timeout.
            poll(0);
        }
        // Let presence traffic and Socket.IO acks settle.
        settle(500, 60000);
    }

    // Open-loop run at `rate` ops/s for warmup + window seconds, then drain.
    StepResult step(double rate, double warmup, double window, const ServerProcess &server)
    {
        StepResult r;
        r.offeredOps = rate;
        r.offeredDeliveries = rate * m_n;
        // Room for every latency sample of the window, allocated and touched before it starts:
        // growing a vector of millions of samples inside the window (a copy of tens of MB and
        // its page faults) stalled this generator for 20-230 ms at each doubling, which read as
        // the server's latency.
        const size_t room = size_t(rate * m_n * window * 1.25) + 1024;
        reserveTouched(m_latency, room);
        if (m_series)
            reserveTouched(*m_series, room);
        const std::int64_t interval = std::int64_t(1e9 / rate);
        const std::int64_t start = nowNs();
        const std::int64_t wStart = start + std::int64_t(warmup * 1e9);
        const std::int64_t end = wStart + std::int64_t(window * 1e9);
        std::int64_t next = start;
        size_t pub = 0;
        m_windowDeliveries = 0;
        m_errors = 0;
        m_wStart = wStart;
        m_wEnd = end;
        std::uint64_t sentOps = 0;
        const std::uint64_t received0 = m_received;
        bool inWindow = false;
        double srv0 = 0, gen0 = 0;
        for (;;) {
            std::int64_t now = nowNs();
            if (!inWindow && now >= wStart) {
                inWindow = true;
                srv0 = server.cpuSeconds();
                gen0 = selfCpuSeconds();
            }
            if (now >= end)
                break;
            while (next <= now && next < end) {
                publish(*m_publishers[pub], next);
                ++sentOps;
                pub = (pub + 1) % m_publishers.size();
                next += interval;
            }
            poll(std::min(next, end) - nowNs());
        }
        r.serverCpu = server.cpuSeconds() - srv0;
        r.generatorCpu = selfCpuSeconds() - gen0;
        r.window = window;
        r.deliveries = m_windowDeliveries;
        r.delivered = double(m_windowDeliveries) / window;
        // Drain: everything sent must arrive before the next step starts.
        const std::uint64_t expected = received0 + sentOps * std::uint64_t(m_n);
        std::int64_t lastProgress = nowNs();
        std::uint64_t lastCount = m_received;
        const std::int64_t cap = nowNs() + 30'000'000'000LL;
        while (m_received < expected && nowNs() < cap && nowNs() - lastProgress < 2'000'000'000LL) {
            poll(100'000'000);
            if (m_received != lastCount) {
                lastCount = m_received;
                lastProgress = nowNs();
            }
        }
        r.drained = m_received >= expected;
        m_received = std::max(m_received, expected); // lost messages do not spill into the next step
        r.errors = m_errors;
        std::vector<double> &lat = m_latency;
        if (!lat.empty()) {
            r.p50 = percentile(lat, 50);
            r.p99 = percentile(lat, 99);
            r.p999 = percentile(lat, 99.9);
            r.max = lat.back();
        }
        return r;
    }

    template <typename T> static void reserveTouched(std::vector<T> &v, size_t n)
    {
        if (v.capacity() < n) {
            std::vector<T>().swap(v);
            v.resize(n); // writes every page now
        }
        v.clear();
    }

    // While set (not null): (send time from the window's start in ns, latency in ms) of every
    // delivery in the window.
    void recordSeries(std::vector<std::pair<std::int64_t, double>> *series) { m_series = series; }

    void settle(int quietMs, int capMs)
    {
        const std::int64_t cap = nowNs() + std::int64_t(capMs) * 1000000;
        std::uint64_t before = m_bytes;
        std::int64_t quietSince = nowNs();
        while (nowNs() < cap && nowNs() - quietSince < std::int64_t(quietMs) * 1000000) {
            poll(50'000'000);
            if (m_bytes != before) {
                before = m_bytes;
                quietSince = nowNs();
            }
        }
    }

    void closeAll()
    {
        m_conns.clear();
        if (m_epoll >= 0)
            ::close(m_epoll);
        m_epoll = -1;
    }

private:
    void publish(Conn &c, std::int64_t intended)
    {
        pb::Envelope env;
        pb::Op *op = env.mutable_op();
        const std::uint64_t id = ++c.nextOpId;
        op->set_client_op_id(id);
        if (m_kind != ServerKind::Scrawl) {
            // What Scrawl's broadcast carries, stamped by the client since a relay stamps nothing.
            op->set_seq(m_relaySeq++);
            op->set_author(std::uint64_t(c.publisher + 1));
            op->set_time_ms(1700000000000LL + intended / 1000000);
        }
        if (id % 10 == 0) {
            op->mutable_chat()->set_text("chat line " + std::to_string(id) + " from the fan-out bench");
        } else {
            const auto &stroke = m_strokes[c.strokeId % m_strokes.size()];
            const int step = c.strokeStep++;
            if (step == 0) {
                auto *b = op->mutable_stroke_begin();
                b->set_id(c.strokeId + 1);
                b->set_color(0x1e88e5);
                b->set_width(3);
                encodePoints({stroke.begin(), stroke.begin() + 4}, {}, b);
            } else if (4 * (step + 1) <= int(stroke.size())) {
                auto *b = op->mutable_stroke_points();
                b->set_id(c.strokeId + 1);
                encodePoints({stroke.begin() + 4 * step, stroke.begin() + 4 * (step + 1)},
                             tailOf(stroke, size_t(4 * step)), b);
            } else {
                op->mutable_stroke_end()->set_id(c.strokeId + 1);
                ++c.strokeId;
                c.strokeStep = 0;
            }
        }
        thread_local std::string bytes;
        bytes.clear();
        env.AppendToString(&bytes);
        if (m_kind == ServerKind::SocketIo)
            c.ws.queueFrame(kText, kSioHeader, sizeof kSioHeader - 1);
        c.ws.queueFrame(kBinary, bytes.data(), bytes.size());
        c.sentAt[id & (kRing - 1)] = intended;
        ++c.sent;
        flush(c);
    }

    void flush(Conn &c)
    {
        if (!c.ws.flush())
            die("a publisher's connection failed");
        const bool want = c.ws.pendingWrite() > 0;
        if (want != c.wantOut) {
            c.wantOut = want;
            epoll_event ev{};
            ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
            ev.data.ptr = &c;
            epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.ws.fd(), &ev);
        }
    }

    void poll(std::int64_t timeoutNs)
    {
        timeoutNs = std::max<std::int64_t>(0, timeoutNs);
        timespec ts{time_t(timeoutNs / 1000000000), long(timeoutNs % 1000000000)};
        epoll_event events[256];
        const int n = epoll_pwait2(m_epoll, events, 256, &ts, nullptr);
        if (n <= 0)
            return;
        const std::int64_t now = nowNs();
        for (int i = 0; i < n; ++i) {
            auto *c = static_cast<Conn *>(events[i].data.ptr);
            if (events[i].events & EPOLLOUT)
                flush(*c);
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                const std::uint64_t before = c->ws.bytesIn;
                const bool ok = c->ws.readAvailable([&](int opcode, const std::uint8_t *data, size_t len) {
                    onMessage(*c, opcode, data, len, now);
                });
                m_bytes += c->ws.bytesIn - before;
                if (!ok)
                    die("the server closed client " + std::to_string(c->index)
                        + "'s connection (see /tmp/scrawl-bench-*.log)");
                if (c->ws.pendingWrite() > 0) // pongs
                    flush(*c);
            }
        }
    }

    void onMessage(Conn &c, int opcode, const std::uint8_t *data, size_t len, std::int64_t now)
    {
        if (opcode == kText) {
            if (m_kind == ServerKind::SocketIo && len == 1 && data[0] == '2') { // Engine.IO ping
                c.ws.queueFrame(kText, "3", 1);
                flush(c);
            }
            return;
        }
        if (opcode != kBinary)
            return;
        std::uint64_t opId = 0, author = 0;
        if (!scanOp(data, len, &opId, &author)) {
            if (len > 0 && data[0] == ((3 << 3) | 2))
                ++m_errors;
            return;
        }
        ++m_received;
        if (now >= m_wStart && now < m_wEnd)
            ++m_windowDeliveries;
        int pub = -1;
        if (m_kind == ServerKind::Scrawl) {
            const auto it = m_byAuthor.find(author);
            if (it != m_byAuthor.end())
                pub = m_conns[size_t(it->second)]->publisher;
        } else {
            pub = int(author) - 1;
        }
        if (pub < 0 || pub >= int(m_publishers.size()))
            return;
        // Each publisher's ops reach every member in the order sent, so one without its id is
        // the one after the last seen from that publisher.
        if (c.lastFrom.size() < m_publishers.size())
            c.lastFrom.resize(m_publishers.size(), 0);
        if (opId == 0)
            opId = c.lastFrom[size_t(pub)] + 1;
        c.lastFrom[size_t(pub)] = opId;
        const std::int64_t sentAt = m_publishers[size_t(pub)]->sentAt[opId & (kRing - 1)];
        if (sentAt >= m_wStart && sentAt < m_wEnd) {
            m_latency.push_back(double(now - sentAt) / 1e6);
            if (m_series)
                m_series->emplace_back(sentAt - m_wStart, double(now - sentAt) / 1e6);
        }
    }

    ServerKind m_kind;
    std::uint16_t m_port;
    int m_n, m_p;
    int m_epoll = -1;
    std::vector<std::unique_ptr<Conn>> m_conns;
    std::vector<Conn *> m_publishers;
    std::unordered_map<std::uint64_t, int> m_byAuthor;
    std::vector<std::vector<FixedPoint>> m_strokes;
    std::vector<double> m_latency;
    std::vector<std::pair<std::int64_t, double>> *m_series = nullptr;
    std::uint64_t m_received = 0, m_windowDeliveries = 0, m_errors = 0, m_bytes = 0;
    std::uint64_t m_relaySeq = 1;
    std::int64_t m_wStart = 0, m_wEnd = 0;
};

ServerKind kindOf(const std::string &name)
{
    if (name == "node-ws")
        return ServerKind::NodeWs;
    if (name == "socket.io")
        return ServerKind::SocketIo;
    if (name == "scrawl" || name == "scrawl-tmpfs" || name == "baseline")
        return ServerKind::Scrawl;
    die("unknown server " + name + " (scrawl, scrawl-tmpfs, baseline, node-ws, socket.io)");
}

// baseline: another build's scrawl-server (SCRAWL_BENCH_BASELINE=PATH), on the disk like
// scrawl, so that a change is measured against what came before in the same run.
std::string serverBinOf(const std::string &name)
{
    if (name != "baseline")
        return {};
    const char *bin = std::getenv("SCRAWL_BENCH_BASELINE");
    if (!bin || !*bin)
        die("the baseline server needs SCRAWL_BENCH_BASELINE=PATH of another build's scrawl-server");
    return bin;
}

// scrawl-tmpfs: the same server with its database on tmpfs, to tell what the disk costs from
// what the server costs.
std::string dataParentOf(const std::string &name)
{
    return name == "scrawl-tmpfs" ? "/dev/shm" : "/tmp";
}

std::vector<std::string> split(const std::string &text)
{
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(item);
    return out;
}

} // namespace

int runFanout(const Args &args)
{
    const bool quick = args.has("quick");
    const int serverCpu = int(args.integer("server-cpu", 0));
    pinSelf(int(args.integer("client-cpu", 1)));
    const double warmup = args.number("warmup", quick ? 0.3 : 0.5);
    const double window = args.number("window", quick ? 1.0 : 2.0);
    const double halfWindow = args.number("half-window", quick ? 2.0 : 4.0);
    const int maxPublishers = int(args.integer("publishers", 50));
    // Scrawl refuses more than max_ops_per_second from one client; every server gets the same cap.
    const double perPublisherCap = args.number("publisher-rate-cap", 0.9 * limits::kMaxOpsPerSecond);
    std::vector<std::string> serverNames = split(args.text("servers", "scrawl,scrawl-tmpfs,node-ws,socket.io"));
    std::vector<std::string> clientCounts = split(args.text("clients", quick ? "10,100" : "10,100,1000"));

    std::printf("%-10s %5s %4s %12s %10s %8s %8s %8s %10s %9s %9s %s\n", "server", "N", "P",
                "sat deliv/s", "half at/s", "p50 ms", "p99 ms", "p99.9 ms", "CPUs/Mdel", "RSS/conn",
                "gen CPU", "note");
    struct EqualLoadRun
    {
        int n;
        std::string server;
        double rateOps;
    };
    std::vector<EqualLoadRun> equalRuns;
    for (const std::string &countText : clientCounts) {
        const int n = std::atoi(countText.c_str());
        const int p = std::min(n, maxPublishers);
        const double capOps = p * perPublisherCap;
        double fastestReferenceHalf = 0;
        for (const std::string &name : serverNames) {
            const ServerKind kind = kindOf(name);
            ServerProcess server = ServerProcess::start(kind, serverCpu, dataParentOf(name), name, serverBinOf(name));
            const std::int64_t rss0 = server.rssBytes();
            Fanout fan(kind, server.port, n, p);
            const std::int64_t setup0 = nowNs();
            fan.connectAll();
            const double setupMs = double(nowNs() - setup0) / 1e6;
            const std::int64_t rss1 = server.rssBytes();
            const double rssPerConn = double(rss1 - rss0) / n;

            // Saturation: double the offered rate until the server delivers clearly less than
            // offered (or the publishers' cap is reached), then narrow the last doubling down;
            // the most delivered in a window is the saturation throughput.
            double rate = std::min(capOps, std::max(20.0, 20000.0 / n));
            StepResult best;
            std::string note;
            double genAtSat = 0;
            bool lastStepDrained = true; // did the last step's backlog arrive in time?
            // One step at `rate`; true if the server kept up with it.
            auto kept = [&](double at) {
                const StepResult r = fan.step(at, warmup, window, server);
                std::fprintf(stderr, "  %s N=%d: offered %.0f ops/s = %.0f deliveries/s -> delivered %.0f/s, "
                                     "p99 %.1f ms, server CPU %.0f%%, generator CPU %.0f%%, errors %llu%s\n",
                             name.c_str(), n, r.offeredOps, r.offeredDeliveries, r.delivered, r.p99,
                             100 * r.serverCpu / r.window, 100 * r.generatorCpu / r.window,
                             (unsigned long long)r.errors, r.drained ? "" : " (not drained)");
                if (r.delivered > best.delivered) {
                    best = r;
                    genAtSat = r.generatorCpu / r.window;
                }
                lastStepDrained = r.drained;
                return r.delivered >= 0.9 * r.offeredDeliveries && r.p99 <= 500 && r.drained;
            };
            double keptRate = 0;
            for (int i = 0; i < 12; ++i) {
                if (!kept(rate))
                    break;
                keptRate = rate;
                if (rate >= capOps) {
                    note = "capped: publishers at max_ops_per_second";
                    break;
                }
                rate = std::min(capOps, rate * 2);
            }
            // The doubling brackets saturation within a factor of two; halving the bracket three
            // times more puts it within 12 % (half load is taken from it, so it matters).
            if (note.empty() && keptRate > 0) {
                double lo = keptRate, hi = rate;
                for (int i = 0; i < int(args.integer("refine", 3)); ++i) {
                    fan.settle(lastStepDrained ? 500 : 3000, 60000);
                    const double mid = (lo + hi) / 2;
                    (kept(mid) ? lo : hi) = mid;
                }
            }
            // Half of saturation, for latency and cost.
            const double halfRate = std::max(1.0, best.delivered / 2 / n);
            // A server pushed past saturation can still be sending its backlog: let it finish,
            // or the half-load window counts old messages (and their latency).
            fan.settle(lastStepDrained ? 500 : 3000, 60000);
            // --latency-series FILE: the worst latency in each 10 ms of the half-load window, to
            // see whether slow deliveries come in bursts (a stalled server) or spread out.
            std::vector<std::pair<std::int64_t, double>> series;
            if (args.has("latency-series"))
                fan.recordSeries(&series);
            const StepResult h = fan.step(halfRate, warmup, halfWindow, server);
            fan.recordSeries(nullptr);
            if (args.has("latency-series")) {
                std::map<std::int64_t, double> worst;
                for (const auto &[t, ms] : series)
                    worst[t / 10'000'000] = std::max(worst[t / 10'000'000], ms);
                if (FILE *f = std::fopen((args.text("latency-series", "") + "-" + name + "-" + countText).c_str(), "w")) {
                    for (const auto &[bucket, ms] : worst)
                        std::fprintf(f, "%lld %.3f\n", (long long)(bucket * 10), ms);
                    std::fclose(f);
                }
            }
            if (kind != ServerKind::Scrawl)
                fastestReferenceHalf = std::max(fastestReferenceHalf, halfRate);
            const double cpuPerM = h.deliveries ? h.serverCpu / double(h.deliveries) * 1e6 : 0;
            std::fprintf(stderr, "  %s N=%d: half load %.0f ops/s -> %.0f deliveries/s, p50 %.2f p99 %.2f "
                                 "p99.9 %.2f max %.1f ms, errors %llu\n",
                         name.c_str(), n, halfRate, h.delivered, h.p50, h.p99, h.p999, h.max,
                         (unsigned long long)h.errors);
            std::printf("%-10s %5d %4d %12.0f %10.0f %8.2f %8.2f %8.2f %10.2f %8.1fk %8.0f%% %s\n",
                        name.c_str(), n, p, best.delivered, h.delivered, h.p50, h.p99, h.p999, cpuPerM,
                        rssPerConn / 1024, 100 * genAtSat, note.c_str());
            std::fflush(stdout);
            std::ostringstream json;
            json << "{\"bench\":\"fanout\",\"server\":\"" << name << "\",\"clients\":" << n
                 << ",\"publishers\":" << p << ",\"saturation\":" << best.delivered
                 << ",\"saturation_offered\":" << best.offeredDeliveries
                 << ",\"half_delivered\":" << h.delivered << ",\"p50_ms\":" << h.p50
                 << ",\"p99_ms\":" << h.p99 << ",\"p999_ms\":" << h.p999 << ",\"max_ms\":" << h.max
                 << ",\"cpu_s_per_million\":" << cpuPerM
                 << ",\"cpu_s_per_million_at_saturation\":"
                 << (best.deliveries ? best.serverCpu / double(best.deliveries) * 1e6 : 0)
                 << ",\"rss_per_conn_bytes\":" << rssPerConn << ",\"generator_cpu_at_saturation\":"
                 << genAtSat << ",\"server_cpu_at_saturation\":" << best.serverCpu / best.window
                 << ",\"setup_ms\":" << setupMs << ",\"errors\":" << (best.errors + h.errors)
                 << ",\"capped\":" << (note.empty() ? "false" : "true") << "}";
            result(json.str());
            fan.closeAll();
            server.stop();
        }
        // Latency at equal offered load: every server at the fastest reference server's half load.
        if (!args.has("no-equal-load") && fastestReferenceHalf > 0) {
            for (const std::string &name : serverNames)
                equalRuns.push_back({n, name, fastestReferenceHalf});
        }
    }
    for (const EqualLoadRun &run : equalRuns) {
        const int n = run.n;
        const int p = std::min(n, maxPublishers);
        const ServerKind kind = kindOf(run.server);
        ServerProcess server = ServerProcess::start(kind, serverCpu, dataParentOf(run.server), run.server,
                                                    serverBinOf(run.server));
        Fanout fan(kind, server.port, n, p);
        fan.connectAll();
        const StepResult h = fan.step(run.rateOps, warmup, halfWindow, server);
        std::printf("%-10s %5d %4d  at %.0f deliveries/s offered (the fastest reference's half load): "
                    "delivered %.0f/s, p50 %.2f, p99 %.2f, p99.9 %.2f ms\n",
                    run.server.c_str(), n, p, run.rateOps * n, h.delivered, h.p50, h.p99, h.p999);
        std::fflush(stdout);
        std::ostringstream json;
        json << "{\"bench\":\"fanout_equal\",\"server\":\"" << run.server << "\",\"data\":\""
             << dataParentOf(run.server) << "\",\"clients\":" << n
             << ",\"offered\":" << run.rateOps * n << ",\"delivered\":" << h.delivered
             << ",\"p50_ms\":" << h.p50 << ",\"p99_ms\":" << h.p99 << ",\"p999_ms\":" << h.p999
             << ",\"errors\":" << h.errors << "}";
        result(json.str());
        fan.closeAll();
        server.stop();
    }
    return 0;
}

} // namespace scrawl::bench
