"""Pretrain LeNet-5 on digits 0-4, freeze its convolutions, replace the head, fine-tune on
digits 5-9 with few labels, and compare with training from scratch on the same few labels.

    python examples/finetune_mnist.py [--finetune-limit 100] [--finetune-epochs 20]
"""

from __future__ import annotations

import argparse
import time

from tinygrad_edu.models.finetune import pretrain_then_finetune
from tinygrad_edu.training.cli import load_split


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrain-limit", type=int, default=10000)
    parser.add_argument("--finetune-limit", type=int, default=100)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    _, x_train, y_train = load_split("mnist", "train")
    _, x_test, y_test = load_split("mnist", "test")
    start = time.perf_counter()
    r = pretrain_then_finetune(x_train, y_train, x_test, y_test,
                               pretrain_limit=args.pretrain_limit,
                               finetune_limit=args.finetune_limit,
                               finetune_epochs=args.finetune_epochs, seed=args.seed)
    seconds = time.perf_counter() - start
    print(f"pretrained on 0-4: test accuracy {r.pretrain_accuracy:.4f}")
    print(f"fine-tuned on {args.finetune_limit} labels of 5-9 (features frozen, "
          f"{r.trainable_parameters:,} of {r.total_parameters:,} parameters trained): test "
          f"accuracy {r.finetune_accuracy:.4f}")
    print(f"from scratch on the same {args.finetune_limit} labels: test accuracy "
          f"{r.scratch_accuracy:.4f}  ({seconds:.0f} s in all)")
    return {"pretrain_accuracy": r.pretrain_accuracy, "finetune_accuracy": r.finetune_accuracy,
            "scratch_accuracy": r.scratch_accuracy, "seconds": seconds}


if __name__ == "__main__":
    main()
