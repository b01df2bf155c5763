# Sourced by the scripts that run the browser tests: puts a Node.js of at least version 20 on
# PATH (playwright-core needs it). Debian 12's own nodejs is 18; then Node 20 comes from the
# npm registry (the `node` package) into ~/.cache/choir-node, once.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  prefix="${XDG_CACHE_HOME:-$HOME/.cache}/choir-node"
  if [ ! -x "$prefix/node_modules/.bin/node" ]; then
    echo "node-env: Node.js $(node --version 2>/dev/null || echo missing) is older than 20; installing node@20 from npm into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-save node@20 >&2
  fi
  PATH="$prefix/node_modules/.bin:$PATH"
  export PATH
  if [ "$(node_major)" -lt 20 ]; then
    echo "node-env: could not get Node.js 20 or newer (have $(node --version 2>/dev/null || echo none))" >&2
    exit 1
  fi
fi
