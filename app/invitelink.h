#pragma once

// A link to a wall, `scrawl://HOST:PORT/WALL`: what `scrawl LINK` joins. The wall's name is
// percent-encoded in the path; a password is never part of a link.

#include <QString>

#include <optional>

namespace scrawl {

struct InviteLink
{
    QString address; // HOST:PORT, as the join form takes it
    QString wall;
};

// The link's address and wall, or nullopt with *error saying what is wrong with it.
std::optional<InviteLink> parseInviteLink(const QString &text, QString *error);

} // namespace scrawl
