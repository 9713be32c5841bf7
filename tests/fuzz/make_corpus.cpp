// Writes the seed corpus of the fuzz targets: small valid scripts of every envelope kind, and
// edge cases. Run `fuzz_make_corpus tests/fuzz/corpus` after a protocol change and commit the
// files; the fuzzers (and the corpus replay tests) start from them.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"

#include <google/protobuf/unknown_field_set.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace pb = scrawl::pb;
namespace limits = scrawl::limits;
using scrawl::FixedPoint;

namespace {

// One fuzz_envelope script: records of [actor][length LE16][bytes].
class Script
{
public:
    // repeatBits: fuzz_envelope sends an op 1 + 4 * repeatBits times, with consecutive ids.
    Script &raw(int actor, const std::string &bytes, int repeatBits = 0)
    {
        m_bytes.push_back(char(actor | (repeatBits << 2)));
        m_bytes.push_back(char(bytes.size() & 0xff));
        m_bytes.push_back(char((bytes.size() >> 8) & 0xff));
        m_bytes += bytes;
        return *this;
    }
    Script &send(int actor, const pb::Envelope &env) { return raw(actor, env.SerializeAsString()); }
    Script &hello(int actor, const std::string &name = "Ada", std::uint32_t version = scrawl::kProtocolVersion)
    {
        pb::Envelope env;
        env.mutable_hello()->set_protocol_version(version);
        env.mutable_hello()->set_display_name(name);
        env.mutable_hello()->set_color(0x3366ff);
        return send(actor, env);
    }
    Script &join(int actor, const std::string &wall = "team")
    {
        pb::Envelope env;
        env.mutable_join()->set_wall(wall);
        return send(actor, env);
    }
    Script &op(int actor, pb::Op op)
    {
        op.set_client_op_id(++m_opIds[actor]);
        pb::Envelope env;
        *env.mutable_op() = std::move(op);
        return send(actor, env);
    }
    Script &enter(int actor) { return hello(actor).join(actor); }
    const std::string &bytes() const { return m_bytes; }

private:
    std::string m_bytes;
    std::uint64_t m_opIds[4] = {};
};

std::vector<FixedPoint> wave(int count, FixedPoint start = {400, 400})
{
    std::vector<FixedPoint> points;
    for (int i = 0; i < count; ++i)
        points.push_back({start.x + i * 7, start.y + std::int32_t(std::lround(40 * std::sin(i / 5.0)))});
    return points;
}

pb::Op chat(const std::string &text)
{
    pb::Op op;
    op.mutable_chat()->set_text(text);
    return op;
}

pb::Op begin(std::uint32_t id, const std::vector<FixedPoint> &points, float width = 3.0f)
{
    pb::Op op;
    auto *b = op.mutable_stroke_begin();
    b->set_id(id);
    b->set_color(0xff0000);
    b->set_width(width);
    scrawl::encodePoints(points, {}, b);
    return op;
}

pb::Op more(std::uint32_t id, const std::vector<FixedPoint> &points, FixedPoint from)
{
    pb::Op op;
    op.mutable_stroke_points()->set_id(id);
    scrawl::encodePoints(points, scrawl::StrokeTail{from, {}, true}, op.mutable_stroke_points());
    return op;
}

pb::Op end(std::uint32_t id)
{
    pb::Op op;
    op.mutable_stroke_end()->set_id(id);
    return op;
}

pb::Op erase(std::vector<std::uint64_t> keys)
{
    pb::Op op;
    for (auto k : keys)
        op.mutable_erase()->add_strokes(k);
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

pb::Op noteAdd(std::uint32_t id, float x, float y, const std::string &text)
{
    pb::Op op;
    auto *n = op.mutable_note_add();
    n->set_id(id);
    n->set_x(x);
    n->set_y(y);
    n->set_text(text);
    n->set_color(0xffee88);
    return op;
}

void write(const std::filesystem::path &dir, const std::string &name, const std::string &bytes)
{
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary) << bytes;
}

// A fuzz_points input: the stroke so far (up to two points, folded onto the wall by the target),
// then a StrokePoints message with protocol 1's deltas and/or path codes.
std::string pointsInput(const std::vector<FixedPoint> &before, const std::vector<std::int32_t> &deltas,
                        const std::vector<std::uint64_t> &path = {}, const std::string &pressure = {})
{
    std::string out(17, '\0');
    for (size_t i = 0; i < before.size() && i < 2; ++i) {
        // The target folds v onto [-max, max] as v % (2 max + 1) - max: invert that here.
        const std::int64_t m = std::int64_t(limits::kMaxCoordinate) * scrawl::kCoordScale;
        const std::uint32_t x = std::uint32_t(std::int64_t(before[i].x) + m);
        const std::uint32_t y = std::uint32_t(std::int64_t(before[i].y) + m);
        std::memcpy(out.data() + 8 * i, &x, 4);
        std::memcpy(out.data() + 8 * i + 4, &y, 4);
    }
    out[16] = char(std::min<size_t>(before.size(), 2));
    pb::StrokePoints msg;
    msg.set_id(1);
    for (auto d : deltas)
        msg.add_points(d);
    for (auto c : path)
        msg.add_path(c);
    msg.set_pressure(pressure);
    return out + msg.SerializeAsString();
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_corpus DIR  (writes DIR/envelope and DIR/points)\n");
        return 2;
    }
    const std::filesystem::path envDir = std::filesystem::path(argv[1]) / "envelope";
    const std::filesystem::path ptsDir = std::filesystem::path(argv[1]) / "points";
    const std::uint64_t user1 = 1, user2 = 2;
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    constexpr float kInf = std::numeric_limits<float>::infinity();

    write(envDir, "chat", Script().enter(0).op(0, chat("hello, wall")).op(0, chat("line\nbreak")).bytes());
    {
        // Fields the schema does not know (at the Envelope, the Op and the body) and forged
        // stamps: the server drops the ones and overwrites the others.
        const auto padded = [](pb::Op op) {
            for (google::protobuf::Message *m : std::initializer_list<google::protobuf::Message *>{
                     &op, op.has_chat() ? static_cast<google::protobuf::Message *>(op.mutable_chat())
                                        : op.mutable_stroke_points()})
                m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(900, std::string(64, 'u'));
            op.set_seq(999);
            op.set_author(77);
            op.set_time_ms(123);
            return op;
        };
        const std::vector<FixedPoint> w = wave(8);
        pb::Op forgedChat = padded(chat("x"));
        forgedChat.mutable_chat()->set_author_name("Mallory");
        write(envDir, "unknown_and_forged",
              Script().enter(0).enter(1).op(0, forgedChat).op(0, begin(1, {w.begin(), w.begin() + 4}))
                  .op(0, padded(more(1, {w.begin() + 4, w.end()}, w[3]))).bytes());
    }
    const auto w = wave(40);
    write(envDir, "stroke", Script().enter(0).op(0, begin(1, {w.begin(), w.begin() + 10}))
                                .op(0, more(1, {w.begin() + 10, w.end()}, w[9]))
                                .op(0, end(1)).bytes());
    write(envDir, "erase_undo_redo",
          Script().enter(0).op(0, begin(1, w)).op(0, end(1)).op(0, begin(2, wave(5, {0, 0})))
              .op(0, end(2)).op(0, erase({scrawl::objectKey(user1, 1)})).op(0, undo(5))
              .op(0, redo(5)).op(0, undo(1)).bytes());
    {
        pb::Op edit, move, del, style;
        edit.mutable_note_edit()->set_note(scrawl::objectKey(user1, 7));
        edit.mutable_note_edit()->set_text("edited\ttext");
        move.mutable_note_move()->set_note(scrawl::objectKey(user1, 7));
        move.mutable_note_move()->set_x(-250.5f);
        move.mutable_note_move()->set_y(99.25f);
        del.mutable_note_delete()->set_note(scrawl::objectKey(user1, 7));
        style.mutable_note_style()->set_note(scrawl::objectKey(user1, 7));
        style.mutable_note_style()->set_color(0x2d9cdb);
        style.mutable_note_style()->set_width(320);
        style.mutable_note_style()->set_height(180);
        write(envDir, "notes", Script().enter(0).op(0, noteAdd(7, 10, 20, "a note"))
                                   .op(0, edit).op(0, move).op(0, undo(3)).op(0, style)
                                   .op(0, undo(5)).op(0, redo(5)).op(0, del)
                                   .op(0, undo(8)).op(0, redo(8)).bytes());
    }
    {
        // Images: a hash never uploaded (refused), a hash of the wrong length, a size out of
        // range, deleting a missing image, and undo of the refused ones.
        const auto imageAdd = [](std::uint32_t id, const std::string &hash, float w, float h) {
            pb::Op op;
            auto *i = op.mutable_image_add();
            i->set_id(id);
            i->set_hash(hash);
            i->set_x(-40);
            i->set_y(12.5f);
            i->set_width(w);
            i->set_height(h);
            return op;
        };
        pb::Op del;
        del.mutable_image_delete()->set_image(scrawl::objectKey(user1, 3));
        write(envDir, "images", Script().enter(0).op(0, imageAdd(3, std::string(32, '\x5a'), 320, 200))
                                    .op(0, imageAdd(4, "short", 10, 10))
                                    .op(0, imageAdd(5, std::string(32, '\x01'), -1, 1e9f))
                                    .op(0, del).op(0, undo(1)).op(0, undo(4)).bytes());
    }
    {
        // Shapes and text: each kind, an edit, a delete, undo and redo, and some that are
        // refused (a negative box, a font out of range, text on a rectangle).
        const auto shape = [](pb::ShapeKind kind, float x, float y, float w, float h) {
            pb::Shape sh;
            sh.set_kind(kind);
            sh.set_x(x);
            sh.set_y(y);
            sh.set_width(w);
            sh.set_height(h);
            sh.set_color(0x2d9cdb);
            if (kind == pb::SHAPE_TEXT) {
                sh.set_text("text on the wall");
                sh.set_font_size(24);
            } else {
                sh.set_stroke_width(3);
                sh.set_fill(kind == pb::SHAPE_RECT ? 0x80ff8800u : 0);
            }
            return sh;
        };
        const auto add = [](std::uint32_t id, const pb::Shape &sh) {
            pb::Op op;
            op.mutable_shape_add()->set_id(id);
            *op.mutable_shape_add()->mutable_shape() = sh;
            return op;
        };
        pb::Op edit;
        edit.mutable_shape_edit()->set_key(scrawl::objectKey(user1, 2));
        *edit.mutable_shape_edit()->mutable_shape() = shape(pb::SHAPE_ELLIPSE, 5, 5, 80, 40);
        pb::Op del;
        del.mutable_shape_delete()->set_key(scrawl::objectKey(user1, 1));
        pb::Shape badText = shape(pb::SHAPE_TEXT, 0, 0, 0, 0);
        badText.set_font_size(9999);
        pb::Shape textOnRect = shape(pb::SHAPE_RECT, 0, 0, 5, 5);
        textOnRect.set_text("no");
        Script script;
        script.enter(0);
        std::uint32_t id = 0;
        for (const auto kind : {pb::SHAPE_LINE, pb::SHAPE_ARROW, pb::SHAPE_RECT, pb::SHAPE_ELLIPSE,
                                pb::SHAPE_DIAMOND, pb::SHAPE_TEXT}) {
            ++id;
            script.op(0, add(id, shape(kind, 10.0f * id, -20, 60, -30.0f + 10 * id)));
        }
        script.op(0, edit).op(0, del).op(0, undo(8)).op(0, redo(8)).op(0, undo(7))
            .op(0, add(20, shape(pb::SHAPE_RECT, 0, 0, -5, 5))).op(0, add(21, badText))
            .op(0, add(22, textOnRect));
        write(envDir, "shapes", script.bytes());

        // Moves and resizes of shapes and a stroke, their undo, and refused ones (a scale of 0.001,
        // an object named twice, nothing named).
        pb::Op move;
        auto *t = move.mutable_transform();
        t->add_shapes(scrawl::objectKey(user1, 2));
        t->add_shapes(scrawl::objectKey(user1, 3));
        t->add_strokes(scrawl::objectKey(user1, 30));
        t->set_dx(40.25f);
        t->set_dy(-12);
        pb::Op resize = move;
        resize.mutable_transform()->set_scale_x(2.5f);
        resize.mutable_transform()->set_scale_y(0.5f);
        resize.mutable_transform()->set_origin_x(10);
        pb::Op tiny = resize;
        tiny.mutable_transform()->set_scale_x(0.001f);
        pb::Op twice = move;
        twice.mutable_transform()->add_shapes(scrawl::objectKey(user1, 2));
        pb::Op none;
        none.mutable_transform()->set_dx(1);
        // Turns: a quarter turn grown 1.5 times, one past pi, one that also stretches.
        pb::Op quarter = move;
        quarter.mutable_transform()->set_rotation(1.5707964f);
        quarter.mutable_transform()->set_scale_x(1.5f);
        quarter.mutable_transform()->set_scale_y(1.5f);
        pb::Op pastPi = quarter;
        pastPi.mutable_transform()->set_rotation(4);
        pb::Op skewed = quarter;
        skewed.mutable_transform()->set_scale_y(3);
        Script moves;
        moves.enter(0);
        for (std::uint32_t i = 1; i <= 3; ++i)
            moves.op(0, add(i, shape(pb::SHAPE_RECT, 10.0f * i, 5, 30, 20)));
        moves.op(0, begin(30, w)).op(0, end(30)).op(0, move).op(0, resize).op(0, undo(6))
            .op(0, tiny).op(0, twice).op(0, none).op(0, redo(6)).op(0, quarter).op(0, pastPi)
            .op(0, skewed).op(0, undo(13));
        // To the front and the back, undone and redone, and one naming a shape twice.
        pb::Op front;
        front.mutable_arrange()->add_shapes(scrawl::objectKey(user1, 2));
        front.mutable_arrange()->add_strokes(scrawl::objectKey(user1, 30));
        pb::Op back = front;
        back.mutable_arrange()->set_to_back(true);
        pb::Op arrangeTwice = front;
        arrangeTwice.mutable_arrange()->add_shapes(scrawl::objectKey(user1, 2));
        moves.op(0, front).op(0, back).op(0, undo(18)).op(0, redo(18)).op(0, arrangeTwice);
        write(envDir, "transforms", moves.bytes());
    }
    {
        pb::Op clear;
        clear.mutable_clear();
        write(envDir, "clear", Script().enter(0).op(0, begin(1, w)).op(0, noteAdd(1, 0, 0, "n"))
                                   .op(0, clear).op(0, begin(2, w)).bytes());
    }
    {
        pb::Envelope cursor, history;
        cursor.mutable_cursor()->set_x(12.5f);
        cursor.mutable_cursor()->set_y(-3);
        history.mutable_history_request()->set_before_seq(10);
        history.mutable_history_request()->set_limit(50);
        pb::Envelope badCursor = cursor;
        badCursor.mutable_cursor()->set_x(kNaN);
        write(envDir, "cursor_history", Script().send(0, cursor).enter(0).send(0, cursor)
                                            .send(0, badCursor).send(0, history).bytes());
    }
    {
        // Issue 19: views (follow and present), presenting from the owner and from a member
        // (refused), the laser, a view that is not a box, and pages of the wall's past ops.
        pb::Envelope view, presenting, laser, badView, past;
        view.mutable_cursor()->set_x(40);
        view.mutable_cursor()->set_view_x(-800);
        view.mutable_cursor()->set_view_y(-450);
        view.mutable_cursor()->set_view_width(1600);
        view.mutable_cursor()->set_view_height(900);
        presenting = view;
        presenting.mutable_cursor()->set_presenting(true);
        laser = view;
        laser.mutable_cursor()->set_laser(true);
        badView = view;
        badView.mutable_cursor()->set_view_width(-1);
        past.mutable_ops_request()->set_after_seq(0);
        past.mutable_ops_request()->set_limit(3);
        write(envDir, "view_present_laser_past",
              Script().enter(0).enter(1).op(0, chat("one")).op(1, chat("two"))
                  .send(0, view).send(0, presenting).send(1, presenting).send(1, laser)
                  .send(1, badView).send(0, past).send(1, past).bytes());
    }
    {
        // Moderation and the returning client's chat paging: the owner (actor 0, who created the
        // wall) sets a password, renews the API token, makes a moderator, locks the wall and
        // kicks; a member tries the same (refused) and pages chat after a seq.
        const auto moderate = [](pb::Moderate::Action action, std::uint64_t user, bool on,
                                 const std::string &password = {}) {
            pb::Envelope env;
            env.mutable_moderate()->set_action(action);
            env.mutable_moderate()->set_user_id(user);
            env.mutable_moderate()->set_on(on);
            env.mutable_moderate()->set_password(password);
            return env;
        };
        pb::Envelope page;
        page.mutable_history_request()->set_after_seq(1);
        page.mutable_history_request()->set_limit(5);
        write(envDir, "moderate_and_history",
              Script().enter(0).enter(1).op(0, chat("one")).op(1, chat("two"))
                  .send(1, moderate(pb::Moderate::SET_PASSWORD, 0, false, "guess"))
                  .send(1, moderate(pb::Moderate::NEW_API_TOKEN, 0, false))
                  .send(0, moderate(pb::Moderate::SET_PASSWORD, 0, false, "pw"))
                  .send(0, moderate(pb::Moderate::NEW_API_TOKEN, 0, false))
                  .send(0, moderate(pb::Moderate::SET_MODERATOR, user2, true))
                  .send(0, moderate(pb::Moderate::LOCK, 0, true))
                  .send(1, page)
                  .send(0, moderate(pb::Moderate::SET_PASSWORD, 0, false, ""))
                  .send(0, moderate(pb::Moderate::SET_MODERATOR, user2, false))
                  .send(0, moderate(pb::Moderate::KICK, user2, true))
                  .bytes());
    }
    write(envDir, "two_users",
          Script().enter(0).enter(1).op(0, begin(1, w)).op(1, more(1, w, {}))
              .op(1, erase({scrawl::objectKey(user1, 1)})).op(0, more(1, wave(3), w.back()))
              .op(1, begin(1, w)).op(0, end(1)).op(0, more(1, wave(3), w.back()))
              .op(1, undo(1)).op(0, undo(1)).op(2, chat("not joined")).bytes());
    {
        pb::Envelope welcome;
        welcome.mutable_welcome()->set_user_id(1);
        write(envDir, "order", Script().join(0).hello(0).hello(0).hello(1, "x", 99).send(2, welcome)
                                   .raw(2, "garbage \xff\xfe text frame").bytes());
    }
    {
        std::string huge(size_t(limits::kMaxChatChars) + 1, 'x');
        pb::Op zero = chat("no id");
        pb::Envelope zeroEnv;
        *zeroEnv.mutable_op() = zero;
        write(envDir, "bad_text", Script().hello(0, std::string(70, 'n')).enter(0)
                                      .op(0, chat("bad \xc3\x28 utf8")).op(0, chat("   "))
                                      .op(0, chat(std::string("ctl\x01", 4))).op(0, chat(huge))
                                      .send(0, zeroEnv).join(0, "").join(0, "\xff").bytes());
    }
    {
        std::vector<FixedPoint> far{{0, 0}, {std::int32_t(limits::kMaxCoordinate) * scrawl::kCoordScale, 0}};
        std::vector<FixedPoint> beyond{{std::int32_t(limits::kMaxCoordinate) * scrawl::kCoordScale + 1, 0}};
        pb::Op odd = begin(9, {});
        odd.mutable_stroke_begin()->add_points(5);
        pb::Op wrap = begin(10, {});
        wrap.mutable_stroke_begin()->add_points(std::numeric_limits<std::int32_t>::max());
        wrap.mutable_stroke_begin()->add_points(0);
        wrap.mutable_stroke_begin()->add_points(std::numeric_limits<std::int32_t>::max());
        wrap.mutable_stroke_begin()->add_points(0);
        write(envDir, "bad_strokes",
              Script().enter(0).op(0, begin(1, far)).op(0, begin(2, beyond)).op(0, begin(3, w, kNaN))
                  .op(0, begin(4, w, 0.0f)).op(0, begin(5, w, 501.0f)).op(0, odd).op(0, wrap)
                  .op(0, begin(1, w)).op(0, more(42, w, {})).op(0, erase({})).op(0, erase({12345}))
                  .op(0, noteAdd(1, kInf, 0, "x")).op(0, noteAdd(2, 2e7f, 0, "x"))
                  .op(0, undo(999)).op(0, redo(1)).bytes());
    }
    {
        // A pen's stroke (a byte of pressure a point), then pressures that do not fit.
        const std::vector<FixedPoint> first = wave(6), next = wave(4);
        pb::Op pen = begin(20, first);
        pen.mutable_stroke_begin()->set_pressure(std::string("\x10\x30\x50\x70\x90\xb0", 6));
        pb::Op penMore = more(20, next, first.back());
        penMore.mutable_stroke_points()->set_pressure(std::string("\xc0\xd0\xe0\xff", 4));
        pb::Op short_ = begin(21, first);
        short_.mutable_stroke_begin()->set_pressure(std::string("\x10", 1));
        pb::Op onMouse = more(22, next, first.back());
        onMouse.mutable_stroke_points()->set_pressure(std::string(4, '\x80'));
        write(envDir, "pressure", Script().enter(0).op(0, pen).op(0, penMore).op(0, short_)
                                      .op(0, begin(22, first)).op(0, onMouse).bytes());
    }
    write(envDir, "big_batch", Script().enter(0).op(0, begin(1, wave(limits::kMaxPointsPerBatch + 1))).bytes());
    {
        // A hostile server: a Joined with a snapshot and ops, a damaged snapshot, a stray op.
        pb::Envelope joined;
        auto *snap = joined.mutable_joined()->mutable_snapshot();
        snap->set_seq(3);
        snap->set_total_points(10);
        auto *s = snap->add_strokes();
        s->set_key(scrawl::objectKey(user2, 1));
        s->set_width(2);
        scrawl::encodePoints(wave(10), {}, s);
        auto *n = snap->add_notes();
        n->set_key(scrawl::objectKey(user2, 1));
        n->set_text("note");
        auto *a = snap->add_actions();
        a->set_author(user2);
        a->set_client_op_id(1);
        a->set_kind(pb::ACTION_STROKE);
        a->add_keys(scrawl::objectKey(user2, 1));
        pb::Op op = more(1, wave(3), wave(10).back());
        op.set_seq(4);
        op.set_author(user2);
        *joined.mutable_joined()->add_ops() = op;
        pb::Envelope damaged = joined;
        *damaged.mutable_joined()->mutable_snapshot()->add_strokes() = *s;
        pb::Envelope stray;
        *stray.mutable_op() = undo(1);
        stray.mutable_op()->set_seq(9);
        stray.mutable_op()->set_author(user2);
        write(envDir, "hostile_server", Script().raw(3, joined.SerializeAsString())
                                            .raw(3, damaged.SerializeAsString())
                                            .raw(3, stray.SerializeAsString()).bytes());
    }

    {
        // An open stroke, erased, whose actions then scroll out of the undo history: the
        // snapshot keeps it as a tombstone without points. Its author may still send points.
        const std::int32_t edge = std::int32_t(limits::kMaxCoordinate) * scrawl::kCoordScale - 10;
        Script s;
        s.enter(0).op(0, begin(1, {{edge, 0}})).op(0, erase({scrawl::objectKey(user1, 1)}))
            .op(0, noteAdd(2, 0, 0, "n"));
        for (int i = 0; i < limits::kMaxUndoDepth; ++i) {
            pb::Op move;
            move.mutable_note_move()->set_note(scrawl::objectKey(user1, 2));
            move.mutable_note_move()->set_x(float(i));
            s.op(0, move);
        }
        s.op(0, more(1, {{edge + 20, 0}}, {edge, 0})).op(0, more(1, {{5, 5}}, {edge, 0}));
        write(envDir, "tombstone_open_stroke", s.bytes());
    }

    {
        // Repeated ops: a long stroke, and enough note moves to push actions out of the undo
        // history, then undo of the oldest and the newest.
        pb::Op step = more(1, {{3, 1}}, {});
        pb::Envelope stepEnv;
        *stepEnv.mutable_op() = step;
        stepEnv.mutable_op()->set_client_op_id(10);
        pb::Op move;
        move.mutable_note_move()->set_note(scrawl::objectKey(user1, 1));
        move.mutable_note_move()->set_x(5);
        pb::Envelope moveEnv;
        *moveEnv.mutable_op() = move;
        moveEnv.mutable_op()->set_client_op_id(1000);
        pb::Envelope undoOld, undoNew;
        *undoOld.mutable_op() = undo(3);
        undoOld.mutable_op()->set_client_op_id(2000);
        *undoNew.mutable_op() = undo(1200);
        undoNew.mutable_op()->set_client_op_id(2001);
        write(envDir, "repeats", Script().enter(0).op(0, begin(1, {{0, 0}})).op(0, noteAdd(1, 0, 0, "n"))
                                     .raw(0, stepEnv.SerializeAsString(), 63)
                                     .raw(0, moveEnv.SerializeAsString(), 63)
                                     .raw(0, undoOld.SerializeAsString())
                                     .raw(0, undoNew.SerializeAsString()).bytes());
    }

    // Point decoder inputs.
    std::vector<std::int32_t> natural;
    FixedPoint prev{};
    for (const FixedPoint p : wave(100)) {
        natural.push_back(p.x - prev.x);
        natural.push_back(p.y - prev.y);
        prev = p;
    }
    google::protobuf::RepeatedField<std::uint64_t> naturalPath, tailPath;
    scrawl::encodePath(wave(100), {}, &naturalPath);
    const std::vector<FixedPoint> bend = wave(12);
    scrawl::encodePath({bend.begin() + 2, bend.end()}, scrawl::tailOf(bend, 2), &tailPath);
    const std::int32_t maxFixed = std::int32_t(limits::kMaxCoordinate) * scrawl::kCoordScale;
    constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
    constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
    constexpr std::uint64_t kAll = std::numeric_limits<std::uint64_t>::max();
    write(ptsDir, "natural", pointsInput({}, {}, {naturalPath.begin(), naturalPath.end()}));
    write(ptsDir, "after_two", pointsInput({bend[0], bend[1]}, {}, {tailPath.begin(), tailPath.end()}));
    write(ptsDir, "natural_deltas", pointsInput({}, natural));
    write(ptsDir, "pressured", pointsInput({bend[0], bend[1]}, {}, {tailPath.begin(), tailPath.end()},
                                            std::string(tailPath.size(), '\x80')));
    write(ptsDir, "empty", pointsInput({}, {}));
    write(ptsDir, "both_codes", pointsInput({}, {1, 2}, {3}));
    write(ptsDir, "path_extremes", pointsInput({{maxFixed, -maxFixed}, {-maxFixed, maxFixed}}, {}, {kAll, 0, kAll - 1, 1}));
    write(ptsDir, "edge", pointsInput({}, {maxFixed, -maxFixed, -2 * maxFixed, 2 * maxFixed}));
    write(ptsDir, "beyond", pointsInput({}, {maxFixed + 1, 0}));
    write(ptsDir, "odd", pointsInput({}, {1, 2, 3}));
    write(ptsDir, "extremes", pointsInput({}, {kMax, kMin, kMin, kMax}));
    write(ptsDir, "back_from_far", pointsInput({{-maxFixed, maxFixed}}, {5, 0, 1, -1}));
    std::printf("wrote the corpus under %s\n", argv[1]);
    return 0;
}
