#include "app/invitelink.h"

#include <QUrl>

namespace scrawl {

std::optional<InviteLink> parseInviteLink(const QString &text, QString *error)
{
    const QString form = QStringLiteral("A wall's link looks like scrawl://HOST:PORT/WALL");
    const QUrl url(text.trimmed(), QUrl::StrictMode);
    if (!url.isValid() || url.scheme() != QLatin1String("scrawl")) {
        *error = QStringLiteral("\"%1\" is not a Scrawl link. %2.").arg(text, form);
        return std::nullopt;
    }
    if (url.host().isEmpty() || url.port() <= 0) {
        *error = QStringLiteral("\"%1\" names no server and port. %2.").arg(text, form);
        return std::nullopt;
    }
    QString wall = url.path(QUrl::FullyDecoded);
    if (wall.startsWith(QLatin1Char('/')))
        wall.remove(0, 1);
    if (wall.isEmpty() || wall.contains(QLatin1Char('/'))) {
        *error = QStringLiteral("\"%1\" names no wall. %2.").arg(text, form);
        return std::nullopt;
    }
    if (!url.userInfo().isEmpty()) {
        *error = QStringLiteral("\"%1\" carries a name or password; a link never does. %2.").arg(text, form);
        return std::nullopt;
    }
    const QString host = url.host().contains(QLatin1Char(':')) ? QLatin1Char('[') + url.host() + QLatin1Char(']')
                                                                  : url.host();
    return InviteLink{host + QLatin1Char(':') + QString::number(url.port()), wall};
}

} // namespace scrawl
