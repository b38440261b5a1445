"""A generative adversarial network (Goodfellow et al. 2014) of two MLPs, on MNIST.

    generator G:      z ~ N(0, I) (B, z_dim) -> 256 -> 512 -> 784, tanh -> fake image in [-1, 1]
                      (each hidden layer Linear -> BatchNorm1d -> ReLU, as in DCGAN's G)
    discriminator D:  image (B, 784) -> 512 -> 256 -> 1 logit: "is this a real digit?"

One training step, with BCE = binary cross entropy on D's logits:

    D step:  minimize BCE(D(x), 1) + BCE(D(G(z)), 0)      (fakes detached: G is not updated)
    G step:  minimize BCE(D(G(z)), 1)                      the "non-saturating" generator loss:
                                                           it still has a gradient when D easily
                                                           spots the fakes (unlike -BCE(., 0))

At the equilibrium D outputs 1/2 everywhere and each D loss term is log 2 (the D loss 2 log 2
= 1.386). Hyper-parameters follow DCGAN (Radford et al. 2016): Adam lr 2e-4, beta1 = 0.5,
LeakyReLU(0.2) in D. Training images are scaled to [-1, 1] to match the tanh output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..backend import to_numpy
from ..nn.utils import evaluating
from ..tensor import ones, randn, tensor, zeros
from .images import save_image_grid

# ----------------------------------------------------------------------------------------------
# The two networks
# ----------------------------------------------------------------------------------------------


class Generator(nn.Module):
    """z (B, z_dim) -> [Linear -> BatchNorm1d -> ReLU] per hidden width -> Linear -> tanh
    -> images (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, z_dim: int = 64, hidden: tuple[int, ...] = (256, 512),
                 image_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__()
        self.image_shape = image_shape
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, int(np.prod(image_shape))), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z).reshape(z.shape[0], *self.image_shape)  # (B, 784) -> (B, 1, 28, 28)


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) -> [Linear -> LeakyReLU(0.2)] per hidden width -> Linear
    -> logits (B,) of "real"."""

    def __init__(self, hidden: tuple[int, ...] = (512, 256),
                 image_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(np.prod(image_shape))
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).reshape(-1)  # (B, 1) -> (B,)


@dataclass
class GANConfig:
    z_dim: int = 64
    g_hidden: tuple[int, ...] = (256, 512)
    d_hidden: tuple[int, ...] = (512, 256)
    image_shape: tuple[int, ...] = (1, 28, 28)


class GAN(nn.Module):
    """A generator and a discriminator in one module (for saving and ``.to(device)``);
    ``sample(n)`` draws n images.

    >>> gan = GAN(z_dim=8, g_hidden=(16,), d_hidden=(16,))
    >>> images = gan.sample(4)
    >>> images.shape, gan.discriminator(images).shape
    ((4, 1, 28, 28), (4,))
    """

    def __init__(self, config: GANConfig | None = None, **overrides):
        super().__init__()
        self.config = config or GANConfig(**overrides)
        c = self.config
        self.generator = Generator(c.z_dim, c.g_hidden, c.image_shape)
        self.discriminator = Discriminator(c.d_hidden, c.image_shape)

    def forward(self, z):
        return self.generator(z)

    def sample(self, n: int, device: str = "cpu"):
        """n generated images (eval mode: BatchNorm uses its running statistics)."""
        with evaluating(self):
            return self.generator(randn(n, self.config.z_dim, device=device))


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


def fit_gan(gan: GAN, images: np.ndarray, steps: int = 1000, batch_size: int = 64,
            lr: float = 2e-4, seed: int = 0, device: str = "cpu",
            log_every: int = 0) -> dict[str, list[float]]:
    """Alternate one D step and one G step per mini-batch of ``images`` ((N, 1, 28, 28) in
    [-1, 1]). Returns per-step histories: ``d_loss``, ``g_loss``, ``d_real`` (mean D(x) as a
    probability) and ``d_fake`` (mean D(G(z)) before the G step)."""
    bce = nn.BCEWithLogitsLoss()
    opt_d = optim.Adam(gan.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = optim.Adam(gan.generator.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(seed)
    real_label = ones(batch_size, device=device)  # (B,)
    fake_label = zeros(batch_size, device=device)  # (B,)
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
    gan.train()
    for step in range(steps):
        x = tensor(images[rng.integers(0, len(images), batch_size)], device=device)  # (B,1,28,28)
        z = randn(batch_size, gan.config.z_dim, device=device)  # (B, z_dim)
        fake = gan.generator(z)  # (B, 1, 28, 28)

        # D step: real -> 1, fake -> 0; detach() keeps the generator out of this backward
        logits_real = gan.discriminator(x)
        logits_fake = gan.discriminator(fake.detach())
        d_loss = bce(logits_real, real_label) + bce(logits_fake, fake_label)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

        # G step: make D call the fakes real (gradients flow through D into G)
        g_loss = bce(gan.discriminator(fake), real_label)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

        history["d_loss"].append(float(d_loss.item()))
        history["g_loss"].append(float(g_loss.item()))
        history["d_real"].append(float(to_numpy(logits_real.sigmoid().data).mean()))
        history["d_fake"].append(float(to_numpy(logits_fake.sigmoid().data).mean()))
        if log_every and (step + 1) % log_every == 0:
            recent = {k: np.mean(v[-log_every:]) for k, v in history.items()}
            print(f"step {step + 1:5d}  D loss {recent['d_loss']:.3f}  G loss "
                  f"{recent['g_loss']:.3f}  D(x) {recent['d_real']:.2f}  D(G(z)) "
                  f"{recent['d_fake']:.2f}", flush=True)
    return history


def save_samples(gan: GAN, path: str, n: int = 64, device: str = "cpu") -> str:
    """Write a grid of n generated digits to ``path`` (PNG), mapped from [-1, 1] to [0, 1]."""
    images = to_numpy(gan.sample(n, device).data)
    return save_image_grid((images + 1.0) / 2.0, path, nrow=8, title="GAN samples")
