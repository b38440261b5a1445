"""Samplers, BatchSampler, DataLoader(sampler=/batch_sampler=), IterableDataset, ChainDataset,
StackDataset, default_convert, get_worker_info: checked against torch.utils.data."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import (
    BatchSampler,
    ChainDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
)

torch = pytest.importorskip("torch")
tud = torch.utils.data


def _np(batch):
    """A torch batch (tensors, nested in tuples/lists/dicts) as NumPy arrays."""
    if isinstance(batch, torch.Tensor):
        return batch.numpy()
    if isinstance(batch, dict):
        return {k: _np(v) for k, v in batch.items()}
    if isinstance(batch, tuple | list):
        return type(batch)(_np(b) for b in batch)
    return batch


def _same_batches(ours, theirs):
    ours = list(ours)
    theirs = [_np(b) for b in theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        _assert_same(a, b)


def _assert_same(a, b):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _xy(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64) * 10
    return x, y


class Stream(IterableDataset):
    """Yields (array, int) examples start..stop-1; a length only when asked for."""

    def __init__(self, start, stop, with_len=True):
        self.start, self.stop, self.with_len = start, stop, with_len

    def __iter__(self):
        assert get_worker_info() is None
        for i in range(self.start, self.stop):
            yield np.full(2, i, dtype=np.float32), i

    def __len__(self):
        if not self.with_len:
            return super().__len__()
        return self.stop - self.start


class TorchStream(tud.IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        for i in range(self.start, self.stop):
            yield np.full(2, i, dtype=np.float32), i

    def __len__(self):
        return self.stop - self.start


class Items(Dataset):
    """Per-item dataset (no batched indexing)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i


# ---------------------------------------------------------------------------------------------
# samplers
# ---------------------------------------------------------------------------------------------


def test_sequential_and_batch_sampler_match_torch_exactly():
    data = list(range(11))
    assert list(SequentialSampler(data)) == list(tud.SequentialSampler(data))
    assert len(SequentialSampler(data)) == 11
    for batch_size in (1, 3, 4, 11, 20):
        for drop_last in (False, True):
            ours = BatchSampler(SequentialSampler(data), batch_size, drop_last)
            theirs = tud.BatchSampler(tud.SequentialSampler(data), batch_size, drop_last)
            assert list(ours) == list(theirs)
            assert len(ours) == len(theirs)
    order = [5, 2, 9, 0, 1, 7, 3]  # any iterable of indices, the same on both sides
    assert list(BatchSampler(order, 3, False)) == list(tud.BatchSampler(order, 3, False))
    assert all(isinstance(i, int) for batch in BatchSampler(order, 2, False) for i in batch)


def test_random_sampler_permutation_lengths_and_reproducibility():
    data = range(20)
    tg.manual_seed(3)
    a = list(RandomSampler(data))
    tg.manual_seed(3)
    b = list(RandomSampler(data))
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))
    assert all(isinstance(i, int) for i in a)
    sampler = RandomSampler(data)
    assert list(sampler) != list(sampler)  # a new order each epoch
    # num_samples > n without replacement: whole permutations, the last one cut (torch's rule)
    long = list(RandomSampler(data, num_samples=45))
    assert len(long) == len(RandomSampler(data, num_samples=45)) == 45
    assert sorted(long[:20]) == sorted(long[20:40]) == list(range(20))
    assert len(set(long[40:])) == 5
    # an explicit generator: its state decides, the library's generator is not touched
    state = tg.get_rng_state()
    g1 = list(RandomSampler(data, generator=np.random.default_rng(0)))
    g2 = list(RandomSampler(data, generator=np.random.default_rng(0)))
    assert g1 == g2
    assert tg.get_rng_state() == state


def test_random_sampler_with_replacement_is_uniform():
    sampler = RandomSampler(range(5), replacement=True, num_samples=50_000,
                            generator=np.random.default_rng(1))
    drawn = np.array(list(sampler))
    assert len(sampler) == drawn.shape[0] == 50_000
    frequencies = np.bincount(drawn, minlength=5) / drawn.shape[0]
    np.testing.assert_allclose(frequencies, 0.2, atol=0.01)
    small = list(RandomSampler(range(3), replacement=True, num_samples=10))
    assert len(small) == 10 and set(small) <= {0, 1, 2}


def test_subset_random_sampler():
    indices = [4, 8, 15, 16, 23, 42]
    tg.manual_seed(0)
    a = list(SubsetRandomSampler(indices))
    tg.manual_seed(0)
    assert a == list(SubsetRandomSampler(indices))
    assert sorted(a) == indices and len(SubsetRandomSampler(indices)) == 6
    g = list(SubsetRandomSampler(np.array(indices), generator=np.random.default_rng(5)))
    assert g == list(SubsetRandomSampler(indices, generator=np.random.default_rng(5)))
    assert all(isinstance(i, int) for i in g)


def test_weighted_random_sampler_frequencies_and_reproducibility():
    weights = [1.0, 3.0, 0.0, 6.0]  # need not sum to 1
    sampler = WeightedRandomSampler(weights, 40_000, generator=np.random.default_rng(0))
    drawn = np.array(list(sampler))
    assert len(sampler) == 40_000
    frequencies = np.bincount(drawn, minlength=4) / drawn.shape[0]
    np.testing.assert_allclose(frequencies, [0.1, 0.3, 0.0, 0.6], atol=0.01)
    tg.manual_seed(7)
    a = list(WeightedRandomSampler(weights, 30))
    tg.manual_seed(7)
    assert a == list(WeightedRandomSampler(weights, 30))
    # without replacement: every index at most once, zero weights never
    once = list(WeightedRandomSampler(weights, 3, replacement=False))
    assert sorted(once) == [0, 1, 3]


def test_sampler_errors_match_torch():
    for kwargs, error, text in (
        ({"replacement": 1}, TypeError, "replacement should be a boolean"),
        ({"num_samples": 0}, ValueError, "num_samples should be a positive integer"),
    ):
        with pytest.raises(error, match=text):
            tud.RandomSampler(range(3), **kwargs)
        with pytest.raises(error, match=f"RandomSampler: {text}.*got"):
            RandomSampler(range(3), **kwargs)
    for make in (WeightedRandomSampler, tud.WeightedRandomSampler):
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            make([1.0, 2.0], -1)
        with pytest.raises(ValueError, match="replacement should be a boolean"):
            make([1.0, 2.0], 2, replacement="yes")
        with pytest.raises(ValueError, match="weights should be a 1d sequence"):
            make([[1.0, 2.0]], 2)
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False)
    with pytest.raises(RuntimeError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    for make in (BatchSampler, tud.BatchSampler):
        with pytest.raises(ValueError, match=r"batch_size should be a positive integer.*0"):
            make(range(4), 0, False)
        with pytest.raises(ValueError, match="drop_last should be a boolean"):
            make(range(4), 2, 0)
    with pytest.raises(TypeError,
                       match="RandomSampler: generator must be a tg.Generator .* or a numpy"):
        RandomSampler(range(3), generator=3)
    with pytest.raises(NotImplementedError, match="Sampler"):
        iter(Sampler())


# ---------------------------------------------------------------------------------------------
# DataLoader with samplers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_with_sampler_matches_torch(fast, drop_last):
    x, y = _xy(10)
    order = [3, 9, 0, 4, 4, 7, 1, 8, 2]
    collate = None if fast else default_collate
    ours = DataLoader(TensorDataset(x, y), batch_size=4, sampler=order, drop_last=drop_last,
                      collate_fn=collate)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4,
                            sampler=order, drop_last=drop_last)
    assert len(ours) == len(theirs)
    _same_batches(ours, theirs)
    # a Sampler object, and the per-item path
    ours = DataLoader(Items(), batch_size=3, sampler=SequentialSampler(range(5)))
    theirs = tud.DataLoader(Items(), batch_size=3, sampler=tud.SequentialSampler(range(5)))
    assert len(ours) == len(theirs) == 2
    _same_batches(ours, theirs)


def test_loader_with_batch_sampler_matches_torch():
    x, y = _xy(10)
    batches = [[0, 1, 2], [9], [5, 5, 3, 2]]
    ours = DataLoader(TensorDataset(x, y), batch_sampler=batches)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
                            batch_sampler=batches)
    assert len(ours) == len(theirs) == 3
    _same_batches(ours, theirs)
    ours = DataLoader(Items(), batch_sampler=BatchSampler(range(7), 3, True))
    theirs = tud.DataLoader(Items(), batch_sampler=tud.BatchSampler(range(7), 3, True))
    assert len(ours) == len(theirs) == 2
    _same_batches(ours, theirs)


def test_loader_without_batching_matches_torch():
    ours = DataLoader(Items(), batch_size=None)
    theirs = tud.DataLoader(Items(), batch_size=None)
    assert len(ours) == len(theirs) == 7
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a[0], b[0].numpy())
        assert a[1] == b[1]


def test_loader_random_sampler_reproducible_and_drawn_at_iter():
    x, y = _xy(30)
    ds = TensorDataset(x, y)

    def epoch(loader):
        return np.concatenate([yb for _, yb in loader])

    tg.manual_seed(11)
    a = DataLoader(ds, batch_size=8, sampler=RandomSampler(ds))
    first = epoch(a)
    second = epoch(a)
    tg.manual_seed(11)
    b = DataLoader(ds, batch_size=8, sampler=RandomSampler(ds))
    np.testing.assert_array_equal(first, epoch(b))
    np.testing.assert_array_equal(second, epoch(b))
    assert not np.array_equal(first, second)
    assert sorted(first.tolist()) == sorted(y.tolist())
    # the epoch's order is fixed by iter(): drawing random numbers afterwards changes nothing
    tg.manual_seed(11)
    batches = iter(DataLoader(ds, batch_size=8, sampler=RandomSampler(ds)))
    tg.rand(5)
    np.testing.assert_array_equal(first, np.concatenate([yb for _, yb in batches]))
    # len() draws nothing
    tg.manual_seed(2)
    state = tg.get_rng_state()
    assert len(DataLoader(ds, batch_size=8, sampler=RandomSampler(ds))) == 4
    assert tg.get_rng_state() == state


def test_loader_shuffle_draws_from_library_generator_or_given_one():
    x, y = _xy(40)
    ds = TensorDataset(x, y)

    def epoch(loader):
        return np.concatenate([yb for _, yb in loader])

    tg.manual_seed(5)
    a = epoch(DataLoader(ds, batch_size=16, shuffle=True))
    tg.manual_seed(5)
    np.testing.assert_array_equal(a, epoch(DataLoader(ds, batch_size=16, shuffle=True)))
    g = epoch(DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(1)))
    h = epoch(DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(1)))
    np.testing.assert_array_equal(g, h)
    # the seed= path is unchanged: epoch e is np.random.default_rng([seed, e])
    s = epoch(DataLoader(ds, batch_size=16, shuffle=True, seed=3))
    np.testing.assert_array_equal(s, y[np.random.default_rng([3, 0]).permutation(40)])


def test_loader_weighted_sampler_oversamples():
    x, y = _xy(4)
    weights = [0.0, 0.0, 1.0, 3.0]
    sampler = WeightedRandomSampler(weights, 4000, generator=np.random.default_rng(0))
    loader = DataLoader(TensorDataset(x, y), batch_size=100, sampler=sampler)
    assert len(loader) == 40
    labels = np.concatenate([yb for _, yb in loader])
    assert set(labels.tolist()) == {20, 30}
    assert abs(np.mean(labels == 30) - 0.75) < 0.03


# ---------------------------------------------------------------------------------------------
# IterableDataset, ChainDataset, StackDataset
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (1, False), (None, False)])
def test_iterable_and_chain_datasets_match_torch(batch_size, drop_last):
    ours = DataLoader(Stream(0, 5) + Stream(10, 12), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(tud.ChainDataset([TorchStream(0, 5), TorchStream(10, 12)]),
                            batch_size=batch_size, drop_last=drop_last)
    assert isinstance(Stream(0, 1) + Stream(1, 2), ChainDataset)
    assert len(ours) == len(theirs)
    _same_batches(ours, theirs)
    assert len(ChainDataset([Stream(0, 5), Stream(10, 12)])) == 7


def test_iterable_dataset_without_len_and_refused_options():
    loader = DataLoader(Stream(0, 5, with_len=False), batch_size=2)
    assert [yb.tolist() for _, yb in loader] == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError, match="no len"):
        len(loader)
    assert "Stream" in repr(loader)
    for kwargs, name in (({"shuffle": True}, "shuffle"), ({"sampler": [0, 1]}, "sampler"),
                         ({"batch_sampler": [[0]]}, "batch_sampler")):
        with pytest.raises(ValueError, match=f"expected unspecified {name} option"):
            tud.DataLoader(TorchStream(0, 3), **kwargs)
        with pytest.raises(ValueError, match=f"IterableDataset: expected unspecified {name}"):
            DataLoader(Stream(0, 3), **kwargs)
    with pytest.raises(TypeError, match="ChainDataset: only supports IterableDataset"):
        list(ChainDataset([Stream(0, 2), Items()]))


def test_stack_dataset_matches_torch():
    x, y = _xy(6)
    extra = np.arange(6, dtype=np.float32) * 0.5
    ours = StackDataset(TensorDataset(x, y), TensorDataset(extra))
    theirs = tud.StackDataset(tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
                              tud.TensorDataset(torch.tensor(extra)))
    assert len(ours) == len(theirs) == 6
    assert ours.batched_indexing
    _same_batches(DataLoader(ours, batch_size=4), tud.DataLoader(theirs, batch_size=4))
    _same_batches(DataLoader(ours, batch_size=4, collate_fn=default_collate),
                  tud.DataLoader(theirs, batch_size=4))
    ours = StackDataset(a=TensorDataset(x), b=TensorDataset(y))
    theirs = tud.StackDataset(a=tud.TensorDataset(torch.tensor(x)),
                              b=tud.TensorDataset(torch.tensor(y)))
    _same_batches(DataLoader(ours, batch_size=4, sampler=[5, 0, 3]),
                  tud.DataLoader(theirs, batch_size=4, sampler=[5, 0, 3]))
    assert set(ours[2]) == {"a", "b"}
    with pytest.raises(ValueError, match="both"):
        StackDataset(TensorDataset(x), b=TensorDataset(y))
    with pytest.raises(ValueError, match=r"size mismatch.*6.*5"):
        StackDataset(TensorDataset(x), TensorDataset(y[:5]))


# ---------------------------------------------------------------------------------------------
# DataLoader argument errors (torch's meaning)
# ---------------------------------------------------------------------------------------------


def test_loader_mutual_exclusion_errors_like_torch():
    x, y = _xy(6)
    ours_ds = TensorDataset(x, y)
    theirs_ds = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    cases = [
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuf"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "shuffle": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "sampler": [0]}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually excl"),
        ({"batch_size": None, "drop_last": True}, "mutually exclusive with drop_last"),
    ]
    for kwargs, text in cases:
        with pytest.raises(ValueError, match=text):
            tud.DataLoader(theirs_ds, **kwargs)
        with pytest.raises(ValueError, match=f"DataLoader: .*{text}"):
            DataLoader(ours_ds, **kwargs)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(ours_ds, shuffle=True, seed=0, generator=np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# default_convert, get_worker_info
# ---------------------------------------------------------------------------------------------


def test_default_convert_and_worker_info():
    assert get_worker_info() is None
    example = {"x": tg.tensor([1.0, 2.0]), "y": (3, "a", [np.ones(2)])}
    converted = default_convert(example)
    assert isinstance(converted["x"], np.ndarray)
    np.testing.assert_array_equal(converted["x"], [1.0, 2.0])
    assert converted["y"][0] == 3 and converted["y"][1] == "a"
    assert isinstance(converted["y"], tuple) and isinstance(converted["y"][2], list)
    arr = np.zeros(3)
    assert default_convert(arr) is arr
