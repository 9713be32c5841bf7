// scrawl-bench cluster-fanout: one wall whose members are spread evenly over 1, 2 and 3
// scrawl-servers of a cluster (each with --redis, one durable Redis, members connected to the
// servers directly, round robin), and the single server on SQLite (no --redis) beside them, in
// the same run and at the same offered loads. The fan-out generator (bench/fanoutgen.h) drives
// N members, P of them publishing the app's stroke batches and chat open loop; each setup gets
// fresh processes and an empty wall. Delivered messages/s, delivery latency (from the intended
// send time: a server that falls behind shows), what was lost, and the CPU the servers and Redis
// used.
//
// Nothing is pinned by default: on a small machine the servers, Redis and the generator share
// its cores as they would share a host (--server-cpu / --client-cpu pin them).

#include "bench/child.h"
#include "bench/clusterrig.h"
#include "bench/common.h"
#include "bench/fanoutgen.h"

#include <cstdio>
#include <sstream>

namespace scrawl::bench {

namespace {

struct Setup
{
    std::string name;
    int servers = 0; // 0: the single server on SQLite
};

void report(const Setup &setup, int n, int p, double offered, const StepResult &r, const Fanout &fan,
            double redisCpu /* share of a core */)
{
    std::printf("%-10s %7d %4d %4d %12.0f %12.0f %8.2f %8.2f %8.2f %6llu %6llu %5.0f%% %5.0f%%\n", setup.name.c_str(),
                std::max(1, setup.servers), n, p, offered, r.delivered, r.p50, r.p99, r.p999,
                (unsigned long long)r.lost, (unsigned long long)r.undelivered, 100 * r.serverCpu / r.window,
                100 * redisCpu);
    std::fflush(stdout);
    std::ostringstream json;
    json << "{\"bench\":\"cluster_fanout\",\"setup\":" << jsonString(setup.name)
         << ",\"storage\":\"" << (setup.servers ? "redis" : "sqlite") << "\",\"servers\":" << std::max(1, setup.servers)
         << ",\"clients\":" << n << ",\"publishers\":" << p << ",\"offered\":" << offered
         << ",\"offered_ops\":" << r.offeredOps << ",\"delivered\":" << r.delivered << ",\"window_s\":" << r.window
         << ",\"latency_samples\":" << r.latencySamples << ",\"p50_ms\":" << r.p50 << ",\"p99_ms\":" << r.p99
         << ",\"p999_ms\":" << r.p999 << ",\"max_ms\":" << r.max << ",\"lost\":" << r.lost
         << ",\"undelivered\":" << r.undelivered << ",\"duplicated\":" << r.duplicated
         << ",\"out_of_order\":" << r.outOfOrder << ",\"refused_ops\":" << r.refusedOps
         << ",\"server_refused_ops\":" << r.serverRefusedOps << ",\"errors\":" << r.errors
         << ",\"error_messages\":" << jsonString(summarize(fan.errorMessages())) << ",\"closed\":" << r.closed
         << ",\"close_reasons\":" << jsonString(summarize(fan.closeReasons()))
         << ",\"server_cpu\":" << r.serverCpu / r.window << ",\"redis_cpu\":" << redisCpu
         << ",\"drained\":" << (r.drained ? "true" : "false") << ",\"loadavg\":" << jsonString(loadAverage()) << "}";
    result(json.str());
}

} // namespace

int runClusterFanout(const Args &args)
{
    const bool quick = args.has("quick");
    const int n = int(args.integer("clients", 100));
    const int p = std::min(n, int(args.integer("publishers", 20)));
    // Deliveries/s offered (ops/s x N): a load the single server carries with room to spare on
    // this machine, and one four times that.
    const std::vector<double> loads = parseNumbers(args.text("loads", quick ? "20000,80000" : "20000,80000,160000"));
    const double warmup = args.number("warmup", quick ? 0.5 : 1);
    const double window = args.number("window", quick ? 3 : 6);
    const int serverCpu = int(args.integer("server-cpu", -1));
    pinSelf(int(args.integer("client-cpu", -1)));
    if (n < 2 || p < 1 || loads.empty())
        die("cluster-fanout needs --clients >= 2, --publishers >= 1 and --loads D[,D...]");

    const std::vector<Setup> setups = {{"sqlite", 0}, {"cluster-1", 1}, {"cluster-2", 2}, {"cluster-3", 3}};
    std::fprintf(stderr, "cluster-fanout: N = %d members (%d publishing) on one wall; load average %s\n", n, p,
                 loadAverage().c_str());
    std::printf("%-10s %7s %4s %4s %12s %12s %8s %8s %8s %6s %6s %6s %6s\n", "setup", "servers", "N", "P",
                "offered/s", "delivered/s", "p50 ms", "p99 ms", "p99.9 ms", "lost", "unarr", "srvCPU", "redis");
    for (const double offered : loads) {
        for (const Setup &setup : setups) {
            std::vector<ServerProcess> servers;
            std::vector<std::uint16_t> ports;
            ServerProcess single;
            std::unique_ptr<ClusterRig> rig;
            if (setup.servers == 0) {
                single = ServerProcess::start(ServerKind::Scrawl, serverCpu, "/tmp", "cluster-fanout-sqlite");
                servers.push_back(single);
                ports.push_back(single.port);
            } else {
                rig = std::make_unique<ClusterRig>("cluster-fanout");
                rig->startRedis();
                rig->startServers(setup.servers, kBenchOpsPerSecond);
                for (int i = 0; i < setup.servers; ++i) {
                    servers.push_back(rig->serverProcess(i));
                    ports.push_back(rig->serverPort(i));
                }
            }
            Fanout fan(ServerKind::Scrawl, ports, n, p);
            fan.connectAll();
            ServerProcess redis;
            if (rig)
                redis.pid = rig->redisPid();
            const double redis0 = rig ? redis.cpuSeconds() : 0;
            const std::int64_t t0 = nowNs();
            const StepResult r = fan.step(offered / n, warmup, window, servers);
            // Redis's share of a core over the whole step (warm-up and drain too).
            const double redisCpu = rig ? (redis.cpuSeconds() - redis0) / (double(nowNs() - t0) / 1e9) : 0;
            report(setup, n, p, offered, r, fan, redisCpu);
            fan.closeAll();
            if (setup.servers == 0)
                single.stop();
        }
    }
    return 0;
}

} // namespace scrawl::bench
