"""Rprop: every weight has its own step size, grown while the gradient keeps its sign."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer, check_hyperparameter, check_implementation_flags


def _pair(name: str, what: str, value) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Rprop: {what} must be a pair, got {value!r}")
    for i, x in enumerate(value):
        check_hyperparameter("Rprop", f"{name}[{i}]", x)
    return tuple(value)


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun 1993), like ``torch.optim.Rprop``.

    Only the *sign* of the gradient is used; the size of each weight's step adapts on its own:
    it grows by ``etaplus`` while the gradient keeps its sign and shrinks by ``etaminus`` when
    the sign flips (the last step jumped over a minimum). The update rule, for every parameter
    ``p`` with gradient ``g`` (``prev`` starts at zero, ``step_size`` at ``lr``;
    ``etaminus, etaplus = etas``, ``step_size_min, step_size_max = step_sizes``)::

        if maximize:  g = -g
        factor    = etaplus   where g * prev > 0      # same sign: accelerate
                    etaminus  where g * prev < 0      # sign flipped: back off
                    1         where g * prev == 0
        step_size = clamp(step_size * factor, step_size_min, step_size_max)
        g         = 0 where g * prev < 0              # and skip this step (iRprop-)
        p         = p - sign(g) * step_size
        prev      = g

    Meant for full-batch training: mini-batch noise flips gradient signs at random.
    ``lr`` only sets the initial step size. No weight decay, as in torch.

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: initial step size (default 1e-2).
        etas: (etaminus, etaplus), with 0 < etaminus < 1 < etaplus (default (0.5, 1.2)).
        step_sizes: (min, max) step size (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: torch's implementation switches (keyword-only
            here): foreach is accepted and changes nothing; True for the others is refused
            (``check_implementation_flags``).

    State per parameter: ``step``, ``prev`` (the last gradient used) and ``step_size``.

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Rprop([w], lr=0.1)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     _ = opt.step()
    >>> [round(x, 4) for x in w.tolist()]         # steps of 0.1, then 0.12
    [0.78, -1.78]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        check_implementation_flags("Rprop", foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        check_hyperparameter("Rprop", "learning rate", lr)
        etas = _pair("etas", "etas (etaminus, etaplus)", etas)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values {etas[0]}, {etas[1]} (must be "
                             "0 < etaminus < 1 < etaplus)")
        step_sizes = _pair("step_sizes", "step_sizes (min, max)", step_sizes)
        if step_sizes[0] > step_sizes[1]:
            raise ValueError(f"Rprop: invalid step_sizes {step_sizes} (must be min <= max)")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        if not state:
            state["step"] = 0
            state["prev"] = xp.zeros_like(p)
            state["step_size"] = xp.full_like(p, group["lr"])
        state["step"] += 1
        if group["maximize"]:  # (Rprop has no weight decay, hence no ascent_and_decay)
            g = -g

        prev, step_size = state["prev"], state["step_size"]
        # +1 same sign, -1 flipped, 0 (a nan stays nan); asarray: a 0-d product is a scalar
        factor = xp.asarray(xp.sign(g * prev))
        flipped = factor < 0
        factor[factor > 0] = etaplus
        factor[flipped] = etaminus
        factor[factor == 0] = 1
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        g = xp.array(g)  # a copy (an array also for 0-d): the caller's gradient is left alone
        g[flipped] = 0
        p -= xp.sign(g) * step_size
        prev[...] = g
