"""Watch the backward pass run: one printed step per node of the graph walk.

Each step shows the op, its derivative rule (the first line of its ``Function`` docstring), the
source line of its forward call, the gradient arriving from above (shape, norm) and every
gradient it sends to its inputs. Two things that are easy to miss are flagged:

- **broadcast sums**: a binary op whose input was broadcast in the forward sums the gradient
  over the broadcast axes (its backward calls ``sum_to``; the tracer sees that ``SumTo`` run);
- **accumulation**: a tensor used by several ops receives one gradient from each, and the walk
  adds them up (the chain rule's sum over paths); the step that adds to an existing gradient
  is marked.

Usage::

    with BackwardTracer() as tracer:        # forward inside: source lines are recorded
        loss = model(x).sum()
        loss.backward()
    tracer.events                           # the structured steps

    events = trace_backward(loss)           # graph built earlier: no source lines
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass, field

from ..autograd import add_hook
from ..functional.shape import SumTo
from ._common import backward_depth, first_doc_line, fmt_shape, norm, source_line


@dataclass
class GradInput:
    """The gradient one node sends to one of its inputs."""

    index: int
    shape: tuple | None  # None when the input needs no gradient
    norm: float | None
    broadcast_from: tuple | None = None  # the broadcast shape the gradient was summed from
    broadcast_axes: tuple | None = None
    accumulated: bool = False  # added to a gradient that input already had from another op


@dataclass
class BackwardEvent:
    """One step of the graph walk: node ``op`` turned ``grad_output`` into ``grad_inputs``."""

    step: int
    op: str
    rule: str
    source: str
    input_shapes: list
    grad_output_shape: tuple
    grad_output_norm: float
    grad_inputs: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def broadcast_sums(self) -> list:
        return [g for g in self.grad_inputs if g.broadcast_axes is not None]

    @property
    def accumulations(self) -> list:
        return [g for g in self.grad_inputs if g.accumulated]

    def format(self) -> str:
        lines = [f"step {self.step:<3} {self.op:<12} {self.rule}",
                 f"         forward at {self.source}",
                 f"         grad_output   {fmt_shape(self.grad_output_shape):<12} "
                 f"|g| = {self.grad_output_norm:.4g}"]
        for g in self.grad_inputs:
            if g.shape is None:
                lines.append(f"         -> input {g.index}    (needs no gradient)")
                continue
            text = f"         -> input {g.index}    {fmt_shape(g.shape):<12} |g| = {g.norm:.4g}"
            if g.broadcast_axes is not None:
                text += (f"   summed broadcast axes {g.broadcast_axes}: "
                         f"{fmt_shape(g.broadcast_from)} -> {fmt_shape(g.shape)}")
            if g.accumulated:
                text += "   accumulated: += into the gradient this tensor already had"
            lines.append(text)
        return "\n".join(lines)


class BackwardTracer:
    """Context manager: print (to ``file``; None for silence) and record every backward step.

    Ops run inside the block have their forward source line recorded (only while the tracer is
    active: nothing is recorded otherwise). ``events`` lists the steps of every backward pass
    run inside the block, in the order the walk visited them (reverse topological order).
    """

    def __init__(self, file=sys.stdout):
        self.file = file
        self.events: list[BackwardEvent] = []
        self._sources: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._sum_tos: list = []
        self._context = None

    def __enter__(self) -> BackwardTracer:
        self._context = add_hook(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        self._context.__exit__(*exc)
        self._context = None
        self._sum_tos.clear()
        return False

    # -- hooks called by the engine -----------------------------------------------------------

    def on_forward(self, fn, out, seconds):
        depth = backward_depth()
        if depth == 0:
            self._sources[fn] = source_line()
        elif depth == 1 and isinstance(fn, SumTo):
            x = fn.hook_args[0]
            self._sum_tos.append((tuple(x.shape), tuple(fn.hook_kwargs["shape"]), fn.axes))

    def on_backward(self, fn, grad_output, grad_inputs, seconds):
        if backward_depth() > 1:
            return  # a walk that a fused op's backward runs itself: part of that op's step
        sum_tos, self._sum_tos = self._sum_tos, []
        source = self._sources.get(fn) or fn.created_at or "<forward ran outside the tracer>"
        event = BackwardEvent(
            step=len(self.events) + 1,
            op=fn.name,
            rule=first_doc_line(type(fn)),
            source=source,
            input_shapes=[tuple(t.shape) for t in fn.inputs],
            grad_output_shape=tuple(grad_output.shape),
            grad_output_norm=norm(grad_output),
            seconds=seconds,
        )
        for i, (inp, gi) in enumerate(zip(fn.inputs, grad_inputs, strict=True)):
            if gi is None:
                event.grad_inputs.append(GradInput(i, None, None))
                continue
            record = GradInput(i, tuple(gi.shape), norm(gi))
            for k, (from_shape, to_shape, axes) in enumerate(sum_tos):
                if to_shape == tuple(inp.shape):
                    record.broadcast_from, record.broadcast_axes = from_shape, tuple(axes)
                    del sum_tos[k]
                    break
            record.accumulated = bool(fn.accumulated_inputs[i])  # set by the walk for hooks
            event.grad_inputs.append(record)
        self.events.append(event)
        if self.file is not None:
            print(event.format(), file=self.file)


def trace_backward(tensor, file=sys.stdout, gradient=None, retain_graph: bool = False,
                   create_graph: bool = False) -> list:
    """Run ``tensor.backward(...)`` while printing every step; return the ``BackwardEvent`` list.

    The graph was built before the tracer started, so forward source lines are only known in
    anomaly mode (``detect_anomaly()``); build the graph inside ``BackwardTracer()`` to see
    them.

    >>> import tinygrad_edu as tg
    >>> b = tg.zeros(3, requires_grad=True)
    >>> x = tg.ones(2, 3, requires_grad=True)
    >>> events = trace_backward((x + b).sum(), file=None)
    >>> [(e.op, [g.broadcast_axes for g in e.grad_inputs]) for e in events]
    [('Sum', [None]), ('Add', [None, (0,)])]
    """
    with BackwardTracer(file) as tracer:
        tensor.backward(gradient, retain_graph=retain_graph, create_graph=create_graph)
    return tracer.events
