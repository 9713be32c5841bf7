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
