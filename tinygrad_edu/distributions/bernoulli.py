"""Bernoulli(probs or logits): one coin flip per batch element."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .. import functional as F
from ..tensor import Tensor, bernoulli
from . import constraints
from .distribution import Distribution, broadcast_all


def clamp_probs(probs: Tensor) -> Tensor:
    """p clamped to [eps, 1 - eps] (eps = the dtype's machine epsilon) so log p stays finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(eps, 1 - eps)


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) = logaddexp(0, x), exact and without overflow; d/dx = sigmoid(x)."""
    return F.logaddexp(0.0, x)


class Bernoulli(Distribution):
    """P(x = 1) = p, P(x = 0) = 1 - p; given ``probs`` p or ``logits`` l = log(p / (1 - p)).

    log P(x) = x l - softplus(l)   (= x log p + (1 - x) log(1 - p))
    H = softplus(l) - p l;  mean p, variance p (1 - p).
    Not reparameterizable: ``sample`` has no gradient (use log_prob for REINFORCE).
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: expected exactly one of probs or logits, got "
                             f"{'both' if probs is not None else 'neither'}")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        super().__init__(param.shape, validate_args=validate_args)

    @cached_property
    def logits(self) -> Tensor:  # noqa: F811 - set in __init__ or derived here
        """l = log p - log(1 - p), with p clamped away from 0 and 1."""
        p = clamp_probs(self.probs)
        return p.log() - (-p).log1p()

    @cached_property
    def probs(self) -> Tensor:  # noqa: F811
        """p = sigmoid(l)."""
        return self.logits.sigmoid()

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        probs = self.probs.detach().expand(shape)  # (*S, *B)
        return bernoulli(probs.contiguous())

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return value * logits - softplus(logits)

    def entropy(self) -> Tensor:
        return softplus(self.logits) - self.probs * self.logits
