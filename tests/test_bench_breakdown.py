"""Smoke test of benchmarks/step_breakdown.py: every phase of both models, both sides, with
call counts and the time inside op methods, in a subprocess (it fixes malloc thresholds and
thread counts process-wide)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BREAKDOWN_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "step_breakdown.py"


def test_tiny_breakdown_times_and_counts_every_phase(tmp_path):
    out = tmp_path / "breakdown.json"
    done = subprocess.run([sys.executable, str(BREAKDOWN_PY), "--tiny", "--calls", "--ops",
                           "--batch", "4", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "framework us" in done.stdout and "mlp backward" in done.stdout
    rows = json.loads(out.read_text())["results"]
    by_key = {(r["name"], r["impl"]): r for r in rows}
    for model in ("mlp", "lenet"):
        phases = {}
        for phase in ("forward", "loss", "backward", "optimizer", "step"):
            for impl in ("tinygrad_edu", "numpy floor"):
                row = by_key[(f"{model} {phase}", impl)]
                assert 0 < row["min_ms"] <= row["median_ms"], (model, phase, impl)
                assert row["extra"]["calls"] > 0
                phases[(phase, impl)] = row
            # --ops: the time inside op methods, for tinygrad_edu's side only; the optimizer
            # runs no op (its updates are array code under no_grad)
            in_ops = by_key[(f"{model} {phase}", "tinygrad_edu")]["extra"]["in_ops_us"]
            assert (in_ops == 0) if phase == "optimizer" else (in_ops > 0)
            assert "in_ops_us" not in by_key[(f"{model} {phase}", "numpy floor")]["extra"]
        for impl in ("tinygrad_edu", "numpy floor"):  # the step is the sum of its phases
            parts = sum(phases[(p, impl)]["extra"]["calls"]
                        for p in ("forward", "loss", "backward", "optimizer"))
            assert phases[("step", impl)]["extra"]["calls"] == pytest.approx(parts, abs=0.5)
        # the framework runs more Python than the hand-written floor, in every phase
        assert all(phases[(p, "tinygrad_edu")]["extra"]["calls"]
                   > phases[(p, "numpy floor")]["extra"]["calls"]
                   for p in ("forward", "loss", "backward"))
