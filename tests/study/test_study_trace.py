"""BackwardTracer / trace_backward: the backward pass, step by step."""

import io

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.autograd import Config, _topological_order
from tinygrad_edu.functional.elementwise import Mul
from tinygrad_edu.study import BackwardTracer, trace_backward


def _expression(device="cpu"):
    x = tg.tensor(np.arange(12.0).reshape(3, 4) / 10, dtype=tg.float32, device=device,
                  requires_grad=True)
    b = tg.tensor([0.1, -0.2, 0.3, 0.4], device=device, requires_grad=True)
    h = x * b + b  # b is broadcast over the rows twice, and used twice
    y = (h.tanh() * h).sum()  # h is used twice
    return x, b, h, y


def test_trace_lists_nodes_in_reverse_topological_order_with_shapes(device):
    out = io.StringIO()
    with BackwardTracer(file=out) as tracer:
        x, b, h, y = _expression(device)
        nodes = [t for t in reversed(_topological_order([y])) if t._ctx is not None]
        expected = [(t._ctx.name, tuple(t.shape), [tuple(i.shape) for i in t._ctx.inputs])
                    for t in nodes]
        y.backward()
    events = tracer.events
    assert [e.op for e in events] == ["Sum", "Mul", "Tanh", "Add", "Mul"]
    assert [(e.op, e.grad_output_shape, e.input_shapes) for e in events] == expected
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    for e in events:  # every gradient has the shape of its input
        assert [g.shape for g in e.grad_inputs] == e.input_shapes
    assert events[0].grad_output_norm == 1.0
    # the norms printed are the norms of the real gradients
    np.testing.assert_allclose(events[-1].grad_inputs[0].norm,
                               np.linalg.norm(np.asarray(x.grad)), rtol=1e-5)
    assert out.getvalue().count("step ") == 5


def test_broadcast_sums_and_accumulation_are_flagged():
    out = io.StringIO()
    with BackwardTracer(file=out) as tracer:
        x, b, h, y = _expression()
        y.backward()
    add, mul = tracer.events[3], tracer.events[4]
    # Add's input 1 (b, shape (4,)) was broadcast to (3, 4): its gradient is summed over axis 0
    assert add.grad_inputs[1].broadcast_axes == (0,)
    assert add.grad_inputs[1].broadcast_from == (3, 4)
    assert add.grad_inputs[0].broadcast_axes is None
    assert [g.index for g in mul.broadcast_sums] == [1]
    # h feeds Tanh and Mul: its second gradient is accumulated (at the Tanh step)
    tanh = tracer.events[2]
    assert [g.index for g in tanh.accumulations] == [0]
    # b feeds Mul and Add: its second gradient arrives at the last Mul step
    assert [g.index for g in mul.accumulations] == [1]
    assert [g.index for g in add.accumulations] == []
    text = out.getvalue()
    assert "summed broadcast axes (0,): (3, 4) -> (4,)" in text
    assert text.count("accumulated") == 2


def test_rule_and_source_line_come_from_the_docstring_and_the_forward():
    with BackwardTracer(file=None) as tracer:
        a = tg.randn(3, requires_grad=True)
        loss = (a * a).sum()  # the traced line
        loss.backward()
    mul = tracer.events[1]
    assert mul.rule == Mul.__doc__.strip().splitlines()[0]
    assert "test_study_trace.py" in mul.source and "(a * a).sum()" in mul.source
    assert mul.grad_inputs[1].accumulated  # a * a: both inputs are a


def test_trace_backward_function_and_hooks_are_removed():
    x = tg.randn(2, 3, requires_grad=True)
    y = (x.exp() * 2.0).mean()
    out = io.StringIO()
    events = trace_backward(y, file=out)
    assert [e.op for e in events] == ["Mul", "Sum", "Mul", "Exp"]
    assert all(e.source == "<forward ran outside the tracer>" for e in events)
    assert events[2].grad_inputs[1].shape is None  # the constant 2.0 gets no gradient
    assert "(needs no gradient)" in out.getvalue()
    assert Config.hooks == ()
    assert x.grad is not None
