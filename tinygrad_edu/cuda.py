"""``tg.cuda``: torch.cuda's everyday functions, answered through CuPy, so a torch script's
device lines port as written::

    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")

Without CuPy or a GPU: ``is_available()`` is False, ``device_count()`` 0, the seeding and
cache functions do nothing (as torch's do without CUDA), and the functions that need a device
(``current_device``, ``synchronize``, ``get_device_name``, ...) raise a RuntimeError that says so.
"""

from __future__ import annotations

from . import backend
from .backend import as_device


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    return backend.gpu_available()


def device_count() -> int:
    """The number of CUDA devices CuPy sees (0 without CuPy or a GPU)."""
    cp = backend._cupy()
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


def _cupy_for(op: str):
    cp = backend._cupy()
    if cp is None:
        raise RuntimeError(f"cuda.{op}: no CUDA GPU found (CuPy missing or 0 devices); "
                           "install tinygrad-edu[gpu] on a machine with an NVIDIA GPU")
    return cp


def _index(op: str, device) -> int:
    """A device given as None (the current one), an int, 'cuda:N' or a Device: its index."""
    cp = _cupy_for(op)
    if device is None:
        return int(cp.cuda.Device().id)
    if isinstance(device, int):
        index = device
    else:
        parsed = as_device(device)
        if parsed.type != "cuda":
            raise ValueError(f"cuda.{op}: expected a CUDA device, got {device!r}")
        index = parsed.index
    if not 0 <= index < device_count():
        raise RuntimeError(f"cuda.{op}: device {index} does not exist ({device_count()} "
                           "CUDA device(s))")
    return index


def current_device() -> int:
    """The index of the device CuPy puts new arrays on."""
    return _index("current_device", None)


def set_device(device) -> None:
    """Make ``device`` (an int, 'cuda:N' or a Device) the current one."""
    cp = _cupy_for("set_device")
    cp.cuda.Device(_index("set_device", device)).use()


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished:
    call it before reading a clock around GPU work."""
    cp = _cupy_for("synchronize")
    cp.cuda.Device(_index("synchronize", device)).synchronize()


def get_device_name(device=None) -> str:
    cp = _cupy_for("get_device_name")
    name = cp.cuda.runtime.getDeviceProperties(_index("get_device_name", device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory in use by arrays (CuPy's default memory pool)."""
    cp = _cupy_for("memory_allocated")
    with cp.cuda.Device(_index("memory_allocated", device)):
        return int(cp.get_default_memory_pool().used_bytes())


def empty_cache() -> None:
    """Give the memory CuPy's pool holds but no array uses back to the driver."""
    cp = backend._cupy()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed the current device's CuPy generator (what draws on the GPU use); nothing without
    a GPU."""
    cp = backend._cupy()
    if cp is not None:
        cp.random.seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the CuPy generator of every device."""
    cp = backend._cupy()
    for index in range(device_count()):
        with cp.cuda.Device(index):
            cp.random.seed(seed)
