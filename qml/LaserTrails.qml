// Laser pointers on the wall: a bright trail through each person's positions (this person's own
// at once, others' as their cursors arrive) that fades within a second. Drawn over the wall in
// screen coordinates; never stored.
import QtQuick
import Scrawl

Canvas {
    id: trails
    objectName: "laserTrails"
    required property WallClient client
    required property CanvasItem canvas
    // How long a point of a trail shows, fading out.
    readonly property int fadeMs: 1000
    // user id -> { color, points: [{ x, y, t }] } (wall px, ms)
    property var byUser: ({})
    // Points drawn in the last paint: tests look at it (the trail reached the screen).
    property int pointsShown: 0

    function add(userId, x, y, color) {
        let trail = byUser[userId]
        if (!trail) {
            trail = { color: color, points: [] }
            byUser[userId] = trail
        }
        trail.color = color
        trail.points.push({ x: x, y: y, t: Date.now() })
        fadeTimer.start()
        requestPaint()
    }

    Connections {
        target: trails.client
        function onLaserMoved(userId, x, y, color) { trails.add(userId, x, y, color) }
    }
    Connections {
        target: trails.canvas
        function onViewChanged() { trails.requestPaint() }
    }

    // Repaints while anything is fading; stops once every trail is gone.
    Timer {
        id: fadeTimer
        interval: 16
        repeat: true
        onTriggered: {
            const now = Date.now()
            let left = 0
            for (const id in trails.byUser) {
                const points = trails.byUser[id].points
                while (points.length > 0 && now - points[0].t > trails.fadeMs)
                    points.shift()
                if (points.length === 0)
                    delete trails.byUser[id]
                else
                    left += points.length
            }
            if (left === 0)
                stop()
            trails.requestPaint()
        }
    }

    onPaint: {
        const ctx = getContext("2d")
        ctx.reset()
        // Butt ends: the segments of a trail meet without the overlaps that round ends would
        // darken into beads.
        ctx.lineCap = "butt"
        ctx.lineJoin = "round"
        const now = Date.now()
        let shown = 0
        for (const id in byUser) {
            const trail = byUser[id]
            const p = trail.points
            for (let i = 0; i < p.length; ++i) {
                const age = Math.min(1, (now - p[i].t) / fadeMs)
                const x = canvas.panX + p[i].x * canvas.zoom
                const y = canvas.panY + p[i].y * canvas.zoom
                ++shown
                if (i === 0)
                    continue
                const px = canvas.panX + p[i - 1].x * canvas.zoom
                const py = canvas.panY + p[i - 1].y * canvas.zoom
                // A glow in the person's colour under a bright core, both thinning as they fade.
                ctx.globalAlpha = (1 - age) * 0.45
                ctx.strokeStyle = trail.color
                ctx.lineWidth = 10 * (1 - age) + 2
                ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(x, y); ctx.stroke()
                ctx.globalAlpha = 1 - age
                ctx.strokeStyle = "#ffffff"
                ctx.lineWidth = 3 * (1 - age) + 1
                ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(x, y); ctx.stroke()
            }
            // The pointer's dot where it is now.
            if (p.length > 0 && now - p[p.length - 1].t < 150) {
                const last = p[p.length - 1]
                ctx.globalAlpha = 1
                ctx.fillStyle = trail.color
                ctx.beginPath()
                ctx.arc(canvas.panX + last.x * canvas.zoom, canvas.panY + last.y * canvas.zoom, 6, 0, 2 * Math.PI)
                ctx.fill()
            }
        }
        pointsShown = shown
    }
}
