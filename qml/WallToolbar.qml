// Tools, pen palette and widths, undo/redo, zoom, clear, export, invite, connection state.
// Every button names its shortcut in its tooltip.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
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
        focusPolicy: Qt.NoFocus
    }

    // Wraps onto a second row in a narrow window instead of cutting tools off.
    Flow {
        id: flow
        width: parent.width
        spacing: 2

        TipButton {
            objectName: "leaveButton"
            text: qsTr("Leave")
            iconName: "leave"
            tip: qsTr("Leave this wall (Ctrl+W)")
            onClicked: bar.leaveRequested()
        }
        Label {
            text: bar.client.wall
            textFormat: Text.PlainText
            font.bold: true
            elide: Text.ElideRight
            width: Math.min(implicitWidth, 160)
            height: 40
            verticalAlignment: Text.AlignVCenter
            rightPadding: 8
        }
        ToolSeparator {}

        ButtonGroup { id: tools }
        Repeater {
            model: [
                { tool: CanvasItem.Select, label: qsTr("Select"), icon: "select", tip: qsTr("Select: click or drag a box to pick things, Shift adds; drag to move, corners resize; the handle above turns (Shift: 15° steps); Del deletes, Ctrl+D duplicates, arrows nudge, Ctrl+] brings to the front, Ctrl+[ sends to the back, Ctrl+A picks all (V)") },
                { tool: CanvasItem.Pen, label: qsTr("Pen"), icon: "pen", tip: qsTr("Pen: draw freehand (P)") },
                { tool: CanvasItem.Eraser, label: qsTr("Eraser"), icon: "eraser", tip: qsTr("Eraser: removes whole strokes it touches (E)") },
                { tool: CanvasItem.Note, label: qsTr("Note"), icon: "note", tip: qsTr("Text note: click to place one, drag its top edge to move it (N)") },
                { tool: CanvasItem.Pan, label: qsTr("Pan"), icon: "pan", tip: qsTr("Pan: drag the wall (H, or hold Space, or drag with the middle button; wheel zooms)") },
                { tool: CanvasItem.Line, label: qsTr("Line"), icon: "line", tip: qsTr("Line: drag from one end to the other; Shift keeps it to 45° steps (L)") },
                { tool: CanvasItem.Arrow, label: qsTr("Arrow"), icon: "arrow", tip: qsTr("Arrow: drag from its tail to its head; Shift keeps it to 45° steps (A)") },
                { tool: CanvasItem.Rect, label: qsTr("Box"), icon: "rect", tip: qsTr("Rectangle: drag corner to corner; Shift makes a square (R)") },
                { tool: CanvasItem.Ellipse, label: qsTr("Ellipse"), icon: "ellipse", tip: qsTr("Ellipse: drag corner to corner; Shift makes a circle (O)") },
                { tool: CanvasItem.Diamond, label: qsTr("Diamond"), icon: "diamond", tip: qsTr("Diamond: drag corner to corner; Shift makes it even (D)") },
                { tool: CanvasItem.Text, label: qsTr("Text"), icon: "text", tip: qsTr("Text: click the wall and type; click a text to change it; Esc ends (T)") }
            ]
            delegate: TipButton {
                objectName: "tool" + modelData.label
                text: modelData.label
                iconName: modelData.icon
                tip: modelData.tip
                checkable: true
                checked: bar.canvas.tool === modelData.tool
                // On a locked wall only moderators draw; the access note beside says why.
                enabled: modelData.tool === CanvasItem.Pan || bar.client.mayChangeWall
                ButtonGroup.group: tools
                onClicked: {
                    bar.canvas.tool = modelData.tool
                    AppSettings.lastTool = modelData.tool
                }
            }
        }
        // What this person's role allows, when it is less than everything: shown instead of
        // refusing after the fact (the tools it rules out are disabled).
        Label {
            objectName: "accessNote"
            visible: bar.client.ready && !bar.client.mayChangeOthersWork
            text: bar.client.mayChangeWall ? qsTr("Protected: your own work only")
                                           : qsTr("Locked: read and chat only")
            height: 40
            verticalAlignment: Text.AlignVCenter
            leftPadding: 6
            rightPadding: 6
            color: "#8a5a00"
            HoverHandler { id: accessHover }
            ToolTip.visible: accessHover.hovered
            ToolTip.delay: 300
            ToolTip.text: bar.client.mayChangeWall
                ? qsTr("The owner protected people's work on this wall: you draw, move and erase your own strokes and notes; someone else's only its author or a moderator may change.")
                : qsTr("The owner locked this wall: you can read it and chat, but not draw or change it. Ask the owner or a moderator to unlock it.")
        }
        ToolSeparator {}

        // Fill for the shapes drawn next, in the pen's colour; the text size for texts.
        TipButton {
            objectName: "fillButton"
            readonly property var names: [qsTr("No fill"), qsTr("Light fill"), qsTr("Solid fill")]
            text: names[bar.wallView ? bar.wallView.fillStep : 0]
            tip: qsTr("Fill of the boxes, ellipses and diamonds you draw next: none, light or solid, in the pen colour (F)")
            enabled: bar.client.mayChangeWall
            onClicked: if (bar.wallView) bar.wallView.cycleFill()
        }
        ComboBox {
            objectName: "textSize"
            visible: bar.canvas.tool === CanvasItem.Text
            focusPolicy: Qt.NoFocus
            implicitWidth: 110
            textRole: "label"
            valueRole: "size"
            model: [{ label: qsTr("Small"), size: 16 }, { label: qsTr("Medium"), size: 24 },
                    { label: qsTr("Large"), size: 40 }, { label: qsTr("Huge"), size: 72 }]
            currentIndex: Math.max(0, indexOfValue(bar.canvas.textSize))
            onActivated: bar.canvas.textSize = currentValue
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Size of the text you write next")
            ToolTip.delay: 400
        }
        ToolSeparator {}

        Repeater {
            model: AppSettings.palette()
            delegate: ColorSwatch {
                objectName: "penColor" + index
                swatchColor: modelData
                size: 18
                selected: Qt.colorEqual(bar.canvas.penColor, modelData)
                readonly property string tip: qsTr("Pen colour (%1)").arg(index + 1)
                ToolTip.visible: hovered
                ToolTip.text: tip
                ToolTip.delay: 600
                onClicked: {
                    if (bar.wallView) {
                        bar.wallView.choosePenColor(modelData)
                    } else {
                        bar.canvas.penColor = modelData
                        AppSettings.penColor = modelData
                    }
                }
            }
        }
        ToolSeparator {}
        Repeater {
            model: [2, 4, 8, 16]
            delegate: TipButton {
                objectName: "penWidth" + modelData
                tip: qsTr("Pen width %1 px ([ thinner, ] thicker)").arg(modelData)
                checkable: true
                checked: bar.canvas.penWidth === modelData
                implicitWidth: 30
                contentItem: Item {
                    Rectangle {
                        anchors.centerIn: parent
                        width: Math.min(modelData + 2, 18)
                        height: width
                        radius: width / 2
                        color: bar.canvas.penColor
                    }
                }
                onClicked: {
                    if (bar.wallView)
                        bar.wallView.chooseWidth(modelData)
                    else
                        bar.canvas.penWidth = modelData
                }
            }
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
        ToolSeparator {}
        TipButton {
            objectName: "zoomOutButton"
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
            text: qsTr("Zoom in")
            iconName: "zoom-in"
            tip: qsTr("Zoom in (Ctrl+=)")
            onClicked: bar.canvas.zoomBy(1.25, Qt.point(bar.canvas.width / 2, bar.canvas.height / 2))
        }
        ToolSeparator {}
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
            id: exportButton
            objectName: "exportButton"
            text: qsTr("Export")
            iconName: "export"
            tip: qsTr("Save the wall as PNG or SVG (Ctrl+E)")
            onClicked: exportMenu.open()
            Menu {
                id: exportMenu
                y: exportButton.height
                MenuItem { text: qsTr("Whole wall as PNG…"); onTriggered: bar.exportRequested("png", false) }
                MenuItem { text: qsTr("Visible area as PNG…"); onTriggered: bar.exportRequested("png", true) }
                MenuItem { text: qsTr("Whole wall as SVG…"); onTriggered: bar.exportRequested("svg", false) }
                MenuItem { text: qsTr("Visible area as SVG…"); onTriggered: bar.exportRequested("svg", true) }
            }
        }
        TipButton {
            objectName: "inviteButton"
            text: qsTr("Invite")
            iconName: "invite"
            display: AbstractButton.TextBesideIcon
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
            onClicked: bar.wallView.sidePanelOpen = checked
        }
        Item {
            width: badge.width + 12
            height: 40
            ConnectionBadge {
                id: badge
                objectName: "connectionBadge"
                anchors.verticalCenter: parent.verticalCenter
                x: 6
                client: bar.client
            }
        }
    }
}
