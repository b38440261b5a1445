"""ASGD: SGD with a decaying step size and a running (Polyak-Ruppert) average of the weights."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak & Juditsky 1992), like ``torch.optim.ASGD``.

    Plain SGD with the step size ``eta`` decaying as the step count t grows, plus an average
    ``ax`` of the iterates from step ``t0`` on (the average converges at the optimal rate even
    when the iterates themselves keep jittering). The update rule, for every parameter ``p``
    with gradient ``g`` at its step ``t = 1, 2, ...`` (``eta`` starts at ``lr``, ``mu`` at 1,
    ``ax`` at zero)::

        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p
        p   = p * (1 - lambd * eta) - eta * g                 # SGD with a decay term
        ax  = ax + mu * (p - ax)                              # ax = p while mu = 1
        eta = lr / (1 + lambd * lr * t) ** alpha              # the next step's size
        mu  = 1 / max(1, t - t0)                              # the next step's weight

    So ``ax`` equals ``p`` up to step t0 + 2 and is the mean of the iterates from there on.
    The parameters themselves follow SGD; ``ax`` (in ``optimizer.state[p]["ax"]``) is the
    averaged weight, which the caller copies into the model for evaluation.

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the step-size decay (default 0.75).
        t0: the step from which averaging starts (default 1e6).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it (keyword-only here: torch's
            7th positional argument is ``foreach``).
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``eta``, ``mu`` (Python floats) and ``ax``. (torch keeps
    ``eta`` and ``mu`` in 0-d tensors of its default dtype, float32, so its float64 runs round
    the step size to float32 and differ from these by ~1e-8 relative; under
    ``torch.set_default_dtype(torch.float64)`` the two agree to rounding.)

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ASGD([w], lr=0.1, lambd=0.0)
    >>> (w * w).sum().backward()                   # g = 2 w
    >>> _ = opt.step()                              # w - 0.1 * 2 w
    >>> [round(x, 4) for x in w.tolist()]
    [0.8, -1.6]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("ASGD", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        check_hyperparameter("ASGD", "learning rate", lr)
        check_hyperparameter("ASGD", "weight_decay", weight_decay)
        for name, value in (("lambd", lambd), ("alpha", alpha), ("t0", t0)):
            check_hyperparameter("ASGD", name, value, low=float("-inf"))  # real numbers
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        lr, lambd = group["lr"], group["lambd"]
        if not state:
            state["step"] = 0
            state["eta"] = float(lr)
            state["mu"] = 1.0
            state["ax"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        eta = float(state["eta"])  # (a torch checkpoint holds 0-d arrays)
        mu = float(state["mu"])
        p *= 1 - lambd * eta  # decay term
        p -= eta * g
        ax = state["ax"]
        if mu != 1:
            ax += (p - ax) * mu
        else:
            ax[...] = p
        state["eta"] = lr / ((1 + lambd * lr * step) ** group["alpha"])
        state["mu"] = 1 / max(1, step - group["t0"])
