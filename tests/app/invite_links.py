#!/usr/bin/env python3
"""Invite links between real `scrawl` processes and a real `scrawl-server` over wss://.

The server runs with a self-signed certificate. Ada's app is opened with a link that names that
certificate (`?fp=`): it joins at once, with no trust-on-first-use moment. A second link opened
while her app runs (`scrawl LINK`, as a browser or file manager opens it through the .desktop
file's scheme handler) goes to her running app, which joins that wall, and the second process
ends. Bob's app is opened with a link naming another certificate (an old link, or someone in
between): it refuses the server, says why with both fingerprints, and the server never hears
from him. Each app has a display, a home and a runtime directory of its own; every wait is a
bounded poll.

Usage: invite_links.py PATH/TO/scrawl PATH/TO/scrawl-server
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

APP, SERVER = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix='scrawl-invite-links-')
procs = []


def fail(message):
    print(f'FAIL: {message} (logs in {work})', file=sys.stderr)
    sys.exit(1)


def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p


def xvfb():
    r, w = os.pipe()
    start(['Xvfb', '-displayfd', str(w), '-screen', '0', '1600x1000x24', '-nolisten', 'tcp', '-noreset'],
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


def wait_for(what, check, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    fail(f'{what}: not seen within {seconds} s')


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


def certificate(name):
    cert, key = os.path.join(work, name + '.pem'), os.path.join(work, name + '.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    der = subprocess.run(['openssl', 'x509', '-in', cert, '-outform', 'DER'], check=True, capture_output=True).stdout
    import hashlib
    return cert, key, hashlib.sha256(der).hexdigest()


def person(name):
    """A display, a home and a runtime directory of `name`'s own; returns (env, log path)."""
    display = xvfb()
    home = os.path.join(work, name)
    os.makedirs(home + '/config/Scrawl', mode=0o700)
    os.chmod(home, 0o700)  # a runtime directory must be the person's alone, or Qt falls back to a shared one
    with open(home + '/config/Scrawl/Scrawl.conf', 'w') as f:
        f.write(f'[profiles]\ndefault\\person\\name={name.capitalize()}\n')
    env = {**os.environ, 'DISPLAY': display, 'XDG_CONFIG_HOME': home + '/config', 'XDG_DATA_HOME': home + '/data',
           'XDG_CACHE_HOME': home + '/cache', 'XDG_RUNTIME_DIR': home, 'QT_QUICK_CONTROLS_STYLE': 'Fusion',
           'QT_LOGGING_RULES': 'scrawl.app.client.info=true'}
    env.pop('QT_QPA_PLATFORM', None)
    return env, os.path.join(work, name + '.log')


def window_named(env, title):
    found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title], env=env,
                           capture_output=True, text=True)
    return bool(found.stdout.split())


def main():
    cert, key, fp = certificate('server')
    _, _, other = certificate('other')
    data = os.path.join(work, 'server')
    os.mkdir(data)
    server_log = os.path.join(work, 'server.log')
    start([SERVER, '--host', '127.0.0.1', '--port', '0', '--data', data, '--tls-cert', cert, '--tls-key', key],
          stdout=open(server_log, 'w'), stderr=subprocess.STDOUT)
    wait_for('the server saying its port', lambda: re.search(r'serving on port (\d+)', read(server_log)))
    port = re.search(r'serving on port (\d+)', read(server_log)).group(1)

    # Ada opens a link that names the server's certificate: in, with no first-use question.
    ada_env, ada_log = person('ada')
    ada = start([APP, f'scrawl://127.0.0.1:{port}/first?fp={fp}'], env=ada_env, stdout=open(ada_log, 'w'),
                stderr=subprocess.STDOUT)
    wait_for("Ada's app joining 'first' over wss", lambda: 'joined "first"' in read(ada_log) or ada.poll() is not None)
    if ada.poll() is not None:
        fail(f"Ada's app exited with {ada.returncode}")
    if 'trusting' in read(ada_log) or 'on first use' in read(ada_log):
        fail("Ada's app trusted on first use instead of checking the link's certificate")
    wait_for("Ada's window on 'first'", lambda: window_named(ada_env, 'first'))

    # A second link while her app runs: the running app joins it, and the new process ends.
    second = subprocess.run([APP, f'scrawl://127.0.0.1:{port}/second?fp={fp}'], env=ada_env, capture_output=True,
                            text=True, timeout=30)
    if second.returncode != 0 or 'already running' not in second.stdout:
        fail(f'the second link was not handed to the running app: exit {second.returncode}, '
             f'{second.stdout!r} {second.stderr!r}')
    wait_for("Ada's running app joining 'second'", lambda: 'joined "second"' in read(ada_log))
    wait_for("Ada's window on 'second'", lambda: window_named(ada_env, 'second'))
    if ada.poll() is not None:
        fail("Ada's app exited after the second link")
    # Her Invite popup (Ctrl+I) offers the link with the certificate in it (kept as a screen).
    subprocess.run(['xdotool', 'key', 'ctrl+i'], env=ada_env, check=True)
    time.sleep(0.5)  # the popup's opening animation; only for the picture
    subprocess.run(['import', '-display', ada_env['DISPLAY'], '-window', 'root', os.path.join(work, 'ada-invite.png')],
                   check=False)

    # Bob's link names another certificate: refused with both fingerprints, never let in.
    bob_env, bob_log = person('bob')
    bob = start([APP, f'scrawl://127.0.0.1:{port}/first?fp={other}'], env=bob_env, stdout=open(bob_log, 'w'),
                stderr=subprocess.STDOUT)
    wait_for("Bob's app refusing the server's certificate", lambda: 'invitation says' in read(bob_log))
    colon = lambda h: ':'.join(h[i:i + 2] for i in range(0, len(h), 2)).upper()
    said = read(bob_log)
    if colon(fp) not in said or colon(other) not in said:
        fail("Bob's refusal does not name both certificates")
    # His app stays up, saying so (once the connection's end is handled: kept as a screen).
    wait_for("Bob's app giving up on the connection", lambda: 'disconnected' in read(bob_log).split('invitation says')[-1])
    if bob.poll() is not None:
        fail(f"Bob's app exited with {bob.returncode}")
    subprocess.run(['import', '-display', bob_env['DISPLAY'], '-window', 'root', os.path.join(work, 'bob.png')],
                   check=False)
    if 'Bob' in read(server_log):
        fail('the server heard from Bob, whose link named another certificate')
    print(f'ok: a link with the certificate joins with no first-use moment; a second link goes to the running '
          f'app; a link naming another certificate is refused (screens and logs in {work})')


passed = False
try:
    main()
    passed = True
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if passed and os.environ.get('KEEP_WORK') is None:
        shutil.rmtree(work, ignore_errors=True)
