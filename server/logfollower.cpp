#include "server/logfollower.h"

#include <QLoggingCategory>
#include <QPointer>

namespace scrawl {

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

WallLogFollower::WallLogFollower(RedisWallLog &log, QString wall, QByteArray epoch,
                                 std::uint64_t appliedSeq, QObject *parent)
    : WallLogFollower(log, std::move(wall), std::move(epoch), appliedSeq, Options{}, parent)
{
}

WallLogFollower::WallLogFollower(RedisWallLog &log, QString wall, QByteArray epoch,
                                 std::uint64_t appliedSeq, Options options, QObject *parent)
    : QObject(parent)
    , m_log(log)
    , m_wall(std::move(wall))
    , m_epoch(std::move(epoch))
    , m_applied(appliedSeq)
    , m_options(options)
{
    m_positionCheck.setInterval(m_options.positionCheckMs);
    connect(&m_positionCheck, &QTimer::timeout, this, &WallLogFollower::readOn);
    // Messages published while a connection was down are gone: read them from the log.
    connect(&m_log, &RedisWallLog::readyChanged, this, [this](bool ready) {
        if (ready && m_subscribed)
            readOn();
    });
}

WallLogFollower::~WallLogFollower()
{
    m_log.unwatch(m_wall);
}

void WallLogFollower::start()
{
    m_positionCheck.start();
    QPointer<WallLogFollower> self = this;
    m_log.watch(
        m_wall,
        [this](const QByteArray &epoch, std::uint64_t seq, const QByteArray &op) { onPublished(epoch, seq, op); },
        [self] {
            if (!self)
                return;
            self->m_subscribed = true;
            self->readOn();
        });
}

void WallLogFollower::restart(const QByteArray &epoch, std::uint64_t appliedSeq)
{
    m_epoch = epoch;
    m_applied = appliedSeq;
    m_held.clear();
    m_stopped = false;
    ++m_generation;
    m_reading = false;
    m_readAgain = false;
    m_positionCheck.start();
    if (m_subscribed)
        readOn();
}

void WallLogFollower::stop()
{
    m_stopped = true;
    m_held.clear();
    m_positionCheck.stop();
}

void WallLogFollower::onPublished(const QByteArray &epoch, std::uint64_t seq, const QByteArray &op)
{
    if (m_stopped || seq <= m_applied)
        return;
    if (epoch != m_epoch) {
        // Published on a history this server does not know: the log says which one is the
        // wall's (a message from before a restart of Redis may still be on its way).
        readOn();
        return;
    }
    if (seq == m_applied + 1 && m_held.empty()) {
        handOver(seq, op);
        return;
    }
    if (m_held.size() < m_options.maxHeld)
        m_held.emplace(seq, op);
    handOverHeld();
    if (!m_held.empty())
        readOn(); // a gap before what is held
}

bool WallLogFollower::handOver(std::uint64_t seq, const QByteArray &op)
{
    QPointer<WallLogFollower> self = this;
    m_applied = seq;
    emit this->op(seq, op);
    if (!self)
        return false; // deleted by whoever took the op
    return !m_stopped;
}

void WallLogFollower::handOverHeld()
{
    while (!m_held.empty() && !m_stopped) {
        auto first = m_held.begin();
        if (first->first <= m_applied) {
            m_held.erase(first);
            continue;
        }
        if (first->first != m_applied + 1)
            return;
        const std::uint64_t seq = first->first;
        const QByteArray op = std::move(first->second);
        m_held.erase(first);
        QPointer<WallLogFollower> self = this;
        if (!handOver(seq, op) || !self)
            return;
    }
}

void WallLogFollower::readOn()
{
    if (m_stopped || !m_subscribed)
        return;
    if (m_reading) {
        m_readAgain = true;
        return;
    }
    m_reading = true;
    m_readAgain = false;
    ++m_reads;
    QPointer<WallLogFollower> self = this;
    const std::uint64_t generation = m_generation;
    const std::uint64_t after = m_applied;
    m_log.read(m_wall, after, m_options.readBatch,
               [self, generation, after](std::optional<RedisWallLog::Head> head,
                                         std::vector<RedisWallLog::Entry> entries, QString error) {
        if (!self || self->m_generation != generation)
            return;
        WallLogFollower *f = self;
        f->m_reading = false;
        if (!head) {
            // Redis unreachable: the reconnect (readyChanged) or the next position check reads again.
            qCDebug(lcRedis) << "reading the log of" << f->m_wall << "failed:" << error;
            return;
        }
        // A head behind what had been handed over when the read was sent is a history that went
        // back (a replica promoted before it had the newest ops): new ops would reuse seqs
        // already applied. As lost. (Not m_applied: Pub/Sub may have brought ops appended after
        // the read ran, on the other connection, before its answer.)
        if (head->epoch != f->m_epoch || head->seq < after) {
            qCWarning(lcRedis).noquote() << "the history of wall" << f->m_wall << "in Redis is"
                                         << (head->epoch.isEmpty() ? QByteArray("gone") : head->epoch)
                                         << "not" << f->m_epoch;
            f->stop();
            emit f->epochChanged(head->epoch);
            return;
        }
        for (const RedisWallLog::Entry &e : entries) {
            if (e.seq <= f->m_applied)
                continue; // handed over from Pub/Sub while the read was on its way
            if (e.seq != f->m_applied + 1) {
                const std::uint64_t applied = f->m_applied;
                f->stop();
                emit f->behindTrimmedLog(applied, e.seq);
                return;
            }
            if (!f->handOver(e.seq, e.op) || !self)
                return;
        }
        if (f->m_applied < head->seq && entries.empty() && after == f->m_applied) {
            // Nothing kept after what was handed over, yet the wall went on: trimmed away.
            const std::uint64_t applied = f->m_applied;
            f->stop();
            emit f->behindTrimmedLog(applied, head->seq + 1);
            return;
        }
        f->handOverHeld();
        if (!self || f->m_stopped)
            return;
        // More in the log than one read takes, or asked again meanwhile.
        if (f->m_applied < head->seq || f->m_readAgain || !f->m_held.empty())
            f->readOn();
    });
}

} // namespace scrawl
