"""Reverse (or sort) digit strings with an LSTM encoder-decoder and Luong attention.

    python examples/seq2seq_reverse.py [--task reverse|sort] [--steps 1500] [--attention dot]

Training uses teacher forcing; the reported metric is the *sequence* accuracy of greedy
decoding on 1000 fresh strings of length 3..10 (every digit and the <eos> must be right).
Target: >= 95%.
"""

from __future__ import annotations

import argparse
import time

import tinygrad_edu as tg
from tinygrad_edu.models import Seq2Seq
from tinygrad_edu.models.seq2seq import (
    decode_digits,
    encode_digits,
    evaluate_sequence_task,
    fit_sequence_task,
    make_sequence_task,
)


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
    train = make_sequence_task(args.task, 20000, 3, args.max_len, seed=args.seed)
    test = make_sequence_task(args.task, 1000, 3, args.max_len, seed=args.seed + 1)
    model = Seq2Seq(hidden_size=args.hidden, attention=args.attention)
    print(f"Seq2Seq ({args.attention} attention): {model.num_parameters():,} parameters",
          flush=True)
    start = time.perf_counter()
    fit_sequence_task(model, train, steps=args.steps, lr=args.lr, seed=args.seed,
                      log_every=250)
    seconds = time.perf_counter() - start
    accuracy = evaluate_sequence_task(model, test)
    for text in ("31415", "2718281828", "9876"):
        prediction = model.greedy_decode(tg.tensor(encode_digits(text)), len(text) + 1)
        print(f"  {text} -> {decode_digits(prediction)}")
    print(f"Seq2Seq {args.task}: sequence accuracy {accuracy:.4f} on {len(test)} test strings, "
          f"{seconds:.0f} s training")
    return {"sequence_accuracy": accuracy, "seconds": seconds}


if __name__ == "__main__":
    main()
