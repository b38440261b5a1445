"""Settings shared by the Numba kernels.

``NUMBA_CACHE``: whether ``@njit`` kernels cache their machine code on disk (``cache=True``).
On by default; set ``TINYGRAD_EDU_NUMBA_CACHE=0`` for read-only installs, where Numba cannot
write its cache next to the source files.
"""

import os

NUMBA_CACHE = os.environ.get("TINYGRAD_EDU_NUMBA_CACHE", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)
