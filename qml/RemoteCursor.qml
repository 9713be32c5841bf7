// Another person's pointer on the wall, with their name.
import QtQuick
import QtQuick.Controls

Item {
    id: cursor
    property string name
    property color personColor
    z: 10

    Behavior on x { NumberAnimation { duration: 50 } }
    Behavior on y { NumberAnimation { duration: 50 } }

    // An arrow tip at (0, 0).
    Rectangle {
        x: -1
        y: -1
        width: 12
        height: 12
        color: cursor.personColor
        border.color: "white"
        border.width: 1.5
        radius: 2
        transform: [ Scale { xScale: 0.75 }, Rotation { angle: 0 } ]
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
            color: "white"
            font.pixelSize: 12
            font.bold: true
        }
    }
}
