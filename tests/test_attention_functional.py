"""``F.scaled_dot_product_attention`` (the composite "math" path) against
``torch.nn.functional.scaled_dot_product_attention``: forward and backward with bool / float
masks, causal masks, custom scale, grouped-query heads; fully masked rows; dropout; first and
second derivatives against numerical ones; argument checks."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu.functional.attention import _sdpa_math

torch_sdpa = torch.nn.functional.scaled_dot_product_attention

# (B, nh, L, E), (B, nh, S, E), (B, nh, S, Ev) with L != S and Ev != E, to catch transposes
SHAPES = [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)]


def _compare(arrays, mask=None, **kwargs):
    """Forward and the gradients of q, k, v against torch in float64 (random upstream)."""
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, attn_mask=None if mask is None
                                         else tg.tensor(mask), **kwargs)
    ref = torch_sdpa(*theirs, attn_mask=None if mask is None else torch.tensor(mask), **kwargs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    (out * tg.tensor(upstream)).sum().backward()
    (ref * torch.tensor(upstream)).sum().backward()
    for name, a, b in zip("qkv", ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"grad of {name}")
    return out


def _inputs(shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def test_exported_from_functional():
    assert tg.functional.scaled_dot_product_attention is F.attention.scaled_dot_product_attention


def test_no_mask_matches_torch():
    _compare(_inputs())


def test_three_dimensional_inputs_without_heads():
    _compare(_inputs([(2, 4, 5), (2, 6, 5), (2, 6, 3)]))


@pytest.mark.parametrize("mask_shape", [(4, 6), (2, 1, 4, 6), (2, 3, 4, 6), (1, 6)])
def test_bool_mask_matches_torch(mask_shape):
    rng = np.random.default_rng(2)
    mask = rng.random(mask_shape) > 0.3
    mask[..., 0] = True  # every query keeps at least one key
    _compare(_inputs(), mask)


@pytest.mark.parametrize("mask_shape", [(4, 6), (2, 3, 4, 6)])
def test_float_mask_is_added_like_torch(mask_shape):
    rng = np.random.default_rng(3)
    bias = rng.standard_normal(mask_shape)
    bias[..., 1] = -np.inf  # -inf removes a key entirely
    out = _compare(_inputs(), bias)
    assert np.isfinite(out.detach().numpy()).all()


@pytest.mark.parametrize("L, S", [(5, 5), (3, 6), (6, 3)], ids=["square", "wide", "tall"])
def test_causal_matches_torch_top_left(L, S):
    _compare(_inputs([(2, 2, L, 4), (2, 2, S, 4), (2, 2, S, 3)]), is_causal=True)


def test_causal_equals_explicit_tril_mask():
    q, k, v = (tg.tensor(a) for a in _inputs())
    tril = tg.tensor(np.tril(np.ones((4, 6), dtype=bool)))
    a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=tril)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_custom_scale_matches_torch():
    _compare(_inputs(), scale=0.3)


def test_grouped_query_attention_matches_torch():
    _compare(_inputs([(2, 6, 4, 5), (2, 2, 6, 5), (2, 2, 6, 7)]), enable_gqa=True)


def test_fully_masked_query_gets_zeros_and_finite_gradients_like_torch():
    mask = np.ones((4, 6), dtype=bool)
    mask[2] = False  # query 2 may attend nothing
    out = _compare(_inputs(), mask)
    np.testing.assert_array_equal(out.detach().numpy()[:, :, 2], 0.0)


def test_float32_and_numerical_gradients_via_check_op():
    """check_op: float64 and float32 vs torch, then central differences."""
    mask = np.tril(np.ones((3, 4), dtype=bool), 1)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tg.tensor(mask)),
             lambda q, k, v: torch_sdpa(q, k, v, attn_mask=torch.tensor(mask)),
             [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
             lambda q, k, v: torch_sdpa(q, k, v, is_causal=True),
             [(1, 2, 3, 2), (1, 2, 3, 2), (1, 2, 3, 2)])


def test_gradient_flows_into_a_float_mask():
    """A float mask that requires grad gets d(out)/d(mask), like torch's math path."""
    rng = np.random.default_rng(4)
    arrays = _inputs([(1, 3, 2), (1, 4, 2), (1, 4, 2)])
    bias = rng.standard_normal((3, 4))
    ours = [tg.tensor(a) for a in arrays]
    b_ours = tg.tensor(bias, requires_grad=True)
    F.scaled_dot_product_attention(*ours, attn_mask=b_ours).sum().backward()
    b_theirs = torch.tensor(bias, requires_grad=True)
    torch_sdpa(*(torch.tensor(a) for a in arrays), attn_mask=b_theirs).sum().backward()
    np.testing.assert_allclose(b_ours.grad.numpy(), b_theirs.grad.numpy(), rtol=1e-9,
                               atol=1e-12)


def test_second_derivatives():
    q, k, v = (tg.tensor(a, requires_grad=True)
               for a in _inputs([(1, 3, 2), (1, 3, 2), (1, 3, 2)], seed=5))
    assert tg.gradgradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])


def test_dropout_zeroes_weights_and_rescales_the_rest():
    q, k, v = (tg.tensor(a) for a in _inputs([(2, 8, 4), (2, 10, 4), (2, 10, 3)]))
    _, clean = _sdpa_math(q, k, v)
    tg.manual_seed(0)
    _, dropped = _sdpa_math(q, k, v, dropout_p=0.5)
    clean, dropped = clean.numpy(), dropped.numpy()
    kept = dropped != 0
    assert 0.3 < kept.mean() < 0.7  # about half of the weights survive
    np.testing.assert_allclose(dropped[kept], 2.0 * clean[kept], rtol=1e-6)  # 1 / (1 - p)
    tg.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    tg.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), F.scaled_dot_product_attention(q, k, v).numpy())


def test_weights_from_math_path_are_a_softmax_over_keys():
    q, k, v = (tg.tensor(a) for a in _inputs())
    out, weights = _sdpa_math(q, k, v)
    assert tuple(weights.shape) == (2, 3, 4, 6)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), (weights @ v).numpy())


# ----------------------------------------------------------------------------------------------
# Errors that teach
# ----------------------------------------------------------------------------------------------


def test_argument_errors_are_explained():
    q, k, v = (tg.tensor(a) for a in _inputs())
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match=r"query has 5 features but key has 3.*"
                       r"query \(2, 3, 4, 5\), key \(2, 3, 6, 3\)"):
        sdpa(q, tg.zeros(2, 3, 6, 3, dtype=tg.float64), v)
    with pytest.raises(ValueError, match=r"key and value must have the same length S"):
        sdpa(q, k, tg.zeros(2, 3, 5, 7, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"either attn_mask or is_causal=True, not both"):
        sdpa(q, k, v, attn_mask=tg.ones(4, 6, dtype=tg.bool_), is_causal=True)
    with pytest.raises(TypeError, match=r"attn_mask must be bool .* got int64"):
        sdpa(q, k, v, attn_mask=tg.ones(4, 6, dtype=tg.int64))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(6, 4\) does not broadcast to "
                       r"the scores' shape \(2, 3, 4, 6\)"):
        sdpa(q, k, v, attn_mask=tg.ones(6, 4, dtype=tg.bool_))
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\], got -0.1"):
        sdpa(q, k, v, dropout_p=-0.1)
    with pytest.raises(ValueError, match=r"enable_gqa=True needs"):
        sdpa(tg.zeros(2, 4, 4, 5, dtype=tg.float64), k, v, enable_gqa=True)
    with pytest.raises(TypeError, match=r"one dtype"):
        sdpa(q, k.float(), v)


# ------------------------------------------------------------------------------------------------
# The fused-kernel path (FusedAttention) vs torch and vs the math path
# ------------------------------------------------------------------------------------------------

FUSED_CASES = [
    dict(),
    dict(is_causal=True),
    dict(mask="bool"),
    dict(mask="float"),
    dict(scale=0.3),
]


@pytest.mark.parametrize("kernel", ["reference", "numba"])
@pytest.mark.parametrize("case", FUSED_CASES, ids=["plain", "causal", "bool", "float", "scale"])
def test_fused_path_matches_torch(kernel, case):
    rng = np.random.default_rng(1)
    shapes = [(2, 3, 6, 5), (2, 3, 7, 5), (2, 3, 7, 5)]  # L=6 queries, S=7 keys, hs=5
    mask = None
    if case.get("mask") == "bool":
        mask = rng.random((6, 7)) > 0.3
        mask[:, 0] = True  # keep every row alive so torch has no NaN rows
    elif case.get("mask") == "float":
        mask = rng.standard_normal((1, 3, 6, 7))
    options = {k: v for k, v in case.items() if k != "mask"}

    def ours(q, k, v):
        m = None if mask is None else tg.tensor(mask, dtype=None if mask.dtype == bool
                                                else q.dtype)
        with tg.use_kernel(kernel):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **options)
        assert type(out.grad_fn).__name__ in ("FusedAttention", "NoneType")
        return out

    def theirs(q, k, v):
        m = None if mask is None else torch.tensor(mask, dtype=None if mask.dtype == bool
                                                   else q.dtype)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, **options)

    with tg.use_kernel(kernel):
        check_op(ours, theirs, shapes)


def test_backend_switch_and_second_order():
    q = tg.randn(1, 2, 4, 3, dtype=tg.float64, requires_grad=True)
    with F.sdpa_backend("math"):
        assert tg.gradgradcheck(lambda q: F.scaled_dot_product_attention(q, q, q), [q])
    out = F.scaled_dot_product_attention(q, q, q)
    assert type(out.grad_fn).__name__ == "FusedAttention"
    (g,) = tg.grad(out.sum(), q, create_graph=True)
    with pytest.raises(RuntimeError, match="FusedAttention: its backward is computed by a kernel"):
        g.sum().backward()
    with F.sdpa_backend("fused"), pytest.raises(ValueError, match="dropout_p > 0"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert type(F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).grad_fn).__name__ != \
        "FusedAttention"


@pytest.mark.gpu
def test_auto_takes_the_math_path_on_the_gpu():
    """On a GPU "auto" picks the math path (cuBLAS beats the Numba flash kernel); "fused" still
    runs the kernel, and both agree."""
    q = tg.randn(1, 2, 5, 3, device="cuda", requires_grad=True)
    math_out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert type(math_out.grad_fn).__name__ != "FusedAttention"
    with tg.use_kernel("cuda"), F.sdpa_backend("fused"):
        fused_out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert type(fused_out.grad_fn).__name__ == "FusedAttention"
    np.testing.assert_allclose(fused_out.detach().numpy(), math_out.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
