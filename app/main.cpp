// The Scrawl desktop app: only wiring. Everything else is in the scrawl_app library.

#include "app/appsettings.h"
#include "app/invitelink.h"

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
                               QStringLiteral("A wall to join at once: scrawl://HOST:PORT/WALL"),
                               QStringLiteral("[link]"));
    args.process(app);
    QVariantMap start;
    if (!args.positionalArguments().isEmpty()) {
        QString error;
        const auto link = scrawl::parseInviteLink(args.positionalArguments().front(), &error);
        if (!link) {
            fprintf(stderr, "scrawl: %s\n", qPrintable(error));
            return 2;
        }
        start = {{QStringLiteral("startAddress"), link->address}, {QStringLiteral("startWall"), link->wall}};
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
    return app.exec();
}
