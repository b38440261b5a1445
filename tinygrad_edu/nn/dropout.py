"""Dropout: a regularizer that is active only in training mode."""

from __future__ import annotations

import numbers

from .. import functional as F
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Inverted dropout. Training: y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p), so
    E[y] = x and evaluation needs no rescaling; dx = dy * m / (1 - p).
    Evaluation (``model.eval()``): y = x.

    >>> import tinygrad_edu as tg
    >>> drop = Dropout(0.5).eval()
    >>> drop(tg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
