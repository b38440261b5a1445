"""Stochastic Weight Averaging (SWA) and EMA of weights, like ``torch.optim.swa_utils``.

SWA (Izmailov et al. 2018) trains as usual, then averages the weights visited late in training
(one snapshot per epoch, at a constant or cyclic lr): the average sits in a wider, flatter
region of the loss and generalizes better than any single snapshot. An exponential moving
average (EMA) of the weights is the same machinery with exponential instead of equal weights::

    swa_model = optim.swa_utils.AveragedModel(model)
    swa_sched = optim.swa_utils.SWALR(opt, swa_lr=0.05)
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        if epoch >= swa_start:
            swa_model.update_parameters(model)   # running average of the weights
            swa_sched.step()                     # anneal the lr to swa_lr, then hold it
    optim.swa_utils.update_bn(train_loader, swa_model)   # BatchNorm stats of the average
    predictions = swa_model(x)

The averaged weights never saw the data together, so BatchNorm's running statistics (collected
for the individual snapshots) do not describe them: ``update_bn`` recomputes them with one pass.
"""

from __future__ import annotations

import copy
import itertools
import math
import numbers

from ..autograd import no_grad
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Tensor
from ..tensor import tensor as make_tensor
from .lr_scheduler import LRScheduler, _check_optimizer, _per_group
from .optimizer import Optimizer

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]


def _check_decay(caller: str, decay) -> None:
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"{caller}: invalid decay {decay!r} (must be in [0, 1])")


def _lerp(start, end, weight: float):
    """start + weight (end - start) on arrays, with torch.lerp's two formulas (the second keeps
    weight -> 1 exact)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def get_ema_multi_avg_fn(decay: float = 0.999):
    """An in-place EMA over lists of tensors: ``ema = decay * ema + (1 - decay) * current``
    (torch's ``lerp(ema, current, 1 - decay)``). For ``AveragedModel(multi_avg_fn=...)``."""
    _check_decay("get_ema_multi_avg_fn", decay)

    def ema_update(ema_param_list, current_param_list, num_averaged) -> None:
        with no_grad():
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                if p_ema.dtype.kind in "fc":
                    p_ema.copy_(_lerp(p_ema.data, p_model.data, 1 - decay))
                else:
                    p_ema.copy_(p_ema.data * decay + p_model.data * (1 - decay))

    return ema_update


def get_ema_avg_fn(decay: float = 0.999):
    """The EMA of one tensor, returned: ``decay * ema + (1 - decay) * current``.
    For ``AveragedModel(avg_fn=...)``."""
    _check_decay("get_ema_avg_fn", decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_multi_avg_fn():
    """The in-place equal average over lists of tensors, given the number ``n`` of models
    averaged so far: ``avg = avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param_list, current_param_list, num_averaged) -> None:
        n = int(num_averaged.item()) if isinstance(num_averaged, Tensor) else int(num_averaged)
        with no_grad():
            for p_avg, p_model in zip(averaged_param_list, current_param_list, strict=True):
                if p_avg.dtype.kind in "fc":
                    p_avg.copy_(_lerp(p_avg.data, p_model.data, 1 / (n + 1)))
                else:
                    p_avg.copy_(p_avg.data + (p_model.data - p_avg.data) / (n + 1))

    return swa_update


def get_swa_avg_fn():
    """The equal average of one tensor, returned: ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose weights are a running average of ``model``'s (SWA or EMA).

    ``update_parameters(model)`` folds the current weights in. The first call copies them;
    the n-th call after that (``n = n_averaged``, the models averaged so far) does, for every
    parameter (and buffer, with ``use_buffers=True``)::

        avg = avg + (w - avg) / (n + 1)          # default: equal average of all snapshots
        avg = avg_fn(avg, w, n)                  # avg_fn given (returns the new value)
        multi_avg_fn(avgs, ws, n)                # multi_avg_fn given (updates the list in place)

    Without ``use_buffers`` the buffers (BatchNorm running stats) are copied from ``model``
    instead; call ``update_bn`` afterwards to recompute them for the averaged weights.

    Args:
        model: the module to average (deep-copied; the copy is ``self.module``).
        device: if given, the copy lives on this device.
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> Tensor``, e.g. ``get_ema_avg_fn``.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, num_averaged)`` in place,
            e.g. ``get_ema_multi_avg_fn``. At most one of the two.
        use_buffers: average the buffers too, instead of copying them.

    ``n_averaged`` is an int64 buffer (saved in ``state_dict``); ``forward`` calls the copy.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import nn
    >>> model = nn.Linear(1, 1, bias=False)
    >>> swa = AveragedModel(model)
    >>> for w in [1.0, 2.0, 6.0]:
    ...     _ = model.weight.data.fill(w)
    ...     swa.update_parameters(model)
    >>> swa.module.weight.item(), swa.n_averaged.item()
    (3.0, 3)
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None,
                 use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected a tinygrad_edu Module, got "
                            f"{type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
            self.register_buffer("n_averaged", make_tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("n_averaged", make_tensor(0, dtype="int64"))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model: Module) -> list[Tensor]:
        if self.use_buffers:
            return list(itertools.chain(model.parameters(), model.buffers()))
        return list(model.parameters())

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (see the class docstring)."""
        averaged = self._tensors(self.module)
        current = [t.detach().to(a.device) for t, a in
                   zip(self._tensors(model), averaged, strict=False)]
        averaged = averaged[:len(current)]
        n = int(self.n_averaged.item())
        with no_grad():
            if n == 0:
                for p_avg, p_model in zip(averaged, current, strict=True):
                    p_avg.copy_(p_model.data)
            elif self.avg_fn is not None:
                for p_avg, p_model in zip(averaged, current, strict=True):
                    new = self.avg_fn(p_avg.detach(), p_model, self.n_averaged)
                    p_avg.copy_(new.data if isinstance(new, Tensor) else new)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn([p.detach() for p in averaged], current, self.n_averaged)
            else:  # the equal average, in the form torch uses on the CPU
                for p_avg, p_model in zip(averaged, current, strict=True):
                    p_avg.copy_(p_avg.data + (p_model.data - p_avg.data) / (n + 1))
            if not self.use_buffers:
                for b_avg, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                    b_avg.copy_(b_model.detach().to(b_avg.device).data)
        self.n_averaged.data[...] += 1


def update_bn(loader, model: Module, device=None) -> None:
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader``.

    Every BatchNorm layer's running mean and variance are reset and then set to the *equal*
    average over the batches (``momentum=None``: the cumulative average, not an exponential
    one), in training mode; momenta and the training mode are restored afterwards. Each item
    of ``loader`` is an input tensor, or a list/tuple whose first element is the input.
    Does nothing when ``model`` has no BatchNorm layer.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` steps, then hold it there.

    At step ``s`` (``s = 0`` at construction), with ``t = clamp(s / anneal_epochs, 0, 1)`` and
    ``alpha(t) = (1 - cos(pi t)) / 2`` ("cos") or ``t`` ("linear")::

        lr(s) = alpha(t) * swa_lr + (1 - alpha(t)) * lr_start

    where ``lr_start`` is recovered from the current ``group["lr"]`` by inverting the previous
    step's formula (as torch does, so SWALR chains after another scheduler). With
    ``anneal_epochs=0`` the lr jumps to ``swa_lr`` at once.

    Args:
        optimizer: the optimizer whose lrs to anneal.
        swa_lr: the final lr, one for all groups or a list with one per group.
        anneal_epochs: number of annealing steps, >= 0 (default 10).
        anneal_strategy: "cos" (default) or "linear".
        last_epoch: the index of the last epoch (default -1: a fresh start).

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import optim
    >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = SWALR(opt, swa_lr=0.2, anneal_epochs=2, anneal_strategy="linear")
    >>> lrs = []
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.6, 0.2, 0.2]
    """

    def __init__(self, optimizer: Optimizer, swa_lr, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1):
        name = "SWALR"
        _check_optimizer(name, optimizer)
        swa_lrs = _per_group(name, "swa_lr", optimizer, swa_lr)
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._set_anneal_func(anneal_strategy)
        if (isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, numbers.Integral)
                or anneal_epochs < 0):
            raise ValueError(f"{name}: anneal_epochs must be an integer >= 0, got "
                             f"{anneal_epochs!r}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """Invert lr = alpha swa_lr + (1 - alpha) lr_start for lr_start."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        if anneal_strategy == "cos":
            self.anneal_func = self._cosine_anneal
        else:
            self.anneal_func = self._linear_anneal

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(groups, prev_lrs, strict=True)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        del state["anneal_func"]  # a function: rebuilt from _anneal_strategy on load
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
