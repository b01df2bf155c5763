#!/usr/bin/env bash
# The swarm backend and several hypervisors, against a real Docker Swarm on this machine: as
# root, installs docker.io and haproxy if missing (scripts/prepare-docker.sh), makes a network of its own (a bridge in a
# namespace of its own, this host linked to it by a veth, on a 10.x/24 no route of this host
# uses), starts three `dockerd`, each in a network namespace of its own with its own data root,
# socket and default bridge, forms a Swarm of them (the first the manager), imports the sandbox
# image on each, then runs hypervisor/tests/swarm.rs (which starts PostgreSQL, two hypervisors
# and HAProxy itself, and the page in headless Chromium with web-tests/failover.mjs where the
# browser tests' set-up is here: in the suite, scripts/e2e-web.sh has made it). Traffic goes only to loopback and to these namespaces. At the end every
# engine it started is stopped by its pid, and the namespaces, links and files are removed.
# Where an engine truly cannot start here (no root, no kernel support), it says why and skips.
#
# With --bench it builds the release binaries and runs hypervisor/benches/swarm.rs on them
# instead of the tests (docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
say() { printf 'e2e-swarm: %s\n' "$*"; }

mode=test
case "${1:-}" in
  --bench) mode=bench ;;
  "") ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "scripts/e2e-swarm.sh takes --bench or nothing (got: $*)" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" != 0 ]; then
  say "skipped: starting Docker engines in network namespaces needs root (CI runs as root)"
  exit 0
fi
# docker.io, haproxy and the image's root filesystem (cached; scripts/test.sh has made them
# already).
rootfs=$(scripts/prepare-docker.sh | tail -1)
for tool in ip nsenter; do
  command -v "$tool" >/dev/null || { say "skipped: no $tool here"; exit 0; }
done
if [ "$mode" = bench ]; then
  # Every binary, not a package subset (Cargo would unify features otherwise).
  cargo build --release --locked --workspace --bins
  bin_dir="$target_dir/release"
else
  build_workspace
fi

work=$(mktemp -d /var/tmp/choir-swarm.XXXXXX)
tag="cs$$"
hub="$tag-hub"
# A /24 of 10.x that no route of this host covers.
net=""
for _ in $(seq 1 50); do
  candidate="10.$((100 + RANDOM % 100)).$((RANDOM % 250))"
  if ! ip route show | grep -q "^$candidate\.\|^10\.$(echo "$candidate" | cut -d. -f2)\.0\.0/16"; then
    net=$candidate
    break
  fi
done
[ -n "$net" ] || { say "no free 10.x/24 for the test's network"; exit 1; }
pids=()
ours() { grep -qa -- "$work" "/proc/$1/cmdline" 2>/dev/null; } # still our dockerd?

clean_up() {
  for n in 1 2 3; do
    local sock="unix://$work/n$n/docker.sock"
    [ -S "$work/n$n/docker.sock" ] || continue
    docker -H "$sock" service ls -q 2>/dev/null | xargs -r docker -H "$sock" service rm >/dev/null 2>&1 || true
    docker -H "$sock" ps -aq 2>/dev/null | xargs -r docker -H "$sock" rm -f >/dev/null 2>&1 || true
  done
  # The engines started here, and any the test started again (their pid files).
  for n in 1 2 3; do [ -s "$work/n$n/pid" ] && pids+=("$(cat "$work/n$n/pid")"); done
  for pid in "${pids[@]}"; do ours "$pid" && kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && kill -9 "$pid" 2>/dev/null || true
  done
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for n in 1 2 3; do ip netns del "$tag-n$n" 2>/dev/null || true; done
  ip netns del "$hub" 2>/dev/null || true
  ip link del "$tag-host" 2>/dev/null || true
  rm -rf "$work"
}
trap clean_up EXIT

# The network: a bridge in the hub's namespace; this host and each node linked to it.
ip netns add "$hub"
ip -n "$hub" link set lo up
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up
ip link add "$tag-host" type veth peer name host netns "$hub"
ip -n "$hub" link set host master br0 up
ip addr add "$net.1/24" dev "$tag-host"
ip link set "$tag-host" up
for n in 1 2 3; do
  node="$tag-n$n"
  ip netns add "$node"
  ip -n "$node" link set lo up
  ip -n "$node" link add eth0 type veth peer name "n$n" netns "$hub"
  ip -n "$hub" link set "n$n" master br0 up
  ip -n "$node" addr add "$net.1$n/24" dev eth0
  ip -n "$node" link set eth0 up
done

# An engine in each node's namespace: nsenter keeps this host's mounts (the cgroup hierarchy),
# which `ip netns exec` would hide.
# $work/start-engine N starts node N's engine (the test starts a stopped one again with it).
cat >"$work/start-engine" <<END
#!/bin/sh
dir="$work/n\$1"
mkdir -p "\$dir"
exec nsenter --net="/var/run/netns/$tag-n\$1" dockerd --data-root "\$dir/root" \\
  --exec-root "\$dir/exec" --pidfile "\$dir/pid" --host "unix://\$dir/docker.sock" \\
  --iptables=false --ip-masq=false --bip "172.\$((28 + \$1)).0.1/24" >>"\$dir/log" 2>&1
END
chmod +x "$work/start-engine"
start_engine() { # n
  local n=$1 dir="$work/n$1"
  "$work/start-engine" "$n" &
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
  say "skipped: a Docker engine would not start in a network namespace here:"
  tail -5 "$dir/log" >&2
  exit 0
}
for n in 1 2 3; do start_engine "$n"; done
d() { docker -H "unix://$work/n$1/docker.sock" "${@:2}"; }

d 1 swarm init --advertise-addr "$net.11" --listen-addr "$net.11:2377" \
  --dispatcher-heartbeat 1s --task-history-limit 2 >/dev/null
token=$(d 1 swarm join-token -q worker)
for n in 2 3; do
  d "$n" swarm join --token "$token" --advertise-addr "$net.1$n" --listen-addr "$net.1$n:2377" \
    "$net.11:2377" >/dev/null
done
for _ in $(seq 1 100); do
  [ "$(d 1 node ls --format '{{.Status}}' | grep -c Ready)" = 3 ] && break
  sleep 0.2
done
say "a Swarm of 3 engines ($(d 1 version --format '{{.Server.Version}} API {{.Server.APIVersion}}')) on $net.0/24"

engines="unix://$work/n1/docker.sock,unix://$work/n2/docker.sock,unix://$work/n3/docker.sock"
"$bin_dir/choir-hypervisor" image build --rootfs "$rootfs" \
  --docker-host "unix://$work/n1/docker.sock" --docker-host "unix://$work/n2/docker.sock" \
  --docker-host "unix://$work/n3/docker.sock"

export CHOIR_TEST_SWARM_HOSTS="$engines" \
  CHOIR_TEST_SWARM_PIDS="${pids[0]},${pids[1]},${pids[2]}" \
  CHOIR_TEST_SWARM_ADDRS="$net.11,$net.12,$net.13" CHOIR_TEST_SWARM_START="$work/start-engine"
if [ "$mode" = bench ]; then
  BENCH_BIN_DIR="$bin_dir" timeout --kill-after=10s 20m cargo bench --locked -p hypervisor --bench swarm
else
  # The page in Chromium (web-tests/failover.mjs) needs Node.js 20 or newer.
  source scripts/node-env.sh
  # --workspace, not -p hypervisor: the same selection as the build, so nothing compiles here.
  timeout --kill-after=10s 10m cargo test --locked --workspace --test swarm
fi
