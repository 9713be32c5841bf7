#include "app/canvasitem.h"

#include <QCursor>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QLoggingCategory>
#include <QPainter>
#include <QQuickWindow>
#include <QSGImageNode>
#include <QSGNode>
#include <QSGRectangleNode>
#include <QSGTexture>
#include <QSvgGenerator>
#include <QTabletEvent>
#include <QtMath>
#include <QMatrix4x4>

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

Q_LOGGING_CATEGORY(lcCanvas, "scrawl.app.canvas", QtInfoMsg)

namespace scrawl {

namespace {

// Work for tiles in a frame (painting changed tiles, copying the strokes of tiles for the
// workers) may take this long; the rest waits for the next frames, so a pan or zoom over a dense
// wall keeps its frame rate and the detail fills in.
constexpr qint64 kTileBudgetNs = 8'000'000;
// Tiles this far outside the view (in tiles) are kept for when the view comes back.
constexpr int kKeepMargin = 2;

struct TileKey
{
    int i = 0;
    int j = 0;
    friend bool operator==(TileKey a, TileKey b) { return a.i == b.i && a.j == b.j; }
};

struct TileKeyHash
{
    size_t operator()(TileKey k) const noexcept
    {
        return std::hash<std::uint64_t>()((std::uint64_t(std::uint32_t(k.i)) << 32) | std::uint32_t(k.j));
    }
};

struct Tile
{
    QSGImageNode *node = nullptr;
    std::unique_ptr<QSGTexture> texture;
    bool dirty = false;
};

using TileMap = std::unordered_map<TileKey, Tile, TileKeyHash>;

// The item's node: owns its tiles. When the scene graph drops the tree (window hidden, context
// lost) the tiles go with it and the next updatePaintNode starts afresh.
class TileRoot : public QSGNode
{
public:
    QSGRectangleNode *background = nullptr;
    // Transform nodes that never move anything: Qt 6.4's software renderer keeps the position
    // and clip of transform, clip and opacity nodes only, and places a node added later under a
    // plain QSGNode at the window's origin, unclipped (stray tiles over other items).
    QSGTransformNode *fallbackLayer = nullptr;
    QSGTransformNode *currentLayer = nullptr;
    // A selection being moved: one image over the tiles (canvasselection.cpp).
    QSGTransformNode *floatLayer = nullptr;
    QSGImageNode *floatNode = nullptr;
    std::unique_ptr<QSGTexture> floatTexture;
    // Others' drags: one image each, each under a transform node of its own.
    QSGTransformNode *remoteLayer = nullptr;
    struct Remote
    {
        QSGTransformNode *turn = nullptr;
        QSGImageNode *node = nullptr;
        std::unique_ptr<QSGTexture> texture;
    };
    std::map<std::uint64_t, Remote> remote;
    TileMap current;
    TileMap fallback;
    double currentZoom = 0;
    double fallbackZoom = 0;
    double dpr = 0;
    // Tiles of the current zoom being painted on the workers, by the id of the request. A tile
    // that changes meanwhile is marked stale: its image is shown when it comes, and painted again.
    struct Pending
    {
        std::uint64_t id = 0;
        bool stale = false;
    };
    std::unordered_map<TileKey, Pending, TileKeyHash> pending;
    // Every visible tile of the current zoom was on screen at the last frame.
    bool currentComplete = false;

    // Tiles off screen (the ring painted ahead, those kept for when the view comes back) are
    // taken out of the tree: they cost the renderer nothing, and the software renderer would
    // draw them over neighbouring items.
    ~TileRoot() override
    {
        for (auto *map : {&current, &fallback})
            for (auto &[key, tile] : *map)
                if (tile.node && !tile.node->parent())
                    delete tile.node;
        if (floatNode && !floatNode->parent())
            delete floatNode;
    }
    static void show(QSGNode *layer, Tile &tile, bool shown)
    {
        if (shown && !tile.node->parent())
            layer->appendChildNode(tile.node);
        else if (!shown && tile.node->parent())
            layer->removeChildNode(tile.node);
    }
    static void destroy(Tile &tile)
    {
        if (tile.node && tile.node->parent())
            tile.node->parent()->removeChildNode(tile.node);
        delete tile.node;
        tile.node = nullptr;
    }
    void drop(TileMap &map, TileMap::iterator it, TileMap::iterator *next)
    {
        destroy(it->second);
        *next = map.erase(it);
    }
    void dropAll(TileMap &map)
    {
        for (auto &[key, tile] : map)
            destroy(tile);
        map.clear();
    }
};

QRectF tileWallRect(TileKey k, double zoom)
{
    const double t = CanvasItem::kTileSize / zoom;
    return QRectF(k.i * t, k.j * t, t, t);
}

// The bounds of points [from, to) of a stroke (to the end by default), pen width included.
QRectF segmentBounds(const std::vector<FixedPoint> &points, size_t from, double width,
                     size_t to = SIZE_MAX)
{
    to = std::min(to, points.size());
    if (to == 0)
        return {};
    from = std::min(from, to - 1);
    std::int32_t x0 = points[from].x, x1 = x0, y0 = points[from].y, y1 = y0;
    for (size_t i = from; i < to; ++i) {
        x0 = std::min(x0, points[i].x);
        x1 = std::max(x1, points[i].x);
        y0 = std::min(y0, points[i].y);
        y1 = std::max(y1, points[i].y);
    }
    const double h = width / 2.0 + 1.0;
    return QRectF(QPointF(double(x0) / kCoordScale - h, double(y0) / kCoordScale - h),
                  QPointF(double(x1) / kCoordScale + h, double(y1) / kCoordScale + h));
}

} // namespace

CanvasItem::CanvasItem(QQuickItem *parent)
    : QQuickItem(parent)
{
    setFlag(ItemHasContents);
    setFlag(ItemIsFocusScope);
    setAcceptedMouseButtons(Qt::LeftButton | Qt::MiddleButton);
    setAcceptHoverEvents(true);
    setActiveFocusOnTab(true);
    setClip(true);
    m_revealClock.start();
    // While others' ink flows in, a tick a frame moves it on and asks for the frame. Frames
    // alone cannot carry it: a grab (a screenshot, a test) takes the frame asked for and
    // never reports it swapped.
    m_revealTimer.setTimerType(Qt::PreciseTimer);
    m_revealTimer.setInterval(16);
    connect(&m_revealTimer, &QTimer::timeout, this, [this] {
        advanceReveals();
        if (!revealing())
            m_revealTimer.stop();
    });
    updateCursorShape();
    connect(this, &QQuickItem::windowChanged, this, &CanvasItem::onWindowChanged);
    // Made with a parent already in a window: windowChanged came before the connect above.
    if (window())
        onWindowChanged(window());
}

CanvasItem::~CanvasItem()
{
    m_painter.reset(); // its threads may still post updates to this item: stop them first
}

void CanvasItem::setClient(WallClient *client)
{
    if (m_client == client)
        return;
    if (m_client) {
        m_client->disconnect(this);
        m_client->imageCache()->disconnect(this);
        disconnect(m_selectionBoxConnection);
    }
    m_client = client;
    if (client) {
        connect(client, &WallClient::wallReset, this, &CanvasItem::onWallReset);
        connect(client, &WallClient::joined, this, [this] { reportView(); });
        connect(client, &WallClient::wallChanged, this, &CanvasItem::onWallChanged);
        connect(client, &WallClient::localStrokeChanged, this, &CanvasItem::onLocalStrokeChanged);
        connect(client, &WallClient::localStrokeRemoved, this, &CanvasItem::onLocalStrokeRemoved);
        connect(client, &WallClient::hiddenChanged, this, &CanvasItem::onHiddenChanged);
        connect(client, &WallClient::shapeChanged, this, &CanvasItem::onShapeChanged);
        connect(client, &WallClient::dragPreviewChanged, this, &CanvasItem::onDragPreviewChanged);
        // A moved selection floats until the server has the move (or refused it).
        connect(client, &WallClient::pendingCountChanged, this, [this] {
            if (m_floating && m_floatOp && !m_client->isOutstanding(m_floatOp))
                endFloat();
        });
        connect(client->notes(), &QAbstractItemModel::rowsRemoved, this, &CanvasItem::pruneSelection);
        // Others see what this person has picked, and where they drag it.
        m_selectionBoxConnection = connect(this, &CanvasItem::selectionChanged, client, [this] {
            if (!m_client)
                return;
            QRectF box = selectionCount() > 0 ? selectionWallBounds() : QRectF();
            if (m_floating)
                box = floated(box, true);
            m_client->setSelectionBox(box);
        });
        connect(client->notes(), &QAbstractItemModel::dataChanged, this, &CanvasItem::pruneSelection);
        // An image arrived (or failed, or was let go): repaint where it is drawn.
        connect(client->imageCache(), &ImageCache::changed, this, [this](const QByteArray &hash) {
            if (!m_client)
                return;
            for (const WallModel::Image &image : m_client->model().images()) {
                if (image.hash == hash && image.visible())
                    markDirty(imageBounds(image));
            }
        });
    }
    m_floating = false;
    m_floatImage = QImage();
    m_floatImageChanged = true;
    m_remoteFloats.clear();
    for (auto &set : m_remoteLifted)
        set.clear();
    select({});
    onWallReset();
    emit clientChanged();
}

void CanvasItem::setTool(Tool tool)
{
    if (m_tool == tool)
        return;
    endGesture();
    if (tool != Select)
        clearSelection();
    m_tool = tool;
    updateCursorShape();
    emit toolChanged();
}

void CanvasItem::setPenColor(const QColor &color)
{
    if (m_penColor == color)
        return;
    m_penColor = color;
    emit penChanged();
}

void CanvasItem::setPenWidth(double width)
{
    width = std::clamp(width, double(limits::kMinStrokeWidth), double(limits::kMaxStrokeWidth));
    if (m_penWidth == width)
        return;
    m_penWidth = width;
    emit penChanged();
}

void CanvasItem::setFillColor(const QColor &color)
{
    if (m_fillColor == color)
        return;
    m_fillColor = color;
    emit penChanged();
}

void CanvasItem::setTextSize(double size)
{
    size = std::clamp(size, double(limits::kMinFontSize), double(limits::kMaxFontSize));
    if (m_textSize == size)
        return;
    m_textSize = size;
    emit penChanged();
}

void CanvasItem::setBackground(const QColor &color)
{
    if (m_background == color)
        return;
    m_background = color;
    repaintAll();
    emit backgroundChanged();
}

QColor CanvasItem::inkOnScreen(const QColor &color) const
{
    return wallInk(std::uint32_t(color.rgb()), m_darkWall);
}

void CanvasItem::setDarkWall(bool dark)
{
    if (m_darkWall == dark)
        return;
    m_darkWall = dark;
    repaintAll();
    emit backgroundChanged();
}

void CanvasItem::repaintAll()
{
    m_dirtyAll = true;
    setSettled(false);
    update();
}

void CanvasItem::setSettled(bool settled)
{
    if (!settled)
        ++m_changes;
    if (m_settled == settled)
        return;
    m_settled = settled;
    emit settledChanged();
}

// --- view --------------------------------------------------------------------------------------

void CanvasItem::setView(double zoom, double panX, double panY)
{
    zoom = std::clamp(zoom, kMinZoom, kMaxZoom);
    if (!std::isfinite(panX) || !std::isfinite(panY))
        return;
    if (zoom == m_zoom && panX == m_pan.x() && panY == m_pan.y())
        return;
    m_zoom = zoom;
    m_pan = QPointF(panX, panY);
    setSettled(false);
    update();
    emit viewChanged();
    if (!m_showingOthersView)
        emit viewMovedByHand();
    reportView();
    if (selectionCount() > 0)
        emit selectionChanged();
}

void CanvasItem::showWallRect(const QRectF &wallRect)
{
    if (!wallRect.isValid() || width() <= 0 || height() <= 0)
        return;
    // All of it in view, as large as fits, centred (a screen shaped unlike theirs shows more).
    const double z = std::clamp(std::min(width() / wallRect.width(), height() / wallRect.height()), kMinZoom, kMaxZoom);
    const QPointF pan = QPointF(width() / 2, height() / 2) - wallRect.center() * z;
    m_showingOthersView = true;
    setView(z, pan.x(), pan.y());
    m_showingOthersView = false;
}

void CanvasItem::reportView()
{
    if (m_client && width() > 0 && height() > 0)
        m_client->setView(visibleWallRect());
}

void CanvasItem::panBy(double dx, double dy) { setView(m_zoom, m_pan.x() + dx, m_pan.y() + dy); }

void CanvasItem::zoomBy(double factor, QPointF itemPos)
{
    const QPointF w = mapToWall(itemPos);
    const double z = std::clamp(m_zoom * factor, kMinZoom, kMaxZoom);
    const QPointF pan = itemPos - w * z;
    setView(z, pan.x(), pan.y());
}

void CanvasItem::resetView() { setView(1.0, width() / 2, height() / 2); }

QRectF CanvasItem::visibleWallRect() const
{
    return QRectF(mapToWall(QPointF(0, 0)), mapToWall(QPointF(width(), height())));
}

QRectF CanvasItem::contentBounds() const
{
    QRectF out;
    if (!m_client)
        return out;
    const auto &strokes = m_client->model().strokes();
    for (size_t i = 0; i < strokes.size() && i < m_bounds.size(); ++i) {
        if (strokes[i].visible() && !m_client->isHiddenLocally(strokes[i].key))
            out = out.united(m_bounds[i]);
    }
    for (const auto &[id, ls] : m_client->localStrokes())
        out = out.united(ls.bounds());
    for (const auto &n : m_client->notes()->notes())
        out = out.united(QRectF(n.x, n.y, n.width > 0 ? n.width : kNoteWidth, std::max(80.0, n.height)));
    for (const auto &i : m_client->images()->images()) {
        const QRectF r(i.x, i.y, i.width, i.height);
        out = out.united(i.rotation == 0 ? r : turnedAbout(i.x, i.y, i.rotation).mapRect(r));
    }
    for (const auto &[key, shape] : m_client->shownShapes())
        out = out.united(shapeBounds(shape));
    return out;
}

void CanvasItem::zoomToFit()
{
    const QRectF b = contentBounds();
    if (b.isEmpty() || width() <= 0 || height() <= 0) {
        resetView();
        return;
    }
    const double margin = 40;
    const double z = std::clamp(std::min((width() - 2 * margin) / b.width(),
                                         (height() - 2 * margin) / b.height()),
                                kMinZoom, 2.0);
    const QPointF pan = QPointF(width() / 2, height() / 2) - b.center() * z;
    setView(z, pan.x(), pan.y());
}

void CanvasItem::geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry)
{
    QQuickItem::geometryChange(newGeometry, oldGeometry);
    if (oldGeometry.size().isEmpty() && !newGeometry.size().isEmpty() && m_pan.isNull())
        m_pan = QPointF(newGeometry.width() / 2, newGeometry.height() / 2); // origin in the middle
    else if (oldGeometry.size() != newGeometry.size())
        m_pan += QPointF(newGeometry.width() - oldGeometry.width(),
                         newGeometry.height() - oldGeometry.height()) / 2;
    setSettled(false);
    update();
    emit viewChanged();
    reportView();
}

void CanvasItem::onWindowChanged(QQuickWindow *window)
{
    if (m_frameConnection)
        disconnect(m_frameConnection);
    if (m_animationConnection)
        disconnect(m_animationConnection);
    if (!window)
        return;
    // Each frame, before its sync: others' strokes flow on by the time since the last (the
    // reveal timer keeps frames coming meanwhile).
    m_animationConnection = connect(window, &QQuickWindow::afterAnimating, this,
                                    &CanvasItem::advanceReveals);
    // More tiles to paint: ask for another frame once this one is on screen.
    m_frameConnection = connect(window, &QQuickWindow::frameSwapped, this, [this] {
        // More to paint here: another frame. Tiles on the workers ask for one when they are done.
        const bool more = m_moreTiles.load();
        if (more)
            update();
        // Settled only if that frame saw every change so far: a pan made after its sync is not
        // on screen yet, whatever that sync left to do.
        setSettled(!more && !m_waitingTiles.load() && m_dirty.empty() && !m_dirtyAll
                   && m_syncedChanges.load() == m_changes && !revealing());
        emit frameSynced();
    }, Qt::QueuedConnection);
}

void CanvasItem::itemChange(ItemChange change, const ItemChangeData &value)
{
    if (change == ItemDevicePixelRatioHasChanged) {
        m_dirtyAll = true;
        update();
    }
    if (change == ItemSceneChange) {
        // A pen's pressure comes in tablet events, which the window gets; the pen draws through
        // the mouse events Qt makes of them (nothing accepts the tablet events), so the window is
        // watched for the pressure of each.
        if (m_watchedWindow)
            m_watchedWindow->removeEventFilter(this);
        m_watchedWindow = value.window;
        if (m_watchedWindow)
            m_watchedWindow->installEventFilter(this);
    }
    QQuickItem::itemChange(change, value);
}

bool CanvasItem::eventFilter(QObject *watched, QEvent *event)
{
    switch (event->type()) {
    case QEvent::TabletPress:
    case QEvent::TabletMove: {
        const auto *tablet = static_cast<const QTabletEvent *>(event);
        // Some devices report none (a puck, a mouse through the tablet driver): 0 everywhere.
        const bool reports = tablet->pointingDevice()
                          && tablet->pointingDevice()->capabilities().testFlag(QInputDevice::Capability::Pressure);
        m_penPressure = reports ? tablet->pressure() : -1;
        break;
    }
    case QEvent::TabletRelease:
    case QEvent::TabletLeaveProximity:
        m_penPressure = -1; // what comes next may be a mouse
        break;
    default:
        break;
    }
    return QQuickItem::eventFilter(watched, event);
}

// --- model changes -----------------------------------------------------------------------------

void CanvasItem::indexNewStrokes()
{
    if (!m_client)
        return;
    const auto &strokes = m_client->model().strokes();
    while (m_indexed < strokes.size()) {
        const QRectF b = strokes[m_indexed].bounds();
        m_bounds.push_back(b);
        m_index.insert(std::uint32_t(m_indexed), b);
        markDirty(b);
        ++m_indexed;
    }
}

void CanvasItem::onWallReset()
{
    m_imageRects.clear();
    if (m_client) {
        for (const WallModel::Image &i : m_client->model().images())
            m_imageRects.emplace(i.key, imageBounds(i));
    }
    m_shapeBounds.clear();
    if (m_client) {
        for (const auto &[key, shape] : m_client->shownShapes())
            m_shapeBounds.emplace(key, shapeBounds(shape));
    }
    m_index.clear();
    m_bounds.clear();
    m_indexed = 0;
    m_staleIndexEntries = 0;
    if (m_client) {
        const auto &strokes = m_client->model().strokes();
        m_bounds.reserve(strokes.size());
        for (size_t i = 0; i < strokes.size(); ++i) {
            m_bounds.push_back(strokes[i].bounds());
            m_index.insert(std::uint32_t(i), m_bounds.back());
        }
        m_indexed = strokes.size();
    }
    m_reveals.clear();
    m_revealTimer.stop();
    m_dirty.clear();
    repaintAll();
}

void CanvasItem::onWallChanged(const WallModel::Change &change)
{
    if (!m_client)
        return;
    const auto &strokes = m_client->model().strokes();
    if (strokes.size() < m_indexed) {
        if (!m_client->showsPast()) { // the model was replaced under us
            onWallReset();
            return;
        }
        // An earlier state of the same wall (the timeline): the strokes made after it go, the
        // others keep their places. The grid keeps their numbers (a query skips those past the
        // strokes) until it has gathered as many again as there are strokes: then it is rebuilt.
        for (size_t i = strokes.size(); i < m_indexed; ++i)
            markDirty(m_bounds[i]);
        m_staleIndexEntries += m_indexed - strokes.size();
        m_bounds.resize(strokes.size());
        m_indexed = strokes.size();
        if (m_staleIndexEntries > std::max<size_t>(strokes.size(), 10000)) {
            m_index.clear();
            for (size_t i = 0; i < m_bounds.size(); ++i)
                m_index.insert(std::uint32_t(i), m_bounds[i]);
            m_staleIndexEntries = 0;
        }
    }
    indexNewStrokes();
    for (const std::uint64_t key : change.images) {
        // Where it was (it may have moved) and where it is.
        if (const auto it = m_imageRects.find(key); it != m_imageRects.end())
            markDirty(it->second);
        if (const WallModel::Image *image = m_client->model().image(key)) {
            const QRectF rect = imageBounds(*image);
            m_imageRects[key] = rect;
            markDirty(rect);
        }
    }
    for (const std::uint64_t key : change.strokes) {
        const WallModel::Stroke *s = m_client->model().stroke(key);
        if (!s)
            continue;
        const auto idx = size_t(s - strokes.data());
        if (idx >= m_bounds.size())
            continue;
        if (change.moved) {
            // New points (a move or resize): painted away from where it was, indexed where it is.
            markDirty(m_bounds[idx]);
            m_bounds[idx] = s->bounds();
            m_index.insert(std::uint32_t(idx), m_bounds[idx]);
            markDirty(m_bounds[idx]);
        } else if (change.firstNewPoint > 0) {
            // A stroke grew: only its new part needs indexing and painting.
            const QRectF part = segmentBounds(s->points, change.firstNewPoint - 1, s->width);
            m_bounds[idx] = m_bounds[idx].united(part);
            m_index.insert(std::uint32_t(idx), part);
            if (window() && keyAuthor(key) != m_client->userId())
                reveal(*s, change.firstNewPoint);
            else
                markDirty(part);
        } else {
            markDirty(m_bounds[idx]);
        }
    }
    if (selectionCount() > 0)
        pruneSelection();
}

void CanvasItem::reveal(const WallModel::Stroke &s, size_t firstNew)
{
    if (firstNew >= s.points.size())
        return; // nothing new (an empty batch)
    const qint64 now = m_revealClock.elapsed();
    InkPlayout &r = m_reveals[s.key];
    double &interval = m_playoutMs.try_emplace(keyAuthor(s.key), double(kStrokeFrameMs)).first->second;
    if (r.arrived(now, firstNew, s.points.size(), &interval)) {
        // Nothing was waiting: the new part starts now, its first point at once.
        markDirty(segmentBounds(s.points, firstNew - 1, s.width, firstNew + 1));
        showCursorAtTip(s, firstNew + 1);
    }
    setSettled(false);
    update();
    if (!m_revealTimer.isActive())
        m_revealTimer.start();
}

void CanvasItem::advanceReveals()
{
    if (m_reveals.empty() || !m_client)
        return;
    const qint64 now = m_revealClock.elapsed();
    for (auto it = m_reveals.begin(); it != m_reveals.end();) {
        InkPlayout &r = it->second;
        const WallModel::Stroke *s = m_client->model().stroke(it->first);
        if (!s) {
            it = m_reveals.erase(it);
            continue;
        }
        const size_t total = s->points.size();
        const size_t before = r.shown();
        const size_t after = r.advance(now, total);
        if (after > before) {
            markDirty(segmentBounds(s->points, before - 1, s->width, after));
            showCursorAtTip(*s, after);
        }
        if (after >= total && s->closed) {
            it = m_reveals.erase(it);
            continue;
        }
        ++it;
    }
}

void CanvasItem::showCursorAtTip(const WallModel::Stroke &s, size_t shown)
{
    // A person drawing sends no cursor (WallClient::sendCursor): their pen is where their ink
    // has got to on this screen. Once the stroke has ended their own cursor messages lead again.
    if (!s.closed && shown > 0 && shown <= s.points.size())
        m_client->members()->setCursor(keyAuthor(s.key), toPixels(s.points[shown - 1]));
}

bool CanvasItem::revealing() const
{
    for (const auto &[key, r] : m_reveals) {
        const WallModel::Stroke *s = m_client ? m_client->model().stroke(key) : nullptr;
        if (s && r.shown() < s->points.size())
            return true;
    }
    return false;
}

size_t CanvasItem::shownPoints(const WallModel::Stroke &s) const
{
    const auto it = m_reveals.find(s.key);
    return it == m_reveals.end() ? s.points.size() : std::min(s.points.size(), it->second.shown());
}

size_t CanvasItem::shownPoints(std::uint64_t key) const
{
    const WallModel::Stroke *s = m_client ? m_client->model().stroke(key) : nullptr;
    return s ? shownPoints(*s) : 0;
}

void CanvasItem::onLocalStrokeChanged(std::uint32_t id, size_t firstNewPoint)
{
    const auto &local = m_client->localStrokes();
    const auto it = local.find(id);
    if (it == local.end())
        return;
    markDirty(segmentBounds(it->second.points, firstNewPoint ? firstNewPoint - 1 : 0,
                            it->second.width));
}

void CanvasItem::onLocalStrokeRemoved(std::uint32_t, QRectF area)
{
    indexNewStrokes();
    markDirty(area.adjusted(-1, -1, 1, 1));
}

void CanvasItem::onHiddenChanged(const std::vector<std::uint64_t> &keys)
{
    indexNewStrokes();
    const auto &strokes = m_client->model().strokes();
    for (const auto key : keys) {
        if (const auto *s = m_client->model().stroke(key)) {
            const auto idx = size_t(s - strokes.data());
            if (idx < m_bounds.size())
                markDirty(m_bounds[idx]);
        } else if (keyAuthor(key) == m_client->userId()) {
            const auto it = m_client->localStrokes().find(std::uint32_t(key & 0xffffffffu));
            if (it != m_client->localStrokes().end())
                markDirty(it->second.bounds());
        }
    }
}

void CanvasItem::onShapeChanged(std::uint64_t key)
{
    if (!m_client)
        return;
    if (const auto it = m_shapeBounds.find(key); it != m_shapeBounds.end()) {
        markDirty(it->second);
        m_shapeBounds.erase(it);
    }
    WallModel::ShapeData shape;
    if (key != m_client->editingShape() && m_client->effectiveShape(key, &shape)) {
        const QRectF b = shapeBounds(shape);
        m_shapeBounds.emplace(key, b);
        markDirty(b);
    }
    if (isSelected(key, 3))
        pruneSelection();
}

void CanvasItem::setPreview(std::optional<WallModel::ShapeData> preview)
{
    if (m_preview)
        markDirty(shapeBounds(*m_preview));
    m_preview = std::move(preview);
    if (m_preview)
        markDirty(shapeBounds(*m_preview));
}

WallModel::ShapeData CanvasItem::shapeBeingDrawn(QPointF to, bool constrain) const
{
    WallModel::ShapeData d;
    d.kind = m_tool == Line    ? pb::SHAPE_LINE
           : m_tool == Arrow   ? pb::SHAPE_ARROW
           : m_tool == Ellipse ? pb::SHAPE_ELLIPSE
           : m_tool == Diamond ? pb::SHAPE_DIAMOND
                               : pb::SHAPE_RECT;
    QPointF delta = to - m_shapeFrom;
    if (constrain) {
        if (d.isLine()) {
            // To the nearest multiple of 45°, keeping the length.
            const double length = std::hypot(delta.x(), delta.y());
            const double step = M_PI / 4;
            const double angle = std::round(std::atan2(delta.y(), delta.x()) / step) * step;
            delta = QPointF(std::cos(angle), std::sin(angle)) * length;
        } else {
            const double side = std::max(std::abs(delta.x()), std::abs(delta.y()));
            delta = QPointF(std::copysign(side, delta.x()), std::copysign(side, delta.y()));
        }
    }
    const QRectF box = d.isLine() ? QRectF(m_shapeFrom, m_shapeFrom + delta)
                                  : QRectF(m_shapeFrom, m_shapeFrom + delta).normalized();
    d.x = float(box.x());
    d.y = float(box.y());
    d.width = float(box.width());
    d.height = float(box.height());
    d.color = std::uint32_t(m_penColor.rgb()) & 0xffffffu;
    d.strokeWidth = float(m_penWidth);
    if (!d.isLine() && m_fillColor.alpha() > 0)
        d.fill = std::uint32_t(m_fillColor.rgba());
    return d;
}

void CanvasItem::markDirty(const QRectF &wallRect)
{
    if (wallRect.isEmpty() && wallRect.topLeft().isNull())
        return;
    if (!m_dirtyAll) {
        if (m_dirty.size() > 4096)
            m_dirtyAll = true;
        else
            m_dirty.push_back(wallRect);
    }
    setSettled(false);
    update();
}

// --- painting ----------------------------------------------------------------------------------

void CanvasItem::collectStrokes(const QRectF &area, double scale, StrokeBatch *batch, bool asShown)
{
    if (!m_client)
        return;
    // On screen in the theme's colours; an export as drawn.
    batch->darkWall = asShown && m_darkWall;
    indexNewStrokes();
    // Images first, under the ink. A wall holds at most max_wall_images of them: a scan is cheap.
    for (const WallModel::Image &image : m_client->model().images()) {
        const QRectF rect(image.x, image.y, image.width, image.height);
        if (!image.visible() || !imageBounds(image).intersects(area) || !m_client->isImageShown(image.key)
            || (asShown && lifted(image.key, 2)))
            continue;
        ImageCache *cache = m_client->imageCache();
        QImage picture = cache->image(image.hash, rect.width() * scale);
        if (picture.isNull() && cache->status(image.hash).state == ImageCache::State::Missing)
            cache->wantLater(image.hash); // this may run on the render thread
        batch->addPicture({rect, std::move(picture), image.rotation, image.layer});
    }
    // Shapes over the images, under the ink.
    for (auto &[key, shape] : m_client->shownShapes()) {
        if (shapeBounds(shape).intersects(area) && !(asShown && lifted(key, 3))) {
            // Not yet in the model (on its way to the server): on top, where it will land.
            const WallModel::Shape *made = m_client->model().shape(key);
            batch->addShape(shape, made ? made->layer : m_client->model().topLayer());
        }
    }
    if (m_preview && shapeBounds(*m_preview).intersects(area))
        batch->addShape(*m_preview, m_client->model().topLayer()); // a new shape goes on top
    const auto &strokes = m_client->model().strokes();
    m_index.query(area, &m_scratch);
    for (const std::uint32_t i : m_scratch) {
        if (i >= strokes.size() || i >= m_bounds.size())
            continue;
        const WallModel::Stroke &s = strokes[i];
        if (!s.visible() || !m_bounds[i].intersects(area) || m_client->isHiddenLocally(s.key)
            || m_client->isShadowedByLocal(s.key) || (asShown && lifted(s.key, 0)))
            continue;
        const std::span<const FixedPoint> points(s.points);
        batch->add(asShown ? points.first(shownPoints(s)) : points, s.color, s.width, scale, s.layer, s.pressure);
    }
    // Our own strokes that the server has not fully acknowledged, drawn from the outbox copy.
    const std::uint64_t self = m_client->userId();
    for (const auto &[id, ls] : m_client->localStrokes()) {
        if (m_client->isHiddenLocally(objectKey(self, id)) || !ls.bounds().intersects(area))
            continue;
        // New ink is on top: over anything brought to the front before it.
        const WallModel::Stroke *made = m_client->model().stroke(objectKey(self, id));
        batch->add(ls.points, ls.color, ls.width, scale, made ? made->layer : m_client->model().topLayer(),
                   ls.pressure);
    }
}

void CanvasItem::paintWall(QPainter &painter, const QRectF &area, double scale, bool notes, bool onScreen)
{
    painter.save();
    painter.setRenderHint(QPainter::Antialiasing);
    QTransform t;
    t.scale(scale, scale);
    t.translate(-area.left(), -area.top());
    painter.setTransform(t, true);
    StrokeBatch batch;
    collectStrokes(area, scale, &batch, false);
    batch.darkWall = onScreen && m_darkWall;
    paintStrokes(painter, batch, scale);
    if (notes && m_client) {
        QFont font = QGuiApplication::font();
        font.setPixelSize(int(kNoteFontPx));
        painter.setFont(font);
        for (const auto &n : m_client->notes()->notes()) {
            const double w = n.width > 0 ? n.width : kNoteWidth;
            const QRectF textArea(n.x + kNotePadding, n.y + kNotePadding, w - 2 * kNotePadding, 100000);
            const QRectF text = painter.boundingRect(textArea, Qt::TextWordWrap, n.text);
            const QRectF box(n.x, n.y, w, std::max({48.0, n.height, text.height() + 2 * kNotePadding}));
            if (!box.intersects(area))
                continue;
            QColor fill = n.color;
            fill.setAlphaF(0.18f);
            painter.setPen(QPen(n.color, 2));
            painter.setBrush(Qt::white);
            painter.drawRoundedRect(box, 4, 4);
            painter.setBrush(fill);
            painter.drawRoundedRect(box, 4, 4);
            painter.setPen(QColor(0x20, 0x20, 0x20));
            painter.drawText(textArea, Qt::TextWordWrap, n.text);
        }
    }
    painter.restore();
}

QSGNode *CanvasItem::updatePaintNode(QSGNode *old, UpdatePaintNodeData *)
{
    QElapsedTimer timer;
    timer.start();
    QQuickWindow *win = window();
    auto *root = static_cast<TileRoot *>(old);
    if (!root) {
        root = new TileRoot;
        root->background = win->createRectangleNode();
        root->appendChildNode(root->background);
        root->fallbackLayer = new QSGTransformNode;
        root->currentLayer = new QSGTransformNode;
        root->appendChildNode(root->fallbackLayer);
        root->appendChildNode(root->currentLayer);
        root->floatLayer = new QSGTransformNode;
        root->appendChildNode(root->floatLayer);
        root->remoteLayer = new QSGTransformNode;
        root->appendChildNode(root->remoteLayer);
    }
    if (!m_painter) {
        // Leave a core to the GUI and render threads; more than a few painters only contend.
        const int threads = std::clamp(int(std::thread::hardware_concurrency()) - 1, 1, 3);
        m_painter = std::make_unique<TilePainter>(threads, [this] {
            QMetaObject::invokeMethod(this, [this] { update(); }, Qt::QueuedConnection);
        });
    }
    root->background->setRect(boundingRect());
    root->background->setColor(m_background);
    const double dpr = win->effectiveDevicePixelRatio();
    if (root->dpr != dpr) {
        root->dpr = dpr;
        m_dirtyAll = true;
    }

    // A new zoom: what is on screen becomes the scaled stand-in while new tiles are painted.
    // While the zoom keeps changing faster than tiles come, the last complete view stays the
    // stand-in rather than a patchwork of the few tiles painted at each step.
    // Every request made so far is for a picture no longer wanted (another zoom, another
    // background): what is queued is dropped, what is being painted is ignored when it comes.
    auto forgetRequests = [&] {
        root->pending.clear();
        m_painter->dropQueued();
    };
    const bool zoomed = root->currentZoom != m_zoom;
    if (zoomed) {
        const bool replace = root->currentComplete || root->fallback.empty();
        if (replace)
            root->dropAll(root->fallback);
        for (auto &[key, tile] : root->current) {
            if (replace && !tile.dirty) {
                TileRoot::show(root->currentLayer, tile, false);
                tile.node->setFiltering(QSGTexture::Linear);
                root->fallback.emplace(key, std::move(tile));
            } else {
                TileRoot::destroy(tile);
            }
        }
        root->current.clear();
        forgetRequests();
        if (replace)
            root->fallbackZoom = root->currentZoom;
        root->currentZoom = m_zoom;
        root->currentComplete = false;
    }

    auto place = [&](TileKey key, const QImage &image) -> Tile & {
        Tile &tile = root->current[key];
        std::unique_ptr<QSGTexture> texture(win->createTextureFromImage(image));
        if (!tile.node) {
            // Fully set up before it enters the tree: the software renderer (Qt 6.4) reads the
            // texture of a node as soon as it is added. Placed, and put in the tree if it is on
            // screen, with the others below.
            tile.node = win->createImageNode();
            tile.node->setOwnsTexture(false);
            tile.node->setFiltering(QSGTexture::Nearest);
            tile.node->setTexture(texture.get());
            tile.node->setRect(QRectF(0, 0, kTileSize, kTileSize));
            tile.node->setSourceRect(QRectF(QPointF(0, 0), image.size()));
        } else {
            tile.node->setTexture(texture.get());
        }
        tile.texture = std::move(texture);
        tile.dirty = false;
        return tile;
    };

    if (m_dirtyAll) {
        for (auto &[key, tile] : root->current)
            tile.dirty = true;
        root->dropAll(root->fallback);
        forgetRequests();
    }

    // Tiles painted on the workers since the last frame.
    for (TilePainter::Result &r : m_painter->takeResults()) {
        const TileKey key{r.i, r.j};
        const auto p = root->pending.find(key);
        if (p == root->pending.end() || p->second.id != r.id)
            continue; // asked for at another zoom, or no longer wanted
        const bool stale = p->second.stale;
        root->pending.erase(p);
        place(key, r.image).dirty = stale;
    }

    if (!m_dirtyAll && !m_dirty.empty()) {
        auto touched = [&](TileKey key, double zoom) {
            const QRectF r = tileWallRect(key, zoom);
            return std::any_of(m_dirty.begin(), m_dirty.end(),
                               [&](const QRectF &d) { return r.intersects(d); });
        };
        for (auto &[key, tile] : root->current)
            tile.dirty = tile.dirty || touched(key, m_zoom);
        for (auto &[key, pending] : root->pending)
            pending.stale = pending.stale || touched(key, m_zoom);
        for (auto it = root->fallback.begin(); it != root->fallback.end();) {
            if (touched(it->first, root->fallbackZoom))
                root->drop(root->fallback, it, &it);
            else
                ++it;
        }
    }
    m_dirty.clear();
    m_dirtyAll = false;

    const double t = kTileSize;
    const int i0 = int(std::floor(-m_pan.x() / t)), i1 = int(std::floor((width() - m_pan.x()) / t));
    const int j0 = int(std::floor(-m_pan.y() / t)), j1 = int(std::floor((height() - m_pan.y()) / t));
    auto kept = [&](TileKey k) {
        return k.i >= i0 - kKeepMargin && k.i <= i1 + kKeepMargin && k.j >= j0 - kKeepMargin
               && k.j <= j1 + kKeepMargin;
    };
    auto visible = [&](TileKey k) { return k.i >= i0 && k.i <= i1 && k.j >= j0 && k.j <= j1; };
    const double ci = (width() / 2 - m_pan.x()) / t - 0.5, cj = (height() / 2 - m_pan.y()) / t - 0.5;
    // Visible tiles first, nearest the centre first; then the ring around the view.
    auto priority = [&](TileKey k) {
        return std::hypot(k.i - ci, k.j - cj) + (visible(k) ? 0.0 : 1000.0);
    };

    // Forget tiles that drifted far from the view, and the requests for them.
    for (auto it = root->current.begin(); it != root->current.end();) {
        if (!kept(it->first))
            root->drop(root->current, it, &it);
        else
            ++it;
    }
    for (auto it = root->pending.begin(); it != root->pending.end();)
        it = kept(it->first) ? std::next(it) : root->pending.erase(it);
    m_painter->retain([&](TilePainter::Job &job) {
        const TileKey k{job.i, job.j};
        job.priority = priority(k);
        return kept(k);
    });

    // What to paint. Changed visible tiles are painted here, now, so that ink appears in the
    // frame after it is drawn; every other tile (newly exposed by a pan or a zoom, the ring just
    // outside the view, changed tiles out of view) goes to the workers, and is shown when it is
    // ready.
    struct Need
    {
        TileKey key;
        double priority;
    };
    std::vector<Need> dirtyVisible, requests;
    bool waiting = false; // a visible tile is not on screen yet
    for (int i = i0 - 1; i <= i1 + 1; ++i) {
        for (int j = j0 - 1; j <= j1 + 1; ++j) {
            const TileKey key{i, j};
            const auto it = root->current.find(key);
            const bool present = it != root->current.end();
            if (present && !it->second.dirty)
                continue;
            if (present && visible(key)) {
                dirtyVisible.push_back({key, priority(key)});
                continue;
            }
            if (!present && visible(key))
                waiting = true;
            // Asked for already. If it changed since, it is shown when it comes and then
            // painted again: asking anew at every change would starve a tile that someone keeps
            // drawing on.
            if (root->pending.count(key))
                continue;
            // While the zoom is changing, the ring would likely be thrown away at the next step.
            if (zoomed && !visible(key))
                continue;
            requests.push_back({key, priority(key)});
        }
    }
    auto nearestFirst = [](const Need &a, const Need &b) { return a.priority < b.priority; };
    std::sort(dirtyVisible.begin(), dirtyVisible.end(), nearestFirst);
    std::sort(requests.begin(), requests.end(), nearestFirst);

    const int px = int(std::ceil(t * dpr));
    size_t painted = 0;
    for (const Need &need : dirtyVisible) {
        if (painted > 0 && timer.nsecsElapsed() > kTileBudgetNs)
            break;
        const QRectF area = tileWallRect(need.key, m_zoom);
        StrokeBatch batch;
        collectStrokes(area, m_zoom * dpr, &batch);
        place(need.key, paintTile(batch, area, m_zoom * dpr, px, m_background));
        root->pending.erase(need.key); // an older picture of it may still be on a worker
        ++painted;
    }
    // Requests copy the strokes they draw, which for a zoomed-out tile is thousands: within the
    // same budget, the rest next frame.
    std::vector<TilePainter::Job> jobs;
    size_t asked = 0;
    for (const Need &need : requests) {
        if (asked > 0 && timer.nsecsElapsed() > kTileBudgetNs)
            break;
        TilePainter::Job job;
        job.i = need.key.i;
        job.j = need.key.j;
        job.id = ++m_jobIds;
        job.priority = need.priority;
        job.area = tileWallRect(need.key, m_zoom);
        job.scale = m_zoom * dpr;
        job.pixels = px;
        job.background = m_background;
        collectStrokes(job.area, job.scale, &job.batch);
        root->pending[need.key] = {job.id, false};
        jobs.push_back(std::move(job));
        ++asked;
    }
    m_painter->submit(std::move(jobs));
    const bool more = painted < dirtyVisible.size() || asked < requests.size();
    m_moreTiles = more;
    m_waitingTiles = waiting;
    root->currentComplete = !waiting;

    // Place the tiles: a pan only moves them. Snapped to the window's device pixels (the item may
    // sit at a fractional position) so they stay sharp, always rounding halves the same way:
    // std::round takes -61.5 to -62 but 194.5 to 195, which left a blank pixel row between two
    // tiles 256 px apart whenever the view's centre fell on a half pixel.
    const QPointF origin = mapToScene(QPointF(0, 0));
    auto snap = [dpr](double v, double offset) {
        return std::floor((v + offset) * dpr + 0.5) / dpr - offset;
    };
    const QRectF view = boundingRect();
    for (auto &[key, tile] : root->current) {
        const QRectF r(snap(key.i * t + m_pan.x(), origin.x()), snap(key.j * t + m_pan.y(), origin.y()),
                       t, t);
        tile.node->setRect(r);
        // The whole texture: after a change of device pixel ratio a tile not yet repainted
        // still holds an image of the old size.
        tile.node->setSourceRect(QRectF(QPointF(0, 0), tile.texture->textureSize()));
        TileRoot::show(root->currentLayer, tile, r.intersects(view));
    }
    // The stand-in covers tiles not painted yet; changed tiles still show their last picture.
    if (!waiting) {
        root->dropAll(root->fallback);
    } else if (root->fallbackZoom > 0) {
        const double ratio = m_zoom / root->fallbackZoom;
        for (auto it = root->fallback.begin(); it != root->fallback.end();) {
            const QRectF r(it->first.i * t * ratio + m_pan.x(), it->first.j * t * ratio + m_pan.y(),
                           t * ratio, t * ratio);
            if (!r.intersects(view)) {
                root->drop(root->fallback, it, &it);
                continue;
            }
            it->second.node->setRect(r);
            TileRoot::show(root->fallbackLayer, it->second, true);
            ++it;
        }
    }
    // The floating selection over the tiles, where the pointer has taken it.
    if (m_floating && !m_floatImage.isNull()) {
        if (m_floatImageChanged || !root->floatNode) {
            std::unique_ptr<QSGTexture> texture(win->createTextureFromImage(m_floatImage));
            if (!root->floatNode) {
                root->floatNode = win->createImageNode();
                root->floatNode->setOwnsTexture(false);
                root->floatNode->setFiltering(QSGTexture::Linear);
            }
            root->floatNode->setTexture(texture.get());
            root->floatTexture = std::move(texture);
            m_floatImageChanged = false;
        }
        const QRectF w = floatTarget();
        QRectF r(mapFromWall(w.topLeft()), mapFromWall(w.bottomRight()));
        // A move shows the picture pixel for pixel: snapped to device pixels, no filtering.
        const bool moving = m_floatSx == 1 && m_floatSy == 1 && m_floatAngle == 0;
        if (moving) {
            const QPointF origin = mapToScene(QPointF(0, 0));
            auto snapTo = [dpr](double v, double offset) { return std::floor((v + offset) * dpr + 0.5) / dpr - offset; };
            r.moveTopLeft(QPointF(snapTo(r.left(), origin.x()), snapTo(r.top(), origin.y())));
        }
        root->floatNode->setFiltering(moving ? QSGTexture::Nearest : QSGTexture::Linear);
        root->floatNode->setRect(r);
        root->floatNode->setSourceRect(QRectF(QPointF(0, 0), root->floatTexture->textureSize()));
        // Turned by its handle: about the selection's middle.
        const QPointF pivot = mapFromWall(m_floatOrigin);
        QMatrix4x4 turn;
        if (m_floatAngle != 0) {
            turn.translate(float(pivot.x()), float(pivot.y()));
            turn.rotate(float(qRadiansToDegrees(m_floatAngle)), 0, 0, 1);
            turn.translate(float(-pivot.x()), float(-pivot.y()));
        }
        if (root->floatLayer->matrix() != turn)
            root->floatLayer->setMatrix(turn);
        if (!root->floatNode->parent())
            root->floatLayer->appendChildNode(root->floatNode);
    } else if (root->floatNode && root->floatNode->parent()) {
        root->floatLayer->removeChildNode(root->floatNode);
    }
    // Others' drags, where their previews say.
    for (auto it = root->remote.begin(); it != root->remote.end();) {
        if (m_remoteFloats.count(it->first)) {
            ++it;
            continue;
        }
        root->remoteLayer->removeChildNode(it->second.turn);
        delete it->second.turn; // and its image node
        it = root->remote.erase(it);
    }
    for (auto &[user, lift] : m_remoteFloats) {
        if (lift.image.isNull())
            continue;
        TileRoot::Remote &r = root->remote[user];
        const bool fresh = !r.turn;
        if (fresh) {
            r.turn = new QSGTransformNode;
            r.node = win->createImageNode();
            r.node->setOwnsTexture(false);
            r.node->setFiltering(QSGTexture::Linear);
            r.turn->appendChildNode(r.node);
            r.turn->setFlag(QSGNode::OwnedByParent);
            r.node->setFlag(QSGNode::OwnedByParent);
            lift.imageChanged = true;
        }
        if (lift.imageChanged) {
            // The new texture is set before the old one goes (a renderer may look at it).
            std::unique_ptr<QSGTexture> texture(win->createTextureFromImage(lift.image));
            r.node->setTexture(texture.get());
            r.texture = std::move(texture);
            lift.imageChanged = false;
        }
        // p' = o + R(S(p - o)) + d: the scaled rect, turned about o and moved by d.
        const pb::Transform &t = lift.transform;
        const double sx = t.scale_x() == 0 ? 1.0 : t.scale_x(), sy = t.scale_y() == 0 ? 1.0 : t.scale_y();
        const QPointF o(t.origin_x(), t.origin_y());
        auto scaled = [&](QPointF p) { return o + QPointF((p.x() - o.x()) * sx, (p.y() - o.y()) * sy); };
        const QRectF w = QRectF(scaled(lift.wallRect.topLeft()), scaled(lift.wallRect.bottomRight())).normalized();
        r.node->setRect(QRectF(mapFromWall(w.topLeft()), mapFromWall(w.bottomRight())));
        r.node->setSourceRect(QRectF(QPointF(0, 0), r.texture->textureSize()));
        const QPointF pivot = mapFromWall(o);
        QMatrix4x4 m;
        m.translate(float(pivot.x() + t.dx() * m_zoom), float(pivot.y() + t.dy() * m_zoom));
        m.rotate(float(qRadiansToDegrees(double(t.rotation()))), 0, 0, 1);
        m.translate(float(-pivot.x()), float(-pivot.y()));
        if (r.turn->matrix() != m)
            r.turn->setMatrix(m);
        if (fresh) // into the tree once it has its texture, rect and place
            root->remoteLayer->appendChildNode(r.turn);
    }
    m_syncedChanges = m_changes;
    m_lastSyncMs = timer.nsecsElapsed() / 1e6;
    return root;
}

// --- input -------------------------------------------------------------------------------------

void CanvasItem::updateCursorShape()
{
    if (m_panning)
        setCursor(Qt::ClosedHandCursor);
    else if (m_spaceDown || m_tool == Pan)
        setCursor(Qt::OpenHandCursor);
    else if (m_tool == Note || m_tool == Text)
        setCursor(Qt::IBeamCursor);
    else if (m_tool == Eraser)
        setCursor(Qt::PointingHandCursor);
    else if (m_tool == Select)
        setCursor(Qt::ArrowCursor);
    else
        setCursor(Qt::CrossCursor);
}

void CanvasItem::mousePressEvent(QMouseEvent *event)
{
    // A click on the wall while a note is being edited only ends the editing (as in Miro and
    // Excalidraw); it does not place another note on top.
    bool wasEditingNote = false;
    if (QQuickItem *focus = window() ? window()->activeFocusItem() : nullptr; focus && focus != this) {
        for (QQuickItem *p = focus->parentItem(); p; p = p->parentItem()) {
            if (p == parentItem()) {
                wasEditingNote = true;
                break;
            }
        }
    }
    forceActiveFocus(Qt::MouseFocusReason);
    const QPointF pos = event->position();
    const QPointF wall = mapToWall(pos);
    m_lastItemPos = pos;
    m_lastWallPos = wall;
    // On a wall this person may not change (locked by its owner: the toolbar says so), every
    // tool pans instead of drawing something the server would refuse.
    const bool readOnly = m_client && m_client->ready() && !m_client->mayChangeWall();
    if (event->button() == Qt::LeftButton && m_tool == Laser && m_client) {
        // Never stored, so on a locked wall too: the trail is the cursor's (WallClient::laser).
        m_gesture = Gesture::Laser;
        m_client->setLaser(true);
        m_client->sendCursor(wall.x(), wall.y());
        event->accept();
        return;
    }
    if (event->button() == Qt::MiddleButton
        || (event->button() == Qt::LeftButton && (m_tool == Pan || m_spaceDown || readOnly))) {
        m_gesture = Gesture::Pan;
        m_panning = true;
        updateCursorShape();
        emit panningChanged();
        event->accept();
        return;
    }
    // Picking things needs no connection (a move made offline is simply not sent).
    if (event->button() != Qt::LeftButton || !m_client || (!m_client->ready() && m_tool != Select)) {
        event->ignore();
        return;
    }
    switch (m_tool) {
    case Pen:
        m_strokeId = m_client->beginStroke(wall, m_penColor, float(m_penWidth), m_penPressure);
        m_gesture = m_strokeId ? Gesture::Draw : Gesture::None;
        break;
    case Eraser:
        m_erased.clear();
        m_gesture = Gesture::Erase;
        eraseAt(wall);
        break;
    case Note: {
        if (wasEditingNote) {
            m_gesture = Gesture::None;
            break;
        }
        // Placed whole in view: clicked near the right or bottom edge (beside the side panel),
        // it moves in so that it can be read and typed into.
        const double margin = 8;
        const QPointF size = QPointF(kNoteWidth, kNewNoteHeight) * m_zoom;
        QPointF at = mapFromWall(wall);
        at.setX(std::max(margin, std::min(at.x(), width() - margin - size.x())));
        at.setY(std::max(margin, std::min(at.y(), height() - margin - size.y())));
        const QPointF placed = mapToWall(at);
        const QString key = m_client->addNote(placed.x(), placed.y(), QString());
        if (!key.isEmpty())
            emit noteCreated(key);
        m_gesture = Gesture::None;
        break;
    }
    case Line:
    case Arrow:
    case Rect:
    case Ellipse:
    case Diamond:
        m_shapeFrom = wall;
        m_gesture = Gesture::Shape;
        setPreview(shapeBeingDrawn(wall, event->modifiers() & Qt::ShiftModifier));
        break;
    case Select:
        pressSelect(pos, wall, event->modifiers());
        break;
    case Text: {
        m_gesture = Gesture::None;
        if (wasEditingNote)
            break; // the click ends the editing, as for notes
        // On a text: edit it (the topmost); elsewhere: a new one.
        QString hit;
        for (const auto &[key, shape] : m_client->shownShapes()) {
            if (shape.kind == pb::SHAPE_TEXT && shapeTouches(shape, wall, 2 / m_zoom)
                && m_client->mayChange(key))
                hit = QString::number(key);
        }
        emit textRequested(wall, hit);
        break;
    }
    case Pan:
    case Laser: break;
    }
    event->accept();
}

void CanvasItem::mouseMoveEvent(QMouseEvent *event)
{
    const QPointF pos = event->position();
    const QPointF wall = mapToWall(pos);
    switch (m_gesture) {
    case Gesture::Pan: panBy(pos.x() - m_lastItemPos.x(), pos.y() - m_lastItemPos.y()); break;
    case Gesture::Draw:
        if (m_client)
            m_strokeId = m_client->extendStroke(m_strokeId, wall, m_penPressure);
        break;
    case Gesture::Erase: {
        // Fast drags jump: test points along the way so no stroke in between is missed.
        const double step = 4.0 / m_zoom;
        const QPointF d = wall - m_lastWallPos;
        const int n = std::clamp(int(std::hypot(d.x(), d.y()) / step), 1, 200);
        for (int k = 1; k <= n; ++k)
            eraseAt(m_lastWallPos + d * (double(k) / n));
        break;
    }
    case Gesture::Shape:
        setPreview(shapeBeingDrawn(wall, event->modifiers() & Qt::ShiftModifier));
        break;
    case Gesture::Band:
    case Gesture::Move:
    case Gesture::Resize:
    case Gesture::Rotate:
        moveSelect(pos, wall, event->modifiers());
        break;
    case Gesture::Laser: // the cursor below carries it
    case Gesture::None: break;
    }
    if (m_client && m_gesture != Gesture::Pan)
        m_client->sendCursor(wall.x(), wall.y());
    m_lastItemPos = pos;
    m_lastWallPos = mapToWall(pos);
    event->accept();
}

void CanvasItem::mouseReleaseEvent(QMouseEvent *event)
{
    endGesture();
    event->accept();
}

void CanvasItem::mouseUngrabEvent() { endGesture(); }

void CanvasItem::endGesture()
{
    switch (m_gesture) {
    case Gesture::Laser:
        if (m_client)
            m_client->setLaser(false);
        break;
    case Gesture::Draw:
        if (m_client)
            m_client->endStroke(m_strokeId);
        m_strokeId = 0;
        break;
    case Gesture::Erase:
        if (m_client && !m_erased.empty())
            m_client->erase(m_erased);
        m_erased.clear();
        break;
    case Gesture::Pan:
        m_panning = false;
        updateCursorShape();
        emit panningChanged();
        break;
    case Gesture::Shape:
        // A click without a drag (under 4 screen px) draws nothing.
        if (m_client && m_preview) {
            const WallModel::ShapeData d = *m_preview;
            const double size = std::hypot(double(d.width), double(d.height)) * m_zoom;
            if (size >= 4)
                m_client->addShape(int(d.kind), QPointF(d.x, d.y),
                                   QPointF(d.x + d.width, d.y + d.height), m_penColor, d.strokeWidth,
                                   m_fillColor);
        }
        setPreview(std::nullopt);
        break;
    case Gesture::Band:
    case Gesture::Move:
    case Gesture::Resize:
    case Gesture::Rotate:
        releaseSelect();
        break;
    case Gesture::None: break;
    }
    m_gesture = Gesture::None;
}

// Escape with the button still down: the stroke or shape being drawn goes; the rest of the drag
// draws nothing.
void CanvasItem::cancelGesture()
{
    if (m_gesture == Gesture::Draw && m_client)
        m_client->cancelStroke(m_strokeId);
    m_strokeId = 0;
    if (m_gesture == Gesture::Shape)
        setPreview(std::nullopt);
    m_gesture = Gesture::None;
}

void CanvasItem::eraseAt(QPointF wall)
{
    if (!m_client || !m_client->mayChangeWall())
        return;
    indexNewStrokes();
    const double r = 6.0 / m_zoom;
    const QRectF probe(wall.x() - r, wall.y() - r, 2 * r, 2 * r);
    const auto &strokes = m_client->model().strokes();
    std::vector<std::uint64_t> hits;
    m_index.query(probe, &m_scratch);
    for (const std::uint32_t i : m_scratch) {
        if (i >= strokes.size() || i >= m_bounds.size())
            continue;
        const auto &s = strokes[i];
        if (!s.visible() || m_client->isHiddenLocally(s.key) || m_client->isShadowedByLocal(s.key)
            || !m_bounds[i].intersects(probe))
            continue;
        // Only what the role may erase (someone else's stroke on a protected wall is left).
        if (!m_client->mayChange(s.key))
            continue;
        if (strokeTouches(s.points, s.width, wall, r))
            hits.push_back(s.key);
    }
    const std::uint64_t self = m_client->userId();
    for (const auto &[id, ls] : m_client->localStrokes()) {
        const std::uint64_t key = objectKey(self, id);
        if (!m_client->isHiddenLocally(key) && ls.bounds().intersects(probe)
            && strokeTouches(ls.points, ls.width, wall, r))
            hits.push_back(key);
    }
    // Shapes it touches go too (each an undoable delete).
    QStringList shapesHit;
    for (const auto &[key, shape] : m_client->shownShapes()) {
        if (m_client->mayChange(key) && shapeBounds(shape).intersects(probe)
            && shapeTouches(shape, wall, r))
            shapesHit << QString::number(key);
    }
    for (const QString &key : shapesHit)
        m_client->deleteShape(key);
    if (hits.empty())
        return;
    m_erased.insert(m_erased.end(), hits.begin(), hits.end());
    m_client->hideLocally(hits);
}

void CanvasItem::hoverMoveEvent(QHoverEvent *event)
{
    if (m_client) {
        const QPointF wall = mapToWall(event->position());
        m_client->sendCursor(wall.x(), wall.y());
    }
    QQuickItem::hoverMoveEvent(event);
}

void CanvasItem::wheelEvent(QWheelEvent *event)
{
    const bool zoomModifier = event->modifiers() & Qt::ControlModifier;
    if (!event->pixelDelta().isNull() && !zoomModifier) {
        // A touchpad scrolls the wall.
        panBy(event->pixelDelta().x(), event->pixelDelta().y());
    } else if (event->modifiers() & Qt::ShiftModifier) {
        const QPoint a = event->angleDelta();
        panBy(a.y() != 0 ? a.y() : a.x(), 0);
    } else {
        // A mouse wheel (or pinch, which arrives as Ctrl+wheel) zooms about the pointer.
        const int delta = event->angleDelta().y() != 0 ? event->angleDelta().y()
                                                       : event->pixelDelta().y();
        zoomBy(std::pow(1.0015, delta), event->position());
    }
    event->accept();
}

void CanvasItem::keyPressEvent(QKeyEvent *event)
{
    // The selection: Delete, arrows (Shift: 10 px), Ctrl+D duplicates, Esc lets go; Ctrl+A
    // picks everything (with the select tool).
    const bool ctrl = event->modifiers() & Qt::ControlModifier;
    if (event->key() == Qt::Key_Escape && (m_gesture == Gesture::Draw || m_gesture == Gesture::Shape)) {
        cancelGesture();
        event->accept();
        return;
    }
    if (ctrl && event->key() == Qt::Key_A && m_client && m_client->mayChangeWall()) {
        setTool(Select);
        selectAll();
        event->accept();
        return;
    }
    if (selectionCount() > 0 && m_gesture == Gesture::None) {
        const double step = (event->modifiers() & Qt::ShiftModifier ? 10.0 : 1.0) / m_zoom;
        switch (event->key()) {
        case Qt::Key_Delete:
        case Qt::Key_Backspace: deleteSelection(); event->accept(); return;
        case Qt::Key_Escape: clearSelection(); event->accept(); return;
        case Qt::Key_Left: nudgeSelection(-step, 0); event->accept(); return;
        case Qt::Key_Right: nudgeSelection(step, 0); event->accept(); return;
        case Qt::Key_Up: nudgeSelection(0, -step); event->accept(); return;
        case Qt::Key_Down: nudgeSelection(0, step); event->accept(); return;
        case Qt::Key_D:
            if (ctrl) {
                duplicateSelection();
                event->accept();
                return;
            }
            break;
        // Ctrl+] (Shift or not): to the front; Ctrl+[: to the back.
        case Qt::Key_BracketRight:
        case Qt::Key_BraceRight:
        case Qt::Key_BracketLeft:
        case Qt::Key_BraceLeft:
            if (ctrl) {
                arrangeSelection(event->key() == Qt::Key_BracketLeft || event->key() == Qt::Key_BraceLeft);
                event->accept();
                return;
            }
            break;
        case Qt::Key_C:
        case Qt::Key_X:
            if (ctrl) {
                copySelection();
                if (event->key() == Qt::Key_X)
                    deleteSelection();
                event->accept();
                return;
            }
            break;
        default: break;
        }
    }
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_spaceDown = true;
        updateCursorShape();
        event->accept();
        return;
    }
    if (event->key() == Qt::Key_Space) {
        event->accept();
        return;
    }
    event->ignore();
}

void CanvasItem::keyReleaseEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_spaceDown = false;
        updateCursorShape();
        event->accept();
        return;
    }
    event->ignore();
}

void CanvasItem::focusOutEvent(QFocusEvent *event)
{
    m_spaceDown = false;
    updateCursorShape();
    QQuickItem::focusOutEvent(event);
}

// --- export ------------------------------------------------------------------------------------

bool CanvasItem::exportTo(const QUrl &file, bool visibleOnly)
{
    const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
    return exportImage(path, visibleOnly ? ExportView : ExportWall, 1.0, false);
}

bool CanvasItem::exportImage(const QString &path, int what, double scale, bool transparent)
{
    if (path.isEmpty()) {
        m_exportError = tr("Choose a file to export to.");
        return false;
    }
    if (!(scale > 0 && scale <= 8)) {
        m_exportError = tr("The export scale must be more than 0 and at most 8.");
        return false;
    }
    const bool selectionOnly = what == ExportSelection;
    if (selectionOnly && selectionCount() == 0) {
        m_exportError = tr("Nothing is selected: pick something with the select tool (V) first, or export the whole wall.");
        return false;
    }
    QRectF area = what == ExportView  ? visibleWallRect()
                  : selectionOnly     ? selectionWallBounds().adjusted(-8, -8, 8, 8)
                                      : contentBounds().adjusted(-24, -24, 24, 24);
    if (area.isEmpty())
        area = QRectF(-400, -300, 800, 600);
    // The view as it is on screen; the wall and a selection at their size on the wall.
    scale *= what == ExportView ? m_zoom : 1.0;
    const double longest = std::max(area.width(), area.height()) * scale;
    if (longest > 8192)
        scale *= 8192 / longest;
    const QSize size(std::max(1, int(std::ceil(area.width() * scale))),
                     std::max(1, int(std::ceil(area.height() * scale))));
    const QColor background = transparent ? QColor(Qt::transparent) : QColor(Qt::white);
    auto paint = [&](QPainter &painter) {
        if (!transparent)
            painter.fillRect(QRect(QPoint(0, 0), size), background);
        if (selectionOnly)
            paintObjects(m_selection, painter, area, scale);
        else
            paintWall(painter, area, scale, true);
    };
    const bool svg = QFileInfo(path).suffix().compare(QLatin1String("svg"), Qt::CaseInsensitive) == 0;
    if (svg) {
        QSvgGenerator generator;
        generator.setFileName(path);
        generator.setSize(size);
        generator.setViewBox(QRect(QPoint(0, 0), size));
        generator.setTitle(tr("Scrawl wall %1").arg(m_client ? m_client->wall() : QString()));
        QPainter painter;
        if (!painter.begin(&generator)) {
            m_exportError = tr("Cannot write %1; choose a folder you can write to.").arg(path);
            return false;
        }
        paint(painter);
        painter.end();
        if (!QFileInfo::exists(path)) {
            m_exportError = tr("Cannot write %1; choose a folder you can write to.").arg(path);
            return false;
        }
    } else {
        QImage image(size, QImage::Format_ARGB32_Premultiplied);
        image.fill(background);
        {
            QPainter painter(&image);
            paint(painter);
        }
        if (!image.save(path, "PNG")) {
            m_exportError = tr("Cannot write %1; choose a folder you can write to.").arg(path);
            return false;
        }
    }
    qCInfo(lcCanvas) << "exported" << area << "to" << path << size << (transparent ? "transparent" : "on white");
    m_exportError.clear();
    return true;
}

} // namespace scrawl
