#include "server/security.h"

#include <QCryptographicHash>
#include <QPasswordDigestor>
#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

namespace scrawl {

namespace {
constexpr qint64 kHourMs = 60 * 60 * 1000;
} // namespace

QByteArray randomBytes(int count)
{
    QByteArray out(count, Qt::Uninitialized);
    auto *gen = QRandomGenerator::system();
    for (int i = 0; i < count; ++i)
        out[i] = char(gen->bounded(256));
    return out;
}

QByteArray newTextToken(int bytes)
{
    return randomBytes(bytes).toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray sha256(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256);
}

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

QByteArray derivePasswordHash(const QString &password, const QByteArray &salt, int iterations)
{
    return QPasswordDigestor::deriveKeyPbkdf2(QCryptographicHash::Sha256, password.toUtf8(), salt,
                                              iterations, quint64(limits::kPasswordHashBytes));
}

AddressGuard::AddressGuard(Limits limits)
    : m_limits(limits)
{
    m_clock.start();
}

QString AddressGuard::key(const QHostAddress &address)
{
    // An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d: count it as a.b.c.d.
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return QHostAddress(v4).toString();
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return address.toString();
    // One IPv6 subscriber gets a /64 (or more) and picks interface ids at will: counting each
    // address alone would make every per-address limit 2^64 times wider.
    Q_IPV6ADDR bytes = address.toIPv6Address();
    for (int i = 8; i < 16; ++i)
        bytes[i] = 0;
    return QHostAddress(bytes).toString() + QStringLiteral("/64");
}

void AddressGuard::prune(std::deque<qint64> &times, qint64 olderThan)
{
    while (!times.empty() && times.front() < olderThan)
        times.pop_front();
}

AddressGuard::Entry &AddressGuard::entry(const QHostAddress &address)
{
    // Bound the table: drop idle entries once it grows (an address scan must not fill memory).
    if (m_entries.size() > 10000) {
        const qint64 now = m_clock.elapsed();
        for (auto it = m_entries.begin(); it != m_entries.end();) {
            Entry &e = it.value();
            prune(e.connects, now - 60000);
            prune(e.joins, now - 60000);
            prune(e.failures, now - m_limits.failureWindowMs);
            prune(e.newUsers, now - kHourMs);
            prune(e.wallsCreated, now - kHourMs);
            if (e.open == 0 && e.connects.empty() && e.joins.empty() && e.failures.empty()
                && e.lockedUntil <= now && e.newUsers.empty() && e.wallsCreated.empty()
                && e.checking == 0)
                it = m_entries.erase(it);
            else
                ++it;
        }
    }
    return m_entries[key(address)];
}

const char *AddressGuard::admitConnection(const QHostAddress &address)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    prune(e.connects, now - 60000);
    if (e.open >= m_limits.maxConnections)
        return limits::kMaxConnectionsPerAddressName;
    if (int(e.connects.size()) >= m_limits.maxConnectsPerMinute)
        return limits::kMaxConnectsPerAddressPerMinuteName;
    e.connects.push_back(now);
    ++e.open;
    return nullptr;
}

void AddressGuard::connectionClosed(const QHostAddress &address)
{
    Entry &e = entry(address);
    if (e.open > 0)
        --e.open;
}

int AddressGuard::openConnections(const QHostAddress &address) const
{
    const auto it = m_entries.constFind(key(address));
    return it == m_entries.constEnd() ? 0 : it->open;
}

const char *AddressGuard::admitJoin(const QHostAddress &address)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    prune(e.joins, now - 60000);
    if (int(e.joins.size()) >= m_limits.maxJoinsPerMinute)
        return limits::kMaxJoinsPerAddressPerMinuteName;
    e.joins.push_back(now);
    return nullptr;
}

qint64 AddressGuard::lockedOutFor(const QHostAddress &address)
{
    Entry &e = entry(address);
    return std::max<qint64>(0, e.lockedUntil - m_clock.elapsed());
}

bool AddressGuard::passwordFailed(const QHostAddress &address)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    prune(e.failures, now - m_limits.failureWindowMs);
    e.failures.push_back(now);
    if (int(e.failures.size()) >= m_limits.maxPasswordFailures) {
        e.failures.clear();
        e.lockedUntil = now + m_limits.lockoutMs;
        return true;
    }
    return false;
}

const char *AddressGuard::admitNewUser(const QHostAddress &address)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    prune(e.newUsers, now - kHourMs);
    if (int(e.newUsers.size()) >= m_limits.maxNewUsersPerHour)
        return limits::kMaxNewUsersPerAddressPerHourName;
    e.newUsers.push_back(now);
    return nullptr;
}

const char *AddressGuard::admitWallCreation(const QHostAddress &address)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    prune(e.wallsCreated, now - kHourMs);
    if (int(e.wallsCreated.size()) >= m_limits.maxWallsCreatedPerHour)
        return limits::kMaxWallsCreatedPerAddressPerHourName;
    e.wallsCreated.push_back(now);
    return nullptr;
}

const char *AddressGuard::beginPasswordCheck(const QHostAddress &address, bool guess)
{
    Entry &e = entry(address);
    const qint64 now = m_clock.elapsed();
    if (e.checking >= m_limits.maxPasswordChecks)
        return limits::kMaxPasswordChecksPerAddressName;
    if (guess) {
        // Every guess under way may be wrong: together with the wrong ones already counted they
        // may not pass the lockout threshold, however many are queued.
        prune(e.failures, now - m_limits.failureWindowMs);
        if (e.lockedUntil > now || int(e.failures.size()) + e.guessing >= m_limits.maxPasswordFailures)
            return limits::kMaxPasswordFailuresName;
        ++e.guessing;
    }
    ++e.checking;
    return nullptr;
}

void AddressGuard::endPasswordCheck(const QHostAddress &address, bool guess)
{
    Entry &e = entry(address);
    if (e.checking > 0)
        --e.checking;
    if (guess && e.guessing > 0)
        --e.guessing;
}

TokenBucket::TokenBucket(double perSecond, double burst)
    : m_perSecond(perSecond)
    , m_burst(burst)
    , m_tokens(burst)
{
    m_clock.start();
}

void TokenBucket::refill()
{
    // Nanoseconds since the last refill, not restart()'s whole milliseconds: called more often
    // than once a millisecond, those would round every refill to nothing.
    const qint64 now = m_clock.nsecsElapsed();
    m_tokens = std::min(m_burst, m_tokens + double(now - m_lastNs) / 1e9 * m_perSecond);
    m_lastNs = now;
}

bool TokenBucket::take()
{
    refill();
    if (m_tokens < 1.0)
        return false;
    m_tokens -= 1.0;
    return true;
}

int TokenBucket::msUntilToken()
{
    refill();
    if (m_tokens >= 1.0)
        return 0;
    return int(std::ceil((1.0 - m_tokens) * 1000.0 / m_perSecond));
}

} // namespace scrawl
