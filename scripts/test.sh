#!/usr/bin/env bash
# Run every check CI runs: set up .venv, then the nox sessions (tests of each package, cross-package tests,
# typing, lint, mypy --strict, codegen --check, docs build, a clean install of core).
# Usage: bash scripts/test.sh [nox session ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
.venv/bin/nox --no-venv ${1:+-s "$@"} 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every pytest session.
count() {  # sum "N <word>" over pytest's closing lines ("12 passed, 1 skipped in 3.2s")
  { grep -E ' in [0-9.]+s' "$log" || true; } | { grep -oE "[0-9]+ $1" || true; } | awk '{s += $1} END {print s + 0}'
}
passed=$(count passed)
failed=$(( $(count failed) + $(count errors?) ))
skipped=$(count skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
