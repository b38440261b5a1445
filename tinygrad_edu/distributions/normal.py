"""Normal(loc, scale): the Gaussian, reparameterizable."""

from __future__ import annotations

import math

from ..tensor import Tensor, randn
from . import constraints
from .distribution import LOG_SQRT_2PI, Distribution, broadcast_all


class Normal(Distribution):
    """N(mu, sigma^2):  p(x) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi)).

    log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
    H = 1/2 + log sqrt(2 pi) + log sigma;  mean mu, variance sigma^2.
    rsample: x = mu + sigma * eps with eps ~ N(0, 1), so dx/dmu = 1, dx/dsigma = eps.

    >>> import tinygrad_edu as tg
    >>> d = Normal(tg.tensor([0.0, 1.0]), 2.0)
    >>> d.batch_shape, d.sample((5,)).shape
    ((2,), (5, 2))
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale * self.scale

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype, device=self.loc.device)  # (*S, *B)
        return self.loc + eps * self.scale

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale * self.scale
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - LOG_SQRT_2PI

    def entropy(self) -> Tensor:
        return 0.5 + LOG_SQRT_2PI + self.scale.log()

    def cdf(self, value) -> Tensor:
        """F(x) = (1 + erf((x - mu) / (sigma sqrt 2))) / 2."""
        if self._validate_args:
            self._validate_sample(value, "cdf")
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value) -> Tensor:
        """F^-1(q) = mu + sigma sqrt(2) erfinv(2 q - 1)."""
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)
