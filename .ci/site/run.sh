#!/usr/bin/env bash
# The public site in a real browser (README, "The public site"): starts the
# service on a throwaway SQLite file, fills it with invented data
# (demo_data.py), then Debian's Chromium loads every page, photographs it
# and axe-core checks it (check.mjs: no serious or critical violation, each
# page under 100 KB without images); the W3C HTML checker (vnu) reads the
# pages when Java is there. Screenshots land in target/site-check/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd .ci/site && npm install --no-audit --no-fund --silent)

out="$PWD/target/site-check"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cargo build --quiet --bin songmay
(cd "$work" && SONGMAY_ADMIN_PASSWORD='site check passphrase' SONGMAY_BIND="127.0.0.1:$port" \
  SONGMAY_PUBLIC_CACHE_SECONDS=0 exec "$OLDPWD/target/debug/songmay" >"$work/server.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
reference=$(python3 .ci/site/demo_data.py "http://127.0.0.1:$port" 'site check passphrase' | tail -n 1)
rm -rf "$out"
node .ci/site/check.mjs "http://127.0.0.1:$port" "$out" \
  / "/?lang=en" /donate /follow "/follow/$reference" /districts/150 "/districts/150?lang=en" /districts/999 /follow/NO-SUCH-REF

if command -v java >/dev/null 2>&1; then
  java -jar .ci/site/node_modules/vnu-jar/build/dist/vnu.jar --errors-only "$out"/*.html
  echo "the W3C HTML checker found no error"
else
  echo "no Java: the W3C HTML checker was skipped"
fi
