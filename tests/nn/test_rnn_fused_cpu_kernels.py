"""The fused LSTM's two CPU paths agree: the Numba kernels of ``functional/_lstm_cpu.py`` (NumPy
arrays, ``Config.kernel`` "auto" or "numba") and the array-module loop (``kernel="reference"``,
the code CuPy arrays run). Odd sizes exercise the edges of the blocked matrix product; float64
must agree to rounding, float32 within the error of the vectorized tanh."""

import numpy as np
import pytest
from tinygrad_edu.kernels.cpu import gemm

import tinygrad_edu as tg
from tinygrad_edu.functional import _lstm_cpu
from tinygrad_edu.functional.rnn import lstm_layer

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _layer_grads(kernel, dtype, T, B, I, H, reverse, bias, with_state):
    """Outputs and every gradient of one lstm_layer call under ``kernel``."""
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, (T, B, I)), rng.uniform(-0.5, 0.5, (4 * H, I)),
              rng.uniform(-0.5, 0.5, (4 * H, H))]
    arrays += [rng.uniform(-0.5, 0.5, 4 * H) for _ in range(2 * bias)]
    arrays += [rng.uniform(-1, 1, (B, H)) for _ in range(2 * with_state)]
    upstream = [rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H))]
    tensors = [tg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    x, w_ih, w_hh = tensors[:3]
    b = tensors[3:5] if bias else [None, None]
    hx = tuple(tensors[-2:]) if with_state else None
    with tg.use_kernel(kernel):
        outs = lstm_layer(x, hx, w_ih, w_hh, *b, reverse=reverse)
        loss = sum((o * tg.tensor(u.astype(dtype))).sum()
                   for o, u in zip(outs, upstream, strict=True))
        loss.backward()
    return [o.detach().numpy() for o in outs] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("shape", [(7, 5, 9, 13), (3, 8, 4, 16), (1, 1, 1, 1)],
                         ids=["odd", "even", "ones"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("bias, with_state", [(True, False), (False, True), (True, True)],
                         ids=["bias", "state", "bias_state"])
def test_numba_kernels_match_the_array_module_path(dtype, shape, reverse, bias, with_state):
    T, B, I, H = shape
    ours = _layer_grads("numba", dtype, T, B, I, H, reverse, bias, with_state)
    ref = _layer_grads("reference", dtype, T, B, I, H, reverse, bias, with_state)
    names = ["output", "h_n", "c_n", "dx", "dw_ih", "dw_hh"] + ["db_ih", "db_hh"] * bias
    names += ["dh0", "dc0"] * with_state
    for name, a, b in zip(names, ours, ref, strict=True):
        assert a.dtype == b.dtype == dtype, name
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_numba_gemm_products_of_the_backward(numba_gemm_at_every_size, dtype, reverse):
    """dx and [dW_hh dW_ih db] through the Numba GEMM (forced at these small sizes)."""
    T, B, I, H = 5, 3, 7, 9
    ours = _layer_grads("numba", dtype, T, B, I, H, reverse, True, True)
    ref = _layer_grads("reference", dtype, T, B, I, H, reverse, True, True)
    names = ["output", "h_n", "c_n", "dx", "dw_ih", "dw_hh", "db_ih", "db_hh", "dh0", "dc0"]
    for name, a, b in zip(names, ours, ref, strict=True):
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("kernel, dtype, avx512, expected", [
    ("auto", np.float32, True, True), ("auto", np.float32, False, False),
    ("numba", np.float64, False, True), ("reference", np.float32, True, False),
    ("auto", np.float16, True, False)])
def test_which_path_runs(monkeypatch, kernel, dtype, avx512, expected):
    """NumPy float32/float64 arrays take the Numba kernels under kernel="numba", and under
    "auto" where the Numba GEMM is on (AVX-512: their products beat BLAS there); else, and for
    other dtypes (float16), the array-module path."""
    monkeypatch.setattr(gemm, "NUMBA_GEMM", avx512)
    x = tg.tensor(np.ones((2, 1, 3), dtype), requires_grad=True)
    with tg.use_kernel(kernel):
        h_n = lstm_layer(x, None, tg.tensor(np.ones((8, 3), dtype)),
                         tg.tensor(np.ones((8, 2), dtype)))[1]
    node = h_n._ctx.inputs[0]._ctx  # getitem <- LSTMLayer
    assert node.on_cpu_kernels is expected


@pytest.mark.parametrize("M, N, K", [(1, 1, 1), (5, 7, 3), (8, 12, 33), (13, 4, 160)])
def test_gemm_nt_edges(M, N, K):
    """The blocked product the LSTM kernels call (``kernels/cpu/gemm.py``, tested in full in
    tests/kernels/test_gemm_kernels.py), including rows and columns past the last block."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((M, K)), rng.standard_normal((N, K))
    out = np.full((M, N), np.nan)
    gemm.gemm_nt(a, b, out)
    np.testing.assert_allclose(out, a @ b.T, rtol=1e-12, atol=1e-12)


def test_vectorized_tanh_f32_is_accurate():
    from numba import njit

    @njit
    def tanh_all(x, out):
        for k in range(x.size):
            out[k] = _lstm_cpu._tanh(x[k])

    x = np.concatenate([np.linspace(-12, 12, 100001), [0.0, 1e-30, -1e-8, 50.0, -50.0]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    tanh_all(x, out)
    np.testing.assert_allclose(out, np.tanh(x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    nan = np.empty(1, np.float32)
    tanh_all(np.array([np.nan], np.float32), nan)
    assert np.isnan(nan[0])  # NaN stays NaN: the kernels are compiled without 'nnan'
