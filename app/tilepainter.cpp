#include "app/tilepainter.h"

#include <QFontMetricsF>
#include <QLineF>
#include <QPainter>
#include <QPainterPath>
#include <QPen>
#include <QPolygonF>

#include <algorithm>
#include <cmath>
#include <utility>

namespace scrawl {

QColor wallInk(std::uint32_t rgba, bool darkWall, bool withAlpha)
{
    const QColor c = withAlpha ? QColor::fromRgba(QRgb(rgba)) : QColor::fromRgb(QRgb(0xff000000u | (rgba & 0xffffffu)));
    if (!darkWall)
        return c;
    float h = 0, s = 0, l = 0, a = 1;
    c.getHslF(&h, &s, &l, &a);
    if (h < 0) { // grey: no hue to keep
        h = 0;
        s = 0;
    }
    // Dark ink is mirrored to light; ink already light enough to read on dark stays as it is.
    return QColor::fromHslF(h, s, l < 0.5f ? 1.0f - l : l, a);
}

namespace {

// Joins: QPainter's round joins cost half of a tile's painting (the stroker works out an arc at
// every vertex), yet on a hand-drawn line, where consecutive segments turn by a few degrees, a
// bevel join differs from a round one by far less than a pixel. So lines are stroked with bevel
// joins, and a disc of the pen's width is added only at the vertices where the two would differ
// by more than this: a round join is exactly the bevel join plus that disc.
constexpr double kJoinTolerancePx = 0.25;

void drawStroke(QPainter &p, const QPointF *points, int count, const QColor &color,
                double penWidth, double scale)
{
    QPen pen(color);
    pen.setWidthF(penWidth);
    pen.setCapStyle(Qt::RoundCap);
    pen.setJoinStyle(Qt::BevelJoin);
    p.setPen(pen);
    if (count == 1) {
        p.drawPoint(points[0]);
        return;
    }
    p.drawPolyline(points, count);

    // A bevel join falls short of the round one by r * (1 - cos(turn / 2)), r the pen's radius
    // in device pixels: the vertices turning more than that allows get their disc.
    const double radius = penWidth * scale / 2;
    if (radius <= kJoinTolerancePx || count < 3)
        return;
    const double cosHalfTurnMin = 1 - kJoinTolerancePx / radius;
    // cos(turn / 2) = sqrt((1 + cos(turn)) / 2), so the test needs no square root or angle.
    const double cosTurnMin = 2 * cosHalfTurnMin * cosHalfTurnMin - 1;
    const double c2 = cosTurnMin * cosTurnMin;
    bool discs = false;
    for (int i = 1; i + 1 < count; ++i) {
        const QPointF a = points[i] - points[i - 1], b = points[i + 1] - points[i];
        const double dot = QPointF::dotProduct(a, b);
        const double lengths2 = QPointF::dotProduct(a, a) * QPointF::dotProduct(b, b);
        // cos(turn) = dot / sqrt(lengths2) < cosTurnMin, compared squared with care for signs.
        const bool sharp = dot < 0 ? cosTurnMin >= 0 || dot * dot > c2 * lengths2
                                   : cosTurnMin >= 0 && dot * dot < c2 * lengths2;
        if (!sharp)
            continue;
        if (!discs) {
            p.setPen(Qt::NoPen);
            p.setBrush(color);
            discs = true;
        }
        p.drawEllipse(points[i], penWidth / 2, penWidth / 2);
    }
    if (discs)
        p.setBrush(Qt::NoBrush);
}

} // namespace

void StrokeBatch::addShape(const WallModel::ShapeData &shape, std::int32_t layer)
{
    if (layer != 0 && shapeLayers.size() < shapes.size()) {
        shapeLayers.resize(shapes.size(), 0);
    }
    shapes.push_back(shape);
    if (layer != 0 || !shapeLayers.empty())
        shapeLayers.push_back(layer);
    layered = layered || layer != 0;
}

void StrokeBatch::addPicture(Picture picture)
{
    layered = layered || picture.layer != 0;
    pictures.push_back(std::move(picture));
}

void StrokeBatch::add(std::span<const FixedPoint> in, std::uint32_t color, float width,
                      double scale, std::int32_t layer, std::span<const std::uint8_t> pressure)
{
    if (in.empty())
        return;
    Stroke s;
    s.first = std::uint32_t(points.size());
    s.color = color;
    s.width = width;
    s.layer = layer;
    s.pressured = pressure.size() >= in.size();
    layered = layered || layer != 0;
    const double minStep = 0.5 / scale * kCoordScale;
    const double minStep2 = minStep * minStep;
    FixedPoint last = in.front();
    std::vector<QPointF> &kept = m_scratch;
    std::vector<float> &keptWidths = m_scratchWidths;
    kept.clear();
    keptWidths.clear();
    auto keep = [&](size_t i) {
        kept.push_back(toPixels(in[i]));
        if (s.pressured)
            keptWidths.push_back(float(width * pressureWidthFactor(pressure[i])));
    };
    keep(0);
    for (size_t i = 1; i < in.size(); ++i) {
        const double dx = in[i].x - last.x, dy = in[i].y - last.y;
        if (dx * dx + dy * dy < minStep2 && i + 1 != in.size())
            continue;
        last = in[i];
        keep(i);
    }
    if (s.pressured)
        widths.resize(points.size());
    addSmoothed(kept, keptWidths, scale);
    s.count = std::uint32_t(points.size()) - s.first;
    strokes.push_back(s);
}

// A hand-drawn stroke is a curve sampled at the pen's rate: where the samples lie far apart on
// screen (a quick stroke, a zoomed-in wall) straight segments between them show as corners. Such
// a segment is drawn as the Catmull-Rom curve through its ends instead, with a point every
// kCurveStepPx device pixels. A vertex where the pen turns sharply (over kSharpTurnCos) stays a
// corner, as it was drawn (a V, a tick), and the curve leaves it along the segment.
void StrokeBatch::addSmoothed(const std::vector<QPointF> &in, const std::vector<float> &inWidths, double scale)
{
    const bool pressured = !inWidths.empty();
    constexpr double kCurveStepPx = 4.0;
    constexpr double kSharpTurnCos = 0.5; // a turn of over 60 degrees
    constexpr int kMaxSteps = 16;
    const size_t n = in.size();
    auto gentle = [&](size_t i) { // the turn at vertex i, between its two segments
        if (i == 0 || i + 1 >= n)
            return false;
        const QPointF a = in[i] - in[i - 1], b = in[i + 1] - in[i];
        const double la = std::hypot(a.x(), a.y()), lb = std::hypot(b.x(), b.y());
        return la > 0 && lb > 0 && QPointF::dotProduct(a, b) / (la * lb) > kSharpTurnCos;
    };
    points.push_back(in.front());
    if (pressured)
        widths.push_back(inWidths.front());
    for (size_t i = 0; i + 1 < n; ++i) {
        const QPointF p1 = in[i], p2 = in[i + 1];
        const double length = std::hypot(p2.x() - p1.x(), p2.y() - p1.y()) * scale;
        const int steps = std::min(kMaxSteps, int(length / kCurveStepPx));
        const bool smoothStart = gentle(i), smoothEnd = gentle(i + 1);
        if (steps >= 2 && (smoothStart || smoothEnd)) {
            // Tangents: from the neighbours where the turn is gentle, along the segment where
            // the vertex is an end or a corner.
            const QPointF m1 = smoothStart ? (p2 - in[i - 1]) * 0.5 : (p2 - p1);
            const QPointF m2 = smoothEnd ? (in[i + 2] - p1) * 0.5 : (p2 - p1);
            for (int k = 1; k < steps; ++k) {
                const double t = double(k) / steps, t2 = t * t, t3 = t2 * t;
                const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + t;
                const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
                points.push_back(p1 * h00 + m1 * h10 + p2 * h01 + m2 * h11);
                if (pressured)
                    widths.push_back(float(inWidths[i] + (inWidths[i + 1] - inWidths[i]) * t));
            }
        }
        points.push_back(p2);
        if (pressured)
            widths.push_back(inWidths[i + 1]);
    }
}

namespace {

void paintPicture(QPainter &painter, const StrokeBatch::Picture &p, double scale)
{
    const QTransform was = painter.transform();
    if (p.rotation != 0)
        painter.setTransform(turnedAbout(p.rect.x(), p.rect.y(), p.rotation), true);
    if (!p.image.isNull()) {
        painter.drawImage(p.rect, p.image);
    } else {
        // Not here yet (or it could not be shown): a quiet box where it will be.
        painter.setPen(QPen(QColor(0xc8, 0xc8, 0xc8), 1.0 / scale));
        painter.setBrush(QColor(0xf0, 0xf0, 0xf0));
        painter.drawRect(p.rect);
    }
    if (p.rotation != 0)
        painter.setTransform(was);
}

// A pen's stroke, whose width follows its pressure: each segment at the mean of its ends'
// widths, with round caps, so consecutive segments meet in round joins.
void drawPressuredStroke(QPainter &p, const QPointF *points, const float *widths, int count,
                         const QColor &color, double scale)
{
    QPen pen(color);
    pen.setCapStyle(Qt::RoundCap);
    pen.setJoinStyle(Qt::RoundJoin);
    const double thinnest = 0.8 / scale;
    if (count == 1) {
        pen.setWidthF(std::max(double(widths[0]), thinnest));
        p.setPen(pen);
        p.drawPoint(points[0]);
        return;
    }
    for (int i = 0; i + 1 < count; ++i) {
        pen.setWidthF(std::max((double(widths[i]) + widths[i + 1]) / 2, thinnest));
        p.setPen(pen);
        p.drawLine(points[i], points[i + 1]);
    }
}

void paintOneStroke(QPainter &painter, const StrokeBatch &batch, const StrokeBatch::Stroke &s, double scale)
{
    if (s.pressured && batch.widths.size() >= size_t(s.first) + s.count) {
        drawPressuredStroke(painter, batch.points.data() + s.first, batch.widths.data() + s.first,
                            int(s.count), wallInk(s.color, batch.darkWall), scale);
        return;
    }
    // Never thinner than about a device pixel, or far-out strokes vanish.
    const double penWidth = std::max(double(s.width), 0.8 / scale);
    drawStroke(painter, batch.points.data() + s.first, int(s.count), wallInk(s.color, batch.darkWall), penWidth, scale);
}

// A batch with something off layer 0: everything in one list, by layer, then pictures, shapes
// and strokes, each kind in its order.
void paintLayered(QPainter &painter, const StrokeBatch &batch, double scale)
{
    struct Item
    {
        std::int32_t layer;
        std::uint8_t kind; // 0 picture, 1 shape, 2 stroke
        std::uint32_t index;
    };
    std::vector<Item> items;
    items.reserve(batch.pictures.size() + batch.shapes.size() + batch.strokes.size());
    for (size_t i = 0; i < batch.pictures.size(); ++i)
        items.push_back({batch.pictures[i].layer, 0, std::uint32_t(i)});
    for (size_t i = 0; i < batch.shapes.size(); ++i)
        items.push_back({i < batch.shapeLayers.size() ? batch.shapeLayers[i] : 0, 1, std::uint32_t(i)});
    for (size_t i = 0; i < batch.strokes.size(); ++i)
        items.push_back({batch.strokes[i].layer, 2, std::uint32_t(i)});
    std::stable_sort(items.begin(), items.end(), [](const Item &a, const Item &b) {
        return a.layer != b.layer ? a.layer < b.layer : a.kind < b.kind;
    });
    for (const Item &item : items) {
        if (item.kind == 0) {
            painter.save();
            painter.setRenderHint(QPainter::SmoothPixmapTransform);
            paintPicture(painter, batch.pictures[item.index], scale);
            painter.restore();
        } else if (item.kind == 1) {
            paintShape(painter, batch.shapes[item.index], scale, batch.darkWall);
        } else {
            paintOneStroke(painter, batch, batch.strokes[item.index], scale);
        }
    }
}

} // namespace

void paintStrokes(QPainter &painter, const StrokeBatch &batch, double scale)
{
    if (batch.layered) {
        paintLayered(painter, batch, scale);
        return;
    }
    if (!batch.pictures.empty()) {
        painter.save();
        painter.setRenderHint(QPainter::SmoothPixmapTransform);
        for (const StrokeBatch::Picture &p : batch.pictures)
            paintPicture(painter, p, scale);
        painter.restore();
    }
    for (const WallModel::ShapeData &shape : batch.shapes)
        paintShape(painter, shape, scale, batch.darkWall);
    for (const StrokeBatch::Stroke &s : batch.strokes)
        paintOneStroke(painter, batch, s, scale);
}

namespace {

constexpr int kTextFlags = Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap;

// An arrow's head: two strokes back from the end, as long as the line allows.
std::pair<QPointF, QPointF> arrowHead(const WallModel::ShapeData &d)
{
    const QLineF line(d.x, d.y, d.x + d.width, d.y + d.height);
    const double length = std::min(std::max(12.0, 4.0 * d.strokeWidth), line.length() * 0.5);
    QLineF back(line.p2(), line.p1());
    back.setLength(length);
    QLineF left = back, right = back;
    left.setAngle(back.angle() + 28);
    right.setAngle(back.angle() - 28);
    return {left.p2(), right.p2()};
}

QRectF textRect(const WallModel::ShapeData &d)
{
    const QFontMetricsF metrics(shapeFont(d.fontSize));
    const double wrap = d.width > 0 ? d.width : 1e6;
    const QString text = d.text.isEmpty() ? QStringLiteral(" ") : d.text;
    QRectF r = metrics.boundingRect(QRectF(d.x, d.y, wrap, 1e6), kTextFlags, text);
    r.setTopLeft(QPointF(d.x, d.y));
    if (d.width > 0)
        r.setWidth(d.width);
    if (d.height > r.height())
        r.setHeight(d.height);
    return r;
}

QPolygonF diamond(const QRectF &b)
{
    return QPolygonF({QPointF(b.center().x(), b.top()), QPointF(b.right(), b.center().y()),
                      QPointF(b.center().x(), b.bottom()), QPointF(b.left(), b.center().y())});
}

} // namespace

double distanceToSegment(QPointF p, QPointF a, QPointF b)
{
    const QPointF ab = b - a;
    const double len2 = QPointF::dotProduct(ab, ab);
    const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - a, ab) / len2, 0.0, 1.0) : 0.0;
    const QPointF d = p - (a + ab * t);
    return std::hypot(d.x(), d.y());
}

bool strokeTouches(const std::vector<FixedPoint> &points, double width, QPointF p, double radius)
{
    const double reach = radius + width / 2.0;
    if (points.size() == 1)
        return distanceToSegment(p, toPixels(points.front()), toPixels(points.front())) <= reach;
    for (size_t i = 1; i < points.size(); ++i) {
        if (distanceToSegment(p, toPixels(points[i - 1]), toPixels(points[i])) <= reach)
            return true;
    }
    return false;
}

QFont shapeFont(float fontSize)
{
    QFont font;
    font.setPixelSize(std::max(1, qRound(fontSize)));
    font.setHintingPreference(QFont::PreferNoHinting);
    return font;
}

QTransform turnedAbout(double x, double y, double rotation)
{
    QTransform t;
    if (rotation != 0) {
        t.translate(x, y);
        t.rotateRadians(rotation);
        t.translate(-x, -y);
    }
    return t;
}

QRectF imageBounds(const WallModel::Image &i)
{
    const QRectF r(i.x, i.y, i.width, i.height);
    return i.rotation == 0 ? r : turnedAbout(i.x, i.y, i.rotation).mapRect(r);
}

bool imageTouches(const WallModel::Image &i, QPointF p)
{
    if (i.rotation != 0)
        p = turnedAbout(i.x, i.y, -double(i.rotation)).map(p);
    return QRectF(i.x, i.y, i.width, i.height).contains(p);
}

QRectF shapeBounds(const WallModel::ShapeData &d)
{
    if (d.rotation != 0) {
        WallModel::ShapeData upright = d;
        upright.rotation = 0;
        return turnedAbout(d.x, d.y, d.rotation).mapRect(shapeBounds(upright));
    }
    if (d.kind == pb::SHAPE_TEXT)
        return textRect(d).adjusted(-2, -2, 2, 2);
    QRectF box = d.box();
    double grow = d.strokeWidth / 2.0 + 1;
    if (d.kind == pb::SHAPE_ARROW) {
        const auto [l, r] = arrowHead(d);
        box = box.united(QRectF(l, l)).united(QRectF(r, r));
    }
    return box.adjusted(-grow, -grow, grow, grow);
}

void paintShape(QPainter &painter, const WallModel::ShapeData &d, double scale, bool darkWall)
{
    painter.save();
    if (d.rotation != 0)
        painter.setTransform(turnedAbout(d.x, d.y, d.rotation), true);
    if (d.kind == pb::SHAPE_TEXT) {
        painter.setFont(shapeFont(d.fontSize));
        painter.setPen(wallInk(d.color, darkWall));
        const QRectF r = textRect(d);
        painter.drawText(r, kTextFlags, d.text);
        painter.restore();
        return;
    }
    if (d.strokeWidth > 0) {
        QPen pen(wallInk(d.color, darkWall));
        pen.setWidthF(std::max(double(d.strokeWidth), 0.8 / scale));
        pen.setCapStyle(Qt::RoundCap);
        pen.setJoinStyle(Qt::RoundJoin);
        painter.setPen(pen);
    } else {
        painter.setPen(Qt::NoPen);
    }
    const QRectF box = d.box();
    if (!d.isLine() && (d.fill >> 24) != 0)
        painter.setBrush(wallInk(d.fill, darkWall, true));
    else
        painter.setBrush(Qt::NoBrush);
    switch (d.kind) {
    case pb::SHAPE_LINE:
        painter.drawLine(QLineF(d.x, d.y, d.x + d.width, d.y + d.height));
        break;
    case pb::SHAPE_ARROW: {
        const QPointF end(d.x + d.width, d.y + d.height);
        painter.drawLine(QLineF(QPointF(d.x, d.y), end));
        const auto [l, r] = arrowHead(d);
        const QPointF head[3] = {l, end, r};
        painter.drawPolyline(head, 3);
        break;
    }
    case pb::SHAPE_RECT: painter.drawRect(box); break;
    case pb::SHAPE_ELLIPSE: painter.drawEllipse(box); break;
    case pb::SHAPE_DIAMOND: painter.drawPolygon(diamond(box)); break;
    default: break;
    }
    painter.restore();
}

bool shapeTouches(const WallModel::ShapeData &d, QPointF p, double slack)
{
    if (d.rotation != 0)
        p = turnedAbout(d.x, d.y, -double(d.rotation)).map(p);
    const double reach = slack + d.strokeWidth / 2.0;
    const QRectF box = d.box();
    const bool filled = !d.isLine() && (d.fill >> 24) != 0;
    switch (d.kind) {
    case pb::SHAPE_TEXT: return textRect(d).adjusted(-slack, -slack, slack, slack).contains(p);
    case pb::SHAPE_LINE:
        return distanceToSegment(p, QPointF(d.x, d.y), QPointF(d.x + d.width, d.y + d.height)) <= reach;
    case pb::SHAPE_ARROW: {
        const QPointF end(d.x + d.width, d.y + d.height);
        const auto [l, r] = arrowHead(d);
        return distanceToSegment(p, QPointF(d.x, d.y), end) <= reach
            || distanceToSegment(p, l, end) <= reach || distanceToSegment(p, r, end) <= reach;
    }
    case pb::SHAPE_RECT: {
        if (filled && box.contains(p))
            return true;
        const QPointF c[4] = {box.topLeft(), box.topRight(), box.bottomRight(), box.bottomLeft()};
        for (int i = 0; i < 4; ++i) {
            if (distanceToSegment(p, c[i], c[(i + 1) % 4]) <= reach)
                return true;
        }
        return false;
    }
    case pb::SHAPE_ELLIPSE: {
        const double rx = box.width() / 2, ry = box.height() / 2;
        if (rx <= 0 || ry <= 0)
            return distanceToSegment(p, box.topLeft(), box.bottomRight()) <= reach;
        const QPointF q = p - box.center();
        // Distance from the outline, near enough: the normalized radius's deviation from 1,
        // scaled back by the smaller semi-axis.
        const double k = std::hypot(q.x() / rx, q.y() / ry);
        return (filled && k <= 1) || std::abs(k - 1) * std::min(rx, ry) <= reach;
    }
    case pb::SHAPE_DIAMOND: {
        const QPolygonF poly = diamond(box);
        if (filled && poly.containsPoint(p, Qt::OddEvenFill))
            return true;
        for (int i = 0; i < 4; ++i) {
            if (distanceToSegment(p, poly[i], poly[(i + 1) % 4]) <= reach)
                return true;
        }
        return false;
    }
    default: return false;
    }
}

QImage paintTile(const StrokeBatch &batch, const QRectF &area, double scale, int pixels,
                 QColor background)
{
    QImage image(pixels, pixels, QImage::Format_RGB32);
    image.fill(background);
    QPainter p(&image);
    p.setRenderHint(QPainter::Antialiasing);
    QTransform t;
    t.scale(scale, scale);
    t.translate(-area.left(), -area.top());
    p.setTransform(t);
    paintStrokes(p, batch, scale);
    return image;
}

// --- TilePainter -------------------------------------------------------------------------------

TilePainter::TilePainter(int threads, std::function<void()> finished)
    : m_finished(std::move(finished))
{
    for (int k = 0; k < std::max(1, threads); ++k)
        m_threads.emplace_back([this] { work(); });
}

TilePainter::~TilePainter()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        m_queue.clear();
    }
    m_wake.notify_all();
    for (std::thread &t : m_threads)
        t.join();
}

void TilePainter::submit(std::vector<Job> jobs)
{
    if (jobs.empty())
        return;
    {
        std::lock_guard lock(m_mutex);
        for (Job &job : jobs)
            m_queue.push_back(std::move(job));
    }
    m_wake.notify_all();
}

void TilePainter::retain(const std::function<bool(Job &)> &keep)
{
    std::lock_guard lock(m_mutex);
    m_queue.erase(std::remove_if(m_queue.begin(), m_queue.end(),
                                 [&](Job &job) { return !keep(job); }),
                  m_queue.end());
}

std::vector<TilePainter::Result> TilePainter::takeResults()
{
    std::lock_guard lock(m_mutex);
    return std::exchange(m_done, {});
}

void TilePainter::work()
{
    for (;;) {
        Job job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
            if (m_stop)
                return;
            const auto next = std::min_element(
                m_queue.begin(), m_queue.end(),
                [](const Job &a, const Job &b) { return a.priority < b.priority; });
            job = std::move(*next);
            m_queue.erase(next);
        }
        Result result{job.i, job.j, job.id,
                      paintTile(job.batch, job.area, job.scale, job.pixels, job.background)};
        {
            std::lock_guard lock(m_mutex);
            if (m_stop)
                return;
            m_done.push_back(std::move(result));
        }
        m_finished();
    }
}

} // namespace scrawl
