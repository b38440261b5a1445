"""Softmax cross entropy of a batch of logits at class indices, in NumPy: what
``kernels/cpu/loss.py`` computes. Its loss and its gradient come out of one call, as a
classifier's training step needs both::

    cross_entropy_forward(x, t, ignore_index) -> (losses, dx, count)

    x (N, C) logits, t (N,) class indices;  for every row n with t_n != ignore_index:
        m_n        = max_c x_nc
        log_sum_n  = log sum_c e^(x_nc - m_n)
        losses_n   = log_sum_n - (x_n[t_n] - m_n)      = logsumexp(x_n) - x_n[t_n]
        dx_n       = e^(x_n - m_n) / sum_c e^(x_nc - m_n) - onehot(t_n)   = d losses_n / d x_n
    rows with t_n == ignore_index: losses_n = 0 and dx_n = 0 (they are not counted);
    count = the number of rows that are counted.

The caller weighs the rows: ``mean`` is sum(losses) / count and its gradient dx / count (torch's
``ignore_index``: 0 / 0 = NaN when every row is ignored). Keeping m_n and log_sum_n apart
instead of adding them into logsumexp keeps the loss exact at huge logits (1e4 in float32 has
steps of 1e-3). A target outside 0..C-1 that is not ``ignore_index`` raises IndexError.
"""

import numpy as np

from .. import FLOAT_DTYPES


def check_cross_entropy_args(op: str, x, t) -> None:
    """x a (N, C) float32/float64 array with C >= 1, t a (N,) int64 array."""
    if not hasattr(x, "dtype") or x.ndim != 2 or x.dtype not in FLOAT_DTYPES or x.shape[1] < 1:
        what = f"{x.dtype} {x.shape}" if hasattr(x, "dtype") else type(x).__name__
        raise ValueError(f"{op}: expected (N, C) float32 or float64 logits with C >= 1, got "
                         f"{what}")
    if not hasattr(t, "dtype") or t.dtype != np.int64 or t.shape != x.shape[:1]:
        what = f"{t.dtype} {t.shape}" if hasattr(t, "dtype") else type(t).__name__
        raise ValueError(f"{op}: expected ({x.shape[0]},) int64 class indices for logits of "
                         f"shape {x.shape}, got {what}")


def out_of_range_error(op: str, target: int, n_classes: int, x_shape) -> IndexError:
    """The error for a class index outside 0..C-1 (shared with the cpu kernel and the op)."""
    return IndexError(
        f"{op}: target {target} is out of bounds for {n_classes} classes (valid class indices "
        f"are 0..{n_classes - 1}; input shape {tuple(x_shape)})"
    )


def cross_entropy_forward(x, t, ignore_index: int = -100):
    """(losses (N,), dx (N, C), count) of softmax cross entropy; see the module docstring."""
    op = "cross_entropy_forward"
    check_cross_entropy_args(op, x, t)
    N, C = x.shape
    counted = t != ignore_index
    bad = counted & ((t < 0) | (t >= C))
    if bad.any():
        raise out_of_range_error(op, int(t[bad][0]), C, x.shape)
    safe = np.where(counted, t, 0)  # ignored rows read class 0; they are zeroed below
    rows = np.arange(N)
    m = x.max(axis=1, keepdims=True)  # (N, 1)
    shifted = x - m
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)  # (N, 1)
    losses = np.log(s[:, 0]) - shifted[rows, safe]  # (N,)
    dx = e / s  # softmax
    dx[rows, safe] -= 1
    losses[~counted] = 0
    dx[~counted] = 0
    return losses, dx, int(counted.sum())
