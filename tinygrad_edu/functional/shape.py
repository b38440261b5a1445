"""Shape ops: broadcasting and its adjoint, reshape, transpose, indexing, cat/stack/split, pad,
flip/roll/narrow.

None of these change values, only where they sit, so every backward moves the gradient back
to where the value came from (and sums where one value went to several places).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..backend import get_array_module
from ..tensor import Tensor


def _dim(op: str, dim: int, ndim: int) -> int:
    """Normalize a possibly negative ``dim`` for a tensor with ``ndim`` dimensions."""
    if dim.__class__ is not int and not isinstance(dim, numbers.Integral):  # int: no ABC check
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = ndim if ndim > 0 else 1  # a 0-d tensor takes dim 0 and -1, as in torch
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of "
            f"[{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _shape_arg(shape) -> tuple:
    """``reshape(x, 2, 3)`` and ``reshape(x, (2, 3))`` alike: the sizes as a tuple of ints."""
    if len(shape) == 1:
        first = shape[0]
        # tuple and list first: the ABC check of isinstance(..., Sequence) costs more than
        # the rest of a reshape that changes nothing
        if first.__class__ in (tuple, list) or (
            first.__class__ is not int and isinstance(first, (Sequence, np.ndarray))
        ):
            shape = first
    return tuple(map(int, shape))


# ----------------------------------------------------------------------------------------------
# Broadcasting and its adjoint
# ----------------------------------------------------------------------------------------------


class SumTo(Function):
    """y = x summed down to ``shape``;  dx = broadcast_to(dy, x.shape)

    Summing over the broadcast axes undoes the broadcast: if ``a`` of shape (3, 1) was
    broadcast to (2, 3, 4), each a[i, 0] was used 2 * 4 times, so its gradient is the sum of
    those 8 upstream gradients.
    """

    def forward(self, x, shape):
        self.axes = _broadcast_axes(x.shape, shape)
        return x.sum(axis=self.axes, keepdims=True).reshape(shape)

    def backward(self, dy):
        (x,) = self.inputs
        return broadcast_to(dy, x.shape)


def _broadcast_axes(x_shape, shape) -> tuple:
    """The axes of ``x_shape`` that broadcasting ``shape`` to it added or stretched from 1."""
    lead = len(x_shape) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x_shape[lead + i] != 1
    )


def sum_to(x, shape):
    """The adjoint of broadcasting: sum ``x`` over the axes that broadcasting added. ``x`` is a
    Tensor (an op, differentiable), or a plain array in a first-order backward."""
    if not isinstance(x, Tensor):
        if x.shape == shape:  # nothing was broadcast (the common case)
            return x
        shape = tuple(shape)
        if x.shape == shape:
            return x
        return x.sum(axis=_broadcast_axes(x.shape, shape), keepdims=True).reshape(shape)
    if x.data.shape == shape:  # nothing was broadcast (the common case): no op at all
        return x
    shape = tuple(shape)
    if x.data.shape == shape:  # the same shape, given as a list
        return x
    return SumTo.apply(x, shape=shape)


class BroadcastTo(Function):
    """y = x repeated along broadcast axes (a view);  dx = sum_to(dy, x.shape)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, shape):
        try:
            return get_array_module(x).broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"broadcast_to: shape {tuple(x.shape)} cannot be broadcast to {tuple(shape)}"
            ) from None

    def backward(self, dy):
        (x,) = self.inputs
        return sum_to(dy, x.shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if x.shape == shape:
        return alias(x)
    return BroadcastTo.apply(x, shape=shape)


def expand(x: Tensor, *sizes) -> Tensor:
    """torch ``expand``: -1 keeps a dimension; new dimensions may be added in front."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
            f"dimensions ({x.ndim}) of the tensor of shape {tuple(x.shape)}"
        )
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


# ----------------------------------------------------------------------------------------------
# Reshape, transpose, squeeze
# ----------------------------------------------------------------------------------------------


class Reshape(Function):
    """y = x with a new shape (same elements in the same order);  dx = dy.reshape(x.shape)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: shape {tuple(shape)} is invalid for input of size {x.size} "
                f"(input shape {tuple(x.shape)})"
            ) from None

    def backward(self, dy):
        (x,) = self.inputs
        return reshape(dy, x.shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """x with a new shape: a view of x's memory where NumPy can make one, as torch's (a new
    tensor even when the shape is the same, so a hook or retain_grad on it stays on it)."""
    return Reshape.apply(x, shape=_shape_arg(shape))


def alias(x: Tensor) -> Tensor:
    """A new tensor that views all of x, unchanged (dx = dy): what torch's view ops return
    when they change nothing (``x.reshape(x.shape)``, ``x.permute(0, 1)``, ``x.squeeze()`` of
    a tensor with no size-1 dim), rather than x itself."""
    return Reshape.apply(x, shape=x.data.shape)


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one (x itself when that is a single dim, as in
    torch)."""
    if x.ndim == 0:
        return reshape(x, 1)
    start = _dim("flatten", start_dim, x.ndim)
    end = _dim("flatten", end_dim, x.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if start == end:
        return x  # nothing to merge: the input itself, as in torch
    merged = math.prod(x.shape[start : end + 1])
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    d = _dim("unflatten", dim, x.ndim)
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1 :])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1: all of them, or only ``dim`` (an int or a tuple of ints);
    a named dimension whose size is not 1 is kept, as in torch."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if x.ndim == 0:
        for d in dims:
            _dim("squeeze", d, 0)
        return alias(x)
    drop = {_dim("squeeze", d, x.ndim) for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result)."""
    d = _dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


class Permute(Function):
    """y = x with its axes reordered by ``dims``;  dx = dy permuted by the inverse order"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, dy):
        inverse = tuple(int(i) for i in np.argsort(self.dims))
        return permute(dy, *inverse)


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: output dim i is input dim ``dims[i]`` (negative dims count from
    the end)."""
    given = _shape_arg(dims)
    if len(given) != x.ndim:
        raise ValueError(
            f"permute: got {len(given)} dims {given} for a tensor of shape {tuple(x.shape)} "
            f"with {x.ndim} dimensions"
        )
    dims = tuple(_dim("permute", d, x.ndim) for d in given) if x.ndim else ()
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(
            f"permute: dims {given} are not a permutation of the {x.ndim} dimensions of a "
            f"tensor of shape {tuple(x.shape)} (a dimension is repeated)"
        )
    if dims == tuple(range(x.ndim)):
        return alias(x)
    return Permute.apply(x, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    d0 = _dim("transpose", dim0, x.ndim)
    d1 = _dim("transpose", dim1, x.ndim)
    if d0 == d1:
        return alias(x)
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))  # a valid permutation by construction


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {tuple(x.shape)}")
    return permute(x, *reversed(range(x.ndim)))


swapaxes = swapdims = transpose  # torch's aliases (NumPy's name)


def _dims_arg(op: str, dims, ndim: int) -> tuple:
    """An int or a sequence of ints (possibly negative) as a tuple of normalized dims."""
    given = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    return tuple(_dim(op, d, ndim) for d in given)


def movedim(x: Tensor, source, destination) -> Tensor:
    """Move the dims ``source`` to the positions ``destination`` (ints or sequences of ints);
    the other dims keep their order in the places left. A permute: dx = dy permuted back.

    >>> import tinygrad_edu as tg
    >>> movedim(tg.zeros(2, 3, 4), 0, -1).shape
    (3, 4, 2)
    """
    src = _dims_arg("movedim", source, x.ndim)
    dst = _dims_arg("movedim", destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source} and destination {destination} must name the same "
            "number of dims"
        )
    for name, dims, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise ValueError(f"movedim: repeated dim in `{name}` ({given})")
    if x.ndim == 0:
        return Reshape.apply(x, shape=())  # a new tensor (a view of x), as torch's
    order = [None] * x.ndim  # order[i]: the input dim that lands at output position i
    for s, d in zip(src, dst, strict=True):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(x, *order)


moveaxis = movedim


# ----------------------------------------------------------------------------------------------
# Indexing
# ----------------------------------------------------------------------------------------------


def _normalize_index(index):
    """Turn Tensors and lists inside an index into arrays NumPy/CuPy understand."""
    if isinstance(index, tuple):
        return tuple(_normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):  # [] selects nothing (NumPy would make it a float array)
        return np.asarray(index) if index else np.zeros(0, dtype=np.int64)
    return index


def _is_basic(index) -> bool:
    """Basic indexing (ints, slices, None, Ellipsis) never selects an element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (numbers.Integral, slice)) or i is None or i is Ellipsis for i in items
    )


def _to_module(index, xp):
    """Move array parts of an index onto the array module of the data (CPU -> GPU)."""
    if isinstance(index, tuple):
        return tuple(_to_module(i, xp) for i in index)
    if hasattr(index, "dtype") and hasattr(index, "shape") and xp is not np:
        return xp.asarray(index)
    return index


class GetItem(Function):
    """y = x[index];  dx = zeros like x with dy scattered back to x[index] (added up where an
    integer array selects the same element twice)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, index):
        self.index = index
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {tuple(x.shape)})") from None

    def backward(self, dy):
        (x,) = self.inputs
        return index_put_zeros(dy, self.index, x.shape)

    def add_grad_into(self, grad, dy):
        """grad[index] += dy: the backward added straight into x's gradient, with no zero array
        of x's shape (the graph walk's fast path when it records no graph)."""
        _scatter_add(grad, self.index, dy)


def _scatter_add(out, index, values) -> None:
    """out[index] += values, where an integer array index may name an element twice."""
    if _is_basic(index):
        out[index] += values
    elif get_array_module(out) is np:
        np.add.at(out, index, values)
    else:
        import cupyx

        cupyx.scatter_add(out, index, values)


class IndexPutZeros(Function):
    """y = zeros(shape) with y[index] += g;  dg = dy[index]  (the adjoint of getitem)"""

    def forward(self, g, index, shape):
        self.index = index
        xp = get_array_module(g)
        out = xp.zeros(shape, dtype=g.dtype)
        _scatter_add(out, index, g)
        return out

    def backward(self, dy):
        return getitem(dy, self.index)


def index_put_zeros(g: Tensor, index, shape) -> Tensor:
    return IndexPutZeros.apply(g, index=index, shape=tuple(shape))


class IndexPut(Function):
    """y = x with y[index] = v (v broadcast to the indexed part);
    dx = dy with dy[index] = 0,  dv = sum_to(dy[index], v.shape)

    What ``x[index] = v`` records inside the graph (``Tensor.__setitem__``): the update runs
    out of place here and the tensor's own memory takes the result. An integer array that
    names an element twice writes one of the values, as in torch."""

    reads_inputs = False  # its backward needs only the index and the shapes

    def forward(self, x, v, index):
        self.index = index
        out = x.copy()
        try:
            out[index] = v
        except ValueError:
            target = x[index].shape
            raise RuntimeError(
                f"setitem: a value of shape {tuple(v.shape)} can't be broadcast to the shape "
                f"{tuple(target)} of the indexed part of the tensor (shape {tuple(x.shape)})"
            ) from None
        return out

    def backward(self, dy):
        x, v = self.inputs
        dx = dv = None
        if self.needs_input_grad[0]:
            zero = Tensor._wrap(get_array_module(dy.data).zeros((), dtype=dy.dtype))
            dx = IndexPut.apply(dy, zero, index=self.index)
        if self.needs_input_grad[1]:
            dv = sum_to(GetItem.apply(dy, index=self.index), v.shape)
        return dx, dv


def index_put(x: Tensor, index, value: Tensor) -> Tensor:
    """A copy of ``x`` with ``value`` written at ``x[index]``, differentiable in both (the
    out-of-place form of ``x[index] = value``; ``value`` has x's dtype)."""
    xp = get_array_module(x.data)
    index = _masks_to_positions(_to_module(_normalize_index(index), xp), x.shape, xp)
    return IndexPut.apply(x, value, index=index)


def _is_mask(item) -> bool:
    return getattr(item, "dtype", None) == np.bool_ and item.ndim > 0


def _masks_to_positions(index, shape: tuple, xp):
    """Replace each k-d boolean mask by its k arrays of positions (``mask.nonzero()``), which
    selects the same elements (NumPy's own definition) and lets the backward scatter-add.
    A mask must match the shape of the dims it covers."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_mask(i) for i in items):
        return index
    consumed = [i.ndim if _is_mask(i) else 0 if i is None or i is Ellipsis else 1 for i in items]
    out = []
    d = 0  # the dim of x the next index item applies to
    for item, n in zip(items, consumed, strict=True):
        if item is Ellipsis:
            d += len(shape) - sum(consumed)
        if _is_mask(item):
            covered = tuple(shape[d : d + n])
            if tuple(item.shape) != covered:
                raise IndexError(
                    f"getitem: the shape of the mask {tuple(item.shape)} does not match the "
                    f"shape {covered} of the dims it indexes (starting at dim {d}) of the "
                    f"tensor of shape {tuple(shape)}"
                )
            out.extend(xp.nonzero(item))
        else:
            out.append(item)
        d += n
    return tuple(out)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy/torch semantics: ints, slices (with steps), None, Ellipsis,
    integer arrays (repeats allowed: their gradients add up) and boolean masks."""
    xp = get_array_module(x.data)
    index = _masks_to_positions(_to_module(_normalize_index(index), xp), x.shape, xp)
    return GetItem.apply(x, index=index)


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The entries ``index`` (a 1-d integer tensor; repeats allowed) along ``dim``."""
    d = _dim("index_select", dim, x.ndim)
    idx = get_array_module(x.data).asarray(_normalize_index(index))
    if idx.ndim > 1:
        raise IndexError(
            f"index_select: index is supposed to be a vector, got shape {tuple(idx.shape)}"
        )
    if idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be an integer tensor, got dtype {idx.dtype}")
    idx = idx.reshape(-1)
    if x.ndim == 0:  # torch: a 0-d x is 1-d of size 1 here, and the result 0-d again
        if idx.size != 1:
            raise IndexError(f"index_select: index to a 0-d tensor can have only 1 value, got "
                             f"{idx.size}")
        _check_index_range("index_select", idx, 1, 0)
        return reshape(getitem(reshape(x, 1), idx), ())
    _check_index_range("index_select", idx, x.shape[d], d)
    return getitem(x, (slice(None),) * d + (idx,))


def gather(x: Tensor, dim: int, index) -> Tensor:
    """torch.gather: out[i][j] = x[index[i][j]][j] for dim 0 (and so on); out has index's
    shape. torch's rules (see ``_scatter_positions``): index has x's number of dims, is no
    larger than x outside ``dim`` and its values are in [0, x.shape[dim]) (no negatives).
    dx = dy scatter-added back to the positions read (repeats add up)."""
    idx = get_array_module(x.data).asarray(_normalize_index(index))
    out_shape = tuple(idx.shape)
    x, idx, _ = _as_vectors(x, idx, None)
    positions = _scatter_positions("gather", x, dim, idx, None)
    return reshape(getitem(x, positions), out_shape)


def _check_index_range(op: str, idx, size: int, d: int) -> None:
    """Refuse indices outside [0, size) along dim ``d`` (torch takes no negative ones here)."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {d} with size {size}")


def _as_vectors(x: Tensor, idx, src):
    """torch's gather and scatter ops treat a 0-d tensor as a 1-d one of size 1, so 0-d and 1-d
    inputs, indices and sources mix: when none of them has more than 1 dim, the 0-d ones become
    shape (1,). ``idx`` is an array; ``src`` a Tensor, a number or None (left as it is)."""
    src_ndim = src.ndim if isinstance(src, Tensor) else 0
    if max(x.ndim, idx.ndim, src_ndim) > 1:
        return x, idx, src
    if x.ndim == 0:
        x = reshape(x, 1)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if isinstance(src, Tensor) and src.ndim == 0:
        src = reshape(src, 1)
    return x, idx, src


def _scatter_positions(op: str, x: Tensor, dim: int, index, src_shape) -> tuple:
    """The positions of ``x`` that scatter/scatter_add write (and gather reads): x[pos] gets
    src[i][j]... with pos = (i, index[i][j], ...) for dim 0 (and so on), as one advanced index
    of index's shape. Checks torch's rules: index is an integer tensor with x's number of dims,
    no larger than ``src`` anywhere and no larger than x outside ``dim``, its values in
    [0, x.shape[dim]). A 0-d x arrives here as shape (1,) (``_as_vectors``)."""
    d = _dim(op, dim, x.ndim)
    xp = get_array_module(x.data)
    idx = xp.asarray(_normalize_index(index))
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(
            f"{op}: index has {idx.ndim} dimensions but input has {x.ndim} "
            f"(input {tuple(x.shape)}, index {tuple(idx.shape)})"
        )
    if src_shape is not None and len(src_shape) != idx.ndim:
        raise ValueError(
            f"{op}: src has {len(src_shape)} dimensions but index has {idx.ndim} "
            f"(src {tuple(src_shape)}, index {tuple(idx.shape)})"
        )
    for k, n in enumerate(idx.shape):
        too_big_for_x = k != d and n > x.shape[k]
        if too_big_for_x or (src_shape is not None and n > src_shape[k]):
            src_part = "" if src_shape is None else f" and no larger than src {tuple(src_shape)}"
            raise ValueError(
                f"{op}: expected index {tuple(idx.shape)} to be no larger than input "
                f"{tuple(x.shape)} apart from dimension {d}{src_part}"
            )
    _check_index_range(op, idx, x.shape[d], d)
    # one broadcastable arange per dimension (np.indices(sparse=True), which CuPy lacks), with
    # the index itself along ``dim``
    grids = list(xp.ix_(*[xp.arange(n) for n in idx.shape]))
    grids[d] = idx
    return tuple(grids)


def _scatter_source(op: str, x: Tensor, src, index_shape) -> Tensor:
    """``src`` cut to index's shape (the part torch reads), or a number as a constant tensor;
    a tensor src must have x's dtype, as in torch."""
    xp = get_array_module(x.data)
    if not isinstance(src, Tensor):
        if not isinstance(src, numbers.Number):
            raise TypeError(f"{op}: src must be a Tensor or a number, got {type(src).__name__}")
        return Tensor._wrap(xp.full(index_shape, src, dtype=x.dtype), False)
    if src.dtype != x.dtype:
        raise TypeError(
            f"{op}: expected self.dtype to be equal to src.dtype, got {x.dtype} and {src.dtype}"
        )
    if tuple(src.shape) != tuple(index_shape):
        src = getitem(src, tuple(slice(0, n) for n in index_shape))
    return src


class Scatter(Function):
    """y = x with y[pos] = src (``pos`` from ``_scatter_positions``);
    dx = dy with the written positions zeroed,  dsrc = dy[pos] (dy gathered at index).

    That is torch's rule; where index repeats a position, only one src entry lands there, yet
    each gets dy of that position (the forward picks one, so the true gradient is undefined)."""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, src, positions):
        self.positions = positions
        y = x.copy()
        y[positions] = src
        return y

    def backward(self, dy):
        xp = get_array_module(dy.data)
        written = xp.zeros(dy.shape, dtype=bool)
        written[self.positions] = True
        zero = Tensor._wrap(xp.zeros((), dtype=dy.dtype))
        from .elementwise import where

        dx = where(written, zero, dy) if self.needs_input_grad[0] else None
        dsrc = getitem(dy, self.positions) if self.needs_input_grad[1] else None
        return dx, dsrc


def scatter(x: Tensor, dim: int, index, src, *, reduce: str | None = None) -> Tensor:
    """torch.scatter (out of place): y = x, then y[index[i][j]][j] = src[i][j] for dim 0 (and so
    on); ``src`` a tensor (only its first index.shape entries are read) or a number.

    dx = dy with the written positions zeroed;  dsrc = gather(dy, dim, index)

    ``reduce="add"`` adds src in (y[...] += src[i][j]) and ``reduce="multiply"`` multiplies it
    in, repeated positions all taking part: scatter_reduce's "sum" and "prod" with
    include_self=True, gradients included (torch computes these forwards but has no derivative
    for them: "derivative for aten::scatter is not implemented").

    >>> import tinygrad_edu as tg
    >>> scatter(tg.zeros(2, 3), 0, tg.tensor([[1, 0, 1]]), tg.ones(1, 3)).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    >>> scatter(tg.ones(3), 0, tg.tensor([0, 0, 2]), 3.0, reduce="multiply").tolist()
    [9.0, 1.0, 3.0]
    """
    if reduce is not None and reduce not in ("add", "multiply"):
        raise ValueError(f"scatter: reduce argument must be either add or multiply, got {reduce!r}")
    shape = x.shape
    idx = get_array_module(x.data).asarray(_normalize_index(index))
    x, idx, src = _as_vectors(x, idx, src)
    src_shape = tuple(src.shape) if isinstance(src, Tensor) else None
    positions = _scatter_positions("scatter", x, dim, idx, src_shape)
    src = _scatter_source("scatter", x, src, idx.shape)
    if reduce is not None:
        y = ScatterReduce.apply(x, src, positions=positions,
                                reduce="sum" if reduce == "add" else "prod", include_self=True)
    else:
        y = Scatter.apply(x, src, positions=positions)
    return reshape(y, shape)  # back to 0-d where x was


def scatter_add(x: Tensor, dim: int, index, src) -> Tensor:
    """torch.scatter_add (out of place): y = x, then y[index[i][j]][j] += src[i][j] for dim 0
    (and so on; repeated positions add up). A composite of the scatter-add adjoint of getitem:

    y = x + index_put_zeros(src, pos);  dx = dy,  dsrc = dy[pos] = gather(dy, dim, index)

    >>> import tinygrad_edu as tg
    >>> scatter_add(tg.zeros(3), 0, tg.tensor([0, 2, 0]), tg.ones(3)).tolist()
    [2.0, 0.0, 1.0]
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
    shape = x.shape
    idx = get_array_module(x.data).asarray(_normalize_index(index))
    x, idx, src = _as_vectors(x, idx, src)
    positions = _scatter_positions("scatter_add", x, dim, idx, tuple(src.shape))
    src = _scatter_source("scatter_add", x, src, idx.shape)
    return reshape(x + index_put_zeros(src, positions, x.shape), shape)


def index_add(x: Tensor, dim: int, index, source: Tensor, alpha=1) -> Tensor:
    """torch.index_add (out of place): y = x, then y[..., index[i], ...] += alpha *
    source[..., i, ...] along ``dim`` (repeated indices add up).

    dx = dy;  dsource = alpha * index_select(dy, dim, index)

    >>> import tinygrad_edu as tg
    >>> index_add(tg.zeros(3, 1), 0, tg.tensor([2, 2]), tg.ones(2, 1)).tolist()
    [[0.0], [0.0], [2.0]]
    """
    d = _dim("index_add", dim, x.ndim)
    xp = get_array_module(x.data)
    idx = xp.asarray(_normalize_index(index))
    if idx.ndim > 1:
        raise IndexError(f"index_add: index is supposed to be a vector, got shape {idx.shape}")
    if idx.dtype.kind not in "iu":
        raise IndexError(f"index_add: index must be an integer tensor, got dtype {idx.dtype}")
    if source.dtype != x.dtype:
        raise TypeError(
            f"index_add: expected self and source to have the same dtype, got {x.dtype} and "
            f"{source.dtype}"
        )
    idx = idx.reshape(-1)
    x_shape, s_shape = tuple(x.shape), tuple(source.shape)
    if x.ndim == 0:
        ok = source.ndim <= 1 and source.data.size == idx.size == 1
    else:
        ok = (source.ndim == x.ndim and s_shape[d] == idx.size
              and s_shape[:d] + s_shape[d + 1:] == x_shape[:d] + x_shape[d + 1:])
    if not ok:
        raise ValueError(
            f"index_add: source {s_shape} must match input {x_shape} except along dim {d}, "
            f"where its size must be the number of indices ({idx.size})"
        )
    _check_index_range("index_add", idx, x_shape[d] if x.ndim else 1, d)
    if alpha != 1:
        source = source * alpha
    if x.ndim == 0:
        return x + reshape(source, ())
    return x + index_put_zeros(source, (slice(None),) * d + (idx,), x.shape)


# ----------------------------------------------------------------------------------------------
# scatter_reduce: sum, prod, mean, amax, amin of the src entries that land on each position
# ----------------------------------------------------------------------------------------------

_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_UFUNC_AT = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
_CUPY_MAX_MIN_DTYPES = tuple(map(np.dtype, ("int32", "uint32", "uint64", "float32", "float64")))
_CUPY_ATOMIC_DTYPES = {  # what cupyx.scatter_add / scatter_max / scatter_min accept
    "sum": _CUPY_MAX_MIN_DTYPES + (np.dtype("float16"),),
    "amax": _CUPY_MAX_MIN_DTYPES,
    "amin": _CUPY_MAX_MIN_DTYPES,
}


def _reduce_at(out, positions, values, reduce: str) -> None:
    """out[positions] (op)= values for op in sum | prod | amax | amin, where every value takes
    part even when positions repeat (NumPy's ``ufunc.at``). On CuPy: ``cupyx.scatter_add``,
    ``scatter_max`` and ``scatter_min`` for the dtypes its atomics take; CuPy has no
    multiplying scatter and no int64 atomics, so "prod" and the other dtypes (int64, ...) go
    through the host (one copy of ``out`` each way)."""
    xp = get_array_module(out)
    if xp is not np:
        import cupyx

        scatter = {"sum": cupyx.scatter_add, "amax": cupyx.scatter_max,
                   "amin": cupyx.scatter_min}.get(reduce)
        if scatter is not None and out.dtype in _CUPY_ATOMIC_DTYPES[reduce]:
            scatter(out, positions, values)
            return
        host = xp.asnumpy(out)
        host_positions = tuple(xp.asnumpy(p) for p in positions)
        _UFUNC_AT[reduce].at(host, host_positions, xp.asnumpy(values))
        out[...] = xp.asarray(host)
        return
    _UFUNC_AT[reduce].at(out, positions, values)


def _reduce_identity(reduce: str, dtype):
    """The value that changes nothing under ``reduce``: what a position starts from when
    include_self=False leaves x's own value out."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    largest = reduce == "amin"
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    if dtype.kind == "b":
        return largest
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def _scatter_counts(xp, shape, positions, include_self: bool, dtype):
    """N: how many values each position of x reduces (x's own one counted when include_self),
    set to 1 where that is 0 so that it divides safely (torch's rule for "mean")."""
    counts = xp.full(shape, 1 if include_self else 0, dtype=dtype)
    ones = xp.ones(np.broadcast_shapes(*[p.shape for p in positions]), dtype=dtype)  # index's
    _reduce_at(counts, positions, ones, "sum")
    counts[counts == 0] = 1
    return counts


class ScatterReduce(Function):
    """y = x with the src entries reduced into it at ``pos`` (from ``_scatter_positions``).

    For one position p of x, S(p) are the src entries scattered to p; x[p] takes part only when
    include_self is True (or when nothing lands on p, where y[p] = x[p]):

        sum   y = x + ΣS          dx = dy              dsrc = dy[pos]
        prod  y = x · ΠS          dx = dy · y / x      dsrc = dy[pos] · y[pos] / src
        mean  y = (x + ΣS) / N    dx = dy / N          dsrc = (dy / N)[pos]
        amax  y = max(x, max S)   dx = dy · [x == y] / T,  dsrc = (dy / T)[pos] · [src == y[pos]]
        amin  as amax with min

    N counts the values reduced at p (1 where nothing lands and include_self=False); T counts
    the values equal to the result at p: tied maxima share the gradient evenly (torch's rule).
    "prod" divides nothing by zero: "y / x" is the product of the other factors, computed with
    x's zeros set to 1 (and, for a src entry that is the only zero at its position, with that
    entry set to 1), as torch does. With include_self=False, dx is 0 where src lands.

    Like torch, T is counted from x == y even where include_self=False leaves x out, so a src
    maximum that happens to equal x's discarded value gets only half of dy (torch 2.13 does so).
    """

    reads_output = True  # "prod", "amax" and "amin" read y

    def forward(self, x, src, positions, reduce, include_self):
        self.positions = positions
        self.reduce = reduce
        self.include_self = include_self
        y = x.copy()
        if not include_self:
            y[positions] = _reduce_identity(reduce, y.dtype)
        _reduce_at(y, positions, src, "sum" if reduce == "mean" else reduce)
        if reduce == "mean":
            xp = get_array_module(y)
            counts = _scatter_counts(xp, y.shape, positions, include_self, y.dtype)
            if y.dtype.kind in "fc":
                y /= counts
            else:
                y = xp.floor_divide(y, counts)  # integers round down, as in torch
        return y

    def backward(self, dy):
        from .elementwise import masked_fill, where

        x, src = self.inputs
        pos = self.positions
        xp = get_array_module(dy.data)
        want_x, want_src = self.needs_input_grad[0], self.needs_input_grad[1]
        dx = dsrc = None
        if self.reduce == "sum":
            dx = dy
            dsrc = getitem(dy, pos) if want_src else None
        elif self.reduce == "mean":
            counts = _scatter_counts(xp, dy.shape, pos, self.include_self, dy.dtype)
            g = dy / Tensor._wrap(counts)  # (dy / N)
            dx = g
            dsrc = getitem(g, pos) if want_src else None
        elif self.reduce in ("amax", "amin"):
            y = self.output.data
            x_is_y = x.data == y
            src_is_y = src.data == y[pos]
            ties = x_is_y.astype(dy.dtype)  # T = [x == y] + Σ[src == y]
            _reduce_at(ties, pos, src_is_y.astype(dy.dtype), "sum")
            g = dy / Tensor._wrap(ties)
            dx = g * Tensor._wrap(x_is_y.astype(dy.dtype)) if want_x else None
            if want_src:
                dsrc = getitem(g, pos) * Tensor._wrap(src_is_y.astype(dy.dtype))
        else:  # prod: the product of the other factors, without dividing by a zero
            y = self.output
            if want_x:
                x_safe = masked_fill(x, x.data == 0, 1)
                others = ScatterReduce.apply(x_safe, src, positions=pos, reduce="prod",
                                             include_self=self.include_self)
                dx = dy * others / x_safe
            if want_src:
                src_zero = src.data == 0
                zeros_at = xp.zeros(dy.shape, dtype=dy.dtype)  # how many src zeros land at p
                _reduce_at(zeros_at, pos, src_zero.astype(dy.dtype), "sum")
                if is_grad_enabled() and bool((zeros_at > 1).any()):
                    # y / src of the other entries hides the second derivative between two
                    # zeros at one position (it is the product of the rest, not 0): torch
                    # refuses it too, rather than give a wrong number
                    raise RuntimeError(
                        "scatter_reduce: double backward of reduce='prod' is not supported for "
                        "src when more than one zero in src is scattered to the same position "
                        f"(src: {tuple(src.shape)}, output: {tuple(dy.shape)})")
                lone_zero = src_zero & (zeros_at[pos] == 1)
                others = ScatterReduce.apply(x, masked_fill(src, lone_zero, 1), positions=pos,
                                             reduce="prod", include_self=self.include_self)
                dsrc = where(lone_zero, getitem(dy * others, pos),
                             getitem(dy * y, pos) / masked_fill(src, src_zero, 1))
        if dx is not None and want_x and not self.include_self:
            written = xp.zeros(dy.shape, dtype=bool)
            written[pos] = True
            dx = where(written, Tensor._wrap(xp.zeros((), dtype=dy.dtype)), dx)
        return (dx if want_x else None), dsrc


def scatter_reduce(x: Tensor, dim: int, index, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """torch.scatter_reduce (out of place): y = x, then every src[i][j] is reduced into
    y[index[i][j]][j] for dim 0 (and so on) with ``reduce`` one of "sum", "prod", "mean",
    "amax", "amin"; repeated positions all take part. With ``include_self=False`` the
    positions that receive src forget x's value first (untouched positions keep it).

    dsrc = gather(dy, dim, index) times the local derivative: 1 (sum), the product of the
    other factors (prod), 1/N (mean: N values reduced), [src == y] / T (amax/amin: T tied
    maxima share dy evenly); dx likewise for x's own value (0 where include_self=False and
    src lands). See ``ScatterReduce`` for the table. CuPy: "prod" copies through the host.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0])
    >>> scatter_reduce(x, 0, tg.tensor([0, 0, 2]), tg.tensor([4.0, 6.0, 1.0]), "amax").tolist()
    [6.0, 2.0, 3.0]
    >>> scatter_reduce(x, 0, tg.tensor([0, 0, 2]), tg.tensor([4.0, 6.0, 1.0]), "mean",
    ...                include_self=False).tolist()
    [5.0, 2.0, 1.0]
    """
    if not isinstance(reduce, str) or reduce not in _SCATTER_REDUCTIONS:
        hint = f" (use {'a' + reduce!r})" if reduce in ("max", "min") else ""
        raise ValueError(
            f"scatter_reduce: reduce argument must be either sum, prod, mean, amax or amin, "
            f"got {reduce!r}{hint}"
        )
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce: src must be a Tensor, got {type(src).__name__}")
    if reduce == "mean" and x.dtype == np.bool_:
        raise TypeError("scatter_reduce: reduce='mean' is not supported for bool tensors (as in "
                        f"torch); got input {tuple(x.shape)} of dtype bool")
    shape = x.shape
    idx = get_array_module(x.data).asarray(_normalize_index(index))
    x, idx, src = _as_vectors(x, idx, src)
    positions = _scatter_positions("scatter_reduce", x, dim, idx, tuple(src.shape))
    src = _scatter_source("scatter_reduce", x, src, idx.shape)
    y = ScatterReduce.apply(x, src, positions=positions, reduce=reduce,
                            include_self=bool(include_self))
    return reshape(y, shape)


def nonzero(x: Tensor, as_tuple: bool = False):
    """The positions of the nonzero entries, in row-major order: an int64 tensor of shape
    (number of nonzeros, ndim), or with ``as_tuple`` one 1-d tensor per dim (NumPy's nonzero).
    Not differentiable (the result is integer positions).

    >>> import tinygrad_edu as tg
    >>> nonzero(tg.tensor([[0, 1], [2, 0]])).tolist()
    [[0, 1], [1, 0]]
    """
    xp = get_array_module(x.data)
    data = x.data.reshape(1) if x.ndim == 0 else x.data
    positions = [p.astype(np.int64) for p in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor._wrap(p, False) for p in positions)
    if x.ndim == 0:
        return Tensor._wrap(xp.zeros((positions[0].size, 0), dtype=np.int64), False)
    return Tensor._wrap(xp.stack(positions, axis=1), False)  # (nnz, ndim)


def repeat_interleave(x: Tensor, repeats=None, dim=None) -> Tensor:
    """Repeat each entry along ``dim`` (of the flattened tensor without dim) ``repeats`` times:
    an int, or a 1-d integer tensor with one count per entry (or a single count).
    A gather with index = arange(n) repeated, so dx sums the gradients of the copies.
    ``repeat_interleave(counts)`` alone (torch's one-argument form) repeats 0, 1, 2, ... by
    the integer tensor ``counts``: repeat_interleave(arange(len(counts)), counts).

    >>> import tinygrad_edu as tg
    >>> repeat_interleave(tg.tensor([1, 2]), tg.tensor([1, 3])).tolist()
    [1, 2, 2, 2]
    >>> repeat_interleave(tg.tensor([2, 0, 1])).tolist()
    [0, 0, 2]
    """
    if repeats is None:
        if dim is not None:
            raise TypeError("repeat_interleave: dim needs repeats (the one-argument form "
                            "repeat_interleave(counts) takes no dim)")
        if x.ndim != 1:
            raise ValueError(f"repeat_interleave: the counts of repeat_interleave(counts) must "
                             f"be a 1-d tensor, got shape {tuple(x.shape)}")
        xp = get_array_module(x.data)
        indices = Tensor._wrap(xp.arange(x.shape[0], dtype=np.int64), False)
        return repeat_interleave(indices, x, 0)
    if dim is None:
        x = reshape(x, -1)
        dim = 0
    d = _dim("repeat_interleave", dim, x.ndim)
    if x.ndim == 0:
        x = reshape(x, 1)
    xp = get_array_module(x.data)
    n = x.shape[d]
    if isinstance(repeats, numbers.Integral):
        counts = xp.full(n, int(repeats), dtype=np.int64)
    else:
        counts = xp.asarray(_normalize_index(repeats))
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise ValueError(
                f"repeat_interleave: repeats must be an int or a 1-d integer tensor, got "
                f"dtype {counts.dtype} and shape {tuple(counts.shape)}"
            )
        counts = counts.reshape(-1)
        if counts.size == 1:
            counts = xp.full(n, int(counts[0]), dtype=np.int64)
        if counts.size != n:
            raise ValueError(
                f"repeat_interleave: repeats must have the same size as input along dim {d}, "
                f"got {counts.size} repeats for size {n}"
            )
    if counts.size and int(counts.min()) < 0:
        raise ValueError("repeat_interleave: repeats can not be negative")
    idx = xp.repeat(xp.arange(n), counts)
    return getitem(x, (slice(None),) * d + (idx,))


def tile(x: Tensor, *dims) -> Tensor:
    """torch.tile: ``repeat`` with ones put in front of ``dims`` when it has fewer entries than
    x has dims."""
    dims = _shape_arg(dims)
    dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, *dims)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-d tensors (torch.meshgrid): output k is tensors[k] broadcast
    along its own dim of the grid (n0, n1, ...); ``indexing="xy"`` swaps the first two dims of
    the grid (n1, n0, ...). Each output is a broadcast, so its gradient is summed back.

    >>> import tinygrad_edu as tg
    >>> [g.tolist() for g in meshgrid(tg.tensor([1, 2]), tg.tensor([3, 4, 5]))][0]
    [[1, 1, 1], [2, 2, 2]]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("meshgrid: expects a non-empty list of tensors")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for k, t_ in enumerate(tensors):
        if t_.ndim > 1:
            raise ValueError(
                f"meshgrid: expects 0-d or 1-d tensors, got tensor {k} of shape {tuple(t_.shape)}"
            )
    sizes = [t_.data.size for t_ in tensors]
    axis = list(range(len(tensors)))  # axis[k]: the grid dim tensors[k] varies along
    if indexing == "xy" and len(tensors) >= 2:
        axis[0], axis[1] = 1, 0
    grid = [0] * len(tensors)
    for k, a in enumerate(axis):
        grid[a] = sizes[k]
    out = []
    for k, t_ in enumerate(tensors):
        shape = [1] * len(tensors)
        shape[axis[k]] = sizes[k]
        out.append(broadcast_to(reshape(t_, shape), grid))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Joining and splitting
# ----------------------------------------------------------------------------------------------


class Cat(Function):
    """y = concatenation of the inputs along ``dim``;  each dx_i = the slice of dy it filled"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return get_array_module(xs[0]).concatenate(xs, axis=dim)

    def backward(self, dy):
        grads = []
        start = 0
        for size in self.sizes:
            index = (slice(None),) * self.dim + (slice(start, start + size),)
            grads.append(getitem(dy, index))
            start += size
        return tuple(grads)


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dimension (shapes must match elsewhere)."""
    from .elementwise import _promoted_dtype, cast

    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ndim = tensors[0].ndim
    if any(t_.ndim == 0 for t_ in tensors):
        raise ValueError(
            "cat: zero-dimensional tensors cannot be concatenated; use stack, or reshape them "
            "to shape (1,) first"
        )
    d = _dim("cat", dim, ndim)
    shapes = [tuple(t.shape) for t in tensors]
    for s in shapes:
        if len(s) != ndim or s[:d] + s[d + 1 :] != shapes[0][:d] + shapes[0][d + 1 :]:
            raise ValueError(
                f"cat: tensors must have the same shape except in dimension {d}; "
                f"got shapes {', '.join(map(str, shapes))}"
            )
    dtype = tensors[0].dtype
    for t_ in tensors[1:]:
        dtype = _promoted_dtype(dtype, t_.dtype)
    tensors = [cast(t_, dtype) for t_ in tensors]
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join along a new dimension (all shapes must be equal)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = [tuple(t_.shape) for t_ in tensors]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: expects each tensor to be equal size, got {shapes}")
    d = _dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t_, d) for t_ in tensors], dim=d)


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes."""
    d = _dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: sections {sizes} sum to {sum(sizes)} but dimension {d} has size {n}"
            )
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(getitem(x, (slice(None),) * d + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small), like torch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_dim("chunk", dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple:
    d = _dim("unbind", dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


# ----------------------------------------------------------------------------------------------
# Padding, repeating, triangles
# ----------------------------------------------------------------------------------------------


class Pad(Function):
    """y = x surrounded by ``value``;  dx = the middle of dy (the part x filled)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, widths, value):
        self.widths = widths
        return get_array_module(x).pad(x, widths, mode="constant", constant_values=value)

    def backward(self, dy):
        index = tuple(slice(lo, dy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return getitem(dy, index)


_NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _border_sources(mode: str, n: int, lo: int, hi: int) -> tuple:
    """The positions of x that the ``lo`` padded entries before and the ``hi`` after a dim of
    size ``n`` copy. With n = 4 and lo = hi = 2 (x itself is 0 1 2 3):

        reflect    2 1 | 0 1 2 3 | 2 1    mirror about the edge entry (needs lo, hi < n)
        replicate  0 0 | 0 1 2 3 | 3 3    repeat the edge entry
        circular   2 3 | 0 1 2 3 | 0 1    wrap around (needs lo, hi <= n)
    """
    before = np.arange(-lo, 0)  # the coordinates of the padded entries, counted from x[0]
    after = np.arange(n, n + hi)
    if mode == "reflect":
        return -before, 2 * (n - 1) - after
    if mode == "replicate":
        return np.zeros(lo, dtype=np.int64), np.full(hi, n - 1, dtype=np.int64)
    return before + n, after - n  # circular


class PadCopy(Function):
    """y = x padded with copies of its own entries (``mode`` reflect, replicate or circular,
    see ``_border_sources``): along each padded dim, y[j] = x[src[j]] with src = (sources
    before) + (0, 1, ..., n - 1) + (sources after).

    dx = the adjoint, a scatter-add of dy back to where each entry was copied from, dim by dim:
    dx[i] = sum of dy[j] over the j with src[j] = i. The middle of dy (x itself) lands on dx
    one to one; only the two thin borders need the scatter-add (replicate adds lo entries of dy
    onto x[0]). First order, the sums run in place on the arrays; under ``create_graph`` they
    are Tensor ops (getitem, index_put_zeros, add), differentiable again.
    """

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, widths, mode):
        self.widths, self.mode = widths, mode
        return get_array_module(x).pad(x, widths, mode=_NUMPY_PAD_MODE[mode])

    def backward(self, dy):
        (x,) = self.inputs
        xp = get_array_module(dy.data)
        for d, (lo, hi) in enumerate(self.widths):
            if lo == 0 and hi == 0:
                continue
            n = x.shape[d]
            lead = (slice(None),) * d  # every entry of the dims before d
            middle = lead + (slice(lo, lo + n),)  # the copy of x itself
            borders = (lead + (slice(0, lo),), lead + (slice(lo + n, lo + n + hi),))
            sources = [lead + (xp.asarray(src),) for src in _border_sources(self.mode, n, lo, hi)]
            if is_grad_enabled():  # create_graph
                shape = dy.shape[:d] + (n,) + dy.shape[d + 1:]  # dy with dim d back at size n
                dx = getitem(dy, middle)
                for border, src in zip(borders, sources, strict=True):
                    dx = dx + index_put_zeros(getitem(dy, border), src, shape)
            else:  # first order: no full-size temporary per border
                dx = dy.data[middle].copy()
                for border, src in zip(borders, sources, strict=True):
                    _scatter_add(dx, src, dy.data[border])
                dx = Tensor._wrap(dx)
            dy = dx
        return dy


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch.nn.functional.pad: ``pad`` = (left, right) for the last dim, then the one before...

    mode="constant" fills with ``value`` and pads any dims of any input. The other modes copy
    entries of x (``PadCopy``; values in ``_border_sources``) and follow torch's rules: they
    pad the last 1, 2 or 3 dims of an input with one or two more dims ((C, *) or (N, C, *)),
    'reflect' needs each pad < the size of its dim, 'circular' each pad <= the size.

    >>> import tinygrad_edu as tg
    >>> pad(tg.tensor([[0.0, 1.0, 2.0, 3.0]]), (2, 2), mode="reflect").tolist()
    [[2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(
            f"pad: padding length must be even and at most 2 * ndim ({2 * x.ndim}), got {pad}"
        )
    if mode != "constant" and mode not in _NUMPY_PAD_MODE:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected "
                                  "'constant', 'reflect', 'replicate' or 'circular'")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    k = len(pad) // 2  # the number of padded dims, the last k
    widths = [(0, 0)] * x.ndim
    for i in range(k):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return Pad.apply(x, widths=tuple(widths), value=value)
    _check_copy_padding(x, pad, mode, value, widths)
    return PadCopy.apply(x, widths=tuple(widths), mode=mode)


def _check_copy_padding(x: Tensor, pad: tuple, mode: str, value, widths: list) -> None:
    """torch's rules for the modes 'reflect', 'replicate' and 'circular' (see ``pad``)."""
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take a value argument, got "
                         f"value={value}")
    k = len(pad) // 2
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of a (C, *) or (N, C, *) input; "
            f"padding {pad} ({k} dims) is not supported for a {x.ndim}-d input of shape "
            f"{tuple(x.shape)}"
        )
    if mode != "circular" and 0 in x.shape[x.ndim - k - 1:]:  # N may be 0, C and * not
        raise ValueError(
            f"pad: mode {mode!r} expects a {k + 1}-d (C, *) or {k + 2}-d (N, C, *) input with "
            f"non-zero dimensions (N may be 0), got shape {tuple(x.shape)}"
        )
    for d in range(x.ndim - k, x.ndim):
        lo, hi = widths[d]
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: reflect padding must be smaller than the size of its dim, got padding "
                f"({lo}, {hi}) for dim {d} of size {n} (input shape {tuple(x.shape)})"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(
                f"pad: circular padding must be at most the size of its dim (it wraps around "
                f"once), got padding ({lo}, {hi}) for dim {d} of size {n} (input shape "
                f"{tuple(x.shape)})"
            )


class Repeat(Function):
    """y = x tiled ``sizes`` times along each dim (torch ``repeat``);
    dx = dy summed over the copies"""

    def forward(self, x, sizes):
        self.sizes = sizes
        return get_array_module(x).tile(x, sizes)

    def backward(self, dy):
        (x,) = self.inputs
        shape = (1,) * (len(self.sizes) - x.ndim) + tuple(x.shape)
        interleaved = []
        for r, s in zip(self.sizes, shape, strict=True):
            interleaved += [r, s]
        copies = dy.reshape(interleaved).sum(dim=tuple(range(0, 2 * len(shape), 2)))
        return copies.reshape(x.shape)


def repeat(x: Tensor, *sizes) -> Tensor:
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the number "
            f"of tensor dimensions ({x.ndim})"
        )
    return Repeat.apply(x, sizes=sizes)


def _triangle(op: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{op}: input tensor must have at least 2 dimensions, got {x.ndim}")
    xp = get_array_module(x.data)
    ones = xp.ones(x.shape[-2:], dtype=bool)
    mask = xp.tril(ones, diagonal) if lower else xp.triu(ones, diagonal)
    from .elementwise import where

    zero = Tensor._wrap(xp.zeros((), dtype=x.dtype))
    return where(mask, x, zero)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the lower triangle (j <= i + diagonal), zero elsewhere."""
    return _triangle("tril", x, diagonal, lower=True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the upper triangle (j >= i + diagonal), zero elsewhere."""
    return _triangle("triu", x, diagonal, lower=False)


# ----------------------------------------------------------------------------------------------
# Flip, roll, narrow
# ----------------------------------------------------------------------------------------------


class Flip(Function):
    """y = x reversed along ``dims``;  dx = dy flipped along the same dims (a flip undoes
    itself)"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, dims):
        self.dims = dims
        # a copy, as torch's flip: NumPy's flip is a view, through which writes would reach x
        return get_array_module(x).flip(x, axis=dims).copy()

    def backward(self, dy):
        return flip(dy, self.dims)


def flip(x: Tensor, dims) -> Tensor:
    """Reverse the order of the entries along each of ``dims`` (an int or a sequence of ints).

    >>> import tinygrad_edu as tg
    >>> flip(tg.tensor([[1, 2], [3, 4]]), (0, 1)).tolist()
    [[4, 3], [2, 1]]
    """
    given = dims
    if isinstance(dims, tuple) and len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        dims = dims[0]  # x.flip((0, 1)) reaches here as ((0, 1),)
    dims = _dims_arg("flip", dims, x.ndim)
    if len(set(dims)) != len(dims):
        raise ValueError(f"flip: a dim appears more than once in dims {given}")
    if not dims or x.ndim == 0:
        return x.clone()  # nothing to reverse; a new tensor all the same, as torch's
    return Flip.apply(x, dims=dims)


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``dims``: the entry at i moves to
    (i + shift) mod n;  dx = dy rolled back by -shifts"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return get_array_module(x).roll(x, shifts, axis=dims)

    def backward(self, dy):
        return Roll.apply(dy, shifts=tuple(-s for s in self.shifts), dims=self.dims)


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """Shift the entries cyclically: by ``shifts[i]`` along ``dims[i]`` (ints or sequences of
    one length); without dims, along the flattened tensor, then back to x's shape (torch).

    >>> import tinygrad_edu as tg
    >>> roll(tg.tensor([1, 2, 3, 4]), 1).tolist()
    [4, 1, 2, 3]
    """
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    n_dims = 1 if dims is None or isinstance(dims, numbers.Integral) else len(dims)
    if not shifts or len(shifts) != n_dims:
        raise ValueError(
            f"roll: shifts and dims must have the same length, got shifts {shifts} and "
            f"dims {dims}"
        )
    shifts = tuple(int(s) for s in shifts)
    if dims is None:
        return reshape(roll(reshape(x, -1), shifts, 0), x.shape)
    if x.ndim == 0:
        raise IndexError(f"roll: dims {dims} given, but the tensor has no dimensions")
    return Roll.apply(x, shifts=shifts, dims=_dims_arg("roll", dims, x.ndim))


def narrow(x: Tensor, dim: int, start, length: int) -> Tensor:
    """The ``length`` entries from ``start`` on along ``dim``: x[..., start:start + length]
    (a view in torch, a slice here; its gradient is dy put back there, zeros elsewhere).
    ``start`` may be negative (counted from the end) or a 0-d integer tensor."""
    if x.ndim == 0:
        raise ValueError("narrow: cannot be applied to a 0-dim tensor")
    d = _dim("narrow", dim, x.ndim)
    size = x.shape[d]
    start = operator.index(start)
    if not -size <= start <= size:
        raise IndexError(
            f"narrow: start out of range (expected to be in range of [{-size}, {size}], but "
            f"got {start})"
        )
    if start < 0:
        start += size
    try:
        length = operator.index(length)
    except TypeError:
        raise TypeError(f"narrow: length must be an integer, got {type(length).__name__} "
                        f"{length!r}") from None
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    if start + length > size:
        raise ValueError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) "
            f"of dim {d} of the tensor of shape {tuple(x.shape)}"
        )
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


# ----------------------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------------------


class ToDevice(Function):
    """y = x copied to another device;  dx = dy copied back"""

    def forward(self, x, device):
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, dy):
        return to_device(dy, self.source)


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice.apply(x, device=device)


# ----------------------------------------------------------------------------------------------
# More of torch's shape and indexing ops: rot90, tensor_split, unfold, take, masked_select,
# index_copy/index_fill, select and the *_scatter ops, diff, sum_to_size, ravel
# ----------------------------------------------------------------------------------------------


def _check_tensor(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _int_index(op: str, index, xp):
    """``index`` (a Tensor, list or array) as an integer array on ``xp``."""
    idx = xp.asarray(_normalize_index(index))
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx


def rot90(x: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards
    the second: k = 1 is flip(dims[1]) then transpose(dims); k = 2 is flip(dims); k = 3 is
    flip(dims[0]) then transpose. A composite of flip and transpose, so dx = dy rotated back.

    >>> import tinygrad_edu as tg
    >>> rot90(tg.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    _check_tensor("rot90", x)
    dims = tuple(dims)
    if len(dims) != 2:
        raise ValueError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise ValueError(f"rot90: expected total dims >= 2, but got total dims = {x.ndim} "
                         f"(shape {tuple(x.shape)})")
    d0, d1 = _dim("rot90", dims[0], x.ndim), _dim("rot90", dims[1], x.ndim)
    if d0 == d1:
        raise ValueError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} "
                         f"and dim1 = {d1}")
    k = operator.index(k) % 4
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return transpose(flip(x, d0), d0, d1)
    return x.clone()


def fliplr(x: Tensor) -> Tensor:
    """Reverse the columns (dim 1): flip(x, 1); needs at least 2 dims."""
    _check_tensor("fliplr", x)
    if x.ndim < 2:
        raise ValueError(f"fliplr: input must be >= 2-d, got shape {tuple(x.shape)}")
    return flip(x, 1)


def flipud(x: Tensor) -> Tensor:
    """Reverse the rows (dim 0): flip(x, 0); needs at least 1 dim."""
    _check_tensor("flipud", x)
    if x.ndim < 1:
        raise ValueError(f"flipud: input must be >= 1-d, got shape {tuple(x.shape)}")
    return flip(x, 0)


def tensor_split(x: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """torch.tensor_split: ``sections`` (an int) pieces as equal as possible (the first
    n % sections ones one longer), or cuts before each of ``indices`` (a list or a 1-d integer
    tensor; indices past the end give empty pieces). Each piece is a slice (getitem), so its
    gradient goes back to where it lay.

    >>> import tinygrad_edu as tg
    >>> [p.tolist() for p in tensor_split(tg.arange(7), 3)]
    [[0, 1, 2], [3, 4], [5, 6]]
    """
    _check_tensor("tensor_split", x)
    if x.ndim == 0:
        raise ValueError("tensor_split: expected at least a 1-dimensional tensor")
    d = _dim("tensor_split", dim, x.ndim)
    n = x.shape[d]
    given = indices_or_sections
    if isinstance(given, Tensor):
        if given.dtype.kind not in "iu" or given.ndim > 1:
            raise ValueError(f"tensor_split: tensor_indices_or_sections must be a 0-d or 1-d "
                             f"integer tensor, got dtype {given.dtype} and shape "
                             f"{tuple(given.shape)}")
        given = int(given.item()) if given.ndim == 0 else [int(i) for i in given.data.tolist()]
    if isinstance(given, numbers.Integral):
        sections = int(given)
        if sections <= 0:
            raise ValueError(f"tensor_split: number of sections must be larger than 0, got "
                             f"{sections}")
        size, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + size + (1 if i < extra else 0))
    else:
        bounds = [0] + [int(i) for i in given] + [n]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        start = min(max(start if start >= 0 else start + n, 0), n)
        stop = min(max(stop if stop >= 0 else stop + n, 0), n)
        pieces.append(getitem(x, (slice(None),) * d + (slice(start, max(start, stop)),)))
    return tuple(pieces)


def _split_along(op: str, x: Tensor, indices_or_sections, dim: int, min_ndim: int) -> tuple:
    """hsplit / vsplit / dsplit: tensor_split along ``dim``, where an int must divide the size."""
    _check_tensor(op, x)
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: requires a tensor with at least {min_ndim} dimension(s), but "
                         f"got a tensor with {x.ndim} dimensions (shape {tuple(x.shape)})")
    if isinstance(indices_or_sections, numbers.Integral):
        n = x.shape[dim]
        if indices_or_sections == 0 or n % indices_or_sections:
            raise ValueError(f"{op}: attempted to split along dimension {dim}, but the size of "
                             f"the dimension {n} is not divisible by the split_size "
                             f"{indices_or_sections}!")
    return tensor_split(x, indices_or_sections, dim)


def hsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split along dim 1 (dim 0 of a 1-d tensor): tensor_split with sections that divide."""
    return _split_along("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, 1)


def vsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split along dim 0 of a tensor with at least 2 dims."""
    return _split_along("vsplit", x, indices_or_sections, 0, 2)


def dsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split along dim 2 of a tensor with at least 3 dims."""
    return _split_along("dsplit", x, indices_or_sections, 2, 3)


class Unfold(Function):
    """Sliding windows (torch ``Tensor.unfold``): along ``dim`` (size n) the windows
    x[s * step : s * step + size] for s = 0 .. L - 1, L = (n - size) // step + 1, become a dim
    of size L in place of ``dim`` and a new last dim of size ``size``:

        y[..., s, ..., j] = x[..., s * step + j, ...]

    forward: a strided view of x (no copy of the windows' elements until the final copy: the
    window dim has stride step * x.strides[dim], the new dim x.strides[dim]);
    dx = the adjoint, a scatter-add: dx[..., s * step + j, ...] += dy[..., s, ..., j]
    (windows overlap when step < size, and their gradients add up).
    """

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, dim, size, step):
        self.dim, self.size, self.step = dim, size, step
        xp = get_array_module(x)
        windows = (x.shape[dim] - size) // step + 1  # L
        shape = x.shape[:dim] + (windows,) + x.shape[dim + 1:] + (size,)
        strides = (x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:]
                   + (x.strides[dim],))
        view = xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
        return view.copy()  # a copy: writes into y must not reach x

    def backward(self, dy):
        (x,) = self.inputs
        xp = get_array_module(dy.data)
        d = self.dim
        windows = dy.shape[d]
        starts = xp.arange(windows) * self.step
        positions = starts[:, None] + xp.arange(self.size)[None, :]  # (L, size)
        dy = movedim(dy, -1, d + 1)  # (..., L, size, ...)
        return index_put_zeros(dy, (slice(None),) * d + (positions,), x.shape)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` entries along ``dimension``, ``step`` apart (see Unfold).

    >>> import tinygrad_edu as tg
    >>> unfold(tg.arange(5), 0, 2, 2).tolist()
    [[0, 1], [2, 3]]
    """
    _check_tensor("unfold", x)
    x1 = reshape(x, 1) if x.ndim == 0 else x
    d = _dim("unfold", dimension, x1.ndim)
    size, step = operator.index(size), operator.index(step)
    n = x1.shape[d]
    if size > n:
        raise ValueError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is "
                         f"{size} (input shape {tuple(x.shape)})")
    if size < 0:
        raise ValueError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise ValueError(f"unfold: step is {step} but must be > 0")
    y = Unfold.apply(x1, dim=d, size=size, step=step)
    return reshape(y, (size,)) if x.ndim == 0 else y


def take(x: Tensor, index) -> Tensor:
    """x flattened, taken at ``index`` (an integer tensor of any shape, negative counting from
    the end): y = x.reshape(-1)[index], of index's shape; dx = dy scatter-added back."""
    _check_tensor("take", x)
    xp = get_array_module(x.data)
    idx = _int_index("take", index, xp)
    n = x.data.size
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
        raise IndexError(f"take: index {bad} out of range for tensor of size {n} "
                         f"(shape {tuple(x.shape)})")
    return getitem(reshape(x, -1), idx)


def take_along_dim(x: Tensor, indices, dim=None) -> Tensor:
    """torch.take_along_dim: with ``dim``, x and indices broadcast against each other except
    along ``dim``, then y = gather(x, dim, indices); without, take on the flattened x with
    the flattened indices. dx = dy scatter-added back (summed over any broadcast of x)."""
    _check_tensor("take_along_dim", x)
    xp = get_array_module(x.data)
    idx = _int_index("take_along_dim", indices, xp)
    if dim is None:
        _check_index_range("take_along_dim", idx, x.data.size, 0)
        return gather(reshape(x, -1), 0, idx.reshape(-1))
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: input and indices should have the same number of "
                         f"dimensions, but got {x.ndim} dimensions for input {tuple(x.shape)}, "
                         f"and {idx.ndim} dimensions for indices {tuple(idx.shape)}")
    d = _dim("take_along_dim", dim, x.ndim)
    rest_x = x.shape[:d] + (1,) + x.shape[d + 1:]
    rest_i = idx.shape[:d] + (1,) + idx.shape[d + 1:]
    try:
        common = np.broadcast_shapes(rest_x, rest_i)
    except ValueError:
        raise ValueError(f"take_along_dim: input {tuple(x.shape)} and indices "
                         f"{tuple(idx.shape)} do not broadcast outside dim {d}") from None
    x = broadcast_to(x, common[:d] + (x.shape[d],) + common[d + 1:])
    idx = xp.broadcast_to(idx, common[:d] + (idx.shape[d],) + common[d + 1:])
    _check_index_range("take_along_dim", idx, x.shape[d], d)
    return gather(x, d, idx)


def masked_select(x: Tensor, mask) -> Tensor:
    """The entries of x where the boolean ``mask`` is True (x and mask broadcast), as a 1-d
    tensor in row-major order; dx = dy put back at those entries (zeros elsewhere)."""
    _check_tensor("masked_select", x)
    xp = get_array_module(x.data)
    m = xp.asarray(_normalize_index(mask))
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: expected a bool mask, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(m.shape))
    except ValueError:
        raise ValueError(f"masked_select: the shape of the mask {tuple(m.shape)} does not "
                         f"broadcast with the input {tuple(x.shape)}") from None
    xb = broadcast_to(x, shape)
    mb = xp.broadcast_to(m, shape)
    if not shape:
        return getitem(reshape(xb, 1), mb.reshape(1))
    return getitem(xb, xp.nonzero(mb))


def _index_along(op: str, x: Tensor, dim: int, index, negatives: bool = True):
    """(dim normalized, index as a 1-d integer array in range, negatives wrapped); with
    ``negatives=False`` an index below 0 is out of range (index_copy, as in torch)."""
    _check_tensor(op, x)
    d = _dim(op, dim, x.ndim)
    xp = get_array_module(x.data)
    idx = _int_index(op, index, xp)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index should have dimension 1 or 0 (got {idx.ndim}, shape "
                         f"{tuple(idx.shape)})")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    lo = -n if negatives else 0
    if idx.size and (int(idx.min()) < lo or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < lo else int(idx.max())
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {d} with size {n}")
    return d, xp.where(idx < 0, idx + n, idx)


def index_copy(x: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """torch.index_copy (out of place): y = x, then y[..., index[i], ...] = source[..., i, ...]
    along ``dim``. dx = dy with the written slices zeroed;  dsource = index_select(dy, dim,
    index) (a Scatter)."""
    d, idx = _index_along("index_copy", x, dim, index, negatives=False)
    _check_tensor("index_copy", source)
    if source.dtype != x.dtype:
        raise TypeError(f"index_copy: self and source expected to have the same dtype, but got "
                        f"(self) {x.dtype} and (source) {source.dtype}")
    if x.ndim == 0:  # a 1-d x of size 1 (torch): a 0-d source needs exactly one index
        want = () if source.ndim == 0 and idx.size == 1 else (idx.size,)
    else:
        want = x.shape[:d] + (idx.size,) + x.shape[d + 1:]
    if tuple(source.shape) != want:
        raise ValueError(f"index_copy: source {tuple(source.shape)} must have the shape {want} "
                         f"of input {tuple(x.shape)} with dim {d} of size len(index) = "
                         f"{idx.size}")
    if x.ndim == 0:
        y = Scatter.apply(reshape(x, 1), reshape(source, -1), positions=(idx,))
        return reshape(y, ())
    return Scatter.apply(x, source, positions=(slice(None),) * d + (idx,))


def index_fill(x: Tensor, dim: int, index, value) -> Tensor:
    """torch.index_fill (out of place): y = x with the slices ``index`` along ``dim`` set to
    ``value`` (a number or a 0-d tensor). dx = dy with those slices zeroed; dvalue = the sum
    of dy over them (a where)."""
    from .elementwise import where

    d, idx = _index_along("index_fill", x, dim, index)
    xp = get_array_module(x.data)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"index_fill: only supports a 0-dimensional value tensor, but got "
                             f"tensor with {value.ndim} dimension(s) (shape "
                             f"{tuple(value.shape)})")
        value = value if value.dtype == x.dtype else value.to(x.dtype)
    else:
        value = Tensor._wrap(xp.asarray(value, dtype=x.dtype))
    written = xp.zeros(x.shape, dtype=bool)  # the slices to fill
    if x.ndim == 0:
        written[()] = idx.size > 0
    else:
        written[(slice(None),) * d + (idx,)] = True
    return where(written, value, x)


def _selected(op: str, x: Tensor, dim: int, index: int) -> tuple:
    """The key of x.select(dim, index): (slice(None),) * dim + (index,), with ``dim`` and a
    negative ``index`` made non-negative; torch's errors for a 0-d x or an index out of range."""
    _check_tensor(op, x)
    if x.ndim == 0:
        raise IndexError(f"{op}: cannot be applied to a 0-dim tensor")
    d = _dim(op, dim, x.ndim)
    index = operator.index(index)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"{op}: index {index} out of range for tensor of size "
                         f"{tuple(x.shape)} at dimension {d}")
    return (slice(None),) * d + (index % n,)


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, which disappears: x[..., index, ...] (negative
    index counts from the end); dx = dy put back there, zeros elsewhere."""
    return getitem(x, _selected("select", x, dim, index))


def _place(op: str, x: Tensor, src: Tensor, positions) -> Tensor:
    """y = x with y[positions] = src (src of exactly x[positions]'s shape, cast to x's dtype as
    torch's copy_ does; the cast is differentiable, so dsrc comes back in src's dtype)."""
    from .elementwise import cast

    _check_tensor(op, src)
    want = tuple(x.data[positions].shape)
    if tuple(src.shape) != want:
        raise ValueError(f"{op}: expected src to have a size equal to the slice of self. src "
                         f"size = {tuple(src.shape)}, slice size = {want} (input "
                         f"{tuple(x.shape)})")
    return Scatter.apply(x, cast(src, x.dtype), positions=positions)


def select_scatter(x: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """y = x with y.select(dim, index) = src;  dx = dy with that slice zeroed,
    dsrc = dy.select(dim, index)."""
    return _place("select_scatter", x, src, _selected("select_scatter", x, dim, index))


def slice_scatter(x: Tensor, src: Tensor, dim: int = 0, start=None, end=None,
                  step: int = 1) -> Tensor:
    """y = x with y[..., start:end:step, ...] = src along ``dim``;  dx = dy with that slice
    zeroed,  dsrc = dy[..., start:end:step, ...]."""
    _check_tensor("slice_scatter", x)
    if x.ndim == 0:
        raise IndexError("slice_scatter: cannot be applied to a 0-dim tensor")
    d = _dim("slice_scatter", dim, x.ndim)
    if step is None:
        step = 1
    if operator.index(step) <= 0:
        raise ValueError(f"slice_scatter: slice step must be positive, got {step}")
    return _place("slice_scatter", x, src, (slice(None),) * d + (slice(start, end, step),))


def diagonal_scatter(x: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """y = x with y.diagonal(offset, dim1, dim2) = src (src has the other dims first, then the
    diagonal, as torch's diagonal);  dx = dy with the diagonal zeroed, dsrc = dy's diagonal."""
    _check_tensor("diagonal_scatter", x)
    if x.ndim < 2:
        raise ValueError(f"diagonal_scatter: expected a tensor with at least 2 dims, got shape "
                         f"{tuple(x.shape)}")
    d1 = _dim("diagonal_scatter", dim1, x.ndim)
    d2 = _dim("diagonal_scatter", dim2, x.ndim)
    if d1 == d2:
        raise ValueError(f"diagonal_scatter: diagonal dimensions cannot be identical {dim1}, "
                         f"{dim2}")
    xt = movedim(x, (d1, d2), (-2, -1))  # (..., n1, n2)
    n1, n2 = xt.shape[-2], xt.shape[-1]
    offset = operator.index(offset)
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    xp = get_array_module(x.data)
    rows = xp.arange(length) - min(offset, 0)
    cols = xp.arange(length) + max(offset, 0)
    y = _place("diagonal_scatter", xt, src, (Ellipsis, rows, cols))
    return movedim(y, (-2, -1), (d1, d2))


def argwhere(x: Tensor) -> Tensor:
    """The positions of the nonzero entries, (number of nonzeros, ndim) int64: nonzero(x).
    Not differentiable."""
    _check_tensor("argwhere", x)
    return nonzero(x)


def diff(x: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The n-th forward difference along ``dim``: y_i = x_(i+1) - x_i, n times, after putting
    ``prepend`` before and ``append`` after x (tensors matching x outside dim). Bool inputs
    give x_(i+1) != x_i (logical xor). dx = -dy_i + dy_(i-1) (a composite of slices and sub).
    """
    _check_tensor("diff", x)
    if x.ndim == 0:
        raise ValueError("diff: expects input to be at least one-dimensional")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    d = _dim("diff", dim, x.ndim)
    if n == 0:
        return x.clone()  # the input itself: prepend and append take no part (torch, NumPy)
    parts = []
    for name, t_ in (("prepend", prepend), (None, x), ("append", append)):
        if t_ is None:
            continue
        if name and not isinstance(t_, Tensor):
            t_ = Tensor._wrap(get_array_module(x.data).asarray(t_, dtype=x.dtype))
        if name and t_.ndim != x.ndim:
            raise ValueError(f"diff: expected {name} to have the same number of dimensions as "
                             f"input ({x.ndim}), got shape {tuple(t_.shape)}")
        if name and t_.shape[:d] + t_.shape[d + 1:] != x.shape[:d] + x.shape[d + 1:]:
            raise ValueError(f"diff: expected {name} to match the shape of the input outside "
                             f"dim {d}, got {name} {tuple(t_.shape)} and input "
                             f"{tuple(x.shape)}")
        parts.append(t_)
    if len(parts) > 1:
        x = cat(parts, d)
    from .elementwise import ne

    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        later = narrow(x, d, 1, size - 1)
        earlier = narrow(x, d, 0, size - 1)
        x = ne(later, earlier) if x.dtype == np.bool_ else later - earlier
    return x


def sum_to_size(x: Tensor, *size) -> Tensor:
    """Sum x down to ``size``, which must broadcast (expand) to x's shape: the adjoint of
    expand, dx = dy broadcast back."""
    _check_tensor("sum_to_size", x)
    size = _shape_arg(size)
    ok = len(size) <= x.ndim and all(
        s in (1, n) for s, n in zip(size, x.shape[x.ndim - len(size):], strict=True))
    if not ok:
        raise ValueError(f"sum_to_size: size {{{', '.join(map(str, size))}}} is not expandable "
                         f"to size {{{', '.join(map(str, x.shape))}}}")
    return sum_to(x, size)


def ravel(x: Tensor) -> Tensor:
    """x flattened to 1-d (row-major): reshape(x, -1)."""
    _check_tensor("ravel", x)
    return reshape(x, -1)
