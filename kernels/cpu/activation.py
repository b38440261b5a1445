"""ReLU, leaky ReLU, the sigmoid, erf and GELU compiled with Numba ``@njit`` (same signatures
as ``reference.activation``).

Rules: see ``reference/activation.py``. One loop per function over the flat arrays, reading x
(and dy) once and writing the result once; the selection is a compare and a blend, which LLVM
turns into packed code (no branch per element, so no mispredictions whatever the signs)::

    _relu_forward_kernel        y  = 0 where x <= 0, else x      (NaN stays, as in np.maximum)
    _relu_backward_kernel       dx = 0 where x <= 0, else dy
    _leaky_forward_kernel       y  = x where x > 0, else a x
    _leaky_backward_kernel      dx = dy where x > 0, else a dy
    _sigmoid_blend_kernel       y  = r where x >= 0, else e r,  r = 1 / (1 + e)

``sigmoid_forward`` takes e = e^-|x| from NumPy (its exp is a SIMD loop; Numba's, without
Intel's SVML, calls libm once per element, 6x slower) and blends in one Numba pass instead of
``np.where``: 180 us against 1,330 on LeNet's first activation.

Results are bitwise equal to the reference's: the same one multiply (or none) per element, in
the arrays' dtype (the slope is cast to it first). Measured on one core of the 2-core
development machine (Zen 5), float32 (64, 6, 28, 28), LeNet-5's first activation: ReLU forward
24 us against NumPy's 94, backward 35 against 71 for ``dy * (x > 0)`` and 1,100 for the
``np.where`` of the reference; leaky ReLU forward 25 against 1,200.

``erf_forward`` for float32: a polynomial in float64 arithmetic, rounded once to float32 (float64
arrays go to the reference, SciPy's erf: the polynomial is fitted for float32's precision)::

    |x| <= 2:      erf(x) = x P(x^2)                P: ``ERF_SMALL``, degree 11
    2 < |x| <= 4:  erf(x) = sign(x) (1 - R(|x| - 3))   R ~ erfc: ``ERF_TAIL``, degree 13
    |x| > 4:       as at 4, which rounds to +-1 in float32 (erf(4) = 1 - 1.5e-8)

``fit_erf_coefficients`` makes both (Chebyshev least-squares fits on 40,001 points, turned
into power series: P to 1.8e-10 relative, R to 7e-10 absolute). Against SciPy's float64 erf
the float32 results are within 0.503 ulp on a grid of 4 million points in [-4.5, 4.5] and on
tiny |x| down to 1e-38, as SciPy's own float32 erf (0.5); 1.3 ms per million against SciPy's
14 (LLVM vectorizes both polynomials; each element takes the one that applies).

``gelu_forward`` and ``gelu_backward`` for float32: one pass each. The forward computes
GELU(x) = x Phi(x) with the same polynomials in float64 (Phi from erf near 0 and from the erfc
tail beyond, so large negative x keep their tiny values instead of 1 + erf's cancellation),
rounded once, and hands Phi(x) to the backward, which then needs only the density's
e^(-x^2/2) (the vectorizable float32 exp of ``_math.py``). The GELU op's composite takes five
array passes forward and about ten backward.

One thread: the loops are memory-bound, and the ops call them once per activation; compiled
once per dtype (float32, float64). Inputs that are not C-contiguous are copied first (the
result is always C-contiguous).
"""

import numpy as np
from numba import njit

from .._config import NUMBA_CACHE
from ..reference import activation as reference
from ..reference.activation import INV_SQRT2, INV_SQRT_2PI, check_activation_args
from ._math import FAST, _exp_f32

# ---------------------------------------------------------------------------------------------
# compiled kernels: flat 1-d arrays of one dtype
# ---------------------------------------------------------------------------------------------


@njit(cache=NUMBA_CACHE)
def _relu_forward_kernel(x, y):
    """y = 0 where x <= 0, else x: np.maximum(x, 0)'s results, NaN stays NaN and -0.0 gives
    0.0."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        y[i] = zero if v <= zero else v


@njit(cache=NUMBA_CACHE)
def _relu_backward_kernel(x, dy, dx):
    """dx = 0 where x <= 0, else dy."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        dx[i] = zero if x[i] <= zero else dy[i]


@njit(cache=NUMBA_CACHE)
def _leaky_forward_kernel(x, slope, y):
    """y = x where x > 0, else slope * x (``slope``: x's dtype)."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        y[i] = v if v > zero else v * slope


@njit(cache=NUMBA_CACHE)
def _leaky_backward_kernel(x, dy, slope, dx):
    """dx = dy where x > 0, else slope * dy."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        g = dy[i]
        dx[i] = g if x[i] > zero else g * slope


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _sigmoid_blend_kernel(x, e, y):
    """y = r where x >= 0, else e * r, with r = 1 / (1 + e) and e = e^-|x| given. The
    division is NumPy's reciprocal, correctly rounded; error_model="numpy" lets LLVM emit it
    packed (Numba's default tests every divisor for zero)."""
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(x.size):
        ei = e[i]
        r = one / (one + ei)
        y[i] = r if x[i] >= zero else ei * r


# erf(x) = x P(x^2) for |x| <= 2, and 1 - R(|x| - 3) for 2 < |x| <= 4 (see the module
# docstring and fit_erf_coefficients); coefficients from the constant term up
ERF_SMALL = (
    1.1283791669893046, -0.3761263848316077, 0.11283787563975752, -0.026865996259954953,
    0.005223576038541681, -0.0008542702813757763, 0.00012004204112979801,
    -1.4612492049637346e-05, 1.5145660196923632e-06, -1.2551188268743872e-07,
    7.2386703274983525e-09, -2.1106743266915837e-10,
)
ERF_TAIL = (
    2.209053509440455e-05, -0.00013925312302192944, 0.0004177551496053378,
    -0.0007890977771467958, 0.0010444661280548584, -0.0010165802515395492,
    0.0007376079154703568, -0.00039040345241906727, 0.00013608113073892487,
    -1.4349578481364933e-05, -1.7624568265087895e-05, 1.1426544540926948e-05,
    -1.5012704598579739e-06, -6.021230147368473e-07,
)


def fit_erf_coefficients() -> tuple[tuple, tuple]:
    """(ERF_SMALL, ERF_TAIL) fitted again: Chebyshev least squares of erf(x)/x in t = x^2 on
    [0, 4] (degree 11) and of erfc(x) in s = x - 3 on [-1, 1] (degree 13), as power series.
    (A test checks the constants above against this.)"""
    from numpy.polynomial import chebyshev, polynomial
    from scipy.special import erf, erfc

    t = np.linspace(0, 4, 40001)
    x = np.sqrt(t)
    ratio = np.where(t == 0, 2 / np.sqrt(np.pi), erf(x) / np.where(x == 0, 1, x))
    small = chebyshev.Chebyshev.fit(t, ratio, 11, domain=[0, 4])
    tail_x = np.linspace(2, 4, 40001)
    tail = chebyshev.Chebyshev.fit(tail_x - 3, erfc(tail_x), 13, domain=[-1, 1])
    return tuple(tuple(float(c) for c in fit.convert(kind=polynomial.Polynomial).coef)
                 for fit in (small, tail))


@njit(cache=NUMBA_CACHE, inline="always")
def _horner(z, coefficients):
    """c0 + c1 z + c2 z^2 + ...; the tuple is a compile-time constant, so this unrolls."""
    total = coefficients[len(coefficients) - 1]
    for k in range(len(coefficients) - 2, -1, -1):
        total = total * z + coefficients[k]
    return total


@njit(error_model="numpy", cache=NUMBA_CACHE, inline="always")
def _erf64(v):
    """erf(v) to float32's precision, for a float64 v: x P(x^2) near 0 (keeps the sign of
    -0.0), sign(x) (1 - R(|x| - 3)) beyond 2, |x| clamped at 4; NaN stays NaN."""
    a = min(abs(v), 4.0)
    small = v * _horner(v * v, ERF_SMALL)
    tail = 1.0 - _horner(a - 3.0, ERF_TAIL)
    r = small if a <= 2.0 else (tail if v > 0 else -tail)
    return r if v == v else v


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _erf_float32_kernel(x, y):
    """y = erf(x) for float32 x, computed in float64 and rounded once."""
    for i in range(x.size):
        y[i] = _erf64(np.float64(x[i]))


INV_SQRT_PI = 0.5641895835477563  # 1 / sqrt(pi)


@njit(error_model="numpy", cache=NUMBA_CACHE, inline="always")
def _phi64(v):
    """Phi(v) = (1 + erf(v / sqrt 2)) / 2, the standard normal CDF, for a float64 v, without
    the cancellation of 1 + erf for negative v: beyond |z| = 2 (z = v / sqrt 2) it is
    erfc(|z|) / 2 or 1 - erfc(|z|) / 2 straight from the tail polynomial R (erfc on [2, 4],
    7e-10 absolute), and from erfc's asymptotic series beyond |z| = 4. (1 + erf(z) would lose
    everything below erf's float32 rounding, 6e-8, where GELU(x) = x Phi(x) is that small.)"""
    z = v * INV_SQRT2
    a = abs(z)
    near = 0.5 + 0.5 * (z * _horner(z * z, ERF_SMALL))
    # erfc(a) / 2: the tail polynomial on [2, 4]; beyond 4 the asymptotic series
    # e^(-a^2) / (a sqrt(pi)) (1 - 1/(2a^2) + 3/(4a^4) - 15/(8a^6)), 1e-4 relative at a = 4
    inv2 = 1.0 / (a * a)
    series = 1.0 - inv2 * (0.5 - inv2 * (0.75 - 1.875 * inv2))
    asymptotic = np.float64(_exp_f32(np.float32(-a * a))) * INV_SQRT_PI / a * series
    half_erfc = 0.5 * (_horner(a - 3.0, ERF_TAIL) if a <= 4.0 else asymptotic)
    far = 1.0 - half_erfc if z > 0 else half_erfc
    phi = near if a <= 2.0 else far
    return phi if v == v else v


@njit(error_model="numpy", cache=NUMBA_CACHE)
def _gelu_float32_kernel(x, y, cdf):
    """y = x Phi(x) and cdf = Phi(x) for float32 x, computed in float64, each rounded once."""
    for i in range(x.size):
        v = np.float64(x[i])
        phi = _phi64(v)
        cdf[i] = phi
        y[i] = v * phi


@njit(fastmath=FAST, error_model="numpy", cache=NUMBA_CACHE)
def _gelu_backward_float32_kernel(x, cdf, dy, dx):
    """dx = dy (Phi(x) + x phi(x)) for float32 x with Phi(x) from the forward: the density
    phi(x) = exp(-x^2 / 2) / sqrt(2 pi) from the vectorizable float32 exp (``_math``)."""
    for i in range(x.size):
        v = x[i]
        pdf = _exp_f32(np.float32(-0.5) * v * v) * np.float32(INV_SQRT_2PI)
        dx[i] = dy[i] * (cdf[i] + v * pdf)


# ---------------------------------------------------------------------------------------------
# launchers (public API)
# ---------------------------------------------------------------------------------------------


def _flat(op, x, dy=None):
    """Checked flat C-contiguous views (copies where needed) and the empty result."""
    check_activation_args(op, x, dy)
    if x.__class__ is not np.ndarray or (dy is not None and dy.__class__ is not np.ndarray):
        raise TypeError(f"{op}: the Numba kernel takes NumPy arrays (reference.activation also "
                        f"takes CuPy arrays), got {type(x).__name__}"
                        + ("" if dy is None else f" and {type(dy).__name__}"))
    out = np.empty(x.shape, dtype=x.dtype)
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_dy = None if dy is None else np.ascontiguousarray(dy).reshape(-1)
    return flat_x, flat_dy, out


def relu_forward(x):
    """y = max(x, 0): ``reference.activation.relu_forward``, bitwise."""
    flat_x, _, y = _flat("relu_forward", x)
    _relu_forward_kernel(flat_x, y.reshape(-1))
    return y


def relu_backward(x, dy):
    """dx = 0 where x <= 0, else dy: ``reference.activation.relu_backward``, bitwise."""
    flat_x, flat_dy, dx = _flat("relu_backward", x, dy)
    _relu_backward_kernel(flat_x, flat_dy, dx.reshape(-1))
    return dx


def leaky_relu_forward(x, negative_slope):
    """y = x where x > 0, else negative_slope * x: ``reference.activation``'s, bitwise."""
    flat_x, _, y = _flat("leaky_relu_forward", x)
    _leaky_forward_kernel(flat_x, x.dtype.type(negative_slope), y.reshape(-1))
    return y


def leaky_relu_backward(x, dy, negative_slope):
    """dx = dy where x > 0, else negative_slope * dy: ``reference.activation``'s, bitwise."""
    flat_x, flat_dy, dx = _flat("leaky_relu_backward", x, dy)
    _leaky_backward_kernel(flat_x, flat_dy, x.dtype.type(negative_slope), dx.reshape(-1))
    return dx


def sigmoid_forward(x):
    """y = 1 / (1 + e^-x): ``reference.activation.sigmoid_forward``, bitwise (the same NumPy
    exp, the same reciprocal and product)."""
    flat_x, _, y = _flat("sigmoid_forward", x)
    e = np.abs(flat_x)
    np.negative(e, out=e)
    np.exp(e, out=e)  # e^-|x|
    _sigmoid_blend_kernel(flat_x, e, y.reshape(-1))
    return y


def erf_forward(x):
    """y = erf(x): the float32 polynomial above (within 0.503 ulp of the exact value); float64
    x goes to ``reference.activation.erf_forward`` (SciPy), before any copy or allocation."""
    if x.__class__ is np.ndarray and x.dtype == np.float64:
        return reference.erf_forward(x)
    flat_x, _, y = _flat("erf_forward", x)
    _erf_float32_kernel(flat_x, y.reshape(-1))
    return y


def gelu_forward(x):
    """(y, cdf): y = GELU(x) = x Phi(x) and cdf = Phi(x) (for the backward). For float32 one
    pass, in float64 with the polynomials above, rounded once; float64 x goes to
    ``reference.activation.gelu_forward``."""
    if x.__class__ is np.ndarray and x.dtype == np.float64:
        return reference.gelu_forward(x)
    flat_x, _, y = _flat("gelu_forward", x)
    cdf = np.empty_like(y)
    _gelu_float32_kernel(flat_x, y.reshape(-1), cdf.reshape(-1))
    return y, cdf


def gelu_backward(x, cdf, dy):
    """dx = dy (Phi(x) + x phi(x)) with cdf = Phi(x) from the forward: for float32 one pass
    (float64 x goes to the reference)."""
    if x.__class__ is np.ndarray and x.dtype == np.float64:
        return reference.gelu_backward(x, cdf, dy)
    flat_x, flat_dy, dx = _flat("gelu_backward", x, dy)
    if getattr(cdf, "shape", None) != x.shape or getattr(cdf, "dtype", None) != x.dtype:
        raise ValueError(f"gelu_backward: cdf must have x's shape and dtype {x.shape} "
                         f"{x.dtype}, got {getattr(cdf, 'shape', type(cdf).__name__)}")
    flat_cdf = np.ascontiguousarray(cdf).reshape(-1)
    _gelu_backward_float32_kernel(flat_x, flat_cdf, flat_dy, dx.reshape(-1))
    return dx
