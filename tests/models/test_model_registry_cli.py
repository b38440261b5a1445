import json

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.cli import main
from tinygrad_edu.data.text import Vocabulary
from tinygrad_edu.models import get_model, get_spec, list_models

EXPECTED = {"mlp", "lenet", "keras-cnn", "cifar-net", "vgg-small", "resnet18", "resnet18-small",
            "rnn-mnist", "text-lstm", "text-gru", "seq2seq", "transformer", "gpt", "ncf", "gan",
            "vae", "style-transfer"}


def test_registry_lists_every_model_and_each_builds():
    specs = {spec.name: spec for spec in list_models()}
    assert EXPECTED <= set(specs)
    for name, spec in specs.items():
        assert spec.datasets or spec.example, f"{name}: neither a data set nor a script"
        if name != "resnet18":  # 11 M parameters: built in test_model_resnet
            assert get_model(name).num_parameters() > 0


def test_models_command_lists_everything(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "examples/seq2seq_reverse.py" in out


def test_train_refuses_script_models_with_a_pointer(tmp_path):
    with pytest.raises(SystemExit, match="examples/gan_mnist.py"):
        main(["train", "gan", "--out", str(tmp_path)])


def _train(tmp_path, *args):
    out = tmp_path / "run"
    code = main(["train", *args, "--epochs", "1", "--out", str(out), "--no-progress"])
    assert code == 0
    return json.loads((out / "metrics.json").read_text()), out


def test_train_text_lstm_on_rt_sentiment(tmp_path, capsys):
    metrics, out = _train(tmp_path, "text-lstm", "--dataset", "rt-sentiment", "--limit", "256",
                          "--test-limit", "200", "--max-len", "24", "--batch-size", "32")
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["itos"][:2] == ["<pad>", "<unk>"] and vocab["max_len"] == 24
    assert "tokenizer" in vocab  # the tokenizer settings travel with the words
    assert Vocabulary.from_dict(vocab).itos == vocab["itos"]
    assert (out / "model.ckpt").exists()
    state = tg.load(str(out / "model.ckpt"))
    assert state["embedding.weight"].shape[0] == len(vocab["itos"])  # built on the train split
    assert "vocabulary:" in capsys.readouterr().out


def test_train_rnn_mnist(tmp_path):
    metrics, _ = _train(tmp_path, "rnn-mnist", "--dataset", "mnist", "--limit", "256",
                        "--test-limit", "200")
    assert metrics["model"] == "rnn-mnist" and 0.0 <= metrics["test_accuracy"] <= 1.0


def test_train_image_path_unchanged(tmp_path):
    metrics, _ = _train(tmp_path, "mlp", "--dataset", "digits")
    assert metrics["test_accuracy"] > 0.5  # one epoch on 8x8 digits


def test_data_kwargs_follow_the_spec():
    from tinygrad_edu.data import dataset_info
    from tinygrad_edu.training.cli import data_kwargs

    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    info = dataset_info("mnist")
    assert data_kwargs(get_spec("mlp"), info, x) == {"in_features": 784, "out_features": 10}
    assert data_kwargs(get_spec("lenet"), info, x) == {"num_classes": 10, "in_channels": 1}
    assert data_kwargs(get_spec("rnn-mnist"), info, x)["image_size"] == 28
    with pytest.raises(SystemExit, match="vocab_size"):
        data_kwargs(get_spec("text-lstm"), info, x)


@pytest.mark.parametrize("shape", [(5, 7, 6), (4, 6, 5, 3)])
def test_prepare_images_normalizes_in_place_to_nchw(shape):
    """The in-place version gives exactly (x / max - mean) / std, NCHW, and leaves x alone."""
    from tinygrad_edu.data.datasets import DatasetInfo
    from tinygrad_edu.training.cli import prepare_images

    channels = shape[3] if len(shape) == 4 else 1
    mean, std = tuple(np.linspace(0.2, 0.5, channels)), tuple(np.linspace(0.3, 0.4, channels))
    info = DatasetInfo("toy", "", "image", 2, ("train",), 255, mean, std)
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    kept = x.copy()
    out = prepare_images(x, info)
    nchw = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    mean = np.asarray(info.mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(info.std, np.float32).reshape(1, -1, 1, 1)
    expected = (nchw.astype(np.float32) / np.float32(255) - mean) / std
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(x, kept)
