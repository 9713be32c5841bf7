#pragma once

// The server's security helpers: password hashing (PBKDF2 through QPasswordDigestor), random
// tokens, constant-time comparison, and the per-address guard that counts connections, joins
// and wrong passwords (limits in core/limits.h).

#include "core/limits.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QString>

#include <deque>

namespace scrawl {

// Random bytes from the operating system's generator.
QByteArray randomBytes(int count);
// A token for people and scripts: random bytes as unpadded base64url.
QByteArray newTextToken(int bytes);
QByteArray sha256(const QByteArray &data);
// Compares in time that depends only on the lengths, so that a wrong guess tells nothing about
// how much of it was right.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b);
// PBKDF2-HMAC-SHA256 of the UTF-8 password. Slow on purpose (about 10 ms per 1000 iterations
// with Qt 6.4's implementation): call it off the event loop (WallServer does, with QtConcurrent).
QByteArray derivePasswordHash(const QString &password, const QByteArray &salt, int iterations);

// Per remote address: open connections, new connections and joins in the last minute, and wrong
// passwords. Times come from one monotonic clock; stale entries are pruned as they are touched.
struct AddressLimits
{
    int maxConnections = limits::kMaxConnectionsPerAddress;
    int maxConnectsPerMinute = limits::kMaxConnectsPerAddressPerMinute;
    int maxJoinsPerMinute = limits::kMaxJoinsPerAddressPerMinute;
    int maxPasswordFailures = limits::kMaxPasswordFailures;
    int failureWindowMs = limits::kPasswordFailureWindowMs;
    int lockoutMs = limits::kAddressLockoutMs;
    int maxNewUsersPerHour = limits::kMaxNewUsersPerAddressPerHour;
    int maxWallsCreatedPerHour = limits::kMaxWallsCreatedPerAddressPerHour;
    int maxPasswordChecks = limits::kMaxPasswordChecksPerAddress;
};

class AddressGuard
{
public:
    using Limits = AddressLimits;

    explicit AddressGuard(Limits limits = {});

    // Limit name when a new connection from `address` must be refused, else nullptr. Counts it
    // when accepted; call connectionClosed() when it goes.
    const char *admitConnection(const QHostAddress &address);
    void connectionClosed(const QHostAddress &address);
    // Limit name when a join from `address` must be refused, else nullptr. Counts it.
    const char *admitJoin(const QHostAddress &address);
    // Milliseconds left in the address's lockout, 0 when it may try passwords.
    qint64 lockedOutFor(const QHostAddress &address);
    // Records a wrong password; returns true when this one locked the address out.
    bool passwordFailed(const QHostAddress &address);
    int openConnections(const QHostAddress &address) const;
    const Limits &limits() const { return m_limits; }
    // Limit name when `address` may not get a new identity (user row) now, else nullptr. Counts it.
    const char *admitNewUser(const QHostAddress &address);
    // Limit name when `address` may not create a wall now, else nullptr. Counts it.
    const char *admitWallCreation(const QHostAddress &address);
    // Limit name when a password check for `address` may not start now, else nullptr; counts it as
    // running until endPasswordCheck(). A `guess` (a join of a wall with a password, as opposed
    // to setting one) also counts against max_password_failures from its start.
    const char *beginPasswordCheck(const QHostAddress &address, bool guess);
    void endPasswordCheck(const QHostAddress &address, bool guess);
    // The key an address is counted under: IPv4 (also IPv4-mapped IPv6) as itself, other IPv6 by
    // its /64 (one subscriber's prefix: a host picks any address in it at will).
    static QString key(const QHostAddress &address);

private:
    struct Entry
    {
        int open = 0;
        std::deque<qint64> connects;
        std::deque<qint64> joins;
        std::deque<qint64> failures;
        qint64 lockedUntil = 0;
        std::deque<qint64> newUsers;
        std::deque<qint64> wallsCreated;
        int checking = 0; // password checks running
        int guessing = 0; // of which guesses
    };
    static void prune(std::deque<qint64> &times, qint64 olderThan);
    Entry &entry(const QHostAddress &address);

    Limits m_limits;
    QElapsedTimer m_clock;
    QHash<QString, Entry> m_entries;
};

// A token bucket: `perSecond` tokens a second, at most `burst` held; starts full.
class TokenBucket
{
public:
    TokenBucket(double perSecond, double burst);
    // Takes a token; false when none is there.
    bool take();
    // Milliseconds until a token is there (0: now).
    int msUntilToken();

private:
    void refill();

    double m_perSecond;
    double m_burst;
    double m_tokens;
    QElapsedTimer m_clock;
    qint64 m_lastNs = 0;
};

} // namespace scrawl
