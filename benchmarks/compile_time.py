"""The first call of tinygrad_edu's Numba kernels: compilation on an empty cache, against
loading the same machine code from a warm one.

    python benchmarks/compile_time.py [--only lenet,mlp,conv2d,attention,lstm] [--tiny]
                                      [--json OUT]

Numba compiles a kernel at its first call, 1-3 s for one that multiplies, and caches the
machine code on disk (``cache=True``). A new user pays the compilation once, on the first run
of the main job; every later process loads the code from the cache. Per workload, two child
processes with one thread each share a fresh ``NUMBA_CACHE_DIR``:

    cold   an empty cache: the first call compiles every kernel it reaches
    warm   the cache the cold process left: the first call loads them

and each reports its first call, its second (the steady time, as ``run.py`` measures it) and
the Numba compilations its first call ran (``numba:compile`` events, nested callees included;
``compiled`` in the table counts those that ran at the top level, one per kernel launched
from Python). "vs warm" divides the cold first call by the warm one, measured in the same run:
what a fresh install costs. Workloads (``--only``):

    lenet      LeNet-5 train step: batch 64, cross entropy, Adam (the main job's step)
    mlp        MLP 784-128-10 train step: batch 64, cross entropy, Adam
    conv2d     conv2d fwd+bwd, 64x32x16x16 -> 64, 3x3 pad 1
    attention  scaled_dot_product_attention fwd+bwd, causal: B 8, 4 heads, T 128, hs 64
    lstm       nn.LSTM fwd+bwd: input 28, hidden 128, T 28, batch 64

``--tiny`` shrinks the shapes (a smoke test: small products go to BLAS and compile less).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timing, summary, write_json  # noqa: E402

WORKLOADS = ("lenet", "mlp", "conv2d", "attention", "lstm")


def _workload(name: str, tiny: bool):
    """``(shape text, step)``: one call of the workload, built with tinygrad_edu."""
    import numpy as np

    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    rng = np.random.default_rng(0)

    def tensor(*shape, requires_grad=False):
        array = rng.standard_normal(shape).astype(np.float32)
        return tg.tensor(array, requires_grad=requires_grad)

    n = 4 if tiny else 64
    if name in ("lenet", "mlp"):  # step_breakdown.py's train step, phases not timed
        import step_breakdown

        step = step_breakdown.tinygrad_step(name, *step_breakdown.batch(name, n))
        return f"batch {n}", lambda: step(lambda phase: None)
    if name == "conv2d":
        C, H, OC = (4, 6, 8) if tiny else (32, 16, 64)
        x = tensor(n, C, H, H, requires_grad=True)
        w, b = tensor(OC, C, 3, 3, requires_grad=True), tensor(OC, requires_grad=True)
        dy = tensor(n, OC, H, H)

        def step():
            F.conv2d(x, w, b, padding=1).backward(dy)
            x.grad = w.grad = b.grad = None

        return f"{n}x{C}x{H}x{H}->{OC} 3x3 p1", step
    if name == "attention":
        B, T, hs = (1, 16, 8) if tiny else (8, 128, 64)
        q, k, v = (tensor(B, 4, T, hs, requires_grad=True) for _ in range(3))

        def step():
            F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
            q.grad = k.grad = v.grad = None

        return f"B{B} nh4 T{T} hs{hs} causal", step
    if name == "lstm":
        hidden, T = (8, 5) if tiny else (128, 28)
        lstm = tg.nn.LSTM(28, hidden, batch_first=True)
        x = tensor(n, T, 28, requires_grad=True)

        def step():
            out, _ = lstm(x)
            out.sum().backward()
            x.grad = None
            lstm.zero_grad()

        return f"I28 H{hidden} T{T} B{n}", step
    raise ValueError(f"compile_time: unknown workload {name!r}; expected one of {WORKLOADS}")


def child(name: str, tiny: bool) -> dict:
    """Run in a child process: import, then time the workload's first and second call and
    count the Numba compilations of the first. Prints and returns a JSON-able dict."""
    start = time.perf_counter()
    import numba
    from numba.core import event

    import tinygrad_edu as tg

    tg.set_num_threads(1)
    imported = time.perf_counter() - start
    compiles = {"all": 0, "top": 0}
    depth = [0]

    class Counter(event.Listener):
        def on_start(self, ev):
            compiles["all"] += 1
            compiles["top"] += depth[0] == 0
            depth[0] += 1

        def on_end(self, ev):
            depth[0] -= 1

    shape, step = _workload(name, tiny)
    counter = Counter()
    event.register("numba:compile", counter)
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    event.unregister("numba:compile", counter)
    start = time.perf_counter()
    step()
    second = time.perf_counter() - start
    result = {"workload": name, "shape": shape, "import_s": imported, "first_s": first,
              "second_s": second, "compiles": compiles["all"], "top_compiles": compiles["top"],
              "numba": numba.__version__}
    print(json.dumps(result))
    return result


def run_child(name: str, tiny: bool, cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("TINYGRAD_EDU_NUMBA_CACHE", None)  # the disk cache on: what is measured
    command = [sys.executable, __file__, "--child", name] + (["--tiny"] if tiny else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"compile_time: the {name} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, tiny: bool) -> list[Timing]:
    with tempfile.TemporaryDirectory(prefix="tinygrad-edu-numba-cache-") as cache_dir:
        cold = run_child(name, tiny, cache_dir)
        warm = run_child(name, tiny, cache_dir)
    rows = []
    for impl, r in (("cold cache", cold), ("warm cache", warm)):
        rows.append(Timing(f"{name} first call", impl, r["shape"], r["first_s"] * 1e3,
                           r["first_s"] * 1e3, 1,
                           {"steady_ms": round(r["second_s"] * 1e3, 2),
                            "import_s": round(r["import_s"], 2), "compiles": r["compiles"],
                            "top_compiles": r["top_compiles"]}))
    return rows


def print_compile_table(rows: list[Timing]) -> None:
    warm = {r.name: r.median_ms for r in rows if r.impl == "warm cache"}
    header = (f"{'workload':<22} {'cache':<11} {'shape':<26} {'first call s':>12} "
              f"{'vs warm':>8} {'steady ms':>10} {'compiled':>9} {'import s':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r.median_ms / warm[r.name] if warm.get(r.name) else float("nan")
        print(f"{r.name:<22} {r.impl:<11} {r.shape:<26} {r.median_ms / 1e3:>12.2f} "
              f"{ratio:>7.1f}x {r.extra['steady_ms']:>10.2f} {r.extra['top_compiles']:>9} "
              f"{r.extra['import_s']:>9.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {WORKLOADS}")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes: a smoke test")
    parser.add_argument("--json", default="bench_results/compile_time.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.tiny)
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f"--only: unknown workload(s) {unknown}; expected names from {WORKLOADS}")
    rows = []
    for name in names:
        rows += measure(name, args.tiny)
    print_compile_table(rows)
    write_json(args.json, rows, {"tiny": args.tiny, "threads": 1})
    return 0


if __name__ == "__main__":
    sys.exit(main())
