"""NAdam: Adam with Nesterov momentum (the gradient looks one momentum step ahead)."""

from __future__ import annotations

import numpy as np

from ..autograd import Config
from ..backend import get_array_module
from ._checks import check_adam_family
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class NAdam(Optimizer):
    """NAdam (Dozat 2016), with NAdamW's decoupled weight decay, like ``torch.optim.NAdam``.

    The update rule, for every parameter ``p`` with gradient ``g`` at its step ``t = 1, 2, ...``
    (``m`` and ``v`` start at zero, ``mu_product`` at one; ``beta1, beta2 = betas``)::

        if maximize:        g = -g
        if weight_decay:
            if decoupled:   p = p - lr * weight_decay * p         # NAdamW: decay the weight
            else:           g = g + weight_decay * p              # L2 term in g
        mu      = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))        # momentum schedule
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = mu_product * mu                              # mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g                           # 1st moment
        v = beta2 * v + (1 - beta2) * g * g                       # 2nd moment
        denom = sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr * (1 - mu) / (1 - mu_product) * g / denom      # this step's gradient ...
        p = p - lr * mu_next / (1 - mu_product * mu_next) * m / denom   # ... and the look-ahead

    ``mu_product`` is rounded to float32 after every step, as torch keeps it in a 0-d tensor of
    its default dtype (float32): float64 trajectories then agree with torch to rounding. Under
    ``set_default_dtype(float64)`` it stays float64, as torch's does under its float64 default.

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 2e-3).
        betas: decay rates of the moment estimates (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        momentum_decay: how fast ``mu`` approaches ``beta1`` (default 4e-3).
        decoupled_weight_decay: decay the weight directly (NAdamW) instead of through ``g``.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``mu_product`` (a number), ``exp_avg`` (m) and
    ``exp_avg_sq`` (v).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = NAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                # lr * sign(g), then a look-ahead of ~0.056 * lr
    >>> [round(x, 4) for x in w.tolist()]
    [0.8944, -1.8944]
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("NAdam", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        betas = check_adam_family("NAdam", lr, betas, eps, weight_decay)
        check_hyperparameter("NAdam", "momentum_decay", momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        bias_correction2 = 1 - beta2**step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # float(): a checkpoint loaded from torch holds mu_product as a 0-d array
        scalar = np.float64 if np.dtype(Config.default_dtype) == np.float64 else np.float32
        mu_product = float(scalar(scalar(float(state["mu_product"])) * scalar(mu)))
        state["mu_product"] = mu_product
        mu_product_next = mu_product * mu_next

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (g - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (g * g)
        denom = xp.sqrt(exp_avg_sq / bias_correction2)
        denom += group["eps"]
        p -= (lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
        p -= (lr * mu_next / (1.0 - mu_product_next)) * (exp_avg / denom)
