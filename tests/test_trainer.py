"""Trainer: the fit loop around the plain training step, and its progress bar."""

import numpy as np
import pytest

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


def test_monitor_without_a_validation_set_is_its_training_counterpart():
    """val_acc falls back to train_acc (higher is better), val_loss to train_loss (lower is
    better); before, a missing val_acc fell back to the train loss and kept the *highest*
    loss's checkpoint."""
    epochs = [{"train_loss": 2.0, "train_acc": 0.5}, {"train_loss": 1.0, "train_acc": 0.7},
              {"train_loss": 0.5, "train_acc": 0.6}, {"train_loss": 0.7, "train_acc": 0.8}]
    for monitor, best in (("val_acc", [True, True, False, True]),
                          ("val_loss", [True, True, True, False]),
                          ("train_acc", [True, True, False, True])):
        trainer = _trainer(progress=False)
        trainer.monitor = monitor
        assert [trainer._is_best(record) for record in epochs] == best, monitor
    trainer = _trainer(progress=False)
    trainer.monitor = "val_f1"
    with pytest.raises(KeyError, match="monitor 'val_f1' is not in the epoch's record"):
        trainer._is_best(epochs[0])


def test_checkpoint_of_the_best_epoch_and_plateau_on_the_monitored_metric(tmp_path):
    """fit saves the model of the epoch with the best val_acc, and ReduceLROnPlateau in
    "max" mode sees that accuracy."""
    tg.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = optim.SGD(model.parameters(), lr=0.05)
    seen = []
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    original_step = plateau.step
    plateau.step = lambda metric: (seen.append(metric), original_step(metric))
    path = tmp_path / "best.ckpt"
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=plateau,
                      checkpoint_path=str(path), monitor="val_acc", progress=False)
    history = trainer.fit(DataLoader(_blobs(), batch_size=8), epochs=3,
                          val_loader=DataLoader(_blobs(seed=1), batch_size=50))
    assert seen == [record["val_acc"] for record in history.epochs]
    assert path.exists()
    assert trainer._best == max(record["val_acc"] for record in history.epochs)


def _resumable(seed_loader: int = 3):
    """A Trainer with every part that carries state: momentum, a scheduler, early stopping,
    dropout (the library's random generator), a shuffling loader with a seed."""
    from tinygrad_edu.training.trainer import EarlyStopping

    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(),
                      scheduler=optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
                      early_stopping=EarlyStopping(monitor="train_loss", patience=10),
                      progress=False)
    return trainer, DataLoader(_blobs(), batch_size=16, shuffle=True, seed=seed_loader)


def test_save_and_load_resume_a_run_exactly(tmp_path):
    """2 epochs, save, a new Trainer loads the file and runs 2 more: the same weights, history
    (epochs numbered 3 and 4), learning rates and shuffles as 4 epochs without a break."""
    straight, loader = _resumable()
    straight.fit(loader, epochs=4)

    first, loader = _resumable()
    first.fit(loader, epochs=2)
    path = tmp_path / "run.tge"
    first.save(path)
    second, loader = _resumable()  # a fresh process would build the same objects
    second.load(path)
    history = second.fit(loader, epochs=2)

    assert history["epoch"] == [1, 2, 3, 4]
    for key in ("train_loss", "train_acc", "lr"):
        assert history[key] == straight.history[key], key
    for (name, p), (_, q) in zip(second.model.named_parameters(),
                                 straight.model.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=name)
    assert second.early_stopping.best == straight.early_stopping.best


def test_load_refuses_a_trainer_built_differently(tmp_path):
    trainer, loader = _resumable()
    trainer.fit(loader, epochs=1)
    trainer.save(tmp_path / "run.tge")
    other = _trainer(progress=False)  # no scheduler, no early stopping, another model
    with pytest.raises(ValueError, match="the saved run has a scheduler, this Trainer has none"):
        other.load(tmp_path / "run.tge")


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    tg.manual_seed(5)
    state = tg.get_rng_state()
    expected = tg.randn(3).numpy()
    tg.save({"rng": state}, tmp_path / "rng.tge")
    tg.manual_seed(0)
    tg.set_rng_state(tg.load(tmp_path / "rng.tge")["rng"])
    np.testing.assert_array_equal(tg.randn(3).numpy(), expected)
    with pytest.raises(ValueError, match="set_rng_state: not a state"):
        tg.set_rng_state({"bit_generator": "nope"})


def test_the_progress_bar_does_not_change_the_run(monkeypatch):
    """tqdm.auto called iter() on the loader when the bar was made and again when iterated:
    each epoch started twice, so a run with the bar shuffled differently from one without."""
    monkeypatch.delenv("TINYGRAD_EDU_NO_PROGRESS", raising=False)
    histories = []
    for progress in (False, True):
        trainer = _trainer(progress=progress)
        loader = DataLoader(_blobs(), batch_size=16, shuffle=True, seed=3)
        histories.append(trainer.fit(loader, epochs=2)["train_loss"])
        assert loader.epoch == 2  # two epochs started, not four
    assert histories[0] == histories[1]
