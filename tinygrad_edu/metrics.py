"""Classification metrics: accuracy, precision, recall, F1 and the confusion matrix.

The results agree with scikit-learn's functions of the same names (same argument order:
``y_true`` first). Inputs may be lists, NumPy/CuPy arrays or Tensors:

- ``y_true``: integer class labels, shape (N,).
- ``y_pred``: integer class labels, shape (N,), or scores of shape (N, C) (logits or
  probabilities), which are turned into labels with ``argmax`` over the classes.

For one class ``k``, counting over the N samples::

    TP = #(true == k and pred == k)     FP = #(true != k and pred == k)
    FN = #(true == k and pred != k)

    precision = TP / (TP + FP)          "of the samples predicted k, how many are k"
    recall    = TP / (TP + FN)          "of the samples that are k, how many were found"
    F1        = 2 TP / (2 TP + FP + FN) (the harmonic mean of precision and recall)

``average`` combines the classes:

- ``"binary"``: only the class ``pos_label`` (the labels must hold at most two classes);
- ``"micro"``: add TP, FP, FN over the classes first, then divide (for single-label
  multiclass data micro precision = micro recall = micro F1 = accuracy);
- ``"macro"``: the unweighted mean of the per-class scores (every class counts the same);
- ``"weighted"``: the mean of the per-class scores weighted by each class's support (TP + FN);
- ``None``: the per-class scores as an array.

The classes are those in ``y_true`` or ``y_pred`` (sorted), or ``0 .. num_classes - 1`` when
``num_classes`` is given (then classes absent from both still count in "macro").

**Zero division.** A class that is never predicted has TP + FP = 0, so its precision is 0/0
(likewise recall without true samples, F1 without either). ``zero_division`` says what to use:
``"warn"`` (default, as in scikit-learn) gives 0.0 and warns; ``0`` or ``1`` give that value
silently; ``float("nan")`` gives NaN, and the averages then skip the NaN classes.

>>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
0.75
>>> precision([0, 1, 2, 2], [0, 2, 2, 2], average="macro", zero_division=0)  # (1 + 0 + 2/3)/3
0.5555555555555555
>>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], num_classes=3).tolist()
[[1, 0, 0], [0, 0, 1], [0, 0, 2]]
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import backend
from .tensor import Tensor

AVERAGES = ("binary", "micro", "macro", "weighted", None)


# ----------------------------------------------------------------------------------------------
# Inputs: anything array-like -> integer label arrays of shape (N,)
# ----------------------------------------------------------------------------------------------


def _as_numpy(y) -> np.ndarray:
    if isinstance(y, Tensor):
        y = y.data
    if backend.is_cupy_array(y):
        return backend.to_numpy(y)
    return np.asarray(y)


def _as_labels(y, what: str, fn: str, allow_scores: bool) -> np.ndarray:
    """Integer labels of shape (N,); (N, C) scores become argmax labels if allowed."""
    array = _as_numpy(y)
    if array.ndim == 2 and allow_scores:
        if array.shape[1] < 2:
            raise ValueError(
                f"{fn}: {what} has shape {array.shape}; scores need one column per class "
                "(N, C) with C >= 2. For one probability per sample, threshold it: "
                "(p > 0.5).astype(int)"
            )
        return array.argmax(axis=1).astype(np.int64)
    if array.ndim != 1:
        expected = "(N,) labels or (N, C) scores" if allow_scores else "(N,) class labels"
        hint = ""
        if array.ndim == 2:  # argmax(1) of a column of labels would make every label 0
            hint = (" (for a column of labels use y.reshape(-1))" if array.shape[1] == 1
                    else " (for one-hot targets use y.argmax(1))")
        raise ValueError(f"{fn}: {what} must have shape {expected}, got shape "
                         f"{array.shape}{hint}")
    if array.dtype.kind == "b":
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(
                f"{fn}: {what} holds non-integer values (dtype {array.dtype}); expected class "
                "labels. For probabilities of the positive class, threshold them first: "
                "(p > 0.5).astype(int); for (N, C) scores pass the 2-D array"
            )
        return array.astype(np.int64)
    raise TypeError(f"{fn}: {what} must hold integer class labels, got dtype {array.dtype}")


def _pair(y_true, y_pred, fn: str) -> tuple[np.ndarray, np.ndarray]:
    y_true = _as_labels(y_true, "y_true", fn, allow_scores=False)
    y_pred = _as_labels(y_pred, "y_pred", fn, allow_scores=True)
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{fn}: y_true has {y_true.shape[0]} samples but y_pred has "
                         f"{y_pred.shape[0]}")
    return y_true, y_pred


def _check_range(labels: np.ndarray, num_classes: int, what: str, fn: str) -> None:
    is_int = isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
    if not is_int or num_classes < 1:
        raise ValueError(f"{fn}: num_classes must be a positive integer, got {num_classes!r}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"{fn}: {what} contains label {bad}, outside 0..{num_classes - 1} "
                         f"(num_classes={num_classes})")


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def accuracy(y_true, y_pred, normalize: bool = True) -> float:
    """Fraction of samples whose predicted label equals the true label:
    ``mean(y_pred == y_true)`` (the count instead, with ``normalize=False``).

    >>> import tinygrad_edu as tg
    >>> logits = tg.tensor([[2.0, 0.1], [0.3, 0.9], [1.0, -1.0]])    # argmax: 0, 1, 0
    >>> accuracy(tg.tensor([0, 1, 1]), logits)
    0.6666666666666666
    """
    y_true, y_pred = _pair(y_true, y_pred, "accuracy")
    if y_true.shape[0] == 0:  # as scikit-learn, also for the count
        raise ValueError("accuracy: got 0 samples")
    correct = int(np.count_nonzero(y_true == y_pred))
    if not normalize:
        return correct
    return correct / y_true.shape[0]


def confusion_matrix(y_true, y_pred, num_classes: int | None = None,
                     normalize: str | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted classes (scikit-learn's convention); the
    diagonal holds the correct predictions. Classes are ``0 .. num_classes - 1``
    (default: ``max label + 1``). ``normalize`` divides by the row sums (``"true"``: each row
    becomes the recall distribution), column sums (``"pred"``) or the total (``"all"``);
    an empty row or column stays 0.
    """
    fn = "confusion_matrix"
    y_true, y_pred = _pair(y_true, y_pred, fn)
    if y_true.shape[0] == 0:  # as scikit-learn and the other metrics
        raise ValueError(f"{fn}: got 0 samples")
    if num_classes is None:
        both = np.concatenate([y_true, y_pred])
        if both.min() < 0:
            raise ValueError(f"{fn}: labels must be >= 0, got {both.min()}")
        num_classes = int(both.max()) + 1
    _check_range(y_true, num_classes, "y_true", fn)
    _check_range(y_pred, num_classes, "y_pred", fn)
    # each (true, pred) pair is one cell of the C x C matrix, flattened to true * C + pred
    cells = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    matrix = cells.reshape(num_classes, num_classes)  # (C, C)
    if normalize is None:
        return matrix
    if normalize not in ("true", "pred", "all"):
        raise ValueError(f"{fn}: normalize must be None, 'true', 'pred' or 'all', got "
                         f"{normalize!r}")
    if normalize == "true":
        totals = matrix.sum(axis=1, keepdims=True)  # (C, 1)
    elif normalize == "pred":
        totals = matrix.sum(axis=0, keepdims=True)  # (1, C)
    else:
        totals = matrix.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = matrix / totals
    return np.nan_to_num(result)


def precision(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
              num_classes: int | None = None, zero_division="warn"):
    """TP / (TP + FP), averaged as ``average`` says (see the module docstring)."""
    return _precision_recall_f1(y_true, y_pred, average, pos_label, num_classes,
                                zero_division, "precision")


def recall(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
           num_classes: int | None = None, zero_division="warn"):
    """TP / (TP + FN), averaged as ``average`` says (see the module docstring)."""
    return _precision_recall_f1(y_true, y_pred, average, pos_label, num_classes,
                                zero_division, "recall")


def f1_score(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
             num_classes: int | None = None, zero_division="warn"):
    """2 TP / (2 TP + FP + FN) = 2 P R / (P + R), averaged as ``average`` says.

    Computed from the counts, so a class with TP = 0 but some FP or FN scores 0 without any
    0/0; only a class absent from both ``y_true`` and ``y_pred`` is a zero division.
    """
    return _precision_recall_f1(y_true, y_pred, average, pos_label, num_classes,
                                zero_division, "f1_score")


def _zero_division_value(zero_division, fn: str) -> float:
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float)) and not isinstance(zero_division, bool):
        if zero_division in (0, 1) or math.isnan(zero_division):
            return float(zero_division)
    raise ValueError(f"{fn}: zero_division must be 'warn', 0, 1 or float('nan'), got "
                     f"{zero_division!r}")


def _divide(numerator, denominator, zero_division, fn: str, what: str) -> np.ndarray:
    """numerator / denominator per class; 0/0 becomes ``zero_division`` (warning if 'warn')."""
    value = _zero_division_value(zero_division, fn)
    undefined = denominator == 0
    result = numerator / np.where(undefined, 1, denominator)
    result[undefined] = value
    if zero_division == "warn" and undefined.any():
        warnings.warn(
            f"{fn}: ill-defined for {int(undefined.sum())} class(es) with no {what}; set to "
            "0.0. Pass zero_division=0, 1 or float('nan') to choose the value and silence "
            "this warning.",
            UserWarning,
            stacklevel=4,
        )
    return result


def _precision_recall_f1(y_true, y_pred, average, pos_label, num_classes, zero_division, fn):
    if average not in AVERAGES:
        raise ValueError(f"{fn}: average must be one of {AVERAGES}, got {average!r}")
    _zero_division_value(zero_division, fn)
    y_true, y_pred = _pair(y_true, y_pred, fn)
    if y_true.shape[0] == 0:  # as accuracy and scikit-learn: no score of no samples
        raise ValueError(f"{fn}: got 0 samples")
    present = np.union1d(y_true, y_pred)
    if num_classes is not None:
        _check_range(y_true, num_classes, "y_true", fn)
        _check_range(y_pred, num_classes, "y_pred", fn)
        labels = np.arange(num_classes)
    else:
        labels = present
    if average == "binary":
        if present.size > 2:
            raise ValueError(
                f"{fn}: average='binary' needs at most two classes, but the labels hold "
                f"{present.size} ({present.tolist()}); choose average='macro', 'micro', "
                "'weighted' or None"
            )
        if pos_label not in present and present.size == 2:
            raise ValueError(f"{fn}: pos_label={pos_label} is not one of the labels "
                             f"{present.tolist()}")
        labels = np.array([pos_label])

    # per-class counts, one entry per label: (K,)
    is_true = y_true[None, :] == labels[:, None]      # (K, N)
    is_pred = y_pred[None, :] == labels[:, None]      # (K, N)
    tp = np.count_nonzero(is_true & is_pred, axis=1).astype(np.float64)
    pred_count = np.count_nonzero(is_pred, axis=1).astype(np.float64)   # TP + FP
    true_count = np.count_nonzero(is_true, axis=1).astype(np.float64)   # TP + FN (support)
    if average == "micro":
        tp = tp.sum(keepdims=True)
        pred_count = pred_count.sum(keepdims=True)
        true_count = true_count.sum(keepdims=True)

    if fn == "precision":
        scores = _divide(tp, pred_count, zero_division, fn, "predicted samples")
    elif fn == "recall":
        scores = _divide(tp, true_count, zero_division, fn, "true samples")
    else:
        scores = _divide(2 * tp, pred_count + true_count, zero_division, fn,
                         "true nor predicted samples")

    if average is None:
        return scores
    weights = true_count if average == "weighted" else None
    return _nan_average(scores, weights)


def _nan_average(scores: np.ndarray, weights) -> float:
    """Mean (weighted, if given) of the scores that are not NaN (NaN if none is left)."""
    keep = ~np.isnan(scores)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(np.mean(scores[keep]))
    return float(np.average(scores[keep], weights=weights[keep]))
