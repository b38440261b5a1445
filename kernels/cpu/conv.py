"""im2col / col2im compiled with Numba ``@njit`` (same signatures as ``reference.conv``).

Formulas (see ``reference/conv.py``)::

    cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]     im2col
    dx[n, c, h, w] = sum of the cols entries copied from (h, w)                    col2im

and the same with the GEMM layout ``cols[(c, kh, kw), (n, oh, ow)]`` (``im2col_gemm`` /
``col2im_gemm``, what ``functional/conv.py`` uses).

Both layouts work one input plane (n, c) at a time, on the KH*KW rows of ``cols`` that hold
its windows (OH*OW contiguous entries each), through a zero-padded copy of the plane on the
stack: Hp x Wp = ((OH-1)*SH + (KH-1)*DH + 1) x ((OW-1)*SW + (KW-1)*DW + 1), every window
inside it (``_stack.py``: LLVM knows that no other array overlaps a stack array, so the
loops over it need no run-time overlap checks).

- ``_unfold_plane``  pads the plane into the stack copy, then copies each window row out of
  it: with stride 1 a contiguous copy without bounds tests.
- ``_fold_plane``    adds each window row into a zeroed stack copy (the adjoint; within one
  kernel offset no two windows hit the same pixel), then cuts the plane out of it.

Planes larger than the stack copy (``PLANE_BYTES``: 90 x 90 float32 with the padding) go
through ``_unfold_offset`` / ``_fold_offset``, which test the bounds of every entry in place.
Measured (one thread, float32): im2col_gemm of 13 x 1 x 28 x 28 with a 5 x 5 window 50 -> 27
us, col2im_gemm of 64 x 32 x 16 x 16 with 3 x 3 2.3 -> 0.8 ms. (An earlier im2col that
copied the in-bounds range of each row straight from the plane, without the padded copy, was
5x *slower* than the bounds tests: Numba's negative-index handling on the computed indices
blocked vectorization; the slices from 0 here have no negative indices to handle.)

Parallel layout (``prange``): each thread takes whole input planes (n, c) and writes their
KH*KW rows of ``cols`` (im2col) or the plane of ``dx`` (col2im), so there are no races, and
the summation order of col2im is fixed (deterministic; never ``np.add.at``). The GEMM-layout
kernels go in (c, n) order: consecutive planes read or write consecutive blocks of the same
KH*KW cols rows (sequential streams the prefetcher follows; in (n, c) order every block would
start a new 4 KiB page N*OH*OW entries away, 2-3x slower). Calls with less than
``PARALLEL_GRAIN`` elements run on one thread (``threads_for``), and calls on one thread run
each kernel compiled without ``parallel`` (``_prange.py``: the same loop, about a second less
to compile, no thread pool to wake).

Every kernel is compiled once per dtype (float32, float64); inputs are made C-contiguous
first (a no-op for arrays that already are) so that no extra specialisations for strided
layouts are compiled.
"""

import numba
import numpy as np
from numba import njit, prange
from numba.np.numpy_support import carray

from .._config import NUMBA_CACHE
from ..reference.conv import (
    check_cols_gemm_shape,
    check_cols_shape,
    check_conv_args,
    check_float_dtype,
    conv_output_size,  # noqa: F401  (same public names as reference.conv)
)
from . import _prange
from ._prange import prange_kernel
from ._stack import stack_allocator

# Array elements a kernel call touches below which it runs on one thread.  Waking the thread
# pool and meeting at the closing barrier costs tens of microseconds on an idle machine and
# milliseconds on a busy one (the second thread has to be scheduled), more than a small
# kernel's whole run.  torch's CPU kernels use the same idea (``at::internal::GRAIN_SIZE``).
PARALLEL_GRAIN = 1 << 16

# Bytes of the zero-padded copy of one input plane on the stack (planes up to 90 x 90 float32
# or 64 x 64 float64 with their padding); larger planes go through the in-place loops with
# bounds tests.
PLANE_BYTES = 32768
_stack_plane = stack_allocator(PLANE_BYTES)


class threads_for:  # noqa: N801 - a context manager used like a function
    """``with threads_for(work):`` runs the ``prange`` kernels inside on one thread when
    ``work`` < PARALLEL_GRAIN. A class, not a generator: it is entered on every kernel call,
    and with one thread already (the usual setting on small CPUs) it costs one query."""

    __slots__ = ("work", "before")

    def __init__(self, work):
        self.work = work
        self.before = 1  # the thread count to restore on exit; 1: nothing was changed

    def __enter__(self):
        if self.work < PARALLEL_GRAIN:
            self.before = _prange.num_threads()
            if self.before > 1:
                numba.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self.before > 1:
            numba.set_num_threads(self.before)
        return False


# ---------------------------------------------------------------------------------------------
# building blocks: one input plane <-> its KH*KW rows of cols
# ---------------------------------------------------------------------------------------------


@njit(cache=NUMBA_CACHE, inline="always")
def _unfold_offset(plane, row, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW):
    """row[oh*OW + ow] = xpad[oh*SH + kh*DH, ow*SW + kw*DW] for one (H, W) plane, in place:
    the path for planes larger than the stack copy."""
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
    """plane[oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] += row[oh*OW + ow] (padding dropped), in
    place: the path for planes larger than the stack copy.

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


@njit(cache=NUMBA_CACHE, inline="always")
def _padded_size(KH, KW, SH, SW, DH, DW, OH, OW):
    """(Hp, Wp): the part of the zero-padded plane that the windows cover."""
    return (OH - 1) * SH + (KH - 1) * DH + 1, (OW - 1) * SW + (KW - 1) * DW + 1


@njit(cache=NUMBA_CACHE, inline="always")
def _unfold_plane(plane, cols2d, r0, j0, buf, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols2d[r0 + kh*KW + kw, j0 + oh*OW + ow] = xpad[oh*SH + kh*DH, ow*SW + kw*DW]: the
    KH*KW window rows of one (H, W) plane. ``buf``: the stack array for the padded copy."""
    H, W = plane.shape
    L = OH * OW
    Hp, Wp = _padded_size(KH, KW, SH, SW, DH, DW, OH, OW)
    if Hp * Wp > buf.shape[0]:  # too large for the stack copy: bounds tests in place
        for kh in range(KH):
            for kw in range(KW):
                row = cols2d[r0 + kh * KW + kw, j0:j0 + L]  # (OH*OW,)
                _unfold_offset(plane, row, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)
        return
    # the padded copy: rows hp = h + PH, columns wp = w + PW, zeros around the plane
    zero = plane.dtype.type(0)
    w_lo = min(Wp, PW)  # the plane's columns in buf: w_lo <= wp < w_hi
    w_hi = max(w_lo, min(Wp, W + PW))
    for hp in range(Hp):
        dst = buf[hp * Wp:(hp + 1) * Wp]  # (Wp,)
        h = hp - PH
        if 0 <= h < H:
            for wp in range(w_lo):
                dst[wp] = zero
            src = plane[h, w_lo - PW:w_hi - PW]
            inner = dst[w_lo:w_hi]
            for w in range(w_hi - w_lo):
                inner[w] = src[w]
            for wp in range(w_hi, Wp):
                dst[wp] = zero
        else:
            for wp in range(Wp):
                dst[wp] = zero
    for kh in range(KH):
        for kw in range(KW):
            row = cols2d[r0 + kh * KW + kw, j0:j0 + L]  # (OH*OW,)
            for oh in range(OH):
                src = buf[(oh * SH + kh * DH) * Wp + kw * DW:]
                dst = row[oh * OW:(oh + 1) * OW]  # (OW,)
                if SW == 1:
                    for ow in range(OW):
                        dst[ow] = src[ow]
                else:
                    for ow in range(OW):
                        dst[ow] = src[ow * SW]


@njit(cache=NUMBA_CACHE, inline="always")
def _fold_plane(cols2d, r0, j0, plane, buf, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """plane (H, W) = the fold of its KH*KW window rows cols2d[r0 + kh*KW + kw, j0 : j0 +
    OH*OW] (any content on entry). ``buf``: the stack array for the padded copy."""
    H, W = plane.shape
    L = OH * OW
    Hp, Wp = _padded_size(KH, KW, SH, SW, DH, DW, OH, OW)
    if Hp * Wp > buf.shape[0]:  # too large for the stack copy: bounds tests in place
        plane[:, :] = 0
        for kh in range(KH):
            for kw in range(KW):
                row = cols2d[r0 + kh * KW + kw, j0:j0 + L]  # (OH*OW,)
                _fold_offset(row, plane, kh, kw, SH, SW, PH, PW, DH, DW, OH, OW)
        return
    zero = plane.dtype.type(0)
    for i in range(Hp * Wp):  # (loops: a slice filled with a scalar, buf[:n] = 0, is slower)
        buf[i] = zero
    for kh in range(KH):
        for kw in range(KW):
            row = cols2d[r0 + kh * KW + kw, j0:j0 + L]  # (OH*OW,)
            for oh in range(OH):
                src = row[oh * OW:(oh + 1) * OW]  # (OW,)
                dst = buf[(oh * SH + kh * DH) * Wp + kw * DW:]
                if SW == 1:
                    for ow in range(OW):
                        dst[ow] += src[ow]
                else:
                    for ow in range(OW):
                        dst[ow * SW] += src[ow]
    # cut the plane out: rows h + PH < Hp and columns w + PW < Wp; the rest no window reached
    Wc = max(0, min(W, Wp - PW))
    for h in range(H):
        dst = plane[h]
        if h + PH < Hp:
            src = buf[(h + PH) * Wp + PW:]
            for w in range(Wc):
                dst[w] = src[w]
            for w in range(Wc, W):
                dst[w] = zero
        else:
            for w in range(W):
                dst[w] = zero


# ---------------------------------------------------------------------------------------------
# kernels: one prange iteration per input plane
# ---------------------------------------------------------------------------------------------


@prange_kernel()
def _im2col_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW)."""
    N, C = x.shape[0], x.shape[1]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        buf = carray(_stack_plane(x), (PLANE_BYTES // x.itemsize,))
        _unfold_plane(x[n, c], cols[n], c * KH * KW, 0, buf, KH, KW, SH, SW, PH, PW, DH, DW,
                      OH, OW)


@prange_kernel()
def _im2col_gemm_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW); planes in (c, n) order."""
    N, C = x.shape[0], x.shape[1]
    L = OH * OW
    for cn in prange(C * N):
        c = cn // N
        n = cn % N
        buf = carray(_stack_plane(x), (PLANE_BYTES // x.itemsize,))
        _unfold_plane(x[n, c], cols, c * KH * KW, n * L, buf, KH, KW, SH, SW, PH, PW, DH, DW,
                      OH, OW)


@prange_kernel()
def _col2im_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W) (any content on entry)."""
    N, C = dx.shape[0], dx.shape[1]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        buf = carray(_stack_plane(cols), (PLANE_BYTES // cols.itemsize,))
        _fold_plane(cols[n], c * KH * KW, 0, dx[n, c], buf, KH, KW, SH, SW, PH, PW, DH, DW,
                    OH, OW)


@prange_kernel()
def _col2im_gemm_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols (C*KH*KW, N*OH*OW) -> dx (N, C, H, W) (any content on entry); planes in (c, n)
    order."""
    N, C = dx.shape[0], dx.shape[1]
    L = OH * OW
    for cn in prange(C * N):
        c = cn // N
        n = cn % N
        buf = carray(_stack_plane(cols), (PLANE_BYTES // cols.itemsize,))
        _fold_plane(cols, c * KH * KW, n * L, dx[n, c], buf, KH, KW, SH, SW, PH, PW, DH, DW,
                    OH, OW)


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
        kernel = _im2col_gemm_kernel if gemm_layout else _im2col_kernel
        kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
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
