"""Attention kernels: reference vs torch, cpu vs reference, cuda (simulator) vs reference.

Shapes follow the kernels: q (B, nh, Tq, hs), k and v (B, nh, Tk, hs), mask broadcastable to
(B, nh, Tq, Tk). The CUDA tests run under the Numba simulator (conftest switches it on when no
GPU is found) on tiny shapes with small tiles, so that every tile loop runs more than once.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinygrad_edu.kernels.cpu import attention as cpu
from tinygrad_edu.kernels.cuda import attention as cu
from tinygrad_edu.kernels.reference import attention as ref

try:
    import torch
except ImportError:  # torch is a test extra; the torch comparisons skip without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

TOL = {
    np.float64: {"rtol": 1e-9, "atol": 1e-11},
    np.float32: {"rtol": 2e-4, "atol": 2e-5},
}

# small tiles for the simulator: T <= 9 still takes 2-3 tiles per axis
SIM_TILES = {"block_q": 4, "block_k": 4}


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def make_qkv(B, nh, Tq, Tk, hs, dtype, seed=0):
    """Random q, k, v and an upstream gradient dout."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, nh, Tq, hs)).astype(dtype)
    k = rng.standard_normal((B, nh, Tk, hs)).astype(dtype)
    v = rng.standard_normal((B, nh, Tk, hs)).astype(dtype)
    dout = rng.standard_normal((B, nh, Tq, hs)).astype(dtype)
    return q, k, v, dout


def make_mask(kind, B, nh, Tq, Tk, seed=1, dead_row=False):
    """An additive mask (0 / -inf / small values); key 0 always stays visible.

    kind: None; "full": a contiguous (B, nh, Tq, Tk) array; "broadcast": a (Tq, Tk) array
    np.broadcast_to'ed to (B, nh, Tq, Tk) (zero strides); "heads": shape (nh, 1, Tk), broadcast
    by shape; "bool": torch-style boolean (True = take part) converted with np.where.
    dead_row: mask every key of query row 1 (output 0, lse -inf, zero gradients).
    """
    if kind is None:
        return None
    rng = np.random.default_rng(seed)
    shape = {
        "full": (B, nh, Tq, Tk),
        "broadcast": (Tq, Tk),
        "heads": (nh, 1, Tk),
        "bool": (B, nh, Tq, Tk),
    }[kind]
    keep = rng.random(shape) < 0.7
    keep[..., 0] = True
    if dead_row and shape[-2] > 1:
        keep[..., 1, :] = False
    if kind == "bool":
        return np.where(keep, 0.0, -np.inf)  # what the op layer does with a boolean mask
    mask = np.where(keep, 0.5 * rng.standard_normal(shape), -np.inf)
    if kind == "broadcast":
        mask = np.broadcast_to(mask, (B, nh, Tq, Tk))
    return mask


def assert_matches_reference(module, q, k, v, dout, mask, is_causal, scale=None, **options):
    """module's forward and backward (fed its own out and lse) against the reference."""
    tol = TOL[q.dtype.type]
    out_r, lse_r = ref.attention_forward(q, k, v, mask, is_causal, scale)
    grads_r = ref.attention_backward(dout, q, k, v, out_r, lse_r, mask, is_causal, scale)
    out, lse = module.attention_forward(q, k, v, mask, is_causal, scale, **options)
    grads = module.attention_backward(dout, q, k, v, out, lse, mask, is_causal, scale, **options)
    assert out.shape == q.shape and out.dtype == q.dtype
    assert lse.shape == q.shape[:3] and lse.dtype == q.dtype
    np.testing.assert_allclose(out, out_r, **tol, err_msg="out")
    np.testing.assert_allclose(lse, lse_r, **tol, err_msg="lse")  # -inf must match -inf
    for name, g, g_r, x in zip(("dq", "dk", "dv"), grads, grads_r, (q, k, v), strict=True):
        assert g.shape == x.shape and g.dtype == x.dtype, name
        np.testing.assert_allclose(g, g_r, **tol, err_msg=name)


def torch_sdpa(q, k, v, dout, mask, is_causal, scale=None):
    """torch's SDPA forward, lse and (dq, dk, dv) by autograd, as NumPy float64."""
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    attn_mask = None if mask is None else torch.tensor(np.array(mask))
    causal = is_causal
    if is_causal and attn_mask is not None:  # torch takes one or the other: merge them
        Tq, Tk = q.shape[2], k.shape[2]
        tril = torch.ones(Tq, Tk, dtype=torch.bool).tril()
        attn_mask = attn_mask + torch.zeros(Tq, Tk).masked_fill(~tril, -math.inf)
        causal = False
    out = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=attn_mask, is_causal=causal, scale=scale
    )
    dq, dk, dv = torch.autograd.grad(out, (tq, tk, tv), torch.tensor(dout))
    s = (tq @ tk.transpose(-1, -2)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if attn_mask is not None:
        s = s + attn_mask
    if causal:
        s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    return [t.detach().numpy() for t in (out, lse, dq, dk, dv)]


# ----------------------------------------------------------------------------------------------
# reference vs torch (float64)
# ----------------------------------------------------------------------------------------------

SHAPES = [  # (B, nh, Tq, Tk, hs)
    (2, 3, 8, 8, 16),
    (1, 2, 7, 7, 5),  # odd sizes, batch 1
    (2, 2, 5, 9, 4),  # fewer queries than keys
    (1, 3, 9, 4, 3),  # more queries than keys
]


@needs_torch
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("mask_kind", [None, "full", "broadcast", "heads", "bool"])
def test_reference_matches_torch(shape, is_causal, mask_kind):
    B, nh, Tq, Tk, hs = shape
    q, k, v, dout = make_qkv(B, nh, Tq, Tk, hs, np.float64)
    mask = make_mask(mask_kind, B, nh, Tq, Tk)
    out, lse = ref.attention_forward(q, k, v, mask, is_causal)
    grads = ref.attention_backward(dout, q, k, v, out, lse, mask, is_causal)
    expected = torch_sdpa(q, k, v, dout, mask, is_causal)
    for name, got, want in zip(
        ("out", "lse", "dq", "dk", "dv"), (out, lse, *grads), expected, strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


@needs_torch
def test_reference_matches_torch_custom_scale():
    q, k, v, dout = make_qkv(2, 2, 6, 5, 4, np.float64)
    out, lse = ref.attention_forward(q, k, v, scale=0.3)
    grads = ref.attention_backward(dout, q, k, v, out, lse, scale=0.3)
    expected = torch_sdpa(q, k, v, dout, None, False, scale=0.3)
    for got, want in zip((out, lse, *grads), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_reference_backward_matches_finite_differences():
    """Central differences of L = sum(dout * out) in float64, independent of torch."""
    q, k, v, dout = make_qkv(1, 2, 3, 4, 2, np.float64, seed=3)
    mask = make_mask("full", 1, 2, 3, 4)
    grads = ref.attention_backward(dout, q, k, v, *ref.attention_forward(q, k, v, mask), mask)
    eps = 1e-6
    for x, g in zip((q, k, v), grads, strict=True):
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            saved = x[idx]
            x[idx] = saved + eps
            plus = np.sum(dout * ref.attention_forward(q, k, v, mask)[0])
            x[idx] = saved - eps
            minus = np.sum(dout * ref.attention_forward(q, k, v, mask)[0])
            x[idx] = saved
            numeric[idx] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


@needs_torch
def test_reference_softmax_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 7)) * 30
    np.testing.assert_allclose(
        ref.softmax_lastdim(x), torch.softmax(torch.tensor(x), dim=-1).numpy(), rtol=1e-12
    )


# ----------------------------------------------------------------------------------------------
# cpu vs reference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("shape", SHAPES + [(1, 2, 300, 200, 16), (2, 1, 150, 260, 8)], ids=str)
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("mask_kind", [None, "full", "broadcast", "heads"])
def test_cpu_matches_reference(dtype, shape, is_causal, mask_kind):
    """Tq > 128 spans several query blocks of the cpu kernel."""
    B, nh, Tq, Tk, hs = shape
    q, k, v, dout = make_qkv(B, nh, Tq, Tk, hs, dtype)
    mask = make_mask(mask_kind, B, nh, Tq, Tk)
    assert_matches_reference(cpu, q, k, v, dout, mask, is_causal)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7, 4), (1, 2, 300, 200, 16)], ids=str)
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
def test_cpu_without_the_register_tiles_matches_reference(monkeypatch, dtype, shape, is_causal):
    """On CPUs without AVX-512 (gemm.NUMBA_GEMM off) the kernels' products are np.dot (BLAS,
    one thread per call): the same results."""
    from tinygrad_edu.kernels.cpu import gemm

    monkeypatch.setattr(gemm, "NUMBA_GEMM", False)
    B, nh, Tq, Tk, hs = shape
    q, k, v, dout = make_qkv(B, nh, Tq, Tk, hs, dtype)
    assert_matches_reference(cpu, q, k, v, dout, make_mask("full", B, nh, Tq, Tk), is_causal)


@settings(deadline=None, max_examples=25)
@given(
    B=st.integers(1, 3),
    nh=st.integers(1, 3),
    Tq=st.integers(1, 20),
    Tk=st.integers(1, 20),
    hs=st.integers(1, 12),
    is_causal=st.booleans(),
    mask_kind=st.sampled_from([None, "full", "broadcast", "heads"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_cpu_matches_reference_hypothesis(B, nh, Tq, Tk, hs, is_causal, mask_kind, dtype):
    q, k, v, dout = make_qkv(B, nh, Tq, Tk, hs, dtype)
    mask = make_mask(mask_kind, B, nh, Tq, Tk)
    assert_matches_reference(cpu, q, k, v, dout, mask, is_causal)


@pytest.mark.parametrize("module", [ref, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
def test_fully_masked_rows_give_zeros(module, is_causal):
    """A query row with every key masked: out 0, lse -inf, zero gradients (torch: NaN)."""
    q, k, v, dout = make_qkv(2, 2, 5, 6, 4, np.float64)
    mask = make_mask("broadcast", 2, 2, 5, 6, dead_row=True)
    out, lse = module.attention_forward(q, k, v, mask, is_causal)
    dq, dk, dv = module.attention_backward(dout, q, k, v, out, lse, mask, is_causal)
    assert np.all(out[:, :, 1] == 0) and np.all(lse[:, :, 1] == -np.inf)
    assert np.all(dq[:, :, 1] == 0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))
    assert np.all(np.isfinite(dk)) and np.all(np.isfinite(dv))
    assert_matches_reference(module, q, k, v, dout, mask, is_causal)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_cpu_is_stable_for_large_scores(dtype):
    """Scores in the thousands: max subtraction keeps exp finite."""
    q, k, v, dout = make_qkv(1, 2, 9, 7, 4, dtype)
    q = (q * 300).astype(dtype)
    out, lse = cpu.attention_forward(q, k, v)
    out64, lse64 = ref.attention_forward(*(a.astype(np.float64) for a in (q, k, v)))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(out, out64, **TOL[dtype])
    np.testing.assert_allclose(lse, lse64, rtol=1e-6)


@pytest.mark.parametrize("module", [ref, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_softmax_lastdim(module, dtype):
    x = (np.random.default_rng(0).standard_normal((2, 3, 11)) * 50).astype(dtype)
    x[0, 1] = -np.inf  # an all -inf row gives zeros
    x[1, 2, :4] = -np.inf
    y = module.softmax_lastdim(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    with np.errstate(invalid="ignore"):  # the all -inf row: -inf - -inf = nan, set to 0 below
        expected = np.exp(x - x.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
    expected[0, 1] = 0.0
    np.testing.assert_allclose(y, expected, **TOL[dtype])
    np.testing.assert_allclose(module.softmax_lastdim(np.array([1.0, 1.0])), [0.5, 0.5])


# ----------------------------------------------------------------------------------------------
# cuda (simulator) vs reference
# ----------------------------------------------------------------------------------------------

CUDA_CASES = [  # (dtype, (B, nh, Tq, Tk, hs), is_causal, mask_kind)
    (np.float64, (1, 2, 7, 9, 5), False, None),
    (np.float64, (2, 1, 9, 6, 3), True, "broadcast"),
    (np.float64, (1, 2, 6, 6, 8), True, None),
    (np.float32, (2, 2, 5, 7, 4), False, "full"),
    (np.float32, (1, 1, 9, 9, 6), True, "heads"),
]


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CUDA_CASES, ids=str)
def test_cuda_flash_matches_reference(case):
    dtype, (B, nh, Tq, Tk, hs), is_causal, mask_kind = case
    q, k, v, dout = make_qkv(B, nh, Tq, Tk, hs, dtype)
    mask = make_mask(mask_kind, B, nh, Tq, Tk, dead_row=True)
    assert_matches_reference(cu, q, k, v, dout, mask, is_causal, impl="flash", **SIM_TILES)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", [CUDA_CASES[1], CUDA_CASES[3]], ids=str)
def test_cuda_naive_matches_reference(case):
    dtype, (B, nh, Tq, Tk, hs), is_causal, mask_kind = case
    q, k, v, dout = make_qkv(B, 1, Tq, Tk, hs, dtype)
    mask = make_mask(mask_kind, B, 1, Tq, Tk, dead_row=True)
    assert_matches_reference(cu, q, k, v, dout, mask, is_causal, impl="naive", **SIM_TILES)


@pytest.mark.cudasim
def test_cuda_flash_default_tiles_and_scale():
    """Default tiles (one tile covers T <= 9) and a custom scale."""
    q, k, v, dout = make_qkv(1, 1, 5, 4, 3, np.float64)
    assert_matches_reference(cu, q, k, v, dout, None, True, scale=0.7)


@pytest.mark.cudasim
@settings(deadline=None, max_examples=4)
@given(
    nh=st.integers(1, 2),
    Tq=st.integers(1, 9),
    Tk=st.integers(1, 9),
    hs=st.integers(1, 8),
    is_causal=st.booleans(),
    mask_kind=st.sampled_from([None, "broadcast"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_cuda_flash_matches_reference_hypothesis(nh, Tq, Tk, hs, is_causal, mask_kind, dtype):
    q, k, v, dout = make_qkv(1, nh, Tq, Tk, hs, dtype)
    mask = make_mask(mask_kind, 1, nh, Tq, Tk)
    assert_matches_reference(cu, q, k, v, dout, mask, is_causal, **SIM_TILES)


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_cuda_softmax_lastdim(dtype):
    x = (np.random.default_rng(0).standard_normal((2, 2, 7)) * 50).astype(dtype)
    x[0, 1] = -np.inf  # an all -inf row gives zeros
    x[1, 0, :3] = -np.inf
    y = cu.softmax_lastdim(x, threads=4)
    assert y.shape == x.shape and y.dtype == x.dtype
    np.testing.assert_allclose(y, ref.softmax_lastdim(x), **TOL[dtype])


@pytest.mark.gpu
def test_cuda_cupy_arrays_stay_on_device():
    import cupy

    q, k, v, dout = make_qkv(2, 2, 70, 50, 64, np.float32)
    mask = make_mask("broadcast", 2, 2, 70, 50)
    args = [cupy.asarray(a) for a in (q, k, v)]
    for impl in ("flash", "naive"):
        out, lse = cu.attention_forward(*args, cupy.asarray(mask), True, impl=impl)
        assert isinstance(out, cupy.ndarray) and isinstance(lse, cupy.ndarray)
        grads = cu.attention_backward(
            cupy.asarray(dout), *args, out, lse, cupy.asarray(mask), True, impl=impl
        )
        out_r, lse_r = ref.attention_forward(q, k, v, mask, True)
        grads_r = ref.attention_backward(dout, q, k, v, out_r, lse_r, mask, True)
        for got, want in zip((out, lse, *grads), (out_r, lse_r, *grads_r), strict=True):
            np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-3, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# argument checks (shared by all three)
# ----------------------------------------------------------------------------------------------

MODULES = pytest.mark.parametrize("module", [ref, cpu, cu], ids=["reference", "cpu", "cuda"])


@MODULES
def test_error_head_size_mismatch(module):
    q = np.zeros((2, 4, 8, 64), np.float32)
    k = np.zeros((2, 4, 8, 32), np.float32)
    expected = (
        "attention_forward: q has head size 64 but k has 32 (q: (2, 4, 8, 64), k: (2, 4, 8, 32))"
    )
    with pytest.raises(ValueError) as info:
        module.attention_forward(q, k, k)
    assert str(info.value) == expected


@MODULES
def test_error_messages(module):
    q = np.zeros((1, 2, 3, 4))
    with pytest.raises(TypeError, match="attention_forward: .*boolean mask"):
        module.attention_forward(q, q, q, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3, 5\) does not broadcast"):
        module.attention_forward(q, q, q, mask=np.zeros((2, 3, 5)))
    with pytest.raises(TypeError, match="q, k and v must share one dtype"):
        module.attention_forward(q, q.astype(np.float32), q)
    with pytest.raises(TypeError, match="must be float32 or float64 but is int64"):
        module.attention_forward(q.astype(np.int64), q, q)
    with pytest.raises(ValueError, match="q must be 4-D"):
        module.attention_forward(q[0], q, q)
    with pytest.raises(ValueError, match="k has 3 keys but v has 2"):
        module.attention_forward(q, q, q[:, :, :2])
    with pytest.raises(ValueError, match=r"attention_backward: lse must have shape \(1, 2, 3\)"):
        module.attention_backward(q, q, q, q, q, np.zeros((1, 2, 4)))
    with pytest.raises(TypeError, match="softmax_lastdim: x must be float32 or float64"):
        module.softmax_lastdim(np.zeros((2, 3), np.int32))


def test_cuda_specific_errors():
    q = np.zeros((1, 1, 2, 130))
    with pytest.raises(ValueError, match="head sizes up to 128, got 130"):
        cu.attention_forward(q, q, q)
    q = np.zeros((1, 1, 2, 4))
    with pytest.raises(ValueError, match="impl must be 'flash' or 'naive'"):
        cu.attention_forward(q, q, q, impl="fast")
    with pytest.raises(ValueError, match="shared memory"):
        cu.attention_forward(
            q.repeat(32, axis=3), q.repeat(32, axis=3), q.repeat(32, axis=3), block_q=64, block_k=64
        )
