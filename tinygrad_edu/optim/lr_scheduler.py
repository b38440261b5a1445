"""Learning-rate schedulers: change each parameter group's ``lr`` as training goes on.

Same classes, arguments and sequences as ``torch.optim.lr_scheduler``. Call ``scheduler.step()``
once per epoch (or per batch, for per-iteration schedules) *after* ``optimizer.step()``::

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()

Most schedulers are *chainable*: ``get_lr`` computes the next lr from the current
``group["lr"]`` (a multiplication), not from a closed form, so two schedulers on one optimizer
compose. Constructing a scheduler performs step 0 (sets ``last_epoch = 0``) and records
``group["initial_lr"]``; ``base_lrs`` are those initial learning rates.
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses implement ``get_lr()``, the lrs for epoch ``self.last_epoch``.

    Attributes: ``optimizer``, ``base_lrs`` (each group's ``initial_lr``), ``last_epoch`` (the
    index of the last step taken; 0 right after construction).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{name}: param_groups[{i}] has no 'initial_lr', needed to resume with "
                        f"last_epoch={last_epoch}; load the optimizer's state dict (saved while "
                        "a scheduler was attached) first, or use last_epoch=-1"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0: reset the step count and take the first step (``_is_initial`` while it runs;
        ``SequentialLR`` calls this again on the scheduler it starts with)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates of epoch ``last_epoch``, one per parameter group."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new lrs into the optimizer's groups.

        ``epoch`` (deprecated in torch, kept for porting) jumps to that epoch using the closed
        form of the schedule when there is one.
        """
        if self._step_count == 1 and getattr(self.optimizer, "_steps_taken", 1) == 0:
            warnings.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(): call "
                "optimizer.step() first, then scheduler.step(), or the first value of the "
                "schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                "passing an epoch to scheduler.step() is deprecated (as in torch); call "
                "step() once per epoch instead",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Set ``last_epoch`` (one more, or ``epoch``) and write that epoch's lrs into the
        groups: the chainable ``get_lr()``, or the closed form when an epoch is given."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything in the scheduler except the optimizer (numbers and lists)."""
        return {key: _copy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({key: _copy(value) for key, value in state_dict.items()})


class _LRScheduler(LRScheduler):
    """torch's older name of the base class, which much torch code still subclasses
    (``class WarmupLR(lr_scheduler._LRScheduler)``); a subclass of ``LRScheduler``, as in torch.
    """


def _copy(value):
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _check_positive_int(scheduler: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{scheduler}: invalid {name} {value!r} (must be an integer >= 1)")


def _check_optimizer(scheduler: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: expected a tinygrad_edu Optimizer, got "
                        f"{type(optimizer).__name__}")


def _per_group(scheduler: str, name: str, optimizer: Optimizer, value) -> list:
    """``value`` for every parameter group: one number for all, or a list with one per group."""
    n_groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(f"{scheduler}: expected {n_groups} values of {name} (one per "
                             f"parameter group), got {len(value)}")
        return list(value)
    return [value] * n_groups


def _uses_beta1(scheduler: str, optimizer: Optimizer) -> bool:
    """Whether momentum cycling moves ``betas[0]`` (Adam, AdamW) rather than ``momentum``
    (SGD, RMSprop); an optimizer with neither cannot cycle momentum."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{scheduler}: cycle_momentum=True needs an optimizer with a 'momentum' or 'betas' "
            f"hyper-parameter (SGD, RMSprop, Adam, AdamW), but {type(optimizer).__name__} has "
            "neither; pass cycle_momentum=False"
        )
    return "betas" in optimizer.defaults


def _set_momentum(group: dict, momentum: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _per_group_lambdas(name: str, optimizer: Optimizer, lr_lambda) -> list:
    """``lr_lambda`` as one function per parameter group: a list or tuple of them (one per
    group), or one function that every group shares."""
    groups = len(optimizer.param_groups)
    if not isinstance(lr_lambda, (list, tuple)):
        return [lr_lambda] * groups
    if len(lr_lambda) != groups:
        raise ValueError(f"{name}: expected {groups} lr_lambdas (one per parameter group), got "
                         f"{len(lr_lambda)}")
    return list(lr_lambda)


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch).

    ``lr_lambda`` is a function of the epoch index, or a list with one function per group.
    ``state_dict`` leaves the functions out (they cannot be stored); re-create them in code.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import optim
    >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    >>> for _ in range(2):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _per_group_lambdas("LambdaLR", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {fn!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch)
                for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        del state["lr_lambdas"]
        return state


class MultiplicativeLR(LRScheduler):
    """Multiply the lr by ``lr_lambda(epoch)`` at every step: lr = lr * lr_lambda(epoch).

    Unlike ``LambdaLR`` (a factor of ``base_lr``), the factors accumulate:
    lr_epoch = base_lr * lr_lambda(1) * ... * lr_lambda(epoch). ``lr_lambda`` is a function
    of the epoch index, or a list with one function per group. ``state_dict`` stores ``None``
    for a plain function and the attributes of a callable object, as torch does.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import optim
    >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.5)
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.125]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        name = "MultiplicativeLR"
        _check_optimizer(name, optimizer)
        self.lr_lambdas = _per_group_lambdas(name, optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{name}: lr_lambda should be a function, got "
                                f"{type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()  # step 0 (construction) keeps the lrs
        return [lr * fn(self.last_epoch)
                for fn, lr in zip(self.lr_lambdas, self._current_lrs(), strict=True)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fn_states = state_dict.pop("lr_lambdas", [])
        super().load_state_dict(state_dict)
        for fn, fn_state in zip(self.lr_lambdas, fn_states, strict=False):
            if fn_state is not None:
                fn.__dict__.update(fn_state)


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs: lr = base_lr * gamma ** (epoch // step_size).

    Chainable form: at every epoch that is a positive multiple of ``step_size``,
    ``lr = lr * gamma``; otherwise ``lr`` is left alone.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        _check_positive_int("StepLR", "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each milestone epoch:
    lr = base_lr * gamma ** (number of milestones <= epoch).

    A milestone listed twice decays twice at that epoch (``gamma ** 2``), as in torch.
    """

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1,
                 last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral):
                raise TypeError(f"MultiStepLR: milestones must be integers, got {m!r}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["milestones"] = dict(self.milestones)  # a plain dict: {epoch: count}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): v for k, v in dict(self.milestones).items()})


class LinearLR(LRScheduler):
    """Scale the lr by a factor that moves linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then stays::

        lr(epoch) = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)

    Chainable form (used by ``step()``): at epoch 0 ``lr = lr * start``; at epoch e in
    1..total_iters ``lr = lr * (1 + (end - start) / (total_iters * start + (e - 1) * (end -
    start)))``, the ratio of consecutive closed-form factors.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor {start_factor!r} (must be in "
                             "(0, 1])")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor {end_factor!r} (must be in [0, 1])")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        fraction = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * fraction
        return [base_lr * factor for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch: lr = base_lr * gamma ** epoch (chainable:
    ``lr = lr * gamma``)."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (SGDR without restarts, Loshchilov & Hutter 2017). Closed form::

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    ``step()`` uses torch's recursive (chainable) form, so sequences match torch exactly::

        lr(t) = eta_min + (lr(t-1) - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t-1) / T))
                                                                              (T = T_max)

    except when ``(t - 1 - T_max) % (2 T_max) == 0`` (the bottom of the cosine, where that
    ratio is 0/0), where ``lr(t) = lr(t-1) + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2``.
    After ``T_max`` the lr climbs back up along the cosine (period ``2 T_max``).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        t, T = self.last_epoch, self.T_max
        if (t - 1 - T) % (2 * T) == 0:
            # (same operation order as torch, so the floats agree bit for bit)
            pairs = zip(self.base_lrs, self._current_lrs(), strict=True)
            return [lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in pairs]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - self.eta_min) + self.eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """Reduce the lr when a metric has stopped improving: ``scheduler.step(val_loss)``.

    Each ``step(metric)``::

        if metric is better than best (see below):  best = metric;  bad_epochs = 0
        else:                                       bad_epochs += 1
        if in cooldown:   cooldown_counter -= 1;  bad_epochs = 0     (bad epochs don't count)
        if bad_epochs > patience:
            for each group: new_lr = max(lr * factor, min_lr)
                            if lr - new_lr > eps: lr = new_lr       (ignore tiny changes)
            cooldown_counter = cooldown;  bad_epochs = 0

    "Better" (``mode="min"``; mirrored for ``"max"``):
    ``threshold_mode="rel"``: metric < best * (1 - threshold); ``"abs"``: metric < best -
    threshold.

    Args:
        optimizer: the optimizer whose lrs to reduce.
        mode: "min" (a loss) or "max" (an accuracy).
        factor: new_lr = lr * factor (must be < 1; default 0.1).
        patience: epochs without improvement tolerated before reducing (default 10).
        threshold: how much better counts as an improvement (default 1e-4).
        threshold_mode: "rel" or "abs".
        cooldown: epochs to wait after a reduction before counting bad epochs again.
        min_lr: lower bound on the lr, one number or one per group (default 0).
        eps: reductions smaller than this are skipped (default 1e-8).
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr=0, eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected a tinygrad_edu Optimizer, got "
                            f"{type(optimizer).__name__}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: invalid factor {factor!r} (must be < 1.0)")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} "
                                 f"min_lrs (one per parameter group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, current: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            return current > best * (self.threshold + 1.0)
        return current > best + self.threshold

    def step(self, metrics, epoch: int | None = None) -> None:  # type: ignore[override]
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} parameter groups "
                    f"but min_lr was given for {len(self.min_lrs)}; set scheduler.min_lrs to a "
                    "list with one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr


def _check_schedulers(name: str, schedulers: list, optimizer) -> None:
    """The schedulers that SequentialLR and ChainedScheduler run: schedulers (not
    ReduceLROnPlateau, whose step wants a metric) of one ``optimizer``."""
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{name}: the scheduler at index {i} has no 'optimizer' "
                            f"attribute (got {type(scheduler).__name__})")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{name}: ReduceLROnPlateau (at index {i}) is not supported: its "
                             "step() needs a metric")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{name}: all schedulers must belong to the same optimizer, but "
                             f"{type(scheduler).__name__} at index {i} has a different one")


class ConstantLR(LRScheduler):
    """Multiply the lr by ``factor`` for the first ``total_iters`` epochs (a warm-up), then
    restore it::

        lr(epoch) = base_lr * factor    if epoch < total_iters
                    base_lr             otherwise

    Chainable form: at epoch 0 ``lr = lr * factor``; at epoch ``total_iters``
    ``lr = lr / factor``; otherwise ``lr`` is left alone. Unlike torch, ``factor=0`` is refused
    (torch accepts it and then divides by zero at epoch ``total_iters``).

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import optim
    >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.05, 0.05, 0.1, 0.1]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        if not 0 < factor <= 1:
            raise ValueError(f"ConstantLR: invalid factor {factor!r} (must be in (0, 1])")
        _check_positive_int("ConstantLR", "total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        after = self.last_epoch >= self.total_iters
        return [base_lr * (self.factor + after * (1 - self.factor)) for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr to 0 along a polynomial over ``total_iters`` epochs, then keep it there::

        lr(epoch) = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power

    Chainable form (used by ``step()``): for epoch e in 1..total_iters
    ``lr = lr * ((1 - e / total_iters) / (1 - (e - 1) / total_iters)) ** power``.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        _check_positive_int("PolynomialLR", "total_iters", total_iters)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay_factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        fraction = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (1.0 - fraction) ** self.power for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017)::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    ``T_cur`` counts the epochs since the last restart; when it reaches ``T_i`` the lr jumps
    back to ``base_lr`` (``T_cur = 0``) and the next period is ``T_i * T_mult`` long
    (``T_0``, ``T_0 T_mult``, ``T_0 T_mult^2``, ...).

    ``step(epoch)`` accepts fractional epochs, to step once per batch: for ``T_mult = 1``,
    ``T_cur = epoch mod T_0``; otherwise the restart index ``n = floor(log_{T_mult}(epoch /
    T_0 * (T_mult - 1) + 1))`` gives ``T_cur = epoch - T_0 (T_mult^n - 1) / (T_mult - 1)`` and
    ``T_i = T_0 T_mult^n``. ``last_epoch`` becomes ``floor(epoch)``. Not chainable (the lr is
    the closed form of ``base_lrs``)::

        for epoch in range(epochs):
            for i, batch in enumerate(loader):
                train_step(batch)
                scheduler.step(epoch + i / len(loader))
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        _check_positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        _check_positive_int("CosineAnnealingWarmRestarts", "T_mult", T_mult)
        if isinstance(eta_min, bool) or not isinstance(eta_min, numbers.Real):
            raise ValueError(f"CosineAnnealingWarmRestarts: eta_min must be a float or int, got "
                             f"{eta_min!r} of type {type(eta_min).__name__}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min
                + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch (or batch), or jump to ``epoch`` (may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:  # a restart
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a non-negative epoch, got "
                             f"{epoch!r}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** (n)
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith 2017): the lr moves between ``base_lr`` and ``max_lr``
    along a triangle, ``step_size_up`` steps up and ``step_size_down`` steps down. Step once
    per batch. With ``i = last_epoch`` and ``total = step_size_up + step_size_down``::

        cycle = floor(1 + i / total)                    (1, 2, ...)
        x     = 1 + i / total - cycle                   (position in the cycle, in [0, 1))
        rise  = x / r  if x <= r  else (x - 1) / (r - 1),    r = step_size_up / total
        lr    = base_lr + (max_lr - base_lr) * rise * scale

    ``scale`` is ``scale_fn(cycle)`` (``scale_mode="cycle"``) or ``scale_fn(i)``
    (``"iterations"``); the modes: "triangular" 1, "triangular2" 1 / 2^(cycle - 1) (the
    amplitude halves every cycle), "exp_range" gamma^i. A custom ``scale_fn`` overrides
    ``mode``. With ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam) moves the
    other way: ``momentum = max_momentum - (max_momentum - base_momentum) * rise * scale``.

    Constructing it sets each group's lr to ``base_lr`` (``base_lr`` and ``max_lr`` may be
    lists, one per group). Not chainable. ``state_dict`` leaves a custom ``scale_fn`` out when
    it is a function (keeps the attributes of a callable object), as torch.
    """

    def __init__(self, optimizer: Optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9,
                 last_epoch: int = -1):
        name = "CyclicLR"
        _check_optimizer(name, optimizer)
        base_lrs = _per_group(name, "base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if not step_size_up > 0:
            raise ValueError(f"{name}: invalid step_size_up {step_size_up!r} (must be > 0)")
        if step_size_down is not None and not step_size_down >= 0:
            raise ValueError(f"{name}: invalid step_size_down {step_size_down!r} (must be >= 0)")
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"{name}: mode must be 'triangular', 'triangular2' or 'exp_range' "
                             f"(or pass scale_fn), got {mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{name}: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{name}: scale_fn must be callable, got {scale_fn!r}")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        if scale_fn is None:  # the built-in modes fix the scale mode
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(name, optimizer)
            self.base_momentums = _per_group(name, "base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group(name, "max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                momenta = zip(self.max_momentums, self.base_momentums, optimizer.param_groups,
                              strict=True)
                for max_m, base_m, group in momenta:
                    _set_momentum(group, max_m, self.use_beta1)
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x  # exp_range

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = []
        for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True):
            base_height = (max_lr - base_lr) * scale_factor
            lrs.append(base_lr + base_height * scale)
        if self.cycle_momentum:
            pairs = zip(self.base_momentums, self.max_momentums, self.optimizer.param_groups,
                        strict=True)
            for base_momentum, max_momentum, group in pairs:
                base_height = (max_momentum - base_momentum) * scale_factor
                _set_momentum(group, max_momentum - base_height * scale, self.use_beta1)
        return lrs

    def state_dict(self) -> dict:
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, types.FunctionType):
            state["_scale_fn_custom"] = dict(fn.__dict__)  # a callable object's attributes
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fn_state = state_dict.pop("_scale_fn_custom", None)
        super().load_state_dict(state_dict)
        if fn_state is not None:
            self._scale_fn_custom.__dict__.update(fn_state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2017): warm the lr up from ``max_lr / div_factor`` to
    ``max_lr``, then anneal it to ``initial_lr / final_div_factor``, over ``total_steps``
    steps (or ``epochs * steps_per_epoch``). Step once per batch. Per group::

        initial_lr = max_lr / div_factor,      min_lr = initial_lr / final_div_factor
        phase 1, steps 0 .. p:      initial_lr -> max_lr          (p = pct_start * total - 1)
        phase 2, steps p .. total-1: max_lr -> min_lr
        in a phase from step s to e:  lr = anneal(start, end, (step - s) / (e - s))
        anneal "cos":    end + (start - end) / 2 * (1 + cos(pi * pct))
        anneal "linear": (end - start) * pct + start

    ``three_phase=True`` (the paper's schedule): up to ``max_lr`` by step p, back down to
    ``initial_lr`` by step 2 p (mirror image), then down to ``min_lr`` at step total - 1.
    With ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam) moves the other way,
    from ``max_momentum`` to ``base_momentum`` and back (flat in the third phase). Stepping past
    ``total_steps`` is an error. Not chainable.
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            _check_positive_int(name, "total_steps", total_steps)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(name, "epochs", epochs)
            _check_positive_int(name, "steps_per_epoch", steps_per_epoch)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: you must give either total_steps or both epochs and "
                             "steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"{name}: invalid pct_start {pct_start!r} (must be a float in "
                             "[0, 1])")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        warm_up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                _phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                       "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                       "max_momentum"),
            ]
        max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for max_lr_, group in zip(max_lrs, optimizer.param_groups, strict=True):
                group["initial_lr"] = max_lr_ / div_factor
                group["max_lr"] = max_lr_
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(name, optimizer)
            max_momentums = _per_group(name, "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group(name, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                momenta = zip(max_momentums, base_momentums, optimizer.param_groups,
                              strict=True)
                for max_m, base_m, group in momenta:
                    _set_momentum(group, max_m, self.use_beta1)
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """From ``start`` (pct = 0) to ``end`` (pct = 1), along a cosine or a line."""
        if self._anneal_func_type == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step_num} times, but total_steps is "
                             f"{self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]],
                                            pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                        _set_momentum(group, momentum, self.use_beta1)
                    break
                start_step = phase["end_step"]
        return lrs


def _phase(end_step: float, start_lr: str, end_lr: str, start_momentum: str,
           end_momentum: str) -> dict:
    """One phase of OneCycleLR: its last step and the group keys it anneals between."""
    return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": start_momentum, "end_momentum": end_momentum}


class _SchedulerGroup(LRScheduler):
    """What SequentialLR and ChainedScheduler share: the schedulers they run
    (``self._schedulers``), whose states their own ``state_dict`` holds as a list."""

    def state_dict(self) -> dict:
        state = {key: _copy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        states = state_dict.pop("_schedulers")
        super().load_state_dict(state_dict)
        for scheduler, state in zip(self._schedulers, states, strict=True):
            scheduler.load_state_dict(state)


class SequentialLR(_SchedulerGroup):
    """Run ``schedulers`` one after another, switching at the ``milestones`` (epochs)::

        epoch < milestones[0]:                 schedulers[0]
        milestones[0] <= epoch < milestones[1]: schedulers[1]    ...

    At a milestone the next scheduler starts from its epoch 0 (its closed form at epoch 0,
    from the groups' ``initial_lr``), e.g. a linear warm-up and then a cosine decay::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, schedulers=[warmup, decay], milestones=[5])

    Construction resets each group's lr to ``initial_lr``, undoes the first step the given
    schedulers took when they were built, and starts the first one again. ``state_dict``
    holds the state of every scheduler.
    """

    def __init__(self, optimizer: Optimizer, schedulers, milestones, last_epoch: int = -1):
        name = "SequentialLR"
        _check_optimizer(name, optimizer)
        schedulers = list(schedulers)
        milestones = list(milestones)
        if len(schedulers) < 1:
            raise ValueError(f"{name}: expects at least one scheduler, got none")
        _check_schedulers(name, schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{name}: expected {len(schedulers) - 1} milestones (one fewer than the "
                f"{len(schedulers)} schedulers), got {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()  # undo the step each scheduler took when it was built
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()  # only the scheduler of epoch 0 starts
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Take one off the ``last_epoch`` of every scheduler (nested ones too)."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch: step the scheduler of this epoch (restart it at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerGroup):
    """Step several chainable schedulers at once: ``step()`` calls each one's ``step()`` in
    order, so their factors multiply, e.g. a constant warm-up factor and an exponential decay::

        warmup = ConstantLR(opt, factor=0.1, total_iters=20)
        decay = ExponentialLR(opt, gamma=0.9)
        sched = ChainedScheduler([warmup, decay], optimizer=opt)

    ``optimizer`` defaults to the first scheduler's; every scheduler must share it, and none may
    be ``ReduceLROnPlateau`` (its step needs a metric). Construction steps nothing (each
    scheduler took its step 0 when it was built). ``state_dict`` holds every scheduler's state.
    """

    def __init__(self, schedulers, optimizer: Optimizer | None = None):
        name = "ChainedScheduler"
        schedulers = list(schedulers)
        if len(schedulers) < 1:
            raise ValueError(f"{name}: expects at least one scheduler to chain, got none")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        _check_schedulers(name, schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]
