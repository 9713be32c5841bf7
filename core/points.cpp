#include "core/points.h"

#include "core/limits.h"

#include <google/protobuf/repeated_field.h>

#include <cmath>

namespace scrawl {

namespace {
constexpr std::int64_t kMaxFixed = static_cast<std::int64_t>(limits::kMaxCoordinate) * kCoordScale;
}

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
            return {false, true, QStringLiteral("stroke point %1 lies outside the wall (limit %2: "
                                          "coordinates within ±%3 px)")
                                   .arg(i / 2)
                                   .arg(QLatin1String(limits::kMaxCoordinateName))
                                   .arg(limits::kMaxCoordinate, 0, 'g', 10)};
        }
        out->push_back({std::int32_t(x), std::int32_t(y)});
    }
    return {true, false, {}};
}

} // namespace scrawl
