"""The CPU kernels with a ``prange`` loop come in two variants (``kernels/cpu/_prange.py``):
compiled with ``parallel=True`` for several threads, without it for one. Both are checked here
to give the same bits through the public launchers, on odd shapes, with the thread count
reported as 1 and as 2 (``_prange.threads``; the test suite's pool has one thread, which runs
the parfor's code all the same)."""

import numpy as np
import pytest
from tinygrad_edu.kernels.cpu import _prange, attention, conv, norm, pool, winograd

DTYPE = np.float64  # one dtype: each parallel variant compiles in 1-2 s


def _kernels() -> list:
    kernels = [value for module in (conv, pool, attention, norm, winograd)
               for value in vars(module).values()
               if isinstance(value, _prange.PrangeKernel)]
    kernels += [pool._fixed_window_kernel(*window) for window in pool.FIXED_WINDOWS]
    return kernels


def _rng(seed=0):
    return np.random.default_rng(seed)


def _conv_calls():
    x = _rng().standard_normal((3, 2, 7, 9)).astype(DTYPE)
    window = (3, 2, (2, 1), (1, 2), (1, 1))  # KH, KW, stride, padding, dilation
    cols = conv.im2col(x, *window)
    cols_gemm = conv.im2col_gemm(x, *window)
    return [
        lambda: conv.im2col(x, *window),
        lambda: conv.im2col_gemm(x, *window),
        lambda: conv.col2im(cols, x.shape, *window),
        lambda: conv.col2im_gemm(cols_gemm, x.shape, *window),
    ]


def _pool_calls():
    x = _rng(1).standard_normal((2, 3, 9, 7)).astype(DTYPE)
    y, argmax = pool.max_pool2d_forward(x, 2, 2, 0, 1, False)
    dy = _rng(2).standard_normal(y.shape).astype(DTYPE)
    avg = ((3, 2), (2, 1), (1, 0), True, False)  # kernel, stride, padding, ceil, count pad
    y_avg = pool.avg_pool2d_forward(x, *avg)
    return [
        lambda: pool.max_pool2d_forward(x, 2, 2, 0, 1, False),  # a fixed window
        lambda: pool.max_pool2d_forward(x, (3, 3), (2, 2), 1, 1, False),
        lambda: pool.max_pool2d_forward(x, (3, 3), (1, 1), 1, 1, False),
        lambda: pool.max_pool2d_forward(x, (2, 3), (1, 2), 1, (2, 1), True),  # any window
        lambda: pool.max_pool2d_backward(dy, argmax, x.shape),
        lambda: pool.avg_pool2d_forward(x, *avg),
        lambda: pool.avg_pool2d_backward(np.ones_like(y_avg), x.shape, *avg),
    ]


def _attention_calls():
    q, k, v = (_rng(s).standard_normal((2, 3, 11, 8)).astype(DTYPE) for s in (3, 4, 5))
    out, lse = attention.attention_forward(q, k, v, is_causal=True)
    dout = _rng(6).standard_normal(out.shape).astype(DTYPE)
    return [
        lambda: attention.attention_forward(q, k, v, is_causal=True),
        lambda: attention.attention_backward(dout, q, k, v, out, lse, is_causal=True),
        lambda: attention.softmax_lastdim(q),
    ]


def _norm_calls():
    x, dy = (_rng(s).standard_normal((3, 5, 7)).astype(DTYPE) for s in (7, 8))
    weight, bias = _rng(9).uniform(0.5, 1.5, 5), _rng(10).uniform(-1, 1, 5)
    y, mean, var = norm.batch_norm_forward(x, weight, bias, 1e-5)
    rows, drows = x.reshape(-1, 7), dy.reshape(-1, 7)  # 15 rows: one partial block
    row_weight, row_bias = _rng(11).uniform(0.5, 1.5, 7), _rng(12).uniform(-1, 1, 7)
    _, row_mean, row_var = norm.layer_norm_forward(rows, row_weight, row_bias, 1e-5)
    return [
        lambda: norm.batch_norm_forward(x, weight, bias, 1e-5),
        lambda: norm.batch_norm_backward(dy, x, mean, var, weight, 1e-5),
        lambda: norm.layer_norm_forward(rows, row_weight, row_bias, 1e-5),
        lambda: norm.layer_norm_backward(drows, rows, row_mean, row_var, row_weight, 1e-5),
    ]


def _winograd_calls():
    x = _rng(13).standard_normal((3, 2, 9, 7)).astype(DTYPE)  # 3 * 5 * 3 tiles: one block
    big = _rng(14).standard_normal((5, 2, 17, 15)).astype(DTYPE)  # 5 * 10 * 8 tiles: 7 blocks
    u = winograd.winograd_weights(_rng(15).standard_normal((3, 2, 3, 3)).astype(DTYPE))
    bias = _rng(16).standard_normal(3).astype(DTYPE)
    dy = _rng(17).standard_normal((5, 17, 19, 15)).astype(DTYPE)  # 17 channels: 3 groups
    return [
        lambda: winograd.winograd_conv3x3(x, u, bias, (1, 0)),
        lambda: winograd.winograd_conv3x3(big, u, None, (2, 1)),
        lambda: winograd.winograd_weight_grad(big, dy, (2, 1)),
    ]


def _results(call):
    result = call()
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("calls", [_conv_calls, _pool_calls, _attention_calls, _norm_calls,
                                   _winograd_calls],
                         ids=["conv", "pool", "attention", "norm", "winograd"])
def test_parallel_and_serial_variants_give_the_same_bits(monkeypatch, calls):
    rounding = calls is _norm_calls
    calls = calls()
    monkeypatch.setattr(_prange, "threads", lambda: 1)
    serial = [_results(call) for call in calls]
    monkeypatch.setattr(_prange, "threads", lambda: 2)
    parallel = [_results(call) for call in calls]
    for one, several in zip(serial, parallel):
        for a, b in zip(one, several):
            if rounding:
                # the norm kernels' sums are fastmath 'reassoc' loops: how LLVM vectorizes them
                # may differ between compilations, and the parallel variant loaded from Numba's
                # disk cache is off its fresh compilation by rounding, 4e-16 (measured: the
                # fresh variants agree bit for bit, the cached parallel one not)
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
            else:
                np.testing.assert_array_equal(a, b)


def test_the_calls_above_cover_every_variant(monkeypatch):
    """Each kernel's two variants are compiled (for DTYPE) by the calls of the test above,
    so its comparison covered them all."""
    calls = (_conv_calls() + _pool_calls() + _attention_calls() + _norm_calls()
             + _winograd_calls())
    monkeypatch.setattr(_prange, "threads", lambda: 1)
    for call in calls:
        call()
    monkeypatch.setattr(_prange, "threads", lambda: 2)
    for call in calls:
        call()
    for kernel in _kernels():
        assert kernel.serial.signatures and kernel.parallel.signatures, kernel.__name__


def test_one_thread_runs_the_serial_variant_and_several_the_parallel(monkeypatch):
    kernel = conv._im2col_gemm_kernel
    ran = []
    monkeypatch.setattr(kernel, "serial", lambda *args: ran.append("serial"))
    monkeypatch.setattr(kernel, "parallel", lambda *args: ran.append("parallel"))
    x = np.zeros((1, 1, 4, 4), dtype=DTYPE)
    monkeypatch.setattr(_prange, "threads", lambda: 1)
    conv.im2col_gemm(x, 3, 3, 1, 0, 1)
    monkeypatch.setattr(_prange, "threads", lambda: 2)
    conv.im2col_gemm(x, 3, 3, 1, 0, 1)
    assert ran == ["serial", "parallel"]


def test_the_variants_have_their_own_names_in_the_disk_cache():
    """Numba files cached code under the function's qualified name, not its options: the
    serial variant is compiled from a renamed copy, or the two would share cache entries."""
    for kernel in _kernels():
        parallel, serial = kernel.parallel.py_func, kernel.serial.py_func
        assert serial.__qualname__ == parallel.__qualname__ + "_serial"
        assert serial.__code__ is parallel.__code__  # the same loop, compiled twice
        assert kernel.parallel.targetoptions.get("parallel") is True
        assert not kernel.serial.targetoptions.get("parallel", False)


def test_the_thread_count_is_numbas(monkeypatch):
    """``num_threads`` asks the threading layer without Numba's locks, and falls back on the
    public function where Numba's private names are missing."""
    import types

    import numba

    before = numba.get_num_threads()
    assert _prange.num_threads() == before
    numba.set_num_threads(1)
    try:
        assert _prange.num_threads() == 1
        monkeypatch.setattr(_prange, "_parallel", types.SimpleNamespace())  # no private names
        assert _prange.num_threads() == numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
