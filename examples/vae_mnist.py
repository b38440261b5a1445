"""A VAE on MNIST (784-400-20); writes samples and reconstructions.

    python examples/vae_mnist.py [--epochs 5] [--out runs/vae]

Prints the test loss (negative ELBO in nats per image = reconstruction BCE + KL; the PyTorch
example reaches ~105 after 10 epochs) and writes ``OUT/samples.png`` (decoded z ~ N(0, I)) and
``OUT/reconstructions.png``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models import VAE
from tinygrad_edu.models.vae import fit_vae, save_reconstructions, save_samples, vae_loss


def test_loss(model, images: np.ndarray) -> float:
    """The negative ELBO on ``images``, with z sampled as in training (train mode: the VAE has
    no dropout or BatchNorm, and in eval mode it would decode z = mu, a lower, optimistic
    number)."""
    model.train()
    total = 0.0
    with tg.no_grad():
        for i in range(0, len(images), 1000):
            x = tg.tensor(images[i:i + 1000])
            logits, mu, logvar = model(x)
            total += vae_loss(logits, x, mu, logvar)[0].item() * len(x)
    return total / len(images)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="runs/vae")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    x_train, _ = get_dataset("mnist", "train")
    x_test, _ = get_dataset("mnist", "test")
    x_train = x_train.astype(np.float32)[:, None] / 255.0  # pixels in [0, 1] for BCE
    x_test = x_test.astype(np.float32)[:, None] / 255.0
    model = VAE()
    start = time.perf_counter()
    steps_per_epoch = (len(x_train) + 127) // 128
    history = fit_vae(model, x_train, epochs=args.epochs, seed=args.seed,
                      log_every=steps_per_epoch)
    seconds = time.perf_counter() - start
    loss = test_loss(model, x_test)
    os.makedirs(args.out, exist_ok=True)
    save_samples(model, os.path.join(args.out, "samples.png"))
    path = save_reconstructions(model, x_test, os.path.join(args.out, "reconstructions.png"))
    print(f"VAE: test loss {loss:.1f} nats/image (train, last epoch "
          f"{np.mean(history['loss'][-steps_per_epoch:]):.1f}), {seconds:.0f} s; wrote "
          f"{args.out}/samples.png and {path}")
    return {"test_loss": loss, "seconds": seconds}


if __name__ == "__main__":
    main()
