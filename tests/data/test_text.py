"""Tokenizer, Vocabulary and padding."""

import numpy as np
import pytest

from tinygrad_edu.data import datasets as D
from tinygrad_edu.data.text import PAD, UNK, Tokenizer, Vocabulary, pad_sequences, tokenize


def test_tokenize_words_punctuation_and_contractions():
    assert tokenize("It's a GREAT film -- isn't it?") == [
        "it's",
        "a",
        "great",
        "film",
        "-",
        "-",
        "isn't",
        "it",
        "?",
    ]
    assert tokenize("Wow!!", lowercase=False) == ["Wow", "!", "!"]
    assert tokenize("Hello, world.<br /><br />Bye", keep_punctuation=False) == [
        "hello",
        "world",
        "bye",
    ]
    assert tokenize("don\u2019t stop") == ["don't", "stop"]
    assert tokenize("   ") == []
    assert Tokenizer(keep_punctuation=False)("A, b.") == ["a", "b"]
    with pytest.raises(TypeError, match="expected a str, got list"):
        tokenize(["a"])


def test_vocabulary_specials_order_and_limits():
    texts = ["the cat sat", "the dog sat", "the end", "a cat"]
    vocab = Vocabulary.build(texts)
    assert vocab.itos[:2] == [PAD, UNK] and vocab[PAD] == 0 and vocab[UNK] == 1
    assert vocab.itos[2:5] == ["the", "cat", "sat"]  # 3, 2, 2 occurrences; ties alphabetical
    assert vocab["zebra"] == vocab.unk_id
    frequent = Vocabulary.build(texts, min_freq=2)
    assert frequent.itos == [PAD, UNK, "the", "cat", "sat"]
    small = Vocabulary.build(texts, max_size=3)
    assert len(small) == 3 and small.itos[2] == "the"
    with pytest.raises(ValueError, match="max_size must be >= 2"):
        Vocabulary.build(texts, max_size=1)


def test_encode_decode_round_trip():
    texts = ["A good film, really.", "A bad film!"]
    vocab = Vocabulary.build(texts)
    for text in texts:
        assert vocab.decode(vocab.encode(text)) == " ".join(tokenize(text))
    assert vocab.encode("a terrible film") == [vocab["a"], 1, vocab["film"]]
    rebuilt = Vocabulary(vocab.itos)
    assert rebuilt.encode(texts[0]) == vocab.encode(texts[0])
    assert vocab.decode([vocab["good"], 0, 0]) == "good"
    assert vocab.decode([vocab["good"], 0], skip_pad=False) == "good <pad>"
    with pytest.raises(IndexError, match="out of range"):
        vocab.decode([999])
    with pytest.raises(ValueError, match="appears twice"):
        Vocabulary([PAD, UNK, "x", "x"])


def test_encode_batch_pads_and_truncates():
    vocab = Vocabulary.build(["one two three four five"])
    ids, lengths = vocab.encode_batch(["one two three four five", "two", ""], max_len=3)
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    assert ids.shape == (3, 3)
    assert lengths.tolist() == [3, 1, 0]
    assert vocab.decode(ids[0]) == "one two three"
    assert ids[1].tolist() == [vocab["two"], 0, 0] and ids[2].tolist() == [0, 0, 0]
    tail, _ = vocab.encode_batch(["one two three four five"], max_len=2, truncate="start")
    assert vocab.decode(tail[0]) == "four five"
    longest, lengths = pad_sequences([[4, 5], [6, 7, 8]])
    assert longest.tolist() == [[4, 5, 0], [6, 7, 8]] and lengths.tolist() == [2, 3]


def test_vocabulary_on_rotten_tomatoes():
    try:
        train_texts, _ = D.load_rt_sentiment("train")
        test_texts, _ = D.load_rt_sentiment("test")
    except D.DatasetNotFoundError as error:
        pytest.skip(str(error).splitlines()[0])
    vocab = Vocabulary.build(train_texts, min_freq=2, max_size=20000)
    assert 5000 < len(vocab) <= 20000
    assert vocab.itos[2] in {"the", ",", "."}
    ids, lengths = vocab.encode_batch(test_texts, max_len=64)
    assert ids.shape == (len(test_texts), 64) and lengths.max() <= 64
    real = ids[ids != vocab.pad_id]
    assert (real == vocab.unk_id).mean() < 0.1  # most test words are known


# ---------------------------------------------------------------------------------------------
# Unicode: NFC normalization and combining marks stay inside words
# ---------------------------------------------------------------------------------------------


def test_combining_marks_stay_inside_words():
    hindi = "\u0939\u093f\u0928\u094d\u0926\u0940"  # हिन्दी: letters, vowel signs and a virama
    assert tokenize(hindi) == [hindi]
    language = "\u092d\u093e\u0937\u093e"  # भाषा
    assert tokenize(f"{hindi} {language}!") == [hindi, language, "!"]
    assert tokenize("\u0130stanbul") == ["i\u0307stanbul"]  # İ lowercases to i + combining dot
    assert tokenize("\u0130stanbul", lowercase=False) == ["\u0130stanbul"]
    assert tokenize("e\u20dd x") == ["e\u20dd", "x"]  # enclosing mark (Me)
    assert tokenize("l'e\u0301te\u0301") == ["l'\u00e9t\u00e9"]  # apostrophe + NFD accents


def test_nfd_and_nfc_text_give_the_same_tokens_and_ids():
    import unicodedata

    nfc = "Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    expected = ["caf\u00e9", "cr\u00e8me", ",", "na\u00efve", "r\u00e9sum\u00e9"]
    assert tokenize(nfd) == tokenize(nfc) == expected
    vocab = Vocabulary.build([nfc])
    assert vocab.encode(nfd) == vocab.encode(nfc)
    assert vocab.unk_id not in vocab.encode(nfd)


def test_ascii_tokenization_is_unchanged():
    # Every ASCII character alone, inside a word and next to an apostrophe, against the plain
    # ASCII rule: a word is [A-Za-z0-9_]+ with at most one inner apostrophe, else punctuation.
    import re

    ascii_words = re.compile(r"[A-Za-z0-9_]+(?:'[A-Za-z0-9_]+)?|[^A-Za-z0-9_\s]")
    for ch in map(chr, range(128)):
        for text in (ch, f"ab{ch}cd", f"it{ch}s x", f"{ch}'{ch}"):
            assert tokenize(text, lowercase=False) == ascii_words.findall(text), repr(text)


def test_vocabulary_to_dict_keeps_the_tokenizer_options():
    import json

    tokenizer = Tokenizer(lowercase=False, keep_punctuation=False)
    vocab = Vocabulary.build(["Good film!", "good movie"], tokenizer=tokenizer)
    state = json.loads(json.dumps(vocab.to_dict()))  # what a vocab.json holds
    assert state["tokenizer"] == {"lowercase": False, "keep_punctuation": False}
    rebuilt = Vocabulary.from_dict(state)
    assert rebuilt.itos == vocab.itos and rebuilt.tokenizer == tokenizer
    expected = [vocab["Good"], vocab["film"]]
    assert rebuilt.encode("Good film!") == vocab.encode("Good film!") == expected
    default = Vocabulary.from_dict(Vocabulary.build(["a b"]).to_dict())
    assert default.encode("A, b") == [2, 1, 3]  # lowercased, punctuation kept (unknown)
    # the CLI's vocab.json ({"itos", "max_len"}): default tokenizer, extra keys ignored
    legacy = Vocabulary.from_dict({"itos": vocab.itos, "max_len": 24})
    assert legacy.encode("Good") == [vocab["good"]]  # lowercased: the default tokenizer
    assert Vocabulary.from_dict(state, tokenizer=tokenize).encode("Good") == [vocab["good"]]
    assert vocab["Good"] != vocab["good"]


def test_vocabulary_from_dict_errors():
    custom = Vocabulary.build(["a-b c"], tokenizer=lambda text: text.split("-"))
    state = custom.to_dict()
    assert state["tokenizer"] is None
    with pytest.raises(ValueError, match="custom tokenizer function.*tokenizer="):
        Vocabulary.from_dict(state)
    rebuilt = Vocabulary.from_dict(state, tokenizer=lambda text: text.split("-"))
    assert rebuilt.encode("a-b c") == custom.encode("a-b c")
    with pytest.raises(ValueError, match="expected a dict with an 'itos' token list"):
        Vocabulary.from_dict([PAD, UNK, "a"])
    with pytest.raises(ValueError, match="'tokenizer' must be a dict of Tokenizer options"):
        Vocabulary.from_dict({"itos": [PAD, UNK], "tokenizer": {"upper": True}})


def test_pad_sequences_refuses_a_non_integer_max_len():
    with pytest.raises(ValueError, match="max_len must be an int >= 0 or None, got 2.5"):
        pad_sequences([[1, 2, 3]], max_len=2.5)
