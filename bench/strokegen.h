#pragma once

// Natural pen strokes: a smooth path whose direction turns gradually, a bell-shaped speed
// profile, samples at the pen's rate with timing jitter and sub-pixel position noise. Deterministic
// for a seed, so every run and every server sees the same strokes.

#include "core/points.h"
#include "proto/scrawl.pb.h"

#include <cstdint>
#include <random>
#include <vector>

namespace scrawl::bench {

struct PenSample
{
    double ms = 0; // since the pen went down
    double x = 0;  // wall pixels
    double y = 0;
};

class StrokeGen
{
public:
    explicit StrokeGen(std::uint64_t seed) : m_rng(seed) {}
    // One stroke of `points` samples at `hz`, somewhere in a width x height area.
    std::vector<PenSample> next(int points, double hz, double width = 2000, double height = 1200);

private:
    std::mt19937_64 m_rng;
};

// The grid points of a stroke as the app keeps them (repeats of one grid point dropped).
std::vector<FixedPoint> toGrid(const std::vector<PenSample> &samples);

// The fixed batching the app used before StrokePacer (core/points.h): a batch at 12 points or
// after 60 ms. `scrawl-bench strokes` and the soak still send this way (offline, without waiting
// for acknowledgements); `scrawl-bench ink` sends as the app does now.
inline constexpr int kFixedBatchPoints = 12;
inline constexpr int kFixedBatchDelayMs = 60;

struct Batching
{
    double delayMs = kFixedBatchDelayMs;
    int points = kFixedBatchPoints;
};

struct TimedOp
{
    double ms = 0; // after pen down, when the app sends it
    pb::Op op;
};

// The ops the app (app/wallclient.cpp) sends for a stroke drawn in real time, with when it sends
// each: StrokeBegin with the first point at once; StrokePoints when `batching.points` are pending
// or the oldest has waited `batching.delayMs`; StrokeEnd with the rest at pen up.
// client_op_id is left 0.
std::vector<TimedOp> appStroke(const std::vector<PenSample> &samples, std::uint32_t id,
                               std::uint32_t color, Batching batching = {});
std::vector<pb::Op> appStrokeOps(const std::vector<PenSample> &samples, std::uint32_t id,
                                 Batching batching = {});

} // namespace scrawl::bench
