// Fuzz target: the stroke point delta decoder (core/points.h).
//
// Input: [previous x: 4 bytes LE][previous y: 4 bytes LE][a serialised StrokePoints message].
// Invariants, each a crash when broken:
//  - decodeDeltas either succeeds with one point per x,y pair, every point on the wall, or fails
//    and leaves its output exactly as it was;
//  - a success re-encodes (encodeDeltas from the same previous point) to the very deltas it was
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

std::int32_t readInt32(const std::uint8_t *p)
{
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return std::int32_t(v);
}

constexpr std::int64_t kMaxFixed = std::int64_t(scrawl::limits::kMaxCoordinate) * scrawl::kCoordScale;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    const FixedPoint previous{readInt32(data), readInt32(data + 4)};
    pb::StrokePoints in;
    if (!in.ParseFromArray(data + 8, int(size - 8)))
        return 0;

    // Something already in the output, which a failure must leave alone.
    std::vector<FixedPoint> out{{7, -7}};
    const scrawl::DecodeResult r = scrawl::decodeDeltas(in.points(), previous, &out);
    if (!r.ok) {
        require(!r.error.isEmpty(), "a failed decode says nothing");
        require(out.size() == 1 && out[0] == FixedPoint{7, -7}, "a failed decode changed its output");
        if (r.outOfRange)
            require(r.error.contains(QLatin1String(scrawl::limits::kMaxCoordinateName)),
                    "an out-of-range decode does not name max_coordinate");
        else
            require(in.points_size() % 2 != 0, "a decode of pairs failed without leaving the wall");
        return 0;
    }
    require(!r.outOfRange, "a successful decode is out of range");
    require(in.points_size() % 2 == 0, "an odd count decoded");
    require(out.size() == 1 + size_t(in.points_size() / 2), "a decode made the wrong number of points");
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
    scrawl::encodeDeltas(points, previous, again.mutable_points());
    require(again.points_size() == in.points_size(), "re-encoding changed the count");
    for (int i = 0; i < in.points_size(); ++i)
        require(again.points(i) == in.points(i), "re-encoding changed a delta");
    std::string a, b;
    in.DiscardUnknownFields(); // kept by proto3 parsing; not ours to compare
    in.SerializeToString(&a);
    again.SerializeToString(&b);
    require(a == b, "re-encoding serialises differently");

    // And back once more: decoding what we encoded gives the same points.
    std::vector<FixedPoint> twice;
    require(scrawl::decodeDeltas(again.points(), previous, &twice).ok && twice == points,
            "decode(encode(points)) differs from points");
    return 0;
}
