// Images from the app's side, against the real server on 127.0.0.1 port 0 with SQLite in a temp
// dir: files that are not images or that claim a huge picture are refused before anything is
// sent, with a notice that names the problem; a photo over the byte limit is shrunk, not refused;
// other formats are re-encoded; a damaged file in the disk cache is fetched again.

#include "app/imagecache.h"
#include "app/wallclient.h"
#include "core/limits.h"
#include "server/imagestore.h"
#include "server/wallserver.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <memory>

using namespace scrawl;

namespace {

quint32 crc32(const QByteArray &data)
{
    quint32 crc = 0xffffffffu;
    for (const char ch : data) {
        crc ^= quint8(ch);
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// A PNG of a few dozen bytes whose header claims width × height pixels: a decompression bomb's
// opening. Nothing after the header is needed to read the size.
QByteArray pngClaiming(quint32 width, quint32 height)
{
    QByteArray ihdr("IHDR");
    char dims[8];
    qToBigEndian(width, dims);
    qToBigEndian(height, dims + 4);
    ihdr.append(dims, 8);
    ihdr.append("\x08\x02\x00\x00\x00", 5); // 8 bits, RGB, default compression/filter/interlace
    QByteArray out("\x89PNG\r\n\x1a\n", 8);
    char len[4];
    qToBigEndian(quint32(13), len);
    out.append(len, 4);
    out.append(ihdr);
    char crc[4];
    qToBigEndian(crc32(ihdr), crc);
    out.append(crc, 4);
    // The first compressed-data chunk's header and the end: the reader stops at IDAT to report
    // the size, as it would in a real file.
    for (const char *type : {"IDAT", "IEND"}) {
        qToBigEndian(quint32(0), len);
        out.append(len, 4);
        out.append(type, 4);
        qToBigEndian(crc32(QByteArray(type)), crc);
        out.append(crc, 4);
    }
    return out;
}

QImage noise(int w, int h)
{
    QImage image(w, h, QImage::Format_RGB32);
    auto *rng = QRandomGenerator::global();
    for (int y = 0; y < h; ++y) {
        auto *line = reinterpret_cast<QRgb *>(image.scanLine(y));
        for (int x = 0; x < w; ++x)
            line[x] = 0xff000000u | (rng->generate() & 0xffffffu);
    }
    return image;
}

QByteArray encoded(const QImage &image, const char *format)
{
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, format);
    return bytes;
}

} // namespace

class TestImageClient : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    int m_wall = 0;

    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }

    std::unique_ptr<WallClient> joined(const QString &name, const QString &wall)
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->connectToWall(address(), wall);
        if (!QTest::qWaitFor([&] { return c->state() == WallClient::Connected; }, 10000))
            return nullptr;
        return c;
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void badFilesAreRefusedBeforeTheyAreSent_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("says");
        QTest::newRow("text named .png") << QByteArray("just some notes\n") << QStringLiteral("it is not an image Scrawl can place");
        QTest::newRow("empty file") << QByteArray() << QStringLiteral("it is not an image Scrawl can place");
        QTest::newRow("decompression bomb") << pngClaiming(100000, 100000) << QString::fromLatin1(limits::kMaxImagePixelsName);
        QTest::newRow("just over the pixel limit") << pngClaiming(10000, 5001) << QString::fromLatin1(limits::kMaxImagePixelsName);
    }

    void badFilesAreRefusedBeforeTheyAreSent()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, says);
        const QString wall = QStringLiteral("bad-%1").arg(++m_wall);
        auto a = joined(QStringLiteral("Ada"), wall);
        QVERIFY(a);
        QTemporaryDir files;
        const QString path = files.filePath(QStringLiteral("picture.png"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bytes);
        f.close();
        QCOMPARE(a->placeImageFiles({QUrl::fromLocalFile(path)}, 100, 100), 1);
        QVERIFY(a->uploading()); // being read and checked
        QTRY_VERIFY(!a->notice().isEmpty());
        QVERIFY2(a->notice().contains(QStringLiteral("picture.png")), qPrintable(a->notice()));
        QVERIFY2(a->notice().contains(says), qPrintable(a->notice()));
        QVERIFY(!a->uploading());
        QCOMPARE(a->pendingCount(), 0);
        QVERIFY(a->model().images().empty());
        // Nothing reached the server.
        QVERIFY(!m_server->images().has(m_server->loadedRoom(wall)->wallId,
                                        QCryptographicHash::hash(bytes, QCryptographicHash::Sha256)));
    }

    // A photo (noise does not compress) over max_image_bytes is shrunk until it fits and placed;
    // a BMP is re-encoded as PNG; a PNG within the limits goes as it is, byte for byte.
    void oversizedAndOtherFormatsAreReencoded()
    {
        const QImage photo = noise(2400, 1800);
        const QByteArray bmp = encoded(photo, "BMP");
        QVERIFY(bmp.size() > limits::kMaxImageBytes);
        const ImageCache::Prepared shrunk = ImageCache::prepare(bmp, QStringLiteral("photo.bmp"));
        QVERIFY2(shrunk.error.isEmpty(), qPrintable(shrunk.error));
        QVERIFY(shrunk.bytes.size() <= limits::kMaxImageBytes);
        QVERIFY(shrunk.mime == "image/png" || shrunk.mime == "image/jpeg");
        QCOMPARE(shrunk.hash, QCryptographicHash::hash(shrunk.bytes, QCryptographicHash::Sha256));
        QVERIFY(!shrunk.decoded.levels.empty());

        const QImage small = noise(300, 200);
        const ImageCache::Prepared fromBmp = ImageCache::prepare(encoded(small, "BMP"), QStringLiteral("s.bmp"));
        QVERIFY2(fromBmp.error.isEmpty(), qPrintable(fromBmp.error));
        QCOMPARE(fromBmp.mime, QByteArray("image/png"));
        QCOMPARE(fromBmp.decoded.levels.front().size(), QSize(300, 200));

        const QByteArray png = encoded(small, "PNG");
        const ImageCache::Prepared asIs = ImageCache::prepare(png, QStringLiteral("s.png"));
        QCOMPARE(asIs.bytes, png);
        QCOMPARE(asIs.mime, QByteArray("image/png"));
        // Halvings down to kMinLevelSide for zoomed-out walls.
        QCOMPARE(asIs.decoded.levels.size(), size_t(3)); // 300, 150, 75 wide
        QCOMPARE(asIs.decoded.levels.back().size(), QSize(75, 50));

        // And the big one is placed end to end, with upload progress along the way.
        const QString wall = QStringLiteral("photo-%1").arg(++m_wall);
        auto a = joined(QStringLiteral("Ada"), wall);
        QVERIFY(a);
        QSignalSpy progress(a.get(), &WallClient::uploadChanged);
        QTemporaryDir files;
        QFile f(files.filePath(QStringLiteral("photo.bmp")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bmp);
        f.close();
        QCOMPARE(a->placeImageFiles({QUrl::fromLocalFile(f.fileName())}, 0, 0), 1);
        QTRY_VERIFY_WITH_TIMEOUT(a->model().images().size() == 1, 30000);
        QVERIFY(!a->uploading());
        QVERIFY(progress.count() >= 3); // preparing, sending, done
        const WallModel::Image &placed = a->model().images().front();
        QCOMPARE(placed.width, 800.0f); // the longer side, kPlacedImageSide
        QCOMPARE(placed.height, 600.0f);
        QVERIFY(m_server->images().has(m_server->loadedRoom(wall)->wallId, placed.hash));
    }

    // What is kept on disk is checked against its hash: a damaged copy is fetched again.
    void damagedDiskCopyIsFetchedAgain()
    {
        const QString wall = QStringLiteral("disk-%1").arg(++m_wall);
        auto a = joined(QStringLiteral("Ada"), wall);
        auto b = joined(QStringLiteral("Bob"), wall);
        QVERIFY(a && b);
        QTemporaryDir cache;
        b->imageCache()->setDiskDirectory(cache.path());
        const QImage picture = noise(120, 90);
        const QByteArray png = encoded(picture, "PNG");
        const QByteArray hash = QCryptographicHash::hash(png, QCryptographicHash::Sha256);
        const QString kept = cache.filePath(QString::fromLatin1(hash.toHex()));
        QFile damaged(kept);
        QVERIFY(damaged.open(QIODevice::WriteOnly));
        damaged.write(png.left(png.size() / 2));
        damaged.close();

        a->placeImage(picture, QStringLiteral("Pasted image"), QPointF(10, 10));
        QTRY_COMPARE(b->model().images().size(), size_t(1));
        QCOMPARE(b->model().images().front().hash, hash);
        QTRY_COMPARE(b->imageCache()->status(hash).state, ImageCache::State::Ready);
        QCOMPARE(b->imageCache()->image(hash, 120).convertToFormat(QImage::Format_RGB32), picture);
        QFile fixed(kept);
        QVERIFY(fixed.open(QIODevice::ReadOnly));
        QCOMPARE(fixed.readAll(), png);
    }

    // A server that does not answer: the image stays "loading" while it is tried again (1, 2,
    // 4 s apart), then says why. Nothing listens on the port of a server that was stopped.
    void unansweredDownloadIsTriedAgainThenExplained()
    {
        const quint16 port = m_server->port();
        m_server.reset();
        ImageCache cache;
        QTemporaryDir disk;
        cache.setDiskDirectory(disk.path());
        cache.setSource(QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(port)), QStringLiteral("w"),
                        "1.token", {});
        const QByteArray hash = QCryptographicHash::hash("never stored", QCryptographicHash::Sha256);
        std::vector<ImageCache::State> seen;
        connect(&cache, &ImageCache::changed, this, [&](const QByteArray &h) {
            if (h == hash)
                seen.push_back(cache.status(h).state);
        });
        QElapsedTimer timer;
        timer.start();
        cache.want(hash);
        QTRY_VERIFY_WITH_TIMEOUT(cache.status(hash).state == ImageCache::State::Failed, 20000);
        QVERIFY2(timer.elapsed() >= 7000 - 200, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(seen.front(), ImageCache::State::Loading);
        QCOMPARE(std::count(seen.begin(), seen.end(), ImageCache::State::Failed), 1);
        QVERIFY2(cache.status(hash).error.contains(QStringLiteral("could not be reached")),
                 qPrintable(cache.status(hash).error));
    }
};

QTEST_MAIN(TestImageClient)
#include "tst_imageclient.moc"
