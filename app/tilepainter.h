#pragma once

// Painting the wall's strokes off the GUI and render threads.
//
// StrokeBatch is what a tile (or an export) draws: the strokes that touch it, copied out of the
// model with their points already thinned for the scale they are drawn at, so that painting
// needs nothing that the GUI thread may change meanwhile. TilePainter paints batches into tile
// images on worker threads: a pan over a dense wall then costs a frame no more than moving
// textures, and the tiles coming into view are painted while the previous frames are rendered.

#include "core/points.h"
#include "core/wallmodel.h"

#include <QColor>
#include <QImage>
#include <QPointF>
#include <QRectF>
#include <QTransform>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

QT_BEGIN_NAMESPACE
class QPainter;
QT_END_NAMESPACE

namespace scrawl {

struct StrokeBatch
{
    struct Stroke
    {
        std::uint32_t first = 0; // into points
        std::uint32_t count = 0;
        std::uint32_t color = 0; // 0xRRGGBB
        float width = 0;         // wall pixels
        std::int32_t layer = 0;  // see pb::Arrange
        bool pressured = false;  // its width at each point is in `widths` (from `first`)
    };
    // An image on the wall, under the ink: its picture at about the size it is drawn at, or a
    // null one while it is not here (a placeholder box is drawn).
    struct Picture
    {
        QRectF rect; // wall pixels, before it is turned
        QImage image;
        float rotation = 0; // radians, clockwise, about rect's top-left
        std::int32_t layer = 0;
    };
    std::vector<QPointF> points; // wall pixels
    // The width at each point of a pressured stroke, at the same index as in `points` (so it is
    // only as long as the last pressured stroke needs).
    std::vector<float> widths;
    std::vector<Stroke> strokes; // in draw order
    std::vector<Picture> pictures; // in draw order, all under the strokes
    std::vector<WallModel::ShapeData> shapes; // in draw order, over the pictures, under the strokes
    // Where something is on a layer but 0 (pb::Arrange): each shape's layer (else empty, all 0),
    // and `layered` set. Then the batch is drawn layer by layer, the order above within each.
    std::vector<std::int32_t> shapeLayers;
    bool layered = false;
    // Drawn on a dark wall: dark ink is shown light (wallInk).
    bool darkWall = false;
    void addShape(const WallModel::ShapeData &shape, std::int32_t layer);

    // Appends a stroke, skipping points closer than half a device pixel (at `scale` device
    // pixels per wall pixel) to the last kept one: a zoomed-out wall costs what it shows, not
    // what it holds. The last point is always kept; far-apart samples are joined by curves.
    // `pressure`: a pen's at each point (WallModel::Stroke::pressure), or empty; the width at a
    // point is `width` times pressureWidthFactor of it.
    void add(std::span<const FixedPoint> points, std::uint32_t color, float width, double scale,
             std::int32_t layer = 0, std::span<const std::uint8_t> pressure = {});
    void addPicture(Picture picture);
    bool empty() const { return strokes.empty() && pictures.empty() && shapes.empty(); }

private:
    // Appends the kept points of one stroke, curved between far-apart samples (see the .cpp).
    // `keptWidths`: the width at each kept point, or empty (then `widths` is left as it is).
    void addSmoothed(const std::vector<QPointF> &kept, const std::vector<float> &keptWidths, double scale);
    std::vector<QPointF> m_scratch;
    std::vector<float> m_scratchWidths;
};

// Distance from `p` to the segment a-b, in the units of the three.
double distanceToSegment(QPointF p, QPointF a, QPointF b);
// Does a stroke of `width` pass within `radius` of wall point `p`?
bool strokeTouches(const std::vector<FixedPoint> &points, double width, QPointF p, double radius);

// Turns what is drawn by `rotation` radians (clockwise on screen) about (x, y): how shapes and
// images are drawn turned. The identity for 0.
QTransform turnedAbout(double x, double y, double rotation);
// What an image covers on the wall (its turned box's bounds), and whether it covers wall point p.
QRectF imageBounds(const WallModel::Image &image);
bool imageTouches(const WallModel::Image &image, QPointF p);

// Everything a shape paints, in wall pixels: its box grown by its line and an arrow's head; a
// text's lines as laid out in its font.
QRectF shapeBounds(const WallModel::ShapeData &shape);
// The font a text shape is drawn in: the same layout at every zoom (no hinting).
QFont shapeFont(float fontSize);
// Draws one shape (QPainter's rectangles, ellipses, lines and polygons, so an SVG export has a
// <rect> for a rectangle); on a dark wall in wallInk's colours.
void paintShape(QPainter &painter, const WallModel::ShapeData &shape, double scale, bool darkWall = false);
// The colour ink of `rgba` (alpha in the top byte when `withAlpha`, else opaque) is drawn in. On
// a dark wall, ink darker than mid-grey keeps its hue and saturation and takes the mirrored
// lightness (near-black turns near-white, a dark blue a light one); lighter ink, already readable
// on dark, stays as it is. The wall stores the colour as drawn; only the screen differs.
QColor wallInk(std::uint32_t rgba, bool darkWall, bool withAlpha = false);
// Is wall point `p` on the shape, within `slack` wall px: on its line or outline, inside it when
// it is filled or text.
bool shapeTouches(const WallModel::ShapeData &shape, QPointF p, double slack);

// Draws `batch` into `painter`, whose transform already maps wall pixels to device pixels at
// `scale`: its pictures, its shapes, then its strokes. Antialiased, round caps, round-looking joins (see the
// .cpp).
void paintStrokes(QPainter &painter, const StrokeBatch &batch, double scale);

// Paints a tile image: `area` of the wall at `scale`, over `background`.
QImage paintTile(const StrokeBatch &batch, const QRectF &area, double scale, int pixels,
                 QColor background);

class TilePainter
{
public:
    struct Job
    {
        int i = 0, j = 0;         // the tile
        std::uint64_t id = 0;     // the caller's, to match the result to its request
        double priority = 0;      // lower first
        QRectF area;              // wall pixels
        double scale = 1;
        int pixels = 0;           // the image's side
        QColor background;
        StrokeBatch batch;
    };
    struct Result
    {
        int i = 0, j = 0;
        std::uint64_t id = 0;
        QImage image;
    };

    // `finished` is called on a worker thread after each tile is painted.
    TilePainter(int threads, std::function<void()> finished);
    ~TilePainter(); // waits for the tiles being painted, drops the queued ones

    void submit(std::vector<Job> jobs);
    // Keeps the queued jobs for which `keep` is true (it may change their priority).
    void retain(const std::function<bool(Job &)> &keep);
    void dropQueued() { retain([](Job &) { return false; }); }
    std::vector<Result> takeResults();

private:
    void work();

    std::function<void()> m_finished;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::vector<Job> m_queue;
    std::vector<Result> m_done;
    bool m_stop = false;
    std::vector<std::thread> m_threads;
};

} // namespace scrawl
