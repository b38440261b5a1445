"""Kernel benchmarks: every implementation of the conv, pool, attention, optim, activation,
normalization and loss kernels vs torch.

    python benchmarks/bench_kernels.py [--quick]
                                       [--family conv|pool|attention|optim|activation|norm|loss|all]
                                       [--device cpu|cuda] [--threads N]
                                       [--json bench_results/kernels.json]
                                       [--plot bench_results/kernels.png]

Three parts, each timed one implementation at a time in its own warmed-up block (Numba's JIT
and the thread pools never leak into another implementation's numbers):

(a) raw kernels, arrays in and arrays out, over a sweep of batch sizes: im2col / col2im (both
    layouts), max pool forward / backward, avg pool forward / backward; throughput in GB/s of
    the bytes a kernel must at least read and write.
(b) the Function-level ops forward + backward through autograd: conv2d with each kernel
    setting vs ``torch.nn.functional.conv2d`` (GFLOP/s counts the forward GEMM and the two
    backward ones), max_pool2d vs torch.
(c) attention forward + backward (``kernels/*/attention.py``, imported lazily) vs torch's
    ``scaled_dot_product_attention``.
(d) one Adam update of one float32 parameter (``kernels/*/optim.py``: ``adam_step``) vs
    ``torch.optim.Adam``'s step, single-tensor (``foreach=False``, the peer) and multi-tensor
    (``foreach=True``); GB/s of p, g, m, v read and p, m, v written.
(e) ReLU, leaky ReLU and GELU forward and backward, the sigmoid's and erf's forward, on arrays
    (``kernels/*/activation.py``) vs torch's kernels for the same steps; GB/s of x (and dy) read
    and the result written.
(f) batch norm in training mode and layer norm: the forward and backward kernels on arrays
    (``kernels/*/norm.py``; no CUDA kernels: CuPy runs the composite ops) vs torch's
    ``native_batch_norm``/``native_layer_norm`` and their backward, and ``batch_norm`` /
    ``layer_norm`` forward + backward through autograd (the fused op under "numba", the
    composite under "reference") vs torch's; GB/s of x (and dy) read and y (dx) written.
(g) softmax cross entropy of a batch of logits at class indices: every row's loss and its
    gradient in one call on arrays (``kernels/*/loss.py``; no CUDA kernel) vs torch's
    ``cross_entropy(reduction="none")`` forward + backward, and ``cross_entropy`` forward +
    backward through autograd ("numba": ``CrossEntropyRows``, "reference": the array code) vs
    torch's; GB/s of x read and dx written.

Implementations: ``reference`` (NumPy), ``numba`` (Numba CPU), ``cuda`` (Numba CUDA on CuPy
arrays, only when CuPy sees a real GPU) and ``torch`` (the peer; the ratio column divides by
it). ``max err`` is the largest absolute difference from the reference implementation.
``--device cuda`` times only the GPU implementations, with torch on the GPU as the peer.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CpuSteal, Timing, summary, time_block, write_json  # noqa: E402

PEER = "torch"


# ----------------------------------------------------------------------------------------------
# Where things run
# ----------------------------------------------------------------------------------------------


def real_gpu() -> bool:
    """A real CUDA device through CuPy (never through numba: the simulator reports one)."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@dataclass
class Setup:
    quick: bool
    device: str  # "cpu" or "cuda"
    gpu: bool  # a real GPU is present

    @property
    def timing(self) -> dict:
        if self.quick:
            return dict(warmup=1, repeats=3, min_seconds=0.0)
        return dict(warmup=3, repeats=10, min_seconds=0.3)

    def kernel_impls(self) -> list[str]:
        """Kernel packages to time: reference, cpu (Numba) and cuda, by device."""
        if self.device == "cuda":
            return ["cuda"]
        return ["reference", "cpu"] + (["cuda"] if self.gpu else [])


IMPL_NAME = {"reference": "reference", "cpu": "numba", "cuda": "cuda"}  # package -> label


def sync_gpu() -> None:
    import cupy

    cupy.cuda.Device().synchronize()


def to_impl(array, impl: str):
    """The array where ``impl`` wants it: CuPy for cuda, NumPy otherwise."""
    if impl == "cuda":
        import cupy

        return cupy.asarray(array)
    return array


def to_host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def max_abs_err(outputs, expected) -> float:
    """Largest |a - b| over matching output arrays (NaN-free inputs are assumed)."""
    if not isinstance(outputs, (tuple, list)):
        outputs = (outputs,)
    if not isinstance(expected, (tuple, list)):
        expected = (expected,)
    assert len(outputs) == len(expected), f"{len(outputs)} outputs vs {len(expected)} expected"
    worst = 0.0
    for a, b in zip(outputs, expected):
        a = to_host(a).astype(np.float64)
        b = to_host(b).astype(np.float64)
        worst = max(worst, float(np.max(np.abs(a - b))) if a.size else 0.0)
    return worst


def timed(setup: Setup, fn, on_gpu: bool) -> tuple[float, float, int]:
    return time_block(fn, sync=sync_gpu if on_gpu else None, **setup.timing)


def row(name, impl, shape, timing, size, throughput=None, unit="GB/s", err=None, family=""):
    median, low, n = timing
    extra = {"family": family, "size_mb": round(size, 4), "max_abs_err": err}
    if throughput is not None:
        extra[unit] = round(throughput / (low * 1e-3) / 1e9, 3)  # best sample's rate
    return Timing(name, impl, shape, median, low, n, extra)


# ----------------------------------------------------------------------------------------------
# (a) raw kernels
# ----------------------------------------------------------------------------------------------


def conv_raw_cases(quick: bool):
    """(x shape, (KH, KW), stride, padding, dilation): a sweep over the batch size."""
    if quick:
        return [((n, 2, 6, 6), (3, 3), (1, 1), (1, 1), (1, 1)) for n in (1, 2)]
    return [((n, 32, 16, 16), (3, 3), (1, 1), (1, 1), (1, 1)) for n in (8, 32, 128)]


def pool_raw_cases(quick: bool):
    """(x shape, kernel, stride, padding): a sweep over the batch size."""
    if quick:
        return [((n, 2, 6, 6), 2, 2, 0) for n in (1, 2)]
    return [((n, 32, 32, 32), 2, 2, 0) for n in (8, 32, 128)]


def torch_conv_raw(name, x, cols, args):
    """torch's unfold / fold are the per-sample im2col / col2im."""
    import torch.nn.functional as TF

    KH, KW, stride, padding, dilation = args
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    if name == "im2col":
        return functools.partial(TF.unfold, x, (KH, KW), **kw)
    return functools.partial(TF.fold, cols, x.shape[2:], (KH, KW), **kw)


def bench_conv_raw(setup: Setup) -> list[Timing]:
    rows = []
    rng = np.random.default_rng(0)
    for shape, kernel, stride, padding, dilation in conv_raw_cases(setup.quick):
        args = (*kernel, stride, padding, dilation)
        x = rng.standard_normal(shape).astype(np.float32)
        ref = importlib.import_module("tinygrad_edu.kernels.reference.conv")
        inputs = {
            "im2col": (x,),
            "col2im": (ref.im2col(x, *args),),
            "im2col_gemm": (x,),
            "col2im_gemm": (ref.im2col_gemm(x, *args),),
        }
        inputs["col2im"] = (rng.standard_normal(inputs["col2im"][0].shape).astype(np.float32),)
        inputs["col2im_gemm"] = (
            rng.standard_normal(inputs["col2im_gemm"][0].shape).astype(np.float32),
        )
        for name, (a,) in inputs.items():
            folding = name.startswith("col2im")
            call_args = (shape, *args) if folding else args
            expected = getattr(ref, name)(a, *call_args)
            moved = (a.nbytes + expected.nbytes) / 1e6  # MB read + written
            label = f"{name} {kernel[0]}x{kernel[1]}"
            for impl in setup.kernel_impls():
                module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.conv")
                fn = getattr(module, name)
                call = functools.partial(fn, to_impl(a, impl), *call_args)
                out = call()
                t = timed(setup, call, impl == "cuda")
                rows.append(row(label, IMPL_NAME[impl], str(shape), t, moved, moved * 1e6,
                                err=max_abs_err(out, expected), family="conv"))
            if name in ("im2col", "col2im"):
                rows += torch_raw_row(setup, label, shape, moved, expected, "conv",
                                      torch_conv_raw, name, x, a, args=args)
    return rows


def torch_raw_row(setup, label, shape, moved, expected, family, make, name, *arrays, **kw):
    """One torch row for a raw kernel: ``make(name, *tensors, **kw)`` returns the call to time,
    the tensors being ``arrays`` on torch's device."""
    try:
        import torch
    except ImportError:
        return []
    device = "cuda" if setup.device == "cuda" else "cpu"
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays]
    fn = make(name, *tensors, **kw)
    out = fn()
    outs = out if isinstance(out, tuple) else (out,)
    err = max_abs_err([o.detach().cpu().numpy() for o in outs], expected)
    sync = torch.cuda.synchronize if device == "cuda" else None
    t = time_block(fn, sync=sync, **setup.timing)
    return [row(label, PEER, str(shape), t, moved, moved * 1e6, err=err, family=family)]


def bench_pool_raw(setup: Setup) -> list[Timing]:
    rows = []
    rng = np.random.default_rng(0)
    ref = importlib.import_module("tinygrad_edu.kernels.reference.pool")
    for shape, k, s, p in pool_raw_cases(setup.quick):
        x = rng.standard_normal(shape).astype(np.float32)
        y, argmax = ref.max_pool2d_forward(x, k, s, p, 1, False)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        avg = (k, s, p, False, True)  # kernel, stride, padding, ceil_mode, count_include_pad
        calls = {
            # name: (function name, inputs, extra arguments)
            "max_pool fwd": ("max_pool2d_forward", (x,), (k, s, p, 1, False)),
            "max_pool bwd": ("max_pool2d_backward", (dy, argmax), (shape,)),
            "avg_pool fwd": ("avg_pool2d_forward", (x,), avg),
            "avg_pool bwd": ("avg_pool2d_backward", (dy,), (shape, *avg)),
        }
        for name, (fname, arrays, extra) in calls.items():
            expected = getattr(ref, fname)(*arrays, *extra)
            outs = expected if isinstance(expected, tuple) else (expected,)
            moved = sum(a.nbytes for a in (*arrays, *outs)) / 1e6
            label = f"{name} {k}x{k}/{s}"
            for impl in setup.kernel_impls():
                fn = getattr(importlib.import_module(f"tinygrad_edu.kernels.{impl}.pool"), fname)
                call = functools.partial(fn, *[to_impl(a, impl) for a in arrays], *extra)
                out = call()
                t = timed(setup, call, impl == "cuda")
                rows.append(row(label, IMPL_NAME[impl], str(shape), t, moved, moved * 1e6,
                                err=max_abs_err(out, expected), family="pool"))
            rows += torch_raw_row(setup, label, shape, moved, outs, "pool", torch_pool_raw,
                                  fname, x, dy, argmax, window=(k, s, p))
    return rows


def torch_pool_raw(fname, x, dy, argmax, window):
    """torch's pooling forward ops and the aten backward ops autograd calls."""
    import torch
    import torch.nn.functional as TF

    k, s, p = window
    aten = torch.ops.aten
    if fname == "max_pool2d_forward":
        return functools.partial(TF.max_pool2d, x, k, s, p, return_indices=True)
    if fname == "max_pool2d_backward":
        return functools.partial(aten.max_pool2d_with_indices_backward,
                                 dy, x, [k, k], [s, s], [p, p], [1, 1], False, argmax)
    if fname == "avg_pool2d_forward":
        return functools.partial(TF.avg_pool2d, x, k, s, p)
    return functools.partial(aten.avg_pool2d_backward,
                             dy, x, [k, k], [s, s], [p, p], False, True, None)


# ----------------------------------------------------------------------------------------------
# (b) Function-level ops, forward + backward through autograd
# ----------------------------------------------------------------------------------------------


def conv_op_cases(quick: bool):
    """(x shape, weight shape, padding): two 3x3 CNN layers and LeNet-5's two 5x5 layers."""
    if quick:
        return [((2, 3, 8, 8), (4, 3, 3, 3), 1), ((2, 1, 12, 12), (2, 1, 5, 5), 0)]
    return [
        ((64, 3, 32, 32), (32, 3, 3, 3), 1),
        ((64, 32, 16, 16), (64, 32, 3, 3), 1),
        ((64, 1, 28, 28), (6, 1, 5, 5), 0),
        ((64, 6, 12, 12), (16, 6, 5, 5), 0),
    ]


def pool_op_cases(quick: bool):
    """(x shape, kernel, stride, padding): 2x2 and torchvision's 3x3/2 max pooling."""
    if quick:
        return [((2, 2, 8, 8), 2, 2, 0), ((2, 2, 8, 8), 3, 2, 1)]
    shapes = [(64, 32, 32, 32), (64, 64, 16, 16)]
    return [(shape, k, s, p) for shape in shapes for k, s, p in ((2, 2, 0), (3, 2, 1))]


def op_settings(setup: Setup) -> list[tuple[str, str]]:
    """(Config.kernel value, device) pairs to time at the Function level."""
    if setup.device == "cuda":
        return [("cuda", "cuda")]
    return [("reference", "cpu"), ("numba", "cpu")] + ([("cuda", "cuda")] if setup.gpu else [])


def _forward_backward_step(forward, tensors, dy):
    """A step for the timer: y = forward(*tensors), y.backward(dy); returns y and the input
    gradients, and clears them for the next call (the same code for tinygrad_edu and torch)."""

    def step():
        y = forward(*tensors)
        y.backward(dy)
        grads = [t.grad for t in tensors]
        for t in tensors:
            t.grad = None
        return y, grads

    return step


def time_tinygrad_op(setup, forward, arrays, dy, kernel, device):
    """Median/min ms of forward + backward, and the outputs (y and every input gradient)."""
    import tinygrad_edu as tg

    with tg.use_kernel(kernel):
        tensors = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
        step = _forward_backward_step(forward, tensors, tg.tensor(dy, device=device))
        y, grads = step()
        outputs = [y.detach().numpy()] + [g.numpy() for g in grads]
        t = timed(setup, step, device == "cuda")
    return t, outputs


def time_torch_op(setup, forward, arrays, dy):
    import torch

    device = "cuda" if setup.device == "cuda" else "cpu"
    tensors = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]
    step = _forward_backward_step(forward, tensors, torch.tensor(dy, device=device))
    y, grads = step()
    outputs = [y.detach().cpu().numpy()] + [g.cpu().numpy() for g in grads]
    sync = torch.cuda.synchronize if device == "cuda" else None
    return time_block(step, sync=sync, **setup.timing), outputs


def bench_op(setup, name, shape_label, arrays, dy, ours, theirs, work, unit, family):
    """Time ``ours`` with every kernel setting and ``theirs`` (torch); errors vs reference."""
    rows = []
    size = arrays[0].nbytes / 1e6
    expected = None
    for kernel, device in op_settings(setup):
        t, outputs = time_tinygrad_op(setup, ours, arrays, dy, kernel, device)
        if expected is None:
            expected = outputs  # the first setting is the reference (or the only one)
        rows.append(row(name, f"tinygrad_edu[{kernel}]", shape_label, t, size, work, unit,
                        max_abs_err(outputs, expected), family))
    try:
        t, outputs = time_torch_op(setup, theirs, arrays, dy)
        rows.append(row(name, PEER, shape_label, t, size, work, unit,
                        max_abs_err(outputs, expected), family))
    except ImportError:
        pass
    return rows


def bench_conv_ops(setup: Setup) -> list[Timing]:
    import tinygrad_edu.functional as F

    try:
        import torch.nn.functional as TF
    except ImportError:
        TF = None
    rows = []
    rng = np.random.default_rng(1)
    for x_shape, w_shape, padding in conv_op_cases(setup.quick):
        N, C, H, W = x_shape
        OC, _, KH, KW = w_shape
        OH, OW = H + 2 * padding - KH + 1, W + 2 * padding - KW + 1
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (rng.standard_normal(w_shape) / math.sqrt(C * KH * KW)).astype(np.float32)
        b = rng.standard_normal(OC).astype(np.float32)
        dy = rng.standard_normal((N, OC, OH, OW)).astype(np.float32)
        flops = 3 * 2 * N * OC * OH * OW * C * KH * KW  # forward, dx and dW GEMMs
        label = f"{x_shape} -> {OC}, {KH}x{KW} pad {padding}"
        rows += bench_op(
            setup, "conv2d fwd+bwd", label, [x, w, b], dy,
            functools.partial(F.conv2d, padding=padding),
            functools.partial(TF.conv2d, padding=padding),
            flops, "GFLOP/s", "conv",
        )
    return rows


def winograd_cases(quick: bool):
    """(x shape, OC): 3x3 pad-1 layers that conv2d runs as Winograd (harmonic mean of the
    channels >= 32): run.py's 64x32x16x16, a ResNet stage, an odd 7 x 7 plane."""
    if quick:
        return [((8, 32, 8, 8), 32)]  # 8 * 4 * 4 tiles: conv2d's least for Winograd
    return [((64, 32, 16, 16), 64), ((32, 64, 16, 16), 64), ((64, 128, 7, 7), 128)]


def _tg_weight_grad(x, dy, padding, w_shape, conv_module):
    """conv2d's weight gradient from x and dy (``Conv2dWeightGrad``), stride 1."""
    pair = (padding, padding)
    spec = conv_module._conv_spec(x, 1, (1, 1), pair, (1, 1), x.shape[1] * 9 * dy.shape[2]
                                  * dy.shape[3])
    return conv_module.conv2d_weight_grad(x, dy, w_shape, spec)


def _torch_weight_grad(x, dy, padding, w_shape):
    import torch

    return torch.nn.grad.conv2d_weight(x, w_shape, dy, padding=padding)


def bench_winograd(setup: Setup) -> list[Timing]:
    """conv2d's forward, input gradient (conv_transpose2d of dy, the same product) and weight
    gradient with the Numba kernels as Winograd F(2x2, 3x3) and as im2col + GEMM
    (``WINOGRAD`` off), against torch; GFLOP/s of the direct convolution's 2 N OC C 9 H W,
    errors against float64 torch."""
    if setup.device == "cuda":
        return []  # a CPU kernel: on a GPU conv2d is im2col + cuBLAS
    if not importlib.import_module("tinygrad_edu.kernels.cpu.gemm").NUMBA_GEMM:
        print("winograd: off on this CPU (no AVX-512: the Numba GEMM hands products to BLAS)")
        return []
    import tinygrad_edu as tg
    import tinygrad_edu.functional as F

    conv_module = importlib.import_module("tinygrad_edu.functional.conv")
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        torch = TF = None
    rows = []
    rng = np.random.default_rng(7)
    for x_shape, OC in winograd_cases(setup.quick):
        N, C, H, W = x_shape
        x = rng.standard_normal(x_shape).astype(np.float32)
        dy = rng.standard_normal((N, OC, H, W)).astype(np.float32)
        w = (rng.standard_normal((OC, C, 3, 3)) / math.sqrt(9 * C)).astype(np.float32)
        flops, size = 2 * N * OC * C * 9 * H * W, x.nbytes / 1e6
        label = f"{x_shape} -> {OC}, 3x3 pad 1"
        spec = conv_module._conv_spec(tg.tensor(x), 1, (1, 1), (1, 1), (1, 1), 9 * C * H * W)
        gemm = tg.backend.numba_float_kernels("gemm", x, w)
        if conv_module._winograd_kernels(spec, w.shape, C, OC, dy.shape, gemm, x, w) is None:
            raise RuntimeError(f"bench_winograd: conv2d would not take Winograd for {label}")
        steps = {  # name: (ours, theirs, (a, b)), each called as f(a, b, padding=1)
            "conv2d 3x3 forward": (F.conv2d, getattr(TF, "conv2d", None), (x, w)),
            "conv2d 3x3 input grad": (F.conv_transpose2d, getattr(TF, "conv_transpose2d", None),
                                      (dy, w)),
            "conv2d 3x3 weight grad": (
                functools.partial(_tg_weight_grad, w_shape=w.shape, conv_module=conv_module),
                functools.partial(_torch_weight_grad, w_shape=w.shape), (x, dy)),
        }
        for name, (ours, theirs, (a, b)) in steps.items():
            expected = None
            if torch is not None:
                expected = theirs(torch.from_numpy(a.astype(np.float64)),
                                  torch.from_numpy(b.astype(np.float64)), padding=1).numpy()
            for impl, winograd in (("numba winograd", True), ("numba im2col", False)):
                previous, conv_module.WINOGRAD = conv_module.WINOGRAD, winograd
                try:
                    call = functools.partial(ours, tg.tensor(a), tg.tensor(b), padding=1)
                    err = None if expected is None else max_abs_err(call().numpy(), expected)
                    rows.append(row(name, impl, label, timed(setup, call, False), size, flops,
                                    "GFLOP/s", err, "conv"))
                finally:
                    conv_module.WINOGRAD = previous
            if torch is not None:
                call = functools.partial(theirs, torch.from_numpy(a), torch.from_numpy(b),
                                         padding=1)
                rows.append(row(name, PEER, label, time_block(call, **setup.timing), size,
                                flops, "GFLOP/s", max_abs_err(call().numpy(), expected),
                                "conv"))
    return rows


def bench_pool_ops(setup: Setup) -> list[Timing]:
    import tinygrad_edu.functional as F

    try:
        import torch.nn.functional as TF
    except ImportError:
        TF = None
    rows = []
    rng = np.random.default_rng(2)
    for shape, k, s, p in pool_op_cases(setup.quick):
        x = rng.standard_normal(shape).astype(np.float32)
        OH = (shape[2] + 2 * p - k) // s + 1
        OW = (shape[3] + 2 * p - k) // s + 1
        dy = rng.standard_normal((*shape[:2], OH, OW)).astype(np.float32)
        moved = 2 * (x.nbytes + dy.nbytes)  # read x, write y; read dy, write dx
        rows += bench_op(
            setup, f"max_pool2d {k}x{k}/{s} fwd+bwd", str(shape), [x], dy,
            functools.partial(F.max_pool2d, kernel_size=k, stride=s, padding=p),
            functools.partial(TF.max_pool2d, kernel_size=k, stride=s, padding=p),
            moved, "GB/s", "pool",
        )
    return rows


# ----------------------------------------------------------------------------------------------
# (c) attention (kernels/*/attention.py are imported lazily: another family, another owner)
# ----------------------------------------------------------------------------------------------


def attention_module(impl: str):
    """``tinygrad_edu.kernels.<impl>.attention`` if it has attention_forward/_backward."""
    try:
        module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.attention")
    except ImportError:
        return None
    if hasattr(module, "attention_forward") and hasattr(module, "attention_backward"):
        return module
    return None


def attention_cases(quick: bool):
    """(B, nh, T, hs)."""
    if quick:
        return [(1, 2, 16, 8), (1, 2, 32, 8)]
    return [(8, 4, 128, 64), (8, 4, 512, 64)]


def bench_attention(setup: Setup) -> list[Timing]:
    reference = attention_module("reference")
    if reference is None:
        print("attention: kernels/reference/attention.py has no attention_forward/backward yet")
        return []
    rows = []
    rng = np.random.default_rng(3)
    for B, nh, T, hs in attention_cases(setup.quick):
        q, k, v, dout = (rng.standard_normal((B, nh, T, hs)).astype(np.float32)
                         for _ in range(4))
        out, lse = reference.attention_forward(q, k, v)
        expected = (out, *reference.attention_backward(dout, q, k, v, out, lse))
        flops = 4 * B * nh * T * T * hs * 3.5  # QK^T, PV; backward: dV, dP, dQ, dK (+ recompute)
        size = q.nbytes / 1e6
        label = f"(B, nh, T, hs)=({B}, {nh}, {T}, {hs})"
        for impl in setup.kernel_impls():
            module = attention_module(impl)
            if module is None:
                continue
            arrays = [to_impl(a, impl) for a in (q, k, v, dout)]

            def step(module=module, arrays=arrays):
                q_, k_, v_, dout_ = arrays
                o, l_ = module.attention_forward(q_, k_, v_)
                return (o, *module.attention_backward(dout_, q_, k_, v_, o, l_))

            err = max_abs_err(step(), expected)
            t = timed(setup, step, impl == "cuda")
            rows.append(row("attention fwd+bwd", IMPL_NAME[impl], label, t, size, flops,
                            "GFLOP/s", err, "attention"))
        rows += torch_attention_row(setup, (q, k, v, dout), expected, label, size, flops)
    return rows


def torch_attention_row(setup, arrays, expected, label, size, flops):
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        return []
    device = "cuda" if setup.device == "cuda" else "cpu"
    q, k, v = (torch.tensor(a, device=device, requires_grad=True) for a in arrays[:3])
    dout = torch.tensor(arrays[3], device=device)

    def step():
        o = TF.scaled_dot_product_attention(q, k, v)
        o.backward(dout)
        grads = (q.grad, k.grad, v.grad)
        q.grad = k.grad = v.grad = None
        return (o.detach(), *grads)

    err = max_abs_err([a.cpu().numpy() for a in step()], expected)
    sync = torch.cuda.synchronize if device == "cuda" else None
    t = time_block(step, sync=sync, **setup.timing)
    return [row("attention fwd+bwd", PEER, label, t, size, flops, "GFLOP/s", err, "attention")]


# ----------------------------------------------------------------------------------------------
# (d) optimizer updates
# ----------------------------------------------------------------------------------------------


def adam_cases(quick: bool):
    """Shapes of the one parameter: the MLP's 128x784 weight and a million elements."""
    if quick:
        return [(7, 5), (1000,)]
    return [(128, 784), (1 << 20,)]


ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)  # torch's defaults


def bench_adam_raw(setup: Setup) -> list[Timing]:
    rows = []
    rng = np.random.default_rng(4)
    ref = importlib.import_module("tinygrad_edu.kernels.reference.optim")
    (beta1, beta2), lr = ADAM["betas"], ADAM["lr"]
    # every call is step 1 (its bias corrections): the times do not depend on the step
    scalars = (beta1, beta2, lr / (1 - beta1), (1 - beta2) ** 0.5, ADAM["eps"])
    for shape in adam_cases(setup.quick):
        p, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        size = p.nbytes / 1e6
        moved = 7 * size  # MB: p, g, m, v read; p, m, v written
        expected = [p.copy(), np.zeros_like(p), np.zeros_like(p)]  # p, m, v after one step
        ref.adam_step(expected[0], g, expected[1], expected[2], *scalars)
        for impl in setup.kernel_impls():
            module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.optim")
            state = [to_impl(a, impl) for a in (p.copy(), np.zeros_like(p), np.zeros_like(p))]
            call = functools.partial(module.adam_step, state[0], to_impl(g, impl), state[1],
                                     state[2], *scalars)
            call()
            err = max_abs_err([a.copy() for a in state], expected)  # one step from the start
            t = timed(setup, call, impl == "cuda")
            rows.append(row("adam step", IMPL_NAME[impl], str(shape), t, size, moved * 1e6,
                            err=err, family="optim"))
        rows += torch_adam_rows(setup, p, g, expected, str(shape), size, moved)
    return rows


def torch_adam_rows(setup, p, g, expected, shape, size, moved):
    """``torch.optim.Adam([param]).step()`` with the gradient in place, both implementations."""
    try:
        import torch
    except ImportError:
        return []
    device = "cuda" if setup.device == "cuda" else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else None
    rows = []
    for foreach, impl in ((False, PEER), (True, f"{PEER}[foreach]")):
        param = torch.tensor(p, requires_grad=True, device=device)
        param.grad = torch.tensor(g, device=device)
        opt = torch.optim.Adam([param], foreach=foreach, **ADAM)
        opt.step()
        state = opt.state[param]
        outputs = [t.detach().cpu().numpy()
                   for t in (param, state["exp_avg"], state["exp_avg_sq"])]
        err = max_abs_err(outputs, expected)
        t = time_block(opt.step, sync=sync, **setup.timing)
        rows.append(row("adam step", impl, shape, t, size, moved * 1e6, err=err, family="optim"))
    return rows


# ----------------------------------------------------------------------------------------------
# (f) batch norm
# ----------------------------------------------------------------------------------------------


def norm_cases(quick: bool):
    """(kernel, float32 shape): the CNNs' BatchNorm2d layers (VGG-small's, batch 64) and the
    GPT example's LayerNorm (batch 32 x 64 tokens x 128)."""
    if quick:
        return [("batch_norm", (4, 3, 5, 5)), ("layer_norm", (4, 5, 8))]
    return [("batch_norm", (64, 32, 28, 28)), ("batch_norm", (64, 64, 14, 14)),
            ("batch_norm", (64, 128, 7, 7)), ("layer_norm", (32, 64, 128))]


def _norm_view(kernel: str, array):
    """The kernels' layout: (N, C, L) for batch norm, (R, D) for layer norm."""
    if kernel == "batch_norm":
        return array.reshape(array.shape[0], array.shape[1], -1)
    return array.reshape(-1, array.shape[-1])


def _no_cuda_family(setup: Setup, family: str):
    """The reference module of a family without CUDA kernels (norm, loss: CuPy runs array code)
    and the implementations to time."""
    ref = importlib.import_module(f"tinygrad_edu.kernels.reference.{family}")
    return ref, [i for i in setup.kernel_impls() if i != "cuda"]


def bench_norm(setup: Setup) -> list[Timing]:
    rows = []
    rng = np.random.default_rng(6)
    ref, impls = _no_cuda_family(setup, "norm")
    for kernel, shape in norm_cases(setup.quick):
        x, dy = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        features = shape[1] if kernel == "batch_norm" else shape[-1]
        weight, bias = np.ones(features, np.float32), np.zeros(features, np.float32)
        xv, dyv = _norm_view(kernel, x), _norm_view(kernel, dy)
        size = x.nbytes / 1e6
        y_ref, mean, var = getattr(ref, kernel + "_forward")(xv, weight, bias, 1e-5)
        grads_ref = getattr(ref, kernel + "_backward")(dyv, xv, mean, var, weight, 1e-5)
        for impl in impls:
            module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.norm")
            forward = functools.partial(getattr(module, kernel + "_forward"), xv, weight, bias,
                                        1e-5)
            backward = functools.partial(getattr(module, kernel + "_backward"), dyv, xv, mean,
                                         var, weight, 1e-5)
            rows.append(row(f"{kernel} forward", IMPL_NAME[impl], str(shape),
                            timed(setup, forward, False), size, 2 * size * 1e6,
                            err=max_abs_err(forward()[0], y_ref), family="norm"))
            rows.append(row(f"{kernel} backward", IMPL_NAME[impl], str(shape),
                            timed(setup, backward, False), size, 3 * size * 1e6,
                            err=max_abs_err(backward(), grads_ref), family="norm"))
        rows += torch_norm_rows(setup, kernel, x, dy, str(shape), size, (y_ref, *grads_ref))
        ours, theirs = _NORM_OPS[kernel]
        rows += bench_op(setup, f"{kernel} fwd+bwd", str(shape), [x, weight, bias], dy, ours,
                         theirs, 5 * size * 1e6, "GB/s", "norm")
    return rows


def loss_cases(quick: bool):
    """(N, C) float32 logits: the MNIST classifiers' batch (64 x 10), then wider ones."""
    if quick:
        return [(4, 3), (5, 7)]
    return [(64, 10), (256, 100), (1024, 1000)]


def bench_loss(setup: Setup) -> list[Timing]:
    rows = []
    rng = np.random.default_rng(7)
    ref, impls = _no_cuda_family(setup, "loss")
    for N, C in loss_cases(setup.quick):
        x = (rng.standard_normal((N, C)) * 3).astype(np.float32)
        t = rng.integers(0, C, N)
        shape, size = f"({N}, {C})", x.nbytes / 1e6
        expected = ref.cross_entropy_forward(x, t)[:2]  # losses, dx
        for impl in impls:
            module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.loss")
            step = functools.partial(module.cross_entropy_forward, x, t)
            rows.append(row("cross_entropy loss+grad", IMPL_NAME[impl], shape,
                            timed(setup, step, False), size, 2 * size * 1e6,
                            err=max_abs_err(step()[:2], expected), family="loss"))
        rows += _loss_op_rows(setup, x, t, shape, size, expected)
    return rows


def _loss_op_rows(setup, x, t, shape, size, expected):
    """The raw step in torch, and ``cross_entropy`` (mean) forward + backward through autograd
    with each kernel setting and in torch. Errors: the raw rows against the reference's losses
    and dx; the op rows against the reference's mean and dx / N."""
    import tinygrad_edu as tg
    from tinygrad_edu.nn import functional as NF

    rows = []
    mean_expected = (expected[0].mean(), expected[1] / len(t))
    for kernel, device in op_settings(setup):
        if device != "cpu":
            continue
        with tg.use_kernel(kernel):
            tx, tt = tg.tensor(x, requires_grad=True), tg.tensor(t)
            step = _loss_step(lambda tx=tx, tt=tt: NF.cross_entropy(tx, tt), tx)
            err = max_abs_err(step(), mean_expected)
            rows.append(row("cross_entropy fwd+bwd", f"tinygrad_edu[{kernel}]", shape,
                            timed(setup, step, False), size, 2 * size * 1e6, err=err,
                            family="loss"))
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        return rows
    tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
    ones = torch.ones(len(t))
    raw = _loss_step(lambda: TF.cross_entropy(tx, tt, reduction="none"), tx, ones)
    rows.append(row("cross_entropy loss+grad", PEER, shape, timed(setup, raw, False), size,
                    2 * size * 1e6, err=max_abs_err(raw(), expected), family="loss"))
    step = _loss_step(lambda: TF.cross_entropy(tx, tt), tx)
    rows.append(row("cross_entropy fwd+bwd", PEER, shape, timed(setup, step, False), size,
                    2 * size * 1e6, err=max_abs_err(step(), mean_expected), family="loss"))
    return rows


def _loss_step(loss_fn, x, upstream=None):
    """A step for the timer: loss = loss_fn(), its backward (from ``upstream``), and the loss
    and x's gradient as arrays (tinygrad_edu and torch alike)."""

    def step():
        loss = loss_fn()
        loss.backward(upstream)
        grad, x.grad = x.grad, None
        return loss.detach().numpy(), grad.numpy()

    return step


def _tg_batch_norm(x, weight, bias):
    from tinygrad_edu.nn import functional as NF

    return NF.batch_norm(x, None, None, weight, bias, training=True)


def _torch_batch_norm(x, weight, bias):
    import torch.nn.functional as TF

    return TF.batch_norm(x, None, None, weight, bias, training=True)


def _tg_layer_norm(x, weight, bias):
    from tinygrad_edu.nn import functional as NF

    return NF.layer_norm(x, tuple(weight.shape), weight, bias)


def _torch_layer_norm(x, weight, bias):
    import torch.nn.functional as TF

    return TF.layer_norm(x, tuple(weight.shape), weight, bias)


_NORM_OPS = {"batch_norm": (_tg_batch_norm, _torch_batch_norm),
             "layer_norm": (_tg_layer_norm, _torch_layer_norm)}


def torch_norm_rows(setup, kernel, x, dy, shape, size, expected):
    """torch's own kernels for the two steps (aten's native_batch_norm / native_layer_norm and
    their backward)."""
    try:
        import torch
    except ImportError:
        return []
    tx, tdy = torch.tensor(x), torch.tensor(dy)
    features = x.shape[1] if kernel == "batch_norm" else x.shape[-1]
    weight, bias = torch.ones(features), torch.zeros(features)
    if kernel == "batch_norm":
        forward = functools.partial(torch.native_batch_norm, tx, weight, bias, None, None,
                                    True, 0.1, 1e-5)
        _, mean, invstd = forward()
        backward = functools.partial(torch.ops.aten.native_batch_norm_backward, tdy, tx, weight,
                                     None, None, mean, invstd, True, 1e-5, [True] * 3)
    else:
        forward = functools.partial(torch.native_layer_norm, tx, [features], weight, bias,
                                    1e-5)
        _, mean, rstd = forward()
        backward = functools.partial(torch.ops.aten.native_layer_norm_backward, tdy, tx,
                                     [features], mean, rstd, weight, bias, [True] * 3)
    y, (dx, dweight, dbias) = forward()[0], backward()
    y_ref, dx_ref, dweight_ref, dbias_ref = expected
    return [row(f"{kernel} forward", PEER, shape, time_block(forward, **setup.timing), size,
                2 * size * 1e6, err=max_abs_err(y.reshape(y_ref.shape).numpy(), y_ref),
                family="norm"),
            row(f"{kernel} backward", PEER, shape, time_block(backward, **setup.timing), size,
                3 * size * 1e6, family="norm",
                err=max_abs_err([dx.reshape(dx_ref.shape).numpy(), dweight.numpy(),
                                 dbias.numpy()], [dx_ref, dweight_ref, dbias_ref]))]


# ----------------------------------------------------------------------------------------------
# (e) activations
# ----------------------------------------------------------------------------------------------


def activation_cases(quick: bool):
    """float32 activations: an MLP's hidden layer, LeNet-5's two conv outputs at batch 64."""
    if quick:
        return [(4, 6, 8, 8)]
    return [(64, 128), (64, 16, 10, 10), (64, 6, 28, 28)]


ACTIVATIONS = (  # (workload, kernel function, extra argument, torch's forward or backward)
    ("relu forward", "relu_forward", (), "relu"),
    ("relu backward", "relu_backward", (), "threshold_backward"),
    ("leaky_relu forward", "leaky_relu_forward", (0.01,), "leaky_relu"),
    ("leaky_relu backward", "leaky_relu_backward", (0.01,), "leaky_relu_backward"),
    ("sigmoid forward", "sigmoid_forward", (), "sigmoid"),
    ("erf forward", "erf_forward", (), "erf"),
    ("gelu forward", "gelu_forward", (), "gelu"),
    ("gelu backward", "gelu_backward", (), "gelu_backward"),
)


def bench_activation_raw(setup: Setup) -> list[Timing]:
    """Each activation kernel on arrays (``kernels/*/activation.py``) vs torch's own kernel
    for the same step (``torch.relu``, ``torch.ops.aten.threshold_backward``, ``torch.sigmoid``,
    ...); GB/s of x (and dy) read and the result written."""
    rows = []
    rng = np.random.default_rng(5)
    ref = importlib.import_module("tinygrad_edu.kernels.reference.activation")
    for shape in activation_cases(setup.quick):
        x, dy = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        size = x.nbytes / 1e6
        cdf = ref.gelu_forward(x)[1]  # Phi(x): what GELU's forward hands to its backward
        for name, function, extra, torch_name in ACTIVATIONS:
            arrays = (x,) if name.endswith("forward") else (x, dy)
            if function == "gelu_backward":
                arrays = (x, cdf, dy)
            outputs = 2 if function == "gelu_forward" else 1  # GELU's forward: y and Phi(x)
            moved = (len(arrays) + outputs) * size  # MB read and written
            expected = getattr(ref, function)(*arrays, *extra)
            for impl in setup.kernel_impls():
                module = importlib.import_module(f"tinygrad_edu.kernels.{impl}.activation")
                call = functools.partial(getattr(module, function),
                                         *(to_impl(a, impl) for a in arrays), *extra)
                err = max_abs_err(call(), expected)
                t = timed(setup, call, impl == "cuda")
                rows.append(row(name, IMPL_NAME[impl], str(shape), t, size, moved * 1e6,
                                err=err, family="activation"))
            rows += torch_activation_rows(setup, name, torch_name, arrays, extra, expected,
                                          str(shape), size, moved)
    return rows


def torch_activation_rows(setup, name, torch_name, arrays, extra, expected, shape, size, moved):
    """The same step through torch's kernel: aten's ``threshold_backward(dy, x, 0)``,
    ``leaky_relu_backward(dy, x, slope, False)`` and ``gelu_backward(dy, x)`` take dy first."""
    try:
        import torch
    except ImportError:
        return []
    device = "cuda" if setup.device == "cuda" else "cpu"
    if torch_name.startswith("gelu"):  # torch's GELU keeps no Phi(x): y, and (x, dy) back
        arrays, expected = (arrays[0],) + arrays[2:], (expected if name.endswith("backward")
                                                       else expected[0])
    tensors = [torch.tensor(a, device=device) for a in arrays]
    if name.endswith("backward"):
        tensors = tensors[::-1]  # (dy, x)
        extra = {"threshold_backward": (0.0,), "gelu_backward": ()}.get(torch_name,
                                                                        (*extra, False))
        fn = functools.partial(getattr(torch.ops.aten, torch_name), *tensors, *extra)
    else:
        forward = getattr(torch, torch_name, None) or getattr(torch.nn.functional, torch_name)
        fn = functools.partial(forward, *tensors, *extra)
    err = max_abs_err(fn().cpu().numpy(), expected)
    sync = torch.cuda.synchronize if device == "cuda" else None
    t = time_block(fn, sync=sync, **setup.timing)
    return [row(name, PEER, shape, t, size, moved * 1e6, err=err, family="activation")]


# ----------------------------------------------------------------------------------------------
# Report: table, JSON, plot
# ----------------------------------------------------------------------------------------------


def print_table(rows: list[Timing]) -> None:
    """impl, shape, median, min, throughput, ratio to torch (medians), max abs error."""
    peers = {(r.name, r.shape): r.median_ms for r in rows if r.impl == PEER}
    header = (f"{'workload':<26} {'impl':<24} {'shape':<34} {'median ms':>10} {'min ms':>9} "
              f"{'throughput':>16} {'vs torch':>9} {'max err':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        peer = peers.get((r.name, r.shape))
        ratio = f"{r.median_ms / peer:8.2f}x" if peer else "        -"
        unit = "GFLOP/s" if "GFLOP/s" in r.extra else "GB/s"
        rate = r.extra.get(unit)
        rate = f"{rate:9.2f} {unit:<6}" if rate is not None else " " * 16
        err = r.extra.get("max_abs_err")
        err = f"{err:9.2e}" if err is not None else "        -"
        print(f"{r.name:<26} {r.impl:<24} {r.shape:<34} {r.median_ms:>10.3f} {r.min_ms:>9.3f} "
              f"{rate} {ratio} {err}")


def crossover(points_gpu, points_cpu):
    """First size at which the GPU line drops below the CPU line, or None."""
    cpu = dict(points_cpu)
    for size, ms in points_gpu:
        if size in cpu and ms < cpu[size]:
            return size
    return None


def plot(rows: list[Timing], path: str) -> None:
    """Time vs size, one panel per workload, one line per implementation (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    workloads = list(dict.fromkeys(r.name for r in rows))
    cols = min(4, len(workloads))
    nrows = math.ceil(len(workloads) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, workloads):
        lines = {}
        for r in rows:
            if r.name == name:
                lines.setdefault(r.impl, []).append((r.extra["size_mb"], r.median_ms))
        for impl, points in lines.items():
            points.sort()
            ax.plot(*zip(*points), marker="o", label=impl)
        gpu = [pts for impl, pts in lines.items() if "cuda" in impl]
        cpu = [pts for impl, pts in lines.items() if "numba" in impl]
        if gpu and cpu:
            size = crossover(gpu[0], cpu[0])
            if size is not None:
                ax.axvline(size, color="grey", linestyle="--")
                ax.annotate("CPU/GPU crossover", (size, ax.get_ylim()[1]), fontsize=7,
                            va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # no overlapping minor tick labels
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("input size (MB)", fontsize=8)
        ax.set_ylabel("median ms", fontsize=8)
        ax.legend(fontsize=7, framealpha=0.5)
    for ax in list(axes.flat)[len(workloads):]:
        ax.axis("off")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def thread_info() -> dict:
    """Thread counts and BLAS build: what the numbers depend on besides the code."""
    info = {}
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
        info["numba_threading_layer"] = numba.config.THREADING_LAYER
    except ImportError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "architecture")}
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        pass
    return info


def set_threads(n: int) -> None:
    """Use n threads in Numba, torch and BLAS (threadpoolctl), for runs on a busy machine."""
    import numba

    numba.set_num_threads(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n, user_api="blas")
    except ImportError:
        pass


FAMILIES = {
    "conv": [bench_conv_raw, bench_conv_ops, bench_winograd],
    "pool": [bench_pool_raw, bench_pool_ops],
    "attention": [bench_attention],
    "optim": [bench_adam_raw],
    "activation": [bench_activation_raw],
    "norm": [bench_norm],
    "loss": [bench_loss],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    parser.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for Numba, torch and BLAS (default: leave as is)")
    parser.add_argument("--json", default="bench_results/kernels.json")
    parser.add_argument("--plot", default=None, help="PNG path for the time-vs-size plot")
    args = parser.parse_args(argv)

    setup = Setup(quick=args.quick, device=args.device, gpu=real_gpu())
    if args.device == "cuda" and not setup.gpu:
        print("--device cuda: no CUDA GPU found through CuPy (cupy missing or 0 devices)")
        return 2
    if args.threads:
        set_threads(args.threads)
    families = list(FAMILIES) if args.family == "all" else [args.family]
    rows: list[Timing] = []
    with CpuSteal() as steal:
        for family in families:
            for bench in FAMILIES[family]:
                rows += bench(setup)
    print_table(rows)
    if steal.share is not None:
        print(f"other processes took {steal.share:.0%} of the CPU during the run")
    meta = {"quick": args.quick, "device": args.device, "gpu": setup.gpu,
            "families": families, "cpu_share_of_other_processes": steal.share,
            **thread_info()}
    write_json(args.json, rows, meta)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
