#pragma once

// Sending to the people on a wall. Server frames are not masked, so a message is framed once and
// the same bytes are queued, by reference, on every member's connection (WsHub corks them: each
// member's share of an event-loop pass leaves in one write).

#include "core/protocol.h"

#include <QByteArray>

#include <cstdint>
#include <vector>

namespace scrawl {

class Session;

namespace fanout {

// To every member but `except`. The list is taken by value: a send may cut a slow reader, which
// leaves the wall.
void broadcast(std::vector<Session *> members, const QByteArray &bytes, const Session *except = nullptr);
// The author's sessions get authorBytes, everyone else othersBytes.
void broadcastByAuthor(std::vector<Session *> members, std::uint64_t author, const QByteArray &authorBytes,
                       const QByteArray &othersBytes);
// Cursors and the like: dropped for a member whose connection is backed up, never queued behind
// the ops (Session::sendEphemeralFrame).
void broadcastEphemeral(std::vector<Session *> members, const QByteArray &bytes, const Session *except);
// An op that landed (its seq set): to every member, its author's sessions taking it as the ack.
// Returns the size of the message, which is what the op adds to what a restart would replay.
qsizetype sendOp(std::vector<Session *> members, pb::Op op);

} // namespace fanout
} // namespace scrawl
