#include "core/wallhistory.h"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace scrawl {

namespace {
// Checkpoints no closer than this much op work: a small wall keeps a few, not one per op.
constexpr std::uint64_t kMinCheckpointWork = 64 * 1024;
// What one op costs to replay beyond its bytes (parsing is done; finding its object is not).
constexpr std::uint64_t kOpWork = 24;
} // namespace

void WallHistory::reset(WallModel base)
{
    m_firstSeq = base.seq();
    m_ops.clear();
    m_times.clear();
    m_changed.clear();
    m_changedFrom.clear();
    m_clears.clear();
    m_checkpoints.clear();
    m_tail = base;
    m_model = base;
    m_checkpoints.push_back({m_firstSeq, std::move(base)});
    m_workSinceCheckpoint = 0;
}

bool WallHistory::append(const pb::Op &op)
{
    if (op.seq() != lastSeq() + 1)
        return false;
    m_ops.push_back(op);
    m_times.push_back(op.time_ms() != 0 ? op.time_ms() : (m_times.empty() ? 0 : m_times.back()));
    const WallModel::Change change = m_tail.apply(op);
    m_changedFrom.push_back(std::uint32_t(m_changed.size()));
    for (std::uint64_t key : change.strokes)
        m_changed.push_back({key, 0});
    for (std::uint64_t key : change.notes)
        m_changed.push_back({key, 1});
    for (std::uint64_t key : change.images)
        m_changed.push_back({key, 2});
    for (std::uint64_t key : change.shapes)
        m_changed.push_back({key, 3});
    if (change.cleared)
        m_clears.push_back(op.seq());
    m_workSinceCheckpoint += op.ByteSizeLong() + kOpWork;
    if (m_workSinceCheckpoint >= std::max(kMinCheckpointWork, copyCost(m_tail))) {
        m_checkpoints.push_back({m_tail.seq(), m_tail});
        m_workSinceCheckpoint = 0;
    }
    return true;
}

std::uint64_t WallHistory::copyCost(const WallModel &model)
{
    // A point is 8 bytes to copy against about 2 on the wire to decode; an object is a few
    // allocations.
    return model.totalPoints() + 64 * (model.strokes().size() + model.notes().size() + model.images().size()
                                       + model.shapes().size());
}

std::uint64_t WallHistory::checkpointPoints() const
{
    std::uint64_t points = 0;
    for (const Checkpoint &c : m_checkpoints)
        points += c.model.totalPoints();
    return points;
}

const WallModel &WallHistory::seek(std::uint64_t seq)
{
    seekInto(&m_model, seq);
    return m_model;
}

void WallHistory::seekInto(WallModel *model, std::uint64_t seq) const
{
    seq = std::clamp(seq, m_firstSeq, lastSeq());
    if (seq == model->seq())
        return;
    // The last checkpoint at or before seq.
    auto it = std::upper_bound(m_checkpoints.begin(), m_checkpoints.end(), seq,
                               [](std::uint64_t s, const Checkpoint &c) { return s < c.seq; });
    const Checkpoint &from = *std::prev(it);
    // Going on from where the model is beats copying the checkpoint when it lies in between.
    if (model->seq() > seq || model->seq() < from.seq)
        *model = from.model;
    for (std::uint64_t s = model->seq() + 1; s <= seq; ++s)
        model->apply(m_ops[s - m_firstSeq - 1]);
}

WallModel::Change WallHistory::changedBetween(std::uint64_t a, std::uint64_t b) const
{
    WallModel::Change change;
    if (a > b)
        std::swap(a, b);
    a = std::max(a, m_firstSeq);
    b = std::min(b, lastSeq());
    if (a >= b)
        return change;
    change.cleared = std::any_of(m_clears.begin(), m_clears.end(), [&](std::uint64_t s) { return s > a && s <= b; });
    const size_t first = m_changedFrom[a - m_firstSeq];
    const size_t end = b == lastSeq() ? m_changed.size() : m_changedFrom[b - m_firstSeq];
    std::unordered_set<std::uint64_t> seen[4];
    std::vector<std::uint64_t> *lists[4] = {&change.strokes, &change.notes, &change.images, &change.shapes};
    for (size_t i = first; i < end; ++i) {
        const Changed &c = m_changed[i];
        if (seen[c.kind].insert(c.key).second)
            lists[c.kind]->push_back(c.key);
    }
    change.moved = true; // points may differ either way: whole strokes, not grown parts
    return change;
}

const pb::Op *WallHistory::op(std::uint64_t seq) const
{
    if (seq <= m_firstSeq || seq > lastSeq())
        return nullptr;
    return &m_ops[seq - m_firstSeq - 1];
}

std::int64_t WallHistory::timeAt(std::uint64_t seq) const
{
    if (seq <= m_firstSeq || m_times.empty())
        return m_times.empty() ? 0 : m_times.front();
    return m_times[std::min<std::uint64_t>(seq, lastSeq()) - m_firstSeq - 1];
}

std::vector<std::pair<std::uint64_t, int>> WallHistory::authorsBetween(std::uint64_t from, std::uint64_t to) const
{
    std::map<std::uint64_t, int> counts;
    from = std::max(from, m_firstSeq);
    to = std::min(to, lastSeq());
    for (std::uint64_t s = from + 1; s <= to; ++s) {
        const pb::Op &o = m_ops[s - m_firstSeq - 1];
        if (o.body_case() != pb::Op::BODY_NOT_SET && o.body_case() != pb::Op::kChat)
            ++counts[o.author()];
    }
    return {counts.begin(), counts.end()};
}

} // namespace scrawl
