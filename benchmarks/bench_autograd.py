"""Autograd overhead per tiny op: tinygrad_edu vs torch in the same run.

On a (4, 4) tensor the math is ~free, so the time is the framework's bookkeeping: creating the
output tensor, recording the graph edge, and in backward visiting the node.

    python benchmarks/bench_autograd.py [--quick] [--json bench_results/autograd.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CpuSteal, Timing, print_table, summary, time_block, write_json  # noqa: E402

CHAIN = 100  # ops per timed sample


def chain_forward(x, w):
    h = x
    for _ in range(CHAIN // 2):
        h = h * w  # one mul ...
        h = h + w  # ... one add
    return h


def chain_forward_backward(x, w):
    """The chain's forward and backward through the library (tinygrad_edu or torch): w.grad,
    then reset, so that every call does the same work (bench_autograd.py and run.py time it,
    instructions.py counts it)."""
    chain_forward(x, w).sum().backward()
    w.grad = None


def floor_forward_backward(x, w):
    """The chain's forward and its gradient with respect to w by hand, on raw arrays: the
    plain-NumPy floor of the tiny op (run.py times it, instructions.py counts it)."""
    hs = [x]  # h before every mul
    h = x
    for _ in range(CHAIN // 2):
        h = h * w
        h = h + w
        hs.append(h)
    g = np.ones_like(h)  # d sum / d h
    dw = np.zeros_like(w)
    for h_before in reversed(hs[:-1]):
        dw += g  # h = h * w + w: the add's w ...
        dw += g * h_before  # ... and the mul's w
        g = g * w
    return dw


def bench_library(name: str, lib, make, repeats: int) -> list[Timing]:
    rows = []
    x = make(np.random.randn(4, 4).astype(np.float32), False)
    w = make(np.random.randn(4, 4).astype(np.float32), True)

    for label, fn in (("fwd (graph recorded)", lambda: chain_forward(x, w)),
                      ("fwd+bwd", lambda: chain_forward_backward(x, w))):
        median, low, n = time_block(fn, repeats=repeats)
        rows.append(Timing(f"tiny op {label}", name, "(4, 4) float32",
                           median * 1e3 / CHAIN, low * 1e3 / CHAIN, n, {"unit": "us/op"}))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default="bench_results/autograd.json")
    args = parser.parse_args(argv)
    repeats = 10 if args.quick else 50

    import tinygrad_edu as tg

    rows = []
    with CpuSteal() as steal:
        rows += bench_library("tinygrad_edu", tg,
                              lambda a, g: tg.tensor(a, requires_grad=g), repeats)
        try:
            import torch

            torch.set_num_threads(1)
            rows += bench_library("torch", torch,
                                  lambda a, g: torch.tensor(a, requires_grad=g), repeats)
        except ImportError:
            print("torch not installed: no peer ratio")
    print("times are microseconds per op (median ms column shows us/op)")
    print_table(rows)
    share = steal.share
    if share is not None:
        print(f"other processes took {share:.0%} of the CPU during the run")
    write_json(args.json, rows, {"cpu_share_of_other_processes": share, "ops_per_sample": CHAIN})
    return 0


if __name__ == "__main__":
    sys.exit(main())
