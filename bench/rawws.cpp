#include "bench/rawws.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace scrawl::bench {

std::int64_t nowNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

RawWs::~RawWs()
{
    close();
}

void RawWs::close()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

void RawWs::setNonBlocking()
{
    fcntl(m_fd, F_SETFL, fcntl(m_fd, F_GETFL) | O_NONBLOCK);
}

bool RawWs::connect(std::uint16_t port, const std::string &path, std::string *error)
{
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0) {
        *error = std::string("socket: ") + strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        *error = std::string("connect: ") + strerror(errno);
        close();
        return false;
    }
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port)
                              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    m_out += request;
    if (!flushBlocking()) {
        *error = "cannot send the upgrade request";
        close();
        return false;
    }
    // Read the response head byte-block by byte-block; frames may follow it in the same read.
    std::string head;
    m_in.resize(65536);
    for (;;) {
        pollfd pfd{m_fd, POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0) {
            *error = "no upgrade response within 10 s";
            close();
            return false;
        }
        const ssize_t n = ::read(m_fd, m_in.data() + m_inEnd, m_in.size() - m_inEnd);
        if (n <= 0) {
            *error = "connection closed during the upgrade";
            close();
            return false;
        }
        bytesIn += std::uint64_t(n);
        m_inEnd += std::size_t(n);
        const std::string_view seen(reinterpret_cast<const char *>(m_in.data()), m_inEnd);
        const auto end = seen.find("\r\n\r\n");
        if (end == std::string_view::npos)
            continue;
        head = std::string(seen.substr(0, end));
        m_inStart = end + 4;
        break;
    }
    if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
        *error = "upgrade refused: " + head.substr(0, head.find("\r\n"));
        close();
        return false;
    }
    return true;
}

void RawWs::queueFrame(int opcode, const void *data, std::size_t len)
{
    if (m_outStart > 0 && m_outStart == m_out.size()) {
        m_out.clear();
        m_outStart = 0;
    }
    char header[14];
    std::size_t h = 0;
    header[h++] = char(0x80 | opcode);
    if (len < 126) {
        header[h++] = char(0x80 | len);
    } else if (len < 65536) {
        header[h++] = char(0x80 | 126);
        header[h++] = char(len >> 8);
        header[h++] = char(len);
    } else {
        header[h++] = char(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            header[h++] = char(std::uint64_t(len) >> (8 * i));
    }
    for (int i = 0; i < 4; ++i)
        header[h++] = 0; // zero mask key
    m_out.append(header, h);
    m_out.append(static_cast<const char *>(data), len);
}

bool RawWs::flush()
{
    while (m_outStart < m_out.size()) {
        const ssize_t n = ::send(m_fd, m_out.data() + m_outStart, m_out.size() - m_outStart,
                                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        bytesOut += std::uint64_t(n);
        m_outStart += std::size_t(n);
    }
    m_out.clear();
    m_outStart = 0;
    return true;
}

bool RawWs::flushBlocking()
{
    while (pendingWrite() > 0) {
        if (!flush())
            return false;
        if (pendingWrite() > 0) {
            pollfd pfd{m_fd, POLLOUT, 0};
            if (poll(&pfd, 1, 10000) <= 0)
                return false;
        }
    }
    return true;
}

bool RawWs::fill(std::size_t *count)
{
    *count = 0;
    if (m_fd < 0)
        return false;
    for (;;) {
        const ssize_t n = ::read(m_fd, m_in.data() + m_inEnd, m_in.size() - m_inEnd);
        if (n > 0) {
            bytesIn += std::uint64_t(n);
            m_inEnd += std::size_t(n);
            *count = std::size_t(n);
            return true;
        }
        if (n == 0)
            return false;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

bool RawWs::readMessage(int *opcode, std::string *payload, int timeoutMs)
{
    const std::int64_t deadline = nowNs() + std::int64_t(timeoutMs) * 1000000;
    bool got = false;
    auto take = [&](int op, const std::uint8_t *data, std::size_t len) {
        *opcode = op;
        payload->assign(reinterpret_cast<const char *>(data), len);
        got = true;
    };
    // Messages already parsed come first; parseFrames hands on every complete frame, so the
    // ones after the first wait in m_pending.
    for (;;) {
        if (!m_pending.empty()) {
            *opcode = m_pending.front().first;
            *payload = std::move(m_pending.front().second);
            m_pending.pop_front();
            return true;
        }
        parseFrames([&](int op, const std::uint8_t *data, std::size_t len) {
            if (!got)
                take(op, data, len);
            else
                m_pending.emplace_back(op, std::string(reinterpret_cast<const char *>(data), len));
        });
        if (got)
            return true;
        const std::int64_t left = deadline - nowNs();
        if (left <= 0)
            return false;
        pollfd pfd{m_fd, POLLIN, 0};
        if (poll(&pfd, 1, int(left / 1000000) + 1) <= 0)
            return false;
        if (m_in.size() - m_inEnd < 16384)
            m_in.resize(m_inEnd + 65536);
        std::size_t n = 0;
        if (!fill(&n))
            return false;
    }
}

} // namespace scrawl::bench
