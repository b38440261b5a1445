"""MultiheadAttention, PositionalEncoding and the Transformer layers against torch in float64
(same weights loaded from torch's state_dict): outputs, attention weights, input gradients and
every parameter gradient. Inputs require grad, which also keeps torch off its fused inference
fast path, so both sides compute the same math."""

import copy
import math

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn

E, NH, N, L, S = 8, 2, 2, 3, 4  # embed_dim, heads, batch, target length, source length

# torch's own deprecation / performance notes about its inputs, not about ours
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]


def _load(ours, theirs):
    """Load torch's weights into ours after checking that names and shapes agree."""
    their_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(our_shapes) == list(their_shapes)
    assert our_shapes == their_shapes
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _pair(name: str, *args, **kwargs):
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    return _load(ours, theirs)


def _tensors(arrays, lib, grad=True):
    if lib is tg:
        return [tg.tensor(a, requires_grad=grad) for a in arrays]
    return [torch.tensor(a, requires_grad=grad) for a in arrays]


def _compare(ours, theirs, arrays, call, rtol=1e-9, atol=1e-12):
    """call(module, lib, *input_tensors) -> output tensors; compares outputs, input grads and
    every parameter grad for a random upstream gradient on each (non-None) output."""
    tg_in, th_in = _tensors(arrays, tg), _tensors(arrays, torch)
    tg_out = [o for o in call(ours, tg, *tg_in) if o is not None]
    th_out = [o for o in call(theirs, torch, *th_in) if o is not None]
    assert len(tg_out) == len(th_out)
    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(tuple(o.shape)) for o in th_out]
    for k, (a, b) in enumerate(zip(tg_out, th_out, strict=True)):
        assert tuple(a.shape) == tuple(b.shape), f"output {k}: {a.shape} vs {tuple(b.shape)}"
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"output {k}")
    sum((o * tg.tensor(u)).sum() for o, u in zip(tg_out, upstream, strict=True)).backward()
    sum((o * torch.tensor(u)).sum() for o, u in zip(th_out, upstream, strict=True)).backward()
    for k, (a, b) in enumerate(zip(tg_in, th_in, strict=True)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of input {k}")
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        ref = their_params[name].grad
        if ref is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), ref.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of {name}")
    return tg_out


def _qkv(batch_first: bool, kdim=E, vdim=E, seed=0, batched=True):
    rng = np.random.default_rng(seed)

    def shape(length, features):
        if not batched:
            return (length, features)
        return (N, length, features) if batch_first else (length, N, features)

    return [rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, kdim)),
            rng.standard_normal(shape(S, vdim))]


def _masks(kind: str, seed=2):
    """attn_mask (None, bool (L, S), float (L, S), bool per head (N * NH, L, S)) with at least
    one allowed key per query, so no row is fully masked."""
    rng = np.random.default_rng(seed)
    if kind == "none":
        return None
    if kind == "bool":
        mask = rng.random((L, S)) < 0.4  # True = not allowed
    elif kind == "float":
        mask = rng.standard_normal((L, S))
        mask[0, 2] = -np.inf
        return mask
    else:
        mask = rng.random((N * NH, L, S)) < 0.4
    mask[..., 0] = False  # key 0 stays visible to every query
    return mask


def _key_padding():
    kpm = np.zeros((N, S), dtype=bool)
    kpm[1, -2:] = True  # batch element 1 has two padded keys
    return kpm


# ----------------------------------------------------------------------------------------------
# MultiheadAttention vs torch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "bool_per_head"])
@pytest.mark.parametrize("padding", [False, True], ids=["no_kpm", "kpm"])
def test_mha_matches_torch(batch_first, need_weights, mask_kind, padding):
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=batch_first)
    attn_mask = _masks(mask_kind)
    kpm = _key_padding() if padding else None

    def call(m, lib, q, k, v):
        return m(q, k, v, need_weights=need_weights,
                 attn_mask=None if attn_mask is None else lib.tensor(attn_mask),
                 key_padding_mask=None if kpm is None else lib.tensor(kpm))

    out, *weights = _compare(ours, theirs, _qkv(batch_first), call)
    assert tuple(out.shape) == ((N, L, E) if batch_first else (L, N, E))
    assert len(weights) == (1 if need_weights else 0)


def test_mha_self_attention_with_one_input_tensor():
    """query is key is value: one packed projection matmul; still torch's numbers."""
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=True)
    x = np.random.default_rng(4).standard_normal((N, L, E))
    _compare(ours, theirs, [x], lambda m, lib, x: m(x, x, x))


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_with_kdim_vdim_matches_torch(batch_first):
    ours, theirs = _pair("MultiheadAttention", E, NH, kdim=5, vdim=3, batch_first=batch_first)
    assert ours.in_proj_weight is None
    assert tuple(ours.k_proj_weight.shape) == (E, 5)
    kpm = _key_padding()
    _compare(ours, theirs, _qkv(batch_first, kdim=5, vdim=3),
             lambda m, lib, q, k, v: m(q, k, v, key_padding_mask=lib.tensor(kpm)))


def test_mha_per_head_weights_matches_torch():
    ours, theirs = _pair("MultiheadAttention", E, NH)
    out, weights = _compare(ours, theirs, _qkv(False),
                            lambda m, lib, q, k, v: m(q, k, v, average_attn_weights=False))
    assert tuple(weights.shape) == (N, NH, L, S)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_matches_torch(need_weights):
    ours, theirs = _pair("MultiheadAttention", E, NH)
    kpm = np.array([False, False, True, False])
    mask = _masks("bool")
    out, *weights = _compare(
        ours, theirs, _qkv(False, batched=False),
        lambda m, lib, q, k, v: m(q, k, v, key_padding_mask=lib.tensor(kpm),
                                  attn_mask=lib.tensor(mask), need_weights=need_weights))
    assert tuple(out.shape) == (L, E)
    if need_weights:
        assert tuple(weights[0].shape) == (L, S)


def test_mha_without_bias_and_with_bias_kv_and_zero_attn_matches_torch():
    ours, theirs = _pair("MultiheadAttention", E, NH, bias=False)
    assert ours.in_proj_bias is None and ours.out_proj.bias is None
    _compare(ours, theirs, _qkv(False), lambda m, lib, q, k, v: m(q, k, v))
    ours, theirs = _pair("MultiheadAttention", E, NH, add_bias_kv=True, add_zero_attn=True)
    mask, kpm = _masks("bool"), _key_padding()
    _compare(ours, theirs, _qkv(False),
             lambda m, lib, q, k, v: m(q, k, v, attn_mask=lib.tensor(mask),
                                       key_padding_mask=lib.tensor(kpm)))


def test_mha_causal_hint_matches_torch():
    ours, theirs = _pair("MultiheadAttention", E, NH, batch_first=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, L, E))
    causal = np.triu(np.ones((L, L), dtype=bool), 1)  # True above the diagonal = future
    _compare(ours, theirs, [x],
             lambda m, lib, x: m(x, x, x, attn_mask=lib.tensor(causal), is_causal=True,
                                 need_weights=False))


def test_mha_parameters_and_init_follow_torch():
    mha = nn.MultiheadAttention(16, 4)
    names = [n for n, _ in mha.named_parameters()]
    assert names == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    w = mha.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (16 + 48))  # Xavier-uniform on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not np.any(mha.in_proj_bias.detach().numpy())
    assert not np.any(mha.out_proj.bias.detach().numpy())


def test_mha_dropout_only_in_training():
    mha = nn.MultiheadAttention(E, NH, dropout=0.5).double()
    q, k, v = (tg.tensor(a) for a in _qkv(False))
    mha.eval()
    a, wa = mha(q, k, v)
    b, wb = mha(q, k, v)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    mha.train()
    tg.manual_seed(0)
    c, wc = mha(q, k, v, average_attn_weights=False)
    dropped = wc.detach().numpy()
    assert (dropped == 0).any()  # some weights dropped...
    assert dropped.max() > 1.0 or not np.allclose(dropped.sum(-1), 1.0)  # ...the rest scaled


# ----------------------------------------------------------------------------------------------
# Encoder / decoder layers, stacks and the full model vs torch (eval mode: dropout off)
# ----------------------------------------------------------------------------------------------

LAYER_KW = {"d_model": E, "nhead": NH, "dim_feedforward": 12}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(batch_first, norm_first, activation):
    ours, theirs = _pair("TransformerEncoderLayer", **LAYER_KW, batch_first=batch_first,
                         norm_first=norm_first, activation=activation)
    ours.eval()
    theirs.eval()
    src = _qkv(batch_first)[1]  # (S, N, E) or (N, S, E)
    mask = np.random.default_rng(6).standard_normal((S, S))  # float: added to the scores
    kpm = _key_padding()
    _compare(ours, theirs, [src],
             lambda m, lib, x: [m(x, src_mask=lib.tensor(mask),
                                  src_key_padding_mask=lib.tensor(kpm))])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(batch_first, norm_first):
    ours, theirs = _pair("TransformerDecoderLayer", **LAYER_KW, batch_first=batch_first,
                         norm_first=norm_first, activation="gelu")
    ours.eval()
    theirs.eval()
    tgt, memory = _qkv(batch_first)[:2]
    causal = np.triu(np.full((L, L), -np.inf), 1)
    memory_mask = _masks("bool")
    kpm = _key_padding()
    tgt_kpm = np.zeros((N, L), dtype=bool)
    tgt_kpm[0, -1] = True

    def call(m, lib, t, mem):
        return [m(t, mem, tgt_mask=lib.tensor(causal), memory_mask=lib.tensor(memory_mask),
                  tgt_key_padding_mask=lib.tensor(tgt_kpm),
                  memory_key_padding_mask=lib.tensor(kpm))]

    _compare(ours, theirs, [tgt, memory], call)


def test_encoder_and_decoder_stacks_match_torch():
    layer = torch.nn.TransformerEncoderLayer(**LAYER_KW)
    theirs = torch.nn.TransformerEncoder(layer, num_layers=2, norm=torch.nn.LayerNorm(E),
                                         enable_nested_tensor=False).double().eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**LAYER_KW), num_layers=2,
                                 norm=nn.LayerNorm(E)).double().eval()
    _load(ours, theirs)
    kpm = _key_padding()
    _compare(ours, theirs, [_qkv(False)[1]],
             lambda m, lib, x: [m(x, src_key_padding_mask=lib.tensor(kpm))])

    layer = torch.nn.TransformerDecoderLayer(**LAYER_KW)
    theirs = torch.nn.TransformerDecoder(layer, num_layers=2).double().eval()
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(**LAYER_KW), num_layers=2)
    ours = ours.double().eval()
    _load(ours, theirs)
    mask = nn.Transformer.generate_square_subsequent_mask(L).numpy()
    _compare(ours, theirs, _qkv(False)[:2],
             lambda m, lib, t, mem: [m(t, mem, tgt_mask=lib.tensor(mask), tgt_is_causal=True)])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_matches_torch(batch_first, norm_first):
    kw = dict(LAYER_KW, num_encoder_layers=2, num_decoder_layers=2, dropout=0.1,
              batch_first=batch_first, norm_first=norm_first)
    ours, theirs = _pair("Transformer", **kw)
    ours.eval()
    theirs.eval()
    src, tgt = _qkv(batch_first)[1], _qkv(batch_first, seed=7)[0]
    kpm = _key_padding()
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=tg.float64).numpy()

    def call(m, lib, s, t):
        return [m(s, t, tgt_mask=lib.tensor(tgt_mask), src_key_padding_mask=lib.tensor(kpm),
                  memory_key_padding_mask=lib.tensor(kpm))]

    (out,) = _compare(ours, theirs, [src, tgt], call)
    assert tuple(out.shape) == ((N, L, E) if batch_first else (L, N, E))


def test_transformer_training_mode_uses_dropout():
    model = nn.Transformer(**LAYER_KW, num_encoder_layers=1, num_decoder_layers=1,
                           dropout=0.5).double()
    src, tgt = (tg.tensor(a) for a in _qkv(False)[:2])
    tg.manual_seed(0)
    train_a = model(src, tgt).detach().numpy()
    train_b = model(src, tgt).detach().numpy()
    model.eval()
    eval_a = model(src, tgt).detach().numpy()
    eval_b = model(src, tgt).detach().numpy()
    np.testing.assert_array_equal(eval_a, eval_b)
    assert not np.allclose(train_a, train_b)
    assert not np.allclose(train_a, eval_a)


def test_generate_square_subsequent_mask_matches_torch():
    ours = nn.Transformer.generate_square_subsequent_mask(5).numpy()
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.float32


def test_callable_activation_and_gradcheck_of_a_small_layer():
    layer = nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=6, dropout=0.0,
                                       activation=tg.functional.silu).double()
    x = tg.tensor(np.random.default_rng(8).standard_normal((3, 2, 4)), requires_grad=True)
    assert tg.gradcheck(lambda x: layer(x), [x])
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    rng = np.random.default_rng(9)
    q = tg.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    k = tg.tensor(rng.standard_normal((3, 1, 3)), requires_grad=True)
    v = tg.tensor(rng.standard_normal((3, 1, 5)), requires_grad=True)
    assert tg.gradcheck(lambda q, k, v: mha(q, k, v), [q, k, v])


# ----------------------------------------------------------------------------------------------
# Deep copies
# ----------------------------------------------------------------------------------------------


def test_stacks_deep_copy_the_layer():
    layer = nn.TransformerEncoderLayer(**LAYER_KW)
    encoder = nn.TransformerEncoder(layer, num_layers=3)
    per_layer = layer.num_parameters()
    assert encoder.num_parameters() == 3 * per_layer
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first is not second
    w0, w1 = first.linear1.weight, second.linear1.weight
    assert isinstance(w1, nn.Parameter) and w1.requires_grad
    assert w0 is not w1 and not np.shares_memory(w0.data, w1.data)
    np.testing.assert_array_equal(w0.detach().numpy(), w1.detach().numpy())  # same start
    with tg.no_grad():
        w0.add_(1.0)
    assert not np.allclose(w0.detach().numpy(), w1.detach().numpy())  # but independent
    names = [n for n, _ in encoder.named_parameters()]
    assert "layers.2.self_attn.in_proj_weight" in names
    clone = copy.deepcopy(encoder)
    assert clone.num_parameters() == encoder.num_parameters()


# ----------------------------------------------------------------------------------------------
# Positional encoding
# ----------------------------------------------------------------------------------------------


class _TutorialPositionalEncoding(torch.nn.Module):
    """The PyTorch tutorial's module, verbatim in substance (seq-first)."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = torch.nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0)])


def test_positional_encoding_matches_the_tutorial():
    theirs = _TutorialPositionalEncoding(16, max_len=50).eval()
    ours = nn.PositionalEncoding(16, max_len=50).eval()
    assert tuple(ours.pe.shape) == (50, 1, 16)
    ours.load_state_dict({"pe": theirs.pe.numpy()})  # tutorial checkpoints load
    x = np.random.default_rng(10).standard_normal((7, 2, 16)).astype(np.float32)
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                               atol=1e-6)
    pe = nn.PositionalEncoding(16, max_len=50).pe.numpy()
    np.testing.assert_allclose(pe, theirs.pe.numpy(), atol=1e-6)


def test_positional_encoding_batch_first_odd_width_and_dropout():
    seq_first = nn.PositionalEncoding(5, dropout=0.0)
    batch_first = nn.PositionalEncoding(5, dropout=0.0, batch_first=True)
    x = tg.zeros(3, 4, 5)  # (N, T, d)
    a = batch_first(x).numpy()
    b = seq_first(x.transpose(0, 1)).transpose(0, 1).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[0, 2], [math.sin(2), math.cos(2),
                                         math.sin(2 / 10000 ** (2 / 5)),
                                         math.cos(2 / 10000 ** (2 / 5)),
                                         math.sin(2 / 10000 ** (4 / 5))], rtol=1e-6)
    drop = nn.PositionalEncoding(5, dropout=0.5)  # training mode by default
    tg.manual_seed(0)
    y = drop(tg.ones(20, 4, 5)).numpy()
    assert (y == 0).any() and (y != 0).any()


# ----------------------------------------------------------------------------------------------
# Errors that teach
# ----------------------------------------------------------------------------------------------


def test_mha_errors_are_explained():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads "
                       r"\(3\)"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(E, NH, batch_first=True)
    x = tg.zeros(N, L, E)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): "
                       r"expected query with embed_dim=8 features, got 6"):
        mha(tg.zeros(N, L, 6), x, x)
    with pytest.raises(ValueError, match=r"expected key_padding_mask of shape \(2, 3\) "
                       r"\(N, S\), got \(3, 2\)"):
        mha(x, x, x, key_padding_mask=tg.zeros(3, 2, dtype=tg.bool_))
    with pytest.raises(ValueError, match=r"expected attn_mask of shape \(3, 3\) \(L, S\) or "
                       r"\(4, 3, 3\) \(N \* num_heads, L, S\), got \(2, 3, 3\)"):
        mha(x, x, x, attn_mask=tg.zeros(2, 3, 3, dtype=tg.bool_))
    with pytest.raises(ValueError, match=r"is_causal=True is a hint .* attn_mask must be "
                       r"given"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"same batch size"):
        mha(x, tg.zeros(3, L, E), tg.zeros(3, L, E))
    with pytest.raises(ValueError, match=r"expected a 3-d batched query \(N, L, E\)"):
        mha(tg.zeros(1, N, L, E), x, x)
    with pytest.raises(TypeError, match=r"only bool and floating point attn_masks"):
        mha(x, x, x, attn_mask=tg.zeros(L, L, dtype=tg.int64))


def test_transformer_errors_are_explained():
    model = nn.Transformer(**LAYER_KW, num_encoder_layers=1, num_decoder_layers=1)
    with pytest.raises(ValueError, match=r"batch size of src and tgt must be equal \(dim 1"):
        model(tg.zeros(S, 2, E), tg.zeros(L, 3, E))
    with pytest.raises(ValueError, match=r"must equal d_model=8"):
        model(tg.zeros(S, 2, E), tg.zeros(L, 2, 6))
    with pytest.raises(ValueError, match=r"activation should be 'relu' or 'gelu'"):
        nn.TransformerEncoderLayer(E, NH, activation="swish")
    with pytest.raises(ValueError, match=r"sequence length 9 exceeds max_len=8"):
        nn.PositionalEncoding(E, max_len=8)(tg.zeros(9, 1, E))
