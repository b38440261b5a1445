"""Loss functions (functional forms and Modules) with torch's names, arguments and reductions.

reduction="mean" (default) averages the per-element losses, "sum" adds them, "none" returns
them unreduced. Every loss here is numerically stable for logits as large as +-1e4: the
softmax family works with log_softmax (max-shifted), binary_cross_entropy_with_logits with
softplus, and binary_cross_entropy clamps its logs at -100 like torch.

Unlike torch, mse_loss, l1_loss, smooth_l1_loss, huber_loss and kl_div refuse a target whose
shape differs from the input's: torch only warns (or says nothing) and broadcasts, and
predictions (N, 1) against targets (N,) then silently compare every prediction with every
target (an (N, N) loss).

The margin, distance and likelihood losses (margin_ranking_loss, hinge_embedding_loss,
soft_margin_loss, multilabel_soft_margin_loss, triplet_margin_loss, pairwise_distance,
poisson_nll_loss, gaussian_nll_loss) broadcast their operands exactly as torch does; each
docstring gives the rule.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Function
from ..backend import get_array_module
from ..kernels.reference.loss import out_of_range_error
from ..tensor import Tensor
from .module import Module

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------------------------
# Argument checks shared by the losses
# ----------------------------------------------------------------------------------------------


def _legacy_reduction(op: str, size_average, reduce, reduction: str) -> str:
    """torch's deprecated size_average/reduce arguments, mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(f"{op}: size_average and reduce are deprecated, use reduction='mean'|'sum'|"
                  "'none' instead", DeprecationWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(op: str, reduction: str, allowed: tuple = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected one "
                         f"of {allowed}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(value, like: Tensor) -> Tensor:
    """A target given as a list or array becomes a tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise RuntimeError(f"target is on {value.device} but input is on {like.device}")
        return value
    return Tensor(np.asarray(value), device=like.device)


def _float_target(op: str, input: Tensor, target) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    target = _as_tensor(target, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} differs from input shape "
            f"{tuple(input.shape)}; they must be equal (reshape one of them, e.g. "
            f"input.squeeze(-1) or target.view(-1, 1))"
        )
    if target.dtype != input.dtype:
        target = target.to(dtype=input.dtype)
    return target


def _constant(value, like: Tensor):
    """An optional per-class weight / pos_weight as an array on ``like``'s device and dtype."""
    if value is None:
        return None
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    return get_array_module(like.data).asarray(
        backend.to_device(data, like.device), dtype=like.dtype
    )


def _cast_like(value, like: Tensor) -> Tensor:
    """A weight tensor in ``like``'s dtype (differentiable if it is a tensor), or a constant."""
    if isinstance(value, Tensor):
        return value if value.dtype == like.dtype else value.to(dtype=like.dtype)
    return Tensor._wrap(_constant(value, like))


# ----------------------------------------------------------------------------------------------
# Regression losses
# ----------------------------------------------------------------------------------------------


def _elementwise_weighted(op: str, loss: Tensor, weight, input: Tensor,  # noqa: A002
                          reduction: str) -> Tensor:
    """torch 2.13's ``weight`` of mse_loss and l1_loss: the input's shape, one weight per element
    (differentiable if a tensor); "mean" is the weighted mean sum_i w_i l_i / sum_i w_i."""
    w = _cast_like(weight, input)
    if tuple(w.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weight must have the input's shape {tuple(input.shape)}, "
                         f"got {tuple(w.shape)}")
    loss = loss * w
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # weights summing to 0: nan, silently
            return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
             reduction: str = "mean", weight=None) -> Tensor:
    """l_i = w_i (x_i - y_i)^2;  dl/dx_i = 2 w_i (x_i - y_i)  (divided by the count for "mean").

    ``weight`` (optional, the input's shape; w_i = 1 without it), as torch 2.13: then "mean"
    divides by sum_i w_i instead of the count."""
    reduction = _legacy_reduction("mse_loss", size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    target = _float_target("mse_loss", input, target)
    diff = input - target
    if weight is not None:
        return _elementwise_weighted("mse_loss", diff * diff, weight, input, reduction)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
            reduction: str = "mean", weight=None) -> Tensor:
    """l_i = w_i |x_i - y_i|;  dl/dx_i = w_i sign(x_i - y_i)  (0 where x_i = y_i, like torch).

    ``weight`` (optional, the input's shape; w_i = 1 without it), as torch 2.13: then "mean"
    divides by sum_i w_i instead of the count."""
    reduction = _legacy_reduction("l1_loss", size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    target = _float_target("l1_loss", input, target)
    if weight is not None:
        return _elementwise_weighted("l1_loss", (input - target).abs(), weight, input, reduction)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic near 0, linear further out (Fast R-CNN's box loss); with d = x - y::

        l_i = 0.5 d_i^2 / beta      if |d_i| < beta
              |d_i| - 0.5 beta      otherwise
        dl/dx_i = d_i / beta  (|d_i| < beta),  sign(d_i)  otherwise

    ``beta = 0`` is ``l1_loss``. ``huber_loss(delta=beta) = beta * smooth_l1_loss(beta=beta)``.

    >>> import tinygrad_edu as tg
    >>> smooth_l1_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    op = "smooth_l1_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if beta < 0:
        raise ValueError(f"{op}: beta must be >= 0, got {beta}")
    target = _float_target(op, input, target)
    diff = input - target
    distance = diff.abs()
    if beta == 0:  # the quadratic part would divide by 0 (and send nan through its gradient)
        return _reduce(distance, reduction)
    quadratic = 0.5 * diff * diff / beta
    linear = distance - 0.5 * beta
    return _reduce(F.where(distance.data < beta, quadratic, linear), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight=None) -> Tensor:
    """Squared error near 0, absolute error further out; with d = x - y::

        l_i = w_i * 0.5 d_i^2                       if |d_i| < delta
              w_i * delta (|d_i| - 0.5 delta)       otherwise
        dl/dx_i = w_i d_i  (|d_i| < delta),  w_i delta sign(d_i)  otherwise

    ``weight`` (optional, the input's shape) weighs each element, as torch 2.13.

    >>> import tinygrad_edu as tg
    >>> huber_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction="none",
    ...            delta=2.0).tolist()
    [0.125, 4.0]
    """
    op = "huber_loss"
    _check_reduction(op, reduction)
    if not delta > 0:
        raise ValueError(f"{op}: delta must be > 0, got {delta}")
    target = _float_target(op, input, target)
    diff = input - target
    distance = diff.abs()
    quadratic = 0.5 * diff * diff
    linear = delta * (distance - 0.5 * delta)
    loss = F.where(distance.data < delta, quadratic, linear)
    if weight is not None:
        w = _cast_like(weight, input)
        if tuple(w.shape) != tuple(input.shape):
            raise ValueError(f"{op}: weight must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(w.shape)}")
        loss = loss * w
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Distributions: kl_div
# ----------------------------------------------------------------------------------------------

_KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def _xlogx(t: Tensor) -> Tensor:
    """t log t, with 0 log 0 = 0 (value and gradient); nan for t < 0, like torch's xlogy."""
    safe = F.masked_fill(t, t.data == 0, 1.0)  # log(1) = 0 where t = 0
    with np.errstate(invalid="ignore"):  # log(t < 0) = nan, silently as in torch
        log_t = safe.log()
    return t * log_t


def kl_div(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence KL(target || model) with ``input`` the model's log-probabilities::

        l_i = t_i (log t_i - x_i)           (0 where t_i = 0)
        l_i = e^(t_i) (t_i - x_i)           (log_target=True: t holds log-probabilities)
        dl/dx_i = -t_i  (resp. -e^(t_i))

    ``reduction="batchmean"`` (the KL divergence of each sample, averaged) divides the sum by
    the batch size ``input.shape[0]``; "mean" divides by the number of elements, which is not
    the KL divergence (it warns, as torch does). The target has the input's shape.

    Unlike torch, the gradient with respect to a target entry t_i = 0 is the finite -x_i: the
    log t_i + 1 term of d l_i / d t_i (which is -inf there) is left out, where torch gives NaN.
    The gradient with respect to the input is torch's everywhere.

    >>> import tinygrad_edu as tg
    >>> p = tg.tensor([[0.5, 0.5]])
    >>> kl_div(tg.tensor([[0.25, 0.75]]).log(), p, reduction="batchmean").item() > 0
    True
    """
    op = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(op, size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            f"{op}: reduction='mean' divides the total loss by the number of elements (batch "
            "size times support size); reduction='batchmean' divides by the batch size only, "
            "which is the KL divergence",
            UserWarning,
            stacklevel=2,
        )
    _check_reduction(op, reduction, _KL_REDUCTIONS)
    target = _float_target(op, input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogx(target) - target * input
    if reduction != "batchmean":
        return _reduce(loss, reduction)
    total = loss.sum()
    if input.ndim == 0:
        return total
    with np.errstate(invalid="ignore"):  # an empty batch: 0 / 0 = nan, silently as in torch
        return total / input.shape[0]


# ----------------------------------------------------------------------------------------------
# Similarity: cosine_similarity and cosine_embedding_loss
# ----------------------------------------------------------------------------------------------


class ClampMinValueOnly(Function):
    """y = max(x, lo);  dx = dy (the clamp changes the value, not the gradient).

    torch's cosine_similarity clamps the norms in place under no_grad, so their gradient is
    the unclamped norm's: this op reproduces that."""

    def forward(self, x, lo):
        return get_array_module(x).maximum(x, x.dtype.type(lo))

    def backward(self, dy):
        return dy


def _float_operand(op: str, name: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x if x.dtype.kind == "f" else x.float()


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (they broadcast; ``dim`` indexes the
    broadcast shape, and is removed)::

        cos = sum_d (x1_d / max(||x1||, eps)) * (x2_d / max(||x2||, eps))

    Like torch 2.13, each norm is clamped at ``eps`` in value only: the gradient flows through
    the unclamped norm n1 = ||x1|| (whose gradient x1 / n1 is 0 at a zero vector). With
    c1 = max(n1, eps), c2 = max(n2, eps)::

        d cos / d x1 = x2 / (c1 c2) - <x1, x2> / (c1^2 c2) * x1 / n1      (x2 alike)

    >>> import tinygrad_edu as tg
    >>> cosine_similarity(tg.tensor([[1.0, 0.0]]), tg.tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    op = "cosine_similarity"
    x1 = _float_operand(op, "x1", x1)
    x2 = _float_operand(op, "x2", x2)
    try:
        shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    except ValueError:
        raise ValueError(f"{op}: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} cannot be "
                         "broadcast together") from None
    ndim = max(len(shape), 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for the broadcast shape {shape} "
                         f"(expected a dim in [{-ndim}, {ndim - 1}])")
    if tuple(x1.shape) != shape:
        x1 = x1.broadcast_to(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.broadcast_to(shape)
    n1 = ClampMinValueOnly.apply(x1.norm(dim=dim, keepdim=True), lo=eps)
    n2 = ClampMinValueOnly.apply(x2.norm(dim=dim, keepdim=True), lo=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


# torch's EPSILON of its losses: 1e-12 as a float32 (9.99999996e-13), which float64 sees too
_TORCH_EPSILON = float(np.float32(1e-12))
_COSINE_EMBEDDING_EPS = _TORCH_EPSILON  # added to each squared norm


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Pull pairs labelled 1 together, push pairs labelled -1 apart (cosine below margin)::

        cos_n = <a_n, b_n> / sqrt((||a_n||^2 + 1e-12) (||b_n||^2 + 1e-12))
        l_n = 1 - cos_n                 if y_n = 1
              max(0, cos_n - margin)    if y_n = -1      (0 for any other label)

    ``input1``/``input2`` are (N, D) with a target (N,), or (D,) with a 0-d target; like torch,
    the two inputs and the target broadcast together (e.g. one reference (1, D) against a batch).

    >>> import tinygrad_edu as tg
    >>> a, b = tg.tensor([[1.0, 0.0], [1.0, 0.0]]), tg.tensor([[0.0, 1.0], [1.0, 1.0]])
    >>> cosine_embedding_loss(a, b, tg.tensor([1, -1]), reduction="none").tolist()
    [1.0, 0.7071067690849304]
    """
    op = "cosine_embedding_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input1 = _float_operand(op, "input1", input1)
    input2 = _float_operand(op, "input2", input2)
    target = _as_tensor(target, input1)
    if target.ndim not in (0, 1):
        raise ValueError(f"{op}: expected a 0-d or 1-d target (one label per pair), got shape "
                         f"{tuple(target.shape)}")
    want = target.ndim + 1  # (D,) with a 0-d target, (N, D) with (N,)
    s1, s2 = tuple(input1.shape), tuple(input2.shape)
    expects = f"{op}: a {target.ndim}-d target expects two {want}-d inputs of one shape"
    if input1.ndim != want or input2.ndim != want:
        raise ValueError(f"{expects}, got {s1} and {s2} (target {tuple(target.shape)}; shapes "
                         "that broadcast together work too)")
    try:
        pairs = tuple(np.broadcast_shapes(s1, s2))[:target.ndim]  # (N,) or ()
    except ValueError:
        raise ValueError(f"{expects}, got {s1} and {s2}, which do not broadcast "
                         "together") from None
    if target.ndim == 1 and target.shape[0] not in (1, pairs[0]) and pairs[0] != 1:
        raise ValueError(f"{op}: target has {target.shape[0]} labels but the inputs have "
                         f"{pairs[0]} pairs ({s1} and {s2}); the counts must be equal (or 1)")
    shape = tuple(np.broadcast_shapes(pairs, tuple(target.shape)))
    d = target.ndim  # the feature dim
    prod_sum = (input1 * input2).sum(dim=d)
    mag_square1 = (input1 * input1).sum(dim=d) + _COSINE_EMBEDDING_EPS
    mag_square2 = (input2 * input2).sum(dim=d) + _COSINE_EMBEDDING_EPS
    cos = prod_sum / (mag_square1 * mag_square2).sqrt()
    if tuple(cos.shape) != shape:  # a single pair against many labels
        cos = cos.broadcast_to(shape)
    labels = get_array_module(target.data).broadcast_to(target.data, shape)
    pos = F.masked_fill(1 - cos, labels != 1, 0.0)
    neg = F.masked_fill((cos - margin).clamp(min=0), labels != -1, 0.0)
    return _reduce(pos + neg, reduction)


# ----------------------------------------------------------------------------------------------
# Classification: nll_loss and cross_entropy
# ----------------------------------------------------------------------------------------------


def _class_targets(op: str, input: Tensor, target, ignore_index: int,  # noqa: A002
                   check_range: bool = True):
    """Checked class-index targets: (array on the input's device, mask of the entries not
    ignored, or None when no entry is ``ignore_index``). ``check_range=False`` checks dtype and
    shape only and returns (array, None): for a kernel that checks the range as it reads."""
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if backend.is_cupy_array(data) or backend.is_cupy_array(input.data):
        data = backend.to_device(data, input.device)  # on the input's GPU
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must be integers (int64), got dtype {data.dtype} "
            f"(target shape {tuple(data.shape)}); use target.long(), or pass class "
            f"probabilities with the same shape as the input {tuple(input.shape)}"
        )
    if tuple(data.shape) != expected:
        raise ValueError(
            f"{op}: expected target of shape {expected} (the input shape {tuple(input.shape)} "
            f"without the class dim {class_dim}), got {tuple(data.shape)}"
        )
    if not check_range:
        return data, None
    if not data.size:
        return data, data != ignore_index
    lo, hi = _min_max(data)
    valid = None  # no entry is ignored: ignore_index lies outside [lo, hi]
    if lo <= ignore_index <= hi:
        valid = data != ignore_index
        if lo < 0 or hi >= n_classes:  # out of range, or only because of ignored entries?
            checked = data[valid]
            lo, hi = (int(checked.min()), int(checked.max())) if checked.size else (0, 0)
    if lo < 0 or hi >= n_classes:
        raise out_of_range_error(op, lo if lo < 0 else hi, n_classes, input.shape)
    return data, valid


def _min_max(a) -> tuple[int, int]:
    """(min, max) of an integer array as Python ints. On a GPU both travel back to the host in
    one read: each read waits for the GPU's queue to drain."""
    if backend.is_cupy_array(a):
        lo, hi = backend.to_numpy(get_array_module(a).stack([a.min(), a.max()]))
        return int(lo), int(hi)
    return int(a.min()), int(a.max())


def _at_targets(a, index, class_dim: int):
    """a[n, t_n, d1, ...] for every n, d1, ... with the class dim kept (size 1): ``index`` holds
    the targets t in that shape. For (N, C) a row index and ``index`` pick them (a third of
    ``take_along_axis``'s time at a batch of logits), else ``take_along_axis``."""
    xp = get_array_module(a)
    if a.ndim == 2:  # (N, C): the class dim is 1
        return a[xp.arange(a.shape[0]).reshape(-1, 1), index]  # (N, 1)
    return xp.take_along_axis(a, index, axis=class_dim)


def _keep_dim(a, dim: int):
    """``a`` with a new axis of size 1 at ``dim`` (a view; ``xp.expand_dims`` costs more than
    the small arrays of a loss)."""
    return a.reshape(a.shape[:dim] + (1,) + a.shape[dim:])


def _class_weight(op: str, weight, input: Tensor, n_classes: int):  # noqa: A002
    w = _constant(weight, input)
    if w is not None and tuple(w.shape) != (n_classes,):
        raise ValueError(f"{op}: weight must have shape ({n_classes},) (one per class), got "
                         f"{tuple(w.shape)}")
    return w


class CrossEntropyIndices(Function):
    """Softmax cross entropy of logits x at integer classes t, weighted, as one op:

        l_n = w_n (logsumexp(x_n) - x_n[t_n]),   logsumexp(x_n) = m + log sum_c e^(x_nc - m)
        dl_n/dx_n = w_n (softmax(x_n) - onehot(t_n))

    x is (N, C, d1, ...) or (C,), the class dim is ``class_dim``; ``index`` holds t with that dim
    kept (size 1); w_n (``sample_w``) is the class weight of t_n, 0 where t_n is ignored
    (``sample_w`` None: every w_n is 1, the usual case, which saves the weighting).
    reduction "none" returns l (the shape of t), "sum" sum_n l_n, "mean" sum_n l_n / sum_n w_n.

    The same as log_softmax + gather + multiply + sum, which is what ``nll_loss`` runs; fused,
    one graph node replaces about ten (forward and backward), which for a batch of logits cost
    more than the arithmetic. The backward is written with Tensor ops (softmax, multiply), so
    it can be differentiated again.
    """

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x, index, sample_w, class_dim, reduction):
        xp = get_array_module(x)
        self.index, self.sample_w = index, sample_w
        self.class_dim, self.reduction = class_dim, reduction
        m = x.max(axis=class_dim, keepdims=True)
        shifted = x - m
        log_sum = xp.log(xp.exp(shifted).sum(axis=class_dim, keepdims=True))
        # softmax(x) = e^((x - m) - log_sum), both (N, 1, d1, ...); kept apart, since their sum
        # logsumexp(x) would round at huge logits (1e4 in float32: steps of 1e-3)
        self.max, self.log_sum = m, log_sum
        picked = _at_targets(shifted, index, class_dim)  # x[t] - m
        losses = (log_sum - picked).squeeze(axis=class_dim)  # the shape of t
        if sample_w is not None:
            losses *= sample_w
        if reduction == "none":
            return losses
        total = losses.sum()
        if reduction == "sum":
            return xp.asarray(total)
        self.divisor = sample_w.sum() if sample_w is not None else losses.size
        if xp is np and self.divisor == 0:  # all ignored: 0/0 = nan, as torch, and no warning
            with np.errstate(invalid="ignore", divide="ignore"):  # (CuPy never warns)
                return np.asarray(total / self.divisor)
        return xp.asarray(total / self.divisor)

    def backward(self, dy):
        x = self.inputs[0]  # (CrossEntropyRows has the targets as a second input)
        xp = get_array_module(x.data)
        d = self.class_dim
        classes = [1] * x.ndim
        classes[d] = x.shape[d]
        class_ids = xp.arange(x.shape[d]).reshape(classes)  # (1, C, 1, ...)
        if self.sample_w is None:  # every w_n is 1
            w = xp.asarray(1 / self.divisor if self.reduction == "mean" else 1, dtype=x.dtype)
        else:
            w = _keep_dim(self.sample_w, d)  # (N, 1, d1, ...): broadcasts over the classes
            if self.reduction == "mean":  # all ignored (divisor 0): they get 0, as in torch
                w = w / xp.where(self.divisor == 0, 1, self.divisor)
        if not isinstance(dy, Tensor):  # first order: on the arrays, softmax from max, log_sum
            dy = _keep_dim(dy, d) if self.reduction == "none" else dy
            return _softmax_minus_onehot(x.data, self.max, self.log_sum, class_ids, self.index,
                                         w * dy)
        scale = (F.unsqueeze(dy, d) if self.reduction == "none" else dy) * Tensor._wrap(w)
        onehot = (class_ids == self.index).astype(x.dtype)
        return (F.softmax(x, dim=d) - Tensor._wrap(onehot)) * scale


class CrossEntropyRows(CrossEntropyIndices):
    """``CrossEntropyIndices`` for (N, C) NumPy logits under the Numba kernels, unweighted:

        l_n = logsumexp(x_n) - x_n[t_n],   dl_n/dx_n = softmax(x_n) - onehot(t_n)
        (rows with t_n == ignore_index: 0, and not counted; "mean" divides by the count)

    The forward runs ``kernels/cpu/loss.py``, which computes every row's loss and gradient in
    one pass, and keeps the gradient: the first-order backward only scales it by dy (/ count).
    Out-of-range targets raise as the kernel meets them (no separate pass over t). With
    create_graph the parent's Tensor formulas run, from the same state.
    """

    def forward(self, x, target, ignore_index, reduction, forward_rows):
        target = target.astype(np.int64, copy=False)  # (N,)
        losses, self.row_grads, count = forward_rows("cross_entropy", x, target, ignore_index)
        self.target, self.ignore_index, self.count = target, ignore_index, count
        self.class_dim, self.reduction = 1, reduction
        if reduction == "none":
            return losses
        total = losses.sum()
        if reduction == "sum":
            return np.asarray(total)
        if count == 0:  # all ignored: 0/0 = nan, as torch, and no warning
            return np.asarray(np.nan, dtype=x.dtype)
        return np.asarray(total / count)

    def backward(self, dy):
        if isinstance(dy, Tensor):  # create_graph: the parent's formulas, on its state
            self._parent_state()
            return super().backward(dy), None
        if self.reduction == "none":
            return self.row_grads * dy[:, None], None  # (N, C) * (N, 1)
        if self.reduction == "mean" and self.count:
            dy = dy / self.count
        return self.row_grads * dy, None  # all ignored: the rows are 0, and so is the gradient

    def _parent_state(self):
        """index, sample_w and divisor as ``_cross_entropy_indices`` gives them to the parent."""
        t = self.target
        if self.count == t.shape[0]:  # nothing ignored
            self.index, self.sample_w, self.divisor = t[:, None], None, self.count
        else:
            _, safe, self.sample_w = _sample_weights(t, t != self.ignore_index, None,
                                                     self.inputs[0].dtype)
            self.index, self.divisor = safe[:, None], self.sample_w.sum()


@functools.cache
def _cupy_softmax_minus_onehot_kernel():
    """``_softmax_minus_onehot`` as one CuPy elementwise kernel (its operands broadcast)."""
    import cupy  # only reached with CuPy arrays

    return cupy.ElementwiseKernel(
        "T x, T m, T log_sum, C c, I t, S scale",
        "T dx",
        "dx = (exp((x - m) - log_sum) - (c == t ? 1 : 0)) * scale",
        "tinygrad_edu_softmax_minus_onehot",
    )


def _softmax_minus_onehot(x, m, log_sum, class_ids, index, scale):
    """dx = (e^((x - m) - log_sum) - [c == t]) * scale, cross entropy's first-order gradient, on
    arrays: x (N, C, d1, ...); m (the max), log_sum and index (N, 1, d1, ...); class_ids
    (1, C, 1, ...); scale broadcastable to x. On a GPU one fused kernel instead of six launches."""
    if backend.is_cupy_array(x):
        return _cupy_softmax_minus_onehot_kernel()(x, m, log_sum, class_ids, index, scale)
    xp = get_array_module(x)
    dx = xp.subtract(x, m)
    dx -= log_sum
    xp.exp(dx, out=dx)  # softmax(x)
    dx -= class_ids == index
    dx *= scale
    return dx


def _sample_weights(t, valid, w, dtype):
    """(valid, safe, sample_w) for class-index targets ``t``: ``valid`` the entries not ignored
    (all of them when given None), ``safe`` t as int64 with ignored entries reading class 0,
    ``sample_w`` each entry's weight in ``dtype``: 0 where ignored, else w[t] (1 with no class
    weights ``w``)."""
    xp = get_array_module(t)
    if valid is None:  # nothing ignored
        valid = xp.ones(t.shape, dtype=bool)
    safe = xp.where(valid, t, 0).astype(np.int64)  # ignored entries read class 0, weight 0
    sample_w = valid.astype(dtype)
    if w is not None:
        sample_w = sample_w * w[safe]
    return valid, safe, sample_w


def _nll(op: str, logp: Tensor, target, weight, ignore_index: int, reduction: str):
    """The negative log-likelihood core shared by nll_loss and cross_entropy.

    l_n = -w[t_n] * logp[n, t_n]  (0 where t_n == ignore_index);
    "mean" divides the sum by sum_n w[t_n] over the non-ignored n (a weighted mean).
    Returns (loss, the per-element weights array) so label smoothing can reuse them.
    """
    class_dim = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[class_dim]
    t, valid = _class_targets(op, logp, target, ignore_index)
    w = _class_weight(op, weight, logp, n_classes)
    valid, safe, sample_w = _sample_weights(t, valid, w, logp.dtype)
    index = _keep_dim(safe, class_dim)  # (N, 1, d1, ...)
    picked = F.gather(logp, class_dim, index).squeeze(class_dim)  # (N, d1, ...)
    loss = -picked * Tensor._wrap(sample_w)
    if reduction == "mean":
        return _weighted_mean(loss, sample_w), sample_w, valid, w
    return _reduce(loss, reduction), sample_w, valid, w


def _weighted_mean(loss: Tensor, sample_w) -> Tensor:
    """sum_n l_n / sum_n w_n. When every entry is ignored (sum w = 0) the value is nan and the
    gradient 0, as in torch: the 0/0 stays out of the backward (no device sync to test it).
    The gradient is 0 even where l_n is not (label smoothing's term, class weights all 0)."""
    xp = get_array_module(sample_w)
    divisor = xp.asarray(sample_w.sum(), dtype=loss.dtype)
    empty = divisor == 0
    nan_if_empty = xp.where(empty, xp.nan, 0).astype(loss.dtype)  # a constant: no gradient
    keep = xp.where(empty, 0, 1).astype(loss.dtype)  # 0 stops the gradient when sum w = 0
    mean = loss.sum() / Tensor._wrap(xp.where(empty, 1, divisor)) * Tensor._wrap(keep)
    return mean + Tensor._wrap(nan_if_empty)


def nll_loss(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C) or (N, C, d1, ...) (or
    (C,)) at integer class ``target`` (N,) or (N, d1, ...) (or ()).

    l_n = -weight[t_n] * input[n, t_n];  dl/dinput[n, c] = -weight[t_n] [c = t_n].
    """
    reduction = _legacy_reduction("nll_loss", size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    _check_class_input("nll_loss", input)
    loss, _, _, _ = _nll("nll_loss", input, target, weight, ignore_index, reduction)
    return loss


def _check_class_input(op: str, input) -> None:  # noqa: A002
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension: (C,), (N, C) or "
                         f"(N, C, d1, ...); got a 0-d tensor")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point (logits), got dtype {input.dtype}")


def cross_entropy(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross entropy of logits ``input`` (N, C), (N, C, d1, ...) or (C,).

    Class-index target t (integers, the input shape without C):
        l_n = -w[t_n] log softmax(x_n)[t_n] = w[t_n] (logsumexp(x_n) - x_n[t_n])
        dl_n/dx_n = w[t_n] (softmax(x_n) - onehot(t_n))
    Class-probability target p (floats, same shape as the input):
        l_n = -sum_c w_c p_nc log softmax(x_n)_c;  "mean" divides by N (not by weights).
    label_smoothing eps mixes the target with the uniform distribution:
        p' = (1 - eps) onehot(t) + eps / C  (for index targets: ignored entries stay ignored).

    >>> import tinygrad_edu as tg
    >>> logits = tg.tensor([[2.0, 0.0, 0.0]])
    >>> round(cross_entropy(logits, tg.tensor([0])).item(), 4)  # log(e^2 + 2) - 2
    0.2395
    """
    op = "cross_entropy"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _check_class_input(op, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    target_dtype = target.dtype if hasattr(target, "dtype") else np.asarray(target).dtype
    if target_dtype.kind != "f" and label_smoothing == 0.0:  # the common case: one fused op
        return _cross_entropy_indices(op, input, target, weight, ignore_index, reduction)
    logp = F.log_softmax(input, dim=class_dim)  # (N, C, ...): stable for logits of any size
    weight_shape = [1] * input.ndim
    weight_shape[class_dim] = n_classes  # (1, C, 1, ...) broadcasts over the input

    if target_dtype.kind == "f":
        return _cross_entropy_probs(op, logp, target, weight, ignore_index, reduction,
                                    label_smoothing, class_dim, weight_shape)

    loss, sample_w, valid, w = _nll(op, logp, target, weight, ignore_index, reduction)
    # the uniform part: smooth_n = -sum_c w_c logp[n, c], zero for ignored entries
    weighted = logp if w is None else logp * Tensor._wrap(w.reshape(weight_shape))
    smooth = -weighted.sum(dim=class_dim) * Tensor._wrap(valid.astype(input.dtype))
    if reduction == "mean":
        smooth = _weighted_mean(smooth, sample_w)
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * loss + (label_smoothing / n_classes) * smooth


def _cross_entropy_indices(op, input, target, weight, ignore_index, reduction):  # noqa: A002
    """cross_entropy with class-index targets and no label smoothing: ``CrossEntropyIndices``,
    or ``CrossEntropyRows`` for unweighted (N, C) logits under the Numba kernels."""
    if weight is None and input.ndim == 2:
        kernels = backend.numba_float_kernels("loss", input.data)
        if kernels is not None:
            t = _class_targets(op, input, target, ignore_index, check_range=False)[0]
            # the targets are the op's second (non-differentiable) input, as in torch's graph
            if not (isinstance(target, Tensor) and target.data is t):
                target = Tensor._wrap(t)
            return CrossEntropyRows.apply(input, target, ignore_index=ignore_index,
                                          reduction=reduction,
                                          forward_rows=kernels.cross_entropy_forward_unchecked)
    class_dim = 0 if input.ndim == 1 else 1
    t, valid = _class_targets(op, input, target, ignore_index)
    w = _class_weight(op, weight, input, input.shape[class_dim])
    if valid is None and w is None:  # the usual case: every sample weighs 1
        safe, sample_w = t.astype(np.int64, copy=False), None
    else:
        _, safe, sample_w = _sample_weights(t, valid, w, input.dtype)
    index = _keep_dim(safe, class_dim)  # (N, 1, d1, ...)
    return CrossEntropyIndices.apply(input, index=index, sample_w=sample_w, class_dim=class_dim,
                                     reduction=reduction)


def _cross_entropy_probs(op, logp, target, weight, ignore_index, reduction, label_smoothing,
                         class_dim, weight_shape):
    """Cross entropy against class probabilities (soft labels, mixup, distillation)."""
    n_classes = logp.shape[class_dim]
    target = _as_tensor(target, logp)
    if tuple(target.shape) != tuple(logp.shape):
        raise ValueError(
            f"{op}: a floating point target means class probabilities and must have the input's "
            f"shape {tuple(logp.shape)}, got {tuple(target.shape)}; for class indices pass an "
            "integer (int64) target"
        )
    if ignore_index >= 0:
        raise ValueError(f"{op}: ignore_index is not supported for class-probability targets")
    target = target.to(dtype=logp.dtype)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    product = logp * target  # (N, C, ...)
    w = _class_weight(op, weight, logp, n_classes)
    if w is not None:
        product = product * Tensor._wrap(w.reshape(weight_shape))
    per_sample = -product.sum(dim=class_dim)  # (N, ...)
    return _reduce(per_sample, reduction)


# ----------------------------------------------------------------------------------------------
# Binary classification
# ----------------------------------------------------------------------------------------------

_LOG_FLOOR = math.exp(-100)  # log(max(p, e^-100)) = max(log p, -100): torch's clamp


class BinaryCrossEntropy(Function):
    """l = -(t log x + (1 - t) log(1 - x)), each log clamped at -100 (so x = 0 or 1 gives a
    finite loss of at most 100, like torch).

    dl/dx = (x - t) / max(x (1 - x), 1e-12)      (torch's formula: finite at x = 0 and 1)
    dl/dt = log(1 - x) - log(x)  (clamped logs: the derivative of the clamped loss)

    Unlike torch, whose dl/dt is -logit(x) unclamped (+-inf at x = 0 and 1, and different
    wherever log x or log(1 - x) is below -100), dl/dt is finite everywhere.
    """

    def forward(self, x, t):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return (-(t * log_x + (1 - t) * log_1mx)).astype(x.dtype, copy=False)

    def backward(self, dy):
        x, t = self.inputs
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = dy * (x - t) / ((1 - x) * x).clamp(min=_TORCH_EPSILON)
        if self.needs_input_grad[1]:
            dt = dy * ((1 - x).clamp(min=_LOG_FLOOR).log() - x.clamp(min=_LOG_FLOOR).log())
        return dx, dt


def binary_cross_entropy(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
                         reduce=None, reduction: str = "mean") -> Tensor:
    """BCE of probabilities ``input`` in [0, 1] against targets in [0, 1] (same shape):
    l_i = -w_i (t_i log x_i + (1 - t_i) log(1 - x_i)). ``weight`` broadcasts to the input's
    shape (it may not grow it, as torch); unlike torch, which refuses one that requires grad, a
    tensor weight gets a gradient. Prefer binary_cross_entropy_with_logits on raw scores: it is
    exact where sigmoid saturates."""
    op = "binary_cross_entropy"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    target = _float_target(op, input, target)
    xp = get_array_module(input.data)
    if input.data.size and not bool(xp.all((input.data >= 0) & (input.data <= 1))):
        raise ValueError(
            f"{op}: all elements of input should be between 0 and 1 (got min "
            f"{float(input.data.min()):.4g}, max {float(input.data.max()):.4g}); for raw scores "
            "(logits) use binary_cross_entropy_with_logits / BCEWithLogitsLoss"
        )
    if target.data.size and not bool(xp.all((target.data >= 0) & (target.data <= 1))):
        raise ValueError(f"{op}: all elements of target should be between 0 and 1")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        w = _cast_like(weight, input)
        _check_broadcasts_to_input(op, "weight", w, input)
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,  # noqa: A002
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """BCE on logits x, computed without ever forming sigmoid(x):

        l = (1 - t) x + lw * softplus(-x),   lw = 1 + (pos_weight - 1) t
          = -[pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
        dl/dx = lw sigmoid(x) - pos_weight t

    softplus(-x) = log(1 + e^-x) is evaluated as max(-x, 0) + log1p(e^-|x|), finite for
    x = +-1e4 (value and gradient). ``pos_weight`` (e.g. shape (C,)) broadcasts over the
    input and up-weights positives; ``weight`` multiplies each element's loss. Both broadcast
    to the input's shape and may not grow it, as torch; unlike torch (which refuses them), tensors
    that require grad get a gradient.
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    target = _float_target(op, input, target)
    softplus_neg = F.softplus(-input, beta=1.0, threshold=math.inf)  # -log sigmoid(x)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        pw = _cast_like(pos_weight, input)
        _check_broadcasts_to_input(op, "pos_weight", pw, input)
        log_weight = 1 + (pw - 1) * target
        loss = (1 - target) * input + log_weight * softplus_neg
    if weight is not None:
        w = _cast_like(weight, input)
        _check_broadcasts_to_input(op, "weight", w, input)
        loss = loss * w
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Margin losses: margin_ranking_loss, hinge_embedding_loss, soft_margin_loss,
# multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss
# ----------------------------------------------------------------------------------------------


def _broadcast_shape(op: str, **shapes) -> tuple:
    """The shape the named operands broadcast to, or an error that lists them."""
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        named = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(f"{op}: {named} cannot be broadcast together") from None


def _check_broadcasts_to_input(op: str, name: str, value: Tensor,
                               input: Tensor) -> None:  # noqa: A002
    """``value`` (a target or weight) must broadcast to the input's shape without growing it."""
    shape = tuple(input.shape)
    if _broadcast_shape(op, input=shape, **{name: tuple(value.shape)}) != shape:
        raise ValueError(f"{op}: {name} of shape {tuple(value.shape)} must broadcast to the "
                         f"input's shape {shape}, but it would grow the input")


def _like(value, like: Tensor) -> Tensor:
    """A target (tensor, list, array or number) as a tensor in ``like``'s dtype; a float tensor
    of another dtype is cast differentiably."""
    value = _as_tensor(value, like)
    return value if value.dtype == like.dtype else value.to(dtype=like.dtype)


def _integer_targets(op: str, input: Tensor, target):  # noqa: A002
    """Class-index targets as an integer array on the input's device (not range-checked)."""
    data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if backend.is_cupy_array(data) or backend.is_cupy_array(input.data):
        data = backend.to_device(data, input.device)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices (int64), got dtype "
                        f"{data.dtype} (target shape {tuple(data.shape)}); use target.long()")
    return data


def _margin_input(op: str, input) -> tuple[int, int]:  # noqa: A002
    """(N, C) of a multi-class margin loss's input: (N, C), (C,) (N = 1) or 0-d (N = C = 1)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    shape = tuple(input.shape)
    if input.ndim > 2 or (input.ndim >= 1 and shape[-1] == 0):
        raise ValueError(f"{op}: expected input (N, C) or (C,) with C > 0 classes (or a 0-d "
                         f"input), got shape {shape}")
    n = shape[0] if input.ndim == 2 else 1
    c = shape[-1] if input.ndim >= 1 else 1
    return n, c


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Rank x1 above x2 where y = 1 (below where y = -1) by at least ``margin``::

        l_i = max(0, -y_i (x1_i - x2_i) + margin)
        dl/dx1_i = -y_i,  dl/dx2_i = y_i,  dl/dy_i = -(x1_i - x2_i)   (0 where the max is 0)

    The three operands have one number of dims and broadcast together, as torch.

    >>> import tinygrad_edu as tg
    >>> margin_ranking_loss(tg.tensor([2.0, 0.5]), tg.tensor([1.0, 1.0]), tg.tensor([1.0, 1.0]),
    ...                     margin=0.5, reduction="none").tolist()
    [0.0, 1.0]
    """
    op = "margin_ranking_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input1 = _float_operand(op, "input1", input1)
    input2 = _float_operand(op, "input2", input2)
    target = _like(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(f"{op}: input1, input2 and target must have the same number of dims, "
                         f"got shapes {tuple(input1.shape)}, {tuple(input2.shape)} and "
                         f"{tuple(target.shape)}")
    _broadcast_shape(op, input1=input1.shape, input2=input2.shape, target=target.shape)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0,  # noqa: A002
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """For distances x_i: small for similar pairs (y_i = 1), at least ``margin`` otherwise::

        l_i = x_i                     if y_i = 1
              max(0, margin - x_i)    if y_i = -1
        dl/dx_i = 1  (y_i = 1),  -1 where margin - x_i >= 0  (y_i = -1)

    Like torch, a label other than +-1 takes both terms. x and y broadcast together; the labels
    get no gradient.

    >>> import tinygrad_edu as tg
    >>> hinge_embedding_loss(tg.tensor([0.25, 0.25]), tg.tensor([1, -1]), reduction="none").tolist()
    [0.25, 0.75]
    """
    op = "hinge_embedding_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input = _float_operand(op, "input", input)  # noqa: A001
    labels = _as_tensor(target, input).data  # compared only: no gradient, like torch
    shape = _broadcast_shape(op, input=input.shape, target=labels.shape)
    x = input if tuple(input.shape) == shape else input.broadcast_to(shape)
    hinge = F.masked_fill((margin - x).clamp(min=0), labels == 1, 0.0)
    linear = F.masked_fill(x, labels == -1, 0.0)
    return _reduce(hinge + linear, reduction)


def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
                     reduction: str = "mean") -> Tensor:
    """Logistic loss of scores x against labels y = +-1::

        l_i = log(1 + e^(-y_i x_i)) = softplus(-y_i x_i)
        dl/dx_i = -y_i sigmoid(-y_i x_i)

    The target broadcasts to the input's shape, as torch. Computed as a stable softplus: torch
    forms e^(-y x), which overflows (loss inf, gradient NaN) once -y x passes ~88 in float32.
    Unlike torch (which refuses), a target that requires grad gets dl/dy_i = -x_i sigmoid(-y_i x_i).

    >>> import tinygrad_edu as tg
    >>> x, y = tg.tensor([0.0, 100.0]), tg.tensor([1.0, 1.0])
    >>> round(soft_margin_loss(x, y, reduction="sum").item(), 4)  # log 2 + e^-100
    0.6931
    """
    op = "soft_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input = _float_operand(op, "input", input)  # noqa: A001
    target = _like(target, input)
    _check_broadcasts_to_input(op, "target", target, input)
    return _reduce(F.softplus(-target * input, beta=1.0, threshold=math.inf), reduction)


def multilabel_soft_margin_loss(input: Tensor, target, weight=None,  # noqa: A002
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """One logistic loss per class, averaged over the C classes (the last dim) of each sample::

        l_n = (1/C) sum_c w_c (-y_nc log sigmoid(x_nc) - (1 - y_nc) log sigmoid(-x_nc))
            = (1/C) sum_c w_c (y_nc softplus(-x_nc) + (1 - y_nc) softplus(x_nc))
        dl_n/dx_nc = w_c (sigmoid(x_nc) - y_nc) / C

    ``input`` is (N, C) or (C,) (any leading dims); the target (labels in [0, 1]) and
    ``weight`` (e.g. (C,)) broadcast to its shape; a tensor weight gets a gradient, as in torch.
    Unlike torch, a target or weight that would grow the input is refused (torch then sums the
    wrong dim). "none" returns one loss per sample: the input's shape without C.

    >>> import tinygrad_edu as tg
    >>> round(multilabel_soft_margin_loss(tg.tensor([[0.0, 0.0]]), tg.tensor([[1.0, 0.0]])).item(),
    ...       4)  # log 2
    0.6931
    """
    op = "multilabel_soft_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input = _float_operand(op, "input", input)  # noqa: A001
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dim, (C,) or (N, C); got a 0-d tensor")
    target = _like(target, input)
    _check_broadcasts_to_input(op, "target", target, input)
    neg_log_sigmoid = F.softplus(-input, beta=1.0, threshold=math.inf)  # -log sigmoid(x)
    neg_log_sigmoid_neg = F.softplus(input, beta=1.0, threshold=math.inf)  # -log sigmoid(-x)
    loss = target * neg_log_sigmoid + (1 - target) * neg_log_sigmoid_neg  # the input's shape
    if weight is not None:
        w = _cast_like(weight, input)
        _check_broadcasts_to_input(op, "weight", w, input)
        loss = loss * w
    n_classes = input.shape[-1]
    return _reduce(loss.sum(dim=-1) / n_classes, reduction)  # (N,): one loss per sample


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0,  # noqa: A002
                      weight=None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss (a linear SVM's): the target's score should beat every other
    class's score by ``margin``; with z_ni = margin - x_n[y_n] + x_n[i]::

        l_n = (1/C) sum_{i != y_n} w[y_n] max(0, z_ni)^p            (p = 1 or 2)
        dl_n/dx_n[i] = w[y_n] p z_ni^(p-1) / C  (z_ni > 0),  dl_n/dx_n[y_n] = -sum_i of those

    ``input`` (N, C) with class indices ``target`` (N,), or (C,) with a target () or (1,);
    ``weight`` (C,) weighs each sample by its target class (a constant: torch has no gradient
    for it either). Where z_ni = 0 the gradient is 0, like torch.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[0.5, 0.0, 1.0, -1.0]])  # z = 1 - 0.5 + x: 0.5, 1.5, -0.5 (-> 0)
    >>> multi_margin_loss(x, tg.tensor([0]), reduction="none").tolist()  # (0.5 + 1.5) / 4
    [0.5]
    """
    op = "multi_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p}")
    n, c = _margin_input(op, input)
    input = _float_operand(op, "input", input)  # noqa: A001
    t = _integer_targets(op, input, target)
    if t.ndim > 1 or t.size != n:
        raise ValueError(f"{op}: expected a target of shape ({n},) (one class index per sample "
                         f"of the input {tuple(input.shape)}), got {tuple(t.shape)}")
    if t.size:
        lo, hi = _min_max(t)
        if lo < 0 or hi >= c:
            raise out_of_range_error(op, lo if lo < 0 else hi, c, input.shape)
    w = _class_weight(op, weight, input, c)
    xp = get_array_module(input.data)
    index = t.reshape(n, 1).astype(np.int64)  # (N, 1)
    x = input.reshape(n, c)  # (N, C)
    z = margin - F.gather(x, 1, index) + x  # (N, C): margin - x[y] + x[i]
    dropped = (z.data <= 0) | (xp.arange(c).reshape(1, c) == index)  # the max is 0, or i = y
    hinge = F.masked_fill(z, dropped, 0.0)
    if p == 2:
        hinge = hinge * hinge
    if w is not None:
        hinge = hinge * Tensor._wrap(w[index])  # (N, 1): the weight of each target class
    loss = hinge.sum(dim=1) / c  # (N,)
    if t.ndim == 0:  # a 0-d target gives a 0-d loss, like torch
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target, size_average=None,  # noqa: A002
                           reduce=None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: every listed class should beat every unlisted class by 1::

        l_n = (1/C) sum_{j in Y_n} sum_{i not in Y_n} max(0, 1 - (x_n[j] - x_n[i]))
        dl_n/dx_n[i] = +1/C per (j, i) with a positive term,  dl_n/dx_n[j] = -1/C per such pair

    ``target`` has the input's shape, (N, C) or (C,), and holds class indices: Y_n is the
    classes listed before the first -1 (the padding; the rest of the row is ignored), e.g.
    [3, 0, -1, 1] means classes {3, 0}. Like torch, a class listed twice counts twice. "none"
    returns (N,) for an (N, C) input and a 0-d loss for (C,). Where a term is 0 exactly the
    gradient is 0, like torch.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(multilabel_margin_loss(x, tg.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """
    op = "multilabel_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    n, c = _margin_input(op, input)
    input = _float_operand(op, "input", input)  # noqa: A001
    t = _integer_targets(op, input, target)
    if (t.ndim > 1 or t.size != c) if input.ndim <= 1 else tuple(t.shape) != (n, c):
        expected = (n, c) if input.ndim == 2 else (c,)
        raise ValueError(f"{op}: expected a target of shape {expected} (the input's: class "
                         f"indices padded with -1), got {tuple(t.shape)} for the input "
                         f"{tuple(input.shape)}")
    if t.size:
        lo, hi = _min_max(t)
        if lo < -1 or hi >= c:
            raise IndexError(f"{op}: target {lo if lo < -1 else hi} is out of range: expected "
                             f"class indices 0..{c - 1}, or -1 to end the list (input shape "
                             f"{tuple(input.shape)})")
    xp = get_array_module(input.data)
    t = t.reshape(n, c).astype(np.int64)
    listed = xp.cumprod(t >= 0, axis=1).astype(bool)  # (N, C): the entries before the first -1
    one_hot = (t[:, :, None] == xp.arange(c)) & listed[:, :, None]  # (N, C entries, C classes)
    counts = one_hot.sum(axis=1)  # (N, C): how often each class is listed
    pairs = counts[:, :, None] * (counts == 0)[:, None, :]  # (N, C, C) [n, j, i]: j in, i out
    x = input.reshape(n, c)  # (N, C)
    z = 1 - x.reshape(n, c, 1) + x.reshape(n, 1, c)  # (N, C, C): 1 - (x[j] - x[i])
    hinge = F.masked_fill(z, z.data <= 0, 0.0) * Tensor._wrap(pairs.astype(input.dtype))
    loss = hinge.sum(dim=2).sum(dim=1) / c  # (N,)
    if input.ndim <= 1:  # one sample: a 0-d loss, like torch
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Distances: pairwise_distance, pdist, triplet_margin_loss, triplet_margin_with_distance_loss
# ----------------------------------------------------------------------------------------------


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm distance between x1 and x2 along their last dim (they broadcast)::

        d = ||x1 - x2 + eps||_p = (sum_k |x1_k - x2_k + eps|^p)^(1/p)
        dd/dx1_k = sign(u_k) |u_k|^(p-1) / d^(p-1),  u = x1 - x2 + eps    (dd/dx2 = -dd/dx1)

    Like torch the eps is added to the difference, not to the norm: at x1 = x2 the distance is
    eps * D^(1/p), not 0, and the gradient is finite (for p = 2, 1/sqrt(D) per entry), so
    triplet losses on identical embeddings still train. Two 0-d inputs give |x1 - x2 + eps|.

    >>> import tinygrad_edu as tg
    >>> pairwise_distance(tg.tensor([[3.0, 4.0]]), tg.tensor([[0.0, 0.0]]), eps=0.0).tolist()
    [5.0]
    """
    op = "pairwise_distance"
    x1 = _float_operand(op, "x1", x1)
    x2 = _float_operand(op, "x2", x2)
    _broadcast_shape(op, x1=x1.shape, x2=x2.shape)
    diff = x1 - x2 + eps  # (..., D)
    if diff.ndim == 0:  # no dim to reduce or keep
        return diff.reshape(1).norm(p=p, dim=0)
    return diff.norm(p=p, dim=diff.ndim - 1, keepdim=keepdim)


class RowMaxAbs(Function):
    """y_k = max_m |u_km| (0 when M = 0);  du_km = dy_k sign(u_km) [|u_km| = y_k]

    pdist's p = inf distance with torch's pdist gradient: each entry tied for the max gets all
    of dy_k (``norm(p=inf)`` splits dy_k among them, like torch.norm)."""

    def forward(self, u):
        xp = get_array_module(u)
        magnitude = xp.abs(u)  # (K, M)
        if u.shape[1] == 0:  # no features: every distance is 0
            y = xp.zeros(u.shape[0], dtype=u.dtype)
        else:
            y = magnitude.max(axis=1)  # (K,)
        self.direction = xp.sign(u) * (magnitude == y[:, None])  # (K, M)
        return y

    def backward(self, dy):
        return F.unsqueeze(dy, 1) * Tensor._wrap(self.direction)  # (K, M)


def pdist(input: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """The p-norm distance between every pair of rows i < j of ``input`` (N, M), in row-major
    order (the upper triangle of cdist(x, x), as torch and scipy's pdist)::

        out[k] = ||x_i - x_j||_p   for (i, j) = (0, 1), (0, 2), ..., (N-2, N-1):  N (N-1) / 2
        dout[k]/dx_i = sign(u) |u|^(p-1) / out[k]^(p-1),  u = x_i - x_j   (-that for x_j)

    No eps here: two equal rows are at distance 0 and, like torch, pass no gradient. For
    p = inf, like torch's pdist (unlike torch.norm), every entry tied for the max gets the whole
    gradient of its distance, and M = 0 features give distances 0.

    >>> import tinygrad_edu as tg
    >>> pdist(tg.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])).tolist()
    [5.0, 1.0, 4.242640495300293]
    """
    op = "pdist"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim != 2:
        raise ValueError(f"{op}: expected a 2-d input (N rows of M features), got shape "
                         f"{tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {input.dtype}")
    if p < 0:
        raise ValueError(f"{op}: p must be >= 0, got {p}")
    xp = get_array_module(input.data)
    rows, cols = np.triu_indices(input.shape[0], k=1)  # the pairs i < j, row-major
    diff = F.index_select(input, 0, xp.asarray(rows)) - F.index_select(input, 0,
                                                                       xp.asarray(cols))
    if p == math.inf:
        return RowMaxAbs.apply(diff)  # (N (N-1) / 2,)
    return diff.norm(p=p, dim=1)  # (N (N-1) / 2,)


def _triplet(op: str, anchor, positive, negative, distance, margin: float, swap: bool,
             reduction: str, pairwise: bool) -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d(a, n) replaced by min(d(a, n), d(p, n)) if swap.
    ``pairwise``: d is pairwise_distance, whose operands must broadcast."""
    if not margin > 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    anchor = _float_operand(op, "anchor", anchor)
    positive = _float_operand(op, "positive", positive)
    negative = _float_operand(op, "negative", negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"{op}: anchor, positive and negative must have the same number of "
                         f"dims, got shapes {tuple(anchor.shape)}, {tuple(positive.shape)} and "
                         f"{tuple(negative.shape)}")
    if pairwise:  # refused here, so that the error names this op and its operands
        _broadcast_shape(op, anchor=anchor.shape, positive=positive.shape)
        _broadcast_shape(op, anchor=anchor.shape, negative=negative.shape)
        if swap:
            _broadcast_shape(op, positive=positive.shape, negative=negative.shape)
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:  # the positive may be closer to the negative than the anchor is
        d_neg = F.minimum(d_neg, distance(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """The anchor should be closer to the positive than to the negative, by ``margin``::

        l_n = max(0, margin + d(a_n, p_n) - d(a_n, n_n)),   d = pairwise_distance(p=p, eps=eps)
        swap=True: d(a_n, n_n) -> min(d(a_n, n_n), d(p_n, n_n))  (Balntas et al. 2016)

    (N, D) or (D,) embeddings of one number of dims, broadcasting; the gradient is
    pairwise_distance's, 0 where the max is below 0.

    >>> import tinygrad_edu as tg
    >>> a, pos, neg = tg.tensor([[0.0, 0.0]]), tg.tensor([[1.0, 0.0]]), tg.tensor([[0.0, 1.5]])
    >>> round(triplet_margin_loss(a, pos, neg, eps=0.0).item(), 4)
    0.5
    """
    op = "triplet_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    distance = functools.partial(pairwise_distance, p=p, eps=eps)
    return _triplet(op, anchor, positive, negative, distance, margin, swap, reduction,
                    pairwise=True)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """``triplet_margin_loss`` with any distance d(x1, x2) -> (N,) (a function or a Module, e.g.
    ``lambda a, b: 1 - cosine_similarity(a, b)``; default ``pairwise_distance``)::

        l_n = max(0, margin + d(a_n, p_n) - d(a_n, n_n))   (swap as in triplet_margin_loss)

    >>> import tinygrad_edu as tg
    >>> a, pos, neg = tg.tensor([[0.0, 0.0]]), tg.tensor([[1.0, 0.0]]), tg.tensor([[0.0, 1.5]])
    >>> l1 = lambda x, y: (x - y).abs().sum(dim=-1)
    >>> triplet_margin_with_distance_loss(a, pos, neg, distance_function=l1).item()
    0.5
    """
    op = "triplet_margin_with_distance_loss"
    _check_reduction(op, reduction)
    distance = pairwise_distance if distance_function is None else distance_function
    return _triplet(op, anchor, positive, negative, distance, margin, swap, reduction,
                    pairwise=distance_function is None)


# ----------------------------------------------------------------------------------------------
# Likelihoods: poisson_nll_loss, gaussian_nll_loss
# ----------------------------------------------------------------------------------------------


def poisson_nll_loss(input: Tensor, target, log_input: bool = True,  # noqa: A002
                     full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts t under a Poisson rate (log t! left out)::

        l_i = e^(x_i) - t_i x_i              dl/dx_i = e^(x_i) - t_i             (log_input)
        l_i = x_i - t_i log(x_i + eps)       dl/dx_i = 1 - t_i / (x_i + eps)     (otherwise)

    ``full=True`` adds Stirling's approximation of log t_i!, only where t_i > 1 (0 elsewhere)::

        t_i log t_i - t_i + 0.5 log(2 pi t_i)

    x and t broadcast together, as torch; t gets a gradient too. Unlike torch (NaN), the
    target's gradient is finite where t_i = 0 with full=True.

    >>> import tinygrad_edu as tg
    >>> poisson_nll_loss(tg.tensor([0.0]), tg.tensor([2.0]), reduction="none").tolist()
    [1.0]
    """
    op = "poisson_nll_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input = _float_operand(op, "input", input)  # noqa: A001
    target = _like(target, input)
    _broadcast_shape(op, input=input.shape, target=target.shape)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        small = target.data <= 1  # Stirling's term only where t > 1
        safe = F.masked_fill(target, small, 1.0)  # log(1) = 0: finite value and gradient there
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + F.masked_fill(stirling, small, 0.0)
    return _reduce(loss, reduction)


def _gaussian_var(op: str, var: Tensor, input: Tensor) -> Tensor:  # noqa: A002
    """torch's accepted shapes of ``var``: the input's (one variance per element), the input's
    without the last dim (one per sample: unsqueezed to broadcast), or the input's with exactly
    one dim of size 1 (one variance shared along that dim)."""
    x_shape, v_shape = tuple(input.shape), tuple(var.shape)
    if v_shape == x_shape:
        return var
    if v_shape == x_shape[:-1]:
        return F.unsqueeze(var, -1)
    if len(v_shape) == len(x_shape) and sum(
            v for x, v in zip(x_shape, v_shape) if x != v) == 1:  # one mismatch, of size 1
        return var
    raise ValueError(f"{op}: var of shape {v_shape} does not fit the input {x_shape}: expected "
                     "the input's shape, the input's shape without its last dim, or the input's "
                     "shape with one dim of size 1")


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False,  # noqa: A002
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of targets y under N(x, var); with v = max(var, eps)::

        l_i = 0.5 (log v_i + (x_i - y_i)^2 / v_i)       (+ 0.5 log(2 pi) if full)
        dl/dx_i = (x_i - y_i) / v_i,   dl/dvar_i = 0.5 (1 / v_i - (x_i - y_i)^2 / v_i^2)

    ``var`` (>= 0) is a tensor (the input's shape, the input's shape without its last dim, or
    the input's shape with one dim of size 1) or a number. Like torch, the clamp at eps changes
    the value only: the gradient with respect to var is the formula's at v, passed through the
    clamp unchanged (torch clamps a clone under no_grad). x and y broadcast together.

    >>> import tinygrad_edu as tg
    >>> gaussian_nll_loss(tg.tensor([1.0]), tg.tensor([3.0]), tg.tensor([1.0])).item()
    2.0
    """
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    input = _float_operand(op, "input", input)  # noqa: A001
    target = _like(target, input)
    _broadcast_shape(op, input=input.shape, target=target.shape)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var must be >= 0, got {var}")
        xp = get_array_module(input.data)
        var = Tensor._wrap(xp.full(input.shape, var, dtype=input.dtype))
    else:
        var = _like(var, input)
        if var.data.size and bool((var.data < 0).any()):
            raise ValueError(f"{op}: var has negative entries (min {float(var.data.min()):.4g}); "
                             "variances must be >= 0")
        var = _gaussian_var(op, var, input)
    v = ClampMinValueOnly.apply(var, lo=eps)
    diff = input - target
    loss = 0.5 * (v.log() + diff * diff / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Regularization penalties
# ----------------------------------------------------------------------------------------------


def _parameter_list(op: str, parameters) -> list:
    if isinstance(parameters, Module):
        parameters = parameters.parameters()
    elif isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected tensors (e.g. model.parameters()), got "
                            f"{type(p).__name__}")
    if not params:
        raise ValueError(f"{op}: got an empty list of parameters")
    return params


def l1_penalty(parameters) -> Tensor:
    """sum_p sum_i |p_i|  (lasso; pushes weights to exactly zero). Add ``lam * l1_penalty``
    to the loss. ``parameters`` is a Module, a tensor, or an iterable of tensors."""
    params = _parameter_list("l1_penalty", parameters)
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(parameters) -> Tensor:
    """sum_p sum_i p_i^2  (ridge; gradient 2 p). Adding ``lam / 2 * l2_penalty`` to the loss
    is the same as SGD's ``weight_decay=lam``. Usually applied to weights, not biases."""
    params = _parameter_list("l2_penalty", parameters)
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total


# ----------------------------------------------------------------------------------------------
# Loss modules
# ----------------------------------------------------------------------------------------------


class _Loss(Module):
    _reductions = _REDUCTIONS  # the reductions the loss accepts

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = _legacy_reduction(type(self).__name__, size_average, reduce, reduction)
        _check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _optional_tensor(weight))


def _optional_tensor(value) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


class MSELoss(_Loss):
    """Mean squared error: mean_i (x_i - y_i)^2 (see ``mse_loss``)."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: mean_i |x_i - y_i| (see ``l1_loss``)."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (see ``smooth_l1_loss``)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, delta * absolute error above (see ``huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of the target from the model's log-probabilities (see ``kl_div``); use
    ``reduction="batchmean"`` for the KL divergence averaged over the batch."""

    _reductions = _KL_REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """1 - cos for pairs labelled 1, max(0, cos - margin) for pairs labelled -1 (see
    ``cosine_embedding_loss``)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class CosineSimilarity(Module):
    """Cosine similarity along ``dim`` (see ``cosine_similarity``); torch.nn.CosineSimilarity."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, dim=self.dim, eps=self.eps)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """LogSoftmax + NLLLoss in one stable step, on raw logits (see ``cross_entropy``)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (after a Sigmoid); see ``binary_cross_entropy``."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + BCELoss in one stable step, on raw logits; ``pos_weight`` up-weights positives
    (see ``binary_cross_entropy_with_logits``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _optional_tensor(weight))
        self.register_buffer("pos_weight", _optional_tensor(pos_weight))

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                reduction=self.reduction,
                                                pos_weight=self.pos_weight)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin): rank x1 above x2 where y = 1 (see
    ``margin_ranking_loss``)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return margin_ranking_loss(input1, input2, target, margin=self.margin,
                                   reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x for similar pairs (y = 1), max(0, margin - x) for dissimilar ones (y = -1) (see
    ``hinge_embedding_loss``)."""

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Logistic loss log(1 + e^(-y x)) for labels y = +-1 (see ``soft_margin_loss``)."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic losses averaged over the classes (see
    ``multilabel_soft_margin_loss``)."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return multilabel_soft_margin_loss(input, target, weight=self.weight,
                                           reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss, sum_{i != y} max(0, margin - x[y] + x[i])^p / C (see
    ``multi_margin_loss``)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                 reduce=None, reduction: str = "mean"):
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got p={p}")
        super().__init__(weight, size_average, reduce, reduction)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: weight must be one-dimensional (C,), got shape "
                             f"{tuple(self.weight.shape)}")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                 reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss with targets padded by -1 (see ``multilabel_margin_loss``)."""

    def forward(self, input: Tensor, target) -> Tensor:  # noqa: A002
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim (see ``pairwise_distance``);
    torch.nn.PairwiseDistance (the exponent is kept as ``norm``, like torch)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, p=self.norm, eps=self.eps, keepdim=self.keepdim)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm distance (see
    ``triplet_margin_loss``)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                   eps=self.eps, swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``TripletMarginLoss`` with any distance function (default ``PairwiseDistance()``, which
    becomes a child module, as in torch); see ``triplet_margin_with_distance_loss``."""

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got "
                             f"{margin}")
        self.distance_function = (distance_function if distance_function is not None
                                  else PairwiseDistance())
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_with_distance_loss(anchor, positive, negative,
                                                 distance_function=self.distance_function,
                                                 margin=self.margin, swap=self.swap,
                                                 reduction=self.reduction)

    def __repr__(self) -> str:
        return self._repr(top=False)  # torch's repr: a loss gets no parameter-count line


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood, e^x - t x for a log-rate x (see ``poisson_nll_loss``)."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target) -> Tensor:  # torch's name for the input
        return poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood, 0.5 (log var + (x - y)^2 / var) (see
    ``gaussian_nll_loss``)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target, var) -> Tensor:  # noqa: A002
        return gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                 reduction=self.reduction)
