#!/usr/bin/env bash
# testssl.sh against evserve over HTTPS: no finding of severity MEDIUM or
# higher is allowed except those that come from the self-signed test chain
# (ALLOWED below, each with its reason).
#
# Reproduce (from the repository root):
#   bash tests/testssl.sh                     # evserve (cargo build --release first)
#   EVSERVE_BIN=target/debug/evserve bash tests/testssl.sh
#   bash tests/testssl.sh --server nginx      # the same check against nginx, same cert
#   TESTSSL_CERT_DAYS=20 bash tests/testssl.sh   # must FAIL: expiry < 30 days is HIGH
#   EVSERVE_TESTSSL=1 cargo test --test testssl   # the same, from cargo
#
# Needs testssl.sh (Debian: apt-get install -y testssl.sh, binary `testssl`),
# openssl, curl, python3; nginx for --server nginx.  Exit status: 0 clean,
# 1 a finding not allowed (or a scan that did not finish), 2 a missing tool.
# Only 127.0.0.1 is scanned, with DNS lookups off.  Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=evserve
case "${1:-}" in
    "") ;;
    --server) SERVER=${2:?--server needs evserve or nginx} ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "testssl.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
TESTSSL_TIMEOUT=${TESTSSL_TIMEOUT:-600}   # seconds: a bound on the scan
TESTSSL_CERT_DAYS=${TESTSSL_CERT_DAYS:-365}   # lifetime of the test certificate
[[ $TESTSSL_CERT_DAYS =~ ^[1-9][0-9]*$ ]] || { echo "testssl.sh: bad TESTSSL_CERT_DAYS" >&2; exit 2; }

# Findings that come from the test setup, not from the server's TLS:
#   cert_chain_of_trust  the certificate is self-signed: no CA vouches for it.
#   cert_revocation      no CRL or OCSP URI: a self-signed certificate has no
#                        issuer to run them (a CA-issued one carries both).
#   security_headers     X-Frame-Options, CSP and the like are the site's HTTP
#                        policy, not TLS; a static server cannot choose them
#                        for every site (it serves them when the operator
#                        configures headers).
#   HSTS                 the same, and a commitment of the whole domain to
#                        HTTPS that only its operator can make (browsers
#                        ignore HSTS on an IP address or an untrusted
#                        certificate anyway); testssl 3.0 rates its absence
#                        LOW, listed in case a version rates it higher.
#   BREACH               testssl flags any compressed HTTPS response. The attack
#                        needs a secret and attacker-chosen input in the same
#                        compressed body; evserve compresses static files only,
#                        which reflect nothing of the request and hold no
#                        per-user secret (nginx with gzip on is flagged alike).
#                        A site that serves secrets in files turns it off with
#                        --compress off.
# Certificate lifetime is not allowed: the test certificate is valid for a
# year, so cert_expirationStatus must not fire (TESTSSL_CERT_DAYS=20 makes it
# fire: the way to see this check fail).
ALLOWED="cert_chain_of_trust cert_revocation security_headers HSTS BREACH"

missing() { echo "testssl.sh: $1 not found${2:+ ($2)}" >&2; exit 2; }
TESTSSL=""
for candidate in testssl testssl.sh; do
    if command -v "$candidate" >/dev/null 2>&1; then TESTSSL=$candidate; break; fi
done
[[ -n $TESTSSL ]] || missing testssl "apt-get install -y testssl.sh"
for tool in openssl curl python3 timeout; do
    command -v "$tool" >/dev/null 2>&1 || missing "$tool"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/evserve-testssl.XXXXXX")
server=""
cleanup() {
    if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The test chain: one self-signed ECDSA P-256 certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$TESTSSL_CERT_DAYS" \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
    { cat "$work/openssl.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start_evserve() {
    local bin=${EVSERVE_BIN:-${CARGO_TARGET_DIR:-target}/release/evserve}
    [[ -x $bin ]] || missing "$bin" "cargo build --release, or set EVSERVE_BIN"
    if ! "$bin" --help 2>&1 | grep -q -- --tls-cert; then
        echo "testssl.sh: $bin has no --tls-cert (HTTPS not built in)" >&2
        exit 1
    fi
    "$bin" htdocs --bind 127.0.0.1 --port "$port" \
        --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >"$work/server.log" 2>&1 &
    server=$!
}

# nginx with the settings benches/load/run.sh gives it, resumption on (as
# evserve's default): to compare what testssl says about each.
start_nginx() {
    command -v nginx >/dev/null 2>&1 || missing nginx "apt-get install -y nginx-light"
    mkdir -p "$work/nginx"
    cat >"$work/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        root $PWD/htdocs;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets on;
    }
}
EOF
    nginx -p "$work/nginx/" -e "$work/nginx-error.log" -c "$work/nginx.conf" >"$work/server.log" 2>&1 &
    server=$!
}

case $SERVER in
    evserve) start_evserve ;;
    nginx) start_nginx ;;
    *) echo "testssl.sh: --server must be evserve or nginx" >&2; exit 2 ;;
esac

# Wait (bounded) until it answers over HTTPS.
ready=0
for _ in $(seq 100); do
    if ! kill -0 "$server" 2>/dev/null; then break; fi
    if curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$port/"; then ready=1; break; fi
    sleep 0.1
done
if ((!ready)); then
    echo "testssl.sh: $SERVER did not answer on https://127.0.0.1:$port/; its output:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

version=$("$TESTSSL" --version 2>&1 | grep -o 'testssl *[0-9][0-9.]*' | head -n 1 | tr -s ' ' || true)
echo "testssl.sh: scanning $SERVER at https://127.0.0.1:$port/ with ${version:-$TESTSSL}"
start=$(date +%s)
# --warnings batch: never wait for an answer on stdin (CI has none);
# --nodns none: scan the loopback address without any DNS lookup.
rc=0
timeout -k 10 "$TESTSSL_TIMEOUT" "$TESTSSL" --quiet --color 0 --warnings batch --nodns none \
    --severity MEDIUM --jsonfile "$work/findings.json" "https://127.0.0.1:$port" \
    >"$work/testssl.out" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
echo "testssl.sh: scan took ${secs}s (exit status $rc)"
if ((rc == 124 || rc == 137)) || [[ ! -s $work/findings.json ]]; then
    echo "testssl.sh: the scan did not finish; its last output:" >&2
    tail -n 30 "$work/testssl.out" >&2
    exit 1
fi

# The verdict: every finding at MEDIUM or above, allowed or not; FATAL (the
# scan could not run a check) fails too.
ALLOWED=$ALLOWED python3 - "$work/findings.json" <<'PY'
import json
import os
import sys

RANK = {"MEDIUM": 1, "HIGH": 2, "CRITICAL": 3, "FATAL": 4}
allowed = set(os.environ["ALLOWED"].split())
with open(sys.argv[1]) as f:
    findings = json.load(f)
bad = 0
for item in findings:
    severity = item.get("severity", "")
    if severity not in RANK:
        continue
    ok = item.get("id") in allowed and severity != "FATAL"
    bad += not ok
    print(f"{'allowed' if ok else 'FAIL'}: {severity} {item.get('id')}: {item.get('finding')}")
print(f"testssl.sh: {len(findings)} finding(s) at MEDIUM or above, {bad} not allowed")
sys.exit(1 if bad else 0)
PY
