#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU, CuPy, numba-cuda and torch already installed
# (nothing is downloaded). Runs, each step under its own time limit and logging to $LOGS:
#   1. the default test run with the real GPU (CuPy backend, real Numba-CUDA kernels: the
#      conftest switches the simulator off when CuPy sees a device),
#   2. the kernel benchmarks and the end-to-end suite on the GPU, against torch CUDA,
#   3. the main job (LeNet on MNIST) on the GPU.
# Usage: bash scripts/gpu_check.sh [LOGDIR] [STEPS]   STEPS: any of "tests bench train" (all)
# Data: point TINYGRAD_EDU_DATA at a folder with mnist/*.gz (and rt-sentiment/) when the data
# packages are not installed. NumPy 2.5 breaks numba-cuda 0.30 (np.row_stack is gone): on such a
# machine put a NumPy 2.4 wheel first on PYTHONPATH (pip install --target DIR numpy-2.4.*.whl).
set -uo pipefail
LOGS=${1:-gpu_logs}
STEPS=${2:-"tests bench train"}
PY=${PYTHON:-python3}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1
status=0

"$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . >"$LOGS/install.log" 2>&1 \
    || { cat "$LOGS/install.log"; exit 1; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$PY" -c "import cupy, numba, numba_cuda, numpy, torch; print('cupy', cupy.__version__, \
'numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'numpy', numpy.__version__, \
'torch', torch.__version__)"; } 2>&1 | tee "$LOGS/versions.log"

step() {  # step NAME SECONDS CMD...: run CMD with a time limit, log it, remember a failure
    local name=$1 limit=$2; shift 2
    echo "=== $name ($*)"
    local t0=$SECONDS
    timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
    local rc=$?
    echo "=== $name: exit $rc in $((SECONDS - t0)) s"
    tr "\r" "\n" <"$LOGS/$name.log" | tail -n 25
    [ "$rc" -eq 0 ] || status=1
}

if [[ " $STEPS " == *" tests "* ]]; then
    workers=$(( $(nproc) > 8 ? 8 : $(nproc) ))
    step tests "${TEST_LIMIT:-330}" "$PY" -m pytest -m "not slow" -q --maxfail=60 -p no:cacheprovider \
        -n "$workers" --ignore=tests/test_notebooks.py ${PYTEST_ARGS:-}
fi
if [[ " $STEPS " == *" bench "* ]]; then
    step bench_kernels 150 "$PY" benchmarks/bench_kernels.py --device cuda --quick \
        --json "$LOGS/bench_kernels.json"
    step bench_run 200 "$PY" benchmarks/run.py --device cuda --quick --json "$LOGS/bench_run.json"
fi
if [[ " $STEPS " == *" train "* ]]; then
    step train 150 "$PY" -m tinygrad_edu.cli train lenet --dataset mnist --epochs 1 --device cuda
fi
exit $status
