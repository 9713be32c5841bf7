#include "server/wsconnection.h"

#include "core/limits.h"

#include <QLoggingCategory>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QtEndian>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWs, "scrawl.server.ws", QtInfoMsg)

namespace scrawl {

namespace {

qint64 nowMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// One recv() per readable notification at most this big: a pass reads a bounded amount from
// each peer, so that one fast sender cannot fill a pass alone.
constexpr qsizetype kReadChunk = 64 * 1024;
// Frames handed to one sendmsg() (the kernel takes up to IOV_MAX, 1024): a busy pass queues
// many small frames for each member.
constexpr int kMaxIov = 256;

// Client frames are masked (RFC 6455 5.3): out = in XOR key, the key repeating every 4 bytes.
void unmask(char *out, const char *in, qsizetype n, const quint8 key[4])
{
    quint64 key8;
    quint8 *k = reinterpret_cast<quint8 *>(&key8);
    for (int i = 0; i < 8; ++i)
        k[i] = key[i % 4];
    qsizetype i = 0;
    for (; i + 8 <= n; i += 8) {
        quint64 word;
        std::memcpy(&word, in + i, 8);
        word ^= key8;
        std::memcpy(out + i, &word, 8);
    }
    for (; i < n; ++i)
        out[i] = char(quint8(in[i]) ^ key[i % 4]);
}

} // namespace

// --- WsHub ---

WsHub::WsHub(Limits limits, QObject *parent)
    : QObject(parent)
    , m_limits(limits)
{
    m_recheck.setInterval(std::max(10, limits.stallMs / 4));
    connect(&m_recheck, &QTimer::timeout, this, &WsHub::checkBacklog);
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0)
        qFatal("epoll_create1 failed: %s", std::strerror(errno));
    // Level-triggered: the epoll descriptor stays readable while any connection is ready, so a
    // connection with more than one pass's read waiting is served again on the next pass.
    m_epollNotifier = new QSocketNotifier(qintptr(m_epoll), QSocketNotifier::Read, this);
    connect(m_epollNotifier, &QSocketNotifier::activated, this, &WsHub::dispatchReady);
}

WsHub::~WsHub()
{
    delete m_epollNotifier;
    ::close(m_epoll);
}

void WsHub::watch(WsConnection *c, bool read, bool write)
{
    if (c->m_fd < 0 || (c->m_watched && c->m_watchRead == read && c->m_watchWrite == write))
        return;
    epoll_event ev{};
    ev.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    if (::epoll_ctl(m_epoll, c->m_watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->m_fd, &ev) != 0) {
        qCWarning(lcWs) << "epoll_ctl failed:" << std::strerror(errno);
        return;
    }
    c->m_watched = true;
    c->m_watchRead = read;
    c->m_watchWrite = write;
}

void WsHub::unwatch(WsConnection *c)
{
    if (c->m_watched && c->m_fd >= 0)
        ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, c->m_fd, nullptr);
    c->m_watched = c->m_watchRead = c->m_watchWrite = false;
    for (int i = 0; i < m_readyCount; ++i) {
        if (m_ready[i].data.ptr == c)
            m_ready[i].data.ptr = nullptr;
    }
}

void WsHub::dispatchReady()
{
    const int n = ::epoll_wait(m_epoll, m_ready, kEpollBatch, 0);
    m_readyCount = std::max(n, 0);
    for (int i = 0; i < m_readyCount; ++i) {
        // Writes first: they free the queue a read's handling may add to.
        const std::uint32_t events = m_ready[i].events;
        if (auto *c = static_cast<WsConnection *>(m_ready[i].data.ptr);
            c && c->m_watchWrite && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            c->onWritable();
        if (auto *c = static_cast<WsConnection *>(m_ready[i].data.ptr);
            c && c->m_watchRead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            c->onReadable();
        // epoll reports a reset or hang-up whatever was asked for: one whose reading is paused
        // would keep the set ready, and every pass busy, until reading resumes. Out of the set
        // until then (watch() puts it back, and the reset is found then).
        if (auto *c = static_cast<WsConnection *>(m_ready[i].data.ptr);
            c && c->m_watched && !c->m_watchRead && !c->m_watchWrite && (events & (EPOLLERR | EPOLLHUP))) {
            ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, c->m_fd, nullptr);
            c->m_watched = false;
        }
    }
    m_readyCount = 0;
}

void WsHub::attach(WsConnection *c)
{
    c->m_hubIndex = int(m_connections.size());
    m_connections.push_back(c);
}

void WsHub::detach(WsConnection *c)
{
    if (c->m_hubIndex < 0)
        return;
    WsConnection *last = m_connections.back();
    m_connections[size_t(c->m_hubIndex)] = last;
    last->m_hubIndex = c->m_hubIndex;
    m_connections.pop_back();
    c->m_hubIndex = -1;
    if (c->m_dirty)
        std::erase(m_dirty, c);
    queued(-c->m_queuedBytes, -std::min(c->m_queuedBytes, m_limits.peerShareBytes));
}

qint64 WsHub::pauseAboveBytes() const
{
    return std::max(m_limits.pauseAboveBytes,
                    m_limits.pausePerConnectionBytes * qint64(m_connections.size()));
}

void WsHub::queued(qint64 delta, qint64 shareDelta)
{
    m_queued += delta;
    m_shares += shareDelta;
    m_queuedPeak = std::max(m_queuedPeak, m_queued);
    if (m_queued == 0 && std::exchange(m_queuedPeak, 0) >= kTrimAfterDrainOfBytes) {
        // From the event loop: this runs inside a connection's write.
        QMetaObject::invokeMethod(
            this,
            [] {
                QElapsedTimer timer;
                timer.start();
                malloc_trim(0);
                qCDebug(lcWs) << "output drained after a backlog: memory handed back in"
                              << timer.elapsed() << "ms";
            },
            Qt::QueuedConnection);
    }
    if (m_paused && shareDelta < 0 && m_shares + m_pending < pauseAboveBytes() / 4)
        resume();
}

void WsHub::setPendingBytes(qint64 bytes)
{
    m_pending = bytes;
    if (!m_paused && m_shares + m_pending > pauseAboveBytes())
        checkBacklog();
}

void WsHub::markDirty(WsConnection *c)
{
    if (c->m_dirty)
        return;
    c->m_dirty = true;
    m_dirty.push_back(c);
    scheduleFlush();
}

void WsHub::scheduleFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    // After what this pass still has to do: everything it queued leaves together.
    QMetaObject::invokeMethod(this, [this] { flush(); }, Qt::QueuedConnection);
}

void WsHub::flush()
{
    m_flushScheduled = false;
    // writeOut may finish a connection, which detaches it (and edits m_dirty): take the list.
    std::vector<WsConnection *> dirty;
    dirty.swap(m_dirty);
    for (WsConnection *c : dirty)
        c->m_dirty = false;
    for (WsConnection *c : dirty) {
        // One whose socket took no more last time waits for it to be writable (onWritable):
        // trying again now would mostly be a wasted syscall.
        if (c->m_hubIndex >= 0 && !c->m_watchWrite)
            c->writeOut();
    }
    if (!m_paused && m_shares + m_pending > pauseAboveBytes())
        checkBacklog();
}

qint64 WsHub::backlogBytes()
{
    // Output that waits for a peer that is not reading is that peer's (the slow-reader bound
    // deals with it), not the server's: it must not stop everyone's reading.
    const qint64 now = nowMs();
    qint64 stalled = 0;
    for (const WsConnection *c : m_connections) {
        if (c->m_queuedBytes > 0 && c->stalled(now))
            stalled += std::min(c->m_queuedBytes, m_limits.peerShareBytes);
    }
    return m_shares - stalled + m_pending;
}

void WsHub::checkBacklog()
{
    // backlogBytes() looks at every connection: at most once a millisecond (while the shares
    // stay over the bound because of stalled peers, every op would ask again).
    const qint64 now = nowMs();
    if (now == m_lastCheckMs)
        return;
    m_lastCheckMs = now;
    const qint64 backlog = backlogBytes();
    if (!m_paused && backlog > pauseAboveBytes())
        pause();
    else if (m_paused && backlog < pauseAboveBytes() / 4)
        resume();
}

void WsHub::pause()
{
    m_paused = true;
    ++m_pauseCount;
    m_pausedSince.start();
    m_recheck.start();
    qCDebug(lcWs) << "reading paused: output backlog" << m_shares << "bytes (" << m_queued
                  << "queued in all)," << m_pending << "pending";
}

void WsHub::resume()
{
    m_paused = false;
    m_pausedMsBefore += m_pausedSince.elapsed();
    m_recheck.stop();
    // Reading resumes from the event loop: resume() may run inside a connection's write.
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (m_paused)
                return;
            const std::vector<WsConnection *> all = m_connections;
            for (WsConnection *c : all) {
                if (c->m_readPaused && c->m_hubIndex >= 0)
                    c->resumedByHub();
            }
        },
        Qt::QueuedConnection);
}

qint64 WsHub::pausedMs() const
{
    return m_pausedMsBefore + (m_paused ? m_pausedSince.elapsed() : 0);
}

// --- WsConnection ---

WsConnection::WsConnection(int fd, WsHub *hub, QByteArray early, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_fd(fd)
{
    init(std::move(early));
    m_hub->watch(this, true, false);
}

WsConnection::WsConnection(QSslSocket *socket, WsHub *hub, QByteArray early, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_ssl(socket)
{
    socket->setParent(this);
    // Qt stops reading from the kernel once this much waits unread: a pause is real.
    socket->setReadBufferSize(kReadChunk);
    connect(socket, &QIODevice::readyRead, this, &WsConnection::onReadable);
    connect(socket, &QIODevice::bytesWritten, this, [this](qint64 bytes) {
        m_progressMs = nowMs();
        m_writtenBytes += bytes;
        setQueued(m_ssl->bytesToWrite() + m_ssl->encryptedBytesToWrite());
        if (m_state == State::Closing && m_queuedBytes == 0 && !m_shutWrite) {
            m_shutWrite = true;
            m_ssl->disconnectFromHost();
        }
    });
    connect(socket, &QAbstractSocket::disconnected, this, &WsConnection::finish);
    connect(socket, &QAbstractSocket::errorOccurred, this, [this] {
        if (m_ssl->state() != QAbstractSocket::ConnectedState)
            finish();
    });
    init(std::move(early));
}

void WsConnection::init(QByteArray early)
{
    m_hub->attach(this);
    m_in = std::move(early);
    m_linger.setSingleShot(true);
    connect(&m_linger, &QTimer::timeout, this, &WsConnection::finish);
}

WsConnection::~WsConnection()
{
    m_hub->unwatch(this);
    m_hub->detach(this);
    if (m_fd >= 0)
        ::close(m_fd);
}

void WsConnection::start(Handlers handlers, qint64 maxMessageBytes, qint64 maxFrameBytes)
{
    m_handlers = std::move(handlers);
    m_maxMessageBytes = maxMessageBytes;
    m_maxFrameBytes = maxFrameBytes;
    // Whatever came with the upgrade request, and whatever is waiting.
    QMetaObject::invokeMethod(this, &WsConnection::onReadable, Qt::QueuedConnection);
}

QByteArray WsConnection::frame(QByteArrayView payload, Opcode opcode)
{
    const qsizetype n = payload.size();
    const int header = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
    QByteArray out(header + n, Qt::Uninitialized);
    auto *p = reinterpret_cast<uchar *>(out.data());
    p[0] = 0x80 | opcode;
    if (n < 126) {
        p[1] = uchar(n);
    } else if (n <= 0xFFFF) {
        p[1] = 126;
        qToBigEndian(quint16(n), p + 2);
    } else {
        p[1] = 127;
        qToBigEndian(quint64(n), p + 2);
    }
    if (n > 0)
        std::memcpy(p + header, payload.data(), size_t(n));
    return out;
}

void WsConnection::send(const QByteArray &frame)
{
    if (m_state != State::Open)
        return;
    enqueue(frame);
}

void WsConnection::enqueue(const QByteArray &frame)
{
    if (m_ssl) {
        m_ssl->write(frame);
        if (m_queuedBytes == 0)
            m_progressMs = nowMs();
        setQueued(m_queuedBytes + frame.size());
        return;
    }
    if (m_queuedBytes == 0)
        m_progressMs = nowMs();
    m_out.push(frame); // shared with every other member's queue, not copied
    setQueued(m_queuedBytes + frame.size());
    m_hub->markDirty(this);
}

void WsConnection::setQueued(qint64 bytes)
{
    const qint64 delta = bytes - m_queuedBytes;
    const qint64 share = m_hub->limits().peerShareBytes;
    const qint64 shareDelta = std::min(bytes, share) - std::min(m_queuedBytes, share);
    m_queuedBytes = bytes;
    if (m_hubIndex >= 0)
        m_hub->queued(delta, shareDelta);
}

void WsConnection::ping()
{
    if (m_state == State::Open)
        enqueue(frame({}, Ping));
}

void WsConnection::close(int code, const QString &reason)
{
    if (m_state != State::Open)
        return;
    // A close reason is at most 123 bytes (RFC 6455 5.5): cut on a character boundary.
    QString text = reason;
    QByteArray utf8 = text.toUtf8();
    while (utf8.size() > 123) {
        text.chop(1);
        utf8 = text.toUtf8();
    }
    QByteArray payload(2, Qt::Uninitialized);
    qToBigEndian(quint16(code), payload.data());
    payload += utf8;
    enqueue(frame(payload, Close));
    m_state = State::Closing;
    m_inMessage = false;
    m_message.clear();
    m_linger.start(limits::kCloseLingerMs);
    // Reading goes on (to drop what still comes) whatever the hub says.
    setReading(true);
    if (m_ssl && m_ssl->bytesToWrite() == 0 && !m_shutWrite) {
        m_shutWrite = true;
        m_ssl->disconnectFromHost();
    }
}

void WsConnection::abort()
{
    if (m_ssl && m_state != State::Gone)
        m_ssl->abort();
    finish();
}

void WsConnection::finish()
{
    if (m_state == State::Gone)
        return;
    m_state = State::Gone;
    m_linger.stop();
    m_hub->unwatch(this);
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    m_out.clear();
    m_outPos = 0;
    setQueued(0);
    m_hub->detach(this);
    m_in.clear();
    m_message.clear();
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (m_handlers.closed)
                m_handlers.closed();
        },
        Qt::QueuedConnection);
}

bool WsConnection::peerReading() const
{
    if (m_state == State::Gone)
        return false;
    if (m_ssl)
        return m_queuedBytes == 0 || !stalled(nowMs());
    pollfd p{m_fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

qint64 WsConnection::msSinceProgress() const
{
    return nowMs() - m_progressMs;
}

bool WsConnection::stalled() const
{
    return stalled(nowMs());
}

bool WsConnection::stalled(qint64 now) const
{
    return m_queuedBytes > 0 && now - m_progressMs > m_hub->limits().stallMs;
}

void WsConnection::setReading(bool on)
{
    m_readPaused = !on;
    if (m_state != State::Gone)
        m_hub->watch(this, on, m_watchWrite);
}

void WsConnection::pausedByHub()
{
    setReading(false);
}

void WsConnection::resumedByHub()
{
    if (m_state == State::Gone)
        return;
    setReading(true);
    // Its pongs waited unread like everything else: it was heard from.
    if (m_handlers.heard)
        m_handlers.heard();
    onReadable();
}

void WsConnection::onReadable()
{
    if (m_state == State::Gone)
        return;
    if (m_state == State::Open && m_hub->readingPaused()) {
        pausedByHub();
        return;
    }
    if (m_ssl) {
        const QByteArray data = m_ssl->readAll();
        if (m_state == State::Closing) {
            m_lingerBytes += data.size();
        } else {
            m_in += data;
        }
    } else {
        // Into a scratch buffer first: an idle connection keeps no read buffer.
        static thread_local char scratch[kReadChunk];
        const ssize_t n = ::recv(m_fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0 && m_state == State::Open)
            m_in.append(scratch, qsizetype(n));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            finish(); // the peer closed, or the connection failed
            return;
        }
        if (m_state == State::Closing) {
            // Dropped: only the peer's close (its end of the stream) is waited for.
            m_lingerBytes += std::max<ssize_t>(n, 0);
        }
    }
    if (m_state == State::Closing) {
        if (m_lingerBytes > limits::kCloseLingerBytes)
            finish();
        return;
    }
    parse();
}

bool WsConnection::parse()
{
    while (m_state == State::Open) {
        if (m_hub->readingPaused()) {
            pausedByHub();
            break;
        }
        const qsizetype avail = m_in.size() - m_inPos;
        if (avail < 2)
            break;
        const auto *p = reinterpret_cast<const quint8 *>(m_in.constData() + m_inPos);
        const bool fin = p[0] & 0x80;
        const quint8 opcode = p[0] & 0x0F;
        if (p[0] & 0x70) {
            protocolError(1002, "reserved bits set (no extension was agreed)");
            return false;
        }
        if (!(p[1] & 0x80)) {
            protocolError(1002, "client frames must be masked");
            return false;
        }
        quint64 len = p[1] & 0x7F;
        qsizetype header = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = qFromBigEndian<quint16>(p + 2);
            header = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = qFromBigEndian<quint64>(p + 2);
            header = 10;
        }
        header += 4; // the mask key
        const bool control = opcode & 0x8;
        if (control && (!fin || len > 125)) {
            protocolError(1002, "a control frame must be whole and at most 125 bytes");
            return false;
        }
        if (len > quint64(m_maxFrameBytes)) {
            protocolError(1009, "frame too big");
            return false;
        }
        if (!control) {
            const bool continuation = opcode == Continuation;
            if (continuation != m_inMessage
                || (!continuation && opcode != Text && opcode != Binary)) {
                protocolError(1002, continuation ? "a continuation frame without a message"
                                                 : "a new message inside a fragmented one, or an unknown opcode");
                return false;
            }
            // The named limit, as soon as the headers say it is passed.
            const qint64 total = (continuation ? m_message.size() : 0) + qint64(len);
            if (total > m_maxMessageBytes && m_handlers.tooBig) {
                m_handlers.tooBig(total);
                return false;
            }
        } else if (opcode != Close && opcode != Ping && opcode != Pong) {
            protocolError(1002, "unknown control opcode");
            return false;
        }
        if (quint64(avail) < header + len)
            break;
        quint8 key[4];
        std::memcpy(key, p + header - 4, 4);
        QByteArray payload(qsizetype(len), Qt::Uninitialized);
        unmask(payload.data(), m_in.constData() + m_inPos + header, qsizetype(len), key);
        m_inPos += header + qsizetype(len);
        if (!handleFrame(opcode, fin, std::move(payload)))
            return false;
    }
    if (m_state == State::Gone)
        return false;
    // Keep only what is not parsed yet.
    if (m_inPos == m_in.size()) {
        m_in.clear();
        m_inPos = 0;
    } else if (m_inPos > 0) {
        m_in.remove(0, m_inPos);
        m_inPos = 0;
    }
    return !m_readPaused;
}

bool WsConnection::handleFrame(quint8 opcode, bool fin, QByteArray payload)
{
    switch (opcode) {
    case Ping:
        enqueue(frame(payload, Pong));
        return true;
    case Pong:
        if (m_handlers.heard)
            m_handlers.heard();
        return true;
    case Close: {
        // Answered with the peer's code; then the peer closes the stream (or we do, later).
        const quint16 code = payload.size() >= 2 ? qFromBigEndian<quint16>(payload.constData()) : 1000;
        close(code == 1005 || code == 1006 || code == 1015 ? 1000 : code, {});
        return false;
    }
    default:
        break;
    }
    if (opcode != Continuation)
        m_messageOpcode = opcode;
    if (!fin) {
        m_inMessage = true;
        m_message += payload;
        return true;
    }
    QByteArray message = m_inMessage ? m_message + payload : std::move(payload);
    m_inMessage = false;
    m_message.clear();
    if (m_messageOpcode == Text) {
        if (m_handlers.text)
            m_handlers.text();
    } else if (m_handlers.binary) {
        m_handlers.binary(message);
    }
    return m_state == State::Open;
}

void WsConnection::protocolError(int code, const char *reason)
{
    qCDebug(lcWs) << "closing a connection with" << code << ":" << reason;
    close(code, QString::fromLatin1(reason));
}

void WsConnection::onWritable()
{
    writeOut();
}

void WsConnection::writeOut()
{
    if (m_ssl || m_state == State::Gone)
        return;
    while (!m_out.empty()) {
        iovec iov[kMaxIov];
        int count = 0;
        for (; size_t(count) < m_out.size() && count < kMaxIov; ++count) {
            const QByteArray &frame = m_out.at(size_t(count));
            const qsizetype skip = count == 0 ? m_outPos : 0;
            iov[count].iov_base = const_cast<char *>(frame.constData()) + skip;
            iov[count].iov_len = size_t(frame.size() - skip);
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = size_t(count);
        const ssize_t n = ::sendmsg(m_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            finish(); // reset by the peer, or the connection failed
            return;
        }
        m_progressMs = nowMs();
        qsizetype left = qsizetype(n);
        while (left > 0) {
            const qsizetype rest = m_out.front().size() - m_outPos;
            if (left >= rest) {
                left -= rest;
                m_out.pop();
                m_outPos = 0;
            } else {
                m_outPos += left;
                left = 0;
            }
        }
        m_writtenBytes += n;
        setQueued(m_queuedBytes - qint64(n));
        if (m_state == State::Gone)
            return;
    }
    m_hub->watch(this, m_watchRead, !m_out.empty());
    if (m_out.empty() && m_state == State::Closing && !m_shutWrite) {
        // Our close frame is out: the end of our stream follows it. The peer's close (or end of
        // stream) ends the connection.
        m_shutWrite = true;
        ::shutdown(m_fd, SHUT_WR);
    }
}

} // namespace scrawl
