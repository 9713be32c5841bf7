// The owner's controls in the Invite popup of a real WallView, against a real in-process server:
// the API token the app was shown, "New API token" (asks first, then replaces it), the password
// buttons (set, remove), and protecting people's work and locking, as a member's own WallView
// shows them (what the role rules out is disabled or hidden, and says why); each clicked with
// synthesized mouse events.

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

#include <functional>
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

// The first item named `name` under `root`, in the item tree (Repeater delegates are not QObject
// children of the window).
QQuickItem *findItem(QQuickItem *root, QLatin1String name)
{
    if (root->objectName() == name)
        return root;
    for (QQuickItem *child : root->childItems()) {
        if (QQuickItem *found = findItem(child, name))
            return found;
    }
    return nullptr;
}

// A member's window on the same wall.
const char *kMemberQml = R"(
import QtQuick
import QtQuick.Controls
import Scrawl

ApplicationWindow {
    width: 1000
    height: 700
    visible: true
    WallClient { id: member; objectName: "member"; displayName: "Bob"; profile: "invitegui-member" }
    WallView { anchors.fill: parent; client: member }
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

    // A new wall is open: a member may move and edit the owner's note. Protected by the owner
    // (the Invite popup's checkbox), the member's app no longer offers it and says why; locked,
    // the member's drawing tools and undo are off too, and clearing is never a member's.
    void ownerProtectsAndLocksAsTheMemberSees()
    {
        const QString noteKey = owner()->addNote(200, 150, QStringLiteral("Ada's note"));
        QVERIFY(!noteKey.isEmpty());
        QQmlApplicationEngine memberEngine;
        memberEngine.addImportPath(QStringLiteral("qrc:/qt/qml"));
        memberEngine.loadData(kMemberQml, QUrl(QStringLiteral("qrc:/tst_invitegui_member.qml")));
        QVERIFY(!memberEngine.rootObjects().isEmpty());
        auto *window = qobject_cast<QQuickWindow *>(memberEngine.rootObjects().first());
        QVERIFY(window && QTest::qWaitForWindowExposed(window));
        auto *member = window->findChild<WallClient *>(QStringLiteral("member"));
        QVERIFY(member);
        member->connectToWall(QStringLiteral("127.0.0.1:%1").arg(m_server->port()), QStringLiteral("invited"));
        QTRY_COMPARE(member->state(), WallClient::Connected);
        auto memberItem = [&](const char *name) {
            QQuickItem *i = findItem(window->contentItem(), QLatin1String(name));
            if (!i)
                qWarning() << "no item" << name << "in the member's window";
            return i;
        };
        // Delegates are in the item tree, not QObject children of the window.
        std::function<QQuickItem *(QQuickItem *)> findNote = [&](QQuickItem *root) -> QQuickItem * {
            if (root->objectName() == QLatin1String("note") && root->property("noteKey").toString() == noteKey)
                return root;
            for (QQuickItem *child : root->childItems()) {
                if (QQuickItem *found = findNote(child))
                    return found;
            }
            return nullptr;
        };
        auto adasNote = [&] { return findNote(window->contentItem()); };
        QTRY_VERIFY(adasNote());
        QVERIFY(!member->protectedWork());
        QVERIFY(adasNote()->property("editable").toBool());
        QVERIFY(!memberItem("accessNote")->isVisible());
        QVERIFY(!memberItem("clearButton")->isVisible()); // a moderator's
        QVERIFY(item("clearButton")->isVisible());        // the owner's window offers it

        // Roles show in the people list (issue 17 §2): the owner's row says so, a member's says
        // nothing; a member is offered no moderation at all.
        std::function<void(QQuickItem *, QLatin1String, QStringList *)> shown =
            [&](QQuickItem *root, QLatin1String name, QStringList *texts) {
                if (root->objectName() == name && root->isVisible())
                    texts->append(root->property("text").toString());
                for (QQuickItem *child : root->childItems())
                    shown(child, name, texts);
            };
        auto roles = [&](QQuickWindow *w) {
            QStringList texts;
            shown(w->contentItem(), QLatin1String("memberRole"), &texts);
            texts.sort();
            return texts;
        };
        auto menus = [&](QQuickWindow *w) {
            QStringList texts;
            shown(w->contentItem(), QLatin1String("memberMenuButton"), &texts);
            return texts.size();
        };
        QTRY_COMPARE(roles(window), QStringList{QStringLiteral("owner")});
        QCOMPARE(menus(window), 0);
        QTRY_COMPARE(menus(m_window), 1); // the owner may act on the member
        owner()->setModerator(QString::number(member->userId()), true);
        QTRY_COMPARE(roles(window), (QStringList{QStringLiteral("moderator"), QStringLiteral("owner")}));
        QTRY_COMPARE(roles(m_window), (QStringList{QStringLiteral("moderator"), QStringLiteral("owner")}));
        // A moderator is offered nothing over the owner.
        QTRY_VERIFY(member->isModerator());
        QCOMPARE(menus(window), 0);
        owner()->setModerator(QString::number(member->userId()), false);
        QTRY_COMPARE(roles(window), QStringList{QStringLiteral("owner")});
        QTRY_VERIFY(!member->isModerator());

        QVERIFY(click("protectWork"));
        QTRY_VERIFY(member->protectedWork());
        QVERIFY(!member->mayChange(std::stoull(noteKey.toStdString())));
        QTRY_VERIFY(!adasNote()->property("editable").toBool());
        QVERIFY(memberItem("accessNote")->isVisible());
        QVERIFY(memberItem("accessNote")->property("text").toString().contains(QLatin1String("own work")));
        QVERIFY(memberItem("toolPen")->isEnabled()); // her own work she still draws
        QVERIFY(owner()->mayChange(std::stoull(noteKey.toStdString())));

        QVERIFY(click("lockWall"));
        QTRY_VERIFY(member->locked());
        QVERIFY(!member->mayChangeWall());
        QTRY_VERIFY(!memberItem("toolPen")->isEnabled());
        QVERIFY(!memberItem("toolEraser")->isEnabled());
        QVERIFY(!memberItem("toolNote")->isEnabled());
        QVERIFY(memberItem("toolPan")->isEnabled());
        QVERIFY(memberItem("accessNote")->property("text").toString().contains(QLatin1String("Locked")));
        QVERIFY(findItem(m_window->contentItem(), QLatin1String("toolPen"))->isEnabled()); // the owner draws on

        // Both back off: the wall is open again.
        QVERIFY(click("lockWall"));
        QVERIFY(click("protectWork"));
        QTRY_VERIFY(!member->locked() && !member->protectedWork());
        QTRY_VERIFY(adasNote()->property("editable").toBool());
        QVERIFY(!memberItem("accessNote")->isVisible());
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
