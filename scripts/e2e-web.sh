#!/usr/bin/env bash
# End to end: the web mirror (choir-web served by a real choir-daemon) in headless Chromium,
# with the terminal desktop in tmux as a second client where a test needs one. The tests are in
# web-tests/e2e.test.mjs; failure screenshots and logs go to web-tests/artifacts/failures/.
# Needs node, tmux and /usr/bin/chromium (or CHROMIUM=path), and the web mirror built
# (scripts/build-web.sh) before the daemon.
# Extra arguments go to `node --test`, e.g. --test-name-pattern=chat.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f choir-web/dist/index.html ] || { echo "e2e-web: the web mirror is not built: run scripts/build-web.sh" >&2; exit 1; }
source scripts/common.sh
build_workspace
export CHOIR_DAEMON_BIN="$bin_dir/choir-daemon" CHOIR_BIN="$bin_dir/choir" \
  CHOIR_HYPERVISOR_BIN="$bin_dir/choir-hypervisor"
for tool in node npm tmux; do
  command -v "$tool" >/dev/null || { echo "e2e-web: $tool is not installed" >&2; exit 1; }
done
# playwright-core needs Node.js 20 or newer.
source scripts/node-env.sh
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "e2e-web: no Chromium at ${CHROMIUM:-/usr/bin/chromium}" >&2; exit 1; }

# playwright-core, as pinned by the lock file; again only when the lock file changed since.
if [ ! -d web-tests/node_modules ] || [ web-tests/package-lock.json -nt web-tests/node_modules ]; then
  (cd web-tests && npm ci --no-audit --no-fund)
fi

# No test may hang: each has its own timeout and every wait in it too; this is the last resort.
timeout --kill-after=10s 12m node --test --test-concurrency=1 "$@" web-tests/e2e.test.mjs web-tests/passkeys.test.mjs
