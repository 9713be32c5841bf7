#pragma once

// The shared op log of a cluster of scrawl-servers, in Redis: one order per wall, gap-free and
// exactly once, decided in Redis by one function call per op.
//
// Each wall has, under one hash tag (so that a Redis Cluster keeps them in one slot):
//   scrawl:{w:HEX}:meta  a hash: the wall's epoch, its last seq, its id, and per author the
//                        highest client op id appended and the seq it got;
//   scrawl:{w:HEX}:snap  a hash: the latest snapshot (epoch, seq, data), and the one the
//                        timeline replays from (base_seq, base_data) with the next such
//                        (cand_seq, cand_data): see scrawl_snapshot;
//   scrawl:{w:HEX}:chat  a stream of the wall's chat messages (entry id = seq), outliving the
//                        trimmed log;
//   scrawl:{w:HEX}:log   a stream whose entry ids are the seqs (<seq>-0), each entry the op
//                        without its seq (field op), its author (a) and client op id (c);
//   scrawl:{w:HEX}:ops   the channel every appended op is published on, as
//                        "<seq>:<epoch>:<op bytes>";
//   scrawl:{w:HEX}:live  the channel of ephemeral traffic, as "<server id><payload>" (the id
//                        is kServerIdBytes long).
// HEX is the wall's name in hexadecimal (a name may hold braces, which would break the tag).
// Shared by all walls: scrawl:walls (name -> id), scrawl:wall-names (id -> name),
// scrawl:wall-ids, scrawl:users (token hash -> id), scrawl:user-ids.
//
// The epoch is made when the wall's meta is first made. If Redis loses its data and the wall is
// made again, it gets a new epoch: an append that names the old one is refused (EpochChanged),
// so ops are never numbered afresh on top of a history that is gone; the server resynchronises
// its clients instead. The function library (`scrawl`) is loaded with FUNCTION LOAD REPLACE
// whenever the command connection becomes ready: Redis 7 keeps functions in its AOF and RDB,
// and loading it again makes a server's version the one in use.

#include "server/redisconnection.h"

#include <QByteArray>
#include <QObject>
#include <QString>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace scrawl {

class RedisWallLog : public QObject
{
    Q_OBJECT

public:
    static constexpr int kServerIdBytes = 8;
    struct Head
    {
        QByteArray epoch;
        std::uint64_t seq = 0;
    };
    struct Appended
    {
        enum class Status {
            Ok,            // appended at seq
            Duplicate,     // the author's client op id was appended before; seq is the seq of
                           // the author's newest op, clientOpId the highest appended
            EpochChanged,  // the wall's history is not the one the caller knows: epoch is the
                           // wall's now (empty when it does not exist)
            Failed,        // error says why: Redis refused it (out of memory), or the
                           // connection failed (maybe appended: see connectionLost)
        };
        Status status = Status::Failed;
        QByteArray epoch;
        std::uint64_t seq = 0;
        std::uint64_t clientOpId = 0;
        QString error;
        // Failed on the connection: it may have been appended before it failed. Appending it
        // again with the same client op id settles which (Duplicate if it was).
        bool connectionLost = false;
    };
    struct Entry
    {
        std::uint64_t seq = 0;
        QByteArray op;
    };

    explicit RedisWallLog(RedisAddress address, QObject *parent = nullptr);
    RedisWallLog(RedisAddress address, RedisConnection::Options options, QObject *parent = nullptr);

    // Connects (and keeps connecting) both connections.
    void start();
    void stop();
    // Both connections are up and the function library is loaded.
    bool isReady() const { return m_ready; }
    QString problem() const;

    struct Opened
    {
        Head head;                  // epoch empty: no such wall (and not made)
        std::int64_t wallId = 0;    // the wall's number in this cluster
        std::uint64_t snapshotSeq = 0;
        QByteArray snapshot;        // the latest snapshot of this epoch (empty: none yet)
    };
    struct SnapshotSaved
    {
        enum class Status { Ok, Older, EpochChanged, Failed };
        Status status = Status::Failed;
        std::uint64_t keptSeq = 0;  // Older: the seq of the snapshot kept
        QByteArray epoch;           // EpochChanged: the wall's now
        QString error;
    };

    // The wall's head and latest snapshot, in one step; when it does not exist it is made
    // (with a new epoch) if `create`, else Opened::head.epoch is empty.
    void open(const QString &wall, bool create, std::function<void(std::optional<Opened>, QString error)> done);
    // Keeps `bytes` as the wall's snapshot at `seq` (of history `epoch`) and trims the log behind
    // it, keeping its last `keepOps` ops. A snapshot older than the one kept is not stored.
    void saveSnapshot(const QString &wall, const QByteArray &epoch, std::uint64_t seq, const QByteArray &bytes,
                      std::uint64_t keepOps, std::function<void(SnapshotSaved)> done = {});
    // A person's id in this cluster by the hash of their resume token; made if `create` (else
    // 0 when unknown).
    void user(const QByteArray &tokenHash, bool create, std::function<void(std::optional<std::uint64_t>, QString error)> done);
    // Appends `op` (serialised without its seq) by `author` with `clientOpId` (0: no
    // exactly-once check) to the wall whose history is `epoch`, and publishes it. A chat message
    // (keepChat > 0) is also kept in the wall's chat stream, which keeps about keepChat of them.
    void append(const QString &wall, const QByteArray &epoch, std::uint64_t author,
                std::uint64_t clientOpId, const QByteArray &op, std::function<void(Appended)> done,
                int keepChat = 0);
    // Deletes the wall `wallId` of history `epoch`: publishes `entry` as its last (to every
    // server following it) and removes its keys, its access, roles, kicks and image links, and
    // its names, in one step. Answers as append() does (Ok with the entry's seq).
    void deleteWall(const QString &wall, const QByteArray &epoch, std::int64_t wallId, const QByteArray &entry,
                    std::function<void(Appended)> done);
    // Entries with seq > afterSeq, oldest first, at most `limit`; and the wall's head with them
    // (read in one transaction, so the head is never behind the entries).
    void read(const QString &wall, std::uint64_t afterSeq, int limit,
              std::function<void(std::optional<Head>, std::vector<Entry>, QString error)> done);
    // The entry of `author`'s op `clientOpId` among the log's last `scan` entries (nothing, with
    // an empty error, when it is not there).
    void find(const QString &wall, std::uint64_t author, std::uint64_t clientOpId, int scan,
              std::function<void(std::optional<Entry>, QString error)> done);
    // Drops the entries with seq <= upTo (a snapshot shows them).
    void trim(const QString &wall, std::uint64_t upTo, std::function<void(bool ok, QString error)> done = {});
    // `listener` gets every op appended to the wall from now on, by any server, as Redis
    // publishes them (Pub/Sub: one lost with a broken connection is not sent again; read()
    // fills such gaps). `subscribed` runs once nothing appended after it can be missed. One
    // listener a wall (a server follows each wall once: WallLogFollower); watching again
    // replaces it.
    using Listener = std::function<void(const QByteArray &epoch, std::uint64_t seq, const QByteArray &op)>;
    void watch(const QString &wall, Listener listener, std::function<void()> subscribed = {});
    void unwatch(const QString &wall);

    // Ephemeral traffic (cursors, presence, selection previews): sent to the other servers that
    // watch the wall's live channel, never stored; lost if a connection is down meanwhile.
    void publishLive(const QString &wall, const QByteArray &payload);
    // `listener` gets what other servers publish on the wall's live channel (not this one's
    // own), with the sender's serverId().
    using LiveListener = std::function<void(const QByteArray &server, const QByteArray &payload)>;
    void watchLive(const QString &wall, LiveListener listener);
    void unwatchLive(const QString &wall);
    // This server's name on the live channels: random, made at start.
    const QByteArray &serverId() const { return m_serverId; }

    static QByteArray keyPrefix(const QString &wall);
    // The Lua library of Scrawl's functions (loaded with FUNCTION LOAD REPLACE).
    static QByteArray functionLibrary();
    // A new history's name: time and randomness, so that two servers making a lost wall again
    // at once still differ.
    static QByteArray newEpoch();
    // The mark a deleted wall leaves for its epoch (scrawl_delete), kept a day: an append refused
    // for that epoch is about a deleted wall, not one Redis lost.
    static QByteArray deletedKey(const QByteArray &epoch);

    // Test hooks.
    RedisConnection &commands() { return *m_commands; }
    RedisConnection &subscriber() { return *m_subscriber; }

signals:
    // Both connections up and the library loaded (true), or one of them lost (false).
    void readyChanged(bool ready);

private:
    void updateReady();
    void loadLibrary();

    RedisConnection *m_commands = nullptr;
    RedisConnection *m_subscriber = nullptr;
    bool m_libraryLoaded = false;
    bool m_ready = false;
    QString m_libraryProblem;
    std::map<QByteArray, Listener> m_watched; // by channel
    std::map<QByteArray, LiveListener> m_live; // by channel
    QByteArray m_serverId;
};

} // namespace scrawl
