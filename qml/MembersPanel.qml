// Who is on the wall now.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

ColumnLayout {
    id: panel
    required property WallClient client
    // Whose view this person follows ("" for nobody): WallView's.
    property string followingId: ""
    // A click on a person's name: to where they look, once. Follow: their view, as it moves.
    signal jumpRequested(string userId)
    signal followRequested(string userId, bool on)
    spacing: 4

    RowLayout {
        Layout.fillWidth: true
        Label {
            Layout.fillWidth: true
            text: qsTr("Here now (%1)").arg(list.count)
            font.bold: true
        }
        // Moderators present: everyone's view follows theirs until they stop (or a person moves
        // their own view away).
        Button {
            objectName: "presentButton"
            visible: panel.client.isModerator && panel.client.ready
            checkable: true
            checked: panel.client.presenting
            text: panel.client.presenting ? qsTr("Stop presenting") : qsTr("Present")
            Accessible.description: qsTr("Everyone's view follows yours while you present")
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Everyone's view follows yours until you stop; anyone may move away")
            ToolTip.delay: 400
            onClicked: panel.client.presenting = checked
        }
    }
    Label {
        visible: list.count === 0
        text: panel.client.state === WallClient.Connected ? qsTr("Just you") : qsTr("Not known while offline")
        color: Theme.mutedText
    }
    ListView {
        id: list
        objectName: "membersList"
        Accessible.name: qsTr("People on this wall")
        Layout.fillWidth: true
        Layout.preferredHeight: Math.min(contentHeight, 140)
        clip: true
        interactive: contentHeight > height
        model: panel.client.members
        delegate: RowLayout {
            width: ListView.view.width
            spacing: 8
            Rectangle {
                width: 12
                height: 12
                radius: 6
                color: model.color
            }
            Label {
                objectName: "memberName"
                Layout.fillWidth: true
                text: model.isSelf ? qsTr("%1 (you)").arg(model.name) : model.name
                textFormat: Text.PlainText
                elide: Text.ElideRight
                // To where they look: a click on their name.
                MouseArea {
                    anchors.fill: parent
                    enabled: !model.isSelf && model.hasView
                    cursorShape: enabled ? Qt.PointingHandCursor : Qt.ArrowCursor
                    onClicked: panel.jumpRequested(model.userId)
                }
                ToolTip.visible: nameHover.hovered && !model.isSelf && model.hasView
                ToolTip.text: qsTr("Go to where they are looking") // a name is not put in a tooltip: it would be read as markup
                ToolTip.delay: 400
                HoverHandler { id: nameHover }
            }
            Label {
                visible: model.presenting
                text: qsTr("presenting")
                font.pointSize: Theme.smallPt
                color: Theme.accent
            }
            ToolButton {
                objectName: "followButton"
                visible: !model.isSelf && model.hasView
                checkable: true
                checked: panel.followingId === model.userId
                text: checked ? qsTr("Following") : qsTr("Follow")
                font.pointSize: Theme.smallPt
                Accessible.name: checked ? qsTr("Stop following %1").arg(model.name) : qsTr("Follow %1's view").arg(model.name)
                onClicked: panel.followRequested(model.userId, checked)
            }
            // The role, when it is more than a member's.
            Label {
                objectName: "memberRole"
                visible: model.role > 0
                text: model.role === 2 ? qsTr("owner") : qsTr("moderator")
                font.pointSize: Theme.smallPt
                color: Theme.mutedText
                leftPadding: 6
                rightPadding: 6
                background: Rectangle { radius: height / 2; color: "transparent"; border.color: Theme.line }
            }
            // Moderation; the server checks every role, this only offers what may work: nothing
            // over an owner, and to a moderator only what an owner may do.
            ToolButton {
                objectName: "memberMenuButton"
                visible: panel.client.isModerator && !model.isSelf && model.role < 2
                         && (panel.client.isOwner || model.role === 0)
                text: "⋯"
                Accessible.name: qsTr("What to do with %1").arg(model.name)
                onClicked: memberMenu.popup()
                Menu {
                    id: memberMenu
                    objectName: "memberMenu"
                    MenuItem {
                        text: qsTr("Make moderator")
                        visible: panel.client.isOwner && model.role === 0
                        height: visible ? implicitHeight : 0
                        onTriggered: panel.client.setModerator(model.userId, true)
                    }
                    MenuItem {
                        text: qsTr("Remove moderator")
                        visible: panel.client.isOwner && model.role === 1
                        height: visible ? implicitHeight : 0
                        onTriggered: panel.client.setModerator(model.userId, false)
                    }
                    MenuItem {
                        text: qsTr("Remove from the wall")
                        onTriggered: panel.client.kick(model.userId)
                    }
                }
            }
        }
    }
}
