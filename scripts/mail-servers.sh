#!/usr/bin/env bash
# Real mail and calendar servers on loopback for the tests, each with a config and data of its
# own under one directory, on free ports of 127.0.0.1:
#   - Dovecot: IMAP in plain text, IMAP over TLS (imaps, TLS from the first byte), and LMTP,
#     through which mail lands in the mailboxes;
#   - scripts/mail-smtp.py, twice: a small aiosmtpd SMTP server (AUTH required) that delivers
#     every message it accepts to Dovecot over LMTP, once in plain text and once over TLS
#     (smtps, TLS from the first byte, as on port 465);
#   - Radicale: CalDAV, with a calendar `calendar/` made for each user.
# Two users, the same on all three: alice / alice-pass / alice@example.test and
# bob / bob-pass / bob@example.test.
#
# The TLS servers' certificate comes from a certificate authority made for the run
# (DIR/tls/ca.pem), so that the tests can check that a client speaks TLS and checks
# certificates: trusting ca.pem it gets in, trusting DIR/tls/other-ca.pem (a second authority
# that signed nothing) it must be refused. The certificate names localhost and 127.0.0.1; the
# TLS servers also listen on ::1 when this machine has it, since `localhost` may resolve to ::1
# first.
#
# What is missing is installed first (idempotent; later runs install nothing): Debian's
# dovecot-imapd, dovecot-lmtpd and openssl with apt, PyPI's radicale and aiosmtpd (pinned) into
# a virtualenv under ~/.cache/choir/mail-venv. Nothing else is fetched.
set -euo pipefail

RADICALE_VERSION=3.9.0
AIOSMTPD_VERSION=1.4.6
# NAME:PASSWORD:ADDRESS. The first is CHOIR_MAIL_USER etc., the second CHOIR_MAIL_USER2 etc.
USERS=(alice:alice-pass:alice@example.test bob:bob-pass:bob@example.test)
# How long each server may take to answer on its port.
WAIT_SECS=20
# How long the certificates made at start are valid.
CERT_DAYS=3
# Between SIGTERM and SIGKILL.
STOP_SECS=5

# CHOIR_MAIL_FTS=xapian: Dovecot keeps a full-text index (installs dovecot-fts-xapian).
fts="${CHOIR_MAIL_FTS:-}"
case "$fts" in "" | xapian) ;; *) echo "mail-servers: CHOIR_MAIL_FTS is xapian or unset, not '$fts'" >&2; exit 2 ;; esac
script_dir=$(cd "$(dirname "$0")" && pwd)
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/choir"
venv="${CHOIR_MAIL_VENV:-$cache_dir/mail-venv}"
py="$venv/bin/python"

step() { echo "mail-servers: $*" >&2; }
die() {
  echo "mail-servers: error: $*" >&2
  exit 1
}

usage() {
  cat <<EOF
Usage: scripts/mail-servers.sh start [DIR]
       scripts/mail-servers.sh stop DIR
       scripts/mail-servers.sh install

start  Installs what is missing (apt: dovecot-imapd dovecot-lmtpd openssl; PyPI, in $venv:
       radicale==$RADICALE_VERSION aiosmtpd==$AIOSMTPD_VERSION), then makes a certificate
       authority and a certificate for localhost signed by it (DIR/tls), and starts Dovecot
       (IMAP, IMAP over TLS, LMTP), an SMTP server delivering into it in plain text and another
       over TLS, and Radicale (CalDAV), all on free ports of 127.0.0.1 (the TLS ones also on ::1
       when there is one), with their configs, data, logs (DIR/log) and pids (DIR/pids) under
       DIR (a new mktemp -d directory when not given). Waits until each answers, then prints on
       stdout, and writes to DIR/env, \`export NAME=value\` lines for the tests:
         CHOIR_IMAP_URL CHOIR_SMTP_URL (plain: imap://127.0.0.1:PORT, smtp://127.0.0.1:PORT)
         CHOIR_IMAPS_URL CHOIR_SMTPS_URL (TLS: imaps://localhost:PORT, smtps://localhost:PORT)
         CHOIR_MAIL_CA (DIR/tls/ca.pem, which signed the TLS servers' certificate)
         CHOIR_MAIL_OTHER_CA (DIR/tls/other-ca.pem, which signed nothing)
         CHOIR_LMTP_URL CHOIR_CALDAV_URL CHOIR_CALDAV_CALENDAR
         CHOIR_MAIL_USER CHOIR_MAIL_PASSWORD CHOIR_MAIL_ADDRESS (alice)
         CHOIR_MAIL_USER2 CHOIR_MAIL_PASSWORD2 CHOIR_MAIL_ADDRESS2 CHOIR_CALDAV_URL2
         CHOIR_CALDAV_CALENDAR2 (bob) CHOIR_MAIL_DIR CHOIR_MAIL_PIDS
       Progress and errors go to stderr. If a server does not come up, its log is shown,
       what was started is stopped, and the exit status is 1.
         eval "\$(scripts/mail-servers.sh start)"
stop   Stops the servers started for DIR (SIGTERM, SIGKILL after ${STOP_SECS}s). Idempotent.
       DIR itself is left in place.
install  Only installs what is missing, as start does first (scripts/setup.sh runs it).
EOF
}

# --- installing --------------------------------------------------------------------------------

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "root is needed to run: $*"
  fi
}

venv_ok() {
  [ -x "$py" ] && "$py" -c "
import importlib.metadata as m
assert m.version('radicale') == '$RADICALE_VERSION' and m.version('aiosmtpd') == '$AIOSMTPD_VERSION'
" 2>/dev/null
}

install_missing() {
  mkdir -p "$cache_dir"
  # One installer at a time: tests may start several sets of servers at once.
  exec 9>"$cache_dir/mail-install.lock"
  flock -w 600 9 || die "another install has held $cache_dir/mail-install.lock for 10 minutes"
  local missing=() pkg
  local wanted=(dovecot-imapd dovecot-lmtpd)
  [ "$fts" = xapian ] && wanted+=(dovecot-fts-xapian)
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  # For the certificates made at start.
  command -v openssl >/dev/null || missing+=(openssl)
  if ((${#missing[@]})); then
    # On a machine with an init system this also starts the system's own Dovecot (ports 143,
    # 993) unless policy-rc.d forbids it; the tests never use that one.
    step "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if ! venv_ok; then
    step "installing radicale==$RADICALE_VERSION aiosmtpd==$AIOSMTPD_VERSION (PyPI) into $venv"
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip' 2>/dev/null; then
      step "installing python3 python3-venv (apt)"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "radicale==$RADICALE_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
    venv_ok || die "the virtualenv $venv does not have the pinned packages after installing"
  fi
  exec 9>&-
}

# --- helpers -----------------------------------------------------------------------------------

# N distinct free TCP ports of 127.0.0.1 (held together while asked, so they differ); with
# HOST... (the addresses the TLS servers listen on, 127.0.0.1 first) each is free on all of them.
free_ports() {
  "$py" -c '
import socket, sys
n, hosts = int(sys.argv[1]), sys.argv[2:] or ["127.0.0.1"]
held, ports = [], []
for _ in range(100 * n):
    if len(ports) == n:
        break
    first = socket.socket()
    first.bind((hosts[0], 0))
    port, socks = first.getsockname()[1], [first]
    try:
        for host in hosts[1:]:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            socks.append(s)
            s.bind((host, port))
    except OSError:
        # Taken on another address: try another port (this one stays held meanwhile).
        held += socks
        continue
    held += socks
    ports.append(port)
if len(ports) < n:
    sys.exit("no port free on all of " + " ".join(hosts))
print(*ports)
' "$@"
}

# The addresses the TLS servers listen on: 127.0.0.1, and ::1 when this machine has it. Their
# URLs say localhost (the name the certificate is checked against), which resolves to ::1 first
# on many machines (/etc/hosts: ::1 localhost); a client then tries ::1 before 127.0.0.1.
find_tls_hosts() {
  if "$py" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    echo 127.0.0.1 ::1
  else
    echo 127.0.0.1
  fi
}

# Exit 0 once a server answers on PORT of each HOST as KIND expects: imap `* OK`, smtp (and
# LMTP) `220`, http any status below 500; imaps and smtps the same after a TLS handshake in
# which the certificate is checked against CA (a PEM file) and the name localhost.
probe_py='
import socket, ssl, sys
kind, port, ca, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
tls = kind in ("imaps", "smtps")
for host in hosts:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(2)
        if tls:
            context = ssl.create_default_context(cafile=ca)
            s = context.wrap_socket(s, server_hostname="localhost")
        if kind == "http":
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        line = s.makefile("rb").readline().decode("latin-1")
    ok = {
        "imap": line.startswith("* OK"),
        "smtp": line.startswith("220"),
        "http": line.startswith("HTTP/") and int(line.split()[1]) < 500,
    }[kind[:-1] if tls else kind]
    if not ok:
        sys.exit(1)
'

# Logs in to IMAP on 127.0.0.1:PORT as USER with PASSWORD and opens the INBOX.
imap_login_py='
import imaplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
imap.login(user, password)
typ, data = imap.select("INBOX")
if typ != "OK":
    sys.exit(f"IMAP SELECT INBOX: {typ} {data}")
imap.logout()
'

# Shows the last lines of a server's logs on stderr.
show_logs() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f:" >&2
    tail -n 40 "$f" >&2
  done
}

# wait_ready NAME PID KIND PORT LOG...: until the server answers (the TLS kinds, imaps and
# smtps, on each of $tls_hosts), at most WAIT_SECS; on failure its logs are shown and start
# fails (the EXIT trap stops what was started).
wait_ready() {
  local name=$1 pid=$2 kind=$3 port=$4
  shift 4
  local hosts=(127.0.0.1)
  case $kind in imaps | smtps) read -ra hosts <<<"$tls_hosts" ;; esac
  local where="port $port of ${hosts[*]}"
  local deadline=$((SECONDS + WAIT_SECS))
  until "$py" -c "$probe_py" "$kind" "$port" "$dir/tls/ca.pem" "${hosts[@]}" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      step "$name (pid $pid) exited before answering on $where"
      show_logs "$@"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      step "$name (pid $pid) did not answer on $where within ${WAIT_SECS}s"
      show_logs "$@"
      exit 1
    fi
    sleep 0.2
  done
}

# spawn NAME LOG CMD...: starts CMD in the background in a session of its own (so that stop can
# signal it with everything it forked), records its pid in DIR/pids and sets $spawned.
spawn() {
  local name=$1 log=$2
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 3>&- &
  spawned=$!
  echo "$spawned $name" >>"$dir/pids"
}

# MKCALENDAR USER/calendar/ on Radicale as USER (Radicale makes the principal USER/ itself).
# An existing calendar (DIR reused) is fine.
mkcalendar_py='
import base64, http.client, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Calendar</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>"""
auth = base64.b64encode(f"{user}:{password}".encode()).decode()
headers = {"Authorization": "Basic " + auth, "Content-Type": "application/xml; charset=utf-8"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("MKCALENDAR", f"/{user}/calendar/", body.encode(), headers)
status = conn.getresponse().status
if status == 201:
    sys.exit(0)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("PROPFIND", f"/{user}/calendar/", headers=dict(headers, Depth="0"))
if conn.getresponse().status == 207:
    sys.exit(0)
sys.exit(f"MKCALENDAR /{user}/calendar/ answered {status}")
'

# `export NAME=value`, the value quoted only when it has to be.
emit() {
  local name=$1 value=$2
  if [[ "$value" =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    printf 'export %s=%s\n' "$name" "$value"
  elif [[ ! "$value" =~ [\"\$\`\\!] ]]; then
    printf 'export %s="%s"\n' "$name" "$value"
  else
    printf 'export %s=%q\n' "$name" "$value"
  fi
}

# --- stop --------------------------------------------------------------------------------------

# Whether PID is (still) a process started for DIR: its command line names DIR.
is_ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$dir"
}

# Signals PID, or when it leads its process group (spawn's setsid) everything in the group.
signal_tree() {
  local sig=$1 pid=$2 pgid
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
  if [ "$pgid" = "$pid" ]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
}

group_alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }

stop_servers() {
  local pids_file="$dir/pids" pid name targets=() names=()
  if [ ! -s "$pids_file" ]; then
    step "nothing to stop for $dir"
    return 0
  fi
  while read -r pid name; do
    [ -n "$pid" ] || continue
    if is_ours "$pid"; then
      targets+=("$pid")
      names+=("$name")
      # The server alone: Dovecot's master stops its own processes.
      kill -TERM "$pid" 2>/dev/null || true
    else
      step "$name (pid $pid) is not running"
    fi
  done <"$pids_file"
  local deadline=$((SECONDS + STOP_SECS)) i left
  while :; do
    left=0
    for pid in "${targets[@]}"; do group_alive "$pid" && left=1; done
    ((left)) && ((SECONDS < deadline)) || break
    sleep 0.1
  done
  for i in "${!targets[@]}"; do
    pid=${targets[$i]}
    if group_alive "$pid"; then
      signal_tree KILL "$pid"
      step "stopped ${names[$i]} (pid $pid) with SIGKILL after ${STOP_SECS}s"
    else
      step "stopped ${names[$i]} (pid $pid)"
    fi
  done
  rm -f "$pids_file"
}

# --- start -------------------------------------------------------------------------------------

# openssl ARG...: with its chatter in DIR/log/openssl.log, shown if it fails.
ossl() {
  openssl "$@" 2>>"$dir/log/openssl.log" ||
    { step "openssl $1 failed"; show_logs "$dir/log/openssl.log"; exit 1; }
}

# Under DIR/tls, anew at every start (valid from now for CERT_DAYS days), all with EC P-256 keys:
#   ca.pem, ca.key: a certificate authority made for this run;
#   server.pem, server.key: the TLS servers' certificate, signed by ca.pem, for localhost and
#     127.0.0.1 (subjectAltName; clients check the name they connect to against it);
#   other-ca.pem: another authority, which signed nothing (its key is thrown away): a client
#     that trusts it alone must refuse the servers.
# The keys are 0600, owned by whoever runs start, as are the processes that read server.key:
# mail-smtp.py, and Dovecot's config process, which reads ssl_key and runs as the user who
# started Dovecot, root included (the imap-login processes, dovenull as root, get the key from
# it and never open the file).
make_certs() {
  local tls=$dir/tls name
  rm -rf "$tls"
  mkdir "$tls"
  cat >"$tls/openssl.cnf" <<'EOF'
# Written by scripts/mail-servers.sh: the extensions of the certificates under DIR/tls.
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  local umask_was
  umask_was=$(umask)
  umask 077
  for name in ca other-ca server; do
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls/$name.key"
  done
  umask "$umask_was"
  # Two names, so that a client trusting other-ca.pem finds no issuer at all for server.pem
  # (rather than an issuer whose signature does not match).
  for name in ca other-ca; do
    ossl req -new -x509 -config "$tls/openssl.cnf" -extensions ca -key "$tls/$name.key" \
      -subj "/CN=ChoirOS test $name" -days "$CERT_DAYS" -out "$tls/$name.pem"
  done
  ossl req -new -config "$tls/openssl.cnf" -key "$tls/server.key" -subj /CN=localhost \
    -out "$tls/server.csr"
  ossl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$CERT_DAYS" \
    -extfile "$tls/openssl.cnf" -extensions server -out "$tls/server.pem"
  ossl verify -CAfile "$tls/ca.pem" "$tls/server.pem" >/dev/null
  rm -f "$tls/other-ca.key" "$tls/server.csr"
  # Only the keys are secret.
  chmod 644 "$tls"/*.pem
}

# let_through UID GID: makes DIR and the directories above it passable (o+x) for that user
# where they are not, as long as they are temporary directories (a test's own is 0700).
let_through() {
  local d=$dir tmp
  tmp=$(realpath -m "${TMPDIR:-/tmp}")
  while [ "$d" != / ]; do
    if ! setpriv --reuid="$1" --regid="$2" --clear-groups test -x "$d"; then
      case "$d/" in
        "$dir/" | "$tmp"/* | /tmp/*) chmod o+x "$d" ;;
        *) die "user nobody, who owns the mail (Dovecot refuses root), cannot get through $d; use a DIR under /tmp" ;;
      esac
    fi
    d=$(dirname "$d")
  done
}

write_dovecot_conf() {
  local uid gid user group mail_uid mail_gid
  uid=$(id -u)
  gid=$(id -g)
  user=$(id -un)
  group=$(id -gn)
  mkdir -p "$dir/dovecot/run" "$dir/dovecot/state" "$dir/mail"
  if [ "$uid" = 0 ]; then
    # Dovecot never opens mailboxes as root ("Mail access not allowed for root", whatever
    # first_valid_uid says): as root, the mail belongs to nobody, who must get through to it.
    mail_uid=$(id -u nobody)
    mail_gid=$(id -g nobody)
    let_through "$mail_uid" "$mail_gid"
  else
    mail_uid=$uid
    mail_gid=$gid
  fi
  # Each user's maildir, DIR/mail/USER, is also the user's home.
  : >"$dir/dovecot/users"
  local spec name password address
  for spec in "${USERS[@]}"; do
    IFS=: read -r name password address <<<"$spec"
    mkdir -p "$dir/mail/$name"
    # No uid/gid here (passwd-file refuses 0): mail_uid and mail_gid below apply.
    echo "$name:{PLAIN}$password::::$dir/mail/$name::" >>"$dir/dovecot/users"
  done
  chown -R "$mail_uid:$mail_gid" "$dir/mail"
  chmod 600 "$dir/dovecot/users"
  cat >"$dir/dovecot/dovecot.conf" <<EOF
# Written by scripts/mail-servers.sh: a Dovecot of the tests' own, nothing from /etc/dovecot.
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
log_path = $dir/log/dovecot.log
instance_name = choir-mail
protocols = imap lmtp
listen = 127.0.0.1

# TLS for the imaps listener (see service imap-login). Dovecot 2.3 creates that listener only
# when ssl is not no, and then offers STARTTLS on the plain IMAP listener too (nothing tells
# listeners on one address apart), but never requires it: passwords may go in the clear there
# (loopback). LMTP is left without TLS (protocol lmtp below).
ssl = yes
ssl_cert = <$dir/tls/server.pem
ssl_key = <$dir/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Tests check refusals: no 2 s pause after a wrong password.
auth_failure_delay = 0
# The name in LMTP greetings and Received: headers, so that none is looked up.
hostname = localhost
# "alice" and "alice@example.test" are the same user, alice.
auth_username_format = %Ln

passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/dovecot/users
}
userdb {
  driver = passwd-file
  args = $dir/dovecot/users
}
mail_location = maildir:$dir/mail/%u
# The drafts folder has a name of its own, marked as such (RFC 6154), as many servers do:
# clients are to find it by its mark, not by the name "Drafts".
namespace inbox {
  inbox = yes
  mailbox Brouillons {
    special_use = \\Drafts
    auto = create
  }
}
# The mail belongs to whoever runs the tests (nobody when that is root).
mail_uid = $mail_uid
mail_gid = $mail_gid
first_valid_uid = $mail_uid
first_valid_gid = $mail_gid

# The processes that read the users file (0600, under DIR) run as the same user.
service auth {
  user = $user
}
service auth-worker {
  user = $user
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  # TLS from the first byte, with the certificate signed by DIR/tls/ca.pem.
  inet_listener imaps {
    address = ${tls_hosts// /, }
    port = $imaps_port
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.test
  # No STARTTLS offered: only mail-smtp.py speaks to it, in plain text.
  ssl = no
}
EOF
  if [ "$fts" = xapian ]; then
    # A full-text index (Debian's dovecot-fts-xapian), as servers that search large folders
    # have: SEARCH TEXT reads it instead of every message. Indexed as mail comes in.
    cat >>"$dir/dovecot/dovecot.conf" <<EOF
mail_plugins = \$mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}
EOF
  fi
  if [ "$uid" != 0 ]; then
    # Without root, Dovecot cannot switch to its own users (dovenull, dovecot), give its sockets
    # to their group, nor chroot.
    cat >>"$dir/dovecot/dovecot.conf" <<EOF
default_login_user = $user
default_internal_user = $user
default_internal_group = $group
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
service ipc {
  chroot =
}
EOF
  fi
}

write_radicale_conf() {
  mkdir -p "$dir/radicale/collections"
  : >"$dir/radicale/users"
  local spec name password address
  for spec in "${USERS[@]}"; do
    IFS=: read -r name password address <<<"$spec"
    echo "$name:$password" >>"$dir/radicale/users"
  done
  chmod 600 "$dir/radicale/users"
  cat >"$dir/radicale/config" <<EOF
# Written by scripts/mail-servers.sh.
[server]
hosts = 127.0.0.1:$caldav_port

[auth]
type = htpasswd
htpasswd_filename = $dir/radicale/users
htpasswd_encryption = plain
# No pause after a wrong password: tests check refusals.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = $dir/radicale/collections

[web]
type = none

[logging]
level = info
EOF
}

# The users the SMTP server knows, NAME:PASSWORD:ADDRESS a line.
write_smtp_users() {
  mkdir -p "$dir/smtp"
  printf '%s\n' "${USERS[@]}" >"$dir/smtp/users"
  chmod 600 "$dir/smtp/users"
}

start_servers() {
  local started_at=$SECONDS
  if [ -z "$dir" ]; then
    dir=$(mktemp -d)
  else
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
  fi
  if [ -s "$dir/pids" ]; then
    local pid name
    while read -r pid name; do
      is_ours "$pid" && die "$name (pid $pid) is already running for $dir; stop it first: $0 stop $dir"
    done <"$dir/pids"
    rm -f "$dir/pids"
  fi
  # Unix sockets live under DIR/dovecot/run; their paths must fit in 108 bytes.
  ((${#dir} <= 64)) || die "DIR is too long for Dovecot's socket paths (at most 64 characters): $dir"

  install_missing

  # Anything that fails from here on stops what was started.
  trap 'status=$?; if ((status)); then step "start failed; stopping what was started"; stop_servers; fi' EXIT

  tls_hosts=$(find_tls_hosts)
  read -r imap_port lmtp_port smtp_port caldav_port <<<"$(free_ports 4)"
  # shellcheck disable=SC2086 # one argument per address
  read -r imaps_port smtps_port <<<"$(free_ports 2 $tls_hosts)"
  mkdir -p "$dir/log"
  make_certs
  write_dovecot_conf
  write_radicale_conf
  write_smtp_users
  local logs="$dir/log"

  step "starting Dovecot: IMAP on 127.0.0.1:$imap_port, IMAP over TLS on port $imaps_port of $tls_hosts, LMTP on 127.0.0.1:$lmtp_port"
  spawn dovecot "$logs/dovecot.out" /usr/sbin/dovecot -F -c "$dir/dovecot/dovecot.conf"
  local dovecot_pid=$spawned
  wait_ready Dovecot "$dovecot_pid" imap "$imap_port" "$logs/dovecot.out" "$logs/dovecot.log"
  wait_ready "Dovecot's imaps" "$dovecot_pid" imaps "$imaps_port" "$logs/dovecot.out" "$logs/dovecot.log"
  wait_ready "Dovecot's LMTP" "$dovecot_pid" smtp "$lmtp_port" "$logs/dovecot.out" "$logs/dovecot.log"
  # A greeting says little about the users and the mailboxes: log in and open the INBOX.
  local u p a
  IFS=: read -r u p a <<<"${USERS[0]}"
  "$py" -c "$imap_login_py" "$imap_port" "$u" "$p" ||
    { step "Dovecot: $u cannot log in and open INBOX"; show_logs "$logs/dovecot.log"; exit 1; }

  step "starting the SMTP server on 127.0.0.1:$smtp_port"
  spawn smtp "$logs/smtp.log" "$py" "$script_dir/mail-smtp.py" \
    --port "$smtp_port" --lmtp-port "$lmtp_port" --users "$dir/smtp/users"
  local smtp_pid=$spawned
  step "starting the SMTP server over TLS on port $smtps_port of $tls_hosts"
  local host hosts=()
  for host in $tls_hosts; do hosts+=(--host "$host"); done
  spawn smtps "$logs/smtps.log" "$py" "$script_dir/mail-smtp.py" \
    --port "$smtps_port" --lmtp-port "$lmtp_port" --users "$dir/smtp/users" \
    --tls "$dir/tls/server.pem" "$dir/tls/server.key" "${hosts[@]}"
  local smtps_pid=$spawned
  wait_ready "the SMTP server" "$smtp_pid" smtp "$smtp_port" "$logs/smtp.log"
  wait_ready "the SMTP server over TLS" "$smtps_pid" smtps "$smtps_port" "$logs/smtps.log"

  step "starting Radicale on 127.0.0.1:$caldav_port"
  spawn radicale "$logs/radicale.log" "$py" -m radicale --config "$dir/radicale/config"
  local radicale_pid=$spawned
  wait_ready Radicale "$radicale_pid" http "$caldav_port" "$logs/radicale.log"
  local spec name password address
  for spec in "${USERS[@]}"; do
    IFS=: read -r name password address <<<"$spec"
    "$py" -c "$mkcalendar_py" "$caldav_port" "$name" "$password" ||
      { show_logs "$logs/radicale.log"; exit 1; }
  done

  local caldav="http://127.0.0.1:$caldav_port"
  local u1 p1 a1 u2 p2 a2
  IFS=: read -r u1 p1 a1 <<<"${USERS[0]}"
  IFS=: read -r u2 p2 a2 <<<"${USERS[1]}"
  {
    emit CHOIR_IMAP_URL "imap://127.0.0.1:$imap_port"
    emit CHOIR_SMTP_URL "smtp://127.0.0.1:$smtp_port"
    emit CHOIR_IMAPS_URL "imaps://localhost:$imaps_port"
    emit CHOIR_SMTPS_URL "smtps://localhost:$smtps_port"
    emit CHOIR_MAIL_CA "$dir/tls/ca.pem"
    emit CHOIR_MAIL_OTHER_CA "$dir/tls/other-ca.pem"
    emit CHOIR_LMTP_URL "lmtp://127.0.0.1:$lmtp_port"
    emit CHOIR_MAIL_USER "$u1"
    emit CHOIR_MAIL_PASSWORD "$p1"
    emit CHOIR_MAIL_ADDRESS "$a1"
    emit CHOIR_CALDAV_URL "$caldav/$u1/"
    emit CHOIR_CALDAV_CALENDAR "$caldav/$u1/calendar/"
    emit CHOIR_MAIL_USER2 "$u2"
    emit CHOIR_MAIL_PASSWORD2 "$p2"
    emit CHOIR_MAIL_ADDRESS2 "$a2"
    emit CHOIR_CALDAV_URL2 "$caldav/$u2/"
    emit CHOIR_CALDAV_CALENDAR2 "$caldav/$u2/calendar/"
    emit CHOIR_MAIL_DIR "$dir"
    emit CHOIR_MAIL_PIDS "$dovecot_pid $smtp_pid $smtps_pid $radicale_pid"
  } >"$dir/env"
  trap - EXIT
  step "ready in $((SECONDS - started_at))s (logs in $logs; stop with: $0 stop $dir)"
  cat "$dir/env" >&3
}

# --- main --------------------------------------------------------------------------------------

dir=""
case "${1:-}" in
  start)
    (($# <= 2)) || die "too many arguments (see --help)"
    dir=${2:-}
    # Only the export lines go to stdout (fd 3); everything else, apt and pip included, to stderr.
    exec 3>&1 1>&2
    start_servers
    ;;
  stop)
    (($# == 2)) && [ -n "$2" ] || die "usage: $0 stop DIR"
    if [ ! -d "$2" ]; then
      step "nothing to stop for $2 (no such directory)"
      exit 0
    fi
    dir=$(cd "$2" && pwd)
    stop_servers
    ;;
  install)
    (($# == 1)) || die "install takes no arguments"
    install_missing
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
