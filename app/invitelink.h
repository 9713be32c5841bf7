#pragma once

// A link to a wall, `scrawl://HOST:PORT/WALL`: what `scrawl LINK` joins and what the Invite popup
// copies. The wall's name is percent-encoded in the path; a password is never part of a link.
//
// An encrypted wall's link carries the SHA-256 fingerprint of the host's certificate
// (`?fp=` and 64 hex digits): the invited app joins over wss:// and accepts that certificate and
// no other from the first connection, so there is no trust-on-first-use moment in which someone
// in between could pass off their own. `?tls=1` says wss:// without a fingerprint, for a server
// whose certificate an authority vouches for.

#include <QString>

#include <optional>

namespace scrawl {

struct InviteLink
{
    QString address;     // as the join form takes it: HOST:PORT, or wss://HOST:PORT
    QString wall;
    QString fingerprint; // "AB:CD:..." (TlsTrust::fingerprint's form), or empty
};

// The link's address, wall and fingerprint, or nullopt with *error saying what is wrong with it.
std::optional<InviteLink> parseInviteLink(const QString &text, QString *error);
// The link to `wall` at `address` (HOST, HOST:PORT or wss://HOST:PORT as people type it);
// `fingerprint` (TlsTrust's form) for an encrypted wall whose certificate is self-signed.
// Empty when the address is not one a link can name.
QString makeInviteLink(const QString &address, const QString &wall, const QString &fingerprint = {});

} // namespace scrawl
