#!/usr/bin/env bash
# Runs every test: the web mirror's wasm build (the daemon embeds it), formatting, lints (host
# and wasm), the whole workspace's tests, the desktop end to end in tmux, over OpenSSH and in
# headless Chromium, the wasm build of the protocol crate, and the Docker backend against two
# real engines (as root; skipped, saying why, where an engine cannot start). This is the README's test
# command and exactly what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/setup.sh

step "build the web mirror (wasm), embedded by the build of choir-web-assets"
scripts/build-web.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p choir-web --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test --workspace"
# No test may hang: every network wait in the tests has its own timeout, and this is the
# last line of defence.
timeout --kill-after=30s 30m cargo test --workspace --locked

step "end to end: the desktop in tmux"
timeout --kill-after=10s 5m scripts/e2e-tui.sh

step "end to end: the desktop over SSH with the OpenSSH client"
timeout --kill-after=10s 5m scripts/e2e-ssh.sh

step "end to end: the web mirror and passkey sign-in in headless Chromium"
timeout --kill-after=10s 13m scripts/e2e-web.sh

step "choir-proto builds for wasm32-unknown-unknown"
cargo check -p choir-proto --target wasm32-unknown-unknown --locked

step "end to end: Docker sandboxes against real engines"
timeout --kill-after=10s 20m scripts/e2e-docker.sh

step "all tests passed"
