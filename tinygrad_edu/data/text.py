"""Text to integer ids: a regex tokenizer and a ``Vocabulary`` with padding.

The pipeline for a sentiment model::

    texts, labels = load_rt_sentiment("train")
    vocab = Vocabulary.build(texts, min_freq=2, max_size=20000)
    ids, lengths = vocab.encode_batch(texts, max_len=64)   # (N, 64) int64, (N,) int64

Id 0 is ``<pad>`` (fills short sequences; an embedding can ignore it) and id 1 is ``<unk>``
(every word not in the vocabulary).

>>> tokenize("It's a GREAT film -- isn't it?")
["it's", 'a', 'great', 'film', '-', '-', "isn't", 'it', '?']
>>> vocab = Vocabulary.build(["a good film", "a bad film"])
>>> vocab.encode("a good movie")
[2, 5, 1]
>>> ids, lengths = vocab.encode_batch(["a good film", "bad"], max_len=4)
>>> ids.tolist(), lengths.tolist()
([[2, 5, 3, 0], [4, 0, 0, 0]], [3, 1])
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = ["tokenize", "Tokenizer", "Vocabulary", "pad_sequences", "PAD", "UNK"]

PAD = "<pad>"
UNK = "<unk>"

# A word is a run of letters/digits, optionally with one apostrophe inside ("isn't", "it's");
# every other non-space character (punctuation, symbols) is a token of its own.
_TOKEN_RE = re.compile(r"\w+(?:'\w+)?|[^\w\s]")
_WORD_RE = re.compile(r"\w+(?:'\w+)?")
_HTML_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


def tokenize(text: str, lowercase: bool = True, keep_punctuation: bool = True) -> list[str]:
    """Split ``text`` into word and punctuation tokens.

    Lowercases (optional), turns HTML line breaks (``<br />``, common in review corpora) into
    spaces, keeps contractions whole and makes each punctuation mark its own token (or drops
    punctuation with ``keep_punctuation=False``).

    >>> tokenize("Hello, World!", keep_punctuation=False)
    ['hello', 'world']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    text = _HTML_BREAK_RE.sub(" ", text)
    text = text.replace("\u2019", "'")  # typographic apostrophe -> ASCII
    if lowercase:
        text = text.lower()
    pattern = _TOKEN_RE if keep_punctuation else _WORD_RE
    return pattern.findall(text)


class Tokenizer:
    """``tokenize`` with its options fixed, as a callable object (handy to store and pass)."""

    def __init__(self, lowercase: bool = True, keep_punctuation: bool = True):
        self.lowercase = lowercase
        self.keep_punctuation = keep_punctuation

    def __call__(self, text: str) -> list[str]:
        return tokenize(text, self.lowercase, self.keep_punctuation)

    def __repr__(self) -> str:
        return f"Tokenizer(lowercase={self.lowercase}, keep_punctuation={self.keep_punctuation})"


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    max_len: int | None = None,
    pad_id: int = 0,
    truncate: str = "end",
) -> tuple[np.ndarray, np.ndarray]:
    """Pack variable-length id lists into one int64 array (B, L) plus their lengths (B,).

    Short sequences are padded on the right with ``pad_id``; longer ones are cut to ``max_len``
    (``truncate="end"`` keeps the beginning, ``"start"`` keeps the end). ``max_len=None`` uses
    the longest sequence. ``lengths[b]`` counts the real (non-pad) tokens kept.

    >>> ids, lengths = pad_sequences([[5, 6, 7], [8]], max_len=2)
    >>> ids.tolist(), lengths.tolist()
    ([[5, 6], [8, 0]], [2, 1])
    """
    if truncate not in ("end", "start"):
        raise ValueError(f"pad_sequences: truncate must be 'end' or 'start', got {truncate!r}")
    if max_len is None:
        max_len = max((len(s) for s in sequences), default=0)
    if max_len < 0:
        raise ValueError(f"pad_sequences: max_len must be >= 0, got {max_len}")
    ids = np.full((len(sequences), max_len), pad_id, dtype=np.int64)  # (B, L)
    lengths = np.zeros(len(sequences), dtype=np.int64)  # (B,)
    for b, sequence in enumerate(sequences):
        kept = (
            sequence[:max_len] if truncate == "end" else sequence[max(0, len(sequence) - max_len) :]
        )
        ids[b, : len(kept)] = kept
        lengths[b] = len(kept)
    return ids, lengths


class Vocabulary:
    """A two-way map token <-> id with ``<pad>`` = 0 and ``<unk>`` = 1.

    Build one from texts with ``Vocabulary.build``; or rebuild a saved one from its token list,
    ``Vocabulary(vocab.itos)``, since ``itos[i]`` is the token of id i.
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, tokens: Iterable[str], tokenizer: Callable[[str], list[str]] | None = None):
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            tokens = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if token in self.stoi:
                raise ValueError(
                    f"Vocabulary: token {token!r} appears twice (ids {self.stoi[token]} and {i})"
                )
            self.stoi[token] = i
        self.tokenizer = tokenizer if tokenizer is not None else tokenize
        self.counts: Counter[str] = Counter()  # token frequencies, filled by build()

    @classmethod
    def build(
        cls,
        texts: Iterable[str | Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> Vocabulary:
        """Count tokens over ``texts`` (strings, or already-split token lists) and keep those
        seen at least ``min_freq`` times, most frequent first (ties alphabetical, so the ids
        never depend on input order), at most ``max_size`` entries including the two specials.
        """
        if min_freq < 1:
            raise ValueError(f"Vocabulary.build: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 2:
            raise ValueError(
                f"Vocabulary.build: max_size must be >= 2 (room for {PAD} and {UNK}), got "
                f"{max_size}"
            )
        tokenizer = tokenizer if tokenizer is not None else tokenize
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenizer(text) if isinstance(text, str) else text)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        kept = [t for t, c in counts.items() if c >= min_freq]
        kept.sort(key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - 2]
        vocab = cls([PAD, UNK, *kept], tokenizer=tokenizer)
        vocab.counts = counts
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (``unk_id`` when unknown)."""
        return self.stoi.get(token, self.unk_id)

    def lookup_token(self, index: int) -> str:
        if not 0 <= index < len(self.itos):
            raise IndexError(f"Vocabulary: id {index} is out of range for {len(self)} tokens")
        return self.itos[index]

    def encode(self, text: str | Sequence[str]) -> list[int]:
        """Token ids of a text (tokenized first) or of a token list; unknown words -> 1."""
        tokens = self.tokenizer(text) if isinstance(text, str) else text
        return [self.stoi.get(token, self.unk_id) for token in tokens]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> str:
        """Tokens of ``ids`` joined by spaces (pads left out unless ``skip_pad=False``)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1).tolist()
        tokens = [self.lookup_token(i) for i in ids if not (skip_pad and i == self.pad_id)]
        return " ".join(tokens)

    def encode_batch(
        self,
        texts: Sequence[str | Sequence[str]],
        max_len: int | None = None,
        truncate: str = "end",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode many texts into ``(ids int64 (B, L), lengths int64 (B,))``, padded with 0 and
        cut to ``max_len`` (see ``pad_sequences``)."""
        return pad_sequences(
            [self.encode(t) for t in texts], max_len=max_len, pad_id=self.pad_id, truncate=truncate
        )

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[2:7])
        return f"Vocabulary({len(self)} tokens: {PAD}, {UNK}, {preview}, ...)"
