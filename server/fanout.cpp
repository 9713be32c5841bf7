#include "server/fanout.h"

#include "server/session.h"
#include "server/wsconnection.h"

namespace scrawl::fanout {

void broadcast(std::vector<Session *> members, const QByteArray &bytes, const Session *except)
{
    const QByteArray frame = WsConnection::frame(bytes);
    for (Session *s : members) {
        if (s != except)
            s->sendFrame(frame, bytes);
    }
}

void broadcastByAuthor(std::vector<Session *> members, std::uint64_t author, const QByteArray &authorBytes,
                       const QByteArray &othersBytes)
{
    const QByteArray authorFrame = WsConnection::frame(authorBytes);
    const QByteArray othersFrame = WsConnection::frame(othersBytes);
    for (Session *s : members) {
        if (s->userId() == author)
            s->sendFrame(authorFrame, authorBytes);
        else
            s->sendFrame(othersFrame, othersBytes);
    }
}

void broadcastEphemeral(std::vector<Session *> members, const QByteArray &bytes, const Session *except)
{
    const QByteArray frame = WsConnection::frame(bytes);
    for (Session *s : members) {
        if (s != except)
            s->sendEphemeralFrame(frame, bytes);
    }
}

qsizetype sendOp(std::vector<Session *> members, pb::Op op)
{
    const std::uint64_t author = op.author();
    const bool strokeBatch = op.has_stroke_points() || op.has_stroke_end();
    // A stroke's points and end go without their seq: every member has every op before them,
    // in order, so it is the one after the last (3-5 bytes of a frame of 3-4 points).
    if (strokeBatch)
        op.clear_seq();
    pb::Envelope env;
    *env.mutable_op() = std::move(op);
    // Serialised once; the same bytes go to every member, sender included (its ack).
    const QByteArray bytes = serialize(env);
    if (strokeBatch) {
        // A stroke's points and end are nobody's undo target: only their author needs the
        // client op id (to match the ack). The others get them up to 9 bytes lighter, a
        // tenth to a third of a batch of points.
        broadcastByAuthor(std::move(members), author, bytes, withoutClientOpId(bytes));
    } else {
        broadcast(std::move(members), bytes);
    }
    return bytes.size();
}

} // namespace scrawl::fanout
