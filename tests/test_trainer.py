"""Trainer: the fit loop around the plain training step, and its progress bar."""

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.training import Trainer


def _blobs(n=200, seed=0):
    """Two Gaussian blobs in 4-d, labels 0 and 1: separable, learned in one epoch."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 4)).astype(np.float32) + 3.0 * y[:, None]
    return TensorDataset(x, y)


def _trainer(progress: bool) -> Trainer:
    tg.manual_seed(0)
    model = nn.Linear(4, 2)
    return Trainer(model, optim.Adam(model.parameters(), lr=0.05), nn.CrossEntropyLoss(),
                   progress=progress)


def test_fit_learns_and_records_the_epoch():
    history = _trainer(progress=False).fit(DataLoader(_blobs(), batch_size=4), epochs=2)
    first, last = history.epochs
    assert last["train_loss"] < first["train_loss"]
    assert last["train_acc"] > 0.95
    assert set(last) >= {"epoch", "train_loss", "train_acc", "lr", "seconds"}


def test_progress_bar_refreshes_on_its_timer_not_on_every_step(capsys, monkeypatch):
    """The loss and accuracy reach the bar at its timed refreshes: a refresh per step wrote a
    line per batch (about 1,000 per MNIST epoch into a log) and cost 6% of the epoch."""
    monkeypatch.delenv("TINYGRAD_EDU_NO_PROGRESS", raising=False)  # the bar is on
    loader = DataLoader(_blobs(), batch_size=4)  # 50 steps, well under a second
    _trainer(progress=True).fit(loader, epochs=1)
    err = capsys.readouterr().err
    refreshes = err.count("\r")
    assert refreshes < 25, f"{refreshes} refreshes for 50 steps"
    assert "50/50" in err and "loss=" in err.rsplit("\r", 1)[-1]  # the final bar shows them
