"""Review of the study tools: every number they print, against an independent computation.

Each test recomputes what a tool reports by hand (NumPy formulas, torch as an oracle, sleeps
of known length for the profiler) and checks that no tool leaves a hook behind.
"""

import io
import re
import time

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import backend
from tinygrad_edu.autograd import Config
from tinygrad_edu.cli import main
from tinygrad_edu.study import (
    BackwardTracer,
    GradientHealth,
    OpProfiler,
    build_graph,
    check_my_backward,
    eps_sweep,
    gradcheck_report,
    saved_tensor_ledger,
    to_text_tree,
    trace_backward,
)
from tinygrad_edu.study._layers import mlp
from tinygrad_edu.study.gradcheck_report import _compare_input


@pytest.fixture(autouse=True)
def _no_hooks_left():
    """Every test starts and ends with no study hook installed."""
    assert Config.hooks == ()
    yield
    leftover = Config.hooks
    Config.hooks = ()
    assert leftover == ()


def _gelu_kernels_available() -> bool:
    return backend.numba_float_kernels("activation", np.zeros(1, np.float32)) is not None


# ----------------------------------------------------------------------------------------------
# OpProfiler: times and counts
# ----------------------------------------------------------------------------------------------


class _Slow(tg.Function):
    """y = x;  dx = dy  (the forward sleeps 20 ms, the backward 30 ms and one Mul)"""

    def forward(self, x):
        time.sleep(0.02)
        return x.copy()

    def backward(self, dy):
        time.sleep(0.03)
        return dy * 1.0


def test_profiler_times_are_the_ops_own_times():
    x = tg.randn(3, requires_grad=True)
    with OpProfiler() as prof:
        _Slow.apply(x).sum().backward()
    slow = prof.stats[("_Slow", "cpu", "numpy")]
    assert slow.forward_calls == 1 and slow.backward_calls == 1
    assert 0.02 <= slow.forward_seconds < 0.02 + 0.05
    assert 0.03 <= slow.backward_seconds < 0.03 + 0.05  # the Mul inside is part of it
    inner = {op: s.inner_calls for (op, _, _), s in prof.stats.items() if s.inner_calls}
    assert inner.get("Mul") == 1  # dy * 1.0 ran inside _Slow's backward: counted apart
    assert prof.stats[("Mul", "cpu", "numpy")].total_seconds == 0.0  # ... not in the total
    total = sum(s.forward_seconds + s.backward_seconds for s in prof.stats.values())
    assert prof.total_seconds == pytest.approx(total)
    # the table prints the same numbers: ms with 3 decimals, and percentages of the total
    rows = {line.split()[0]: line.split() for line in prof.table().splitlines()[2:-1]}
    assert float(rows["_Slow"][4]) == pytest.approx(slow.forward_seconds * 1e3, abs=1e-3)
    assert float(rows["_Slow"][6]) == pytest.approx(slow.backward_seconds * 1e3, abs=1e-3)
    assert sum(float(r[9]) for r in rows.values()) == pytest.approx(100, abs=0.5)
    last = prof.table().splitlines()[-1]
    assert last == f"total {prof.total_seconds * 1e3:.3f} ms"


def test_profiler_counts_a_fused_ops_own_walk_as_inside_its_backward():
    """GELU's backward under create_graph differentiates its composite with a graph walk of
    its own: those nodes are part of GELU's backward, not nodes of the user's graph."""
    x = tg.randn(5, requires_grad=True)
    with OpProfiler() as prof:
        y = F.gelu(x).sum()
        (g,) = tg.grad(y, [x], create_graph=True)
    names = {"GELU", "Sum"} if _gelu_kernels_available() else set(prof.forward_counts())
    assert set(prof.backward_counts()) == names
    assert prof.backward_counts() == prof.forward_counts()
    if _gelu_kernels_available():
        (key,) = [k for k in prof.stats if k[0] == "GELU"]
        assert key[2] == "numba"  # the kernels it was handed, not "numpy"
    # and the second derivative through it is still right: d/dx GELU'(x) vs torch
    tx = torch.tensor(x.data, dtype=torch.float64, requires_grad=True)
    (tg1,) = torch.autograd.grad(torch.nn.functional.gelu(tx).sum(), tx, create_graph=True)
    np.testing.assert_allclose(g.data, tg1.detach().numpy(), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# saved_tensor_ledger: bytes, buffers, timeline
# ----------------------------------------------------------------------------------------------


def test_ledger_bytes_views_in_place_and_timeline_by_hand():
    w = tg.randn(3, 2, requires_grad=True)
    x = tg.randn(4, 3)

    def fn(x):
        h = x @ w  # MatMul keeps x (4, 3) and w (3, 2)
        h += 1.0  # Add keeps h before the update (same memory) and the constant ()
        v = h.reshape(8)  # Reshape keeps h; v is a view of h's memory
        return v.tanh().sum()  # Tanh keeps v and its output; Sum keeps the tanh

    ledger = saved_tensor_ledger(fn, x)
    assert [r.op for r in ledger.rows] == ["MatMul", "Add", "Reshape", "Tanh", "Sum"]
    f4 = 4
    rows = [(12 + 6) * f4, 8 * f4 + f4, 8 * f4, (8 + 8) * f4, 8 * f4]
    assert [r.nbytes for r in ledger.rows] == rows
    assert ledger.sum_bytes == sum(rows)
    # unique buffers: x, w, h (its view v and its earlier version share it), 1.0, tanh(v)
    assert ledger.total_bytes == (12 + 6 + 8 + 1 + 8) * f4
    assert ledger.activation_bytes == (8 + 8) * f4  # h and tanh(v)
    assert ledger.no_grad_saving_bytes == ledger.activation_bytes
    # timeline: a buffer counts from the first op that keeps it until the last one frees it
    forward = [18 * f4, 27 * f4, 27 * f4, 35 * f4, 35 * f4]
    backward = [35 * f4, 27 * f4, 27 * f4, 18 * f4, 0]
    assert [b for _, _, b in ledger.timeline] == forward + backward
    assert ledger.peak_bytes == 35 * f4
    text = str(ledger)
    assert f"{sum(rows)} B" in text and "peak                         140 B" in text


def test_ledger_matches_numpy_nbytes_of_a_module_and_no_grad_outside():
    model = mlp([5, 7, 3], "tanh", init="default")
    x = tg.randn(4, 5)
    with tg.no_grad():  # the ledger records with grad on, whatever the caller's mode
        ledger = saved_tensor_ledger(model, x)
    assert Config.grad_enabled
    by_op = {r.op: r for r in ledger.rows}
    weight_bytes = sum(p.data.nbytes for p in model.parameters())
    hidden = 4 * 7 * 4
    assert by_op["Tanh"].nbytes == 2 * hidden  # input and output
    assert ledger.total_bytes - ledger.activation_bytes == weight_bytes + x.data.nbytes
    assert ledger.activation_bytes == hidden + hidden  # first Linear's output and its tanh
    assert [r.where for r in ledger.rows] == ["0 (Linear)", "1 (Tanh)", "2 (Linear)"]


def test_ledger_leaves_no_hooks_after_an_exception():
    model = mlp([3, 2], "relu")

    def broken(x):
        model(x)
        raise ZeroDivisionError("inside the ledger")

    with pytest.raises(ZeroDivisionError):
        saved_tensor_ledger(broken, tg.randn(2, 3))
    assert Config.hooks == ()
    for module in model.modules():  # ModuleScope removed its forward hooks too
        assert not module._forward_hooks and not module._forward_pre_hooks


# ----------------------------------------------------------------------------------------------
# GradientHealth: gradient norms and update ratios against torch on the same weights
# ----------------------------------------------------------------------------------------------


def test_health_grad_norms_and_update_ratios_match_torch():
    model = mlp([6, 8, 8, 3], "sigmoid", init="default", seed=1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    target = rng.standard_normal((5, 3)).astype(np.float32)
    lr = 0.5
    torch_params = {name: torch.tensor(p.data.copy(), requires_grad=True)
                    for name, p in model.named_parameters()}
    health = GradientHealth(model)
    optimizer = health.wrap(tg.optim.SGD(model.parameters(), lr=lr))
    for step in range(2):
        loss = ((model(tg.tensor(x)) - tg.tensor(target)) ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        # the same step in torch
        h = torch.tensor(x)
        for k in (0, 2, 4):
            h = h @ torch_params[f"{k}.weight"].T + torch_params[f"{k}.bias"]
            h = torch.sigmoid(h) if k < 4 else h
        ((h - torch.tensor(target)) ** 2).mean().backward()
        with torch.no_grad():
            for name, p in torch_params.items():
                grad_norm = p.grad.double().norm().item()
                weight_norm = p.double().norm().item()
                assert health.grad_norms[name][step] == pytest.approx(grad_norm, rel=1e-5)
                assert health.weight_norms[name][step] == pytest.approx(weight_norm, rel=1e-6)
                change = (lr * p.grad.double()).norm().item()
                ratio = change / weight_norm if weight_norm else np.inf  # zero-init biases
                assert health.update_ratios[name][step] == pytest.approx(ratio, rel=1e-3)
                p -= lr * p.grad
                p.grad = None
    assert health.steps == [0, 1]
    first = health.summary().splitlines()
    assert first[0] == "gradient health at step 1"
    row = dict(zip(["parameter", "shape", "grad", "weight", "ratio"],
                   re.split(r"\s{2,}", first[3]), strict=True))
    assert float(row["grad"]) == pytest.approx(health.grad_norms["0.weight"][1], rel=1e-2)


def test_study_mlp_in_float64_with_batchnorm_casts_every_layer():
    model = mlp([4, 5, 3], "relu", init="he", dtype=np.float64, batchnorm=True)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model(tg.randn(6, 4, dtype=tg.float64)).dtype == np.float64


def test_health_ratio_of_a_zero_weight():
    w = tg.zeros(3, requires_grad=True)  # a bias at its zero init
    unused = tg.zeros(2, requires_grad=True)  # gets no gradient and does not move
    health = GradientHealth([("w", w), ("unused", unused)])
    (w * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    health.record()
    with tg.no_grad():
        w.data -= 0.1 * w.grad.data
    health.after_step()
    assert health.grad_norms["w"] == [pytest.approx(np.sqrt(14))]
    assert health.grad_norms["unused"] == [0.0]
    assert health.update_ratios["w"] == [np.inf]  # moved away from zero
    assert np.isnan(health.update_ratios["unused"][0])  # 0 / 0: no ratio, not "infinite"


# ----------------------------------------------------------------------------------------------
# eps_sweep: the error curve by hand
# ----------------------------------------------------------------------------------------------


def test_eps_sweep_errors_are_central_differences_by_hand():
    x0 = np.linspace(-1.0, 1.5, 6)
    eps_values = [1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-9]
    result = eps_sweep(lambda x: x.sin(), [tg.tensor(x0, requires_grad=True)],
                       eps_values=eps_values, seed=3)
    v = np.random.default_rng(3).standard_normal(6)  # the tool's upstream gradient
    analytic = v * np.cos(x0)

    def value(x):
        return float(np.sum(np.sin(x) * v))

    by_hand = []
    for eps in eps_values:
        numeric = np.empty(6)
        for j in range(6):
            plus, minus = x0.copy(), x0.copy()
            plus[j] += eps
            minus[j] -= eps
            numeric[j] = (value(plus) - value(minus)) / (plus[j] - minus[j])
        by_hand.append(np.max(np.abs(numeric - analytic)))
    # truncation regime: the same arithmetic, the same numbers
    np.testing.assert_allclose(result.errors[:4], by_hand[:4], rtol=1e-4)
    # round-off regime: noise, the same order of magnitude
    for ours, theirs in zip(result.errors[4:], by_hand[4:], strict=True):
        assert theirs / 30 < ours < theirs * 30
    # truncation error ~ |f'''| eps^2 / 6 = |v cos x| eps^2 / 6
    assert result.errors[2] == pytest.approx(np.max(np.abs(analytic)) * 1e-6 / 6, rel=0.02)
    slopes = result.slopes()
    assert slopes[0] is None
    assert slopes[1] == pytest.approx(np.log10(result.errors[1] / result.errors[0]) / -1)
    assert slopes[1] == pytest.approx(2.0, abs=0.05)
    assert result.best_eps == eps_values[int(np.argmin(result.errors))]
    assert result.n_elements == 6 and result.dtype == "float64"


def test_float32_sweep_divides_by_the_exact_step_taken():
    """For y = x the central difference is exact once divided by the step really taken,
    fl32(x + eps) - fl32(x - eps), which must itself be subtracted exactly (in float64: in
    float32 0.15f - (-0.05f) rounds, a relative error of 2e-8)."""
    x = tg.tensor(np.array([0.05, 0.0123, -0.7, 0.31], dtype=np.float32))
    result = eps_sweep(lambda x: x * 1.0, [x], eps_values=[0.1, 0.3], dtype=np.float32)
    assert result.dtype == "float32"
    assert max(result.errors) < 1e-12


def test_error_heatmap_is_the_per_element_error_by_hand(tmp_path):
    from tinygrad_edu.study import error_heatmap

    x0 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    error = error_heatmap(lambda x: x.exp(), [tg.tensor(x0)], 0, tmp_path / "h.png", eps=1e-3,
                          seed=4)
    v = np.random.default_rng(4).standard_normal((2, 3))
    numeric = (np.exp(x0 + 1e-3) - np.exp(x0 - 1e-3)) * v / 2e-3
    np.testing.assert_allclose(error, np.abs(numeric - v * np.exp(x0)), rtol=1e-4)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------------------------
# gradcheck_report: per-element numbers
# ----------------------------------------------------------------------------------------------


class _OffByHalf(tg.Function):
    """y = 2 x;  dx = 2 dy, but the backward returns 3 dy at element [1, 2]"""

    def forward(self, x):
        return 2 * x

    def backward(self, dy):
        g = dy.data * 2
        g[1, 2] *= 1.5
        return g


def test_gradcheck_report_names_the_wrong_element_with_its_numbers():
    x = tg.randn(2, 3, requires_grad=True)
    report = gradcheck_report(lambda x: _OffByHalf.apply(x).tanh(), x)
    bad, tanh = report.checks
    assert (bad.op, bad.status, tanh.status) == ("_OffByHalf", "FAIL", "pass")
    f = bad.failure
    assert f["element"] == (1, 2) and f["input"] == 0
    # numeric = 2 v, analytic = 3 v at that element: their ratio, and the errors in the row
    assert f["analytic"] / f["numeric"] == pytest.approx(1.5, rel=1e-6)
    assert bad.max_abs_err == pytest.approx(abs(f["analytic"] - f["numeric"]), rel=1e-6)
    assert bad.max_rel_err == pytest.approx(1 / 3, rel=1e-6)  # |3v - 2v| / |3v|
    assert "worst element (1, 2)" in str(report)


def test_random_directions_report_their_relative_error():
    """Elements of a linear L(x) = c . x at x = 0 with eps = 2^-20 are exact, and the analytic
    gradient given is off by 1e-7 (within tolerance) only on elements not sampled: only the
    random directions see an error, and it must show in both columns, not in max abs alone."""
    c = np.arange(1.0, 9.0)
    x = tg.tensor(np.zeros(8))
    sampled = np.sort(np.random.default_rng(1).choice(8, 2, replace=False))
    analytic = c + 1e-7
    analytic[sampled] = c[sampled]

    def evaluate():
        return float(np.dot(c, x.data))

    result = _compare_input(x, analytic, evaluate, 0.0, 2.0 ** -20, 1e-5, 1e-3,
                            max_elements=2, n_directions=3, rng=np.random.default_rng(1))
    assert result["checked"] == "2/8+3dir" and result["failure"] is None
    assert 1e-9 < result["max_abs"] < 1e-5
    # relative to |numeric_d| (a dot of c with a random u: order 10)
    assert 1e-12 < result["max_rel"] < result["max_abs"]


def test_gradcheck_report_under_no_grad_and_after_an_exception():
    x = tg.randn(3, requires_grad=True)
    with tg.no_grad():
        report = gradcheck_report(lambda x: (x * x).sum(), x)
    assert report.passed and [c.op for c in report.checks] == ["Mul", "Sum"]
    def broken(x):
        (x * 2).sum()
        raise ZeroDivisionError("inside the recorded forward")

    with pytest.raises(ZeroDivisionError):
        gradcheck_report(broken, x)
    assert Config.hooks == ()


# ----------------------------------------------------------------------------------------------
# check_my_backward: its numbers against torch
# ----------------------------------------------------------------------------------------------


class _MatMul(tg.Function):
    """Y = A @ B;  dA = dY @ B^T, dB = A^T @ dY"""

    def forward(self, a, b):
        return a @ b

    def backward(self, dy):
        a, b = self.inputs
        return dy @ b.T, a.T @ dy


def test_check_my_backward_numbers_match_torch():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    diagnosis = check_my_backward(_MatMul, tg.tensor(a), tg.tensor(b), seed=7)
    assert diagnosis.passed
    v = np.random.default_rng(7).standard_normal((2, 4))  # its upstream gradient
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    (ta @ tb).backward(torch.tensor(v))
    for mine, numeric, truth in zip(diagnosis.analytic, diagnosis.numeric, (ta, tb),
                                    strict=True):
        np.testing.assert_allclose(mine, truth.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(numeric, truth.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_check_my_backward_refuses_an_integer_output_clearly():
    class Floor(tg.Function):
        """y = floor(x) as integers: no gradient"""

        def forward(self, x):
            return np.floor(x).astype(np.int64)

        def backward(self, dy):
            return dy * 0

    with pytest.raises(TypeError, match="Floor.forward returned int64 values"):
        check_my_backward(Floor, tg.randn(3))


# ----------------------------------------------------------------------------------------------
# Graph and trace: node lists of known graphs
# ----------------------------------------------------------------------------------------------


def test_graph_of_a_known_expression_lists_every_op_once_with_shapes():
    a = tg.randn(2, 3, requires_grad=True)
    b = tg.randn(3, requires_grad=True)
    s = a * b  # shared subexpression, used twice
    k = a.argmax(1)  # an integer op: no node
    d = a.detach()  # a detached part: a constant
    out = (s.exp() + s * d).sum() + k.sum() * 0.0
    graph = build_graph(out, names={"a": a, "b": b})
    ops = [n.label for n in graph.nodes if n.kind == "op"]
    # k.sum() * 0.0 needs no gradient: no node, and its Add input is a constant
    assert sorted(ops) == sorted(["Add", "Sum", "Add", "Exp", "Mul", "Mul"])
    tensors = {n.label.split("\n")[0]: n.label.split("\n")[1] for n in graph.nodes
               if n.kind == "tensor"}
    assert tensors["a"] == "(2, 3) float32" and tensors["b"] == "(3,) float32"
    # each op: one edge out, one edge in per input (s is an input twice, to Exp and to Mul)
    op_nodes = [n.id for n in graph.nodes if n.kind == "op"]
    for op in op_nodes:
        assert sum(e.src == op for e in graph.edges) == 1
    assert len({n.id for n in graph.nodes}) == len(graph.nodes)  # every node once
    tree = to_text_tree(out, names={"a": a, "b": b, "s": s})
    assert tree.count("s (2, 3) float32 = Mul") == 1 and "s (see above)" in tree
    assert "leaf" in tree and "= Exp" in tree


def test_graph_shows_an_in_place_update_through_its_earlier_version():
    x = tg.randn(3, requires_grad=True)
    h = x * 2
    h += x  # h is now Add(earlier h, x)
    tree = to_text_tree(h.sum(), names={"x": x})
    lines = tree.splitlines()
    assert lines[0].endswith("= Sum") and "= Add" in lines[1] and "= Mul" in lines[2]
    assert tree.count("x (see above)") == 1


def test_trace_norms_match_torch_and_a_fused_ops_walk_is_one_step():
    a0 = np.array([[0.3, -1.2, 0.7]], dtype=np.float32)
    b0 = np.array([[1.1], [-0.4]], dtype=np.float32)
    with BackwardTracer(file=None) as tracer:
        a = tg.tensor(a0, requires_grad=True)
        b = tg.tensor(b0, requires_grad=True)
        y = ((a * b).tanh() + a).sum()
        y.backward()
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    m = ta * tb
    m.retain_grad()
    ((m.tanh()) + ta).sum().backward()
    events = tracer.events
    assert [e.op for e in events] == ["Sum", "Add", "Tanh", "Mul"]
    mul = events[3]
    assert mul.grad_output_norm == pytest.approx(m.grad.norm().item(), rel=1e-5)
    # Mul sends a its part only: sum over rows of dy * b (then it is accumulated)
    part_a = (m.grad * tb).sum(0).norm().item()
    assert mul.grad_inputs[0].norm == pytest.approx(part_a, rel=1e-5)
    assert mul.grad_inputs[1].norm == pytest.approx(tb.grad.norm().item(), rel=1e-5)
    assert mul.grad_inputs[0].accumulated and not mul.grad_inputs[1].accumulated
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-5)
    # GELU differentiates its composite with a walk of its own under create_graph: that walk
    # is not a list of extra steps of the user's graph
    x = tg.randn(4, requires_grad=True)
    events = trace_backward(F.gelu(x).sum(), file=None, create_graph=True)
    expected = ["Sum", "GELU"] if _gelu_kernels_available() else None
    if expected is not None:
        assert [e.op for e in events] == expected
        assert events[1].grad_inputs[0].norm == pytest.approx(float(np.linalg.norm(
            x.grad.data)), rel=1e-6)


def test_trace_with_retain_graph_twice_and_under_no_grad():
    x = tg.randn(3, requires_grad=True)
    y = (x * x).sum()
    out = io.StringIO()
    first = trace_backward(y, file=out, retain_graph=True)
    with tg.no_grad():
        second = trace_backward(y, file=out)
    assert [e.op for e in first] == [e.op for e in second] == ["Sum", "Mul"]
    np.testing.assert_allclose(x.grad.data, 4 * x.data, rtol=1e-6)  # accumulated twice
    with pytest.raises(RuntimeError, match="a second time"):
        trace_backward(y, file=None)  # the graph is freed now
    assert Config.hooks == ()


# ----------------------------------------------------------------------------------------------
# CLI: every flag on tiny inputs, clear one-line errors
# ----------------------------------------------------------------------------------------------


def test_cli_flags_work_on_tiny_inputs(tmp_path, capsys):
    argv = ["gradcheck", "mlp", "--batch-size", "1", "--max-elements", "1", "--seed", "2",
            "--device", "cpu"]
    assert main(argv) == 0
    assert " 0 failed" in capsys.readouterr().out
    for suffix in ("dot", "gv", "txt"):
        path = tmp_path / f"g.{suffix}"
        argv = ["graph", "mlp", "--out", str(path), "--backward", "--batch-size", "1",
                "--seed", "1"]
        assert main(argv) == 0
        assert path.stat().st_size > 0
    assert "Backward" in (tmp_path / "g.dot").read_text()


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "no-such-model"], "unknown model 'no-such-model'"),
    (["gradcheck", "mlp", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["gradcheck", "mlp", "--max-elements", "0"], "--max-elements must be at least 1"),
    (["gradcheck", "mlp", "--device", "tpu"], "--device 'tpu'"),
    (["graph", "mlp", "--out", "g.jpg"], "cannot write 'g.jpg'"),
    (["graph", "mlp", "--out", "/no/such/folder/g.dot"], "the folder '/no/such/folder'"),
])
def test_cli_bad_arguments_give_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert err.startswith(f"tinygrad-edu {argv[0]}: error:")


def test_cli_out_that_is_a_folder_is_a_usage_error(tmp_path, capsys):
    folder = tmp_path / "g.dot"
    folder.mkdir()
    assert main(["graph", "mlp", "--out", str(folder)]) == 2
    assert "cannot write it" in capsys.readouterr().err
