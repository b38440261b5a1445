"""The graph walk and its switches: accumulation, hooks, retain_grad, no_grad, retain_graph,
anomaly detection, higher-order gradients, deep chains, determinism."""

import gc
import warnings
import weakref

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu.autograd import Config, Function


def test_reused_tensor_accumulates_gradient(device):
    x = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = x * x + x * 3 + x  # dy/dx = 2x + 4
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [6.0, 8.0, 10.0])


def test_diamond_graph_matches_torch():
    a = np.random.randn(3, 4)
    x = tg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)

    def f(lib_x, exp, tanh):
        h = exp(lib_x * 0.3)
        return (tanh(h) * h + h.sum(0, keepdim=True) * lib_x).sum()

    f(x, tg.exp, tg.tanh).backward()
    f(t, torch.exp, torch.tanh).backward()
    np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy(), rtol=1e-12)


def test_backward_accumulates_across_calls():
    x = tg.tensor([2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [8.0]
    x.zero_grad()
    assert x.grad is None


def test_backward_accumulates_into_the_same_grad_tensor_like_torch():
    # torch adds into .grad in place: a reference to it (held by the user, an optimizer or a
    # logging hook) stays valid and sees the sum
    for lib in (tg, torch):
        x = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.0, -1.0], dtype=lib.float64, requires_grad=True)
        (x * x + w).sum().backward()
        g1, gw = x.grad, w.grad
        (x * 3 + w).sum().backward()
        assert g1 is x.grad and gw is w.grad
        assert g1.tolist() == [7.0, 9.0] and gw.tolist() == [2.0, 2.0]
        (x * w).sum().backward()  # a third time, through another graph
        assert g1 is x.grad and g1.tolist() == [8.0, 8.0] and gw.tolist() == [4.0, 5.0]


def test_accumulation_keeps_the_grads_of_leaves_apart():
    # x + w hands the same gradient array to both leaves: each .grad must own its memory, or
    # the in-place sum into one would change the other
    x = tg.ones(3, requires_grad=True)
    w = tg.ones(3, requires_grad=True)
    for _ in range(3):
        (x + w).sum().backward()
    assert x.grad.tolist() == [3.0] * 3 and w.grad.tolist() == [3.0] * 3


def test_accumulation_after_create_graph_makes_new_tensors_like_torch():
    x = tg.ones(3, requires_grad=True)
    w = tg.ones(3, requires_grad=True)
    (x + w).sum().backward(create_graph=True)
    assert x.grad is not w.grad  # copied, as in torch: not one shared (read-only) array
    g1 = x.grad
    (x * 2 + w).sum().backward(create_graph=True)  # with grad mode on, torch makes a new sum
    assert x.grad is not g1 and g1.tolist() == [1.0] * 3
    (x * 2 + w).sum().backward()
    assert x.grad.tolist() == [5.0] * 3 and w.grad.tolist() == [3.0] * 3
    z = tg.ones(2, requires_grad=True)
    (g,) = tg.grad((z ** 3).sum(), z, create_graph=True)
    g.sum().backward()  # 6 z: z.grad now has no graph, so the next backward adds in place
    gz = z.grad
    (z * 1).sum().backward()
    assert gz is z.grad and z.grad.tolist() == [7.0, 7.0]


def test_accumulation_into_a_grad_assigned_by_the_user():
    x = tg.ones(3, requires_grad=True)
    x.grad = tg.ones(1).expand(3)  # read-only: the sum is a new array
    (x * 2).sum().backward()
    assert x.grad.tolist() == [3.0] * 3
    x.grad = tg.zeros(3, dtype=tg.float64)  # another dtype: a new array, as before
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0] * 3


@pytest.mark.parametrize("seed_dtype", ["float64", "float16", "int64", "int32", "bool"])
@pytest.mark.parametrize("api", ["backward", "grad"])
def test_seed_gradient_of_another_dtype_is_cast_to_the_output_dtype_like_torch(seed_dtype,
                                                                               api):
    seed_values = [1, 0, 3] if seed_dtype != "bool" else [True, False, True]
    results = []
    for lib in (tg, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)  # float32
        y = x * x
        name = "bool_" if lib is tg and seed_dtype == "bool" else seed_dtype
        seed = lib.tensor(seed_values, dtype=getattr(lib, name))
        if api == "backward":
            y.backward(seed)
            g = x.grad
        else:
            (g,) = (tg if lib is tg else torch.autograd).grad(y, x, seed)
        assert str(g.dtype).replace("torch.", "") == "float32"
        results.append(g.tolist())
    assert results[0] == results[1]


def test_seed_gradient_of_another_dtype_keeps_its_graph_under_create_graph():
    # a seed that requires grad (a vector-Jacobian product differentiated again) is cast with a
    # differentiable op, so the gradient reaches it in its own dtype, as in torch
    grads = []
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        v = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
        (g,) = (tg if lib is tg else torch.autograd).grad(x * x, x, v, create_graph=True)
        assert str(g.dtype).replace("torch.", "") == "float32"  # 2 x v
        (g * g).sum().backward()  # d/dx = 8 x v^2, d/dv = 8 x^2 v
        grads.append((x.grad.tolist(), v.grad.tolist(), str(v.grad.dtype)))
    assert grads[0][:2] == grads[1][:2]
    assert grads[0][2] == grads[1][2].replace("torch.", "") == "float64"


def test_gradient_argument_for_non_scalar_output():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.backward(gradient=tg.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [3.0, 30.0]


def test_non_scalar_backward_needs_gradient():
    x = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2, 3\)"):
        (x * 2).backward()


def test_gradient_shape_mismatch_is_reported():
    x = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: mismatch in shape: gradient has shape "
                                           r"\(3,\) but the output has shape \(2, 3\)"):
        (x * 2).backward(gradient=tg.ones(3))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(3).sum().backward()


def test_backward_twice_needs_retain_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.tolist()
    y.backward()
    np.testing.assert_allclose(x.grad.tolist(), np.array(first) * 2)
    with pytest.raises(RuntimeError, match="a second time.*retain_graph=True"):
        y.backward()


def test_graph_frees_saved_values_after_backward():
    x = tg.randn(100, requires_grad=True)
    h = x * 2
    probe = weakref.ref(h)
    y = (h.tanh()).sum()
    del h
    gc.collect()
    assert probe() is not None  # still held by the graph
    y.backward()
    gc.collect()
    assert probe() is None  # the walk released it


def test_no_grad_builds_no_graph_and_is_a_decorator():
    x = tg.ones(3, requires_grad=True)
    with tg.no_grad():
        y = x * 2
        with tg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad


def test_no_grad_restores_state_after_exception():
    with pytest.raises(ValueError):
        with tg.no_grad():
            raise ValueError("boom")
    assert Config.grad_enabled


def test_detach_cuts_the_graph():
    x = tg.tensor([3.0], requires_grad=True)
    y = x * x.detach()  # only one factor is differentiated: dy/dx = x
    y.backward()
    assert x.grad.tolist() == [3.0]


def test_register_hook_can_replace_the_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.tolist()))
    handle = x.register_hook(lambda g: g * 10)
    h.sum().backward()
    assert seen == [[1.0, 1.0]]
    assert x.grad.tolist() == [20.0, 20.0]
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_retain_grad_keeps_non_leaf_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    other = x * 4
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
        assert other.grad is None  # a non-leaf without retain_grad: None, and torch's warning


def test_grad_returns_without_touching_dot_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad((x**3).sum(), x)
    assert g.tolist() == [3.0, 12.0]
    assert x.grad is None


def test_grad_unused_input():
    x = tg.tensor([1.0], requires_grad=True)
    z = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        tg.grad((x * 2).sum(), [x, z])
    gx, gz = tg.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0]


def test_hessian_vector_product_matches_torch():
    a = np.random.randn(5)
    v = np.random.randn(5)

    def f(x, lib):
        return (lib.sin(x) * x**2).sum() + (x.exp() * x).sum()

    x = tg.tensor(a, requires_grad=True)
    (g,) = tg.grad(f(x, tg), x, create_graph=True)
    (hv,) = tg.grad((g * tg.tensor(v)).sum(), x)

    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(f(xt, torch), xt, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hv.tolist(), hvt.numpy(), rtol=1e-10)


def test_third_derivative_through_backward_create_graph():
    x = tg.tensor([0.7], dtype=tg.float64, requires_grad=True)
    y = x.tanh()
    (d1,) = tg.grad(y.sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)
    t = np.tanh(0.7)
    np.testing.assert_allclose(d1.item(), 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(d2.item(), -2 * t * (1 - t**2), rtol=1e-12)
    np.testing.assert_allclose(d3.item(), (1 - t**2) * (6 * t**2 - 2), rtol=1e-12)


def test_backward_create_graph_gradient_penalty():
    x = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)  # x.grad = 3x^2, differentiable
    penalty = (x.grad**2).sum()  # 9 x^4 -> d/dx = 36 x^3
    (g,) = tg.grad(penalty, x)
    np.testing.assert_allclose(g.tolist(), [36.0, -288.0])


def test_without_create_graph_no_graph_is_built_in_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad((x**3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_deep_chain_of_10000_ops_has_no_recursion_error():
    x = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001**10_000, rtol=1e-9)


def test_graph_walk_order_is_deterministic():
    class Recorder:
        def __init__(self):
            self.names = []

        def on_backward(self, fn, grad_output, grad_inputs, seconds):
            self.names.append(fn.name)

    orders = []
    for _ in range(3):
        x = tg.randn(3, requires_grad=True)
        y = ((x.exp() + x.sin()) * x.tanh()).sum() + x.relu().mean()
        rec = Recorder()
        with tg.autograd.add_hook(rec):
            y.backward()
        orders.append(rec.names)
    assert orders[0] == orders[1] == orders[2]
    assert orders[0][0] == "Add" and len(orders[0]) >= 8


def test_detect_anomaly_names_the_forward_op():
    x = tg.tensor([-1.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"forward of Log produced NaN"):
            x.log()


def test_detect_anomaly_names_the_backward_op():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()  # finite forward, infinite gradient at 0
    with tg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"backward of Sqrt produced NaN or Inf"):
            y.backward()
    assert not Config.anomaly


def test_custom_function_with_wrong_gradient_shape_is_reported():
    class Bad(Function):
        def forward(self, x):
            return x * 2

        def backward(self, dy):
            return dy.sum()

    x = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(\)"):
        Bad.apply(x).sum().backward()


def test_gradient_shapes_of_library_ops_are_checked_under_detect_anomaly(monkeypatch):
    """The walk trusts the library's own ops (their gradients are compared with torch's in
    tests) and checks every op defined elsewhere; detect_anomaly checks them all."""
    from tinygrad_edu.functional.elementwise import Mul

    class Mine(Function):
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

    assert Mul.shapes_tested and not Mine.shapes_tested
    monkeypatch.setattr(Mul, "backward", lambda self, dy: (dy.sum(), dy.sum()))
    x = tg.ones(3, requires_grad=True)
    y = (x * x).sum()
    with tg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Mul.backward returned a gradient of shape \(\)"):
            y.backward()


def test_custom_function_with_wrong_number_of_gradients():
    class Two(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, dy):
            return dy

    a, b = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"returned 1 gradient\(s\) but the op has 2"):
        Two.apply(a, b).sum().backward()


def test_needs_input_grad_and_constants():
    seen = {}

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, dy):
            seen["needs"] = self.needs_input_grad
            a, b = self.inputs
            return dy * b, None

    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2)
    Probe.apply(a, b).sum().backward()
    assert seen["needs"] == (True, False)
    assert a.grad.tolist() == [1.0, 1.0] and b.grad is None


def test_leaf_grad_is_an_owned_contiguous_array():
    x = tg.ones(2, 3, requires_grad=True)
    w = tg.ones(2, 3, requires_grad=True)
    (x + w).sum().backward()
    x.grad.data *= 5  # in-place on one grad must not change the other
    assert w.grad.tolist() == [[1.0] * 3] * 2
    assert x.grad.data.flags.writeable


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        tg.tensor([1, 2, 3], requires_grad=True)


def test_inplace_update_of_a_saved_input_is_detected():
    w = tg.ones(2, requires_grad=True)
    x = tg.tensor([1.0, 2.0])
    y = (w * x).sum()
    x += 10.0  # the graph saved x = [1, 2]; backward would silently use [11, 12]
    with pytest.raises(RuntimeError, match=r"Mul.backward: input 1 .* modified by an in-place"):
        y.backward()


def test_inplace_update_of_a_parameter_under_no_grad_is_detected():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with tg.no_grad():
        w.mul_(3.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def _slice_saved_base_updated():
    x, w = tg.tensor([1.0, 2.0, 3.0, 4.0]), tg.ones(2, requires_grad=True)
    y = (x[:2] * w).sum()  # Mul saved the view x[:2]
    x.mul_(10.0)  # ... whose memory this writes
    return y


def _base_saved_slice_updated():
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()  # Mul saved w
    with tg.no_grad():
        w[0:2].mul_(10.0)  # a view of w's memory, another Tensor object
    return y


def _reshape_saved_base_updated():
    x, w = tg.tensor([1.0, 2.0, 3.0, 4.0]), tg.ones(2, 2, requires_grad=True)
    y = (x.reshape(2, 2) * w).sum()
    x.add_(1.0)
    return y


def _saved_tensor_updated_through_detach():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    t = w.tanh()
    y = (t * w).sum()  # Mul saved t (and Tanh its output t)
    t.detach().zero_()  # the same memory under a tensor outside the graph
    return y


@pytest.mark.parametrize("make", [_slice_saved_base_updated, _base_saved_slice_updated,
                                  _reshape_saved_base_updated,
                                  _saved_tensor_updated_through_detach])
def test_inplace_update_through_a_view_or_alias_is_detected(make):
    """Views and detach() aliases are other Tensor objects over the same memory: an update
    through any of them changes what the graph saved (torch shares one version counter among
    them). Before, only the tensor object updated itself was checked: silently wrong grads."""
    y = make()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_inplace_updates_of_other_memory_or_before_the_forward_are_fine():
    x, other = tg.tensor([1.0, 2.0, 3.0, 4.0]), tg.tensor([1.0, 2.0])
    w = tg.ones(2, requires_grad=True)
    view = x[:2]
    x.mul_(10.0)  # before the forward: the graph sees [10, 20]
    y = (view * w).sum()
    other.mul_(10.0)  # memory the graph never saw
    y.backward()
    assert w.grad.tolist() == [10.0, 20.0]


def test_inplace_update_of_a_needed_output_is_detected():
    x = tg.tensor([0.5], requires_grad=True)
    h = x.exp()
    with tg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="Exp.backward needs its output"):
        h.sum().backward()


def test_inplace_update_after_backward_is_fine():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with tg.no_grad():
        w -= 0.1 * w.grad
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.tolist(), [2.0 + 1.6, 4.0 + 3.2], rtol=1e-6)


def test_grad_wants_one_grad_output_per_output():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y, z = x * 2, x * 3
    with pytest.raises(ValueError, match="grad: 1 grad_outputs for 2 outputs"):
        tg.grad([y, z], x, [tg.ones(2)])  # z would have been silently left out
    (g,) = tg.grad([y, z], x, [tg.ones(2), tg.ones(2)])
    assert g.tolist() == [5.0, 5.0]


# ----------------------------------------------------------------------------------------------
# Grad-mode switches used the ways torch allows: plain call, with-block, decorator (with and
# without parentheses), decorated generators
# ----------------------------------------------------------------------------------------------


def test_set_grad_enabled_as_a_plain_call_switches_at_once_like_torch():
    x = tg.ones(2, requires_grad=True)
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (x * 2).requires_grad
        tg.set_grad_enabled(True)
        assert tg.is_grad_enabled() and (x * 2).requires_grad
    finally:
        Config.grad_enabled = True


def test_set_grad_enabled_as_a_block_and_a_decorator_restore_the_mode_like_torch():
    with tg.no_grad():
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()  # the mode found when the object was made
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()

    @tg.set_grad_enabled(False)
    def f():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled()  # making the decorator does not switch the caller's mode
    assert f() is False and tg.is_grad_enabled()
    assert f() is False  # reusable
    with torch.no_grad():  # torch's side of the same three uses
        with torch.set_grad_enabled(True):
            assert torch.is_grad_enabled()
        assert not torch.is_grad_enabled()


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "inference_mode"])
def test_grad_mode_decorators_work_with_and_without_parentheses_like_torch(name):
    wanted = name == "enable_grad"

    @getattr(tg, name)
    def bare(t):
        return tg.is_grad_enabled(), t * 2

    @getattr(tg, name)()
    def called(t):
        return tg.is_grad_enabled(), t * 2

    x = tg.ones(2, requires_grad=True)
    with tg.set_grad_enabled(not wanted):
        for f in (bare, called):
            enabled, y = f(x)
            assert enabled is wanted and y.requires_grad is wanted
            assert tg.is_grad_enabled() is not wanted  # restored after the call
    assert bare.__name__ == "bare"  # functools.wraps

    @getattr(torch, name)
    def torch_bare():
        return torch.is_grad_enabled()

    with torch.set_grad_enabled(not wanted):
        assert torch_bare() is wanted


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "inference_mode"])
def test_decorated_generator_runs_its_body_under_the_mode_like_torch(name):
    """A decorator that only wrapped the call would cover the call that makes the generator,
    which runs none of its body; torch 2.x enters the mode on every resume."""
    wanted = name == "enable_grad"

    def body(x):
        got = yield tg.is_grad_enabled(), (x * 2).requires_grad
        yield tg.is_grad_enabled(), got
        return "done"

    gen = getattr(tg, name)()(body)(tg.ones(1, requires_grad=True))
    with tg.set_grad_enabled(not wanted):
        assert next(gen) == (wanted, wanted)
        assert tg.is_grad_enabled() is not wanted  # the caller runs under its own mode
        assert gen.send("sent") == (wanted, "sent")
        with pytest.raises(StopIteration) as stop:
            next(gen)
        assert stop.value.value == "done"

    def torch_body():
        yield torch.is_grad_enabled()

    with torch.set_grad_enabled(not wanted):
        assert list(getattr(torch, name)()(torch_body)()) == [wanted]


def test_decorated_generator_passes_throw_and_close_on_under_the_mode():
    seen = []

    @tg.no_grad()
    def gen():
        try:
            yield 1
        except KeyError:
            seen.append(("thrown", tg.is_grad_enabled()))
            yield 2
        finally:
            seen.append(("closed", tg.is_grad_enabled()))

    g = gen()
    assert next(g) == 1
    assert g.throw(KeyError("k")) == 2
    g.close()
    assert seen == [("thrown", False), ("closed", False)]
    assert tg.is_grad_enabled()


def test_inference_mode_is_no_grad_and_false_enables_grad_like_torch():
    x = tg.ones(2, requires_grad=True)
    with tg.inference_mode():
        assert tg.is_inference_mode_enabled() and not tg.is_grad_enabled()
        y = x * 2
        with tg.inference_mode(False):  # torch: grad mode on again inside
            assert not tg.is_inference_mode_enabled() and tg.is_grad_enabled()
    assert not tg.is_inference_mode_enabled() and tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with torch.no_grad(), torch.inference_mode(False):
        assert torch.is_grad_enabled()
    # documented difference: y is an ordinary tensor here (torch: an inference tensor, which a
    # recorded graph may not save for backward)
    (y * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_grad_mode_decorator_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match="decorates a function, got int"):
        tg.no_grad(3)


# ----------------------------------------------------------------------------------------------
# Tensor hooks may not change the gradient's dtype, device or shape (torch's checks)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
def test_hook_that_changes_the_dtype_is_refused_like_torch(leaf):
    def to_double(g):
        return g.double()

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    target = x if leaf else x * 2
    target.register_hook(to_double)
    with pytest.raises(RuntimeError, match=r"hook 'to_double' has changed the type of value "
                                           r"\(was float32 on cpu got float64 on cpu\)"):
        (target * 3).sum().backward()
    assert x.grad is None  # before: a float64 .grad on a float32 leaf
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    target_t = xt if leaf else xt * 2
    target_t.register_hook(to_double)
    with pytest.raises(RuntimeError, match="has changed the type of value"):
        (target_t * 3).sum().backward()


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
def test_hook_that_changes_the_shape_is_refused_like_torch(leaf):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    target = x if leaf else x * 2
    target.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has changed the size of value "
                                           r"\(was \(2,\) got \(\)\)"):
        (target * 3).sum().backward()  # before: NumPy's "cannot reshape array of size 1"
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    target_t = xt if leaf else xt * 2
    target_t.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (target_t * 3).sum().backward()


def test_hook_that_returns_no_tensor_is_refused_and_a_same_type_tensor_is_fine():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="returned a ndarray; a tensor hook must return a "
                                        "Tensor"):
        (x * 3).sum().backward()
    handle.remove()
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward(create_graph=True)  # Tensor gradients: checked the same way
    assert x.grad.tolist() == [6.0, 6.0]


# ----------------------------------------------------------------------------------------------
# detach_, retains_grad, backward(inputs=...)
# ----------------------------------------------------------------------------------------------


def test_detach_in_place_makes_a_leaf_like_torch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert (y * x).grad_fn is not None  # x still records; y is a constant now
    assert x.detach_() is x and not x.requires_grad  # a leaf too, as in torch
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = (xt * 2).detach_()
    assert not yt.requires_grad and yt.grad_fn is None and yt.is_leaf


@pytest.mark.parametrize("make", [lambda x: x[0:1], lambda x: (x * 2).reshape(2, 1),
                                  lambda x: (x * 2)[None].transpose(0, 1)],
                         ids=["slice", "reshape", "transpose"])
def test_detach_in_place_of_a_view_is_refused_like_torch(make):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach_: can't detach views in-place"):
        make(x).detach_()
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        make(torch.tensor([1.0, 2.0], requires_grad=True)).detach_()


def test_retains_grad_property_like_torch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert not y.retains_grad and not x.retains_grad
    y.retain_grad()
    x.retain_grad()  # a leaf keeps its grad anyway: no-op
    assert y.retains_grad and not x.retains_grad
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt * 2
    yt.retain_grad()
    xt.retain_grad()
    assert yt.retains_grad and not xt.retains_grad


def _inputs_graph(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    y.retain_grad()
    z = (y * 3).sum()
    return x, w, y, z


def test_backward_inputs_accumulates_into_those_tensors_only_like_torch():
    results = []
    for lib in (tg, torch):
        x, w, y, z = _inputs_graph(lib)
        seen = []
        z.backward(inputs=[x], retain_graph=True)
        seen.append((x.grad.tolist(), w.grad, y.grad.tolist()))  # y: retained on the way
        z.backward(inputs=x, retain_graph=True)  # one tensor; accumulates
        seen.append((x.grad.tolist(), y.grad.tolist()))
        z.backward(inputs=[y], retain_graph=True)  # a non-leaf: its backward does not run
        seen.append((x.grad.tolist(), w.grad, y.grad.tolist()))
        z.backward(inputs=(x, w))
        seen.append((x.grad.tolist(), w.grad.tolist()))
        results.append(seen)
    assert results[0] == results[1]
    assert results[0][0] == ([9.0, 12.0], None, [3.0, 3.0])


@pytest.mark.parametrize("lib", [tg, torch], ids=["tinygrad_edu", "torch"])
def test_backward_inputs_walks_only_the_part_that_leads_to_them_like_torch(lib):
    """Hooks elsewhere do not fire and that part of the graph is not freed (torch runs no
    backward that leads to no input)."""
    a = lib.tensor([1.0], requires_grad=True)
    b = lib.tensor([2.0], requires_grad=True)
    fired = []
    eb = b.exp()
    eb.register_hook(lambda g: fired.append("b"))
    loss_a, loss_b = (a * 3).sum(), eb.sum()
    (loss_a + loss_b).backward(inputs=[a])
    assert fired == [] and a.grad.tolist() == [3.0] and b.grad is None
    loss_b.backward(inputs=[b])  # exp's saved values were not freed
    assert fired == ["b"] and np.allclose(b.grad.tolist(), [np.exp(2.0)])


def test_backward_inputs_with_create_graph_and_a_root_input_like_torch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(inputs=[x], create_graph=True)
    assert x.grad.tolist() == [3.0, 12.0] and x.grad.grad_fn is not None
    (g,) = tg.grad(x.grad.sum(), x)  # d/dx 3 x^2 = 6 x
    assert g.tolist() == [6.0, 12.0]
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    s = (x * 2).sum()
    s.backward(inputs=[s])  # torch: s.grad = 1, x.grad untouched
    assert s.grad.item() == 1.0 and x.grad is None
    unused = tg.tensor([1.0], requires_grad=True)
    (x * 2).sum().backward(inputs=[unused])  # not reached: stays None, as in torch
    assert unused.grad is None and x.grad is None


def test_backward_inputs_are_checked():
    x = tg.tensor([1.0], requires_grad=True)
    z = (x * 2).sum()
    with pytest.raises(RuntimeError, match="the inputs argument cannot be empty"):
        z.backward(inputs=[], retain_graph=True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \(shape \(1,\)\) does not require"):
        z.backward(inputs=[x, tg.tensor([1.0])], retain_graph=True)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Tensor, got float"):
        z.backward(inputs=[1.0], retain_graph=True)


def test_a_refused_inplace_update_does_not_mark_the_tensor_as_modified():
    """The clock is stamped after the write: an update refused for its shape or value wrote
    nothing, and the graph that saved the tensor stays usable."""
    x = tg.randn(3, requires_grad=True)
    z = (x * x).sum()
    for bad in (lambda: x.detach().add_(tg.ones(2, 3)), lambda: x.detach().fill_(tg.ones(3))):
        with pytest.raises(RuntimeError):
            bad()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_ops_that_read_only_shapes_ignore_inplace_updates_of_their_inputs():
    """Add, sum, reshape and indexing never read their inputs' values in backward: updating
    an input in place after the forward is fine there, as in torch; Mul still refuses."""
    a = tg.ones(3, requires_grad=True)
    y = ((a + 1).sum() + a.reshape(3, 1)[1:].sum())
    with tg.no_grad():
        a.add_(1)
    y.backward()
    assert a.grad.tolist() == [1.0, 2.0, 2.0]
    b = tg.ones(3, requires_grad=True)
    z = (b * b).sum()
    with tg.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="Mul.backward: input 0"):
        z.backward()


def test_backward_gives_inf_and_nan_at_domain_edges_silently_like_torch():
    x = tg.tensor([0.0, 1.0, -1.0], requires_grad=True)
    with np.errstate(divide="ignore"):  # the forward's log(0) warns, as NumPy does
        loss = x.abs().sqrt().sum() + (x.abs() * 0).log().sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning out of the gradient formulas
        loss.backward()
    xt = torch.tensor([0.0, 1.0, -1.0], requires_grad=True)
    (xt.abs().sqrt().sum() + (xt.abs() * 0).log().sum()).backward()
    np.testing.assert_equal(x.grad.numpy(), xt.grad.numpy())
