"""Optimizer updates compiled with Numba ``@njit`` (same signatures as ``reference.optim``).

Update rule: see ``reference/optim.py``. The reference spends ten array passes on one Adam
update, each reading or writing the whole parameter: memory-bound, ~140 us for the MLP's
128x784 float32 weight on one core of the 2-core development machine. The loop here reads p,
g, m, v once and writes p, m, v once: ~45 us (~62 GB/s; 1M elements: 1.6 ms vs 0.48 ms)::

    _adam_kernel       p, m, v [, max_v]  <- p, g, m, v [, max_v]  (max_v: AMSGrad)
    adam_step          the checked launcher: flat views of C-contiguous arrays, scalars cast
    adam_step_unchecked  the same without the check, for the optimizer (which has asked
                       fits_adam_kernel already)

Results are bitwise equal to the reference's, which takes three things:

- the same operations in the same order on every element (``m + (1 - beta1) * (g - m)``,
  ``sqrt(v) / bc2_sqrt + eps``, ...), and no ``fastmath`` (it would reassociate them or fuse
  multiply-adds);
- the scalars cast to the arrays' dtype before the call (one array of them), so float32
  arrays are updated in float32 arithmetic as NumPy does (NEP 50), and ``np.sqrt`` of a
  float32 stays float32 (``math.sqrt`` would round through float64);
- ``error_model="numpy"``: division by zero gives inf/NaN as in NumPy. Numba's default
  ("python") tests every divisor and raises ZeroDivisionError, and that branch keeps LLVM from
  vectorizing the loop (~8x slower). With it LLVM emits packed ``vsqrtps``/``vdivps``.

One thread: the update is memory-bound and the optimizer runs it once per parameter; compiled
once per dtype (float32, float64).
"""

import numpy as np
from numba import njit

from .. import FLOAT_DTYPES
from .._config import NUMBA_CACHE
from ..reference.optim import ADAM_ARRAY_NAMES, adam_arrays_problem, adam_scalars

# ---------------------------------------------------------------------------------------------
# compiled kernels: 1-d arrays of one dtype, scalars of that dtype
# ---------------------------------------------------------------------------------------------


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _adam_kernel(p, g, m, v, max_v, scalars):
    """m += (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2;  [v_max = max(v_max, v)];
    p -= step_size m / (sqrt(v or v_max) / bc2_sqrt + eps)   (element by element, in place).
    ``max_v`` None: plain Adam (Numba compiles the AMSGrad lines out for it). ``scalars``:
    (1 - beta1, beta2, 1 - beta2, step_size, bc2_sqrt, eps) in the arrays' dtype."""
    one_minus_beta1, beta2, one_minus_beta2 = scalars[0], scalars[1], scalars[2]
    step_size, bc2_sqrt, eps = scalars[3], scalars[4], scalars[5]
    for i in range(p.size):
        gi = g[i]
        mi = m[i] + one_minus_beta1 * (gi - m[i])
        vi = beta2 * v[i] + one_minus_beta2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if max_v is not None:  # AMSGrad: the running maximum (NaN wins, as in np.maximum)
            vi = np.maximum(max_v[i], vi)
            max_v[i] = vi
        p[i] -= (mi / (np.sqrt(vi) / bc2_sqrt + eps)) * step_size


# ---------------------------------------------------------------------------------------------
# launcher
# ---------------------------------------------------------------------------------------------


def fits_adam_kernel(p, g, m, v, max_v=None) -> bool:
    """Whether ``adam_step`` takes these arrays: NumPy arrays of p's shape and dtype, float32 or
    float64, C-contiguous, all but g writeable. The optimizer asks before calling the kernel
    (``adam_step_unchecked``), and runs the reference update where the answer is no."""
    dtype, shape = p.dtype, p.shape
    if dtype not in FLOAT_DTYPES:
        return False
    for a in (p, g, m, v) if max_v is None else (p, g, m, v, max_v):
        if a.__class__ is not np.ndarray or a.shape != shape or a.dtype != dtype:
            return False
        flags = a.flags  # a new flags object per read: read it once
        if not flags.c_contiguous or not (flags.writeable or a is g):
            return False
    return True


def _raise_misfit(arrays) -> None:
    """Raise the error that says why ``fits_adam_kernel`` refused these arrays."""
    for name, a in zip(ADAM_ARRAY_NAMES, arrays):
        if a.__class__ is not np.ndarray:
            raise TypeError(
                f"adam_step: {name} must be a NumPy array (the Numba kernel runs on the CPU; "
                f"reference.optim.adam_step also takes CuPy arrays), got {type(a).__name__}"
            )
    raise adam_arrays_problem(arrays)


def adam_step(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps, max_v=None):
    """One Adam update of ``p`` in place, ``m``, ``v`` (and ``max_v``: amsgrad) with it.

    ``m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  [v_max = max(v_max, v)];
    p -= step_size m / (sqrt(v or v_max) / bc2_sqrt + eps)``, bitwise equal to
    ``reference.optim.adam_step``. Arrays of any shape, one shape and one dtype (float32 or
    float64), C-contiguous; NumPy arrays only: anything else raises, naming the array.
    """
    if not fits_adam_kernel(p, g, m, v, max_v):
        _raise_misfit((p, g, m, v) if max_v is None else (p, g, m, v, max_v))
    adam_step_unchecked(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps, max_v)


def adam_step_unchecked(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps, max_v=None):
    """``adam_step`` for arrays that ``fits_adam_kernel`` has accepted, without asking again
    (about 1 us per parameter): for the optimizer, which asks it first to choose between this
    kernel and the reference. Arrays that do not fit would be updated wrongly or not at all."""
    # one small array instead of six scalars: Numba types each argument of every call
    # (about 0.1 us per scalar), and one conversion casts them all to p's dtype
    scalars = np.array(adam_scalars(beta1, beta2, step_size, bc2_sqrt, eps), dtype=p.dtype)
    # flat views (ravel copies nothing: the arrays are C-contiguous)
    _adam_kernel(p.ravel(), g.ravel(), m.ravel(), v.ravel(),
                 None if max_v is None else max_v.ravel(), scalars)
