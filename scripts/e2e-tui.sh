#!/usr/bin/env bash
# End to end: a real daemon, the real `choir` desktop inside tmux. Opens a chat window, types a
# message, checks the screen shows it and `choir events` recorded it; writes a document and
# edits its workspace file from the shell; then quits and checks the daemon kept running.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/common.sh
build_workspace
bin=$bin_dir
data=$(mktemp -d)
sock="choir-e2e-$$"
daemon_pid=""

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

fail() {
  echo "e2e-tui: FAILED: $*" >&2
  echo "--- screen ---" >&2
  tmux -L "$sock" capture-pane -p -t e2e 2>/dev/null >&2 || true
  echo "--- daemon ---" >&2
  cat "$data/daemon.out" >&2 || true
  exit 1
}

# wait_for TEXT: polls the tmux screen for up to 10 s.
wait_for() {
  for _ in $(seq 1 100); do
    if tmux -L "$sock" capture-pane -p -t e2e 2>/dev/null | grep -qF -- "$1"; then
      return 0
    fi
    sleep 0.1
  done
  fail "the screen never showed: $1"
}

# Apps are built where the daemon tests build theirs: the bindings generator is compiled once.
export CHOIR_APPS_TARGET_DIR="$target_dir/tmp/apps"
"$bin/choir-daemon" --data-dir "$data" --listen 127.0.0.1:0 >"$data/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -f "$data/daemon.json" ] && break; sleep 0.1; done
[ -f "$data/daemon.json" ] || fail "the daemon wrote no daemon.json"

tmux -L "$sock" -f /dev/null new-session -d -s e2e -x 100 -y 30 \
  "env CHOIR_DATA_DIR='$data' TERM=xterm-256color '$bin/choir'; sleep 60"
wait_for "● live"

tmux -L "$sock" send-keys -t e2e C-a c
wait_for "1:Chat"
tmux -L "$sock" send-keys -t e2e -l "hello from tmux"
tmux -L "$sock" send-keys -t e2e Enter
wait_for "you ·"
wait_for "hello from tmux"

# A smaller terminal: the desktop redraws at the new size, taskbar on the last row.
tmux -L "$sock" resize-window -t e2e -x 80 -y 24
for _ in $(seq 1 50); do
  tmux -L "$sock" capture-pane -p -t e2e | sed -n 24p | grep -qF "● live" && break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t e2e | sed -n 24p | grep -qF "● live" || fail "no taskbar on row 24 after resizing to 80x24"
wait_for "hello from tmux"

CHOIR_DATA_DIR="$data" "$bin/choir" events | grep '"type":"chat.user_message"' | grep -qF "hello from tmux" \
  || fail "choir events has no chat.user_message with the text"

# The writer: create a document from the list, type into it, see it saved to the workspace,
# then edit its file from the shell and see the change arrive in the open editor.
tmux -L "$sock" send-keys -t e2e C-a w
wait_for "press n to create one"
tmux -L "$sock" send-keys -t e2e n
tmux -L "$sock" send-keys -t e2e -l "Tmux notes"
tmux -L "$sock" send-keys -t e2e Enter
wait_for "Tmux notes · saved"
tmux -L "$sock" send-keys -t e2e -l "typed in tmux"
wait_for "typed in tmux"
wait_for "Ln 1, Col 14"
doc="$data/workspace/docs/1-tmux-notes.md"
for _ in $(seq 1 100); do
  [ "$(cat "$doc" 2>/dev/null)" = "typed in tmux" ] && break
  sleep 0.1
done
[ "$(cat "$doc" 2>/dev/null)" = "typed in tmux" ] || fail "the document's file does not hold the typed text"
printf '\nadded from the shell\n' >>"$doc"
wait_for "added from the shell"
CHOIR_DATA_DIR="$data" "$bin/choir" events | grep '"type":"doc.edited"' | grep -qF '"actor":"file"' \
  || fail "the file edit is not a doc.edited event by file"

# An app: the example timer built, opened from the command line, asking for its store, run,
# then rebuilt with other words while it runs: the window stays, the countdown goes on.
choir_at() { CHOIR_DATA_DIR="$data" "$bin/choir" "$@"; }
mkdir -p "$data/workspace/apps"
cp -r apps/timer "$data/workspace/apps/timer"
choir_at app build timer | grep -qF "installed" || fail "choir app build timer did not install it"
choir_at app open timer >/dev/null || fail "choir app open timer failed"
wait_for "Pomodoro  25:00"
wait_for "timer asks to keep its own data"
# A question takes an answer once it has been shown a second.
tmux -L "$sock" send-keys -t e2e y
wait_for "once it has been shown a second"
sleep 1.1
tmux -L "$sock" send-keys -t e2e y
wait_for "paused · 0 sessions done"
tmux -L "$sock" send-keys -t e2e Enter
wait_for "running · 0 sessions done"
wait_for "Pomodoro  24:5"
sed -i 's/Pomodoro  {clock}/Tomato  {clock}/' "$data/workspace/apps/timer/src/lib.rs"
choir_at app build timer | grep -qF "installed" || fail "the changed timer did not build"
wait_for "Tomato  24:"
wait_for "running · 0 sessions done"
choir_at app list | grep -F "timer" | grep -qF "may keep its own data" \
  || fail "choir app list does not show what the timer may do"
# A build that does not compile says where, and the running version stays.
echo "fn broken() -> u32 { nothing_here }" >>"$data/workspace/apps/timer/src/lib.rs"
choir_at app build timer 2>"$data/build.err" && fail "a broken timer built"
grep -qF "nothing_here" "$data/build.err" || fail "the failed build did not print the compiler's error"
wait_for "Tomato  24:"
# The tool dashboard: it asks to read the log, then counts a tool call made from the shell.
cp -r apps/tool-dashboard "$data/workspace/apps/tool-dashboard"
choir_at app build tool-dashboard | grep -qF "installed" || fail "the dashboard did not build"
choir_at app open tool-dashboard >/dev/null || fail "choir app open tool-dashboard failed"
wait_for "tool-dashboard asks to read the event log"
sleep 1.1
tmux -L "$sock" send-keys -t e2e y
wait_for "Tool calls  "
choir_at --exec list_files >/dev/null || fail "choir --exec list_files failed"
tmux -L "$sock" send-keys -t e2e r
wait_for "list_files 1"

tmux -L "$sock" send-keys -t e2e C-a q
for _ in $(seq 1 50); do
  tmux -L "$sock" capture-pane -p -t e2e | grep -qF "● live" || break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t e2e | grep -qF "● live" && fail "C-a q did not leave the desktop"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon stopped when the desktop quit"
CHOIR_DATA_DIR="$data" "$bin/choir" status >/dev/null || fail "choir status failed after quitting"

# Without a daemon: two `choir`s started at once against a fresh data dir both end up on the
# one daemon that wins the data dir's lock.
fresh="$data/fresh"
for name in a b; do
  tmux -L "$sock" new-session -d -s "$name" -x 100 -y 30 \
    "env CHOIR_DATA_DIR='$fresh' TERM=xterm-256color '$bin/choir'; sleep 60"
done
for name in a b; do
  for _ in $(seq 1 150); do
    tmux -L "$sock" capture-pane -p -t "$name" | grep -qF "● live" && break
    sleep 0.1
  done
  tmux -L "$sock" capture-pane -p -t "$name" | grep -qF "● live" || fail "choir ($name) did not start or find a daemon"
done
fresh_pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$fresh/daemon.json")
[ -n "$fresh_pid" ] && kill -0 "$fresh_pid" || fail "no daemon behind $fresh/daemon.json"
# A daemon that lost the race waits a moment for the lock before it gives up and exits.
for _ in $(seq 1 50); do
  daemons=$(pgrep -f -- "--data-dir $fresh" | wc -l)
  [ "$daemons" = 1 ] && break
  sleep 0.1
done
[ "$daemons" = 1 ] || fail "expected one daemon for the fresh data dir, found $daemons"
tmux -L "$sock" send-keys -t a C-a c
for _ in $(seq 1 100); do
  tmux -L "$sock" capture-pane -p -t b | grep -qF "1:Chat" && break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t b | grep -qF "1:Chat" || fail "a window opened in one desktop did not show in the other"
kill "$fresh_pid"

echo "e2e-tui: passed (chat, resize, writer and its file, an app built, run and rebuilt, quit, racing launches)"
