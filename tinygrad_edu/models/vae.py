"""A variational autoencoder (Kingma & Welling 2014) on MNIST, like the PyTorch example.

    encoder:  x (B, 784) -> 400 ReLU -> mu (B, z), logvar (B, z)      q(z | x) = N(mu, e^logvar)
    sample:   z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)          the reparameterization
    decoder:  z -> 400 ReLU -> 784 logits -> sigmoid = pixel probabilities p(x | z)

The reparameterization trick moves the randomness into eps, so z is a differentiable function
of mu and logvar and backpropagation reaches the encoder.

Loss (the negative ELBO), per image, averaged over the batch:

    BCE(x_hat, x) summed over pixels                      reconstruction: -log p(x | z)
    + KL(q(z|x) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - e^logvar)     closed form

Pixels are in [0, 1] (no mean/std normalization): BCE treats them as Bernoulli probabilities.
New digits: decode z ~ N(0, I).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..backend import to_numpy
from ..nn import functional as F
from ..nn.utils import evaluating
from ..tensor import randn, randn_like, tensor
from .images import save_image_grid


@dataclass
class VAEConfig:
    in_features: int = 784
    hidden: int = 400
    latent_dim: int = 20


class VAE(nn.Module):
    """``model(x)`` -> (reconstruction logits (B, 784), mu (B, z), logvar (B, z)).

    >>> import tinygrad_edu as tg
    >>> vae = VAE(hidden=32, latent_dim=2)
    >>> logits, mu, logvar = vae(tg.rand(5, 1, 28, 28))
    >>> logits.shape, mu.shape, vae.sample(3).shape
    ((5, 784), (5, 2), (3, 1, 28, 28))
    """

    def __init__(self, config: VAEConfig | None = None, **overrides):
        super().__init__()
        self.config = config or VAEConfig(**overrides)
        c = self.config
        self.fc1 = nn.Linear(c.in_features, c.hidden)
        self.fc_mu = nn.Linear(c.hidden, c.latent_dim)
        self.fc_logvar = nn.Linear(c.hidden, c.latent_dim)
        self.fc3 = nn.Linear(c.latent_dim, c.hidden)
        self.fc4 = nn.Linear(c.hidden, c.in_features)

    def encode(self, x):
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.config.in_features:
            raise ValueError(f"VAE: expected inputs with {self.config.in_features} features "
                             f"per sample ((B, {self.config.in_features}) or images that "
                             f"flatten to it), got shape {tuple(x.shape)}")
        h = self.fc1(x.reshape(x.shape[0], -1)).relu()  # (B, 1, 28, 28) -> (B, 784) -> (B, 400)
        return self.fc_mu(h), self.fc_logvar(h)  # (B, z), (B, z)

    def reparameterize(self, mu, logvar):
        """z = mu + sigma * eps; in eval mode, z = mu (the most likely code)."""
        if not self.training:
            return mu
        std = (0.5 * logvar).exp()  # (B, z)
        return mu + std * randn_like(std)

    def decode(self, z):
        return self.fc4(self.fc3(z).relu())  # (B, z) -> (B, 400) -> (B, 784) logits

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def sample(self, n: int, device: str = "cpu"):
        """Decode n codes z ~ N(0, I) into pixels in [0, 1]: images (n, 1, side, side) when
        ``in_features`` is a square (784: 28 x 28), else the flat rows (n, in_features)."""
        with no_grad():
            probs = self.decode(randn(n, self.config.latent_dim, device=device)).sigmoid()
        side = math.isqrt(self.config.in_features)
        if side * side != self.config.in_features:
            return probs  # (n, in_features): the decoder knows no image shape
        return probs.reshape(n, 1, side, side)  # (n, 784) -> (n, 1, 28, 28)


def vae_loss(logits, x, mu, logvar):
    """(negative ELBO, reconstruction term, KL term), each summed over features and averaged
    over the batch."""
    B = x.shape[0]
    target = x.reshape(B, -1)  # (B, 784)
    reconstruction = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / B
    kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum() / B
    return reconstruction + kl, reconstruction, kl


def fit_vae(model: VAE, images: np.ndarray, epochs: int = 1, batch_size: int = 128,
            lr: float = 1e-3, max_steps: int | None = None, seed: int = 0,
            device: str = "cpu", log_every: int = 0) -> dict[str, list[float]]:
    """Train on ``images`` ((N, 1, 28, 28) floats in [0, 1]) with Adam; return per-step
    histories of ``loss``, ``reconstruction`` and ``kl``."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "reconstruction": [], "kl": []}
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(order), batch_size):
            x = tensor(images[order[start:start + batch_size]], device=device)  # (B, 1, 28, 28)
            logits, mu, logvar = model(x)
            loss, reconstruction, kl = vae_loss(logits, x, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["loss"].append(float(loss.item()))
            history["reconstruction"].append(float(reconstruction.item()))
            history["kl"].append(float(kl.item()))
            step = len(history["loss"])
            if log_every and step % log_every == 0:
                print(f"step {step:5d}  loss {np.mean(history['loss'][-log_every:]):.2f}  "
                      f"(reconstruction {np.mean(history['reconstruction'][-log_every:]):.2f}, "
                      f"KL {np.mean(history['kl'][-log_every:]):.2f})", flush=True)
            if max_steps is not None and step >= max_steps:
                return history
    return history


def save_samples(model: VAE, path: str, n: int = 64, device: str = "cpu") -> str:
    """Write a grid of n decoded random codes to ``path`` (PNG)."""
    images = to_numpy(model.sample(n, device).data)
    if images.ndim != 4:
        raise ValueError(f"save_samples: the VAE's {model.config.in_features} features are no "
                         "square image (sample() returns flat rows); draw them another way")
    return save_image_grid(images, path, nrow=8, title="VAE samples")


def save_reconstructions(model: VAE, images: np.ndarray, path: str, n: int = 8,
                         device: str = "cpu") -> str:
    """Write originals (top row) above their reconstructions (bottom row) to ``path``."""
    with evaluating(model):
        logits, _, _ = model(tensor(images[:n], device=device))
    recon = to_numpy(logits.sigmoid().data).reshape(images[:n].shape)
    return save_image_grid(np.concatenate([images[:n], recon]), path, nrow=n,
                           title="originals / reconstructions")
