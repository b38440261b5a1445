"""Every attention CUDA kernel compiles to PTX for sm_90, in float32 and float64.

The simulator runs kernels as Python, so it cannot catch what only the real compiler sees
(typing of the device code, unsupported calls, a float32 kernel silently doing float64 math).
Under NUMBA_ENABLE_CUDASIM=1 ``numba.cuda.compile_ptx`` is not available, so the compiles run in
subprocesses without that variable (one per dtype; they need the CUDA toolkit's NVVM, not a
GPU).
"""

import importlib
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# f64 arithmetic in a float32 kernel means a literal or a helper promoted the math to double
F64_MATH = re.compile(r"^\s*(?:add|sub|mul|div|fma|max|min|ex2|lg2|neg|abs)[.\w]*\.f64\b", re.M)

COMPILE_SCRIPT = r"""
import importlib, json, re, sys
from numba import cuda
module = importlib.import_module(sys.argv[1])
f64_math = re.compile(sys.argv[2], re.M)
results = {}
for name, entries in module.PTX_SIGNATURES.items():
    for fn, sig in entries:
        dtype = str(sig.args[0].dtype)
        if dtype != sys.argv[3]:
            continue
        try:
            ptx, _ = cuda.compile_ptx(fn, sig, cc=(9, 0))
        except Exception as exc:
            results[f"{name}/{dtype}"] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        results[f"{name}/{dtype}"] = {
            "sm_90": ".target sm_90" in ptx,
            "f64_math": len(f64_math.findall(ptx)),
        }
print(json.dumps(results))
"""


def _cuda_module_name():
    for package in ("tinygrad_edu.kernels", "kernels"):
        try:
            importlib.import_module(package)
            return package + ".cuda.attention"
        except Exception:  # noqa: BLE001  (a half-built tinygrad_edu must not hide the kernels)
            continue
    sys.path.insert(0, str(ROOT))
    return "kernels.cuda.attention"


MODULE_NAME = _cuda_module_name()
cu = importlib.import_module(MODULE_NAME)


def _compile_here():
    """compile_ptx in this process (real CUDA mode), same result format as the subprocess."""
    from numba import cuda

    results = {}
    for name, entries in cu.PTX_SIGNATURES.items():
        for fn, sig in entries:
            key = f"{name}/{sig.args[0].dtype}"
            try:
                ptx, _ = cuda.compile_ptx(fn, sig, cc=(9, 0))
            except Exception as exc:  # noqa: BLE001
                results[key] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            results[key] = {"sm_90": ".target sm_90" in ptx, "f64_math": len(F64_MATH.findall(ptx))}
    return results


@pytest.fixture(scope="module")
def ptx_results():
    """{'kernel/dtype': {'sm_90': bool, 'f64_math': int} or {'error': str}} for all kernels."""
    from numba import cuda

    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1" and callable(
        getattr(cuda, "compile_ptx", None)
    ):
        return _compile_here()
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # one subprocess per dtype, side by side
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COMPILE_SCRIPT, MODULE_NAME, F64_MATH.pattern, dtype],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for dtype in ("float32", "float64")
    ]
    results = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"PTX compile subprocess failed (rc {proc.returncode}):\n{stderr}")
        results.update(json.loads(stdout.strip().splitlines()[-1]))
    return results


@pytest.mark.parametrize("name", sorted(cu.PTX_SIGNATURES))
def test_kernel_compiles_to_ptx_for_sm90(ptx_results, name):
    for dtype in ("float32", "float64"):
        result = ptx_results[f"{name}/{dtype}"]
        assert "error" not in result, f"{name} ({dtype}): {result.get('error')}"
        assert result["sm_90"], f"{name} ({dtype}): PTX does not target sm_90"
        if dtype == "float32":
            assert result["f64_math"] == 0, f"{name}: float32 kernel does float64 arithmetic"


def test_every_jitted_kernel_has_ptx_signatures():
    """The names the launchers jit kernels by (``_jit(name, ...)``), each in both dtypes."""
    assert set(cu.PTX_SIGNATURES) == {
        "naive_scores",
        "naive_bmm",
        "naive_probs_from_lse",
        "naive_dscores",
        "rowdot",
        "softmax_rows",
        "flash_forward",
        "flash_backward_dkdv",
        "flash_backward_dq",
    }
    for name, entries in cu.PTX_SIGNATURES.items():
        dtypes = [str(sig.args[0].dtype) for _, sig in entries]
        assert dtypes == ["float32", "float64"], name
