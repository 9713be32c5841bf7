// The select tool: picking objects (a click, a box dragged out, Shift to add or take away,
// Ctrl+A), and moving, resizing, duplicating and deleting what is picked.
//
// A selection being moved or resized floats: at the start of the drag it is painted once into an
// image, left out of the tiles (which repaint once without it), and the image follows the
// pointer as a texture node. A move of 10,000 strokes then costs a frame what moving one texture
// costs. On release one Transform op goes out; the float stays where it was dropped until the
// server has applied the op (or refused it), so nothing jumps back meanwhile.

#include "app/canvasitem.h"

#include <QBuffer>
#include <QClipboard>
#include <QGuiApplication>
#include <QMimeData>
#include <QPainter>
#include <QQuickWindow>
#include <QSvgGenerator>
#include <QtMath>

#include <algorithm>
#include <cmath>

namespace scrawl {

namespace {

enum Kind { kStroke = 0, kNote = 1, kImage = 2, kShape = 3 };

constexpr double kHandleReachPx = 10; // how near a corner grabs its handle, screen px
constexpr double kDragStartPx = 3;    // a press that moves less is a click
constexpr int kMaxFloatSide = 4096;   // the floated image's longest side, device px

std::vector<std::uint64_t> &listOf(WallClient::Copies &c, int kind)
{
    return kind == kStroke ? c.strokes : kind == kNote ? c.notes : kind == kImage ? c.images : c.shapes;
}

} // namespace

const WallClient::LocalStroke *CanvasItem::localStroke(std::uint64_t key) const
{
    if (!m_client || keyAuthor(key) != m_client->userId())
        return nullptr;
    const auto it = m_client->localStrokes().find(std::uint32_t(key & 0xffffffffu));
    return it == m_client->localStrokes().end() ? nullptr : &it->second;
}

int CanvasItem::selectionCount() const
{
    return int(m_selection.strokes.size() + m_selection.notes.size() + m_selection.images.size()
               + m_selection.shapes.size());
}

bool CanvasItem::isSelected(std::uint64_t key, int kind) const { return m_selected[kind].count(key) > 0; }

bool CanvasItem::isNoteSelected(const QString &key) const { return isSelected(key.toULongLong(), kNote); }

void CanvasItem::select(const WallClient::Copies &objects)
{
    WallClient::Copies next = objects;
    for (int k = 0; k < 4; ++k) {
        // Each once, in the order given.
        m_selected[k].clear();
        std::erase_if(listOf(next, k), [&](std::uint64_t key) { return !m_selected[k].insert(key).second; });
    }
    m_selection = std::move(next);
    m_selectionBounds.reset();
    emit selectionChanged();
}

void CanvasItem::clearSelection()
{
    if (selectionCount() == 0)
        return;
    select({});
}

QRectF CanvasItem::noteRect(const NotesModel::Note &n) const
{
    return QRectF(n.x, n.y, n.width > 0 ? n.width : kNoteWidth, std::max(80.0, n.height));
}

QRectF CanvasItem::selectionWallBounds() const
{
    // Asked for at every pointer move of a drag (the outline follows it): worked out once a
    // change.
    if (m_selectionBounds)
        return *m_selectionBounds;
    m_selectionBounds = boundsOf(m_selection);
    return *m_selectionBounds;
}

QRectF CanvasItem::boundsOf(const WallClient::Copies &objects) const
{
    QRectF out;
    if (!m_client)
        return out;
    const WallModel &model = m_client->model();
    for (const std::uint64_t key : objects.strokes) {
        if (const WallModel::Stroke *s = model.stroke(key)) {
            const auto idx = size_t(s - model.strokes().data());
            out = out.united(idx < m_bounds.size() ? m_bounds[idx] : s->bounds());
        } else if (const auto local = localStroke(key)) {
            out = out.united(local->bounds());
        }
    }
    for (const std::uint64_t key : objects.notes) {
        if (const int row = m_client->notes()->rowOf(key); row >= 0)
            out = out.united(noteRect(m_client->notes()->notes()[size_t(row)]));
    }
    for (const std::uint64_t key : objects.images) {
        if (const WallModel::Image *i = model.image(key))
            out = out.united(imageBounds(*i));
    }
    for (const std::uint64_t key : objects.shapes) {
        WallModel::ShapeData d;
        if (m_client->effectiveShape(key, &d))
            out = out.united(shapeBounds(d));
    }
    return out;
}

QRectF CanvasItem::floatTarget() const { return floated(m_floatWallRect); }

QRectF CanvasItem::floated(const QRectF &r, bool turned) const
{
    auto map = [this](QPointF p) {
        return QPointF(m_floatOrigin.x() + (p.x() - m_floatOrigin.x()) * m_floatSx + m_floatDelta.x(),
                       m_floatOrigin.y() + (p.y() - m_floatOrigin.y()) * m_floatSy + m_floatDelta.y());
    };
    const QRectF out = QRectF(map(r.topLeft()), map(r.bottomRight())).normalized();
    if (!turned || m_floatAngle == 0)
        return out;
    return turnedAbout(m_floatOrigin.x(), m_floatOrigin.y(), m_floatAngle).mapRect(out);
}

QRectF CanvasItem::selectionRect() const
{
    if (selectionCount() == 0)
        return {};
    QRectF wall = selectionWallBounds();
    if (m_floating)
        wall = floated(wall);
    return QRectF(mapFromWall(wall.topLeft()), mapFromWall(wall.bottomRight()));
}

QRectF CanvasItem::bandRect() const
{
    if (m_gesture != Gesture::Band)
        return {};
    return QRectF(mapFromWall(m_bandFrom), mapFromWall(m_bandTo)).normalized();
}

QPointF CanvasItem::floatShift() const { return m_floating ? m_floatDelta * m_zoom : QPointF(); }

double CanvasItem::floatAngle() const { return m_floating ? qRadiansToDegrees(m_floatAngle) : 0.0; }

QPointF CanvasItem::floatPivot() const { return mapFromWall(m_floatOrigin); }

bool CanvasItem::selectionTurned() const
{
    if (!m_client)
        return false;
    for (const std::uint64_t key : m_selection.images) {
        if (const WallModel::Image *i = m_client->model().image(key); i && i->rotation != 0)
            return true;
    }
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (m_client->effectiveShape(key, &d) && d.rotation != 0)
            return true;
    }
    return false;
}

std::optional<std::pair<int, std::uint64_t>> CanvasItem::objectAt(QPointF p) const
{
    if (!m_client)
        return std::nullopt;
    const double r = 4.0 / m_zoom;
    const QRectF probe(p.x() - r, p.y() - r, 2 * r, 2 * r);
    // The topmost thing drawn here: by layer, then ink over shapes over images, then the last
    // drawn of each kind.
    const WallModel &model = m_client->model();
    std::optional<std::pair<int, std::uint64_t>> best;
    std::tuple<std::int32_t, int, size_t> bestOrder{std::numeric_limits<std::int32_t>::min(), 0, 0};
    auto consider = [&](int kind, std::uint64_t key, std::int32_t layer, int rank, size_t index) {
        const std::tuple order{layer, rank, index};
        if (!best || order > bestOrder) {
            best = std::pair{kind, key};
            bestOrder = order;
        }
    };
    const auto &strokes = model.strokes();
    std::vector<std::uint32_t> near;
    const_cast<StrokeIndex &>(m_index).query(probe, &near);
    for (const std::uint32_t i : near) {
        if (i >= strokes.size() || i >= m_bounds.size())
            continue;
        const WallModel::Stroke &s = strokes[i];
        if (s.visible() && s.closed && !m_client->isHiddenLocally(s.key) && m_client->mayChange(s.key)
            && m_bounds[i].intersects(probe) && strokeTouches(s.points, s.width, p, r))
            consider(kStroke, s.key, s.layer, 2, i);
    }
    const auto shapes = m_client->shownShapes();
    for (size_t i = 0; i < shapes.size(); ++i) {
        const auto &[key, shape] = shapes[i];
        if (m_client->mayChange(key) && shapeTouches(shape, p, r)) {
            const WallModel::Shape *made = model.shape(key);
            consider(kShape, key, made ? made->layer : model.topLayer(), 1, i);
        }
    }
    const auto &images = model.images();
    for (size_t i = 0; i < images.size(); ++i) {
        const WallModel::Image &image = images[i];
        if (m_client->isImageShown(image.key) && m_client->mayChange(image.key) && imageTouches(image, p))
            consider(kImage, image.key, image.layer, 0, i);
    }
    return best;
}

void CanvasItem::selectAll()
{
    if (!m_client)
        return;
    WallClient::Copies all;
    for (const auto &s : m_client->model().strokes()) {
        if (s.visible() && s.closed && !m_client->isHiddenLocally(s.key))
            all.strokes.push_back(s.key);
    }
    for (const auto &n : m_client->notes()->notes())
        all.notes.push_back(n.key);
    for (const auto &i : m_client->model().images()) {
        if (m_client->isImageShown(i.key))
            all.images.push_back(i.key);
    }
    for (const auto &[key, shape] : m_client->shownShapes())
        all.shapes.push_back(key);
    // Only what this person may change (on a protected wall, their own work).
    for (int k = 0; k < 4; ++k)
        std::erase_if(listOf(all, k), [this](std::uint64_t key) { return !m_client->mayChange(key); });
    select(all);
}

void CanvasItem::pruneSelection()
{
    if (!m_client || selectionCount() == 0 || m_floating)
        return;
    m_selectionBounds.reset();
    WallClient::Copies kept;
    for (const std::uint64_t key : m_selection.strokes) {
        // A copy just made is drawn from the outbox until the server has it.
        const WallModel::Stroke *s = m_client->model().stroke(key);
        if ((s && s->visible() && !m_client->isHiddenLocally(key)) || (!s && localStroke(key)))
            kept.strokes.push_back(key);
    }
    for (const std::uint64_t key : m_selection.notes) {
        if (std::any_of(m_client->notes()->notes().begin(), m_client->notes()->notes().end(),
                        [key](const NotesModel::Note &note) { return note.key == key; }))
            kept.notes.push_back(key);
    }
    for (const std::uint64_t key : m_selection.images) {
        if (m_client->isImageShown(key))
            kept.images.push_back(key);
    }
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (m_client->effectiveShape(key, &d))
            kept.shapes.push_back(key);
    }
    if (int(kept.strokes.size() + kept.notes.size() + kept.images.size() + kept.shapes.size())
        != selectionCount())
        select(kept);
    else
        emit selectionChanged(); // bounds may have changed
}

void CanvasItem::deleteSelection()
{
    if (!m_client || selectionCount() == 0)
        return;
    const WallClient::Copies doomed = m_selection;
    select({});
    m_client->erase(doomed.strokes);
    for (const std::uint64_t key : doomed.shapes)
        m_client->deleteShape(QString::number(key));
    for (const std::uint64_t key : doomed.images)
        m_client->deleteImage(QString::number(key));
    for (const std::uint64_t key : doomed.notes)
        m_client->deleteNote(QString::number(key));
}

void CanvasItem::duplicateSelection()
{
    if (!m_client || selectionCount() == 0)
        return;
    // Down and to the right of the original, as in the whiteboards people know.
    const double step = 16.0 / std::max(m_zoom, 0.25);
    select(m_client->duplicate(m_selection, QPointF(step, step)));
}

void CanvasItem::nudgeSelection(double dx, double dy)
{
    if (!m_client || selectionCount() == 0 || m_floating)
        return;
    pb::Transform t = selectionTransform();
    t.set_dx(float(dx));
    t.set_dy(float(dy));
    m_client->transformObjects(std::move(t));
}

void CanvasItem::arrangeSelection(bool toBack)
{
    if (!m_client || selectionCount() == 0 || m_floating)
        return;
    m_client->arrange(m_selection, toBack);
}

// --- restyling ---------------------------------------------------------------------------------

void CanvasItem::recolorSelection(const QColor &color)
{
    if (!m_client)
        return;
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (!m_client->effectiveShape(key, &d) || !m_client->mayChange(key))
            continue;
        d.color = std::uint32_t(color.rgb()) & 0xffffffu;
        // A filled shape's fill follows, keeping its strength.
        if (!d.isLine() && (d.fill >> 24) != 0)
            d.fill = (d.fill & 0xff000000u) | d.color;
        m_client->editShape(key, d);
    }
    for (const auto &n : m_client->notes()->notes()) {
        if (isSelected(n.key, 1) && m_client->mayChange(n.key))
            m_client->styleNote(QString::number(n.key), color, n.width, n.height);
    }
    m_selectionBounds.reset();
    emit selectionChanged();
}

void CanvasItem::setSelectionWidth(double width)
{
    if (!m_client)
        return;
    width = std::clamp(width, double(limits::kMinStrokeWidth), double(limits::kMaxStrokeWidth));
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (!m_client->effectiveShape(key, &d) || d.kind == pb::SHAPE_TEXT || !m_client->mayChange(key))
            continue;
        d.strokeWidth = float(width);
        m_client->editShape(key, d);
    }
    m_selectionBounds.reset();
    emit selectionChanged();
}

void CanvasItem::setSelectionFontSize(double size)
{
    if (!m_client)
        return;
    size = std::clamp(size, double(limits::kMinFontSize), double(limits::kMaxFontSize));
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (!m_client->effectiveShape(key, &d) || d.kind != pb::SHAPE_TEXT || !m_client->mayChange(key))
            continue;
        d.fontSize = float(size);
        m_client->editShape(key, d);
    }
    m_selectionBounds.reset();
    emit selectionChanged();
}

void CanvasItem::setSelectionFill(const QColor &fill)
{
    if (!m_client)
        return;
    for (const std::uint64_t key : m_selection.shapes) {
        WallModel::ShapeData d;
        if (!m_client->effectiveShape(key, &d) || d.isLine() || d.kind == pb::SHAPE_TEXT
            || !m_client->mayChange(key))
            continue;
        d.fill = fill.alpha() > 0 ? std::uint32_t(fill.rgba()) : 0;
        // Without fill a shape needs its line.
        if (d.fill == 0 && d.strokeWidth == 0)
            d.strokeWidth = float(m_penWidth);
        m_client->editShape(key, d);
    }
}

// --- clipboard ---------------------------------------------------------------------------------

void CanvasItem::copySelection()
{
    if (!m_client || selectionCount() == 0)
        return;
    auto *mime = new QMimeData;
    mime->setData(QString::fromLatin1(WallClient::kClipMimeType),
                  QByteArray::fromStdString(m_client->clipOf(m_selection).SerializeAsString()));
    // The picture, at 1:1 (up to 4096 px a side), on white in the colours drawn, as an export.
    const QRectF area = selectionWallBounds().adjusted(-8, -8, 8, 8);
    const double scale = std::min(1.0, kMaxFloatSide / std::max(area.width(), area.height()));
    const QSize size(std::max(1, int(std::ceil(area.width() * scale))),
                     std::max(1, int(std::ceil(area.height() * scale))));
    auto paint = [&](QPainter &painter) {
        painter.fillRect(QRect(QPoint(0, 0), size), Qt::white);
        paintObjects(m_selection, painter, area, scale);
    };
    QImage image(size, QImage::Format_ARGB32_Premultiplied);
    {
        QPainter painter(&image);
        paint(painter);
    }
    mime->setImageData(image);
    QBuffer svg;
    svg.open(QIODevice::WriteOnly);
    QSvgGenerator generator;
    generator.setOutputDevice(&svg);
    generator.setSize(size);
    generator.setViewBox(QRect(QPoint(0, 0), size));
    {
        QPainter painter(&generator);
        paint(painter);
    }
    mime->setData(QStringLiteral("image/svg+xml"), svg.data());
    QGuiApplication::clipboard()->setMimeData(mime);
}

bool CanvasItem::paste(QPointF wallPos)
{
    if (!m_client)
        return false;
    const QMimeData *mime = QGuiApplication::clipboard()->mimeData();
    const QString clipType = QString::fromLatin1(WallClient::kClipMimeType);
    if (mime && mime->hasFormat(clipType)) {
        pb::WallSnapshot clip;
        if (!clip.ParseFromString(mime->data(clipType).toStdString())) {
            m_client->showNotice(tr("What is on the clipboard could not be read; copy it again."));
            return true;
        }
        const WallClient::Copies made = m_client->place(clip, wallPos);
        setTool(Select);
        select(made);
        return true;
    }
    return m_client->pasteFromClipboard(wallPos.x(), wallPos.y());
}

// --- gestures ----------------------------------------------------------------------------------

void CanvasItem::pressSelect(QPointF item, QPointF wall, Qt::KeyboardModifiers mods)
{
    m_pressWall = wall;
    // A corner handle of the selection: resize about the opposite corner. The handle above it:
    // turn it about its middle.
    if (selectionCount() > 0 && !m_floating) {
        const QRectF r = selectionRect();
        const QPointF turn = QPointF(r.center().x(), r.top() - rotateHandleOffset()) - item;
        if (std::hypot(turn.x(), turn.y()) <= kHandleReachPx) {
            m_gesture = Gesture::Rotate;
            return;
        }
        const QPointF corners[4] = {r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()};
        for (int c = 0; c < 4; ++c) {
            const QPointF d = item - corners[c];
            if (std::hypot(d.x(), d.y()) <= kHandleReachPx) {
                m_resizeCorner = c;
                m_gesture = Gesture::Resize;
                return;
            }
        }
    }
    const auto hit = objectAt(wall);
    if (hit && (mods & Qt::ShiftModifier)) {
        WallClient::Copies next = m_selection;
        auto &list = listOf(next, hit->first);
        if (isSelected(hit->second, hit->first))
            std::erase(list, hit->second);
        else
            list.push_back(hit->second);
        select(next);
        m_gesture = Gesture::None;
        return;
    }
    if (hit) {
        if (!isSelected(hit->second, hit->first)) {
            WallClient::Copies one;
            listOf(one, hit->first).push_back(hit->second);
            select(one);
        }
        m_gesture = Gesture::Move;
        return;
    }
    if (!(mods & Qt::ShiftModifier))
        clearSelection();
    m_bandFrom = m_bandTo = wall;
    m_gesture = Gesture::Band;
    emit selectionChanged();
}

void CanvasItem::moveSelect(QPointF item, QPointF wall, Qt::KeyboardModifiers mods)
{
    Q_UNUSED(item);
    moveSelectGesture(wall, mods);
    // Others see the things move (up to max_preview_objects; a bigger selection, its box).
    if (m_floating && m_client && selectionCount() <= limits::kMaxPreviewObjects) {
        const pb::Transform t = floatTransform();
        m_client->setDragPreview(&t);
    }
}

void CanvasItem::moveSelectGesture(QPointF wall, Qt::KeyboardModifiers mods)
{
    switch (m_gesture) {
    case Gesture::Band:
        m_bandTo = wall;
        emit selectionChanged();
        break;
    case Gesture::Move: {
        QPointF delta = wall - m_pressWall;
        if (!m_floating) {
            if (std::hypot(delta.x(), delta.y()) * m_zoom < kDragStartPx)
                return;
            startFloat();
        }
        if (mods & Qt::ShiftModifier) // along one axis
            delta = std::abs(delta.x()) >= std::abs(delta.y()) ? QPointF(delta.x(), 0) : QPointF(0, delta.y());
        m_floatDelta = delta;
        update();
        emit selectionChanged();
        break;
    }
    case Gesture::Resize: {
        if (!m_floating)
            startFloat();
        const QRectF b = selectionWallBounds();
        if (b.width() <= 0 && b.height() <= 0)
            return;
        const QPointF corners[4] = {b.topLeft(), b.topRight(), b.bottomRight(), b.bottomLeft()};
        const QPointF grabbed = corners[m_resizeCorner];
        const QPointF anchor = corners[(m_resizeCorner + 2) % 4];
        auto factor = [](double now, double was) {
            if (std::abs(was) < 1e-6)
                return 1.0;
            return std::clamp(now / was, double(limits::kMinTransformScale), double(limits::kMaxTransformScale));
        };
        double sx = factor(wall.x() - anchor.x(), grabbed.x() - anchor.x());
        double sy = factor(wall.y() - anchor.y(), grabbed.y() - anchor.y());
        // Keeps its proportions with Shift, and always when something in it is turned (a turned
        // box stretched one way would be skewed).
        if ((mods & Qt::ShiftModifier) || selectionTurned())
            sx = sy = std::max(sx, sy);
        m_floatOrigin = anchor;
        m_floatSx = sx;
        m_floatSy = sy;
        update();
        emit selectionChanged();
        break;
    }
    case Gesture::Rotate: {
        if (!m_floating)
            startFloat();
        if (!m_floating)
            return;
        const QPointF pivot = selectionWallBounds().center();
        const QPointF from = m_pressWall - pivot, to = wall - pivot;
        if (std::hypot(to.x(), to.y()) * m_zoom < kDragStartPx)
            return;
        double angle = std::atan2(to.y(), to.x()) - std::atan2(from.y(), from.x());
        // Shift: in steps of 15 degrees.
        if (mods & Qt::ShiftModifier)
            angle = std::round(angle / (M_PI / 12)) * (M_PI / 12);
        m_floatOrigin = pivot;
        m_floatAngle = std::remainder(angle, 2 * M_PI);
        update();
        emit selectionChanged();
        break;
    }
    default: break;
    }
}

void CanvasItem::releaseSelect()
{
    switch (m_gesture) {
    case Gesture::Band: {
        const QRectF band = QRectF(m_bandFrom, m_bandTo).normalized();
        WallClient::Copies picked = m_selection;
        auto add = [&](int kind, std::uint64_t key) {
            if (!isSelected(key, kind) && m_client->mayChange(key))
                listOf(picked, kind).push_back(key);
        };
        if (band.width() > 0 || band.height() > 0) {
            // Everything wholly inside the box.
            const auto &strokes = m_client->model().strokes();
            std::vector<std::uint32_t> near;
            m_index.query(band, &near);
            for (const std::uint32_t i : near) {
                if (i < strokes.size() && i < m_bounds.size() && strokes[i].visible() && strokes[i].closed
                    && !m_client->isHiddenLocally(strokes[i].key) && band.contains(m_bounds[i]))
                    add(kStroke, strokes[i].key);
            }
            for (const auto &[key, shape] : m_client->shownShapes()) {
                if (band.contains(shapeBounds(shape)))
                    add(kShape, key);
            }
            for (const auto &i : m_client->model().images()) {
                if (m_client->isImageShown(i.key) && band.contains(imageBounds(i)))
                    add(kImage, i.key);
            }
            for (const auto &n : m_client->notes()->notes()) {
                if (band.contains(noteRect(n)))
                    add(kNote, n.key);
            }
        }
        m_gesture = Gesture::None;
        select(picked);
        break;
    }
    case Gesture::Move:
    case Gesture::Resize:
    case Gesture::Rotate:
        if (m_floating)
            sendFloat();
        break;
    default: break;
    }
    m_resizeCorner = -1;
}

// --- the float ---------------------------------------------------------------------------------

void CanvasItem::collectObjects(const WallClient::Copies &objects, const QRectF &area, double scale,
                                StrokeBatch *batch)
{
    const WallModel &model = m_client->model();
    for (const std::uint64_t key : objects.images) {
        const WallModel::Image *image = model.image(key);
        if (!image)
            continue;
        const QRectF rect(image->x, image->y, image->width, image->height);
        batch->addPicture(
            {rect, m_client->imageCache()->image(image->hash, rect.width() * scale), image->rotation, image->layer});
    }
    for (const std::uint64_t key : objects.shapes) {
        WallModel::ShapeData d;
        if (m_client->effectiveShape(key, &d)) {
            const WallModel::Shape *made = model.shape(key);
            batch->addShape(d, made ? made->layer : 0);
        }
    }
    for (const std::uint64_t key : objects.strokes) {
        if (const WallModel::Stroke *s = model.stroke(key); s && s->bounds().intersects(area))
            batch->add(s->points, s->color, s->width, scale, s->layer, s->pressure);
    }
}

void CanvasItem::paintObjects(const WallClient::Copies &objects, QPainter &painter, const QRectF &area,
                              double scale, bool onScreen)
{
    painter.setRenderHint(QPainter::Antialiasing);
    QTransform t;
    t.scale(scale, scale);
    t.translate(-area.left(), -area.top());
    painter.setTransform(t);
    StrokeBatch batch;
    collectObjects(objects, area, scale, &batch);
    batch.darkWall = onScreen && m_darkWall;
    paintStrokes(painter, batch, scale);
}

pb::Transform CanvasItem::selectionTransform() const
{
    pb::Transform t;
    for (const auto key : m_selection.strokes) t.add_strokes(key);
    for (const auto key : m_selection.notes) t.add_notes(key);
    for (const auto key : m_selection.images) t.add_images(key);
    for (const auto key : m_selection.shapes) t.add_shapes(key);
    return t;
}

QImage CanvasItem::paintFloat(const WallClient::Copies &objects, const QRectF &bounds, QRectF *area)
{
    // Painted at the current zoom, as far as the view and a quarter of it around go: what can be
    // seen while it is dragged about (what lies further out shows once it is dropped). A bigger
    // float costs its first frame more than its painting saves.
    const QRectF view = visibleWallRect();
    const QRectF reach = view.adjusted(-view.width() / 4, -view.height() / 4, view.width() / 4,
                                       view.height() / 4);
    *area = bounds.intersected(reach).isEmpty() ? bounds : bounds.intersected(reach);
    const double dpr = window() ? window()->effectiveDevicePixelRatio() : 1.0;
    double scale = m_zoom * dpr;
    const double longest = std::max(area->width(), area->height()) * scale;
    if (longest > kMaxFloatSide)
        scale *= kMaxFloatSide / longest;
    QImage image(std::max(1, int(std::ceil(area->width() * scale))),
                 std::max(1, int(std::ceil(area->height() * scale))), QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::transparent);
    QPainter painter(&image);
    paintObjects(objects, painter, *area, scale, true);
    painter.end();
    return image;
}

void CanvasItem::startFloat()
{
    if (!m_client || m_floating)
        return;
    const QRectF bounds = selectionWallBounds();
    if (bounds.isEmpty())
        return;
    m_floatImage = paintFloat(m_selection, bounds, &m_floatWallRect);
    m_floatImageChanged = true;
    m_floatDelta = QPointF();
    m_floatSx = m_floatSy = 1;
    m_floatAngle = 0;
    m_floatOrigin = QPointF();
    m_floatOp = 0;
    m_floating = true;
    markDirty(bounds); // the tiles, without it
    emit selectionChanged();
}

pb::Transform CanvasItem::floatTransform() const
{
    const bool scaled = m_floatSx != 1 || m_floatSy != 1;
    const bool turned = m_floatAngle != 0;
    pb::Transform t = selectionTransform();
    t.set_dx(float(m_floatDelta.x()));
    t.set_dy(float(m_floatDelta.y()));
    if (scaled) {
        t.set_scale_x(float(m_floatSx));
        t.set_scale_y(float(m_floatSy));
        t.set_origin_x(float(m_floatOrigin.x()));
        t.set_origin_y(float(m_floatOrigin.y()));
    }
    if (turned) {
        t.set_rotation(std::clamp(float(m_floatAngle), -limits::kMaxRotation, limits::kMaxRotation));
        t.set_origin_x(float(m_floatOrigin.x()));
        t.set_origin_y(float(m_floatOrigin.y()));
    }
    return t;
}

void CanvasItem::sendFloat()
{
    if (m_floatDelta == QPointF() && m_floatSx == 1 && m_floatSy == 1 && m_floatAngle == 0) {
        endFloat();
        return;
    }
    pb::Transform t = floatTransform();
    m_floatOp = m_client->transformObjects(std::move(t));
    if (!m_floatOp)
        endFloat();
}

// --- others' drags ------------------------------------------------------------------------------

namespace {

// Where a drag preview (a transform) takes wall point p.
QPointF previewed(const pb::Transform &t, QPointF p)
{
    const double sx = t.scale_x() == 0 ? 1.0 : t.scale_x(), sy = t.scale_y() == 0 ? 1.0 : t.scale_y();
    const double c = std::cos(double(t.rotation())), s = std::sin(double(t.rotation()));
    const double u = (p.x() - t.origin_x()) * sx, v = (p.y() - t.origin_y()) * sy;
    return QPointF(t.origin_x() + c * u - s * v + t.dx(), t.origin_y() + s * u + c * v + t.dy());
}

QRectF previewedBounds(const pb::Transform &t, const QRectF &r)
{
    const QPointF c[4] = {previewed(t, r.topLeft()), previewed(t, r.topRight()), previewed(t, r.bottomRight()),
                          previewed(t, r.bottomLeft())};
    double l = c[0].x(), rt = l, tp = c[0].y(), b = tp;
    for (const QPointF &p : c) {
        l = std::min(l, p.x()), rt = std::max(rt, p.x()), tp = std::min(tp, p.y()), b = std::max(b, p.y());
    }
    return QRectF(QPointF(l, tp), QPointF(rt, b));
}

} // namespace

bool CanvasItem::lifted(std::uint64_t key, int kind) const
{
    return (m_floating && isSelected(key, kind)) || (!m_remoteFloats.empty() && m_remoteLifted[kind].count(key));
}

void CanvasItem::onDragPreviewChanged(std::uint64_t user)
{
    if (!m_client)
        return;
    const auto &previews = m_client->dragPreviews();
    const auto it = previews.find(user);
    auto f = m_remoteFloats.find(user);
    auto drop = [this](RemoteFloat &old) {
        markDirty(old.wallRect);
        markDirty(previewedBounds(old.transform, old.wallRect));
    };
    if (it == previews.end()) {
        if (f == m_remoteFloats.end())
            return;
        drop(f->second);
        m_remoteFloats.erase(f);
    } else {
        // What it names that is here to show.
        const pb::Transform &t = it->second;
        const WallModel &model = m_client->model();
        WallClient::Copies objects;
        for (const auto key : t.strokes()) {
            if (const auto *s = model.stroke(key); s && s->visible())
                objects.strokes.push_back(key);
        }
        for (const auto key : t.notes()) {
            if (m_client->notes()->rowOf(key) >= 0)
                objects.notes.push_back(key);
        }
        for (const auto key : t.images()) {
            if (m_client->isImageShown(key))
                objects.images.push_back(key);
        }
        for (const auto key : t.shapes()) {
            WallModel::ShapeData d;
            if (m_client->effectiveShape(key, &d))
                objects.shapes.push_back(key);
        }
        if (f == m_remoteFloats.end() || f->second.objects != objects) {
            if (f != m_remoteFloats.end())
                drop(f->second);
            RemoteFloat lift;
            lift.objects = std::move(objects);
            const QRectF bounds = boundsOf(lift.objects);
            lift.image = paintFloat(lift.objects, bounds, &lift.wallRect);
            lift.imageChanged = true;
            markDirty(bounds); // the tiles, without them
            f = m_remoteFloats.insert_or_assign(user, std::move(lift)).first;
        } else {
            markDirty(previewedBounds(f->second.transform, f->second.wallRect)); // a frame's trail
        }
        f->second.transform = t;
    }
    for (auto &set : m_remoteLifted)
        set.clear();
    for (const auto &[who, lift] : m_remoteFloats) {
        for (int k = 0; k < 4; ++k) {
            const auto &list = k == kStroke ? lift.objects.strokes : k == kNote ? lift.objects.notes
                             : k == kImage ? lift.objects.images : lift.objects.shapes;
            m_remoteLifted[k].insert(list.begin(), list.end());
        }
    }
    ++m_remoteFloatRevision;
    emit remoteFloatsChanged();
    update();
}

QPointF CanvasItem::remoteNoteShift(const QString &keyText) const
{
    const std::uint64_t key = keyText.toULongLong();
    if (m_remoteFloats.empty() || !m_remoteLifted[kNote].count(key) || !m_client)
        return {};
    for (const auto &[who, lift] : m_remoteFloats) {
        if (std::find(lift.objects.notes.begin(), lift.objects.notes.end(), key) == lift.objects.notes.end())
            continue;
        const int row = m_client->notes()->rowOf(key);
        if (row < 0)
            return {};
        // As the model moves a note (WallModel::applyTransform): a turn moves its middle.
        const QRectF box = noteRect(m_client->notes()->notes()[size_t(row)]);
        const QPointF from = lift.transform.rotation() != 0 ? box.center() : box.topLeft();
        return (previewed(lift.transform, from) - from) * m_zoom;
    }
    return {};
}

void CanvasItem::endFloat()
{
    if (!m_floating)
        return;
    markDirty(m_floatWallRect);
    markDirty(floated(m_floatWallRect, true));
    m_floating = false;
    m_floatOp = 0;
    m_floatImage = QImage();
    m_floatImageChanged = true;
    m_floatDelta = QPointF();
    m_floatSx = m_floatSy = 1;
    m_floatAngle = 0;
    if (m_client)
        m_client->setDragPreview(nullptr);
    pruneSelection();
    emit selectionChanged();
    update();
}

} // namespace scrawl
