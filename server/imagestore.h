#pragma once

// Images of walls: the bytes of each image stored once by their SHA-256, in the server's SQLite
// file (in a cluster: in its Redis, which every server shares), and which wall may use which
// image. Uploads and downloads go over HTTP
// (server/httpfront.cpp, /api/walls/NAME/images); ops only reference an image by its hash.
//
// Every write and every read of image bytes runs on the store's own thread with its own SQLite
// connection: a 10 MB insert or read never holds up the event loop that sequences ops. Results
// come back on the thread of the `context` object given with the request; when that object is
// gone by then (the HTTP socket closed) the answer is dropped.

#include "server/redisconnection.h"

#include <QByteArray>
#include <QObject>
#include <QString>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

class QThread;

namespace scrawl {

// What an upload was refused for: an HTTP status, a sentence for a person and, for a limit,
// its name (core/limits.h).
struct ImageProblem
{
    int status = 0;
    QString message;
    QString limit;
};

struct ImageInfo
{
    QByteArray hash;  // SHA-256, 32 bytes
    QByteArray mime;  // image/png, image/jpeg, image/gif or image/webp
    int width = 0;
    int height = 0;
    qint64 bytes = 0;
    bool added = false; // false: this wall had this image already (nothing was written)
};

struct ImageBlob
{
    QByteArray mime;
    QByteArray bytes;
};

class ImageStore : public QObject
{
    Q_OBJECT

public:
    // `databaseFile`: the server's SQLite file (opened in WAL mode by the main storage). With
    // `shared` (a cluster), images are kept in that Redis instead, so that every server serves
    // every image and none is lost with the server it was uploaded through; image tokens are
    // then signed with a key the servers share (kept in Redis), so that any of them takes them.
    explicit ImageStore(QString databaseFile, std::optional<RedisAddress> shared = std::nullopt,
                        QObject *parent = nullptr);
    ~ImageStore() override;

    // Starts the thread, opens its connection and makes the tables. Blocks until done.
    bool open(QString *error);
    // Waits for what is queued, then ends the thread.
    void close();

    // The MIME type the magic bytes say, or nullptr when they are not PNG, JPEG, GIF or WebP.
    static const char *sniff(const QByteArray &bytes);
    // Hex of a hash as used in URLs and ETags; and back (empty when `hex` is not 64 hex digits).
    static QByteArray hashToHex(const QByteArray &hash) { return hash.toHex(); }
    static QByteArray hexToHash(QByteArrayView hex);

    // Checks `bytes` (size, type, dimensions before any decoding: a decompression bomb is
    // refused by its header) and the wall's image budget, stores it and links it to the wall,
    // committed before `done` runs.
    using StoreDone = std::function<void(const std::optional<ImageInfo> &, const ImageProblem &)>;
    void store(std::int64_t wallId, QByteArray bytes, QObject *context, StoreDone done);
    // The image `hash` if this wall has it.
    using FetchDone = std::function<void(const std::optional<ImageBlob> &)>;
    void fetch(std::int64_t wallId, QByteArray hash, QObject *context, FetchDone done);
    // Whether the wall has the image (an upload answered before this call is seen). On the
    // store's own thread (the event loop's), with a reading connection of its own.
    bool has(std::int64_t wallId, const QByteArray &hash);

    // Membership over HTTP. A member on a wall gets an image token in Joined: HMAC-SHA256 under
    // a key made when the server starts, of the wall id and the user id, with the user id in
    // clear in front ("USER.MAC", base64url). HTTP calls send it as a bearer token; the server
    // checks the MAC and then that this user is on the wall now (HttpFront). So the token is
    // worth nothing once its user leaves the wall or is kicked, or the server restarts, and the
    // server keeps nothing per token.
    QByteArray imageToken(std::int64_t wallId, std::uint64_t user) const;
    // The user a token was made for on this wall, if its MAC is right.
    std::optional<std::uint64_t> tokenUser(std::int64_t wallId, const QByteArray &token) const;

private:
    class Worker;
    // The key tokens are signed with (in a cluster, read from Redis on first use).
    const QByteArray &sharedTokenKey() const;

    QString m_file;
    std::optional<RedisAddress> m_shared;
    mutable QByteArray m_tokenKey;
    std::unique_ptr<RedisSyncConnection> m_sharedReads; // has() and the key, on this thread
    QString m_readConnection;
    QThread *m_thread = nullptr;
    Worker *m_worker = nullptr;
};

} // namespace scrawl
