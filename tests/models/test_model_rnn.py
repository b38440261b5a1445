import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models import SimpleRNNClassifier, TextClassifier


def _train(model, x, y, steps, lr, batch_size=32):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        idx = np.arange(step * batch_size, (step + 1) * batch_size) % len(x)
        loss = nn.functional.cross_entropy(model(tg.tensor(x[idx])), tg.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_classifier_shapes(cell, bidirectional):
    model = SimpleRNNClassifier(cell=cell, hidden_size=8, bidirectional=bidirectional)
    assert model(tg.randn(3, 1, 28, 28)).shape == (3, 10)  # images (N, C, H, W)
    assert model(tg.randn(3, 28, 28)).shape == (3, 10)  # sequences (B, T, I)


def test_rnn_classifier_rejects_wrong_width():
    with pytest.raises(ValueError, match="expected images"):
        SimpleRNNClassifier(hidden_size=8)(tg.randn(2, 1, 28, 20))
    with pytest.raises(ValueError, match="cell must be one of"):
        SimpleRNNClassifier(cell="transformer")


def test_rnn_classifier_trains_on_mnist_rows():
    tg.manual_seed(0)
    x, y = get_dataset("mnist", "train")
    x = x[:256].astype(np.float32)[:, None] / 255.0  # (256, 1, 28, 28)
    y = y[:256]
    model = SimpleRNNClassifier(cell="lstm", hidden_size=64)
    losses = _train(model, x, y, steps=80, lr=1e-2)
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])  # ~2.3 (chance) -> ~0.8


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_text_classifier_ignores_trailing_pads(pooling, cell):
    tg.manual_seed(0)
    model = TextClassifier(vocab_size=30, embed_dim=8, hidden_size=8, cell=cell,
                           pooling=pooling).eval()
    short = np.array([[5, 9, 2, 0], [7, 3, 0, 0]])
    longer = np.concatenate([short, np.zeros((2, 5), dtype=short.dtype)], axis=1)  # more pads
    with tg.no_grad():
        a = model(tg.tensor(short)).numpy()
        b = model(tg.tensor(longer)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_text_classifier_bidirectional_shapes_and_checks():
    model = TextClassifier(vocab_size=30, embed_dim=8, hidden_size=8, bidirectional=True,
                           num_layers=2)
    assert model(tg.tensor(np.array([[5, 9, 2, 0], [7, 0, 0, 0]]))).shape == (2, 2)
    assert model.embedding.padding_idx == 0
    with pytest.raises(ValueError, match="int64 token ids"):
        model(tg.randn(2, 4))
    with pytest.raises(ValueError, match="pooling must be"):
        TextClassifier(pooling="attention")


def test_text_classifier_trains_on_a_keyword_task():
    # label 1 iff the "good" token 3 occurs; padded sequences of random lengths
    rng = np.random.default_rng(0)
    ids = rng.integers(4, 30, size=(256, 12))
    lengths = rng.integers(3, 13, size=256)
    labels = rng.integers(0, 2, size=256)
    for n in range(256):
        if labels[n]:
            ids[n, rng.integers(0, lengths[n])] = 3
        ids[n, lengths[n]:] = 0
    tg.manual_seed(0)
    model = TextClassifier(vocab_size=30, embed_dim=16, hidden_size=16, dropout=0.0)
    losses = _train(model, ids, labels, steps=60, lr=1e-2)
    assert np.mean(losses[-8:]) < 0.6 * np.mean(losses[:8])
