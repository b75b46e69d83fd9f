#!/usr/bin/env python3
"""Turn benches/slowdisk/run.sh's results.tsv into results.md (also printed).

Standard library only.  One table per pass ("read": the delay on reads;
"all": on reads, opens and getattrs), then issue 18's targets for evserve.
"""

import argparse
import csv
import math
import statistics
import sys

PASS_TITLE = {
    "read": "delay on every read that reaches the filesystem",
    "all": "delay on every read, open and getattr (stat, name lookup)",
}
P99_TARGET_US = 1000
UNDER_LOAD_SHARE = 0.80
COLD_OVER_NGINX = 1.5


def num(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def ms(us):
    return "—" if us is None else f"{us / 1000:.2f}"


def rps(v):
    return "—" if v is None else f"{v:,.0f}"


def table(rows):
    out = ["| server | hot p50 / p99 ms alone | hot req/s alone → under load | "
           "hot p50 / p99 ms under load | hot max ms alone / load | cold MiB/s | note |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        a, l = num(r["alone_rps"]), num(r["load_rps"])
        share = f" ({l / a:.0%})" if a and l is not None else ""
        errs = [e for e in (r["alone_err"], r["load_err"], r["cold_errors"]) if e not in ("-", "0")]
        note = "" if r["note"] == "-" else r["note"].rstrip("; ")
        if errs:
            note = (note + "; " if note else "") + "errors (alone, load, cold): " + \
                ", ".join((r["alone_err"], r["load_err"], r["cold_errors"]))
        cold = r["cold_mib_s"]
        if cold != "-":
            cold += f" ({r['cold_files']} files)"
        out.append(f"| {r['server']} | {ms(num(r['alone_p50_us']))} / {ms(num(r['alone_p99_us']))} | "
                   f"{rps(a)} → {rps(l)}{share} | "
                   f"{ms(num(r['load_p50_us']))} / {ms(num(r['load_p99_us']))} | "
                   f"{ms(num(r['alone_max_us']))} / {ms(num(r['load_max_us']))} | {cold} | {note} |")
    return out


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**not met**")


def targets(by):
    """[(target, measured, verdict)] for evserve."""
    out = []
    ev = by.get(("read", "evserve"))
    if ev:
        p99 = num(ev["load_p99_us"])
        out.append(("hot p99 ≤ 1 ms under cold load (read delay)",
                    f"{ms(p99)} ms" + (f" ({p99 / P99_TARGET_US:.2f}x the bound)" if p99 is not None else ""),
                    verdict(None if p99 is None else p99 <= P99_TARGET_US)))
        a, l = num(ev["alone_rps"]), num(ev["load_rps"])
        share = l / a if a and l is not None else None
        out.append(("hot req/s under load ≥ 80% of alone (read delay)",
                    "—" if share is None else f"{rps(l)} / {rps(a)} = {share:.0%}",
                    verdict(None if share is None else share >= UNDER_LOAD_SHARE)))
        ng = by.get(("read", "nginx"))
        c, n = num(ev["cold_mib_s"]), num(ng["cold_mib_s"]) if ng else None
        x = c / n if c is not None and n else None
        out.append(("cold MiB/s ≥ 1.5x nginx aio threads (read delay)",
                    "—" if x is None else f"{c:.1f} / {n:.1f} = {x:.2f}x",
                    verdict(None if x is None else x >= COLD_OVER_NGINX)))
    ev = by.get(("all", "evserve"))
    if ev:
        p99 = num(ev["load_p99_us"])
        alone = num(ev["alone_p99_us"])
        out.append(("hot p99 ≤ 1 ms with the delay on open and getattr too (under cold load)",
                    f"{ms(p99)} ms under load, {ms(alone)} ms alone",
                    verdict(None if p99 is None else p99 <= P99_TARGET_US)))
    return out


NUMERIC = ("alone_rps", "alone_p50_us", "alone_p99_us", "alone_max_us", "alone_err",
           "load_rps", "load_p50_us", "load_p99_us", "load_max_us", "load_err",
           "cold_mib_s", "cold_files", "cold_errors", "cold_exhausted")


def medians(rows):
    """One row per (pass, server): the median of each figure over rounds (errors: the
    most in any round), notes joined, and how many rounds ran."""
    groups = {}
    for r in rows:
        groups.setdefault((r["pass"], r["server"]), []).append(r)
    out = []
    for (p, srv), sel in groups.items():
        m = {"pass": p, "server": srv}
        for k in NUMERIC:
            vals = [num(r[k]) for r in sel if num(r[k]) is not None]
            if not vals:
                m[k] = "-"
                continue
            v = max(vals) if k.endswith("err") or k.endswith("errors") or k == "cold_exhausted" \
                else statistics.median(vals)
            m[k] = f"{v:.2f}" if k == "cold_mib_s" else f"{v:.0f}"
        notes = sorted({r["note"] for r in sel if r["note"] not in ("-", "")})
        m["note"] = "; ".join(notes) if notes else "-"
        m["rounds"] = len(sel)
        out.append(m)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--meta", action="append", default=[], help="key=value, listed at the end")
    args = ap.parse_args()
    with open(args.tsv, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rows = medians(rows)
    by = {(r["pass"], r["server"]): r for r in rows}
    md = ["# evserve slow-disk benchmark (issue 18)", "",
          "A hot 1 KiB file fetched by one client (`hot.c`: one keep-alive connection, one "
          "request at a time), alone and while cold clients download never-read 1 MiB files "
          "through a slow FUSE filesystem (`tests/fusefs/gatefs.c`). Latencies from every "
          "request, request written to last byte read; cold MiB/s "
          "is what all cold clients received over their window, divided by it. Medians over "
          "rounds (cold files: median per round); the machine is shared, so read ratios within "
          "a pass.", ""]
    for p in ("read", "all"):
        sel = [r for r in rows if r["pass"] == p]
        if not sel:
            continue
        md += [f"## Pass \"{p}\": {PASS_TITLE[p]}", ""] + table(sel) + [""]
    t = targets(by)
    if t:
        md += ["## Targets (evserve, default --io-threads)", "",
               "| target | measured | |", "|---|---|---|"]
        md += [f"| {a} | {b} | {c} |" for a, b, c in t]
        md.append("")
    noise = [m.partition("=")[2] for m in args.meta if m.startswith("noise=")]
    if noise:
        md += ["Reference: " + noise[0] + ". A 1 ms p99 bound below this machine's own p99 "
               "cannot be told apart from the noise.", ""]
    md += ["evserve-io0 = the same binary with `--io-threads 0` (opens, stats and reads on the "
           "loop, as before the pool); nginx = `thread_pool default threads=32; aio threads; "
           "sendfile on;` with open_file_cache; lighttpd and h2o have no asynchronous disk I/O.", "",
           "## Conditions", ""]
    for m in args.meta:
        k, _, v = m.partition("=")
        md.append(f"- **{k}**: {v}")
    text = "\n".join(md) + "\n"
    with open(args.md, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
