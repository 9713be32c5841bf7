// An image on the wall, seen from QML: its pixels are painted in the canvas's tiles under the
// ink, so this draws only what goes over them: while the image is on its way, "Loading image"
// with a progress bar; when it cannot be shown, why; on hover, a × that deletes it for those
// who may. It takes no clicks but the ×, so drawing over an image works as anywhere else.
import QtQuick
import QtQuick.Controls
import Scrawl

Item {
    id: frame
    objectName: "image"
    required property CanvasItem canvas
    required property WallClient client
    // Filled from the ImagesModel roles of the same names.
    required property string imageKey
    required property real imageX
    required property real imageY
    required property real imageWidth
    required property real imageHeight
    required property bool mine
    required property bool loaded
    required property real progress
    required property string error
    required property real imageRotation
    readonly property bool deletable: mine ? client.mayChangeWall : client.mayChangeOthersWork

    x: canvas.panX + imageX * canvas.zoom
    y: canvas.panY + imageY * canvas.zoom
    width: imageWidth * canvas.zoom
    height: imageHeight * canvas.zoom
    rotation: imageRotation
    transformOrigin: Item.TopLeft

    HoverHandler { id: hover }

    Column {
        anchors.centerIn: parent
        width: Math.min(parent.width - 16, 220)
        spacing: 6
        visible: !frame.loaded && parent.height > 40 && width > 40
        Label {
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            color: frame.error !== "" ? "#a33" : "#666"
            text: frame.error !== "" ? qsTr("This image is not shown: %1").arg(frame.error) : qsTr("Loading image…")
        }
        ProgressBar {
            objectName: "imageProgress"
            width: parent.width
            visible: frame.error === ""
            from: 0
            to: 1
            value: frame.progress
            indeterminate: frame.progress <= 0
        }
    }

    RoundButton {
        objectName: "deleteImage"
        anchors { top: parent.top; right: parent.right; margins: 4 }
        width: 28
        height: 28
        padding: 0
        text: "×"
        visible: frame.deletable && (hover.hovered || hovered)
        onClicked: frame.client.deleteImage(frame.imageKey)
        ToolTip.visible: hovered
        ToolTip.text: qsTr("Delete this image")
        Accessible.name: qsTr("Delete image")
    }
}
