// The owner's controls in the Invite popup of a real WallView, against a real in-process server:
// the API token the app was shown, "New API token" (asks first, then replaces it), and the
// password buttons (set, remove), each clicked with synthesized mouse events.

#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

#include <memory>

Q_IMPORT_QML_PLUGIN(ScrawlPlugin)

using namespace scrawl;

namespace {

const char *kQml = R"(
import QtQuick
import QtQuick.Controls
import Scrawl

ApplicationWindow {
    width: 1200
    height: 800
    visible: true
    required property string address
    WallClient { id: owner; objectName: "owner"; displayName: "Ada"; profile: "invitegui" }
    WallView { objectName: "view"; anchors.fill: parent; client: owner }
    Component.onCompleted: owner.connectToWall(address, "invited")
}
)";

} // namespace

class TstInviteGui : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    std::unique_ptr<QQmlApplicationEngine> m_engine;
    QQuickWindow *m_window = nullptr;

    WallClient *owner() { return m_window->findChild<WallClient *>(QStringLiteral("owner")); }
    QObject *find(const char *name) { return m_window->findChild<QObject *>(QLatin1String(name)); }
    QQuickItem *item(const char *name) { return qobject_cast<QQuickItem *>(find(name)); }
    bool click(const char *name)
    {
        QQuickItem *i = item(name);
        if (!i || !i->isVisible() || !i->isEnabled()) {
            qWarning() << name << "is missing, hidden or disabled";
            return false;
        }
        // Layouts are polished before the next frame: click where the button is drawn.
        QSignalSpy swapped(m_window, &QQuickWindow::frameSwapped);
        m_window->update();
        if (!swapped.wait(5000))
            return false;
        const QPointF centre = i->mapToScene(QPointF(i->width() / 2, i->height() / 2));
        QTest::mouseClick(m_window, Qt::LeftButton, {}, centre.toPoint());
        return true;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        m_dir = std::make_unique<QTemporaryDir>();
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        o.passwordIterations = 1000;
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));

        m_engine = std::make_unique<QQmlApplicationEngine>();
        m_engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        m_engine->setInitialProperties(
            {{QStringLiteral("address"), QStringLiteral("127.0.0.1:%1").arg(m_server->port())}});
        m_engine->loadData(kQml, QUrl(QStringLiteral("qrc:/tst_invitegui.qml")));
        QVERIFY(!m_engine->rootObjects().isEmpty());
        m_window = qobject_cast<QQuickWindow *>(m_engine->rootObjects().first());
        QVERIFY(m_window);
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
        QTRY_COMPARE(owner()->state(), WallClient::Connected);
        QVERIFY(owner()->isOwner());
        QObject *popup = find("invitePopup");
        QVERIFY(popup);
        QMetaObject::invokeMethod(popup, "open");
        QTRY_VERIFY(popup->property("opened").toBool());
    }

    void cleanupTestCase()
    {
        m_engine.reset();
        m_server.reset();
        QSettings().clear();
    }

    void ownerSetsAndRemovesThePassword()
    {
        QVERIFY(!owner()->hasPassword());
        QVERIFY(item("setPassword"));
        QCOMPARE(item("setPassword")->property("text").toString(), QStringLiteral("Set password"));
        QVERIFY(!item("setPassword")->isEnabled()); // nothing typed yet
        QVERIFY(!item("removePassword")->isVisible());
        item("newPassword")->setProperty("text", QStringLiteral("open sesame"));
        QVERIFY(click("setPassword"));
        QTRY_VERIFY(owner()->hasPassword());
        QCOMPARE(item("newPassword")->property("text").toString(), QString());
        QTRY_COMPARE(item("setPassword")->property("text").toString(), QStringLiteral("Change password"));

        // Someone new needs it now.
        WallClient guest;
        guest.setDisplayName(QStringLiteral("Guest"));
        guest.connectToWall(QStringLiteral("127.0.0.1:%1").arg(m_server->port()), QStringLiteral("invited"));
        QTRY_VERIFY(guest.passwordRequired());

        QTRY_VERIFY(item("removePassword")->isVisible());
        QVERIFY(click("removePassword"));
        QTRY_VERIFY(!owner()->hasPassword());
        guest.retryWithPassword(QString());
        QTRY_COMPARE(guest.state(), WallClient::Connected);
    }

    void newApiTokenAsksFirst()
    {
        const QString first = owner()->apiToken();
        QVERIFY(first.size() >= 24);
        QCOMPARE(item("apiToken")->property("text").toString(), first);
        QVERIFY(click("newApiToken"));
        QObject *dialog = find("newTokenDialog");
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->property("opened").toBool());
        // Nothing happens until the person confirms.
        QCOMPARE(owner()->apiToken(), first);
        QMetaObject::invokeMethod(dialog, "accept");
        QTRY_VERIFY(owner()->apiToken() != first);
        QCOMPARE(item("apiToken")->property("text").toString(), owner()->apiToken());
    }
};

QTEST_MAIN(TstInviteGui)
#include "tst_invitegui.moc"
