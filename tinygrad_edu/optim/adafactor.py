"""Adafactor: Adam-like steps whose second moment of a matrix is stored as a row and a column."""

from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module
from .optimizer import Optimizer, check_hyperparameter


def _lerp_(start, end, weight: float) -> None:
    """start += weight (end - start) in place, with torch.lerp's two formulas (the second keeps
    weight -> 1 exact), so the floats agree with torch bit for bit."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def _rms(x) -> float:
    """Root mean square of all elements: ||x||_2 / sqrt(numel)."""
    xp = get_array_module(x)
    return float(xp.sqrt((x * x).sum())) / math.sqrt(max(x.size, 1))


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018), exactly as ``torch.optim.Adafactor`` (torch 2.5+).

    Adam keeps a second moment ``v`` the size of ``p``; for a parameter with 2 or more
    dimensions, shape (..., R, C), Adafactor keeps only its row means ``r`` (..., R, 1) and column
    means ``c`` (..., 1, C) and rebuilds ``v`` as their outer product (a rank-1 estimate): memory
    R + C instead of R * C. There is no first moment. The update rule, for every parameter ``p``
    with gradient ``g`` at its step ``t = 1, 2, ...`` (``r``, ``c``, ``v`` start at zero;
    ``eps1, eps2 = eps``; ``eps1 = None`` means the machine epsilon of ``p``'s dtype)::

        if maximize:   g = -g
        beta2_hat = 1 - t ** beta2_decay              # 0 at t = 1, then -> 1
        rho   = min(lr, 1 / sqrt(t))                  # relative step size
        alpha = max(eps2, RMS(p)) * rho               # step scaled by the size of p
        p     = p * (1 - lr * weight_decay)           # decoupled weight decay
        if p.ndim >= 2:                               # factored: the last two axes
            r = beta2_hat r + (1 - beta2_hat) mean(g * g, axis=-1)          # (..., R, 1)
            c = beta2_hat c + (1 - beta2_hat) mean(g * g, axis=-2)          # (..., 1, C)
            v = (r @ c) / max(mean(r, axis=-2), eps1)                        # (..., R, C)
        else:
            v = beta2_hat v + (1 - beta2_hat) g * g
        u = g / sqrt(max(v, eps1 ** 2))
        p = p - alpha / max(1, RMS(u) / d) * u        # update clipping

    (RMS(x) = sqrt(mean(x ** 2)).) As in torch, ``lr`` caps the relative step size and scales the
    weight decay; it is not a plain step size.

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: maximum relative step size (default 1e-2).
        beta2_decay: tau in beta2_hat = 1 - t ** tau, must be <= 0 (default -0.8).
        eps: (eps1, eps2): eps1 floors the variance estimate (None: the dtype's machine
            epsilon), eps2 floors RMS(p) in the step size (default (None, 1e-3)).
        d: clipping threshold of RMS(u), >= 1 (default 1).
        weight_decay: decoupled weight decay coefficient (default 0).
        foreach: accepted for torch compatibility; ignored (one loop serves every parameter).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, and ``row_var`` and ``col_var`` (2 or more dimensions) or
    ``variance`` (0 or 1 dimension).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adafactor([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                # first step: u = sign(g), alpha = RMS(w) * lr
    >>> [round(x, 4) for x in w.tolist()]
    [0.8419, -1.8419]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ):
        name = "Adafactor"
        check_hyperparameter(name, "learning rate", lr)
        check_hyperparameter(name, "beta2_decay", beta2_decay, low=-math.inf, high=0.0,
                             include_high=True)
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise ValueError(f"{name}: eps must be a pair (eps1, eps2), got {eps!r}")
        if eps[0] is not None:
            check_hyperparameter(name, "epsilon1 (eps[0])", eps[0])
        check_hyperparameter(name, "epsilon2 (eps[1])", eps[1])
        check_hyperparameter(name, "clipping threshold d", d, low=1.0)
        check_hyperparameter(name, "weight_decay", weight_decay)
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        if not state:
            state["step"] = 0
            if p.ndim > 1:
                state["row_var"] = xp.zeros(p.shape[:-1] + (1,), dtype=p.dtype)  # (..., R, 1)
                state["col_var"] = xp.zeros(p.shape[:-2] + (1, p.shape[-1]),
                                            dtype=p.dtype)  # (..., 1, C)
            else:
                state["variance"] = xp.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        if group["maximize"]:
            g = -g
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype).eps)
        lr = group["lr"]

        one_minus_beta2 = step ** group["beta2_decay"]
        rho = min(lr, 1 / step**0.5)
        alpha = max(eps2, _rms(p)) * rho  # RMS of p *before* weight decay, as torch
        if group["weight_decay"] != 0:
            p *= 1 - lr * group["weight_decay"]

        g2 = g * g
        if p.ndim > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            _lerp_(row_var, g2.mean(axis=-1, keepdims=True), one_minus_beta2)  # (..., R, 1)
            _lerp_(col_var, g2.mean(axis=-2, keepdims=True), one_minus_beta2)  # (..., 1, C)
            var_estimate = row_var @ col_var  # (..., R, C)
            var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)  # (..., 1, 1)
        else:
            variance = state["variance"]
            _lerp_(variance, g2, one_minus_beta2)
            var_estimate = variance.copy()  # variance itself is not touched by the update

        # eps1 is squared because of the square root that follows
        update = 1 / xp.sqrt(xp.maximum(var_estimate, eps1 * eps1))
        update *= g  # u = g / sqrt(v), in torch's order (rsqrt, then multiply)
        denom = max(1.0, _rms(update) / group["d"])
        p -= (alpha / denom) * update
