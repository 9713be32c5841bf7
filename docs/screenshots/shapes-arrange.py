# Screenshots of shapes with fills, free text, and bring to front (issue 16 §2, §3), seen on the
# other screen. Two `scrawl` processes on Xvfb :91 / :92 joined to a headless scrawl-server on
# 127.0.0.1:7797 from the command line, driven with xdotool (drive.py).
# Run from the repository root after a build: python3 docs/screenshots/shapes-arrange.py
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from drive import TwoApps, click, key, shot, stroke, line, typ

out = os.path.dirname(os.path.abspath(__file__))

with TwoApps('roadmap', 7797) as (A, B):
    # Grace: a title in free text.
    key(B, 't'); click(B, 260, 150); typ(B, 'Q3 roadmap'); key(B, 'Escape')
    # Ada: a solid green box, then a blue ellipse with a light fill drawn over it (newest on top).
    key(A, 'r'); key(A, '5'); key(A, 'f'); key(A, 'f')
    stroke(A, line((260, 260), (520, 430), 12))
    key(A, 'o'); key(A, '6'); key(A, 'f'); key(A, 'f')
    stroke(A, line((420, 330), (700, 500), 12))
    # Grace: an orange diamond with a wash, an arrow from the title to it, and a line under it.
    key(B, 'd'); key(B, '3'); key(B, 'f')
    stroke(B, line((820, 250), (1020, 420), 12))
    key(B, 'a'); key(B, '1'); stroke(B, line((480, 175), (800, 300), 12))
    key(B, 't'); click(B, 840, 450); typ(B, 'ship it'); key(B, 'Escape')
    time.sleep(1.5)
    shot(B, os.path.join(out, 'shapes-text.png'))

    # Ada picks the green box (where the ellipse does not cover it) and brings it to the front.
    key(A, 'v'); click(A, 300, 290)
    key(A, 'ctrl+bracketright')
    time.sleep(1.5)
    shot(A, os.path.join(out, 'arrange-front.png'))
    shot(B, os.path.join(out, 'arrange-front-seen-by-other.png'))
    print('shots in', out)
