#!/usr/bin/env python3
"""What a reference relay does with a member that stops reading (bench/reference/lws-relay.c):
one client publishes 60,000 binary messages of 1000 bytes into a room and reads everything back,
while another member of the room never reads. Prints how long the publisher took to get all of
its messages back and whether, and after how many bytes, the relay closed the stalled member.
Usage: stalled-reader.py build/bin/lws-relay   (not run by CI; needs nothing but Python)"""
import os, select, socket, struct, subprocess, sys, time

relay = subprocess.Popen([sys.argv[1], "--port", "0"], stdout=subprocess.PIPE)
port = int(relay.stdout.readline().decode().rsplit(":", 1)[1])


def member():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"GET /?room=stall HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert b" 101 " in head, head
    return s


stalled = member()
pub = member()
pub.setblocking(False)
payload = os.urandom(1000)
frame = bytes([0x82, 0xFE]) + struct.pack(">H", len(payload)) + b"\0\0\0\0" + payload  # masked, key 0
total, sent, got, out, start = 60000, 0, 0, b"", time.time()
header = bytes([0x82, 0x7E]) + struct.pack(">H", len(payload))  # how the relay frames each copy
while time.time() - start < 60 and got < total:
    if sent < total and len(out) < 65536:
        out += frame * 16
        sent += 16
    readable, writable, _ = select.select([pub], [pub] if out else [], [], 0.05)
    if writable:
        try:
            out = out[pub.send(out):]
        except BlockingIOError:
            pass
    if readable:
        data = pub.recv(1 << 20)
        if not data:
            print("the relay closed the publisher")
            break
        got += data.count(header)
print(f"publisher: sent {sent}, got {got} back in {time.time() - start:.1f} s")
stalled.settimeout(10)
n = 0
try:
    while True:
        data = stalled.recv(1 << 20)
        if not data:
            print(f"stalled member: closed by the relay; {n} bytes were still in its socket buffers")
            break
        n += len(data)
except (socket.timeout, ConnectionResetError) as e:
    print(f"stalled member: still open after {n} bytes ({e!r})")
relay.terminate()
relay.wait()
