#!/usr/bin/env bash
# Create (or update) the shared development environment .venv: every package editable (packages/*, the test-only
# tests/packages/*, examples/downstream), torch CPU, dev tools.
# Usage: bash scripts/setup.sh        (Python 3.11+ and pip required)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
step() { echo "setup: [${SECONDS}s] $*"; }
pip_install() {  # pip install, minus its "WARNING: Location ... is ignored" noise; fails when pip fails
  .venv/bin/python -m pip --disable-pip-version-check -q install "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
}

shopt -s nullglob
packages=()   # every folder with a pyproject.toml under packages/ and tests/packages/
for pyproject in packages/*/pyproject.toml tests/packages/*/pyproject.toml; do packages+=("${pyproject%/*}"); done

if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
step "upgrading pip"
pip_install --upgrade pip
# torch first, with pip, pinned exactly: this CPU build is the one that installs without GBs of CUDA wheels.
step "installing torch==2.13.0 (CPU)"
pip_install "torch==2.13.0"
step "installing ${packages[*]} examples/downstream (editable) and the dev tools"
editable=()
for package in "${packages[@]}" examples/downstream; do editable+=(-e "$package"); done
pip_install -r requirements-dev.txt "${editable[@]}"

step "checking imports"
modules=()   # import name = dist folder name with - -> _ (packages/* only: tests/packages/* may differ)
for package in "${packages[@]}"; do
  case "$package" in packages/*) name=$(basename "$package"); modules+=("${name//-/_}") ;; esac
done
.venv/bin/python - "${modules[@]}" <<'EOF'
import importlib, sys
import torch
for name in sys.argv[1:]:
    importlib.import_module(name)
print("hubmixin dev environment ready:", ", ".join(sys.argv[1:]) + "; torch", torch.__version__)
EOF
