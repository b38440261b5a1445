"""A small encoder-decoder Transformer (Vaswani et al. 2017) for the synthetic digit tasks of
``seq2seq.py``, built like the PyTorch "Language translation with nn.Transformer" tutorial:

    src ids (B, S) -> Embedding * sqrt(d_model) -> + PositionalEncoding -> encoder -> memory
    tgt_in ids (B, T) -> Embedding * sqrt(d_model) -> + PositionalEncoding
                      -> decoder(tgt, memory; causal mask, padding masks) -> (B, T, d_model)
                      -> generator Linear -> logits (B, T, V)

Masks (``nn.Transformer``'s convention: True / -inf = NOT allowed):

- ``tgt_mask`` (T, T): the causal mask, so position t only sees <bos> y_1 .. y_{t-1};
- ``src_key_padding_mask`` / ``memory_key_padding_mask`` (B, S): source pads;
- ``tgt_key_padding_mask`` (B, T): target pads.

Unlike the LSTM, nothing here is sequential during training: all T target positions are
predicted at once (teacher forcing through the causal mask). Greedy decoding is still a loop:
re-run the decoder on the tokens produced so far and append the argmax of the last position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..backend import to_numpy
from ..functional import cat
from ..nn.utils import evaluating
from ..tensor import full
from ._checks import check_token_ids
from .seq2seq import BOS, PAD, TASK_VOCAB_SIZE, _check_max_len

# ----------------------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------------------


class TokenEmbedding(nn.Module):
    """Embedding multiplied by sqrt(d_model) (the paper, sec. 3.4).

    The table is drawn from N(0, 1/d_model), so the scaled vectors have entries of std 1, the
    same size as the positional encoding's sin/cos values that get added to them. (With torch's
    default N(0, 1) init the scale makes tokens 8x larger than positions at d_model = 64.)"""

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        with no_grad():
            self.embedding.weight.data[PAD] = 0  # the pad row stays zero
        self.scale = math.sqrt(d_model)

    def forward(self, ids):
        return self.embedding(ids) * self.scale  # (B, T) -> (B, T, d_model)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


@dataclass
class TransformerConfig:
    src_vocab_size: int = TASK_VOCAB_SIZE
    tgt_vocab_size: int = TASK_VOCAB_SIZE
    d_model: int = 64
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dim_feedforward: int = 128
    dropout: float = 0.0  # the synthetic tasks have endless fresh data: nothing to overfit
    max_len: int = 128  # longest sequence the positional encoding covers


class Seq2SeqTransformer(nn.Module):
    """Embeddings + ``nn.Transformer`` (batch first) + a generator head.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu.models.seq2seq import make_sequence_task
    >>> task = make_sequence_task("reverse", num_samples=4, max_len=5)
    >>> model = Seq2SeqTransformer(d_model=16, nhead=2, dim_feedforward=32)
    >>> model(tg.tensor(task.src), tg.tensor(task.tgt_in)).shape      # (B, T, V)
    (4, 6, 13)
    >>> model.greedy_decode(tg.tensor(task.src), max_len=6).shape
    (4, 6)
    """

    def __init__(self, config: TransformerConfig | None = None, **overrides):
        super().__init__()
        self.config = config or TransformerConfig(**overrides)
        c = self.config
        self.src_tok_emb = TokenEmbedding(c.src_vocab_size, c.d_model)
        self.tgt_tok_emb = TokenEmbedding(c.tgt_vocab_size, c.d_model)
        self.positional_encoding = nn.PositionalEncoding(c.d_model, dropout=c.dropout,
                                                         max_len=c.max_len, batch_first=True)
        self.transformer = nn.Transformer(
            d_model=c.d_model, nhead=c.nhead, num_encoder_layers=c.num_encoder_layers,
            num_decoder_layers=c.num_decoder_layers, dim_feedforward=c.dim_feedforward,
            dropout=c.dropout, batch_first=True,
        )
        self.generator = nn.Linear(c.d_model, c.tgt_vocab_size)

    def encode(self, src):
        """src (B, S) -> memory (B, S, d_model)."""
        x = self.positional_encoding(self.src_tok_emb(src))  # (B, S, d_model)
        return self.transformer.encoder(x, src_key_padding_mask=src == PAD)

    def decode(self, tgt_in, memory, src_padding_mask):
        """tgt_in (B, T), memory (B, S, d_model) -> logits (B, T, V)."""
        T = tgt_in.shape[1]
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, device=tgt_in.device)
        y = self.positional_encoding(self.tgt_tok_emb(tgt_in))  # (B, T, d_model)
        y = self.transformer.decoder(y, memory, tgt_mask=tgt_mask,
                                     tgt_key_padding_mask=tgt_in == PAD,
                                     memory_key_padding_mask=src_padding_mask)  # (B, T, d_model)
        return self.generator(y)  # (B, T, V)

    def forward(self, src, tgt_in):
        """Teacher forcing: src (B, S), tgt_in (B, T) -> logits (B, T, V)."""
        c = self.config
        check_token_ids("Seq2SeqTransformer", src, c.src_vocab_size, "source ids")
        check_token_ids("Seq2SeqTransformer", tgt_in, c.tgt_vocab_size, "target ids")
        return self.decode(tgt_in, self.encode(src), src == PAD)

    def greedy_decode(self, src, max_len: int) -> np.ndarray:
        """Encode once; then append the argmax of the last position max_len times (no graph).
        Returns the predicted ids (B, max_len) without the leading <bos>."""
        _check_max_len("Seq2SeqTransformer.greedy_decode", max_len)
        check_token_ids("Seq2SeqTransformer.greedy_decode", src, self.config.src_vocab_size,
                        "source ids")
        with evaluating(self):
            memory = self.encode(src)  # (B, S, d_model)
            src_padding_mask = src == PAD  # (B, S)
            ys = full((src.shape[0], 1), BOS, dtype=np.int64, device=src.device)  # (B, 1)
            for _ in range(max_len):
                logits = self.decode(ys, memory, src_padding_mask)  # (B, t, V)
                next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
                ys = cat([ys, next_token], dim=1)  # (B, t + 1)
        return to_numpy(ys.data)[:, 1:]  # (B, max_len)
