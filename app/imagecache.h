#pragma once

// Images on the wall as the app has them. The wall's ops name an image by the SHA-256 of its
// bytes; the bytes live on the server (server/imagestore.h) and come over HTTP on the server's
// own port, with the image token of the last Joined. Here they are fetched once, kept on disk
// (checked against their hash before use, so a damaged file is fetched again), decoded on a
// worker thread with their dimensions checked first, and kept in memory as a few halvings so
// that a zoomed-out wall draws small copies. Decoded images past kDecodedBudgetBytes are let go,
// least recently drawn first, and read back from disk when they come into view again.
//
// Uploads go the other way: a dropped file or a pasted picture is prepared off the GUI thread
// (kept as it is when it is a PNG, JPEG, GIF or WebP within the limits, else re-encoded smaller),
// sent with a progress figure, and decoded into this cache at once, so the person who placed it
// never waits for it to come back.

#include <QByteArray>
#include <QHash>
#include <QImage>
#include <QObject>
#include <QPointer>
#include <QSize>
#include <QString>
#include <QUrl>

#include <functional>
#include <vector>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QNetworkReply;
QT_END_NAMESPACE

namespace scrawl {

class ImageCache : public QObject
{
    Q_OBJECT

public:
    // Decoded copies kept in memory at most (all levels of all images).
    static constexpr qint64 kDecodedBudgetBytes = 768LL * 1024 * 1024;
    // The longer side an image is decoded to at most: more than any screen shows of it.
    static constexpr int kMaxDecodedSide = 4096;
    // The smallest halving kept.
    static constexpr int kMinLevelSide = 48;
    // A download that failed for a reason that may pass (no answer, 5xx) is tried again this
    // many times, 1, 2, 4 s apart, with the placeholder still loading; then it says why.
    static constexpr int kDownloadAttempts = 4;

    enum class State { Missing, Loading, Ready, Failed };
    struct Status
    {
        State state = State::Missing;
        double progress = 0; // 0..1 while Loading (0 when the size is not known yet)
        QString error;       // Failed: what happened, for a person
    };

    // Decoded images: the full picture first, then halvings down to kMinLevelSide.
    struct Decoded
    {
        std::vector<QImage> levels;
        QString error;
    };
    // Decodes `bytes` (any thread). Dimensions are read and checked against max_image_pixels
    // before a pixel is decoded, so a small file that claims a huge picture costs nothing.
    static Decoded decode(const QByteArray &bytes);

    // What goes up: the bytes the server will store, their hash and the picture already decoded.
    struct Prepared
    {
        QByteArray bytes;
        QByteArray hash;
        QByteArray mime;
        QString name; // for the progress line: the file's name, or "Pasted image"
        Decoded decoded;
        QString error;
    };
    // From a file's bytes or a pasted picture (any thread). A PNG, JPEG, GIF or WebP within
    // max_image_bytes and max_image_pixels is sent as it is; anything else Qt can read (or a
    // photo over the byte limit) is re-encoded, scaled down as far as it must be.
    static Prepared prepare(const QByteArray &bytes, const QString &name);
    static Prepared prepare(const QImage &image, const QString &name);
    // Another wall's image, from the copy kept on disk here (fetched or uploaded from this
    // computer), to upload again (any thread, with diskPath() read on the GUI thread).
    static Prepared prepareKept(const QString &path, const QByteArray &hash, const QString &name);

    explicit ImageCache(QObject *parent = nullptr);
    ~ImageCache() override;

    // Where images come from: the server's WebSocket URL (ws:// or wss://; HTTP goes to the same
    // host and port), the wall, the image token of the last Joined, and for wss:// the
    // fingerprint of the certificate that connection accepted (pinned: HTTP accepts that one
    // certificate and no other, without a second trust decision). Failed images are tried again.
    void setSource(const QUrl &server, const QString &wall, const QByteArray &token,
                   const QString &fingerprint);
    // Where fetched images are kept (default: the user's cache directory, "images").
    void setDiskDirectory(const QString &dir) { m_diskDir = dir; }
    QString diskDirectory() const { return m_diskDir; }
    QString diskPath(const QByteArray &hash) const;

    Status status(const QByteArray &hash) const;
    // The copy to draw `hash` with at about `devicePixelsWide` across: the smallest level at
    // least that wide. Null while it is not in memory. May be called from the render thread
    // while the GUI thread is blocked (Qt Quick's sync).
    QImage image(const QByteArray &hash, double devicePixelsWide) const;
    // Its full size as decoded (invalid when not in memory).
    QSize size(const QByteArray &hash) const;
    // Starts getting `hash`: from memory, from disk, else from the server. Cheap when under way.
    void want(const QByteArray &hash);
    // From any thread: want() on the GUI thread, later.
    void wantLater(const QByteArray &hash);

    // Puts a decoded picture in memory under `hash`, as if it had been fetched (a benchmark's
    // wall, an upload's own picture).
    void insert(const QByteArray &hash, Decoded decoded) { store(hash, std::move(decoded)); }

    // Uploads prepared bytes; `done` gets an empty error on success (HTTP 200 or 201). The
    // decoded picture goes into the cache at once.
    using UploadDone = std::function<void(const QString &error)>;
    void upload(Prepared prepared, UploadDone done);
    bool uploading() const { return !m_uploads.empty(); }
    // Of all uploads under way: bytes sent / bytes to send.
    double uploadProgress() const;
    QString uploadName() const;

    qint64 decodedBytes() const { return m_decodedBytes; }

signals:
    void changed(const QByteArray &hash);
    void uploadChanged();

private:
    struct Entry
    {
        Status status;
        std::vector<QImage> levels;
        qint64 bytes = 0;
        mutable quint64 lastUse = 0;
        QPointer<QNetworkReply> reply;
        int attempts = 0; // downloads tried

    };
    struct Upload
    {
        QPointer<QNetworkReply> reply;
        QString name;
        qint64 sent = 0;
        qint64 total = 0;
    };

    QUrl imagesUrl() const;
    void fetch(const QByteArray &hash);
    void readFromDisk(const QByteArray &hash);
    void decodeInto(const QByteArray &hash, const QByteArray &bytes, bool fromDisk);
    void store(const QByteArray &hash, Decoded decoded);
    void fail(const QByteArray &hash, const QString &error);
    void trustPinned(QNetworkReply *reply);
    void evict(const QByteArray &keep);
    static QString replyError(QNetworkReply *reply, const QByteArray &body);

    QNetworkAccessManager *m_net = nullptr;
    QUrl m_server;
    QString m_wall;
    QByteArray m_token;
    QString m_fingerprint;
    QString m_diskDir;
    QHash<QByteArray, Entry> m_entries;
    qint64 m_decodedBytes = 0;
    mutable quint64 m_useClock = 0;
    std::vector<Upload> m_uploads;
};

} // namespace scrawl
