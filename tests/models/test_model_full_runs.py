"""Full-accuracy runs of the example scripts (minutes each): ``pytest -m slow tests/models``.

Each runs ``examples/NAME.py`` with its default settings and checks the target of the issue.
"""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *argv: str) -> dict:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


pytestmark = pytest.mark.slow


def test_mnist_mlp_reaches_97_percent():
    assert run_example("mnist_mlp")["test_accuracy"] >= 0.97


def test_fashion_mnist_cnn_reaches_88_percent(tmp_path):
    assert run_example("fashion_mnist_cnn", "--out", str(tmp_path))["test_accuracy"] >= 0.88


def test_sentiment_lstm_reaches_70_percent():
    result = run_example("sentiment_lstm")
    assert result["test_accuracy"] >= 0.70 > result["majority"]


def test_rnn_mnist_reaches_95_percent():
    assert run_example("rnn_mnist")["test_accuracy"] >= 0.95


def test_seq2seq_reverses_95_percent_of_strings():
    assert run_example("seq2seq_reverse")["sequence_accuracy"] >= 0.95


def test_transformer_reverses_95_percent_of_strings():
    assert run_example("transformer_reverse")["sequence_accuracy"] >= 0.95


def test_ncf_gets_close_to_the_noise_floor():
    result = run_example("ncf_ratings")
    assert result["mf_rmse"] < 0.4 < result["mean_baseline_rmse"]  # noise floor 0.25


def test_gpt_learns_characters():
    assert run_example("gpt_char", "--steps", "1000")["val_loss"] < 2.0  # ln(117) = 4.8 untrained


def test_gan_vae_style_finetune_run(tmp_path):
    gan = run_example("gan_mnist", "--steps", "1000", "--out", str(tmp_path / "gan"))
    assert Path(gan["png"]).exists() and 0.05 < gan["d_fake"] < 0.95
    assert run_example("vae_mnist", "--epochs", "2", "--out", str(tmp_path))["test_loss"] < 130
    style = run_example("style_transfer", "--steps", "5", "--out", str(tmp_path))
    assert all(r["last_loss"] < 0.1 * r["first_loss"] for r in style.values())
    finetune = run_example("finetune_mnist")
    assert finetune["finetune_accuracy"] > 0.7 and finetune["pretrain_accuracy"] > 0.95
