#pragma once

// Trust on first use for servers with self-signed certificates, as SSH does with host keys: the
// first time the app meets a host:port whose certificate no authority vouches for, it remembers
// the certificate's SHA-256 fingerprint (QSettings); later it accepts that certificate only, and
// refuses a changed one with a message that shows both fingerprints. Certificates that the
// system's authorities vouch for (a reverse proxy with Let's Encrypt) are checked by Qt as usual
// and never pinned, so their routine renewals do not alarm anyone.
//
// Also: making a self-signed certificate for host mode with the openssl command.

#include <QByteArray>
#include <QSslCertificate>
#include <QString>

namespace scrawl {

class TlsTrust
{
public:
    // "AB:CD:..." (32 bytes as hex pairs): how people compare fingerprints.
    static QString fingerprint(const QSslCertificate &certificate);

    enum class Verdict { FirstUse, Known, Changed };
    // Checks `certificate` against the pin for host:port, pinning it on first use.
    // *pinned receives the fingerprint remembered before (for the Changed message).
    static Verdict check(const QString &host, int port, const QSslCertificate &certificate,
                         QString *pinned);
    static QString pinnedFingerprint(const QString &host, int port);
    // Forgets the pin for host:port (the person confirmed the change out of band).
    static void forget(const QString &host, int port);
    // Pins `fingerprint` for host:port, replacing any pin: an invitation that named it was
    // accepted (the certificate it names was the one presented).
    static void pin(const QString &host, int port, const QString &fingerprint);

    // Creates a self-signed certificate and key (PEM) for host mode, valid for the names and
    // addresses given, with the openssl command. Returns false with a sentence in *error when
    // openssl is missing or fails.
    static bool makeSelfSigned(const QString &certFile, const QString &keyFile,
                               const QStringList &altNames, QString *error);

private:
    static QString key(const QString &host, int port);
};

} // namespace scrawl
