"""im2col / col2im compiled with Numba ``@njit`` (same signatures as ``reference.conv``).

Formulas (see ``reference/conv.py``)::

    cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]     im2col
    dx[n, c, h, w] = sum of the cols entries copied from (h, w)                    col2im

and the same with the GEMM layout ``cols[(c, kh, kw), (n, oh, ow)]`` (``im2col_gemm`` /
``col2im_gemm``, what ``functional/conv.py`` uses).

Both layouts share two building blocks that work on one input plane and one kernel offset
(kh, kw), i.e. on one row of ``cols`` (OH*OW contiguous entries):

- ``_unfold_offset``  copies the plane into the row, zeros where the window reads padding.
  The loop body is one bounds test and one store, no early exit: LLVM turns it into vector
  code (an earlier version that computed the in-bounds range first and looped over it without
  tests was 5x *slower*: Numba's negative-index handling on the computed indices blocked
  vectorization).
- ``_fold_offset``    adds the row back into the plane (the adjoint).

Both are inlined into the kernels (``inline="always"``).

Parallel layout (``prange``):

- ``im2col`` gives each thread whole rows of ``cols`` (one (n, c, kh, kw) each): every row is
  written by exactly one thread, contiguously; ``im2col_gemm`` gives it a row's blocks for a
  group of samples.
- ``col2im`` gives each thread whole input planes ``(n, c)``: the thread zeroes its plane and
  adds all the windows that overlap inside it with plain loops, so there are no races and the
  summation order is fixed (deterministic).  Never ``np.add.at``.
- Calls with less than ``PARALLEL_GRAIN`` elements run on one thread (``threads_for``).

Every kernel is compiled once per dtype (float32, float64); inputs are made C-contiguous
first (a no-op for arrays that already are) so that no extra specialisations for strided
layouts are compiled.
"""

import contextlib

import numba
import numpy as np
from numba import njit, prange

from .._config import NUMBA_CACHE
from ..reference.conv import (
    check_cols_gemm_shape,
    check_cols_shape,
    check_conv_args,
    check_float_dtype,
    conv_output_size,  # noqa: F401  (same public names as reference.conv)
)

# Array elements a kernel call touches below which it runs on one thread.  Waking the thread
# pool and meeting at the closing barrier costs tens of microseconds on an idle machine and
# milliseconds on a busy one (the second thread has to be scheduled), more than a small
# kernel's whole run.  torch's CPU kernels use the same idea (``at::internal::GRAIN_SIZE``).
PARALLEL_GRAIN = 1 << 16


@contextlib.contextmanager
def threads_for(work):
    """Run the ``prange`` kernels inside on one thread when ``work`` < PARALLEL_GRAIN."""
    if work >= PARALLEL_GRAIN:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# building blocks: one input plane <-> one row of cols (one kernel offset)
# ---------------------------------------------------------------------------------------------


@njit(cache=NUMBA_CACHE, inline="always")
def _unfold_offset(plane, row, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW):
    """row[oh*OW + ow] = xpad[oh*SH + kh*DH, ow*SW + kw*DW] for one (H, W) plane."""
    H, W = plane.shape
    zero = plane.dtype.type(0)
    for oh in range(OH):
        h = oh * SH - PH + kh * DH
        for ow in range(OW):
            w = ow * SW - PW + kw * DW
            # one select per entry, no early exit: LLVM turns this loop into vector code
            if 0 <= h < H and 0 <= w < W:
                row[oh * OW + ow] = plane[h, w]
            else:
                row[oh * OW + ow] = zero  # zero padding


@njit(cache=NUMBA_CACHE, inline="always")
def _fold_offset(row, plane, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW):
    """plane[oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] += row[oh*OW + ow] (padding dropped).

    Within one kernel offset no two (oh, ow) hit the same pixel, so the iterations of the
    inner loop are independent (vectorizable)."""
    H, W = plane.shape
    for oh in range(OH):
        h = oh * SH - PH + kh * DH
        if h < 0 or h >= H:
            continue  # this window row lies in the padding
        for ow in range(OW):
            w = ow * SW - PW + kw * DW
            if 0 <= w < W:
                plane[h, w] += row[oh * OW + ow]


# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------


@njit(parallel=True, cache=NUMBA_CACHE)
def _im2col_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW); one prange iteration per cols row."""
    N, C = x.shape[0], x.shape[1]
    rows = C * KH * KW
    for nr in prange(N * rows):
        n = nr // rows
        r = nr % rows  # r = (c*KH + kh)*KW + kw
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        _unfold_offset(x[n, c], cols[n, r], kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)


@njit(parallel=True, cache=NUMBA_CACHE)
def _im2col_gemm_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, G):
    """x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW); one prange iteration per cols row and group
    of samples, G groups (one per thread): enough tasks for the threads even when the row
    count C*KH*KW is small, and the index arithmetic (five integer divisions) is not paid
    again for every block (a 10x10 block of LeNet's second layer costs about as much)."""
    N, C = x.shape[0], x.shape[1]
    L = OH * OW
    for rg in prange(C * KH * KW * G):
        r = rg // G  # r = (c*KH + kh)*KW + kw
        g = rg % G
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        for n in range(g * N // G, (g + 1) * N // G):
            block = cols[r, n * L : (n + 1) * L]  # (OH*OW,) contiguous
            _unfold_offset(x[n, c], block, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)


@njit(parallel=True, cache=NUMBA_CACHE)
def _col2im_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W) (any content on entry); one prange
    iteration per input plane (n, c)."""
    N, C = dx.shape[0], dx.shape[1]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        plane = dx[n, c]  # (H, W)
        plane[:, :] = 0  # zeroed by its owner: in parallel, and while it is in cache
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                _fold_offset(cols[n, r], plane, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)


@njit(parallel=True, cache=NUMBA_CACHE)
def _col2im_gemm_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols (C*KH*KW, N*OH*OW) -> dx (N, C, H, W) (any content on entry); one prange
    iteration per input plane (n, c).

    The planes go in (c, n) order: consecutive iterations read consecutive blocks of the same
    KH*KW cols rows (sequential streams the prefetcher follows); in (n, c) order every block
    would start a new 4 KiB page N*OH*OW entries away, 2-3x slower."""
    N, C = dx.shape[0], dx.shape[1]
    L = OH * OW
    for cn in prange(C * N):
        c = cn // N
        n = cn % N
        plane = dx[n, c]  # (H, W)
        plane[:, :] = 0
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                block = cols[r, n * L : (n + 1) * L]  # (OH*OW,)
                _fold_offset(block, plane, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)


# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _unfold(op, x, KH, KW, stride, padding, dilation, gemm_layout):
    x = np.asarray(x)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        op, x.shape, KH, KW, stride, padding, dilation
    )
    check_float_dtype(op, "x", x.dtype)
    x = np.ascontiguousarray(x)  # no copy when x already is
    N, C = x.shape[:2]
    shape = (C * KH * KW, N * OH * OW) if gemm_layout else (N, C * KH * KW, OH * OW)
    cols = np.empty(shape, dtype=x.dtype)
    with threads_for(cols.size):
        if gemm_layout:
            groups = min(N, numba.get_num_threads())  # of samples per cols row
            _im2col_gemm_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, groups)
        else:
            _im2col_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return cols


def _fold(op, cols, x_shape, KH, KW, stride, padding, dilation, gemm_layout):
    cols = np.asarray(cols)
    x_shape = tuple(int(s) for s in x_shape)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        op, x_shape, KH, KW, stride, padding, dilation
    )
    check = check_cols_gemm_shape if gemm_layout else check_cols_shape
    check(op, cols.shape, x_shape, KH, KW, OH, OW)
    check_float_dtype(op, "cols", cols.dtype)
    cols = np.ascontiguousarray(cols)
    dx = np.empty(x_shape, dtype=cols.dtype)  # every plane is zeroed by the kernel
    kernel = _col2im_gemm_kernel if gemm_layout else _col2im_kernel
    with threads_for(cols.size):
        kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return dx


def im2col(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (N, C*KH*KW, OH*OW); see ``reference.conv.im2col``."""
    return _unfold("im2col", x, KH, KW, stride, padding, dilation, gemm_layout=False)


def col2im(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (N, C*KH*KW, OH*OW) into dx (N, C, H, W); see ``reference.conv.col2im``."""
    return _fold("col2im", cols, x_shape, KH, KW, stride, padding, dilation, gemm_layout=False)


def im2col_gemm(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (C*KH*KW, N*OH*OW); see ``reference.conv``."""
    return _unfold("im2col_gemm", x, KH, KW, stride, padding, dilation, gemm_layout=True)


def col2im_gemm(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (C*KH*KW, N*OH*OW) into dx (N, C, H, W); see ``reference.conv``."""
    return _fold("col2im_gemm", cols, x_shape, KH, KW, stride, padding, dilation,
                 gemm_layout=True)
