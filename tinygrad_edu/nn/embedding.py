"""Embedding: a lookup table of learned vectors, indexed by integer ids (tokens, classes);
EmbeddingBag: the sum, mean or max of those vectors over each bag of ids."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, no_grad
from ..backend import get_array_module
from ..functional.elementwise import where
from ..functional.shape import _reduce_at, getitem, index_add, index_put_zeros, reshape
from ..tensor import Tensor, empty
from . import init
from .module import Module, Parameter


class EmbeddingLookup(Function):
    """out[..., :] = W[idx[...], :]   (W: (V, D), idx: (*) ints -> out: (*, D)).

    dW = zeros (V, D) with dout[..., :] added into row idx[...] (a row used k times gets the
    sum of its k upstream gradients, divided by k with ``scale_grad_by_freq``); rows equal to
    ``padding_idx`` receive no gradient. The indices get no gradient (they are integers).
    """

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq=False):
        self.indices = indices
        self.padding_idx = padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq
        return weight[indices]  # (*, D)

    def backward(self, dy):
        (weight,) = self.inputs
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(dy.dtype)  # (*, 1)
            dy = dy * Tensor._wrap(keep)
        if self.scale_grad_by_freq:  # each lookup of a row used k times in the batch counts 1/k
            xp = get_array_module(self.indices)
            counts = xp.bincount(self.indices.reshape(-1), minlength=weight.shape[0])  # (V,)
            dy = dy / Tensor._wrap(counts[self.indices][..., None].astype(dy.dtype))  # (*, D)
        return index_put_zeros(dy, self.indices, weight.shape)  # (V, D)


def _renorm_rows_(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    """``torch.embedding_renorm_``: every row of ``weight`` that ``indices`` names and whose
    ``norm_type``-norm exceeds ``max_norm`` is scaled in place (not recorded by autograd),
    W[i] *= max_norm / (||W[i]|| + 1e-7)."""
    xp = get_array_module(weight.data)
    rows = xp.unique(indices.reshape(-1))  # (U,) each named row once
    norms = xp.linalg.norm(weight.data[rows], ord=norm_type, axis=1)  # (U,)
    big = norms > max_norm
    scale = max_norm / (norms[big] + 1e-7)  # one factor per row over max_norm
    weight.data[rows[big]] *= scale[:, None].astype(weight.data.dtype)


def _index_array(op: str, indices, weight: Tensor):
    """The integer index array on the weight's device, range-checked against its rows."""
    data = indices.data if isinstance(indices, Tensor) else indices
    xp = get_array_module(weight.data)
    data = xp.asarray(data)  # lists -> arrays; host indices -> the weight's device
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: indices must be an integer tensor (int64 or int32), got dtype {data.dtype} "
            f"(shape {tuple(data.shape)}); convert with .long()"
        )
    rows = weight.shape[0]
    if data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < 0 or hi >= rows:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"{op}: index {bad} is out of range [0, {rows}) (indices shape "
                f"{tuple(data.shape)}, weight shape {tuple(weight.shape)})"
            )
    return data


def embedding(input, weight: Tensor, padding_idx: int | None = None,  # noqa: A002 - torch name
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (V, D) for integer ``input`` of any shape (*) -> (*, D).
    The row ``padding_idx`` (if given) receives no gradient. ``max_norm``: the rows looked up
    whose ``norm_type``-norm exceeds it are first scaled down to it, in place in ``weight``
    (as torch). ``scale_grad_by_freq``: a row's gradient is divided by how often the input
    names it."""
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not implemented")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (V, D), got shape {tuple(weight.shape)}")
    V = weight.shape[0]
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within [-{V}, {V}) "
                             f"(weight shape {tuple(weight.shape)})")
        padding_idx = int(padding_idx) % V
    indices = _index_array("embedding", input, weight)
    if max_norm is not None:
        _renorm_rows_(weight, indices, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, indices=indices, padding_idx=padding_idx,
                                 scale_grad_by_freq=scale_grad_by_freq)


class _EmbeddingTable(Module):
    """What Embedding and EmbeddingBag share: the (V, D) weight table, its padding row (zero,
    never updated) and torch's checks and init of both."""

    def _init_table(self, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight, freeze: bool, device, dtype) -> None:
        name = type(self).__name__
        for arg, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name}: {arg} must be a non-negative int, got {value!r}")
        if sparse:
            raise NotImplementedError(f"{name}: sparse gradients are not implemented")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"{self._describe()}: padding_idx {padding_idx} must be within "
                    f"[-{num_embeddings}, {num_embeddings})"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim, dtype=dtype,
                                          device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(
                    f"{name}: _weight has shape {tuple(_weight.shape)}, expected "
                    f"({self.num_embeddings}, {self.embedding_dim})"
                )
            self.weight = Parameter(_weight, requires_grad=not freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1); the padding row is zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.num_embeddings}, {self.embedding_dim})"


class Embedding(_EmbeddingTable):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``: (*) ids -> (*, D).

    Init: weight ~ N(0, 1) (torch's default, std 1), with the ``padding_idx`` row set to zero;
    that row never receives a gradient, so it stays zero during training (a "no token" id).
    ``max_norm`` and ``scale_grad_by_freq`` as in ``embedding`` (the rows a forward looks up
    are renormalized in place).

    >>> import tinygrad_edu as tg
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(tg.tensor([[0, 2], [4, 9]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self._init_table(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, _freeze, device, dtype)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, **kwargs) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (V, D), frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d (V, D), got "
                             f"shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze,
                   **kwargs)

    def forward(self, input) -> Tensor:
        data = _index_array(self._describe(), input, self.weight)
        if self.max_norm is not None:
            _renorm_rows_(self.weight, data, self.max_norm, self.norm_type)
        return EmbeddingLookup.apply(self.weight, indices=data, padding_idx=self.padding_idx,
                                     scale_grad_by_freq=self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return text


# ----------------------------------------------------------------------------------------------
# EmbeddingBag: the sum, mean or max of the embeddings of each bag of ids
# ----------------------------------------------------------------------------------------------

_BAG_MODES = ("sum", "mean", "max")


def _bag_of_each_id(op: str, indices, offsets, include_last_offset: bool):
    """The ids as one flat array (L,), the bag each id belongs to (L,; -1 for ids outside every
    bag) and the number of bags B. A 2-d input (B, N) is B bags of N ids (offsets must be None;
    include_last_offset changes nothing); a 1-d input (L,) is cut at ``offsets``: bag b is
    input[offsets[b]:offsets[b + 1]], the last one running to the end of the input. With
    include_last_offset, offsets holds B + 1 entries, the last one meant to be L (CSR style);
    a smaller one still lets the last bag run to the end of the input, as torch's general
    path does (torch's float32 sum/mean fast path without padding_idx stops it there)."""
    xp = get_array_module(indices)
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(
                f"{op}: if input is 2D, then offsets has to be None, as input is treated as a "
                f"mini-batch of fixed length sequences (input {tuple(indices.shape)})"
            )
        B, N = indices.shape
        bag_of = xp.repeat(xp.arange(B), N)  # (B * N,)
        return indices.reshape(-1), bag_of, B
    if indices.ndim != 1:
        raise ValueError(
            f"{op}: input has to be a 1D or 2D tensor, got shape {tuple(indices.shape)}"
        )
    if offsets is None:
        raise ValueError(f"{op}: offsets has to be a 1D tensor when input is 1D, but got None")
    starts = xp.asarray(offsets.data if isinstance(offsets, Tensor) else offsets)
    if starts.dtype.kind not in "iu":
        raise TypeError(f"{op}: offsets must be an integer tensor, got dtype {starts.dtype}")
    if starts.ndim != 1:
        raise ValueError(f"{op}: offsets has to be a 1D tensor, got shape {tuple(starts.shape)}")
    L = indices.shape[0]
    if starts.size:
        first, last = int(starts[0]), int(starts[-1])
        if first != 0:
            raise ValueError(
                f"{op}: offsets[0] has to be 0, i.e., the first bag has to start at position "
                f"0, but got {first}"
            )
        if last > L:
            raise ValueError(
                f"{op}: offsets[-1] can not be greater than input's length {L} but got "
                f"offsets[-1] of {last}"
            )
        if bool((starts[1:] < starts[:-1]).any()):
            raise ValueError(f"{op}: offsets must be non-decreasing, got {starts.tolist()}")
    if include_last_offset:
        if starts.size == 0:
            raise ValueError(f"{op}: include_last_offset=True needs at least one offset")
        starts = starts[:-1]  # the last one only closes the last bag
    B = int(starts.size)
    bag_of = xp.searchsorted(starts, xp.arange(L), side="right") - 1  # (L,) the last start <= i
    return indices, bag_of, B


def _embedding_bag(op: str, input, weight: Tensor, offsets, mode: str,  # noqa: A002
                   per_sample_weights, include_last_offset: bool, padding_idx,
                   max_norm: float | None = None, norm_type: float = 2.0) -> Tensor:
    if mode not in _BAG_MODES:
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-d (V, D), got shape {tuple(weight.shape)}")
    V, D = weight.shape
    indices = _index_array(op, input, weight)
    if max_norm is not None:  # every row the input names, padding rows too (as torch)
        _renorm_rows_(weight, indices, max_norm, norm_type)
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"{op}: per_sample_weights was not None. per_sample_weights is only supported "
                f"for mode='sum' (got mode={mode!r})"
            )
        if not isinstance(per_sample_weights, Tensor):
            raise TypeError(f"{op}: per_sample_weights must be a Tensor, got "
                            f"{type(per_sample_weights).__name__}")
        if tuple(per_sample_weights.shape) != tuple(indices.shape):
            raise ValueError(
                f"{op}: per_sample_weights {tuple(per_sample_weights.shape)} must have the "
                f"same shape as the input {tuple(indices.shape)}"
            )
        if per_sample_weights.dtype != weight.dtype:
            raise TypeError(
                f"{op}: per_sample_weights must have the weight's dtype {weight.dtype}, got "
                f"{per_sample_weights.dtype}"
            )
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(
                f"{op}: padding_idx must be within the number of embeddings, {-V} through "
                f"{V - 1}, but got {padding_idx}"
            )
        padding_idx = int(padding_idx) % V
    ids, bag_of, B = _bag_of_each_id(op, indices, offsets, include_last_offset)
    xp = get_array_module(weight.data)
    keep = bag_of >= 0
    if padding_idx is not None:
        keep &= ids != padding_idx  # padding ids are left out of their bag (and of its count)
    kept = xp.nonzero(keep)[0]  # (K,) the ids that count, in input order
    ids, bag_of = ids[kept], bag_of[kept]  # (K,), (K,)
    K = int(kept.size)
    zeros = Tensor._wrap(xp.zeros((B, D), dtype=weight.dtype))
    if mode == "max" and K > 0:  # (with no id at all, the sum below gives the zeros)
        # per bag and feature, the first id holding the bag's maximum (torch's argmax): its
        # weight entry is the output and takes the whole gradient
        values = weight.data[ids]  # (K, D)
        cols = xp.arange(D)[None, :]  # (1, D)
        bag_max = xp.full((B, D), -xp.inf, dtype=weight.dtype)
        _reduce_at(bag_max, (bag_of[:, None], cols), values, "amax")
        at_max_i, at_max_d = xp.nonzero(values == bag_max[bag_of])  # the maxima in (K, D)
        # float64 positions: exact below 2**53, and CuPy's scatter_min takes no int64
        first = xp.full((B, D), K, dtype=np.float64)
        _reduce_at(first, (bag_of[at_max_i], at_max_d), at_max_i.astype(np.float64), "amin")
        first = first.astype(np.int64)  # (B, D) position in ids; K where the bag is empty
        winner = ids[xp.minimum(first, K - 1)]  # (B, D) the row of weight each output reads
        out = getitem(weight, (winner, cols))  # (B, D)
        return where(first == K, zeros, out)  # empty bags give zeros
    rows = EmbeddingLookup.apply(weight, indices=ids, padding_idx=None)  # (K, D)
    if per_sample_weights is not None:
        scale = getitem(reshape(per_sample_weights, -1), kept)  # (K,)
        rows = rows * reshape(scale, (K, 1))
    out = index_add(zeros, 0, bag_of, rows)  # (B, D) the sum of each bag
    if mode == "mean":
        counts = xp.bincount(bag_of, minlength=B).astype(weight.dtype)  # (B,)
        out = out / Tensor._wrap(xp.maximum(counts, 1)[:, None])  # empty bags stay 0
    return out


def embedding_bag(input, weight: Tensor, offsets=None,  # noqa: A002 - torch name
                  max_norm: float | None = None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the embeddings (rows of ``weight`` (V, D)) of each bag of ids:
    (B, N) ids (B bags of N), or (L,) ids cut into bags at ``offsets`` -> (B, D).

        sum   out[b] = Σ_{i in bag b} w_i · W[id_i]    (w_i = per_sample_weights, else 1)
        mean  out[b] = Σ_{i in bag b} W[id_i] / n_b    (n_b ids in bag b)
        max   out[b, d] = max_{i in bag b} W[id_i, d]

    dW[id_i] += w_i · dout[b] (sum), dout[b] / n_b (mean), and for max each dout[b, d] goes to
    the first id of the bag that holds the maximum (torch's argmax); dw_i = dout[b] · W[id_i].
    Ids equal to ``padding_idx`` are left out of their bag (not counted by the mean, no
    gradient); an empty bag gives zeros. Built from embedding rows + index_add (sum, mean) or
    a gather of the argmax rows (max), so the gradients follow from those ops. ``max_norm``:
    the rows the input names are first renormalized in place, as in ``embedding``.

    ``scale_grad_by_freq`` and ``sparse`` are refused (NotImplementedError): torch 2.13's CPU
    embedding_bag divides the gradients by counts that do not match the ids' frequencies
    (an id used once in a batch of seven can get 1/3), so there is no behaviour to port.

    >>> import tinygrad_edu as tg
    >>> W = tg.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> embedding_bag(tg.tensor([0, 2, 1]), W, tg.tensor([0, 2, 2]), mode="sum").tolist()
    [[4.0, 6.0], [0.0, 0.0], [2.0, 3.0]]
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding_bag: scale_grad_by_freq and sparse are not implemented"
        )
    return _embedding_bag("embedding_bag", input, weight, offsets, mode, per_sample_weights,
                          include_last_offset, padding_idx, max_norm, norm_type)


class EmbeddingBag(_EmbeddingTable):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` reduced per bag of ids
    (``mode`` "sum", "mean" or "max"): (B, N) ids, or (L,) ids with offsets -> (B, D).
    ``forward(input, offsets=None, per_sample_weights=None)`` is ``embedding_bag`` with this
    table (see there for the formulas and gradients).

    Init: weight ~ N(0, 1) (torch's default), with the ``padding_idx`` row set to zero.

    >>> import tinygrad_edu as tg
    >>> bag = EmbeddingBag(10, 3, mode="sum")
    >>> bag(tg.tensor([1, 2, 4, 5, 4]), tg.tensor([0, 2])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx: int | None = None, device=None, dtype=None):
        super().__init__()
        if mode not in _BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got {mode!r}")
        if scale_grad_by_freq or sparse:
            raise NotImplementedError(
                "EmbeddingBag: scale_grad_by_freq and sparse are not implemented (see "
                "embedding_bag)"
            )
        self._init_table(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, False, device, dtype)
        self.mode = mode
        self.include_last_offset = include_last_offset

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (V, D), frozen unless
        ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-d (V, D), got "
                             f"shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        bag = cls(rows, dim, max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input, offsets=None,  # noqa: A002 - torch name
                per_sample_weights: Tensor | None = None) -> Tensor:
        return _embedding_bag(self._describe(), input, self.weight, offsets, self.mode,
                              per_sample_weights, self.include_last_offset, self.padding_idx,
                              self.max_norm, self.norm_type)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
