"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e; centered version from Graves 2013), like
    ``torch.optim.RMSprop``.

    The update rule, for every parameter ``p`` with gradient ``g`` (buffers start at zero)::

        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g                 # running mean of g^2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g         # running mean of g
            avg = sqrt(v - g_avg * g_avg) + eps             # ~ running standard deviation
        else:
            avg = sqrt(v) + eps                             # running root mean square
        if momentum > 0:
            b = momentum * b + g / avg
            p = p - lr * b
        else:
            p = p - lr * g / avg

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the running averages (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead of its second
            moment.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, when
    momentum > 0) and ``grad_avg`` (when centered).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("RMSprop", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        check_hyperparameter("RMSprop", "learning rate", lr)
        check_hyperparameter("RMSprop", "alpha", alpha, 0.0, 1.0, include_high=True)
        check_hyperparameter("RMSprop", "epsilon", eps)
        check_hyperparameter("RMSprop", "weight_decay", weight_decay)
        check_hyperparameter("RMSprop", "momentum", momentum)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        alpha = group["alpha"]
        momentum = group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        g = ascent_and_decay(p, g, group)  # maximize, weight decay
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (g * g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (g / avg)
