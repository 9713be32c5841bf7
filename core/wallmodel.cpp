#include "core/wallmodel.h"

#include "core/limits.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <unordered_set>

namespace scrawl {

namespace {

constexpr TextRules kChatRules{"chat message", limits::kMaxChatChars, limits::kMaxChatCharsName,
                               false, true};
constexpr TextRules kNoteRules{"note text", limits::kMaxNoteChars, limits::kMaxNoteCharsName,
                               true, true};

Problem invalid(const QString &message) { return {pb::INVALID_OP, message, {}}; }

Problem decodeProblem(const DecodeResult &r)
{
    return r.outOfRange ? limitProblem(limits::kMaxCoordinateName, r.error) : invalid(r.error);
}

std::optional<Problem> checkPosition(double x, double y, const char *what)
{
    if (!std::isfinite(x) || !std::isfinite(y))
        return invalid(QStringLiteral("The %1 position is not a finite number (NaN or infinity); "
                                      "send real coordinates.")
                           .arg(QLatin1String(what)));
    if (!isValidCoordinate(x) || !isValidCoordinate(y))
        return limitProblem(limits::kMaxCoordinateName,
                            QStringLiteral("The %1 position (%2, %3) is outside the wall; the "
                                           "limit %4 allows ±%5 px.")
                                .arg(QLatin1String(what))
                                .arg(x)
                                .arg(y)
                                .arg(QLatin1String(limits::kMaxCoordinateName))
                                .arg(limits::kMaxCoordinate, 0, 'g', 10));
    return std::nullopt;
}

// An angle: radians within -pi..pi.
std::optional<Problem> checkRotation(float rotation, const char *what)
{
    if (!std::isfinite(rotation) || std::abs(rotation) > limits::kMaxRotation)
        return limitProblem(limits::kRotationName,
                            QStringLiteral("The %1 turns by %2 radians; the limit %3 allows -pi to "
                                           "pi.")
                                .arg(QLatin1String(what))
                                .arg(double(rotation))
                                .arg(QLatin1String(limits::kRotationName)));
    return std::nullopt;
}

// Where the four corners of a w x h box turned by `rotation` about its top-left (x, y) are.
std::array<QPointF, 4> turnedCorners(double x, double y, double w, double h, double rotation)
{
    const double c = std::cos(rotation), s = std::sin(rotation);
    auto at = [&](double u, double v) { return QPointF(x + u * c - v * s, y + u * s + v * c); };
    return {at(0, 0), at(w, 0), at(w, h), at(0, h)};
}

// A note's width and height: 0 (the default) or within limits::kMinNoteSide..kMaxNoteSide.
std::optional<Problem> checkNoteSize(float width, float height)
{
    for (const float side : {width, height}) {
        if (side == 0)
            continue;
        if (!std::isfinite(side) || side < limits::kMinNoteSide || side > limits::kMaxNoteSide)
            return limitProblem(limits::kNoteSideName,
                                QStringLiteral("A note's width and height are 0 (its default) or "
                                               "%1 to %2 px (limit %3); got %4 x %5.")
                                    .arg(double(limits::kMinNoteSide))
                                    .arg(double(limits::kMaxNoteSide))
                                    .arg(QLatin1String(limits::kNoteSideName))
                                    .arg(double(width))
                                    .arg(double(height)));
    }
    return std::nullopt;
}

std::optional<Problem> checkBatch(int points)
{
    if (points > limits::kMaxPointsPerBatch)
        return limitProblem(limits::kMaxPointsPerBatchName,
                            QStringLiteral("A batch of %1 stroke points is too big; the limit %2 "
                                           "allows %3 a message.")
                                .arg(points)
                                .arg(QLatin1String(limits::kMaxPointsPerBatchName))
                                .arg(limits::kMaxPointsPerBatch));
    return std::nullopt;
}

std::optional<Problem> checkStrokePointTotals(std::uint64_t strokePoints, std::uint64_t wallPoints,
                                              int adding, std::int64_t maxWallPoints)
{
    if (strokePoints + std::uint64_t(adding) > std::uint64_t(limits::kMaxPointsPerStroke))
        return limitProblem(limits::kMaxPointsPerStrokeName,
                            QStringLiteral("The stroke would have %1 points; the limit %2 allows "
                                           "%3. End it and start a new one.")
                                .arg(strokePoints + std::uint64_t(adding))
                                .arg(QLatin1String(limits::kMaxPointsPerStrokeName))
                                .arg(limits::kMaxPointsPerStroke));
    if (wallPoints + std::uint64_t(adding) > std::uint64_t(maxWallPoints))
        return Problem{pb::WALL_FULL,
                       QStringLiteral("This wall is full (limit %1: %2 points). You can still "
                                      "read it and chat; start a new wall to keep drawing.")
                           .arg(QLatin1String(limits::kMaxWallPointsName))
                           .arg(maxWallPoints),
                       QString::fromLatin1(limits::kMaxWallPointsName)};
    return std::nullopt;
}

} // namespace

QRectF WallModel::Stroke::bounds() const
{
    if (points.empty())
        return {};
    std::int32_t minX = points.front().x, maxX = minX;
    std::int32_t minY = points.front().y, maxY = minY;
    for (const FixedPoint p : points) {
        minX = std::min(minX, p.x);
        maxX = std::max(maxX, p.x);
        minY = std::min(minY, p.y);
        maxY = std::max(maxY, p.y);
    }
    const double half = width / 2.0;
    return QRectF(QPointF(double(minX) / kCoordScale - half, double(minY) / kCoordScale - half),
                  QPointF(double(maxX) / kCoordScale + half, double(maxY) / kCoordScale + half));
}

bool WallModel::isFull() const
{
    return objectCount() >= size_t(m_capacity.maxObjects)
        || m_totalPoints >= std::uint64_t(m_capacity.maxPoints);
}

const WallModel::Stroke *WallModel::stroke(std::uint64_t key) const
{
    const auto it = m_strokeIndex.find(key);
    return it == m_strokeIndex.end() ? nullptr : &m_strokes[it->second];
}

WallModel::Stroke *WallModel::mutableStroke(std::uint64_t key)
{
    return const_cast<Stroke *>(std::as_const(*this).stroke(key));
}

const WallModel::Note *WallModel::note(std::uint64_t key) const
{
    const auto it = m_noteIndex.find(key);
    return it == m_noteIndex.end() ? nullptr : &m_notes[it->second];
}

WallModel::Note *WallModel::mutableNote(std::uint64_t key)
{
    return const_cast<Note *>(std::as_const(*this).note(key));
}

const WallModel::Image *WallModel::image(std::uint64_t key) const
{
    const auto it = m_imageIndex.find(key);
    return it == m_imageIndex.end() ? nullptr : &m_images[it->second];
}

WallModel::Image *WallModel::mutableImage(std::uint64_t key)
{
    return const_cast<Image *>(std::as_const(*this).image(key));
}

const WallModel::Shape *WallModel::shape(std::uint64_t key) const
{
    const auto it = m_shapeIndex.find(key);
    return it == m_shapeIndex.end() ? nullptr : &m_shapes[it->second];
}

WallModel::Shape *WallModel::mutableShape(std::uint64_t key)
{
    return const_cast<Shape *>(std::as_const(*this).shape(key));
}

WallModel::ShapeData WallModel::ShapeData::fromWire(const pb::Shape &in)
{
    ShapeData d;
    d.kind = in.kind();
    d.x = in.x();
    d.y = in.y();
    d.width = in.width();
    d.height = in.height();
    d.color = in.color();
    d.strokeWidth = in.stroke_width();
    d.fill = in.fill();
    d.text = scrawl::fromWire(in.text());
    d.fontSize = in.font_size();
    d.rotation = in.rotation();
    return d;
}

void WallModel::ShapeData::toWire(pb::Shape *out) const
{
    out->set_kind(kind);
    out->set_x(x);
    out->set_y(y);
    out->set_width(width);
    out->set_height(height);
    out->set_color(color);
    out->set_stroke_width(strokeWidth);
    out->set_fill(fill);
    if (!text.isEmpty())
        out->set_text(scrawl::toWire(text));
    out->set_font_size(fontSize);
    out->set_rotation(rotation);
}

QRectF WallModel::ShapeData::box() const
{
    return QRectF(x, y, width, height).normalized();
}

const std::deque<WallModel::Action> *WallModel::actions(std::uint64_t author) const
{
    const auto it = m_actions.find(author);
    return it == m_actions.end() ? nullptr : &it->second;
}

const WallModel::Action *WallModel::action(std::uint64_t author, std::uint64_t clientOpId) const
{
    const auto *list = actions(author);
    if (!list)
        return nullptr;
    for (auto it = list->rbegin(); it != list->rend(); ++it) {
        if (it->clientOpId == clientOpId)
            return &*it;
    }
    return nullptr;
}

WallModel::Action *WallModel::mutableAction(std::uint64_t author, std::uint64_t clientOpId)
{
    return const_cast<Action *>(std::as_const(*this).action(author, clientOpId));
}

void WallModel::record(std::uint64_t author, Action action)
{
    auto &list = m_actions[author];
    list.push_back(std::move(action));
    while (list.size() > size_t(limits::kMaxUndoDepth))
        list.pop_front();
}

std::optional<Problem> WallModel::checkMorePoints(
    const Stroke &s, int count,
    const std::function<DecodeResult(StrokeTail, std::vector<FixedPoint> *)> &decode) const
{
    if (auto p = checkBatch(count))
        return p;
    if (auto p = checkStrokePointTotals(s.points.size(), m_totalPoints, count, m_capacity.maxPoints))
        return p;
    std::vector<FixedPoint> decoded;
    const DecodeResult r = decode(tailOf(s.points), &decoded);
    if (!r.ok)
        return decodeProblem(r);
    return std::nullopt;
}

namespace {

// A batch's pressures: one a point for a stroke begun with them, none for one begun without.
std::optional<Problem> checkPressure(std::uint32_t id, bool pressured, size_t pressures, int points)
{
    if (pressured && pressures != size_t(points))
        return invalid(QStringLiteral("Stroke %1 carries a pen's pressure: a batch of %2 points needs "
                                      "%2 pressure bytes, not %3.")
                           .arg(id)
                           .arg(points)
                           .arg(pressures));
    if (!pressured && pressures != 0)
        return invalid(QStringLiteral("Stroke %1 was begun without pressure; its points cannot carry "
                                      "it (%2 pressure bytes sent). Begin a stroke with pressure.")
                           .arg(id)
                           .arg(pressures));
    return std::nullopt;
}

// Appends a batch's pressures to a stroke that has them (bad data from a server: padded, cut).
void appendPressure(WallModel::Stroke *s, const std::string &pressure, size_t added)
{
    if (!s->pressured)
        return;
    for (size_t i = 0; i < added; ++i)
        s->pressure.push_back(i < pressure.size() ? std::uint8_t(pressure[i]) : 255);
}

} // namespace

std::optional<Problem> WallModel::checkStroke(const pb::Op &op, std::uint64_t author) const
{
    switch (op.body_case()) {
    case pb::Op::kStrokeBegin: {
        const auto &b = op.stroke_begin();
        if (stroke(objectKey(author, b.id())))
            return invalid(QStringLiteral("You already have a stroke with id %1; use a new id.")
                               .arg(b.id()));
        if (!std::isfinite(b.width()) || b.width() < limits::kMinStrokeWidth
            || b.width() > limits::kMaxStrokeWidth)
            return limitProblem(limits::kStrokeWidthName,
                                QStringLiteral("Stroke width %1 is out of range; the limit %2 "
                                               "allows %3 to %4 px.")
                                    .arg(double(b.width()))
                                    .arg(QLatin1String(limits::kStrokeWidthName))
                                    .arg(double(limits::kMinStrokeWidth))
                                    .arg(double(limits::kMaxStrokeWidth)));
        if (auto p = wallFull())
            return p;
        if (auto p = checkBatch(pointCount(b)))
            return p;
        if (auto p = checkStrokePointTotals(0, m_totalPoints, pointCount(b), m_capacity.maxPoints))
            return p;
        if (!b.pressure().empty())
            if (auto p = checkPressure(b.id(), true, b.pressure().size(), pointCount(b)))
                return p;
        std::vector<FixedPoint> decoded;
        const DecodeResult r = decodePoints(b, {}, &decoded);
        if (!r.ok)
            return decodeProblem(r);
        return std::nullopt;
    }
    case pb::Op::kStrokePoints: {
        const auto &b = op.stroke_points();
        const Stroke *s = stroke(objectKey(author, b.id()));
        if (!s)
            return Problem{pb::NOT_OWNER,
                           QStringLiteral("Stroke %1 is not one of your strokes on this wall; "
                                          "begin a stroke before sending its points.")
                               .arg(b.id()),
                           {}};
        if (s->closed)
            return invalid(QStringLiteral("Stroke %1 has already ended; begin a new stroke.")
                               .arg(b.id()));
        if (auto p = checkPressure(b.id(), s->pressured, b.pressure().size(), pointCount(b)))
            return p;
        return checkMorePoints(*s, pointCount(b), [&](StrokeTail tail, std::vector<FixedPoint> *out) {
            return decodePoints(b, tail, out);
        });
    }
    case pb::Op::kStrokeEnd: {
        const Stroke *s = stroke(objectKey(author, op.stroke_end().id()));
        if (!s)
            return Problem{pb::NOT_OWNER,
                           QStringLiteral("Stroke %1 is not one of your strokes on this wall.")
                               .arg(op.stroke_end().id()),
                           {}};
        if (s->closed)
            return invalid(QStringLiteral("Stroke %1 has already ended.").arg(op.stroke_end().id()));
        const auto &path = op.stroke_end().path();
        if (auto p = checkPressure(op.stroke_end().id(), s->pressured, op.stroke_end().pressure().size(),
                                   path.size()))
            return p;
        if (path.empty())
            return std::nullopt;
        return checkMorePoints(*s, path.size(), [&](StrokeTail tail, std::vector<FixedPoint> *out) {
            return decodePath(path, tail, out);
        });
    }
    case pb::Op::kErase: {
        const auto &e = op.erase();
        if (e.strokes_size() == 0)
            return invalid(QStringLiteral("Erase names no strokes."));
        if (e.strokes_size() > limits::kMaxEraseStrokes)
            return limitProblem(limits::kMaxEraseStrokesName,
                                QStringLiteral("Erase names %1 strokes; the limit %2 allows %3 "
                                               "at once.")
                                    .arg(e.strokes_size())
                                    .arg(QLatin1String(limits::kMaxEraseStrokesName))
                                    .arg(limits::kMaxEraseStrokes));
        for (const std::uint64_t key : e.strokes()) {
            if (!stroke(key))
                return invalid(QStringLiteral("Erase names stroke %1, which is not on this wall.")
                                   .arg(key));
        }
        return std::nullopt;
    }
    default:
        return std::nullopt;
    }
}

std::optional<Problem> WallModel::checkNote(const pb::Op &op, std::uint64_t author) const
{
    auto existing = [this](std::uint64_t key) -> std::optional<Problem> {
        const Note *n = note(key);
        if (!n || !n->visible())
            return invalid(QStringLiteral("Note %1 is not on this wall (deleted or never made).")
                               .arg(key));
        return std::nullopt;
    };
    switch (op.body_case()) {
    case pb::Op::kNoteAdd: {
        const auto &n = op.note_add();
        if (note(objectKey(author, n.id())))
            return invalid(QStringLiteral("You already have a note with id %1; use a new id.")
                               .arg(n.id()));
        if (auto p = wallFull())
            return p;
        if (auto p = checkPosition(n.x(), n.y(), "note"))
            return p;
        if (auto p = checkNoteSize(n.width(), n.height()))
            return p;
        return decodeText(n.text(), kNoteRules, nullptr);
    }
    case pb::Op::kNoteEdit:
        if (auto p = existing(op.note_edit().note()))
            return p;
        return decodeText(op.note_edit().text(), kNoteRules, nullptr);
    case pb::Op::kNoteMove:
        if (auto p = existing(op.note_move().note()))
            return p;
        return checkPosition(op.note_move().x(), op.note_move().y(), "note");
    case pb::Op::kNoteDelete:
        return existing(op.note_delete().note());
    case pb::Op::kNoteStyle:
        if (auto p = existing(op.note_style().note()))
            return p;
        return checkNoteSize(op.note_style().width(), op.note_style().height());
    default:
        return std::nullopt;
    }
}

std::optional<Problem> WallModel::checkImage(const pb::Op &op, std::uint64_t author) const
{
    if (op.body_case() == pb::Op::kImageDelete) {
        const Image *i = image(op.image_delete().image());
        if (!i || !i->visible())
            return invalid(QStringLiteral("Image %1 is not on this wall (deleted or never placed).")
                               .arg(op.image_delete().image()));
        return std::nullopt;
    }
    const auto &a = op.image_add();
    if (image(objectKey(author, a.id())))
        return invalid(QStringLiteral("You already have an image with id %1; use a new id.").arg(a.id()));
    if (a.hash().size() != 32)
        return invalid(QStringLiteral("An image is named by the 32 bytes of its SHA-256; this one "
                                      "has %1 bytes.")
                           .arg(a.hash().size()));
    if (auto p = wallFull())
        return p;
    if (m_images.size() >= size_t(limits::kMaxWallImages))
        return limitProblem(limits::kMaxWallImagesName,
                            QStringLiteral("This wall has %1 images, the most it may hold (limit "
                                           "%2); clear it or use another wall.")
                                .arg(m_images.size())
                                .arg(QLatin1String(limits::kMaxWallImagesName)));
    if (auto p = checkPosition(a.x(), a.y(), "image"))
        return p;
    if (!std::isfinite(a.width()) || !std::isfinite(a.height()) || a.width() <= 0 || a.height() <= 0)
        return invalid(QStringLiteral("An image's width and height must be finite and above 0 px; "
                                      "got %1 x %2.")
                           .arg(a.width())
                           .arg(a.height()));
    if (auto p = checkRotation(a.rotation(), "image"))
        return p;
    for (const QPointF &c : turnedCorners(a.x(), a.y(), a.width(), a.height(), a.rotation())) {
        if (auto p = checkPosition(c.x(), c.y(), "image's corner"))
            return p;
    }
    return std::nullopt;
}

std::optional<Problem> WallModel::wallFull() const
{
    if (objectCount() < size_t(m_capacity.maxObjects))
        return std::nullopt;
    return Problem{pb::WALL_FULL,
                   QStringLiteral("This wall is full (limit %1: %2 strokes, notes, images and "
                                  "shapes). You can still read it and chat; start a new wall to keep drawing.")
                       .arg(QLatin1String(limits::kMaxWallObjectsName))
                       .arg(m_capacity.maxObjects),
                   QString::fromLatin1(limits::kMaxWallObjectsName)};
}

namespace {

constexpr TextRules kTextRules{"text", limits::kMaxTextChars, limits::kMaxTextCharsName, true, true};

std::optional<Problem> checkShapeData(const pb::Shape &in)
{
    if (in.kind() == pb::SHAPE_NONE || !pb::ShapeKind_IsValid(in.kind()))
        return invalid(QStringLiteral("Shape kind %1 is not one this server knows (line, arrow, "
                                      "rectangle, ellipse, diamond, text).")
                           .arg(int(in.kind())));
    if (auto p = checkPosition(in.x(), in.y(), "shape"))
        return p;
    if (!std::isfinite(in.width()) || !std::isfinite(in.height()))
        return invalid(QStringLiteral("A shape's width and height must be finite numbers."));
    const bool line = in.kind() == pb::SHAPE_LINE || in.kind() == pb::SHAPE_ARROW;
    if (!line && (in.width() < 0 || in.height() < 0))
        return invalid(QStringLiteral("A box's width and height are 0 or more (from its top-left "
                                      "corner); got %1 x %2.")
                           .arg(double(in.width()))
                           .arg(double(in.height())));
    if (auto p = checkRotation(in.rotation(), "shape"))
        return p;
    if (line && in.rotation() != 0)
        return invalid(QStringLiteral("A line or an arrow turns by its ends; its rotation is 0."));
    for (const QPointF &c : turnedCorners(in.x(), in.y(), in.width(), in.height(), in.rotation())) {
        if (auto p = checkPosition(c.x(), c.y(), "shape's corner"))
            return p;
    }
    if (in.kind() == pb::SHAPE_TEXT) {
        if (!std::isfinite(in.font_size()) || in.font_size() < limits::kMinFontSize
            || in.font_size() > limits::kMaxFontSize)
            return limitProblem(limits::kFontSizeName,
                                QStringLiteral("A text's font size is %1 to %2 px (limit %3); "
                                               "got %4.")
                                    .arg(double(limits::kMinFontSize))
                                    .arg(double(limits::kMaxFontSize))
                                    .arg(QLatin1String(limits::kFontSizeName))
                                    .arg(double(in.font_size())));
        return decodeText(in.text(), kTextRules, nullptr);
    }
    if (!in.text().empty())
        return invalid(QStringLiteral("Only a text shape carries text; put it in a text or a note."));
    const float w = in.stroke_width();
    const bool filled = !line && (in.fill() >> 24) != 0;
    if (!std::isfinite(w) || w > limits::kMaxStrokeWidth || (w < limits::kMinStrokeWidth && !(w == 0 && filled)))
        return invalid(QStringLiteral("A shape's line is %1 to %2 px wide (0 only for a filled "
                                      "shape without an outline); got %3.")
                           .arg(double(limits::kMinStrokeWidth))
                           .arg(double(limits::kMaxStrokeWidth))
                           .arg(double(w)));
    return std::nullopt;
}

} // namespace

std::optional<Problem> WallModel::checkShape(const pb::Op &op, std::uint64_t author) const
{
    auto existing = [this](std::uint64_t key) -> std::optional<Problem> {
        const Shape *s = shape(key);
        if (!s || !s->visible())
            return invalid(QStringLiteral("Shape %1 is not on this wall (deleted or never drawn).")
                               .arg(key));
        return std::nullopt;
    };
    switch (op.body_case()) {
    case pb::Op::kShapeAdd:
        if (shape(objectKey(author, op.shape_add().id())))
            return invalid(QStringLiteral("You already have a shape with id %1; use a new id.")
                               .arg(op.shape_add().id()));
        if (auto p = wallFull())
            return p;
        if (!op.shape_add().has_shape())
            return invalid(QStringLiteral("A shape_add carries no shape."));
        return checkShapeData(op.shape_add().shape());
    case pb::Op::kShapeEdit:
        if (auto p = existing(op.shape_edit().key()))
            return p;
        if (!op.shape_edit().has_shape())
            return invalid(QStringLiteral("A shape_edit carries no shape."));
        return checkShapeData(op.shape_edit().shape());
    case pb::Op::kShapeDelete:
        return existing(op.shape_delete().key());
    default:
        return std::nullopt;
    }
}

namespace {

// What a Transform does to the wall, in wall pixels: p' = o + L(p - o) + d, with L a scale and
// then a turn. Its inverse undoes it.
struct Affine
{
    double m11 = 1, m12 = 0, m21 = 0, m22 = 1; // L
    double ox = 0, oy = 0, dx = 0, dy = 0;
    double turn = 0;      // radians L turns by
    bool similar = true;  // L scales both ways alike: objects keep their shape, and turn by `turn`
    static Affine of(const pb::Transform &t, bool inverse)
    {
        Affine a;
        const double sx = t.scale_x() == 0 ? 1.0 : double(t.scale_x());
        const double sy = t.scale_y() == 0 ? 1.0 : double(t.scale_y());
        const double c = t.rotation() == 0 ? 1.0 : std::cos(double(t.rotation()));
        const double s = t.rotation() == 0 ? 0.0 : std::sin(double(t.rotation()));
        a.ox = t.origin_x();
        a.oy = t.origin_y();
        a.similar = sx == sy;
        // On the stroke points' grid: a move and its undo are exact.
        a.dx = std::round(double(t.dx()) * kCoordScale) / kCoordScale;
        a.dy = std::round(double(t.dy()) * kCoordScale) / kCoordScale;
        if (!inverse) {
            a.m11 = c * sx, a.m12 = -s * sy, a.m21 = s * sx, a.m22 = c * sy;
            a.turn = t.rotation();
        } else {
            // p = o + L^-1 (p' - o) - L^-1 d, with L^-1 = S^-1 R^-1.
            a.m11 = c / sx, a.m12 = s / sx, a.m21 = -s / sy, a.m22 = c / sy;
            const double dx = a.dx, dy = a.dy;
            a.dx = -(a.m11 * dx + a.m12 * dy);
            a.dy = -(a.m21 * dx + a.m22 * dy);
            a.turn = -double(t.rotation());
        }
        return a;
    }
    QPointF map(double x, double y) const
    {
        const double u = x - ox, v = y - oy;
        return QPointF(ox + m11 * u + m12 * v + dx, oy + m21 * u + m22 * v + dy);
    }
    QRectF rect(const QRectF &r) const
    {
        return bound({map(r.left(), r.top()), map(r.right(), r.top()), map(r.right(), r.bottom()),
                      map(r.left(), r.bottom())});
    }
    static QRectF bound(const std::array<QPointF, 4> &c)
    {
        double l = c[0].x(), r = l, t = c[0].y(), b = t;
        for (const QPointF &p : c) {
            l = std::min(l, p.x()), r = std::max(r, p.x()), t = std::min(t, p.y()), b = std::max(b, p.y());
        }
        return QRectF(QPointF(l, t), QPointF(r, b));
    }
    // Where a box drawn w x h from (x, y), turned by `rotation` about (x, y), lands: its corner
    // moves with the wall; its sides scale, and it turns, with L. A turned box scaled unevenly
    // would be skewed: it keeps its right angles, its sides as long as L makes them.
    void box(float &x, float &y, float &w, float &h, float &rotation) const
    {
        const QPointF at = map(x, y);
        x = float(at.x());
        y = float(at.y());
        if (similar) {
            const double scale = std::hypot(m11, m21);
            w = float(w * scale);
            h = float(h * scale);
            if (turn != 0)
                rotation = normalized(double(rotation) + turn);
            return;
        }
        const double c = std::cos(double(rotation)), s = std::sin(double(rotation));
        const double ex = m11 * c + m12 * s, ey = m21 * c + m22 * s;    // L (c, s)
        const double fx = -m11 * s + m12 * c, fy = -m21 * s + m22 * c;  // L (-s, c)
        w = float(w * std::hypot(ex, ey));
        h = float(h * std::hypot(fx, fy));
        if (rotation != 0 || turn != 0)
            rotation = normalized(std::atan2(ey, ex));
    }
    static float normalized(double angle)
    {
        while (angle > M_PI)
            angle -= 2 * M_PI;
        while (angle <= -M_PI)
            angle += 2 * M_PI;
        return float(angle);
    }
};

// A note's box as the model sees it: its size, or the app's defaults.
QRectF noteBox(const WallModel::Note &n)
{
    return QRectF(n.x, n.y, n.width > 0 ? n.width : limits::kDefaultNoteWidth,
                  std::max(n.height, limits::kNoteMinHeight));
}

} // namespace

namespace {

// A transform's numbers: offset, origin, scale and turn (not what it names).
std::optional<Problem> checkTransformNumbers(const pb::Transform &t)
{
    for (const float v : {t.dx(), t.dy(), t.origin_x(), t.origin_y()}) {
        if (!std::isfinite(v))
            return invalid(QStringLiteral("A transform's offset and origin must be finite numbers."));
    }
    if (auto p = checkPosition(t.origin_x(), t.origin_y(), "transform's origin"))
        return p;
    if (std::abs(t.dx()) > 2 * limits::kMaxCoordinate || std::abs(t.dy()) > 2 * limits::kMaxCoordinate)
        return limitProblem(limits::kMaxCoordinateName,
                            QStringLiteral("A transform moves things by (%1, %2): off the wall (limit "
                                           "%3).")
                                .arg(double(t.dx()))
                                .arg(double(t.dy()))
                                .arg(QLatin1String(limits::kMaxCoordinateName)));
    for (const float scale : {t.scale_x(), t.scale_y()}) {
        if (scale == 0)
            continue;
        if (!std::isfinite(scale) || scale < limits::kMinTransformScale || scale > limits::kMaxTransformScale)
            return limitProblem(limits::kTransformScaleName,
                                QStringLiteral("A transform scales by %1 to %2 (limit %3; 0 is 1); "
                                               "got %4 x %5.")
                                    .arg(double(limits::kMinTransformScale))
                                    .arg(double(limits::kMaxTransformScale))
                                    .arg(QLatin1String(limits::kTransformScaleName))
                                    .arg(double(t.scale_x()))
                                    .arg(double(t.scale_y())));
    }
    if (auto p = checkRotation(t.rotation(), "transform"))
        return p;
    if (t.rotation() != 0 && t.scale_x() != t.scale_y())
        return invalid(QStringLiteral("A transform that turns scales both ways alike; got %1 x %2.")
                           .arg(double(t.scale_x()))
                           .arg(double(t.scale_y())));
    return std::nullopt;
}

} // namespace

std::optional<Problem> WallModel::checkPreview(const pb::Transform &t)
{
    const int count = t.strokes_size() + t.notes_size() + t.images_size() + t.shapes_size();
    if (count == 0)
        return invalid(QStringLiteral("A cursor's drag preview names no object; leave the preview out."));
    if (count > limits::kMaxPreviewObjects)
        return limitProblem(limits::kMaxPreviewObjectsName,
                            QStringLiteral("A cursor's drag preview names %1 objects; the limit %2 allows "
                                           "%3. Leave the preview out for a bigger selection (its box shows).")
                                .arg(count)
                                .arg(QLatin1String(limits::kMaxPreviewObjectsName))
                                .arg(limits::kMaxPreviewObjects));
    return checkTransformNumbers(t);
}

std::optional<Problem> WallModel::checkTransform(const pb::Transform &t) const
{
    const int count = t.strokes_size() + t.notes_size() + t.images_size() + t.shapes_size();
    if (count == 0)
        return invalid(QStringLiteral("A transform names no object; name what it moves."));
    if (count > limits::kMaxTransformObjects)
        return limitProblem(limits::kMaxTransformObjectsName,
                            QStringLiteral("A transform names %1 objects; the limit %2 allows %3 "
                                           "at a time. Move them in parts.")
                                .arg(count)
                                .arg(QLatin1String(limits::kMaxTransformObjectsName))
                                .arg(limits::kMaxTransformObjects));
    if (auto p = checkTransformNumbers(t))
        return p;
    const Affine a = Affine::of(t, false);
    std::unordered_set<std::uint64_t> seen;
    // Where everything lands must be on the wall.
    QRectF landed;
    auto named = [&](std::uint64_t key, const char *kind) -> std::optional<Problem> {
        if (!seen.insert(key).second)
            return invalid(QStringLiteral("A transform names %1 %2 twice.").arg(QLatin1String(kind)).arg(key));
        return std::nullopt;
    };
    auto gone = [](const char *kind, std::uint64_t key) {
        return invalid(QStringLiteral("A transform names %1 %2, which is not on this wall (erased, "
                                      "deleted or never made).")
                           .arg(QLatin1String(kind))
                           .arg(key));
    };
    for (const std::uint64_t key : t.strokes()) {
        if (auto p = named(key, "stroke"))
            return p;
        const Stroke *st = stroke(key);
        if (!st || !st->visible())
            return gone("stroke", key);
        if (!st->closed)
            return invalid(QStringLiteral("Stroke %1 is still being drawn; move it once it is done.").arg(key));
        landed = landed.united(a.rect(st->bounds()));
    }
    seen.clear();
    for (const std::uint64_t key : t.notes()) {
        if (auto p = named(key, "note"))
            return p;
        const Note *n = note(key);
        if (!n || !n->visible())
            return gone("note", key);
        landed = landed.united(a.rect(noteBox(*n)));
    }
    seen.clear();
    for (const std::uint64_t key : t.images()) {
        if (auto p = named(key, "image"))
            return p;
        const Image *i = image(key);
        if (!i || !i->visible())
            return gone("image", key);
        float x = i->x, y = i->y, w = i->width, h = i->height, r = i->rotation;
        a.box(x, y, w, h, r);
        landed = landed.united(Affine::bound(turnedCorners(x, y, w, h, r)));
    }
    seen.clear();
    for (const std::uint64_t key : t.shapes()) {
        if (auto p = named(key, "shape"))
            return p;
        const Shape *sh = shape(key);
        if (!sh || !sh->visible())
            return gone("shape", key);
        if (sh->data.rotation == 0) {
            landed = landed.united(a.rect(sh->data.box()));
        } else {
            ShapeData d = sh->data;
            a.box(d.x, d.y, d.width, d.height, d.rotation);
            landed = landed.united(Affine::bound(turnedCorners(d.x, d.y, d.width, d.height, d.rotation)));
        }
    }
    if (auto p = checkPosition(landed.left(), landed.top(), "moved objects' corner"))
        return p;
    return checkPosition(landed.right(), landed.bottom(), "moved objects' far corner");
}

void WallModel::applyTransform(const pb::Transform &t, bool inverse, Change &change)
{
    const Affine a = Affine::of(t, inverse);
    const double scale = kCoordScale;
    auto grid = [](double v) {
        return std::int32_t(std::clamp(std::llround(v), -(1LL << 31) + 1, (1LL << 31) - 1));
    };
    for (const std::uint64_t key : t.strokes()) {
        Stroke *st = mutableStroke(key);
        if (!st)
            continue;
        for (FixedPoint &p : st->points) {
            const QPointF to = a.map(p.x / scale, p.y / scale);
            p.x = grid(to.x() * scale);
            p.y = grid(to.y() * scale);
        }
        st->snapshotPath.clear();
        if (m_keepsSnapshotPaths && st->closed)
            keepSnapshotPath(*st);
        change.strokes.push_back(key);
    }
    change.moved = !t.strokes().empty();
    for (const std::uint64_t key : t.notes()) {
        if (Note *n = mutableNote(key)) {
            // A note stays upright: a turn moves its middle, a scale or a move its corner.
            const QRectF box = noteBox(*n);
            const QPointF at = a.turn != 0 ? a.map(box.center().x(), box.center().y()) - (box.center() - box.topLeft())
                                           : a.map(n->x, n->y);
            n->x = float(at.x());
            n->y = float(at.y());
            change.notes.push_back(key);
        }
    }
    for (const std::uint64_t key : t.images()) {
        if (Image *i = mutableImage(key)) {
            a.box(i->x, i->y, i->width, i->height, i->rotation);
            change.images.push_back(key);
        }
    }
    for (const std::uint64_t key : t.shapes()) {
        Shape *sh = mutableShape(key);
        if (!sh)
            continue;
        ShapeData &d = sh->data;
        if (d.isLine()) {
            // By its ends.
            const QPointF from = a.map(d.x, d.y), to = a.map(double(d.x) + d.width, double(d.y) + d.height);
            d.x = float(from.x());
            d.y = float(from.y());
            d.width = float(to.x() - from.x());
            d.height = float(to.y() - from.y());
        } else if (d.kind == pb::SHAPE_TEXT) {
            // Its lines keep their font; a text given a width keeps it scaled.
            float h = d.height;
            a.box(d.x, d.y, d.width, h, d.rotation);
        } else {
            a.box(d.x, d.y, d.width, d.height, d.rotation);
        }
        change.shapes.push_back(key);
    }
}

std::optional<Problem> WallModel::checkArrange(const pb::Arrange &a) const
{
    const int count = a.strokes_size() + a.notes_size() + a.images_size() + a.shapes_size();
    const QString what = a.to_back() ? QStringLiteral("sending to the back") : QStringLiteral("bringing to the front");
    if (count == 0)
        return invalid(QStringLiteral("An arrange op (%1) names no object; name what it moves.").arg(what));
    if (count > limits::kMaxTransformObjects)
        return limitProblem(limits::kMaxTransformObjectsName,
                            QStringLiteral("An arrange op (%1) names %2 objects; the limit %3 allows %4 "
                                           "at a time. Arrange them in parts.")
                                .arg(what)
                                .arg(count)
                                .arg(QLatin1String(limits::kMaxTransformObjectsName))
                                .arg(limits::kMaxTransformObjects));
    const std::int32_t next = a.to_back() ? bottomLayer() : topLayer();
    if (next == std::numeric_limits<std::int32_t>::max() || next == std::numeric_limits<std::int32_t>::min())
        return invalid(QStringLiteral("This wall has no layer left to %1; clear it or start a new wall.").arg(what));
    std::unordered_set<std::uint64_t> seen;
    auto named = [&](std::uint64_t key, const char *kind, bool visible) -> std::optional<Problem> {
        if (!seen.insert(key).second)
            return invalid(QStringLiteral("An arrange op names %1 %2 twice.").arg(QLatin1String(kind)).arg(key));
        if (!visible)
            return invalid(QStringLiteral("An arrange op names %1 %2, which is not on this wall (erased, "
                                          "deleted or never made).")
                               .arg(QLatin1String(kind))
                               .arg(key));
        return std::nullopt;
    };
    for (const std::uint64_t key : a.strokes()) {
        const Stroke *s = stroke(key);
        if (auto p = named(key, "stroke", s && s->visible()))
            return p;
    }
    seen.clear();
    for (const std::uint64_t key : a.notes()) {
        const Note *n = note(key);
        if (auto p = named(key, "note", n && n->visible()))
            return p;
    }
    seen.clear();
    for (const std::uint64_t key : a.images()) {
        const Image *i = image(key);
        if (auto p = named(key, "image", i && i->visible()))
            return p;
    }
    seen.clear();
    for (const std::uint64_t key : a.shapes()) {
        const Shape *sh = shape(key);
        if (auto p = named(key, "shape", sh && sh->visible()))
            return p;
    }
    return std::nullopt;
}

std::vector<std::int32_t *> WallModel::layersNamed(const pb::Arrange &a)
{
    std::vector<std::int32_t *> out;
    out.reserve(size_t(a.strokes_size() + a.notes_size() + a.images_size() + a.shapes_size()));
    for (const std::uint64_t key : a.strokes()) {
        Stroke *s = mutableStroke(key);
        out.push_back(s ? &s->layer : nullptr);
    }
    for (const std::uint64_t key : a.notes()) {
        Note *n = mutableNote(key);
        out.push_back(n ? &n->layer : nullptr);
    }
    for (const std::uint64_t key : a.images()) {
        Image *i = mutableImage(key);
        out.push_back(i ? &i->layer : nullptr);
    }
    for (const std::uint64_t key : a.shapes()) {
        Shape *sh = mutableShape(key);
        out.push_back(sh ? &sh->layer : nullptr);
    }
    return out;
}

void WallModel::setLayer(std::int32_t &slot, std::int32_t layer)
{
    if (slot == layer)
        return;
    if (slot != 0) {
        const auto it = m_layers.find(slot);
        if (it != m_layers.end() && --it->second == 0)
            m_layers.erase(it);
    }
    slot = layer;
    if (layer != 0)
        ++m_layers[layer];
}

void WallModel::applyArrange(const pb::Arrange &a, const std::vector<std::int32_t> *restore, Change &change)
{
    const std::vector<std::int32_t *> layers = layersNamed(a);
    if (restore && restore->size() != layers.size())
        return;
    const std::int32_t current = a.to_back() ? bottomLayer() : topLayer();
    if (!restore
        && (current == std::numeric_limits<std::int32_t>::max() || current == std::numeric_limits<std::int32_t>::min()))
        return;
    const std::int32_t next = a.to_back() ? current - 1 : current + 1;
    for (size_t k = 0; k < layers.size(); ++k) {
        if (layers[k])
            setLayer(*layers[k], restore ? (*restore)[k] : next);
    }
    change.strokes.insert(change.strokes.end(), a.strokes().begin(), a.strokes().end());
    change.notes.insert(change.notes.end(), a.notes().begin(), a.notes().end());
    change.images.insert(change.images.end(), a.images().begin(), a.images().end());
    change.shapes.insert(change.shapes.end(), a.shapes().begin(), a.shapes().end());
}

std::optional<Problem> WallModel::check(const pb::Op &op, std::uint64_t author) const
{
    switch (op.body_case()) {
    case pb::Op::BODY_NOT_SET:
        return Problem{pb::PROTOCOL, QStringLiteral("The op carries no change; fill one body."), {}};
    case pb::Op::kChat:
        return decodeText(op.chat().text(), kChatRules, nullptr);
    case pb::Op::kStrokeBegin:
    case pb::Op::kStrokePoints:
    case pb::Op::kStrokeEnd:
    case pb::Op::kErase:
        return checkStroke(op, author);
    case pb::Op::kNoteAdd:
    case pb::Op::kNoteEdit:
    case pb::Op::kNoteMove:
    case pb::Op::kNoteDelete:
    case pb::Op::kNoteStyle:
        return checkNote(op, author);
    case pb::Op::kImageAdd:
    case pb::Op::kImageDelete:
        return checkImage(op, author);
    case pb::Op::kShapeAdd:
    case pb::Op::kShapeEdit:
    case pb::Op::kShapeDelete:
        return checkShape(op, author);
    case pb::Op::kTransform:
        return checkTransform(op.transform());
    case pb::Op::kArrange:
        return checkArrange(op.arrange());
    case pb::Op::kUndo: {
        const Action *a = action(author, op.undo().target_client_op_id());
        if (!a)
            return invalid(QStringLiteral("There is nothing of yours to undo with op id %1 (only "
                                          "your last %2 actions can be undone).")
                               .arg(op.undo().target_client_op_id())
                               .arg(limits::kMaxUndoDepth));
        if (a->undone)
            return invalid(QStringLiteral("Op %1 is already undone.")
                               .arg(op.undo().target_client_op_id()));
        return std::nullopt;
    }
    case pb::Op::kRedo: {
        const Action *a = action(author, op.redo().target_client_op_id());
        if (!a || !a->undone)
            return invalid(QStringLiteral("There is nothing of yours to redo with op id %1.")
                               .arg(op.redo().target_client_op_id()));
        return std::nullopt;
    }
    case pb::Op::kClear:
        return std::nullopt;
    }
    return std::nullopt;
}

void WallModel::setUndone(std::uint64_t author, Action &a, bool undone, Change &change)
{
    Q_UNUSED(author);
    a.undone = undone;
    switch (a.kind) {
    case pb::ACTION_STROKE:
        for (const auto key : a.keys) {
            if (Stroke *s = mutableStroke(key)) {
                s->undone = undone;
                change.strokes.push_back(key);
            }
        }
        break;
    case pb::ACTION_ERASE:
        for (const auto key : a.keys) {
            if (Stroke *s = mutableStroke(key)) {
                s->erased = !undone;
                change.strokes.push_back(key);
            }
        }
        break;
    case pb::ACTION_NOTE_ADD:
    case pb::ACTION_NOTE_DELETE:
    case pb::ACTION_NOTE_EDIT:
    case pb::ACTION_NOTE_MOVE:
    case pb::ACTION_NOTE_STYLE:
        for (const auto key : a.keys) {
            Note *n = mutableNote(key);
            if (!n)
                continue;
            if (a.kind == pb::ACTION_NOTE_ADD)
                n->undone = undone;
            else if (a.kind == pb::ACTION_NOTE_DELETE)
                n->deleted = !undone;
            else if (a.kind == pb::ACTION_NOTE_EDIT)
                n->text = undone ? a.textBefore : a.textAfter;
            else if (a.kind == pb::ACTION_NOTE_STYLE) {
                n->color = undone ? a.colorBefore : a.colorAfter;
                n->width = undone ? a.widthBefore : a.widthAfter;
                n->height = undone ? a.heightBefore : a.heightAfter;
            } else {
                n->x = undone ? a.xBefore : a.xAfter;
                n->y = undone ? a.yBefore : a.yAfter;
            }
            change.notes.push_back(key);
        }
        break;
    case pb::ACTION_IMAGE_ADD:
    case pb::ACTION_IMAGE_DELETE:
        for (const auto key : a.keys) {
            Image *i = mutableImage(key);
            if (!i)
                continue;
            if (a.kind == pb::ACTION_IMAGE_ADD)
                i->undone = undone;
            else
                i->deleted = !undone;
            change.images.push_back(key);
        }
        break;
    case pb::ACTION_TRANSFORM:
        if (a.transform)
            applyTransform(*a.transform, undone, change);
        break;
    case pb::ACTION_ARRANGE:
        if (a.arrange)
            applyArrange(*a.arrange, undone ? &a.layersBefore : nullptr, change);
        break;
    case pb::ACTION_SHAPE_ADD:
    case pb::ACTION_SHAPE_EDIT:
    case pb::ACTION_SHAPE_DELETE:
        for (const auto key : a.keys) {
            Shape *s = mutableShape(key);
            if (!s)
                continue;
            if (a.kind == pb::ACTION_SHAPE_ADD)
                s->undone = undone;
            else if (a.kind == pb::ACTION_SHAPE_DELETE)
                s->deleted = !undone;
            else
                s->data = undone ? a.shapeBefore : a.shapeAfter;
            change.shapes.push_back(key);
        }
        break;
    default:
        break;
    }
}

WallModel::Change WallModel::apply(const pb::Op &op)
{
    Change change;
    if (op.seq() <= m_seq)
        return change; // already applied: replays after a resume are harmless
    m_seq = op.seq();
    const std::uint64_t author = op.author();

    switch (op.body_case()) {
    case pb::Op::kStrokeBegin: {
        const auto &b = op.stroke_begin();
        const std::uint64_t key = objectKey(author, b.id());
        if (stroke(key))
            break;
        Stroke s;
        s.key = key;
        s.color = b.color();
        s.width = std::clamp(std::isfinite(b.width()) ? b.width() : 1.0f, limits::kMinStrokeWidth,
                             limits::kMaxStrokeWidth);
        if (!decodePoints(b, {}, &s.points).ok)
            s.points.clear();
        s.pressured = !b.pressure().empty();
        appendPressure(&s, b.pressure(), s.points.size());
        m_totalPoints += s.points.size();
        setLayer(s.layer, topLayer()); // new work goes on top
        m_strokeIndex.emplace(key, m_strokes.size());
        m_strokes.push_back(std::move(s));
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_STROKE;
        a.keys.push_back(key);
        record(author, std::move(a));
        change.strokes.push_back(key);
        break;
    }
    case pb::Op::kStrokePoints: {
        const std::uint64_t key = objectKey(author, op.stroke_points().id());
        Stroke *s = mutableStroke(key);
        if (!s || s->closed)
            break;
        const size_t before = s->points.size();
        if (decodePoints(op.stroke_points(), tailOf(s->points), &s->points).ok
            && s->points.size() > before) {
            appendPressure(s, op.stroke_points().pressure(), s->points.size() - before);
            m_totalPoints += s->points.size() - before;
            change.strokes.push_back(key);
            change.firstNewPoint = before;
        }
        break;
    }
    case pb::Op::kStrokeEnd:
        if (Stroke *s = mutableStroke(objectKey(author, op.stroke_end().id())); s && !s->closed) {
            const size_t before = s->points.size();
            if (!op.stroke_end().path().empty()
                && decodePath(op.stroke_end().path(), tailOf(s->points), &s->points).ok) {
                appendPressure(s, op.stroke_end().pressure(), s->points.size() - before);
                m_totalPoints += s->points.size() - before;
                change.firstNewPoint = before;
            }
            s->closed = true;
            if (m_keepsSnapshotPaths)
                keepSnapshotPath(*s);
            change.strokes.push_back(s->key);
        }
        break;
    case pb::Op::kErase: {
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_ERASE;
        for (const std::uint64_t key : op.erase().strokes()) {
            Stroke *s = mutableStroke(key);
            if (!s || !s->visible())
                continue;
            s->erased = true;
            a.keys.push_back(key);
            change.strokes.push_back(key);
        }
        if (!a.keys.empty())
            record(author, std::move(a));
        break;
    }
    case pb::Op::kNoteAdd: {
        const auto &n = op.note_add();
        const std::uint64_t key = objectKey(author, n.id());
        if (note(key))
            break;
        Note note;
        note.key = key;
        note.x = n.x();
        note.y = n.y();
        note.text = fromWire(n.text());
        note.color = n.color();
        note.width = n.width();
        note.height = n.height();
        setLayer(note.layer, topLayer()); // new work goes on top
        m_noteIndex.emplace(key, m_notes.size());
        m_notes.push_back(std::move(note));
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_NOTE_ADD;
        a.keys.push_back(key);
        record(author, std::move(a));
        change.notes.push_back(key);
        break;
    }
    case pb::Op::kNoteEdit: {
        Note *n = mutableNote(op.note_edit().note());
        if (!n)
            break;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_NOTE_EDIT;
        a.keys.push_back(n->key);
        a.textBefore = n->text;
        a.textAfter = fromWire(op.note_edit().text());
        n->text = a.textAfter;
        record(author, std::move(a));
        change.notes.push_back(n->key);
        break;
    }
    case pb::Op::kNoteMove: {
        Note *n = mutableNote(op.note_move().note());
        if (!n)
            break;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_NOTE_MOVE;
        a.keys.push_back(n->key);
        a.xBefore = n->x;
        a.yBefore = n->y;
        a.xAfter = n->x = op.note_move().x();
        a.yAfter = n->y = op.note_move().y();
        record(author, std::move(a));
        change.notes.push_back(n->key);
        break;
    }
    case pb::Op::kNoteStyle: {
        const auto &st = op.note_style();
        Note *n = mutableNote(st.note());
        if (!n)
            break;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_NOTE_STYLE;
        a.keys.push_back(n->key);
        a.colorBefore = n->color;
        a.widthBefore = n->width;
        a.heightBefore = n->height;
        a.colorAfter = n->color = st.color();
        a.widthAfter = n->width = st.width();
        a.heightAfter = n->height = st.height();
        record(author, std::move(a));
        change.notes.push_back(n->key);
        break;
    }
    case pb::Op::kNoteDelete: {
        Note *n = mutableNote(op.note_delete().note());
        if (!n || n->deleted)
            break;
        n->deleted = true;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_NOTE_DELETE;
        a.keys.push_back(n->key);
        record(author, std::move(a));
        change.notes.push_back(n->key);
        break;
    }
    case pb::Op::kImageAdd: {
        const auto &in = op.image_add();
        const std::uint64_t key = objectKey(author, in.id());
        if (image(key))
            break;
        Image i;
        i.key = key;
        i.hash = QByteArray::fromStdString(in.hash());
        i.x = in.x();
        i.y = in.y();
        i.width = in.width();
        i.height = in.height();
        i.rotation = in.rotation();
        setLayer(i.layer, topLayer()); // new work goes on top
        m_imageIndex.emplace(key, m_images.size());
        m_images.push_back(std::move(i));
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_IMAGE_ADD;
        a.keys.push_back(key);
        record(author, std::move(a));
        change.images.push_back(key);
        break;
    }
    case pb::Op::kImageDelete: {
        Image *i = mutableImage(op.image_delete().image());
        if (!i || i->deleted)
            break;
        i->deleted = true;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_IMAGE_DELETE;
        a.keys.push_back(i->key);
        record(author, std::move(a));
        change.images.push_back(i->key);
        break;
    }
    case pb::Op::kShapeAdd: {
        const std::uint64_t key = objectKey(author, op.shape_add().id());
        if (shape(key))
            break;
        Shape sh;
        sh.key = key;
        sh.data = ShapeData::fromWire(op.shape_add().shape());
        setLayer(sh.layer, topLayer()); // new work goes on top
        m_shapeIndex.emplace(key, m_shapes.size());
        m_shapes.push_back(std::move(sh));
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_SHAPE_ADD;
        a.keys.push_back(key);
        record(author, std::move(a));
        change.shapes.push_back(key);
        break;
    }
    case pb::Op::kShapeEdit: {
        Shape *sh = mutableShape(op.shape_edit().key());
        if (!sh)
            break;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_SHAPE_EDIT;
        a.keys.push_back(sh->key);
        a.shapeBefore = sh->data;
        a.shapeAfter = sh->data = ShapeData::fromWire(op.shape_edit().shape());
        record(author, std::move(a));
        change.shapes.push_back(sh->key);
        break;
    }
    case pb::Op::kArrange: {
        const pb::Arrange &in = op.arrange();
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_ARRANGE;
        for (const std::int32_t *slot : layersNamed(in))
            a.layersBefore.push_back(slot ? *slot : 0);
        applyArrange(in, nullptr, change);
        for (const auto *list : {&in.strokes(), &in.notes(), &in.images(), &in.shapes()})
            a.keys.insert(a.keys.end(), list->begin(), list->end());
        a.arrange = std::make_shared<const pb::Arrange>(in);
        record(author, std::move(a));
        break;
    }
    case pb::Op::kShapeDelete: {
        Shape *sh = mutableShape(op.shape_delete().key());
        if (!sh || sh->deleted)
            break;
        sh->deleted = true;
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_SHAPE_DELETE;
        a.keys.push_back(sh->key);
        record(author, std::move(a));
        change.shapes.push_back(sh->key);
        break;
    }
    case pb::Op::kTransform: {
        const pb::Transform &t = op.transform();
        applyTransform(t, false, change);
        Action a;
        a.clientOpId = op.client_op_id();
        a.kind = pb::ACTION_TRANSFORM;
        for (const auto *list : {&t.strokes(), &t.notes(), &t.images(), &t.shapes()})
            a.keys.insert(a.keys.end(), list->begin(), list->end());
        a.transform = std::make_shared<const pb::Transform>(t);
        record(author, std::move(a));
        break;
    }
    case pb::Op::kUndo:
        if (Action *a = mutableAction(author, op.undo().target_client_op_id()); a && !a->undone)
            setUndone(author, *a, true, change);
        break;
    case pb::Op::kRedo:
        if (Action *a = mutableAction(author, op.redo().target_client_op_id()); a && a->undone)
            setUndone(author, *a, false, change);
        break;
    case pb::Op::kClear:
        m_strokes.clear();
        m_strokeIndex.clear();
        m_notes.clear();
        m_noteIndex.clear();
        m_images.clear();
        m_imageIndex.clear();
        m_shapes.clear();
        m_shapeIndex.clear();
        m_layers.clear();
        m_actions.clear();
        m_totalPoints = 0;
        change.cleared = true;
        break;
    case pb::Op::kChat:
    case pb::Op::BODY_NOT_SET:
        break;
    }
    return change;
}

namespace {

// The protobuf wire format, for the snapshot writer below.
using google::protobuf::io::CodedOutputStream;

void putVarint(QByteArray &out, std::uint64_t v)
{
    std::uint8_t buf[10];
    const std::uint8_t *end = CodedOutputStream::WriteVarint64ToArray(v, buf);
    out.append(reinterpret_cast<const char *>(buf), qsizetype(end - buf));
}

enum WireType { Varint = 0, Fixed32 = 5, Delimited = 2 };
constexpr std::uint8_t tagByte(int field, WireType type) { return std::uint8_t((field << 3) | type); }

void putMessage(QByteArray &out, int field, const google::protobuf::MessageLite &message)
{
    out.append(char(tagByte(field, Delimited)));
    const size_t size = message.ByteSizeLong();
    putVarint(out, size);
    const qsizetype at = out.size();
    out.resize(at + qsizetype(size));
    message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t *>(out.data() + at));
}

} // namespace

void WallModel::keepSnapshotPath(const Stroke &s)
{
    if (!s.snapshotPath.empty() || s.points.empty())
        return;
    s.snapshotPath.resize(s.points.size() * kMaxPathBytesPerPoint);
    s.snapshotPath.resize(writePathBytes(s.points, {}, s.snapshotPath.data()));
    s.snapshotPath.shrink_to_fit();
}

bool WallModel::isTombstone(const Stroke &s, ReachableKeys &reachable)
{
    // An open stroke keeps its points: its author may still extend it, from its last point.
    return !s.visible() && s.closed && !reachable.contains(s.key);
}

bool WallModel::isTombstone(const Note &n, ReachableKeys &reachable)
{
    return !n.visible() && !reachable.contains(n.key);
}

bool WallModel::isTombstone(const Image &i, ReachableKeys &reachable)
{
    return !i.visible() && !reachable.contains(i.key);
}

bool WallModel::isTombstone(const Shape &s, ReachableKeys &reachable)
{
    return !s.visible() && !reachable.contains(s.key);
}

bool WallModel::ReachableKeys::contains(std::uint64_t key)
{
    if (!m_keys) {
        m_keys.emplace();
        for (const auto &[author, list] : m_model.m_actions) {
            for (const Action &a : list)
                m_keys->insert(a.keys.begin(), a.keys.end());
        }
    }
    return m_keys->count(key) > 0;
}

void WallModel::fillSnapNote(const Note &n, bool tombstone, pb::SnapNote *out)
{
    out->set_key(n.key);
    if (!tombstone) {
        out->set_x(n.x);
        out->set_y(n.y);
        out->set_text(toWire(n.text));
        out->set_color(n.color);
        out->set_width(n.width);
        out->set_height(n.height);
    }
    out->set_deleted(n.deleted);
    out->set_undone(n.undone);
    out->set_layer(n.layer); // a tombstone's too: where the top and bottom are depends on it
}

pb::WallSnapshot WallModel::visibleClip() const
{
    pb::WallSnapshot clip;
    for (const Stroke &st : m_strokes) {
        if (!st.visible() || st.points.empty())
            continue;
        pb::SnapStroke *out = clip.add_strokes();
        out->set_key(st.key);
        out->set_color(st.color);
        out->set_width(st.width);
        out->set_closed(true);
        encodePoints(st.points, {}, out);
        if (st.pressure.size() == st.points.size())
            out->set_pressure(st.pressure.data(), st.pressure.size());
    }
    for (const Note &n : m_notes) {
        if (n.visible())
            fillSnapNote(n, false, clip.add_notes());
    }
    for (const Image &i : m_images) {
        if (i.visible())
            fillSnapImage(i, false, clip.add_images());
    }
    for (const Shape &sh : m_shapes) {
        if (sh.visible())
            fillSnapShape(sh, false, clip.add_shapes());
    }
    return clip;
}

void WallModel::fillSnapImage(const Image &i, bool tombstone, pb::SnapImage *out)
{
    out->set_key(i.key);
    if (!tombstone) {
        out->set_hash(i.hash.toStdString());
        out->set_x(i.x);
        out->set_y(i.y);
        out->set_width(i.width);
        out->set_height(i.height);
        out->set_rotation(i.rotation);
    }
    out->set_deleted(i.deleted);
    out->set_undone(i.undone);
    out->set_layer(i.layer);
}

void WallModel::fillSnapShape(const Shape &s, bool tombstone, pb::SnapShape *out)
{
    out->set_key(s.key);
    if (!tombstone)
        s.data.toWire(out->mutable_shape());
    out->set_deleted(s.deleted);
    out->set_undone(s.undone);
    out->set_layer(s.layer);
}

void WallModel::fillSnapAction(std::uint64_t author, const Action &a, pb::SnapAction *out)
{
    out->set_author(author);
    out->set_client_op_id(a.clientOpId);
    out->set_kind(a.kind);
    for (const auto key : a.keys)
        out->add_keys(key);
    out->set_undone(a.undone);
    if (a.kind == pb::ACTION_NOTE_EDIT) {
        out->set_text_before(toWire(a.textBefore));
        out->set_text_after(toWire(a.textAfter));
    } else if (a.kind == pb::ACTION_NOTE_MOVE) {
        out->set_x_before(a.xBefore);
        out->set_y_before(a.yBefore);
        out->set_x_after(a.xAfter);
        out->set_y_after(a.yAfter);
    } else if (a.kind == pb::ACTION_NOTE_STYLE) {
        out->set_color_before(a.colorBefore);
        out->set_color_after(a.colorAfter);
        out->set_width_before(a.widthBefore);
        out->set_height_before(a.heightBefore);
        out->set_width_after(a.widthAfter);
        out->set_height_after(a.heightAfter);
    } else if (a.kind == pb::ACTION_SHAPE_EDIT) {
        a.shapeBefore.toWire(out->mutable_shape_before());
        a.shapeAfter.toWire(out->mutable_shape_after());
    } else if (a.kind == pb::ACTION_TRANSFORM && a.transform) {
        *out->mutable_transform() = *a.transform;
        out->clear_keys(); // the transform names them
    } else if (a.kind == pb::ACTION_ARRANGE && a.arrange) {
        *out->mutable_arrange() = *a.arrange;
        out->clear_keys(); // the arrange op names them
        for (const std::int32_t layer : a.layersBefore)
            out->add_layers_before(layer);
    }
}

pb::WallSnapshot WallModel::snapshot() const
{
    pb::WallSnapshot snap;
    snap.set_seq(m_seq);
    snap.set_total_points(m_totalPoints);
    // Hidden objects that no reachable action can bring back travel as tombstones (key and
    // flags, no points or text): a newcomer needs no more to draw the wall, and the key keeps
    // its id taken, so a model loaded from here refuses and accepts exactly what this one does.
    ReachableKeys reachable(*this);
    snap.mutable_strokes()->Reserve(int(m_strokes.size()));
    for (const Stroke &s : m_strokes) {
        const bool tombstone = isTombstone(s, reachable);
        pb::SnapStroke *out = snap.add_strokes();
        out->set_key(s.key);
        if (!tombstone) {
            out->set_color(s.color);
            out->set_width(s.width);
            encodePoints(s.points, {}, out);
            if (!s.pressure.empty())
                out->set_pressure(s.pressure.data(), s.pressure.size());
        }
        out->set_closed(s.closed);
        out->set_erased(s.erased);
        out->set_undone(s.undone);
        out->set_layer(s.layer);
    }
    for (const Note &n : m_notes)
        fillSnapNote(n, isTombstone(n, reachable), snap.add_notes());
    for (const auto &[author, list] : m_actions) {
        for (const Action &a : list)
            fillSnapAction(author, a, snap.add_actions());
    }
    for (const Image &i : m_images)
        fillSnapImage(i, isTombstone(i, reachable), snap.add_images());
    for (const Shape &sh : m_shapes)
        fillSnapShape(sh, isTombstone(sh, reachable), snap.add_shapes());
    return snap;
}

QByteArray WallModel::serializedSnapshot() const
{
    QByteArray out;
    serializeSnapshot(&out);
    return out;
}

void WallModel::serializeSnapshot(QByteArray *into) const
{
    QByteArray &out = *into;
    out.resize(0); // keeps the buffer: a server rewrites its snapshot into the same one
    // Field by field in the order protobuf writes them (by number; zeros and empty fields left
    // out), so the bytes are those of snapshot().SerializeAsString() (tst_wallmodel checks).
    // Strokes, nearly all of the bytes, are written straight from the model: building a
    // SnapStroke message for each costs more than writing it.
    ReachableKeys reachable(*this);
    out.reserve(qsizetype(m_totalPoints * 2 + m_strokes.size() * 24 + 64));
    if (m_seq) {
        out.append(char(tagByte(1, Varint)));
        putVarint(out, m_seq);
    }
    std::vector<char> path;
    for (const Stroke &s : m_strokes) {
        const bool tombstone = isTombstone(s, reachable);
        std::uint8_t head[32]; // SnapStroke fields 1-7: at most 11 + 6 + 5 + 3 * 2 bytes
        size_t h = 0;
        auto headVarint = [&](std::uint64_t v) {
            h = size_t(CodedOutputStream::WriteVarint64ToArray(v, head + h) - head);
        };
        if (s.key) {
            head[h++] = std::uint8_t(tagByte(1, Varint));
            headVarint(s.key);
        }
        const char *pathData = nullptr;
        size_t pathBytes = 0;
        if (!tombstone) {
            if (s.color) {
                head[h++] = std::uint8_t(tagByte(2, Varint));
                headVarint(s.color);
            }
            std::uint32_t width = 0;
            std::memcpy(&width, &s.width, sizeof width);
            if (width) {
                head[h++] = std::uint8_t(tagByte(3, Fixed32));
                for (int i = 0; i < 4; ++i)
                    head[h++] = std::uint8_t(width >> (8 * i));
            }
            if (s.closed) {
                keepSnapshotPath(s);
                pathData = s.snapshotPath.data();
                pathBytes = s.snapshotPath.size();
            } else {
                if (path.size() < s.points.size() * kMaxPathBytesPerPoint)
                    path.resize(s.points.size() * kMaxPathBytesPerPoint);
                pathData = path.data();
                pathBytes = writePathBytes(s.points, {}, path.data());
            }
        }
        for (const auto &[field, on] : {std::pair{5, s.closed}, {6, s.erased}, {7, s.undone}}) {
            if (on) {
                head[h++] = std::uint8_t(tagByte(field, Varint));
                head[h++] = 1;
            }
        }
        const std::uint32_t layer = google::protobuf::internal::WireFormatLite::ZigZagEncode32(s.layer);
        const size_t pressureBytes = tombstone ? 0 : s.pressure.size();
        const size_t size = h + (pathBytes ? 1 + CodedOutputStream::VarintSize64(pathBytes) + pathBytes : 0)
                          + (layer ? 1 + CodedOutputStream::VarintSize32(layer) : 0)
                          + (pressureBytes ? 1 + CodedOutputStream::VarintSize64(pressureBytes) + pressureBytes : 0);
        out.append(char(tagByte(2, Delimited)));
        putVarint(out, size);
        out.append(reinterpret_cast<const char *>(head), qsizetype(h));
        if (pathBytes) {
            out.append(char(tagByte(8, Delimited)));
            putVarint(out, pathBytes);
            out.append(pathData, qsizetype(pathBytes));
        }
        if (s.layer != 0) {
            out.append(char(tagByte(9, Varint)));
            putVarint(out, google::protobuf::internal::WireFormatLite::ZigZagEncode32(s.layer));
        }
        if (pressureBytes) {
            out.append(char(tagByte(10, Delimited)));
            putVarint(out, pressureBytes);
            out.append(reinterpret_cast<const char *>(s.pressure.data()), qsizetype(pressureBytes));
        }
    }
    pb::SnapNote note;
    for (const Note &n : m_notes) {
        note.Clear();
        fillSnapNote(n, isTombstone(n, reachable), &note);
        putMessage(out, 3, note);
    }
    pb::SnapAction action;
    for (const auto &[author, list] : m_actions) {
        for (const Action &a : list) {
            action.Clear();
            fillSnapAction(author, a, &action);
            putMessage(out, 4, action);
        }
    }
    if (m_totalPoints) {
        out.append(char(tagByte(5, Varint)));
        putVarint(out, m_totalPoints);
    }
    pb::SnapImage image;
    for (const Image &i : m_images) {
        image.Clear();
        fillSnapImage(i, isTombstone(i, reachable), &image);
        putMessage(out, 6, image);
    }
    pb::SnapShape shape;
    for (const Shape &sh : m_shapes) {
        shape.Clear();
        fillSnapShape(sh, isTombstone(sh, reachable), &shape);
        putMessage(out, 7, shape);
    }
}

std::optional<Problem> WallModel::load(const pb::WallSnapshot &snap)
{
    WallModel fresh;
    fresh.m_capacity = m_capacity;
    fresh.m_keepsSnapshotPaths = m_keepsSnapshotPaths;
    fresh.m_seq = snap.seq();
    fresh.m_strokes.reserve(size_t(snap.strokes_size()));
    for (const auto &in : snap.strokes()) {
        if (fresh.m_strokeIndex.count(in.key()))
            return invalid(QStringLiteral("The snapshot lists stroke %1 twice.").arg(in.key()));
        Stroke s;
        s.key = in.key();
        s.color = in.color();
        s.width = in.width();
        const DecodeResult r = decodePoints(in, {}, &s.points);
        if (!r.ok)
            return invalid(QStringLiteral("The snapshot's stroke %1 is damaged: %2")
                               .arg(in.key())
                               .arg(r.error));
        if (!in.pressure().empty()) {
            if (in.pressure().size() != s.points.size())
                return invalid(QStringLiteral("The snapshot's stroke %1 is damaged: %2 pressures for %3 points.")
                                   .arg(in.key())
                                   .arg(in.pressure().size())
                                   .arg(s.points.size()));
            s.pressured = true;
            s.pressure.assign(in.pressure().begin(), in.pressure().end());
        }
        s.closed = in.closed();
        s.erased = in.erased();
        s.undone = in.undone();
        fresh.setLayer(s.layer, in.layer());
        fresh.m_totalPoints += s.points.size();
        fresh.m_strokeIndex.emplace(s.key, fresh.m_strokes.size());
        fresh.m_strokes.push_back(std::move(s));
    }
    for (const auto &in : snap.notes()) {
        if (fresh.m_noteIndex.count(in.key()))
            return invalid(QStringLiteral("The snapshot lists note %1 twice.").arg(in.key()));
        Note n;
        n.key = in.key();
        n.x = in.x();
        n.y = in.y();
        n.text = fromWire(in.text());
        n.color = in.color();
        n.width = in.width();
        n.height = in.height();
        n.deleted = in.deleted();
        n.undone = in.undone();
        fresh.setLayer(n.layer, in.layer());
        fresh.m_noteIndex.emplace(n.key, fresh.m_notes.size());
        fresh.m_notes.push_back(std::move(n));
    }
    for (const auto &in : snap.images()) {
        if (fresh.m_imageIndex.count(in.key()))
            return invalid(QStringLiteral("The snapshot lists image %1 twice.").arg(in.key()));
        Image i;
        i.key = in.key();
        i.hash = QByteArray::fromStdString(in.hash());
        i.x = in.x();
        i.y = in.y();
        i.width = in.width();
        i.height = in.height();
        i.rotation = in.rotation();
        i.deleted = in.deleted();
        i.undone = in.undone();
        fresh.setLayer(i.layer, in.layer());
        fresh.m_imageIndex.emplace(i.key, fresh.m_images.size());
        fresh.m_images.push_back(std::move(i));
    }
    for (const auto &in : snap.shapes()) {
        if (fresh.m_shapeIndex.count(in.key()))
            return invalid(QStringLiteral("The snapshot lists shape %1 twice.").arg(in.key()));
        Shape sh;
        sh.key = in.key();
        sh.data = ShapeData::fromWire(in.shape());
        sh.deleted = in.deleted();
        sh.undone = in.undone();
        fresh.setLayer(sh.layer, in.layer());
        fresh.m_shapeIndex.emplace(sh.key, fresh.m_shapes.size());
        fresh.m_shapes.push_back(std::move(sh));
    }
    for (const auto &in : snap.actions()) {
        Action a;
        a.clientOpId = in.client_op_id();
        a.kind = in.kind();
        a.keys.assign(in.keys().begin(), in.keys().end());
        a.undone = in.undone();
        a.textBefore = fromWire(in.text_before());
        a.textAfter = fromWire(in.text_after());
        a.xBefore = in.x_before();
        a.yBefore = in.y_before();
        a.xAfter = in.x_after();
        a.yAfter = in.y_after();
        a.colorBefore = in.color_before();
        a.colorAfter = in.color_after();
        a.widthBefore = in.width_before();
        a.heightBefore = in.height_before();
        a.widthAfter = in.width_after();
        a.heightAfter = in.height_after();
        if (a.kind == pb::ACTION_SHAPE_EDIT) {
            a.shapeBefore = ShapeData::fromWire(in.shape_before());
            a.shapeAfter = ShapeData::fromWire(in.shape_after());
        } else if (a.kind == pb::ACTION_TRANSFORM) {
            const pb::Transform &t = in.transform();
            a.keys.clear();
            for (const auto *list : {&t.strokes(), &t.notes(), &t.images(), &t.shapes()})
                a.keys.insert(a.keys.end(), list->begin(), list->end());
            a.transform = std::make_shared<const pb::Transform>(t);
        } else if (a.kind == pb::ACTION_ARRANGE) {
            const pb::Arrange &r = in.arrange();
            a.keys.clear();
            for (const auto *list : {&r.strokes(), &r.notes(), &r.images(), &r.shapes()})
                a.keys.insert(a.keys.end(), list->begin(), list->end());
            a.arrange = std::make_shared<const pb::Arrange>(r);
            a.layersBefore.assign(in.layers_before().begin(), in.layers_before().end());
        }
        fresh.record(in.author(), std::move(a));
    }
    // Tombstones carry no points, yet their points still count against the wall's limit.
    fresh.m_totalPoints = std::max<std::uint64_t>(fresh.m_totalPoints, snap.total_points());
    *this = std::move(fresh);
    return std::nullopt;
}

} // namespace scrawl
