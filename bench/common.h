#pragma once

// What every benchmark shares: starting a server under test as a child process pinned to a core,
// reading its CPU time and memory from /proc, command-line options, statistics.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace scrawl::bench {

// Scrawl's max_ops_per_second as the bench runs it (scrawl-server --max-ops-per-second).
inline constexpr int kBenchOpsPerSecond = 100000;

// Servers under test. Scrawl is build/bin/scrawl-server; Lws is build/bin/lws-relay (built from
// bench/reference/lws-relay.c when libwebsockets-dev is installed); the others are
// bench/reference/*.js on Node.
enum class ServerKind { Scrawl, NodeWs, SocketIo, Lws };
const char *kindName(ServerKind kind);

struct ServerProcess
{
    pid_t pid = -1;
    std::uint16_t port = 0;
    std::string dataDir; // Scrawl only: a fresh temporary directory, removed at stop()
    ServerKind kind = ServerKind::Scrawl;

    // Starts the server with `taskset -c cpu` (cpu < 0: not pinned), waits for its one line
    // "listening on ws://HOST:PORT". Exits the program with a message on failure.
    // dataParent: where Scrawl's temporary data directory goes (/tmp is on the disk here;
    // /dev/shm is tmpfs, to tell storage I/O apart from the rest).
    // label: names the server's log, /tmp/scrawl-bench-LABEL.log (empty: the kind's name).
    // serverBin: another build's scrawl-server, to compare two builds in one run (empty: the
    // one beside this executable).
    static ServerProcess start(ServerKind kind, int cpu, const std::string &dataParent = "/tmp",
                               const std::string &label = {}, const std::string &serverBin = {});
    void stop();
    double cpuSeconds() const; // utime + stime of every thread, from /proc/PID/stat
    std::int64_t rssBytes() const;
};

// Pins the calling process (the load generator) to one core.
void pinSelf(int cpu);
double selfCpuSeconds();

std::string binDir();        // the directory of this executable
std::string referenceDir();  // bench/reference in the source tree

struct Args
{
    std::map<std::string, std::string> values;
    bool has(const std::string &key) const { return values.count(key) > 0; }
    long long integer(const std::string &key, long long fallback) const;
    double number(const std::string &key, double fallback) const;
    std::string text(const std::string &key, const std::string &fallback) const;
};
Args parseArgs(int argc, char **argv, int first);

double percentile(std::vector<double> &values, double p); // sorts; p in [0, 100]
double median(std::vector<double> values);
// "1,2.5,3" -> {1, 2.5, 3} (a list option such as --loads).
std::vector<double> parseNumbers(const std::string &text);

[[noreturn]] void die(const std::string &message);

int runStrokes(const Args &args);
int runJoin(const Args &args);
int runSpeedtest(const Args &args);
int runFanout(const Args &args);

} // namespace scrawl::bench

// --- Scrawl's protocol over a RawWs, blocking, for set-up and the simple benchmarks ---
#include "bench/rawws.h"
#include "proto/scrawl.pb.h"

namespace scrawl::bench {

void sendEnvelope(RawWs &ws, const pb::Envelope &env);
// Hello -> Welcome. Returns the user id, 0 on failure.
std::uint64_t scrawlHello(RawWs &ws, const std::string &name);
// Join -> Joined (other messages before it are skipped). *bytes: the Joined message's size.
bool scrawlJoin(RawWs &ws, const std::string &wall, pb::Envelope *joined = nullptr);
// Prints one machine-readable result line: RESULT {json}. scripts/bench collects them.
void result(const std::string &json);

} // namespace scrawl::bench
