"""im2col / col2im compiled with Numba ``@njit`` (same signatures as ``reference.conv``).

Formulas (see ``reference/conv.py``)::

    cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]     im2col
    dx[n, c, h, w] = sum of the cols entries copied from (h, w)                    col2im

Parallel layout (``prange``):

- ``im2col`` gives each thread whole rows ``(n, c, kh, kw)`` of ``cols``: every row is written
  by exactly one thread, and the inner loop over ``ow`` writes contiguous memory.
- ``col2im`` gives each thread whole input planes ``(n, c)``: all windows that overlap inside
  a plane are summed by the thread that owns it with plain loops, so there are no races and
  the summation order is fixed (deterministic).  Never ``np.add.at``.

Every kernel is compiled once per dtype (float32, float64); inputs are made C-contiguous
first so that no extra specialisations for strided layouts are compiled.
"""

import numpy as np
from numba import njit, prange

from .._config import NUMBA_CACHE
from ..reference.conv import (
    check_cols_shape,
    check_conv_args,
    check_float_dtype,
    conv_output_size,  # noqa: F401  (same public names as reference.conv)
)


@njit(parallel=True, cache=NUMBA_CACHE)
def _im2col_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW); one prange iteration per cols row."""
    N, C, H, W = x.shape
    rows = C * KH * KW
    zero = x.dtype.type(0)
    for nr in prange(N * rows):
        n = nr // rows
        r = nr % rows  # r = (c*KH + kh)*KW + kw
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        for oh in range(OH):
            h = oh * SH - PH + kh * DH
            for ow in range(OW):
                w = ow * SW - PW + kw * DW
                if 0 <= h < H and 0 <= w < W:
                    cols[n, r, oh * OW + ow] = x[n, c, h, w]
                else:
                    cols[n, r, oh * OW + ow] = zero  # zero padding


@njit(parallel=True, cache=NUMBA_CACHE)
def _col2im_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W), dx zero on entry; one prange per plane."""
    N, C, H, W = dx.shape
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                for oh in range(OH):
                    h = oh * SH - PH + kh * DH
                    if h < 0 or h >= H:
                        continue  # this row of the window lies in the padding
                    for ow in range(OW):
                        w = ow * SW - PW + kw * DW
                        if 0 <= w < W:
                            dx[n, c, h, w] += cols[n, r, oh * OW + ow]


def im2col(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (N, C*KH*KW, OH*OW); see ``reference.conv.im2col``."""
    x = np.asarray(x)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        "im2col", x.shape, KH, KW, stride, padding, dilation
    )
    check_float_dtype("im2col", "x", x.dtype)
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    cols = np.empty((N, C * KH * KW, OH * OW), dtype=x.dtype)
    _im2col_kernel(x, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return cols


def col2im(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (N, C*KH*KW, OH*OW) into dx (N, C, H, W); see ``reference.conv.col2im``."""
    cols = np.asarray(cols)
    x_shape = tuple(int(s) for s in x_shape)
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), OH, OW = check_conv_args(
        "col2im", x_shape, KH, KW, stride, padding, dilation
    )
    check_cols_shape("col2im", cols.shape, x_shape, KH, KW, OH, OW)
    check_float_dtype("col2im", "cols", cols.dtype)
    cols = np.ascontiguousarray(cols)
    dx = np.zeros(x_shape, dtype=cols.dtype)
    _col2im_kernel(cols, dx, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return dx
