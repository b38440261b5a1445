"""Reverse (or sort) digit strings with a small encoder-decoder Transformer (nn.Transformer).

    python examples/transformer_reverse.py [--task reverse|sort] [--steps 1500]

Same task, data and metric as ``seq2seq_reverse.py``: greedy-decoding sequence accuracy on
1000 fresh strings of length 3..10. Target: >= 95%.
"""

from __future__ import annotations

import argparse

import tinygrad_edu as tg
from tinygrad_edu.models import Seq2SeqTransformer
from tinygrad_edu.models.seq2seq import run_sequence_example


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
    model = Seq2SeqTransformer(d_model=args.d_model, num_encoder_layers=args.layers,
                               num_decoder_layers=args.layers, dim_feedforward=2 * args.d_model)
    print(f"Transformer: {model.num_parameters():,} parameters", flush=True)
    return run_sequence_example(model, "Transformer", task=args.task, steps=args.steps,
                                max_len=args.max_len, lr=args.lr, seed=args.seed)


if __name__ == "__main__":
    main()
