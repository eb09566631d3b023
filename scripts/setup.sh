#!/usr/bin/env bash
# Create (or update) the shared development environment .venv: every package editable, torch CPU, dev tools.
# Usage: bash scripts/setup.sh        (Python 3.11+ and pip required)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# torch is pinned exactly: this CPU build is the one that installs without GBs of CUDA wheels.
"${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
"${PIP[@]}" install -r requirements-dev.txt -e packages/hubmixin-core -e packages/hubmixin-torch -e examples/downstream 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import hubmixin_core, hubmixin_torch, torch; print('hubmixin dev environment ready: torch', torch.__version__)"
