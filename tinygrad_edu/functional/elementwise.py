"""Elementwise ops: arithmetic, math functions and activations.

Each op is a ``Function`` with ``forward`` (arrays) and ``backward`` (Tensors) side by side,
then a lowercase wrapper. Binary ops broadcast like NumPy; their backward calls ``sum_to``
(summing over the broadcast axes undoes the broadcast).
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .. import backend
from ..autograd import Config, Function
from ..backend import get_array_module, upload
from ..kernels.reference import activation as reference_activation
from ..tensor import Tensor
from .shape import sum_to

# ----------------------------------------------------------------------------------------------
# Operands: scalars on either side, dtype promotion like torch
# ----------------------------------------------------------------------------------------------


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


def _promoted_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch's rule: a float tensor is not upcast by an integer one (float32 + int64 = float32)."""
    if a == b:
        return a
    if _CATEGORY[a.kind] > _CATEGORY[b.kind]:
        return a
    if _CATEGORY[b.kind] > _CATEGORY[a.kind]:
        return b
    return np.promote_types(a, b)


def result_dtype(a: Tensor, b: Tensor) -> np.dtype:
    """The dtype of ``a op b``, following torch's type promotion.

    A 0-d tensor behaves like a Python number: it only decides the dtype when it is of a higher
    category (bool < int < float) than the tensor with dimensions. So float32 (3,) + float64 ()
    stays float32, while int64 (3,) + float64 () is float64.
    """
    if (a.ndim == 0) != (b.ndim == 0):
        dimensioned, zero_dim = (b, a) if a.ndim == 0 else (a, b)
        if _CATEGORY[zero_dim.dtype.kind] <= _CATEGORY[dimensioned.dtype.kind]:
            return dimensioned.dtype
        return zero_dim.dtype
    return _promoted_dtype(a.dtype, b.dtype)


def _scalar_tensor(value, like: Tensor, op: str = "op") -> Tensor:
    """A constant tensor for a Python scalar, in ``like``'s dtype (``x * 0.5`` stays float32)."""
    xp = get_array_module(like.data)
    if isinstance(value, (bool, np.bool_)):
        dtype = like.dtype
    elif isinstance(value, numbers.Integral):
        dtype = like.dtype if like.dtype.kind in "fiu" else np.dtype(np.int64)
    elif isinstance(value, numbers.Real):
        dtype = like.dtype if like.dtype.kind == "f" else np.dtype(Config.default_dtype)
    else:
        raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")
    return Tensor._wrap(constant(xp, value, dtype), False)


_DEVICE_SCALARS: dict = {}  # (device, dtype, bytes of the value) -> 0-d device array


def constant(xp, value, dtype):
    """A read-only 0-d array of the number ``value`` in ``dtype``, on ``xp``'s device, for an op
    to read (``x * 0.5``, ``where(m, x, 0)``, ``x += 1``): never give it to a user to write.

    On a GPU each one is made once per (device, dtype, value): creating it is a host-to-device
    copy, which costs more than the op it is made for; sharing is safe because nobody writes
    them. Keyed by the value's bytes, so -0.0 and 0.0 stay apart and nan finds itself."""
    try:
        host = np.asarray(value, dtype=dtype)
    except OverflowError:  # a Python int outside a small integer dtype: it wraps, as in torch
        host = np.asarray(value).astype(dtype)  # (uint8 tensor + (-1): adds 255)
    if xp is np:
        return host
    key = (xp.cuda.runtime.getDevice(), host.dtype.str, host.tobytes())
    array = _DEVICE_SCALARS.get(key)
    if array is None:
        if len(_DEVICE_SCALARS) >= 4096:  # a bound for loops over many distinct constants
            _DEVICE_SCALARS.clear()
        array = _DEVICE_SCALARS[key] = upload(xp, host)
    return array


def _as_tensor(op: str, value, like: Tensor) -> Tensor:
    """``value`` (Tensor, Python number or array) as a Tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        return value
    if np.isscalar(value):
        return _scalar_tensor(value, like, op)
    if value is None:
        raise TypeError(f"{op}: expected a Tensor or a number, got None")
    return Tensor(value, device=like.device)


def operands(op: str, a, b) -> tuple[Tensor, Tensor]:
    """Turn ``a`` and ``b`` (Tensors, scalars or arrays) into two tensors of one dtype."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor, got {type(a)} and {type(b)}")
        a = _as_tensor(op, a, b)
    if not isinstance(b, Tensor):
        b = _as_tensor(op, b, a)
    if a.data.dtype is not b.data.dtype and a.data.dtype != b.data.dtype:
        dtype = result_dtype(a, b)
        a = cast(a, dtype) if a.dtype != dtype else a
        b = cast(b, dtype) if b.dtype != dtype else b
    return a, b


def _broadcast_error(op: str, a, b) -> ValueError:
    return ValueError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
        "(trailing dimensions must be equal or 1)"
    )


def _broadcast_failure(op: str, a, b, error: ValueError) -> ValueError:
    """What to raise when NumPy's ``op`` on arrays ``a`` and ``b`` raised ``error``: an error
    naming the op and both shapes when the shapes do not broadcast, else ``error`` itself."""
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return _broadcast_error(op, a, b)
    return error


def _binary(op: str, fn, a, b):
    """Apply a NumPy binary function, turning NumPy's broadcast error into one naming ``op``.
    (The four arithmetic ops write this out with their operator: one call less per op.)"""
    try:
        return fn(a, b)
    except ValueError as error:
        raise _broadcast_failure(op, a, b, error) from None


# ----------------------------------------------------------------------------------------------
# Casting and copying
# ----------------------------------------------------------------------------------------------


class Cast(Function):
    """y = x as another dtype;  dx = dy cast back to x's dtype (zero for integer inputs)."""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, dy):
        return cast(dy, self.in_dtype)


def cast(x: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


class Clone(Function):
    """y = a copy of x;  dx = dy"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x):
        return x.copy()

    def backward(self, dy):
        return dy


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


# ----------------------------------------------------------------------------------------------
# Arithmetic
# ----------------------------------------------------------------------------------------------


class Add(Function):
    """y = a + b;  da = sum_to(dy), db = sum_to(dy)

    The backwards of Add, Sub, Mul and Div read the same with Tensors and with arrays: in a
    first-order walk dy arrives as a plain array (``array_backward``) and the same lines run
    on the arrays, with no Tensor or graph node per product.
    """

    reads_inputs = False  # its backward needs only the inputs' shapes
    array_backward = True  # dy may be the array itself (first order)

    def forward(self, a, b):
        try:
            return a + b
        except ValueError as error:
            raise _broadcast_failure("add", a, b, error) from None

    def backward(self, dy):
        a, b = self.inputs
        return sum_to(dy, a.shape), sum_to(dy, b.shape)


class Sub(Function):
    """y = a - b;  da = sum_to(dy), db = -sum_to(dy)"""

    reads_inputs = False  # its backward needs only the inputs' shapes
    array_backward = True  # dy may be the array itself (first order)

    def forward(self, a, b):
        try:
            return a - b
        except ValueError as error:
            raise _broadcast_failure("sub", a, b, error) from None

    def backward(self, dy):
        a, b = self.inputs
        if not isinstance(dy, Tensor):  # first order: the same lines on the arrays (no graph)
            a, b = a.data, b.data
        return sum_to(dy, a.shape), sum_to(-dy, b.shape)


class Mul(Function):
    """y = a * b;  da = sum_to(dy * b), db = sum_to(dy * a)"""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, a, b):
        try:
            return a * b
        except ValueError as error:
            raise _broadcast_failure("mul", a, b, error) from None

    def backward(self, dy):
        a, b = self.inputs
        if not isinstance(dy, Tensor):  # first order: the same lines on the arrays (no graph)
            a, b = a.data, b.data
        da = sum_to(dy * b, a.shape) if self.needs_input_grad[0] else None
        db = sum_to(dy * a, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b;  da = sum_to(dy / b), db = sum_to(-dy * (a / b) / b)
    (divided twice rather than by b^2, as torch: b^2 would underflow to 0 or overflow to inf
    for |b| < 1e-154 or > 1e154 in float64)"""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, a, b):
        try:
            return a / b
        except ValueError as error:
            raise _broadcast_failure("div", a, b, error) from None

    def backward(self, dy):
        a, b = self.inputs
        if not isinstance(dy, Tensor):  # first order: the same lines on the arrays (no graph)
            a, b = a.data, b.data
        da = sum_to(dy / b, a.shape) if self.needs_input_grad[0] else None
        db = sum_to(-dy * (a / b) / b, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x;  dx = -dy"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x):
        return -x

    def backward(self, dy):
        return -dy


def add(a, b, alpha=1) -> Tensor:
    a, b = operands("add", a, b)
    if alpha != 1:
        b = b * alpha
    return Add.apply(a, b)


def sub(a, b, alpha=1) -> Tensor:
    a, b = operands("sub", a, b)
    if a.dtype == np.bool_ and b.dtype == np.bool_:  # torch's rule and message
        raise RuntimeError("sub: subtraction, the `-` operator, with two bool tensors is not "
                           "supported; to invert a mask, use the `~` or logical_not() operator")
    if alpha != 1:
        b = b * alpha
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    return Mul.apply(*operands("mul", a, b))


def div(a, b) -> Tensor:
    a, b = operands("div", a, b)
    if a.dtype.kind != "f":  # true division of integers gives floats, as in torch
        a, b = cast(a, Config.default_dtype), cast(b, Config.default_dtype)
    return Div.apply(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


class PowScalar(Function):
    """y = x^p for a constant p;  dx = dy * p * x^(p-1)"""

    def forward(self, x, p):
        self.p = p
        return x**p

    def backward(self, dy):
        (x,) = self.inputs
        if self.p == 0:
            return dy * 0
        return dy * (self.p * x ** (self.p - 1))


class Pow(Function):
    """y = a^b;  da = dy * b * a^(b-1)  (0 where b == 0),
                 db = dy * y * ln(a)     (0 where a == 0 and b >= 0; NaN where a < 0, like torch:
                                          a negative base has no real derivative in b)"""

    reads_output = True  # backward reads self.output

    def forward(self, a, b):
        return _binary("pow", operator.pow, a, b)

    def backward(self, dy):
        a, b = self.inputs
        xp = get_array_module(a.data)
        da = db = None
        if self.needs_input_grad[0]:
            da = dy * b * a ** (b - 1)
            da = sum_to(where(b.data == 0, 0.0, da), a.shape)
        if self.needs_input_grad[1]:
            positive = a.data > 0
            # ln(a) where a > 0; the constant -inf (a == 0) or NaN (a < 0) elsewhere
            log_a = where(positive, log(where(positive, a, 1.0)),
                          xp.where(a.data == 0, -np.inf, np.nan).astype(a.dtype))
            db = dy * self.output * log_a
            db = sum_to(where((a.data == 0) & (b.data >= 0), 0.0, db), b.shape)
        return da, db


def pow(x, exponent) -> Tensor:
    """``x ** exponent``; a number exponent is a constant, a tensor exponent gets a gradient."""
    if isinstance(x, Tensor) and isinstance(exponent, numbers.Real):
        if x.dtype.kind in "biu" and not isinstance(exponent, (bool, np.bool_)):
            # torch's promotion: a float exponent gives the default float dtype, an int one
            # keeps the integer dtype (bool becomes int64), and a negative int is refused
            if not isinstance(exponent, numbers.Integral):
                x = cast(x, Config.default_dtype)
            elif exponent < 0:
                raise RuntimeError(
                    f"pow: integers to negative integer powers are not allowed ({x.dtype} "
                    f"tensor of shape {tuple(x.shape)} ** {exponent}); use a float tensor, "
                    f"e.g. x.float() ** {exponent}"
                )
            elif x.dtype == np.bool_:
                x = cast(x, np.int64)
        elif x.dtype == np.bool_ and isinstance(exponent, (bool, np.bool_)):
            return cast(PowScalar.apply(x, p=exponent), np.bool_)  # bool ** bool is bool
        return PowScalar.apply(x, p=exponent)
    return Pow.apply(*operands("pow", x, exponent))


# ----------------------------------------------------------------------------------------------
# Rounding and integer division: piecewise constant results
# ----------------------------------------------------------------------------------------------


class _Stepwise(Function):
    """The base of the piecewise-constant ops (floor, ceil, round, trunc, sign): dx = 0.

    Their derivative is 0 wherever it exists. Like torch, the output still requires grad when
    x does, and its gradient is zeros (not None): ``x.floor().sum().backward()`` works and
    leaves zeros in x.grad."""

    def backward(self, dy):
        return get_array_module(dy.data).zeros_like(dy.data)


class Floor(_Stepwise):
    """y = floor(x), the largest whole number <= x;  dx = 0"""

    def forward(self, x):
        return get_array_module(x).floor(x)


class Ceil(_Stepwise):
    """y = ceil(x), the smallest whole number >= x;  dx = 0"""

    def forward(self, x):
        return get_array_module(x).ceil(x)


class Trunc(_Stepwise):
    """y = x with its fractional part dropped (rounded toward 0);  dx = 0"""

    def forward(self, x):
        return get_array_module(x).trunc(x)


class Round(_Stepwise):
    """y = x rounded to ``decimals`` decimal places, halves to even (2.5 -> 2, like torch);
    dx = 0"""

    def forward(self, x, decimals):
        return get_array_module(x).round(x, decimals)


def _sign(x):
    """torch's sign on an array: -1, 0 or 1, and 0 for NaN (NumPy's sign(nan) is nan)."""
    xp = get_array_module(x)
    return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))


class Sign(_Stepwise):
    """y = -1, 0 or 1 as x is negative, zero or positive (0 for NaN, as torch);  dx = 0"""

    def forward(self, x):
        return _sign(x)


def _stepwise(op: str, cls, x: Tensor, **options) -> Tensor:
    """Apply a rounding op; integer tensors are whole already: a copy, with x's dtype (torch)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind in "iu":
        return Tensor._wrap(x.data.copy(), False)
    if x.dtype.kind == "b":
        raise TypeError(f"{op}: not implemented for bool tensors (shape {tuple(x.shape)})")
    return cls.apply(x, **options)


def floor(x: Tensor) -> Tensor:
    return _stepwise("floor", Floor, x)


def ceil(x: Tensor) -> Tensor:
    return _stepwise("ceil", Ceil, x)


def trunc(x: Tensor) -> Tensor:
    return _stepwise("trunc", Trunc, x)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001 - torch name
    """Round half to even; ``decimals`` < 0 rounds to tens, hundreds, ... (torch.round)."""
    if decimals != 0 and isinstance(x, Tensor) and x.dtype.kind != "f":
        raise TypeError(f"round: decimals needs a floating point tensor, got dtype {x.dtype}")
    return _stepwise("round", Round, x, decimals=int(decimals))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1; integer and bool tensors keep their dtype (True is positive: a copy)."""
    if isinstance(x, Tensor) and x.dtype.kind in "biu":
        xp = get_array_module(x.data)
        return Tensor._wrap(x.data.copy() if x.dtype.kind == "b" else xp.sign(x.data), False)
    return _stepwise("sign", Sign, x)


class FloorDivide(Function):
    """y = floor(a / b), Python's ``a // b`` (rounds toward -inf: -5 // 3 = -2).

    No derivative, as in torch: y is piecewise constant, and torch raises rather than hand out
    zeros, so a loss that depends on it only through ``//`` is caught."""

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):  # x // 0.0 is inf or nan, silent
            return _binary("floor_divide", get_array_module(a).floor_divide, a, b)

    def backward(self, dy):
        raise RuntimeError(
            "floor_divide: the derivative is not implemented (torch's neither): the result is "
            "piecewise constant. Detach the inputs first, e.g. x.detach() // y"
        )


class Remainder(Function):
    """y = a - floor(a / b) * b, Python's ``a % b``: y has the sign of b (-5 % 3 = 1), except
    that a zero keeps the sign of a, as torch's (-6.0 % 3.0 = -0.0; NumPy's and Python's: 0.0),
    and exact also where a / b overflows (torch: NaN there);
    da = sum_to(dy), db = sum_to(-dy * floor(a / b))"""

    def forward(self, a, b):
        xp = get_array_module(a)
        with np.errstate(divide="ignore", invalid="ignore"):  # x % 0.0 is nan, silent
            y = _binary("remainder", xp.remainder, a, b)
        if y.dtype.kind != "f":
            return y
        return xp.where(y == 0, xp.copysign(y, a), y)

    def backward(self, dy):
        a, b = self.inputs
        da = sum_to(dy, a.shape) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            quotient = get_array_module(a.data).floor_divide(a.data, b.data)
            db = sum_to(-dy * quotient, b.shape)
        return da, db


def _division_operands(op: str, a, b, bools: bool = True) -> tuple[Tensor, Tensor]:
    """``operands``, and torch's error for an integer division by zero (NumPy gives 0);
    without ``bools``, torch's refusal of two bool operands."""
    a, b = operands(op, a, b)
    if not bools and a.dtype.kind == "b":
        raise TypeError(f"{op}: not implemented for bool tensors (shape {tuple(a.shape)})")
    if a.dtype.kind in "biu" and bool((b.data == 0).any()):
        raise RuntimeError(
            f"{op}: ZeroDivisionError: integer division by zero (divisor of shape "
            f"{tuple(b.shape)}, dtype {b.dtype})"
        )
    return a, b


def floor_divide(input, other) -> Tensor:  # noqa: A002 - torch names
    """``input // other``, rounded toward -inf (Python's rule); broadcasts. No gradient."""
    return FloorDivide.apply(*_division_operands("floor_divide", input, other))


def remainder(input, other) -> Tensor:  # noqa: A002 - torch names
    """``input % other`` with the sign of ``other`` (Python's rule, torch.remainder);
    broadcasts. Its gradient is 1 for input and -floor(input / other) for other. Bool tensors
    are refused, as torch refuses them."""
    return Remainder.apply(*_division_operands("remainder", input, other, bools=False))


# ----------------------------------------------------------------------------------------------
# Math functions
# ----------------------------------------------------------------------------------------------


class Exp(Function):
    """y = e^x;  dx = dy * y"""

    reads_output = True  # backward reads self.output
    reads_inputs = False  # ... and not x

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, dy):
        return dy * self.output


class Log(Function):
    """y = ln x;  dx = dy / x"""

    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy / x


class Sqrt(Function):
    """y = sqrt(x);  dx = dy / (2 y)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, dy):
        return dy / (2 * self.output)


class Abs(Function):
    """y = |x|;  dx = dy * sign(x)  (0 at x = 0 and at NaN, like torch)"""

    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * _sign(x.data)


class Sin(Function):
    """y = sin x;  dx = dy * cos x"""

    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * cos(x)


class Cos(Function):
    """y = cos x;  dx = -dy * sin x"""

    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, dy):
        (x,) = self.inputs
        return -dy * sin(x)


class Tan(Function):
    """y = tan x;  dx = dy * (1 + y^2)  (= dy / cos^2 x)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        return get_array_module(x).tan(x)

    def backward(self, dy):
        y = self.output
        return dy * (1 + y * y)


class Atan(Function):
    """y = atan x;  dx = dy / (1 + x^2)"""

    def forward(self, x):
        return get_array_module(x).arctan(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy / (1 + x * x)


class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a) in (-pi, pi];
    da = sum_to(dy * b * r), db = sum_to(-dy * a * r),  r = 1 / (a^2 + b^2)
    (r = 0 where a^2 + b^2 == 0, at the origin: both gradients 0 there, torch's choice)"""

    def forward(self, a, b):
        return _binary("atan2", get_array_module(a).arctan2, a, b)

    def backward(self, dy):
        a, b = self.inputs
        r2 = a * a + b * b
        origin = r2.data == 0  # a = b = 0, or squares that underflow to 0
        recip = where(origin, 0.0, 1 / where(origin, 1.0, r2))  # no 1/0 computed
        da = sum_to(dy * b * recip, a.shape) if self.needs_input_grad[0] else None
        db = sum_to(-dy * a * recip, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Log1p(Function):
    """y = ln(1 + x), accurate for tiny x;  dx = dy / (1 + x)"""

    def forward(self, x):
        return get_array_module(x).log1p(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy / (1 + x)


class Expm1(Function):
    """y = e^x - 1, accurate for tiny x;  dx = dy * (y + 1)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        return get_array_module(x).expm1(x)

    def backward(self, dy):
        return dy * (self.output + 1)


class Reciprocal(Function):
    """y = 1 / x;  dx = -dy * y^2"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        return get_array_module(x).reciprocal(x)

    def backward(self, dy):
        y = self.output
        return -dy * (y * y)


def _activation_kernels(*arrays):
    """``kernels/cpu/activation.py`` (one vectorized Numba pass) for float32/float64 NumPy
    arrays of one dtype when the kernel setting picks Numba; None otherwise (CuPy arrays, other
    dtypes, the reference setting), and the op computes with ``xp``. On NumPy the Numba loops
    are 2-4x ``np.maximum(x, 0)`` (a scalar loop in NumPy 2.4) and 8-50x ``np.where`` (a branch
    per element) on the activations of a small CNN."""
    return backend.numba_float_kernels("activation", *arrays)


class Erf(Function):
    """y = erf(x);  dx = dy * 2/sqrt(pi) * exp(-x^2)"""

    def forward(self, x):
        # SciPy's (CuPy's) erf, or with the Numba kernels for float32 a vectorized polynomial
        # within 0.503 ulp, 10x faster (kernels/cpu/activation.py): GELU's main cost
        kernels = _activation_kernels(x) or reference_activation
        return kernels.erf_forward(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * (2.0 / math.sqrt(math.pi)) * exp(-(x * x))


class GELU(Function):
    """y = x Phi(x) = x/2 (1 + erf(x / sqrt 2));  dx = dy (Phi(x) + x phi(x)),
    phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

    One op on the Numba kernels for float32 NumPy arrays (``kernels/cpu/activation.py``: one
    pass each way; the forward in float64 with erf's float32 polynomials, rounded once, keeps
    Phi(x) for the backward, which adds only the density's exp), where the composite
    ``0.5 * x * (1 + erf(x / sqrt 2))`` takes five array passes forward and about ten backward
    (a GPT MLP's (2048, 512) float32 fwd+bwd: see the README). When a graph is recorded
    (``create_graph``) the backward differentiates that composite, so every order stays exact.
    """

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x, kernels):
        self.kernels = kernels
        y, self.cdf = kernels.gelu_forward(x)  # Phi(x), kept for the backward
        return y

    def backward(self, dy):
        (x,) = self.inputs
        if Config.grad_enabled:  # create_graph: differentiate the composite, to any order
            return self.composite_grads(_gelu_composite(x), dy)
        if isinstance(dy, Tensor):  # study hooks watching: the kernel on the arrays
            return Tensor._wrap(self.kernels.gelu_backward(x.data, self.cdf, dy.data))
        return self.kernels.gelu_backward(x.data, self.cdf, dy)


def _gelu_composite(x: Tensor) -> Tensor:
    """x/2 (1 + erf(x / sqrt 2)) from differentiable primitives."""
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def _float_input(op: str, x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x if x.dtype.kind == "f" else cast(x, Config.default_dtype)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(_float_input("exp", x))


def log(x: Tensor) -> Tensor:
    return Log.apply(_float_input("log", x))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(_float_input("sqrt", x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch name
    return Abs.apply(x)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(_float_input("sin", x))


def cos(x: Tensor) -> Tensor:
    return Cos.apply(_float_input("cos", x))


def tan(x: Tensor) -> Tensor:
    return Tan.apply(_float_input("tan", x))


def atan(x: Tensor) -> Tensor:
    return Atan.apply(_float_input("atan", x))


def atan2(input, other) -> Tensor:  # noqa: A002 - torch names
    """The angle of the point (other, input), in (-pi, pi]: atan(input / other), placed in the
    right quadrant by the signs of both. Broadcasts; integer inputs give floats, as in torch."""
    a, b = operands("atan2", input, other)
    if a.dtype.kind != "f":
        a, b = cast(a, Config.default_dtype), cast(b, Config.default_dtype)
    return Atan2.apply(a, b)


arctan2 = atan2


def log1p(x: Tensor) -> Tensor:
    return Log1p.apply(_float_input("log1p", x))


def expm1(x: Tensor) -> Tensor:
    return Expm1.apply(_float_input("expm1", x))


def reciprocal(x: Tensor) -> Tensor:
    return Reciprocal.apply(_float_input("reciprocal", x))


def erf(x: Tensor) -> Tensor:
    return Erf.apply(_float_input("erf", x))


def rsqrt(x: Tensor) -> Tensor:
    return pow(x, -0.5)


def square(x: Tensor) -> Tensor:
    return x * x


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------


class Tanh(Function):
    """y = tanh(x);  dx = dy * (1 - y^2)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, dy):
        y = self.output
        return dy * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        # the stable form for both signs: with e = e^-|x| (never overflows), y = 1 / (1 + e)
        # for x >= 0 and e / (1 + e) for x < 0 (kernels/reference/activation.py); the Numba
        # kernels blend the two in one pass where np.where mispredicts a branch per element
        kernels = _activation_kernels(x) or reference_activation
        return kernels.sigmoid_forward(x)

    def backward(self, dy):
        y = self.output
        return dy * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dx = 0 where x <= 0, else dy (torch's rule: a selection, so an infinite
    dy of an inactive unit gives 0, not inf * 0 = NaN)"""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x):
        kernels = _activation_kernels(x)
        if kernels is not None:
            return kernels.relu_forward(x)
        return get_array_module(x).maximum(x, 0)

    def backward(self, dy):
        (x,) = self.inputs
        if not Config.grad_enabled:  # first order: on the arrays
            dy = dy.data if isinstance(dy, Tensor) else dy  # (a Tensor while hooks watch)
            kernels = _activation_kernels(x.data, dy)
            if kernels is not None:
                return kernels.relu_backward(x.data, dy)
            return get_array_module(dy).where(x.data <= 0, 0, dy).astype(dy.dtype, copy=False)
        return where(x.data <= 0, 0.0, dy)  # create_graph: a Tensor op, differentiable in dy


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x;  dx = dy if x > 0 else slope * dy"""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x, negative_slope):
        self.slope = negative_slope
        kernels = _activation_kernels(x)
        if kernels is not None:
            return kernels.leaky_relu_forward(x, negative_slope)
        xp = get_array_module(x)
        return xp.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        if not Config.grad_enabled:  # first order: on the arrays
            dy = dy.data if isinstance(dy, Tensor) else dy  # (a Tensor while hooks watch)
            kernels = _activation_kernels(x.data, dy)
            if kernels is not None:
                return kernels.leaky_relu_backward(x.data, dy, self.slope)
        xp = get_array_module(x.data)
        # on the arrays, or a Tensor op (create_graph: differentiable in dy); dy * 1 is dy
        return dy * xp.where(x.data > 0, 1.0, self.slope).astype(dy.dtype)


class Elu(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dx = dy * (1 if x > 0 else y + alpha)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, alpha):
        self.alpha = alpha
        xp = get_array_module(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * where(x.data > 0, 1.0, self.output + self.alpha)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta  (x where beta x > threshold);
    dx = dy * sigmoid(beta x)  (dy where beta x > threshold)"""

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        xp = get_array_module(x)
        bx = beta * x
        smooth = (xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)) / beta
        return xp.where(bx > threshold, x, smooth).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        linear = x.data * self.beta > self.threshold
        return dy * where(linear, 1.0, sigmoid(x * self.beta))


class Clamp(Function):
    """y = min(max(x, lo), hi) for constant bounds;  dx = dy * [lo <= x <= hi]  (like torch,
    the gradient passes at the boundaries themselves)"""

    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        return get_array_module(x).clip(x, lo, hi)

    def backward(self, dy):
        (x,) = self.inputs
        xp = get_array_module(x.data)
        inside = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x.data >= self.lo
        if self.hi is not None:
            inside &= x.data <= self.hi
        return dy * inside.astype(dy.dtype)


class ClampTensor(Function):
    """y = min(max(x, lo), hi) with tensor bounds (either may be absent), broadcasting.

    dx  = dy * [lo <= x <= hi]
    dlo = dy * [x < lo and lo < hi]   (lo decides the output there)
    dhi = dy * [x > hi or hi < lo]    (hi decides the output there, also when hi < lo)
    Ties go to x, exactly like torch.clamp.
    """

    def forward(self, x, *bounds, has_lo, has_hi):
        xp = get_array_module(x)
        self.has_lo, self.has_hi = has_lo, has_hi
        lo = bounds[0] if has_lo else None
        hi = bounds[-1] if has_hi else None
        y = x
        if lo is not None:
            y = _binary("clamp", xp.maximum, y, lo)
        if hi is not None:
            y = _binary("clamp", xp.minimum, y, hi)
        return y

    def backward(self, dy):
        x = self.inputs[0]
        lo = self.inputs[1].data if self.has_lo else None
        hi = self.inputs[-1].data if self.has_hi else None
        xp = get_array_module(dy.data)
        x_wins = xp.ones(dy.shape, dtype=bool)
        if lo is not None:
            x_wins = x_wins & (x.data >= lo)
        if hi is not None:
            x_wins = x_wins & (x.data <= hi)
        grads = [sum_to(dy * x_wins.astype(dy.dtype), x.shape)]
        if lo is not None:
            lo_wins = x.data < lo
            if hi is not None:
                lo_wins = lo_wins & (lo < hi)
            grads.append(sum_to(dy * lo_wins.astype(dy.dtype), lo.shape))
        if hi is not None:
            hi_wins = x.data > hi
            if lo is not None:
                hi_wins = hi_wins | (hi < lo)
            grads.append(sum_to(dy * hi_wins.astype(dy.dtype), hi.shape))
        return tuple(grads)


def tanh(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    return Tanh.apply(_float_input("tanh", input))


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    return Sigmoid.apply(_float_input("sigmoid", input))


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(x, negative_slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return Elu.apply(_float_input("elu", x), alpha=alpha)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    return Softplus.apply(_float_input("softplus", input), beta=beta, threshold=threshold)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002 - torch names
    """GELU(x) = x * Phi(x) = x/2 (1 + erf(x / sqrt 2));
    ``approximate="tanh"``: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    The exact form runs as one op (``GELU``) on the Numba kernels for float32 NumPy arrays;
    elsewhere, and in the tanh form, it is built from differentiable primitives. Every order of
    derivative is exact either way."""
    x = _float_input("gelu", input)  # a float Tensor: the x of the formulas
    if approximate == "none":
        kernels = _activation_kernels(x.data) if x.dtype == np.float32 else None
        if kernels is not None:
            return GELU.apply(x, kernels=kernels)
        return _gelu_composite(x)
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """SiLU(x) = x * sigmoid(x)"""
    return x * sigmoid(x)


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch names
    """Clamp every element into [min, max]; either bound may be None, a number or a tensor
    (tensor bounds broadcast and receive gradients). Integer tensors clamped with float bounds
    become float, like torch."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [_as_tensor("clamp", b, x) for b in (min, max) if b is not None]
        dtype = x.dtype
        for bound in bounds:
            dtype = _promoted_dtype(dtype, result_dtype(x, bound))
        tensors = [cast(t, dtype) for t in [x] + bounds]
        return ClampTensor.apply(*tensors, has_lo=min is not None, has_hi=max is not None)
    for bound in (min, max):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clamp: bounds must be numbers or tensors, got {type(bound).__name__}")
    float_bound = [b for b in (min, max) if b is not None and not isinstance(b, numbers.Integral)]
    if x.dtype.kind != "f" and float_bound:
        x = cast(x, Config.default_dtype)
    lo = None if min is None else x.dtype.type(min)
    hi = None if max is None else x.dtype.type(max)
    return Clamp.apply(x, lo=lo, hi=hi)


# ----------------------------------------------------------------------------------------------
# Selection: maximum, minimum, where
# ----------------------------------------------------------------------------------------------


class Maximum(Function):
    """y = max(a, b);  da = dy where a > b, db = dy where b > a, and, exactly as torch:
    ties split dy evenly (dy/2 each), and where a or b is NaN (y is NaN) both get dy."""

    def forward(self, a, b):
        return _binary("maximum", get_array_module(a).maximum, a, b)

    def backward(self, dy):
        a, b = self.inputs
        a_share, b_share = _extreme_shares(a.data, b.data, dy.dtype, smallest=False)
        return sum_to(dy * a_share, a.shape), sum_to(dy * b_share, b.shape)


class Minimum(Function):
    """y = min(a, b);  da = dy where a < b, db = dy where b < a, and, exactly as torch:
    ties split dy evenly (dy/2 each), and where a or b is NaN (y is NaN) both get dy."""

    def forward(self, a, b):
        return _binary("minimum", get_array_module(a).minimum, a, b)

    def backward(self, dy):
        a, b = self.inputs
        a_share, b_share = _extreme_shares(a.data, b.data, dy.dtype, smallest=True)
        return sum_to(dy * a_share, a.shape), sum_to(dy * b_share, b.shape)


def _extreme_shares(a, b, dtype, smallest: bool) -> tuple:
    """The shares of dy that a and b get in maximum (minimum if ``smallest``), torch's rule:
    an input gets nothing only where it loses the comparison outright, half on ties, all of dy
    otherwise, so a NaN on either side (every comparison False) sends dy to both."""
    a_loses = (a > b) if smallest else (a < b)
    b_loses = (a < b) if smallest else (a > b)
    half_on_ties = 0.5 * (a == b)
    return (1 - a_loses - half_on_ties).astype(dtype), (1 - b_loses - half_on_ties).astype(dtype)


class Where(Function):
    """y = a where cond else b;  da = sum_to(dy * cond), db = sum_to(dy * ~cond)"""

    reads_inputs = False  # its backward needs only the condition and the shapes

    def forward(self, a, b, cond):
        self.cond = cond
        xp = get_array_module(a)
        try:
            return xp.where(cond, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition {tuple(cond.shape)}, input {tuple(a.shape)} and other "
                f"{tuple(b.shape)} cannot be broadcast together"
            ) from None

    def backward(self, dy):
        a, b = self.inputs
        zero = Tensor._wrap(get_array_module(dy.data).zeros((), dtype=dy.dtype))
        da = sum_to(where(self.cond, dy, zero), a.shape) if self.needs_input_grad[0] else None
        db = sum_to(where(self.cond, zero, dy), b.shape) if self.needs_input_grad[1] else None
        return da, db


def maximum(a, b) -> Tensor:
    return Maximum.apply(*operands("maximum", a, b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(*operands("minimum", a, b))


def where(condition, input, other) -> Tensor:  # noqa: A002 - torch names
    """``input`` where ``condition`` is True, else ``other`` (torch.where); all three broadcast.
    Python numbers on both sides give int64 (ints), float32 (floats) or bool, like torch."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        xp = get_array_module(cond)
        input = Tensor._wrap(constant(xp, input, _python_scalar_dtype("where", input)))
    input, other = operands("where", input, other)
    xp = get_array_module(input.data)
    cond = xp.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    return Where.apply(input, other, cond=cond)


def _python_scalar_dtype(op: str, value) -> np.dtype:
    """The dtype torch gives a tensor made from one Python number."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(value, numbers.Real):
        return np.dtype(Config.default_dtype)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` is True, else ``x`` (mask broadcasts to x's shape).

    The result keeps x's dtype (a float value in an int tensor is truncated, as in torch);
    a 0-d tensor ``value`` receives the sum of the gradient of the filled positions."""
    mask_data = mask.data if isinstance(mask, Tensor) else get_array_module(x.data).asarray(mask)
    if mask_data.dtype != np.bool_:
        raise TypeError(
            f"masked_fill: mask must be a bool tensor, got dtype {mask_data.dtype} "
            f"(build it with a comparison, e.g. x > 0)"
        )
    try:
        broadcast = tuple(np.broadcast_shapes(mask_data.shape, x.shape))
    except ValueError:
        broadcast = None
    if broadcast != tuple(x.shape):
        raise ValueError(
            f"masked_fill: mask of shape {tuple(mask_data.shape)} does not broadcast to the "
            f"input's shape {tuple(x.shape)}"
        )
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill: only supports a 0-dimensional value tensor, but got one with "
                f"{value.ndim} dimension(s) (shape {tuple(value.shape)})"
            )
        value = cast(value, x.dtype)
    else:
        value = Tensor._wrap(constant(get_array_module(x.data), value, x.dtype))
    return where(mask_data, value, x)


# ----------------------------------------------------------------------------------------------
# Comparisons: no gradient, bool results
# ----------------------------------------------------------------------------------------------


def _compare(op: str, ufunc_name: str, a, b, integers_only: bool = False) -> Tensor:
    """Apply a non-differentiable binary ufunc (comparison, logical or bitwise op)."""
    a, b = operands(op, a, b)
    if integers_only:
        _integer_operand(op, a)
    fn = getattr(get_array_module(a.data), ufunc_name)
    return Tensor._wrap(_binary(op, fn, a.data, b.data), False)


def eq(a, b) -> Tensor:
    return _compare("eq", "equal", a, b)


def ne(a, b) -> Tensor:
    return _compare("ne", "not_equal", a, b)


def lt(a, b) -> Tensor:
    return _compare("lt", "less", a, b)


def le(a, b) -> Tensor:
    return _compare("le", "less_equal", a, b)


def gt(a, b) -> Tensor:
    return _compare("gt", "greater", a, b)


def ge(a, b) -> Tensor:
    return _compare("ge", "greater_equal", a, b)


def logical_not(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.data).logical_not(x.data), False)


def logical_and(a: Tensor, b: Tensor) -> Tensor:
    return _compare("logical_and", "logical_and", a, b)


def logical_or(a: Tensor, b: Tensor) -> Tensor:
    return _compare("logical_or", "logical_or", a, b)


def _integer_operand(op: str, x: Tensor) -> None:
    if x.dtype.kind not in "bui":
        raise TypeError(
            f"{op}: only bool and integer tensors are supported, got dtype {x.dtype} "
            f"(shape {tuple(x.shape)}); for a logical op on floats compare first, e.g. (x > 0)"
        )


def bitwise_not(x: Tensor) -> Tensor:
    """``~x``: logical not for bool tensors, two's-complement not for integers (torch)."""
    _integer_operand("bitwise_not", x)
    return Tensor._wrap(get_array_module(x.data).invert(x.data), False)


def bitwise_and(a, b) -> Tensor:
    """``a & b``: logical and for bool tensors, bitwise and for integers."""
    return _compare("bitwise_and", "bitwise_and", a, b, integers_only=True)


def bitwise_or(a, b) -> Tensor:
    """``a | b``: logical or for bool tensors, bitwise or for integers."""
    return _compare("bitwise_or", "bitwise_or", a, b, integers_only=True)


def bitwise_xor(a, b) -> Tensor:
    """``a ^ b``: logical xor for bool tensors, bitwise xor for integers."""
    return _compare("bitwise_xor", "bitwise_xor", a, b, integers_only=True)


def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.data).isnan(x.data), False)


def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.data).isfinite(x.data), False)


def isinf(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.data).isinf(x.data), False)


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    a, b = operands("allclose", a, b)
    return bool(get_array_module(a.data).allclose(a.data, b.data, rtol=rtol, atol=atol))


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout);
    identity when ``training`` is False.  dx = dy * mask / (1 - p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    from ..tensor import _random_array

    keep = _random_array("uniform", x.shape, x.dtype, x.device) >= p
    scale = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return x * Tensor._wrap(scale, False)


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol * |b| elementwise, as a bool tensor (torch.isclose); NaNs are
    equal to each other only with ``equal_nan``."""
    a, b = operands("isclose", a, b)
    xp = get_array_module(a.data)
    return Tensor._wrap(xp.isclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan),
                        False)


class NanToNum(Function):
    """y = x with NaN, +inf and -inf replaced by ``nan``, ``posinf``, ``neginf`` (the largest
    and smallest finite values of the dtype by default);  dx = dy * isfinite(x) (torch's rule)"""

    def forward(self, x, nan, posinf, neginf):
        return get_array_module(x).nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, dy):
        (x,) = self.inputs
        finite = get_array_module(x.data).isfinite(x.data)
        return dy * finite.astype(dy.dtype)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """Replace NaN by ``nan`` and the infinities by ``posinf``/``neginf`` (default: the dtype's
    largest/smallest finite value). Integer and bool tensors hold none: a copy comes back.

    >>> import tinygrad_edu as tg
    >>> nan_to_num(tg.tensor([float("nan"), 1.0]), nan=-1.0).tolist()
    [-1.0, 1.0]
    """
    if _tensor_input("nan_to_num", x).dtype.kind != "f":
        return clone(x)
    if nan is None:  # torch's default
        nan = 0.0
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


# ----------------------------------------------------------------------------------------------
# More math functions: inverse trig and hyperbolic, logs and exps in other bases, special
# functions (SciPy's, CuPy's on the GPU), and torch's remaining binary/ternary elementwise ops
# ----------------------------------------------------------------------------------------------

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _quiet():
    """NumPy's warnings off for the domain edges (log(0), asin(2), 0/0): torch returns inf and
    NaN there silently, and so do these ops."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _special(x, name: str):
    """The function ``name`` of ``scipy.special`` (``cupyx.scipy.special`` on CuPy arrays)."""
    if get_array_module(x) is np:
        import scipy.special as special
    else:
        import cupyx.scipy.special as special
    return getattr(special, name)


def _tensor_input(op: str, x) -> Tensor:
    """``x`` itself, or a TypeError naming ``op`` when it is not a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _no_integers(op: str, *tensors: Tensor) -> None:
    """torch's refusal of integer and bool tensors for ops it defines on floats only."""
    for t in tensors:
        if t.dtype.kind != "f":
            raise TypeError(
                f"{op}: not implemented for {t.dtype} tensors (torch's neither; shape "
                f"{tuple(t.shape)}): cast to a floating point dtype first, e.g. x.float()"
            )


class Asin(Function):
    """y = asin x, in [-pi/2, pi/2] (NaN outside [-1, 1]);  dx = dy / sqrt(1 - x^2)
    (inf at x = +-1, like torch)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).arcsin(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():  # NaN outside [-1, 1], inf at the edges
            return dy / sqrt(1 - x * x)


class Acos(Function):
    """y = acos x, in [0, pi] (NaN outside [-1, 1]);  dx = -dy / sqrt(1 - x^2)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).arccos(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():  # NaN outside [-1, 1], inf at the edges
            return -dy / sqrt(1 - x * x)


class Sinh(Function):
    """y = sinh x = (e^x - e^-x) / 2;  dx = dy * cosh x"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).sinh(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * cosh(x)


class Cosh(Function):
    """y = cosh x = (e^x + e^-x) / 2;  dx = dy * sinh x"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).cosh(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * sinh(x)


class Asinh(Function):
    """y = asinh x = ln(x + sqrt(x^2 + 1));  dx = dy / sqrt(x^2 + 1)"""

    def forward(self, x):
        return get_array_module(x).arcsinh(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():  # x^2 overflows to inf for huge x: dx = dy / inf = 0, as torch
            return dy / sqrt(x * x + 1)


class Acosh(Function):
    """y = acosh x = ln(x + sqrt(x^2 - 1)) (NaN for x < 1);  dx = dy / sqrt(x^2 - 1)
    (inf at x = 1; torch's formula, so also finite for x < -1 where y is NaN)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).arccosh(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():
            return dy / sqrt(x * x - 1)


class Atanh(Function):
    """y = atanh x = ln((1 + x) / (1 - x)) / 2 (+-inf at +-1, NaN outside);
    dx = dy / (1 - x^2)  (torch's formula: inf at +-1, finite outside)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).arctanh(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():
            return dy / (1 - x * x)


class Log2(Function):
    """y = log2 x;  dx = dy / (x ln 2)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).log2(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():
            return dy / (x * _LN2)


class Log10(Function):
    """y = log10 x;  dx = dy / (x ln 10)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).log10(x)

    def backward(self, dy):
        (x,) = self.inputs
        with _quiet():
            return dy / (x * _LN10)


class Exp2(Function):
    """y = 2^x;  dx = dy * y * ln 2"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        with _quiet():
            return get_array_module(x).exp2(x)

    def backward(self, dy):
        return dy * self.output * _LN2


class Erfc(Function):
    """y = erfc x = 1 - erf x, accurate where erf x is near 1;
    dx = -dy * 2/sqrt(pi) * exp(-x^2)"""

    def forward(self, x):
        return _special(x, "erfc")(x).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * (-2.0 / math.sqrt(math.pi)) * exp(-(x * x))


class Erfinv(Function):
    """y = erfinv x, the inverse of erf on (-1, 1) (+-inf at +-1, NaN outside, -0.0 at -0.0);
    dx = dy * sqrt(pi)/2 * exp(y^2)"""

    reads_output = True  # backward reads self.output

    def forward(self, x):
        with _quiet():
            y = _special(x, "erfinv")(x).astype(x.dtype, copy=False)
        return get_array_module(x).where(x == 0, x, y)  # SciPy: 0.0 at -0.0, torch: -0.0

    def backward(self, dy):
        y = self.output
        with _quiet():
            return dy * (0.5 * math.sqrt(math.pi)) * exp(y * y)


class Lgamma(Function):
    """y = ln |Gamma(x)| (inf at 0, -1, -2, ... and at +-inf, as torch);  dx = dy * digamma(x)

    For subnormal x (0 < |x| < 2.2e-308 in float64) y = -ln |x|, exact there (the next term,
    -0.577 x, is below 1e-300): SciPy's gammaln gives inf for |x| < 1/DBL_MAX, torch does not."""

    def forward(self, x):
        xp = get_array_module(x)
        with _quiet():
            y = _special(x, "gammaln")(x).astype(x.dtype, copy=False)
            subnormal = (x != 0) & (xp.abs(x) < np.finfo(x.dtype).tiny)
            y = xp.where(subnormal, -xp.log(xp.abs(x)), y)
        return xp.where(x == -np.inf, x.dtype.type(np.inf), y)  # SciPy: -inf there, torch: inf

    def backward(self, dy):
        (x,) = self.inputs
        return dy * digamma(x)


class Polygamma(Function):
    """y = psi^(n)(x), the n-th derivative of digamma psi = (ln Gamma)';
    dx = dy * psi^(n+1)(x)  (so every order of derivative is exact)

    digamma is n = 0: -inf at 0 and NaN at -1, -2, ... (torch's values). At the infinities
    torch has NaN where SciPy has a number: psi'(-inf) (SciPy: inf) and, for n >= 2,
    psi^(n)(+inf) (SciPy: +-0); these ops return torch's NaN."""

    def forward(self, x, n):
        self.n = n
        xp = get_array_module(x)
        with _quiet():
            if n == 0:
                return _special(x, "psi")(x).astype(x.dtype, copy=False)
            y = _special(x, "polygamma")(n, x).astype(x.dtype, copy=False)
        torch_nan = x == (-np.inf if n == 1 else np.inf)
        return xp.where(torch_nan, x.dtype.type(np.nan), y)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * polygamma(self.n + 1, x)


class Sinc(Function):
    """y = sin(pi x) / (pi x), 1 at x = 0;
    dx = dy * (pi x cos(pi x) - sin(pi x)) / (pi x^2)  (0 where x^2 is 0, as torch: at x = 0
    and where x^2 underflows, |x| < 1e-162 in float64, where the formula would be 0/0)"""

    def forward(self, x):
        with _quiet():
            return get_array_module(x).sinc(x)

    def backward(self, dy):
        (x,) = self.inputs
        zero = x.data * x.data == 0
        x = where(zero, 1.0, x)  # 0/0 nowhere, also not in a recorded graph
        px = x * math.pi
        with _quiet():
            slope = (px * cos(px) - sin(px)) / (px * x)
        return dy * where(zero, 0.0, slope)


class Frac(Function):
    """y = x - trunc(x), the fractional part with x's sign (NaN for +-inf);  dx = dy"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x):
        with _quiet():
            return x - get_array_module(x).trunc(x)

    def backward(self, dy):
        return dy


class Fmod(Function):
    """y = a - trunc(a / b) * b, C's fmod: y has the sign of a (-5 fmod 3 = -2), exact also
    where a / b overflows (fmod(1e300, 1e-300); torch: NaN there);
    da = sum_to(dy), db = sum_to(-dy * trunc(a / b))  (torch's rule)"""

    def forward(self, a, b):
        with _quiet():  # x fmod 0.0 is NaN, silent
            return _binary("fmod", get_array_module(a).fmod, a, b)

    def backward(self, dy):
        a, b = self.inputs
        da = sum_to(dy, a.shape) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            with _quiet():
                quotient = get_array_module(a.data).trunc(a.data / b.data)
            db = sum_to(-dy * quotient, b.shape)
        return da, db


class Hypot(Function):
    """y = sqrt(a^2 + b^2), without overflow in the squares;
    da = sum_to(dy * a / y), db = sum_to(dy * b / y)  (NaN at a = b = 0, as torch)"""

    reads_output = True  # backward reads self.output

    def forward(self, a, b):
        return _binary("hypot", get_array_module(a).hypot, a, b)

    def backward(self, dy):
        a, b = self.inputs
        y = self.output
        with _quiet():
            da = sum_to(dy * a / y, a.shape) if self.needs_input_grad[0] else None
            db = sum_to(dy * b / y, b.shape) if self.needs_input_grad[1] else None
        return da, db


class LogAddExp(Function):
    """y = ln(e^a + e^b), without overflow;
    da = sum_to(dy * sigmoid(a - b)), db = sum_to(dy * sigmoid(b - a))
    (= dy / (1 + e^(b - a)), torch's formula; NaN where a = b = +-inf)"""

    def forward(self, a, b):
        with _quiet():
            return _binary("logaddexp", get_array_module(a).logaddexp, a, b)

    def backward(self, dy):
        a, b = self.inputs
        with _quiet():
            da = sum_to(dy * sigmoid(a - b), a.shape) if self.needs_input_grad[0] else None
            db = sum_to(dy * sigmoid(b - a), b.shape) if self.needs_input_grad[1] else None
        return da, db


class LogAddExp2(Function):
    """y = log2(2^a + 2^b), without overflow;
    da = sum_to(dy * sigmoid((a - b) ln 2)), db = sum_to(dy * sigmoid((b - a) ln 2))
    (= dy / (1 + 2^(b - a)), torch's formula)"""

    def forward(self, a, b):
        with _quiet():
            return _binary("logaddexp2", get_array_module(a).logaddexp2, a, b)

    def backward(self, dy):
        a, b = self.inputs
        with _quiet():
            da = sum_to(dy * sigmoid((a - b) * _LN2), a.shape) if self.needs_input_grad[0] \
                else None
            db = sum_to(dy * sigmoid((b - a) * _LN2), b.shape) if self.needs_input_grad[1] \
                else None
        return da, db


class Xlogy(Function):
    """y = x ln(b), and 0 where x == 0 (unless b is NaN), as torch.xlogy: the convention that
    makes 0 ln 0 = 0 in entropies;
    dx = sum_to(xlogy(dy, b))  (0 where x == 0 and b <= 0: torch's rule, so at x == 0 with
    b > 0 it is dy ln b, the slope of x ln b),  db = sum_to(dy * x / b)"""

    def forward(self, x, b):
        xp = get_array_module(x)
        with _quiet():
            y = _binary("xlogy", operator.mul, x, xp.log(b))
            y = xp.where(x == 0, x.dtype.type(0), y)
            return xp.where(xp.isnan(b), b, y).astype(x.dtype, copy=False)

    def backward(self, dy):
        x, b = self.inputs
        dx = db = None
        with _quiet():
            if self.needs_input_grad[0]:
                skip = (x.data == 0) & (b.data <= 0)
                dx = sum_to(where(skip, 0.0, xlogy(dy, b)), x.shape)
            if self.needs_input_grad[1]:
                db = sum_to(dy * x / b, b.shape)
        return dx, db


class Lerp(Function):
    """y = a + w (b - a), computed as torch does (from the nearer end: b - (b - a)(1 - w) when
    |w| >= 0.5, so that w = 1 gives b exactly);
    da = sum_to(dy * (1 - w)), db = sum_to(dy * w), dw = sum_to(dy * (b - a))"""

    def forward(self, a, b, w):
        xp = get_array_module(a)
        try:
            diff = b - a
        except ValueError as error:
            raise _broadcast_failure("lerp", a, b, error) from None
        try:
            near_a = a + w * diff
            near_b = b - diff * (1 - w)
        except ValueError:
            raise ValueError(
                f"lerp: input {tuple(a.shape)}, end {tuple(b.shape)} and weight "
                f"{tuple(w.shape)} cannot be broadcast together"
            ) from None
        return xp.where(xp.abs(w) < 0.5, near_a, near_b)

    def backward(self, dy):
        a, b, w = self.inputs
        da = sum_to(dy * (1 - w), a.shape) if self.needs_input_grad[0] else None
        db = sum_to(dy * w, b.shape) if self.needs_input_grad[1] else None
        dw = sum_to(dy * (b - a), w.shape) if self.needs_input_grad[2] else None
        return da, db, dw


class Copysign(Function):
    """y = |a| with the sign of b (also of -0.0 and of NaN's sign bit);
    da = dy * y / a  (+-1; 0 where a == 0, as torch),  db = 0"""

    reads_output = True  # backward reads self.output

    def forward(self, a, b):
        return _binary("copysign", get_array_module(a).copysign, a, b)

    def backward(self, dy):
        a, b = self.inputs
        da = db = None
        if self.needs_input_grad[0]:
            ratio = self.output / where(a.data == 0, 1.0, a)  # 0 / 1 where a == 0
            da = sum_to(dy * ratio, a.shape)
        if self.needs_input_grad[1]:
            db = get_array_module(dy.data).zeros(b.shape, dtype=dy.dtype)
        return da, db


class Logit(Function):
    """y = ln(x / (1 - x)), the inverse of sigmoid, with x first clamped into [lo, hi] =
    [eps, 1 - eps] (both in x's dtype, as torch) when eps is given;  dx = dy / (x (1 - x))
    (dy * inf at x = 0 and 1), and outside the range: NaN (no eps: x < 0 or x > 1) or 0
    (x < lo or x > hi), torch's rule"""

    def forward(self, x, eps):
        xp = get_array_module(x)
        self.bounds = None
        if eps is not None:
            lo = x.dtype.type(eps)
            hi = x.dtype.type(1) - lo  # rounded as torch rounds it, not 1 - eps rounded once
            self.bounds = (lo, hi)
            x = xp.where(x < lo, lo, xp.where(x > hi, hi, x))  # torch's clamp, also if lo > hi
        with _quiet():
            return xp.log(x / (1 - x))

    def backward(self, dy):
        (x,) = self.inputs
        if self.bounds is None:
            outside, fill = (x.data < 0) | (x.data > 1), np.nan
        else:
            lo, hi = self.bounds
            outside, fill = (x.data < lo) | (x.data > hi), 0.0
        edge = (x.data == 0) | (x.data == 1)  # dy * inf there, also at -0.0 (torch)
        with _quiet():
            return where(outside, fill, where(edge, dy * math.inf, dy / (x * (1 - x))))


class DivRounded(Function):
    """y = a / b rounded toward 0 (``mode="trunc"``) or toward -inf (``"floor"``), like
    torch.div with a rounding_mode;  da = db = 0 (torch's rule: zeros, not an error)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, a, b, mode):
        xp = get_array_module(a)
        with _quiet():
            if mode == "floor":
                return _binary("div", xp.floor_divide, a, b)
            if a.dtype.kind == "f":
                return xp.trunc(_binary("div", operator.truediv, a, b))
            q = _binary("div", xp.floor_divide, a, b)  # integers: floor, then one up where
            inexact = (q * b != a) & ((a < 0) != (b < 0))  # the exact quotient is negative
            return (q + inexact).astype(q.dtype, copy=False)

    def backward(self, dy):
        a, b = self.inputs
        xp = get_array_module(dy.data)
        da = xp.zeros(a.shape, dtype=dy.dtype) if self.needs_input_grad[0] else None
        db = xp.zeros(b.shape, dtype=dy.dtype) if self.needs_input_grad[1] else None
        return da, db


def asin(x: Tensor) -> Tensor:
    return Asin.apply(_float_input("asin", x))


def acos(x: Tensor) -> Tensor:
    return Acos.apply(_float_input("acos", x))


def sinh(x: Tensor) -> Tensor:
    return Sinh.apply(_float_input("sinh", x))


def cosh(x: Tensor) -> Tensor:
    return Cosh.apply(_float_input("cosh", x))


def asinh(x: Tensor) -> Tensor:
    return Asinh.apply(_float_input("asinh", x))


def acosh(x: Tensor) -> Tensor:
    return Acosh.apply(_float_input("acosh", x))


def atanh(x: Tensor) -> Tensor:
    return Atanh.apply(_float_input("atanh", x))


arcsin = asin
arccos = acos
arctan = atan
arcsinh = asinh
arccosh = acosh
arctanh = atanh


def log2(x: Tensor) -> Tensor:
    return Log2.apply(_float_input("log2", x))


def log10(x: Tensor) -> Tensor:
    return Log10.apply(_float_input("log10", x))


def exp2(x: Tensor) -> Tensor:
    return Exp2.apply(_float_input("exp2", x))


def erfc(x: Tensor) -> Tensor:
    return Erfc.apply(_float_input("erfc", x))


def erfinv(x: Tensor) -> Tensor:
    return Erfinv.apply(_float_input("erfinv", x))


def lgamma(x: Tensor) -> Tensor:
    """ln |Gamma(x)|; for x > 0 the log of the factorial-like Gamma(x) = (x - 1)!."""
    return Lgamma.apply(_float_input("lgamma", x))


def digamma(x: Tensor) -> Tensor:
    """psi(x) = d/dx ln Gamma(x), the derivative of lgamma."""
    return Polygamma.apply(_float_input("digamma", x), n=0)


def polygamma(n: int, x: Tensor) -> Tensor:
    """psi^(n)(x), the n-th derivative of digamma (torch.polygamma(n, input))."""
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n!r}")
    return Polygamma.apply(_float_input("polygamma", x), n=int(n))


def sinc(x: Tensor) -> Tensor:
    """The normalized sinc, sin(pi x) / (pi x), 1 at 0 (torch.sinc, np.sinc)."""
    return Sinc.apply(_float_input("sinc", x))


def frac(x: Tensor) -> Tensor:
    """The fractional part x - trunc(x), with x's sign: frac(-1.5) = -0.5. Floats only."""
    _no_integers("frac", _tensor_input("frac", x))
    return Frac.apply(x)


def fmod(input, other) -> Tensor:  # noqa: A002 - torch names
    """C's fmod, the remainder of the division rounded toward 0, with the sign of ``input``
    (``remainder`` takes the sign of ``other``); broadcasts; integers stay integers."""
    return Fmod.apply(*_division_operands("fmod", input, other, bools=False))


def _float_operands(op: str, a, b, integers: bool) -> tuple[Tensor, Tensor]:
    """``operands``, then integer results become the default float dtype (``integers``) or
    are refused as torch refuses them."""
    a, b = operands(op, a, b)
    if a.dtype.kind != "f":
        if not integers:
            _no_integers(op, a)
        a, b = cast(a, Config.default_dtype), cast(b, Config.default_dtype)
    return a, b


def hypot(input, other) -> Tensor:  # noqa: A002 - torch names
    """sqrt(input^2 + other^2), the length of the hypotenuse; floats only, as torch."""
    return Hypot.apply(*_float_operands("hypot", input, other, integers=False))


def logaddexp(input, other) -> Tensor:  # noqa: A002 - torch names
    """ln(e^input + e^other) without overflow; floats only, as torch."""
    return LogAddExp.apply(*_float_operands("logaddexp", input, other, integers=False))


def logaddexp2(input, other) -> Tensor:  # noqa: A002 - torch names
    """log2(2^input + 2^other) without overflow; floats only, as torch."""
    return LogAddExp2.apply(*_float_operands("logaddexp2", input, other, integers=False))


def xlogy(input, other) -> Tensor:  # noqa: A002 - torch names
    """input * ln(other), 0 where input == 0 (unless other is NaN); integers give floats.

    >>> import tinygrad_edu as tg
    >>> xlogy(tg.tensor([0.0, 2.0]), tg.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    return Xlogy.apply(*_float_operands("xlogy", input, other, integers=True))


def lerp(input, end, weight) -> Tensor:  # noqa: A002 - torch names
    """input + weight * (end - input): the straight line from input (weight 0) to end
    (weight 1); weight is a number or a tensor (which gets a gradient). Floats only."""
    a, b = operands("lerp", input, end)
    _no_integers("lerp", a)
    w = _as_tensor("lerp", weight, a)
    if w.dtype != a.dtype:
        dtype = result_dtype(a, w) if isinstance(weight, Tensor) else a.dtype
        a, b, w = cast(a, dtype), cast(b, dtype), cast(w, dtype)
    return Lerp.apply(a, b, w)


def addcmul(input, tensor1, tensor2, value=1) -> Tensor:  # noqa: A002 - torch names
    """input + value * tensor1 * tensor2, all three broadcasting."""
    product = mul(tensor1, tensor2)
    if value != 1:
        product = product * value
    return add(input, product)


def addcdiv(input, tensor1, tensor2, value=1) -> Tensor:  # noqa: A002 - torch names
    """input + value * tensor1 / tensor2, all three broadcasting; integer tensor1 and tensor2
    are refused, as torch refuses them (use true division explicitly)."""
    t1, t2 = operands("addcdiv", tensor1, tensor2)
    if t1.dtype.kind != "f":
        raise RuntimeError(
            f"addcdiv: integer division with addcdiv is not supported (torch's rule; tensor1 "
            f"{t1.dtype} {tuple(t1.shape)}, tensor2 {t2.dtype} {tuple(t2.shape)}): "
            "cast them to a floating point dtype first"
        )
    quotient = div(t1, t2)
    if value != 1:
        quotient = quotient * value
    return add(input, quotient)


def copysign(input, other) -> Tensor:  # noqa: A002 - torch names
    """|input| with the sign of other (number or tensor); integers give floats, as torch.
    Only input gets a gradient (other's is zeros)."""
    return Copysign.apply(*_float_operands("copysign", input, other, integers=True))


def signbit(x: Tensor) -> Tensor:
    """True where the sign bit is set (x < 0, and -0.0, and NaNs with the bit); no gradient."""
    xp = get_array_module(_tensor_input("signbit", x).data)
    if x.dtype.kind == "f":
        return Tensor._wrap(xp.signbit(x.data), False)
    return Tensor._wrap(x.data < 0 if x.dtype.kind in "iu" else xp.zeros(x.shape, bool), False)


def logit(x: Tensor, eps=None) -> Tensor:
    """ln(x / (1 - x)), the inverse of sigmoid; with ``eps`` x is first clamped into
    [eps, 1 - eps] (finite at 0 and 1); a negative (or NaN) eps is no eps, as in torch.
    Integers give floats."""
    x = _float_input("logit", x)
    if eps is not None:
        if not isinstance(eps, numbers.Real):
            raise TypeError(f"logit: expected eps to be a number or None, got "
                            f"{type(eps).__name__}")
        if not eps >= 0:
            eps = None
    return Logit.apply(x, eps=eps)


def float_power(input, exponent) -> Tensor:  # noqa: A002 - torch names
    """input ** exponent computed in float64, whatever the inputs' dtypes (torch.float_power);
    the gradients go back to the inputs' own dtypes."""
    if isinstance(input, Tensor) and isinstance(exponent, numbers.Real):
        return pow(cast(input, np.float64), float(exponent))
    like = input if isinstance(input, Tensor) else exponent
    if not isinstance(like, Tensor):
        raise TypeError("float_power: expected at least one Tensor, got two numbers")
    for v in (input, exponent):
        if not isinstance(v, (Tensor, numbers.Real)):
            raise TypeError(f"float_power: expected a Tensor or a real number, got "
                            f"{type(v).__name__}")
    xp = get_array_module(like.data)
    a, b = [cast(v, np.float64) if isinstance(v, Tensor)
            else Tensor._wrap(constant(xp, v, np.float64)) for v in (input, exponent)]
    return Pow.apply(a, b)


def sgn(x: Tensor) -> Tensor:
    """torch.sgn: x / |x| for complex numbers; for real tensors the same as ``sign``."""
    return sign(_tensor_input("sgn", x))


absolute = abs
multiply = mul
subtract = sub
true_divide = div
negative = neg
greater = gt
greater_equal = ge
less = lt
less_equal = le
not_equal = ne


def divide(input, other, rounding_mode=None) -> Tensor:  # noqa: A002 - torch names
    """torch.div with its rounding modes: None is true division (integers give floats);
    "trunc" rounds toward 0 and "floor" toward -inf, keeping integer dtypes (and raising on an
    integer division by zero, as torch). The rounded quotients have zero gradients."""
    if rounding_mode is None:
        return div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(
            f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"{rounding_mode!r}"
        )
    a, b = _division_operands("div", input, other)
    if a.dtype.kind == "b":
        a, b = cast(a, np.int64), cast(b, np.int64)
    return DivRounded.apply(a, b, mode=rounding_mode)


def positive(x: Tensor) -> Tensor:
    """+x: x itself (torch.positive); bool tensors are refused, as torch refuses them."""
    if _tensor_input("positive", x).dtype.kind == "b":
        raise TypeError("positive: the + operator on a bool tensor is not supported (torch's "
                        f"neither; shape {tuple(x.shape)})")
    return x


def isposinf(x: Tensor) -> Tensor:
    """True where x is +inf; no gradient."""
    xp = get_array_module(_tensor_input("isposinf", x).data)
    if x.dtype.kind != "f":
        return Tensor._wrap(xp.zeros(x.shape, dtype=bool), False)
    return Tensor._wrap(xp.isposinf(x.data), False)


def isneginf(x: Tensor) -> Tensor:
    """True where x is -inf; no gradient."""
    xp = get_array_module(_tensor_input("isneginf", x).data)
    if x.dtype.kind != "f":
        return Tensor._wrap(xp.zeros(x.shape, dtype=bool), False)
    return Tensor._wrap(xp.isneginf(x.data), False)


def isreal(x: Tensor) -> Tensor:
    """True where x has no imaginary part: everywhere for real tensors; no gradient."""
    xp = get_array_module(_tensor_input("isreal", x).data)
    if x.dtype.kind == "c":
        return Tensor._wrap(x.data.imag == 0, False)
    return Tensor._wrap(xp.ones(x.shape, dtype=bool), False)
