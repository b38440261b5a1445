"""2-d pooling as Numba ``@cuda.jit`` kernels (same signatures as ``reference.pool``).

Formulas and torch semantics: see ``reference/pool.py``.  Average, adaptive average and global
average pooling are one *window average* with differently planned windows, so four kernels
serve all the public functions:

- ``max_pool_forward_kernel1``   one thread per output (n, c, oh, ow) scans its dilated window
  in row-major order (first max wins ties, NaN propagates) and writes y and argmax.
- ``max_pool_backward_kernel1``  one thread per dy element adds it to ``dx[n, c, argmax]``
  with ``cuda.atomic.add``.  The backward only knows ``argmax`` (not kernel/stride), so it
  cannot gather; when windows overlap (stride < kernel) several threads may hit one pixel and
  the order of those float additions -- hence the last bits -- can vary between runs.  With
  non-overlapping windows every pixel gets at most one add and the result is exact.
- ``window_average_kernel1``     one thread per output sums its window and divides.
- ``window_average_backward_kernel1``  gather: one thread per input pixel (n, c, h, w) sums
  ``dy / divisor`` over the windows that contain it.  Those windows are the rectangle
  ``oh_lo[h] <= oh < oh_hi[h]`` x ``ow_lo[w] <= ow < ow_hi[w]`` (``window_ranges``, planned on
  the host), so no thread searches and there are no atomics (deterministic).

Window bounds and divisors are small per-axis arrays (int64 bounds, divisors in the data
dtype) planned on the host by ``reference.pool`` and copied to the device.

Launchers accept NumPy arrays (copied to the device and back) or CuPy arrays / anything with
``__cuda_array_interface__`` (results stay on the device as CuPy arrays).
"""

import math

import numpy as np
from numba import cuda

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
    window_ranges,
)
from ._launch import (
    _both_dtypes,
    _empty,
    _launch,
    _on_gpu,
    _to_caller,
    _to_device,
    _zeros,
    nchw_index,
)

# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------


@cuda.jit
def max_pool_forward_kernel1(x, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW):
    """Thread (n, c, oh, ow): y = max of its window (padding is -inf), argmax = h*W + w."""
    i = cuda.grid(1)
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    if i >= N * C * OH * OW:
        return
    n, c, oh, ow = nchw_index(i, C, OH, OW)
    best = x.dtype.type(-math.inf)
    best_i = -1  # stays -1 only if the window covers no input pixel
    for kh in range(KH):  # row-major window order: the first max wins ties
        h = oh * SH - PH + kh * DH
        if h < 0 or h >= H:
            continue
        for kw in range(KW):
            w = ow * SW - PW + kw * DW
            if w < 0 or w >= W:
                continue
            v = x[n, c, h, w]
            if best_i < 0 or v > best or math.isnan(v):  # torch: NaN propagates
                best = v
                best_i = h * W + w
    y[n, c, oh, ow] = best
    argmax[n, c, oh, ow] = best_i


@cuda.jit
def max_pool_backward_kernel1(dy, argmax, dx):
    """Thread (n, c, oh, ow): dx[n, c, argmax] += dy (atomic); dx is (N, C, H*W), zeroed."""
    i = cuda.grid(1)
    N, C, OH, OW = dy.shape
    if i >= N * C * OH * OW:
        return
    n, c, oh, ow = nchw_index(i, C, OH, OW)
    k = argmax[n, c, oh, ow]
    if 0 <= k < dx.shape[2]:  # -1 marks a window with no input pixel
        cuda.atomic.add(dx, (n, c, k), dy[n, c, oh, ow])


@cuda.jit
def window_average_kernel1(x, y, h0, h1, w0, w1, hdiv, wdiv):
    """Thread (n, c, oh, ow): y = sum x[n, c, h0[oh]:h1[oh], w0[ow]:w1[ow]] / (hdiv*wdiv)."""
    i = cuda.grid(1)
    N, C = x.shape[0], x.shape[1]
    OH, OW = y.shape[2], y.shape[3]
    if i >= N * C * OH * OW:
        return
    n, c, oh, ow = nchw_index(i, C, OH, OW)
    total = x.dtype.type(0)
    for h in range(h0[oh], h1[oh]):
        for w in range(w0[ow], w1[ow]):
            total += x[n, c, h, w]
    y[n, c, oh, ow] = total / (hdiv[oh] * wdiv[ow])


@cuda.jit
def window_average_backward_kernel1(dy, dx, hdiv, wdiv, oh_lo, oh_hi, ow_lo, ow_hi):
    """Gather, thread (n, c, h, w): dx = sum over the windows (oh, ow) containing (h, w) of
    dy[n, c, oh, ow] / (hdiv[oh] * wdiv[ow]); those windows are oh_lo[h] <= oh < oh_hi[h]
    and ow_lo[w] <= ow < ow_hi[w]."""
    i = cuda.grid(1)
    N, C, H, W = dx.shape
    if i >= N * C * H * W:
        return
    n, c, h, w = nchw_index(i, C, H, W)
    total = dx.dtype.type(0)
    for oh in range(oh_lo[h], oh_hi[h]):
        for ow in range(ow_lo[w], ow_hi[w]):
            total += dy[n, c, oh, ow] / (hdiv[oh] * wdiv[ow])
    dx[n, c, h, w] = total


# Signatures for the sm_90 PTX compile test, {kernel name: [float32 signature, float64 one]}.
_A4 = "{t}[:, :, :, ::1]"  # (N, C, H, W) data array
_I4 = "int64[:, :, :, ::1]"  # (N, C, OH, OW) argmax
_I1 = "int64[::1]"  # per-axis window bounds
_D1 = "{t}[::1]"  # per-axis divisors
PTX_SIGNATURES = {
    "max_pool_forward_kernel1": _both_dtypes(
        f"void({_A4}, {_A4}, {_I4}, " + ", ".join(["int64"] * 8) + ")"
    ),
    "max_pool_backward_kernel1": _both_dtypes(f"void({_A4}, {_I4}, {{t}}[:, :, ::1])"),
    "window_average_kernel1": _both_dtypes(
        f"void({_A4}, {_A4}, {_I1}, {_I1}, {_I1}, {_I1}, {_D1}, {_D1})"
    ),
    "window_average_backward_kernel1": _both_dtypes(
        f"void({_A4}, {_A4}, {_D1}, {_D1}, {_I1}, {_I1}, {_I1}, {_I1})"
    ),
}

# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _float_input(op, name, a, on_gpu):
    a_d = _to_device(a, on_gpu)
    check_float_dtype(op, name, a_d.dtype)
    return a_d


def _window_args(windows_h, windows_w, dtype, on_gpu):
    """(h0, h1, hdiv), (w0, w1, wdiv) -> device arrays h0, h1, w0, w1, hdiv, wdiv; divisors
    in the data dtype so that float32 stays float32."""
    (h0, h1, hdiv), (w0, w1, wdiv) = windows_h, windows_w
    bounds = [_to_device(b, on_gpu, np.int64) for b in (h0, h1, w0, w1)]
    divisors = [_to_device(d, on_gpu, dtype) for d in (hdiv, wdiv)]
    return (*bounds, *divisors)


def _average(x_d, windows_h, windows_w, on_gpu):
    N, C = x_d.shape[:2]
    OH, OW = len(windows_h[0]), len(windows_w[0])
    y = _empty((N, C, OH, OW), x_d.dtype, on_gpu)
    args = _window_args(windows_h, windows_w, x_d.dtype, on_gpu)
    _launch(window_average_kernel1, N * C * OH * OW, x_d, y, *args)  # one thread per output
    return _to_caller(y, on_gpu)


def _average_backward(dy_d, x_shape, windows_h, windows_w, on_gpu):
    N, C, H, W = x_shape
    dx = _empty(x_shape, dy_d.dtype, on_gpu)  # every pixel is written once: no zeroing
    hdiv, wdiv = (_to_device(d, on_gpu, dy_d.dtype) for d in (windows_h[2], windows_w[2]))
    oh_lo, oh_hi = window_ranges(windows_h[0], windows_h[1], H)  # windows holding row h
    ow_lo, ow_hi = window_ranges(windows_w[0], windows_w[1], W)
    ranges = [_to_device(r, on_gpu, np.int64) for r in (oh_lo, oh_hi, ow_lo, ow_hi)]
    # one thread per input pixel
    _launch(window_average_backward_kernel1, N * C * H * W, dy_d, dx, hdiv, wdiv, *ranges)
    return _to_caller(dx, on_gpu)


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max pooling with torch-style argmax; see ``reference.pool.max_pool2d_forward``."""
    op = "max_pool2d_forward"
    on_gpu = _on_gpu(x)
    x_d = _float_input(op, "x", x, on_gpu)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_pool_args(
        op, x_d.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    N, C = x_d.shape[:2]
    y = _empty((N, C, OH, OW), x_d.dtype, on_gpu)
    argmax = _empty((N, C, OH, OW), np.int64, on_gpu)
    args = (x_d, y, argmax, KH, KW, SH, SW, PH, PW, DH, DW)
    _launch(max_pool_forward_kernel1, N * C * OH * OW, *args)  # one thread per output
    return _to_caller(y, on_gpu), _to_caller(argmax, on_gpu)


def max_pool2d_backward(dy, argmax, x_shape):
    """Scatter-add dy to the argmax positions (atomic adds; see the module docstring)."""
    op = "max_pool2d_backward"
    on_gpu = _on_gpu(dy, argmax)
    dy_d = _float_input(op, "dy", dy, on_gpu)
    x_shape = tuple(int(s) for s in x_shape)
    argmax_d = _to_device(argmax, on_gpu)
    check_max_pool_backward_args(op, dy_d.shape, argmax_d.shape, argmax_d.dtype, x_shape)
    if argmax_d.dtype != np.int64:
        argmax_d = _to_device(argmax, on_gpu, np.int64)
    N, C, H, W = x_shape
    dx = _zeros((N, C, H * W), dy_d.dtype, on_gpu)  # flat planes: argmax indexes h*W + w
    _launch(max_pool_backward_kernel1, dy_d.size, dy_d, argmax_d, dx)  # one thread per dy
    return _to_caller(dx, on_gpu).reshape(N, C, H, W)


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """Average pooling, torch semantics; see ``reference.pool.avg_pool2d_forward``."""
    op = "avg_pool2d_forward"
    on_gpu = _on_gpu(x)
    x_d = _float_input(op, "x", x, on_gpu)
    windows = avg_pool_plan(
        op, x_d.shape, kernel_size, stride, padding, ceil_mode, count_include_pad
    )
    return _average(x_d, *windows, on_gpu)


def avg_pool2d_backward(dy, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """Adjoint of ``avg_pool2d_forward`` (gather, deterministic)."""
    op = "avg_pool2d_backward"
    on_gpu = _on_gpu(dy)
    dy_d = _float_input(op, "dy", dy, on_gpu)
    x_shape = tuple(int(s) for s in x_shape)
    windows_h, windows_w = avg_pool_plan(
        op, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad
    )
    check_grad_shape(op, dy_d.shape, x_shape, (len(windows_h[0]), len(windows_w[0])))
    return _average_backward(dy_d, x_shape, windows_h, windows_w, on_gpu)


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling with torch's bins; see ``reference.pool``."""
    op = "adaptive_avg_pool2d_forward"
    on_gpu = _on_gpu(x)
    x_d = _float_input(op, "x", x, on_gpu)
    OH, OW = check_adaptive_output_size(op, x_d.shape, output_size)
    return _average(x_d, *adaptive_plan(x_d.shape, OH, OW), on_gpu)


def adaptive_avg_pool2d_backward(dy, x_shape):
    """Adjoint of the adaptive forward; the output size is read from ``dy``."""
    op = "adaptive_avg_pool2d_backward"
    on_gpu = _on_gpu(dy)
    dy_d = _float_input(op, "dy", dy, on_gpu)
    x_shape = tuple(int(s) for s in x_shape)
    check_4d(op, "dy", dy_d.shape)
    check_grad_shape(op, dy_d.shape, x_shape, dy_d.shape[2:])
    windows = adaptive_plan(x_shape, *dy_d.shape[2:])
    return _average_backward(dy_d, x_shape, *windows, on_gpu)


def global_avg_pool2d_forward(x):
    """Mean over (H, W): (N, C, H, W) -> (N, C, 1, 1); one window per plane."""
    op = "global_avg_pool2d_forward"
    on_gpu = _on_gpu(x)
    x_d = _float_input(op, "x", x, on_gpu)
    check_4d(op, "input", x_d.shape)
    return _average(x_d, *adaptive_plan(x_d.shape, 1, 1), on_gpu)


def global_avg_pool2d_backward(dy, x_shape):
    """dx[n, c, h, w] = dy[n, c, 0, 0] / (H*W)."""
    op = "global_avg_pool2d_backward"
    on_gpu = _on_gpu(dy)
    dy_d = _float_input(op, "dy", dy, on_gpu)
    x_shape = tuple(int(s) for s in x_shape)
    check_grad_shape(op, dy_d.shape, x_shape, (1, 1))
    return _average_backward(dy_d, x_shape, *adaptive_plan(x_shape, 1, 1), on_gpu)
