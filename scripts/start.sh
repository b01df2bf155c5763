#!/usr/bin/env bash
# Builds ChoirOS and starts the sandbox daemon with embedded defaults: SQLite is bundled, no
# API key or server is needed. Data lives in $CHOIR_DATA_DIR (default: ~/.local/share/choir).
# Extra arguments go to choir-daemon, e.g. `scripts/start.sh --listen 127.0.0.1:9000`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p choir-daemon -p choir-tui
echo "Binaries: target/release/choir-daemon, target/release/choir"
echo "In another terminal: target/release/choir status"
exec target/release/choir-daemon "$@"
