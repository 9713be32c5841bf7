// scrawl-bench: the benchmarks of issue 5. Run `scrawl-bench help` for the subcommands;
// scripts/bench runs them all and writes bench/RESULTS.md.

#include "bench/common.h"

#include <QCoreApplication>

#include <cstdio>
#include <cstring>
#include <signal.h>

namespace scrawl::bench {
int runSoak(const Args &args); // bench_soak.cpp
int runInk(const Args &args);  // bench_ink.cpp
int runRedisAppend(const Args &args); // bench_redis.cpp
int runClusterSoak(const Args &args); // bench_clustersoak.cpp
int runClusterFanout(const Args &args); // bench_clusterfanout.cpp
int runClusterJoin(const Args &args); // bench_join.cpp
int runTimeline(const Args &args); // bench_timeline.cpp
}

namespace {

void usage()
{
    std::printf(
        "usage: scrawl-bench COMMAND [--option value ...]\n"
        "  strokes   [--strokes 100] [--points 100] [--hz 120,200,240] [--batch-ms 60] [--batch-points 12]\n"
        "            bytes on the wire per point for natural pen strokes, through the real server\n"
        "  ink       [--strokes 20] [--points 200] [--hz 200] [--rtt 0,100]\n"
        "            bytes per point of strokes drawn live and sent as the app sends them (batches\n"
        "            paced by acknowledgements), direct and through a delay proxy at each RTT\n"
        "  join      [--points 100000 | --strokes 100000] [--points-per-stroke 100] [--runs 5]\n"
        "            time for a fresh client from connect to a decoded, applied snapshot\n"
        "  speedtest [--messages 1000]\n"
        "            chat through HTTP (keep-alive, new connection each) vs the WebSocket\n"
        "  fanout    [--servers scrawl,scrawl-tmpfs,node-ws,socket.io,lws] [--clients 10,100,1000]\n"
        "            [--quick] [--publishers P] [--overload-seconds 30] [--no-overload]\n"
        "            [--no-equal-load] [--latency-series FILE] [--fixed-rate DELIVERIES]\n"
        "            delivered msgs/s at saturation, latency at half of it, CPU and memory; then\n"
        "            1.5x and 3x saturation (goodput, memory, clients cut, ops lost); then every\n"
        "            server at one equal load. P: N up to 100, 50 beyond. lws: build/bin/lws-relay;\n"
        "            server `baseline` runs SCRAWL_BENCH_BASELINE=PATH (another build's server)\n"
        "            --fixed-rate: one step per server and N at that load, nothing else\n"
        "  soak      [--clients 200] [--minutes 10] [--restart-at 0.5] [--markdown FILE]\n"
        "            people drawing and chatting on one wall, server SIGKILLed and restarted\n"
        "            midway; ops sent/acknowledged/stored/delivered, ops lost (exit 1 if any)\n"
        "  redis-append [--seconds 5] [--window 128] [--walls 64] [--op-bytes 64] [--markdown FILE]\n"
        "            durable appends/s of one Redis through Scrawl's shared log (fsync always), one\n"
        "            at a time and pipelined from 1-3 servers, to one wall and to many\n"
        "  cluster-soak [--clients 100] [--seconds 180] [--quick] [--server-kill-at 0.3]\n"
        "            [--server-down-seconds 5] [--redis-kill-at 0.65] [--redis-down-seconds 2] [--keep-logs]\n"
        "            the soak against Redis, three scrawl-servers --redis and HAProxy (deploy/):\n"
        "            a server and later Redis killed with -9 and started again; sent = acknowledged =\n"
        "            stored (the Redis log) = delivered, recovery times, ack latency (exit 1 on loss)\n"
        "  cluster-fanout [--clients 100] [--publishers 20] [--loads 20000,80000,160000] [--quick]\n"
        "            one wall's members spread over 1, 2 and 3 cluster servers (--redis) and on the\n"
        "            single SQLite server, at the same offered deliveries/s: delivered/s, p50/p99\n"
        "  cluster-join [--points 1000000] [--runs 5]\n"
        "            a wall filled through one cluster server, joined on it and on a server started\n"
        "            afresh that loads it from Redis first (the late join from any server)\n"
        "  timeline  [--ops 100000] [--seed 19]\n"
        "            the wall's history as a timeline: a wall of OPS ops taken in as pages bring it,\n"
        "            then scrubbed (drags back and forth, random jumps, play); ms a step, target < 50\n"
        "Common: --server-cpu 0 --client-cpu 1 (taskset / sched_setaffinity).\n"
        "Each result is also printed as a line `RESULT {json}`.\n");
}

} // namespace

int main(int argc, char *argv[])
{
    signal(SIGPIPE, SIG_IGN);
    QCoreApplication app(argc, argv); // the join benchmark uses QWebSocket
    if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    const scrawl::bench::Args args = scrawl::bench::parseArgs(argc, argv, 2);
    if (command == "strokes")
        return scrawl::bench::runStrokes(args);
    if (command == "ink")
        return scrawl::bench::runInk(args);
    if (command == "join")
        return scrawl::bench::runJoin(args);
    if (command == "speedtest")
        return scrawl::bench::runSpeedtest(args);
    if (command == "fanout")
        return scrawl::bench::runFanout(args);
    if (command == "soak")
        return scrawl::bench::runSoak(args);
    if (command == "redis-append")
        return scrawl::bench::runRedisAppend(args);
    if (command == "cluster-soak")
        return scrawl::bench::runClusterSoak(args);
    if (command == "cluster-join")
        return scrawl::bench::runClusterJoin(args);
    if (command == "timeline")
        return scrawl::bench::runTimeline(args);
    if (command == "cluster-fanout")
        return scrawl::bench::runClusterFanout(args);
    usage();
    return 2;
}
