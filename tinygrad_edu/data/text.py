"""Text to integer ids: a regex tokenizer and a ``Vocabulary`` with padding.

The pipeline for a sentiment model::

    texts, labels = load_rt_sentiment("train")
    vocab = Vocabulary.build(texts, min_freq=2, max_size=20000)
    ids, lengths = vocab.encode_batch(texts, max_len=64)   # (N, 64) int64, (N,) int64

Id 0 is ``<pad>`` (fills short sequences; an embedding can ignore it) and id 1 is ``<unk>``
(every word not in the vocabulary).

Text is put in Unicode NFC form before it is split, and combining marks stay inside their word:
``"cafe\\u0301"`` (e + a combining accent, NFD) and ``"caf\\u00e9"`` are the same token, and
a Devanagari word such as ``"\\u0939\\u093f\\u0928\\u094d\\u0926\\u0940"`` (Hindi) is one token.

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

import functools
import itertools
import numbers
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = ["tokenize", "Tokenizer", "Vocabulary", "pad_sequences", "PAD", "UNK"]

PAD = "<pad>"
UNK = "<unk>"

_HTML_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MARK_CATEGORIES = ("Mn", "Mc", "Me")  # nonspacing, spacing and enclosing combining marks


def _patterns(marks: str) -> tuple[re.Pattern, re.Pattern]:
    """(words and punctuation, words only) for words that may contain the ``marks`` (a regex
    character-class body)."""
    part = rf"\w[\w{marks}]*"  # a letter/digit, then letters, digits, marks
    word = rf"{part}(?:'{part})?"
    return re.compile(rf"{word}|[^\w\s]"), re.compile(word)


_ASCII_PATTERNS = _patterns("")  # ASCII text has no combining marks: the fast, common case


@functools.cache
def _unicode_patterns() -> tuple[re.Pattern, re.Pattern]:
    """The patterns for text beyond ASCII, compiled on first use.

    A word starts with a letter/digit (``\\w``) and goes on with letters, digits and combining
    marks, optionally with one apostrophe inside ("isn't", "it's"); every other non-space
    character (punctuation, symbols) is a token of its own. Python's ``re`` has no ``\\p{M}``,
    so the marks' ranges are collected from ``unicodedata`` once (about 0.2 s).
    """
    marks = [code for code in range(sys.maxunicode + 1)
             if unicodedata.category(chr(code)) in _MARK_CATEGORIES]
    ranges = []  # runs of consecutive code points as "first-last"
    for _, run in itertools.groupby(enumerate(marks), key=lambda pair: pair[1] - pair[0]):
        codes = [code for _, code in run]
        ranges.append(f"{re.escape(chr(codes[0]))}-{re.escape(chr(codes[-1]))}")
    return _patterns("".join(ranges))


def tokenize(text: str, lowercase: bool = True, keep_punctuation: bool = True) -> list[str]:
    """Split ``text`` into word and punctuation tokens.

    Lowercases (optional), turns HTML line breaks (``<br />``, common in review corpora) into
    spaces, brings the text to Unicode NFC form (so composed and decomposed accents give the
    same token), keeps contractions and words with combining marks whole, and makes each
    punctuation mark its own token (or drops punctuation with ``keep_punctuation=False``).

    >>> tokenize("Hello, World!", keep_punctuation=False)
    ['hello', 'world']
    >>> tokenize("cafe\\u0301") == tokenize("caf\\u00e9") == ["caf\\u00e9"]
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    text = _HTML_BREAK_RE.sub(" ", text)
    text = text.replace("\u2019", "'")  # typographic apostrophe -> ASCII
    if lowercase:
        text = text.lower()
    if text.isascii():  # no marks, and NFC changes nothing
        with_punctuation, words_only = _ASCII_PATTERNS
    else:  # NFC after lowercasing: lower() can produce decomposed text ("\u0130" -> "i\u0307")
        text = unicodedata.normalize("NFC", text)
        with_punctuation, words_only = _unicode_patterns()
    pattern = with_punctuation if keep_punctuation else words_only
    return pattern.findall(text)


class Tokenizer:
    """``tokenize`` with its options fixed, as a callable object (handy to store and pass)."""

    def __init__(self, lowercase: bool = True, keep_punctuation: bool = True):
        self.lowercase = lowercase
        self.keep_punctuation = keep_punctuation

    def __call__(self, text: str) -> list[str]:
        return tokenize(text, self.lowercase, self.keep_punctuation)

    def config(self) -> dict:
        """The options as a JSON-ready dict; ``Tokenizer(**config)`` rebuilds the tokenizer."""
        return {"lowercase": bool(self.lowercase), "keep_punctuation": bool(self.keep_punctuation)}

    def __eq__(self, other) -> bool:
        return isinstance(other, Tokenizer) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(self.config().items()))

    def __repr__(self) -> str:
        return f"Tokenizer(lowercase={self.lowercase}, keep_punctuation={self.keep_punctuation})"


def _tokenizer_config(tokenizer: Callable) -> dict | None:
    """The options of ``tokenize`` or a ``Tokenizer``; None for any other callable."""
    if tokenizer is tokenize:
        return Tokenizer().config()
    if isinstance(tokenizer, Tokenizer):
        return tokenizer.config()
    return None


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
    if not isinstance(max_len, numbers.Integral) or isinstance(max_len, bool) or max_len < 0:
        raise ValueError(f"pad_sequences: max_len must be an int >= 0 or None, got {max_len!r}")
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

    Build one from texts with ``Vocabulary.build``. To save one, store ``vocab.to_dict()`` (the
    token list ``itos``, where ``itos[i]`` is the token of id i, plus the tokenizer's options)
    as JSON and rebuild it with ``Vocabulary.from_dict``: the rebuilt vocabulary tokenizes as
    the original did. ``Vocabulary(vocab.itos)`` alone uses the default ``tokenize`` unless
    ``tokenizer=`` is given too.

    >>> vocab = Vocabulary.build(["Good film"], tokenizer=Tokenizer(lowercase=False))
    >>> Vocabulary.from_dict(vocab.to_dict()).encode("Good film")
    [2, 3]
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
        if isinstance(texts, str):
            raise TypeError(
                "Vocabulary.build: texts must be a list of strings (or of token lists), got one "
                f"str {texts[:30]!r}; wrap it in a list: Vocabulary.build([text])"
            )
        if isinstance(min_freq, bool) or not isinstance(min_freq, numbers.Integral):
            raise TypeError(f"Vocabulary.build: min_freq must be an int, got {min_freq!r}")
        if min_freq < 1:
            raise ValueError(f"Vocabulary.build: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and (isinstance(max_size, bool)
                                     or not isinstance(max_size, numbers.Integral)):
            raise TypeError(f"Vocabulary.build: max_size must be an int or None, got "
                            f"{max_size!r}")
        if max_size is not None and max_size < 2:
            raise ValueError(
                f"Vocabulary.build: max_size must be >= 2 (room for {PAD} and {UNK}), got "
                f"{max_size}"
            )
        tokenizer = tokenizer if tokenizer is not None else tokenize
        counts: Counter[str] = Counter()
        for position, text in enumerate(texts):
            if isinstance(text, str):
                tokens = tokenizer(text)
            else:  # already split: an iterable of str tokens
                is_tokens = isinstance(text, Iterable) and not isinstance(text, bytes)
                tokens = list(text) if is_tokens else None
                if tokens is None or not all(isinstance(t, str) for t in tokens):
                    raise TypeError(
                        f"Vocabulary.build: texts[{position}] must be a str or a list of str "
                        f"tokens, got {type(text).__name__} {text!r:.40}"
                    )
            counts.update(tokens)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        kept = [t for t, c in counts.items() if c >= min_freq]
        kept.sort(key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - 2]
        vocab = cls([PAD, UNK, *kept], tokenizer=tokenizer)
        vocab.counts = counts
        return vocab

    def to_dict(self) -> dict:
        """A JSON-ready description: ``{"itos": [...], "tokenizer": {...}}``.

        ``"tokenizer"`` holds the options of ``tokenize`` / ``Tokenizer``; it is None for a
        custom tokenizer function, which cannot be saved (pass it again to ``from_dict``).
        """
        return {"itos": list(self.itos), "tokenizer": _tokenizer_config(self.tokenizer)}

    @classmethod
    def from_dict(
        cls, state: dict, tokenizer: Callable[[str], list[str]] | None = None
    ) -> Vocabulary:
        """Rebuild a vocabulary saved with ``to_dict`` (extra keys, such as the CLI's
        ``max_len``, are ignored). ``tokenizer=`` overrides the saved options; it is required
        when the vocabulary was made with a custom tokenizer function. A dict without a
        ``"tokenizer"`` key (only ``"itos"``) gets the default ``tokenize``."""
        if not isinstance(state, dict) or "itos" not in state:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"Vocabulary.from_dict: expected a dict with an 'itos' token list (from "
                f"Vocabulary.to_dict()), got {got}"
            )
        if tokenizer is None and "tokenizer" in state:
            config = state["tokenizer"]
            if config is None:
                raise ValueError(
                    "Vocabulary.from_dict: this vocabulary was built with a custom tokenizer "
                    "function, which was not saved; pass it again with tokenizer="
                )
            if not isinstance(config, dict) or not set(config) <= {"lowercase", "keep_punctuation"}:
                raise ValueError(
                    f"Vocabulary.from_dict: 'tokenizer' must be a dict of Tokenizer options "
                    f"(lowercase, keep_punctuation), got {config!r}"
                )
            tokenizer = Tokenizer(**config)
        return cls(state["itos"], tokenizer=tokenizer)

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
        array = np.asarray(ids)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"Vocabulary.decode: ids must be integers, got dtype {array.dtype}")
        ids = array.astype(np.int64).reshape(-1).tolist()
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
        if isinstance(texts, str):
            raise TypeError(
                "Vocabulary.encode_batch: texts must be a list of strings, got one str "
                f"{texts[:30]!r}; use encode(text) for one text or encode_batch([text])"
            )
        return pad_sequences(
            [self.encode(t) for t in texts], max_len=max_len, pad_id=self.pad_id, truncate=truncate
        )

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[2:7])
        return f"Vocabulary({len(self)} tokens: {PAD}, {UNK}, {preview}, ...)"
