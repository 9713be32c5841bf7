// Fuzz target: bytes -> the server's real input path -> what clients receive and what storage
// keeps -> what clients do with it.
//
// The input is a script of records, each [header: 1 byte][length: 2 bytes LE][payload] (the last
// record takes what is left). The header's low two bits name the actor; its high six bits
// repeat an op (1 + 4 * bits times, with consecutive client op ids). Actors 0..2 are three client
// connections sending the payload to the server; actor 3 is a hostile server sending the payload
// to a client.
//
// The server is the real one, not a copy of its steps: a WallServer with SQLite storage in a
// temporary directory, and a socket-free Session per client (Session::receive: the same size
// limit, parse, dispatch -> WallServer::join / submit -> WallModel path as a WebSocket message;
// what the session would send is collected). A connection closed by a fatal error is replaced by
// a new one at that client's next record. Invariants checked, each a crash when broken:
//  - every refusal names itself: a message, and for LIMIT_EXCEEDED / WALL_FULL the limit's name,
//    which the message mentions;
//  - everything the server sends parses and carries no field the schema does not know; a
//    stroke's points and end carry no time; every op and cursor is by a user the server welcomed;
//  - a client that was given a whole wall (a snapshot, or every op) and applied everything sent
//    since has the server's wall, byte for byte (determinism);
//  - a server restarted on the same storage has every wall exactly as the live one had it;
//  - whatever a hostile server sends, a client's model never crashes, and snapshot -> load ->
//    snapshot is a fixed point.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"
#include "core/wallmodel.h"
#include "server/session.h"
#include "server/wallserver.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QDir>
#include <QLoggingCategory>
#include <QString>
#include <QTemporaryDir>
#include <QThreadPool>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace pb = scrawl::pb;
namespace limits = scrawl::limits;
using scrawl::Session;
using scrawl::WallModel;
using scrawl::WallServer;

namespace {

constexpr int kClients = 3;
constexpr int kHostileServer = 3;

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

bool hasUnknown(const google::protobuf::Message &message)
{
    const auto *reflection = message.GetReflection();
    if (!reflection->GetUnknownFields(message).empty())
        return true;
    std::vector<const google::protobuf::FieldDescriptor *> fields;
    reflection->ListFields(message, &fields);
    for (const auto *f : fields) {
        if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE)
            continue;
        if (!f->is_repeated()) {
            if (hasUnknown(reflection->GetMessage(message, f)))
                return true;
            continue;
        }
        for (int i = 0; i < reflection->FieldSize(message, f); ++i) {
            if (hasUnknown(reflection->GetRepeatedMessage(message, f, i)))
                return true;
        }
    }
    return false;
}

// A refusal the server sent: it must name the problem.
void checkError(const pb::Error &e)
{
    const QString message = scrawl::fromWire(e.message());
    const QString limit = QString::fromStdString(e.limit());
    require(!message.isEmpty(), "a refusal without a message");
    if (e.code() == pb::LIMIT_EXCEEDED || e.code() == pb::WALL_FULL) {
        require(!limit.isEmpty(), "a limit refusal that names no limit");
        require(message.contains(limit), "a limit refusal whose message omits the limit's name");
    }
}

// The process's application and a directory for the runs' databases (libFuzzer runs input after
// input in one process; each run gets a database of its own, removed after it).
struct Process
{
    Process()
    {
        static int argc = 1;
        static char name[] = "fuzz_envelope";
        static char *argv[] = {name, nullptr};
        app = std::make_unique<QCoreApplication>(argc, argv);
        QLoggingCategory::setFilterRules(QStringLiteral("scrawl.*=false"));
        // A RAM disk when there is one: every commit syncs, and the disk is not what is fuzzed.
        const QString shm = QStringLiteral("/dev/shm");
        dir = QDir(shm).exists()
            ? std::make_unique<QTemporaryDir>(shm + QStringLiteral("/fuzz_envelope-XXXXXX"))
            : std::make_unique<QTemporaryDir>();
        require(dir->isValid(), "no temporary directory");
    }
    std::unique_ptr<QCoreApplication> app;
    std::unique_ptr<QTemporaryDir> dir;
    int runs = 0;
};

Process &process()
{
    static Process p;
    return p;
}

// One client connection and what it saw.
struct Client
{
    std::unique_ptr<Session> session;
    bool closed = false;
    std::vector<QByteArray> inbox;
    size_t read = 0;
    // The wall this client follows, when the server gave it the whole wall (a snapshot, or every
    // op from the start) and everything since.
    std::optional<std::string> wall;
    WallModel model;
    std::uint64_t lastJoinSeq = 0; // of the Join it sent last
};

class Script
{
public:
    Script();
    ~Script();
    // One message from a client; `settle` runs what the server queued (its group commit) after
    // it, as the end of an event-loop pass would.
    void toServer(int actor, const QByteArray &bytes, bool settle = true);
    void toClient(const QByteArray &bytes);
    void finish();

private:
    std::unique_ptr<WallServer> startServer();
    void connect(Client &c);
    void settle();
    void readInbox(Client &c);

    QString m_dataDir;
    std::unique_ptr<WallServer> m_server;
    Client m_clients[kClients];
    std::set<std::uint64_t> m_users; // every user id the server welcomed
};

Script::Script()
{
    Process &p = process();
    m_dataDir = p.dir->filePath(QStringLiteral("run-%1").arg(++p.runs));
    m_server = startServer();
}

Script::~Script()
{
    for (Client &c : m_clients)
        c.session.reset();
    m_server.reset();
    QDir(m_dataDir).removeRecursively();
}

std::unique_ptr<WallServer> Script::startServer()
{
    scrawl::ServerOptions options;
    options.host = QHostAddress::LocalHost;
    options.port = 0;
    options.dataDir = m_dataDir;
    options.passwordIterations = 1; // the thread pool's hashing is not what is fuzzed
    auto server = std::make_unique<WallServer>(options);
    QString error;
    if (!server->start(&error)) {
        std::fprintf(stderr, "%s\n", qPrintable(error));
        broken("the server does not start");
    }
    return server;
}

void Script::connect(Client &c)
{
    c.session.reset();
    c = Client();
    c.session = std::make_unique<Session>(
        m_server.get(), QHostAddress::LocalHost,
        [&c](const QByteArray &bytes) { c.inbox.push_back(bytes); }, [&c](int) { c.closed = true; });
}

// Runs what the server queued: group commits, password checks on the thread pool and their
// answers, snapshot parts.
void Script::settle()
{
    for (int i = 0; i < 3; ++i) {
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
    }
    m_server->flush();
    for (Client &c : m_clients)
        readInbox(c);
}

void Script::readInbox(Client &c)
{
    for (; c.read < c.inbox.size(); ++c.read) {
        pb::Envelope env;
        require(scrawl::parse(c.inbox[c.read], &env), "the server sent something that does not parse");
        require(!hasUnknown(env), "the server sent a field the schema does not know");
        switch (env.msg_case()) {
        case pb::Envelope::kWelcome:
            m_users.insert(env.welcome().user_id());
            break;
        case pb::Envelope::kError:
            checkError(env.error());
            break;
        case pb::Envelope::kJoined: {
            const pb::Joined &joined = env.joined();
            c.wall.reset();
            c.model = WallModel();
            if (joined.has_snapshot()) {
                if (c.model.load(joined.snapshot()))
                    broken("a joiner cannot load the server's snapshot");
                require(bytesOf(c.model.snapshot()) == bytesOf(joined.snapshot()),
                        "a joiner's wall differs from the server's snapshot");
                c.wall = joined.wall();
            } else if (c.lastJoinSeq == 0) {
                c.wall = joined.wall();
            }
            for (const pb::Op &op : joined.ops())
                c.model.apply(op);
            break;
        }
        case pb::Envelope::kOp: {
            pb::Op op = env.op();
            // A stroke's points and end come unnumbered: the op after the last.
            if (op.seq() == 0) {
                require(op.has_stroke_points() || op.has_stroke_end(), "an op without its number");
                op.set_seq(c.model.seq() + 1);
            }
            require(m_users.count(op.author()), "an op by a user the server never welcomed");
            require(op.time_ms() == 0 || !(op.has_stroke_points() || op.has_stroke_end()),
                    "a stroke's points or end carry a time");
            // A resend is answered with the stored op again: already applied.
            if (op.seq() > c.model.seq())
                c.model.apply(op);
            break;
        }
        case pb::Envelope::kCursor:
            require(m_users.count(env.cursor().user_id()), "a cursor of a user the server never welcomed");
            break;
        default:
            break;
        }
    }
}

void Script::toServer(int actor, const QByteArray &bytes, bool settleAfter)
{
    Client &c = m_clients[actor];
    if (!c.session || c.closed)
        connect(c);
    pb::Envelope env;
    if (scrawl::parse(bytes, &env) && env.has_join())
        c.lastJoinSeq = env.join().last_seq();
    c.session->receive(bytes);
    if (settleAfter)
        settle();
}

// A hostile or broken server: the client applies what it is given without checks and must
// survive it.
void Script::toClient(const QByteArray &bytes)
{
    pb::Envelope env;
    if (!scrawl::parse(bytes, &env))
        return;
    WallModel client = m_clients[0].model;
    if (env.has_joined()) {
        const pb::Joined &joined = env.joined();
        if (joined.has_snapshot())
            client.load(joined.snapshot()); // a damaged snapshot leaves the wall as it was
        for (const pb::Op &op : joined.ops())
            client.apply(op);
    } else if (env.has_op()) {
        if (env.op().seq() == 0) // numbered as the app numbers it
            env.mutable_op()->set_seq(client.seq() + 1);
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
    settle();
    std::map<QString, std::string> live;
    for (scrawl::Room *room : m_server->loadedRooms())
        live[room->name] = bytesOf(room->model.snapshot());
    // Every client following a wall it is still on has that wall.
    for (Client &c : m_clients) {
        if (!c.session || c.closed || !c.wall || !c.session->room())
            continue;
        const QString name = c.session->room()->name;
        if (scrawl::toWire(name) != *c.wall)
            continue;
        require(bytesOf(c.model.snapshot()) == live[name], "a client that saw every op has another wall");
    }
    // Restart on the same storage: every wall comes back as it was.
    for (Client &c : m_clients)
        c.session.reset();
    m_server.reset();
    m_server = startServer();
    for (const auto &[name, bytes] : live) {
        scrawl::Problem problem;
        scrawl::Room *room = m_server->room(name, false, &problem);
        require(room != nullptr, "a wall the live server had is not in storage");
        require(bytesOf(room->model.snapshot()) == bytes, "the restarted server has another wall");
    }
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
        // inputs reach the undo history's depth and the wall's per-stroke limits. The repeats
        // arrive together, as a burst read in one event-loop pass: one group commit.
        const int repeat = 1 + (header >> 2) * 4;
        pb::Envelope env;
        if (repeat == 1 || !scrawl::parse(payload, &env) || !env.has_op()) {
            script.toServer(actor, payload);
            continue;
        }
        const std::uint64_t first = env.op().client_op_id();
        for (int i = 0; i < repeat; ++i) {
            env.mutable_op()->set_client_op_id(first + std::uint64_t(i));
            script.toServer(actor, scrawl::serialize(env), i + 1 == repeat);
        }
    }
    script.finish();
    return 0;
}
