#!/usr/bin/env python3
"""Turn benches/load/run.sh's results.tsv into results.md and conns.svg.

Standard library only.  The Markdown report is also printed on stdout.
Medians are taken over rounds; ratios are evserve / server, so a req/s
ratio above 1 and a CPU/request ratio below 1 favour evserve.  When the
floor (examples/floor.rs, a fixed response from the least mio loop) ran, an
"x floor" column gives each server's CPU/request over the floor's.  When
tls-* scenarios ran, a table sets evserve against the best peer and the
targets of the HTTPS issue.
"""

import argparse
import csv
import math
import statistics
import sys
from xml.sax.saxutils import escape

REF = "evserve"
FLOOR = "floor"
# Line colours of the chart, one per server in --servers order.
PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def num(value):
    """Float from a TSV cell, None for '-', empty or unparsable."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2, thousands=False):
    if v is None:
        return "—"
    if thousands:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def mib(kib):
    return fmt(kib / 1024, 1) if kib is not None else "—"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def note_fields(note):
    """'held=1,alive=2' -> {'held': '1', 'alive': '2'}."""
    out = {}
    for part in note.split(","):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value
    return out


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def summarise(rows, servers, runs):
    """{(scenario, server): {metric: median}} for the load runs."""
    out = {}
    for scen in runs:
        if scen in IDLE_SCENARIOS:
            continue
        for srv in servers:
            sel = [r for r in rows if r["scenario"] == scen and r["server"] == srv
                   and r["round"] != "s"]
            if not sel:
                continue
            errs = [num(r["errors"]) for r in sel]
            out[(scen, srv)] = {
                "rps": median(num(r["rps"]) for r in sel),
                "p99_ms": median(v / 1000 for v in (num(r["p99_us"]) for r in sel)
                                 if v is not None),
                "gib_s": median(num(r["gib_s"]) for r in sel),
                "cpu": median(num(r["cpu_us_req"]) for r in sel),
                "pct": median(num(r["cpu_pct"]) for r in sel),
                "errors": max((e for e in errs if e is not None), default=None),
                "rounds": sum(1 for r in sel if num(r["rps"]) is not None),
                "failed": sum(1 for r in sel if num(r["rps"]) is None),
            }
    return out


def main_table(summary, servers, runs):
    peers = REF in servers
    floored = any(srv == FLOOR for _, srv in summary)
    head = ["scenario", "server", "req/s", "p99 ms", "GiB/s", "CPU µs/req",
            "server CPU %", "errors"]
    if peers:
        head += ["evserve/this req/s ↑", "evserve/this CPU/req ↓"]
    if floored:
        head += ["x floor ↓"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if i > 1 else "---" for i in range(len(head))) + "|"]
    for scen in runs:
        if scen in IDLE_SCENARIOS:
            continue
        ref = summary.get((scen, REF))
        floor = summary.get((scen, FLOOR))
        for srv in servers:
            m = summary.get((scen, srv))
            if m is None:
                continue
            errors = fmt(m["errors"], 0)
            if m["failed"]:
                errors += f" ({m['failed']} run(s) failed)"
            cells = [scen, srv, fmt(m["rps"], thousands=True), fmt(m["p99_ms"], 2),
                     fmt(m["gib_s"], 3), fmt(m["cpu"], 2), fmt(m["pct"], 0), errors]
            if peers:
                if srv == REF or ref is None:
                    cells += ["—", "—"]
                else:
                    cells += [ratio(ref["rps"], m["rps"]), ratio(ref["cpu"], m["cpu"])]
            if floored:
                cells.append("—" if srv == FLOOR or floor is None else ratio(m["cpu"], floor["cpu"]))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


IDLE_SCENARIOS = ("idle", "mixed", "tls-idle", "tls-half")

# The HTTPS issue's targets: evserve's figure over the best peer's (lower is
# better), except the idle RSS, which has an absolute bound in KiB.
TLS_TARGETS = [
    ("tls-ka-1k", "CPU µs/req", "cpu", 0.8),
    ("tls-ka-1m", "CPU µs/req", "cpu", 0.55),
    ("tls-ka-1m", "GiB/s", "gib_s", 1.0),
    ("tls-close", "CPU µs/req", "cpu", 0.5),
]
# Absolute bounds in KiB per connection (the TLS issue's second round).
TLS_KIB = {"tls-idle": 3.0, "tls-half": 2.0}


def tls_table(summary, rows, servers, runs):
    """evserve against the best peer for each HTTPS target."""
    if not any(s.startswith("tls-") for s in runs):
        return []
    # A second evserve (EVSERVE2_BIN: an older build) is a before/after, not a peer.
    peers = [s for s in servers if not s.startswith(REF) and s != FLOOR]
    lines = ["| scenario | metric | best peer | evserve | evserve/best | target | met |",
             "|---|---|---:|---:|---:|---|---|"]
    for scen, label, key, bound in TLS_TARGETS:
        if scen not in runs:
            continue
        vals = {p: summary[(scen, p)][key] for p in peers
                if (scen, p) in summary and summary[(scen, p)][key] is not None}
        higher = key == "gib_s"
        best = (max if higher else min)(vals, key=vals.get) if vals else None
        ours = summary.get((scen, REF), {}).get(key)
        target = f"≥ {bound:g}x best" if higher else f"≤ {bound:g}x best"
        lines.append(tls_row(scen, label, best, vals.get(best), ours, target,
                             lambda r, b=bound, h=higher: r >= b if h else r <= b))
    for scen, bound in TLS_KIB.items():
        if scen not in runs:
            continue
        kib = {s: median(num(r["idle_kib_conn"]) for r in rows
                         if r["scenario"] == scen and r["server"] == s)
               for s in servers}
        vals = {p: kib[p] for p in peers if kib.get(p) is not None}
        best = min(vals, key=vals.get) if vals else None
        ours = kib.get(REF)
        met = "—" if ours is None else ("yes" if ours <= bound else "no")
        lines.append(f"| {scen} | RSS KiB/conn | {cell(best, vals.get(best))} | {fmt(ours, 2)} "
                     f"| {ratio(ours, vals.get(best))} | ≤ {bound:g} KiB | {met} |")
    return lines


def cell(server, value):
    return "—" if server is None else f"{fmt(value, 2)} ({server})"


def tls_row(scen, label, best, best_value, ours, target, meets):
    rel = ours / best_value if ours is not None and best_value else None
    met = "—" if rel is None else ("yes" if meets(rel) else "no")
    return (f"| {scen} | {label} | {cell(best, best_value)} | {fmt(ours, 2)} "
            f"| {fmt(rel, 2)} | {target} | {met} |")


def idle_table(rows, servers, scen):
    per = {}
    for srv in servers:
        sel = [r for r in rows if r["scenario"] == scen and r["server"] == srv]
        if not sel:
            continue
        notes = [note_fields(r["note"]) for r in sel]
        per[srv] = {
            "held": median(num(n.get("held")) for n in notes),
            "alive": median(num(r["idle_alive"]) for r in sel),
            "before": median(num(n.get("rss_before_kib")) for n in notes),
            "after": median(num(n.get("rss_after_kib")) for n in notes),
            "kib": median(num(r["idle_kib_conn"]) for r in sel),
            "fresh": median(num(r["fresh_ms"]) for r in sel),
        }
    if not per:
        return []
    ref = per.get(REF)
    lines = ["| server | held | still open | RSS before MiB | RSS after MiB | KiB/conn "
             "| fresh request ms | evserve/this KiB/conn ↓ |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for srv, m in per.items():
        rel = "—" if srv == REF or ref is None else ratio(ref["kib"], m["kib"])
        lines.append(f"| {srv} | {fmt(m['held'], 0)} | {fmt(m['alive'], 0)} | {mib(m['before'])} "
                     f"| {mib(m['after'])} | {fmt(m['kib'], 2)} | {fmt(m['fresh'], 3)} | {rel} |")
    return lines


def strace_table(rows, servers):
    per = {r["server"]: r for r in rows if r["scenario"] == "strace-ka-1k"}
    if not per:
        return []
    ref = num(per[REF]["syscalls_req"]) if REF in per else None
    lines = ["| server | requests | syscalls/req | top syscalls per request | evserve/this ↓ |",
             "|---|---:|---:|---|---:|"]
    for srv in servers:
        r = per.get(srv)
        if r is None:
            continue
        v = num(r["syscalls_req"])
        rel = "—" if srv == REF else ratio(ref, v)
        lines.append(f"| {srv} | {fmt(num(r['requests']), 0)} | {fmt(v, 2)} | "
                     f"{r['note'] or '—'} | {rel} |")
    return lines


def nice_step(span, ticks=5):
    """A 1/2/5 x 10^k step giving about `ticks` intervals over span."""
    raw = span / ticks if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def si(v):
    """Compact axis label: 1200 -> 1.2k, 3000000 -> 3M."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def chart(summary, servers, runs, title):
    """Hand-written SVG: req/s against connections, log-scale x axis."""
    conns = sorted({int(s.split("-", 1)[1]) for s in runs if s.startswith("conns-")})
    series = []
    for i, srv in enumerate(servers):
        pts = [(n, summary[(f"conns-{n}", srv)]["rps"]) for n in conns
               if (f"conns-{n}", srv) in summary and summary[(f"conns-{n}", srv)]["rps"] is not None]
        if pts:
            series.append((srv, PALETTE[i % len(PALETTE)], pts))
    if not series:
        return None

    width, height = 760, 460
    left, right, top, bottom = 80, 170, 50, 60
    pw, ph = width - left - right, height - top - bottom

    # x: log10 of connections, padded half a decade on each side.
    lo, hi = math.log10(conns[0]), math.log10(conns[-1])
    lo, hi = lo - 0.25, hi + 0.25

    def x(n):
        return left + (math.log10(n) - lo) / (hi - lo) * pw

    # y: linear from 0 to a rounded maximum.
    ymax_data = max(v for _, _, pts in series for _, v in pts)
    step = nice_step(ymax_data)
    ymax = step * math.ceil(ymax_data * 1.05 / step)

    def y(v):
        return top + ph - v / ymax * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="24" text-anchor="middle" font-size="15">'
           f'{escape(title)}</text>']
    # Horizontal grid lines and y labels.
    v = 0.0
    while v <= ymax + step / 2:
        yy = y(v)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{si(v)}</text>')
        v += step
    # Vertical grid lines at each decade and at every measured point.
    decades = range(math.ceil(lo), math.floor(hi) + 1)
    for n in sorted(set(conns) | {10 ** d for d in decades}):
        xx = x(n)
        out.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 18}" text-anchor="middle">{n:,}</text>')
    # Axes and their titles.
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 16}" text-anchor="middle">'
               f'concurrent connections (log scale)</text>')
    out.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + ph / 2})">requests/s</text>')
    # One polyline with point markers per server.
    for srv, colour, pts in series:
        path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in pts:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}">'
                       f'<title>{escape(srv)}: {v:,.0f} req/s at {n:,} connections</title></circle>')
    # Legend to the right of the plot.
    lx, ly = left + pw + 20, top + 10
    for i, (srv, colour, _) in enumerate(series):
        yy = ly + i * 22
        out.append(f'<line x1="{lx}" y1="{yy}" x2="{lx + 24}" y2="{yy}" stroke="{colour}" '
                   f'stroke-width="2"/>')
        out.append(f'<circle cx="{lx + 12}" cy="{yy}" r="3.5" fill="{colour}"/>')
        out.append(f'<text x="{lx + 32}" y="{yy + 4}">{escape(srv)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--svg", required=True)
    ap.add_argument("--servers", required=True, help="space-separated, report order")
    ap.add_argument("--runs", required=True, help="space-separated scenarios, report order")
    ap.add_argument("--meta", action="append", default=[], help="key=value header line")
    args = ap.parse_args()

    rows = load(args.tsv)
    servers = args.servers.split()
    runs = args.runs.split()
    meta = dict(m.split("=", 1) for m in args.meta)
    summary = summarise(rows, servers, runs)
    rounds = max((int(r["round"]) for r in rows if r["round"].isdigit()), default=0)

    md = ["# evserve load benchmark", ""]
    for key in ("date", "command", "nproc", "kernel", "cpu", "servers", "tls", "load", "setup",
                "loadavg"):
        if key in meta:
            value = f"`{meta[key]}`" if key == "command" else meta[key]
            md.append(f"- **{key}**: {value}")
    md += ["", "Medians over rounds. p99 from wrk's latency histogram (h2load: from its "
           "per-request log). CPU µs/req = server utime+stime (whole process tree, "
           "/proc/PID/stat) over the run divided by responses; server CPU % near 100 "
           "means the server's core was saturated, far below means the load generator "
           "(or the network path) was the limit. Ratios are evserve/this server.", ""]
    if any(srv == FLOOR for _, srv in summary):
        md[-1:-1] = ["", "floor = examples/floor.rs, the least mio keep-alive loop: one "
                     "fixed in-memory response per request, nothing parsed but the "
                     "request ends, nothing looked up. x floor = this server's CPU µs/req "
                     "divided by the floor's in the same scenario: what its real work "
                     "(parsing, file lookup, headers) costs on top of the bare "
                     "read/write loop (1.00 would be no overhead at all)."]
    if summary:
        md += main_table(summary, servers, runs)

    for scen, title, what in [
            ("idle", "Idle keep-alive connections", "every connection idle after one request"),
            ("mixed", "Idle and half-sent heads",
             "half the connections idle after one request, half stopped in the middle of "
             "a head (slowloris)"),
            ("tls-idle", "Idle HTTPS keep-alive connections",
             "every connection idle after a full TLS handshake (no resumption) and one "
             "request"),
            ("tls-half", "Half-sent TLS handshakes",
             "every connection sent the first 200 bytes of a ClientHello and waits")]:
        idle = idle_table(rows, servers, scen)
        if idle:
            md += ["", f"## {title}", "",
                   f"{what}. RSS is VmRSS summed over the server's processes (shared pages "
                   "counted per process); KiB/conn = (after − before) / connections still "
                   "open; fresh request = median of 5 new-connection requests while they "
                   "are held.", ""] + idle

    tls = tls_table(summary, rows, servers, runs)
    if tls:
        md += ["", "## HTTPS against the targets", "",
               "evserve's median over the best peer's in the same run (CPU: lower is "
               "better; GiB/s: higher). wrk is the bottleneck in the keep-alive runs, so "
               "compare CPU per response, not req/s.", ""] + tls

    strace = strace_table(rows, servers)
    if strace:
        md += ["", "## Syscalls per request (strace -c -f, ka-1k)", "",
               "Counted in a separate short pass under strace (which slows the server); "
               "only the counts are meaningful.", ""] + strace

    svg = chart(summary, servers, runs,
                f"requests/s vs connections (wrk -t1, 1 KiB, median of {rounds} round(s))")
    if svg:
        with open(args.svg, "w") as f:
            f.write(svg)
        md += ["", "## Requests/s against concurrent connections", "",
               "![requests/s vs concurrent connections](conns.svg)"]

    text = "\n".join(md) + "\n"
    with open(args.md, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
