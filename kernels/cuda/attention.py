"""Scaled dot-product attention and row softmax -- Numba ``@cuda.jit`` kernels plus launchers.

Same math and signatures as ``kernels/reference/attention.py`` (read that docstring first)::

    S = scale * Q K^T + mask      P = softmax(S)      O = P V      lse = logsumexp_j S_ij
    dV = P^T dO    dP = dO V^T    dS = P * (dP - D)   D = rowsum(dO * O)
    dQ = scale * dS K             dK = scale * dS^T Q

Two versions, picked by the launchers' ``impl=`` option:

1. ``impl="naive"``: S and P materialized in global memory (B, nh, Tq, Tk). One thread per
   output element for the matrix products, one thread block per row for the fused softmax.
2. ``impl="flash"`` (default): tiled, FlashAttention-style. The forward runs one thread block per
   (b, h, query tile), one thread per query row; K and V tiles are staged in shared memory and
   the softmax is computed online (a running max m and sum l, rescaled when m grows), so the
   (Tq, Tk) matrix never exists in global memory. It saves ``lse = m + log(l)`` per row.
   The backward rebuilds P tile by tile as ``exp(S - lse)`` and runs two passes:
   one over key tiles (a thread owns a key row j and sums dK_j, dV_j over all queries) and one
   over query tiles (a thread owns a query row i and sums dQ_i over all keys). Two passes cost
   a second recomputation of S but need no atomics: every gradient element has one writer, the
   result is deterministic, and float64 needs no atomic add.

Arrays in, arrays out: NumPy inputs are copied to the device and the results come back as
NumPy; if any input is a device array (CuPy, or anything with ``__cuda_array_interface__``) the
work stays on the device and the results are CuPy arrays on CuPy's current stream.

The mask may be a ``np.broadcast_to`` view: axes with zero stride are shrunk to length 1 before
the copy, and the kernels broadcast length-1 axes (see :func:`_mask_at`), so a (Tq, Tk) mask
shared by all heads is never copied B * nh times.

Shared memory holds a fixed dtype, so the kernels come from factories that build them for one
NumPy dtype (float32 kernels accumulate in float32, float64 kernels in float64) and one set of
tile sizes; each factory is cached.
"""

import functools
import math

import numpy as np
from numba import cuda, types

from ..reference.attention import (
    check_attention_args,
    check_attention_backward_args,
    check_softmax_args,
    compact_mask,
)

# ----------------------------------------------------------------------------------------------
# tile sizes
# ----------------------------------------------------------------------------------------------

# Largest head size the flash kernels take; per-thread rows of q, o, dk, ... are local arrays of
# a compile-time length: the head size rounded up to one of HEAD_SIZE_BUCKETS.
HEAD_SIZE_MAX = 128
HEAD_SIZE_BUCKETS = (16, 32, 64, 128)

# Shared memory the flash kernels may use for their two (tile, head size) arrays; the static
# per-block limit is 48 KiB. Default tiles are the largest (up to MAX_TILE) that fit.
SHARED_BYTES = 32 * 1024
SHARED_LIMIT = 48 * 1024
MAX_TILE = 64

# Naive kernels: a NAIVE_TILE x NAIVE_TILE thread block, one output element per thread.
NAIVE_TILE = 16

# Threads one block may have; blocks along the grid's y and z axes (B * nh goes there).
MAX_THREADS = 1024
MAX_GRID_YZ = 65535

# Row softmax: threads per row (a power of two, for the tree reduction in shared memory).
SOFTMAX_THREADS = 128


def _head_size_bucket(hs):
    for bucket in HEAD_SIZE_BUCKETS:
        if hs <= bucket:
            return bucket
    raise ValueError(f"head size {hs} is above HEAD_SIZE_MAX = {HEAD_SIZE_MAX}")


def _default_tile(hs_max, itemsize):
    """Largest power-of-two tile (<= MAX_TILE) whose two (tile, hs_max) arrays fit SHARED_BYTES."""
    tile = MAX_TILE
    while tile > 1 and 2 * tile * hs_max * itemsize > SHARED_BYTES:
        tile //= 2
    return tile


def _pow2_floor(n):
    p = 1
    while 2 * p <= n:
        p *= 2
    return p


def _pow2_ceil(n):
    p = 1
    while p < n:
        p *= 2
    return p


# ----------------------------------------------------------------------------------------------
# device helpers
# ----------------------------------------------------------------------------------------------


@cuda.jit(device=True, inline=True)
def _mask_at(mask, b, h, i, j):
    """mask[b, h, i, j] where every axis of length 1 is broadcast (mask is 4-D)."""
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    mi = i if mask.shape[2] > 1 else 0
    mj = j if mask.shape[3] > 1 else 0
    return mask[mb, mh, mi, mj]


# ----------------------------------------------------------------------------------------------
# 1. naive kernels: S, P, dP, dS live in global memory
# ----------------------------------------------------------------------------------------------


@functools.cache
def _naive_kernels(dtype):
    """Python functions of the naive kernels for one NumPy dtype (np.float32 or np.float64)."""
    acc_t = dtype
    neg_inf = -math.inf

    def scores(q, k, mask, has_mask, is_causal, scale, n_heads, s):
        """s[z, i, j] = scale * q[z, i] . k[z, j] + mask, -inf for j > i when causal.

        q: (BH, Tq, hs), k: (BH, Tk, hs), s: (BH, Tq, Tk); z = b * n_heads + h = blockIdx.z.
        """
        j, i = cuda.grid(2)  # x runs along keys (coalesced writes), y along queries
        z = cuda.blockIdx.z
        Tq = q.shape[1]
        Tk = k.shape[1]
        if i >= Tq or j >= Tk:
            return
        acc = acc_t(0.0)
        for d in range(q.shape[2]):
            acc += q[z, i, d] * k[z, j, d]
        acc *= acc_t(scale)
        if has_mask:
            acc += _mask_at(mask, z // n_heads, z % n_heads, i, j)
        if is_causal and j > i:
            acc = acc_t(neg_inf)
        s[z, i, j] = acc

    def bmm(a, b, c, trans_a, trans_b):
        """c[z] = op(a[z]) @ op(b[z]) with op = transpose when the flag is set.  c: (Z, M, N)"""
        j, i = cuda.grid(2)
        z = cuda.blockIdx.z
        M = c.shape[1]
        N = c.shape[2]
        if i >= M or j >= N:
            return
        inner = a.shape[1] if trans_a else a.shape[2]
        acc = acc_t(0.0)
        for l in range(inner):
            a_il = a[z, l, i] if trans_a else a[z, i, l]
            b_lj = b[z, j, l] if trans_b else b[z, l, j]
            acc += a_il * b_lj
        c[z, i, j] = acc

    def probs_from_lse(s, lse):
        """In place s <- P = exp(s - lse) (0 where lse = -inf: every key masked).  s: (Z, R, N)"""
        j, i = cuda.grid(2)
        z = cuda.blockIdx.z
        if i >= s.shape[1] or j >= s.shape[2]:
            return
        row_lse = lse[z, i]
        if row_lse == acc_t(neg_inf):
            s[z, i, j] = acc_t(0.0)
        else:
            s[z, i, j] = math.exp(s[z, i, j] - row_lse)

    def dscores(p, dp, dvec, scale):
        """In place dp <- dS * scale = P * (dP - D) * scale.  p, dp: (Z, Tq, Tk), dvec: (Z, Tq)"""
        j, i = cuda.grid(2)
        z = cuda.blockIdx.z
        if i >= p.shape[1] or j >= p.shape[2]:
            return
        dp[z, i, j] = p[z, i, j] * (dp[z, i, j] - dvec[z, i]) * acc_t(scale)

    def rowdot(dout, out, dvec):
        """dvec[z, i] = D_i = sum_d dout[z, i, d] * out[z, i, d].  One thread per row."""
        i, z = cuda.grid(2)
        if i >= dout.shape[1] or z >= dout.shape[0]:
            return
        acc = acc_t(0.0)
        for d in range(dout.shape[2]):
            acc += dout[z, i, d] * out[z, i, d]
        dvec[z, i] = acc

    return {
        "naive_scores": scores,
        "naive_bmm": bmm,
        "naive_probs_from_lse": probs_from_lse,
        "naive_dscores": dscores,
        "rowdot": rowdot,
    }


@functools.cache
def _softmax_kernel(dtype, threads):
    """Python function of the fused row softmax for one dtype and ``threads`` per row."""
    acc_t = dtype
    neg_inf = -math.inf
    THREADS = threads  # threads per row; a power of two for the tree reduction

    def softmax_rows(x, y, lse):
        """y[z, r] = exp(x[z, r] - m) / l and lse[z, r] = m + log(l), m = max, l = sum exp.

        One thread block per row (blockIdx.x = r, blockIdx.y = z); its THREADS threads stride
        over the row, then reduce in shared memory. x, y: (Z, R, N); lse: (Z, R).
        A row that is all -inf gives y = 0 and lse = -inf.
        """
        r = cuda.blockIdx.x
        z = cuda.blockIdx.y
        t = cuda.threadIdx.x
        n = x.shape[2]
        red = cuda.shared.array(THREADS, acc_t)  # one partial result per thread
        # 1) row max
        m = acc_t(neg_inf)
        for j in range(t, n, THREADS):
            m = max(m, x[z, r, j])
        red[t] = m
        # wait until every thread has stored its partial max
        cuda.syncthreads()
        stride = THREADS // 2
        while stride > 0:
            if t < stride:
                red[t] = max(red[t], red[t + stride])
            # wait until this level of the tree is reduced before the next level reads it
            cuda.syncthreads()
            stride //= 2
        m = red[0]
        # wait until every thread has read the max before red is reused for the sum
        cuda.syncthreads()
        # 2) row sum of exp(x - m)
        total = acc_t(0.0)
        for j in range(t, n, THREADS):
            if m > acc_t(neg_inf):
                total += math.exp(x[z, r, j] - m)
            elif x[z, r, j] != x[z, r, j]:
                # max() skips NaN: a row of NaN and -inf has m = -inf, yet it is NaN, as in
                # torch, not masked. The NaN in the sum makes the whole row NaN below
                total += x[z, r, j]
        red[t] = total
        # wait until every thread has stored its partial sum
        cuda.syncthreads()
        stride = THREADS // 2
        while stride > 0:
            if t < stride:
                red[t] += red[t + stride]
            # wait until this level of the tree is reduced before the next level reads it
            cuda.syncthreads()
            stride //= 2
        total = red[0]
        # 3) normalize; total is 0 only for an all -inf row (a NaN in the row makes it NaN,
        # which must come out as NaN, as in torch, not as a masked row: hence != 0, not > 0;
        # y = exp(x - m) / NaN and lse = m + log(NaN) are NaN)
        for j in range(t, n, THREADS):
            if total != acc_t(0.0):
                y[z, r, j] = math.exp(x[z, r, j] - m) / total
            else:
                y[z, r, j] = acc_t(0.0)
        if t == 0:
            lse[z, r] = m + math.log(total) if total != acc_t(0.0) else acc_t(neg_inf)

    return softmax_rows


# ----------------------------------------------------------------------------------------------
# 2. flash kernels: tiles in shared memory, online softmax, P rebuilt from lse in the backward
# ----------------------------------------------------------------------------------------------


@functools.cache
def _flash_kernels(dtype, block_q, block_k, hs_max):
    """Python functions of the flash forward / backward kernels for one dtype and tile shape.

    block_q: query rows per query tile; block_k: key rows per key tile; hs_max: a compile-time
    bound on the head size (the length of the per-thread local rows).
    """
    acc_t = dtype
    neg_inf = -math.inf
    nan = math.nan
    BLOCK_Q = block_q  # query rows per tile (= threads per block in forward and dq kernels)
    BLOCK_K = block_k  # key rows per tile (= threads per block in the dk/dv kernel)
    HS_MAX = hs_max  # head size bound for local and shared rows

    def flash_forward(q, k, v, mask, has_mask, is_causal, scale, n_heads, out, lse):
        """out = softmax(S) V and lse = logsumexp(S) for one (b, h, query tile) per block.

        q, out: (BH, Tq, hs); k, v: (BH, Tk, hs); lse: (BH, Tq); mask: 4-D, length-1 axes
        broadcast. blockIdx.x = query tile, blockIdx.y = b * n_heads + h, threadIdx.x = row.
        Online softmax over key tiles: m_new = max(m, max_j s_j); alpha = exp(m - m_new);
        l = alpha * l + sum_j exp(s_j - m_new);  o = alpha * o + sum_j exp(s_j - m_new) v_j.
        """
        z = cuda.blockIdx.y
        b = z // n_heads
        h = z % n_heads
        tx = cuda.threadIdx.x
        q_start = cuda.blockIdx.x * BLOCK_Q
        i = q_start + tx  # this thread's query row
        Tq = q.shape[1]
        Tk = k.shape[1]
        hs = q.shape[2]
        row_ok = i < Tq
        sc = acc_t(scale)

        k_tile = cuda.shared.array((BLOCK_K, HS_MAX), acc_t)  # K rows of the current key tile
        v_tile = cuda.shared.array((BLOCK_K, HS_MAX), acc_t)  # V rows of the current key tile
        q_row = cuda.local.array(HS_MAX, acc_t)  # scale * q_i
        o_acc = cuda.local.array(HS_MAX, acc_t)  # unnormalized output row
        s_row = cuda.local.array(BLOCK_K, acc_t)  # scores of q_i against the key tile

        for d in range(hs):
            q_row[d] = q[z, i, d] * sc if row_ok else acc_t(0.0)
            o_acc[d] = acc_t(0.0)
        m_i = acc_t(neg_inf)  # running max of the scores
        l_i = acc_t(0.0)  # running sum of exp(s - m_i)
        saw_nan = False  # max() skips NaN: a row whose every score is NaN or -inf is NaN

        # keys this block needs: all of them, or up to its last query row when causal
        n_keys = min(Tk, min(Tq, q_start + BLOCK_Q)) if is_causal else Tk
        for k_start in range(0, n_keys, BLOCK_K):
            # all threads load the key tile together, element by element
            for idx in range(tx, BLOCK_K * hs, BLOCK_Q):
                jj = idx // hs
                d = idx % hs
                if k_start + jj < Tk:
                    k_tile[jj, d] = k[z, k_start + jj, d]
                    v_tile[jj, d] = v[z, k_start + jj, d]
            # wait until the K and V tiles are fully in shared memory
            cuda.syncthreads()
            if row_ok:
                tile_len = min(BLOCK_K, n_keys - k_start)
                m_tile = acc_t(neg_inf)
                for jj in range(tile_len):
                    j = k_start + jj
                    s = acc_t(0.0)
                    for d in range(hs):
                        s += q_row[d] * k_tile[jj, d]
                    if has_mask:
                        s += _mask_at(mask, b, h, i, j)
                    if is_causal and j > i:
                        s = acc_t(neg_inf)
                    if s != s:
                        saw_nan = True
                    s_row[jj] = s
                    m_tile = max(m_tile, s)
                m_new = max(m_i, m_tile)
                if m_new > acc_t(neg_inf):  # else every key so far is masked: nothing to add
                    alpha = math.exp(m_i - m_new)  # rescales the old sums; 0 when m_i = -inf
                    l_i *= alpha
                    for d in range(hs):
                        o_acc[d] *= alpha
                    for jj in range(tile_len):
                        p = math.exp(s_row[jj] - m_new)
                        l_i += p
                        for d in range(hs):
                            o_acc[d] += p * v_tile[jj, d]
                    m_i = m_new
            # wait until every row is done with this tile before the next load overwrites it
            cuda.syncthreads()

        if row_ok:
            if l_i != acc_t(0.0):  # a NaN score makes l_i NaN: out NaN as in torch, not 0
                inv_l = acc_t(1.0) / l_i
                for d in range(hs):
                    out[z, i, d] = o_acc[d] * inv_l
                lse[z, i] = m_i + math.log(l_i)
            elif saw_nan:  # every score NaN or masked: NaN, as in torch
                for d in range(hs):
                    out[z, i, d] = acc_t(nan)
                lse[z, i] = acc_t(nan)
            else:  # every key masked
                for d in range(hs):
                    out[z, i, d] = acc_t(0.0)
                lse[z, i] = acc_t(neg_inf)

    def flash_backward_dkdv(
        q, k, v, dout, lse, dvec, mask, has_mask, is_causal, scale, n_heads, dk, dv
    ):
        """dK_j = scale * sum_i dS_ij q_i and dV_j = sum_i P_ij dO_i for one key tile per block.

        blockIdx.x = key tile, blockIdx.y = b * n_heads + h, threadIdx.x = key row j.
        P_ij = exp(S_ij - lse_i), dS_ij = P_ij (dO_i . v_j - D_i); dvec holds D: (BH, Tq).
        """
        z = cuda.blockIdx.y
        b = z // n_heads
        h = z % n_heads
        tx = cuda.threadIdx.x
        k_start = cuda.blockIdx.x * BLOCK_K
        j = k_start + tx  # this thread's key row
        Tq = q.shape[1]
        Tk = k.shape[1]
        hs = q.shape[2]
        col_ok = j < Tk
        sc = acc_t(scale)

        q_tile = cuda.shared.array((BLOCK_Q, HS_MAX), acc_t)  # q rows of the query tile
        do_tile = cuda.shared.array((BLOCK_Q, HS_MAX), acc_t)  # dout rows of the query tile
        lse_tile = cuda.shared.array(BLOCK_Q, acc_t)
        d_tile = cuda.shared.array(BLOCK_Q, acc_t)
        k_row = cuda.local.array(HS_MAX, acc_t)
        v_row = cuda.local.array(HS_MAX, acc_t)
        dk_acc = cuda.local.array(HS_MAX, acc_t)
        dv_acc = cuda.local.array(HS_MAX, acc_t)

        for d in range(hs):
            k_row[d] = k[z, j, d] if col_ok else acc_t(0.0)
            v_row[d] = v[z, j, d] if col_ok else acc_t(0.0)
            dk_acc[d] = acc_t(0.0)
            dv_acc[d] = acc_t(0.0)

        # queries that see this key tile: all, or from the tile holding query k_start if causal
        q_begin = (k_start // BLOCK_Q) * BLOCK_Q if is_causal else 0
        for q_start in range(q_begin, Tq, BLOCK_Q):
            for idx in range(tx, BLOCK_Q * hs, BLOCK_K):
                ii = idx // hs
                d = idx % hs
                if q_start + ii < Tq:
                    q_tile[ii, d] = q[z, q_start + ii, d]
                    do_tile[ii, d] = dout[z, q_start + ii, d]
            for ii in range(tx, BLOCK_Q, BLOCK_K):
                if q_start + ii < Tq:
                    lse_tile[ii] = lse[z, q_start + ii]
                    d_tile[ii] = dvec[z, q_start + ii]
            # wait until the q, dout, lse and D tiles are fully in shared memory
            cuda.syncthreads()
            if col_ok:
                for ii in range(min(BLOCK_Q, Tq - q_start)):
                    i = q_start + ii
                    row_lse = lse_tile[ii]
                    if row_lse == acc_t(neg_inf) or (is_causal and j > i):
                        continue  # P_ij = 0: the row is fully masked or the key is in the future
                    s = acc_t(0.0)
                    dp = acc_t(0.0)
                    for d in range(hs):
                        s += q_tile[ii, d] * k_row[d]
                        dp += do_tile[ii, d] * v_row[d]
                    s *= sc
                    if has_mask:
                        s += _mask_at(mask, b, h, i, j)
                    p = math.exp(s - row_lse)
                    ds = p * (dp - d_tile[ii])
                    for d in range(hs):
                        dv_acc[d] += p * do_tile[ii, d]
                        dk_acc[d] += ds * q_tile[ii, d]
            # wait until every key row is done with these tiles before they are overwritten
            cuda.syncthreads()

        if col_ok:
            for d in range(hs):
                dk[z, j, d] = dk_acc[d] * sc
                dv[z, j, d] = dv_acc[d]

    def flash_backward_dq(q, k, v, dout, lse, dvec, mask, has_mask, is_causal, scale, n_heads, dq):
        """dQ_i = scale * sum_j dS_ij k_j for one query tile per block (thread = query row i).

        blockIdx.x = query tile, blockIdx.y = b * n_heads + h; K and V tiles in shared memory.
        """
        z = cuda.blockIdx.y
        b = z // n_heads
        h = z % n_heads
        tx = cuda.threadIdx.x
        q_start = cuda.blockIdx.x * BLOCK_Q
        i = q_start + tx  # this thread's query row
        Tq = q.shape[1]
        Tk = k.shape[1]
        hs = q.shape[2]
        row_ok = i < Tq
        sc = acc_t(scale)

        k_tile = cuda.shared.array((BLOCK_K, HS_MAX), acc_t)
        v_tile = cuda.shared.array((BLOCK_K, HS_MAX), acc_t)
        q_row = cuda.local.array(HS_MAX, acc_t)  # scale * q_i
        do_row = cuda.local.array(HS_MAX, acc_t)
        dq_acc = cuda.local.array(HS_MAX, acc_t)

        for d in range(hs):
            q_row[d] = q[z, i, d] * sc if row_ok else acc_t(0.0)
            do_row[d] = dout[z, i, d] if row_ok else acc_t(0.0)
            dq_acc[d] = acc_t(0.0)
        row_lse = lse[z, i] if row_ok else acc_t(neg_inf)
        d_i = dvec[z, i] if row_ok else acc_t(0.0)
        # fully masked rows get dQ = 0; a NaN row (lse NaN) gets NaN, as in torch: != not >
        active = row_ok and row_lse != acc_t(neg_inf)

        # keys this block needs: all of them, or up to its last query row when causal
        n_keys = min(Tk, min(Tq, q_start + BLOCK_Q)) if is_causal else Tk
        for k_start in range(0, n_keys, BLOCK_K):
            for idx in range(tx, BLOCK_K * hs, BLOCK_Q):
                jj = idx // hs
                d = idx % hs
                if k_start + jj < Tk:
                    k_tile[jj, d] = k[z, k_start + jj, d]
                    v_tile[jj, d] = v[z, k_start + jj, d]
            # wait until the K and V tiles are fully in shared memory
            cuda.syncthreads()
            if active:
                for jj in range(min(BLOCK_K, n_keys - k_start)):
                    j = k_start + jj
                    if is_causal and j > i:
                        break  # later keys of the tile are in the future too
                    s = acc_t(0.0)
                    dp = acc_t(0.0)
                    for d in range(hs):
                        s += q_row[d] * k_tile[jj, d]
                        dp += do_row[d] * v_tile[jj, d]
                    if has_mask:
                        s += _mask_at(mask, b, h, i, j)
                    ds = math.exp(s - row_lse) * (dp - d_i)
                    for d in range(hs):
                        dq_acc[d] += ds * k_tile[jj, d]
            # wait until every row is done with this tile before the next load overwrites it
            cuda.syncthreads()

        if row_ok:
            for d in range(hs):
                dq[z, i, d] = dq_acc[d] * sc

    return {
        "flash_forward": flash_forward,
        "flash_backward_dkdv": flash_backward_dkdv,
        "flash_backward_dq": flash_backward_dq,
    }


@functools.cache
def _jit(name, *factory_args):
    """The compiled kernel ``name`` from the factory that builds it."""
    if name in ("flash_forward", "flash_backward_dkdv", "flash_backward_dq"):
        return cuda.jit(_flash_kernels(*factory_args)[name])
    if name == "softmax_rows":
        return cuda.jit(_softmax_kernel(*factory_args))
    return cuda.jit(_naive_kernels(*factory_args)[name])


# ----------------------------------------------------------------------------------------------
# signatures for the PTX compile test (tests/kernels/test_ptx_attention.py)
# ----------------------------------------------------------------------------------------------


def _ptx_signatures():
    """{name: [(python_function, signature) for float32 and float64]} at the default tiles.

    Arrays are C-contiguous as the launchers pass them; flash kernels at hs_max = 128.
    """
    table = {}
    for dtype, nb in ((np.float32, types.float32), (np.float64, types.float64)):
        a2 = nb[:, ::1]
        a3 = nb[:, :, ::1]
        a4 = nb[:, :, :, ::1]
        flag = types.boolean
        f64 = types.float64
        i64 = types.int64
        tile = _default_tile(HEAD_SIZE_MAX, np.dtype(dtype).itemsize)
        flash = _flash_kernels(dtype, tile, tile, HEAD_SIZE_MAX)
        naive = _naive_kernels(dtype)
        entries = {
            "naive_scores": (naive["naive_scores"], (a3, a3, a4, flag, flag, f64, i64, a3)),
            "naive_bmm": (naive["naive_bmm"], (a3, a3, a3, flag, flag)),
            "naive_probs_from_lse": (naive["naive_probs_from_lse"], (a3, a2)),
            "naive_dscores": (naive["naive_dscores"], (a3, a3, a2, f64)),
            "rowdot": (naive["rowdot"], (a3, a3, a2)),
            "softmax_rows": (_softmax_kernel(dtype, SOFTMAX_THREADS), (a3, a3, a2)),
            "flash_forward": (
                flash["flash_forward"],
                (a3, a3, a3, a4, flag, flag, f64, i64, a3, a2),
            ),
            "flash_backward_dkdv": (
                flash["flash_backward_dkdv"],
                (a3, a3, a3, a3, a2, a2, a4, flag, flag, f64, i64, a3, a3),
            ),
            "flash_backward_dq": (
                flash["flash_backward_dq"],
                (a3, a3, a3, a3, a2, a2, a4, flag, flag, f64, i64, a3),
            ),
        }
        for name, (fn, args) in entries.items():
            table.setdefault(name, []).append((fn, types.void(*args)))
    return table


PTX_SIGNATURES = _ptx_signatures()


# ----------------------------------------------------------------------------------------------
# launchers
# ----------------------------------------------------------------------------------------------


class _Place:
    """Where a launcher's arrays live.

    NumPy inputs: numba device arrays inside, NumPy results. Any device input (CuPy or
    ``__cuda_array_interface__``): CuPy arrays throughout, launched on CuPy's current stream.
    """

    def __init__(self, *arrays):
        self.on_device = any(hasattr(a, "__cuda_array_interface__") for a in arrays)
        self.stream = 0
        if self.on_device:
            import cupy  # lazily: only needed for device inputs

            self.cupy = cupy
            ptr = cupy.cuda.get_current_stream().ptr
            self.stream = cuda.external_stream(ptr) if ptr else cuda.default_stream()

    def put(self, a, dtype, shape=None):
        """A C-contiguous device copy (or view) of ``a`` in ``dtype``, reshaped to ``shape``."""
        if self.on_device:
            a = self.cupy.ascontiguousarray(self.cupy.asarray(a, dtype=dtype))
            return a if shape is None else a.reshape(shape)
        a = np.ascontiguousarray(np.asarray(a, dtype=dtype))
        return cuda.to_device(a if shape is None else a.reshape(shape))

    def empty(self, shape, dtype):
        if self.on_device:
            return self.cupy.empty(shape, dtype=dtype)
        return cuda.device_array(shape, dtype=dtype)

    def get(self, a, shape):
        """The result as a NumPy array (NumPy inputs) or a CuPy array, reshaped to ``shape``."""
        if self.on_device:
            return a.reshape(shape)
        return a.copy_to_host().reshape(shape)


def _check_impl(name, impl):
    if impl not in ("flash", "naive"):
        raise ValueError(f"{name}: impl must be 'flash' or 'naive', got {impl!r}")


def _tiles(name, impl, Tq, Tk, hs, dtype, block_q, block_k):
    """(block_q, block_k, hs_max) for the launch, with the defaults filled in and checked.

    Default flash tiles: the largest that fit SHARED_BYTES, but no longer than the sequence
    (rounded up to a power of two), so that short sequences do not launch idle threads.
    """
    if impl == "naive":
        block_q = block_q or NAIVE_TILE
        block_k = block_k or NAIVE_TILE
        if block_q * block_k > MAX_THREADS:
            raise ValueError(
                f"{name}: naive thread blocks of block_q x block_k = {block_q} x {block_k} "
                f"threads are above the {MAX_THREADS} a block may have"
            )
        return block_q, block_k, hs
    if hs > HEAD_SIZE_MAX:
        raise ValueError(
            f"{name}: the flash kernels take head sizes up to {HEAD_SIZE_MAX}, got {hs}; "
            f"use impl='naive'"
        )
    hs_max = _head_size_bucket(hs)
    itemsize = np.dtype(dtype).itemsize
    tile = _default_tile(hs_max, itemsize)
    block_q = block_q or min(tile, _pow2_ceil(Tq))
    block_k = block_k or min(tile, _pow2_ceil(Tk))
    shared = 2 * max(block_q, block_k) * hs_max * itemsize + 2 * block_q * itemsize
    if shared > SHARED_LIMIT:
        raise ValueError(
            f"{name}: tiles block_q={block_q}, block_k={block_k} at head size {hs} "
            f"({np.dtype(dtype)}) need {shared} bytes of shared memory, above {SHARED_LIMIT}"
        )
    return block_q, block_k, hs_max


def _check_heads(name, BH):
    """B * nh is a grid dimension (y for flash, z for naive): at most 65535 blocks."""
    if BH > MAX_GRID_YZ:
        raise ValueError(f"{name}: B * nh = {BH} is above the {MAX_GRID_YZ} the grid allows")


def _cdiv(a, b):
    return (a + b - 1) // b


def _naive_grid(rows, cols, z, block_q, block_k):
    """Grid and block for a naive kernel over a (z, rows, cols) output, one thread each."""
    return (_cdiv(cols, block_k), _cdiv(rows, block_q), z), (block_k, block_q)


def attention_forward(
    q, k, v, mask=None, is_causal=False, scale=None, *, impl="flash", block_q=None, block_k=None
):
    """Scaled dot-product attention forward; see ``kernels.reference.attention``.

    ``out = softmax(scale * q k^T + mask) v`` and ``lse = logsumexp_j (scale * q k^T + mask)``.
    q: (B, nh, Tq, hs), k, v: (B, nh, Tk, hs) -> out (B, nh, Tq, hs), lse (B, nh, Tq).
    impl: "flash" (tiled, default) or "naive" (S in global memory).
    block_q, block_k: flash -- query rows per block and key rows per shared tile;
    naive -- the thread block shape (rows x columns). None picks defaults.
    """
    name = "attention_forward"
    scale = check_attention_args(name, q, k, v, mask, is_causal, scale)
    _check_impl(name, impl)
    B, nh, Tq, hs = q.shape
    Tk = k.shape[2]
    BH = B * nh
    _check_heads(name, BH)
    dtype = np.dtype(q.dtype).type
    bq, bk, hs_max = _tiles(name, impl, Tq, Tk, hs, dtype, block_q, block_k)
    place = _Place(q, k, v, mask)
    d_q = place.put(q, dtype, (BH, Tq, hs))
    d_k = place.put(k, dtype, (BH, Tk, hs))
    d_v = place.put(v, dtype, (BH, Tk, hs))
    has_mask = mask is not None
    d_mask = place.put(compact_mask(mask) if has_mask else np.zeros((1, 1, 1, 1)), dtype)
    d_out = place.empty((BH, Tq, hs), dtype)
    d_lse = place.empty((BH, Tq), dtype)
    causal = bool(is_causal)
    stream = place.stream
    if impl == "flash":
        kernel = _jit("flash_forward", dtype, bq, bk, hs_max)
        grid = (_cdiv(Tq, bq), BH)
        kernel[grid, bq, stream](d_q, d_k, d_v, d_mask, has_mask, causal, scale, nh, d_out, d_lse)
    else:
        d_s = place.empty((BH, Tq, Tk), dtype)  # scores, then P
        grid, block = _naive_grid(Tq, Tk, BH, bq, bk)
        _jit("naive_scores", dtype)[grid, block, stream](
            d_q, d_k, d_mask, has_mask, causal, scale, nh, d_s
        )
        threads = min(SOFTMAX_THREADS, _pow2_floor(Tk))  # per row
        softmax = _jit("softmax_rows", dtype, threads)
        softmax[(Tq, BH), threads, stream](d_s, d_s, d_lse)  # in place: S -> P
        grid, block = _naive_grid(Tq, hs, BH, bq, bk)
        _jit("naive_bmm", dtype)[grid, block, stream](d_s, d_v, d_out, False, False)  # O = P V
    return place.get(d_out, (B, nh, Tq, hs)), place.get(d_lse, (B, nh, Tq))


def attention_backward(
    dout,
    q,
    k,
    v,
    out,
    lse,
    mask=None,
    is_causal=False,
    scale=None,
    *,
    impl="flash",
    block_q=None,
    block_k=None,
):
    """Gradients (dq, dk, dv) of :func:`attention_forward`; P is rebuilt from ``lse``.

    ``dV = P^T dO``, ``dS = P * (dO V^T - D)`` with ``D = rowsum(dO * O)``,
    ``dQ = scale dS K``, ``dK = scale dS^T Q``. Rows with lse = -inf get zero gradients.
    impl, block_q, block_k: as in :func:`attention_forward`.
    """
    name = "attention_backward"
    scale = check_attention_backward_args(name, dout, q, k, v, out, lse, mask, is_causal, scale)
    _check_impl(name, impl)
    B, nh, Tq, hs = q.shape
    Tk = k.shape[2]
    BH = B * nh
    _check_heads(name, BH)
    dtype = np.dtype(q.dtype).type
    bq, bk, hs_max = _tiles(name, impl, Tq, Tk, hs, dtype, block_q, block_k)
    place = _Place(dout, q, k, v, out, lse, mask)
    d_q = place.put(q, dtype, (BH, Tq, hs))
    d_k = place.put(k, dtype, (BH, Tk, hs))
    d_v = place.put(v, dtype, (BH, Tk, hs))
    d_dout = place.put(dout, dtype, (BH, Tq, hs))
    d_out = place.put(out, dtype, (BH, Tq, hs))
    d_lse = place.put(lse, dtype, (BH, Tq))
    has_mask = mask is not None
    d_mask = place.put(compact_mask(mask) if has_mask else np.zeros((1, 1, 1, 1)), dtype)
    causal = bool(is_causal)
    stream = place.stream
    d_dq = place.empty((BH, Tq, hs), dtype)
    d_dk = place.empty((BH, Tk, hs), dtype)
    d_dv = place.empty((BH, Tk, hs), dtype)

    # D_i = sum_d dO_id O_id, one thread per row
    d_dvec = place.empty((BH, Tq), dtype)
    _jit("rowdot", dtype)[(_cdiv(Tq, bq), BH), bq, stream](d_dout, d_out, d_dvec)
    if impl == "flash":
        args = (d_q, d_k, d_v, d_dout, d_lse, d_dvec, d_mask, has_mask, causal, scale, nh)
        kernel = _jit("flash_backward_dkdv", dtype, bq, bk, hs_max)
        kernel[(_cdiv(Tk, bk), BH), bk, stream](*args, d_dk, d_dv)
        kernel = _jit("flash_backward_dq", dtype, bq, bk, hs_max)
        kernel[(_cdiv(Tq, bq), BH), bq, stream](*args, d_dq)
    else:
        bmm = _jit("naive_bmm", dtype)
        d_p = place.empty((BH, Tq, Tk), dtype)  # P, rebuilt from lse
        d_ds = place.empty((BH, Tq, Tk), dtype)  # dP, then dS * scale
        grid, block = _naive_grid(Tq, Tk, BH, bq, bk)
        _jit("naive_scores", dtype)[grid, block, stream](
            d_q, d_k, d_mask, has_mask, causal, scale, nh, d_p
        )
        _jit("naive_probs_from_lse", dtype)[grid, block, stream](d_p, d_lse)
        bmm[grid, block, stream](d_dout, d_v, d_ds, False, True)  # dP = dO V^T
        # dS = P * (dP - D) * scale, in place of dP
        _jit("naive_dscores", dtype)[grid, block, stream](d_p, d_ds, d_dvec, scale)
        grid, block = _naive_grid(Tk, hs, BH, bq, bk)
        bmm[grid, block, stream](d_p, d_dout, d_dv, True, False)  # dV = P^T dO
        bmm[grid, block, stream](d_ds, d_q, d_dk, True, False)  # dK = dS^T Q (scale in dS)
        grid, block = _naive_grid(Tq, hs, BH, bq, bk)
        bmm[grid, block, stream](d_ds, d_k, d_dq, False, False)  # dQ = dS K
    return (
        place.get(d_dq, (B, nh, Tq, hs)),
        place.get(d_dk, (B, nh, Tk, hs)),
        place.get(d_dv, (B, nh, Tk, hs)),
    )


def softmax_lastdim(x, *, threads=None):
    """Numerically stable softmax over the last axis: ``y = exp(x - max) / sum(exp(x - max))``.

    Any leading shape; float32 or float64. A row that is all -inf gives zeros (torch: NaN).
    One thread block per row; threads: per row, a power of two (default: up to 128).
    """
    check_softmax_args("softmax_lastdim", x)
    n = x.shape[-1]
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    if threads is None:
        threads = min(SOFTMAX_THREADS, _pow2_floor(max(n, 1)))
    if threads != _pow2_floor(threads):
        raise ValueError(f"softmax_lastdim: threads must be a power of two, got {threads}")
    if rows == 0 or n == 0:
        return x.copy()
    dtype = np.dtype(x.dtype).type
    place = _Place(x)
    d_x = place.put(x, dtype, (1, rows, n))
    d_y = place.empty((1, rows, n), dtype)
    d_lse = place.empty((1, rows), dtype)
    _jit("softmax_rows", dtype, threads)[(rows, 1), threads, place.stream](d_x, d_y, d_lse)
    return place.get(d_y, tuple(x.shape))
