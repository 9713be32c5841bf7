#include "bench/fanoutgen.h"

#include "bench/strokegen.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace scrawl::bench {

namespace {

constexpr size_t kRing = 1 << 16; // send times kept per publisher, by op id
constexpr double kMinMs = 0.001;
constexpr double kBucketRatio = 1.01;
constexpr size_t kBuckets = 2600; // 1 us x 1.01^2600: beyond any step
const char kSioHeader[] = "451-[\"m\",{\"_placeholder\":true,\"num\":0}]";

// Reads (seq, client_op_id, author) from an Envelope{op{...}} without parsing it all. Scrawl
// sends a stroke's points and end to everyone but their author without the client op id: *opId
// is 0. Fields come in field-number order, so seq (1) is read before the other two.
bool scanOp(const std::uint8_t *p, size_t len, std::uint64_t *seq, std::uint64_t *opId,
            std::uint64_t *author)
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
    *seq = 0;
    while (i < len && !(gotId && gotAuthor)) {
        std::uint64_t tag, v;
        if (!varint(i, &tag))
            return false;
        switch (tag & 7) {
        case 0:
            if (!varint(i, &v))
                return false;
            if ((tag >> 3) == 1) {
                *seq = v;
            } else if ((tag >> 3) == 2) {
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

void setStrokeId(pb::Op &op, std::uint32_t id)
{
    switch (op.body_case()) {
    case pb::Op::kStrokeBegin: op.mutable_stroke_begin()->set_id(id); break;
    case pb::Op::kStrokePoints: op.mutable_stroke_points()->set_id(id); break;
    case pb::Op::kStrokeEnd: op.mutable_stroke_end()->set_id(id); break;
    default: break;
    }
}

} // namespace

struct Fanout::Conn
{
    RawWs ws;
    int index = 0;
    int publisher = -1; // index among publishers, -1 for a pure reader
    bool wantOut = false;
    bool closed = false;
    std::uint64_t nextOpId = 0;
    std::uint32_t strokeId = 0;
    size_t strokeStep = 0;
    std::uint64_t sent = 0;
    std::uint64_t refusedByServer = 0; // of those sent: an Error named it (nobody gets it)
    std::vector<std::int64_t> sentAt;
    std::vector<std::uint64_t> lastFrom;  // by publisher: the client op id last received from it
    std::vector<std::uint64_t> countFrom; // by publisher: ops received from it
    std::uint64_t lastSeq = 0;            // Scrawl: the wall's sequence number last received
};

LatencyHistogram::LatencyHistogram() : m_buckets(kBuckets, 0) {}

void LatencyHistogram::clear()
{
    std::fill(m_buckets.begin(), m_buckets.end(), 0);
    m_count = 0;
    m_max = 0;
}

void LatencyHistogram::add(double ms)
{
    size_t b = 0;
    if (ms > kMinMs)
        b = std::min(kBuckets - 1, size_t(1 + std::log(ms / kMinMs) / std::log(kBucketRatio)));
    ++m_buckets[b];
    ++m_count;
    m_max = std::max(m_max, ms);
}

double LatencyHistogram::percentile(double p) const
{
    if (!m_count)
        return 0;
    const auto rank = std::uint64_t(p / 100.0 * double(m_count - 1) + 0.5);
    std::uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
        seen += m_buckets[b];
        if (seen > rank) {
            if (b == 0)
                return kMinMs;
            // The bucket's geometric middle.
            return std::min(m_max, kMinMs * std::pow(kBucketRatio, double(b) - 0.5));
        }
    }
    return m_max;
}

namespace {

double cpuSecondsOf(const std::vector<ServerProcess> &servers)
{
    double sum = 0;
    for (const ServerProcess &s : servers)
        sum += s.cpuSeconds();
    return sum;
}

std::int64_t rssBytesOf(const std::vector<ServerProcess> &servers)
{
    std::int64_t sum = 0;
    for (const ServerProcess &s : servers)
        sum += s.rssBytes();
    return sum;
}

} // namespace

Fanout::Fanout(ServerKind kind, std::uint16_t port, int clients, int publishers)
    : Fanout(kind, std::vector<std::uint16_t>{port}, clients, publishers)
{
}

Fanout::Fanout(ServerKind kind, std::vector<std::uint16_t> ports, int clients, int publishers)
    : m_kind(kind), m_ports(std::move(ports)), m_n(clients), m_p(publishers)
{
    StrokeGen gen(11);
    for (int i = 0; i < 64; ++i)
        m_strokes.push_back(appStrokeOps(gen.next(93, 200), 0));
}

Fanout::~Fanout()
{
    closeAll();
}

void Fanout::connectAll()
{
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    std::string error;
    const std::string path = m_kind == ServerKind::Scrawl     ? "/"
                           : m_kind == ServerKind::SocketIo ? "/socket.io/?EIO=4&transport=websocket&room=bench"
                                                              : "/?room=bench";
    for (int i = 0; i < m_n; ++i) {
        auto c = std::make_unique<Conn>();
        c->index = i;
        if (!c->ws.connect(m_ports[size_t(i) % m_ports.size()], path, &error))
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
        c->lastFrom.assign(size_t(m_p), 0);
        c->countFrom.assign(size_t(m_p), 0);
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

void Fanout::sampleRss(const std::vector<ServerProcess> &servers, std::int64_t now, std::int64_t *peak)
{
    if (now < m_nextRss)
        return;
    m_nextRss = now + 100'000'000;
    *peak = std::max(*peak, rssBytesOf(servers));
}

void Fanout::tally(std::uint64_t *missing, std::uint64_t *extra) const
{
    *missing = *extra = 0;
    for (const auto &c : m_conns) {
        if (c->closed)
            continue;
        for (size_t p = 0; p < m_publishers.size(); ++p) {
            const std::uint64_t sent = m_publishers[p]->sent - m_publishers[p]->refusedByServer;
            const std::uint64_t got = c->countFrom[p];
            (got < sent ? *missing : *extra) += got < sent ? sent - got : got - sent;
        }
    }
}

StepResult Fanout::step(double rate, double warmup, double window, const ServerProcess &server,
                        double drainSeconds)
{
    return step(rate, warmup, window, std::vector<ServerProcess>{server}, drainSeconds);
}

StepResult Fanout::step(double rate, double warmup, double window, const std::vector<ServerProcess> &server,
                        double drainSeconds)
{
    StepResult r;
    r.offeredOps = rate;
    r.offeredDeliveries = rate * m_n;
    r.rssBefore = r.rssPeak = rssBytesOf(server);
    m_latency.clear();
    if (m_series) {
        // Room for every sample of the window, allocated and touched before it starts: growing a
        // vector of millions inside the window (a copy of tens of MB and its page faults)
        // stalled this generator for 20-230 ms at each doubling, which read as server latency.
        const size_t room = size_t(rate * m_n * window * 1.25) + 1024;
        if (m_series->capacity() < room) {
            std::vector<std::pair<std::int64_t, double>>().swap(*m_series);
            m_series->resize(room);
        }
        m_series->clear();
    }
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
    const int closed0 = m_closed;
    const std::uint64_t outOfOrder0 = m_outOfOrder, skipped0 = m_skipped;
    std::uint64_t missing0, extra0;
    tally(&missing0, &extra0);
    std::uint64_t sent0 = 0, serverRefused0 = 0;
    for (const Conn *c : m_publishers) {
        sent0 += c->sent;
        serverRefused0 += c->refusedByServer;
    }
    std::uint64_t attempted = 0;
    bool inWindow = false;
    double srv0 = 0, gen0 = 0;
    for (;;) {
        std::int64_t now = nowNs();
        if (!inWindow && now >= wStart) {
            inWindow = true;
            srv0 = cpuSecondsOf(server);
            gen0 = selfCpuSeconds();
        }
        if (now >= end)
            break;
        while (next <= now && next < end) {
            publish(*m_publishers[pub], next);
            ++attempted;
            pub = (pub + 1) % m_publishers.size();
            next += interval;
        }
        sampleRss(server, now, &r.rssPeak);
        poll(std::min({next, end, m_nextRss}) - nowNs());
    }
    r.serverCpu = cpuSecondsOf(server) - srv0;
    r.generatorCpu = selfCpuSeconds() - gen0;
    r.window = window;
    r.deliveries = m_windowDeliveries;
    r.delivered = double(m_windowDeliveries) / window;
    // Drain: everything sent must arrive before the next step starts; give up after 2 s without
    // progress (or drainSeconds in all) and count the rest as lost.
    std::uint64_t missing = 0, extra = 0;
    tally(&missing, &extra);
    std::uint64_t lastMissing = missing;
    std::int64_t lastProgress = nowNs();
    const std::int64_t cap = nowNs() + std::int64_t(drainSeconds * 1e9);
    while (missing > missing0 && nowNs() < cap && nowNs() - lastProgress < 2'000'000'000LL) {
        poll(std::min<std::int64_t>(100'000'000, std::max<std::int64_t>(0, m_nextRss - nowNs())));
        sampleRss(server, nowNs(), &r.rssPeak);
        tally(&missing, &extra);
        if (missing != lastMissing) {
            lastMissing = missing;
            lastProgress = nowNs();
        }
    }
    r.drained = missing <= missing0;
    r.undelivered = missing > missing0 ? missing - missing0 : 0;
    r.lost = m_skipped - skipped0;
    r.duplicated = extra > extra0 ? extra - extra0 : 0;
    r.outOfOrder = m_outOfOrder - outOfOrder0;
    r.closed = m_closed - closed0;
    r.rssEnd = rssBytesOf(server);
    for (const Conn *c : m_publishers) {
        r.sentOps += c->sent;
        r.serverRefusedOps += c->refusedByServer;
    }
    r.sentOps -= sent0;
    r.serverRefusedOps -= serverRefused0;
    r.refusedOps = 0;
    if (attempted > r.sentOps)
        r.refusedOps = attempted - r.sentOps; // by backpressure, or a publisher the server closed
    r.offeredOps = double(attempted) / (warmup + window);
    r.offeredDeliveries = r.offeredOps * m_n;
    r.errors = m_errors;
    r.latencySamples = m_latency.count();
    r.p50 = m_latency.percentile(50);
    r.p99 = m_latency.percentile(99);
    r.p999 = m_latency.percentile(99.9);
    r.max = m_latency.max();
    return r;
}

std::int64_t Fanout::settleRss(const ServerProcess &server, int capMs, bool *settled)
{
    // One sample per 100 ms; settled when the last ten are within 1 % of each other.
    std::vector<std::int64_t> samples;
    const std::int64_t cap = nowNs() + std::int64_t(capMs) * 1000000;
    *settled = false;
    for (;;) {
        samples.push_back(server.rssBytes());
        if (samples.size() >= 11) {
            const auto [lo, hi] = std::minmax_element(samples.end() - 11, samples.end());
            if (double(*hi - *lo) <= 0.01 * double(*hi)) {
                *settled = true;
                break;
            }
        }
        if (nowNs() >= cap)
            break;
        const std::int64_t due = nowNs() + 100'000'000;
        while (nowNs() < due)
            poll(due - nowNs());
    }
    return samples.back();
}

void Fanout::settle(int quietMs, int capMs)
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

void Fanout::closeAll()
{
    m_conns.clear();
    m_publishers.clear();
    if (m_epoll >= 0)
        ::close(m_epoll);
    m_epoll = -1;
}

void Fanout::publish(Conn &c, std::int64_t intended)
{
    // Open loop, bounded: an op the publisher's socket cannot take now is not queued behind the
    // ones waiting (the server is not reading this client); it is refused, never sent, and the
    // op ids stay contiguous for the members' checks.
    if (c.closed || c.ws.pendingWrite() > 0)
        return;
    pb::Envelope env;
    pb::Op *op = env.mutable_op();
    const std::uint64_t id = ++c.nextOpId;
    if (id % 10 == 0) {
        op->mutable_chat()->set_text("chat line " + std::to_string(id) + " from the fan-out bench");
    } else {
        const std::vector<pb::Op> &stroke = m_strokes[c.strokeId % m_strokes.size()];
        *op = stroke[c.strokeStep];
        setStrokeId(*op, c.strokeId + 1);
        if (++c.strokeStep == stroke.size()) {
            ++c.strokeId;
            c.strokeStep = 0;
        }
    }
    op->set_client_op_id(id);
    if (m_kind != ServerKind::Scrawl) {
        // What Scrawl's broadcast carries, stamped by the client since a relay stamps nothing;
        // members read the author from it.
        op->set_seq(m_relaySeq++);
        op->set_author(std::uint64_t(c.publisher + 1));
        op->set_time_ms(1700000000000LL + intended / 1000000);
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

void Fanout::flush(Conn &c)
{
    if (c.closed)
        return;
    if (!c.ws.flush()) {
        markClosed(c, "write failed");
        return;
    }
    const bool want = c.ws.pendingWrite() > 0;
    if (want != c.wantOut) {
        c.wantOut = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.ptr = &c;
        epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.ws.fd(), &ev);
    }
}

void Fanout::markClosed(Conn &c, const std::string &why)
{
    if (c.closed)
        return;
    c.closed = true;
    ++m_closed;
    ++m_closeReasons[why];
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, c.ws.fd(), nullptr);
    if (m_closed <= 5) // the counts and reasons go into the step's result
        std::fprintf(stderr, "  the server closed client %d: %s%s\n", c.index, why.c_str(),
                     m_closed == 5 ? " (further closes are counted, not listed)" : "");
}

void Fanout::poll(std::int64_t timeoutNs)
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
        if (c->closed)
            continue; // closed by an earlier event of this batch
        if (events[i].events & EPOLLOUT)
            flush(*c);
        if (!c->closed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
            const std::uint64_t before = c->ws.bytesIn;
            const bool ok = c->ws.readAvailable([&](int opcode, const std::uint8_t *data, size_t len) {
                onMessage(*c, opcode, data, len, now);
            });
            m_bytes += c->ws.bytesIn - before;
            if (!ok)
                markClosed(*c, "connection closed without a close frame");
            else if (c->ws.pendingWrite() > 0) // pongs
                flush(*c);
        }
    }
}

void Fanout::onMessage(Conn &c, int opcode, const std::uint8_t *data, size_t len, std::int64_t now)
{
    if (opcode == kClose) {
        const int code = len >= 2 ? (data[0] << 8) | data[1] : 0;
        std::string why = "close " + std::to_string(code);
        if (len > 2)
            why += ": " + std::string(reinterpret_cast<const char *>(data) + 2, len - 2);
        markClosed(c, why);
        return;
    }
    if (opcode == kText) {
        if (m_kind == ServerKind::SocketIo && len == 1 && data[0] == '2') { // Engine.IO ping
            c.ws.queueFrame(kText, "3", 1);
            flush(c);
        }
        return;
    }
    if (opcode != kBinary)
        return;
    std::uint64_t seq = 0, opId = 0, author = 0;
    if (!scanOp(data, len, &seq, &opId, &author)) {
        if (len > 0 && data[0] == ((3 << 3) | 2)) {
            ++m_errors;
            pb::Envelope e;
            if (e.ParseFromArray(data, int(len))) {
                ++m_errorMessages[e.error().message()];
                // A refused op reaches nobody: not owed to the members.
                if (e.error().client_op_id() != 0 && c.publisher >= 0)
                    ++c.refusedByServer;
            }
        }
        return;
    }
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
    ++c.countFrom[size_t(pub)];
    // Each publisher's ops reach every member in the order sent, so one without its id is the
    // one after the last seen from that publisher.
    std::uint64_t &last = c.lastFrom[size_t(pub)];
    if (opId == 0)
        opId = last + 1;
    else if (opId <= last)
        ++m_outOfOrder;
    else if (m_kind != ServerKind::Scrawl && opId > last + 1)
        m_skipped += opId - last - 1; // a relay passes every op on with its id
    if (m_kind == ServerKind::Scrawl) {
        // Scrawl numbers the wall's ops 1, 2, 3... and sends every member all of them in order
        // (it refuses an op before numbering it), so a gap is a loss, whoever's ops they were.
        // A stroke's points and end come unnumbered: the one after the last.
        if (seq == 0)
            seq = c.lastSeq + 1;
        if (c.lastSeq != 0 && seq > c.lastSeq + 1)
            m_skipped += seq - c.lastSeq - 1;
        c.lastSeq = std::max(c.lastSeq, seq);
    }
    last = std::max(last, opId);
    const std::int64_t sentAt = m_publishers[size_t(pub)]->sentAt[opId & (kRing - 1)];
    if (sentAt >= m_wStart && sentAt < m_wEnd) {
        const double ms = double(now - sentAt) / 1e6;
        m_latency.add(ms);
        if (m_series && m_series->size() < m_series->capacity())
            m_series->emplace_back(sentAt - m_wStart, ms);
    }
}

std::string jsonString(const std::string &text)
{
    std::string out = "\"";
    for (const char ch : text) {
        if (ch == '"' || ch == '\\')
            out += {'\\', ch};
        else if (std::uint8_t(ch) < 0x20)
            out += ' ';
        else
            out += ch;
    }
    return out + "\"";
}

std::string summarize(const std::map<std::string, int> &counts, size_t limit)
{
    std::vector<std::pair<int, std::string>> byCount;
    for (const auto &[text, n] : counts)
        byCount.emplace_back(n, text);
    std::sort(byCount.rbegin(), byCount.rend());
    std::ostringstream out;
    for (size_t i = 0; i < byCount.size() && i < limit; ++i)
        out << (i ? "; " : "") << byCount[i].second << " (" << byCount[i].first << ")";
    if (byCount.size() > limit)
        out << "; ...";
    return out.str();
}

} // namespace scrawl::bench
