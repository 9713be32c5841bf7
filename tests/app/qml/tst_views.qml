// The views against a real server: connection state, tools and their shortcuts, drawing with the
// mouse, chat, undo shortcut, the banner when the server goes away, clear asks first, and the
// start screen's host/join forms. Each test joins a wall of its own (init), so every one passes
// alone (`tst_views WallView::test_4_undoShortcutAndRedo`) and in any order.
import QtQuick
import QtQuick.Controls
import QtTest
import Scrawl
import ScrawlTest

Item {
    id: root
    width: 1200
    height: 800

    WallClient {
        id: wallClient
        displayName: "Tess"
        color: "#2f9e44"
    }

    WallView {
        id: view
        anchors.fill: parent
        client: wallClient
    }

    SignalSpy { id: leaveSpy; target: view; signalName: "leave" }

    // Issue 17 §7: the visible controls under `item` that Tab stops at but a screen reader could
    // not name (objectName, else type, of each), for the tests to show. A button is named by its
    // text; Qt never names a password field (it keeps the name from assistive tools), so that
    // one needs a description; a field inside a control (a spin box's text) is announced with
    // the control's name.
    function accessiblyNamed(item) {
        if (item.Accessible.name !== "")
            return true
        if ("autoExclusive" in item && item.text !== "")
            return true
        return item.echoMode === TextInput.Password && item.Accessible.description !== ""
    }
    function unnamedTabStops(item) {
        let found = []
        if (!item || !item.visible)
            return found
        if (item.activeFocusOnTab && !accessiblyNamed(item) && !(item.parent && accessiblyNamed(item.parent)))
            found.push(item.objectName !== "" ? item.objectName : String(item))
        for (let i = 0; i < item.children.length; ++i)
            found = found.concat(unnamedTabStops(item.children[i]))
        return found
    }

    Component {
        id: otherClient
        WallClient { displayName: "Otto"; color: "#e03e3e" }
    }

    TestCase {
        name: "WallView"
        when: windowShown

        property int wallNumber: 0

        function init() {
            // A test that stopped the server and failed before restarting it must not take the
            // next one down with it.
            if (!TestServer.running)
                verify(TestServer.start())
            const wall = "quicktest-" + (++wallNumber)
            wallClient.connectToWall(TestServer.address, wall)
            compare(wallClient.wall, wall)
            tryCompare(wallClient, "everJoined", true, 5000)
            tryCompare(wallClient, "state", WallClient.Connected, 5000)
            // Nothing a failed test left open takes the next one's clicks.
            findChild(view, "invitePopup").close()
            findChild(view, "clearDialog").close()
            view.canvas.tool = CanvasItem.Pen
            view.canvas.forceActiveFocus()
        }

        // A stroke drawn with the mouse, from canvas point (x, y) 100 to the right, acknowledged.
        function drawStroke(x, y) {
            const seq = wallClient.headSeq
            view.canvas.tool = CanvasItem.Pen
            mousePress(view.canvas, x, y)
            for (let i = 1; i <= 10; ++i)
                mouseMove(view.canvas, x + i * 10, y + i * 3)
            mouseRelease(view.canvas, x + 100, y + 30)
            tryCompare(wallClient, "pendingCount", 0)
            verify(wallClient.headSeq >= seq + 2)
        }

        // True when the window shows a pixel that `matches` within 3 pixels of canvas point
        // (x, y). The window is grabbed and the point mapped into it (grabImage of the canvas
        // alone came out offset by the toolbar here, Qt 6.4). The grab is in device pixels: at a
        // device pixel ratio of 2 (tst_views_dpr2) the point is scaled to them (and Qt 6.4 cuts
        // the grab to the window's size in logical pixels, so only its top-left quarter is seen).
        function pixelNear(x, y, matches) {
            const image = grabImage(root)
            const ratio = Screen.devicePixelRatio
            const p = view.canvas.mapToItem(root, x, y)
            for (let dx = -3; dx <= 3; ++dx) {
                for (let dy = -3; dy <= 3; ++dy) {
                    const c = image.pixel(Math.round(p.x * ratio) + dx, Math.round(p.y * ratio) + dy)
                    if (c && matches((c.r + c.g + c.b) / 3))
                        return true
                }
            }
            return false
        }
        function lightNear(x, y) { return pixelNear(x, y, lightness => lightness > 0.75) }
        function inkNear(x, y) { return pixelNear(x, y, lightness => lightness < 0.5) }

        function test_1_connectionStateIsShown() {
            const status = findChild(view, "connectionStatus")
            verify(status)
            tryCompare(status, "text", "Connected")
            compare(findChild(view, "errorBanner").visible, false)
            const members = findChild(view, "membersList")
            tryCompare(members, "count", 1)
        }

        function test_2_toolsSwitchByButtonAndShortcut() {
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_E)
            compare(view.canvas.tool, CanvasItem.Eraser)
            keyClick(Qt.Key_N)
            compare(view.canvas.tool, CanvasItem.Note)
            keyClick(Qt.Key_H)
            compare(view.canvas.tool, CanvasItem.Pan)
            const pen = findChild(view, "toolPen")
            verify(pen)
            mouseClick(pen)
            compare(view.canvas.tool, CanvasItem.Pen)
            verify(pen.tip.indexOf("(P)") >= 0)
        }

        function test_3_drawingReachesTheServer() {
            verify(!wallClient.canUndo)
            // Clear of the properties card over the wall's top-left corner.
            drawStroke(300, 150)
            verify(wallClient.canUndo)
        }

        function test_4_undoShortcutAndRedo() {
            // Its own stroke to undo (it used to undo the one test 3 left).
            drawStroke(300, 150)
            const seq = wallClient.headSeq
            verify(wallClient.canUndo)
            verify(!wallClient.canRedo)
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_Z, Qt.ControlModifier)
            tryCompare(wallClient, "canRedo", true)
            keyClick(Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
            tryCompare(wallClient, "canRedo", false)
            tryCompare(wallClient, "pendingCount", 0)
            compare(wallClient.headSeq, seq + 2)
        }

        function test_5_chatEnterSends() {
            const input = findChild(view, "chatInput")
            const list = findChild(view, "chatList")
            mouseClick(input)
            keySequence("h")
            keySequence("i")
            keyClick(Qt.Key_Return)
            tryCompare(list, "count", 1)
            compare(input.text, "")
        }

        function test_6_panAndZoom() {
            view.canvas.tool = CanvasItem.Pan
            const px = view.canvas.panX
            mouseDrag(view.canvas, 300, 300, 50, 20)
            verify(view.canvas.panX > px)
            const z = view.canvas.zoom
            mouseWheel(view.canvas, 300, 300, 0, 120)
            verify(view.canvas.zoom > z)
            view.canvas.tool = CanvasItem.Pen
        }

        function test_7_serverGoneShowsBannerAndComesBack() {
            const canvasAt = view.canvas.mapToItem(root, 0, 0)
            const canvasHeight = view.canvas.height
            TestServer.stop()
            tryCompare(wallClient, "state", WallClient.Reconnecting, 5000)
            const banner = findChild(view, "errorBanner")
            tryCompare(banner, "visible", true)
            // It floats over the wall: the wall does not move or shrink under the pen.
            waitForRendering(view)
            compare(view.canvas.mapToItem(root, 0, 0), canvasAt)
            compare(view.canvas.height, canvasHeight)
            verify(findChild(view, "errorText").text.length > 0)
            // Offline drawing waits in the outbox and is shown as waiting.
            mousePress(view.canvas, 400, 400)
            mouseMove(view.canvas, 450, 420)
            mouseRelease(view.canvas, 450, 420)
            verify(wallClient.pendingCount > 0)
            verify(findChild(view, "connectionStatus").text.indexOf("waiting") >= 0)
            verify(TestServer.start())
            wallClient.reconnectNow()
            tryCompare(wallClient, "state", WallClient.Connected, 10000)
            tryCompare(wallClient, "pendingCount", 0)
            tryCompare(banner, "visible", false)
        }

        function findEditingNote() {
            const layer = view.canvas.parent
            for (let i = 0; i < layer.children.length; ++i) {
                const kids = layer.children[i].children
                for (let j = 0; j < kids.length; ++j) {
                    if (kids[j].objectName === "note" && kids[j].editor.activeFocus)
                        return kids[j]
                }
            }
            return null
        }

        function test_93_notesPlaceEditMoveDelete() {
            const notes = wallClient.notes
            const before = notes.rowCount()
            view.canvas.tool = CanvasItem.Note
            const toolbarHeight = view.toolbar.height
            const wallPos = view.canvas.mapToWall(Qt.point(500, 220))
            mouseClick(view.canvas, 500, 220)
            // The note on its way leaves the status as it was: the toolbar keeps its height
            // and the wall stays put.
            compare(findChild(view, "connectionStatus").text, "Connected")
            waitForRendering(view)
            compare(view.toolbar.height, toolbarHeight)
            tryCompare(wallClient, "pendingCount", 0)
            compare(notes.rowCount(), before + 1)
            // The new note is the one open for typing.
            let note = null
            tryVerify(() => {
                note = findEditingNote()
                return note !== null
            }, 2000, "the placed note is open for typing")
            // Placed at the wall point that was clicked, and open for typing.
            compare(note.noteX, wallPos.x)
            compare(note.noteY, wallPos.y)
            for (const ch of "Plan")
                keyClick(ch)
            // A click on the wall ends the editing (the text is stored) and places no second note.
            mouseClick(view.canvas, 800, 500)
            tryCompare(note, "noteText", "Plan")
            tryCompare(wallClient, "pendingCount", 0)
            compare(notes.rowCount(), before + 1)
            verify(!note.editor.activeFocus)

            // Drag the grip: it moves by the drag divided by the zoom.
            // (Moves are given in canvas coordinates: the grip itself moves along with the drag.)
            const grip = findChild(note, "noteGrip")
            const x0 = note.noteX, y0 = note.noteY
            const p = grip.mapToItem(view.canvas, 20, 5)
            mousePress(grip, 20, 5)
            mouseMove(view.canvas, p.x + 30, p.y + 20)
            mouseMove(view.canvas, p.x + 60, p.y + 40)
            mouseRelease(view.canvas, p.x + 60, p.y + 40)
            tryCompare(wallClient, "pendingCount", 0)
            fuzzyCompare(note.noteX, x0 + 60 / view.canvas.zoom, 0.01)
            fuzzyCompare(note.noteY, y0 + 40 / view.canvas.zoom, 0.01)

            // Edit again: click into the text, type, click the wall.
            mouseClick(note.editor, note.editor.width - 2, 5)
            tryCompare(note.editor, "activeFocus", true)
            keyClick("!")
            view.canvas.tool = CanvasItem.Pan
            mouseClick(view.canvas, 50, 600)
            tryCompare(note, "noteText", "Plan!")
            // Undo of the edit shows the old text for everyone.
            wallClient.undo()
            tryCompare(note, "noteText", "Plan")
            wallClient.redo()
            tryCompare(note, "noteText", "Plan!")

            // Delete with its × button (shown while hovered).
            const del = findChild(note, "deleteNote")
            mouseMove(note, 100, 30)
            tryCompare(del, "visible", true)
            mouseClick(del)
            tryCompare(wallClient, "pendingCount", 0)
            compare(notes.rowCount(), before)
            view.canvas.tool = CanvasItem.Pen
        }

        // A note placed and left empty goes when the editing ends, and undo does not bring the
        // blank back; one emptied by deleting its text goes too (that removal can be undone).
        // Invite closes with Escape, and a click outside closes it without drawing there.
        function test_97_inviteClosesWithEscapeOrAClickOutside() {
            const popup = findChild(view, "invitePopup")
            verify(!wallClient.canUndo)
            mouseClick(findChild(view, "inviteButton"))
            tryCompare(popup, "opened", true)
            keyClick(Qt.Key_Escape)
            tryCompare(popup, "visible", false)
            tryCompare(view.canvas, "activeFocus", true)
            mouseClick(findChild(view, "inviteButton"))
            tryCompare(popup, "opened", true)
            mouseClick(view.canvas, 300, 300)
            tryCompare(popup, "visible", false)
            waitForRendering(view)
            verify(!wallClient.canUndo, "the click that closed it drew nothing")
            verify(!inkNear(300, 300), "no dot where it was clicked")
        }

        // The people and chat panel folds away from the toolbar and the wall takes its room.
        function test_96_sidePanelFoldsAndTheWallWidens() {
            const panel = findChild(view, "sidePanel")
            const button = findChild(view, "panelButton")
            verify(panel, "side panel found"); verify(button, "panel button found")
            verify(panel.visible, "open by default in a 1200 px window")
            const wide = view.canvas.width
            mouseClick(button)
            tryCompare(panel, "visible", false)
            tryVerify(() => view.canvas.width > wide + 200, 2000, "the wall takes the panel's room")
            verify(!button.checked)
            mouseClick(button)
            tryCompare(panel, "visible", true)
            tryCompare(view.canvas, "width", wide)
        }

        function test_95_emptyNoteVanishesWhenLeft() {
            const notes = wallClient.notes
            const before = notes.rowCount()
            verify(!wallClient.canUndo)
            view.canvas.tool = CanvasItem.Note
            mouseClick(view.canvas, 500, 220)
            tryVerify(() => notes.rowCount() === before + 1, 2000, "the note is placed")
            let note = null
            tryVerify(() => (note = findEditingNote()) !== null, 2000, "the placed note is open for typing")
            // A click elsewhere on the wall: gone, for the server too, and nothing to undo.
            view.canvas.tool = CanvasItem.Pan
            mouseClick(view.canvas, 800, 500)
            tryVerify(() => notes.rowCount() === before, 2000, "the empty note is gone")
            tryCompare(wallClient, "pendingCount", 0)
            verify(!wallClient.canUndo)
            compare(notes.rowCount(), before)

            // Written, then emptied again, then left with Escape.
            view.canvas.tool = CanvasItem.Note
            mouseClick(view.canvas, 500, 220)
            tryVerify(() => (note = findEditingNote()) !== null, 2000, "the second note is open")
            keyClick("x")
            view.canvas.tool = CanvasItem.Pan
            mouseClick(view.canvas, 800, 500)
            tryCompare(note, "noteText", "x")
            mouseClick(note.editor, 10, 5)
            tryCompare(note.editor, "activeFocus", true)
            keyClick(Qt.Key_End)
            keyClick(Qt.Key_Backspace)
            keyClick(Qt.Key_Escape)
            tryVerify(() => notes.rowCount() === before, 2000, "the empty note is gone")
            tryCompare(wallClient, "pendingCount", 0)
            view.canvas.tool = CanvasItem.Pen
        }

        function test_90_chatFollowsUnlessScrolledUp() {
            const list = findChild(view, "chatList")
            const base = list.count
            for (let i = 0; i < 40; ++i)
                wallClient.sendChat("message " + i)
            tryCompare(wallClient, "pendingCount", 0, 10000)
            tryCompare(list, "count", base + 40)
            tryVerify(() => list.atYEnd, 3000, "follows the newest message")
            // Scroll up to read (drag the messages down, as a person does): new messages no
            // longer pull the view down.
            mouseDrag(list, list.width / 2, list.height / 4, 0, list.height / 2)
            tryCompare(list, "moving", false, 5000)
            verify(!list.atYEnd, "the drag scrolled up")
            tryCompare(list, "following", false)
            const y = list.contentY
            wallClient.sendChat("while reading")
            tryCompare(list, "count", base + 41)
            // Let any reposition the new message could cause run, then check none did.
            wallClient.sendChat("still reading")
            tryCompare(list, "count", base + 42)
            verify(!list.atYEnd)
            compare(list.contentY, y)
            // "Jump to latest" goes back to the bottom and follows again.
            const jump = findChild(view, "jumpToLatest")
            verify(jump.visible)
            mouseClick(jump)
            compare(list.following, true)
            tryVerify(() => list.atYEnd, 3000)
            wallClient.sendChat("and now")
            tryCompare(list, "count", base + 43)
            tryVerify(() => list.atYEnd, 3000)
        }

        function test_91_tooltipsNameShortcuts() {
            const expected = {
                toolPen: "(P)", toolEraser: "(E)", toolNote: "(N)", toolPan: "(H",
                undoButton: "Ctrl+Z", redoButton: "Ctrl+Shift+Z", zoomOutButton: "Ctrl+-",
                zoomInButton: "Ctrl+=", zoomLabel: "Ctrl+0", exportButton: "Ctrl+E",
                inviteButton: "Ctrl+I", leaveButton: "Ctrl+W", clearButton: "Ctrl+Shift+Delete",
                penWidth2: "[", penWidth16: "]"
            }
            for (const name in expected) {
                const b = findChild(view, name)
                verify(b, name)
                verify(b.tip.indexOf(expected[name]) >= 0, name + ": " + b.tip)
            }
            verify(findChild(view, "penColor2").tip.indexOf("(3)") >= 0)
        }

        function test_92_colourAndWidthShortcuts() {
            view.canvas.forceActiveFocus()
            view.canvas.tool = CanvasItem.Eraser
            keyClick(Qt.Key_2)
            compare(view.canvas.tool, CanvasItem.Pen)
            verify(Qt.colorEqual(view.canvas.penColor, AppSettings.palette()[1]))
            keyClick(Qt.Key_6)
            verify(Qt.colorEqual(view.canvas.penColor, AppSettings.palette()[5]))
            view.canvas.penWidth = 4
            keyClick(Qt.Key_BracketRight)
            compare(view.canvas.penWidth, 8)
            keyClick(Qt.Key_BracketRight)
            keyClick(Qt.Key_BracketRight)
            compare(view.canvas.penWidth, 16)
            keyClick(Qt.Key_BracketLeft)
            compare(view.canvas.penWidth, 8)
            // Typing in the chat does not switch tools or colours.
            const input = findChild(view, "chatInput")
            mouseClick(input)
            keySequence("e")
            keySequence("3")
            compare(input.text, "e3")
            compare(view.canvas.tool, CanvasItem.Pen)
            verify(Qt.colorEqual(view.canvas.penColor, AppSettings.palette()[5]))
            input.text = ""
        }

        // The invite popup's Copy buttons that copy a join address (not the API token's).
        function inviteCopyButtons(popup) {
            const found = []
            const visit = (item) => {
                if (item.objectName === "copyInvite")
                    found.push(item)
                for (let i = 0; i < item.children.length; ++i)
                    visit(item.children[i])
            }
            visit(popup.contentItem)
            return found
        }

        function test_94_inviteCopiesTheJoinLink() {
            TestServer.clearClipboard()
            mouseClick(findChild(view, "inviteButton"))
            const popup = findChild(view, "invitePopup")
            tryCompare(popup, "opened", true)
            // Clicked where the button is once the popup's layouts have placed it.
            waitForRendering(view)
            const buttons = inviteCopyButtons(popup)
            compare(buttons.length, 1) // not hosted here: the address this client joined
            mouseClick(buttons[0])
            // The link (it opens Scrawl and joins), and the address for anyone without it.
            const link = wallClient.inviteLink(TestServer.address)
            verify(link.startsWith("scrawl://"), link)
            compare(TestServer.clipboardText(),
                    "Join my Scrawl wall \"" + wallClient.wall + "\": " + link
                    + "\n(or open Scrawl and join \"" + wallClient.wall + "\" at " + TestServer.address + ")")
            compare(buttons[0].text, "Copied")
            popup.close()
            tryCompare(popup, "visible", false)
        }

        // Issue 17 §1: one row of tools from 800 px up, nothing cut off or wrapped; the
        // properties card shows what the tool in hand uses, and only then.
        function test_98_toolbarIsOneRowFrom800px() {
            root.width = 800
            try {
                const bar = view.toolbar
                tryVerify(() => bar.width === 800, 2000)
                waitForRendering(root)
                verify(bar.height < 50, "one row: " + bar.height)
                for (const name of ["leaveButton", "toolSelect", "toolPan", "toolPen", "toolEraser",
                                    "toolShape", "toolText", "toolNote", "imageButton", "undoButton",
                                    "redoButton", "zoomLabel", "exportButton", "moreButton",
                                    "inviteButton", "panelButton", "connectionBadge"]) {
                    const b = findChild(view, name)
                    verify(b && b.visible, name + " is shown")
                    const p = b.mapToItem(bar, 0, 0)
                    verify(p.x >= 0 && p.x + b.width <= bar.width + 0.5, name + " inside the bar: " + p.x + "+" + b.width)
                    verify(p.y >= 0 && p.y + b.height <= bar.height + 0.5, name + " on the one row")
                }
                // The zoom label keeps its width whatever the zoom.
                const zoomLabel = findChild(view, "zoomLabel")
                const w = zoomLabel.width
                view.canvas.zoomBy(8, Qt.point(10, 10))
                compare(zoomLabel.width, w)
                view.canvas.resetView()
            } finally {
                root.width = 1200
            }
        }

        function test_99_propertiesFollowTheTool() {
            const props = findChild(view, "propertiesBar")
            view.canvas.tool = CanvasItem.Pen
            verify(props.visible)
            verify(findChild(props, "penColor0").visible)
            verify(findChild(props, "penWidth8").visible)
            verify(!findChild(props, "fill1").visible, "a pen has no fill")
            view.canvas.tool = CanvasItem.Rect
            verify(findChild(props, "fill1").visible)
            mouseClick(findChild(props, "fill2"))
            compare(view.fillStep, 2)
            compare(view.canvas.fillColor.a, 1)
            mouseClick(findChild(props, "fill0"))
            compare(view.canvas.fillColor.a, 0)
            view.canvas.tool = CanvasItem.Text
            verify(findChild(props, "textSize").visible)
            view.canvas.tool = CanvasItem.Pan
            verify(!props.visible, "panning uses no colour")
            view.canvas.tool = CanvasItem.Select
            verify(!props.visible, "nothing selected")
            // The shape button takes the shape last used, by key too.
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_O)
            compare(view.canvas.tool, CanvasItem.Ellipse)
            view.canvas.tool = CanvasItem.Pen
            mouseClick(findChild(view, "toolShape"))
            compare(view.canvas.tool, CanvasItem.Ellipse)
        }

        // Issue 17 §5: Export names a file that can be saved at once, Enter saves, a bare name
        // goes into the folder shown, a typed absolute path is used as it is.
        function test_9a_exportDialogSavesWhereItSays() {
            drawStroke(300, 150)
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_E, Qt.ControlModifier)
            const dialog = findChild(view, "exportDialog")
            tryCompare(dialog, "opened", true)
            const name = findChild(dialog, "exportName")
            verify(name.text.startsWith(wallClient.wall + "-"), name.text)
            verify(name.text.endsWith(".png"), name.text)
            verify(AppSettings.fileExists(dialog.folder), "the folder offered exists: " + dialog.folder)
            compare(dialog.path, dialog.folder + "/" + name.text)
            verify(findChild(dialog, "exportWhere").text.indexOf(dialog.path) >= 0)

            // An absolute path, typed over the name: used as it is; Enter saves.
            const target = TestServer.scratchDir() + "/typed/exact-name.png"
            name.forceActiveFocus()
            name.text = target
            compare(dialog.path, target)
            keyClick(Qt.Key_Return)
            // The folder does not exist: the dialog stays open and says so.
            verify(dialog.opened)
            verify(findChild(dialog, "exportError").text.indexOf(target) >= 0)
            const direct = TestServer.scratchDir() + "/exact-name.png"
            name.text = direct
            keyClick(Qt.Key_Return)
            tryCompare(dialog, "opened", false)
            const info = TestServer.imageInfo(direct)
            verify(info.width > 100, JSON.stringify(info))
            compare(info.cornerAlpha, 255) // on white

            // Transparent, SVG by its suffix, a bare name into the folder.
            view.openExport("png", false)
            tryCompare(dialog, "opened", true)
            dialog.folder = TestServer.scratchDir()
            mouseClick(findChild(dialog, "exportTransparent"))
            name.text = "clear"
            compare(dialog.path, TestServer.scratchDir() + "/clear.png")
            mouseClick(findChild(dialog, "exportSave"))
            tryCompare(dialog, "opened", false)
            compare(TestServer.imageInfo(TestServer.scratchDir() + "/clear.png").cornerAlpha, 0)

            view.openExport("png", false)
            tryCompare(dialog, "opened", true)
            verify(findChild(dialog, "exportTransparent").checked, "the choice stays for the next export")
            mouseClick(findChild(dialog, "exportTransparent"))
            mouseClick(findChild(dialog, "exportSvg"))
            verify(name.text.endsWith(".svg"), name.text)
            keyClick(Qt.Key_Escape)
            tryCompare(dialog, "opened", false)
        }

        // Issue 17 §3: dark ink is drawn light on the dark wall; light again when switched back.
        function test_9b_darkThemeKeepsInkReadable() {
            view.canvas.penColor = "#101010"
            drawStroke(300, 150)
            const was = AppSettings.theme
            try {
                AppSettings.theme = "light"
                tryVerify(() => view.canvas.settled)
                verify(inkNear(350, 165), "dark ink on the light wall")
                AppSettings.theme = "dark"
                verify(view.canvas.darkWall)
                verify(view.canvas.background.r < 0.2, "a dark wall")
                tryVerify(() => view.canvas.settled)
                tryVerify(() => lightNear(350, 165), 3000, "the ink turns light on the dark wall")
                verify(!lightNear(350, 400), "the wall around it stays dark")
            } finally {
                AppSettings.theme = was
            }
            tryVerify(() => view.canvas.settled)
        }

        function visibleRemoteCursor(item) {
            if (item.objectName === "remoteCursor" && item.visible)
                return item
            for (let i = 0; i < item.children.length; ++i) {
                const found = visibleRemoteCursor(item.children[i])
                if (found)
                    return found
            }
            return null
        }

        // Issue 17 §4: another person's pointer fades when it has been still for a few seconds
        // and comes back when it moves.
        function test_9c_idleRemoteCursorFades() {
            const other = createTemporaryObject(otherClient, root)
            other.connectToWall(TestServer.address, wallClient.wall)
            tryCompare(other, "state", WallClient.Connected, 5000)
            other.sendCursor(200, 200)
            let cursor = null
            tryVerify(() => (cursor = visibleRemoteCursor(view)) !== null, 5000, "Otto's pointer shows")
            verify(!cursor.idle)
            tryCompare(cursor, "opacity", 1, 2000)
            tryCompare(cursor, "idle", true, cursor.idleAfterMs + 3000)
            tryCompare(cursor, "opacity", 0, 3000)
            // A pan here is not a move there: it stays faded.
            view.canvas.panBy(30, 0)
            verify(cursor.idle)
            other.sendCursor(260, 220)
            tryCompare(cursor, "idle", false, 3000)
            tryCompare(cursor, "opacity", 1, 2000)
            view.canvas.resetView()
            other.disconnectFromWall()
        }

        // Issue 17 §7: the member menu is reached and used from the keyboard alone: Tab to the
        // row's ⋯ button, Space opens its menu, the arrows and Enter pick "Make moderator".
        function test_9k_memberMenuByKeyboard() {
            verify(wallClient.isOwner, "the wall is this client's own")
            view.toggleSidePanel(true)
            const other = createTemporaryObject(otherClient, root)
            other.connectToWall(TestServer.address, wallClient.wall)
            tryCompare(other, "state", WallClient.Connected, 5000)
            const list = findChild(view, "membersList")
            tryCompare(list, "count", 2, 5000)
            // Otto's row: the one whose ⋯ shows (one's own row has none).
            const ottosButton = () => {
                for (let i = 0; i < list.count; ++i) {
                    const row = list.itemAtIndex(i)
                    const b = row ? findChild(row, "memberMenuButton") : null
                    if (b && b.visible)
                        return b
                }
                return null
            }
            let button = null
            tryVerify(() => (button = ottosButton()) !== null, 5000, "Otto's row offers its menu")
            compare(button.Accessible.name, "What to do with Otto")
            view.canvas.forceActiveFocus()
            let reached = false
            for (let i = 0; i < 80 && !reached; ++i) {
                keyClick(Qt.Key_Tab)
                reached = button.activeFocus
            }
            verify(reached, "Tab reaches Otto's menu button")
            keyClick(Qt.Key_Space)
            const menu = findChild(button, "memberMenu")
            tryCompare(menu, "opened", true)
            // The first item the owner is offered for a member is "Make moderator".
            keyClick(Qt.Key_Down)
            keyClick(Qt.Key_Return)
            tryCompare(other, "role", WallClient.Moderator, 5000)
            tryCompare(menu, "visible", false)
            tryVerify(() => {
                for (let i = 0; i < list.count; ++i) {
                    const role = list.itemAtIndex(i) ? findChild(list.itemAtIndex(i), "memberRole") : null
                    if (role && role.visible && role.text === "moderator")
                        return true
                }
                return false
            }, 5000, "Otto's row shows the role")
            other.disconnectFromWall()
            view.canvas.forceActiveFocus()
        }

        // Issue 17 §2: a long message folds after a few lines and unfolds on request.
        function test_9d_longChatMessagesFold() {
            let pasted = ""
            for (let i = 1; i <= 30; ++i)
                pasted += "line " + i + " of a long paste\n"
            verify(wallClient.sendChat("short one"))
            verify(wallClient.sendChat(pasted))
            const list = findChild(view, "chatList")
            tryCompare(list, "count", 2)
            waitForRendering(list)
            const shortItem = list.itemAtIndex(0)
            const longItem = list.itemAtIndex(1)
            verify(shortItem && longItem)
            verify(!findChild(shortItem, "chatFold").visible)
            const text = findChild(longItem, "chatText")
            const fold = findChild(longItem, "chatFold")
            verify(text.truncated)
            verify(fold.visible)
            const folded = longItem.height
            verify(folded < 200, "folded to a few lines: " + folded)
            mouseClick(fold)
            tryVerify(() => longItem.height > folded * 2, 2000, "unfolded")
            verify(!text.truncated)
            compare(fold.text, "Show less")
        }

        // Issue 17 §6: a note placed at the wall's right edge, beside the panel, moves in whole.
        function test_9e_noteAtTheEdgeStaysInView() {
            view.canvas.tool = CanvasItem.Note
            mouseClick(view.canvas, view.canvas.width - 6, view.canvas.height - 6)
            let note = null
            tryVerify(() => (note = findEditingNote()) !== null, 2000, "the placed note is open for typing")
            const topLeft = view.canvas.mapFromWall(Qt.point(note.noteX, note.noteY))
            verify(topLeft.x + 200 * view.canvas.zoom <= view.canvas.width, "right edge in view: " + topLeft.x)
            verify(topLeft.y + 80 * view.canvas.zoom <= view.canvas.height, "bottom in view: " + topLeft.y)
            verify(topLeft.x > view.canvas.width - 260, "still near where it was clicked")
            keyClick(Qt.Key_I)
            view.canvas.forceActiveFocus() // leaves the note with a letter in it
            view.canvas.tool = CanvasItem.Pen
        }

        // Issue 17 §6: the minimap shows once the wall reaches beyond the view; a click in it
        // centres the view there; M switches it off and on.
        function test_9f_minimapTakesYouThere() {
            const frame = findChild(view, "minimap")
            const map = findChild(view, "minimapItem")
            view.canvas.resetView()
            drawStroke(300, 300)
            tryVerify(() => !frame.visible, 2000, "everything in view: no minimap")
            view.canvas.panBy(-3000, -2000)
            tryVerify(() => frame.visible, 2000, "the wall reaches beyond the view")
            const wanted = map.wallAt(Qt.point(map.width / 2, map.height / 2))
            mousePress(map, map.width / 2, map.height / 2)
            const seen = view.canvas.visibleWallRect()
            fuzzyCompare(seen.x + seen.width / 2, wanted.x, 1)
            fuzzyCompare(seen.y + seen.height / 2, wanted.y, 1)
            // Dragged: the map holds still under the pointer and the view follows it.
            mouseMove(map, map.width / 2 + 20, map.height / 2)
            const further = map.wallAt(Qt.point(map.width / 2 + 20, map.height / 2))
            const seen2 = view.canvas.visibleWallRect()
            fuzzyCompare(seen2.x + seen2.width / 2, further.x, 1)
            mouseRelease(map, map.width / 2 + 20, map.height / 2)
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_M)
            verify(!frame.visible)
            keyClick(Qt.Key_M)
            verify(frame.visible)
            view.canvas.resetView()
        }

        // Issue 17 §7: the toolbar is reachable from the wall with Tab, and Space presses what
        // has the focus; every button there has an accessible name.
        function test_9g_toolbarReachableByKeyboard() {
            view.canvas.tool = CanvasItem.Pen
            view.canvas.forceActiveFocus()
            const select = findChild(view, "toolSelect")
            let reached = false
            for (let i = 0; i < 60 && !reached; ++i) {
                keyClick(Qt.Key_Tab)
                reached = select.activeFocus
            }
            verify(reached, "Tab reaches the select tool")
            keyClick(Qt.Key_Space)
            compare(view.canvas.tool, CanvasItem.Select)
            for (const name of ["leaveButton", "toolSelect", "toolShape", "shapeMenuButton", "imageButton",
                                "undoButton", "zoomLabel", "exportButton", "moreButton", "inviteButton",
                                "panelButton"]) {
                const b = findChild(view, name)
                verify(b.Accessible.name !== "", name + " has an accessible name")
            }
            view.canvas.forceActiveFocus()
            view.canvas.tool = CanvasItem.Pen
        }

        // Issue 17 §7: with the side panel open, Tab goes on from the toolbar into the panel,
        // reaches the chat box (typing there sends a message) and comes back round to the wall,
        // so a keyboard never gets stuck.
        function test_9i_sidePanelReachableByKeyboard() {
            view.toggleSidePanel(true)
            const input = findChild(view, "chatInput")
            tryVerify(() => input.visible && input.enabled, 5000)
            view.canvas.forceActiveFocus()
            let reached = false
            for (let i = 0; i < 80 && !reached; ++i) {
                keyClick(Qt.Key_Tab)
                reached = input.activeFocus
            }
            verify(reached, "Tab reaches the chat box")
            compare(root.unnamedTabStops(view), [], "every control Tab stops at has an accessible name")
            const before = wallClient.chat.rowCount()
            keyClick(Qt.Key_H)
            keyClick(Qt.Key_I)
            keyClick(Qt.Key_Return)
            tryVerify(() => wallClient.chat.rowCount() === before + 1, 5000, "the message is in the chat")
            let back = false
            for (let i = 0; i < 80 && !back; ++i) {
                keyClick(Qt.Key_Tab)
                back = view.canvas.activeFocus
            }
            verify(back, "Tab comes back round to the wall")
            // The dialogs' controls too (the wall is this client's own: the owner's part shows).
            for (const name of ["invitePopup", "exportDialog"]) {
                const popup = findChild(view, name)
                popup.open()
                tryCompare(popup, "opened", true)
                compare(root.unnamedTabStops(popup.contentItem), [], name + ": every control is named")
                popup.close()
                tryCompare(popup, "visible", false)
            }
            view.canvas.forceActiveFocus()
        }

        // Issue 17 §7: text follows the system font size. With the desktop's font half as large
        // again, the theme's type sizes and the labels made from them grow (the app's window
        // carries the size to every control: StartScreen test_textScalesWithTheSystemFont),
        // and the toolbar still fits in the window on one row.
        function test_9j_textScalesWithTheSystemFont() {
            const status = findChild(view, "connectionStatus")
            const zoom = findChild(view, "zoomLabel")
            const badge = findChild(view, "connectionBadge")
            const was = TestServer.applicationFontPointSize()
            verify(was > 0)
            const basePt = Theme.basePt
            compare(basePt, was)
            const statusPt = status.font.pointSize
            const statusWidth = status.width
            TestServer.setApplicationFontPointSize(was * 1.5)
            try {
                tryVerify(() => Math.abs(Theme.basePt - basePt * 1.5) < 0.01, 2000, "the theme follows the system font")
                compare(Theme.smallPt, Theme.basePt * 0.85)
                tryVerify(() => status.font.pointSize > statusPt * 1.4, 2000, "the connection state's text grows")
                tryVerify(() => status.width > statusWidth, 2000, "and takes the room it needs")
                const right = badge.mapToItem(root, badge.width, 0).x
                verify(right <= root.width + 0.5, "the toolbar still fits: its last control ends at " + right)
                compare(badge.mapToItem(root, 0, badge.height / 2).y, zoom.mapToItem(root, 0, zoom.height / 2).y,
                        "on one row")
            } finally {
                TestServer.setApplicationFontPointSize(was)
            }
            tryVerify(() => Math.abs(Theme.basePt - basePt) < 0.01)
        }

        // Issue 17 §1: with a text selected, the properties card's text size resizes it.
        function test_9h_textSizeRestylesSelectedText() {
            const key = wallClient.addText(300, 300, "title", 24, "#101010")
            tryCompare(wallClient, "pendingCount", 0)
            view.canvas.tool = CanvasItem.Select
            view.canvas.selectAll()
            verify(view.canvas.selectionCount >= 1)
            const size = findChild(findChild(view, "propertiesBar"), "textSize")
            tryVerify(() => size.visible, 2000, "the text size is offered for the selection")
            size.currentIndex = 3
            size.activated(3)
            tryCompare(wallClient, "pendingCount", 0)
            compare(wallClient.shapeInfo(key).fontSize, 72)
            view.canvas.tool = CanvasItem.Pen
        }

        function test_8_clearAsksFirst() {
            // Something to clear: a stroke and a note.
            view.canvas.penColor = "#101010"
            view.canvas.penWidth = 8
            drawStroke(100, 300)
            const notePos = view.canvas.mapToWall(Qt.point(500, 500))
            wallClient.addNote(notePos.x, notePos.y, "keep me?")
            tryCompare(wallClient, "pendingCount", 0)
            compare(wallClient.notes.rowCount(), 1)
            verify(inkNear(150, 315), "the stroke is drawn")
            const dialog = findChild(view, "clearDialog")
            const clearButton = findChild(view, "clearButton")
            verify(dialog && clearButton)

            // The toolbar's Clear asks first; Cancel leaves the wall as it was.
            mouseClick(clearButton)
            tryCompare(dialog, "opened", true)
            const cancel = dialog.standardButton(Dialog.Cancel)
            verify(cancel)
            compare(dialog.standardButton(Dialog.Ok).text, "Clear wall")
            mouseClick(cancel)
            tryCompare(dialog, "visible", false)
            // A chat's acknowledgement comes back after anything the cancel could have sent.
            const seq = wallClient.headSeq
            wallClient.sendChat("still here")
            tryCompare(wallClient, "pendingCount", 0)
            compare(wallClient.headSeq, seq + 1)
            compare(wallClient.notes.rowCount(), 1)
            verify(inkNear(150, 315), "cancel kept the stroke")

            // Confirming clears it, for the server too.
            mouseClick(clearButton)
            tryCompare(dialog, "opened", true)
            const ok = dialog.standardButton(Dialog.Ok)
            verify(ok)
            mouseClick(ok)
            tryCompare(dialog, "visible", false)
            tryCompare(wallClient, "pendingCount", 0)
            compare(wallClient.headSeq, seq + 2)
            tryVerify(() => wallClient.notes.rowCount() === 0, 2000, "the note is gone")
            tryVerify(() => !inkNear(150, 315), 2000, "the stroke is gone")
        }
    }

    Component {
        id: startComponent
        StartScreen {
            width: 800
            height: 700
            host: HostController {}
        }
    }

    // Plain ws:// chosen explicitly: this test is about the addresses and the form, not TLS
    // (tst_hostcontroller covers the wss:// default).
    HostController { id: testHost; secure: false }
    Component {
        id: startWithHost
        StartScreen {
            width: 800
            height: 700
            host: testHost
        }
    }

    TestCase {
        name: "StartScreen"
        when: windowShown

        function test_hostShowsCopyableAddressesAndOpensTheWall() {
            const host = testHost
            // Port 0 here so the test never collides with a real Scrawl on 7777.
            verify(host.start(0), host.errorText)
            const start = createTemporaryObject(startWithHost, root)
            verify(start)
            const addresses = findChild(start, "hostAddresses")
            verify(addresses.visible)
            const copy = findChild(start, "copyAddress")
            verify(copy)
            TestServer.clearClipboard()
            mouseClick(copy)
            compare(copy.text, "Copied")
            compare(TestServer.clipboardText(), host.addresses[0])
            let got = null
            start.joinRequested.connect((address, wall, hosted) => got = [address, wall, hosted])
            findChild(start, "nameField").text = "Hosta"
            findChild(start, "hostWall").text = "hosted-wall"
            mouseClick(findChild(start, "hostButton"))
            verify(got !== null)
            compare(got[0], "127.0.0.1:" + host.port)
            compare(got[1], "hosted-wall")
            compare(got[2], true)
            mouseClick(findChild(start, "stopHosting"))
            verify(!host.running)
            verify(!addresses.visible)
        }

        // Issue 17 §7: every field and button of the start screen has an accessible name,
        // the address rows of a running host included.
        function test_everyControlIsNamed() {
            verify(testHost.start(0), testHost.errorText)
            const start = createTemporaryObject(startWithHost, root)
            tryVerify(() => findChild(start, "copyAddress") !== null)
            compare(root.unnamedTabStops(start), [], "every control Tab stops at has an accessible name")
            testHost.stop()
        }

        // Issue 17 §7: the app's window sizes every control's text from the desktop's font, and
        // follows it while the app runs: half as large again, the start screen's name field
        // grows with it. (The window stays hidden: shown, it would take the keys from the
        // other tests' window.)
        function test_textScalesWithTheSystemFont() {
            const win = createTemporaryQmlObject("import Scrawl; Main { visible: false }", root)
            verify(win)
            const name = findChild(win.contentItem, "nameField")
            verify(name)
            const was = TestServer.applicationFontPointSize()
            compare(name.font.pointSize, was)
            TestServer.setApplicationFontPointSize(was * 1.5)
            try {
                tryVerify(() => Math.abs(name.font.pointSize - was * 1.5) < 0.01, 2000,
                          "the name field's text follows the system font")
                verify(name.implicitHeight > 0)
            } finally {
                TestServer.setApplicationFontPointSize(was)
            }
            tryVerify(() => Math.abs(name.font.pointSize - was) < 0.01)
            win.close()
        }

        // Issue 17 §4: no "Anonymous": an empty name is asked for before joining or hosting.
        function test_emptyNameIsAskedFor() {
            const start = createTemporaryObject(startComponent, root)
            let got = null
            start.joinRequested.connect((address, wall, hosted) => got = [address, wall, hosted])
            const name = findChild(start, "nameField")
            name.text = "  "
            findChild(start, "joinAddress").text = TestServer.address
            findChild(start, "joinWall").text = "nameless"
            const prompt = findChild(start, "namePrompt")
            verify(!prompt.visible)
            mouseClick(findChild(start, "joinButton"))
            compare(got, null)
            verify(prompt.visible)
            verify(name.activeFocus)
            name.text = "Nia"
            verify(!prompt.visible)
            mouseClick(findChild(start, "joinButton"))
            compare(got[1], "nameless")
        }

        function test_joinFormEmitsAddressAndWall() {
            const start = createTemporaryObject(startComponent, root)
            verify(start)
            findChild(start, "nameField").text = "Jo"
            let got = null
            start.joinRequested.connect((address, wall, hosted) => got = [address, wall, hosted])
            const address = findChild(start, "joinAddress")
            const wall = findChild(start, "joinWall")
            address.text = TestServer.address
            wall.text = "from-start"
            mouseClick(findChild(start, "joinButton"))
            verify(got !== null)
            compare(got[0], TestServer.address)
            compare(got[1], "from-start")
            compare(got[2], false)
        }
    }
}
