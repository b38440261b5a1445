"""Style transfer with L-BFGS on the pixels, on small synthetic images.

    python examples/style_transfer.py [--steps 10] [--size 32] [--out runs/style]

Honest caveat: no pretrained VGG is available offline, so the features come from a small CNN
with RANDOM frozen weights (see ``tinygrad_edu.models.style_transfer``). Random features carry
texture statistics well enough to move colors and stripes; they are cruder than VGG's.
Writes ``OUT/style_transfer.png``: content, style and result for two pairs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tinygrad_edu.models.images import save_image_grid
from tinygrad_edu.models.style_transfer import make_pattern, style_transfer


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--style-weight", type=float, default=3e6)
    parser.add_argument("--content-weight", type=float, default=1e4)
    parser.add_argument("--out", default="runs/style")
    args = parser.parse_args(argv)

    rows, results = [], {}
    for content_kind, style_kind in (("disk", "stripes"), ("square", "checkerboard")):
        content = make_pattern(content_kind, args.size)
        style = make_pattern(style_kind, args.size)
        start = time.perf_counter()
        image, losses = style_transfer(content, style, steps=args.steps,
                                       content_weight=args.content_weight,
                                       style_weight=args.style_weight)
        seconds = time.perf_counter() - start
        print(f"{content_kind} + {style_kind}: loss {losses[0]:.3g} -> {losses[-1]:.3g} "
              f"({losses[0] / losses[-1]:.0f}x lower) in {args.steps} L-BFGS steps, "
              f"{seconds:.0f} s")
        rows += [content, style, image[0]]
        results[f"{content_kind}+{style_kind}"] = {"first_loss": losses[0],
                                                   "last_loss": losses[-1], "seconds": seconds}
    os.makedirs(args.out, exist_ok=True)
    path = save_image_grid(np.stack(rows), os.path.join(args.out, "style_transfer.png"),
                           nrow=3, title="content | style | result")
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
