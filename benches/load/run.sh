#!/usr/bin/env bash
# benches/load/run.sh: loopback load benchmark of evserve against nginx,
# lighttpd, h2o, (optionally) lwan, and the floor (examples/floor.rs: the least
# mio keep-alive loop, one fixed in-memory response).  Run with --help for the
# settings.
#
# Every server serves the same generated directory from its own port on
# 127.0.0.1, pinned to one CPU; the load generator (wrk / h2load / idle.py)
# is pinned to another.  Rounds are interleaved (round 1: every scenario on
# every server, round 2: ...) and the report shows medians over rounds.
#
# This script installs nothing.  Results go to results.md / results.tsv /
# conns.svg next to this script (or OUT_DIR).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
    cat <<'EOF'
Usage: benches/load/run.sh [--help]

Loopback HTTP/1.1 load benchmark: evserve vs nginx, lighttpd, h2o, lwan,
and the floor (examples/floor.rs: the least mio loop that answers keep-alive
requests, with one fixed in-memory 1 KiB response; a yardstick of the CPU a
request costs with no real work done).  The floor runs only in ka-1k,
pipelined and the strace pass; the report's "x floor" column divides each
server's CPU/request by the floor's.
Needs (installs nothing): wrk, curl, taskset, python3; optional h2load
(nghttp2-client; "pipelined" scenario), strace (STRACE=1), nginx, lighttpd,
h2o (a missing peer is skipped).  Run as root for the server fd limits.

All settings come from the environment:
  QUICK=1            smoke run: DURATION=2 ROUNDS=1 CONNS="100 1000"
                     IDLE_CONNS=500 (explicit settings still win)
  DURATION=5         seconds per load run
  ROUNDS=3           interleaved rounds; the report shows the median
  SCENARIOS="ka-1k pipelined ka-1m big-100m close conns idle mixed"
                     ka-1k      wrk -c100, keep-alive, /1k.bin
                     pipelined  h2load --h1 -c100 -m10, /1k.bin
                     ka-1m      wrk -c10, /1m.bin
                     big-100m   wrk -c2, /100m.bin
                     close      wrk -c50 'Connection: close', /1k.bin
                     conns      wrk -cN for each N in CONNS, /1k.bin
                     mixed      IDLE_CONNS connections, half idle after a
                                request, half stopped in the middle of a
                                head (slowloris): RSS per connection
                     idle       IDLE_CONNS idle keep-alive connections:
                                RSS per connection, fresh-request latency
  CONNS="100 1000 10000"   connection counts of the conns scenario
  IDLE_CONNS=5000    idle connections held by the idle scenario
  IDLE_DEADLINE=60   seconds allowed for opening them
  SERVERS="evserve floor nginx lighttpd h2o lwan"   servers to try
  STRACE=0           1: extra pass, strace -c -f during a short ka-1k run,
                     reports syscalls per request (strace slows servers;
                     the pass is only for counts)
  STRACE_DURATION=3  seconds of that pass
  EVSERVE_BIN=       evserve binary (default: target/release/evserve,
                     rebuilt with cargo build --release when older than
                     src/ or missing)
  EVSERVE_ARGS=      extra evserve arguments, e.g. "--workers 2"
  FLOOR_BIN=         floor binary (default: target/release/examples/floor,
                     rebuilt with cargo build --release --example floor
                     when older than examples/floor.rs or missing)
  NO_BUILD=0         1: never run cargo build
  LWAN_BIN=          lwan binary (lwan is not packaged; skipped if unset)
  SERVER_CPU=0       CPU(s) the servers are pinned to (a taskset list: 0, 0-1)
  LOAD_CPU=1         CPU(s) the load generators are pinned to
  BASE_PORT=18080    evserve port; nginx +1, lighttpd +2, h2o +3, lwan +4,
                     floor +5
  WRK_TIMEOUT=5s     wrk per-request timeout
  COOLDOWN=1         seconds of pause between runs
  OUT_DIR=<script dir>   where results.md, results.tsv, conns.svg go
  KEEP_TMP=0         1: keep the temp dir (configs, logs) for inspection

Example:  QUICK=1 benches/load/run.sh
          SERVERS="evserve floor" SCENARIOS="ka-1k pipelined" QUICK=1 benches/load/run.sh
          STRACE=1 EVSERVE_ARGS="--workers 1" benches/load/run.sh
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "run.sh: unexpected argument '$1' (settings are env vars)" >&2
       usage >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- settings --

# Remember which settings the caller passed, for the report's command line.
SETTING_NAMES=(QUICK DURATION ROUNDS SCENARIOS CONNS IDLE_CONNS IDLE_DEADLINE
    SERVERS STRACE STRACE_DURATION EVSERVE_BIN EVSERVE_ARGS FLOOR_BIN NO_BUILD LWAN_BIN
    SERVER_CPU LOAD_CPU BASE_PORT WRK_TIMEOUT COOLDOWN OUT_DIR KEEP_TMP)
CMDLINE=""
for v in "${SETTING_NAMES[@]}"; do
    if [[ -n ${!v+set} ]]; then CMDLINE+="$v=$(printf '%q' "${!v}") "; fi
done
CMDLINE+="benches/load/run.sh"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    : "${DURATION:=2}" "${ROUNDS:=1}" "${CONNS:=100 1000}"
    : "${IDLE_CONNS:=500}" "${IDLE_DEADLINE:=20}"
fi
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-ka-1k pipelined ka-1m big-100m close conns idle mixed}
CONNS=${CONNS:-100 1000 10000}
IDLE_CONNS=${IDLE_CONNS:-5000}
IDLE_DEADLINE=${IDLE_DEADLINE:-60}
SERVERS=${SERVERS:-evserve floor nginx lighttpd h2o lwan}
STRACE=${STRACE:-0}
STRACE_DURATION=${STRACE_DURATION:-3}
EVSERVE_BIN=${EVSERVE_BIN:-}
EVSERVE_ARGS=${EVSERVE_ARGS:-}
FLOOR_BIN=${FLOOR_BIN:-}
NO_BUILD=${NO_BUILD:-0}
LWAN_BIN=${LWAN_BIN:-}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-18080}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
COOLDOWN=${COOLDOWN:-1}
OUT_DIR=${OUT_DIR:-$HERE}
KEEP_TMP=${KEEP_TMP:-0}

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "$*" >&2; }   # progress goes to stderr; the table to stdout

for v in DURATION ROUNDS IDLE_CONNS IDLE_DEADLINE STRACE_DURATION BASE_PORT COOLDOWN; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
# CPU sets are taskset lists ("0", "0,1", "0-1"): several CPUs let `--workers N` spread.
for v in SERVER_CPU LOAD_CPU; do
    [[ ${!v} =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "$v must be a CPU list like 0 or 0-1 (got '${!v}')"
done
((DURATION >= 1 && ROUNDS >= 1)) || die "DURATION and ROUNDS must be >= 1"
for n in $CONNS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad CONNS entry '$n'"; done
((BASE_PORT >= 1024 && BASE_PORT <= 65530)) || die "BASE_PORT out of range"

for tool in wrk curl taskset python3 ps ss timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (this script installs nothing)"
done
NCPU=$(nproc)
for cpu in ${SERVER_CPU//[,-]/ } ${LOAD_CPU//[,-]/ }; do
    ((cpu < NCPU)) || die "SERVER_CPU/LOAD_CPU must name CPUs below nproc ($NCPU)"
done
CLK_TCK=$(getconf CLK_TCK)

# Many connections need many descriptors: raise the soft limit to the hard
# one (servers and load generators inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
((NOFILE > 1048576)) && NOFILE=1048576
for n in $CONNS $IDLE_CONNS; do
    ((n + 64 <= NOFILE)) || say "warning: $n connections need more than the fd limit ($NOFILE)"
done
# Per-server connection caps (peers only): leave room for files and listeners.
MAXCONN=$((NOFILE - 64))

# ------------------------------------------------------ process bookkeeping --

declare -A PORT=([evserve]=$BASE_PORT [nginx]=$((BASE_PORT + 1))
    [lighttpd]=$((BASE_PORT + 2)) [h2o]=$((BASE_PORT + 3)) [lwan]=$((BASE_PORT + 4))
    [floor]=$((BASE_PORT + 5)))
declare -A PID=()     # server name -> pid of the process we started
ACTIVE=()             # servers that started and passed the checks
STRACE_PID=""
WORK=""

# tree_pids ROOT: ROOT and all its descendants (nginx master + workers).
tree_pids() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            if (!(root in parent)) exit
            want[root] = 1
            do {
                grown = 0
                for (p in parent)
                    if (!(p in want) && (parent[p] in want)) { want[p] = 1; grown = 1 }
            } while (grown)
            for (p in want) print p
        }'
}

# cpu_ticks PID...: summed utime+stime (fields 14 and 15 of /proc/PID/stat,
# in clock ticks; a process line covers all of its threads).
cpu_ticks() {
    local total=0 pid line
    local -a f
    for pid in "$@"; do
        read -r line 2>/dev/null <"/proc/$pid/stat" || continue   # gone
        # The command name (field 2) may contain spaces: split after ')'.
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))   # f[0] is field 3
    done
    echo "$total"
}

# running PID: the process exists and is not a zombie (a server that
# exited stays a zombie until we wait for it).
running() {
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    [[ ${line##*) } != Z* ]]
}

alive() { [[ -n ${PID[$1]:-} ]] && running "${PID[$1]}"; }

# stop_server NAME: TERM the server's process tree, KILL what is left.
stop_server() {
    local name=$1 pid=${PID[$1]:-} pids p i
    [[ -n $pid ]] || return 0
    pids=$(tree_pids "$pid")
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        running "$pid" || break
        sleep 0.1
    done
    for p in $pids; do
        if running "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    if [[ -n $STRACE_PID ]]; then kill -INT "$STRACE_PID" 2>/dev/null || true; fi
    for name in "${!PID[@]}"; do stop_server "$name"; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP_TMP == 1 ]]; then say "kept temp dir $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- test data --

WORK=$(mktemp -d -t evserve-load.XXXXXX)
chmod 755 "$WORK"
WWW=$WORK/www
mkdir -p "$WWW" "$WORK/conf" "$WORK/run" "$WORK/log" "$WORK/nginx/tmp"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$WWW/1m.bin"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WWW/100m.bin"
printf '<!doctype html>\n<title>evserve load bench</title>\n<p>hello</p>\n' >"$WWW/index.html"
chmod 644 "$WWW"/*
# Warm the page cache so the first server measured pays no disk reads.
cat "$WWW"/* >/dev/null

# wrk reports through this Lua hook (defining only done() keeps wrk on its
# static-request fast path).  Latencies are in microseconds.
cat >"$WORK/conf/report.lua" <<'EOF'
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d %d %d %d\n",
    s.requests, s.duration, s.bytes, latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# ----------------------------------------------------------- server configs --
# One worker, access logs off, keep-alive with huge request limits and long
# idle timeouts, sendfile where the server has it, listen backlog 4096 (the
# kernel's somaxconn default) where configurable, connection caps near the
# fd limit.  Everything runs in the foreground as root with pid files in the
# temp dir.

write_nginx_conf() {
    local port=$1 conf=$WORK/conf/nginx.conf
    cat >"$conf" <<EOF
# generated by benches/load/run.sh
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
user root root;
pid $WORK/run/nginx.pid;
error_log $WORK/log/nginx-error.log warn;

events {
    worker_connections $MAXCONN;
    multi_accept on;
    use epoll;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;

    server {
        listen 127.0.0.1:$port backlog=4096;
        server_name _;
        root $WWW;
        index index.html;
    }
}
EOF
    SERVER_CMD=(nginx -p "$WORK/nginx/" -e "$WORK/log/nginx-error.log" -c "$conf")
}

write_lighttpd_conf() {
    local port=$1 conf=$WORK/conf/lighttpd.conf
    cat >"$conf" <<EOF
# generated by benches/load/run.sh (single process; no mod_accesslog = no access log)
server.document-root = "$WWW"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$WORK/run/lighttpd.pid"
server.errorlog = "$WORK/log/lighttpd-error.log"
server.max-worker = 0
server.max-fds = $NOFILE
# lighttpd caps connections at max-fds / 2
server.max-connections = $((NOFILE / 2))
server.listen-backlog = 4096
server.event-handler = "linux-sysepoll"
server.network-backend = "sendfile"
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 300
server.max-read-idle = 300
server.max-write-idle = 300
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )
EOF
    SERVER_CMD=(lighttpd -D -f "$conf")
}

write_h2o_conf() {
    local port=$1 conf=$WORK/conf/h2o.conf
    cat >"$conf" <<EOF
# generated by benches/load/run.sh (no access-log directive = no access log)
num-threads: 1
max-connections: $MAXCONN
http1-request-timeout: 300
user: root
pid-file: $WORK/run/h2o.pid
error-log: $WORK/log/h2o-error.log
listen:
  host: 127.0.0.1
  port: $port
hosts:
  "127.0.0.1:$port":
    paths:
      /:
        file.dir: $WWW
EOF
    SERVER_CMD=(h2o -m worker -c "$conf")
}

write_lwan_conf() {
    local port=$1 conf
    # lwan reads <binary name>.conf from its working directory; newer
    # versions also take -c.
    conf=$WORK/run/lwan/$(basename "$LWAN_BIN").conf
    mkdir -p "$WORK/run/lwan"
    cat >"$conf" <<EOF
# generated by benches/load/run.sh
keep_alive_timeout = 300
threads = 1
quiet = true
listener 127.0.0.1:$port {
    serve_files / {
        path = $WWW
        serve_precompressed_path = false
        auto_index = false
    }
}
EOF
    SERVER_CMD=("$LWAN_BIN")
    local help
    help=$("$LWAN_BIN" --help 2>&1 || true)   # lwan --help exits 1
    if [[ $help == *--config* ]]; then SERVER_CMD+=(-c "$conf"); fi
}

# evserve_binary: sets EVSERVE_BIN, building it when needed, and copies it
# into the temp dir so a rebuild during the benchmark cannot swap it (the
# idle scenario restarts servers).  Fails when there is no usable binary.
EVSERVE_COPY=""
evserve_binary() {
    if [[ -n $EVSERVE_COPY ]]; then return 0; fi
    resolve_evserve || return 1
    EVSERVE_COPY=$WORK/bin/evserve
    mkdir -p "$WORK/bin"
    cp "$EVSERVE_BIN" "$EVSERVE_COPY"
    say "evserve: benchmarking a copy of $EVSERVE_BIN"
}

resolve_evserve() {
    if [[ -n $EVSERVE_BIN ]]; then
        [[ -x $EVSERVE_BIN ]] || { say "evserve: EVSERVE_BIN=$EVSERVE_BIN is not executable"; return 1; }
        return 0
    fi
    EVSERVE_BIN=$REPO/target/release/evserve
    local stale=""
    if [[ -x $EVSERVE_BIN ]]; then
        stale=$(find "$REPO/src" "$REPO/Cargo.toml" "$REPO/Cargo.lock" \
            -newer "$EVSERVE_BIN" -print -quit 2>/dev/null || true)
    fi
    if [[ ! -x $EVSERVE_BIN || -n $stale ]]; then
        if [[ $NO_BUILD == 1 ]]; then
            [[ -x $EVSERVE_BIN ]] || { say "evserve: no binary and NO_BUILD=1"; return 1; }
            say "evserve: binary older than sources, NO_BUILD=1: using it anyway"
        elif ! command -v cargo >/dev/null; then
            say "evserve: cargo not found"; return 1
        else
            say "evserve: cargo build --release ..."
            if ! (cd "$REPO" && cargo build --release) >"$WORK/log/cargo.log" 2>&1; then
                say "evserve: build failed (last lines of the log follow)"
                tail -n 15 "$WORK/log/cargo.log" >&2
                return 1
            fi
        fi
    fi
    [[ -x $EVSERVE_BIN ]]
}

# floor_binary: sets FLOOR_COPY to a copy of the floor example (built with
# cargo when missing or older than its source), like evserve_binary.
FLOOR_COPY=""
floor_binary() {
    if [[ -n $FLOOR_COPY ]]; then return 0; fi
    if [[ -z $FLOOR_BIN ]]; then
        FLOOR_BIN=$REPO/target/release/examples/floor
        local stale=""
        if [[ -x $FLOOR_BIN ]]; then
            stale=$(find "$REPO/examples/floor.rs" "$REPO/Cargo.lock" -newer "$FLOOR_BIN" -print -quit 2>/dev/null || true)
        fi
        if [[ $NO_BUILD != 1 && (! -x $FLOOR_BIN || -n $stale) ]] && command -v cargo >/dev/null; then
            say "floor: cargo build --release --example floor ..."
            if ! (cd "$REPO" && cargo build --release --example floor) >>"$WORK/log/cargo.log" 2>&1; then
                say "floor: build failed (last lines of the log follow)"
                tail -n 15 "$WORK/log/cargo.log" >&2
                return 1
            fi
        fi
    fi
    [[ -x $FLOOR_BIN ]] || { say "floor: no binary at $FLOOR_BIN"; return 1; }
    FLOOR_COPY=$WORK/bin/floor
    mkdir -p "$WORK/bin"
    cp "$FLOOR_BIN" "$FLOOR_COPY"
    say "floor: benchmarking a copy of $FLOOR_BIN"
}

# serves NAME SCENARIO: can this server run the scenario?  The floor answers
# every request with the same 1 KiB, keep-alive only (it ignores
# "Connection: close" and has no files, so 1m/100m, close and idle are out;
# the conns counts would also measure its small listen backlog).
serves() {
    [[ $1 != floor ]] && return 0
    case $2 in ka-1k | pipelined | strace) return 0 ;; *) return 1 ;; esac
}

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# fetch_check PORT FILE: 200 with the file's exact size?
fetch_check() {
    local port=$1 file=$2 want got
    want=$(stat -c %s "$WWW/$file")
    got=$(curl -s -o /dev/null --max-time 30 -w '%{http_code} %{size_download}' \
        "http://127.0.0.1:$port/$file" || true)
    if [[ $got != "200 $want" ]]; then
        say "  /$file: expected '200 $want', got '${got:-nothing}'"
        return 1
    fi
}

# launch_server NAME: write its config, start it pinned to SERVER_CPU and
# wait until it answers on its port.
launch_server() {
    local name=$1 port=${PORT[$1]} i
    case $name in
        evserve) evserve_binary || return 1
                 local -a extra=()
                 read -r -a extra <<<"$EVSERVE_ARGS"
                 SERVER_CMD=("$EVSERVE_COPY" "$WWW" --bind 127.0.0.1 --port "$port"
                     --request-timeout 300 --idle-timeout 300 "${extra[@]}") ;;
        nginx | lighttpd | h2o)
                 command -v "$name" >/dev/null || { say "$name: not installed, skipped"; return 1; }
                 "write_${name}_conf" "$port" ;;
        floor)   floor_binary || return 1
                 SERVER_CMD=("$FLOOR_COPY" --port "$port" --body-bytes "$(stat -c %s "$WWW/1k.bin")") ;;
        lwan)    [[ -n $LWAN_BIN ]] || { say "lwan: LWAN_BIN not set, skipped"; return 1; }
                 [[ -x $LWAN_BIN ]] || { say "lwan: $LWAN_BIN not executable, skipped"; return 1; }
                 write_lwan_conf "$port" ;;
        *)       say "$name: unknown server, skipped"; return 1 ;;
    esac
    if port_busy "$port"; then
        say "$name: port $port already in use, skipped"; return 1
    fi
    mkdir -p "$WORK/run/$name"
    say "$name: starting on 127.0.0.1:$port: ${SERVER_CMD[*]}"
    (cd "$WORK/run/$name" && exec taskset -c "$SERVER_CPU" "${SERVER_CMD[@]}") \
        >>"$WORK/log/$name.out" 2>&1 </dev/null &
    PID[$name]=$!
    for ((i = 0; i < 100; i++)); do
        if ! alive "$name"; then
            say "$name: exited during startup; its output:"
            tail -n 20 "$WORK/log/$name.out" >&2
            unset "PID[$name]"; return 1
        fi
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/index.html" && return 0
        sleep 0.1
    done
    say "$name: not answering on port $port after 10 s"
    stop_server "$name"; return 1
}

# start_server NAME: launch, then check every file comes back as a 200 of
# the right size and that keep-alive works.  A failing server is stopped
# and none of its runs happen.
start_server() {
    local name=$1 port=${PORT[$1]} file ok=1 conns files="index.html 1k.bin 1m.bin 100m.bin"
    launch_server "$name" || return 1
    [[ $name == floor ]] && files=1k.bin   # its one response is the 1 KiB file's size
    for file in $files; do
        fetch_check "$port" "$file" || ok=0
    done
    # Keep-alive check: the second fetch must reuse the first connection.
    conns=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' \
        "http://127.0.0.1:$port/1k.bin" "http://127.0.0.1:$port/1k.bin" || true)
    [[ $conns == "1 0 " ]] || say "  warning: $name did not keep the connection alive (connects: $conns)"
    if ((!ok)); then
        say "$name: wrong responses, its runs are skipped"
        stop_server "$name"; return 1
    fi
    say "$name: ok (pids $(tree_pids "${PID[$name]}" | tr '\n' ' '))"
}

# ------------------------------------------------------------- load runners --
# Each runner sets R_REQ (responses), R_SECS, R_BYTES, R_P99 (µs), R_ERR.

LIMIT=$((DURATION + 60))   # hard wall-clock bound on any single load run

run_wrk() {   # run_wrk PORT CONNS PATH [wrk args...]
    local port=$1 conns=$2 path=$3 out line
    shift 3
    local -a r
    out=$(timeout --foreground -k 5 "$LIMIT" taskset -c "$LOAD_CPU" \
        wrk -t1 -c"$conns" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" \
        -s "$WORK/conf/report.lua" "$@" "http://127.0.0.1:$port$path" 2>&1) || true
    line=$(grep -m1 '^RESULT ' <<<"$out" || true)
    if [[ -z $line ]]; then
        say "  wrk failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        return 1
    fi
    read -r -a r <<<"$line"
    R_REQ=${r[1]}
    R_SECS=$(awk -v us="${r[2]}" 'BEGIN { printf "%.3f", us / 1e6 }')
    R_BYTES=${r[3]}
    R_P99=${r[4]}
    R_ERR=$((r[5] + r[6] + r[7] + r[8] + r[9]))
}

run_h2load() {   # run_h2load PORT PATH
    local port=$1 path=$2 out log=$WORK/log/h2load-requests.tsv n idx
    rm -f "$log"
    out=$(timeout --foreground -k 5 "$LIMIT" taskset -c "$LOAD_CPU" \
        h2load --h1 -t1 -c100 -m10 -D "$DURATION" --log-file="$log" \
        "http://127.0.0.1:$port$path" 2>&1) || true
    # requests: 9 total, 9 started, 9 done, 9 succeeded, 0 failed, 0 errored, 0 timeout
    if ! grep -q '^requests: ' <<<"$out"; then
        say "  h2load failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        return 1
    fi
    R_REQ=$(awk '/^requests: / { print $6 }' <<<"$out")
    # errors: failed + errored + timed out requests, plus 4xx/5xx responses
    # ("status codes: N 2xx, N 3xx, N 4xx, N 5xx").
    R_ERR=$(awk '/^requests: / { e += $10 + $12 + $14 }
                 /^status codes: / { e += $7 + $9 } END { print e + 0 }' <<<"$out")
    R_BYTES=$(awk '/^traffic: / { gsub(/[()]/, "", $3); print $3 }' <<<"$out")
    R_SECS=$(awk '/^finished in / { v = $3; sub(/,$/, "", v)
        if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else sub(/s$/, "", v)
        printf "%.3f", v }' <<<"$out")
    # p99 from the per-request log (third column: µs until end of response).
    R_P99=-
    n=$(wc -l <"$log" 2>/dev/null || echo 0)
    if ((n > 0)); then
        idx=$(((n * 99 + 99) / 100))
        R_P99=$(cut -f3 "$log" | sort -n | sed -n "${idx}p")
    fi
    rm -f "$log"
}

TSV=$OUT_DIR/results.tsv
mkdir -p "$OUT_DIR"
printf 'round\tscenario\tserver\tconns\trequests\tsecs\trps\tp99_us\tgib_s\tcpu_us_req\tcpu_pct\terrors\tsyscalls_req\tidle_kib_conn\tidle_alive\tfresh_ms\tnote\n' >"$TSV"

# tsv_row FIELD...: append one row, "-" for missing values.
tsv_row() { (IFS=$'\t'; echo "$*") >>"$TSV"; }

# measure ROUND SCENARIO SERVER: one bounded load run with CPU accounting.
measure() {
    local round=$1 scen=$2 name=$3 port=${PORT[$3]} conns c0 c1 pids
    local -a args
    case $scen in
        ka-1k)     conns=100; args=(run_wrk "$port" 100 /1k.bin) ;;
        pipelined) conns=100; args=(run_h2load "$port" /1k.bin) ;;
        ka-1m)     conns=10;  args=(run_wrk "$port" 10 /1m.bin) ;;
        big-100m)  conns=2;   args=(run_wrk "$port" 2 /100m.bin) ;;
        close)     conns=50;  args=(run_wrk "$port" 50 /1k.bin -H 'Connection: close') ;;
        conns-*)   conns=${scen#conns-}; args=(run_wrk "$port" "$conns" /1k.bin) ;;
    esac
    # CPU of the whole process tree; a pid that appears during the run
    # (a respawned worker) is counted from zero.
    pids=$(tree_pids "${PID[$name]}")
    # shellcheck disable=SC2086  # the pid lists are meant to be split
    c0=$(cpu_ticks $pids)
    if ! "${args[@]}"; then
        tsv_row "$round" "$scen" "$name" "$conns" - - - - - - - - - - - - "load generator failed"
        return 0
    fi
    # shellcheck disable=SC2086,SC2046
    pids=$(printf '%s\n' $pids $(tree_pids "${PID[$name]}") | sort -un)
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $pids)
    local rps gib cpu_us pct
    read -r rps gib cpu_us pct < <(awk -v n="$R_REQ" -v s="$R_SECS" -v b="$R_BYTES" \
        -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {
            rps = s > 0 ? n / s : 0
            gib = s > 0 ? b / s / 1073741824 : 0
            cpu = n > 0 ? t / hz * 1e6 / n : 0
            pct = s > 0 ? 100 * t / hz / s : 0
            printf "%.1f %.4f %.3f %.1f\n", rps, gib, cpu, pct }')
    tsv_row "$round" "$scen" "$name" "$conns" "$R_REQ" "$R_SECS" "$rps" "$R_P99" \
        "$gib" "$cpu_us" "$pct" "$R_ERR" - - - - -
    say "$(printf '  %-10s %-9s %11s req/s  p99 %8s us  %7s GiB/s  cpu %7s us/req (%5s%%)  errors %s' \
        "$scen" "$name" "$rps" "$R_P99" "$gib" "$cpu_us" "$pct" "$R_ERR")"
}

# idle_run ROUND SERVER SCENARIO: hold IDLE_CONNS idle keep-alive connections
# (scenario "mixed": half of them in the middle of a head instead).  The
# server is restarted first: after the load runs its heap sits at a
# high-water mark that would hide the per-connection cost.
idle_run() {
    local round=$1 name=$2 scen=$3 port=${PORT[$2]} out line kib alive fresh held
    local -a split=(--conns "$IDLE_CONNS")
    [[ $scen == mixed ]] && split=(--conns $((IDLE_CONNS - IDLE_CONNS / 2)) --half-heads $((IDLE_CONNS / 2)))
    stop_server "$name"
    if ! launch_server "$name"; then
        say "  $name: restart for the idle scenario failed"; return 0
    fi
    sleep 0.5
    out=$(timeout --foreground -k 5 $((IDLE_DEADLINE + 60)) taskset -c "$LOAD_CPU" \
        python3 "$HERE/idle.py" --port "$port" "${split[@]}" \
        --deadline "$IDLE_DEADLINE" --pids "$(tree_pids "${PID[$name]}" | tr '\n' ' ')" 2>&1) || true
    line=$(grep -m1 '^IDLE ' <<<"$out" || true)
    if [[ -z $line ]]; then
        say "  idle failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        tsv_row "$round" "$scen" "$name" "$IDLE_CONNS" - - - - - - - - - - - - "idle client failed"
        return 0
    fi
    # IDLE held=N alive=M rss_before_kib=A rss_after_kib=B kib_per_conn=K fresh_ms=F
    held=$(sed -E 's/.* held=([^ ]+).*/\1/' <<<"$line")
    alive=$(sed -E 's/.* alive=([^ ]+).*/\1/' <<<"$line")
    kib=$(sed -E 's/.* kib_per_conn=([^ ]+).*/\1/' <<<"$line")
    fresh=$(sed -E 's/.* fresh_ms=([^ ]+).*/\1/' <<<"$line")
    tsv_row "$round" "$scen" "$name" "$IDLE_CONNS" - - - - - - - - - "$kib" "$alive" "$fresh" \
        "$(sed -E 's/^IDLE //; s/ /,/g' <<<"$line")"
    say "$(printf '  %-10s %-9s held %s, still open %s, %s KiB/conn, fresh request %s ms' \
        "$scen" "$name" "$held" "$alive" "$kib" "$fresh")"
    grep -v '^IDLE ' <<<"$out" | sed 's/^/    /' >&2 || true
}

# strace_run SERVER: syscall count of all server threads during a short
# ka-1k run.  Only the counts are used; strace slows the server a lot.
strace_run() {
    local name=$1 port=${PORT[$1]} out=$WORK/log/strace-$1.txt p total top saved
    local -a pargs=()
    for p in $(tree_pids "${PID[$name]}"); do pargs+=(-p "$p"); done
    strace -c -f -o "$out" "${pargs[@]}" 2>"$WORK/log/strace-$name.err" &
    STRACE_PID=$!
    sleep 1   # let strace attach to every thread
    saved=$DURATION
    DURATION=$STRACE_DURATION
    if ! run_wrk "$port" 100 /1k.bin; then R_REQ=0; fi
    DURATION=$saved
    kill -INT "$STRACE_PID" 2>/dev/null || true
    wait "$STRACE_PID" 2>/dev/null || true
    STRACE_PID=""
    # Summary table: "% time seconds usecs/call calls [errors] syscall";
    # the last line is the total.
    total=$(awk '$NF == "total" { print $4 }' "$out" 2>/dev/null || true)
    if [[ -z $total || $R_REQ == 0 ]]; then
        say "  strace $name: no data ($(head -c 300 "$WORK/log/strace-$name.err" | tr '\n' ' '))"
        tsv_row s strace-ka-1k "$name" 100 - - - - - - - - - - - - "strace failed"
        return 0
    fi
    # Top five syscalls by count, as name=calls/request.
    top=$(awk -v n="$R_REQ" '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %s\n", $4, $NF }' "$out" |
        sort -rn | head -n 5 | awk -v n="$R_REQ" '{ printf "%s%s=%.2f", (NR > 1 ? " " : ""), $2, $1 / n }')
    local per
    per=$(awk -v t="$total" -v n="$R_REQ" 'BEGIN { printf "%.2f", t / n }')
    tsv_row s strace-ka-1k "$name" 100 "$R_REQ" "$R_SECS" - - - - - - "$per" - - - "$top"
    say "  strace     $(printf '%-9s' "$name") $total syscalls / $R_REQ requests = $per per request ($top)"
}

# -------------------------------------------------------------------- main --

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "evserve load benchmark: $CMDLINE"
say "workdir $WORK, fd limit $NOFILE, server CPU $SERVER_CPU, load CPU $LOAD_CPU"
for name in $SERVERS; do
    if start_server "$name"; then ACTIVE+=("$name"); fi
done
((${#ACTIVE[@]} > 0)) || die "no server could be started"

# Expand the scenario list (conns -> conns-N; drop what cannot run).
RUNS=()
for scen in $SCENARIOS; do
    case $scen in
        conns) for n in $CONNS; do RUNS+=("conns-$n"); done ;;
        pipelined)
            if command -v h2load >/dev/null; then RUNS+=(pipelined)
            else say "h2load not installed: pipelined scenario skipped"; fi ;;
        ka-1k | ka-1m | big-100m | close | idle | mixed) RUNS+=("$scen") ;;
        *) die "unknown scenario '$scen'" ;;
    esac
done

for ((round = 1; round <= ROUNDS; round++)); do
    say "== round $round/$ROUNDS"
    for scen in "${RUNS[@]}"; do
        # Rotate the server order each round so no server always goes first.
        n=${#ACTIVE[@]}
        for ((k = 0; k < n; k++)); do
            name=${ACTIVE[$(((k + round - 1) % n))]}
            serves "$name" "$scen" || continue
            if ! alive "$name"; then
                say "  $name is no longer running (see its log); skipped"
                continue
            fi
            if [[ $scen == idle || $scen == mixed ]]; then idle_run "$round" "$name" "$scen"
            else measure "$round" "$scen" "$name"; fi
            alive "$name" || say "  $name DIED during $scen; output: $(tail -n 5 "$WORK/log/$name.out" | tr '\n' ' ')"
            sleep "$COOLDOWN"
        done
    done
done

if [[ $STRACE == 1 ]]; then
    if command -v strace >/dev/null; then
        say "== strace pass (${STRACE_DURATION}s ka-1k per server)"
        for name in "${ACTIVE[@]}"; do
            alive "$name" && serves "$name" strace && strace_run "$name"
            sleep "$COOLDOWN"
        done
    else
        say "strace not installed: syscall pass skipped"
    fi
fi

# ------------------------------------------------------------------ report --

CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
VERSIONS=""
for name in "${ACTIVE[@]}"; do
    case $name in
        nginx) v=$(nginx -v 2>&1 | sed 's/.*: //') ;;
        lighttpd) v=$(lighttpd -v 2>&1 | head -n1 | awk '{ print $1 }') ;;
        h2o) v="h2o/$(h2o --version 2>&1 | head -n1 | awk '{ print $3 }')" ;;
        floor) v="floor (examples/floor.rs)" ;;
        evserve) v="evserve ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')${EVSERVE_ARGS:+ $EVSERVE_ARGS})" ;;
        *) v=$name ;;
    esac
    VERSIONS+="${VERSIONS:+, }$v"
done
python3 "$HERE/report.py" --tsv "$TSV" --md "$OUT_DIR/results.md" --svg "$OUT_DIR/conns.svg" \
    --servers "${ACTIVE[*]}" --runs "${RUNS[*]}" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    --meta "command=$CMDLINE" \
    --meta "nproc=$NCPU" \
    --meta "kernel=$(uname -r)" \
    --meta "cpu=$CPU_MODEL" \
    --meta "servers=$VERSIONS" \
    --meta "load=wrk $(wrk -v 2>&1 | head -n1 | awk '{ print $2 }'), $(command -v h2load >/dev/null && h2load --version | head -n1 || echo 'no h2load')" \
    --meta "loadavg=$LOADAVG_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end (1/5/15 min; other work on the machine skews results)" \
    --meta "setup=servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU, ${DURATION}s per run, $ROUNDS round(s), median shown"
say "wrote $OUT_DIR/results.md, $TSV, $OUT_DIR/conns.svg"
