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
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apptest import Run, read, window_named, xdo  # noqa: E402

APP, SERVER = sys.argv[1], sys.argv[2]
run = Run('invite-links')


def certificate(name):
    cert, key = run.path(name + '.pem'), run.path(name + '.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    der = subprocess.run(['openssl', 'x509', '-in', cert, '-outform', 'DER'], check=True, capture_output=True).stdout
    return cert, key, hashlib.sha256(der).hexdigest()


def main():
    cert, key, fp = certificate('server')
    _, _, other = certificate('other')
    port, server_log = run.server(SERVER, '--tls-cert', cert, '--tls-key', key)

    # Ada opens a link that names the server's certificate: in, with no first-use question.
    ada_env, ada_log = run.person('ada')
    ada = run.start([APP, f'scrawl://127.0.0.1:{port}/first?fp={fp}'], env=ada_env, stdout=open(ada_log, 'w'),
                    stderr=subprocess.STDOUT)
    run.wait_for("Ada's app joining 'first' over wss", lambda: 'joined "first"' in read(ada_log) or ada.poll() is not None)
    if ada.poll() is not None:
        run.fail(f"Ada's app exited with {ada.returncode}")
    if 'on first use' in read(ada_log):
        run.fail("Ada's app trusted on first use instead of checking the link's certificate")
    run.wait_for("Ada's window on 'first'", lambda: window_named(ada_env, 'first'))

    # A second link while her app runs: the running app joins it, and the new process ends.
    second = subprocess.run([APP, f'scrawl://127.0.0.1:{port}/second?fp={fp}'], env=ada_env, capture_output=True,
                            text=True, timeout=30)
    if second.returncode != 0 or 'already running' not in second.stdout:
        run.fail(f'the second link was not handed to the running app: exit {second.returncode}, '
                 f'{second.stdout!r} {second.stderr!r}')
    run.wait_for("Ada's running app joining 'second'", lambda: 'joined "second"' in read(ada_log))
    run.wait_for("Ada's window on 'second'", lambda: window_named(ada_env, 'second'))
    if ada.poll() is not None:
        run.fail("Ada's app exited after the second link")
    # Her Invite popup (Ctrl+I) offers the link with the certificate in it (kept as a screen).
    xdo(ada_env, 'key', 'ctrl+i')
    time.sleep(0.5)  # the popup's opening animation; only for the picture
    run.screen(ada_env, 'ada-invite')

    # Bob's link names another certificate: refused with both fingerprints, never let in.
    bob_env, bob_log = run.person('bob')
    bob = run.start([APP, f'scrawl://127.0.0.1:{port}/first?fp={other}'], env=bob_env, stdout=open(bob_log, 'w'),
                    stderr=subprocess.STDOUT)
    run.wait_for("Bob's app refusing the server's certificate", lambda: 'invitation says' in read(bob_log))
    colon = lambda h: ':'.join(h[i:i + 2] for i in range(0, len(h), 2)).upper()
    said = read(bob_log)
    if colon(fp) not in said or colon(other) not in said:
        run.fail("Bob's refusal does not name both certificates")
    # His app stays up, saying so (once the connection's end is handled: kept as a screen).
    run.wait_for("Bob's app giving up on the connection",
                 lambda: 'disconnected' in read(bob_log).split('invitation says')[-1])
    if bob.poll() is not None:
        run.fail(f"Bob's app exited with {bob.returncode}")
    run.screen(bob_env, 'bob-refused')
    if 'Bob' in read(server_log):
        run.fail('the server heard from Bob, whose link named another certificate')
    print('ok: a link with the certificate joins with no first-use moment; a second link goes to the running '
          'app; a link naming another certificate is refused')


main()
run.passed = True
