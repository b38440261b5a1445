"""MNIST with the 784-128-10 MLP, written as the plain PyTorch training loop.

    python examples/mnist_mlp.py [--epochs 5] [--lr 1e-3] [--batch-size 64]

Target: >= 97% test accuracy. Every line has a PyTorch twin: replace ``tinygrad_edu`` by
``torch`` (and ``tg.tensor`` by ``torch.tensor``) and it runs there too.

Tip for shared CPUs: ``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` avoids threads that
spin-wait for each other and can make small models several times faster.
"""

from __future__ import annotations

import argparse
import time

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.models import MLP
from tinygrad_edu.training.cli import load_split


def evaluate(model, loader) -> float:
    model.eval()
    correct = total = 0
    with tg.no_grad():
        for xb, yb in loader:
            predicted = model(tg.tensor(xb)).argmax(dim=1).numpy()
            correct += int((predicted == yb).sum())
            total += len(yb)
    return correct / total


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    _, x_train, y_train = load_split("mnist", "train")  # normalized float32 (N, 1, 28, 28)
    _, x_test, y_test = load_split("mnist", "test")
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                              shuffle=True, seed=args.seed)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=1000)

    model = MLP()  # Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        running = 0.0
        for xb, yb in train_loader:
            loss = loss_fn(model(tg.tensor(xb)), tg.tensor(yb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * len(yb)
        accuracy = evaluate(model, test_loader)
        print(f"epoch {epoch}: train loss {running / len(x_train):.4f}, test accuracy "
              f"{accuracy:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    print(f"MLP on MNIST: test accuracy {accuracy:.4f} after {args.epochs} epochs, {seconds:.0f} s")
    return {"test_accuracy": accuracy, "seconds": seconds}


if __name__ == "__main__":
    main()
