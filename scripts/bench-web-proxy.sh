#!/usr/bin/env bash
# The web proxy's cost: builds the release binaries (and the web mirror), then runs
# hypervisor/benches/web_proxy.rs against a real `choir-hypervisor serve`: command round trip
# and event fan-out through the hypervisor vs straight to the sandbox's socket in the same run,
# and memory per idle signed-in tab. Run as root (sandboxes get uids of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh
cargo build --release --locked -p choir-daemon -p choir-tui -p choir-cli -p hypervisor
BENCH_BIN_DIR="$PWD/target/release" cargo bench --locked -p hypervisor --bench web_proxy
