#!/usr/bin/env bash
# SSH benchmarks: builds the release binaries, then runs against a real `choir-hypervisor
# serve` process hypervisor/benches/ssh_sessions.rs (desktop sessions; baseline: OpenSSH's sshd
# running one shared tmux session) and hypervisor/benches/sandbox_exec.rs (cold and warm
# `choir --exec` into a sandbox; baseline: the same command through sshd). The baselines need
# root and Debian's openssh-server, which this installs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p choir-daemon -p choir-tui -p choir-cli -p hypervisor

baseline=$(mktemp -d)
sshd_pid=""
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  tmux -L choirbench kill-server 2>/dev/null || true
  rm -rf "$baseline"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  [ -x /usr/sbin/sshd ] || { apt-get update -qq && apt-get install -y -qq openssh-server; }
  mkdir -p /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$baseline/host"
  ssh-keygen -q -t ed25519 -N '' -f "$baseline/id"
  cp "$baseline/id.pub" "$baseline/authorized_keys"
  chmod 600 "$baseline/authorized_keys"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$baseline/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $baseline/host
PidFile $baseline/sshd.pid
AuthorizedKeysFile $baseline/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxSessions 1000
MaxStartups 1000
CONFIG
  /usr/sbin/sshd -f "$baseline/sshd_config" -D -e 2>"$baseline/sshd.log" &
  sshd_pid=$!
  sleep 0.5
  export BENCH_SSHD_PORT=$port BENCH_SSHD_KEY=$baseline/id
else
  echo "bench-ssh: not root, so no sshd baseline" >&2
fi

BENCH_BIN_DIR="$PWD/target/release" cargo bench --locked -p hypervisor --bench ssh_sessions
BENCH_BIN_DIR="$PWD/target/release" cargo bench --locked -p hypervisor --bench sandbox_exec
