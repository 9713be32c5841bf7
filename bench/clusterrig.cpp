#include "bench/clusterrig.h"

#include "bench/child.h"
#include "bench/rawws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace scrawl::bench {

namespace {

// The first line of a scrawl-server's stdout: "listening on ws://HOST:PORT". 0 if it is not.
std::uint16_t listeningPort(const std::string &line)
{
    if (line.rfind("listening on ws://", 0) != 0)
        return 0;
    return std::uint16_t(std::atoi(line.c_str() + line.rfind(':') + 1));
}

} // namespace

ClusterRig::ClusterRig(std::string label) : m_label(std::move(label))
{
    std::string dir = "/tmp/scrawl-bench-" + m_label + "-XXXXXX"; // mkdtemp fills in the Xs
    if (!mkdtemp(dir.data()))
        die("cannot make a temporary directory in /tmp");
    m_dir = dir;
    std::filesystem::create_directories(m_dir + "/redis");
}

ClusterRig::~ClusterRig()
{
    killChild(m_proxyPid);
    stopServers();
    killRedis();
    if (!m_keep)
        std::filesystem::remove_all(m_dir);
}

void ClusterRig::startRedis()
{
    m_redisPort = freeLoopbackPort();
    respawnRedis();
    const std::int64_t deadline = nowNs() + 10'000'000'000LL;
    while (!redisAnswers()) {
        if (nowNs() > deadline || !childRunning(m_redisPid))
            die("redis-server did not answer within 10 s; see " + m_dir + "/redis.log");
        usleep(20000);
    }
}

void ClusterRig::respawnRedis()
{
    // The settings docs/scaling.md asks of a cluster's Redis: an acknowledged op is on the disk.
    ChildOptions options;
    options.argv = {"redis-server", "--port", std::to_string(m_redisPort), "--bind", "127.0.0.1",
                    "--dir", m_dir + "/redis", "--appendonly", "yes", "--appendfsync", "always",
                    "--no-appendfsync-on-rewrite", "no", "--maxmemory-policy", "noeviction",
                    "--save", "", "--logfile", m_dir + "/redis.log"};
    m_redisPid = spawnChild(options);
}

void ClusterRig::killRedis()
{
    killChild(m_redisPid);
}

bool ClusterRig::redisAnswers(int timeoutMs) const
{
    // PONG, not merely a listening socket: Redis listens while it is still loading its AOF
    // (and answers -LOADING then).
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(m_redisPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0
        && ::write(fd, "PING\r\n", 6) == 6) {
        pollfd pfd{fd, POLLIN, 0};
        char buf[64] = {};
        ok = poll(&pfd, 1, timeoutMs) > 0 && ::read(fd, buf, sizeof buf - 1) > 0
          && std::strncmp(buf, "+PONG", 5) == 0;
    }
    ::close(fd);
    return ok;
}

std::vector<std::string> ClusterRig::serverArgs(const Server &s) const
{
    // Every bench client comes from 127.0.0.1: lift the per-address limits. HAProxy is the
    // trusted proxy, as scripts/cluster runs it.
    std::vector<std::string> args = {binDir() + "/scrawl-server", "--port", std::to_string(s.port),
                                     "--host", "127.0.0.1", "--data", s.dataDir,
                                     "--redis", "redis://127.0.0.1:" + std::to_string(m_redisPort),
                                     "--trusted-proxy", "127.0.0.1",
                                     "--max-connections-per-address", "1000000",
                                     "--max-connects-per-address", "1000000",
                                     "--max-joins-per-address", "1000000",
                                     "--max-new-users-per-address", "1000000",
                                     "--max-walls-created-per-address", "1000000"};
    if (m_opsPerSecond > 0)
        args.insert(args.end(), {"--max-ops-per-second", std::to_string(m_opsPerSecond)});
    return args;
}

void ClusterRig::startServers(int count, int opsPerSecond)
{
    m_opsPerSecond = opsPerSecond;
    for (int i = 0; i < count; ++i) {
        Server s;
        s.dataDir = m_dir + "/server-" + std::to_string(i + 1);
        s.log = m_dir + "/server-" + std::to_string(i + 1) + ".log";
        std::filesystem::create_directories(s.dataDir);
        m_servers.push_back(s);
        const int out = respawnServer(i);
        const std::string line = readFirstLine(out, 20000);
        ::close(out);
        m_servers.back().port = listeningPort(line);
        if (!m_servers.back().port)
            die("scrawl-server " + std::to_string(i + 1) + " did not say it was listening within 20 s; see "
                + s.log);
    }
}

void ClusterRig::killServer(int i)
{
    killChild(m_servers[size_t(i)].pid);
}

int ClusterRig::respawnServer(int i)
{
    Server &s = m_servers[size_t(i)];
    ChildOptions options;
    options.argv = serverArgs(s); // port 0 the first time, the same port after
    options.env = {{"QT_LOGGING_RULES", "scrawl.*.info=false\nscrawl.server.info=true"}};
    options.log = s.log;
    options.pipeStdout = true;
    int out = -1;
    s.pid = spawnChild(options, &out);
    return out;
}

bool ClusterRig::serverListening(int i, int stdoutFd, int timeoutMs)
{
    const std::string line = readFirstLine(stdoutFd, timeoutMs);
    return !line.empty() && listeningPort(line) == m_servers[size_t(i)].port;
}

ServerProcess ClusterRig::serverProcess(int i) const
{
    ServerProcess p;
    p.pid = m_servers[size_t(i)].pid;
    p.port = m_servers[size_t(i)].port;
    return p;
}

bool ClusterRig::stopServers()
{
    bool clean = true;
    for (Server &s : m_servers) {
        if (s.pid > 0)
            clean = stopChild(s.pid, 20000) && clean;
    }
    return clean;
}

void ClusterRig::startHaproxy()
{
    if (m_servers.size() < 3)
        die("deploy/haproxy.cfg names three servers: start three first");
    m_proxyPort = freeLoopbackPort();
    ChildOptions options;
    options.argv = {"haproxy", "-db", "-f", std::string(SCRAWL_SOURCE_DIR) + "/deploy/haproxy.cfg"};
    options.env = {{"SCRAWL_BIND", "127.0.0.1:" + std::to_string(m_proxyPort)}};
    for (int i = 0; i < 3; ++i)
        options.env.emplace_back("SCRAWL_SERVER_" + std::to_string(i + 1),
                                 "127.0.0.1:" + std::to_string(m_servers[size_t(i)].port));
    options.log = m_dir + "/haproxy.log";
    m_proxyPid = spawnChild(options);
    // A WebSocket through it that a server greets: HAProxy is up and has servers to send to.
    const std::int64_t deadline = nowNs() + 10'000'000'000LL;
    for (;;) {
        RawWs ws;
        std::string error;
        if (ws.connect(m_proxyPort, "/", &error) && scrawlHello(ws, "rig check"))
            return;
        if (nowNs() > deadline || !childRunning(m_proxyPid))
            die("no WebSocket through HAProxy within 10 s (" + error + "); see " + m_dir + "/haproxy.log");
        usleep(50000);
    }
}

int ClusterRig::haproxyLogCount(const std::string &text) const
{
    std::ifstream log(m_dir + "/haproxy.log");
    int n = 0;
    for (std::string line; std::getline(log, line);)
        n += line.find(text) != std::string::npos;
    return n;
}

} // namespace scrawl::bench
