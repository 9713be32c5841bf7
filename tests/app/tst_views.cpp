// QtQuickTest of the views (qml/tst_views.qml) against a real in-process server. The setup
// object starts the server on 127.0.0.1, port 0, with a temporary data directory, and hands it
// to QML as the ScrawlTest.TestServer singleton, which can also stop and restart it, and reads the
// clipboard (QML cannot) so that the views' Copy buttons are checked for what they copied, and
// sets the application font as a desktop's font-size setting does.

#include "server/wallserver.h"

#include <QClipboard>
#include <QFont>
#include <QGuiApplication>
#include <QImage>
#include <QVariantMap>
#include <QQmlEngine>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest/quicktest.h>

#include <memory>

Q_IMPORT_QML_PLUGIN(ScrawlPlugin)

namespace scrawl::test {

class TestServer : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString address READ address NOTIFY addressChanged)
    Q_PROPERTY(bool running READ running NOTIFY addressChanged)

public:
    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }
    bool running() const { return m_server != nullptr; }

    // Starts on the port it had before (0 the first time), on the same data directory.
    Q_INVOKABLE bool start()
    {
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = m_port;
        o.dataDir = m_dir.path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            m_server.reset();
            return false;
        }
        m_port = m_server->port();
        emit addressChanged();
        return true;
    }
    Q_INVOKABLE void stop()
    {
        m_server.reset();
        emit addressChanged();
    }
    Q_INVOKABLE QString clipboardText() const { return QGuiApplication::clipboard()->text(); }
    Q_INVOKABLE void clearClipboard() { QGuiApplication::clipboard()->clear(); }
    // The desktop's font size, as a person sets it in their system settings.
    Q_INVOKABLE qreal applicationFontPointSize() const { return QGuiApplication::font().pointSizeF(); }
    Q_INVOKABLE void setApplicationFontPointSize(qreal points)
    {
        QFont font = QGuiApplication::font();
        font.setPointSizeF(points);
        QGuiApplication::setFont(font);
    }
    // A directory of its own for what a test writes (exports).
    Q_INVOKABLE QString scratchDir() const { return m_scratch.path(); }
    // What a file written by an export holds: its size and its top-left pixel's alpha, or
    // width -1 when it is not an image.
    Q_INVOKABLE QVariantMap imageInfo(const QString &path) const
    {
        const QImage image(path);
        if (image.isNull())
            return {{QStringLiteral("width"), -1}};
        return {{QStringLiteral("width"), image.width()},
                {QStringLiteral("height"), image.height()},
                {QStringLiteral("cornerAlpha"), qAlpha(image.pixel(0, 0))}};
    }

signals:
    void addressChanged();

private:
    QTemporaryDir m_dir;
    QTemporaryDir m_scratch;
    std::unique_ptr<WallServer> m_server;
    quint16 m_port = 0;
};

class Setup : public QObject
{
    Q_OBJECT

public slots:
    void applicationAvailable() { QStandardPaths::setTestModeEnabled(true); }
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        // Qt 6.4 does not search the resource root of qt_add_qml_module by default.
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        if (!m_server.running() && !m_server.start())
            qFatal("cannot start the test server");
        qmlRegisterSingletonInstance("ScrawlTest", 1, 0, "TestServer", &m_server);
    }
    // While the application still exists: the server's sockets and timers need it.
    void cleanupTestCase() { m_server.stop(); }

private:
    TestServer m_server;
};

} // namespace scrawl::test

QUICK_TEST_MAIN_WITH_SETUP(tst_views, scrawl::test::Setup)
#include "tst_views.moc"
