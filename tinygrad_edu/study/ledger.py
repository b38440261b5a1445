"""Which arrays does every op keep alive for its backward, and how many bytes is that?

The forward pass of a model that requires grad does not just compute: every op records a node
that keeps what its backward may need, and all of it stays alive until ``backward()`` frees
it. That is the *activation memory* that grows with batch size and depth, and that
``no_grad()`` (inference) and checkpointing avoid.

What an op of this engine keeps (the heuristic of this ledger):

- ``ctx.inputs``: every input tensor, always (``Function.apply`` stores them all). Some
  backwards only read their shapes (``Add``); PyTorch's add would save nothing there;
- its output, if its backward reads ``self.output`` (found by looking for ``self.output`` in
  the source of the class's ``backward``; e.g. ``Exp``, ``Tanh``, ``Softmax``);
- what ``forward`` passed to ``save_for_backward`` (``ctx.saved``);
- array attributes set on the ctx (``self.mask = ...`` in ``MaxReduce``, index arrays).

Arrays are counted two ways: per op (each op's row, ``sum_bytes`` adds the rows, so an array
two ops keep counts twice) and as memory (``total_bytes``: unique buffers, a view such as a
transpose counted as the array it views). ``activation_bytes`` leaves out the buffers of leaf
tensors (parameters, inputs), which exist with or without a graph.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from ..autograd import add_hook, enable_grad, no_grad
from ..tensor import Tensor
from ._common import (
    ModuleScope,
    fmt_bytes,
    fmt_shape,
    format_table,
    inside_backward,
    is_array,
    source_line,
)

_NOT_KEPT = {"inputs", "saved", "needs_input_grad", "_output_ref", "hook_args", "hook_kwargs",
             "created_at", "freed"}
_USES_OUTPUT: dict[type, bool] = {}


def backward_uses_output(cls) -> bool:
    """True if ``cls.backward``'s source mentions ``self.output`` (the ledger's heuristic)."""
    known = _USES_OUTPUT.get(cls)
    if known is None:
        try:
            known = "self.output" in inspect.getsource(cls.backward)
        except (OSError, TypeError):  # no source (built in a REPL): assume it does not
            known = False
        _USES_OUTPUT[cls] = known
    return known


def _root(array):
    """The array that owns the memory ``array`` views (itself if it owns its memory)."""
    while is_array(getattr(array, "base", None)):
        array = array.base
    return array


@dataclass
class KeptArray:
    """One array an op keeps: ``what`` ("input 0", "output", "saved 0", "attr mask")."""

    what: str
    shape: tuple
    dtype: str
    nbytes: int
    buffer: int  # id of the array owning the memory
    buffer_nbytes: int
    leaf: bool  # belongs to a leaf tensor (parameter or input): exists without a graph too


@dataclass
class LedgerRow:
    index: int
    op: str
    where: str
    source: str
    kept: list = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes for k in self.kept)


class Ledger:
    """The result of ``saved_tensor_ledger``: ``rows`` (one per op that recorded a node),
    ``sum_bytes``, ``total_bytes``, ``activation_bytes``, ``peak_bytes``, ``timeline``,
    ``no_grad_bytes`` (what the same run keeps under ``no_grad()``: nothing) and
    ``no_grad_saving_bytes`` (what that saves: the activations)."""

    def __init__(self, rows: list[LedgerRow], skipped: int, no_grad_bytes: int | None):
        self.rows = rows
        self.skipped = skipped  # op calls that recorded no node (no input required grad)
        self.no_grad_bytes = no_grad_bytes
        self.timeline = self._timeline()

    @property
    def sum_bytes(self) -> int:
        return sum(row.nbytes for row in self.rows)

    def _buffers(self, activations_only: bool = False) -> dict:
        """buffer id -> bytes; a buffer a leaf tensor owns (e.g. a weight, also kept through
        its transposed view) is not an activation."""
        leaves = {k.buffer for row in self.rows for k in row.kept if k.leaf}
        buffers = {}
        for row in self.rows:
            for k in row.kept:
                if not (activations_only and k.buffer in leaves):
                    buffers[k.buffer] = k.buffer_nbytes
        return buffers

    @property
    def total_bytes(self) -> int:
        return sum(self._buffers().values())

    @property
    def activation_bytes(self) -> int:
        return sum(self._buffers(activations_only=True).values())

    @property
    def no_grad_saving_bytes(self) -> int | None:
        """Memory ``no_grad()`` saves: the activations the graph keeps (what the same run keeps
        without a graph subtracted). Not ``total_bytes``: the parameters and inputs it also
        counts exist with or without a graph. None when no no_grad run was measured."""
        if self.no_grad_bytes is None:
            return None
        return max(self.activation_bytes - self.no_grad_bytes, 0)

    @property
    def peak_bytes(self) -> int:
        return max((bytes_ for _, _, bytes_ in self.timeline), default=0)

    def _timeline(self) -> list:
        """(phase, op, bytes kept alive by the graph) after each forward op, then after each
        backward node frees its arrays (in reverse order, as ``backward()`` does). Nothing is
        freed during the forward pass, so the peak is where forward ends and backward begins."""
        holders: dict[int, int] = {}
        sizes: dict[int, int] = {}
        timeline = []
        alive = 0
        for row in self.rows:
            for buffer in {k.buffer for k in row.kept}:
                if holders.get(buffer, 0) == 0:
                    alive += next(k.buffer_nbytes for k in row.kept if k.buffer == buffer)
                    sizes[buffer] = next(k.buffer_nbytes for k in row.kept if k.buffer == buffer)
                holders[buffer] = holders.get(buffer, 0) + 1
            timeline.append(("forward", row.op, alive))
        for row in reversed(self.rows):
            for buffer in {k.buffer for k in row.kept}:
                holders[buffer] -= 1
                if holders[buffer] == 0:
                    alive -= sizes[buffer]
            timeline.append(("backward", row.op, alive))
        return timeline

    def __str__(self) -> str:
        rows = []
        for row in self.rows:
            kept = ", ".join(f"{k.what} {fmt_shape(k.shape)}" for k in row.kept) or "-"
            rows.append([row.index, row.op, row.where, kept, fmt_bytes(row.nbytes)])
        table = format_table(["#", "op", "where", "kept for backward", "bytes"], rows,
                             right={0, 4})
        lines = [
            f"saved-tensor ledger: {len(self.rows)} ops recorded a node "
            f"({self.skipped} op calls needed none)",
            table,
            f"sum over ops          {fmt_bytes(self.sum_bytes):>12}   (an array kept by two "
            "ops counts twice)",
            f"memory kept by graph  {fmt_bytes(self.total_bytes):>12}   (unique buffers; views "
            "count as the array they view)",
            f"  of which activations {fmt_bytes(self.activation_bytes):>11}   (not parameters "
            "or inputs: freed only by backward)",
            f"peak                  {fmt_bytes(self.peak_bytes):>12}   (end of forward: the "
            "graph frees nothing before backward)",
        ]
        if self.no_grad_bytes is not None:
            lines.append(f"under no_grad()       {fmt_bytes(self.no_grad_bytes):>12}   "
                         f"(saves the {fmt_bytes(self.no_grad_saving_bytes)} of activations; "
                         "parameters and inputs exist either way)")
        return "\n".join(lines)

    __repr__ = __str__


def _kept_arrays(fn, out: Tensor) -> list[KeptArray]:
    """What ``fn`` keeps (see the module docstring), each array once."""
    found = []
    for i, t in enumerate(fn.inputs):
        found.append((f"input {i}", t.data))
    if backward_uses_output(type(fn)):
        found.append(("output", out.data))
    for i, value in enumerate(fn.saved):
        data = value.data if isinstance(value, Tensor) else value
        if is_array(data):
            found.append((f"saved {i}", data))
    for name, value in vars(fn).items():
        if name in _NOT_KEPT:
            continue
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            data = v.data if isinstance(v, Tensor) else v
            if is_array(data):
                found.append((f"attr {name}", data))
    kept, seen = [], set()
    leaf_buffers = {id(_root(t.data)) for t in fn.inputs if t._ctx is None}
    for what, data in found:
        if id(data) in seen:
            continue
        seen.add(id(data))
        root = _root(data)
        kept.append(KeptArray(what, tuple(data.shape), str(data.dtype), int(data.nbytes),
                              id(root), int(root.nbytes), id(root) in leaf_buffers))
    return kept


class _LedgerHook:
    def __init__(self, scope: ModuleScope):
        self.scope = scope
        self.rows: list[LedgerRow] = []
        self.skipped = 0
        self.keep: list = []  # the arrays' owners stay alive so their ids stay unique

    def on_forward(self, fn, out, seconds):
        if inside_backward():
            return
        if out._ctx is not fn:
            self.skipped += 1  # no node recorded: nothing kept
            return
        row = LedgerRow(len(self.rows), fn.name, self.scope.current(), source_line())
        row.kept = _kept_arrays(fn, out)
        self.keep.append((fn, out))
        self.rows.append(row)


def saved_tensor_ledger(fn, *inputs, compare_no_grad: bool = True) -> Ledger:
    """Run ``fn(*inputs)`` (a function or an ``nn.Module``) and list what every op keeps for
    backward; with ``compare_no_grad`` it runs again under ``no_grad()`` and measures that too.

    >>> import tinygrad_edu as tg
    >>> w = tg.randn(3, 2, requires_grad=True)
    >>> ledger = saved_tensor_ledger(lambda x: (x @ w).exp(), tg.randn(4, 3))
    >>> [row.op for row in ledger.rows], ledger.sum_bytes   # (48 + 24) + (32 + 32) bytes
    (['MatMul', 'Exp'], 136)
    >>> ledger.no_grad_bytes
    0
    """
    with ModuleScope(fn) as scope:
        hook = _LedgerHook(scope)
        with add_hook(hook), enable_grad():
            fn(*inputs)
    no_grad_bytes = None
    if compare_no_grad:
        inference = _LedgerHook(ModuleScope(None))
        with add_hook(inference), no_grad():
            fn(*inputs)
        no_grad_bytes = sum(row.nbytes for row in inference.rows)
    return Ledger(hook.rows, hook.skipped, no_grad_bytes)
