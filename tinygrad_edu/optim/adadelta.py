"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012), like ``torch.optim.Adadelta``.

    The step carries its own units: the gradient is multiplied by RMS(past updates) /
    RMS(past gradients), so ``lr`` (default 1.0) is only an extra scale. The update rule, for
    every parameter ``p`` with gradient ``g`` (``v`` and ``u`` start at zero)::

        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                         # running mean of g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g               # the update, in p's units
        u = rho * u + (1 - rho) * delta * delta                 # running mean of delta^2
        p = p - lr * delta

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: scale applied to ``delta`` (default 1.0).
        rho: smoothing constant of the running averages (default 0.9).
        eps: added inside both square roots (default 1e-6); it sets the first steps' size.
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([3.0], requires_grad=True)
    >>> opt = Adadelta([w], eps=1e-2)
    >>> (w * w).sum().backward()      # g = 6, v = 3.6, delta = 0.1 / sqrt(3.61) * 6
    >>> _ = opt.step()
    >>> round(w.item(), 4)
    2.6842
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("Adadelta", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        check_hyperparameter("Adadelta", "learning rate", lr)
        check_hyperparameter("Adadelta", "rho", rho, 0.0, 1.0, include_high=True)
        check_hyperparameter("Adadelta", "epsilon", eps)
        check_hyperparameter("Adadelta", "weight_decay", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        rho = group["rho"]
        eps = group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            state["acc_delta"] = xp.zeros_like(p)
        state["step"] += 1
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (g * g)
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps)
        delta /= std
        delta *= g
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        p -= group["lr"] * delta
