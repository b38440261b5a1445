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

import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .dataset import Dataset, IterableDataset
from .sampler import _check_generator, _chunks, _epoch_rng

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def get_worker_info():
    """``None``: batches are always made in the calling process (there are no workers).

    Kept so that ``IterableDataset.__iter__`` code written for torch, which splits its stream
    by ``get_worker_info()``, runs unchanged."""
    return None


def default_convert(example):
    """What a batch becomes without auto-batching (``batch_size=None``): each array-like leaf
    (a tinygrad_edu Tensor, a CuPy array) turned into a NumPy array, inside tuples, lists and
    dicts; NumPy arrays, numbers and strings are returned as they are.

    >>> default_convert({"x": [1, 2], "y": np.ones(2)})["y"]
    array([1., 1.])
    """
    if isinstance(example, np.ndarray | np.generic | numbers.Number | str | bytes):
        return example
    if isinstance(example, Mapping):
        return {key: default_convert(value) for key, value in example.items()}
    if isinstance(example, tuple) and hasattr(example, "_fields"):  # a namedtuple
        return type(example)(*(default_convert(e) for e in example))
    if isinstance(example, tuple | list):
        return type(example)(default_convert(e) for e in example)
    if hasattr(example, "get") and hasattr(example, "shape") and hasattr(example, "device"):
        return example.get()  # a CuPy array
    if hasattr(example, "__array__"):
        return np.asarray(example)
    return example


def default_collate(examples: Sequence):
    """Stack a list of B examples into a batch, following the structure of one example.

    - NumPy arrays of shape S -> one array of shape (B, *S);
    - Python ints/bools -> int64/bool array (B,); Python floats (or ints mixed with floats) ->
      float32 array (B,) (PyTorch gives float64; float32 is this library's default dtype, and
      what a model wants);
    - NumPy scalars -> an array of their dtype; strings -> a list of strings;
    - tuples/lists of those -> a tuple of batches (a namedtuple stays that namedtuple);
      dicts -> a dict of batches;
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
    if isinstance(first, numbers.Real):
        # the dtype follows all B values, as torch.tensor(batch): [0, 0.5] is float, not [0, 0]
        if all(isinstance(e, bool) for e in examples):
            return np.asarray(examples, dtype=np.bool_)
        if all(isinstance(e, numbers.Integral) for e in examples):
            return np.asarray(examples, dtype=np.int64)
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
        fields = (default_collate(list(field)) for field in zip(*examples, strict=True))
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple keeps its type
            return type(first)(*fields)
        return tuple(fields)
    if hasattr(first, "__array__"):
        return np.stack([np.asarray(e) for e in examples])
    raise TypeError(
        f"default_collate: don't know how to batch examples of type {type(first).__name__}; "
        "return NumPy arrays, numbers, strings, or tuples/dicts of them from __getitem__, or "
        "pass collate_fn= to the DataLoader"
    )


def _check_process_options(num_workers, timeout, worker_init_fn, multiprocessing_context,
                           prefetch_factor, persistent_workers) -> None:
    """torch's worker-process options, with the meaning they have at ``num_workers=0``."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral):
        raise TypeError(f"DataLoader: num_workers must be an int, got {num_workers!r}")
    if num_workers < 0:
        raise ValueError("DataLoader: num_workers option should be non-negative; use "
                         f"num_workers=0 to disable multiprocessing (got {num_workers})")
    if num_workers > 0:
        raise ValueError(
            f"DataLoader: num_workers={num_workers} is not supported: tinygrad_edu makes every "
            "batch in the calling process (there are no worker processes); pass num_workers=0, "
            "which gives the same batches"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout >= 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError(f"DataLoader: worker_init_fn must be callable or None, got "
                        f"{worker_init_fn!r}")
    if multiprocessing_context is not None:
        raise ValueError("DataLoader: multiprocessing_context can only be used with "
                         "multi-process loading (num_workers > 0), which tinygrad_edu does not "
                         f"have; got multiprocessing_context={multiprocessing_context!r}")
    if prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                         "multiprocessing (num_workers > 0), which tinygrad_edu does not have; "
                         f"set prefetch_factor to None (got {prefetch_factor!r})")
    if persistent_workers:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0, which "
                         "tinygrad_edu does not have; leave persistent_workers=False")


class DataLoader:
    """Mini-batches of ``dataset``, reshuffled every epoch when ``shuffle=True``.

    Args:
        dataset: any ``Dataset`` (``len`` and ``[i]``).
        batch_size: examples per batch B; the last batch is smaller unless ``drop_last``.
        shuffle: visit the examples in a new random order each epoch.
        sampler: the indices to visit (a ``Sampler`` or any iterable of ints), instead of
            ``shuffle``; they are grouped into batches of ``batch_size``.
        batch_sampler: yields whole lists of indices, one per batch; excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        collate_fn: turns a list of examples into a batch (default: ``default_collate``).
            Giving one switches the array fast path off.
        drop_last: drop the last batch when it has fewer than ``batch_size`` examples.
        generator: a ``numpy.random.Generator`` that ``shuffle`` draws from (instead of
            ``seed``). With neither, each epoch's order is drawn from one number of the
            library's generator, so ``tg.manual_seed`` makes it repeat.
        seed: makes shuffling reproducible: epoch e uses ``np.random.default_rng([seed, e])``,
            so two loaders with the same seed give the same batches, every epoch differs from
            the one before, and ``set_epoch(e)`` resumes an interrupted run exactly.
        transform: called on the inputs of each batch (the first field of a tuple batch, the
            whole batch otherwise), e.g. ``Compose([ToFloat(), RandomCrop(28, padding=2)])``;
            labels are left alone. This is batch-wise data augmentation.

    ``batch_size=None`` turns batching off: each example is yielded alone (through
    ``collate_fn``, default ``default_convert``). An ``IterableDataset`` is iterated and its
    consecutive examples batched; it has no indices, so ``shuffle``/``sampler``/
    ``batch_sampler`` are refused.

    The positional arguments come in torch's order (``DataLoader(ds, 32, False, sampler)`` means
    what it means in torch); ``seed`` and ``transform``, this library's additions, are
    keyword-only.

    torch's process options are accepted with torch's ``num_workers=0`` meaning, because every
    batch is made in the calling process: ``num_workers`` must be 0 (anything else is refused
    with a clear error), ``pin_memory``, ``pin_memory_device``, ``in_order`` and ``timeout``
    (>= 0) change nothing (batches are NumPy arrays, made in order), ``worker_init_fn`` is never
    called, and ``prefetch_factor``,
    ``persistent_workers=True`` and ``multiprocessing_context`` are refused as torch refuses
    them without workers.

    Iterating yields batches of NumPy arrays (see the module docstring for how to turn them into
    Tensors). Each ``iter(loader)`` is one epoch, whose order is drawn right then;
    ``len(loader)`` is the number of batches.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
        transform: Callable | None = None,
    ):
        _check_process_options(num_workers, timeout, worker_init_fn, multiprocessing_context,
                               prefetch_factor, persistent_workers)
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and (not hasattr(dataset, "__len__") or
                             not hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must define __len__ and __getitem__ (or be an "
                f"IterableDataset), got {type(dataset).__name__}; wrap arrays with "
                "TensorDataset(x, y)"
            )
        if batch_size is not None:  # torch raises ValueError for a wrong type too
            if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
                raise ValueError(f"DataLoader: batch_size must be an int >= 1 or None, got "
                                 f"{batch_size!r}")
            if batch_size < 1:
                raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if not isinstance(drop_last, bool | np.bool_):
            raise ValueError(f"DataLoader: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"DataLoader: seed must be an int >= 0 or None, got {seed!r}")
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (False, None):
                    raise ValueError(
                        f"DataLoader with IterableDataset: expected unspecified {name} option, "
                        f"but got {name}={value!r}"
                    )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             f"(got sampler={type(sampler).__name__} and shuffle={shuffle!r})")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    f"shuffle, sampler, and drop_last (got batch_size={batch_size!r}, "
                    f"shuffle={shuffle!r}, sampler={sampler!r}, drop_last={drop_last!r})"
                )
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed or generator, not both")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.seed = seed
        self.transform = transform
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = _check_generator(generator, "DataLoader")
        self.num_workers = 0
        self.pin_memory = bool(pin_memory)  # no effect: batches are NumPy arrays
        self.pin_memory_device = pin_memory_device  # no effect, as pin_memory
        self.in_order = bool(in_order)  # no effect: one process makes the batches in order
        self.timeout = timeout  # no effect: there are no workers to wait for
        self.worker_init_fn = worker_init_fn  # never called, as in torch with num_workers=0
        self.prefetch_factor = None
        self.persistent_workers = False
        self.epoch = 0
        # the default path: no sampler, batches sliced from one order array per epoch
        self._by_order = not iterable and sampler is None and batch_sampler is None and \
            batch_size is not None

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if isinstance(self.dataset, IterableDataset) or self.sampler is None:
            n = len(self.dataset)
        else:
            n = len(self.sampler)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size  # exact, unlike ceil(n / size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` epoch number ``epoch`` (its shuffle order)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def _epoch_order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch]).permutation(n)
        return _epoch_rng(self.generator).permutation(n)

    def __iter__(self) -> Iterator:
        # The order is drawn now, not on the first next(): iter() starts the epoch.
        if self._by_order:
            order = self._epoch_order()
            self.epoch += 1
            return self._batches(order)
        if isinstance(self.dataset, IterableDataset):
            self.epoch += 1
            examples = iter(self.dataset)
            if self.batch_size is None:
                return self._singles(examples)
            chunks = _chunks(examples, self.batch_size, self.drop_last)
            return self._collated(chunks, fetched=True)
        if self.batch_sampler is not None:
            self.epoch += 1
            return self._collated(iter(self.batch_sampler), fetched=False)
        indices = iter(self.sampler) if self.sampler is not None else \
            iter(self._epoch_order().tolist())
        self.epoch += 1
        if self.batch_size is None:
            return self._singles(self.dataset[i] for i in indices)
        return self._collated(_chunks(indices, self.batch_size, self.drop_last), fetched=False)

    def _singles(self, examples: Iterator) -> Iterator:
        """No auto-batching: every example alone, through collate_fn or default_convert."""
        convert = self.collate_fn or default_convert
        for example in examples:
            batch = convert(example)
            if self.transform is not None:
                batch = self._apply_transform(batch)
            yield batch

    def _collated(self, chunks: Iterator, fetched: bool) -> Iterator:
        """Batches from lists of indices (``fetched=False``) or of examples (``True``)."""
        fast = not fetched and self.collate_fn is None and \
            getattr(self.dataset, "batched_indexing", False)
        collate = self.collate_fn or default_collate
        for chunk in chunks:
            if fast:
                batch = self.dataset.get_batch(np.asarray(chunk, dtype=np.int64))
            elif fetched:
                batch = collate(chunk)
            else:
                batch = collate([self.dataset[int(i)] for i in chunk])
            if self.transform is not None:
                batch = self._apply_transform(batch)
            yield batch

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
            fields = (self.transform(batch[0]), *batch[1:])
            if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # keep a namedtuple
                return type(batch)(*fields)
            return type(batch)(fields)  # a tuple stays a tuple, a list a list
        if isinstance(batch, Mapping):
            raise TypeError(
                "DataLoader: transform= does not know which entry of a dict batch holds the "
                "inputs; apply it inside collate_fn instead"
            )
        return self.transform(batch)

    def __repr__(self) -> str:
        try:
            sizes = f" of {len(self.dataset)}"
            batches = f", batches={len(self)}"
        except TypeError:  # an IterableDataset without a length
            sizes = batches = ""
        return (
            f"DataLoader({type(self.dataset).__name__}{sizes}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}"
            f"{batches})"
        )
