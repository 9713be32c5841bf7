#include "app/invitelink.h"

#include <QRegularExpression>
#include <QUrl>
#include <QUrlQuery>

namespace scrawl {

namespace {

// "ab12…" or "AB:12:…" (64 hex digits) as TlsTrust writes it: "AB:12:…". Empty if it is not one.
QString normalFingerprint(QString text)
{
    text.remove(QLatin1Char(':'));
    static const QRegularExpression hex(QStringLiteral("^[0-9A-Fa-f]{64}$"));
    if (!hex.match(text).hasMatch())
        return {};
    text = text.toUpper();
    QString out;
    for (qsizetype i = 0; i < text.size(); i += 2) {
        if (i)
            out += QLatin1Char(':');
        out += text.mid(i, 2);
    }
    return out;
}

} // namespace

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
    const QUrlQuery query(url);
    QString fingerprint;
    if (query.hasQueryItem(QStringLiteral("fp"))) {
        fingerprint = normalFingerprint(query.queryItemValue(QStringLiteral("fp")));
        if (fingerprint.isEmpty()) {
            *error = QStringLiteral("\"%1\" carries a certificate fingerprint that is not 64 hexadecimal "
                                    "digits (SHA-256): ask the host for the link again. %2.")
                         .arg(text, form);
            return std::nullopt;
        }
    }
    const bool tls = !fingerprint.isEmpty() || query.queryItemValue(QStringLiteral("tls")) == QLatin1String("1");
    const QString host = url.host().contains(QLatin1Char(':')) ? QLatin1Char('[') + url.host() + QLatin1Char(']')
                                                                  : url.host();
    return InviteLink{(tls ? QStringLiteral("wss://") : QString()) + host + QLatin1Char(':') + QString::number(url.port()),
                      wall, fingerprint};
}

QString makeInviteLink(const QString &address, const QString &wall, const QString &fingerprint)
{
    QString a = address.trimmed();
    if (a.isEmpty() || wall.trimmed().isEmpty())
        return {};
    if (!a.contains(QLatin1String("://")))
        a.prepend(QLatin1String("ws://"));
    const QUrl parsed(a, QUrl::StrictMode);
    const bool tls = parsed.scheme() == QLatin1String("wss") || parsed.scheme() == QLatin1String("https");
    if (!parsed.isValid() || parsed.host().isEmpty())
        return {};
    QUrl link;
    link.setScheme(QStringLiteral("scrawl"));
    link.setHost(parsed.host());
    link.setPort(parsed.port(7777));
    link.setPath(QLatin1Char('/') + wall.trimmed());
    QUrlQuery query;
    const QString fp = normalFingerprint(fingerprint);
    if (tls && !fp.isEmpty())
        query.addQueryItem(QStringLiteral("fp"), QString(fp).remove(QLatin1Char(':')).toLower());
    else if (tls)
        query.addQueryItem(QStringLiteral("tls"), QStringLiteral("1"));
    link.setQuery(query);
    return link.toString(QUrl::FullyEncoded);
}

} // namespace scrawl
