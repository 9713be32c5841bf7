# Issue 17's design shots: the wall at 1600 px and at 900 px, and Invite at both.
# Run from the repository root after a build: python3 docs/screenshots/design.py [prefix]
import subprocess, sys, time
sys.path.insert(0, 'docs/screenshots')
from drive import TwoApps, click, stroke, circle, wave, poly, key, typ, shot, xdo, env

prefix = sys.argv[1] if len(sys.argv) > 1 else 'docs/screenshots/design'
with TwoApps('design', 7798) as (A, B):
    key(A, 'p')
    stroke(A, circle(700, 450, 120, wobble=6))
    stroke(A, wave(420, 700, 600, 40, 2))
    key(B, 'p')
    stroke(B, poly((950, 300), (1150, 300), (1150, 480), (950, 480), (950, 300)))
    time.sleep(1)
    shot(A, f'{prefix}-wall-1600.png')
    win = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', 'design'], env=env(B),
                         capture_output=True, text=True).stdout.split()
    xdo(B, 'windowsize', win[0], 900, 700)
    time.sleep(1.5)
    shot(B, f'{prefix}-wall-900.png', 900, 700)
    key(B, 'ctrl+i')
    time.sleep(1)
    shot(B, f'{prefix}-invite-900.png', 900, 700)
    key(B, 'Escape')
    key(A, 'ctrl+i')
    time.sleep(1)
    shot(A, f'{prefix}-invite-1600.png')
    key(A, 'Escape')
