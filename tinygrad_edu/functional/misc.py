"""Miscellaneous torch top-level ops: broadcasting helpers, h/v/d/column stacking, atleast_nd,
block_diag, cdist, searchsorted/bucketize, trapezoid rules, heaviside.

The differentiable ones are compositions of existing ops (reshape, cat, pad, sum, sqrt, where),
so their backward is the chain rule through those ops and works to any order. searchsorted,
bucketize and heaviside return integers or steps, so they record no gradient.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import _promoted_dtype, cast, clone
from .reduce import amax, cumsum, sum
from .shape import _dim, broadcast_to, cat, narrow, pad, reshape

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "broadcast_shapes",
    "broadcast_tensors",
    "bucketize",
    "cdist",
    "clone",
    "column_stack",
    "cumulative_trapezoid",
    "dstack",
    "heaviside",
    "hstack",
    "numel",
    "row_stack",
    "searchsorted",
    "trapezoid",
    "vstack",
]


def _check_tensors(op: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensor {i} to be a Tensor, got {type(t).__name__}")
    return tensors


def numel(input: Tensor) -> int:  # noqa: A002 - torch name
    """The number of elements, prod(shape)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"numel: expected a Tensor, got {type(input).__name__}")
    return input.numel()


# ----------------------------------------------------------------------------------------------
# Broadcasting
# ----------------------------------------------------------------------------------------------


def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of these shapes broadcast to (an int n means (n,)).

    Align from the right; in each place sizes must be equal or 1, and the result takes the
    size that is not 1.
    """
    shapes = [(s,) if isinstance(s, numbers.Integral) else tuple(s) for s in shapes]
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, size in enumerate(s):
            if not isinstance(size, numbers.Integral) or size < 0:
                raise ValueError(f"broadcast_shapes: expected non-negative integer sizes, "
                                 f"got {s}")
            j = ndim - len(s) + i
            if size == 1:
                continue
            if out[j] not in (1, size):
                raise ValueError(f"broadcast_shapes: shapes cannot be broadcast to a single "
                                 f"shape: {', '.join(map(str, shapes))} (sizes {out[j]} and "
                                 f"{size} at dim {j})")
            out[j] = int(size)
    return tuple(out)


def broadcast_tensors(*tensors: Tensor) -> tuple:
    """Each tensor expanded to the common broadcast shape; dx_i = dy_i summed over the
    broadcast axes."""
    if not tensors:
        return ()  # as torch
    tensors = _check_tensors("broadcast_tensors", tensors)
    try:
        shape = broadcast_shapes(*[t.shape for t in tensors])
    except ValueError:
        raise ValueError(f"broadcast_tensors: shapes cannot be broadcast to a single shape: "
                         f"{', '.join(str(tuple(t.shape)) for t in tensors)}") from None
    return tuple(t if t.shape == shape else broadcast_to(t, shape) for t in tensors)


# ----------------------------------------------------------------------------------------------
# atleast_nd and the stacking family
# ----------------------------------------------------------------------------------------------


def _atleast(op: str, tensors, view) -> Tensor | tuple:
    """One tensor in, one out; several (or one sequence) in, a tuple out, as in torch."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        return ()  # as torch
    tensors = _check_tensors(op, tensors)
    out = tuple(view(t) for t in tensors)
    return out[0] if single else out


def _view_1d(t: Tensor) -> Tensor:
    return reshape(t, 1) if t.ndim == 0 else t


def _view_2d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return reshape(t, 1, 1)
    if t.ndim == 1:
        return reshape(t, 1, t.shape[0])  # (1, n)
    return t


def _view_3d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return reshape(t, 1, 1, 1)
    if t.ndim == 1:
        return reshape(t, 1, t.shape[0], 1)  # (1, n, 1)
    if t.ndim == 2:
        return reshape(t, t.shape[0], t.shape[1], 1)  # (m, n, 1)
    return t


def atleast_1d(*tensors):
    """Views with at least 1 dimension: a 0-d x becomes shape (1,)."""
    return _atleast("atleast_1d", tensors, _view_1d)


def atleast_2d(*tensors):
    """Views with at least 2 dimensions: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast("atleast_2d", tensors, _view_2d)


def atleast_3d(*tensors):
    """Views with at least 3 dimensions: () -> (1, 1, 1), (n,) -> (1, n, 1),
    (m, n) -> (m, n, 1)."""
    return _atleast("atleast_3d", tensors, _view_3d)


def _cat(op: str, tensors: list, dim: int) -> Tensor:
    """cat, with its shape errors naming ``op`` (the stacking function the user called)."""
    try:
        return cat(tensors, dim=dim)
    except ValueError as e:
        raise ValueError(f"{op}: {e}") from None


def hstack(tensors) -> Tensor:
    """Concatenate column-wise: along dim 0 for 1-D tensors, else along dim 1."""
    tensors = [_view_1d(t) for t in _check_tensors("hstack", tensors)]
    return _cat("hstack", tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate row-wise (dim 0) after atleast_2d: (n,) tensors become rows (1, n)."""
    return _cat("vstack", [_view_2d(t) for t in _check_tensors("vstack", tensors)], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Concatenate depth-wise (dim 2) after atleast_3d."""
    return _cat("dstack", [_view_3d(t) for t in _check_tensors("dstack", tensors)], 2)


def column_stack(tensors) -> Tensor:
    """Concatenate along dim 1, with 0-d and (n,) tensors turned into columns (n, 1)."""
    columns = []
    for t in _check_tensors("column_stack", tensors):
        columns.append(reshape(t, t.numel(), 1) if t.ndim <= 1 else t)
    return _cat("column_stack", columns, 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """The block-diagonal matrix with blocks A_1, A_2, ... on the diagonal and 0 elsewhere.

    0-d blocks are (1, 1), 1-D blocks (n,) are rows (1, n); the dtype is the promoted one.
    Each block is padded with zeros to the full width, then the rows are concatenated, so
    dA_k = the block of dY that A_k filled.
    """
    tensors = _check_tensors("block_diag", tensors) if tensors else []
    blocks = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise ValueError(f"block_diag: expected tensors of at most 2 dimensions, got "
                             f"shape {tuple(t.shape)} for tensor {i}")
        blocks.append(_view_2d(t))
    if not blocks:
        from ..tensor import zeros

        return zeros(1, 0)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = _promoted_dtype(dtype, b.dtype)
    width = int(np.sum([b.shape[1] for b in blocks]))  # W = sum of the block widths
    rows = []
    left = 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(pad(cast(b, dtype), (left, right)))  # (rows_k, W)
        left += b.shape[1]
    return cat(rows, dim=0)


# ----------------------------------------------------------------------------------------------
# Distances
# ----------------------------------------------------------------------------------------------


def _safe_root(s: Tensor, root) -> Tensor:
    """root(s) where s > 0 and 0 where s == 0, with gradient 0 there (torch's cdist rule).

    The inner where keeps root's derivative away from s = 0 (an inf there would give
    0 * inf = nan in the chain rule)."""
    from .elementwise import where

    positive = s > 0
    return where(positive, root(where(positive, s, 1.0)), 0.0)


_CDIST_COMPUTE_MODES = (None, "use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                        "donot_use_mm_for_euclid_dist")


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances: d[..., i, j] = (sum_m |x1[..., i, m] - x2[..., j, m]|^p)^(1/p).

    x1: (B..., P, M), x2: (B..., R, M) -> (B..., P, R), batch dims broadcast. p = 0 counts the
    differing coordinates, p = inf takes the largest |difference|. Gradient: for p = 2,
    dx1_i = sum_j dy_ij (x1_i - x2_j) / d_ij, and 0 where d_ij = 0 (as torch); for p = inf,
    sign(diff) dy at every coordinate tied for the largest |difference| (as torch); other p by
    the chain rule through |diff|^p. ``compute_mode`` (torch's values, or None) is checked and
    ignored: distances are always computed from the differences (no matmul shortcut).
    """
    from .elementwise import abs as abs_
    from .elementwise import ne, sqrt, where

    for name, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"cdist: expected {name} to be a Tensor, got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(f"cdist: expected {name} with at least 2 dimensions (..., P, M), "
                             f"got shape {tuple(x.shape)}")
        if x.dtype.kind != "f":
            raise TypeError(f"cdist: only supports floating-point dtypes, {name} got "
                            f"{x.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of columns M, got "
                         f"x1: {tuple(x1.shape)}, x2: {tuple(x2.shape)}")
    if not isinstance(p, numbers.Real) or np.isnan(p) or p < 0:
        raise ValueError(f"cdist: only supports non-negative p values, got {p}")
    if compute_mode not in _CDIST_COMPUTE_MODES:
        raise ValueError(f"cdist: {compute_mode!r} is not a valid value for compute_mode; "
                         f"expected one of {', '.join(map(repr, _CDIST_COMPUTE_MODES))}")
    try:
        batch = broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dims of x1 and x2 must broadcast, got x1: "
                         f"{tuple(x1.shape)}, x2: {tuple(x2.shape)}") from None
    P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    a = broadcast_to(x1, batch + (P, M)).unsqueeze(-2)  # (B..., P, 1, M)
    b = broadcast_to(x2, batch + (R, M)).unsqueeze(-3)  # (B..., 1, R, M)
    diff = a - b  # (B..., P, R, M)
    if p == 0:
        return sum(cast(ne(diff, 0).detach(), diff.dtype), -1)  # (B..., P, R)
    if p == 1:
        return sum(abs_(diff), -1)
    if p == 2:
        return _safe_root(sum(diff * diff, -1), sqrt)
    if np.isinf(p):
        if M == 0:
            return sum(diff, -1)  # zeros (B..., P, R)
        # torch's rule: every coordinate tied for the largest |difference| gets all of dy
        # (amax would share it). The value is d = max |diff|; the sum adds |diff| - d = 0 at
        # the tied coordinates, so that only they carry the gradient, each in full.
        magnitude = abs_(diff)  # (B..., P, R, M)
        d = amax(magnitude, -1).detach()  # (B..., P, R)
        tied = magnitude.data == d.data[..., None]
        return d + sum(where(tied, magnitude - d.unsqueeze(-1), 0.0), -1)
    magnitude = abs_(diff)  # (B..., P, R, M)
    powered = _safe_root(magnitude, lambda a: a ** p)  # |diff|^p, gradient 0 where diff = 0
    return _safe_root(sum(powered, -1), lambda s: s ** (1.0 / p))


# ----------------------------------------------------------------------------------------------
# Sorted search (no gradients)
# ----------------------------------------------------------------------------------------------


def _side(op: str, right: bool, side: str | None) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise ValueError(f"{op}: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError(f"{op}: side and right can't be set to opposites, got side={side!r} "
                         f"and right=True")
    return side


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter=None) -> Tensor:
    """Indices i with s[i-1] < v <= s[i] (``side='left'``) or s[i-1] <= v < s[i] (``'right'``,
    or ``right=True``), searched along the last dim; int64 (int32 with ``out_int32``).

    ``sorted_sequence`` is 1-D, or (..., K) with the same leading dims as ``values`` (..., V);
    ``values`` may be a number (then the result is 0-d). ``sorter`` holds the indices that
    sort an unsorted sequence. No gradient.
    """
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted: expected sorted_sequence to be a Tensor, got "
                        f"{type(sorted_sequence).__name__}")
    side = _side("searchsorted", right, side)
    xp = get_array_module(sorted_sequence.data)
    seq = sorted_sequence.data
    if sorter is not None:
        order = sorter.data if isinstance(sorter, Tensor) else xp.asarray(sorter)
        if order.shape != seq.shape:
            raise ValueError(f"searchsorted: sorter must have the shape of sorted_sequence, "
                             f"got sorter: {tuple(order.shape)}, sorted_sequence: "
                             f"{tuple(seq.shape)}")
        if order.dtype.kind not in "iu":
            raise TypeError(f"searchsorted: sorter must be an integer tensor, got dtype "
                            f"{order.dtype}")
        if order.size and (int(order.min()) < 0 or int(order.max()) >= seq.shape[-1]):
            raise IndexError(f"searchsorted: sorter index out of range: its values must be in "
                             f"[0, {seq.shape[-1]}), got min {int(order.min())} and max "
                             f"{int(order.max())}")
        seq = xp.take_along_axis(seq, order.astype(np.int64), axis=-1)
    scalar = not isinstance(values, Tensor)
    vals = xp.asarray(values) if scalar else values.data
    if scalar and seq.ndim != 1:
        raise ValueError(f"searchsorted: a scalar value needs a 1-D sorted_sequence, got "
                         f"shape {tuple(seq.shape)}")
    if seq.ndim == 0:
        raise ValueError("searchsorted: sorted_sequence must have at least 1 dimension, got "
                         "shape ()")
    if seq.ndim > 1 and (vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]):
        raise ValueError(f"searchsorted: boundaries tensor should be 1 dimension or the first "
                         f"N-1 dimensions of boundaries tensor and input value tensor must "
                         f"match, got sorted_sequence: {tuple(seq.shape)}, values: "
                         f"{tuple(vals.shape)}")
    dtype = np.int32 if out_int32 else np.int64
    if seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side=side).astype(dtype)
    else:
        rows, K = int(np.prod(seq.shape[:-1])), seq.shape[-1]
        flat_seq = seq.reshape(rows, K)  # (rows, K); K may be 0, so no -1 here
        flat_vals = vals.reshape(rows, vals.shape[-1])  # (rows, V)
        out = xp.empty(flat_vals.shape, dtype=dtype)
        for r in range(flat_seq.shape[0]):
            out[r] = xp.searchsorted(flat_seq[r], flat_vals[r], side=side)
        out = out.reshape(vals.shape)
    return Tensor._wrap(xp.asarray(out), False)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket index i of each value with b[i-1] < x <= b[i] (``right=True``:
    b[i-1] <= x < b[i]) for 1-D ``boundaries``; int64 (int32 with ``out_int32``). No gradient.
    """
    if not isinstance(boundaries, Tensor) or boundaries.ndim != 1:
        got = tuple(boundaries.shape) if isinstance(boundaries, Tensor) else type(boundaries)
        raise ValueError(f"bucketize: boundaries must be a 1-D tensor, got {got}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ----------------------------------------------------------------------------------------------
# Trapezoid rule
# ----------------------------------------------------------------------------------------------


def _trapezoid_parts(op: str, y: Tensor, x, dx, dim: int):
    """(widths, mean heights) of the n-1 trapezoids along ``dim``; widths may be a number."""
    from ..autograd import Config

    if not isinstance(y, Tensor):
        raise TypeError(f"{op}: expected y to be a Tensor, got {type(y).__name__}")
    if x is not None and dx is not None:
        raise TypeError(f"{op}: pass either x or dx, not both")
    if y.ndim == 0:
        raise ValueError(f"{op}: expected y with at least 1 dimension, got shape ()")
    if y.dtype.kind != "f":
        y = cast(y, Config.default_dtype)
    d = _dim(op, dim, y.ndim)
    n = y.shape[d]
    heights = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5 if n > 1 else None
    if x is None or isinstance(x, numbers.Real):
        width = 1.0 if dx is None and x is None else (x if x is not None else dx)
        return width, heights, d, n, y
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected x to be a Tensor or a number, got {type(x).__name__}")
    if x.dtype.kind != "f":
        x = cast(x, y.dtype)
    if x.ndim == 1:
        if x.shape[0] != n:
            raise ValueError(f"{op}: there must be one x value for each sample point along "
                             f"dim {d}, got x: {tuple(x.shape)}, y: {tuple(y.shape)}")
        widths = narrow(x, 0, 1, n - 1) - narrow(x, 0, 0, n - 1) if n > 1 else None
        if widths is not None:
            shape = [1] * y.ndim
            shape[d] = n - 1
            widths = reshape(widths, *shape)  # broadcast along dim d
        return widths, heights, d, n, y
    try:
        shape = broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{op}: x and y must broadcast together or x must be 1-D, got "
                         f"x: {tuple(x.shape)}, y: {tuple(y.shape)}") from None
    if len(shape) != y.ndim:  # y gains leading dims; dim keeps naming the same one of y
        return _trapezoid_parts(op, broadcast_to(y, shape), x, dx, d - y.ndim)
    lead = y.ndim - x.ndim  # x is aligned with y from the right
    x_n = x.shape[d - lead] if d >= lead else 1
    if n > 1 and x_n != n:  # a size-1 x would broadcast to zero widths (torch refuses it)
        raise ValueError(f"{op}: x must have one value for each of the {n} samples of y along "
                         f"dim {d}, got x: {tuple(x.shape)}, y: {tuple(y.shape)}")
    xb = broadcast_to(x, shape)
    widths = narrow(xb, d, 1, n - 1) - narrow(xb, d, 0, n - 1) if n > 1 else None
    return widths, heights, d, n, y


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Trapezoid rule along ``dim``: sum_i (x_{i+1} - x_i) (y_{i+1} + y_i) / 2.

    ``x`` is a tensor of sample points (1-D of length n, or broadcasting with y) or a number
    (a constant spacing, like ``dx``); without either the spacing is 1. Fewer than 2 samples
    give 0. Integer y is integrated in the default float dtype.
    """
    widths, heights, d, n, y = _trapezoid_parts("trapezoid", y, x, dx, dim)
    if heights is None:
        return sum(narrow(y, d, 0, 0), d)  # zeros of the reduced shape
    return sum(widths * heights, d)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoid rule along ``dim``: out_k = sum_{i<=k} (x_{i+1} - x_i)(y_{i+1} + y_i)/2,
    k = 0 .. n-2 (n-1 values along ``dim``)."""
    widths, heights, d, n, y = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    if heights is None:
        return narrow(y, d, 0, 0) * 1.0
    return cumsum(widths * heights, d)


# ----------------------------------------------------------------------------------------------
# Heaviside step
# ----------------------------------------------------------------------------------------------


class Heaviside(Function):
    """y = 0 for x < 0, values for x == 0, 1 for x > 0;  no derivative (as torch, backward
    raises)."""

    def forward(self, x, values):
        xp = get_array_module(x)
        return xp.where(x == 0, values, (x > 0).astype(x.dtype)).astype(x.dtype)

    def backward(self, dy):
        raise RuntimeError("heaviside: the derivative is not implemented (torch neither: "
                           "the step has derivative 0 almost everywhere; use a smooth "
                           "surrogate such as sigmoid(k x) to learn through it)")


def heaviside(input: Tensor, values) -> Tensor:  # noqa: A002 - torch name
    """The Heaviside step H(x) with H(0) = ``values`` (broadcast); dtypes must be equal."""
    if not isinstance(input, Tensor) or not isinstance(values, Tensor):
        raise TypeError(f"heaviside: expected input and values to be Tensors, got "
                        f"{type(input).__name__} and {type(values).__name__}")
    if input.dtype != values.dtype:
        raise TypeError(f"heaviside: input and values must have the same dtype, got "
                        f"{input.dtype} and {values.dtype}")
    try:
        broadcast_shapes(input.shape, values.shape)
    except ValueError:
        raise ValueError(f"heaviside: input and values must broadcast, got shapes "
                         f"{tuple(input.shape)} and {tuple(values.shape)}") from None
    return Heaviside.apply(input, values)
