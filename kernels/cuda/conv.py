"""im2col / col2im as Numba ``@cuda.jit`` kernels (same signatures as ``reference.conv``).

Formulas (see ``reference/conv.py``)::

    cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]     im2col
    dx[n, c, h, w] = sum of the cols entries copied from (h, w)                    col2im

File anatomy (llm.c style): numbered kernels, naive first, then the launchers.

- ``im2col_kernel1``  naive: one thread per ``cols`` element; each thread decodes all six
  indices (n, c, kh, kw, oh, ow) from its flat id.
- ``im2col_kernel2``  one thread per output pixel (n, c, oh, ow) writes its KH*KW column
  entries (Caffe's im2col): the index decoding and the window origin are computed once per
  KH*KW copies.  Neighbouring threads still write neighbouring ``cols`` addresses (coalesced).
  The launcher uses this one.
- ``col2im_kernel1``  gather: one thread per input pixel (n, c, h, w) loops over the kernel
  offsets (kh, kw), finds the single window (oh, ow) -- if any -- that read the pixel at that
  offset, and sums those ``cols`` entries.  Every output is written by exactly one thread:
  no atomics, and the summation order is fixed (deterministic, bitwise reproducible).
- ``im2col_gemm_kernel1`` / ``col2im_gemm_kernel1``  the same two kernels (im2col_kernel2,
  col2im_kernel1) for the GEMM layout ``cols[(c, kh, kw), (n, oh, ow)]`` of ``im2col_gemm`` /
  ``col2im_gemm``: only the address of a ``cols`` entry changes, ``cols[r, n*OH*OW + l]``.
  Threads still run over (n, c, oh, ow) with ``ow`` fastest, so neighbouring threads touch
  neighbouring ``cols`` addresses (coalesced).

Launchers accept NumPy arrays (copied to the device and back; this is what the simulator
tests use) or CuPy arrays / anything with ``__cuda_array_interface__`` (the result is a CuPy
array that stays on the device).  Kernels are dtype-generic: Numba compiles one version for
float32 and one for float64 on first use, and accumulators take the dtype of the data
(``x.dtype.type(0)``), so float32 kernels never compute in float64.

The small launch helpers (``_on_gpu``, ``_to_device``, ...) live in ``cuda/_launch.py``,
shared with ``cuda/pool.py``.
"""

from numba import cuda

from ..reference.conv import (
    check_cols_gemm_shape,
    check_cols_shape,
    check_conv_args,
    check_float_dtype,
    conv_output_size,  # noqa: F401  (same public names as reference.conv)
)
from ._launch import (
    THREADS_PER_BLOCK,  # noqa: F401  (kept importable from here)
    _both_dtypes,
    _empty,
    _launch,
    _on_gpu,
    _to_caller,
    _to_device,
    nchw_index,
)

# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------


@cuda.jit
def im2col_kernel1(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Naive im2col: thread i writes cols.flat[i], i = (n*C*KH*KW + r)*OH*OW + l."""
    i = cuda.grid(1)
    N, R, L = cols.shape  # (N, C*KH*KW, OH*OW)
    if i >= N * R * L:
        return
    n = i // (R * L)
    r = (i // L) % R  # r = (c*KH + kh)*KW + kw
    l = i % L  # l = oh*OW + ow
    c = r // (KH * KW)
    kh = (r // KW) % KH
    kw = r % KW
    h = (l // OW) * SH - PH + kh * DH
    w = (l % OW) * SW - PW + kw * DW
    if 0 <= h < x.shape[2] and 0 <= w < x.shape[3]:
        cols[n, r, l] = x[n, c, h, w]
    else:
        cols[n, r, l] = 0  # zero padding


@cuda.jit
def im2col_kernel2(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """im2col, one thread per output pixel (n, c, oh, ow) copying its KH*KW window."""
    i = cuda.grid(1)
    N, C, H, W = x.shape
    if i >= N * C * OH * OW:
        return
    n = i // (C * OH * OW)
    c = (i // (OH * OW)) % C
    l = i % (OH * OW)  # l = oh*OW + ow
    h_origin = (l // OW) * SH - PH  # input row of kernel offset kh = 0
    w_origin = (l % OW) * SW - PW
    zero = x.dtype.type(0)
    for kh in range(KH):
        h = h_origin + kh * DH
        for kw in range(KW):
            w = w_origin + kw * DW
            r = (c * KH + kh) * KW + kw
            if 0 <= h < H and 0 <= w < W:
                cols[n, r, l] = x[n, c, h, w]
            else:
                cols[n, r, l] = zero  # zero padding


@cuda.jit(device=True, inline=True)
def _window_reading(h, k, S, P, D, O):
    """The window o (0 <= o < O) whose kernel offset k reads input position h along one axis,
    or -1 if there is none: o*S = h + P - k*D."""
    o_times_s = h + P - k * D
    if o_times_s < 0 or o_times_s % S != 0:
        return -1
    o = o_times_s // S
    return o if o < O else -1


@cuda.jit
def col2im_kernel1(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Gather col2im: thread (n, c, h, w) sums every cols entry that im2col copied from it.

    At kernel offset (kh, kw) pixel h was read by window row oh iff oh*SH = h + PH - kh*DH
    with 0 <= oh < OH (columns alike), so each offset contributes at most one entry.
    """
    i = cuda.grid(1)
    N, C, H, W = dx.shape
    if i >= N * C * H * W:
        return
    n, c, h, w = nchw_index(i, C, H, W)
    total = dx.dtype.type(0)
    for kh in range(KH):
        oh = _window_reading(h, kh, SH, PH, DH, OH)
        if oh < 0:
            continue
        for kw in range(KW):
            ow = _window_reading(w, kw, SW, PW, DW, OW)
            if ow >= 0:
                total += cols[n, (c * KH + kh) * KW + kw, oh * OW + ow]
    dx[n, c, h, w] = total


@cuda.jit
def im2col_gemm_kernel1(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """im2col into the GEMM layout cols (C*KH*KW, N*OH*OW); one thread per output pixel
    (n, c, oh, ow) copies its KH*KW window."""
    i = cuda.grid(1)
    N, C, H, W = x.shape
    L = OH * OW
    if i >= N * C * L:
        return
    n = i // (C * L)
    c = (i // L) % C
    l = i % L  # l = oh*OW + ow
    h_origin = (l // OW) * SH - PH  # input row of kernel offset kh = 0
    w_origin = (l % OW) * SW - PW
    zero = x.dtype.type(0)
    for kh in range(KH):
        h = h_origin + kh * DH
        for kw in range(KW):
            w = w_origin + kw * DW
            r = (c * KH + kh) * KW + kw
            if 0 <= h < H and 0 <= w < W:
                cols[r, n * L + l] = x[n, c, h, w]
            else:
                cols[r, n * L + l] = zero  # zero padding


@cuda.jit
def col2im_gemm_kernel1(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Gather col2im from the GEMM layout cols (C*KH*KW, N*OH*OW): thread (n, c, h, w) sums
    every cols entry that im2col_gemm copied from it (see col2im_kernel1)."""
    i = cuda.grid(1)
    N, C, H, W = dx.shape
    if i >= N * C * H * W:
        return
    n, c, h, w = nchw_index(i, C, H, W)
    L = OH * OW
    total = dx.dtype.type(0)
    for kh in range(KH):
        oh = _window_reading(h, kh, SH, PH, DH, OH)
        if oh < 0:
            continue
        for kw in range(KW):
            ow = _window_reading(w, kw, SW, PW, DW, OW)
            if ow >= 0:
                total += cols[(c * KH + kh) * KW + kw, n * L + oh * OW + ow]
    dx[n, c, h, w] = total


# Signatures for the sm_90 PTX compile test, {kernel name: [float32 signature, float64 one]}.
# Arrays arrive C-contiguous (the launchers make them so) and Python ints as int64.
_INTS_10 = ", ".join(["int64"] * 10)  # KH, KW, SH, SW, PH, PW, DH, DW, OH, OW
PTX_SIGNATURES = {
    "im2col_kernel1": _both_dtypes("void({t}[:, :, :, ::1], {t}[:, :, ::1], " + _INTS_10 + ")"),
    "im2col_kernel2": _both_dtypes("void({t}[:, :, :, ::1], {t}[:, :, ::1], " + _INTS_10 + ")"),
    "col2im_kernel1": _both_dtypes("void({t}[:, :, ::1], {t}[:, :, :, ::1], " + _INTS_10 + ")"),
    "im2col_gemm_kernel1": _both_dtypes("void({t}[:, :, :, ::1], {t}[:, ::1], " + _INTS_10 + ")"),
    "col2im_gemm_kernel1": _both_dtypes("void({t}[:, ::1], {t}[:, :, :, ::1], " + _INTS_10 + ")"),
}

# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _unfold(op, gemm, x, KH, KW, stride, padding, dilation, version=2):
    """Shared im2col launcher: cols in the batched layout (N, C*KH*KW, OH*OW), or with ``gemm``
    in the GEMM layout (C*KH*KW, N*OH*OW); ``version`` picks the batched kernel."""
    on_gpu = _on_gpu(x)
    x_d = _to_device(x, on_gpu)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        op, x_d.shape, KH, KW, stride, padding, dilation
    )
    check_float_dtype(op, "x", x_d.dtype)
    N, C = x_d.shape[:2]
    R, L = C * KH * KW, OH * OW
    cols = _empty((R, N * L) if gemm else (N, R, L), x_d.dtype, on_gpu)
    args = (x_d, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if gemm:
        _launch(im2col_gemm_kernel1, N * C * OH * OW, *args)  # one thread per output pixel
    elif version == 1:
        _launch(im2col_kernel1, N * C * KH * KW * OH * OW, *args)  # one thread per cols entry
    elif version == 2:
        _launch(im2col_kernel2, N * C * OH * OW, *args)  # one thread per output pixel
    else:
        raise ValueError(f"im2col: no kernel version {version!r} (have 1, 2)")
    return _to_caller(cols, on_gpu)


def _fold(op, gemm, cols, x_shape, KH, KW, stride, padding, dilation):
    """Shared col2im launcher (gather, no atomics): cols in the batched layout
    (N, C*KH*KW, OH*OW), or with ``gemm`` in the GEMM layout (C*KH*KW, N*OH*OW)."""
    on_gpu = _on_gpu(cols)
    x_shape = tuple(int(s) for s in x_shape)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        op, x_shape, KH, KW, stride, padding, dilation
    )
    cols_d = _to_device(cols, on_gpu)
    check_shape = check_cols_gemm_shape if gemm else check_cols_shape
    check_shape(op, cols_d.shape, x_shape, KH, KW, OH, OW)
    check_float_dtype(op, "cols", cols_d.dtype)
    dx = _empty(x_shape, cols_d.dtype, on_gpu)  # every pixel is written once: no zeroing
    N, C, H, W = x_shape
    args = (cols_d, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    kernel = col2im_gemm_kernel1 if gemm else col2im_kernel1
    _launch(kernel, N * C * H * W, *args)  # one thread per input pixel
    return _to_caller(dx, on_gpu)


def _im2col(x, KH, KW, stride, padding, dilation, version=2):
    """im2col with a chosen kernel version (tests run every version through this)."""
    return _unfold("im2col", False, x, KH, KW, stride, padding, dilation, version)


def im2col(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (N, C*KH*KW, OH*OW); see ``reference.conv.im2col``."""
    return _im2col(x, KH, KW, stride, padding, dilation)


def col2im(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (N, C*KH*KW, OH*OW) into dx (N, C, H, W) by gathering (no atomics)."""
    return _fold("col2im", False, cols, x_shape, KH, KW, stride, padding, dilation)


def im2col_gemm(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (C*KH*KW, N*OH*OW), the GEMM layout; see
    ``reference.conv.im2col_gemm``."""
    return _unfold("im2col_gemm", True, x, KH, KW, stride, padding, dilation)


def col2im_gemm(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (C*KH*KW, N*OH*OW) into dx (N, C, H, W) by gathering (no atomics)."""
    return _fold("col2im_gemm", True, cols, x_shape, KH, KW, stride, padding, dilation)
