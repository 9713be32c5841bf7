#include "server/imagestore.h"

#include "core/limits.h"
#include "server/redislog.h"
#include "server/security.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDateTime>
#include <QImageReader>
#include <QLoggingCategory>
#include <QMessageAuthenticationCode>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>
#include <QPointer>
#include <QUuid>
#include <QVariant>

Q_LOGGING_CATEGORY(lcImages, "scrawl.server.images", QtInfoMsg)

namespace scrawl {

namespace {

// Images are stored once by hash (image_blobs); wall_images says which wall may use which. Two
// walls that upload the same image share its bytes, and neither can reach an image it never
// uploaded (a hash is not a capability).
const char *const kImageSchema[] = {
    "CREATE TABLE IF NOT EXISTS image_blobs (hash BLOB PRIMARY KEY, mime TEXT NOT NULL, "
    "width INTEGER NOT NULL, height INTEGER NOT NULL, size INTEGER NOT NULL, bytes BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wall_images (wall_id INTEGER NOT NULL, hash BLOB NOT NULL, "
    "added_ms INTEGER NOT NULL, PRIMARY KEY (wall_id, hash)) WITHOUT ROWID",
};

QString limitSentence(const char *name, qint64 value)
{
    return QStringLiteral("%1 is %2").arg(QLatin1String(name)).arg(value);
}

// In a cluster (Redis): each image once by its hash, and each wall's images with their sizes
// and the sum (the wall's budget is checked against it, in Redis, by scrawl_image_add).
QByteArray blobKey(const QByteArray &hash)
{
    return "scrawl:image:" + hash.toHex();
}

QByteArray wallImagesKey(std::int64_t wallId)
{
    return "scrawl:wall-images:" + QByteArray::number(qint64(wallId));
}

ImageProblem wallFull(qint64 wallBytes, qint64 more)
{
    return {413,
            QStringLiteral("This wall's images take %1 bytes; %2 more would pass the limit (%3). "
                           "Remove images from the wall's history first.")
                .arg(wallBytes)
                .arg(more)
                .arg(limitSentence(limits::kMaxWallImageBytesName, limits::kMaxWallImageBytes)),
            QString::fromLatin1(limits::kMaxWallImageBytesName)};
}

ImageProblem notStored()
{
    return {503, QStringLiteral("The server could not store the image; try again later.")};
}

} // namespace

class ImageStore::Worker : public QObject
{
public:
    Worker(QString file, std::optional<RedisAddress> shared)
        : m_file(std::move(file))
        , m_connection(QStringLiteral("scrawl-images-%1").arg(QUuid::createUuid().toString(QUuid::Id128)))
        , m_shared(std::move(shared))
    {
    }

    bool open(QString *error)
    {
        if (m_shared) {
            // Made on this thread, used only here. An image of kMaxImageBytes must fit in the
            // time a call may take.
            m_redis = std::make_unique<RedisSyncConnection>(*m_shared, RedisSyncConnection::Options{10000, 500});
            m_redis->setOnConnect({{"FUNCTION", "LOAD", "REPLACE", RedisWallLog::functionLibrary()}});
            // Not reached yet is no failure: the cluster waits for Redis, and so do images.
            Q_UNUSED(error);
            return true;
        }
        m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
        m_db.setDatabaseName(m_file);
        if (!m_db.open()) {
            *error = m_db.lastError().text();
            return false;
        }
        // The main storage opened the file in WAL mode and checkpoints it itself (its
        // Checkpointer), so this connection does not. synchronous stays FULL (SQLite's
        // default): an image is on disk when its upload is answered.
        const QString setup[] = {
            QStringLiteral("PRAGMA busy_timeout = %1").arg(limits::kStorageBusyTimeoutMs),
            QStringLiteral("PRAGMA wal_autocheckpoint=0"),
        };
        for (const QString &sql : setup) {
            QSqlQuery q(m_db);
            if (!q.exec(sql)) {
                *error = q.lastError().text();
                return false;
            }
        }
        for (const char *statement : kImageSchema) {
            QSqlQuery q(m_db);
            if (!q.exec(QString::fromLatin1(statement))) {
                *error = q.lastError().text();
                return false;
            }
        }
        return true;
    }

    void close()
    {
        m_redis.reset();
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connection);
    }

    // Runs on the store's thread.
    void store(std::int64_t wallId, const QByteArray &bytes, std::optional<ImageInfo> *info,
               ImageProblem *problem)
    {
        const char *mime = ImageStore::sniff(bytes);
        if (!mime) {
            *problem = {415, QStringLiteral("This is not a PNG, JPEG, GIF or WebP image; only those "
                                            "can be put on a wall.")};
            return;
        }
        // Only the header is read here: size() does not decode the pixels.
        QByteArray copy = bytes; // QBuffer wants a non-const array; this shares the bytes
        QBuffer buffer(&copy);
        buffer.open(QIODevice::ReadOnly);
        QImageReader reader(&buffer);
        reader.setDecideFormatFromContent(true);
        const QSize size = reader.size();
        if (!size.isValid() || size.isEmpty()) {
            *problem = {415, QStringLiteral("The image's header cannot be read (%1); it may be "
                                            "damaged or cut short.")
                                 .arg(reader.canRead() ? QStringLiteral("no dimensions")
                                                       : reader.errorString())};
            return;
        }
        const qint64 pixels = qint64(size.width()) * size.height();
        if (pixels > limits::kMaxImagePixels) {
            *problem = {413,
                        QStringLiteral("The image is %1 x %2 pixels, more than the limit (%3); "
                                       "scale it down first.")
                            .arg(size.width())
                            .arg(size.height())
                            .arg(limitSentence(limits::kMaxImagePixelsName, limits::kMaxImagePixels)),
                        QString::fromLatin1(limits::kMaxImagePixelsName)};
            return;
        }
        ImageInfo out;
        out.hash = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
        out.mime = mime;
        out.width = size.width();
        out.height = size.height();
        out.bytes = bytes.size();
        if (m_redis) {
            storeShared(wallId, bytes, out, info, problem);
            return;
        }

        const auto failed = [&](const QSqlQuery &q) {
            qCWarning(lcImages) << "storing an image failed:" << q.lastError().text();
            QSqlQuery rollback(m_db);
            rollback.exec(QStringLiteral("ROLLBACK"));
            *problem = notStored();
        };
        QSqlQuery q(m_db);
        // IMMEDIATE: the write lock is taken now, so the budget read below still holds at COMMIT.
        if (!q.exec(QStringLiteral("BEGIN IMMEDIATE")))
            return failed(q);
        q.prepare(QStringLiteral("SELECT 1 FROM wall_images WHERE wall_id = ? AND hash = ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(out.hash);
        if (!q.exec())
            return failed(q);
        if (q.next()) {
            q.finish();
            if (!q.exec(QStringLiteral("COMMIT")))
                return failed(q);
            *info = out; // added = false: the same image twice is stored once
            return;
        }
        q.prepare(QStringLiteral("SELECT COALESCE(SUM(b.size), 0) FROM wall_images w "
                                 "JOIN image_blobs b ON b.hash = w.hash WHERE w.wall_id = ?"));
        q.addBindValue(qint64(wallId));
        if (!q.exec() || !q.next())
            return failed(q);
        const qint64 wallBytes = q.value(0).toLongLong();
        q.finish();
        if (wallBytes + out.bytes > limits::kMaxWallImageBytes) {
            QSqlQuery rollback(m_db);
            rollback.exec(QStringLiteral("ROLLBACK"));
            *problem = wallFull(wallBytes, out.bytes);
            return;
        }
        q.prepare(QStringLiteral("INSERT OR IGNORE INTO image_blobs (hash, mime, width, height, "
                                 "size, bytes) VALUES (?, ?, ?, ?, ?, ?)"));
        q.addBindValue(out.hash);
        q.addBindValue(QString::fromLatin1(out.mime));
        q.addBindValue(out.width);
        q.addBindValue(out.height);
        q.addBindValue(out.bytes);
        q.addBindValue(bytes);
        if (!q.exec())
            return failed(q);
        q.prepare(QStringLiteral("INSERT INTO wall_images (wall_id, hash, added_ms) VALUES (?, ?, ?)"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(out.hash);
        q.addBindValue(QDateTime::currentMSecsSinceEpoch());
        if (!q.exec())
            return failed(q);
        if (!q.exec(QStringLiteral("COMMIT")))
            return failed(q);
        out.added = true;
        *info = out;
    }

    std::optional<ImageBlob> fetch(std::int64_t wallId, const QByteArray &hash)
    {
        if (m_redis) {
            const auto replies = m_redis->pipeline({{"HEXISTS", wallImagesKey(wallId), hash.toHex()},
                                                    {"HMGET", blobKey(hash), "mime", "bytes"}});
            if (replies[0].isError() || replies[1].isError()) {
                qCWarning(lcImages) << "reading an image from Redis failed:" << m_redis->lastError();
                return std::nullopt;
            }
            if (replies[0].integer != 1 || replies[1].elements.size() != 2
                || replies[1].elements[1].type != RedisReply::Type::String)
                return std::nullopt;
            return ImageBlob{replies[1].elements[0].text, replies[1].elements[1].text};
        }
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT b.mime, b.bytes FROM wall_images w JOIN image_blobs b "
                                 "ON b.hash = w.hash WHERE w.wall_id = ? AND w.hash = ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(hash);
        if (!q.exec()) {
            qCWarning(lcImages) << "reading an image failed:" << q.lastError().text();
            return std::nullopt;
        }
        if (!q.next())
            return std::nullopt;
        return ImageBlob{q.value(0).toString().toLatin1(), q.value(1).toByteArray()};
    }

private:
    void storeShared(std::int64_t wallId, const QByteArray &bytes, ImageInfo out,
                     std::optional<ImageInfo> *info, ImageProblem *problem)
    {
        const QByteArray hex = out.hash.toHex();
        const RedisReply r = m_redis->command({"FCALL", "scrawl_image_add", "2", blobKey(out.hash), wallImagesKey(wallId),
                                               hex, out.mime, QByteArray::number(out.width),
                                               QByteArray::number(out.height), QByteArray::number(out.bytes), bytes,
                                               QByteArray::number(limits::kMaxWallImageBytes)});
        const QByteArray kind = r.elements.empty() ? QByteArray() : r.elements[0].text;
        if (r.isError() || kind.isEmpty()) {
            qCWarning(lcImages).noquote() << "storing an image in Redis failed:"
                                          << (r.isError() ? QString::fromUtf8(r.text) : QStringLiteral("an unexpected reply"));
            *problem = notStored();
            return;
        }
        if (kind == "full") {
            *problem = wallFull(r.elements.size() > 1 ? r.elements[1].integer : 0, out.bytes);
            return;
        }
        out.added = kind == "ok";
        *info = out;
    }

    QString m_file;
    QString m_connection;
    QSqlDatabase m_db;
    std::optional<RedisAddress> m_shared;
    std::unique_ptr<RedisSyncConnection> m_redis;
};

ImageStore::ImageStore(QString databaseFile, std::optional<RedisAddress> shared, QObject *parent)
    : QObject(parent)
    , m_file(std::move(databaseFile))
    , m_shared(std::move(shared))
    , m_tokenKey(randomBytes(32))
    , m_readConnection(QStringLiteral("scrawl-images-read-%1").arg(QUuid::createUuid().toString(QUuid::Id128)))
{
}

ImageStore::~ImageStore()
{
    close();
}

bool ImageStore::open(QString *error)
{
    m_thread = new QThread;
    m_thread->setObjectName(QStringLiteral("scrawl-images"));
    m_worker = new Worker(m_file, m_shared);
    m_worker->moveToThread(m_thread);
    m_thread->start();
    bool ok = false;
    QString why;
    QMetaObject::invokeMethod(m_worker, [&] { ok = m_worker->open(&why); },
                              Qt::BlockingQueuedConnection);
    if (ok && m_shared) {
        // Lookups for ops on this thread, and the token key (sharedTokenKey()).
        m_sharedReads = std::make_unique<RedisSyncConnection>(*m_shared);
        m_tokenKey.clear();
        sharedTokenKey();
    } else if (ok) {
        // Lookups for ops, on this thread: a read in WAL mode never waits for the writer.
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_readConnection);
        db.setDatabaseName(m_file);
        ok = db.open();
        if (!ok)
            why = db.lastError().text();
    }
    if (!ok) {
        *error = m_shared ? QStringLiteral("Cannot reach the cluster's Redis for images (%1).").arg(why)
                          : QStringLiteral("Cannot prepare the image tables in %1 (%2); is it writable?")
                                .arg(m_file, why);
        close();
    }
    return ok;
}

void ImageStore::close()
{
    if (!m_thread)
        return;
    // Queued after everything given so far: the store's queue drains first.
    QMetaObject::invokeMethod(m_worker, [w = m_worker] { w->close(); delete w; },
                              Qt::BlockingQueuedConnection);
    m_sharedReads.reset();
    if (QSqlDatabase::contains(m_readConnection)) {
        QSqlDatabase::database(m_readConnection, false).close();
        QSqlDatabase::removeDatabase(m_readConnection);
    }
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    m_worker = nullptr;
}

const char *ImageStore::sniff(const QByteArray &bytes)
{
    if (bytes.startsWith("\x89PNG\r\n\x1a\n"))
        return "image/png";
    if (bytes.startsWith("\xff\xd8\xff"))
        return "image/jpeg";
    if (bytes.startsWith("GIF87a") || bytes.startsWith("GIF89a"))
        return "image/gif";
    if (bytes.size() >= 12 && bytes.startsWith("RIFF") && bytes.mid(8, 4) == "WEBP")
        return "image/webp";
    return nullptr;
}

QByteArray ImageStore::hexToHash(QByteArrayView hex)
{
    if (hex.size() != 64)
        return {};
    for (char c : hex) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return {};
    }
    return QByteArray::fromHex(hex.toByteArray());
}

void ImageStore::store(std::int64_t wallId, QByteArray bytes, QObject *context, StoreDone done)
{
    QMetaObject::invokeMethod(m_worker, [this, wallId, bytes = std::move(bytes),
                                         context = QPointer<QObject>(context), done = std::move(done)] {
        auto info = std::make_shared<std::optional<ImageInfo>>();
        auto problem = std::make_shared<ImageProblem>();
        m_worker->store(wallId, bytes, info.get(), problem.get());
        if (context)
            QMetaObject::invokeMethod(context, [info, problem, done] { done(*info, *problem); },
                                      Qt::QueuedConnection);
    }, Qt::QueuedConnection);
}

void ImageStore::fetch(std::int64_t wallId, QByteArray hash, QObject *context, FetchDone done)
{
    QMetaObject::invokeMethod(m_worker, [this, wallId, hash = std::move(hash),
                                         context = QPointer<QObject>(context), done = std::move(done)] {
        auto blob = std::make_shared<std::optional<ImageBlob>>(m_worker->fetch(wallId, hash));
        if (context)
            QMetaObject::invokeMethod(context, [blob, done] { done(*blob); }, Qt::QueuedConnection);
    }, Qt::QueuedConnection);
}

bool ImageStore::has(std::int64_t wallId, const QByteArray &hash)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_sharedReads) {
        const RedisReply r = m_sharedReads->command({"HEXISTS", wallImagesKey(wallId), hash.toHex()});
        if (r.isError())
            qCWarning(lcImages) << "looking up an image in Redis failed:" << m_sharedReads->lastError();
        return !r.isError() && r.integer == 1;
    }
    QSqlQuery q(QSqlDatabase::database(m_readConnection, false));
    q.prepare(QStringLiteral("SELECT 1 FROM wall_images WHERE wall_id = ? AND hash = ?"));
    q.addBindValue(qint64(wallId));
    q.addBindValue(hash);
    if (!q.exec()) {
        qCWarning(lcImages) << "looking up an image failed:" << q.lastError().text();
        return false;
    }
    return q.next();
}

const QByteArray &ImageStore::sharedTokenKey() const
{
    // Every server of a cluster signs with one key: made by the first server, read by the others
    // (again on a later call while Redis could not be reached).
    if (m_tokenKey.isEmpty() && m_sharedReads) {
        const auto replies = m_sharedReads->pipeline(
            {{"SET", "scrawl:image-token-key", randomBytes(32), "NX"}, {"GET", "scrawl:image-token-key"}});
        if (!replies[1].isError() && replies[1].text.size() == 32)
            m_tokenKey = replies[1].text;
        else
            qCWarning(lcImages) << "cannot read the cluster's image token key yet:" << m_sharedReads->lastError();
    }
    return m_tokenKey;
}

QByteArray ImageStore::imageToken(std::int64_t wallId, std::uint64_t user) const
{
    if (sharedTokenKey().isEmpty())
        return {}; // no images on this join; the next one (Redis back) has them
    const QByteArray message = "scrawl-image " + QByteArray::number(qint64(wallId)) + ' '
                             + QByteArray::number(quint64(user));
    const QByteArray mac = QMessageAuthenticationCode::hash(message, m_tokenKey,
                                                            QCryptographicHash::Sha256);
    return QByteArray::number(quint64(user)) + '.'
         + mac.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

std::optional<std::uint64_t> ImageStore::tokenUser(std::int64_t wallId, const QByteArray &token) const
{
    const qsizetype dot = token.indexOf('.');
    if (dot <= 0)
        return std::nullopt;
    bool ok = false;
    const std::uint64_t user = token.left(dot).toULongLong(&ok);
    if (!ok || user == 0 || sharedTokenKey().isEmpty())
        return std::nullopt;
    if (!constantTimeEquals(token, imageToken(wallId, user)))
        return std::nullopt;
    return user;
}

} // namespace scrawl
