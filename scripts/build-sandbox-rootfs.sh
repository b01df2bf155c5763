#!/usr/bin/env bash
# Makes the root filesystem of the Docker sandbox image (choir-sandbox) from Debian's own
# packages: the dependency closure of the list in scripts/sandbox-packages.txt (a shell, what
# the agent's tools and a terminal user expect: coreutils, git, python3, awk, curl, vi, htop...) is fetched with `apt-get download` and unpacked with `dpkg-deb -x` — no
# registry pull, no debootstrap, nothing installed on this host. Idempotent: the result is kept
# in ~/.cache/choir-sandbox/rootfs-<hash of the package list> and reused. Prints its path.
#
# Then `choir-hypervisor image build --rootfs PATH` adds choir-daemon and choir and imports it
# into the Docker engines (scripts/e2e-docker.sh does both).
set -euo pipefail

cd "$(dirname "$0")/.."
PACKAGES=$(sed -e 's/#.*//' scripts/sandbox-packages.txt | xargs)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/choir-sandbox
# The recipe (this script) is part of the key: a change to it makes a new root filesystem.
key=$(echo "$PACKAGES $(dpkg --print-architecture) $(sha256sum < "$0")" | sha256sum | cut -c1-12)
root="$cache/rootfs-$key"
if [ -f "$root/.complete" ]; then
  echo "$root"
  exit 0
fi
say() { printf 'build-sandbox-rootfs: %s\n' "$*" >&2; }
for tool in apt-cache apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { say "needs $tool (Debian or Ubuntu)"; exit 1; }
done

debs="$cache/debs"
mkdir -p "$debs"
rm -rf "$root.new"
mkdir -p "$root.new"
# Every package the list needs, real ones only (virtual ones show as <name>).
# shellcheck disable=SC2086
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances $PACKAGES | grep -E '^[a-z0-9]' | grep -v ':' | sort -u)
say "fetching $(echo "$closure" | wc -l) packages"
missing=()
for package in $closure; do
  ls "$debs/${package}"_*.deb >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  # All at once; if one has no candidate, one by one.
  (cd "$debs" && { apt-get download -qq "${missing[@]}" 2>/dev/null || for package in "${missing[@]}"; do
    apt-get download -qq "$package" 2>/dev/null || say "skipped $package (no candidate)"
  done; })
fi
for package in $closure; do
  # The newest version fetched, if several are cached.
  deb=$(ls -v "$debs/${package}"_*.deb 2>/dev/null | tail -1 || true)
  [ -n "$deb" ] && dpkg-deb -x "$deb" "$root.new"
done
# What the packages' scripts would have made.
# The sandbox's own uid is known only when its container starts: /etc/passwd is a link to
# /tmp/passwd, which the container's first command writes from this and a line of its own
# (ssh, whoami and id ask for the name of the uid they run as).
cp "$root.new/usr/share/base-passwd/passwd.master" "$root.new/etc/passwd.image"
ln -sfn /tmp/passwd "$root.new/etc/passwd"
cp "$root.new/usr/share/base-passwd/group.master" "$root.new/etc/group"
mkdir -p "$root.new/etc/ssl/certs" "$root.new/data" "$root.new/tmp"
chmod 1777 "$root.new/tmp"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root.new/etc/ssl/certs/"
[ -e "$root.new/bin/sh" ] || ln -s dash "$root.new/bin/sh"
# The names the packages' alternatives would have given (dpkg-deb -x runs no scripts).
[ -e "$root.new/usr/bin/awk" ] || ln -s mawk "$root.new/usr/bin/awk"
[ -e "$root.new/usr/bin/vi" ] || ln -s vim.tiny "$root.new/usr/bin/vi"
[ -e "$root.new/usr/bin/editor" ] || ln -s nano "$root.new/usr/bin/editor"
[ -e "$root.new/usr/bin/cc" ] || ln -s gcc "$root.new/usr/bin/cc"
touch "$root.new/.complete"
rm -rf "$root"
mv "$root.new" "$root"
say "done: $(du -sh "$root" | cut -f1)"
echo "$root"
