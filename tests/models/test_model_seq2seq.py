import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.models import Seq2Seq, Seq2SeqTransformer
from tinygrad_edu.models.seq2seq import (
    BOS,
    EOS,
    PAD,
    LuongAttention,
    decode_digits,
    encode_digits,
    evaluate_sequence_task,
    fit_sequence_task,
    make_sequence_task,
    sequence_accuracy,
)


def test_task_generator_is_seeded_and_correct():
    a = make_sequence_task("reverse", num_samples=50, min_len=2, max_len=6, seed=3)
    b = make_sequence_task("reverse", num_samples=50, min_len=2, max_len=6, seed=3)
    np.testing.assert_array_equal(a.src, b.src)
    assert a.src.dtype == np.int64 and a.src.shape == (50, 6) and a.tgt_in.shape == (50, 7)
    for src, tgt_in, tgt_out in zip(a.src, a.tgt_in, a.tgt_out, strict=True):
        digits = decode_digits(src)
        assert 2 <= len(digits) <= 6
        assert decode_digits(tgt_out) == digits[::-1]
        assert tgt_in[0] == BOS and decode_digits(tgt_in) == digits[::-1]
        assert tgt_out[len(digits)] == EOS and (tgt_out[len(digits) + 1:] == PAD).all()
    s = make_sequence_task("sort", num_samples=20, seed=0)
    for src, tgt_out in zip(s.src, s.tgt_out, strict=True):
        assert decode_digits(tgt_out) == "".join(sorted(decode_digits(src)))
    with pytest.raises(ValueError, match="'reverse' or 'sort'"):
        make_sequence_task("copy")


def test_encode_decode_and_sequence_accuracy():
    assert decode_digits(encode_digits("0371", max_len=6)) == "0371"
    target = np.array([[5, 4, EOS, PAD], [3, EOS, PAD, PAD]])
    right_then_junk = np.array([[5, 4, EOS, 9], [3, EOS, 7, 7]])  # after <eos> does not count
    assert sequence_accuracy(right_then_junk, target) == 1.0
    assert sequence_accuracy(np.array([[5, 4, 4, EOS], [3, EOS, 0, 0]]), target) == 0.5


def test_attention_ignores_source_pads():
    attn = LuongAttention(4, "dot")
    keys = tg.randn(2, 5, 4)
    mask = tg.tensor(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool))
    _, weights = attn(tg.randn(2, 3, 4), keys, mask)
    w = weights.numpy()
    assert np.allclose(w[0, :, 3:], 0.0) and np.allclose(w.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("attention", ["dot", "general"])
def test_seq2seq_shapes(attention):
    task = make_sequence_task("reverse", num_samples=4, max_len=5)
    model = Seq2Seq(hidden_size=16, embed_dim=8, attention=attention)
    assert model(tg.tensor(task.src), tg.tensor(task.tgt_in)).shape == (4, 6, 13)
    assert model.greedy_decode(tg.tensor(task.src), max_len=6).shape == (4, 6)
    assert model.greedy_decode(tg.tensor(task.src), max_len=0).shape == (4, 0)
    with pytest.raises(ValueError, match="max_len must be an integer >= 0"):
        model.greedy_decode(tg.tensor(task.src), max_len=-1)


def test_seq2seq_ignores_trailing_pads():
    tg.manual_seed(0)
    model = Seq2Seq(hidden_size=16, embed_dim=8, num_layers=2).eval()
    src = np.array([[4, 5, 6, 0], [7, 8, 0, 0]])
    more_pads = np.concatenate([src, np.zeros((2, 4), dtype=src.dtype)], axis=1)
    tgt_in = tg.tensor(np.array([[BOS, 6, 5], [BOS, 8, 7]]))
    with tg.no_grad():
        a = model(tg.tensor(src), tgt_in).numpy()
        b = model(tg.tensor(more_pads), tgt_in).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # the encoder skips pads


def test_seq2seq_learns_to_reverse():
    tg.manual_seed(0)
    task = make_sequence_task("reverse", num_samples=2000, min_len=2, max_len=4, seed=0)
    model = Seq2Seq(hidden_size=32, embed_dim=16)
    losses = fit_sequence_task(model, task, steps=120, batch_size=32, lr=1e-2)
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5])
    test = make_sequence_task("reverse", num_samples=200, min_len=2, max_len=4, seed=1)
    assert evaluate_sequence_task(model, test) > 0.5  # greedy decoding works end to end


def test_transformer_shapes_and_padding_invariance():
    tg.manual_seed(0)
    model = Seq2SeqTransformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=32).eval()
    src = np.array([[4, 5, 6, 0], [7, 8, 0, 0]])
    tgt_in = np.array([[BOS, 6, 5], [BOS, 8, 7]])
    with tg.no_grad():
        a = model(tg.tensor(src), tg.tensor(tgt_in)).numpy()
        more_pads = np.concatenate([src, np.zeros((2, 3), dtype=src.dtype)], axis=1)
        b = model(tg.tensor(more_pads), tg.tensor(tgt_in)).numpy()
    assert a.shape == (2, 3, 13)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # pads are masked out
    assert model.greedy_decode(tg.tensor(src), max_len=5).shape == (2, 5)


def test_transformer_decoder_is_causal():
    tg.manual_seed(0)
    model = Seq2SeqTransformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=32).eval()
    src = tg.tensor(np.array([[4, 5, 6]]))
    with tg.no_grad():
        a = model(src, tg.tensor(np.array([[BOS, 6, 5]]))).numpy()
        b = model(src, tg.tensor(np.array([[BOS, 6, 9]]))).numpy()  # change the last token
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 2], b[:, 2])


def test_transformer_learns():
    tg.manual_seed(0)
    task = make_sequence_task("reverse", num_samples=2000, min_len=2, max_len=4, seed=0)
    model = Seq2SeqTransformer(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=64)
    losses = fit_sequence_task(model, task, steps=60, batch_size=32, lr=3e-3)
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
