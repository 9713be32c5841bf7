// scrawl-bench strokes: bytes on the wire per stroke point for natural pen strokes, through the
// real server. A sender draws strokes the way the app sends them (StrokeBegin with the first
// point, StrokePoints batches as core/points.h says, StrokeEnd with the rest); every byte of those
// WebSocket frames is counted going up (sender -> server) and coming down (server -> another
// member). --batch-ms and --batch-points measure other batchings.

#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/limits.h"
#include "core/points.h"

#include <google/protobuf/repeated_field.h>
#include <google/protobuf/wire_format_lite.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace scrawl::bench {

namespace {

// The points alone, in the path code the protocol sends (core/points.h) and in protocol 1's
// x,y deltas (a packed sint32 field) for comparison: packed-field bytes, no tag or length.
size_t pathCost(const std::vector<FixedPoint> &points)
{
    google::protobuf::RepeatedField<std::uint64_t> path;
    encodePath(points, {}, &path);
    return google::protobuf::internal::WireFormatLite::UInt64Size(path);
}

size_t deltaCost(const std::vector<FixedPoint> &points)
{
    google::protobuf::RepeatedField<std::int32_t> deltas;
    encodeDeltas(points, {}, &deltas);
    return google::protobuf::internal::WireFormatLite::SInt32Size(deltas);
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
    Batching batching;
    batching.delayMs = args.number("batch-ms", batching.delayMs);
    batching.points = int(args.integer("batch-points", batching.points));
    const std::vector<double> rates = parseNumbers(args.text("hz", "120,200,240"));
    pinSelf(int(args.integer("client-cpu", 1)));
    ServerProcess server = ServerProcess::start(ServerKind::Scrawl, int(args.integer("server-cpu", 0)));

    std::string error;
    RawWs watcher;
    if (!watcher.connect(server.port, "/", &error))
        die(error);
    scrawlHello(watcher, "watcher");
    scrawlJoin(watcher, "strokes");

    std::printf("Bytes on the wire per stroke point: %d strokes of %d pen samples, a batch sent at %d "
                "points or after %.0f ms; WebSocket frame headers included, TCP/IP headers not.\n",
                strokes, points, batching.points, batching.delayMs);
    std::printf("%6s %8s %9s %10s %10s %12s %12s %9s %9s\n", "pen Hz", "points", "ops", "pts/batch",
                "up B/pt", "down B/pt", "1-msg B/pt", "path B/pt", "p1 B/pt");
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
        std::uint64_t pathPointBytes = 0, deltaPointBytes = 0;
        // Numbered as the app numbers them: from the time in microseconds, one up each, the
        // first op on the connection with its id and the rest without (it is implied).
        const auto firstOpId = std::uint64_t(
            std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count());
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
            // Stroke ids as an app some weeks in use has them (two varint bytes).
            auto ops = appStrokeOps(samples, std::uint32_t(1000 + s), batching);
            const auto grid = toGrid(samples);
            gridPoints += grid.size();
            // The same stroke as one message (how a snapshot or a finished stroke could travel).
            pb::Envelope whole;
            auto *b = whole.mutable_op()->mutable_stroke_begin();
            b->set_id(1);
            b->set_color(0x1e88e5);
            b->set_width(3);
            encodePoints(grid, {}, b);
            oneMessageBytes += whole.ByteSizeLong() + 6;
            pathPointBytes += pathCost(grid);
            deltaPointBytes += deltaCost(grid);
            for (pb::Op &op : ops) {
                if (op.has_stroke_points() || op.stroke_end().path_size() > 0)
                    ++batches;
                if (opCount == 0)
                    op.set_client_op_id(firstOpId);
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
        const double path = double(pathPointBytes) / double(gridPoints);
        const double delta = double(deltaPointBytes) / double(gridPoints);
        std::printf("%6.0f %8llu %9llu %10.2f %10.2f %12.2f %12.2f %9.2f %9.2f\n", hz,
                    (unsigned long long)gridPoints, (unsigned long long)opCount, perBatch, up, down, one,
                    path, delta);
        std::ostringstream json;
        json << "{\"bench\":\"strokes\",\"hz\":" << hz << ",\"points\":" << gridPoints
             << ",\"ops\":" << opCount << ",\"points_per_batch\":" << perBatch
             << ",\"up_bytes_per_point\":" << up << ",\"down_bytes_per_point\":" << down
             << ",\"one_message_bytes_per_point\":" << one << ",\"batch_ms\":" << batching.delayMs
             << ",\"batch_points\":" << batching.points
             << ",\"path_point_bytes_per_point\":" << path
             << ",\"protocol1_point_bytes_per_point\":" << delta << "}";
        result(json.str());
    }
    server.stop();
    return 0;
}

} // namespace scrawl::bench
