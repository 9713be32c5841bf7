#pragma once

// The wall as state: strokes, notes, images, shapes and the undo history, built by applying sequenced ops in
// order. Server and client run this same code, so every client that has applied ops 1..n shows
// the same wall. It knows nothing of sockets, storage or drawing.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"

#include <QRectF>
#include <QString>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace scrawl {

class WallModel
{
public:
    struct Stroke
    {
        std::uint64_t key = 0;
        std::uint32_t color = 0;
        float width = 1.0f;
        std::vector<FixedPoint> points;
        // A pen's pressure at each point (0-255), as many as points; empty: none reported (a
        // mouse), drawn at `width` throughout.
        std::vector<std::uint8_t> pressure;
        bool pressured = false; // begun with pressure: every batch carries it
        bool closed = false;
        std::int32_t layer = 0; // see pb::Arrange
        bool erased = false;
        bool undone = false;
        // The points in the snapshot's path code, kept once the stroke is closed (its points no
        // longer change): a server writes its snapshot from these instead of encoding every
        // point again each time. Empty in a model that never writes a snapshot (the app's).
        mutable std::string snapshotPath;
        bool visible() const { return !erased && !undone; }
        QRectF bounds() const; // in pixels, grown by half the width
    };

    struct Note
    {
        std::uint64_t key = 0;
        float x = 0;
        float y = 0;
        QString text;
        std::uint32_t color = 0;
        float width = 0;  // 0: the default width
        float height = 0; // 0: as tall as its text; else its least height
        std::int32_t layer = 0;
        bool deleted = false;
        bool undone = false;
        bool visible() const { return !deleted && !undone; }
    };

    // An image placed on the wall: its bytes live on the server under `hash` (server/imagestore.h).
    struct Image
    {
        std::uint64_t key = 0;
        QByteArray hash; // SHA-256, 32 bytes
        float x = 0;
        float y = 0;
        float width = 0;
        float height = 0;
        float rotation = 0; // radians, clockwise, about (x, y)
        std::int32_t layer = 0;
        bool deleted = false;
        bool undone = false;
        bool visible() const { return !deleted && !undone; }
    };

    // A shape or free text (pb::Shape says what each field means).
    struct ShapeData
    {
        pb::ShapeKind kind = pb::SHAPE_NONE;
        float x = 0, y = 0, width = 0, height = 0;
        std::uint32_t color = 0;
        float strokeWidth = 0;
        std::uint32_t fill = 0; // 0xAARRGGBB; alpha 0: not filled
        QString text;
        float fontSize = 0;
        float rotation = 0; // radians, clockwise, about (x, y); a line's is 0
        bool operator==(const ShapeData &) const = default;
        static ShapeData fromWire(const pb::Shape &in);
        void toWire(pb::Shape *out) const;
        bool isLine() const { return kind == pb::SHAPE_LINE || kind == pb::SHAPE_ARROW; }
        // The box it is drawn in, normalized (a line's from its two ends), without the outline's
        // width, before it is turned by `rotation` about (x, y). A text's box when it is 0 x 0
        // comes from its lines: the app measures those.
        QRectF box() const;
    };
    struct Shape
    {
        std::uint64_t key = 0;
        ShapeData data;
        std::int32_t layer = 0;
        bool deleted = false;
        bool undone = false;
        bool visible() const { return !deleted && !undone; }
    };

    // One undoable action of one author, named by the op that made it.
    struct Action
    {
        std::uint64_t clientOpId = 0;
        pb::ActionKind kind = pb::ACTION_NONE;
        std::vector<std::uint64_t> keys;
        bool undone = false;
        QString textBefore, textAfter;
        float xBefore = 0, yBefore = 0, xAfter = 0, yAfter = 0;
        // ACTION_NOTE_STYLE
        std::uint32_t colorBefore = 0, colorAfter = 0;
        float widthBefore = 0, heightBefore = 0, widthAfter = 0, heightAfter = 0;
        // ACTION_SHAPE_EDIT
        ShapeData shapeBefore, shapeAfter;
        // ACTION_TRANSFORM: as applied; undo applies its inverse
        std::shared_ptr<const pb::Transform> transform;
        // ACTION_ARRANGE: what it named, and their layers before it in the order named
        std::shared_ptr<const pb::Arrange> arrange;
        std::vector<std::int32_t> layersBefore;
    };

    // What applying an op changed, so that a view can redraw just that.
    struct Change
    {
        bool cleared = false;
        std::vector<std::uint64_t> strokes;
        std::vector<std::uint64_t> notes;
        std::vector<std::uint64_t> images;
        std::vector<std::uint64_t> shapes;
        bool moved = false;       // the strokes above have new points (a transform): new bounds
        size_t firstNewPoint = 0; // for a stroke that grew: index of its first new point
    };

    // Is `op`, proposed by `author`, well formed and does it fit the wall as it stands?
    // Checks every limit that concerns one op. Chat is checked here too.
    std::optional<Problem> check(const pb::Op &op, std::uint64_t author) const;

    // A cursor's drag preview (pb::Cursor.preview): what it names (at most max_preview_objects,
    // whether or not they are here: it is not an op) and its numbers, as a transform's.
    static std::optional<Problem> checkPreview(const pb::Transform &preview);

    // Applies a sequenced op (seq and author stamped). Ops that do not fit are ignored, so a
    // client given bad data by a server shows a wrong wall at worst, never crashes.
    Change apply(const pb::Op &op);

    // A model that writes snapshots (the server's) encodes each stroke for them as it closes,
    // a little at a time, rather than all at once in serializeSnapshot. Kept across load().
    void setKeepsSnapshotPaths(bool keeps) { m_keepsSnapshotPaths = keeps; }

    // The wall's size limits (core/limits.h); kept across load().
    void setCapacity(limits::WallCapacity capacity) { m_capacity = capacity; }
    limits::WallCapacity capacity() const { return m_capacity; }

    std::uint64_t seq() const { return m_seq; }
    // The highest and lowest layer anything on the wall is on (0 when all are on layer 0).
    std::int32_t topLayer() const { return m_layers.empty() ? 0 : std::max(0, m_layers.rbegin()->first); }
    std::int32_t bottomLayer() const { return m_layers.empty() ? 0 : std::min(0, m_layers.begin()->first); }
    std::uint64_t totalPoints() const { return m_totalPoints; }
    bool isFull() const;

    pb::WallSnapshot snapshot() const;
    // The same snapshot as bytes (those of snapshot().SerializeAsString()), written without
    // building the message: what the server stores and sends to a joining client. The second form
    // writes over `into`, reusing its buffer.
    QByteArray serializedSnapshot() const;
    void serializeSnapshot(QByteArray *into) const;
    // What is visible on the wall and nothing else (no history, no hidden objects), in wall
    // coordinates: a clip that the app places elsewhere (WallClient::place), such as a new wall
    // made from an earlier state.
    pb::WallSnapshot visibleClip() const;
    // Replaces the state with a snapshot. Returns a problem for an inconsistent snapshot.
    std::optional<Problem> load(const pb::WallSnapshot &snapshot);

    const std::vector<Stroke> &strokes() const { return m_strokes; }
    const std::vector<Note> &notes() const { return m_notes; }
    const std::vector<Image> &images() const { return m_images; }
    const std::vector<Shape> &shapes() const { return m_shapes; }
    const Shape *shape(std::uint64_t key) const;
    const Image *image(std::uint64_t key) const;
    const Stroke *stroke(std::uint64_t key) const;
    const Note *note(std::uint64_t key) const;
    // The author's undo history, oldest first.
    const std::deque<Action> *actions(std::uint64_t author) const;
    const Action *action(std::uint64_t author, std::uint64_t clientOpId) const;

private:
    Stroke *mutableStroke(std::uint64_t key);
    Note *mutableNote(std::uint64_t key);
    Image *mutableImage(std::uint64_t key);
    Shape *mutableShape(std::uint64_t key);
    // Strokes, notes, images and shapes: what max_wall_objects counts.
    size_t objectCount() const
    {
        return m_strokes.size() + m_notes.size() + m_images.size() + m_shapes.size();
    }
    std::optional<Problem> wallFull() const;
    Action *mutableAction(std::uint64_t author, std::uint64_t clientOpId);
    void record(std::uint64_t author, Action action);
    void setUndone(std::uint64_t author, Action &action, bool undone, Change &change);
    std::optional<Problem> checkStroke(const pb::Op &op, std::uint64_t author) const;
    // More points for stroke s (a StrokePoints or a StrokeEnd's): the batch and total limits,
    // then whether `decode` reads them.
    std::optional<Problem> checkMorePoints(
        const Stroke &s, int count,
        const std::function<DecodeResult(StrokeTail, std::vector<FixedPoint> *)> &decode) const;
    std::optional<Problem> checkNote(const pb::Op &op, std::uint64_t author) const;
    std::optional<Problem> checkImage(const pb::Op &op, std::uint64_t author) const;
    std::optional<Problem> checkShape(const pb::Op &op, std::uint64_t author) const;
    std::optional<Problem> checkTransform(const pb::Transform &t) const;
    std::optional<Problem> checkArrange(const pb::Arrange &a) const;
    // The layer of each object `a` names, in its order (null: not here).
    std::vector<std::int32_t *> layersNamed(const pb::Arrange &a);
    // Puts an object on a layer, keeping m_layers's counts.
    void setLayer(std::int32_t &slot, std::int32_t layer);
    // `a` applied: to a new top (or bottom) layer, or to `restore` (an undo).
    void applyArrange(const pb::Arrange &a, const std::vector<std::int32_t> *restore, Change &change);
    // Applies `t` (or its inverse) to the objects it names that are here.
    void applyTransform(const pb::Transform &t, bool inverse, Change &change);
    // Keys that some action in the undo history names: hidden objects among them keep their
    // content in a snapshot (an undo may bring them back), the others travel as tombstones.
    // Worked out on the first question, so that a wall with nothing hidden never pays for it
    // (a set of every key in the history: milliseconds on a big wall, each snapshot).
    class ReachableKeys
    {
    public:
        explicit ReachableKeys(const WallModel &model) : m_model(model) {}
        bool contains(std::uint64_t key);

    private:
        const WallModel &m_model;
        std::optional<std::unordered_set<std::uint64_t>> m_keys;
    };
    static bool isTombstone(const Stroke &s, ReachableKeys &reachable);
    static bool isTombstone(const Note &n, ReachableKeys &reachable);
    static bool isTombstone(const Image &i, ReachableKeys &reachable);
    static bool isTombstone(const Shape &s, ReachableKeys &reachable);
    static void fillSnapShape(const Shape &s, bool tombstone, pb::SnapShape *out);
    static void fillSnapNote(const Note &n, bool tombstone, pb::SnapNote *out);
    static void fillSnapImage(const Image &i, bool tombstone, pb::SnapImage *out);
    static void fillSnapAction(std::uint64_t author, const Action &a, pb::SnapAction *out);

    static void keepSnapshotPath(const Stroke &s);

    limits::WallCapacity m_capacity;
    bool m_keepsSnapshotPaths = false;
    std::uint64_t m_seq = 0;
    std::uint64_t m_totalPoints = 0;
    // Draw order is creation order: vectors, with key -> index maps beside them.
    std::vector<Stroke> m_strokes;
    std::unordered_map<std::uint64_t, size_t> m_strokeIndex;
    std::vector<Note> m_notes;
    std::unordered_map<std::uint64_t, size_t> m_noteIndex;
    std::vector<Image> m_images;
    std::unordered_map<std::uint64_t, size_t> m_imageIndex;
    std::vector<Shape> m_shapes;
    std::unordered_map<std::uint64_t, size_t> m_shapeIndex;
    // How many objects (hidden ones too) are on each layer but 0: where the top and bottom are.
    std::map<std::int32_t, size_t> m_layers;
    // std::map so that snapshots list authors in one order on every machine.
    std::map<std::uint64_t, std::deque<Action>> m_actions;
};

} // namespace scrawl
