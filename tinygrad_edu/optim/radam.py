"""RAdam: Adam whose adaptive step is switched on gradually, as its variance estimate firms up."""

from __future__ import annotations

from ..backend import get_array_module
from ._checks import check_adam_family
from .optimizer import Optimizer, ascent_and_decay, check_implementation_flags


class RAdam(Optimizer):
    """RAdam (Liu et al. 2020), with decoupled weight decay, like ``torch.optim.RAdam``.

    In its first steps Adam divides by a second moment averaged over few gradients, whose
    variance is large; RAdam takes plain momentum steps until the (approximate) length of that
    average, ``rho_t``, exceeds 5, and then rectifies the adaptive step by ``r_t``. The update
    rule, for every parameter ``p`` with gradient ``g`` at its step ``t = 1, 2, ...``
    (``m`` and ``v`` start at zero; ``beta1, beta2 = betas``)::

        if maximize:        g = -g
        if weight_decay:
            if decoupled:   p = p - lr * weight_decay * p
            else:           g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        rho_inf = 2 / (1 - beta2) - 1                             # longest average
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)   # this step's
        if rho_t > 5:
            r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * r_t * sqrt(1 - beta2 ** t) / (sqrt(v) + eps)
        else:
            p = p - lr * m_hat                                    # SGD with momentum

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-3).
        betas: decay rates of the moment estimates (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        decoupled_weight_decay: decay the weight directly (as AdamW) instead of through ``g``.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                # rho_1 = 1 <= 5: a momentum step, p - lr * g
    >>> [round(x, 4) for x in w.tolist()]
    [0.8, -1.6]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("RAdam", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        betas = check_adam_family("RAdam", lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (g - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (g * g)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        m_hat = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = bias_correction2**0.5 / (xp.sqrt(exp_avg_sq) + group["eps"])
            p -= m_hat * lr * adaptive_lr * rect
        else:
            p -= m_hat * lr
