// Who is on the wall now.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

ColumnLayout {
    id: panel
    required property WallClient client
    spacing: 4

    Label {
        text: qsTr("Here now (%1)").arg(list.count)
        font.bold: true
    }
    Label {
        visible: list.count === 0
        text: panel.client.state === WallClient.Connected ? qsTr("Just you") : qsTr("Not known while offline")
        color: "#888"
    }
    ListView {
        id: list
        objectName: "membersList"
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
                Layout.fillWidth: true
                text: model.isSelf ? qsTr("%1 (you)").arg(model.name) : model.name
                textFormat: Text.PlainText
                elide: Text.ElideRight
            }
            // Moderation; the server checks every role, this only offers what may work.
            ToolButton {
                visible: panel.client.isModerator && !model.isSelf
                text: "⋯"
                onClicked: memberMenu.popup()
                Menu {
                    id: memberMenu
                    MenuItem {
                        text: qsTr("Make moderator")
                        visible: panel.client.isOwner
                        height: visible ? implicitHeight : 0
                        onTriggered: panel.client.setModerator(model.userId, true)
                    }
                    MenuItem {
                        text: qsTr("Remove moderator")
                        visible: panel.client.isOwner
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
