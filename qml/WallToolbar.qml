// Tools, undo/redo, zoom, export, clear, theme, invite, the side panel and the connection state.
// Every button names its shortcut in its tooltip.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQml.Models
import Scrawl

ToolBar {
    id: bar
    required property CanvasItem canvas
    required property WallClient client
    // The wall view it serves: its fill step and colour rules.
    property Item wallView: null
    signal leaveRequested()
    signal clearRequested()
    signal exportRequested(string format, bool visibleOnly)
    signal inviteRequested()
    signal imageRequested()
    signal shortcutsRequested()
    signal historyRequested()

    component TipButton: ToolButton {
        id: tipButton
        property string tip
        // A named icon from resources/icons; the text stays as the accessible name.
        property string iconName
        icon.source: iconName !== "" ? "qrc:/qt/qml/Scrawl/icons/" + iconName + ".svg" : ""
        icon.width: 20
        icon.height: 20
        display: iconName !== "" ? AbstractButton.IconOnly : AbstractButton.TextOnly
        // Sized from the icon's set size and the text, not from the loaded picture: an SVG
        // arrives after the first layout, and the toolbar (and the wall under it) must not
        // move when it does.
        implicitWidth: display === AbstractButton.IconOnly
                       ? icon.width + leftPadding + rightPadding
                       : display === AbstractButton.TextBesideIcon
                         ? icon.width + spacing + labelMetrics.advanceWidth + leftPadding + rightPadding
                         : implicitContentWidth + leftPadding + rightPadding
        implicitHeight: Math.max(icon.height, labelMetrics.height) + topPadding + bottomPadding
        TextMetrics { id: labelMetrics; font: tipButton.font; text: tipButton.text }
        Accessible.name: text
        Accessible.description: tip
        ToolTip.visible: hovered && tip !== ""
        ToolTip.text: tip
        ToolTip.delay: 400
        // Reachable with Tab (Space presses it); a click leaves the keys where they were.
        focusPolicy: Qt.TabFocus
    }

    readonly property var toolsBefore: [
        { tool: CanvasItem.Select, label: qsTr("Select"), icon: "select", tip: qsTr("Select: click or drag a box to pick things, Shift adds; drag to move, corners resize; the handle above turns (Shift: 15° steps); Del deletes, Ctrl+D duplicates, arrows nudge, Ctrl+] brings to the front, Ctrl+[ sends to the back, Ctrl+A picks all (V)") },
        { tool: CanvasItem.Pan, label: qsTr("Pan"), icon: "pan", tip: qsTr("Pan: drag the wall (H, or hold Space, or drag with the middle button; wheel zooms)") },
        { tool: CanvasItem.Laser, label: qsTr("Laser"), icon: "laser", tip: qsTr("Laser pointer: hold the button and move; everyone sees a trail that fades within a second, and nothing is kept (K)") },
        { tool: CanvasItem.Pen, label: qsTr("Pen"), icon: "pen", tip: qsTr("Pen: draw freehand (P)"), group: true },
        { tool: CanvasItem.Eraser, label: qsTr("Eraser"), icon: "eraser", tip: qsTr("Eraser: removes whole strokes it touches (E)") }
    ]
    readonly property var shapes: [
        { tool: CanvasItem.Line, label: qsTr("Line"), key: "L", icon: "line", tip: qsTr("Line: drag from one end to the other; Shift keeps it to 45° steps (L). The arrow beside offers every shape.") },
        { tool: CanvasItem.Arrow, label: qsTr("Arrow"), key: "A", icon: "arrow", tip: qsTr("Arrow: drag from its tail to its head; Shift keeps it to 45° steps (A). The arrow beside offers every shape.") },
        { tool: CanvasItem.Rect, label: qsTr("Box"), key: "R", icon: "rect", tip: qsTr("Rectangle: drag corner to corner; Shift makes a square (R). The arrow beside offers every shape.") },
        { tool: CanvasItem.Ellipse, label: qsTr("Ellipse"), key: "O", icon: "ellipse", tip: qsTr("Ellipse: drag corner to corner; Shift makes a circle (O). The arrow beside offers every shape.") },
        { tool: CanvasItem.Diamond, label: qsTr("Diamond"), key: "D", icon: "diamond", tip: qsTr("Diamond: drag corner to corner; Shift makes it even (D). The arrow beside offers every shape.") }
    ]
    readonly property var toolsAfter: [
        { tool: CanvasItem.Text, label: qsTr("Text"), icon: "text", tip: qsTr("Text: click the wall and type; click a text to change it; Esc ends (T)"), group: true },
        { tool: CanvasItem.Note, label: qsTr("Note"), icon: "note", tip: qsTr("Sticky note: click to place one, drag its top edge to move it (N)") }
    ]
    function isShape(tool) {
        return tool === CanvasItem.Line || tool === CanvasItem.Arrow || tool === CanvasItem.Rect
            || tool === CanvasItem.Ellipse || tool === CanvasItem.Diamond
    }
    function pick(tool) {
        bar.canvas.tool = tool
        AppSettings.lastTool = tool
    }
    // The shape the shape button takes: the last one used (by button, menu or key).
    property int lastShape: isShape(AppSettings.lastTool) ? AppSettings.lastTool : CanvasItem.Rect
    Connections {
        target: bar.canvas
        function onToolChanged() {
            if (bar.isShape(bar.canvas.tool))
                bar.lastShape = bar.canvas.tool
        }
    }
    // Narrower than this, the zoom steps go (the keys, wheel and pinch stay), and the connection
    // badge and Invite show their icons alone (their words in the tooltip and the banner).
    readonly property bool narrow: width < 1000
    clip: true

    Component {
        id: toolDelegate
        RowLayout {
            spacing: 2
            // A thin gap between the groups: moving, drawing, shapes, words.
            Item { visible: modelData.group === true; implicitWidth: 4 }
            TipButton {
                objectName: "tool" + modelData.label
                text: modelData.label
                iconName: modelData.icon
                tip: modelData.tip
                checkable: true
                checked: bar.canvas.tool === modelData.tool
                // On a locked wall only moderators draw; the access note beside says why.
                enabled: modelData.tool === CanvasItem.Pan || modelData.tool === CanvasItem.Laser || bar.client.mayChangeWall
                ButtonGroup.group: tools
                onClicked: bar.pick(modelData.tool)
            }
        }
    }

    // One row from 800 px up: nothing wraps and nothing moves. The wall's name gives way first
    // (it elides); the colours, widths, fill and text size live in the properties bar that
    // floats over the wall (PropertiesBar.qml).
    RowLayout {
        id: row
        anchors.fill: parent
        spacing: 2

        TipButton {
            objectName: "leaveButton"
            text: qsTr("Leave")
            iconName: "leave"
            tip: qsTr("Leave this wall (Ctrl+W)")
            onClicked: bar.leaveRequested()
        }
        Label {
            id: wallNameLabel
            objectName: "wallName"
            text: bar.client.wall
            textFormat: Text.PlainText
            font.bold: true
            elide: Text.ElideRight
            Layout.fillWidth: true
            Layout.minimumWidth: 24
            Layout.maximumWidth: Math.max(nameMetrics.advanceWidth + 2, 24)
            Layout.preferredWidth: Math.min(nameMetrics.advanceWidth + 2, 200)
            Layout.rightMargin: 6
            TextMetrics { id: nameMetrics; font: wallNameLabel.font; text: bar.client.wall }
            ToolTip.visible: wallNameHover.hovered && truncated
            ToolTip.text: text
            HoverHandler { id: wallNameHover }
        }
        ToolSeparator {}

        ButtonGroup { id: tools }
        Repeater {
            model: bar.toolsBefore
            delegate: toolDelegate
        }
        // The five shapes share one button: a click takes the shape last used, its arrow offers
        // all five (each keeps its own key).
        TipButton {
            id: shapeButton
            objectName: "toolShape"
            readonly property var current: bar.shapes.find(s => s.tool === bar.lastShape) || bar.shapes[2]
            Layout.leftMargin: 6
            text: current.label
            iconName: current.icon
            tip: current.tip
            checkable: true
            checked: bar.isShape(bar.canvas.tool)
            enabled: bar.client.mayChangeWall
            ButtonGroup.group: tools
            onClicked: bar.pick(bar.lastShape)
        }
        ToolButton {
            id: shapeMenuButton
            objectName: "shapeMenuButton"
            text: "▾"
            implicitWidth: 16
            focusPolicy: Qt.TabFocus
            enabled: bar.client.mayChangeWall
            Accessible.name: qsTr("All shapes")
            ToolTip.visible: hovered
            ToolTip.text: qsTr("All shapes: line (L), arrow (A), rectangle (R), ellipse (O), diamond (D)")
            ToolTip.delay: 400
            onClicked: shapeMenu.open()
            Menu {
                id: shapeMenu
                y: shapeMenuButton.height
                Instantiator {
                    model: bar.shapes
                    onObjectAdded: (index, object) => shapeMenu.insertItem(index, object)
                    onObjectRemoved: (index, object) => shapeMenu.removeItem(object)
                    delegate: MenuItem {
                        objectName: "tool" + modelData.label
                        text: qsTr("%1  (%2)").arg(modelData.label).arg(modelData.key)
                        icon.source: "qrc:/qt/qml/Scrawl/icons/" + modelData.icon + ".svg"
                        checkable: true
                        checked: bar.canvas.tool === modelData.tool
                        onTriggered: bar.pick(modelData.tool)
                    }
                }
            }
        }
        Repeater {
            model: bar.toolsAfter
            delegate: toolDelegate
        }
        TipButton {
            objectName: "imageButton"
            text: qsTr("Image")
            iconName: "image"
            tip: qsTr("Put an image file on the wall (or paste one with Ctrl+V, or drop it here)")
            enabled: bar.client.ready && bar.client.mayChangeWall
            onClicked: bar.imageRequested()
        }
        // What this person's role allows, when it is less than everything: shown instead of
        // refusing after the fact (the tools it rules out are disabled).
        Label {
            objectName: "accessNote"
            visible: bar.client.ready && !bar.client.mayChangeOthersWork
            text: bar.client.mayChangeWall ? qsTr("Protected: your own work only")
                                           : qsTr("Locked: read and chat only")
            Layout.leftMargin: 6
            color: Theme.warningText
            HoverHandler { id: accessHover }
            ToolTip.visible: accessHover.hovered
            ToolTip.delay: 300
            ToolTip.text: bar.client.mayChangeWall
                ? qsTr("The owner protected people's work on this wall: you draw, move and erase your own strokes and notes; someone else's only its author or a moderator may change.")
                : qsTr("The owner locked this wall: you can read it and chat, but not draw or change it. Ask the owner or a moderator to unlock it.")
        }
        ToolSeparator {}

        TipButton {
            objectName: "undoButton"
            text: qsTr("Undo")
            iconName: "undo"
            tip: qsTr("Undo your last change (Ctrl+Z)")
            enabled: bar.client.canUndo && bar.client.mayChangeWall
            onClicked: bar.client.undo()
        }
        TipButton {
            objectName: "redoButton"
            text: qsTr("Redo")
            iconName: "redo"
            tip: qsTr("Redo (Ctrl+Shift+Z)")
            enabled: bar.client.canRedo && bar.client.mayChangeWall
            onClicked: bar.client.redo()
        }

        Item { Layout.fillWidth: true }

        TipButton {
            objectName: "zoomOutButton"
            visible: !bar.narrow
            text: qsTr("Zoom out")
            iconName: "zoom-out"
            tip: qsTr("Zoom out (Ctrl+-)")
            onClicked: bar.canvas.zoomBy(1 / 1.25, Qt.point(bar.canvas.width / 2, bar.canvas.height / 2))
        }
        TipButton {
            objectName: "zoomLabel"
            text: Math.round(bar.canvas.zoom * 100) + "%"
            // Wide enough for "1000%", so the buttons after it never shift as the zoom changes.
            implicitWidth: zoomMetrics.width + leftPadding + rightPadding
            TextMetrics { id: zoomMetrics; font: bar.font; text: "0000%" }
            tip: qsTr("Zoom to fit everything (Ctrl+0)")
            onClicked: bar.canvas.zoomToFit()
        }
        TipButton {
            objectName: "zoomInButton"
            visible: !bar.narrow
            text: qsTr("Zoom in")
            iconName: "zoom-in"
            tip: qsTr("Zoom in (Ctrl+=)")
            onClicked: bar.canvas.zoomBy(1.25, Qt.point(bar.canvas.width / 2, bar.canvas.height / 2))
        }
        ToolSeparator {}
        TipButton {
            objectName: "historyButton"
            // In the More menu when the bar is narrow.
            visible: !bar.narrow
            text: qsTr("History")
            iconName: "history"
            tip: qsTr("The wall's history: scrub back to any earlier state, play it, export or copy it (Ctrl+Shift+H)")
            enabled: bar.client.state === WallClient.Connected
            onClicked: bar.historyRequested()
        }
        TipButton {
            objectName: "exportButton"
            text: qsTr("Export")
            iconName: "export"
            tip: qsTr("Save the wall, the view or the selection as PNG or SVG (Ctrl+E)")
            onClicked: bar.exportRequested("png", false)
        }
        TipButton {
            objectName: "clearButton"
            text: qsTr("Clear wall…")
            iconName: "trash"
            tip: qsTr("Clear the wall for everyone; asks first (Ctrl+Shift+Delete)")
            // A moderator's or the owner's: a member is never offered it.
            visible: bar.client.isModerator
            enabled: bar.client.ready
            onClicked: bar.clearRequested()
        }
        TipButton {
            id: moreButton
            objectName: "moreButton"
            text: qsTr("More")
            iconName: "more"
            tip: qsTr("Theme, minimap, keyboard shortcuts (?)")
            onClicked: moreMenu.open()
            Menu {
                id: moreMenu
                y: moreButton.height
                MenuItem {
                    objectName: "historyMenuItem"
                    text: qsTr("The wall's history  (Ctrl+Shift+H)")
                    enabled: bar.client.state === WallClient.Connected
                    onTriggered: bar.historyRequested()
                }
                MenuSeparator {}
                MenuItem {
                    objectName: "themeSystem"
                    text: qsTr("Theme: follow the system")
                    checkable: true
                    checked: AppSettings.theme === "system"
                    onTriggered: AppSettings.theme = "system"
                }
                MenuItem {
                    objectName: "themeLight"
                    text: qsTr("Theme: light")
                    checkable: true
                    checked: AppSettings.theme === "light"
                    onTriggered: AppSettings.theme = "light"
                }
                MenuItem {
                    objectName: "themeDark"
                    text: qsTr("Theme: dark")
                    checkable: true
                    checked: AppSettings.theme === "dark"
                    onTriggered: AppSettings.theme = "dark"
                }
                MenuSeparator {}
                MenuItem {
                    objectName: "minimapSwitch"
                    text: qsTr("Minimap  (M)")
                    checkable: true
                    checked: bar.wallView ? bar.wallView.minimapOn : false
                    onTriggered: if (bar.wallView) bar.wallView.minimapOn = checked
                }
                MenuItem {
                    text: qsTr("Keyboard shortcuts  (?)")
                    onTriggered: bar.shortcutsRequested()
                }
            }
        }
        TipButton {
            objectName: "inviteButton"
            text: qsTr("Invite")
            iconName: "invite"
            display: bar.narrow ? AbstractButton.IconOnly : AbstractButton.TextBesideIcon
            highlighted: true
            tip: qsTr("Show and copy the address others join with (Ctrl+I)")
            onClicked: bar.inviteRequested()
        }
        TipButton {
            objectName: "panelButton"
            text: qsTr("People and chat")
            iconName: "panel"
            tip: qsTr("Show or hide the people and chat beside the wall (Ctrl+\\)")
            visible: bar.wallView !== null
            checkable: true
            checked: bar.wallView ? bar.wallView.sidePanelOpen : false
            onClicked: bar.wallView.toggleSidePanel(checked)
        }
        ConnectionBadge {
            id: badge
            objectName: "connectionBadge"
            Layout.leftMargin: 4
            Layout.rightMargin: 4
            Layout.maximumWidth: 220
            compact: bar.narrow
            client: bar.client
        }
    }
}
