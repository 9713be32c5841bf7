// scrawl-bench fanout: one wall (room), N connected clients, P of them publishing the app's stroke
// batches and chat at a fixed open-loop rate (the generator: bench/fanoutgen.h). For each server
// (Scrawl, Node ws, Socket.IO, libwebsockets) and N: delivered messages/s at saturation, latency
// percentiles at half of it, server CPU-seconds per million deliveries, server memory per
// connection, the generator's own CPU use (to show it is not the bottleneck); then overload steps
// at 1.5x and 3x saturation (goodput, latency, server memory, clients cut, ops lost); then every
// server at one equal offered load.
//
// The server is started under `taskset -c` on one core, the generator pinned to another.

#include "bench/common.h"
#include "bench/fanoutgen.h"

#include "core/limits.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

namespace scrawl::bench {

namespace {

ServerKind kindOf(const std::string &name)
{
    if (name == "node-ws")
        return ServerKind::NodeWs;
    if (name == "socket.io")
        return ServerKind::SocketIo;
    if (name == "lws")
        return ServerKind::Lws;
    if (name == "scrawl" || name == "scrawl-tmpfs" || name == "baseline")
        return ServerKind::Scrawl;
    die("unknown server " + name + " (scrawl, scrawl-tmpfs, baseline, node-ws, socket.io, lws)");
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

// Past saturation: offer 1.5x and 3x what the server delivered at most, for `seconds` each. A
// server that copes serves about its peak and refuses the rest early (stops reading, so the
// publishers' sockets fill and their further ops are refused by backpressure, or a named error);
// one that does not queues it, and its memory, latency and the clients it cuts show it.
// Each step starts a fresh server and connects the clients again: the saturation search before
// it leaves Scrawl's wall holding hundreds of thousands of strokes, and a wall at
// max_wall_objects refuses every op with an error, which is not the overload a step is about
// (nor what a real wall holds). Memory before a step is that of the fresh server.
void runOverload(const std::string &name, int serverCpu, int n, int p, double saturation, double seconds)
{
    for (const double factor : {1.5, 3.0}) {
        ServerProcess server = ServerProcess::start(kindOf(name), serverCpu, dataParentOf(name), name,
                                                    serverBinOf(name));
        Fanout fan(kindOf(name), server.port, n, p);
        fan.connectAll();
        fan.settle(500, 10000);
        const double rate = factor * saturation / n;
        // A server that reads only what it can send leaves the excess in the publishers' socket
        // buffers, to be delivered after the step: up to (factor - 1) x seconds of its peak.
        // Time for that, so that late is not counted as lost; one that stalls ends it sooner.
        const StepResult o = fan.step(rate, 0, seconds, server, std::max(30.0, 4 * seconds));
        // After the load and the drain: memory should come back to what it was before.
        bool settled = false;
        const std::int64_t rssAfter = fan.settleRss(server, 10000, &settled);
        const double pct = 100 * o.delivered / saturation;
        std::fprintf(stderr, "  %s N=%d overload %.1fx: offered %.0f deliveries/s (%.0f ops/s, %.0f per "
                             "publisher), delivered %.0f/s = %.0f%% of saturation, p50 %.1f p99 %.1f ms, "
                             "refused %llu of %llu ops, RSS %.0f -> peak %.0f -> %.0f MB%s, closed %d, "
                             "lost %llu, not arrived %llu, duplicated %llu, out of order %llu, errors %llu, "
                             "server CPU %.0f%%\n",
                     name.c_str(), n, factor, o.offeredDeliveries, o.offeredOps, o.offeredOps / p,
                     o.delivered, pct, o.p50, o.p99, (unsigned long long)o.refusedOps,
                     (unsigned long long)(o.refusedOps + o.sentOps), o.rssBefore / 1e6, o.rssPeak / 1e6,
                     rssAfter / 1e6, settled ? "" : " (still moving)", o.closed,
                     (unsigned long long)o.lost, (unsigned long long)o.undelivered,
                     (unsigned long long)o.duplicated,
                     (unsigned long long)o.outOfOrder, (unsigned long long)o.errors,
                     100 * o.serverCpu / o.window);
        std::printf("%-10s %5d %4d  overload %.1fx: offered %.0f/s, delivered %.0f/s (%.0f%% of saturation), "
                    "p50 %.1f p99 %.1f ms, RSS %.0f/%.0f/%.0f MB, closed %d, lost %llu\n",
                    name.c_str(), n, p, factor, o.offeredDeliveries, o.delivered, pct, o.p50, o.p99,
                    o.rssBefore / 1e6, o.rssPeak / 1e6, rssAfter / 1e6, o.closed,
                    (unsigned long long)o.lost);
        std::fflush(stdout);
        std::ostringstream json;
        json << "{\"bench\":\"fanout_overload\",\"server\":" << jsonString(name)
             << ",\"clients\":" << n << ",\"publishers\":" << p << ",\"factor\":" << factor
             << ",\"seconds\":" << seconds << ",\"saturation\":" << saturation
             << ",\"offered\":" << o.offeredDeliveries << ",\"offered_ops\":" << o.offeredOps
             << ",\"per_publisher_ops\":" << o.offeredOps / p
             << ",\"client_cap_ops\":" << (name == "baseline" ? limits::kMaxOpsPerSecond : kBenchOpsPerSecond)
             << ",\"sent_ops\":" << o.sentOps << ",\"refused_ops\":" << o.refusedOps
             << ",\"server_refused_ops\":" << o.serverRefusedOps
             << ",\"delivered\":" << o.delivered << ",\"goodput_pct\":" << pct
             << ",\"latency_samples\":" << o.latencySamples << ",\"p50_ms\":" << o.p50
             << ",\"p99_ms\":" << o.p99 << ",\"p999_ms\":" << o.p999
             << ",\"max_ms\":" << o.max << ",\"server_cpu\":" << o.serverCpu / o.window
             << ",\"rss_before_bytes\":" << o.rssBefore
             << ",\"rss_peak_bytes\":" << o.rssPeak << ",\"rss_after_bytes\":" << rssAfter
             << ",\"rss_settled\":" << (settled ? "true" : "false") << ",\"closed\":" << o.closed
             << ",\"close_reasons\":" << jsonString(summarize(fan.closeReasons()))
             << ",\"errors\":" << o.errors
             << ",\"error_messages\":" << jsonString(summarize(fan.errorMessages()))
             << ",\"lost\":" << o.lost << ",\"undelivered\":" << o.undelivered
             << ",\"duplicated\":" << o.duplicated
             << ",\"out_of_order\":" << o.outOfOrder << ",\"drained\":" << (o.drained ? "true" : "false")
             << "}";
        result(json.str());
        fan.closeAll();
        server.stop();
    }
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
    // Every client publishes up to N = 100 (3x Scrawl's saturation there is more than 50
    // publishers may send under Scrawl's per-client cap), 50 of them beyond.
    const auto publishersFor = [&](int n) {
        return args.has("publishers") ? std::min(n, int(args.integer("publishers", 50))) : n <= 100 ? n : 50;
    };
    // The bench runs Scrawl with max_ops_per_second lifted to kBenchOpsPerSecond (a relay has no
    // such cap); every server gets the same cap, under it.
    const double perPublisherCap = args.number("publisher-rate-cap", 0.9 * kBenchOpsPerSecond);
    const double overloadSeconds = args.number("overload-seconds", quick ? 8 : 30);
    // lws is in the default set when its relay was built (libwebsockets-dev installed).
    const bool haveLws = std::filesystem::exists(binDir() + "/lws-relay");
    if (!haveLws)
        std::fprintf(stderr, "scrawl-bench: %s/lws-relay was not built (libwebsockets-dev missing): "
                             "no lws rows\n", binDir().c_str());
    std::vector<std::string> serverNames = split(args.text(
        "servers", haveLws ? "scrawl,scrawl-tmpfs,node-ws,socket.io,lws" : "scrawl,scrawl-tmpfs,node-ws,socket.io"));
    std::vector<std::string> clientCounts = split(args.text("clients", quick ? "10,100" : "10,100,1000"));

    // --fixed-rate D: only one step per server and N at D deliveries/s (no saturation search),
    // for comparing two builds side by side, or one under `perf stat` (a `baseline` wrapper).
    if (args.has("fixed-rate")) {
        const double deliveries = args.number("fixed-rate", 50000);
        for (const std::string &countText : clientCounts) {
            const int n = std::atoi(countText.c_str());
            const int p = publishersFor(n);
            for (const std::string &name : serverNames) {
                const ServerKind kind = kindOf(name);
                ServerProcess server = ServerProcess::start(kind, serverCpu, dataParentOf(name), name,
                                                            serverBinOf(name));
                Fanout fan(kind, server.port, n, p);
                fan.connectAll();
                const StepResult h = fan.step(deliveries / n, warmup, halfWindow, server);
                const double cpuPerM = h.deliveries ? h.serverCpu / double(h.deliveries) * 1e6 : 0;
                std::printf("%-10s %5d %4d  at %.0f deliveries/s: delivered %.0f/s, p50 %.2f, p99 %.2f, "
                            "p99.9 %.2f ms, server CPU %.2f s per million deliveries\n",
                            name.c_str(), n, p, deliveries, h.delivered, h.p50, h.p99, h.p999, cpuPerM);
                std::fflush(stdout);
                std::ostringstream json;
                json << "{\"bench\":\"fanout_fixed\",\"server\":\"" << name << "\",\"clients\":" << n
                     << ",\"offered\":" << deliveries << ",\"delivered\":" << h.delivered
                     << ",\"p50_ms\":" << h.p50 << ",\"p99_ms\":" << h.p99 << ",\"p999_ms\":" << h.p999
                     << ",\"cpu_s_per_million\":" << cpuPerM << "}";
                result(json.str());
                fan.closeAll();
                server.stop();
            }
        }
        return 0;
    }

    std::printf("%-10s %5s %4s %12s %10s %8s %8s %8s %10s %9s %9s %s\n", "server", "N", "P",
                "sat deliv/s", "half at/s", "p50 ms", "p99 ms", "p99.9 ms", "CPUs/Mdel", "RSS/conn",
                "gen CPU", "note");
    struct EqualLoadRun
    {
        int n;
        std::string server;
        double rateOps;
        std::string basis; // whose half load it is
    };
    std::vector<EqualLoadRun> equalRuns;
    for (const std::string &countText : clientCounts) {
        const int n = std::atoi(countText.c_str());
        const int p = publishersFor(n);
        const double benchCapOps = p * perPublisherCap;
        // The equal load: half of the slowest WebSocket reference server's saturation (Socket.IO
        // aside, which is several times slower than all of them), a load every server carries.
        double equalHalf = 0, socketIoHalf = 0;
        std::string equalBasis;
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
            // A baseline build keeps Scrawl's own max_ops_per_second (it has no option to lift it).
            const double capOps = name == "baseline" && !args.has("publisher-rate-cap")
                                      ? p * 0.9 * limits::kMaxOpsPerSecond
                                      : benchCapOps;
            double rate = std::min(capOps, std::max(20.0, 20000.0 / n));
            StepResult best;
            std::string note;
            double genAtSat = 0;
            bool lastStepDrained = true; // did the last step's backlog arrive in time?
            // One step at `rate`; true if the server kept up with it.
            auto kept = [&](double at) {
                const StepResult r = fan.step(at, warmup, window, server);
                std::fprintf(stderr, "  %s N=%d: offered %.0f ops/s = %.0f deliveries/s -> delivered %.0f/s, "
                                     "p99 %.1f ms, server CPU %.0f%%, generator CPU %.0f%%, errors %llu, lost %llu%s\n",
                             name.c_str(), n, r.offeredOps, r.offeredDeliveries, r.delivered, r.p99,
                             100 * r.serverCpu / r.window, 100 * r.generatorCpu / r.window,
                             (unsigned long long)r.errors, (unsigned long long)r.lost,
                             r.drained ? "" : " (not drained)");
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
            if (kind == ServerKind::SocketIo) {
                socketIoHalf = halfRate;
            } else if (kind != ServerKind::Scrawl && (equalHalf == 0 || halfRate < equalHalf)) {
                equalHalf = halfRate;
                equalBasis = name;
            }
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
            // Capped: the server was never saturated, so 1.5x and 3x of it are no overload (and
            // would only run the publishers into Scrawl's per-client cap).
            fan.closeAll();
            server.stop();
            if (!args.has("no-overload") && best.delivered > 0 && note.empty())
                runOverload(name, serverCpu, n, p, best.delivered, overloadSeconds);
            else if (!args.has("no-overload"))
                std::fprintf(stderr, "  %s N=%d: no overload steps, saturation was not reached\n",
                             name.c_str(), n);
        }
        if (equalHalf == 0 && socketIoHalf > 0) {
            equalHalf = socketIoHalf;
            equalBasis = "socket.io";
        }
        // Latency at equal offered load: every server at the same rate, one a reference carries.
        if (!args.has("no-equal-load") && equalHalf > 0) {
            for (const std::string &name : serverNames)
                equalRuns.push_back({n, name, equalHalf, equalBasis});
        }
    }
    for (const EqualLoadRun &run : equalRuns) {
        const int n = run.n;
        const int p = publishersFor(n);
        const ServerKind kind = kindOf(run.server);
        ServerProcess server = ServerProcess::start(kind, serverCpu, dataParentOf(run.server), run.server,
                                                    serverBinOf(run.server));
        Fanout fan(kind, server.port, n, p);
        fan.connectAll();
        const StepResult h = fan.step(run.rateOps, warmup, halfWindow, server);
        std::printf("%-10s %5d %4d  at %.0f deliveries/s offered (%s's half load): "
                    "delivered %.0f/s, p50 %.2f, p99 %.2f, p99.9 %.2f ms\n",
                    run.server.c_str(), n, p, run.rateOps * n, run.basis.c_str(), h.delivered, h.p50,
                    h.p99, h.p999);
        std::fflush(stdout);
        std::ostringstream json;
        json << "{\"bench\":\"fanout_equal\",\"server\":\"" << run.server << "\",\"data\":\""
             << dataParentOf(run.server) << "\",\"clients\":" << n
             << ",\"publishers\":" << p << ",\"basis\":" << jsonString(run.basis)
             << ",\"offered\":" << run.rateOps * n << ",\"delivered\":" << h.delivered
             << ",\"p50_ms\":" << h.p50 << ",\"p99_ms\":" << h.p99 << ",\"p999_ms\":" << h.p999
             << ",\"errors\":" << h.errors << ",\"lost\":" << h.lost
             << ",\"undelivered\":" << h.undelivered
             << ",\"closed\":" << h.closed << "}";
        result(json.str());
        fan.closeAll();
        server.stop();
    }
    return 0;
}

} // namespace scrawl::bench
