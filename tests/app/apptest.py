"""What the scripts that drive real `scrawl` processes share (invite_links.py, follow_laser.py):
a work folder kept when a check fails, processes ended at exit, a private Xvfb display and home
for each person, bounded polls, a scrawl-server on a free port, and screens read back with
ImageMagick's `import`."""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


class Run:
    def __init__(self, name, screen=(1600, 1000)):
        self.work = tempfile.mkdtemp(prefix=f'scrawl-{name}-')
        self.screen_size = screen
        self.procs = []
        self.passed = False
        atexit.register(self._end)

    def _end(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.passed and os.environ.get('KEEP_WORK') is None:
            shutil.rmtree(self.work, ignore_errors=True)

    def fail(self, message):
        print(f'FAIL: {message} (screens and logs in {self.work})', file=sys.stderr)
        sys.exit(1)

    def start(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def path(self, name):
        return os.path.join(self.work, name)

    def wait_for(self, what, check, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        self.fail(f'{what}: not seen within {seconds} s')

    def xvfb(self):
        """An Xvfb on a free display number; returns ':N'."""
        r, w = os.pipe()
        self.start(['Xvfb', '-displayfd', str(w), '-screen', '0', f'{self.screen_size[0]}x{self.screen_size[1]}x24',
                    '-nolisten', 'tcp', '-noreset'], pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            self.fail('Xvfb did not start')
        return ':' + number.decode().strip()

    def person(self, name, color='#7048e8'):
        """A display, a home and a runtime directory of `name`'s own, with a name and a colour
        given (as on the start screen); returns (env, log path)."""
        display = self.xvfb()
        home = self.path(name)
        os.makedirs(home + '/config/Scrawl', mode=0o700)
        os.chmod(home, 0o700)  # a runtime directory must be the person's alone, or Qt falls back to a shared one
        with open(home + '/config/Scrawl/Scrawl.conf', 'w') as f:
            f.write(f'[profiles]\ndefault\\person\\name={name.capitalize()}\ndefault\\person\\color={color}\n')
        env = {**os.environ, 'DISPLAY': display, 'HOME': home, 'XDG_CONFIG_HOME': home + '/config', 'XDG_DATA_HOME': home + '/data',
               'XDG_CACHE_HOME': home + '/cache', 'XDG_RUNTIME_DIR': home, 'QT_QUICK_CONTROLS_STYLE': 'Fusion',
               'QT_LOGGING_RULES': 'scrawl.app.client.info=true'}
        env.pop('QT_QPA_PLATFORM', None)
        return env, self.path(name + '.log')

    def app(self, binary, name, *args, wall=None, color='#7048e8', logging='', config=''):
        """`name`'s app (a display and home of their own, see person) started with `args`: waits
        until it has joined `wall` (when given) and its window is up, then moves that to the corner
        and gives it the keyboard. `logging`: more QT_LOGGING_RULES; `config`: more Scrawl.conf.
        Returns (env, log path)."""
        env, log = self.person(name, color)
        env['QT_LOGGING_RULES'] += logging
        if config:
            with open(os.path.join(env['XDG_CONFIG_HOME'], 'Scrawl', 'Scrawl.conf'), 'a') as f:
                f.write(config)
        p = self.start([binary, *args], env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
        if wall:
            self.wait_for(f"{name}'s app joining", lambda: f'joined "{wall}"' in read(log) or p.poll() is not None)
        window = ''

        def found():
            nonlocal window
            window = window_named(env, wall or 'Scrawl')
            return window or p.poll() is not None
        self.wait_for(f"{name}'s window", found)
        if p.poll() is not None:
            self.fail(f"{name}'s app exited with {p.returncode}")
        xdo(env, 'windowmove', window, 0, 0)
        xdo(env, 'windowfocus', window)  # no window manager: the keys go where the focus is
        return env, log

    def server(self, binary, *extra):
        """A scrawl-server on a free port with a data folder of its own; returns (port, log path)."""
        data = self.path('server')
        os.mkdir(data)
        log = self.path('server.log')
        self.start([binary, '--host', '127.0.0.1', '--port', '0', '--data', data, *extra], stdout=open(log, 'w'),
                   stderr=subprocess.STDOUT)
        self.wait_for('the server saying its port', lambda: re.search(r'serving on port (\d+)', read(log)))
        return int(re.search(r'serving on port (\d+)', read(log)).group(1)), log

    def screen(self, env, name=None):
        """The display's pixels: (width, height, bytes RGB); kept as NAME.png when named."""
        ppm = subprocess.run(['import', '-display', env['DISPLAY'], '-window', 'root', '-depth', '8', 'ppm:-'],
                             check=True, capture_output=True).stdout
        if name:
            subprocess.run(['convert', 'ppm:-', self.path(name + '.png')], input=ppm, check=False)
        m = re.match(rb'P6\s+(\d+)\s+(\d+)\s+(\d+)\s', ppm)
        return int(m.group(1)), int(m.group(2)), ppm[m.end():]


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def xdo(env, *args):
    subprocess.run(['xdotool', *map(str, args)], env=env, check=True, stdout=subprocess.DEVNULL)


def drag(env, points, release=True):
    """A press at the first point, moves through the others at a hand's pace, and a release."""
    xdo(env, 'mousemove', *points[0])
    xdo(env, 'mousedown', 1)
    for p in points[1:]:
        xdo(env, 'mousemove', *p)
        time.sleep(0.012)  # the app sees a move at a time
    if release:
        xdo(env, 'mouseup', 1)


def line(a, b, n=24):
    """n + 1 points from a to b, on whole pixels."""
    return [(round(a[0] + (b[0] - a[0]) * i / n), round(a[1] + (b[1] - a[1]) * i / n)) for i in range(n + 1)]


def window_named(env, title):
    found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title], env=env,
                           capture_output=True, text=True)
    return found.stdout.split()[0] if found.stdout.split() else ''


def color_at(shot, x, y, rgb, radius=4, tolerance=40):
    """A pixel within `radius` of (x, y) within `tolerance` of the colour `rgb` on each channel?"""
    w, h, data = shot
    for yy in range(max(0, y - radius), min(h, y + radius + 1)):
        for xx in range(max(0, x - radius), min(w, x + radius + 1)):
            i = 3 * (yy * w + xx)
            if all(abs(data[i + c] - rgb[c]) <= tolerance for c in range(3)):
                return True
    return False


def hex_rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
