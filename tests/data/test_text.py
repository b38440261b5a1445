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
