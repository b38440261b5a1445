"""End-to-end speed and memory of tinygrad_edu against PyTorch and a plain-NumPy floor.

    python benchmarks/run.py [--quick] [--tiny] [--only NAME[,NAME]] [--device cpu|cuda]
                             [--threads N] [--rounds N] [--json OUT] [--plot PNG]
                             [--in-process] [--default-malloc]

Each workload is timed for

    tinygrad_edu[K]  every kernel setting K where kernels matter (conv, pooling, attention,
                     LeNet): "reference" and "numba" on the CPU, "cuda" on a GPU (CuPy);
                     plain "tinygrad_edu" where no kernel is involved
    torch            the peer: same shapes, same dtype (float32), same number of threads
    numpy floor      the same math in plain NumPy (CuPy on a GPU): forward and backward written
                     by hand, no autograd, no Tensor objects. The floor is what a perfect
                     framework on top of NumPy would cost; "vs floor" is the framework's price.
                     LeNet-5's and the MLP's floors call the library's fastest kernels
                     (im2col/col2im, pooling, the Numba matrix products and the Numba Adam
                     update from ``tinygrad_edu.kernels``, plain array functions) directly,
                     so that they price the framework, not the kernels; conv2d's and
                     maxpool's floors are NumPy alone (sliding windows), what the kernels
                     have to beat.

each in its own warmed-up block: implementations are never interleaved (NumPy/torch/Numba thread
pools spin after a call and slow a neighbour down by up to 100x), the first call is never timed
(Numba compiles on it), and the table reports the median and the min of many repeats.

Workloads (``--only`` takes these names):

    gemm       float32 matrix product, GFLOP/s: the machine's limit (numpy vs torch)
    conv2d     conv2d fwd+bwd, 3x3 pad 1: 64x3x32x32 -> 32 and 64x32x16x16 -> 64
    maxpool    max_pool2d 2x2 fwd+bwd on 64x32x32x32
    lenet      LeNet-5 train step: batch 64, cross entropy, Adam
    mlp        MLP 784-128-10 train step: batch 64, cross entropy, Adam
    attention  scaled_dot_product_attention fwd+bwd: B 8, 4 heads, T 128 and 512, hs 64
    lstm       nn.LSTM fwd+bwd: input 28, hidden 128, T 28, batch 64
    autograd   framework overhead per tiny op (benchmarks/bench_autograd.py's chain)
    memory     peak memory of one LeNet train step (tracemalloc; torch: its memory profiler)

``--tiny`` shrinks every shape (a smoke test of the script, not a measurement), ``--quick`` takes
fewer repeats (under two minutes in all). ``--rounds N`` runs all the chosen workloads N times
over (A B C, A B C, ...) and reports, per row, the median of the rounds' medians: a machine whose
speed drifts over minutes (a shared or throttling CPU) then moves every implementation alike, and
the ratios hold still from one run to the next. Use ``--rounds 3`` to check the goals: each goal
then also lists its ratio in every round and in how many rounds it was met, so that a verdict
within the machine's noise reads as one.

Columns: median and min wall-clock ms per call; ``cpu``: the process's CPU time per call (mean)
(with one thread, the work actually done, whatever else the machine was running); ``vs torch``
and ``vs floor``: the median divided by the median of torch / of the floor on the same
workload and shape; ``faults``: page faults per call. The share of the CPU that other
processes took during the run is printed at the end: on a shared machine, trust ratios
measured in one run more than absolute times.

Isolation: every workload runs in a fresh process (``--in-process`` to run them all in one),
with glibc's malloc thresholds fixed (``steady_malloc``; ``--default-malloc`` to keep glibc's
moving defaults, under which a step can pay thousands of page faults depending on what ran
before it in the process).

Threads: ``--threads 1`` (the default) pins BLAS, Numba and torch to one thread each, which
keeps the comparison fair on a small shared machine; raise it on a machine of your own.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import (  # noqa: E402
    CpuSteal,
    Timing,
    summary,
    time_block,
    traced_peak_bytes,
    write_json,
)

WORKLOADS = ("gemm", "conv2d", "maxpool", "lenet", "mlp", "attention", "lstm", "autograd",
             "memory")
FLOOR = "numpy floor"
# LeNet-5's second floor: conv2d's own bounded-memory algorithm by hand (KernelLayers'
# im2col_budget), next to the floor that keeps every column matrix for the backward
BOUNDED_FLOOR = "numpy floor (bounded)"
PEER = "torch"


# ----------------------------------------------------------------------------------------------
# Settings of one run: shapes (full or tiny), repeats (full or quick), device, kernels
# ----------------------------------------------------------------------------------------------


@dataclass
class Shapes:
    gemm: tuple = (256, 1024)  # square sizes
    conv: tuple = ((64, 3, 32, 32, 32), (64, 32, 16, 16, 64))  # N, C, H, W, OC; 3x3 pad 1
    pool: tuple = (64, 32, 32, 32)  # N, C, H, W; 2x2 stride 2
    batch: int = 64  # LeNet-5 and MLP
    attention: tuple = ((8, 4, 128, 64), (8, 4, 512, 64))  # B, nh, T, hs
    lstm: tuple = (28, 128, 28, 64)  # input, hidden, T, batch


TINY = Shapes(
    gemm=(64,),
    conv=((2, 3, 8, 8, 4), (2, 4, 6, 6, 8)),
    pool=(2, 4, 8, 8),
    batch=4,
    attention=((1, 2, 16, 8), (1, 2, 32, 8)),
    lstm=(28, 16, 5, 4),
)


@dataclass
class Run:
    shapes: Shapes
    device: str  # "cpu" | "cuda"
    kernels: tuple  # kernel settings for the kernel-backed workloads
    warmup: int
    repeats: int
    min_seconds: float
    threads: int
    xp: object = np  # numpy, or cupy on the GPU
    torch: object = None  # the torch module, or None when torch is missing

    def sync(self) -> None:
        """Wait for the GPU (a no-op on the CPU): a clock read before that measures nothing."""
        if self.device == "cuda":
            self.xp.cuda.Device().synchronize()
            if self.torch is not None:
                self.torch.cuda.synchronize()


def measure(run: Run, name: str, impl: str, shape: str, fn, extra: dict | None = None) -> Timing:
    """Time ``fn`` in a block of its own; the first call (Numba compiles there) is not timed."""
    fn()
    run.sync()
    cpu_start = time.process_time()
    faults_start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    median, low, n = time_block(fn, warmup=run.warmup, repeats=run.repeats,
                                min_seconds=run.min_seconds,
                                sync=run.sync if run.device == "cuda" else None)
    calls = n + run.warmup
    cpu_ms = (time.process_time() - cpu_start) * 1e3 / calls
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_start) / calls
    extra = dict(extra or {})
    if run.device == "cpu":
        extra["cpu_ms"] = round(cpu_ms, 4)
    extra["faults"] = round(faults)  # page faults per call (memory the OS had to map)
    if run.threads > 1:
        time.sleep(0.05)  # let this block's thread pools go idle before the next block
    return Timing(name, impl, shape, median, low, n, extra)


def tg_impls(run: Run, kernel_backed: bool) -> list[tuple[str, str]]:
    """(label, kernel setting) pairs for tinygrad_edu: one per kernel setting when kernels
    matter, else one row with the default setting."""
    if not kernel_backed:
        return [("tinygrad_edu", "auto")]
    return [(f"tinygrad_edu[{k}]", k) for k in run.kernels]


def _expit(xp):
    """The logistic sigmoid ufunc of SciPy (or CuPy's): one stable pass over the array."""
    if xp is np:
        from scipy.special import expit
    else:
        from cupyx.scipy.special import expit
    return expit


def _rng_arrays(xp, seed: int, *shapes):
    rng = np.random.default_rng(seed)
    return [xp.asarray(rng.standard_normal(s).astype(np.float32)) for s in shapes]


# ----------------------------------------------------------------------------------------------
# The plain-NumPy floor: the same layers by hand, forward then backward, no autograd
# ----------------------------------------------------------------------------------------------


def np_conv2d_forward(xp, x, w, b, pad: int):
    """y = W @ im2col(x) + b, stride 1: x (N, C, H, W), w (OC, C, KH, KW) -> (N, OC, OH, OW).
    Returns y and what the backward needs."""
    N, C, H, W = x.shape
    OC, _, KH, KW = w.shape
    xpad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    OH, OW = xpad.shape[2] - KH + 1, xpad.shape[3] - KW + 1
    windows = xp.lib.stride_tricks.sliding_window_view(xpad, (KH, KW), axis=(2, 3))
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW)  # a copy
    y = w.reshape(OC, -1) @ cols  # (OC, N*OH*OW)
    y = xp.ascontiguousarray(y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3))  # (N, OC, OH, OW)
    y += b.reshape(1, OC, 1, 1)
    return y, (x.shape, w, cols, pad)


def np_conv2d_backward(xp, dy, cache, need_dx: bool = True):
    """dW = dy2 @ cols^T, db = sum dy, dx = col2im(W^T @ dy2) with dy2 = dy as (OC, N*OH*OW)."""
    (N, C, H, W), w, cols, pad = cache
    OC, _, KH, KW = w.shape
    OH, OW = dy.shape[2], dy.shape[3]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(OC, -1)  # (OC, N*OH*OW), a copy
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    if not need_dx:
        return None, dw, db
    dcols = (w.reshape(OC, -1).T @ dy2).reshape(C, KH, KW, N, OH, OW)
    dxpad = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dy.dtype)
    for kh in range(KH):  # col2im: every window position adds its share back
        for kw in range(KW):
            dxpad[:, :, kh:kh + OH, kw:kw + OW] += dcols[:, kh, kw].transpose(1, 0, 2, 3)
    return dxpad[:, :, pad:pad + H, pad:pad + W], dw, db


def np_maxpool2_forward(xp, x):
    """2x2 stride 2 max pooling; the argmax keeps torch's tie rule (first in the window)."""
    N, C, H, W = x.shape
    windows = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, H // 2, W // 2, 4)
    index = windows.argmax(axis=-1)[..., None]  # (N, C, OH, OW, 1)
    y = xp.take_along_axis(windows, index, axis=-1)[..., 0]
    return y, (x.shape, index)


def np_maxpool2_backward(xp, dy, cache):
    (N, C, H, W), index = cache
    dwin = xp.zeros((N, C, H // 2, W // 2, 4), dtype=dy.dtype)
    xp.put_along_axis(dwin, index, dy[..., None], axis=-1)
    return dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)


def np_cross_entropy(xp, z, target):
    """mean_n (logsumexp(z_n) - z_n[t_n]) and its gradient (softmax(z) - onehot(t)) / N."""
    N = z.shape[0]
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    s = e.sum(axis=1, keepdims=True)
    rows = xp.arange(N)
    loss = float((xp.log(s[:, 0]) - xp.log(e[rows, target])).mean())
    dz = e / s
    dz[rows, target] -= 1
    dz /= N
    return loss, dz


class NpAdam:
    """Adam on raw arrays, in place, with torch's defaults.

    ``adam_step``: the library's update for one parameter, called as ``tinygrad_edu.optim.Adam``
    calls it, so that the floor prices the framework, not the update: ``KernelLayers.adam_step``
    (the Numba loop of ``kernels/cpu/optim.py`` with the Numba kernels), else the ten array
    passes of ``kernels/reference/optim.py`` (NumPy or CuPy; on a GPU the library runs a fused
    CuPy kernel of its own instead).
    """

    def __init__(self, xp, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, adam_step=None):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.adam_step = adam_step or _reference_adam_step()
        self.m = [xp.zeros_like(p) for p in params]
        self.v = [xp.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1**self.t)
        bc2_sqrt = math.sqrt(1 - b2**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            self.adam_step(p, g, m, v, b1, b2, step_size, bc2_sqrt, self.eps)


def _reference_adam_step():
    """``kernels/reference/optim.py``'s ``adam_step`` (plain array code: NumPy or CuPy)."""
    from tinygrad_edu.kernels.reference.optim import adam_step

    return adam_step


def _np_param(xp, rng, *shape):
    bound = 1 / math.sqrt(int(np.prod(shape[1:])) or 1)
    return xp.asarray(rng.uniform(-bound, bound, shape).astype(np.float32))


class KernelLayers:
    """conv2d and 2x2 max pooling through the library's own kernels (``tinygrad_edu.kernels``:
    pure array functions, no Tensor, no autograd), forward and backward by hand. A LeNet floor
    built on them isolates what the framework adds on top of the same kernels: im2col/col2im,
    pooling and, with the Numba kernels, the matrix products of ``kernels/cpu/gemm.py`` (the
    ones conv2d uses on the CPU; BLAS/cuBLAS otherwise), the Adam update of
    ``kernels/cpu/optim.py`` (``adam_step``; the reference lines of ``kernels/reference/optim.py``
    otherwise), ReLU's forward and backward of ``kernels/cpu/activation.py`` (the array code
    of ``kernels/reference/activation.py`` otherwise) and softmax cross entropy's loss and
    gradient of ``kernels/cpu/loss.py`` (``np_cross_entropy`` otherwise).

    ``im2col_budget`` (bytes): None makes each convolution's columns for the whole batch once
    and keeps them for the backward (the fastest math, and the most memory: 3-4x torch's peak
    for LeNet-5). A number runs conv2d's own algorithm by hand: the batch in chunks whose
    columns fit the budget, nothing kept but x, the columns made again in the backward
    (``functional/conv.py`` with ``IM2COL_BUDGET_BYTES``). That floor prices the framework
    alone; the difference between the two floors is the price of bounded memory."""

    def __init__(self, xp, kernel: str, im2col_budget: int | None = None):
        import importlib

        self.xp = xp
        self.budget = im2col_budget
        package = {"numba": "cpu", "cuda": "cuda", "reference": "reference"}[kernel]
        self.conv = importlib.import_module(f"tinygrad_edu.kernels.{package}.conv")
        self.pool = importlib.import_module(f"tinygrad_edu.kernels.{package}.pool")
        self.gemm = None  # the Numba matrix products, with the Numba kernels
        self.matmul = xp.matmul
        self.adam_step = _reference_adam_step()  # the library's Adam update, as optim.Adam
        # ReLU as the ops run it: the Numba loops with the Numba kernels, else the array code
        # of kernels/reference/activation.py (the formulas the ops compute, on NumPy or CuPy)
        activation = importlib.import_module("tinygrad_edu.kernels.reference.activation")
        if package == "cpu":
            self.gemm = importlib.import_module("tinygrad_edu.kernels.cpu.gemm")
            self.matmul = self.gemm.matmul
            self.adam_step = importlib.import_module("tinygrad_edu.kernels.cpu.optim").adam_step
            activation = importlib.import_module("tinygrad_edu.kernels.cpu.activation")
            self.loss = importlib.import_module("tinygrad_edu.kernels.cpu.loss")
        self.relu, self.relu_backward = activation.relu_forward, activation.relu_backward

    def cross_entropy(self, z, target):
        """(mean loss, its gradient dz) for logits z (N, C): with the Numba kernels one pass of
        ``kernels/cpu/loss.py`` (as cross_entropy runs it), else ``np_cross_entropy``."""
        if self.gemm is None:
            return np_cross_entropy(self.xp, z, target)
        losses, dz, count = self.loss.cross_entropy_forward(z, target)
        dz /= count
        return float(losses.sum() / count), dz

    def _chunks(self, x_shape, KH: int, KW: int, OH: int, OW: int, itemsize: int) -> list:
        """Slices of the batch whose columns fit ``self.budget`` (conv2d's ``_conv_spec``)."""
        N, C = x_shape[:2]
        n = max(1, min(N, self.budget // max(1, C * KH * KW * OH * OW * itemsize)))
        return [slice(i, min(i + n, N)) for i in range(0, N, n)]

    def conv2d_forward(self, x, w, b, pad: int):
        N, C, H, W = x.shape
        OC, _, KH, KW = w.shape
        args = ((1, 1), (pad, pad), (1, 1))  # stride, padding, dilation
        OH, OW = H + 2 * pad - KH + 1, W + 2 * pad - KW + 1
        if self.budget is not None:  # chunks of the batch; columns made and dropped per chunk
            y = self.xp.empty((N, OC, OH, OW), dtype=x.dtype)
            for s in self._chunks(x.shape, KH, KW, OH, OW, x.itemsize):
                cols = self.conv.im2col_gemm(x[s], KH, KW, *args)  # (C*KH*KW, n*OH*OW)
                if self.gemm is not None:
                    self.gemm.matmul(w.reshape(OC, -1), cols, out=y[s].reshape(-1, OC, OH * OW),
                                     bias=b)
                else:
                    yc = self.matmul(w.reshape(OC, -1), cols) + b.reshape(OC, 1)
                    y[s] = yc.reshape(OC, -1, OH, OW).swapaxes(0, 1)
            return y, (x, w, None, args)
        cols = self.conv.im2col_gemm(x, KH, KW, *args)  # (C*KH*KW, N*OH*OW)
        if self.gemm is not None:  # as conv2d does: y's layout and the bias in the product
            y = np.empty((N, OC, OH, OW), dtype=x.dtype)
            self.gemm.matmul(w.reshape(OC, -1), cols, out=y.reshape(N, OC, -1), bias=b)
            return y, (x, w, cols, args)
        y = self.matmul(w.reshape(OC, -1), cols).reshape(OC, N, OH, OW)
        y = self.xp.ascontiguousarray(y.swapaxes(0, 1))  # (N, OC, OH, OW)
        y += b.reshape(1, OC, 1, 1)
        return y, (x, w, cols, args)

    def conv2d_backward(self, dy, cache, need_dx: bool = True):
        x, w, cols, args = cache
        OC, _, KH, KW = w.shape
        if cols is None:  # bounded memory: the columns of each chunk made again
            return self._chunked_conv2d_backward(dy, x, w, args, need_dx)
        dy2 = dy.swapaxes(0, 1).reshape(OC, -1)  # (OC, N*OH*OW), a copy
        dw = self.matmul(dy2, cols.T).reshape(w.shape)
        db = dy.sum(axis=(0, 2, 3))
        if not need_dx:
            return None, dw, db
        wt = self.xp.ascontiguousarray(w.reshape(OC, -1).T)  # (C*KH*KW, OC)
        dx = self.conv.col2im_gemm(self.matmul(wt, dy2), x.shape, KH, KW, *args)
        return dx, dw, db

    def _chunked_conv2d_backward(self, dy, x, w, args, need_dx: bool):
        """conv2d_backward chunk by chunk, as conv2d's ``_conv2d_grads``: per chunk, dy's rows,
        the chunk's columns again for dW, then W^T @ dy's rows folded into dx."""
        OC, _, KH, KW = w.shape
        OH, OW = dy.shape[2:]
        wt = self.xp.ascontiguousarray(w.reshape(OC, -1).T)  # (C*KH*KW, OC)
        dx = self.xp.empty(x.shape, dtype=x.dtype) if need_dx else None
        dw = 0
        for s in self._chunks(x.shape, KH, KW, OH, OW, x.itemsize):
            dy2 = dy[s].swapaxes(0, 1).reshape(OC, -1)  # (OC, n*OH*OW), a copy
            cols = self.conv.im2col_gemm(x[s], KH, KW, *args)  # (C*KH*KW, n*OH*OW)
            dw = dw + self.matmul(dy2, cols.T)
            del cols
            if need_dx:
                dx[s] = self.conv.col2im_gemm(self.matmul(wt, dy2), x[s].shape, KH, KW, *args)
        return dx, dw.reshape(w.shape), dy.sum(axis=(0, 2, 3))

    def maxpool2_forward(self, x):
        y, argmax = self.pool.max_pool2d_forward(x, 2, 2, 0, 1, False)
        return y, (argmax, x.shape)

    def maxpool2_backward(self, dy, cache):
        argmax, x_shape = cache
        return self.pool.max_pool2d_backward(dy, argmax, x_shape)


class NpLeNet5:
    """LeNet-5 (the layers of tinygrad_edu.models.LeNet5) with a hand-written backward; conv,
    pooling, ReLU and the Adam update from ``layers`` (``KernelLayers``)."""

    def __init__(self, xp, layers, seed=0):
        rng = np.random.default_rng(seed)
        self.xp, self.layers = xp, layers
        shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120),
                  (84,), (10, 84), (10,)]
        self.params = [_np_param(xp, rng, *s) for s in shapes]
        self.opt = NpAdam(xp, self.params, adam_step=layers.adam_step)

    def step(self, x, target, tick=None):
        """One train step; ``tick(phase)`` (optional) is called as each phase ends: "forward",
        "loss", "backward", "optimizer" (benchmarks/step_breakdown.py times them)."""
        layers, mm = self.layers, self.layers.matmul
        w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = self.params
        relu, relu_backward = layers.relu, layers.relu_backward
        c1, k1 = layers.conv2d_forward(x, w1, b1, pad=2)  # (N, 6, 28, 28)
        p1, q1 = layers.maxpool2_forward(relu(c1))  # (N, 6, 14, 14)
        c2, k2 = layers.conv2d_forward(p1, w2, b2, pad=0)  # (N, 16, 10, 10)
        p2, q2 = layers.maxpool2_forward(relu(c2))  # (N, 16, 5, 5)
        f = p2.reshape(len(x), -1)  # (N, 400)
        a3 = mm(f, w3.T) + b3
        h3 = relu(a3)
        a4 = mm(h3, w4.T) + b4
        h4 = relu(a4)
        z = mm(h4, w5.T) + b5
        if tick:
            tick("forward")
        loss, dz = layers.cross_entropy(z, target)
        if tick:
            tick("loss")
        dw5, db5, dh4 = mm(dz.T, h4), dz.sum(0), mm(dz, w5)
        da4 = relu_backward(a4, dh4)
        dw4, db4, dh3 = mm(da4.T, h3), da4.sum(0), mm(da4, w4)
        da3 = relu_backward(a3, dh3)
        dw3, db3, df = mm(da3.T, f), da3.sum(0), mm(da3, w3)
        dc2 = relu_backward(c2, layers.maxpool2_backward(df.reshape(p2.shape), q2))
        dp1, dw2, db2 = layers.conv2d_backward(dc2, k2)
        dc1 = relu_backward(c1, layers.maxpool2_backward(dp1, q1))
        _, dw1, db1 = layers.conv2d_backward(dc1, k1, need_dx=False)
        if tick:
            tick("backward")
        self.opt.step([dw1, db1, dw2, db2, dw3, db3, dw4, db4, dw5, db5])
        if tick:
            tick("optimizer")
        return loss


class NpMLP:
    """784-128-10 with ReLU, cross entropy and Adam, by hand; the matrix product, ReLU and the
    Adam update from ``layers`` (``KernelLayers``: with the Numba kernels the Numba GEMM, ReLU
    loops and Adam loop, as nn.Linear, nn.ReLU and optim.Adam use them)."""

    def __init__(self, xp, layers, seed=0):
        rng = np.random.default_rng(seed)
        self.xp, self.layers = xp, layers
        self.params = [_np_param(xp, rng, 128, 784), _np_param(xp, rng, 128),
                       _np_param(xp, rng, 10, 128), _np_param(xp, rng, 10)]
        self.opt = NpAdam(xp, self.params, adam_step=layers.adam_step)

    def step(self, x, target, tick=None):
        """One train step; ``tick(phase)`` as in ``NpLeNet5.step``."""
        w1, b1, w2, b2 = self.params
        mm, layers = self.layers.matmul, self.layers
        a = mm(x, w1.T) + b1
        h = layers.relu(a)
        z = mm(h, w2.T) + b2
        if tick:
            tick("forward")
        loss, dz = layers.cross_entropy(z, target)
        if tick:
            tick("loss")
        dw2, db2, dh = mm(dz.T, h), dz.sum(0), mm(dz, w2)
        da = layers.relu_backward(a, dh)
        dw1, db1 = mm(da.T, x), da.sum(0)
        if tick:
            tick("backward")
        self.opt.step([dw1, db1, dw2, db2])
        if tick:
            tick("optimizer")
        return loss


def np_attention_fwd_bwd(xp, q, k, v, dout):
    """S = Q K^T / sqrt(hs), P = softmax(S), O = P V; then dQ, dK, dV for the upstream dO."""
    scale = 1 / math.sqrt(q.shape[-1])
    s = (q @ k.swapaxes(-1, -2)) * scale  # (B, nh, T, T)
    s -= s.max(axis=-1, keepdims=True)
    p = xp.exp(s, out=s)
    p /= p.sum(axis=-1, keepdims=True)
    out = p @ v  # (B, nh, T, hs)
    dv = p.swapaxes(-1, -2) @ dout
    dp = dout @ v.swapaxes(-1, -2)  # (B, nh, T, T)
    dp -= (dout * out).sum(axis=-1, keepdims=True)  # rowsum(dP * P) = rowsum(dO * O)
    ds = xp.multiply(p, dp, out=dp)
    dq = (ds @ k) * scale
    dk = (ds.swapaxes(-1, -2) @ q) * scale
    return out, dq, dk, dv


class NpLSTM:
    """One LSTM layer (torch's gate order i, f, g, o) with backpropagation through time."""

    def __init__(self, xp, input_size, hidden, seed=0):
        rng = np.random.default_rng(seed)
        bound = 1 / math.sqrt(hidden)
        self.xp = xp
        self.w_ih, self.w_hh = (xp.asarray(rng.uniform(-bound, bound, s).astype(np.float32))
                                for s in ((4 * hidden, input_size), (4 * hidden, hidden)))
        self.b = xp.asarray(rng.uniform(-bound, bound, 4 * hidden).astype(np.float32))
        self.sigmoid = _expit(xp)

    def fwd_bwd(self, x, dout):
        """x (T, B, I) -> output (T, B, H); dout is its upstream gradient. Returns the output
        and dW_ih, dW_hh, db (x needs no gradient here)."""
        xp, sigmoid = self.xp, self.sigmoid
        T, B, _ = x.shape
        H = self.w_hh.shape[1]
        xw = x @ self.w_ih.T + self.b  # (T, B, 4H): the input part of every step at once
        acts = xp.empty((T, B, 4 * H), dtype=x.dtype)  # sigmoid(i, f), tanh(g), sigmoid(o)
        cs = xp.empty((T + 1, B, H), dtype=x.dtype)  # c_0 .. c_T
        hs = xp.empty((T + 1, B, H), dtype=x.dtype)  # h_0 .. h_T
        tanh_cs = xp.empty((T, B, H), dtype=x.dtype)
        cs[0] = 0
        hs[0] = 0
        for t in range(T):
            gates = xw[t] + hs[t] @ self.w_hh.T  # (B, 4H)
            a = acts[t]
            sigmoid(gates[:, :2 * H], out=a[:, :2 * H])
            xp.tanh(gates[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            sigmoid(gates[:, 3 * H:], out=a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            cs[t + 1] = f * cs[t] + i * g
            xp.tanh(cs[t + 1], out=tanh_cs[t])
            hs[t + 1] = o * tanh_cs[t]
        dgates = xp.empty_like(acts)  # (T, B, 4H)
        dh_next = xp.zeros((B, H), dtype=x.dtype)
        dc_next = xp.zeros((B, H), dtype=x.dtype)
        for t in reversed(range(T)):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dout[t] + dh_next
            dc = dc_next + dh * o * (1 - tanh_cs[t] * tanh_cs[t])
            d = dgates[t]
            d[:, :H] = dc * g * i * (1 - i)
            d[:, H:2 * H] = dc * cs[t] * f * (1 - f)
            d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
            d[:, 3 * H:] = dh * tanh_cs[t] * o * (1 - o)
            dc_next = dc * f
            dh_next = d @ self.w_hh  # (B, H)
        flat = dgates.reshape(T * B, 4 * H)
        dw_hh = flat.T @ hs[:-1].reshape(T * B, H)  # one GEMM over all steps
        dw_ih = flat.T @ x.reshape(T * B, -1)
        db = flat.sum(axis=0)
        return hs[1:], dw_ih, dw_hh, db


# ----------------------------------------------------------------------------------------------
# Torch twins of the tinygrad_edu models (same layers, the same initial weights)
# ----------------------------------------------------------------------------------------------


def torch_lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def torch_mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def copy_weights(torch, tg_model, torch_model) -> None:
    """Give the torch model the tinygrad_edu model's weights (parameters in the same order)."""
    from tinygrad_edu.backend import to_numpy

    with torch.no_grad():
        for ours, theirs in zip(tg_model.parameters(), torch_model.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(to_numpy(ours.data)))


def _torch_tensor(run: Run, array, requires_grad: bool = False):
    from tinygrad_edu.backend import to_numpy

    t = run.torch.from_numpy(np.ascontiguousarray(to_numpy(array)))
    if run.device == "cuda":
        t = t.cuda()
    return t.requires_grad_(requires_grad)


def _tg_tensor(run: Run, array, requires_grad: bool = False):
    import tinygrad_edu as tg

    return tg.tensor(array, device=run.device, requires_grad=requires_grad)


def _classes(run: Run, n: int, seed: int = 1):
    return run.xp.asarray(np.random.default_rng(seed).integers(0, 10, n))


# ----------------------------------------------------------------------------------------------
# Workloads: each returns its rows (tinygrad_edu per kernel setting, torch, numpy floor)
# ----------------------------------------------------------------------------------------------


def bench_gemm(run: Run) -> list[Timing]:
    return [t for n in run.shapes.gemm for t in _gemm_rows(run, n)]


def _gemm_rows(run: Run, n: int) -> list[Timing]:
    a, b = _rng_arrays(run.xp, 0, (n, n), (n, n))
    ta, tb = _tg_tensor(run, a), _tg_tensor(run, b)
    blocks = [(FLOOR, lambda: a @ b), ("tinygrad_edu", lambda: ta @ tb)]
    if run.torch is not None:
        pa, pb = _torch_tensor(run, a), _torch_tensor(run, b)
        blocks.append((PEER, lambda: pa @ pb))
    rows = []
    for impl, fn in blocks:
        t = measure(run, "gemm float32", impl, f"{n}x{n} @ {n}x{n}", fn)
        t.extra["gflops"] = round(2 * n**3 / (t.median_ms * 1e-3) / 1e9, 1)
        rows.append(t)
    return rows


def bench_conv2d(run: Run) -> list[Timing]:
    return [t for N, C, H, W, OC in run.shapes.conv for t in _conv2d_rows(run, N, C, H, W, OC)]


def _conv2d_rows(run: Run, N: int, C: int, H: int, W: int, OC: int) -> list[Timing]:
    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rows = []
    name = "conv2d fwd+bwd"
    shape = f"{N}x{C}x{H}x{W}->{OC} 3x3 p1"
    x, w, b, dy = _rng_arrays(run.xp, 0, (N, C, H, W), (OC, C, 3, 3), (OC,), (N, OC, H, W))
    X, Wt, Bt = (_tg_tensor(run, a, True) for a in (x, w, b))
    DY = _tg_tensor(run, dy)

    def tg_step():
        F.conv2d(X, Wt, Bt, padding=1).backward(DY)
        X.grad = Wt.grad = Bt.grad = None

    for label, kernel in tg_impls(run, kernel_backed=True):
        with tg.use_kernel(kernel):
            rows.append(measure(run, name, label, shape, tg_step))
    if run.torch is not None:
        torch = run.torch
        PX, PW, PB = (_torch_tensor(run, a, True) for a in (x, w, b))
        PDY = _torch_tensor(run, dy)

        def torch_step():
            torch.nn.functional.conv2d(PX, PW, PB, padding=1).backward(PDY)
            PX.grad = PW.grad = PB.grad = None

        rows.append(measure(run, name, PEER, shape, torch_step))

    def floor_step():
        _, cache = np_conv2d_forward(run.xp, x, w, b, pad=1)
        np_conv2d_backward(run.xp, dy, cache)

    rows.append(measure(run, name, FLOOR, shape, floor_step))
    return rows


def bench_maxpool(run: Run) -> list[Timing]:
    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rows = []
    name = "max_pool2d 2x2 fwd+bwd"
    N, C, H, W = run.shapes.pool
    shape = f"{N}x{C}x{H}x{W}"
    x, dy = _rng_arrays(run.xp, 0, (N, C, H, W), (N, C, H // 2, W // 2))
    X, DY = _tg_tensor(run, x, True), _tg_tensor(run, dy)

    def tg_step():
        F.max_pool2d(X, 2).backward(DY)
        X.grad = None

    for label, kernel in tg_impls(run, kernel_backed=True):
        with tg.use_kernel(kernel):
            rows.append(measure(run, name, label, shape, tg_step))
    if run.torch is not None:
        torch = run.torch
        PX, PDY = _torch_tensor(run, x, True), _torch_tensor(run, dy)

        def torch_step():
            torch.nn.functional.max_pool2d(PX, 2).backward(PDY)
            PX.grad = None

        rows.append(measure(run, name, PEER, shape, torch_step))

    def floor_step():
        _, cache = np_maxpool2_forward(run.xp, x)
        np_maxpool2_backward(run.xp, dy, cache)

    rows.append(measure(run, name, FLOOR, shape, floor_step))
    return rows


def _train_step_rows(run: Run, name: str, shape: str, make_tg, make_torch, np_model, x, target,
                     kernel_backed: bool) -> list[Timing]:
    """One optimizer step (zero_grad, forward, cross entropy, backward, Adam) of each impl."""
    import tinygrad_edu as tg
    from tinygrad_edu.nn.functional import cross_entropy

    rows = []
    X, Y = _tg_tensor(run, x), _tg_tensor(run, target)
    for label, kernel in tg_impls(run, kernel_backed):
        model = make_tg().to(run.device)
        opt = tg.optim.Adam(model.parameters(), lr=1e-3)

        def tg_step(model=model, opt=opt):
            opt.zero_grad()
            cross_entropy(model(X), Y).backward()
            opt.step()

        with tg.use_kernel(kernel):
            rows.append(measure(run, name, label, shape, tg_step))
    if run.torch is not None:
        torch = run.torch
        model = make_torch(torch)
        copy_weights(torch, make_tg(), model)
        if run.device == "cuda":
            model = model.cuda()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        PX, PY = _torch_tensor(run, x), _torch_tensor(run, target)

        def torch_step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(PX), PY).backward()
            opt.step()

        rows.append(measure(run, name, PEER, shape, torch_step))
    rows.append(measure(run, name, FLOOR, shape, lambda: np_model.step(x, target)))
    return rows


def bench_lenet(run: Run) -> list[Timing]:
    from tinygrad_edu.models.cnn import LeNet5

    N = run.shapes.batch
    (x,) = _rng_arrays(run.xp, 0, (N, 1, 28, 28))
    floor = NpLeNet5(run.xp, KernelLayers(run.xp, run.kernels[-1]))  # numba, or cuda
    rows = _train_step_rows(run, "LeNet-5 train step (Adam)", f"batch {N} 1x28x28", LeNet5,
                            torch_lenet5, floor, x, _classes(run, N), kernel_backed=True)
    if run.device == "cpu":
        bounded = _bounded_lenet_floor(run.xp, run.kernels[-1])
        target = _classes(run, N)
        rows.append(measure(run, rows[-1].name, BOUNDED_FLOOR, rows[-1].shape,
                            lambda: bounded.step(x, target)))
    return rows


def _bounded_lenet_floor(xp, kernel: str) -> NpLeNet5:
    """The LeNet-5 floor with conv2d's CPU im2col budget (``IM2COL_BUDGET_BYTES``, which
    ``TINYGRAD_EDU_IM2COL_BUDGET`` sets): the same math as the library's step, no framework."""
    from tinygrad_edu.functional.conv import IM2COL_BUDGET_BYTES

    return NpLeNet5(xp, KernelLayers(xp, kernel, im2col_budget=IM2COL_BUDGET_BYTES))


def bench_mlp(run: Run) -> list[Timing]:
    from tinygrad_edu.models.mlp import MLP

    N = run.shapes.batch
    (x,) = _rng_arrays(run.xp, 0, (N, 784))
    floor = NpMLP(run.xp, KernelLayers(run.xp, run.kernels[-1]))  # numba, or cuda
    return _train_step_rows(run, "MLP 784-128-10 step (Adam)", f"batch {N}", MLP, torch_mlp,
                            floor, x, _classes(run, N), kernel_backed=False)


def bench_attention(run: Run) -> list[Timing]:
    return [t for B, nh, T, hs in run.shapes.attention
            for t in _attention_rows(run, B, nh, T, hs)]


def _attention_rows(run: Run, B: int, nh: int, T: int, hs: int) -> list[Timing]:
    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rows = []
    name = "attention fwd+bwd"
    shape = f"B{B} nh{nh} T{T} hs{hs}"
    q, k, v, dout = _rng_arrays(run.xp, 0, *[(B, nh, T, hs)] * 4)
    Q, K, V = (_tg_tensor(run, a, True) for a in (q, k, v))
    DOUT = _tg_tensor(run, dout)

    def tg_step():
        F.scaled_dot_product_attention(Q, K, V).backward(DOUT)
        Q.grad = K.grad = V.grad = None

    for label, kernel in tg_impls(run, kernel_backed=True):
        with tg.use_kernel(kernel):
            rows.append(measure(run, name, label, shape, tg_step))
    if run.device == "cuda":  # "auto" takes the math path on a GPU; time the flash kernel too
        with tg.use_kernel("cuda"), F.sdpa_backend("fused"):
            rows.append(measure(run, name, "tinygrad_edu[cuda, fused]", shape, tg_step))
    if run.torch is not None:
        torch = run.torch
        PQ, PK, PV = (_torch_tensor(run, a, True) for a in (q, k, v))
        PDOUT = _torch_tensor(run, dout)

        def torch_step():
            torch.nn.functional.scaled_dot_product_attention(PQ, PK, PV).backward(PDOUT)
            PQ.grad = PK.grad = PV.grad = None

        rows.append(measure(run, name, PEER, shape, torch_step))
    rows.append(measure(run, name, FLOOR, shape,
                        lambda: np_attention_fwd_bwd(run.xp, q, k, v, dout)))
    return rows


def bench_lstm(run: Run) -> list[Timing]:
    import tinygrad_edu as tg

    name = "LSTM fwd+bwd"
    I, H, T, B = run.shapes.lstm
    shape = f"I{I} H{H} T{T} B{B}"
    x, dout = _rng_arrays(run.xp, 0, (T, B, I), (T, B, H))
    rows = []
    lstm = tg.nn.LSTM(I, H)
    if run.device == "cuda":
        lstm = lstm.to("cuda")
    X, DOUT = _tg_tensor(run, x), _tg_tensor(run, dout)

    def tg_step():
        out, _ = lstm(X)
        out.backward(DOUT)
        lstm.zero_grad()

    rows.append(measure(run, name, "tinygrad_edu", shape, tg_step))
    if run.torch is not None:
        torch = run.torch
        peer = torch.nn.LSTM(I, H)
        if run.device == "cuda":
            peer = peer.cuda()
        PX, PDOUT = _torch_tensor(run, x), _torch_tensor(run, dout)

        def torch_step():
            out, _ = peer(PX)
            out.backward(PDOUT)
            peer.zero_grad()

        rows.append(measure(run, name, PEER, shape, torch_step))
    floor = NpLSTM(run.xp, I, H)
    rows.append(measure(run, name, FLOOR, shape, lambda: floor.fwd_bwd(x, dout)))
    return rows


def bench_tiny_ops(run: Run) -> list[Timing]:
    """Per-op overhead on (4, 4) tensors, with bench_autograd's chain of CHAIN mul/add ops."""
    from bench_autograd import CHAIN, chain_forward, chain_forward_backward, floor_forward_backward

    import tinygrad_edu as tg

    rows = []
    shape = "(4, 4) float32"
    x, w = _rng_arrays(np, 0, (4, 4), (4, 4))

    def per_op(t: Timing) -> Timing:
        """bench_autograd's convention: the time columns hold microseconds per op."""
        t.median_ms, t.min_ms = t.median_ms * 1e3 / CHAIN, t.min_ms * 1e3 / CHAIN
        if "cpu_ms" in t.extra:
            t.extra["cpu_ms"] = round(t.extra["cpu_ms"] * 1e3 / CHAIN, 4)
        t.extra["unit"] = "us/op"
        return t

    libs = [("tinygrad_edu", lambda a, g: tg.tensor(a, requires_grad=g))]
    if run.torch is not None:
        libs.append((PEER, lambda a, g: run.torch.tensor(a, requires_grad=g)))
    cpu_run = Run(run.shapes, "cpu", run.kernels, run.warmup, run.repeats, run.min_seconds,
                  run.threads, np, run.torch)  # tiny ops are about the CPU side either way
    for impl, make in libs:
        X, Wt = make(x, False), make(w, True)
        rows.append(per_op(measure(cpu_run, "tiny op fwd (graph recorded)", impl, shape,
                                   lambda X=X, Wt=Wt: chain_forward(X, Wt))))
        rows.append(per_op(measure(cpu_run, "tiny op fwd+bwd", impl, shape,
                                   lambda X=X, Wt=Wt: chain_forward_backward(X, Wt))))

    rows.append(per_op(measure(cpu_run, "tiny op fwd (graph recorded)", FLOOR, shape,
                               lambda: chain_forward(x, w))))
    rows.append(per_op(measure(cpu_run, "tiny op fwd+bwd", FLOOR, shape,
                               lambda: floor_forward_backward(x, w))))
    return rows


# ----------------------------------------------------------------------------------------------
# Peak memory of one LeNet-5 train step
# ----------------------------------------------------------------------------------------------


def _torch_peak_bytes(torch, step) -> int | None:
    """The same for torch, whose allocator tracemalloc cannot see: replay the allocations and
    frees of its memory profiler (CPU tensors created in ``step`` and alive at once)."""
    try:
        from torch.profiler import ProfilerActivity, profile
        from torch.profiler._memory_profiler import Action

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                     record_shapes=True, with_stack=True) as prof:
            step()
        live, created, peak = 0, set(), 0
        for _, action, (key, _), size in prof._memory_profile().timeline:
            if key.device.type != "cpu":
                continue
            if action == Action.CREATE:
                created.add(key)
                live += size
            elif action == Action.DESTROY and key in created:
                live -= size
            peak = max(peak, live)
        return peak
    except Exception as error:  # a private API: report, don't fail the run
        print(f"  (torch peak memory unavailable: {error!r})")
        return None


def bench_memory(run: Run) -> list[Timing]:
    import tinygrad_edu as tg
    from tinygrad_edu.models.cnn import LeNet5
    from tinygrad_edu.nn.functional import cross_entropy

    if run.device != "cpu":
        print("  (peak memory is measured on the CPU only)")
        return []
    N = run.shapes.batch
    name = "peak memory LeNet-5 step"
    shape = f"batch {N} 1x28x28"
    (x,) = _rng_arrays(np, 0, (N, 1, 28, 28))
    target = np.random.default_rng(1).integers(0, 10, N)
    rows = []

    def row(impl: str, peak: int | None):
        if peak is not None:
            mib = peak / 2**20
            rows.append(Timing(name, impl, shape, mib, mib, 1, {"unit": "MiB"}))

    X, Y = tg.tensor(x), tg.tensor(target)
    for label, kernel in tg_impls(run, kernel_backed=True):
        model = LeNet5()
        opt = tg.optim.Adam(model.parameters())

        def tg_step(model=model, opt=opt):
            cross_entropy(model(X), Y).backward()
            opt.step()

        with tg.use_kernel(kernel):
            for _ in range(2):  # optimizer state and kernels exist before the measured step
                tg_step()
                opt.zero_grad()
            row(label, traced_peak_bytes(tg_step))
    if run.torch is not None:
        torch = run.torch
        model = torch_lenet5(torch)
        opt = torch.optim.Adam(model.parameters())
        PX, PY = torch.from_numpy(x), torch.from_numpy(target)

        def torch_step():
            torch.nn.functional.cross_entropy(model(PX), PY).backward()
            opt.step()

        for _ in range(2):
            torch_step()
            opt.zero_grad()
        row(PEER, _torch_peak_bytes(torch, torch_step))
    floors = ((FLOOR, NpLeNet5(np, KernelLayers(np, run.kernels[-1]))),
              (BOUNDED_FLOOR, _bounded_lenet_floor(np, run.kernels[-1])))
    for label, floor in floors:
        floor.step(x, target)
        row(label, traced_peak_bytes(lambda floor=floor: floor.step(x, target)))
    return rows


BENCHES = {
    "gemm": bench_gemm,
    "conv2d": bench_conv2d,
    "maxpool": bench_maxpool,
    "lenet": bench_lenet,
    "mlp": bench_mlp,
    "attention": bench_attention,
    "lstm": bench_lstm,
    "autograd": bench_tiny_ops,
    "memory": bench_memory,
}


# ----------------------------------------------------------------------------------------------
# Ratios, goals, table, plot
# ----------------------------------------------------------------------------------------------


def merge_rounds(rounds: list[list[Timing]]) -> list[Timing]:
    """One row per (workload, impl, shape) from the rows of several rounds: the median of their
    medians (and of every numeric extra: cpu ms, faults, GFLOP/s), the min of their mins, all
    their repeats. One round is returned as it is."""
    if len(rounds) == 1:
        return rounds[0]
    groups: dict[tuple, list[Timing]] = {}
    for rows in rounds:
        for r in rows:
            groups.setdefault((r.name, r.impl, r.shape), []).append(r)
    merged = []
    for (name, impl, shape), rs in groups.items():  # in the order of the first round
        extra = dict(rs[0].extra)
        for key, value in extra.items():
            values = [r.extra[key] for r in rs if key in r.extra]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                extra[key] = round(statistics.median(values), 4)
        extra["rounds"] = len(rs)
        merged.append(Timing(name, impl, shape, statistics.median(r.median_ms for r in rs),
                             min(r.min_ms for r in rs), sum(r.repeats for r in rs), extra))
    return merged


def add_ratios(rows: list[Timing]) -> None:
    """extra["vs_torch"] / extra["vs_floor"]: median over the peer's median, same workload and
    shape (and the same for cpu ms: extra["cpu_vs_torch"], extra["cpu_vs_floor"]); and
    extra["vs_bounded_floor"] where a workload has the bounded-memory floor (LeNet-5)."""
    for key, impl in (("torch", PEER), ("floor", FLOOR), ("bounded_floor", BOUNDED_FLOOR)):
        base = {(r.name, r.shape): r for r in rows if r.impl == impl}
        for r in rows:
            b = base.get((r.name, r.shape))
            if b is None or b is r or b.median_ms <= 0:
                continue
            r.extra[f"vs_{key}"] = round(r.median_ms / b.median_ms, 3)
            if "cpu_ms" in r.extra and b.extra.get("cpu_ms"):
                r.extra[f"cpu_vs_{key}"] = round(r.extra["cpu_ms"] / b.extra["cpu_ms"], 3)


# (workload, the goal's peer, the largest ratio that meets it) from the performance issue: on
# the CPU, and on a GPU (where the issue sets one goal, the CuPy LeNet step against torch CUDA)
# (workload, peer, limit[, only the shapes that contain this text])
GOALS = (
    ("conv2d fwd+bwd", "torch", 1.5),
    ("max_pool2d 2x2 fwd+bwd", "torch", 0.5),
    ("attention fwd+bwd", "torch", 1.2, "T512"),
    ("MLP 784-128-10 step (Adam)", "torch", 1.0),
    ("LeNet-5 train step (Adam)", "torch", 1.5),
    ("LSTM fwd+bwd", "torch", 1.5),
    ("tiny op fwd+bwd", "torch", 1.0),
    ("peak memory LeNet-5 step", "torch", 1.5),
    ("MLP 784-128-10 step (Adam)", "floor", 1.1),
    ("LeNet-5 train step (Adam)", "floor", 1.1),
    ("LSTM fwd+bwd", "floor", 1.1),
)
GPU_GOALS = (
    ("LeNet-5 train step (Adam)", "torch", 2.0),
)


def check_goals(rows: list[Timing], device: str = "cpu") -> list[dict]:
    """One entry per goal of ``device`` and tinygrad_edu row: the ratio (median, and cpu time)
    and whether it meets the goal. The "reference" kernels are the readable test oracle, not a
    speed target: goals are checked with the fast kernels (numba, cuda)."""
    results = []
    for name, peer, limit, *shape in GPU_GOALS if device == "cuda" else GOALS:
        for r in rows:
            if r.name != name or not r.impl.startswith("tinygrad_edu") or "[reference]" in r.impl:
                continue
            if shape and shape[0] not in r.shape:
                continue
            ratio = r.extra.get(f"vs_{peer}")
            if ratio is None:
                continue
            cpu_ratio = r.extra.get(f"cpu_vs_{peer}")
            results.append({"workload": name, "impl": r.impl, "shape": r.shape, "vs": peer,
                            "goal": limit, "ratio": ratio, "cpu_ratio": cpu_ratio,
                            "met": ratio <= limit})
    return results


def add_round_ratios(goals: list[dict], rounds: list[list[Timing]], device: str = "cpu") -> None:
    """goal["round_ratios"]: each goal's ratio in every round alone, and goal["rounds_met"]: in
    how many of them it was met. The verdict stays the median's; the spread says how far it
    is from the machine's noise (a 1.02x median with rounds at 0.97x and 1.06x is a coin
    toss, a 1.39x with rounds at 1.36x-1.44x is not)."""
    if len(rounds) < 2:
        return
    per_round = []
    for rows in rounds:
        # add_ratios writes into extra: leave the measured rows alone
        rows = [replace(r, extra=dict(r.extra)) for r in rows]
        add_ratios(rows)
        per_round.append({_goal_key(g): g["ratio"] for g in check_goals(rows, device)})
    for g in goals:
        ratios = [r[_goal_key(g)] for r in per_round if _goal_key(g) in r]
        g["round_ratios"] = ratios
        g["rounds_met"] = sum(ratio <= g["goal"] for ratio in ratios)


def _goal_key(goal: dict) -> tuple:
    return goal["workload"], goal["impl"], goal["shape"], goal["vs"]


def _fmt_ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_table(rows: list[Timing]) -> None:
    header = (f"{'workload':<28} {'impl':<24} {'shape':<24} {'median':>9} {'min':>9} "
              f"{'cpu':>9} {'vs torch':>8} {'vs floor':>8}  extra")
    print(header)
    print("-" * len(header))
    for r in rows:
        extra = dict(r.extra)
        cpu = extra.pop("cpu_ms", None)
        ratios = [extra.pop(k, None) for k in ("vs_torch", "vs_floor")]
        for k in ("cpu_vs_torch", "cpu_vs_floor", "cpu_vs_bounded_floor"):
            extra.pop(k, None)
        unit = extra.pop("unit", "ms")
        rest = " ".join(f"{k}={v}" for k, v in extra.items())
        if unit != "ms":
            rest = f"[{unit}] {rest}"
        cpu_text = "-" if cpu is None else f"{cpu:.4g}"
        print(f"{r.name:<28} {r.impl:<24} {r.shape:<24} {r.median_ms:>9.4g} {r.min_ms:>9.4g} "
              f"{cpu_text:>9} {_fmt_ratio(ratios[0]):>8} {_fmt_ratio(ratios[1]):>8}  {rest}")


def print_goals(goals: list[dict]) -> None:
    if not goals:
        return
    rounds = "round_ratios" in goals[0]
    print("\ngoals from the performance issue (median ratio; cpu-time ratio in brackets"
          + ("; each round's ratio, and in how many rounds the goal was met" if rounds else "")
          + "):")
    for g in goals:
        cpu = "" if g["cpu_ratio"] is None else f" [{g['cpu_ratio']:.2f}x]"
        status = "met" if g["met"] else "NOT met"
        spread = ""
        if rounds:
            each = " ".join(f"{r:.2f}" for r in g["round_ratios"])
            spread = f"  (rounds {each}: {g['rounds_met']} of {len(g['round_ratios'])})"
        print(f"  {g['workload']:<28} {g['impl']:<24} {g['shape']:<24} <= {g['goal']:.1f}x "
              f"{g['vs']:<5}: {g['ratio']:.2f}x{cpu}  {status}{spread}")


def plot_ratios(rows: list[Timing], path: str) -> None:
    """Bar chart: every non-peer row's ratio to torch and to the floor (log scale, 1 = equal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("vs_torch", "time / torch's"), ("vs_floor", "time / NumPy floor's")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 9), squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], panels, strict=True):
        picked = [r for r in rows if key in r.extra]
        names = [f"{r.name}\n{r.shape}\n{r.impl}" for r in picked]
        values = [r.extra[key] for r in picked]
        colors = ["tab:blue" if r.impl.startswith("tinygrad_edu") else "tab:gray" for r in picked]
        ax.bar(range(len(values)), values, color=colors)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
    fig.suptitle("tinygrad_edu vs torch and vs a plain-NumPy floor (lower is better)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def limit_threads(n: int) -> None:
    """Pin BLAS (through threadpoolctl when present), Numba and torch to ``n`` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)  # for libraries loaded from now on
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # the BLAS NumPy has already loaded
    except ImportError:
        print("threadpoolctl not installed: NumPy's BLAS keeps its own thread count")
    import numba

    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--quick", action="store_true", help="fewer repeats (< 2 minutes)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes: a smoke test")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {WORKLOADS}")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1, help="threads per library")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the workloads this many times over; report medians of rounds")
    parser.add_argument("--json", default="bench_results/run.json", help="write results here")
    parser.add_argument("--plot", default=None, help="write a PNG bar chart of the ratios")
    parser.add_argument("--in-process", action="store_true",
                        help="run every workload in this process (default: one process each)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's malloc thresholds (default: fixed, see steady_malloc)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"--only: unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


class OthersShare(CpuSteal):
    """``CpuSteal`` that counts this run's worker processes as its own, not as "others"."""

    def __enter__(self):
        self._children0 = _children_cpu_seconds()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if self.share is not None:
            children = _children_cpu_seconds() - self._children0
            capacity = (time.perf_counter() - self._wall0) * (os.cpu_count() or 1)
            self.share = max(0.0, self.share - children / capacity)
        return False


def _children_cpu_seconds() -> float:
    t = os.times()
    return t.children_user + t.children_system


def steady_malloc() -> bool:
    """Fix glibc's malloc thresholds for this process, so that no implementation pays for the
    allocation history of another.

    By default glibc returns freed memory at the top of the heap to the OS (trim threshold)
    and serves large blocks with mmap, and it moves both thresholds as blocks are freed. A
    training step that frees tens of MiB at its end then touches fresh pages in the next step:
    thousands of page faults per step (``faults`` in the table), 1-3 us each on a busy virtual
    machine, and how many depends on what ran earlier in the process. Fixed thresholds (no
    trimming, mmap only above 32 MiB) make every step start from the same warm heap. Pass
    ``--default-malloc`` to measure with glibc's defaults instead.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        return bool(libc.mallopt(m_trim_threshold, 2**30)
                    and libc.mallopt(m_mmap_threshold, 32 * 2**20))
    except (OSError, AttributeError):  # not glibc: nothing to fix
        return False


def run_workloads(args) -> tuple[list[Timing], dict]:
    """Run the chosen workloads in this process; returns the rows and facts about the run."""
    steady = False if args.default_malloc else steady_malloc()
    limit_threads(args.threads)
    import tinygrad_edu as tg

    xp = np
    kernels: tuple = ("reference", "numba")
    if args.device == "cuda":
        if not tg.gpu_available():
            raise SystemExit("--device cuda: no CUDA GPU found through CuPy")
        import cupy

        xp, kernels = cupy, ("cuda",)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("torch is not installed: no peer, no 'vs torch' ratios")
    if args.tiny:
        shapes, warmup, repeats, min_seconds = TINY, 1, 2, 0.0
    elif args.quick:
        shapes, warmup, repeats, min_seconds = Shapes(), 2, 5, 0.1
    else:
        shapes, warmup, repeats, min_seconds = Shapes(), 3, 20, 0.5
    run = Run(shapes, args.device, kernels, warmup, repeats, min_seconds, args.threads, xp, torch)
    rows: list[Timing] = []
    for workload in WORKLOADS:
        if workload in args.workloads:
            start = time.perf_counter()
            rows += BENCHES[workload](run)
            print(f"  {workload}: {time.perf_counter() - start:.1f} s", flush=True)
    facts = {"kernels": list(kernels), "numpy": np.__version__,
             "torch": None if torch is None else torch.__version__, "steady_malloc": steady}
    return rows, facts


def run_in_workers(args, argv) -> tuple[list[Timing], dict]:
    """Each workload in a fresh process of its own: what one workload leaves behind (the
    allocator's free lists and thresholds, Numba's threads, torch's caches) can't speed up or
    slow down the next one, and every workload starts like a user's training script."""
    import json
    import subprocess
    import tempfile

    passed = _drop_options(argv if argv is not None else sys.argv[1:],
                           ("--only", "--json", "--plot", "--rounds"))
    rows: list[Timing] = []
    facts: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            out = os.path.join(tmp, f"{workload}.json")
            command = [sys.executable, os.path.abspath(__file__), *passed, "--worker",
                       "--only", workload, "--json", out]
            done = subprocess.run(command)
            if done.returncode != 0:
                raise SystemExit(f"workload {workload} failed (exit code {done.returncode})")
            with open(out) as f:
                payload = json.load(f)
            rows += [Timing(**r) for r in payload["results"]]
            facts = payload["meta"]
    return rows, facts


def _drop_options(argv: list, options: tuple) -> list:
    """argv without the ``options`` (as ``--opt value`` or ``--opt=value``)."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif not a.startswith(tuple(f"{o}=" for o in options)):
            kept.append(a)
    return kept


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:  # one workload for the driver below: raw rows, no table
        rows, facts = run_workloads(args)
        write_json(args.json, rows, facts)
        return 0
    started = time.perf_counter()
    rounds = []
    with OthersShare() as steal:
        for i in range(args.rounds):
            if args.rounds > 1:
                print(f"round {i + 1}/{args.rounds}", flush=True)
            if args.in_process:
                rows, facts = run_workloads(args)
            else:
                rows, facts = run_in_workers(args, argv)
            rounds.append(rows)
    rows = merge_rounds(rounds)
    add_ratios(rows)
    goals = check_goals(rows, args.device) if not args.tiny else []  # tiny shapes measure nothing
    add_round_ratios(goals, rounds, args.device)
    print()
    print_table(rows)
    print_goals(goals)
    if steal.share is not None:
        print(f"\nother processes took {steal.share:.0%} of the CPU during the run "
              f"({os.cpu_count()} cores; threads per library: {args.threads})")
    seconds = time.perf_counter() - started
    print(f"total {seconds:.0f} s")
    meta = {
        "cpu_share_of_other_processes": steal.share,
        "device": args.device,
        "threads": args.threads,
        "kernels": facts.get("kernels"),
        "mode": "tiny" if args.tiny else "quick" if args.quick else "full",
        "workloads": args.workloads,
        "one_process_per_workload": not args.in_process,
        "rounds": args.rounds,
        "steady_malloc": facts.get("steady_malloc"),
        "numpy": facts.get("numpy"),
        "torch": facts.get("torch"),
        "seconds": round(seconds, 1),
        "goals": goals,
        "time_unit": "ms per call, except rows whose extra.unit says otherwise (us/op, MiB)",
    }
    write_json(args.json, rows, meta)
    if args.plot:
        plot_ratios(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
