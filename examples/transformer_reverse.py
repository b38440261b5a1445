"""Reverse (or sort) digit strings with a small encoder-decoder Transformer (nn.Transformer).

    python examples/transformer_reverse.py [--task reverse|sort] [--steps 1500]

Same task, data and metric as ``seq2seq_reverse.py``: greedy-decoding sequence accuracy on
1000 fresh strings of length 3..10. Target: >= 95%.
"""

from __future__ import annotations

import argparse
import time

import tinygrad_edu as tg
from tinygrad_edu.models import Seq2SeqTransformer
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
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    train = make_sequence_task(args.task, 20000, 3, args.max_len, seed=args.seed)
    test = make_sequence_task(args.task, 1000, 3, args.max_len, seed=args.seed + 1)
    model = Seq2SeqTransformer(d_model=args.d_model, num_encoder_layers=args.layers,
                               num_decoder_layers=args.layers, dim_feedforward=2 * args.d_model)
    print(f"Transformer: {model.num_parameters():,} parameters", flush=True)
    start = time.perf_counter()
    fit_sequence_task(model, train, steps=args.steps, lr=args.lr, seed=args.seed,
                      log_every=250)
    seconds = time.perf_counter() - start
    accuracy = evaluate_sequence_task(model, test)
    for text in ("31415", "2718281828", "9876"):
        prediction = model.greedy_decode(tg.tensor(encode_digits(text)), len(text) + 1)
        print(f"  {text} -> {decode_digits(prediction)}")
    print(f"Transformer {args.task}: sequence accuracy {accuracy:.4f} on {len(test)} test "
          f"strings, {seconds:.0f} s training")
    return {"sequence_accuracy": accuracy, "seconds": seconds}


if __name__ == "__main__":
    main()
