#include "bench/common.h"

#include "bench/rawws.h"
#include "core/protocol.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace scrawl::bench {

const char *kindName(ServerKind kind)
{
    switch (kind) {
    case ServerKind::Scrawl: return "scrawl";
    case ServerKind::NodeWs: return "node-ws";
    case ServerKind::SocketIo: return "socket.io";
    case ServerKind::Lws: return "lws";
    }
    return "?";
}

void die(const std::string &message)
{
    std::fprintf(stderr, "scrawl-bench: %s\n", message.c_str());
    std::exit(1);
}

std::string binDir()
{
    return std::filesystem::canonical("/proc/self/exe").parent_path().string();
}

std::string referenceDir()
{
    if (const char *dir = std::getenv("SCRAWL_BENCH_REFERENCE"))
        return dir;
    return std::string(SCRAWL_SOURCE_DIR) + "/bench/reference";
}

ServerProcess ServerProcess::start(ServerKind kind, int cpu, const std::string &dataParent,
                                   const std::string &label, const std::string &serverBin)
{
    ServerProcess server;
    server.kind = kind;
    std::vector<std::string> argv;
    // SCRAWL_BENCH_NICE=-5 (root) keeps a shared machine's other jobs from deciding the figures.
    if (const char *nice = std::getenv("SCRAWL_BENCH_NICE"))
        argv = {"nice", "-n", nice};
    if (cpu >= 0)
        argv.insert(argv.end(), {"taskset", "-c", std::to_string(cpu)});
    if (kind == ServerKind::Scrawl) {
        std::string dir = dataParent + "/scrawl-bench-XXXXXX"; // mkdtemp fills in the Xs
        if (!mkdtemp(dir.data()))
            die("cannot make a temporary data directory in " + dataParent);
        server.dataDir = dir;
        // Every bench client comes from 127.0.0.1: lift the per-address limits.
        argv.insert(argv.end(), {serverBin.empty() ? binDir() + "/scrawl-server" : serverBin,
                                 "--port", "0", "--host", "127.0.0.1",
                                 "--data", server.dataDir, "--max-connections-per-address",
                                 "1000000", "--max-connects-per-address", "1000000",
                                 "--max-joins-per-address", "1000000",
                                 "--max-new-users-per-address", "1000000",
                                 "--max-walls-created-per-address", "1000000"});
        // The per-client op rate too: the bench measures what the server carries, and a relay
        // has no such cap. (A baseline build from before the option keeps the default.)
        if (serverBin.empty())
            argv.insert(argv.end(), {"--max-ops-per-second", std::to_string(kBenchOpsPerSecond)});
    } else if (kind == ServerKind::Lws) {
        const std::string relay = binDir() + "/lws-relay";
        if (!std::filesystem::exists(relay))
            die("the lws reference server was not built: install libwebsockets-dev and build the "
                "lws-relay target (scripts/bench does)");
        argv.insert(argv.end(), {relay, "--port", "0"});
    } else {
        const std::string script = referenceDir()
                                 + (kind == ServerKind::NodeWs ? "/ws-relay.js" : "/socketio-relay.js");
        if (!std::filesystem::exists(referenceDir() + "/node_modules"))
            die("the reference servers are not installed: run `npm ci` in " + referenceDir()
                + " (scripts/bench does)");
        argv.insert(argv.end(), {"node", script, "--port", "0"});
    }
    const std::string log = "/tmp/scrawl-bench-" + (label.empty() ? std::string(kindName(kind)) : label) + ".log";
    int out[2];
    if (pipe(out) != 0)
        die("pipe failed");
    const pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        // The server goes when the bench does, however the bench ends (die() exits at once).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        ::close(out[0]);
        ::close(out[1]);
        if (FILE *f = std::fopen(log.c_str(), "w"))
            dup2(fileno(f), 2);
        // Info lines per connection would make the server spend its time logging; the server's
        // own (walls loaded, snapshots stored and what they cost) stay in the log.
        setenv("QT_LOGGING_RULES", "scrawl.*.info=false\nscrawl.server.info=true", 1);
        std::vector<char *> cargv;
        for (auto &a : argv)
            cargv.push_back(a.data());
        cargv.push_back(nullptr);
        execvp(cargv[0], cargv.data());
        std::fprintf(stderr, "cannot run %s: %s\n", cargv[0], strerror(errno));
        _exit(127);
    }
    ::close(out[1]);
    server.pid = pid;
    std::string line;
    const std::int64_t deadline = nowNs() + 20'000'000'000LL;
    while (line.find('\n') == std::string::npos) {
        pollfd pfd{out[0], POLLIN, 0};
        const int left = int((deadline - nowNs()) / 1000000);
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            die(std::string(kindName(kind)) + " did not say it was listening within 20 s; see " + log);
        char buf[256];
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0)
            die(std::string(kindName(kind)) + " exited before listening; see " + log);
        line.append(buf, size_t(n));
    }
    const auto colon = line.rfind(':');
    server.port = std::uint16_t(std::atoi(line.c_str() + colon + 1));
    if (line.rfind("listening on ws://", 0) != 0 || server.port == 0)
        die("unexpected first line from " + std::string(kindName(kind)) + ": " + line);
    return server;
}

void ServerProcess::stop()
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) { // 10 s
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        usleep(50000);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        pid = -1;
    }
    if (!dataDir.empty())
        std::filesystem::remove_all(dataDir);
}

double ServerProcess::cpuSeconds() const
{
    // taskset execs the server in place, so pid is the server itself.
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream in(s.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        in >> field;
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::int64_t ServerProcess::rssBytes() const
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atoll(line.c_str() + 6) * 1024;
    }
    return 0;
}

void pinSelf(int cpu)
{
    if (const char *nice = std::getenv("SCRAWL_BENCH_NICE"))
        setpriority(PRIO_PROCESS, 0, std::atoi(nice));
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

double selfCpuSeconds()
{
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long long Args::integer(const std::string &key, long long fallback) const
{
    const auto it = values.find(key);
    return it == values.end() ? fallback : std::atoll(it->second.c_str());
}

double Args::number(const std::string &key, double fallback) const
{
    const auto it = values.find(key);
    return it == values.end() ? fallback : std::atof(it->second.c_str());
}

std::string Args::text(const std::string &key, const std::string &fallback) const
{
    const auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
}

Args parseArgs(int argc, char **argv, int first)
{
    Args args;
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0)
            die("unexpected argument " + a);
        a = a.substr(2);
        if (const auto eq = a.find('='); eq != std::string::npos)
            args.values[a.substr(0, eq)] = a.substr(eq + 1);
        else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
            args.values[a] = argv[++i];
        else
            args.values[a] = std::string(1, '1'); // not "1": GCC 12 -Wrestrict false positive
    }
    return args;
}

double percentile(std::vector<double> &values, double p)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const double rank = p / 100.0 * double(values.size() - 1);
    return values[size_t(rank + 0.5)];
}

double median(std::vector<double> values)
{
    return percentile(values, 50);
}

std::vector<double> parseNumbers(const std::string &text)
{
    std::vector<double> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(std::atof(item.c_str()));
    return out;
}

} // namespace scrawl::bench

namespace scrawl::bench {

void sendEnvelope(RawWs &ws, const pb::Envelope &env)
{
    const std::string bytes = env.SerializeAsString();
    ws.queueFrame(kBinary, bytes.data(), bytes.size());
    ws.flushBlocking();
}

std::uint64_t scrawlHello(RawWs &ws, const std::string &name)
{
    pb::Envelope env;
    auto *h = env.mutable_hello();
    h->set_protocol_version(kProtocolVersion);
    h->set_app_version("bench");
    h->set_display_name(name);
    h->set_color(0x3366cc);
    sendEnvelope(ws, env);
    for (int i = 0; i < 100; ++i) {
        int op = 0;
        std::string payload;
        if (!ws.readMessage(&op, &payload, 10000))
            return 0;
        pb::Envelope in;
        if (op == kBinary && in.ParseFromString(payload) && in.has_welcome())
            return in.welcome().user_id();
        if (in.has_error())
            die("hello refused: " + in.error().message());
    }
    return 0;
}

bool scrawlJoin(RawWs &ws, const std::string &wall, pb::Envelope *joined)
{
    pb::Envelope env;
    env.mutable_join()->set_wall(wall);
    sendEnvelope(ws, env);
    for (int i = 0; i < 100000; ++i) {
        int op = 0;
        std::string payload;
        if (!ws.readMessage(&op, &payload, 30000))
            return false;
        if (op != kBinary)
            continue;
        // Presence of earlier members may come first; only Joined (field 5) ends the wait.
        if (!payload.empty() && std::uint8_t(payload[0]) == ((5 << 3) | 2)) {
            if (joined)
                joined->ParseFromString(payload);
            return true;
        }
        if (!payload.empty() && std::uint8_t(payload[0]) == ((3 << 3) | 2)) {
            pb::Envelope e;
            e.ParseFromString(payload);
            die("join refused: " + e.error().message());
        }
    }
    return false;
}

void result(const std::string &json)
{
    std::printf("RESULT %s\n", json.c_str());
    std::fflush(stdout);
}

} // namespace scrawl::bench
