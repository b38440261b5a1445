"""Launch and transfer helpers shared by the Numba CUDA launchers (``conv.py``, ``pool.py``).

Launchers accept NumPy arrays (copied to the device and back; this is what the simulator
tests use) or CuPy arrays / anything with ``__cuda_array_interface__`` (the result is a CuPy
array that stays on the device).  ``on_gpu`` below selects between the two paths.
"""

import numpy as np
from numba import cuda

# Threads per block of every 1-d launch: a multiple of the 32-thread warp; 128 keeps several
# blocks resident per SM and wastes few threads in the last block of a small launch.
THREADS_PER_BLOCK = 128


def _on_gpu(*arrays):
    """True when any argument already lives on the GPU (CuPy or another CUDA array)."""
    return any(hasattr(a, "__cuda_array_interface__") for a in arrays)


def _to_device(a, on_gpu, dtype=None):
    """A C-contiguous device copy/view of ``a``: CuPy on the GPU path, else a Numba array."""
    if on_gpu:
        import cupy  # lazily: CuPy is optional

        return cupy.ascontiguousarray(cupy.asarray(a, dtype=dtype))
    return cuda.to_device(np.ascontiguousarray(a, dtype=dtype))


def _empty(shape, dtype, on_gpu):
    if on_gpu:
        import cupy

        return cupy.empty(shape, dtype=dtype)
    return cuda.device_array(shape, dtype=dtype)


def _zeros(shape, dtype, on_gpu):
    if on_gpu:
        import cupy

        return cupy.zeros(shape, dtype=dtype)
    return cuda.to_device(np.zeros(shape, dtype=dtype))


def _to_caller(d, on_gpu):
    """Return device results as CuPy on the GPU path, as NumPy (copied back) otherwise."""
    return d if on_gpu else d.copy_to_host()


def _launch(kernel, n_threads, *args):
    """Run ``kernel`` with one thread per work item on a 1-d grid."""
    if n_threads == 0:
        return  # empty batch: nothing to do (a 0-block launch is an error)
    blocks = (n_threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kernel[blocks, THREADS_PER_BLOCK](*args)


def _both_dtypes(template):
    """PTX_SIGNATURES entry: ``template`` with ``{t}`` as float32, then as float64."""
    return [template.format(t="float32"), template.format(t="float64")]
