"""Matrix products compiled with Numba ``@njit``: arrays in, arrays out.

    reference_matmul(a, b)     a @ b in NumPy: what every kernel here computes
    gemm_nt(a, b, out)         out (M, N) = a (M, K) @ b (N, K)^T   dot products along k
    gemm_nn(a, b, out, bias)   out (M, N) = a (M, K) @ b (K, N)     outer products, rows of out
    gemm_nn_serial(a, b, out)  gemm_nn on the calling thread, callable from @njit code
    matmul(a, b, out, bias)    the checked launcher: gemm_nt, gemm_nn or NumPy's BLAS

Both kernels leave the vector code to LLVM, which compiles them with the widest vectors the
CPU has (512-bit AVX-512 where present, 32 registers). A BLAS built for, or pinned to, AVX2
(NumPy's OpenBLAS with ``OPENBLAS_CORETYPE=Haswell``) uses half of that width, so on AVX-512
CPUs these kernels beat it by 1.5-2x at the sizes of this library's layers.

``gemm_nt`` -- k vectorized. Blocks of 6 x 4 outputs: 24 running sums, each a vector of k
lanes, and every step of k loads six values of a and four of b for 24 multiply-adds. The sums
are reduced across their lanes at the end of the block, a fixed cost per block, so this form
pays when K is long (hundreds or more); ``gemm_nt_blocked`` sums over k in pieces of
``NT_K_PIECE`` so that the ten rows a block reads stay in L1 at any K. Callable from ``@njit``
code, as is ``gemm_nn_serial`` (gemm_nn on the calling thread), which the attention kernels
and the fused LSTM's recurrence (``functional/_lstm_cpu.py``) call for their small products.

``gemm_nn`` -- n vectorized (the BLIS/GotoBLAS micro-kernel). A tile of MR x NR outputs (8
rows x two vectors: 8 x 32 float32 or 8 x 16 float64, 16 of the 32 AVX-512 registers) stays in
registers for the whole k loop; a step of k broadcasts MR values of a column of a, loads one
NR-wide row of b and does MR * NR multiply-adds. No reduction across lanes, so a short K (64)
costs little more per output than a long one, where gemm_nt loses to BLAS. Keeping the tile in
registers is LLVM's doing: the tile is a stack array (``_stack.py``), every index into it is a
constant once the loops over its columns are unrolled, so SROA turns it into values and the
vectorizers pack them into registers. That is easily lost, and then the kernel runs 3-5x
slower with the same results (``test_gemm_nn_keeps_its_tile_in_registers`` guards it):

- every access to the tile goes through one of eight 1-d row views with a constant index
  (``t0``..``t7``); with a loop over the rows (``for r in range(MR)``) LLVM vectorized that
  loop instead, with gathers and scatters into the stack;
- the tile is stored one row at a time (a loop writing all eight rows of out is not
  vectorized: the rows might overlap in memory), and nothing else is read in between: the
  bias read there, or added at the tile's start, kept the tile in memory, so the bias is added
  to the stored rows afterwards (``_add_bias``), while they are in L1;
- MR x NR was measured: 8 x 32 float32 ~215 GFLOP/s at the conv's sizes; 6 x 48 ~170, 4 x 64
  ~170, 8 x 48 and 12 x 32 (more than 32 registers with the broadcasts) 80-135; blocking k in
  pieces of 64-256 did not pay (the panel of b is read from L1/L2 either way).

Edges: rows of a past the last full block of MR, and the last panel of b when it has fewer
than NR columns, go through zero-padded copies so the same tile runs there; ``out`` may also
be (n, M, L) with n * L = N, the product's columns in n runs of L (conv2d's output (N, OC,
OH*OW) = W @ cols, bias included, written in place): tiles that span two runs are computed
into a buffer and scattered. Copying every panel of b to contiguous memory first (GotoBLAS's
packing) did not pay at any size measured: 0.6-1x.

The parallel layout (``prange``): gemm_nn gives each thread a group of panels of b (its own
columns of out), gemm_nt a group of rows of a (its own rows of out): no races, no reductions,
and the sums in the same order for any thread count. Products with fewer than
``PARALLEL_GRAIN * 64`` multiply-adds run on one thread, without the thread pool.

Measured on one Zen 5 core (AVX-512; OpenBLAS pinned to AVX2: 110 GFLOP/s float32, 50
float64), GFLOP/s, best of 40:

    (M, N, K), float32                      gemm_nn    gemm_nt    BLAS
    (64, 768, 288)    conv fwd   W @ cols       220          -     108
    (288, 768, 64)    conv dcols W^T @ dy2      210          -     110
    (64, 288, 768)    conv dW    dy2 @ cols^T     -        200     109
    (6, 25, 10192)    LeNet conv1 dW              -        155      31
    (16, 1700, 150)   LeNet conv2 fwd           200          -      88
    (64, 16384, 288)  a whole batch's fwd       130          -      95
    (64, 288, 16384)  a whole batch's dW          -        100      91
    float64, (64, 768, 288)                     105          -      52

``matmul``'s rule: gemm_nn, or gemm_nt for a transposed b (``matmul(x, y.T)``) with K >=
``NT_MIN_K`` (with a shorter K, gemm_nn on a C-order copy of b, or of a for (y a^T)^T,
whichever copies fewer numbers: a layer's x W^T, 1.3-1.9x BLAS; (2048, 128) -> 384 float32
1.71 -> 0.98 ms); a transposed a (a layer's dW = dy^T x) goes to gemm_nn as it is. All that
for float32 and float64 when ``NUMBA_GEMM`` is on (the CPU has AVX-512) and the product has
at least ``MIN_WORK`` multiply-adds (below that BLAS's call costs less: 1.5 us vs 2.5); BLAS
otherwise. Compiled for AVX2 (``NUMBA_CPU_NAME=haswell``) on the same machine, the
tiles no longer fit the 16 registers: gemm_nn 41 and gemm_nt 40 GFLOP/s against BLAS's 109.

Compile time. With an empty Numba cache the first call compiles, and every ``@njit`` caller
optimizes the unrolled tiles again as part of its own code (Numba links callees into the
caller). Two habits here keep that to one copy of each kernel per dtype and layout:

- an integer constant passed to another ``@njit`` function is typed as ``Literal[int]``, and
  each distinct constant compiles one more copy of the callee (1-2 s each): calls pass such
  numbers as values (``first = n - n``), not as constants;
- rows are copied with loops (``_copy_row``), never by assigning one array slice to another
  (``a[:m] = b[:m]``): that assignment's shape check compiles Numba's error-message formatting,
  2.2 s of the first call.
"""

import os

import llvmlite.binding as llvm
import numpy as np
from numba import njit, prange
from numba.extending import overload
from numba.np.numpy_support import carray

from .. import FLOAT_DTYPES
from .._config import NUMBA_CACHE
from . import _prange
from ._math import FAST
from ._stack import stack_allocator
from .conv import PARALLEL_GRAIN

MR = 8  # rows of a gemm_nn tile
TILE_ROW_BYTES = 128  # columns of a gemm_nn tile: two 512-bit vectors (NR = 128 // itemsize)
NT_K_PIECE = 1024  # gemm_nt_blocked sums over k in pieces of this many
NT_MIN_K = 256  # matmul(x, y.T) with a shorter K goes to gemm_nn on copies (gemm_nt loses)
MIN_WORK = 1 << 18  # multiply-adds below which matmul calls BLAS (M * N * K)


def _host_has_avx512() -> bool:
    """Whether LLVM sees AVX-512 (avx512f) on this CPU: what gemm_nn's tile is sized for."""
    try:
        llvm.initialize_native_target()
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except Exception:  # pragma: no cover - llvmlite without host feature detection
        return False


def _numba_gemm_switch() -> bool:
    """``TINYGRAD_EDU_NUMBA_GEMM``: "1" turns matmul's Numba kernels on, "0" off; unset: on
    where the CPU has AVX-512."""
    text = os.environ.get("TINYGRAD_EDU_NUMBA_GEMM", "").strip().lower()
    if text in ("0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    return _host_has_avx512()


# Whether matmul uses the Numba kernels. Read at call time: tests and benchmarks change it.
NUMBA_GEMM = _numba_gemm_switch()


# ---------------------------------------------------------------------------------------------
# reference: what every kernel here computes
# ---------------------------------------------------------------------------------------------


def reference_matmul(a, b):
    """out[m, n] = sum_k a[m, k] b[k, n], in NumPy (the oracle of the tests)."""
    return np.matmul(a, b)


@njit(fastmath=FAST, error_model="numpy", inline="always", cache=NUMBA_CACHE)
def _copy_row(src, dst):
    """dst[:] = src for two 1-d arrays of one length (a loop: see "Compile time" above)."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


@njit(fastmath=FAST, error_model="numpy", inline="always", cache=NUMBA_CACHE)
def _add_row(src, dst):
    """dst += src for two 1-d arrays of one length (a loop, as ``_copy_row``)."""
    for j in range(src.shape[0]):
        dst[j] += src[j]


# ---------------------------------------------------------------------------------------------
# kernel 1: gemm_nt, dot products along k (long K)
# ---------------------------------------------------------------------------------------------


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _block_6x4(a, b, out, i, n4, k0, k1):
    """out[i:i+6, :n4] = a[i:i+6, k0:k1] @ b[:n4, k0:k1]^T in blocks of 6 x 4 outputs. A block
    has 24 running sums; each step of k loads six values of a and four of b for 24
    multiply-adds. LLVM vectorizes the k loop: 24 vector accumulators (of the 32 registers of
    AVX-512), summed across lanes at the end. (Rows are taken as 1-d slices a[i, k0:k1],
    which Numba types as contiguous; a 2-d slice a[:, k0:k1] would not be, and LLVM then
    compiles scalar code, 10x slower.)"""
    a0, a1, a2 = a[i, k0:k1], a[i + 1, k0:k1], a[i + 2, k0:k1]
    a3, a4, a5 = a[i + 3, k0:k1], a[i + 4, k0:k1], a[i + 5, k0:k1]
    for j in range(0, n4, 4):
        b0, b1, b2, b3 = b[j, k0:k1], b[j + 1, k0:k1], b[j + 2, k0:k1], b[j + 3, k0:k1]
        s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = a.dtype.type(0)
        s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = a.dtype.type(0)
        s40 = s41 = s42 = s43 = s50 = s51 = s52 = s53 = a.dtype.type(0)
        for k in range(k1 - k0):
            y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
            x = a0[k]
            s00 += x * y0
            s01 += x * y1
            s02 += x * y2
            s03 += x * y3
            x = a1[k]
            s10 += x * y0
            s11 += x * y1
            s12 += x * y2
            s13 += x * y3
            x = a2[k]
            s20 += x * y0
            s21 += x * y1
            s22 += x * y2
            s23 += x * y3
            x = a3[k]
            s30 += x * y0
            s31 += x * y1
            s32 += x * y2
            s33 += x * y3
            x = a4[k]
            s40 += x * y0
            s41 += x * y1
            s42 += x * y2
            s43 += x * y3
            x = a5[k]
            s50 += x * y0
            s51 += x * y1
            s52 += x * y2
            s53 += x * y3
        out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = s00, s01, s02, s03
        out[i + 1, j], out[i + 1, j + 1], out[i + 1, j + 2], out[i + 1, j + 3] = s10, s11, s12, s13
        out[i + 2, j], out[i + 2, j + 1], out[i + 2, j + 2], out[i + 2, j + 3] = s20, s21, s22, s23
        out[i + 3, j], out[i + 3, j + 1], out[i + 3, j + 2], out[i + 3, j + 3] = s30, s31, s32, s33
        out[i + 4, j], out[i + 4, j + 1], out[i + 4, j + 2], out[i + 4, j + 3] = s40, s41, s42, s43
        out[i + 5, j], out[i + 5, j + 1], out[i + 5, j + 2], out[i + 5, j + 3] = s50, s51, s52, s53


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def gemm_nt_range(a, b, out, i0, i1, k0, k1):
    """out[i0:i1, :] = a[i0:i1, k0:k1] @ b[:, k0:k1]^T (the rows i0 <= i < i1 of out, the part
    of the sum over k0 <= k < k1).

    Blocks of 6 x 4 outputs (:func:`_block_6x4`); the last rows (fewer than six) go through
    the same block on a zero-padded copy of them; the columns past the last block of four
    through a plain dot product."""
    N = b.shape[0]
    M6, N4 = i1 - (i1 - i0) % 6, N - N % 4
    for i in range(i0, M6, 6):
        _block_6x4(a, b, out, i, N4, k0, k1)
    if M6 < i1:
        rows = i1 - M6
        a6 = np.zeros((6, k1), dtype=a.dtype)  # the last rows, padded with zero rows
        for r in range(rows):
            _copy_row(a[M6 + r, k0:k1], a6[r, k0:k1])
        out6 = np.empty((6, N4), dtype=out.dtype)
        first = rows - rows  # 0 as a value, not a constant (see "Compile time" above)
        _block_6x4(a6, b, out6, first, N4, k0, k1)
        for r in range(rows):
            _copy_row(out6[r], out[M6 + r, :N4])
    for i in range(i0, i1):
        ai = a[i, k0:k1]
        for j in range(N4, N):
            bj = b[j, k0:k1]
            s = a.dtype.type(0)
            for k in range(k1 - k0):  # from 0: Numba's handling of negative indices is
                s += ai[k] * bj[k]  # skipped, and the loop vectorizes
            out[i, j] = s


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def gemm_nt(a, b, out):
    """out[m, n] = sum_k a[m, k] b[n, k]: a (M, K) @ b (N, K)^T -> out (M, N), all C-contiguous
    in their last axis (out may be a strided 2-D view). No checks: callers pass valid arrays.
    Slices such as a[:, k0:] are typed as strided by Numba and compile to scalar code (10x
    slower): pass whole arrays, and ``gemm_nt_range`` for a part of the sum over k.
    (Measured at the LSTM's sizes, blocks of 6 x 4 beat 4 x 4, 5 x 4, 4 x 6 and 8 x 4; it is
    about 1.3 to 1.9 times as fast as an AVX2 BLAS on an AVX-512 CPU.)"""
    M, K = a.shape
    gemm_nt_range(a, b, out, M - M, M, K - K, K)  # zeros as values: see "Compile time" above


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _gemm_nt_rows(a, b, out, i0, i1, KC):
    """out[i0:i1] = a[i0:i1] @ b^T, the sum over k in pieces of KC: the ten rows a block reads
    (six of a, four of b) stay in L1 (at K = 16384 without pieces: 77 GFLOP/s, not 100)."""
    K = a.shape[1]
    N = b.shape[0]
    first = K - K  # 0 as a value, not a constant (see "Compile time" above)
    gemm_nt_range(a, b, out, i0, i1, first, min(KC, K))
    part = np.empty((i1 - i0, N), dtype=out.dtype)  # the sum over one piece of k
    for k0 in range(KC, K, KC):
        gemm_nt_range(a[i0:i1], b, part, first, i1 - i0, k0, min(k0 + KC, K))
        for i in range(i1 - i0):
            _add_row(part[i], out[i0 + i])


@njit(parallel=True, cache=NUMBA_CACHE)
def _gemm_nt_kernel(a, b, out, groups, KC):
    """:func:`_gemm_nt_rows` on ``groups`` threads: one prange iteration per group of rows
    (whole blocks of six)."""
    blocks = -(-a.shape[0] // 6)
    for g in prange(groups):
        i0 = min(a.shape[0], g * blocks // groups * 6)
        i1 = min(a.shape[0], (g + 1) * blocks // groups * 6)
        _gemm_nt_rows(a, b, out, i0, i1, KC)


# ---------------------------------------------------------------------------------------------
# kernel 2: gemm_nn, an MR x NR tile of outer products held in registers (any K)
# ---------------------------------------------------------------------------------------------


def _tile_cols(a):
    """NR, the columns of a gemm_nn tile for a's dtype (a constant in compiled code)."""
    raise NotImplementedError("only callable from @njit code")


@overload(_tile_cols, jit_options={"cache": NUMBA_CACHE})
def _tile_cols_impl(a):
    cols = TILE_ROW_BYTES * 8 // a.dtype.bitwidth
    return lambda a: cols


# the tile of outputs, on the stack (see _stack.py)
_stack_tile = stack_allocator(MR * TILE_ROW_BYTES)


@njit(fastmath=FAST, error_model="numpy", inline="always", cache=NUMBA_CACHE)
def _tile_8xnr(a, ia, b, jb, out, io, jo):
    """out[io:io+8, jo:jo+NR] = a[ia:ia+8, :] @ b[:, jb:jb+NR] (K = a.shape[1] rows of b).

    Per step of k: eight values of a's column k (broadcast), one row of NR values of b, and
    8 * NR multiply-adds into the tile."""
    NR = _tile_cols(a)
    tile = carray(_stack_tile(a), (MR, NR))
    # every access to the tile goes through these eight rows with a constant row index: an
    # index that varies at run time (a loop over the rows) keeps the tile in memory
    t0, t1, t2, t3, t4, t5, t6, t7 = (tile[0], tile[1], tile[2], tile[3], tile[4], tile[5],
                                      tile[6], tile[7])
    tile[:, :] = 0
    for k in range(a.shape[1]):
        bk = b[k, jb:jb + NR]  # (NR,)
        x0, x1, x2, x3 = a[ia, k], a[ia + 1, k], a[ia + 2, k], a[ia + 3, k]
        x4, x5, x6, x7 = a[ia + 4, k], a[ia + 5, k], a[ia + 6, k], a[ia + 7, k]
        for j in range(NR):  # one loop over the columns, every row of the tile in it
            y = bk[j]
            t0[j] += x0 * y
            t1[j] += x1 * y
            t2[j] += x2 * y
            t3[j] += x3 * y
            t4[j] += x4 * y
            t5[j] += x5 * y
            t6[j] += x6 * y
            t7[j] += x7 * y
    # one loop per row: a loop writing all eight rows of out at once is not vectorized (the
    # rows might overlap in memory), stays a loop, and its run-time index keeps the tile in
    # memory
    _copy_row(t0, out[io, jo:jo + NR])
    _copy_row(t1, out[io + 1, jo:jo + NR])
    _copy_row(t2, out[io + 2, jo:jo + NR])
    _copy_row(t3, out[io + 3, jo:jo + NR])
    _copy_row(t4, out[io + 4, jo:jo + NR])
    _copy_row(t5, out[io + 5, jo:jo + NR])
    _copy_row(t6, out[io + 6, jo:jo + NR])
    _copy_row(t7, out[io + 7, jo:jo + NR])


@njit(fastmath=FAST, error_model="numpy", inline="always", cache=NUMBA_CACHE)
def _add_bias(out, i0, m, l0, n, bias):
    """out[i0 + r, l0:l0 + n] += bias[i0 + r] for r < m: after the tile is stored, while it is
    in L1. (Added inside the tile, at its start or its end, the bias made LLVM keep the tile
    in memory, 4x slower.)"""
    for r in range(m):
        shift = bias[i0 + r]
        row = out[i0 + r, l0:l0 + n]
        for j in range(n):
            row[j] += shift


@njit(fastmath=FAST, error_model="numpy", inline="always", cache=NUMBA_CACHE)
def _scatter_tile(edge, m, n, out, i0, j0, bias):
    """out[q, i0 + r, l] = edge[r, jj] + bias[i0 + r] for r < m, jj < n, with q*L + l = j0 +
    jj: an edge tile into the (n, M, L) output, one contiguous copy per run it spans."""
    L = out.shape[2]
    jj = 0
    while jj < n:
        q, l0 = (j0 + jj) // L, (j0 + jj) % L
        run = min(n - jj, L - l0)  # columns of this tile in run q
        for r in range(m):
            shift = bias[i0 + r]
            src = edge[r, jj:jj + run]
            dst = out[q, i0 + r, l0:l0 + run]
            for t in range(run):
                dst[t] = src[t] + shift
        jj += run


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _gemm_nn_panels(a, a_tail, b, bias, has_bias, out, p_first, p_last):
    """Columns j of the panels p_first <= p < p_last (NR columns each) of the product:
    out[q, :, l] = a @ b[:, j] + bias with j = q*L + l (see gemm_nn).

    Tiles inside one run of L columns are written in place; the others (the last rows
    of a, the last panel, panels that span two runs) are computed whole from zero-padded
    copies (``a_tail``, ``last``) into ``edge`` and scattered. Two calls of the tile, the
    in-place one and one for every edge tile: each call site is another copy of its unrolled
    code for LLVM to compile (with a third for the last rows, the first call of every kernel
    that multiplies took 2-6 s longer; with a single site for all tiles they ran 5% slower)."""
    M, K = a.shape
    N = b.shape[1]
    L = out.shape[2]
    NR = _tile_cols(a)
    M8 = M - M % MR  # rows in full blocks of MR
    blocks = M8 + (MR if M8 < M else 0)  # with the zero-padded block of the last rows
    last = np.zeros((K, NR), dtype=a.dtype)  # the last panel when it has fewer than NR columns
    edge = np.empty((MR, NR), dtype=a.dtype)
    for p in range(p_first, p_last):
        j0 = p * NR
        n = min(NR, N - j0)  # columns of out in this panel
        q, l0 = j0 // L, j0 % L
        if n == NR:
            src, jb = b, j0
        else:
            for k in range(K):
                _copy_row(b[k, j0:], last[k, :n])
            src, jb = last, 0
        in_place = n == NR and l0 + NR <= L
        for i0 in range(0, blocks, MR):
            if in_place and i0 < M8:  # the hot path: the tile straight into out
                _tile_8xnr(a, i0, src, jb, out[q], i0, l0)
                if has_bias:
                    _add_bias(out[q], i0, MR, l0, NR, bias)
            else:  # into edge, from a or its zero-padded last rows, then scattered
                rows, ia = (a, i0) if i0 < M8 else (a_tail, 0)
                _tile_8xnr(rows, ia, src, jb, edge, 0, 0)
                _scatter_tile(edge, min(MR, M - i0), n, out, i0, j0, bias)


@njit(parallel=True, cache=NUMBA_CACHE)
def _gemm_nn_kernel(a, a_tail, b, bias, has_bias, out, groups):
    """gemm_nn on ``groups`` threads: one prange iteration per group of panels."""
    NR = _tile_cols(a)
    panels = -(-b.shape[1] // NR)
    for g in prange(groups):
        _gemm_nn_panels(a, a_tail, b, bias, has_bias, out, g * panels // groups,
                        (g + 1) * panels // groups)


def gemm_nn(a, b, out, bias=None):
    """out = a (M, K) @ b (K, N) (+ bias (M,) along the rows) with the 8 x NR register tile.

    ``out``: (M, N), or (n, M, L) with n * L = N, the product's columns split into n runs of
    L: out[q, :, l] = (a @ b)[:, q*L + l], what conv2d's output (N, OC, OH*OW) needs from
    W @ cols, written in place. b and out C-contiguous, a C- or F-contiguous (the transpose of
    a C array: a step of k then reads MR adjacent values), all of one dtype (float32 or
    float64). No checks: ``matmul`` is the checked entry."""
    M, K = a.shape
    N = b.shape[1]
    NR = TILE_ROW_BYTES // a.itemsize
    M8 = M - M % MR
    # the rows past the last block of MR, zero-padded, in a's order (C or F: one array type)
    transposed = a.flags.f_contiguous and not a.flags.c_contiguous
    a_tail = np.zeros((MR, K), dtype=a.dtype, order="F" if transposed else "C")
    a_tail[:M - M8] = a[M8:]
    has_bias = bias is not None
    if not has_bias:
        bias = np.zeros(M, dtype=a.dtype)  # added by the edge tiles only
    out3 = out if out.ndim == 3 else out.reshape(1, M, N)  # (n, M, L)
    panels = -(-N // NR)
    groups = 1
    if M * N * K >= PARALLEL_GRAIN * 64:
        groups = min(_prange.num_threads(), panels)
    if groups == 1:  # no thread pool to wake and wait for
        _gemm_nn_panels(a, a_tail, b, bias, has_bias, out3, 0, panels)
    else:
        _gemm_nn_kernel(a, a_tail, b, bias, has_bias, out3, groups)
    return out


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def gemm_nn_serial(a, b, out):
    """out (M, N) = a (M, K) @ b (K, N): :func:`gemm_nn`'s tiles on the calling thread, with
    no bias. Callable from ``@njit`` code: the attention kernels call it for every block of
    queries, inside their own ``prange`` over (batch, head). All three C-contiguous and of one
    dtype; no checks."""
    M, K = a.shape
    N = b.shape[1]
    M8 = M - M % MR
    a_tail = np.zeros((MR, K), dtype=a.dtype)  # the rows past the last block of MR, padded
    for r in range(M - M8):
        _copy_row(a[M8 + r], a_tail[r])
    no_bias = np.zeros(M, dtype=a.dtype)  # what the edge tiles add
    panels = -(-N // _tile_cols(a))
    has_bias, first = M < 0, panels - panels  # values, not constants: see "Compile time"
    _gemm_nn_panels(a, a_tail, b, no_bias, has_bias, out.reshape((1, M, N)), first, panels)
    return out


def gemm_nt_blocked(a, b, out):
    """out (M, N) = a (M, K) @ b (N, K)^T with :func:`gemm_nt`'s blocks, the sum over k in
    pieces of ``NT_K_PIECE`` and groups of rows on the threads; all three C-contiguous and of
    one dtype. No checks: ``matmul`` is the checked entry."""
    M, K = a.shape
    N = b.shape[0]
    groups = 1
    if M * N * K >= PARALLEL_GRAIN * 64:
        groups = min(_prange.num_threads(), -(-M // 6))
    if groups == 1:
        _gemm_nt_rows(a, b, out, 0, M, NT_K_PIECE)
    else:
        _gemm_nt_kernel(a, b, out, groups, NT_K_PIECE)
    return out


# ---------------------------------------------------------------------------------------------
# launcher (public API)
# ---------------------------------------------------------------------------------------------


def fills_tiles(n: int, dtype) -> bool:
    """Whether ``n`` columns of a gemm_nn product fill whole tiles of NR columns (128 bytes:
    32 float32 or 16 float64), with no zero-padded panel at the edge."""
    return n % (TILE_ROW_BYTES // np.dtype(dtype).itemsize) == 0


def _check_operand(op, name, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a NumPy array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{op}: {name} must be 2-d, got shape {x.shape}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")


def _check_out(op, out, M, N, dtype):
    """out must be a C-contiguous (M, N), or (n, M, L) with n * L = N, array of ``dtype``."""
    shape = "(M, N) = " + str((M, N)) + " or (n, M, L) with n * L = " + str(N)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a NumPy array, got {type(out).__name__}")
    ok = (out.ndim == 2 and out.shape == (M, N)) or (
        out.ndim == 3 and out.shape[1] == M and out.shape[0] * out.shape[2] == N)
    if not ok:
        raise ValueError(f"{op}: out must have shape {shape}, got {out.shape}")
    if out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be a C-contiguous {dtype} array, got "
                         f"{out.dtype}{'' if out.flags.c_contiguous else ' (not contiguous)'}")


def matmul(a, b, out=None, bias=None):
    """a (M, K) @ b (K, N) (+ bias (M,) added along the rows) for float32/float64 NumPy arrays
    of one dtype; into ``out`` when given: (M, N), or (n, M, L) with n * L = N (see gemm_nn).
    Returns the product (``out`` when given).

    With ``NUMBA_GEMM`` on and at least ``MIN_WORK`` multiply-adds: :func:`gemm_nt_blocked`
    when b is the transpose of a C-contiguous array (``matmul(x, y.T)``: dot products along
    the rows of x and y) and K >= ``NT_MIN_K``, else :func:`gemm_nn`; other layouts of a and
    b are copied to C order first, except a transposed a (F order), which gemm_nn reads as it
    is. For a transposed b with a short K, with no ``out`` or bias, the product is computed as
    ``(b^T a^T)^T`` when a and the result are fewer numbers to copy than b. Otherwise NumPy's
    matmul (BLAS).

    >>> a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    >>> matmul(a, b, bias=np.array([0, 10], np.float32))
    array([[ 3.,  3.,  3.,  3.],
           [13., 13., 13., 13.]], dtype=float32)
    """
    _check_operand("matmul", "a", a)
    _check_operand("matmul", "b", b)
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: a and b must have one dtype, got {a.dtype} and {b.dtype}")
    (M, K), (K2, N) = a.shape, b.shape
    if K != K2:
        raise ValueError(f"matmul: a (M, K) is {a.shape} but b is {b.shape}; expected b of "
                         f"shape ({K}, N)")
    if bias is not None and (not isinstance(bias, np.ndarray) or bias.shape != (M,)
                             or bias.dtype != a.dtype):
        got = (bias.shape, bias.dtype) if isinstance(bias, np.ndarray) else type(bias).__name__
        raise ValueError(f"matmul: bias must be a ({M},) {a.dtype} array, got {got}")
    if out is not None:
        _check_out("matmul", out, M, N, a.dtype)
    if not NUMBA_GEMM or M * N * K < MIN_WORK:
        return _blas_matmul(a, b, out, bias)
    transposed = b.T.flags.c_contiguous and not b.flags.c_contiguous
    if transposed and K < NT_MIN_K and out is None and bias is None and M * K + M * N < K * N:
        # b is the transpose of a C-contiguous y (y = x W^T of a layer: b = W^T) and K is too
        # short for dot products: gemm_nn on C-order copies, 1.3-1.9x BLAS. Copy the fewer
        # numbers: a and the result, for (y a^T)^T, here; b (K * N), below, otherwise
        product = gemm_nn(b.T, np.ascontiguousarray(a.T), np.empty((N, M), dtype=a.dtype))
        return np.ascontiguousarray(product.T)  # (M, N)
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        # a is the transpose of a C-contiguous array (dW = dy^T x of a layer): gemm_nn reads
        # it as it is, the MR values of a column of a that a step of k broadcasts lying side
        # by side in memory; no copy (a GPT layer's dW, 2048 rows, 128 -> 128: 0.57 -> 0.40 ms)
        if out is None:
            out = np.empty((M, N), dtype=a.dtype)
        return gemm_nn(a, np.ascontiguousarray(b), out, bias)
    a = np.ascontiguousarray(a)
    if transposed and K >= NT_MIN_K:
        product = gemm_nt_blocked(a, b.T, np.empty((M, N), dtype=a.dtype))  # (M, K) @ (N, K)^T
        return _finish(product, out, bias)
    if out is None:
        out = np.empty((M, N), dtype=a.dtype)
    return gemm_nn(a, np.ascontiguousarray(b), out, bias)


def _blas_matmul(a, b, out, bias):
    """matmul's BLAS path: NumPy's a @ b, then the bias and the layout of ``out``."""
    return _finish(a @ b, out, bias)


def _finish(product, out, bias):
    """product (M, N) + bias along the rows, written into ``out`` ((M, N) or (n, M, L))."""
    if bias is not None:
        product += bias[:, None]
    if out is None:
        return product
    if out.ndim == 3:
        n, M, L = out.shape
        out[...] = product.reshape(M, n, L).swapaxes(0, 1)  # (n, M, L)
    else:
        out[...] = product
    return out
