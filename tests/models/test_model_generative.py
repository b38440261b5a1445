import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models import GAN, VAE
from tinygrad_edu.models import gan as gan_module
from tinygrad_edu.models import vae as vae_module
from tinygrad_edu.models.images import image_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits01():
    x, _ = get_dataset("mnist", "train")
    return x[:512].astype(np.float32)[:, None] / 255.0  # (512, 1, 28, 28) in [0, 1]


def test_image_grid_layout():
    grid = image_grid(np.ones((5, 3, 4, 4)), nrow=2)  # 3 rows x 2 columns, RGB
    assert grid.shape == (3 * 5 - 1, 2 * 5 - 1, 3)
    with pytest.raises(ValueError, match="1 or 3"):
        image_grid(np.ones((2, 2, 4, 4)))


def test_gan_trains_and_saves_samples(digits01, tmp_path):
    tg.manual_seed(0)
    gan = GAN(z_dim=16, g_hidden=(64,), d_hidden=(64,))
    history = gan_module.fit_gan(gan, digits01 * 2 - 1, steps=30, batch_size=32, lr=1e-3)
    for values in history.values():
        assert len(values) == 30 and np.isfinite(values).all()
    assert 1.2 < history["d_loss"][0] < 1.6  # untrained D: 2 log 2 = 1.386
    # D learns to tell real from fake at first: it scores real digits higher
    assert np.mean(history["d_real"][5:]) > np.mean(history["d_fake"][5:])
    samples = gan.sample(6)
    assert samples.shape == (6, 1, 28, 28) and float(samples.abs().max().item()) <= 1.0
    path = gan_module.save_samples(gan, str(tmp_path / "gan.png"), n=16)
    assert open(path, "rb").read(8) == PNG_MAGIC


def test_vae_trains_and_saves_samples(digits01, tmp_path):
    tg.manual_seed(0)
    model = VAE(hidden=128, latent_dim=8)
    history = vae_module.fit_vae(model, digits01, epochs=3, batch_size=64, lr=3e-3)
    assert np.isfinite(history["loss"]).all() and min(history["kl"]) >= 0.0
    assert np.mean(history["loss"][-4:]) < 0.6 * history["loss"][0]  # ~543 -> ~250
    logits, mu, logvar = model(tg.tensor(digits01[:4]))
    assert logits.shape == (4, 784) and mu.shape == logvar.shape == (4, 8)
    assert open(vae_module.save_samples(model, str(tmp_path / "s.png")), "rb").read(8) \
        == PNG_MAGIC
    path = vae_module.save_reconstructions(model, digits01, str(tmp_path / "r.png"))
    assert open(path, "rb").read(8) == PNG_MAGIC


def test_vae_eval_mode_is_deterministic(digits01):
    model = VAE(hidden=32, latent_dim=4).eval()
    with tg.no_grad():
        a = model(tg.tensor(digits01[:2]))[0].numpy()
        b = model(tg.tensor(digits01[:2]))[0].numpy()
    np.testing.assert_array_equal(a, b)  # z = mu in eval mode


def test_vae_samples_images_when_its_input_is_a_square_and_rows_otherwise():
    assert VAE().sample(2).shape == (2, 1, 28, 28)
    assert VAE(in_features=10).sample(3).shape == (3, 10)
