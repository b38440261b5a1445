"""Where does the time go? Forward and backward seconds and call counts per op.

``OpProfiler`` installs itself in ``Config.hooks`` only inside its ``with`` block: the engine
then times every op's forward and every node's backward (``time.perf_counter`` around the
call) and hands the seconds to the profiler. Outside the block ``Config.hooks`` is empty and
the engine pays one truth test per op.

Rows are keyed by op, device and implementation: "numpy"/"cupy" for ops written against the
array module, the kernel choice (``Config.kernel`` resolved for the device: "reference",
"numba", "cuda") for kernel-backed ops (``once_differentiable`` or a ``kernel_family``
attribute on the Function class), and the folder of the kernels module a fused op was handed
(``kernels=`` of GELU and the norms: ``kernels/cpu`` is "numba"). Ops that call a Numba kernel
from inside an array-module forward (MatMul's GEMM, Relu) are listed as "numpy".

Ops that run *inside* a backward (a ``Mul``'s backward multiplies) are counted apart, in the
"in bwd" column: their time is already part of the backward time of the node that ran them. So
are the nodes of a graph walk that a backward runs itself (a fused op such as GELU
differentiating its composite under ``create_graph``).
The profiler's own bookkeeping for those inner ops is subtracted from that backward time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import backend
from ..autograd import Config, add_hook
from ._common import backward_depth, format_table, inside_backward


@dataclass
class OpStats:
    forward_calls: int = 0
    forward_seconds: float = 0.0
    backward_calls: int = 0
    backward_seconds: float = 0.0
    inner_calls: int = 0  # applied inside some backward (time counted in that backward)
    inner_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return self.forward_seconds + self.backward_seconds


# the folders of tinygrad_edu.kernels and the implementation each holds
_KERNEL_FOLDERS = {"reference": "reference", "cpu": "numba", "cuda": "cuda"}


def _implementation(fn, device) -> str:
    cls = type(fn)
    kernels = getattr(fn, "hook_kwargs", {}).get("kernels")  # fused ops: GELU, the norms
    if kernels is not None:
        folder = getattr(kernels, "__name__", "").split(".")[-2:-1]
        if folder and folder[0] in _KERNEL_FOLDERS:
            return _KERNEL_FOLDERS[folder[0]]
    if getattr(cls, "once_differentiable", False) or getattr(cls, "kernel_family", None):
        try:
            return backend.resolve_kernel_choice(Config.kernel, device.type == "cuda")
        except (RuntimeError, ValueError):
            return Config.kernel
    return "cupy" if device.type == "cuda" else "numpy"


class OpProfiler:
    """Context manager: time every op and node inside the block.

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(8, 4, requires_grad=True)
    >>> with OpProfiler() as prof:
    ...     (x.tanh() * 2).sum().backward()
    >>> prof.forward_counts()
    {'Tanh': 1, 'Mul': 1, 'Sum': 1}
    >>> prof.backward_counts() == {"Sum": 1, "Mul": 1, "Tanh": 1}
    True
    """

    def __init__(self):
        self.stats: dict[tuple, OpStats] = {}
        self._context = None
        self._inner_overhead = 0.0

    def __enter__(self) -> OpProfiler:
        self._context = add_hook(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        self._context.__exit__(*exc)
        self._context = None
        return False

    def _stats(self, fn, device) -> OpStats:
        key = (fn.name, str(device), _implementation(fn, device))
        stats = self.stats.get(key)
        if stats is None:
            stats = self.stats[key] = OpStats()
        return stats

    # -- hooks called by the engine -----------------------------------------------------------

    def on_forward(self, fn, out, seconds):
        start = time.perf_counter()
        stats = self._stats(fn, out.device)
        if inside_backward():
            stats.inner_calls += 1
            stats.inner_seconds += seconds
            self._inner_overhead += time.perf_counter() - start
        else:
            stats.forward_calls += 1
            stats.forward_seconds += seconds

    def on_backward(self, fn, grad_output, grad_inputs, seconds):
        start = time.perf_counter()
        stats = self._stats(fn, grad_output.device)
        if backward_depth() > 1:
            # a node of a walk that some node's backward runs itself (GELU, a batch norm under
            # create_graph): its time is part of that backward, like an op's inside it
            stats.inner_calls += 1
            stats.inner_seconds += seconds
            self._inner_overhead += time.perf_counter() - start
            return
        stats.backward_calls += 1
        stats.backward_seconds += max(seconds - self._inner_overhead, 0.0)
        self._inner_overhead = 0.0

    # -- results ------------------------------------------------------------------------------

    def forward_counts(self) -> dict:
        """Forward calls per op name (ops applied inside a backward not included)."""
        return self._by_op("forward_calls")

    def backward_counts(self) -> dict:
        """Backward calls (graph nodes visited) per op name."""
        return self._by_op("backward_calls")

    def _by_op(self, attribute: str) -> dict:
        counts: dict[str, int] = {}
        for (op, _, _), stats in self.stats.items():
            value = getattr(stats, attribute)
            if value:
                counts[op] = counts.get(op, 0) + value
        return counts

    @property
    def total_seconds(self) -> float:
        return sum(s.total_seconds for s in self.stats.values())

    def table(self, sort_by: str = "total") -> str:
        """The per-op table, sorted by "total", "forward", "backward" or "calls"."""
        keys = {
            "total": lambda item: -item[1].total_seconds,
            "forward": lambda item: -item[1].forward_seconds,
            "backward": lambda item: -item[1].backward_seconds,
            "calls": lambda item: -(item[1].forward_calls + item[1].backward_calls),
        }
        if sort_by not in keys:
            raise ValueError(f"OpProfiler.table: sort_by must be one of {sorted(keys)}, "
                             f"got {sort_by!r}")
        total = self.total_seconds or 1.0
        rows = []
        for (op, device, impl), s in sorted(self.stats.items(), key=keys[sort_by]):
            rows.append([op, device, impl, s.forward_calls, f"{s.forward_seconds * 1e3:.3f}",
                         s.backward_calls, f"{s.backward_seconds * 1e3:.3f}", s.inner_calls,
                         f"{s.total_seconds * 1e3:.3f}", f"{100 * s.total_seconds / total:.1f}"])
        table = format_table(["op", "device", "impl", "fwd calls", "fwd ms", "bwd calls",
                              "bwd ms", "in bwd", "total ms", "%"], rows,
                             right={3, 4, 5, 6, 7, 8, 9})
        return f"{table}\ntotal {self.total_seconds * 1e3:.3f} ms"

    def __str__(self) -> str:
        return self.table()
