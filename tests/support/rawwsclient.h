#pragma once

// A WebSocket client written on QTcpSocket for hostile and broken peers: it sends any frame
// (text, truncated, oversized, unmasked, streamed), can stop answering pings or stop reading,
// and decodes what the server sends back (envelopes and the close frame) so that a test can
// check the named Error and the close code.

#include "core/protocol.h"
#include "tests/support/rawsocket.h" // wsFrame

#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <cerrno>
#include <sys/socket.h>
#include <vector>

namespace scrawl::test {

class RawWsClient : public QObject
{
public:
    explicit RawWsClient(QObject *parent = nullptr)
        : QObject(parent)
    {
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] {
            if (m_reading && m_readLimit == 0)
                readFrames();
        });
        connect(&m_readTimer, &QTimer::timeout, this, [this] { readFrames(); });
        connect(&m_socket, &QTcpSocket::disconnected, this, [this] { ++disconnects; });
        connect(&m_feedTimer, &QTimer::timeout, this, [this] { feed(); });
    }

    QTcpSocket &socket() { return m_socket; }

    // Connects and completes the WebSocket upgrade; bytes after the 101 response are frames.
    bool upgrade(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!waitFor([&] { return m_socket.state() == QAbstractSocket::ConnectedState; }))
            return false;
        m_socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n");
        QByteArray response;
        waitFor([&] {
            response += m_socket.readAll();
            return response.contains("\r\n\r\n") || m_socket.state() != QAbstractSocket::ConnectedState;
        });
        const qsizetype end = response.indexOf("\r\n\r\n");
        if (end < 0 || !response.startsWith("HTTP/1.1 101"))
            return false;
        m_buffer = response.mid(end + 4);
        m_upgraded = true;
        readFrames();
        return true;
    }

    void sendFrame(quint8 opcode, const QByteArray &payload, bool fin = true)
    {
        m_socket.write(wsFrame(opcode, payload, fin));
    }
    void sendBinary(const QByteArray &payload) { sendFrame(0x2, payload); }
    void sendEnvelope(const pb::Envelope &env) { sendBinary(serialize(env)); }
    void sendRaw(const QByteArray &bytes) { m_socket.write(bytes); }

    bool hello(const QString &name, const std::string &token = {})
    {
        pb::Envelope env;
        env.mutable_hello()->set_protocol_version(kProtocolVersion);
        env.mutable_hello()->set_display_name(toWire(name));
        env.mutable_hello()->set_resume_token(token);
        sendEnvelope(env);
        return waitFor([this] { return count(pb::Envelope::kWelcome) > 0 || closed(); })
            && count(pb::Envelope::kWelcome) > 0;
    }

    bool join(const QString &wall, std::uint64_t lastSeq = 0)
    {
        const size_t before = count(pb::Envelope::kJoined);
        pb::Envelope env;
        env.mutable_join()->set_wall(toWire(wall));
        env.mutable_join()->set_last_seq(lastSeq);
        sendEnvelope(env);
        return waitFor([&] { return count(pb::Envelope::kJoined) > before; });
    }

    // Streams `total` bytes of binary payload as frames of `frameBytes`, written as the socket
    // drains so that the test never holds the whole message in memory. Stops when the server
    // closes the connection. With frameBytes >= total the whole message is one frame.
    void streamMessage(qint64 total, qint64 frameBytes)
    {
        m_streamTotal = total;
        m_streamSent = 0;
        m_streamFrame = frameBytes;
        m_feedTimer.setInterval(1);
        m_feedTimer.start();
        feed();
    }
    // Bytes of the stream the kernel accepted.
    qint64 streamed() const { return m_streamWritten; }

    // Stops reading from the socket: the kernel buffers fill and the server sees a slow reader.
    void stopReading()
    {
        m_reading = false;
        m_socket.setReadBufferSize(1);
    }
    // Reads at most `bytes` every `everyMs`: a peer that reads all the time, slowly.
    void throttleReading(qint64 bytes, int everyMs)
    {
        m_readLimit = bytes;
        m_socket.setReadBufferSize(bytes);
        m_readTimer.start(everyMs);
    }
    void resumeReading()
    {
        m_reading = true;
        m_socket.setReadBufferSize(0);
        readFrames();
    }
    // A peer that answers no ping looks dead to the server's liveness check.
    void setAnswerPings(bool answer) { m_answerPings = answer; }

    bool closed() const
    {
        return closeCode >= 0 || disconnects > 0
            || m_socket.state() == QAbstractSocket::UnconnectedState;
    }

    size_t count(pb::Envelope::MsgCase kind) const
    {
        return size_t(std::count_if(received.begin(), received.end(),
                                    [kind](const pb::Envelope &e) { return e.msg_case() == kind; }));
    }
    const pb::Error *lastError() const
    {
        for (auto it = received.rbegin(); it != received.rend(); ++it) {
            if (it->has_error())
                return &it->error();
        }
        return nullptr;
    }

    template <typename Pred>
    static bool waitFor(Pred pred, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!pred()) {
            if (deadline.hasExpired())
                return false;
            QTest::qWait(5);
        }
        return true;
    }

    std::vector<pb::Envelope> received;
    int closeCode = -1;
    QString closeReason;
    int disconnects = 0;
    int unparsable = 0;
    int textFrames = 0;
    int pongs = 0;
    qint64 bytesRead = 0;

private:
    // Writes with send() on the descriptor, not through QTcpSocket: when the server refuses
    // and closes, a failed QTcpSocket write aborts the socket and drops the server's Error that
    // is still unread in the kernel. A failed send() just stops the stream; reading goes on.
    void feed()
    {
        while (m_streamSent < m_streamTotal || !m_out.isEmpty()) {
            if (m_out.isEmpty()) {
                const qint64 frame = std::min(m_streamFrame, m_streamTotal - m_streamSent);
                const bool first = m_streamSent == 0 && !m_bigFrameOpen;
                const bool last = m_streamSent + frame == m_streamTotal;
                if (!m_bigFrameOpen) {
                    m_out.append(char((last ? 0x80 : 0x00) | (first ? 0x2 : 0x0)));
                    m_out.append(char(0x80 | 127));
                    for (int i = 7; i >= 0; --i)
                        m_out.append(char((quint64(frame) >> (8 * i)) & 0xff));
                    m_out.append("\0\0\0\0", 4); // a mask of zeros: the payload goes as is
                    m_bigFrameOpen = true;
                    m_bigFrameLeft = frame;
                }
                const qint64 n = std::min<qint64>(m_bigFrameLeft, 256 * 1024);
                m_out.append(QByteArray(n, 'x'));
                m_bigFrameLeft -= n;
                if (m_bigFrameLeft == 0) {
                    m_bigFrameOpen = false;
                    m_streamSent += frame;
                }
            }
            const ssize_t sent = ::send(int(m_socket.socketDescriptor()), m_out.constData(),
                                        size_t(m_out.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    m_feedTimer.stop(); // the server closed: stop streaming
                return;
            }
            m_streamWritten += sent;
            m_out.remove(0, qsizetype(sent));
        }
        m_feedTimer.stop();
    }

    void readFrames()
    {
        if (!m_reading || !m_upgraded)
            return;
        const QByteArray in = m_readLimit > 0 ? m_socket.read(m_readLimit) : m_socket.readAll();
        bytesRead += in.size();
        m_buffer += in;
        for (;;) {
            if (m_buffer.size() < 2)
                return;
            const auto *b = reinterpret_cast<const uchar *>(m_buffer.constData());
            const bool fin = b[0] & 0x80;
            const int opcode = b[0] & 0x0f;
            quint64 len = b[1] & 0x7f;
            qsizetype at = 2;
            if (len == 126) {
                if (m_buffer.size() < 4)
                    return;
                len = (quint64(b[2]) << 8) | b[3];
                at = 4;
            } else if (len == 127) {
                if (m_buffer.size() < 10)
                    return;
                len = 0;
                for (int i = 0; i < 8; ++i)
                    len = (len << 8) | b[2 + i];
                at = 10;
            }
            if (quint64(m_buffer.size() - at) < len)
                return;
            const QByteArray payload = m_buffer.mid(at, qsizetype(len));
            m_buffer.remove(0, at + qsizetype(len));
            if (opcode == 0x8) {
                if (payload.size() >= 2) {
                    closeCode = (quint8(payload[0]) << 8) | quint8(payload[1]);
                    closeReason = QString::fromUtf8(payload.mid(2));
                } else {
                    closeCode = 1005;
                }
                continue;
            }
            if (opcode == 0x9) {
                if (m_answerPings)
                    sendFrame(0xA, payload);
                continue;
            }
            if (opcode == 0xA) {
                ++pongs;
                continue;
            }
            if (opcode == 0x1)
                ++textFrames;
            m_message += payload;
            if (!fin)
                continue;
            pb::Envelope env;
            if (parse(m_message, &env))
                received.push_back(std::move(env));
            else
                ++unparsable;
            m_message.clear();
        }
    }

    QTcpSocket m_socket;
    QByteArray m_buffer;
    QByteArray m_message;
    bool m_reading = true;
    qint64 m_readLimit = 0;
    QTimer m_readTimer;
    bool m_upgraded = false;
    bool m_answerPings = true;
    QTimer m_feedTimer;
    QByteArray m_out;
    qint64 m_streamWritten = 0;
    qint64 m_streamTotal = 0;
    qint64 m_streamSent = 0;
    qint64 m_streamFrame = 0;
    bool m_bigFrameOpen = false;
    qint64 m_bigFrameLeft = 0;
};

} // namespace scrawl::test
