# Source this file (`. .ci/node22.sh`) to get Node >= 22 on PATH. When the machine's
# Node is older, Node 22 comes from the npm registry's `node@22` package into
# .tools/node22 (no other download), and node-gyp is pointed at that package's own
# headers so native modules (better-sqlite3) build for the Node that runs them.
_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_node_major)" -lt 22 ]; then
  _root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  _dir="$_root/.tools/node22"
  if [ ! -x "$_dir/node_modules/.bin/node" ]; then
    echo "Node $(node -v 2>/dev/null || echo none) is too old: installing node@22 into .tools/node22" >&2
    npm install --prefix "$_dir" --no-save --no-package-lock --loglevel=error node@22 >&2
  fi
  export PATH="$_dir/node_modules/.bin:$PATH"
  _headers="$(find "$_dir/node_modules" -path '*/include/node/node_api.h' -print -quit)"
  if [ -n "$_headers" ]; then
    export npm_config_nodedir="${_headers%/include/node/node_api.h}"
  fi
  unset _root _dir _headers
fi
unset -f _node_major
