#pragma once

// The wall on screen: a C++ QQuickItem (not QML Canvas) that draws the WallModel, this client's
// unacknowledged strokes and remote strokes as they grow, and turns mouse/keyboard input into
// strokes, erases, notes, pan and zoom.
//
// Drawing: the view is cut into 256 px tiles at the current zoom. A tile is painted once with
// QPainter into an image (only the strokes the grid index says may touch it), uploaded as a
// texture and kept while it stays near the view; a pan only moves texture nodes. Tiles coming
// into view, and the ring just outside it, are painted on worker threads (TilePainter) from
// copies of their strokes, so panning a dense wall costs a frame little more than panning an
// empty one. A change dirties just the tiles under it, and those are painted in the frame itself
// so that ink shows at once. After a zoom the old tiles stay on screen, scaled, until the new
// ones are ready. Texture nodes are drawn by every Qt Quick backend, including
// QT_QUICK_BACKEND=software (which silently skips custom geometry nodes in Qt 6.4).

#include "app/strokeindex.h"
#include "app/tilepainter.h"
#include "app/wallclient.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QQuickItem>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

QT_BEGIN_NAMESPACE
class QPainter;
QT_END_NAMESPACE

namespace scrawl {

class CanvasItem : public QQuickItem
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(scrawl::WallClient *client READ client WRITE setClient NOTIFY clientChanged)
    Q_PROPERTY(Tool tool READ tool WRITE setTool NOTIFY toolChanged)
    Q_PROPERTY(QColor penColor READ penColor WRITE setPenColor NOTIFY penChanged)
    Q_PROPERTY(double penWidth READ penWidth WRITE setPenWidth NOTIFY penChanged)
    Q_PROPERTY(QColor background READ background WRITE setBackground NOTIFY backgroundChanged)
    // A dark wall: dark ink is shown light (wallInk); exports stay as drawn.
    Q_PROPERTY(bool darkWall READ darkWall WRITE setDarkWall NOTIFY backgroundChanged)
    // Shapes drawn from now on: filled with this (transparent: not filled); text in this size.
    Q_PROPERTY(QColor fillColor READ fillColor WRITE setFillColor NOTIFY penChanged)
    Q_PROPERTY(double textSize READ textSize WRITE setTextSize NOTIFY penChanged)
    Q_PROPERTY(double zoom READ zoom NOTIFY viewChanged)
    Q_PROPERTY(double panX READ panX NOTIFY viewChanged)
    Q_PROPERTY(double panY READ panY NOTIFY viewChanged)
    Q_PROPERTY(bool panning READ panning NOTIFY panningChanged)
    // True once every visible tile is painted and nothing is dirty (tests wait for it).
    Q_PROPERTY(bool settled READ settled NOTIFY settledChanged)
    // The select tool's selection: its bounds and the box being dragged out, in item pixels;
    // `floatShift` is how far (item px) a selection being moved has gone, for the note views.
    Q_PROPERTY(int selectionCount READ selectionCount NOTIFY selectionChanged)
    Q_PROPERTY(QRectF selectionRect READ selectionRect NOTIFY selectionChanged)
    Q_PROPERTY(QRectF bandRect READ bandRect NOTIFY selectionChanged)
    Q_PROPERTY(QPointF floatShift READ floatShift NOTIFY selectionChanged)
    // While a selection is turned by its handle: by how much (degrees, clockwise) and about what
    // (item px), for the outline and the note views. The handle is this far above the outline.
    Q_PROPERTY(double floatAngle READ floatAngle NOTIFY selectionChanged)
    Q_PROPERTY(QPointF floatPivot READ floatPivot NOTIFY selectionChanged)
    Q_PROPERTY(double rotateHandleOffset READ rotateHandleOffset CONSTANT)
    // Others' drags shown live: bumped at each change, for the note views (remoteNoteShift).
    Q_PROPERTY(int remoteFloatRevision READ remoteFloatRevision NOTIFY remoteFloatsChanged)
    // Time spent preparing the last frame (tile painting and node updates), in ms.
    Q_PROPERTY(double lastSyncMs READ lastSyncMs NOTIFY frameSynced)

public:
    // Appended only: the last tool is kept in the settings by number.
    enum Tool { Pen, Eraser, Note, Pan, Line, Arrow, Rect, Ellipse, Diamond, Text, Select, Laser };
    Q_ENUM(Tool)

    static constexpr int kTileSize = 256;
    static constexpr double kMinZoom = 0.02;
    static constexpr double kMaxZoom = 32.0;
    // Notes on the wall: fixed width, in wall pixels (the QML note view uses the same numbers).
    static constexpr double kNoteWidth = 200.0;
    // A new note's height on the wall with its colour row, for placing it whole in view.
    static constexpr double kNewNoteHeight = 80.0;
    static constexpr double kNotePadding = 8.0;
    static constexpr double kNoteFontPx = 14.0;

    explicit CanvasItem(QQuickItem *parent = nullptr);
    ~CanvasItem() override;

    WallClient *client() const { return m_client; }
    void setClient(WallClient *client);
    Tool tool() const { return m_tool; }
    void setTool(Tool tool);
    QColor penColor() const { return m_penColor; }
    void setPenColor(const QColor &color);
    double penWidth() const { return m_penWidth; }
    void setPenWidth(double width);
    QColor fillColor() const { return m_fillColor; }
    void setFillColor(const QColor &color);
    double textSize() const { return m_textSize; }
    void setTextSize(double size);
    QColor background() const { return m_background; }
    void setBackground(const QColor &color);
    bool darkWall() const { return m_darkWall; }
    // The colour ink of `color` shows in on this wall now (wallInk).
    Q_INVOKABLE QColor inkOnScreen(const QColor &color) const;
    void setDarkWall(bool dark);
    double zoom() const { return m_zoom; }
    double panX() const { return m_pan.x(); }
    double panY() const { return m_pan.y(); }
    bool panning() const { return m_panning; }
    bool settled() const { return m_settled; }
    double lastSyncMs() const { return m_lastSyncMs; }
    int selectionCount() const;
    QRectF selectionRect() const;
    QRectF bandRect() const;
    QPointF floatShift() const;
    double floatAngle() const;
    QPointF floatPivot() const;
    static constexpr double rotateHandleOffset() { return 24; }
    int remoteFloatRevision() const { return m_remoteFloatRevision; }
    // How far (item px) another's drag has taken this note, as it will land.
    Q_INVOKABLE QPointF remoteNoteShift(const QString &key) const;

    // The selection (select tool): everything on the wall, none, and what to do with it. Moves
    // and resizes are one undoable op each; deleting is one per object kind.
    Q_INVOKABLE void selectAll();
    Q_INVOKABLE void clearSelection();
    Q_INVOKABLE void deleteSelection();
    Q_INVOKABLE void duplicateSelection();
    Q_INVOKABLE void nudgeSelection(double dx, double dy); // wall px
    // Ctrl+Shift+] and Ctrl+Shift+[: over everything else on the wall, or under it.
    Q_INVOKABLE void arrangeSelection(bool toBack);
    Q_INVOKABLE bool isNoteSelected(const QString &key) const;
    // The selected shapes (and notes, for the colour) take this colour, line width or fill
    // (transparent: none); one undoable op each. Strokes keep theirs.
    Q_INVOKABLE void recolorSelection(const QColor &color);
    Q_INVOKABLE void setSelectionWidth(double width);
    Q_INVOKABLE void setSelectionFill(const QColor &fill);
    // The size of the selected texts (the properties card's text size with texts selected).
    Q_INVOKABLE void setSelectionFontSize(double size);
    // Ctrl+C: the selection on the clipboard, for Scrawl (any wall) and as a PNG and an SVG for
    // other programs. Paste: a Scrawl clip centred on `wallPos` (picked afterwards), else what
    // WallClient::pasteFromClipboard takes. False when the clipboard has nothing to place.
    Q_INVOKABLE void copySelection();
    Q_INVOKABLE bool paste(QPointF wallPos);
    // What is selected, by kind (tests, benchmarks).
    const WallClient::Copies &selection() const { return m_selection; }
    void select(const WallClient::Copies &objects);

    Q_INVOKABLE QPointF mapToWall(QPointF itemPos) const { return (itemPos - m_pan) / m_zoom; }
    Q_INVOKABLE QPointF mapFromWall(QPointF wallPos) const { return wallPos * m_zoom + m_pan; }
    Q_INVOKABLE void setView(double zoom, double panX, double panY);
    // Shows `wallRect` whole and centred (someone else's view, followed): the only change of
    // view that is not the person's own (viewMovedByHand).
    Q_INVOKABLE void showWallRect(const QRectF &wallRect);
    Q_INVOKABLE void panBy(double dx, double dy);
    // Zooms by `factor` keeping the wall point under `itemPos` where it is.
    Q_INVOKABLE void zoomBy(double factor, QPointF itemPos);
    Q_INVOKABLE void zoomToFit();
    Q_INVOKABLE void resetView();
    // The visible part of the wall, in wall pixels.
    Q_INVOKABLE QRectF visibleWallRect() const;
    // Everything drawn on the wall (strokes and notes), in wall pixels; empty for an empty wall.
    Q_INVOKABLE QRectF contentBounds() const;
    // What an export covers.
    enum ExportArea { ExportWall, ExportView, ExportSelection };
    Q_ENUM(ExportArea)
    // Writes `area` to `path`, a .png or .svg file (by its suffix), at `scale` times its size on
    // the wall (the view: times its size on screen), over white or, `transparent`, over nothing.
    // Always in the colours drawn, whatever the theme. A PNG is at most 8192 px a side (the
    // scale gives way). On failure returns false and sets exportError to a sentence for a person.
    Q_INVOKABLE bool exportImage(const QString &path, int area, double scale, bool transparent);
    // The whole wall or the visible area, at 1:1, over white.
    Q_INVOKABLE bool exportTo(const QUrl &file, bool visibleOnly);
    Q_INVOKABLE QString exportError() const { return m_exportError; }

    // Paints strokes and notes of `area` (wall pixels) at `scale` device pixels per wall pixel
    // into `painter`, whose origin is the area's top-left. Used by export and by tiles.
    // `onScreen`: in the theme's colours (the minimap), else as drawn (export).
    void paintWall(QPainter &painter, const QRectF &area, double scale, bool notes, bool onScreen = false);

    // How many of a stroke's points are on screen: all of them, but for someone else's stroke
    // whose latest points are still flowing in (see Reveal).
    size_t shownPoints(std::uint64_t key) const;

signals:
    void clientChanged();
    void toolChanged();
    void penChanged();
    void backgroundChanged();
    void viewChanged();
    // The person moved or zoomed their view (not showWallRect): following someone ends.
    void viewMovedByHand();
    void panningChanged();
    void settledChanged();
    void frameSynced();
    // A note was placed with the note tool: the view opens it for typing.
    void noteCreated(const QString &key);
    // The text tool was clicked at `wallPos`: on an existing text (`key`) to edit it, or on empty
    // wall (`key` empty) to start one. The view opens its editor.
    void textRequested(QPointF wallPos, const QString &key);
    void selectionChanged();
    void remoteFloatsChanged();

protected:
    QSGNode *updatePaintNode(QSGNode *old, UpdatePaintNodeData *) override;
    void geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry) override;
    void itemChange(ItemChange change, const ItemChangeData &value) override;
    bool eventFilter(QObject *watched, QEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void mouseUngrabEvent() override;
    void hoverMoveEvent(QHoverEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void keyReleaseEvent(QKeyEvent *event) override;
    void focusOutEvent(QFocusEvent *event) override;

private:
    void onWindowChanged(QQuickWindow *window);
    void onWallReset();
    void onWallChanged(const WallModel::Change &change);
    void onLocalStrokeChanged(std::uint32_t id, size_t firstNewPoint);
    void onLocalStrokeRemoved(std::uint32_t id, QRectF area);
    void onHiddenChanged(const std::vector<std::uint64_t> &keys);
    void onShapeChanged(std::uint64_t key);
    // The shape being drawn, from where the drag started to `to` (Shift: 45° lines, squares).
    WallModel::ShapeData shapeBeingDrawn(QPointF to, bool constrain) const;
    void setPreview(std::optional<WallModel::ShapeData> preview);
    void indexNewStrokes();
    void markDirty(const QRectF &wallRect);
    void setSettled(bool settled);
    // Everything is drawn again on the next frame (a new background, theme or wall).
    void repaintAll();
    void updateCursorShape();
    void eraseAt(QPointF wallPos);
    // The strokes that may touch `area`, thinned for `scale`, in draw order: as far as they are
    // shown (asShown), or whole (export).
    void collectStrokes(const QRectF &area, double scale, StrokeBatch *batch, bool asShown = true);
    void reveal(const WallModel::Stroke &s, size_t firstNew);
    void advanceReveals();
    bool revealing() const;
    void showCursorAtTip(const WallModel::Stroke &s, size_t shown);
    size_t shownPoints(const WallModel::Stroke &s) const;
    void endGesture();
    void cancelGesture();
    // selection (canvasselection.cpp)
    QRectF selectionWallBounds() const;
    QRectF noteRect(const NotesModel::Note &n) const;
    bool isSelected(std::uint64_t key, int kind) const;
    void pressSelect(QPointF item, QPointF wall, Qt::KeyboardModifiers mods);
    void moveSelect(QPointF item, QPointF wall, Qt::KeyboardModifiers mods);
    void releaseSelect();
    // The topmost object under wall point `p`: kind (0 stroke, 1 note, 2 image, 3 shape), key.
    std::optional<std::pair<int, std::uint64_t>> objectAt(QPointF p) const;
    void pruneSelection();
    const WallClient::LocalStroke *localStroke(std::uint64_t key) const;
    // A selection being moved or resized floats: drawn once into an image that follows the
    // pointer, left out of the tiles, until the server has the move.
    void startFloat();
    void endFloat();
    void sendFloat();
    QRectF floatTarget() const; // where the floated area is now, wall px
    // A wall rect moved and scaled as the float is; `turned`: the bounds of it turned as well.
    QRectF floated(const QRectF &wallRect, bool turned = false) const;
    QRectF boundsOf(const WallClient::Copies &objects) const; // wall px
    void collectObjects(const WallClient::Copies &objects, const QRectF &area, double scale, StrokeBatch *batch);
    // Objects (the selection, another's drag) drawn into `painter` (origin at the area's
    // top-left) at `scale`.
    // `onScreen`: in the theme's colours (a dragged selection), else as drawn (copy, export).
    void paintObjects(const WallClient::Copies &objects, QPainter &painter, const QRectF &area, double scale,
                      bool onScreen = false);
    pb::Transform selectionTransform() const; // naming everything selected, moving nothing
    pb::Transform floatTransform() const;     // naming it, moving it as the float is now
    void moveSelectGesture(QPointF wall, Qt::KeyboardModifiers mods);
    // `objects` painted for a float from `bounds` (the part near the view: *area).
    QImage paintFloat(const WallClient::Copies &objects, const QRectF &bounds, QRectF *area);
    // Others' drags in progress (WallClient::dragPreviews): what each lifts off the tiles, painted
    // once into an image that goes where their preview says, until it lands.
    struct RemoteFloat
    {
        WallClient::Copies objects;
        pb::Transform transform;
        QImage image;
        bool imageChanged = false;
        QRectF wallRect; // what the image shows
    };
    void onDragPreviewChanged(std::uint64_t user);
    // Left out of the tiles: floating, here or in another's drag.
    bool lifted(std::uint64_t key, int kind) const;
    bool selectionTurned() const; // does it hold a turned shape or image?

    QPointer<WallClient> m_client;
    Tool m_tool = Pen;
    QColor m_penColor = QColor(0x22, 0x22, 0x22);
    double m_penWidth = 3.0;
    QColor m_background = Qt::white;
    bool m_darkWall = false;
    double m_zoom = 1.0;
    QPointF m_pan;

    // Grid entries of strokes no longer there (a step back in the timeline): see onWallChanged.
    size_t m_staleIndexEntries = 0;
    // stroke index over WallModel::strokes()
    StrokeIndex m_index;
    std::vector<QRectF> m_bounds;
    size_t m_indexed = 0;
    std::vector<std::uint32_t> m_scratch;

    // Someone else's stroke being drawn arrives a batch at a time: each is played out at the pace
    // it was drawn (InkPlayout, core/points.h), a little every frame.
    std::unordered_map<std::uint64_t, InkPlayout> m_reveals; // by stroke key
    std::unordered_map<std::uint64_t, double> m_playoutMs;  // by author: how far apart their batches come
    QElapsedTimer m_revealClock;
    QTimer m_revealTimer;

    // handed to the render thread in updatePaintNode (the GUI thread is blocked there)
    std::vector<QRectF> m_dirty;
    bool m_dirtyAll = true;
    std::atomic<bool> m_moreTiles{false};    // tiles left for the next frame to paint
    std::atomic<bool> m_waitingTiles{false}; // visible tiles still on the workers
    std::unique_ptr<TilePainter> m_painter;  // made and used on the render thread
    std::uint64_t m_jobIds = 0;
    bool m_settled = false;
    std::uint64_t m_changes = 0;                 // views and contents asked for (GUI thread)
    std::atomic<std::uint64_t> m_syncedChanges{0}; // the last of them a sync took in
    double m_lastSyncMs = 0;

    // gestures
    enum class Gesture { None, Draw, Erase, Pan, Shape, Band, Move, Resize, Rotate, Laser };
    Gesture m_gesture = Gesture::None;
    bool m_showingOthersView = false; // in showWallRect
    void reportView();
    std::uint32_t m_strokeId = 0;
    QPointF m_lastItemPos;
    QPointF m_lastWallPos;
    std::vector<std::uint64_t> m_erased;
    QPointF m_shapeFrom;                            // wall px, where a shape's drag began
    std::optional<WallModel::ShapeData> m_preview;  // the shape being drawn, not sent yet
    std::unordered_map<std::uint64_t, QRectF> m_shapeBounds; // where each shape was last drawn
    QColor m_fillColor = Qt::transparent;
    // selection
    WallClient::Copies m_selection;
    mutable std::optional<QRectF> m_selectionBounds; // wall px, until the selection or it changes
    std::unordered_set<std::uint64_t> m_selected[4]; // by kind, as in objectAt
    QPointF m_bandFrom, m_bandTo;                   // wall px, while a box is dragged out
    QPointF m_pressWall;                            // where the move or resize began
    int m_resizeCorner = -1;                        // 0 top-left, clockwise
    bool m_floating = false;
    bool m_floatImageChanged = false;
    QImage m_floatImage;
    QRectF m_floatWallRect;                         // what the image shows, wall px
    QPointF m_floatDelta;                           // wall px
    double m_floatSx = 1, m_floatSy = 1;
    double m_floatAngle = 0;                        // radians, clockwise, about m_floatOrigin
    QPointF m_floatOrigin;
    std::uint64_t m_floatOp = 0;                    // the op the float waits for
    std::map<std::uint64_t, RemoteFloat> m_remoteFloats; // by user id
    std::unordered_set<std::uint64_t> m_remoteLifted[4]; // what they lift, by kind
    int m_remoteFloatRevision = 0;
    std::unordered_map<std::uint64_t, QRectF> m_imageRects; // where each image was last drawn
    QPointer<QQuickWindow> m_watchedWindow; // for its tablet events
    double m_penPressure = -1;               // the pen's, 0..1, from the last tablet event; < 0: none
    double m_textSize = 24;
    bool m_spaceDown = false;
    bool m_panning = false;
    QString m_exportError;
    QMetaObject::Connection m_frameConnection;
    QMetaObject::Connection m_selectionBoxConnection; // the selection's box to the client
    QMetaObject::Connection m_animationConnection;
};

} // namespace scrawl
