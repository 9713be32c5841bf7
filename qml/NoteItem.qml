// A text note on the wall. Drawn at its wall position and scaled with the zoom; drag its top
// strip to move it, click the text to edit (others see it as it is typed: a pause of
// `typingPauseMs`, or every `typingMaxMs` while typing on, and when focus leaves), × deletes,
// the swatches above it recolour it and the corner grip resizes it.
import QtQuick
import QtQuick.Controls
import Scrawl

Rectangle {
    id: note
    objectName: "note"
    required property CanvasItem canvas
    required property WallClient client
    // Filled from the NotesModel roles of the same names.
    required property string noteKey
    required property real noteX
    required property real noteY
    required property string noteText
    required property color noteColor
    required property bool pending
    required property bool mine
    required property real noteWidth
    required property real noteHeight
    required property int noteLayer
    // While the corner grip is dragged: the size it would get (wall px), else 0.
    property size resizing: Qt.size(0, 0)
    readonly property real defaultWidth: 200
    // Note colours offered on hover (any colour is allowed on the wire).
    readonly property var noteColors: ["#f2c94c", "#f2994a", "#eb5757", "#6fcf97", "#2d9cdb", "#9b51e0"]
    // What this person may do with it: their own note unless the wall is locked, someone else's
    // unless the owner protected people's work (WallClient's access properties).
    readonly property bool editable: mine ? client.mayChangeWall : client.mayChangeOthersWork
    property point dragOffset: Qt.point(0, 0)
    property alias editor: editor
    // Live typing: what is typed goes out after a short pause, and at least this often while
    // typing goes on, so that others read along (each is an op: a few a second at most).
    readonly property int typingPauseMs: 300
    readonly property int typingMaxMs: 1000

    function sendTyped() {
        typingPause.stop()
        typingMax.stop()
        if (editor.text !== note.noteText)
            note.client.editNote(note.noteKey, editor.text)
    }
    Timer { id: typingPause; interval: note.typingPauseMs; onTriggered: note.sendTyped() }
    Timer { id: typingMax; interval: note.typingMaxMs; onTriggered: note.sendTyped() }

    // Picked with the select tool: it follows the selection while that is dragged.
    readonly property bool selected: canvas.selectionCount > 0 && canvas.isNoteSelected(noteKey)
    // Turned with the selection, a note stays upright and its middle goes round (as the model
    // turns it: from its size, or 200 x 80 when it has none).
    readonly property point turnShift: {
        if (!selected || canvas.floatAngle === 0)
            return Qt.point(0, 0)
        const a = canvas.floatAngle * Math.PI / 180
        const cx = canvas.panX + (noteX + (noteWidth > 0 ? noteWidth : 200) / 2) * canvas.zoom - canvas.floatPivot.x
        const cy = canvas.panY + (noteY + Math.max(noteHeight, 80) / 2) * canvas.zoom - canvas.floatPivot.y
        return Qt.point(cx * Math.cos(a) - cy * Math.sin(a) - cx, cx * Math.sin(a) + cy * Math.cos(a) - cy)
    }
    // In someone else's drag: where their preview takes it.
    readonly property point remoteShift: canvas.remoteFloatRevision > 0 ? canvas.remoteNoteShift(noteKey) : Qt.point(0, 0)
    x: canvas.panX + noteX * canvas.zoom + dragOffset.x + remoteShift.x
       + (selected ? canvas.floatShift.x + turnShift.x : 0)
    y: canvas.panY + noteY * canvas.zoom + dragOffset.y + remoteShift.y
       + (selected ? canvas.floatShift.y + turnShift.y : 0)
    width: resizing.width > 0 ? resizing.width : noteWidth > 0 ? noteWidth : defaultWidth
    height: Math.max(48, resizing.height > 0 ? resizing.height : noteHeight, editor.implicitHeight + 24)
    scale: canvas.zoom
    transformOrigin: Item.TopLeft
    z: noteLayer
    radius: 4
    color: Qt.tint("white", Qt.rgba(noteColor.r, noteColor.g, noteColor.b, 0.18))
    border.color: noteColor
    border.width: 2
    opacity: pending ? 0.85 : 1

    function startEditing() {
        editor.forceActiveFocus()
        editor.cursorPosition = editor.length
    }

    // The grip: drag to move.
    MouseArea {
        id: grip
        objectName: "noteGrip"
        anchors { left: parent.left; right: parent.right; top: parent.top }
        height: 14
        enabled: note.editable
        cursorShape: pressed ? Qt.ClosedHandCursor : Qt.OpenHandCursor
        hoverEnabled: true
        property point start
        onPressed: mouse => start = mapToItem(note.parent, mouse.x, mouse.y)
        onPositionChanged: mouse => {
            if (!pressed)
                return
            const p = mapToItem(note.parent, mouse.x, mouse.y)
            note.dragOffset = Qt.point(p.x - start.x, p.y - start.y)
        }
        onReleased: {
            const dx = note.dragOffset.x / note.canvas.zoom
            const dy = note.dragOffset.y / note.canvas.zoom
            note.dragOffset = Qt.point(0, 0)
            if (dx !== 0 || dy !== 0)
                note.client.moveNote(note.noteKey, note.noteX + dx, note.noteY + dy)
        }
        Rectangle {
            anchors.centerIn: parent
            width: 28
            height: 4
            radius: 2
            color: Qt.darker(note.noteColor, 1.1)
            opacity: grip.containsMouse || grip.pressed ? 0.9 : 0.35
        }
    }

    TextEdit {
        id: editor
        anchors { left: parent.left; right: parent.right; top: grip.bottom; margins: 8; topMargin: 2 }
        text: note.noteText
        textFormat: TextEdit.PlainText
        wrapMode: TextEdit.Wrap
        font.pixelSize: 14
        color: "#202020"
        selectByMouse: true
        readOnly: !note.editable
        persistentSelection: false
        Keys.onEscapePressed: note.canvas.forceActiveFocus()
        Keys.onPressed: event => {
            if (event.key === Qt.Key_Delete && (event.modifiers & Qt.ControlModifier) && note.editable) {
                event.accepted = true
                note.client.deleteNote(note.noteKey)
                note.canvas.forceActiveFocus()
            }
        }
        onTextChanged: {
            if (!activeFocus || text === note.noteText)
                return
            typingPause.restart()
            if (!typingMax.running)
                typingMax.start()
        }
        onActiveFocusChanged: {
            if (activeFocus)
                return
            note.sendTyped()
            // Left empty (a click elsewhere, Escape, another tool): it goes. Not when only the
            // window lost focus: the person may come back to type.
            if (note.Window.active && text.trim() === "" && note.editable)
                note.client.dropEmptyNote(note.noteKey)
        }
        Text {
            anchors.fill: parent
            visible: editor.length === 0 && !editor.activeFocus
            text: qsTr("Empty note")
            color: "#999"
            font: editor.font
        }
    }

    // The wall model says what the text is; while typing, ours wins until focus leaves.
    onNoteTextChanged: if (!editor.activeFocus) editor.text = noteText

    ToolButton {
        objectName: "deleteNote"
        anchors { right: parent.right; top: parent.top; margins: -4 }
        width: 22
        height: 22
        text: "×"
        visible: note.editable && (hover.hovered || editor.activeFocus)
        ToolTip.visible: hovered
        ToolTip.text: qsTr("Delete note (Ctrl+Delete while editing)")
        ToolTip.delay: 500
        onClicked: note.client.deleteNote(note.noteKey)
    }
    // Colours, above the note while the pointer is on it.
    Row {
        objectName: "noteColors"
        anchors { left: parent.left; bottom: parent.top; bottomMargin: 2 }
        spacing: 3
        visible: note.editable && (hover.hovered || colorsHover.hovered)
        HoverHandler { id: colorsHover }
        Repeater {
            model: note.noteColors
            delegate: Rectangle {
                objectName: "noteColor" + index
                width: 14
                height: 14
                radius: 7
                color: modelData
                border.width: Qt.colorEqual(note.noteColor, modelData) ? 2 : 1
                border.color: Qt.darker(modelData, 1.4)
                TapHandler {
                    onTapped: note.client.styleNote(note.noteKey, modelData, note.noteWidth, note.noteHeight)
                }
                HoverHandler { cursorShape: Qt.PointingHandCursor }
            }
        }
    }

    // The corner grip: drag to resize (its text wraps to the new width and never clips).
    MouseArea {
        id: sizeGrip
        objectName: "noteResize"
        anchors { right: parent.right; bottom: parent.bottom }
        width: 14
        height: 14
        enabled: note.editable
        visible: note.editable && (hover.hovered || pressed)
        cursorShape: Qt.SizeFDiagCursor
        property point start
        property size startSize
        onPressed: mouse => {
            start = mapToItem(note.parent, mouse.x, mouse.y)
            startSize = Qt.size(note.width, note.height)
        }
        onPositionChanged: mouse => {
            if (!pressed)
                return
            const p = mapToItem(note.parent, mouse.x, mouse.y)
            const z = note.canvas.zoom
            note.resizing = Qt.size(Math.min(2000, Math.max(60, startSize.width + (p.x - start.x) / z)),
                                    Math.min(2000, Math.max(60, startSize.height + (p.y - start.y) / z)))
        }
        onReleased: {
            // Numbers, not the size: a value-type variable would follow the property's reset.
            const w = note.resizing.width, h = note.resizing.height
            note.resizing = Qt.size(0, 0)
            if (w > 0)
                note.client.styleNote(note.noteKey, note.noteColor, w, h)
        }
        Canvas {
            anchors.fill: parent
            onPaint: {
                const ctx = getContext("2d")
                ctx.strokeStyle = Qt.darker(note.noteColor, 1.3)
                ctx.lineWidth = 1.5
                for (let i = 4; i <= 12; i += 4) {
                    ctx.beginPath()
                    ctx.moveTo(width - i, height - 2)
                    ctx.lineTo(width - 2, height - i)
                    ctx.stroke()
                }
            }
        }
    }

    HoverHandler { id: hover }
    // Why a note cannot be changed, on the note itself.
    ToolTip.visible: hover.hovered && !note.editable
    ToolTip.delay: 500
    ToolTip.text: note.client.showsPast
        ? qsTr("The wall as it was: go back to the live wall to change it.")
        : !note.client.mayChangeWall
        ? qsTr("The owner locked this wall: notes can be read, not changed.")
        : qsTr("The owner protected people's work: only this note's author or a moderator may change it.")
}
