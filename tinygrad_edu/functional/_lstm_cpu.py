"""The fused LSTM layer on NumPy arrays as two Numba ``@njit`` kernels: the whole forward
recurrence, and the whole backpropagation through time (``functional/rnn.py`` has the
equations and the array-module path, which CuPy arrays and ``Config.kernel = "reference"``
take; this file is its CPU twin, same math, selected for NumPy arrays).

Notation as in ``functional/rnn.py``: T steps, B batch, I input, H hidden, G = 4H gate rows in
torch's order i, f, g, o; ``s`` is the logistic sigmoid, computed as s(z) = (1 + tanh(z/2)) / 2.

Layout (everything batch-major, so every loop over a gate runs over contiguous memory):

- ``hx`` (T + 1, B, K): slot t holds the row [h; x_t; 1; 0...] of every batch element, with
  K = H + I + 1 rounded up to a multiple of 16 (the zeros pad the vectors). The gate
  pre-activations of one step are then a single product with the packed weights, kept
  transposed, ``wt`` (K, G) = [W_hh  W_ih  b_ih + b_hh  0...]^T::

      z_t = hx[t] @ wt                    (B, K) x (K, G) -> (B, G)

  and the backward gets dW_hh, dW_ih and db from one product [dW_hh dW_ih db] = dZ^T HX over
  all T * B rows.
- ``acts`` (T, B, G): i, f, g, o after their activations; ``cs`` (T + 1, B, H): c_0 .. c_T;
  ``tanh_cs`` (T, B, H).

Why kernels instead of the array-module loop: a step of that loop is about a dozen NumPy
calls on small (G, B) blocks, each a Python call and a full pass over memory; here one pass
per step does all the gate math with the values in registers. The matrix products are
``gemm_nn_serial`` of ``kernels/cpu/gemm.py``: outer products in a register tile that LLVM
compiles with the widest vectors the CPU has (AVX-512 where present), which on such CPUs beats
a BLAS pinned to AVX2 at these sizes. (Dot products, gemm_nt on w (G, K) and W_hh^T, lose at
the short K of a step's product: the run.py LSTM, fwd+bwd, took 6.0 ms with them, 4.5 with
the outer products, torch 4.6-4.8.)

tanh of float32 is :func:`_tanh_f32`, a rational function that LLVM vectorizes (libm's
``tanhf`` runs one element at a time and would cost more than the matrix products); float64
uses ``math.tanh``.
"""

import math

import numpy as np
from numba import njit
from numba.extending import overload

from ..kernels._config import NUMBA_CACHE
from ..kernels.cpu._math import FAST
from ..kernels.cpu.gemm import gemm_nn_serial

PAD = 16  # hx rows are padded to a multiple of this many elements


def row_length(hidden: int, inputs: int) -> int:
    """K: the length of one hx row [h (H); x (I); 1], padded to a multiple of ``PAD``."""
    return -(-(hidden + inputs + 1) // PAD) * PAD


# ---------------------------------------------------------------------------------------------
# tanh that vectorizes
# ---------------------------------------------------------------------------------------------


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _tanh_f32(x):
    """tanh(x) for a float32 scalar: a [13/6] odd rational approximation on |x| <= 7.9053
    (Eigen's ``generic_fast_tanh_float``, a few ulp of error), +-1 beyond. Only products,
    sums, one division and a clamp, so a loop over it vectorizes."""
    x = min(max(x, np.float32(-7.90531110763549805)), np.float32(7.90531110763549805))
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    return x * p / q


def _tanh(x):
    """tanh of a scalar inside @njit code: :func:`_tanh_f32` for float32, else math.tanh."""
    raise NotImplementedError("only callable from @njit code")


@overload(_tanh, jit_options={"fastmath": FAST, "error_model": "numpy"})
def _tanh_impl(x):
    if getattr(x, "bitwidth", 64) == 32:
        return lambda x: _tanh_f32(x)
    return lambda x: math.tanh(x)


# ---------------------------------------------------------------------------------------------
# forward and backward over the whole sequence
# ---------------------------------------------------------------------------------------------


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def lstm_forward(hx, wt, cs, acts, tanh_cs, z, reverse, skip_first):
    """Run the recurrence in place. In: hx (T + 1, B, K) with the x_t rows, the ones column and
    h_0 in its slot (slot 0, or slot T when ``reverse``), wt (K, G) packed weights, cs[0 or T]
    = c_0. Out: the h rows of hx, cs, acts (T, B, G), tanh_cs (T, B, H); z (B, G) is scratch
    for the pre-activations of one step (passed in: with an array allocated here, the gate
    loop below ran several times slower, in scalar code).

    Step t reads slot t + r and writes slot t + 1 - r (r = 1 when reverse). ``skip_first``:
    h_0 is zero, so the first step leaves out the h columns of hx (rows of wt) in its product."""
    T, B, G = acts.shape
    H = G // 4
    r = 1 if reverse else 0
    half = acts.dtype.type(0.5)
    for n in range(T):
        t = T - 1 - n if reverse else n
        prev, cur = t + r, t + 1 - r
        if skip_first and n == 0:
            # h_0 = 0: only the x, 1 columns of hx and rows of wt (a C-ordered copy: a column
            # slice would compile gemm_nn_serial once more, for strided arrays)
            gemm_nn_serial(np.ascontiguousarray(hx[prev, :, H:]), wt[H:], z)
        else:
            gemm_nn_serial(hx[prev], wt, z)  # (B, K) @ (K, G) -> (B, G)
        # One view per gate and separate input and output arrays: LLVM vectorizes the u
        # loop only when it can tell that no store overlaps a load of another iteration.
        for b in range(B):
            zi, zf, zg, zo = z[b, :H], z[b, H:2 * H], z[b, 2 * H:3 * H], z[b, 3 * H:]
            ab = acts[t, b]
            ai, af, ag, ao = ab[:H], ab[H:2 * H], ab[2 * H:3 * H], ab[3 * H:]
            c0, c1, tc, h = cs[prev, b], cs[cur, b], tanh_cs[t, b], hx[cur, b, :H]
            for u in range(H):
                i = half + half * _tanh(half * zi[u])  # s(z) = (1 + tanh(z / 2)) / 2
                f = half + half * _tanh(half * zf[u])
                g = _tanh(zg[u])
                o = half + half * _tanh(half * zo[u])
                c = f * c0[u] + i * g  # c_t = f * c_{t-1} + i * g
                tanh_c = _tanh(c)
                ai[u] = i
                af[u] = f
                ag[u] = g
                ao[u] = o
                c1[u] = c
                tc[u] = tanh_c
                h[u] = o * tanh_c  # h_t = o * tanh(c_t)


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def lstm_backward(dout, dc, hx, w_hh, cs, acts, tanh_cs, dz, dh, reverse, need_first_dh):
    """Backpropagation through time, in place. In: dout (T, B, H) the gradient of the outputs
    h_t, dc (B, H) the gradient of c_n, the forward's saved arrays, w_hh (G, H) = W_hh
    contiguous. Out: dz (T, B, G) the gradients of the pre-activations z_t, and in dh and dc
    (B, H) the gradients of h_0 and c_0 (dh only when ``need_first_dh``: the last product of
    the loop is skipped otherwise)."""
    T, B, G = acts.shape
    H = G // 4
    r = 1 if reverse else 0
    one = acts.dtype.type(1)
    dh[:] = 0
    for n in range(T):
        t = n if reverse else T - 1 - n  # the forward's steps in reverse order
        for b in range(B):  # one view per gate, as in lstm_forward, so that u vectorizes
            a, d = acts[t, b], dz[t, b]
            ai, af, ag, ao = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            di, df, dg, do = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
            dhb, dcb, dob = dh[b], dc[b], dout[t, b]
            tcb, cpb = tanh_cs[t, b], cs[t + r, b]
            for u in range(H):
                i, f, g, o = ai[u], af[u], ag[u], ao[u]
                tanh_c = tcb[u]
                dh_u = dhb[u] + dob[u]  # dh_t = dout_t + what step t + 1 sent back
                dc_u = dcb[u] + dh_u * o * (one - tanh_c * tanh_c)
                di[u] = dc_u * g * i * (one - i)  # dz_i
                df[u] = dc_u * cpb[u] * f * (one - f)  # dz_f
                dg[u] = dc_u * i * (one - g * g)  # dz_g
                do[u] = dh_u * tanh_c * o * (one - o)  # dz_o
                dcb[u] = dc_u * f  # dc_{t-1}
        if n < T - 1 or need_first_dh:
            gemm_nn_serial(dz[t], w_hh, dh)  # dh_{t-1} = dz_t W_hh: (B, G) @ (G, H)
