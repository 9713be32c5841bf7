// scrawl-bench join: fill a wall through the real server, then time fresh clients from TCP
// connect to a decoded snapshot applied to core's WallModel ("fully drawn" for this figure; the
// canvas's own paint time is tests/app/bench_canvas). The joining client uses QWebSocket, the
// app's transport, so the figure includes what Qt does with a message of many megabytes.

#include "bench/clusterrig.h"
#include "bench/common.h"
#include "bench/strokegen.h"

#include "core/limits.h"
#include "core/wallmodel.h"

#include <QEventLoop>
#include <QTimer>
#include <QWebSocket>

#include <cstdio>
#include <unistd.h>
#include <sstream>

namespace scrawl::bench {

namespace {

struct JoinTiming
{
    double connectMs = 0, welcomeMs = 0, joinedMs = 0, parseMs = 0, loadMs = 0, totalMs = 0;
    std::int64_t messageBytes = 0;
    std::uint64_t points = 0;
    size_t strokes = 0;
};

// One join with QWebSocket, timed in stages. Empty optional on failure.
std::optional<JoinTiming> timeJoin(std::uint16_t port, const std::string &wall)
{
    JoinTiming t;
    QWebSocket socket;
    socket.setMaxAllowedIncomingMessageSize(limits::kClientMaxIncomingBytes);
    socket.setMaxAllowedIncomingFrameSize(limits::kClientMaxIncomingBytes);
    QEventLoop loop;
    bool ok = false;
    const std::int64_t t0 = nowNs();
    std::int64_t tConnected = 0, tWelcome = 0;
    auto ms = [](std::int64_t a, std::int64_t b) { return double(b - a) / 1e6; };
    QObject::connect(&socket, &QWebSocket::connected, [&] {
        tConnected = nowNs();
        pb::Envelope env;
        auto *h = env.mutable_hello();
        h->set_protocol_version(kProtocolVersion);
        h->set_app_version("bench");
        h->set_display_name("joiner");
        socket.sendBinaryMessage(serialize(env));
    });
    QObject::connect(&socket, &QWebSocket::binaryMessageReceived, [&](const QByteArray &bytes) {
        const std::int64_t tIn = nowNs();
        if (bytes.isEmpty())
            return;
        const auto tag = std::uint8_t(bytes[0]);
        if (tag == ((2 << 3) | 2)) { // welcome
            tWelcome = tIn;
            pb::Envelope env;
            env.mutable_join()->set_wall(wall);
            socket.sendBinaryMessage(serialize(env));
            return;
        }
        if (tag != ((5 << 3) | 2)) // not joined
            return;
        pb::Envelope env;
        if (!parse(bytes, &env) || !env.joined().has_snapshot()) {
            loop.quit();
            return;
        }
        const std::int64_t tParsed = nowNs();
        WallModel model;
        if (model.load(env.joined().snapshot())) {
            loop.quit();
            return;
        }
        for (const pb::Op &op : env.joined().ops())
            model.apply(op);
        const std::int64_t tLoaded = nowNs();
        t.connectMs = ms(t0, tConnected);
        t.welcomeMs = ms(tConnected, tWelcome);
        t.joinedMs = ms(tWelcome, tIn);
        t.parseMs = ms(tIn, tParsed);
        t.loadMs = ms(tParsed, tLoaded);
        t.totalMs = ms(t0, tLoaded);
        t.messageBytes = bytes.size();
        t.points = model.totalPoints();
        t.strokes = model.strokes().size();
        ok = true;
        loop.quit();
    });
    QObject::connect(&socket, &QWebSocket::disconnected, &loop, &QEventLoop::quit);
    QTimer::singleShot(60000, &loop, &QEventLoop::quit);
    socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(port)));
    loop.exec();
    socket.abort();
    if (!ok)
        return std::nullopt;
    return t;
}

// Sends ops (client op ids filled here) and waits for every ack.
void sendAndAwait(RawWs &ws, std::vector<pb::Op> &ops, std::uint64_t *clientOpId)
{
    for (pb::Op &op : ops) {
        op.set_client_op_id(++*clientOpId);
        pb::Envelope env;
        *env.mutable_op() = std::move(op);
        const std::string bytes = env.SerializeAsString();
        ws.queueFrame(kBinary, bytes.data(), bytes.size());
    }
    ws.flushBlocking();
    size_t acked = 0;
    while (acked < ops.size()) {
        int opcode = 0;
        std::string payload;
        if (!ws.readMessage(&opcode, &payload, 60000))
            die("a filler waited 60 s for its acks");
        if (payload.empty())
            continue;
        if (std::uint8_t(payload[0]) == ((6 << 3) | 2))
            ++acked;
        else if (std::uint8_t(payload[0]) == ((3 << 3) | 2)) {
            pb::Envelope e;
            e.ParseFromString(payload);
            die("the server refused a filler op: " + e.error().message() + " (" + e.error().limit() + ")");
        }
    }
    ops.clear();
}

// Fills `wall` through the server on `port` with `strokes` strokes of about `perStroke` points:
// fillers one after another, each within its op burst (limit max_ops_per_second), each stroke
// one StrokeBegin with all its points plus a StrokeEnd. Returns the points drawn.
std::uint64_t fillWall(std::uint16_t port, const std::string &wall, long long strokes, int perStroke)
{
    StrokeGen gen(7);
    std::uint64_t points = 0;
    long long made = 0;
    int fillers = 0;
    const int opsPerFiller = limits::kOpsBurst - 200;
    std::string error;
    while (made < strokes) {
        RawWs filler;
        if (!filler.connect(port, "/", &error))
            die(error);
        scrawlHello(filler, "filler" + std::to_string(fillers++));
        scrawlJoin(filler, wall);
        std::uint64_t clientOpId = 0;
        std::vector<pb::Op> ops;
        for (int i = 0; i + 2 <= opsPerFiller && made < strokes; i += 2, ++made) {
            const auto samples = gen.next(perStroke, 200, 20000, 12500);
            const auto grid = toGrid(samples);
            points += grid.size();
            pb::Op begin;
            auto *b = begin.mutable_stroke_begin();
            b->set_id(std::uint32_t(i / 2 + 1));
            b->set_color(0x1e88e5);
            b->set_width(3);
            encodePoints(grid, {}, b);
            ops.push_back(std::move(begin));
            pb::Op end;
            end.mutable_stroke_end()->set_id(std::uint32_t(i / 2 + 1));
            ops.push_back(std::move(end));
            if (ops.size() >= 1000)
                sendAndAwait(filler, ops, &clientOpId);
        }
        sendAndAwait(filler, ops, &clientOpId);
    }
    return points;
}

} // namespace

int runJoin(const Args &args)
{
    const bool byStrokes = args.has("strokes");
    const int perStroke = int(args.integer("points-per-stroke", byStrokes ? 24 : 100));
    const long long strokes = byStrokes ? args.integer("strokes", 100000)
                                        : std::max(1LL, args.integer("points", 100000) / perStroke);
    const int runs = int(args.integer("runs", 5));
    pinSelf(int(args.integer("client-cpu", 1)));
    ServerProcess server = ServerProcess::start(ServerKind::Scrawl, int(args.integer("server-cpu", 0)));
    const std::string wall = "join";

    const std::int64_t fillStart = nowNs();
    const std::uint64_t points = fillWall(server.port, wall, strokes, perStroke);
    const double fillMs = double(nowNs() - fillStart) / 1e6;
    std::printf("filled wall: %lld strokes, %llu points, %.0f ms (%.0f ops/s)\n", strokes,
                (unsigned long long)points, fillMs, 2.0 * double(strokes) / fillMs * 1000);

    // Wire bytes of one join, counted by a raw client (the message plus its frame headers).
    std::string error;
    RawWs raw;
    if (!raw.connect(server.port, "/", &error))
        die(error);
    scrawlHello(raw, "counter");
    const std::uint64_t before = raw.bytesIn;
    pb::Envelope joined;
    if (!scrawlJoin(raw, wall, &joined))
        die("the raw join failed");
    const std::uint64_t wireBytes = raw.bytesIn - before;
    const std::uint64_t snapshotBytes = joined.joined().snapshot().ByteSizeLong();
    // The raw client stays on the wall and posts a chat line before each "active" join, so the
    // server must serialise a fresh snapshot (a wall in use changes between joins).
    std::uint64_t chatId = 0;

    std::vector<double> active, warm, joinedMs, parseMs, loadMs, welcomeMs;
    JoinTiming last;
    for (int r = 0; r < runs; ++r) {
        pb::Envelope chat;
        chat.mutable_op()->set_client_op_id(++chatId);
        chat.mutable_op()->mutable_chat()->set_text("joining " + std::to_string(r));
        sendEnvelope(raw, chat);
        std::string skip;
        int skipOp;
        while (raw.readMessage(&skipOp, &skip, 100)) {
        }
        const auto a = timeJoin(server.port, wall);
        const auto w = timeJoin(server.port, wall);
        while (raw.readMessage(&skipOp, &skip, 10)) {
        }
        if (!a || !w)
            die("a timed join failed");
        active.push_back(a->totalMs);
        warm.push_back(w->totalMs);
        joinedMs.push_back(a->joinedMs);
        parseMs.push_back(a->parseMs);
        loadMs.push_back(a->loadMs);
        last = *a;
        std::printf("  run %d: after a change %.1f ms (connect %.1f, hello->welcome %.1f, join->joined "
                    "%.1f, parse %.1f, load %.1f); unchanged wall %.1f ms\n",
                    r + 1, a->totalMs, a->connectMs, a->welcomeMs, a->joinedMs, a->parseMs, a->loadMs,
                    w->totalMs);
        welcomeMs.push_back(a->welcomeMs);
    }
    std::printf("join of %llu points / %zu strokes: snapshot %llu B (%.2f B/point), Joined on the wire "
                "%llu B; median of %d: %.1f ms after a change, %.1f ms unchanged "
                "(server+transfer %.1f, parse %.1f, WallModel load %.1f)\n",
                (unsigned long long)last.points, last.strokes, (unsigned long long)snapshotBytes,
                double(snapshotBytes) / double(std::max<std::uint64_t>(1, last.points)),
                (unsigned long long)wireBytes, runs, median(active), median(warm), median(joinedMs),
                median(parseMs), median(loadMs));
    std::ostringstream json;
    json << "{\"bench\":\"join\",\"strokes\":" << last.strokes << ",\"points\":" << last.points
         << ",\"snapshot_bytes\":" << snapshotBytes << ",\"wire_bytes\":" << wireBytes
         << ",\"ms\":" << median(active) << ",\"ms_unchanged\":" << median(warm)
         << ",\"ms_joined\":" << median(joinedMs) << ",\"ms_parse\":" << median(parseMs)
         << ",\"ms_load\":" << median(loadMs) << ",\"ms_welcome\":" << median(welcomeMs) << ",\"runs\":" << runs << ",\"fill_ms\":" << fillMs << "}";
    result(json.str());
    raw.close();
    server.stop();
    return 0;
}

// scrawl-bench cluster-join: the same wall joined from any server of a cluster. A wall is filled
// through server one of two (--redis, one durable Redis: bench/clusterrig.h); then joins are
// timed on server one, which holds the wall, and on server two started afresh before each join,
// which must first load the wall from Redis (its latest snapshot and the log after it).
int runClusterJoin(const Args &args)
{
    const int perStroke = int(args.integer("points-per-stroke", 100));
    const long long strokes = std::max(1LL, args.integer("points", 1000000) / perStroke);
    const int runs = int(args.integer("runs", 5));
    ClusterRig rig("cluster-join");
    rig.startRedis();
    rig.startServers(2);
    const std::string wall = "join";
    const std::int64_t fillStart = nowNs();
    const std::uint64_t points = fillWall(rig.serverPort(0), wall, strokes, perStroke);
    std::printf("filled wall through server 1: %lld strokes, %llu points, %.0f ms\n", strokes,
                (unsigned long long)points, double(nowNs() - fillStart) / 1e6);
    std::vector<double> loaded, cold;
    JoinTiming last;
    for (int r = 0; r < runs; ++r) {
        const auto here = timeJoin(rig.serverPort(0), wall);
        // Server two, started afresh: its first join loads the wall from Redis.
        rig.killServer(1);
        const int out = rig.respawnServer(1);
        const bool listening = rig.serverListening(1, out, 20000);
        ::close(out);
        if (!listening)
            die("server 2 did not come back (its log is in " + rig.dir() + ")");
        const auto fresh = timeJoin(rig.serverPort(1), wall);
        if (!here || !fresh)
            die("a timed join failed");
        loaded.push_back(here->totalMs);
        cold.push_back(fresh->totalMs);
        last = *fresh;
        std::printf("  run %d: on the server holding the wall %.1f ms; on a server loading it from Redis "
                    "%.1f ms (join->joined %.1f, parse %.1f, load %.1f)\n",
                    r + 1, here->totalMs, fresh->totalMs, fresh->joinedMs, fresh->parseMs, fresh->loadMs);
    }
    std::printf("cluster join of %llu points / %zu strokes (%lld B Joined): median of %d: %.1f ms on the "
                "server holding the wall, %.1f ms on a server that loads it from Redis first\n",
                (unsigned long long)last.points, last.strokes, (long long)last.messageBytes, runs, median(loaded),
                median(cold));
    std::ostringstream json;
    json << "{\"bench\":\"cluster_join\",\"points\":" << last.points << ",\"strokes\":" << last.strokes
         << ",\"joined_bytes\":" << last.messageBytes << ",\"ms_loaded\":" << median(loaded)
         << ",\"ms_cold\":" << median(cold) << ",\"runs\":" << runs << "}";
    result(json.str());
    rig.stopServers();
    return 0;
}

} // namespace scrawl::bench
