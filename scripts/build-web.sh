#!/usr/bin/env bash
# Builds the web mirror (choir-web) for the browser into choir-web/dist, where the build of
# choir-web-assets embeds it (for choir-daemon and choir-hypervisor): index.html, the
# hypervisor's auth.html, and content-hashed files under assets/. Idempotent: installs
# wasm-bindgen-cli (at the exact version in Cargo.lock) only when missing, and cargo rebuilds
# only what changed. wasm-opt is npm's binaryen at the version in scripts/wasm-opt/package-lock.json
# (Debian's is too old for current wasm-bindgen output), installed there once; without it the
# wasm is a quarter larger, so a missing wasm-opt is an error. Set CHOIR_WEB_OPT=0 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

step() { printf 'build-web: %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$version" ] || { echo "build-web: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
  step "installing wasm-bindgen-cli $version (once; takes a few minutes)"
  # Without --locked: its own lock file pins crates the registry here may lack.
  cargo install --quiet wasm-bindgen-cli --version "=$version"
fi

if [ "${CHOIR_WEB_OPT:-1}" != 0 ]; then
  wasm_opt=scripts/wasm-opt/node_modules/.bin/wasm-opt
  if [ ! -x "$wasm_opt" ] || [ scripts/wasm-opt/package-lock.json -nt scripts/wasm-opt/node_modules ]; then
    command -v npm >/dev/null || { echo "build-web: npm is needed for wasm-opt (scripts/setup.sh installs it)" >&2; exit 1; }
    source scripts/node-env.sh
    step "installing wasm-opt (npm's binaryen, as pinned in scripts/wasm-opt/package-lock.json)"
    (cd scripts/wasm-opt && npm ci --no-audit --no-fund --loglevel=error)
    touch scripts/wasm-opt/node_modules
  fi
fi

step "compiling choir-web for wasm32"
cargo build --locked --quiet -p choir-web --target wasm32-unknown-unknown --profile web

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name app \
  "$target_dir/wasm32-unknown-unknown/web/choir-web.wasm"

if [ "${CHOIR_WEB_OPT:-1}" != 0 ]; then
  source scripts/node-env.sh
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types \
    "$out/app_bg.wasm" -o "$out/app_bg.opt.wasm"
  mv "$out/app_bg.opt.wasm" "$out/app_bg.wasm"
fi

hash() { sha256sum "$1" | cut -c1-12; }
dist=choir-web/dist
rm -rf "$dist.new"
mkdir -p "$dist.new/assets"
wasm="app-$(hash "$out/app_bg.wasm")_bg.wasm"
js="app-$(hash "$out/app.js").js"
css="style-$(hash choir-web/static/style.css).css"
cp "$out/app_bg.wasm" "$dist.new/assets/$wasm"
cp "$out/app.js" "$dist.new/assets/$js"
cp choir-web/static/style.css "$dist.new/assets/$css"
sed -e "s/{{JS}}/$js/g" -e "s/{{WASM}}/$wasm/g" choir-web/static/boot.js > "$out/boot.js"
boot="boot-$(hash "$out/boot.js").js"
cp "$out/boot.js" "$dist.new/assets/$boot"
sed -e "s/{{JS}}/$js/g" -e "s/{{WASM}}/$wasm/g" -e "s/{{CSS}}/$css/g" -e "s/{{BOOT}}/$boot/g" \
  choir-web/static/index.html > "$dist.new/index.html"
# The hypervisor's sign-in, invite and account page.
auth="auth-$(hash choir-web/static/auth.js).js"
cp choir-web/static/auth.js "$dist.new/assets/$auth"
sed -e "s/{{CSS}}/$css/g" -e "s/{{AUTH}}/$auth/g" choir-web/static/auth.html > "$dist.new/auth.html"
# Replace the old build only if something changed, so the daemon is not rebuilt for nothing.
if [ -d "$dist" ] && diff -qr "$dist" "$dist.new" >/dev/null; then
  rm -rf "$dist.new"
else
  rm -rf "$dist"
  mv "$dist.new" "$dist"
fi
raw=$(stat -c %s "$dist/assets/$wasm")
gz=$(gzip -9 -c "$dist/assets/$wasm" | wc -c)
step "done: $dist (wasm $((raw / 1024)) KiB, $((gz / 1024)) KiB gzipped)"
