"""Optimizer updates as Numba ``@cuda.jit`` kernels (same signatures as ``reference.optim``).

Update rule: see ``reference/optim.py``. One kernel, one thread per element:

- ``adam_kernel1``  thread i reads p[i], g[i], m[i], v[i] (and v_max[i]) once and writes p[i],
  m[i], v[i] (and v_max[i]) back: the reference's ten array passes in one, with its operations
  in its order and in the arrays' dtype (the six scalars arrive as one array of that dtype, so
  a float32 update never computes in float64). CUDA's division and square root are correctly
  rounded like NumPy's; the compiler may fuse a multiply and an add into one FMA, so results
  can differ from the reference in the last bit.

``optim.Adam`` itself updates CuPy parameters with a fused CuPy elementwise kernel of its own,
the path measured on an H100; this kernel is the Numba version, for study and for
``benchmarks/bench_kernels.py --family optim --device cuda`` (not yet run on a GPU).

The launcher takes CuPy arrays (updated in place on the device) or NumPy arrays (copied to the
device, updated there and copied back into the caller's arrays: what the simulator tests use).
"""

import math

import numpy as np
from numba import cuda

from ..reference.optim import ADAM_ARRAY_NAMES, adam_arrays_problem, adam_scalars
from ._launch import _both_dtypes, _launch, _on_gpu, _to_device

# ---------------------------------------------------------------------------------------------
# kernel
# ---------------------------------------------------------------------------------------------


@cuda.jit
def adam_kernel1(p, g, m, v, max_v, scalars, amsgrad):
    """m += (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2;  [v_max = max(v_max, v)];
    p -= step_size m / (sqrt(v or v_max) / bc2_sqrt + eps)   for element i = the thread's index.
    ``scalars``: (1 - beta1, beta2, 1 - beta2, step_size, bc2_sqrt, eps) in the arrays' dtype;
    ``max_v`` is read only with ``amsgrad``."""
    i = cuda.grid(1)
    if i >= p.size:
        return  # the last block's spare threads
    one_minus_beta1, beta2, one_minus_beta2 = scalars[0], scalars[1], scalars[2]
    step_size, bc2_sqrt, eps = scalars[3], scalars[4], scalars[5]
    gi = g[i]
    mi = m[i] + one_minus_beta1 * (gi - m[i])
    vi = beta2 * v[i] + one_minus_beta2 * (gi * gi)
    m[i] = mi
    v[i] = vi
    if amsgrad:  # v_max = max(v_max, v), a NaN on either side wins (np.maximum's rule)
        old = max_v[i]
        if old != old or vi < old:  # old is NaN, or the larger
            vi = old
        max_v[i] = vi
    p[i] -= (mi / (math.sqrt(vi) / bc2_sqrt + eps)) * step_size


_V1 = "{t}[::1]"  # a flat C-contiguous array of the dtype
PTX_SIGNATURES = {
    "adam_kernel1": _both_dtypes(f"void({', '.join([_V1] * 6)}, boolean)"),
}

# ---------------------------------------------------------------------------------------------
# launcher
# ---------------------------------------------------------------------------------------------


def adam_step(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps, max_v=None):
    """One Adam update of ``p`` in place, ``m``, ``v`` (and ``max_v``: amsgrad) with it, on the
    GPU: the rule and the signature of ``reference.optim.adam_step``. Arrays of one shape and one
    dtype (float32 or float64), C-contiguous; CuPy arrays stay on the device, NumPy arrays are
    copied there and back."""
    arrays = (p, g, m, v) if max_v is None else (p, g, m, v, max_v)
    for name, a in zip(ADAM_ARRAY_NAMES, arrays):
        if not hasattr(a, "dtype") or not hasattr(a, "flags"):
            raise TypeError(f"adam_step: {name} must be a CuPy or NumPy array, got "
                            f"{type(a).__name__}")
    problem = adam_arrays_problem(arrays)
    if problem is not None:
        raise problem
    on_gpu = _on_gpu(*arrays)
    flat = [_to_device(a.reshape(-1), on_gpu) for a in arrays]  # views of CuPy arrays
    scalars = np.array(adam_scalars(beta1, beta2, step_size, bc2_sqrt, eps), dtype=p.dtype)
    amsgrad = max_v is not None
    # without amsgrad the kernel never reads max_v: v stands in for it
    _launch(adam_kernel1, p.size, *flat[:4], flat[4] if amsgrad else flat[3],
            _to_device(scalars, on_gpu), amsgrad)
    if not on_gpu:  # NumPy arrays: the results go back into the caller's arrays
        for name, a, d in zip(ADAM_ARRAY_NAMES, arrays, flat):
            if name != "g":
                a[...] = d.copy_to_host().reshape(a.shape)
