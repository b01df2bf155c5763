# Sourced by the scripts (after they cd to the repository root): where Cargo's output is, and
# the one build of the workspace that every test step runs on.

# CARGO_TARGET_DIR is honoured, so a cold run can use an empty target dir of its own.
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bin_dir="$target_dir/debug"

# The one build: the whole workspace, all targets, and the test binaries. Always this selection,
# because Cargo unifies features over what it is asked to build: `cargo build -p a -p b` after
# it would build a dozen dependencies again with other features (and the binaries with them).
# A script run alone builds what it needs this way; in the suite, scripts/test.sh has done it
# before any test, so here it is a no-op.
#
# With CHOIR_SUITE_BUILT=1 (scripts/test.sh sets it after its build step) anything still to
# compile fails the step, naming it: it would mean a test's timeout was spent on a build.
build_workspace() {
  if [ "${CHOIR_SUITE_BUILT:-}" != 1 ]; then
    cargo build --locked --quiet --workspace --all-targets
    cargo test --locked --quiet --workspace --no-run
    return
  fi
  local log status=0 compiled
  log=$(mktemp)
  cargo build --locked --workspace --all-targets --message-format=json-render-diagnostics >"$log" &&
    cargo test --locked --workspace --no-run --message-format=json-render-diagnostics >>"$log" ||
    status=$?
  compiled=$(grep '"reason":"compiler-artifact"' "$log" | grep '"fresh":false' |
    sed -n 's/.*"package_id":"\([^"]*\)".*"name":"\([^"]*\)".*/\2 (\1)/p' | sort -u || true)
  rm -f "$log"
  [ "$status" = 0 ] || return "$status"
  if [ -n "$compiled" ]; then
    echo "build: this step compiled what the suite's build step should have built:" >&2
    echo "$compiled" | sed 's/^/  /' >&2
    return 1
  fi
}
