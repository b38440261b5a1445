"""Adamax: Adam with the infinity norm of past gradients in place of their root mean square."""

from __future__ import annotations

from ..backend import get_array_module
from ._checks import check_adam_family
from .optimizer import Optimizer, ascent_and_decay, check_implementation_flags


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7), like ``torch.optim.Adamax``.

    The update rule, for every parameter ``p`` with gradient ``g`` at its step ``t = 1, 2, ...``
    (``m`` and ``u`` start at zero; ``beta1, beta2 = betas``)::

        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g                   # 1st moment
        u = max(beta2 * u, abs(g) + eps)                  # decaying infinity norm
        p = p - lr / (1 - beta1 ** t) * m / u

    ``u`` needs no bias correction: it is a maximum, not an average pulled towards zero.

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 2e-3).
        betas: decay rates of ``m`` and ``u`` (default (0.9, 0.999)).
        eps: added to ``abs(g)`` so that ``u`` is never zero (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_inf`` (u).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adamax([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                # the first step is lr * sign(g)
    >>> [round(x, 4) for x in w.tolist()]
    [0.9, -1.9]
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("Adamax", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        betas = check_adam_family("Adamax", lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_inf"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg += (1 - beta1) * (g - exp_avg)
        exp_inf *= beta2
        xp.maximum(exp_inf, xp.abs(g) + group["eps"], out=exp_inf)
        clr = group["lr"] / (1 - beta1**step)
        p -= clr * (exp_avg / exp_inf)
