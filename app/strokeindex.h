#pragma once

// A uniform grid over the wall that answers "which strokes may touch this rectangle" without
// looking at every stroke: what makes a 100,000-stroke wall cheap to pan, draw a tile of, or erase
// in. Strokes are named by their index in WallModel::strokes() (creation order = draw order).

#include <QRectF>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace scrawl {

class StrokeIndex
{
public:
    static constexpr double kCellSize = 256.0; // wall pixels

    void clear();
    // Adds `index` to every cell `bounds` touches; call again with the new part when it grows.
    void insert(std::uint32_t index, const QRectF &bounds);
    // Indices of strokes whose cells touch `rect`, ascending (= draw order), each once.
    void query(const QRectF &rect, std::vector<std::uint32_t> *out);
    size_t cellCount() const { return m_cells.size(); }

private:
    static std::uint64_t cellKey(std::int64_t cx, std::int64_t cy)
    {
        return (std::uint64_t(std::uint32_t(std::int32_t(cx))) << 32) | std::uint32_t(std::int32_t(cy));
    }

    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> m_cells;
    // Strokes spanning very many cells are kept aside and checked on every query.
    std::vector<std::uint32_t> m_big;
    std::vector<std::uint32_t> m_stamp;
    std::uint32_t m_query = 0;
};

} // namespace scrawl
