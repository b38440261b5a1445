"""Review of metrics.py (vs scikit-learn), training/trainer.py (the fit loop) and the command
line (cli.py, training/cli.py): edge cases, the bugs fixed in review, and xfails for bugs that
live in files outside this area."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm

import tinygrad_edu as tg
from tinygrad_edu import metrics, nn, optim
from tinygrad_edu.autograd import Config
from tinygrad_edu.cli import main
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.models import list_models
from tinygrad_edu.training import EarlyStopping, Trainer

PRF = [(metrics.precision, skm.precision_score), (metrics.recall, skm.recall_score),
       (metrics.f1_score, skm.f1_score)]
PRF_IDS = ["precision", "recall", "f1_score"]


def _same(ours, expected) -> bool:
    """Equal floats or arrays, NaN equal to NaN."""
    return np.allclose(ours, expected, rtol=1e-12, atol=0, equal_nan=True)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------------------------
# metrics vs scikit-learn
# ----------------------------------------------------------------------------------------------

# labels absent from predictions, absent from targets, non-contiguous and negative labels
SMALL_CASES = [
    ([0, 0, 0], [1, 1, 1]),
    ([0, 1, 2], [0, 0, 0]),
    ([1, 3, 3], [1, 1, 3]),
    ([-1, 1, 1], [1, -1, 1]),
    ([2, 2, 7], [2, 7, 7]),
    ([5, 5], [5, 5]),
    ([0, 1, 2, 3, 3, 4], [0, 2, 2, 3, 9, 4]),
]


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, float("nan")])
def test_scores_on_edge_labels_match_sklearn(ours_fn, sk_fn, zero_division):
    """Every average, including the error cases (binary on 3 classes): same value or both
    raise."""
    for y_true, y_pred in SMALL_CASES:
        for average in ("binary", "micro", "macro", "weighted", None):
            try:
                expected = _quiet(sk_fn, y_true, y_pred, average=average,
                                  zero_division=zero_division)
            except ValueError:
                with pytest.raises(ValueError, match=ours_fn.__name__):
                    _quiet(ours_fn, y_true, y_pred, average=average,
                           zero_division=zero_division)
                continue
            ours = _quiet(ours_fn, y_true, y_pred, average=average,
                          zero_division=zero_division)
            assert _same(ours, expected), (y_true, y_pred, average, ours, expected)


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
def test_num_classes_on_random_small_sets_match_sklearn_labels(ours_fn, sk_fn):
    """Tiny random sets, where classes often miss from y_true or y_pred or both."""
    rng = np.random.default_rng(1)
    for _ in range(12):
        n, k = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        for average in ("micro", "macro", "weighted", None):
            for zero_division in (0, 1, float("nan")):
                ours = ours_fn(y_true, y_pred, average=average, num_classes=k,
                               zero_division=zero_division)
                expected = sk_fn(y_true, y_pred, average=average, labels=list(range(k)),
                                 zero_division=zero_division)
                assert _same(ours, expected), (y_true, y_pred, average, zero_division)


def test_binary_pos_label_on_other_label_sets_matches_sklearn():
    y_true, y_pred = [-1, 1, 1, -1, 1], [1, 1, -1, -1, 1]
    for ours_fn, sk_fn in PRF:
        for pos_label in (1, -1):
            assert _same(ours_fn(y_true, y_pred, pos_label=pos_label),
                         sk_fn(y_true, y_pred, pos_label=pos_label))
        assert _same(ours_fn([0, 2, 2], [2, 2, 0], pos_label=2),
                     sk_fn([0, 2, 2], [2, 2, 0], pos_label=2))


def test_zero_division_warn_gives_what_zero_gives_and_points_at_the_caller():
    y_true, y_pred = [0, 1, 2, 2], [0, 0, 0, 2]  # class 1 never predicted
    with pytest.warns(UserWarning, match="precision: ill-defined for 1 class") as record:
        warned = metrics.precision(y_true, y_pred, average=None)
    np.testing.assert_array_equal(warned, metrics.precision(y_true, y_pred, average=None,
                                                            zero_division=0))
    assert record[0].filename == __file__  # stacklevel reaches the user's line


def test_confusion_matrix_rows_are_true_labels_as_in_sklearn():
    y_true = [0, 0, 0, 1, 2]
    y_pred = [1, 1, 0, 2, 2]
    ours = metrics.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(ours, skm.confusion_matrix(y_true, y_pred))
    assert ours[0].tolist() == [1, 2, 0]  # row 0: the three samples whose true label is 0
    assert ours.dtype.kind == "i"


def test_confusion_matrix_infers_0_to_max_label_which_sklearn_does_not():
    """Documented difference: the classes are 0..max label, not the labels that occur."""
    y_true, y_pred = [1, 3, 3], [1, 1, 3]
    ours = metrics.confusion_matrix(y_true, y_pred)
    assert ours.shape == (4, 4)
    np.testing.assert_array_equal(ours, skm.confusion_matrix(y_true, y_pred, labels=range(4)))


def test_scores_inputs_as_float32_tensor_and_arrays_are_argmaxed():
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((25, 3)).astype(np.float32)
    y_true = rng.integers(0, 3, 25)
    labels = scores.argmax(1)
    for y_pred in (scores, tg.tensor(scores), tg.tensor(scores).softmax(1)):
        assert metrics.accuracy(tg.tensor(y_true), y_pred) == skm.accuracy_score(y_true, labels)
        assert _same(metrics.recall(y_true, y_pred, average="weighted"),
                     skm.recall_score(y_true, labels, average="weighted"))
    float_labels = tg.tensor(y_true.astype(np.float32))  # integral floats are labels
    assert metrics.accuracy(float_labels, labels) == skm.accuracy_score(y_true, labels)


def test_no_samples_is_an_error_for_the_count_and_the_confusion_matrix_too():
    """Before, accuracy(..., normalize=False) gave 0 and confusion_matrix a 1x1 (or C x C)
    zero matrix for no samples; scikit-learn raises for both, as every other metric here."""
    with pytest.raises(ValueError):
        skm.accuracy_score([], [], normalize=False)
    with pytest.raises(ValueError):
        skm.confusion_matrix([], [], labels=[0, 1])
    with pytest.raises(ValueError, match="accuracy: got 0 samples"):
        metrics.accuracy([], [], normalize=False)
    with pytest.raises(ValueError, match="confusion_matrix: got 0 samples"):
        metrics.confusion_matrix([], [])
    with pytest.raises(ValueError, match="confusion_matrix: got 0 samples"):
        metrics.confusion_matrix(np.zeros(0, dtype=int), np.zeros((0, 3)), num_classes=3)


def test_a_column_of_labels_gets_a_hint_that_keeps_the_labels():
    """y.argmax(1), the old hint for any 2-D y_true, turns a column of labels into zeros."""
    column = np.array([[2], [0], [1]])
    with pytest.raises(ValueError, match=r"accuracy: y_true .* got shape \(3, 1\) \(for a "
                                         r"column of labels use y.reshape\(-1\)\)"):
        metrics.accuracy(column, [2, 0, 1])
    assert metrics.accuracy(column.reshape(-1), [2, 0, 1]) == 1.0
    with pytest.raises(ValueError, match=r"one-hot targets use y.argmax\(1\)"):
        metrics.accuracy(np.eye(3), [0, 1, 2])


ERRORS = [
    (lambda: metrics.accuracy(np.zeros((2, 3, 4)), [0, 1]), ValueError,
     r"accuracy: y_true must have shape \(N,\) class labels, got shape \(2, 3, 4\)"),
    (lambda: metrics.f1_score([0, 1], np.zeros((2, 3, 4)), average="macro"), ValueError,
     r"f1_score: y_pred must have shape \(N,\) labels or \(N, C\) scores, got shape"),
    (lambda: metrics.accuracy(3, 3), ValueError, r"got shape \(\)"),
    (lambda: metrics.recall([0, 1, 1], np.zeros((4, 2)), average="micro"), ValueError,
     "recall: y_true has 3 samples but y_pred has 4"),
    (lambda: metrics.confusion_matrix([0, 1.5], [0, 1]), ValueError,
     "confusion_matrix: y_true holds non-integer values"),
    (lambda: metrics.accuracy([0, float("nan")], [0, 1]), ValueError,
     "accuracy: y_true holds non-integer values"),
    (lambda: metrics.accuracy(np.array([1, 2], dtype=object), [1, 2]), TypeError,
     "accuracy: y_true must hold integer class labels, got dtype object"),
    (lambda: metrics.precision(["cat", "dog"], ["cat", "cat"]), TypeError,
     "precision: y_true must hold integer class labels"),
    (lambda: metrics.precision([0, 1], [0, 1], average="macro", num_classes=2.0), ValueError,
     "precision: num_classes must be a positive integer, got 2.0"),
    (lambda: metrics.f1_score([0, 4], [0, 1], average="macro", num_classes=3), ValueError,
     r"f1_score: y_true contains label 4, outside 0..2"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_bad_inputs_raise_errors_that_name_the_metric(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----------------------------------------------------------------------------------------------
# Trainer
# ----------------------------------------------------------------------------------------------


def _data(n=23, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


def _linear_trainer(lr=0.1, **options):
    tg.manual_seed(0)
    model = nn.Linear(4, 3)
    options.setdefault("progress", False)
    return Trainer(model, optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(), **options)


class _Probe(nn.Module):
    """A linear layer that records the mode and the grad switch of every call."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, Config.grad_enabled))
        return self.fc(x)


def test_evaluate_runs_in_eval_mode_without_a_graph_and_restores_the_mode():
    x, y = _data()
    probe = _Probe()
    trainer = Trainer(probe, optim.SGD(probe.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                      progress=False)
    trainer.fit([(x, y)], epochs=1, val_loader=[(x, y)])
    assert probe.calls == [(True, True), (False, False)]  # train step, then the evaluation
    assert probe.training and Config.grad_enabled
    probe.eval()
    trainer.evaluate([(x, y)])
    assert not probe.training  # put back as it was found, not switched to train
    probe.train()
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of bounds"):
        trainer.evaluate([(x, np.full(len(y), 7))])  # a bad target raises inside
    assert probe.training and Config.grad_enabled


def test_losses_are_averaged_by_batch_size():
    """Batches of 5, 5, 5, 5, 3: the epoch's loss is the loss over all 23 samples (lr 0 keeps
    the weights fixed), not the mean of the five batch means."""
    x, y = _data()
    trainer = _linear_trainer(lr=0.0)
    full = float(nn.CrossEntropyLoss()(trainer.model(tg.tensor(x)), tg.tensor(y)).item())
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    record = trainer.fit(loader, epochs=1, val_loader=loader).epochs[0]
    assert record["train_loss"] == pytest.approx(full, rel=1e-6)
    assert record["val_loss"] == pytest.approx(full, rel=1e-6)
    labels = trainer.model(tg.tensor(x)).detach().numpy().argmax(1)
    assert record["val_acc"] == pytest.approx(skm.accuracy_score(y, labels), rel=1e-12)
    assert record["train_acc"] == pytest.approx(record["val_acc"], rel=1e-12)


def test_train_step_zeroes_the_gradients_of_the_step_before():
    torch = pytest.importorskip("torch")
    x, y = _data()
    trainer = _linear_trainer(lr=0.0)
    trainer.train_step(x[:10], y[:10])
    trainer.train_step(x[10:], y[10:])
    weight = torch.tensor(trainer.model.weight.detach().numpy(), requires_grad=True)
    bias = torch.tensor(trainer.model.bias.detach().numpy(), requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch.tensor(x[10:]) @ weight.T + bias,
                                             torch.tensor(y[10:]))
    loss.backward()
    np.testing.assert_allclose(trainer.model.weight.grad.numpy(), weight.grad.numpy(),
                               rtol=1e-5, atol=1e-7)  # the last batch's gradient only


def test_clip_grad_norm_bounds_the_gradient_the_optimizer_sees():
    x, y = _data()
    trainer = _linear_trainer(lr=0.0, clip_grad_norm=1e-3)
    trainer.train_step(x * 100, y)
    norm = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in trainer.model.parameters()))
    assert norm == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("interval, lrs", [("epoch", [0.1, 0.05, 0.025]),
                                           ("step", [0.025, 0.00625, 0.0015625])])
def test_scheduler_steps_once_per_epoch_or_once_per_batch(interval, lrs):
    """Two batches per epoch: per epoch the record holds the lr the epoch used; per step the lr
    after the epoch's two halvings."""
    x, y = _data()
    trainer = _linear_trainer()
    trainer.scheduler = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    trainer.scheduler_interval = interval
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=12), epochs=3)
    assert history["lr"] == pytest.approx(lrs, rel=1e-12)


def test_plateau_with_a_step_interval_is_refused_when_the_trainer_is_built():
    """Before, fit failed deep in the first step with 'step() missing 1 required positional
    argument: metrics'."""
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="Trainer: ReduceLROnPlateau .* scheduler_interval="
                                         "'epoch'"):
        Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=plateau, scheduler_interval="step")


def test_an_empty_loader_is_an_error_not_a_loss_of_zero():
    """Before, evaluate([]) gave {'loss': 0.0} and fit on an empty loader a train_loss of 0.0
    (a perfect score that the best-checkpoint logic would keep)."""
    x, y = _data()
    trainer = _linear_trainer()
    with pytest.raises(ValueError, match="Trainer.evaluate: the loader gave no batches"):
        trainer.evaluate([])
    with pytest.raises(ValueError, match="Trainer.fit: the train loader gave no batches"):
        trainer.fit([], epochs=1)
    drop_all = DataLoader(TensorDataset(x, y), batch_size=50, drop_last=True)
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit(drop_all, epochs=1)


@pytest.mark.parametrize("epochs", [0, -2, 1.5, True, "3"])
def test_epochs_must_be_a_positive_integer(epochs):
    x, y = _data()
    with pytest.raises(ValueError, match="Trainer.fit: epochs must be an integer >= 1"):
        _linear_trainer().fit([(x, y)], epochs=epochs)


def test_a_non_finite_loss_stops_with_a_clear_error():
    x, y = _data()
    with pytest.raises(FloatingPointError, match="Trainer: loss became nan at epoch 1"):
        _linear_trainer().fit([(np.full_like(x, np.nan), y)], epochs=1)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    x, y = _data()
    trainer = _linear_trainer(lr=0.0, early_stopping=EarlyStopping(monitor="val_loss",
                                                                   patience=2))
    history = trainer.fit([(x, y)], epochs=10, val_loader=[(x, y)])
    assert history["epoch"] == [1, 2, 3]  # 1 sets the best, 2 and 3 do not improve on it
    stopper = EarlyStopping(monitor="val_acc", mode="max", patience=1, min_delta=0.05)
    assert [stopper.step({"val_acc": a}) for a in (0.5, 0.54, 0.6)] == [False, True, False]


def test_the_best_checkpoint_holds_the_best_epochs_weights(tmp_path):
    """Random validation labels: val_loss is lowest at epoch 2 of 5, and the file keeps the
    model of epoch 2, not the last one."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    val = DataLoader(TensorDataset(rng.standard_normal((30, 4)).astype(np.float32),
                                   rng.integers(0, 3, 30)), batch_size=10)
    path = tmp_path / "best.ckpt"
    trainer = _linear_trainer(lr=0.5, checkpoint_path=str(path), monitor="val_loss")
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=20), epochs=5,
                          val_loader=val)
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    assert 1 < best_epoch < 5, history["val_loss"]  # the test needs a best in the middle
    assert trainer._best == min(history["val_loss"])
    fresh = nn.Linear(4, 3)
    fresh.load_state_dict(tg.load(path))
    reloaded = Trainer(fresh, optim.SGD(fresh.parameters(), lr=0.1), nn.CrossEntropyLoss())
    assert reloaded.evaluate(val)["loss"] == pytest.approx(trainer._best, rel=1e-6)
    assert trainer.evaluate(val)["loss"] != pytest.approx(trainer._best, rel=1e-6)


def test_save_and_load_restore_the_model_the_optimizer_and_the_epoch(tmp_path):
    x, y = _data()
    tg.manual_seed(0)
    model = nn.Linear(4, 3)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), nn.CrossEntropyLoss(),
                      progress=False)
    trainer.fit([(x, y)], epochs=2)
    trainer.save(tmp_path / "run.tge")

    tg.manual_seed(1)  # other initial weights, overwritten by the load
    other = nn.Linear(4, 3)
    loaded = Trainer(other, optim.Adam(other.parameters(), lr=0.5), nn.CrossEntropyLoss(),
                     progress=False)
    loaded.load(tmp_path / "run.tge")
    np.testing.assert_array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())
    saved_opt, loaded_opt = trainer.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert loaded_opt["param_groups"][0]["lr"] == 0.01
    for index, values in saved_opt["state"].items():
        for key, value in values.items():
            np.testing.assert_array_equal(loaded_opt["state"][index][key], value, err_msg=key)
    assert loaded.fit([(x, y)], epochs=1)["epoch"] == [1, 2, 3]
    assert trainer.fit([(x, y)], epochs=1)["train_loss"] == loaded.history["train_loss"]


def test_two_runs_with_the_same_seeds_are_identical():
    x, y = _data(n=40)

    def run(loader_seed):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                          progress=False)
        loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=loader_seed)
        return trainer.fit(loader, epochs=2)["train_loss"], model[0].weight.detach().numpy().copy()

    (losses_a, w_a), (losses_b, w_b), (losses_c, _) = run(1), run(1), run(2)
    assert losses_a == losses_b
    np.testing.assert_array_equal(w_a, w_b)
    assert losses_a != losses_c


def test_progress_bar_shows_the_epoch_and_can_be_switched_off(capsys, monkeypatch):
    x, y = _data()
    monkeypatch.delenv("TINYGRAD_EDU_NO_PROGRESS", raising=False)
    _linear_trainer(progress=True).fit(DataLoader(TensorDataset(x, y), batch_size=8), epochs=2)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "3/3" in err
    _linear_trainer(progress=False).fit([(x, y)], epochs=1)
    monkeypatch.setenv("TINYGRAD_EDU_NO_PROGRESS", "1")
    _linear_trainer(progress=True).fit([(x, y)], epochs=1)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

TINY = ["--dataset", "digits", "--limit", "48", "--test-limit", "24", "--batch-size", "16",
        "--no-progress"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_EDU_NO_PROGRESS", "1")
    return tmp_path


def test_train_on_digits_writes_every_file_and_consistent_metrics(in_tmp, capsys):
    assert main(["train", "mlp", *TINY, "--epochs", "2", "--out", "run"]) == 0
    out = in_tmp / "run"
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "history.png",
                                                     "metrics.json", "model.ckpt"]
    history = json.loads((out / "history.json").read_text())["epochs"]
    result = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in history] == [1, 2]
    # the final test accuracy is the last epoch's validation accuracy (same model, same set)
    assert result["test_accuracy"] == pytest.approx(history[-1]["val_acc"], rel=1e-12)
    assert 0.0 <= result["test_macro_f1"] <= 1.0
    model = tg.models.get_model("mlp", in_features=64, out_features=10)
    model.load_state_dict(tg.load(out / "model.ckpt"))
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [
    ["--optimizer", "sgd", "--schedule", "warmup-linear", "--clip-grad-norm", "1.0"],
    ["--optimizer", "adamw", "--schedule", "cosine", "--lr", "0.01", "--kernel", "reference",
     "--seed", "3", "--threads", "1"],
])
def test_train_flags_work_on_tiny_inputs(in_tmp, flags):
    assert main(["train", "mlp", *TINY, "--out", "run", *flags]) == 0
    result = json.loads((in_tmp / "run" / "metrics.json").read_text())
    assert result["schedule"] == flags[3]
    assert result["lr"] == (0.01 if "--lr" in flags else 1e-3)


def test_default_output_folder_is_runs_model_dataset(in_tmp):
    assert main(["train", "mlp", *TINY]) == 0
    assert (in_tmp / "runs" / "mlp-digits" / "metrics.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "mlp", "--dataset", "nope"], "--dataset: model 'mlp' trains on mnist, "
                                            "fashion-mnist, digits, not 'nope'"),
    (["train", "mlp", "--dataset", "cifar10"], "not 'cifar10'"),
    (["train", "mlp", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["train", "mlp", "--epochs", "-3"], "--epochs must be at least 1, got -3"),
    (["train", "mlp", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["train", "mlp", "--clip-grad-norm", "-1"], "--clip-grad-norm must be positive"),
    (["train", "text-lstm", "--max-len", "0"], "--max-len must be at least 1, got 0"),
])
def test_bad_values_are_one_line_usage_errors_that_write_nothing(argv, message, in_tmp, capsys):
    """Before, a wrong --dataset raised SystemExit (status 1, and out of main() instead of its
    return value) and --seed -1 a NumPy traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-edu train: error: ") and message in err
    assert err.count("\n") == 1
    assert list(in_tmp.iterdir()) == []


def test_a_model_without_a_data_set_points_to_its_script(in_tmp):
    """Kept as SystemExit (status 1), which tests/models/test_model_registry_cli.py expects."""
    with pytest.raises(SystemExit, match="run: python examples/gpt_char.py"):
        main(["train", "gpt"])
    assert list(in_tmp.iterdir()) == []


def test_dataset_aliases_and_case_are_accepted():
    from tinygrad_edu.training.cli import _check_train_args

    parser = tg.cli.build_parser()
    for name, expected in (("fashion", "fashion-mnist"), ("DIGITS", "digits"),
                           ("Fashion_MNIST", "fashion-mnist")):
        args = parser.parse_args(["train", "mlp", "--dataset", name])
        assert _check_train_args(args)[1] == expected


def test_a_missing_data_package_is_a_clear_error_with_no_output_folder(in_tmp, capsys,
                                                                       monkeypatch):
    """digits ship with scikit-learn: without it, one error naming the package, status 2, and
    no empty output folder (before: a traceback, and runs/mlp-digits/ made)."""
    from tinygrad_edu.data import datasets

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    datasets._digits_arrays.cache_clear()
    try:
        assert main(["train", "mlp", *TINY]) == 2
    finally:
        datasets._digits_arrays.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-edu train: error: digits not found") and "scikit-learn" in err
    assert "Traceback" not in err
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("argv", [["train"], ["train", "mlp", "--epochs", "two"],
                                  ["train", "mlp", "--optimizer", "rmsprop"], ["nosuch"]])
def test_argparse_errors_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_models_lists_every_registered_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for spec in tg.models.list_models():
        assert spec.name in out


def test_console_exit_status_of_a_train_usage_error():
    done = subprocess.run([sys.executable, "-m", "tinygrad_edu.cli", "train", "mlp",
                           "--dataset", "nope"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_warmup_linear_and_cosine_schedules_shape():
    from tinygrad_edu.training.cli import make_schedule

    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    schedule = make_schedule("warmup-linear", opt, total_steps=100, warmup=100)  # warm-up 10
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(99):
        opt.step()
        schedule.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(lrs[9])
    assert lrs[9] == pytest.approx(0.91) and lrs[-1] == pytest.approx(0.01)
    assert make_schedule("none", opt, 10) is None


# ----------------------------------------------------------------------------------------------
# The model registry (models/__init__.py): every model registered for 8x8 digits runs on them
# (LeNet-5 and the Keras CNN, whose pooling needs 28x28 images, are registered for MNIST only)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [s.name for s in list_models()
                                  if "digits" in s.datasets and s.input == "image"])
def test_every_model_registered_for_digits_runs_on_8x8_images(name):
    from tinygrad_edu.training.cli import data_kwargs

    spec = tg.models.get_spec(name)
    assert "digits" in spec.datasets
    info = tg.data.dataset_info("digits")
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)  # what the CLI makes of two digits
    model = tg.models.get_model(name, **data_kwargs(spec, info, x))
    with tg.no_grad():
        logits = model.eval()(tg.tensor(x))
    assert logits.shape == (2, 10)


@pytest.mark.parametrize("name", ["lenet", "keras-cnn"])
def test_models_that_need_28x28_images_are_not_offered_digits(name):
    assert "digits" not in tg.models.get_spec(name).datasets
