"""Datasets (TensorDataset, Subset, ConcatDataset, random_split, KFold) and the DataLoader."""

import time

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    KFold,
    Subset,
    TensorDataset,
    default_collate,
    kfold_indices,
    random_split,
)


class PerItemDataset(Dataset):
    """A dataset without batched indexing: the loader must call __getitem__ per example."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 3), i, dtype=np.float32), i % 3


def _xy(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)  # row i is [2i, 2i+1]
    y = np.arange(n, dtype=np.int64)
    return x, y


# ---------------------------------------------------------------------------------------------
# TensorDataset / Subset / ConcatDataset
# ---------------------------------------------------------------------------------------------


def test_tensor_dataset_accepts_numpy_and_tensors():
    x, y = _xy()
    from_numpy = TensorDataset(x, y)
    from_tensors = TensorDataset(tg.tensor(x), tg.tensor(y))
    assert len(from_numpy) == len(from_tensors) == 10
    assert isinstance(from_tensors.arrays[0], np.ndarray)
    xi, yi = from_tensors[3]
    np.testing.assert_array_equal(xi, [6.0, 7.0])
    assert yi == 3
    assert from_numpy[-1][1] == 9


def test_tensor_dataset_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"same first dimension.*\(4, 2\).*\(3,\)"):
        TensorDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))
    with pytest.raises(IndexError, match="out of range for 4 examples"):
        TensorDataset(np.zeros((4, 2)))[4]
    with pytest.raises(TypeError, match="index must be an integer"):
        TensorDataset(np.zeros((4, 2)))[1.5]


def test_subset_and_concat_batches_match_per_item_access():
    x, y = _xy(10)
    a = TensorDataset(x, y)
    b = TensorDataset(x[:4] + 100, y[:4] + 100)
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 14
    assert both.batched_indexing
    indices = np.array([13, 0, 11, 5, 10, 9])
    xb, yb = both.get_batch(indices)
    assert yb.tolist() == [103, 0, 101, 5, 100, 9]
    for row, i in enumerate(indices):
        np.testing.assert_array_equal(xb[row], both[int(i)][0])
    sub = Subset(both, [12, -1, 2])
    assert [sub[k][1] for k in range(3)] == [102, 103, 2]
    assert sub.get_batch(np.array([2, 0]))[1].tolist() == [2, 102]
    assert not Subset(PerItemDataset(5), [1]).batched_indexing
    with pytest.raises(IndexError, match="Subset"):
        Subset(a, [10])


# ---------------------------------------------------------------------------------------------
# random_split / KFold
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, lengths, expected",
    [(10, [0.8, 0.2], [8, 2]), (11, [0.5, 0.5], [6, 5]), (10, [3, 7], [3, 7]), (7, [1.0], [7])],
)
def test_random_split_lengths_cover_everything_once(n, lengths, expected):
    parts = random_split(TensorDataset(np.arange(n)), lengths, seed=0)
    assert [len(p) for p in parts] == expected
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(n))


def test_random_split_is_reproducible_and_validates():
    ds = TensorDataset(np.arange(100))
    first = random_split(ds, [0.7, 0.3], seed=3)
    again = random_split(ds, [0.7, 0.3], generator=np.random.default_rng(3))
    other = random_split(ds, [0.7, 0.3], seed=4)
    np.testing.assert_array_equal(first[0].indices, again[0].indices)
    assert not np.array_equal(first[0].indices, other[0].indices)
    with pytest.raises(ValueError, match=r"sum to 9 but the dataset has 100"):
        random_split(ds, [4, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="not both"):
        random_split(ds, [50, 50], seed=1, generator=np.random.default_rng(1))


@pytest.mark.parametrize("n, k, shuffle", [(10, 3, False), (23, 5, True), (6, 6, True)])
def test_kfold_each_example_validated_exactly_once(n, k, shuffle):
    folds = kfold_indices(n, k, shuffle=shuffle, seed=0)
    assert len(folds) == k
    val_all = np.concatenate([val for _, val in folds])
    assert sorted(val_all.tolist()) == list(range(n))
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0
        assert len(train) + len(val) == n
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_shuffle_seed_and_errors():
    a = [v.tolist() for _, v in KFold(4, shuffle=True, seed=1).split(20)]
    b = [v.tolist() for _, v in KFold(4, shuffle=True, seed=1).split(20)]
    plain = [v.tolist() for _, v in KFold(4).split(20)]
    assert a == b and a != plain
    assert plain[0] == [0, 1, 2, 3, 4]
    train, val = next(KFold(2).subsets(TensorDataset(np.arange(6))))
    assert len(train) == len(val) == 3
    with pytest.raises(ValueError, match=">= 2"):
        KFold(1)
    with pytest.raises(ValueError, match="cannot make 5 folds from only 3"):
        kfold_indices(3, 5)


# ---------------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------------


def test_loader_len_shapes_and_drop_last():
    x, y = _xy(10)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert np.concatenate([b[1] for b in batches]).tolist() == list(range(10))  # no shuffle
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]
    assert len(DataLoader(ds, batch_size=10, drop_last=True)) == 1
    assert len(DataLoader(ds, batch_size=11, drop_last=True)) == 0


def test_loader_shuffle_reproducible_with_seed_and_new_each_epoch():
    ds = TensorDataset(np.arange(200))
    order = lambda loader: np.concatenate([b[0] for b in loader])  # noqa: E731

    a = DataLoader(ds, batch_size=32, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=32, shuffle=True, seed=7)
    a1, a2 = order(a), order(a)
    b1, b2 = order(b), order(b)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # a new order each epoch
    assert sorted(a1.tolist()) == list(range(200))  # a permutation: every example once
    b.set_epoch(1)
    np.testing.assert_array_equal(order(b), a2)  # resume at epoch 1
    unseeded = DataLoader(ds, batch_size=32, shuffle=True)
    assert not np.array_equal(order(unseeded), order(unseeded))


def test_fast_path_equals_per_item_path():
    x = np.random.default_rng(0).random((50, 3, 4)).astype(np.float32)
    y = np.arange(50) % 7
    ds = TensorDataset(x, y)
    fast = DataLoader(ds, batch_size=8, shuffle=True, seed=1)
    slow = DataLoader(ds, batch_size=8, shuffle=True, seed=1, collate_fn=default_collate)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf, xs)
        np.testing.assert_array_equal(yf, ys)
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype


def test_subclass_overriding_getitem_is_read_item_by_item():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x * 2, y

    x, y = _xy(6)
    ds = Doubled(x, y)
    assert not ds.batched_indexing and TensorDataset(x, y).batched_indexing
    xb, _ = next(iter(DataLoader(ds, batch_size=3)))
    np.testing.assert_array_equal(xb, x[:3] * 2)


def test_subset_and_concat_subclasses_overriding_getitem_are_read_item_by_item():
    """Subset and ConcatDataset views of arrays batch with one fancy index, unless a subclass
    changes __getitem__ (an augmentation) without a get_batch of its own."""

    class Augmented(Subset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x * 100, y

    class Shifted(ConcatDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x + 1, y

    x, y = _xy(6)
    ds = TensorDataset(x, y)
    for view, expected in ((Augmented(ds, [0, 1, 2]), x[:3] * 100),
                           (Shifted([ds, ds]), x[:3] + 1)):
        assert not view.batched_indexing
        xb, _ = next(iter(DataLoader(view, batch_size=3)))
        np.testing.assert_array_equal(xb, expected)
    assert Subset(ds, [0, 1]).batched_indexing and ConcatDataset([ds, ds]).batched_indexing


def test_per_item_dataset_is_collated():
    loader = DataLoader(PerItemDataset(7), batch_size=3, shuffle=False)
    xb, yb = next(iter(loader))
    assert xb.shape == (3, 2, 3) and xb.dtype == np.float32
    assert yb.tolist() == [0, 1, 2] and yb.dtype == np.int64
    assert xb[2].max() == 2.0


def test_default_collate_structures():
    batch = default_collate([{"x": 1.5, "name": "a"}, {"x": 2.0, "name": "b"}])
    assert batch["x"].dtype == np.float32 and batch["x"].tolist() == [1.5, 2.0]
    assert batch["name"] == ["a", "b"]
    assert default_collate([True, False]).dtype == np.bool_
    stacked = default_collate([tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])])
    assert isinstance(stacked, np.ndarray) and stacked.shape == (2, 2)
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="same number of fields"):
        default_collate([(1, 2), (1,)])


def test_transform_applies_to_inputs_only():
    x, y = _xy(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=3, transform=lambda xb: xb * 10)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb, x[:3] * 10)
    np.testing.assert_array_equal(yb, y[:3])


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)
    with pytest.raises(TypeError, match="TensorDataset"):
        DataLoader(42)


def test_mnist_sized_epoch_is_fast():
    """60k 28x28 images, shuffled, batch 128: one fancy index per batch, well under a second."""
    images = np.zeros((60000, 28, 28), dtype=np.uint8)
    labels = np.zeros(60000, dtype=np.int64)
    loader = DataLoader(TensorDataset(images, labels), batch_size=128, shuffle=True, seed=0)
    start = time.perf_counter()
    seen = sum(len(yb) for _, yb in loader)
    elapsed = time.perf_counter() - start
    assert seen == 60000
    assert elapsed < 1.0, f"one epoch took {elapsed:.2f}s"


def test_random_split_refuses_nan_fractions():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"fractional lengths must lie in \[0, 1\].*nan"):
        random_split(ds, [float("nan"), 1.0])


def test_subset_refuses_non_integer_indices():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(TypeError, match="Subset: indices must be integers, got dtype float64"):
        Subset(ds, [0.5, 1.7])
    with pytest.raises(TypeError, match="np.flatnonzero"):
        Subset(ds, np.arange(10) % 2 == 0)
    assert len(Subset(ds, [])) == 0
    assert Subset(ds, np.array([1, -1], np.int32))[1] == (9,)
