#include "app/minimapitem.h"

#include <QMouseEvent>
#include <QPainter>

namespace scrawl {

namespace {
// The fastest the minimap repaints while the wall changes.
constexpr int kRepaintMs = 250;
} // namespace

MinimapItem::MinimapItem(QQuickItem *parent)
    : QQuickPaintedItem(parent)
{
    setAcceptedMouseButtons(Qt::LeftButton);
    setAntialiasing(true);
    m_repaint.setSingleShot(true);
    m_repaint.setInterval(kRepaintMs);
    connect(&m_repaint, &QTimer::timeout, this, [this] {
        if (!m_dragging)
            updateArea();
        update();
    });
    connect(this, &QQuickItem::widthChanged, this, &MinimapItem::scheduleRepaint);
    connect(this, &QQuickItem::heightChanged, this, &MinimapItem::scheduleRepaint);
    connect(this, &QQuickItem::visibleChanged, this, &MinimapItem::scheduleRepaint);
}

void MinimapItem::setCanvas(CanvasItem *canvas)
{
    if (m_canvas == canvas)
        return;
    if (m_canvas)
        disconnect(m_canvas, nullptr, this, nullptr);
    m_canvas = canvas;
    if (m_canvas) {
        // A moved view shows at once (it is cheap: the picture is redrawn, the area kept);
        // changed ink at most every kRepaintMs.
        // While it is dragged in, what it shows holds still under the pointer.
        connect(m_canvas, &CanvasItem::viewChanged, this, [this] {
            if (!m_dragging)
                updateArea();
            update();
        });
        connect(m_canvas, &CanvasItem::frameSynced, this, &MinimapItem::scheduleRepaint);
        connect(m_canvas, &QQuickItem::widthChanged, this, &MinimapItem::scheduleRepaint);
        connect(m_canvas, &QQuickItem::heightChanged, this, &MinimapItem::scheduleRepaint);
    }
    scheduleRepaint();
    emit canvasChanged();
}

void MinimapItem::setBackground(const QColor &c)
{
    if (m_background == c)
        return;
    m_background = c;
    update();
    emit canvasChanged();
}

void MinimapItem::setViewColor(const QColor &c)
{
    if (m_viewColor == c)
        return;
    m_viewColor = c;
    update();
    emit canvasChanged();
}

void MinimapItem::scheduleRepaint()
{
    if (!m_repaint.isActive())
        m_repaint.start();
}

void MinimapItem::updateArea()
{
    if (!m_canvas || width() <= 0 || height() <= 0)
        return;
    const QRectF view = m_canvas->visibleWallRect();
    const QRectF content = m_canvas->contentBounds();
    const bool larger = !content.isEmpty() && !view.contains(content);
    QRectF area = content.isEmpty() ? view : content.united(view);
    area.adjust(-area.width() * 0.05, -area.height() * 0.05, area.width() * 0.05, area.height() * 0.05);
    m_scale = std::min(width() / area.width(), height() / area.height());
    m_offset = QPointF((width() - area.width() * m_scale) / 2, (height() - area.height() * m_scale) / 2);
    m_area = area;
    if (larger != m_larger) {
        m_larger = larger;
        emit areaChanged();
    }
}

QPointF MinimapItem::wallAt(QPointF itemPos) const
{
    return m_area.topLeft() + (itemPos - m_offset) / m_scale;
}

void MinimapItem::paint(QPainter *painter)
{
    painter->fillRect(boundingRect(), m_background);
    if (!m_canvas || m_area.isEmpty())
        return;
    painter->save();
    painter->translate(m_offset);
    // paintWall maps the area's top-left to the painter's origin at the scale given.
    m_canvas->paintWall(*painter, m_area, m_scale, true, true);
    painter->restore();
    const QRectF view = m_canvas->visibleWallRect();
    const QRectF box(m_offset + (view.topLeft() - m_area.topLeft()) * m_scale, view.size() * m_scale);
    QColor fill = m_viewColor;
    fill.setAlphaF(0.12f);
    painter->setPen(QPen(m_viewColor, 1.5));
    painter->setBrush(fill);
    painter->drawRect(box);
}

void MinimapItem::centreViewAt(QPointF itemPos)
{
    if (!m_canvas || m_area.isEmpty())
        return;
    const QPointF wall = wallAt(itemPos);
    const double zoom = m_canvas->zoom();
    m_canvas->setView(zoom, m_canvas->width() / 2 - wall.x() * zoom, m_canvas->height() / 2 - wall.y() * zoom);
}

void MinimapItem::mousePressEvent(QMouseEvent *event)
{
    m_dragging = true;
    centreViewAt(event->position());
    event->accept();
}

void MinimapItem::mouseReleaseEvent(QMouseEvent *event)
{
    m_dragging = false;
    updateArea();
    update();
    event->accept();
}

void MinimapItem::mouseMoveEvent(QMouseEvent *event)
{
    centreViewAt(event->position());
    event->accept();
}

} // namespace scrawl
