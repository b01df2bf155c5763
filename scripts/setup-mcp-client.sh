#!/usr/bin/env bash
# A real MCP client for the tests of `choir mcp`: the `mcp` package from PyPI (pinned) in a
# virtualenv under ~/.cache/choir-test. Idempotent; prints the Python to use.
set -euo pipefail

MCP_VERSION=2.3.0
venv="${CHOIR_MCP_VENV:-$HOME/.cache/choir-test/mcp-venv}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import mcp, importlib.metadata as m; assert m.version('mcp') == '$MCP_VERSION'" 2>/dev/null; then
  exit 0
fi
echo "setup: installing the MCP client (PyPI mcp==$MCP_VERSION) into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION"
