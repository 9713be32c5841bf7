#include "app/imagecache.h"

#include "app/tlstrust.h"
#include "core/limits.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QImageReader>
#include <QImageWriter>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSaveFile>
#include <QSslError>
#include <QStandardPaths>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

Q_LOGGING_CATEGORY(lcImageCache, "scrawl.app.images")

namespace scrawl {

namespace {

QByteArray sha256(const QByteArray &bytes)
{
    return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
}

QString megabytes(qint64 bytes)
{
    return QString::number(double(bytes) / (1024.0 * 1024.0), 'f', 1);
}

// The formats the server stores as they are (ImageStore::sniff), by QImageReader's name.
QByteArray storedMime(const QByteArray &format)
{
    if (format == "png")
        return "image/png";
    if (format == "jpeg" || format == "jpg")
        return "image/jpeg";
    if (format == "gif")
        return "image/gif";
    if (format == "webp")
        return "image/webp";
    return {};
}

QString tooManyPixels(QSize size)
{
    return QCoreApplication::translate(
               "ImageCache",
               "it is %1 × %2 pixels; the limit %3 is %4 million pixels. Scale it down and try "
               "again.")
        .arg(size.width())
        .arg(size.height())
        .arg(QLatin1String(limits::kMaxImagePixelsName))
        .arg(limits::kMaxImagePixels / 1000000);
}

qint64 levelBytes(const std::vector<QImage> &levels)
{
    qint64 total = 0;
    for (const QImage &l : levels)
        total += l.sizeInBytes();
    return total;
}

} // namespace

ImageCache::Decoded ImageCache::decode(const QByteArray &bytes)
{
    Decoded out;
    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    QImageReader reader(&buffer);
    reader.setAutoTransform(true);
    const QSize size = reader.size();
    if (!size.isValid()) {
        out.error = QCoreApplication::translate(
            "ImageCache", "it is not an image Scrawl can show (PNG, JPEG, GIF or WebP).");
        return out;
    }
    if (qint64(size.width()) * size.height() > limits::kMaxImagePixels) {
        out.error = tooManyPixels(size);
        return out;
    }
    const int longer = std::max(size.width(), size.height());
    if (longer > kMaxDecodedSide)
        reader.setScaledSize(size * (double(kMaxDecodedSide) / longer));
    QImage image = reader.read();
    if (image.isNull()) {
        out.error = QCoreApplication::translate("ImageCache", "it could not be read: %1.")
                        .arg(reader.errorString());
        return out;
    }
    out.levels.push_back(image.convertToFormat(QImage::Format_ARGB32_Premultiplied));
    while (out.levels.back().width() / 2 >= kMinLevelSide && out.levels.back().height() / 2 >= kMinLevelSide) {
        const QImage &last = out.levels.back();
        out.levels.push_back(last.scaled(last.width() / 2, last.height() / 2, Qt::IgnoreAspectRatio,
                                         Qt::SmoothTransformation));
    }
    return out;
}

ImageCache::Prepared ImageCache::prepare(const QByteArray &bytes, const QString &name)
{
    Prepared out;
    out.name = name;
    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    QImageReader reader(&buffer);
    const QByteArray mime = storedMime(reader.format());
    const QSize size = reader.size();
    if (!size.isValid()) {
        out.error = QCoreApplication::translate(
            "ImageCache", "it is not an image Scrawl can place (PNG, JPEG, GIF or WebP).");
        return out;
    }
    if (qint64(size.width()) * size.height() > limits::kMaxImagePixels) {
        out.error = tooManyPixels(size);
        return out;
    }
    if (!mime.isEmpty() && bytes.size() <= limits::kMaxImageBytes) {
        out.decoded = decode(bytes);
        if (!out.decoded.error.isEmpty()) {
            out.error = out.decoded.error;
            return out;
        }
        out.bytes = bytes;
        out.mime = mime;
        out.hash = sha256(bytes);
        return out;
    }
    // Another format (BMP, TIFF...) or a photo over the byte limit: re-encode it.
    const Decoded decoded = decode(bytes);
    if (!decoded.error.isEmpty()) {
        out.error = decoded.error;
        return out;
    }
    return prepare(decoded.levels.front(), name);
}

ImageCache::Prepared ImageCache::prepare(const QImage &image, const QString &name)
{
    Prepared out;
    out.name = name;
    if (image.isNull()) {
        out.error = QCoreApplication::translate("ImageCache", "there is no picture in it.");
        return out;
    }
    if (qint64(image.width()) * image.height() > limits::kMaxImagePixels) {
        out.error = tooManyPixels(image.size());
        return out;
    }
    // PNG keeps screenshots and transparency exact; a photo that is too big as PNG goes as JPEG.
    // Each round that is still over the byte limit scales the picture down by a third.
    QImage picture = image;
    const int longer = std::max(picture.width(), picture.height());
    if (longer > kMaxDecodedSide)
        picture = picture.scaled(picture.size() * (double(kMaxDecodedSide) / longer),
                                 Qt::KeepAspectRatio, Qt::SmoothTransformation);
    for (int round = 0; round < 8; ++round) {
        for (const char *format : {"png", "jpeg"}) {
            if (qstrcmp(format, "jpeg") == 0 && picture.hasAlphaChannel() && round < 2)
                continue; // keep transparency while scaling a little can still do
            QByteArray bytes;
            QBuffer buffer(&bytes);
            buffer.open(QIODevice::WriteOnly);
            QImageWriter writer(&buffer, format);
            if (qstrcmp(format, "jpeg") == 0)
                writer.setQuality(88);
            const QImage toWrite = qstrcmp(format, "jpeg") == 0
                                       ? picture.convertToFormat(QImage::Format_RGB32)
                                       : picture;
            if (!writer.write(toWrite))
                continue;
            if (bytes.size() <= limits::kMaxImageBytes) {
                out.bytes = bytes;
                out.mime = storedMime(format);
                out.hash = sha256(bytes);
                out.decoded = decode(bytes);
                out.error = out.decoded.error;
                return out;
            }
        }
        picture = picture.scaled(picture.size() * (2.0 / 3.0), Qt::KeepAspectRatio,
                                 Qt::SmoothTransformation);
    }
    out.error = QCoreApplication::translate(
                    "ImageCache", "it stays over the limit %1 (%2 MB) even scaled down.")
                    .arg(QLatin1String(limits::kMaxImageBytesName), megabytes(limits::kMaxImageBytes));
    return out;
}

ImageCache::ImageCache(QObject *parent)
    : QObject(parent)
    , m_net(new QNetworkAccessManager(this))
{
    m_diskDir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation)
                + QStringLiteral("/images");
}

ImageCache::~ImageCache()
{
    // Nothing answers for a cache that is going away.
    for (Entry &e : m_entries) {
        if (e.reply) {
            disconnect(e.reply, nullptr, this, nullptr);
            e.reply->abort();
        }
    }
    for (Upload &u : m_uploads) {
        if (u.reply) {
            disconnect(u.reply, nullptr, this, nullptr);
            u.reply->abort();
        }
    }
}

void ImageCache::setSource(const QUrl &server, const QString &wall, const QByteArray &token,
                           const QString &fingerprint)
{
    const bool sameWall = server == m_server && wall == m_wall;
    m_server = server;
    m_wall = wall;
    m_token = token;
    m_fingerprint = fingerprint;
    // Another wall's images are not this one's to show (its token would not fetch them anyway).
    if (!sameWall) {
        for (Entry &e : m_entries) {
            if (e.reply)
                e.reply->abort();
        }
        m_entries.clear();
        m_decodedBytes = 0;
        return;
    }
    // Back on the same wall: what failed (the server was away) is worth another try.
    QList<QByteArray> retry;
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (it->status.state == State::Failed) {
            it->status = {};
            it->attempts = 0;
            retry.push_back(it.key());
        }
    }
    for (const QByteArray &hash : retry)
        emit changed(hash);
}

QUrl ImageCache::imagesUrl() const
{
    QUrl url;
    url.setScheme(m_server.scheme() == QLatin1String("wss") ? QStringLiteral("https")
                                                             : QStringLiteral("http"));
    url.setHost(m_server.host());
    url.setPort(m_server.port());
    url.setPath(QStringLiteral("/api/walls/%1/images").arg(m_wall));
    return url;
}

ImageCache::Prepared ImageCache::prepareKept(const QString &path, const QByteArray &hash, const QString &name)
{
    QFile file(path);
    QByteArray bytes;
    if (file.open(QIODevice::ReadOnly))
        bytes = file.read(qint64(limits::kMaxImageBytes) + 1);
    if (bytes.isEmpty() || sha256(bytes) != hash) {
        Prepared out;
        out.name = name;
        out.error = tr("its picture is not kept on this computer. Paste the picture itself, or open "
                       "the wall it is on so that it is fetched, and copy it again.");
        return out;
    }
    return prepare(bytes, name);
}

QString ImageCache::diskPath(const QByteArray &hash) const
{
    return m_diskDir + QLatin1Char('/') + QString::fromLatin1(hash.toHex());
}

ImageCache::Status ImageCache::status(const QByteArray &hash) const
{
    const auto it = m_entries.constFind(hash);
    return it == m_entries.cend() ? Status{} : it->status;
}

QImage ImageCache::image(const QByteArray &hash, double devicePixelsWide) const
{
    const auto it = m_entries.constFind(hash);
    if (it == m_entries.cend() || it->levels.empty())
        return {};
    it->lastUse = ++m_useClock;
    const QImage *best = &it->levels.front();
    for (const QImage &level : it->levels) {
        if (level.width() < devicePixelsWide)
            break;
        best = &level;
    }
    return *best;
}

QSize ImageCache::size(const QByteArray &hash) const
{
    const auto it = m_entries.constFind(hash);
    return it == m_entries.cend() || it->levels.empty() ? QSize() : it->levels.front().size();
}

void ImageCache::wantLater(const QByteArray &hash)
{
    QMetaObject::invokeMethod(this, [this, hash] { want(hash); }, Qt::QueuedConnection);
}

void ImageCache::want(const QByteArray &hash)
{
    if (hash.size() != 32)
        return;
    Entry &e = m_entries[hash];
    if (e.status.state != State::Missing)
        return;
    e.status = {State::Loading, 0, {}};
    if (QFileInfo::exists(diskPath(hash)))
        readFromDisk(hash);
    else
        fetch(hash);
    emit changed(hash);
}

void ImageCache::readFromDisk(const QByteArray &hash)
{
    const QString path = diskPath(hash);
    auto *watcher = new QFutureWatcher<QByteArray>(this);
    connect(watcher, &QFutureWatcher<QByteArray>::finished, this, [this, watcher, hash] {
        watcher->deleteLater();
        const QByteArray bytes = watcher->result();
        if (!m_entries.contains(hash))
            return;
        if (bytes.isEmpty() || sha256(bytes) != hash) {
            // Damaged or cut short: fetch it again.
            qCWarning(lcImageCache) << "cached image" << hash.toHex() << "does not match its hash; fetching it again";
            QFile::remove(diskPath(hash));
            fetch(hash);
            return;
        }
        decodeInto(hash, bytes, true);
    });
    watcher->setFuture(QtConcurrent::run([path] {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }));
}

void ImageCache::trustPinned(QNetworkReply *reply)
{
    // The WebSocket connection to this host and port accepted this certificate (pinned on first
    // use or vouched for by an authority); HTTP accepts the same one and nothing else.
    connect(reply, &QNetworkReply::sslErrors, reply, [this, reply](const QList<QSslError> &) {
        const QString seen = TlsTrust::fingerprint(reply->sslConfiguration().peerCertificate());
        if (!m_fingerprint.isEmpty() && seen == m_fingerprint)
            reply->ignoreSslErrors();
    });
}

void ImageCache::fetch(const QByteArray &hash)
{
    if (!m_server.isValid() || m_token.isEmpty()) {
        fail(hash, tr("not connected to the wall's server; it comes when the server is back."));
        return;
    }
    QUrl url = imagesUrl();
    url.setPath(url.path() + QLatin1Char('/') + QString::fromLatin1(hash.toHex()));
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", "Bearer " + m_token);
    request.setTransferTimeout(60000);
    QNetworkReply *reply = m_net->get(request);
    trustPinned(reply);
    m_entries[hash].reply = reply;
    connect(reply, &QNetworkReply::downloadProgress, this, [this, hash](qint64 got, qint64 total) {
        auto it = m_entries.find(hash);
        if (it == m_entries.end() || total <= 0)
            return;
        const double progress = double(got) / double(total);
        // Every 2 %: enough for a bar to move smoothly, few enough repaints.
        if (progress - it->status.progress >= 0.02 || got == total) {
            it->status.progress = progress;
            emit changed(hash);
        }
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply, hash] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        if (!m_entries.contains(hash) || reply->error() == QNetworkReply::OperationCanceledError)
            return;
        if (status != 200) {
            auto it = m_entries.find(hash);
            const bool mayPass = status == 0 || status >= 500;
            if (mayPass && ++it->attempts < kDownloadAttempts) {
                const int delayMs = 1000 << (it->attempts - 1);
                QTimer::singleShot(delayMs, this, [this, hash] {
                    auto again = m_entries.find(hash);
                    if (again != m_entries.end() && again->status.state == State::Loading && !again->reply)
                        fetch(hash);
                });
                return;
            }
            fail(hash, replyError(reply, body));
            return;
        }
        if (sha256(body) != hash) {
            fail(hash, tr("the server sent bytes that do not match the image's name."));
            return;
        }
        QDir().mkpath(m_diskDir);
        QSaveFile file(diskPath(hash));
        if (!file.open(QIODevice::WriteOnly) || file.write(body) != body.size() || !file.commit())
            qCWarning(lcImageCache) << "could not keep image" << hash.toHex() << "in" << m_diskDir << ":" << file.errorString();
        decodeInto(hash, body, false);
    });
}

void ImageCache::decodeInto(const QByteArray &hash, const QByteArray &bytes, bool fromDisk)
{
    auto *watcher = new QFutureWatcher<Decoded>(this);
    connect(watcher, &QFutureWatcher<Decoded>::finished, this, [this, watcher, hash, fromDisk] {
        watcher->deleteLater();
        Decoded decoded = watcher->result();
        if (!m_entries.contains(hash))
            return;
        if (!decoded.error.isEmpty()) {
            if (fromDisk)
                QFile::remove(diskPath(hash));
            fail(hash, decoded.error);
            return;
        }
        store(hash, std::move(decoded));
    });
    watcher->setFuture(QtConcurrent::run([bytes] { return decode(bytes); }));
}

void ImageCache::store(const QByteArray &hash, Decoded decoded)
{
    Entry &e = m_entries[hash];
    m_decodedBytes -= e.bytes;
    e.levels = std::move(decoded.levels);
    e.bytes = levelBytes(e.levels);
    e.lastUse = ++m_useClock;
    e.status = {State::Ready, 1, {}};
    m_decodedBytes += e.bytes;
    evict(hash);
    emit changed(hash);
}

void ImageCache::evict(const QByteArray &keep)
{
    while (m_decodedBytes > kDecodedBudgetBytes) {
        auto oldest = m_entries.end();
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
            if (it.key() != keep && !it->levels.empty()
                && (oldest == m_entries.end() || it->lastUse < oldest->lastUse))
                oldest = it;
        }
        if (oldest == m_entries.end())
            return;
        m_decodedBytes -= oldest->bytes;
        const QByteArray hash = oldest.key();
        m_entries.erase(oldest); // Missing again: read back from disk when it is drawn
        emit changed(hash);
    }
}

void ImageCache::fail(const QByteArray &hash, const QString &error)
{
    qCInfo(lcImageCache) << "image" << hash.toHex() << "not shown:" << error;
    Entry &e = m_entries[hash];
    e.status = {State::Failed, 0, error};
    emit changed(hash);
}

QString ImageCache::replyError(QNetworkReply *reply, const QByteArray &body)
{
    const QString serverSays = QJsonDocument::fromJson(body).object().value(QStringLiteral("error")).toString();
    if (!serverSays.isEmpty())
        return serverSays;
    if (reply->error() != QNetworkReply::NoError)
        return tr("the server could not be reached over HTTP: %1.").arg(reply->errorString());
    return tr("the server answered HTTP %1.")
        .arg(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt());
}

void ImageCache::upload(Prepared prepared, UploadDone done)
{
    if (!m_server.isValid() || m_token.isEmpty()) {
        done(tr("not connected: images are placed while the wall's server is reachable."));
        return;
    }
    // Ours already: no need to fetch it back. Its bytes are kept on disk as a fetched image's
    // are, so that it can be pasted onto another wall later.
    Entry &e = m_entries[prepared.hash];
    if (e.reply)
        e.reply->abort();
    store(prepared.hash, std::move(prepared.decoded));
    if (!QFileInfo::exists(diskPath(prepared.hash))) {
        (void)QtConcurrent::run([dir = m_diskDir, path = diskPath(prepared.hash), bytes = prepared.bytes] {
            QDir().mkpath(dir);
            QSaveFile file(path);
            if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
                qCWarning(lcImageCache) << "could not keep an uploaded image in" << dir << ":" << file.errorString();
        });
    }

    QNetworkRequest request(imagesUrl());
    request.setRawHeader("Authorization", "Bearer " + m_token);
    request.setHeader(QNetworkRequest::ContentTypeHeader, prepared.mime);
    request.setTransferTimeout(120000);
    QNetworkReply *reply = m_net->post(request, prepared.bytes);
    trustPinned(reply);
    m_uploads.push_back({reply, prepared.name, 0, prepared.bytes.size()});
    emit uploadChanged();
    connect(reply, &QNetworkReply::uploadProgress, this, [this, reply](qint64 sent, qint64 total) {
        for (Upload &u : m_uploads) {
            if (u.reply == reply) {
                u.sent = sent;
                if (total > 0)
                    u.total = total;
            }
        }
        emit uploadChanged();
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply, done = std::move(done)] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        m_uploads.erase(std::remove_if(m_uploads.begin(), m_uploads.end(),
                                       [reply](const Upload &u) { return u.reply == reply || !u.reply; }),
                        m_uploads.end());
        emit uploadChanged();
        if (status == 200 || status == 201)
            done({});
        else
            done(replyError(reply, body));
    });
}

double ImageCache::uploadProgress() const
{
    qint64 sent = 0, total = 0;
    for (const Upload &u : m_uploads) {
        sent += u.sent;
        total += u.total;
    }
    return total > 0 ? double(sent) / double(total) : 0;
}

QString ImageCache::uploadName() const
{
    if (m_uploads.empty())
        return {};
    if (m_uploads.size() == 1)
        return m_uploads.front().name;
    return tr("%n images", nullptr, int(m_uploads.size()));
}

} // namespace scrawl
