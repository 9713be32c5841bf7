# Drives two Scrawl windows on two Xvfb displays with xdotool, for screenshots.
import math, os, subprocess, time

def env(d):
    return {**os.environ, 'DISPLAY': d}

def xdo(d, *args):
    subprocess.run(['xdotool', *map(str, args)], env=env(d), check=True)

def move(d, x, y):
    xdo(d, 'mousemove', int(x), int(y))

def click(d, x, y, button=1):
    move(d, x, y); time.sleep(0.05); xdo(d, 'click', button); time.sleep(0.15)

def stroke(d, pts, hold=False, dt=0.012):
    move(d, *pts[0]); time.sleep(0.03)
    xdo(d, 'mousedown', 1)
    for p in pts[1:]:
        move(d, *p); time.sleep(dt)
    if not hold:
        xdo(d, 'mouseup', 1)
    time.sleep(0.1)

def typ(d, text, delay=25):
    xdo(d, 'type', '--delay', delay, text)

def key(d, *keys):
    xdo(d, 'key', *keys)
    time.sleep(0.1)

def shot(d, path, w=1600, h=1000):
    subprocess.run(['import', '-display', d, '-window', 'root', '-crop', f'{w}x{h}+0+0', '+repage', path], check=True)

def line(a, b, n=None):
    n = n or max(2, int(math.dist(a, b) / 6))
    return [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(n + 1)]

def poly(*pts):
    out = []
    for a, b in zip(pts, pts[1:]):
        out += line(a, b)[(1 if out else 0):]
    return out

def circle(cx, cy, r, start=0, sweep=2 * math.pi, n=None, wobble=0.0):
    n = n or max(12, int(abs(sweep) * r / 6))
    return [(cx + (r + wobble * math.sin(7 * i / n * sweep)) * math.cos(start + sweep * i / n),
             cy + (r + wobble * math.sin(7 * i / n * sweep)) * math.sin(start + sweep * i / n)) for i in range(n + 1)]

def wave(x0, y0, length, amp, periods, n=None):
    n = n or int(length / 5)
    return [(x0 + length * i / n, y0 + amp * math.sin(periods * 2 * math.pi * i / n)) for i in range(n + 1)]


class TwoApps:
    """Ada and Grace: two `scrawl` processes on Xvfb :91 and :92, joined from the command line to
    the wall WALL of a headless scrawl-server on 127.0.0.1:PORT, windows 1600 x 1000 at the top
    left, the canvas clicked so that keys reach it. Use as `with TwoApps(wall, port) as (A, B):`.
    Run from the repository root after a build."""

    def __init__(self, wall, port):
        import tempfile
        self.wall, self.port = wall, port
        self.work = tempfile.mkdtemp(prefix='scrawl-shots-')
        self.procs = []

    def start(self, args, **kw):
        self.procs.append(subprocess.Popen(args, **kw))

    def person(self, name, colour, display):
        home = os.path.join(self.work, name)
        os.makedirs(home + '/config/Scrawl', mode=0o700)
        with open(home + '/config/Scrawl/Scrawl.conf', 'w') as f:
            f.write(f'[profiles]\ndefault\\person\\name={name}\ndefault\\person\\color={colour}\n'
                    '[wall]\ntool=3\n[window]\ngeometry=@Rect(0 0 1600 1000)\n')
        e = {**env(display), 'XDG_CONFIG_HOME': home + '/config', 'XDG_DATA_HOME': home + '/data',
             'XDG_CACHE_HOME': home + '/cache', 'XDG_RUNTIME_DIR': home, 'QT_QUICK_CONTROLS_STYLE': 'Fusion'}
        e.pop('QT_QPA_PLATFORM', None)
        self.start(['build/bin/scrawl', f'scrawl://127.0.0.1:{self.port}/{self.wall}'], env=e,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        for d in (':91', ':92'):
            self.start(['Xvfb', d, '-screen', '0', '1600x1000x24', '-nolisten', 'tcp'], stderr=subprocess.DEVNULL)
        os.makedirs(self.work + '/server')
        self.start(['build/bin/scrawl-server', '--host', '127.0.0.1', '--port', str(self.port),
                    '--data', self.work + '/server'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        A, B = ':91', ':92'
        self.person('Ada', '#1e88e5', A)
        self.person('Grace', '#e4572e', B)
        time.sleep(4)
        for d in (A, B):
            win = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', self.wall], env=env(d),
                                 capture_output=True, text=True).stdout.split()
            xdo(d, 'windowmove', win[0], 0, 0)
            xdo(d, 'windowsize', win[0], 1600, 1000)
        time.sleep(1)
        # Keys go to the canvas once it has been clicked: the pan tool (seeded above as the last
        # tool used) changes nothing with a click.
        for d in (A, B):
            click(d, 1000, 800)
        return A, B

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        return False
