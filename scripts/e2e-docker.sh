#!/usr/bin/env bash
# The Docker backend against real engines: installs docker.io if missing (as root), starts two
# Docker engines of its own on this machine (their own sockets, data roots and pid files; no
# default bridge; iptables on the first only), builds the sandbox image's root filesystem from Debian packages
# (scripts/prepare-docker.sh) and imports the image into both, then runs
# hypervisor/tests/docker.rs (lifecycle, isolation, limits, placement) and
# hypervisor/tests/docker_engines.rs (one engine stopped mid-test). Every engine it started is
# stopped by its pid at the end. Where an engine truly cannot start (no root, no kernel
# support), it says why and skips.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
say() { printf 'e2e-docker: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  say "skipped: starting Docker engines needs root (CI runs as root)"
  exit 0
fi
# docker.io and the image's root filesystem (both cached; scripts/test.sh has made them already).
rootfs=$(scripts/prepare-docker.sh | tail -1)
build_workspace

work=$(mktemp -d /var/tmp/choir-docker.XXXXXX)
pids=()
ours() { grep -qa -- "$work" "/proc/$1/cmdline" 2>/dev/null; } # still our dockerd?
stop_engines() {
  for name in a b; do
    sock="unix://$work/$name/docker.sock"
    docker -H "$sock" ps -aq 2>/dev/null | xargs -r docker -H "$sock" rm -f >/dev/null 2>&1 || true
    docker -H "$sock" network prune -f >/dev/null 2>&1 || true
  done
  for pid in "${pids[@]}"; do ours "$pid" && kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && kill -9 "$pid" 2>/dev/null || true
  done
  # Unmount what the engines left mounted before removing their roots.
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap stop_engines EXIT

try_engine() { # name pool dockerd-flags...
  local dir="$work/$1" pool=$2
  shift 2
  rm -rf "$dir"
  mkdir -p "$dir"
  dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/pid" \
    --host "unix://$dir/docker.sock" --bridge none --default-address-pool "base=$pool,size=24" \
    "$@" >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 150); do
    if [ -S "$dir/docker.sock" ] && docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then
      pids+=("$pid")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}
no_engine() {
  say "skipped: a Docker engine would not start here:"
  tail -5 "$work/$1/log" >&2
  exit 0
}
# Engine A filters traffic (iptables), so the test of sandboxes not reaching each other is
# real there; B does not, so the two do not fight over the same chains.
icc=1
# A also answers on TCP, as an engine on another host would.
tcp_port=$((23000 + RANDOM % 2000))
try_engine a 10.231.0.0/16 --host "tcp://127.0.0.1:$tcp_port" || {
  icc=0; try_engine a 10.231.0.0/16 --host "tcp://127.0.0.1:$tcp_port" --iptables=false --ip-masq=false
} || no_engine a
[ "$icc" = 1 ] || say "engine A runs without iptables here: the network isolation test is skipped"
try_engine b 10.232.0.0/16 --iptables=false --ip-masq=false || no_engine b
a="unix://$work/a/docker.sock"
b="unix://$work/b/docker.sock"
say "engines up ($(docker -H "$a" version --format '{{.Server.Version}} API {{.Server.APIVersion}}'), storage $(docker -H "$a" info --format '{{.Driver}}'))"

"$bin_dir/choir-hypervisor" image build --rootfs "$rootfs" --docker-host "$a" --docker-host "$b"

export CHOIR_TEST_DOCKER_HOSTS="$a,$b" CHOIR_TEST_DOCKER_PIDS="${pids[0]},${pids[1]}" \
  CHOIR_TEST_DOCKER_ICC="$icc" CHOIR_TEST_DOCKER_TCP="tcp://127.0.0.1:$tcp_port"
# --workspace, not -p hypervisor: the same selection as the build, so nothing compiles here.
timeout --kill-after=10s 10m cargo test --locked --workspace --test docker
timeout --kill-after=10s 5m cargo test --locked --workspace --test docker_engines
