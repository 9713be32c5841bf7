// Export: what (the whole wall, the view, the selection), as what (PNG or SVG), how big, on white
// or transparent, and where. The file name is ready to save (the wall's name and today, in the
// Pictures folder or home, whichever exists); a bare name goes into that folder, an absolute
// path is used as it is. Enter saves.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Scrawl

Dialog {
    id: dialog
    objectName: "exportDialog"
    required property CanvasItem canvas
    required property WallClient client
    // Where a bare file name goes; "Choose…" changes it.
    property string folder: AppSettings.exportFolder()
    property int area: CanvasItem.ExportWall
    property string format: "png"
    // Said after the last attempt: where it went, or what went wrong.
    signal saved(string path)

    title: qsTr("Export")
    modal: true
    focus: true
    anchors.centerIn: parent
    width: Math.min(parent ? parent.width - 24 : 520, 520)
    padding: 16
    // Save is its own button: a save that fails keeps the dialog open with the reason.
    footer: DialogButtonBox {
        Button {
            objectName: "exportCancel"
            text: qsTr("Cancel")
            DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
        }
        Button {
            objectName: "exportSave"
            text: qsTr("Save")
            highlighted: true
            DialogButtonBox.buttonRole: DialogButtonBox.ActionRole
            onClicked: dialog.save()
        }
        onRejected: dialog.close()
    }

    readonly property string path: AppSettings.resolveExportPath(nameField.text, folder, format)

    // Opens with a fresh name for what it is asked to export.
    function openFor(what, fmt) {
        area = what === CanvasItem.ExportSelection && canvas.selectionCount === 0 ? CanvasItem.ExportWall : what
        format = fmt
        nameField.text = AppSettings.exportFileName(client.wall, format)
        errorLabel.text = ""
        open()
        nameField.forceActiveFocus()
        // The name without its suffix is selected: typing replaces it.
        nameField.select(0, Math.max(0, nameField.text.lastIndexOf(".")))
    }

    function save() {
        const target = path
        if (target === "") {
            errorLabel.text = qsTr("Type a file name to save to.")
            return
        }
        const scale = format === "png" ? scaleBox.currentValue : 1
        if (canvas.exportImage(target, area, scale, transparentBox.checked)) {
            errorLabel.text = ""
            dialog.saved(target)
            dialog.close()
        } else {
            errorLabel.text = canvas.exportError()
        }
    }

    // A typed suffix picks the format; the format picked changes the suffix.
    function setFormat(fmt) {
        format = fmt
        const t = nameField.text
        const dot = t.lastIndexOf(".")
        const ext = dot >= 0 ? t.substring(dot + 1).toLowerCase() : ""
        if (ext === "png" || ext === "svg")
            nameField.text = t.substring(0, dot + 1) + fmt
    }

    ColumnLayout {
        width: dialog.availableWidth
        spacing: 10
        // Enter saves, wherever the keys are in the dialog.
        Keys.onReturnPressed: dialog.save()
        Keys.onEnterPressed: dialog.save()

        Label { text: qsTr("What"); font.bold: true }
        RowLayout {
            spacing: 12
            RadioButton {
                objectName: "exportWholeWall"
                text: qsTr("The whole wall")
                checked: dialog.area === CanvasItem.ExportWall
                onClicked: dialog.area = CanvasItem.ExportWall
            }
            RadioButton {
                objectName: "exportView"
                text: qsTr("What is in view")
                checked: dialog.area === CanvasItem.ExportView
                onClicked: dialog.area = CanvasItem.ExportView
            }
            RadioButton {
                objectName: "exportSelection"
                text: qsTr("The selection")
                enabled: dialog.canvas.selectionCount > 0
                checked: dialog.area === CanvasItem.ExportSelection
                onClicked: dialog.area = CanvasItem.ExportSelection
            }
        }

        GridLayout {
            columns: 2
            columnSpacing: 12
            rowSpacing: 6
            Label { text: qsTr("Format") }
            RowLayout {
                RadioButton {
                    objectName: "exportPng"
                    text: qsTr("PNG picture")
                    checked: dialog.format === "png"
                    onClicked: dialog.setFormat("png")
                }
                RadioButton {
                    objectName: "exportSvg"
                    text: qsTr("SVG drawing")
                    checked: dialog.format === "svg"
                    onClicked: dialog.setFormat("svg")
                }
            }
            Label { text: qsTr("Size"); enabled: dialog.format === "png" }
            ComboBox {
                id: scaleBox
                objectName: "exportScale"
                Accessible.name: qsTr("Picture size")
                enabled: dialog.format === "png"
                textRole: "label"
                valueRole: "scale"
                model: [{ label: qsTr("1× (as on the wall)"), scale: 1 }, { label: qsTr("2× (sharp on HiDPI)"), scale: 2 },
                        { label: qsTr("3×"), scale: 3 }]
                Layout.preferredWidth: 200
            }
            Label { text: qsTr("Background") }
            CheckBox {
                id: transparentBox
                objectName: "exportTransparent"
                text: qsTr("Transparent (else white)")
            }
        }

        Label { text: qsTr("Save as"); font.bold: true }
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: nameField
                objectName: "exportName"
                Accessible.name: qsTr("File to save")
                Layout.fillWidth: true
                selectByMouse: true
                onAccepted: dialog.save()
                onTextEdited: {
                    const dot = text.lastIndexOf(".")
                    const ext = dot >= 0 ? text.substring(dot + 1).toLowerCase() : ""
                    if (ext === "png" || ext === "svg")
                        dialog.format = ext
                }
            }
            Button {
                text: qsTr("Choose…")
                onClicked: chooser.open()
            }
        }
        Label {
            objectName: "exportWhere"
            Layout.fillWidth: true
            text: dialog.path === "" ? qsTr("Type a file name.")
                  : AppSettings.fileExists(dialog.path) ? qsTr("%1 exists: Save replaces it.").arg(dialog.path)
                                                        : qsTr("Saves to %1").arg(dialog.path)
            textFormat: Text.PlainText
            wrapMode: Text.WrapAnywhere
            color: Theme.mutedText
            font.pointSize: Theme.smallPt
        }
        Label {
            id: errorLabel
            objectName: "exportError"
            visible: text !== ""
            Layout.fillWidth: true
            textFormat: Text.PlainText
            wrapMode: Text.Wrap
            color: "#e03e3e"
        }
    }

    FileDialog {
        id: chooser
        title: qsTr("Export to")
        fileMode: FileDialog.SaveFile
        currentFolder: "file://" + dialog.folder
        nameFilters: dialog.format === "svg" ? [qsTr("SVG drawing (*.svg)")] : [qsTr("PNG picture (*.png)")]
        onAccepted: nameField.text = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
    }
}
