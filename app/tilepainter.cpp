#include "app/tilepainter.h"

#include <QPainter>
#include <QPen>

#include <algorithm>
#include <utility>

namespace scrawl {

namespace {

// Joins: QPainter's round joins cost half of a tile's painting (the stroker works out an arc at
// every vertex), yet on a hand-drawn line, where consecutive segments turn by a few degrees, a
// bevel join differs from a round one by far less than a pixel. So lines are stroked with bevel
// joins, and a disc of the pen's width is added only at the vertices where the two would differ
// by more than this: a round join is exactly the bevel join plus that disc.
constexpr double kJoinTolerancePx = 0.25;

QColor ink(std::uint32_t c) { return QColor::fromRgb(QRgb(0xff000000u | (c & 0xffffffu))); }

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

void StrokeBatch::add(std::span<const FixedPoint> in, std::uint32_t color, float width,
                      double scale)
{
    if (in.empty())
        return;
    Stroke s;
    s.first = std::uint32_t(points.size());
    s.color = color;
    s.width = width;
    const double minStep = 0.5 / scale * kCoordScale;
    const double minStep2 = minStep * minStep;
    FixedPoint last = in.front();
    points.push_back(toPixels(last));
    for (size_t i = 1; i < in.size(); ++i) {
        const double dx = in[i].x - last.x, dy = in[i].y - last.y;
        if (dx * dx + dy * dy < minStep2 && i + 1 != in.size())
            continue;
        last = in[i];
        points.push_back(toPixels(last));
    }
    s.count = std::uint32_t(points.size()) - s.first;
    strokes.push_back(s);
}

void paintStrokes(QPainter &painter, const StrokeBatch &batch, double scale)
{
    if (!batch.pictures.empty()) {
        painter.save();
        painter.setRenderHint(QPainter::SmoothPixmapTransform);
        for (const StrokeBatch::Picture &p : batch.pictures) {
            if (!p.image.isNull()) {
                painter.drawImage(p.rect, p.image);
                continue;
            }
            // Not here yet (or it could not be shown): a quiet box where it will be.
            painter.setPen(QPen(QColor(0xc8, 0xc8, 0xc8), 1.0 / scale));
            painter.setBrush(QColor(0xf0, 0xf0, 0xf0));
            painter.drawRect(p.rect);
        }
        painter.restore();
    }
    for (const StrokeBatch::Stroke &s : batch.strokes) {
        // Never thinner than about a device pixel, or far-out strokes vanish.
        const double penWidth = std::max(double(s.width), 0.8 / scale);
        drawStroke(painter, batch.points.data() + s.first, int(s.count), ink(s.color), penWidth,
                   scale);
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
