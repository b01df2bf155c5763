#!/usr/bin/env bash
# End to end over SSH with the real OpenSSH client: a user is registered, `ssh alice@host`
# runs inside tmux and shows the desktop; a chat message typed there lands in the sandbox;
# `ssh alice@host choir ...` carries stdout and the exit status back; a read-only share opens
# with `ssh alice.TOKEN@host` and ends when revoked; SIGTERM to the hypervisor stops the
# sandbox with it.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/common.sh
build_workspace
bin=$bin_dir
data=$(mktemp -d)
# Sandboxes run as users of their own, who must be able to walk down to their data dirs.
chmod 711 "$data"
sock="choir-e2e-ssh-$$"
hv_pid=""

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  # SIGTERM: the hypervisor stops every sandbox before it exits.
  if [ -n "$hv_pid" ] && kill "$hv_pid" 2>/dev/null; then
    for _ in $(seq 1 150); do kill -0 "$hv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$hv_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

fail() {
  echo "e2e-ssh: FAILED: $*" >&2
  tmux -L "$sock" capture-pane -p -t ssh 2>/dev/null >&2 || true
  cat "$data/hv.err" >&2 || true
  exit 1
}

ssh-keygen -q -t ed25519 -N '' -f "$data/id"
"$bin/choir-hypervisor" --data-dir "$data" user add alice --ssh-key "$data/id.pub" >/dev/null
"$bin/choir-hypervisor" --data-dir "$data" user list | grep -q '^alice' || fail "user list does not show alice"

"$bin/choir-hypervisor" --data-dir "$data" serve --ssh-listen 127.0.0.1:0 >"$data/hv.out" 2>"$data/hv.err" &
hv_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*SSH on 127.0.0.1:\([0-9]*\).*/\1/p' "$data/hv.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the hypervisor printed no port"

ssh_cmd=(ssh -p "$port" -i "$data/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
         -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10)

out=$("${ssh_cmd[@]}" alice@127.0.0.1 choir --exec bash --arg "'cmd=echo over-ssh'")
echo "$out" | grep -q '"output":"over-ssh\\n"' || fail "exec output: $out"
set +e
"${ssh_cmd[@]}" alice@127.0.0.1 choir --exec bash --arg "'cmd=exit 5'" >/dev/null
status=$?
"${ssh_cmd[@]}" -o IdentitiesOnly=yes -i /dev/null bob@127.0.0.1 choir status >/dev/null 2>&1
refused=$?
set -e
[ "$status" = 5 ] || fail "exec exit status was $status, not 5"
[ "$refused" != 0 ] || fail "an unknown user got in"

# `choir mcp` over SSH, driven by a real MCP client (PyPI's mcp, set up by setup-mcp-client.sh).
mcp_python=${CHOIR_MCP_PYTHON:-$HOME/.cache/choir-test/mcp-venv/bin/python}
out=$(echo '{"tool": "bash", "args": {"cmd": "echo mcp-over-ssh"}}' |
  timeout 60 "$mcp_python" choir-cli/tests/mcp_client.py "${ssh_cmd[@]}" alice@127.0.0.1 choir mcp) ||
  fail "the MCP client over ssh: $out"
echo "$out" | grep -q '"name": "choir"' || fail "MCP initialize over ssh: $out"
echo "$out" | grep -q 'mcp-over-ssh' || fail "MCP call over ssh: $out"
"${ssh_cmd[@]}" alice@127.0.0.1 choir events | grep '"actor":"mcp"' | grep -q '"tool.started"' ||
  fail "the MCP call is not in the log as the mcp actor's"

tmux -L "$sock" -f /dev/null new-session -d -s ssh -x 100 -y 30 \
  "$(printf '%q ' "${ssh_cmd[@]}") -t alice@127.0.0.1; sleep 60"
for _ in $(seq 1 150); do
  tmux -L "$sock" capture-pane -p -t ssh | grep -qF "● live" && break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t ssh | grep -qF "● live" || fail "the desktop did not come up over ssh"
tmux -L "$sock" send-keys -t ssh C-a c
sleep 0.5
tmux -L "$sock" send-keys -t ssh -l "typed over openssh"
tmux -L "$sock" send-keys -t ssh Enter
for _ in $(seq 1 100); do
  tmux -L "$sock" capture-pane -p -t ssh | grep -qF "typed over openssh" && break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t ssh | grep -qF "typed over openssh" || fail "the message did not show"
"${ssh_cmd[@]}" alice@127.0.0.1 choir events | grep -q "typed over openssh" || fail "the message is not in the log"

# A shell window in the confined sandbox: a PTY there, typed into over SSH.
wait_screen() {
  for _ in $(seq 1 100); do
    tmux -L "$sock" capture-pane -p -t "$1" | grep -qF "$2" && return 0
    sleep 0.1
  done
  tmux -L "$sock" capture-pane -p -t "$1" >&2
  fail "$3"
}
tmux -L "$sock" send-keys -t ssh C-a s
wait_screen ssh "Shell" "no shell window opened over ssh"
sleep 0.5
tmux -L "$sock" send-keys -t ssh -l 'echo shell-over-$((6*7)) in $(pwd)'
tmux -L "$sock" send-keys -t ssh Enter
wait_screen ssh "shell-over-42 in" "the shell in the sandbox did not answer over ssh"
tmux -L "$sock" send-keys -t ssh C-a q
for _ in $(seq 1 50); do
  tmux -L "$sock" capture-pane -p -t ssh | grep -qF "● live" || break
  sleep 0.1
done
tmux -L "$sock" capture-pane -p -t ssh | grep -qF "● live" && fail "C-a q did not end the ssh session"
# The shell belongs to the sandbox: a new session finds it with its screen.
tmux -L "$sock" -f /dev/null new-session -d -s again -x 100 -y 30 \
  "$(printf '%q ' "${ssh_cmd[@]}") -t alice@127.0.0.1; sleep 60"
wait_screen again "shell-over-42 in" "the shell did not outlive the ssh session that opened it"
tmux -L "$sock" send-keys -t again -l 'echo still-$((1+1))'
tmux -L "$sock" send-keys -t again Enter
wait_screen again "still-2" "the shell did not answer the second session"
tmux -L "$sock" send-keys -t again C-a q

# A read-only share of alice's desktop, opened by its ssh command with the real OpenSSH
# client and no key at all: it watches live, is refused every change, and ends when revoked.
share=$("${ssh_cmd[@]}" alice@127.0.0.1 choir share --read-only)
token=$(echo "$share" | sed -n 's/^  token: //p')
id=$(echo "$share" | sed -n 's/^revoke it with: choir share revoke //p')
echo "$share" | grep -qF "ssh: ssh -t -p $port alice.$token@127.0.0.1" || fail "the share's ssh command: $share"
watch_cmd=(ssh -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
           -o IdentitiesOnly=yes -o PubkeyAuthentication=no -o ConnectTimeout=10)
tmux -L "$sock" -f /dev/null new-session -d -s watch -x 100 -y 30 \
  "$(printf '%q ' "${watch_cmd[@]}") -t alice.$token@127.0.0.1; sleep 60"
wait_screen watch "watching (read-only)" "the share did not open over ssh"
wait_screen watch "still-2" "the share does not show alice's shell window"
tmux -L "$sock" send-keys -t watch C-a c
wait_screen watch "read-only share" "the share's refusal of a new window"
"${ssh_cmd[@]}" alice@127.0.0.1 choir share revoke "$id" >/dev/null
wait_screen watch "choir: this share was revoked" "revoking did not end the shared ssh session"

daemons() { pgrep -f "choir-daemon --data-dir $data/sandboxes" || true; }
[ -n "$(daemons)" ] || fail "no sandbox daemon was running"
kill "$hv_pid"
for _ in $(seq 1 150); do kill -0 "$hv_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$hv_pid" 2>/dev/null && fail "the hypervisor did not stop on SIGTERM"
hv_pid=""
[ -z "$(daemons)" ] || fail "sandbox daemons outlived the hypervisor: $(daemons)"

echo "e2e-ssh: 11 passed, 0 failed"
