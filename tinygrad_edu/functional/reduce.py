"""Reductions (sum, mean, var, max, prod, logsumexp, ...), sorting (sort, topk, median, ...)
and the softmax family.

A reduction's backward spreads the output gradient back over the reduced axes: ``sum`` copies
it to every element, ``max`` sends it to the winner, ``prod`` multiplies it by the product of
the others, ``logsumexp`` weights it by the softmax. ``sort`` (and topk, kthvalue, median)
only move values, so their backward moves each gradient back to where its value came from.
"""

from __future__ import annotations

import numbers
import warnings
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import _float_input, cast, exp, sign, where
from .elementwise import abs as abs_
from .shape import _dim, broadcast_to, flip, index_put_zeros, movedim, reshape

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _axes(op: str, dim, ndim: int, empty_is_all: bool = True) -> tuple:
    """``dim`` (None, int or tuple of ints) as a sorted tuple of non-negative axes.

    Like torch: None and, with ``empty_is_all``, an empty tuple (``x.sum(())``) mean every
    dimension; a 0-d tensor takes dim 0 and -1 as if it had one dimension of size 1, which
    its array does not have, so they name no axis (reducing one element changes nothing).
    """
    if dim is None:
        return tuple(range(ndim))
    if dim.__class__ is int or isinstance(dim, numbers.Integral):  # int: no ABC check
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
        if not dims and empty_is_all:
            return tuple(range(ndim))
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {type(dim).__name__}")
    axes = tuple(sorted({_dim(op, d, ndim) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{op}: dim {dim} names the same dimension twice")
    return axes if ndim else ()


def _keepdim_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _count(shape: tuple, axes: tuple) -> int:
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def _tensor_input(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


# ----------------------------------------------------------------------------------------------
# Sum and friends
# ----------------------------------------------------------------------------------------------


class Sum(Function):
    """y = sum of x over ``axes``;  dx = dy broadcast back over the summed axes"""

    reads_inputs = False  # its backward needs only the inputs' shapes
    array_backward = True  # dy may be the array itself (first order)

    def forward(self, x, axes, keepdim):
        self.axes = axes
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, dy):
        (x,) = self.inputs
        shape = _keepdim_shape(x.shape, self.axes)  # dy with the summed axes kept, as size 1
        if not isinstance(dy, Tensor):  # first order: a broadcast view of the array
            return get_array_module(dy).broadcast_to(dy.reshape(shape), x.shape)
        return broadcast_to(reshape(dy, shape), x.shape)


def _accumulating(x: Tensor, dtype) -> Tensor:
    """x cast to the dtype a sum or product of it runs in: ``dtype`` if given, else int64 for
    bool and integer inputs (torch's rule for sum, prod, cumsum, cumprod), else x's own."""
    if dtype is not None:
        return cast(x, dtype)
    if x.dtype.kind in "bui" and x.dtype != np.int64:
        return cast(x, np.int64)
    return x


def sum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dimensions when None); bool and int inputs sum to int64."""
    x = _accumulating(_tensor_input("sum", x), dtype)
    return Sum.apply(x, axes=_axes("sum", dim, x.ndim), keepdim=keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Arithmetic mean over ``dim``: sum / count."""
    if _tensor_input("mean", x).dtype.kind != "f":
        raise TypeError(
            f"mean: could not infer output dtype; input dtype must be floating point, got "
            f"{x.dtype}. Use x.float().mean()"
        )
    axes = _axes("mean", dim, x.ndim)
    count = _count(x.shape, axes)
    return sum(x, axes, keepdim) * (1.0 / count if count else float("nan"))


def _variance(x, axes: tuple, dof: int):
    """sum (x - mean)^2 / dof over ``axes`` (kept as size-1 dims) on arrays: two passes, so no
    cancellation. dof = 0 gives inf (or nan for a zero sum), and no input gives nan, like
    torch: NumPy's warnings about them are silenced (``_dof`` warns once, as torch does)."""
    count = _count(x.shape, axes)
    with np.errstate(divide="ignore", invalid="ignore"):  # (CuPy never warns)
        diff = x - x.sum(axis=axes, keepdims=True) / count
        return (diff * diff).sum(axis=axes, keepdims=True) / dof


def _dof(op: str, x: Tensor, dim, unbiased, correction) -> tuple:
    """(axes, degrees of freedom N - correction) of var and std; the correction is 1 (unbiased)
    unless ``unbiased=False`` or ``correction`` says otherwise. Like torch, too few elements
    (N <= correction) give dof = 0, so the result is inf (nan if all elements are equal), with
    a warning."""
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(op, dim, x.ndim)
    count = _count(x.shape, axes)
    if count - correction <= 0:
        warnings.warn(
            f"{op}: degrees of freedom is <= 0 ({count} element(s) reduced, correction "
            f"{correction}, input shape {tuple(x.shape)}); the result is inf or nan",
            stacklevel=3,
        )
    return axes, count - correction if count > correction else 0  # (max is shadowed)


class Var(Function):
    """y = sum (x - mean x)^2 / (N - correction) over ``axes``;
    dx = dy * 2 (x - mean x) / (N - correction)"""

    def forward(self, x, axes, keepdim, dof):
        self.axes, self.dof = axes, dof
        y = _variance(x, axes, dof)
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        keep = _keepdim_shape(x.shape, self.axes)
        diff = x - mean(x, self.axes, keepdim=True)
        scale = 2.0 / self.dof if self.dof else float("inf")  # dof 0: y is inf too
        return reshape(dy, keep) * diff * scale


def var(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    """Variance: sum (x - mean)^2 / (N - correction); correction=1 (unbiased) by default."""
    x = _float_input("var", x)
    axes, dof = _dof("var", x, dim, unbiased, correction)
    return Var.apply(x, axes=axes, keepdim=keepdim, dof=dof)


class Std(Function):
    """y = sqrt(sum (x - mean x)^2 / (N - correction)) over ``axes``;
    dx = dy * (x - mean x) / ((N - correction) y), and 0 where y == 0 (a constant input, where
    the square root has no derivative: torch's choice, so std can be a penalty)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, axes, keepdim, dof):
        self.axes, self.dof = axes, dof
        y = get_array_module(x).sqrt(_variance(x, axes, dof))
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        keep = _keepdim_shape(x.shape, self.axes)
        y = reshape(self.output, keep)
        diff = x - mean(x, self.axes, keepdim=True)
        return diff * _over_nonzero(reshape(dy, keep) / self.dof, y)


def _over_nonzero(numerator: Tensor, y: Tensor, power: float = 1) -> Tensor:
    """numerator / y^power where y != 0, and 0 where y == 0: the gradient of a norm (or std)
    y at the origin, where torch takes 0. where(zero, 1, y) keeps the unused branch finite,
    so that create_graph stays free of NaN."""
    zero = y.data == 0
    denominator = where(zero, 1.0, y)
    if power != 1:
        denominator = denominator ** power
    return where(zero, 0.0, numerator / denominator)


def std(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    """Standard deviation: sqrt(var)."""
    x = _float_input("std", x)
    axes, dof = _dof("std", x, dim, unbiased, correction)
    return Std.apply(x, axes=axes, keepdim=keepdim, dof=dof)


class Norm2(Function):
    """y = sqrt(sum x^2) over ``axes``;  dx = dy * x / y  (0 where y == 0, like torch: the
    subgradient at the origin that makes ||x|| usable as a penalty)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, axes, keepdim):
        xp = get_array_module(x)
        self.axes = axes
        y = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        keep = _keepdim_shape(x.shape, self.axes)
        y = reshape(self.output, keep)
        return x * _over_nonzero(reshape(dy, keep), y)


class PNorm(Function):
    """y = (sum |x|^p)^(1/p) over ``axes``, for p other than 0, 1, 2 and +-inf;
    dx = dy * sign(x) |x|^(p-1) / y^(p-1)  (= dy * sign(x) |x|^(p-1) y^(1-p)).

    Like torch, where that has no value the gradient is 0: where y == 0 (an all-zero input)
    and, for p < 1, where x == 0 (|x|^(p-1) is infinite there).
    """

    reads_output = True  # backward reads self.output

    def forward(self, x, axes, keepdim, p):
        xp = get_array_module(x)
        self.axes, self.p = axes, p
        with np.errstate(divide="ignore"):  # p < 0: |0|^p = inf, then y = 0, as in torch
            y = (xp.abs(x) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        p = self.p
        keep = _keepdim_shape(x.shape, self.axes)
        y = reshape(self.output, keep)
        dy = reshape(dy, keep)
        # each where(zero, 1, ...) keeps the unused branch finite, so create_graph stays NaN-free
        if p < 1:
            x_zero = x.data == 0
            x_scaled = sign(x) * abs_(where(x_zero, 1.0, x)) ** (p - 1)
            return where(x_zero, 0.0, x_scaled) * (dy * y ** (1 - p))
        return sign(x) * abs_(x) ** (p - 1) * _over_nonzero(dy, y, p - 1)


class NonzeroCount(Function):
    """y = the number of non-zero x over ``axes`` (the "0-norm");  dx = 0 (y is piecewise
    constant in x: torch's gradient is 0 too, so a 0-norm in a loss backpropagates zeros)"""

    reads_inputs = False  # its backward needs only x's shape

    def forward(self, x, axes, keepdim):
        self.shape = x.shape
        return (x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype)

    def backward(self, dy):
        return Tensor._wrap(get_array_module(dy.data).zeros(self.shape, dtype=dy.dtype))


def norm(x: Tensor, p: float = 2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm over ``dim`` (all elements when None): (sum |x|^p)^(1/p);
    p = inf: max |x|,  p = -inf: min |x|,  p = 0: the number of non-zero elements;
    p = 'fro' (torch.norm's Frobenius norm) is the 2-norm over ``dim``. Like torch, p < 0 and
    p = inf have no value over an empty dimension (no identity), an error."""
    x = _float_input("norm", x)
    if p == "fro":
        p = 2
    elif not isinstance(p, numbers.Real):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r} (the nuclear norm is "
                        f"linalg.matrix_norm(x, 'nuc'))")
    axes = _axes("norm", dim, x.ndim)
    empty_dims = [a for a in axes if x.shape[a] == 0]
    if empty_dims and (p < 0 or p == float("inf")):
        raise ValueError(f"norm: cannot compute the {p} norm over the empty dimension "
                         f"{empty_dims[0]} (input shape {tuple(x.shape)}): it has no identity")
    if p == 2:
        return Norm2.apply(x, axes=axes, keepdim=keepdim)
    if p == 1:
        return sum(abs_(x), axes, keepdim)
    if p == float("inf"):
        return amax(abs_(x), axes, keepdim)
    if p == float("-inf"):
        return amin(abs_(x), axes, keepdim)
    if p == 0:
        return NonzeroCount.apply(x, axes=axes, keepdim=keepdim)
    return PNorm.apply(x, axes=axes, keepdim=keepdim, p=p)


# ----------------------------------------------------------------------------------------------
# Max / min
# ----------------------------------------------------------------------------------------------


class MaxReduce(Function):
    """y = max (or min) of x over ``axes``;  dx = dy at the position of the extreme.

    Ties: reducing everything (``max(x)``, ``amax``) splits dy evenly between the tied
    elements; reducing one dim with ``max(x, dim)`` sends it all to the returned index. Both
    like torch.

    NaN (max and min return NaN if any element is NaN), like torch: ``max(x)`` and ``min(x)``
    of the whole tensor (``nan_wins``) send dy to the NaN elements, split evenly among them;
    ``max(x, dim)`` to the returned index (the first NaN); ``amax``/``amin`` match no element
    (x == NaN is False everywhere), so their gradient is 0/0 = NaN over the reduced axes.
    """

    def forward(self, x, axes, keepdim, smallest, one_hot_index, nan_wins=False):
        xp = get_array_module(x)
        y = x.min(axis=axes, keepdims=True) if smallest else x.max(axis=axes, keepdims=True)
        if one_hot_index is not None:  # the winner is the returned index along the dim
            along = [-1 if i == axes[0] else 1 for i in range(x.ndim)]
            mask = xp.arange(x.shape[axes[0]]).reshape(along) == one_hot_index
        else:
            mask = x == y
            if nan_wins and x.dtype.kind in "fc":
                # y is a single NaN exactly when x holds one: the NaNs are the extreme
                mask |= xp.isnan(x)
            with np.errstate(invalid="ignore", divide="ignore"):  # amax of NaN: 0/0, silent
                mask = mask / mask.sum(axis=axes, keepdims=True)
        self.mask = mask.astype(x.dtype) if x.dtype.kind == "f" else mask
        self.axes = axes
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        return reshape(dy, _keepdim_shape(x.shape, self.axes)) * self.mask


def _reduced_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _check_nonempty(op: str, x: Tensor, axes: tuple) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    empty_dims = [a for a in axes if x.shape[a] == 0]  # (this module shadows any())
    if empty_dims or (not axes and x.data.size == 0):
        raise ValueError(
            f"{op}: cannot reduce over an empty dimension (input shape {tuple(x.shape)}, "
            f"dims {axes}); there is no identity for max/min"
        )


def _extreme(op: str, x: Tensor, dim, keepdim: bool, smallest: bool):
    if isinstance(dim, Tensor):  # max(a, b) is the elementwise maximum, as in torch
        from .elementwise import maximum, minimum

        return minimum(x, dim) if smallest else maximum(x, dim)
    _tensor_input(op, x)
    if dim is None:
        axes = tuple(range(x.ndim))
        _check_nonempty(op, x, axes)
        return MaxReduce.apply(x, axes=axes, keepdim=False, smallest=smallest,
                               one_hot_index=None, nan_wins=True)
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:  # torch allows dim=0 / -1 on a 0-d tensor: the element and index 0
        index = Tensor._wrap(get_array_module(x.data).zeros((), dtype=np.int64), False)
        values = MaxReduce.apply(x, axes=(), keepdim=keepdim, smallest=smallest,
                                 one_hot_index=None, nan_wins=True)
        return MaxResult(values, index)
    _check_nonempty(op, x, (d,))
    xp = get_array_module(x.data)
    index = (xp.argmin if smallest else xp.argmax)(x.data, axis=d, keepdims=True)
    values = MaxReduce.apply(x, axes=(d,), keepdim=keepdim, smallest=smallest,
                             one_hot_index=index)
    indices = index if keepdim else index.squeeze(d)
    return MaxResult(values, Tensor._wrap(indices.astype(np.int64), False))


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001 - torch name
    """``max(x)`` -> the largest element; ``max(x, dim)`` -> (values, indices); ``max(a, b)``
    -> elementwise maximum."""
    return _extreme("max", x, dim, keepdim, smallest=False)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001 - torch name
    """``min(x)``, ``min(x, dim)`` -> (values, indices), ``min(a, b)``: like ``max``."""
    return _extreme("min", x, dim, keepdim, smallest=True)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (a tuple is allowed); ties share the gradient evenly."""
    axes = _axes("amax", dim, _tensor_input("amax", x).ndim)
    _check_nonempty("amax", x, axes)
    return MaxReduce.apply(x, axes=axes, keepdim=keepdim, smallest=False, one_hot_index=None)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (a tuple is allowed); ties share the gradient evenly."""
    axes = _axes("amin", dim, _tensor_input("amin", x).ndim)
    _check_nonempty("amin", x, axes)
    return MaxReduce.apply(x, axes=axes, keepdim=keepdim, smallest=True, one_hot_index=None)


def _arg_extreme(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    xp = get_array_module(_tensor_input(op, x).data)
    fn = xp.argmax if op == "argmax" else xp.argmin
    if dim is None:  # index into the flattened tensor; keepdim keeps every dim as size 1
        if x.data.size == 0:
            raise ValueError(f"{op}: expected a non-empty tensor, got shape {tuple(x.shape)} "
                             "(give a dim to reduce over a non-empty one)")
        index = xp.asarray(fn(x.data)).astype(np.int64)
        return Tensor._wrap(index.reshape((1,) * x.ndim) if keepdim else index, False)
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        return Tensor._wrap(xp.zeros((), dtype=np.int64), False)
    if x.shape[d] == 0:  # an empty dim elsewhere gives an empty result, as torch
        raise ValueError(f"{op}: expected reduction dim {d} to have non-zero size (input "
                         f"shape {tuple(x.shape)})")
    return Tensor._wrap(fn(x.data, axis=d, keepdims=keepdim).astype(np.int64), False)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _arg_extreme("argmax", x, dim, keepdim)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg_extreme("argmin", x, dim, keepdim)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Is any element True (non-zero) over ``dim``? ``dim=()`` reduces nothing, like torch."""
    _tensor_input("any", x)
    axes = None if dim is None else _axes("any", dim, x.ndim, empty_is_all=False)
    return Tensor._wrap(get_array_module(x.data).asarray(x.data.any(axis=axes, keepdims=keepdim)))


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Are all elements True (non-zero) over ``dim``? ``dim=()`` reduces nothing, like torch."""
    _tensor_input("all", x)
    axes = None if dim is None else _axes("all", dim, x.ndim, empty_is_all=False)
    return Tensor._wrap(get_array_module(x.data).asarray(x.data.all(axis=axes, keepdims=keepdim)))


# ----------------------------------------------------------------------------------------------
# Sorting: sort, argsort, topk, kthvalue, median
# ----------------------------------------------------------------------------------------------

SortResult = namedtuple("SortResult", ["values", "indices"])
TopKResult = namedtuple("TopKResult", ["values", "indices"])
KthValueResult = namedtuple("KthValueResult", ["values", "indices"])
MedianResult = namedtuple("MedianResult", ["values", "indices"])


class TakeAlongDim(Function):
    """y[..., j, ...] = x[..., index[..., j, ...], ...] along ``dim`` (what sort, topk, kthvalue
    and median(dim) return as values);  dx = zeros like x with dy scattered back to the
    positions the values came from (added up where an index repeats)"""

    def forward(self, x, index, dim):
        self.index, self.dim = index, dim
        return get_array_module(x).take_along_axis(x, index, axis=dim)

    def backward(self, dy):
        (x,) = self.inputs
        xp = get_array_module(self.index)
        # one broadcastable arange per dimension, with the index itself along ``dim``
        positions = list(xp.ix_(*[xp.arange(n) for n in self.index.shape]))
        positions[self.dim] = self.index
        return index_put_zeros(dy, tuple(positions), x.shape)


def _sort_index(a, axis: int, descending: bool):
    """The indices that sort the array ``a`` along ``axis``, always stably (ties keep their
    order, as torch's ``stable=True``), NaN last ascending and first descending like torch.

    Descending: sort the reversed array ascending and reverse the result, which keeps tied
    elements in their original order (negating would not: it fails for unsigned ints, bools
    and NaN).
    """
    xp = get_array_module(a)
    kind = {"kind": "stable"} if xp is np else {}  # CuPy always sorts stably, takes no kind
    if not descending:
        return xp.argsort(a, axis=axis, **kind).astype(np.int64, copy=False)
    n = a.shape[axis]
    reverse = xp.argsort(xp.flip(a, axis), axis=axis, **kind)
    return ((n - 1) - xp.flip(reverse, axis)).astype(np.int64, copy=False)


def _order_input(op: str, x: Tensor, dim) -> tuple:
    """(x as at least 1-d, the normalized dim): a 0-d tensor is sorted as one element."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    d = _dim(op, dim, x.ndim)
    return (x if x.ndim else reshape(x, 1)), d


def _along(d: int, index) -> tuple:
    return (slice(None),) * d + (index,)


def _values_and_indices(result, x: Tensor, x1: Tensor, index, d: int, squeeze: bool):
    """``result`` (a namedtuple type) of x1's values at ``index`` along d and the indices;
    ``squeeze`` drops dim d (of size 1), and a 0-d input gives 0-d outputs."""
    values = TakeAlongDim.apply(x1, index=index, dim=d)
    if x.ndim == 0:
        values, index = reshape(values, ()), index.reshape(())
    elif squeeze:
        values, index = reshape(values, _reduced_shape(values.shape, (d,))), index.squeeze(d)
    return result(values, Tensor._wrap(index, False))


def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """Sort along ``dim``: -> (values, indices) with values = x taken at indices.

    dx = dy scattered back through the indices (each value's gradient goes where it came from).
    The sort is always stable (``stable`` is accepted for torch's signature): tied elements
    keep their order. NaN counts as larger than every number, like torch.

    >>> import tinygrad_edu as tg
    >>> values, indices = tg.tensor([3.0, 1.0, 2.0]).sort()
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0, 3.0], [1, 2, 0])
    """
    x1, d = _order_input("sort", x, dim)
    index = _sort_index(x1.data, d, descending)
    return _values_and_indices(SortResult, x, x1, index, d, squeeze=False)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """The indices that sort ``x`` along ``dim`` (``sort(...).indices``); stable, like sort."""
    x1, d = _order_input("argsort", x, dim)
    index = _sort_index(x1.data, d, descending)
    return Tensor._wrap(index.reshape(x.shape), False)


def _check_k(op: str, k, low: int, size: int, d: int, x: Tensor) -> int:
    if k.__class__ is not int and not isinstance(k, numbers.Integral):
        raise TypeError(f"{op}: k must be an int, got {type(k).__name__}")
    if not low <= k <= size:
        raise IndexError(
            f"{op}: k ({k}) is out of range for dimension {d} of size {size} (expected "
            f"{low} <= k <= {size}; input shape {tuple(x.shape)})"
        )
    return int(k)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` -> (values,
    indices), largest first (smallest first). dx = dy scattered back through the indices.

    Ties: the element of lower index comes first (torch leaves their order unspecified);
    ``sorted=False`` is accepted and returns them sorted, which torch allows too.
    """
    x1, d = _order_input("topk", x, dim)
    k = _check_k("topk", k, 0, x1.shape[d], d, x)
    if x.ndim == 0:
        k = 1  # torch gives the element for k = 0 too
    index = _sort_index(x1.data, d, descending=largest)[_along(d, slice(0, k))]
    return _values_and_indices(TopKResult, x, x1, index, d, squeeze=False)


def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest element (k = 1 is the smallest) along ``dim`` -> (values, indices);
    ties: the position of a stable sort. dx = dy at the returned index."""
    x1, d = _order_input("kthvalue", x, dim)
    k = _check_k("kthvalue", k, 1, x1.shape[d], d, x)
    index = _sort_index(x1.data, d, descending=False)[_along(d, slice(k - 1, k))]
    return _values_and_indices(KthValueResult, x, x1, index, d, squeeze=not keepdim)


class MedianAll(Function):
    """y = the lower median of all elements (the smaller of the two middle values when their
    number is even; NaN when any element is NaN);  dx = dy split evenly between the elements
    equal to y (the NaN elements when y is NaN), like torch"""

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:  # no elements: NaN, like torch
            self.mask = xp.zeros_like(x)
            return xp.asarray(np.nan, dtype=x.dtype)
        s = xp.sort(x.reshape(-1))  # NaN last
        y = s[-1] if x.dtype.kind == "f" and xp.isnan(s[-1]) else s[(s.size - 1) // 2]
        mask = xp.isnan(x) if x.dtype.kind == "f" and xp.isnan(y) else x == y
        self.mask = (mask / mask.sum()).astype(x.dtype) if x.dtype.kind == "f" else None
        return xp.asarray(y).copy()

    def backward(self, dy):
        return dy * self.mask


def median(x: Tensor, dim=None, keepdim: bool = False):
    """``median(x)`` -> the lower median of all elements (NaN if there are none);
    ``median(x, dim)`` -> (values, indices) of the lower median along ``dim``.

    NaN propagates: a slice with a NaN gives NaN (and the index of its first NaN). dx: dy split
    evenly between tied elements for ``median(x)``, all at the returned index for
    ``median(x, dim)`` (torch's rules).
    """
    if dim is None:
        if not isinstance(x, Tensor):
            raise TypeError(f"median: expected a Tensor, got {type(x).__name__}")
        if x.data.size == 0 and x.dtype.kind != "f":
            raise ValueError(f"median: the median of an empty {x.dtype} tensor has no value "
                             f"(shape {tuple(x.shape)}); a float one gives NaN")
        return MedianAll.apply(x)
    x1, d = _order_input("median", x, dim)
    n = x1.shape[d]
    if n == 0:
        raise IndexError(f"median: cannot take the median over dimension {d} of size 0 "
                         f"(input shape {tuple(x.shape)})")
    xp = get_array_module(x1.data)
    order = _sort_index(x1.data, d, descending=False)
    position = xp.full(_keepdim_shape(x1.shape, (d,)), (n - 1) // 2, dtype=np.int64)
    if x1.dtype.kind == "f":  # a slice with NaN: its first NaN, which sorts after the numbers
        nans = xp.isnan(x1.data).sum(axis=d, keepdims=True)
        position = xp.where(nans > 0, n - nans, position)
    index = xp.take_along_axis(order, position, axis=d)
    return _values_and_indices(MedianResult, x, x1, index, d, squeeze=not keepdim)


# ----------------------------------------------------------------------------------------------
# Products: prod, cumprod
# ----------------------------------------------------------------------------------------------


class Prod(Function):
    """y = prod of x over ``axes``;  dx_j = dy * prod_{i != j} x_i, the product of the others.

    Where the slice has no zero that is dy * y / x_j. Where it has zeros, y / x_j is 0 / 0 or
    wrong, and the product of the others is: with one zero at m, prod of the others at m and
    0 elsewhere; with two or more zeros, 0 everywhere (torch's rule). See _prod_of_others.
    """

    reads_output = True  # backward reads self.output

    def forward(self, x, axes, keepdim):
        self.axes = axes
        return x.prod(axis=axes, keepdims=keepdim)

    def backward(self, dy):
        (x,) = self.inputs
        keep = _keepdim_shape(x.shape, self.axes)
        return reshape(dy, keep) * _prod_of_others(x, reshape(self.output, keep), self.axes)


def _prod_of_others(x: Tensor, y: Tensor, axes: tuple) -> Tensor:
    """prod_{i != j} x_i for every j of each slice over ``axes`` (y = prod x, kept dims), in
    Tensor ops whose own derivatives are right too (create_graph).

    No zero: y / x. Zeros: take out the first zero m of each slice (x1 = x with x_m = 1,
    y1 = prod x1); then the product of the others is y1 at m and x_m * (product of the others
    in x1) elsewhere: 0 there, but with its derivative d/dx_m. x1 has one zero less, so this
    recurses at most twice. A slice with 3+ zeros gives 0, whose derivative is 0 too (the
    second derivative of a product with 3 zeros is 0): exact to the second order.
    """
    zero = x.data == 0
    if not zero.any():
        return y / x
    xp = get_array_module(zero)
    count = zero.sum(axis=axes, keepdims=True)
    flat_position = xp.arange(zero.size).reshape(zero.shape)
    first_zero = xp.where(zero, flat_position, zero.size).min(axis=axes, keepdims=True)
    first = flat_position == first_zero  # the first zero of each slice (none if it has none)
    many = count >= 3
    x1 = where(first | many, 1.0, x)
    y1 = Prod.apply(x1, axes=axes, keepdim=True)
    others1 = _prod_of_others(x1, y1, axes)
    x_first = sum(where(first, x, 0.0), axes, keepdim=True)  # x_m (= 0), differentiable
    return where(many, 0.0, where(first, y1, where(count > 0, x_first * others1, others1)))


def prod(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Product of all elements, or over one ``dim`` (an int, as torch); bool and int inputs
    multiply in int64. The gradient is exact where x has zeros (see Prod).

    >>> import tinygrad_edu as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1).tolist()
    [2.0, 12.0]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"prod: expected a Tensor, got {type(x).__name__}")
    if dim is not None and dim.__class__ is not int and not isinstance(dim, numbers.Integral):
        raise TypeError(f"prod: dim must be an int (torch.prod reduces one dim or all), got "
                        f"{type(dim).__name__}")
    x = _accumulating(x, dtype)
    return Prod.apply(x, axes=_axes("prod", dim, x.ndim), keepdim=keepdim)


class Cumprod(Function):
    """y_j = x_0 x_1 ... x_j along ``dim``;
    dx_i = sum_{j >= i} dy_j prod_{l <= j, l != i} x_l  (= reverse_cumsum(dy * y)_i / x_i
    where no x_l before i is 0; see _cumprod_grad for zeros)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, dim):
        self.dim = dim
        if x.ndim == 0:
            return x.copy()
        return get_array_module(x).cumprod(x, axis=dim)

    def backward(self, dy):
        (x,) = self.inputs
        if x.ndim == 0:
            return dy
        return _cumprod_grad(x, self.output, dy, self.dim)


class Cumsum(Function):
    """y_i = x_0 + x_1 + ... + x_i along ``dim``;
    dx_i = dy_i + dy_(i+1) + ... + dy_last: the cumsum of dy from the other end,
    flip(cumsum(flip(dy)))"""

    reads_inputs = False  # its backward needs only the inputs' shapes

    def forward(self, x, dim):
        self.dim = dim
        if x.ndim == 0:
            return x.copy()
        return get_array_module(x).cumsum(x, axis=dim)

    def backward(self, dy):
        return _reverse_cumsum(dy, self.dim)


def cumsum(x: Tensor, dim: int, dtype=None) -> Tensor:
    """Running sums along ``dim``; bool and integer inputs sum in int64, as in torch.

    >>> import tinygrad_edu as tg
    >>> cumsum(tg.tensor([1, 2, 3]), 0).tolist()
    [1, 3, 6]
    """
    d = _dim("cumsum", dim, _tensor_input("cumsum", x).ndim)
    return Cumsum.apply(_accumulating(x, dtype), dim=d)


def _reverse_cumsum(t: Tensor, dim: int) -> Tensor:
    """s_i = t_i + t_(i+1) + ... + t_last along ``dim``."""
    return flip(cumsum(flip(t, dim), dim), dim)


def _cumprod_grad(x: Tensor, y: Tensor, dy: Tensor, dim: int, depth: int = 0) -> Tensor:
    """dx_i = sum_{j >= i} dy_j prod_{l <= j, l != i} x_l for y = cumprod(x), in Tensor ops
    whose own derivatives are right too (create_graph).

    With k the first zero of a slice (torch's rule, made differentiable):
    i < k: reverse_cumsum(dy * y)_i / x_i (no zero up to i, and y_j = 0 for j >= k);
    i = k: the gradient of cumprod(x1) at k, with x1 = x with x_k = 1 (its products skip k);
    i > k: x_k times that gradient at i: 0, but with its derivative d/dx_k.
    x1 has one zero less; two levels of that are exact to the second order, so the third
    level keeps only its first part (what lies after a slice's third zero adds nothing there).
    """
    zero = x.data == 0
    if not zero.any():
        return _reverse_cumsum(dy * y, dim) / x
    xp = get_array_module(zero)
    n = x.shape[dim]
    position = xp.arange(n).reshape([n if a == dim else 1 for a in range(x.ndim)])
    k = xp.where(zero, position, n).min(axis=dim, keepdims=True)  # n: the slice has no zero
    before, first = position < k, position == k
    part = _reverse_cumsum(dy * y, dim) / where(zero, 1.0, x)  # right where position < k
    if depth == 2:
        return where(before, part, 0.0)
    x1 = where(first, 1.0, x)
    h = _cumprod_grad(x1, Cumprod.apply(x1, dim=dim), dy, dim, depth + 1)
    x_first = sum(where(first, x, 0.0), dim, keepdim=True)  # x_k (= 0), differentiable
    return where(before, part, where(first, h, x_first * h))


def cumprod(x: Tensor, dim: int, dtype=None) -> Tensor:
    """Running products along ``dim``; bool and int inputs multiply in int64, as in torch.
    The gradient is exact where x has zeros (see _cumprod_grad).

    >>> import tinygrad_edu as tg
    >>> cumprod(tg.tensor([1.0, 2.0, 0.0, 4.0]), 0).tolist()
    [1.0, 2.0, 0.0, 0.0]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"cumprod: expected a Tensor, got {type(x).__name__}")
    d = _dim("cumprod", dim, x.ndim)
    return Cumprod.apply(_accumulating(x, dtype), dim=d)


# ----------------------------------------------------------------------------------------------
# logsumexp and softmax
# ----------------------------------------------------------------------------------------------


class LogSumExp(Function):
    """y = log sum_j e^(x_j) = m + log sum_j e^(x_j - m) with m = max x (never overflows);
    dx = dy * e^(x - y) = dy * softmax(x)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, axes, keepdim):
        xp = get_array_module(x)
        self.axes = axes
        if x.size:
            m = x.max(axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows stay -inf instead of NaN
        else:  # no element: log 0 = -inf, like torch (max has nothing to reduce)
            m = xp.zeros(_keepdim_shape(x.shape, axes), dtype=x.dtype)
        with np.errstate(divide="ignore"):  # log 0 of an empty or all -inf slice: -inf
            y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        return y if keepdim else y.reshape(_reduced_shape(x.shape, axes))

    def backward(self, dy):
        (x,) = self.inputs
        keep = _keepdim_shape(x.shape, self.axes)
        return reshape(dy, keep) * exp(x - reshape(self.output, keep))


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    x = _float_input("logsumexp", x)
    return LogSumExp.apply(x, axes=_axes("logsumexp", dim, x.ndim), keepdim=keepdim)


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m);  dx = y * (dy - sum_j dy_j y_j)"""

    reads_output = True  # backward reads self.output

    def forward(self, x, dim):
        xp = get_array_module(x)
        self.dim = dim
        axis = dim if x.ndim else None  # a 0-d tensor: its one element (softmax is 1)
        if x.size == 0:  # nothing to normalize (the max below has no identity): empty, as torch
            return x.copy()
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(self, dy):
        y = self.output
        return y * (dy - sum(dy * y, self.dim, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dx = dy - softmax(x) * sum_j dy_j"""

    reads_output = True  # backward reads self.output

    def forward(self, x, dim):
        xp = get_array_module(x)
        self.dim = dim
        axis = dim if x.ndim else None  # a 0-d tensor: its one element (log_softmax is 0)
        if x.size == 0:  # nothing to normalize: empty, as torch
            return x.copy()
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, dy):
        return dy - exp(self.output) * sum(dy, self.dim, keepdim=True)


def _softmax_dim(op: str, x: Tensor, dim) -> int:
    if dim is None:
        raise TypeError(f"{op}: dim must be given explicitly (e.g. dim=-1)")
    return _dim(op, dim, x.ndim)


def softmax(x: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmax(x)_i = e^(x_i) / sum_j e^(x_j) along ``dim`` (computed as e^(x_i - max x))."""
    x = _float_input("softmax", x) if dtype is None else cast(x, dtype)
    return Softmax.apply(x, dim=_softmax_dim("softmax", x, dim))


def log_softmax(x: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """log_softmax(x)_i = x_i - logsumexp(x); stable for logits of any size."""
    x = _float_input("log_softmax", x) if dtype is None else cast(x, dtype)
    return LogSoftmax.apply(x, dim=_softmax_dim("log_softmax", x, dim))


# ----------------------------------------------------------------------------------------------
# More of torch's reductions: count_nonzero, nansum/nanmean, quantile, cummax/cummin,
# logcumsumexp, aminmax, mode, msort, unique, bincount, histc
# ----------------------------------------------------------------------------------------------

AminmaxResult = namedtuple("AminmaxResult", ["min", "max"])
CummaxResult = namedtuple("CummaxResult", ["values", "indices"])
CumminResult = namedtuple("CumminResult", ["values", "indices"])
ModeResult = namedtuple("ModeResult", ["values", "indices"])


def count_nonzero(x: Tensor, dim=None) -> Tensor:
    """The number of non-zero entries over ``dim`` (all when None; an int or a tuple), int64.
    Not differentiable (a count)."""
    _tensor_input("count_nonzero", x)
    axes = _axes("count_nonzero", dim, x.ndim)
    counts = (x.data != 0).sum(axis=axes).astype(np.int64)
    return Tensor._wrap(get_array_module(x.data).asarray(counts), False)


class NanSum(Function):
    """y = sum of x over ``axes`` treating NaN as 0;  dx = dy * (x is not NaN), dy broadcast
    back over the summed axes. A product, as torch's: an infinite or NaN dy gives NaN at the
    NaNs too (nanmean of an all-NaN slice has a NaN gradient there, like torch)."""

    reads_inputs = False  # its backward needs only x's shape and the mask

    def forward(self, x, axes, keepdim):
        xp = get_array_module(x)
        self.axes = axes
        nan = xp.isnan(x)
        self.number = (~nan).astype(x.dtype)  # 1 at the numbers, 0 at the NaNs
        return xp.where(nan, 0, x).sum(axis=axes, keepdims=keepdim)

    def backward(self, dy):
        (x,) = self.inputs
        shape = _keepdim_shape(x.shape, self.axes)  # dy with the summed axes kept, as size 1
        return broadcast_to(reshape(dy, shape), x.shape) * self.number


def nansum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Sum over ``dim`` treating NaN as 0 (see NanSum); bool and int inputs sum to int64."""
    _tensor_input("nansum", x)
    axes = _axes("nansum", dim, x.ndim)
    x = _accumulating(x, dtype)
    if x.dtype.kind != "f":  # no NaN to skip
        return Sum.apply(x, axes=axes, keepdim=keepdim)
    return NanSum.apply(x, axes=axes, keepdim=keepdim)


def nanmean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean of the non-NaN entries over ``dim``: nansum(x) / (number of non-NaN);
    dx = dy / count at the numbers, 0 at the NaNs (NaN where a slice has no number: dy / 0
    times 0, as torch).
    """
    _tensor_input("nanmean", x)
    if x.dtype.kind != "f":
        raise TypeError(f"nanmean: expected input to have floating point dtype but got "
                        f"{x.dtype}")
    axes = _axes("nanmean", dim, x.ndim)
    xp = get_array_module(x.data)
    count = (~xp.isnan(x.data)).sum(axis=axes, keepdims=keepdim).astype(x.dtype)
    with np.errstate(invalid="ignore"):  # no number in a slice: 0 / 0 = NaN, silently (torch)
        return nansum(x, axes, keepdim) / Tensor._wrap(xp.asarray(count))


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op: str, x: Tensor, q, dim, keepdim: bool, interpolation: str,
              ignore_nan: bool) -> Tensor:
    """quantile / nanquantile as torch computes them (see ``quantile``)."""
    _tensor_input(op, x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input tensor must be either float or double dtype, got "
                        f"{x.dtype}")
    if interpolation not in _QUANTILE_MODES:
        raise ValueError(f"{op}: interpolation must be one of linear, lower, higher, midpoint "
                         f"or nearest. Got {interpolation!r}")
    xp = get_array_module(x.data)
    if isinstance(q, Tensor):
        if q.dtype != x.dtype:
            raise TypeError(f"{op}: q tensor must be same dtype as the input tensor, got "
                            f"{q.dtype} and {x.dtype}")
        if q.ndim > 1:
            raise ValueError(f"{op}: q must be a scalar or 1D tensor, got shape "
                             f"{tuple(q.shape)}")
        scalar_q = q.ndim == 0
        qs = q.data.reshape(-1)
    else:
        scalar_q = True
        qs = xp.asarray([float(q)], dtype=x.dtype)
    if qs.size and not bool(((qs >= 0) & (qs <= 1)).all()):  # NaN fails both
        raise ValueError(f"{op}: q values must be in the range [0, 1], got {qs.tolist()}")
    if x.data.size == 0:
        raise IndexError(f"{op}: input tensor must be non-empty (shape {tuple(x.shape)})")
    if dim is None:
        xm, d = reshape(x, -1), None  # (n,)
    else:
        d = _dim(op, dim, x.ndim)
        xm = reshape(x, 1) if x.ndim == 0 else movedim(x, d, -1)  # (B..., n)
    s = sort(xm, -1).values  # NaN last
    n = s.shape[-1]
    nan = xp.isnan(s.data)
    Q = qs.size
    qb = qs.reshape((Q,) + (1,) * s.ndim)  # (Q, 1..., 1)
    if ignore_nan:
        ranks = qb * ((~nan).sum(axis=-1, keepdims=True) - 1)  # (Q, B..., 1)
        ranks = xp.where(ranks < 0, 0, ranks)
    else:
        ranks = xp.where(nan.any(axis=-1, keepdims=True), n - 1, qb * (n - 1))
    ranks = xp.asarray(ranks, dtype=x.dtype)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)  # half to even, as torch.round
    below = ranks.astype(np.int64)
    sq = broadcast_to(s, (Q,) + s.shape)  # (Q, B..., n)
    from .shape import gather

    y = gather(sq, s.ndim, below)  # (Q, B..., 1)
    if interpolation in ("linear", "midpoint"):
        if interpolation == "midpoint":
            weights = xp.full_like(ranks, 0.5)
        else:
            weights = ranks - xp.floor(ranks)  # (in x's dtype: ranks - below is float64)
        above = gather(sq, s.ndim, xp.ceil(ranks).astype(np.int64))
        # lerp(below, above, w): d below = 1 - w, d above = w
        y = y + Tensor._wrap(weights) * (above - y)
    y = reshape(y, y.shape[:-1])  # (Q, B...)
    if keepdim:
        # a 0-d x keeps its 0 dims (torch), whatever dim names
        kept = (1,) * x.ndim if d is None or x.ndim == 0 else x.shape[:d] + (1,) + x.shape[d + 1:]
        y = reshape(y, (Q,) + kept)
    return reshape(y, y.shape[1:]) if scalar_q else y


def quantile(x: Tensor, q, dim=None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-quantiles of x along ``dim`` (all elements when None); q a float or a 1-d tensor
    of x's dtype (its dim comes first in the result).

    With s = x sorted along dim and r = q (n - 1): linear s[floor r] + (r - floor r)
    (s[ceil r] - s[floor r]); lower s[floor r]; higher s[ceil r]; nearest s[round r] (half to
    even); midpoint the mean of s[floor r] and s[ceil r]. A slice holding NaN gives NaN.
    dx: dy * (1 - w) to the entry at floor r and dy * w to the one at ceil r (through the sort:
    ties go to the entry a stable sort puts there), as torch.

    >>> import tinygrad_edu as tg
    >>> quantile(tg.tensor([1.0, 2.0, 4.0]), 0.75).item()
    3.0
    """
    return _quantile("quantile", x, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(x: Tensor, q, dim=None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaN: r = q (number of non-NaN - 1); an all-NaN slice gives NaN."""
    return _quantile("nanquantile", x, q, dim, keepdim, interpolation, ignore_nan=True)


def _cumulative_extreme_index(a, d: int, smallest: bool):
    """The index of the running max (min) along ``d``, torch's rule: a later entry equal to
    the running extreme takes over (>=), and so does every NaN (a NaN, once seen, stays)."""
    xp = get_array_module(a)
    a = xp.moveaxis(a, d, -1)  # (B..., n)
    index = xp.zeros(a.shape, dtype=np.int64)
    best = a[..., 0].copy()
    at = xp.zeros(a.shape[:-1], dtype=np.int64)
    floating = a.dtype.kind == "f"
    for i in range(1, a.shape[-1]):
        v = a[..., i]
        better = (v <= best) if smallest else (v >= best)
        if floating:
            better = xp.isnan(v) | (~xp.isnan(best) & better)
        best = xp.where(better, v, best)
        at = xp.where(better, i, at)
        index[..., i] = at
    return xp.moveaxis(index, -1, d)


def _cumulative_extreme(op: str, result, x: Tensor, dim: int, smallest: bool):
    _tensor_input(op, x)
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        index = get_array_module(x.data).zeros((), dtype=np.int64)
        return result(x.clone(), Tensor._wrap(index, False))
    if x.shape[d] == 0:
        index = get_array_module(x.data).zeros(x.shape, dtype=np.int64)
        return result(x.clone(), Tensor._wrap(index, False))
    index = _cumulative_extreme_index(x.data, d, smallest)
    return result(TakeAlongDim.apply(x, index=index, dim=d), Tensor._wrap(index, False))


def cummax(x: Tensor, dim: int):
    """Running maximum along ``dim`` -> (values, indices): values_j = max(x_0..x_j) and the
    index it came from (the last of equal entries; NaN propagates). dx: each dy_j goes to the
    entry at indices_j (scatter-added), as torch.

    >>> import tinygrad_edu as tg
    >>> cummax(tg.tensor([1.0, 3.0, 2.0, 3.0]), 0).indices.tolist()
    [0, 1, 1, 3]
    """
    return _cumulative_extreme("cummax", CummaxResult, x, dim, smallest=False)


def cummin(x: Tensor, dim: int):
    """Running minimum along ``dim`` -> (values, indices); like cummax."""
    return _cumulative_extreme("cummin", CumminResult, x, dim, smallest=True)


class LogCumSumExp(Function):
    """y_j = log sum_{i <= j} e^(x_i) along ``dim``;
    dx_i = sum_{j >= i} dy_j e^(x_i - y_j), computed without overflow as
    e^(x_i + rlcse(log dy+ - y)_i) - e^(x_i + rlcse(log dy- - y)_i), rlcse the logcumsumexp
    from the other end and dy+ / dy- the positive and negative parts of dy (torch's way)."""

    reads_output = True  # backward reads self.output

    def forward(self, x, dim):
        self.dim = dim
        xp = get_array_module(x)
        if x.ndim == 0:
            return x.copy()
        if xp is np:
            with np.errstate(invalid="ignore"):
                return np.logaddexp.accumulate(x, axis=dim)
        m = x.max(axis=dim, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        return xp.log(xp.cumsum(xp.exp(x - m), axis=dim)) + m

    def backward(self, dy):
        (x,) = self.inputs
        if x.ndim == 0:
            return dy
        y = self.output
        # "log 0" is the lowest finite number, not -inf, as torch: -inf would give the
        # backward of the inner logcumsumexp -inf - (-inf) = NaN (wrong second derivatives)
        lowest = float(np.finfo(x.dtype).min)
        grad = None
        for part in (dy.data > 0, dy.data < 0):
            log_part = where(part, abs_(where(part, dy, 1.0)), 1.0).log()
            log_part = where(part, log_part, lowest)
            term = exp(x + flip(logcumsumexp(flip(log_part - y, self.dim), self.dim), self.dim))
            grad = term if grad is None else grad - term
        return grad


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """Running log-sum-exp along ``dim`` (see LogCumSumExp); never overflows.

    >>> import tinygrad_edu as tg
    >>> round(logcumsumexp(tg.tensor([0.0, 0.0]), 0).tolist()[1], 6)
    0.693147
    """
    x = _float_input("logcumsumexp", x)
    return LogCumSumExp.apply(x, dim=_dim("logcumsumexp", dim, x.ndim))


def aminmax(x: Tensor, *, dim=None, keepdim: bool = False):
    """(amin, amax) over ``dim`` (all elements when None) -> (min, max); each differentiable
    as amin / amax (tied extremes share dy evenly), as torch's aminmax."""
    _tensor_input("aminmax", x)
    if dim is not None and dim.__class__ is not int and not isinstance(dim, numbers.Integral):
        raise TypeError(f"aminmax: dim must be an int or None, got {type(dim).__name__}")
    _check_nonempty("aminmax", x, _axes("aminmax", dim, x.ndim))
    lo, hi = amin(x, dim, keepdim), amax(x, dim, keepdim)
    if dim is None and keepdim:
        lo, hi = reshape(lo, (1,) * x.ndim), reshape(hi, (1,) * x.ndim)
    return AminmaxResult(lo, hi)


def _mode_index(a):
    """For each row of ``a`` (B, n): the index of its mode, torch's rule on CPU: the most
    frequent value, the smallest of equally frequent ones, at its last position."""
    xp = get_array_module(a)
    host = a if xp is np else xp.asnumpy(a)
    out = np.zeros(host.shape[0], dtype=np.int64)
    for r, row in enumerate(host):
        order = np.argsort(row, kind="stable")
        s = row[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        counts = np.diff(np.r_[starts, s.size])
        best = int(np.argmax(counts))  # first = smallest value among the most frequent
        out[r] = order[starts[best] + counts[best] - 1]  # its last position (stable sort)
    return xp.asarray(out)


def mode(x: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` -> (values, indices): the smallest of equally
    frequent values, and the last position holding it (torch on CPU). dx = dy at that index.

    >>> import tinygrad_edu as tg
    >>> mode(tg.tensor([1.0, 2.0, 2.0, 1.0, 3.0])).indices.item()
    3
    """
    x1, d = _order_input("mode", x, dim)
    n = x1.shape[d]
    if n == 0:
        raise IndexError(f"mode: expected reduction dim {d} to have non-zero size (input "
                         f"shape {tuple(x.shape)})")
    xp = get_array_module(x1.data)
    rows = xp.moveaxis(x1.data, d, -1).reshape(-1, n)  # (B, n)
    batch = x1.shape[:d] + x1.shape[d + 1:]
    index = xp.expand_dims(_mode_index(rows).reshape(batch), d)
    return _values_and_indices(ModeResult, x, x1, index, d, squeeze=not keepdim)


def msort(x: Tensor) -> Tensor:
    """x sorted along dim 0: sort(x, 0).values; dx = dy put back where each value came from."""
    _tensor_input("msort", x)
    return sort(x, 0).values


def _unique_result(values, inverse, counts, return_inverse: bool, return_counts: bool):
    out = [Tensor._wrap(values, False)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(np.int64), False))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64), False))
    return out[0] if len(out) == 1 else tuple(out)


def _unique_dim(op: str, x: Tensor, dim) -> int:
    """``dim`` normalized for unique / unique_consecutive; like torch, an empty x can only be
    split along its one empty dimension (the slices along another would have no entries)."""
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        raise IndexError(f"{op}: dim {dim} given for a 0-d tensor")
    empty_dims = [a for a, n in enumerate(x.shape) if n == 0]
    if empty_dims and empty_dims != [d]:
        raise ValueError(f"{op}: an empty tensor can only be split along its one empty "
                         f"dimension, got dim {dim} (input shape {tuple(x.shape)})")
    return d


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim=None):
    """The distinct entries of x (of the flattened x; with ``dim``, the distinct slices along
    dim), in ascending order, with optionally the inverse (where each entry of x went) and the
    counts. NaN equals nothing, so every NaN is its own entry (as torch without dim). Not
    differentiable (the outputs need no grad, as torch's)."""
    _tensor_input("unique", x)
    xp = get_array_module(x.data)
    if dim is None:
        values, inverse, counts = xp.unique(x.data.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(x.shape)
    else:
        d = _unique_dim("unique", x, dim)
        values, inverse, counts = np.unique(
            x.data if xp is np else xp.asnumpy(x.data), axis=d, return_inverse=True,
            return_counts=True, equal_nan=False)
        values, inverse, counts = (xp.asarray(a) for a in (values, inverse.reshape(-1), counts))
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(x: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim=None):
    """Collapse runs of equal consecutive entries (of the flattened x; with ``dim``, of equal
    consecutive slices along dim) to one, with optionally the inverse and the run lengths.
    Not differentiable."""
    _tensor_input("unique_consecutive", x)
    xp = get_array_module(x.data)
    if dim is None:
        a = x.data.reshape(-1, 1)  # (n, 1): one "slice" per entry
    else:
        d = _unique_dim("unique_consecutive", x, dim)
        rest = _count(x.shape, tuple(a for a in range(x.ndim) if a != d))
        a = xp.moveaxis(x.data, d, 0).reshape(x.shape[d], rest)  # (n, rest)
    n = a.shape[0]
    new = xp.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (a[1:] != a[:-1]).any(axis=1)
    run = xp.cumsum(new) - 1  # the run each entry belongs to
    starts = xp.flatnonzero(new)
    counts = xp.diff(xp.concatenate([starts, xp.asarray([n])]))
    if dim is None:
        values = x.data.reshape(-1)[starts]
        inverse = run.reshape(x.shape)
    else:
        values = xp.take(x.data, starts, axis=d)
        inverse = run
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def bincount(x: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ..., max(x) occurs in the 1-d non-negative integer tensor x
    (at least ``minlength`` bins); with ``weights`` the sum of the weights instead (float
    weights keep their dtype, others give float64). Not differentiable (torch has no
    derivative for it either)."""
    _tensor_input("bincount", x)
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise ValueError(f"bincount: only 1-d integer tensors are supported, got shape "
                         f"{tuple(x.shape)} and dtype {x.dtype}")
    if minlength < 0:
        raise ValueError(f"bincount: minlength should be >= 0, got {minlength}")
    if x.data.size and int(x.data.min()) < 0:
        raise ValueError("bincount: input should contain only non-negative values")
    xp = get_array_module(x.data)
    if weights is None:
        return Tensor._wrap(xp.bincount(x.data, minlength=minlength).astype(np.int64), False)
    w = weights.data if isinstance(weights, Tensor) else xp.asarray(weights)
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError(f"bincount: weights should be 1-d and have the same length as input "
                         f"(input {tuple(x.shape)}, weights {tuple(w.shape)})")
    dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    counts = xp.bincount(x.data, weights=w.astype(np.float64), minlength=minlength)
    return Tensor._wrap(counts.astype(dtype), False)


def histc(x: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of x with ``bins`` equal bins over [min, max] (x's own min and max when both
    are 0 or equal; entries outside are ignored; x == max goes into the last bin). Float
    input; the result has x's dtype. Not differentiable (torch has no derivative either)."""
    _tensor_input("histc", x)
    if x.dtype.kind != "f":
        raise TypeError(f"histc: expected a floating point input, got dtype {x.dtype}")
    if bins <= 0:
        raise ValueError(f"histc: bins must be > 0, got {bins}")
    xp = get_array_module(x.data)
    a = x.data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi or not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"histc: max must be larger than min and both finite, got min {lo} "
                         f"and max {hi}")
    lo_, hi_ = a.dtype.type(lo), a.dtype.type(hi)  # the outer bin edges, in x's dtype
    a = a[(a >= lo_) & (a <= hi_)]
    # bin (x - min) * bins / (max - min) in x's dtype, in torch's order: the same rounding,
    # so the same bin for an entry on (or next to) an inner edge
    pos = ((a - lo_) * bins / (hi_ - lo_)).astype(np.int64)
    pos = xp.where(pos == bins, bins - 1, pos)
    return Tensor._wrap(xp.bincount(pos, minlength=bins).astype(x.dtype), False)
