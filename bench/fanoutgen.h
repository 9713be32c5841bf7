#pragma once

// The fan-out load generator of `scrawl-bench fanout`: one wall (room), N connected clients, P of
// them publishing at a fixed open-loop rate, every member checking that every publisher's ops
// arrive (counted per publisher: lost, duplicated, out of order) and timing them.
//
// One thread on epoll with RawWs connections (no QWebSocket), pinned to its own core. Latency runs
// from the *intended* send time of the open-loop schedule, so a late generator or a backed-up
// server both count. The generator stays bounded whatever the server does: when a publisher's
// socket does not take what it has (the server stopped reading it), its next ops are not queued
// but counted as refused by backpressure; latencies go into a fixed-size histogram.

#include "bench/common.h"
#include "bench/rawws.h"
#include "core/points.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace scrawl::bench {

// Latency percentiles in constant memory: buckets 1 % wide (log scale) from 1 us to hours. An
// overload step of 30 s at millions of deliveries a second would need gigabytes of samples.
class LatencyHistogram
{
public:
    LatencyHistogram();
    void clear();
    void add(double ms);
    std::uint64_t count() const { return m_count; }
    double percentile(double p) const; // p in [0, 100]; within 0.5 % of the exact value
    double max() const { return m_max; }

private:
    std::vector<std::uint64_t> m_buckets;
    std::uint64_t m_count = 0;
    double m_max = 0;
};

struct StepResult
{
    double offeredOps = 0;        // ops/s the schedule called for (sent + refused)
    double offeredDeliveries = 0; // ops/s x N
    double delivered = 0;         // deliveries/s received in the window
    double serverCpu = 0;         // s in the window
    double generatorCpu = 0;      // s in the window
    double window = 0;            // s
    std::uint64_t deliveries = 0;
    std::uint64_t errors = 0;     // Scrawl's Error messages (e.g. a rate refused)
    double p50 = 0, p99 = 0, p999 = 0, max = 0; // ms, of what was delivered
    std::uint64_t latencySamples = 0; // deliveries of ops sent in the window (0: no percentiles)
    bool drained = true;          // everything sent arrived before the step ended
    std::uint64_t sentOps = 0;
    std::uint64_t refusedOps = 0; // not sent: the publisher's socket was full (backpressure)
    std::uint64_t serverRefusedOps = 0; // sent, and refused by the server with an Error naming it
    // Lost for sure: ops a member never got although a later one (by the publisher's op id, or
    // by Scrawl's sequence number) reached it.
    std::uint64_t lost = 0;
    // Deliveries owed to members still connected that had not arrived when the drain gave up
    // (2 s without any arriving, or its time up): lost, or still queued in the server.
    std::uint64_t undelivered = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t outOfOrder = 0; // arrived with an op id not above the last from its publisher
    int closed = 0;               // clients whose connection the server closed during the step
    std::int64_t rssBefore = 0, rssPeak = 0, rssEnd = 0; // bytes; end: after the drain
};

class Fanout
{
public:
    // The fan-out mix: each publisher draws strokes as the app sends them (StrokeBegin with the
    // first point, StrokePoints batched as app/wallclient.cpp batches them, StrokeEnd with the
    // rest; bench/strokegen.h) and every tenth op is a chat line instead.
    Fanout(ServerKind kind, std::uint16_t port, int clients, int publishers);
    // Members spread over several servers of one wall (a cluster's): client i connects to
    // ports[i % ports.size()], publishers among them.
    Fanout(ServerKind kind, std::vector<std::uint16_t> ports, int clients, int publishers);
    ~Fanout();

    void connectAll();
    // Open-loop run at `rate` ops/s for warmup + window seconds, then drain: until everything
    // arrived, nothing arrived for 2 s, or drainSeconds passed. Samples the server's RSS every
    // 100 ms throughout.
    StepResult step(double rate, double warmup, double window, const ServerProcess &server,
                    double drainSeconds = 30);
    // The same over several server processes: their CPU time and memory summed.
    StepResult step(double rate, double warmup, double window, const std::vector<ServerProcess> &servers,
                    double drainSeconds = 30);
    // Serves the sockets until nothing arrived for quietMs (at most capMs).
    void settle(int quietMs, int capMs);
    // Serves the sockets until the server's RSS changed by less than 1 % over a second (at most
    // capMs). Returns the RSS then; *settled: whether it did settle.
    std::int64_t settleRss(const ServerProcess &server, int capMs, bool *settled);
    // While set (not null): (send time from the window's start in ns, latency in ms) of every
    // delivery in the window.
    void recordSeries(std::vector<std::pair<std::int64_t, double>> *series) { m_series = series; }
    void closeAll();

    int closedCount() const { return m_closed; }
    // The reasons the server gave for closing clients and its error messages, with counts.
    const std::map<std::string, int> &closeReasons() const { return m_closeReasons; }
    const std::map<std::string, int> &errorMessages() const { return m_errorMessages; }

private:
    struct Conn;
    void publish(Conn &c, std::int64_t intended);
    void flush(Conn &c);
    void poll(std::int64_t timeoutNs);
    void markClosed(Conn &c, const std::string &why);
    void onMessage(Conn &c, int opcode, const std::uint8_t *data, size_t len, std::int64_t now);
    // Over members still connected: deliveries owed and never received, and received twice.
    void tally(std::uint64_t *missing, std::uint64_t *extra) const;
    void sampleRss(const std::vector<ServerProcess> &servers, std::int64_t now, std::int64_t *peak);

    ServerKind m_kind;
    std::vector<std::uint16_t> m_ports;
    int m_n, m_p;
    int m_epoll = -1;
    std::vector<std::unique_ptr<Conn>> m_conns;
    std::vector<Conn *> m_publishers;
    std::unordered_map<std::uint64_t, int> m_byAuthor;
    std::vector<std::vector<pb::Op>> m_strokes; // the app's ops for each stroke
    LatencyHistogram m_latency;
    std::vector<std::pair<std::int64_t, double>> *m_series = nullptr;
    std::uint64_t m_windowDeliveries = 0, m_errors = 0, m_bytes = 0, m_outOfOrder = 0, m_skipped = 0;
    std::uint64_t m_relaySeq = 1;
    std::int64_t m_wStart = 0, m_wEnd = 0, m_nextRss = 0;
    int m_closed = 0;
    std::map<std::string, int> m_closeReasons, m_errorMessages;
};

std::string jsonString(const std::string &text); // quoted and escaped
// "reason (count); reason (count)" for a report, at most `limit` reasons.
std::string summarize(const std::map<std::string, int> &counts, size_t limit = 3);

} // namespace scrawl::bench
