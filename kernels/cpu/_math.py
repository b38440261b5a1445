"""Scalar math for ``@njit`` loops that LLVM can vectorize (libm's functions are called one
element at a time: in a loop they cost more than everything around them)."""

import math

import numpy as np
from numba import njit
from numba.extending import overload

from .._config import NUMBA_CACHE

# The fastmath flags of every CPU kernel: all but 'nnan' and 'ninf', so that NaN and +-inf in
# the input come out as in NumPy (a NaN stays NaN; attention's masked scores are -inf and must
# stay -inf)
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}

LOG2E = np.float32(1.4426950408889634)  # 1 / ln 2
LN2_HI = np.float32(0.693359375)  # ln 2 split in two so that k * LN2_HI is exact
LN2_LO = np.float32(-2.12194440e-4)
EXP_MIN = np.float32(-87.0)  # below this exp(x) < 2^-125: flushed to 0 (and -inf -> 0)
EXP_MAX = np.float32(88.0)  # above this float32 overflows


@njit(fastmath=FAST, cache=NUMBA_CACHE)
def _exp_f32(x):
    """exp(x) for a float32 scalar, written so that a loop of it vectorizes (Cephes expf).

    x = k ln2 + r with |r| <= ln2 / 2;  exp(x) = 2^k * exp(r);  exp(r) by a degree-7
    polynomial; 2^k is added straight into the exponent bits. Relative error ~2 ulp.
    """
    xc = min(max(x, EXP_MIN), EXP_MAX)
    kf = np.floor(xc * LOG2E + np.float32(0.5))
    r = xc - kf * LN2_HI - kf * LN2_LO
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1.0)  # exp(r)
    bits = np.int32(np.float32(p).view(np.int32) + (np.int32(kf) << np.int32(23)))  # * 2^k
    y = np.int32(bits).view(np.float32)
    return y if x >= EXP_MIN else np.float32(0.0)


def _exp_sub_sum(row, m):
    """In place ``row[j] = exp(row[j] - m)``; returns ``sum_j row[j]`` (dispatch by dtype)."""
    raise NotImplementedError("only callable from @njit code")


@overload(_exp_sub_sum, jit_options={"fastmath": FAST})
def _exp_sub_sum_impl(row, m):
    if row.dtype.bitwidth == 32:

        def impl_f32(row, m):
            total = np.float32(0.0)
            for j in range(row.shape[0]):
                y = _exp_f32(row[j] - m)
                row[j] = y
                total += y
            return total

        return impl_f32

    def impl_f64(row, m):
        total = 0.0
        for j in range(row.shape[0]):
            y = math.exp(row[j] - m)
            row[j] = y
            total += y
        return total

    return impl_f64
