"""Samplers: which dataset indices a ``DataLoader`` visits, in which order (torch.utils.data).

A sampler is an iterable of integer indices with a length; a batch sampler is an iterable of
lists of indices. Pass one to ``DataLoader(ds, sampler=...)`` or ``DataLoader(ds,
batch_sampler=...)``.

Randomness: a random sampler given ``generator=`` (a ``numpy.random.Generator``) draws from it;
without one, each ``iter(sampler)`` draws one 64-bit seed from the library's generator (the one
``tg.manual_seed`` seeds), as torch draws one from its default generator. The whole epoch's order
is drawn when ``iter()`` is called, never later, so wrapping the iterator in a progress bar or
stopping half-way cannot change what the next epoch gets.

>>> import tinygrad_edu as tg
>>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
[[0, 1, 2], [3, 4, 5], [6]]
>>> _ = tg.manual_seed(0); a = list(RandomSampler(range(5)))
>>> _ = tg.manual_seed(0); a == list(RandomSampler(range(5)))
True
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..tensor import generator as _library_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


def _epoch_rng(generator: np.random.Generator | None) -> np.random.Generator:
    """The generator that draws one epoch: ``generator`` itself, or a fresh one seeded with one
    number drawn from the library's generator (so ``tg.manual_seed`` makes the order repeat)."""
    if generator is not None:
        return generator
    seed = int(_library_generator().integers(0, 2**63 - 1, dtype=np.int64))
    return np.random.default_rng(seed)


def _check_generator(generator, name: str) -> np.random.Generator | None:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{name}: generator must be a tg.Generator (tg.Generator().manual_seed(0)) or a "
            f"numpy.random.Generator (np.random.default_rng(0)), got {type(generator).__name__}"
        )
    return generator


def _check_bool(value, what: str, name: str, error: type = ValueError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name}: {what} should be a boolean value, but got {what}={value!r}")
    return value


def _check_positive_int(value, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{name}: {what} should be a positive integer value, but got {what}={value!r}"
        )
    return int(value)


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass  # torch keeps the argument for backward compatibility only

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(
            f"{type(self).__name__}: a Sampler subclass must define __iter__() yielding indices"
        )


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, always in that order."""

    def __init__(self, data_source: Sequence):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices of ``data_source`` in random order.

    Without replacement: a fresh permutation of ``range(n)``; when ``num_samples > n`` whole
    permutations follow one another and the last one is cut (torch's rule). With replacement:
    ``num_samples`` independent uniform draws from ``range(n)``.
    """

    def __init__(self, data_source: Sequence, replacement: bool = False,
                 num_samples: int | None = None, generator: np.random.Generator | None = None):
        self.data_source = data_source
        self.replacement = _check_bool(replacement, "replacement", "RandomSampler", TypeError)
        self._num_samples = num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        _check_positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self) -> int:
        """``num_samples`` if given, else ``len(data_source)`` (read now: it may change)."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _draw(self) -> np.ndarray:
        n = len(self.data_source)
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw num_samples={self.num_samples} "
                             "indices from an empty data_source (len 0)")
        rng = _epoch_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        full, rest = divmod(self.num_samples, n)
        parts = [rng.permutation(n) for _ in range(full)]
        if rest:
            parts.append(rng.permutation(n)[:rest])
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[int]:
        return iter(self._draw().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a new random order each epoch (without replacement)."""

    def __init__(self, indices: Sequence[int], generator: np.random.Generator | None = None):
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        order = _epoch_rng(self.generator).permutation(len(self.indices))
        return iter([int(self.indices[i]) for i in order])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices of ``range(len(weights))``, index i drawn with probability
    ``weights[i] / sum(weights)`` (weights need not sum to 1).

    With ``replacement=False`` an index is drawn at most once (each draw renormalizes the
    remaining weights), so ``num_samples`` may not exceed the number of non-zero weights.
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: np.random.Generator | None = None):
        self.num_samples = _check_positive_int(num_samples, "num_samples",
                                               "WeightedRandomSampler")
        self.replacement = _check_bool(replacement, "replacement", "WeightedRandomSampler")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(
                f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                f"shape {weights.shape}"
            )
        if weights.size == 0 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise RuntimeError(
                "WeightedRandomSampler: invalid multinomial distribution: weights must be "
                f"finite, non-negative and not empty, got {weights.tolist()[:8]}"
            )
        nonzero = int(np.count_nonzero(weights))
        if nonzero == 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution "
                               "(sum of probabilities <= 0)")
        if not replacement and self.num_samples > nonzero:
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw num_samples={self.num_samples} indices "
                f"without replacement from {nonzero} non-zero weights"
            )
        self.weights = weights
        self.generator = _check_generator(generator, "WeightedRandomSampler")

    def __iter__(self) -> Iterator[int]:
        p = self.weights / self.weights.max()  # in (0, 1]: the sum cannot overflow to inf
        p = p / p.sum()
        rng = _epoch_rng(self.generator)
        drawn = rng.choice(p.shape[0], size=self.num_samples, replace=self.replacement, p=p)
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` (any iterable of ints) into lists of ``batch_size``;
    the last, shorter list is dropped when ``drop_last``.

    >>> list(BatchSampler(range(5), 2, drop_last=True))
    [[0, 1], [2, 3]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.batch_size = _check_positive_int(batch_size, "batch_size", "BatchSampler")
        self.drop_last = _check_bool(drop_last, "drop_last", "BatchSampler")

    def __iter__(self) -> Iterator[list[int]]:
        return _chunks(iter(self.sampler), self.batch_size, self.drop_last)

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size  # exact, unlike ceil(n / size)


def _chunks(indices: Iterator, size: int, drop_last: bool) -> Iterator[list]:
    """Consecutive lists of ``size`` items of ``indices`` (the last shorter unless dropped)."""
    batch = []
    for index in indices:
        batch.append(index)
        if len(batch) == size:
            yield batch
            batch = []
    if batch and not drop_last:
        yield batch
