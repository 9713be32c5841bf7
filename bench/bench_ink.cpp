// scrawl-bench ink: bytes on the wire per stroke point when strokes are sent the way the app
// sends them now, live: a client draws natural pen strokes in real time (samples at the pen's
// rate, as they would come from the hand) through the real server, pacing its batches with the
// app's own StrokePacer (core/points.h) on the acknowledgements that really come back. So the
// batches are as big as the link makes them: one a frame on loopback, one a round trip on a slow
// link. --rtt 100 puts a delay proxy (tests/support/faultproxy.h, Slow mode: half the round trip
// each way) between both clients and the server. Every byte of the WebSocket frames is counted
// going up (sender -> server) and coming down (server -> another member).

#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/points.h"
#include "tests/support/faultproxy.h"

#include <QEventLoop>
#include <QThread>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <sstream>

namespace scrawl::bench {

namespace {

// A FaultProxy in Slow mode on a thread of its own (its sockets need an event loop; the
// benchmark's clients block).
class DelayProxy
{
public:
    DelayProxy(std::uint16_t target, int oneWayMs)
    {
        std::promise<std::uint16_t> port;
        auto ready = port.get_future();
        m_thread.reset(QThread::create([this, target, oneWayMs, &port] {
            test::FaultProxy proxy(target);
            if (!proxy.listen()) {
                port.set_value(0);
                return;
            }
            proxy.setMode(test::FaultProxy::Mode::Slow, oneWayMs);
            QEventLoop loop;
            m_loop = &loop;
            port.set_value(proxy.port());
            loop.exec();
            m_loop = nullptr;
        }));
        m_thread->start();
        m_port = ready.get();
        if (m_port == 0)
            die("the delay proxy could not listen");
    }
    ~DelayProxy()
    {
        if (QEventLoop *loop = m_loop.load())
            QMetaObject::invokeMethod(loop, &QEventLoop::quit, Qt::QueuedConnection);
        m_thread->wait();
    }
    std::uint16_t port() const { return m_port; }

private:
    std::unique_ptr<QThread> m_thread;
    std::atomic<QEventLoop *> m_loop{nullptr};
    std::uint16_t m_port = 0;
};

double msSince(std::int64_t startNs) { return double(nowNs() - startNs) / 1e6; }

// The sender's side of one connection: numbers ops as the app does (the first with its id,
// the rest one up and without it) and reads the acknowledgements that come back.
struct Sender
{
    RawWs ws;
    std::uint64_t nextOpId = 0;
    std::uint64_t lastSent = 0;
    std::uint64_t ops = 0;
    std::uint64_t acked = 0;

    std::uint64_t send(pb::Op op)
    {
        const std::uint64_t id = ++nextOpId;
        if (lastSent != 0 && id == lastSent + 1)
            op.clear_client_op_id();
        else
            op.set_client_op_id(id);
        lastSent = id;
        pb::Envelope env;
        *env.mutable_op() = std::move(op);
        const std::string bytes = env.SerializeAsString();
        ws.queueFrame(kBinary, bytes.data(), bytes.size());
        ws.flushBlocking();
        ++ops;
        return id;
    }

    // Reads for up to timeoutMs; calls onAck(client_op_id) for each of our ops that came back.
    template <typename F>
    void read(double timeoutMs, F &&onAck)
    {
        int opcode = 0;
        std::string payload;
        int wait = std::max(0, int(timeoutMs));
        while (ws.readMessage(&opcode, &payload, wait)) {
            wait = 0;
            pb::Envelope env;
            if (opcode != kBinary || !env.ParseFromString(payload))
                continue;
            if (env.has_error())
                die("the server refused an op: " + env.error().message());
            if (env.has_op() && env.op().client_op_id() != 0) {
                ++acked;
                onAck(env.op().client_op_id());
            }
        }
    }
};

struct StrokeStats
{
    std::uint64_t points = 0;
    std::uint64_t batches = 0; // StrokePoints ops and StrokeEnds carrying points
};

// Draws one stroke in real time, as WallClient::beginStroke/extendStroke/endStroke send it.
void drawLive(Sender &s, const std::vector<PenSample> &samples, std::uint32_t id, StrokeStats *stats)
{
    const std::int64_t t0 = nowNs();
    std::vector<FixedPoint> points{toFixed(QPointF(samples[0].x, samples[0].y))};
    StrokePacer pacer;
    {
        pb::Op op;
        auto *b = op.mutable_stroke_begin();
        b->set_id(id);
        b->set_color(0x1e88e5);
        b->set_width(3);
        encodePoints(points, {}, b);
        pacer.sent(s.send(std::move(op)), 0);
    }
    size_t sent = 1;
    double waitingSince = 0;
    const auto sendWaiting = [&](auto *message) {
        const std::vector<FixedPoint> chunk(points.begin() + long(sent), points.end());
        encodePoints(chunk, tailOf(points, sent), message);
        sent = points.size();
    };
    size_t i = 1;
    while (i < samples.size()) {
        const double now = msSince(t0);
        const bool waiting = sent < points.size();
        double next = samples[i].ms;
        if (waiting)
            next = std::min(next, double(pacer.dueMs(std::int64_t(waitingSince))));
        if (next > now)
            s.read(next - now, [&](std::uint64_t opId) { pacer.acknowledged(opId); });
        const double at = msSince(t0);
        while (i < samples.size() && samples[i].ms <= at) {
            const FixedPoint p = toFixed(QPointF(samples[i].x, samples[i].y));
            ++i;
            if (p == points.back())
                continue;
            if (sent == points.size())
                waitingSince = at;
            points.push_back(p);
        }
        if (sent < points.size() && pacer.dueMs(std::int64_t(waitingSince)) <= std::int64_t(at)) {
            pb::Op op;
            op.mutable_stroke_points()->set_id(id);
            sendWaiting(op.mutable_stroke_points());
            pacer.sent(s.send(std::move(op)), std::int64_t(at));
            ++stats->batches;
        }
    }
    pb::Op end; // pen up: the rest ride in the end
    end.mutable_stroke_end()->set_id(id);
    if (sent < points.size()) {
        sendWaiting(end.mutable_stroke_end());
        ++stats->batches;
    }
    s.send(std::move(end));
    stats->points += points.size();
}

} // namespace

int runInk(const Args &args)
{
    const int strokes = int(args.integer("strokes", 20));
    const int points = int(args.integer("points", 200));
    const double hz = args.number("hz", 200);
    const std::vector<double> rtts = parseNumbers(args.text("rtt", "0,100"));
    pinSelf(int(args.integer("client-cpu", 1)));
    ServerProcess server = ServerProcess::start(ServerKind::Scrawl, int(args.integer("server-cpu", 0)));

    std::printf("Bytes on the wire per stroke point, strokes sent live as the app sends them (batches "
                "paced by acknowledgements, core/points.h StrokePacer): %d strokes of %d pen samples "
                "at %.0f Hz drawn in real time; WebSocket frame headers included, TCP/IP headers not.\n",
                strokes, points, hz);
    std::printf("%8s %8s %8s %10s %10s %12s\n", "RTT ms", "points", "ops", "pts/batch", "up B/pt",
                "down B/pt");
    StrokeGen gen(42);
    for (const double rtt : rtts) {
        std::unique_ptr<DelayProxy> proxy;
        if (rtt > 0)
            proxy = std::make_unique<DelayProxy>(server.port, int(rtt / 2));
        const std::uint16_t port = proxy ? proxy->port() : server.port;
        const std::string wall = "ink-" + std::to_string(int(rtt));
        std::string error;
        RawWs watcher;
        if (!watcher.connect(port, "/", &error))
            die(error);
        scrawlHello(watcher, "watcher");
        scrawlJoin(watcher, wall);
        Sender sender;
        if (!sender.ws.connect(port, "/", &error))
            die(error);
        scrawlHello(sender.ws, "sender");
        scrawlJoin(sender.ws, wall);
        sender.nextOpId = std::uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
        // Presence of the sender reached the watcher: read it before counting.
        std::string skip;
        int skipOp;
        while (watcher.readMessage(&skipOp, &skip, int(200 + rtt))) {
        }

        const std::uint64_t upBefore = sender.ws.bytesOut, downBefore = watcher.bytesIn;
        StrokeStats stats;
        for (int k = 0; k < strokes; ++k) {
            const auto samples = gen.next(points, hz);
            drawLive(sender, samples, std::uint32_t(1000 + k), &stats);
            // A pause between strokes, as a hand lifts; the last acks come in meanwhile.
            sender.read(150 + rtt, [](std::uint64_t) {});
        }
        const std::int64_t deadline = nowNs() + 10'000'000'000LL;
        while (sender.acked < sender.ops && nowNs() < deadline)
            sender.read(100, [](std::uint64_t) {});
        if (sender.acked < sender.ops)
            die("the sender did not receive every ack");
        std::uint64_t got = 0;
        while (got < sender.ops) {
            int opcode = 0;
            std::string payload;
            if (!watcher.readMessage(&opcode, &payload, 10000))
                die("the watcher did not receive every op");
            pb::Envelope env;
            if (opcode == kBinary && env.ParseFromString(payload) && env.has_op())
                ++got;
        }
        const double up = double(sender.ws.bytesOut - upBefore) / double(stats.points);
        const double down = double(watcher.bytesIn - downBefore) / double(stats.points);
        const double perBatch = double(stats.points - std::uint64_t(strokes)) / double(stats.batches);
        std::printf("%8.0f %8llu %8llu %10.2f %10.2f %12.2f\n", rtt, (unsigned long long)stats.points,
                    (unsigned long long)sender.ops, perBatch, up, down);
        std::ostringstream json;
        json << "{\"bench\":\"ink\",\"hz\":" << hz << ",\"rtt_ms\":" << rtt << ",\"points\":"
             << stats.points << ",\"ops\":" << sender.ops << ",\"points_per_batch\":" << perBatch
             << ",\"up_bytes_per_point\":" << up << ",\"down_bytes_per_point\":" << down << "}";
        result(json.str());
    }
    server.stop();
    return 0;
}

} // namespace scrawl::bench
