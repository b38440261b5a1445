"""Argument checks shared by the Adam-family optimizers (Adam, AdamW, NAdam, RAdam, Adamax)."""

from __future__ import annotations

from .optimizer import check_hyperparameter


def check_adam_family(name: str, lr, betas, eps, weight_decay) -> tuple[float, float]:
    """torch's checks of ``lr``, ``betas``, ``eps`` and ``weight_decay``; returns ``betas`` as a
    tuple."""
    check_hyperparameter(name, "learning rate", lr)
    check_hyperparameter(name, "epsilon", eps)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_hyperparameter(name, "beta parameter at index 0", betas[0], 0.0, 1.0)
    check_hyperparameter(name, "beta parameter at index 1", betas[1], 0.0, 1.0)
    check_hyperparameter(name, "weight_decay", weight_decay)
    return tuple(betas)
