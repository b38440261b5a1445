"""ReLU, leaky ReLU, the sigmoid, erf and GELU as Numba ``@cuda.jit`` kernels (same signatures
as ``reference.activation``).

Rules: see ``reference/activation.py``. Four kernels, one thread per element of the flat
C-contiguous arrays; thread i reads x[i] (and dy[i]) once and writes the result once::

    relu_forward_kernel1        y  = 0 where x <= 0, else x     (NaN stays, -0.0 gives 0.0:
                                                                 np.maximum(x, 0)'s results)
    relu_backward_kernel1       dx = 0 where x <= 0, else dy    (a NaN x passes dy on)
    leaky_forward_kernel1       y  = x where x > 0, else a x
    leaky_backward_kernel1      dx = dy where x > 0, else a dy
    sigmoid_forward_kernel1     y  = r where x >= 0, else e r,  r = 1 / (1 + e),  e = e^-|x|
    erf_forward_kernel1         y  = erf(x)  (CUDA's erff / erf, within a few ulp)
    gelu_forward_kernel1        y  = x Phi(x),  cdf = Phi(x) = (1 + erf(x / sqrt 2)) / 2
    gelu_backward_kernel1       dx = dy (cdf + x phi(x))

The comparisons are ordered (false for a NaN), as NumPy's and the ``cpu`` module's, and the
selection is a ``selp`` in the PTX, not a product with a 0/1 mask. Results are bitwise equal to
the reference's: the same one multiply (or none) per element, in the arrays' dtype (the
sigmoid's ``math.exp`` is CUDA's, which may differ from NumPy's in the last bit). The zero is
``x.dtype.type(0)`` and the slope arrives as a scalar of the arrays' dtype (cast on the host,
as the reference casts it), so a float32 kernel never computes in float64 (a literal ``0.0``
would promote the comparison to double).

The ReLU and leaky ReLU ops themselves call CuPy's own elementwise code on the GPU; these
kernels are the Numba version, for study and for ``benchmarks/bench_kernels.py`` (not yet run
on a GPU).

Launchers accept CuPy arrays (the result stays on the device as a CuPy array) or NumPy arrays
(copied to the device and the result copied back as NumPy: what the simulator tests use). Each
returns a new C-contiguous array of x's shape and dtype; inputs that are not C-contiguous are
copied first.
"""

import math

import numpy as np
from numba import cuda

from ..reference.activation import INV_SQRT2, INV_SQRT_2PI, check_activation_args
from ._launch import _both_dtypes, _empty, _launch, _on_gpu, _to_caller, _to_device

# ---------------------------------------------------------------------------------------------
# kernels: flat 1-d arrays of one dtype, one thread per element
# ---------------------------------------------------------------------------------------------


@cuda.jit
def relu_forward_kernel1(x, y):
    """y[i] = 0 where x[i] <= 0, else x[i]: np.maximum(x, 0)'s results, NaN stays NaN and -0.0
    gives 0.0."""
    i = cuda.grid(1)
    if i >= x.size:
        return  # the last block's spare threads
    zero = x.dtype.type(0)  # of x's dtype: a float32 kernel stays float32
    v = x[i]
    y[i] = zero if v <= zero else v


@cuda.jit
def relu_backward_kernel1(x, dy, dx):
    """dx[i] = 0 where x[i] <= 0, else dy[i] (a NaN x passes dy on)."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    zero = x.dtype.type(0)
    dx[i] = zero if x[i] <= zero else dy[i]


@cuda.jit
def leaky_forward_kernel1(x, slope, y):
    """y[i] = x[i] where x[i] > 0, else slope * x[i] (``slope``: a scalar of x's dtype)."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    zero = x.dtype.type(0)
    v = x[i]
    y[i] = v if v > zero else v * slope


@cuda.jit
def leaky_backward_kernel1(x, dy, slope, dx):
    """dx[i] = dy[i] where x[i] > 0, else slope * dy[i]."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    zero = x.dtype.type(0)
    g = dy[i]
    dx[i] = g if x[i] > zero else g * slope


@cuda.jit
def sigmoid_forward_kernel1(x, y):
    """y[i] = r where x[i] >= 0, else e r, with e = e^-|x[i]| and r = 1 / (1 + e)."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    zero, one = x.dtype.type(0), x.dtype.type(1)
    v = x[i]
    e = math.exp(-abs(v))  # of v's dtype: expf for float32
    r = one / (one + e)
    y[i] = r if v >= zero else e * r


@cuda.jit
def erf_forward_kernel1(x, y):
    """y[i] = erf(x[i]) (``math.erf`` of x's dtype: erff for float32)."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    y[i] = math.erf(x[i])


@cuda.jit
def gelu_forward_kernel1(x, y, cdf):
    """cdf[i] = Phi(x) = (1 + erf(x / sqrt 2)) / 2 and y[i] = x Phi(x), in x's dtype."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    t = x.dtype.type
    v = x[i]
    phi = t(0.5) * (t(1) + math.erf(v * t(INV_SQRT2)))
    cdf[i] = phi
    y[i] = v * phi


@cuda.jit
def gelu_backward_kernel1(x, cdf, dy, dx):
    """dx[i] = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi), in x's dtype."""
    i = cuda.grid(1)
    if i >= x.size:
        return
    t = x.dtype.type
    v = x[i]
    pdf = math.exp(t(-0.5) * v * v) * t(INV_SQRT_2PI)
    dx[i] = dy[i] * (cdf[i] + v * pdf)


_V1 = "{t}[::1]"  # a flat C-contiguous array of the dtype
PTX_SIGNATURES = {
    "relu_forward_kernel1": _both_dtypes(f"void({_V1}, {_V1})"),
    "relu_backward_kernel1": _both_dtypes(f"void({_V1}, {_V1}, {_V1})"),
    "leaky_forward_kernel1": _both_dtypes(f"void({_V1}, {{t}}, {_V1})"),
    "leaky_backward_kernel1": _both_dtypes(f"void({_V1}, {_V1}, {{t}}, {_V1})"),
    "sigmoid_forward_kernel1": _both_dtypes(f"void({_V1}, {_V1})"),
    "erf_forward_kernel1": _both_dtypes(f"void({_V1}, {_V1})"),
    "gelu_forward_kernel1": _both_dtypes(f"void({_V1}, {_V1}, {_V1})"),
    "gelu_backward_kernel1": _both_dtypes(f"void({_V1}, {_V1}, {_V1}, {_V1})"),
}

# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _flat(op, x, dy=None):
    """Checked flat C-contiguous device arrays of x (and dy), the flat empty result, and
    whether the caller's arrays live on the GPU."""
    check_activation_args(op, x, dy)
    for name, a in (("x", x), ("dy", dy)):
        if a is not None and not (isinstance(a, np.ndarray) or _on_gpu(a)):
            raise TypeError(f"{op}: {name} must be a CuPy or NumPy array, got "
                            f"{type(a).__name__}")
    on_gpu = _on_gpu(x) if dy is None else _on_gpu(x, dy)
    flat_x = _to_device(x.reshape(-1), on_gpu)  # a view of a contiguous array, else a copy
    flat_dy = None if dy is None else _to_device(dy.reshape(-1), on_gpu)
    return flat_x, flat_dy, _empty((x.size,), x.dtype, on_gpu), on_gpu


def relu_forward(x):
    """y = max(x, 0): ``reference.activation.relu_forward``, bitwise."""
    flat_x, _, y, on_gpu = _flat("relu_forward", x)
    _launch(relu_forward_kernel1, x.size, flat_x, y)
    return _to_caller(y, on_gpu).reshape(x.shape)


def relu_backward(x, dy):
    """dx = 0 where x <= 0, else dy: ``reference.activation.relu_backward``, bitwise."""
    flat_x, flat_dy, dx, on_gpu = _flat("relu_backward", x, dy)
    _launch(relu_backward_kernel1, x.size, flat_x, flat_dy, dx)
    return _to_caller(dx, on_gpu).reshape(x.shape)


def leaky_relu_forward(x, negative_slope):
    """y = x where x > 0, else negative_slope * x: ``reference.activation``'s, bitwise."""
    flat_x, _, y, on_gpu = _flat("leaky_relu_forward", x)
    slope = x.dtype.type(negative_slope)  # a float32 x is scaled in float32
    _launch(leaky_forward_kernel1, x.size, flat_x, slope, y)
    return _to_caller(y, on_gpu).reshape(x.shape)


def leaky_relu_backward(x, dy, negative_slope):
    """dx = dy where x > 0, else negative_slope * dy: ``reference.activation``'s, bitwise."""
    flat_x, flat_dy, dx, on_gpu = _flat("leaky_relu_backward", x, dy)
    slope = x.dtype.type(negative_slope)
    _launch(leaky_backward_kernel1, x.size, flat_x, flat_dy, slope, dx)
    return _to_caller(dx, on_gpu).reshape(x.shape)


def sigmoid_forward(x):
    """y = 1 / (1 + e^-x): ``reference.activation.sigmoid_forward`` (to the last bit of exp)."""
    flat_x, _, y, on_gpu = _flat("sigmoid_forward", x)
    _launch(sigmoid_forward_kernel1, x.size, flat_x, y)
    return _to_caller(y, on_gpu).reshape(x.shape)


def erf_forward(x):
    """y = erf(x): ``reference.activation.erf_forward`` (SciPy's) to a few ulp."""
    flat_x, _, y, on_gpu = _flat("erf_forward", x)
    _launch(erf_forward_kernel1, x.size, flat_x, y)
    return _to_caller(y, on_gpu).reshape(x.shape)


def gelu_forward(x):
    """(y, cdf): ``reference.activation.gelu_forward`` to a few ulp."""
    flat_x, _, y, on_gpu = _flat("gelu_forward", x)
    cdf = _empty((x.size,), x.dtype, on_gpu)
    _launch(gelu_forward_kernel1, x.size, flat_x, y, cdf)
    return _to_caller(y, on_gpu).reshape(x.shape), _to_caller(cdf, on_gpu).reshape(x.shape)


def gelu_backward(x, cdf, dy):
    """dx = dy (Phi(x) + x phi(x)): ``reference.activation.gelu_backward`` to a few ulp."""
    flat_x, flat_dy, dx, on_gpu = _flat("gelu_backward", x, dy)
    if getattr(cdf, "shape", None) != x.shape or getattr(cdf, "dtype", None) != x.dtype:
        raise ValueError(f"gelu_backward: cdf must have x's shape and dtype {x.shape} "
                         f"{x.dtype}, got {getattr(cdf, 'shape', type(cdf).__name__)} "
                         f"{getattr(cdf, 'dtype', '')}")
    flat_cdf = _flat("gelu_backward", cdf)[0]
    _launch(gelu_backward_kernel1, x.size, flat_x, flat_cdf, flat_dy, dx)
    return _to_caller(dx, on_gpu).reshape(x.shape)
