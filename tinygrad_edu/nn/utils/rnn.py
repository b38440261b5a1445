"""Variable-length sequences for recurrent layers (``torch.nn.utils.rnn``): padding, packing and
their inverses.

Notation: T time steps (the longest length), B batch, ``*`` any trailing feature dims,
N = sum of the lengths (the number of real, non-padding time steps).

A batch of sequences of lengths ``L_b`` can be held two ways:

- padded: one (T, B, *) tensor (or (B, T, *) with ``batch_first``), each sequence followed
  (or, with ``padding_side='left'``, preceded) by ``padding_value``;
- packed (``PackedSequence``): the sequences sorted by decreasing length, then read time step
  by time step, keeping at step t only the ``batch_sizes[t]`` sequences still running::

      lengths 3, 2, 1   a0 a1 a2      data = [a0 b0 c0 | a1 b1 | a2]     (N, *)
                        b0 b1         batch_sizes = [3, 2, 1]            (T,)
                        c0

  A recurrent layer then runs step t on the first ``batch_sizes[t]`` rows of its state, so no
  padding ever enters the recurrence and each sequence stops at its own last step.

``sorted_indices[b]`` is the original batch position of the b-th longest sequence and
``unsorted_indices`` is its inverse permutation (both None when the input was already sorted).

Every function is built from differentiable Tensor ops (indexing, its adjoint
``index_put_zeros``, ``pad``, ``stack``), so gradients flow through packing and unpacking:
packing is one gather ``x[t_idx, b_idx]`` whose backward scatters the gradient back into the
padded layout (zero at the padding), and unpacking is that scatter, whose backward is the gather.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ... import functional as F
from ...backend import get_array_module
from ...functional.shape import index_put_zeros
from ...tensor import Tensor, int64

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def _int_list(op: str, what: str, values) -> list:
    """A list of Python ints from a list, tuple, array or integer Tensor."""
    if isinstance(values, Tensor):
        if values.dtype.kind not in "iu":
            raise TypeError(f"{op}: expected {what} to be an integer tensor, got dtype "
                            f"{values.dtype}")
        values = values.tolist()
    elif hasattr(values, "tolist"):  # a NumPy or CuPy array
        values = values.tolist()
    if isinstance(values, numbers.Integral):
        values = [values]
    return [int(v) for v in values]


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation: ``out[permutation[i]] = i`` (None stays None)."""
    if permutation is None:
        return None
    perm = np.asarray(_int_list("invert_permutation", "permutation", permutation))
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    return Tensor(inverse, dtype=int64, device=permutation.device)


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences in the packed layout (torch's ``PackedSequence``,
    a named tuple): ``data`` (N, *), ``batch_sizes`` (T,) int64 on the CPU, and
    ``sorted_indices`` / ``unsorted_indices`` (B,) int64 or None.

    Build one with ``pack_padded_sequence`` or ``pack_sequence`` rather than by hand.

    >>> import tinygrad_edu as tg
    >>> seqs = [tg.tensor([1.0, 2.0, 3.0]), tg.tensor([4.0, 5.0]), tg.tensor([6.0])]
    >>> p = pack_sequence(seqs)
    >>> p.data.tolist(), p.batch_sizes.tolist()
    ([1.0, 4.0, 6.0, 2.0, 5.0, 3.0], [3, 2, 1])
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as torch allows
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or one tuple "
                                f"(data, batch_sizes), got {type(data).__name__}")
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = Tensor(np.asarray(_int_list("PackedSequence", "batch_sizes",
                                                      batch_sizes), dtype=np.int64))
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)``; the indices follow data to its device, ``batch_sizes`` stays on the
        CPU (as in torch). Returns self when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices = self.sorted_indices
        unsorted_indices = self.unsorted_indices
        if sorted_indices is not None and sorted_indices.device != data.device:
            sorted_indices = sorted_indices.to(data.device)
            unsorted_indices = unsorted_indices.to(data.device)
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device=None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to(dtype=np.float64)

    def float(self) -> PackedSequence:  # noqa: A003 - torch's method name
        return self.to(dtype=np.float32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


# ----------------------------------------------------------------------------------------------
# Index bookkeeping shared by packing and unpacking
# ----------------------------------------------------------------------------------------------


def _packed_positions(batch_sizes: list) -> tuple:
    """For each row of the packed data, its time step and its (sorted) batch position:
    row offset_t + b holds step t of the b-th longest sequence. Two int64 arrays (N,)."""
    t_idx = np.repeat(np.arange(len(batch_sizes)), batch_sizes)  # (N,)
    b_idx = np.concatenate([np.arange(bs) for bs in batch_sizes]) if batch_sizes else t_idx
    return t_idx, b_idx


def _lengths_from_batch_sizes(batch_sizes: list) -> np.ndarray:
    """lengths[b] = the number of steps t with batch_sizes[t] > b (sorted order), (B,)."""
    bs = np.asarray(batch_sizes, dtype=np.int64)
    B = int(bs[0]) if bs.size else 0
    return (bs[None, :] > np.arange(B)[:, None]).sum(axis=1).astype(np.int64)  # (B,)


# ----------------------------------------------------------------------------------------------
# Padded <-> packed
# ----------------------------------------------------------------------------------------------


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given ``lengths`` into a ``PackedSequence``; data[offset_t + b] = input[t, sorted[b]].

    With ``enforce_sorted=True`` the lengths must already be in decreasing order; otherwise
    the batch is sorted here (stably) and ``sorted_indices`` records the order.

    Gradient: the packed rows' gradients go back to their places in ``input``; the padding
    gets zero.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])          # (B, T), lengths 3, 2
    >>> p = pack_padded_sequence(x, [3, 2], batch_first=True)
    >>> p.data.tolist(), p.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{op}: expected a padded input of at least 2 dims (T, B, *), got "
                         f"shape {tuple(input.shape)}")
    x = input.transpose(0, 1) if batch_first else input  # (T, B, *)
    T, B = x.shape[0], x.shape[1]
    if T == 0 or B == 0:
        raise RuntimeError(f"{op}: Cannot pack empty tensors (input shape "
                           f"{tuple(input.shape)}, batch_first={batch_first})")
    lens = np.asarray(_int_list(op, "lengths", lengths), dtype=np.int64)
    if lens.ndim != 1 or lens.size != B:
        raise RuntimeError(f"{op}: expected len(lengths) to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={B}, input shape {tuple(input.shape)}, "
                           f"batch_first={batch_first})")
    if enforce_sorted:
        if np.any(lens[:-1] < lens[1:]):
            raise RuntimeError(
                f"{op}: `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True, got lengths "
                f"{lens.tolist()}. You can pass `enforce_sorted=False` to pack_padded_sequence "
                "and/or pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        order = None
    else:
        order = np.argsort(-lens, kind="stable")  # (B,) longest first, ties in input order
        lens = lens[order]
    if B == 0 or lens[-1] <= 0:
        raise RuntimeError(f"{op}: Length of all samples has to be greater than 0, but found "
                           f"an element in 'lengths' that is <= 0 (lengths {lens.tolist()})")
    if lens[0] > T:
        raise RuntimeError(f"{op}: the longest length {int(lens[0])} is more than the "
                           f"{T} time steps of the input (shape {tuple(input.shape)}, "
                           f"batch_first={batch_first})")
    batch_sizes = (lens[None, :] > np.arange(int(lens[0]))[:, None]).sum(axis=1)  # (T',)
    t_idx, b_idx = _packed_positions(batch_sizes.tolist())  # (N,), (N,)
    src_b = b_idx if order is None else order[b_idx]  # original batch position of each row
    data = x[t_idx, src_b]  # (N, *): one gather, its backward one scatter
    sorted_indices = None
    if order is not None:
        sorted_indices = Tensor(order.astype(np.int64), device=input.device)
    return PackedSequence(data, Tensor(batch_sizes.astype(np.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None) -> tuple:
    """The inverse of ``pack_padded_sequence``: returns ``(padded, lengths)`` with padded
    (T, B, *) (or (B, T, *) with ``batch_first``) in the original batch order, filled with
    ``padding_value`` past each length, T = ``total_length`` or the longest length, and
    ``lengths`` a (B,) int64 tensor on the CPU.

    Gradient: each packed row gets the gradient of the place it filled.

    >>> import tinygrad_edu as tg
    >>> p = pack_sequence([tg.tensor([1.0, 2.0]), tg.tensor([3.0])])
    >>> padded, lengths = pad_packed_sequence(p, batch_first=True, padding_value=-1.0)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0], [3.0, -1.0]], [2, 1])
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    batch_sizes = _int_list(op, "batch_sizes", sequence.batch_sizes)
    T_max = len(batch_sizes)
    T = T_max
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"{op}: expected total_length to be an int, got "
                            f"{total_length!r}")
        if total_length < T_max:
            raise ValueError(
                f"{op}: Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {T_max}"
            )
        T = int(total_length)
    B = batch_sizes[0] if batch_sizes else 0
    if sum(batch_sizes) != data.shape[0]:
        raise ValueError(f"{op}: batch_sizes {batch_sizes} add up to {sum(batch_sizes)} but "
                         f"data has {data.shape[0]} rows (shape {tuple(data.shape)})")
    t_idx, b_idx = _packed_positions(batch_sizes)  # (N,), (N,)
    lengths = _lengths_from_batch_sizes(batch_sizes)  # (B,) sorted order
    if sequence.sorted_indices is not None:
        order = np.asarray(_int_list(op, "sorted_indices", sequence.sorted_indices))
        b_idx = order[b_idx]  # straight to the original batch position
        unsorted = np.empty_like(lengths)
        unsorted[order] = lengths
        lengths = unsorted  # (B,) original order
    trailing = tuple(data.shape[1:])
    if batch_first:
        shape, positions = (B, T) + trailing, (b_idx, t_idx)
    else:
        shape, positions = (T, B) + trailing, (t_idx, b_idx)
    xp = get_array_module(data.data)
    index = tuple(xp.asarray(p) for p in positions)  # on data's device
    padded = index_put_zeros(data, index, shape)  # (T, B, *) or (B, T, *), zero at the padding
    if padding_value != 0:
        is_pad = np.ones(shape[:2], dtype=bool)  # (T, B) or (B, T)
        is_pad[positions] = False
        # where, not is_pad * padding_value: 0 * inf and 0 * nan are nan, not 0
        fill = np.where(is_pad, padding_value, 0).astype(data.dtype)  # (T, B) or (B, T)
        fill = fill.reshape(shape[:2] + (1,) * len(trailing))  # broadcasts over *
        padded = padded + Tensor(xp.asarray(fill))
    return padded, Tensor(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_b, *) into one padded (T, B, *) tensor, T = max L_b
    ((B, T, *) with ``batch_first``), filling with ``padding_value`` on the right (after each
    sequence) or, with ``padding_side='left'``, before it.

    Gradient: each sequence gets the slice of the gradient it filled.

    >>> import tinygrad_edu as tg
    >>> pad_sequence([tg.tensor([1.0, 2.0]), tg.tensor([3.0])], batch_first=True).tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    """
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{op}: Expected padding_side to be one of left or right, but got "
                         f"{padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"{op}: received an empty list of sequences")
    for s in sequences:
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: expected every sequence to be a Tensor, got "
                            f"{type(s).__name__}")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise RuntimeError(
                f"{op}: every sequence must be (L, *) with the same trailing dims *, got "
                f"shapes {[tuple(x.shape) for x in sequences]}"
            )
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        gap = T - s.shape[0]
        before, after = (0, gap) if padding_side == "right" else (gap, 0)
        widths = (0, 0) * (s.ndim - 1) + (before, after)  # F.pad lists the last dim first
        padded.append(F.pad(s, widths, value=padding_value) if gap else s)  # (T, *)
    return F.stack(padded, dim=0 if batch_first else 1)  # (B, T, *) or (T, B, *)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The inverse of ``pad_sequence`` (right padding): the list of B sequences
    ``padded[:L_b, b]`` of shapes (L_b, *).

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[1.0, 2.0], [3.0, 0.0]])                  # (B, T)
    >>> [s.tolist() for s in unpad_sequence(x, [2, 1], batch_first=True)]
    [[1.0, 2.0], [3.0]]
    """
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)  # (B, T, *)
    lens = _int_list("unpad_sequence", "lengths", lengths)
    if len(lens) != x.shape[0]:
        raise ValueError(f"unpad_sequence: got {len(lens)} lengths for a batch of "
                         f"{x.shape[0]} (shape {tuple(padded_sequences.shape)}, batch_first="
                         f"{batch_first})")
    if any(length < 0 for length in lens):
        raise ValueError(f"unpad_sequence: expected lengths >= 0, got {lens}")
    return [x[b, :length] for b, length in enumerate(lens)]  # each (L_b, *)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_b, *): ``pack_padded_sequence(pad_sequence(sequences),
    lengths, enforce_sorted=enforce_sorted)``.

    >>> import tinygrad_edu as tg
    >>> p = pack_sequence([tg.tensor([1.0]), tg.tensor([2.0, 3.0])], enforce_sorted=False)
    >>> p.data.tolist(), p.sorted_indices.tolist(), p.unsorted_indices.tolist()
    ([2.0, 1.0, 3.0], [1, 0], [1, 0])
    """
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The inverse of ``pack_sequence``: the list of sequences (L_b, *) in the original order.

    >>> import tinygrad_edu as tg
    >>> seqs = [tg.tensor([1.0]), tg.tensor([2.0, 3.0])]
    >>> [s.tolist() for s in unpack_sequence(pack_sequence(seqs, enforce_sorted=False))]
    [[1.0], [2.0, 3.0]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
