# Issue 17's design shots, light and dark: the wall, Export, Invite, the shortcut sheet and the
# start screen at 1600 and 900 px wide, and the one-row toolbar at 800 px.
# Run from the repository root after a build: python3 docs/screenshots/design.py [prefix]
import subprocess, sys, time
sys.path.insert(0, 'docs/screenshots')
from drive import TwoApps, click, stroke, circle, wave, poly, key, typ, shot, xdo, env

prefix = sys.argv[1] if len(sys.argv) > 1 else 'docs/screenshots/design'


def resize(d, w, h, title='design'):
    win = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title], env=env(d),
                         capture_output=True, text=True).stdout.split()
    xdo(d, 'windowsize', win[0], w, h)
    time.sleep(1.5)


def dialogs(d, width, height, theme):
    """Export, Invite and the shortcut sheet over the wall, in the theme it is in now."""
    for keys, name in (('ctrl+e', 'export'), ('ctrl+i', 'invite'), ('question', 'shortcuts')):
        key(d, keys)
        time.sleep(1)
        shot(d, f'{prefix}-{name}{theme}-{width}.png', width, height)
        key(d, 'Escape')
        time.sleep(0.3)


with TwoApps('design', 7798) as (A, B):
    key(A, 'p')
    stroke(A, circle(620, 430, 120, wobble=6))
    stroke(A, wave(380, 700, 600, 40, 2))
    key(A, '2')
    stroke(A, poly((470, 250), (560, 330)))
    key(B, 'r')
    stroke(B, poly((900, 280), (1120, 460)))
    key(B, 'a')
    stroke(B, poly((880, 560), (1040, 480)))
    key(B, 'n')
    click(B, 1130, 560)
    typ(B, 'Ship on Friday?')
    key(B, 'Escape')
    key(A, 'p')
    key(A, '1')
    time.sleep(1.5)
    for width, height in ((1600, 1000), (900, 700)):
        if width != 1600:
            resize(A, width, height)
        for theme in ('', '-dark'):
            if theme:
                key(A, 'alt+shift+d')
                time.sleep(1.5)
            shot(A, f'{prefix}-wall{theme}-{width}.png', width, height)
            dialogs(A, width, height, theme)
        key(A, 'alt+shift+d')  # back to light
        time.sleep(1)
    resize(B, 800, 600)
    key(B, 'p')
    time.sleep(0.5)
    shot(B, f'{prefix}-wall-800.png', 800, 600)
    key(A, 'ctrl+w')
    time.sleep(1.5)
    shot(A, f'{prefix}-start-900.png', 900, 700)
    resize(A, 1600, 1000, 'Scrawl')
    shot(A, f'{prefix}-start-1600.png')
