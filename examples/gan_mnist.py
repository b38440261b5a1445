"""An MLP GAN on MNIST; writes a grid of generated digits.

    python examples/gan_mnist.py [--steps 3000] [--out runs/gan]

Prints the discriminator / generator losses and D's average outputs on real and fake images as
training goes (D(x) and D(G(z)) both drift toward 1/2 when the generator keeps up), and writes
``OUT/samples.png`` (and ``OUT/samples_step0.png`` before training, for comparison).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models import GAN
from tinygrad_edu.models.gan import fit_gan, save_samples


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="runs/gan")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    x, _ = get_dataset("mnist", "train")
    images = x.astype(np.float32)[:, None] / 127.5 - 1.0  # (N, 1, 28, 28) in [-1, 1] like tanh
    gan = GAN()
    os.makedirs(args.out, exist_ok=True)
    save_samples(gan, os.path.join(args.out, "samples_step0.png"))
    start = time.perf_counter()
    history = fit_gan(gan, images, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                      log_every=250)
    seconds = time.perf_counter() - start
    path = save_samples(gan, os.path.join(args.out, "samples.png"))
    last = {k: float(np.mean(v[-250:])) for k, v in history.items()}
    print(f"GAN: {args.steps} steps in {seconds:.0f} s; last 250 steps: D loss "
          f"{last['d_loss']:.3f}, G loss {last['g_loss']:.3f}, D(x) {last['d_real']:.2f}, "
          f"D(G(z)) {last['d_fake']:.2f}; wrote {path}")
    return {**last, "seconds": seconds, "png": path}


if __name__ == "__main__":
    main()
