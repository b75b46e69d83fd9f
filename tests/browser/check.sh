#!/usr/bin/env bash
# evserve in a real browser: headless Chromium loads the demo site, fetches a byte range
# with fetch() and revalidates a page on reload, and loads a page whose script and
# stylesheet must arrive compressed (on the fly, on a first load: the page's resource
# timings and the access log's bytes) and work; the access log must show what it did.
# Then the same site over HTTPS (a throwaway self-signed P-256 certificate made with
# openssl, so Chromium runs with --ignore-certificate-errors), and through
# --redirect-http's 308 from http:// to https://.
#
# Reproduce (from the repository root):
#   bash tests/browser/check.sh
#   REQUIRE_BROWSER=1 bash tests/browser/check.sh   # a missing chromium is a failure
#   CHROMIUM=/path/to/chrome bash tests/browser/check.sh
#
# Without chromium it prints "SKIP: chromium not installed" and exits 0 (unless
# REQUIRE_BROWSER=1). Install it with: apt-get install -y chromium
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "reproduce: (cd $PWD && bash tests/browser/check.sh)"

CHROMIUM=${CHROMIUM:-chromium}
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
  if [[ ${REQUIRE_BROWSER:-0} == 1 ]]; then
    echo "FAIL: chromium not installed (REQUIRE_BROWSER=1)" >&2
    exit 1
  fi
  echo "SKIP: chromium not installed"
  exit 0
fi

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/evserve
artifacts=${CARGO_TARGET_DIR:-target}/browser-check
mkdir -p "$artifacts"

work=$(mktemp -d "${TMPDIR:-/tmp}/evserve-browser.XXXXXX")
server=""
drain=""
failed=0
passed=0
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  if [[ -n $drain ]]; then kill "$drain" 2>/dev/null || true; fi
  if [[ $failed == 0 ]]; then rm -rf "$work"; else echo "kept for inspection: $work" >&2; fi
}
trap cleanup EXIT

ok() {
  echo "ok:   $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

# The site: a copy of htdocs/ plus two test pages.
cp -r htdocs "$work/site"
png_len=$(wc -c <"$work/site/logo.png")

# range.html: fetch() the first 8 bytes of the logo; the verdict goes into the title.
cat >"$work/site/range.html" <<HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>PENDING</title></head>
<body><pre id="out">running</pre>
<script>
(async () => {
  let verdict;
  try {
    const r = await fetch('/logo.png', {headers: {Range: 'bytes=0-7'}, cache: 'no-store'});
    const bytes = Array.from(new Uint8Array(await r.arrayBuffer()));
    const png = [137, 80, 78, 71, 13, 10, 26, 10];
    const range = r.headers.get('Content-Range');
    const good = r.status === 206 && range === 'bytes 0-7/${png_len}'
      && bytes.length === 8 && png.every((b, i) => bytes[i] === b);
    verdict = (good ? 'PASS' : 'FAIL') + ' status=' + r.status + ' content-range=' + range
      + ' bytes=' + bytes.join(',');
  } catch (e) {
    verdict = 'FAIL ' + e;
  }
  document.title = verdict;
  document.getElementById('out').textContent = verdict;
})();
</script></body></html>
HTML

# reload.html: reloads itself once in the same tab; a reload revalidates the page, so the
# second request must be conditional and answered 304, and the page still renders.
cat >"$work/site/reload.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>FIRST LOAD</title></head>
<body><p>reload check</p>
<script>
if (sessionStorage.getItem('evserve-reloaded') === null) {
  sessionStorage.setItem('evserve-reloaded', '1');
  location.reload();
} else {
  document.title = 'RELOADED';
}
</script></body></html>
HTML

# compressed.html: a script and a stylesheet big enough to be compressed on the fly
# (about 100 KiB and 40 KiB of text: the first request for each waits for its fast level,
# so a first load is compressed). After the load, the page reads its own resource timings:
# each must have arrived coded (encodedBodySize < decodedBodySize), the script must have
# run and the stylesheet applied; the verdict goes into the title.
awk 'BEGIN { for (i = 0; i < 2600; i++) printf "function f%d(a) { return a * %d + %d; }\n", i, i, i % 7;
             print "window.evserveScript = f2599(1);" }' >"$work/site/app.js"
awk 'BEGIN { for (i = 0; i < 1000; i++) printf ".c%d { margin: %dpx; color: #%06x; }\n", i, i % 9, i * 97;
             print "#probe { color: rgb(1, 2, 3); }" }' >"$work/site/big.css"
app_len=$(wc -c <"$work/site/app.js")
css_len=$(wc -c <"$work/site/big.css")
cat >"$work/site/compressed.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>PENDING</title>
<link rel="stylesheet" href="/big.css"><script src="/app.js"></script></head>
<body><p id="probe">compressed check</p>
<script>
window.addEventListener('load', () => {
  const parts = [];
  let good = true;
  for (const name of ['/app.js', '/big.css']) {
    const e = performance.getEntriesByType('resource').find((r) => new URL(r.name).pathname === name);
    if (!e) { good = false; parts.push(name + ' no timing'); continue; }
    const coded = e.encodedBodySize > 0 && e.encodedBodySize < e.decodedBodySize;
    good = good && coded;
    parts.push(name + ' ' + e.encodedBodySize + '/' + e.decodedBodySize + (coded ? '' : ' NOT CODED'));
  }
  const ran = window.evserveScript === 2601; // f2599(1) = 2599 + 2599 % 7
  const styled = getComputedStyle(document.getElementById('probe')).color === 'rgb(1, 2, 3)';
  good = good && ran && styled;
  parts.push('script ' + (ran ? 'ran' : 'DID NOT RUN'), 'style ' + (styled ? 'applied' : 'NOT APPLIED'));
  document.title = (good ? 'PASS ' : 'FAIL ') + parts.join(', ');
});
</script></body></html>
HTML

# Start evserve on a free port; its first stderr line names the address. A FIFO lets us
# read that line with a deadline instead of polling a file.
mkfifo "$work/stderr.fifo"
"$bin" "$work/site" --bind 127.0.0.1 --port 0 --access-log "$work/access.log" 2>"$work/stderr.fifo" &
server=$!
exec 3<"$work/stderr.fifo"
first=""
if ! IFS= read -r -t 10 first <&3; then
  fail "evserve printed no start-up line within 10 s: ${first}"
  exit 1
fi
cat <&3 >"$work/server.log" &
drain=$!
addr=$(sed -n 's|.*http://\([^/ ]*\)/.*|\1|p' <<<"$first")
if [[ -z $addr ]]; then
  fail "no address in the start-up line: $first"
  exit 1
fi
base="http://$addr"
echo "evserve: $first"

# One headless Chromium run with a fresh profile (so nothing is cached beforehand).
# --virtual-time-budget makes it wait for the page's fetches and timers before dumping.
browser() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 30 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --virtual-time-budget=10000 "$@" 2>>"$work/chromium.log"
}

# 1. The index page loads and renders.
dom=$(browser --dump-dom "$base/") || fail "chromium --dump-dom $base/ exited with $?"
if grep -q '<h1>evserve</h1>' <<<"$dom" && grep -q '<img src="/logo.png"' <<<"$dom"; then
  ok "index DOM loaded"
else
  fail "index DOM is not the page: $(head -c 400 <<<"$dom")"
fi

# 2. A screenshot of it (kept in $artifacts/index.png).
rm -f "$artifacts/index.png"
browser --window-size=1024,768 --screenshot="$artifacts/index.png" "$base/" >/dev/null ||
  fail "chromium --screenshot exited with $?"
if [[ -s $artifacts/index.png ]] && [[ $(head -c 8 "$artifacts/index.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
  ok "screenshot $artifacts/index.png ($(wc -c <"$artifacts/index.png") bytes)"
else
  fail "no PNG screenshot at $artifacts/index.png"
fi

# 3. fetch() with a Range header gets 206 and the PNG signature.
dom=$(browser --dump-dom "$base/range.html") || fail "chromium --dump-dom range.html exited with $?"
title=$(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$dom")
if [[ $title == PASS* ]]; then ok "range page: $title"; else fail "range page: ${title:-no title}"; fi

# 4. A reload revalidates the page.
dom=$(browser --dump-dom "$base/reload.html") || fail "chromium --dump-dom reload.html exited with $?"
title=$(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$dom")
if [[ $title == RELOADED ]]; then ok "reload page reloaded and rendered"; else fail "reload page: ${title:-no title}"; fi

# 5. A first load of a page whose script and stylesheet are compressed on the fly: both
# arrive coded (the page's resource timings) and work.
dom=$(browser --dump-dom "$base/compressed.html") || fail "chromium --dump-dom compressed.html exited with $?"
title=$(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$dom")
if [[ $title == PASS* ]]; then ok "compressed page: $title"; else fail "compressed page: ${title:-no title}"; fi

# Stop evserve gracefully: it drains, flushes the access log and exits 0.
kill -TERM "$server"
if ! timeout 10 tail --pid="$server" -f /dev/null; then
  fail "evserve did not exit within 10 s of SIGTERM"
  exit 1
fi
status=0
wait "$server" || status=$?
server=""
if [[ $status == 0 ]]; then ok "evserve exited 0 on SIGTERM"; else fail "evserve exited $status on SIGTERM"; fi

# The access log (Combined Log Format) must show what the browser did; the Referer
# field ties each subresource to the page that asked for it.
log="$work/access.log"
expect_log() { # description, extended regex
  if grep -Eq "$2" "$log"; then ok "log: $1"; else fail "log: no line for $1 (/$2/)"; fi
}
expect_log "GET / 200" "\"GET / HTTP/1\\.1\" 200 [0-9]+ "
expect_log "GET /style.css 200 from /" "\"GET /style\\.css HTTP/1\\.1\" 200 [0-9]+ \"$base/\""
expect_log "GET /logo.png 200 from /" "\"GET /logo\\.png HTTP/1\\.1\" 200 $png_len \"$base/\""
expect_log "GET /logo.png 206 (8 bytes) from /range.html" "\"GET /logo\\.png HTTP/1\\.1\" 206 8 \"$base/range\\.html\""
# The script and the stylesheet of compressed.html: fewer bytes sent than the file holds.
expect_smaller() { # path, file length, log
  local sent
  sent=$(grep -E "\"GET $1 HTTP/[12]\\.[01]\" 200 [0-9]+ " "$3" | head -n 1 | sed -E 's/.*" 200 ([0-9]+) .*/\1/')
  if [[ -n $sent ]] && ((sent < $2)); then
    ok "log: $1 sent compressed ($sent of $2 bytes)"
  else
    fail "log: $1 not sent compressed (${sent:-no 200 line} of $2 bytes)"
  fi
}
expect_smaller /app.js "$app_len" "$log"
expect_smaller /big.css "$css_len" "$log"
reload_statuses=$(grep -E "\"GET /reload\\.html HTTP/1\\.1\" " "$log" | sed -E 's/.*" ([0-9]{3}) .*/\1/' | tr '\n' ' ')
if [[ $reload_statuses == "200 304 "* ]]; then
  ok "log: /reload.html 200 then 304 on reload"
else
  fail "log: /reload.html statuses were '${reload_statuses}', want 200 then 304"
fi

# 6. HTTPS: the same site with a test certificate, and the plain listener that redirects.
if ! command -v openssl >/dev/null 2>&1; then
  fail "openssl not installed: cannot make the HTTPS test certificate"
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" 2>>"$work/openssl.log"
  mkfifo "$work/tls-stderr.fifo"
  "$bin" "$work/site" --bind 127.0.0.1 --port 0 --access-log "$work/tls-access.log" \
    --tls-cert "$work/tls-cert.pem" --tls-key "$work/tls-key.pem" --redirect-http 127.0.0.1:0 \
    2>"$work/tls-stderr.fifo" &
  server=$!
  exec 4<"$work/tls-stderr.fifo"
  first=""
  if ! IFS= read -r -t 10 first <&4; then
    fail "evserve (HTTPS) printed no start-up line within 10 s: ${first}"
    exit 1
  fi
  cat <&4 >"$work/tls-server.log" &
  drain=$!
  echo "evserve: $first"
  tls_addr=$(sed -n 's|.*https://\([^/ ]*\)/.*|\1|p' <<<"$first")
  redirect_addr=$(sed -n 's|.*http://\([^/ ]*\)/ (redirecting.*|\1|p' <<<"$first")
  if [[ -z $tls_addr || -z $redirect_addr ]]; then
    fail "no https:// and redirect address in the start-up line: $first"
    exit 1
  fi
  dom=$(browser --ignore-certificate-errors --dump-dom "https://$tls_addr/") ||
    fail "chromium --dump-dom https://$tls_addr/ exited with $?"
  if grep -q '<h1>evserve</h1>' <<<"$dom" && grep -q '<img src="/logo.png"' <<<"$dom"; then
    ok "index DOM loaded over HTTPS"
  else
    fail "HTTPS index DOM is not the page: $(head -c 400 <<<"$dom")"
  fi
  rm -f "$artifacts/index-https.png"
  browser --ignore-certificate-errors --window-size=1024,768 --screenshot="$artifacts/index-https.png" \
    "https://$tls_addr/" >/dev/null || fail "chromium --screenshot over HTTPS exited with $?"
  if [[ -s $artifacts/index-https.png ]]; then
    ok "screenshot over HTTPS $artifacts/index-https.png ($(wc -c <"$artifacts/index-https.png") bytes)"
  else
    fail "no PNG screenshot at $artifacts/index-https.png"
  fi
  dom=$(browser --ignore-certificate-errors --dump-dom "https://$tls_addr/compressed.html") ||
    fail "chromium --dump-dom https://$tls_addr/compressed.html exited with $?"
  title=$(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$dom")
  if [[ $title == PASS* ]]; then ok "compressed page over HTTPS: $title"; else fail "compressed page over HTTPS: ${title:-no title}"; fi
  dom=$(browser --ignore-certificate-errors --dump-dom "http://$redirect_addr/range.html") ||
    fail "chromium --dump-dom http://$redirect_addr/range.html exited with $?"
  title=$(sed -n 's|.*<title>\([^<]*\)</title>.*|\1|p' <<<"$dom")
  if [[ $title == PASS* ]]; then
    ok "http:// redirected to https:// and the range page passed: $title"
  else
    fail "redirected range page: ${title:-no title}"
  fi
  kill -TERM "$server"
  if ! timeout 10 tail --pid="$server" -f /dev/null; then
    fail "evserve (HTTPS) did not exit within 10 s of SIGTERM"
    exit 1
  fi
  status=0
  wait "$server" || status=$?
  server=""
  if [[ $status == 0 ]]; then ok "evserve (HTTPS) exited 0 on SIGTERM"; else fail "evserve (HTTPS) exited $status"; fi
  log="$work/tls-access.log"
  expect_log "GET / 200 over HTTPS" "\"GET / HTTP/2\\.0\" 200 [0-9]+ "
  expect_smaller /app.js "$app_len" "$log"
  expect_smaller /big.css "$css_len" "$log"
  expect_log "308 from the redirect listener" "\"GET /range\\.html HTTP/1\\.1\" 308 - "
  expect_log "GET /logo.png 206 over HTTPS from the redirected page" \
    "\"GET /logo\\.png HTTP/2\\.0\" 206 8 \"https://$tls_addr/range\\.html\""
  log="$work/access.log"
fi

if [[ $failed != 0 ]]; then
  echo "--- access log" >&2
  cat "$log" >&2 || true
  echo "--- evserve stderr" >&2
  cat "$work/server.log" >&2 || true
  if [[ -f $work/tls-access.log ]]; then
    echo "--- HTTPS access log" >&2
    cat "$work/tls-access.log" >&2 || true
    echo "--- HTTPS evserve stderr" >&2
    cat "$work/tls-server.log" >&2 || true
  fi
  echo "--- chromium stderr (last 20 lines)" >&2
  grep -v dbus "$work/chromium.log" | tail -n 20 >&2 || true
  echo "browser check FAILED" >&2
  echo "browser: $passed passed, $failed failed"
  exit 1
fi
echo "browser: $passed passed, 0 failed"
