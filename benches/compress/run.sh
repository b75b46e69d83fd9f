#!/usr/bin/env bash
# benches/compress/run.sh: compression benchmark of evserve against nginx, h2o
# and lighttpd (issue 19).  Run with --help.
#
# Same house rules as benches/load and benches/h2: loopback only, every server
# pinned to one CPU and the load generator to another, server CPU time read
# from /proc/PID/stat of the server's process tree before and after each run,
# interleaved rounds and medians, every load bounded in time, every server
# killed at the end.  This script installs and builds nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../lib.sh"

usage() {
    cat <<'EOF'
Usage: benches/compress/run.sh [--help]

Parts (PARTS, all by default):
  cpu     CPU per response for a 100 KiB JavaScript file served compressed:
          wrk -t1 -cCONNS -dDURATION, keep-alive, with
          'Accept-Encoding: gzip, deflate, br, zstd'; server CPU µs per
          response (utime+stime of its process tree, /proc/PID/stat) for
            evserve          --compress on, warm (its brotli 11 made: the
                             ETag ends in -br11 before the first run)
            evserve-sidecar  --compress off, app.js.br/.zst/.gz sidecars
                             (brotli -q 11, zstd -19, gzip -9) beside it
            nginx-gzip       gzip on; gzip_comp_level 6; every text type
                             (compressed again on every request)
            nginx-static     gzip_static on (the app.js.gz sidecar)
            h2o              compress: ON (on every request)
            lighttpd         mod_deflate with deflate.cache-dir (compressed
                             once, kept on disk)
          The file: the toolchain's rustdoc search.js then main.js, cut at
          102400 bytes (real JavaScript, exactly 100 KiB).
  bytes   Bytes on the wire for the Rust documentation of the toolchain
          ($(rustc --print sysroot)/share/doc/rust/html): every .html, .js and
          .css of a fixed subset fetched once (fetch.py: one keep-alive
          connection, Accept-Encoding 'gzip, deflate, br, zstd'), each body
          decoded again and compared with the file.  Subsets (SUBSETS):
            first200   the first 200 paths in byte order (LC_ALL=C sort)
            every100   every 100th path of that order (1st, 101st, ...)
          evserve is warmed first (fetch.py warm: HEAD until each ETag names
          the best level), then fetched; nginx-gzip, h2o and lighttpd are
          fetched once to warm (lighttpd's cache), then measured.  Offline
          references: every file through brotli -q 11 and gzip -6 / -9.
  lighthouse
          Lighthouse's uses-text-compression audit (npm lighthouse, headless
          system Chromium) on the docs' /std/ page: a fresh evserve (first
          load: nothing compressed yet), evserve-sidecar (--compress off; the
          docs have no sidecars: evserve before issue 19), nginx-gzip, h2o.
          LIGHTHOUSE names
          the lighthouse binary (npm install lighthouse into a temp dir).

Settings (environment):
  EVSERVE_BIN=target/release/evserve   (copied into the temp dir)
  PARTS="cpu bytes lighthouse"
  CPU_SERVERS="evserve evserve-sidecar nginx-gzip nginx-static h2o lighttpd"
  BYTES_SERVERS="evserve nginx-gzip h2o lighttpd"
  LH_SERVERS="evserve evserve-sidecar nginx-gzip h2o"
  SUBSETS="first200 every100"
  DOCS=$(rustc --print sysroot)/share/doc/rust/html
  DURATION=5  ROUNDS=3  CONNS=10  COOLDOWN=1
  WARM_DEADLINE=600   seconds allowed for evserve's best levels
  SERVER_CPU=0  LOAD_CPU=1  BASE_PORT=19180
  LIGHTHOUSE=lighthouse  CHROME_PATH=/usr/bin/chromium
  OUT_DIR=<script dir>  KEEP_TMP=0  QUICK=1 (DURATION=2 ROUNDS=1 SUBSETS=first200)

Writes OUT_DIR/results.tsv and OUT_DIR/results.md (report.py), and
OUT_DIR/lighthouse.tsv for the lighthouse part.
Time bound: each wrk run DURATION+30 s, each fetch pass 600 s, each
lighthouse run 180 s; about 10 minutes in all on the 2-CPU test machine.
EOF
}

handle_args "$@"

SETTING_NAMES=(QUICK EVSERVE_BIN PARTS CPU_SERVERS BYTES_SERVERS LH_SERVERS SUBSETS DOCS DURATION
    ROUNDS CONNS COOLDOWN WARM_DEADLINE SERVER_CPU LOAD_CPU BASE_PORT LIGHTHOUSE OUT_DIR KEEP_TMP)
set_cmdline benches/compress/run.sh

if [[ ${QUICK:-0} == 1 ]]; then : "${DURATION:=2}" "${ROUNDS:=1}" "${SUBSETS:=first200}"; fi
EVSERVE_BIN=${EVSERVE_BIN:-$REPO/target/release/evserve}
PARTS=${PARTS:-cpu bytes lighthouse}
CPU_SERVERS=${CPU_SERVERS:-evserve evserve-sidecar nginx-gzip nginx-static h2o lighttpd}
BYTES_SERVERS=${BYTES_SERVERS:-evserve nginx-gzip h2o lighttpd}
LH_SERVERS=${LH_SERVERS:-evserve evserve-sidecar nginx-gzip h2o}
SUBSETS=${SUBSETS:-first200 every100}
DOCS=${DOCS:-$(rustc --print sysroot 2>/dev/null)/share/doc/rust/html}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-10}
COOLDOWN=${COOLDOWN:-1}
WARM_DEADLINE=${WARM_DEADLINE:-600}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19180}
LIGHTHOUSE=${LIGHTHOUSE:-lighthouse}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
OUT_DIR=${OUT_DIR:-$HERE}
KEEP_TMP=${KEEP_TMP:-0}
AE='gzip, deflate, br, zstd'

require_uints DURATION ROUNDS CONNS COOLDOWN WARM_DEADLINE BASE_PORT
((DURATION >= 1 && ROUNDS >= 1 && CONNS >= 1)) || die "DURATION, ROUNDS, CONNS must be >= 1"
require_tools curl python3 taskset ps ss timeout brotli zstd gzip
[[ " $PARTS " != *" cpu "* ]] || command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ -x $EVSERVE_BIN ]] || die "no evserve binary at $EVSERVE_BIN (cargo build --release)"
[[ " $PARTS " != *" bytes "* && " $PARTS " != *" lighthouse "* ]] || [[ -d $DOCS/std ]] ||
    die "no Rust documentation at $DOCS (rustup component add rust-docs)"
NCPU=$(nproc)

# ------------------------------------------------------ process bookkeeping --

declare -A PORT=()
k=0
for name in evserve evserve-sidecar nginx-gzip nginx-static h2o lighttpd; do
    PORT[$name]=$((BASE_PORT + k)); k=$((k + 1))
done
declare -A FAILED=()
KEEP_WORK_ON_FAILURE=1   # a failed run keeps its temp dir (configs, logs)

# ---------------------------------------------------------------- test data --

make_work_dir compress plain sidecars conf run log bin nginx/tmp lighttpd-cache
cp "$EVSERVE_BIN" "$WORK/bin/evserve"
JS_SRC=("$DOCS"/static.files/search-*.js "$DOCS"/static.files/main-*.js)
if [[ -f ${JS_SRC[0]} && -f ${JS_SRC[1]} ]]; then
    cat "${JS_SRC[0]}" "${JS_SRC[1]}" >"$WORK/plain/app.js"
    truncate -s 102400 "$WORK/plain/app.js"
else   # no docs: JavaScript-like text of the same size
    python3 -c 'import random; r = random.Random(7); w = ["const","let","function","return","if","else","value","index","node","options","state","result","=>","(",")","{","}",";","\n"]
import sys; out = []; n = 0
while n < 102400:
    t = r.choice(w) + " "; out.append(t); n += len(t)
sys.stdout.write("".join(out)[:102400])' >"$WORK/plain/app.js"
fi
cp "$WORK/plain/app.js" "$WORK/sidecars/app.js"
brotli -q 11 -c "$WORK/plain/app.js" >"$WORK/sidecars/app.js.br"
zstd -q -19 -c "$WORK/plain/app.js" >"$WORK/sidecars/app.js.zst"
gzip -9 -n -c "$WORK/plain/app.js" >"$WORK/sidecars/app.js.gz"
touch -r "$WORK/plain/app.js" "$WORK/sidecars"/app.js*
chmod 644 "$WORK"/plain/* "$WORK"/sidecars/*
JS_LEN=$(wc -c <"$WORK/plain/app.js")

for subset in $SUBSETS; do
    case $subset in
        first200) (cd "$DOCS" && find . -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' \) |
            sed 's|^\./||' | LC_ALL=C sort | awk 'NR <= 200') >"$WORK/$subset.txt" ;;
        every100) (cd "$DOCS" && find . -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' \) |
            sed 's|^\./||' | LC_ALL=C sort | awk 'NR % 100 == 1') >"$WORK/$subset.txt" ;;
        *) die "unknown subset '$subset'" ;;
    esac
done

# ----------------------------------------------------------- server configs --
# One worker each, no access log, long keep-alive.

TEXT_TYPES="text/plain text/css text/javascript application/javascript application/x-javascript application/json application/xml text/xml application/rss+xml application/atom+xml image/svg+xml application/wasm font/ttf font/otf application/vnd.ms-fontobject text/markdown text/csv application/manifest+json"

write_nginx_conf() {   # NAME PORT ROOT gzip|static
    local name=$1 port=$2 root=$3 mode=$4 conf=$WORK/conf/$1.conf gz
    if [[ $mode == gzip ]]; then
        gz="gzip on; gzip_comp_level 6; gzip_vary on; gzip_min_length 20; gzip_types $TEXT_TYPES;"
    else
        gz="gzip off; gzip_static on; gzip_vary on;"
    fi
    cat >"$conf" <<EOF
# generated by benches/compress/run.sh
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $WORK/run/$name.pid;
error_log $WORK/log/$name-error.log warn;
events { worker_connections 4096; use epoll; }
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
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    $gz
    server {
        listen 127.0.0.1:$port backlog=4096;
        server_name _;
        root $root;
    }
}
EOF
    SERVER_CMD=(nginx -p "$WORK/nginx/" -e "$WORK/log/$name-error.log" -c "$conf")
}

write_h2o_conf() {   # NAME PORT ROOT
    local name=$1 port=$2 root=$3 conf=$WORK/conf/$1.conf
    cat >"$conf" <<EOF
# generated by benches/compress/run.sh (no access-log directive = no access log)
num-threads: 1
http1-request-timeout: 300
user: root
pid-file: $WORK/run/$name.pid
error-log: $WORK/log/$name-error.log
listen:
  host: 127.0.0.1
  port: $port
hosts:
  default:
    paths:
      /:
        file.dir: $root
        compress: ON
EOF
    SERVER_CMD=(h2o -m worker -c "$conf")
}

write_lighttpd_conf() {   # NAME PORT ROOT
    local name=$1 port=$2 root=$3 conf=$WORK/conf/$1.conf
    cat >"$conf" <<EOF
# generated by benches/compress/run.sh
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $port
server.modules = ("mod_deflate")
server.errorlog = "$WORK/log/$name-error.log"
server.pid-file = "$WORK/run/$name.pid"
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 300
server.max-fds = 8192
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".js" => "text/javascript", ".css" => "text/css",
                   ".txt" => "text/plain", ".svg" => "image/svg+xml", ".json" => "application/json",
                   ".png" => "image/png", ".woff2" => "font/woff2")
deflate.mimetypes = ("text/", "application/javascript", "application/json", "image/svg+xml")
deflate.allowed-encodings = ("br", "zstd", "gzip", "deflate")
deflate.cache-dir = "$WORK/lighttpd-cache"
EOF
    SERVER_CMD=(lighttpd -D -f "$conf")
}

# launch_server NAME ROOT [EXTRA EVSERVE ARGS...]: start it pinned to
# SERVER_CPU, wait until it answers.
launch_server() {
    local name=$1 root=$2 port=${PORT[$1]} i
    shift 2
    case $name in
        evserve) SERVER_CMD=("$WORK/bin/evserve" "$root" --bind 127.0.0.1 --port "$port"
            --idle-timeout 300 "$@") ;;
        evserve-sidecar) SERVER_CMD=("$WORK/bin/evserve" "$root" --bind 127.0.0.1 --port "$port"
            --idle-timeout 300 --compress off "$@") ;;
        nginx-gzip) command -v nginx >/dev/null || { FAILED[$name]="nginx not installed"; return 1; }
            write_nginx_conf "$name" "$port" "$root" gzip ;;
        nginx-static) command -v nginx >/dev/null || { FAILED[$name]="nginx not installed"; return 1; }
            write_nginx_conf "$name" "$port" "$root" static ;;
        h2o) command -v h2o >/dev/null || { FAILED[$name]="h2o not installed"; return 1; }
            write_h2o_conf "$name" "$port" "$root" ;;
        lighttpd) command -v lighttpd >/dev/null || { FAILED[$name]="lighttpd not installed"; return 1; }
            rm -rf "$WORK/lighttpd-cache"; mkdir -p "$WORK/lighttpd-cache"
            write_lighttpd_conf "$name" "$port" "$root" ;;
        *) FAILED[$name]="unknown server"; return 1 ;;
    esac
    if port_busy "$port"; then
        FAILED[$name]="port $port busy"; return 1
    fi
    spawn_server "$name" "$port"
    for ((i = 0; i < 100; i++)); do
        if ! alive "$name"; then
            FAILED[$name]="exited at start: $(tail -n 3 "$WORK/log/$name.out" | tr '\n' ' ')"
            unset "PID[$name]"; return 1
        fi
        [[ $(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null) =~ ^[2-4] ]] && return 0
        sleep 0.1
    done
    FAILED[$name]="no answer in 10 s"
    stop_server "$name"; return 1
}

# probe NAME PATH: "<status>|<content-encoding>|<bytes>|<etag>" of one compressed GET
probe() {
    curl -s -o /dev/null --max-time 30 -H "Accept-Encoding: $AE" \
        -w '%{http_code}|%header{content-encoding}|%{size_download}|%header{etag}' \
        "http://127.0.0.1:${PORT[$1]}$2" 2>/dev/null || true
}

TSV=$OUT_DIR/results.tsv
LH_TSV=$OUT_DIR/lighthouse.tsv
mkdir -p "$OUT_DIR"

# -------------------------------------------------------------- part: cpu --

declare -A ENC=()   # name -> "coding bytes" of app.js
cpu_part() {
    local name root round active=()
    for name in $CPU_SERVERS; do
        root=$WORK/plain
        [[ $name == evserve-sidecar || $name == nginx-static ]] && root=$WORK/sidecars
        launch_server "$name" "$root" || { say "$name: ${FAILED[$name]}"; continue; }
        local got i
        got=$(probe "$name" /app.js)
        if [[ $name == evserve ]]; then   # warm: until the ETag names brotli 11
            for ((i = 0; i < 600; i++)); do
                [[ $got == *'-br11"' ]] && break
                sleep 0.1; got=$(probe "$name" /app.js)
            done
            [[ $got == *'-br11"' ]] || say "evserve: app.js not at brotli 11 after 60 s: $got"
        fi
        got=$(probe "$name" /app.js)   # lighttpd: the second one comes from its cache
        local st enc bytes
        IFS='|' read -r st enc bytes _ <<<"$got"
        if [[ $st != 200 || -z $enc ]]; then
            FAILED[$name]="app.js not compressed: '$got'"; say "$name: ${FAILED[$name]}"
            stop_server "$name"; continue
        fi
        ENC[$name]="$enc $bytes"
        say "$name: app.js -> $enc, $bytes bytes (of $JS_LEN)"
        active+=("$name")
    done
    ((${#active[@]} > 0)) || { say "cpu: no server could be started"; return 0; }
    for ((round = 1; round <= ROUNDS; round++)); do
        say "== cpu round $round/$ROUNDS"
        for name in $(in_round_order "$round" "${active[@]}"); do
            alive "$name" || { say "  $name is not running; skipped"; continue; }
            wrk_run "$round" "$name"
            sleep "$COOLDOWN"
        done
    done
    for name in "${active[@]}"; do stop_server "$name"; done
}

wrk_run() {   # wrk_run ROUND NAME
    local round=$1 name=$2 ticks out req secs err rps cpu pct
    server_cpu_start "$name"
    out=$(timeout --foreground -k 5 $((DURATION + 30)) taskset -c "$LOAD_CPU" \
        wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Accept-Encoding: $AE" \
        "http://127.0.0.1:${PORT[$name]}/app.js" 2>&1) || true
    ticks=$(server_cpu_ticks "$name")
    req=$(awk '/ requests in / { print $1 }' <<<"$out")
    secs=$(awk '/ requests in / { v = $4; sub(/,$/, "", v)
        if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60 } else sub(/s$/, "", v)
        printf "%.3f", v }' <<<"$out")
    err=$(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' <<<"$out")
    if [[ -z $req ]]; then
        say "  wrk failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        tsv_row cpu "$round" "$name" - - - - - - - - - - "wrk failed"; return 0
    fi
    read -r rps cpu pct < <(rate_and_cpu "$req" "$secs" "$ticks")
    # shellcheck disable=SC2086
    set -- ${ENC[$name]}
    tsv_row cpu "$round" "$name" app.js "$req" "$secs" "$rps" "$cpu" "$pct" "$err" 1 "$JS_LEN" "$2" "$1" -
    say "$(printf '  %-16s %10s resp/s  cpu %9s us/resp (%5s%%)  errors %s' "$name" "$rps" "$cpu" "$pct" "$err")"
}

# ------------------------------------------------------------ part: bytes --

bytes_part() {
    local subset name line out warm
    for subset in $SUBSETS; do
        local list=$WORK/$subset.txt
        say "== bytes: $subset ($(wc -l <"$list") files)"
        # Offline references: what a build step's sidecars would weigh.
        read -r ident br11 gz6 gz9 < <(cd "$DOCS" && while IFS= read -r f; do
            printf '%s %s %s %s\n' "$(wc -c <"$f")" "$(brotli -q 11 -c "$f" | wc -c)" \
                "$(gzip -6 -n -c "$f" | wc -c)" "$(gzip -9 -n -c "$f" | wc -c)"
        done <"$list" | awk '{ a += $1; b += $2; c += $3; d += $4 } END { print a, b, c, d }')
        tsv_row bytes 1 "offline-brotli11" "$subset" - - - - - - "$(wc -l <"$list")" "$ident" "$br11" "br" "brotli -q 11, per file"
        tsv_row bytes 1 "offline-gzip6" "$subset" - - - - - - "$(wc -l <"$list")" "$ident" "$gz6" "gzip" "gzip -6, per file"
        tsv_row bytes 1 "offline-gzip9" "$subset" - - - - - - "$(wc -l <"$list")" "$ident" "$gz9" "gzip" "gzip -9, per file"
        for name in $BYTES_SERVERS; do
            launch_server "$name" "$DOCS" || { say "$name: ${FAILED[$name]}"; continue; }
            warm=-
            if [[ $name == evserve ]]; then
                out=$(timeout -k 5 $((WARM_DEADLINE + 30)) python3 "$HERE/fetch.py" warm \
                    --port "${PORT[$name]}" --list "$list" --deadline "$WARM_DEADLINE" 2>&1) || true
                warm=$(grep -m1 '^WARM ' <<<"$out" || echo "WARM failed")
                say "  $name: $warm"
                grep -v '^WARM ' <<<"$out" | sed 's/^/    /' >&2 || true
            else   # one pass first (fills lighttpd's cache; the same for the others)
                timeout -k 5 630 python3 "$HERE/fetch.py" bytes --port "${PORT[$name]}" \
                    --list "$list" --root "$DOCS" >/dev/null 2>&1 || true
            fi
            out=$(timeout -k 5 630 python3 "$HERE/fetch.py" bytes --port "${PORT[$name]}" \
                --list "$list" --root "$DOCS" 2>&1) || true
            line=$(grep -m1 '^BYTES ' <<<"$out" || true)
            stop_server "$name"
            if [[ -z $line ]]; then
                say "  $name: fetch failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
                tsv_row bytes 1 "$name" "$subset" - - - - - - - - - - "fetch failed"; continue
            fi
            grep -v '^BYTES ' <<<"$out" | head -n 20 | sed 's/^/    /' >&2 || true
            local files identity wire encs bad
            files=$(sed -E 's/.* files=([^ ]+).*/\1/' <<<"$line")
            identity=$(sed -E 's/.* identity=([^ ]+).*/\1/' <<<"$line")
            wire=$(sed -E 's/.* wire=([^ ]+).*/\1/' <<<"$line")
            encs=$(sed -E 's/.* enc:([^ ]+).*/\1/' <<<"$line")
            bad=$(sed -E 's/.* bad=([^ ]+).*/\1/' <<<"$line")
            tsv_row bytes 1 "$name" "$subset" - - - - - "$bad" "$files" "$identity" "$wire" "$encs" \
                "$(sed -E 's/^WARM //; s/ /,/g' <<<"$warm")"
            say "  $name: $wire bytes on the wire of $identity ($encs), bad $bad"
        done
    done
}

# ------------------------------------------------------- part: lighthouse --

lighthouse_part() {
    local name out json
    if ! command -v "$LIGHTHOUSE" >/dev/null; then
        say "lighthouse: '$LIGHTHOUSE' not found (npm install lighthouse; LIGHTHOUSE=.../node_modules/.bin/lighthouse)"
        return 0
    fi
    [[ -x $CHROME_PATH ]] || { say "lighthouse: no chromium at $CHROME_PATH"; return 0; }
    printf 'server\tscore\tsavings_bytes\tsavings_ms\titems\tfirst_load\n' >"$LH_TSV"
    for name in $LH_SERVERS; do
        local -a extra=()
        [[ $name == evserve ]] && extra=(--access-log "$WORK/log/evserve-lh-access.log")
        # A fresh server each time: evserve's first load, nothing compressed yet.
        launch_server "$name" "$DOCS" "${extra[@]}" || { say "$name: ${FAILED[$name]}"; continue; }
        json=$WORK/log/lighthouse-$name.json
        out=$(timeout -k 5 180 "$LIGHTHOUSE" "http://127.0.0.1:${PORT[$name]}/std/" \
            --only-audits=uses-text-compression --output=json --output-path="$json" --quiet \
            --chrome-flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
            2>&1) || say "  lighthouse on $name exited non-zero: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        stop_server "$name"
        local first_load=-
        if [[ $name == evserve && -f $WORK/log/evserve-lh-access.log ]]; then
            # What each response of the first load was: bytes sent / file size.
            first_load=$(python3 - "$WORK/log/evserve-lh-access.log" "$DOCS" <<'PY'
import os, re, sys, urllib.parse
out = []
for line in open(sys.argv[1]):
    m = re.search(r'"GET (\S+) HTTP/[^"]*" (\d{3}) (\d+|-)', line)
    if not m:
        continue
    path = urllib.parse.unquote(m.group(1).split("?")[0])
    f = os.path.join(sys.argv[2], path.lstrip("/"))
    if f.endswith("/"):
        f += "index.html"
    size = os.path.getsize(f) if os.path.isfile(f) else 0
    out.append(f"{path}={m.group(2)}:{m.group(3)}/{size}")
print(" ".join(out))
PY
)
        fi
        if [[ -f $json ]]; then
            python3 - "$json" "$name" "$first_load" >>"$LH_TSV" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["audits"]["uses-text-compression"]
d = a.get("details") or {}
items = ";".join(f'{i["url"].split("/", 3)[-1]}={i.get("totalBytes", 0)}->{i.get("totalBytes", 0) - i.get("wastedBytes", 0)}'
                 for i in d.get("items", []))
print("\t".join(str(x) for x in [sys.argv[2], a.get("score"), d.get("overallSavingsBytes", 0),
                                 d.get("overallSavingsMs", 0), items or "-", sys.argv[3]]))
PY
            say "  $name: $(tail -n 1 "$LH_TSV" | cut -f1-4)"
        else
            printf '%s\t-\t-\t-\tlighthouse failed\t-\n' "$name" >>"$LH_TSV"
        fi
    done
}

# -------------------------------------------------------------------- main --

START_TS=$(date +%s)
LOADAVG_START=$(loadavg)
say "evserve compression benchmark: $CMDLINE"
say "workdir $WORK, server CPU $SERVER_CPU, load CPU $LOAD_CPU, docs $DOCS"
if [[ " $PARTS " == *" cpu "* || " $PARTS " == *" bytes "* ]]; then
    printf 'part\tround\tserver\tsubset\trequests\tsecs\trps\tcpu_us_req\tcpu_pct\terrors\tfiles\tidentity\twire\tencodings\tnote\n' >"$TSV"
fi
[[ " $PARTS " != *" cpu "* ]] || cpu_part
[[ " $PARTS " != *" bytes "* ]] || bytes_part
[[ " $PARTS " != *" lighthouse "* ]] || lighthouse_part

VERSIONS="evserve ($EVSERVE_BIN, sha256 $(sha256sum "$WORK/bin/evserve" | cut -c1-12), repo HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
command -v nginx >/dev/null && VERSIONS+=", $(nginx_version)"
command -v h2o >/dev/null && VERSIONS+=", $(h2o_version)"
command -v lighttpd >/dev/null && VERSIONS+=", $(lighttpd_version)"
command -v "$LIGHTHOUSE" >/dev/null && VERSIONS+=", lighthouse $("$LIGHTHOUSE" --version 2>/dev/null), $("$CHROME_PATH" --version 2>/dev/null | head -n1)"
FAILURES=""
for name in "${!FAILED[@]}"; do FAILURES+="$name: ${FAILED[$name]}; "; done
ENCS=""
for name in "${!ENC[@]}"; do ENCS+="$name=${ENC[$name]// /:}; "; done
python3 "$HERE/report.py" --tsv "$TSV" --lighthouse "$LH_TSV" --md "$OUT_DIR/results.md" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC'), run took $(($(date +%s) - START_TS)) s" \
    --meta "command=\`$CMDLINE\`" \
    --meta "machine=$NCPU CPUs ($(cpu_model)), kernel $(uname -r); servers pinned to CPU $SERVER_CPU, load generator to CPU $LOAD_CPU; loadavg $LOADAVG_START at start, $(loadavg) at end (a shared machine: other work skews absolute numbers; ratios are of one run)" \
    --meta "servers=$VERSIONS; one worker each, no access log" \
    --meta "cpu load=$(wrk --version 2>&1 | head -n1 | awk '{ print $1, $2 }'), -t1 -c$CONNS, ${DURATION} s per run, $ROUNDS interleaved rounds (order rotated), medians; Accept-Encoding: $AE; app.js = $JS_LEN bytes; what each sent: ${ENCS:-none}" \
    --meta "docs=$DOCS" \
    --meta "servers not measured=${FAILURES:-none}"
say "wrote $OUT_DIR/results.md and $TSV"
