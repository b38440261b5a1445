"""3-d (volumetric) pooling with PyTorch semantics, on (N, C, D, H, W) or (C, D, H, W) input:
``max_pool3d``, ``avg_pool3d``, ``adaptive_avg_pool3d``, ``adaptive_max_pool3d``.

Plain vectorized xp code (NumPy or CuPy; no kernels), in two patterns:

- Max pooling (plain and adaptive) finds the argmax of each window, a flat index
  d*H*W + h*W + w into its (D, H, W) plane (torch's ``return_indices``). The backward scatters
  dy to it with ``index_put_zeros``, whose own backward gathers, so every order is
  differentiable.
- Average pooling is linear: each backward is a Function whose backward is the forward again
  (avg pooling <-> spreading dy / divisor back over the windows), as in ``pool.py``.

Windows and output sizes follow torch's rules (``kernels/reference/pool.py``): O = (I + 2 P -
DIL (K - 1) - 1 [+ S - 1 with ceil_mode]) // S + 1, where a ceil_mode window must start inside
the input or the left padding; 0 <= P <= K // 2.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..kernels.reference.pool import adaptive_windows, avg_pool_windows, pool_output_size
from ..tensor import Tensor
from .conv import _triple
from .pool import _adaptive_bin_positions, _pool_input, _pooled, pool_stride
from .shape import index_put_zeros, reshape


def _pool3d_input(op: str, x) -> tuple[Tensor, bool]:
    """x as (N, C, D, H, W) (a batch of one for a (C, D, H, W) input) and whether it was
    unbatched; torch's rules: floating point, no empty dim but the batch."""
    _pool_input(op, x, "a 4-d (C, D, H, W) or 5-d (N, C, D, H, W)", (4, 5))
    if x.ndim == 4:
        return reshape(x, (1,) + tuple(x.shape)), True
    return x, False


def _pool3d_window(op: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a 3-d pooling window the way torch does (K, S, DIL >= 1, 0 <= P <= K // 2, at
    least one window in each dim); returns (kernel, stride, padding, dilation, out_size),
    each a (D, H, W) triple of ints. ``stride=None`` means the kernel size."""
    kernel = _triple(op, "kernel_size", kernel_size)
    stride = _triple(op, "stride", pool_stride(op, kernel_size, stride))
    padding = _triple(op, "padding", padding)
    dilation = _triple(op, "dilation", dilation)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise ValueError(f"{op}: ceil_mode must be a bool, got {ceil_mode!r}")
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(value) < 1:
            raise ValueError(f"{op}: {name} must be >= 1, got {value}")
    if min(padding) < 0 or any(p > k // 2 for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{op}: padding {padding} must be >= 0 and at most half the kernel "
                         f"size {kernel} (torch's rule: padding <= kernel_size // 2)")
    size = tuple(x.shape[2:])
    out = tuple(pool_output_size(i, k, s, p, d, bool(ceil_mode)) for i, k, s, p, d in zip(
        size, kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {kernel} with stride {stride}, padding {padding} and "
                         f"dilation {dilation} gives output size {out} for input of size "
                         f"{size} (x: {tuple(x.shape)}); it must be at least (1, 1, 1)")
    return kernel, stride, padding, dilation, out


def _padded(x, padding, reach, value):
    """x (N, C, D, H, W) padded with ``value``: ``padding`` before each spatial dim and, after
    it, as much as the windows reach past it (``reach``: the padded length they read, which
    ceil_mode windows may make longer than I + 2 P)."""
    xp = get_array_module(x)
    widths = [(0, 0), (0, 0)]
    for i, p, r in zip(x.shape[2:], padding, reach, strict=True):
        widths.append((p, max(0, r - p - i)))
    return xp.pad(x, widths, constant_values=value)  # (N, C, Dp, Hp, Wp)


def _strided(start: int, stride: int, count: int) -> slice:
    """The positions start, start + stride, ... (count of them) as a slice."""
    return slice(start, start + stride * (count - 1) + 1, stride)


def _flat_scatter_index(xp, argmax, C: int, plane: int):
    """One flat index into x per output, (n C + c) * plane + argmax, for the backward's
    scatter: (N*C*OD*OH*OW,)."""
    N = argmax.shape[0]
    n = xp.arange(N).reshape(N, 1, 1, 1, 1)
    c = xp.arange(C).reshape(1, C, 1, 1, 1)
    return (((n * C + c) * plane + argmax).reshape(-1),)


def _scatter_to_argmax(dy: Tensor, index, x: Tensor) -> Tensor:
    """dx[n, c].flat[argmax] += dy, overlapping windows adding up: ``index_put_zeros``, whose
    own backward gathers (ddy = g[n, c].flat[argmax]), so every order is differentiable."""
    dx = index_put_zeros(reshape(dy, -1), index, (x.numel(),))  # (N*C*D*H*W,)
    return reshape(dx, x.shape)  # (N, C, D, H, W)


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------


class MaxPool3d(Function):
    """y[n, c, od, oh, ow] = max of x[n, c, od SD - PD + kd DD, oh SH - PH + kh DH,
    ow SW - PW + kw DW] over the window (padding counts as -inf, never as a max);
    argmax = d H W + h W + w of that max: the first in window order (kd, kh, kw), or the last
    NaN where the window holds one (y is then NaN), as in torch;
    dx[n, c].flat[argmax] += dy (overlapping windows add up). A window that reads only padding
    (possible with dilation) gives y = -inf, argmax -1 and no gradient, as ``max_pool2d`` (torch
    returns the index of w = W, past the row, and adds its dy to the entry it happens to name).

    The forward walks the KD*KH*KW kernel offsets; each reads one strided slice of the padded
    x, (N, C, OD, OH, OW), and keeps it where it beats the max so far."""

    reads_inputs = False  # the backward needs x's shape and the argmax, never x's values

    def forward(self, x, kernel, stride, padding, dilation, out_size, indices_out=None):
        xp = get_array_module(x)
        N, C, D, H, W = x.shape
        OD, OH, OW = out_size
        reach = [s * (o - 1) + d * (k - 1) + 1 for s, o, d, k in zip(
            stride, out_size, dilation, kernel, strict=True)]
        xpad = _padded(x, padding, reach, -np.inf)  # (N, C, Dp, Hp, Wp)
        # the first position of each window in the unpadded input, per dim: (O,)
        starts = [np.arange(o) * s - p for o, s, p in zip(out_size, stride, padding, strict=True)]
        y = xp.full((N, C, OD, OH, OW), -np.inf, dtype=x.dtype)
        argmax = xp.full((N, C, OD, OH, OW), -1, dtype=np.int64)
        for kd, kh, kw in itertools.product(*(range(k) for k in kernel)):
            d = starts[0] + kd * dilation[0]  # (OD,) plane read by this offset
            h = starts[1] + kh * dilation[1]  # (OH,)
            w = starts[2] + kw * dilation[2]  # (OW,)
            inside = ((d >= 0) & (d < D))[:, None, None] & ((h >= 0) & (h < H))[:, None] \
                & ((w >= 0) & (w < W))  # (OD, OH, OW); outside: padding
            flat = (d[:, None, None] * H + h[:, None]) * W + w  # (OD, OH, OW)
            v = xpad[:, :, _strided(kd * dilation[0], stride[0], OD),
                     _strided(kh * dilation[1], stride[1], OH),
                     _strided(kw * dilation[2], stride[2], OW)]  # (N, C, OD, OH, OW)
            # torch: the first input entry starts the max, a larger one or any NaN replaces it
            take = xp.asarray(inside) & ((argmax < 0) | (v > y) | xp.isnan(v))
            y = xp.where(take, v, y)
            argmax = xp.where(take, xp.asarray(flat), argmax)
        if indices_out is not None:  # return_indices=True: hand the argmax to the caller
            indices_out.append(argmax)  # int64, like torch
        # a window of padding only (argmax -1, y -inf) takes no gradient: its dy goes to a spare
        # slot past the end of x, dropped in backward
        (index,) = _flat_scatter_index(xp, argmax, C, D * H * W)
        self.spare = bool((argmax < 0).any())
        self.index = (xp.where(argmax.reshape(-1) < 0, x.size, index),)
        return y

    def backward(self, dy):
        (x,) = self.inputs
        if not self.spare:
            return _scatter_to_argmax(dy, self.index, x)
        dx = index_put_zeros(reshape(dy, -1), self.index, (x.numel() + 1,))  # + a spare slot
        return reshape(dx[:-1], x.shape)  # (N, C, D, H, W)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool3d``: (N, C, D, H, W) -> (N, C, OD, OH, OW) (or
    (C, D, H, W) -> (C, OD, OH, OW)), OD = (D + 2 PD - DD (KD - 1) - 1) // SD + 1 (rounded up
    with ``ceil_mode``); y = the max of each window, dx = dy scattered to each window's argmax.
    ``stride`` defaults to ``kernel_size``; with ``return_indices`` also the argmax (int64,
    flat d H W + h W + w per plane, as torch's).

    >>> import tinygrad_edu as tg
    >>> max_pool3d(tg.randn(2, 3, 5, 6, 7), 2).shape
    (2, 3, 2, 3, 3)
    """
    op = "max_pool3d"
    input, unbatched = _pool3d_input(op, input)
    kernel, stride, padding, dilation, out = _pool3d_window(op, input, kernel_size, stride, padding,
                                                            dilation, ceil_mode)
    indices_out: list = []
    y = MaxPool3d.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                        out_size=out, indices_out=indices_out)
    return _pooled(y, indices_out, unbatched, return_indices)


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------


def _window_sums(a, axis: int, kernel: int, stride: int, count: int):
    """s[..., o, ...] = sum_(k < kernel) a[..., o stride + k, ...] along ``axis``: ``kernel``
    strided slices added up. (..., I, ...) -> (..., count, ...)"""
    index = [slice(None)] * a.ndim
    total = None
    for k in range(kernel):
        index[axis] = _strided(k, stride, count)
        part = a[tuple(index)]
        total = part.copy() if total is None else total + part
    return total


def _window_sums_adjoint(g, axis: int, kernel: int, stride: int, size: int):
    """The adjoint of ``_window_sums``: out[..., o stride + k, ...] += g[..., o, ...] for every
    k < kernel, into zeros of length ``size`` along ``axis``."""
    xp = get_array_module(g)
    shape = list(g.shape)
    shape[axis] = size
    out = xp.zeros(shape, dtype=g.dtype)
    index = [slice(None)] * g.ndim
    for k in range(kernel):
        index[axis] = _strided(k, stride, g.shape[axis])
        out[tuple(index)] += g
    return out


class AvgPool3d(Function):
    """y[n, c, od, oh, ow] = (sum of x over the window) / divisor[od, oh, ow];
    dx = each dy / divisor spread over its window (``AvgPool3dBackward``).

    A window is a box, so its sum is separable: window sums along W, then H, then D, each
    KW (KH, KD) strided slices of the zero-padded x added up; the divisor is a product too,
    divisor = div_d[od] div_h[oh] div_w[ow] (torch's ``count_include_pad`` rule per dim: the
    window length within the padding, or within the input only), or ``divisor_override``."""

    def forward(self, x, *, plan):
        self.plan = plan
        kernel, stride, padding, out_size, divisor = plan
        reach = [s * (o - 1) + k for s, o, k in zip(stride, out_size, kernel, strict=True)]
        a = _padded(x, padding, reach, 0)  # (N, C, Dp, Hp, Wp)
        for axis in (4, 3, 2):  # (N, C, Dp, Hp, OW) -> (N, C, Dp, OH, OW) -> (N, C, OD, OH, OW)
            a = _window_sums(a, axis, kernel[axis - 2], stride[axis - 2], out_size[axis - 2])
        return a / get_array_module(x).asarray(divisor, dtype=x.dtype)  # (N, C, OD, OH, OW)

    def backward(self, dy):
        (x,) = self.inputs
        return AvgPool3dBackward.apply(dy, x_shape=tuple(x.shape), plan=self.plan)


class AvgPool3dBackward(Function):
    """dx = the adjoint of average pooling: g = dy / divisor, then each window sum's adjoint
    (add g back onto every position of the window), the padding cut off; its own backward is
    average pooling again"""

    def forward(self, dy, *, x_shape, plan):
        self.plan = plan
        kernel, stride, padding, out_size, divisor = plan
        g = dy / get_array_module(dy).asarray(divisor, dtype=dy.dtype)  # (N, C, OD, OH, OW)
        size = tuple(x_shape[2:])
        padded = [max(i + 2 * p, s * (o - 1) + k) for i, p, s, o, k in zip(
            size, padding, stride, out_size, kernel, strict=True)]
        for axis in (2, 3, 4):
            g = _window_sums_adjoint(g, axis, kernel[axis - 2], stride[axis - 2],
                                     padded[axis - 2])  # (N, C, Dp, Hp, Wp) in the end
        (PD, PH, PW), (D, H, W) = padding, size
        return g[:, :, PD:PD + D, PH:PH + H, PW:PW + W].copy()  # (N, C, D, H, W)

    def backward(self, g):
        return AvgPool3d.apply(g, plan=self.plan)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """``torch.nn.functional.avg_pool3d``: (N, C, D, H, W) -> (N, C, OD, OH, OW) (or the
    unbatched (C, D, H, W)); y = the window's sum / divisor, where the divisor is the window's
    volume inside the padding (``count_include_pad=True``), or inside the input only (False),
    or ``divisor_override``; ceil_mode windows that hang past the padding count only up to it.

    >>> import tinygrad_edu as tg
    >>> avg_pool3d(tg.ones(1, 1, 2, 2, 2), 2, padding=1, count_include_pad=False).tolist()
    [[[[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]]]]
    """
    op = "avg_pool3d"
    input, unbatched = _pool3d_input(op, input)
    kernel, stride, padding, _, out = _pool3d_window(op, input, kernel_size, stride, padding, 1,
                                                     ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or \
                not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be a non-zero int or None, got "
                             f"{divisor_override!r}")
        divisor = np.full(out, float(divisor_override))  # (OD, OH, OW)
    else:
        per_dim = [avg_pool_windows(i, o, k, s, p, count_include_pad)[2] for i, o, k, s, p in zip(
            input.shape[2:], out, kernel, stride, padding, strict=True)]  # (OD,), (OH,), (OW,)
        divisor = per_dim[0][:, None, None] * per_dim[1][:, None] * per_dim[2]  # (OD, OH, OW)
    plan = (kernel, stride, padding, out, divisor.astype(np.float64))
    y = AvgPool3d.apply(input, plan=plan)
    return reshape(y, y.shape[1:]) if unbatched else y


# ----------------------------------------------------------------------------------------------
# Adaptive pooling: torch's bins [floor(o I / O), ceil((o + 1) I / O)) in each dim
# ----------------------------------------------------------------------------------------------


def _adaptive_output_triple(op: str, x: Tensor, output_size) -> tuple[int, int, int]:
    """``output_size`` as (OD, OH, OW): an int (all three), or a triple of ints where None
    keeps that input size. Sizes must be >= 1 (torch allows 0 and returns an empty tensor;
    we refuse it, as the 2-d ops do)."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    triple = (output_size,) * 3 if is_int(output_size) else output_size
    ok = isinstance(triple, (tuple, list)) and len(triple) == 3 and all(
        v is None or is_int(v) for v in triple)
    if not ok:
        raise ValueError(f"{op}: output_size must be an int or a triple (OD, OH, OW) of ints or "
                         f"None (None keeps that input size), got {output_size!r}")
    if any(v is not None and v < 1 for v in triple):
        raise ValueError(f"{op}: output_size must be >= 1, got {output_size!r}")
    return tuple(int(x.shape[2 + i]) if v is None else int(v) for i, v in enumerate(triple))


def _bin_average_matrix(size: int, out_size: int) -> np.ndarray:
    """A (O, I) matrix whose row o averages bin o: A[o, i] = 1 / len(bin o) for i in the bin.

    >>> _bin_average_matrix(5, 3).round(2).tolist()  # bins [0, 2), [1, 4), [3, 5)
    [[0.5, 0.5, 0.0, 0.0, 0.0], [0.0, 0.33, 0.33, 0.33, 0.0], [0.0, 0.0, 0.0, 0.5, 0.5]]
    """
    start, end, length = adaptive_windows(size, out_size)  # (O,) each
    i = np.arange(size)
    inside = (start[:, None] <= i) & (i < end[:, None])  # (O, I)
    return inside / length[:, None]


def _along(a, matrix, axis: int):
    """matrix (O, I) applied along ``axis`` of a: (..., I, ...) -> (..., O, ...)."""
    xp = get_array_module(a)
    out = xp.moveaxis(a, axis, -1) @ matrix.T  # (..., O) with the other dims in front
    return xp.moveaxis(out, -1, axis)


class AdaptiveAvgPool3d(Function):
    """y = x averaged over torch's adaptive bins in D, H and W: a box average is separable,
    y = x x_D A_D x_H A_H x_W A_W with each A (O, I) averaging the bins of its dim
    (``_bin_average_matrix``);  dx = dy x_D A_D^T x_H A_H^T x_W A_W^T, the same op with the
    transposed matrices, so every order is differentiable. (The matrices are O x I: cheap for
    the small outputs adaptive pooling is used for, e.g. global pooling, O = 1.)"""

    reads_inputs = False  # linear: the backward needs only the matrices

    def forward(self, x, *, matrices):
        self.matrices = matrices
        xp = get_array_module(x)
        for axis, matrix in zip((2, 3, 4), matrices, strict=True):
            x = _along(x, xp.asarray(matrix, dtype=x.dtype), axis)  # that dim: I -> O
        return xp.ascontiguousarray(x)  # (N, C, OD, OH, OW)

    def backward(self, dy):
        return AdaptiveAvgPool3d.apply(dy, matrices=tuple(m.T for m in self.matrices))


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:  # noqa: A002 - torch names
    """``torch.nn.functional.adaptive_avg_pool3d``: (N, C, D, H, W) -> (N, C, OD, OH, OW) (or
    the unbatched (C, D, H, W)), each output the mean of its bin [floor(o D / OD),
    ceil((o + 1) D / OD)) x ... (bins overlap where O does not divide I). ``output_size``: an
    int or a triple, None keeps that size.

    >>> import tinygrad_edu as tg
    >>> adaptive_avg_pool3d(tg.randn(2, 3, 5, 6, 7), (1, None, 3)).shape
    (2, 3, 1, 6, 3)
    """
    op = "adaptive_avg_pool3d"
    input, unbatched = _pool3d_input(op, input)
    out = _adaptive_output_triple(op, input, output_size)
    matrices = tuple(_bin_average_matrix(i, o) for i, o in zip(input.shape[2:], out, strict=True))
    y = AdaptiveAvgPool3d.apply(input, matrices=matrices)
    return reshape(y, y.shape[1:]) if unbatched else y


class AdaptiveMaxPool3d(Function):
    """y[n, c, od, oh, ow] = max of x[n, c, d0:d1, h0:h1, w0:w1] over torch's adaptive bin
    d0 = floor(od D / OD), d1 = ceil((od + 1) D / OD) (h, w alike); argmax = d H W + h W + w of
    that max (the first in window order; where the bin holds a NaN, y is NaN and argmax the
    last NaN, as in torch); dx[n, c].flat[argmax] += dy (overlapping bins add up).

    Every bin is gathered at once, (N, C, OD, OH, OW, KD*KH*KW) with K the longest bin of its
    dim (a shorter bin repeats its last position, which changes neither its max nor its
    argmax)."""

    reads_inputs = False  # the backward needs x's shape and the argmax, never x's values

    def forward(self, x, out_size, indices_out=None):
        xp = get_array_module(x)
        N, C, D, H, W = x.shape
        OD, OH, OW = out_size
        pd, ph, pw = (_adaptive_bin_positions(i, o) for i, o in zip((D, H, W), out_size,
                                                                      strict=True))  # (O, K)
        # flat d H W + h W + w of every entry of every bin, row-major within the bin
        flat = ((pd[:, None, None, :, None, None] * H + ph[None, :, None, None, :, None]) * W
                + pw[None, None, :, None, None, :])  # (OD, OH, OW, KD, KH, KW)
        flat = xp.asarray(flat.reshape(OD, OH, OW, -1))  # (OD, OH, OW, KD*KH*KW)
        planes = x.reshape(N, C, D * H * W)  # (N, C, D*H*W)
        bins = planes[:, :, flat]  # (N, C, OD, OH, OW, KD*KH*KW)
        k = bins.argmax(axis=-1)[..., None]  # (N, C, OD, OH, OW, 1): the first max of each bin
        argmax = xp.take_along_axis(xp.broadcast_to(flat, bins.shape), k, axis=-1)[..., 0]
        nan = xp.isnan(bins)
        if bool(nan.any()):  # torch keeps the last NaN of a bin (flat grows in bin order)
            last_nan = xp.where(nan, flat, -1).max(axis=-1)  # (N, C, OD, OH, OW), -1: no NaN
            argmax = xp.where(last_nan >= 0, last_nan, argmax)
        if indices_out is not None:  # return_indices=True: hand the argmax to the caller
            indices_out.append(argmax)  # int64, like torch
        self.index = _flat_scatter_index(xp, argmax, C, D * H * W)
        return planes.reshape(-1)[self.index].reshape(N, C, OD, OH, OW)

    def backward(self, dy):
        (x,) = self.inputs
        return _scatter_to_argmax(dy, self.index, x)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """``torch.nn.functional.adaptive_max_pool3d``: (N, C, D, H, W) -> (N, C, OD, OH, OW) (or
    the unbatched (C, D, H, W)); y = the max of each adaptive bin, dx = dy scattered to each
    bin's argmax. ``output_size``: an int or a triple, None keeps that size. With
    ``return_indices`` also the argmax (int64, flat d H W + h W + w per plane, as torch's).

    >>> import tinygrad_edu as tg
    >>> y, i = adaptive_max_pool3d(tg.tensor([[[[1.0, 5.0], [4.0, 3.0]]]]), 1,
    ...                            return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[5.0]]]], [[[[1]]]])
    """
    op = "adaptive_max_pool3d"
    input, unbatched = _pool3d_input(op, input)
    out = _adaptive_output_triple(op, input, output_size)
    indices_out: list = []
    y = AdaptiveMaxPool3d.apply(input, out_size=out, indices_out=indices_out)
    return _pooled(y, indices_out, unbatched, return_indices)
