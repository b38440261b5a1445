"""``Distribution``: the base class, with shapes and argument checks (torch.distributions).

Shapes: a draw of ``sample(sample_shape)`` has shape ``sample_shape + batch_shape +
event_shape``. ``batch_shape`` counts independent distributions with different parameters
(the broadcast shape of the parameters); ``event_shape`` is the shape of one draw of one of
them (``()`` for every distribution here). ``log_prob(value)`` returns ``value``'s shape
without the event dims.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import functional as F
from ..autograd import Config, no_grad
from ..backend import get_array_module, to_numpy
from ..tensor import Tensor
from . import constraints


def broadcast_all(*values) -> tuple:
    """Tensors of one broadcast shape from tensors and numbers (torch's broadcast_all).

    Numbers become tensors of the first tensor's dtype and device (the default dtype when all
    are numbers); the expand is differentiable, so gradients reach the original parameters.
    """
    like = next((v for v in values if isinstance(v, Tensor)), None)
    tensors = []
    for v in values:
        if isinstance(v, Tensor):
            tensors.append(v)
        elif isinstance(v, numbers.Number):
            if like is None:
                tensors.append(Tensor(float(v), dtype=Config.default_dtype))
            else:
                tensors.append(Tensor(float(v), dtype=like.dtype, device=like.device))
        else:
            raise TypeError(f"broadcast_all: expected Tensors or numbers, got "
                            f"{type(v).__name__}")
    shape = F.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    # expand only what needs it: a parameter already of the full shape stays the user's leaf
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in tensors)


def _bad_values(array, ok) -> str:
    """The first few offending values, for an error message."""
    bad = to_numpy(array)[~to_numpy(ok)]
    return np.array2string(bad[:5], precision=4) + (" ..." if bad.size > 5 else "")


class Distribution:
    """A batch of probability distributions; subclasses give the density and the sampler.

    Every subclass sets ``arg_constraints`` (parameter name -> constraint) and ``support``;
    with ``validate_args`` (default True, as in torch) ``__init__`` checks the parameters and
    ``log_prob`` checks that the value is in the support.
    """

    arg_constraints: dict = {}
    support: constraints.Constraint | None = None
    has_rsample = False
    _validate_default = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Switch argument checks on or off for distributions made afterwards."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate_args = Distribution._validate_default if validate_args is None \
            else bool(validate_args)
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if constraint is constraints.dependent or name not in self.__dict__:
                    continue  # a derived parameter (probs from logits) is not checked
                self._check(name, getattr(self, name), constraint)

    def _check(self, name: str, value: Tensor, constraint) -> None:
        ok = constraint.check(value.data)
        if not bool(get_array_module(ok).all(ok)):
            raise ValueError(f"{type(self).__name__}: expected parameter {name} (shape "
                             f"{tuple(value.shape)}) to be {constraint}, but found invalid "
                             f"values: {_bad_values(value.data, ok)}")

    # ---- shapes ----------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        """sample_shape + batch_shape + event_shape: the shape of ``sample(sample_shape)``."""
        if isinstance(sample_shape, numbers.Integral):
            sample_shape = (sample_shape,)
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    # ---- moments ---------------------------------------------------------------------------
    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    # ---- sampling and densities ------------------------------------------------------------
    def rsample(self, sample_shape=()) -> Tensor:
        """A reparameterized draw: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no rsample (not reparameterizable"
                                  f"); use sample() and the score-function estimator")

    def sample(self, sample_shape=()) -> Tensor:
        """A draw that is not differentiable (``rsample`` under ``no_grad`` by default)."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def log_prob(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def cdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def _validate_sample(self, value: Tensor, method: str = "log_prob") -> None:
        """``value`` broadcasts with batch_shape + event_shape and lies in the support;
        errors name ``<Distribution>.<method>``."""
        op = f"{type(self).__name__}.{method}"
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(value).__name__}")
        expected = self._batch_shape + self._event_shape
        try:
            F.broadcast_shapes(tuple(value.shape), expected)
        except (ValueError, RuntimeError):
            raise ValueError(f"{op}: value of shape {tuple(value.shape)} does not broadcast "
                             f"with batch_shape + event_shape {expected}") from None
        ok = self.support.check(value.data)
        if not bool(get_array_module(ok).all(ok)):
            raise ValueError(f"{op}: expected value (shape {tuple(value.shape)}) to be "
                             f"{self.support}, but found invalid values: "
                             f"{_bad_values(value.data, ok)}")

    def __repr__(self) -> str:
        names = [n for n in self.arg_constraints if n in self.__dict__]
        args = ", ".join(f"{n}: {tuple(getattr(self, n).shape)}" for n in names)
        return f"{type(self).__name__}({args})"


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
