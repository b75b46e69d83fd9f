#!/usr/bin/env bash
# benches/h2/run.sh: loopback HTTP/2 benchmark of evserve against nginx and
# h2o, over h2c (prior knowledge) and h2 over TLS (ALPN).  Run with --help.
#
# Same approach as benches/load/run.sh (whose process bookkeeping, CPU
# accounting and TLS settings this borrows): every server serves the same
# generated directory from its own ports on 127.0.0.1, pinned to one CPU;
# h2load / h2idle.py are pinned to another; rounds are interleaved and the
# report shows medians.  This script installs and builds nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
    cat <<'EOF'
Usage: benches/h2/run.sh [--help]

Loopback HTTP/2 benchmark: evserve vs nginx and h2o, each with an h2c port
(HTTP/2 with prior knowledge on plain TCP) and an HTTPS port (h2 by ALPN),
all serving one generated folder (1k.bin: 1 KiB, 1m.bin: 1 MiB).
Needs (installs nothing): h2load (nghttp2-client), curl with HTTP/2,
openssl, python3, taskset; nginx and h2o are optional (a missing or failing
peer is skipped and said so).  Run as root for the descriptor limits.

Scenarios (all in every round; the server order rotates each round):
  h2c-1k    h2load -c100 -m10 -D DURATION  http://…/1k.bin   (h2c)
  tls-1k    h2load -c100 -m10 -D DURATION  https://…/1k.bin  (h2, ALPN)
  h2c-1m    h2load -c10 -m1 -D DURATION    http://…/1m.bin
  tls-1m    h2load -c10 -m1 -D DURATION    https://…/1m.bin
            -> responses/s and server CPU µs per response (utime+stime of
               the server's process tree from /proc/PID/stat, before/after)
  idle-h2c  IDLE_CONNS HTTP/2 connections (h2idle.py) that each make one
  idle-tls  request for /1k.bin and stay open: (VmRSS after - before) /
            connections still open, server restarted first (a fresh heap)

Targets printed with the table (evserve vs the best peer):
  CPU/request on h2c-1k and tls-1k <= 0.8x the lowest peer's
  responses/s on h2c-1m and tls-1m >= the highest peer's
  idle-h2c <= 2 KiB RSS per connection, idle-tls <= 4 KiB

HTTPS: one self-signed ECDSA P-256 certificate made at run time for every
server; the clients offer only TLS 1.3 / TLS_AES_128_GCM_SHA256 / X25519
(h2load through an OPENSSL_CONF of its own; h2idle.py via python's ssl, the
server picks); no session resumption anywhere.

Settings (environment):
  EVSERVE_BIN=target/release/evserve   evserve binary (never built here;
                     copied into the temp dir so a rebuild cannot swap it)
  EVSERVE_ARGS=      extra evserve arguments
  SERVERS="evserve nginx h2o"
  SCENARIOS="h2c-1k tls-1k h2c-1m tls-1m idle-h2c idle-tls"
  DURATION=5         seconds per h2load run
  ROUNDS=3           interleaved rounds (median shown)
  IDLE_CONNS=2000    connections held by idle-*
  IDLE_DEADLINE=60   seconds allowed to open them
  SERVER_CPU=0       taskset CPU list for the servers
  LOAD_CPU=1         taskset CPU list for h2load / h2idle.py
  BASE_PORT=19080    evserve h2c port; nginx +1, h2o +2; HTTPS ports +10
  COOLDOWN=1         seconds of pause between runs
  OUT_DIR=<script dir>   where results.md and results.tsv go
  KEEP_TMP=0         1: keep the temp dir (configs, logs)
  QUICK=1            smoke run: DURATION=2 ROUNDS=1 IDLE_CONNS=300

Time bound: every h2load run is killed after DURATION+30 s, every idle
probe after IDLE_DEADLINE+30 s; with the defaults a full run takes about
5-6 minutes (310 s on the 2-CPU test machine).

Example:  EVSERVE_BIN=/tmp/evserve-h2 benches/h2/run.sh
          QUICK=1 SERVERS="evserve nginx" EVSERVE_BIN=/tmp/evserve-h2 benches/h2/run.sh
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "run.sh: unexpected argument '$1' (settings are env vars)" >&2
       usage >&2; exit 2 ;;
esac

SETTING_NAMES=(QUICK EVSERVE_BIN EVSERVE_ARGS SERVERS SCENARIOS DURATION ROUNDS IDLE_CONNS
    IDLE_DEADLINE SERVER_CPU LOAD_CPU BASE_PORT COOLDOWN OUT_DIR KEEP_TMP)
CMDLINE=""
for v in "${SETTING_NAMES[@]}"; do
    if [[ -n ${!v+set} ]]; then CMDLINE+="$v=$(printf '%q' "${!v}") "; fi
done
CMDLINE+="benches/h2/run.sh"

if [[ ${QUICK:-0} == 1 ]]; then : "${DURATION:=2}" "${ROUNDS:=1}" "${IDLE_CONNS:=300}"; fi
EVSERVE_BIN=${EVSERVE_BIN:-$REPO/target/release/evserve}
EVSERVE_ARGS=${EVSERVE_ARGS:-}
SERVERS=${SERVERS:-evserve nginx h2o}
SCENARIOS=${SCENARIOS:-h2c-1k tls-1k h2c-1m tls-1m idle-h2c idle-tls}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
IDLE_CONNS=${IDLE_CONNS:-2000}
IDLE_DEADLINE=${IDLE_DEADLINE:-60}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19080}
COOLDOWN=${COOLDOWN:-1}
OUT_DIR=${OUT_DIR:-$HERE}
KEEP_TMP=${KEEP_TMP:-0}

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "$*" >&2; }

for v in DURATION ROUNDS IDLE_CONNS IDLE_DEADLINE BASE_PORT COOLDOWN; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
for v in SERVER_CPU LOAD_CPU; do
    [[ ${!v} =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "$v must be a CPU list like 0 or 0-1"
done
((DURATION >= 1 && ROUNDS >= 1 && IDLE_CONNS >= 1)) || die "DURATION, ROUNDS, IDLE_CONNS must be >= 1"
((BASE_PORT >= 1024 && BASE_PORT <= 65500)) || die "BASE_PORT out of range"
for scen in $SCENARIOS; do
    case $scen in h2c-1k | tls-1k | h2c-1m | tls-1m | idle-h2c | idle-tls) ;;
        *) die "unknown scenario '$scen'" ;; esac
done
for tool in h2load curl openssl taskset python3 ps ss timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (this script installs nothing)"
done
curl -V | grep -q HTTP2 || die "this curl has no HTTP/2 (needed for the start-up checks)"
NCPU=$(nproc)
for cpu in ${SERVER_CPU//[,-]/ } ${LOAD_CPU//[,-]/ }; do
    ((cpu < NCPU)) || die "SERVER_CPU/LOAD_CPU must name CPUs below nproc ($NCPU)"
done
CLK_TCK=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
((NOFILE > 1048576)) && NOFILE=1048576
((IDLE_CONNS + 64 <= NOFILE)) || say "warning: $IDLE_CONNS connections need more than the fd limit ($NOFILE)"
MAXCONN=$((NOFILE - 64))

# ------------------------------------------------------ process bookkeeping --
# An instance is NAME (h2c port) or NAME@tls (HTTPS port).

declare -A PORT=([evserve]=$BASE_PORT [nginx]=$((BASE_PORT + 1)) [h2o]=$((BASE_PORT + 2)))
for name in evserve nginx h2o; do PORT[$name@tls]=$((PORT[$name] + 10)); done
declare -A PID=()
declare -A FAILED=()   # instance -> why it is not measured
WORK=""

tree_pids() {   # tree_pids ROOT: ROOT and its descendants
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            if (!(root in parent)) exit
            want[root] = 1
            do { grown = 0
                 for (p in parent)
                     if (!(p in want) && (parent[p] in want)) { want[p] = 1; grown = 1 }
            } while (grown)
            for (p in want) print p
        }'
}

cpu_ticks() {   # cpu_ticks PID...: summed utime+stime in clock ticks
    local total=0 pid line
    local -a f
    for pid in "$@"; do
        read -r line 2>/dev/null <"/proc/$pid/stat" || continue
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

running() { local line; read -r line 2>/dev/null <"/proc/$1/stat" || return 1; [[ ${line##*) } != Z* ]]; }
alive() { [[ -n ${PID[$1]:-} ]] && running "${PID[$1]}"; }

stop_server() {
    local pid=${PID[$1]:-} pids p i
    [[ -n $pid ]] || return 0
    pids=$(tree_pids "$pid")
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do running "$pid" || break; sleep 0.1; done
    for p in $pids; do if running "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
    wait "$pid" 2>/dev/null || true
    unset "PID[$1]"
}

cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    for name in "${!PID[@]}"; do stop_server "$name"; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP_TMP == 1 ]]; then say "kept temp dir $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------ test data and TLS --

WORK=$(mktemp -d -t evserve-h2.XXXXXX)
chmod 755 "$WORK"
WWW=$WORK/www
mkdir -p "$WWW" "$WORK/conf" "$WORK/run" "$WORK/log" "$WORK/nginx/tmp" "$WORK/tls" "$WORK/bin"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$WWW/1m.bin"
chmod 644 "$WWW"/*
cat "$WWW"/* >/dev/null

TLS_CERT=$WORK/tls/cert.pem
TLS_KEY=$WORK/tls/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$WORK/log/openssl-req.log" ||
    die "openssl could not make the test certificate"
chmod 644 "$TLS_CERT" "$TLS_KEY"
CLIENT_OPENSSL_CONF=$WORK/conf/openssl-client.cnf
cat >"$CLIENT_OPENSSL_CONF" <<'EOF'
# generated by benches/h2/run.sh: read by h2load and curl (OPENSSL_CONF)
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
Groups = X25519
EOF

# ----------------------------------------------------------- server configs --
# One worker / thread each, no access log, long idle timeouts, huge request
# limits, TLS 1.2+1.3 with ECDHE X25519/P-256 and AES-128-GCM/ChaCha20, no
# session resumption.

write_nginx_conf() {   # PORT [tls]
    local port=$1 tls=${2:-} sfx=${2:+-tls} conf listen=" http2" tls_lines="" sendfile=on
    conf=$WORK/conf/nginx$sfx.conf
    if [[ -n $tls ]]; then
        listen=" ssl http2"; sendfile=off
        tls_lines="ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        ssl_session_cache off;"
    fi
    # nginx < 1.25.1 has no "http2 on;": "listen ... http2" without ssl is
    # h2c with prior knowledge (that port speaks only HTTP/2).
    cat >"$conf" <<EOF
# generated by benches/h2/run.sh
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
user root root;
pid $WORK/run/nginx$sfx.pid;
error_log $WORK/log/nginx$sfx-error.log warn;
events { worker_connections $MAXCONN; multi_accept on; use epoll; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile $sendfile;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    http2_max_requests 1000000000;
    http2_idle_timeout 300s;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
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
    }
}
EOF
    SERVER_CMD=(nginx -p "$WORK/nginx/" -e "$WORK/log/nginx$sfx-error.log" -c "$conf")
}

write_h2o_conf() {   # PORT [tls]
    local port=$1 tls=${2:-} sfx=${2:+-tls} conf tls_lines="" resumption=""
    conf=$WORK/conf/h2o$sfx.conf
    if [[ -n $tls ]]; then
        tls_lines="  ssl:
    certificate-file: $TLS_CERT
    key-file: $TLS_KEY
    minimum-version: TLSv1.2
    cipher-suite: ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305
    cipher-preference: server"
        resumption="ssl-session-resumption:
  mode: off"
    fi
    # h2o answers the HTTP/2 preface on a plain listener (h2c prior knowledge).
    cat >"$conf" <<EOF
# generated by benches/h2/run.sh (no access-log directive = no access log)
num-threads: 1
max-connections: $MAXCONN
http1-request-timeout: 300
http2-idle-timeout: 300
user: root
pid-file: $WORK/run/h2o$sfx.pid
error-log: $WORK/log/h2o$sfx-error.log
$resumption
listen:
  host: 127.0.0.1
  port: $port
$tls_lines
hosts:
  default:
    paths:
      /:
        file.dir: $WWW
EOF
    SERVER_CMD=(h2o -m worker -c "$conf")
}

# h2_get INSTANCE FILE: "<http_version> <status> <bytes>" of one curl fetch
# over HTTP/2 (prior knowledge on h2c ports, ALPN on HTTPS ones).
h2_get() {
    local inst=$1 file=$2 port=${PORT[$1]}
    local -a how=(--http2-prior-knowledge "http://127.0.0.1:$port/$file")
    [[ $inst == *@tls ]] && how=(-k --http2 "https://127.0.0.1:$port/$file")
    OPENSSL_CONF=$CLIENT_OPENSSL_CONF curl -s -o /dev/null --max-time 10 \
        -w '%{http_version} %{http_code} %{size_download}' "${how[@]}" 2>/dev/null || true
}

# launch_server INSTANCE: start it pinned to SERVER_CPU, wait until it
# answers HTTP/2.
launch_server() {
    local inst=$1 name=${1%@tls} port=${PORT[$1]} tls="" i
    [[ $inst == *@tls ]] && tls=tls
    case $name in
        evserve)
            if [[ ! -x $WORK/bin/evserve ]]; then
                [[ -x $EVSERVE_BIN ]] || { FAILED[$inst]="no binary at $EVSERVE_BIN"; return 1; }
                cp "$EVSERVE_BIN" "$WORK/bin/evserve"
            fi
            local -a extra=()
            read -r -a extra <<<"$EVSERVE_ARGS"
            SERVER_CMD=("$WORK/bin/evserve" "$WWW" --bind 127.0.0.1 --port "$port"
                --request-timeout 300 --idle-timeout 300 "${extra[@]}")
            [[ -n $tls ]] && SERVER_CMD+=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" --tls-no-resumption)
            ;;
        nginx | h2o)
            command -v "$name" >/dev/null || { FAILED[$inst]="not installed"; return 1; }
            "write_${name}_conf" "$port" ${tls:+"$tls"} ;;
        *) FAILED[$inst]="unknown server"; return 1 ;;
    esac
    if [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
        FAILED[$inst]="port $port busy"; return 1
    fi
    mkdir -p "$WORK/run/$inst"
    say "$inst: starting on 127.0.0.1:$port: ${SERVER_CMD[*]}"
    (cd "$WORK/run/$inst" && exec taskset -c "$SERVER_CPU" "${SERVER_CMD[@]}") \
        >>"$WORK/log/$inst.out" 2>&1 </dev/null &
    PID[$inst]=$!
    for ((i = 0; i < 100; i++)); do
        if ! alive "$inst"; then
            FAILED[$inst]="exited at start: $(tail -n 3 "$WORK/log/$inst.out" | tr '\n' ' ')"
            unset "PID[$inst]"; return 1
        fi
        [[ $(h2_get "$inst" 1k.bin) == "2 200 1024" ]] && return 0
        sleep 0.1
    done
    FAILED[$inst]="no HTTP/2 answer in 10 s ($(h2_get "$inst" 1k.bin))"
    stop_server "$inst"; return 1
}

start_server() {   # launch + check both files come back over HTTP/2
    local inst=$1 got
    launch_server "$inst" || { say "$inst: ${FAILED[$inst]}"; return 1; }
    got=$(h2_get "$inst" 1m.bin)
    if [[ $got != "2 200 1048576" ]]; then
        FAILED[$inst]="/1m.bin over HTTP/2 gave '$got'"
        say "$inst: ${FAILED[$inst]}"; stop_server "$inst"; return 1
    fi
    say "$inst: ok, HTTP/2 (pids $(tree_pids "${PID[$inst]}" | tr '\n' ' '))"
}

# ------------------------------------------------------------- the runs --

TSV=$OUT_DIR/results.tsv
mkdir -p "$OUT_DIR"
printf 'round\tscenario\tserver\trequests\tsecs\trps\tcpu_us_req\tcpu_pct\terrors\tkib_conn\theld\talive\tnote\n' >"$TSV"
tsv_row() { (IFS=$'\t'; echo "$*") >>"$TSV"; }
ERRLOG=$WORK/log/h2load-errors.txt

# h2load_run INSTANCE CONNS STREAMS PATH: sets R_REQ R_SECS R_ERR R_PROTO.
h2load_run() {
    local inst=$1 c=$2 m=$3 path=$4 url out
    url="http://127.0.0.1:${PORT[$inst]}$path"
    [[ $inst == *@tls ]] && url="https://127.0.0.1:${PORT[$inst]}$path"
    out=$(timeout --foreground -k 5 $((DURATION + 30)) taskset -c "$LOAD_CPU" \
        env OPENSSL_CONF="$CLIENT_OPENSSL_CONF" \
        h2load -t1 -c"$c" -m"$m" -D "$DURATION" "$url" 2>&1) || true
    if ! grep -q '^requests: ' <<<"$out"; then
        say "  h2load failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        printf '%s\n' "== $inst $path: h2load failed" "$out" >>"$ERRLOG"
        return 1
    fi
    # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
    R_REQ=$(awk '/^requests: / { print $8 }' <<<"$out")   # succeeded
    R_ERR=$(awk '/^requests: / { e += $10 + $12 + $14 }
                 /^status codes: / { e += $7 + $9 } END { print e + 0 }' <<<"$out")
    R_SECS=$(awk '/^finished in / { v = $3; sub(/,$/, "", v)
        if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else sub(/s$/, "", v)
        printf "%.3f", v }' <<<"$out")
    R_PROTO=$(awk '/^Application protocol: / { print $3 }' <<<"$out")
    if ((R_ERR > 0)) || [[ $R_PROTO != h2* ]]; then
        printf '%s\n' "== $inst $path: errors $R_ERR, protocol $R_PROTO" \
            "$(grep -vE '^(progress|spawning|starting|Warm-up|Main benchmark)' <<<"$out" | head -n 40)" >>"$ERRLOG"
    fi
}

measure() {   # measure ROUND SCENARIO NAME
    local round=$1 scen=$2 name=$3 inst pids c0 c1 rps cpu pct
    inst=$name
    [[ $scen == tls-* ]] && inst=$name@tls
    local -a args
    case $scen in
        *-1k) args=(100 10 /1k.bin) ;;
        *-1m) args=(10 1 /1m.bin) ;;
    esac
    pids=$(tree_pids "${PID[$inst]}")
    # shellcheck disable=SC2086
    c0=$(cpu_ticks $pids)
    if ! h2load_run "$inst" "${args[@]}"; then
        tsv_row "$round" "$scen" "$name" - - - - - - - - - "h2load failed"; return 0
    fi
    # shellcheck disable=SC2086,SC2046
    pids=$(printf '%s\n' $pids $(tree_pids "${PID[$inst]}") | sort -un)
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $pids)
    read -r rps cpu pct < <(awk -v n="$R_REQ" -v s="$R_SECS" -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {
        rps = s > 0 ? n / s : 0; cpu = n > 0 ? t / hz * 1e6 / n : 0; pct = s > 0 ? 100 * t / hz / s : 0
        printf "%.1f %.2f %.1f\n", rps, cpu, pct }')
    local note=-
    [[ $R_PROTO == h2* ]] || note="protocol $R_PROTO"
    tsv_row "$round" "$scen" "$name" "$R_REQ" "$R_SECS" "$rps" "$cpu" "$pct" "$R_ERR" - - - "$note"
    say "$(printf '  %-8s %-7s %10s resp/s  cpu %8s us/resp (%5s%%)  errors %s  %s' \
        "$scen" "$name" "$rps" "$cpu" "$pct" "$R_ERR" "$R_PROTO")"
}

idle_run() {   # idle_run ROUND SCENARIO NAME: restart, then h2idle.py
    local round=$1 scen=$2 name=$3 inst out line
    inst=$name
    local -a extra=()
    [[ $scen == idle-tls ]] && { inst=$name@tls; extra=(--tls); }
    stop_server "$inst"
    if ! launch_server "$inst"; then
        say "  $inst: restart failed: ${FAILED[$inst]}"
        tsv_row "$round" "$scen" "$name" - - - - - - - - - "restart failed"; return 0
    fi
    sleep 0.5
    out=$(timeout --foreground -k 5 $((IDLE_DEADLINE + 30)) taskset -c "$LOAD_CPU" \
        python3 "$HERE/h2idle.py" --port "${PORT[$inst]}" --conns "$IDLE_CONNS" --body-bytes 1024 \
        --deadline "$IDLE_DEADLINE" --pids "$(tree_pids "${PID[$inst]}" | tr '\n' ' ')" \
        "${extra[@]}" 2>&1) || true
    line=$(grep -m1 '^H2IDLE ' <<<"$out" || true)
    if [[ -z $line ]]; then
        say "  idle probe failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        tsv_row "$round" "$scen" "$name" - - - - - - - - - "idle probe failed"; return 0
    fi
    local held alive kib bad
    held=$(sed -E 's/.* held=([^ ]+).*/\1/' <<<"$line")
    alive=$(sed -E 's/.* alive=([^ ]+).*/\1/' <<<"$line")
    kib=$(sed -E 's/.* kib_per_conn=([^ ]+).*/\1/' <<<"$line")
    bad=$(sed -E 's/.* bad=([^ ]+).*/\1/' <<<"$line")
    tsv_row "$round" "$scen" "$name" - - - - - "$bad" "$kib" "$held" "$alive" \
        "$(sed -E 's/^H2IDLE //; s/ /,/g' <<<"$line")"
    say "$(printf '  %-8s %-7s held %s, open %s, failed %s, %s KiB/conn' "$scen" "$name" "$held" "$alive" "$bad" "$kib")"
    grep -v '^H2IDLE ' <<<"$out" | sed 's/^/    /' >&2 || true
}

# -------------------------------------------------------------------- main --

START_TS=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "evserve HTTP/2 benchmark: $CMDLINE"
say "workdir $WORK, fd limit $NOFILE, server CPU $SERVER_CPU, load CPU $LOAD_CPU"
ACTIVE=()
for name in $SERVERS; do
    ok=0
    start_server "$name" && ok=1
    start_server "$name@tls" && ok=1
    ((ok)) && ACTIVE+=("$name")
done
((${#ACTIVE[@]} > 0)) || die "no server could be started"

for ((round = 1; round <= ROUNDS; round++)); do
    say "== round $round/$ROUNDS"
    for scen in $SCENARIOS; do
        n=${#ACTIVE[@]}
        for ((k = 0; k < n; k++)); do
            name=${ACTIVE[$(((k + round - 1) % n))]}
            inst=$name
            [[ $scen == tls-* || $scen == idle-tls ]] && inst=$name@tls
            [[ -n ${FAILED[$inst]:-} && -z ${PID[$inst]:-} ]] && continue
            if [[ $scen != idle-* ]] && ! alive "$inst"; then
                say "  $inst is not running; skipped"; continue
            fi
            if [[ $scen == idle-* ]]; then idle_run "$round" "$scen" "$name"
            else measure "$round" "$scen" "$name"; fi
            alive "$inst" || say "  $inst DIED during $scen: $(tail -n 5 "$WORK/log/$inst.out" | tr '\n' ' ')"
            sleep "$COOLDOWN"
        done
    done
done

# ------------------------------------------------------------------ report --

VERSIONS="evserve ($EVSERVE_BIN, sha256 $(sha256sum "$WORK/bin/evserve" 2>/dev/null | cut -c1-12), repo HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
[[ " ${ACTIVE[*]} " == *" nginx "* ]] && VERSIONS+=", $(nginx -v 2>&1 | sed 's/.*: //')"
[[ " ${ACTIVE[*]} " == *" h2o "* ]] && VERSIONS+=", h2o/$(h2o --version 2>&1 | head -n1 | awk '{ print $3 }')"
FAILURES=""
for inst in "${!FAILED[@]}"; do FAILURES+="$inst: ${FAILED[$inst]}; "; done
ACTIVE_VERSIONS="$VERSIONS"
python3 "$HERE/report.py" --tsv "$TSV" --md "$OUT_DIR/results.md" \
    --servers "${ACTIVE[*]}" --scenarios "$SCENARIOS" --errlog "$ERRLOG" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC'), run took $(($(date +%s) - START_TS)) s" \
    --meta "command=\`$CMDLINE\`" \
    --meta "machine=$NCPU CPUs ($(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r); servers pinned to CPU $SERVER_CPU, load generator to CPU $LOAD_CPU; loadavg $LOADAVG_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end (other work on the machine skews results)" \
    --meta "servers=$ACTIVE_VERSIONS; one worker/loop each, no access log, no TLS resumption; nginx h2c = 'listen ... http2' without ssl (prior knowledge only)" \
    --meta "load=$(h2load --version | head -n1), one client thread; ${DURATION} s per run, $ROUNDS interleaved rounds (server order rotated), medians shown; idle: h2idle.py, $IDLE_CONNS connections, server restarted before each probe" \
    --meta "tls=self-signed ECDSA P-256 certificate made at run time; h2load offers only TLS 1.3 / TLS_AES_128_GCM_SHA256 / X25519; h2idle.py uses python's ssl defaults with ALPN h2" \
    --meta "servers not measured=${FAILURES:-none}"
say "wrote $OUT_DIR/results.md and $TSV"
