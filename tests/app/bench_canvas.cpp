// Frame times of the canvas while panning and zooming a wall of 100,000 strokes.
// Not a ctest test (numbers, not pass/fail). Run under X for the real backend:
//   xvfb-run -a -s "-screen 0 1600x1200x24" build/tests/bench_canvas [strokes]
// and with QT_QUICK_BACKEND=software for the software one. Frames are driven back to back
// (each frameSwapped pans again), so a frame interval is what a frame costs, not a vsync wait.
// The first runs pan an empty wall: what the window costs to render whatever it shows.

#include "app/canvasitem.h"
#include "app/wallclient.h"

#include <QElapsedTimer>
#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QQuickWindow>
#include <QRandomGenerator>

#include <algorithm>
#include <cmath>
#include <functional>
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
        s->set_key(objectKey(1 + std::uint64_t(i % 7), std::uint32_t(i + 1)));
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
    // For scripts/bench (bench/report.py).
    std::printf("RESULT {\"bench\":\"canvas\",\"backend\":\"%s\",\"strokes\":%lld,\"run\":\"%s\","
                "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"max_ms\":%.3f,"
                "\"sync_mean_ms\":%.3f,\"sync_p95_ms\":%.3f}\n",
                qPrintable(backendName()), (long long)canvas->client()->model().strokes().size(), label,
                f.mean, f.p50, f.p95, f.max, s.mean, s.p95);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt starts a 5 ms timer at each update request before it begins the frame (xcb has no
    // frame callback): with frames driven back to back that timer, not the app, would set the
    // pace. Without it a frame interval is what the frame costs.
    if (!qEnvironmentVariableIsSet("QT_QPA_UPDATE_IDLE_TIME"))
        qputenv("QT_QPA_UPDATE_IDLE_TIME", "0");
    QGuiApplication app(argc, argv);
    const int strokes = argc > 1 ? std::max(1, atoi(argv[1])) : 100000;
    QRandomGenerator rng(42);

    QElapsedTimer t;
    t.start();
    const pb::WallSnapshot snap = makeWall(strokes, rng);
    std::printf("built %d strokes (%llu points) in %lld ms\n", strokes,
                (unsigned long long)snap.total_points(), (long long)t.elapsed());

    QQuickWindow window;
    window.resize(1600, 1000);
    WallClient client;
    auto *canvas = new CanvasItem(window.contentItem());
    canvas->setSize(QSizeF(1600, 1000));
    canvas->setClient(&client);
    window.show();

    // The floor: the same pans over an empty wall.
    canvas->setView(1.0, 800, 500);
    while (!canvas->settled())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    run(window, canvas, "empty wall: pan at 100% (12 px/frame)", 200,
        [&](int) { canvas->panBy(-12, -5); });
    run(window, canvas, "empty wall: pan fast (60 px/frame)", 200,
        [&](int) { canvas->panBy(60, 25); });

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
        std::printf("RESULT {\"bench\":\"canvas\",\"backend\":\"%s\",\"strokes\":%d,\"run\":\"tile paint at 100%%\","
                    "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"max_ms\":%.3f}\n",
                    qPrintable(backendName()), strokes, s.mean, s.p50, s.p95, s.max);
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
