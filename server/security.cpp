#include "server/security.h"

#include <QCryptographicHash>
#include <QPasswordDigestor>
#include <QRandomGenerator>

namespace scrawl {

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
    return isV4 ? QHostAddress(v4).toString() : address.toString();
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
            if (e.open == 0 && e.connects.empty() && e.joins.empty() && e.failures.empty()
                && e.lockedUntil <= now)
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

} // namespace scrawl
