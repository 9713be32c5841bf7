#pragma once

// The wall server: accepts WebSocket and HTTP connections on one port, keeps the walls that are
// in use in memory, and runs what happens on them: joins, moderation, the checks an op must pass
// and the fan-out of each op that landed to the wall's members. Where ops get their order and are
// kept is the wall log's (server/walllog.h): the SQLite file of one server (SqliteWallLog) or
// the Redis of a cluster (Cluster).

#include "core/limits.h"
#include "core/protocol.h"
#include "core/wallmodel.h"
#include "server/security.h"
#include "server/storage.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QSslConfiguration>
#include <QStringList>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace scrawl {

class Cluster;
class HttpFront;
class WallLog;
class ImageStore;
class Session;
class WallServer;
class WsConnection;
class WsHub;

struct ServerOptions
{
    QHostAddress host = QHostAddress::Any;
    quint16 port = 7777; // 0 picks a free port
    QString dataDir;     // empty: the user's data location
    int pingIntervalMs = limits::kPingIntervalMs;
    int peerTimeoutMs = limits::kPeerTimeoutMs;
    int helloTimeoutMs = limits::kHelloTimeoutMs;
    // How often an unavailable wall is reloaded from storage (WallServer::markUnavailable).
    int storageRetryMs = limits::kStorageRetryMs;
    // A snapshot is stored after this many new ops (and as many bytes of them as the last one
    // weighed: WallServer::storeSnapshotIfDue), so that start-up never replays much.
    int snapshotEveryOps = 10000;
    // In a cluster: the ops the wall's log keeps behind its latest snapshot (limit
    // cluster_log_keep_ops). Only tests change it, to see the log trimmed after a few ops.
    int clusterLogKeepOps = limits::kClusterLogKeepOps;
    // TLS: PEM certificate (chain) and private key files. Both set: wss:// and HTTPS only.
    QString tlsCertFile;
    QString tlsKeyFile;
    // PBKDF2 iterations for new wall passwords (tests lower it to stay fast).
    int passwordIterations = limits::kPasswordIterations;
    AddressGuard::Limits addressLimits;
    // Ops per second per client and the burst of them let through (limit max_ops_per_second).
    int maxOpsPerSecond = limits::kMaxOpsPerSecond;
    int opsBurst = limits::kOpsBurst;
    int kickBanMs = limits::kKickBanMs;
    // Reverse proxies whose X-Forwarded-For is believed: a WebSocket from one of these counts
    // as coming from the last address in that header (joins, password lockout). Empty: none.
    QList<QHostAddress> trustedProxies;
    // Size limits of every wall (core/limits.h). Only tests change them, to fill a wall fast.
    limits::WallCapacity wallCapacity;
    // A wall nobody has been on for this long is unloaded from memory (tests shorten it).
    int wallIdleUnloadMs = limits::kWallIdleUnloadMs;
    // Bytes of sequenced ops waiting for their commit above which new ops are refused
    // (limits::kMaxUncommittedBytes; tests lower it).
    std::uint64_t maxUncommittedBytes = limits::kMaxUncommittedBytes;
    // redis://HOST:PORT[/DB]: serve the walls of a cluster whose order and directory are in that
    // Redis (server/cluster.h). Empty: one server with its SQLite file.
    QString redisUrl;
};

// One wall in memory: its state, the people on it, and the exactly-once bookkeeping.
class Room
{
public:
    QString name;
    std::int64_t wallId = 0;
    WallModel model;
    std::vector<Session *> members;
    // Highest client op id sequenced per author: an op at or below it is a resend.
    std::unordered_map<std::uint64_t, std::uint64_t> lastClientOp;
    std::uint64_t storedSnapshotSeq = 0;
    qsizetype storedSnapshotBytes = 0;
    std::uint64_t opBytesSinceSnapshot = 0; // serialised ops sequenced after storedSnapshotSeq
    // The newest seq committed and broadcast (model.seq() runs ahead of it while commits are
    // in flight).
    std::uint64_t committedSeq = 0;
    // Ops sequenced on this wall whose commit has not landed yet (queued or in flight).
    std::uint64_t uncommittedOps = 0;
    // Which in-memory state ops were sequenced on: a new number at every reload (and when the
    // wall is marked unavailable), so that ops sequenced on a state storage refused are
    // refused with it (Storage::appendOpsAsync).
    std::uint64_t epoch = 0;
    // In a cluster: the wall's history in Redis (RedisWallLog's epoch), and the seqs after
    // voidsKnownAfter (the snapshot the wall was loaded from) that landed as voids
    // (Cluster::land): ops read back from the log after it are sent as they landed.
    QByteArray logEpoch;
    std::set<std::uint64_t> voided;
    std::uint64_t voidsKnownAfter = 0;
    // The serialised snapshot at snapshotCacheSeq; rebuilt on demand when the wall moved on.
    QByteArray snapshotCache;
    std::uint64_t snapshotCacheSeq = ~std::uint64_t(0);
    // A snapshot being stored on the commit thread: its parts, then (once every op it shows
    // is committed) the head that makes it the wall's (SqliteWallLog::storeSnapshotIfDue).
    struct SnapshotWrite
    {
        std::uint64_t id = 0; // which write a storage callback is about
        QByteArray bytes;
        std::uint64_t seq = 0;
        std::uint64_t opBytesAtStart = 0;
        bool partsStored = false;
        bool headQueued = false;
        std::shared_ptr<std::atomic<bool>> cancel; // set: storage stops writing its parts
        qint64 buildNs = 0;
        QElapsedTimer sinceStart;
    };
    std::optional<SnapshotWrite> snapshotWrite;
    // Lets go of the snapshot being stored (the wall moved on under it: reloaded, unavailable,
    // or a newer snapshot replaces it).
    void dropSnapshotWrite()
    {
        if (snapshotWrite && snapshotWrite->cancel)
            *snapshotWrite->cancel = true;
        snapshotWrite.reset();
    }
    // Storage refused a commit and then could not be read back: the wall holds nothing in
    // memory (what it held may include ops that were never stored) and refuses joins, ops and
    // history until a reload succeeds. Members stay connected and were told.
    bool unavailable = false;
    QElapsedTimer lastReloadAttempt;
    // Access: owner, password, lock, API token hash; roles by user id (absent: member); users
    // who gave the right password since the wall was loaded; kicked users and the addresses they
    // were on, and until when (ms since epoch; stored, so a restart keeps them).
    WallAccess access;
    std::map<std::uint64_t, pb::Role> roles;
    std::set<std::uint64_t> admitted;
    std::map<std::uint64_t, qint64> kickedUntil;
    std::map<QString, qint64> kickedAddresses; // key: WallServer::kickAddressKey

    // Since the wall was last looked up or left (WallServer::unloadIdleRooms).
    QElapsedTimer idle;

    const QByteArray &snapshotBytes();
    pb::Role roleOf(std::uint64_t user) const;
};

class WallServer : public QObject
{
    Q_OBJECT

public:
    explicit WallServer(ServerOptions options, QObject *parent = nullptr);
    ~WallServer() override;

    // Opens storage and starts listening. On failure returns false with a sentence in *error.
    bool start(QString *error);
    // Commits what is pending, stores snapshots, closes every connection and storage.
    void stop();

    quint16 port() const { return m_port; }
    QUrl url() const; // ws://host:port, or wss:// with TLS
    bool tls() const { return m_tls.has_value(); }
    QString dataDir() const { return m_options.dataDir; }
    const ServerOptions &options() const { return m_options; }
    int sessionCount() const { return int(m_sessions.size()); }
    // The wall's last sequenced op (loading the wall): it may still be on its way to storage;
    // what is committed is Room::committedSeq.
    std::uint64_t headSeq(const QString &wall);

    // When storage cannot keep a new identity (disk full, read-only database) a person still gets
    // in, to read, under an id storage never hands out (stored ids are SQLite row ids, far below;
    // object keys carry the author in 32 bits, so the range sits just under 2^32).
    static constexpr std::uint64_t kSessionOnlyUserBase = 0xF0000000u;
    static bool isSessionOnlyUser(std::uint64_t id) { return id >= kSessionOnlyUserBase; }
    std::uint64_t newSessionOnlyUser() { return kSessionOnlyUserBase + (++m_sessionOnlyUsers % 0x0FFFFFFFu); }

    // --- used by Session and HttpFront ---
    // The SQLite file: one server's walls, or a cluster server's image cache and nothing else.
    Storage &storage() { return *m_storage; }
    // Where the walls' ops get their order and are kept (server/walllog.h).
    WallLog &log() { return *m_log; }
    // Who and what the walls are: the storage's own, or in a cluster the one its servers share.
    Directory &directory() { return *m_directory; }
    // Image bytes and the tokens that let members reach them over HTTP (server/imagestore.h).
    ImageStore &images() { return *m_images; }
    // The wall's stored chat (SQLite's, or in a cluster Redis's): seq < beforeSeq (0: the
    // newest), newest first; or seq > afterSeq, oldest first; at most `limit`.
    bool chatBefore(const QString &wall, std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                    std::vector<pb::Op> *out);
    bool chatAfter(const QString &wall, std::int64_t wallId, std::uint64_t afterSeq, int limit,
                   std::vector<pb::Op> *out);
    // Whether `user` is on the wall now: here, or in a cluster on any server (`room` may be
    // null when the wall is not loaded here).
    bool isOnWall(const QString &wall, const Room *room, std::uint64_t user) const;
    bool storageHealthy() const;
    // In a cluster: the cluster (nullptr for one server with its SQLite file).
    Cluster *cluster() const { return m_cluster; }
    // Walls that storage could not reload after a failed commit (names, sorted).
    QStringList unavailableWalls() const;
    // The wall by name, loaded into memory; created when `create` is true and it does not exist.
    Room *room(const QString &name, bool create, Problem *problem);
    std::vector<Room *> loadedRooms() const;
    // The wall by name if it is in memory, else nullptr (never loads it).
    Room *loadedRoom(const QString &name) const;

    void join(Session *session, const pb::Join &join);
    void moderate(Session *session, const pb::Moderate &request);
    void leave(Session *session);
    // Validates, sequences and queues `op` from `session` (nullptr for the HTTP API with
    // author 0). Returns the problem if refused. The op is broadcast after the next commit.
    std::optional<Problem> submit(Room *room, Session *session, pb::Op op);
    // Checks a cursor and relays it within the sender's cursor rate (Session::admitCursor).
    void relayCursor(Session *session, pb::Cursor cursor);
    // Sends it to the sender's wall now, stamped with the sender's id.
    void broadcastCursor(Session *session, pb::Cursor cursor);
    void sendHistory(Session *session, const pb::HistoryRequest &request);
    // A page of the wall's past ops, as they landed, for its timeline.
    void sendOps(Session *session, const pb::OpsRequest &request);
    // Commits queued ops now and waits (blocking this thread) until every commit in flight has
    // landed and been broadcast. Returns false if storage refused any of them. For shutdown,
    // deleting a wall and tests; joins, resends and the HTTP API wait without blocking
    // (whenStored).
    bool flush();
    // Runs `run` on this thread once every op sequenced on `room` so far is stored and
    // broadcast, without blocking (at once if nothing is in flight); `stored` is false when a
    // commit failed meanwhile and the wall was reloaded or marked unavailable.
    void whenStored(Room *room, std::function<void(bool stored)> run);
    // An op of the HTTP API (author 0), answered once it is stored and on the wall: with the op
    // as it landed (its seq set), or the problem. Either way, on this thread, later.
    void submitAndWait(Room *room, pb::Op op, std::function<void(std::optional<pb::Op>, std::optional<Problem>)> done);

    // Checks the API token of an HTTP request for `room` against its stored hash (constant time).
    bool apiTokenMatches(const Room *room, const QByteArray &token) const;
    bool apiTokenMatches(const WallAccess &access, const QByteArray &token) const;
    // How a kick remembers an address: as the per-address limits count it (AddressGuard::key:
    // IPv4, an IPv4-mapped IPv6 address as IPv4, other IPv6 by its /64).
    static QString kickAddressKey(const QHostAddress &address);
    // Unloads the walls nobody has been on for wallIdleUnloadMs (run by a timer; public for
    // tests). Returns how many it unloaded.
    int unloadIdleRooms();
    AddressGuard &addressGuard() { return *m_guard; }

    // A WebSocket connection from `peer` (HttpFront answered its upgrade).
    void adopt(WsConnection *connection, const QHostAddress &peer);
    void forget(Session *session);
    // What every WebSocket connection of this server shares: corked writes, backpressure.
    WsHub *wsHub() const { return m_hub; }

    // --- used by the wall logs (server/walllog.h) ---
    // An op landed at its seq (stored, its place final): its members get it, its author's
    // sessions taking it as the ack.
    void landed(Room *room, pb::Op op);
    // What decides whether an op goes on the wall at its turn, the same on every server: its
    // shape and the wall's limits, then its author's role (author 0, the HTTP API, has every
    // right).
    std::optional<Problem> checkAtTurn(const Room *room, std::uint64_t author, const pb::Op &op) const;
    // An image op names bytes uploaded over HTTP before it (answered once stored): so an
    // acknowledged image is always stored, and a hash alone gives nobody another wall's image.
    std::optional<Problem> checkUploaded(const Room *room, const pb::Op &op);
    // Every field the proto calls stamped, set by the server whatever the client put in it.
    static void stamp(Session *session, pb::Op *op);
    // After a failed commit whose reload failed too: drop the wall's memory and refuse it.
    void markUnavailable(Room *room);
    // `changedHere`: in a cluster, the other servers are told to read the access record again.
    void broadcastWallState(Room *room, bool changedHere = true);
    // Reads the wall's access record, roles and kicks again (another server changed them), ends
    // the sessions of people removed meanwhile and tells the members.
    void reloadAccess(Room *room);
    // The wall was deleted: its members are told and it is gone from memory.
    void forgetDeletedRoom(Room *room);

signals:
    void opCommitted(const QString &wall, std::uint64_t seq);

private:
    std::optional<Problem> answerResend(Room *room, Session *session, const pb::Op &op);
    // The join answer at `head`, which is committed: snapshot is the wall's at head.
    void answerJoin(Session *session, Room *room, const pb::Join &join, const QByteArray &ownerToken,
                    const QByteArray &apiToken, std::uint64_t head, const QByteArray &snapshot);
    void checkLiveness();
    // Reloads an unavailable wall; `onUse`: at most once per kStorageRetryOnUseMs. True when the
    // wall is available (again).
    bool recover(Room *room, bool onUse);
    void retryUnavailable();
    static Problem unavailableProblem(const Room *room);
    bool loadAccess(Room *room);
    void createAndJoin(Session *session, const QString &name, const QString &password,
                       const pb::Join &join);
    // False (and the joiner refused) when the wall is full; otherwise leaves the joiner's
    // other wall.
    bool makeRoomFor(Session *session, Room *room);
    void continueJoin(Session *session, Room *room, const pb::Join &join, const QString &password);
    // ownerToken and apiToken: shown to the creator of the wall, once (empty otherwise).
    void finishJoin(Session *session, Room *room, const pb::Join &join, const QByteArray &ownerToken,
                    const QByteArray &apiToken = {});
    // Runs PBKDF2 on the thread pool, then `done` on this thread if `session` is still there.
    // A `guess` (checking a password, not setting one) counts against the address's
    // wrong-password limit from its start (AddressGuard::beginPasswordCheck); a check over the
    // address's limits is refused at once and `done` never runs.
    void deriveThen(Session *session, const QString &password, const QByteArray &salt,
                    int iterations, bool guess, std::function<void(QByteArray)> done);
    std::optional<Problem> checkPermission(const Room *room, std::uint64_t author,
                                           const pb::Op &op) const;
    void kick(Session *by, Room *room, std::uint64_t target);
    void setPassword(Session *by, Room *room, const std::string &password);
    void newApiToken(Session *by, Room *room);
    void deleteRoom(Room *room, Session *by);

    ServerOptions m_options;
    std::optional<QSslConfiguration> m_tls;
    // Shared with accepted sockets, which may outlive the server by a deleteLater.
    std::shared_ptr<AddressGuard> m_guard;
    std::unique_ptr<Storage> m_storage;
    Directory *m_directory = nullptr; // m_storage's own, or in a cluster m_sharedDirectory
    std::unique_ptr<Directory> m_sharedDirectory;
    std::unique_ptr<WallLog> m_log;
    Cluster *m_cluster = nullptr; // m_log, in a cluster
    std::unique_ptr<ImageStore> m_images;
    HttpFront *m_http = nullptr;
    quint16 m_port = 0;
    std::map<QString, std::unique_ptr<Room>> m_rooms;
    std::vector<Session *> m_sessions;
    WsHub *m_hub = nullptr;
    std::uint64_t m_sessionOnlyUsers = 0;
    QTimer m_liveness;
    QTimer m_unloadTimer;
    QTimer m_storageRetry;
};

} // namespace scrawl
