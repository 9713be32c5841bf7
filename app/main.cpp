// The Scrawl desktop app: only wiring. Everything else is in the scrawl_app library.

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
    if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE"))
        QQuickStyle::setStyle(QStringLiteral("Fusion"));

    QQmlApplicationEngine engine;
    // Qt 6.4 does not search the resource root of qt_add_qml_module by default.
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Scrawl/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    return app.exec();
}
