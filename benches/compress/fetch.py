#!/usr/bin/env python3
"""Fetch a list of files from a server once each, the way a browser asks for them,
and count the bytes on the wire.  Used by benches/compress/run.sh; by hand:

    python3 benches/compress/fetch.py bytes --port 8000 --root DOCS --list files.txt
    python3 benches/compress/fetch.py warm  --port 8000 --list files.txt --deadline 600

`bytes`: one GET per file (one keep-alive connection, Accept-Encoding
"gzip, deflate, br, zstd"); the body is read as it came (http.client undoes the
chunking, never the coding), so its length is the encoded bytes; every body is
decoded again (zlib; `brotli -d`, `zstd -d` for br and zstd) and compared with the
file under --root, so a server that sends wrong bytes fails here.  Prints one line
"BYTES files=N identity=I wire=W heads=H enc:br=..,gzip=..,identity=.. bad=B".

`warm`: evserve's background best level, polled deterministically: HEAD every file
not yet settled, pass after pass (0.5 s apart), until each one's ETag names a best
level (-br11, -zstd19, -gzip9) or it came back without Content-Encoding in two passes
after the first (too small, not worth coding); prints "WARM settled=N of M passes=P
secs=S" (exit 1 if the deadline passed first).
"""

import argparse
import http.client
import subprocess
import sys
import time
import urllib.parse
import zlib

AE = "gzip, deflate, br, zstd"
BEST = ("-br11\"", "-zstd19\"", "-gzip9\"")


class Client:
    def __init__(self, host, port):
        self.host, self.port, self.conn = host, port, None

    def request(self, method, path):
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, headers={"Accept-Encoding": AE, "User-Agent": "fetch.py"})
                r = self.conn.getresponse()
                body = r.read()
                heads = len(r.headers.as_bytes()) + len(f"HTTP/1.1 {r.status} {r.reason}\r\n")
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, r.headers, body, heads
            except (http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


def url(rel):
    return "/" + urllib.parse.quote(rel)


def decode(coding, body):
    if coding in ("", "identity"):
        return body
    if coding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    tool = {"br": ["brotli", "-d", "-c"], "zstd": ["zstd", "-d", "-c", "-q"]}.get(coding)
    if tool is None:
        raise ValueError(f"unknown coding {coding}")
    return subprocess.run(tool, input=body, capture_output=True, check=True).stdout


def cmd_bytes(a, files):
    c = Client(a.host, a.port)
    identity = wire = heads = bad = 0
    enc = {}
    for rel in files:
        want = open(f"{a.root}/{rel}", "rb").read()
        status, h, body, hb = c.request("GET", url(rel))
        coding = (h.get("Content-Encoding") or "identity").strip().lower()
        ok = status == 200
        if ok:
            try:
                ok = decode(coding, body) == want
            except Exception as e:  # noqa: BLE001 (any decoding failure is a bad response)
                print(f"  {rel}: {coding} does not decode: {e}", file=sys.stderr)
                ok = False
        if not ok:
            bad += 1
            print(f"  BAD {rel}: status {status} coding {coding} {len(body)} bytes", file=sys.stderr)
        identity += len(want)
        wire += len(body)
        heads += hb
        n, b = enc.get(coding, (0, 0))
        enc[coding] = (n + 1, b + len(body))
    encs = ",".join(f"{k}={n}:{b}" for k, (n, b) in sorted(enc.items()))
    print(f"BYTES files={len(files)} identity={identity} wire={wire} heads={heads} enc:{encs} bad={bad}")
    return 0 if bad == 0 else 1


def cmd_warm(a, files):
    c = Client(a.host, a.port)
    t0 = time.monotonic()
    pending = {rel: 0 for rel in files}  # rel -> passes seen without Content-Encoding
    passes = 0
    while pending and time.monotonic() - t0 < a.deadline:
        passes += 1
        for rel in list(pending):
            status, h, _, _ = c.request("HEAD", url(rel))
            etag = h.get("ETag") or ""
            if status != 200:
                print(f"  {rel}: status {status}", file=sys.stderr)
                del pending[rel]
            elif h.get("Content-Encoding"):
                if etag.endswith(BEST):
                    del pending[rel]
            else:
                pending[rel] += 1
                if pending[rel] >= 3:  # the first pass, then two more: settled identity
                    del pending[rel]
        if pending:
            time.sleep(0.5)
    secs = time.monotonic() - t0
    print(f"WARM settled={len(files) - len(pending)} of {len(files)} passes={passes} secs={secs:.1f}")
    for rel in list(pending)[:5]:
        print(f"  not settled: {rel}", file=sys.stderr)
    return 0 if not pending else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["bytes", "warm"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--list", required=True, help="file of paths relative to the root, one a line")
    ap.add_argument("--root", help="the folder served (bytes: to compare the decoded bodies)")
    ap.add_argument("--deadline", type=float, default=600)
    a = ap.parse_args()
    files = [line.rstrip("\n") for line in open(a.list) if line.strip()]
    if a.mode == "bytes":
        if not a.root:
            ap.error("bytes needs --root")
        return cmd_bytes(a, files)
    return cmd_warm(a, files)


if __name__ == "__main__":
    sys.exit(main())
