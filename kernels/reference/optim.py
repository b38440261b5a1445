"""Optimizer updates in plain array code: the oracle for the ``cpu`` and ``cuda`` versions.

One function, Adam's update of one parameter after its gradient has been prepared (``maximize``
and weight decay are the optimizer's business, applied before)::

    m = beta1 * m + (1 - beta1) * g                  computed as  m += (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)                            only with amsgrad (``max_v`` given)
    p = p - step_size * m / (sqrt(v or v_max) / bc2_sqrt + eps)

with the bias corrections folded into the scalars as torch does: ``step_size = lr / (1 -
beta1**t)`` and ``bc2_sqrt = sqrt(1 - beta2**t)``. ``p``, ``m``, ``v`` (and ``max_v``) are
updated in place; nothing is returned.

The code is generic array code (``xp`` is NumPy or CuPy, whichever ``p`` belongs to), so the
optimizer also runs it on the GPU where it has no fused kernel (amsgrad). Every scalar is cast
to the arrays' dtype first: a float32 parameter is updated in float32 arithmetic throughout,
which is what NumPy does with Python floats anyway (NEP 50), and what the compiled versions do.
"""

import numpy as np

from .. import FLOAT_DTYPES


def array_module(a):
    """``numpy``, or ``cupy`` for a CuPy array (kernels/ does not import the backend)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # lazily: CuPy is optional

        return cupy
    return np


def as_dtype_scalars(dtype: np.dtype, *scalars):
    """The scalars as numbers of ``dtype`` (a float dtype; other dtypes leave them alone)."""
    if dtype.kind != "f":
        return scalars
    cast = dtype.type
    return [cast(s) for s in scalars]


def adam_scalars(beta1, beta2, step_size, bc2_sqrt, eps) -> tuple:
    """The six scalars of the update, in the order every ``adam_step`` uses them (the compiled
    kernels take them as one array of the parameters' dtype, in this order):
    (1 - beta1, beta2, 1 - beta2, step_size, bc2_sqrt, eps)."""
    return 1 - beta1, beta2, 1 - beta2, step_size, bc2_sqrt, eps


ADAM_ARRAY_NAMES = ("p", "g", "m", "v", "max_v")  # adam_step's array arguments, in order


def adam_arrays_problem(arrays) -> Exception | None:
    """Why a compiled ``adam_step`` (cpu, cuda) cannot take ``arrays`` (p, g, m, v[, max_v]),
    or None: they must share one float32 or float64 dtype and one shape, be C-contiguous (the
    kernels walk flat memory) and, but for g, writeable (they are updated in place)."""
    named = dict(zip(ADAM_ARRAY_NAMES, arrays))
    dtypes = ", ".join(f"{name} {a.dtype}" for name, a in named.items())
    if named["p"].dtype not in FLOAT_DTYPES or len({a.dtype for a in arrays}) > 1:
        return TypeError(f"adam_step: expected arrays that are all float32 or all float64, "
                         f"got {dtypes}")
    shapes = ", ".join(f"{name} {a.shape}" for name, a in named.items())
    if len({a.shape for a in arrays}) > 1:
        return ValueError(f"adam_step: expected arrays of one shape, got {shapes}")
    for name, a in named.items():
        if not a.flags.c_contiguous:
            return ValueError(
                f"adam_step: {name} must be C-contiguous (the kernel walks flat memory and "
                f"updates p, m, v in place), got shape {a.shape} with strides {a.strides}"
            )
        if name != "g" and not getattr(a.flags, "writeable", True):  # (CuPy has no such flag)
            return ValueError(f"adam_step: {name} is updated in place but is read-only "
                              f"(shape {a.shape}, {a.dtype})")
    return None


def adam_step(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps, max_v=None):
    """One Adam update of ``p`` in place (see the module docstring for the rule).

    Ten in-place array operations on one temporary ``buf`` of p's size: written as
    ``p -= step_size * m / (sqrt(v) / bc2_sqrt + eps)`` the update would allocate nine arrays,
    which costs more than the arithmetic (memory traffic, page faults).

    >>> p, g = np.ones(2, np.float32), np.array([0.5, -2.0], np.float32)
    >>> m, v = np.zeros(2, np.float32), np.zeros(2, np.float32)
    >>> adam_step(p, g, m, v, 0.9, 0.999, 0.1 / (1 - 0.9), (1 - 0.999) ** 0.5, 1e-8)
    >>> p.round(6)  # the first step moves every coordinate by lr = 0.1 against the sign of g
    array([0.9, 1.1], dtype=float32)
    """
    xp = array_module(p)
    one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps = as_dtype_scalars(
        p.dtype, *adam_scalars(beta1, beta2, step_size, bc2_sqrt, eps))

    # (not ``buf = xp.subtract(g, m)``: with 0-d arrays that would be a scalar, not a buffer)
    buf = xp.empty(m.shape, dtype=np.result_type(g.dtype, m.dtype))
    xp.subtract(g, m, out=buf)
    buf *= one_minus_beta1
    m += buf                                          # m += (1 - beta1) (g - m)
    xp.multiply(g, g, out=buf)
    buf *= one_minus_beta2
    v *= beta2
    v += buf                                          # v = beta2 v + (1 - beta2) g^2

    if max_v is not None:
        xp.maximum(max_v, v, out=max_v)               # amsgrad: v_max = max(v_max, v)
        second_moment = max_v
    else:
        second_moment = v
    denom = xp.sqrt(second_moment, out=buf)
    denom /= bc2_sqrt
    denom += eps                                      # sqrt(v_hat) + eps
    update = xp.divide(m, denom, out=buf)
    update *= step_size
    p -= update                                       # p -= step_size m / (sqrt(v_hat) + eps)
