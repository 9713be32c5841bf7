// Text that came from a person or a server is shown as plain text in the real views (issue 14
// item 9, STYLE.md #13), and leaving with changes waiting asks first (item 10).
//
// A real server; a viewer's WallView in a window; a second client whose display name, chat,
// note and cursor carry markup and an <img> pointing at a QTcpServer of this test, on a wall whose
// name is markup too. Every Text / Label / TextEdit in the view and in the start screen that
// shows such text must use Text.PlainText, and the <img> must cause no connection. A canary
// Text with RichText and its own <img> server shows that the test would see the request: its
// server is asked, the names' is not.

#include "app/appsettings.h"
#include "app/hostcontroller.h"
#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

#include <algorithm>
#include <memory>

Q_IMPORT_QML_PLUGIN(ScrawlPlugin)

using namespace scrawl;

namespace {

// QQuickText's and QQuickTextEdit's textFormat values (Text.PlainText is 0).
constexpr int kPlainText = 0;

void collectTextItems(QObject *root, QList<QObject *> *out)
{
    if (!root)
        return;
    if (root->inherits("QQuickText") || root->inherits("QQuickTextEdit"))
        out->append(root);
    if (auto *item = qobject_cast<QQuickItem *>(root)) {
        for (QQuickItem *child : item->childItems())
            collectTextItems(child, out);
    }
    // Popups, dialogs and tooltips are QObject children, not child items.
    for (QObject *child : root->children()) {
        if (!qobject_cast<QQuickItem *>(child))
            collectTextItems(child, out);
    }
}

} // namespace

class TestPlainText : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;
    QTcpServer m_imageServer;  // what the names' <img> points at: must never be asked
    QTcpServer m_canaryServer; // what the canary's <img> points at: must be asked
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QQuickWindow> m_window;

    QString img(const QString &file) const
    {
        return QStringLiteral("<img src=\"http://127.0.0.1:%1/%2\">").arg(m_imageServer.serverPort()).arg(file);
    }
    QString evilName() const { return QStringLiteral("<b>EVE</b>") + img(QStringLiteral("n")); }
    QString evilWall() const { return QStringLiteral("<b>x</b>") + img(QStringLiteral("w")); }
    QString evilChat() const
    {
        return QStringLiteral("<font color=red size=7>EVE</font>") + img(QStringLiteral("c"));
    }
    QString evilNote() const { return QStringLiteral("<h1>NOTE</h1>") + img(QStringLiteral("t")); }
    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }

    QQuickItem *load(const QByteArray &qml, const QVariantMap &properties)
    {
        QQmlComponent component(m_engine.get());
        component.setData(qml, QUrl(QStringLiteral("inline.qml")));
        QObject *o = component.createWithInitialProperties(properties);
        if (!o)
            qWarning() << component.errors();
        auto *item = qobject_cast<QQuickItem *>(o);
        if (item) {
            item->setParentItem(m_window->contentItem());
            item->setSize(m_window->size());
        }
        return item;
    }

    static int countShowing(QObject *root, const QString &needle)
    {
        QList<QObject *> texts;
        collectTextItems(root, &texts);
        return int(std::count_if(texts.begin(), texts.end(), [&](QObject *t) {
            return t->property("text").toString().contains(needle);
        }));
    }

    // Every text item showing `needle` shows it as plain text; returns how many show it.
    int checkPlain(QObject *root, const QString &needle)
    {
        QList<QObject *> texts;
        collectTextItems(root, &texts);
        int found = 0;
        for (QObject *t : texts) {
            const QString text = t->property("text").toString();
            if (!text.contains(needle))
                continue;
            ++found;
            const int format = t->property("textFormat").toInt();
            if (format != kPlainText) {
                QTest::qFail(qPrintable(QStringLiteral("%1 \"%2\" (in %3) is shown with textFormat %4, not PlainText")
                                            .arg(QString::fromLatin1(t->metaObject()->className()), text,
                                                 t->parent() ? QString::fromLatin1(t->parent()->metaObject()->className())
                                                             : QString())
                                            .arg(format)),
                             __FILE__, __LINE__);
                return -1;
            }
        }
        return found;
    }

    // Proves the window had the chance to fetch images: a RichText canary's request arrives.
    void renderAndCheckNoRequest()
    {
        m_window->grabWindow();
        QQuickItem *canary = load(QStringLiteral("import QtQuick\nText { textFormat: Text.RichText; text: '<img src=\"http://127.0.0.1:%1/canary.png\">' }")
                                      .arg(m_canaryServer.serverPort())
                                      .toUtf8(),
                                  {});
        QVERIFY(canary);
        m_window->grabWindow();
        QTRY_VERIFY_WITH_TIMEOUT(m_canaryServer.hasPendingConnections(), 10000);
        QVERIFY2(!m_imageServer.hasPendingConnections(), "an <img> in a name or text was fetched");
        delete canary;
        while (QTcpSocket *s = m_canaryServer.nextPendingConnection())
            delete s;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_imageServer.listen(QHostAddress::LocalHost, 0));
        QVERIFY(m_canaryServer.listen(QHostAddress::LocalHost, 0));
    }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        m_engine = std::make_unique<QQmlEngine>();
        m_engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        m_window = std::make_unique<QQuickWindow>();
        m_window->resize(1300, 850);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }

    void cleanup()
    {
        m_window.reset();
        m_engine.reset();
        m_server.reset();
        m_dir.reset();
    }

    void wallViewShowsPeoplesTextPlain()
    {
        WallClient viewer;
        viewer.setDisplayName(QStringLiteral("Viewer"));
        // Destroyed before the client it shows, however the test ends.
        std::unique_ptr<QQuickItem> view(load("import Scrawl\nWallView {}\n",
                                              {{QStringLiteral("client"), QVariant::fromValue(&viewer)}}));
        QVERIFY(view);
        viewer.connectToWall(address(), evilWall());
        QTRY_COMPARE(viewer.state(), WallClient::Connected);

        WallClient eve;
        eve.setDisplayName(evilName());
        eve.connectToWall(address(), evilWall());
        QTRY_COMPARE(eve.state(), WallClient::Connected);
        QVERIFY(eve.sendChat(evilChat()));
        QVERIFY(!eve.addNote(200, 200, evilNote()).isEmpty());
        QTRY_COMPARE(eve.pendingCount(), 0);
        eve.sendCursor(300, 300);
        QTRY_VERIFY(viewer.members()->find(eve.userId())
                    && viewer.members()->find(eve.userId())->hasCursor);
        QTRY_COMPARE(viewer.chat()->rowCount(), 1);
        QTRY_COMPARE(viewer.notes()->rowCount(), 1);
        // Shown where a person sees them: member list, chat author, cursor tag; chat; note; toolbar.
        QTRY_VERIFY(countShowing(view.get(), evilName()) >= 3);
        QTRY_VERIFY(countShowing(view.get(), evilChat()) >= 1);
        QTRY_VERIFY(countShowing(view.get(), evilNote()) >= 1);
        QTRY_VERIFY(countShowing(view.get(), evilWall()) >= 1);
        renderAndCheckNoRequest();
        // And plain in every one of them.
        QVERIFY(checkPlain(view.get(), evilName()) >= 3);
        QVERIFY(checkPlain(view.get(), evilChat()) >= 1);
        QVERIFY(checkPlain(view.get(), evilNote()) >= 1);
        QVERIFY(checkPlain(view.get(), evilWall()) >= 1);
    }

    void startScreenShowsRecentWallsPlain()
    {
        HostController host;
        std::unique_ptr<QQuickItem> start(load("import Scrawl\nStartScreen {}\n",
                                               {{QStringLiteral("host"), QVariant::fromValue(&host)}}));
        QVERIFY(start);
        // The views' AppSettings (Qt 6.4 has no singletonInstance(uri, name) yet: 6.5).
        auto *settings = m_engine->singletonInstance<AppSettings *>(
            qmlTypeId("Scrawl", 1, 0, "AppSettings"));
        QVERIFY(settings);
        settings->addRecent(address(), evilWall(), false);
        QTRY_VERIFY(countShowing(start.get(), evilWall()) >= 1);
        renderAndCheckNoRequest();
        QVERIFY(checkPlain(start.get(), evilWall()) >= 1);
        settings->removeRecent(0);
    }

    void leavingWithChangesWaitingAsksFirst()
    {
        WallClient client;
        client.setDisplayName(QStringLiteral("Leaver"));
        client.setBackoff(60000, 60000);
        std::unique_ptr<QQuickItem> view(load("import Scrawl\nWallView {}\n",
                                              {{QStringLiteral("client"), QVariant::fromValue(&client)}}));
        QVERIFY(view);
        QSignalSpy leave(view.get(), SIGNAL(leave()));
        client.connectToWall(address(), QStringLiteral("w"));
        QTRY_COMPARE(client.state(), WallClient::Connected);

        // Nothing waiting: leaves at once.
        QMetaObject::invokeMethod(view.get(), "requestLeave");
        QCOMPARE(leave.count(), 1);

        m_server->stop();
        QTRY_COMPARE(client.state(), WallClient::Reconnecting);
        QVERIFY(client.sendChat(QStringLiteral("not sent yet")));
        QCOMPARE(client.pendingCount(), 1);
        auto *dialog = view->findChild<QObject *>(QStringLiteral("leaveDialog"));
        QVERIFY(dialog);
        auto clickButton = [&](const char *name) {
            auto *button = view->findChild<QQuickItem *>(QLatin1String(name));
            QVERIFY(button);
            QTRY_VERIFY(button->isVisible() && button->width() > 0);
            const QPointF c = button->mapToScene(QPointF(button->width() / 2, button->height() / 2));
            QTest::mouseClick(m_window.get(), Qt::LeftButton, {}, c.toPoint());
        };

        QMetaObject::invokeMethod(view.get(), "requestLeave");
        QTRY_VERIFY(dialog->property("opened").toBool());
        QCOMPARE(leave.count(), 1);
        auto *text = view->findChild<QObject *>(QStringLiteral("leaveText"));
        QVERIFY(text);
        QVERIFY2(text->property("text").toString().startsWith(QLatin1String("1 change has not reached")),
                 qPrintable(text->property("text").toString()));
        clickButton("stayButton");
        QTRY_VERIFY(!dialog->property("visible").toBool());
        QCOMPARE(leave.count(), 1);

        QMetaObject::invokeMethod(view.get(), "requestLeave");
        QTRY_VERIFY(dialog->property("opened").toBool());
        clickButton("leaveAnywayButton");
        QTRY_COMPARE(leave.count(), 2);
    }
};

QTEST_MAIN(TestPlainText)
#include "tst_plaintext.moc"
