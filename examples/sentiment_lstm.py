"""Sentiment of Rotten Tomatoes review snippets with an LSTM (the offline stand-in for IMDB).

    python examples/sentiment_lstm.py [--cell lstm|gru] [--bidirectional] [--epochs 10]

The text pipeline: tokenize -> Vocabulary built on the TRAIN split only (words seen twice or
more; the rest is <unk>) -> ids cut / right-padded to 48 tokens (pad = 0) -> Embedding
(padding_idx=0) -> LSTM -> output at each text's last real token -> Linear -> 2 logits.

Target: >= 70% test accuracy; the majority class ("fresh") alone scores 58%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import load_rt_sentiment
from tinygrad_edu.models import TextClassifier
from tinygrad_edu.training.cli import prepare_texts


def accuracy(model, ids: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with tg.no_grad():
        predicted = np.concatenate([model(tg.tensor(ids[i:i + 500])).argmax(dim=1).numpy()
                                    for i in range(0, len(ids), 500)])
    return float((predicted == labels).mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"))
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--pooling", default="last", choices=("last", "mean", "max"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-len", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    train_texts, y_train = load_rt_sentiment("train")
    test_texts, y_test = load_rt_sentiment("test")
    vocab, x_train, x_test = prepare_texts(train_texts, test_texts, max_len=args.max_len)
    majority = max(np.mean(y_test), 1 - np.mean(y_test))
    print(f"{len(train_texts)} train / {len(test_texts)} test texts, vocabulary {len(vocab)}, "
          f"majority baseline {majority:.4f}", flush=True)

    model = TextClassifier(vocab_size=len(vocab), cell=args.cell,
                           bidirectional=args.bidirectional, pooling=args.pooling)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            loss = nn.functional.cross_entropy(model(tg.tensor(x_train[batch])),
                                               tg.tensor(y_train[batch]))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # guards against RNN blow-ups
            optimizer.step()
        test_accuracy = accuracy(model, x_test, y_test)
        print(f"epoch {epoch}: test accuracy {test_accuracy:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    print(f"{args.cell.upper()} sentiment: test accuracy {test_accuracy:.4f} (majority "
          f"{majority:.4f}), {seconds:.0f} s")
    return {"test_accuracy": test_accuracy, "majority": float(majority), "seconds": seconds}


if __name__ == "__main__":
    main()
