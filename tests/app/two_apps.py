#!/usr/bin/env python3
"""Two real `scrawl` processes and a real `scrawl-server`, end to end, as people use them.

Each app runs on an Xvfb display of its own (started here), joins the same wall from the command
line (`scrawl scrawl://127.0.0.1:PORT/WALL`), and is driven with xdotool: Ada draws a line, picks
it up with the select tool and drags it (Bob sees it move while her button is still down, and
land where she lets go), draws a box and recolours it (undo and redo the recolour), pastes a
picture through the X clipboard (xclip), and pastes two bad ones (not a picture; a
decompression bomb) that are refused with errors that name why. Cat joins late and sees all of
it; Ada's undos take the picture, the colour and the box away on both screens. Screens are read
back with ImageMagick's `import` after each step. Every wait is a bounded poll for what should
appear.

With --cluster the same happens on a cluster, as `scripts/run cluster` starts one: a redis-server
with durable settings, three scrawl-servers with --redis, and HAProxy with the shipped
deploy/haproxy.cfg in front; the apps join through HAProxy's one address, which spreads them over
the servers (least connections: Ada, Bob and Cat each on a server of their own), and the picture
goes up and comes down over HTTP through it, to whichever server it picks.

Usage: two_apps.py PATH/TO/scrawl PATH/TO/scrawl-server [--cluster]
"""
import os
import re
import socket
import struct
import zlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

APP, SERVER = sys.argv[1], sys.argv[2]
CLUSTER = '--cluster' in sys.argv[3:]
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    start(['Xvfb', '-displayfd', str(w), '-screen', '0', f'{SCREEN[0]}x{SCREEN[1]}x24', '-nolisten', 'tcp', '-noreset'],
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
    display = ':' + number.decode().strip()
    # Connections taken before an app is pointed at it (a clean-clone CI run once saw an app
    # fail to connect to a display Xvfb had just named). -noreset above: without it Xvfb resets
    # itself when its last client leaves (this check's xdotool), and an app that connects during
    # the reset is refused ("could not connect to display"), which two CI runs saw.
    deadline = time.monotonic() + 10
    while subprocess.run(['xdotool', 'getmouselocation'], env={**os.environ, 'DISPLAY': display},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        if time.monotonic() > deadline:
            fail(f'Xvfb {display} does not accept connections')
        time.sleep(0.1)
    return display


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


def color_at(shot, x, y, rgb, radius=4, tolerance=40):
    """A pixel within `radius` of (x, y) within `tolerance` of the colour `rgb` on each channel?"""
    w, h, data = shot
    for yy in range(y - radius, y + radius + 1):
        for xx in range(x - radius, x + radius + 1):
            i = 3 * (yy * w + xx)
            if all(abs(data[i + c] - rgb[c]) <= tolerance for c in range(3)):
                return True
    return False


def png(path, width, height, rgb, rows=None):
    """A PNG of one colour; `rows` < height writes only that many rows of pixel data (a header
    that promises more than the file holds, as a decompression bomb's does)."""
    raw = b''.join(b'\0' + bytes(rgb) * width for _ in range(height if rows is None else rows))
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


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


RED = (0xe0, 0x3e, 0x3e)   # the palette's second colour (app/appsettings.cpp)
BLUE = (30, 144, 255)      # the pasted picture
apps = {}


# People's colours (the app gives each a random one otherwise).
COLOURS = {'ada': '#1c7ed6', 'bob': '#2f9e44', 'cat': '#7048e8'}


def join(name, link, wait=True):
    """Starts `name`'s app on a display of its own, joined to `link`; returns the display."""
    display = xvfb()
    home = os.path.join(work, name)
    env = {**os.environ, 'DISPLAY': display, 'XDG_CONFIG_HOME': home + '/config',
           'XDG_DATA_HOME': home + '/data', 'XDG_CACHE_HOME': home + '/cache',
           'XDG_RUNTIME_DIR': home, 'QT_QUICK_CONTROLS_STYLE': 'Fusion',
           'QT_LOGGING_RULES': 'scrawl.app.client.info=true'}
    env.pop('QT_QPA_PLATFORM', None)
    os.makedirs(home, mode=0o700)
    # A name and a colour, as a person gives them once on the start screen (the app asks for a
    # name before it joins): Ada is blue, which the pointer check below looks for.
    os.makedirs(home + '/config/Scrawl', mode=0o700)
    with open(home + '/config/Scrawl/Scrawl.conf', 'w') as f:
        f.write(f'[profiles]\ndefault\\person\\name={name.capitalize()}\n'
                f'default\\person\\color={COLOURS.get(name, "#7048e8")}\n')
    apps[name] = start([APP, link], env=env, stdout=open(os.path.join(work, name + '.log'), 'w'),
                       stderr=subprocess.STDOUT)
    if wait:
        place_window(name, display)
    return display


def place_window(name, display):
    """Waits for the window to be in the wall (its title names it) and moves it to the top left."""
    app = apps[name]
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


def clipboard(display, mime, path, text=None):
    """Puts a file's bytes (or `text`) on the display's clipboard as `mime`, owned by an xclip
    that stays until someone else takes the clipboard (or the test ends)."""
    args = ['xclip', '-quiet', '-selection', 'clipboard', '-t', mime]
    env = {**os.environ, 'DISPLAY': display}
    owner = start(args + (['-i', path] if path else []), env=env, stdin=subprocess.PIPE if text else None,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if text:
        owner.stdin.write(text.encode())
        owner.stdin.close()
    # Owned once xclip answers for it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        targets = subprocess.run(['xclip', '-o', '-selection', 'clipboard', '-t', 'TARGETS'], env=env,
                                 capture_output=True, text=True).stdout
        if mime in targets:
            return
        time.sleep(0.05)
    fail(f'xclip did not take the clipboard with {mime}')


def start_server(name, *extra):
    """A scrawl-server on a free port with a data folder of its own; returns its port."""
    data = os.path.join(work, name)
    os.mkdir(data)
    log = open(os.path.join(work, name + '.log'), 'w+')
    start([SERVER, '--host', '127.0.0.1', '--port', '0', '--data', data, *extra], stdout=log,
          stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log.seek(0)
        m = re.search(r'serving on port (\d+)', log.read())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    fail(f'{name} did not say its port')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def answers(port, request, reply):
    """Whether what `port` answers to `request` holds `reply` in its first line."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
            s.sendall(request)
            return reply in s.recv(64).split(b'\r\n')[0]
    except OSError:
        return False


def start_cluster():
    """Redis (durable), three scrawl-servers with --redis and HAProxy (deploy/haproxy.cfg);
    returns HAProxy's port."""
    redis_dir = os.path.join(work, 'redis')
    os.mkdir(redis_dir)
    redis_port = free_port()
    start(['redis-server', '--bind', '127.0.0.1', '--port', str(redis_port), '--dir', redis_dir,
           '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction',
           '--logfile', os.path.join(work, 'redis.log')])
    deadline = time.monotonic() + 20
    while not answers(redis_port, b'PING\r\n', b'+PONG'):
        if time.monotonic() > deadline:
            fail('redis-server did not answer')
        time.sleep(0.05)
    url = f'redis://127.0.0.1:{redis_port}/0'
    servers = [start_server(f'server-{i}', '--redis', url) for i in (1, 2, 3)]
    proxy_port = free_port()
    env = {**os.environ, 'SCRAWL_BIND': f'127.0.0.1:{proxy_port}',
           **{f'SCRAWL_SERVER_{i}': f'127.0.0.1:{p}' for i, p in enumerate(servers, 1)}}
    log = open(os.path.join(work, 'haproxy.log'), 'w')
    start(['haproxy', '-db', '-f', os.path.join(SOURCE, 'deploy', 'haproxy.cfg')], env=env, stdout=log,
          stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not answers(proxy_port, b'GET /health HTTP/1.0\r\n\r\n', b' 200 '):
        if time.monotonic() > deadline:
            fail('HAProxy did not pass a health check through')
        time.sleep(0.05)
    return proxy_port


def main():
    port = start_cluster() if CLUSTER else start_server('server')

    link = f'scrawl://127.0.0.1:{port}/{WALL}'
    ada, bob = join('ada', link, wait=False), join('bob', link, wait=False)
    for name, display in (('ada', ada), ('bob', bob)):
        place_window(name, display)

    # Both in: Ada's pointer, moved over her wall, shows on Bob's screen with her name tag (in
    # her colour, blue).
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

    # A box, recoloured red with the select tool (palette key 2); the recolour undone and redone.
    xdo(ada, 'key', 'r')
    drag(ada, line((700, 250), (860, 400), 20))
    wait_until('the box on Bob\'s screen', lambda s: ink_at(s, 700, 325) and ink_at(s, 860, 325), bob)
    screen(bob, 'bob-box')
    xdo(ada, 'key', 'v')
    xdo(ada, 'mousemove', 860, 325)
    xdo(ada, 'click', 1)
    xdo(ada, 'key', '2')
    wait_until('the box turned red on Bob\'s screen', lambda s: color_at(s, 860, 325, RED), bob)
    xdo(ada, 'key', 'ctrl+z')
    wait_until('the recolour undone on Bob\'s screen',
               lambda s: ink_at(s, 860, 325) and not color_at(s, 860, 325, RED), bob)
    xdo(ada, 'key', 'ctrl+shift+z')
    wait_until('the recolour redone on Bob\'s screen', lambda s: color_at(s, 860, 325, RED), bob)

    # A picture on Ada's clipboard, pasted where her pointer is: Bob sees it there.
    picture = os.path.join(work, 'sky.png')
    png(picture, 160, 120, BLUE)
    clipboard(ada, 'image/png', picture)
    xdo(ada, 'mousemove', 450, 680)
    xdo(ada, 'key', 'ctrl+v')
    wait_until('the pasted picture on Bob\'s screen', lambda s: color_at(s, 450, 680, BLUE, 2, 12), bob)
    screen(bob, 'bob-picture')

    # Two bad pictures, copied as files: one is not a picture at all, the other says it is
    # 20,000 x 20,000 pixels. Each is refused on Ada's side with the reason, and nothing
    # reaches Bob.
    fake = os.path.join(work, 'notes.png')
    with open(fake, 'w') as f:
        f.write('not a picture\n')
    bomb = os.path.join(work, 'bomb.png')
    png(bomb, 20000, 20000, (0, 0, 0), rows=4)
    for path, reason in ((fake, 'it is not an image Scrawl can place'),
                         (bomb, 'it is 20000 × 20000 pixels; the limit max_image_pixels')):
        clipboard(ada, 'text/uri-list', None, f'file://{path}\r\n')
        xdo(ada, 'mousemove', 700, 680)
        xdo(ada, 'key', 'ctrl+v')
        name = os.path.basename(path)
        expected = f'notice: {name} was not placed: {reason}'
        deadline = time.monotonic() + 15
        while expected not in open(os.path.join(work, 'ada.log'), encoding='utf-8').read():
            if time.monotonic() > deadline:
                fail(f'Ada was not told why {name} was not placed ("{expected}" not in ada.log)')
            time.sleep(0.1)
    if ink_at(screen(bob), 700, 680, 20) or color_at(screen(bob), 700, 680, (0, 0, 0), 20, 60):
        fail('a refused picture showed on Bob\'s screen')

    # Cat joins late: the snapshot brings the moved line, the red box and the picture.
    cat = join('cat', link)
    wait_until('the wall on Cat\'s screen, as Bob sees it',
               lambda s: ink_at(s, 300, 470) and not ink_at(s, 300, 320) and color_at(s, 860, 325, RED)
               and color_at(s, 450, 680, BLUE, 2, 12), cat, 30)
    screen(cat, 'cat-joined')

    # Ada undoes the picture, the colour and the box: gone for Bob and Cat alike.
    xdo(ada, 'key', 'ctrl+z')
    for who, display in (('Bob', bob), ('Cat', cat)):
        wait_until(f'the picture undone on {who}\'s screen', lambda s: not color_at(s, 450, 680, BLUE, 2, 12), display)
    xdo(ada, 'key', 'ctrl+z')
    for who, display in (('Bob', bob), ('Cat', cat)):
        wait_until(f'the colour undone on {who}\'s screen',
                   lambda s: ink_at(s, 860, 325) and not color_at(s, 860, 325, RED), display)
    xdo(ada, 'key', 'ctrl+z')
    for who, display in (('Bob', bob), ('Cat', cat)):
        wait_until(f'the box undone on {who}\'s screen',
                   lambda s: not ink_at(s, 860, 325) and ink_at(s, 300, 470), display)
    print('PASS: line drawn and dragged live, box drawn, recoloured, undone and redone, a picture '
          'pasted, two bad ones refused with their reasons, a late joiner sees it all, undo, '
          'all seen on the other apps' + (', through HAProxy on a cluster of three servers' if CLUSTER else ''))


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
