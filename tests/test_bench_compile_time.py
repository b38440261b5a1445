"""Smoke test of benchmarks/compile_time.py: the cold child compiles, the warm child sharing
its cache compiles nothing and starts faster (conv2d at tiny shapes: two kernels, ~2 s)."""

import json
import subprocess
import sys
from pathlib import Path

COMPILE_TIME_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "compile_time.py"


def test_cold_cache_compiles_and_warm_cache_loads(tmp_path):
    out = tmp_path / "compile_time.json"
    done = subprocess.run([sys.executable, str(COMPILE_TIME_PY), "--only", "conv2d", "--tiny",
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "vs warm" in done.stdout and "conv2d first call" in done.stdout
    rows = {r["impl"]: r for r in json.loads(out.read_text())["results"]}
    cold, warm = rows["cold cache"], rows["warm cache"]
    assert cold["extra"]["top_compiles"] >= 2  # im2col and col2im at least
    assert cold["extra"]["compiles"] >= cold["extra"]["top_compiles"]
    assert warm["extra"]["compiles"] == 0  # everything came from the disk cache
    assert 0 < warm["median_ms"] < cold["median_ms"]
    assert cold["extra"]["steady_ms"] > 0 and warm["extra"]["steady_ms"] > 0


def test_unknown_workload_is_an_error():
    done = subprocess.run([sys.executable, str(COMPILE_TIME_PY), "--only", "gan"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown workload(s) ['gan']" in done.stderr
