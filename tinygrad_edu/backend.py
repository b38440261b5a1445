"""The one place that decides *where* arrays live and *which* kernel an op calls.

- ``get_array_module(*arrays)`` returns ``numpy`` or ``cupy`` from the arrays themselves
  (Chainer/DeZero's ``get_array_module``): op code is written once against ``xp``.
- ``Device`` parses ``"cpu"``, ``"cuda"`` and ``"cuda:0"``; ``to_device`` moves arrays.
- ``gpu_available()`` detects a real GPU through CuPy. Never through numba: under the CUDA
  simulator ``numba.cuda.is_available()`` is True on a machine with no GPU at all.
- ``kernel(family, name, array)`` returns the kernel function an op should call, following
  ``Config.kernel`` ("auto" | "reference" | "numba" | "cuda").
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .kernels import FLOAT_DTYPES

_CUPY: ModuleType | None = None
_CUPY_CHECKED = False


def _cupy() -> ModuleType | None:
    """Import cupy once; None when it is missing or no device is present."""
    global _CUPY, _CUPY_CHECKED
    if not _CUPY_CHECKED:
        _CUPY_CHECKED = True
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                _CUPY = cupy
        except Exception:
            _CUPY = None
    return _CUPY


def gpu_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    return _cupy() is not None


def is_cupy_array(a) -> bool:
    cp = _CUPY
    return cp is not None and isinstance(a, cp.ndarray)


def get_array_module(*arrays) -> ModuleType:
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    cp = _CUPY
    if cp is not None:
        for a in arrays:
            if isinstance(a, cp.ndarray):
                return cp
    return np


# ----------------------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """A device: ``Device("cpu")`` or ``Device("cuda", 0)``. Compares equal to its string."""

    type: str
    index: int | None = None

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (
            ")" if self.index is None else f", index={self.index})"
        )

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = as_device(other)
            except ValueError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = Device("cpu")


def as_device(device: str | Device | None) -> Device:
    """Parse ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (or a Device). ``"cuda"`` means ``"cuda:0"``."""
    if device is None:
        return CPU
    if isinstance(device, Device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {device!r}")
    text = device.strip().lower()
    if text == "cpu":
        return CPU
    if text == "cuda":
        return Device("cuda", 0)
    if text.startswith("cuda:") and text[5:].isdigit():
        return Device("cuda", int(text[5:]))
    raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def device_of(array) -> Device:
    """The device an array lives on."""
    if is_cupy_array(array):
        return Device("cuda", int(array.device.id))
    return CPU


def _require_gpu(device: Device) -> ModuleType:
    cp = _cupy()
    if cp is None:
        raise RuntimeError(
            f"device {device}: no CUDA GPU available. Install the GPU extra "
            "(pip install 'tinygrad-edu[gpu]') on a machine with an NVIDIA GPU, or use 'cpu'."
        )
    count = cp.cuda.runtime.getDeviceCount()
    if device.index is not None and device.index >= count:
        raise RuntimeError(f"device {device}: only {count} CUDA device(s) present")
    return cp


def array_module_for(device: Device) -> ModuleType:
    """The array module that allocates on ``device``."""
    return np if device.type == "cpu" else _require_gpu(device)


def to_device(array, device: str | Device):
    """Return ``array`` on ``device`` (no copy when it is already there)."""
    device = as_device(device)
    if device.type == "cpu":
        if is_cupy_array(array):
            return array.get()
        return array
    cp = _require_gpu(device)
    if isinstance(array, cp.ndarray):
        if array.device.id == device.index:
            return array
        with cp.cuda.Device(device.index):
            return cp.asarray(array)
    with cp.cuda.Device(device.index):
        return upload(cp, np.asarray(array))


def upload(cp, array: np.ndarray):
    """Copy a NumPy array to the current GPU. A 0-d float travels as its bit pattern: CuPy
    fills 0-d arrays with a memset when the value == 0, which turns -0.0 into 0.0."""
    if array.ndim == 0 and array.dtype.kind == "f":
        bits = np.dtype(f"u{array.dtype.itemsize}")
        return cp.asarray(array.view(bits)).view(array.dtype)
    return cp.asarray(array)


def to_numpy(array) -> np.ndarray:
    return array.get() if is_cupy_array(array) else np.asarray(array)


# ----------------------------------------------------------------------------------------------
# Kernel dispatch
# ----------------------------------------------------------------------------------------------

KERNEL_CHOICES = ("auto", "reference", "numba", "cuda")
_PACKAGE_OF = {"reference": "reference", "numba": "cpu", "cuda": "cuda"}
_CONFIG = None  # autograd.Config, looked up on first use: autograd imports this module


def _config():
    """``autograd.Config``. An import statement inside a hot function costs about 0.7 us per
    call (matmul asks for the kernel setting on every product); a module global does not."""
    global _CONFIG
    if _CONFIG is None:
        from .autograd import Config

        _CONFIG = Config
    return _CONFIG


@functools.cache
def _kernel_module(impl: str, family: str) -> ModuleType:
    return importlib.import_module(f"tinygrad_edu.kernels.{_PACKAGE_OF[impl]}.{family}")


def resolve_kernel_choice(choice: str, on_gpu: bool) -> str:
    """Map a ``Config.kernel`` value to a concrete implementation for this device.

    "auto" picks "cuda" for GPU arrays and "numba" for CPU arrays. Asking for "cuda" with CPU
    arrays, or "numba" with GPU arrays, is an error (the data would have to cross devices).
    """
    if choice not in KERNEL_CHOICES:
        raise ValueError(f"kernel: expected one of {KERNEL_CHOICES}, got {choice!r}")
    if choice == "auto":
        return "cuda" if on_gpu else "numba"
    if choice == "cuda" and not on_gpu:
        raise RuntimeError(
            "kernel='cuda' needs tensors on a CUDA device; move them with .cuda() or use "
            "kernel='auto'/'numba'/'reference' for CPU tensors"
        )
    if choice == "numba" and on_gpu:
        raise RuntimeError("kernel='numba' runs on the CPU; these tensors are on the GPU")
    return choice


def kernel(family: str, name: str, *arrays):
    """The kernel function ``name`` of ``family`` chosen by ``Config.kernel`` for these arrays.

    The reference kernels are NumPy code; on a GPU they run on host copies of the arrays.
    """
    on_gpu = any(is_cupy_array(a) for a in arrays)
    impl = resolve_kernel_choice((_CONFIG or _config()).kernel, on_gpu)
    fn = getattr(_kernel_module(impl, family), name)
    if impl == "reference" and on_gpu:
        return _on_host(fn)
    return fn


def numba_kernels(family: str, *arrays) -> ModuleType | None:
    """``kernels/cpu/<family>.py`` when ``Config.kernel`` picks the Numba kernels for these
    arrays: NumPy arrays under "auto" or "numba". None for anything else (CuPy arrays, Tensors,
    the "reference" setting): the caller runs its own array code. For ops that call a Numba
    kernel only where it fits (the matrix product, the optimizers' updates) and otherwise
    compute with ``xp``; "cuda" with NumPy arrays raises, as in ``kernel``."""
    for a in arrays:
        if a.__class__ is not np.ndarray:
            return None
    if resolve_kernel_choice((_CONFIG or _config()).kernel, on_gpu=False) != "numba":
        return None
    return _kernel_module("numba", family)


def numba_float_kernels(family: str, *arrays) -> ModuleType | None:
    """``numba_kernels(family, *arrays)`` for NumPy arrays of one dtype, float32 or float64 (what
    the Numba kernels are compiled for); None for other dtypes or a mix of them."""
    dtype = arrays[0].dtype
    if dtype not in FLOAT_DTYPES:
        return None
    for a in arrays:
        if a.dtype != dtype:
            return None
    return numba_kernels(family, *arrays)


def cpu_matmul(*arrays):
    """The matrix product for these arrays when it is the Numba GEMM: ``matmul`` of
    ``kernels/cpu/gemm.py`` (register-blocked, 1.5-2x NumPy's AVX2 BLAS on AVX-512 CPUs; it
    hands small products, and all of them on CPUs without AVX-512, to BLAS itself). That is
    when ``Config.kernel`` picks the Numba kernels and the arrays are NumPy arrays of one dtype,
    float32 or float64. None otherwise (CuPy arrays, the reference kernels, other dtypes,
    Tensors): the caller multiplies with ``@`` (BLAS, cuBLAS)."""
    gemm = numba_float_kernels("gemm", *arrays)
    return None if gemm is None else gemm.matmul


def _on_host(fn):
    """Wrap a NumPy kernel so that it accepts and returns CuPy arrays (via host copies)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args = [to_numpy(a) if is_cupy_array(a) else a for a in args]
        out = fn(*args, **kwargs)
        cp = _cupy()
        if isinstance(out, tuple):
            return tuple(cp.asarray(o) if isinstance(o, np.ndarray) else o for o in out)
        return cp.asarray(out)

    return wrapper


# ----------------------------------------------------------------------------------------------
# CPU threads
# ----------------------------------------------------------------------------------------------

_THREAD_LIMITS = None


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for BLAS (NumPy's matmul) and for the Numba CPU kernels.

    On small CPUs one thread each is often fastest: both pools busy-wait after every call, and
    two pools spinning on two cores slow each other down (a LeNet step: 54 ms with the default
    threads vs 6 ms with one, measured on the 2-core development machine).
    """
    global _THREAD_LIMITS
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    try:
        from threadpoolctl import threadpool_limits

        _THREAD_LIMITS = threadpool_limits(n)  # stays in force until changed again
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass
