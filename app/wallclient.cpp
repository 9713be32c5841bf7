#include "app/wallclient.h"

#include "app/tilepainter.h"
#include "app/invitelink.h"
#include "app/tlstrust.h"
#include "core/limits.h"

#include <QClipboard>
#include <QScopeGuard>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGuiApplication>
#include <QMimeData>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSettings>
#include <QSslError>
#include <QWebSocket>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>

Q_LOGGING_CATEGORY(lcClient, "scrawl.app.client", QtInfoMsg)

namespace scrawl {

namespace {

// The client paces itself below the server's token bucket (core/limits.h) so that a drained
// outbox is never refused for speed.
constexpr double kClientOpsPerSecond = limits::kMaxOpsPerSecond * 0.8;
constexpr double kClientOpsBurst = limits::kOpsBurst / 2.0;
constexpr int kConnectTimeoutMs = 10000;
constexpr int kCursorIntervalMs = 33; // ~30 cursor updates a second at most
constexpr int kSlowSendMs = 1000;     // an unacknowledged change older than this is shown
constexpr quint32 kObjectIdBlock = 1000;
// A placed image's longer side at most, in wall px (it is resized on the wall afterwards), and
// how far each further image of one drop is set off from the one before.
constexpr double kPlacedImageSide = 800;
constexpr double kImageCascade = 32;

std::uint32_t toRgb(const QColor &c) { return std::uint32_t(c.rgb()) & 0xffffffu; }
QColor fromRgb(std::uint32_t c) { return QColor::fromRgb(QRgb(0xff000000u | (c & 0xffffffu))); }

bool fatalCode(int code)
{
    return code == pb::VERSION_MISMATCH || code == pb::HELLO_REQUIRED || code == pb::HELLO_REPEATED
        || code == pb::INVALID_TEXT || code == pb::PROTOCOL || code == pb::KICKED
        || code == pb::WALL_DELETED;
}

// The key an op of ours touches, for note bookkeeping.
std::optional<std::uint64_t> noteKeyOf(const pb::Op &op, std::uint64_t self)
{
    switch (op.body_case()) {
    case pb::Op::kNoteAdd: return objectKey(self, op.note_add().id());
    case pb::Op::kNoteEdit: return op.note_edit().note();
    case pb::Op::kNoteMove: return op.note_move().note();
    case pb::Op::kNoteDelete: return op.note_delete().note();
    case pb::Op::kNoteStyle: return op.note_style().note();
    default: return std::nullopt;
    }
}

std::optional<std::uint64_t> shapeKeyOf(const pb::Op &op, std::uint64_t self)
{
    switch (op.body_case()) {
    case pb::Op::kShapeAdd: return objectKey(self, op.shape_add().id());
    case pb::Op::kShapeEdit: return op.shape_edit().key();
    case pb::Op::kShapeDelete: return op.shape_delete().key();
    default: return std::nullopt;
    }
}

std::optional<std::uint32_t> strokeIdOf(const pb::Op &op)
{
    switch (op.body_case()) {
    case pb::Op::kStrokeBegin: return op.stroke_begin().id();
    case pb::Op::kStrokePoints: return op.stroke_points().id();
    case pb::Op::kStrokeEnd: return op.stroke_end().id();
    default: return std::nullopt;
    }
}

} // namespace

QRectF WallClient::LocalStroke::bounds() const
{
    if (points.empty())
        return {};
    WallModel::Stroke s;
    s.width = width;
    s.points = points;
    return s.bounds();
}

WallClient::WallClient(QObject *parent)
    : QObject(parent)
    , m_store(new OutboxStore(this))
    , m_tokens(kClientOpsBurst)
    , m_chat(new ChatModel(this))
    , m_members(new MembersModel(this))
    , m_notes(new NotesModel(this))
    , m_images(new ImagesModel(this))
    , m_imageCache(new ImageCache(this))
{
    connect(m_imageCache, &ImageCache::changed, this, &WallClient::refreshImagesOf);
    connect(m_imageCache, &ImageCache::uploadChanged, this, &WallClient::uploadChanged);
    m_clock.start();
    m_store->setSource([this] {
        std::vector<pb::Op> ops;
        ops.reserve(m_outbox.size());
        for (const OutItem &item : m_outbox)
            ops.push_back(item.op);
        return ops;
    });
    // Every change of the outbox (queued, acknowledged, refused) changes the count.
    connect(this, &WallClient::pendingCountChanged, m_store, &OutboxStore::markChanged);
    m_reconnectTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &WallClient::openSocket);
    m_countdown.setInterval(250);
    connect(&m_countdown, &QTimer::timeout, this, &WallClient::statusChanged);
    m_pingTimer.setInterval(1000);
    connect(&m_pingTimer, &QTimer::timeout, this, &WallClient::pingTick);
    m_pumpTimer.setSingleShot(true);
    connect(&m_pumpTimer, &QTimer::timeout, this, &WallClient::pumpOutbox);
    m_pointsTimer.setSingleShot(true);
    m_pointsTimer.setTimerType(Qt::PreciseTimer); // a frame's points, not 5 % of it later
    connect(&m_pointsTimer, &QTimer::timeout, this, [this] { sendDueStrokePoints(); });
    m_cursorTimer.setSingleShot(true);
    m_cursorTimer.setInterval(kCursorIntervalMs);
    connect(&m_cursorTimer, &QTimer::timeout, this, [this] {
        if (!m_cursorDirty)
            return;
        sendCursor(m_cursorPos.x(), m_cursorPos.y());
    });
    m_presentTimer.setInterval(1000);
    connect(&m_presentTimer, &QTimer::timeout, this, [this] { sendCursor(m_cursorPos.x(), m_cursorPos.y()); });
    m_slowSendTimer.setSingleShot(true);
    connect(&m_slowSendTimer, &QTimer::timeout, this, &WallClient::statusChanged);
    connect(this, &WallClient::pendingCountChanged, this, [this] {
        if (m_outbox.empty())
            m_slowSendTimer.stop();
        else if (const qint64 wait = m_outbox.front().queuedAt + kSlowSendMs - m_clock.elapsed(); wait > 0)
            m_slowSendTimer.start(int(wait));
        emit statusChanged();
    });
    connect(this, &WallClient::stateChanged, this, &WallClient::statusChanged);
}

WallClient::WallClient(bool showsPast, QObject *parent)
    : WallClient(parent)
{
    m_showsPast = showsPast;
}

WallClient::~WallClient()
{
    // Points waiting to be sent go into the outbox too, then to disk.
    sendDueStrokePoints(true);
    m_store->markChanged();
    m_store->flush();
    saveIdentity();
    if (m_socket)
        m_socket->abort();
}

void WallClient::setDisplayName(const QString &name)
{
    if (m_displayName == name)
        return;
    m_displayName = name;
    emit displayNameChanged();
}

void WallClient::setColor(const QColor &color)
{
    if (m_color == color)
        return;
    m_color = color;
    emit colorChanged();
}

void WallClient::setProfile(const QString &profile)
{
    if (m_profile == profile)
        return;
    m_profile = profile;
    m_nextObjectId = m_objectIdBlockEnd = 0;
    emit profileChanged();
}

void WallClient::setPingInterval(int ms)
{
    m_pingTimer.setInterval(std::min(ms, 1000));
    m_pingIntervalMs = ms;
}

void WallClient::setBackoff(int firstMs, int maxMs)
{
    m_backoffFirstMs = firstMs;
    m_backoffMaxMs = maxMs;
}

int WallClient::pendingCount() const
{
    std::set<std::uint32_t> strokes;
    int n = 0;
    for (const OutItem &item : m_outbox) {
        if (const auto sid = strokeIdOf(item.op); !sid || strokes.insert(*sid).second)
            ++n;
    }
    return n;
}

int WallClient::reconnectSeconds() const
{
    if (m_state != Reconnecting)
        return 0;
    return int(std::ceil(std::max<qint64>(0, m_reconnectAt - m_clock.elapsed()) / 1000.0));
}

QString WallClient::statusText() const
{
    const int n = pendingCount();
    // Spelled out rather than tr("%n change(s)"): without a loaded translation Qt would show
    // "(s)" to the person.
    const QString changes = n == 1 ? tr("1 change") : tr("%1 changes").arg(n);
    const QString waiting = n ? tr(" · %1 waiting").arg(changes) : QString();
    switch (m_state) {
    case Idle: return tr("Not connected") + waiting;
    case Connecting:
        return (m_everJoined ? tr("Reconnecting to %1…") : tr("Connecting to %1…")).arg(m_address)
             + waiting;
    case Connected: return sendingSlowly() ? tr("Connected · sending %1").arg(changes) : tr("Connected");
    case Reconnecting:
        return tr("Offline · reconnecting in %1 s").arg(reconnectSeconds()) + waiting;
    case Failed: return tr("Offline") + waiting;
    }
    return {};
}

bool WallClient::sendingSlowly() const
{
    return m_state == Connected && !m_outbox.empty()
        && m_clock.elapsed() - m_outbox.front().queuedAt >= kSlowSendMs;
}

void WallClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    if (state == Reconnecting)
        m_countdown.start();
    else
        m_countdown.stop();
    emit stateChanged();
}

void WallClient::setErrorText(const QString &text)
{
    if (m_errorText == text)
        return;
    m_errorText = text;
    emit errorTextChanged();
}

void WallClient::setNotice(const QString &text)
{
    if (m_notice == text)
        return;
    m_notice = text;
    if (!text.isEmpty())
        qCInfo(lcClient).noquote() << "notice:" << text; // for whoever reads the app's log
    emit noticeChanged();
}

void WallClient::clearNotice() { setNotice({}); }

WallClient::JoinRefusal WallClient::joinRefusal(int code, const QString &limit, const QString &wall)
{
    // Retry: a later attempt can succeed without the person doing anything (the server is
    // busy, stopping or short of storage, the address or the wall is over a rate or head
    // count). Anything else needs the person: a password, a shorter name, another wall.
    const bool rateOrCrowd = limit == QLatin1String(limits::kMaxJoinsPerAddressPerMinuteName)
                          || limit == QLatin1String(limits::kMaxConnectsPerAddressPerMinuteName)
                          || limit == QLatin1String(limits::kMaxConnectionsPerAddressName)
                          || limit == QLatin1String(limits::kMaxClientsPerWallName)
                          || limit == QLatin1String(limits::kMaxOpsPerSecondName);
    switch (code) {
    case pb::ERROR_UNSPECIFIED:
        return {false, tr("The server refused to open \"%1\" without saying why; go back and try "
                          "again, or ask the wall's host.").arg(wall)};
    case pb::PROTOCOL:
    case pb::HELLO_REQUIRED:
    case pb::HELLO_REPEATED:
    case pb::NOT_JOINED:
    case pb::INVALID_OP:
    case pb::NOT_OWNER:
        return {false, tr("The server did not understand this app's request to open \"%1\"; "
                          "update Scrawl or ask the wall's host.").arg(wall)};
    case pb::VERSION_MISMATCH:
        return {false, tr("This app and the server speak different versions of Scrawl; update the "
                          "older one.")};
    case pb::LIMIT_EXCEEDED:
        if (limit == QLatin1String(limits::kMaxWallNameCharsName))
            return {false, tr("The wall name is too long (limit %1: %2 characters); go back and "
                              "pick a shorter one.").arg(limit).arg(limits::kMaxWallNameChars)};
        if (limit == QLatin1String(limits::kMaxClientsPerWallName))
            return {true, tr("\"%1\" is full of people (limit %2); Scrawl tries again in a "
                             "moment.").arg(wall, limit)};
        if (rateOrCrowd)
            return {true, tr("Too many connections or joins from your address (limit %1); "
                             "Scrawl tries again in a moment.").arg(limit)};
        if (limit.isEmpty())
            return {false, tr("The server refused to open \"%1\": a limit was exceeded; go back "
                              "and change what you entered.").arg(wall)};
        return {false, tr("The server refused to open \"%1\": a limit was exceeded (%2); go back "
                          "and change what you entered.").arg(wall, limit)};
    case pb::STORAGE_UNAVAILABLE:
        return {true, tr("The server cannot read or store \"%1\" right now; Scrawl tries again in "
                         "a moment.").arg(wall)};
    case pb::TIMEOUT:
        return {true, tr("The server timed out while opening \"%1\"; Scrawl tries again.").arg(wall)};
    case pb::SHUTTING_DOWN:
        return {true, tr("The server is shutting down; Scrawl tries again in a moment.")};
    case pb::INVALID_TEXT:
        return {false, tr("The server cannot accept the wall name \"%1\" (empty or unusual "
                          "characters); go back and pick another name.").arg(wall)};
    case pb::BAD_RESUME:
        return {true, tr("The server did not recognise this app's identity; Scrawl tries again "
                         "with a new one.")};
    case pb::SLOW_READER:
        return {true, tr("The link to the server is too slow to open \"%1\"; Scrawl tries again.")
                          .arg(wall)};
    case pb::WALL_FULL:
        return {false, tr("\"%1\" is full; go back and pick another wall.").arg(wall)};
    case pb::PASSWORD_REQUIRED:
        return {false, tr("\"%1\" has a password; enter it to join.").arg(wall)};
    case pb::WRONG_PASSWORD:
        return {false, tr("That is not the password of \"%1\"; enter it again.").arg(wall)};
    case pb::ADDRESS_BLOCKED:
        return {false, tr("The server blocks your address for a while (too many wrong passwords or "
                          "connections); try again later.")};
    case pb::NOT_PERMITTED:
        return {false, tr("You may not open \"%1\"; ask its owner.").arg(wall)};
    case pb::WALL_LOCKED:
        return {false, tr("\"%1\" is locked by its owner; ask them to unlock it.").arg(wall)};
    case pb::KICKED:
        return {false, tr("A moderator removed you from \"%1\" for a while; try again later.")
                           .arg(wall)};
    case pb::WALL_DELETED:
        return {false, tr("The wall \"%1\" was deleted.").arg(wall)};
    default:
        // A code newer than this app: stop and show what the server said (onError).
        return {false, {}};
    }
}

QUrl WallClient::normalizeAddress(const QString &address, QString *error)
{
    QString a = address.trimmed();
    if (a.isEmpty()) {
        *error = tr("Enter the address of the wall's host, for example 192.168.1.20:7777.");
        return {};
    }
    if (!a.contains(QLatin1String("://")))
        a.prepend(QLatin1String("ws://"));
    QUrl url(a, QUrl::StrictMode);
    if (url.scheme() == QLatin1String("http"))
        url.setScheme(QStringLiteral("ws"));
    else if (url.scheme() == QLatin1String("https"))
        url.setScheme(QStringLiteral("wss"));
    if (!url.isValid() || url.host().isEmpty()
        || (url.scheme() != QLatin1String("ws") && url.scheme() != QLatin1String("wss"))) {
        *error = tr("\"%1\" is not an address Scrawl understands; write it like 192.168.1.20:7777.")
                     .arg(address.trimmed());
        return {};
    }
    if (url.port() == -1)
        url.setPort(7777);
    if (url.path().isEmpty())
        url.setPath(QStringLiteral("/"));
    return url;
}

QString WallClient::settingsPrefix() const
{
    return QStringLiteral("profiles/%1/").arg(m_profile);
}

void WallClient::loadIdentity()
{
    if (m_profile.isEmpty())
        return;
    QSettings s;
    const QString server = m_url.host() + QLatin1Char('_') + QString::number(m_url.port());
    m_resumeToken = QByteArray::fromBase64(
                        s.value(settingsPrefix() + QStringLiteral("tokens/") + server).toByteArray())
                        .toStdString();
    m_lastClientOpId = std::max<std::uint64_t>(
        m_lastClientOpId, s.value(settingsPrefix() + QStringLiteral("lastClientOpId")).toULongLong());
}

void WallClient::saveIdentity()
{
    if (m_profile.isEmpty() || m_url.isEmpty())
        return;
    QSettings s;
    const QString server = m_url.host() + QLatin1Char('_') + QString::number(m_url.port());
    s.setValue(settingsPrefix() + QStringLiteral("tokens/") + server,
               QByteArray::fromStdString(m_resumeToken).toBase64());
    s.setValue(settingsPrefix() + QStringLiteral("lastClientOpId"),
               QVariant::fromValue<qulonglong>(m_lastClientOpId));
}

std::uint64_t WallClient::nextClientOpId()
{
    // Until this connection has sent an op, ids are the time in microseconds (at least), so that
    // they pass whatever an earlier run stored even if it crashed before saving its last id (the
    // server refuses an id at or below the last stored, or answers it as a resend); after that
    // they count up by one, which lets pumpOutbox leave them off the wire (protocol 3).
    if (m_lastSentOpId == 0)
        m_lastClientOpId = std::max(m_lastClientOpId,
                                    std::uint64_t(QDateTime::currentMSecsSinceEpoch()) * 1000);
    return ++m_lastClientOpId;
}

std::uint32_t WallClient::nextObjectId()
{
    if (m_nextObjectId == 0 || m_nextObjectId >= m_objectIdBlockEnd) {
        if (m_profile.isEmpty()) {
            // One identity per object lifetime: any start will do, as long as it does not wrap.
            if (m_nextObjectId == 0)
                m_nextObjectId = QRandomGenerator::global()->bounded(1u, 1u << 30);
            m_objectIdBlockEnd = m_nextObjectId + kObjectIdBlock;
        } else {
            // Reserve a block and sync before using it, so a crash can never reuse an id.
            QSettings s;
            const QString key = settingsPrefix() + QStringLiteral("nextObjectId");
            const quint32 start = std::max(1u, s.value(key, 1).toUInt());
            s.setValue(key, start + kObjectIdBlock);
            s.sync();
            m_nextObjectId = start;
            m_objectIdBlockEnd = start + kObjectIdBlock;
        }
    }
    return m_nextObjectId++;
}

// --- connection --------------------------------------------------------------------------------

void WallClient::connectToWall(const QString &address, const QString &wall,
                               const QString &password, const QString &certificate)
{
    m_password = password;
    m_expectedFingerprint = certificate;
    if (m_passwordRequired) {
        m_passwordRequired = false;
        emit accessChanged();
    }
    QString error;
    const QUrl url = normalizeAddress(address, &error);
    const QString wallName = wall.trimmed();
    if (url.isEmpty() || wallName.isEmpty()) {
        setErrorText(url.isEmpty() ? error : tr("Enter the name of the wall to join."));
        setState(Failed);
        return;
    }
    if (url != m_url || wallName != m_wall) {
        // Another wall: nothing of the old one carries over.
        saveIdentity();
        if (m_url.host() != url.host() || m_url.port() != url.port()) {
            m_resumeToken.clear();
            m_userId = 0;
            emit userIdChanged();
        }
        // The old wall's outbox stays on disk for its next join; this wall's comes back.
        m_store->setKey(m_profile, url.host(), url.port(), wallName);
        m_url = url;
        m_wall = wallName;
        m_address = url.port() == 7777 ? url.host() : url.host() + QLatin1Char(':')
                                                          + QString::number(url.port());
        // An encrypted wall is joined with its scheme: keep it in the address people copy.
        if (url.scheme() == QLatin1String("wss"))
            m_address.prepend(QLatin1String("wss://"));
        m_model = WallModel();
        m_local.clear();
        m_hidden.clear();
        m_outbox.clear();
        m_undo.clear();
        m_redo.clear();
        m_chat->clear();
        m_members->clear();
        setPresenting(false);
        setPresenter(0);
        m_view = QRectF();
        clearDragPreviews();
        m_notes->reset({});
        m_images->reset({});
        m_imageToken.clear();
        m_everJoined = false;
        m_role = Member;
        m_apiToken.clear();
        m_locked = m_hasPassword = m_protectedWork = false;
        m_tlsFingerprint.clear();
        emit accessChanged();
        emit addressChanged();
        emit wallReset();
        emit pendingCountChanged();
        emit undoStateChanged();
        emit seqChanged();
        loadIdentity();
        restoreOutbox();
    }
    m_wantConnected = true;
    m_fatal = false;
    m_attempt = 0;
    setErrorText({});
    openSocket();
}

void WallClient::disconnectFromWall()
{
    m_wantConnected = false;
    m_reconnectTimer.stop();
    m_pingTimer.stop();
    m_joined = false;
    if (m_socket) {
        QWebSocket *s = m_socket;
        m_socket = nullptr;
        s->disconnect(this);
        s->close();
        s->deleteLater();
    }
    m_store->flush();
    saveIdentity();
    setState(Idle);
}

void WallClient::reconnectNow()
{
    if (!m_wantConnected || m_url.isEmpty())
        return;
    if (m_state == Reconnecting || m_state == Failed) {
        m_reconnectTimer.stop();
        m_fatal = false;
        openSocket();
    }
}

void WallClient::openSocket()
{
    m_historyAsks.clear(); // a new connection answers only what is asked on it
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
    }
    auto *socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    socket->setMaxAllowedIncomingMessageSize(limits::kClientMaxIncomingBytes);
    socket->setMaxAllowedIncomingFrameSize(limits::kClientMaxIncomingBytes);
    m_socket = socket;
    connect(socket, &QWebSocket::connected, this, &WallClient::onConnected);
    connect(socket, &QWebSocket::disconnected, this, &WallClient::onDisconnected);
    // Qt 6.4 still names the signal error(), overloaded with the getter (errorOccurred is 6.5).
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            &WallClient::onSocketError);
    connect(socket, &QWebSocket::binaryMessageReceived, this, &WallClient::onBinary);
    connect(socket, &QWebSocket::pong, this, [this] { m_lastHeard = m_clock.elapsed(); });
    // A big join answer takes a while on a slow link, and the server's pongs wait behind it:
    // every frame of it shows the link is alive.
    connect(socket, &QWebSocket::binaryFrameReceived, this, [this] { m_lastHeard = m_clock.elapsed(); });
    connect(socket, &QWebSocket::sslErrors, this, &WallClient::onSslErrors);
    m_joined = false;
    m_lastSentOpId = 0;
    m_lastHeard = m_clock.elapsed();
    m_lastPingAt = m_lastHeard;
    m_pingTimer.start();
    setState(Connecting);
    qCDebug(lcClient) << "connecting to" << m_url;
    socket->open(m_url);
}

void WallClient::refuseUninvitedCertificate(const QString &seen)
{
    qCWarning(lcClient) << "certificate of" << m_address << "is" << seen << "but the invitation says"
                        << m_expectedFingerprint;
    m_fatal = true;
    setErrorText(tr("The server at %1 presented a certificate (SHA-256 %2) other than the one your "
                    "invitation names (%3). Someone may be listening in, or the host made a new "
                    "certificate since: ask the host for a new link.")
                     .arg(m_address, seen, m_expectedFingerprint));
}

void WallClient::onConnected()
{
    if (!m_expectedFingerprint.isEmpty() && m_socket) {
        // A certificate an authority vouches for passes without onSslErrors: the invitation's
        // word still holds.
        const QString seen = TlsTrust::fingerprint(m_socket->sslConfiguration().peerCertificate());
        if (seen != m_expectedFingerprint) {
            refuseUninvitedCertificate(seen);
            m_socket->abort();
            return;
        }
    }
    m_lastHeard = m_clock.elapsed();
    // Small frames (point batches, cursors) must not wait for Nagle's algorithm: with delayed
    // ACKs that adds ~40 ms per hop on Linux. Qt 6.4's QWebSocket has no socket-option API;
    // its QTcpSocket is its child.
    if (auto *tcp = m_socket ? m_socket->findChild<QAbstractSocket *>() : nullptr) {
        tcp->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        qCDebug(lcClient) << "TCP_NODELAY set";
    }
    pb::Envelope env;
    pb::Hello *h = env.mutable_hello();
    h->set_protocol_version(m_protocolVersion);
    h->set_app_version(kAppVersion);
    QString name = m_displayName.trimmed();
    if (name.isEmpty())
        name = tr("Anonymous");
    h->set_display_name(toWire(name.left(limits::kMaxNameChars)));
    h->set_color(toRgb(m_color));
    h->set_resume_token(m_resumeToken);
    sendEnvelope(env);
}

QString WallClient::describeSocketError(QAbstractSocket::SocketError error,
                                       const QString &detail) const
{
    const QString where = m_address;
    switch (error) {
    case QAbstractSocket::HostNotFoundError:
        return tr("Cannot find the host \"%1\"; check the address.").arg(m_url.host());
    case QAbstractSocket::ConnectionRefusedError:
        return tr("Nothing answers at %1; check the address and that the wall's host is running.")
            .arg(where);
    case QAbstractSocket::SocketTimeoutError:
        return tr("%1 does not answer; check the address and your network.").arg(where);
    case QAbstractSocket::RemoteHostClosedError:
        return m_everJoined ? tr("The server at %1 went away; Scrawl keeps trying and sends your "
                                 "changes when it is back.")
                                  .arg(where)
                            : tr("%1 closed the connection; check that it is a Scrawl server.")
                                  .arg(where);
    default:
        return m_everJoined ? tr("Lost the connection to %1 (%2); Scrawl keeps trying.")
                                  .arg(where, detail)
                            : tr("Cannot connect to %1 (%2); check the address and port.")
                                  .arg(where, detail);
    }
}

void WallClient::onSocketError()
{
    auto *socket = qobject_cast<QWebSocket *>(sender());
    if (!socket || socket != m_socket)
        return;
    qCInfo(lcClient) << "socket error" << socket->error() << socket->errorString();
    if (!m_fatal)
        setErrorText(describeSocketError(socket->error(), socket->errorString()));
    // Some failures (refused, not found) end without a disconnected() signal.
    if (socket->state() == QAbstractSocket::UnconnectedState)
        QMetaObject::invokeMethod(this, [this, socket] {
            if (socket == m_socket)
                onDisconnected();
        }, Qt::QueuedConnection);
}

void WallClient::onDisconnected()
{
    auto *socket = qobject_cast<QWebSocket *>(sender());
    if (!socket)
        socket = m_socket;
    if (!socket || socket != m_socket)
        return;
    const int closeCode = int(socket->closeCode());
    const QString reason = socket->closeReason();
    // A refused or unresolvable connection may end here without an error() signal first.
    if (!m_fatal && !m_joined && socket->error() != QAbstractSocket::UnknownSocketError
        && (m_errorText.isEmpty() || !m_everJoined))
        setErrorText(describeSocketError(socket->error(), socket->errorString()));
    m_socket = nullptr;
    socket->disconnect(this);
    socket->deleteLater();
    m_pingTimer.stop();
    const bool wasJoined = m_joined;
    m_joined = false;
    for (OutItem &item : m_outbox)
        item.sent = false;
    m_chat->setLoadingOlder(false);
    // Who is here and where their pointers are is unknown while offline: show nobody rather
    // than stale people; the next Joined brings the list back.
    m_members->clear();
    clearDragPreviews();
    qCInfo(lcClient) << "disconnected, close code" << closeCode << reason;

    if (closeCode >= kCloseCodeBase && fatalCode(closeCode - kCloseCodeBase)) {
        m_fatal = true;
        if (m_errorText.isEmpty() || !reason.isEmpty())
            setErrorText(reason.isEmpty() ? tr("The server closed the connection (code %1).")
                                                .arg(closeCode)
                                          : reason);
    }
    if (m_fatal || !m_wantConnected) {
        setState(m_fatal ? Failed : Idle);
        return;
    }
    if (wasJoined && m_errorText.isEmpty())
        setErrorText(tr("The server at %1 went away; Scrawl keeps trying and sends your changes "
                        "when it is back.")
                         .arg(m_address));
    scheduleReconnect();
}

int WallClient::reconnectDelayMs(int attempt, int firstMs, int maxMs, double random01)
{
    // Exponential backoff with jitter (±25 %), so that a room full of clients does not come
    // back at the same instant when its server restarts. Clamped to [first, max]: the first try
    // comes after 0.5 s at the earliest, and at the cap the spread is 7.5..10 s.
    const double base = std::min<double>(maxMs, firstMs * std::pow(2.0, std::clamp(attempt, 0, 20)));
    const double jitter = 0.75 + 0.5 * std::clamp(random01, 0.0, 1.0);
    return int(std::clamp<double>(base * jitter, firstMs, maxMs));
}

void WallClient::scheduleReconnect()
{
    const int delay = reconnectDelayMs(m_attempt, m_backoffFirstMs, m_backoffMaxMs,
                                       QRandomGenerator::global()->generateDouble());
    ++m_attempt;
    m_lastDelayMs = delay;
    m_reconnectAt = m_clock.elapsed() + delay;
    m_reconnectTimer.start(delay);
    setState(Reconnecting);
    emit statusChanged();
}

void WallClient::pingTick()
{
    if (!m_socket)
        return;
    const qint64 now = m_clock.elapsed();
    if (m_socket->state() != QAbstractSocket::ConnectedState) {
        if (now - m_lastHeard > kConnectTimeoutMs) {
            setErrorText(tr("%1 does not answer; check the address and your network.")
                             .arg(m_address));
            QWebSocket *s = m_socket;
            s->abort();
            if (s == m_socket)
                onDisconnected();
        }
        return;
    }
    if (now - m_lastHeard > m_deadAfterMs) {
        // Silence: the link is dead even if TCP has not noticed (laptop lid, Wi-Fi change).
        qCInfo(lcClient) << "nothing heard for" << now - m_lastHeard << "ms; reconnecting";
        setErrorText(tr("Nothing heard from %1 for %2 s; reconnecting.")
                         .arg(m_address)
                         .arg((now - m_lastHeard) / 1000));
        QWebSocket *s = m_socket;
        s->abort();
        if (s == m_socket)
            onDisconnected();
        return;
    }
    if (now - m_lastPingAt >= m_pingIntervalMs) {
        m_lastPingAt = now;
        m_socket->ping();
    }
}

void WallClient::sendEnvelope(const pb::Envelope &env)
{
    if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->sendBinaryMessage(serialize(env));
}

void WallClient::onBinary(const QByteArray &bytes)
{
    m_lastHeard = m_clock.elapsed();
    pb::Envelope env;
    if (!parse(bytes, &env)) {
        qCWarning(lcClient) << "dropping an unparsable message of" << bytes.size() << "bytes";
        return;
    }
    switch (env.msg_case()) {
    case pb::Envelope::kWelcome: onWelcome(env.welcome()); break;
    case pb::Envelope::kJoined: onJoined(env.joined()); break;
    case pb::Envelope::kOp:
        // A stroke's points and end come without their number: the one after the last (every
        // member gets every op of the wall, in order, from its join on).
        if (env.op().seq() == 0) {
            if (m_state != Connected) {
                qCWarning(lcClient) << "dropping an op without its number before the wall was joined";
                return;
            }
            env.mutable_op()->set_seq(m_model.seq() + 1);
        }
        onOp(env.op(), true);
        break;
    case pb::Envelope::kError: onError(env.error()); break;
    case pb::Envelope::kPresence:
        m_members->setPresence(env.presence().member(), env.presence().online());
        if (!env.presence().online() && env.presence().member().user_id() == m_presenterId
            && !m_members->find(m_presenterId))
            setPresenter(0); // the presenter left
        if (!env.presence().online() && m_dragPreviews.erase(env.presence().member().user_id()))
            emit dragPreviewChanged(env.presence().member().user_id());
        break;
    case pb::Envelope::kCursor: {
        const QPointF p(env.cursor().x(), env.cursor().y());
        const pb::Cursor &c = env.cursor();
        QRectF selection(c.selection_x(), c.selection_y(), c.selection_width(), c.selection_height());
        if (!selection.isValid() || !isValidCoordinate(selection.left()) || !isValidCoordinate(selection.top())
            || !isValidCoordinate(selection.right()) || !isValidCoordinate(selection.bottom()))
            selection = QRectF();
        m_members->setCursor(env.cursor().user_id(), p, selection);
        emit cursorMoved(env.cursor().user_id(), p);
        QRectF view(c.view_x(), c.view_y(), c.view_width(), c.view_height());
        if (!view.isValid() || !isValidCoordinate(view.left()) || !isValidCoordinate(view.top())
            || !isValidCoordinate(view.right()) || !isValidCoordinate(view.bottom()))
            view = QRectF();
        if (c.user_id() != m_userId) {
            if (m_members->setView(c.user_id(), view, c.presenting()))
                emit memberViewChanged(QString::number(c.user_id()));
            if (c.presenting())
                setPresenter(c.user_id());
            else if (m_presenterId == c.user_id())
                setPresenter(0);
            if (c.laser()) {
                const MembersModel::Member *m = m_members->find(c.user_id());
                emit laserMoved(QString::number(c.user_id()), p.x(), p.y(), m ? m->color : QColor(Qt::red));
            }
        }
        // A drag preview, checked as the server does (a server may be older or wrong).
        const std::uint64_t user = c.user_id();
        if (user != m_userId) {
            if (c.has_preview() && !WallModel::checkPreview(c.preview())) {
                m_dragPreviews[user] = c.preview();
                emit dragPreviewChanged(user);
            } else if (m_dragPreviews.erase(user)) {
                emit dragPreviewChanged(user);
            }
        }
        break;
    }
    case pb::Envelope::kHistory: onHistory(env.history()); break;
    case pb::Envelope::kOpsPage:
        answerHistoryAsk();
        emit opsPage(env.ops_page());
        break;
    case pb::Envelope::kWallState: onWallState(env.wall_state()); break;
    case pb::Envelope::kApiToken:
        setApiToken(QString::fromLatin1(QByteArray::fromStdString(env.api_token().token())));
        setNotice(tr("A new API token is ready under Invite; scripts using the old one must be "
                     "given the new one."));
        emit accessChanged();
        break;
    default:
        qCWarning(lcClient) << "ignoring a message a server should not send:" << env.msg_case();
        break;
    }
}

void WallClient::onWelcome(const pb::Welcome &welcome)
{
    const std::uint64_t previous = m_userId;
    if (previous != 0 && previous != welcome.user_id()) {
        // The server forgot us (new data directory): our old strokes are now someone else's.
        setNotice(tr("The server did not recognise you and gave you a new identity; your earlier "
                     "changes can no longer be undone."));
        m_undo.clear();
        m_redo.clear();
        emit undoStateChanged();
    }
    m_userId = welcome.user_id();
    m_resumeToken = welcome.resume_token();
    m_chat->setSelf(m_userId);
    m_members->setSelf(m_userId);
    saveIdentity();
    if (previous != m_userId)
        emit userIdChanged();
    pb::Envelope env;
    env.mutable_join()->set_wall(toWire(m_wall));
    env.mutable_join()->set_last_seq(m_model.seq());
    env.mutable_join()->set_password(toWire(m_password));
    if (!m_profile.isEmpty())
        env.mutable_join()->set_owner_token(
            QSettings().value(ownerTokenKey()).toByteArray().toStdString());
    m_lastJoin.lastSeqSent = m_model.seq();
    sendEnvelope(env);
}

void WallClient::onJoined(const pb::Joined &joined)
{
    // Access first, so that views see the role before the wall's content.
    if (!joined.owner_token().empty() && !m_profile.isEmpty()) {
        // Proof of ownership of this wall on this server: kept with the profile.
        QSettings().setValue(ownerTokenKey(), QByteArray::fromStdString(joined.owner_token()));
    }
    m_role = Role(std::clamp<int>(joined.role(), Member, Owner));
    // The server shows the API token once, when the wall is created; the owner's app keeps it.
    if (!joined.api_token().empty())
        setApiToken(QString::fromLatin1(QByteArray::fromStdString(joined.api_token())));
    else if (joined.role() != pb::ROLE_OWNER)
        m_apiToken.clear();
    else if (!m_profile.isEmpty() && m_apiToken.isEmpty())
        m_apiToken = QSettings().value(apiTokenKey()).toString();
    m_imageToken = QByteArray::fromStdString(joined.image_token());
    updateImageSource();
    m_locked = joined.locked();
    m_protectedWork = joined.protected_work();
    m_hasPassword = joined.has_password();
    m_passwordRequired = false;
    emit accessChanged();
    const bool bulk = joined.has_snapshot() || joined.ops_size() > 500;
    m_lastJoin.snapshot = joined.has_snapshot();
    m_lastJoin.ops = joined.ops_size();
    if (m_chatGapAfter != 0) {
        // A gap being paged on the last connection: its answer will not come on this one.
        m_chatGapAfter = 0;
        m_chat->setLoadingOlder(false);
    }
    if (joined.has_snapshot()) {
        if (auto problem = m_model.load(joined.snapshot()))
            qCWarning(lcClient) << "damaged snapshot:" << problem->message;
        std::vector<pb::Op> chat(joined.recent_chat().begin(), joined.recent_chat().end());
        if (joined.chat_after_seq() != 0) {
            // Returning: the chat held stays; what came since is added, and what is older than
            // recent_chat but after our last seq is paged in, so that nothing missed is lacking.
            for (const pb::Op &op : chat)
                m_chat->addStored(op);
            if (joined.more_chat() && !chat.empty())
                fetchChatGap(chat.front().seq(), joined.chat_after_seq());
        } else {
            m_chat->resetStored(chat, joined.more_chat()
                                          || chat.size() >= size_t(limits::kRecentChatOnJoin));
        }
    }
    for (const pb::Op &op : joined.ops()) {
        if (bulk) {
            if (op.seq() > m_model.seq()) {
                const auto change = m_model.apply(op);
                if (change.cleared) {
                    m_undo.clear();
                    m_redo.clear();
                }
            }
            if (op.has_chat())
                m_chat->addStored(op);
            if (op.author() == m_userId) {
                const auto it = std::find_if(m_outbox.begin(), m_outbox.end(), [&](const OutItem &o) {
                    return o.op.client_op_id() == op.client_op_id();
                });
                if (it != m_outbox.end())
                    acknowledge(it, &op);
            }
        } else {
            onOp(op, false);
        }
    }
    if (!joined.has_snapshot() && m_model.seq() < joined.head_seq())
        qCWarning(lcClient) << "joined at" << m_model.seq() << "but head is" << joined.head_seq();
    std::vector<pb::Member> members(joined.members().begin(), joined.members().end());
    m_members->reset(members);
    if (m_wallFull != joined.wall_full()) {
        m_wallFull = joined.wall_full();
        emit wallFullChanged();
    }
    if (bulk) {
        emit wallReset();
        refreshAllNotes();
        refreshAllImages();
    }
    rebuildUndoFromModel();
    m_joined = true;
    m_everJoined = true;
    m_attempt = 0;
    setErrorText({});
    setState(Connected);
    emit seqChanged();
    emit this->joined();
    qCInfo(lcClient) << "joined" << m_wall << "at seq" << m_model.seq() << "outbox"
                     << m_outbox.size();
    pumpOutbox();
}

void WallClient::onOp(const pb::Op &op, bool live)
{
    bool applied = false;
    WallModel::Change change;
    if (op.seq() > m_model.seq()) {
        change = m_model.apply(op);
        applied = true;
    }
    if (op.has_chat())
        m_chat->addStored(op); // dedupes by seq; replaces our pending copy
    if (op.author() == m_userId && m_userId != 0) {
        const auto it = std::find_if(m_outbox.begin(), m_outbox.end(), [&](const OutItem &o) {
            return o.op.client_op_id() == op.client_op_id();
        });
        if (it != m_outbox.end())
            acknowledge(it, &op);
    }
    if (applied) {
        if (change.cleared) {
            // Nobody's work vanishes without a word: who did it, for a few seconds.
            if (op.author() == m_userId) {
                setNotice(tr("You cleared the wall for everyone."));
            } else {
                const MembersModel::Member *who = m_members->find(op.author());
                setNotice(who ? tr("%1 cleared the wall.").arg(who->name) : tr("Someone cleared the wall."));
            }
            m_undo.clear();
            m_redo.clear();
            emit undoStateChanged();
            emit wallReset();
            refreshAllNotes();
            refreshAllImages();
        } else {
            // Placed now, most likely where people look: fetch it at once.
            if (live && op.has_image_add()) {
                for (const std::uint64_t key : change.images)
                    if (const WallModel::Image *image = m_model.image(key))
                        m_imageCache->want(image->hash);
            }
            showChange(change);
        }
        if (m_model.isFull() != m_wallFull) {
            m_wallFull = m_model.isFull();
            emit wallFullChanged();
        }
        emit seqChanged();
        emit opLanded(op);
    }
    emit opApplied(op.seq());
}

void WallClient::onError(const pb::Error &error)
{
    const QString message = fromWire(error.message());
    qCInfo(lcClient) << "server error" << error.code() << message << "op" << error.client_op_id();
    if (error.fatal()) {
        if (fatalCode(error.code()))
            m_fatal = true;
        setErrorText(message);
        return;
    }
    if (error.client_op_id() == 0 && !m_joined) {
        onJoinRefused(error, message);
        return;
    }
    if (error.client_op_id() == 0) {
        if (error.limit() == limits::kMaxHistoryRequestsPerMinuteName && answerHistoryAsk()) {
            emit opsRefused(); // the timeline asks again: nobody need be told
            return;
        }
        if (error.limit() == limits::kMaxHistoryRequestsPerMinuteName)
            onHistoryRefused();
        setNotice(message);
        return;
    }
    const auto it = std::find_if(m_outbox.begin(), m_outbox.end(), [&](const OutItem &o) {
        return o.op.client_op_id() == error.client_op_id();
    });
    if (it == m_outbox.end())
        return;
    const bool retry = error.code() == pb::STORAGE_UNAVAILABLE
                    || (error.code() == pb::LIMIT_EXCEEDED
                        && error.limit() == limits::kMaxOpsPerSecondName);
    if (!retry) {
        dropRefused(it, message);
        return;
    }
    // Kept and sent again later. The server refuses an id at or below the last one it stored,
    // and later ops may already have been stored, so this op and every unsent one after it get
    // fresh ids (in order); references to the old ids (undo stack, local strokes, chat) follow.
    std::map<std::uint64_t, std::uint64_t> renamed;
    for (auto i = it; i != m_outbox.end(); ++i) {
        if (i != it && i->sent)
            continue;
        const std::uint64_t old = i->op.client_op_id();
        const std::uint64_t fresh = nextClientOpId();
        renamed[old] = fresh;
        i->op.set_client_op_id(fresh);
        i->sent = false;
        if (i->op.has_undo() && renamed.count(i->op.undo().target_client_op_id()))
            i->op.mutable_undo()->set_target_client_op_id(renamed[i->op.undo().target_client_op_id()]);
        if (i->op.has_redo() && renamed.count(i->op.redo().target_client_op_id()))
            i->op.mutable_redo()->set_target_client_op_id(renamed[i->op.redo().target_client_op_id()]);
        if (i->op.has_chat())
            m_chat->renumberPending(old, fresh);
    }
    it->notBefore = m_clock.elapsed() + 1000;
    auto remap = [&](std::uint64_t &id) {
        if (const auto r = renamed.find(id); r != renamed.end())
            id = r->second;
    };
    for (auto &id : m_undo)
        remap(id);
    for (auto &id : m_redo)
        remap(id);
    for (auto &[sid, ls] : m_local) {
        remap(ls.beginOpId);
        remap(ls.endOpId);
    }
    m_store->markChanged(); // the ids changed
    setNotice(message);
    pumpOutbox();
}

void WallClient::fetchChatGap(std::uint64_t before, std::uint64_t after)
{
    m_chatGapAfter = after;
    m_chatGapBefore = before;
    m_chat->setLoadingOlder(true); // scrolling back waits: History answers carry no request id
    pb::Envelope env;
    env.mutable_history_request()->set_before_seq(before);
    env.mutable_history_request()->set_after_seq(after);
    env.mutable_history_request()->set_limit(limits::kMaxHistoryPage);
    m_historyAsks.push_back(false);
    sendEnvelope(env);
}

bool WallClient::answerHistoryAsk()
{
    if (m_historyAsks.empty())
        return false;
    const bool ops = m_historyAsks.front();
    m_historyAsks.pop_front();
    return ops;
}

void WallClient::onJoinRefused(const pb::Error &error, const QString &message)
{
    // Before Joined the only requests without an op id are Hello and Join, and a refused Hello is
    // fatal: this is the Join's answer. The server keeps the connection open after it, so the
    // client must end the attempt itself, or it would wait on "Connecting…" forever.
    const JoinRefusal what = joinRefusal(error.code(), QString::fromStdString(error.limit()), m_wall);
    QString text = message.trimmed();
    if (text.isEmpty())
        text = what.text;
    if (text.isEmpty())
        text = tr("The server refused to open \"%1\" (code %2); go back and try again later.")
                   .arg(m_wall)
                   .arg(error.code());
    m_passwordRequired = error.code() == pb::PASSWORD_REQUIRED || error.code() == pb::WRONG_PASSWORD;
    emit accessChanged();
    if (QWebSocket *s = m_socket) {
        m_socket = nullptr;
        s->disconnect(this);
        s->close();
        s->deleteLater();
    }
    m_pingTimer.stop();
    for (OutItem &item : m_outbox)
        item.sent = false;
    setErrorText(text);
    if (what.retry && m_wantConnected) {
        scheduleReconnect();
        return;
    }
    m_fatal = true;
    setState(Failed);
}

void WallClient::onHistoryRefused()
{
    if (m_chatGapAfter == 0) {
        // A scroll-back page refused: scrolling back may ask again.
        m_chat->setLoadingOlder(false);
        return;
    }
    // Chat missed while away is not optional: ask for the same page again once the server's
    // history bucket has a token (max_history_requests_per_minute refills one a second).
    const std::uint64_t before = m_chatGapBefore;
    const std::uint64_t after = m_chatGapAfter;
    const QPointer<QWebSocket> socket = m_socket;
    QTimer::singleShot(1500, this, [this, socket, before, after] {
        if (socket && socket == m_socket && m_chatGapAfter == after && m_chatGapBefore == before)
            fetchChatGap(before, after);
    });
}

void WallClient::onHistory(const pb::History &history)
{
    answerHistoryAsk();
    if (m_chatGapAfter != 0) {
        for (const pb::Op &op : history.chat())
            m_chat->addStored(op);
        if (history.more() && history.chat_size() > 0) {
            fetchChatGap(history.chat(0).seq(), m_chatGapAfter);
            return;
        }
        m_chatGapAfter = 0;
        m_chat->setLoadingOlder(false);
        return;
    }
    std::vector<pb::Op> ops(history.chat().begin(), history.chat().end());
    m_chat->prependHistory(ops, history.more());
}

// --- outbox ------------------------------------------------------------------------------------

std::uint64_t WallClient::queue(pb::Op op)
{
    if (op.client_op_id() == 0)
        op.set_client_op_id(nextClientOpId());
    const std::uint64_t id = op.client_op_id();
    m_outbox.push_back({std::move(op), false, 0, m_clock.elapsed()});
    emit pendingCountChanged();
    pumpOutbox();
    return id;
}

void WallClient::restoreOutbox()
{
    std::vector<pb::Op> ops = m_store->load();
    if (ops.empty())
        return;
    qCInfo(lcClient) << "restoring" << ops.size() << "unacknowledged ops for" << m_wall;
    std::vector<std::uint64_t> hidden;
    for (pb::Op &op : ops) {
        // New ids must pass these (and the time-based start of nextClientOpId does too).
        m_lastClientOpId = std::max(m_lastClientOpId, op.client_op_id());
        // The local state these ops stand for, as when they were made: strokes drawn from the
        // outbox, erased strokes hidden, chat shown as "sending…".
        switch (op.body_case()) {
        case pb::Op::kStrokeBegin: {
            const pb::StrokeBegin &b = op.stroke_begin();
            LocalStroke ls;
            ls.id = b.id();
            ls.color = b.color();
            ls.width = b.width();
            decodePoints(b, {}, &ls.points);
            ls.pressured = !b.pressure().empty();
            ls.pressure.assign(b.pressure().begin(), b.pressure().end());
            ls.pressure.resize(ls.pressured ? ls.points.size() : 0, 255);
            ls.sentPoints = ls.points.size();
            ls.beginOpId = op.client_op_id();
            m_local[ls.id] = std::move(ls);
            break;
        }
        case pb::Op::kStrokePoints:
            if (const auto it = m_local.find(op.stroke_points().id()); it != m_local.end()) {
                decodePoints(op.stroke_points(), tailOf(it->second.points), &it->second.points);
                if (it->second.pressured) {
                    const std::string &p = op.stroke_points().pressure();
                    it->second.pressure.insert(it->second.pressure.end(), p.begin(), p.end());
                    it->second.pressure.resize(it->second.points.size(), 255);
                }
                it->second.sentPoints = it->second.points.size();
            }
            break;
        case pb::Op::kStrokeEnd:
            if (const auto it = m_local.find(op.stroke_end().id()); it != m_local.end()) {
                decodePath(op.stroke_end().path(), tailOf(it->second.points), &it->second.points);
                if (it->second.pressured) {
                    const std::string &p = op.stroke_end().pressure();
                    it->second.pressure.insert(it->second.pressure.end(), p.begin(), p.end());
                    it->second.pressure.resize(it->second.points.size(), 255);
                }
                it->second.sentPoints = it->second.points.size();
                it->second.ended = true;
                it->second.endOpId = op.client_op_id();
            }
            break;
        case pb::Op::kErase:
            for (const auto key : op.erase().strokes()) {
                if (m_hidden.insert(key).second)
                    hidden.push_back(key);
            }
            break;
        case pb::Op::kChat:
            m_chat->addPending(op.client_op_id(), m_displayName, m_color, fromWire(op.chat().text()));
            break;
        default: break;
        }
        m_outbox.push_back({std::move(op), false, 0, m_clock.elapsed()});
    }
    // A stroke the app quit (or crashed) in the middle of is ended where its kept points end.
    for (auto &[id, ls] : m_local) {
        if (ls.ended)
            continue;
        pb::Op end;
        end.mutable_stroke_end()->set_id(id);
        end.set_client_op_id(nextClientOpId());
        ls.ended = true;
        ls.endOpId = end.client_op_id();
        m_outbox.push_back({std::move(end), false, 0, m_clock.elapsed()});
    }
    for (const auto &[id, ls] : m_local)
        emit localStrokeChanged(id, 0);
    if (!hidden.empty())
        emit hiddenChanged(hidden);
    refreshAllNotes();
    emit pendingCountChanged();
}

void WallClient::pumpOutbox()
{
    if (!m_joined)
        return;
    const qint64 now = m_clock.elapsed();
    m_tokens = std::min(kClientOpsBurst, m_tokens + (now - m_tokensAt) * kClientOpsPerSecond / 1000.0);
    m_tokensAt = now;
    for (OutItem &item : m_outbox) {
        if (item.sent)
            continue;
        if (item.notBefore > now) {
            m_pumpTimer.start(int(item.notBefore - now));
            return;
        }
        if (m_tokens < 1.0) {
            m_pumpTimer.start(std::max(1, int((1.0 - m_tokens) * 1000.0 / kClientOpsPerSecond)));
            return;
        }
        pb::Envelope env;
        *env.mutable_op() = item.op;
        // An op numbered one above the last sent on this connection goes without its id (a
        // 9-byte field): the server takes it as the previous one plus one.
        if (item.op.client_op_id() == m_lastSentOpId + 1 && m_lastSentOpId != 0)
            env.mutable_op()->clear_client_op_id();
        m_lastSentOpId = item.op.client_op_id();
        sendEnvelope(env);
        item.sent = true;
        m_tokens -= 1.0;
    }
}

void WallClient::acknowledge(std::deque<OutItem>::iterator it, const pb::Op *stored)
{
    Q_UNUSED(stored);
    const pb::Op op = std::move(it->op);
    m_outbox.erase(it);
    if (op.has_stroke_begin() || op.has_stroke_points()) {
        // The stroke's batch came back: what was drawn meanwhile may go now (StrokePacer).
        const auto local = m_local.find(*strokeIdOf(op));
        if (local != m_local.end()) {
            local->second.pacer.acknowledged(op.client_op_id());
            sendDueStrokePoints();
        }
    } else if (op.has_stroke_end()) {
        const auto local = m_local.find(op.stroke_end().id());
        if (local != m_local.end() && local->second.endOpId == op.client_op_id()) {
            // The model now holds every point: draw it from there.
            const QRectF area = local->second.bounds();
            const std::uint32_t id = local->first;
            m_local.erase(local);
            emit localStrokeRemoved(id, area);
        }
    } else if (op.has_erase()) {
        std::vector<std::uint64_t> keys(op.erase().strokes().begin(), op.erase().strokes().end());
        for (const auto key : keys)
            m_hidden.erase(key);
        emit hiddenChanged(keys);
    } else if (const auto key = noteKeyOf(op, m_userId)) {
        refreshNote(*key);
    } else if (const auto shape = shapeKeyOf(op, m_userId)) {
        emit shapeChanged(*shape);
    } else if (op.has_image_delete()) {
        refreshImage(op.image_delete().image());
    }
    emit pendingCountChanged();
}

void WallClient::dropRefused(std::deque<OutItem>::iterator it, const QString &message)
{
    const pb::Op op = std::move(it->op);
    m_outbox.erase(it);
    std::erase(m_undo, op.client_op_id());
    std::erase(m_redo, op.client_op_id());
    if (const auto sid = strokeIdOf(op)) {
        // A stroke that cannot be stored loses the rest of its ops too.
        std::erase_if(m_outbox, [&](const OutItem &o) {
            const auto other = strokeIdOf(o.op);
            return other && *other == *sid;
        });
        if (const auto local = m_local.find(*sid); local != m_local.end()) {
            const QRectF area = local->second.bounds();
            std::erase(m_undo, local->second.beginOpId);
            m_local.erase(local);
            emit localStrokeRemoved(*sid, area);
        }
    } else if (op.has_erase()) {
        std::vector<std::uint64_t> keys(op.erase().strokes().begin(), op.erase().strokes().end());
        for (const auto key : keys)
            m_hidden.erase(key);
        emit hiddenChanged(keys);
    } else if (const auto key = noteKeyOf(op, m_userId)) {
        refreshNote(*key);
    } else if (const auto shape = shapeKeyOf(op, m_userId)) {
        emit shapeChanged(*shape);
    } else if (op.has_image_delete()) {
        refreshImage(op.image_delete().image());
    } else if (op.has_chat()) {
        m_chat->removePending(op.client_op_id());
    }
    emit undoStateChanged();
    emit pendingCountChanged();
    setNotice(message);
}

// --- what a person does ------------------------------------------------------------------------

bool WallClient::sendChat(const QString &text)
{
    const QString t = text.trimmed();
    if (t.isEmpty() || !ready())
        return false;
    if (t.size() > limits::kMaxChatChars) {
        setNotice(tr("That message has %1 characters; shorten it to %2.")
                      .arg(t.size())
                      .arg(limits::kMaxChatChars));
        return false;
    }
    pb::Op op;
    op.mutable_chat()->set_text(toWire(t));
    op.set_client_op_id(nextClientOpId());
    m_chat->addPending(op.client_op_id(), m_displayName, m_color, t);
    queue(std::move(op));
    return true;
}

void WallClient::fetchOlderChat()
{
    if (!m_joined || m_chat->loadingOlder() || !m_chat->hasMore())
        return;
    pb::Envelope env;
    env.mutable_history_request()->set_before_seq(m_chat->oldestSeq());
    env.mutable_history_request()->set_limit(50);
    m_chat->setLoadingOlder(true);
    m_historyAsks.push_back(false);
    sendEnvelope(env);
}

void WallClient::pushAction(std::uint64_t clientOpId)
{
    m_undo.push_back(clientOpId);
    if (m_undo.size() > size_t(limits::kMaxUndoDepth))
        m_undo.erase(m_undo.begin());
    m_redo.clear();
    emit undoStateChanged();
}

void WallClient::rebuildUndoFromModel()
{
    // After an app restart the resume token gives us our old identity: our actions on the wall
    // can be undone again.
    if (!m_undo.empty() || !m_redo.empty() || m_userId == 0)
        return;
    if (const auto *actions = m_model.actions(m_userId)) {
        for (const auto &a : *actions) {
            if (!a.undone)
                m_undo.push_back(a.clientOpId);
        }
    }
    emit undoStateChanged();
}

void WallClient::undo()
{
    if (m_undo.empty() || !ready())
        return;
    const std::uint64_t target = m_undo.back();
    m_undo.pop_back();
    m_redo.push_back(target);
    pb::Op op;
    op.mutable_undo()->set_target_client_op_id(target);
    queue(std::move(op));
    emit undoStateChanged();
}

void WallClient::redo()
{
    if (m_redo.empty() || !ready())
        return;
    const std::uint64_t target = m_redo.back();
    m_redo.pop_back();
    m_undo.push_back(target);
    pb::Op op;
    op.mutable_redo()->set_target_client_op_id(target);
    queue(std::move(op));
    emit undoStateChanged();
}

void WallClient::clearWall()
{
    if (!ready())
        return;
    pb::Op op;
    op.mutable_clear();
    queue(std::move(op));
}

QString WallClient::addNote(double x, double y, const QString &text)
{
    if (!ready() || !isValidCoordinate(x) || !isValidCoordinate(y))
        return {};
    const std::uint32_t id = nextObjectId();
    pb::Op op;
    auto *n = op.mutable_note_add();
    n->set_id(id);
    n->set_x(float(x));
    n->set_y(float(y));
    n->set_text(toWire(text.left(limits::kMaxNoteChars)));
    n->set_color(toRgb(m_color));
    const std::uint64_t key = objectKey(m_userId, id);
    m_lastNoteKey = key;
    m_lastNoteOp = queue(std::move(op));
    pushAction(m_lastNoteOp);
    refreshNote(key);
    return QString::number(key);
}

void WallClient::editNote(const QString &keyText, const QString &text)
{
    const std::uint64_t key = keyText.toULongLong();
    NotesModel::Note current;
    if (!ready() || !effectiveNote(key, &current) || current.text == text)
        return;
    pb::Op op;
    op.mutable_note_edit()->set_note(key);
    op.mutable_note_edit()->set_text(toWire(text.left(limits::kMaxNoteChars)));
    pushAction(queue(std::move(op)));
    refreshNote(key);
}

void WallClient::moveNote(const QString &keyText, double x, double y)
{
    const std::uint64_t key = keyText.toULongLong();
    NotesModel::Note current;
    if (!ready() || !effectiveNote(key, &current) || !isValidCoordinate(x) || !isValidCoordinate(y)
        || (float(current.x) == float(x) && float(current.y) == float(y)))
        return;
    pb::Op op;
    op.mutable_note_move()->set_note(key);
    op.mutable_note_move()->set_x(float(x));
    op.mutable_note_move()->set_y(float(y));
    pushAction(queue(std::move(op)));
    refreshNote(key);
}

void WallClient::styleNote(const QString &keyText, const QColor &color, double width, double height)
{
    const std::uint64_t key = keyText.toULongLong();
    NotesModel::Note current;
    if (!ready() || !effectiveNote(key, &current) || !color.isValid())
        return;
    // A size is kept within the limits (0 stays the default); the colour is opaque.
    auto side = [](double v) {
        return v <= 0 || !std::isfinite(v)
                   ? 0.f
                   : std::clamp(float(v), limits::kMinNoteSide, limits::kMaxNoteSide);
    };
    const float w = side(width), h = side(height);
    if (current.color.rgb() == color.rgb() && float(current.width) == w && float(current.height) == h)
        return;
    pb::Op op;
    auto *st = op.mutable_note_style();
    st->set_note(key);
    st->set_color(toRgb(color));
    st->set_width(w);
    st->set_height(h);
    pushAction(queue(std::move(op)));
    refreshNote(key);
}

void WallClient::deleteNote(const QString &keyText)
{
    const std::uint64_t key = keyText.toULongLong();
    NotesModel::Note current;
    if (!ready() || !effectiveNote(key, &current))
        return;
    pb::Op op;
    op.mutable_note_delete()->set_note(key);
    pushAction(queue(std::move(op)));
    refreshNote(key);
}

void WallClient::dropEmptyNote(const QString &keyText)
{
    const std::uint64_t key = keyText.toULongLong();
    NotesModel::Note current;
    if (!ready() || !effectiveNote(key, &current) || !current.text.trimmed().isEmpty()
        || !mayChange(key))
        return;
    deleteNote(keyText);
    if (key != m_lastNoteKey || m_undo.empty())
        return;
    m_undo.pop_back(); // the delete just made
    std::erase(m_undo, m_lastNoteOp);
    m_lastNoteKey = 0;
    emit undoStateChanged();
}

// --- shapes ------------------------------------------------------------------------------------

bool WallClient::effectiveShape(std::uint64_t key, WallModel::ShapeData *out) const
{
    bool exists = false;
    if (const WallModel::Shape *sh = m_model.shape(key); sh && sh->visible()) {
        exists = true;
        *out = sh->data;
    }
    for (const OutItem &item : m_outbox) {
        const auto k = shapeKeyOf(item.op, m_userId);
        if (!k || *k != key)
            continue;
        if (item.op.has_shape_add()) {
            exists = true;
            *out = WallModel::ShapeData::fromWire(item.op.shape_add().shape());
        } else if (item.op.has_shape_edit()) {
            *out = WallModel::ShapeData::fromWire(item.op.shape_edit().shape());
        } else {
            exists = false;
        }
    }
    return exists;
}

std::vector<std::pair<std::uint64_t, WallModel::ShapeData>> WallClient::shownShapes() const
{
    // The outbox is short: its shape ops, by key, over the model's shapes.
    std::unordered_map<std::uint64_t, std::optional<WallModel::ShapeData>> pending;
    std::vector<std::uint64_t> added;
    for (const OutItem &item : m_outbox) {
        const auto k = shapeKeyOf(item.op, m_userId);
        if (!k)
            continue;
        if (item.op.has_shape_add()) {
            pending[*k] = WallModel::ShapeData::fromWire(item.op.shape_add().shape());
            if (!m_model.shape(*k))
                added.push_back(*k);
        } else if (item.op.has_shape_edit()) {
            pending[*k] = WallModel::ShapeData::fromWire(item.op.shape_edit().shape());
        } else {
            pending[*k] = std::nullopt;
        }
    }
    std::vector<std::pair<std::uint64_t, WallModel::ShapeData>> out;
    out.reserve(m_model.shapes().size() + added.size());
    auto emitShape = [&](std::uint64_t key, const WallModel::ShapeData *modelData) {
        if (key == m_editingShape)
            return;
        if (const auto it = pending.find(key); it != pending.end()) {
            if (it->second)
                out.emplace_back(key, *it->second);
        } else if (modelData) {
            out.emplace_back(key, *modelData);
        }
    };
    for (const WallModel::Shape &sh : m_model.shapes()) {
        if (sh.visible() || pending.count(sh.key))
            emitShape(sh.key, sh.visible() ? &sh.data : nullptr);
    }
    for (const std::uint64_t key : added)
        emitShape(key, nullptr);
    return out;
}

QString WallClient::addShape(int kind, QPointF from, QPointF to, const QColor &color,
                             double strokeWidth, const QColor &fill)
{
    if (!ready() || kind <= pb::SHAPE_NONE || kind >= pb::SHAPE_TEXT || !isValidCoordinate(from.x())
        || !isValidCoordinate(from.y()) || !isValidCoordinate(to.x()) || !isValidCoordinate(to.y()))
        return {};
    WallModel::ShapeData d;
    d.kind = pb::ShapeKind(kind);
    const QRectF box = d.isLine() ? QRectF(from, to) : QRectF(from, to).normalized();
    d.x = float(box.x());
    d.y = float(box.y());
    d.width = float(box.width());
    d.height = float(box.height());
    d.color = toRgb(color);
    d.strokeWidth = float(std::clamp(strokeWidth, double(limits::kMinStrokeWidth),
                                     double(limits::kMaxStrokeWidth)));
    if (!d.isLine() && fill.alpha() > 0)
        d.fill = std::uint32_t(fill.rgba());
    return QString::number(queueShapeAdd(d));
}

QString WallClient::addText(double x, double y, const QString &text, double fontSize,
                            const QColor &color)
{
    if (!ready() || !isValidCoordinate(x) || !isValidCoordinate(y))
        return {};
    WallModel::ShapeData d;
    d.kind = pb::SHAPE_TEXT;
    d.x = float(x);
    d.y = float(y);
    d.color = toRgb(color);
    d.text = text.left(limits::kMaxTextChars);
    d.fontSize = float(std::clamp(fontSize, double(limits::kMinFontSize), double(limits::kMaxFontSize)));
    return QString::number(queueShapeAdd(d));
}

std::uint64_t WallClient::queueShapeAdd(const WallModel::ShapeData &d)
{
    const std::uint32_t id = nextObjectId();
    pb::Op op;
    op.mutable_shape_add()->set_id(id);
    d.toWire(op.mutable_shape_add()->mutable_shape());
    pushAction(queue(std::move(op)));
    const std::uint64_t key = objectKey(m_userId, id);
    emit shapeChanged(key);
    return key;
}

bool WallClient::editShape(std::uint64_t key, const WallModel::ShapeData &data)
{
    WallModel::ShapeData current;
    if (!ready() || !effectiveShape(key, &current) || current == data)
        return false;
    pb::Op op;
    op.mutable_shape_edit()->set_key(key);
    data.toWire(op.mutable_shape_edit()->mutable_shape());
    pushAction(queue(std::move(op)));
    emit shapeChanged(key);
    return true;
}

void WallClient::setShapeText(const QString &keyText, const QString &text)
{
    const std::uint64_t key = keyText.toULongLong();
    WallModel::ShapeData d;
    if (!effectiveShape(key, &d) || d.kind != pb::SHAPE_TEXT)
        return;
    d.text = text.left(limits::kMaxTextChars);
    editShape(key, d);
}

void WallClient::deleteShape(const QString &keyText)
{
    const std::uint64_t key = keyText.toULongLong();
    WallModel::ShapeData d;
    if (!ready() || !effectiveShape(key, &d))
        return;
    pb::Op op;
    op.mutable_shape_delete()->set_key(key);
    pushAction(queue(std::move(op)));
    emit shapeChanged(key);
}

QVariantMap WallClient::shapeInfo(const QString &keyText) const
{
    WallModel::ShapeData d;
    if (!effectiveShape(keyText.toULongLong(), &d))
        return {};
    return {{QStringLiteral("kind"), int(d.kind)},
            {QStringLiteral("text"), d.text},
            {QStringLiteral("fontSize"), double(d.fontSize)},
            {QStringLiteral("color"), fromRgb(d.color)},
            {QStringLiteral("x"), double(d.x)},
            {QStringLiteral("y"), double(d.y)},
            {QStringLiteral("width"), double(d.width)},
            {QStringLiteral("height"), double(d.height)}};
}

std::uint64_t WallClient::queueInParts(const std::array<std::span<const std::uint64_t>, 4> &lists,
                                       const std::function<void(pb::Op &)> &start,
                                       const std::function<void(pb::Op &, int list, std::uint64_t key)> &add)
{
    if (!ready())
        return 0;
    std::vector<std::pair<int, std::uint64_t>> all; // (list, key)
    for (int l = 0; l < 4; ++l)
        for (const std::uint64_t key : lists[size_t(l)])
            all.emplace_back(l, key);
    std::uint64_t last = 0;
    for (size_t i = 0; i < all.size(); i += size_t(limits::kMaxTransformObjects)) {
        pb::Op op;
        start(op);
        const size_t end = std::min(all.size(), i + size_t(limits::kMaxTransformObjects));
        for (size_t k = i; k < end; ++k)
            add(op, all[k].first, all[k].second);
        last = queue(std::move(op));
        pushAction(last);
    }
    return last;
}

std::uint64_t WallClient::transformObjects(pb::Transform t)
{
    auto span = [](const google::protobuf::RepeatedField<std::uint64_t> &list) {
        return std::span<const std::uint64_t>(list.data(), size_t(list.size()));
    };
    return queueInParts(
        {span(t.strokes()), span(t.notes()), span(t.images()), span(t.shapes())},
        [&t](pb::Op &op) {
            pb::Transform *part = op.mutable_transform();
            *part = t;
            part->clear_strokes();
            part->clear_notes();
            part->clear_images();
            part->clear_shapes();
        },
        [](pb::Op &op, int l, std::uint64_t key) {
            pb::Transform *part = op.mutable_transform();
            (l == 0 ? part->add_strokes(key) : l == 1 ? part->add_notes(key)
                                             : l == 2 ? part->add_images(key) : part->add_shapes(key));
        });
}

std::uint64_t WallClient::arrange(const Copies &objects, bool toBack)
{
    return queueInParts(
        {objects.strokes, objects.notes, objects.images, objects.shapes},
        [toBack](pb::Op &op) { op.mutable_arrange()->set_to_back(toBack); },
        [](pb::Op &op, int l, std::uint64_t key) {
            pb::Arrange *part = op.mutable_arrange();
            (l == 0 ? part->add_strokes(key) : l == 1 ? part->add_notes(key)
                                             : l == 2 ? part->add_images(key) : part->add_shapes(key));
        });
}

bool WallClient::isOutstanding(std::uint64_t clientOpId) const
{
    return std::any_of(m_outbox.begin(), m_outbox.end(),
                       [clientOpId](const OutItem &o) { return o.op.client_op_id() == clientOpId; });
}

WallClient::Copies WallClient::duplicate(const Copies &objects, QPointF offset)
{
    pb::WallSnapshot clip = clipOf(objects);
    return place(clip, clipBounds(clip).center() + offset);
}

pb::WallSnapshot WallClient::clipOf(const Copies &objects) const
{
    pb::WallSnapshot clip;
    for (const std::uint64_t key : objects.strokes) {
        const WallModel::Stroke *st = m_model.stroke(key);
        std::vector<FixedPoint> points;
        std::vector<std::uint8_t> pressure;
        std::uint32_t color = 0;
        float width = 0;
        if (st && st->visible()) {
            points = st->points;
            pressure = st->pressure;
            color = st->color;
            width = st->width;
        } else if (const auto local = m_local.find(std::uint32_t(key & 0xffffffffu));
                   keyAuthor(key) == m_userId && local != m_local.end()) {
            points = local->second.points;
            pressure = local->second.pressure;
            color = local->second.color;
            width = local->second.width;
        }
        if (points.empty())
            continue;
        pb::SnapStroke *out = clip.add_strokes();
        out->set_key(key);
        out->set_color(color);
        out->set_width(width);
        out->set_closed(true);
        encodePoints(points, {}, out);
        if (pressure.size() == points.size())
            out->set_pressure(pressure.data(), pressure.size());
    }
    for (const std::uint64_t key : objects.notes) {
        NotesModel::Note n;
        if (!effectiveNote(key, &n))
            continue;
        pb::SnapNote *out = clip.add_notes();
        out->set_key(key);
        out->set_x(float(n.x));
        out->set_y(float(n.y));
        out->set_text(toWire(n.text));
        out->set_color(toRgb(n.color));
        out->set_width(float(n.width));
        out->set_height(float(n.height));
    }
    for (const std::uint64_t key : objects.images) {
        const WallModel::Image *i = m_model.image(key);
        if (!i || !isImageShown(key))
            continue;
        pb::SnapImage *out = clip.add_images();
        out->set_key(key);
        out->set_hash(i->hash.toStdString());
        out->set_x(i->x);
        out->set_y(i->y);
        out->set_width(i->width);
        out->set_height(i->height);
        out->set_rotation(i->rotation);
    }
    for (const std::uint64_t key : objects.shapes) {
        WallModel::ShapeData d;
        if (!effectiveShape(key, &d))
            continue;
        pb::SnapShape *out = clip.add_shapes();
        out->set_key(key);
        d.toWire(out->mutable_shape());
    }
    return clip;
}

QRectF WallClient::clipBounds(const pb::WallSnapshot &clip)
{
    QRectF out;
    for (const auto &s : clip.strokes()) {
        std::vector<FixedPoint> points;
        if (decodePoints(s, {}, &points).ok) {
            WallModel::Stroke st;
            st.points = std::move(points);
            out = out.united(st.bounds());
        }
    }
    for (const auto &n : clip.notes())
        out = out.united(QRectF(n.x(), n.y(), n.width() > 0 ? n.width() : 200, std::max(80.0f, n.height())));
    for (const auto &i : clip.images()) {
        WallModel::Image image;
        image.x = i.x(), image.y = i.y(), image.width = i.width(), image.height = i.height();
        image.rotation = i.rotation();
        out = out.united(imageBounds(image));
    }
    for (const auto &sh : clip.shapes())
        out = out.united(shapeBounds(WallModel::ShapeData::fromWire(sh.shape())));
    return out;
}

WallClient::Copies WallClient::place(const pb::WallSnapshot &clip, QPointF at)
{
    Copies made;
    if (!ready())
        return made;
    const QPointF offset = at - clipBounds(clip).center();
    // Whatever put it on the clipboard, what goes out is checked like anything typed: the
    // server refuses what does not fit, and says why.
    const int count = clip.strokes_size() + clip.notes_size() + clip.images_size() + clip.shapes_size();
    if (count > limits::kMaxTransformObjects) {
        setNotice(tr("The clipboard holds %1 objects; at most %2 are pasted at a time.")
                      .arg(count)
                      .arg(limits::kMaxTransformObjects));
        return made;
    }
    // The image hashes this wall has (the server holds their bytes for it).
    std::unordered_set<std::string> here;
    if (clip.images_size() > 0) {
        for (const WallModel::Image &image : m_model.images())
            here.insert(image.hash.toStdString());
    }
    for (const auto &in : clip.images()) {
        if (in.hash().size() != 32)
            continue;
        const std::uint32_t id = nextObjectId();
        pb::Op op;
        auto *a = op.mutable_image_add();
        a->set_id(id);
        a->set_hash(in.hash());
        a->set_x(float(in.x() + offset.x()));
        a->set_y(float(in.y() + offset.y()));
        a->set_width(in.width());
        a->set_height(in.height());
        a->set_rotation(in.rotation());
        made.images.push_back(objectKey(m_userId, id));
        const QByteArray hash = QByteArray::fromStdString(in.hash());
        if (here.count(in.hash())) {
            pushAction(queue(std::move(op)));
            continue;
        }
        // Another wall's image: its bytes go up to this wall first, from the copy kept on this
        // computer, and it is placed once they are there.
        placeWhenPrepared({}, QtConcurrent::run([path = m_imageCache->diskPath(hash), hash, name = tr("Pasted image")] {
                              return ImageCache::prepareKept(path, hash, name);
                          }),
                          std::move(op));
    }
    for (const auto &in : clip.shapes()) {
        WallModel::ShapeData d = WallModel::ShapeData::fromWire(in.shape());
        d.x += float(offset.x());
        d.y += float(offset.y());
        made.shapes.push_back(queueShapeAdd(d));
    }
    for (const auto &in : clip.strokes()) {
        std::vector<FixedPoint> points;
        if (!decodePoints(in, {}, &points).ok || points.empty())
            continue;
        const QColor color = fromRgb(in.color());
        const bool pressured = in.pressure().size() == points.size();
        auto pressureAt = [&](size_t k) { return pressured ? std::uint8_t(in.pressure()[k]) / 255.0 : -1.0; };
        std::uint32_t id = beginStroke(toPixels(points.front()) + offset, color, in.width(), pressureAt(0));
        if (!id)
            continue;
        for (size_t k = 1; k < points.size(); ++k)
            id = extendStroke(id, toPixels(points[k]) + offset, pressureAt(k));
        endStroke(id);
        made.strokes.push_back(objectKey(m_userId, id));
    }
    for (const auto &in : clip.notes()) {
        const QString copy = addNote(in.x() + offset.x(), in.y() + offset.y(), fromWire(in.text()));
        if (copy.isEmpty())
            continue;
        styleNote(copy, fromRgb(in.color()), in.width(), in.height());
        made.notes.push_back(copy.toULongLong());
    }
    return made;
}

void WallClient::setEditingShape(const QString &keyText)
{
    const std::uint64_t key = keyText.toULongLong();
    if (key == m_editingShape)
        return;
    const std::uint64_t before = m_editingShape;
    m_editingShape = key;
    if (before)
        emit shapeChanged(before);
    if (key)
        emit shapeChanged(key);
}

void WallClient::setSelectionBox(const QRectF &box)
{
    const QRectF valid = box.isValid() && isValidCoordinate(box.left()) && isValidCoordinate(box.top())
                                 && isValidCoordinate(box.right()) && isValidCoordinate(box.bottom())
                             ? box
                             : QRectF();
    if (valid == m_selectionBox)
        return;
    m_selectionBox = valid;
    sendCursor(m_cursorPos.x(), m_cursorPos.y());
}

void WallClient::setDragPreview(const pb::Transform *preview)
{
    if (preview) {
        const int count = preview->strokes_size() + preview->notes_size() + preview->images_size()
                        + preview->shapes_size();
        if (count > limits::kMaxPreviewObjects || WallModel::checkPreview(*preview))
            preview = nullptr;
    }
    if (!preview && !m_dragPreview)
        return;
    if (preview)
        m_dragPreview = *preview;
    else
        m_dragPreview.reset();
    sendCursor(m_cursorPos.x(), m_cursorPos.y());
}

void WallClient::clearDragPreviews()
{
    const auto users = std::exchange(m_dragPreviews, {});
    for (const auto &[user, preview] : users)
        emit dragPreviewChanged(user);
}

void WallClient::setView(const QRectF &view)
{
    if (view == m_view || !view.isValid())
        return;
    m_view = view;
    sendCursor(m_cursorPos.x(), m_cursorPos.y());
}

QRectF WallClient::memberView(const QString &userId) const
{
    const MembersModel::Member *m = m_members->find(userId.toULongLong());
    return m ? m->view : QRectF();
}

QString WallClient::memberName(const QString &userId) const
{
    const MembersModel::Member *m = m_members->find(userId.toULongLong());
    return m ? m->name : QString();
}

void WallClient::setLaser(bool on)
{
    if (m_laser == on)
        return;
    m_laser = on;
    emit laserChanged();
    if (!on) // the trail ends for the others too
        sendCursor(m_cursorPos.x(), m_cursorPos.y());
}

void WallClient::setPresenting(bool on)
{
    on = on && isModerator();
    if (m_presenting == on)
        return;
    m_presenting = on;
    if (on)
        m_presentTimer.start();
    else
        m_presentTimer.stop();
    setPresenter(on ? m_userId : (m_presenterId == m_userId ? 0 : m_presenterId));
    emit presentingChanged();
    sendCursor(m_cursorPos.x(), m_cursorPos.y());
}

void WallClient::setPresenter(std::uint64_t userId)
{
    if (m_presenterId == userId)
        return;
    m_presenterId = userId;
    emit presentingChanged();
}

void WallClient::sendCursor(double x, double y)
{
    const bool moved = QPointF(x, y) != m_cursorPos;
    m_cursorPos = QPointF(x, y);
    if (m_laser && m_joined && moved) // not again when the same position goes out again
        emit laserMoved(QString::number(m_userId), x, y, m_color);
    if (drawing()) {
        // The stroke's points carry the pen: others show this cursor at the tip of its ink as it
        // flows in (CanvasItem), not ahead of it, and cursor messages would cost more bytes than
        // the ink.
        m_cursorDirty = false;
        return;
    }
    if (m_cursorTimer.isActive() || !m_joined) {
        m_cursorDirty = m_joined;
        return;
    }
    if (!isValidCoordinate(x) || !isValidCoordinate(y))
        return;
    pb::Envelope env;
    env.mutable_cursor()->set_x(float(x));
    env.mutable_cursor()->set_y(float(y));
    if (!m_selectionBox.isEmpty()) {
        env.mutable_cursor()->set_selection_x(float(m_selectionBox.x()));
        env.mutable_cursor()->set_selection_y(float(m_selectionBox.y()));
        env.mutable_cursor()->set_selection_width(float(m_selectionBox.width()));
        env.mutable_cursor()->set_selection_height(float(m_selectionBox.height()));
    }
    if (m_dragPreview)
        *env.mutable_cursor()->mutable_preview() = *m_dragPreview;
    if (m_view.isValid() && isValidCoordinate(m_view.left()) && isValidCoordinate(m_view.top())
        && isValidCoordinate(m_view.right()) && isValidCoordinate(m_view.bottom())) {
        env.mutable_cursor()->set_view_x(float(m_view.x()));
        env.mutable_cursor()->set_view_y(float(m_view.y()));
        env.mutable_cursor()->set_view_width(float(m_view.width()));
        env.mutable_cursor()->set_view_height(float(m_view.height()));
    }
    env.mutable_cursor()->set_laser(m_laser);
    env.mutable_cursor()->set_presenting(m_presenting);
    sendEnvelope(env);
    m_cursorDirty = false;
    m_cursorTimer.start();
}

// --- strokes -----------------------------------------------------------------------------------

std::uint32_t WallClient::beginStroke(QPointF wallPos, QColor color, float width, double pressure)
{
    if (!ready() || !isValidCoordinate(wallPos.x()) || !isValidCoordinate(wallPos.y()))
        return 0;
    LocalStroke ls;
    ls.id = nextObjectId();
    ls.color = toRgb(color);
    ls.width = std::clamp(width, limits::kMinStrokeWidth, limits::kMaxStrokeWidth);
    ls.points.push_back(toFixed(wallPos));
    ls.sentPoints = 1;
    pb::Op op;
    auto *b = op.mutable_stroke_begin();
    b->set_id(ls.id);
    b->set_color(ls.color);
    b->set_width(ls.width);
    encodePoints(ls.points, {}, b);
    if (pressure >= 0) {
        ls.pressured = true;
        ls.pressure.push_back(toPressureByte(pressure));
        b->set_pressure(ls.pressure.data(), ls.pressure.size());
    }
    ls.beginOpId = queue(std::move(op));
    ls.pacer.sent(ls.beginOpId, m_clock.elapsed());
    pushAction(ls.beginOpId);
    const std::uint32_t id = ls.id;
    m_local.emplace(id, std::move(ls));
    emit localStrokeChanged(id, 0);
    return id;
}

std::uint32_t WallClient::extendStroke(std::uint32_t id, QPointF wallPos, double pressure)
{
    const auto it = m_local.find(id);
    if (it == m_local.end() || it->second.ended || !isValidCoordinate(wallPos.x())
        || !isValidCoordinate(wallPos.y()))
        return id;
    LocalStroke &ls = it->second;
    const FixedPoint p = toFixed(wallPos);
    if (p == ls.points.back())
        return id;
    if (ls.points.size() >= size_t(limits::kMaxPointsPerStroke)) {
        // A very long stroke continues as a new one from the same point.
        const QPointF last = toPixels(ls.points.back());
        const QColor color = fromRgb(ls.color);
        const float width = ls.width;
        const double lastPressure = ls.pressured ? ls.pressure.back() / 255.0 : -1;
        endStroke(id);
        const std::uint32_t next = beginStroke(last, color, width, lastPressure);
        return extendStroke(next, wallPos, pressure);
    }
    if (ls.sentPoints == ls.points.size())
        ls.waitingSinceMs = m_clock.elapsed();
    ls.points.push_back(p);
    if (ls.pressured) // a point the device gave no pressure for keeps the last one
        ls.pressure.push_back(pressure >= 0 ? toPressureByte(pressure) : ls.pressure.back());
    emit localStrokeChanged(id, ls.points.size() - 1);
    sendDueStrokePoints();
    return id;
}

// Puts up to `max` of the stroke's unsent points into `message` (a StrokePoints or StrokeEnd).
template <typename Message>
void WallClient::takePendingPoints(LocalStroke &ls, size_t max, Message *message)
{
    const size_t n = std::min(ls.points.size() - ls.sentPoints, max);
    const std::vector<FixedPoint> chunk(ls.points.begin() + long(ls.sentPoints),
                                        ls.points.begin() + long(ls.sentPoints + n));
    encodePoints(chunk, tailOf(ls.points, ls.sentPoints), message);
    if (ls.pressured)
        message->set_pressure(ls.pressure.data() + ls.sentPoints, n);
    ls.sentPoints += n;
}

std::uint64_t WallClient::queuePointBatches(LocalStroke &ls, size_t keep)
{
    std::uint64_t last = 0;
    while (ls.points.size() - ls.sentPoints > keep) {
        pb::Op op;
        op.mutable_stroke_points()->set_id(ls.id);
        takePendingPoints(ls, size_t(limits::kMaxPointsPerBatch), op.mutable_stroke_points());
        last = queue(std::move(op));
    }
    return last;
}

void WallClient::sendDueStrokePoints(bool all)
{
    const std::int64_t now = m_clock.elapsed();
    std::int64_t next = -1; // when the next waiting points are due; < 0: none wait
    for (auto &[id, ls] : m_local) {
        if (ls.ended || ls.sentPoints == ls.points.size())
            continue;
        const std::int64_t due = ls.pacer.dueMs(ls.waitingSinceMs);
        if (all || due <= now) {
            if (const std::uint64_t opId = queuePointBatches(ls, 0))
                ls.pacer.sent(opId, now);
        } else if (next < 0 || due < next) {
            next = due;
        }
    }
    if (next < 0)
        m_pointsTimer.stop();
    else
        m_pointsTimer.start(int(std::max<std::int64_t>(1, next - now)));
}

void WallClient::endStroke(std::uint32_t id)
{
    const auto it = m_local.find(id);
    if (it == m_local.end() || it->second.ended)
        return;
    LocalStroke &ls = it->second;
    // The last points ride in the end; only a pile larger than one batch sends some before.
    queuePointBatches(ls, size_t(limits::kMaxPointsPerBatch));
    ls.ended = true;
    pb::Op op;
    op.mutable_stroke_end()->set_id(id);
    takePendingPoints(ls, size_t(limits::kMaxPointsPerBatch), op.mutable_stroke_end());
    ls.endOpId = queue(std::move(op));
}

void WallClient::cancelStroke(std::uint32_t id)
{
    const auto it = m_local.find(id);
    if (it == m_local.end() || it->second.ended)
        return;
    const std::uint64_t begin = it->second.beginOpId;
    endStroke(id);
    hideLocally({objectKey(m_userId, id)});
    std::erase(m_undo, begin);
    pb::Op op;
    op.mutable_undo()->set_target_client_op_id(begin);
    queue(std::move(op));
    emit undoStateChanged();
}

bool WallClient::drawing() const
{
    return std::any_of(m_local.begin(), m_local.end(),
                       [](const auto &entry) { return !entry.second.ended; });
}

bool WallClient::isShadowedByLocal(std::uint64_t key) const
{
    return keyAuthor(key) == m_userId && m_local.count(std::uint32_t(key & 0xffffffffu));
}

void WallClient::hideLocally(const std::vector<std::uint64_t> &keys)
{
    std::vector<std::uint64_t> added;
    for (const auto key : keys) {
        if (m_hidden.insert(key).second)
            added.push_back(key);
    }
    if (!added.empty())
        emit hiddenChanged(added);
}

void WallClient::erase(const std::vector<std::uint64_t> &keys)
{
    if (keys.empty() || !ready())
        return;
    hideLocally(keys);
    for (size_t i = 0; i < keys.size(); i += size_t(limits::kMaxEraseStrokes)) {
        pb::Op op;
        const size_t end = std::min(keys.size(), i + size_t(limits::kMaxEraseStrokes));
        for (size_t k = i; k < end; ++k)
            op.mutable_erase()->add_strokes(keys[k]);
        pushAction(queue(std::move(op)));
    }
}

// --- notes -------------------------------------------------------------------------------------

bool WallClient::effectiveNote(std::uint64_t key, NotesModel::Note *out) const
{
    bool exists = false;
    if (const auto *n = m_model.note(key); n && n->visible()) {
        exists = true;
        out->x = n->x;
        out->y = n->y;
        out->text = n->text;
        out->color = fromRgb(n->color);
        out->width = n->width;
        out->height = n->height;
        out->layer = n->layer;
    } else {
        out->layer = m_model.topLayer(); // on its way: on top, where it will land
    }
    out->key = key;
    out->pending = false;
    out->mine = keyAuthor(key) == m_userId;
    for (const OutItem &item : m_outbox) {
        const pb::Op &op = item.op;
        const auto k = noteKeyOf(op, m_userId);
        if (!k || *k != key)
            continue;
        out->pending = true;
        switch (op.body_case()) {
        case pb::Op::kNoteAdd:
            exists = true;
            out->x = op.note_add().x();
            out->y = op.note_add().y();
            out->text = fromWire(op.note_add().text());
            out->color = fromRgb(op.note_add().color());
            out->width = op.note_add().width();
            out->height = op.note_add().height();
            break;
        case pb::Op::kNoteStyle:
            out->color = fromRgb(op.note_style().color());
            out->width = op.note_style().width();
            out->height = op.note_style().height();
            break;
        case pb::Op::kNoteEdit: out->text = fromWire(op.note_edit().text()); break;
        case pb::Op::kNoteMove:
            out->x = op.note_move().x();
            out->y = op.note_move().y();
            break;
        case pb::Op::kNoteDelete: exists = false; break;
        default: break;
        }
    }
    return exists;
}

void WallClient::refreshNote(std::uint64_t key)
{
    NotesModel::Note n;
    m_notes->update(key, effectiveNote(key, &n) ? &n : nullptr);
}

void WallClient::refreshAllNotes()
{
    std::vector<std::uint64_t> keys;
    for (const auto &n : m_model.notes())
        keys.push_back(n.key);
    for (const OutItem &item : m_outbox) {
        if (item.op.has_note_add())
            keys.push_back(objectKey(m_userId, item.op.note_add().id()));
    }
    std::vector<NotesModel::Note> notes;
    std::unordered_set<std::uint64_t> seen;
    for (const auto key : keys) {
        NotesModel::Note n;
        if (seen.insert(key).second && effectiveNote(key, &n))
            notes.push_back(std::move(n));
    }
    m_notes->reset(std::move(notes));
}

// --- images --------------------------------------------------------------------------------------

void WallClient::updateImageSource()
{
    m_imageCache->setSource(m_url, m_wall, m_imageToken, m_tlsFingerprint);
}

bool WallClient::isImageShown(std::uint64_t key) const
{
    const WallModel::Image *image = m_model.image(key);
    if (!image || !image->visible())
        return false;
    return std::none_of(m_outbox.begin(), m_outbox.end(), [key](const OutItem &item) {
        return item.op.has_image_delete() && item.op.image_delete().image() == key;
    });
}

void WallClient::refreshImage(std::uint64_t key)
{
    const WallModel::Image *image = m_model.image(key);
    if (!image || !isImageShown(key)) {
        m_images->update(key, nullptr);
        return;
    }
    const ImageCache::Status status = m_imageCache->status(image->hash);
    ImagesModel::Image row;
    row.key = key;
    row.hash = image->hash;
    row.x = image->x;
    row.y = image->y;
    row.width = image->width;
    row.height = image->height;
    row.rotation = image->rotation;
    row.mine = keyAuthor(key) == m_userId;
    row.loaded = status.state == ImageCache::State::Ready;
    row.progress = status.progress;
    row.error = status.error;
    m_images->update(key, &row);
}

void WallClient::refreshAllImages()
{
    std::vector<ImagesModel::Image> rows;
    for (const WallModel::Image &image : m_model.images()) {
        if (!isImageShown(image.key))
            continue;
        const ImageCache::Status status = m_imageCache->status(image.hash);
        rows.push_back({image.key, image.hash, image.x, image.y, image.width, image.height,
                        keyAuthor(image.key) == m_userId, status.state == ImageCache::State::Ready,
                        status.progress, status.error, image.rotation});
    }
    m_images->reset(std::move(rows));
}

void WallClient::refreshImagesOf(const QByteArray &hash)
{
    for (const ImagesModel::Image &row : std::vector<ImagesModel::Image>(m_images->images())) {
        if (row.hash == hash)
            refreshImage(row.key);
    }
}

QString WallClient::uploadName() const
{
    if (m_preparing > 0 && !m_imageCache->uploading())
        return tr("Preparing the image…");
    return m_imageCache->uploadName();
}

int WallClient::placeImageFiles(const QList<QUrl> &files, double x, double y)
{
    int placed = 0;
    for (const QUrl &url : files) {
        if (!url.isLocalFile())
            continue;
        const QString path = url.toLocalFile();
        const QString name = QFileInfo(path).fileName();
        const QPointF center(x + placed * kImageCascade, y + placed * kImageCascade);
        placeWhenPrepared(center, QtConcurrent::run([path, name] {
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly)) {
                ImageCache::Prepared failed;
                failed.name = name;
                failed.error = tr("it could not be read (%1)").arg(file.errorString());
                return failed;
            }
            // A file far over the limit is not read whole just to be refused or shrunk: a
            // picture of up to max_image_pixels is never this big.
            if (file.size() > 16 * limits::kMaxImageBytes) {
                ImageCache::Prepared failed;
                failed.name = name;
                failed.error = tr("it has %1 MB; the limit %2 is %3 MB")
                                   .arg(file.size() / (1024 * 1024))
                                   .arg(QLatin1String(limits::kMaxImageBytesName))
                                   .arg(limits::kMaxImageBytes / (1024 * 1024));
                return failed;
            }
            return ImageCache::prepare(file.readAll(), name);
        }));
        ++placed;
    }
    return placed;
}

void WallClient::placeImage(const QImage &image, const QString &name, QPointF center)
{
    placeWhenPrepared(center, QtConcurrent::run([image, name] { return ImageCache::prepare(image, name); }));
}

void WallClient::placeWhenPrepared(QPointF center, QFuture<ImageCache::Prepared> preparing,
                                   std::optional<pb::Op> as)
{
    ++m_preparing;
    emit uploadChanged();
    auto *watcher = new QFutureWatcher<ImageCache::Prepared>(this);
    connect(watcher, &QFutureWatcher<ImageCache::Prepared>::finished, this,
            [this, watcher, center, wall = m_wall, as = std::move(as)] {
                watcher->deleteLater();
                --m_preparing;
                placePrepared(watcher->result(), center, wall, as);
                emit uploadChanged();
            });
    watcher->setFuture(std::move(preparing));
}

bool WallClient::pasteFromClipboard(double x, double y)
{
    const QMimeData *mime = QGuiApplication::clipboard()->mimeData();
    if (!mime)
        return false;
    if (mime->hasUrls()) {
        if (placeImageFiles(mime->urls(), x, y) > 0)
            return true;
    }
    if (mime->hasImage()) {
        placeImage(qvariant_cast<QImage>(mime->imageData()), tr("Pasted image"), QPointF(x, y));
        return true;
    }
    if (mime->hasText() && !mime->text().trimmed().isEmpty())
        return !addNote(x, y, mime->text()).isEmpty();
    return false;
}

void WallClient::placePrepared(ImageCache::Prepared prepared, QPointF center, const QString &wall,
                               std::optional<pb::Op> as)
{
    if (!prepared.error.isEmpty()) {
        setNotice(tr("%1 was not placed: %2").arg(prepared.name, prepared.error));
        return;
    }
    if (wall != m_wall || !ready())
        return; // the person left that wall meanwhile
    if (as) {
        as->mutable_image_add()->set_hash(prepared.hash.toStdString());
        const QString name = prepared.name;
        m_imageCache->upload(std::move(prepared), [this, wall, name, op = std::move(*as)](const QString &error) mutable {
            if (!error.isEmpty()) {
                setNotice(tr("%1 was not placed: %2").arg(name, error));
                return;
            }
            if (wall == m_wall && ready())
                pushAction(queue(std::move(op)));
        });
        return;
    }
    QSizeF size = prepared.decoded.levels.front().size();
    const double longer = std::max(size.width(), size.height());
    if (longer > kPlacedImageSide)
        size *= kPlacedImageSide / longer;
    const QRectF rect(center - QPointF(size.width(), size.height()) / 2, size);
    if (!isValidCoordinate(rect.left()) || !isValidCoordinate(rect.top())
        || !isValidCoordinate(rect.right()) || !isValidCoordinate(rect.bottom()))
        return;
    const QByteArray hash = prepared.hash;
    const QString name = prepared.name;
    m_imageCache->upload(std::move(prepared), [this, hash, rect, wall, name](const QString &error) {
        if (!error.isEmpty()) {
            setNotice(tr("%1 was not placed: %2").arg(name, error));
            return;
        }
        if (wall != m_wall || !ready())
            return;
        pb::Op op;
        auto *add = op.mutable_image_add();
        add->set_id(nextObjectId());
        add->set_hash(hash.toStdString());
        add->set_x(float(rect.x()));
        add->set_y(float(rect.y()));
        add->set_width(float(rect.width()));
        add->set_height(float(rect.height()));
        pushAction(queue(std::move(op)));
    });
}

void WallClient::deleteImage(const QString &keyText)
{
    const std::uint64_t key = keyText.toULongLong();
    if (!ready() || !isImageShown(key) || !mayChange(key))
        return;
    pb::Op op;
    op.mutable_image_delete()->set_image(key);
    pushAction(queue(std::move(op)));
    refreshImage(key);
    WallModel::Change change;
    change.images.push_back(key);
    emit wallChanged(change);
}

void WallClient::loadLocal(const pb::WallSnapshot &snapshot)
{
    m_model.load(snapshot);
    emit wallReset();
    emit seqChanged();
    refreshAllNotes();
    refreshAllImages();
}

// --- the wall's past ------------------------------------------------------------------------------

void WallClient::showChange(const WallModel::Change &change)
{
    if (!change.strokes.empty() || !change.images.empty())
        emit wallChanged(change);
    for (const std::uint64_t key : change.notes)
        refreshNote(key);
    for (const std::uint64_t key : change.shapes)
        emit shapeChanged(key);
    for (const std::uint64_t key : change.images)
        refreshImage(key);
}

void WallClient::requestOps(std::uint64_t afterSeq, std::uint32_t limit)
{
    pb::Envelope env;
    env.mutable_ops_request()->set_after_seq(afterSeq);
    env.mutable_ops_request()->set_limit(limit);
    m_historyAsks.push_back(true);
    sendEnvelope(env);
}

void WallClient::showPast(const WallHistory &history, std::uint64_t seq, const WallClient &live)
{
    Q_ASSERT(m_showsPast);
    if (m_userId != live.m_userId) {
        m_userId = live.m_userId; // whose notes and images are "mine"
        emit userIdChanged();
    }
    if (!m_locked) {
        m_locked = true; // read only: every tool pans (CanvasItem), notes and images stay put
        emit accessChanged();
    }
    const bool sameWall = m_url == live.m_url && m_wall == live.m_wall;
    if (!sameWall || m_imageToken != live.m_imageToken) {
        m_url = live.m_url;
        m_wall = live.m_wall;
        m_imageToken = live.m_imageToken;
        m_tlsFingerprint = live.m_tlsFingerprint;
        updateImageSource();
    }
    const std::uint64_t was = m_model.seq();
    // A state of this history already (the last step's), unless the wall changed.
    if (!sameWall)
        m_model = WallModel();
    history.seekInto(&m_model, seq);
    const WallModel::Change change = history.changedBetween(was, m_model.seq());
    if (!sameWall || change.cleared || was < history.firstSeq()) {
        emit wallReset();
        refreshAllNotes();
        refreshAllImages();
    } else {
        showChange(change); // only what differs between the two points is drawn again
    }
    emit seqChanged();
}

// --- security ------------------------------------------------------------------------------------

QString WallClient::ownerTokenKey() const
{
    const QString server = m_url.host() + QLatin1Char('_') + QString::number(m_url.port());
    return settingsPrefix() + QStringLiteral("owners/") + server + QLatin1Char('/')
         + QString::fromLatin1(QUrl::toPercentEncoding(m_wall));
}

QString WallClient::apiTokenKey() const
{
    const QString server = m_url.host() + QLatin1Char('_') + QString::number(m_url.port());
    return settingsPrefix() + QStringLiteral("apiTokens/") + server + QLatin1Char('/')
         + QString::fromLatin1(QUrl::toPercentEncoding(m_wall));
}

void WallClient::setApiToken(const QString &token)
{
    m_apiToken = token;
    if (!m_profile.isEmpty())
        QSettings().setValue(apiTokenKey(), token);
}

void WallClient::onSslErrors(const QList<QSslError> &errors)
{
    auto *socket = qobject_cast<QWebSocket *>(sender());
    if (!socket || socket != m_socket)
        return;
    // The server's own certificate: the one the errors are about (self-signed, unknown issuer).
    QSslCertificate certificate = socket->sslConfiguration().peerCertificate();
    for (const QSslError &e : errors) {
        if (certificate.isNull() && !e.certificate().isNull())
            certificate = e.certificate();
    }
    if (certificate.isNull()) {
        setErrorText(tr("The server at %1 sent no usable certificate; the connection is not safe.")
                         .arg(m_address));
        m_fatal = true;
        return;
    }
    QString pinned;
    const QString seen = TlsTrust::fingerprint(certificate);
    if (!m_expectedFingerprint.isEmpty()) {
        // Joined from an invitation that names the certificate: that one, and no other, from
        // the first connection on.
        if (seen != m_expectedFingerprint) {
            refuseUninvitedCertificate(seen);
            return; // not ignored: the handshake fails
        }
        TlsTrust::pin(m_url.host(), m_url.port(), seen);
        m_tlsFingerprint = seen;
        emit accessChanged();
        socket->ignoreSslErrors();
        return;
    }
    switch (TlsTrust::check(m_url.host(), m_url.port(), certificate, &pinned)) {
    case TlsTrust::Verdict::FirstUse:
        qCInfo(lcClient) << "trusting" << m_address << "on first use:" << seen;
        setNotice(tr("First connection to %1: its certificate (SHA-256 %2) is remembered. Compare "
                     "it with the host's if you can.")
                      .arg(m_address, seen));
        Q_FALLTHROUGH();
    case TlsTrust::Verdict::Known:
        m_tlsFingerprint = seen;
        emit accessChanged();
        socket->ignoreSslErrors();
        return;
    case TlsTrust::Verdict::Changed:
        qCWarning(lcClient) << "certificate of" << m_address << "changed from" << pinned << "to" << seen;
        m_fatal = true;
        setErrorText(tr("The certificate of %1 changed: it was SHA-256 %2 and is now %3. Someone may "
                        "be listening in, or the host made a new certificate. Ask the host which "
                        "one is right before you trust the new one.")
                         .arg(m_address, pinned, seen));
        return; // not ignored: the handshake fails
    }
}

QString WallClient::inviteLink(const QString &address) const
{
    // The certificate is named only when it was checked (pinned or from an invitation): a
    // certificate an authority vouches for needs no fingerprint.
    return makeInviteLink(address, m_wall, encrypted() ? m_tlsFingerprint : QString());
}

void WallClient::retryWithPassword(const QString &password)
{
    if (m_url.isEmpty())
        return;
    m_password = password;
    m_passwordRequired = false;
    emit accessChanged();
    m_wantConnected = true;
    m_fatal = false;
    m_attempt = 0;
    m_reconnectTimer.stop();
    setErrorText({});
    openSocket();
}

void WallClient::forgetPinnedCertificate()
{
    if (!m_url.isEmpty())
        TlsTrust::forget(m_url.host(), m_url.port());
}

void WallClient::onWallState(const pb::WallState &state)
{
    // No longer a moderator: no longer presenting.
    const auto stopPresenting = qScopeGuard([this] {
        if (m_presenting && !isModerator())
            setPresenting(false);
    });
    m_locked = state.locked();
    m_protectedWork = state.protected_work();
    m_hasPassword = state.has_password();
    for (const pb::Member &m : state.members()) {
        if (m.user_id() == m_userId)
            m_role = Role(std::clamp<int>(m.role(), Member, Owner));
        m_members->setRole(m.user_id(), std::clamp<int>(m.role(), Member, Owner));
    }
    emit accessChanged();
}

void WallClient::sendModerate(int action, std::uint64_t user, bool on)
{
    pb::Envelope env;
    env.mutable_moderate()->set_action(pb::Moderate::Action(action));
    env.mutable_moderate()->set_user_id(user);
    env.mutable_moderate()->set_on(on);
    sendEnvelope(env);
}

void WallClient::kick(const QString &userId)
{
    sendModerate(pb::Moderate::KICK, userId.toULongLong(), true);
}

void WallClient::setModerator(const QString &userId, bool on)
{
    sendModerate(pb::Moderate::SET_MODERATOR, userId.toULongLong(), on);
}

void WallClient::setWallLocked(bool on)
{
    sendModerate(pb::Moderate::LOCK, 0, on);
}

void WallClient::setWallProtected(bool on)
{
    sendModerate(pb::Moderate::PROTECT, 0, on);
}

void WallClient::deleteWall()
{
    sendModerate(pb::Moderate::DELETE_WALL, 0, true);
}

void WallClient::newApiToken()
{
    sendModerate(pb::Moderate::NEW_API_TOKEN, 0, true);
}

void WallClient::setWallPassword(const QString &password)
{
    pb::Envelope env;
    env.mutable_moderate()->set_action(pb::Moderate::SET_PASSWORD);
    env.mutable_moderate()->set_password(toWire(password));
    sendEnvelope(env);
}

} // namespace scrawl
