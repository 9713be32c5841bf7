#include "bench/soakcrowd.h"

#include "bench/rawws.h"
#include "bench/strokegen.h"

#include "core/limits.h"
#include "core/protocol.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <random>
#include <set>
#include <sstream>
#include <string_view>

namespace scrawl::bench {

namespace {

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
    return true;
}

struct OutOp
{
    std::uint64_t id = 0;
    std::string bytes; // the serialised Envelope
    std::int64_t madeNs = 0;
    bool done = false; // acknowledged or refused
    bool sent = false; // written on some connection already
};

struct Acked
{
    std::uint64_t author = 0; // the identity the client had when acknowledged
    std::uint64_t clientOpId = 0;
    std::uint64_t seq = 0;
    std::uint64_t hash = 0;
    std::int64_t madeNs = 0;
    std::int64_t atNs = 0;
};

enum class State { Down, Greeting, Joining, Live };

} // namespace

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
        if (tag != ((1 << 3) | 0) && tag != ((2 << 3) | 0))
            rest.append(reinterpret_cast<const char *>(p) + start, i - start);
    }
    return hashBytes(rest.data(), rest.size());
}

SoakPace SoakPace::fromArgs(const Args &args)
{
    SoakPace pace;
    pace.pauseMinMs = args.number("pause-min-ms", pace.pauseMinMs);
    pace.pauseMaxMs = args.number("pause-max-ms", pace.pauseMaxMs);
    pace.chatEvery = args.number("chat-every", pace.chatEvery);
    pace.hz = args.number("hz", pace.hz);
    return pace;
}

// One simulated person.
struct SoakCrowd::Client
{
    int index = 0;
    std::unique_ptr<RawWs> ws;
    State state = State::Down;
    bool wantOut = false;
    std::string token;
    std::uint64_t userId = 0;
    std::vector<std::uint64_t> identities; // every user id it was welcomed with, in order
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

struct SoakCrowd::Watch
{
    int fd = -1;
    std::function<void()> onReadable;
};

SoakCrowd::SoakCrowd(std::string wall, int clients, SoakPace pace, std::function<std::uint16_t(int)> portFor)
    : m_wall(std::move(wall)), m_pace(pace), m_portFor(std::move(portFor))
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

SoakCrowd::~SoakCrowd()
{
    closeAll();
    ::close(m_epoll);
}

double SoakCrowd::uniform(Client &c)
{
    return std::uniform_real_distribution<double>(0, 1)(c.rng);
}

std::int64_t SoakCrowd::pause(Client &c)
{
    return std::int64_t((m_pace.pauseMinMs + (m_pace.pauseMaxMs - m_pace.pauseMinMs) * uniform(c)) * 1e6);
}

void SoakCrowd::joinAll(int timeoutSeconds)
{
    for (auto &c : m_clients) {
        if (!connect(*c))
            die("client " + std::to_string(c->index) + " could not connect");
        pump(0);
    }
    const std::int64_t deadline = nowNs() + timeoutSeconds * kSecond;
    while (live() < clients() && nowNs() < deadline)
        pump(10'000'000);
    if (live() < clients())
        die("not every client joined within " + std::to_string(timeoutSeconds) + " s");
}

void SoakCrowd::startDrawing(std::int64_t now)
{
    m_drawing = true;
    for (auto &c : m_clients)
        c->nextDue = now + std::int64_t(uniform(*c) * m_pace.pauseMaxMs * 1e6);
}

void SoakCrowd::stopDrawing(std::int64_t)
{
    m_drawing = false;
}

std::int64_t SoakCrowd::act(std::int64_t now, bool *busy)
{
    std::int64_t due = now + kSecond;
    *busy = m_drawing;
    for (auto &c : m_clients) {
        tick(*c, now);
        if (c->state == State::Down && now >= c->reconnectAt)
            connect(*c);
        if (c->nextDue > 0)
            due = std::min(due, c->nextDue), *busy = true;
        if (c->state == State::Down)
            due = std::min(due, c->reconnectAt);
    }
    return due;
}

// The person's next action, when it is due: a stroke batch, a chat line, or a pause.
void SoakCrowd::tick(Client &c, std::int64_t now)
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
        if (uniform(c) * m_pace.chatEvery < 1) {
            pb::Op op;
            op.mutable_chat()->set_text("soak line " + std::to_string(c.nextOpId + 1) + " from person "
                                        + std::to_string(c.index) + " \xe2\x9c\x8f");
            make(c, std::move(op));
            c.nextDue = now + pause(c);
            continue;
        }
        const int points = 50 + int(uniform(c) * 101);
        c.stroke = appStroke(c.gen->next(points, m_pace.hz), ++c.strokeId, c.color, c.batching);
        c.strokePos = 0;
        c.strokeStart = now;
    }
}

// A new op: numbered, kept in the outbox until acknowledged, sent now when connected.
void SoakCrowd::make(Client &c, pb::Op op)
{
    op.set_client_op_id(++c.nextOpId);
    pb::Envelope env;
    *env.mutable_op() = std::move(op);
    OutOp out;
    out.id = c.nextOpId;
    out.bytes = env.SerializeAsString();
    out.madeNs = nowNs();
    c.outbox.push_back(std::move(out));
    ++c.made;
    ++m_made;
    if (c.state == State::Live)
        sendPending(c);
}

void SoakCrowd::sendPending(Client &c)
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

bool SoakCrowd::connect(Client &c)
{
    c.ws = std::make_unique<RawWs>();
    std::string error;
    if (!c.ws->connect(m_portFor(c.index), "/", &error)) {
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

void SoakCrowd::scheduleReconnect(Client &c)
{
    // As the app does: 0.5 s doubling to 10 s, with jitter so that 200 clients do not arrive in
    // one burst.
    c.reconnectAt = nowNs() + std::int64_t(c.backoffMs * (0.5 + uniform(c)) * 1e6);
    c.backoffMs = std::min(10000, c.backoffMs * 2);
}

void SoakCrowd::disconnect(Client &c)
{
    if (c.ws)
        c.ws->close(); // closing the fd takes it out of the epoll set
    c.ws.reset();
    if (c.state == State::Live)
        ++m_drops;
    c.state = State::Down;
    scheduleReconnect(c);
}

void SoakCrowd::flush(Client &c)
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

void SoakCrowd::watch(int fd, std::function<void()> onReadable)
{
    auto w = std::make_unique<Watch>();
    w->fd = fd;
    w->onReadable = std::move(onReadable);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = w.get();
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
    m_watches.push_back(std::move(w));
}

void SoakCrowd::unwatch(int fd)
{
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
    // Kept, not freed: an event for it may be in the batch pump() is working through.
    for (auto &w : m_watches) {
        if (w->fd == fd)
            w->fd = -1;
    }
}

void SoakCrowd::pump(std::int64_t timeoutNs)
{
    timeoutNs = std::max<std::int64_t>(0, timeoutNs);
    timespec ts{time_t(timeoutNs / kSecond), long(timeoutNs % kSecond)};
    epoll_event events[256];
    const int n = epoll_pwait2(m_epoll, events, 256, &ts, nullptr);
    for (int i = 0; i < n; ++i) {
        void *ptr = events[i].data.ptr;
        const auto watched = std::find_if(m_watches.begin(), m_watches.end(),
                                          [ptr](const auto &w) { return w.get() == ptr; });
        if (watched != m_watches.end()) {
            if ((*watched)->fd >= 0)
                (*watched)->onReadable();
            continue;
        }
        auto *c = static_cast<Client *>(ptr);
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

void SoakCrowd::onMessage(Client &c, const std::uint8_t *data, size_t len)
{
    if (len > 1 && data[0] == ((6 << 3) | 2)) { // Envelope.op: the hot path, not parsed
        size_t i = 1;
        std::uint64_t opLen;
        if (!readVarint(data, len, i, &opLen) || i + opLen > len)
            die("unparsable op from the server");
        deliver(c, data + i, size_t(opLen), false);
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
        if (c.identities.empty() || c.identities.back() != c.userId)
            c.identities.push_back(c.userId);
        pb::Envelope join;
        join.mutable_join()->set_wall(m_wall);
        join.mutable_join()->set_last_seq(c.maxSeq);
        const std::string bytes = join.SerializeAsString();
        c.ws->queueFrame(kBinary, bytes.data(), bytes.size());
        c.state = State::Joining;
        flush(c);
        break;
    }
    case pb::Envelope::kJoined: {
        const pb::Joined &j = env.joined();
        if (j.has_snapshot() && (j.snapshot().seq() > 0 || c.maxSeq > 0)) {
            // Its ops up to snapshot.seq cannot be checked one by one.
            ++c.snapshotJoins;
            std::fprintf(stderr, "soak: client %d got a snapshot at seq %llu (last seen %llu)\n", c.index,
                         (unsigned long long)j.snapshot().seq(), (unsigned long long)c.maxSeq);
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
            m_errorSamples.push_back("client " + std::to_string(c.index) + ": code " + std::to_string(int(e.code()))
                                     + " op " + std::to_string(e.client_op_id()) + ": " + e.message());
        // Storage unavailable and limits are "send it again later": the op stays in the outbox
        // and goes again after the next reconnect. Anything else refuses it for good.
        if (e.client_op_id() > 0 && !c.outbox.empty() && e.code() != pb::STORAGE_UNAVAILABLE
            && e.code() != pb::LIMIT_EXCEEDED) {
            const std::uint64_t first = c.outbox.front().id;
            if (e.client_op_id() >= first && e.client_op_id() < first + c.outbox.size()) {
                c.outbox[size_t(e.client_op_id() - first)].done = true;
                ++c.refused;
                while (!c.outbox.empty() && c.outbox.front().done)
                    c.outbox.pop_front();
            }
        }
        break;
    }
    default:
        break; // presence, cursors
    }
}

// One op as this client received it: a broadcast, an ack of its own, or part of Joined.
void SoakCrowd::deliver(Client &c, const std::uint8_t *op, size_t len, bool fromJoined)
{
    OpHead head;
    if (!scanOpHead(op, len, &head))
        die("an unparsable op from the server");
    // Protocol 4: a live stroke's points and end come without their seq; every member gets
    // every op in order, so it is the one after the last.
    if (head.seq == 0)
        head.seq = c.maxSeq + 1;
    const std::uint64_t hash = hashOp(op, len);
    ++m_deliveries;
    if (head.seq >= m_hashBySeq.size())
        m_hashBySeq.resize(std::max<size_t>(head.seq + 1, m_hashBySeq.size() * 2), 0);
    std::uint64_t &known = m_hashBySeq[head.seq];
    if (!known)
        known = hash;
    else if (known != hash && m_contentMismatches++ < 10)
        std::fprintf(stderr, "soak: client %d got other bytes for seq %llu than another client\n", c.index,
                     (unsigned long long)head.seq);
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
    c.acked.push_back({c.userId, head.clientOpId, head.seq, hash, o.madeNs, nowNs()});
    ++m_acked;
    if (fromJoined)
        ++m_ackedOnRejoin; // stored before the connection was lost, its broadcast lost with it
    while (!c.outbox.empty() && c.outbox.front().done)
        c.outbox.pop_front();
}

double SoakCrowd::drain(double capSeconds)
{
    const std::int64_t start = nowNs();
    const std::int64_t cap = start + std::int64_t(capSeconds * 1e9);
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
    const double seconds = double(nowNs() - start) / 1e9;
    const std::int64_t quiet = nowNs() + kSecond;
    while (nowNs() < quiet)
        pump(10'000'000);
    return seconds;
}

void SoakCrowd::closeAll()
{
    for (auto &c : m_clients)
        c->ws.reset();
}

std::uint64_t SoakCrowd::freshJoinHead(std::uint16_t port) const
{
    RawWs ws;
    std::string error;
    if (!ws.connect(port, "/", &error))
        return 0;
    pb::Envelope joined;
    if (!scrawlHello(ws, "fresh") || !scrawlJoin(ws, m_wall, &joined))
        return 0;
    return joined.joined().head_seq();
}

int SoakCrowd::live() const
{
    int n = 0;
    for (const auto &c : m_clients)
        n += c->state == State::Live;
    return n;
}

std::uint64_t SoakCrowd::unacknowledged() const
{
    std::uint64_t n = 0;
    for (const auto &c : m_clients)
        n += c->outbox.size();
    return n;
}

bool SoakCrowd::settledBefore(std::int64_t t) const
{
    for (const auto &c : m_clients) {
        if (!c->outbox.empty() && c->outbox.front().madeNs < t)
            return false;
    }
    return true;
}

std::vector<double> SoakCrowd::ackLatenciesMs(std::int64_t from, std::int64_t to) const
{
    std::vector<double> out;
    for (const auto &c : m_clients) {
        for (const Acked &a : c->acked) {
            if (a.madeNs >= from && a.madeNs < to)
                out.push_back(double(a.atNs - a.madeNs) / 1e6);
        }
    }
    return out;
}

std::uint64_t SoakCrowd::ackedBefore(std::int64_t t) const
{
    return ackedBetween(0, t);
}

std::uint64_t SoakCrowd::ackedBetween(std::int64_t from, std::int64_t to) const
{
    std::uint64_t n = 0;
    for (const auto &c : m_clients) {
        for (const Acked &a : c->acked)
            n += a.atNs >= from && a.atNs < to;
    }
    return n;
}

SoakCheck SoakCrowd::verify(const std::vector<StoredOp> &stored, std::uint64_t storedDuplicates,
                            std::int64_t start) const
{
    SoakCheck k;
    k.head = stored.empty() ? 0 : stored.size() - 1; // stored[seq], seq from 1
    k.storedDuplicates = storedDuplicates;
    for (std::uint64_t s = 1; s <= k.head; ++s) {
        k.storeGaps += stored[s].hash == 0;
        k.stored += stored[s].hash != 0;
    }

    // Acknowledged ops: stored at the seq the ack named, with the same bytes, by the same author.
    std::set<std::uint64_t> lostSeqs;
    std::vector<bool> ackedSeq(k.head + 1, false);
    for (const auto &c : m_clients) {
        k.made += c->made;
        k.sends += c->sends;
        k.resends += c->resends;
        k.refused += c->refused;
        k.unacked += c->outbox.size();
        k.connects += c->connects;
        k.snapshotJoins += c->snapshotJoins;
        k.resumeFailures += c->resumeFailures;
        std::set<std::uint64_t> ids;
        for (const Acked &a : c->acked) {
            ++k.acked;
            if (!ids.insert(a.clientOpId).second)
                ++k.doubleAcks;
            if (a.seq <= k.head)
                ackedSeq[a.seq] = true;
            const bool ok = a.seq <= k.head && stored[a.seq].hash == a.hash && stored[a.seq].author == a.author
                         && stored[a.seq].clientOpId == a.clientOpId;
            if (ok)
                continue;
            ++k.lostFromStorage;
            lostSeqs.insert(a.seq);
            if (k.lostSamples.size() < 20) {
                std::ostringstream s;
                s << "client " << c->index << " (user " << a.author << ") op " << a.clientOpId << " acked as seq "
                  << a.seq << " at t=" << double(a.atNs - start) / 1e9 << " s: storage has "
                  << (a.seq > k.head || !stored[a.seq].hash
                          ? std::string("nothing")
                          : "user " + std::to_string(stored[a.seq].author) + " op "
                                + std::to_string(stored[a.seq].clientOpId)
                                + (stored[a.seq].hash == a.hash ? "" : " (other bytes)"))
                  << " there";
                k.lostSamples.push_back(s.str());
            }
        }
    }

    // One person's op stored under two of their identities (a resend after the server welcomed
    // them as someone new): applied twice, which no (author, client op id) check can catch.
    std::map<std::uint64_t, int> personOf;
    for (const auto &c : m_clients) {
        for (const std::uint64_t id : c->identities)
            personOf[id] = c->index;
    }
    std::set<std::pair<int, std::uint64_t>> personOps;
    for (std::uint64_t s = 1; s <= k.head; ++s) {
        const auto person = personOf.find(stored[s].author);
        if (stored[s].hash && stored[s].clientOpId && person != personOf.end()
            && !personOps.insert({person->second, stored[s].clientOpId}).second)
            ++k.storedTwice;
    }

    // Every client's final view against storage: each stored seq once, with the stored bytes.
    std::uint64_t contentVsStore = 0;
    for (std::uint64_t s = 1; s < m_hashBySeq.size(); ++s) {
        if (m_hashBySeq[s] && (s > k.head || stored[s].hash != m_hashBySeq[s]))
            ++contentVsStore;
    }
    k.otherBytes = contentVsStore + m_contentMismatches;
    k.minDistinct = ~0ULL;
    for (const auto &c : m_clients) {
        std::uint64_t missing = 0, phantom = 0;
        for (std::uint64_t s = 1; s <= k.head; ++s) {
            if (!stored[s].hash) {
                phantom += c->has(s); // a gap in storage that this client holds
                continue;
            }
            if (!c->has(s)) {
                ++missing;
                if (ackedSeq[s])
                    lostSeqs.insert(s);
                if (k.lostSamples.size() < 20)
                    k.lostSamples.push_back("client " + std::to_string(c->index) + " never received seq "
                                            + std::to_string(s));
            }
        }
        for (std::uint64_t s = k.head + 1; s < c->seen.size() * 64; ++s)
            phantom += c->has(s);
        k.viewMissing += missing;
        k.viewPhantom += phantom;
        k.duplicates += c->duplicates;
        k.clientsExact += missing == 0 && phantom == 0;
        k.minDistinct = std::min(k.minDistinct, c->distinct);
        k.maxDistinct = std::max(k.maxDistinct, c->distinct);
    }
    if (m_clients.empty())
        k.minDistinct = 0;
    k.lost = lostSeqs.size();
    return k;
}

} // namespace scrawl::bench
