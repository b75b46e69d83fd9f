#!/usr/bin/env bash
# benches/slowdisk/run.sh: a hot file's latency while cold files come off a
# slow disk (issue 18), evserve against nginx (aio threads), lighttpd, h2o.
# Run with --help for the settings.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../lib.sh"

usage() {
    cat <<'EOF'
Usage: benches/slowdisk/run.sh [--help]

Slow-disk benchmark (issue 18): does a cached file stay fast while other
clients download files that must come off a slow disk?  The "disk" is
tests/fusefs/gatefs.c, a passthrough FUSE filesystem that sleeps before
each operation (see tests/fusefs/README.md), built here with gcc and
mounted over a generated backing folder: hot.bin (1 KiB), check.bin
(1 MiB, the start-up check) and COLD_FILES distinct 1 MiB files
cold-N.bin (sparse: the data is zeros, the slowness is gatefs's).

For each pass and each server, on a fresh mount (so every cold-N.bin is
cold: a FUSE mount's page cache goes with it; no drop_caches needed):
  1. start the server pinned to SERVER_CPU, serving the mount; fetch
     check.bin and hot.bin once (hot.bin is now cached);
  2. hot alone: the hot client (hot.c, built here: one keep-alive
     connection, one request at a time, like wrk -t1 -c1, but keeping every
     latency; wrk 4.1's -c1 histogram disagreed with its own request count
     here) on /hot.bin for DURATION s on LOAD_CPU: req/s, p50, p99, max;
  3. hot under load: cold.py (COLD_CLIENTS threads, each its own
     keep-alive connection, each downloading never-read distinct cold-N.bin
     in a loop, on LOAD_CPU) starts, 1 s later the hot client runs again;
     the cold client stops 1 s after it: hot req/s, p50, p99, max under
     load, cold MiB/s over the cold client's whole window.
Before the passes, the hot client runs once against the floor
(examples/floor.rs: a fixed in-memory response, no disk) when FLOOR_BIN
exists: the machine's own latency noise, for reading the 1 ms targets.
Passes: "read": DELAY_MS before every read that reaches the filesystem;
"all": DELAY_MS before every read, open and getattr (stat, lookup).

Servers (one worker/loop each, access logs off, sendfile where they have it):
  evserve      EVSERVE_BIN, default --io-threads (32: opens, stats and cold
               reads on the loop's pool)
  evserve-io0  the same binary with --io-threads 0 (the old behaviour: that
               work on the loop)
  nginx        thread_pool default threads=32; aio threads; sendfile on;
               open_file_cache as in benches/load
  lighttpd     network-backend sendfile (no async disk I/O)
  h2o          file.dir (no async disk I/O)
A server not installed is skipped.  Results: results.md and results.tsv
in OUT_DIR, the table also on stdout.  Targets (checked in the report):
evserve hot p99 <= 1 ms under cold load; its hot req/s under load >= 80%
of alone; its cold MiB/s >= 1.5x nginx's; hot p99 <= 1 ms under cold load
with the delay on open and getattr too ("all" pass).

Needs (installs nothing), as root: /dev/fuse, fusermount3, gcc,
pkg-config with fuse3 (libfuse3-dev), curl, python3, taskset; nginx,
lighttpd, h2o optional.  Loopback only.  Bounded: every client runs under
timeout; one pass of five servers takes about 5 x (2 x DURATION + 10) s,
ROUNDS x passes of them.

All settings come from the environment:
  DURATION=5        seconds of each hot-client run
  ROUNDS=1          rounds (each: every pass, every server, the order
                    rotated); the report shows medians over rounds
  DELAY_MS=20       gatefs delay per operation, milliseconds
  PASSES="read all" which passes to run
  SERVERS="evserve evserve-io0 nginx lighttpd h2o"
  COLD_CLIENTS=4    cold download threads (connections)
  COLD_FILES=3000   cold-N.bin files in the backing folder (a thread that
                    runs out is reported: raise it)
  EVSERVE_BIN=      evserve binary (default target/release/evserve; not
                    built here: cargo build --release first).  A copy runs.
  EVSERVE_ARGS=     extra arguments for both evserve instances
  FLOOR_BIN=        floor binary for the noise reference (default
                    target/release/examples/floor; skipped when missing)
  NGINX_THREADS=32  nginx's thread pool size
  SERVER_CPU=0      CPU list the servers are pinned to
  LOAD_CPU=1        CPU list the hot client and cold.py are pinned to
  BASE_PORT=19180   first server's port (the next ones +1, +2, ...)
  HOT_TIMEOUT=10    hot client's per-response timeout, seconds
  COOLDOWN=1        seconds of pause between runs
  OUT_DIR=<script dir>   where results.md and results.tsv go
  KEEP_TMP=0        1: keep the temp dir (configs, logs, the backing folder)

Example:  benches/slowdisk/run.sh
          DURATION=2 PASSES=read SERVERS="evserve nginx" benches/slowdisk/run.sh
EOF
}

handle_args "$@"

# ---------------------------------------------------------------- settings --

SETTING_NAMES=(DURATION ROUNDS DELAY_MS PASSES SERVERS COLD_CLIENTS COLD_FILES EVSERVE_BIN EVSERVE_ARGS
    FLOOR_BIN NGINX_THREADS SERVER_CPU LOAD_CPU BASE_PORT HOT_TIMEOUT COOLDOWN OUT_DIR KEEP_TMP)
set_cmdline benches/slowdisk/run.sh

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-1}
DELAY_MS=${DELAY_MS:-20}
PASSES=${PASSES:-read all}
SERVERS=${SERVERS:-evserve evserve-io0 nginx lighttpd h2o}
COLD_CLIENTS=${COLD_CLIENTS:-4}
COLD_FILES=${COLD_FILES:-3000}
EVSERVE_BIN=${EVSERVE_BIN:-$REPO/target/release/evserve}
EVSERVE_ARGS=${EVSERVE_ARGS:-}
NGINX_THREADS=${NGINX_THREADS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19180}
HOT_TIMEOUT=${HOT_TIMEOUT:-10}
FLOOR_BIN=${FLOOR_BIN:-$REPO/target/release/examples/floor}
COOLDOWN=${COOLDOWN:-1}
OUT_DIR=${OUT_DIR:-$HERE}
KEEP_TMP=${KEEP_TMP:-0}

require_uints DURATION ROUNDS DELAY_MS COLD_CLIENTS COLD_FILES NGINX_THREADS BASE_PORT COOLDOWN HOT_TIMEOUT
((DURATION >= 1 && ROUNDS >= 1 && COLD_CLIENTS >= 1 && COLD_FILES >= COLD_CLIENTS && NGINX_THREADS >= 1)) ||
    die "DURATION, COLD_CLIENTS, NGINX_THREADS must be >= 1, COLD_FILES >= COLD_CLIENTS"
((BASE_PORT >= 1024 && BASE_PORT <= 65500)) || die "BASE_PORT out of range"
check_pinning
for p in $PASSES; do
    [[ $p == read || $p == all ]] || die "unknown pass '$p' (read, all)"
done
for s in $SERVERS; do
    case $s in evserve | evserve-io0 | nginx | lighttpd | h2o) ;; *) die "unknown server '$s'" ;; esac
done

((EUID == 0)) || die "run as root (FUSE mount, nginx's user root)"
[[ -c /dev/fuse ]] || die "no /dev/fuse"
require_tools fusermount3 gcc pkg-config curl python3 taskset timeout ps ss
pkg-config --exists fuse3 || die "pkg-config knows no fuse3 (libfuse3-dev)"

# ------------------------------------------------------ process bookkeeping --

# The servers (and the floor) are in PID (lib.sh), one at a time.
GATE_PID=""
COLD_PID=""
MNT=""

mounted() { [[ -n $MNT ]] && grep -qs " $MNT fuse" /proc/mounts; }

unmount_gate() {
    local i
    if mounted; then
        fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
    fi
    if [[ -n $GATE_PID ]]; then
        for ((i = 0; i < 30; i++)); do running "$GATE_PID" || break; sleep 0.1; done
        running "$GATE_PID" && kill -TERM "$GATE_PID" 2>/dev/null || true
        wait "$GATE_PID" 2>/dev/null || true
    fi
    GATE_PID=""
}

# before_cleanup (run first by lib.sh's exit trap, which then removes the
# temp dir): the cold client, the server, then the mount.
before_cleanup() {
    if [[ -n $COLD_PID ]]; then kill -TERM "$COLD_PID" 2>/dev/null || true; wait "$COLD_PID" 2>/dev/null || true; fi
    stop_all_servers
    unmount_gate
}

# ------------------------------------------------------------------ set-up --

make_work_dir slowdisk back mnt conf run log nginx/tmp bin
MNT=$WORK/mnt
BACK=$WORK/back
GATE_SOCK=$WORK/run/gatefs.sock

say "slowdisk benchmark: $CMDLINE"
say "workdir $WORK; building gatefs"
gcc -O2 -Wall "$REPO/tests/fusefs/gatefs.c" $(pkg-config --cflags --libs fuse3) -o "$WORK/bin/gatefs" \
    >"$WORK/log/gcc.log" 2>&1 || die "gatefs did not build: $(tail -n 5 "$WORK/log/gcc.log")"
gcc -O2 -Wall "$HERE/hot.c" -o "$WORK/bin/hot" >>"$WORK/log/gcc.log" 2>&1 ||
    die "hot.c did not build: $(tail -n 5 "$WORK/log/gcc.log")"

head -c 1024 /dev/urandom >"$BACK/hot.bin"
head -c $((1024 * 1024)) /dev/urandom >"$BACK/check.bin"
printf '<!doctype html>\n<title>slowdisk</title>\n' >"$BACK/index.html"
for ((n = 0; n < COLD_FILES; n++)); do : >"$BACK/cold-$n.bin"; done
( cd "$BACK" && truncate -s 1M cold-*.bin )   # sparse: no disk, no time
chmod 644 "$BACK"/*

EVSERVE_COPY=""
if [[ " $SERVERS " == *" evserve"* ]]; then
    if [[ -x $EVSERVE_BIN ]]; then
        EVSERVE_COPY=$WORK/bin/evserve
        cp "$EVSERVE_BIN" "$EVSERVE_COPY"
        say "evserve: a copy of $EVSERVE_BIN ($(stat -c %y "$EVSERVE_BIN" | cut -d. -f1))"
    else
        say "evserve: $EVSERVE_BIN missing (cargo build --release): evserve skipped"
    fi
fi


# gate CMD: one control command to gatefs, its answer line on stdout.
gate() {
    timeout 5 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(4); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); print(s.makefile().readline().strip())' "$GATE_SOCK" "$1" 2>/dev/null
}

# mount_gate PASS: a fresh gatefs mount with the pass's delays.
mount_gate() {
    local -a delays=(--delay-read "$DELAY_MS")
    [[ $1 == all ]] && delays+=(--delay-open "$DELAY_MS" --delay-getattr "$DELAY_MS")
    rm -f "$GATE_SOCK"
    "$WORK/bin/gatefs" "${delays[@]}" "$BACK" "$GATE_SOCK" "$MNT" -f \
        -o fsname=gatefs,subtype=gatefs,auto_unmount >>"$WORK/log/gatefs.log" 2>&1 </dev/null &
    GATE_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        if mounted && [[ $(gate ping) == "ok pong" ]]; then return 0; fi
        running "$GATE_PID" || break
        sleep 0.1
    done
    say "gatefs did not mount: $(tail -n 5 "$WORK/log/gatefs.log")"
    unmount_gate
    return 1
}

# ----------------------------------------------------------- server configs --

write_nginx_conf() {
    local port=$1 conf=$WORK/conf/nginx.conf
    cat >"$conf" <<EOF
# generated by benches/slowdisk/run.sh
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $WORK/run/nginx.pid;
error_log $WORK/log/nginx-error.log warn;
thread_pool default threads=$NGINX_THREADS max_queue=65536;

events {
    worker_connections 4096;
    use epoll;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    aio threads;
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
        root $MNT;
    }
}
EOF
    SERVER_CMD=(nginx -p "$WORK/nginx/" -e "$WORK/log/nginx-error.log" -c "$conf")
}

write_lighttpd_conf() {
    local port=$1 conf=$WORK/conf/lighttpd.conf
    cat >"$conf" <<EOF
# generated by benches/slowdisk/run.sh (single process, no access log)
server.document-root = "$MNT"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$WORK/run/lighttpd.pid"
server.errorlog = "$WORK/log/lighttpd-error.log"
server.max-worker = 0
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
# generated by benches/slowdisk/run.sh (no access-log directive = no access log)
num-threads: 1
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
        file.dir: $MNT
EOF
    SERVER_CMD=(h2o -m worker -c "$conf")
}

# start_server NAME PORT: config, launch pinned, wait for an answer, check
# check.bin (1 MiB) and hot.bin come back whole (hot.bin is then cached).
start_server() {
    local name=$1 port=$2 i got
    case $name in
        evserve | evserve-io0)
            [[ -n $EVSERVE_COPY ]] || return 1
            local -a extra=()
            read -r -a extra <<<"$EVSERVE_ARGS"
            [[ $name == evserve-io0 ]] && extra+=(--io-threads 0)
            SERVER_CMD=("$EVSERVE_COPY" "$MNT" --bind 127.0.0.1 --port "$port"
                --request-timeout 300 --idle-timeout 300 "${extra[@]}") ;;
        nginx | lighttpd | h2o)
            command -v "$name" >/dev/null || { say "$name: not installed, skipped"; return 1; }
            "write_${name}_conf" "$port" ;;
    esac
    if port_busy "$port"; then
        say "$name: port $port already in use, skipped"; return 1
    fi
    spawn_server "$name" "$port"
    for ((i = 0; i < 100; i++)); do
        if ! alive "$name"; then
            say "$name: exited during startup: $(tail -n 5 "$WORK/log/$name.out" | tr '\n' ' ')"
            unset "PID[$name]"; return 1
        fi
        got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$port/hot.bin" || true)
        [[ $got == 200 ]] && break
        sleep 0.1
    done
    for f in check.bin hot.bin; do
        got=$(curl -s -o /dev/null --max-time 30 -w '%{http_code} %{size_download}' \
            "http://127.0.0.1:$port/$f" || true)
        if [[ $got != "200 $(stat -c %s "$BACK/$f")" ]]; then
            say "$name: /$f answered '${got:-nothing}', skipped"
            stop_server "$name"; return 1
        fi
    done
}

# ------------------------------------------------------------------ runners --

LIMIT=$((DURATION + 30))

# hot_run PORT PATH: the hot client for DURATION s; sets H_RPS H_P50 H_P99 H_MAX (µs) H_ERR.
hot_run() {
    local out line
    out=$(timeout --foreground -k 5 $((DURATION + HOT_TIMEOUT + 20)) taskset -c "$LOAD_CPU" \
        "$WORK/bin/hot" "$1" "$2" "$DURATION" $((HOT_TIMEOUT * 1000)) 2>&1) || true
    line=$(grep -m1 '^HOT ' <<<"$out" || true)
    if [[ -z $line ]]; then
        say "  hot client failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        H_RPS=- H_P50=- H_P99=- H_MAX=- H_ERR=-
        return 1
    fi
    field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }
    H_RPS=$(field rps) H_P50=$(field p50_us) H_P99=$(field p99_us) H_MAX=$(field max_us) H_ERR=$(field errors)
}

TSV=$OUT_DIR/results.tsv
mkdir -p "$OUT_DIR"
printf 'round\tpass\tserver\talone_rps\talone_p50_us\talone_p99_us\talone_max_us\talone_err\tload_rps\tload_p50_us\tload_p99_us\tload_max_us\tload_err\tcold_mib_s\tcold_files\tcold_errors\tcold_exhausted\tnote\n' >"$TSV"

# run_server PASS NAME PORT: one server on a fresh mount.
run_server() {
    local pass=$1 name=$2 port=$3 line a_rps a_p50 a_p99 a_max a_err note=""
    if ! mount_gate "$pass"; then
        tsv_row "$ROUND" "$pass" "$name" - - - - - - - - - - - - - - "gatefs mount failed"
        return 0
    fi
    if ! start_server "$name" "$port"; then
        unmount_gate
        return 0
    fi
    say "  $pass/$name: hot alone (round $ROUND)"
    hot_run "$port" /hot.bin || note+="hot client failed (alone); "
    a_rps=$H_RPS a_p50=$H_P50 a_p99=$H_P99 a_max=$H_MAX a_err=$H_ERR
    sleep "$COOLDOWN"
    say "  $pass/$name: hot under cold load"
    timeout --foreground -k 5 $((DURATION + 40)) taskset -c "$LOAD_CPU" \
        python3 "$HERE/cold.py" --port "$port" --threads "$COLD_CLIENTS" --files "$COLD_FILES" \
        --seconds $((DURATION + 2)) >"$WORK/log/cold-$pass-$name.out" 2>&1 &
    COLD_PID=$!
    sleep 1
    hot_run "$port" /hot.bin || note+="hot client failed (under load); "
    wait "$COLD_PID" 2>/dev/null || true
    COLD_PID=""
    line=$(grep -m1 '^COLD ' "$WORK/log/cold-$pass-$name.out" || true)
    local mib=- files=- cerr=- exh=-
    if [[ -n $line ]]; then
        mib=$(sed -E 's/.* mib_s=([^ ]+).*/\1/' <<<"$line")
        files=$(sed -E 's/.* files=([^ ]+).*/\1/' <<<"$line")
        cerr=$(sed -E 's/.* errors=([^ ]+).*/\1/' <<<"$line")
        exh=$(sed -E 's/.* exhausted=([^ ]+).*/\1/' <<<"$line")
        ((exh == 0)) || note+="cold client ran out of files (raise COLD_FILES); "
    else
        note+="cold client failed: $(tail -n 2 "$WORK/log/cold-$pass-$name.out" | tr '\n' ' '); "
    fi
    alive "$name" || note+="server died; "
    tsv_row "$ROUND" "$pass" "$name" \
        "$a_rps" "$a_p50" "$a_p99" "$a_max" "$a_err" "$H_RPS" "$H_P50" "$H_P99" "$H_MAX" "$H_ERR" \
        "$mib" "$files" "$cerr" "$exh" "${note:--}"
    say "$(printf '  %-4s %-12s alone %9s req/s p50 %6s p99 %7s us | load %9s req/s p50 %6s p99 %7s us | cold %6s MiB/s (%s files, %s errors) %s' \
        "$pass" "$name" "$a_rps" "$a_p50" "$a_p99" "$H_RPS" "$H_P50" "$H_P99" "$mib" "$files" "$cerr" "$note")"
    stop_server "$name"
    unmount_gate
    sleep "$COOLDOWN"
}

# -------------------------------------------------------------------- main --

LOADAVG_START=$(loadavg)
NOISE=""
if [[ -x $FLOOR_BIN ]]; then
    cp "$FLOOR_BIN" "$WORK/bin/floor"
    SERVER_CMD=("$WORK/bin/floor" --port "$BASE_PORT" --body-bytes 1024)
    spawn_server floor "$BASE_PORT"
    for ((i = 0; i < 50; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$BASE_PORT/" && break
        sleep 0.1
    done
    say "== noise reference: the hot client against the floor (no disk)"
    if hot_run "$BASE_PORT" /; then
        NOISE="hot client against the floor (examples/floor.rs, a fixed in-memory 1 KiB, no disk), alone: $H_RPS req/s, p50 $H_P50 µs, p99 $H_P99 µs, max $H_MAX µs: the machine's own latency noise"
        say "  floor: $H_RPS req/s, p50 $H_P50 us, p99 $H_P99 us, max $H_MAX us"
    fi
    stop_server floor
    sleep "$COOLDOWN"
else
    say "no floor binary at $FLOOR_BIN: no noise reference"
fi
read -r -a SERVER_LIST <<<"$SERVERS"
NSERVERS=${#SERVER_LIST[@]}
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for pass in $PASSES; do
        say "== round $ROUND/$ROUNDS, pass $pass: ${DELAY_MS} ms before every read$([[ $pass == all ]] && echo ', open and getattr')"
        # Rotate the server order each round so no server always goes first.
        for ((k = 0; k < NSERVERS; k++)); do
            j=$(((k + ROUND - 1) % NSERVERS))
            run_server "$pass" "${SERVER_LIST[$j]}" $((BASE_PORT + j))
        done
    done
done

VERSIONS=""
for name in $SERVERS; do
    case $name in
        nginx) command -v nginx >/dev/null && v=$(nginx_version) || continue ;;
        lighttpd) command -v lighttpd >/dev/null && v=$(lighttpd_version) || continue ;;
        h2o) command -v h2o >/dev/null && v=$(h2o_version) || continue ;;
        evserve) v="evserve ($EVSERVE_BIN, built $(stat -c %y "$EVSERVE_BIN" 2>/dev/null | cut -d. -f1); git $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?'))" ;;
        *) continue ;;
    esac
    VERSIONS+="${VERSIONS:+, }$v"
done
python3 "$HERE/report.py" --tsv "$TSV" --md "$OUT_DIR/results.md" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    --meta "command=$CMDLINE" \
    --meta "kernel=$(uname -r), nproc $NCPU, $(cpu_model)" \
    --meta "servers=$VERSIONS" \
    --meta "disk=gatefs (tests/fusefs/gatefs.c) over a temp folder, ${DELAY_MS} ms per delayed operation, a fresh mount per server (every cold-N.bin cold), $COLD_FILES sparse 1 MiB cold files" \
    ${NOISE:+--meta "noise=$NOISE"} \
    --meta "load=hot.c (one keep-alive connection, one request at a time, every latency kept) for ${DURATION}s on /hot.bin; cold.py with $COLD_CLIENTS keep-alive connections, from 1 s before the hot run to 1 s after" \
    --meta "setup=servers on CPU $SERVER_CPU, clients on CPU $LOAD_CPU, $ROUNDS round(s) (server order rotated), medians" \
    --meta "loadavg=$LOADAVG_START at start, $(loadavg) at end (1/5/15 min; other work on the machine skews results)"
say "wrote $OUT_DIR/results.md, $TSV"
