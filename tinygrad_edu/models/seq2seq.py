"""Sequence to sequence: an LSTM encoder-decoder with Luong attention, and the synthetic digit
tasks it (and ``transformer.Seq2SeqTransformer``) learns: reverse or sort a string of digits.

    encoder:   src ids (B, S) -> Embedding (B, S, E) -> LSTM over the real tokens
               -> outputs (B, S, H), final state (h, c) after the last real token
    decoder:   tgt_in ids (B, T) -> Embedding -> LSTM (starting from the encoder's state)
               -> h_t (B, T, H)
    attention: score(h_t, e_s) for every source position s (Luong et al. 2015):
                   "dot":     h_t . e_s              "general":  h_t W_a e_s
               a_t = softmax over s (pads masked out);  c_t = sum_s a_ts e_s      (B, T, H)
    output:    h~_t = tanh(W_c [c_t; h_t]);  logits = W_o h~_t                      (B, T, V)

Training uses **teacher forcing**: the decoder reads the true previous token (``tgt_in`` =
<bos> y_1 ... y_n) and predicts the next one (``tgt_out`` = y_1 ... y_n <eos>), so all T steps
run in one LSTM call. At test time there is no true previous token: **greedy decoding** feeds
back its own argmax, one step at a time, until <eos>.

Token ids of the synthetic tasks: 0 = <pad>, 1 = <bos>, 2 = <eos>, digit d = d + 3.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..backend import to_numpy
from ..functional import cat, stack
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_, evaluating
from ..tensor import Tensor, full, tensor, zeros
from ._checks import check_token_ids

PAD, BOS, EOS = 0, 1, 2
DIGIT_OFFSET = 3  # digit d has id d + 3
TASK_VOCAB_SIZE = 13  # <pad>, <bos>, <eos>, 0..9

# ----------------------------------------------------------------------------------------------
# The synthetic task
# ----------------------------------------------------------------------------------------------


@dataclass
class SequenceTask:
    """Padded int64 arrays of one split of a synthetic task.

    src (N, S): the input digits then pads; tgt_in (N, S + 1): <bos> and the answer;
    tgt_out (N, S + 1): the answer and <eos> (the training target, pads ignored)."""

    name: str
    src: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray

    def __len__(self) -> int:
        return len(self.src)


def make_sequence_task(task: str = "reverse", num_samples: int = 10000, min_len: int = 3,
                       max_len: int = 8, seed: int = 0) -> SequenceTask:
    """Random digit strings of length min_len..max_len and their reversal (``"reverse"``) or
    sorted order (``"sort"``), seeded with numpy's ``default_rng(seed)``.

    >>> t = make_sequence_task("reverse", num_samples=2, min_len=3, max_len=4, seed=1)
    >>> t.src.shape, t.tgt_in.shape, t.tgt_out.shape
    ((2, 4), (2, 5), (2, 5))
    >>> decode_digits(t.src[1]), decode_digits(t.tgt_out[1])
    ('1892', '2981')
    """
    if task not in ("reverse", "sort"):
        raise ValueError(f"make_sequence_task: task must be 'reverse' or 'sort', got {task!r}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"make_sequence_task: need 1 <= min_len <= max_len, got min_len="
                         f"{min_len}, max_len={max_len}")
    rng = np.random.default_rng(seed)
    src = np.full((num_samples, max_len), PAD, dtype=np.int64)
    tgt_in = np.full((num_samples, max_len + 1), PAD, dtype=np.int64)
    tgt_out = np.full((num_samples, max_len + 1), PAD, dtype=np.int64)
    lengths = rng.integers(min_len, max_len + 1, size=num_samples)
    for n, length in enumerate(lengths):
        digits = rng.integers(0, 10, size=length)
        answer = digits[::-1] if task == "reverse" else np.sort(digits)
        src[n, :length] = digits + DIGIT_OFFSET
        tgt_in[n, 0] = BOS
        tgt_in[n, 1:length + 1] = answer + DIGIT_OFFSET
        tgt_out[n, :length] = answer + DIGIT_OFFSET
        tgt_out[n, length] = EOS
    return SequenceTask(task, src, tgt_in, tgt_out)


def encode_digits(text: str, max_len: int | None = None) -> np.ndarray:
    """"0371" -> int64 ids (1, max_len), padded with <pad>."""
    if not text.isdigit():
        raise ValueError(f"encode_digits: expected a string of digits, got {text!r}")
    ids = np.full((1, max_len or len(text)), PAD, dtype=np.int64)
    ids[0, :len(text)] = [int(ch) + DIGIT_OFFSET for ch in text]
    return ids


def decode_digits(ids) -> str:
    """Ids -> the digit string, stopping at the first <eos> and skipping <pad> / <bos>."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i == EOS:
            break
        if i >= DIGIT_OFFSET:
            out.append(str(i - DIGIT_OFFSET))
    return "".join(out)


def sequence_accuracy(predicted: np.ndarray, tgt_out: np.ndarray) -> float:
    """Share of rows whose prediction equals the target up to and including <eos> (the whole
    answer right, not just most tokens)."""
    predicted = np.asarray(predicted)
    correct = 0
    for pred, target in zip(predicted, np.asarray(tgt_out), strict=True):
        n = int(np.argmax(target == EOS)) + 1  # answer length + <eos>
        correct += int(len(pred) >= n and np.array_equal(pred[:n], target[:n]))
    return correct / len(predicted)


# ----------------------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------------------


class Encoder(nn.Module):
    """Embedding -> LSTM that reads only the real tokens of each padded source.

    The loop over time is written out with ``nn.LSTMCell``s so that a pad position can leave
    the state unchanged: h_t = m_t h'_t + (1 - m_t) h_{t-1} (the same for c) with m_t = 1 at a
    real token and 0 at a pad. The final state is then the state after each sequence's last
    real token, however many pads follow: what torch's ``pack_padded_sequence`` gives an
    ``nn.LSTM``. (A plain ``nn.LSTM`` run over the pads would hand the decoder a state that
    depends on the amount of padding, and a string padded differently than in training would
    come out wrong.)
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.cells = nn.ModuleList([nn.LSTMCell(embed_dim if layer == 0 else hidden_size,
                                                hidden_size) for layer in range(num_layers)])
        self.hidden_size = hidden_size

    def forward(self, src, src_mask):
        """src (B, S) ids, src_mask (B, S) bool -> outputs (B, S, H), (h_n, c_n) (L, B, H)."""
        B, S = src.shape
        x = self.embedding(src)  # (B, S, E)
        keep = src_mask.to(x.dtype).unsqueeze(-1)  # (B, S, 1): 1 = real token, 0 = pad
        h_n, c_n = [], []
        for cell in self.cells:
            h = zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)  # (B, H)
            c = zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)  # (B, H)
            outputs = []
            for t in range(S):
                h_new, c_new = cell(x[:, t], (h, c))  # (B, H) each
                m = keep[:, t]  # (B, 1)
                h = m * h_new + (1 - m) * h  # pads keep the previous state
                c = m * c_new + (1 - m) * c
                outputs.append(h)
            x = stack(outputs, dim=1)  # (B, S, H): the next layer's input
            h_n.append(h)
            c_n.append(c)
        return x, (stack(h_n, dim=0), stack(c_n, dim=0))  # (B, S, H), ((L, B, H), (L, B, H))


class LuongAttention(nn.Module):
    """Global attention of Luong, Pham & Manning (2015):

        score(h_t, e_s) = h_t . e_s  ("dot")   or   h_t W_a e_s  ("general")
        a_t = softmax_s(score)   (source pads get -inf: weight 0);   c_t = sum_s a_ts e_s

    >>> import tinygrad_edu as tg
    >>> attn = LuongAttention(8, "general")
    >>> context, weights = attn(tg.randn(2, 3, 8), tg.randn(2, 5, 8))
    >>> context.shape, weights.shape
    ((2, 3, 8), (2, 3, 5))
    """

    def __init__(self, hidden_size: int, score: str = "dot"):
        super().__init__()
        if score not in ("dot", "general"):
            raise ValueError(f"LuongAttention: score must be 'dot' or 'general', got {score!r}")
        self.score = score
        self.W_a = nn.Linear(hidden_size, hidden_size, bias=False) if score == "general" else None

    def forward(self, query, keys, src_mask=None):
        """query (B, T, H), keys (B, S, H), src_mask (B, S) bool True at real tokens."""
        if self.W_a is not None:
            keys_proj = self.W_a(keys)  # (B, S, H)
        else:
            keys_proj = keys
        scores = query @ keys_proj.transpose(1, 2)  # (B, T, H) @ (B, H, S) -> (B, T, S)
        if src_mask is not None:
            scores = scores.masked_fill(~src_mask.unsqueeze(1), -math.inf)  # (B, 1, S) mask
        weights = scores.softmax(dim=-1)  # (B, T, S)
        context = weights @ keys  # (B, T, S) @ (B, S, H) -> (B, T, H)
        return context, weights


class Decoder(nn.Module):
    """Embedding -> LSTM -> Luong attention -> tanh(W_c [c; h]) -> logits."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int,
                 dropout: float, score: str):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.attention = LuongAttention(hidden_size, score)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)  # W_c
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)  # W_o

    def forward(self, tgt_in, state, encoder_outputs, src_mask):
        """tgt_in (B, T) -> logits (B, T, V) and the new LSTM state."""
        h, state = self.lstm(self.dropout(self.embedding(tgt_in)), state)  # (B, T, H)
        context, _ = self.attention(h, encoder_outputs, src_mask)  # (B, T, H)
        h_tilde = self.combine(cat([context, h], dim=-1)).tanh()  # (B, T, 2H) -> (B, T, H)
        return self.out(self.dropout(h_tilde)), state  # (B, T, V)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


@dataclass
class Seq2SeqConfig:
    vocab_size: int = TASK_VOCAB_SIZE  # shared by source and target here (digits)
    embed_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    attention: str = "dot"  # Luong score: "dot" or "general"
    dropout: float = 0.0


class Seq2Seq(nn.Module):
    """LSTM encoder-decoder with Luong attention.

    ``model(src, tgt_in)`` -> logits (B, T, V) with teacher forcing;
    ``model.greedy_decode(src, max_len)`` -> predicted ids (B, max_len) as a numpy array.

    >>> import tinygrad_edu as tg
    >>> task = make_sequence_task("reverse", num_samples=4, max_len=5)
    >>> model = Seq2Seq(hidden_size=16)
    >>> model(tg.tensor(task.src), tg.tensor(task.tgt_in)).shape      # (B, T, V)
    (4, 6, 13)
    >>> model.greedy_decode(tg.tensor(task.src), max_len=6).shape
    (4, 6)
    """

    def __init__(self, config: Seq2SeqConfig | None = None, **overrides):
        super().__init__()
        self.config = config or Seq2SeqConfig(**overrides)
        c = self.config
        self.encoder = Encoder(c.vocab_size, c.embed_dim, c.hidden_size, c.num_layers)
        self.decoder = Decoder(c.vocab_size, c.embed_dim, c.hidden_size, c.num_layers, c.dropout,
                               c.attention)

    def forward(self, src, tgt_in):
        """Teacher forcing: src (B, S), tgt_in (B, T) -> logits (B, T, V)."""
        check_token_ids("Seq2Seq", src, self.config.vocab_size, "source ids")
        check_token_ids("Seq2Seq", tgt_in, self.config.vocab_size, "target ids")
        src_mask = src != PAD  # (B, S) True at real tokens
        encoder_outputs, state = self.encoder(src, src_mask)  # (B, S, H)
        logits, _ = self.decoder(tgt_in, state, encoder_outputs, src_mask)
        return logits

    def greedy_decode(self, src, max_len: int) -> np.ndarray:
        """Feed back the argmax token, one step at a time (eval mode, no graph)."""
        _check_max_len("Seq2Seq.greedy_decode", max_len)
        check_token_ids("Seq2Seq.greedy_decode", src, self.config.vocab_size, "source ids")
        if max_len == 0:
            return np.zeros((src.shape[0], 0), dtype=np.int64)  # (B, 0)
        steps = []
        with evaluating(self):
            src_mask = src != PAD  # (B, S)
            encoder_outputs, state = self.encoder(src, src_mask)  # (B, S, H)
            token = full((src.shape[0], 1), BOS, dtype=np.int64, device=src.device)  # (B, 1)
            for _ in range(max_len):
                logits, state = self.decoder(token, state, encoder_outputs, src_mask)  # (B, 1, V)
                token = logits.argmax(dim=-1)  # (B, 1)
                steps.append(to_numpy(token.data))
        return np.concatenate(steps, axis=1)  # (B, max_len)


def _check_max_len(op: str, max_len: int) -> None:
    """A number of decoding steps: an integer >= 0."""
    if not isinstance(max_len, numbers.Integral) or isinstance(max_len, bool) or max_len < 0:
        raise ValueError(f"{op}: max_len must be an integer >= 0, got {max_len!r}")

# ----------------------------------------------------------------------------------------------
# Training and evaluation (shared with transformer.Seq2SeqTransformer)
# ----------------------------------------------------------------------------------------------


def sequence_loss(logits, tgt_out) -> Tensor:
    """Token-level cross entropy, pads ignored: (B, T, V) logits vs (B, T) targets."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), tgt_out.reshape(B * T), ignore_index=PAD)


def fit_sequence_task(model, task: SequenceTask, steps: int = 1000, batch_size: int = 64,
                      lr: float = 3e-3, clip: float = 1.0, seed: int = 0,
                      device: str = "cpu", log_every: int = 0) -> list[float]:
    """Train ``model(src, tgt_in) -> logits`` with Adam on random mini-batches of ``task``
    (teacher forcing); return the loss of every step."""
    rng = np.random.default_rng(seed)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        idx = rng.integers(0, len(task), size=batch_size)
        src = tensor(task.src[idx], device=device)  # (B, S)
        tgt_in = tensor(task.tgt_in[idx], device=device)  # (B, T)
        tgt_out = tensor(task.tgt_out[idx], device=device)  # (B, T)
        loss = sequence_loss(model(src, tgt_in), tgt_out)
        optimizer.zero_grad()
        loss.backward()
        if clip:
            clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(float(loss.item()))
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}  loss {np.mean(losses[-log_every:]):.4f}", flush=True)
    return losses


def evaluate_sequence_task(model, task: SequenceTask, batch_size: int = 500,
                           device: str = "cpu") -> float:
    """Sequence accuracy of ``model.greedy_decode`` on all of ``task``."""
    predictions = []
    max_len = task.tgt_out.shape[1]
    for start in range(0, len(task), batch_size):
        src = tensor(task.src[start:start + batch_size], device=device)
        predictions.append(model.greedy_decode(src, max_len))
    return sequence_accuracy(np.concatenate(predictions), task.tgt_out)


def run_sequence_example(model, label: str, task: str = "reverse", steps: int = 1500,
                         max_len: int = 10, lr: float = 3e-3, seed: int = 0,
                         samples=("31415", "2718281828", "9876")) -> dict:
    """What ``examples/seq2seq_reverse.py`` and ``examples/transformer_reverse.py`` share:
    train ``model`` on 20000 strings of length 3..max_len, report the greedy-decoding sequence
    accuracy on 1000 fresh ones and decode a few ``samples``; ``label`` names the model."""
    train = make_sequence_task(task, 20000, 3, max_len, seed=seed)
    test = make_sequence_task(task, 1000, 3, max_len, seed=seed + 1)
    start = time.perf_counter()
    fit_sequence_task(model, train, steps=steps, lr=lr, seed=seed, log_every=250)
    seconds = time.perf_counter() - start
    accuracy = evaluate_sequence_task(model, test)
    for text in samples:
        prediction = model.greedy_decode(tensor(encode_digits(text)), len(text) + 1)
        print(f"  {text} -> {decode_digits(prediction)}")
    print(f"{label} {task}: sequence accuracy {accuracy:.4f} on {len(test)} test strings, "
          f"{seconds:.0f} s training")
    return {"sequence_accuracy": accuracy, "seconds": seconds}
