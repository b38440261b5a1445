"""Launch and transfer helpers shared by the Numba CUDA launchers (``conv.py``, ``pool.py``),
and ``nchw_index``, the thread-to-element map of their one-thread-per-element kernels.

Launchers accept NumPy arrays (copied to the device and back; this is what the simulator
tests use) or CuPy arrays / anything with ``__cuda_array_interface__`` (the result is a CuPy
array that stays on the device).  ``on_gpu`` below selects between the two paths.
"""

import numpy as np
from numba import cuda

from .._config import FAST_LAUNCH

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

        if (isinstance(a, cupy.ndarray) and a.flags.c_contiguous
                and (dtype is None or a.dtype == dtype)):
            return a  # the common case, without two calls into CuPy
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


@cuda.jit(device=True, inline=True)
def nchw_index(i, C, H, W):
    """(n, c, h, w) of thread i of a launch with one thread per element of an (N, C, H, W)
    grid, in C order: i = ((n*C + c)*H + h)*W + w."""
    return i // (C * H * W), (i // (H * W)) % C, (i // W) % H, i % W


def _launch(kernel, n_threads, *args):
    """Run ``kernel`` with one thread per work item on a 1-d grid."""
    if n_threads == 0:
        return  # empty batch: nothing to do (a 0-block launch is an error)
    blocks = (n_threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    if FAST_LAUNCH and _fast_launch(kernel, blocks, args):
        return
    kernel[blocks, THREADS_PER_BLOCK](*args)


# ----------------------------------------------------------------------------------------------
# The fast path: launching an already compiled kernel with CuPy arrays
# ----------------------------------------------------------------------------------------------
# ``kernel[blocks, threads](*args)`` makes numba-cuda find the Numba type of every argument on
# every call (for a CuPy array through DLPack), look the compiled kernel up by those types and
# convert each array again: about 0.2 ms of Python per launch, more than a small kernel runs.
# Training LeNet launches seven such kernels per step. So once numba-cuda has compiled and
# launched a kernel for one *kind* of arguments (dtype, ndim and contiguity of each array, type
# of each scalar), the fast path keeps the compiled kernel and its argument types, and later
# launches with the same kind of arguments build the driver's argument list directly, the one
# numba-cuda builds (an array is passed as meminfo, parent, size, itemsize, data pointer, shape,
# strides) and hand it to cuda.core's ``launch`` on the default stream, as numba-cuda does.
# Anything unusual (NumPy arrays, the simulator, non-contiguous arrays, an unknown argument
# type, another numba-cuda version) takes the ordinary path. TINYGRAD_EDU_FAST_LAUNCH=0 turns
# the fast path off.

_compiled: dict = {}  # (kernel, device, argument kinds) -> what _find_compiled found, or None


def _argument_kinds(args):
    """A hashable description of the arguments that decides which compiled kernel runs, or
    None when the fast path does not handle them (anything but C-contiguous CuPy arrays and
    Python/NumPy scalars)."""
    kinds = []
    for a in args:
        if hasattr(a, "__cuda_array_interface__"):
            if type(a).__module__.split(".")[0] != "cupy" or not a.flags.c_contiguous:
                return None
            kinds.append((a.dtype.str, a.ndim))
        elif isinstance(a, (int, float, np.integer, np.floating, np.bool_)):
            kinds.append(type(a))  # bool before int: type(True) is bool
        else:
            return None
    return tuple(kinds)


def _array_argument(a):
    # meminfo, parent, size, itemsize, data, shape..., strides... (strides in bytes)
    return (0, 0, a.size, a.itemsize, a.data.ptr, *a.shape, *a.strides)


def _integer_argument(c_type):
    return lambda a: (c_type(int(a)),)


def _argument_converters(types) -> list | None:
    """One function per argument giving the values numba-cuda's ``_Kernel.launch`` passes to the
    driver for that argument type (a tuple of them), or None for a type not handled here."""
    import ctypes

    from numba.cuda import types as nb

    converters = []
    for ty in types:
        if isinstance(ty, nb.Array):
            converters.append(_array_argument)
        elif ty == nb.boolean:
            converters.append(lambda a: (bool(a),))
        elif isinstance(ty, nb.Integer):
            converters.append(_integer_argument(getattr(ctypes, f"c_{ty}")))
        elif ty == nb.float64:
            converters.append(lambda a: (ctypes.c_double(a),))
        elif ty == nb.float32:
            converters.append(lambda a: (ctypes.c_float(a),))
        else:
            return None
    return converters


def _fast_launch(kernel, blocks, args) -> bool:
    """Launch through the fast path; False when the ordinary path must (and then did not yet)
    run. The first launch of each kind of arguments goes the ordinary way and is remembered."""
    kinds = _argument_kinds(args)
    if kinds is None:
        return False
    import cupy

    key = (kernel, cupy.cuda.runtime.getDevice(), kinds)
    entry = _compiled.get(key, False)
    if entry is False:  # first time: compile and launch the ordinary way, then remember
        kernel[blocks, THREADS_PER_BLOCK](*args)
        _compiled[key] = _find_compiled(kernel, args)
        return True
    if entry is None:
        return False
    cu_kernel, converters, stream, launch, launch_config = entry
    driver_args = [value for convert, a in zip(converters, args) for value in convert(a)]
    launch(stream, launch_config(grid=blocks, block=THREADS_PER_BLOCK), cu_kernel, *driver_args)
    return True


def _find_compiled(kernel, args):
    """What the fast path needs to launch the kernel numba-cuda compiled for ``args`` (its
    cuda.core kernel, argument converters, the default stream, cuda.core's launch and
    LaunchConfig), or None when this numba-cuda does not look the way the fast path expects."""
    try:
        from numba.cuda.cudadrv import driver

        compiled = kernel.overloads[tuple(kernel.typeof_pyval(a) for a in args)]
        if compiled.debug or compiled.cooperative or compiled.extensions:
            return None
        converters = _argument_converters(compiled.argument_types)
        if converters is None:
            return None
        from cuda.core import LaunchConfig, launch

        return (compiled._codelibrary.get_cufunc().kernel, converters, driver._to_core_stream(0),
                launch, LaunchConfig)
    except Exception:  # noqa: BLE001 - any surprise: keep the ordinary path for this kernel
        return None


def _both_dtypes(template):
    """PTX_SIGNATURES entry: ``template`` with ``{t}`` as float32, then as float64."""
    return [template.format(t="float32"), template.format(t="float64")]
