#!/usr/bin/env python3
"""Idle HTTP/2 connection probe for benches/h2/run.sh.

Opens N HTTP/2 connections to a server on 127.0.0.1 (h2c with prior
knowledge, or with --tls HTTPS negotiating h2 by ALPN), makes one request
on each and reads its whole response, then leaves them all open and idle.
On each connection the client sends the preface, an empty SETTINGS frame
and one HEADERS frame (GET PATH, END_STREAM), acknowledges the server's
SETTINGS, and reads until the response's END_STREAM (PINGs are answered).

Reports the server's resident memory (VmRSS summed over the given pids)
before and after, how many connections the server still keeps open (a
connection that got EOF or a GOAWAY is closed), and the KiB of RSS per
open connection.  Prints exactly one machine-readable line on stdout:

    H2IDLE held=N alive=M rss_before_kib=A rss_after_kib=B kib_per_conn=K bad=E

(bad: connections that failed: refused, wrong ALPN, a non-200, a short
body, RST_STREAM or GOAWAY before the response ended.)  Bounded by
--deadline seconds.  Standard library only; no HPACK decoder is needed:
the status is read from the first header field of the response (see
is_200).
"""

import argparse
import resource
import select
import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def literal(index, value):
    """HPACK literal header field without indexing, indexed name (4-bit
    prefix), raw (not Huffman) value shorter than 127 bytes."""
    value = value.encode()
    assert index < 15 and len(value) < 127
    return bytes([index, len(value)]) + value


def request_block(path, tls):
    # static table: 2 = :method GET, 6/7 = :scheme http/https,
    # 4 = :path, 1 = :authority
    return bytes([0x82, 0x87 if tls else 0x86]) + literal(4, path) + \
        literal(1, "127.0.0.1")


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


class Frames:
    """Incremental frame reader over one socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def parse(self):
        """Yield complete frames in the buffer: (type, flags, stream, payload)."""
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            yield ftype, flags, stream, payload


def one_connection(port, path, tls, timeout):
    """Open one HTTP/2 connection and complete one request on it.
    Returns the socket (left open) or raises."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
        if sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise ConnectionError(f"ALPN gave {sock.selected_alpn_protocol()!r}")
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) +
                 frame(HEADERS, END_STREAM | END_HEADERS, 1,
                       request_block(path, tls is not None)))
    fr = Frames(sock)
    status_ok = None
    body = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response ended")
        fr.buf += chunk
        for ftype, flags, stream, payload in fr.parse():
            if ftype == SETTINGS and not flags & ACK:
                sock.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                sock.sendall(frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                raise ConnectionError("GOAWAY")
            elif stream == 1 and ftype == RST_STREAM:
                raise ConnectionError("RST_STREAM")
            elif stream == 1 and ftype == HEADERS:
                block = payload
                if flags & 0x8:  # PADDED
                    block = block[1:len(block) - block[0]]
                if flags & 0x20:  # PRIORITY
                    block = block[5:]
                if status_ok is None:
                    status_ok = is_200(block)
                if flags & END_STREAM:
                    return finish(sock, status_ok, body)
            elif stream == 1 and ftype == DATA:
                body += len(payload) - ((payload[0] + 1) if flags & 0x8 else 0)
                if flags & END_STREAM:
                    return finish(sock, status_ok, body)


EXPECT_BODY = [None]


def is_200(block):
    """Is the first header field of an HPACK block ":status: 200"?  Skips
    dynamic table size updates (001xxxxx); accepts the indexed form (0x88)
    and literals naming static index 8..14 (:status) with a raw or Huffman
    "200" value.  Enough for a fresh connection's first response."""
    i = 0
    while i < len(block) and block[i] & 0xE0 == 0x20:
        if block[i] & 0x1F == 0x1F:  # multi-byte integer
            i += 1
            while i < len(block) and block[i] & 0x80:
                i += 1
        i += 1
    if i >= len(block):
        return False
    b = block[i]
    if b == 0x88:
        return True
    if b & 0xC0 == 0x40:
        index = b & 0x3F      # literal with incremental indexing
    elif b & 0xF0 in (0x00, 0x10):
        index = b & 0x0F      # literal without / never indexed
    else:
        return False
    if not 8 <= index <= 14 or i + 1 >= len(block):
        return False
    n = block[i + 1] & 0x7F
    value = block[i + 2:i + 2 + n]
    if block[i + 1] & 0x80:
        return value == b"\x10\x01"   # Huffman "200"
    return value == b"200"


def finish(sock, status_ok, body):
    if not status_ok:
        sock.close()
        raise ConnectionError("status is not 200")
    if EXPECT_BODY[0] is not None and body != EXPECT_BODY[0]:
        sock.close()
        raise ConnectionError(f"body {body} bytes, expected {EXPECT_BODY[0]}")
    return sock


def still_open(sockets):
    """Connections the server still holds: not readable, or readable with
    frames other than GOAWAY (a late SETTINGS ACK, a WINDOW_UPDATE, a PING
    answered here) and no EOF."""
    poller = select.poll()
    for s in sockets:
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    readable = {fd for fd, _ in poller.poll(0)}
    alive = 0
    for s in sockets:
        if s.fileno() not in readable:
            alive += 1
            continue
        s.setblocking(False)
        fr = Frames(s)
        closed = False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                fr.buf += chunk
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError:
            closed = True
        for ftype, flags, _, payload in fr.parse():
            if ftype == GOAWAY:
                closed = True
        alive += not closed
    return alive


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k.bin")
    ap.add_argument("--body-bytes", type=int, default=None,
                    help="expected body size (checked when given)")
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--pids", default="", help="space-separated server pids")
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to wait before measuring RSS")
    ap.add_argument("--tls", action="store_true",
                    help="HTTPS with ALPN h2 (no verification, no resumption)")
    args = ap.parse_args()
    EXPECT_BODY[0] = args.body_bytes

    deadline = time.monotonic() + args.deadline
    pids = [int(p) for p in args.pids.split()]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.set_alpn_protocols(["h2"])

    rss_before = rss_kib(pids)
    held = []
    bad = 0
    last_err = ""
    try:
        while len(held) < args.conns and time.monotonic() < deadline:
            try:
                held.append(one_connection(args.port, args.path, tls, 5))
            except OSError as exc:  # ConnectionError, timeouts, ssl errors
                bad += 1
                last_err = str(exc)
                if bad > 50:
                    break
        time.sleep(min(args.settle, max(0.0, deadline - time.monotonic())))
        rss_after = rss_kib(pids)
        alive = still_open(held)
    finally:
        for s in held:
            s.close()
    per_conn = (rss_after - rss_before) / alive if alive else float("nan")
    print(f"H2IDLE held={len(held)} alive={alive} rss_before_kib={rss_before} "
          f"rss_after_kib={rss_after} kib_per_conn={per_conn:.3f} bad={bad}")
    if bad:
        print(f"h2idle: {bad} connections failed (last: {last_err})",
              file=sys.stderr)


if __name__ == "__main__":
    main()
