"""Every conv / pool / optim / activation ``@cuda.jit`` kernel compiles to sm_90 PTX, for
float32 and float64.

This catches what the simulator cannot: code that runs as Python in the simulator but that
Numba cannot type or lower for a real GPU.  It also checks that the float32 versions contain no
float64 arithmetic (a stray ``0.0`` or ``math.inf`` silently promotes to double precision,
which is much slower on most GPUs).

The simulator replaces ``cuda.jit`` with a Python stand-in that cannot produce PTX, so the
compilation runs in one subprocess with ``NUMBA_ENABLE_CUDASIM`` removed from its environment
(compile_ptx needs no GPU, only the NVVM library of the CUDA toolkit wheels).  Kernel names and
signatures come from each module's ``PTX_SIGNATURES`` {kernel name: [float32 sig, float64 sig]};
the subprocess also reports any ``@cuda.jit`` kernel missing from that dict.
"""

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MODULES = ["tinygrad_edu.kernels.cuda.conv", "tinygrad_edu.kernels.cuda.pool",
           "tinygrad_edu.kernels.cuda.optim", "tinygrad_edu.kernels.cuda.activation"]

# (module, kernel, dtype index) known at collection time; PTX_SIGNATURES is plain data, so
# reading it under the simulator is fine
CASES = [
    (module, kernel, which)
    for module in MODULES
    for kernel in importlib.import_module(module).PTX_SIGNATURES
    for which in (0, 1)
]

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys
    from numba import cuda
    from numba.cuda.dispatcher import CUDADispatcher

    report = {"kernels": {}, "missing": {}}
    for module_name in sys.argv[1:]:
        module = importlib.import_module(module_name)
        jitted = sorted(  # kernels; device functions are compiled into the kernels' PTX
            name for name, obj in vars(module).items()
            if isinstance(obj, CUDADispatcher) and not obj.targetoptions.get("device")
        )
        report["missing"][module_name] = [k for k in jitted if k not in module.PTX_SIGNATURES]
        for kernel, signatures in module.PTX_SIGNATURES.items():
            for which, signature in enumerate(signatures):
                key = f"{module_name}:{kernel}:{which}"
                try:
                    ptx, _ = cuda.compile_ptx(
                        getattr(module, kernel).py_func, signature, cc=(9, 0)
                    )
                except Exception as exc:  # reported per kernel by the test
                    report["kernels"][key] = {"error": f"{type(exc).__name__}: {exc}"}
                    continue
                report["kernels"][key] = {
                    "signature": signature,
                    "sm_90": ".target sm_90" in ptx,
                    "entry": ".entry" in ptx,
                    "f64_lines": [l.strip() for l in ptx.splitlines() if ".f64" in l][:5],
                }
    print("PTX-REPORT " + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def ptx_report():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *MODULES],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PTX-REPORT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        if "NvvmSupportError" in tail or "libNVVM cannot be found" in tail:
            pytest.skip(f"the CUDA toolkit's NVVM library is not installed:\n{tail}")
        pytest.fail(f"PTX compile subprocess failed (rc={proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len("PTX-REPORT ") :])


@pytest.mark.parametrize(
    "module, kernel, which",
    CASES,
    ids=[f"{m.rsplit('.', 1)[1]}.{k}-{('float32', 'float64')[w]}" for m, k, w in CASES],
)
def test_kernel_compiles_to_sm90_ptx(ptx_report, module, kernel, which):
    result = ptx_report["kernels"][f"{module}:{kernel}:{which}"]
    assert "error" not in result, f"{kernel}: {result.get('error')}"
    assert result["sm_90"] and result["entry"], f"{kernel}: no sm_90 kernel entry in the PTX"
    if which == 0:  # the float32 version must not compute in float64
        assert not result["f64_lines"], (
            f"{kernel} float32 PTX contains float64 instructions (a float64 constant or "
            f"accumulator?): {result['f64_lines']}"
        )


def test_every_cuda_kernel_is_in_ptx_signatures(ptx_report):
    assert ptx_report["missing"] == {m: [] for m in MODULES}
