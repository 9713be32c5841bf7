#pragma once

// Child processes the soak benchmarks start, kill and start again (scrawl-server, redis-server,
// haproxy): fork/exec with the child's stderr in a log file, and the child killed with SIGKILL
// when the bench exits however it exits (PR_SET_PDEATHSIG), so that a failed run leaves nothing
// behind on the machine.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scrawl::bench {

struct ChildOptions
{
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env; // set in the child only
    std::string log;     // the child's stderr (appended); empty: inherited
    bool appendLog = true;
    bool pipeStdout = false; // *stdoutFd gets the read end of the child's stdout
};

// Starts the child. Exits the bench with a message when it cannot fork.
pid_t spawnChild(const ChildOptions &options, int *stdoutFd = nullptr);
// SIGKILL and reap; pid becomes -1. Nothing when pid <= 0.
void killChild(pid_t &pid);
// SIGTERM, then SIGKILL after timeoutMs. True if it exited by itself with status 0.
bool stopChild(pid_t &pid, int timeoutMs);
// True while the child has not exited (reaps it if it has; pid becomes -1).
bool childRunning(pid_t &pid);

// A TCP port on 127.0.0.1 nothing listens on now (bound with port 0 and closed again).
std::uint16_t freeLoopbackPort();
// True once something accepts TCP connections on 127.0.0.1:port, false after timeoutMs.
bool waitForListening(std::uint16_t port, int timeoutMs);
// Reads the first line a child prints ("listening on ws://HOST:PORT" for scrawl-server) from
// fd, for at most timeoutMs. Empty on timeout or EOF.
std::string readFirstLine(int fd, int timeoutMs);

// The load average (/proc/loadavg's first three fields), for what a result was measured under.
std::string loadAverage();

} // namespace scrawl::bench
