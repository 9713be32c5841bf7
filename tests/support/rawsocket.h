#pragma once

// A hand-made WebSocket client over QTcpSocket, for what QWebSocket will not do: send broken
// frames, never answer pings, stop reading. Frames follow RFC 6455 (client frames masked).

#include <QTcpSocket>
#include <QTest>

namespace scrawl::test {

inline QByteArray wsFrame(quint8 opcode, const QByteArray &payload, bool fin = true)
{
    QByteArray frame;
    frame.append(char((fin ? 0x80 : 0x00) | opcode));
    const quint64 n = quint64(payload.size());
    if (n < 126) {
        frame.append(char(0x80 | n));
    } else if (n < 65536) {
        frame.append(char(0x80 | 126));
        frame.append(char(n >> 8));
        frame.append(char(n & 0xff));
    } else {
        frame.append(char(0x80 | 127));
        for (int i = 7; i >= 0; --i)
            frame.append(char((n >> (8 * i)) & 0xff));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    QByteArray masked = payload;
    for (qsizetype i = 0; i < masked.size(); ++i)
        masked[i] = char(masked[i] ^ mask[i % 4]);
    frame.append(masked);
    return frame;
}

// Opens a TCP connection and completes the WebSocket upgrade. Returns false on failure.
inline bool rawUpgrade(QTcpSocket &socket, quint16 port)
{
    // The server runs in this thread: wait by spinning the event loop, never by blocking.
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!QTest::qWaitFor([&] { return socket.state() == QAbstractSocket::ConnectedState; }, 5000))
        return false;
    socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QByteArray response;
    (void)QTest::qWaitFor([&] {
        response += socket.readAll();
        return response.contains("\r\n\r\n");
    }, 5000);
    return response.startsWith("HTTP/1.1 101");
}

} // namespace scrawl::test
