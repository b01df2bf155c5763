#!/usr/bin/env bash
# History benchmark (choir-tui/benches/history.rs): generated logs of 10k, 100k and 1M events
# against a real release `choir-daemon` process. Needs about 1 GiB free where the logs go
# (BENCH_DIR, default the temporary directory). BENCH_SIZES=10000,100000 for a shorter run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p choir-daemon
CHOIR_DAEMON_BIN="$PWD/target/release/choir-daemon" cargo bench --locked -p choir-tui --bench history
