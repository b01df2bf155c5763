#!/usr/bin/env bash
# Set-up for the Docker and Swarm sandbox tests: installs docker.io and haproxy when missing
# (as root) and builds the sandbox image's root filesystem from Debian packages
# (scripts/build-sandbox-rootfs.sh, cached).
# Idempotent; compiles nothing, so scripts/test.sh runs it beside the Rust build. Prints the
# root filesystem's path on its last line. Without root it does nothing: the tests need root to
# start engines and skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'prepare-docker: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "skipped: starting Docker engines needs root"
  exit 0
fi
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
# The Swarm test's load balancer in front of two hypervisors.
command -v haproxy >/dev/null || missing+=(haproxy)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
scripts/build-sandbox-rootfs.sh
