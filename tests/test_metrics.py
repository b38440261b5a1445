"""Classification metrics vs scikit-learn (the oracle), on random labels and edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm

import tinygrad_edu as tg
from tinygrad_edu import metrics

PRF = [
    (metrics.precision, skm.precision_score),
    (metrics.recall, skm.recall_score),
    (metrics.f1_score, skm.f1_score),
]
PRF_IDS = ["precision", "recall", "f1_score"]


def random_labels(seed: int, n: int, num_classes: int):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, num_classes, size=n)
    # predictions right ~60% of the time so the scores are far from 0 and 1
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, num_classes, size=n))
    return y_true, y_pred


def as_kind(y, kind: str):
    if kind == "list":
        return y.tolist()
    if kind == "tensor":
        return tg.tensor(y)
    return y


def close(a, b):
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    return np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("kind", ["array", "list", "tensor"])
@pytest.mark.parametrize("seed", range(5))
def test_accuracy_matches_sklearn(seed, kind):
    y_true, y_pred = random_labels(seed, 50 + seed, 4)
    ours = metrics.accuracy(as_kind(y_true, kind), as_kind(y_pred, kind))
    assert isinstance(ours, float)
    assert ours == pytest.approx(skm.accuracy_score(y_true, y_pred), rel=1e-15)
    assert metrics.accuracy(y_true, y_pred, normalize=False) == \
        skm.accuracy_score(y_true, y_pred, normalize=False)


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
@pytest.mark.parametrize("kind", ["array", "list", "tensor"])
@pytest.mark.parametrize("seed", range(4))
def test_binary_scores_match_sklearn(ours_fn, sk_fn, seed, kind):
    y_true, y_pred = random_labels(seed, 40, 2)
    for pos_label in (1, 0):
        ours = ours_fn(as_kind(y_true, kind), as_kind(y_pred, kind), pos_label=pos_label)
        assert isinstance(ours, float)
        assert close(ours, sk_fn(y_true, y_pred, pos_label=pos_label))


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
@pytest.mark.parametrize("seed", range(4))
def test_multiclass_scores_match_sklearn(ours_fn, sk_fn, average, seed):
    y_true, y_pred = random_labels(seed, 60, 5)
    ours = ours_fn(tg.tensor(y_true), y_pred, average=average)
    expected = sk_fn(y_true, y_pred, average=average)
    assert close(ours, expected)


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
def test_num_classes_includes_absent_classes_like_sklearn_labels(ours_fn, sk_fn):
    y_true = np.array([0, 1, 1, 2, 2, 2, 0, 1])
    y_pred = np.array([0, 1, 2, 2, 2, 1, 0, 0])
    for average in ("macro", "micro", "weighted", None):
        ours = ours_fn(y_true, y_pred, average=average, num_classes=5, zero_division=0)
        expected = sk_fn(y_true, y_pred, average=average, labels=range(5), zero_division=0)
        assert close(ours, expected)
    # without num_classes only the classes that occur count
    assert ours_fn(y_true, y_pred, average="macro") == pytest.approx(
        sk_fn(y_true, y_pred, average="macro"))


def test_micro_scores_equal_accuracy_for_single_label_data():
    y_true, y_pred = random_labels(7, 80, 6)
    acc = metrics.accuracy(y_true, y_pred)
    for fn in (metrics.precision, metrics.recall, metrics.f1_score):
        assert fn(y_true, y_pred, average="micro") == pytest.approx(acc, rel=1e-12)


@pytest.mark.parametrize("ours_fn, sk_fn", PRF, ids=PRF_IDS)
@pytest.mark.parametrize("zero_division", [0, 1, float("nan")])
def test_zero_division_values_match_sklearn(ours_fn, sk_fn, zero_division):
    # class 3 is never predicted, class 4 never occurs in y_true, class 5 in neither
    y_true = np.array([0, 1, 2, 3, 3, 0, 1, 2])
    y_pred = np.array([0, 1, 2, 4, 2, 0, 4, 2])
    for average in ("macro", "weighted", None):
        ours = ours_fn(y_true, y_pred, average=average, num_classes=6,
                       zero_division=zero_division)
        expected = sk_fn(y_true, y_pred, average=average, labels=range(6),
                         zero_division=zero_division)
        assert close(ours, expected), (average, ours, expected)
    # binary, with no positive predictions and no positives at all
    ours = ours_fn([0, 0, 0], [0, 0, 0], zero_division=zero_division)
    assert close(ours, sk_fn([0, 0, 0], [0, 0, 0], zero_division=zero_division))


def test_zero_division_warn_gives_zero_and_warns():
    with pytest.warns(UserWarning, match="precision: ill-defined for 1 class"):
        value = metrics.precision([1, 0, 1], [0, 0, 0])
    assert value == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.precision([1, 0, 1], [0, 0, 0], zero_division=0) == 0.0
        # F1 of a class with TP = 0 but FN > 0 is a plain 0, not a 0/0
        assert metrics.f1_score([1, 0, 1], [0, 0, 0]) == 0.0


@pytest.mark.parametrize("num_classes", [2, 3, 6])
@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_sklearn(seed, num_classes):
    y_true, y_pred = random_labels(seed, 70, num_classes)
    ours = metrics.confusion_matrix(tg.tensor(y_true), y_pred.tolist(), num_classes=num_classes)
    expected = skm.confusion_matrix(y_true, y_pred, labels=range(num_classes))
    np.testing.assert_array_equal(ours, expected)
    assert ours.shape == (num_classes, num_classes)
    for normalize in ("true", "pred", "all"):
        np.testing.assert_allclose(
            metrics.confusion_matrix(y_true, y_pred, num_classes, normalize=normalize),
            skm.confusion_matrix(y_true, y_pred, labels=range(num_classes),
                                 normalize=normalize),
            rtol=1e-12,
        )


def test_confusion_matrix_infers_num_classes_and_keeps_absent_rows():
    ours = metrics.confusion_matrix([0, 2, 2], [0, 2, 1])
    np.testing.assert_array_equal(ours, [[1, 0, 0], [0, 0, 0], [0, 1, 1]])
    np.testing.assert_allclose(metrics.confusion_matrix([0, 2, 2], [0, 2, 1], normalize="true"),
                               [[1, 0, 0], [0, 0, 0], [0, 0.5, 0.5]])


def test_logits_and_probabilities_are_argmaxed():
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((30, 4))
    y_true = rng.integers(0, 4, size=30)
    labels = logits.argmax(axis=1)
    probs = tg.tensor(logits).softmax(1)
    assert metrics.accuracy(y_true, tg.tensor(logits)) == skm.accuracy_score(y_true, labels)
    assert metrics.f1_score(y_true, probs, average="macro") == pytest.approx(
        skm.f1_score(y_true, labels, average="macro"), rel=1e-12)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, logits, 4),
                                  skm.confusion_matrix(y_true, labels, labels=range(4)))
    # a tensor that requires grad works too (the metric is not differentiated)
    w = tg.tensor(logits, requires_grad=True)
    assert metrics.accuracy(y_true, w * 1.0) == skm.accuracy_score(y_true, labels)


def test_integral_floats_and_bools_are_labels():
    assert metrics.accuracy(np.array([1.0, 0.0, 1.0]), [True, False, False]) == \
        pytest.approx(2 / 3)


ERRORS = [
    (lambda: metrics.accuracy([0, 1, 1], [0, 1]), ValueError,
     "accuracy: y_true has 3 samples but y_pred has 2"),
    (lambda: metrics.f1_score(np.zeros(4), np.zeros((5, 3))), ValueError,
     "f1_score: y_true has 4 samples but y_pred has 5"),
    (lambda: metrics.precision([0, 1, 2], [0, 1, 1]), ValueError,
     "precision: average='binary' needs at most two classes"),
    (lambda: metrics.recall([0, 1, 1], [0, 1, 1], average="samples"), ValueError,
     "recall: average must be one of"),
    (lambda: metrics.precision([0, 2, 2], [0, 2, 0], pos_label=1), ValueError,
     r"precision: pos_label=1 is not one of the labels \[0, 2\]"),
    (lambda: metrics.accuracy([0, 1], [0.2, 0.9]), ValueError,
     "accuracy: y_pred holds non-integer values"),
    (lambda: metrics.accuracy(np.eye(3), [0, 1, 2]), ValueError,
     r"accuracy: y_true must have shape \(N,\) class labels, got shape \(3, 3\)"),
    (lambda: metrics.accuracy([0, 1], np.ones((2, 1))), ValueError,
     r"accuracy: y_pred has shape \(2, 1\)"),
    (lambda: metrics.accuracy(["a", "b"], ["a", "b"]), TypeError,
     "accuracy: y_true must hold integer class labels"),
    (lambda: metrics.confusion_matrix([0, 1, 3], [0, 1, 1], num_classes=3), ValueError,
     r"confusion_matrix: y_true contains label 3, outside 0..2"),
    (lambda: metrics.confusion_matrix([0, -1], [0, 1]), ValueError,
     "confusion_matrix: labels must be >= 0"),
    (lambda: metrics.confusion_matrix([0, 1], [0, 1], normalize="rows"), ValueError,
     "confusion_matrix: normalize must be"),
    (lambda: metrics.f1_score([0, 1], [0, 1], zero_division=0.5), ValueError,
     "f1_score: zero_division must be"),
    (lambda: metrics.recall([0, 1], [0, 1], average="macro", num_classes=0), ValueError,
     "recall: num_classes must be a positive integer"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m for _, _, m in ERRORS])
def test_errors_name_the_metric_and_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sklearn_agrees_on_the_errors_we_mirror():
    with pytest.raises(ValueError):
        skm.precision_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError):
        skm.precision_score([0, 2, 2], [0, 2, 0], pos_label=1)


@pytest.mark.parametrize("fn", [metrics.precision, metrics.recall, metrics.f1_score])
@pytest.mark.parametrize("average", ["binary", "micro", "macro", "weighted", None])
def test_scores_of_no_samples_are_an_error_as_accuracy_and_sklearn(fn, average):
    """Before, macro and weighted gave a silent NaN and micro/binary 0.0."""
    with pytest.raises(ValueError, match="got 0 samples"):
        fn([], [], average=average)
