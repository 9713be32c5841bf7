// The Scrawl desktop app: only wiring. Everything else is in the scrawl_app library.

#include "app/appsettings.h"
#include "app/invitelink.h"
#include "app/linkinbox.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(ScrawlPlugin)

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QGuiApplication::setOrganizationName(QStringLiteral("Scrawl"));
    QGuiApplication::setApplicationName(QStringLiteral("Scrawl"));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Scrawl"));
    QGuiApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    QGuiApplication::setDesktopFileName(QStringLiteral("scrawl"));
    QGuiApplication::setWindowIcon(QIcon(QStringLiteral(":/qt/qml/Scrawl/scrawl.svg")));
    // ~/.local/share/scrawl since 0.1: what an older version kept elsewhere moves there.
    if (const QString moved = scrawl::AppSettings::migrateDataDir(); !moved.isEmpty())
        qInfo().noquote() << moved;
    QCommandLineParser args;
    args.setApplicationDescription(QStringLiteral("Scrawl: a shared whiteboard and chat."));
    args.addHelpOption();
    args.addVersionOption();
    args.addPositionalArgument(QStringLiteral("link"),
                               QStringLiteral("A wall to join at once: scrawl://HOST:PORT/WALL (the "
                                              "Scrawl already running joins it, if there is one)"),
                               QStringLiteral("[link]"));
    const QCommandLineOption host(QStringLiteral("host"),
                                  QStringLiteral("Host WALL on this computer and open it, as the start "
                                                 "screen's Host does (with its port and settings)."),
                                  QStringLiteral("WALL"));
    args.addOption(host);
    args.process(app);
    QVariantMap start;
    if (args.isSet(host)) {
        if (!args.positionalArguments().isEmpty() || args.value(host).trimmed().isEmpty()) {
            fprintf(stderr, "scrawl: --host takes the name of the wall to host, and no link beside it\n");
            return 2;
        }
        start.insert(QStringLiteral("startHostWall"), args.value(host).trimmed());
    }
    if (!args.positionalArguments().isEmpty()) {
        const QString text = args.positionalArguments().front();
        QString error;
        const auto link = scrawl::parseInviteLink(text, &error);
        if (!link) {
            fprintf(stderr, "scrawl: %s\n", qPrintable(error));
            return 2;
        }
        if (scrawl::LinkInbox::forward(text)) {
            printf("scrawl: the Scrawl already running joins the wall \"%s\".\n", qPrintable(link->wall));
            return 0;
        }
        qInfo().noquote() << "joining the wall" << link->wall << "at" << link->address << "from a link"
                          << (link->fingerprint.isEmpty() ? QString() : QStringLiteral("(certificate ") + link->fingerprint + QLatin1Char(')'));
        start.insert(QStringLiteral("startAddress"), link->address);
        start.insert(QStringLiteral("startWall"), link->wall);
        start.insert(QStringLiteral("startFingerprint"), link->fingerprint);
    }
    if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE"))
        QQuickStyle::setStyle(QStringLiteral("Fusion"));

    QQmlApplicationEngine engine;
    // Qt 6.4 does not search the resource root of qt_add_qml_module by default.
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.setInitialProperties(start);
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Scrawl/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    // Links opened from now on (a browser, a file manager, `scrawl LINK`) come to this window.
    scrawl::LinkInbox inbox;
    QString inboxError;
    if (!inbox.listen(&inboxError))
        qInfo().noquote() << "links opened while this Scrawl runs start a window of their own:" << inboxError;
    QObject::connect(&inbox, &scrawl::LinkInbox::linkReceived, &engine, [&engine](const QString &text) {
        QString error;
        const auto link = scrawl::parseInviteLink(text, &error);
        if (link)
            qInfo().noquote() << "joining the wall" << link->wall << "at" << link->address << "from a link";
        else
            qInfo().noquote() << "a link came that names no wall:" << error;
        QMetaObject::invokeMethod(engine.rootObjects().front(), "openLink",
                                  Q_ARG(QVariant, link ? link->address : QString()),
                                  Q_ARG(QVariant, link ? link->wall : QString()),
                                  Q_ARG(QVariant, link ? link->fingerprint : QString()),
                                  Q_ARG(QVariant, error));
    });
    return app.exec();
}
