"""Datasets: things with a length that return one example per integer index.

A dataset answers two questions, ``len(ds)`` and ``ds[i]``, exactly as in PyTorch. Everything
here works on NumPy arrays and knows nothing about autograd: the training loop turns a batch into
a ``Tensor`` itself (``tg.tensor(xb, device="cuda")``).

Datasets whose examples are rows of in-memory arrays (``TensorDataset`` and the ``Subset`` and
``ConcatDataset`` views built on top of it) also answer ``ds.get_batch(indices)``: one fancy
index per array instead of a Python loop over examples. ``DataLoader`` uses it when
``ds.batched_indexing`` is True, which is what makes an MNIST epoch take milliseconds.

>>> import numpy as np
>>> x = np.arange(20, dtype=np.float32).reshape(10, 2)
>>> y = np.arange(10) % 2
>>> ds = TensorDataset(x, y)
>>> len(ds), ds[3]
(10, (array([6., 7.], dtype=float32), np.int64(1)))
>>> train, val = random_split(ds, [0.8, 0.2], seed=0)
>>> len(train), len(val)
(8, 2)
"""

from __future__ import annotations

import bisect
import numbers
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "Dataset",
    "TensorDataset",
    "ConcatDataset",
    "IterableDataset",
    "ChainDataset",
    "StackDataset",
    "Subset",
    "random_split",
    "KFold",
    "kfold_indices",
]


def as_numpy(array, what: str = "array") -> np.ndarray:
    """Convert a NumPy array, a tinygrad_edu ``Tensor``, a CuPy array or a list to NumPy.

    Tensors go through their ``__array__`` (copied off the GPU when needed); CuPy arrays through
    ``.get()``. Nothing here needs autograd, so a tensor's graph is simply not kept.
    """
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "get") and hasattr(array, "shape") and hasattr(array, "device"):
        return array.get()  # a CuPy array; a Tensor goes through its own __array__ below
    try:
        return np.asarray(array)
    except Exception as error:
        raise TypeError(
            f"{what}: cannot convert {type(array).__name__} to a NumPy array ({error})"
        ) from error


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(i)`` for ``0 <= i < len``.

    ``ds1 + ds2`` concatenates two datasets (a ``ConcatDataset``), as in PyTorch.
    """

    batched_indexing: bool = False
    """True when ``get_batch(indices)`` fetches many examples with one array index."""

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__}: a Dataset subclass must define __getitem__(index) "
            "returning one example"
        )

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__}: a Dataset subclass must define __len__() returning the "
            "number of examples"
        )

    def get_batch(self, indices: np.ndarray):
        """Examples ``indices`` at once; only datasets with ``batched_indexing`` implement it."""
        raise NotImplementedError(
            f"{type(self).__name__}: get_batch is only available when batched_indexing is True; "
            "index examples one by one with dataset[i] instead"
        )

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _batches_like_getitem(dataset, base: type) -> bool:
    """Whether ``get_batch`` of ``dataset`` (an instance of ``base`` or of a subclass) returns
    what ``__getitem__`` would, example by example: False when a subclass overrides
    ``__getitem__`` (an augmentation, say) without its own ``get_batch``. The loader must then
    fetch item by item, or the subclass' change would be skipped."""
    cls = type(dataset)
    own_getitem = cls.__getitem__ is not base.__getitem__
    own_get_batch = cls.get_batch is not base.get_batch
    return own_get_batch or not own_getitem


def _check_index(name: str, index, length: int) -> int:
    """Turn a Python/NumPy integer (negative allowed) into a position in ``range(length)``."""
    if not isinstance(index, numbers.Integral):
        raise TypeError(f"{name}: index must be an integer, got {type(index).__name__} {index!r}")
    position = int(index)
    if position < 0:
        position += length
    if not 0 <= position < length:
        raise IndexError(f"{name}: index {int(index)} is out of range for {length} examples")
    return position


class TensorDataset(Dataset):
    """Rows of one or more arrays that share their first dimension (N).

    ``ds[i]`` is the tuple ``(a[i] for a in arrays)``, as in PyTorch. Accepts NumPy arrays,
    tinygrad_edu Tensors (converted to NumPy once, here) or anything ``np.asarray`` takes.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 3)), np.array([0, 1, 2, 3]))
    >>> x, y = ds.get_batch(np.array([2, 0]))
    >>> x.shape, y.tolist()
    ((2, 3), [2, 0])
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array, got none")
        converted = []
        for position, array in enumerate(arrays):
            array = as_numpy(array, what=f"TensorDataset (array {position})")
            if array.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {position} is a 0-d scalar; every array needs a first "
                    "dimension N that indexes the examples"
                )
            converted.append(array)
        lengths = {array.shape[0] for array in converted}
        if len(lengths) != 1:
            shapes = ", ".join(str(array.shape) for array in converted)
            raise ValueError(
                f"TensorDataset: all arrays must have the same first dimension N, got shapes "
                f"{shapes}"
            )
        self.arrays: tuple[np.ndarray, ...] = tuple(converted)

    @property
    def tensors(self) -> tuple[np.ndarray, ...]:
        """torch's name for the arrays: ``ds.tensors[0]`` is the first one (here NumPy)."""
        return self.arrays

    @property
    def batched_indexing(self) -> bool:
        return _batches_like_getitem(self, TensorDataset)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        position = _check_index("TensorDataset", index, len(self))
        return tuple(array[position] for array in self.arrays)

    def get_batch(self, indices) -> tuple[np.ndarray, ...]:
        """One fancy index per array: ``(a[indices] for a in arrays)``, each of shape (B, ...)."""
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(array[indices] for array in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"{type(self).__name__}({shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order (a view, nothing is copied)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray):
        indices = np.asarray(indices)
        if indices.size and indices.dtype.kind not in "iu":
            hint = "; for a boolean mask use np.flatnonzero(mask)" if indices.dtype == bool else ""
            raise TypeError(f"Subset: indices must be integers, got dtype {indices.dtype}{hint}")
        indices = indices.astype(np.int64).reshape(-1)
        n = len(dataset)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} examples, got "
                f"min {indices.min()} and max {indices.max()}"
            )
        self.dataset = dataset
        self.indices = np.where(indices < 0, indices + n, indices)

    @property
    def batched_indexing(self) -> bool:
        return getattr(self.dataset, "batched_indexing", False) and \
            _batches_like_getitem(self, Subset)

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, index):
        position = _check_index("Subset", index, len(self))
        return self.dataset[int(self.indices[position])]

    def get_batch(self, indices):
        return self.dataset.get_batch(self.indices[np.asarray(indices, dtype=np.int64)])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


class ConcatDataset(Dataset):
    """Several datasets one after another: indices ``0..len(a)-1`` are ``a``, then ``b``, ...

    ``cumulative_sizes[k]`` is the number of examples in datasets ``0..k``; example ``i`` lives
    in the first dataset whose cumulative size exceeds ``i``.
    """

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset, got an empty list")
        for position, dataset in enumerate(self.datasets):
            if isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ConcatDataset: does not support IterableDataset (got "
                    f"{type(dataset).__name__} at position {position}); chain streams with "
                    "ChainDataset"
                )
        self.cumulative_sizes = []
        total = 0
        for dataset in self.datasets:
            total += len(dataset)
            self.cumulative_sizes.append(total)

    @property
    def batched_indexing(self) -> bool:
        return all(getattr(d, "batched_indexing", False) for d in self.datasets) and \
            _batches_like_getitem(self, ConcatDataset)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        position = _check_index("ConcatDataset", index, len(self))
        which = bisect.bisect_right(self.cumulative_sizes, position)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][position - start]

    def get_batch(self, indices):
        """Group the indices by dataset, fetch each group at once, then restore the order.
        Negative indices count from the end, as in ``ds[i]``."""
        indices = np.asarray(indices, dtype=np.int64)
        indices = np.where(indices < 0, indices + len(self), indices)
        cumulative = np.asarray(self.cumulative_sizes)
        which = np.searchsorted(cumulative, indices, side="right")  # (B,) dataset of each index
        starts = np.concatenate([[0], cumulative[:-1]])
        order = np.argsort(which, kind="stable")  # indices grouped by dataset
        parts = []
        for k in np.unique(which):
            local = indices[which == k] - starts[k]
            parts.append(self.datasets[k].get_batch(local))
        if not parts:  # no indices: an empty batch of the first dataset's structure
            return self.datasets[0].get_batch(indices)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.shape[0])  # position of each original index in grouped
        return _concat_batches(parts, inverse)

    def __repr__(self) -> str:
        return f"ConcatDataset({len(self.datasets)} datasets, {len(self)} examples)"


def _concat_batches(parts: list, inverse: np.ndarray):
    """Join batches of one structure (an array, or tuples/dicts of them, nested as a
    ``StackDataset`` returns them) along their first axis, then reorder the rows by
    ``inverse``."""
    first = parts[0]
    if isinstance(first, dict):
        return {key: _concat_batches([part[key] for part in parts], inverse) for key in first}
    if isinstance(first, tuple | list):
        columns = zip(*parts, strict=True)
        return tuple(_concat_batches(list(column), inverse) for column in columns)
    return np.concatenate(parts)[inverse]


class IterableDataset(Dataset):
    """A stream of examples: subclasses define ``__iter__`` (and ``__len__`` if they know it).

    ``DataLoader`` iterates it and batches consecutive examples; it has no indices, so shuffle,
    sampler and batch_sampler are refused (torch's rule). ``a + b`` chains two streams.

    >>> class Squares(IterableDataset):
    ...     def __iter__(self):
    ...         return iter([i * i for i in range(4)])
    >>> list(Squares() + Squares())
    [0, 1, 4, 9, 0, 1, 4, 9]
    """

    def __iter__(self):
        raise NotImplementedError(
            f"{type(self).__name__}: an IterableDataset subclass must define __iter__() "
            "yielding examples"
        )

    def __len__(self) -> int:
        raise TypeError(
            f"{type(self).__name__}: this IterableDataset has no len(); define __len__ to give "
            "one"
        )

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several ``IterableDataset``s one after another, without materializing them;
    ``len`` is the sum of their lengths."""

    def __init__(self, datasets: Sequence[IterableDataset]):
        self.datasets = list(datasets)

    def __iter__(self):
        for position, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ChainDataset: only supports IterableDataset, got "
                    f"{type(dataset).__name__} at position {position}"
                )
            yield from dataset

    def __len__(self) -> int:
        total = 0
        for position, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ChainDataset: only supports IterableDataset, got "
                    f"{type(dataset).__name__} at position {position}"
                )
            total += len(dataset)
        return total


class StackDataset(Dataset):
    """Example i of several same-length datasets side by side: ``StackDataset(a, b)[i]`` is
    ``(a[i], b[i])`` and ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}``.

    >>> import numpy as np
    >>> ds = StackDataset(image=TensorDataset(np.zeros((3, 2))), label=np.array([5, 6, 7]))
    >>> sorted(ds[1]), ds[1]["label"]
    (['image', 'label'], np.int64(6))
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError(
                "StackDataset: supports either tuple-like (positional datasets) or dict-like "
                "(keyword datasets) input/output, but both types are given"
            )
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed, got none")
        self.datasets: tuple | dict = args if args else kwargs
        parts = args if args else kwargs.values()
        lengths = [len(d) for d in parts]
        if len(set(lengths)) != 1:
            names = range(len(args)) if args else kwargs.keys()
            sizes = ", ".join(f"{k}: {n}" for k, n in zip(names, lengths, strict=True))
            raise ValueError(f"StackDataset: size mismatch between datasets ({sizes})")
        self._length = lengths[0]

    @property
    def batched_indexing(self) -> bool:
        parts = self.datasets if isinstance(self.datasets, tuple) else self.datasets.values()
        return all(getattr(d, "batched_indexing", False) for d in parts) and \
            _batches_like_getitem(self, StackDataset)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        position = _check_index("StackDataset", index, len(self))
        if isinstance(self.datasets, dict):
            return {key: d[position] for key, d in self.datasets.items()}
        return tuple(d[position] for d in self.datasets)

    def get_batch(self, indices):
        """Each dataset's own batch: a tuple (or dict) of them."""
        if isinstance(self.datasets, dict):
            return {key: d.get_batch(indices) for key, d in self.datasets.items()}
        return tuple(d.get_batch(indices) for d in self.datasets)

    def __repr__(self) -> str:
        return f"StackDataset({len(self.datasets)} datasets, {len(self)} examples)"


def _make_rng(seed, generator, name: str) -> np.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError(f"{name}: pass seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"{name}: generator must be a tg.Generator (tg.Generator().manual_seed(0)) or a "
                f"numpy.random.Generator (np.random.default_rng(0)), got {type(generator).__name__}"
            )
        return generator
    return np.random.default_rng(seed)


def _split_lengths(lengths: Sequence[int | float], n: int, name: str) -> list[int]:
    """Integer lengths summing to ``n``; fractions are floored and the remainder handed out
    one example at a time from the first split on (PyTorch's rule)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{name}: lengths is empty; give integers or fractions, e.g. [0.8, 0.2]")
    if not all(isinstance(x, numbers.Integral) for x in lengths):
        fractions = [float(x) for x in lengths]
        # written as "not (ok)" so that NaN fractions are refused too
        if not all(0 <= f <= 1 for f in fractions) or not abs(sum(fractions) - 1.0) <= 1e-6:
            raise ValueError(
                f"{name}: fractional lengths must lie in [0, 1] and sum to 1, got {lengths} "
                f"(sum {sum(fractions):.6g})"
            )
        sizes = [int(np.floor(n * f)) for f in fractions]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        return sizes
    sizes = [int(x) for x in lengths]
    if any(size < 0 for size in sizes):
        raise ValueError(f"{name}: lengths must be non-negative, got {sizes}")
    if sum(sizes) != n:
        raise ValueError(
            f"{name}: lengths {sizes} sum to {sum(sizes)} but the dataset has {n} examples"
        )
    return sizes


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    seed: int | None = None,
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are integers summing to ``len(dataset)`` or fractions summing to 1. The same
    ``seed`` (or a generator in the same state) always gives the same split.

    >>> import numpy as np
    >>> parts = random_split(TensorDataset(np.arange(10)), [0.5, 0.3, 0.2], seed=1)
    >>> [len(p) for p in parts]
    [5, 3, 2]
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n, "random_split")
    permutation = _make_rng(seed, generator, "random_split").permutation(n)
    subsets = []
    start = 0
    for size in sizes:
        subsets.append(Subset(dataset, permutation[start : start + size]))
        start += size
    return subsets


class KFold:
    """k-fold cross-validation: each example is in exactly one validation fold.

    Fold sizes differ by at most one (the first ``n % k`` folds get the extra examples, as in
    scikit-learn). With ``shuffle=True`` the examples are permuted first using ``seed``.

    >>> for train_idx, val_idx in KFold(3).split(7):
    ...     print(val_idx.tolist(), len(train_idx))
    [0, 1, 2] 4
    [3, 4] 5
    [5, 6] 5
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None):
        if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"KFold: n_splits must be an integer >= 2, got {n_splits!r}")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.seed = seed

    def split(self, data: int | Dataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, val_indices)`` int64 arrays for each of the k folds."""
        n = data if isinstance(data, numbers.Integral) else len(data)
        if n < self.n_splits:
            raise ValueError(f"KFold: cannot make {self.n_splits} folds from only {n} examples")
        order = np.arange(n, dtype=np.int64)
        if self.shuffle:
            order = np.random.default_rng(self.seed).permutation(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            val = order[start : start + size]
            train = np.concatenate([order[:start], order[start + size :]])
            yield train, val
            start += size

    def subsets(self, dataset: Dataset) -> Iterator[tuple[Subset, Subset]]:
        """Yield ``(train_subset, val_subset)`` of ``dataset`` for each fold."""
        for train, val in self.split(dataset):
            yield Subset(dataset, train), Subset(dataset, val)


def kfold_indices(
    n: int, k: int = 5, shuffle: bool = False, seed: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """All k folds of ``range(n)`` as a list of ``(train_indices, val_indices)``."""
    return list(KFold(k, shuffle=shuffle, seed=seed).split(n))
