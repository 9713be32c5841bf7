#pragma once

// Stroke points on the wire: fixed-point coordinates (kCoordScale units per pixel).
//
// Each point is predicted to take the same step as the point before it did (the first from the
// origin, the second from the first); what travels is the error of that guess. Its x and y are
// zig-zagged (small magnitudes become small numbers), their bits interleaved (x in the even bits,
// y in the odd) and the result sent as one varint of a packed uint64 field, `path`. A pen
// moving smoothly is off by at most ±3 quarter pixels in each axis most of the time: one byte a
// point, about half of what plain x,y deltas in two varints cost.
//
// Protocol 1 sent plain deltas in packed sint32 `points` fields; walls stored then still hold
// them, so they are still read (decodeDeltas), never written.

#include <QPointF>
#include <QString>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace google::protobuf {
template <typename T> class RepeatedField;
}

namespace scrawl {

inline constexpr int kCoordScale = 4; // quarter-pixel grid

// How a client sends a stroke while it is being drawn (WallClient; `scrawl-bench ink` sends the
// same way, through this class). The first point goes at once, in StrokeBegin, so that others see
// the pen land. After it the link sets the pace: when nothing of the stroke is waiting for its
// acknowledgement, the points drawn go at once, at most one message a frame (kStrokeFrameMs);
// while a batch is in flight, new points wait and go together when it is acknowledged. On
// loopback or a LAN that is one message a frame (live ink); over a slow link the batches grow by
// themselves (fewer bytes a point, since every message costs 15-18 bytes besides its points:
// WebSocket header, mask or sequence number and author, stroke id, field tags). Points never wait
// longer than limits::kStrokeAckWaitCapMs for an acknowledgement that does not come. At pen up
// the rest travel in the StrokeEnd. Measured by `scrawl-bench ink` (bench/RESULTS.md).
inline constexpr int kStrokeFrameMs = 16;

class StrokePacer
{
public:
    // A batch of the stroke (its StrokeBegin included) left at `nowMs` as op `opId`.
    void sent(std::uint64_t opId, std::int64_t nowMs)
    {
        m_inFlight = opId;
        m_lastSentMs = nowMs;
    }
    // Op `opId` came back acknowledged. Only the newest batch sent counts: ops are acknowledged
    // in order, so the stroke has nothing in flight once it is.
    void acknowledged(std::uint64_t opId)
    {
        if (opId == m_inFlight)
            m_inFlight = 0;
    }
    bool inFlight() const { return m_inFlight != 0; }
    // When points that have waited since `oldestWaitingMs` should go (a time at or before now:
    // at once).
    std::int64_t dueMs(std::int64_t oldestWaitingMs) const;

private:
    std::uint64_t m_inFlight = 0; // op id of the batch awaiting its acknowledgement; 0: none
    std::int64_t m_lastSentMs = INT64_MIN / 2;
};

// How a receiver draws someone else's stroke as it arrives, a batch at a time (the counterpart
// of StrokePacer): at the pace it was drawn. Each batch is played out over the time this
// person's batches have been seen to take to arrive (a moving average, from a frame up to
// kMaxPlayoutMs), so that it is all drawn about when the next one comes: a frame on a fast link,
// a round trip on a slow one. The ink flows instead of jumping a batch at a time, and is behind
// the pen by one batch interval at most; a backlog (a late batch, then two at once) plays out
// faster, in the same time. Gaps longer than kPlayoutPauseMs are the pen resting, not the link,
// and leave the average as it was.
inline constexpr double kMaxPlayoutMs = 150;
inline constexpr double kPlayoutPauseMs = 400;

class InkPlayout
{
public:
    // A batch arrived at `nowMs`: the stroke had `firstNew` points and now has `total`.
    // `intervalMs`: how far apart this person's batches come (kept by the caller across their
    // strokes; start it at kStrokeFrameMs). Returns true when nothing was waiting, so the batch
    // starts at once (its first point is shown now).
    bool arrived(std::int64_t nowMs, size_t firstNew, size_t total, double *intervalMs)
    {
        if (m_arrivedMs >= 0) {
            advance(nowMs, firstNew); // what came before, as far as it got by now
            const double gap = double(nowMs - m_arrivedMs);
            if (gap <= kPlayoutPauseMs)
                *intervalMs = std::clamp(0.75 * *intervalMs + 0.25 * gap, double(kStrokeFrameMs),
                                         kMaxPlayoutMs);
        }
        const bool fresh = m_arrivedMs < 0 || m_shown >= double(firstNew);
        m_arrivedMs = nowMs;
        if (fresh)
            m_shown = double(std::min(firstNew + 1, total));
        m_lastMs = nowMs;
        m_rate = std::max(0.0, double(total) - m_shown) / std::max(1.0, *intervalMs);
        return fresh;
    }
    // Points of a stroke of `total` to show at `nowMs` (never fewer than before).
    size_t advance(std::int64_t nowMs, size_t total)
    {
        m_shown = std::min(double(total), m_shown + m_rate * double(nowMs - m_lastMs));
        m_lastMs = nowMs;
        return size_t(m_shown);
    }
    size_t shown() const { return size_t(m_shown); }

private:
    double m_shown = 0;           // points drawn (a fraction between frames)
    double m_rate = 0;            // points a millisecond until the rest is drawn
    std::int64_t m_lastMs = 0;    // when m_shown was last moved on
    std::int64_t m_arrivedMs = -1; // when the last batch came
};

// A pen's pressure (0..1, as Qt reports it) as it travels: one byte a point
// (pb::StrokeBegin.pressure), and how much of a stroke's width a point of that pressure gets.
inline std::uint8_t toPressureByte(double pressure)
{
    return std::uint8_t(std::clamp(pressure, 0.0, 1.0) * 255.0 + 0.5);
}
inline double pressureWidthFactor(std::uint8_t pressure) { return 0.15 + 0.85 * (pressure / 255.0); }

struct FixedPoint
{
    std::int32_t x = 0;
    std::int32_t y = 0;
    friend bool operator==(FixedPoint a, FixedPoint b) { return a.x == b.x && a.y == b.y; }
    friend bool operator!=(FixedPoint a, FixedPoint b) { return !(a == b); }
};

// Rounds a wall position in pixels to the grid. The caller has checked it is finite and in range.
FixedPoint toFixed(QPointF p);
QPointF toPixels(FixedPoint p);
// True when the pixel coordinate is finite and within limits::kMaxCoordinate.
bool isValidCoordinate(double v);

struct DecodeResult
{
    bool ok = false;
    bool outOfRange = false; // a point left the wall (limit max_coordinate)
    QString error;           // what is wrong, for a person, when !ok
};

// Where a stroke stands before its next points: the last point and the step that led to it.
struct StrokeTail
{
    FixedPoint last;      // the origin before the first point
    FixedPoint step;      // last - the point before it; none before the second point
    bool started = false; // the stroke has a point
};
StrokeTail tailOf(const std::vector<FixedPoint> &stroke, size_t count);
inline StrokeTail tailOf(const std::vector<FixedPoint> &stroke) { return tailOf(stroke, stroke.size()); }

// Appends `points` to `out` in the path code, continuing a stroke that stands at `tail`.
void encodePath(const std::vector<FixedPoint> &points, StrokeTail tail,
                google::protobuf::RepeatedField<std::uint64_t> *out);

// The same codes as encodePath, written to `out` as the varint bytes of a packed field's payload
// (for a writer that skips building messages). `out` must have room for kMaxPathBytesPerPoint
// bytes a point; returns how many were written.
inline constexpr size_t kMaxPathBytesPerPoint = 10;
size_t writePathBytes(const std::vector<FixedPoint> &points, StrokeTail tail, char *out);

// Decodes a path continuing a stroke that stands at `tail`, appending to `out`. Fails (and
// leaves `out` as it was) on a point outside limits::kMaxCoordinate.
DecodeResult decodePath(const google::protobuf::RepeatedField<std::uint64_t> &path, StrokeTail tail,
                        std::vector<FixedPoint> *out);

// Protocol 1's code, for the tests and tools that check old walls still load: appends points to
// `out` as deltas, the first relative to `previous`.
void encodeDeltas(const std::vector<FixedPoint> &points, FixedPoint previous,
                  google::protobuf::RepeatedField<std::int32_t> *out);

// Decodes protocol 1's deltas, the first relative to `previous`, appending to `out`. Fails (and
// leaves `out` as it was) on an odd count or a point outside limits::kMaxCoordinate.
DecodeResult decodeDeltas(const google::protobuf::RepeatedField<std::int32_t> &deltas,
                          FixedPoint previous, std::vector<FixedPoint> *out);

// The same for any message that carries stroke points (StrokeBegin, StrokePoints, SnapStroke):
// how many it carries, writing them, and reading them in whichever code they came.
template <typename Message>
int pointCount(const Message &m)
{
    return m.path_size() + m.points_size() / 2;
}

template <typename Message>
void encodePoints(const std::vector<FixedPoint> &points, StrokeTail tail, Message *m)
{
    encodePath(points, tail, m->mutable_path());
}

DecodeResult bothCodesProblem();

template <typename Message>
DecodeResult decodePoints(const Message &m, StrokeTail tail, std::vector<FixedPoint> *out)
{
    if (m.points_size() == 0)
        return decodePath(m.path(), tail, out);
    if (m.path_size() != 0)
        return bothCodesProblem();
    return decodeDeltas(m.points(), tail.last, out);
}

} // namespace scrawl
