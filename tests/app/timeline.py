#!/usr/bin/env python3
"""The wall's history as a timeline, between two real `scrawl` processes and a real
`scrawl-server`, read back from their screens.

Ada and Bob join one wall, each app on an Xvfb display of its own with windows of one size, both
looking at the wall's origin. Ada draws a stroke, then a rectangle, then an ellipse (one op each);
after each, Bob's screen is kept: what a client had at that point. Ada opens the timeline
(Ctrl+Shift+H): it shows the wall as it is, pixel for pixel what Bob saw last; a change back
(Left) shows what Bob saw before the ellipse, another what he saw before the rectangle, exported from there
(Ctrl+E) it is the stroke alone, and the first change (Home) an empty wall; stepping forward again (Right) shows the same states on the
way back up. Meanwhile Bob draws again: Ada's timeline does not show it
until she goes back to the live wall (Escape), and then it does. Every wait is a bounded poll.

Usage: timeline.py PATH/TO/scrawl PATH/TO/scrawl-server [SCREENSHOT.png]
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apptest import Run, color_at, drag, line, read, xdo  # noqa: E402

APP, SERVER = sys.argv[1], sys.argv[2]
SCREENSHOT = sys.argv[3] if len(sys.argv) > 3 else None
WALL = 'history'
run = Run('timeline')
# Where the drawings are, on both screens: compared pixel for pixel (no toolbar, no panel, no
# cursor: Ada's pointer rests outside it).
REGION = (300, 240, 740, 440)  # x, y, width, height


def ink_at(shot, x, y, radius=5):
    return color_at(shot, x, y, (0x22, 0x22, 0x22), radius, tolerance=50)


def region(shot):
    w, _, data = shot
    x0, y0, rw, rh = REGION
    return [data[3 * ((y0 + y) * w + x0):3 * ((y0 + y) * w + x0 + rw)] for y in range(rh)]


def differing(a, b):
    """Pixels of REGION that differ by more than a rounding's worth between two screens."""
    count = 0
    for ra, rb in zip(region(a), region(b)):
        if ra == rb:
            continue
        for i in range(0, len(ra), 3):
            if max(abs(ra[i] - rb[i]), abs(ra[i + 1] - rb[i + 1]), abs(ra[i + 2] - rb[i + 2])) > 24:
                count += 1
    return count


def settled(env, name):
    """The screen once two looks in a row agree on REGION (tiles painted, ink flowed in); kept in
    the work folder as NAME.png."""
    previous = run.screen(env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.15)
        shot = run.screen(env)
        if differing(previous, shot) == 0:
            run.screen(env, name)
            return shot
        previous = shot
    run.fail('the screen kept changing')


def same(what, a, b):
    diff = differing(a, b)
    allowed = 40  # a few pixels of antialiasing at most, never a shape
    if diff > allowed:
        run.fail(f'{what}: {diff} pixels differ (at most {allowed} may)')
    print(f'ok: {what} ({diff} pixels differ)')


def shown_seq(log):
    seqs = re.findall(r'timeline shows seq (\d+)', read(log))
    return int(seqs[-1]) if seqs else -1


def main():
    port, _ = run.server(SERVER)
    link = f'scrawl://127.0.0.1:{port}/{WALL}'
    ada, ada_log = run.app(APP, 'ada', link, wall=WALL, logging=';scrawl.app.timeline.info=true')
    bob, _ = run.app(APP, 'bob', link, wall=WALL)

    def rest_ada_pointer():
        # Over the wall but outside REGION: Bob's screen shows her cursor there.
        xdo(ada, 'mousemove', 880, 760)
        xdo(ada, 'mousemove', 890, 770)

    kept = []
    xdo(ada, 'key', 'p')
    drag(ada, line((400, 300), (700, 380)))
    rest_ada_pointer()
    run.wait_for("Ada's stroke on Bob's screen", lambda: ink_at(run.screen(bob), 550, 340))
    kept.append(settled(bob, 'bob-1-stroke'))
    xdo(ada, 'key', 'r')
    drag(ada, line((450, 450), (640, 600), 12))
    rest_ada_pointer()
    run.wait_for("Ada's rectangle on Bob's screen", lambda: ink_at(run.screen(bob), 450, 520, 3))
    kept.append(settled(bob, 'bob-2-rectangle'))
    xdo(ada, 'key', 'o')
    drag(ada, line((800, 300), (1000, 500), 12))
    rest_ada_pointer()
    run.wait_for("Ada's ellipse on Bob's screen", lambda: ink_at(run.screen(bob), 900, 300, 3))
    kept.append(settled(bob, 'bob-3-ellipse'))
    if differing(kept[0], kept[1]) == 0 or differing(kept[1], kept[2]) == 0:
        run.fail("the states Bob saw do not differ: the comparisons below would prove nothing")

    # The timeline opens on the wall as it is: what Bob sees.
    xdo(ada, 'key', 'ctrl+shift+h')
    run.wait_for('the timeline ready', lambda: 'timeline ready' in read(ada_log))
    last = int(re.search(r'timeline ready: changes (\d+) to (\d+)', read(ada_log)).group(2))
    run.wait_for('the timeline showing the last change', lambda: shown_seq(ada_log) == last)
    same('the timeline at the last change is what Bob saw last', settled(ada, 'ada-timeline-last'), kept[2])

    # Bob draws meanwhile: the live wall goes on, the timeline stays where it is.
    xdo(bob, 'key', 'p')
    drag(bob, line((400, 700), (700, 700)))
    run.wait_for("Bob's new line on his screen", lambda: ink_at(run.screen(bob), 550, 700))

    xdo(ada, 'key', 'Left')
    run.wait_for('one change back', lambda: shown_seq(ada_log) == last - 1)
    shot = settled(ada, 'ada-timeline-back-1')
    same('one change back is what Bob saw before the ellipse', shot, kept[1])
    if SCREENSHOT:
        subprocess.run(['convert', 'ppm:-', SCREENSHOT], input=subprocess.run(
            ['import', '-display', ada['DISPLAY'], '-window', 'root', '-depth', '8', 'ppm:-'],
            check=True, capture_output=True).stdout, check=True)
    xdo(ada, 'key', 'Left')
    run.wait_for('two changes back', lambda: shown_seq(ada_log) == last - 2)
    same('two changes back is what Bob saw before the rectangle', settled(ada, 'ada-timeline-back-2'), kept[0])
    if ink_at(run.screen(ada), 550, 700):
        run.fail("Bob's new line shows in Ada's timeline")

    # Exported from here (Ctrl+E, Enter saves): the wall as it was, the stroke alone.
    before_dialog = run.screen(ada)
    xdo(ada, 'key', 'ctrl+e')
    run.wait_for('the export dialog', lambda: differing(before_dialog, run.screen(ada)) > 1000)
    settled(ada, 'ada-export-dialog')
    xdo(ada, 'key', 'Return')
    run.wait_for('the export saved', lambda: re.search(r'notice: Saved (\S+\.png)', read(ada_log)))
    exported = re.search(r'notice: Saved (\S+\.png)', read(ada_log)).group(1)
    size = subprocess.run(['identify', '-format', '%w %h', exported], capture_output=True, text=True,
                          check=True).stdout.split()
    width, height = int(size[0]), int(size[1])
    # The stroke spans 300 x 80 px; with the rectangle and the ellipse the wall is 600 x 300.
    if not (300 <= width < 450 and 80 <= height < 200):
        run.fail(f'the export from two changes back is {width} x {height}: not the stroke alone')
    print(f'ok: exported from two changes back: {width} x {height}, the stroke alone')

    xdo(ada, 'key', 'Home')
    run.wait_for('the first change', lambda: shown_seq(ada_log) == 0)
    empty = settled(ada, 'ada-timeline-first')
    if ink_at(empty, 550, 340) or ink_at(empty, 450, 520, 3):
        run.fail('the wall before its first change is not empty')
    print('ok: before the first change the wall is empty')

    # And forward again, a change at a time: the same states as on the way back.
    xdo(ada, 'key', '--repeat', str(last - 2), '--delay', '20', 'Right')
    run.wait_for('forward to before the rectangle', lambda: shown_seq(ada_log) == last - 2)
    same('forward again, before the rectangle is what Bob saw then', settled(ada, 'ada-timeline-forward-2'), kept[0])
    xdo(ada, 'key', 'Right')
    run.wait_for('forward to before the ellipse', lambda: shown_seq(ada_log) == last - 1)
    same('forward again, before the ellipse is what Bob saw then', settled(ada, 'ada-timeline-forward-1'), kept[1])

    # Back to the live wall: everything, Bob's new line too.
    xdo(ada, 'key', 'Escape')
    run.wait_for("the live wall with Bob's new line on Ada's screen", lambda: ink_at(run.screen(ada), 550, 700))
    live = run.screen(ada)
    if not (ink_at(live, 550, 340) and ink_at(live, 900, 300, 3)):
        run.fail('the live wall lacks what was drawn before the timeline opened')
    print("ok: back to live, Bob's line drawn meanwhile is there")
    run.passed = True


main()
