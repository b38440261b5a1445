"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches of NumPy arrays.

Batches are NumPy arrays, never Tensors: the data layer does not know about devices or autograd.
The training loop moves each batch itself::

    for xb, yb in loader:
        x = tg.tensor(xb, device="cuda")     # (B, 1, 28, 28) float32 on the GPU
        y = tg.tensor(yb, device="cuda")     # (B,) int64

Two ways to build a batch of B examples:

- fast path: the dataset has ``batched_indexing`` (a ``TensorDataset`` or a ``Subset`` /
  ``ConcatDataset`` of one) and no ``collate_fn`` is given. Each array is indexed once with the
  B indices, ``images[idx]``, so a 60k-example MNIST epoch costs a few dozen milliseconds;
- general path: ``dataset[i]`` for each index, then ``collate_fn`` (``default_collate``
  unless given) stacks the B examples into arrays.

>>> import numpy as np
>>> from tinygrad_edu.data import TensorDataset
>>> ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
>>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
>>> len(loader), [xb.shape for xb, yb in loader]
(3, [(4, 3), (4, 3), (2, 3)])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from .dataset import Dataset

__all__ = ["DataLoader", "default_collate"]


def default_collate(examples: Sequence):
    """Stack a list of B examples into a batch, following the structure of one example.

    - NumPy arrays of shape S -> one array of shape (B, *S);
    - Python ints/bools -> int64/bool array (B,); Python floats -> float32 array (B,) (PyTorch
      gives float64; float32 is this library's default dtype, and what a model wants);
    - NumPy scalars -> an array of their dtype; strings -> a list of strings;
    - tuples/lists of those -> a tuple of batches; dicts -> a dict of batches;
    - anything with ``__array__`` (a tinygrad_edu Tensor) is converted to NumPy first.

    >>> xb, yb = default_collate([(np.ones(2), 0), (np.zeros(2), 1)])
    >>> xb.shape, yb.dtype
    ((2, 2), dtype('int64'))
    """
    if len(examples) == 0:
        raise ValueError("default_collate: got an empty list of examples")
    first = examples[0]
    if isinstance(first, np.ndarray | np.generic):
        return np.stack([np.asarray(e) for e in examples])
    if isinstance(first, bool):
        return np.asarray(examples, dtype=np.bool_)
    if isinstance(first, numbers.Integral):
        return np.asarray(examples, dtype=np.int64)
    if isinstance(first, numbers.Real):
        return np.asarray(examples, dtype=np.float32)
    if isinstance(first, str | bytes):
        return list(examples)
    if isinstance(first, Mapping):
        return {key: default_collate([e[key] for e in examples]) for key in first}
    if isinstance(first, tuple | list):
        sizes = {len(e) for e in examples}
        if len(sizes) != 1:
            raise ValueError(
                f"default_collate: every example must have the same number of fields, got "
                f"sizes {sorted(sizes)}"
            )
        return tuple(default_collate(list(field)) for field in zip(*examples, strict=True))
    if hasattr(first, "__array__"):
        return np.stack([np.asarray(e) for e in examples])
    raise TypeError(
        f"default_collate: don't know how to batch examples of type {type(first).__name__}; "
        "return NumPy arrays, numbers, strings, or tuples/dicts of them from __getitem__, or "
        "pass collate_fn= to the DataLoader"
    )


class DataLoader:
    """Mini-batches of ``dataset``, reshuffled every epoch when ``shuffle=True``.

    Args:
        dataset: any ``Dataset`` (``len`` and ``[i]``).
        batch_size: examples per batch B; the last batch is smaller unless ``drop_last``.
        shuffle: visit the examples in a new random order each epoch.
        drop_last: drop the last batch when it has fewer than ``batch_size`` examples.
        collate_fn: turns a list of examples into a batch (default: ``default_collate``).
            Giving one switches the array fast path off.
        seed: makes shuffling reproducible: epoch e uses ``np.random.default_rng([seed, e])``,
            so two loaders with the same seed give the same batches, every epoch differs from
            the one before, and ``set_epoch(e)`` resumes an interrupted run exactly.
        transform: called on the inputs of each batch (the first field of a tuple batch, the
            whole batch otherwise), e.g. ``Compose([ToFloat(), RandomCrop(28, padding=2)])``;
            labels are left alone. This is batch-wise data augmentation.

    Iterating yields batches of NumPy arrays (see the module docstring for how to turn them into
    Tensors). Each ``iter(loader)`` is one epoch; ``len(loader)`` is the number of batches.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable | None = None,
        seed: int | None = None,
        transform: Callable | None = None,
    ):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must define __len__ and __getitem__, got "
                f"{type(dataset).__name__}; wrap arrays with TensorDataset(x, y)"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.seed = seed
        self.transform = transform
        self.epoch = 0
        self._rng = np.random.default_rng() if seed is None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` epoch number ``epoch`` (its shuffle order)."""
        self.epoch = int(epoch)

    def _epoch_order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = self._rng if self.seed is None else np.random.default_rng([self.seed, self.epoch])
        return rng.permutation(n)

    def __iter__(self) -> Iterator:
        # The order is drawn now, not on the first next(): iter() starts the epoch.
        order = self._epoch_order()
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator:
        fast = self.collate_fn is None and getattr(self.dataset, "batched_indexing", False)
        collate = self.collate_fn or default_collate
        for b in range(len(self)):
            indices = order[b * self.batch_size : (b + 1) * self.batch_size]  # (B,)
            if fast:
                batch = self.dataset.get_batch(indices)
            else:
                batch = collate([self.dataset[int(i)] for i in indices])
            if self.transform is not None:
                batch = self._apply_transform(batch)
            yield batch

    def _apply_transform(self, batch):
        if isinstance(batch, tuple | list):
            if len(batch) == 0:
                raise ValueError("DataLoader: transform got an empty batch tuple")
            return (self.transform(batch[0]), *batch[1:])
        if isinstance(batch, Mapping):
            raise TypeError(
                "DataLoader: transform= does not know which entry of a dict batch holds the "
                "inputs; apply it inside collate_fn instead"
            )
        return self.transform(batch)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"batches={len(self)})"
        )
