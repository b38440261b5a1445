"""The CUDA launch fast path (kernels/cuda/_launch.py) on a real GPU: after the first launch of a
kind of arguments it builds the driver's argument list itself; results must equal numba-cuda's
own launch and the NumPy reference, for float32 and float64, and every kernel family that goes
through ``_launch`` (im2col, col2im, max pool forward/backward, average pool)."""

import numpy as np
import pytest
from tinygrad_edu.kernels.cuda import _launch
from tinygrad_edu.kernels.cuda import conv as cuda_conv
from tinygrad_edu.kernels.cuda import pool as cuda_pool
from tinygrad_edu.kernels.reference import conv as ref_conv
from tinygrad_edu.kernels.reference import pool as ref_pool

pytestmark = pytest.mark.gpu


def _run_all(cupy, x):
    cols = cuda_conv.im2col_gemm(x, 3, 2, (2, 1), (1, 0), (1, 2))
    back = cuda_conv.col2im_gemm(cols, x.shape, 3, 2, (2, 1), (1, 0), (1, 2))
    y, argmax = cuda_pool.max_pool2d_forward(x, (3, 2), (2, 1), (1, 0), (1, 1), True)
    dx = cuda_pool.max_pool2d_backward(cupy.ones_like(y), argmax, x.shape)
    avg = cuda_pool.avg_pool2d_forward(x, (2, 3), (1, 2), (1, 1), False, False)
    return [cupy.asnumpy(a) for a in (cols, back, y, dx, avg)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_launch_equals_numba_launch_and_reference(monkeypatch, dtype):
    cupy = pytest.importorskip("cupy")
    x_host = np.random.default_rng(0).standard_normal((2, 3, 7, 9)).astype(dtype)
    x = cupy.asarray(x_host)
    _launch._compiled.clear()
    monkeypatch.setattr(_launch, "FAST_LAUNCH", False)
    slow = _run_all(cupy, x)
    monkeypatch.setattr(_launch, "FAST_LAUNCH", True)
    first = _run_all(cupy, x)   # compiles/launches the ordinary way and remembers the kernels
    fast = _run_all(cupy, x)    # the fast path
    assert _launch._compiled and all(v is not None for v in _launch._compiled.values()), \
        "every kernel launched through _launch should be eligible for the fast path"
    for a, b, c in zip(slow, first, fast):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    ref_cols = ref_conv.im2col_gemm(x_host, 3, 2, (2, 1), (1, 0), (1, 2))
    np.testing.assert_allclose(fast[0], ref_cols)
    ref_y, _ = ref_pool.max_pool2d_forward(x_host, (3, 2), (2, 1), (1, 0), (1, 1), True)
    np.testing.assert_allclose(fast[2], ref_y)


def test_fast_launch_declines_what_it_does_not_handle():
    cupy = pytest.importorskip("cupy")
    assert _launch._argument_kinds((np.zeros(3), 1)) is None  # host arrays: ordinary path
    assert _launch._argument_kinds((cupy.zeros((4, 4))[:, ::2], 1)) is None  # not contiguous
    assert _launch._argument_kinds((cupy.zeros(3), 1, 2.0, True)) == (
        ("<f8", 1), int, float, bool)
