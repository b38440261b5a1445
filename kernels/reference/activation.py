"""Activations in plain array code: the oracle for the ``cpu`` and ``cuda`` versions.

ReLU and leaky ReLU, forward and backward, with torch's rules (slope a = ``negative_slope``),
and the forward of the logistic sigmoid and of erf::

    relu_forward(x)               y  = max(x, 0)                 NaN stays NaN
    relu_backward(x, dy)          dx = 0 where x <= 0, else dy   (torch's threshold_backward:
                                                                  a NaN input passes dy on)
    leaky_relu_forward(x, a)      y  = x where x > 0, else a x
    leaky_relu_backward(x, dy, a) dx = dy where x > 0, else a dy
    sigmoid_forward(x)            y  = 1 / (1 + e^-x), as r = 1 / (1 + e) for x >= 0 and e r
                                       for x < 0, with e = e^-|x| (never overflows; e r keeps
                                       the tiny values of large negative x, which 1 - r loses)
    erf_forward(x)                y  = erf(x) = 2/sqrt(pi) int_0^x e^(-s^2) ds  (GELU's)
    gelu_forward(x)               y  = x Phi(x) = x/2 (1 + erf(x / sqrt 2)) (exact GELU), and
                                       Phi(x) itself, for the backward
    gelu_backward(x, cdf, dy)     dx = dy (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)

Each returns a new C-contiguous array of x's shape and dtype. A selection, not a product with
a 0/1 mask: ``dy * (x > 0)`` would turn an infinite gradient of an inactive unit into NaN
(inf * 0), where torch gives 0.

Why compiled versions of something this simple: in NumPy 2.4, ``np.maximum(x, 0)`` takes a
scalar loop (4x the time of ``x * 2`` on a LeNet activation) and ``np.where`` with a mask that
is not sorted mispredicts a branch on every other element (15x). The compiled loops are one
vectorized pass over x (and dy). The code here is generic array code (NumPy or CuPy, whichever
x belongs to). ``sigmoid_forward`` and ``erf_forward`` are the Sigmoid and Erf ops' own code on
CuPy arrays, float16 and under the reference setting (``erf_forward`` is SciPy's erf, or
CuPy's); the ReLU ops write their one-line formulas themselves there, as they also take float16
and, in ReLU's forward, integers.
"""

import math

import numpy as np

from .. import FLOAT_DTYPES
from .optim import array_module

# GELU's constants as the compiled kernels (cpu, cuda) use them, correctly rounded
INV_SQRT2 = 0.7071067811865476  # 1 / sqrt(2) (1 / math.sqrt(2) is one ulp below)
INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


def check_activation_args(op, x, dy=None, any_float=False):
    """x (and dy) float32/float64 arrays (any float dtype with ``any_float``); dy of x's shape
    and dtype."""
    for name, a in (("x", x), ("dy", dy)):
        if a is None:
            continue
        if not hasattr(a, "dtype") or not hasattr(a, "shape"):
            raise TypeError(f"{op}: {name} must be an array, got {type(a).__name__}")
        if not (a.dtype.kind == "f" if any_float else a.dtype in FLOAT_DTYPES):
            expected = "floating point" if any_float else "float32 or float64"
            raise TypeError(f"{op}: {name} must be {expected}, got {a.dtype}")
    if dy is not None and (dy.shape != x.shape or dy.dtype != x.dtype):
        raise ValueError(f"{op}: dy must have x's shape and dtype {x.shape} {x.dtype}, got "
                         f"{dy.shape} {dy.dtype}")


def relu_forward(x):
    """y = max(x, 0)."""
    check_activation_args("relu_forward", x)
    return array_module(x).maximum(x, 0)


def relu_backward(x, dy):
    """dx = 0 where x <= 0, else dy."""
    check_activation_args("relu_backward", x, dy)
    return array_module(x).where(x <= 0, 0, dy).astype(x.dtype, copy=False)


def leaky_relu_forward(x, negative_slope):
    """y = x where x > 0, else negative_slope * x."""
    check_activation_args("leaky_relu_forward", x)
    slope = x.dtype.type(negative_slope)  # a float32 x is scaled in float32
    return array_module(x).where(x > 0, x, x * slope)


def leaky_relu_backward(x, dy, negative_slope):
    """dx = dy where x > 0, else negative_slope * dy."""
    check_activation_args("leaky_relu_backward", x, dy)
    slope = x.dtype.type(negative_slope)
    return array_module(x).where(x > 0, dy, dy * slope)


def sigmoid_forward(x):
    """y = 1 / (1 + e^-x) in the stable form for both signs, in place: four arrays, not nine."""
    check_activation_args("sigmoid_forward", x, any_float=True)
    xp = array_module(x)
    e = xp.abs(x, out=xp.empty_like(x))
    xp.negative(e, out=e)
    xp.exp(e, out=e)  # e = e^-|x|
    r = xp.add(e, 1, out=xp.empty_like(x))
    xp.reciprocal(r, out=r)  # 1 / (1 + e)
    e *= r  # e / (1 + e)
    return xp.where(x >= 0, r, e)


def erf_forward(x):
    """y = erf(x): ``scipy.special.erf`` (``cupyx.scipy.special.erf`` on CuPy), in x's dtype."""
    check_activation_args("erf_forward", x, any_float=True)
    return _erf_function(x)(x).astype(x.dtype, copy=False)


def _erf_function(x):
    if array_module(x) is np:
        from scipy.special import erf
    else:
        from cupyx.scipy.special import erf
    return erf


def gelu_forward(x):
    """(y, cdf): y = GELU(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), and cdf = Phi(x), the
    standard normal CDF, which the backward reuses; in x's dtype (SciPy's erf; CuPy's on CuPy
    arrays)."""
    check_activation_args("gelu_forward", x, any_float=True)
    t = x.dtype.type
    cdf = (t(0.5) * (1 + _erf_function(x)(x * t(1 / math.sqrt(2))))).astype(x.dtype, copy=False)
    return x * cdf, cdf


def gelu_backward(x, cdf, dy):
    """dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi): GELU's derivative,
    with cdf = Phi(x) from the forward."""
    check_activation_args("gelu_backward", x, dy, any_float=True)
    xp = array_module(x)
    t = x.dtype.type
    pdf = xp.exp(t(-0.5) * x * x) * t(INV_SQRT_2PI)
    return (dy * (cdf + x * pdf)).astype(x.dtype, copy=False)
