#!/bin/sh
# Builds or tests the web UI in frontend/ (Vue 3 + Vite). Needs Node.js 20.19 or newer (Vite 7);
# without it, prints why and what to do, and exits 0 so the rest of `make run` / `make test`
# goes on (the server then answers UI pages with "run make frontend").
#   scripts/frontend.sh build   npm ci (when the lock file changed) + npm run build → frontend/dist
#   scripts/frontend.sh test    npm ci (when the lock file changed) + lint + typecheck + vitest
set -eu
cd "$(dirname "$0")/../frontend"

if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  found="$(node --version 2>/dev/null | head -n 1 || true)"
  [ -n "$found" ] || found="no node"
  echo "frontend: SKIPPED — Node.js 20.19 or newer is needed, found: $found." >&2
  echo "frontend: install Node.js 20 (see README, 'Web UI'), then run 'make frontend'." >&2
  exit 0
fi

# npm ci wipes node_modules: only when package-lock.json changed since the last install.
stamp=node_modules/.installed-from-lock
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "frontend: npm ci (installing the pinned packages)…"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi

case "${1:-build}" in
  build)
    echo "frontend: building into frontend/dist…"
    npm run build
    ;;
  test)
    echo "frontend: eslint + prettier…"
    npm run lint
    echo "frontend: vue-tsc…"
    npm run typecheck
    echo "frontend: vitest…"
    npm test
    ;;
  *)
    echo "usage: scripts/frontend.sh build|test" >&2
    exit 2
    ;;
esac
