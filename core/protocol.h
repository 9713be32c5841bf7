#pragma once

// Protocol constants and the small helpers both sides use to build, parse and check envelopes.

#include "proto/scrawl.pb.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <optional>

namespace scrawl {

// Bump when a change is not wire compatible. Hello carries it; the server refuses others.
inline constexpr std::uint32_t kProtocolVersion = 4; // 2: stroke points in `path` fields
                                                     // 3: StrokeEnd carries the last points
                                                     // 4: images (ImageAdd, ImageDelete), note styles,
                                                     //    shapes and text (ShapeAdd/Edit/Delete)
inline constexpr const char *kAppVersion = "0.1.0";
// The port a server listens on, and an address without one means.
inline constexpr int kDefaultPort = 7777;

// Fatal errors close the WebSocket with 4000 + ErrorCode; the reason is the error's message.
inline constexpr int kCloseCodeBase = 4000;
inline int closeCodeFor(pb::ErrorCode code) { return kCloseCodeBase + int(code); }

// A refusal: which code, what to tell a person, and the limit's name when a limit was hit.
struct Problem
{
    pb::ErrorCode code = pb::PROTOCOL;
    QString message;
    QString limit;
};

Problem limitProblem(const char *limitName, const QString &message);

// The key of a stroke or note on a wall: its author in the high half, the author's id below.
inline std::uint64_t objectKey(std::uint64_t author, std::uint32_t id)
{
    return (author << 32) | id;
}
inline std::uint64_t keyAuthor(std::uint64_t key) { return key >> 32; }

QByteArray serialize(const pb::Envelope &envelope);
bool parse(const QByteArray &bytes, pb::Envelope *envelope);
// parse() for what a peer sent: fields this schema does not know are dropped at every depth
// (discardUnknownFields), so that nothing the server does not understand is checked, stored
// or relayed.
bool parseInput(const QByteArray &bytes, pb::Envelope *envelope);
// Message::DiscardUnknownFields() (recursive, through oneofs and repeated messages), with a
// generated-code fast path for the messages of a stroke and cursors: reflection costs several
// times the parse itself, and those messages are nearly all of the traffic.
void discardUnknownFields(pb::Envelope *envelope);

// serialize() of an Envelope{op} with the op's client_op_id left out, cut out of the bytes
// serialize() wrote for it (fields in number order: seq, then client_op_id) instead of
// serialising again. Bytes without a client op id come back as they are.
QByteArray withoutClientOpId(const QByteArray &opEnvelope);

pb::Envelope errorEnvelope(const Problem &problem, std::uint64_t clientOpId = 0,
                           bool fatal = false);

std::string toWire(const QString &text);
QString fromWire(const std::string &bytes);

// Decodes a text field that must be valid UTF-8 of at most maxChars characters, without
// control characters other than newline and tab (when multiline). `field` names it in errors.
struct TextRules
{
    const char *field;
    int maxChars;
    const char *limitName;
    bool allowEmpty = false;
    bool multiline = false;
};
std::optional<Problem> decodeText(const std::string &bytes, const TextRules &rules,
                                  QString *out);

const char *opKindName(const pb::Op &op);

} // namespace scrawl
