#pragma once

// A Scrawl cluster on this machine for the cluster benchmarks, as deploy/ and scripts/cluster run
// one: a redis-server with durable settings (appendonly, appendfsync always, its AOF in a
// temporary directory), scrawl-servers started with --redis, and HAProxy with the shipped
// deploy/haproxy.cfg in front. Everything on 127.0.0.1; every process can be killed with -9 and
// started again on the same port (and Redis on the same AOF), and all of them are stopped when
// the rig goes (or killed with the bench, however it ends: bench/child.h).

#include "bench/common.h"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace scrawl::bench {

class ClusterRig
{
public:
    // Makes a temporary directory for Redis's AOF, the servers' data and the logs.
    explicit ClusterRig(std::string label);
    ~ClusterRig();
    ClusterRig(const ClusterRig &) = delete;
    ClusterRig &operator=(const ClusterRig &) = delete;

    const std::string &dir() const { return m_dir; }
    void keepDir() { m_keep = true; } // for a failed run: the logs stay

    // Redis: started on a free port, then again on the same port and AOF. startRedis() waits
    // until it answers PING (exits the bench if it does not within 10 s); respawnRedis() does
    // not wait: ask redisAnswers().
    void startRedis();
    void respawnRedis();
    void killRedis();
    bool redisAnswers(int timeoutMs = 200) const;
    std::uint16_t redisPort() const { return m_redisPort; }
    pid_t redisPid() const { return m_redisPid; }

    // scrawl-servers with --redis: count of them, each waited for ("listening on").
    // opsPerSecond > 0: --max-ops-per-second (the fan-out lifts the per-client cap).
    void startServers(int count, int opsPerSecond = 0);
    // Server i killed with SIGKILL; respawn starts it on the same port and data directory and
    // returns its stdout (read "listening on" with serverListening()).
    void killServer(int i);
    int respawnServer(int i);
    bool serverListening(int i, int stdoutFd, int timeoutMs = 0); // waits for the line up to timeoutMs
    int serverCount() const { return int(m_servers.size()); }
    std::uint16_t serverPort(int i) const { return m_servers[size_t(i)].port; }
    // The server as a ServerProcess (pid) for its CPU time and memory; never stop() it.
    ServerProcess serverProcess(int i) const;
    // SIGTERM to every server; true if each exited cleanly.
    bool stopServers();

    // HAProxy with deploy/haproxy.cfg in front of the first three servers (the file names three),
    // waited for until a WebSocket through it reaches a server.
    void startHaproxy();
    std::uint16_t proxyPort() const { return m_proxyPort; }
    // Lines of HAProxy's log holding `text` (e.g. "is DOWN", "has no server available").
    int haproxyLogCount(const std::string &text) const;

private:
    struct Server
    {
        pid_t pid = -1;
        std::uint16_t port = 0;
        std::string dataDir;
        std::string log;
    };
    std::vector<std::string> serverArgs(const Server &s) const;

    std::string m_label, m_dir;
    bool m_keep = false;
    pid_t m_redisPid = -1;
    std::uint16_t m_redisPort = 0;
    std::vector<Server> m_servers;
    int m_opsPerSecond = 0;
    pid_t m_proxyPid = -1;
    std::uint16_t m_proxyPort = 0;
};

} // namespace scrawl::bench
