// Another person's pointer on the wall, with their name.
import QtQuick
import QtQuick.Controls
import QtQuick.Shapes
import Scrawl

Item {
    id: cursor
    objectName: "remoteCursor"
    property string name
    property color personColor
    // Where it is on the wall: a move there (not a pan or zoom here) wakes it.
    property real wallX
    property real wallY
    // Still for a few seconds: it fades away, and comes back when it moves.
    property bool idle: false
    readonly property int idleAfterMs: 4000
    z: 10
    opacity: idle ? 0 : 1
    Behavior on opacity { NumberAnimation { duration: cursor.idle ? 800 : 120 } }

    function wake() {
        idle = false
        idleTimer.restart()
    }
    onWallXChanged: wake()
    onWallYChanged: wake()
    onVisibleChanged: if (visible) wake()
    Timer {
        id: idleTimer
        interval: cursor.idleAfterMs
        running: true
        onTriggered: cursor.idle = true
    }

    Behavior on x { NumberAnimation { duration: 50 } }
    Behavior on y { NumberAnimation { duration: 50 } }

    // An arrow pointer with its tip at (0, 0).
    Shape {
        width: 16
        height: 20
        ShapePath {
            fillColor: cursor.personColor
            strokeColor: "white"
            strokeWidth: 1.5
            startX: 0; startY: 0
            PathLine { x: 0; y: 16 }
            PathLine { x: 4.5; y: 12 }
            PathLine { x: 11; y: 12 }
            PathLine { x: 0; y: 0 }
        }
    }
    Rectangle {
        x: 12
        y: 12
        width: label.implicitWidth + 10
        height: label.implicitHeight + 4
        radius: 4
        color: cursor.personColor
        Label {
            id: label
            anchors.centerIn: parent
            text: cursor.name
            textFormat: Text.PlainText
            color: "white"
            font.pointSize: Theme.smallPt
            font.bold: true
        }
    }
}
