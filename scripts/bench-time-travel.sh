#!/usr/bin/env bash
# Time-travel benchmark (choir-tui/benches/time_travel.rs): a generated log of 1M events
# against a real release `choir-daemon` process; opens `choir replay` desktops at random
# points. Needs about 1 GiB free where the log goes (BENCH_DIR, default the temporary
# directory). BENCH_SIZES=100000 for a shorter run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p choir-daemon
CHOIR_DAEMON_BIN="$PWD/target/release/choir-daemon" cargo bench --locked -p choir-tui --bench time_travel
