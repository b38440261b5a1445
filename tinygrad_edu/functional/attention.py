"""Scaled dot-product attention, with torch's arguments and mask semantics.

    scores = Q K^T * scale + bias          (..., L, S)     scale = 1/sqrt(E) by default
    A      = softmax(scores, dim=-1)       (..., L, S)     each query's weights over the keys
    out    = dropout(A) V                  (..., L, Ev)

Masks (``attn_mask`` broadcasts to (..., L, S)):

- bool: True means "may attend" (takes part), False means masked out (bias -inf);
- float: added to the scores as they are (0 keeps, -inf removes, anything else biases);
- ``is_causal=True``: query i sees keys 0..i (a top-left lower triangle, ``tril``), the same
  as a bool mask ``ones(L, S).tril()``; it excludes ``attn_mask``.

A query whose keys are all masked out gets zero weights (an output of zeros, zero gradients)
instead of the NaN that softmax over all -inf would give; torch's math path does the same.

Two paths compute it:

- the "math" path, ``_sdpa_math``: a composite of Tensor ops (matmul, where, softmax, dropout),
  so its gradients, and higher-order gradients, come from autograd;
- the "fused" path, ``FusedAttention``: one kernel call forward and one backward (the
  attention kernels of ``tinygrad_edu.kernels``, picked by ``Config.kernel``: NumPy reference,
  Numba CPU, flash-style CUDA). It keeps only the output and the row logsumexp, never the
  L x S weights, and the backward recomputes the weights from them. First-order only.

``scaled_dot_product_attention`` uses the fused path on the CPU when it can (no dropout, 4-d
inputs, equal head sizes, a mask that needs no gradient) and the math path otherwise, and the
math path on a GPU, where cuBLAS's GEMMs are much faster than the Numba flash kernel;
``sdpa_backend("math" | "fused" | "auto")`` forces a choice.

Shapes: L query length, S key/value length, E query/key features, Ev value features, "..."
any batch dims (usually B, nh).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Config, Function, _Override
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import dropout, where
from .reduce import softmax
from .shape import expand, reshape, transpose, unsqueeze


def _causal_mask(L: int, S: int, like: Tensor) -> np.ndarray:
    """(L, S) bool array, True on and below the diagonal: query i may attend keys 0..i."""
    xp = get_array_module(like.data)
    return xp.tri(L, S, dtype=bool)


def _masked_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, with rows that are -inf everywhere set to zero weights.

    Such rows would give 0/0 = NaN. They are replaced by zeros before the softmax (so no NaN
    reaches forward or backward) and their weights are zeroed after it.
    """
    xp = get_array_module(scores.data)
    dead = xp.isneginf(scores.data).all(axis=-1, keepdims=True)  # (..., L, 1)
    if not bool(dead.any()):
        return softmax(scores, dim=-1)
    if bool(dead.all()):
        return where(dead, 0.0, scores)  # every row dead (or S = 0): all-zero weights
    scores = where(dead, 0.0, scores)
    return where(dead, 0.0, softmax(scores, dim=-1))


def _sdpa_math(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """The math path: returns (output (..., L, Ev), attention weights (..., L, S)).

    The weights are returned after dropout, as ``MultiheadAttention(need_weights=True)``
    reports them. Arguments are assumed checked (see ``scaled_dot_product_attention``).
    """
    L, S = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = (query @ transpose(key, -2, -1)) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    if is_causal:
        attn_mask = Tensor._wrap(_causal_mask(L, S, query))  # (L, S) bool
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = where(attn_mask.data, scores, -math.inf)  # False -> -inf: never attended
        else:
            scores = scores + attn_mask  # (..., L, S): a float mask is an additive bias
    weights = _masked_softmax(scores)  # (..., L, S)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


def _repeat_kv_heads(x: Tensor, groups: int) -> Tensor:
    """(..., Hkv, S, E) -> (..., Hkv * groups, S, E): each key/value head serves ``groups``
    consecutive query heads (torch's repeat_interleave for grouped-query attention)."""
    *lead, H, S, E = x.shape
    x = unsqueeze(x, -3)  # (..., Hkv, 1, S, E)
    x = expand(x, *lead, H, groups, S, E)  # (..., Hkv, groups, S, E)
    return reshape(x, *lead, H * groups, S, E)  # (..., Hq, S, E)


def _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa) -> None:
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must be at least 2-d (..., length, features), got "
                             f"shape {tuple(t.shape)}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got dtype {t.dtype}")
    shapes = (f"query {tuple(query.shape)}, key {tuple(key.shape)}, "
              f"value {tuple(value.shape)}")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise TypeError(f"{op}: query, key and value must have one dtype, got {query.dtype}, "
                        f"{key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{op}: query has {query.shape[-1]} features but key has "
                         f"{key.shape[-1]}; they must match for Q K^T ({shapes})")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same length S (dim -2), got "
                         f"{key.shape[-2]} and {value.shape[-2]} ({shapes})")
    if enable_gqa and (query.ndim < 3 or key.ndim < 3 or value.ndim < 3
                       or query.shape[-3] % key.shape[-3] != 0
                       or query.shape[-3] % value.shape[-3] != 0):
        raise ValueError(f"{op}: enable_gqa=True needs (..., heads, length, features) inputs "
                         "whose number of query heads is a multiple of the key heads and of "
                         f"the value heads ({shapes})")
    batch = [tuple(t.shape[:-2]) for t in (query, key, value)]
    if enable_gqa:  # the head dim (-3) of key and value is repeated up to the query's first
        batch[1] = batch[1][:-1] + batch[0][-1:]
        batch[2] = batch[2][:-1] + batch[0][-1:]
    try:
        batch = np.broadcast_shapes(*batch)
    except ValueError:
        fewer_heads = min(query.ndim, key.ndim) >= 3 and key.shape[-3] < query.shape[-3]
        hint = ""
        if fewer_heads and not enable_gqa:
            hint = " (fewer key/value heads than query heads need enable_gqa=True)"
        raise ValueError(f"{op}: the batch dims (all but the last two) of query, key and value "
                         f"must broadcast together{hint} ({shapes})") from None
    if not 0.0 <= dropout_p <= 1.0:  # torch silently skips dropout for p < 0: refused here
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if attn_mask is None:
        return
    if is_causal:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both "
                         "(is_causal builds the causal mask itself)")
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"{op}: expected attn_mask to be a Tensor, got "
                        f"{type(attn_mask).__name__}")
    if attn_mask.dtype not in (np.bool_, np.float32, query.dtype):
        raise TypeError(f"{op}: attn_mask must be bool (True = attend), or float32 or the "
                        f"query's dtype {query.dtype} (added to the scores), got "
                        f"{attn_mask.dtype}")
    L, S = query.shape[-2], key.shape[-2]
    scores_shape = tuple(batch) + (L, S)
    try:
        broadcast = np.broadcast_shapes(tuple(attn_mask.shape), scores_shape)
    except ValueError:
        broadcast = None
    if broadcast != scores_shape:
        raise ValueError(f"{op}: attn_mask of shape {tuple(attn_mask.shape)} does not "
                         f"broadcast to the scores' shape {scores_shape} (..., L, S) ({shapes})")


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q K^T * scale + mask) V, like ``torch.nn.functional.scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``:
    bool (True = take part) or float (added), broadcasting to (..., L, S). ``is_causal``: query
    i attends keys 0..i. ``dropout_p`` is applied to the weights whenever it is > 0 (pass 0.0
    in eval, as torch code does). ``enable_gqa``: key and value may have fewer heads (dim -3)
    than query; each serves a group of consecutive query heads. Batch dims broadcast; a float
    ``attn_mask`` may be float32 or the query's dtype (cast to the query's, like torch).

    Gradients (from the composite ops): with A the weights and dO the output gradient,
    dV = A^T dO,  dA = dO V^T,  dS = A * (dA - sum_j dA_j A_j),  dQ = dS K * scale,
    dK = dS^T Q * scale.

    >>> import tinygrad_edu as tg
    >>> q = tg.randn(2, 4, 5, 8)                # (B, nh, L, hs)
    >>> k, v = tg.randn(2, 4, 7, 8), tg.randn(2, 4, 7, 3)
    >>> scaled_dot_product_attention(q, k, v).shape
    (2, 4, 5, 3)
    >>> causal = scaled_dot_product_attention(q, q, q, is_causal=True)  # row 0 sees only key 0
    >>> bool(((causal[..., 0, :] - q[..., 0, :]).abs() < 1e-6).all())
    True
    """
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        key = _repeat_kv_heads(key, query.shape[-3] // key.shape[-3])  # (..., Hq, S, E)
    if enable_gqa and value.shape[-3] != query.shape[-3]:
        value = _repeat_kv_heads(value, query.shape[-3] // value.shape[-3])  # (..., Hq, S, Ev)
    if attn_mask is not None and attn_mask.dtype not in (np.bool_, query.dtype):
        attn_mask = attn_mask.to(query.dtype)  # a float32 mask on float64 inputs, as torch
    if _use_fused(query, key, value, attn_mask, dropout_p):
        mask = None if attn_mask is None else _additive_mask(attn_mask, query.dtype)
        return FusedAttention.apply(query, key, value, mask=mask, is_causal=is_causal,
                                    scale=scale)
    output, _ = _sdpa_math(query, key, value, attn_mask, dropout_p, is_causal, scale)
    return output


# ----------------------------------------------------------------------------------------------
# The fused-kernel path
# ----------------------------------------------------------------------------------------------

SDPA_BACKENDS = ("auto", "math", "fused")


def sdpa_backend(name: str):
    """Context manager: ``"math"`` (composite ops, any-order gradients, attention weights
    materialized), ``"fused"`` (one kernel pass; raises where it cannot apply) or ``"auto"``."""
    if name not in SDPA_BACKENDS:
        raise ValueError(f"sdpa_backend: expected one of {SDPA_BACKENDS}, got {name!r}")
    return _Override(sdpa_backend=name)


def _use_fused(query, key, value, attn_mask, dropout_p) -> bool:
    choice = Config.sdpa_backend
    if choice == "math":
        return False
    reasons = []
    if dropout_p > 0:
        reasons.append("dropout_p > 0")
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        reasons.append("inputs are not 4-d (B, nh, T, hs)")
    elif not query.shape[:2] == key.shape[:2] == value.shape[:2]:
        reasons.append("query, key and value differ in (B, nh) (broadcast batch dims)")
    elif value.shape[-1] != query.shape[-1]:
        reasons.append("value's head size differs from query's")
    if 0 in (*query.shape, *key.shape, *value.shape):
        reasons.append("an input has a zero-length dim")
    if query.dtype not in (np.float32, np.float64):
        reasons.append(f"dtype {query.dtype} (kernels take float32/float64)")
    if isinstance(attn_mask, Tensor) and attn_mask.requires_grad:
        reasons.append("attn_mask requires grad")
    if choice == "fused" and reasons:
        raise ValueError("scaled_dot_product_attention: the fused kernel cannot run here: "
                         + "; ".join(reasons))
    if choice == "auto" and query.is_cuda:
        # on a GPU the math path's cuBLAS GEMMs beat our Numba flash kernel by far (B8 nh4
        # T512 hs64 fwd+bwd on an H100: 1.9 ms vs 23 ms); "fused" still runs the kernel, and
        # saves the L x S weights' memory for long sequences
        return False
    return not reasons


def _additive_mask(attn_mask, dtype) -> np.ndarray:
    """A bool mask (True = take part) as 0 / -inf, or a float mask as it is, in ``dtype``."""
    mask = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
    xp = get_array_module(mask)
    if mask.dtype == np.bool_:
        return xp.where(mask, 0.0, -np.inf).astype(dtype)
    return mask.astype(dtype, copy=False)


class FusedAttention(Function):
    """out = softmax(Q K^T * scale + mask) V, computed by the attention kernels in one pass.

    The forward keeps the output O and the row logsumexp lse = log sum_j exp(s_ij); the
    backward recomputes the weights P = exp(S - lse) from them, then
    dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = dS K scale,
    dK = dS^T Q scale  (flash-attention's backward). First-order only: for higher-order
    gradients use ``sdpa_backend("math")``.
    """

    kernel_family = "attention"  # which kernels it calls (see Config.kernel)

    once_differentiable = True

    def forward(self, q, k, v, mask, is_causal, scale):
        self.mask, self.is_causal, self.scale = mask, is_causal, scale
        attention_forward = backend.kernel("attention", "attention_forward", q)
        out, lse = attention_forward(q, k, v, mask, is_causal, scale)
        self.out, self.lse = out, lse  # (B, nh, L, hs), (B, nh, L)
        return out

    def backward(self, dout):
        q, k, v = self.inputs
        attention_backward = backend.kernel("attention", "attention_backward", dout.data)
        return attention_backward(dout.data, q.data, k.data, v.data, self.out, self.lse,
                                  self.mask, self.is_causal, self.scale)
