#pragma once

// One client connection: the Hello handshake, the per-connection state machine, rate limits,
// and sending with the slow-reader policy. Bad data from a peer gets an Error; never a crash.

#include "core/protocol.h"
#include "server/security.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QTimer>

#include <optional>
#include <algorithm>
#include <functional>

namespace scrawl {

class Room;
class WallServer;
class WsConnection;

class Session : public QObject
{
    Q_OBJECT

public:
    enum class State { AwaitingHello, Ready, Closing };

    // A WebSocket connection (taken over: a child of this session) from `peer` (the address it
    // is counted under: behind a trusted proxy, the one the proxy saw).
    Session(WsConnection *connection, WallServer *server, const QHostAddress &peer);
    // A connection without a socket, for tests and tests/fuzz: receive() takes what a client
    // sends and runs the same dispatch -> WallServer path as a WebSocket message; whatever the
    // session would write goes to `out`, and a close (fatal error) to `closed` with its code.
    // Not counted among the server's sessions (no pings, no liveness) and without a parent: the
    // caller owns it and deletes it (which leaves the wall) before the server.
    using Output = std::function<void(const QByteArray &message)>;
    using Closed = std::function<void(int closeCode)>;
    Session(WallServer *server, const QHostAddress &peer, Output out, Closed closed);
    ~Session() override;

    // One complete binary message from the client.
    void receive(const QByteArray &bytes) { onBinary(bytes); }

    State state() const { return m_state; }
    std::uint64_t userId() const { return m_userId; }
    QString name() const { return m_name; }
    std::uint32_t color() const { return m_color; }
    QHostAddress peerAddress() const { return m_peer; }
    Room *room() const { return m_room; }
    void setRoom(Room *room)
    {
        if (room != m_room)
            m_heldCursor.reset(); // a position on the old wall means nothing on the new one
        m_room = room;
    }
    pb::Member member() const;
    // A Join waiting for a password check on the thread pool; further Joins wait for it.
    bool joinPending() const { return m_joinPending; }
    void setJoinPending(bool pending) { m_joinPending = pending; }

    // Durable traffic: always queued; a reader that falls too far behind is disconnected.
    void send(const QByteArray &bytes);
    // The same, with the WebSocket frame of `payload` already built (WsConnection::frame): a
    // broadcast builds it once for every member.
    void sendFrame(const QByteArray &frame, const QByteArray &payload);
    // The answer to a Join (a snapshot may weigh tens of MB): queued like send(), but the slow-
    // reader bound counts only what is queued behind it, and while it drains the peer counts as
    // heard (its pongs wait behind it).
    void sendJoinAnswer(const QByteArray &bytes);
    // Ephemeral traffic (cursors): dropped while the reader is behind.
    void sendEphemeral(const QByteArray &bytes);
    void sendEphemeralFrame(const QByteArray &frame, const QByteArray &payload);
    // A refusal the client can recover from.
    void refuse(const Problem &problem, std::uint64_t clientOpId = 0);
    // A fatal error: sent, then the connection is closed with 4000 + code.
    void fail(const Problem &problem);

    // Since the peer was last heard from (pongs, messages; a join answer it is taking).
    qint64 msSinceHeard();
    void ping();

    // Cursor rate (core/limits.h kMaxCursorsPerSecond): true when `cursor` may be relayed now.
    // Otherwise it is held, replacing any held before, and relayed through
    // WallServer::broadcastCursor when a token comes. *flooding turns true once a second for a
    // client far over the rate (it gets an error).
    bool admitCursor(const pb::Cursor &cursor, bool *flooding);
    // History pages (kMaxHistoryRequestsPerMinute): false when this one must be refused.
    bool takeHistoryToken() { return m_historyTokens.take(); }

private:
    void onBinary(const QByteArray &bytes);
    void onText();
    void failTooBig(qint64 bytes);
    void dispatch(const pb::Envelope &env);
    void onHello(const pb::Hello &hello);
    void onOp(pb::Op op);
    bool takeOpToken();
    // Bytes of the last join answer not yet handed to the network.
    qint64 joinAnswerUnsent() const;
    // False (and the connection is cut) when the peer failed to read more than the slow-reader
    // bound; false too while closing.
    bool keepsUp();
    // To the connection, or to m_out without one.
    void write(const QByteArray &bytes);

    WsConnection *m_conn = nullptr;
    Output m_out;
    Closed m_closed;
    WallServer *m_server;
    State m_state = State::AwaitingHello;
    QHostAddress m_peer;
    std::uint64_t m_userId = 0;
    QString m_name;
    std::uint32_t m_color = 0;
    Room *m_room = nullptr;
    QElapsedTimer m_heard;
    QTimer m_helloTimeout;
    // Token bucket for ops (core/limits.h: kMaxOpsPerSecond, kOpsBurst).
    double m_tokens;
    QElapsedTimer m_tokenClock;
    // Ops refused for the rate limit within the current one-second window.
    QElapsedTimer m_refusalWindow;
    int m_refusedInWindow = 0;
    std::uint64_t m_lastOpId = 0; // client op id of the previous op on this connection
    bool m_joinPending = false;
    // Cursors and history requests: each one in costs the server much more out.
    TokenBucket m_cursorTokens{limits::kMaxCursorsPerSecond, limits::kCursorBurst};
    std::optional<pb::Cursor> m_heldCursor; // the newest position over the rate
    QTimer m_cursorTimer;                   // relays it when a token comes
    QElapsedTimer m_cursorWindow;           // a second in which m_cursorsInWindow came
    int m_cursorsInWindow = 0;
    TokenBucket m_historyTokens{limits::kMaxHistoryRequestsPerMinute / 60.0, limits::kHistoryBurst};
    // Where in the connection's count of bytes written the last join answer ends.
    qint64 m_joinAnswerEnd = 0;
};

} // namespace scrawl
