// The views against a real server: connection state, tools and their shortcuts, drawing with the
// mouse, chat, undo shortcut, the banner when the server goes away, clear asks first, and the
// start screen's host/join forms.
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

    TestCase {
        name: "WallView"
        when: windowShown

        function initTestCase() {
            wallClient.connectToWall(TestServer.address, "quicktest")
            tryCompare(wallClient, "state", WallClient.Connected, 5000)
        }

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
            const seq = wallClient.headSeq
            view.canvas.tool = CanvasItem.Pen
            mousePress(view.canvas, 100, 100)
            for (let i = 1; i <= 10; ++i)
                mouseMove(view.canvas, 100 + i * 10, 100 + i * 3)
            mouseRelease(view.canvas, 200, 130)
            tryCompare(wallClient, "pendingCount", 0)
            verify(wallClient.headSeq >= seq + 2)
            verify(wallClient.canUndo)
        }

        function test_4_undoShortcutAndRedo() {
            view.canvas.forceActiveFocus()
            keyClick(Qt.Key_Z, Qt.ControlModifier)
            tryCompare(wallClient, "canRedo", true)
            keyClick(Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
            tryCompare(wallClient, "canRedo", false)
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
            TestServer.stop()
            tryCompare(wallClient, "state", WallClient.Reconnecting, 5000)
            const banner = findChild(view, "errorBanner")
            tryCompare(banner, "visible", true)
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

        function test_8_clearAsksFirst() {
            const dialog = findChild(view, "clearDialog")
            verify(dialog)
            dialog.open()
            tryCompare(dialog, "opened", true)
            const seq = wallClient.headSeq
            dialog.reject()
            wait(0)
            compare(wallClient.pendingCount, 0)
            compare(wallClient.headSeq, seq)
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

    TestCase {
        name: "StartScreen"
        when: windowShown

        function test_joinFormEmitsAddressAndWall() {
            const start = createTemporaryObject(startComponent, root)
            verify(start)
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
