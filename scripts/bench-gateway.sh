#!/usr/bin/env bash
# The model gateway's time to first token against straight to the same provider stand-in,
# and the memory of idle sandboxes (daemon and slirp4netns): hypervisor/benches/gateway.rs on
# the release binaries. Needs root (sandboxes with uids and networks of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p choir-daemon -p choir-tui -p choir-cli -p hypervisor
BENCH_BIN_DIR="$PWD/target/release" cargo bench --locked -p hypervisor --bench gateway
