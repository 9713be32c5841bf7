// Free text on the wall, while it is typed. The text tool opens it where the wall was clicked
// (a new text) or over a text already there (to edit it); the canvas leaves that text out while
// this editor shows it. Others read along: what is typed goes out after a short pause, and at
// least every second while typing goes on. Escape, a click elsewhere or another tool ends it; a
// text left empty is removed.
import QtQuick
import Scrawl

TextEdit {
    id: editor
    objectName: "textEditor"
    required property CanvasItem canvas
    required property WallClient client
    property string shapeKey: ""
    property real wallX: 0
    property real wallY: 0
    property real fontSize: 24
    property color textColor: "#222222"
    property bool active: false
    readonly property int typingPauseMs: 300
    readonly property int typingMaxMs: 1000

    visible: active
    enabled: active
    x: canvas.panX + wallX * canvas.zoom
    y: canvas.panY + wallY * canvas.zoom
    scale: canvas.zoom
    transformOrigin: Item.TopLeft
    width: Math.max(40, implicitWidth)
    // As the wall shows it: on a dark wall, dark ink shows light.
    color: canvas.darkWall ? canvas.inkOnScreen(textColor) : textColor
    font.pixelSize: Math.round(fontSize)
    font.hintingPreference: Font.PreferNoHinting
    textFormat: TextEdit.PlainText
    wrapMode: TextEdit.NoWrap
    selectByMouse: true
    Rectangle {
        anchors.fill: parent
        anchors.margins: -4
        z: -1
        color: "transparent"
        border.color: "#1c7ed6"
        border.width: 1 / Math.max(0.05, editor.canvas.zoom)
        radius: 2
    }

    // At (x, y) on the wall: over the text `key` to edit it, or a new one when `key` is empty.
    function open(x, y, key) {
        finish()
        if (key !== "") {
            const info = client.shapeInfo(key)
            if (info.text === undefined)
                return
            shapeKey = key
            wallX = info.x
            wallY = info.y
            fontSize = info.fontSize
            textColor = info.color
            text = info.text
            client.setEditingShape(key)
        } else {
            shapeKey = ""
            wallX = x
            // The click is where the first line's middle goes.
            wallY = y - canvas.textSize * 0.6
            fontSize = canvas.textSize
            textColor = canvas.penColor
            text = ""
        }
        active = true
        forceActiveFocus()
        cursorPosition = text.length
    }

    function send() {
        typingPause.stop()
        typingMax.stop()
        if (!active)
            return
        if (shapeKey === "") {
            if (text.length === 0)
                return
            shapeKey = client.addText(wallX, wallY, text, fontSize, textColor)
            client.setEditingShape(shapeKey)
        } else {
            client.setShapeText(shapeKey, text)
        }
    }

    function finish() {
        if (!active)
            return
        send()
        if (shapeKey !== "" && text.trim().length === 0)
            client.deleteShape(shapeKey)
        client.setEditingShape("")
        active = false
        shapeKey = ""
        text = ""
        canvas.forceActiveFocus()
    }

    Timer { id: typingPause; interval: editor.typingPauseMs; onTriggered: editor.send() }
    Timer { id: typingMax; interval: editor.typingMaxMs; onTriggered: editor.send() }
    onTextChanged: {
        if (!active)
            return
        typingPause.restart()
        if (!typingMax.running)
            typingMax.start()
    }
    onActiveFocusChanged: if (!activeFocus && active) finish()
    Keys.onEscapePressed: finish()
    Connections {
        target: editor.canvas
        function onToolChanged() { editor.finish() }
    }
}
