#pragma once

// Stroke points on the wire: fixed-point coordinates (kCoordScale units per pixel), each point
// sent as the difference from the one before it. The differences travel in packed sint32
// fields, i.e. zig-zag varints, so a natural pen stroke costs about two bytes a point.

#include <QPointF>
#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace google::protobuf {
template <typename T> class RepeatedField;
}

namespace scrawl {

inline constexpr int kCoordScale = 4; // quarter-pixel grid

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

// Appends points to `out` as deltas, the first relative to `previous`.
void encodeDeltas(const std::vector<FixedPoint> &points, FixedPoint previous,
                  google::protobuf::RepeatedField<std::int32_t> *out);

struct DecodeResult
{
    bool ok = false;
    bool outOfRange = false; // a point left the wall (limit max_coordinate)
    QString error;           // what is wrong, for a person, when !ok
};

// Decodes deltas, the first relative to `previous`, appending to `out`. Fails (and leaves `out`
// as it was) on an odd count or a point outside limits::kMaxCoordinate.
DecodeResult decodeDeltas(const google::protobuf::RepeatedField<std::int32_t> &deltas,
                          FixedPoint previous, std::vector<FixedPoint> *out);

} // namespace scrawl
