#pragma once

// The server's side of a WebSocket (RFC 6455), driven by the server itself rather than by
// QWebSocket, for three things QWebSocket cannot give:
// - A frame is built once per broadcast and the same bytes are queued for every member (server
//   frames are not masked, so they are identical for all): a member costs a reference, not a copy.
// - Writes are corked: what a connection gets in one event-loop pass leaves in one sendmsg()
//   at the end of the pass (WsHub::flush), not one write per message.
// - Backpressure: reading stops while the server's own output backlog is over a bound
//   (limits::kOutputBacklogPauseBytes), so that an overload waits unread in the senders' kernel
//   buffers instead of piling up in the server's memory; and the slow-reader cut can tell what
//   a peer failed to read (its kernel buffers are full) from what the server has not yet written.
//
// Plain TCP runs on the descriptor itself (recv, sendmsg), watched by the hub's own epoll set;
// TLS runs over the QSslSocket that did the handshake (Qt encrypts; a frame is copied into its
// buffer).

#include <QByteArray>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QTimer>

#include <algorithm>
#include <functional>
#include <vector>

#include <sys/epoll.h>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
class QSslSocket;
QT_END_NAMESPACE

namespace scrawl {

class WsConnection;

// The frames waiting for one connection, oldest first: a ring whose slots are reused. (A
// std::deque allocated and freed a block every 21 frames per member: malloc was an eighth of
// the server's time at N = 1000.) A ring that grew past kKeepSlots for a backlog goes back to
// its small size once drained, so an overload leaves no memory behind per connection.
class FrameQueue
{
public:
    bool empty() const { return m_count == 0; }
    size_t size() const { return m_count; }
    const QByteArray &front() const { return m_slots[m_head]; }
    const QByteArray &at(size_t i) const { return m_slots[(m_head + i) & (m_slots.size() - 1)]; }
    void push(const QByteArray &frame)
    {
        if (m_count == m_slots.size())
            grow();
        m_slots[(m_head + m_count) & (m_slots.size() - 1)] = frame; // a reference, not a copy
        ++m_count;
    }
    void pop()
    {
        m_slots[m_head] = QByteArray(); // lets the frame go once every member has sent it
        m_head = (m_head + 1) & (m_slots.size() - 1);
        if (--m_count == 0) {
            m_head = 0;
            if (m_slots.size() > kKeepSlots)
                std::vector<QByteArray>(kKeepSlots).swap(m_slots);
        }
    }
    void clear()
    {
        std::vector<QByteArray>().swap(m_slots);
        m_head = m_count = 0;
    }

private:
    static constexpr size_t kKeepSlots = 64; // a power of two, as every size here
    void grow()
    {
        std::vector<QByteArray> bigger(std::max<size_t>(16, 2 * m_slots.size()));
        for (size_t i = 0; i < m_count; ++i)
            bigger[i] = std::move(m_slots[(m_head + i) & (m_slots.size() - 1)]);
        m_slots.swap(bigger);
        m_head = 0;
    }
    std::vector<QByteArray> m_slots;
    size_t m_head = 0;
    size_t m_count = 0;
};

// What the connections of one server share: the corked writes of the current event-loop pass,
// the output backlog that pauses and resumes reading, and the epoll set that watches their
// sockets. Qt's UNIX event dispatcher poll()s every socket notifier on every pass: with 1,000
// members that was a tenth of the server's CPU at moderate load, and a few hundred microseconds
// on every op's way (the op's arrival is one pass, its commit landing another). Qt watches only
// the epoll descriptor; a pass asks epoll which connections are ready.
class WsHub : public QObject
{
public:
    // Reading stops when the peers that read are, together, more than
    // max(pauseAboveBytes, pausePerConnectionBytes x connections) behind, each counted for at most
    // peerShareBytes: a few slow peers never stop the room (their own bound is the slow-reader
    // cut), most of the room falling behind does. It starts again below a quarter of that.
    struct Limits
    {
        qint64 pauseAboveBytes;
        qint64 pausePerConnectionBytes;
        qint64 peerShareBytes;
        int stallMs; // output waiting this long without progress: a peer that is not reading
    };
    explicit WsHub(Limits limits, QObject *parent = nullptr);
    ~WsHub() override;

    // Output sequenced but not yet queued (WallServer: what the next commit will broadcast);
    // counted in the backlog so that reading stops before the broadcast, not after.
    void setPendingBytes(qint64 bytes);
    // Writes every connection that got output since the last flush. Runs at the end of every
    // pass by itself; WallServer calls it right after a broadcast.
    void flush();

    bool readingPaused() const { return m_paused; }
    // Output queued on every connection (a frame counts once per connection it waits for).
    qint64 queuedBytes() const { return m_queued; }
    // The backlog that pauses reading: each reading peer's queue up to peerShareBytes, plus
    // what is pending.
    qint64 backlogBytes();
    qint64 pauseAboveBytes() const;
    // How often reading was paused, and for how long in all (for /health and the bench).
    quint64 pauseCount() const { return m_pauseCount; }
    qint64 pausedMs() const;
    const Limits &limits() const { return m_limits; }

private:
    friend class WsConnection;
    void attach(WsConnection *c);
    void detach(WsConnection *c);
    void queued(qint64 delta, qint64 shareDelta);
    void markDirty(WsConnection *c);
    void scheduleFlush();
    void checkBacklog();
    void pause();
    void resume();
    // The epoll set: what `c` waits for (no-op when unchanged), and dispatching what is ready.
    void watch(WsConnection *c, bool read, bool write);
    void unwatch(WsConnection *c);
    void dispatchReady();

    Limits m_limits;
    int m_epoll = -1;
    QSocketNotifier *m_epollNotifier = nullptr;
    // The events of the dispatch under way: a connection destroyed meanwhile is struck out.
    static constexpr int kEpollBatch = 256;
    epoll_event m_ready[kEpollBatch];
    int m_readyCount = 0;
    std::vector<WsConnection *> m_connections; // WsConnection::m_hubIndex is its place
    std::vector<WsConnection *> m_dirty;
    bool m_flushScheduled = false;
    qint64 m_queued = 0;
    // The most queued since the output last drained: a drain after a backlog this big hands the
    // memory its buffers took back to the system (glibc keeps freed heap otherwise, as main.cpp
    // asks it to: after an overload the server stayed at its peak).
    qint64 m_queuedPeak = 0;
    static constexpr qint64 kTrimAfterDrainOfBytes = 16 * 1024 * 1024;
    qint64 m_shares = 0; // every connection's queue, each up to peerShareBytes
    qint64 m_pending = 0;
    bool m_paused = false;
    quint64 m_pauseCount = 0;
    qint64 m_pausedMsBefore = 0;
    QElapsedTimer m_pausedSince;
    qint64 m_lastCheckMs = 0;
    QTimer m_recheck; // while paused: peers that stopped reading must not hold everyone up
};

class WsConnection : public QObject
{
public:
    enum Opcode : quint8 { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

    // A plain TCP connection, by its descriptor (taken over: this object closes it). `early`:
    // bytes the peer sent after its upgrade request, already read.
    WsConnection(int fd, WsHub *hub, QByteArray early, QObject *parent = nullptr);
    // A TLS connection over the socket that did the handshake (reparented to this object).
    WsConnection(QSslSocket *socket, WsHub *hub, QByteArray early, QObject *parent = nullptr);
    ~WsConnection() override;

    // One unmasked frame, FIN set: the bytes a server sends, the same for every peer.
    static QByteArray frame(QByteArrayView payload, Opcode opcode = Binary);

    struct Handlers
    {
        std::function<void(const QByteArray &)> binary; // a whole binary message
        std::function<void()> text;                     // a text message (not Scrawl's protocol)
        std::function<void(qint64 bytes)> tooBig;       // a message passed maxMessageBytes
        std::function<void()> heard;  // a pong came, or reading resumed after a pause
        std::function<void()> closed; // gone; called once, never from inside another call here
    };
    // `maxMessageBytes`: a message over it goes to tooBig (and is dropped) as soon as its frame
    // headers say so. A single frame over `maxFrameBytes` closes the connection with 1009.
    void start(Handlers handlers, qint64 maxMessageBytes, qint64 maxFrameBytes);

    // Queues a frame (from frame()); it leaves at the end of this event-loop pass.
    void send(const QByteArray &frame);
    void ping();
    // Sends a close frame, stops reading messages, and once the peer closes too (or
    // limits::kCloseLingerMs pass) the connection is gone. Reads and drops what still comes, so
    // that the close frame is not lost to a TCP reset.
    void close(int code, const QString &reason);
    // Gone now, without a close frame.
    void abort();

    bool isOpen() const { return m_state == State::Open; }
    // Output queued here and not yet taken by the kernel, and all taken so far.
    qint64 queuedBytes() const { return m_queuedBytes; }
    qint64 writtenBytes() const { return m_writtenBytes; }
    // False when the peer has not taken what the kernel holds for it (its socket takes no more).
    bool peerReading() const;
    // Output has waited WsHub::Limits::stallMs without the peer taking any of it.
    bool stalled(qint64 nowMs) const;
    bool stalled() const;
    // Since the peer last took output (or output started waiting).
    qint64 msSinceProgress() const;

private:
    friend class WsHub;
    enum class State { Open, Closing, Gone };
    void init(QByteArray early);
    void onReadable();
    void onWritable();
    // Parses what is buffered; false when it stopped because reading is paused.
    bool parse();
    bool handleFrame(quint8 opcode, bool fin, QByteArray payload);
    void protocolError(int code, const char *reason);
    void writeOut(); // as much of the queue as the socket takes now
    void enqueue(const QByteArray &frame);
    void setQueued(qint64 bytes);
    void finish();   // -> Gone; `closed` is called from the event loop
    void setReading(bool on);
    void pausedByHub();
    void resumedByHub();

    WsHub *m_hub;
    int m_hubIndex = -1;
    bool m_dirty = false;
    State m_state = State::Open;
    Handlers m_handlers;
    qint64 m_maxMessageBytes = 0;
    qint64 m_maxFrameBytes = 0;

    int m_fd = -1;
    // What the hub's epoll set watches on m_fd (plain TCP only).
    bool m_watchRead = false;
    bool m_watchWrite = false;
    bool m_watched = false;
    QSslSocket *m_ssl = nullptr;

    QByteArray m_in; // received, not yet parsed (from m_inPos)
    qsizetype m_inPos = 0;
    QByteArray m_message; // a fragmented message being put together
    quint8 m_messageOpcode = 0;
    bool m_inMessage = false;
    bool m_readPaused = false;

    FrameQueue m_out; // frames to write; the first from m_outPos
    qsizetype m_outPos = 0;
    qint64 m_queuedBytes = 0;
    qint64 m_writtenBytes = 0;
    qint64 m_progressMs = 0; // when output last moved (or started waiting)
    bool m_shutWrite = false; // our FIN went (after a close frame)
    qint64 m_lingerBytes = 0;
    QTimer m_linger;
};

} // namespace scrawl
