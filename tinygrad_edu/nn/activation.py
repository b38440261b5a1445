"""Activation modules: thin Modules around the ops in ``tinygrad_edu.functional``.

Each docstring gives the function and its derivative; the op's ``Function`` class (in
``functional/elementwise.py`` or ``functional/reduce.py``) holds the forward and backward code.
``inplace=True`` is accepted for torch compatibility but the result is always a new tensor
(this engine never overwrites a tensor that autograd may still need).
"""

from __future__ import annotations

import warnings

from .. import functional as F
from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x;  dy/dx = 1 or negative_slope."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), Phi the standard normal CDF;
    dy/dx = Phi(x) + x phi(x).  ``approximate="tanh"``:
    y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """y = x if x > 0 else alpha (e^x - 1);  dy/dx = 1 if x > 0 else y + alpha."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Module):
    """y = log(1 + e^(beta x)) / beta (y = x where beta x > threshold, for stability);
    dy/dx = sigmoid(beta x)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """y = x sigmoid(x) (a.k.a. swish);  dy/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


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

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("Softmax", x.ndim)
        return F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i - log sum_j e^(x_j) along ``dim``;  dx = dy - softmax(x) * sum_j dy_j."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("LogSoftmax", x.ndim)
        return F.log_softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


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
