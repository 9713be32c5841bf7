// Images over HTTP (issue 16 part 4), end to end: the real server on 127.0.0.1 port 0, members
// joined over real WebSockets, uploads and downloads with QNetworkAccessManager carrying the image
// token of their Joined, and SQLite in a temp dir. kill -9 durability uses the real executable.

#include "core/limits.h"
#include "server/wallserver.h"
#include "tests/support/testclient.h"

#include <algorithm>

#include <QBuffer>
#include <QCryptographicHash>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QTcpSocket>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

using namespace scrawl;
using scrawl::test::TestClient;

namespace {

struct Reply
{
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QByteArray etag;
    QByteArray cacheControl;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

QByteArray encode(const QImage &image, const char *format)
{
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    if (!image.save(&buffer, format))
        qWarning("could not encode %s", format);
    return bytes;
}

QByteArray testImage(const char *format, int w = 40, int h = 30, QRgb color = 0xff3366cc)
{
    QImage image(w, h, QImage::Format_ARGB32);
    image.fill(color);
    image.setPixel(1, 1, 0xffff0000);
    return encode(image, format);
}

quint32 crc32(const QByteArray &data)
{
    quint32 crc = 0xffffffffu;
    for (char ch : data) {
        crc ^= quint8(ch);
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

QByteArray pngChunk(const QByteArray &type, const QByteArray &data)
{
    QByteArray out;
    const quint32 n = quint32(data.size());
    out.append(char(n >> 24)).append(char(n >> 16)).append(char(n >> 8)).append(char(n));
    out.append(type).append(data);
    const quint32 c = crc32(type + data);
    out.append(char(c >> 24)).append(char(c >> 16)).append(char(c >> 8)).append(char(c));
    return out;
}

// A valid PNG header announcing width x height grey pixels, with a few bytes of (truncated) data:
// a few hundred bytes that would decode to width x height bytes.
QByteArray bombPng(quint32 width, quint32 height)
{
    QByteArray ihdr;
    for (quint32 v : {width, height})
        ihdr.append(char(v >> 24)).append(char(v >> 16)).append(char(v >> 8)).append(char(v));
    ihdr.append(char(8)).append(char(0)).append(char(0)).append(char(0)).append(char(0));
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr)
         + pngChunk("IDAT", QByteArray::fromHex("789cedc1010d000000c2a0f74f6d0e37a00000000000000000"))
         + pngChunk("IEND", {});
}

QByteArray hexHash(const QByteArray &bytes)
{
    return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex();
}

} // namespace

class TstImages : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    QNetworkAccessManager m_net;

    Reply request(quint16 port, const QByteArray &verb, const QString &path, const QByteArray &token,
                  const QByteArray &body = {}, const QByteArray &ifNoneMatch = {})
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)));
        if (!body.isNull())
            req.setHeader(QNetworkRequest::ContentTypeHeader, "application/octet-stream");
        if (!token.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + token);
        if (!ifNoneMatch.isEmpty())
            req.setRawHeader("If-None-Match", ifNoneMatch);
        QNetworkReply *reply = m_net.sendCustomRequest(req, verb, body);
        QSignalSpy finished(reply, &QNetworkReply::finished);
        Reply out;
        if (!reply->isFinished() && !finished.wait(20000)) {
            reply->abort();
            reply->deleteLater();
            return out;
        }
        out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        out.body = reply->readAll();
        out.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
        out.etag = reply->rawHeader("ETag");
        out.cacheControl = reply->rawHeader("Cache-Control");
        reply->deleteLater();
        return out;
    }
    Reply upload(const QString &wall, const QByteArray &token, const QByteArray &bytes,
                 quint16 port = 0)
    {
        return request(port ? port : m_server->port(), "POST",
                       QStringLiteral("/api/walls/%1/images").arg(wall), token, bytes);
    }
    Reply download(const QString &wall, const QByteArray &token, const QByteArray &hex,
                   quint16 port = 0, const QByteArray &ifNoneMatch = {})
    {
        return request(port ? port : m_server->port(), "GET",
                       QStringLiteral("/api/walls/%1/images/%2").arg(wall, QString::fromLatin1(hex)),
                       token, {}, ifNoneMatch);
    }

    static QByteArray tokenOf(const TestClient &c)
    {
        const pb::Joined *j = c.lastJoined();
        return j ? QByteArray::fromStdString(j->image_token()) : QByteArray();
    }

    // A member on `wall`; its image token from the Joined.
    QByteArray joinAs(TestClient &c, const QString &name, const QString &wall, const QUrl &url = {})
    {
        if (!c.connectAs(url.isEmpty() ? m_server->url() : url, name) || !c.join(wall))
            return {};
        return tokenOf(c);
    }

    static void verifyError(const Reply &r, int status, const char *limit = nullptr)
    {
        QVERIFY2(r.status == status, qPrintable(QStringLiteral("status %1, body %2")
                                                    .arg(r.status)
                                                    .arg(QString::fromUtf8(r.body.left(300)))));
        QVERIFY2(r.contentType.startsWith("application/json"), r.contentType.constData());
        QVERIFY2(!r.json().value(QStringLiteral("error")).toString().isEmpty(), r.body.constData());
        if (limit)
            QCOMPARE(r.json().value(QStringLiteral("limit")).toString(), QLatin1String(limit));
    }

    // Rows in the server's database, read with a connection of the test's own.
    qint64 countRows(const QString &sql)
    {
        const QString name = QUuid::createUuid().toString();
        qint64 n = -1;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
            db.setDatabaseName(m_dir->filePath(QStringLiteral("scrawl.sqlite")));
            if (db.open()) {
                QSqlQuery q(db);
                if (q.exec(sql) && q.next())
                    n = q.value(0).toLongLong();
            }
        }
        QSqlDatabase::removeDatabase(name);
        return n;
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(options);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void uploadAndDownloadEachFormat_data()
    {
        QTest::addColumn<QByteArray>("format");
        QTest::addColumn<QByteArray>("mime");
        QTest::newRow("png") << QByteArray("PNG") << QByteArray("image/png");
        QTest::newRow("jpeg") << QByteArray("JPEG") << QByteArray("image/jpeg");
        QTest::newRow("gif") << QByteArray("GIF") << QByteArray("image/gif");
        QTest::newRow("webp") << QByteArray("WEBP") << QByteArray("image/webp");
    }
    void uploadAndDownloadEachFormat()
    {
        QFETCH(QByteArray, format);
        QFETCH(QByteArray, mime);
        QByteArray bytes = testImage(format.constData(), 40, 30);
        if (format == "GIF" && bytes.isEmpty()) {
            // Qt's GIF plugin only reads; a minimal 1 x 1 GIF89a by hand.
            bytes = QByteArray::fromHex("47494638396101000100800000000000ffffff21f90401000000002c"
                                        "00000000010001000002024401003b");
        }
        QVERIFY2(!bytes.isEmpty(), "the test could not encode the image (is the plugin installed? "
                                   "scripts/deps installs qt6-image-formats-plugins for WebP)");
        TestClient a, b;
        const QByteArray tokenA = joinAs(a, QStringLiteral("Ada"), QStringLiteral("pics"));
        const QByteArray tokenB = joinAs(b, QStringLiteral("Bob"), QStringLiteral("pics"));
        QVERIFY(!tokenA.isEmpty());
        QVERIFY(!tokenB.isEmpty());
        QVERIFY(tokenA != tokenB);

        const Reply up = upload(QStringLiteral("pics"), tokenA, bytes);
        QVERIFY2(up.status == 201, up.body.constData());
        const QJsonObject info = up.json();
        QCOMPARE(info.value(QStringLiteral("hash")).toString().toLatin1(), hexHash(bytes));
        QCOMPARE(info.value(QStringLiteral("type")).toString().toLatin1(), mime);
        QCOMPARE(info.value(QStringLiteral("bytes")).toInteger(), qint64(bytes.size()));
        QCOMPARE(info.value(QStringLiteral("added")).toBool(), true);
        QVERIFY(info.value(QStringLiteral("width")).toInt() > 0);

        // Another member downloads it: same bytes, its type, the hash as ETag, cached for ever.
        const Reply down = download(QStringLiteral("pics"), tokenB, hexHash(bytes));
        QCOMPARE(down.status, 200);
        QCOMPARE(down.body, bytes);
        QCOMPARE(down.contentType, mime);
        QCOMPARE(down.etag, '"' + hexHash(bytes) + '"');
        QVERIFY2(down.cacheControl.contains("immutable"), down.cacheControl.constData());
        const Reply again = download(QStringLiteral("pics"), tokenB, hexHash(bytes), 0, down.etag);
        QCOMPARE(again.status, 304);
        QVERIFY(again.body.isEmpty());
    }

    void sameImageTwiceIsStoredOnce()
    {
        const QByteArray bytes = testImage("PNG", 64, 64);
        TestClient a, b, c;
        const QByteArray tokenA = joinAs(a, QStringLiteral("Ada"), QStringLiteral("one"));
        const QByteArray tokenB = joinAs(b, QStringLiteral("Bob"), QStringLiteral("one"));
        const QByteArray tokenC = joinAs(c, QStringLiteral("Cy"), QStringLiteral("two"));
        QCOMPARE(upload(QStringLiteral("one"), tokenA, bytes).status, 201);
        const Reply second = upload(QStringLiteral("one"), tokenB, bytes);
        QCOMPARE(second.status, 200);
        QCOMPARE(second.json().value(QStringLiteral("added")).toBool(true), false);
        QCOMPARE(second.json().value(QStringLiteral("hash")).toString().toLatin1(), hexHash(bytes));
        // Another wall uploading the same image links it; the bytes are still stored once.
        QCOMPARE(upload(QStringLiteral("two"), tokenC, bytes).status, 201);
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM image_blobs")), 1);
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM wall_images")), 2);
        QCOMPARE(upload(QStringLiteral("one"), tokenA, testImage("PNG", 64, 65)).status, 201);
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM image_blobs")), 2);
    }

    // Deleting a wall deletes its images: a new wall of the same name (and perhaps the same id)
    // does not inherit them, and bytes no other wall uses are gone; bytes another wall uses stay.
    void deletedWallTakesItsImages()
    {
        const QByteArray shared = testImage("PNG", 30, 30);
        const QByteArray own = testImage("PNG", 31, 30);
        TestClient a, c;
        const QByteArray tokenA = joinAs(a, QStringLiteral("Ada"), QStringLiteral("doomed"));
        const QByteArray tokenC = joinAs(c, QStringLiteral("Cy"), QStringLiteral("keeper"));
        QCOMPARE(upload(QStringLiteral("doomed"), tokenA, shared).status, 201);
        QCOMPARE(upload(QStringLiteral("doomed"), tokenA, own).status, 201);
        QCOMPARE(upload(QStringLiteral("keeper"), tokenC, shared).status, 201);
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM image_blobs")), 2);
        const std::int64_t doomedId = m_server->loadedRoom(QStringLiteral("doomed"))->wallId;

        pb::Envelope del;
        del.mutable_moderate()->set_action(pb::Moderate::DELETE_WALL);
        a.sendEnvelope(del);
        QTRY_VERIFY(!m_server->loadedRoom(QStringLiteral("doomed")));
        QTRY_COMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM wall_images WHERE wall_id = %1").arg(doomedId)), 0);
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM image_blobs")), 1);
        QCOMPARE(download(QStringLiteral("keeper"), tokenC, hexHash(shared)).status, 200);

        TestClient d;
        const QByteArray tokenD = joinAs(d, QStringLiteral("Di"), QStringLiteral("doomed"));
        QVERIFY(!tokenD.isEmpty());
        verifyError(download(QStringLiteral("doomed"), tokenD, hexHash(shared)), 404);
        verifyError(download(QStringLiteral("doomed"), tokenD, hexHash(own)), 404);
    }

    // A head that announces more than the route takes is refused from the head alone: the body
    // is never sent, let alone read and held.
    void oversizedBodyIsRefusedFromItsHead_data()
    {
        QTest::addColumn<QByteArray>("target");
        QTest::addColumn<qint64>("length");
        QTest::addColumn<QString>("limit");
        QTest::newRow("image of 1 GB") << QByteArray("/api/walls/pics/images") << qint64(1LL << 30)
                                       << QString::fromLatin1(limits::kMaxImageBytesName);
        QTest::newRow("image one byte over") << QByteArray("/api/walls/pics/images?token=x")
                                             << qint64(limits::kMaxImageBytes + 1)
                                             << QString::fromLatin1(limits::kMaxImageBytesName);
        QTest::newRow("chat message of 1 MB") << QByteArray("/api/walls/pics/messages") << qint64(1LL << 20)
                                              << QString::fromLatin1(limits::kMaxHttpBodyBytesName);
    }

    void oversizedBodyIsRefusedFromItsHead()
    {
        QFETCH(QByteArray, target);
        QFETCH(qint64, length);
        QFETCH(QString, limit);
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(socket.waitForConnected(5000));
        socket.write("POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                     "Content-Length: " + QByteArray::number(length) + "\r\n\r\n");
        QByteArray answer;
        QTRY_VERIFY((answer += socket.readAll()).endsWith("}"));
        QVERIFY2(answer.startsWith("HTTP/1.1 413"), answer.constData());
        QVERIFY2(answer.contains(limit.toLatin1()), answer.constData());
        // The server does not wait for ever for a body it will not take.
        QTRY_COMPARE_WITH_TIMEOUT(socket.state(), QAbstractSocket::UnconnectedState, 15000);
    }

    // A connection refused from its head is gone once it ends: it does not go on counting
    // against its address's max_connections_per_address.
    void refusedConnectionsAreReleased()
    {
        for (int i = 0; i < limits::kMaxConnectionsPerAddress + 20; ++i) {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, m_server->port());
            QVERIFY(socket.waitForConnected(5000));
            socket.write("POST /api/walls/pics/images HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Length: 1073741824\r\n\r\n");
            QByteArray answer;
            QTRY_VERIFY2((answer += socket.readAll()).endsWith("}"), qPrintable(QString::number(i)));
            QVERIFY2(answer.startsWith("HTTP/1.1 413"), answer.constData());
            socket.abort();
        }
        // Still admitted: answered (403, no token) instead of cut off.
        TestClient a;
        QVERIFY(!joinAs(a, QStringLiteral("Ada"), QStringLiteral("pics")).isEmpty());
        verifyError(download(QStringLiteral("pics"), {}, QByteArray(64, 'a')), 403);
    }

    void refusals_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("limit");
        QByteArray big = testImage("PNG", 8, 8);
        big.append(QByteArray(limits::kMaxImageBytes + 1 - big.size(), '\0'));
        QTest::newRow("over max_image_bytes") << big << 413 << QString::fromLatin1(limits::kMaxImageBytesName);
        QTest::newRow("text") << QByteArray("hello, this is not an image at all") << 415 << QString();
        QTest::newRow("svg") << QByteArray("<svg xmlns=\"http://www.w3.org/2000/svg\"/>") << 415 << QString();
        QTest::newRow("empty") << QByteArray("") << 415 << QString();
        QTest::newRow("png magic only") << QByteArray("\x89PNG\r\n\x1a\n", 8) << 415 << QString();
        QTest::newRow("png, damaged header")
            << QByteArray("\x89PNG\r\n\x1a\n\0\0\0\rIHDRgarbagegarbage", 30) << 415 << QString();
        // 30000 x 30000 grey: 900 megapixels announced in a file of under a hundred bytes.
        QTest::newRow("decompression bomb") << bombPng(30000, 30000) << 413
                                            << QString::fromLatin1(limits::kMaxImagePixelsName);
    }
    void refusals()
    {
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, limit);
        TestClient a;
        const QByteArray token = joinAs(a, QStringLiteral("Ada"), QStringLiteral("pics"));
        const Reply r = upload(QStringLiteral("pics"), token, body);
        verifyError(r, status, limit.isEmpty() ? nullptr : qPrintable(limit));
        QCOMPARE(countRows(QStringLiteral("SELECT COUNT(*) FROM image_blobs")), 0);
        // The connection and the member are fine afterwards.
        QCOMPARE(upload(QStringLiteral("pics"), token, testImage("PNG")).status, 201);
    }

    void nonMembersAreRefused()
    {
        const QByteArray bytes = testImage("PNG");
        const QByteArray hex = hexHash(bytes);
        TestClient member, other, leaver;
        const QByteArray token = joinAs(member, QStringLiteral("Ada"), QStringLiteral("pics"));
        const QByteArray otherToken = joinAs(other, QStringLiteral("Eve"), QStringLiteral("elsewhere"));
        const QByteArray leaverToken = joinAs(leaver, QStringLiteral("Lou"), QStringLiteral("pics"));
        QCOMPARE(upload(QStringLiteral("pics"), token, bytes).status, 201);

        // No token, a made-up one, a token for another wall, a member's token with the user id
        // changed, and a wall nobody is on.
        verifyError(download(QStringLiteral("pics"), {}, hex), 403);
        verifyError(upload(QStringLiteral("pics"), {}, bytes), 403);
        verifyError(download(QStringLiteral("pics"), "1.AAAA", hex), 403);
        verifyError(download(QStringLiteral("pics"), otherToken, hex), 403);
        verifyError(upload(QStringLiteral("pics"), otherToken, bytes), 403);
        QByteArray forged = token;
        forged.replace(0, forged.indexOf('.'), QByteArray::number(other.userId));
        verifyError(download(QStringLiteral("pics"), forged, hex), 403);
        verifyError(download(QStringLiteral("nobody-here"), token, hex), 403);

        // The wall's own hash asked for on another wall by that wall's member: not there.
        verifyError(download(QStringLiteral("elsewhere"), otherToken, hex), 404);
        // A bad hash.
        verifyError(download(QStringLiteral("pics"), token, "abc"), 400);

        // A member's token stops working when they leave the wall (here: by joining another).
        QCOMPARE(download(QStringLiteral("pics"), leaverToken, hex).status, 200);
        QVERIFY(leaver.join(QStringLiteral("elsewhere")));
        verifyError(download(QStringLiteral("pics"), leaverToken, hex), 403);
        // ... and when they disconnect.
        member.socket().close();
        QTRY_VERIFY(!m_server->isOnWall(QStringLiteral("pics"), m_server->loadedRoom(QStringLiteral("pics")), member.userId));
        verifyError(download(QStringLiteral("pics"), token, hex), 403);
    }

    // ImageAdd: refused for a hash this wall never uploaded (even one another wall has), placed
    // once uploaded, in a late joiner's snapshot, deleted only by its author, undone and redone.
    void imageOpPlacesAnUploadedImage()
    {
        const QByteArray bytes = testImage("PNG", 50, 40);
        const QByteArray hash = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
        TestClient a, b, other;
        const QByteArray tokenA = joinAs(a, QStringLiteral("Ada"), QStringLiteral("pics"));
        QVERIFY(!joinAs(b, QStringLiteral("Bob"), QStringLiteral("pics")).isEmpty());
        const QByteArray otherToken = joinAs(other, QStringLiteral("Eve"), QStringLiteral("elsewhere"));
        QCOMPARE(upload(QStringLiteral("elsewhere"), otherToken, bytes).status, 201);

        pb::Op add;
        add.mutable_image_add()->set_id(1);
        add.mutable_image_add()->set_hash(hash.toStdString());
        add.mutable_image_add()->set_x(10);
        add.mutable_image_add()->set_y(20);
        add.mutable_image_add()->set_width(50);
        add.mutable_image_add()->set_height(40);
        const std::uint64_t refused = a.sendOp(add);
        QTRY_VERIFY(a.count(pb::Envelope::kError) > 0);
        QCOMPARE(a.received.back().error().code(), pb::INVALID_OP);
        QCOMPARE(a.received.back().error().client_op_id(), refused);
        QVERIFY(a.model.images().empty());

        QCOMPARE(upload(QStringLiteral("pics"), tokenA, bytes).status, 201);
        const std::uint64_t placed = a.sendOp(add);
        QTRY_VERIFY(a.acked(placed));
        const std::uint64_t key = objectKey(a.userId, 1);
        QTRY_VERIFY(b.model.image(key) && b.model.image(key)->visible());
        QCOMPARE(b.model.image(key)->hash, hash);
        QCOMPARE(b.model.image(key)->width, 50.0f);

        // A late joiner gets it in the snapshot.
        TestClient late;
        QVERIFY(!joinAs(late, QStringLiteral("Lu"), QStringLiteral("pics")).isEmpty());
        QVERIFY(late.model.image(key) && late.model.image(key)->visible());
        QCOMPARE(late.model.image(key)->hash, hash);

        // On an open wall (the default) another member may delete it, and undo that; once the
        // owner protects people's work, only its author may.
        pb::Op del;
        del.mutable_image_delete()->set_image(key);
        const std::uint64_t deletedByBob = b.sendOp(del);
        QTRY_VERIFY(b.acked(deletedByBob));
        QTRY_VERIFY(!a.model.image(key)->visible());
        pb::Op bobUndo;
        bobUndo.mutable_undo()->set_target_client_op_id(deletedByBob);
        const std::uint64_t bobUndone = b.sendOp(bobUndo);
        QTRY_VERIFY(b.acked(bobUndone));
        QTRY_VERIFY(a.model.image(key)->visible());

        pb::Envelope protect;
        protect.mutable_moderate()->set_action(pb::Moderate::PROTECT);
        protect.mutable_moderate()->set_on(true);
        a.sendEnvelope(protect);
        QTRY_VERIFY(std::any_of(b.received.begin(), b.received.end(), [](const pb::Envelope &e) {
            return e.has_wall_state() && e.wall_state().protected_work();
        }));
        const size_t errorsBefore = b.count(pb::Envelope::kError);
        b.sendOp(del);
        QTRY_VERIFY(b.count(pb::Envelope::kError) > errorsBefore);
        QCOMPARE(b.received.back().error().code(), pb::NOT_PERMITTED);
        QVERIFY(QString::fromStdString(b.received.back().error().message()).contains(
            QStringLiteral("someone else's image")));
        const std::uint64_t deleted = a.sendOp(del);
        QTRY_VERIFY(a.acked(deleted));
        QTRY_VERIFY(!b.model.image(key)->visible());
        pb::Op undo;
        undo.mutable_undo()->set_target_client_op_id(deleted);
        const std::uint64_t undone = a.sendOp(undo);
        QTRY_VERIFY(a.acked(undone));
        QTRY_VERIFY(b.model.image(key)->visible());
        pb::Op undoAdd;
        undoAdd.mutable_undo()->set_target_client_op_id(placed);
        const std::uint64_t undoneAdd = a.sendOp(undoAdd);
        QTRY_VERIFY(a.acked(undoneAdd));
        QTRY_VERIFY(!b.model.image(key)->visible());
        // The server's wall and a client's are the same, byte for byte.
        QCOMPARE(QByteArray::fromStdString(b.model.snapshot().SerializeAsString()),
                 m_server->loadedRoom(QStringLiteral("pics"))->model.serializedSnapshot());
    }

    // An upload answered 201 is on disk: the real server killed with SIGKILL right after, then
    // started again on the same data, serves it.
    void killNineKeepsAnAcknowledgedUpload()
    {
        m_server.reset(); // this test runs its own server process on the same kind of temp dir
        QProcess server;
        auto start = [&]() -> quint16 {
            server.setProgram(QStringLiteral(SCRAWL_SERVER_BIN));
            server.setArguments({QStringLiteral("--host"), QStringLiteral("127.0.0.1"),
                                 QStringLiteral("--port"), QStringLiteral("0"),
                                 QStringLiteral("--data"), m_dir->path()});
            server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
            server.start();
            if (!server.waitForStarted(5000))
                return 0;
            static const QRegularExpression line(QStringLiteral("^listening on ws://127\\.0\\.0\\.1:(\\d+)$"),
                                                 QRegularExpression::MultilineOption);
            QByteArray out;
            quint16 port = 0;
            TestClient::waitFor([&] {
                out += server.readAllStandardOutput();
                const auto m = line.match(QString::fromUtf8(out));
                if (m.hasMatch())
                    port = quint16(m.captured(1).toUInt());
                return port != 0 || server.state() == QProcess::NotRunning;
            }, 10000);
            return port;
        };
        const quint16 port = start();
        QVERIFY(port != 0);
        const QUrl url(QStringLiteral("ws://127.0.0.1:%1").arg(port));
        const QByteArray bytes = testImage("PNG", 300, 200, 0xff208040);
        QByteArray hex;
        {
            TestClient a;
            const QByteArray token = joinAs(a, QStringLiteral("Ada"), QStringLiteral("durable"), url);
            QVERIFY(!token.isEmpty());
            const Reply up = upload(QStringLiteral("durable"), token, bytes, port);
            QCOMPARE(up.status, 201);
            hex = up.json().value(QStringLiteral("hash")).toString().toLatin1();
            server.kill(); // SIGKILL, right after the answer
            QVERIFY(server.waitForFinished(5000));
        }
        const quint16 port2 = start();
        QVERIFY(port2 != 0);
        TestClient b;
        const QByteArray token = joinAs(b, QStringLiteral("Bob"), QStringLiteral("durable"),
                                        QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(port2)));
        QVERIFY(!token.isEmpty());
        const Reply down = download(QStringLiteral("durable"), token, hex, port2);
        QCOMPARE(down.status, 200);
        QCOMPARE(down.body, bytes);
        server.kill();
        server.waitForFinished(5000);
    }
};

QTEST_GUILESS_MAIN(TstImages)
#include "tst_images.moc"
