// The wall model (core/wallmodel.h): applying every op kind, check() refusals and the limits they
// name, undo/redo, snapshots, and determinism: the same ops in the same order give the same wall.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"
#include "core/wallhistory.h"
#include "core/wallmodel.h"

#include <QElapsedTimer>
#include <algorithm>
#include <QTest>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace Qt::StringLiterals;
namespace pb = scrawl::pb;
namespace limits = scrawl::limits;
using scrawl::FixedPoint;
using scrawl::objectKey;
using scrawl::WallModel;
using Points = std::vector<FixedPoint>;

Q_DECLARE_METATYPE(scrawl::pb::Op)
Q_DECLARE_METATYPE(scrawl::pb::ErrorCode)
Q_DECLARE_METATYPE(scrawl::pb::ActionKind)

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::int32_t kMaxFixed = std::int32_t(limits::kMaxCoordinate) * scrawl::kCoordScale;

// ---- Op builders: what a client fills in (the body); seq, author and ids come from Server.

Points line(int count, FixedPoint start = {}, FixedPoint step = {3, 1})
{
    Points points;
    for (int i = 0; i < count; ++i)
        points.push_back({start.x + i * step.x, start.y + i * step.y});
    return points;
}

pb::Op strokeBegin(std::uint32_t id, const Points &points = {}, float width = 3.0f,
                   std::uint32_t color = 0x3366ff)
{
    pb::Op op;
    auto *b = op.mutable_stroke_begin();
    b->set_id(id);
    b->set_color(color);
    b->set_width(width);
    scrawl::encodePoints(points, {}, b);
    return op;
}

// More points for a stroke that stands at `tail` (tailOf its points so far).
pb::Op strokePoints(std::uint32_t id, const Points &points, scrawl::StrokeTail tail)
{
    pb::Op op;
    op.mutable_stroke_points()->set_id(id);
    scrawl::encodePoints(points, tail, op.mutable_stroke_points());
    return op;
}

// Raw protocol 1 deltas (still read from stored walls), for counts and values the encoder would
// never produce.
pb::Op strokePointsRaw(std::uint32_t id, const std::vector<std::int32_t> &deltas)
{
    pb::Op op;
    op.mutable_stroke_points()->set_id(id);
    for (const auto d : deltas)
        op.mutable_stroke_points()->add_points(d);
    return op;
}

pb::Op strokeEnd(std::uint32_t id)
{
    pb::Op op;
    op.mutable_stroke_end()->set_id(id);
    return op;
}

pb::Op erase(const std::vector<std::uint64_t> &keys)
{
    pb::Op op;
    auto *e = op.mutable_erase();
    for (const auto k : keys)
        e->add_strokes(k);
    return op;
}

pb::Op noteAdd(std::uint32_t id, float x, float y, const std::string &text,
               std::uint32_t color = 0xffee00)
{
    pb::Op op;
    auto *n = op.mutable_note_add();
    n->set_id(id);
    n->set_x(x);
    n->set_y(y);
    n->set_text(text);
    n->set_color(color);
    return op;
}

pb::Op noteEdit(std::uint64_t key, const std::string &text)
{
    pb::Op op;
    op.mutable_note_edit()->set_note(key);
    op.mutable_note_edit()->set_text(text);
    return op;
}

pb::Op noteMove(std::uint64_t key, float x, float y)
{
    pb::Op op;
    op.mutable_note_move()->set_note(key);
    op.mutable_note_move()->set_x(x);
    op.mutable_note_move()->set_y(y);
    return op;
}

pb::Op noteStyle(std::uint64_t key, std::uint32_t color, float width, float height)
{
    pb::Op op;
    op.mutable_note_style()->set_note(key);
    op.mutable_note_style()->set_color(color);
    op.mutable_note_style()->set_width(width);
    op.mutable_note_style()->set_height(height);
    return op;
}

pb::Op noteDelete(std::uint64_t key)
{
    pb::Op op;
    op.mutable_note_delete()->set_note(key);
    return op;
}

pb::Shape shapeData(pb::ShapeKind kind, float x, float y, float w, float h,
                    std::uint32_t color = 0x333333, float strokeWidth = 3, std::uint32_t fill = 0)
{
    pb::Shape sh;
    sh.set_kind(kind);
    sh.set_x(x);
    sh.set_y(y);
    sh.set_width(w);
    sh.set_height(h);
    sh.set_color(color);
    if (kind == pb::SHAPE_TEXT) {
        sh.set_font_size(24);
    } else {
        sh.set_stroke_width(strokeWidth);
        sh.set_fill(fill);
    }
    return sh;
}

pb::Shape textData(float x, float y, const std::string &text, float size = 24)
{
    pb::Shape sh = shapeData(pb::SHAPE_TEXT, x, y, 0, 0, 0x222222);
    sh.set_text(text);
    sh.set_font_size(size);
    return sh;
}

pb::Op shapeAdd(std::uint32_t id, const pb::Shape &shape)
{
    pb::Op op;
    op.mutable_shape_add()->set_id(id);
    *op.mutable_shape_add()->mutable_shape() = shape;
    return op;
}

pb::Op shapeEdit(std::uint64_t key, const pb::Shape &shape)
{
    pb::Op op;
    op.mutable_shape_edit()->set_key(key);
    *op.mutable_shape_edit()->mutable_shape() = shape;
    return op;
}

pb::Op shapeDelete(std::uint64_t key)
{
    pb::Op op;
    op.mutable_shape_delete()->set_key(key);
    return op;
}

pb::Op imageAdd(std::uint32_t id, float x, float y, float w, float h)
{
    pb::Op op;
    auto *i = op.mutable_image_add();
    i->set_id(id);
    i->set_hash(std::string(32, '\x42'));
    i->set_x(x);
    i->set_y(y);
    i->set_width(w);
    i->set_height(h);
    return op;
}

struct Moved
{
    std::vector<std::uint64_t> strokes, notes, images, shapes;
};

pb::Op transform(const Moved &m, float dx, float dy, float sx = 0, float sy = 0, float ox = 0, float oy = 0)
{
    pb::Op op;
    auto *t = op.mutable_transform();
    for (auto k : m.strokes) t->add_strokes(k);
    for (auto k : m.notes) t->add_notes(k);
    for (auto k : m.images) t->add_images(k);
    for (auto k : m.shapes) t->add_shapes(k);
    t->set_dx(dx);
    t->set_dy(dy);
    t->set_scale_x(sx);
    t->set_scale_y(sy);
    t->set_origin_x(ox);
    t->set_origin_y(oy);
    return op;
}

pb::Op arrange(const Moved &m, bool toBack)
{
    pb::Op op;
    auto *a = op.mutable_arrange();
    for (auto k : m.strokes) a->add_strokes(k);
    for (auto k : m.notes) a->add_notes(k);
    for (auto k : m.images) a->add_images(k);
    for (auto k : m.shapes) a->add_shapes(k);
    a->set_to_back(toBack);
    return op;
}

pb::Op turn(const Moved &m, float radians, float ox, float oy, float scale = 0)
{
    pb::Op op = transform(m, 0, 0, scale, scale, ox, oy);
    op.mutable_transform()->set_rotation(radians);
    return op;
}

pb::Op undo(std::uint64_t target)
{
    pb::Op op;
    op.mutable_undo()->set_target_client_op_id(target);
    return op;
}

pb::Op redo(std::uint64_t target)
{
    pb::Op op;
    op.mutable_redo()->set_target_client_op_id(target);
    return op;
}

pb::Op clear()
{
    pb::Op op;
    op.mutable_clear();
    return op;
}

pb::Op chat(const std::string &text)
{
    pb::Op op;
    op.mutable_chat()->set_text(text);
    return op;
}

// Plays the server's part: checks an op from an author, and only when it fits stamps it
// (client op id, seq, author, time), applies it and keeps it in the log.
struct Server
{
    WallModel model;
    std::vector<pb::Op> log;
    std::map<std::uint64_t, std::uint64_t> lastOpId;

    std::optional<scrawl::Problem> submit(std::uint64_t author, pb::Op op)
    {
        op.set_client_op_id(++lastOpId[author]);
        if (auto problem = model.check(op, author))
            return problem;
        op.set_seq(log.size() + 1);
        op.set_author(author);
        op.set_time_ms(1'700'000'000'000LL + std::int64_t(log.size()));
        model.apply(op);
        log.push_back(op);
        return std::nullopt;
    }
};

std::string snapshotBytes(const WallModel &model) { return model.snapshot().SerializeAsString(); }

// The writer the server uses: the same bytes as protobuf's, or the test fails.
#define CHECK_SERIALIZED_SNAPSHOT(model) \
    QCOMPARE((model).serializedSnapshot(), QByteArray::fromStdString(snapshotBytes(model)))

// What a person sees on the wall: visible strokes with their points, visible notes.
QString visibleState(const WallModel &model)
{
    QString out;
    for (const auto &s : model.strokes()) {
        if (!s.visible())
            continue;
        out += u"stroke %1 w%2 c%3 L%4:"_s.arg(s.key).arg(double(s.width)).arg(s.color).arg(s.layer);
        for (const auto p : s.points)
            out += u" %1,%2"_s.arg(p.x).arg(p.y);
        if (!s.pressure.empty())
            out += u" pressure "_s
                 + QString::fromLatin1(QByteArray(reinterpret_cast<const char *>(s.pressure.data()),
                                                  qsizetype(s.pressure.size())).toHex());
        out += u'\n';
    }
    for (const auto &n : model.notes()) {
        if (n.visible())
            out += u"note %1 L%8 (%2, %3) %4x%5 c%6 \"%7\"\n"_s.arg(n.key)
                       .arg(double(n.x))
                       .arg(double(n.y))
                       .arg(double(n.width))
                       .arg(double(n.height))
                       .arg(n.color)
                       .arg(n.text)
                       .arg(n.layer);
    }
    for (const auto &i : model.images()) {
        if (i.visible())
            out += u"image %1 (%2, %3) %4x%5 r%6 L%7\n"_s.arg(i.key).arg(double(i.x)).arg(double(i.y))
                       .arg(double(i.width)).arg(double(i.height)).arg(double(i.rotation)).arg(i.layer);
    }
    for (const auto &sh : model.shapes()) {
        if (!sh.visible())
            continue;
        pb::Shape wire;
        sh.data.toWire(&wire);
        out += u"shape %1 L%3 %2\n"_s.arg(sh.key).arg(QString::fromStdString(wire.ShortDebugString())).arg(sh.layer);
    }
    return out;
}

// The objects whose state differs between two models: (kind, key), kind 0 stroke, 1 note, 2
// image, 3 shape (one present in only one of them differs too).
std::vector<std::pair<int, std::uint64_t>> objectsThatDiffer(const WallModel &a, const WallModel &b)
{
    std::map<std::pair<int, std::uint64_t>, QString> left, right;
    auto describeAll = [](const WallModel &m, std::map<std::pair<int, std::uint64_t>, QString> &out) {
        for (const auto &s : m.strokes()) {
            QString text = u"%1 %2 %3 %4"_s.arg(s.visible()).arg(s.layer).arg(s.points.size()).arg(s.color);
            for (const auto p : s.points)
                text += u" %1,%2"_s.arg(p.x).arg(p.y);
            out[{0, s.key}] = text;
        }
        for (const auto &n : m.notes())
            out[{1, n.key}] = u"%1 %2 %3 %4 %5 %6 %7 %8"_s.arg(n.visible()).arg(n.layer).arg(double(n.x)).arg(double(n.y))
                                  .arg(n.text).arg(n.color).arg(double(n.width)).arg(double(n.height));
        for (const auto &i : m.images())
            out[{2, i.key}] = u"%1 %2 %3 %4 %5 %6 %7"_s.arg(i.visible()).arg(i.layer).arg(double(i.x)).arg(double(i.y))
                                  .arg(double(i.width)).arg(double(i.height)).arg(double(i.rotation));
        for (const auto &sh : m.shapes()) {
            pb::Shape wire;
            sh.data.toWire(&wire);
            out[{3, sh.key}] = u"%1 %2 %3"_s.arg(sh.visible()).arg(sh.layer).arg(QString::fromStdString(wire.ShortDebugString()));
        }
    };
    describeAll(a, left);
    describeAll(b, right);
    std::vector<std::pair<int, std::uint64_t>> out;
    for (const auto &[k, v] : left) {
        const auto it = right.find(k);
        if (it == right.end() || it->second != v)
            out.push_back(k);
    }
    for (const auto &[k, v] : right) {
        if (!left.count(k))
            out.push_back(k);
    }
    return out;
}

std::string withoutTotalPoints(pb::WallSnapshot snapshot)
{
    snapshot.set_total_points(0);
    return snapshot.SerializeAsString();
}

QString describe(const std::optional<scrawl::Problem> &p)
{
    if (!p)
        return u"accepted"_s;
    return u"refused: code %1, limit \"%2\": %3"_s.arg(int(p->code)).arg(p->limit, p->message);
}

} // namespace

// Submits an op that must be accepted; fails the test with the refusal otherwise.
#define ACCEPT(server, author, op)                                                                 \
    do {                                                                                           \
        const auto problem_ = (server).submit((author), (op));                                     \
        QVERIFY2(!problem_, qPrintable(describe(problem_)));                                       \
    } while (false)

class TestWallModel : public QObject
{
    Q_OBJECT

private slots:
    void strokeLifecycle();
    void strokeEndCarriesTheLastPoints();
    void strokePressureTravelsAndIsChecked();
    void strokeBounds();
    void eraseAndUndoRestores();
    void notesLifecycle();
    void shapesLifecycle();
    void transformMovesEveryKind();
    void transformTurnsEveryKind();
    void arrangeLayersEveryKind();
    void undoRedoEveryKind_data();
    void undoRedoEveryKind();
    void clearEmptiesTheWall();
    void chatChangesNothingButSeq();
    void applyIgnoresOldSeq();
    void applyIgnoresMisfits_data();
    void applyIgnoresMisfits();
    void check_data();
    void check();
    void checkChangesNothing();
    void pointsPerStrokeLimit();
    void wallFullOfObjects();
    void undoDepth_data();
    void undoDepth();
    void snapshotRoundTrip_data();
    void snapshotRoundTrip();
    void loadRefusesDamagedSnapshots_data();
    void loadRefusesDamagedSnapshots();
    void wallsStoredByProtocol1StillLoad();
    void determinism_data();
    void determinism();
    void historyShowsTheWallAfterAnyOp_data();
    void historyShowsTheWallAfterAnyOp();
};

// ---- Applying ops

void TestWallModel::strokeLifecycle()
{
    Server s;
    const std::uint64_t author = 7;
    const std::uint64_t key = objectKey(author, 1);
    const Points first = line(3, {100, -40});
    const Points more = line(2, {200, 10}, {-5, 5});

    WallModel::Change change = [&] {
        pb::Op op = strokeBegin(1, first, 4.5f, 0xaabbcc);
        op.set_seq(1);
        op.set_author(author);
        op.set_client_op_id(11);
        return s.model.apply(op);
    }();
    QCOMPARE(change.strokes, std::vector<std::uint64_t>{key});
    QVERIFY(!change.cleared);
    QCOMPARE(s.model.seq(), 1u);
    const WallModel::Stroke *stroke = s.model.stroke(key);
    QVERIFY(stroke);
    QCOMPARE(stroke->key, key);
    QCOMPARE(stroke->color, 0xaabbccu);
    QCOMPARE(stroke->width, 4.5f);
    QCOMPARE(stroke->points, first);
    QVERIFY(!stroke->closed);
    QVERIFY(stroke->visible());
    QCOMPARE(s.model.totalPoints(), 3u);
    QCOMPARE(s.model.strokes().size(), size_t(1));
    // Another author's id 1 is another stroke.
    QVERIFY(!s.model.stroke(objectKey(author + 1, 1)));

    pb::Op points = strokePoints(1, more, scrawl::tailOf(first));
    points.set_seq(2);
    points.set_author(author);
    change = s.model.apply(points);
    QCOMPARE(change.strokes, std::vector<std::uint64_t>{key});
    QCOMPARE(change.firstNewPoint, size_t(3));
    Points all = first;
    all.insert(all.end(), more.begin(), more.end());
    QCOMPARE(s.model.stroke(key)->points, all);
    QCOMPARE(s.model.totalPoints(), 5u);

    pb::Op end = strokeEnd(1);
    end.set_seq(3);
    end.set_author(author);
    change = s.model.apply(end);
    QCOMPARE(change.strokes, std::vector<std::uint64_t>{key});
    QVERIFY(s.model.stroke(key)->closed);
    QVERIFY(s.model.stroke(key)->visible());

    // The stroke is one undoable action, named by its StrokeBegin.
    const auto *actions = s.model.actions(author);
    QVERIFY(actions);
    QCOMPARE(actions->size(), size_t(1));
    QCOMPARE(actions->front().kind, pb::ACTION_STROKE);
    QCOMPARE(actions->front().clientOpId, 11u);
    QCOMPARE(actions->front().keys, std::vector<std::uint64_t>{key});
    QVERIFY(s.model.action(author, 11));
    QVERIFY(!s.model.action(author, 12));
    QVERIFY(!s.model.actions(author + 1));
}

// A pen's pressure: a byte a point in every batch of a stroke begun with it, none in one begun
// without; kept through the snapshot (both writers) and a load.
void TestWallModel::strokePressureTravelsAndIsChecked()
{
    Server s;
    const Points first = line(3, {10, 10});
    const Points more = line(4, {13, 10});
    const Points last = line(2, {17, 10});
    pb::Op begin = strokeBegin(1, first);
    begin.mutable_stroke_begin()->set_pressure(std::string("\x10\x20\x30", 3));
    ACCEPT(s, 1, begin);
    pb::Op points = strokePoints(1, more, scrawl::tailOf(first));
    points.mutable_stroke_points()->set_pressure(std::string("\x40\x50\x60\x70", 4));
    ACCEPT(s, 1, points);
    Points sofar = first;
    sofar.insert(sofar.end(), more.begin(), more.end());
    pb::Op end = strokeEnd(1);
    scrawl::encodePoints(last, scrawl::tailOf(sofar), end.mutable_stroke_end());
    end.mutable_stroke_end()->set_pressure(std::string("\x80\xff", 2));
    ACCEPT(s, 1, end);
    const WallModel::Stroke *stroke = s.model.stroke(objectKey(1, 1));
    QVERIFY(stroke);
    const std::vector<std::uint8_t> pressure = stroke->pressure;
    QCOMPARE(pressure, (std::vector<std::uint8_t>{0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0xff}));
    QCOMPARE(pressure.size(), stroke->points.size());

    // A mouse's stroke beside it has none.
    ACCEPT(s, 1, strokeBegin(2, first));
    QVERIFY(s.model.stroke(objectKey(1, 2))->pressure.empty());

    CHECK_SERIALIZED_SNAPSHOT(s.model);
    WallModel loaded;
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(visibleState(loaded), visibleState(s.model));
    QCOMPARE(loaded.stroke(objectKey(1, 1))->pressure, pressure);

    // Refused: a count that does not match the points, pressure a stroke was begun without,
    // a batch of a pressured stroke without it.
    auto refused = [&](pb::Op op, const char *says) {
        const auto problem = s.model.check(op, 1);
        QVERIFY2(problem, says);
        QCOMPARE(problem->code, pb::INVALID_OP);
        QVERIFY2(problem->message.contains(QLatin1String(says)), qPrintable(problem->message));
    };
    pb::Op uneven = strokeBegin(3, first);
    uneven.mutable_stroke_begin()->set_pressure(std::string("\x10\x20", 2));
    refused(uneven, "needs 3 pressure bytes, not 2");
    pb::Op onMouse = strokePoints(2, more, scrawl::tailOf(first));
    onMouse.mutable_stroke_points()->set_pressure(std::string(4, '\x40'));
    refused(onMouse, "was begun without pressure");
    pb::Op pen = begin;
    pen.mutable_stroke_begin()->set_id(4);
    ACCEPT(s, 1, pen);
    refused(strokePoints(4, more, scrawl::tailOf(first)), "needs 4 pressure bytes, not 0");

    // A snapshot whose pressures do not match its points is damaged.
    pb::WallSnapshot damaged = s.model.snapshot();
    damaged.mutable_strokes(0)->set_pressure(std::string(2, '\x01'));
    WallModel refusing;
    const auto problem = refusing.load(damaged);
    QVERIFY(problem);
    QVERIFY2(problem->message.contains(QLatin1String("pressures for")), qPrintable(problem->message));
}

void TestWallModel::strokeEndCarriesTheLastPoints()
{
    Server s;
    const std::uint64_t key = objectKey(1, 1);
    const Points first = line(3, {10, 10});
    const Points last = line(4, {40, 20}, {3, -2});
    ACCEPT(s, 1, strokeBegin(1, first));
    pb::Op end = strokeEnd(1);
    scrawl::encodePoints(last, scrawl::tailOf(first), end.mutable_stroke_end());
    end.set_seq(s.model.seq() + 1);
    end.set_author(1);
    QVERIFY(!s.model.check(end, 1));
    const WallModel::Change change = s.model.apply(end);
    s.log.push_back(end);
    QCOMPARE(change.strokes, std::vector<std::uint64_t>{key});
    QCOMPARE(change.firstNewPoint, first.size()); // only the new part is repainted
    Points all = first;
    all.insert(all.end(), last.begin(), last.end());
    QCOMPARE(s.model.stroke(key)->points, all);
    QVERIFY(s.model.stroke(key)->closed);
    QCOMPARE(s.model.totalPoints(), std::uint64_t(all.size()));

    // The end's points meet the same limits and checks as any batch.
    ACCEPT(s, 1, strokeBegin(2, first));
    // An empty batch is accepted and changes nothing (no stroke reported as grown).
    pb::Op empty = strokePoints(2, {}, scrawl::tailOf(first));
    empty.set_seq(s.model.seq() + 1);
    empty.set_author(1);
    QVERIFY(!s.model.check(empty, 1));
    QVERIFY(s.model.apply(empty).strokes.empty());
    s.log.push_back(empty);
    pb::Op tooMany = strokeEnd(2);
    for (int i = 0; i <= limits::kMaxPointsPerBatch; ++i)
        tooMany.mutable_stroke_end()->add_path(0);
    auto problem = s.model.check(tooMany, 1);
    QVERIFY(problem);
    QCOMPARE(problem->limit, QString::fromLatin1(limits::kMaxPointsPerBatchName));
    pb::Op offTheWall = strokeEnd(2);
    offTheWall.mutable_stroke_end()->add_path(~std::uint64_t(0));
    problem = s.model.check(offTheWall, 1);
    QVERIFY(problem);
    QVERIFY2(problem->message.contains(QLatin1String(limits::kMaxCoordinateName)),
             qPrintable(problem->message));
    QVERIFY(!s.model.stroke(objectKey(1, 2))->closed); // refused ends change nothing
}

void TestWallModel::strokeBounds()
{
    WallModel::Stroke stroke;
    QVERIFY(stroke.bounds().isNull());
    stroke.width = 2;
    stroke.points = {{4, -8}, {-4, 12}, {40, 0}}; // (1,-2) (-1,3) (10,0) px
    QCOMPARE(stroke.bounds(), QRectF(QPointF(-2, -3), QPointF(11, 4)));
}

void TestWallModel::eraseAndUndoRestores()
{
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    ACCEPT(s, ana, strokeBegin(1, line(4)));
    ACCEPT(s, ana, strokeEnd(1));
    ACCEPT(s, ana, strokeBegin(2, line(2)));
    ACCEPT(s, bo, strokeBegin(1, line(3)));
    const std::uint64_t a1 = objectKey(ana, 1), a2 = objectKey(ana, 2), b1 = objectKey(bo, 1);
    const QString before = visibleState(s.model);

    // Bo erases two strokes of Ana's and one of his own; a key repeated counts once.
    ACCEPT(s, bo, erase({a1, b1, a1, a2}));
    const std::uint64_t eraseOp = s.lastOpId[bo];
    for (const auto key : {a1, a2, b1}) {
        QVERIFY(s.model.stroke(key)->erased);
        QVERIFY(!s.model.stroke(key)->visible());
    }
    QCOMPARE(s.model.action(bo, eraseOp)->kind, pb::ACTION_ERASE);
    QCOMPARE(s.model.action(bo, eraseOp)->keys, (std::vector<std::uint64_t>{a1, b1, a2}));
    const QString erased = visibleState(s.model);
    QVERIFY(erased.isEmpty());

    // Only Bo can undo his erase.
    QCOMPARE(s.model.check(undo(eraseOp), ana).value_or(scrawl::Problem{}).code, pb::INVALID_OP);
    ACCEPT(s, bo, undo(eraseOp));
    QCOMPARE(visibleState(s.model), before);
    for (const auto key : {a1, a2, b1})
        QVERIFY(!s.model.stroke(key)->erased);
    QVERIFY(s.model.action(bo, eraseOp)->undone);

    ACCEPT(s, bo, redo(eraseOp));
    QCOMPARE(visibleState(s.model), erased);
    ACCEPT(s, bo, undo(eraseOp));
    QCOMPARE(visibleState(s.model), before);

    // Points keep chaining on a restored stroke, and an erase of an erased stroke records nothing.
    ACCEPT(s, ana, strokePoints(2, line(1, {50, 50}), scrawl::tailOf(line(2))));
    QCOMPARE(s.model.stroke(a2)->points.size(), size_t(3));
    ACCEPT(s, ana, erase({a2}));
    const auto actionsBefore = s.model.actions(bo)->size();
    ACCEPT(s, bo, erase({a2}));
    QCOMPARE(s.model.actions(bo)->size(), actionsBefore);
}

void TestWallModel::notesLifecycle()
{
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    ACCEPT(s, ana, noteAdd(5, 10.5f, -20.25f, "first\nline", 0x00ff00));
    const std::uint64_t key = objectKey(ana, 5);
    const WallModel::Note *note = s.model.note(key);
    QVERIFY(note);
    QCOMPARE(note->key, key);
    QCOMPARE(note->x, 10.5f);
    QCOMPARE(note->y, -20.25f);
    QCOMPARE(note->text, u"first\nline"_s);
    QCOMPARE(note->color, 0x00ff00u);
    QVERIFY(note->visible());
    QCOMPARE(s.model.action(ana, s.lastOpId[ana])->kind, pb::ACTION_NOTE_ADD);

    // Notes are shared: Bo may edit and move Ana's note; the action is Bo's.
    ACCEPT(s, bo, noteEdit(key, "zweite Zeile ü"));
    QCOMPARE(s.model.note(key)->text, u"zweite Zeile ü"_s);
    const WallModel::Action *edit = s.model.action(bo, s.lastOpId[bo]);
    QVERIFY(edit);
    QCOMPARE(edit->kind, pb::ACTION_NOTE_EDIT);
    QCOMPARE(edit->textBefore, u"first\nline"_s);
    QCOMPARE(edit->textAfter, u"zweite Zeile ü"_s);

    ACCEPT(s, bo, noteMove(key, -3.0f, 4.0f));
    QCOMPARE(s.model.note(key)->x, -3.0f);
    QCOMPARE(s.model.note(key)->y, 4.0f);
    const WallModel::Action *move = s.model.action(bo, s.lastOpId[bo]);
    QCOMPARE(move->kind, pb::ACTION_NOTE_MOVE);
    QCOMPARE(move->xBefore, 10.5f);
    QCOMPARE(move->yBefore, -20.25f);
    QCOMPARE(move->xAfter, -3.0f);
    QCOMPARE(move->yAfter, 4.0f);

    ACCEPT(s, ana, noteDelete(key));
    QVERIFY(s.model.note(key)->deleted);
    QVERIFY(!s.model.note(key)->visible());
    QCOMPARE(s.model.action(ana, s.lastOpId[ana])->kind, pb::ACTION_NOTE_DELETE);
    QCOMPARE(s.model.notes().size(), size_t(1));
}

void TestWallModel::shapesLifecycle()
{
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    ACCEPT(s, ana, shapeAdd(3, shapeData(pb::SHAPE_DIAMOND, -10, 20, 60, 40, 0x2d9cdb, 2, 0xff6fcf97)));
    const std::uint64_t key = objectKey(ana, 3);
    const WallModel::Shape *shape = s.model.shape(key);
    QVERIFY(shape);
    QCOMPARE(shape->data.kind, pb::SHAPE_DIAMOND);
    QCOMPARE(shape->data.box(), QRectF(-10, 20, 60, 40));
    QCOMPARE(shape->data.fill, 0xff6fcf97u);
    QCOMPARE(s.model.action(ana, s.lastOpId[ana])->kind, pb::ACTION_SHAPE_ADD);

    // A line's box comes from its two ends, whichever way it was drawn.
    ACCEPT(s, ana, shapeAdd(4, shapeData(pb::SHAPE_LINE, 50, 50, -20, -30)));
    QCOMPARE(s.model.shape(objectKey(ana, 4))->data.box(), QRectF(30, 20, 20, 30));

    // Bo restyles and moves Ana's shape in one op; undo gives back all of it.
    const pb::Shape moved = shapeData(pb::SHAPE_DIAMOND, 100, 200, 90, 40, 0xeb5757, 8, 0);
    ACCEPT(s, bo, shapeEdit(key, moved));
    QCOMPARE(s.model.shape(key)->data, WallModel::ShapeData::fromWire(moved));
    const WallModel::Action *edit = s.model.action(bo, s.lastOpId[bo]);
    QCOMPARE(edit->kind, pb::ACTION_SHAPE_EDIT);
    QCOMPARE(edit->shapeBefore.x, -10.0f);
    QCOMPARE(edit->shapeAfter.x, 100.0f);
    ACCEPT(s, bo, undo(s.lastOpId[bo]));
    QCOMPARE(s.model.shape(key)->data.color, 0x2d9cdbu);
    QCOMPARE(s.model.shape(key)->data.box(), QRectF(-10, 20, 60, 40));

    // Text: typed, edited as it is typed, emptied and kept while being edited.
    ACCEPT(s, bo, shapeAdd(1, textData(0, 0, "H")));
    ACCEPT(s, bo, shapeEdit(objectKey(bo, 1), textData(0, 0, "Hello, wall 🎨")));
    QCOMPARE(s.model.shape(objectKey(bo, 1))->data.text, u"Hello, wall 🎨"_s);
    ACCEPT(s, bo, shapeEdit(objectKey(bo, 1), textData(0, 0, "")));

    ACCEPT(s, ana, shapeDelete(key));
    QVERIFY(!s.model.shape(key)->visible());
    QCOMPARE(s.model.shapes().size(), size_t(3));
    CHECK_SERIALIZED_SNAPSHOT(s.model);
    ACCEPT(s, ana, clear());
    QVERIFY(s.model.shapes().empty());
}

// One op moves strokes, notes, images and shapes; undo puts each back exactly; a resize scales
// about its origin; others' and later edits of the moved objects are unaffected.
void TestWallModel::transformMovesEveryKind()
{
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    ACCEPT(s, ana, strokeBegin(1, line(5, {40, 40}, {4, 0})));
    ACCEPT(s, ana, strokeEnd(1));
    ACCEPT(s, ana, noteAdd(2, 100, 100, "note"));
    ACCEPT(s, ana, imageAdd(3, 200, 0, 80, 60));
    ACCEPT(s, ana, shapeAdd(4, shapeData(pb::SHAPE_RECT, -50, -50, 40, 20)));
    ACCEPT(s, ana, shapeAdd(5, shapeData(pb::SHAPE_ARROW, 0, 0, -10, 30)));
    ACCEPT(s, bo, strokeBegin(1, line(3))); // open: Bo is still drawing it
    const Moved all{{objectKey(ana, 1)}, {objectKey(ana, 2)}, {objectKey(ana, 3)},
                    {objectKey(ana, 4), objectKey(ana, 5)}};
    const QString before = visibleState(s.model);

    // Bo moves Ana's work by (12.25, -7.5).
    ACCEPT(s, bo, transform(all, 12.25f, -7.5f));
    const std::uint64_t moveId = s.lastOpId[bo];
    const WallModel::Stroke *st = s.model.stroke(objectKey(ana, 1));
    QCOMPARE(st->points.front().x, 40 + 49);
    QCOMPARE(st->points.front().y, 40 - 30);
    QCOMPARE(s.model.note(objectKey(ana, 2))->x, 112.25f);
    QCOMPARE(s.model.image(objectKey(ana, 3))->y, -7.5f);
    QCOMPARE(s.model.shape(objectKey(ana, 4))->data.box(), QRectF(-37.75, -57.5, 40, 20));
    QCOMPARE(s.model.action(bo, moveId)->kind, pb::ACTION_TRANSFORM);
    CHECK_SERIALIZED_SNAPSHOT(s.model);

    ACCEPT(s, bo, undo(moveId));
    QCOMPARE(visibleState(s.model), before);
    ACCEPT(s, bo, redo(moveId));
    QCOMPARE(s.model.note(objectKey(ana, 2))->x, 112.25f);
    ACCEPT(s, bo, undo(moveId));
    QCOMPARE(visibleState(s.model), before);

    // A resize: twice as big about the rectangle's top-left corner; the arrow's ends follow.
    ACCEPT(s, ana, transform({{}, {}, {}, {objectKey(ana, 4), objectKey(ana, 5)}}, 0, 0, 2, 2, -50, -50));
    QCOMPARE(s.model.shape(objectKey(ana, 4))->data.box(), QRectF(-50, -50, 80, 40));
    const auto &arrow = s.model.shape(objectKey(ana, 5))->data;
    QCOMPARE(QRectF(arrow.x, arrow.y, arrow.width, arrow.height), QRectF(50, 50, -20, 60));
    ACCEPT(s, ana, undo(s.lastOpId[ana]));
    QCOMPARE(visibleState(s.model), before);
    // A stroke resized and back is on its grid again: within a grid step (a quarter pixel).
    const std::vector<FixedPoint> strokeBefore = s.model.stroke(objectKey(ana, 1))->points;
    ACCEPT(s, ana, transform({{objectKey(ana, 1)}, {}, {}, {}}, 3, 0, 1.37f, 0.31f, 41, 40));
    QVERIFY(s.model.stroke(objectKey(ana, 1))->points != strokeBefore);
    ACCEPT(s, ana, undo(s.lastOpId[ana]));
    const auto &strokeAfter = s.model.stroke(objectKey(ana, 1))->points;
    for (size_t i = 0; i < strokeBefore.size(); ++i) {
        QVERIFY(std::abs(strokeAfter[i].x - strokeBefore[i].x) <= 1);
        QVERIFY(std::abs(strokeAfter[i].y - strokeBefore[i].y) <= 1);
    }

    // Through a snapshot, the history still undoes and redoes the same way.
    ACCEPT(s, bo, redo(moveId));
    WallModel loaded;
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(visibleState(loaded), visibleState(s.model));
    CHECK_SERIALIZED_SNAPSHOT(loaded);
    QCOMPARE(loaded.serializedSnapshot(), s.model.serializedSnapshot());

    // What cannot be moved: a stroke still being drawn, something named twice or not there.
    QCOMPARE(s.model.check(transform({{objectKey(bo, 1)}, {}, {}, {}}, 1, 1), bo)->code, pb::INVALID_OP);
    QCOMPARE(s.model.check(transform({{objectKey(ana, 1), objectKey(ana, 1)}, {}, {}, {}}, 1, 1), bo)->code,
             pb::INVALID_OP);
    QCOMPARE(s.model.check(transform({{}, {objectKey(ana, 9)}, {}, {}}, 1, 1), bo)->code, pb::INVALID_OP);
    QCOMPARE(s.model.check(transform({}, 1, 1), bo)->code, pb::INVALID_OP);
}

// A quarter turn about (0, 0): points, corners and middles go round; shapes and images keep the
// angle; notes stay upright; undo turns them back.
void TestWallModel::transformTurnsEveryKind()
{
    Server s;
    const std::uint64_t ana = 1;
    const float quarter = float(M_PI / 2);
    ACCEPT(s, ana, strokeBegin(1, line(2, {40, 0}, {40, 0}))); // (10, 0) then (20, 0)
    ACCEPT(s, ana, strokeEnd(1));
    ACCEPT(s, ana, noteAdd(2, 100, -40, "note"));           // 200 x 80 by default: middle (200, 0)
    ACCEPT(s, ana, imageAdd(3, 50, 10, 80, 60));
    ACCEPT(s, ana, shapeAdd(4, shapeData(pb::SHAPE_RECT, 30, 0, 40, 20)));
    ACCEPT(s, ana, shapeAdd(5, shapeData(pb::SHAPE_LINE, 10, 10, 30, 0)));
    const Moved all{{objectKey(ana, 1)}, {objectKey(ana, 2)}, {objectKey(ana, 3)},
                    {objectKey(ana, 4), objectKey(ana, 5)}};
    const QString before = visibleState(s.model);

    ACCEPT(s, ana, turn(all, quarter, 0, 0));
    const std::uint64_t turnId = s.lastOpId[ana];
    // Clockwise on screen (y down): (x, y) goes to (-y, x).
    const auto &points = s.model.stroke(objectKey(ana, 1))->points;
    QCOMPARE(points.front(), (FixedPoint{0, 40}));
    QCOMPARE(points.back(), (FixedPoint{0, 80}));
    const WallModel::Note *note = s.model.note(objectKey(ana, 2));
    QCOMPARE(qRound(note->x), -100);  // its middle went from (200, 0) to (0, 200)
    QCOMPARE(qRound(note->y), 160);
    const WallModel::Image *image = s.model.image(objectKey(ana, 3));
    QCOMPARE(qRound(image->x), -10);
    QCOMPARE(qRound(image->y), 50);
    QCOMPARE(image->width, 80.0f);
    QCOMPARE(image->rotation, quarter);
    const auto &rect = s.model.shape(objectKey(ana, 4))->data;
    QCOMPARE(qRound(rect.x), 0);
    QCOMPARE(qRound(rect.y), 30);
    QCOMPARE(rect.width, 40.0f);
    QCOMPARE(rect.rotation, quarter);
    // A line turns by its ends and keeps rotation 0.
    const auto &line = s.model.shape(objectKey(ana, 5))->data;
    QCOMPARE(qRound(line.x), -10);
    QCOMPARE(qRound(line.y), 10);
    QCOMPARE(qRound(line.width), 0);
    QCOMPARE(qRound(line.height), 30);
    QCOMPARE(line.rotation, 0.0f);
    CHECK_SERIALIZED_SNAPSHOT(s.model);
    WallModel loaded;
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(visibleState(loaded), visibleState(s.model));

    // Another quarter turn, and half again as big: angles add, sides scale.
    ACCEPT(s, ana, turn({{}, {}, {objectKey(ana, 3)}, {objectKey(ana, 4)}}, quarter, 0, 0, 1.5f));
    QCOMPARE(s.model.image(objectKey(ana, 3))->width, 120.0f);
    QVERIFY(std::abs(std::abs(s.model.shape(objectKey(ana, 4))->data.rotation) - M_PI) < 1e-6);
    ACCEPT(s, ana, undo(s.lastOpId[ana]));
    QCOMPARE(s.model.image(objectKey(ana, 3))->rotation, quarter);

    // Undone, all is where it was: within float rounding for the turned, within a grid step for
    // the stroke.
    ACCEPT(s, ana, undo(turnId));
    QCOMPARE(s.model.stroke(objectKey(ana, 1))->points.front(), (FixedPoint{40, 0}));
    QVERIFY(std::abs(s.model.note(objectKey(ana, 2))->x - 100) < 1e-3);
    QVERIFY(std::abs(s.model.image(objectKey(ana, 3))->x - 50) < 1e-3);
    QVERIFY(std::abs(s.model.image(objectKey(ana, 3))->rotation) < 1e-6);
    QVERIFY(std::abs(s.model.shape(objectKey(ana, 4))->data.y) < 1e-3);
    QVERIFY(std::abs(s.model.shape(objectKey(ana, 4))->data.rotation) < 1e-6);
    Q_UNUSED(before);

    // A turned box scaled one way keeps its right angles: its sides take the lengths the scale
    // gives them.
    ACCEPT(s, ana, shapeAdd(6, [quarter] {
        auto d = shapeData(pb::SHAPE_RECT, 0, 0, 10, 20);
        d.set_rotation(quarter);
        return d;
    }()));
    ACCEPT(s, ana, transform({{}, {}, {}, {objectKey(ana, 6)}}, 0, 0, 3, 1));
    const auto &turned = s.model.shape(objectKey(ana, 6))->data;
    QCOMPARE(qRound(turned.width), 10);  // along y, which was not scaled
    QCOMPARE(qRound(turned.height), 60); // along x, scaled 3 times
    QVERIFY(std::abs(turned.rotation - quarter) < 1e-6);

    // What a turn may not be.
    QCOMPARE(s.model.check(turn(all, 4.0f, 0, 0), ana)->limit, QStringLiteral("rotation"));
    QCOMPARE(s.model.check(turn(all, std::nanf(""), 0, 0), ana)->limit, QStringLiteral("rotation"));
    pb::Op skewed = turn(all, 0.5f, 0, 0);
    skewed.mutable_transform()->set_scale_x(2);
    QCOMPARE(s.model.check(skewed, ana)->code, pb::INVALID_OP);
}

// Bring to front and send to back: each goes to a new layer above (below) all, keeping the
// named objects' order; undo puts them back; a snapshot keeps layers, tombstones' too.
void TestWallModel::arrangeLayersEveryKind()
{
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    ACCEPT(s, ana, strokeBegin(1, line(3)));
    ACCEPT(s, ana, strokeEnd(1));
    ACCEPT(s, ana, noteAdd(2, 0, 0, "note"));
    ACCEPT(s, ana, imageAdd(3, 0, 0, 10, 10));
    ACCEPT(s, ana, shapeAdd(4, shapeData(pb::SHAPE_RECT, 0, 0, 10, 10)));
    ACCEPT(s, bo, shapeAdd(5, shapeData(pb::SHAPE_ELLIPSE, 0, 0, 10, 10)));
    const std::uint64_t stroke = objectKey(ana, 1), note = objectKey(ana, 2), image = objectKey(ana, 3),
                        rect = objectKey(ana, 4), ellipse = objectKey(bo, 5);
    QCOMPARE(s.model.topLayer(), 0);
    QCOMPARE(s.model.bottomLayer(), 0);

    // The image to the front: over the shapes and the ink.
    ACCEPT(s, ana, arrange({{}, {}, {image}, {}}, false));
    const std::uint64_t frontId = s.lastOpId[ana];
    QCOMPARE(s.model.image(image)->layer, 1);
    QCOMPARE(s.model.topLayer(), 1);
    // Bo's ellipse and Ana's note over it again, together.
    ACCEPT(s, bo, arrange({{}, {note}, {}, {ellipse}}, false));
    QCOMPARE(s.model.shape(ellipse)->layer, 2);
    QCOMPARE(s.model.note(note)->layer, 2);
    // The stroke to the back: under everything.
    ACCEPT(s, ana, arrange({{stroke}, {}, {}, {}}, true));
    QCOMPARE(s.model.stroke(stroke)->layer, -1);
    QCOMPARE(s.model.bottomLayer(), -1);
    QCOMPARE(s.model.shape(rect)->layer, 0);
    // New work goes on the top layer: over what was brought to the front before it.
    ACCEPT(s, bo, strokeBegin(6, line(2)));
    QCOMPARE(s.model.stroke(objectKey(bo, 6))->layer, 2);
    CHECK_SERIALIZED_SNAPSHOT(s.model);
    WallModel loaded;
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(visibleState(loaded), visibleState(s.model));
    QCOMPARE(loaded.topLayer(), 2);
    QCOMPARE(loaded.bottomLayer(), -1);

    // Undo takes the image back to layer 0; redo brings it to the front again, over the ellipse.
    ACCEPT(s, ana, undo(frontId));
    QCOMPARE(s.model.image(image)->layer, 0);
    QCOMPARE(s.model.topLayer(), 2);
    ACCEPT(s, ana, redo(frontId));
    QCOMPARE(s.model.image(image)->layer, 3);
    // Undo through a snapshot too.
    WallModel again;
    QVERIFY(!again.load(s.model.snapshot()));
    const pb::Op undoFront = [&] {
        pb::Op op = undo(frontId);
        op.set_seq(s.model.seq() + 1);
        op.set_author(ana);
        return op;
    }();
    again.apply(undoFront);
    QCOMPARE(again.image(image)->layer, 0);
    QCOMPARE(again.topLayer(), 2);

    // A deleted shape keeps its layer in a snapshot (it decides where the top is).
    ACCEPT(s, bo, shapeDelete(ellipse));
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(loaded.shape(ellipse)->layer, 2);
    CHECK_SERIALIZED_SNAPSHOT(s.model);

    // What cannot be arranged.
    QCOMPARE(s.model.check(arrange({}, false), ana)->code, pb::INVALID_OP);
    QCOMPARE(s.model.check(arrange({{stroke, stroke}, {}, {}, {}}, false), ana)->code, pb::INVALID_OP);
    QCOMPARE(s.model.check(arrange({{}, {}, {}, {ellipse}}, true), ana)->code, pb::INVALID_OP); // deleted
    QCOMPARE(s.model.check(arrange({{}, {objectKey(ana, 99)}, {}, {}}, true), ana)->code, pb::INVALID_OP);
}

// One row per undoable kind: the wall after undo is the wall before the action, after redo the
// wall after it.
void TestWallModel::undoRedoEveryKind_data()
{
    QTest::addColumn<pb::ActionKind>("kind");
    QTest::newRow("stroke") << pb::ACTION_STROKE;
    QTest::newRow("erase") << pb::ACTION_ERASE;
    QTest::newRow("note add") << pb::ACTION_NOTE_ADD;
    QTest::newRow("note edit") << pb::ACTION_NOTE_EDIT;
    QTest::newRow("note move") << pb::ACTION_NOTE_MOVE;
    QTest::newRow("note delete") << pb::ACTION_NOTE_DELETE;
    QTest::newRow("note style") << pb::ACTION_NOTE_STYLE;
    QTest::newRow("shape add") << pb::ACTION_SHAPE_ADD;
    QTest::newRow("shape edit") << pb::ACTION_SHAPE_EDIT;
    QTest::newRow("shape delete") << pb::ACTION_SHAPE_DELETE;
    QTest::newRow("transform") << pb::ACTION_TRANSFORM;
    QTest::newRow("arrange") << pb::ACTION_ARRANGE;
}

void TestWallModel::undoRedoEveryKind()
{
    QFETCH(pb::ActionKind, kind);
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    // A wall with something on it, by both authors.
    ACCEPT(s, ana, strokeBegin(1, line(5)));
    ACCEPT(s, ana, strokeEnd(1));
    ACCEPT(s, bo, strokeBegin(1, line(3, {-40, 40})));
    ACCEPT(s, bo, noteAdd(1, 1, 2, "note"));
    ACCEPT(s, bo, shapeAdd(1, shapeData(pb::SHAPE_RECT, 10, 10, 100, 50)));
    const std::uint64_t anaStroke = objectKey(ana, 1), boStroke = objectKey(bo, 1);
    const std::uint64_t note = objectKey(bo, 1), shape = objectKey(bo, 1);

    pb::Op action;
    switch (kind) {
    case pb::ACTION_STROKE: action = strokeBegin(2, line(4, {9, 9})); break;
    case pb::ACTION_ERASE: action = erase({boStroke, anaStroke}); break;
    case pb::ACTION_NOTE_ADD: action = noteAdd(2, 5, 6, "new"); break;
    case pb::ACTION_NOTE_EDIT: action = noteEdit(note, "edited"); break;
    case pb::ACTION_NOTE_MOVE: action = noteMove(note, 50, -60); break;
    case pb::ACTION_NOTE_DELETE: action = noteDelete(note); break;
    case pb::ACTION_NOTE_STYLE: action = noteStyle(note, 0x2d9cdb, 320, 240); break;
    case pb::ACTION_SHAPE_ADD: action = shapeAdd(2, shapeData(pb::SHAPE_ARROW, 0, 0, -30, 40)); break;
    case pb::ACTION_SHAPE_EDIT:
        action = shapeEdit(shape, shapeData(pb::SHAPE_ELLIPSE, 20, 30, 80, 80, 0xeb5757, 6, 0x802d9cdb));
        break;
    case pb::ACTION_SHAPE_DELETE: action = shapeDelete(shape); break;
    case pb::ACTION_TRANSFORM: action = transform({{anaStroke}, {note}, {}, {shape}}, -20.5f, 33.1f); break;
    case pb::ACTION_ARRANGE: action = arrange({{anaStroke}, {note}, {}, {shape}}, true); break;
    default: QFAIL("no such kind");
    }

    const QString before = visibleState(s.model);
    ACCEPT(s, ana, action);
    const std::uint64_t opId = s.lastOpId[ana];
    const QString after = visibleState(s.model);
    QVERIFY2(after != before, qPrintable(after));
    QCOMPARE(s.model.action(ana, opId)->kind, kind);

    QCOMPARE(s.model.check(redo(opId), ana).value_or(scrawl::Problem{}).code, pb::INVALID_OP);
    ACCEPT(s, ana, undo(opId));
    QCOMPARE(visibleState(s.model), before);
    QVERIFY(s.model.action(ana, opId)->undone);
    QCOMPARE(s.model.check(undo(opId), ana).value_or(scrawl::Problem{}).code, pb::INVALID_OP);

    ACCEPT(s, ana, redo(opId));
    QCOMPARE(visibleState(s.model), after);
    QVERIFY(!s.model.action(ana, opId)->undone);

    ACCEPT(s, ana, undo(opId));
    QCOMPARE(visibleState(s.model), before);
}

void TestWallModel::clearEmptiesTheWall()
{
    Server s;
    ACCEPT(s, 1, strokeBegin(1, line(10)));
    ACCEPT(s, 2, noteAdd(1, 0, 0, "x"));
    const std::uint64_t strokeOp = 1;
    ACCEPT(s, 1, clear());
    QVERIFY(s.model.strokes().empty());
    QVERIFY(s.model.notes().empty());
    QCOMPARE(s.model.totalPoints(), 0u);
    QVERIFY(!s.model.actions(1));
    QVERIFY(!s.model.actions(2));
    QVERIFY(!s.model.stroke(objectKey(1, 1)));
    QCOMPARE(s.model.seq(), 3u);
    // Nothing from before the clear can be undone, and ids can be used again.
    QCOMPARE(s.model.check(undo(strokeOp), 1).value_or(scrawl::Problem{}).code, pb::INVALID_OP);
    ACCEPT(s, 1, strokeBegin(1, line(2)));
    QCOMPARE(s.model.totalPoints(), 2u);

    pb::Op op = clear();
    op.set_seq(100);
    const WallModel::Change change = s.model.apply(op);
    QVERIFY(change.cleared);
    pb::WallSnapshot empty;
    empty.set_seq(100);
    QCOMPARE(snapshotBytes(s.model), empty.SerializeAsString());
}

void TestWallModel::chatChangesNothingButSeq()
{
    Server s;
    ACCEPT(s, 1, strokeBegin(1, line(3)));
    ACCEPT(s, 1, noteAdd(1, 0, 0, "n"));
    pb::WallSnapshot before = s.model.snapshot();
    pb::Op op = chat("hello");
    op.set_seq(3);
    op.set_author(1);
    op.set_client_op_id(3);
    const WallModel::Change change = s.model.apply(op);
    QVERIFY(!change.cleared && change.strokes.empty() && change.notes.empty());
    QCOMPARE(s.model.seq(), 3u);
    before.set_seq(3);
    QCOMPARE(snapshotBytes(s.model), before.SerializeAsString());
    QVERIFY(!s.model.action(1, 3)); // chat is not undoable
}

void TestWallModel::applyIgnoresOldSeq()
{
    WallModel model;
    pb::Op zero = strokeBegin(1, line(2));
    zero.set_author(1);
    model.apply(zero); // seq 0 is "not sequenced": never applied
    QCOMPARE(model.seq(), 0u);
    QVERIFY(model.strokes().empty());

    pb::Op first = zero;
    first.set_seq(5);
    model.apply(first);
    QCOMPARE(model.seq(), 5u);
    const std::string after5 = snapshotBytes(model);

    for (std::uint64_t old : {5u, 4u, 1u}) {
        pb::Op replay = strokeBegin(2, line(3));
        replay.set_author(1);
        replay.set_seq(old);
        const WallModel::Change change = model.apply(replay);
        QVERIFY(change.strokes.empty());
        pb::Op c = clear();
        c.set_seq(old);
        QVERIFY(!model.apply(c).cleared);
    }
    QCOMPARE(snapshotBytes(model), after5);
    QCOMPARE(model.seq(), 5u);

    // A gap is not refused: the server's sequence is the order, whatever it skips.
    pb::Op later = strokeBegin(2, line(3));
    later.set_author(1);
    later.set_seq(9);
    model.apply(later);
    QCOMPARE(model.seq(), 9u);
    QVERIFY(model.stroke(objectKey(1, 2)));
}

// Ops that do not fit (a server bug, a hostile server) leave the wall as it was, bar the seq.
void TestWallModel::applyIgnoresMisfits_data()
{
    QTest::addColumn<pb::Op>("op");
    QTest::addColumn<quint64>("author");

    // The base wall (see applyIgnoresMisfits): author 1 has stroke 1 (closed) and stroke 2 (open,
    // 3 points), note 1 deleted.
    QTest::newRow("duplicate stroke begin") << strokeBegin(1, line(5)) << quint64(1);
    QTest::newRow("points to closed stroke") << strokePoints(1, line(2), {}) << quint64(1);
    QTest::newRow("points to another's stroke") << strokePoints(2, line(2), {}) << quint64(2);
    QTest::newRow("points to unknown stroke") << strokePoints(9, line(2), {}) << quint64(1);
    QTest::newRow("odd points") << strokePointsRaw(2, {1, 2, 3}) << quint64(1);
    QTest::newRow("points outside the wall") << strokePointsRaw(2, {kMaxFixed, 0}) << quint64(1);
    QTest::newRow("end of another's stroke") << strokeEnd(2) << quint64(2);
    QTest::newRow("erase of unknown") << erase({objectKey(3, 3)}) << quint64(1);
    QTest::newRow("duplicate note") << noteAdd(1, 0, 0, "again") << quint64(1);
    QTest::newRow("undo unknown") << undo(999) << quint64(1);
    QTest::newRow("undo of another's op") << undo(1) << quint64(2);
    QTest::newRow("redo not undone") << redo(1) << quint64(1);
    QTest::newRow("edit unknown note") << noteEdit(objectKey(1, 7), "x") << quint64(1);
    QTest::newRow("move unknown note") << noteMove(objectKey(1, 7), 1, 1) << quint64(1);
    QTest::newRow("delete deleted note") << noteDelete(objectKey(1, 1)) << quint64(1);
    QTest::newRow("empty op") << pb::Op() << quint64(1);
}

void TestWallModel::applyIgnoresMisfits()
{
    QFETCH(pb::Op, op);
    QFETCH(quint64, author);
    Server s;
    ACCEPT(s, 1, strokeBegin(1, line(2)));
    ACCEPT(s, 1, strokeEnd(1));
    ACCEPT(s, 1, strokeBegin(2, line(3)));
    ACCEPT(s, 1, noteAdd(1, 0, 0, "n"));
    ACCEPT(s, 1, noteDelete(objectKey(1, 1)));
    pb::WallSnapshot before = s.model.snapshot();

    op.set_seq(s.model.seq() + 1);
    op.set_author(author);
    op.set_client_op_id(100);
    const WallModel::Change change = s.model.apply(op);
    QVERIFY(change.strokes.empty() && change.notes.empty() && !change.cleared);
    before.set_seq(op.seq());
    QCOMPARE(snapshotBytes(s.model), before.SerializeAsString());
}

// ---- check(): every refusal with its code and, for limits, the limit's name.

void TestWallModel::check_data()
{
    QTest::addColumn<pb::Op>("op");
    QTest::addColumn<quint64>("author");
    QTest::addColumn<pb::ErrorCode>("code"); // ERROR_UNSPECIFIED: accepted
    QTest::addColumn<QString>("limit");      // for LIMIT_EXCEEDED and WALL_FULL

    // The base wall (see check()): author 1 made, in this order (client op ids 1..7):
    //   1 stroke 1 begin (3 points), 2 stroke 1 end, 3 stroke 2 begin (open, 3 points),
    //   4 note 1 add, 5 note 2 add, 6 note 2 delete, 7 undo of 5 (note 2 add).
    // Author 2 has stroke 1 (open).
    const quint64 ana = 1, bo = 2;
    const auto ok = pb::ERROR_UNSPECIFIED;
    const auto invalid = pb::INVALID_OP;
    const auto limit = pb::LIMIT_EXCEEDED;
    const auto text = pb::INVALID_TEXT;
    const QString none;
    const QString batch = QString::fromLatin1(limits::kMaxPointsPerBatchName);
    const QString width = QString::fromLatin1(limits::kStrokeWidthName);
    const QString coord = QString::fromLatin1(limits::kMaxCoordinateName);
    const QString chatChars = QString::fromLatin1(limits::kMaxChatCharsName);
    const QString noteChars = QString::fromLatin1(limits::kMaxNoteCharsName);
    const QString eraseKeys = QString::fromLatin1(limits::kMaxEraseStrokesName);
    const float maxCoord = float(limits::kMaxCoordinate); // 1e7: exact in float
    const float pastMax = std::nextafter(maxCoord, kInf);
    const int maxBatch = limits::kMaxPointsPerBatch;
    const std::uint64_t anaStroke1 = objectKey(ana, 1), anaStroke2 = objectKey(ana, 2);
    const std::uint64_t anaNote1 = objectKey(ana, 1), anaNote2 = objectKey(ana, 2);
    const FixedPoint stroke2Last = line(3).back();
    const scrawl::StrokeTail stroke2Tail = scrawl::tailOf(line(3));

    QTest::newRow("empty op") << pb::Op() << ana << pb::PROTOCOL << none;

    // Chat (multiline, not empty).
    QTest::newRow("chat") << chat("hi") << ana << ok << none;
    QTest::newRow("chat multiline") << chat("one\ntwo\tthree") << ana << ok << none;
    QTest::newRow("chat at limit") << chat(std::string(limits::kMaxChatChars, 'c')) << ana << ok
                                   << none;
    QTest::newRow("chat too long") << chat(std::string(limits::kMaxChatChars + 1, 'c')) << ana
                                   << limit << chatChars;
    QTest::newRow("chat at limit, 2-byte chars")
        << chat(QByteArray("\xc3\xa9").repeated(limits::kMaxChatChars).toStdString()) << ana << ok
        << none;
    QTest::newRow("chat empty") << chat("") << ana << text << none;
    QTest::newRow("chat whitespace") << chat(" \n\t ") << ana << text << none;
    QTest::newRow("chat invalid UTF-8 C3 28") << chat("\xc3\x28") << ana << text << none;
    QTest::newRow("chat invalid UTF-8 FF") << chat("ok \xff") << ana << text << none;
    QTest::newRow("chat control character") << chat("ding\x07") << ana << text << none;

    // Stroke begin.
    QTest::newRow("begin") << strokeBegin(3) << ana << ok << none;
    QTest::newRow("begin, full batch") << strokeBegin(3, line(maxBatch)) << ana << ok << none;
    QTest::newRow("begin, batch + 1") << strokeBegin(3, line(maxBatch + 1)) << ana << limit
                                      << batch;
    QTest::newRow("begin, duplicate id") << strokeBegin(1) << ana << invalid << none;
    QTest::newRow("begin, duplicate of open stroke") << strokeBegin(2) << ana << invalid << none;
    QTest::newRow("begin, same id as another author's") << strokeBegin(1) << quint64(3) << ok
                                                        << none;
    QTest::newRow("width min") << strokeBegin(3, {}, limits::kMinStrokeWidth) << ana << ok << none;
    QTest::newRow("width max") << strokeBegin(3, {}, limits::kMaxStrokeWidth) << ana << ok << none;
    QTest::newRow("width below min")
        << strokeBegin(3, {}, std::nextafter(limits::kMinStrokeWidth, 0.0f)) << ana << limit
        << width;
    QTest::newRow("width above max")
        << strokeBegin(3, {}, std::nextafter(limits::kMaxStrokeWidth, kInf)) << ana << limit
        << width;
    QTest::newRow("width zero") << strokeBegin(3, {}, 0.0f) << ana << limit << width;
    QTest::newRow("width negative") << strokeBegin(3, {}, -2.0f) << ana << limit << width;
    QTest::newRow("width NaN") << strokeBegin(3, {}, kNaN) << ana << limit << width;
    QTest::newRow("width inf") << strokeBegin(3, {}, kInf) << ana << limit << width;
    QTest::newRow("begin, point at max")
        << strokeBegin(3, {{kMaxFixed, -kMaxFixed}}) << ana << ok << none;
    QTest::newRow("begin, odd numbers") << [] {
        pb::Op op = strokeBegin(3, line(2));
        op.mutable_stroke_begin()->add_points(1);
        return op;
    }() << ana << invalid << none;
    // A point beyond max_coordinate exceeds a limit: LIMIT_EXCEEDED naming it, as for notes.
    QTest::newRow("begin, point past max")
        << strokeBegin(3, {{kMaxFixed + 1, 0}}) << ana << limit << coord;

    // Stroke points.
    QTest::newRow("points") << strokePoints(2, line(5, {10, 10}), stroke2Tail) << ana << ok << none;
    QTest::newRow("points, full batch")
        << strokePoints(2, line(maxBatch), stroke2Tail) << ana << ok << none;
    QTest::newRow("points, batch + 1")
        << strokePoints(2, line(maxBatch + 1), stroke2Tail) << ana << limit << batch;
    QTest::newRow("points, 2049 numbers") << strokePointsRaw(2, std::vector<std::int32_t>(2049, 1))
                                          << ana << invalid << none;
    QTest::newRow("points, odd") << strokePointsRaw(2, {1}) << ana << invalid << none;
    QTest::newRow("points, to another's stroke")
        << strokePoints(2, line(2), {}) << bo << pb::NOT_OWNER << none;
    QTest::newRow("points, to another's open stroke by its id")
        << strokePoints(1, line(2), {}) << quint64(3) << pb::NOT_OWNER << none;
    QTest::newRow("points, to unknown stroke")
        << strokePoints(9, line(2), {}) << ana << pb::NOT_OWNER << none;
    QTest::newRow("points, after end") << strokePoints(1, line(2), {}) << ana << invalid << none;
    QTest::newRow("points, up to max from last point")
        << strokePointsRaw(2, {kMaxFixed - stroke2Last.x, 0}) << ana << ok << none;
    QTest::newRow("points, past max from last point")
        << strokePointsRaw(2, {kMaxFixed - stroke2Last.x + 1, 0}) << ana << limit << coord;

    // Stroke end.
    QTest::newRow("end") << strokeEnd(2) << ana << ok << none;
    QTest::newRow("end, twice") << strokeEnd(1) << ana << invalid << none;
    QTest::newRow("end, another's stroke") << strokeEnd(2) << bo << pb::NOT_OWNER << none;

    // Erase: anyone may erase any stroke on the wall.
    QTest::newRow("erase") << erase({anaStroke1}) << ana << ok << none;
    QTest::newRow("erase, another's strokes") << erase({anaStroke1, anaStroke2}) << bo << ok << none;
    QTest::newRow("erase, no keys") << erase({}) << ana << invalid << none;
    QTest::newRow("erase, unknown key") << erase({anaStroke1, objectKey(ana, 99)}) << ana
                                        << invalid << none;
    QTest::newRow("erase, max keys")
        << erase(std::vector<std::uint64_t>(limits::kMaxEraseStrokes, anaStroke1)) << ana << ok
        << none;
    QTest::newRow("erase, max keys + 1")
        << erase(std::vector<std::uint64_t>(limits::kMaxEraseStrokes + 1, anaStroke1)) << ana
        << limit << eraseKeys;

    // Note add.
    QTest::newRow("note add") << noteAdd(3, 1.5f, -2.5f, "text") << ana << ok << none;
    QTest::newRow("note add, empty text") << noteAdd(3, 0, 0, "") << ana << ok << none;
    QTest::newRow("note add, multiline") << noteAdd(3, 0, 0, "a\nb\tc") << ana << ok << none;
    QTest::newRow("note add, duplicate id") << noteAdd(1, 0, 0, "x") << ana << invalid << none;
    QTest::newRow("note add, id of a deleted note") << noteAdd(2, 0, 0, "x") << ana << invalid
                                                    << none;
    QTest::newRow("note add, at max") << noteAdd(3, maxCoord, -maxCoord, "x") << ana << ok << none;
    QTest::newRow("note add, x past max") << noteAdd(3, pastMax, 0, "x") << ana << limit << coord;
    QTest::newRow("note add, y past -max") << noteAdd(3, 0, -pastMax, "x") << ana << limit
                                           << coord;
    QTest::newRow("note add, x NaN") << noteAdd(3, kNaN, 0, "x") << ana << invalid << none;
    QTest::newRow("note add, y inf") << noteAdd(3, 0, kInf, "x") << ana << invalid << none;
    QTest::newRow("note add, x -inf") << noteAdd(3, -kInf, 0, "x") << ana << invalid << none;
    QTest::newRow("note add, text at limit")
        << noteAdd(3, 0, 0, std::string(limits::kMaxNoteChars, 'n')) << ana << ok << none;
    QTest::newRow("note add, text too long")
        << noteAdd(3, 0, 0, std::string(limits::kMaxNoteChars + 1, 'n')) << ana << limit
        << noteChars;
    QTest::newRow("note add, invalid UTF-8") << noteAdd(3, 0, 0, "\xff") << ana << text << none;
    {
        const QString side = QString::fromLatin1(limits::kNoteSideName);
        const std::uint64_t note1 = objectKey(ana, 1);
        pb::Op sized = noteAdd(3, 0, 0, "x");
        sized.mutable_note_add()->set_width(limits::kMinNoteSide);
        sized.mutable_note_add()->set_height(limits::kMaxNoteSide);
        QTest::newRow("note add, size at the limits") << sized << ana << ok << none;
        sized.mutable_note_add()->set_width(limits::kMinNoteSide - 1);
        QTest::newRow("note add, too narrow") << sized << ana << limit << side;
        QTest::newRow("note style") << noteStyle(note1, 0xeb5757, 300, 0) << ana << ok << none;
        QTest::newRow("note style, others' note (the server checks roles)")
            << noteStyle(note1, 0xeb5757, 0, 0) << bo << ok << none;
        QTest::newRow("note style, too tall")
            << noteStyle(note1, 0, 0, limits::kMaxNoteSide + 1) << ana << limit << side;
        QTest::newRow("note style, NaN width") << noteStyle(note1, 0, kNaN, 0) << ana << limit << side;
        QTest::newRow("note style, negative") << noteStyle(note1, 0, -100, 0) << ana << limit << side;
        QTest::newRow("note style, deleted note")
            << noteStyle(objectKey(ana, 2), 0, 0, 0) << ana << invalid << none;
        QTest::newRow("note style, no such note")
            << noteStyle(objectKey(ana, 99), 0, 0, 0) << ana << invalid << none;
    }
    QTest::newRow("note add, control character") << noteAdd(3, 0, 0, "a\x1b") << ana << text
                                                 << none;

    // Note edit / move / delete: anyone's visible note.
    QTest::newRow("note edit") << noteEdit(anaNote1, "new") << bo << ok << none;
    QTest::newRow("note edit, to empty") << noteEdit(anaNote1, "") << ana << ok << none;
    QTest::newRow("note edit, text at limit")
        << noteEdit(anaNote1, std::string(limits::kMaxNoteChars, 'n')) << ana << ok << none;
    QTest::newRow("note edit, text too long")
        << noteEdit(anaNote1, std::string(limits::kMaxNoteChars + 1, 'n')) << ana << limit
        << noteChars;
    QTest::newRow("note edit, invalid UTF-8") << noteEdit(anaNote1, "\xc3\x28") << ana << text
                                              << none;
    QTest::newRow("note edit, deleted note") << noteEdit(anaNote2, "x") << ana << invalid << none;
    QTest::newRow("note edit, unknown note") << noteEdit(objectKey(ana, 9), "x") << ana << invalid
                                             << none;
    QTest::newRow("note move") << noteMove(anaNote1, -maxCoord, maxCoord) << bo << ok << none;
    QTest::newRow("note move, past max") << noteMove(anaNote1, 0, pastMax) << ana << limit
                                         << coord;
    QTest::newRow("note move, NaN") << noteMove(anaNote1, kNaN, kNaN) << ana << invalid << none;
    QTest::newRow("note move, inf") << noteMove(anaNote1, kInf, 0) << ana << invalid << none;
    QTest::newRow("note move, deleted note") << noteMove(anaNote2, 1, 1) << ana << invalid << none;
    QTest::newRow("note delete") << noteDelete(anaNote1) << bo << ok << none;
    QTest::newRow("note delete, deleted note") << noteDelete(anaNote2) << ana << invalid << none;
    QTest::newRow("note delete, unknown note") << noteDelete(objectKey(ana, 9)) << ana << invalid
                                               << none;

    // Undo / redo of one's own actions, by client op id.
    QTest::newRow("undo stroke") << undo(1) << ana << ok << none;
    QTest::newRow("undo note delete") << undo(6) << ana << ok << none;
    QTest::newRow("undo, unknown op id") << undo(999) << ana << invalid << none;
    QTest::newRow("undo, op that is no action (stroke end)") << undo(2) << ana << invalid << none;
    QTest::newRow("undo, op that is no action (undo)") << undo(7) << ana << invalid << none;
    QTest::newRow("undo, someone else's op") << undo(4) << bo << invalid << none;
    QTest::newRow("undo, already undone") << undo(5) << ana << invalid << none;
    QTest::newRow("redo") << redo(5) << ana << ok << none;
    QTest::newRow("redo, without undo") << redo(4) << ana << invalid << none;
    QTest::newRow("redo, unknown op id") << redo(999) << ana << invalid << none;
    QTest::newRow("redo, someone else's undone op") << redo(5) << bo << invalid << none;

    // Shapes and text.
    const QString fontSize = QString::fromLatin1(limits::kFontSizeName);
    const QString textChars = QString::fromLatin1(limits::kMaxTextCharsName);
    QTest::newRow("shape add") << shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, 10, 10)) << ana << ok << none;
    QTest::newRow("shape add, filled without outline")
        << shapeAdd(1, shapeData(pb::SHAPE_ELLIPSE, 0, 0, 10, 10, 0, 0, 0xff00ff00)) << ana << ok << none;
    QTest::newRow("shape add, no outline and no fill")
        << shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, 10, 10, 0, 0, 0)) << ana << invalid << none;
    QTest::newRow("shape add, no shape") << [] { pb::Op op; op.mutable_shape_add()->set_id(1); return op; }()
                                         << ana << invalid << none;
    QTest::newRow("shape add, kind none") << shapeAdd(1, shapeData(pb::SHAPE_NONE, 0, 0, 1, 1)) << ana
                                          << invalid << none;
    QTest::newRow("shape add, unknown kind")
        << shapeAdd(1, shapeData(pb::ShapeKind(99), 0, 0, 1, 1)) << ana << invalid << none;
    QTest::newRow("shape add, negative box")
        << shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, -10, 10)) << ana << invalid << none;
    QTest::newRow("shape add, line drawn backwards")
        << shapeAdd(1, shapeData(pb::SHAPE_LINE, 0, 0, -10, -10)) << ana << ok << none;
    QTest::newRow("shape add, NaN corner")
        << shapeAdd(1, shapeData(pb::SHAPE_RECT, std::nanf(""), 0, 10, 10)) << ana << invalid << none;
    QTest::newRow("shape add, infinite width")
        << shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, INFINITY, 10)) << ana << invalid << none;
    QTest::newRow("shape add, far corner off the wall")
        << shapeAdd(1, shapeData(pb::SHAPE_RECT, 9e6f, 0, 2e6f, 10)) << ana << limit << coord;
    QTest::newRow("shape add, line too wide")
        << shapeAdd(1, shapeData(pb::SHAPE_LINE, 0, 0, 10, 10, 0, 501)) << ana << invalid << none;
    QTest::newRow("shape add, text on a rectangle")
        << shapeAdd(1, [&] { auto sh = shapeData(pb::SHAPE_RECT, 0, 0, 10, 10); sh.set_text("hi"); return sh; }())
        << ana << invalid << none;
    QTest::newRow("shape add, key taken")
        << [] { pb::Op op = shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, 1, 1)); return op; }() << quint64(3)
        << invalid << none;
    const QString rotation = QString::fromLatin1(limits::kRotationName);
    auto turned = [](pb::Shape sh, float r) { sh.set_rotation(r); return sh; };
    QTest::newRow("shape add, turned") << shapeAdd(1, turned(shapeData(pb::SHAPE_RECT, 0, 0, 10, 10), -3))
                                       << ana << ok << none;
    QTest::newRow("shape add, turned past pi")
        << shapeAdd(1, turned(shapeData(pb::SHAPE_RECT, 0, 0, 10, 10), 3.2f)) << ana << limit << rotation;
    QTest::newRow("shape add, NaN turn")
        << shapeAdd(1, turned(shapeData(pb::SHAPE_RECT, 0, 0, 10, 10), std::nanf(""))) << ana << limit << rotation;
    QTest::newRow("shape add, turned line")
        << shapeAdd(1, turned(shapeData(pb::SHAPE_LINE, 0, 0, 10, 10), 1)) << ana << invalid << none;
    QTest::newRow("shape add, turned off the wall")
        << shapeAdd(1, turned(shapeData(pb::SHAPE_RECT, 9.995e6f, 0, 10, 1e4f), -1.5f)) << ana << limit << coord;
    QTest::newRow("image add, turned") << [] {
        pb::Op op = imageAdd(1, 0, 0, 10, 10);
        op.mutable_image_add()->set_rotation(1);
        return op;
    }() << ana << ok << none;
    QTest::newRow("image add, turned too far") << [] {
        pb::Op op = imageAdd(1, 0, 0, 10, 10);
        op.mutable_image_add()->set_rotation(-7);
        return op;
    }() << ana << limit << rotation;
    QTest::newRow("text") << shapeAdd(1, textData(0, 0, "two\nlines")) << ana << ok << none;
    QTest::newRow("text, font too small") << shapeAdd(1, textData(0, 0, "x", 2)) << ana << limit << fontSize;
    QTest::newRow("text, font too big") << shapeAdd(1, textData(0, 0, "x", 401)) << ana << limit << fontSize;
    QTest::newRow("text, too long")
        << shapeAdd(1, textData(0, 0, std::string(limits::kMaxTextChars + 1, 'a'))) << ana << limit << textChars;
    QTest::newRow("text, bad UTF-8") << shapeAdd(1, textData(0, 0, "\xff\xfe")) << ana << text << none;
    QTest::newRow("shape edit") << shapeEdit(objectKey(3, 1), shapeData(pb::SHAPE_RECT, 5, 5, 1, 1)) << bo
                                << ok << none;
    QTest::newRow("shape edit, unknown shape")
        << shapeEdit(objectKey(3, 9), shapeData(pb::SHAPE_RECT, 5, 5, 1, 1)) << bo << invalid << none;
    QTest::newRow("shape edit, bad shape")
        << shapeEdit(objectKey(3, 1), shapeData(pb::SHAPE_RECT, 5, 5, -1, 1)) << bo << invalid << none;
    QTest::newRow("shape edit, deleted shape")
        << shapeEdit(objectKey(3, 2), shapeData(pb::SHAPE_RECT, 5, 5, 1, 1)) << bo << invalid << none;
    QTest::newRow("shape delete") << shapeDelete(objectKey(3, 1)) << ana << ok << none;

    // Moves and resizes.
    const QString transformScale = QString::fromLatin1(limits::kTransformScaleName);
    const QString transformObjects = QString::fromLatin1(limits::kMaxTransformObjectsName);
    QTest::newRow("transform") << transform({{objectKey(ana, 1)}, {objectKey(ana, 1)}, {}, {objectKey(3, 1)}}, 5, 5)
                               << bo << ok << none;
    QTest::newRow("transform, resize") << transform({{objectKey(ana, 1)}, {}, {}, {}}, 0, 0, 3, 0.5f, 10, 10)
                                       << bo << ok << none;
    QTest::newRow("transform, nothing named") << transform({}, 5, 5) << bo << invalid << none;
    QTest::newRow("transform, open stroke") << transform({{objectKey(ana, 2)}, {}, {}, {}}, 5, 5) << ana
                                            << invalid << none;
    QTest::newRow("transform, deleted note") << transform({{}, {objectKey(ana, 2)}, {}, {}}, 5, 5) << ana
                                             << invalid << none;
    QTest::newRow("transform, deleted shape") << transform({{}, {}, {}, {objectKey(3, 2)}}, 5, 5) << ana
                                              << invalid << none;
    QTest::newRow("transform, a stroke twice")
        << transform({{objectKey(ana, 1), objectKey(ana, 1)}, {}, {}, {}}, 5, 5) << ana << invalid << none;
    QTest::newRow("transform, NaN offset") << transform({{objectKey(ana, 1)}, {}, {}, {}}, std::nanf(""), 5)
                                           << ana << invalid << none;
    QTest::newRow("transform, off the wall") << transform({{objectKey(ana, 1)}, {}, {}, {}}, 1.5e7f, 0)
                                             << ana << limit << coord;
    QTest::newRow("transform, scale 0.001") << transform({{objectKey(ana, 1)}, {}, {}, {}}, 0, 0, 0.001f, 1)
                                            << ana << limit << transformScale;
    QTest::newRow("transform, negative scale") << transform({{objectKey(ana, 1)}, {}, {}, {}}, 0, 0, -1, 1)
                                               << ana << limit << transformScale;
    QTest::newRow("transform, turn") << turn({{objectKey(ana, 1)}, {}, {}, {objectKey(3, 1)}}, -2.5f, 10, 10)
                                     << bo << ok << none;
    QTest::newRow("transform, turn and grow") << turn({{objectKey(ana, 1)}, {}, {}, {}}, 1, 10, 10, 2)
                                              << bo << ok << none;
    QTest::newRow("transform, turn past pi") << turn({{objectKey(ana, 1)}, {}, {}, {}}, 3.5f, 10, 10)
                                             << bo << limit << QString::fromLatin1(limits::kRotationName);
    QTest::newRow("transform, turn and stretch") << [&] {
        pb::Op op = turn({{objectKey(ana, 1)}, {}, {}, {}}, 1, 10, 10, 2);
        op.mutable_transform()->set_scale_y(3);
        return op;
    }() << bo << invalid << none;
    QTest::newRow("transform, turned off the wall")
        << turn({{objectKey(ana, 1)}, {}, {}, {}}, 3, 9.99e6f, 0) << bo << limit << coord;
    QTest::newRow("transform, too many") << [] {
        Moved m;
        for (int i = 0; i <= limits::kMaxTransformObjects; ++i)
            m.strokes.push_back(objectKey(1, std::uint32_t(1000 + i)));
        return transform(m, 1, 1);
    }() << ana << limit << transformObjects;
    QTest::newRow("shape delete, deleted shape") << shapeDelete(objectKey(3, 2)) << ana << invalid << none;

    QTest::newRow("clear") << clear() << bo << ok << none;
}

void TestWallModel::check()
{
    QFETCH(pb::Op, op);
    QFETCH(quint64, author);
    QFETCH(pb::ErrorCode, code);
    QFETCH(QString, limit);

    Server s;
    const std::uint64_t ana = 1;
    ACCEPT(s, ana, strokeBegin(1, line(3)));  // 1
    ACCEPT(s, ana, strokeEnd(1));             // 2
    ACCEPT(s, ana, strokeBegin(2, line(3)));  // 3
    ACCEPT(s, ana, noteAdd(1, 0, 0, "one"));  // 4
    ACCEPT(s, ana, noteAdd(2, 0, 0, "two"));  // 5
    ACCEPT(s, ana, noteDelete(objectKey(ana, 2))); // 6
    ACCEPT(s, ana, undo(5));                  // 7
    ACCEPT(s, 2, strokeBegin(1, line(2)));
    QCOMPARE(s.lastOpId[ana], 7u);
    // Author 3 has shape 1, and shape 2 deleted.
    ACCEPT(s, 3, shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, 5, 5)));
    ACCEPT(s, 3, shapeAdd(2, shapeData(pb::SHAPE_LINE, 0, 0, 5, 5)));
    ACCEPT(s, 3, shapeDelete(objectKey(3, 2)));

    const std::optional<scrawl::Problem> problem = s.model.check(op, author);
    QCOMPARE(problem.value_or(scrawl::Problem{pb::ERROR_UNSPECIFIED, {}, {}}).code, code);
    if (!problem)
        return;
    QVERIFY2(!problem->message.isEmpty(), "a refusal says what happened");
    QCOMPARE(problem->limit, limit);
    if (!limit.isEmpty())
        QVERIFY2(problem->message.contains(limit), qPrintable(problem->message));
}

void TestWallModel::checkChangesNothing()
{
    // check() is a question: asking it, accepted or refused, leaves the wall alone.
    Server s;
    ACCEPT(s, 1, strokeBegin(1, line(3)));
    ACCEPT(s, 1, noteAdd(1, 0, 0, "n"));
    const std::string before = snapshotBytes(s.model);
    for (const pb::Op &op : {strokeBegin(2, line(5)), strokePoints(1, line(2), {}), strokeEnd(1),
                             erase({objectKey(1, 1)}), noteAdd(2, 1, 1, "x"),
                             noteEdit(objectKey(1, 1), "y"), noteMove(objectKey(1, 1), 4, 4),
                             noteDelete(objectKey(1, 1)), undo(1), redo(1), clear(), chat("c"),
                             strokeBegin(1, line(2))}) {
        (void)s.model.check(op, 1);
        QCOMPARE(snapshotBytes(s.model), before);
    }
}

void TestWallModel::pointsPerStrokeLimit()
{
    Server s;
    const QString name = QString::fromLatin1(limits::kMaxPointsPerStrokeName);
    const int batch = limits::kMaxPointsPerBatch;
    ACCEPT(s, 1, strokeBegin(1, line(batch)));
    FixedPoint last = line(batch).back();
    int points = batch;
    // Full batches, then one that lands exactly on the limit.
    while (points < limits::kMaxPointsPerStroke) {
        const int n = std::min(batch, limits::kMaxPointsPerStroke - points);
        const Points more(size_t(n), FixedPoint{last.x, last.y + 1});
        ACCEPT(s, 1, strokePoints(1, more, scrawl::tailOf(s.model.stroke(objectKey(1, 1))->points)));
        last = more.back();
        points += n;
    }
    QCOMPARE(s.model.stroke(objectKey(1, 1))->points.size(), size_t(limits::kMaxPointsPerStroke));
    QCOMPARE(s.model.totalPoints(), std::uint64_t(limits::kMaxPointsPerStroke));

    const scrawl::StrokeTail tail = scrawl::tailOf(s.model.stroke(objectKey(1, 1))->points);
    const auto problem = s.model.check(strokePoints(1, {last}, tail), 1);
    QVERIFY(problem);
    QCOMPARE(problem->code, pb::LIMIT_EXCEEDED);
    QCOMPARE(problem->limit, name);
    QVERIFY2(problem->message.contains(name), qPrintable(problem->message));
    // An empty batch adds nothing and still fits; a new stroke starts afresh.
    QVERIFY(!s.model.check(strokePoints(1, {}, tail), 1));
    QVERIFY(!s.model.check(strokeBegin(2, line(batch)), 1));

    // One short of the limit, two more points do not fit either.
    Server t;
    ACCEPT(t, 1, strokeBegin(1, {}));
    for (int i = 0; i < 19; ++i)
        ACCEPT(t, 1, strokePoints(1, Points(size_t(batch), FixedPoint{}), {}));
    ACCEPT(t, 1, strokePoints(1, Points(size_t(limits::kMaxPointsPerStroke - 19 * batch - 1),
                                        FixedPoint{}), {}));
    QCOMPARE(t.model.stroke(objectKey(1, 1))->points.size(),
             size_t(limits::kMaxPointsPerStroke - 1));
    QCOMPARE(t.model.check(strokePoints(1, Points(2, FixedPoint{}), {}), 1)
                 .value_or(scrawl::Problem{}).limit, name);
    QVERIFY(!t.model.check(strokePoints(1, Points(1, FixedPoint{}), {}), 1));
    // kMaxWallPoints (50 million) is not reached here: it would take ~400 MB of points. Its
    // check sits in the same function as this one (checkStrokePointTotals) and is left to the
    // server's load tests.
}

void TestWallModel::wallFullOfObjects()
{
    // kMaxWallObjects strokes and notes: applied directly (as a client applies a server's ops),
    // which is fast enough for a unit test.
    QElapsedTimer timer;
    timer.start();
    WallModel model;
    pb::Op op = strokeBegin(0, {});
    op.set_author(1);
    const std::uint32_t strokes = limits::kMaxWallObjects - 2;
    for (std::uint32_t i = 1; i <= strokes; ++i) {
        op.set_seq(i);
        op.set_client_op_id(i);
        op.mutable_stroke_begin()->set_id(i);
        model.apply(op);
    }
    pb::Op note = noteAdd(1, 0, 0, "almost full");
    note.set_author(2);
    note.set_seq(strokes + 1);
    model.apply(note);
    QCOMPARE(model.strokes().size() + model.notes().size(), size_t(limits::kMaxWallObjects - 1));
    QVERIFY(!model.isFull());
    // One more object fits...
    QVERIFY(!model.check(strokeBegin(1), 3));
    QVERIFY(!model.check(noteAdd(1, 0, 0, "x"), 3));
    pb::Op last = noteAdd(2, 0, 0, "last");
    last.set_author(2);
    last.set_seq(strokes + 2);
    model.apply(last);
    QVERIFY(model.isFull());

    // ...and then the wall is full: no new strokes or notes, but everything else still works.
    const QString name = QString::fromLatin1(limits::kMaxWallObjectsName);
    for (const pb::Op &refused : {strokeBegin(1), noteAdd(1, 0, 0, "x")}) {
        const auto problem = model.check(refused, 3);
        QVERIFY(problem);
        QCOMPARE(problem->code, pb::WALL_FULL);
        QCOMPARE(problem->limit, name);
        QVERIFY2(problem->message.contains(name), qPrintable(problem->message));
    }
    QVERIFY(!model.check(chat("still chatting"), 3));
    QVERIFY(!model.check(noteEdit(objectKey(2, 1), "still editing"), 3));
    QVERIFY(!model.check(strokePoints(strokes, line(5), {}), 1));
    QVERIFY(!model.check(erase({objectKey(1, 1)}), 3));
    qInfo("%d objects applied and checked in %lld ms", limits::kMaxWallObjects, timer.elapsed());
}

void TestWallModel::undoDepth_data()
{
    QTest::addColumn<int>("actions");
    QTest::newRow("one") << 1;
    QTest::newRow("depth - 1") << limits::kMaxUndoDepth - 1;
    QTest::newRow("depth") << limits::kMaxUndoDepth;
    QTest::newRow("depth + 1") << limits::kMaxUndoDepth + 1;
    QTest::newRow("depth + 50") << limits::kMaxUndoDepth + 50;
}

void TestWallModel::undoDepth()
{
    QFETCH(int, actions);
    Server s;
    const std::uint64_t ana = 1;
    // Another author's history is kept separately and not pushed out by Ana's.
    ACCEPT(s, 2, strokeBegin(1, line(2)));
    for (int i = 0; i < actions; ++i) {
        ACCEPT(s, ana, i % 2 ? noteAdd(std::uint32_t(i), 0, 0, "n") : strokeBegin(std::uint32_t(i)));
    }
    const int kept = std::min(actions, limits::kMaxUndoDepth);
    const std::uint64_t oldestKept = std::uint64_t(actions - kept + 1);
    QCOMPARE(s.model.actions(ana)->size(), size_t(kept));
    QCOMPARE(s.model.actions(ana)->front().clientOpId, oldestKept);
    QCOMPARE(s.model.actions(ana)->back().clientOpId, std::uint64_t(actions));
    QCOMPARE(s.model.actions(2)->size(), size_t(1));

    for (std::uint64_t gone = 1; gone < oldestKept; ++gone) {
        const auto problem = s.model.check(undo(gone), ana);
        QVERIFY(problem);
        QCOMPARE(problem->code, pb::INVALID_OP);
    }
    ACCEPT(s, ana, undo(oldestKept));
    ACCEPT(s, ana, redo(oldestKept));
    ACCEPT(s, 2, undo(1));

    // The history survives a snapshot with the same depth.
    WallModel loaded;
    QVERIFY(!loaded.load(s.model.snapshot()));
    QCOMPARE(loaded.actions(ana)->size(), size_t(kept));
    QCOMPARE(loaded.actions(ana)->front().clientOpId, oldestKept);
}

// ---- Snapshots

void TestWallModel::snapshotRoundTrip_data()
{
    QTest::addColumn<int>("scenario");
    QTest::newRow("empty wall") << 0;
    QTest::newRow("strokes and notes, all visible") << 1;
    QTest::newRow("erased, undone, deleted, moved, edited") << 2;
    QTest::newRow("erased stroke beyond undo depth") << 3;
    QTest::newRow("deleted note beyond undo depth") << 4;
    QTest::newRow("undone stroke beyond undo depth") << 5;
    QTest::newRow("deleted shape beyond undo depth") << 6;
}

void TestWallModel::snapshotRoundTrip()
{
    QFETCH(int, scenario);
    Server s;
    const std::uint64_t ana = 1, bo = 2;
    auto pushOutHistory = [&] {
        for (std::uint32_t i = 0; i < std::uint32_t(limits::kMaxUndoDepth); ++i)
            ACCEPT(s, ana, strokeBegin(1000 + i, line(1)));
    };
    switch (scenario) {
    case 0:
        break;
    case 1:
        ACCEPT(s, ana, strokeBegin(1, line(5, {-100, 100})));
        ACCEPT(s, ana, strokePoints(1, line(3, {7, 7}), scrawl::tailOf(line(5, {-100, 100}))));
        ACCEPT(s, ana, strokeEnd(1));
        ACCEPT(s, bo, strokeBegin(1, line(2), 0.25f, 0));
        ACCEPT(s, bo, noteAdd(1, -5.5f, 1e7f, "ünï\ncode 🎨"));
        break;
    case 2:
        ACCEPT(s, ana, strokeBegin(1, line(5)));
        ACCEPT(s, ana, strokeBegin(2, line(4)));
        ACCEPT(s, bo, erase({objectKey(ana, 1)}));
        ACCEPT(s, ana, undo(2));
        ACCEPT(s, bo, noteAdd(1, 1, 1, "a"));
        ACCEPT(s, ana, noteEdit(objectKey(bo, 1), "b"));
        ACCEPT(s, ana, noteMove(objectKey(bo, 1), 2, 3));
        ACCEPT(s, bo, noteAdd(2, 1, 1, "gone"));
        ACCEPT(s, bo, noteDelete(objectKey(bo, 2)));
        ACCEPT(s, ana, noteStyle(objectKey(bo, 1), 0x6fcf97, 300, 0));
        ACCEPT(s, bo, noteStyle(objectKey(bo, 1), 0xeb5757, 0, 150));
        ACCEPT(s, bo, undo(s.lastOpId[bo]));
        ACCEPT(s, ana, shapeAdd(1, shapeData(pb::SHAPE_RECT, -4, 5, 40, 30, 0x333333, 2, 0x802d9cdb)));
        ACCEPT(s, bo, shapeEdit(objectKey(ana, 1), shapeData(pb::SHAPE_ELLIPSE, 4, 5, 40, 30)));
        ACCEPT(s, bo, shapeAdd(1, textData(7, 8, "wörds\nhere", 32)));
        ACCEPT(s, bo, shapeAdd(2, shapeData(pb::SHAPE_ARROW, 0, 0, -5, 9)));
        ACCEPT(s, bo, shapeDelete(objectKey(bo, 2)));
        break;
    case 3:
        // Ana's stroke, erased by Ana, then 200 more actions push both out of her history.
        ACCEPT(s, ana, strokeBegin(1, line(10)));
        ACCEPT(s, ana, erase({objectKey(ana, 1)}));
        pushOutHistory();
        break;
    case 4:
        ACCEPT(s, ana, noteAdd(1, 1, 1, "gone"));
        ACCEPT(s, ana, noteDelete(objectKey(ana, 1)));
        pushOutHistory();
        break;
    case 5:
        ACCEPT(s, ana, strokeBegin(1, line(10)));
        ACCEPT(s, ana, undo(1));
        pushOutHistory();
        break;
    case 6:
        ACCEPT(s, ana, shapeAdd(1, shapeData(pb::SHAPE_RECT, 1, 1, 2, 2)));
        ACCEPT(s, ana, shapeDelete(objectKey(ana, 1)));
        pushOutHistory();
        break;
    }

    const pb::WallSnapshot first = s.model.snapshot();
    QCOMPARE(first.seq(), s.model.seq());
    QCOMPARE(first.total_points(), s.model.totalPoints());
    CHECK_SERIALIZED_SNAPSHOT(s.model);

    WallModel loaded;
    const auto problem = loaded.load(first);
    QVERIFY2(!problem, qPrintable(describe(problem)));
    QCOMPARE(loaded.seq(), s.model.seq());
    QCOMPARE(visibleState(loaded), visibleState(s.model));

    // A wall that has been through a snapshot is the same wall, counters included: a server
    // restarted from a snapshot must refuse and accept exactly what the running one would.
    QCOMPARE(loaded.totalPoints(), s.model.totalPoints());
    QCOMPARE(loaded.snapshot().SerializeAsString(), first.SerializeAsString());
    QCOMPARE(loaded.isFull(), s.model.isFull());
    auto answers = [ana](const WallModel &model) {
        QStringList out;
        for (const pb::Op &next : {strokeBegin(1, line(3)), strokePoints(1, line(1), {}),
                                   strokeEnd(1), noteAdd(1, 0, 0, "x"), erase({objectKey(ana, 1)}),
                                   shapeAdd(1, shapeData(pb::SHAPE_RECT, 0, 0, 1, 1))})
            out << QString::fromLatin1(scrawl::opKindName(next)) + u": "_s
                    + describe(model.check(next, ana));
        return out.join(u'\n');
    };
    QCOMPARE(answers(loaded), answers(s.model));
}

void TestWallModel::loadRefusesDamagedSnapshots_data()
{
    QTest::addColumn<int>("damage");
    QTest::newRow("stroke listed twice") << 0;
    QTest::newRow("note listed twice") << 1;
    QTest::newRow("stroke with odd point count (protocol 1)") << 2;
    QTest::newRow("stroke point outside the wall") << 3;
    QTest::newRow("stroke point outside the wall (protocol 1)") << 4;
    QTest::newRow("stroke points in both codes") << 5;
}

void TestWallModel::loadRefusesDamagedSnapshots()
{
    QFETCH(int, damage);
    Server s;
    ACCEPT(s, 1, strokeBegin(1, line(3)));
    ACCEPT(s, 1, noteAdd(1, 0, 0, "n"));
    pb::WallSnapshot snap = s.model.snapshot();
    switch (damage) {
    case 0: *snap.add_strokes() = snap.strokes(0); break;
    case 1: *snap.add_notes() = snap.notes(0); break;
    case 2:
        snap.mutable_strokes(0)->clear_path();
        snap.mutable_strokes(0)->add_points(1);
        break;
    case 3: snap.mutable_strokes(0)->add_path(~std::uint64_t(0)); break;
    case 4:
        snap.mutable_strokes(0)->clear_path();
        snap.mutable_strokes(0)->add_points(kMaxFixed + 1);
        snap.mutable_strokes(0)->add_points(0);
        break;
    case 5: snap.mutable_strokes(0)->add_points(0); break;
    }

    // The model keeps its state when a snapshot is refused.
    WallModel model;
    pb::Op op = strokeBegin(5, line(2));
    op.set_seq(3);
    op.set_author(9);
    model.apply(op);
    const std::string before = snapshotBytes(model);
    const auto problem = model.load(snap);
    QVERIFY(problem);
    QCOMPARE(problem->code, pb::INVALID_OP);
    QVERIFY(!problem->message.isEmpty());
    QCOMPARE(snapshotBytes(model), before);
}

void TestWallModel::wallsStoredByProtocol1StillLoad()
{
    // A snapshot and ops as protocol 1 stored them (x,y deltas in `points`), then a stroke that
    // goes on in today's path code: the same wall as if it had been sent in the path code.
    const Points first = line(6, {30, -20});
    const Points more = line(4, {first.back().x + 5, first.back().y}, {2, 3});
    pb::WallSnapshot old;
    old.set_seq(1);
    pb::SnapStroke *stroke = old.add_strokes();
    stroke->set_key(objectKey(1, 1));
    stroke->set_color(0x3366ff);
    stroke->set_width(2);
    scrawl::encodeDeltas(first, {}, stroke->mutable_points());
    WallModel model;
    const auto problem = model.load(old);
    QVERIFY2(!problem, problem ? qPrintable(problem->message) : "");
    QCOMPARE(model.stroke(objectKey(1, 1))->points, first);

    pb::Op oldOp;
    oldOp.mutable_stroke_points()->set_id(1);
    scrawl::encodeDeltas(more, first.back(), oldOp.mutable_stroke_points()->mutable_points());
    oldOp.set_seq(2);
    oldOp.set_author(1);
    QVERIFY(!model.check(oldOp, 1));
    model.apply(oldOp);
    Points both = first;
    both.insert(both.end(), more.begin(), more.end());
    QCOMPARE(model.stroke(objectKey(1, 1))->points, both);

    const Points last = line(3, {both.back().x - 1, both.back().y + 4}, {-1, 4});
    pb::Op newOp = strokePoints(1, last, scrawl::tailOf(both));
    newOp.set_seq(3);
    newOp.set_author(1);
    QVERIFY(!model.check(newOp, 1));
    model.apply(newOp);
    both.insert(both.end(), last.begin(), last.end());
    QCOMPARE(model.stroke(objectKey(1, 1))->points, both);
    // Its next snapshot is written in the path code only.
    const pb::WallSnapshot again = model.snapshot();
    QCOMPARE(again.strokes(0).points_size(), 0);
    QCOMPARE(again.strokes(0).path_size(), int(both.size()));
}

// ---- Determinism: a seeded random session of several authors, accepted ops only (as a server
// sequences them), applied to independent models.

namespace {

struct Generator
{
    std::mt19937_64 rng;
    int authors;
    bool clears;
    std::map<std::uint64_t, std::uint32_t> nextId;

    std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); }
    int coord() { return int(pick(4001)) - 2000; }
    float position() { return float(int(pick(20001)) - 10000) / 4.0f; }
    std::string text()
    {
        static const char *words[] = {"plan", "ünï", "🎨", "to do", "line\nbreak", "", "x"};
        return words[pick(std::size(words))];
    }
    Points points(int max)
    {
        Points p;
        const int n = int(pick(std::uint64_t(max) + 1));
        FixedPoint at{coord(), coord()};
        for (int i = 0; i < n; ++i) {
            at = {at.x + int(pick(41)) - 20, at.y + int(pick(41)) - 20};
            p.push_back(at);
        }
        return p;
    }

    // A plausible op for `author` on `model`; the server decides whether it fits.
    pb::Op next(const WallModel &model, std::uint64_t author)
    {
        const auto &strokes = model.strokes();
        const auto &notes = model.notes();
        const auto *actions = model.actions(author);
        const std::uint64_t r = pick(100);
        if (r < 18)
            return strokeBegin(nextId[author]++ + 1, points(12), 0.5f + float(pick(40)),
                               std::uint32_t(pick(0x1000000)));
        if (r < 38) {
            // Points to one of the author's strokes, usually an open one.
            for (auto it = strokes.rbegin(); it != strokes.rend(); ++it) {
                if (scrawl::keyAuthor(it->key) == author && (!it->closed || pick(10) == 0)) {
                    const Points more = points(8);
                    return strokePoints(std::uint32_t(it->key), more, scrawl::tailOf(it->points));
                }
            }
            return chat("nothing to draw on");
        }
        if (r < 48) {
            for (auto it = strokes.rbegin(); it != strokes.rend(); ++it) {
                if (scrawl::keyAuthor(it->key) == author && !it->closed)
                    return strokeEnd(std::uint32_t(it->key));
            }
            return chat("nothing to end");
        }
        if (r < 55 && !strokes.empty()) {
            std::vector<std::uint64_t> keys;
            for (std::uint64_t n = 1 + pick(3); n > 0; --n)
                keys.push_back(strokes[pick(strokes.size())].key);
            return erase(keys);
        }
        if (r < 62)
            return noteAdd(nextId[author]++ + 1, position(), position(), text(),
                           std::uint32_t(pick(0x1000000)));
        if (r < 75 && !notes.empty()) {
            const auto &n = notes[pick(notes.size())];
            switch (pick(3)) {
            case 0: return noteEdit(n.key, text());
            case 1: return noteMove(n.key, position(), position());
            default: return noteDelete(n.key);
            }
        }
        if (r < 85 && actions && !actions->empty()) {
            // Undo one of the newest actions, or redo an undone one.
            const auto &a = (*actions)[actions->size() - 1 - pick(std::min<size_t>(5, actions->size()))];
            return a.undone ? redo(a.clientOpId) : undo(a.clientOpId);
        }
        if (r == 99 && clears && pick(3) == 0)
            return clear();
        return chat(text().empty() ? "hello" : text());
    }
};

} // namespace

void TestWallModel::determinism_data()
{
    QTest::addColumn<quint64>("seed");
    QTest::addColumn<int>("authors");
    QTest::addColumn<int>("ops");
    QTest::addColumn<bool>("clears");
    QTest::addColumn<int>("midway"); // seq of the snapshot a late model starts from

    QTest::newRow("two authors, 300 ops") << quint64(1) << 2 << 300 << false << 150;
    QTest::newRow("five authors, 1000 ops") << quint64(2) << 5 << 1000 << false << 600;
    QTest::newRow("with clears") << quint64(3) << 3 << 1500 << true << 700;
    // Over kMaxUndoDepth actions per author: history falls out while objects stay.
    QTest::newRow("three authors, 4000 ops") << quint64(4) << 3 << 4000 << false << 2500;
}

void TestWallModel::determinism()
{
    QFETCH(quint64, seed);
    QFETCH(int, authors);
    QFETCH(int, ops);
    QFETCH(bool, clears);
    QFETCH(int, midway);

    Server server;
    Generator gen{std::mt19937_64(seed), authors, clears, {}};
    pb::WallSnapshot midwaySnapshot;
    int refused = 0;
    for (int attempts = 0; int(server.log.size()) < ops; ++attempts) {
        QVERIFY2(attempts < ops * 20, "the generator proposes too few acceptable ops");
        const std::uint64_t author = 1 + gen.pick(std::uint64_t(authors));
        if (server.submit(author, gen.next(server.model, author)))
            ++refused;
        if (int(server.log.size()) == midway && midwaySnapshot.seq() == 0)
            midwaySnapshot = server.model.snapshot();
    }
    QCOMPARE(midwaySnapshot.seq(), std::uint64_t(midway));
    // The session did exercise the model: things on the wall, history, some refusals.
    QVERIFY(!server.model.strokes().empty() || clears);
    QVERIFY(refused > 0);

    const std::string expected = snapshotBytes(server.model);
    CHECK_SERIALIZED_SNAPSHOT(server.model);

    // Two more models apply the same log: byte-identical snapshots.
    WallModel a, b;
    for (const pb::Op &op : server.log)
        a.apply(op);
    for (const pb::Op &op : server.log)
        b.apply(op);
    QCOMPARE(snapshotBytes(a), expected);
    QCOMPARE(snapshotBytes(b), expected);
    QCOMPARE(visibleState(a), visibleState(server.model));

    // A model that keeps each stroke's snapshot path as it closes (the server's) writes the same
    // bytes, midway and at the end: what happens after a path is kept (erase, undo, clear) must
    // not leave it stale.
    WallModel keeping;
    keeping.setKeepsSnapshotPaths(true);
    for (const pb::Op &op : server.log) {
        keeping.apply(op);
        if (op.seq() == std::uint64_t(midway))
            QCOMPARE(keeping.serializedSnapshot(), QByteArray::fromStdString(midwaySnapshot.SerializeAsString()));
    }
    QCOMPARE(keeping.serializedSnapshot(), QByteArray::fromStdString(expected));

    // Replaying the whole log again (a resume that re-sends old ops) changes nothing.
    for (const pb::Op &op : server.log)
        a.apply(op);
    QCOMPARE(snapshotBytes(a), expected);

    // A late model starts from the midway snapshot (through its bytes) and applies the rest.
    pb::WallSnapshot wire;
    QVERIFY(wire.ParseFromString(midwaySnapshot.SerializeAsString()));
    WallModel late;
    const auto problem = late.load(wire);
    QVERIFY2(!problem, qPrintable(describe(problem)));
    for (const pb::Op &op : server.log) // the ops up to `midway` are ignored by seq
        late.apply(op);
    QCOMPARE(visibleState(late), visibleState(server.model));
    QCOMPARE(withoutTotalPoints(late.snapshot()), withoutTotalPoints(server.model.snapshot()));
    QCOMPARE(late.totalPoints(), server.model.totalPoints());
    QCOMPARE(snapshotBytes(late), expected);
    CHECK_SERIALIZED_SNAPSHOT(late);

    // snapshot -> load -> snapshot is the identity.
    WallModel reloaded;
    QVERIFY(!reloaded.load(server.model.snapshot()));
    QCOMPARE(withoutTotalPoints(reloaded.snapshot()), withoutTotalPoints(server.model.snapshot()));
    QCOMPARE(snapshotBytes(reloaded), expected);
}

QTEST_GUILESS_MAIN(TestWallModel)
#include "tst_wallmodel.moc"

// ---- The timeline (core/wallhistory.h): seeking anywhere, in any order, shows the wall exactly as
// a model that applied the ops up to there has it, from the empty wall or from a snapshot.

void TestWallModel::historyShowsTheWallAfterAnyOp_data()
{
    QTest::addColumn<quint64>("seed");
    QTest::addColumn<int>("ops");
    QTest::addColumn<int>("base"); // the seq history starts from (a snapshot), 0: the empty wall

    QTest::newRow("from the empty wall") << quint64(11) << 6000 << 0;
    QTest::newRow("from a snapshot") << quint64(12) << 6000 << 2500;
}

void TestWallModel::historyShowsTheWallAfterAnyOp()
{
    QFETCH(quint64, seed);
    QFETCH(int, ops);
    QFETCH(int, base);

    Server server;
    Generator gen{std::mt19937_64(seed), 4, true, {}};
    // What a client that applied the ops up to each seq has: its snapshot.
    std::vector<std::string> states{snapshotBytes(server.model)};
    pb::WallSnapshot baseSnapshot = server.model.snapshot();
    for (int attempts = 0; int(server.log.size()) < ops; ++attempts) {
        QVERIFY2(attempts < ops * 20, "the generator proposes too few acceptable ops");
        const std::uint64_t author = 1 + gen.pick(4);
        if (!server.submit(author, gen.next(server.model, author)) && server.log.size() > states.size() - 1) {
            states.push_back(snapshotBytes(server.model));
            if (int(server.log.size()) == base)
                baseSnapshot = server.model.snapshot();
        }
    }
    QCOMPARE(states.size(), size_t(ops) + 1);

    WallModel start;
    QVERIFY(!start.load(baseSnapshot));
    QCOMPARE(start.seq(), std::uint64_t(base));
    scrawl::WallHistory history;
    history.reset(start);
    pb::Op gap = server.log.back();
    QVERIFY2(!history.append(gap), "an op that is not the next one is refused");
    for (size_t i = size_t(base); i < server.log.size(); ++i)
        QVERIFY(history.append(server.log[i]));
    QCOMPARE(history.firstSeq(), std::uint64_t(base));
    QCOMPARE(history.lastSeq(), std::uint64_t(ops));
    QVERIFY2(history.checkpointCount() > 1, "a long history keeps checkpoints");
    QCOMPARE(history.timeAt(std::uint64_t(ops)), server.log.back().time_ms());

    // Every seq once, in a shuffled order (back and forth, near and far), then the ends.
    std::vector<std::uint64_t> order;
    for (std::uint64_t s = std::uint64_t(base); s <= std::uint64_t(ops); ++s)
        order.push_back(s);
    std::shuffle(order.begin(), order.end(), gen.rng);
    order.push_back(std::uint64_t(base));
    order.push_back(std::uint64_t(ops));
    for (std::uint64_t s : order) {
        const WallModel &shown = history.seek(s);
        QCOMPARE(shown.seq(), s);
        if (snapshotBytes(shown) != states[s])
            QFAIL(qPrintable(u"the wall at seq %1 differs from a client's at that seq"_s.arg(s)));
    }
    // What differs between two states is among what the ops between them changed (what the app
    // redraws on a step of the timeline), whichever way the step goes; a model of the caller's is
    // brought there without a copy of the history's.
    WallModel from, to;
    std::mt19937_64 pairs(seed);
    for (int i = 0; i < 300; ++i) {
        const std::uint64_t a = base + pairs() % std::uint64_t(ops - base + 1);
        const std::uint64_t b = i % 3 == 0 ? std::min<std::uint64_t>(ops, a + pairs() % 40) : base + pairs() % std::uint64_t(ops - base + 1);
        history.seekInto(&from, a);
        history.seekInto(&to, b);
        QCOMPARE(snapshotBytes(from), states[a]);
        QCOMPARE(snapshotBytes(to), states[b]);
        const WallModel::Change change = history.changedBetween(a, b);
        if (change.cleared)
            continue;
        for (const auto &[kind, key] : objectsThatDiffer(from, to)) {
            const std::vector<std::uint64_t> &named = kind == 0 ? change.strokes : kind == 1 ? change.notes
                                                    : kind == 2 ? change.images : change.shapes;
            if (std::find(named.begin(), named.end(), key) == named.end())
                QFAIL(qPrintable(u"object %1 (kind %2) differs between seq %3 and %4 but is not named"_s
                                     .arg(key).arg(kind).arg(a).arg(b)));
        }
    }

    // Outside the range: clamped to its ends.
    QCOMPARE(history.seek(0).seq(), std::uint64_t(base));
    QCOMPARE(history.seek(std::uint64_t(ops) + 50).seq(), std::uint64_t(ops));
    QVERIFY(!history.authorsBetween(std::uint64_t(base), std::uint64_t(ops)).empty());
}
