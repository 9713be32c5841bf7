#include "app/strokeindex.h"

#include <algorithm>
#include <cmath>

namespace scrawl {

namespace {
constexpr std::int64_t kMaxCellsPerStroke = 256;
}

void StrokeIndex::clear()
{
    m_cells.clear();
    m_big.clear();
    m_stamp.clear();
    m_query = 0;
}

void StrokeIndex::insert(std::uint32_t index, const QRectF &bounds)
{
    if (bounds.isNull() && bounds.topLeft().isNull() && bounds.width() == 0)
        return;
    if (m_stamp.size() <= index)
        m_stamp.resize(size_t(index) + 1, 0);
    const auto x0 = std::int64_t(std::floor(bounds.left() / kCellSize));
    const auto x1 = std::int64_t(std::floor(bounds.right() / kCellSize));
    const auto y0 = std::int64_t(std::floor(bounds.top() / kCellSize));
    const auto y1 = std::int64_t(std::floor(bounds.bottom() / kCellSize));
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > kMaxCellsPerStroke) {
        if (std::find(m_big.begin(), m_big.end(), index) == m_big.end())
            m_big.push_back(index);
        return;
    }
    for (auto cx = x0; cx <= x1; ++cx) {
        for (auto cy = y0; cy <= y1; ++cy) {
            auto &cell = m_cells[cellKey(cx, cy)];
            // A growing stroke is usually the last one added to its cells.
            if (cell.empty() || cell.back() != index)
                cell.push_back(index);
        }
    }
}

void StrokeIndex::query(const QRectF &rect, std::vector<std::uint32_t> *out)
{
    out->clear();
    if (++m_query == 0) {
        std::fill(m_stamp.begin(), m_stamp.end(), 0);
        m_query = 1;
    }
    auto take = [&](std::uint32_t i) {
        if (i < m_stamp.size() && m_stamp[i] != m_query) {
            m_stamp[i] = m_query;
            out->push_back(i);
        }
    };
    const auto x0 = std::int64_t(std::floor(rect.left() / kCellSize));
    const auto x1 = std::int64_t(std::floor(rect.right() / kCellSize));
    const auto y0 = std::int64_t(std::floor(rect.top() / kCellSize));
    const auto y1 = std::int64_t(std::floor(rect.bottom() / kCellSize));
    const std::int64_t span = (x1 - x0 + 1) * (y1 - y0 + 1);
    if (span > std::int64_t(m_cells.size())) {
        // Zoomed far out: walking the occupied cells is cheaper than walking the rectangle.
        for (const auto &[key, cell] : m_cells) {
            const auto cx = std::int64_t(std::int32_t(key >> 32));
            const auto cy = std::int64_t(std::int32_t(key & 0xffffffffu));
            if (cx >= x0 && cx <= x1 && cy >= y0 && cy <= y1) {
                for (const auto i : cell)
                    take(i);
            }
        }
    } else {
        for (auto cx = x0; cx <= x1; ++cx) {
            for (auto cy = y0; cy <= y1; ++cy) {
                const auto it = m_cells.find(cellKey(cx, cy));
                if (it == m_cells.end())
                    continue;
                for (const auto i : it->second)
                    take(i);
            }
        }
    }
    for (const auto i : m_big)
        take(i);
    std::sort(out->begin(), out->end());
}

} // namespace scrawl
