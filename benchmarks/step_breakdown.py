"""Where a train step's time goes: each phase of tinygrad_edu's step next to the same phase of the
plain-NumPy floor, and the difference, the framework's price per phase.

    python benchmarks/step_breakdown.py [--model mlp|lenet|all] [--steps N] [--rounds N]
                                        [--calls] [--ops] [--kept-columns] [--tiny]
                                        [--json OUT]

The phases of one step, timed inside the step (the clock is read as each phase ends):

    forward    model(x): modules, ops, graph recording  | the floor: the same math by hand
    loss       cross entropy                            | KernelLayers.cross_entropy
    backward   loss.backward(): the graph walk          | the gradients by hand
    optimizer  zero_grad() + Adam's step                | the same Adam update per parameter

Both sides use the same kernels (the floors of ``run.py``: Numba GEMM, im2col, pooling, Adam),
so the difference is the price of modules, Tensors, graph recording and the walk. LeNet-5's
floor is run.py's bounded one: the batch in chunks within conv2d's im2col budget and the
columns made again in the backward, as the library does (``--kept-columns``: the floor that
keeps every column matrix, which adds the price of bounded memory to the difference). ``--calls``
adds the number of Python-level calls per phase (cProfile, in a separate untimed pass): at
0.1-0.2 us each in a real step, they are most of that price. ``--ops`` splits tinygrad_edu's
side of each phase in two (another separate pass, whose timers add about 0.2 us per op call):
the time inside the ops' own ``forward`` and ``backward`` methods (the kernels, plus each op's
argument handling and kernel lookup) and the rest (modules, Tensors, graph recording, the
walk, the optimizer's loop), so the price can be placed: inside the ops, or around them.

Each column is the minimum (and median) over ``--steps`` steps, taken in ``--rounds`` warmed-up
blocks in which the two sides take turns; one thread per library, run.py's fixed malloc
thresholds. Minimums are the stable statistic on a shared machine; medians move with whatever
else it runs. The "step" row sums the phases step by step.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import Timing, summary, write_json  # noqa: E402

PHASES = ("forward", "loss", "backward", "optimizer")
MODELS = ("mlp", "lenet")


class PhaseClock:
    """``tick(phase)`` records the seconds since the previous tick (or ``start()``)."""

    def __init__(self):
        self.seconds = {phase: [] for phase in PHASES}
        self.last = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()

    def tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase].append(now - self.last)
        self.last = now


class PhaseCalls:
    """``tick(phase)`` adds the calls that cProfile saw since the previous tick to ``phase``."""

    def __init__(self):
        self.calls = {phase: 0 for phase in PHASES}
        self.profiler = cProfile.Profile()

    def start(self) -> None:
        self.profiler.enable()

    def tick(self, phase: str) -> None:
        self.profiler.disable()
        stats = pstats.Stats(self.profiler)
        self.calls[phase] += sum(calls for calls, *_ in stats.stats.values())
        self.profiler.clear()
        self.profiler.enable()

    def stop(self) -> None:
        self.profiler.disable()


class OpClock:
    """``tick(phase)`` records the seconds spent inside op methods (``forward``, ``backward`` of
    every Function, outermost calls only) since the previous tick, as wrapped by ``timed``."""

    def __init__(self):
        self.seconds = {phase: [] for phase in PHASES}
        self.inside = 0.0
        self.depth = 0

    def start(self) -> None:
        self.inside = 0.0

    def tick(self, phase: str) -> None:
        self.seconds[phase].append(self.inside)
        self.inside = 0.0

    def timed(self, method):
        clock = self

        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            if clock.depth:  # an op inside an op's method: its time is counted already
                return method(*args, **kwargs)
            clock.depth = 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                clock.inside += time.perf_counter() - start
                clock.depth = 0

        return wrapper


@contextlib.contextmanager
def ops_timed(clock: OpClock):
    """Every Function subclass's own ``forward`` and ``backward`` wrapped by ``clock.timed``
    inside the block, restored after it."""
    from tinygrad_edu.autograd import Function

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    saved = []
    for cls in set(subclasses(Function)):
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                saved.append((cls, name, cls.__dict__[name]))
                setattr(cls, name, clock.timed(cls.__dict__[name]))
    try:
        yield
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)


def tinygrad_step(model_name: str, x, target):
    """tinygrad_edu's train step as ``step(tick)``, ticking after each phase."""
    import tinygrad_edu as tg
    from tinygrad_edu.models.cnn import LeNet5
    from tinygrad_edu.models.mlp import MLP
    from tinygrad_edu.nn.functional import cross_entropy

    model = MLP() if model_name == "mlp" else LeNet5()
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    X, Y = tg.tensor(x), tg.tensor(target)

    def step(tick):
        logits = model(X)
        tick("forward")
        loss = cross_entropy(logits, Y)
        tick("loss")
        loss.backward()
        tick("backward")
        opt.step()
        opt.zero_grad()
        tick("optimizer")

    return step


def floor_step(model_name: str, x, target, kept_columns: bool = False):
    """The plain-NumPy floor of run.py for the same model, ticking after each phase. LeNet-5's
    is the bounded one (conv2d's im2col budget: the same math as the library) unless
    ``kept_columns`` asks for the floor that keeps each convolution's columns."""
    import run

    if model_name == "mlp":
        floor = run.NpMLP(np, run.KernelLayers(np, "numba"))
    elif kept_columns:
        floor = run.NpLeNet5(np, run.KernelLayers(np, "numba"))
    else:
        floor = run._bounded_lenet_floor(np, "numba")
    return lambda tick: floor.step(x, target, tick)


def batch(model_name: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (n, 784) if model_name == "mlp" else (n, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, n)


def count_calls(step, rounds: int = 5) -> dict:
    """Python-level calls per phase of one step (cProfile; the mean of ``rounds`` steps)."""
    counter = PhaseCalls()
    for _ in range(rounds):
        counter.start()
        step(counter.tick)
    counter.stop()
    return {phase: n / rounds for phase, n in counter.calls.items()}


def time_in_ops(step, steps: int, warmup: int) -> OpClock:
    """Seconds inside op methods per phase of ``step``: a separate, instrumented pass."""
    clock = OpClock()
    with ops_timed(clock):
        for _ in range(warmup):
            clock.start()
            step(lambda phase: None)
        clock.seconds = {phase: [] for phase in PHASES}
        for _ in range(max(1, steps)):
            clock.start()
            step(clock.tick)
    return clock


def breakdown(model_name: str, n: int, steps: int, warmup: int, rounds: int,
              calls: bool, ops: bool = False, kept_columns: bool = False) -> list[Timing]:
    """Rows (one per phase and implementation, plus the whole step) for one model.

    The two implementations take turns in ``rounds`` blocks of ``steps / rounds`` steps (never
    interleaved within a block), so a machine whose speed drifts moves both alike."""
    x, target = batch(model_name, n)
    impls = {"tinygrad_edu": tinygrad_step(model_name, x, target),
             "numpy floor": floor_step(model_name, x, target, kept_columns)}
    clocks = {impl: PhaseClock() for impl in impls}
    for _ in range(rounds):
        for impl, step in impls.items():
            warm = PhaseClock()
            for _ in range(warmup):
                warm.start()
                step(warm.tick)
            for _ in range(max(1, steps // rounds)):
                clocks[impl].start()
                step(clocks[impl].tick)
    counts = {impl: count_calls(step) for impl, step in impls.items()} if calls else {}
    in_ops = time_in_ops(impls["tinygrad_edu"], steps // rounds, warmup) if ops else None
    rows = []
    for phase in (*PHASES, "step"):
        for impl, clock in clocks.items():
            per_phase = clock.seconds if phase == "step" else {phase: clock.seconds[phase]}
            totals = [sum(t) * 1e6 for t in zip(*per_phase.values())]  # us per step
            extra = {"unit": "us"}
            if impl in counts:
                extra["calls"] = round(sum(counts[impl][p] for p in per_phase), 1)
            if in_ops is not None and impl == "tinygrad_edu":
                inside = [sum(t) * 1e6 for t in zip(*(in_ops.seconds[p] for p in per_phase))]
                extra["in_ops_us"] = round(min(inside), 1)  # the minimum, as the columns
            rows.append(Timing(f"{model_name} {phase}", impl, f"batch {n}",
                               statistics.median(totals), min(totals), len(totals), extra))
    return rows


def print_breakdown(rows: list[Timing]) -> None:
    """One line per phase: tinygrad_edu, the floor, and the framework's price (min - min)."""
    by_key = {(r.name, r.impl): r for r in rows}
    names = list(dict.fromkeys(r.name for r in rows))
    print(f"{'phase':18s} {'tinygrad_edu us':>20s} {'floor us':>20s} {'framework us':>13s} "
          f"{'calls':>12s} {'tg in ops us':>13s}")
    print(f"{'':18s} {'min (median)':>20s} {'min (median)':>20s} {'(min - min)':>13s} "
          f"{'tg / floor':>12s} {'(min)':>13s}")
    for name in names:
        tg_row, floor_row = by_key[(name, "tinygrad_edu")], by_key[(name, "numpy floor")]
        calls = in_ops = ""
        if "calls" in tg_row.extra:
            calls = f"{tg_row.extra['calls']:.0f} / {floor_row.extra['calls']:.0f}"
        if "in_ops_us" in tg_row.extra:
            in_ops = f"{tg_row.extra['in_ops_us']:.1f}"
        print(f"{name:18s} {tg_row.min_ms:9.1f} ({tg_row.median_ms:8.1f}) "
              f"{floor_row.min_ms:9.1f} ({floor_row.median_ms:8.1f}) "
              f"{tg_row.min_ms - floor_row.min_ms:+13.1f} {calls:>12s} {in_ops:>13s}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--steps", type=int, default=1000, help="timed steps per side")
    parser.add_argument("--rounds", type=int, default=5,
                        help="blocks the steps are split into, the two sides taking turns")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--calls", action="store_true",
                        help="count Python-level calls per phase (cProfile, untimed pass)")
    parser.add_argument("--ops", action="store_true",
                        help="time inside the ops' forward/backward methods (separate pass)")
    parser.add_argument("--kept-columns", action="store_true",
                        help="LeNet-5 against the floor that keeps its convolutions' columns "
                             "(default: the floor with conv2d's im2col budget, the same math)")
    parser.add_argument("--tiny", action="store_true", help="a few steps: a smoke test")
    parser.add_argument("--json", default="bench_results/breakdown.json")
    args = parser.parse_args(argv)

    import run

    run.steady_malloc()
    run.limit_threads(1)
    steps, warmup, rounds = (4, 1, 2) if args.tiny else (args.steps, 20, args.rounds)
    rows = []
    for model_name in MODELS if args.model == "all" else (args.model,):
        rows += breakdown(model_name, args.batch, steps, warmup, rounds, args.calls, args.ops,
                          args.kept_columns)
    print_breakdown(rows)
    write_json(args.json, rows, {"steps": steps, "rounds": rounds, "batch": args.batch,
                                 "threads": 1})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
