#include "core/protocol.h"

#include <QStringDecoder>

namespace scrawl {

Problem limitProblem(const char *limitName, const QString &message)
{
    return {pb::LIMIT_EXCEEDED, message, QString::fromLatin1(limitName)};
}

QByteArray serialize(const pb::Envelope &envelope)
{
    QByteArray bytes;
    bytes.resize(qsizetype(envelope.ByteSizeLong()));
    envelope.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t *>(bytes.data()));
    return bytes;
}

bool parse(const QByteArray &bytes, pb::Envelope *envelope)
{
    return envelope->ParseFromArray(bytes.constData(), int(bytes.size()))
        && envelope->msg_case() != pb::Envelope::MSG_NOT_SET;
}

bool parseInput(const QByteArray &bytes, pb::Envelope *envelope)
{
    if (!parse(bytes, envelope))
        return false;
    discardUnknownFields(envelope);
    return true;
}

void discardUnknownFields(pb::Envelope *envelope)
{
    // Fast path: an envelope of a stroke's op or a cursor without unknown fields. These leaf
    // messages hold no message fields but a cursor's drag preview, which holds none
    // (tst_inputpath checks the schema), so looking at these levels is the whole tree.
    const auto clean = [](const google::protobuf::Message &m) {
        return m.GetReflection()->GetUnknownFields(m).empty();
    };
    if (clean(*envelope)) {
        if (envelope->has_cursor() && clean(envelope->cursor())
            && (!envelope->cursor().has_preview() || clean(envelope->cursor().preview())))
            return;
        if (envelope->has_op() && clean(envelope->op())) {
            const pb::Op &op = envelope->op();
            if ((op.has_stroke_points() && clean(op.stroke_points()))
                || (op.has_stroke_end() && clean(op.stroke_end()))
                || (op.has_stroke_begin() && clean(op.stroke_begin())))
                return;
        }
    }
    envelope->DiscardUnknownFields();
}

namespace {

// Reads a varint at p[*i], moving *i past it; false if it runs past len.
bool readVarint(const char *p, size_t len, size_t *i, std::uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *i < len && shift < 64; shift += 7) {
        const auto b = std::uint8_t(p[(*i)++]);
        *v |= std::uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

void appendVarint(QByteArray *out, std::uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        out->append(char(std::uint8_t(v) | 0x80));
    out->append(char(v));
}

} // namespace

QByteArray withoutClientOpId(const QByteArray &opEnvelope)
{
    constexpr char kOpTag = (pb::Envelope::kOpFieldNumber << 3) | 2;
    constexpr char kSeqTag = (pb::Op::kSeqFieldNumber << 3) | 0;
    constexpr char kIdTag = (pb::Op::kClientOpIdFieldNumber << 3) | 0;
    const char *p = opEnvelope.constData();
    const auto len = size_t(opEnvelope.size());
    size_t i = 0;
    std::uint64_t opLen = 0, value = 0;
    if (len < 2 || p[i++] != kOpTag || !readVarint(p, len, &i, &opLen) || i + opLen != len)
        return opEnvelope;
    const size_t opStart = i;
    if (i < len && p[i] == kSeqTag) {
        ++i;
        if (!readVarint(p, len, &i, &value))
            return opEnvelope;
    }
    const size_t idStart = i;
    if (i >= len || p[i] != kIdTag)
        return opEnvelope;
    ++i;
    if (!readVarint(p, len, &i, &value))
        return opEnvelope;
    QByteArray out;
    out.reserve(qsizetype(len));
    out.append(kOpTag);
    appendVarint(&out, opLen - (i - idStart));
    out.append(p + opStart, qsizetype(idStart - opStart));
    out.append(p + i, qsizetype(len - i));
    return out;
}

pb::Envelope errorEnvelope(const Problem &problem, std::uint64_t clientOpId, bool fatal)
{
    pb::Envelope env;
    pb::Error *error = env.mutable_error();
    error->set_code(problem.code);
    error->set_message(toWire(problem.message));
    if (!problem.limit.isEmpty())
        error->set_limit(problem.limit.toStdString());
    error->set_client_op_id(clientOpId);
    error->set_fatal(fatal);
    return env;
}

std::string toWire(const QString &text)
{
    const QByteArray utf8 = text.toUtf8();
    return std::string(utf8.constData(), size_t(utf8.size()));
}

QString fromWire(const std::string &bytes)
{
    return QString::fromUtf8(bytes.data(), qsizetype(bytes.size()));
}

std::optional<Problem> decodeText(const std::string &bytes, const TextRules &rules, QString *out)
{
    const QString field = QString::fromLatin1(rules.field);
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    QString text = decoder.decode(QByteArrayView(bytes.data(), qsizetype(bytes.size())));
    if (decoder.hasError())
        return Problem{pb::INVALID_TEXT,
                       QStringLiteral("The %1 is not valid UTF-8 text; send it as UTF-8.").arg(field),
                       {}};
    if (text.size() > rules.maxChars)
        return limitProblem(rules.limitName,
                            QStringLiteral("The %1 has %2 characters; the limit %3 allows %4.")
                                .arg(field)
                                .arg(text.size())
                                .arg(QLatin1String(rules.limitName))
                                .arg(rules.maxChars));
    if (!rules.allowEmpty && text.trimmed().isEmpty())
        return Problem{pb::INVALID_TEXT, QStringLiteral("The %1 is empty; write something first.")
                                             .arg(field),
                       {}};
    for (const QChar c : std::as_const(text)) {
        const bool allowedControl = rules.multiline && (c == u'\n' || c == u'\r' || c == u'\t');
        if (c.category() == QChar::Other_Control && !allowedControl)
            return Problem{pb::INVALID_TEXT,
                           QStringLiteral("The %1 contains a control character (U+%2); remove it.")
                               .arg(field)
                               .arg(c.unicode(), 4, 16, QLatin1Char('0')),
                           {}};
    }
    if (out)
        *out = std::move(text);
    return std::nullopt;
}

const char *opKindName(const pb::Op &op)
{
    switch (op.body_case()) {
    case pb::Op::kChat: return "chat";
    case pb::Op::kStrokeBegin: return "stroke_begin";
    case pb::Op::kStrokePoints: return "stroke_points";
    case pb::Op::kStrokeEnd: return "stroke_end";
    case pb::Op::kErase: return "erase";
    case pb::Op::kNoteAdd: return "note_add";
    case pb::Op::kNoteEdit: return "note_edit";
    case pb::Op::kNoteMove: return "note_move";
    case pb::Op::kNoteDelete: return "note_delete";
    case pb::Op::kNoteStyle: return "note_style";
    case pb::Op::kUndo: return "undo";
    case pb::Op::kRedo: return "redo";
    case pb::Op::kClear: return "clear";
    case pb::Op::kImageAdd: return "image_add";
    case pb::Op::kImageDelete: return "image_delete";
    case pb::Op::kShapeAdd: return "shape_add";
    case pb::Op::kShapeEdit: return "shape_edit";
    case pb::Op::kShapeDelete: return "shape_delete";
    case pb::Op::kTransform: return "transform";
    case pb::Op::kArrange: return "arrange";
    case pb::Op::BODY_NOT_SET: break;
    }
    return "empty";
}

} // namespace scrawl
