// scrawl-bench strokes: bytes on the wire per stroke point for natural pen strokes, through the
// real server. A sender draws strokes the way the app sends them (StrokeBegin with the first
// point, a StrokePoints batch per 16 ms frame, StrokeEnd); every byte of those WebSocket frames
// is counted going up (sender -> server) and coming down (server -> another member).

#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/limits.h"

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace scrawl::bench {

namespace {

size_t varintSize(std::uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

std::uint32_t zigzag(std::int32_t v) { return (std::uint32_t(v) << 1) ^ std::uint32_t(v >> 31); }

// The points as the protocol sends them: a zig-zag varint per coordinate delta.
size_t varintCost(const std::vector<FixedPoint> &points)
{
    size_t bytes = 0;
    FixedPoint previous{};
    for (const FixedPoint p : points) {
        bytes += varintSize(zigzag(p.x - previous.x)) + varintSize(zigzag(p.y - previous.y));
        previous = p;
    }
    return bytes;
}

// A denser code, for the record of what it would save (the protocol does not use it): after the
// first two points, each point is predicted to move as the one before it did; the x and y
// errors are zig-zagged, their bits interleaved (Morton order) and sent as one varint, so a
// point whose errors are both within ±3 quarter pixels costs one byte.
size_t denseCost(const std::vector<FixedPoint> &points)
{
    auto interleave = [](std::uint32_t x, std::uint32_t y) {
        std::uint64_t out = 0;
        for (int bit = 0; bit < 32; ++bit)
            out |= (std::uint64_t((x >> bit) & 1) << (2 * bit)) | (std::uint64_t((y >> bit) & 1) << (2 * bit + 1));
        return out;
    };
    size_t bytes = 0;
    for (size_t i = 0; i < points.size(); ++i) {
        std::int32_t px = 0, py = 0;
        if (i == 1) {
            px = points[0].x;
            py = points[0].y;
        } else if (i >= 2) {
            px = 2 * points[i - 1].x - points[i - 2].x;
            py = 2 * points[i - 1].y - points[i - 2].y;
        }
        bytes += varintSize(interleave(zigzag(points[i].x - px), zigzag(points[i].y - py)));
    }
    return bytes;
}

std::vector<double> parseList(const std::string &text)
{
    std::vector<double> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(std::atof(item.c_str()));
    return out;
}

// Reads until `count` op envelopes have arrived on ws.
bool awaitOps(RawWs &ws, size_t count)
{
    size_t got = 0;
    while (got < count) {
        int op = 0;
        std::string payload;
        if (!ws.readMessage(&op, &payload, 10000))
            return false;
        if (op == kBinary && !payload.empty() && std::uint8_t(payload[0]) == ((6 << 3) | 2))
            ++got;
        else if (op == kBinary && !payload.empty() && std::uint8_t(payload[0]) == ((3 << 3) | 2)) {
            pb::Envelope e;
            e.ParseFromString(payload);
            die("the server refused an op: " + e.error().message());
        }
    }
    return true;
}

} // namespace

int runStrokes(const Args &args)
{
    const int strokes = int(args.integer("strokes", 100));
    const int points = int(args.integer("points", 100));
    const double batchMs = args.number("batch-ms", 16);
    const std::vector<double> rates = parseList(args.text("hz", "120,200,240"));
    pinSelf(int(args.integer("client-cpu", 1)));
    ServerProcess server = ServerProcess::start(ServerKind::Scrawl, int(args.integer("server-cpu", 0)));

    std::string error;
    RawWs watcher;
    if (!watcher.connect(server.port, "/", &error))
        die(error);
    scrawlHello(watcher, "watcher");
    scrawlJoin(watcher, "strokes");

    std::printf("Bytes on the wire per stroke point: %d strokes of %d pen samples, batched per %.0f ms "
                "like the app; WebSocket frame headers included, TCP/IP headers not.\n",
                strokes, points, batchMs);
    std::printf("%6s %8s %9s %10s %10s %12s %12s %9s %9s %9s\n", "pen Hz", "points", "ops", "pts/batch",
                "up B/pt", "down B/pt", "1-msg B/pt", "dense", "dense up", "dense dn");
    StrokeGen gen(42);
    for (const double hz : rates) {
        // A new sender per rate: a fresh op budget (limit max_ops_per_second).
        RawWs sender;
        if (!sender.connect(server.port, "/", &error))
            die(error);
        scrawlHello(sender, "sender");
        scrawlJoin(sender, "strokes");
        // Presence of the sender reached the watcher: read it before counting.
        std::string skip;
        int skipOp;
        while (watcher.readMessage(&skipOp, &skip, 200)) {
        }

        std::uint64_t gridPoints = 0, opCount = 0, batches = 0, oneMessageBytes = 0;
        std::uint64_t varintPointBytes = 0, densePointBytes = 0;
        std::uint64_t clientOpId = 0;
        const std::uint64_t upBefore = sender.bytesOut, downBefore = watcher.bytesIn;
        // Stay within max_ops_per_second like a person would: on an idle machine a hundred
        // strokes sent back to back would otherwise outrun the burst allowance.
        const auto started = std::chrono::steady_clock::now();
        const auto paceOps = [&] {
            const double allowed = limits::kOpsBurst / 2.0
                + limits::kMaxOpsPerSecond * 0.8
                    * std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            if (double(opCount) > allowed)
                std::this_thread::sleep_for(std::chrono::duration<double>(
                    (double(opCount) - allowed) / (limits::kMaxOpsPerSecond * 0.8)));
        };
        for (int s = 0; s < strokes; ++s) {
            paceOps();
            const auto samples = gen.next(points, hz);
            auto ops = appStrokeOps(samples, std::uint32_t(s + 1), batchMs);
            const auto grid = toGrid(samples);
            gridPoints += grid.size();
            // The same stroke as one message (how a snapshot or a finished stroke could travel).
            pb::Envelope whole;
            auto *b = whole.mutable_op()->mutable_stroke_begin();
            b->set_id(1);
            b->set_color(0x1e88e5);
            b->set_width(3);
            encodeDeltas(grid, {}, b->mutable_points());
            whole.mutable_op()->set_client_op_id(clientOpId + 1);
            oneMessageBytes += whole.ByteSizeLong() + 6;
            varintPointBytes += varintCost(grid);
            densePointBytes += denseCost(grid);
            for (pb::Op &op : ops) {
                if (op.has_stroke_points())
                    ++batches;
                op.set_client_op_id(++clientOpId);
                pb::Envelope env;
                *env.mutable_op() = std::move(op);
                const std::string bytes = env.SerializeAsString();
                sender.queueFrame(kBinary, bytes.data(), bytes.size());
                ++opCount;
            }
            sender.flushBlocking();
            // Keep within the op budget: wait for this stroke's acks before the next.
            if (!awaitOps(watcher, ops.size()))
                die("the watcher did not receive every op");
        }
        if (!awaitOps(sender, opCount))
            die("the sender did not receive every ack");
        const double up = double(sender.bytesOut - upBefore) / double(gridPoints);
        const double down = double(watcher.bytesIn - downBefore) / double(gridPoints);
        const double perBatch = double(gridPoints - std::uint64_t(strokes)) / double(batches);
        const double one = double(oneMessageBytes) / double(gridPoints);
        // What a denser point code would save on the same strokes (not on the wire: an estimate).
        const double dense = double(densePointBytes) / double(gridPoints);
        const double saving = double(varintPointBytes - densePointBytes) / double(gridPoints);
        std::printf("%6.0f %8llu %9llu %10.2f %10.2f %12.2f %12.2f %9.2f %9.2f %9.2f\n", hz,
                    (unsigned long long)gridPoints, (unsigned long long)opCount, perBatch, up, down, one,
                    dense, up - saving, down - saving);
        std::ostringstream json;
        json << "{\"bench\":\"strokes\",\"hz\":" << hz << ",\"points\":" << gridPoints
             << ",\"ops\":" << opCount << ",\"points_per_batch\":" << perBatch
             << ",\"up_bytes_per_point\":" << up << ",\"down_bytes_per_point\":" << down
             << ",\"one_message_bytes_per_point\":" << one << ",\"batch_ms\":" << batchMs
             << ",\"varint_point_bytes_per_point\":" << double(varintPointBytes) / double(gridPoints)
             << ",\"dense_point_bytes_per_point\":" << dense << ",\"dense_up_estimate\":" << up - saving
             << ",\"dense_down_estimate\":" << down - saving << "}";
        result(json.str());
    }
    server.stop();
    return 0;
}

} // namespace scrawl::bench
