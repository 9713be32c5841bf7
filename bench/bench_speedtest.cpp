// scrawl-bench speedtest: N chat messages through the HTTP API (one POST each, on one keep-alive
// connection and on a new connection per request) and through the WebSocket (one op each,
// waiting for its acknowledgement; and all sent at once). Total time, latency per message, and
// bytes on the wire (what crossed the sockets: HTTP heads and bodies, WebSocket frames; not
// TCP/IP headers).

#include "bench/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>

namespace scrawl::bench {

namespace {

struct Totals
{
    std::string mode;
    double totalMs = 0;
    std::vector<double> latencyUs;
    std::uint64_t up = 0, down = 0;
    int messages = 0;
    int connections = 0;
};

int tcpConnect(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
        die(std::string("connect: ") + strerror(errno));
    return fd;
}

// Sends one request and reads one response (Content-Length framed). Returns the status code;
// *closed is set when the server closed the connection after it.
int httpExchange(int fd, const std::string &request, Totals *t, bool *closed)
{
    size_t off = 0;
    while (off < request.size()) {
        const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n <= 0)
            die("HTTP send failed");
        off += size_t(n);
    }
    t->up += request.size();
    std::string in;
    size_t need = std::string::npos;
    *closed = false;
    for (;;) {
        if (need != std::string::npos && in.size() >= need)
            break;
        pollfd pfd{fd, POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0)
            die("no HTTP response within 10 s");
        char buf[8192];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            *closed = true;
            break;
        }
        in.append(buf, size_t(n));
        t->down += std::uint64_t(n);
        if (need == std::string::npos) {
            const auto end = in.find("\r\n\r\n");
            if (end == std::string::npos)
                continue;
            std::string head = in.substr(0, end);
            for (auto &c : head)
                c = char(std::tolower(c));
            const auto cl = head.find("content-length:");
            need = end + 4 + (cl == std::string::npos ? 0 : size_t(std::atoll(head.c_str() + cl + 15)));
            if (head.find("connection: close") != std::string::npos)
                *closed = true;
        }
    }
    return std::atoi(in.c_str() + 9);
}

// The wall's API token (from the creator's Joined): posting needs it.
std::string g_apiToken;

std::string postRequest(std::uint16_t port, const std::string &wall, int i, bool close)
{
    const std::string body = "{\"author\":\"speedtest\",\"text\":\"message " + std::to_string(i)
                           + " from the speed test\"}";
    return "POST /api/walls/" + wall + "/messages HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port)
         + "\r\nAuthorization: Bearer " + g_apiToken
         + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size())
         + (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
}

Totals httpRun(std::uint16_t port, const std::string &wall, int messages, bool keepAlive)
{
    Totals t;
    t.mode = keepAlive ? "HTTP keep-alive" : "HTTP new connection";
    t.messages = messages;
    int fd = -1;
    const std::int64_t start = nowNs();
    for (int i = 0; i < messages; ++i) {
        const std::int64_t t0 = nowNs();
        if (fd < 0) {
            fd = tcpConnect(port);
            ++t.connections;
        }
        bool closed = false;
        const int status = httpExchange(fd, postRequest(port, wall, i, !keepAlive), &t, &closed);
        if (status != 201)
            die("HTTP POST answered " + std::to_string(status));
        if (closed || !keepAlive) {
            ::close(fd);
            fd = -1;
        }
        t.latencyUs.push_back(double(nowNs() - t0) / 1e3);
    }
    t.totalMs = double(nowNs() - start) / 1e6;
    if (fd >= 0)
        ::close(fd);
    return t;
}

Totals wsRun(std::uint16_t port, const std::string &wall, int messages, bool pipelined)
{
    Totals t;
    t.mode = pipelined ? "WebSocket, all at once" : "WebSocket, one at a time";
    t.messages = messages;
    t.connections = 1;
    RawWs ws;
    std::string error;
    if (!ws.connect(port, "/", &error))
        die(error);
    scrawlHello(ws, "speedtest");
    scrawlJoin(ws, wall);
    const std::uint64_t up0 = ws.bytesOut, down0 = ws.bytesIn;
    auto sendChat = [&](int i) {
        pb::Envelope env;
        env.mutable_op()->set_client_op_id(std::uint64_t(i + 1));
        env.mutable_op()->mutable_chat()->set_text("message " + std::to_string(i) + " from the speed test");
        const std::string bytes = env.SerializeAsString();
        ws.queueFrame(kBinary, bytes.data(), bytes.size());
        ws.flushBlocking();
    };
    auto awaitAck = [&] {
        for (;;) {
            int op = 0;
            std::string payload;
            if (!ws.readMessage(&op, &payload, 10000))
                die("no WebSocket ack within 10 s");
            if (!payload.empty() && std::uint8_t(payload[0]) == ((6 << 3) | 2))
                return;
            if (!payload.empty() && std::uint8_t(payload[0]) == ((3 << 3) | 2))
                die("the server refused a chat message");
        }
    };
    const std::int64_t start = nowNs();
    std::vector<std::int64_t> sent;
    for (int i = 0; i < messages; ++i) {
        const std::int64_t t0 = nowNs();
        sendChat(i);
        if (!pipelined) {
            awaitAck();
            t.latencyUs.push_back(double(nowNs() - t0) / 1e3);
        } else {
            sent.push_back(t0);
        }
    }
    if (pipelined) {
        for (int i = 0; i < messages; ++i) {
            awaitAck();
            t.latencyUs.push_back(double(nowNs() - sent[size_t(i)]) / 1e3);
        }
    }
    t.totalMs = double(nowNs() - start) / 1e6;
    t.up = ws.bytesOut - up0;
    t.down = ws.bytesIn - down0;
    return t;
}

} // namespace

int runSpeedtest(const Args &args)
{
    const int messages = int(args.integer("messages", 1000));
    pinSelf(int(args.integer("client-cpu", 1)));
    ServerProcess server = ServerProcess::start(ServerKind::Scrawl, int(args.integer("server-cpu", 0)));
    const std::string wall = "speed";
    {
        RawWs creator; // HTTP posts need the wall to exist
        std::string error;
        if (!creator.connect(server.port, "/", &error))
            die(error);
        scrawlHello(creator, "creator");
        pb::Envelope joined;
        if (!scrawlJoin(creator, wall, &joined) || joined.joined().api_token().empty())
            die("the creator of the speed test wall got no API token");
        g_apiToken = joined.joined().api_token();
    }
    std::vector<Totals> all;
    all.push_back(httpRun(server.port, wall, messages, true));
    all.push_back(httpRun(server.port, wall, messages, false));
    all.push_back(wsRun(server.port, wall, messages, false));
    all.push_back(wsRun(server.port, wall, messages, true));
    std::printf("%d chat messages, one server, loopback; latency = send until the server's answer "
                "(HTTP 201 / the op's broadcast back to the sender)\n", messages);
    std::printf("%-26s %10s %9s %9s %9s %10s %10s %6s\n", "mode", "total ms", "msg/s", "p50 us",
                "p99 us", "up B/msg", "down B/msg", "conns");
    for (Totals &t : all) {
        const double p50 = percentile(t.latencyUs, 50), p99 = percentile(t.latencyUs, 99);
        std::printf("%-26s %10.1f %9.0f %9.0f %9.0f %10.1f %10.1f %6d\n", t.mode.c_str(), t.totalMs,
                    t.messages / t.totalMs * 1000, p50, p99, double(t.up) / t.messages,
                    double(t.down) / t.messages, t.connections);
        std::ostringstream json;
        json << "{\"bench\":\"speedtest\",\"mode\":\"" << t.mode << "\",\"messages\":" << t.messages
             << ",\"total_ms\":" << t.totalMs << ",\"p50_us\":" << p50 << ",\"p99_us\":" << p99
             << ",\"up_bytes_per_msg\":" << double(t.up) / t.messages
             << ",\"down_bytes_per_msg\":" << double(t.down) / t.messages
             << ",\"connections\":" << t.connections << "}";
        result(json.str());
    }
    server.stop();
    return 0;
}

} // namespace scrawl::bench
