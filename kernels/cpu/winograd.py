"""Winograd F(2x2, 3x3) convolution compiled with Numba ``@njit`` (same signatures and
formulas as ``reference.winograd``, where the algorithm is explained)::

    V[xi] = (B^T d B)[xi]   M[xi] = U[xi] @ V[xi]   y tile = A^T M A + b

``winograd_weights`` makes U (16, OC, C) from the filters; ``winograd_conv3x3`` pads x once
(``_pad_kernel``: xpad (N, C, 2 TH + 2, 2 TW + 2), every tile inside it, no bounds tests
after) and sends the tiles through in blocks of ``BLOCK`` (64). A block's transformed tiles
V (16, C, 64) and products M (16, OC, 64) are scratch arrays of its own (at C = 32, OC = 64:
132 + 264 KiB, in L2), so the temporaries never grow with the batch, unlike im2col's columns
(9 C numbers per output pixel, which conv2d bounds by chunking the batch). Per block:

1. ``_input_tiles``: B^T d B for every channel and tile of the block, in runs of tiles side
   by side in one row of tiles (the loop over a run reads four rows of xpad at steps of 2 and
   vectorizes);
2. 16 products U[xi] (OC, C) @ V[xi] (C, 64) with ``gemm.gemm_nn_serial``'s register tiles;
3. ``_output_tiles``: A^T M A plus the bias into the 2x2 outputs of each tile, all the
   block's tiles in one loop, then copied into y run by run (where OH or OW is odd, without
   the outputs past its edge).

Two things LLVM needed to vectorize the transforms (measured, 64x32x16x16 -> 64, float32):

- no 16 store streams into rows of one array (more run-time overlap checks than LLVM makes):
  the results go to a stack array (``_stack.py``) and are copied out, 16 rows per block and
  channel;
- no negative-index wrap-around in the inner loop: indices count from 0 in slices made
  before it, or the loop is told that its start is not negative.

With both, the input transform went from 0.79 to 0.41 ms and the output's from 0.90 to 0.44.
Scratch arrays whose 16 planes start a multiple of 4 KiB apart (C or OC rows of 64 float32:
a multiple of 16 channels) made every store wait on false dependencies (4K aliasing): the
input transform took 4.3 ms, not 0.75; the planes get an odd number of rows (``_odd``).

Parallel layout (``prange``): one iteration per thread, each taking every ``groups``-th block
with scratch arrays of its own; a block writes the outputs of its own tiles only: no races,
and the same sums in the same order for any thread count. Calls with fewer than
``PARALLEL_GRAIN`` outputs run on one thread (``threads_for``).

The weight gradient (``winograd_weight_grad``: dU[xi] = Z[xi] @ V[xi]^T summed over the
tiles, Z the transformed 2x2 blocks of dy, then dW = G^T dU G) multiplies along the tiles, so
its products want V with the tiles in rows (BLOCK, C) for ``gemm_nn``'s b. That layout comes
from the input padded channels-last (``_pad_nhwc_kernel``, one transposing pass): a tile's 16
pixels are then 16 contiguous rows of C numbers, and ``_input_tiles_t`` vectorizes over the
channels. Its blocks hold ``WG_BLOCK`` (128) tiles, the length of each product's sums (64
cost 10% more at 28 x 28). Threads split the output channels (whole blocks of 8 rows, each
thread transforming all of the input again), not the tiles: each adds into rows of dU of its
own, in the same order for any thread count, with no partial sums to combine. One Zen 5 core,
float32, against dy @ cols^T in chunks (``functional/conv.py``): 64x32x16x16 -> 64 2.9 vs 4.1
ms, 32x64x16x16 -> 64 2.5 vs 3.9, 64x128x7x7 -> 128 4.1 vs 5.9; 64x32x28x28 -> 32 about even
(6.0-7.6 against 6.3-7.1 ms across runs; the whole fwd+bwd there 18.0 against 21.2).

Measured, one Zen 5 core, float32, the forward of 64x32x16x16 -> 64 with pad 1: 2.4-2.7 ms
(pad 0.14, input transform 0.41, the products 1.37 at ~195 GFLOP/s, output transform 0.44)
against 3.6 ms for conv2d's im2col + GEMM in chunks of 1 MiB (6.5 for one whole-batch
im2col_gemm + gemm_nn): the products do 268 MFLOP instead of 604 and there are no columns to
write and read. Which convolutions conv2d sends here: ``functional/conv.py``
(``_winograd_kernels``).
"""

import numpy as np
from numba import njit, prange
from numba.np.numpy_support import carray

from .._config import NUMBA_CACHE
from ..reference.conv import check_float_dtype
from ..reference.winograd import (  # noqa: F401
    check_weight_grad_args,
    check_winograd_args,
    input_grad_weight,
)
from . import _prange
from ._math import FAST
from ._prange import prange_kernel
from ._stack import stack_allocator
from .conv import threads_for
from .gemm import _add_row, _copy_row, gemm_nn_serial

BLOCK = 64  # tiles per block: whole panels of gemm_nn's tile (32 float32 or 16 float64 wide)


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _weights_kernel(weight, u, input_grad):
    """u[4i + j, o, c] = (G g G^T)[i, j] with g = weight[o, c], in float64; with ``input_grad``
    g = weight[c, o] rotated by 180 degrees (``input_grad_weight``).

    G g: rows t0 = g0, t1 = (g0 + g1 + g2) / 2, t2 = (g0 - g1 + g2) / 2, t3 = g2; then the
    same four combinations of the columns of t. The 16 numbers of each filter are made side
    by side in ``filters`` and copied into the 16 planes of u afterwards, one plane at a
    time (stores to the 16 planes in turn hit addresses a multiple of 4 KiB apart)."""
    C = u.shape[2]
    filters = np.empty((C, 16))  # the transformed filters of one o
    for o in range(u.shape[1]):
        for c in range(C):
            f = filters[c]
            for k in range(3):  # column k of G g: f[k], f[4 + k], f[8 + k], f[12 + k]
                if input_grad:  # g[r, k] = weight[c, o, 2 - r, 2 - k]
                    g0, g1, g2 = weight[c, o, 2, 2 - k], weight[c, o, 1, 2 - k], \
                        weight[c, o, 0, 2 - k]
                else:
                    g0, g1, g2 = weight[o, c, 0, k], weight[o, c, 1, k], weight[o, c, 2, k]
                g0, g1, g2 = np.float64(g0), np.float64(g1), np.float64(g2)
                f[k], f[4 + k] = g0, (g0 + g1 + g2) / 2
                f[8 + k], f[12 + k] = (g0 - g1 + g2) / 2, g2
            for i in range(4):  # row i of (G g) G^T, from the three entries of row i of G g
                a, b, d = f[4 * i], f[4 * i + 1], f[4 * i + 2]
                f[4 * i + 1], f[4 * i + 2], f[4 * i + 3] = (a + b + d) / 2, (a - b + d) / 2, d
        for xi in range(16):
            for c in range(C):
                u[xi, o, c] = filters[c, xi]


def winograd_weights(weight, input_grad: bool = False):
    """U (16, OC, C) = G g G^T for every filter of weight (OC, C, 3, 3); with ``input_grad``
    the filters of conv2d's input gradient, (16, C, OC). See ``reference.winograd``."""
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.shape[2:] != (3, 3):
        raise ValueError(f"winograd_weights: weight must be (OC, C, 3, 3), got "
                         f"{tuple(weight.shape)}")
    check_float_dtype("winograd_weights", "weight", weight.dtype)
    OC, C = weight.shape[:2]
    u = np.empty((16, C, OC) if input_grad else (16, OC, C), dtype=weight.dtype)
    _weights_kernel(np.ascontiguousarray(weight), u, bool(input_grad))
    return u


@prange_kernel(fastmath=FAST, error_model="numpy")
def _pad_kernel(x, xpad, PH, PW):
    """xpad[n, c, PH:PH + H, PW:PW + W] = x[n, c], zeros around it: one pass per plane."""
    N, C, H, W = x.shape
    Hp = xpad.shape[2]
    for nc in prange(N * C):
        src, dst = x[nc // C, nc % C], xpad[nc // C, nc % C]
        for r in range(Hp):
            row = dst[r]
            h = r - PH
            if h < 0 or h >= H:
                row[:] = 0
            else:
                row[:PW] = 0
                _copy_row(src[h], row[PW:PW + W])
                row[PW + W:] = 0


# the 16 transformed rows of one run of tiles, and the two output rows of one
_stack_v = stack_allocator(16 * BLOCK * 8)
_stack_y = stack_allocator(2 * 2 * BLOCK * 8)


@njit(inline="always", cache=NUMBA_CACHE)
def _tile_runs(runs, t0, nt, TH, TW):
    """The tiles t0 .. t0 + nt - 1 (tile t = (n, th, tw) in that order) in runs of tiles side
    by side in one row of tiles: runs[r] = (p0, count, n, h, w), the run's first tile in the
    block, its number of tiles and that tile's top-left output pixel (h = 2 th, w = 2 tw).
    Returns the number of runs (at most nt // TW + 2)."""
    p, r = 0, 0
    while p < nt:
        n, t = (t0 + p) // (TH * TW), (t0 + p) % (TH * TW)
        count = min(TW - t % TW, nt - p)
        runs[r, 0], runs[r, 1] = p, count
        runs[r, 2], runs[r, 3], runs[r, 4] = n, 2 * (t // TW), 2 * (t % TW)
        p, r = p + count, r + 1
    return r


@njit(inline="always", cache=NUMBA_CACHE)
def _run(runs, r):
    """Run r of ``_tile_runs`` as (p0, count, n, h, w)."""
    return runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3], runs[r, 4]


@njit(inline="always", cache=NUMBA_CACHE)
def _rows16(t):
    """The 16 rows of a (16, n) array as 16 views, each taken once with a constant index (the
    loops that fill them then index plain 1-d arrays)."""
    return (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
            t[8], t[9], t[10], t[11], t[12], t[13], t[14], t[15])


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _input_tiles(xf, v, runs, C, Hp, Wp):
    """v[4i + j, c, p0 + q] = (B^T d B)[i, j] for the 4x4 tile d of channel c whose top-left
    entry is xpad[n, c, h, w + 2q], q < count, for each run (p0, count, n, h, w) of ``runs``
    (``_tile_runs``; xf: the padded input xpad (N, C, Hp, Wp), flat).

    B^T d: rows e0 = d0 - d2, e1 = d1 + d2, e2 = d2 - d1, e3 = d1 - d3; then the same four
    sums of the columns of e. The loop over a run's tiles reads four rows of xf at steps of 2
    and writes a stack array, copied into v once the block's runs are done (see the module
    docstring)."""
    nt = runs[runs.shape[0] - 1, 0] + runs[runs.shape[0] - 1, 1]  # tiles in the block
    for c in range(C):
        t = carray(_stack_v(xf), (16, BLOCK))
        t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _rows16(t)
        for run in range(runs.shape[0]):
            p0, count, n, h, w = _run(runs, run)
            start = ((n * C + c) * Hp + h) * Wp + w
            if p0 < 0:  # never: tells LLVM that p0 + q >= 0, so t0[p] needs no
                continue  # negative-index wrap-around and the loop vectorizes
            width = 2 * count + 2
            x0 = xf[start:start + width]  # the four rows of the run's tiles
            x1 = xf[start + Wp:start + Wp + width]
            x2 = xf[start + 2 * Wp:start + 2 * Wp + width]
            x3 = xf[start + 3 * Wp:start + 3 * Wp + width]
            for q in range(count):
                j, p = 2 * q, p0 + q
                d00, d01, d02, d03 = x0[j], x0[j + 1], x0[j + 2], x0[j + 3]
                d10, d11, d12, d13 = x1[j], x1[j + 1], x1[j + 2], x1[j + 3]
                d20, d21, d22, d23 = x2[j], x2[j + 1], x2[j + 2], x2[j + 3]
                d30, d31, d32, d33 = x3[j], x3[j + 1], x3[j + 2], x3[j + 3]
                # e = B^T d, row by row
                e00, e01, e02, e03 = d00 - d20, d01 - d21, d02 - d22, d03 - d23
                e10, e11, e12, e13 = d10 + d20, d11 + d21, d12 + d22, d13 + d23
                e20, e21, e22, e23 = d20 - d10, d21 - d11, d22 - d12, d23 - d13
                e30, e31, e32, e33 = d10 - d30, d11 - d31, d12 - d32, d13 - d33
                # e B, column by column
                t0[p], t1[p], t2[p], t3[p] = e00 - e02, e01 + e02, e02 - e01, e01 - e03
                t4[p], t5[p], t6[p], t7[p] = e10 - e12, e11 + e12, e12 - e11, e11 - e13
                t8[p], t9[p], t10[p], t11[p] = e20 - e22, e21 + e22, e22 - e21, e21 - e23
                t12[p], t13[p], t14[p], t15[p] = e30 - e32, e31 + e32, e32 - e31, e31 - e33
        for xi in range(16):
            _copy_row(t[xi, :nt], v[xi, c, :nt])


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _output_tiles(m, bias, yf, runs, OC, OH, OW):
    """The 2x2 outputs (A^T M A)[a, b] + bias[o] of the tiles p0 + q, M = m[:, o, p0 + q] as
    4x4, into y[n, o, h + a, w + 2q + b], q < count, for each run (p0, count, n, h, w) of
    ``runs`` (``_tile_runs``; yf: the output y (N, OC, OH, OW), flat), those inside y.

    A^T M: rows s0 = M0 + M1 + M2, s1 = M1 - M2 - M3; then the same two sums of the columns.
    The block's tiles go through one loop into a stack array (top and bottom output rows,
    tile after tile), whose pieces are then copied run by run into y (see the module
    docstring)."""
    nt = runs[runs.shape[0] - 1, 0] + runs[runs.shape[0] - 1, 1]  # tiles in the block
    for o in range(OC):
        m0, m1, m2, m3 = m[0, o], m[1, o], m[2, o], m[3, o]
        m4, m5, m6, m7 = m[4, o], m[5, o], m[6, o], m[7, o]
        m8, m9, m10, m11 = m[8, o], m[9, o], m[10, o], m[11, o]
        m12, m13, m14, m15 = m[12, o], m[13, o], m[14, o], m[15, o]
        b = bias[o]
        t = carray(_stack_y(yf), (2, 2 * BLOCK))
        top, bottom = t[0], t[1]  # the tiles' two output rows, tile after tile
        for p in range(nt):
            s00, s01 = m0[p] + m4[p] + m8[p], m1[p] + m5[p] + m9[p]
            s02, s03 = m2[p] + m6[p] + m10[p], m3[p] + m7[p] + m11[p]
            s10, s11 = m4[p] - m8[p] - m12[p], m5[p] - m9[p] - m13[p]
            s12, s13 = m6[p] - m10[p] - m14[p], m7[p] - m11[p] - m15[p]
            top[2 * p], top[2 * p + 1] = s00 + s01 + s02 + b, s01 - s02 - s03 + b
            bottom[2 * p], bottom[2 * p + 1] = s10 + s11 + s12 + b, s11 - s12 - s13 + b
        for run in range(runs.shape[0]):
            p0, count, n, h, w = _run(runs, run)
            start = ((n * OC + o) * OH + h) * OW + w
            width = min(2 * count, OW - w)  # one less where the run ends at an odd edge
            _copy_row(top[2 * p0:2 * p0 + width], yf[start:start + width])
            if h + 1 < OH:  # the tiles' second row is inside y
                _copy_row(bottom[2 * p0:2 * p0 + width], yf[start + OW:start + OW + width])


@njit(inline="always", cache=NUMBA_CACHE)
def _odd(n):
    """n rounded up to an odd number: the rows of a scratch array, so that its 16 planes do
    not start a multiple of 4 KiB apart (see the module docstring)."""
    return n | 1


@prange_kernel(fastmath=FAST, error_model="numpy")
def _winograd_kernel(xpad, u, bias, y, groups):
    """y (N, OC, OH, OW) = conv2d(x, g) + bias from the padded input xpad (N, C, 2 TH + 2,
    2 TW + 2), TH = ceil(OH / 2), and U = G g G^T (16, OC, C): one prange iteration per group
    of blocks of BLOCK tiles (blocks g, g + groups, ...), each group with scratch V (16, C,
    BLOCK) and M (16, OC, BLOCK) of its own, allocated once (per block, the allocations and
    the page faults of their fresh memory took 2 of a 64x64x16x16 call's 5.3 ms)."""
    N, C, Hp, Wp = xpad.shape
    OC, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    TH, TW = (OH + 1) // 2, (OW + 1) // 2
    tiles = N * TH * TW
    xf, yf = xpad.reshape(-1), y.reshape(-1)
    for g in prange(groups):
        v = np.empty((16, _odd(C), BLOCK), dtype=xpad.dtype)  # rows c < C used
        m = np.empty((16, _odd(OC), BLOCK), dtype=xpad.dtype)  # rows o < OC used
        runs = np.empty((BLOCK // TW + 2, 5), dtype=np.int64)
        for t0 in range(g * BLOCK, tiles, groups * BLOCK):
            nt = min(BLOCK, tiles - t0)
            r = _tile_runs(runs, t0, nt, TH, TW)
            if nt < BLOCK:  # a last, partial block: zeros in the columns past its tiles
                v[:, :, nt:] = 0
            _input_tiles(xf, v, runs[:r], C, Hp, Wp)
            for xi in range(16):
                gemm_nn_serial(u[xi], v[xi, :C], m[xi, :OC])  # (OC, C) @ (C, BLOCK)
            _output_tiles(m, bias, yf, runs[:r], OC, OH, OW)


def winograd_conv3x3(x, u, bias, padding):
    """y (N, OC, OH, OW) = conv2d(x, g) + bias for x (N, C, H, W) and U = winograd_weights(g)
    (16, OC, C), stride 1, padding (PH, PW) each 0, 1 or 2; see ``reference.winograd``."""
    x, u = np.asarray(x), np.asarray(u)
    OH, OW = check_winograd_args("winograd_conv3x3", x.shape, x.dtype, u.shape, u.dtype,
                                 padding, bias)
    x, u = np.ascontiguousarray(x), np.ascontiguousarray(u)  # no copies when they already are
    N, OC = x.shape[0], u.shape[1]
    PH, PW = int(padding[0]), int(padding[1])
    bias = np.zeros(OC, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    TH, TW = -(-OH // 2), -(-OW // 2)  # tiles down and across
    xpad = np.empty((N, x.shape[1], 2 * TH + 2, 2 * TW + 2), dtype=x.dtype)
    y = np.empty((N, OC, OH, OW), dtype=x.dtype)
    with threads_for(y.size):
        _pad_kernel(x, xpad, PH, PW)
        groups = min(-(-(N * TH * TW) // BLOCK), _prange.threads())
        _winograd_kernel(xpad, u, bias, y, groups)
    return y


# ---------------------------------------------------------------------------------------------
# the weight gradient: dU[xi] = Z[xi] @ V[xi]^T summed over the tiles, dW = G^T dU G
# ---------------------------------------------------------------------------------------------

WG_BLOCK = 128  # tiles per block of the weight gradient: the sum over k of its products
STACK_T = 1024  # numbers per row of the tile-major transform's stack array
_stack_vt = stack_allocator(16 * STACK_T * 8)
_stack_z = stack_allocator(16 * WG_BLOCK * 8)


@prange_kernel(fastmath=FAST, error_model="numpy")
def _pad_nhwc_kernel(x, xt, PH, PW):
    """xt[n, PH + h, PW + w, c] = x[n, c, h, w], zeros around it: the padded input with the
    channels last, so that a tile's 16 pixels are 16 contiguous rows of C numbers."""
    N, C, H, W = x.shape
    Hp = xt.shape[1]
    for nr in prange(N * Hp):
        n, r = nr // Hp, nr % Hp
        row = xt[n, r]  # (Wp, C)
        row[:, :] = 0
        h = r - PH
        if 0 <= h < H:
            for c in range(C):
                src = x[n, c, h]
                for w in range(W):
                    row[PW + w, c] = src[w]


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _input_tiles_t(xt, vt, first, nt, TH, TW):
    """vt[4i + j, p, c] = (B^T d B)[i, j] for the 4x4 tile d of channel c of tile first + p,
    p < nt, whose top-left pixel is xt[n, 2 th, 2 tw] (tile t = (n, th, tw) in that order):
    the transform of ``_input_tiles`` with the tiles in rows of C numbers, for the weight
    gradient's products. The loop runs over the channels (contiguous in xt) into a stack
    array that holds the rows of several tiles (all of one tile's channels, or STACK_T of
    them), copied into vt once it is full."""
    C = xt.shape[3]
    width = min(C, STACK_T)  # channels per piece
    per_stack = STACK_T // width  # tiles per fill of the stack array (1 when C >= STACK_T)
    for p0 in range(0, nt, per_stack):
        p1 = min(nt, p0 + per_stack)
        for c0 in range(0, C, width):
            c1 = min(C, c0 + width)
            t = carray(_stack_vt(xt), (16, STACK_T))
            t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _rows16(t)
            for p in range(p0, p1):
                n, k = (first + p) // (TH * TW), (first + p) % (TH * TW)  # k = th * TW + tw
                h, w = 2 * (k // TW), 2 * (k % TW)
                base = (p - p0) * width  # where the tile's numbers start in t's rows
                if base < 0:  # never: tells LLVM that base + c >= 0 (see _output_tiles)
                    continue
                r0, r1, r2, r3 = xt[n, h], xt[n, h + 1], xt[n, h + 2], xt[n, h + 3]
                a0, a1 = r0[w, c0:c1], r0[w + 1, c0:c1]
                a2, a3 = r0[w + 2, c0:c1], r0[w + 3, c0:c1]
                b0, b1 = r1[w, c0:c1], r1[w + 1, c0:c1]
                b2, b3 = r1[w + 2, c0:c1], r1[w + 3, c0:c1]
                f0, f1 = r2[w, c0:c1], r2[w + 1, c0:c1]
                f2, f3 = r2[w + 2, c0:c1], r2[w + 3, c0:c1]
                g0, g1 = r3[w, c0:c1], r3[w + 1, c0:c1]
                g2, g3 = r3[w + 2, c0:c1], r3[w + 3, c0:c1]
                for c in range(c1 - c0):
                    d00, d01, d02, d03 = a0[c], a1[c], a2[c], a3[c]
                    d10, d11, d12, d13 = b0[c], b1[c], b2[c], b3[c]
                    d20, d21, d22, d23 = f0[c], f1[c], f2[c], f3[c]
                    d30, d31, d32, d33 = g0[c], g1[c], g2[c], g3[c]
                    # e = B^T d, row by row
                    e00, e01, e02, e03 = d00 - d20, d01 - d21, d02 - d22, d03 - d23
                    e10, e11, e12, e13 = d10 + d20, d11 + d21, d12 + d22, d13 + d23
                    e20, e21, e22, e23 = d20 - d10, d21 - d11, d22 - d12, d23 - d13
                    e30, e31, e32, e33 = d10 - d30, d11 - d31, d12 - d32, d13 - d33
                    # e B, column by column
                    i = base + c
                    t0[i], t1[i], t2[i], t3[i] = e00 - e02, e01 + e02, e02 - e01, e01 - e03
                    t4[i], t5[i], t6[i], t7[i] = e10 - e12, e11 + e12, e12 - e11, e11 - e13
                    t8[i], t9[i], t10[i], t11[i] = e20 - e22, e21 + e22, e22 - e21, e21 - e23
                    t12[i], t13[i], t14[i], t15[i] = (e30 - e32, e31 + e32, e32 - e31,
                                                      e31 - e33)
            for xi in range(16):
                if per_stack == 1:  # one tile, a piece of its channels
                    _copy_row(t[xi, :c1 - c0], vt[xi, p0, c0:c1])
                else:  # whole tiles: rows p0..p1 of vt[xi] are one contiguous run
                    _copy_row(t[xi, :(p1 - p0) * C], vt[xi, p0:p1].reshape(-1))


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _dy_tiles(dyf, z, runs, o0, o1, OC, OH, OW):
    """z[4i + j, o - o0, p0 + q] = (A dY A^T)[i, j] for the 2x2 block dY = dy[n, o, h:h + 2,
    w + 2q:w + 2q + 2], o0 <= o < o1, for each run (p0, count, n, h, w) of ``runs``
    (``_tile_runs``; dyf: dy (N, OC, OH, OW) with whole tiles, flat).

    A dY: rows r0 = y0, r1 = y0 + y1, r2 = y0 - y1, r3 = -y1 (y0, y1 the two rows of dY);
    then each row (a, b) becomes (a, a + b, a - b, -b). Into a stack array as in
    ``_input_tiles``, copied into z once the block's runs are done."""
    nt = runs[runs.shape[0] - 1, 0] + runs[runs.shape[0] - 1, 1]  # tiles in the block
    for o in range(o0, o1):
        t = carray(_stack_z(dyf), (16, WG_BLOCK))
        t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _rows16(t)
        for run in range(runs.shape[0]):
            p0, count, n, h, w = _run(runs, run)
            start = ((n * OC + o) * OH + h) * OW + w
            if p0 < 0:  # never: tells LLVM that p0 + q >= 0 (see _output_tiles)
                continue
            top = dyf[start:start + 2 * count]
            bottom = dyf[start + OW:start + OW + 2 * count]
            for q in range(count):
                p = p0 + q
                a0, b0 = top[2 * q], top[2 * q + 1]  # rows of A dY, as (a, b) pairs
                a1, b1 = a0 + bottom[2 * q], b0 + bottom[2 * q + 1]
                a2, b2 = a0 - bottom[2 * q], b0 - bottom[2 * q + 1]
                a3, b3 = -bottom[2 * q], -bottom[2 * q + 1]
                t0[p], t1[p], t2[p], t3[p] = a0, a0 + b0, a0 - b0, -b0
                t4[p], t5[p], t6[p], t7[p] = a1, a1 + b1, a1 - b1, -b1
                t8[p], t9[p], t10[p], t11[p] = a2, a2 + b2, a2 - b2, -b2
                t12[p], t13[p], t14[p], t15[p] = a3, a3 + b3, a3 - b3, -b3
        for xi in range(16):
            _copy_row(t[xi, :nt], z[xi, o - o0, :nt])


@prange_kernel(fastmath=FAST, error_model="numpy")
def _weight_grad_kernel(xt, dy, du, groups):
    """du[xi] (OC, C) = sum over the tiles of Z[xi] (OC, BLOCK) @ V[xi]^T (BLOCK, C), from the
    padded channels-last input xt (N, 2 TH + 2, 2 TW + 2, C) and dy (N, OC, 2 TH, 2 TW).

    One prange iteration per group of output channels (whole blocks of 8, gemm_nn's rows):
    each group goes through every block of tiles in order, transforms the block's input
    (again: each group needs all of V) and its own channels of dy, and adds the products into
    its own rows of du. So the sums run in the same order for any number of groups."""
    N, C = xt.shape[0], xt.shape[3]
    OC, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    TH, TW = OH // 2, OW // 2
    tiles = N * TH * TW
    dyf = dy.reshape(-1)
    rows8 = -(-OC // 8)
    for g in prange(groups):
        o0, o1 = g * rows8 // groups * 8, min(OC, (g + 1) * rows8 // groups * 8)
        vt = np.empty((16, WG_BLOCK + 1, C), dtype=xt.dtype)  # rows p < WG_BLOCK used (_odd)
        z = np.empty((16, _odd(o1 - o0), WG_BLOCK), dtype=xt.dtype)  # rows o < o1 - o0 used
        part = np.empty((o1 - o0, C), dtype=xt.dtype)
        runs = np.empty((WG_BLOCK // TW + 2, 5), dtype=np.int64)
        du[:, o0:o1] = 0
        for t0 in range(0, tiles, WG_BLOCK):
            nt = min(WG_BLOCK, tiles - t0)
            r = _tile_runs(runs, t0, nt, TH, TW)
            _input_tiles_t(xt, vt, t0, nt, TH, TW)
            if nt < WG_BLOCK:  # a last, partial block: zero tiles past its own
                vt[:, nt:WG_BLOCK] = 0
                z[:, :, nt:] = 0
            _dy_tiles(dyf, z, runs[:r], o0, o1, OC, OH, OW)
            for xi in range(16):
                gemm_nn_serial(z[xi, :o1 - o0], vt[xi, :WG_BLOCK], part)  # (OCg, K) @ (K, C)
                for o in range(o1 - o0):
                    _add_row(part[o], du[xi, o0 + o])


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _weights_back_kernel(du, dw):
    """dw[o, c] = G^T dU G with dU = du[:, o, c] as 4x4, in float64: rows of G^T dU are
    T0 = U0 + (U1 + U2) / 2, T1 = (U1 - U2) / 2, T2 = (U1 + U2) / 2 + U3, then the same three
    combinations of the columns of T."""
    for o in range(dw.shape[0]):
        for c in range(dw.shape[1]):
            f = np.empty(12)  # T (3x4), row by row
            for j in range(4):
                u0, u1 = np.float64(du[j, o, c]), np.float64(du[4 + j, o, c])
                u2, u3 = np.float64(du[8 + j, o, c]), np.float64(du[12 + j, o, c])
                f[j], f[4 + j], f[8 + j] = u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3
            for k in range(3):
                a, b, e, d = f[4 * k], f[4 * k + 1], f[4 * k + 2], f[4 * k + 3]
                dw[o, c, k, 0], dw[o, c, k, 1] = a + (b + e) / 2, (b - e) / 2
                dw[o, c, k, 2] = (b + e) / 2 + d


def winograd_weight_grad(x, dy, padding):
    """dW (OC, C, 3, 3) of y = conv2d(x, W), 3x3, stride 1, padding (PH, PW) each 0-2, from
    x (N, C, H, W) and dy (N, OC, OH, OW); see ``reference.winograd``."""
    x, dy = np.asarray(x), np.asarray(dy)
    check_weight_grad_args("winograd_weight_grad", x.shape, x.dtype, dy.shape, dy.dtype,
                           padding)
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    (N, C), (OC, OH, OW) = x.shape[:2], dy.shape[1:]
    PH, PW = int(padding[0]), int(padding[1])
    TH, TW = -(-OH // 2), -(-OW // 2)
    if (OH, OW) != (2 * TH, 2 * TW):  # whole tiles: zeros past an odd edge
        whole = np.zeros((N, OC, 2 * TH, 2 * TW), dtype=dy.dtype)
        whole[:, :, :OH, :OW] = dy
        dy = whole
    xt = np.empty((N, 2 * TH + 2, 2 * TW + 2, C), dtype=x.dtype)
    du = np.empty((16, OC, C), dtype=x.dtype)
    with threads_for(dy.size):
        _pad_nhwc_kernel(x, xt, PH, PW)
        groups = min(-(-OC // 8), _prange.threads())
        _weight_grad_kernel(xt, dy, du, groups)
    dw = np.empty((OC, C, 3, 3), dtype=x.dtype)
    _weights_back_kernel(du, dw)
    return dw
