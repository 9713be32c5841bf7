#pragma once

// The people of the soak benchmarks (`scrawl-bench soak`: one server killed and restarted;
// `scrawl-bench cluster-soak`: three servers behind HAProxy, one server and Redis killed): each
// draws strokes as the app batches them and chats on one wall, keeps every op it made until it is
// acknowledged, and after a lost connection reconnects with its resume token, joins with the last
// seq it saw and resends every unacknowledged op under its original client_op_id, so that the
// server side must apply each op exactly once.
//
// One thread on epoll drives every client over RawWs (like the fan-out generator). verify()
// compares what the clients were acknowledged and saw with the wall's stored log, op by op,
// whatever stored it (the single server's SQLite file, the cluster's Redis stream).

#include "bench/common.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace scrawl::bench {

// The hash of a serialised Op without its seq and client_op_id (fields 1 and 2): the server
// sends a live stroke's points and end without their seq (protocol 4), and to everyone but their
// author without the client op id, and stores them with both. Never 0.
std::uint64_t hashOp(const std::uint8_t *op, size_t len);

// One op of the wall's stored log, at index seq of a vector (hash 0: nothing stored there).
struct StoredOp
{
    std::uint64_t author = 0, clientOpId = 0, hash = 0;
};

// How the people behave (scrawl-bench soak's options of the same names).
struct SoakPace
{
    double pauseMinMs = 1000, pauseMaxMs = 6000; // between strokes
    double chatEvery = 10;                        // one action in this many is a chat line
    double hz = 120;                              // pen samples a second
    static SoakPace fromArgs(const Args &args);
};

// What verify() found. Lost: distinct seqs acknowledged to their author and then missing from
// storage or from some client's view.
struct SoakCheck
{
    std::uint64_t made = 0, acked = 0, sends = 0, resends = 0, refused = 0, unacked = 0;
    std::uint64_t head = 0, stored = 0, storeGaps = 0, storedDuplicates = 0;
    std::uint64_t storedTwice = 0; // one person's op stored under two of their identities
    std::uint64_t lostFromStorage = 0, doubleAcks = 0, lost = 0;
    std::uint64_t viewMissing = 0, viewPhantom = 0, clientsExact = 0, minDistinct = 0, maxDistinct = 0;
    std::uint64_t duplicates = 0, otherBytes = 0; // otherBytes: vs storage or between clients
    int connects = 0, snapshotJoins = 0, resumeFailures = 0;
    std::vector<std::string> lostSamples;
    bool ok() const
    {
        return lost == 0 && viewMissing == 0 && refused == 0 && storedDuplicates == 0 && storeGaps == 0
            && unacked == 0 && viewPhantom == 0 && otherBytes == 0 && doubleAcks == 0 && resumeFailures == 0
            && duplicates == 0 && storedTwice == 0;
    }
};

class SoakCrowd
{
public:
    // portFor(client index): where that client connects (asked again at every reconnect).
    SoakCrowd(std::string wall, int clients, SoakPace pace, std::function<std::uint16_t(int)> portFor);
    ~SoakCrowd();
    SoakCrowd(const SoakCrowd &) = delete;
    SoakCrowd &operator=(const SoakCrowd &) = delete;

    // Everyone connects and joins before anyone draws, so that each first Joined is the empty
    // wall. Exits the bench if they are not all in within timeoutSeconds.
    void joinAll(int timeoutSeconds);
    void startDrawing(std::int64_t now);
    // No new strokes from now; the ones under way are finished (pen up).
    void stopDrawing(std::int64_t now);
    bool drawing() const { return m_drawing; }

    // Everyone's actions that are due, and reconnects whose wait is over. Returns when the next
    // is due; *busy: someone still has something to do (a stroke, or drawing has not stopped).
    std::int64_t act(std::int64_t now, bool *busy);
    // Serves the sockets (and watched fds) for at most timeoutNs.
    void pump(std::int64_t timeoutNs);
    // fd's readability is handed to onReadable during pump() until unwatched (or closed).
    void watch(int fd, std::function<void()> onReadable);
    void unwatch(int fd);

    // After drawing: until every client is connected, has an empty outbox and has seen the
    // highest seq anyone saw (at most capSeconds), then a quiet second more, in which anything
    // still in flight would show as a duplicate. Returns the seconds until settled.
    double drain(double capSeconds);
    void closeAll();
    // A fresh client's view of the head: Joined.head_seq (0 if it could not join).
    std::uint64_t freshJoinHead(std::uint16_t port) const;

    int live() const;
    int clients() const { return int(m_clients.size()); }
    std::uint64_t unacknowledged() const;
    // Every op made before `t` is acknowledged (or refused).
    bool settledBefore(std::int64_t t) const;
    std::uint64_t made() const { return m_made; }
    std::uint64_t acked() const { return m_acked; }
    std::uint64_t deliveries() const { return m_deliveries; }
    std::uint64_t drops() const { return m_drops; }       // connections lost while live
    std::uint64_t ackedOnRejoin() const { return m_ackedOnRejoin; }
    // Acknowledgements with ops made in [from, to): made -> acknowledged, in ms.
    std::vector<double> ackLatenciesMs(std::int64_t from, std::int64_t to) const;
    std::uint64_t ackedBefore(std::int64_t t) const;
    std::uint64_t ackedBetween(std::int64_t from, std::int64_t to) const;
    // Error messages from the server by code, and the first few in full.
    const std::map<int, std::uint64_t> &errors() const { return m_errors; }
    const std::vector<std::string> &errorSamples() const { return m_errorSamples; }

    // Clients' acknowledgements and views against the stored log (stored[seq], seq from 1).
    // start: the drawing's start, for the times in lostSamples.
    SoakCheck verify(const std::vector<StoredOp> &stored, std::uint64_t storedDuplicates,
                     std::int64_t start) const;

private:
    struct Client;
    struct Watch;
    double uniform(Client &c);
    std::int64_t pause(Client &c);
    void tick(Client &c, std::int64_t now);
    void make(Client &c, pb::Op op);
    void sendPending(Client &c);
    bool connect(Client &c);
    void scheduleReconnect(Client &c);
    void disconnect(Client &c);
    void flush(Client &c);
    void onMessage(Client &c, const std::uint8_t *data, size_t len);
    void deliver(Client &c, const std::uint8_t *op, size_t len, bool fromJoined);

    std::string m_wall;
    SoakPace m_pace;
    std::function<std::uint16_t(int)> m_portFor;
    int m_epoll = -1;
    std::vector<std::unique_ptr<Client>> m_clients;
    std::vector<std::unique_ptr<Watch>> m_watches;
    bool m_drawing = false;
    std::uint64_t m_made = 0, m_acked = 0, m_deliveries = 0, m_maxSeq = 0, m_drops = 0;
    std::uint64_t m_ackedOnRejoin = 0, m_contentMismatches = 0;
    std::vector<std::uint64_t> m_hashBySeq; // the bytes the first client to see a seq got
    std::map<int, std::uint64_t> m_errors;
    std::vector<std::string> m_errorSamples;
};

} // namespace scrawl::bench
