// Frame times of the canvas while panning and zooming a wall of 100,000 strokes.
// Not a ctest test (numbers, not pass/fail). Run under X for the real backend:
//   xvfb-run -a -s "-screen 0 1600x1200x24" build/tests/bench_canvas [strokes]
// and with QT_QUICK_BACKEND=software for the software one. Frames are driven back to back
// (each frameSwapped pans again), so a frame interval is what a frame costs, not a vsync wait.
// The first runs pan an empty wall: what the window costs to render whatever it shows.
//
// `bench_canvas [strokes] remote` measures instead the time from a remote op's arrival to its
// pixels: a real scrawl-server holding the same wall, this canvas's client joined to it, and a
// second client drawing natural strokes at 200 Hz in view (batched as the app batches them).
// That mode keeps Qt's own frame pacing, as the app has it.
//
// `bench_canvas [strokes] timeline` measures a step of the timeline (app/timeline.h) on the
// screen: the wall's strokes as ops (a begin and an end each), held by core's WallHistory, shown
// by a past client on the canvas; each step, from asking for a seq to the client showing it
// (the history's state copied in, the canvas re-indexed) and to its pixels (every visible tile
// painted), at 100 % and zoomed out to the whole wall. Only what differs between two points is
// painted again.

#include "app/canvasitem.h"
#include "app/wallclient.h"
#include "core/wallhistory.h"
#include "server/storage.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QLinearGradient>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTimer>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QImage>
#include <QPainter>
#include <QQuickWindow>
#include <QRandomGenerator>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <numeric>

using namespace scrawl;

namespace {

QString backendName()
{
    return QQuickWindow::sceneGraphBackend().isEmpty() ? QStringLiteral("default (rhi)")
                                                       : QQuickWindow::sceneGraphBackend();
}

pb::WallSnapshot makeWall(int strokes, QRandomGenerator &rng)
{
    // Hand-drawn-looking strokes of 8..40 points scattered over 20,000 x 12,500 px.
    pb::WallSnapshot snap;
    snap.set_seq(std::uint64_t(strokes));
    std::uint64_t total = 0;
    for (int i = 0; i < strokes; ++i) {
        auto *s = snap.add_strokes();
        s->set_key(objectKey(900001 + std::uint64_t(i % 7), std::uint32_t(i + 1)));
        static const std::uint32_t colors[] = {0x222222, 0xe03e3e, 0x1c7ed6, 0x2f9e44, 0x7048e8};
        s->set_color(colors[i % 5]);
        s->set_width(float(1 + rng.bounded(6)));
        s->set_closed(true);
        const int n = 8 + int(rng.bounded(33));
        std::vector<FixedPoint> points;
        QPointF p(rng.bounded(20000.0) - 10000, rng.bounded(12500.0) - 6250);
        double angle = rng.bounded(6.283);
        for (int k = 0; k < n; ++k) {
            points.push_back(toFixed(p));
            angle += rng.bounded(1.0) - 0.5;
            p += QPointF(std::cos(angle), std::sin(angle)) * (3 + rng.bounded(6.0));
        }
        total += points.size();
        encodePoints(points, {}, s);
    }
    snap.set_total_points(total);
    return snap;
}

struct Stats
{
    double mean = 0, p50 = 0, p95 = 0, max = 0;
};

Stats stats(std::vector<double> v)
{
    Stats s;
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    s.p50 = v[v.size() / 2];
    s.p95 = v[std::min(v.size() - 1, size_t(double(v.size()) * 0.95))];
    s.max = v.back();
    return s;
}

// Images on the wall in this run (`bench_canvas N images`), for the report to tell runs apart.
int imagesOnWall = 0;

// The line scripts/bench reads (bench/report.py): one run's figures, in ms.
void printResult(const QString &run, long long strokes, const Stats &f, const Stats *sync = nullptr)
{
    QString extra = QStringLiteral(",\"images\":%1").arg(imagesOnWall);
    if (sync)
        extra += QStringLiteral(",\"sync_mean_ms\":%1,\"sync_p95_ms\":%2")
                    .arg(sync->mean, 0, 'f', 3)
                    .arg(sync->p95, 0, 'f', 3);
    std::printf("RESULT {\"bench\":\"canvas\",\"backend\":\"%s\",\"strokes\":%lld,\"run\":\"%s\","
                "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"max_ms\":%.3f%s}\n",
                qPrintable(backendName()), strokes, qPrintable(run), f.mean, f.p50, f.p95, f.max,
                qPrintable(extra));
    std::fflush(stdout);
}

// Runs `frames` frames, calling `step` before each, and reports frame intervals and the time the
// canvas spent preparing each frame (tile painting + node updates).
void run(QQuickWindow &window, CanvasItem *canvas, const char *label, int frames,
         const std::function<void(int)> &step)
{
    std::vector<double> intervals, sync;
    QElapsedTimer clock;
    int frame = 0;
    QEventLoop loop;
    auto conn = QObject::connect(canvas, &CanvasItem::frameSynced, &loop, [&] {
        if (frame > 0) {
            intervals.push_back(clock.nsecsElapsed() / 1e6);
            sync.push_back(canvas->lastSyncMs());
        }
        clock.restart();
        if (++frame > frames) {
            loop.quit();
            return;
        }
        step(frame);
    });
    clock.start();
    step(0);
    window.update();
    loop.exec();
    QObject::disconnect(conn);
    const Stats f = stats(intervals), s = stats(sync);
    std::printf("%-34s frame interval ms: mean %6.2f  p50 %6.2f  p95 %6.2f  max %6.2f | canvas "
                "sync ms: mean %6.2f  p95 %6.2f  max %6.2f\n",
                label, f.mean, f.p50, f.p95, f.max, s.mean, s.p95, s.max);
    printResult(QString::fromUtf8(label), (long long)canvas->client()->model().strokes().size(), f, &s);
}

[[noreturn]] void die(const QString &why)
{
    std::fprintf(stderr, "bench_canvas: %s\n", qPrintable(why));
    std::exit(1);
}

void waitFor(const std::function<bool()> &done, int ms, const char *what)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > ms)
            die(QStringLiteral("gave up after %1 ms waiting for %2").arg(ms).arg(what));
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 20);
    }
}

int runRemote(const pb::WallSnapshot &snap)
{
    // The wall stored as a server stores it, then a real server process on it.
    QTemporaryDir dir;
    {
        auto storage = makeSqliteStorage(dir.path());
        QString error;
        if (!storage->open(&error))
            die(error);
        const auto wall = storage->createWall(QStringLiteral("bench"));
        if (!wall || !storage->saveSnapshot(wall->id, snap.seq(),
                                            QByteArray::fromStdString(snap.SerializeAsString())))
            die(QStringLiteral("could not store the wall"));
    }
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    const quint16 port = probe.serverPort();
    probe.close();
    QProcess server;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("scrawl.*.info=false"));
    server.setProcessEnvironment(env);
    server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    server.setStandardOutputFile(QProcess::nullDevice());
    server.start(QStringLiteral(SCRAWL_SERVER_BIN),
                 {QStringLiteral("--host"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"),
                  QString::number(port), QStringLiteral("--data"), dir.path()});
    if (!server.waitForStarted())
        die(QStringLiteral("could not start %1").arg(QStringLiteral(SCRAWL_SERVER_BIN)));
    const QString address = QStringLiteral("127.0.0.1:%1").arg(port);

    QQuickWindow window;
    window.resize(1600, 1000);
    WallClient viewer;
    viewer.setDisplayName(QStringLiteral("Viewer"));
    auto *canvas = new CanvasItem(window.contentItem());
    canvas->setSize(QSizeF(1600, 1000));
    canvas->setClient(&viewer);
    window.show();
    QElapsedTimer t;
    t.start();
    viewer.connectToWall(address, QStringLiteral("bench"));
    waitFor([&] { return viewer.model().strokes().size() >= size_t(snap.strokes_size()); }, 30000,
            "the viewer to join");
    canvas->setView(1.0, 800, 500);
    waitFor([&] { return canvas->settled(); }, 30000, "the view to be painted");
    std::printf("viewer joined %d strokes and painted the view in %lld ms\n", snap.strokes_size(),
                (long long)t.elapsed());

    // Arrival: the viewer applied the op. First pixels: the frame whose sync took that op in is
    // swapped. Whole: the frame whose sync drew every point the stroke had at arrival (others'
    // batches flow in over one batch delay) is swapped.
    QElapsedTimer clock;
    clock.start();
    std::mutex lock;
    struct Arrival
    {
        std::uint64_t seq = 0;
        std::uint64_t key = 0;
        size_t points = 0;
        qint64 ns = 0;
        bool first = false; // its first pixels are in the frame being rendered
        bool whole = false; // all its points are
    };
    std::vector<Arrival> arrived;
    std::vector<double> latencies, wholeLatencies;
    QObject::connect(&viewer, &WallClient::wallChanged, &viewer, [&](const WallModel::Change &change) {
        std::lock_guard g(lock);
        for (const std::uint64_t key : change.strokes) {
            if (const WallModel::Stroke *s = viewer.model().stroke(key))
                arrived.push_back({viewer.model().seq(), key, s->points.size(), clock.nsecsElapsed()});
        }
    });
    // On the render thread while the GUI thread waits for the sync to end.
    QObject::connect(&window, &QQuickWindow::afterSynchronizing, &window, [&] {
        const std::uint64_t seq = viewer.model().seq();
        std::lock_guard g(lock);
        for (Arrival &a : arrived) {
            a.first = a.first || a.seq <= seq;
            a.whole = a.whole || (a.seq <= seq && canvas->shownPoints(a.key) >= a.points);
        }
    }, Qt::DirectConnection);
    QObject::connect(&window, &QQuickWindow::frameSwapped, &window, [&] {
        const qint64 now = clock.nsecsElapsed();
        std::lock_guard g(lock);
        for (Arrival &a : arrived) {
            if (a.first && a.ns >= 0) {
                latencies.push_back(double(now - a.ns) / 1e6);
                a.first = false;
                a.ns = -a.ns - 1; // counted; keeps the time for `whole`
            }
            if (a.whole)
                wholeLatencies.push_back(double(now - (a.ns < 0 ? -a.ns - 1 : a.ns)) / 1e6);
        }
        std::erase_if(arrived, [](const Arrival &a) { return a.whole; });
    }, Qt::DirectConnection);

    WallClient drawer;
    drawer.setDisplayName(QStringLiteral("Drawer"));
    drawer.connectToWall(address, QStringLiteral("bench"));
    waitFor([&] { return drawer.state() == WallClient::Connected; }, 30000, "the drawer to join");

    // 20 strokes of 100 samples at 200 Hz, in view, one after another.
    QRandomGenerator rng(3);
    const int strokes = 20, samples = 100;
    int stroke = 0, sample = 0;
    std::uint32_t id = 0;
    QPointF p;
    double angle = 0;
    QTimer pen;
    pen.setTimerType(Qt::PreciseTimer);
    pen.setInterval(5);
    QObject::connect(&pen, &QTimer::timeout, &pen, [&] {
        if (sample == 0) {
            p = QPointF(rng.bounded(1200.0) - 600, rng.bounded(700.0) - 350);
            angle = rng.bounded(6.283);
            id = drawer.beginStroke(p, QColor(0xe0, 0x3e, 0x3e), 4);
        } else {
            angle += rng.bounded(0.3) - 0.15;
            p += QPointF(std::cos(angle), std::sin(angle)) * 3.0;
            id = drawer.extendStroke(id, p);
        }
        if (++sample == samples) {
            drawer.endStroke(id);
            sample = 0;
            if (++stroke == strokes)
                pen.stop();
        }
    });
    pen.start();
    waitFor([&] { return !pen.isActive() && drawer.pendingCount() == 0; }, 60000,
            "the drawer's strokes to be acknowledged");
    waitFor([&] {
        std::lock_guard g(lock);
        return arrived.empty() && viewer.model().seq() >= drawer.model().seq();
    }, 10000, "the last op on the viewer's screen");

    std::vector<double> v, w;
    {
        std::lock_guard g(lock);
        v = latencies;
        w = wholeLatencies;
    }
    const Stats s = stats(v), whole = stats(w);
    std::printf("remote op arrival -> its first pixels on screen (%zu ops, wall of %d strokes): mean "
                "%.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
                v.size(), snap.strokes_size(), s.mean, s.p50, s.p95, s.max);
    std::printf("remote op arrival -> all its points on screen: mean %.2f ms  p50 %.2f  p95 %.2f  "
                "max %.2f\n",
                whole.mean, whole.p50, whole.p95, whole.max);
    printResult(QStringLiteral("remote op arrival to pixels (%1 ops)").arg(v.size()), snap.strokes_size(), s);
    printResult(QStringLiteral("remote op arrival to all its points (%1 ops)").arg(w.size()),
                snap.strokes_size(), whole);
    canvas->setClient(nullptr);
    server.terminate();
    server.waitForFinished(10000);
    return 0;
}

} // namespace

// The wall's strokes as the ops that made them, and the timeline scrubbed over them.
int runTimeline(QQuickWindow &window, CanvasItem *canvas, const pb::WallSnapshot &snap)
{
    WallHistory history;
    history.reset(WallModel{});
    std::uint64_t seq = 0;
    QElapsedTimer t;
    t.start();
    for (const pb::SnapStroke &s : snap.strokes()) {
        pb::Op begin;
        begin.set_seq(++seq);
        begin.set_author(keyAuthor(s.key()));
        begin.set_time_ms(1'780'000'000'000LL + std::int64_t(seq) * 500);
        auto *b = begin.mutable_stroke_begin();
        b->set_id(std::uint32_t(s.key() & 0xffffffffu));
        b->set_color(s.color());
        b->set_width(s.width());
        std::vector<FixedPoint> points;
        decodePoints(s, {}, &points);
        encodePoints(points, {}, b);
        pb::Op end;
        end.set_seq(++seq);
        end.set_author(begin.author());
        end.mutable_stroke_end()->set_id(b->id());
        if (!history.append(begin) || !history.append(end))
            die(QStringLiteral("the ops have a gap"));
    }
    std::printf("timeline: %llu ops taken in in %lld ms, %zu checkpoints\n", (unsigned long long)history.lastSeq(),
                (long long)t.elapsed(), history.checkpointCount());
    WallClient live; // whose past it is (never connected here)
    WallClient past(true);
    canvas->setClient(&past);
    const std::uint64_t last = history.lastSeq();
    auto scrub = [&](const char *label, double zoom, int steps, const std::function<std::uint64_t(int)> &seqOf) {
        canvas->setView(zoom, 800, 500);
        past.showPast(history, last, live);
        while (!canvas->settled())
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        std::vector<double> shown, painted;
        for (int i = 0; i < steps; ++i) {
            QElapsedTimer step;
            step.start();
            past.showPast(history, seqOf(i), live);
            shown.push_back(step.nsecsElapsed() / 1e6);
            window.update();
            while (!canvas->settled())
                QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 5);
            painted.push_back(step.nsecsElapsed() / 1e6);
        }
        const Stats a = stats(shown), b = stats(painted);
        std::printf("%-46s to the client ms: p50 %6.2f  p95 %6.2f  max %6.2f | to pixels ms: p50 %6.2f  "
                    "p95 %6.2f  max %6.2f\n",
                    label, a.p50, a.p95, a.max, b.p50, b.p95, b.max);
        printResult(QStringLiteral("%1, to the client").arg(QString::fromUtf8(label)), snap.strokes_size(), a);
        printResult(QStringLiteral("%1, to pixels").arg(QString::fromUtf8(label)), snap.strokes_size(), b);
    };
    const std::uint64_t step = std::max<std::uint64_t>(1, last / 1000);
    scrub("timeline: drag back at 100%", 1.0, 200, [&](int i) { return last - step * std::uint64_t(i + 1); });
    QRandomGenerator jumps(11);
    scrub("timeline: jump anywhere at 100%", 1.0, 100, [&](int) { return jumps.bounded(quint64(last + 1)); });
    scrub("timeline: drag back, whole wall in view", 0.08, 100,
          [&](int i) { return last - step * std::uint64_t(i + 1); });
    canvas->setClient(nullptr);
    return 0;
}

int main(int argc, char *argv[])
{
    // Qt starts a 5 ms timer at each update request before it begins the frame (xcb has no
    // frame callback): with frames driven back to back that timer, not the app, would set the
    // pace. Without it a frame interval is what the frame costs.
    const bool remote = argc > 2 && qstrcmp(argv[2], "remote") == 0;
    // `bench_canvas [strokes] images`: the same wall with 100 photos of 1600 x 1200 under the ink.
    const bool withImages = argc > 2 && qstrcmp(argv[2], "images") == 0;
    const bool timeline = argc > 2 && qstrcmp(argv[2], "timeline") == 0;
    if (!remote && !qEnvironmentVariableIsSet("QT_QPA_UPDATE_IDLE_TIME"))
        qputenv("QT_QPA_UPDATE_IDLE_TIME", "0");
    QGuiApplication app(argc, argv);
    const int strokes = argc > 1 ? std::max(1, atoi(argv[1])) : 100000;
    QRandomGenerator rng(42);
    if (remote) {
        QLoggingCategory::setFilterRules(QStringLiteral("scrawl.*.info=false"));
        return runRemote(makeWall(strokes, rng));
    }

    QElapsedTimer t;
    t.start();
    pb::WallSnapshot snap = makeWall(strokes, rng);
    std::vector<std::pair<QByteArray, QImage>> photos;
    if (withImages) {
        // 100 images of 1600 x 1200 (20 distinct pictures, as a wall of screenshots repeats
        // some), placed 640 x 480 in a 10 x 10 grid around the starting view.
        for (int k = 0; k < 20; ++k) {
            QImage photo(1600, 1200, QImage::Format_RGB32);
            QPainter p(&photo);
            QLinearGradient g(0, 0, 1600, 1200);
            g.setColorAt(0, QColor::fromHsv(k * 18, 160, 230));
            g.setColorAt(1, QColor::fromHsv((k * 18 + 120) % 360, 200, 120));
            p.fillRect(photo.rect(), g);
            for (int c = 0; c < 200; ++c) {
                p.setBrush(QColor::fromHsv(int(rng.bounded(360)), 180, 220));
                p.drawEllipse(QPointF(rng.bounded(1600.0), rng.bounded(1200.0)), 40, 40);
            }
            p.end();
            photos.emplace_back(QCryptographicHash::hash(QByteArray::number(k), QCryptographicHash::Sha256), photo);
        }
        for (int k = 0; k < 100; ++k) {
            auto *i = snap.add_images();
            i->set_key(objectKey(900001, std::uint32_t(strokes + k + 1)));
            i->set_hash(photos[size_t(k % 20)].first.toStdString());
            i->set_x(float(-3200 + (k % 10) * 700));
            i->set_y(float(-2400 + (k / 10) * 520));
            i->set_width(640);
            i->set_height(480);
        }
    }
    std::printf("built %d strokes (%llu points) in %lld ms\n", strokes,
                (unsigned long long)snap.total_points(), (long long)t.elapsed());

    QQuickWindow window;
    window.resize(1600, 1000);
    WallClient client;
    auto *canvas = new CanvasItem(window.contentItem());
    canvas->setSize(QSizeF(1600, 1000));
    canvas->setClient(&client);
    window.show();

    if (timeline)
        return runTimeline(window, canvas, snap);

    // The floor: the same pans over an empty wall.
    canvas->setView(1.0, 800, 500);
    while (!canvas->settled())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    run(window, canvas, "empty wall: pan at 100% (12 px/frame)", 200,
        [&](int) { canvas->panBy(-12, -5); });
    run(window, canvas, "empty wall: pan fast (60 px/frame)", 200,
        [&](int) { canvas->panBy(60, 25); });

    t.restart();
    for (const auto &[hash, photo] : photos) {
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        photo.save(&buffer, "PNG");
        client.imageCache()->insert(hash, ImageCache::decode(buffer.data()));
    }
    imagesOnWall = snap.images_size();
    if (withImages)
        std::printf("decoded %zu distinct pictures for 100 images in %lld ms\n", photos.size(),
                    (long long)t.elapsed());
    t.restart();
    client.loadLocal(snap); // WallModel::load + the canvas' grid index
    std::printf("loaded and indexed in %lld ms\n", (long long)t.elapsed());

    // What one 256 px tile at 100 % costs to paint, on its own (the canvas paints these as they
    // come into view).
    {
        QRandomGenerator tiles(7);
        std::vector<double> ms;
        QImage image(CanvasItem::kTileSize, CanvasItem::kTileSize, QImage::Format_RGB32);
        for (int k = 0; k < 300; ++k) {
            const QRectF area(tiles.bounded(20000.0) - 10000, tiles.bounded(12500.0) - 6250,
                              CanvasItem::kTileSize, CanvasItem::kTileSize);
            QElapsedTimer tile;
            tile.start();
            image.fill(Qt::white);
            QPainter painter(&image);
            canvas->paintWall(painter, area, 1.0, false);
            painter.end();
            ms.push_back(tile.nsecsElapsed() / 1e6);
        }
        const Stats s = stats(ms);
        std::printf("tile paint at 100%%: mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n", s.mean, s.p50,
                    s.p95, s.max);
        printResult(QStringLiteral("tile paint at 100%"), strokes, s);
    }

    // Settle at 100 %: every visible tile painted.
    canvas->setView(1.0, 800, 500);
    t.restart();
    while (!canvas->settled())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    std::printf("backend %s: first full view at 100%% painted in %lld ms\n",
                qPrintable(backendName()),
                (long long)t.elapsed());

    run(window, canvas, "pan at 100% (12 px/frame)", 400,
        [&](int) { canvas->panBy(-12, -5); });
    run(window, canvas, "pan at 100% fast (60 px/frame)", 200,
        [&](int) { canvas->panBy(60, 25); });
    if (const QString shot = qEnvironmentVariable("SCRAWL_BENCH_SHOT"); !shot.isEmpty()) {
        // What the fast pan left on screen, once the tiles are in (to look at, not measured).
        while (!canvas->settled())
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        window.grabWindow().save(shot);
        // And the same on the X server, for `import -window root` (2 s, then the bench goes on).
        std::printf("SHOT %s\n", qPrintable(shot));
        std::fflush(stdout);
        QElapsedTimer hold;
        hold.start();
        while (hold.elapsed() < 2000)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    }
    // A selection of 10,000 strokes dragged across the view with the select tool: the frames
    // while it moves (the first paints the float).
    {
        canvas->setView(1.0, 800, 500);
        while (!canvas->settled())
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        canvas->setTool(CanvasItem::Select);
        // The 10,000 strokes nearest the view's centre, one of them under the pointer.
        const QPointF centre = canvas->mapToWall(QPointF(800, 500));
        std::vector<std::pair<double, std::uint64_t>> byDistance;
        for (const auto &st : client.model().strokes()) {
            const QPointF d = st.bounds().center() - centre;
            byDistance.emplace_back(std::hypot(d.x(), d.y()), st.key);
        }
        std::sort(byDistance.begin(), byDistance.end());
        WallClient::Copies picked;
        for (size_t k = 0; k < byDistance.size() && k < 10000; ++k)
            picked.strokes.push_back(byDistance[k].second);
        canvas->select(picked);
        const WallModel::Stroke *grab = client.model().stroke(picked.strokes.front());
        QPointF at = canvas->mapToScene(canvas->mapFromWall(toPixels(grab->points.front())));
        auto mouse = [&](QEvent::Type type, QPointF p) {
            QMouseEvent e(type, p, p, type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton,
                          type == QEvent::MouseButtonRelease ? Qt::NoButton : Qt::LeftButton, {});
            QCoreApplication::sendEvent(&window, &e);
        };
        mouse(QEvent::MouseButtonPress, at);
        mouse(QEvent::MouseMove, at + QPointF(4, 4));
        if (canvas->floatShift().isNull()) {
            std::printf("the selection did not start moving (pressed at %.1f, %.1f)\n", at.x(), at.y());
            return 1;
        }
        run(window, canvas, "move 10,000 selected strokes", 200, [&](int i) {
            at += QPointF(i < 100 ? 3 : -3, i < 100 ? 2 : -2);
            mouse(QEvent::MouseMove, at);
        });
        mouse(QEvent::MouseButtonRelease, at);
        canvas->setTool(CanvasItem::Pan);
    }

    canvas->setView(0.08, 800, 500); // the whole wall in view
    t.restart();
    while (!canvas->settled())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    std::printf("zoomed out to 8%% (all %d strokes visible): fully painted after %lld ms\n", strokes,
                (long long)t.elapsed());
    run(window, canvas, "pan at 8% (all strokes visible)", 200,
        [&](int) { canvas->panBy(-6, -3); });
    canvas->setView(1.0, 800, 500);
    run(window, canvas, "wheel zoom 100%->25%->100%", 120, [&](int i) {
        canvas->zoomBy(i < 60 ? 1 / 1.025 : 1.025, QPointF(800, 500));
    });
    return 0;
}
