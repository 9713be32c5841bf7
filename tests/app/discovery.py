#!/usr/bin/env python3
"""Walls on this network (DNS-SD through Avahi) between real `scrawl` processes, with an
avahi-daemon the test starts itself.

The test runs in a network and mount namespace of its own (unshare; it needs root, else it is
skipped): a veth pair that carries multicast, a private system bus (dbus-daemon) and, once Bob's
app is up, an avahi-daemon on that bus and that link. Nothing of it reaches the machine's own
network or daemons.

Bob's app starts before there is any daemon: its start screen says walls on this network are
unavailable, and everything else works. The daemon starts: Bob's app notices. Ada's app hosts
"plan" (`scrawl --host plan`): it is announced, as avahi-browse sees (its wall, its host, wss://
and its port in the TXT records), and it appears on Bob's start screen; one click on its Join
button and Bob is on Ada's wall. Carol hosts "quiet" with announcing switched off: it is not
announced while Ada's still is. Every wait is a bounded poll.

Usage: discovery.py PATH/TO/scrawl [SCREENSHOT-DIR]
"""
import os
import subprocess
import sys
import time

if os.environ.get('SCRAWL_NETNS') != '1':
    if os.geteuid() != 0 or subprocess.run(['unshare', '--net', '--mount', 'true'], capture_output=True).returncode:
        print('SKIP: no network namespace of its own can be made here (unshare -n -m needs root and '
              'CAP_SYS_ADMIN): walls on this network are not tested')
        sys.exit(77)
    os.execvpe('unshare', ['unshare', '--net', '--mount', '--propagation', 'private', sys.executable,
                           os.path.abspath(__file__), *sys.argv[1:]], {**os.environ, 'SCRAWL_NETNS': '1'})

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apptest import Run, read, xdo  # noqa: E402

APP = sys.argv[1]
SHOTS = sys.argv[2] if len(sys.argv) > 2 else None
run = Run('discovery')
DNSSD_LOG = ';scrawl.app.dnssd.info=true'


def sh(*args):
    subprocess.run(args, check=True)


def network():
    """lo, and a veth pair with multicast on (mDNS needs a link that carries it), in this namespace;
    /run private to it (avahi-daemon keeps its pid file there)."""
    sh('mount', '-t', 'tmpfs', 'tmpfs', '/run')
    os.makedirs('/run/avahi-daemon')
    sh('ip', 'link', 'set', 'lo', 'up')
    sh('ip', 'link', 'add', 'scrawl0', 'type', 'veth', 'peer', 'name', 'scrawl1')
    for link in ('scrawl0', 'scrawl1'):
        sh('ip', 'link', 'set', link, 'multicast', 'on', 'up')
    sh('ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'scrawl0')


def system_bus():
    """A dbus-daemon of the test's own as the system bus: Avahi's daemon and its clients meet there."""
    socket = run.path('system-bus')
    conf = run.path('system-bus.conf')
    with open(conf, 'w') as f:
        f.write(f'''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_type="method_call"/><allow send_type="signal"/>
    <allow send_type="method_return"/><allow send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="signal"/>
    <allow receive_type="method_return"/><allow receive_type="error"/>
  </policy>
</busconfig>
''')
    run.start(['dbus-daemon', '--config-file', conf, '--nofork'], stdout=subprocess.DEVNULL,
              stderr=open(run.path('system-bus.log'), 'w'))
    run.wait_for('the system bus', lambda: os.path.exists(socket))
    os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = f'unix:path={socket}'


def avahi_daemon():
    conf = run.path('avahi-daemon.conf')
    with open(conf, 'w') as f:
        f.write('[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=scrawl0\nenable-dbus=yes\n'
                '[wide-area]\nenable-wide-area=no\n[publish]\npublish-hinfo=no\npublish-workstation=no\n')
    log = run.path('avahi-daemon.log')
    run.start(['avahi-daemon', '-f', conf, '--no-drop-root', '--no-chroot', '--no-rlimits'],
              stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    run.wait_for('avahi-daemon starting', lambda: 'Server startup complete' in read(log))


def browse():
    """What avahi-browse resolves of _scrawl._tcp now: {wall TXT: (name, address, port, txt)}."""
    out = subprocess.run(['avahi-browse', '-r', '-t', '-p', '_scrawl._tcp'], capture_output=True, text=True,
                         timeout=20).stdout
    found = {}
    for line in out.splitlines():
        f = line.split(';')
        if f[0] == '=' and len(f) >= 10:
            txt = dict(t.strip('"').split('=', 1) for t in f[9].split('" "') if '=' in t)
            found[txt.get('wall', '')] = (f[3], f[7], int(f[8]), txt)
    return found


def accent_buttons(shot):
    """Runs of rows with a band of the accent's blue (the Join button of a wall found nearby is
    filled with it; the colour swatches and a focus frame have some too): [(y0, y1, x0, x1)], top
    first."""
    w, h, data = shot
    rows = []
    for y in range(0, h, 2):
        xs = [x for x in range(0, w, 2)
              if data[3 * (y * w + x) + 2] > 200 and data[3 * (y * w + x) + 2] - data[3 * (y * w + x)] > 110]
        if len(xs) > 15:
            if rows and y - rows[-1][1] <= 4:
                r = rows[-1]
                rows[-1] = (r[0], y, min(r[2], xs[0]), max(r[3], xs[-1]))
            else:
                rows.append((y, y, xs[0], xs[-1]))
    return rows


def main():
    network()
    system_bus()

    # Bob before any daemon: the list says it is unavailable; the rest of the app works.
    bob, bob_log = run.app(APP, 'bob', logging=DNSSD_LOG)
    run.wait_for("Bob's app saying nearby walls are unavailable", lambda: 'nearby walls unavailable' in read(bob_log))
    time.sleep(0.3)  # the start screen's text settles: only for the picture
    run.screen(bob, 'bob-no-daemon')
    if SHOTS:
        subprocess.run(['convert', run.path('bob-no-daemon.png'), '-crop', '1360x860+0+0', '+repage',
                        os.path.join(SHOTS, 'nearby-unavailable.png')], check=True)
    print('ok: without an Avahi daemon the start screen says walls on this network are unavailable')

    avahi_daemon()
    run.wait_for("Bob's app finding the daemon", lambda: 'nearby walls available' in read(bob_log))
    before = accent_buttons(run.screen(bob))

    # Ada hosts "plan": announced, with its wall, host, TLS and port.
    ada, ada_log = run.app(APP, 'ada', '--host', 'plan', logging=DNSSD_LOG)
    run.wait_for("Ada's app announcing plan", lambda: 'announced wall plan' in read(ada_log))
    seen = {}

    def listed():
        nonlocal seen
        seen = browse()
        return 'plan' in seen
    run.wait_for('plan in avahi-browse', listed)
    name, address, port, txt = seen['plan']
    if txt.get('host') != 'Ada' or txt.get('tls') != '1' or txt.get('v') != '4' or not name.startswith('plan'):
        run.fail(f'plan is announced as {seen["plan"]}')
    print(f'ok: Ada\'s hosted wall is announced as "{name}" at {address}:{port} with {txt}')

    # Bob's start screen lists it; its Join button joins Ada's wall.
    run.wait_for('plan on Bob\'s start screen', lambda: 'found wall plan hosted by Ada' in read(bob_log))
    buttons = []

    def new_button():
        nonlocal buttons
        buttons = accent_buttons(run.screen(bob, 'bob-list'))
        return len(buttons) > len(before)
    run.wait_for("a Join button on Bob's list", new_button)
    run.screen(bob, 'bob-nearby')
    if SHOTS:
        subprocess.run(['convert', run.path('bob-nearby.png'), '-crop', '1360x860+0+0', '+repage',
                        os.path.join(SHOTS, 'nearby-walls.png')], check=True)
    y0, y1, x0, x1 = buttons[-1]  # the lowest: the list comes after the other groups
    xdo(bob, 'mousemove', (x0 + x1) // 2, (y0 + y1) // 2)
    xdo(bob, 'click', 1)
    run.wait_for('Bob on Ada\'s wall', lambda: 'joined "plan"' in read(bob_log))
    if f'{address}:{port}' not in read(bob_log):
        run.fail(f"Bob did not join at the address announced ({address}:{port})")
    print(f'ok: one click on the listed wall and Bob joined plan at {address}:{port}')

    # Carol hosts with announcing switched off: not announced, while Ada's still is.
    carol, carol_log = run.app(APP, 'carol', '--host', 'quiet', logging=DNSSD_LOG,
                               config='\n[host]\nannounce=false\nport=7788\n')
    run.wait_for("Carol's app joining her wall", lambda: 'joined "quiet"' in read(carol_log))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        now = browse()
        if 'quiet' in now:
            run.fail('Carol switched announcing off, yet "quiet" is announced')
        if 'plan' not in now:
            run.fail('plan is no longer announced')
    print('ok: with announcing switched off a hosted wall is not announced')
    run.passed = True


main()
