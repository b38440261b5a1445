"""``@prange_kernel(...)``: a kernel with a ``prange`` loop, compiled from one function twice.

- ``kernel.parallel``: ``@njit(parallel=True)``, for calls made with several Numba threads;
- ``kernel.serial``: ``@njit`` without ``parallel``, where ``prange`` is a plain ``range``, for
  calls made with one thread: the library's default on small CPUs (``set_num_threads``), and
  every call that ``threads_for`` keeps on one thread.

Calling ``kernel(...)`` runs the one that fits ``numba.get_num_threads()``. Both compute the
same numbers in the same order (each ``prange`` iteration writes outputs of its own), so the
choice changes the time only (to the bit, except where a kernel's fastmath 'reassoc' lets LLVM
vectorize a sum differently in each compilation: the norm kernels' parallel variant loaded
from the disk cache is off by rounding, 4e-16), and only the variant that runs is compiled:

- a parfor costs about one second more to compile than the same loop without ``parallel``
  (the first training step of LeNet-5 compiles im2col, col2im and two pooling kernels);
- with one thread the serial variant skips the thread pool's launch and barrier.

Numba's disk cache files a kernel under its qualified name, whatever its options, so the serial
variant is compiled from a renamed copy of the function (``<name>_serial``).
"""

import functools
import types

import numba
import numba.np.ufunc.parallel as _parallel
from numba import njit

from .._config import NUMBA_CACHE


def _renamed(function, suffix: str):
    """A copy of ``function`` (same code, globals and closure) named ``<name><suffix>``."""
    copy = types.FunctionType(function.__code__, function.__globals__,
                              function.__name__ + suffix, function.__defaults__,
                              function.__closure__)
    copy.__qualname__ = function.__qualname__ + suffix
    copy.__doc__ = function.__doc__
    return copy


def num_threads() -> int:
    """``numba.get_num_threads()``: the calling thread's count. Once the thread pool is up,
    asked of the threading layer directly: the public function takes two locks first, 0.5 us
    against 0.08, on every kernel call (twice with ``threads_for``). Numba's private names
    are looked up each time, so a Numba without them gets the public function."""
    query = getattr(_parallel, "_get_num_threads", None)
    if query is None or not getattr(_parallel, "_is_initialized", False):
        return numba.get_num_threads()
    return query()


def threads() -> int:
    """The thread count the next kernel call runs with (a function of its own: tests replace
    it to run the parallel variants under a one-thread pool)."""
    return num_threads()


class PrangeKernel:
    """``parallel`` and ``serial`` variants of one function; see the module docstring."""

    def __init__(self, function, options: dict):
        self.parallel = njit(parallel=True, cache=NUMBA_CACHE, **options)(function)
        self.serial = njit(cache=NUMBA_CACHE, **options)(_renamed(function, "_serial"))
        self.py_func = function
        functools.update_wrapper(self, function)

    def __call__(self, *args):
        kernel = self.parallel if threads() > 1 else self.serial
        return kernel(*args)


def prange_kernel(**options):
    """Decorator: ``@prange_kernel(fastmath=...)`` makes a :class:`PrangeKernel` (``options``
    go to both ``njit`` calls, with ``cache=NUMBA_CACHE``)."""
    return lambda function: PrangeKernel(function, options)
