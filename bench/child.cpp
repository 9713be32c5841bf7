#include "bench/child.h"

#include "bench/common.h"
#include "bench/rawws.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace scrawl::bench {

pid_t spawnChild(const ChildOptions &options, int *stdoutFd)
{
    int out[2] = {-1, -1};
    if (options.pipeStdout && pipe2(out, O_CLOEXEC) != 0)
        die("pipe failed");
    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0)
        die("fork failed");
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) // the bench died between fork and prctl
            _exit(1);
        if (options.pipeStdout)
            dup2(out[1], 1);
        if (!options.log.empty()) {
            if (FILE *f = std::fopen(options.log.c_str(), options.appendLog ? "a" : "w"))
                dup2(fileno(f), 2);
        }
        for (const auto &[name, value] : options.env)
            setenv(name.c_str(), value.c_str(), 1);
        std::vector<char *> argv;
        for (const std::string &a : options.argv)
            argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        std::fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (options.pipeStdout) {
        ::close(out[1]);
        if (stdoutFd)
            *stdoutFd = out[0];
        else
            ::close(out[0]);
    }
    return child;
}

void killChild(pid_t &pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
}

bool stopChild(pid_t &pid, int timeoutMs)
{
    if (pid <= 0)
        return true;
    kill(pid, SIGTERM);
    int status = 0;
    for (int waited = 0; waited < timeoutMs; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        usleep(20000);
    }
    killChild(pid);
    return false;
}

bool childRunning(pid_t &pid)
{
    if (pid <= 0)
        return false;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return false;
    }
    return true;
}

std::uint16_t freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0
        || getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
        die("cannot find a free port on 127.0.0.1");
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool waitForListening(std::uint16_t port, int timeoutMs)
{
    const std::int64_t deadline = nowNs() + std::int64_t(timeoutMs) * 1000000;
    while (nowNs() < deadline) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (ok)
            return true;
        usleep(20000);
    }
    return false;
}

std::string readFirstLine(int fd, int timeoutMs)
{
    std::string text;
    const std::int64_t deadline = nowNs() + std::int64_t(timeoutMs) * 1000000;
    while (text.find('\n') == std::string::npos) {
        pollfd pfd{fd, POLLIN, 0};
        const int left = std::max(0, int((deadline - nowNs()) / 1000000));
        if (poll(&pfd, 1, left) <= 0)
            return {};
        char buf[256];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0)
            return {};
        text.append(buf, size_t(n));
    }
    return text.substr(0, text.find('\n'));
}

std::string loadAverage()
{
    char buf[64] = "?";
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
        if (!std::fgets(buf, sizeof buf, f))
            buf[0] = 0;
        std::fclose(f);
    }
    std::string text = buf;
    size_t cut = 0;
    for (int fields = 0; cut < text.size(); ++cut) {
        if (text[cut] == ' ' && ++fields == 3)
            break;
    }
    return text.substr(0, cut);
}

} // namespace scrawl::bench
