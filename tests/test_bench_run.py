"""Smoke test of benchmarks/run.py: a tiny subset end to end (worker processes, table, JSON,
plot), and the pieces that turn rows into ratios and goals."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import benchmark_script

RUN_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run_module():
    with benchmark_script("run.py", "bench_run") as module:
        yield module


def test_tiny_subset_runs_and_writes_json_and_plot(tmp_path):
    out, png = tmp_path / "run.json", tmp_path / "ratios.png"
    done = subprocess.run(
        [sys.executable, str(RUN_PY), "--tiny", "--only", "mlp,maxpool,autograd",
         "--json", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "vs torch" in done.stdout and "other processes took" in done.stdout
    payload = json.loads(out.read_text())
    meta, rows = payload["meta"], payload["results"]
    assert meta["mode"] == "tiny" and meta["workloads"] == ["mlp", "maxpool", "autograd"]
    assert meta["one_process_per_workload"] and "cpu_share_of_other_processes" in meta
    found = {(r["name"], r["impl"]) for r in rows}
    for impl in ("tinygrad_edu", "torch", "numpy floor"):
        assert ("MLP 784-128-10 step (Adam)", impl) in found
        assert ("tiny op fwd+bwd", impl) in found
    for impl in ("tinygrad_edu[reference]", "tinygrad_edu[numba]", "torch", "numpy floor"):
        assert ("max_pool2d 2x2 fwd+bwd", impl) in found  # one row per kernel setting
    for r in rows:
        assert r["median_ms"] > 0 and 0 < r["min_ms"] <= r["median_ms"] and r["repeats"] >= 1
        assert r["extra"]["cpu_ms"] > 0 and r["extra"]["faults"] >= 0
        if r["impl"].startswith("tinygrad_edu"):
            assert r["extra"]["vs_torch"] > 0 and r["extra"]["vs_floor"] > 0
    assert {r["extra"].get("unit") for r in rows if r["name"].startswith("tiny op")} == {"us/op"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_workload_is_refused(run_module, capsys):
    with pytest.raises(SystemExit):
        run_module.parse_args(["--only", "mlp,resnet"])
    assert "unknown workload(s) ['resnet']" in capsys.readouterr().err


def test_rounds_merge_into_medians_of_medians(run_module, capsys):
    Timing = run_module.Timing

    def round_(ours, peer, unit_extra):
        return [Timing("tiny op fwd+bwd", "tinygrad_edu", "s", ours, ours / 2, 4,
                       {"cpu_ms": ours, "unit": "us/op", **unit_extra}),
                Timing("tiny op fwd+bwd", "torch", "s", peer, peer / 2, 4, {"cpu_ms": peer})]

    # the machine ran slow in round 2: every implementation moved, the medians ignore it
    rounds = [round_(5.0, 4.0, {"faults": 1}), round_(9.0, 8.0, {"faults": 3}),
              round_(4.6, 4.2, {"faults": 2})]
    rows = run_module.merge_rounds(rounds)
    assert [(r.impl, r.median_ms, r.min_ms, r.repeats) for r in rows] == [
        ("tinygrad_edu", 5.0, 2.3, 12), ("torch", 4.2, 2.0, 12)]
    assert rows[0].extra == {"cpu_ms": 5.0, "unit": "us/op", "faults": 2, "rounds": 3}
    run_module.add_ratios(rows)
    assert rows[0].extra["vs_torch"] == round(5.0 / 4.2, 3)
    assert run_module.merge_rounds([rounds[0]]) is rounds[0]  # one round: as measured
    with pytest.raises(SystemExit):
        run_module.parse_args(["--rounds", "0"])
    assert "--rounds must be at least 1" in capsys.readouterr().err


def test_ratios_and_goals(run_module):
    Timing = run_module.Timing
    rows = [
        Timing("LSTM fwd+bwd", "tinygrad_edu", "s", 30.0, 28.0, 5, {"cpu_ms": 30.0}),
        Timing("LSTM fwd+bwd", "torch", "s", 10.0, 9.0, 5, {"cpu_ms": 10.0}),
        Timing("LSTM fwd+bwd", "numpy floor", "s", 20.0, 19.0, 5, {"cpu_ms": 25.0}),
        Timing("MLP 784-128-10 step (Adam)", "tinygrad_edu", "s", 1.0, 1.0, 5, {}),
        Timing("MLP 784-128-10 step (Adam)", "torch", "s", 1.25, 1.0, 5, {}),
    ]
    run_module.add_ratios(rows)
    assert rows[0].extra["vs_torch"] == 3.0 and rows[0].extra["vs_floor"] == 1.5
    assert rows[0].extra["cpu_vs_floor"] == 1.2
    assert "vs_torch" not in rows[1].extra  # the peer is not compared with itself
    goals = {(g["workload"], g["vs"]): g for g in run_module.check_goals(rows)}
    assert not goals[("LSTM fwd+bwd", "torch")]["met"]
    assert not goals[("LSTM fwd+bwd", "floor")]["met"]
    assert goals[("MLP 784-128-10 step (Adam)", "torch")]["met"]  # 0.8x <= 1.0x


def test_goals_of_some_shapes_only(run_module):
    """Attention's goal is set at T=512 only; conv2d's holds for both shapes."""
    Timing = run_module.Timing
    rows = []
    for name, shape, ours in [("attention fwd+bwd", "B8 nh4 T128 hs64", 3.0),
                              ("attention fwd+bwd", "B8 nh4 T512 hs64", 1.1),
                              ("conv2d fwd+bwd", "64x3", 1.0), ("conv2d fwd+bwd", "64x32", 2.0)]:
        rows += [Timing(name, "tinygrad_edu[numba]", shape, ours, ours, 5, {}),
                 Timing(name, "torch", shape, 1.0, 1.0, 5, {})]
    run_module.add_ratios(rows)
    goals = [(g["workload"], g["shape"], g["met"]) for g in run_module.check_goals(rows)]
    assert goals == [("conv2d fwd+bwd", "64x3", True), ("conv2d fwd+bwd", "64x32", False),
                     ("attention fwd+bwd", "B8 nh4 T512 hs64", True)]


def test_gpu_goals_are_the_issues_gpu_goal(run_module):
    """On a GPU the issue sets one goal: the LeNet step within 2x of torch CUDA."""
    Timing = run_module.Timing
    rows = [
        Timing("LeNet-5 train step (Adam)", "tinygrad_edu[cuda]", "s", 3.6, 3.5, 5, {}),
        Timing("LeNet-5 train step (Adam)", "torch", "s", 2.0, 1.9, 5, {}),
        Timing("MLP 784-128-10 step (Adam)", "tinygrad_edu", "s", 2.0, 2.0, 5, {}),
        Timing("MLP 784-128-10 step (Adam)", "torch", "s", 1.0, 1.0, 5, {}),
    ]
    run_module.add_ratios(rows)
    goals = run_module.check_goals(rows, "cuda")
    assert [(g["workload"], g["goal"], g["met"]) for g in goals] == [
        ("LeNet-5 train step (Adam)", 2.0, True)]  # 1.8x; the CPU goals are not applied


def test_floors_compute_the_same_gradients_as_the_library(run_module):
    """The hand-written NumPy floors do the same math: check two of them against autograd."""
    import numpy as np

    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rng = np.random.default_rng(0)
    q, k, v, dout = (rng.standard_normal((1, 2, 5, 4)) for _ in range(4))
    out, dq, dk, dv = run_module.np_attention_fwd_bwd(np, q, k, v, dout)
    Q, K, V = (tg.tensor(a, requires_grad=True) for a in (q, k, v))
    y = F.scaled_dot_product_attention(Q, K, V)
    y.backward(tg.tensor(dout))
    for ours, theirs in ((out, y), (dq, Q.grad), (dk, K.grad), (dv, V.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-6, atol=1e-9)

    x, dy = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 4, 6, 6))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    y, cache = run_module.np_conv2d_forward(np, x, w, b, pad=1)
    dx, dw, db = run_module.np_conv2d_backward(np, dy, cache)
    X, W, B = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    Y = F.conv2d(X, W, B, padding=1)
    Y.backward(tg.tensor(dy))
    for ours, theirs in ((y, Y), (dx, X.grad), (dw, W.grad), (db, B.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kernel", ["reference", "numba"])
def test_bounded_floor_convolution_is_conv2d_in_chunks(run_module, kernel):
    """KernelLayers' conv2d with an im2col budget (the bounded LeNet-5 floor: the batch in
    chunks, the columns made again in the backward) computes what conv2d and the floor that
    keeps its columns compute, on a batch whose last chunk is shorter."""
    import numpy as np

    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    dy = rng.standard_normal((5, 4, 7, 6)).astype(np.float32)
    per_sample = 3 * 3 * 3 * 7 * 6 * 4  # bytes of one sample's columns
    kept = run_module.KernelLayers(np, kernel)
    bounded = run_module.KernelLayers(np, kernel, im2col_budget=2 * per_sample)
    assert [(s.start, s.stop) for s in bounded._chunks(x.shape, 3, 3, 7, 6, 4)] == \
        [(0, 2), (2, 4), (4, 5)]
    X, W, B = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    Y = F.conv2d(X, W, B, padding=1)
    Y.backward(tg.tensor(dy))
    for layers in (kept, bounded):
        y, cache = layers.conv2d_forward(x, w, b, pad=1)
        dx, dw, db = layers.conv2d_backward(dy, cache)
        for ours, theirs in ((y, Y), (dx, X.grad), (dw, W.grad), (db, B.grad)):
            np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=2e-5, atol=2e-5)
    _, cache = bounded.conv2d_forward(x, w, b, pad=1)
    assert cache[2] is None  # nothing kept but x
    dx, dw, _ = bounded.conv2d_backward(dy, cache, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, W.grad.numpy(), rtol=2e-5, atol=2e-5)


def test_goals_list_each_rounds_ratio(run_module, capsys):
    """With several rounds, each goal carries its ratio in every round alone and how many
    rounds met it; the verdict is still the median's."""
    Timing = run_module.Timing

    def round_(ours, peer):
        return [Timing("tiny op fwd+bwd", "tinygrad_edu", "s", ours, ours, 4, {}),
                Timing("tiny op fwd+bwd", "torch", "s", peer, peer, 4, {})]

    rounds = [round_(0.97, 1.0), round_(1.05, 1.0), round_(2.02, 2.0)]
    rows = run_module.merge_rounds(rounds)
    run_module.add_ratios(rows)
    goals = run_module.check_goals(rows)
    run_module.add_round_ratios(goals, rounds)
    (goal,) = goals
    assert goal["ratio"] == round(1.05 / 1.0, 3) and not goal["met"]  # medians 1.05 / 1.0
    assert goal["round_ratios"] == [0.97, 1.05, 1.01] and goal["rounds_met"] == 1
    assert "vs_torch" not in rounds[0][0].extra  # the measured rows are left as they were
    run_module.print_goals(goals)
    assert "1.05x  NOT met  (rounds 0.97 1.05 1.01: 1 of 3)" in capsys.readouterr().out
    one = run_module.check_goals(rows)
    run_module.add_round_ratios(one, rounds[:1])  # one round: nothing to add
    assert "round_ratios" not in one[0]
