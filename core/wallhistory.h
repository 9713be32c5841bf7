#pragma once

// The wall's past, for the timeline: a starting state (the empty wall, or a snapshot when older
// ops are no longer kept) and every op after it in order, replayed through the same WallModel
// code to show the wall as it stood after any one of them.
//
// Replaying from the start for each step would cost the whole history; keeping the model after
// every op would cost memory without end. Instead a copy of the model is kept at checkpoints,
// one each time the replay since the last has cost about as much as copying the model would.
// A step anywhere then costs at most one copy and about one copy's worth of replay, and all the
// copies together weigh about what the ops do.

#include "core/wallmodel.h"

#include <cstdint>
#include <vector>

namespace scrawl {

class WallHistory
{
public:
    // Starts over from `base`: the empty wall (seq 0) or a snapshot loaded at its seq.
    void reset(WallModel base);
    // Appends the op after the last one held. Returns false, appending nothing, for an op that
    // is not the next seq.
    bool append(const pb::Op &op);

    // The state history starts from, and the last op held.
    std::uint64_t firstSeq() const { return m_firstSeq; }
    std::uint64_t lastSeq() const { return m_firstSeq + m_ops.size(); }
    // The wall right after op `seq` (clamped to firstSeq..lastSeq).
    const WallModel &seek(std::uint64_t seq);
    const WallModel &model() const { return m_model; }
    // The same into a model of the caller's (which then needs no copy of its own): `model` goes
    // on from where it is when that is a state of this history at or after the checkpoint before
    // `seq`, and starts from that checkpoint's copy otherwise.
    void seekInto(WallModel *model, std::uint64_t seq) const;
    // What differs between the wall after op `a` and after op `b` (either way round): the
    // objects the ops between them changed, as WallModel::apply reported each (cleared when one
    // of them cleared the wall).
    WallModel::Change changedBetween(std::uint64_t a, std::uint64_t b) const;

    // The op at `seq`, or null outside firstSeq+1..lastSeq.
    const pb::Op *op(std::uint64_t seq) const;
    // The server's time of op `seq`: that of the last op at or before it that carries one (a
    // stroke's points and end carry none); 0 when none does.
    std::int64_t timeAt(std::uint64_t seq) const;
    // The ops in seq range (from, to] that authored something, counted by author.
    std::vector<std::pair<std::uint64_t, int>> authorsBetween(std::uint64_t from, std::uint64_t to) const;

    size_t checkpointCount() const { return m_checkpoints.size(); }
    // The points the checkpoints hold together (8 bytes each): what they weigh, about.
    std::uint64_t checkpointPoints() const;

private:
    struct Checkpoint
    {
        std::uint64_t seq = 0;
        WallModel model;
    };
    // About what copying `model` costs, in the unit of op work (its bytes on the wire).
    static std::uint64_t copyCost(const WallModel &model);

    std::uint64_t m_firstSeq = 0;
    std::vector<pb::Op> m_ops;
    std::vector<std::int64_t> m_times; // timeAt for each op held
    // What each op changed (WallModel::apply's Change): its objects, flat, each op's from
    // m_changedFrom[i]; kind 0 stroke, 1 note, 2 image, 3 shape. And the ops that cleared.
    struct Changed
    {
        std::uint64_t key;
        std::uint8_t kind;
    };
    std::vector<Changed> m_changed;
    std::vector<std::uint32_t> m_changedFrom;
    std::vector<std::uint64_t> m_clears;
    std::vector<Checkpoint> m_checkpoints; // ascending seq; the first is the base
    // Built as ops arrive: the model after the last op, and the work since the last checkpoint.
    WallModel m_tail;
    std::uint64_t m_workSinceCheckpoint = 0;
    WallModel m_model; // what seek() shows
};

} // namespace scrawl
