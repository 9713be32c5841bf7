// The wall's chat: author, colour and time on every message; Enter sends; follows new messages
// unless the person scrolled up; older messages are fetched when scrolled to the top.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

ColumnLayout {
    id: panel
    required property WallClient client
    property alias input: input
    property alias list: list
    spacing: 6

    Label {
        text: qsTr("Chat")
        font.bold: true
    }

    ListView {
        id: list
        objectName: "chatList"
        Accessible.name: qsTr("Chat messages")
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        spacing: 8
        model: panel.client.chat
        // Follow the newest message unless the person scrolled up to read.
        property bool following: true
        onMovementEnded: following = atYEnd
        onCountChanged: if (following) Qt.callLater(list.positionViewAtEnd)
        onHeightChanged: if (following) Qt.callLater(list.positionViewAtEnd)
        onAtYBeginningChanged: {
            if (atYBeginning && !following && panel.client.chat.hasMore)
                panel.client.fetchOlderChat()
        }
        ScrollBar.vertical: ScrollBar {}

        header: Item {
            width: ListView.view.width
            height: panel.client.chat.hasMore ? 32 : 0
            visible: panel.client.chat.hasMore
            Button {
                anchors.centerIn: parent
                flat: true
                text: panel.client.chat.loadingOlder ? qsTr("Loading…") : qsTr("Show older messages")
                enabled: !panel.client.chat.loadingOlder
                onClicked: {
                    list.following = false
                    panel.client.fetchOlderChat()
                }
            }
        }

        delegate: Column {
            width: ListView.view.width - 12
            spacing: 2
            opacity: model.pending ? 0.6 : 1
            Row {
                spacing: 6
                Rectangle {
                    width: 8
                    height: 8
                    radius: 4
                    color: model.authorColor
                    anchors.verticalCenter: parent.verticalCenter
                }
                Label {
                    text: model.author
                    textFormat: Text.PlainText
                    color: Qt.darker(model.authorColor, 1.2)
                    font.bold: true
                }
                Label {
                    text: model.pending ? qsTr("sending…") : model.timeText
                    color: Theme.mutedText
                    font.pointSize: Theme.smallPt
                    anchors.verticalCenter: parent.verticalCenter
                }
            }
            // A long message folds after a few lines, so one paste does not fill the panel;
            // "Show all" unfolds it (and folds it again).
            property bool unfolded: false
            Label {
                id: messageText
                objectName: "chatText"
                width: parent.width
                text: model.text
                wrapMode: Text.Wrap
                textFormat: Text.PlainText
                maximumLineCount: parent.unfolded ? 100000 : 6
                elide: Text.ElideRight
            }
            Button {
                objectName: "chatFold"
                visible: messageText.truncated || parent.unfolded
                flat: true
                padding: 2
                font.pointSize: Theme.smallPt
                text: parent.unfolded ? qsTr("Show less") : qsTr("Show all")
                onClicked: parent.unfolded = !parent.unfolded
            }
        }
    }

    Button {
        objectName: "jumpToLatest"
        Layout.alignment: Qt.AlignHCenter
        visible: !list.following && list.count > 0
        text: qsTr("Jump to latest")
        flat: true
        onClicked: {
            list.following = true
            list.positionViewAtEnd()
        }
    }

    TextField {
        id: input
        objectName: "chatInput"
        Accessible.name: qsTr("Chat message")
        Layout.fillWidth: true
        placeholderText: panel.client.ready ? qsTr("Message (Enter sends)") : qsTr("Connecting…")
        enabled: panel.client.ready
        maximumLength: 4000
        onAccepted: {
            if (panel.client.sendChat(text)) {
                text = ""
                list.following = true
            }
        }
    }
}
