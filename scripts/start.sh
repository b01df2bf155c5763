#!/usr/bin/env bash
# Builds ChoirOS and opens the desktop. If no sandbox daemon runs for the data dir, `choir`
# starts one in the background with embedded defaults: SQLite is bundled, no API key or server
# is needed. Data lives in $CHOIR_DATA_DIR (default: ~/.local/share/choir).
# Extra arguments go to `choir`, e.g. `scripts/start.sh status`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The web mirror first: the daemon's build embeds it (`choir web` prints its URL).
scripts/build-web.sh
cargo build --release --locked -p choir-daemon -p choir-tui -p choir-cli
exec target/release/choir "$@"
