"""Attention and Transformer layers with torch's names, parameters, masks and return values:
``MultiheadAttention``, ``PositionalEncoding``, ``TransformerEncoderLayer``,
``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder``, ``Transformer``.

Notation: N batch, L target (query) length, S source (key/value) length, E = embed_dim
(d_model), nh heads, hs = E // nh features per head.

Multi-head attention, for each head h (``F.scaled_dot_product_attention`` does the middle)::

    Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v      (N, L|S, E)
    head_h = softmax(Q_h K_h^T / sqrt(hs) + mask) V_h                         (N, L, hs)
    output = concat_h(head_h) W_o^T + b_o                                     (N, L, E)

Mask conventions are torch's, and they differ by layer (a classic porting trap):

- ``F.scaled_dot_product_attention``: a bool ``attn_mask`` is True where attention is ALLOWED;
- ``MultiheadAttention`` and the Transformer layers: a bool ``attn_mask`` or
  ``key_padding_mask`` is True where attention is NOT allowed (padding, future positions);
- everywhere: a float mask is added to the scores (0 keeps, -inf removes).

The layers run the "math" path of the functional attention (composite Tensor ops), so every
gradient comes from autograd. In eval mode dropout is off and the layers compute exactly what
torch's layers compute (torch's fused fast path gives the same numbers up to round-off).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import functional as F
from ..autograd import Config
from ..backend import get_array_module
from ..functional.attention import _sdpa_math, scaled_dot_product_attention
from ..tensor import Tensor, empty, full, tensor, zeros
from . import init
from .dropout import Dropout
from .linear import Linear
from .module import Module, ModuleList, Parameter
from .normalization import LayerNorm

# ----------------------------------------------------------------------------------------------
# Masks: bool "True = masked out" -> float additive bias
# ----------------------------------------------------------------------------------------------


def _mask_to_bias(mask: Tensor, what: str, owner: str, dtype) -> Tensor:
    """A bool mask (True = not allowed) becomes 0 / -inf in ``dtype``; a float mask is already
    an additive bias and is returned as it is."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{owner}: expected {what} to be a Tensor, got {type(mask).__name__}")
    if mask.dtype == np.bool_:
        xp = get_array_module(mask.data)
        bias = xp.where(mask.data, -np.inf, 0.0).astype(dtype)  # True -> -inf: masked out
        return Tensor._wrap(bias)
    if mask.dtype.kind != "f":
        raise TypeError(f"{owner}: only bool and floating point {what}s are supported, got "
                        f"dtype {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """torch's rule: an explicit ``is_causal`` wins; else a mask equal to the square causal
    mask counts as causal (a hint that lets attention skip the mask)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or tuple(mask.shape) != (size, size):
        return False
    causal = Transformer.generate_square_subsequent_mask(size, device=mask.device)
    if mask.dtype == np.bool_:
        return bool((mask.data == (causal.data != 0)).all())
    return bool((mask.data == causal.data).all())


# ----------------------------------------------------------------------------------------------
# Multi-head attention
# ----------------------------------------------------------------------------------------------


class MultiheadAttention(Module):
    """Multi-head attention (torch.nn.MultiheadAttention).

    Parameters (torch's names): ``in_proj_weight`` (3E, E) stacking W_q, W_k, W_v when
    kdim = vdim = E, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim) and
    ``v_proj_weight`` (E, vdim); ``in_proj_bias`` (3E,); ``out_proj`` (a Linear(E, E));
    ``bias_k``, ``bias_v`` (1, 1, E) with ``add_bias_kv``. Init like torch: Xavier-uniform
    projections, zero biases.

    Inputs: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or (N, L, E) ... with
    ``batch_first``, or unbatched (L, E) ... . ``key_padding_mask`` (N, S): True (or -inf)
    marks keys to ignore. ``attn_mask`` (L, S) or (N * nh, L, S): True (or -inf) marks pairs
    that may not attend. Returns ``(attn_output, attn_weights)``: attn_output like query;
    attn_weights (N, L, S) averaged over heads, (N, nh, L, S) with
    ``average_attn_weights=False``, None with ``need_weights=False``.

    A query whose keys are all masked gets zero weights and output ``out_proj.bias``, with or
    without ``need_weights``. torch 2.13 does the same with ``need_weights=False`` (its SDPA)
    but gives NaN with ``need_weights=True`` (a plain softmax); we keep the NaN-free result.

    >>> import tinygrad_edu as tg
    >>> mha = MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
    >>> x = tg.randn(2, 5, 16)                        # (N, L, E)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((2, 5, 16), (2, 5, 5))
    >>> bool(((weights.sum(-1) - 1).abs() < 1e-5).all())   # each query's weights sum to 1
    True
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads}): each head gets embed_dim // num_heads "
                             "features")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn

        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, device=device, dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(E, E, device=device, dtype=dtype))
            self.k_proj_weight = Parameter(empty(E, self.kdim, device=device, dtype=dtype))
            self.v_proj_weight = Parameter(empty(E, self.vdim, device=device, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, E, device=device, dtype=dtype))
            self.bias_v = Parameter(empty(1, 1, E, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal bias_k / bias_v (torch's)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s

    def _describe(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    # ------------------------------------------------------------------------------------------
    # Input checks
    # ------------------------------------------------------------------------------------------

    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask) -> bool:
        """Validate shapes (torch's rules); return True if the inputs are batched."""
        me = self._describe()
        for what, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{me}: expected {what} to be a Tensor, got {type(t).__name__}")
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if query.ndim not in (2, 3):
            raise ValueError(f"{me}: expected a 3-d batched query {layout} (batch_first="
                             f"{self.batch_first}) or a 2-d unbatched query (L, E), got shape "
                             f"{tuple(query.shape)}")
        shapes = (f"query {tuple(query.shape)}, key {tuple(key.shape)}, "
                  f"value {tuple(value.shape)}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{me}: query, key and value must all be 3-d (batched) or all 2-d "
                             f"(unbatched), got {shapes}")
        batched = query.ndim == 3
        for what, t, size, arg in (("query", query, self.embed_dim, "embed_dim"),
                                   ("key", key, self.kdim, "kdim"),
                                   ("value", value, self.vdim, "vdim")):
            if t.shape[-1] != size:
                raise ValueError(f"{me}: expected {what} with {arg}={size} features, got "
                                 f"{t.shape[-1]} ({shapes}, batch_first={self.batch_first})")
            if t.dtype != query.dtype:
                raise TypeError(f"{me}: query, key and value must have one dtype, got "
                                f"{query.dtype}, {key.dtype} and {value.dtype}")
        if query.dtype != self.out_proj.weight.dtype:
            raise TypeError(f"{me}: inputs have dtype {query.dtype} but the parameters are "
                            f"{self.out_proj.weight.dtype}; convert one of them")
        seq, batch = (1, 0) if self.batch_first else (0, 1)
        if batched:
            L, S, N = query.shape[seq], key.shape[seq], query.shape[batch]
            if key.shape[batch] != N or value.shape[batch] != N:
                raise ValueError(f"{me}: query, key and value must have the same batch size "
                                 f"(dim {batch} with batch_first={self.batch_first}), got "
                                 f"{shapes}")
        else:
            L, S, N = query.shape[0], key.shape[0], None
        if value.shape[-2 if not batched else seq] != S:
            raise ValueError(f"{me}: key and value must have the same length S, got {shapes}")
        if key_padding_mask is not None:
            expected = (N, S) if batched else (S,)
            if not isinstance(key_padding_mask, Tensor) or \
                    tuple(key_padding_mask.shape) != expected:
                got = getattr(key_padding_mask, "shape", type(key_padding_mask).__name__)
                raise ValueError(f"{me}: expected key_padding_mask of shape {expected} "
                                 f"{'(N, S)' if batched else '(S,)'}, got {tuple(got)}")
        if attn_mask is not None:
            nh_batch = (N if batched else 1) * self.num_heads
            allowed = ((L, S), (nh_batch, L, S))
            if not isinstance(attn_mask, Tensor) or tuple(attn_mask.shape) not in allowed:
                got = getattr(attn_mask, "shape", type(attn_mask).__name__)
                raise ValueError(f"{me}: expected attn_mask of shape {allowed[0]} (L, S) or "
                                 f"{allowed[1]} (N * num_heads, L, S), got {tuple(got)}")
        return batched

    # ------------------------------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------------------------------

    def _project(self, query, key, value, self_attention: bool) -> tuple:
        """Q, K, V = input projections; each (N, L|S, E). Self-attention uses one matmul
        with the stacked (3E, E) weight instead of three."""
        E = self.embed_dim
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if self_attention:
                qkv = F.linear(query, w, b)  # (N, L, 3E)
                return qkv.chunk(3, dim=-1)  # 3 x (N, L, E)
            w_q, w_k, w_v = w[:E], w[E:2 * E], w[2 * E:]  # each (E, E)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        q = F.linear(query, w_q, b_q)  # (N, L, E)
        k = F.linear(key, w_k, b_k)  # (N, S, E)
        v = F.linear(value, w_v, b_v)  # (N, S, E)
        return q, k, v

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """Returns ``(attn_output, attn_weights)``; see the class docstring for shapes.

        ``is_causal=True`` is, like in torch, only a hint that ``attn_mask`` is the causal
        mask: the mask must still be given (``Transformer.generate_square_subsequent_mask``).
        """
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{self._describe()}: is_causal=True is a hint that attn_mask is the causal "
                "mask, so attn_mask must be given too, e.g. "
                "attn_mask=Transformer.generate_square_subsequent_mask(L)"
            )
        self_attention = query is key and key is value
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))  # (1, L|S, .)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)  # (1, S)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))  # (N, L|S, .)
        N, L, E = query.shape
        nh, hs = self.num_heads, self.head_dim

        # one additive bias (..., L, S) from both masks; torch drops a causal attn_mask when
        # the attention kernel can apply causality itself
        use_causal = is_causal and key_padding_mask is None and not need_weights
        bias = None
        if attn_mask is not None and not use_causal:
            bias = _mask_to_bias(attn_mask, "attn_mask", self._describe(), query.dtype)
            if bias.ndim == 3:
                bias = bias.reshape(N, nh, L, -1)  # (N * nh, L, S) -> (N, nh, L, S)
        if key_padding_mask is not None:
            pad = _mask_to_bias(key_padding_mask, "key_padding_mask", self._describe(),
                                query.dtype)
            pad = pad.reshape(N, 1, 1, -1)  # (N, S) -> (N, 1, 1, S): the same for all queries
            bias = pad if bias is None else bias + pad  # (N, nh | 1, L, S)

        q, k, v = self._project(query, key, value, self_attention)  # (N, L|S, E)
        if self.bias_k is not None:
            k = F.cat([k, self.bias_k.expand(N, 1, E)], dim=1)  # (N, S + 1, E)
            v = F.cat([v, self.bias_v.expand(N, 1, E)], dim=1)  # (N, S + 1, E)
            bias = None if bias is None else F.pad(bias, (0, 1))  # (..., L, S + 1)
        S = k.shape[1]
        q = q.reshape(N, L, nh, hs).transpose(1, 2)  # (N, nh, L, hs)
        k = k.reshape(N, S, nh, hs).transpose(1, 2)  # (N, nh, S, hs)
        v = v.reshape(N, S, nh, hs).transpose(1, 2)  # (N, nh, S, hs)
        if self.add_zero_attn:
            zero = zeros(N, nh, 1, hs, dtype=q.dtype, device=q.device)
            k = F.cat([k, zero], dim=2)  # (N, nh, S + 1, hs): a key that scores 0
            v = F.cat([v, zero], dim=2)  # (N, nh, S + 1, hs): and contributes nothing
            bias = None if bias is None else F.pad(bias, (0, 1))  # (..., L, S + 1)

        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            y, weights = _sdpa_math(q, k, v, bias, dropout_p)  # (N, nh, L, hs), (N, nh, L, S)
            if average_attn_weights:
                weights = weights.mean(dim=1)  # (N, L, S)
        else:
            y = scaled_dot_product_attention(q, k, v, bias, dropout_p, is_causal=use_causal)
            weights = None
        y = y.transpose(1, 2).reshape(N, L, E)  # (N, nh, L, hs) -> (N, L, nh * hs)
        y = self.out_proj(y)  # (N, L, E)

        if not batched:
            y = y.squeeze(0)  # (L, E)
            weights = None if weights is None else weights.squeeze(0)  # ([nh,] L, S)
        elif not self.batch_first:
            y = y.transpose(0, 1)  # (L, N, E)
        return y, weights


# ----------------------------------------------------------------------------------------------
# Positional encoding
# ----------------------------------------------------------------------------------------------


class PositionalEncoding(Module):
    """Sinusoidal positions ("Attention Is All You Need", sec. 3.5; the PyTorch tutorial):

        PE[pos, 2i] = sin(pos / 10000^(2i / d_model)),  PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

    forward: x + PE[:T], then dropout. x is (T, N, d_model), or (N, T, d_model) with
    ``batch_first``. The table is a buffer ``pe`` of shape (max_len, 1, d_model), as in the
    tutorial, so its checkpoints load.

    >>> import tinygrad_edu as tg
    >>> pos = PositionalEncoding(d_model=8, dropout=0.0, batch_first=True)
    >>> [round(v, 4) for v in pos(tg.zeros(2, 3, 8))[0, 1, :2].tolist()]  # sin(1), cos(1)
    [0.8415, 0.5403]
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if d_model <= 0 or max_len <= 0:
            raise ValueError(f"PositionalEncoding: d_model and max_len must be positive, got "
                             f"d_model={d_model}, max_len={max_len}")
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.dropout = Dropout(p=dropout)
        position = np.arange(max_len)[:, None]  # (max_len, 1)
        div_term = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d/2,)
        pe = np.zeros((max_len, 1, d_model))
        pe[:, 0, 0::2] = np.sin(position * div_term)
        pe[:, 0, 1::2] = np.cos(position * div_term[: d_model // 2])  # odd d_model: one fewer
        self.register_buffer("pe", tensor(pe, dtype=dtype or Config.default_dtype,
                                          device=device))

    def forward(self, x: Tensor) -> Tensor:
        layout = "(N, T, d_model)" if self.batch_first else "(T, N, d_model)"
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != self.d_model:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"PositionalEncoding(d_model={self.d_model}): expected input "
                             f"{layout} with d_model={self.d_model} (batch_first="
                             f"{self.batch_first}), got {got}")
        T = x.shape[1] if self.batch_first else x.shape[0]
        if T > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {T} exceeds max_len="
                             f"{self.max_len}; construct it with a larger max_len")
        pe = self.pe[:T]  # (T, 1, d_model)
        if self.batch_first:
            pe = pe.transpose(0, 1)  # (1, T, d_model)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


# ----------------------------------------------------------------------------------------------
# Encoder and decoder layers
# ----------------------------------------------------------------------------------------------


def _activation(activation, owner: str):
    """"relu" / "gelu" -> the functional op; a callable (function or Module) is used as is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{owner}: activation should be 'relu' or 'gelu' (or a callable), not "
                         f"{activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm.

        post-norm (default):  x = norm1(x + SA(x));        x = norm2(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x));        x = x + FF(norm2(x))
        SA(x) = dropout1(self_attn(x, x, x))
        FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))

    >>> import tinygrad_edu as tg
    >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32,
    ...                                 batch_first=True)
    >>> layer(tg.randn(2, 5, 16)).shape         # (N, S, E)
    (2, 5, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """src (S, N, E), or (N, S, E) with batch_first; masks as in MultiheadAttention."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))  # E -> ff -> E
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over the encoder's ``memory``, feed-forward;
    each with a residual connection and LayerNorm.

        post-norm (default):   x = norm1(x + SA(x));  x = norm2(x + MHA(x, memory));
                               x = norm3(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x));  x = x + MHA(norm2(x), memory);
                               x = x + FF(norm3(x))
        SA(x) = dropout1(self_attn(x, x, x)),  MHA(x, m) = dropout2(multihead_attn(x, m, m))
        FF(x) = dropout3(linear2(dropout(activation(linear1(x)))))

    >>> import tinygrad_edu as tg
    >>> layer = TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
    >>> tgt, memory = tg.randn(6, 2, 16), tg.randn(5, 2, 16)     # (T, N, E), (S, N, E)
    >>> mask = Transformer.generate_square_subsequent_mask(6)
    >>> layer(tgt, memory, tgt_mask=mask).shape
    (6, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """tgt (T, N, E), memory (S, N, E) (batch first with batch_first)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))  # E -> ff -> E
        return self.dropout3(x)


# ----------------------------------------------------------------------------------------------
# Stacks and the full model
# ----------------------------------------------------------------------------------------------


def _get_clones(module: Module, n: int) -> ModuleList:
    """n independent deep copies (own parameters, same initial values), like torch."""
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _seq_len(x: Tensor, batch_first: bool) -> int:
    return x.shape[1] if batch_first and x.ndim == 3 else x.shape[0]


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then an optional ``norm``.

    ``enable_nested_tensor`` and ``mask_check`` are kept for torch code but change nothing:
    there are no nested tensors here, so padded positions are computed like the others (torch's
    nested-tensor fast path, in eval under no_grad, returns zeros there instead).

    >>> import tinygrad_edu as tg
    >>> layer = TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
    >>> encoder = TransformerEncoder(layer, num_layers=3)
    >>> encoder(tg.randn(4, 2, 8)).shape
    (4, 2, 8)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        if num_layers <= 0:
            raise ValueError(f"TransformerEncoder: num_layers must be positive, got {num_layers}")
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor  # accepted, ignored (see docstring)
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        batch_first = self.layers[0].self_attn.batch_first
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn, then an optional ``norm``."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        if num_layers <= 0:
            raise ValueError(f"TransformerDecoder: num_layers must be positive, got {num_layers}")
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        batch_first = self.layers[0].self_attn.batch_first
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, batch_first))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer ("Attention Is All You Need"; torch.nn.Transformer):
    memory = encoder(src); output = decoder(tgt, memory). Both stacks end in a LayerNorm.
    Parameters with more than one dim are re-drawn Xavier-uniform, like torch.

    >>> import tinygrad_edu as tg
    >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
    ...                     dim_feedforward=32, batch_first=True)
    >>> src, tgt = tg.randn(2, 7, 16), tg.randn(2, 5, 16)          # (N, S, E), (N, T, E)
    >>> mask = Transformer.generate_square_subsequent_mask(5)
    >>> model(src, tgt, tgt_mask=mask).shape
    (2, 5, 16)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(*layer_args, **kw)
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(*layer_args, **kw)
            decoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """src (S, N, E), tgt (T, N, E) (batch first with batch_first) -> (T, N, E)."""
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise ValueError(f"Transformer: the batch size of src and tgt must be equal (dim "
                             f"{batch}, batch_first={self.batch_first}), got src "
                             f"{tuple(src.shape)} and tgt {tuple(tgt.shape)}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature size of src and tgt must equal "
                             f"d_model={self.d_model}, got src {tuple(src.shape)} and tgt "
                             f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i may attend
        positions 0..i).

        >>> Transformer.generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
        """
        return full((sz, sz), -math.inf, dtype=dtype or Config.default_dtype,
                    device=device).triu(diagonal=1)
