#!/usr/bin/env bash
# Run every check CI runs: set up .venv, then the nox sessions (tests of each package, cross-package tests,
# typing, lint, mypy --strict, codegen --check, docs build, a clean install of core).
# Usage: bash scripts/test.sh [nox session ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -gt 0 ]; then
  exec .venv/bin/nox --no-venv -s "$@"
fi
exec .venv/bin/nox --no-venv
