// The app's colours, light and dark (AppSettings.theme: the system's choice, or one picked in
// the toolbar's More menu). Views take their colours from here, never from literals, so that
// both themes hold everywhere.
pragma Singleton
import QtQuick
import Scrawl

QtObject {
    readonly property bool dark: AppSettings.dark

    // The wall itself, and the start screen behind its card.
    readonly property color wall: dark ? "#1e1f22" : "#ffffff"
    readonly property color backdrop: dark ? "#17181a" : "#f4f5f7"
    // Bars, panels and floating cards, and their edges.
    readonly property color surface: dark ? "#2b2d31" : "#ffffff"
    readonly property color raised: dark ? "#34363b" : "#f7f7f8"
    readonly property color line: dark ? "#43454b" : "#d9dbe0"
    readonly property color text: dark ? "#e8e9eb" : "#1d1e20"
    readonly property color mutedText: dark ? "#a3a6ad" : "#6b6f76"
    readonly property color accent: dark ? "#4a9ff0" : "#1c7ed6"
    readonly property color accentText: "#ffffff"
    // Refusals and warnings in text, and the floating notices.
    readonly property color warningText: dark ? "#f0b44c" : "#8a5a00"
    readonly property color toast: dark ? "#e8e9eb" : "#2b2d31"
    readonly property color toastText: dark ? "#1d1e20" : "#ffffff"
    readonly property color warningBanner: dark ? "#4a3b17" : "#fff3d6"
    readonly property color errorBanner: dark ? "#4d2224" : "#fde2e2"
    // Type sizes, in points, from the system's font: text grows with the desktop's font setting.
    readonly property real basePt: AppSettings.fontPoints
    readonly property real smallPt: basePt * 0.85
    readonly property real titlePt: basePt * 1.35
    readonly property real heroPt: basePt * 2.3

    // A swatch's ring when it is the one in use.
    readonly property color selectedRing: dark ? "#e8e9eb" : "#1c1c1c"

    // The Controls palette for the window: Fusion draws every button, field and menu from it.
    function applyTo(p) {
        p.window = dark ? "#2b2d31" : "#f2f3f5"
        p.windowText = text
        p.base = dark ? "#1e1f22" : "#ffffff"
        p.alternateBase = dark ? "#26282b" : "#f7f7f8"
        p.text = text
        p.button = dark ? "#34363b" : "#f2f3f5"
        p.buttonText = text
        p.brightText = "#ffffff"
        p.highlight = accent
        p.highlightedText = "#ffffff"
        p.toolTipBase = dark ? "#3a3c41" : "#ffffdc"
        p.toolTipText = text
        p.placeholderText = mutedText
        p.mid = dark ? "#4a4c52" : "#c4c7cc"
        p.dark = dark ? "#141517" : "#a0a3a8"
        p.light = dark ? "#45474d" : "#ffffff"
        p.midlight = dark ? "#3d3f44" : "#e3e5e8"
        p.shadow = "#000000"
        p.link = accent
        p.disabled.windowText = mutedText
        p.disabled.text = mutedText
        p.disabled.buttonText = mutedText
    }
}
