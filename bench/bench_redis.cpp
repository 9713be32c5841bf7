// scrawl-bench redis-append: how many ops one Redis makes durable per second through Scrawl's
// shared log (server/redislog.h: the scrawl_append function checks the wall's epoch and the
// author's client op id, takes the next seq, XADDs and PUBLISHes), with the AOF fsynced before
// every reply (appendfsync always) on the disk, as a cluster runs it.
//
// Steps, each --seconds long, ops of --op-bytes:
//   one at a time  one server waits for each acknowledgement before the next: the latency of a
//                  durable append (p50, p99) and the rate a single writer gets;
//   pipelined      1, 2 and 3 servers (each its own pair of connections, as separate
//                  scrawl-servers have) keep --window appends in flight each, to one wall and
//                  spread over --walls walls: the rate Redis sustains.
// Every acknowledged op is checked: seqs of a wall come back gap-free and each once.

#include "bench/common.h"

#include "server/redislog.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <cstdio>
#include <map>
#include <memory>
#include <set>

namespace scrawl::bench {

namespace {

struct Redis
{
    QTemporaryDir dir;
    QProcess process;
    quint16 port = 0;

    explicit Redis(const QString &parent)
        : dir(parent + QStringLiteral("/scrawl-bench-redis-XXXXXX"))
    {
    }
    ~Redis()
    {
        process.kill();
        process.waitForFinished(5000);
    }

    void start(int cpu)
    {
        const QString exe = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
        if (exe.isEmpty())
            die("redis-server is not installed (scripts/deps installs it)");
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        port = probe.serverPort();
        probe.close();
        QStringList args{QStringLiteral("--port"), QString::number(port), QStringLiteral("--bind"),
                         QStringLiteral("127.0.0.1"), QStringLiteral("--dir"), dir.path(),
                         QStringLiteral("--appendonly"), QStringLiteral("yes"), QStringLiteral("--appendfsync"),
                         QStringLiteral("always"), QStringLiteral("--no-appendfsync-on-rewrite"), QStringLiteral("no"),
                         QStringLiteral("--maxmemory-policy"), QStringLiteral("noeviction"),
                         QStringLiteral("--save"), QString(), QStringLiteral("--logfile"),
                         dir.filePath(QStringLiteral("redis.log"))};
        if (cpu >= 0) {
            args.prepend(exe);
            args.prepend(QString::number(cpu));
            args.prepend(QStringLiteral("-c"));
            process.start(QStringLiteral("taskset"), args);
        } else {
            process.start(exe, args);
        }
        if (!process.waitForStarted(5000))
            die("redis-server did not start");
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 10000) {
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, port);
            if (s.waitForConnected(200)) {
                s.write("PING\r\n");
                if (s.waitForReadyRead(500) && s.readAll().startsWith("+PONG"))
                    return;
            }
            process.waitForFinished(50);
        }
        die("redis-server did not answer");
    }
};

std::unique_ptr<RedisWallLog> connectLog(quint16 port)
{
    QString error;
    auto log = std::make_unique<RedisWallLog>(*RedisAddress::parse(QStringLiteral("redis://127.0.0.1:%1").arg(port), &error));
    log->start();
    QElapsedTimer clock;
    clock.start();
    while (!log->isReady() && clock.elapsed() < 10000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    if (!log->isReady())
        die("could not connect to Redis: " + log->problem().toStdString());
    return log;
}

QByteArray openWall(RedisWallLog &log, const QString &wall)
{
    QByteArray epoch;
    bool done = false;
    log.open(wall, true, [&](std::optional<RedisWallLog::Opened> o, QString error) {
        if (!o)
            die("open failed: " + error.toStdString());
        epoch = o->head.epoch;
        done = true;
    });
    while (!done)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    return epoch;
}

struct Step
{
    double perSecond = 0;
    double p50Ms = 0;
    double p99Ms = 0;
    long long acknowledged = 0;
    long long failed = 0;
    bool gapFree = true;
};

// `servers` logs keep `window` appends in flight each for `seconds`, round robin over the walls.
Step runStep(std::vector<std::unique_ptr<RedisWallLog>> &servers, const std::vector<QString> &walls,
             const std::vector<QByteArray> &epochs, int window, double seconds, int opBytes)
{
    const QByteArray op(opBytes, 'o');
    Step step;
    std::vector<double> latencies;
    std::map<QString, std::set<std::uint64_t>> seqs;
    QElapsedTimer clock;
    clock.start();
    const qint64 endNs = qint64(seconds * 1e9);
    bool sending = true;
    int inFlight = 0;
    std::uint64_t next = 0;
    std::function<void(size_t)> send = [&](size_t server) {
        const size_t w = size_t(next++ % walls.size());
        const qint64 sentNs = clock.nsecsElapsed();
        ++inFlight;
        servers[server]->append(walls[w], epochs[w], server + 1, 0, op, [&, server, w, sentNs](RedisWallLog::Appended r) {
            --inFlight;
            if (r.status == RedisWallLog::Appended::Status::Ok) {
                ++step.acknowledged;
                latencies.push_back(double(clock.nsecsElapsed() - sentNs) / 1e6);
                if (!seqs[walls[w]].insert(r.seq).second)
                    step.gapFree = false;
            } else {
                ++step.failed;
            }
            if (sending && clock.nsecsElapsed() < endNs)
                send(server);
            else
                sending = false;
        });
    };
    for (size_t s = 0; s < servers.size(); ++s) {
        for (int i = 0; i < window; ++i)
            send(s);
    }
    while (inFlight > 0)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const double elapsed = double(clock.nsecsElapsed()) / 1e9;
    step.perSecond = double(step.acknowledged) / elapsed;
    step.p50Ms = percentile(latencies, 50);
    step.p99Ms = percentile(latencies, 99);
    // Each wall's seqs this step: consecutive (the step began after the last one's end).
    for (const auto &[wall, s] : seqs) {
        if (!s.empty() && *s.rbegin() - *s.begin() + 1 != s.size())
            step.gapFree = false;
    }
    return step;
}

} // namespace

int runRedisAppend(const Args &args)
{
    const double seconds = args.number("seconds", 5);
    const int window = int(args.integer("window", 128));
    const int wallCount = int(args.integer("walls", 64));
    const int opBytes = int(args.integer("op-bytes", 64));
    const std::string markdown = args.text("markdown", "");
    Redis redis(QString::fromStdString(args.text("data-parent", "/var/tmp")));
    redis.start(int(args.integer("server-cpu", 0)));
    pinSelf(int(args.integer("client-cpu", 1)));

    std::vector<std::unique_ptr<RedisWallLog>> servers;
    for (int i = 0; i < 3; ++i)
        servers.push_back(connectLog(redis.port));
    std::vector<QString> one{QStringLiteral("bench-one")};
    std::vector<QByteArray> oneEpoch{openWall(*servers[0], one[0])};
    std::vector<QString> many;
    std::vector<QByteArray> manyEpochs;
    for (int i = 0; i < wallCount; ++i) {
        many.push_back(QStringLiteral("bench-wall-%1").arg(i));
        manyEpochs.push_back(openWall(*servers[0], many.back()));
    }

    struct Row
    {
        std::string name;
        int servers;
        int walls;
        int window;
        Step step;
    };
    std::vector<Row> rows;
    auto run = [&](const std::string &name, int count, bool spread, int w) {
        std::vector<std::unique_ptr<RedisWallLog>> use;
        for (int i = 0; i < count; ++i)
            use.push_back(std::move(servers[size_t(i)]));
        const Step step = spread ? runStep(use, many, manyEpochs, w, seconds, opBytes)
                                 : runStep(use, one, oneEpoch, w, seconds, opBytes);
        for (int i = 0; i < count; ++i)
            servers[size_t(i)] = std::move(use[size_t(i)]);
        rows.push_back({name, count, spread ? wallCount : 1, w, step});
        std::printf("%-34s %9.0f appends/s  p50 %6.2f ms  p99 %6.2f ms  failed %lld  %s\n", name.c_str(),
                    step.perSecond, step.p50Ms, step.p99Ms, step.failed, step.gapFree ? "gap-free" : "GAPS");
        char json[512];
        std::snprintf(json, sizeof json,
                      "{\"bench\":\"redis_append\",\"step\":\"%s\",\"servers\":%d,\"walls\":%d,\"window\":%d,"
                      "\"per_second\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"acknowledged\":%lld,\"failed\":%lld,"
                      "\"gap_free\":%s,\"op_bytes\":%d,\"seconds\":%.1f}",
                      name.c_str(), count, spread ? wallCount : 1, w, step.perSecond, step.p50Ms, step.p99Ms,
                      step.acknowledged, step.failed, step.gapFree ? "true" : "false", opBytes, seconds);
        result(json);
    };
    run("one at a time, 1 server, 1 wall", 1, false, 1);
    for (int count = 1; count <= 3; ++count)
        run("pipelined, " + std::to_string(count) + " server(s), 1 wall", count, false, window);
    for (int count = 1; count <= 3; ++count)
        run("pipelined, " + std::to_string(count) + " server(s), " + std::to_string(wallCount) + " walls", count,
            true, window);

    bool ok = true;
    for (const Row &r : rows)
        ok = ok && r.step.gapFree && r.step.failed == 0;
    if (!markdown.empty()) {
        if (FILE *f = std::fopen(markdown.c_str(), "w")) {
            std::fprintf(f, "\n## Durable appends to one Redis (issue 18)\n\n"
                            "`scrawl-bench redis-append`: one redis-server (7.0, `appendfsync always`, its AOF on "
                            "the disk) and Scrawl's append function, ops of %d bytes, %.0f s a step, Redis and "
                            "the servers on separate cores. A pipelined server keeps %d appends in flight.\n\n"
                            "| step | servers | walls | appends/s | p50 ms | p99 ms | seqs gap-free, each once |\n"
                            "|---|---|---|---|---|---|---|\n",
                         opBytes, seconds, window);
            for (const Row &r : rows)
                std::fprintf(f, "| %s | %d | %d | %.0f | %.2f | %.2f | %s |\n", r.name.c_str(), r.servers, r.walls,
                             r.step.perSecond, r.step.p50Ms, r.step.p99Ms,
                             r.step.gapFree && r.step.failed == 0 ? "yes" : "NO");
            std::fclose(f);
        }
    }
    return ok ? 0 : 1;
}

} // namespace scrawl::bench
