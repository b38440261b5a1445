"""MNIST read row by row: each 28x28 digit is a sequence of T=28 steps of 28 pixels, an LSTM
reads it and the last hidden state is classified.

    python examples/rnn_mnist.py [--cell lstm|gru|rnn] [--epochs 2] [--hidden 128]

(Same as ``tinygrad-edu train rnn-mnist --dataset mnist``.) A plain tanh RNN ("rnn") trains
much worse on 28 steps than an LSTM or GRU: its gradient vanishes through time.
"""

from __future__ import annotations

import argparse
import time

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.models import SimpleRNNClassifier
from tinygrad_edu.training import Trainer
from tinygrad_edu.training.cli import load_split


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    _, x_train, y_train = load_split("mnist", "train")
    _, x_test, y_test = load_split("mnist", "test")
    model = SimpleRNNClassifier(cell=args.cell, hidden_size=args.hidden)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=args.lr), nn.CrossEntropyLoss(),
                      clip_grad_norm=1.0, progress=False)
    start = time.perf_counter()
    history = trainer.fit(DataLoader(TensorDataset(x_train, y_train), batch_size=64,
                                     shuffle=True, seed=args.seed),
                          epochs=args.epochs,
                          val_loader=DataLoader(TensorDataset(x_test, y_test), batch_size=1000))
    seconds = time.perf_counter() - start
    for record in history.epochs:
        print(f"epoch {record['epoch']}: train acc {record['train_acc']:.4f}, test acc "
              f"{record['val_acc']:.4f}, {record['seconds']:.0f} s")
    accuracy = float(history["val_acc"][-1])
    print(f"{args.cell.upper()} over MNIST rows: test accuracy {accuracy:.4f}, {seconds:.0f} s")
    return {"test_accuracy": accuracy, "seconds": seconds}


if __name__ == "__main__":
    main()
