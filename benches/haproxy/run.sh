#!/usr/bin/env bash
# benches/haproxy/run.sh: throughput through a real HAProxy (TCP mode, round robin,
# send-proxy-v2) in front of two evserve instances started with --proxy-protocol, against
# one evserve reached directly, each a bounded `wrk -d$SECONDS_EACH` run on 127.0.0.1.
# Installs nothing; needs haproxy and wrk. Build first: cargo build --release.
#
#   benches/haproxy/run.sh            # 5 s each, 2 wrk threads, 50 connections
#   SECONDS_EACH=5 CONNS=100 benches/haproxy/run.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${EVSERVE:-$REPO/target/release/evserve}
SECONDS_EACH=${SECONDS_EACH:-5}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
for tool in haproxy wrk curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root"
head -c 1024 /dev/zero | tr '\0' x > "$WORK/root/1k.html"

# A free loopback port (the kernel's pick, released at once).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_evserve() { # name port [flags]
    local name=$1 port=$2; shift 2
    "$BIN" "$WORK/root" --bind 127.0.0.1 --port "$port" --access-log "$WORK/$name.log" "$@" 2>"$WORK/$name.err" &
    PIDS+=($!)
}
wait_port() { # port
    for _ in $(seq 200); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1" >&2; exit 1
}

A=$(free_port); B=$(free_port); D=$(free_port); H=$(free_port)
start_evserve a "$A" --proxy-protocol
start_evserve b "$B" --proxy-protocol
start_evserve direct "$D"
cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind 127.0.0.1:$H
  default_backend evserve
backend evserve
  balance roundrobin
  server a 127.0.0.1:$A send-proxy-v2
  server b 127.0.0.1:$B send-proxy-v2
CFG
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.out" 2>&1 &
PIDS+=($!)
for p in "$A" "$B" "$D" "$H"; do wait_port "$p"; done

run() { # label port
    local out
    out=$(timeout $((SECONDS_EACH + 10)) wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" "http://127.0.0.1:$2/1k.html")
    printf '%-26s %12s req/s  latency avg %s\n' "$1" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '/Latency/ {print $2}' <<<"$out")"
}
echo "wrk -t$THREADS -c$CONNS -d${SECONDS_EACH}s, GET /1k.html (keep-alive), $(nproc) cores shared by all"
run "direct (one evserve)" "$D"
run "haproxy -> 2 x evserve" "$H"
la=$(wc -l <"$WORK/a.log"); lb=$(wc -l <"$WORK/b.log")
echo "access-log lines: instance a $la, instance b $lb; first client fields: $(head -c 15 "$WORK/a.log" | cut -d' ' -f1), $(head -c 15 "$WORK/b.log" | cut -d' ' -f1)"
