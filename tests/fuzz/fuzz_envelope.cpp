// Fuzz target: bytes -> Envelope -> what the server does with it -> what clients do with the result.
//
// The input is a script of records, each [header: 1 byte][length: 2 bytes LE][payload] (the last
// record takes what is left). The header's low two bits name the actor; its high six bits
// repeat an op (1 + 4 * bits times, with consecutive client op ids). Actors 0..2 are three client connections (user ids 1..3) sending
// the payload to the server; actor 3 is a hostile server sending the payload to a client.
// The server side follows server/session.cpp and server/wallserver.cpp step for step without
// sockets or storage: size limit, parse, Hello / Join order, op ids, WallModel::check, stamping,
// apply. Invariants checked, each a crash when broken:
//  - every refusal names itself: a message, and for LIMIT_EXCEEDED / WALL_FULL the limit's name,
//    which the message mentions;
//  - an accepted op broadcast to a client and applied there gives the server's wall, byte for
//    byte (determinism);
//  - a model reloaded from the snapshot (a server restart) accepts and refuses exactly what the
//    live model does, and ends with the same snapshot;
//  - a late joiner loading the snapshot has the server's wall;
//  - whatever a hostile server sends, a client's model never crashes, and snapshot -> load ->
//    snapshot is a fixed point.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"
#include "core/wallmodel.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

namespace pb = scrawl::pb;
namespace limits = scrawl::limits;
using scrawl::Problem;
using scrawl::WallModel;

namespace {

constexpr int kClients = 3;
constexpr int kHostileServer = 3;
constexpr scrawl::TextRules kNameRules{"display name", limits::kMaxNameChars,
                                       limits::kMaxNameCharsName, false, false};
constexpr scrawl::TextRules kWallNameRules{"wall name", limits::kMaxWallNameChars,
                                           limits::kMaxWallNameCharsName, false, false};

[[noreturn]] void broken(const char *what)
{
    std::fprintf(stderr, "fuzz_envelope: invariant broken: %s\n", what);
    std::abort();
}

void require(bool ok, const char *what)
{
    if (!ok)
        broken(what);
}

std::string bytesOf(const pb::WallSnapshot &snap)
{
    std::string out;
    snap.SerializeToString(&out);
    return out;
}

// What the server sends for a refusal; checks that it names the problem.
void refuse(const Problem &p, std::uint64_t clientOpId = 0, bool fatal = false)
{
    require(!p.message.isEmpty(), "a refusal without a message");
    if (p.code == pb::LIMIT_EXCEEDED || p.code == pb::WALL_FULL) {
        require(!p.limit.isEmpty(), "a limit refusal that names no limit");
        require(p.message.contains(p.limit), "a limit refusal whose message omits the limit's name");
    }
    const QByteArray wire = scrawl::serialize(scrawl::errorEnvelope(p, clientOpId, fatal));
    pb::Envelope back;
    require(scrawl::parse(wire, &back) && back.has_error(), "an Error envelope does not parse");
    require(back.error().code() == p.code, "an Error envelope changes its code on the wire");
}

bool sameVerdict(const std::optional<Problem> &a, const std::optional<Problem> &b)
{
    if (a.has_value() != b.has_value())
        return false;
    return !a || (a->code == b->code && a->limit == b->limit);
}

struct Connection
{
    bool helloDone = false;
    bool joined = false;
    std::uint64_t lastClientOp = 0; // per author on the wall; the session keeps it across reconnects
};

class Script
{
public:
    void toServer(int actor, const QByteArray &bytes);
    void toClient(const QByteArray &bytes);
    void finish();

private:
    void fail(int actor, const Problem &p)
    {
        refuse(p, 0, true);
        m_conn[actor].helloDone = false; // closed; the client reconnects with a new connection
        m_conn[actor].joined = false;
    }
    void onOp(int actor, pb::Op op);
    void restart();
    void lateJoin();

    Connection m_conn[kClients];
    WallModel m_live;     // the server's wall
    WallModel m_replica;  // the same wall, reloaded from a snapshot now and then (restarts)
    WallModel m_follower; // a client that has seen every broadcast since the wall began
    int m_accepted = 0;
    std::uint64_t m_timeMs = 1700000000000;
};

void Script::toServer(int actor, const QByteArray &bytes)
{
    Connection &c = m_conn[actor];
    if (bytes.size() > limits::kMaxMessageBytes)
        return fail(actor, scrawl::limitProblem(limits::kMaxMessageBytesName,
                                                QStringLiteral("too big for %1")
                                                    .arg(QLatin1String(limits::kMaxMessageBytesName))));
    pb::Envelope env;
    if (!scrawl::parse(bytes, &env))
        return fail(actor, {pb::PROTOCOL, QStringLiteral("not an envelope"), {}});
    if (!c.helloDone && env.msg_case() != pb::Envelope::kHello)
        return fail(actor, {pb::HELLO_REQUIRED, QStringLiteral("Hello first"), {}});

    switch (env.msg_case()) {
    case pb::Envelope::kHello: {
        if (c.helloDone)
            return fail(actor, {pb::HELLO_REPEATED, QStringLiteral("Hello twice"), {}});
        if (env.hello().protocol_version() != scrawl::kProtocolVersion)
            return fail(actor, {pb::VERSION_MISMATCH, QStringLiteral("version"), {}});
        QString name;
        if (auto p = scrawl::decodeText(env.hello().display_name(), kNameRules, &name))
            return fail(actor, *p);
        require(name.size() <= limits::kMaxNameChars, "a display name over its limit passed");
        c.helloDone = true;
        return;
    }
    case pb::Envelope::kJoin: {
        QString wall;
        if (auto p = scrawl::decodeText(env.join().wall(), kWallNameRules, &wall))
            return refuse(*p);
        require(!wall.trimmed().isEmpty(), "an empty wall name passed");
        c.joined = true;
        lateJoin();
        return;
    }
    case pb::Envelope::kOp:
        return onOp(actor, env.op());
    case pb::Envelope::kCursor:
        if (!c.joined)
            return refuse({pb::NOT_JOINED, QStringLiteral("join first"), {}});
        if (!scrawl::isValidCoordinate(env.cursor().x()) || !scrawl::isValidCoordinate(env.cursor().y()))
            return refuse({pb::INVALID_OP, QStringLiteral("cursor outside (limit %1)")
                                               .arg(QLatin1String(limits::kMaxCoordinateName)),
                           QString::fromLatin1(limits::kMaxCoordinateName)});
        return;
    case pb::Envelope::kHistoryRequest:
        if (!c.joined)
            return refuse({pb::NOT_JOINED, QStringLiteral("join first"), {}});
        return;
    default:
        return fail(actor, {pb::PROTOCOL, QStringLiteral("a server-only message"), {}});
    }
}

void Script::onOp(int actor, pb::Op op)
{
    Connection &c = m_conn[actor];
    const std::uint64_t author = std::uint64_t(actor) + 1;
    const std::uint64_t clientOpId = op.client_op_id();
    if (!c.joined)
        return refuse({pb::NOT_JOINED, QStringLiteral("join first"), {}}, clientOpId);
    if (clientOpId == 0)
        return refuse({pb::INVALID_OP, QStringLiteral("op id 0"), {}});
    if (clientOpId <= c.lastClientOp)
        return; // a resend: the server answers with the stored op and applies nothing

    const auto verdict = m_live.check(op, author);
    const auto replicaVerdict = m_replica.check(op, author);
    if (!sameVerdict(verdict, replicaVerdict)) {
        std::fprintf(stderr, "live: %s\nreloaded: %s\n",
                     verdict ? qPrintable(verdict->message) : "accepted",
                     replicaVerdict ? qPrintable(replicaVerdict->message) : "accepted");
        broken("a wall reloaded from its snapshot judges an op differently from the live wall");
    }
    if (verdict)
        return refuse(*verdict, clientOpId);

    op.set_seq(m_live.seq() + 1);
    op.set_author(author);
    op.set_time_ms(++m_timeMs);
    if (op.has_chat()) {
        op.mutable_chat()->set_author_name("fuzz");
        op.mutable_chat()->set_author_color(0x123456);
    }
    m_live.apply(op);
    m_replica.apply(op);
    c.lastClientOp = clientOpId;
    require(m_live.seq() == op.seq(), "an accepted op did not advance the wall's seq");

    // The broadcast, serialised once, reaches the follower like any client.
    pb::Envelope env;
    *env.mutable_op() = std::move(op);
    const QByteArray wire = scrawl::serialize(env);
    pb::Envelope received;
    require(scrawl::parse(wire, &received) && received.has_op(), "a broadcast op does not parse");
    m_follower.apply(received.op());

    // Restart now and then (decided by the op's own id, so the corpus steers it).
    if (++m_accepted % 7 == 0 || clientOpId % 5 == 0)
        restart();
}

void Script::restart()
{
    const std::string bytes = bytesOf(m_live.snapshot());
    pb::WallSnapshot stored;
    require(stored.ParseFromString(bytes), "a stored snapshot does not parse");
    WallModel reloaded;
    if (auto p = reloaded.load(stored))
        broken("the server's own snapshot does not load");
    require(bytesOf(reloaded.snapshot()) == bytes, "a reloaded wall snapshots differently");
    require(reloaded.seq() == m_live.seq(), "a reloaded wall has another seq");
    require(reloaded.totalPoints() == m_live.totalPoints(), "a reloaded wall counts other points");
    m_replica = std::move(reloaded);
}

void Script::lateJoin()
{
    pb::Envelope env;
    pb::Joined *joined = env.mutable_joined();
    joined->set_wall("fuzz");
    joined->set_head_seq(m_live.seq());
    joined->set_wall_full(m_live.isFull());
    *joined->mutable_snapshot() = m_live.snapshot();
    const QByteArray wire = scrawl::serialize(env);
    pb::Envelope received;
    require(scrawl::parse(wire, &received) && received.has_joined(), "Joined does not parse");
    WallModel client;
    if (client.load(received.joined().snapshot()))
        broken("a joiner cannot load the server's snapshot");
    require(bytesOf(client.snapshot()) == bytesOf(received.joined().snapshot()),
            "a joiner's wall differs from the server's");
}

// A hostile or broken server: the client applies what it is given without checks and must
// survive it.
void Script::toClient(const QByteArray &bytes)
{
    pb::Envelope env;
    if (!scrawl::parse(bytes, &env))
        return;
    WallModel client = m_follower;
    if (env.has_joined()) {
        const pb::Joined &joined = env.joined();
        if (joined.has_snapshot())
            client.load(joined.snapshot()); // a damaged snapshot leaves the wall as it was
        for (const pb::Op &op : joined.ops())
            client.apply(op);
    } else if (env.has_op()) {
        client.apply(env.op());
    } else if (env.has_error()) {
        scrawl::fromWire(env.error().message());
        return;
    } else {
        return;
    }
    for (const auto &s : client.strokes())
        s.bounds();
    const std::string once = bytesOf(client.snapshot());
    pb::WallSnapshot parsed;
    require(parsed.ParseFromString(once), "a client's snapshot does not parse");
    WallModel again;
    if (again.load(parsed))
        broken("a client's own snapshot does not load");
    require(bytesOf(again.snapshot()) == once, "snapshot -> load -> snapshot is not a fixed point");
}

void Script::finish()
{
    const std::string live = bytesOf(m_live.snapshot());
    require(bytesOf(m_follower.snapshot()) == live, "a client that saw every op has another wall");
    require(bytesOf(m_replica.snapshot()) == live, "the restarted server has another wall");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size)
{
    Script script;
    size_t pos = 0;
    while (pos < size) {
        const std::uint8_t header = data[pos];
        const int actor = header % 4;
        ++pos;
        size_t length = 0;
        if (pos + 2 <= size) {
            length = size_t(data[pos]) | (size_t(data[pos + 1]) << 8);
            pos += 2;
        }
        length = std::min(length, size - pos);
        const QByteArray payload(reinterpret_cast<const char *>(data + pos), qsizetype(length));
        pos += length;
        if (actor == kHostileServer) {
            script.toClient(payload);
            continue;
        }
        // The header's high bits repeat an op with the following client op ids, so that short
        // inputs reach the undo history's depth and the wall's per-stroke limits.
        const int repeat = 1 + (header >> 2) * 4;
        pb::Envelope env;
        if (repeat == 1 || !scrawl::parse(payload, &env) || !env.has_op()) {
            script.toServer(actor, payload);
            continue;
        }
        const std::uint64_t first = env.op().client_op_id();
        for (int i = 0; i < repeat; ++i) {
            env.mutable_op()->set_client_op_id(first + std::uint64_t(i));
            script.toServer(actor, scrawl::serialize(env));
        }
    }
    script.finish();
    return 0;
}
