"""Scaled dot-product attention and row softmax -- Numba ``@njit`` CPU kernels.

Same math and signatures as ``kernels/reference/attention.py`` (read that docstring first)::

    S = scale * Q K^T + mask      P = softmax(S)      O = P V      lse = logsumexp_j S_ij
    dV = P^T dO    dP = dO V^T    dS = P * (dP - D)   D = rowsum(dO * O)
    dQ = scale * dS K             dK = scale * dS^T Q

How it is made fast:

- ``prange`` over the B * nh (batch, head) pairs: each pair is independent work for one thread.
- Inside one pair the queries go in blocks of ``BLOCK_Q`` rows. A block's scores
  ``S_blk = Q_blk K^T`` (BLOCK_Q, Tk) stay in cache, and the matrix products are
  ``gemm.gemm_nn_serial``'s register tiles (AVX-512 where the CPU has it) on contiguous 2-D
  arrays: outer products, so the short hs costs little, with K^T and V^T copied once per
  (b, h) and Q_blk^T, dO_blk^T once per block. (``np.dot`` here, which Numba hands to BLAS,
  took twice as long: B 8, 4 heads, T 512, hs 64, fwd+bwd 86 -> 46 ms, one thread.) Each row
  sees every key at once, so the softmax is the plain two-pass one (max, then exp and sum); no
  online rescaling is needed.
- The backward rebuilds ``P_blk = exp(S_blk - lse)`` from the saved logsumexp instead of
  storing P, and accumulates dK^T and dV^T over the query blocks.
- With ``is_causal`` a query block only multiplies with the keys it can see (j <= its last
  query), which halves the work.
- The products run on the calling thread: the parallelism is the prange over (b, h), which
  hands the pairs out one at a time (``parallel_chunksize(1)``), so that a thread slowed down
  by other work on the machine does not hold up the whole call. With one thread the same loop
  runs compiled without ``parallel`` (``_prange.py``). On CPUs without AVX-512
  (``gemm.NUMBA_GEMM`` off) the products are ``np.dot`` (BLAS), run single-threaded during a
  call (threadpoolctl): two layers of threads on the same cores slow each other down.
- ``exp`` of float32 goes through :func:`_exp_f32`, a polynomial that LLVM vectorizes (libm's
  ``expf`` is called one element at a time and would cost as much as all the matmuls).

The mask may be a ``np.broadcast_to`` view: zero-stride axes are cut to length 1 (no copy of
the broadcast) and the kernels broadcast length-1 axes while reading.
"""

import contextlib

import numpy as np
from numba import njit, parallel_chunksize, prange

from .._config import NUMBA_CACHE
from ..reference.attention import (
    check_attention_args,
    check_attention_backward_args,
    check_softmax_args,
    compact_mask,
)
from . import gemm
from ._math import FAST, _exp_sub_sum
from ._prange import prange_kernel

# Query rows per block: a (BLOCK_Q, Tk) score tile plus its dP tile fit in a core's L2 cache.
BLOCK_Q = 128


# ----------------------------------------------------------------------------------------------
# scores of one query block: S_blk = scale * Q_blk K^T + mask (-inf above the causal diagonal)
# ----------------------------------------------------------------------------------------------


@njit(fastmath=FAST, cache=NUMBA_CACHE)
def _product(a, b, out, tiles):
    """out = a @ b for C-contiguous 2-D arrays: gemm_nn's register tiles when ``tiles`` (the
    CPU has AVX-512: ``gemm.NUMBA_GEMM``), else np.dot, which Numba hands to BLAS (built
    for AVX2, the tiles no longer fit the registers and run at a third of BLAS's speed)."""
    if tiles:
        gemm.gemm_nn_serial(a, b, out)
    else:
        np.dot(a, b, out)


@njit(cache=NUMBA_CACHE)
def _transposed(m, buf):
    """m.T (cols, rows) as a C-contiguous array in ``buf`` (at least rows * cols long)."""
    rows, cols = m.shape
    t = buf[: rows * cols].reshape((cols, rows))
    for j in range(cols):
        for r in range(rows):
            t[j, r] = m[r, j]
    return t


@njit(cache=NUMBA_CACHE)
def _leading_columns(m, n, buf):
    """m[:, :n] as a C-contiguous array: m itself when n is all of its columns, else a copy in
    ``buf`` (the keys a causal block of queries can see)."""
    if n == m.shape[1]:
        return m
    cols = buf[: m.shape[0] * n].reshape((m.shape[0], n))
    for r in range(m.shape[0]):
        for j in range(n):
            cols[r, j] = m[r, j]
    return cols


@njit(fastmath=FAST, cache=NUMBA_CACHE)
def _block_scores(qm, kt, kt_buf, mask2, has_mask, is_causal, scale, i0, s, tiles):
    """Fill s (n_rows, n_keys) with the scaled, masked scores of queries i0 .. i0 + n_rows.

    qm: (Tq, hs), kt: K^T (hs, Tk), kt_buf: room for hs * Tk numbers, mask2: the mask of this
    (b, h), (Tq or 1, Tk or 1).
    """
    n_rows, n_keys = s.shape
    # (n_rows, hs) @ (hs, n_keys): outer products along the short hs (gemm_nn's tiles)
    _product(qm[i0 : i0 + n_rows], _leading_columns(kt, n_keys, kt_buf), s, tiles)
    for r in range(n_rows):
        i = i0 + r
        row = s[r]
        if has_mask:
            mrow = mask2[i if mask2.shape[0] > 1 else 0]  # length-1 axes broadcast
            if mask2.shape[1] > 1:
                for j in range(n_keys):
                    row[j] = row[j] * scale + mrow[j]
            else:
                for j in range(n_keys):
                    row[j] = row[j] * scale + mrow[0]
        else:
            for j in range(n_keys):
                row[j] = row[j] * scale
        if is_causal:
            for j in range(i + 1, n_keys):
                row[j] = -np.inf


@njit(cache=NUMBA_CACHE)
def _mask_of_head(mask, b, h):
    """mask[b, h] of a 4-D mask whose length-1 axes broadcast: (Tq or 1, Tk or 1)."""
    return mask[b if mask.shape[0] > 1 else 0, h if mask.shape[1] > 1 else 0]


# ----------------------------------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------------------------------


# error_model="numpy": a row whose exp sum is 0 although its max is not -inf (a NaN score:
# the float32 exp gives 0 for NaN) divides by zero; that must give NaN, as in torch, not raise
@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _forward_head(qm, km, vm, mask2, has_mask, is_causal, scale, om, lse1, tiles):
    """One (b, h) pair: om (Tq, hs) and lse1 (Tq,) from qm (Tq, hs), km, vm (Tk, hs)."""
    Tq, hs = qm.shape
    Tk = km.shape[0]
    kt = np.ascontiguousarray(km.T)  # (hs, Tk): K^T, the right operand of Q K^T
    kt_buf = np.empty(hs * Tk, dtype=qm.dtype)  # K^T of the keys a causal block sees
    s_buf = np.empty(BLOCK_Q * Tk, dtype=qm.dtype)  # score tile storage
    inv_l = np.empty(BLOCK_Q, dtype=qm.dtype)  # 1 / rowsum of the unnormalized P
    for i0 in range(0, Tq, BLOCK_Q):
        n_rows = min(BLOCK_Q, Tq - i0)
        n_keys = min(Tk, i0 + n_rows) if is_causal else Tk  # keys this block can see
        s = s_buf[: n_rows * n_keys].reshape((n_rows, n_keys))  # contiguous (rows, keys)
        _block_scores(qm, kt, kt_buf, mask2, has_mask, is_causal, scale, i0, s, tiles)
        for r in range(n_rows):
            row = s[r]
            m = row.max()
            if m == -np.inf:  # every key masked: P row = 0, lse = -inf
                row[:] = 0.0
                inv_l[r] = 0.0
                lse1[i0 + r] = -np.inf
            else:
                total = _exp_sub_sum(row, m)  # row <- exp(S - m), the unnormalized P
                inv_l[r] = 1.0 / total
                lse1[i0 + r] = m + np.log(total)
        o = om[i0 : i0 + n_rows]  # (n_rows, hs)
        _product(s, vm[:n_keys], o, tiles)  # (n_rows, n_keys) @ (n_keys, hs)
        for r in range(n_rows):
            for d in range(hs):
                o[r, d] *= inv_l[r]  # normalize: O = P V / l


@prange_kernel()
def _attention_forward_kernel(q, k, v, mask, has_mask, is_causal, scale, out, lse, tiles):
    """out (B, nh, Tq, hs) and lse (B, nh, Tq) for q (B, nh, Tq, hs), k, v (B, nh, Tk, hs)."""
    B, nh = q.shape[:2]
    for bh in prange(B * nh):
        b = bh // nh
        h = bh % nh
        mask2 = _mask_of_head(mask, b, h)
        _forward_head(
            q[b, h], k[b, h], v[b, h], mask2, has_mask, is_causal, scale, out[b, h], lse[b, h],
            tiles,
        )


# ----------------------------------------------------------------------------------------------
# backward
# ----------------------------------------------------------------------------------------------


@njit(fastmath=FAST, cache=NUMBA_CACHE)
def _add_leading_columns(total, part):
    """total[:, :n] += part, part (rows, n)."""
    for r in range(part.shape[0]):
        dst = total[r]
        src = part[r]
        for j in range(part.shape[1]):
            dst[j] += src[j]


@njit(fastmath=FAST, cache=NUMBA_CACHE)
def _backward_head(dom, qm, km, vm, om, lse1, mask2, has_mask, is_causal, scale, dqm, dkm, dvm,
                   tiles):
    """One (b, h) pair: dqm (Tq, hs), dkm and dvm (Tk, hs); P is rebuilt as exp(S - lse).

    Every product goes through _product (outer products): dK and dV are summed over the blocks
    as dK^T += Q_blk^T dS and dV^T += dO_blk^T P, (hs, keys) tiles with small transposed
    copies of Q_blk and dO_blk, and transposed into dkm and dvm at the end."""
    Tq, hs = qm.shape
    Tk = km.shape[0]
    kt = np.ascontiguousarray(km.T)  # (hs, Tk)
    vt = np.ascontiguousarray(vm.T)  # (hs, Tk)
    kt_buf = np.empty(hs * Tk, dtype=qm.dtype)  # the keys a causal block sees, of K^T ...
    vt_buf = np.empty(hs * Tk, dtype=qm.dtype)  # ... and of V^T
    dkt = np.zeros((hs, Tk), dtype=qm.dtype)  # dK^T
    dvt = np.zeros((hs, Tk), dtype=qm.dtype)  # dV^T
    p_buf = np.empty(BLOCK_Q * Tk, dtype=qm.dtype)  # P tile, later dS
    dp_buf = np.empty(BLOCK_Q * Tk, dtype=qm.dtype)  # dP tile
    part_buf = np.empty(hs * Tk, dtype=qm.dtype)  # one block's share of dK^T or dV^T
    at_buf = np.empty(hs * BLOCK_Q, dtype=qm.dtype)  # dO_blk^T or Q_blk^T
    d_vec = np.empty(BLOCK_Q, dtype=qm.dtype)  # D = rowsum(dO * O) of one block
    for i0 in range(0, Tq, BLOCK_Q):
        n_rows = min(BLOCK_Q, Tq - i0)
        n_keys = min(Tk, i0 + n_rows) if is_causal else Tk
        p = p_buf[: n_rows * n_keys].reshape((n_rows, n_keys))
        dp = dp_buf[: n_rows * n_keys].reshape((n_rows, n_keys))
        part = part_buf[: hs * n_keys].reshape((hs, n_keys))
        do_blk = dom[i0 : i0 + n_rows]  # (n_rows, hs)
        # P = exp(S - lse); rows with lse = -inf (all keys masked) are 0
        _block_scores(qm, kt, kt_buf, mask2, has_mask, is_causal, scale, i0, p, tiles)
        for r in range(n_rows):
            row_lse = lse1[i0 + r]
            if row_lse == -np.inf:
                p[r, :] = 0.0
            else:
                _exp_sub_sum(p[r], row_lse)
        # dV^T += dO^T P
        _product(_transposed(do_blk, at_buf), p, part, tiles)  # (hs, n_rows) @ (n_rows, n_keys)
        _add_leading_columns(dvt, part)
        # dP = dO V^T, then dS = P * (dP - D) * scale, with D = rowsum(dO * O), into p
        _product(do_blk, _leading_columns(vt, n_keys, vt_buf), dp, tiles)  # (n_rows, n_keys)
        for r in range(n_rows):
            acc = 0.0
            for d in range(hs):
                acc += do_blk[r, d] * om[i0 + r, d]
            d_vec[r] = acc  # D_i = sum_d dO_id O_id, stored in q's dtype
        for r in range(n_rows):
            d_row = d_vec[r]
            p_row = p[r]
            dp_row = dp[r]
            for j in range(n_keys):
                p_row[j] = p_row[j] * (dp_row[j] - d_row) * scale
        # dQ = dS K (the scale is already in dS)
        _product(p, km[:n_keys], dqm[i0 : i0 + n_rows], tiles)  # (n_rows, n_keys) @ (n_keys, hs)
        # dK^T += Q^T dS
        _product(_transposed(qm[i0 : i0 + n_rows], at_buf), p, part, tiles)
        _add_leading_columns(dkt, part)
    for j in range(Tk):
        for d in range(hs):
            dkm[j, d] = dkt[d, j]
            dvm[j, d] = dvt[d, j]


@prange_kernel()
def _attention_backward_kernel(
    dout, q, k, v, out, lse, mask, has_mask, is_causal, scale, dq, dk, dv, tiles
):
    """dq (B, nh, Tq, hs), dk and dv (B, nh, Tk, hs) for the arguments of the forward."""
    B, nh = q.shape[:2]
    for bh in prange(B * nh):
        b = bh // nh
        h = bh % nh
        mask2 = _mask_of_head(mask, b, h)
        _backward_head(
            dout[b, h],
            q[b, h],
            k[b, h],
            v[b, h],
            out[b, h],
            lse[b, h],
            mask2,
            has_mask,
            is_causal,
            scale,
            dq[b, h],
            dk[b, h],
            dv[b, h],
            tiles,
        )


# ----------------------------------------------------------------------------------------------
# softmax over the last axis
# ----------------------------------------------------------------------------------------------


@prange_kernel(fastmath=FAST, error_model="numpy")  # NaN rows: 0 / 0 -> NaN (see _forward_head)
def _softmax_rows_kernel(x, y):
    """y[r] = exp(x[r] - max x[r]) / sum(...) for x, y (rows, n); all -inf rows give 0, rows
    with a NaN give NaN."""
    for r in prange(x.shape[0]):
        row = y[r]
        gemm._copy_row(x[r], row)  # not row[:] = x[r]: see gemm.py, "Compile time"
        m = row.max()
        if m == -np.inf:
            row[:] = 0.0
        else:
            total = _exp_sub_sum(row, m)
            row *= 1.0 / total


# ----------------------------------------------------------------------------------------------
# launchers
# ----------------------------------------------------------------------------------------------

_blas_controller = None


@contextlib.contextmanager
def _parallel_region(tiles: bool):
    """Settings for one call of a prange kernel.

    - prange hands out the (b, h) pairs one at a time instead of in equal slices, so that a
      thread slowed down by other work on the machine does not hold up the whole call.
    - Without the register tiles (``tiles`` False: np.dot), BLAS single-threaded: every
      prange thread calls BLAS itself, and a multithreaded BLAS would start threads of its
      own on top (4 busy threads on 2 cores ran ~1.5x slower). Uses threadpoolctl.
    """
    global _blas_controller
    with contextlib.ExitStack() as stack:
        if not tiles:
            if _blas_controller is None:
                try:
                    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS of Numba's np.dot)
                    from threadpoolctl import ThreadpoolController

                    _blas_controller = ThreadpoolController()
                except ImportError:  # pragma: no cover - both are dependencies
                    _blas_controller = False
            if _blas_controller is not False:
                stack.enter_context(_blas_controller.limit(limits=1, user_api="blas"))
        stack.enter_context(parallel_chunksize(1))
        yield


def _prepare(q, k, v, mask):
    """Contiguous q, k, v and the mask as a contiguous 4-D array in q's dtype.

    The mask keeps only its own data: broadcast (zero-stride) axes become length 1 and the
    kernels broadcast them while reading, so a (Tq, Tk) mask is never copied B * nh times.
    """
    q = np.ascontiguousarray(q)
    k = np.ascontiguousarray(k)
    v = np.ascontiguousarray(v)
    if mask is None:
        mask = np.zeros((1, 1, 1, 1), dtype=q.dtype)
    mask = compact_mask(np.asarray(mask))
    if not (mask.dtype == q.dtype and mask.flags.c_contiguous and mask.flags.writeable):
        # a fresh copy: one compiled kernel per dtype (Numba types read-only arrays apart)
        mask = np.array(mask, dtype=q.dtype, order="C")
    return q, k, v, mask


def attention_forward(q, k, v, mask=None, is_causal=False, scale=None):
    """Scaled dot-product attention forward; see ``kernels.reference.attention``.

    ``out = softmax(scale * q k^T + mask) v`` and ``lse = logsumexp_j (scale * q k^T + mask)``.
    q: (B, nh, Tq, hs), k, v: (B, nh, Tk, hs) -> out (B, nh, Tq, hs), lse (B, nh, Tq).
    mask: None or an additive float mask broadcastable to (B, nh, Tq, Tk) (broadcast views ok).
    """
    scale = check_attention_args("attention_forward", q, k, v, mask, is_causal, scale)
    has_mask = mask is not None
    q, k, v, mask = _prepare(q, k, v, mask)
    out = np.empty_like(q)
    lse = np.empty(q.shape[:3], dtype=q.dtype)
    tiles = bool(gemm.NUMBA_GEMM)  # read at call time (tests switch it)
    with _parallel_region(tiles):
        _attention_forward_kernel(
            q, k, v, mask, has_mask, bool(is_causal), q.dtype.type(scale), out, lse, tiles
        )
    return out, lse


def attention_backward(dout, q, k, v, out, lse, mask=None, is_causal=False, scale=None):
    """Gradients (dq, dk, dv) of :func:`attention_forward`; P is rebuilt from ``lse``.

    ``dV = P^T dO``, ``dS = P * (dO V^T - rowsum(dO * O))``, ``dQ = scale dS K``,
    ``dK = scale dS^T Q``. Rows with lse = -inf (all keys masked) get zero gradients.
    """
    scale = check_attention_backward_args(
        "attention_backward", dout, q, k, v, out, lse, mask, is_causal, scale
    )
    has_mask = mask is not None
    q, k, v, mask = _prepare(q, k, v, mask)
    dout = np.ascontiguousarray(dout)
    out = np.ascontiguousarray(out)
    lse = np.ascontiguousarray(lse)
    dq = np.empty_like(q)
    dk = np.empty_like(k)
    dv = np.empty_like(v)
    tiles = bool(gemm.NUMBA_GEMM)
    with _parallel_region(tiles):
        _attention_backward_kernel(
            dout,
            q,
            k,
            v,
            out,
            lse,
            mask,
            has_mask,
            bool(is_causal),
            q.dtype.type(scale),
            dq,
            dk,
            dv,
            tiles,
        )
    return dq, dk, dv


def softmax_lastdim(x):
    """Numerically stable softmax over the last axis: ``y = exp(x - max) / sum(exp(x - max))``.

    Any leading shape; float32 or float64. A row that is all -inf gives zeros (torch: NaN).
    """
    check_softmax_args("softmax_lastdim", x)
    x = np.ascontiguousarray(x)
    if x.size == 0:  # (no rows, or empty rows: reshape(-1, 0) cannot infer the rows)
        return np.empty_like(x)
    x2 = x.reshape(-1, x.shape[-1])  # (rows, n)
    y2 = np.empty_like(x2)
    _softmax_rows_kernel(x2, y2)
    return y2.reshape(x.shape)
