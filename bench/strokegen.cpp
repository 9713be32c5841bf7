#include "bench/strokegen.h"

#include <QPointF>

#include <algorithm>
#include <cmath>

namespace scrawl::bench {

std::vector<PenSample> StrokeGen::next(int points, double hz, double width, double height)
{
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> noise(0.0, 0.15); // px: digitiser noise and hand tremor
    const double duration = points / hz;               // s
    const double vmax = 250 + 900 * u(m_rng);          // px/s at the fastest point of the stroke
    const double heading = 2 * M_PI * u(m_rng);
    const double turn1 = (u(m_rng) - 0.5) * 8;         // rad/s: gentle curvature
    const double wobbleAmp = 0.5 + 1.5 * u(m_rng);     // rad: loops and hooks of handwriting
    const double wobbleHz = 1 + 3 * u(m_rng);
    const double phase = 2 * M_PI * u(m_rng);
    double x = 100 + (width - 200) * u(m_rng);
    double y = 100 + (height - 200) * u(m_rng);
    std::vector<PenSample> out;
    out.reserve(size_t(points));
    double t = 0;
    for (int i = 0; i < points; ++i) {
        out.push_back({t * 1000.0, x + noise(m_rng), y + noise(m_rng)});
        const double dt = (1.0 + (u(m_rng) - 0.5) * 0.1) / hz; // sampling jitter of ±5 %
        const double s = std::clamp(t / duration, 0.0, 1.0);
        const double speed = 0.15 * vmax + 0.85 * vmax * std::pow(std::sin(M_PI * s), 0.8);
        const double angle = heading + turn1 * t + wobbleAmp * std::sin(2 * M_PI * wobbleHz * t + phase);
        x += speed * dt * std::cos(angle);
        y += speed * dt * std::sin(angle);
        t += dt;
    }
    return out;
}

std::vector<FixedPoint> toGrid(const std::vector<PenSample> &samples)
{
    std::vector<FixedPoint> out;
    for (const PenSample &s : samples) {
        const FixedPoint p = toFixed(QPointF(s.x, s.y));
        if (out.empty() || out.back() != p)
            out.push_back(p);
    }
    return out;
}

std::vector<TimedOp> appStroke(const std::vector<PenSample> &samples, std::uint32_t id,
                               std::uint32_t color, Batching batching)
{
    std::vector<TimedOp> out;
    if (samples.empty())
        return out;
    std::vector<FixedPoint> points{toFixed(QPointF(samples[0].x, samples[0].y))};
    {
        TimedOp t;
        auto *b = t.op.mutable_stroke_begin();
        b->set_id(id);
        b->set_color(color);
        b->set_width(3);
        encodePoints(points, {}, b);
        out.push_back(std::move(t));
    }
    size_t sent = 1;
    double timerDue = -1; // when the batch timer fires; < 0: not running
    const auto take = [&](auto *message) {
        const std::vector<FixedPoint> chunk(points.begin() + long(sent), points.end());
        encodePoints(chunk, tailOf(points, sent), message);
        sent = points.size();
    };
    const auto flush = [&](double ms) {
        TimedOp t;
        t.ms = ms;
        t.op.mutable_stroke_points()->set_id(id);
        take(t.op.mutable_stroke_points());
        out.push_back(std::move(t));
        timerDue = -1;
    };
    for (size_t i = 1; i < samples.size(); ++i) {
        if (timerDue >= 0 && samples[i].ms >= timerDue)
            flush(timerDue);
        const FixedPoint p = toFixed(QPointF(samples[i].x, samples[i].y));
        if (p == points.back())
            continue;
        points.push_back(p);
        if (points.size() - sent >= size_t(batching.points))
            flush(samples[i].ms);
        else if (timerDue < 0)
            timerDue = samples[i].ms + batching.delayMs;
    }
    TimedOp end; // pen up: the rest ride in the end
    end.ms = samples.back().ms;
    end.op.mutable_stroke_end()->set_id(id);
    if (sent < points.size())
        take(end.op.mutable_stroke_end());
    out.push_back(std::move(end));
    return out;
}

std::vector<pb::Op> appStrokeOps(const std::vector<PenSample> &samples, std::uint32_t id,
                                 Batching batching)
{
    std::vector<pb::Op> ops;
    for (TimedOp &t : appStroke(samples, id, 0x1e88e5, batching))
        ops.push_back(std::move(t.op));
    return ops;
}

} // namespace scrawl::bench
