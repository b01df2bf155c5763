#!/usr/bin/env bash
# Web mirror benchmark (web-tests/bench.mjs): page load on a 100,000-event log against an empty
# one, and event → DOM latency at 100 events/s, in headless Chromium against the release
# daemon. Prints a Markdown table. Build first: cargo build --release -p choir-daemon
# Extra arguments go to bench.mjs, e.g. --events 10000 --loads 3. With --apps first, it runs
# web-tests/bench-apps.mjs instead (an app's click → its new view in the DOM), e.g.
# scripts/bench-web.sh --apps --clicks 200.
set -euo pipefail
cd "$(dirname "$0")/.."

daemon=target/release/choir-daemon
if [ ! -x "$daemon" ]; then
  echo "bench-web: $daemon is missing; build it first: cargo build --release -p choir-daemon" >&2
  exit 1
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "bench-web: $tool is not installed" >&2; exit 1; }
done
# playwright-core needs Node.js 20 or newer.
source scripts/node-env.sh
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "bench-web: no Chromium at ${CHROMIUM:-/usr/bin/chromium}" >&2; exit 1; }

if [ ! -d web-tests/node_modules ] || [ web-tests/package-lock.json -nt web-tests/node_modules ]; then
  (cd web-tests && npm ci --no-audit --no-fund)
fi

bench=web-tests/bench.mjs
if [ "${1:-}" = --apps ]; then
  bench=web-tests/bench-apps.mjs
  shift
fi
timeout --kill-after=10s 30m node "$bench" --daemon "$daemon" "$@"
