# Screenshots of a selection dragged and turned, seen live on another screen (issue 16 §2).
# Two `scrawl` processes on Xvfb :91 / :92 joined to a headless scrawl-server on 127.0.0.1:7796
# from the command line (`scrawl scrawl://127.0.0.1:7796/plan`), driven with xdotool (drive.py).
# Run from the repository root after a build: python3 docs/screenshots/select-live.py
import math, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from drive import TwoApps, key, shot, stroke, line, wave, xdo

out = os.path.dirname(os.path.abspath(__file__))

with TwoApps('plan', 7796) as (A, B):
    # Ada: a box, an arrow, an ellipse; Grace: a red wave of ink under them.
    key(A, 'r'); stroke(A, line((260, 260), (460, 360), 12))
    key(A, 'a'); stroke(A, line((470, 310), (600, 310), 8))
    key(A, 'o'); stroke(A, line((610, 250), (830, 370), 12))
    key(B, '2'); stroke(B, wave(260, 520, 560, 40, 2))
    key(A, 'p'); stroke(A, line((280, 430), (820, 430), 30))
    time.sleep(1)

    # Ada picks the ellipse and the arrow with a box and drags them down, holding the button.
    key(A, 'v')
    stroke(A, line((465, 235), (850, 390), 10))
    time.sleep(0.5)
    stroke(A, line((720, 250), (760, 620), 25), hold=True)
    time.sleep(1.0)
    shot(B, os.path.join(out, 'select-seen-by-other.png'))
    shot(A, os.path.join(out, 'select-move.png'))
    xdo(A, 'mouseup', 1)
    time.sleep(1)

    # Ada turns them with the handle above the selection (about 35 degrees), holding the button:
    # Grace sees them turn as well.
    centre, handle = (689, 680), (689, 592)
    radius = centre[1] - handle[1]
    arc = [(centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a))
           for a in [-math.pi / 2 + math.radians(35) * i / 20 for i in range(21)]]
    stroke(A, arc, hold=True)
    time.sleep(1.0)
    shot(A, os.path.join(out, 'select-rotate.png'))
    shot(B, os.path.join(out, 'select-rotate-seen-by-other.png'))
    xdo(A, 'mouseup', 1)
    time.sleep(0.5)
    print('shots in', out)
