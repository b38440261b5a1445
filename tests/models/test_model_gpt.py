import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import optim
from tinygrad_edu.models import GPT
from tinygrad_edu.models.gpt import CharTokenizer, get_batch, lm_loss


def _tiny(**kw):
    return GPT(**{"vocab_size": 12, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16,
                  **kw})


def test_gpt_shapes_and_block_size_error():
    model = _tiny()
    assert model(tg.tensor(np.zeros((3, 8), dtype=np.int64))).shape == (3, 8, 12)
    with pytest.raises(ValueError, match="block size is only 8"):
        model(tg.tensor(np.zeros((1, 9), dtype=np.int64)))


def test_gpt_is_causal():
    tg.manual_seed(0)
    model = _tiny().eval()
    with tg.no_grad():
        a = model(tg.tensor([[1, 2, 3, 4]])).numpy()
        b = model(tg.tensor([[1, 2, 3, 7]])).numpy()  # only the last token differs
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 3], b[:, 3])


def test_weight_tying_shares_one_parameter():
    tied, untied = _tiny(), _tiny(tie_weights=False)
    assert tied.lm_head.weight is tied.wte.weight
    assert untied.num_parameters() - tied.num_parameters() == 12 * 16
    loss = lm_loss(tied(tg.tensor([[1, 2, 3]])), tg.tensor([[2, 3, 4]]))
    loss.backward()
    assert tied.wte.weight.grad is not None
    assert np.abs(tied.wte.weight.grad.numpy()[5]).sum() > 0  # row 5: used by the head only


def test_char_tokenizer_and_batches():
    tok = CharTokenizer("hello world")
    assert tok.decode(tok.encode("low")) == "low"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("xyz")
    data = np.arange(100)
    x, y = get_batch(data, block_size=8, batch_size=4, rng=np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)  # targets are the inputs shifted by one


def test_gpt_learns_a_tiny_corpus_and_generates():
    text = "hello world! " * 40
    tok = CharTokenizer(text)
    data = np.array(tok.encode(text))
    tg.manual_seed(0)
    model = GPT(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32)
    opt = optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(50):
        x, y = get_batch(data, 16, 16, rng)
        loss = lm_loss(model(tg.tensor(x)), tg.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and np.mean(losses[-5:]) < 0.5  # ln(9) = 2.2 -> memorized
    out = model.generate(tg.tensor([tok.encode("hel")]), max_new_tokens=20, top_k=1)
    assert out.shape == (1, 23)
    assert tok.decode(out.numpy()[0]).startswith("hello world")
    tg.manual_seed(1)
    sampled = model.generate(tg.tensor([tok.encode("h")] * 2), max_new_tokens=30,
                             temperature=1.5)
    assert sampled.shape == (2, 31)  # longer than block_size: the context is cropped
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.generate(tg.tensor([[0]]), 1, temperature=0.0)


def test_generate_checks_its_arguments_and_restores_train_mode_on_error():
    model = _tiny()
    model.train()
    prompt = tg.tensor(np.array([[1, 2]]))
    for kwargs, message in (({"temperature": float("nan")}, "temperature must be > 0"),
                            ({"max_new_tokens": -1}, "max_new_tokens must be an integer >= 0")):
        with pytest.raises(ValueError, match=message):
            model.generate(prompt, **{"max_new_tokens": 2, **kwargs})
    with pytest.raises(ValueError, match=r"expected a prompt of token ids \(B, T\)"):
        model.generate(tg.tensor(np.array([1, 2])), 2)
    with pytest.raises(IndexError):  # token 25 is past the vocabulary: the forward raises
        model.generate(tg.tensor(np.array([[1, 25]])), 2)
    assert model.training  # evaluating() put the mode back
    assert model.generate(prompt, 0).tolist() == [[1, 2]]
