#!/usr/bin/env python3
"""Present, follow and the laser pointer between two real `scrawl` processes and a real
`scrawl-server`, read back from their screens.

Ada (the wall's owner) and Bob join one wall, each app on an Xvfb display of its own, with
windows of one size. Ada pans her view away and draws a line: on Bob's screen it is elsewhere (he
looks at another part of the wall). Ada presents (Ctrl+Shift+P): Bob's view follows hers, so the
line is where Ada sees it; she pans again and his view follows live. Bob pans his own view: he
breaks away and her next pan no longer moves his. Before that, while he follows, Ada holds the
laser pointer (K) and moves: Bob's screen shows its trail while her button is down, and a second
after she lets go it is gone, leaving nothing on the wall. Every wait is a bounded poll.

Usage: follow_laser.py PATH/TO/scrawl PATH/TO/scrawl-server
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apptest import Run, color_at, drag, hex_rgb, line, read, xdo  # noqa: E402

APP, SERVER = sys.argv[1], sys.argv[2]
WALL = 'show'
ADA, BOB = '#1c7ed6', '#2f9e44'
run = Run('follow-laser')


def ink_at(shot, x, y, radius=5):
    """Dark ink (the default pen) within `radius` of (x, y)?"""
    return color_at(shot, x, y, (0x22, 0x22, 0x22), radius, tolerance=50)


def main():
    port, _ = run.server(SERVER)
    ada, ada_log = run.app(APP, 'ada', f'scrawl://127.0.0.1:{port}/{WALL}', wall=WALL, color=ADA)
    bob, bob_log = run.app(APP, 'bob', f'scrawl://127.0.0.1:{port}/{WALL}', wall=WALL, color=BOB)

    # Ada looks elsewhere (the pan tool, a drag of 300 x 200) and draws a line there.
    xdo(ada, 'key', 'h')
    drag(ada, line((700, 600), (400, 400)))
    xdo(ada, 'key', 'p')
    drag(ada, line((420, 450), (720, 450)))
    run.wait_for('the line on Ada\'s screen', lambda: ink_at(run.screen(ada), 570, 450))
    # Bob looks where the wall's origin is: for him the line is 300 right and 200 down.
    run.wait_for("the line on Bob's screen, where he looks", lambda: ink_at(run.screen(bob), 870, 650))
    if ink_at(run.screen(bob), 570, 450):
        run.fail("Bob's view already shows the line where Ada sees it")

    # Ada presents: Bob's view follows hers.
    xdo(ada, 'key', 'ctrl+shift+p')
    run.wait_for("Bob's view following Ada's presentation", lambda: ink_at(run.screen(bob), 570, 450), seconds=10)
    run.screen(bob, 'bob-following')
    # She pans 150 to the left: his view follows live.
    xdo(ada, 'key', 'h')
    drag(ada, line((600, 600), (450, 600)))
    run.wait_for("the line where Ada's new view puts it, on Ada's screen", lambda: ink_at(run.screen(ada), 420, 450))
    run.wait_for("Bob's view following Ada's pan", lambda: ink_at(run.screen(bob), 420, 450), seconds=10)

    # The laser: Ada holds it down and moves across the middle; Bob sees its trail in her colour.
    xdo(ada, 'key', 'k')
    path = line((300, 700), (800, 700), n=40)
    drag(ada, path, release=False)
    glow = tuple(round(0.45 * c + 0.55 * 255) for c in hex_rgb(ADA))  # her colour's glow over the white wall
    seen = run.screen(bob, 'bob-laser')
    # Bob follows her view: the trail is where she draws it.
    trail = path[len(path) // 2:]
    hits = sum(1 for x, y in trail if color_at(seen, x, y, glow, radius=6, tolerance=45)
               or color_at(seen, x, y, hex_rgb(ADA), radius=6, tolerance=45))
    if hits < len(trail) // 3:
        run.fail(f"Ada's laser trail is not on Bob's screen ({hits} of {len(trail)} points)")
    xdo(ada, 'mouseup', 1)
    # Gone within a second and a half, and nothing of it is on the wall.
    def faded():
        shot = run.screen(bob)
        return not any(color_at(shot, x, y, glow, radius=6, tolerance=45) for x, y in trail)
    run.wait_for('the laser trail fading on Bob\'s screen', faded, seconds=3)
    shot = run.screen(bob)
    if any(ink_at(shot, x, y) for x, y in trail):
        run.fail('the laser left ink on the wall')
    # Bob moves his own view (100 down): he breaks away, and Ada's next pan leaves his alone.
    xdo(bob, 'key', 'h')
    drag(bob, line((600, 500), (600, 600)))
    run.wait_for("Bob's own pan", lambda: ink_at(run.screen(bob), 420, 550))
    xdo(ada, 'key', 'h')
    drag(ada, line((600, 600), (600, 300)))
    run.wait_for("Ada's pan up", lambda: ink_at(run.screen(ada), 420, 150))
    time.sleep(0.5)  # what Bob would have followed by now; nothing is to arrive
    if not ink_at(run.screen(bob), 420, 550):
        run.fail("Bob's view moved with Ada's after he moved away from her presentation")

    print('ok: presenting moves the other view and it follows live until he moves his own; the laser '
          "reaches the other screen and fades, leaving nothing")


main()
run.passed = True
