#pragma once

// The minimap: the whole wall in a small box in a corner, with the part in view outlined. Click
// or drag in it to look elsewhere. It repaints at most a few times a second, whatever the wall
// does: it is there to tell where you are, not to show ink as it is drawn.

#include "app/canvasitem.h"

#include <QPointer>
#include <QQuickPaintedItem>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

namespace scrawl {

class MinimapItem : public QQuickPaintedItem
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(scrawl::CanvasItem *canvas READ canvas WRITE setCanvas NOTIFY canvasChanged)
    // The wall's background and the outline of the view, from the theme.
    Q_PROPERTY(QColor background READ background WRITE setBackground NOTIFY canvasChanged)
    Q_PROPERTY(QColor viewColor READ viewColor WRITE setViewColor NOTIFY canvasChanged)
    // Does the wall reach beyond the view (then a minimap has something to say)?
    Q_PROPERTY(bool wallLargerThanView READ wallLargerThanView NOTIFY areaChanged)

public:
    explicit MinimapItem(QQuickItem *parent = nullptr);

    CanvasItem *canvas() const { return m_canvas; }
    void setCanvas(CanvasItem *canvas);
    QColor background() const { return m_background; }
    void setBackground(const QColor &c);
    QColor viewColor() const { return m_viewColor; }
    void setViewColor(const QColor &c);
    bool wallLargerThanView() const { return m_larger; }

    void paint(QPainter *painter) override;
    // What part of the wall the minimap shows (content and view together), and the map from it
    // to the item: for tests.
    Q_INVOKABLE QRectF shownWallRect() const { return m_area; }
    Q_INVOKABLE QPointF wallAt(QPointF itemPos) const;

signals:
    void canvasChanged();
    void areaChanged();

protected:
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;

private:
    void scheduleRepaint();
    void updateArea();
    void centreViewAt(QPointF itemPos);

    QPointer<CanvasItem> m_canvas;
    QColor m_background = Qt::white;
    QColor m_viewColor = QColor(0x1c, 0x7e, 0xd6);
    QRectF m_area;       // wall pixels shown
    double m_scale = 1;  // item pixels per wall pixel
    QPointF m_offset;    // item position of m_area's top-left
    bool m_larger = false;
    bool m_dragging = false;
    QTimer m_repaint;
};

} // namespace scrawl
