// The properties of the tool in hand, or of what is selected: colour, width, fill, text size.
// A card that floats over the wall's left edge, shown only while it has something to offer, so
// the toolbar above stays one row and the wall never moves.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Scrawl

Pane {
    id: bar
    required property CanvasItem canvas
    required property WallClient client
    // The wall view: its colour, width and fill rules (they restyle a selection too).
    required property Item wallView

    readonly property int tool: canvas.tool
    readonly property bool shapeTool: tool === CanvasItem.Rect || tool === CanvasItem.Ellipse
                                      || tool === CanvasItem.Diamond
    readonly property bool lineTool: tool === CanvasItem.Pen || tool === CanvasItem.Line
                                     || tool === CanvasItem.Arrow || shapeTool
    readonly property bool restyling: wallView.restyling
    visible: client.mayChangeWall && (lineTool || tool === CanvasItem.Text || restyling)

    padding: 8
    background: Rectangle {
        color: Theme.surface
        border.color: Theme.line
        radius: 8
    }

    component Heading: Label {
        font.pointSize: Theme.smallPt
        color: Theme.mutedText
        Layout.topMargin: 2
    }
    component ChoiceButton: ToolButton {
        id: choice
        property string tip
        checkable: true
        focusPolicy: Qt.TabFocus
        implicitWidth: 30
        implicitHeight: 30
        Accessible.name: tip
        ToolTip.visible: hovered && tip !== ""
        ToolTip.text: tip
        ToolTip.delay: 400
    }

    ColumnLayout {
        spacing: 4

        Heading { text: bar.restyling ? qsTr("Colour of the selection") : qsTr("Colour") }
        GridLayout {
            columns: 4
            rowSpacing: 0
            columnSpacing: 0
            Repeater {
                model: AppSettings.palette()
                delegate: ColorSwatch {
                    objectName: "penColor" + index
                    // As it shows on the wall (on a dark wall, dark ink shows light).
                    swatchColor: bar.canvas.darkWall ? bar.canvas.inkOnScreen(modelData) : modelData
                    size: 20
                    selected: Qt.colorEqual(bar.canvas.penColor, modelData)
                    readonly property string tip: qsTr("Colour (%1)").arg(index + 1)
                    ToolTip.visible: hovered
                    ToolTip.text: tip
                    ToolTip.delay: 600
                    onClicked: bar.wallView.choosePenColor(modelData)
                }
            }
        }

        Heading {
            visible: bar.lineTool || bar.restyling
            text: qsTr("Width")
        }
        RowLayout {
            visible: bar.lineTool || bar.restyling
            spacing: 0
            Repeater {
                model: bar.wallView.penWidths
                delegate: ChoiceButton {
                    objectName: "penWidth" + modelData
                    tip: qsTr("Width %1 px ([ thinner, ] thicker)").arg(modelData)
                    checked: bar.canvas.penWidth === modelData
                    contentItem: Item {
                        Rectangle {
                            anchors.centerIn: parent
                            width: Math.min(modelData + 2, 18)
                            height: width
                            radius: width / 2
                            color: Theme.text
                        }
                    }
                    onClicked: bar.wallView.chooseWidth(modelData)
                }
            }
        }

        Heading {
            visible: bar.shapeTool || bar.restyling
            text: qsTr("Fill")
        }
        RowLayout {
            visible: bar.shapeTool || bar.restyling
            spacing: 0
            Repeater {
                model: [{ icon: "fill-none", tip: qsTr("No fill (F cycles)") },
                        { icon: "fill-light", tip: qsTr("A light wash of the colour (F cycles)") },
                        { icon: "fill-solid", tip: qsTr("Solid, in the colour (F cycles)") }]
                delegate: ChoiceButton {
                    objectName: "fill" + index
                    tip: modelData.tip
                    checked: bar.wallView.fillStep === index
                    icon.source: "qrc:/qt/qml/Scrawl/icons/" + modelData.icon + ".svg"
                    icon.width: 18
                    icon.height: 18
                    display: AbstractButton.IconOnly
                    onClicked: bar.wallView.chooseFill(index)
                }
            }
        }

        Heading {
            visible: bar.tool === CanvasItem.Text || bar.restyling
            text: qsTr("Text size")
        }
        ComboBox {
            objectName: "textSize"
            Accessible.name: qsTr("Text size")
            visible: bar.tool === CanvasItem.Text || bar.restyling
            // Reachable with Tab; a click leaves the keys on the wall.
            focusPolicy: Qt.TabFocus
            Layout.fillWidth: true
            textRole: "label"
            valueRole: "size"
            model: [{ label: qsTr("Small"), size: 16 }, { label: qsTr("Medium"), size: 24 },
                    { label: qsTr("Large"), size: 40 }, { label: qsTr("Huge"), size: 72 }]
            currentIndex: Math.max(0, indexOfValue(bar.canvas.textSize))
            onActivated: {
                bar.canvas.textSize = currentValue
                // With texts selected it resizes them (other shapes keep their size).
                if (bar.restyling)
                    bar.canvas.setSelectionFontSize(currentValue)
            }
        }
    }
}
