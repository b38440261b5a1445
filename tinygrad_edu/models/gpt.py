"""A tiny GPT: a decoder-only Transformer language model, written like nanoGPT (Karpathy).

    idx (B, T) token ids
      -> wte(idx) + wpe(0..T-1)                     token + learned position embeddings (B, T, C)
      -> n_layer x Block:  x = x + attn(ln_1(x))     causal self-attention, pre-norm
                           x = x + mlp(ln_2(x))      Linear(C, 4C) -> GELU -> Linear(4C, C)
      -> ln_f -> lm_head                             logits over the vocabulary (B, T, V)

Position t may only attend to positions 0..t (``is_causal=True``), so one forward pass trains
T next-token predictions at once: logits[:, t] predicts idx[:, t + 1]. ``generate`` then samples
one token at a time and appends it (autoregressive decoding).

``CharTokenizer`` and ``get_batch`` give the character-level pipeline of nanoGPT's
shakespeare_char: the corpus is one long id array, a batch is B random windows of T + 1
characters, x = window[:-1], y = window[1:].
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..backend import to_numpy
from ..functional import cat, scaled_dot_product_attention
from ..nn import functional as F
from ..nn.utils import evaluating
from ..tensor import arange, generator, tensor
from ._checks import check_token_ids

# ----------------------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees only itself and the past.

    q, k, v come out of one Linear(C, 3C); heads are a reshape: C = nh * hs."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool):
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd ({n_embd}) must be divisible by "
                             f"n_head ({n_head}): each head gets n_embd // n_head features")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # q, k, v projections at once
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)  # output projection
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head = n_head
        self.n_embd = n_embd
        self.dropout = dropout

    def forward(self, x):
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q = q.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        y = scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                         is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh, hs) -> (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Linear(C, 4C) -> GELU -> Linear(4C, C) -> Dropout, applied to each position alone."""

    def __init__(self, n_embd: int, dropout: float, bias: bool):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C) -> 4C -> C


class Block(nn.Module):
    """Pre-norm Transformer block: communication (attention) then computation (MLP), each
    inside a residual connection."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    block_size: int = 64  # longest context (positions) the model can see
    vocab_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm
    tie_weights: bool = True  # lm_head.weight is wte.weight (one (V, C) matrix, two uses)


class GPT(nn.Module):
    """Decoder-only Transformer language model; ``model(idx)`` -> logits (B, T, vocab_size).

    >>> import tinygrad_edu as tg
    >>> model = GPT(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16)
    >>> model(tg.tensor([[1, 2, 3]])).shape
    (1, 3, 20)
    >>> model.generate(tg.tensor([[1, 2, 3]]), max_new_tokens=5, top_k=5).shape
    (1, 8)
    """

    def __init__(self, config: GPTConfig | None = None, **overrides):
        super().__init__()
        self.config = config or GPTConfig(**overrides)
        c = self.config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)  # token embeddings
        self.wpe = nn.Embedding(c.block_size, c.n_embd)  # learned position embeddings
        self.drop = nn.Dropout(c.dropout)
        self.h = nn.ModuleList([Block(c.n_embd, c.n_head, c.dropout, c.bias)
                                for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self._init_weights()
        if c.tie_weights:
            # the same Parameter in two places: parameters() lists it once, and its gradient
            # is the sum of both uses (embedding lookup and output projection)
            self.lm_head.weight = self.wte.weight

    def _init_weights(self) -> None:
        """GPT-2's init: N(0, 0.02) weights, zero biases, and the projections that write into
        the residual stream (c_proj) scaled by 1/sqrt(2 n_layer), so the residual sum does not
        grow with depth."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    def forward(self, idx):
        if idx.ndim != 2:
            raise ValueError(f"GPT: expected token ids (B, T), got shape {tuple(idx.shape)} "
                             "(a single sequence: idx[None])")
        check_token_ids("GPT", idx, self.config.vocab_size)
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"GPT: cannot forward a sequence of length {T}, the block size is "
                             f"only {self.config.block_size}; crop the context to the last "
                             f"{self.config.block_size} tokens")
        pos = arange(T, device=idx.device)  # (T,) int64
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None):
        """Append ``max_new_tokens`` sampled tokens to idx (B, T); returns (B, T + new).

        Each step: crop the context to ``block_size``, take the last position's logits,
        divide by ``temperature`` (< 1 sharper, > 1 flatter), keep the ``top_k`` largest
        (others -inf), softmax, sample (with ``tg.manual_seed``'s generator)."""
        if not temperature > 0:  # also NaN
            raise ValueError(f"GPT.generate: temperature must be > 0, got {temperature} "
                             "(for greedy decoding use top_k=1)")
        if top_k is not None and top_k < 1:
            raise ValueError(f"GPT.generate: top_k must be >= 1 or None, got {top_k}")
        if not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an integer >= 0, got "
                             f"{max_new_tokens!r}")
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"GPT.generate: expected a prompt of token ids (B, T) with T >= 1, "
                             f"got shape {tuple(idx.shape)} (a single prompt: idx[None])")
        rng = generator()
        with evaluating(self):
            for _ in range(max_new_tokens):
                context = idx[:, -self.config.block_size:]  # (B, <= block_size)
                logits = to_numpy(self(context)[:, -1].data).astype(np.float64)  # (B, V)
                logits = logits / temperature
                if top_k is not None:
                    k = min(top_k, logits.shape[-1])
                    kth = np.sort(logits, axis=-1)[:, [-k]]  # (B, 1) the k-th largest logit
                    logits = np.where(logits < kth, -np.inf, logits)  # others can't be drawn
                probs = np.exp(logits - logits.max(axis=-1, keepdims=True))  # softmax (B, V)
                probs /= probs.sum(axis=-1, keepdims=True)
                next_ids = np.array([[rng.choice(len(p), p=p)] for p in probs])  # (B, 1)
                idx = cat([idx, tensor(next_ids, device=idx.device)], dim=1)  # (B, T + 1)
        return idx


# ----------------------------------------------------------------------------------------------
# Character-level data
# ----------------------------------------------------------------------------------------------


class CharTokenizer:
    """Characters <-> ids, the vocabulary being the sorted set of characters of a text.

    >>> tok = CharTokenizer("hello")
    >>> tok.encode("hell"), tok.decode([3, 0]), tok.vocab_size
    ([1, 0, 2, 2], 'oe', 4)
    """

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        missing = sorted(set(text) - set(self.stoi))
        if missing:
            raise ValueError(f"CharTokenizer: characters {missing[:10]} are not in the "
                             f"vocabulary of {self.vocab_size} characters")
        return [self.stoi[ch] for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in np.asarray(ids).reshape(-1).tolist())


def get_batch(data: np.ndarray, block_size: int, batch_size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """B random windows of a 1-d id array: x = data[i : i + T], y = data[i + 1 : i + T + 1],
    both (B, T) int64 (y is x shifted left by one: the next-token targets)."""
    if len(data) <= block_size:
        raise ValueError(f"get_batch: the data has {len(data)} tokens, need more than "
                         f"block_size={block_size}")
    starts = rng.integers(0, len(data) - block_size, size=batch_size)  # (B,)
    offsets = np.arange(block_size)  # (T,)
    x = data[starts[:, None] + offsets]  # (B, T)
    y = data[starts[:, None] + offsets + 1]  # (B, T)
    return x.astype(np.int64), y.astype(np.int64)


def lm_loss(logits, targets):
    """Next-token cross entropy: logits (B, T, V) vs targets (B, T)."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
