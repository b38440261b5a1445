"""Activation modules: thin Modules around the ops in ``tinygrad_edu.functional``.

Each docstring gives the function and its derivative; the op's ``Function`` class (in
``functional/elementwise.py`` or ``functional/reduce.py``) holds the forward and backward code.
The piecewise-linear "hard" activations (Hardtanh/ReLU6, Hardsigmoid, Hardswish, Hardshrink,
Softshrink, Threshold) are ``Function`` ops defined here, with torch's gradients at the kinks;
Mish, Softsign, Tanhshrink, PReLU and RReLU are composites of differentiable ops.
``inplace=True`` (and ``nn.functional``'s ``relu_``, ``elu_``, ...) writes the result into the
input's memory and returns the input, as in torch (``in_place``): recorded in the graph when the
input requires grad, refused for a leaf that requires grad, as torch refuses it.
"""

from __future__ import annotations

import numbers
import warnings

from .. import functional as F
from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor, _random_array, empty
from .init import constant_
from .module import Module, Parameter, check_input_dtype

# ----------------------------------------------------------------------------------------------
# The piecewise-linear activations: forward and backward (torch's values at the kinks)
# ----------------------------------------------------------------------------------------------


class HardtanhOp(Function):
    """y = min(max(x, lo), hi);  dx = dy where lo < x < hi, else 0 (0 at x = lo and x = hi,
    as torch's hardtanh_backward: unlike clamp, the gradient stops at the bounds)"""

    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        # the cast keeps an integer x integer (np.clip with float bounds would give float64)
        return get_array_module(x).clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        inside = (x.data > self.lo) & (x.data < self.hi)
        return dy * inside.astype(dy.dtype)


class HardsigmoidOp(Function):
    """y = min(max(x + 3, 0), 6) / 6;  dx = dy / 6 where -3 < x < 3, else 0"""

    def forward(self, x):
        return get_array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, dy):
        (x,) = self.inputs
        inside = (x.data > -3) & (x.data < 3)
        return dy * (inside.astype(dy.dtype) / 6)


class HardswishOp(Function):
    """y = x * min(max(x + 3, 0), 6) / 6;
    dx = 0 where x <= -3,  dy * (x / 3 + 1/2) where -3 < x < 3,  dy where x >= 3
    (torch's hardswish_backward, kinks included)"""

    def forward(self, x):
        return x * get_array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, dy):
        (x,) = self.inputs
        slope = F.where(x.data < 3, x / 3 + 0.5, 1.0)  # x a Tensor: differentiable again
        slope = F.where(x.data <= -3, 0.0, slope)
        return dy * slope


def _outside(x, lambd):
    """The mask of |x| > lambd, written as torch writes it: not (-lambd <= x <= lambd)
    (so a negative lambd keeps every x, and NaN stays NaN)."""
    return ~((x >= -lambd) & (x <= lambd))


class HardshrinkOp(Function):
    """y = x where |x| > lambd, else 0;  dx = dy where |x| > lambd, else 0
    (0 at |x| = lambd, as torch's hardshrink_backward)"""

    def forward(self, x, lambd):
        self.lambd = lambd
        return get_array_module(x).where(_outside(x, lambd), x, 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * _outside(x.data, self.lambd).astype(dy.dtype)


class SoftshrinkOp(Function):
    """y = x - lambd where x > lambd, x + lambd where x < -lambd, else 0;
    dx = dy where |x| > lambd, else 0 (0 at |x| = lambd, as torch's softshrink_backward)"""

    def forward(self, x, lambd):
        self.lambd = lambd
        xp = get_array_module(x)
        y = xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, x * 0))
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * _outside(x.data, self.lambd).astype(dy.dtype)


class ThresholdOp(Function):
    """y = value where x <= threshold, else x;  dx = 0 where x <= threshold, else dy
    (0 at x = threshold; NaN passes through, as torch's threshold and threshold_backward)"""

    def forward(self, x, threshold, value):
        self.threshold = threshold
        return get_array_module(x).where(x <= threshold, value, x).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * (~(x.data <= self.threshold)).astype(dy.dtype)


# ----------------------------------------------------------------------------------------------
# Functional forms (torch.nn.functional names and arguments)
# ----------------------------------------------------------------------------------------------


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """min(max(x, min_val), max_val);  d/dx = 1 strictly between the bounds, else 0."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val="
                         f"{min_val} and max_val={max_val}")
    if inplace:
        return in_place("hardtanh_", hardtanh, input, min_val, max_val)
    return HardtanhOp.apply(input, lo=min_val, hi=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """min(max(x, 0), 6) = hardtanh(x, 0, 6);  d/dx = 1 for 0 < x < 6, else 0."""
    if inplace:
        return in_place("relu6_", relu6, input)
    return HardtanhOp.apply(input, lo=0.0, hi=6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """relu6(x + 3) / 6;  d/dx = 1/6 for -3 < x < 3, else 0."""
    if inplace:
        return in_place("hardsigmoid_", hardsigmoid, input)
    return HardsigmoidOp.apply(_float_tensor("hardsigmoid", input))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """x * relu6(x + 3) / 6 (MobileNetV3);  d/dx = 0, x/3 + 1/2 or 1 (see ``HardswishOp``)."""
    if inplace:
        return in_place("hardswish_", hardswish, input)
    return HardswishOp.apply(_float_tensor("hardswish", input))


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """x * tanh(softplus(x));  d/dx = t + x * sigmoid(x) * (1 - t^2) with t = tanh(softplus(x))
    (the chain rule through the three ops)."""
    if inplace:
        return in_place("mish_", mish, input)
    return input * F.tanh(F.softplus(input))


def softsign(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    """x / (1 + |x|);  d/dx = 1 / (1 + |x|)^2."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    """x - tanh(x);  d/dx = tanh(x)^2."""
    return input - F.tanh(input)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002 - torch names
    """x if x > 0 else a * x, with ``weight`` a (one number, or one per channel = dim 1);
    dx = dy if x > 0 else a * dy,  da = sum of dy * x over the x <= 0 (of its channel)."""
    if weight.ndim > 1:
        raise ValueError(f"prelu: expected weight to be a scalar or 1D tensor, got shape "
                         f"{tuple(weight.shape)}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    count = weight.numel()
    if count == 1:
        a = weight.reshape(())  # one slope for every element
    elif count == channels:
        a = weight.reshape((channels,) + (1,) * (input.ndim - 2))  # (C, 1, ...): per channel
    else:
        raise ValueError(
            f"prelu: weight has {count} parameters but the input (shape "
            f"{tuple(input.shape)}) has {channels} channels (dim 1); expected 1 or {channels}"
        )
    return F.where(input.data > 0, input, a * input)


SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017, torch's constants
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """scale * (x if x > 0 else alpha (e^x - 1)) = scale * elu(x, alpha) with torch's fixed
    alpha ~ 1.6733 and scale ~ 1.0507;  d/dx = scale if x > 0 else scale * alpha e^x."""
    if inplace:
        return in_place("selu_", selu, input)
    return F.elu(input, SELU_ALPHA) * SELU_SCALE


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x if x > 0 else alpha (e^(x / alpha) - 1) = alpha * elu(x / alpha);
    d/dx = 1 if x > 0 else e^(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (the formula divides x by alpha)")
    if inplace:
        return in_place("celu_", celu, input, alpha)
    return F.elu(input / alpha, 1.0) * alpha


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002 - torch names
    """Gated linear unit: split x in halves a, b along ``dim``, y = a * sigmoid(b);
    da = dy * sigmoid(b),  db = dy * a * sigmoid(b) (1 - sigmoid(b))."""
    if input.ndim == 0:
        raise ValueError("glu does not support scalars because halving size must be even")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for a {input.ndim}-d input (shape "
                         f"{tuple(input.shape)}); expected {-input.ndim} <= dim < {input.ndim}")
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size "
                         f"{size} (input shape {tuple(input.shape)})")
    a, b = input.chunk(2, dim)  # each (..., size / 2, ...)
    return a * F.sigmoid(b)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype=None) -> Tensor:
    """softmax(-x) along ``dim``: y_i = e^(-x_i) / sum_j e^(-x_j);
    dx = -y * (dy - sum_j dy_j y_j)."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim)
    return F.softmax(-input, dim)


def _float_tensor(op: str, input) -> Tensor:  # noqa: A002 - torch names
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {input.dtype} "
                        f"(shape {tuple(input.shape)})")
    return input


def in_place(op: str, fn, input, *args) -> Tensor:  # noqa: A002 - torch names
    """``fn(input, *args)`` written into ``input``'s memory; returns ``input`` (torch's
    ``inplace=True`` and ``F.relu_``). Inside a graph the update is recorded
    (``Tensor._apply_in_place``): later uses of ``input`` see the new values, and the
    gradient flows through ``fn`` to what ``input`` was. The result must keep ``input``'s
    shape and dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return input._apply_in_place(op, fn, args, {})


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002 - torch names
    """x where |x| > lambd, else 0;  d/dx = 1 where |x| > lambd, else 0."""
    return HardshrinkOp.apply(_float_tensor("hardshrink", input), lambd=lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002 - torch names
    """x - lambd (x > lambd), x + lambd (x < -lambd), else 0 (soft thresholding, the proximal
    map of lambd |x|);  d/dx = 1 where |x| > lambd, else 0."""
    if not lambd >= 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return SoftshrinkOp.apply(_float_tensor("softshrink", input), lambd=lambd)


def threshold(input: Tensor, threshold: float, value: float,  # noqa: A002 - torch names
              inplace: bool = False) -> Tensor:
    """x where x > threshold, else value;  d/dx = 1 where x > threshold, else 0."""
    if not isinstance(input, Tensor):
        raise TypeError(f"threshold: expected a Tensor, got {type(input).__name__}")
    if inplace:
        # (the argument ``threshold`` hides this function's name: the op itself is applied)
        return in_place("threshold_", lambda x: ThresholdOp.apply(x, threshold=threshold,
                                                                   value=value), input)
    return ThresholdOp.apply(input, threshold=threshold, value=value)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,  # noqa: A002
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: y = x if x > 0 else a x, with
    training: one a ~ U(lower, upper) per element, drawn from the library's generator
    (``tg.manual_seed``), so dx = dy if x > 0 else a dy;
    evaluation (``training=False``, the default, as torch): a = (lower + upper) / 2 for every
    element, a leaky_relu.  Pass ``self.training`` from a Module."""
    _float_tensor("rrelu", input)
    if not lower <= upper:
        raise ValueError(f"rrelu: the lower bound must be less than or equal to the upper "
                         f"bound, got lower={lower} and upper={upper}")
    if inplace:
        return in_place("rrelu_", rrelu, input, lower, upper, training)
    if not training:
        return F.leaky_relu(input, (lower + upper) / 2)
    slopes = _random_array("uniform", input.shape, input.dtype, input.device, lower, upper)
    xp = get_array_module(slopes)
    noise = xp.where(input.data > 0, 1, slopes).astype(input.dtype, copy=False)  # 1 or a
    return input * Tensor._wrap(noise, False)


class ReLU(Module):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return in_place("relu_", F.relu, input) if self.inplace else F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x;  dy/dx = 1 or negative_slope."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return in_place("leaky_relu_", F.leaky_relu, input, self.negative_slope)
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"


class Sigmoid(Module):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class GELU(Module):
    """y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), Phi the standard normal CDF;
    dy/dx = Phi(x) + x phi(x).  ``approximate="tanh"``:
    y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """y = x if x > 0 else alpha (e^x - 1);  dy/dx = 1 if x > 0 else y + alpha."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return in_place("elu_", F.elu, input, self.alpha)
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace}"


class Softplus(Module):
    """y = log(1 + e^(beta x)) / beta (y = x where beta x > threshold, for stability);
    dy/dx = sigmoid(beta x)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """y = x sigmoid(x) (a.k.a. swish);  dy/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return in_place("silu_", F.silu, input) if self.inplace else F.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val);  dy/dx = 1 for min_val < x < max_val, else 0."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if not max_val > min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val, self.max_val = min_val, max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return hardtanh(input, self.min_val, self.max_val, inplace=self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6);  dy/dx = 1 for 0 < x < 6, else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(Module):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 for -3 < x < 3, else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return hardsigmoid(input, inplace=self.inplace)


class Hardswish(Module):
    """y = x relu6(x + 3) / 6;  dy/dx = 0 (x <= -3), x/3 + 1/2 (-3 < x < 3), 1 (x >= 3)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return hardswish(input, inplace=self.inplace)


class Mish(Module):
    """y = x tanh(softplus(x));  dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return mish(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softsign(Module):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2."""

    def forward(self, input: Tensor) -> Tensor:
        return softsign(input)


class Tanhshrink(Module):
    """y = x - tanh x;  dy/dx = tanh(x)^2."""

    def forward(self, input: Tensor) -> Tensor:
        return tanhshrink(input)


class PReLU(Module):
    """y = x if x > 0 else a x with a learnable slope a: one shared by all channels
    (``num_parameters=1``) or one per channel (dim 1), initialized to ``init``;
    dy/dx = 1 or a,  dy/da = sum of x over the x <= 0 of its channel (times dy).

    >>> import tinygrad_edu as tg
    >>> PReLU()(tg.tensor([-2.0, 3.0])).tolist()
    [-0.5, 3.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if not isinstance(num_parameters, numbers.Integral) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.init = init
        self.weight = Parameter(empty(self.num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        check_input_dtype(self, input, self.weight)
        return prelu(input, self.weight)

    def _describe(self) -> str:
        return f"PReLU(num_parameters={self.num_parameters})"

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


def _implicit_softmax_dim(name: str, ndim: int) -> int:
    """torch's legacy rule when ``dim`` is not given: 0 for 0-, 1- and 3-d inputs, else 1."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated (using dim={dim} for a "
        f"{ndim}-d input). Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return dim


class Softmax(Module):
    """y_i = e^(x_i) / sum_j e^(x_j) along ``dim``;  dx = y * (dy - sum_j dy_j y_j)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("Softmax", input.ndim)
        return F.softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i - log sum_j e^(x_j) along ``dim``;  dx = dy - softmax(x) * sum_j dy_j."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("LogSoftmax", input.ndim)
        return F.log_softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSigmoid(Module):
    """y = log sigmoid(x) = -softplus(-x) (finite for any x);  dy/dx = sigmoid(-x) = 1 - e^y."""

    def forward(self, input: Tensor) -> Tensor:
        # nn.functional.logsigmoid's formula (that module imports this one, not the reverse)
        return -F.softplus(-input, beta=1.0, threshold=float("inf"))


class SELU(Module):
    """y = scale * (x if x > 0 else alpha (e^x - 1)), alpha ~ 1.6733, scale ~ 1.0507
    (self-normalizing networks);  dy/dx = scale or scale * alpha e^x."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return selu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    """y = x if x > 0 else alpha (e^(x / alpha) - 1);  dy/dx = 1 or e^(x / alpha)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return celu(input, self.alpha, inplace=self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace}"


class GLU(Module):
    """Split x in halves a, b along ``dim``; y = a * sigmoid(b) (half the size along dim)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """y_i = e^(-x_i) / sum_j e^(-x_j) along ``dim`` = softmax(-x);
    dx = -y * (dy - sum_j dy_j y_j)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("Softmin", input.ndim)
        return F.softmax(-input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(Module):
    """y = x where |x| > lambd, else 0;  dy/dx = 1 where |x| > lambd, else 0.

    >>> import tinygrad_edu as tg
    >>> Hardshrink()(tg.tensor([-1.0, 0.25, 0.5, 2.0])).tolist()
    [-1.0, 0.0, 0.0, 2.0]
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """y = x - lambd (x > lambd), x + lambd (x < -lambd), else 0;
    dy/dx = 1 where |x| > lambd, else 0.

    >>> import tinygrad_edu as tg
    >>> Softshrink()(tg.tensor([-1.0, 0.25, 2.0])).tolist()
    [-0.5, 0.0, 1.5]
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Threshold(Module):
    """y = x where x > threshold, else value;  dy/dx = 1 where x > threshold, else 0."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return threshold(input, self.threshold, self.value, inplace=self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace}"


class RReLU(Module):
    """Randomized leaky ReLU (Xu et al. 2015): y = x if x > 0 else a x;
    training: a ~ U(lower, upper), one per element and call (seeded by ``tg.manual_seed``);
    evaluation: a = (lower + upper) / 2.  dy/dx = 1 or a."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return rrelu(input, self.lower, self.upper, self.training, inplace=self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace}"


class Softmax2d(Module):
    """Softmax over the channels at every position of (N, C, H, W) or (C, H, W):
    y[.., c, h, w] = e^(x[.., c, h, w]) / sum_k e^(x[.., k, h, w]) (dim -3);
    dx = y * (dy - sum_k dy_k y_k)."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D (C, H, W) or 4D "
                             f"(N, C, H, W), got {input.ndim}D instead "
                             f"(shape {tuple(input.shape)})")
        return F.softmax(input, -3)


_BY_NAME = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "gelu": GELU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "elu": ELU,
    "silu": SiLU,
    "swish": SiLU,
    "softplus": Softplus,
    "relu6": ReLU6,
    "hardtanh": Hardtanh,
    "hardsigmoid": Hardsigmoid,
    "hardswish": Hardswish,
    "mish": Mish,
    "softsign": Softsign,
    "tanhshrink": Tanhshrink,
    "prelu": PReLU,
    "logsigmoid": LogSigmoid,
    "selu": SELU,
    "celu": CELU,
    "hardshrink": Hardshrink,
    "softshrink": Softshrink,
    "rrelu": RReLU,
}


def make_activation(activation, owner: str = "make_activation") -> Module:
    """An activation Module from a name ("relu", "gelu", ..., "identity") or a factory."""
    if isinstance(activation, str):
        key = activation.lower()
        if key in ("identity", "linear", "none"):
            from .linear import Identity

            return Identity()
        if key not in _BY_NAME:
            raise ValueError(
                f"{owner}: unknown activation {activation!r}; expected one of "
                f"{sorted(_BY_NAME) + ['identity']} or a callable returning a Module"
            )
        return _BY_NAME[key]()
    if isinstance(activation, Module):
        raise TypeError(
            f"{owner}: pass the activation class or name (e.g. nn.ReLU or 'relu'), not an "
            f"instance ({activation!r}), so that every layer gets its own module"
        )
    if callable(activation):
        module = activation()
        if not isinstance(module, Module):
            raise TypeError(f"{owner}: activation factory returned {type(module).__name__}, "
                            "expected a Module")
        return module
    raise TypeError(f"{owner}: activation must be a name or a callable, got {activation!r}")
