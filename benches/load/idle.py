#!/usr/bin/env python3
"""Idle keep-alive connection probe for benches/load/run.sh.

Opens N keep-alive connections to a server on 127.0.0.1, sends one GET on
each and reads the full response, then leaves them open and idle.  With
--half-heads H it also opens H connections that send the start of a head
(`GET / HTTP/1.1`, `Host: x`, `X-Slow: `) and nothing more, as a slowloris
client does; the server must hold those mid-head until --request-timeout.
Reports the server's resident memory (VmRSS summed over the given pids)
before and after, how many of the held connections the server still keeps
open, the KiB of RSS per open connection, and the latency of fresh requests
made while they are held.

Prints exactly one machine-readable line on stdout:

    IDLE held=N alive=M rss_before_kib=A rss_after_kib=B kib_per_conn=K fresh_ms=F

(held and alive count every kind; with --half-heads, `half_heads=H` is
appended to the line, with --half-hellos `half_hellos=C`.)  With
--half-hellos C it also opens C connections that send the first 200 bytes
of a real TLS ClientHello (made by python's ssl module) and nothing more:
the half-sent handshakes of an HTTPS port.  Run the server with a --request-timeout longer
than the whole probe, or the half-sent heads get their 408 first.

Everything is bounded by --deadline seconds (connections opened so far are
used if the deadline hits while opening).  Standard library only.

With --tls every connection speaks HTTPS (python's ssl module, certificate
verification off: the servers use a self-signed test certificate; no session
is resumed, so each connection is a full handshake and holds its own state).
"""

import argparse
import resource
import select
import socket
import ssl
import statistics
import sys
import time


def rss_kib(pids):
    """Sum of VmRSS (KiB) over the pids that still exist."""
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


def read_response(sock):
    """Read one HTTP/1.1 response with a Content-Length body; return status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before end of headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before end of body")
        body += chunk
    return status


def client_tls_context():
    """A TLS client context that trusts anything (test certificates)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def connect(port, timeout, tls):
    """A TCP connection to the server, wrapped in TLS when tls is a context."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    return sock


def one_request(port, request, timeout, tls=None):
    """Connect, send one request, read the response; return the socket."""
    sock = connect(port, timeout, tls)
    sock.sendall(request)
    status = read_response(sock)
    if status != 200:
        sock.close()
        raise ConnectionError(f"status {status}")
    return sock


HALF_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "


def half_head(port, timeout, tls=None):
    """Connect and send the start of a head, never its end; return the socket."""
    sock = connect(port, timeout, tls)
    sock.sendall(HALF_HEAD)
    return sock


HELLO_PREFIX = 200


def client_hello():
    """The first bytes a TLS client sends: a real ClientHello record."""
    ctx = client_tls_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def half_hello(port, timeout, hello):
    """Connect and send the start of a ClientHello, never its end."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(hello[:HELLO_PREFIX])
    return sock


def still_open(sockets):
    """Count sockets with nothing to read (an idle, open keep-alive
    connection); a server-side close makes the socket readable (EOF)."""
    poller = select.poll()
    for s in sockets:
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    readable = {fd for fd, _ in poller.poll(0)}
    return sum(1 for s in sockets
               if s.fileno() not in readable or tls_record_only(s))


def tls_record_only(sock):
    """For a readable TLS socket: was it only a TLS record with no data
    (a late session ticket), the connection still open?  A plain socket
    that is readable counts as closed, as before."""
    if not isinstance(sock, ssl.SSLSocket):
        return False
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""   # data: open (odd, but not closed)
    except ssl.SSLWantReadError:
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k.bin")
    ap.add_argument("--conns", type=int, default=5000,
                    help="connections left idle after one request")
    ap.add_argument("--half-heads", type=int, default=0,
                    help="connections left in the middle of a head")
    ap.add_argument("--half-hellos", type=int, default=0,
                    help="connections that send 200 bytes of a ClientHello")
    ap.add_argument("--pids", default="", help="space-separated server pids")
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to wait before measuring RSS")
    ap.add_argument("--tls", action="store_true",
                    help="HTTPS (no certificate verification, no resumption)")
    args = ap.parse_args()

    start = time.monotonic()
    deadline = start + args.deadline
    pids = [int(p) for p in args.pids.split()]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode()
    tls = client_tls_context() if args.tls else None
    hello = client_hello() if args.half_hellos else b""

    rss_before = rss_kib(pids)
    held = []
    failures = 0
    try:
        wanted = args.conns + args.half_heads + args.half_hellos
        while len(held) < wanted and time.monotonic() < deadline:
            try:
                if len(held) < args.conns:
                    held.append(one_request(args.port, request, 5, tls))
                elif len(held) < args.conns + args.half_heads:
                    held.append(half_head(args.port, 5, tls))
                else:
                    held.append(half_hello(args.port, 5, hello))
            except OSError as exc:  # ConnectionError and timeouts included
                failures += 1
                if failures > 50:
                    print(f"idle: giving up after {failures} failures: {exc}",
                          file=sys.stderr)
                    break
        time.sleep(min(args.settle, max(0.0, deadline - time.monotonic())))
        rss_after = rss_kib(pids)
        alive = still_open(held)

        # Fresh requests (new connection each) while the idle ones are held;
        # report the median of five to smooth out scheduler noise.
        fresh = []
        for _ in range(5):
            if time.monotonic() > deadline + 10:
                break
            t0 = time.perf_counter()
            try:
                one_request(args.port, request, 5, tls).close()
                fresh.append((time.perf_counter() - t0) * 1000.0)
            except OSError as exc:
                print(f"idle: fresh request failed: {exc}", file=sys.stderr)
    finally:
        for s in held:
            s.close()

    per_conn = (rss_after - rss_before) / alive if alive else float("nan")
    fresh_ms = statistics.median(fresh) if fresh else float("nan")
    print(f"IDLE held={len(held)} alive={alive} rss_before_kib={rss_before} "
          f"rss_after_kib={rss_after} kib_per_conn={per_conn:.3f} "
          f"fresh_ms={fresh_ms:.3f}"
          + (f" half_heads={args.half_heads}" if args.half_heads else "")
          + (f" half_hellos={args.half_hellos}" if args.half_hellos else "")
          + (" tls=1" if args.tls else ""))
    if failures:
        print(f"idle: {failures} connection attempts failed", file=sys.stderr)


if __name__ == "__main__":
    main()
