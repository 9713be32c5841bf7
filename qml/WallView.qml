// The wall: toolbar, canvas with notes and remote cursors on top, people and chat beside it.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import QtCore
import Scrawl

Item {
    id: view
    required property WallClient client
    property HostController host: null
    property alias canvas: wallCanvas
    property alias chatPanel: chatPanel
    property alias toolbar: toolbar
    // People and chat beside the wall; folded away by default in a narrow window, so that the
    // wall keeps the room, and opened again from the toolbar or Ctrl+\.
    property bool sidePanelOpen: true
    // It folds by itself when the window narrows and opens when it widens, until the person
    // opens or folds it themselves.
    property bool sidePanelAuto: true
    // The minimap in the wall's corner: shown (when the wall reaches beyond the view) unless
    // switched off (M, or the toolbar's More menu).
    property bool minimapOn: true
    readonly property bool wideWindow: Window.width >= 1000
    onWideWindowChanged: if (sidePanelAuto && Window.width > 0) sidePanelOpen = wideWindow
    function toggleSidePanel(open) {
        sidePanelAuto = false
        sidePanelOpen = open
    }
    signal leave()

    // --- follow and present ---
    // Whose view this one follows ("" for nobody): picked in the people panel, or whoever
    // presents. Moving one's own view (pan, zoom) stops following.
    property string followingId: ""
    property bool followingPresenter: false
    // The presentation this person moved away from: not followed again until it ends, or
    // until they follow it again from the banner.
    property string leftPresentation: ""
    function showViewOf(userId) {
        const r = view.client.memberView(userId)
        if (r.width > 0 && r.height > 0)
            wallCanvas.showWallRect(r)
    }
    function follow(userId, presentation) {
        followingId = userId
        followingPresenter = presentation
        if (presentation)
            leftPresentation = ""
        showViewOf(userId)
    }
    function stopFollowing() {
        if (followingPresenter)
            leftPresentation = followingId
        followingId = ""
        followingPresenter = false
    }
    function followPresenter() {
        const p = view.client.presenterId
        if (p !== "" && p !== String(view.client.userId) && p !== leftPresentation)
            follow(p, true)
        else if (p === "" && followingPresenter) {
            followingId = ""
            followingPresenter = false
            leftPresentation = ""
        }
    }
    Connections {
        target: view.client
        function onMemberViewChanged(userId) {
            if (userId === view.followingId)
                view.showViewOf(userId)
        }
        function onPresentingChanged() { view.followPresenter() }
    }
    Connections {
        target: wallCanvas
        function onViewMovedByHand() {
            if (view.followingId !== "")
                view.stopFollowing()
        }
    }

    Component.onCompleted: {
        sidePanelOpen = !(Window.width > 0 && Window.width < 1000)
        wallCanvas.tool = AppSettings.lastTool
        wallCanvas.penColor = AppSettings.penColor
        wallCanvas.penWidth = AppSettings.penWidth
        wallCanvas.forceActiveFocus()
    }

    // Leaving with changes the server has not acknowledged asks first. They are not lost either
    // way (the outbox is kept on disk and sent on the next join of this wall), but they do not
    // reach the others until then.
    function requestLeave() {
        if (client.pendingCount > 0)
            leaveDialog.open()
        else
            view.leave()
    }

    function inviteAddresses() {
        if (host && host.running)
            return host.addresses
        return [client.address]
    }

    // The wall's history (Timeline): while it is open and in, the canvas, notes and images show
    // its past client instead of the live one; the live wall goes on meanwhile.
    Timeline {
        id: timeline
        client: view.client
    }
    property alias timeline: timeline
    readonly property WallClient shown: timeline.open && timeline.ready ? timeline.past : view.client
    function toggleTimeline() {
        if (timeline.open)
            timeline.close()
        else
            timeline.show()
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        WallToolbar {
            id: toolbar
            Layout.fillWidth: true
            canvas: wallCanvas
            client: view.client
            wallView: view
            onLeaveRequested: view.requestLeave()
            onClearRequested: clearDialog.open()
            onExportRequested: (format, visibleOnly) => view.openExport(format, visibleOnly)
            onInviteRequested: invitePopup.open()
            onImageRequested: imageFileDialog.open()
            onShortcutsRequested: shortcutSheet.open()
            onHistoryRequested: view.toggleTimeline()
        }

        SplitView {
            Layout.fillWidth: true
            Layout.fillHeight: true

            Item {
                SplitView.fillWidth: true
                clip: true

                CanvasItem {
                    id: wallCanvas
                    objectName: "canvas"
                    anchors.fill: parent
                    client: view.shown
                    background: Theme.wall
                    darkWall: Theme.dark
                    // In the Tab chain with the toolbar, the properties and the panel.
                    activeFocusOnTab: true
                    Accessible.role: Accessible.Canvas
                    Accessible.name: qsTr("Wall %1").arg(view.client.wall)
                    HoverHandler { id: wallHover }
                    onTextRequested: (at, key) => textEditor.open(at.x, at.y, key)
                    onNoteCreated: key => {
                        for (let i = 0; i < notesRepeater.count; ++i) {
                            const item = notesRepeater.itemAt(i)
                            if (item && item.noteKey === key) {
                                item.startEditing()
                                return
                            }
                        }
                    }
                }

                // Pinch on a touchpad or touch screen zooms about the fingers.
                PinchHandler {
                    target: null
                    property real lastScale: 1
                    onActiveChanged: lastScale = 1
                    onActiveScaleChanged: {
                        wallCanvas.zoomBy(activeScale / lastScale, centroid.position)
                        lastScale = activeScale
                    }
                }

                Item {
                    id: imagesLayer
                    anchors.fill: parent
                    Repeater {
                        model: view.shown.images
                        delegate: ImageFrame {
                            canvas: wallCanvas
                            client: view.shown
                        }
                    }
                }

                // Image files dropped on the wall are placed where they are dropped.
                DropArea {
                    objectName: "imageDrop"
                    anchors.fill: parent
                    enabled: view.client.ready && view.client.mayChangeWall
                    keys: ["text/uri-list"]
                    onDropped: drop => {
                        const at = wallCanvas.mapToWall(Qt.point(drop.x, drop.y))
                        if (view.client.placeImageFiles(drop.urls, at.x, at.y) > 0)
                            drop.accept(Qt.CopyAction)
                    }
                }

                Item {
                    id: notesLayer
                    anchors.fill: parent
                    Repeater {
                        id: notesRepeater
                        model: view.shown.notes
                        delegate: NoteItem {
                            canvas: wallCanvas
                            client: view.shown
                        }
                    }
                }

                // The selection: its outline with corner handles (drag one to resize; Shift keeps
                // the proportions), and the box being dragged out to pick what is inside.
                Item {
                    anchors.fill: parent
                    Rectangle {
                        id: selectionOutline
                        objectName: "selectionOutline"
                        readonly property rect r: wallCanvas.selectionRect
                        visible: wallCanvas.selectionCount > 0
                        x: r.x
                        y: r.y
                        width: r.width
                        height: r.height
                        color: "transparent"
                        border.color: "#1c7ed6"
                        border.width: 1.5
                        // Turned with its handle while that is dragged.
                        rotation: wallCanvas.floatAngle
                        // The handle that turns it (Shift: 15 degree steps).
                        Rectangle {
                            x: selectionOutline.width / 2 - width / 2
                            y: -wallCanvas.rotateHandleOffset + 5
                            width: 1.5
                            height: wallCanvas.rotateHandleOffset - 5
                            color: "#1c7ed6"
                        }
                        Rectangle {
                            objectName: "rotateHandle"
                            x: selectionOutline.width / 2 - 6
                            y: -wallCanvas.rotateHandleOffset - 6
                            width: 12
                            height: 12
                            radius: 6
                            color: "white"
                            border.color: "#1c7ed6"
                            border.width: 1.5
                        }
                        Repeater {
                            model: 4
                            Rectangle {
                                width: 10
                                height: 10
                                x: (index === 1 || index === 2 ? selectionOutline.width : 0) - 5
                                y: (index >= 2 ? selectionOutline.height : 0) - 5
                                color: "white"
                                border.color: "#1c7ed6"
                                border.width: 1.5
                            }
                        }
                    }
                    Rectangle {
                        objectName: "selectionBand"
                        readonly property rect r: wallCanvas.bandRect
                        visible: r.width > 0 || r.height > 0
                        x: r.x
                        y: r.y
                        width: r.width
                        height: r.height
                        color: Qt.rgba(0.11, 0.49, 0.84, 0.08)
                        border.color: "#1c7ed6"
                        border.width: 1
                    }
                }

                TextEditor {
                    id: textEditor
                    canvas: wallCanvas
                    client: view.client
                }

                // Where you are on a large wall: click or drag in it to look elsewhere.
                Rectangle {
                    id: minimapFrame
                    objectName: "minimap"
                    anchors { right: parent.right; bottom: parent.bottom; margins: 10
                              bottomMargin: timelineBar.visible ? timelineBar.height + 20 : 10 }
                    width: 180
                    height: 120
                    z: 5
                    visible: view.minimapOn && minimap.wallLargerThanView
                    color: "transparent"
                    radius: 6
                    border.color: Theme.line
                    MinimapItem {
                        id: minimap
                        objectName: "minimapItem"
                        anchors { fill: parent; margins: 1 }
                        canvas: wallCanvas
                        background: Theme.surface
                        viewColor: Theme.accent
                    }
                }

                // Pen and shape settings: nothing to draw on the wall's past.
                Item {
                    anchors.fill: parent
                    visible: !timeline.open
                    z: 5
                    PropertiesBar {
                        objectName: "propertiesBar"
                        anchors { left: parent.left; top: parent.top; margins: 10 }
                        canvas: wallCanvas
                        client: view.client
                        wallView: view
                    }
                }

                Item {
                    anchors.fill: parent
                    // Where people are now: not over the wall's past.
                    visible: !timeline.open
                    // What others have picked, outlined in their colour (where they drag it).
                    Repeater {
                        model: view.client.members
                        delegate: Rectangle {
                            objectName: "remoteSelection"
                            readonly property rect box: model.selection
                            visible: !model.isSelf && model.hasCursor && (box.width > 0 || box.height > 0)
                            x: wallCanvas.panX + box.x * wallCanvas.zoom - 3
                            y: wallCanvas.panY + box.y * wallCanvas.zoom - 3
                            width: box.width * wallCanvas.zoom + 6
                            height: box.height * wallCanvas.zoom + 6
                            color: "transparent"
                            border.color: model.color
                            border.width: 2
                            radius: 3
                        }
                    }
                    Repeater {
                        model: view.client.members
                        delegate: RemoteCursor {
                            visible: model.hasCursor && !model.isSelf
                            x: wallCanvas.panX + model.cursorX * wallCanvas.zoom
                            y: wallCanvas.panY + model.cursorY * wallCanvas.zoom
                            wallX: model.cursorX
                            wallY: model.cursorY
                            name: model.name
                            personColor: model.color
                        }
                    }
                    LaserTrails {
                        anchors.fill: parent
                        client: view.client
                        canvas: wallCanvas
                    }
                }

                // Following someone, presenting, or someone presenting that this person moved
                // away from: said at the top, with the way out (or back).
                Rectangle {
                    id: followBanner
                    objectName: "followBanner"
                    readonly property string presenter: view.client.presenterId
                    readonly property bool presentingHere: view.client.presenting
                    readonly property bool awayFromPresentation: presenter !== "" && !presentingHere
                                                                 && view.followingId !== presenter
                    visible: view.followingId !== "" || presentingHere || awayFromPresentation
                    anchors { horizontalCenter: parent.horizontalCenter; top: parent.top; topMargin: 10 }
                    width: followRow.implicitWidth + 20
                    height: followRow.implicitHeight + 12
                    radius: height / 2
                    color: Theme.accent
                    z: 20
                    RowLayout {
                        id: followRow
                        anchors.centerIn: parent
                        spacing: 10
                        Label {
                            objectName: "followBannerText"
                            color: Theme.accentText
                            textFormat: Text.PlainText
                            text: followBanner.presentingHere
                                  ? qsTr("You are presenting: everyone's view follows yours")
                                  : view.followingId !== ""
                                    ? (view.followingPresenter ? qsTr("%1 is presenting: you follow their view; move yours to look around")
                                                               : qsTr("Following %1's view; move yours to stop"))
                                      .arg(view.client.memberName(view.followingId))
                                    : qsTr("%1 is presenting").arg(view.client.memberName(followBanner.presenter))
                        }
                        Button {
                            objectName: "followBannerButton"
                            flat: true
                            palette.buttonText: Theme.accentText
                            text: followBanner.presentingHere ? qsTr("Stop presenting")
                                  : view.followingId !== "" ? qsTr("Stop following") : qsTr("Follow")
                            onClicked: {
                                if (followBanner.presentingHere)
                                    view.client.presenting = false
                                else if (view.followingId !== "")
                                    view.stopFollowing()
                                else
                                    view.follow(followBanner.presenter, true)
                            }
                        }
                    }
                }

                Label {
                    anchors.centerIn: parent
                    visible: !view.client.everJoined
                    text: view.client.state === WallClient.Connecting ? qsTr("Connecting to %1…").arg(view.client.address)
                                                                      : qsTr("Not connected")
                    textFormat: Text.PlainText
                    color: Theme.mutedText
                    font.pointSize: Theme.titlePt
                }

                // Images going up: what, and how far.
                Rectangle {
                    objectName: "uploadBar"
                    anchors { horizontalCenter: parent.horizontalCenter; top: parent.top; topMargin: 12 }
                    width: Math.min(parent.width - 40, 320)
                    height: uploadColumn.implicitHeight + 16
                    radius: 6
                    color: Theme.surface
                    border.color: Theme.line
                    visible: view.client.uploading
                    Column {
                        id: uploadColumn
                        anchors { left: parent.left; right: parent.right; verticalCenter: parent.verticalCenter; margins: 10 }
                        spacing: 4
                        Label {
                            width: parent.width
                            elide: Text.ElideMiddle
                            textFormat: Text.PlainText
                            text: qsTr("Uploading %1…").arg(view.client.uploadName)
                        }
                        ProgressBar {
                            width: parent.width
                            from: 0
                            to: 1
                            value: view.client.uploadProgress
                            indeterminate: view.client.uploadProgress <= 0
                        }
                    }
                }

                // The timeline: a slider over the wall's changes, when and by whom, play, and what
                // can be done with the state shown (export it, or start a new wall from it).
                Rectangle {
                    id: timelineBar
                    objectName: "timelineBar"
                    visible: timeline.open
                    anchors { left: parent.left; right: parent.right; bottom: parent.bottom; margins: 10 }
                    height: timelineColumn.implicitHeight + 16
                    radius: 8
                    color: Theme.surface
                    border.color: Theme.accent
                    border.width: 1.5
                    z: 21
                    // Clicks on the bar stay off the wall under it.
                    MouseArea { anchors.fill: parent; acceptedButtons: Qt.AllButtons; onWheel: wheel => wheel.accepted = true }
                    ColumnLayout {
                        id: timelineColumn
                        anchors { fill: parent; margins: 8 }
                        spacing: 4
                        RowLayout {
                            spacing: 6
                            Button {
                                objectName: "timelineLive"
                                text: qsTr("Back to live")
                                highlighted: true
                                ToolTip.visible: hovered
                                ToolTip.delay: 400
                                ToolTip.text: qsTr("Leave the history and return to the wall as it is now (Esc)")
                                onClicked: timeline.close()
                            }
                            ToolButton {
                                objectName: "timelinePlay"
                                enabled: timeline.ready
                                text: timeline.playing ? "❚❚" : "▶"
                                Accessible.name: timeline.playing ? qsTr("Pause") : qsTr("Play")
                                ToolTip.visible: hovered
                                ToolTip.delay: 400
                                ToolTip.text: timeline.playing ? qsTr("Pause") : qsTr("Play the wall's changes as they happened (pauses shortened to a second)")
                                onClicked: timeline.playing ? timeline.pause() : timeline.play()
                            }
                            ComboBox {
                                objectName: "timelineSpeed"
                                model: [1, 2, 4, 8, 16, 32]
                                displayText: currentValue + "×"
                                implicitWidth: 76
                                currentIndex: Math.max(0, model.indexOf(timeline.speed))
                                onActivated: timeline.speed = currentValue
                                Accessible.name: qsTr("Playing speed")
                            }
                            Slider {
                                id: timelineSlider
                                objectName: "timelineSlider"
                                Layout.fillWidth: true
                                enabled: timeline.ready && timeline.lastSeq > timeline.firstSeq
                                from: timeline.firstSeq
                                to: Math.max(timeline.lastSeq, timeline.firstSeq + 1)
                                stepSize: 1
                                snapMode: Slider.SnapAlways
                                value: timeline.position
                                onMoved: timeline.position = value
                                Accessible.name: qsTr("Point in the wall's history")
                            }
                            Button {
                                objectName: "timelineExport"
                                text: qsTr("Export…")
                                enabled: timeline.ready
                                ToolTip.visible: hovered
                                ToolTip.delay: 400
                                ToolTip.text: qsTr("Save the wall as it was at this point as PNG or SVG")
                                onClicked: view.openExport("png", false)
                            }
                            Button {
                                objectName: "timelineCopy"
                                text: qsTr("Copy into a new wall…")
                                enabled: timeline.ready && view.client.ready
                                ToolTip.visible: hovered
                                ToolTip.delay: 400
                                ToolTip.text: qsTr("Start a new wall as this one was at this point; this wall stays as it is")
                                onClicked: copyWallDialog.open()
                            }
                        }
                        RowLayout {
                            spacing: 12
                            Label {
                                objectName: "timelineTime"
                                text: timeline.timeText
                                textFormat: Text.PlainText
                                font.bold: true
                            }
                            Label {
                                objectName: "timelineAuthors"
                                text: timeline.authorsText
                                textFormat: Text.PlainText
                                elide: Text.ElideRight
                                Layout.fillWidth: true
                            }
                            Label {
                                objectName: "timelineReach"
                                text: timeline.errorText !== "" ? timeline.errorText : timeline.reachText
                                textFormat: Text.PlainText
                                color: timeline.errorText !== "" ? Theme.warningText : Theme.mutedText
                            }
                        }
                        ProgressBar {
                            Layout.fillWidth: true
                            visible: !timeline.ready
                            from: 0
                            to: 1
                            value: timeline.loaded
                        }
                    }
                }

                // Refusals and other notes from the server, for a few seconds.
                Rectangle {
                    id: toast
                    objectName: "notice"
                    anchors { horizontalCenter: parent.horizontalCenter; bottom: parent.bottom
                              bottomMargin: timelineBar.visible ? timelineBar.height + 20 : 16 }
                    width: Math.min(parent.width - 40, noticeLabel.implicitWidth + 60)
                    height: noticeLabel.implicitHeight + 16
                    radius: 6
                    color: Theme.toast
                    visible: view.client.notice !== ""
                    Label {
                        id: noticeLabel
                        anchors { left: parent.left; right: closeNotice.left; verticalCenter: parent.verticalCenter; leftMargin: 12 }
                        text: view.client.notice
                        textFormat: Text.PlainText
                        color: Theme.toastText
                        wrapMode: Text.Wrap
                    }
                    ToolButton {
                        id: closeNotice
                        anchors { right: parent.right; verticalCenter: parent.verticalCenter }
                        text: "×"
                        onClicked: view.client.clearNotice()
                    }
                    Timer {
                        running: toast.visible
                        interval: 8000
                        onTriggered: view.client.clearNotice()
                    }
                }
            }

            Pane {
                objectName: "sidePanel"
                visible: view.sidePanelOpen
                SplitView.preferredWidth: 300
                SplitView.minimumWidth: 220
                padding: 10
                ColumnLayout {
                    anchors.fill: parent
                    spacing: 12
                    MembersPanel {
                        Layout.fillWidth: true
                        client: view.client
                        followingId: view.followingId
                        onJumpRequested: userId => view.showViewOf(userId)
                        onFollowRequested: (userId, on) => on ? view.follow(userId, false) : view.stopFollowing()
                    }
                    ChatPanel {
                        id: chatPanel
                        Layout.fillWidth: true
                        Layout.fillHeight: true
                        client: view.client
                    }
                }
            }
        }
    }

    // What went wrong and what to do, while it matters. It floats over the top of the wall so
    // that the wall never moves under the pen when it comes and goes.
    Rectangle {
        objectName: "errorBanner"
        anchors { top: parent.top; topMargin: toolbar.height + 8; horizontalCenter: parent.horizontalCenter }
        width: Math.min(parent.width - 24, 760)
        z: 10
        radius: 6
        border.color: Qt.darker(color, 1.15)
        visible: view.client.errorText !== "" && view.client.state !== WallClient.Connected
        implicitHeight: bannerRow.implicitHeight + 12
        color: view.client.state === WallClient.Failed ? Theme.errorBanner : Theme.warningBanner
        RowLayout {
            id: bannerRow
            anchors { fill: parent; leftMargin: 12; rightMargin: 8 }
            Label {
                objectName: "errorText"
                Layout.fillWidth: true
                text: view.client.errorText
                textFormat: Text.PlainText
                wrapMode: Text.Wrap
            }
            TextField {
                id: retryPassword
                objectName: "retryPassword"
                Accessible.description: qsTr("Wall password")
                visible: view.client.passwordRequired
                echoMode: TextInput.Password
                placeholderText: qsTr("Wall password")
                onAccepted: view.client.retryWithPassword(text)
            }
            Button {
                visible: view.client.passwordRequired
                text: qsTr("Join")
                onClicked: view.client.retryWithPassword(retryPassword.text)
            }
            Button {
                text: qsTr("Try now")
                visible: view.client.state === WallClient.Reconnecting || view.client.state === WallClient.Failed
                onClicked: view.client.reconnectNow()
            }
            Button {
                text: qsTr("Back to start")
                onClicked: view.requestLeave()
            }
        }
    }

    // Shortcuts follow the role as the toolbar does: what it would refuse is not offered.
    Shortcut { sequences: [StandardKey.Undo]; enabled: view.client.mayChangeWall && !timeline.open; onActivated: view.client.undo() }
    Shortcut { sequences: ["Ctrl+Shift+Z", "Ctrl+Y"]; enabled: view.client.mayChangeWall && !timeline.open; onActivated: view.client.redo() }
    // The timeline: open and close it; a change back or on (Shift: a hundred), the ends.
    Shortcut { sequence: "Ctrl+Shift+H"; onActivated: view.toggleTimeline() }
    Shortcut { sequence: "Escape"; enabled: timeline.open; onActivated: timeline.close() }
    Shortcut { sequence: "Left"; enabled: timeline.ready; onActivated: timeline.stepBy(-1) }
    Shortcut { sequence: "Right"; enabled: timeline.ready; onActivated: timeline.stepBy(1) }
    Shortcut { sequence: "Shift+Left"; enabled: timeline.ready; onActivated: timeline.stepBy(-100) }
    Shortcut { sequence: "Shift+Right"; enabled: timeline.ready; onActivated: timeline.stepBy(100) }
    Shortcut { sequence: "Home"; enabled: timeline.ready; onActivated: timeline.position = timeline.firstSeq }
    Shortcut { sequence: "End"; enabled: timeline.ready; onActivated: timeline.position = timeline.lastSeq }
    Shortcut { sequence: "P"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Pen; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "E"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Eraser; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "N"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Note; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "H"; onActivated: { wallCanvas.tool = CanvasItem.Pan; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "K"; onActivated: { wallCanvas.tool = CanvasItem.Laser; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "Ctrl+Shift+P"; enabled: view.client.ready && view.client.isModerator; onActivated: view.client.presenting = !view.client.presenting }
    Shortcut { sequence: "V"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Select; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "L"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Line; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "A"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Arrow; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "R"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Rect; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "O"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Ellipse; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "D"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Diamond; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "T"; enabled: view.client.mayChangeWall; onActivated: { wallCanvas.tool = CanvasItem.Text; AppSettings.lastTool = wallCanvas.tool } }
    Shortcut { sequence: "F"; enabled: view.client.mayChangeWall; onActivated: view.cycleFill() }
    // Paste: a picture or image files become images, text a note, in the middle of the view
    // (or where the pointer is over the wall). A text field with focus takes its own paste first.
    Shortcut {
        sequences: [StandardKey.Paste]
        enabled: view.client.ready && view.client.mayChangeWall
        onActivated: {
            const at = wallCanvas.mapToWall(wallHover.hovered ? wallHover.point.position
                                                              : Qt.point(wallCanvas.width / 2, wallCanvas.height / 2))
            if (!wallCanvas.paste(at))
                view.client.showNotice(qsTr("Nothing to paste: copy a picture, an image file or some text first."))
        }
    }
    Shortcut { sequence: "Ctrl+0"; onActivated: wallCanvas.zoomToFit() }
    Shortcut { sequences: ["Ctrl+=", "Ctrl++"]; onActivated: wallCanvas.zoomBy(1.25, Qt.point(wallCanvas.width / 2, wallCanvas.height / 2)) }
    Shortcut { sequence: "Ctrl+-"; onActivated: wallCanvas.zoomBy(0.8, Qt.point(wallCanvas.width / 2, wallCanvas.height / 2)) }
    Shortcut { sequence: "Ctrl+E"; onActivated: view.openExport("png", false) }
    Shortcut { sequences: ["?", "Shift+?", "F1"]; onActivated: shortcutSheet.open() }
    Shortcut { sequence: "M"; onActivated: view.minimapOn = !view.minimapOn }
    Shortcut { sequence: "Alt+Shift+D"; onActivated: AppSettings.theme = Theme.dark ? "light" : "dark" }
    Shortcut { sequence: "Ctrl+I"; onActivated: invitePopup.open() }
    Shortcut { sequence: "Ctrl+W"; onActivated: view.requestLeave() }
    Shortcut { sequence: "Ctrl+\\"; onActivated: view.toggleSidePanel(!view.sidePanelOpen) }
    Shortcut { sequence: "Ctrl+Shift+Del"; enabled: view.client.ready && view.client.isModerator; onActivated: clearDialog.open() }
    // 1..8 pick a pen colour of the palette; [ and ] step through the pen widths.
    Repeater {
        model: AppSettings.palette()
        delegate: Item {
            Shortcut {
                sequence: String(index + 1)
                onActivated: view.choosePenColor(modelData)
            }
        }
    }
    Shortcut { sequence: "["; onActivated: view.stepPenWidth(-1) }
    Shortcut { sequence: "]"; onActivated: view.stepPenWidth(1) }

    readonly property var penWidths: [2, 4, 8, 16]
    // Shapes drawn next: no fill, a light wash of the pen colour, or solid.
    readonly property var fillAlphas: [0, 0.25, 1]
    property int fillStep: 0
    function cycleFill() {
        chooseFill((fillStep + 1) % fillAlphas.length)
    }
    function chooseFill(step) {
        setFill(step)
        if (restyling)
            wallCanvas.setSelectionFill(wallCanvas.fillColor)
    }
    function chooseWidth(w) {
        wallCanvas.penWidth = w
        AppSettings.penWidth = w
        if (restyling)
            wallCanvas.setSelectionWidth(w)
    }
    function setFill(step) {
        fillStep = step
        const c = wallCanvas.penColor
        wallCanvas.fillColor = Qt.rgba(c.r, c.g, c.b, fillAlphas[step])
    }
    // With things selected, the fill, colour and width buttons restyle them.
    readonly property bool restyling: wallCanvas.tool === CanvasItem.Select && wallCanvas.selectionCount > 0
    Connections {
        target: wallCanvas
        function onPenChanged() { view.setFill(view.fillStep) }
    }
    // Tools that use the pen colour: picking a colour keeps them.
    function drawsInColor(tool) {
        return tool !== CanvasItem.Eraser && tool !== CanvasItem.Note && tool !== CanvasItem.Pan
            && tool !== CanvasItem.Select
    }
    function choosePenColor(c) {
        wallCanvas.penColor = c
        AppSettings.penColor = c
        if (restyling) {
            wallCanvas.recolorSelection(c)
            return
        }
        if (!drawsInColor(wallCanvas.tool)) {
            wallCanvas.tool = CanvasItem.Pen
            AppSettings.lastTool = wallCanvas.tool
        }
    }
    function stepPenWidth(step) {
        let i = 0
        for (let k = 1; k < penWidths.length; ++k) {
            if (Math.abs(penWidths[k] - wallCanvas.penWidth) < Math.abs(penWidths[i] - wallCanvas.penWidth))
                i = k
        }
        i = Math.max(0, Math.min(penWidths.length - 1, i + step))
        chooseWidth(penWidths[i])
    }

    Dialog {
        id: clearDialog
        objectName: "clearDialog"
        anchors.centerIn: parent
        modal: true
        title: qsTr("Clear the wall?")
        width: 440
        standardButtons: Dialog.Cancel | Dialog.Ok
        Label {
            text: qsTr("Every stroke and note goes, for everyone on \"%1\". This cannot be undone.").arg(view.client.wall)
            textFormat: Text.PlainText
            wrapMode: Text.Wrap
            width: clearDialog.availableWidth
        }
        // The button that destroys says what it destroys.
        Component.onCompleted: standardButton(Dialog.Ok).text = qsTr("Clear wall")
        onAccepted: view.client.clearWall()
    }

    Dialog {
        id: leaveDialog
        objectName: "leaveDialog"
        anchors.centerIn: parent
        modal: true
        title: qsTr("Leave with changes waiting?")
        width: 460
        Label {
            objectName: "leaveText"
            text: (view.client.pendingCount === 1
                   ? qsTr("1 change has not reached the server yet.")
                   : qsTr("%1 changes have not reached the server yet.").arg(view.client.pendingCount))
                  + " " + qsTr("They stay on this computer and are sent when you open \"%1\" again; until then nobody else sees them.").arg(view.client.wall)
            textFormat: Text.PlainText
            wrapMode: Text.Wrap
            width: leaveDialog.availableWidth
        }
        footer: DialogButtonBox {
            Button {
                objectName: "stayButton"
                text: qsTr("Stay")
                DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
            }
            Button {
                objectName: "leaveAnywayButton"
                text: qsTr("Leave anyway")
                DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
            }
        }
        onAccepted: view.leave()
    }

    // Export: with something selected it offers the selection first.
    function openExport(format, visibleOnly) {
        exportDialog.openFor(wallCanvas.selectionCount > 0 ? CanvasItem.ExportSelection
                             : visibleOnly ? CanvasItem.ExportView : CanvasItem.ExportWall, format)
    }
    // A new wall from the state the timeline shows.
    Dialog {
        id: copyWallDialog
        objectName: "copyWallDialog"
        title: qsTr("Copy into a new wall")
        modal: true
        anchors.centerIn: parent
        standardButtons: Dialog.Ok | Dialog.Cancel
        onAboutToShow: {
            copyWallName.text = qsTr("%1 (earlier)").arg(view.client.wall)
            copyWallName.selectAll()
            copyWallName.forceActiveFocus()
        }
        onAccepted: timeline.copyToNewWall(copyWallName.text)
        ColumnLayout {
            spacing: 8
            Label {
                Layout.maximumWidth: 420
                wrapMode: Text.Wrap
                textFormat: Text.PlainText
                text: qsTr("A new wall on this server starts as \"%1\" was at %2. This wall stays as it is; you go to the new one.")
                      .arg(view.client.wall).arg(timeline.timeText)
            }
            TextField {
                id: copyWallName
                objectName: "copyWallName"
                Layout.fillWidth: true
                placeholderText: qsTr("Name of the new wall")
                onAccepted: copyWallDialog.accept()
            }
        }
    }

    ExportDialog {
        id: exportDialog
        canvas: wallCanvas
        client: view.client
        onSaved: path => view.client.showNotice(qsTr("Saved %1").arg(path))
        onClosed: wallCanvas.forceActiveFocus()
    }
    ShortcutSheet {
        id: shortcutSheet
        onClosed: wallCanvas.forceActiveFocus()
    }
    // The toolbar's Image button: image files, placed in the middle of the view.
    FileDialog {
        id: imageFileDialog
        title: qsTr("Put images on the wall")
        fileMode: FileDialog.OpenFiles
        nameFilters: [qsTr("Images (*.png *.jpg *.jpeg *.gif *.webp *.bmp)")]
        currentFolder: StandardPaths.writableLocation(StandardPaths.PicturesLocation)
        onAccepted: {
            const at = wallCanvas.mapToWall(Qt.point(wallCanvas.width / 2, wallCanvas.height / 2))
            view.client.placeImageFiles(selectedFiles, at.x, at.y)
        }
    }

    Popup {
        id: invitePopup
        objectName: "invitePopup"
        // Escape closes it (it takes the keys while open); a click outside closes it and draws
        // nothing (modal, without dimming the wall); the keys go back to the wall after.
        focus: true
        modal: true
        dim: false
        onClosed: wallCanvas.forceActiveFocus()
        x: parent.width - width - 12
        y: toolbar.height + 4
        // Wide enough for the owner's rows of buttons; never wider than the window.
        width: Math.min(parent.width - 24, 500)
        padding: 14
        ColumnLayout {
            width: parent.width
            spacing: 8
            Label {
                text: qsTr("Others join with the link: it opens Scrawl on \"%1\". Copy link copies the address too, for anyone who types it in.").arg(view.client.wall)
                textFormat: Text.PlainText
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            Label {
                visible: view.client.encrypted && view.client.tlsFingerprint !== ""
                text: qsTr("Encrypted; the host's certificate is SHA-256 %1").arg(view.client.tlsFingerprint)
                font.pointSize: Theme.smallPt
                wrapMode: Text.WrapAnywhere
                Layout.fillWidth: true
            }
            Repeater {
                model: view.inviteAddresses()
                delegate: RowLayout {
                    Layout.fillWidth: true
                    TextField {
                        Layout.fillWidth: true
                        Layout.minimumWidth: 80
                        Layout.preferredWidth: 160
                        readOnly: true
                        // The link: it opens Scrawl and joins (an encrypted wall's names its
                        // certificate); the address is in what Copy link copies too.
                        text: {
                            // Made again once the certificate is known, or the wall changes.
                            view.client.tlsFingerprint
                            view.client.wall
                            return view.client.inviteLink(modelData)
                        }
                        onTextChanged: cursorPosition = 0 // the start of the link in view
                        Accessible.name: qsTr("Link to join at %1").arg(modelData)
                        selectByMouse: true
                    }
                    // The link opens Scrawl and joins (the certificate named for an encrypted
                    // wall); the words say what to do without Scrawl's link handler.
                    Button {
                        objectName: "copyInvite"
                        text: qsTr("Copy link")
                        Accessible.name: qsTr("Copy the invitation to %1").arg(modelData)
                        onClicked: {
                            AppSettings.copyToClipboard(qsTr("Join my Scrawl wall \"%1\": %2\n(or open Scrawl and join \"%1\" at %3)")
                                                        .arg(view.client.wall).arg(view.client.inviteLink(modelData)).arg(modelData))
                            text = qsTr("Copied")
                        }
                    }
                }
            }
            // What only the owner sees: the HTTP API token, the password and the lock.
            Label {
                visible: view.client.isOwner
                text: view.client.apiToken !== ""
                      ? qsTr("API token for scripts (HTTP \"Authorization: Bearer …\"); keep it secret:")
                      : qsTr("The server shows the API token for scripts only once, and not to this app. Make a new one to use the HTTP API.")
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            RowLayout {
                visible: view.client.isOwner
                Layout.fillWidth: true
                TextField {
                    objectName: "apiToken"
                    Accessible.name: qsTr("API token")
                    visible: view.client.apiToken !== ""
                    Layout.fillWidth: true
                    Layout.minimumWidth: 80
                    Layout.preferredWidth: 160
                    readOnly: true
                    selectByMouse: true
                    text: view.client.apiToken
                }
                Button {
                    visible: view.client.apiToken !== ""
                    text: qsTr("Copy")
                    onClicked: AppSettings.copyToClipboard(view.client.apiToken)
                }
                Button {
                    objectName: "newApiToken"
                    text: qsTr("New API token")
                    onClicked: newTokenDialog.open()
                }
            }
            Label {
                visible: view.client.isOwner
                text: view.client.hasPassword
                      ? qsTr("This wall has a password: newcomers need it to join.")
                      : qsTr("No password: anyone with the address and the wall name can join.")
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            RowLayout {
                visible: view.client.isOwner
                Layout.fillWidth: true
                TextField {
                    id: newPasswordField
                    objectName: "newPassword"
                    Accessible.description: qsTr("New wall password")
                    Layout.fillWidth: true
                    Layout.minimumWidth: 80
                    Layout.preferredWidth: 160
                    echoMode: TextInput.Password
                    placeholderText: view.client.hasPassword ? qsTr("New password") : qsTr("Password")
                }
                Button {
                    objectName: "setPassword"
                    text: view.client.hasPassword ? qsTr("Change password") : qsTr("Set password")
                    enabled: newPasswordField.text !== ""
                    onClicked: {
                        view.client.setWallPassword(newPasswordField.text)
                        newPasswordField.text = ""
                    }
                }
                Button {
                    objectName: "removePassword"
                    visible: view.client.hasPassword
                    text: qsTr("Remove password")
                    onClicked: view.client.setWallPassword("")
                }
            }
            CheckBox {
                objectName: "lockWall"
                visible: view.client.isOwner
                text: qsTr("Lock the wall (only moderators change it; chat stays open)")
                checked: view.client.locked
                onToggled: view.client.setWallLocked(checked)
            }
            CheckBox {
                objectName: "protectWork"
                visible: view.client.isOwner
                text: qsTr("Protect people's work (only its author or a moderator changes it)")
                checked: view.client.protectedWork
                onToggled: view.client.setWallProtected(checked)
            }
        }
    }

    Dialog {
        id: newTokenDialog
        objectName: "newTokenDialog"
        anchors.centerIn: parent
        modal: true
        title: qsTr("Make a new API token?")
        width: 440
        standardButtons: Dialog.Cancel | Dialog.Ok
        Label {
            text: qsTr("The current API token stops working at once: scripts and bots that use it must be given the new one.")
            wrapMode: Text.Wrap
            width: newTokenDialog.availableWidth
        }
        onAccepted: view.client.newApiToken()
    }
}
