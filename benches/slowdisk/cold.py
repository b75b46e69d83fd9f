#!/usr/bin/env python3
"""Cold-load client of benches/slowdisk/run.sh (standard library only).

THREADS threads, each on its own keep-alive HTTP/1.1 connection, download
distinct files in a loop (thread t takes /cold-N.bin for N = t, t+THREADS,
...), each file once, until SECONDS have passed.  A file read only once on a
fresh mount is cold: its reads miss the page cache and reach the slow
filesystem.  Bytes are counted as they arrive, so a download in progress at
the deadline counts for what it got.  Prints one line:

    COLD bytes=B secs=S mib_s=M files=F errors=E exhausted=X

files = complete downloads, errors = bad responses or dropped connections,
exhausted = threads that ran out of files before the deadline (make
--files larger: the figure then understates what the server could do).
"""

import argparse
import socket
import threading
import time

BUF = 256 * 1024


class Conn:
    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.pending = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.pending = b""

    def get(self, path, deadline, count, view):
        """Download path; count(n) for each body chunk.  True when complete."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = self.pending
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the head")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = lines[0].split()
        if len(status) < 2 or status[1] != b"200":
            raise ConnectionError(f"status {lines[0]!r}")
        length = None
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if length is None:
            raise ConnectionError("no content-length")
        take = min(len(rest), length)
        count(take)
        left = length - take
        self.pending = rest[take:]
        while left > 0:
            if time.monotonic() >= deadline:
                self.close()   # the rest would arrive after the window
                return False
            n = self.sock.recv_into(view, min(left, BUF))
            if n == 0:
                raise ConnectionError("closed in the body")
            count(n)
            left -= n
        if close:
            self.close()
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--files", type=int, required=True, help="cold-0.bin .. cold-(N-1).bin exist")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--timeout", type=float, default=10.0, help="socket timeout, seconds")
    args = ap.parse_args()

    lock = threading.Lock()
    totals = {"bytes": 0, "files": 0, "errors": 0, "exhausted": 0}
    start = time.monotonic()
    deadline = start + args.seconds

    def worker(t):
        conn = Conn(args.port, args.timeout)
        buf = bytearray(BUF)
        view = memoryview(buf)
        got = [0]

        def count(n):
            got[0] += n

        files = errors = 0
        n = t
        while time.monotonic() < deadline:
            if n >= args.files:
                with lock:
                    totals["exhausted"] += 1
                break
            try:
                if conn.get(f"/cold-{n}.bin", deadline, count, view):
                    files += 1
            except (OSError, ConnectionError, ValueError):
                errors += 1
                conn.close()
            n += args.threads
        conn.close()
        with lock:
            totals["bytes"] += got[0]
            totals["files"] += files
            totals["errors"] += errors

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    secs = max(time.monotonic() - start, 1e-9)   # a recv may end past the deadline
    print(f"COLD bytes={totals['bytes']} secs={secs:.3f} "
          f"mib_s={totals['bytes'] / secs / 1048576:.2f} files={totals['files']} "
          f"errors={totals['errors']} exhausted={totals['exhausted']}", flush=True)


if __name__ == "__main__":
    main()
