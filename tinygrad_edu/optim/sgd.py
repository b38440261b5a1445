"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    ascent_and_decay,
    check_hyperparameter,
    check_implementation_flags,
)


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    The update rule, for every parameter ``p`` with gradient ``g`` (``t`` counts its steps)::

        if maximize:        g = -g
        if weight_decay:    g = g + weight_decay * p                  # L2 penalty
        if momentum:
            if t == 1:      b = g                                     # buffer starts at g
            else:           b = momentum * b + (1 - dampening) * g
            if nesterov:    g = g + momentum * b                      # look ahead
            else:           g = b
        p = p - lr * g

    Note the form of momentum: ``b`` accumulates raw gradients and the learning rate multiplies
    the buffer (Sutskever et al. 2013 multiply the gradient by ``lr`` inside the buffer; the two
    agree while ``lr`` is constant, and differ once a scheduler changes it).

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-3, torch's default).
        momentum: momentum factor (default 0).
        dampening: dampening of the gradient added to the momentum buffer (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: torch's implementation switches (keyword-only
            here): foreach and fused are accepted and change nothing; True for the others is refused
            (``check_implementation_flags``).

    >>> import tinygrad_edu as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.25, momentum=0.9)
    >>> (w * w).sum().backward()            # g = 2 w = [2, -4]
    >>> _ = opt.step()                      # first step: b = g
    >>> w.tolist()                          # w - 0.25 * b
    [0.5, -1.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        check_implementation_flags("SGD", foreach=foreach, differentiable=differentiable,
                                   fused=fused)
        check_hyperparameter("SGD", "learning rate", lr)
        check_hyperparameter("SGD", "momentum", momentum)
        check_hyperparameter("SGD", "dampening", dampening)
        check_hyperparameter("SGD", "weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD: nesterov momentum requires a momentum > 0 and zero dampening "
                f"(got momentum={momentum}, dampening={dampening})"
            )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr = group["lr"]
        momentum = group["momentum"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # an array even for a 0-d parameter: -g or g + wd p of a 0-d array is a NumPy
                # scalar, which the in-place updates below could not change
                buf = get_array_module(p).array(g, copy=True)
                state["momentum_buffer"] = buf
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= lr * g
