#include "server/session.h"

#include "core/limits.h"
#include "server/wallserver.h"

#include "server/wsconnection.h"

#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcSession, "scrawl.server.session", QtInfoMsg)

namespace scrawl {

namespace {

constexpr TextRules kNameRules{"display name", limits::kMaxNameChars, limits::kMaxNameCharsName,
                               false, false};

QByteArray newToken()
{
    QByteArray token(16, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(token.data()), 4);
    return token;
}

} // namespace

Session::Session(WsConnection *connection, WallServer *server, const QHostAddress &peer)
    : QObject(server)
    , m_conn(connection)
    , m_server(server)
    , m_peer(peer)
    , m_tokens(server->options().opsBurst)
{
    m_conn->setParent(this);
    m_heard.start();
    m_tokenClock.start();
    WsConnection::Handlers handlers;
    handlers.binary = [this](const QByteArray &message) { onBinary(message); };
    handlers.text = [this] { onText(); };
    handlers.tooBig = [this](qint64 bytes) { failTooBig(bytes); };
    handlers.heard = [this] { m_heard.restart(); };
    handlers.closed = [this] {
        m_state = State::Closing;
        m_server->forget(this);
        deleteLater();
    };
    // A message over the named limit is refused as soon as its frame headers say so; a single
    // frame over the transport ceiling ends the connection with 1009.
    m_conn->start(std::move(handlers), limits::kMaxMessageBytes, limits::kTransportMaxBytes);

    m_helloTimeout.setSingleShot(true);
    connect(&m_helloTimeout, &QTimer::timeout, this, [this] {
        fail({pb::TIMEOUT,
              QStringLiteral("No Hello arrived within %1 s of connecting; the connection is closed.")
                  .arg(m_server->options().helloTimeoutMs / 1000.0),
              {}});
    });
    m_helloTimeout.start(m_server->options().helloTimeoutMs);

    m_cursorTimer.setSingleShot(true);
    connect(&m_cursorTimer, &QTimer::timeout, this, [this] {
        if (!m_heldCursor || !m_room || m_state != State::Ready)
            return;
        if (!m_cursorTokens.take()) {
            m_cursorTimer.start(std::max(1, m_cursorTokens.msUntilToken()));
            return;
        }
        pb::Cursor cursor = std::move(*m_heldCursor);
        m_heldCursor.reset();
        m_server->broadcastCursor(this, std::move(cursor));
    });
}

Session::Session(WallServer *server, const QHostAddress &peer, Output out, Closed closed)
    : QObject(nullptr)
    , m_out(std::move(out))
    , m_closed(std::move(closed))
    , m_server(server)
    , m_peer(peer)
    , m_tokens(server->options().opsBurst)
{
    m_heard.start();
    m_tokenClock.start();
}

Session::~Session()
{
    // A socket-free session leaves when its owner deletes it; a socket's leaves on disconnect.
    if (!m_conn && m_state != State::Closing)
        m_server->forget(this);
}

void Session::write(const QByteArray &bytes)
{
    if (m_conn)
        m_conn->send(WsConnection::frame(bytes));
    else
        m_out(bytes);
}

qint64 Session::joinAnswerUnsent() const
{
    return m_conn ? std::max<qint64>(0, m_joinAnswerEnd - m_conn->writtenBytes()) : 0;
}

qint64 Session::msSinceHeard()
{
    // A join answer being taken is a peer that reads: its pong to a ping queued behind tens of
    // MB comes only once they are through, at the link's speed. While the answer drains, the
    // peer taking it counts as hearing from it; once it is taken, silence counts from then.
    if (m_conn && m_joinAnswerEnd > 0) {
        const qint64 silent = std::min(m_heard.elapsed(), m_conn->msSinceProgress());
        if (joinAnswerUnsent() == 0) {
            m_joinAnswerEnd = 0;
            m_heard.restart();
        }
        return silent;
    }
    return m_heard.elapsed();
}

pb::Member Session::member() const
{
    pb::Member m;
    m.set_user_id(m_userId);
    m.set_name(toWire(m_name));
    m.set_color(m_color);
    m.set_role(m_room ? m_room->roleOf(m_userId) : pb::ROLE_MEMBER);
    return m;
}

bool Session::keepsUp()
{
    if (m_state == State::Closing)
        return false;
    if (!m_conn)
        return true;
    // What is queued behind the join answer: the answer itself drains at the link's speed and
    // may alone be above the bound (a big wall's snapshot); a reader falls behind the wall only
    // by what piles up after it. And only what the peer failed to read counts: output the server
    // has not written yet (an overloaded server, or one pass's broadcast) waits in a socket the
    // kernel would take it from.
    if (m_conn->queuedBytes() - joinAnswerUnsent() <= limits::kSlowReaderDisconnectBytes
        || m_conn->peerReading())
        return true;
    fail(limitProblem(limits::kSlowReaderName,
                      QStringLiteral("Your connection fell more than %1 MB behind the wall "
                                     "(limit %2); reconnect to catch up.")
                          .arg(limits::kSlowReaderDisconnectBytes / (1024 * 1024))
                          .arg(QLatin1String(limits::kSlowReaderName))));
    // Do not wait for a reader that does not read to take the close frame.
    m_conn->abort();
    return false;
}

void Session::send(const QByteArray &bytes)
{
    if (keepsUp())
        write(bytes);
}

void Session::sendFrame(const QByteArray &frame, const QByteArray &payload)
{
    if (!keepsUp())
        return;
    if (m_conn)
        m_conn->send(frame);
    else
        m_out(payload);
}

void Session::sendJoinAnswer(const QByteArray &bytes)
{
    // One answer at a time is let through: an earlier one still queued (a client that joins
    // again without reading) counts against the bound like anything else.
    if (joinAnswerUnsent() > 0)
        m_joinAnswerEnd = 0;
    send(bytes);
    if (m_state != State::Closing && m_conn)
        m_joinAnswerEnd = m_conn->writtenBytes() + m_conn->queuedBytes();
}

void Session::sendEphemeral(const QByteArray &bytes)
{
    if (m_state == State::Closing
        || (m_conn && m_conn->queuedBytes() > limits::kSlowReaderDropEphemeralBytes))
        return;
    write(bytes);
}

void Session::sendEphemeralFrame(const QByteArray &frame, const QByteArray &payload)
{
    if (m_state == State::Closing)
        return;
    if (!m_conn)
        m_out(payload);
    else if (m_conn->queuedBytes() <= limits::kSlowReaderDropEphemeralBytes)
        m_conn->send(frame);
}

void Session::refuse(const Problem &problem, std::uint64_t clientOpId)
{
    qCDebug(lcSession) << m_peer << "refused:" << problem.message;
    send(serialize(errorEnvelope(problem, clientOpId, false)));
}

void Session::fail(const Problem &problem)
{
    if (m_state == State::Closing)
        return;
    qCInfo(lcSession) << "closing" << m_peer << "user" << m_userId << ":" << problem.message;
    write(serialize(errorEnvelope(problem, 0, true)));
    m_state = State::Closing;
    m_helloTimeout.stop();
    if (!m_conn) {
        m_server->forget(this);
        if (m_closed)
            m_closed(closeCodeFor(problem.code));
        return;
    }
    // The connection is gone once the peer closes too, or after limits::kCloseLingerMs.
    m_conn->close(closeCodeFor(problem.code), problem.message);
    m_server->forget(this);
}

void Session::ping()
{
    if (m_state != State::Closing && m_conn)
        m_conn->ping();
}

bool Session::admitCursor(const pb::Cursor &cursor, bool *flooding)
{
    if (!m_cursorWindow.isValid() || m_cursorWindow.elapsed() >= 1000) {
        m_cursorWindow.start();
        m_cursorsInWindow = 0;
    }
    *flooding = ++m_cursorsInWindow == limits::kCursorFloodPerSecond + 1;
    if (m_cursorTokens.take()) {
        // Newer than any held one, which is dropped.
        m_heldCursor.reset();
        m_cursorTimer.stop();
        return true;
    }
    m_heldCursor = cursor;
    if (!m_cursorTimer.isActive())
        m_cursorTimer.start(std::max(1, m_cursorTokens.msUntilToken()));
    return false;
}

void Session::onText()
{
    m_heard.restart();
    fail({pb::PROTOCOL,
          QStringLiteral("Text frames are not part of the Scrawl protocol; send binary protobuf "
                         "envelopes."),
          {}});
}

void Session::onBinary(const QByteArray &bytes)
{
    if (m_state == State::Closing)
        return;
    m_heard.restart();
    if (bytes.size() > limits::kMaxMessageBytes) {
        failTooBig(bytes.size());
        return;
    }
    // Unknown fields go before anything looks at the envelope: nothing the schema does not
    // know is checked, stored or relayed (a chat padded with them got around the limits).
    pb::Envelope env;
    if (!parseInput(bytes, &env)) {
        fail({pb::PROTOCOL,
              QStringLiteral("A message of %1 bytes is not a Scrawl envelope; check that client "
                             "and server speak the same protocol.")
                  .arg(bytes.size()),
              {}});
        return;
    }
    dispatch(env);
}

void Session::failTooBig(qint64 bytes)
{
    fail(limitProblem(limits::kMaxMessageBytesName,
                      QStringLiteral("A message of %1 bytes or more is too big; the limit %2 is %3 "
                                     "bytes.")
                          .arg(bytes)
                          .arg(QLatin1String(limits::kMaxMessageBytesName))
                          .arg(limits::kMaxMessageBytes)));
}

void Session::dispatch(const pb::Envelope &env)
{
    if (m_state == State::AwaitingHello && env.msg_case() != pb::Envelope::kHello) {
        fail({pb::HELLO_REQUIRED,
              QStringLiteral("The first message must be Hello; the client sent something else."),
              {}});
        return;
    }
    switch (env.msg_case()) {
    case pb::Envelope::kHello:
        if (m_state != State::AwaitingHello) {
            fail({pb::HELLO_REPEATED,
                  QStringLiteral("Hello was sent twice on one connection; send it once, first."),
                  {}});
            return;
        }
        onHello(env.hello());
        return;
    case pb::Envelope::kJoin:
        m_server->join(this, env.join());
        return;
    case pb::Envelope::kOp:
        onOp(env.op());
        return;
    case pb::Envelope::kCursor:
        if (!m_room) {
            refuse({pb::NOT_JOINED, QStringLiteral("Join a wall before sending a cursor."), {}});
            return;
        }
        m_server->relayCursor(this, env.cursor());
        return;
    case pb::Envelope::kHistoryRequest:
        if (!m_room) {
            refuse({pb::NOT_JOINED, QStringLiteral("Join a wall before asking for its history."), {}});
            return;
        }
        m_server->sendHistory(this, env.history_request());
        return;
    case pb::Envelope::kOpsRequest:
        if (!m_room) {
            refuse({pb::NOT_JOINED, QStringLiteral("Join a wall before asking for its past."), {}});
            return;
        }
        m_server->sendOps(this, env.ops_request());
        return;
    case pb::Envelope::kModerate:
        if (!m_room) {
            refuse({pb::NOT_JOINED, QStringLiteral("Join a wall before moderating it."), {}});
            return;
        }
        m_server->moderate(this, env.moderate());
        return;
    case pb::Envelope::kWelcome:
    case pb::Envelope::kWallState:
    case pb::Envelope::kApiToken:
    case pb::Envelope::kError:
    case pb::Envelope::kJoined:
    case pb::Envelope::kPresence:
    case pb::Envelope::kHistory:
    case pb::Envelope::kOpsPage:
    case pb::Envelope::MSG_NOT_SET:
        fail({pb::PROTOCOL,
              QStringLiteral("The client sent a message only a server sends; check the client."),
              {}});
        return;
    }
}

void Session::onHello(const pb::Hello &hello)
{
    m_helloTimeout.stop();
    if (hello.protocol_version() != kProtocolVersion) {
        fail({pb::VERSION_MISMATCH,
              QStringLiteral("This server (Scrawl %1) speaks protocol %2 and your app speaks "
                             "protocol %3; update the older of the two.")
                  .arg(QLatin1String(kAppVersion))
                  .arg(kProtocolVersion)
                  .arg(hello.protocol_version()),
              {}});
        return;
    }
    if (auto p = decodeText(hello.display_name(), kNameRules, &m_name)) {
        fail(*p);
        return;
    }
    m_name = m_name.trimmed();
    m_color = hello.color() & 0xFFFFFFu;

    Directory &directory = m_server->directory();
    bool resumed = false;
    QByteArray token = QByteArray::fromStdString(hello.resume_token());
    if (!token.isEmpty()) {
        const auto id = directory.findUser(token);
        if (!id) {
            // Not "unknown": storage could not say. Taking them for someone new would store
            // their resent changes a second time, under another identity.
            qCWarning(lcSession) << "cannot look up a returning identity:" << directory.lastError();
            fail({pb::STORAGE_UNAVAILABLE,
                  QStringLiteral("The server cannot check who you are right now (its storage does "
                                 "not answer); Scrawl tries again in a moment."),
                  {}});
            return;
        }
        if (*id != 0) {
            m_userId = *id;
            resumed = true;
        }
    }
    if (!resumed) {
        // User rows are kept for good: bound how fast one address can add them.
        if (const char *limit = m_server->addressGuard().admitNewUser(m_peer)) {
            fail(limitProblem(limit,
                              QStringLiteral("Too many new identities came from your address this "
                                             "hour (limit %1: %2); reconnect with your saved "
                                             "identity, or try again later.")
                                  .arg(QLatin1String(limit))
                                  .arg(m_server->addressGuard().limits().maxNewUsersPerHour)));
            return;
        }
        token = newToken();
        if (const auto id = directory.createUser(token)) {
            m_userId = *id;
        } else {
            // Storage is down: let the person in to read the wall rather than shutting them
            // out; their changes are refused until they reconnect with a stored identity.
            m_userId = m_server->newSessionOnlyUser();
            token.clear();
            qCWarning(lcSession) << "storage cannot keep a new user; session-only id" << m_userId;
        }
    }

    pb::Envelope env;
    pb::Welcome *w = env.mutable_welcome();
    w->set_protocol_version(kProtocolVersion);
    w->set_server_version(kAppVersion);
    w->set_user_id(m_userId);
    w->set_resume_token(token.toStdString());
    w->set_resumed(resumed);
    m_state = State::Ready;
    send(serialize(env));
    qCInfo(lcSession) << "hello from" << m_peer << m_name << "user" << m_userId
                      << (resumed ? "(resumed)" : "");
}

bool Session::takeOpToken()
{
    const double elapsed = m_tokenClock.restart() / 1000.0;
    const ServerOptions &options = m_server->options();
    m_tokens = std::min<double>(options.opsBurst, m_tokens + elapsed * options.maxOpsPerSecond);
    if (m_tokens < 1.0)
        return false;
    m_tokens -= 1.0;
    return true;
}

void Session::onOp(pb::Op op)
{
    // Protocol 3: an op without a client op id is numbered one above the previous op on this
    // connection (whatever became of that one). The first op must carry its id.
    if (op.client_op_id() == 0 && m_lastOpId != 0)
        op.set_client_op_id(m_lastOpId + 1);
    m_lastOpId = op.client_op_id();
    const std::uint64_t clientOpId = op.client_op_id();
    if (!m_room) {
        refuse({pb::NOT_JOINED, QStringLiteral("Join a wall before sending changes to it."), {}},
               clientOpId);
        return;
    }
    // Protocol 1's `points` are read only from walls stored before (the proto); a live client
    // sends `path`. Refused rather than dropped, so that a stroke is never stored half empty.
    if ((op.has_stroke_begin() && op.stroke_begin().points_size() > 0)
        || (op.has_stroke_points() && op.stroke_points().points_size() > 0)) {
        refuse({pb::INVALID_OP,
                QStringLiteral("The stroke's points came in the protocol 1 `points` field, which "
                               "the server reads only from old walls; send them in `path`."),
                {}},
               clientOpId);
        return;
    }
    if (!takeOpToken()) {
        // A client that keeps flooding after being told is cut off; one that slows down is not.
        // Refusals are counted per second rather than in a row: a flood that the server reads
        // slower than it is sent (a loaded machine, a sanitizer build) interleaves refill
        // tokens with refusals and would never make a long enough row.
        if (!m_refusalWindow.isValid() || m_refusalWindow.elapsed() > 1000) {
            m_refusalWindow.start();
            m_refusedInWindow = 0;
        }
        if (++m_refusedInWindow > m_server->options().maxOpsPerSecond) {
            fail(limitProblem(limits::kMaxOpsPerSecondName,
                              QStringLiteral("Too many changes too fast (limit %1: %2 a second); "
                                             "the connection is closed.")
                                  .arg(QLatin1String(limits::kMaxOpsPerSecondName))
                                  .arg(m_server->options().maxOpsPerSecond)));
            return;
        }
        refuse(limitProblem(limits::kMaxOpsPerSecondName,
                            QStringLiteral("Too many changes too fast (limit %1: %2 a second); "
                                           "slow down and send this one again.")
                                .arg(QLatin1String(limits::kMaxOpsPerSecondName))
                                .arg(m_server->options().maxOpsPerSecond)),
               clientOpId);
        return;
    }
    if (auto problem = m_server->submit(m_room, this, std::move(op)))
        refuse(*problem, clientOpId);
}

} // namespace scrawl
