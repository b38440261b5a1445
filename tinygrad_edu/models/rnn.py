"""Recurrent classifiers: an image read row by row (``SimpleRNNClassifier``) and a sentence read
token by token (``TextClassifier``).

Both follow the same recipe: run a recurrent layer over the sequence, summarize it in one vector
(the last hidden state, or a pooling of all outputs), and classify that vector with a Linear.

    SimpleRNNClassifier  (N, 1, 28, 28) -> rows as T=28 steps of I=28 features (B, T, I)
                         -> RNN / LSTM / GRU -> h_T (B, H) -> Linear -> (B, num_classes)
    TextClassifier       token ids (B, T) int64, 0 = <pad> -> Embedding (B, T, E)
                         -> LSTM / GRU (optionally bidirectional) -> pooled (B, D*H)
                         -> Dropout -> Linear -> (B, num_classes)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn
from ..backend import to_numpy
from ..functional import cat
from ..tensor import tensor
from ._checks import check_token_ids

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int,
                     dropout: float, bidirectional: bool, owner: str) -> nn.RNNBase:
    """nn.RNN / nn.LSTM / nn.GRU by name, batch first."""
    if cell not in _CELLS:
        raise ValueError(f"{owner}: cell must be one of {sorted(_CELLS)}, got {cell!r}")
    return _CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                        dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)


def _last_hidden(h_n, bidirectional: bool):
    """The top layer's final hidden state: (L * D, B, H) -> (B, D * H).

    For a bidirectional layer the two directions of the top layer are the last two rows of
    h_n (forward, then backward); their concatenation summarizes the sequence both ways."""
    if isinstance(h_n, tuple):  # LSTM returns (h_n, c_n): classify from h_n
        h_n = h_n[0]
    if bidirectional:
        return cat([h_n[-2], h_n[-1]], dim=-1)  # (B, 2H)
    return h_n[-1]  # (B, H)


# ----------------------------------------------------------------------------------------------
# MNIST rows as a sequence
# ----------------------------------------------------------------------------------------------


@dataclass
class RNNClassifierConfig:
    cell: str = "lstm"  # "rnn" (Elman, tanh), "lstm" or "gru"
    image_size: int = 28  # W: features per row are in_channels * image_size
    in_channels: int = 1
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    num_classes: int = 10


class SimpleRNNClassifier(nn.Module):
    """Read an image one row per time step and classify it from the last hidden state.

    A 28x28 MNIST digit becomes T=28 steps of I=28 pixels; after the last row, h_T has seen
    the whole image. Accepts (N, C, H, W) images (the CLI's format) or (N, T, I) sequences.

    >>> import tinygrad_edu as tg
    >>> model = SimpleRNNClassifier(cell="gru", hidden_size=16)
    >>> model(tg.randn(3, 1, 28, 28)).shape
    (3, 10)
    """

    def __init__(self, config: RNNClassifierConfig | None = None, **overrides):
        super().__init__()
        self.config = config or RNNClassifierConfig(**overrides)
        c = self.config
        self.input_size = c.in_channels * c.image_size
        self.rnn = _recurrent_layer(c.cell, self.input_size, c.hidden_size, c.num_layers, 0.0,
                                    c.bidirectional, "SimpleRNNClassifier")
        directions = 2 if c.bidirectional else 1
        self.fc = nn.Linear(directions * c.hidden_size, c.num_classes)

    def forward(self, x):
        c = self.config
        image = x.ndim == 4 and x.shape[1] == c.in_channels and x.shape[3] == c.image_size
        sequence = x.ndim == 3 and x.shape[-1] == self.input_size
        if not (image or sequence):
            raise ValueError(
                f"SimpleRNNClassifier: expected images (N, {c.in_channels}, H, "
                f"{c.image_size}) or sequences (B, T, {self.input_size}), got shape "
                f"{tuple(x.shape)}"
            )
        if image:
            N, C, H, W = x.shape
            x = x.permute(0, 2, 1, 3).reshape(N, H, C * W)  # (N, C, H, W) -> (B, T=H, I=C*W)
        _, h_n = self.rnn(x)  # h_n: (L * D, B, H) (a tuple (h_n, c_n) for an LSTM)
        return self.fc(_last_hidden(h_n, self.config.bidirectional))  # (B, num_classes)


# ----------------------------------------------------------------------------------------------
# Sentences as token ids
# ----------------------------------------------------------------------------------------------


@dataclass
class TextClassifierConfig:
    vocab_size: int = 20000
    embed_dim: int = 64
    hidden_size: int = 64
    cell: str = "lstm"  # "lstm" or "gru" (or "rnn")
    num_layers: int = 1
    bidirectional: bool = False
    pooling: str = "last"  # "last" real token's output, "mean" or "max" over real tokens
    dropout: float = 0.3  # on the embeddings, the pooled vector and between stacked layers
    num_classes: int = 2
    padding_idx: int = 0


class TextClassifier(nn.Module):
    """Embedding(padding_idx=0) -> LSTM or GRU -> pooled sequence vector -> Linear.

    Sequences arrive right-padded with id 0 (``Vocabulary.encode_batch``). There is no
    ``pack_padded_sequence`` here, so the padding is handled by reading the outputs at the right
    places instead of using h_n (which has also run over the pads):

    - ``pooling="last"``: the output at each sequence's last real token (forward direction);
      a bidirectional layer adds its backward direction's output at position 0, which has read
      the whole sentence from its end;
    - ``"mean"`` / ``"max"``: mean or max of the outputs over the real tokens only.

    A row of pads only counts its first position as a token (in all three poolings).

    A unidirectional model's prediction then does not depend on how many pads follow the text
    (the forward pass reaches the real tokens before any pad). The backward direction of a
    bidirectional model reads the pads first: their embedding is the zero vector, but the
    LSTM / GRU biases still nudge its state, so the number of pads matters a little there.

    >>> import numpy as np, tinygrad_edu as tg
    >>> model = TextClassifier(vocab_size=50, embed_dim=8, hidden_size=8, bidirectional=True)
    >>> ids = tg.tensor(np.array([[5, 9, 2, 0], [7, 0, 0, 0]]))   # (B, T), 0 = <pad>
    >>> model(ids).shape
    (2, 2)
    """

    def __init__(self, config: TextClassifierConfig | None = None, **overrides):
        super().__init__()
        self.config = config or TextClassifierConfig(**overrides)
        c = self.config
        if c.pooling not in ("last", "mean", "max"):
            raise ValueError(f"TextClassifier: pooling must be 'last', 'mean' or 'max', got "
                             f"{c.pooling!r}")
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=c.padding_idx)
        self.rnn = _recurrent_layer(c.cell, c.embed_dim, c.hidden_size, c.num_layers, c.dropout,
                                    c.bidirectional, "TextClassifier")
        self.dropout = nn.Dropout(c.dropout)
        directions = 2 if c.bidirectional else 1
        self.fc = nn.Linear(directions * c.hidden_size, c.num_classes)

    def forward(self, ids):
        c = self.config
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"TextClassifier: expected int64 token ids (B, T), got shape "
                             f"{tuple(ids.shape)} and dtype {ids.dtype}")
        check_token_ids("TextClassifier", ids, c.vocab_size)
        mask = to_numpy(ids.data) != c.padding_idx  # (B, T) True at real tokens
        mask[~mask.any(axis=1), 0] = True  # an all-pad row counts its first position as a token
        lengths = mask.sum(axis=1)  # (B,) >= 1
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        out, _ = self.rnn(x)  # (B, T, D * H)
        B, T, DH = out.shape
        if c.pooling == "last":
            last = out[np.arange(B), lengths - 1]  # (B, D * H) output at the last real token
            if c.bidirectional:
                H = DH // 2
                # forward half at the last real token, backward half at position 0
                pooled = cat([last[:, :H], out[:, 0, H:]], dim=-1)  # (B, 2H)
            else:
                pooled = last
        else:
            keep = tensor(mask[:, :, None].astype(out.dtype), device=out.device)  # (B, T, 1)
            if c.pooling == "mean":
                pooled = (out * keep).sum(dim=1) / keep.sum(dim=1)  # (B, D * H)
            else:
                pooled = (out + (keep - 1.0) * 1e9).amax(dim=1)  # pads pushed to -1e9
        return self.fc(self.dropout(pooled))  # (B, num_classes)
