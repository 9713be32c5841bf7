#pragma once

// One Scrawl per person receives links: `scrawl LINK` (or a browser or file manager opening a
// scrawl:// link through the .desktop file's scheme handler) while Scrawl is already running
// hands the link to the running app, which joins it and comes to the front, instead of a second
// window starting. A local socket in the person's runtime directory ($XDG_RUNTIME_DIR), so each
// login session (and each test's own runtime directory) has its own.

#include <QLocalServer>
#include <QObject>
#include <QString>

namespace scrawl {

class LinkInbox : public QObject
{
    Q_OBJECT

public:
    explicit LinkInbox(QObject *parent = nullptr);

    // Where the running app listens.
    static QString socketPath();
    // Hands `link` to the running app; false when none is running (or it did not take it
    // within a second and a half), and this process should open it itself.
    static bool forward(const QString &link);
    // Starts taking links; false (with why in *error) when the socket cannot be made. A socket
    // left by an app that crashed is replaced.
    bool listen(QString *error);

signals:
    void linkReceived(const QString &link);

private:
    QLocalServer m_server;
};

} // namespace scrawl
