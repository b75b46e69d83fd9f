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
# The tls-* scenarios run against a second instance of each server that
# speaks HTTPS (its own port, same pinning), made with one ECDSA P-256
# certificate generated into the temp dir at run time, with session
# resumption off on every server (so tls-close does full handshakes).
#
# This script installs nothing.  Results go to results.md / results.tsv /
# conns.svg next to this script (or OUT_DIR).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../lib.sh"

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
h2o (a missing peer is skipped), openssl (tls-* scenarios; lighttpd needs
lighttpd-mod-openssl).  Run as root for the server fd limits.

All settings come from the environment:
  QUICK=1            smoke run: DURATION=2 ROUNDS=1 CONNS="100 1000"
                     IDLE_CONNS=500 (explicit settings still win;
                     TLS_IDLE_CONNS stays 3000, the issue's count)
  DURATION=5         seconds per load run
  ROUNDS=3           interleaved rounds; the report shows the median
  SCENARIOS="ka-1k pipelined ka-1m big-100m close conns idle mixed
             tls-ka-1k tls-ka-1m tls-close tls-idle tls-half"
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
                     tls-ka-1k  wrk -c100 over https, keep-alive, /1k.bin
                     tls-ka-1m  wrk -c10 over https, /1m.bin
                     tls-close  wrk -c50 over https, 'Connection: close':
                                a full handshake per request (resumption
                                is off on every server: checked at start,
                                since wrk itself resumes when it can)
                     tls-idle   TLS_IDLE_CONNS idle HTTPS keep-alive
                                connections (idle.py --tls): RSS each
                     tls-half   TLS_HALF_CONNS connections that each send
                                the first 200 bytes of a ClientHello and
                                wait (idle.py --half-hellos): RSS each
                     HTTPS: every server gets the same self-signed ECDSA
                     P-256 certificate; the load generators offer only
                     TLS 1.3, TLS_AES_128_GCM_SHA256 and X25519 (an
                     OPENSSL_CONF of their own), so every server
                     negotiates the same; the servers allow TLS 1.2+1.3,
                     ECDHE with X25519/P-256, AES-128-GCM or ChaCha20.
                     evserve must have --tls-cert (skipped otherwise).
  CONNS="100 1000 10000"   connection counts of the conns scenario
  IDLE_CONNS=5000    idle connections held by the idle scenario
  IDLE_DEADLINE=60   seconds allowed for opening them
  TLS_IDLE_CONNS=3000   idle HTTPS connections held by tls-idle
  TLS_HALF_CONNS=5000   half-sent ClientHellos held by tls-half
  SERVERS="evserve floor nginx lighttpd h2o lwan"   servers to try
  STRACE=0           1: extra pass, strace -c -f during a short ka-1k run,
                     reports syscalls per request (strace slows servers;
                     the pass is only for counts)
  STRACE_DURATION=3  seconds of that pass
  EVSERVE_BIN=       evserve binary (default: target/release/evserve,
                     rebuilt with cargo build --release when older than
                     src/ or missing)
  EVSERVE_ARGS=      extra evserve arguments, e.g. "--workers 2"
  EVSERVE2_BIN=      a second evserve binary, run as one more server beside
                     the first (e.g. an older build, for a before/after
                     in one interleaved run): its own port (BASE_PORT+6),
                     same pinning, same scenarios as evserve (strace too);
                     added to SERVERS after evserve unless SERVERS names it
  EVSERVE2_NAME=evserve-old   its name in the tables (letters, digits, - _);
                     the report's "evserve/this" column is then new/old
  EVSERVE2_ARGS=     its extra arguments (default: EVSERVE_ARGS)
  FLOOR_BIN=         floor binary (default: target/release/examples/floor,
                     rebuilt with cargo build --release --example floor
                     when older than examples/floor.rs or missing)
  NO_BUILD=0         1: never run cargo build
  LWAN_BIN=          lwan binary (lwan is not packaged; skipped if unset)
  SERVER_CPU=0       CPU(s) the servers are pinned to (a taskset list: 0, 0-1)
  LOAD_CPU=1         CPU(s) the load generators are pinned to
  BASE_PORT=18080    evserve port; nginx +1, lighttpd +2, h2o +3, lwan +4,
                     floor +5, EVSERVE2 +6; the HTTPS instances +10 on top
  WRK_TIMEOUT=5s     wrk per-request timeout
  COOLDOWN=1         seconds of pause between runs
  OUT_DIR=<script dir>   where results.md, results.tsv, conns.svg go
  KEEP_TMP=0         1: keep the temp dir (configs, logs) for inspection

Example:  QUICK=1 benches/load/run.sh
          SERVERS="evserve floor" SCENARIOS="ka-1k pipelined" QUICK=1 benches/load/run.sh
          STRACE=1 EVSERVE_ARGS="--workers 1" benches/load/run.sh
          EVSERVE2_BIN=/tmp/evserve-old SERVERS="floor evserve-old evserve" \
            SCENARIOS="ka-1k pipelined ka-1m" STRACE=1 benches/load/run.sh
          SCENARIOS="tls-ka-1k tls-ka-1m tls-close tls-idle" QUICK=1 benches/load/run.sh
EOF
}

handle_args "$@"

# ---------------------------------------------------------------- settings --

# Remember which settings the caller passed, for the report's command line.
SETTING_NAMES=(QUICK DURATION ROUNDS SCENARIOS CONNS IDLE_CONNS IDLE_DEADLINE TLS_IDLE_CONNS TLS_HALF_CONNS
    SERVERS STRACE STRACE_DURATION EVSERVE_BIN EVSERVE_ARGS EVSERVE2_BIN EVSERVE2_NAME EVSERVE2_ARGS
    FLOOR_BIN NO_BUILD LWAN_BIN
    SERVER_CPU LOAD_CPU BASE_PORT WRK_TIMEOUT COOLDOWN OUT_DIR KEEP_TMP)
set_cmdline benches/load/run.sh

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    : "${DURATION:=2}" "${ROUNDS:=1}" "${CONNS:=100 1000}"
    : "${IDLE_CONNS:=500}" "${IDLE_DEADLINE:=20}"
fi
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-ka-1k pipelined ka-1m big-100m close conns idle mixed tls-ka-1k tls-ka-1m tls-close tls-idle tls-half}
CONNS=${CONNS:-100 1000 10000}
IDLE_CONNS=${IDLE_CONNS:-5000}
IDLE_DEADLINE=${IDLE_DEADLINE:-60}
TLS_IDLE_CONNS=${TLS_IDLE_CONNS:-3000}
TLS_HALF_CONNS=${TLS_HALF_CONNS:-5000}
SERVERS=${SERVERS:-evserve floor nginx lighttpd h2o lwan}
STRACE=${STRACE:-0}
STRACE_DURATION=${STRACE_DURATION:-3}
EVSERVE_BIN=${EVSERVE_BIN:-}
EVSERVE_ARGS=${EVSERVE_ARGS:-}
EVSERVE2_BIN=${EVSERVE2_BIN:-}
EVSERVE2_NAME=${EVSERVE2_NAME:-evserve-old}
EVSERVE2_ARGS=${EVSERVE2_ARGS-$EVSERVE_ARGS}
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

require_uints DURATION ROUNDS IDLE_CONNS IDLE_DEADLINE TLS_IDLE_CONNS TLS_HALF_CONNS STRACE_DURATION BASE_PORT COOLDOWN
check_pinning
((DURATION >= 1 && ROUNDS >= 1)) || die "DURATION and ROUNDS must be >= 1"
for n in $CONNS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad CONNS entry '$n'"; done
((BASE_PORT >= 1024 && BASE_PORT <= 65520)) || die "BASE_PORT out of range"
if [[ -n $EVSERVE2_BIN ]]; then
    [[ $EVSERVE2_NAME =~ ^[A-Za-z0-9_-]+$ ]] || die "EVSERVE2_NAME must be letters, digits, - or _"
    case $EVSERVE2_NAME in
        evserve | floor | nginx | lighttpd | h2o | lwan) die "EVSERVE2_NAME must differ from the other servers' names" ;;
    esac
    [[ " $SERVERS " == *" $EVSERVE2_NAME "* ]] ||
        SERVERS=$(sed -E "s/(^| )evserve( |\$)/\1evserve $EVSERVE2_NAME\2/" <<<"$SERVERS")
    [[ " $SERVERS " == *" $EVSERVE2_NAME "* ]] || SERVERS+=" $EVSERVE2_NAME"
fi
# Which kinds of instance are needed: plain HTTP, HTTPS (tls-*), or both.
WANT_PLAIN=0 WANT_TLS=0
for scen in $SCENARIOS; do
    if [[ $scen == tls-* ]]; then WANT_TLS=1; else WANT_PLAIN=1; fi
done
if ((WANT_TLS)); then
    command -v openssl >/dev/null || die "openssl not found (needed for the tls-* scenarios)"
fi

require_tools wrk curl taskset python3 ps ss timeout
raise_fd_limit   # NOFILE; MAXCONN caps the peers' connections
# shellcheck disable=SC2086
warn_fd_limit $CONNS $IDLE_CONNS $TLS_IDLE_CONNS $TLS_HALF_CONNS

# ------------------------------------------------------ process bookkeeping --

# An instance is a server name (plain HTTP) or NAME@tls (its HTTPS twin,
# which runs the tls-* scenarios).
declare -A PORT=([evserve]=$BASE_PORT [nginx]=$((BASE_PORT + 1))
    [lighttpd]=$((BASE_PORT + 2)) [h2o]=$((BASE_PORT + 3)) [lwan]=$((BASE_PORT + 4))
    [floor]=$((BASE_PORT + 5)))
if [[ -n $EVSERVE2_BIN ]]; then PORT[$EVSERVE2_NAME]=$((BASE_PORT + 6)); fi
for name in "${!PORT[@]}"; do PORT[$name@tls]=$((PORT[$name] + 10)); done
declare -A TLS_SEEN=()   # server -> what its HTTPS instance negotiated
declare -A TLS_FULL=()   # server -> 1 when its HTTPS instance refused to resume
ACTIVE=()             # servers with at least one instance that passed the checks
STRACE_PID=""

before_cleanup() {
    if [[ -n $STRACE_PID ]]; then kill -INT "$STRACE_PID" 2>/dev/null || true; fi
}

# --------------------------------------------------------------- test data --

make_work_dir load www conf run log nginx/tmp
WWW=$WORK/www
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

# HTTPS material (lib.sh): one test certificate for every server, and the
# load generators' OpenSSL settings (TLS 1.3, AES-128-GCM, X25519 only).
if ((WANT_TLS)); then make_tls_material; fi

# ----------------------------------------------------------- server configs --
# One worker, access logs off, keep-alive with huge request limits and long
# idle timeouts, sendfile where the server has it, listen backlog 4096 (the
# kernel's somaxconn default) where configurable, connection caps near the
# fd limit.  Everything runs in the foreground as root with pid files in the
# temp dir.
#
# HTTPS instances (second argument "tls"): TLS 1.2 and 1.3, ECDHE over
# X25519 or P-256, AES-128-GCM or ChaCha20-Poly1305, no session tickets and
# no session cache (every handshake is full), no sendfile where the server
# would otherwise try it (with TLS the body is encrypted in user space).

write_nginx_conf() {
    local port=$1 tls=${2:-} sfx=${2:+-tls}
    local conf=$WORK/conf/nginx$sfx.conf listen="" tls_lines="" sendfile=on
    if [[ -n $tls ]]; then
        listen=" ssl"
        sendfile=off
        tls_lines=$(nginx_tls_lines)
    fi
    cat >"$conf" <<EOF
# generated by benches/load/run.sh
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
user root root;
pid $WORK/run/nginx$sfx.pid;
error_log $WORK/log/nginx$sfx-error.log warn;

events {
    worker_connections $MAXCONN;
    multi_accept on;
    use epoll;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile $sendfile;
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
        listen 127.0.0.1:$port$listen backlog=4096;
        server_name _;
        $tls_lines
        root $WWW;
        index index.html;
    }
}
EOF
    SERVER_CMD=(nginx -p "$WORK/nginx/" -e "$WORK/log/nginx$sfx-error.log" -c "$conf")
}

write_lighttpd_conf() {
    local port=$1 tls=${2:-} sfx=${2:+-tls}
    local conf=$WORK/conf/lighttpd$sfx.conf backend=sendfile tls_lines=""
    if [[ -n $tls ]]; then
        backend=writev
        # -SessionTicket: no tickets; lighttpd keeps no server-side session cache.
        tls_lines="server.modules += ( \"mod_openssl\" )
ssl.engine = \"enable\"
ssl.pemfile = \"$TLS_CERT\"
ssl.privkey = \"$TLS_KEY\"
ssl.openssl.ssl-conf-cmd = ( \"MinProtocol\" => \"TLSv1.2\",
    \"CipherString\" => \"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305\",
    \"Ciphersuites\" => \"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\",
    \"Groups\" => \"X25519:P-256\",
    \"Options\" => \"-SessionTicket,ServerPreference\" )"
    fi
    cat >"$conf" <<EOF
# generated by benches/load/run.sh (single process; no mod_accesslog = no access log)
server.document-root = "$WWW"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$WORK/run/lighttpd$sfx.pid"
server.errorlog = "$WORK/log/lighttpd$sfx-error.log"
server.max-worker = 0
server.max-fds = $NOFILE
# lighttpd caps connections at max-fds / 2
server.max-connections = $((NOFILE / 2))
server.listen-backlog = 4096
server.event-handler = "linux-sysepoll"
server.network-backend = "$backend"
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 300
server.max-read-idle = 300
server.max-write-idle = 300
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )
$tls_lines
EOF
    SERVER_CMD=(lighttpd -D -f "$conf")
}

write_h2o_conf() {
    local port=$1 tls=${2:-} sfx=${2:+-tls}
    local conf=$WORK/conf/h2o$sfx.conf tls_lines="" resumption=""
    if [[ -n $tls ]]; then
        tls_lines=$(h2o_tls_lines)
        resumption=$(h2o_no_resumption)
    fi
    cat >"$conf" <<EOF
# generated by benches/load/run.sh (no access-log directive = no access log)
num-threads: 1
max-connections: $MAXCONN
http1-request-timeout: 300
user: root
pid-file: $WORK/run/h2o$sfx.pid
error-log: $WORK/log/h2o$sfx-error.log
$resumption
listen:
  host: 127.0.0.1
  port: $port
$tls_lines
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

# evserve2_binary: copies EVSERVE2_BIN (never built here) into the temp dir.
EVSERVE2_COPY=""
evserve2_binary() {
    if [[ -n $EVSERVE2_COPY ]]; then return 0; fi
    [[ -x $EVSERVE2_BIN ]] || { say "$EVSERVE2_NAME: EVSERVE2_BIN=$EVSERVE2_BIN is not executable"; return 1; }
    EVSERVE2_COPY=$WORK/bin/$EVSERVE2_NAME
    mkdir -p "$WORK/bin"
    cp "$EVSERVE2_BIN" "$EVSERVE2_COPY"
    say "$EVSERVE2_NAME: benchmarking a copy of $EVSERVE2_BIN"
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
# the conns counts would also measure its small listen backlog; no TLS).
# tls-close needs an HTTPS instance that refused to resume a session.
serves() {
    if [[ $2 == tls-close && ${TLS_FULL[$1]:-0} != 1 ]]; then return 1; fi
    [[ $1 != floor ]] && return 0
    case $2 in ka-1k | pipelined | strace) return 0 ;; *) return 1 ;; esac
}

# instance_of NAME SCENARIO: the instance that runs it (NAME or NAME@tls).
instance_of() {
    if [[ $2 == tls-* ]]; then echo "$1@tls"; else echo "$1"; fi
}

# base_url INSTANCE: http://127.0.0.1:PORT or https://...
base_url() {
    local scheme=http
    [[ $1 == *@tls ]] && scheme=https
    echo "$scheme://127.0.0.1:${PORT[$1]}"
}

# fetch_check BASE_URL FILE: 200 with the file's exact size?  (-k: the
# HTTPS instances use the self-signed test certificate.)
fetch_check() {
    local base=$1 file=$2 want got
    want=$(stat -c %s "$WWW/$file")
    got=$(curl -s -k -o /dev/null --max-time 30 -w '%{http_code} %{size_download}' \
        "$base/$file" || true)
    if [[ $got != "200 $want" ]]; then
        say "  /$file: expected '200 $want', got '${got:-nothing}'"
        return 1
    fi
}

# evserve_tls_args BINARY NAME: the HTTPS flags for evserve (same
# certificate, no resumption), or failure when this build has no --tls-cert.
evserve_tls_args() {
    local help
    help=$("$1" --help 2>&1 || true)
    if [[ $help != *--tls-cert* ]]; then
        say "$2: this build has no --tls-cert (HTTPS not wired in yet): tls-* scenarios skipped"
        return 1
    fi
    SERVER_CMD+=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
    if [[ $help == *--tls-no-resumption* ]]; then SERVER_CMD+=(--tls-no-resumption)
    else say "$2: no --tls-no-resumption flag: it may resume (checked below)"; fi
}

# launch_server INSTANCE: write its config, start it pinned to SERVER_CPU and
# wait until it answers on its port.
launch_server() {
    local inst=$1 name=${1%@tls} port=${PORT[$1]} tls="" i
    [[ $inst == *@tls ]] && tls=tls
    case $name in
        evserve) evserve_binary || return 1
                 local -a extra=()
                 read -r -a extra <<<"$EVSERVE_ARGS"
                 SERVER_CMD=("$EVSERVE_COPY" "$WWW" --bind 127.0.0.1 --port "$port"
                     --request-timeout 300 --idle-timeout 300 "${extra[@]}")
                 if [[ -n $tls ]]; then evserve_tls_args "$EVSERVE_COPY" evserve || return 1; fi ;;
        "$EVSERVE2_NAME")
                 [[ -n $EVSERVE2_BIN ]] || { say "$name: EVSERVE2_BIN not set, skipped"; return 1; }
                 evserve2_binary || return 1
                 local -a extra2=()
                 read -r -a extra2 <<<"$EVSERVE2_ARGS"
                 SERVER_CMD=("$EVSERVE2_COPY" "$WWW" --bind 127.0.0.1 --port "$port"
                     --request-timeout 300 --idle-timeout 300 "${extra2[@]}")
                 if [[ -n $tls ]]; then evserve_tls_args "$EVSERVE2_COPY" "$name" || return 1; fi ;;
        nginx | lighttpd | h2o)
                 command -v "$name" >/dev/null || { say "$name: not installed, skipped"; return 1; }
                 if [[ $name == lighttpd && -n $tls ]] &&
                     ! compgen -G "/usr/lib/lighttpd/mod_openssl.so" >/dev/null; then
                     say "lighttpd: no mod_openssl (lighttpd-mod-openssl): tls-* scenarios skipped"
                     return 1
                 fi
                 "write_${name}_conf" "$port" ${tls:+"$tls"} ;;
        floor)   [[ -z $tls ]] || { say "floor: speaks no TLS, tls-* scenarios skipped"; return 1; }
                 floor_binary || return 1
                 SERVER_CMD=("$FLOOR_COPY" --port "$port" --body-bytes "$(stat -c %s "$WWW/1k.bin")") ;;
        lwan)    [[ -n $LWAN_BIN ]] || { say "lwan: LWAN_BIN not set, skipped"; return 1; }
                 [[ -x $LWAN_BIN ]] || { say "lwan: $LWAN_BIN not executable, skipped"; return 1; }
                 [[ -z $tls ]] || { say "lwan: TLS not configured here, tls-* scenarios skipped"; return 1; }
                 write_lwan_conf "$port" ;;
        *)       say "$name: unknown server, skipped"; return 1 ;;
    esac
    if port_busy "$port"; then
        say "$inst: port $port already in use, skipped"; return 1
    fi
    spawn_server "$inst" "$port"
    for ((i = 0; i < 100; i++)); do
        if ! alive "$inst"; then
            say "$inst: exited during startup; its output:"
            tail -n 20 "$WORK/log/$inst.out" >&2
            unset "PID[$inst]"; return 1
        fi
        curl -s -k -o /dev/null --max-time 1 "$(base_url "$inst")/index.html" && return 0
        sleep 0.1
    done
    say "$inst: not answering on port $port after 10 s"
    stop_server "$inst"; return 1
}

# start_server INSTANCE: launch, then check every file comes back as a 200
# of the right size and that keep-alive works (HTTPS: also what is
# negotiated, and whether sessions resume).  A failing instance is stopped
# and none of its runs happen.
start_server() {
    local inst=$1 base file ok=1 conns files="index.html 1k.bin 1m.bin 100m.bin"
    launch_server "$inst" || return 1
    base=$(base_url "$inst")
    [[ $inst == floor ]] && files=1k.bin   # its one response is the 1 KiB file's size
    for file in $files; do
        fetch_check "$base" "$file" || ok=0
    done
    # Keep-alive check: the second fetch must reuse the first connection.
    conns=$(curl -s -k -o /dev/null -o /dev/null -w '%{num_connects} ' \
        "$base/1k.bin" "$base/1k.bin" || true)
    [[ $conns == "1 0 " ]] || say "  warning: $inst did not keep the connection alive (connects: $conns)"
    if ((!ok)); then
        say "$inst: wrong responses, its runs are skipped"
        stop_server "$inst"; return 1
    fi
    [[ $inst == *@tls ]] && tls_check "$inst"
    say "$inst: ok (pids $(tree_pids "${PID[$inst]}" | tr '\n' ' '))"
}

# s_client PORT ARGS...: one HTTPS request through openssl s_client; prints
# its session summary ("New, TLSv1.3, Cipher is ..." / "Reused, ...") and
# the key exchange ("Server Temp Key: X25519, 253 bits").
s_client() {
    local port=$1
    shift
    printf 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
            -ign_eof "$@" 2>/dev/null | grep -E '^(New|Reused), |^Server Temp Key' || true
}

# resumes PORT VERSION_FLAG: does a second connection resume the first's
# session (ticket or session id)?  wrk resumes whenever the server lets it,
# so tls-close measures full handshakes only where this says no.
resumes() {
    local port=$1 flag=$2 sess=$WORK/tls/session-$1$2.pem
    rm -f "$sess"
    s_client "$port" "$flag" -sess_out "$sess" >/dev/null
    [[ -s $sess ]] || return 1
    [[ $(s_client "$port" "$flag" -sess_in "$sess") == *Reused,* ]]
}

# tls_check INSTANCE: record what the load generators' settings negotiate
# with it, and whether it refuses resumption under TLS 1.3 and 1.2.
tls_check() {
    local inst=$1 name=${1%@tls} port=${PORT[$1]} out seen v resumed=""
    out=$(OPENSSL_CONF=$CLIENT_OPENSSL_CONF s_client "$port")
    # "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519"
    seen="$(sed -nE 's/^(New|Reused), ([^,]+), Cipher is (.*)/\2 \3/p' <<<"$out") $(
        sed -nE 's/^Server Temp Key: ([^,]+).*/\1/p' <<<"$out")"
    for v in -tls1_3 -tls1_2; do
        if resumes "$port" "$v"; then resumed+=" ${v#-}"; fi
    done
    if [[ -n $resumed ]]; then
        say "  warning: $inst resumes sessions ($resumed): tls-close skipped for it"
        TLS_SEEN[$name]="$seen (resumes:$resumed)"
    else
        TLS_FULL[$name]=1
        TLS_SEEN[$name]="$seen (no resumption)"
    fi
    say "  $inst negotiates: ${TLS_SEEN[$name]}"
}

# ------------------------------------------------------------- load runners --
# Each runner sets R_REQ (responses), R_SECS, R_BYTES, R_P99 (µs), R_ERR.

LIMIT=$((DURATION + 60))   # hard wall-clock bound on any single load run

run_wrk() {   # run_wrk BASE_URL CONNS PATH [wrk args...]
    local base=$1 conns=$2 path=$3 out line
    shift 3
    local -a r client_env=(env)
    # Over HTTPS wrk offers only what the pinned client settings allow.
    [[ $base == https:* ]] && client_env+=("OPENSSL_CONF=$CLIENT_OPENSSL_CONF")
    out=$(timeout --foreground -k 5 "$LIMIT" taskset -c "$LOAD_CPU" "${client_env[@]}" \
        wrk -t1 -c"$conns" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" \
        -s "$WORK/conf/report.lua" "$@" "$base$path" 2>&1) || true
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

# measure ROUND SCENARIO SERVER: one bounded load run with CPU accounting.
measure() {
    local round=$1 scen=$2 name=$3 inst port base conns ticks
    inst=$(instance_of "$name" "$scen")
    port=${PORT[$inst]}
    base=$(base_url "$inst")
    local -a args
    case $scen in
        ka-1k)     conns=100; args=(run_wrk "$base" 100 /1k.bin) ;;
        pipelined) conns=100; args=(run_h2load "$port" /1k.bin) ;;
        ka-1m)     conns=10;  args=(run_wrk "$base" 10 /1m.bin) ;;
        big-100m)  conns=2;   args=(run_wrk "$base" 2 /100m.bin) ;;
        close)     conns=50;  args=(run_wrk "$base" 50 /1k.bin -H 'Connection: close') ;;
        conns-*)   conns=${scen#conns-}; args=(run_wrk "$base" "$conns" /1k.bin) ;;
        tls-ka-1k) conns=100; args=(run_wrk "$base" 100 /1k.bin) ;;
        tls-ka-1m) conns=10;  args=(run_wrk "$base" 10 /1m.bin) ;;
        tls-close) conns=50;  args=(run_wrk "$base" 50 /1k.bin -H 'Connection: close') ;;
    esac
    # CPU of the whole process tree of the instance.
    server_cpu_start "$inst"
    if ! "${args[@]}"; then
        tsv_row "$round" "$scen" "$name" "$conns" - - - - - - - - - - - - "load generator failed"
        return 0
    fi
    ticks=$(server_cpu_ticks "$inst")
    local rps gib cpu_us pct
    read -r rps gib cpu_us pct < <(awk -v n="$R_REQ" -v s="$R_SECS" -v b="$R_BYTES" \
        -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN {
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
# (scenario "mixed": half of them in the middle of a head instead;
# "tls-idle": TLS_IDLE_CONNS over HTTPS; "tls-half": TLS_HALF_CONNS
# half-sent ClientHellos).  The server is restarted first:
# after the load runs its heap sits at a high-water mark that would hide
# the per-connection cost.
idle_run() {
    local round=$1 name=$2 scen=$3 inst port out line kib alive fresh held count=$IDLE_CONNS
    inst=$(instance_of "$name" "$scen")
    port=${PORT[$inst]}
    [[ $scen == tls-idle ]] && count=$TLS_IDLE_CONNS
    [[ $scen == tls-half ]] && count=$TLS_HALF_CONNS
    local -a split=(--conns "$count")
    [[ $scen == mixed ]] && split=(--conns $((count - count / 2)) --half-heads $((count / 2)))
    [[ $scen == tls-idle ]] && split+=(--tls)
    [[ $scen == tls-half ]] && split=(--conns 0 --half-hellos "$count" --tls)
    stop_server "$inst"
    if ! launch_server "$inst"; then
        say "  $inst: restart for the idle scenario failed"; return 0
    fi
    sleep 0.5
    out=$(timeout --foreground -k 5 $((IDLE_DEADLINE + 60)) taskset -c "$LOAD_CPU" \
        python3 "$HERE/idle.py" --port "$port" "${split[@]}" \
        --deadline "$IDLE_DEADLINE" --pids "$(tree_pids "${PID[$inst]}" | tr '\n' ' ')" 2>&1) || true
    line=$(grep -m1 '^IDLE ' <<<"$out" || true)
    if [[ -z $line ]]; then
        say "  idle failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        tsv_row "$round" "$scen" "$name" "$count" - - - - - - - - - - - - "idle client failed"
        return 0
    fi
    # IDLE held=N alive=M rss_before_kib=A rss_after_kib=B kib_per_conn=K fresh_ms=F
    held=$(sed -E 's/.* held=([^ ]+).*/\1/' <<<"$line")
    alive=$(sed -E 's/.* alive=([^ ]+).*/\1/' <<<"$line")
    kib=$(sed -E 's/.* kib_per_conn=([^ ]+).*/\1/' <<<"$line")
    fresh=$(sed -E 's/.* fresh_ms=([^ ]+).*/\1/' <<<"$line")
    tsv_row "$round" "$scen" "$name" "$count" - - - - - - - - - "$kib" "$alive" "$fresh" \
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
    if ! run_wrk "http://127.0.0.1:$port" 100 /1k.bin; then R_REQ=0; fi
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

LOADAVG_START=$(loadavg)
say "evserve load benchmark: $CMDLINE"
say "workdir $WORK, fd limit $NOFILE, server CPU $SERVER_CPU, load CPU $LOAD_CPU"
for name in $SERVERS; do
    started=0
    if ((WANT_PLAIN)) && start_server "$name"; then started=1; fi
    if ((WANT_TLS)) && start_server "$name@tls"; then started=1; fi
    if ((started)); then ACTIVE+=("$name"); fi
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
        tls-ka-1k | tls-ka-1m | tls-close | tls-idle | tls-half) RUNS+=("$scen") ;;
        *) die "unknown scenario '$scen'" ;;
    esac
done

for ((round = 1; round <= ROUNDS; round++)); do
    say "== round $round/$ROUNDS"
    for scen in "${RUNS[@]}"; do
        # Rotate the server order each round so no server always goes first.
        for name in $(in_round_order "$round" "${ACTIVE[@]}"); do
            inst=$(instance_of "$name" "$scen")
            [[ -n ${PID[$inst]:-} ]] || continue   # never started (said why at start)
            serves "$name" "$scen" || continue
            if ! alive "$inst"; then
                say "  $inst is no longer running (see its log); skipped"
                continue
            fi
            if [[ $scen == idle || $scen == mixed || $scen == tls-idle || $scen == tls-half ]]; then
                idle_run "$round" "$name" "$scen"
            else measure "$round" "$scen" "$name"; fi
            alive "$inst" || say "  $inst DIED during $scen; output: $(tail -n 5 "$WORK/log/$inst.out" | tr '\n' ' ')"
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

CPU_MODEL=$(cpu_model)
VERSIONS=""
for name in "${ACTIVE[@]}"; do
    case $name in
        nginx) v=$(nginx_version) ;;
        lighttpd) v=$(lighttpd_version) ;;
        h2o) v=$(h2o_version) ;;
        floor) v="floor (examples/floor.rs)" ;;
        evserve) v="evserve ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')${EVSERVE_ARGS:+ $EVSERVE_ARGS})" ;;
        "$EVSERVE2_NAME") v="$EVSERVE2_NAME ($EVSERVE2_BIN${EVSERVE2_ARGS:+ $EVSERVE2_ARGS})" ;;
        *) v=$name ;;
    esac
    VERSIONS+="${VERSIONS:+, }$v"
done
TLS_META=""
if ((WANT_TLS)); then
    TLS_META="self-signed ECDSA P-256 certificate made at run time; wrk/h2load offer only TLS 1.3, TLS_AES_128_GCM_SHA256, X25519; negotiated:"
    for name in "${ACTIVE[@]}"; do
        [[ -n ${TLS_SEEN[$name]:-} ]] && TLS_META+=" $name ${TLS_SEEN[$name]};"
    done
    TLS_META+=" $(openssl version | awk '{ print $1, $2 }') for the peers and the clients"
fi
python3 "$HERE/report.py" --tsv "$TSV" --md "$OUT_DIR/results.md" --svg "$OUT_DIR/conns.svg" \
    --servers "${ACTIVE[*]}" --runs "${RUNS[*]}" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    --meta "command=$CMDLINE" \
    --meta "nproc=$NCPU" \
    --meta "kernel=$(uname -r)" \
    --meta "cpu=$CPU_MODEL" \
    --meta "servers=$VERSIONS" \
    ${TLS_META:+--meta "tls=$TLS_META"} \
    --meta "load=wrk $(wrk -v 2>&1 | head -n1 | awk '{ print $2 }'), $(command -v h2load >/dev/null && h2load --version | head -n1 || echo 'no h2load')" \
    --meta "loadavg=$LOADAVG_START at start, $(loadavg) at end (1/5/15 min; other work on the machine skews results)" \
    --meta "setup=servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU, ${DURATION}s per run, $ROUNDS round(s), median shown"
say "wrote $OUT_DIR/results.md, $TSV, $OUT_DIR/conns.svg"
