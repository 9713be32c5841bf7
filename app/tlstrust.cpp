#include "app/tlstrust.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QProcess>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

namespace scrawl {

QString TlsTrust::fingerprint(const QSslCertificate &certificate)
{
    const QByteArray digest = certificate.digest(QCryptographicHash::Sha256).toHex().toUpper();
    QString out;
    for (qsizetype i = 0; i < digest.size(); i += 2) {
        if (i)
            out += QLatin1Char(':');
        out += QLatin1String(digest.mid(i, 2));
    }
    return out;
}

QString TlsTrust::key(const QString &host, int port)
{
    // '/' and '\' are group separators in QSettings: keep the host out of that business.
    return QStringLiteral("tls/pins/") + QString::fromLatin1(QUrl::toPercentEncoding(host))
         + QLatin1Char('_') + QString::number(port);
}

QString TlsTrust::pinnedFingerprint(const QString &host, int port)
{
    return QSettings().value(key(host, port)).toString();
}

void TlsTrust::forget(const QString &host, int port)
{
    QSettings().remove(key(host, port));
}

void TlsTrust::pin(const QString &host, int port, const QString &fingerprint)
{
    QSettings settings;
    settings.setValue(key(host, port), fingerprint);
    settings.sync();
}

TlsTrust::Verdict TlsTrust::check(const QString &host, int port, const QSslCertificate &certificate,
                                  QString *pinned)
{
    const QString seen = fingerprint(certificate);
    QSettings settings;
    const QString known = settings.value(key(host, port)).toString();
    if (pinned)
        *pinned = known;
    if (known.isEmpty()) {
        settings.setValue(key(host, port), seen);
        settings.sync();
        return Verdict::FirstUse;
    }
    return known == seen ? Verdict::Known : Verdict::Changed;
}

bool TlsTrust::makeSelfSigned(const QString &certFile, const QString &keyFile,
                              const QStringList &altNames, QString *error)
{
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    if (openssl.isEmpty()) {
        *error = QObject::tr("Making a certificate needs the openssl command; install it (Debian: "
                             "apt-get install openssl) or host without encryption.");
        return false;
    }
    QDir().mkpath(QFileInfo(certFile).absolutePath());
    QStringList san;
    for (const QString &name : altNames)
        san << (QHostAddress(name).isNull() ? QStringLiteral("DNS:") : QStringLiteral("IP:")) + name;
    QProcess p;
    p.start(openssl, {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                      QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-keyout"),
                      keyFile, QStringLiteral("-out"), certFile, QStringLiteral("-days"),
                      QStringLiteral("3650"), QStringLiteral("-subj"),
                      QStringLiteral("/CN=Scrawl wall host"), QStringLiteral("-addext"),
                      QStringLiteral("subjectAltName=") + san.join(QLatin1Char(','))});
    if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        *error = QObject::tr("openssl could not make a certificate: %1")
                     .arg(QString::fromLocal8Bit(p.readAllStandardError()).trimmed());
        return false;
    }
    // The key is a secret: only this user may read it.
    QFile::setPermissions(keyFile, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    return true;
}

} // namespace scrawl
