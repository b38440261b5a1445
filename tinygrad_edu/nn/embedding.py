"""Embedding: a lookup table of learned vectors, indexed by integer ids (tokens, classes)."""

from __future__ import annotations

import numbers

from ..autograd import Function, no_grad
from ..backend import get_array_module
from ..functional.shape import index_put_zeros
from ..tensor import Tensor, empty
from . import init
from .module import Module, Parameter


class EmbeddingLookup(Function):
    """out[..., :] = W[idx[...], :]   (W: (V, D), idx: (*) ints -> out: (*, D)).

    dW = zeros (V, D) with dout[..., :] added into row idx[...] (a row used k times gets the
    sum of its k upstream gradients); rows equal to ``padding_idx`` receive no gradient.
    The indices get no gradient (they are integers).
    """

    def forward(self, weight, indices, padding_idx):
        self.indices = indices
        self.padding_idx = padding_idx
        return weight[indices]  # (*, D)

    def backward(self, dy):
        (weight,) = self.inputs
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(dy.dtype)  # (*, 1)
            dy = dy * Tensor._wrap(keep)
        return index_put_zeros(dy, self.indices, weight.shape)  # (V, D)


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
    The row ``padding_idx`` (if given) receives no gradient."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding: max_norm, scale_grad_by_freq and sparse are not implemented"
        )
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (V, D), got shape {tuple(weight.shape)}")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    indices = _index_array("embedding", input, weight)
    return EmbeddingLookup.apply(weight, indices=indices, padding_idx=padding_idx)


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``: (*) ids -> (*, D).

    Init: weight ~ N(0, 1) (torch's default, std 1), with the ``padding_idx`` row set to zero;
    that row never receives a gradient, so it stays zero during training (a "no token" id).

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
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {value!r}")
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError(
                "Embedding: max_norm, scale_grad_by_freq and sparse are not implemented"
            )
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} "
                    f"must be within [-{num_embeddings}, {num_embeddings})"
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
                    f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                    f"({self.num_embeddings}, {self.embedding_dim})"
                )
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1); the padding row is zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

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

    def forward(self, indices) -> Tensor:
        data = _index_array(self._describe(), indices, self.weight)
        return EmbeddingLookup.apply(self.weight, indices=data, padding_idx=self.padding_idx)

    def _describe(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
