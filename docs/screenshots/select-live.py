# Screenshots of a selection dragged and turned, seen live on another screen (issue 16 §2).
# Two `scrawl` processes on Xvfb :91 / :92 joined to a headless scrawl-server on 127.0.0.1:7796
# from the command line (`scrawl scrawl://127.0.0.1:7796/plan`), driven with xdotool (drive.py).
# Run from the repository root after a build: python3 docs/screenshots/select-live.py
import os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from drive import click, key, move, shot, stroke, line, wave, xdo

out = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix='scrawl-shots-')
procs = []

def start(args, **kw):
    procs.append(subprocess.Popen(args, **kw))

def person(name, colour, display):
    home = os.path.join(work, name)
    os.makedirs(home + '/config/Scrawl', mode=0o700)
    with open(home + '/config/Scrawl/Scrawl.conf', 'w') as f:
        f.write(f'[profiles]\ndefault\\person\\name={name}\ndefault\\person\\color={colour}\n'
                '[window]\ngeometry=@Rect(0 0 1600 1000)\n')
    env = {**os.environ, 'DISPLAY': display, 'XDG_CONFIG_HOME': home + '/config',
           'XDG_DATA_HOME': home + '/data', 'XDG_CACHE_HOME': home + '/cache', 'XDG_RUNTIME_DIR': home,
           'QT_QUICK_CONTROLS_STYLE': 'Fusion'}
    env.pop('QT_QPA_PLATFORM', None)
    start(['build/bin/scrawl', 'scrawl://127.0.0.1:7796/plan'], env=env, stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL)

try:
    for d in (':91', ':92'):
        start(['Xvfb', d, '-screen', '0', '1600x1000x24', '-nolisten', 'tcp'], stderr=subprocess.DEVNULL)
    os.makedirs(work + '/server')
    start(['build/bin/scrawl-server', '--host', '127.0.0.1', '--port', '7796', '--data', work + '/server'],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    A, B = ':91', ':92'
    person('Ada', '#1e88e5', A)
    person('Grace', '#e4572e', B)
    time.sleep(4)
    for d in (A, B):
        win = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', 'plan'],
                             env={**os.environ, 'DISPLAY': d}, capture_output=True, text=True).stdout.split()
        xdo(d, 'windowmove', win[0], 0, 0)
        xdo(d, 'windowsize', win[0], 1600, 1000)
    time.sleep(1)

    # Keys go to the canvas once it has been clicked: the pan tool's click changes nothing.
    for d in (A, B):
        click(d, 282, 13)
        click(d, 1000, 800)
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
    import math
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
finally:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
