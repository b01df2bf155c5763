#!/usr/bin/env bash
# The Docker backend against the process backend in one run (hypervisor/benches/backends.rs):
# builds the release binaries, starts a Docker engine of its own (as scripts/e2e-docker.sh
# does), imports the sandbox image, runs the bench, stops the engine. As root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-docker: needs root" >&2; exit 1; }
command -v dockerd >/dev/null || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }
cargo build --release --locked -p choir-daemon -p choir-tui -p choir-cli -p hypervisor
work=$(mktemp -d /var/tmp/choir-bench-docker.XXXXXX)
dockerd --data-root "$work/root" --exec-root "$work/exec" --pidfile "$work/pid" \
  --host "unix://$work/docker.sock" --bridge none --iptables=false --ip-masq=false >"$work/log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 150); do docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
target/release/choir-hypervisor image build --rootfs "$(scripts/build-sandbox-rootfs.sh)" \
  --docker-host "unix://$work/docker.sock"
BENCH_BIN_DIR="$PWD/target/release" BENCH_DOCKER_HOST="unix://$work/docker.sock" \
  cargo bench --locked -p hypervisor --bench backends
