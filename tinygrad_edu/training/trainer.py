"""A Keras-like ``fit`` loop over the plain PyTorch-style training step.

The primary, documented way to train stays the explicit loop every PyTorch user knows::

    for xb, yb in loader:
        loss = loss_fn(model(tg.tensor(xb)), tg.tensor(yb))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

``Trainer`` only wraps that loop with the chores: epochs, a tqdm progress bar with loss and
accuracy, validation, metrics, LR schedulers, gradient clipping, early stopping, keeping the best
checkpoint, and a history that can be saved as JSON and plotted to PNG.

``trainer.save(path)`` writes everything needed to go on later (model, optimizer, scheduler,
history, best value so far; the safe format, no pickle); ``trainer.load(path)`` on a Trainer
built the same way, then ``fit``, continues where the saved one stopped, with the epochs
numbered on and, for a DataLoader with a ``seed``, the same shuffles as one run without a
break.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..nn.utils import evaluating
from ..tensor import Tensor, get_rng_state, set_rng_state


@dataclass
class History:
    """Per-epoch records: ``history.epochs[i]`` is a dict like ``{"epoch": 1,
    "train_loss": 0.21, "train_acc": 0.94, "val_loss": ..., "lr": ..., "seconds": ...}``.
    """

    epochs: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        return [e.get(key) for e in self.epochs]

    def to_json(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"epochs": self.epochs}, f, indent=2)

    def plot(self, path: str) -> str:
        """Loss (left) and accuracy (right) per epoch, train vs validation, as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = self["epoch"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for key, style in (("train_loss", "-o"), ("val_loss", "--o")):
            values = self[key]
            if any(v is not None for v in values):
                axes[0].plot(epochs, values, style, label=key)
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].set_title("loss")
        axes[0].legend()
        for key, style in (("train_acc", "-o"), ("val_acc", "--o")):
            values = self[key]
            if any(v is not None for v in values):
                axes[1].plot(epochs, values, style, label=key)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("accuracy")
        axes[1].set_title("accuracy")
        if axes[1].lines:
            axes[1].legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def _batch_accuracy(logits: Tensor, target: Tensor) -> float | None:
    """Share of correct argmax predictions for class-index targets (None for other tasks)."""
    if logits.ndim < 2 or target.ndim != logits.ndim - 1 or target.dtype.kind not in "iu":
        return None
    predicted = backend.to_numpy(logits.data).argmax(axis=1)
    return float((predicted == backend.to_numpy(target.data)).mean())


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "min"):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, record: dict) -> bool:
        """Record one epoch; True when training should stop."""
        value = record.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: the history has no {self.monitor!r} "
                           f"(available: {sorted(record)})")
        if self.improved(value):
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(model(x), y)``.

    >>> # trainer = Trainer(model, optim.Adam(model.parameters(), 1e-3), nn.CrossEntropyLoss())
    >>> # history = trainer.fit(train_loader, epochs=3, val_loader=val_loader)

    ``monitor`` names the epoch metric that picks the best checkpoint (``checkpoint_path``)
    and that ``ReduceLROnPlateau`` watches: "val_loss" (default) or "val_acc", lower or higher
    is better; without a ``val_loader`` its training counterpart ("train_loss", "train_acc").
    """

    def __init__(
        self,
        model,
        optimizer,
        loss_fn: Callable,
        device: str = "cpu",
        scheduler=None,
        scheduler_interval: str = "epoch",
        clip_grad_norm: float | None = None,
        early_stopping: EarlyStopping | None = None,
        checkpoint_path: str | None = None,
        monitor: str = "val_loss",
        progress: bool = True,
        input_dtype=np.float32,
    ):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.device = device
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got "
                             f"{scheduler_interval!r}")
        if _is_plateau(scheduler) and scheduler_interval == "step":
            raise ValueError("Trainer: ReduceLROnPlateau steps on an epoch's monitored metric; "
                             "use scheduler_interval='epoch' with it, got 'step'")
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.checkpoint_path = checkpoint_path
        self.monitor = monitor
        self.progress = progress
        self.input_dtype = input_dtype
        self.history = History()
        self._best = None

    def _to_tensors(self, xb, yb) -> tuple[Tensor, Tensor]:
        x = np.asarray(xb)
        if x.dtype.kind == "f" and x.dtype != self.input_dtype:
            x = x.astype(self.input_dtype)
        return Tensor(x, device=self.device), Tensor(np.asarray(yb), device=self.device)

    def train_step(self, xb, yb) -> tuple[float, float | None]:
        """One optimizer step; returns (loss, accuracy or None)."""
        from ..nn.utils import clip_grad_norm_

        x, y = self._to_tensors(xb, yb)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        return float(loss.item()), _batch_accuracy(logits.detach(), y)

    def evaluate(self, loader: Iterable) -> dict:
        """Mean loss and accuracy over ``loader`` in eval mode, without a graph."""
        total_loss, total_correct, count, acc_count = 0.0, 0.0, 0, 0
        with evaluating(self.model):  # eval mode and no graph, the mode restored after
            for xb, yb in loader:
                x, y = self._to_tensors(xb, yb)
                logits = self.model(x)
                n = len(xb)
                total_loss += float(self.loss_fn(logits, y).item()) * n
                count += n
                acc = _batch_accuracy(logits, y)
                if acc is not None:
                    total_correct += acc * n
                    acc_count += n
        if count == 0:  # a loss of 0.0 would look like a perfect model
            raise ValueError("Trainer.evaluate: the loader gave no batches")
        result = {"loss": total_loss / count}
        if acc_count:
            result["acc"] = total_correct / acc_count
        return result

    def fit(self, train_loader, epochs: int = 1, val_loader=None) -> History:
        from ..serialization import save

        if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"Trainer.fit: epochs must be an integer >= 1, got {epochs!r}")
        done = len(self.history.epochs)  # epochs of earlier fit calls (or of a loaded run)
        for epoch in range(done + 1, done + epochs + 1):
            start = time.perf_counter()
            self.model.train()
            losses, accs, seen = 0.0, 0.0, 0
            acc_seen = 0
            if hasattr(train_loader, "set_epoch"):  # epoch e's shuffle, even after a resume
                train_loader.set_epoch(epoch - 1)
            bar = _progress(train_loader, f"epoch {epoch}/{done + epochs}", self.progress)
            for xb, yb in bar:
                loss, acc = self.train_step(xb, yb)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"Trainer: loss became {loss} at epoch {epoch}; lower the learning "
                        "rate or enable clip_grad_norm"
                    )
                n = len(xb)
                losses += loss * n
                seen += n
                if acc is not None:
                    accs += acc * n
                    acc_seen += n
                if hasattr(bar, "set_postfix"):
                    postfix = {"loss": f"{losses / seen:.4f}"}
                    if acc_seen:
                        postfix["acc"] = f"{accs / acc_seen:.4f}"
                    # shown at the bar's next timed refresh (every 0.1 s): refreshing on every
                    # step wrote ~1,000 lines per MNIST epoch and cost 6% of its time
                    bar.set_postfix(postfix, refresh=False)
            if seen == 0:  # a loss of 0.0 would look like a perfect model
                raise ValueError(f"Trainer.fit: the train loader gave no batches in epoch {epoch}")
            record = {"epoch": epoch, "train_loss": losses / seen}
            if acc_seen:
                record["train_acc"] = accs / acc_seen
            if val_loader is not None:
                val = self.evaluate(val_loader)
                record["val_loss"] = val["loss"]
                if "acc" in val:
                    record["val_acc"] = val["acc"]
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            record["seconds"] = time.perf_counter() - start
            self.history.epochs.append(record)
            self._step_scheduler(record)
            if self.checkpoint_path and self._is_best(record):
                save(self.model.state_dict(), self.checkpoint_path)
            if self.early_stopping is not None and self.early_stopping.step(record):
                break
        return self.history

    # ------------------------------------------------------------------------------------------
    # Resuming
    # ------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """What ``fit`` needs to go on where it stopped: the model's, optimizer's and
        scheduler's states, the epochs done (the history), the best monitored value, the
        early-stopping counters and the library's random generator (dropout). Transforms
        with generators of their own (``RandomCrop(seed=...)``) are not part of it: a run that
        uses them resumes with other augmentations."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "history": [dict(record) for record in self.history.epochs],
                 "best": self._best, "rng": get_rng_state()}  # dropout's next masks
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.early_stopping is not None:
            state["early_stopping"] = {"best": self.early_stopping.best,
                                       "bad_epochs": self.early_stopping.bad_epochs}
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict`` into this Trainer, which must be built like the saved one
        (the same model architecture, optimizer, scheduler and early stopping, or none)."""
        for part, present in (("scheduler", self.scheduler is not None),
                              ("early_stopping", self.early_stopping is not None)):
            if (part in state) != present:
                saved = "has a" if part in state else "has no"
                here = "has one" if present else "has none"
                raise ValueError(f"Trainer.load_state_dict: the saved run {saved} "
                                 f"{part.replace('_', ' ')}, this Trainer {here}; build it like "
                                 "the one that was saved")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.early_stopping is not None:
            self.early_stopping.best = state["early_stopping"]["best"]
            self.early_stopping.bad_epochs = state["early_stopping"]["bad_epochs"]
        self.history = History([dict(record) for record in state["history"]])
        self._best = state["best"]
        if "rng" in state:
            set_rng_state(state["rng"])

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` (``tinygrad_edu.save``: no pickle)."""
        from ..serialization import save

        save(self.state_dict(), path)

    def load(self, path) -> None:
        """Read a file written by ``save`` into this Trainer; ``fit`` then goes on from it."""
        from ..serialization import load

        self.load_state_dict(load(path))

    def _monitored(self, record: dict) -> tuple[str, float]:
        """(name, value) of the metric that picks the best checkpoint and feeds
        ReduceLROnPlateau: ``monitor``, or, when ``fit`` has no validation set, its training
        counterpart (val_loss -> train_loss, val_acc -> train_acc)."""
        name = self.monitor
        if name not in record and name.startswith("val_"):
            name = "train_" + name[len("val_"):]
        if name not in record:
            raise KeyError(f"Trainer: monitor {self.monitor!r} is not in the epoch's record "
                           f"(available: {sorted(record)})")
        return name, record[name]

    def _step_scheduler(self, record: dict) -> None:
        if self.scheduler is None or self.scheduler_interval == "step":
            return
        if _is_plateau(self.scheduler):
            self.scheduler.step(self._monitored(record)[1])
        else:
            self.scheduler.step()

    def _is_best(self, record: dict) -> bool:
        name, value = self._monitored(record)
        higher_is_better = name.endswith("acc")  # accuracies rise, losses fall
        if self._best is None or (value > self._best if higher_is_better else value < self._best):
            self._best = value
            return True
        return False


def _is_plateau(scheduler) -> bool:
    """ReduceLROnPlateau's step takes the monitored metric; the other schedulers take none."""
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def _progress(loader, description: str, enabled: bool):
    """The batches of one epoch of ``loader``, behind a progress bar when ``enabled``.

    ``iter(loader)`` is called here, once: it starts the epoch (a DataLoader draws its shuffle
    order then). tqdm.auto's bar calls iter() on what it wraps as soon as it is made, and again
    when iterated; given the loader itself, that started two epochs, so a run with the bar
    trained on other shuffles than one without it. Given the epoch's iterator, it cannot."""
    batches = iter(loader)
    if not enabled:
        return batches
    from tqdm.auto import tqdm

    total = len(loader) if hasattr(loader, "__len__") else None
    return tqdm(batches, total=total, desc=description, leave=True, dynamic_ncols=True,
                disable=os.environ.get("TINYGRAD_EDU_NO_PROGRESS") == "1")


def fit(model, optimizer, loss_fn, train_loader, epochs: int = 1, val_loader=None,
        **trainer_options) -> History:
    """``Trainer(model, optimizer, loss_fn, **options).fit(train_loader, epochs, val_loader)``."""
    trainer = Trainer(model, optimizer, loss_fn, **trainer_options)
    return trainer.fit(train_loader, epochs, val_loader)
