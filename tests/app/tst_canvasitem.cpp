// The canvas on its own, in a real window, against a real in-process server: zoom about the
// pointer (wheel and pinch), touchpad scroll, middle-button and Space drags pan, the eraser
// removes whole strokes it touches (and only those), export of the whole wall and of the visible
// area as PNG and SVG, and a clear message when export cannot write. Pixels are checked on
// grabbed frames. Registered three times: X with the default backend, the software backend, and
// X at a device pixel ratio of 2 (high DPI).

#include "app/canvasitem.h"
#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <memory>

using namespace scrawl;

namespace {

bool isInk(QRgb c) { return qGray(c) < 128; }

} // namespace

class TestCanvasItem : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    std::unique_ptr<QQuickWindow> m_window;
    CanvasItem *m_canvas = nullptr;
    std::unique_ptr<WallClient> m_client;
    int m_wallNo = 0;

    // Any ink within `radius` device pixels of item point `p`?
    bool inkAt(const QImage &img, QPointF p, int radius = 2) const
    {
        const qreal dpr = img.devicePixelRatio();
        const QPointF s = m_canvas->mapToScene(p) * dpr;
        for (int dx = -radius; dx <= radius; ++dx)
            for (int dy = -radius; dy <= radius; ++dy) {
                const QPoint q(int(s.x()) + dx, int(s.y()) + dy);
                if (img.rect().contains(q) && isInk(img.pixel(q)))
                    return true;
            }
        return false;
    }
    QImage frame()
    {
        // Wait for the canvas to finish painting its tiles, then grab.
        if (!QTest::qWaitFor([&] { return m_canvas->settled(); }, 5000))
            qWarning("canvas did not settle");
        return m_window->grabWindow();
    }
    // Draws a stroke through the client API (wall coordinates) and waits for its ack.
    std::uint64_t draw(const std::vector<QPointF> &points, float width = 4)
    {
        std::uint32_t id = m_client->beginStroke(points.front(), QColor(0x10, 0x10, 0x10), width);
        for (size_t i = 1; i < points.size(); ++i)
            id = m_client->extendStroke(id, points[i]);
        m_client->endStroke(id);
        return objectKey(m_client->userId(), id);
    }
    static bool eq(QPointF a, QPointF b) { return std::abs(a.x() - b.x()) < 1e-6 && std::abs(a.y() - b.y()) < 1e-6; }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_dir = std::make_unique<QTemporaryDir>();
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path() + QStringLiteral("/data");
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));

        m_window = std::make_unique<QQuickWindow>();
        m_window->resize(800, 600);
        m_canvas = new CanvasItem(m_window->contentItem());
        m_canvas->setSize(QSizeF(800, 600));
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->requestActivate();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        qInfo() << "backend" << QQuickWindow::sceneGraphBackend() << "dpr"
                << m_window->effectiveDevicePixelRatio();
    }

    void init()
    {
        // A fresh wall and client for each test.
        m_client = std::make_unique<WallClient>();
        m_client->setDisplayName(QStringLiteral("Cass"));
        m_client->connectToWall(QStringLiteral("127.0.0.1:%1").arg(m_server->port()),
                                QStringLiteral("canvas-%1").arg(++m_wallNo));
        QTRY_COMPARE(m_client->state(), WallClient::Connected);
        m_canvas->setClient(m_client.get());
        m_canvas->setTool(CanvasItem::Pen);
        m_canvas->setView(1.0, 400, 300); // wall (0,0) in the middle
        m_canvas->forceActiveFocus();
    }

    void cleanup()
    {
        m_canvas->setClient(nullptr);
        m_client.reset();
    }

    void cleanupTestCase()
    {
        m_window.reset();
        m_server.reset();
    }

    void wheelZoomsAboutThePointer_data()
    {
        QTest::addColumn<QPointF>("at");
        QTest::addColumn<int>("delta");
        QTest::newRow("in, top left") << QPointF(100, 80) << 120;
        QTest::newRow("in, bottom right") << QPointF(700, 500) << 360;
        QTest::newRow("out, centre") << QPointF(400, 300) << -240;
    }
    void wheelZoomsAboutThePointer()
    {
        QFETCH(QPointF, at);
        QFETCH(int, delta);
        const QPointF wallBefore = m_canvas->mapToWall(at);
        const double zoom = m_canvas->zoom();
        QWheelEvent wheel(at, m_canvas->mapToScene(at), QPoint(), QPoint(0, delta), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QCoreApplication::sendEvent(m_window.get(), &wheel);
        QVERIFY(delta > 0 ? m_canvas->zoom() > zoom : m_canvas->zoom() < zoom);
        // The wall point under the pointer stays under it.
        const QPointF wallAfter = m_canvas->mapToWall(at);
        QVERIFY2(std::abs(wallAfter.x() - wallBefore.x()) < 1e-6 && std::abs(wallAfter.y() - wallBefore.y()) < 1e-6,
                 qPrintable(QStringLiteral("%1,%2 -> %3,%4").arg(wallBefore.x()).arg(wallBefore.y()).arg(wallAfter.x()).arg(wallAfter.y())));
    }

    void touchpadScrollPansAndPinchZooms()
    {
        const double zoom = m_canvas->zoom();
        const QPointF pan(m_canvas->panX(), m_canvas->panY());
        const QPointF at(300, 200);
        QWheelEvent scroll(at, m_canvas->mapToScene(at), QPoint(15, -25), QPoint(15, -25), Qt::NoButton,
                           Qt::NoModifier, Qt::ScrollUpdate, false);
        QCoreApplication::sendEvent(m_window.get(), &scroll);
        QCOMPARE(m_canvas->zoom(), zoom);
        QCOMPARE(QPointF(m_canvas->panX(), m_canvas->panY()), pan + QPointF(15, -25));
        // A pinch arrives as Ctrl+wheel: zoom about the fingers.
        const QPointF wallBefore = m_canvas->mapToWall(at);
        QWheelEvent pinch(at, m_canvas->mapToScene(at), QPoint(0, 40), QPoint(0, 40), Qt::NoButton,
                          Qt::ControlModifier, Qt::ScrollUpdate, false);
        QCoreApplication::sendEvent(m_window.get(), &pinch);
        QVERIFY(m_canvas->zoom() > zoom);
        QVERIFY(eq(m_canvas->mapToWall(at), wallBefore));
    }

    void middleButtonAndSpaceDragPan()
    {
        const QPointF pan(m_canvas->panX(), m_canvas->panY());
        QTest::mousePress(m_window.get(), Qt::MiddleButton, {}, QPoint(200, 200));
        QTest::mouseMove(m_window.get(), QPoint(230, 210));
        QTest::mouseMove(m_window.get(), QPoint(260, 240));
        QVERIFY(m_canvas->panning());
        QTest::mouseRelease(m_window.get(), Qt::MiddleButton, {}, QPoint(260, 240));
        QVERIFY(!m_canvas->panning());
        QCOMPARE(QPointF(m_canvas->panX(), m_canvas->panY()), pan + QPointF(60, 40));
        QCOMPARE(m_client->model().strokes().size(), size_t(0)); // no ink from panning

        // Space held: the left button pans with the pen tool selected, and draws nothing.
        const QPointF pan2(m_canvas->panX(), m_canvas->panY());
        QTest::keyPress(m_window.get(), Qt::Key_Space);
        QTest::mousePress(m_window.get(), Qt::LeftButton, {}, QPoint(300, 300));
        QTest::mouseMove(m_window.get(), QPoint(280, 290));
        QTest::mouseRelease(m_window.get(), Qt::LeftButton, {}, QPoint(280, 290));
        QTest::keyRelease(m_window.get(), Qt::Key_Space);
        QCOMPARE(QPointF(m_canvas->panX(), m_canvas->panY()), pan2 + QPointF(-20, -10));
        QCOMPARE(m_client->pendingCount(), 0);
        QVERIFY(m_client->localStrokes().empty());

        // Without Space the left button draws again.
        QTest::mousePress(m_window.get(), Qt::LeftButton, {}, QPoint(300, 300));
        QTest::mouseMove(m_window.get(), QPoint(340, 320));
        QTest::mouseRelease(m_window.get(), Qt::LeftButton, {}, QPoint(340, 320));
        QTRY_COMPARE(m_client->model().strokes().size(), size_t(1));
    }

    void penDrawsWithTheChosenColourAndWidth()
    {
        m_canvas->setPenColor(QColor(0xe0, 0x3e, 0x3e));
        m_canvas->setPenWidth(16);
        QTest::mousePress(m_window.get(), Qt::LeftButton, {}, QPoint(200, 200));
        for (int i = 1; i <= 10; ++i)
            QTest::mouseMove(m_window.get(), QPoint(200 + i * 20, 200));
        QTest::mouseRelease(m_window.get(), Qt::LeftButton, {}, QPoint(400, 200));
        QTRY_COMPARE(m_client->pendingCount(), 0);
        QCOMPARE(m_client->model().strokes().size(), size_t(1));
        const auto &s = m_client->model().strokes().front();
        QCOMPARE(s.color, 0xe03e3eu);
        QCOMPARE(s.width, 16.0f);
        // 16 px wide on screen: ink 6 px above the line, none 12 px above it.
        const QImage img = frame();
        const qreal dpr = img.devicePixelRatio();
        const QRgb mid = img.pixel((m_canvas->mapToScene(QPointF(300, 200)) * dpr).toPoint());
        QVERIFY2(qRed(mid) > 180 && qGreen(mid) < 120, qPrintable(QString::number(mid, 16)));
        const QRgb near = img.pixel((m_canvas->mapToScene(QPointF(300, 194)) * dpr).toPoint());
        QVERIFY(qRed(near) > 180 && qGreen(near) < 120);
        const QRgb off = img.pixel((m_canvas->mapToScene(QPointF(300, 188)) * dpr).toPoint());
        QCOMPARE(qGray(off), 255);
    }

    void sharpCornersAreRoundAndCurvesUnbroken()
    {
        // Strokes are stroked with bevel joins plus a disc where a corner turns sharply (see
        // drawStroke): a V with a 90 degree corner, 20 px wide, must have its round outer corner
        // (a bevel alone leaves the outside of the corner bare beyond 7 px from the vertex).
        draw({{-100, -100}, {-50, -50}, {0, -100}}, 20);
        // And a gentle curve of many short segments must be inked all along its middle.
        std::vector<QPointF> arc;
        for (int k = 0; k <= 40; ++k) {
            const double a = std::numbers::pi * k / 40;
            arc.push_back({100 - 80 * std::cos(a), 100 - 80 * std::sin(a)});
        }
        draw(arc, 12);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        const QImage img = frame();
        const qreal dpr = img.devicePixelRatio();
        auto pixel = [&](QPointF wall) {
            return img.pixel((m_canvas->mapToScene(m_canvas->mapFromWall(wall)) * dpr).toPoint());
        };
        QVERIFY(isInk(pixel({-50, -41}))); // 9 px below the vertex: inside the round corner
        QCOMPARE(qGray(pixel({-50, -38})), 255); // 12 px below: outside the pen's reach
        for (int k = 0; k <= 40; ++k) {
            const double a = std::numbers::pi * (k + 0.5) / 41;
            const QPointF mid(100 - 80 * std::cos(a), 100 - 80 * std::sin(a));
            QVERIFY2(isInk(pixel(mid)), qPrintable(QStringLiteral("arc %1").arg(k)));
        }
    }

    // A quick circle sampled at 12 points is drawn round, on screen and in a PNG export: the
    // true circle between two samples lies 5 px outside their chord, beyond a 4 px pen's reach,
    // and is inked all the same; the chord's middle, inside the circle, is not.
    void sparseCurvesAreDrawnSmooth()
    {
        const QPointF centre(-150, 40);
        const double r = 150; // all in the 800 x 600 view
        std::vector<QPointF> circle;
        for (int k = 0; k <= 12; ++k) {
            const double a = 2 * std::numbers::pi * k / 12;
            circle.push_back(centre + QPointF(r * std::cos(a), r * std::sin(a)));
        }
        draw(circle, 4);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        const QImage img = frame();
        const qreal dpr = img.devicePixelRatio();
        auto pixel = [&](QPointF wall) {
            return img.pixel((m_canvas->mapToScene(m_canvas->mapFromWall(wall)) * dpr).toPoint());
        };
        QTemporaryDir dir;
        const QString png = dir.filePath(QStringLiteral("circle.png"));
        QVERIFY2(m_canvas->exportTo(QUrl::fromLocalFile(png), false), qPrintable(m_canvas->exportError()));
        const QImage exported(png);
        QVERIFY(!exported.isNull());
        // The export is the content's bounds grown by 24 px, at 1:1.
        const QPointF exportOrigin = m_canvas->contentBounds().topLeft() - QPointF(24, 24);
        auto exportedPixel = [&](QPointF wall) { return exported.pixel((wall - exportOrigin).toPoint()); };
        for (int k = 1; k < 11; ++k) {
            const double a = 2 * std::numbers::pi * (k + 0.5) / 12;
            const QPointF onCircle = centre + QPointF(r * std::cos(a), r * std::sin(a));
            const QPointF onChord = (circle[size_t(k)] + circle[size_t(k + 1)]) / 2;
            QVERIFY2(isInk(pixel(onCircle)), qPrintable(QStringLiteral("screen, between samples %1").arg(k)));
            QVERIFY2(!isInk(pixel(onChord)), qPrintable(QStringLiteral("screen, chord %1").arg(k)));
            QVERIFY2(isInk(exportedPixel(onCircle)), qPrintable(QStringLiteral("export, between samples %1").arg(k)));
        }
    }

    void idleCanvasRendersNoFrames()
    {
        // Tiles are painted on worker threads, which ask for a frame when they finish; once
        // everything is on screen nothing may keep asking (a wall left open must not spin the
        // GPU or the CPU).
        std::vector<QPointF> line;
        for (int k = 0; k < 30; ++k)
            line.push_back({-700.0 + k * 50, std::sin(k) * 200});
        draw(line, 6);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        m_canvas->panBy(300, 120); // new tiles into view, and a new ring around it
        QTRY_VERIFY(m_canvas->settled());
        QSignalSpy frames(m_window.get(), &QQuickWindow::frameSwapped);
        // Tiles of the ring may still be landing: let them, then expect silence.
        QTRY_VERIFY_WITH_TIMEOUT(!frames.wait(300), 5000);
        frames.clear();
        QVERIFY2(!frames.wait(500), "the canvas kept rendering frames while idle");
    }

    void tilesStayInPlaceInAnOffsetCanvas()
    {
        // In the app the canvas sits below the toolbar. Tiles that come in after the first frame
        // (here: after a pan to a part of the wall not seen before) must be drawn where the
        // canvas is. Qt 6.4's software renderer drew them at the window's origin, unclipped, when
        // they were added under a plain scene graph node.
        m_canvas->setPosition(QPointF(60, 40));
        m_canvas->setSize(QSizeF(600, 450));
        draw({{2000, 0}, {2100, 0}}, 8);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        frame();
        m_canvas->setView(1.0, 300 - 2050, 225); // the stroke's middle at the canvas's centre
        const QImage img = frame();
        const QPointF at = m_canvas->mapFromWall({2050, 0});
        const bool there = inkAt(img, at);
        const bool strayed = inkAt(img, at - QPointF(60, 40));
        m_canvas->setPosition(QPointF(0, 0));
        m_canvas->setSize(QSizeF(800, 600));
        QVERIFY(there);
        QVERIFY2(!strayed, "tiles drawn at the window's origin instead of the canvas's");
    }

    void tilesMeetWithoutASeamAtHalfPixelViews()
    {
        // The view's centre on a half pixel (a window of odd height): tiles must still meet. A
        // rounding that took -211.5 to -212 but 44.5 to 45 left a blank row between two tiles.
        m_canvas->setView(1.0, 400, 300.5);
        draw({{0, -320}, {0, -180}}, 8); // crosses the tile edge at item y 44.5 (wall y -256)
        QTRY_COMPARE(m_client->pendingCount(), 0);
        const QImage img = frame();
        for (int y = 30; y <= 60; ++y)
            QVERIFY2(inkAt(img, QPointF(400, y), 0), qPrintable(QStringLiteral("no ink at row %1").arg(y)));
    }

    void eraserRemovesWholeStrokesItTouches()
    {
        // Two long strokes; the eraser crosses only the right end of the first.
        const auto first = draw({{-300, -50}, {-100, -50}, {100, -50}, {250, -50}});
        const auto second = draw({{-300, 80}, {0, 80}, {250, 80}});
        QTRY_COMPARE(m_client->pendingCount(), 0);
        QImage img = frame();
        QVERIFY(inkAt(img, m_canvas->mapFromWall({-280, -50})));
        QVERIFY(inkAt(img, m_canvas->mapFromWall({-280, 80})));

        m_canvas->setTool(CanvasItem::Eraser);
        const QPoint a = m_canvas->mapToScene(m_canvas->mapFromWall({220, -80})).toPoint();
        const QPoint b = m_canvas->mapToScene(m_canvas->mapFromWall({220, -20})).toPoint();
        QTest::mousePress(m_window.get(), Qt::LeftButton, {}, a);
        QTest::mouseMove(m_window.get(), b); // one jump: the points in between are tested too
        QTest::mouseRelease(m_window.get(), Qt::LeftButton, {}, b);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        QVERIFY(!m_client->model().stroke(first)->visible());
        QVERIFY(m_client->model().stroke(second)->visible());
        img = frame();
        // The whole first stroke is gone, even its far end; the second is untouched.
        QVERIFY(!inkAt(img, m_canvas->mapFromWall({-280, -50})));
        QVERIFY(!inkAt(img, m_canvas->mapFromWall({0, -50})));
        QVERIFY(inkAt(img, m_canvas->mapFromWall({-280, 80})));
        // Undo brings it back.
        m_client->undo();
        QTRY_VERIFY(m_client->model().stroke(first)->visible());
        QTRY_VERIFY(inkAt(frame(), m_canvas->mapFromWall({-280, -50})));
    }

    void exportsWholeWallAndVisibleAreaAsPngAndSvg()
    {
        draw({{-100, -40}, {0, 0}, {100, 40}}, 6);
        draw({{2000, 1500}, {2100, 1500}}, 6); // far off screen
        m_client->addNote(-200, 100, QStringLiteral("Ship it Friday"));
        QTRY_COMPARE(m_client->pendingCount(), 0);
        QVERIFY(!m_canvas->visibleWallRect().contains(QPointF(2050, 1500)));
        QTemporaryDir out;

        // Whole wall, PNG, at 1:1 with a 24 px margin: both strokes are in it.
        const QString whole = out.filePath(QStringLiteral("whole.png"));
        QVERIFY2(m_canvas->exportTo(QUrl::fromLocalFile(whole), false), qPrintable(m_canvas->exportError()));
        QImage img(whole);
        QVERIFY(!img.isNull());
        const QRectF bounds = m_canvas->contentBounds();
        QCOMPARE(img.size(), QSize(int(std::ceil(bounds.width() + 48)), int(std::ceil(bounds.height() + 48))));
        auto inkInExport = [](const QImage &i, QPointF p) {
            for (int dx = -2; dx <= 2; ++dx)
                for (int dy = -2; dy <= 2; ++dy)
                    if (i.rect().contains(p.toPoint() + QPoint(dx, dy)) && isInk(i.pixel(p.toPoint() + QPoint(dx, dy))))
                        return true;
            return false;
        };
        const QPointF origin = bounds.topLeft() - QPointF(24, 24);
        QVERIFY(inkInExport(img, QPointF(0, 0) - origin));
        QVERIFY(inkInExport(img, QPointF(2050, 1500) - origin));
        QVERIFY(!inkInExport(img, QPointF(1000, 700) - origin));

        // Visible area, PNG: what is on screen, at the screen's zoom; the far stroke is not in it.
        m_canvas->setView(2.0, 400, 300);
        const QString visible = out.filePath(QStringLiteral("visible.png"));
        QVERIFY(m_canvas->exportTo(QUrl::fromLocalFile(visible), true));
        img = QImage(visible);
        QCOMPARE(img.size(), QSize(800, 600));
        QVERIFY(inkInExport(img, QPointF(400, 300)));              // wall (0,0) at 2x
        QVERIFY(inkInExport(img, QPointF(400 + 180, 300 + 72)));   // wall (90,36)
        QVERIFY(!inkInExport(img, QPointF(400, 300 + 100)));

        // SVG: a vector file with the strokes as paths and the note's text as text.
        const QString svg = out.filePath(QStringLiteral("whole.svg"));
        QVERIFY(m_canvas->exportTo(QUrl::fromLocalFile(svg), false));
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray xml = f.readAll();
        QVERIFY(xml.contains("<svg"));
        QVERIFY(xml.contains("viewBox"));
        QVERIFY(xml.contains("Ship it Friday"));
        QVERIFY(xml.contains("<polyline") || xml.contains("<path"));
        const QString svgVisible = out.filePath(QStringLiteral("visible.svg"));
        QVERIFY(m_canvas->exportTo(QUrl::fromLocalFile(svgVisible), true));
        QVERIFY(QFileInfo(svgVisible).size() > 100);
    }

    // Issue 17 §3 and §5: an export is on white (or transparent), in the colours drawn even on a
    // dark wall, at the scale asked, of the selection alone when asked.
    void exportsSelectionTransparentScaledAndAsDrawnOnADarkWall()
    {
        draw({{0, 0}, {100, 0}}, 6);
        draw({{0, 300}, {100, 300}}, 6);
        QTRY_COMPARE(m_client->pendingCount(), 0);
        QTemporaryDir out;
        m_canvas->setBackground(QColor(0x1e, 0x1f, 0x22));
        m_canvas->setDarkWall(true);

        const QString white = out.filePath(QStringLiteral("white.png"));
        QVERIFY2(m_canvas->exportImage(white, CanvasItem::ExportWall, 2.0, false), qPrintable(m_canvas->exportError()));
        QImage img(white);
        const QRectF bounds = m_canvas->contentBounds().adjusted(-24, -24, 24, 24);
        QCOMPARE(img.size(), QSize(int(std::ceil(bounds.width() * 2)), int(std::ceil(bounds.height() * 2))));
        QCOMPARE(img.pixel(0, 0), qRgb(255, 255, 255));              // light, whatever the theme
        const QPoint mid = ((QPointF(50, 0) - bounds.topLeft()) * 2).toPoint();
        QVERIFY(isInk(img.pixel(mid)));                               // the ink as drawn: dark

        const QString clear = out.filePath(QStringLiteral("clear.png"));
        QVERIFY(m_canvas->exportImage(clear, CanvasItem::ExportWall, 1.0, true));
        img = QImage(clear);
        QCOMPARE(qAlpha(img.pixel(0, 0)), 0);
        QCOMPARE(qAlpha(img.pixel((QPointF(50, 0) - bounds.topLeft()).toPoint())), 255);

        // Nothing selected: refused with the reason; then the first stroke alone.
        QVERIFY(!m_canvas->exportImage(clear, CanvasItem::ExportSelection, 1.0, false));
        QVERIFY2(m_canvas->exportError().contains(QLatin1String("Nothing is selected")), qPrintable(m_canvas->exportError()));
        WallClient::Copies first;
        first.strokes.push_back(m_client->model().strokes().front().key);
        m_canvas->select(first);
        QCOMPARE(m_canvas->selectionCount(), 1);
        const QString one = out.filePath(QStringLiteral("one.png"));
        QVERIFY(m_canvas->exportImage(one, CanvasItem::ExportSelection, 1.0, false));
        img = QImage(one);
        QVERIFY2(img.height() < 40 && img.width() > 100, qPrintable(QStringLiteral("%1x%2").arg(img.width()).arg(img.height())));
        QVERIFY(!m_canvas->exportImage(one, CanvasItem::ExportWall, 0, false));
        QVERIFY(m_canvas->exportError().contains(QLatin1String("scale")));
        m_canvas->setDarkWall(false);
        m_canvas->setBackground(Qt::white);
    }

    void exportExplainsWhatWentWrong()
    {
        QVERIFY(!m_canvas->exportTo(QUrl::fromLocalFile(QStringLiteral("/nonexistent-dir/x.png")), false));
        QVERIFY2(m_canvas->exportError().contains(QLatin1String("/nonexistent-dir/x.png")), qPrintable(m_canvas->exportError()));
        QVERIFY(!m_canvas->exportTo(QUrl::fromLocalFile(QStringLiteral("/nonexistent-dir/x.svg")), false));
        QVERIFY(m_canvas->exportError().contains(QLatin1String("choose a folder")));
        QVERIFY(!m_canvas->exportTo(QUrl(), false));
        QVERIFY(!m_canvas->exportError().isEmpty());
    }

    void remoteStrokeGrowsOnScreenWhileDrawn()
    {
        // Another person draws; their stroke shows here before they lift the pen.
        WallClient other;
        other.setDisplayName(QStringLiteral("Remy"));
        other.connectToWall(QStringLiteral("127.0.0.1:%1").arg(m_server->port()), m_client->wall());
        QTRY_COMPARE(other.state(), WallClient::Connected);
        std::uint32_t id = other.beginStroke({-200, 0}, Qt::black, 5);
        for (int i = 1; i <= 10; ++i)
            id = other.extendStroke(id, {-200 + i * 10.0, 0});
        QTRY_VERIFY(inkAt(m_window->grabWindow(), m_canvas->mapFromWall({-105, 0})));
        QVERIFY(!inkAt(m_window->grabWindow(), m_canvas->mapFromWall({50, 0})));
        for (int i = 11; i <= 30; ++i)
            id = other.extendStroke(id, {-200 + i * 10.0, 0});
        QTRY_VERIFY(inkAt(m_window->grabWindow(), m_canvas->mapFromWall({95, 0})));
        QVERIFY(!m_client->model().strokes().front().closed); // still being drawn
        other.endStroke(id);
        QTRY_VERIFY(m_client->model().strokes().front().closed);
    }

    void remoteInkFlowsBetweenBatches()
    {
        // Someone else's points come a batch at a time (a frame apart or more); each batch is
        // played out over that time instead of appearing at once.
        WallClient other;
        other.setDisplayName(QStringLiteral("Remy"));
        other.connectToWall(QStringLiteral("127.0.0.1:%1").arg(m_server->port()), m_client->wall());
        QTRY_COMPARE(other.state(), WallClient::Connected);
        // Right after the batch is applied (this runs after the canvas's own handler), only its
        // first point is drawn; the rest flows in over the time a batch may take, frame by frame.
        const size_t total = 13;
        std::uint64_t key = 0;
        QElapsedTimer sinceArrival;
        size_t shownAtArrival = 0;
        size_t shownAtLanding = 0;
        std::vector<size_t> perFrame;
        const auto applied = connect(m_client.get(), &WallClient::wallChanged, this, [&] {
            const WallModel::Stroke *s = m_client->model().stroke(key);
            if (s && s->points.size() == 1)
                shownAtLanding = m_canvas->shownPoints(key);
            if (s && s->points.size() == total && !sinceArrival.isValid()) {
                sinceArrival.start();
                shownAtArrival = m_canvas->shownPoints(key);
            }
        });
        const auto frames = connect(m_canvas, &CanvasItem::frameSynced, this, [&] {
            if (sinceArrival.isValid())
                perFrame.push_back(m_canvas->shownPoints(key));
        });
        std::uint32_t id = other.beginStroke({-200, 50}, Qt::black, 5);
        key = objectKey(other.userId(), id);
        // Drawn while the begin is in flight: these go together when it is acknowledged.
        for (int i = 1; i < int(total); ++i)
            id = other.extendStroke(id, {-200 + i * 10.0, 50});
        QTRY_VERIFY(sinceArrival.isValid());
        QCOMPARE(shownAtLanding, size_t(1)); // the pen landing showed at once
        QCOMPARE(shownAtArrival, size_t(2));
        QTRY_COMPARE(m_canvas->shownPoints(key), total);
        const qint64 played = sinceArrival.elapsed();
        QVERIFY2(played >= kStrokeFrameMs * 9 / 10, qPrintable(QString::number(played)));
        QVERIFY(std::is_sorted(perFrame.begin(), perFrame.end()));
        QTRY_VERIFY(m_canvas->settled());
        QVERIFY(inkAt(frame(), m_canvas->mapFromWall({-200 + (total - 1) * 10.0, 50})));
        // Remy sends no cursor while drawing; here it sits at the tip of the ink shown so far.
        QTRY_VERIFY(m_client->members()->find(other.userId()));
        QVERIFY(m_client->members()->find(other.userId())->hasCursor);
        QCOMPARE(m_client->members()->find(other.userId())->cursor,
                 QPointF(-200 + (total - 1) * 10.0, 50));
        disconnect(applied);
        disconnect(frames);

        // The last points ride in the end; they flow in too, and then the stroke is whole.
        for (int i = 1; i <= 5; ++i)
            id = other.extendStroke(id, {-80 + i * 10.0, 50});
        other.endStroke(id);
        QTRY_VERIFY(m_client->model().stroke(key)->closed);
        QCOMPARE(m_client->model().stroke(key)->points.size(), total + 5);
        QTRY_COMPARE(m_canvas->shownPoints(key), total + 5);
        QTRY_VERIFY(m_canvas->settled());
        QVERIFY(inkAt(frame(), m_canvas->mapFromWall({-30, 50})));
    }
};

QTEST_MAIN(TestCanvasItem)
#include "tst_canvasitem.moc"
