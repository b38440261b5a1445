"""Shared benchmark plumbing: warmed-up timing blocks, tables, JSON.

Rules that make numbers trustworthy on a small shared CPU (Numba's guide, llm.c's dev/cuda):
never time the first call (JIT compilation, allocator warm-up); time each implementation in its
own block, never interleaved with a peer (NumPy/torch/Numba thread pools spin after each call
and slow each other down by up to 100x); report the median and the min of many repeats; quote
ratios against a peer measured in the same run; synchronize the GPU before reading the clock.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


def summary(doc: str) -> str:
    """A script docstring's first paragraph on one line: its ``--help`` description (the
    first line alone stops mid-sentence where the summary wraps)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def traced_peak_bytes(step: Callable[[], object]) -> int:
    """Most bytes allocated by ``step`` and alive at once (tracemalloc sees NumPy's arrays).

    Only allocations made inside ``step`` count: the model, the optimizer state and the batch,
    made before, are the steady state every implementation shares."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@dataclass
class Timing:
    name: str  # workload, e.g. "conv2d fwd+bwd"
    impl: str  # implementation, e.g. "tinygrad_edu[numba]" or "torch"
    shape: str
    median_ms: float
    min_ms: float
    repeats: int
    extra: dict = field(default_factory=dict)


def time_block(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 20,
               min_seconds: float = 0.2, sync: Callable[[], object] | None = None,
               inner: int = 1) -> tuple[float, float, int]:
    """Median and min milliseconds of ``fn()`` (divided by ``inner`` calls per sample)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    start_all = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start_all < min_seconds:
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        if sync:
            sync()
        samples.append((time.perf_counter() - start) * 1e3 / inner)
        if len(samples) >= 10 * repeats:
            break
    return statistics.median(samples), min(samples), len(samples)


class CpuSteal:
    """Share of CPU time taken by other processes while a benchmark ran (from /proc)."""

    def __enter__(self):
        self._total0 = self._read_total()
        self._self0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.share = None
        total1 = self._read_total()
        if self._total0 is None or total1 is None:
            return False
        busy_all = total1 - self._total0  # seconds of busy CPU, all processes
        busy_self = time.process_time() - self._self0
        capacity = (time.perf_counter() - self._wall0) * (os.cpu_count() or 1)
        self.share = max(0.0, busy_all - busy_self) / capacity if capacity else None
        return False

    @staticmethod
    def _read_total() -> float | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return None
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
        return busy / os.sysconf("SC_CLK_TCK")


def print_table(rows: list[Timing], peer: str = "torch") -> None:
    """One line per (workload, impl) with the ratio to ``peer`` on the same workload/shape."""
    peers = {(r.name, r.shape): r.median_ms for r in rows if r.impl == peer}
    header = f"{'workload':<26} {'impl':<24} {'shape':<26} {'median ms':>10} {'min ms':>9} " \
             f"{'vs ' + peer:>9}  extra"
    print(header)
    print("-" * len(header))
    for r in rows:
        base = peers.get((r.name, r.shape))
        ratio = f"{r.median_ms / base:8.2f}x" if base else "        -"
        extra = " ".join(f"{k}={v}" for k, v in r.extra.items())
        print(f"{r.name:<26} {r.impl:<24} {r.shape:<26} {r.median_ms:>10.4f} {r.min_ms:>9.4f} "
              f"{ratio}  {extra}")


def write_json(path: str, rows: list[Timing], meta: dict | None = None) -> None:
    payload = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "meta": meta or {},
        "results": [asdict(r) for r in rows],
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"wrote {path}")
