#!/usr/bin/env bash
# Runs every test. This is the README's test command and exactly what CI runs (.ci/run).
#
# Two phases. First everything that compiles, with no timeout (a new machine's build takes as
# long as it takes): set-up, the web mirror's wasm (the daemon embeds it), formatting and lints
# (host and wasm), the protocol crate for wasm, and one build of the whole workspace with all
# its targets. Meanwhile the Docker tests' set-up (docker.io, haproxy, the sandbox's root
# filesystem from Debian packages) runs beside it. Then the tests, each under a timeout that bounds the test
# alone: the workspace's tests, the desktop end to end in tmux, over OpenSSH and in headless
# Chromium, the Docker backend against two real engines, and the Swarm backend against a Swarm
# of three engines in network namespaces behind two hypervisors and HAProxy (as root; skipped,
# saying why, where an engine cannot start). No test step compiles anything: each checks that and fails,
# naming what it would have built. The run ends with each step's wall time.
set -euo pipefail
case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "scripts/test.sh takes no arguments (got: $*); --help says what it runs" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
source scripts/common.sh

step_names=()
step_secs=()
step_name=""
step_start=0
suite_start=$SECONDS
prep_pid=""
prep_log=$(mktemp)
prep_secs_file=$(mktemp)

report() {
  local status=$?
  [ -n "$prep_pid" ] && kill -- "-$prep_pid" 2>/dev/null || true
  if [ -n "$step_name" ]; then
    step_names+=("$step_name  (FAILED, exit $status)")
    step_secs+=($((SECONDS - step_start)))
  fi
  printf '\n==> wall time of each step\n\n| step | seconds |\n|---|---:|\n'
  local i
  for i in "${!step_names[@]}"; do
    printf '| %s | %d |\n' "${step_names[$i]}" "${step_secs[$i]}"
  done
  if [ -s "$prep_secs_file" ]; then
    printf '| (beside the build) Docker set-up: docker.io, the sandbox root filesystem | %d |\n' \
      "$(cat "$prep_secs_file")"
  fi
  printf '| **total** | **%d** |\n' $((SECONDS - suite_start))
  rm -f "$prep_log" "$prep_secs_file"
  [ "$status" = 0 ] && printf '\n==> all tests passed\n' || printf '\n==> FAILED\n'
}
trap report EXIT

# step NAME COMMAND...: runs the command as a named, timed step.
step() {
  step_name=$1
  shift
  printf '\n==> %s\n' "$step_name"
  step_start=$SECONDS
  "$@"
  step_names+=("$step_name")
  step_secs+=($((SECONDS - step_start)))
  step_name=""
}

# A cold build of every target takes about 8 GiB under target/, and the Docker set-up about 1 GiB
# more. A full disk fails the build halfway with "No space left on device": say it up front.
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ -n "$free_kib" ] && [ "$free_kib" -lt $((10 * 1024 * 1024)) ]; then
  printf 'warning: %s GiB free on this disk; a build from an empty target/ needs about 10\n' \
    "$((free_kib / 1024 / 1024))" >&2
fi

step "setup" scripts/setup.sh

# Independent slow set-up that compiles nothing, in a session of its own so that a failed run
# can stop it and all it started.
setsid bash -c 'start=$SECONDS; scripts/prepare-docker.sh && echo $((SECONDS - start)) >"$1"' \
  prepare "$prep_secs_file" >"$prep_log" 2>&1 &
prep_pid=$!

step "build the web mirror (wasm), embedded by the build of choir-web-assets" scripts/build-web.sh
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy -D warnings (host)" \
  cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo clippy -D warnings (the web mirror for wasm)" \
  cargo clippy -p choir-web --target wasm32-unknown-unknown --locked -- -D warnings
step "choir-proto and choir-desktop build for wasm32-unknown-unknown" \
  cargo check -p choir-proto -p choir-desktop --target wasm32-unknown-unknown --locked
step "build the workspace: all packages, all targets, the test binaries" build_workspace
export CHOIR_SUITE_BUILT=1

# No test may hang: every network wait in the tests has its own timeout; these are the last
# line of defence, and they bound tests only.
step "cargo test --workspace" timeout --kill-after=30s 30m cargo test --workspace --locked
step "end to end: the desktop in tmux" timeout --kill-after=10s 5m scripts/e2e-tui.sh
step "end to end: the desktop over SSH with the OpenSSH client" \
  timeout --kill-after=10s 5m scripts/e2e-ssh.sh
step "end to end: the web mirror and passkey sign-in in headless Chromium" \
  timeout --kill-after=10s 13m scripts/e2e-web.sh

wait_for_docker_setup() {
  local status=0
  wait "$prep_pid" || status=$?
  prep_pid=""
  sed 's/^/  /' "$prep_log"
  if [ "$status" != 0 ]; then
    echo "the Docker set-up failed (exit $status)" >&2
    return "$status"
  fi
}
step "Docker set-up (waited for; it ran beside the build)" wait_for_docker_setup
step "end to end: Docker sandboxes against real engines" \
  timeout --kill-after=10s 20m scripts/e2e-docker.sh
step "end to end: Swarm sandboxes behind two hypervisors and HAProxy" \
  timeout --kill-after=10s 15m scripts/e2e-swarm.sh
