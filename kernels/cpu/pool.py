"""2-d pooling compiled with Numba ``@njit`` (same signatures as ``reference.pool``).

Formulas and torch semantics: see ``reference/pool.py``.  Four compiled kernels serve all the
public functions, because average, adaptive average and global average pooling are all one
*window average* with differently planned windows (``avg_pool_windows`` / ``adaptive_windows``)::

    _max_pool_kernel            y, argmax   <- x           prange over planes (n, c)
    _max_pool_backward_kernel   dx          <- dy, argmax  prange over planes (n, c)
    _window_average_kernel      y           <- x           prange over output rows (n, c, oh)
    _window_average_backward    dx          <- dy          prange over planes (n, c)

Max pooling is the hot one in CNNs, so it has two refinements:

- windows that lie inside the input skip all bounds tests and compare with a plain
  ``v > best`` plus a NaN flag; border windows and the rare window holding a NaN are redone
  with the exact rule (``_max_of_window``), so results stay bitwise equal to the reference;
- the common CNN windows (``FIXED_WINDOWS``: 2x2/2, 3x3/2, 3x3/1) get a kernel compiled with
  the window size and stride as constants (``_fixed_window_kernel``), which LLVM unrolls:
  ~4x faster than the general kernel on 64x32x32x32 float32.

The backward kernels scatter with plain loops inside the plane a thread owns, so overlapping
windows accumulate without races and in a fixed order (deterministic); never ``np.add.at``.
Each kernel is compiled once per dtype (float32, float64); inputs are made C-contiguous first.
Calls with less than ``PARALLEL_GRAIN`` elements run on one thread (``threads_for``), and
calls on one thread run each kernel compiled without ``parallel`` (``_prange.py``).
"""

import functools
import math

import numpy as np
from numba import njit, prange

from .._config import NUMBA_CACHE
from ..reference.pool import (
    adaptive_plan,
    avg_pool_plan,
    check_4d,
    check_adaptive_output_size,
    check_float_dtype,
    check_grad_shape,
    check_max_pool_backward_args,
    check_pool_args,
    pool_output_size,  # noqa: F401  (same public names as reference.pool)
)
from ._prange import prange_kernel
from .conv import threads_for

# ---------------------------------------------------------------------------------------------
# compiled kernels
# ---------------------------------------------------------------------------------------------


@njit(cache=NUMBA_CACHE)
def _max_of_window(plane, h0, w0, KH, KW, DH, DW):
    """Max and argmax (h*W + w) of the window with top-left corner (h0, w0) in padded
    coordinates, the exact rule of the reference: padding skipped, first max in row-major
    window order wins, a NaN wins; (-inf, -1) when the window holds no input pixel."""
    H, W = plane.shape
    best = plane.dtype.type(-math.inf)
    best_i = -1
    for kh in range(KH):
        h = h0 + kh * DH
        if h < 0 or h >= H:
            continue
        for kw in range(KW):
            w = w0 + kw * DW
            if w < 0 or w >= W:
                continue
            v = plane[h, w]
            if best_i < 0 or v > best or math.isnan(v):  # torch: NaN propagates
                best = v
                best_i = h * W + w
    return best, best_i


@njit(cache=NUMBA_CACHE)
def _inside_range(out_size, K, S, P, D, size):
    """Outputs ``lo <= o < hi`` whose whole window lies inside the input (no padding)."""
    lo = -(-P // S)  # first o with o*S - P >= 0
    hi = (size - 1 - (K - 1) * D + P) // S + 1  # first o whose window ends past the input
    lo = min(lo, out_size)
    hi = max(min(hi, out_size), lo)
    return lo, hi


@njit(cache=NUMBA_CACHE, inline="always")
def _max_pool_planes(x, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW):
    """y[n, c, oh, ow] = max of the (dilated) window, argmax = its h*W + w (-1: no pixel).

    One prange iteration per plane (n, c).  Windows that lie inside the input take the fast
    path: no bounds tests, and a plain ``v > best`` (the first max wins) plus a NaN flag; the
    rare window that holds a NaN, and windows that touch the padding, are redone by
    ``_max_of_window``.  Inlined into its callers so that constant KH, KW, SH, SW (see
    ``_fixed_window_kernel``) reach LLVM."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    oh_lo, oh_hi = _inside_range(OH, KH, SH, PH, DH, H)
    ow_lo, ow_hi = _inside_range(OW, KW, SW, PW, DW, W)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        plane = x[n, c]  # (H, W)
        for oh in range(OH):
            h0 = oh * SH - PH  # window origin in input coordinates
            row_inside = oh_lo <= oh < oh_hi
            for ow in range(OW):
                w0 = ow * SW - PW
                if not (row_inside and ow_lo <= ow < ow_hi):
                    best, best_i = _max_of_window(plane, h0, w0, KH, KW, DH, DW)
                else:
                    best = plane[h0, w0]
                    best_i = h0 * W + w0
                    has_nan = False
                    for kh in range(KH):  # row-major window order: the first max wins ties
                        h = h0 + kh * DH
                        for kw in range(KW):
                            w = w0 + kw * DW
                            v = plane[h, w]
                            if v > best:
                                best = v
                                best_i = h * W + w
                            has_nan |= v != v
                    if has_nan:  # torch: NaN propagates; the exact loop picks the right one
                        best, best_i = _max_of_window(plane, h0, w0, KH, KW, DH, DW)
                y[n, c, oh, ow] = best
                argmax[n, c, oh, ow] = best_i


@prange_kernel()
def _max_pool_kernel(x, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW):
    """Any window: sizes, strides and dilations are run-time values."""
    _max_pool_planes(x, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW)


# Windows (KH, KW, SH, SW) with dilation 1 that get their own compiled kernel: with the window
# size and stride as compile-time constants LLVM unrolls the window loops, ~5x faster than
# ``_max_pool_kernel``, whose tiny window loops have run-time trip counts.  Each entry costs one
# more compilation (cached on disk), so only the common CNN windows are listed.
FIXED_WINDOWS = ((2, 2, 2, 2), (3, 3, 2, 2), (3, 3, 1, 1))


@functools.cache
def _fixed_window_kernel(KH, KW, SH, SW):
    """A max pooling kernel compiled for one window: KH, KW, SH, SW are closure constants."""

    @prange_kernel()
    def kernel(x, y, argmax, PH, PW):
        _max_pool_planes(x, y, argmax, KH, KW, SH, SW, PH, PW, 1, 1)

    return kernel


@prange_kernel()
def _max_pool_backward_kernel(dy, argmax, dx):
    """dx (N, C, H*W), zero on entry: dx[n, c, argmax[n, c, oh, ow]] += dy[n, c, oh, ow]."""
    N, C, HW = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            for ow in range(OW):
                i = argmax[n, c, oh, ow]
                if 0 <= i < HW:  # -1 marks a window with no input pixel
                    dx[n, c, i] += dy[n, c, oh, ow]


@prange_kernel()
def _window_average_kernel(x, y, h0, h1, w0, w1, hdiv, wdiv):
    """y[n, c, oh, ow] = sum x[n, c, h0[oh]:h1[oh], w0[ow]:w1[ow]] / (hdiv[oh] * wdiv[ow])."""
    N, C = x.shape[0], x.shape[1]
    OH, OW = y.shape[2], y.shape[3]
    for row in prange(N * C * OH):
        n = row // (C * OH)
        c = (row // OH) % C
        oh = row % OH
        for ow in range(OW):
            total = x.dtype.type(0)
            for h in range(h0[oh], h1[oh]):
                for w in range(w0[ow], w1[ow]):
                    total += x[n, c, h, w]
            y[n, c, oh, ow] = total / (hdiv[oh] * wdiv[ow])


@prange_kernel()
def _window_average_backward(dy, dx, h0, h1, w0, w1, hdiv, wdiv):
    """dx zero on entry: dx[n, c, h0:h1, w0:w1] += dy[n, c, oh, ow] / (hdiv[oh] * wdiv[ow])."""
    N, C = dx.shape[0], dx.shape[1]
    OH, OW = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            for ow in range(OW):
                g = dy[n, c, oh, ow] / (hdiv[oh] * wdiv[ow])
                for h in range(h0[oh], h1[oh]):
                    for w in range(w0[ow], w1[ow]):
                        dx[n, c, h, w] += g


# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _as_float_array(op, name, a):
    a = np.asarray(a)
    check_float_dtype(op, name, a.dtype)
    return np.ascontiguousarray(a)


def _window_args(windows_h, windows_w, dtype):
    """(h0, h1, hdiv), (w0, w1, wdiv) -> kernel arguments; divisors in the data dtype so that
    float32 stays float32."""
    (h0, h1, hdiv), (w0, w1, wdiv) = windows_h, windows_w
    return h0, h1, w0, w1, hdiv.astype(dtype), wdiv.astype(dtype)


def _average(x, windows_h, windows_w):
    N, C = x.shape[:2]
    y = np.empty((N, C, len(windows_h[0]), len(windows_w[0])), dtype=x.dtype)  # (N, C, OH, OW)
    with threads_for(x.size):
        _window_average_kernel(x, y, *_window_args(windows_h, windows_w, x.dtype))
    return y


def _average_backward(dy, x_shape, windows_h, windows_w):
    dx = np.zeros(x_shape, dtype=dy.dtype)
    with threads_for(dx.size):
        _window_average_backward(dy, dx, *_window_args(windows_h, windows_w, dy.dtype))
    return dx


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max pooling with torch-style argmax; see ``reference.pool.max_pool2d_forward``."""
    op = "max_pool2d_forward"
    x = _as_float_array(op, "x", x)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_pool_args(
        op, x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    N, C = x.shape[:2]
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    with threads_for(x.size):
        if (KH, KW, SH, SW) in FIXED_WINDOWS and (DH, DW) == (1, 1):
            _fixed_window_kernel(KH, KW, SH, SW)(x, y, argmax, PH, PW)
        else:
            _max_pool_kernel(x, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW)
    return y, argmax


def max_pool2d_backward(dy, argmax, x_shape):
    """Scatter-add dy to the argmax positions; see ``reference.pool.max_pool2d_backward``."""
    op = "max_pool2d_backward"
    dy = _as_float_array(op, "dy", dy)
    argmax = np.asarray(argmax)
    x_shape = tuple(int(s) for s in x_shape)
    check_max_pool_backward_args(op, dy.shape, argmax.shape, argmax.dtype, x_shape)
    # int32 (what functional/pool.py keeps for backward) and int64 run as they are; Numba
    # compiles the kernel once for each
    index_dtype = argmax.dtype if argmax.dtype in (np.int32, np.int64) else np.int64
    argmax = np.ascontiguousarray(argmax, dtype=index_dtype)
    N, C, H, W = x_shape
    dx = np.zeros((N, C, H * W), dtype=dy.dtype)  # flat planes: argmax indexes h*W + w
    with threads_for(dx.size):
        _max_pool_backward_kernel(dy, argmax, dx)
    return dx.reshape(N, C, H, W)


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """Average pooling, torch semantics; see ``reference.pool.avg_pool2d_forward``."""
    op = "avg_pool2d_forward"
    x = _as_float_array(op, "x", x)
    windows = avg_pool_plan(op, x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad)
    return _average(x, *windows)


def avg_pool2d_backward(dy, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """Adjoint of ``avg_pool2d_forward``."""
    op = "avg_pool2d_backward"
    dy = _as_float_array(op, "dy", dy)
    x_shape = tuple(int(s) for s in x_shape)
    windows_h, windows_w = avg_pool_plan(
        op, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad
    )
    check_grad_shape(op, dy.shape, x_shape, (len(windows_h[0]), len(windows_w[0])))
    return _average_backward(dy, x_shape, windows_h, windows_w)


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling with torch's bins; see ``reference.pool``."""
    op = "adaptive_avg_pool2d_forward"
    x = _as_float_array(op, "x", x)
    OH, OW = check_adaptive_output_size(op, x.shape, output_size)
    return _average(x, *adaptive_plan(x.shape, OH, OW))


def adaptive_avg_pool2d_backward(dy, x_shape):
    """Adjoint of the adaptive forward; the output size is read from ``dy``."""
    op = "adaptive_avg_pool2d_backward"
    dy = _as_float_array(op, "dy", dy)
    x_shape = tuple(int(s) for s in x_shape)
    check_4d(op, "dy", dy.shape)
    check_grad_shape(op, dy.shape, x_shape, dy.shape[2:])
    return _average_backward(dy, x_shape, *adaptive_plan(x_shape, *dy.shape[2:]))


def global_avg_pool2d_forward(x):
    """Mean over (H, W): (N, C, H, W) -> (N, C, 1, 1); one window per plane."""
    op = "global_avg_pool2d_forward"
    x = _as_float_array(op, "x", x)
    check_4d(op, "input", x.shape)
    return _average(x, *adaptive_plan(x.shape, 1, 1))


def global_avg_pool2d_backward(dy, x_shape):
    """dx[n, c, h, w] = dy[n, c, 0, 0] / (H*W)."""
    op = "global_avg_pool2d_backward"
    dy = _as_float_array(op, "dy", dy)
    x_shape = tuple(int(s) for s in x_shape)
    check_grad_shape(op, dy.shape, x_shape, (1, 1))
    return _average_backward(dy, x_shape, *adaptive_plan(x_shape, 1, 1))
