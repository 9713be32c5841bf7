#pragma once

// A minimal WebSocket client (RFC 6455) over a plain TCP socket: the upgrade request, masked
// frames out, unmasked frames in, continuation frames, ping -> pong. No TLS, no extensions.
// It exists so that the load generator costs a few hundred nanoseconds a message and counts
// every byte that crosses the socket; QWebSocket would be the bottleneck at 1000 connections.

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace scrawl::bench {

std::int64_t nowNs(); // CLOCK_MONOTONIC

enum Opcode : int { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

class RawWs
{
public:
    RawWs() = default;
    RawWs(const RawWs &) = delete;
    RawWs &operator=(const RawWs &) = delete;
    ~RawWs();

    // Blocking: TCP connect to 127.0.0.1:port (TCP_NODELAY), upgrade on `path`, wait for 101.
    bool connect(std::uint16_t port, const std::string &path, std::string *error);
    void close();
    int fd() const { return m_fd; }
    bool isOpen() const { return m_fd >= 0; }
    void setNonBlocking();

    // Appends one masked frame to the write buffer. The mask key is zero: legal (RFC 6455 5.3
    // wants it unpredictable only against proxies) and it leaves the payload as it is.
    void queueFrame(int opcode, const void *data, std::size_t len);
    // Writes what the socket takes now. False on a socket error.
    bool flush();
    // Writes everything, waiting as needed. False on error.
    bool flushBlocking();
    std::size_t pendingWrite() const { return m_out.size() - m_outStart; }

    // Reads what is there now (the socket must be non-blocking) and calls
    // onMessage(opcode, const uint8_t *data, size_t len) for each complete message. Pings are
    // answered. False on EOF or error.
    template <typename F>
    bool readAvailable(F &&onMessage);
    // Blocking: the next data or close message within timeoutMs. False on timeout/EOF/error.
    bool readMessage(int *opcode, std::string *payload, int timeoutMs);

    std::uint64_t bytesIn = 0;  // every byte read from the socket, handshake included
    std::uint64_t bytesOut = 0; // every byte written to the socket, handshake included

private:
    // Hands every complete frame in m_in on; keeps a partial one.
    template <typename F>
    void parseFrames(F &&onMessage);
    bool fill(std::size_t *n); // one read(); false on EOF/error (EAGAIN: *n = 0)

    int m_fd = -1;
    std::vector<std::uint8_t> m_in;
    std::size_t m_inStart = 0;
    std::size_t m_inEnd = 0;
    std::string m_out;
    std::size_t m_outStart = 0;
    std::string m_frag;
    int m_fragOpcode = 0;
    std::deque<std::pair<int, std::string>> m_pending; // parsed but not yet taken by readMessage
};

template <typename F>
void RawWs::parseFrames(F &&onMessage)
{
    for (;;) {
        const std::size_t avail = m_inEnd - m_inStart;
        if (avail < 2)
            break;
        const std::uint8_t *p = m_in.data() + m_inStart;
        const bool fin = p[0] & 0x80;
        const int opcode = p[0] & 0x0f;
        const bool masked = p[1] & 0x80;
        std::uint64_t len = p[1] & 0x7f;
        std::size_t header = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (std::uint64_t(p[2]) << 8) | p[3];
            header = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; ++i)
                len = (len << 8) | p[2 + i];
            header = 10;
        }
        if (masked)
            header += 4; // servers do not mask; tolerate it anyway by skipping the key
        if (avail < header + len) {
            // Make room for the whole frame.
            if (m_inStart > 0 && header + len > m_in.size() - m_inStart) {
                std::copy(m_in.begin() + long(m_inStart), m_in.begin() + long(m_inEnd), m_in.begin());
                m_inEnd -= m_inStart;
                m_inStart = 0;
            }
            if (header + len > m_in.size())
                m_in.resize(std::size_t(header + len));
            break;
        }
        const std::uint8_t *data = p + header;
        m_inStart += header + std::size_t(len);
        if (opcode == kPing) {
            queueFrame(kPong, data, std::size_t(len));
            flush();
            continue;
        }
        if (opcode == kPong)
            continue;
        if (opcode == kClose) {
            onMessage(kClose, data, std::size_t(len));
            continue;
        }
        if (opcode == kContinuation) {
            m_frag.append(reinterpret_cast<const char *>(data), std::size_t(len));
            if (fin) {
                onMessage(m_fragOpcode, reinterpret_cast<const std::uint8_t *>(m_frag.data()),
                          m_frag.size());
                m_frag.clear();
            }
            continue;
        }
        if (!fin) {
            m_fragOpcode = opcode;
            m_frag.assign(reinterpret_cast<const char *>(data), std::size_t(len));
            continue;
        }
        onMessage(opcode, data, std::size_t(len));
    }
    if (m_inStart == m_inEnd)
        m_inStart = m_inEnd = 0;
}

template <typename F>
bool RawWs::readAvailable(F &&onMessage)
{
    for (int i = 0; i < 64; ++i) { // bounded: let other sockets have a turn
        if (m_in.size() - m_inEnd < 16384) {
            if (m_inStart > 0) {
                std::copy(m_in.begin() + long(m_inStart), m_in.begin() + long(m_inEnd), m_in.begin());
                m_inEnd -= m_inStart;
                m_inStart = 0;
            }
            if (m_in.size() - m_inEnd < 16384)
                m_in.resize(m_inEnd + 65536);
        }
        std::size_t n = 0;
        if (!fill(&n))
            return false;
        if (n == 0)
            return true; // EAGAIN
        parseFrames(onMessage);
        if (n < 16384)
            return true; // a short read: the socket is drained
    }
    return true;
}

} // namespace scrawl::bench
