#!/bin/sh
# Installs the third-party artefacts the tests check our GitHub integration against (tests/peers/package.json):
# GitHub's webhook example payloads (@octokit/webhooks-examples) and its OpenAPI description (@octokit/openapi);
# Bitbucket Cloud's API, as its OpenAPI document describes it, in @coderabbitai/bitbucket (generated from that document).
# `npm ci` only when package-lock.json changed since the last install. Needs npm (Node.js); the tests that read
# them fail saying to run this script when they are missing.
set -eu
cd "$(dirname "$0")/../tests/peers"
if ! command -v npm >/dev/null 2>&1; then
  echo "test-peers: npm is missing: install Node.js (see README, 'Web UI'), then run scripts/test-peers.sh" >&2
  exit 1
fi
stamp=node_modules/.installed-from-lock
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "test-peers: npm ci (GitHub's webhook examples and OpenAPI description)…"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
