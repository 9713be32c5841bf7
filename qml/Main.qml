// The app window: the start screen, then the wall. Shows and forwards only; the WallClient,
// HostController and AppSettings (C++) hold the logic.
import QtQuick
import QtQuick.Controls
import Scrawl

ApplicationWindow {
    id: window
    width: 1360
    height: 860
    minimumWidth: 800
    minimumHeight: 560
    // Every control's text from the desktop's font size, followed while the app runs (Qt 6.4's
    // controls keep the size they started with otherwise).
    font.pointSize: Theme.basePt
    visible: true
    title: inWall ? qsTr("%1 — Scrawl").arg(wallClient.wall) : qsTr("Scrawl")

    property bool inWall: false
    // A wall to join at once (`scrawl scrawl://HOST:PORT/WALL`).
    property string startAddress: ""
    property string startWall: ""
    // The certificate the link names (an encrypted wall's), accepted from the first connection.
    property string startFingerprint: ""
    // A wall to host at once (`scrawl --host WALL`).
    property string startHostWall: ""
    property string linkFingerprint: ""

    HostController {
        id: hostController
        secure: AppSettings.hostSecure
        announce: AppSettings.announceHosted
    }

    WallClient {
        id: wallClient
        displayName: AppSettings.displayName
        color: AppSettings.color
        profile: AppSettings.profile
        onJoined: {
            if (window.pendingRecent) {
                AppSettings.addRecent(window.pendingRecent.address, window.pendingRecent.wall, window.pendingRecent.hosted)
                window.pendingRecent = null
            }
        }
    }
    property var pendingRecent: null

    function enter(address, wall, hosted) {
        AppSettings.lastWall = wall
        if (!hosted)
            AppSettings.lastAddress = address
        // Listed under Recent walls once it has been joined, not when merely tried.
        pendingRecent = { address: address, wall: wall, hosted: hosted }
        startScreen.lastError = ""
        wallClient.connectToWall(hosted ? hostController.localAddress : address, wall,
                                 hosted ? startScreen.hostPassword : startScreen.joinPassword,
                                 hosted ? "" : linkFingerprint)
        linkFingerprint = ""
        inWall = true
    }

    // A scrawl:// link opened while the app runs (LinkInbox): join it, in front. `error` says
    // what is wrong with a link that names no wall.
    function openLink(address, wall, fingerprint, error) {
        window.raise()
        window.requestActivate()
        if (error !== "") {
            if (inWall)
                wallClient.showNotice(error)
            else
                startScreen.lastError = error
            return
        }
        if (inWall) {
            if (wallClient.wall === wall && wallClient.address === address)
                return // already there
            wallClient.disconnectFromWall()
            inWall = false
        }
        linkFingerprint = fingerprint
        if (AppSettings.displayName.trim() === "") {
            AppSettings.lastAddress = address
            AppSettings.lastWall = wall
            startScreen.askName()
        } else {
            enter(address, wall, false)
        }
    }

    // Light or dark, as the system or the person chose: every control draws from this palette.
    Connections {
        target: Theme
        function onDarkChanged() { Theme.applyTo(window.palette) }
    }

    Component.onCompleted: {
        Theme.applyTo(window.palette)
        AppSettings.restoreWindow(window)
        if (startHostWall !== "") {
            // As the start screen's Host: it asks for a name first when there is none.
            startScreen.hostWallName = startHostWall
            startScreen.host_(startHostWall)
        }
        if (startWall !== "") {
            // A link opened before this person ever gave a name: the start screen asks for one,
            // with the link's wall filled in to join.
            linkFingerprint = startFingerprint
            if (AppSettings.displayName.trim() === "") {
                AppSettings.lastAddress = startAddress
                AppSettings.lastWall = startWall
                startScreen.askName()
            } else {
                enter(startAddress, startWall, false)
            }
        }
    }
    onClosing: AppSettings.saveWindow(window)

    StartScreen {
        id: startScreen
        anchors.fill: parent
        visible: !window.inWall
        host: hostController
        onJoinRequested: (address, wall, hosted) => window.enter(address, wall, hosted)
    }

    Loader {
        anchors.fill: parent
        active: window.inWall
        sourceComponent: WallView {
            client: wallClient
            host: hostController
            onLeave: {
                startScreen.lastError = wallClient.state === WallClient.Failed ? wallClient.errorText : ""
                wallClient.disconnectFromWall()
                window.inWall = false
            }
        }
    }
}
