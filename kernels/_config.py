"""Settings shared by the Numba kernels.

``NUMBA_CACHE``: whether ``@njit`` kernels cache their machine code on disk (``cache=True``).
On by default; set ``TINYGRAD_EDU_NUMBA_CACHE=0`` for read-only installs, where Numba cannot
write its cache next to the source files.

``FAST_LAUNCH``: whether CUDA kernels given CuPy arrays skip numba-cuda's per-call argument
typing once a kernel is compiled for those argument types (``kernels/cuda/_launch.py``). On by
default; ``TINYGRAD_EDU_FAST_LAUNCH=0`` launches every kernel through numba-cuda's dispatcher.
"""

import os


def _switch(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


NUMBA_CACHE = _switch("TINYGRAD_EDU_NUMBA_CACHE")
FAST_LAUNCH = _switch("TINYGRAD_EDU_FAST_LAUNCH")
