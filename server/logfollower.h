#pragma once

// Follows one wall's shared log (RedisWallLog) for one server: hands over the wall's ops in seq
// order, each exactly once, whatever Pub/Sub loses. Ops come as Redis publishes them; a seq that
// skips ahead is held while the gap is read from the log; after every reconnect, and every
// positionCheckMs in any case (a lost *last* message leaves no later seq to show the gap), the
// log is read on from the last op handed over. It subscribes first and reads after, so nothing
// falls between the two.
//
// Two things stop it until its owner starts it again from a snapshot (restart()):
//   behindTrimmedLog - the ops after the last one handed over are no longer in the log (a
//                      snapshot shows them);
//   epochChanged     - the wall's history in Redis is not the one followed (Redis lost it, or
//                      its head is behind what was handed over: a replica that missed ops).

#include "server/redislog.h"

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <map>

namespace scrawl {

class WallLogFollower : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        int positionCheckMs = 2000;
        int readBatch = 2000; // ops per read of the log
        // Ops held past a gap; beyond it they are dropped and read from the log instead.
        size_t maxHeld = 20000;
    };

    // Follows `wall` from just after `appliedSeq` of the history `epoch`.
    WallLogFollower(RedisWallLog &log, QString wall, QByteArray epoch, std::uint64_t appliedSeq,
                    Options options, QObject *parent = nullptr);
    WallLogFollower(RedisWallLog &log, QString wall, QByteArray epoch, std::uint64_t appliedSeq,
                    QObject *parent = nullptr);
    ~WallLogFollower() override;

    // Subscribes, then reads what was appended after appliedSeq.
    void start();
    // Follows again after a stop (behindTrimmedLog, epochChanged): from `appliedSeq` of `epoch`.
    void restart(const QByteArray &epoch, std::uint64_t appliedSeq);

    const QString &wall() const { return m_wall; }
    const QByteArray &epoch() const { return m_epoch; }
    std::uint64_t appliedSeq() const { return m_applied; }
    bool stopped() const { return m_stopped; }
    // How many reads of the log it made (a test's view of gap filling).
    int reads() const { return m_reads; }

signals:
    // The next op: seq is appliedSeq() + 1 of the moment before.
    void op(std::uint64_t seq, const QByteArray &op);
    // Stopped: the log holds nothing at or before firstKept - 1 after appliedSeq.
    void behindTrimmedLog(std::uint64_t appliedSeq, std::uint64_t firstKept);
    // Stopped: the wall's history is now `epoch` (empty: the wall is not in Redis at all).
    void epochChanged(const QByteArray &epoch);

private:
    void onPublished(const QByteArray &epoch, std::uint64_t seq, const QByteArray &op);
    // Reads the log after appliedSeq (once at a time; asked again meanwhile, it reads again).
    void readOn();
    bool handOver(std::uint64_t seq, const QByteArray &op);
    void handOverHeld();
    void stop();

    RedisWallLog &m_log;
    QString m_wall;
    QByteArray m_epoch;
    std::uint64_t m_applied = 0;
    Options m_options;
    std::map<std::uint64_t, QByteArray> m_held; // published past a gap
    bool m_subscribed = false;
    bool m_reading = false;
    bool m_readAgain = false;
    bool m_stopped = false;
    int m_reads = 0;
    // Which follow a read's answer belongs to (restart() begins a new one).
    std::uint64_t m_generation = 0;
    QTimer m_positionCheck;
};

} // namespace scrawl
