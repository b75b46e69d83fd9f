# benches/lib.sh: the helpers the benchmark scripts share (benches/load,
# benches/h2, benches/slowdisk, benches/compress run.sh).  Each script sets
# HERE and REPO, then: source "$HERE/../lib.sh"
#
# What is here (what stays in a script is what is its own: settings, server
# configs, load runners, the report):
#   say, die                           progress and fatal errors (stderr)
#   handle_args, set_cmdline           --help, and the report's command line
#   require_uints, require_tools,      checks of the settings and the tools
#   check_pinning                      (SERVER_CPU, LOAD_CPU; sets NCPU)
#   raise_fd_limit, warn_fd_limit      descriptor limit (NOFILE, MAXCONN)
#   PID, tree_pids, running, alive,    the servers' processes: start one
#   spawn_server, stop_server, ...     pinned, stop its whole tree
#   cpu_ticks, server_cpu_start,       server CPU time from /proc/PID/stat
#   server_cpu_ticks, rate_and_cpu
#   make_work_dir, cleanup             the temp dir and the exit traps
#   make_tls_material, nginx_tls_lines,   one test certificate and the same
#   h2o_tls_lines, h2o_no_resumption   TLS settings for every server
#   tsv_row, in_round_order            results rows, interleaved rounds
#   nginx_version, ..., cpu_model, loadavg   facts for the report's header
# Sourcing only defines these and sets PID=(), WORK="", KEEP_WORK_ON_FAILURE=0
# and CLK_TCK.

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "$*" >&2; }   # progress goes to stderr; the table to stdout

# ------------------------------------------------------------- settings --

# handle_args "$@": --help prints the script's usage and exits; no argument
# goes on; anything else is an error (the settings are environment variables).
handle_args() {
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
        "") ;;
        *) echo "run.sh: unexpected argument '$1' (settings are env vars)" >&2
           usage >&2; exit 2 ;;
    esac
}

# set_cmdline SCRIPT: CMDLINE = the settings named in SETTING_NAMES that the
# caller passed (NAME=value, shell-quoted), then SCRIPT.  Call it before the
# defaults are filled in.
set_cmdline() {
    local v
    CMDLINE=""
    for v in "${SETTING_NAMES[@]}"; do
        if [[ -n ${!v+set} ]]; then CMDLINE+="$v=$(printf '%q' "${!v}") "; fi
    done
    CMDLINE+=$1
}

# require_uints NAME...: each named setting is a non-negative integer.
require_uints() {
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
    done
}

# require_tools TOOL...: each is on PATH.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found (this script installs nothing)"
    done
}

# check_pinning: SERVER_CPU and LOAD_CPU are taskset lists ("0", "0,1",
# "0-1": several CPUs let `--workers N` spread) of CPUs below nproc; sets NCPU.
check_pinning() {
    local v cpu
    for v in SERVER_CPU LOAD_CPU; do
        [[ ${!v} =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "$v must be a CPU list like 0 or 0-1 (got '${!v}')"
    done
    NCPU=$(nproc)
    for cpu in ${SERVER_CPU//[,-]/ } ${LOAD_CPU//[,-]/ }; do
        ((cpu < NCPU)) || die "SERVER_CPU/LOAD_CPU must name CPUs below nproc ($NCPU)"
    done
}

# raise_fd_limit: many connections need many descriptors: the soft limit goes
# up to the hard one (servers and load generators inherit it).  Sets NOFILE
# (at most 1048576) and MAXCONN, a per-server connection cap that leaves room
# for files and listeners.
raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    NOFILE=$(ulimit -n)
    [[ $NOFILE == unlimited ]] && NOFILE=1048576
    ((NOFILE > 1048576)) && NOFILE=1048576
    MAXCONN=$((NOFILE - 64))
}

# warn_fd_limit COUNT...: a warning for each connection count the limit cannot hold.
warn_fd_limit() {
    local n
    for n in "$@"; do
        ((n + 64 <= NOFILE)) || say "warning: $n connections need more than the fd limit ($NOFILE)"
    done
}

# ------------------------------------------------------ process bookkeeping --

declare -A PID=()   # server (instance) name -> pid of the process we started

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

# running PID: the process exists and is not a zombie (a server that
# exited stays a zombie until we wait for it).
running() {
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    [[ ${line##*) } != Z* ]]
}

# alive NAME: the server we started as NAME is still running.
alive() { [[ -n ${PID[$1]:-} ]] && running "${PID[$1]}"; }

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# spawn_server NAME PORT: start SERVER_CMD in the background from
# $WORK/run/NAME, pinned to SERVER_CPU, its output appended to
# $WORK/log/NAME.out; PID[NAME] is its pid.  Waiting until it answers is the
# caller's.
spawn_server() {
    local name=$1 port=$2
    mkdir -p "$WORK/run/$name"
    say "$name: starting on 127.0.0.1:$port: ${SERVER_CMD[*]}"
    (cd "$WORK/run/$name" && exec taskset -c "$SERVER_CPU" "${SERVER_CMD[@]}") \
        >>"$WORK/log/$name.out" 2>&1 </dev/null &
    PID[$name]=$!
}

# stop_tree PID: TERM the process tree, KILL what is left after 5 s.
stop_tree() {
    local pid=$1 pids p i
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
}

# stop_server NAME: stop the server's process tree and forget it.
stop_server() {
    stop_tree "${PID[$1]:-}"
    unset "PID[$1]"
}

stop_all_servers() {
    local name
    for name in "${!PID[@]}"; do stop_server "$name"; done
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

CLK_TCK=$(getconf CLK_TCK)

# server_cpu_start NAME, then (after the load) server_cpu_ticks NAME: the
# clock ticks the whole process tree of server NAME used in between.  A pid
# that appears meanwhile (a respawned worker, h2o's key-signing helper) is
# counted from zero.
server_cpu_start() {
    CPU_PIDS=$(tree_pids "${PID[$1]}")
    # shellcheck disable=SC2086  # the pid lists are meant to be split
    CPU_TICKS0=$(cpu_ticks $CPU_PIDS)
}
server_cpu_ticks() {
    local pids
    # shellcheck disable=SC2086,SC2046
    pids=$(printf '%s\n' $CPU_PIDS $(tree_pids "${PID[$1]}") | sort -un)
    # shellcheck disable=SC2086
    echo $(($(cpu_ticks $pids) - CPU_TICKS0))
}

# rate_and_cpu RESPONSES SECS TICKS: "responses/s CPU-µs-per-response CPU-%"
# (%.1f %.2f %.1f).
rate_and_cpu() {
    awk -v n="$1" -v s="$2" -v t="$3" -v hz="$CLK_TCK" 'BEGIN {
        rps = s > 0 ? n / s : 0; cpu = n > 0 ? t / hz * 1e6 / n : 0; pct = s > 0 ? 100 * t / hz / s : 0
        printf "%.1f %.2f %.1f\n", rps, cpu, pct }'
}

# -------------------------------------------------- temp dir and exit traps --

WORK=""
KEEP_WORK_ON_FAILURE=0   # a script sets 1 to keep the temp dir when it fails

# make_work_dir NAME SUBDIR...: WORK = a fresh temp dir evserve-NAME.XXXXXX
# (mode 755: the servers read from it) with those subdirs; from here on the
# exit traps stop every server and remove it (cleanup).
make_work_dir() {
    local name=$1 d
    shift
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d -t "evserve-$name.XXXXXX")
    chmod 755 "$WORK"
    for d in "$@"; do mkdir -p "$WORK/$d"; done
}

# cleanup (the EXIT trap): the script's own before_cleanup when it has one,
# then every server still in PID, then the temp dir unless KEEP_TMP=1.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if declare -F before_cleanup >/dev/null; then before_cleanup; fi
    stop_all_servers
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP_TMP == 1 || ($rc != 0 && $KEEP_WORK_ON_FAILURE == 1) ]]; then
            say "kept temp dir $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}

# -------------------------------------------------------------------- TLS --

# make_tls_material: one self-signed ECDSA P-256 certificate for every server
# (TLS_CERT, TLS_KEY in $WORK/tls: made here, never committed), and the load
# generators' OpenSSL settings (CLIENT_OPENSSL_CONF, for OPENSSL_CONF): they
# offer only TLS 1.3 with TLS_AES_128_GCM_SHA256 over X25519, so the record
# cipher and key exchange are the same whatever each server prefers.
make_tls_material() {
    TLS_CERT=$WORK/tls/cert.pem
    TLS_KEY=$WORK/tls/key.pem
    CLIENT_OPENSSL_CONF=$WORK/conf/openssl-client.cnf
    mkdir -p "$WORK/tls" "$WORK/conf"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$WORK/log/openssl-req.log" ||
        die "openssl could not make the test certificate: $(cat "$WORK/log/openssl-req.log")"
    chmod 644 "$TLS_CERT" "$TLS_KEY"
    cat >"$CLIENT_OPENSSL_CONF" <<'EOF'
# generated by benches/lib.sh: read by the load generators (OPENSSL_CONF)
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
}

# The servers' side, the same for every server: TLS 1.2 and 1.3, ECDHE over
# X25519 or P-256, AES-128-GCM or ChaCha20-Poly1305, no session tickets and
# no session cache (every handshake is full).
nginx_tls_lines() {
    echo "ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        ssl_session_cache off;"
}

# h2o 2.2 sets the TLS 1.2 suites only; the client pins TLS 1.3's.
h2o_tls_lines() {
    echo "  ssl:
    certificate-file: $TLS_CERT
    key-file: $TLS_KEY
    minimum-version: TLSv1.2
    cipher-suite: ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305
    cipher-preference: server"
}

h2o_no_resumption() {
    echo "ssl-session-resumption:
  mode: off"
}

# ------------------------------------------------------------ runs, report --

# tsv_row FIELD...: append one row to $TSV ("-" for missing values).
tsv_row() { (IFS=$'\t'; echo "$*") >>"$TSV"; }

# in_round_order ROUND NAME...: the names rotated by ROUND-1, so that no
# server always goes first.
in_round_order() {
    local round=$1 k
    shift
    local -a names=("$@")
    for ((k = 0; k < ${#names[@]}; k++)); do
        echo "${names[$(((k + round - 1) % ${#names[@]}))]}"
    done
}

nginx_version() { nginx -v 2>&1 | sed 's/.*: //'; }
lighttpd_version() { lighttpd -v 2>&1 | head -n1 | awk '{ print $1 }'; }
h2o_version() { echo "h2o/$(h2o --version 2>&1 | head -n1 | awk '{ print $3 }')"; }
cpu_model() { awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }   # 1, 5 and 15 minutes
