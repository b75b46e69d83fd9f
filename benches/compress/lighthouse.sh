#!/usr/bin/env bash
# benches/compress/lighthouse.sh: Lighthouse's "Enable text compression" audit
# (uses-text-compression) on the Rust documentation's /std/ page, served by a
# freshly started evserve (a first load: nothing compressed yet), nginx with
# gzip on and h2o; the lighthouse part of run.sh alone.
#
# Lighthouse is not a dependency of the repository; install it outside it:
#   mkdir -p /tmp/lh && (cd /tmp/lh && npm install lighthouse)
#   apt-get install -y chromium
#   LIGHTHOUSE=/tmp/lh/node_modules/.bin/lighthouse benches/compress/lighthouse.sh
# Each run is bounded (180 s). The command run for each server is
#   CHROME_PATH=/usr/bin/chromium lighthouse http://127.0.0.1:PORT/std/ \
#     --only-audits=uses-text-compression --output=json --output-path=... --quiet \
#     --chrome-flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
#       --disable-background-networking --disable-component-update --disable-sync"
# Results: lighthouse.tsv beside this script, and results.md (regenerated from
# results.tsv and lighthouse.tsv).
set -euo pipefail
export PARTS=lighthouse
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" "$@"
