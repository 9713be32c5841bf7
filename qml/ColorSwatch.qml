// A round colour choice; `selected` draws a ring around it.
import QtQuick
import QtQuick.Controls

AbstractButton {
    id: swatch
    property color swatchColor: "black"
    property bool selected: false
    property int size: 22
    implicitWidth: size + 6
    implicitHeight: size + 6
    focusPolicy: Qt.TabFocus
    Accessible.name: qsTr("Colour %1").arg(swatchColor)

    contentItem: Item {
        Rectangle {
            anchors.centerIn: parent
            width: swatch.size + 6
            height: width
            radius: width / 2
            color: "transparent"
            border.color: swatch.selected ? Theme.selectedRing : (swatch.hovered ? Theme.mutedText : "transparent")
            border.width: 2
        }
        Rectangle {
            anchors.centerIn: parent
            width: swatch.size
            height: width
            radius: width / 2
            color: swatch.swatchColor
            border.color: Qt.darker(swatch.swatchColor, 1.3)
        }
    }
    background: null
}
