"""Adagrad: per-coordinate learning rates that shrink with the sum of squared gradients."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011), like ``torch.optim.Adagrad``.

    Each coordinate's step is divided by the root of the sum of all its squared gradients, so
    often-updated coordinates slow down and rare ones keep large steps. The update rule, for
    every parameter ``p`` with gradient ``g`` at its step ``t = 1, 2, ...``::

        sum starts at initial_accumulator_value
        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)                 # decayed learning rate
        sum = sum + g * g
        p   = p - clr * g / (sqrt(sum) + eps)

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: torch's implementation switches (keyword-only
            here): foreach and fused are accepted and change nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step`` (int) and ``sum`` (array), made for every parameter by the
    constructor, as torch does (so ``state_dict()`` lists parameters that have had no gradient
    yet); parameters added later by ``add_param_group`` get theirs at their first step. Each
    group's own ``initial_accumulator_value`` is used (torch uses the constructor's for all).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        check_implementation_flags("Adagrad", foreach=foreach, differentiable=differentiable,
                                   fused=fused)
        check_hyperparameter("Adagrad", "learning rate", lr)
        check_hyperparameter("Adagrad", "lr_decay", lr_decay)
        check_hyperparameter("Adagrad", "weight_decay", weight_decay)
        check_hyperparameter("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        check_hyperparameter("Adagrad", "epsilon", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param.data, self.state[param], group)

    @staticmethod
    def _init_state(p, state, group) -> None:
        state["step"] = 0
        state["sum"] = get_array_module(p).full_like(p, group["initial_accumulator_value"])

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        if not state:
            self._init_state(p, state, group)
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum += g * g
        std = xp.sqrt(state_sum) + group["eps"]
        p -= clr * (g / std)
