"""Uniform(low, high): constant density 1 / (high - low) on [low, high), reparameterizable;
its support (what validate_args accepts) is [low, high], as torch's."""

from __future__ import annotations

from .. import functional as F
from ..backend import get_array_module
from ..tensor import Tensor, rand
from . import constraints
from .distribution import Distribution, _bad_values, broadcast_all


class Uniform(Distribution):
    """U(a, b):  p(x) = 1 / (b - a) for a <= x < b, else 0.

    log p(x) = -log(b - a) inside, -inf outside;  H = log(b - a);
    mean (a + b) / 2, variance (b - a)^2 / 12.
    rsample: x = a + u (b - a) with u ~ U[0, 1), so dx/da = 1 - u, dx/db = u.
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args:
            ok = self.low.data < self.high.data
            if not bool(get_array_module(ok).all(ok)):
                raise ValueError(f"Uniform: expected low < high elementwise (shape "
                                 f"{tuple(self.low.shape)}), but found low values "
                                 f"{_bad_values(self.low.data, ok)} with high values "
                                 f"{_bad_values(self.high.data, ok)}")

    @property
    def support(self):
        return constraints.Interval(self.low.data, self.high.data)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = rand(shape, dtype=self.low.dtype, device=self.low.device)  # (*S, *B)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (value < self.high)
        log_width = (self.high - self.low).log()
        # torch's log(1[inside]) - log(b - a): the gradient reaches a and b also outside
        return F.where(inside, 0.0, float("-inf")) - log_width

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()

    def cdf(self, value) -> Tensor:
        """F(x) = clamp((x - a) / (b - a), 0, 1)."""
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value) -> Tensor:
        """F^-1(q) = a + q (b - a)."""
        return self.low + value * (self.high - self.low)
