#!/usr/bin/env python3
"""KiB of server RSS per idle HTTPS keep-alive connection (issue 11's target: <= 4 KiB).

Starts nothing: point it at a running evserve (its pid and its HTTPS port on 127.0.0.1).
Opens N TLS connections (certificate not verified: a test certificate), sends one
keep-alive GET on each and reads the whole response, then holds them all idle and
reports the growth of the server's VmRSS divided by N.  A warm-up of 50 connections,
closed again, comes first so that the loop's pools and caches are counted in the
"before" figure and not charged to the held connections.

    IDLE-TLS held=N rss_before_kib=A rss_after_kib=B kib_per_conn=K resumed=R

Bounded by --deadline seconds.  Standard library only.  Run the server with an
--idle-timeout longer than the probe, e.g.:

    evserve --bind 127.0.0.1 --port 8443 --tls-cert c.pem --tls-key k.pem \\
        --idle-timeout 300 ROOT &
    python3 tests/tls_idle.py --pid $! --port 8443 --conns 3000
"""

import argparse
import resource
import socket
import ssl
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def one(ctx, port, path, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed before the head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed mid-body")
        body += chunk
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=3000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--deadline", type=float, default=120)
    ap.add_argument("--resume", action="store_true", help="resume one session on every connection")
    ap.add_argument("--handshake", action="store_true",
                    help="print BEFORE and AFTER on stdout where RSS is read, and wait for a line on stdin after each "
                         "(for a harness that takes its own readings then)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 256), hard))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    end = time.monotonic() + args.deadline
    for _ in range(50):
        one(ctx, args.port, args.path).close()
    time.sleep(0.5)  # let the server see the warm-up closes before "before" is read
    before = rss_kib(args.pid)
    if args.handshake:
        print("BEFORE", flush=True)
        sys.stdin.readline()
    session = None
    if args.resume:
        first = one(ctx, args.port, args.path)
        session = first.session
    held, resumed = [], 0
    while len(held) < args.conns and time.monotonic() < end:
        s = one(ctx, args.port, args.path, session)
        resumed += bool(s.session_reused)
        held.append(s)
    time.sleep(0.5)  # the last responses' buffers go back to the pools
    after = rss_kib(args.pid)
    if args.handshake:
        print("AFTER", flush=True)
        sys.stdin.readline()
    per = (after - before) / max(1, len(held))
    print(f"IDLE-TLS held={len(held)} rss_before_kib={before} rss_after_kib={after} "
          f"kib_per_conn={per:.2f} resumed={resumed}")
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
