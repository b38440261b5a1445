"""Memory: training keeps the process's memory flat, and backward frees the graph.

(a) Many training steps must not grow the resident memory (RSS) or the memory Python and NumPy
    have allocated (tracemalloc): every step builds a graph and frees it again. The 5,000-step
    version of the issue ("5,000 steps keep RSS flat") is marked ``slow``.
(b) After ``backward()`` the intermediate tensors of the graph and the arrays their ops saved
    are gone (weak references to them die), also while the caller still holds the loss and
    the logits.
(c) The peak memory of a LeNet-5 step against torch is measured by ``benchmarks/run.py``
    (workload ``memory``); here bounds that catch regressions: a convolution never holds the
    column matrix of the whole batch, and the step's peak stays within 2.5 times its
    activations.
"""

import gc
import importlib
import importlib.util
import os
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.models.cnn import LeNet5
from tinygrad_edu.models.rnn import SimpleRNNClassifier
from tinygrad_edu.nn.functional import cross_entropy

MIB = 2**20
conv_module = importlib.import_module("tinygrad_edu.functional.conv")


@pytest.fixture(autouse=True)
def _one_thread():
    """BLAS and the kernels' thread pool pinned to one thread: on a busy machine every parallel
    region waits for its slowest thread (and spinning threads slow the others), so hundreds of
    steps would take minutes instead of seconds. Memory behaviour does not depend on it."""
    import contextlib

    import numba

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        blas = contextlib.nullcontext()
    else:
        blas = threadpool_limits(1)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    with blas:
        yield
    numba.set_num_threads(before)


def rss_bytes() -> int:
    """Resident set size of this process (/proc/self/statm; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        psutil = pytest.importorskip("psutil")
        return psutil.Process().memory_info().rss


def _trainer(model, batch: int, seed: int):
    """One Adam step of ``model`` (cross entropy) on a fixed random batch of 1x28x28 images."""
    rng = np.random.default_rng(seed)
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    x = tg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


TRAINERS = {
    "lenet": lambda batch: _trainer(LeNet5(), batch, seed=0),
    "lstm": lambda batch: _trainer(SimpleRNNClassifier(cell="lstm", hidden_size=32), batch,
                                   seed=1),
}


def _rss_growth(step, warmup: int, steps: int) -> tuple[int, int]:
    """(RSS after ``warmup`` steps, its growth over the next ``steps``)."""
    for _ in range(warmup):
        step()
    gc.collect()
    start = rss_bytes()
    for _ in range(steps):
        step()
    gc.collect()
    return start, rss_bytes() - start


def _assert_flat(name: str, start: int, growth: int, steps: int) -> None:
    # 5% of the process, and never more than 8 MiB: a graph or an optimizer buffer kept by
    # mistake per step would add (much) more than that over a few hundred steps
    limit = min(0.05 * start, 8 * MIB)
    assert growth < limit, (
        f"{name}: RSS grew by {growth / MIB:.1f} MiB over {steps} training steps (from "
        f"{start / MIB:.0f} MiB; limit {limit / MIB:.1f} MiB): something keeps memory per step"
    )


@pytest.mark.parametrize("name", ["lenet", "lstm"])
def test_300_training_steps_keep_rss_flat(name):
    step = TRAINERS[name](batch=8)
    start, growth = _rss_growth(step, warmup=30, steps=300)
    _assert_flat(name, start, growth, 300)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet", "lstm"])
def test_5000_training_steps_keep_rss_flat(name):
    step = TRAINERS[name](batch=8)
    start, growth = _rss_growth(step, warmup=50, steps=5000)
    _assert_flat(name, start, growth, 5000)


@pytest.mark.parametrize("name", ["lenet", "lstm"])
def test_training_steps_allocate_nothing_that_survives_them(name):
    """tracemalloc counts every Python object and NumPy array: after a warmed-up step the
    allocated total must come back to the same value, step after step (RSS above can hide a
    leak of small objects inside memory the allocator had already taken)."""
    step = TRAINERS[name](batch=4)
    for _ in range(5):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            step()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert growth < 16 * 1024, f"{name}: {growth} bytes allocated in 50 steps are still alive"


# ----------------------------------------------------------------------------------------------
# (b) backward frees the graph
# ----------------------------------------------------------------------------------------------


class _Recorder:
    """A hook that keeps weak references to every op and output created in its block."""

    def __init__(self):
        self.outputs: list = []
        self.ops: list = []

    def on_forward(self, fn, out, seconds):
        self.outputs.append(weakref.ref(out))
        self.ops.append(weakref.ref(fn))


def test_backward_frees_intermediate_tensors_and_saved_arrays():
    model = LeNet5()
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, 4))
    recorder = _Recorder()
    with tg.autograd.add_hook(recorder):
        logits = model(x)
        loss = cross_entropy(logits, y)
    assert len(recorder.outputs) >= 12  # conv, relu, pooling, linear, ... ops were recorded
    loss.backward()
    gc.collect()
    # the caller still holds loss and logits (for logging, accuracy): everything else is gone
    alive = [r() for r in recorder.outputs if r() is not None]
    assert {id(t) for t in alive} <= {id(loss), id(logits)}, [t.shape for t in alive]
    # the ops of the two surviving tensors kept nothing: no inputs, no saved arrays, no masks
    for t in (loss, logits):
        ctx = t._ctx
        assert ctx.freed and ctx.inputs == () and ctx.saved == ()
        kept = {k for k, v in vars(ctx).items() if hasattr(v, "shape")}
        assert not kept, f"{ctx.name} still holds arrays {sorted(kept)} after backward"
    # and every other op object died with its output
    live_ops = [r() for r in recorder.ops if r() is not None]
    assert {id(op) for op in live_ops} <= {id(loss._ctx), id(logits._ctx)}


def test_saved_arrays_die_after_backward():
    """Weak references to the arrays an op saved (a mask, an argmax, a saved input) die."""
    x = tg.tensor(np.random.default_rng(3).standard_normal((2, 3, 8, 8)), requires_grad=True)
    pooled = tg.functional.max_pool2d(x.relu(), 2)  # saves its argmax array
    loss = (pooled * pooled).sum()  # Mul keeps pooled as an input
    argmax = weakref.ref(pooled._ctx.argmax)
    hidden = weakref.ref(pooled.data)
    del pooled
    loss.backward()
    gc.collect()
    assert argmax() is None, "max_pool2d's argmax outlived backward"
    assert hidden() is None, "an intermediate array outlived backward"
    assert x.grad is not None and x.grad.shape == x.shape


class _Watch(tg.autograd.Function):
    """y = x. Its backward, the last of the walk, appends to ``seen`` whether the tensor behind
    the weak reference ``watch()`` is still alive at that moment."""

    def forward(self, x, watch, seen):
        self.watch, self.seen = watch, seen
        return x.copy()

    def backward(self, dy):
        gc.collect()
        self.seen.append(self.watch() is not None)
        return dy


def test_the_walk_lets_go_of_each_tensor_as_it_passes_it():
    """A tensor the walk has visited dies during the backward, not after it; here one whose
    gradient was summed from two consumers (an array of the walk's own: 'owned')."""
    x = tg.randn(50, requires_grad=True)
    ref, seen = [], []
    h = _Watch.apply(x, lambda: ref[0](), seen) * 3
    ref.append(weakref.ref(h))
    y = (h * h + h).sum()  # two consumers of h: its gradient is a sum
    del h
    y.backward()
    assert seen == [False], "a tensor the walk had passed was still alive"
    np.testing.assert_allclose(x.grad.numpy(), (6 * x.data + 1) * 3, rtol=1e-5)


def test_retain_graph_keeps_the_graph_until_the_second_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    ref = weakref.ref(h)
    y = (h * h).sum()
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None  # retained for a second backward
    y.backward()
    gc.collect()
    assert ref() is None


# ----------------------------------------------------------------------------------------------
# (c) peak memory of one step (run.py compares it with torch's)
# ----------------------------------------------------------------------------------------------


def _load_benchmark_common():
    """benchmarks/common.py (not a package): its ``traced_peak_bytes`` is what run.py measures."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
    spec = importlib.util.spec_from_file_location("bench_common", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_common"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_traced_peak = _load_benchmark_common().traced_peak_bytes


@pytest.mark.parametrize("x_shape, w_shape, padding, x_grad", [
    ((64, 1, 28, 28), (6, 1, 5, 5), 2, False),  # LeNet-5's first layer: no input gradient
    ((64, 6, 14, 14), (16, 6, 5, 5), 0, True),  # its second layer
])
def test_conv2d_holds_one_chunk_of_columns_not_the_batch(monkeypatch, x_shape, w_shape, padding,
                                                        x_grad):
    """Forward and backward of a convolution: besides the output, the input gradient and what
    the caller holds, at most one chunk of columns (the budget) and its GEMM's operands exist,
    never the column matrix of the whole batch (4.8 and 3.7 MiB here), nor a copy kept from
    the forward for the backward."""
    budget = MIB
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", budget)
    rng = np.random.default_rng(6)
    x = tg.tensor(rng.standard_normal(x_shape).astype(np.float32), requires_grad=x_grad)
    w = tg.tensor(rng.standard_normal(w_shape).astype(np.float32), requires_grad=True)
    b = tg.tensor(np.zeros(w_shape[0], np.float32), requires_grad=True)
    y_shape = tuple(tg.functional.conv2d(x, w, b, padding=padding).shape)
    dy = tg.tensor(rng.standard_normal(y_shape).astype(np.float32))
    peak = _traced_peak(lambda: tg.functional.conv2d(x, w, b, padding=padding).backward(dy))
    N, C, H, W = x_shape
    OC, _, KH, KW = w_shape
    cols_bytes = C * KH * KW * y_shape[2] * y_shape[3] * N * 4
    bound = dy.data.nbytes + (x.data.nbytes if x_grad else 0) + 2 * budget
    assert bound < cols_bytes
    assert peak < bound, (
        f"conv2d {x_shape} * {w_shape}: forward + backward peaked at {peak / MIB:.2f} MiB, "
        f"more than output + input gradient + two column budgets ({bound / MIB:.2f} MiB); "
        f"the whole batch's columns are {cols_bytes / MIB:.2f} MiB"
    )


def test_lenet_step_peak_memory_is_bounded():
    """The peak of one step over the steady state (model, optimizer state, batch), measured
    like benchmarks/run.py does, against the activations A of the step (conv, ReLU and pooling
    outputs: 3.5 MiB at batch 64). The graph walk keeps every activation until it ends (A);
    the peak adds, at the first ReLU's backward, the gradient arriving there and two
    temporaries of its size (3 x 0.33 A), and small arrays: 2.1 A in all. Keeping the columns
    of the two convolutions from the forward for the backward, as before, added 8.5 MiB
    (2.4 A), and the columns of one conv's whole batch 1.4 A."""
    batch = 64
    rng = np.random.default_rng(4)
    model = LeNet5()
    opt = tg.optim.Adam(model.parameters())
    x = tg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, batch))

    def step():
        cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
        opt.zero_grad()
    peak = _traced_peak(step)
    per_sample = 2 * 6 * 28 * 28 + 6 * 14 * 14 + 2 * 16 * 10 * 10 + 16 * 5 * 5  # float32s
    activations = batch * per_sample * 4
    assert peak < 2.5 * activations, (
        f"one LeNet-5 step (batch {batch}) peaked at {peak / MIB:.2f} MiB, "
        f"{peak / activations:.2f} times its activations ({activations / MIB:.2f} MiB)"
    )


def test_in_place_gradient_sums_do_not_change_results():
    """The graph walk adds a tensor's gradient contributions in place once it owns the sum:
    the leaf gradients still match a walk that records the sums as ops (create_graph)."""
    rng = np.random.default_rng(5)
    w = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    x = tg.tensor(rng.standard_normal((5, 3)))

    def loss():
        h = x @ w  # w is used four times: four contributions to its gradient
        return ((h * h).sum() + (x @ (w * 2)).sum() + w.sum() + (w[:, 1:] ** 2).sum())

    loss().backward()
    fast = w.grad.numpy().copy()
    w.grad = None
    loss().backward(create_graph=True)
    np.testing.assert_allclose(fast, w.grad.detach().numpy(), rtol=1e-12)
    chunks = nn.functional.tanh(w).chunk(2, dim=1)  # slices add their gradients in place too
    w.grad = None
    sum((c * (i + 1)).sum() for i, c in enumerate(chunks)).backward()
    expected = (1 - np.tanh(w.detach().numpy()) ** 2) * np.array([1, 1, 2, 2])
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
