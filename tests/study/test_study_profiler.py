"""OpProfiler: per-op forward/backward time and call counts; free when off."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.autograd import Config
from tinygrad_edu.study import OpProfiler


def _training_step(params, x, target, lr=0.1):
    """One SGD step of a 2-layer tanh MLP with a mean squared error loss."""
    w1, b1, w2, b2 = params
    out = (x @ w1 + b1).tanh() @ w2 + b2  # MatMul, Add, Tanh, MatMul, Add
    loss = ((out - target) ** 2).mean()  # Sub, PowScalar, Sum, Mul
    loss.backward()
    with tg.no_grad():  # the update works on raw arrays: no ops
        for p in params:
            p.data -= lr * p.grad.data
            p.grad = None
    return loss


def _params(device="cpu"):
    return [tg.randn(*s, device=device, requires_grad=True) for s in ((4, 6), (6,), (6, 2), (2,))]


def test_counts_equal_the_ops_of_a_training_step(device):
    params = _params(device)
    x, target = tg.randn(5, 4, device=device), tg.randn(5, 2, device=device)
    with OpProfiler() as prof:
        _training_step(params, x, target)
        _training_step(params, x, target)
    expected = {"MatMul": 4, "Add": 4, "Tanh": 2, "Sub": 2, "PowScalar": 2, "Sum": 2, "Mul": 2}
    assert prof.forward_counts() == expected
    assert prof.backward_counts() == expected  # every forward op recorded a node
    inner = {op: s.inner_calls for (op, _, _), s in prof.stats.items() if s.inner_calls}
    assert inner.get("Mul", 0) > 0  # backwards multiply: counted apart, not as forward calls
    assert all(device_name == str(tg.device(device)) for _, device_name, _ in prof.stats)
    implementations = {impl for _, _, impl in prof.stats}
    assert implementations == {"numpy" if device == "cpu" else "cupy"}
    assert all(s.forward_seconds >= 0 and s.backward_seconds >= 0 for s in prof.stats.values())
    assert prof.total_seconds > 0
    table = prof.table()
    for op in expected:
        assert op in table
    assert table.splitlines()[0].split()[:4] == ["op", "device", "impl", "fwd"]


def test_hooks_are_empty_outside_the_profiler():
    assert Config.hooks == ()
    with OpProfiler() as prof:
        assert Config.hooks == (prof,)
        tg.randn(3, requires_grad=True).exp()
    assert Config.hooks == ()
    with pytest.raises(ValueError):
        with OpProfiler():
            raise ValueError("boom")
    assert Config.hooks == ()  # restored after an exception too
    calls_before = prof.forward_counts()
    tg.randn(3, requires_grad=True).exp().sum().backward()  # not observed any more
    assert prof.forward_counts() == calls_before == {"Exp": 1}


def test_table_sorting_and_bad_key():
    with OpProfiler() as prof:
        (tg.randn(50, 50, requires_grad=True) @ tg.randn(50, 50)).sum().backward()
    rows = prof.table(sort_by="calls").splitlines()[2:-1]
    assert {row.split()[0] for row in rows} >= {"MatMul", "Sum"}
    with pytest.raises(ValueError, match="sort_by must be one of"):
        prof.table(sort_by="speed")


def test_kernel_backed_ops_report_their_kernel():
    class Kernelish(tg.Function):
        """y = 2 x;  dx = 2 dy  (pretends to be kernel-backed)"""

        once_differentiable = True

        def forward(self, x):
            return x * 2

        def backward(self, dy):
            return dy * 2

    x = tg.randn(3, requires_grad=True)
    with tg.use_kernel("reference"), OpProfiler() as prof:
        Kernelish.apply(x).sum().backward()
    assert ("Kernelish", "cpu", "reference") in prof.stats
    assert np.isfinite(prof.stats[("Kernelish", "cpu", "reference")].backward_seconds)
