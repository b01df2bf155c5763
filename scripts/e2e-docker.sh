#!/usr/bin/env bash
# The Docker backend against real engines: installs docker.io if missing (as root), starts two
# Docker engines of its own on this machine (their own sockets, data roots and pid files; no
# bridge, no iptables), builds the sandbox image's root filesystem from Debian packages
# (scripts/build-sandbox-rootfs.sh) and imports the image into both, then runs
# hypervisor/tests/docker.rs (lifecycle, isolation, limits, placement) and
# hypervisor/tests/docker_engines.rs (one engine stopped mid-test). Every engine it started is
# stopped by its pid at the end. Where an engine truly cannot start (no root, no kernel
# support), it says why and skips.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'e2e-docker: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  say "skipped: starting Docker engines needs root (CI runs as root)"
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  say "installing docker.io"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

work=$(mktemp -d /var/tmp/choir-docker.XXXXXX)
pids=()
stop_engines() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  # Unmount what the engines left mounted before removing their roots.
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap stop_engines EXIT

start_engine() { # name pool
  local dir="$work/$1"
  mkdir -p "$dir"
  dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/pid" \
    --host "unix://$dir/docker.sock" --bridge none --iptables=false --ip-masq=false \
    --default-address-pool "base=$2,size=24" >"$dir/log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 150); do
    [ -S "$dir/docker.sock" ] && docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.2
  done
  say "skipped: a Docker engine would not start here:"
  tail -5 "$dir/log" >&2
  exit 0
}
start_engine a 10.231.0.0/16
start_engine b 10.232.0.0/16
a="unix://$work/a/docker.sock"
b="unix://$work/b/docker.sock"
say "engines up ($(docker -H "$a" version --format '{{.Server.Version}} API {{.Server.APIVersion}}'), storage $(docker -H "$a" info --format '{{.Driver}}'))"

cargo build --locked --quiet -p choir-daemon -p choir-tui -p hypervisor
rootfs=$(scripts/build-sandbox-rootfs.sh)
target/debug/choir-hypervisor image build --rootfs "$rootfs" --docker-host "$a" --docker-host "$b"

export CHOIR_TEST_DOCKER_HOSTS="$a,$b" CHOIR_TEST_DOCKER_PIDS="${pids[0]},${pids[1]}"
timeout --kill-after=10s 10m cargo test --locked -p hypervisor --test docker
timeout --kill-after=10s 5m cargo test --locked -p hypervisor --test docker_engines
