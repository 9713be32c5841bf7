// Every keyboard shortcut on one sheet (? opens it, Escape or a click outside closes it).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

Popup {
    id: sheet
    objectName: "shortcutSheet"
    modal: true
    focus: true
    anchors.centerIn: parent
    width: Math.min(parent ? parent.width - 24 : 720, 720)
    height: Math.min(parent ? parent.height - 24 : 560, implicitHeight)
    padding: 18

    readonly property var groups: [
        { title: qsTr("Tools"), keys: [
            ["V", qsTr("Select")], ["H / Space", qsTr("Pan (hold Space for a moment)")], ["K", qsTr("Laser pointer")], ["P", qsTr("Pen")],
            ["E", qsTr("Eraser")], ["L", qsTr("Line")], ["A", qsTr("Arrow")], ["R", qsTr("Rectangle")],
            ["O", qsTr("Ellipse")], ["D", qsTr("Diamond")], ["T", qsTr("Text")], ["N", qsTr("Sticky note")] ] },
        { title: qsTr("Style"), keys: [
            ["1 … 8", qsTr("Pen colour")], ["[  ]", qsTr("Thinner, thicker")], ["F", qsTr("Fill: none, light, solid")] ] },
        { title: qsTr("Edit"), keys: [
            ["Ctrl+Z", qsTr("Undo")], ["Ctrl+Shift+Z", qsTr("Redo")], ["Esc", qsTr("Cancel the stroke being drawn")],
            ["Ctrl+A", qsTr("Select all")], ["Del", qsTr("Delete the selection")], ["Ctrl+D", qsTr("Duplicate")],
            ["Ctrl+C / Ctrl+V", qsTr("Copy, paste (pictures and text too)")], ["Arrows", qsTr("Nudge (Shift: further)")],
            ["Ctrl+]  Ctrl+[", qsTr("Bring to front, send to back")] ] },
        { title: qsTr("View and wall"), keys: [
            ["Ctrl+=  Ctrl+-", qsTr("Zoom in, out")], ["Ctrl+0", qsTr("Zoom to fit everything")],
            ["Ctrl+\\", qsTr("People and chat panel")], ["M", qsTr("Minimap")], ["Ctrl+E", qsTr("Export")], ["Ctrl+I", qsTr("Invite")],
            ["Ctrl+Shift+P", qsTr("Present: everyone follows your view (moderators)")], ["Ctrl+Shift+H", qsTr("The wall's history: ← → step, Esc back to live")], ["Ctrl+W", qsTr("Leave the wall")], ["Ctrl+Shift+Del", qsTr("Clear the wall (moderators)")],
            ["Alt+Shift+D", qsTr("Light or dark")], ["?", qsTr("This sheet")] ] }
    ]

    background: Rectangle {
        color: Theme.surface
        border.color: Theme.line
        radius: 10
    }

    contentItem: Flickable {
        implicitHeight: content.implicitHeight
        contentHeight: content.implicitHeight
        clip: true
        boundsBehavior: Flickable.StopAtBounds
        ColumnLayout {
            id: content
            width: parent.width
            spacing: 12
            RowLayout {
                Layout.fillWidth: true
                Label {
                    text: qsTr("Keyboard shortcuts")
                    font.pointSize: Theme.titlePt
                    font.bold: true
                    color: Theme.text
                    Layout.fillWidth: true
                }
                ToolButton {
                    icon.source: "qrc:/qt/qml/Scrawl/icons/close.svg"
                    display: AbstractButton.IconOnly
                    Accessible.name: qsTr("Close")
                    onClicked: sheet.close()
                }
            }
            GridLayout {
                // Two columns of groups when there is room.
                columns: sheet.width > 560 ? 2 : 1
                columnSpacing: 28
                rowSpacing: 14
                Layout.fillWidth: true
                Repeater {
                    model: sheet.groups
                    delegate: ColumnLayout {
                        Layout.alignment: Qt.AlignTop
                        Layout.fillWidth: true
                        spacing: 3
                        Label {
                            text: modelData.title
                            font.bold: true
                            color: Theme.mutedText
                        }
                        Repeater {
                            model: modelData.keys
                            delegate: RowLayout {
                                spacing: 10
                                Label {
                                    text: modelData[0]
                                    textFormat: Text.PlainText
                                    font.family: "monospace"
                                    color: Theme.text
                                    Layout.preferredWidth: 130
                                }
                                Label {
                                    text: modelData[1]
                                    textFormat: Text.PlainText
                                    color: Theme.text
                                    Layout.fillWidth: true
                                    wrapMode: Text.Wrap
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
