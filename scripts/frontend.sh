#!/bin/sh
# Builds or tests the web UI in frontend/ (Vue 3 + Vite). Needs Node.js 20.19 or newer (Vite 7);
# without it, prints why and what to do, and exits 0 so the rest of `make run` / `make test`
# goes on (the server then answers UI pages with "run make frontend").
#   scripts/frontend.sh build         npm ci (when the lock file changed) + types + npm run build → frontend/dist
#   scripts/frontend.sh test          npm ci (when the lock file changed) + lint + typecheck + vitest
#   scripts/frontend.sh types         regenerate src/api/schema.d.ts from the API's OpenAPI document
#   scripts/frontend.sh check-types   fail when the committed src/api/schema.d.ts differs from a fresh one
# `types` needs the project's venv (make's $(VENV)/.runtime): the document comes from `manage.py spectacular`.
set -eu
cd "$(dirname "$0")/../frontend"
PYTHON="${PYTHON:-../.venv/bin/python}"
SCHEMA_TYPES=src/api/schema.d.ts

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

# The API's OpenAPI document (drf-spectacular) → TypeScript types (openapi-typescript, pinned in package.json), in $1.
# --array-length: an array the API always sends empty (`maxItems: 0`) becomes the type `[]`.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
generate_types() {
  "$PYTHON" ../manage.py spectacular --format openapi-json --file "$scratch/openapi.json"
  npx --no-install openapi-typescript "$scratch/openapi.json" --array-length --output "$scratch/schema.d.ts" >/dev/null
  {
    echo "// Generated from the API's OpenAPI document (GET /api/schema/) by \`make frontend-types\`: do not edit."
    echo "// The UI's named types are in types.ts; \`make checks\` fails when this file is out of date."
    cat "$scratch/schema.d.ts"
  } >"$1"
}

case "${1:-build}" in
  build)
    echo "frontend: generating $SCHEMA_TYPES from the API's OpenAPI document…"
    generate_types "$SCHEMA_TYPES"
    echo "frontend: building into frontend/dist…"
    npm run build
    ;;
  types)
    generate_types "$SCHEMA_TYPES"
    echo "frontend: wrote frontend/$SCHEMA_TYPES"
    ;;
  check-types)
    generate_types "$scratch/fresh.d.ts"
    if ! cmp -s "$scratch/fresh.d.ts" "$SCHEMA_TYPES"; then
      diff -u "$SCHEMA_TYPES" "$scratch/fresh.d.ts" | head -n 40 >&2 || true
      echo "frontend/$SCHEMA_TYPES is out of date: run make frontend-types" >&2
      exit 1
    fi
    echo "frontend: $SCHEMA_TYPES is current"
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
    echo "usage: scripts/frontend.sh build|test|types|check-types" >&2
    exit 2
    ;;
esac
