#include "core/points.h"

#include "core/limits.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/repeated_field.h>

#include <algorithm>
#include <cmath>

namespace scrawl {

std::int64_t StrokePacer::dueMs(std::int64_t oldestWaitingMs) const
{
    const std::int64_t cap = oldestWaitingMs + limits::kStrokeAckWaitCapMs;
    if (inFlight())
        return cap;
    return std::min(cap, std::max(oldestWaitingMs, m_lastSentMs + kStrokeFrameMs));
}

namespace {
constexpr std::int64_t kMaxFixed = static_cast<std::int64_t>(limits::kMaxCoordinate) * kCoordScale;
// A point's error against its prediction (last + step) stays within 4 * kMaxFixed: 32 bits.
static_assert(4 * kMaxFixed < std::int64_t(1) << 31);

std::uint32_t zigzag(std::int32_t v) { return (std::uint32_t(v) << 1) ^ std::uint32_t(v >> 31); }
std::int32_t unzigzag(std::uint32_t v) { return std::int32_t((v >> 1) ^ (~(v & 1) + 1)); }

// Spreads the 32 bits of v over the even bits of a 64-bit word, and gathers them back.
std::uint64_t spread(std::uint32_t v)
{
    std::uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
    x = (x | (x << 2)) & 0x3333333333333333ull;
    x = (x | (x << 1)) & 0x5555555555555555ull;
    return x;
}
std::uint32_t gather(std::uint64_t x)
{
    x &= 0x5555555555555555ull;
    x = (x | (x >> 1)) & 0x3333333333333333ull;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0Full;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFull;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFull;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFull;
    return std::uint32_t(x);
}

DecodeResult outsideTheWall(int index)
{
    return {false, true, QStringLiteral("stroke point %1 lies outside the wall (limit %2: "
                                        "coordinates within ±%3 px)")
                             .arg(index)
                             .arg(QLatin1String(limits::kMaxCoordinateName))
                             .arg(limits::kMaxCoordinate, 0, 'g', 10)};
}
} // namespace

bool isValidCoordinate(double v)
{
    return std::isfinite(v) && std::abs(v) <= limits::kMaxCoordinate;
}

FixedPoint toFixed(QPointF p)
{
    return {static_cast<std::int32_t>(std::lround(p.x() * kCoordScale)),
            static_cast<std::int32_t>(std::lround(p.y() * kCoordScale))};
}

QPointF toPixels(FixedPoint p)
{
    return {double(p.x) / kCoordScale, double(p.y) / kCoordScale};
}

StrokeTail tailOf(const std::vector<FixedPoint> &stroke, size_t count)
{
    StrokeTail tail;
    if (count >= 1) {
        tail.last = stroke[count - 1];
        tail.started = true;
    }
    if (count >= 2)
        tail.step = {tail.last.x - stroke[count - 2].x, tail.last.y - stroke[count - 2].y};
    return tail;
}

namespace {
// Calls put(code) for each point's code, continuing a stroke that stands at `tail`.
template <typename Put>
void forEachCode(const std::vector<FixedPoint> &points, StrokeTail tail, Put put)
{
    for (const FixedPoint p : points) {
        const std::int32_t ex = p.x - (tail.last.x + tail.step.x);
        const std::int32_t ey = p.y - (tail.last.y + tail.step.y);
        put(spread(zigzag(ex)) | (spread(zigzag(ey)) << 1));
        tail.step = tail.started ? FixedPoint{p.x - tail.last.x, p.y - tail.last.y} : FixedPoint{};
        tail.last = p;
        tail.started = true;
    }
}
} // namespace

void encodePath(const std::vector<FixedPoint> &points, StrokeTail tail,
                google::protobuf::RepeatedField<std::uint64_t> *out)
{
    out->Reserve(out->size() + int(points.size()));
    forEachCode(points, tail, [out](std::uint64_t code) { out->AddAlreadyReserved(code); });
}

size_t writePathBytes(const std::vector<FixedPoint> &points, StrokeTail tail, char *out)
{
    auto *p = reinterpret_cast<std::uint8_t *>(out);
    forEachCode(points, tail, [&p](std::uint64_t code) {
        p = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(code, p);
    });
    return size_t(p - reinterpret_cast<std::uint8_t *>(out));
}

DecodeResult decodePath(const google::protobuf::RepeatedField<std::uint64_t> &path, StrokeTail tail,
                        std::vector<FixedPoint> *out)
{
    const size_t start = out->size();
    out->reserve(start + size_t(path.size()));
    // In 64 bits: a hostile error must not wrap around into a valid-looking point.
    std::int64_t x = tail.last.x, y = tail.last.y, dx = tail.step.x, dy = tail.step.y;
    bool started = tail.started;
    for (int i = 0; i < path.size(); ++i) {
        const std::uint64_t code = path.Get(i);
        const std::int64_t nx = x + dx + unzigzag(gather(code));
        const std::int64_t ny = y + dy + unzigzag(gather(code >> 1));
        if (nx > kMaxFixed || nx < -kMaxFixed || ny > kMaxFixed || ny < -kMaxFixed) {
            out->resize(start);
            return outsideTheWall(i);
        }
        if (started) {
            dx = nx - x;
            dy = ny - y;
        }
        x = nx;
        y = ny;
        started = true;
        out->push_back({std::int32_t(x), std::int32_t(y)});
    }
    return {true, false, {}};
}

DecodeResult bothCodesProblem()
{
    return {false, false, QStringLiteral("stroke points came both as a path and as protocol 1's "
                                         "x,y deltas; send one or the other")};
}

void encodeDeltas(const std::vector<FixedPoint> &points, FixedPoint previous,
                  google::protobuf::RepeatedField<std::int32_t> *out)
{
    out->Reserve(out->size() + int(points.size()) * 2);
    for (const FixedPoint p : points) {
        out->AddAlreadyReserved(p.x - previous.x);
        out->AddAlreadyReserved(p.y - previous.y);
        previous = p;
    }
}

DecodeResult decodeDeltas(const google::protobuf::RepeatedField<std::int32_t> &deltas,
                          FixedPoint previous, std::vector<FixedPoint> *out)
{
    if (deltas.size() % 2 != 0)
        return {false, false, QStringLiteral("stroke points must come in x,y pairs, got %1 numbers")
                               .arg(deltas.size())};
    const size_t start = out->size();
    out->reserve(start + size_t(deltas.size() / 2));
    // Accumulate in 64 bits: hostile deltas must not wrap around into a valid-looking point.
    std::int64_t x = previous.x;
    std::int64_t y = previous.y;
    for (int i = 0; i < deltas.size(); i += 2) {
        x += deltas.Get(i);
        y += deltas.Get(i + 1);
        if (x > kMaxFixed || x < -kMaxFixed || y > kMaxFixed || y < -kMaxFixed) {
            out->resize(start);
            return outsideTheWall(i / 2);
        }
        out->push_back({std::int32_t(x), std::int32_t(y)});
    }
    return {true, false, {}};
}

} // namespace scrawl
