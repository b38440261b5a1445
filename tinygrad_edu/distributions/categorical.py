"""Categorical(probs or logits): one of K classes per batch element."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor, rand
from . import constraints
from .bernoulli import clamp_probs
from .distribution import Distribution


class Categorical(Distribution):
    """P(x = k) = p_k for k in {0, ..., K-1}; parameters have shape (*B, K).

    ``probs`` are normalized along the last dim (p = w / sum w); ``logits`` are
    unnormalized log-probabilities, normalized as l - logsumexp(l).
    log P(k) = log_softmax(l)_k  (a gather along the last dim);  H = -sum_k p_k log p_k.
    mean and variance are NaN (the classes are labels, not numbers), as in torch.
    """

    arg_constraints = {"probs": constraints.nonnegative_rows, "logits": constraints.real}

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: expected exactly one of probs or logits, got "
                             f"{'both' if probs is not None else 'neither'}")
        param = probs if probs is not None else logits
        name = "probs" if probs is not None else "logits"
        if not isinstance(param, Tensor) or param.ndim < 1:
            shape = tuple(param.shape) if isinstance(param, Tensor) else type(param).__name__
            raise ValueError(f"Categorical: {name} must be a Tensor with at least one "
                             f"dimension (*B, K), got {shape}")
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)
        if self._validate_args:  # the user's parameter, before normalizing
            self._check(name, param, self.arg_constraints[name])
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)  # (*B, K)
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)  # (*B, K)

    @cached_property
    def logits(self) -> Tensor:  # noqa: F811 - set in __init__ or derived here
        """log p, with p clamped away from 0 and 1 so it stays finite."""
        return clamp_probs(self.probs).log()

    @cached_property
    def probs(self) -> Tensor:  # noqa: F811
        """p = softmax(l) along the last dim."""
        return self.logits.softmax(-1)

    @property
    def support(self):
        return constraints.IntegerInterval(0, self._num_events - 1)

    @property
    def param_shape(self) -> tuple:
        return self._batch_shape + (self._num_events,)

    @property
    def mean(self) -> Tensor:
        return self._nan()

    @property
    def variance(self) -> Tensor:
        return self._nan()

    def _nan(self) -> Tensor:
        p = self.probs.detach()[..., 0]  # (*B)
        return p * float("nan")

    def sample(self, sample_shape=()) -> Tensor:
        """Inverse-CDF draw: k = #{j : u > cdf_j} with u uniform on (0, cdf_K], one u per
        element. Then cdf_(k-1) < u <= cdf_k, so class k has p_k > 0: a class of probability
        0 is never drawn, also when rounding leaves cdf_K just under 1 (float64 throughout)."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            cdf = self.probs.detach().double().cumsum(-1)  # (*B, K)
            r = rand(shape + (1,), dtype=cdf.dtype, device=cdf.device)  # [0, 1), (*S, *B, 1)
            u = (1 - r) * cdf[..., -1:]  # (0, cdf_K], (*S, *B, 1)
            return (u > cdf).long().sum(-1)  # (*S, *B)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)  # (*V, 1)
        index, log_pmf = F.broadcast_tensors(index, self.logits)  # (*V', K)
        return log_pmf.gather(-1, index[..., :1].contiguous()).squeeze(-1)  # (*V')

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits.dtype).min)
        logits = self.logits.clamp(min=min_real)  # -inf logits give 0 * min = 0, not NaN
        return -(logits * self.probs).sum(-1)
