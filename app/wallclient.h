#pragma once

// One person's connection to one wall: Hello/Join, the wall model kept in step with the server,
// the outbox of changes not yet acknowledged, and the reconnect loop.
//
// Invariants (the protocol's exactly-once contract, DESIGN.md):
// - every op gets a client_op_id larger than any this user sent before, across app restarts;
// - an op stays in the outbox until the server's broadcast copy of it (same author and
//   client_op_id) comes back, or the server refuses it; after a reconnect the whole outbox is
//   sent again in order and the server answers stored ones with the stored op;
// - the wall model only ever applies sequenced ops from the server, so every client that has
//   applied 1..n shows the same wall; this client's own unacknowledged strokes, erases and note
//   changes are drawn on top from the outbox ("local" state) until their acknowledgement arrives.

#include "app/chatmodel.h"
#include "app/imagecache.h"
#include "app/imagesmodel.h"
#include "app/membersmodel.h"
#include "app/notesmodel.h"
#include "app/outboxstore.h"
#include "core/limits.h"
#include "core/wallhistory.h"
#include "core/wallmodel.h"

#include <QColor>
#include <QElapsedTimer>
#include <QFuture>
#include <QObject>
#include <QPointer>
#include <QAbstractSocket>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <array>
#include <deque>
#include <functional>
#include <span>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <unordered_set>

QT_BEGIN_NAMESPACE
class QSslError;
class QWebSocket;
QT_END_NAMESPACE

namespace scrawl {

class WallClient : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(QString displayName READ displayName WRITE setDisplayName NOTIFY displayNameChanged)
    Q_PROPERTY(QColor color READ color WRITE setColor NOTIFY colorChanged)
    // Where the resume token and id counters are remembered (QSettings group); empty: this
    // object's lifetime only (tests, two clients in one process).
    Q_PROPERTY(QString profile READ profile WRITE setProfile NOTIFY profileChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QString statusText READ statusText NOTIFY statusChanged)
    Q_PROPERTY(QString errorText READ errorText NOTIFY errorTextChanged)
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(int reconnectSeconds READ reconnectSeconds NOTIFY statusChanged)
    Q_PROPERTY(int pendingCount READ pendingCount NOTIFY pendingCountChanged)
    Q_PROPERTY(bool sendingSlowly READ sendingSlowly NOTIFY statusChanged)
    Q_PROPERTY(QString address READ address NOTIFY addressChanged)
    Q_PROPERTY(QString wall READ wall NOTIFY addressChanged)
    Q_PROPERTY(QString userId READ userIdText NOTIFY userIdChanged)
    Q_PROPERTY(bool ready READ ready NOTIFY userIdChanged)
    Q_PROPERTY(bool everJoined READ everJoined NOTIFY stateChanged)
    Q_PROPERTY(bool canUndo READ canUndo NOTIFY undoStateChanged)
    Q_PROPERTY(bool canRedo READ canRedo NOTIFY undoStateChanged)
    Q_PROPERTY(bool wallFull READ wallFull NOTIFY wallFullChanged)
    Q_PROPERTY(double headSeq READ headSeqValue NOTIFY seqChanged)
    // Security (docs/security.md): the role on this wall, what the owner sees, the lock, whether
    // the last refusal asked for a password, and the server's certificate fingerprint.
    Q_PROPERTY(Role role READ role NOTIFY accessChanged)
    Q_PROPERTY(bool isOwner READ isOwner NOTIFY accessChanged)
    Q_PROPERTY(bool isModerator READ isModerator NOTIFY accessChanged)
    // The laser pointer is on (the laser tool, button down): cursors go out with a trail for
    // everyone (pb::Cursor.laser), and laserMoved reports this person's own positions at once.
    Q_PROPERTY(bool laser READ laser WRITE setLaser NOTIFY laserChanged)
    // This person presents: everyone's view follows theirs (moderators and the owner).
    Q_PROPERTY(bool presenting READ presenting WRITE setPresenting NOTIFY presentingChanged)
    // Who presents now ("" for nobody): the member whose view everyone follows.
    Q_PROPERTY(QString presenterId READ presenterId NOTIFY presentingChanged)
    Q_PROPERTY(QString apiToken READ apiToken NOTIFY accessChanged)
    Q_PROPERTY(bool locked READ locked NOTIFY accessChanged)
    // The owner protected people's work: members change only their own.
    Q_PROPERTY(bool protectedWork READ protectedWork NOTIFY accessChanged)
    // What this person's role allows now, so that the app offers only that: drawing and changing
    // their own work (not on a locked wall, unless moderator), and changing someone else's.
    Q_PROPERTY(bool mayChangeWall READ mayChangeWall NOTIFY accessChanged)
    Q_PROPERTY(bool mayChangeOthersWork READ mayChangeOthersWork NOTIFY accessChanged)
    Q_PROPERTY(bool hasPassword READ hasPassword NOTIFY accessChanged)
    Q_PROPERTY(bool passwordRequired READ passwordRequired NOTIFY accessChanged)
    Q_PROPERTY(bool encrypted READ encrypted NOTIFY accessChanged)
    Q_PROPERTY(QString tlsFingerprint READ tlsFingerprint NOTIFY accessChanged)
    Q_PROPERTY(scrawl::ChatModel *chat READ chat CONSTANT)
    Q_PROPERTY(scrawl::MembersModel *members READ members CONSTANT)
    Q_PROPERTY(scrawl::NotesModel *notes READ notes CONSTANT)
    Q_PROPERTY(scrawl::ImagesModel *images READ images CONSTANT)
    // Images going up: whether any is, how far (0..1 of their bytes) and what ("photo.jpg").
    Q_PROPERTY(bool uploading READ uploading NOTIFY uploadChanged)
    Q_PROPERTY(double uploadProgress READ uploadProgress NOTIFY uploadChanged)
    Q_PROPERTY(QString uploadName READ uploadName NOTIFY uploadChanged)
    // This client shows a wall's past (the timeline's, see showPast): never connected, read only.
    Q_PROPERTY(bool showsPast READ showsPast CONSTANT)

public:
    enum State {
        Idle,         // not asked to connect
        Connecting,   // socket opening, Hello or Join under way
        Connected,    // joined: ops flow both ways
        Reconnecting, // waiting reconnectSeconds before the next attempt
        Failed,       // gave up (version mismatch, refused identity): errorText says why
    };
    Q_ENUM(State)
    // pb::Role's values.
    enum Role { Member = 0, Moderator = 1, Owner = 2 };
    Q_ENUM(Role)

    // A stroke of this client that the server has not fully acknowledged yet.
    struct LocalStroke
    {
        std::uint32_t id = 0;
        std::uint32_t color = 0;
        float width = 1;
        std::vector<FixedPoint> points;
        std::vector<std::uint8_t> pressure; // a pen's, one a point (toPressureByte); empty: a mouse
        bool pressured = false;
        size_t sentPoints = 0; // points already put into ops
        std::int64_t waitingSinceMs = 0; // when the oldest point not yet put into an op was drawn
        StrokePacer pacer;               // when the waiting points go (core/points.h)
        bool ended = false;
        std::uint64_t beginOpId = 0;
        std::uint64_t endOpId = 0;
        QRectF bounds() const;
    };

    explicit WallClient(QObject *parent = nullptr);
    ~WallClient() override;

    QString displayName() const { return m_displayName; }
    void setDisplayName(const QString &name);
    QColor color() const { return m_color; }
    void setColor(const QColor &color);
    QString profile() const { return m_profile; }
    void setProfile(const QString &profile);
    State state() const { return m_state; }
    QString statusText() const;
    QString errorText() const { return m_errorText; }
    QString notice() const { return m_notice; }
    int reconnectSeconds() const;
    // Changes a person made that the server has not acknowledged yet: a stroke counts once
    // however many point batches it was sent in.
    int pendingCount() const;
    // Connected, but the oldest unacknowledged change has waited kSlowSendMs or more. Until then
    // the status stays a plain "Connected": each stroke is acknowledged within a round trip, and
    // a status that flickered with every one of them would only distract.
    bool sendingSlowly() const;
    QString address() const { return m_address; }
    QString wall() const { return m_wall; }
    std::uint64_t userId() const { return m_userId; }
    QString userIdText() const { return QString::number(m_userId); }
    bool ready() const { return m_userId != 0; }
    bool everJoined() const { return m_everJoined; }
    bool canUndo() const { return !m_undo.empty(); }
    bool canRedo() const { return !m_redo.empty(); }
    bool wallFull() const { return m_wallFull; }
    double headSeqValue() const { return double(m_model.seq()); }
    Role role() const { return m_role; }
    bool isOwner() const { return m_role == Owner; }
    bool isModerator() const { return m_role != Member; }
    QString apiToken() const { return m_apiToken; }
    bool locked() const { return m_locked; }
    bool protectedWork() const { return m_protectedWork; }
    bool mayChangeWall() const { return !m_locked || isModerator(); }
    bool mayChangeOthersWork() const { return mayChangeWall() && (!m_protectedWork || isModerator()); }
    // May this person change (erase, move, edit, delete) the object with this key?
    bool mayChange(std::uint64_t key) const
    {
        return keyAuthor(key) == m_userId ? mayChangeWall() : mayChangeOthersWork();
    }
    bool hasPassword() const { return m_hasPassword; }
    bool passwordRequired() const { return m_passwordRequired; }
    bool encrypted() const { return m_url.scheme() == QLatin1String("wss"); }
    QString tlsFingerprint() const { return m_tlsFingerprint; }
    ChatModel *chat() const { return m_chat; }
    MembersModel *members() const { return m_members; }
    NotesModel *notes() const { return m_notes; }
    ImagesModel *images() const { return m_images; }
    ImageCache *imageCache() const { return m_imageCache; }
    bool uploading() const { return m_preparing > 0 || m_imageCache->uploading(); }
    double uploadProgress() const { return m_imageCache->uploadProgress(); }
    QString uploadName() const;

    // Timings, adjustable so tests need not wait for the real ones.
    void setPingInterval(int ms);
    void setDeadAfter(int ms) { m_deadAfterMs = ms; }
    void setBackoff(int firstMs, int maxMs);
    // The wait before reconnect attempt `attempt` (0 = first): exponential from firstMs, capped
    // at maxMs, spread by ±25 % (random01 in [0, 1)) and never below firstMs nor above maxMs.
    static int reconnectDelayMs(int attempt, int firstMs, int maxMs, double random01);
    // What the last scheduled reconnect waits, in ms (tests check the backoff through it).
    int lastReconnectDelayMs() const { return m_lastDelayMs; }
    // Tests speak an old protocol through this to see the version-mismatch message.
    void setProtocolVersion(std::uint32_t version) { m_protocolVersion = version; }
    // What the last Joined carried: a snapshot or only the ops after our last_seq.
    struct JoinInfo
    {
        bool snapshot = false;
        int ops = 0;
        std::uint64_t lastSeqSent = 0;
    };
    JoinInfo lastJoin() const { return m_lastJoin; }
    // The file this wall's outbox is kept in (empty without a profile).
    QString outboxPath() const { return m_store->path(); }
    // Writes the outbox file now (it is written on its own within OutboxStore::kSaveDelayMs).
    void saveOutbox() { m_store->flush(); }

    // A refused Join: whether to try again on its own (with backoff) or stop (Failed) until the
    // person acts, and the sentence shown when the server sent none. Every pb::ErrorCode has an
    // entry (tst_joinerrors fails for a code added to the proto without one: empty text).
    struct JoinRefusal
    {
        bool retry = false;
        QString text;
    };
    static JoinRefusal joinRefusal(int code, const QString &limit, const QString &wall);

    // "host", "host:port" or "ws://host:port/": the server's WebSocket URL, or an empty URL.
    static QUrl normalizeAddress(const QString &address, QString *error);

    // `password`: the wall's password; when this join creates the wall, it becomes its password.
    // Kept in memory only (the server remembers who was admitted).
    // `certificate`: the SHA-256 fingerprint an invite link named (InviteLink): over wss:// that
    // certificate is accepted, from the first connection, and any other refused.
    Q_INVOKABLE void connectToWall(const QString &address, const QString &wall,
                                   const QString &password = QString(), const QString &certificate = QString());
    // The scrawl:// link that invites to this wall at `address` (one of the host's addresses,
    // or this client's), with the certificate's fingerprint when the wall is encrypted.
    Q_INVOKABLE QString inviteLink(const QString &address) const;
    // Moderation (the server checks the role): remove someone for a while, make or unmake a
    // moderator, lock the wall for everyone below moderator, delete it.
    Q_INVOKABLE void kick(const QString &userId);
    Q_INVOKABLE void setModerator(const QString &userId, bool on);
    Q_INVOKABLE void setWallLocked(bool on);
    // Owner: on, only authors and moderators change someone's work; off, everyone may.
    Q_INVOKABLE void setWallProtected(bool on);
    Q_INVOKABLE void deleteWall();
    // Owner: a new HTTP API token; the old one stops working at once. The new one arrives in
    // apiToken (kept with the profile: the server keeps only its hash and never shows it again).
    Q_INVOKABLE void newApiToken();
    // Owner: the wall's password becomes `password`; empty removes it. People on the wall stay.
    Q_INVOKABLE void setWallPassword(const QString &password);
    // After a refusal that asked for the password: join again with this one.
    Q_INVOKABLE void retryWithPassword(const QString &password);
    // After a refused certificate change was confirmed out of band: trust the new one.
    Q_INVOKABLE void forgetPinnedCertificate();
    Q_INVOKABLE void disconnectFromWall();
    // Skips the reconnect countdown.
    Q_INVOKABLE void reconnectNow();

    // --- what a person does (QML forwards, the canvas calls) ---
    Q_INVOKABLE bool sendChat(const QString &text);
    Q_INVOKABLE void fetchOlderChat();
    Q_INVOKABLE void undo();
    Q_INVOKABLE void redo();
    Q_INVOKABLE void clearWall();
    Q_INVOKABLE QString addNote(double x, double y, const QString &text);
    Q_INVOKABLE void editNote(const QString &key, const QString &text);
    Q_INVOKABLE void moveNote(const QString &key, double x, double y);
    Q_INVOKABLE void deleteNote(const QString &key);
    // A note left empty when its editing ends goes. One just placed leaves nothing behind: its
    // placing and its removal both leave the undo stack, so undo does not bring back a blank.
    Q_INVOKABLE void dropEmptyNote(const QString &key);
    // Colour and size (wall px; 0 for the default) in one undoable op.
    Q_INVOKABLE void styleNote(const QString &key, const QColor &color, double width, double height);
    Q_INVOKABLE void clearNotice();
    Q_INVOKABLE void showNotice(const QString &text) { setNotice(text); }
    // Images: placed centred on (x, y) in wall px, at their own size up to kPlacedImageSide on
    // the longer side, once uploaded. Files: local files dropped or pasted (several cascade);
    // returns how many are being placed. Paste: the clipboard's picture or image files; its text,
    // when it holds only text, becomes a note. Returns false when it holds nothing to place.
    Q_INVOKABLE int placeImageFiles(const QList<QUrl> &files, double x, double y);
    Q_INVOKABLE bool pasteFromClipboard(double x, double y);
    void placeImage(const QImage &image, const QString &name, QPointF center);
    Q_INVOKABLE void deleteImage(const QString &key);
    // The image is on the wall as this person sees it: placed and not deleted by a change of
    // theirs waiting in the outbox.
    bool isImageShown(std::uint64_t key) const;
    // Shapes (kind: a pb::ShapeKind, 1 line .. 5 diamond) from one corner or end to the other,
    // and free text at (x, y) in wall px. Each returns the new shape's key ("" when it cannot be
    // made now). The outline or line takes `color` and `strokeWidth`; `fill` (transparent: none)
    // fills the rest.
    Q_INVOKABLE QString addShape(int kind, QPointF from, QPointF to, const QColor &color,
                                 double strokeWidth, const QColor &fill);
    Q_INVOKABLE QString addText(double x, double y, const QString &text, double fontSize,
                                const QColor &color);
    // What is typed, as it is typed (the caller debounces); one undoable op each call.
    Q_INVOKABLE void setShapeText(const QString &key, const QString &text);
    Q_INVOKABLE void deleteShape(const QString &key);
    // A text's editor reads it from here: {text, fontSize, color, x, y}; empty if it is gone.
    Q_INVOKABLE QVariantMap shapeInfo(const QString &key) const;
    // The shape whose editor is open is not drawn on the canvas meanwhile ("" for none).
    Q_INVOKABLE void setEditingShape(const QString &key);
    std::uint64_t editingShape() const { return m_editingShape; }
    bool editShape(std::uint64_t key, const WallModel::ShapeData &data);
    // A shape as this person sees it: the model's with their unacknowledged changes on top.
    bool effectiveShape(std::uint64_t key, WallModel::ShapeData *out) const;
    // Every shape shown, in draw order (the one being edited left out).
    std::vector<std::pair<std::uint64_t, WallModel::ShapeData>> shownShapes() const;
    // Moves and resizes (pb::Transform), one undoable op, split when it names more than
    // max_transform_objects. Returns the last op's client op id, 0 if nothing was sent.
    std::uint64_t transformObjects(pb::Transform t);
    // Ops naming `lists` (strokes, notes, images, shapes) in parts of at most
    // max_transform_objects, each its own undoable op: `start` fills an op's body, `add` names
    // one object in it. Returns the last op's client op id.
    std::uint64_t queueInParts(const std::array<std::span<const std::uint64_t>, 4> &lists,
                               const std::function<void(pb::Op &)> &start,
                               const std::function<void(pb::Op &, int list, std::uint64_t key)> &add);
    // Is the op with this client op id still waiting for the server?
    bool isOutstanding(std::uint64_t clientOpId) const;
    // Copies of objects of the wall, `offset` wall px away. Returns the new keys: strokes,
    // notes, images, shapes.
    struct Copies
    {
        std::vector<std::uint64_t> strokes, notes, images, shapes;
        bool operator==(const Copies &) const = default;
    };
    Copies duplicate(const Copies &objects, QPointF offset);
    // Brings objects to the front (or sends them to the back): pb::Arrange, split like a
    // transform. Returns the last op's client op id, 0 if nothing was sent.
    std::uint64_t arrange(const Copies &objects, bool toBack);
    // Objects as a clip for the clipboard (a snapshot of just them, wall coordinates), and a clip
    // placed on this wall with its middle at `at`: new objects, each an undoable add.
    pb::WallSnapshot clipOf(const Copies &objects) const;
    Copies place(const pb::WallSnapshot &clip, QPointF at);
    // The MIME type of a clip on the clipboard (copied in one Scrawl, pasted in any).
    static constexpr const char *kClipMimeType = "application/x-scrawl-clip";
    static QRectF clipBounds(const pb::WallSnapshot &clip);
    // Sent at most ~30 times a second, the latest position wins.
    Q_INVOKABLE void sendCursor(double x, double y);
    // The part of the wall this person sees (wall px): goes out with the cursor, so that others
    // can jump to it or follow it.
    Q_INVOKABLE void setView(const QRectF &view);
    // Where member `userId` looks (wall px; empty when not known).
    Q_INVOKABLE QRectF memberView(const QString &userId) const;
    // The name member `userId` goes by ("" when not on the wall).
    Q_INVOKABLE QString memberName(const QString &userId) const;
    bool laser() const { return m_laser; }
    void setLaser(bool on);
    bool presenting() const { return m_presenting; }
    void setPresenting(bool on);
    QString presenterId() const { return m_presenterId ? QString::number(m_presenterId) : QString(); }
    // What this person has picked (select tool), wall px; goes out with the cursor.
    void setSelectionBox(const QRectF &box);
    // While they drag it: the transform it is getting (null: none), with the cursor, so that
    // others see it move (pb::Cursor.preview). Left out above max_preview_objects.
    void setDragPreview(const pb::Transform *preview);
    // Others' drags in progress, by user id: what each names and where it is going.
    const std::map<std::uint64_t, pb::Transform> &dragPreviews() const { return m_dragPreviews; }

    // Strokes: points in wall pixels. Returns the local id of the stroke being drawn; it changes
    // when a stroke reaches limits::kMaxPointsPerStroke and is continued as a new one.
    // `pressure`: the pen's, 0..1, when the device reports it (< 0: it does not; a stroke begun
    // without it has none).
    std::uint32_t beginStroke(QPointF wallPos, QColor color, float width, double pressure = -1);
    std::uint32_t extendStroke(std::uint32_t id, QPointF wallPos, double pressure = -1);
    void endStroke(std::uint32_t id);
    // Escape while drawing: the stroke ends and is undone at once, for everyone it has reached,
    // and neither undo nor redo brings it back.
    void cancelStroke(std::uint32_t id);
    // Hides strokes at once (an eraser drag in progress); erase() then sends them.
    void hideLocally(const std::vector<std::uint64_t> &keys);
    void erase(const std::vector<std::uint64_t> &keys);

    // --- what the canvas reads ---
    const WallModel &model() const { return m_model; }
    const std::map<std::uint32_t, LocalStroke> &localStrokes() const { return m_local; }
    // A stroke of ours is being drawn (begun, not ended).
    bool drawing() const;
    bool isHiddenLocally(std::uint64_t key) const { return m_hidden.count(key) != 0; }
    // True when the model's stroke is drawn from the local copy instead (not yet acknowledged).
    bool isShadowedByLocal(std::uint64_t key) const;
    // Loads a wall without a server: for benchmarks and offline viewing of a snapshot.
    void loadLocal(const pb::WallSnapshot &snapshot);

    // --- the wall's past (app/timeline.h) ---
    // Asks the server for the wall's ops after `afterSeq` (an OpsPage comes back: opsPage).
    void requestOps(std::uint64_t afterSeq, std::uint32_t limit);
    // Makes this client (one made for it, never connected) show the wall `live` is on as it was
    // right after op `seq` of `history`, read only: its images come from where live's do. Only
    // what differs from what it showed before is drawn again.
    explicit WallClient(bool showsPast, QObject *parent = nullptr);
    bool showsPast() const { return m_showsPast; }
    void showPast(const WallHistory &history, std::uint64_t seq, const WallClient &live);
    // The next op of that past, applied as one from the server is (the canvas redraws what it
    // changes).
    void applyPast(const pb::Op &op) { onOp(op, false); }

signals:
    void displayNameChanged();
    void colorChanged();
    void profileChanged();
    void stateChanged();
    void statusChanged();
    void errorTextChanged();
    void noticeChanged();
    void pendingCountChanged();
    void addressChanged();
    void userIdChanged();
    void undoStateChanged();
    void wallFullChanged();
    void accessChanged();
    void seqChanged();
    void uploadChanged();
    void joined();
    // The whole wall changed (snapshot, clear, reset): redraw all.
    void wallReset();
    // One applied op changed these strokes / notes.
    void wallChanged(const scrawl::WallModel::Change &change);
    // Local drawing: a stroke grew from `firstNewPoint`, or its local copy went away (acknowledged
    // or refused); `area` is what it covered.
    void localStrokeChanged(std::uint32_t id, size_t firstNewPoint);
    void localStrokeRemoved(std::uint32_t id, QRectF area);
    void hiddenChanged(const std::vector<std::uint64_t> &keys);
    // A shape was added, changed or removed, here or by someone else (redraw where it was and
    // where it is).
    void shapeChanged(std::uint64_t key);
    void cursorMoved(std::uint64_t userId, QPointF wallPos);
    // A point of someone's laser trail (this person's own too, at once), wall px, with their
    // colour.
    void laserMoved(const QString &userId, double x, double y, const QColor &color);
    // Where someone looks changed (memberView).
    void memberViewChanged(const QString &userId);
    void laserChanged();
    void presentingChanged();
    // Someone's drag preview began, moved or ended (see dragPreviews()).
    void dragPreviewChanged(std::uint64_t userId);
    // Every envelope after it is handled; tests and measurements hook here.
    void opApplied(std::uint64_t seq);
    // An op was applied to the wall (live, or caught up on at a join), its seq filled in.
    void opLanded(const scrawl::pb::Op &op);
    // The answer to requestOps, or its refusal (too many pages a minute: ask again later).
    void opsPage(const scrawl::pb::OpsPage &page);
    void opsRefused();

private:
    struct OutItem
    {
        pb::Op op;
        bool sent = false;
        qint64 notBefore = 0; // ms on m_clock: held back after a retryable refusal
        qint64 queuedAt = 0;  // ms on m_clock
    };

    void setState(State state);
    void setErrorText(const QString &text);
    void setNotice(const QString &text);
    void openSocket();
    void onConnected();
    void onDisconnected();
    void onSocketError();
    QString describeSocketError(QAbstractSocket::SocketError error, const QString &detail) const;
    void onBinary(const QByteArray &bytes);
    void onWelcome(const pb::Welcome &welcome);
    void onJoined(const pb::Joined &joined);
    void onOp(const pb::Op &op, bool live);
    void onError(const pb::Error &error);
    void onJoinRefused(const pb::Error &error, const QString &message);
    void onHistory(const pb::History &history);
    // The server refused a history page over max_history_requests_per_minute.
    void onHistoryRefused();
    // Asks for the chat a returning join missed, before `before` and after `after` (Joined.more_chat).
    void fetchChatGap(std::uint64_t before, std::uint64_t after);
    void onWallState(const pb::WallState &state);
    void onSslErrors(const QList<QSslError> &errors);
    void sendModerate(int action, std::uint64_t user, bool on);
    QString ownerTokenKey() const;
    QString apiTokenKey() const;
    void setApiToken(const QString &token);
    void scheduleReconnect();
    void pingTick();
    void sendEnvelope(const pb::Envelope &env);

    std::uint64_t nextClientOpId();
    std::uint32_t nextObjectId();
    std::uint64_t queue(pb::Op op);
    void pumpOutbox();
    void acknowledge(std::deque<OutItem>::iterator it, const pb::Op *stored);
    void dropRefused(std::deque<OutItem>::iterator it, const QString &message);
    // Queues the waiting points of every stroke being drawn whose pacer says they are due (all
    // of them when `all`), and sets m_pointsTimer for the next that will be.
    void sendDueStrokePoints(bool all = false);
    // Queues StrokePoints ops of the stroke's unsent points until at most `keep` are left;
    // returns the client op id of the last one queued (0: none).
    std::uint64_t queuePointBatches(LocalStroke &ls, size_t keep);
    template <typename Message>
    void takePendingPoints(LocalStroke &ls, size_t max, Message *message);
    void pushAction(std::uint64_t clientOpId);
    // A new shape of this client's, undoable; returns its key.
    std::uint64_t queueShapeAdd(const WallModel::ShapeData &shape);
    void rebuildUndoFromModel();
    void refreshNote(std::uint64_t key);
    void refreshImage(std::uint64_t key);
    void refreshAllImages();
    void refreshImagesOf(const QByteArray &hash);
    // Uploads what was prepared and places it; `wall` is the wall it was meant for. `as`: the
    // ImageAdd to place it with (a pasted clip's image, with its id, place and size); else it
    // goes at `center`, at most kPlacedImageSide long.
    void placePrepared(ImageCache::Prepared prepared, QPointF center, const QString &wall,
                       std::optional<pb::Op> as = {});
    // Counts `preparing` as under way (uploading) and places its result when it is ready.
    void placeWhenPrepared(QPointF center, QFuture<ImageCache::Prepared> preparing,
                           std::optional<pb::Op> as = {});
    void updateImageSource();
    void refreshAllNotes();
    // What an applied op (or a step of the timeline) changed, to the views: the canvas, notes,
    // shapes and images.
    void showChange(const WallModel::Change &change);
    bool effectiveNote(std::uint64_t key, NotesModel::Note *out) const;
    QString settingsPrefix() const;
    void restoreOutbox();
    void loadIdentity();
    void saveIdentity();

    // identity and settings
    QString m_displayName;
    QColor m_color = QColor(0x33, 0x66, 0xcc);
    QString m_profile;
    QString m_address;
    QUrl m_url;
    QString m_wall;
    std::uint64_t m_userId = 0;
    std::string m_resumeToken;
    std::uint64_t m_lastClientOpId = 0;
    std::uint64_t m_lastSentOpId = 0; // on this connection; 0 before its first op
    std::uint32_t m_nextObjectId = 0;
    std::uint64_t m_editingShape = 0;
    QRectF m_selectionBox;
    std::optional<pb::Transform> m_dragPreview;
    std::map<std::uint64_t, pb::Transform> m_dragPreviews;
    void clearDragPreviews();
    std::uint32_t m_objectIdBlockEnd = 0;

    // access (security)
    QString m_password;
    Role m_role = Member;
    QString m_apiToken;
    bool m_locked = false;
    bool m_protectedWork = false;
    bool m_hasPassword = false;
    bool m_passwordRequired = false;
    QString m_tlsFingerprint;
    QString m_expectedFingerprint; // from an invite link: the only certificate accepted
    bool m_showsPast = false;
    // What was asked of the server's history bucket and is unanswered, oldest first: pages of
    // ops (true) or of chat (false). The server answers in order, so a refusal is the oldest's.
    std::deque<bool> m_historyAsks;
    bool answerHistoryAsk(); // pops the oldest: was it a page of ops?
    void refuseUninvitedCertificate(const QString &seen);

    // connection
    QPointer<QWebSocket> m_socket;
    State m_state = Idle;
    bool m_joined = false;
    bool m_everJoined = false;
    bool m_wantConnected = false;
    bool m_fatal = false;
    QString m_errorText;
    QString m_notice;
    QString m_lastSocketError;
    int m_attempt = 0;
    QTimer m_reconnectTimer;
    QTimer m_countdown;
    QTimer m_slowSendTimer; // fires when the oldest pending change becomes "slow"
    QElapsedTimer m_clock;
    qint64 m_reconnectAt = 0;
    int m_backoffFirstMs = 500;
    int m_backoffMaxMs = 10000;
    int m_lastDelayMs = 0;
    QTimer m_pingTimer;
    qint64 m_lastHeard = 0;
    qint64 m_lastPingAt = 0;
    int m_pingIntervalMs = limits::kPingIntervalMs;
    int m_deadAfterMs = limits::kPeerTimeoutMs;
    std::uint32_t m_protocolVersion = kProtocolVersion;
    JoinInfo m_lastJoin;

    // outbox, paced under the server's token bucket
    std::deque<OutItem> m_outbox;
    OutboxStore *m_store; // its copy on disk
    QTimer m_pumpTimer;
    double m_tokens;
    qint64 m_tokensAt = 0;

    // wall
    WallModel m_model;
    bool m_wallFull = false;
    std::map<std::uint32_t, LocalStroke> m_local;
    std::unordered_set<std::uint64_t> m_hidden;
    QTimer m_pointsTimer;
    std::vector<std::uint64_t> m_undo;
    // The note placed last and the op that placed it (dropEmptyNote).
    std::uint64_t m_lastNoteKey = 0;
    std::uint64_t m_lastNoteOp = 0;
    std::vector<std::uint64_t> m_redo;
    ChatModel *m_chat;
    // While the chat a returning join missed is being paged: the join's last seq; else 0.
    std::uint64_t m_chatGapAfter = 0;
    std::uint64_t m_chatGapBefore = 0; // the page being asked for ends below this seq
    MembersModel *m_members;
    NotesModel *m_notes;
    ImagesModel *m_images;
    ImageCache *m_imageCache;
    QByteArray m_imageToken;
    int m_preparing = 0; // images being read and checked before their upload

    // cursor coalescing
    QTimer m_cursorTimer;
    QPointF m_cursorPos;
    bool m_cursorDirty = false;
    QRectF m_view;
    bool m_laser = false;
    bool m_presenting = false;
    std::uint64_t m_presenterId = 0;
    QTimer m_presentTimer; // while presenting: the view again every second, for whoever joins
    void setPresenter(std::uint64_t userId);
};

} // namespace scrawl
