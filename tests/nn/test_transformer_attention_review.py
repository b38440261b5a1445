"""Review of functional/attention.py and nn/transformer.py against torch 2.13 (the oracle).

Edge cases the main suites do not reach: broadcast batch dims, grouped-query attention with
different key and value head counts, float32 masks on float64 inputs, empty sequences, fully
masked rows (SDPA and MultiheadAttention), causal masks with L != S on 5-d inputs, every MHA
option together, state_dict key order, stacks with bool/causal masks, unbatched models, float32.
Outputs, input gradients and parameter gradients are compared in float64 at ~1e-10."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from tinygrad_edu.functional.attention import sdpa_backend

E, NH, N, L, S = 6, 2, 2, 3, 5  # embed_dim, heads (hs = 3, odd), batch, target, source
LAYER_KW = {"d_model": E, "nhead": NH, "dim_feedforward": 7}

pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _close(a, b, rtol=1e-10, atol=1e-12, what=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _sdpa_vs_torch(arrays, rtol=1e-10, atol=1e-12, mask_grad=True, **kwargs):
    """Forward and the gradient of every input (a float mask's too, with mask_grad) against
    torch. arrays: query, key, value[, attn_mask]."""
    grads = [a.dtype != bool and (k < 3 or mask_grad) for k, a in enumerate(arrays)]
    ours = [tg.tensor(a, requires_grad=g) for a, g in zip(arrays, grads, strict=True)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads, strict=True)]
    out = F.scaled_dot_product_attention(*ours, **kwargs)
    ref = TF.scaled_dot_product_attention(*theirs, **kwargs)
    _close(out, ref, rtol, atol, "output")
    upstream = np.random.default_rng(9).standard_normal(tuple(ref.shape)).astype(arrays[0].dtype)
    (out * tg.tensor(upstream)).sum().backward()
    (ref * torch.tensor(upstream)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if b.requires_grad:
            _close(a.grad, b.grad, rtol, atol, f"grad of input {k}")
    return out


def _load(ours, theirs):
    """torch's state_dict into ours, after checking key names, order and shapes agree."""
    their_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(our_shapes.items()) == list(their_shapes.items())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _pair(name, *args, double=True, **kwargs):
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs)
    if double:
        theirs, ours = theirs.double(), ours.double()
    return _load(ours, theirs)


def _compare(ours, theirs, arrays, call, rtol=1e-10, atol=1e-12):
    """call(module, lib, *inputs) -> outputs (None skipped); compares outputs, input grads and
    every parameter grad for a random upstream gradient."""
    tg_in = [tg.tensor(a, requires_grad=True) for a in arrays]
    th_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    tg_out = [o for o in call(ours, tg, *tg_in) if o is not None]
    th_out = [o for o in call(theirs, torch, *th_in) if o is not None]
    assert len(tg_out) == len(th_out)
    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(tuple(o.shape)).astype(arrays[0].dtype) for o in th_out]
    for k, (a, b) in enumerate(zip(tg_out, th_out, strict=True)):
        _close(a, b, rtol, atol, f"output {k}")
    sum((o * tg.tensor(u)).sum() for o, u in zip(tg_out, upstream, strict=True)).backward()
    sum((o * torch.tensor(u)).sum() for o, u in zip(th_out, upstream, strict=True)).backward()
    for k, (a, b) in enumerate(zip(tg_in, th_in, strict=True)):
        _close(a.grad, b.grad, rtol, atol, f"grad of input {k}")
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        ref = their_params[name].grad
        if ref is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
        else:
            _close(p.grad, ref, rtol, atol, f"grad of {name}")
    return tg_out


def _rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _qkv(batch_first=False, kdim=E, vdim=E, batched=True, seed=0):
    def shape(length, features):
        if not batched:
            return (length, features)
        return (N, length, features) if batch_first else (length, N, features)

    return [_rand(*shape(L, E), seed=seed), _rand(*shape(S, kdim), seed=seed + 1),
            _rand(*shape(S, vdim), seed=seed + 2)]


def _causal(size):
    return torch.nn.Transformer.generate_square_subsequent_mask(size).double().numpy()


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention: fixed bugs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "math"])
@pytest.mark.parametrize("shapes", [
    ((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5)),    # key/value shared over the batch
    ((2, 3, 4, 5), (2, 3, 6, 5), (1, 3, 6, 5)),    # only value broadcast
    ((3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),       # 3-d query against 4-d key/value
], ids=["kv_batch1", "v_batch1", "q3d"])
def test_sdpa_broadcasts_batch_dims_like_torch(backend, shapes):
    """Was: "auto" sent equal-head-size 4-d inputs to the fused kernel, which needs equal
    (B, nh) and raised "attention_forward: q, k and v must agree on (B, nh)"."""
    arrays = [_rand(*s, seed=i) for i, s in enumerate(shapes)]
    mask = np.random.default_rng(5).random((4, 6)) < 0.7
    mask[:, 0] = True
    with sdpa_backend(backend):
        _sdpa_vs_torch(arrays)
        _sdpa_vs_torch(arrays + [mask])


def test_sdpa_batch_dims_that_do_not_broadcast_are_explained():
    q, k = tg.zeros(2, 6, 4, 5), tg.zeros(2, 2, 3, 5)
    with pytest.raises(ValueError, match=r"batch dims .* must broadcast together \(fewer "
                       r"key/value heads than query heads need enable_gqa=True\)"):
        F.scaled_dot_product_attention(q, k, k)
    with pytest.raises(ValueError, match=r"must broadcast together \(query \(2, 3, 4, 5\), "
                       r"key \(3, 3, 6, 5\)"):
        F.scaled_dot_product_attention(tg.zeros(2, 3, 4, 5), tg.zeros(3, 3, 6, 5),
                                       tg.zeros(3, 3, 6, 5))


@pytest.mark.parametrize("shapes", [
    ((2, 6, 4, 5), (2, 2, 3, 5), (2, 3, 3, 4)),    # key 2 heads, value 3 heads
    ((2, 6, 4, 5), (1, 2, 3, 5), (2, 2, 3, 5)),    # GQA and a broadcast batch
    ((6, 4, 5), (2, 3, 5), (3, 3, 5)),             # 3-d (nh, T, hs)
], ids=["k2_v3", "bcast", "3d"])
def test_sdpa_gqa_with_different_key_and_value_heads_matches_torch(shapes):
    """Was: enable_gqa required as many key heads as value heads; torch only needs each to
    divide the query heads."""
    arrays = [_rand(*s, seed=i) for i, s in enumerate(shapes)]
    _sdpa_vs_torch(arrays, enable_gqa=True)
    with pytest.raises(ValueError, match=r"multiple of the key heads and of the value heads"):
        F.scaled_dot_product_attention(tg.zeros(2, 6, 4, 5), tg.zeros(2, 2, 3, 5),
                                       tg.zeros(2, 4, 3, 5), enable_gqa=True)


@pytest.mark.parametrize("backend", ["auto", "math"])
def test_sdpa_accepts_a_float32_mask_on_float64_inputs_like_torch(backend):
    """Was: TypeError; torch takes bool, float32 or the query's dtype and casts to the
    query's. The output stays float64 and the mask's own gradient comes back as float32."""
    q, k, v = _rand(2, 2, 4, 5, seed=1), _rand(2, 2, 6, 5, seed=2), _rand(2, 2, 6, 5, seed=3)
    mask = _rand(4, 6, seed=4, dtype=np.float32)
    with sdpa_backend(backend):
        out = _sdpa_vs_torch([q, k, v, mask], rtol=1e-7)  # the float32 mask limits agreement
    assert out.dtype == np.float64


def test_sdpa_rejects_the_mask_dtypes_torch_rejects():
    q32 = tg.zeros(1, 4, 5)
    for mask, query in ((tg.zeros(4, 4, dtype=tg.float16), q32),
                        (tg.zeros(4, 4, dtype=tg.float64), q32),
                        (tg.zeros(4, 4, dtype=tg.int64), q32.double())):
        with pytest.raises(TypeError, match=r"attn_mask must be bool \(True = attend\), or "
                           r"float32 or the query's dtype"):
            F.scaled_dot_product_attention(query, query, query, attn_mask=mask)
        with pytest.raises(RuntimeError, match="Expected attn_mask dtype"):
            t = torch.zeros(*query.shape, dtype=torch.float64 if query.dtype == np.float64
                            else torch.float32)
            TF.scaled_dot_product_attention(t, t, t, attn_mask=torch.tensor(mask.numpy()))


@pytest.mark.parametrize("backend", ["auto", "math"])
def test_sdpa_empty_key_sequence_gives_zeros_like_torch(backend):
    """Was: S = 0 raised "zero-size array to reduction operation maximum"; torch returns
    zeros (an empty softmax) and zero gradients. L = 0 gives an empty output."""
    q, k, v = _rand(2, 3, 4, 5, seed=1), _rand(2, 3, 0, 5), _rand(2, 3, 0, 7)
    with sdpa_backend(backend):
        out = _sdpa_vs_torch([q, k, v])
        assert not out.detach().numpy().any()
        empty = F.scaled_dot_product_attention(tg.tensor(q[:, :, :0]), tg.tensor(q),
                                               tg.tensor(q))
    assert tuple(empty.shape) == (2, 3, 0, 5)


def test_sdpa_dropout_p_range_like_torch():
    """dropout_p = 1.0 drops every weight: the output and every gradient are 0, as torch's.
    A negative dropout_p is refused (torch silently applies no dropout)."""
    x = _rand(1, 2, 3, 4)
    q = tg.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    ref = TF.scaled_dot_product_attention(t, t, t, dropout_p=1.0)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(q.grad.numpy(), t.grad.numpy())
    assert not out.detach().numpy().any()
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\], got -0.1"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=-0.1)
    tg.manual_seed(0)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.999)
    assert np.mean(out.detach().numpy() == 0) > 0.9  # nearly every weight dropped


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention: behaviour confirmed against torch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "math", "fused"])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_and_zero_grads_like_torch(backend, kind):
    """torch 2.13 (CPU, math and flash) returns 0 for a query whose keys are all masked."""
    allowed = np.random.default_rng(3).random((2, 1, 4, 6)) < 0.6
    allowed[..., 0] = True
    allowed[0, 0, 2] = False  # batch 0, query 2: nothing to attend
    mask = allowed if kind == "bool" else np.where(allowed, 0.0, -np.inf)
    arrays = [_rand(2, 3, 4, 5, seed=1), _rand(2, 3, 6, 5, seed=2), _rand(2, 3, 6, 5, seed=3)]
    with sdpa_backend(backend):
        out = _sdpa_vs_torch(arrays + [mask], mask_grad=backend != "fused")
    assert not out.detach().numpy()[0, :, 2].any()


@pytest.mark.parametrize("L_, S_", [(6, 4), (3, 7), (1, 1)])
def test_sdpa_causal_on_5d_inputs_with_l_not_s_matches_torch(L_, S_):
    arrays = [_rand(2, 1, 2, L_, 3, seed=1), _rand(2, 1, 2, S_, 3, seed=2),
              _rand(2, 1, 2, S_, 4, seed=3)]
    _sdpa_vs_torch(arrays, is_causal=True, scale=0.7)


def test_sdpa_float32_matches_torch_with_every_option():
    q, k, v = (_rand(2, 4, 5, 3, seed=i, dtype=np.float32) for i in range(3))
    bias = _rand(1, 4, 5, 5, seed=7, dtype=np.float32)
    out = _sdpa_vs_torch([q, k[:, :2], v[:, :2], bias], rtol=1e-5, atol=1e-5,
                         enable_gqa=True, scale=0.4)
    assert out.dtype == np.float32


# ----------------------------------------------------------------------------------------------
# MultiheadAttention
# ----------------------------------------------------------------------------------------------


def test_mha_fully_masked_rows_zeros_where_torch_gives_nan_with_need_weights():
    """Documented difference: torch's need_weights=True path uses a plain softmax (NaN for a
    row with every key masked); its need_weights=False path (SDPA) gives zeros, like ours."""
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=True)
    mask = np.zeros((L, S), dtype=bool)
    mask[1] = True  # query 1 may attend nothing
    args = [tg.tensor(a) for a in _qkv(True)]
    targs = [torch.tensor(a) for a in _qkv(True)]
    _compare(ours, theirs, _qkv(True),
             lambda m, lib, q, k, v: m(q, k, v, attn_mask=lib.tensor(mask), need_weights=False))
    out, weights = ours(*args, attn_mask=tg.tensor(mask))
    ref, ref_weights = theirs(*targs, attn_mask=torch.tensor(mask))
    assert torch.isnan(ref[:, 1]).all() and torch.isnan(ref_weights[:, 1]).all()
    _close(out.detach().numpy()[:, [0, 2]], ref.detach()[:, [0, 2]], what="rows with a key")
    _close(weights.detach().numpy()[:, [0, 2]], ref_weights.detach()[:, [0, 2]], what="weights")
    assert not weights.detach().numpy()[:, 1].any()
    _close(out.detach().numpy()[:, 1], np.broadcast_to(ours.out_proj.bias.detach().numpy(), (N, E)))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_float_key_padding_and_per_head_bool_mask_match_torch(batch_first, need_weights):
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=batch_first)
    kpm = _rand(N, S, seed=5)
    kpm[0, 1] = -np.inf
    mask = np.random.default_rng(6).random((N * NH, L, S)) < 0.3
    mask[..., 0] = False
    _compare(ours, theirs, _qkv(batch_first),
             lambda m, lib, q, k, v: m(q, k, v, key_padding_mask=lib.tensor(kpm),
                                       attn_mask=lib.tensor(mask), need_weights=need_weights,
                                       average_attn_weights=False))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_kdim_vdim_bias_kv_zero_attn_and_masks_together_match_torch(bias, need_weights):
    ours, theirs = _pair("MultiheadAttention", E, NH, bias=bias, add_bias_kv=True,
                         add_zero_attn=True, kdim=4, vdim=3, batch_first=True)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[1, 2:] = True
    mask = _rand(L, S, seed=8)
    _compare(ours, theirs, _qkv(True, kdim=4, vdim=3),
             lambda m, lib, q, k, v: m(q, k, v, key_padding_mask=lib.tensor(kpm),
                                       attn_mask=lib.tensor(mask), need_weights=need_weights))


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_with_per_head_mask_matches_torch(need_weights):
    ours, theirs = _pair("MultiheadAttention", E, NH, add_zero_attn=True)
    kpm = np.array([False, False, True, False, False])
    mask = np.random.default_rng(7).random((NH, L, S)) < 0.3  # (nh, L, S) when unbatched
    out, *weights = _compare(
        ours, theirs, _qkv(batched=False),
        lambda m, lib, q, k, v: m(q, k, v, key_padding_mask=lib.tensor(kpm),
                                  attn_mask=lib.tensor(mask), need_weights=need_weights,
                                  average_attn_weights=False))
    assert tuple(out.shape) == (L, E)
    assert [tuple(w.shape) for w in weights] == ([(NH, L, S + 1)] if need_weights else [])


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("padding", [True, False])
def test_mha_causal_hint_with_l_not_s_matches_torch(need_weights, padding):
    """is_causal drops the mask for SDPA's own (top-left) causal mask only when there is no
    key padding and no weights are wanted; a random mask shows which one was used."""
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=True)
    mask = _rand(L, S, seed=3)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[1, -1] = True
    _compare(ours, theirs, _qkv(True),
             lambda m, lib, q, k, v: m(q, k, v, attn_mask=lib.tensor(mask), is_causal=True,
                                       need_weights=need_weights,
                                       key_padding_mask=lib.tensor(kpm) if padding else None))


def test_mha_float32_single_token_and_odd_head_size_match_torch():
    ours, theirs = _pair("MultiheadAttention", 9, 3, double=False)  # hs = 3
    x = _rand(1, 1, 9, dtype=np.float32)  # T = 1, N = 1
    _compare(ours, theirs, [x], lambda m, lib, x: m(x, x, x), rtol=1e-5, atol=1e-6)
    ours, theirs = _pair("MultiheadAttention", E, NH, kdim=4, vdim=3, add_bias_kv=True,
                         double=False)
    arrays = [a.astype(np.float32) for a in _qkv(kdim=4, vdim=3)]
    _compare(ours, theirs, arrays, lambda m, lib, q, k, v: m(q, k, v), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"kdim": 4, "vdim": 3, "add_bias_kv": True},
                                    {"bias": False, "add_bias_kv": True}])
def test_mha_state_dict_keys_and_order_match_torch(kwargs):
    theirs = torch.nn.MultiheadAttention(E, NH, **kwargs)
    ours = nn.MultiheadAttention(E, NH, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]


# ----------------------------------------------------------------------------------------------
# Encoder / decoder layers, stacks, the full model
# ----------------------------------------------------------------------------------------------


def test_encoder_layer_with_a_module_activation_ports_its_parameters():
    """A Module activation (PReLU) is a submodule on both sides: 'activation.weight'."""
    theirs = torch.nn.TransformerEncoderLayer(**LAYER_KW, activation=torch.nn.PReLU()).double()
    ours = nn.TransformerEncoderLayer(**LAYER_KW, activation=nn.PReLU()).double()
    _load(ours, theirs)
    assert "activation.weight" in ours.state_dict()
    ours.eval()
    theirs.eval()
    _compare(ours, theirs, [_qkv()[1]], lambda m, lib, x: [m(x)])


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_eps_prenorm_float_padding_and_bool_mask_match_torch(batch_first):
    ours, theirs = _pair("TransformerEncoderLayer", **LAYER_KW, batch_first=batch_first,
                         norm_first=True, layer_norm_eps=1e-3, dropout=0.3)
    ours.eval()
    theirs.eval()
    kpm = _rand(N, S, seed=4)
    kpm[1, 3] = -np.inf
    mask = np.random.default_rng(2).random((S, S)) < 0.3
    np.fill_diagonal(mask, False)
    _compare(ours, theirs, [_qkv(batch_first)[1]],
             lambda m, lib, x: [m(x, src_mask=lib.tensor(mask),
                                  src_key_padding_mask=lib.tensor(kpm))])


@pytest.mark.parametrize("mask_kind", ["float", "bool", "float_is_causal"])
def test_encoder_stack_causal_detection_matches_torch(mask_kind):
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**LAYER_KW), 2,
                                         enable_nested_tensor=False).double().eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**LAYER_KW), 2,
                                 enable_nested_tensor=False).double().eval()
    _load(ours, theirs)
    assert ours.enable_nested_tensor is False and ours.mask_check is True
    mask = _causal(S) != 0 if mask_kind == "bool" else _causal(S)
    is_causal = True if mask_kind == "float_is_causal" else None
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -1] = True
    _compare(ours, theirs, [_qkv()[1]],
             lambda m, lib, x: [m(x, mask=lib.tensor(mask), is_causal=is_causal,
                                  src_key_padding_mask=lib.tensor(kpm))])


def test_decoder_layer_with_every_mask_and_no_bias_matches_torch():
    ours, theirs = _pair("TransformerDecoderLayer", **LAYER_KW, batch_first=True,
                         norm_first=True, layer_norm_eps=1e-4, bias=False)
    ours.eval()
    theirs.eval()
    tgt_kpm = np.zeros((N, L), dtype=bool)
    tgt_kpm[1, -1] = True
    memory_mask, memory_kpm = _rand(L, S, seed=5), _rand(N, S, seed=6)
    _compare(ours, theirs, _qkv(True)[:2],
             lambda m, lib, t, mem: [m(t, mem, tgt_mask=lib.tensor(_causal(L)),
                                       memory_mask=lib.tensor(memory_mask),
                                       tgt_key_padding_mask=lib.tensor(tgt_kpm),
                                       memory_key_padding_mask=lib.tensor(memory_kpm),
                                       tgt_is_causal=True)])


@pytest.mark.parametrize("batched", [True, False])
def test_full_transformer_gelu_prenorm_and_unbatched_match_torch(batched):
    kw = dict(**LAYER_KW, num_encoder_layers=2, num_decoder_layers=1, activation="gelu",
              norm_first=batched, layer_norm_eps=1e-4)
    theirs = torch.nn.Transformer(**kw).double().eval()
    ours = nn.Transformer(**kw).double().eval()
    _load(ours, theirs)
    src, tgt = _qkv(batched=batched)[1], _qkv(batched=batched)[0]
    src_kpm = np.zeros((N, S) if batched else (S,), dtype=bool)
    src_kpm[..., -2:] = True
    _compare(ours, theirs, [src, tgt],
             lambda m, lib, s, t: [m(s, t, tgt_mask=lib.tensor(_causal(L)),
                                     src_key_padding_mask=lib.tensor(src_kpm),
                                     memory_key_padding_mask=lib.tensor(src_kpm))])


def test_full_transformer_float32_matches_torch():
    kw = dict(**LAYER_KW, num_encoder_layers=1, num_decoder_layers=1, batch_first=True)
    theirs = torch.nn.Transformer(**kw).eval()
    ours = nn.Transformer(**kw).eval()
    _load(ours, theirs)
    arrays = [a.astype(np.float32) for a in _qkv(True)[1::-1]]  # src (N, S, E), tgt (N, L, E)
    _compare(ours, theirs, arrays, lambda m, lib, s, t: [m(s, t)], rtol=1e-5, atol=1e-5)


def test_dropout_is_off_in_eval_and_on_in_training():
    layer = nn.TransformerDecoderLayer(**LAYER_KW, dropout=0.5).double()
    plain = nn.TransformerDecoderLayer(**LAYER_KW, dropout=0.0).double()
    plain.load_state_dict(layer.state_dict())
    tgt, memory = (tg.tensor(a) for a in _qkv()[:2])
    layer.eval()
    _close(layer(tgt, memory), plain(tgt, memory), what="eval output")
    layer.train()
    tg.manual_seed(0)
    assert not np.allclose(layer(tgt, memory).detach().numpy(), plain(tgt, memory).detach().numpy())


# ----------------------------------------------------------------------------------------------
# Bugs in files outside this review's area
# ----------------------------------------------------------------------------------------------


def test_softmax_over_an_empty_dim_returns_an_empty_tensor():
    for fn in (F.softmax, F.log_softmax):
        for shape, dim in (((2, 0), -1), ((0, 3), 1), ((0, 3), 0)):
            x = tg.zeros(*shape, requires_grad=True)
            y = fn(x, dim=dim)
            assert tuple(y.shape) == shape
            y.sum().backward()
            assert tuple(x.grad.shape) == shape
