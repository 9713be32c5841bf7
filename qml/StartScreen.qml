// Who you are, then host a wall on this machine or join one, or pick a recent wall.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

Pane {
    id: start
    required property HostController host
    signal joinRequested(string address, string wall, bool hosted)
    // Optional wall passwords: a new hosted wall gets hostPassword; joining sends joinPassword.
    readonly property string hostPassword: hostPasswordField.text
    readonly property string joinPassword: joinPasswordField.text
    // Why the last wall could not be opened, when the person came back from it.
    property string lastError: ""
    padding: 0

    // A name first: it is what others see by this person's pointer and messages. Asked for,
    // never made up.
    property bool nameAsked: false
    function haveName() {
        if (nameField.text.trim() !== "")
            return true
        nameAsked = true
        nameField.forceActiveFocus()
        return false
    }
    // The wall in the Host field (`scrawl --host WALL` fills it in).
    property alias hostWallName: hostWall.text
    function askName() {
        nameAsked = true
        nameField.forceActiveFocus()
    }
    function join_(address, wall) {
        if (haveName())
            start.joinRequested(address, wall, false)
    }
    function host_(wall) {
        if (!haveName())
            return
        AppSettings.hostPort = portField.value
        if (start.host.running || start.host.start(portField.value)) {
            start.host.announceWall(wall, AppSettings.displayName)
            start.joinRequested(start.host.localAddress, wall, true)
        }
    }

    background: Rectangle { color: Theme.backdrop }

    Flickable {
        anchors.fill: parent
        contentHeight: column.y + column.implicitHeight + 40
        clip: true

        ColumnLayout {
            id: column
            width: Math.min(620, start.width - 48)
            anchors.horizontalCenter: parent.horizontalCenter
            // In the middle of the window when it fits, from the top when it does not.
            y: Math.max(40, (start.height - implicitHeight) / 2)
            spacing: 16

            RowLayout {
                spacing: 14
                Image {
                    source: "qrc:/qt/qml/Scrawl/scrawl.svg"
                    sourceSize: Qt.size(56, 56)
                }
                ColumnLayout {
                    spacing: 0
                    Label { text: "Scrawl"; font.pointSize: Theme.heroPt; font.bold: true }
                    Label { text: qsTr("Draw, write notes and chat on a shared wall, live."); color: Theme.mutedText }
                }
            }

            Label {
                objectName: "lastError"
                visible: start.lastError !== ""
                text: start.lastError
                textFormat: Text.PlainText
                color: "#c92a2a"
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }

            GroupBox {
                title: qsTr("You")
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    TextField {
                        id: nameField
                        objectName: "nameField"
                        Accessible.name: qsTr("Your name")
                        Layout.fillWidth: true
                        placeholderText: qsTr("Your name, as others see it")
                        text: AppSettings.displayName
                        maximumLength: AppSettings.maxNameChars
                        onTextEdited: AppSettings.displayName = text
                    }
                    Label {
                        objectName: "namePrompt"
                        visible: start.nameAsked && nameField.text.trim() === ""
                        text: qsTr("Type your name first: it is what the others see beside your pointer and your messages.")
                        color: "#c92a2a"
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    RowLayout {
                        Label { text: qsTr("Your colour"); rightPadding: 8 }
                        Repeater {
                            model: AppSettings.palette()
                            delegate: ColorSwatch {
                                swatchColor: modelData
                                selected: Qt.colorEqual(AppSettings.color, modelData)
                                onClicked: AppSettings.color = modelData
                            }
                        }
                    }
                }
            }

            GroupBox {
                title: qsTr("Host a wall on this computer")
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    RowLayout {
                        Label { text: qsTr("Wall") }
                        TextField {
                            id: hostWall
                            maximumLength: AppSettings.maxWallNameChars
                            objectName: "hostWall"
                            Accessible.name: qsTr("Wall to host")
                            Layout.fillWidth: true
                            text: AppSettings.lastWall
                            placeholderText: qsTr("Wall name")
                            onAccepted: start.host_(text)
                        }
                        Label { text: qsTr("Port") }
                        SpinBox {
                            id: portField
                            Accessible.name: qsTr("Port to host on")
                            from: 1024
                            to: 65535
                            editable: true
                            enabled: !start.host.running
                            value: AppSettings.hostPort
                            textFromValue: (v) => String(v)
                        }
                        Button {
                            objectName: "hostButton"
                            text: start.host.running ? qsTr("Open") : qsTr("Host")
                            highlighted: true
                            enabled: hostWall.text.trim() !== ""
                            onClicked: start.host_(hostWall.text)
                        }
                    }
                    RowLayout {
                        TextField {
                            id: hostPasswordField
                            objectName: "hostPassword"
                            Layout.fillWidth: true
                            echoMode: TextInput.Password
                            Accessible.description: qsTr("Password for a new wall")
                            placeholderText: qsTr("Password for a new wall (optional)")
                        }
                        CheckBox {
                            objectName: "hostSecure"
                            text: qsTr("Encrypt (wss://)")
                            checked: start.host.secure
                            enabled: !start.host.running
                            onToggled: {
                                AppSettings.hostSecure = checked
                                start.host.secure = checked
                            }
                            ToolTip.visible: hovered
                            ToolTip.text: checked
                                ? qsTr("Serve over TLS with a self-signed certificate kept on this computer; each app checks it on first use.")
                                : qsTr("Plain ws://: anyone on your network can read the wall and the identities that carry your owner role. Tick to encrypt.")
                        }
                    }
                    CheckBox {
                        objectName: "hostAnnounce"
                        text: qsTr("Announce on this network")
                        checked: start.host.announce
                        onToggled: {
                            AppSettings.announceHosted = checked
                            start.host.announce = checked
                        }
                        ToolTip.visible: hovered
                        ToolTip.text: checked
                            ? qsTr("People on your network see the walls you host under \"Walls on this network\" and join with a click (DNS-SD). A wall's password still applies.")
                            : qsTr("Your hosted walls are not announced: people join with the address and the wall's name.")
                    }
                    Label {
                        objectName: "hostPlainWarning"
                        visible: !start.host.secure
                        text: qsTr("Not encrypted: people on your network can read this wall and take over your owner role. Tick Encrypt unless every network in between is yours.")
                        color: "#c92a2a"
                        font.pointSize: Theme.smallPt
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Label {
                        visible: start.host.running && start.host.secure
                        text: qsTr("Certificate fingerprint (SHA-256): %1").arg(start.host.fingerprint)
                        font.pointSize: Theme.smallPt
                        wrapMode: Text.WrapAnywhere
                        Layout.fillWidth: true
                    }
                    Label {
                        visible: start.host.errorText !== ""
                        text: start.host.errorText
                        textFormat: Text.PlainText
                        color: "#c92a2a"
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    // While hosting: the addresses others join with, each with a Copy button.
                    ColumnLayout {
                        objectName: "hostAddresses"
                        visible: start.host.running
                        Layout.fillWidth: true
                        spacing: 4
                        Label {
                            text: qsTr("Hosting on port %1. Others on your network join with one of these addresses:").arg(start.host.port)
                            wrapMode: Text.Wrap
                            color: "#2b8a3e"
                            Layout.fillWidth: true
                        }
                        Repeater {
                            model: start.host.addresses
                            delegate: RowLayout {
                                Layout.fillWidth: true
                                TextField {
                                    Layout.fillWidth: true
                                    readOnly: true
                                    selectByMouse: true
                                    text: modelData
                                    Accessible.name: qsTr("Address to join: %1").arg(modelData)
                                }
                                Button {
                                    objectName: "copyAddress"
                                    text: qsTr("Copy")
                                    ToolTip.visible: hovered
                                    ToolTip.text: qsTr("Copy %1 to the clipboard").arg(modelData)
                                    onClicked: {
                                        AppSettings.copyToClipboard(modelData)
                                        text = qsTr("Copied")
                                    }
                                }
                            }
                        }
                        Button {
                            objectName: "stopHosting"
                            text: qsTr("Stop hosting")
                            onClicked: start.host.stop()
                        }
                    }
                    Label {
                        text: qsTr("Walls are kept in %1").arg(start.host.dataDir)
                        textFormat: Text.PlainText
                        color: Theme.mutedText
                        font.pointSize: Theme.smallPt
                        elide: Text.ElideMiddle
                        Layout.fillWidth: true
                    }
                }
            }

            GroupBox {
                title: qsTr("Join a wall")
                Layout.fillWidth: true
                RowLayout {
                    anchors.fill: parent
                    TextField {
                        id: joinAddress
                        objectName: "joinAddress"
                        Accessible.name: qsTr("Server address")
                        Layout.fillWidth: true
                        Layout.preferredWidth: 3
                        text: AppSettings.lastAddress
                        placeholderText: qsTr("Address, e.g. 192.168.1.20:7777")
                        onAccepted: joinWall.forceActiveFocus()
                    }
                    TextField {
                        id: joinWall
                        maximumLength: AppSettings.maxWallNameChars
                        objectName: "joinWall"
                        Accessible.name: qsTr("Wall to join")
                        Layout.fillWidth: true
                        Layout.preferredWidth: 2
                        text: AppSettings.lastWall
                        placeholderText: qsTr("Wall name")
                        onAccepted: joinButton.clicked()
                    }
                    TextField {
                        id: joinPasswordField
                        objectName: "joinPassword"
                        Layout.fillWidth: true
                        Layout.preferredWidth: 2
                        echoMode: TextInput.Password
                        Accessible.description: qsTr("Wall password")
                        placeholderText: qsTr("Password, if any")
                        onAccepted: joinButton.clicked()
                    }
                    Button {
                        id: joinButton
                        objectName: "joinButton"
                        text: qsTr("Join")
                        highlighted: true
                        enabled: joinAddress.text.trim() !== "" && joinWall.text.trim() !== ""
                        onClicked: start.join_(joinAddress.text.trim(), joinWall.text.trim())
                    }
                }
            }

            // Walls announced on this network (DNS-SD through Avahi), one click to join.
            GroupBox {
                objectName: "nearbyWalls"
                title: qsTr("Walls on this network")
                Layout.fillWidth: true
                NearbyWalls { id: nearby }
                ColumnLayout {
                    anchors.fill: parent
                    spacing: 0
                    Label {
                        objectName: "nearbyStatus"
                        visible: nearby.statusText !== ""
                        text: nearby.statusText
                        textFormat: Text.PlainText
                        color: nearby.available ? Theme.mutedText : Theme.warningText
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Repeater {
                        model: nearby
                        delegate: ItemDelegate {
                            objectName: "nearbyWall"
                            Layout.fillWidth: true
                            text: model.host !== "" ? qsTr("%1 — hosted by %2").arg(model.wall).arg(model.host)
                                                    : model.wall
                            contentItem: RowLayout {
                                Label {
                                    text: parent.parent.text
                                    textFormat: Text.PlainText
                                    elide: Text.ElideRight
                                    Layout.fillWidth: true
                                }
                                Label {
                                    text: model.address
                                    textFormat: Text.PlainText
                                    color: Theme.mutedText
                                    font.pointSize: Theme.smallPt
                                }
                                Button {
                                    objectName: "joinNearby"
                                    text: qsTr("Join")
                                    // The one thing to do with a wall found nearby: in the accent colour.
                                    palette.button: Theme.accent
                                    palette.buttonText: Theme.accentText
                                    Accessible.name: qsTr("Join %1").arg(model.wall)
                                    onClicked: start.join_(model.address, model.wall)
                                }
                            }
                            onClicked: start.join_(model.address, model.wall)
                        }
                    }
                }
            }

            GroupBox {
                title: qsTr("Recent walls")
                Layout.fillWidth: true
                visible: AppSettings.recentWalls.length > 0
                ColumnLayout {
                    anchors.fill: parent
                    spacing: 0
                    Repeater {
                        model: AppSettings.recentWalls
                        delegate: ItemDelegate {
                            Layout.fillWidth: true
                            text: modelData.hosted ? qsTr("%1 — hosted here").arg(modelData.wall)
                                                   : qsTr("%1 — %2").arg(modelData.wall).arg(modelData.address)
                            // Wall names are typed by people: never read as markup.
                            contentItem: Label {
                                text: parent.text
                                textFormat: Text.PlainText
                                elide: Text.ElideRight
                                rightPadding: 32
                                verticalAlignment: Text.AlignVCenter
                            }
                            onClicked: modelData.hosted ? start.host_(modelData.wall)
                                                        : start.join_(modelData.address, modelData.wall)
                            ToolButton {
                                anchors { right: parent.right; verticalCenter: parent.verticalCenter }
                                text: "×"
                                ToolTip.visible: hovered
                                ToolTip.text: qsTr("Forget this wall")
                                onClicked: AppSettings.removeRecent(index)
                            }
                        }
                    }
                }
            }
            Label {
                text: qsTr("Scrawl %1").arg(AppSettings.appVersion)
                color: Theme.mutedText
                font.pointSize: Theme.smallPt
            }
        }
    }
}
