#!/usr/bin/env bash
# Installs what the build and the tests need beyond a Rust toolchain. Idempotent: each step
# is skipped when already done.
set -euo pipefail

have_target() { rustup target list --installed 2>/dev/null | grep -qx "$1"; }

if ! have_target wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target (choir-proto must build for the browser)"
  rustup target add wasm32-unknown-unknown
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    echo "setup: adding rustup component ${component}"
    rustup component add "${component}"
  fi
done

# Debian packages the end-to-end scripts drive.
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v pgrep >/dev/null || missing+=(procps)
# Shell window tests edit a file with vi (vim-tiny is Debian's smallest vim).
command -v vi >/dev/null || missing+=(vim-tiny)
command -v less >/dev/null || missing+=(less)
# A sandbox's network of its own (process backend): slirp4netns is its user-mode stack,
# nftables its policy, iproute2 brings its loopback up (and the network tests' own hosts).
command -v slirp4netns >/dev/null || missing+=(slirp4netns)
command -v nft >/dev/null || missing+=(nftables)
command -v ip >/dev/null || missing+=(iproute2)
# The web mirror's browser tests: Debian's Chromium, driven by npm's playwright-core.
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
# The MCP test's client: the `mcp` package from PyPI, in a virtualenv of Debian's Python.
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: please install: ${missing[*]}" >&2
    exit 1
  fi
fi

# Several hypervisors' shared state: the tests start PostgreSQL servers of their own, so the
# package's own cluster is not made (nor started).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing postgresql (without a cluster of its own)"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root apt-get install -y -qq postgresql-common
  as_root sed -i 's/^#\?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  as_root apt-get install -y -qq postgresql
fi

# The apps' crates (apps/*): wit-bindgen and what it needs in cargo's cache, so that an app
# builds offline (choir app build, the agent's app tools, the tests); a new app's lock file
# is the example timer's.
for manifest in apps/*/Cargo.toml; do
  cargo fetch --locked --quiet --manifest-path "$manifest"
done

scripts/setup-mcp-client.sh
# The mail tests' servers: Dovecot (apt), Radicale and aiosmtpd (PyPI, pinned).
scripts/mail-servers.sh install
