#!/usr/bin/env bash
# benches/h2/run.sh: loopback HTTP/2 benchmark of evserve against nginx and
# h2o, over h2c (prior knowledge) and h2 over TLS (ALPN).  Run with --help.
#
# Same approach as benches/load/run.sh (whose process bookkeeping, CPU
# accounting and TLS settings both take from benches/lib.sh): every server serves the same
# generated directory from its own ports on 127.0.0.1, pinned to one CPU;
# h2load / h2idle.py are pinned to another; rounds are interleaved and the
# report shows medians.  This script installs and builds nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../lib.sh"

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

handle_args "$@"

SETTING_NAMES=(QUICK EVSERVE_BIN EVSERVE_ARGS SERVERS SCENARIOS DURATION ROUNDS IDLE_CONNS
    IDLE_DEADLINE SERVER_CPU LOAD_CPU BASE_PORT COOLDOWN OUT_DIR KEEP_TMP)
set_cmdline benches/h2/run.sh

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

require_uints DURATION ROUNDS IDLE_CONNS IDLE_DEADLINE BASE_PORT COOLDOWN
check_pinning
((DURATION >= 1 && ROUNDS >= 1 && IDLE_CONNS >= 1)) || die "DURATION, ROUNDS, IDLE_CONNS must be >= 1"
((BASE_PORT >= 1024 && BASE_PORT <= 65500)) || die "BASE_PORT out of range"
for scen in $SCENARIOS; do
    case $scen in h2c-1k | tls-1k | h2c-1m | tls-1m | idle-h2c | idle-tls) ;;
        *) die "unknown scenario '$scen'" ;; esac
done
require_tools h2load curl openssl taskset python3 ps ss timeout
curl -V | grep -q HTTP2 || die "this curl has no HTTP/2 (needed for the start-up checks)"
raise_fd_limit
warn_fd_limit "$IDLE_CONNS"

# ------------------------------------------------------ process bookkeeping --
# An instance is NAME (h2c port) or NAME@tls (HTTPS port).

declare -A PORT=([evserve]=$BASE_PORT [nginx]=$((BASE_PORT + 1)) [h2o]=$((BASE_PORT + 2)))
for name in evserve nginx h2o; do PORT[$name@tls]=$((PORT[$name] + 10)); done
declare -A FAILED=()   # instance -> why it is not measured

# ------------------------------------------------------ test data and TLS --

make_work_dir h2 www conf run log nginx/tmp tls bin
WWW=$WORK/www
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$WWW/1m.bin"
chmod 644 "$WWW"/*
cat "$WWW"/* >/dev/null
make_tls_material

# ----------------------------------------------------------- server configs --
# One worker / thread each, no access log, long idle timeouts, huge request
# limits, TLS 1.2+1.3 with ECDHE X25519/P-256 and AES-128-GCM/ChaCha20, no
# session resumption.

write_nginx_conf() {   # PORT [tls]
    local port=$1 tls=${2:-} sfx=${2:+-tls} conf listen=" http2" tls_lines="" sendfile=on
    conf=$WORK/conf/nginx$sfx.conf
    if [[ -n $tls ]]; then
        listen=" ssl http2"; sendfile=off
        tls_lines=$(nginx_tls_lines)
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
        tls_lines=$(h2o_tls_lines)
        resumption=$(h2o_no_resumption)
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
    if port_busy "$port"; then
        FAILED[$inst]="port $port busy"; return 1
    fi
    spawn_server "$inst" "$port"
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
    local round=$1 scen=$2 name=$3 inst ticks rps cpu pct
    inst=$name
    [[ $scen == tls-* ]] && inst=$name@tls
    local -a args
    case $scen in
        *-1k) args=(100 10 /1k.bin) ;;
        *-1m) args=(10 1 /1m.bin) ;;
    esac
    server_cpu_start "$inst"
    if ! h2load_run "$inst" "${args[@]}"; then
        tsv_row "$round" "$scen" "$name" - - - - - - - - - "h2load failed"; return 0
    fi
    ticks=$(server_cpu_ticks "$inst")
    read -r rps cpu pct < <(rate_and_cpu "$R_REQ" "$R_SECS" "$ticks")
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
LOADAVG_START=$(loadavg)
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
        for name in $(in_round_order "$round" "${ACTIVE[@]}"); do
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
[[ " ${ACTIVE[*]} " == *" nginx "* ]] && VERSIONS+=", $(nginx_version)"
[[ " ${ACTIVE[*]} " == *" h2o "* ]] && VERSIONS+=", $(h2o_version)"
FAILURES=""
for inst in "${!FAILED[@]}"; do FAILURES+="$inst: ${FAILED[$inst]}; "; done
ACTIVE_VERSIONS="$VERSIONS"
python3 "$HERE/report.py" --tsv "$TSV" --md "$OUT_DIR/results.md" \
    --servers "${ACTIVE[*]}" --scenarios "$SCENARIOS" --errlog "$ERRLOG" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC'), run took $(($(date +%s) - START_TS)) s" \
    --meta "command=\`$CMDLINE\`" \
    --meta "machine=$NCPU CPUs ($(cpu_model)), kernel $(uname -r); servers pinned to CPU $SERVER_CPU, load generator to CPU $LOAD_CPU; loadavg $LOADAVG_START at start, $(loadavg) at end (other work on the machine skews results)" \
    --meta "servers=$ACTIVE_VERSIONS; one worker/loop each, no access log, no TLS resumption; nginx h2c = 'listen ... http2' without ssl (prior knowledge only)" \
    --meta "load=$(h2load --version | head -n1), one client thread; ${DURATION} s per run, $ROUNDS interleaved rounds (server order rotated), medians shown; idle: h2idle.py, $IDLE_CONNS connections, server restarted before each probe" \
    --meta "tls=self-signed ECDSA P-256 certificate made at run time; h2load offers only TLS 1.3 / TLS_AES_128_GCM_SHA256 / X25519; h2idle.py uses python's ssl defaults with ALPN h2" \
    --meta "servers not measured=${FAILURES:-none}"
say "wrote $OUT_DIR/results.md and $TSV"
