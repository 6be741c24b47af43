#!/usr/bin/env bash
# CI for the editor clients' own code: the VS Code extension is installed from its lock file,
# compiled, linted and unit-tested, then packaged as a .vsix. (The Neovim plugin is tested
# end-to-end against the real server by pytest: tests/editors/.)
# Prints PASS/FAIL per step and exits non-zero on the first failure.
set -uo pipefail
cd "$(dirname "$0")/vscode"

if ! command -v npm >/dev/null 2>&1; then
  echo "editors/ci.sh: FAIL: npm not found (Node.js 20+ is needed to build the VS Code extension)" >&2
  exit 1
fi

step() {
  local name="$1"; shift
  local started=$SECONDS
  echo "==> editors: $name"
  if "$@"; then
    echo "PASS editors: $name ($((SECONDS - started)) s)"
  else
    local rc=$?
    echo "FAIL editors: $name (exit $rc)" >&2
    exit "$rc"
  fi
}

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
step "npm ci" npm ci --no-progress
step "compile (tsc)" npm run --silent compile
step "lint (tsc --noEmit + eslint)" npm run --silent lint
step "unit tests (node --test)" npm test --silent
step "package (vsce)" npm run --silent package
test -s codet5p-lsp.vsix || { echo "FAIL editors: codet5p-lsp.vsix was not written" >&2; exit 1; }
echo "PASS editors: built $(pwd)/codet5p-lsp.vsix ($(wc -c < codet5p-lsp.vsix) bytes)"
