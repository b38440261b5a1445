"""The graph walk's shortcuts give the same answers as the long way.

The walk skips the per-input version check when no tensor was updated in place since the
forward (``InPlaceClock``), reports to hooks only when hooks are installed, and ``sum_to`` returns
its input untouched when nothing was broadcast. These tests pin that the shortcuts never hide an
error or change a gradient.
"""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.autograd import InPlaceClock, _topological_order, add_hook
from tinygrad_edu.functional.shape import sum_to


def test_inplace_update_of_an_unrelated_tensor_does_not_trip_the_check():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    other = tg.tensor([0.0, 0.0])
    y = (w * x).sum()
    ticks = InPlaceClock.ticks
    other += 1.0  # moves the clock, but no input of y's graph changed
    assert InPlaceClock.ticks == ticks + 1
    y.backward()
    assert w.grad.tolist() == [3.0, 4.0]


def test_inplace_update_before_the_forward_is_fine_and_after_it_is_caught():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    x += 1.0  # before the forward: x is [4, 5] when the graph saves it
    y = (w * x).sum()
    z = (w * x).sum()
    y.backward()
    assert w.grad.tolist() == [4.0, 5.0]
    x += 1.0  # after z's forward
    with pytest.raises(RuntimeError, match=r"Mul.backward: input 1 .* modified by an in-place"):
        z.backward()


def test_inplace_check_still_runs_with_retain_graph():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    y = (w * x).sum()
    y.backward(retain_graph=True)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_topological_order_puts_parents_first_in_input_order():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, -1.0], requires_grad=True)
    a = x * y
    b = a * x
    c = b * a
    loss = c.sum()
    names = {id(t): n for n, t in dict(x=x, y=y, a=a, b=b, c=c, loss=loss).items()}
    order = [names[id(t)] for t in _topological_order([loss])]
    assert order == ["x", "y", "a", "b", "c", "loss"]
    # several roots sharing a subgraph: each tensor once
    order = [names[id(t)] for t in _topological_order([loss, b, x])]
    assert order == ["x", "y", "a", "b", "c", "loss"]


def test_long_chain_walks_without_recursion_and_accumulates():
    w = tg.tensor([0.5, -0.5], requires_grad=True)
    h = tg.tensor([1.0, 1.0])
    for _ in range(5000):
        h = h + w
    h.sum().backward()
    assert w.grad.tolist() == [5000.0, 5000.0]


def test_hooks_see_every_backward_with_accumulation_flags():
    seen = []

    class Recorder:
        def on_backward(self, fn, grad_output, grad_inputs, seconds):
            seen.append((fn.name, [g is not None for g in grad_inputs], fn.accumulated_inputs))

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = tg.tensor([2.0, 2.0])
    with add_hook(Recorder()):
        ((x * x) * c).sum().backward()
    assert seen == [
        ("Sum", [True], (False,)),
        ("Mul", [True, False], (False, False)),  # c needs no gradient
        ("Mul", [True, True], (False, True)),  # x * x: the second gradient adds to the first
    ]
    np.testing.assert_allclose(x.grad.tolist(), [4.0, 8.0])


def test_sum_to_returns_its_input_when_nothing_was_broadcast():
    x = tg.ones(2, 3)
    assert sum_to(x, (2, 3)) is x
    assert sum_to(x, [2, 3]) is x  # a list shape is the same shape
    assert sum_to(x, (1, 3)).tolist() == [[2.0, 2.0, 2.0]]
    assert sum_to(x, (3,)).tolist() == [2.0, 2.0, 2.0]


def test_broadcasting_binary_ops_still_sum_their_gradients():
    a = tg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = tg.tensor(np.full((3,), 2.0, np.float32), requires_grad=True)
    (a * b + b - a / b).sum().backward()
    np.testing.assert_allclose(a.grad.tolist(), [[2.0 - 1.0 / 2.0] * 3] * 2)
    np.testing.assert_allclose(b.grad.tolist(), [2 * (1.0 + 1.0 + 1.0 / 4.0)] * 3)  # sum over rows


def test_freed_graph_keeps_the_class_defaults():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    ctx = y._ctx
    y.sum().backward()
    assert ctx.freed and ctx.inputs == () and ctx.saved == ()
    with pytest.raises(RuntimeError, match="a second time"):
        y.sum().backward()


class _RecordsDy(tg.autograd.Function):
    """y = 2 x; records what its backward was handed."""

    seen: list = []

    def forward(self, x):
        return 2 * x

    def backward(self, dy):
        type(self).seen.append(type(dy))
        return dy * 2


class _RecordsArrayDy(_RecordsDy):
    array_backward = True


@pytest.mark.parametrize("op, create_graph, expected", [
    (_RecordsArrayDy, False, np.ndarray),  # first order, the op takes arrays: the array itself
    (_RecordsArrayDy, True, tg.Tensor),    # create_graph: always a Tensor
    (_RecordsDy, False, tg.Tensor),        # an op that did not say array_backward: a Tensor
])
def test_first_order_walk_hands_arrays_only_to_ops_that_take_them(op, create_graph, expected):
    op.seen = []
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    (op.apply(x) * 3).sum().backward(create_graph=create_graph)
    assert op.seen == [expected]
    assert x.grad.tolist() == [6.0, 6.0]


def test_study_hooks_get_tensors_in_the_walk():
    """With a hook watching, the walk is the Tensor one: hooks see Tensor gradients."""
    seen = []

    class Hook:
        def on_backward(self, fn, grad_output, grad_inputs, seconds):
            seen.append((fn.name, type(grad_output), {type(g) for g in grad_inputs}))

    x = tg.tensor([1.0, -2.0], requires_grad=True)
    with add_hook(Hook()):
        (x * x + x).sum().backward()
    assert [name for name, _, _ in seen] == ["Sum", "Add", "Mul"]
    assert all(dy is tg.Tensor and kinds <= {tg.Tensor, type(None)} for _, dy, kinds in seen)
    assert x.grad.tolist() == [3.0, -3.0]  # 2x + 1


def test_0d_gradient_summed_from_three_consumers():
    """NumPy turns the sum of two 0-d arrays into a scalar; the walk keeps it an array, so the
    third contribution is added to it (a scalar would lose it)."""
    a = tg.tensor(np.array(0.3), requires_grad=True)
    b = tg.tensor(np.array(1.2), requires_grad=True)
    ((a * b - a / b) * a - b).backward()  # b gets -1, a^2 and a^2 / b^2
    np.testing.assert_allclose(b.grad.item(), 0.09 + 0.0625 - 1.0, rtol=1e-6)
    np.testing.assert_allclose(a.grad.item(), 2 * 0.3 * 1.2 - 2 * 0.3 / 1.2, rtol=1e-6)


def test_tensor_hooks_in_a_first_order_walk_get_and_replace_tensors():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    got = []

    def hook(g):
        got.append(type(g))
        return g * 10

    y.register_hook(hook)
    y.sum().backward()
    assert got == [tg.Tensor]
    assert x.grad.tolist() == [30.0, 30.0]


def test_array_backward_ops_still_take_tensors_outside_the_walk():
    """check_my_backward and other callers hand backward a Tensor under no_grad: the ops with
    an array path then run their Tensor lines."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, -1.0], requires_grad=True)
    m = tg.tensor([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]], requires_grad=True)  # (3, 2)
    b = tg.tensor([0.1, 0.2, 0.3], requires_grad=True)
    rows = x.reshape(1, 2)
    for y in (x * w, x + w, x - w, x / w, x.sum(), rows @ m.T, tg.functional.linear(rows, m, b)):
        with tg.no_grad():
            grads = y._ctx.backward(tg.ones_like(y))
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert all(isinstance(g, tg.Tensor) for g in grads if g is not None)


def _library_functions():
    """Every Function subclass defined in the library (imported through the public modules)."""
    import tinygrad_edu.nn  # noqa: F401 - defines Normalize and the loss ops

    found, todo = [], [tg.autograd.Function]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tinygrad_edu."):
            found.append(cls)
    return found


def test_library_ops_that_read_their_output_say_so():
    """apply keeps a weak reference to the output only for ops with ``reads_output``; a library
    op whose backward reads ``self.output`` without the flag would fail at backward time."""
    import inspect

    ops = _library_functions()
    readers = [c for c in ops if "self.output" in inspect.getsource(c.backward)]
    assert {c.__name__ for c in readers} >= {"Exp", "Tanh", "Sigmoid", "Softmax", "Normalize"}
    assert [c.__name__ for c in readers if not c.reads_output] == []
    assert [c.__name__ for c in ops if c.reads_output and c not in readers] == []


def test_only_ops_that_read_their_output_keep_a_reference_to_it():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert "_output_ref" in x.exp()._ctx.__dict__
    assert "_output_ref" not in (x * x)._ctx.__dict__
    y = x.exp()
    y.sum().backward()  # Exp reads y through the reference
    np.testing.assert_allclose(x.grad.tolist(), np.exp([1.0, 2.0]), rtol=1e-6)


class _UserExp(tg.autograd.Function):
    """y = e^x, defined outside the library: reads its output without declaring it."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, dy):
        return dy * self.output


def test_ops_defined_outside_the_library_keep_their_output_by_default():
    assert _UserExp.reads_output
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    _UserExp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [1.0, np.e], rtol=1e-6)


def test_reading_the_output_without_the_flag_is_a_clear_error():
    class Forgot(_UserExp):
        reads_output = False  # says it does not read the output, but its backward does

    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Forgot.backward reads self.output, but Forgot "
                                           "does not set reads_output = True"):
        Forgot.apply(x).sum().backward()
