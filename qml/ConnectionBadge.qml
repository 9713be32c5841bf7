// Always-visible connection state: connected / reconnecting in N s / offline with N changes
// waiting. Clicking it while waiting to reconnect tries at once.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

AbstractButton {
    id: badge
    required property WallClient client
    // Only the coloured dot (a narrow window): the words move into the tooltip.
    property bool compact: false
    readonly property color stateColor: client.state === WallClient.Connected
                                        ? (client.sendingSlowly ? "#f08c00" : "#2f9e44")
                                        : client.state === WallClient.Failed || client.state === WallClient.Idle
                                          ? "#e03e3e" : "#f08c00"
    implicitHeight: 28
    implicitWidth: badge.compact ? 28 : row.implicitWidth + 20
    hoverEnabled: true
    // A screen reader hears the state, and what a press does while it waits.
    Accessible.name: client.state === WallClient.Reconnecting
                     ? qsTr("%1. Press to try now.").arg(client.statusText) : client.statusText
    onClicked: client.reconnectNow()
    // The error is the server's text (it names walls): a ToolTip of its own with a plain-text
    // label, since the attached ToolTip's label would read markup in it.
    ToolTip {
        id: badgeTip
        objectName: "badgeToolTip"
        visible: badge.hovered && (badge.compact || badge.client.errorText !== "" || badge.client.state === WallClient.Reconnecting)
        delay: 300
        text: (badge.compact ? badge.client.statusText + "\n" : "")
              + (badge.client.errorText !== "" ? badge.client.errorText + "\n" : "")
              + (badge.client.state === WallClient.Reconnecting ? qsTr("Click to try now.") : "")
        contentItem: Label {
            text: badgeTip.text
            textFormat: Text.PlainText
            wrapMode: Text.Wrap
        }
    }

    background: Rectangle {
        radius: height / 2
        color: Qt.rgba(badge.stateColor.r, badge.stateColor.g, badge.stateColor.b, 0.12)
        border.color: badge.stateColor
    }
    contentItem: Item {
        RowLayout {
            id: row
            anchors.centerIn: parent
            spacing: 6
            Rectangle {
                width: 10
                height: 10
                radius: 5
                color: badge.stateColor
            }
            Label {
                objectName: "connectionStatus"
                visible: !badge.compact
                text: badge.client.statusText
                textFormat: Text.PlainText
                font.pointSize: Theme.smallPt
            }
        }
    }
}
