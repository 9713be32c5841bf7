// The envelope codec and the shared protocol helpers (core/protocol.h).

#include "core/limits.h"
#include "core/protocol.h"

#include <QSet>
#include <QTest>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace Qt::StringLiterals;
namespace pb = scrawl::pb;

Q_DECLARE_METATYPE(scrawl::pb::Envelope)
Q_DECLARE_METATYPE(scrawl::pb::ErrorCode)

namespace {

constexpr quint64 kU64Max = std::numeric_limits<quint64>::max();
constexpr quint32 kU32Max = std::numeric_limits<quint32>::max();

std::string bytes(const QByteArray &b) { return std::string(b.constData(), size_t(b.size())); }

// An op with every header field set and the given body filled by `fill`.
template <typename Fill> pb::Envelope opEnvelope(Fill fill)
{
    pb::Envelope env;
    pb::Op *op = env.mutable_op();
    op->set_seq(kU64Max);
    op->set_client_op_id(kU64Max - 1);
    op->set_author(1ULL << 40);
    op->set_time_ms(-1);
    fill(op);
    return env;
}

pb::Op chatOp(std::uint64_t seq, const char *text)
{
    pb::Op op;
    op.set_seq(seq);
    op.set_author(3);
    op.mutable_chat()->set_text(text);
    op.mutable_chat()->set_author_name("Zoë");
    op.mutable_chat()->set_author_color(0x00ff00);
    return op;
}

} // namespace

class TestProtocol : public QObject
{
    Q_OBJECT

private slots:
    void envelopeRoundTrip_data();
    void envelopeRoundTrip();
    void parseRefuses_data();
    void parseRefuses();
    void parseRefusesEveryTruncation();
    void errorEnvelope_data();
    void errorEnvelope();
    void wireText();
    void decodeText_data();
    void decodeText();
    void objectKey_data();
    void objectKey();
    void closeCodeFor_data();
    void closeCodeFor();
    void opKindNames();
    void withoutClientOpIdCutsOnlyTheId();
};

void TestProtocol::envelopeRoundTrip_data()
{
    QTest::addColumn<pb::Envelope>("envelope");

    QSet<int> envelopeCases;
    QSet<int> opCases;
    auto row = [&](const char *name, const pb::Envelope &env) {
        envelopeCases.insert(env.msg_case());
        if (env.has_op())
            opCases.insert(env.op().body_case());
        QTest::newRow(name) << env;
    };

    {
        pb::Envelope env;
        auto *m = env.mutable_hello();
        m->set_protocol_version(scrawl::kProtocolVersion);
        m->set_app_version(scrawl::kAppVersion);
        m->set_display_name("Ana 🎨");
        m->set_color(0xffffff);
        m->set_resume_token(std::string("\0\x01\xff token", 10));
        row("hello", env);
    }
    {
        pb::Envelope env;
        auto *m = env.mutable_welcome();
        m->set_protocol_version(kU32Max);
        m->set_server_version("0.1.0");
        m->set_user_id(kU64Max);
        m->set_resume_token("abc");
        m->set_resumed(true);
        row("welcome", env);
    }
    {
        pb::Envelope env;
        auto *m = env.mutable_error();
        m->set_code(pb::WALL_FULL);
        m->set_message("This wall is full.");
        m->set_limit(scrawl::limits::kMaxWallObjectsName);
        m->set_client_op_id(77);
        m->set_fatal(true);
        row("error", env);
    }
    {
        pb::Envelope env;
        env.mutable_join()->set_wall("team/ideas ✓");
        env.mutable_join()->set_last_seq(kU64Max);
        row("join", env);
    }
    {
        pb::Envelope env;
        auto *m = env.mutable_joined();
        m->set_wall("w");
        m->set_head_seq(10);
        auto *snap = m->mutable_snapshot();
        snap->set_seq(8);
        snap->set_total_points(2);
        auto *s = snap->add_strokes();
        s->set_key(scrawl::objectKey(1, 2));
        s->set_width(2.5f);
        s->add_points(-4);
        s->add_points(4);
        s->add_points(1);
        s->add_points(0);
        auto *n = snap->add_notes();
        n->set_key(scrawl::objectKey(2, 1));
        n->set_x(-1.5f);
        n->set_text("note\nline");
        auto *a = snap->add_actions();
        a->set_author(1);
        a->set_kind(pb::ACTION_NOTE_MOVE);
        a->add_keys(n->key());
        a->set_x_before(1.0f);
        *m->add_ops() = chatOp(9, "hi");
        *m->add_recent_chat() = chatOp(7, "older");
        auto *member = m->add_members();
        member->set_user_id(1);
        member->set_name("Ana");
        member->set_color(0x123456);
        m->set_wall_full(true);
        row("joined", env);
    }
    {
        pb::Envelope env;
        env.mutable_cursor()->set_x(-1e7f);
        env.mutable_cursor()->set_y(1e7f);
        env.mutable_cursor()->set_user_id(5);
        row("cursor", env);
    }
    {
        pb::Envelope env;
        env.mutable_presence()->mutable_member()->set_user_id(9);
        env.mutable_presence()->mutable_member()->set_name("Bo");
        env.mutable_presence()->set_online(true);
        row("presence", env);
    }
    {
        pb::Envelope env;
        env.mutable_history_request()->set_before_seq(500);
        env.mutable_history_request()->set_limit(scrawl::limits::kMaxHistoryPage);
        row("history request", env);
    }
    {
        pb::Envelope env;
        *env.mutable_history()->add_chat() = chatOp(1, "first");
        *env.mutable_history()->add_chat() = chatOp(2, "second");
        env.mutable_history()->set_more(true);
        row("history", env);
    }
    {
        pb::Envelope env;
        env.mutable_ops_request()->set_after_seq(kU64Max - 1);
        env.mutable_ops_request()->set_limit(scrawl::limits::kMaxOpsPage);
        row("ops request", env);
    }
    {
        pb::Envelope env;
        auto *page = env.mutable_ops_page();
        page->set_after_seq(41);
        *page->add_ops() = chatOp(42, "then");
        pb::Op voided;
        voided.set_seq(43);
        voided.set_author(7);
        *page->add_ops() = voided; // refused at its turn: no body
        page->set_head_seq(kU64Max);
        page->set_gone(true);
        pb::WallSnapshot base; // where history starts when older ops are gone
        base.set_seq(40);
        page->set_base(base.SerializeAsString());
        row("ops page", env);
    }

    {
        pb::Envelope env;
        env.mutable_moderate()->set_action(pb::Moderate::SET_MODERATOR);
        env.mutable_moderate()->set_user_id(kU64Max);
        env.mutable_moderate()->set_on(true);
        row("moderate", env);
    }
    {
        pb::Envelope env;
        env.mutable_wall_state()->set_locked(true);
        env.mutable_wall_state()->set_has_password(true);
        auto *member = env.mutable_wall_state()->add_members();
        member->set_user_id(2);
        member->set_role(pb::ROLE_OWNER);
        row("wall state", env);
    }
    {
        pb::Envelope env;
        env.mutable_moderate()->set_action(pb::Moderate::SET_PASSWORD);
        env.mutable_moderate()->set_password("new password");
        row("moderate set password", env);
    }
    {
        pb::Envelope env;
        env.mutable_api_token()->set_token("abcdefghijklmnopqrstuvwxyz012345");
        row("api token", env);
    }

    // Every body of an op.
    row("op chat", opEnvelope([](pb::Op *op) { *op = chatOp(op->seq(), "hello\nworld"); }));
    row("op stroke begin", opEnvelope([](pb::Op *op) {
            auto *b = op->mutable_stroke_begin();
            b->set_id(kU32Max);
            b->set_color(0xabcdef);
            b->set_width(scrawl::limits::kMaxStrokeWidth);
            for (int d : {40000000, -40000000, std::numeric_limits<int>::min(), 0, -1, 1})
                b->add_points(d);
        }));
    row("op stroke points", opEnvelope([](pb::Op *op) {
            op->mutable_stroke_points()->set_id(3);
            for (int i = 0; i < 2 * scrawl::limits::kMaxPointsPerBatch; ++i)
                op->mutable_stroke_points()->add_points(i % 2 ? -i : i);
        }));
    row("op stroke end", opEnvelope([](pb::Op *op) { op->mutable_stroke_end()->set_id(3); }));
    row("op erase", opEnvelope([](pb::Op *op) {
            op->mutable_erase()->add_strokes(kU64Max);
            op->mutable_erase()->add_strokes(0);
        }));
    row("op note add", opEnvelope([](pb::Op *op) {
            auto *n = op->mutable_note_add();
            n->set_id(1);
            n->set_x(-0.5f);
            n->set_y(1e7f);
            n->set_text("ünïcode\ttext");
            n->set_color(0xffff00);
        }));
    row("op note edit", opEnvelope([](pb::Op *op) {
            op->mutable_note_edit()->set_note(scrawl::objectKey(4, 5));
            op->mutable_note_edit()->set_text("");
        }));
    row("op note move", opEnvelope([](pb::Op *op) {
            op->mutable_note_move()->set_note(1);
            op->mutable_note_move()->set_x(3.25f);
            op->mutable_note_move()->set_y(-3.25f);
        }));
    row("op note style", opEnvelope([](pb::Op *op) {
            auto *n = op->mutable_note_style();
            n->set_note(kU64Max);
            n->set_color(0xffffffu);
            n->set_width(2000.0f);
            n->set_height(60.0f);
        }));
    row("op note delete",
        opEnvelope([](pb::Op *op) { op->mutable_note_delete()->set_note(kU64Max); }));
    row("op undo",
        opEnvelope([](pb::Op *op) { op->mutable_undo()->set_target_client_op_id(kU64Max); }));
    row("op redo", opEnvelope([](pb::Op *op) { op->mutable_redo()->set_target_client_op_id(1); }));
    row("op clear", opEnvelope([](pb::Op *op) { op->mutable_clear(); }));
    row("op image_add", opEnvelope([](pb::Op *op) {
            auto *i = op->mutable_image_add();
            i->set_id(kU32Max);
            i->set_hash(std::string(32, '\xff'));
            i->set_x(-1e7f);
            i->set_y(1e7f);
            i->set_width(4096.5f);
            i->set_height(0.25f);
        }));
    row("op image_delete", opEnvelope([](pb::Op *op) { op->mutable_image_delete()->set_image(kU64Max); }));
    row("op shape_add", opEnvelope([](pb::Op *op) {
            auto *a = op->mutable_shape_add();
            a->set_id(kU32Max);
            auto *sh = a->mutable_shape();
            sh->set_kind(pb::SHAPE_TEXT);
            sh->set_x(-1e7f);
            sh->set_y(1e7f);
            sh->set_width(-0.5f);
            sh->set_height(12345.25f);
            sh->set_color(0xffffff);
            sh->set_stroke_width(500);
            sh->set_fill(0xffffffffu);
            sh->set_text("wörds 🎨\nline");
            sh->set_font_size(400);
        }));
    row("op shape_edit", opEnvelope([](pb::Op *op) {
            op->mutable_shape_edit()->set_key(kU64Max);
            op->mutable_shape_edit()->mutable_shape()->set_kind(pb::SHAPE_DIAMOND);
            op->mutable_shape_edit()->mutable_shape()->set_fill(0x80123456u);
        }));
    row("op transform", opEnvelope([](pb::Op *op) {
            auto *t = op->mutable_transform();
            t->add_strokes(kU64Max);
            t->add_strokes(1);
            t->add_notes(kU64Max);
            t->add_images(2);
            t->add_shapes(3);
            t->set_dx(-1e7f);
            t->set_dy(0.25f);
            t->set_scale_x(100);
            t->set_scale_y(0.01f);
            t->set_origin_x(1e7f);
            t->set_origin_y(-3.5f);
        }));
    row("op shape_delete", opEnvelope([](pb::Op *op) { op->mutable_shape_delete()->set_key(kU64Max); }));
    row("op transform turning", opEnvelope([](pb::Op *op) {
            op->mutable_transform()->add_shapes(kU64Max);
            op->mutable_transform()->set_rotation(-3.14159f);
        }));
    row("op arrange", opEnvelope([](pb::Op *op) {
            auto *a = op->mutable_arrange();
            a->add_strokes(kU64Max);
            a->add_notes(1);
            a->add_images(2);
            a->add_shapes(3);
            a->set_to_back(true);
        }));

    // A message type or op body added to the proto needs a row here.
    QCOMPARE(envelopeCases.size(), pb::Envelope::descriptor()->oneof_decl(0)->field_count());
    QCOMPARE(opCases.size(), pb::Op::descriptor()->FindOneofByName("body")->field_count());
}

void TestProtocol::envelopeRoundTrip()
{
    QFETCH(pb::Envelope, envelope);

    const QByteArray wire = scrawl::serialize(envelope);
    QVERIFY(!wire.isEmpty());
    QCOMPARE(wire.size(), qsizetype(envelope.ByteSizeLong()));
    QCOMPARE(bytes(wire), envelope.SerializeAsString());

    pb::Envelope parsed;
    QVERIFY(scrawl::parse(wire, &parsed));
    QCOMPARE(parsed.msg_case(), envelope.msg_case());
    QVERIFY2(google::protobuf::util::MessageDifferencer::Equals(parsed, envelope),
             parsed.DebugString().c_str());
    QCOMPARE(scrawl::serialize(parsed), wire);
}

void TestProtocol::parseRefuses_data()
{
    QTest::addColumn<QByteArray>("wire");

    pb::Envelope hello;
    hello.mutable_hello()->set_display_name("Ana");
    const QByteArray valid = scrawl::serialize(hello);

    QTest::newRow("empty") << QByteArray();
    QTest::newRow("one zero byte") << QByteArray(1, '\0'); // field number 0 is illegal
    QTest::newRow("0xff bytes") << QByteArray(16, '\xff');
    QTest::newRow("text") << QByteArray("{\"hello\": {}}");
    QTest::newRow("tag without length") << QByteArray("\x0a", 1);
    QTest::newRow("length past the end") << QByteArray("\x0a\x05\x1a\x01", 4);
    QTest::newRow("varint never ends") << QByteArray("\x08\x80\x80\x80", 4);
    QTest::newRow("end group without start") << QByteArray("\x0c", 1);
    // Well-formed protobuf, but no message the envelope knows: an empty envelope.
    QTest::newRow("only an unknown field") << QByteArray("\xf8\x01\x01", 3);
    // Field 1000, length 0: far above any field the envelope will have.
    QTest::newRow("empty length-delimited unknown") << QByteArray("\xc2\x3e\x00", 3);
    QTest::newRow("valid then garbage") << valid + QByteArray("\xff\xff", 2);
}

void TestProtocol::parseRefuses()
{
    QFETCH(QByteArray, wire);
    pb::Envelope envelope;
    QVERIFY(!scrawl::parse(wire, &envelope));
}

void TestProtocol::parseRefusesEveryTruncation()
{
    const pb::Envelope env = opEnvelope([](pb::Op *op) {
        op->mutable_stroke_begin()->set_id(7);
        op->mutable_stroke_begin()->set_width(4);
        for (int i = 0; i < 20; ++i)
            op->mutable_stroke_begin()->add_points(i * 1000 - 9000);
    });
    const QByteArray wire = scrawl::serialize(env);
    pb::Envelope whole;
    QVERIFY(scrawl::parse(wire, &whole));
    // The envelope is one length-delimited field: every shorter prefix is cut inside it.
    for (qsizetype n = 0; n < wire.size(); ++n) {
        pb::Envelope parsed;
        QVERIFY2(!scrawl::parse(wire.left(n), &parsed), qPrintable(u"prefix of %1 bytes"_s.arg(n)));
    }
}

void TestProtocol::errorEnvelope_data()
{
    QTest::addColumn<pb::ErrorCode>("code");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QString>("limit");
    QTest::addColumn<quint64>("clientOpId");
    QTest::addColumn<bool>("fatal");

    QTest::newRow("protocol, fatal") << pb::PROTOCOL << u"That was not a Scrawl message."_s
                                     << QString() << quint64(0) << true;
    QTest::newRow("limit with op id")
        << pb::LIMIT_EXCEEDED << u"The chat message has 4001 characters."_s
        << QString::fromLatin1(scrawl::limits::kMaxChatCharsName) << quint64(42) << false;
    QTest::newRow("non-ASCII message") << pb::INVALID_TEXT << u"Le texte « é » est vide."_s
                                       << QString() << quint64(kU64Max) << false;
    QTest::newRow("wall full") << pb::WALL_FULL << u"Full."_s
                               << QString::fromLatin1(scrawl::limits::kMaxWallPointsName)
                               << quint64(1) << false;
}

void TestProtocol::errorEnvelope()
{
    QFETCH(pb::ErrorCode, code);
    QFETCH(QString, message);
    QFETCH(QString, limit);
    QFETCH(quint64, clientOpId);
    QFETCH(bool, fatal);

    const scrawl::Problem problem{code, message, limit};
    const pb::Envelope env = scrawl::errorEnvelope(problem, clientOpId, fatal);
    QVERIFY(env.has_error());

    // Through the wire and back, as the peer sees it.
    pb::Envelope parsed;
    QVERIFY(scrawl::parse(scrawl::serialize(env), &parsed));
    QVERIFY(parsed.has_error());
    const pb::Error &e = parsed.error();
    QCOMPARE(e.code(), code);
    QCOMPARE(scrawl::fromWire(e.message()), message);
    QCOMPARE(QString::fromStdString(e.limit()), limit);
    QCOMPARE(e.client_op_id(), clientOpId);
    QCOMPARE(e.fatal(), fatal);
}

void TestProtocol::wireText()
{
    const QString text = u"a\u0000b ü 🎨 \u200b"_s;
    const std::string wire = scrawl::toWire(text);
    QCOMPARE(wire.size(), size_t(QByteArray(text.toUtf8()).size()));
    QCOMPARE(wire[1], '\0'); // embedded NUL survives
    QCOMPARE(scrawl::fromWire(wire), text);
    QCOMPARE(scrawl::fromWire(scrawl::toWire(QString())), QString());
}

void TestProtocol::decodeText_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<int>("maxChars");
    QTest::addColumn<bool>("allowEmpty");
    QTest::addColumn<bool>("multiline");
    // ERROR_UNSPECIFIED: accepted, and decoded to `text`.
    QTest::addColumn<pb::ErrorCode>("code");
    QTest::addColumn<QString>("text");

    const auto ok = pb::ERROR_UNSPECIFIED;
    const auto bad = pb::INVALID_TEXT;
    const auto limit = pb::LIMIT_EXCEEDED;
    const int n = 10;

    QTest::newRow("ascii") << QByteArray("hello") << n << false << false << ok << u"hello"_s;
    QTest::newRow("two-byte UTF-8") << QByteArray("caf\xc3\xa9") << n << false << false << ok
                                    << u"café"_s;
    QTest::newRow("emoji") << QByteArray("\xf0\x9f\x8e\xa8") << n << false << false << ok
                           << u"🎨"_s;
    QTest::newRow("inner spaces kept") << QByteArray(" a b ") << n << false << false << ok
                                       << u" a b "_s;

    QTest::newRow("invalid: C3 28") << QByteArray("\xc3\x28") << n << false << false << bad
                                    << QString();
    QTest::newRow("invalid: FF") << QByteArray("\xff") << n << false << false << bad << QString();
    QTest::newRow("invalid: lone continuation") << QByteArray("a\x80z") << n << false << false
                                                << bad << QString();
    QTest::newRow("invalid: truncated at end") << QByteArray("ab\xc3") << n << false << false
                                               << bad << QString();
    QTest::newRow("invalid: truncated emoji") << QByteArray("\xf0\x9f\x8e") << n << false << false
                                              << bad << QString();
    QTest::newRow("invalid: overlong slash") << QByteArray("\xc0\xaf") << n << false << false
                                             << bad << QString();
    QTest::newRow("invalid: UTF-16 surrogate") << QByteArray("\xed\xa0\x80") << n << false
                                               << false << bad << QString();
    QTest::newRow("invalid: beyond U+10FFFF") << QByteArray("\xf4\x90\x80\x80") << n << false
                                              << false << bad << QString();
    QTest::newRow("invalid even when empty allowed") << QByteArray("\xff") << n << true << true
                                                     << bad << QString();

    // Length in characters (UTF-16 code units), not bytes.
    QTest::newRow("exactly max") << QByteArray(n, 'x') << n << false << false << ok
                                 << QString(n, u'x');
    QTest::newRow("max + 1") << QByteArray(n + 1, 'x') << n << false << false << limit
                             << QString();
    QTest::newRow("max two-byte chars") << QByteArray("\xc3\xa9").repeated(n) << n << false
                                        << false << ok << QString(n, u'é');
    QTest::newRow("max + 1 two-byte chars") << QByteArray("\xc3\xa9").repeated(n + 1) << n
                                            << false << false << limit << QString();
    QTest::newRow("emoji counts two") << QByteArray("\xf0\x9f\x8e\xa8").repeated(n / 2 + 1) << n
                                      << false << false << limit << QString();
    QTest::newRow("chat limit exactly")
        << QByteArray(scrawl::limits::kMaxChatChars, 'c') << scrawl::limits::kMaxChatChars << false
        << true << ok << QString(scrawl::limits::kMaxChatChars, u'c');
    QTest::newRow("chat limit + 1")
        << QByteArray(scrawl::limits::kMaxChatChars + 1, 'c') << scrawl::limits::kMaxChatChars
        << false << true << limit << QString();
    QTest::newRow("too long whitespace") << QByteArray(n + 1, ' ') << n << false << false << limit
                                         << QString();

    QTest::newRow("empty refused") << QByteArray() << n << false << false << bad << QString();
    QTest::newRow("empty allowed") << QByteArray() << n << true << false << ok << QString();
    QTest::newRow("spaces refused") << QByteArray("   ") << n << false << false << bad
                                    << QString();
    QTest::newRow("newlines refused as empty") << QByteArray(" \n\t\n ") << n << false << true
                                               << bad << QString();
    QTest::newRow("spaces allowed") << QByteArray("   ") << n << true << false << ok << u"   "_s;

    QTest::newRow("newline, multiline") << QByteArray("a\nb") << n << false << true << ok
                                        << u"a\nb"_s;
    QTest::newRow("newline, single line") << QByteArray("a\nb") << n << false << false << bad
                                          << QString();
    QTest::newRow("tab, multiline") << QByteArray("a\tb") << n << false << true << ok << u"a\tb"_s;
    QTest::newRow("tab, single line") << QByteArray("a\tb") << n << false << false << bad
                                      << QString();
    // Windows line endings arrive in pasted text: \r is allowed where newlines are.
    QTest::newRow("carriage return, multiline") << QByteArray("a\rb") << n << false << true << ok
                                                << u"a\rb"_s;
    QTest::newRow("carriage return, single line") << QByteArray("a\rb") << n << false << false
                                                  << bad << QString();
    QTest::newRow("NUL") << QByteArray("a\0b", 3) << n << false << true << bad << QString();
    QTest::newRow("bell") << QByteArray("a\x07") << n << false << true << bad << QString();
    QTest::newRow("escape") << QByteArray("\x1b[31m") << n << false << true << bad << QString();
    QTest::newRow("DEL") << QByteArray("a\x7f") << n << false << true << bad << QString();
    QTest::newRow("C1 control U+0085") << QByteArray("a\xc2\x85") << n << false << true << bad
                                       << QString();
    QTest::newRow("control, empty allowed") << QByteArray("\x01") << n << true << true << bad
                                            << QString();
}

void TestProtocol::decodeText()
{
    QFETCH(QByteArray, wire);
    QFETCH(int, maxChars);
    QFETCH(bool, allowEmpty);
    QFETCH(bool, multiline);
    QFETCH(pb::ErrorCode, code);
    QFETCH(QString, text);

    const char *limitName = "max_test_chars";
    const scrawl::TextRules rules{"test field", maxChars, limitName, allowEmpty, multiline};
    QString out = u"untouched"_s;
    const std::optional<scrawl::Problem> problem = scrawl::decodeText(bytes(wire), rules, &out);

    if (code == pb::ERROR_UNSPECIFIED) {
        QVERIFY2(!problem, problem ? qPrintable(problem->message) : "");
        QCOMPARE(out, text);
        QCOMPARE(out.isNull(), false);
        QVERIFY(!scrawl::decodeText(bytes(wire), rules, nullptr)); // out is optional
        return;
    }
    QVERIFY(problem);
    QCOMPARE(problem->code, code);
    QCOMPARE(out, u"untouched"_s); // a refused text is not handed out
    QVERIFY2(problem->message.contains(u"test field"_s), qPrintable(problem->message));
    if (code == pb::LIMIT_EXCEEDED) {
        QCOMPARE(problem->limit, QString::fromLatin1(limitName));
        QVERIFY2(problem->message.contains(QString::number(maxChars)), qPrintable(problem->message));
    } else {
        QVERIFY(problem->limit.isEmpty());
    }
}

void TestProtocol::objectKey_data()
{
    QTest::addColumn<quint64>("author");
    QTest::addColumn<quint32>("id");
    QTest::addColumn<quint64>("key");

    QTest::newRow("zero") << quint64(0) << quint32(0) << quint64(0);
    QTest::newRow("small") << quint64(1) << quint32(2) << quint64(0x1'0000'0002ULL);
    QTest::newRow("max id") << quint64(1) << kU32Max << quint64(0x1'ffff'ffffULL);
    QTest::newRow("max author") << quint64(kU32Max) << quint32(7) << quint64(0xffff'ffff'0000'0007ULL);
    QTest::newRow("both max") << quint64(kU32Max) << kU32Max << kU64Max;
}

void TestProtocol::objectKey()
{
    QFETCH(quint64, author);
    QFETCH(quint32, id);
    QFETCH(quint64, key);
    QCOMPARE(scrawl::objectKey(author, id), key);
    QCOMPARE(scrawl::keyAuthor(key), author);
    QCOMPARE(std::uint32_t(key), id);
    // Keys of different authors never collide, whatever the ids.
    QVERIFY(scrawl::objectKey(author, id) != scrawl::objectKey(author ^ 1, id));
}

void TestProtocol::closeCodeFor_data()
{
    QTest::addColumn<pb::ErrorCode>("code");
    QTest::addColumn<int>("closeCode");

    QTest::newRow("protocol") << pb::PROTOCOL << 4001;
    QTest::newRow("version mismatch") << pb::VERSION_MISMATCH << 4002;
    QTest::newRow("limit exceeded") << pb::LIMIT_EXCEEDED << 4006;
    QTest::newRow("timeout") << pb::TIMEOUT << 4010;
    QTest::newRow("wall full") << pb::WALL_FULL << 4015;
}

void TestProtocol::closeCodeFor()
{
    QFETCH(pb::ErrorCode, code);
    QFETCH(int, closeCode);
    QCOMPARE(scrawl::closeCodeFor(code), closeCode);

    // Every code maps into the WebSocket private-use range 4000-4999, each to its own code.
    const auto *codes = pb::ErrorCode_descriptor();
    QSet<int> seen;
    for (int i = 0; i < codes->value_count(); ++i) {
        const int c = scrawl::closeCodeFor(pb::ErrorCode(codes->value(i)->number()));
        QVERIFY(c >= 4000 && c <= 4999);
        seen.insert(c);
    }
    QCOMPARE(seen.size(), codes->value_count());
}

void TestProtocol::opKindNames()
{
    // Log lines name op kinds: each body has its own name, the empty op says so.
    pb::Op op;
    QCOMPARE(scrawl::opKindName(op), "empty");
    QSet<QByteArray> names;
    const auto *body = pb::Op::descriptor()->FindOneofByName("body");
    for (int i = 0; i < body->field_count(); ++i) {
        const auto *field = body->field(i);
        op.GetReflection()->MutableMessage(&op, field);
        QCOMPARE(int(op.body_case()), field->number());
        QCOMPARE(QByteArray(scrawl::opKindName(op)), QByteArray::fromStdString(field->name()));
        names.insert(scrawl::opKindName(op));
    }
    QCOMPARE(names.size(), body->field_count());
}

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"

void TestProtocol::withoutClientOpIdCutsOnlyTheId()
{
    // Against protobuf's own bytes for the op without the id, across sizes where the op's
    // length varint shrinks (127/128 bytes, 16383/16384), ids of 1 to 10 varint bytes, with
    // and without seq and author.
    int cases = 0;
    for (const std::uint64_t id : {std::uint64_t(1), std::uint64_t(300), std::uint64_t(1) << 35,
                                   std::uint64_t(1764500000000000), ~std::uint64_t(0)}) {
        for (const std::uint64_t seq : {std::uint64_t(0), std::uint64_t(5), std::uint64_t(1) << 40}) {
            for (int points = 0; points < 140; ++points) {
                pb::Envelope env;
                pb::Op *op = env.mutable_op();
                op->set_seq(seq);
                op->set_client_op_id(id);
                op->set_author(seq ? 7 : 0);
                op->mutable_stroke_points()->set_id(1000);
                for (int k = 0; k < points; ++k)
                    op->mutable_stroke_points()->add_path(std::uint64_t(k % 3 == 0 ? 200 : 5));
                const QByteArray full = scrawl::serialize(env);
                pb::Envelope expected = env;
                expected.mutable_op()->clear_client_op_id();
                const QByteArray cut = scrawl::withoutClientOpId(full);
                QCOMPARE(cut, scrawl::serialize(expected));
                ++cases;
            }
        }
    }
    QCOMPARE(cases, 5 * 3 * 140);
    // Large ops, whose length varint takes 2 and 3 bytes.
    for (const int points : {8190, 8191, 8192, 8193, 16380, 16390}) {
        pb::Envelope env;
        env.mutable_op()->set_seq(1);
        env.mutable_op()->set_client_op_id(1764500000000000);
        for (int k = 0; k < points; ++k)
            env.mutable_op()->mutable_stroke_end()->add_path(1);
        pb::Envelope expected = env;
        expected.mutable_op()->clear_client_op_id();
        QCOMPARE(scrawl::withoutClientOpId(scrawl::serialize(env)), scrawl::serialize(expected));
    }
    // Nothing to cut: the same bytes.
    pb::Envelope noId;
    noId.mutable_op()->set_seq(3);
    noId.mutable_op()->mutable_chat()->set_text("hi");
    QCOMPARE(scrawl::withoutClientOpId(scrawl::serialize(noId)), scrawl::serialize(noId));
    pb::Envelope notAnOp;
    notAnOp.mutable_cursor()->set_x(1);
    QCOMPARE(scrawl::withoutClientOpId(scrawl::serialize(notAnOp)), scrawl::serialize(notAnOp));
    QCOMPARE(scrawl::withoutClientOpId(QByteArray("\x32\x05\x08", 3)), QByteArray("\x32\x05\x08", 3));
}
