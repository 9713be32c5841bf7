#!/usr/bin/env python3
"""Two real `scrawl` processes and a real `scrawl-server`, end to end, as people use them.

Each app runs on an Xvfb display of its own (started here), joins the same wall from the command
line (`scrawl scrawl://127.0.0.1:PORT/WALL`), and is driven with xdotool: Ada draws a line, picks
it up with the select tool and drags it (Bob sees it move while her button is still down, and
land where she lets go), draws a box, and undoes it. Bob's screen is read back with ImageMagick's
`import` after each step. Every wait is a bounded poll for what should appear.

Usage: two_apps.py PATH/TO/scrawl PATH/TO/scrawl-server
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

APP, SERVER = sys.argv[1], sys.argv[2]
WALL = 'two-apps'
SCREEN = (1400, 900)
work = tempfile.mkdtemp(prefix='scrawl-two-apps-')
procs = []


def fail(message):
    print(f'FAIL: {message} (screens and logs in {work})', file=sys.stderr)
    sys.exit(1)


def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p


def xvfb():
    """An Xvfb on a free display number; returns ':N'."""
    r, w = os.pipe()
    start(['Xvfb', '-displayfd', str(w), '-screen', '0', f'{SCREEN[0]}x{SCREEN[1]}x24', '-nolisten', 'tcp'],
          pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    number = b''
    deadline = time.monotonic() + 20
    while not number.endswith(b'\n') and time.monotonic() < deadline:
        chunk = os.read(r, 16)
        if not chunk:
            break
        number += chunk
    os.close(r)
    if not number.strip():
        fail('Xvfb did not start')
    return ':' + number.decode().strip()


def xdo(display, *args):
    subprocess.run(['xdotool', *map(str, args)], env={**os.environ, 'DISPLAY': display}, check=True,
                   stdout=subprocess.DEVNULL)


def screen(display, name=None):
    """The display's pixels: (width, height, bytes RGB)."""
    ppm = subprocess.run(['import', '-display', display, '-window', 'root', '-depth', '8', 'ppm:-'], check=True,
                         capture_output=True).stdout
    if name:
        with open(os.path.join(work, name + '.ppm'), 'wb') as f:
            f.write(ppm)
    # P6\n<w> <h>\n<max>\n<rgb...>
    m = re.match(rb'P6\s+(\d+)\s+(\d+)\s+(\d+)\s', ppm)
    w, h = int(m.group(1)), int(m.group(2))
    if int(m.group(3)) != 255:
        fail('import wrote more than 8 bits a channel')
    return w, h, ppm[m.end():]


def ink_at(shot, x, y, radius=4):
    """A dark pixel (ink) within `radius` of (x, y)?"""
    w, h, rgb = shot
    for yy in range(y - radius, y + radius + 1):
        for xx in range(x - radius, x + radius + 1):
            i = 3 * (yy * w + xx)
            if rgb[i] + rgb[i + 1] + rgb[i + 2] < 240:
                return True
    return False


def wait_until(what, check, display, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check(screen(display)):
            return
        time.sleep(0.1)
    screen(display, 'failed-' + re.sub(r'\W+', '-', what))
    fail(f'{what}: not seen within {seconds} s')


def drag(display, points, release=True):
    xdo(display, 'mousemove', *points[0])
    xdo(display, 'mousedown', 1)
    for p in points[1:]:
        xdo(display, 'mousemove', *p)
        time.sleep(0.012)  # a pen's pace: the app sees a move at a time
    if release:
        xdo(display, 'mouseup', 1)


def line(a, b, n=30):
    return [(round(a[0] + (b[0] - a[0]) * i / n), round(a[1] + (b[1] - a[1]) * i / n)) for i in range(n + 1)]


def main():
    data = os.path.join(work, 'server')
    os.mkdir(data)
    log = open(os.path.join(work, 'server.log'), 'w+')
    start([SERVER, '--host', '127.0.0.1', '--port', '0', '--data', data], stdout=log, stderr=subprocess.STDOUT)
    port = None
    deadline = time.monotonic() + 20
    while port is None and time.monotonic() < deadline:
        log.seek(0)
        m = re.search(r'serving on port (\d+)', log.read())
        if m:
            port = int(m.group(1))
        else:
            time.sleep(0.05)
    if port is None:
        fail('the server did not say its port')

    link = f'scrawl://127.0.0.1:{port}/{WALL}'
    people = {}
    for name in ('ada', 'bob'):
        display = xvfb()
        home = os.path.join(work, name)
        env = {**os.environ, 'DISPLAY': display, 'XDG_CONFIG_HOME': home + '/config',
               'XDG_DATA_HOME': home + '/data', 'XDG_CACHE_HOME': home + '/cache',
               'XDG_RUNTIME_DIR': home, 'QT_QUICK_CONTROLS_STYLE': 'Fusion'}
        env.pop('QT_QPA_PLATFORM', None)
        os.makedirs(home, mode=0o700)
        app = start([APP, link], env=env, stdout=open(os.path.join(work, name + '.log'), 'w'),
                    stderr=subprocess.STDOUT)
        people[name] = (display, app)
    for name, (display, app) in people.items():
        # The window, once it is in the wall (its title names it), at the top left.
        deadline = time.monotonic() + 30
        window = ''
        while not window and time.monotonic() < deadline:
            if app.poll() is not None:
                fail(f"{name}'s app exited with {app.returncode}")
            found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', WALL],
                                   env={**os.environ, 'DISPLAY': display}, capture_output=True, text=True)
            window = found.stdout.split()[0] if found.stdout.split() else ''
            if not window:
                time.sleep(0.1)
        if not window:
            fail(f"{name}'s window did not open on the wall")
        xdo(display, 'windowmove', window, 0, 0)
    ada, bob = people['ada'][0], people['bob'][0]

    # Both in: Ada's pointer, moved over her wall, shows on Bob's screen with her name tag (in
    # her colour, blue by default).
    def tag_near(shot, x, y):
        w, h, rgb = shot
        for yy in range(y, y + 30):
            for xx in range(x, x + 100):
                i = 3 * (yy * w + xx)
                if rgb[i + 2] > 180 and rgb[i] < 90:
                    return True
        return False
    deadline = time.monotonic() + 30
    while True:
        for x in (600, 610):
            xdo(ada, 'mousemove', x, 600)
            time.sleep(0.05)
        if tag_near(screen(bob), 600, 600):
            break
        if time.monotonic() > deadline:
            screen(bob, 'failed-cursor')
            fail("Ada's pointer never showed on Bob's screen: they are not both on the wall")

    # Ada draws a line; Bob's screen shows it where hers does (same window, same view).
    drag(ada, line((250, 320), (550, 320)))
    wait_until('the line on Ada\'s screen', lambda s: ink_at(s, 400, 320) and ink_at(s, 300, 320), ada, 5)
    wait_until('the line on Bob\'s screen', lambda s: ink_at(s, 400, 320) and ink_at(s, 300, 320), bob)
    screen(bob, 'bob-line')

    # Ada picks it up with the select tool and drags it down 150 px, still holding the button:
    # Bob sees it move before she lets go.
    xdo(ada, 'key', 'v')
    drag(ada, line((400, 320), (400, 470), 20), release=False)
    wait_until('the line moving on Bob\'s screen while Ada drags it',
               lambda s: ink_at(s, 400, 470) and not ink_at(s, 400, 320), bob)
    screen(bob, 'bob-drag-held')
    xdo(ada, 'mouseup', 1)
    wait_until('the line landed on Bob\'s screen', lambda s: ink_at(s, 300, 470) and not ink_at(s, 300, 320), bob)

    # A box; then Ada's undo takes it away for Bob too.
    xdo(ada, 'key', 'r')
    drag(ada, line((700, 250), (860, 400), 20))
    wait_until('the box on Bob\'s screen', lambda s: ink_at(s, 700, 325) and ink_at(s, 860, 325), bob)
    screen(bob, 'bob-box')
    xdo(ada, 'key', 'ctrl+z')
    wait_until('the box undone on Bob\'s screen', lambda s: not ink_at(s, 700, 325) and ink_at(s, 300, 470), bob)
    print('PASS: line drawn, dragged live, box drawn and undone, all seen on the other app')


try:
    main()
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if not os.environ.get('SCRAWL_KEEP_TEST_FILES') and sys.exc_info()[0] is None:
        shutil.rmtree(work, ignore_errors=True)
