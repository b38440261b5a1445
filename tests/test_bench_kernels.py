"""Smoke test of benchmarks/bench_kernels.py: the quick run on the tiniest sizes.

Runs in this process (torch and numba are already imported here, which keeps it fast) and
checks the JSON: rows for every implementation of every family, finite numbers, small errors.
"""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
from tinygrad_edu.kernels.cpu import gemm

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_kernels.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_kernels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_kernels"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_writes_rows_for_every_implementation(tmp_path, capsys):
    bench = load_bench()
    out_json, out_png = tmp_path / "kernels.json", tmp_path / "kernels.png"
    assert bench.main(["--quick", "--json", str(out_json), "--plot", str(out_png)]) == 0
    assert "vs torch" in capsys.readouterr().out  # the table was printed
    assert out_png.stat().st_size > 0
    rows = json.loads(out_json.read_text())["results"]
    gpu = bench.real_gpu()
    by_family = {}
    for r in rows:
        by_family.setdefault(r["extra"]["family"], set()).add(r["impl"])
        assert math.isfinite(r["median_ms"]) and r["median_ms"] > 0, r
        assert math.isfinite(r["min_ms"]) and 0 < r["min_ms"] <= r["median_ms"], r
        err = r["extra"]["max_abs_err"]
        assert err is not None and math.isfinite(err) and err < 1e-3, r
        rate = r["extra"].get("GB/s", r["extra"].get("GFLOP/s"))
        assert rate is not None and math.isfinite(rate) and rate >= 0, r
    kernel_impls = {"reference", "numba", "torch"} | ({"cuda"} if gpu else set())
    op_impls = {"tinygrad_edu[reference]", "tinygrad_edu[numba]", "torch"}
    op_impls |= {"tinygrad_edu[cuda]"} if gpu else set()
    assert by_family["pool"] == kernel_impls | op_impls
    winograd = {"numba winograd", "numba im2col"} if gemm.NUMBA_GEMM else set()  # AVX-512
    assert by_family["conv"] == kernel_impls | op_impls | winograd
    assert by_family["optim"] == ({"reference", "numba", "torch", "torch[foreach]"}
                                  | ({"cuda"} if gpu else set()))
    # batch norm: no CUDA kernel (CuPy runs the composite ops); the op on every setting
    assert by_family["norm"] == {"reference", "numba", "torch"} | op_impls
    # cross entropy: no CUDA kernel; the op under the CPU settings
    assert by_family["loss"] == {"reference", "numba", "torch", "tinygrad_edu[reference]",
                                 "tinygrad_edu[numba]"}
    if bench.attention_module("cpu") is not None:  # another engineer's kernels, when present
        assert {"reference", "numba", "torch"} <= by_family["attention"]
