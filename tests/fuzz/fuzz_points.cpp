// Fuzz target: the stroke point decoders (core/points.h), both the path code and protocol 1's
// deltas, through decodePoints as the wall model calls it.
//
// Input: [x0, y0, x1, y1: 4 bytes LE each][n: 1 byte][a serialised StrokePoints message]. The
// stroke so far holds the first n % 3 of the points (x0, y0), (x1, y1), each folded onto the wall
// (stored strokes only ever hold points on it).
// Invariants, each a crash when broken:
//  - decodePoints either succeeds with one point per code (or per x,y pair), every point on the
//    wall, or fails with a message and leaves its output exactly as it was;
//  - a message with both codes fails; an odd count of deltas fails;
//  - a success re-encodes (in the same code, from the same stroke) to the very numbers it was
//    given, and the re-encoded message serialises to the same bytes as the parsed one;
//  - every decoded point survives toPixels -> toFixed unchanged, and isValidCoordinate accepts it.

#include "core/limits.h"
#include "core/points.h"
#include "proto/scrawl.pb.h"

#include <google/protobuf/repeated_field.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace pb = scrawl::pb;
using scrawl::FixedPoint;

namespace {

[[noreturn]] void broken(const char *what)
{
    std::fprintf(stderr, "fuzz_points: invariant broken: %s\n", what);
    std::abort();
}

void require(bool ok, const char *what)
{
    if (!ok)
        broken(what);
}

constexpr std::int64_t kMaxFixed = std::int64_t(scrawl::limits::kMaxCoordinate) * scrawl::kCoordScale;

// A coordinate from four input bytes, folded onto the wall.
std::int32_t readCoordinate(const std::uint8_t *p)
{
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return std::int32_t(std::int64_t(v) % (2 * kMaxFixed + 1) - kMaxFixed);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size)
{
    constexpr size_t kHeader = 17;
    if (size < kHeader)
        return 0;
    const std::vector<FixedPoint> before{{readCoordinate(data), readCoordinate(data + 4)},
                                         {readCoordinate(data + 8), readCoordinate(data + 12)}};
    const scrawl::StrokeTail tail = scrawl::tailOf(before, data[16] % 3);
    pb::StrokePoints in;
    if (!in.ParseFromArray(data + kHeader, int(size - kHeader)))
        return 0;
    const bool deltas = in.points_size() > 0;

    // Something already in the output, which a failure must leave alone.
    std::vector<FixedPoint> out{{7, -7}};
    const scrawl::DecodeResult r = scrawl::decodePoints(in, tail, &out);
    if (!r.ok) {
        require(!r.error.isEmpty(), "a failed decode says nothing");
        require(out.size() == 1 && out[0] == FixedPoint{7, -7}, "a failed decode changed its output");
        if (r.outOfRange)
            require(r.error.contains(QLatin1String(scrawl::limits::kMaxCoordinateName)),
                    "an out-of-range decode does not name max_coordinate");
        else
            require((deltas && in.path_size() > 0) || in.points_size() % 2 != 0,
                    "a decode failed without leaving the wall, mixing codes or an odd count");
        return 0;
    }
    require(!r.outOfRange, "a successful decode is out of range");
    require(!(deltas && in.path_size() > 0), "a message with both codes decoded");
    require(in.points_size() % 2 == 0, "an odd count decoded");
    require(out.size() == 1 + size_t(scrawl::pointCount(in)), "a decode made the wrong number of points");
    const std::vector<FixedPoint> points(out.begin() + 1, out.end());
    for (const FixedPoint p : points) {
        require(std::int64_t(p.x) <= kMaxFixed && std::int64_t(p.x) >= -kMaxFixed
                    && std::int64_t(p.y) <= kMaxFixed && std::int64_t(p.y) >= -kMaxFixed,
                "a decoded point lies outside the wall");
        const QPointF pixels = scrawl::toPixels(p);
        require(scrawl::isValidCoordinate(pixels.x()) && scrawl::isValidCoordinate(pixels.y()),
                "a decoded point is not a valid coordinate");
        require(scrawl::toFixed(pixels) == p, "toPixels -> toFixed moved a point");
    }

    pb::StrokePoints again;
    again.set_id(in.id());
    again.set_pressure(in.pressure()); // not a point code: checked by the model, carried as is
    if (deltas)
        scrawl::encodeDeltas(points, tail.last, again.mutable_points());
    else
        scrawl::encodePoints(points, tail, &again);
    require(again.points_size() == in.points_size() && again.path_size() == in.path_size(),
            "re-encoding changed the count");
    for (int i = 0; i < in.points_size(); ++i)
        require(again.points(i) == in.points(i), "re-encoding changed a delta");
    for (int i = 0; i < in.path_size(); ++i)
        require(again.path(i) == in.path(i), "re-encoding changed a path code");
    std::string a, b;
    in.DiscardUnknownFields(); // kept by proto3 parsing; not ours to compare
    in.SerializeToString(&a);
    again.SerializeToString(&b);
    require(a == b, "re-encoding serialises differently");

    // And back once more: decoding what we encoded gives the same points.
    std::vector<FixedPoint> twice;
    require(scrawl::decodePoints(again, tail, &twice).ok && twice == points,
            "decode(encode(points)) differs from points");
    return 0;
}
