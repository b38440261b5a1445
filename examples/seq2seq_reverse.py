"""Reverse (or sort) digit strings with an LSTM encoder-decoder and Luong attention.

    python examples/seq2seq_reverse.py [--task reverse|sort] [--steps 1500] [--attention dot]

Training uses teacher forcing; the reported metric is the *sequence* accuracy of greedy
decoding on 1000 fresh strings of length 3..10 (every digit and the <eos> must be right).
Target: >= 95%.
"""

from __future__ import annotations

import argparse

import tinygrad_edu as tg
from tinygrad_edu.models import Seq2Seq
from tinygrad_edu.models.seq2seq import run_sequence_example


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="reverse", choices=("reverse", "sort"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--attention", default="dot", choices=("dot", "general"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=10)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    model = Seq2Seq(hidden_size=args.hidden, attention=args.attention)
    print(f"Seq2Seq ({args.attention} attention): {model.num_parameters():,} parameters",
          flush=True)
    return run_sequence_example(model, "Seq2Seq", task=args.task, steps=args.steps,
                                max_len=args.max_len, lr=args.lr, seed=args.seed)


if __name__ == "__main__":
    main()
