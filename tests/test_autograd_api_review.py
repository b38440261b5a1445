"""Review of the user-facing autograd API against torch 2.13 (the oracle): ``tg.grad``, hooks,
retain_grad, backward(inputs=...), retain_graph/create_graph, grad modes, detect_anomaly,
custom Functions and ``tg.gradcheck`` / ``tg.gradgradcheck``.

Every test runs the same program through both libraries where torch has the feature and compares
values, gradients and exception types. Tests marked xfail(strict=True) document bugs in code this
review may not change (the graph walk, Function.apply, tensor.py); their reasons say where.
"""

import warnings

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.25, 2.0])


def _pair():
    """The same float64 leaf in both libraries."""
    return (tg.tensor(X.copy(), dtype=tg.float64, requires_grad=True),
            torch.tensor(X.copy(), requires_grad=True))


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.data)


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12, atol=1e-12)


def _error(fn):
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return error
    raise AssertionError("expected an error")


# ----------------------------------------------------------------------------------------------
# tg.grad
# ----------------------------------------------------------------------------------------------


def _program_grad(lib, x, case):
    grad = tg.grad if lib is tg else torch.autograd.grad
    ones = (tg.ones(3, dtype=tg.float64) if lib is tg else torch.ones(3, dtype=torch.float64))
    h = x * 2
    y = (h * h).sum()
    if case == "single":
        return grad(y, x)
    if case == "nonleaf_and_leaf":
        return grad(y, [h, x])
    if case == "repeated":
        return grad(y, [x, x])
    if case == "output_is_input":
        return grad(h, h, ones)
    if case == "two_outputs":
        return grad([y, h], (x,), [None, ones])
    if case == "same_output_twice":
        return grad([y, y], x)
    if case == "size_one_output":
        return grad(h[:1] * 3, x)
    if case == "tuple_of_generator":
        return grad(iter([y]), x)
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["single", "nonleaf_and_leaf", "repeated", "output_is_input",
                                  "two_outputs", "same_output_twice", "size_one_output",
                                  "tuple_of_generator"])
def test_grad_argument_forms_match_torch(case):
    ours, theirs = _pair()
    _same(_program_grad(tg, ours, case), _program_grad(torch, theirs, case))


@pytest.mark.parametrize("seed_dtype", ["float32", "int64"])
def test_grad_outputs_of_another_dtype_give_the_output_dtype_like_torch(seed_dtype):
    x, xt = _pair()
    (g,) = tg.grad(x * 2, x, tg.ones(3, dtype=getattr(tg, seed_dtype)))
    (gt,) = torch.autograd.grad(xt * 2, xt, torch.ones(3, dtype=getattr(torch, seed_dtype)))
    assert g.dtype == np.float64 and gt.dtype == torch.float64
    _same([g], [gt])


def test_grad_of_unused_inputs_none_or_materialized_like_torch():
    (x, xt), (z, zt) = _pair(), _pair()
    _same(tg.grad((x * 2).sum(), [x, z], allow_unused=True),
          torch.autograd.grad((xt * 2).sum(), [xt, zt], allow_unused=True))
    ours = tg.grad((x * 2).sum(), [x, z], materialize_grads=True)
    theirs = torch.autograd.grad((xt * 2).sum(), [xt, zt], materialize_grads=True)
    _same(ours, theirs)
    assert not ours[1].requires_grad and not theirs[1].requires_grad
    # with create_graph the zeros require grad, as torch's do
    ours = tg.grad((x * x).sum(), [x, z], materialize_grads=True, create_graph=True)
    theirs = torch.autograd.grad((xt * xt).sum(), [xt, zt], materialize_grads=True,
                                 create_graph=True)
    assert ours[1].requires_grad and theirs[1].requires_grad
    _same(ours, theirs)


def test_materialize_grads_with_allow_unused_false_is_a_value_error_like_torch():
    (x, xt), (z, zt) = _pair(), _pair()
    with pytest.raises(ValueError, match="allow_unused=False"):
        torch.autograd.grad((xt * 2).sum(), [xt, zt], allow_unused=False, materialize_grads=True)
    with pytest.raises(ValueError, match=r"^grad: .*materialize_grads=True.*allow_unused=False"):
        tg.grad((x * 2).sum(), [x, z], allow_unused=False, materialize_grads=True)


def test_grad_of_a_dict_of_inputs_is_a_dict_like_torch():
    (x, xt), (z, zt) = _pair(), _pair()
    ours = tg.grad((x * z).sum(), {"a": x, "b": z})
    theirs = torch.autograd.grad((xt * zt).sum(), {"a": xt, "b": zt})
    assert list(ours) == list(theirs) == ["a", "b"]
    _same(list(ours.values()), list(theirs.values()))


@pytest.mark.parametrize("case, ours_type, torch_type, ours_text", [
    ("unused", RuntimeError, RuntimeError, r"input 1 \(shape \(3,\)\) was not used"),
    ("input_without_grad", RuntimeError, RuntimeError, "input 1 .* does not require grad"),
    ("output_without_grad", RuntimeError, RuntimeError, "does not require grad and has no"),
    ("implicit_non_scalar", RuntimeError, RuntimeError, "implicitly created only for scalar"),
    ("shape_mismatch", RuntimeError, RuntimeError, r"gradient has shape \(2,\) but the output"),
    ("empty_inputs", RuntimeError, RuntimeError, "inputs argument cannot be empty"),
    ("non_tensor_input", TypeError, RuntimeError, r"inputs\[1\] must be a Tensor, got int"),
    ("non_tensor_output", TypeError, AssertionError, r"outputs\[0\] must be a Tensor, got int"),
])
def test_grad_errors_like_torch(case, ours_type, torch_type, ours_text):
    """Same exception types as torch, except for non-Tensor arguments: a TypeError here (torch
    raises RuntimeError for an input and a bare AssertionError for an output)."""

    def program(lib, x, z):
        grad = tg.grad if lib is tg else torch.autograd.grad
        if case == "unused":
            return grad((x * 2).sum(), [x, z])
        if case == "input_without_grad":
            return grad((x * 2).sum(), [x, z.detach()])
        if case == "output_without_grad":
            return grad(z.detach().sum(), [x])
        if case == "implicit_non_scalar":
            return grad(x * 2, [x])
        if case == "shape_mismatch":
            return grad(x * 2, [x], lib.ones(2, dtype=lib.float64))
        if case == "empty_inputs":
            return grad((x * 2).sum(), [])
        if case == "non_tensor_input":
            return grad((x * 2).sum(), [x, 3])
        return grad([3], [x])

    (x, xt), (z, zt) = _pair(), _pair()
    assert type(_error(lambda: program(torch, xt, zt))) is torch_type
    with pytest.raises(ours_type, match=f"^grad: .*{ours_text}"):
        program(tg, x, z)


def test_grad_twice_without_retain_graph_says_the_graph_was_freed_like_torch():
    x, xt = _pair()
    y, yt = (x * x).sum(), (xt * xt).sum()
    tg.grad(y, x)
    torch.autograd.grad(yt, xt)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(yt, xt)
    with pytest.raises(RuntimeError, match="^grad: trying to backward through the graph a "
                                           "second time: Sum.*retain_graph=True"):
        tg.grad(y, x)
    # retained, it can be repeated, with the same result
    x, xt = _pair()
    y, yt = (x * x).sum(), (xt * xt).sum()
    first = tg.grad(y, x, retain_graph=True)
    _same(tg.grad(y, x), torch.autograd.grad(yt, xt))
    _same(first, torch.autograd.grad((xt * xt).sum(), xt))


def test_grad_through_a_retained_graph_with_a_part_freed_earlier_says_so():
    """torch still sees the edges behind a freed node and raises; here the freed op has lost
    its inputs, so the input looks unused, and grad names the freed op instead."""
    x, xt = _pair()
    h, ht = x * x, xt * xt
    tg.grad((h * h).sum(), x)
    torch.autograd.grad((ht * ht).sum(), xt)
    with pytest.raises(RuntimeError, match="a second time"):
        torch.autograd.grad((ht * 3).sum(), xt, retain_graph=True)
    with pytest.raises(RuntimeError, match="^grad: trying to backward through the graph a "
                                           "second time: Mul"):
        tg.grad((h * 3).sum(), x, retain_graph=True)


def test_create_graph_gives_differentiable_gradients_like_torch():
    x, xt = _pair()
    (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((xt ** 3).sum(), xt, create_graph=True)
    assert g.requires_grad and gt.requires_grad and x.grad is None and xt.grad is None
    _same(tg.grad((g * g).sum(), x), torch.autograd.grad((gt * gt).sum(), xt))
    # the gradient is differentiable in the upstream gradient too
    v = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    vt = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (g,) = tg.grad(x * x, x, v, create_graph=True)
    (gt,) = torch.autograd.grad(xt * xt, xt, vt, create_graph=True)
    _same(tg.grad(g.sum(), v), torch.autograd.grad(gt.sum(), vt))


def test_grad_inside_no_grad_still_differentiates_like_torch():
    x, xt = _pair()
    y, yt = (x ** 3).sum(), (xt ** 3).sum()
    with tg.no_grad():
        (g,) = tg.grad(y, x, create_graph=True)
    with torch.no_grad():
        (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    assert g.requires_grad and gt.requires_grad
    _same([g], [gt])


# ----------------------------------------------------------------------------------------------
# Hooks and retain_grad
# ----------------------------------------------------------------------------------------------


def _program_hooks(lib, x):
    log = []
    h = x * 2
    h.register_hook(lambda g: log.append(("a", g.tolist())) or g * 10)
    h.register_hook(lambda g: log.append(("b", g.tolist())))  # sees a's replacement
    x.register_hook(lambda g: log.append(("x", g.tolist())) or g + 1)
    h.retain_grad()  # retained grads come after the hooks, whatever the order
    (h * h).sum().backward()
    return log, h.grad.tolist(), x.grad.tolist()


def test_hooks_run_in_order_and_replace_the_gradient_like_torch():
    x, xt = _pair()
    assert _program_hooks(tg, x) == _program_hooks(torch, xt)


def _program_hook_removal(lib, x):
    log = []
    handles = []

    def first(g):
        log.append("first")
        handles[1].remove()  # removing a later hook while hooks run: it still runs this time

    handles.append(x.register_hook(first))
    handles.append(x.register_hook(lambda g: log.append("second")))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    handles[0].remove()
    handles[0].remove()  # twice is fine
    (x * 2).sum().backward()
    return log, x.grad.tolist()


def test_hook_removal_like_torch():
    x, xt = _pair()
    assert _program_hook_removal(tg, x) == _program_hook_removal(torch, xt)


def test_removing_one_of_two_registrations_of_a_hook_keeps_the_other_like_torch():
    def program(x):
        log = []

        def hook(g):
            log.append(1)

        handle = x.register_hook(hook)
        x.register_hook(hook)
        handle.remove()
        (x * 2).sum().backward()
        return log

    x, xt = _pair()
    assert program(xt) == [1]
    assert program(x) == [1]


def test_hook_sees_grad_mode_of_the_backward_like_torch():
    def program(lib, x):
        log = []
        x.register_hook(lambda g: log.append((lib.is_grad_enabled(), g.requires_grad)))
        (x * x).sum().backward()
        (x * x).sum().backward(create_graph=True)
        return log

    x, xt = _pair()
    assert program(tg, x) == program(torch, xt) == [(False, False), (True, True)]


def test_hook_on_a_captured_non_leaf_applies_to_what_grad_returns():
    """torch applies the hook of a captured non-leaf to what grad returns when nothing beyond
    it is asked for, but not when a tensor behind it is captured too (the hook still changes
    what flows on). Here the hook applies in both cases: one rule, the first of torch's."""
    x, xt = _pair()
    h, ht = x * 2, xt * 2
    h.register_hook(lambda g: g * 10)
    ht.register_hook(lambda g: g * 10)
    _same(tg.grad((h * h).sum(), [h]), torch.autograd.grad((ht * ht).sum(), [ht]))
    x, xt = _pair()
    h, ht = x * 2, xt * 2
    h.register_hook(lambda g: g * 10)
    ht.register_hook(lambda g: g * 10)
    ours = tg.grad((h * h).sum(), [h, x])
    theirs = torch.autograd.grad((ht * ht).sum(), [ht, xt])
    _same(ours[1:], theirs[1:])  # what flows on to x: hooked, in both
    np.testing.assert_allclose(_np(ours[0]), 10 * _np(theirs[0]))


def test_hook_on_a_same_shape_reshape_touches_only_that_path_like_torch():
    def program(x):
        h = x * 2
        w = h.reshape(3)
        w.register_hook(lambda g: g * 10)
        ((h * h).sum() + w.sum()).backward()
        return x.grad.tolist()

    x, xt = _pair()
    assert program(x) == program(xt)


def test_retain_grad_on_views_and_across_two_backwards_like_torch():
    def program(x):
        y = x * 2
        v = y[1:]
        v.retain_grad()
        y.retain_grad()
        z = (v * v).sum() + y.sum()
        z.backward(retain_graph=True)
        z.backward()
        return v.grad.tolist(), y.grad.tolist(), x.grad.tolist(), v.retains_grad, x.retains_grad

    x, xt = _pair()
    assert program(x) == program(xt)


def test_register_hook_and_retain_grad_refuse_tensors_without_grad_like_torch():
    x, xt = _pair()
    for act in (lambda t: t.register_hook(lambda g: g), lambda t: t.retain_grad()):
        assert type(_error(lambda act=act: act(xt.detach()))) is RuntimeError
        with pytest.raises(RuntimeError, match="requires_grad=False|doesn't require gradient"):
            act(x.detach())


# ----------------------------------------------------------------------------------------------
# backward: twice, retain_graph, create_graph, inputs=
# ----------------------------------------------------------------------------------------------


def test_backward_twice_needs_retain_graph_and_accumulates_like_torch():
    x, xt = _pair()
    y, yt = (x * x).sum(), (xt * xt).sum()
    y.backward(retain_graph=True)
    yt.backward(retain_graph=True)
    y.backward()
    yt.backward()
    _same([x.grad], [xt.grad])
    for t, lib_error in ((y, RuntimeError), (yt, RuntimeError)):
        with pytest.raises(lib_error, match="a second time"):
            t.backward()


def test_double_backward_through_dot_grad_like_torch():
    """The sum lands in x.grad as in torch. (torch adds it into the old .grad in place, so ``g``
    below changes too; here the old .grad, which has a graph, is left alone.)"""

    def program(x):
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        first = g.tolist()
        (g * g).sum().backward()  # accumulates onto x.grad: g + d(g.g)/dx
        return first, x.grad.tolist()

    x, xt = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the reference cycle
        assert np.allclose(program(x), program(xt))


def test_backward_inputs_accumulates_into_those_only_like_torch():
    def program(x, w):
        h = x * w
        h.retain_grad()
        k = h * 3
        k.retain_grad()  # on the path to w: its retained grad is filled too
        y = (k * k).sum() + h.sum()
        y.backward(inputs=[h], retain_graph=True)
        first = (h.grad.tolist(), x.grad, w.grad)
        y.backward(inputs=[w, h])
        return first, h.grad.tolist(), k.grad.tolist(), x.grad, w.grad.tolist()

    (x, xt), (w, wt) = _pair(), _pair()
    assert program(x, w) == program(xt, wt)


def test_backward_inputs_through_a_freed_graph_raises_like_torch():
    x, xt = _pair()
    y, yt = (x * x).sum(), (xt * xt).sum()
    yt.backward(inputs=[xt])
    with pytest.raises(RuntimeError, match="a second time"):
        yt.backward(inputs=[xt])
    y.backward(inputs=[x])
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward(inputs=[x])


# ----------------------------------------------------------------------------------------------
# Grad modes
# ----------------------------------------------------------------------------------------------


def _program_modes(lib):
    seen = []
    with lib.no_grad():
        seen.append(lib.is_grad_enabled())
        with lib.enable_grad():
            seen.append(lib.is_grad_enabled())
            with lib.inference_mode():
                seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
                with lib.inference_mode(False):
                    seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
                with lib.set_grad_enabled(True):
                    seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
                seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        seen.append(lib.is_grad_enabled())
    reused = lib.no_grad()
    with reused:
        with lib.enable_grad():
            with reused:
                seen.append(lib.is_grad_enabled())
            seen.append(lib.is_grad_enabled())
    seen.append(lib.is_grad_enabled())
    return seen


def test_nested_and_reused_grad_modes_like_torch():
    assert _program_modes(tg) == _program_modes(torch)


def _program_decorators(lib):
    @lib.no_grad()
    def outer(x):
        return inner(x), lib.is_grad_enabled()

    @lib.enable_grad()
    def inner(x):
        return (x * 2).requires_grad

    @lib.set_grad_enabled(False)
    def off():
        return lib.is_grad_enabled()

    @lib.no_grad()
    def fails():
        raise KeyError

    x = lib.ones(2, requires_grad=True)
    seen = [outer(x), lib.is_grad_enabled(), off(), lib.is_grad_enabled()]
    with pytest.raises(KeyError):
        fails()
    seen.append(lib.is_grad_enabled())
    return seen


def test_grad_mode_decorators_nest_and_restore_like_torch():
    assert _program_decorators(tg) == _program_decorators(torch)


def _program_generator(lib):
    @lib.no_grad()
    def gen():
        sent = yield lib.is_grad_enabled()
        yield sent, lib.is_grad_enabled()
        return "done"

    it = gen()
    seen = [next(it), lib.is_grad_enabled(), it.send(5), lib.is_grad_enabled()]
    with pytest.raises(StopIteration) as stop:
        next(it)
    return seen + [stop.value.value]


def test_decorated_generator_like_torch():
    assert _program_generator(tg) == _program_generator(torch)


@pytest.mark.parametrize("mode", [0, 1, "no", None])
def test_set_grad_enabled_takes_only_a_bool_like_torch(mode):
    assert type(_error(lambda: torch.set_grad_enabled(mode))) is TypeError
    before = tg.is_grad_enabled()
    with pytest.raises(TypeError, match="^set_grad_enabled: mode must be a bool"):
        tg.set_grad_enabled(mode)
    assert tg.is_grad_enabled() == before
    with tg.set_grad_enabled(np.bool_(False)):  # NumPy's bool is a bool
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled() == before


def test_backward_inside_no_grad_still_works_like_torch():
    x, xt = _pair()
    y, yt = (x * x).sum(), (xt * xt).sum()
    with tg.no_grad():
        y.backward()
    with torch.no_grad():
        yt.backward()
    _same([x.grad], [xt.grad])


def test_inference_mode_results_are_ordinary_tensors_here():
    """Intentional difference (documented in inference_mode): torch refuses to save an
    inference tensor for backward; here it is an ordinary tensor without a graph."""
    x, xt = _pair()
    with torch.inference_mode():
        yt = xt * 2
    assert type(_error(lambda: (yt * xt).sum().backward())) is RuntimeError
    with tg.inference_mode():
        y = x * 2
    assert not y.requires_grad
    (y * x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 * X)


def test_detect_anomaly_raises_on_a_nan_gradient_like_torch():
    x = tg.tensor([0.0, 1.0], dtype=tg.float64, requires_grad=True)
    xt = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="nan"):
                (xt.sqrt() * 0).sum().backward()
    with tg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"backward of Sqrt produced NaN or Inf"):
            (x.sqrt() * 0).sum().backward()
    assert not tg.Config.anomaly


# ----------------------------------------------------------------------------------------------
# Custom Functions
# ----------------------------------------------------------------------------------------------


class Cube(Function):
    """y = x^3;  dx = 3 x^2 dy (Tensor ops: twice differentiable)"""

    def forward(self, x):
        return x ** 3

    def backward(self, dy):
        (x,) = self.inputs
        return dy * 3 * x * x


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * 3 * x * x


def test_custom_function_is_twice_differentiable_like_torch():
    x, xt = _pair()
    (g,) = tg.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad(TorchCube.apply(xt).sum(), xt, create_graph=True)
    _same([g], [gt])
    _same(tg.grad(g.sum(), x), torch.autograd.grad(gt.sum(), xt))
    assert tg.gradcheck(Cube.apply, [x]) and tg.gradgradcheck(Cube.apply, [x])


def test_once_differentiable_custom_function_refuses_a_second_derivative():
    class OnceCube(Cube):
        once_differentiable = True

    x, _ = _pair()
    (g,) = tg.grad(OnceCube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), 3 * X * X)
    with pytest.raises(RuntimeError, match="OnceCube: .*not differentiable"):
        tg.grad(g.sum(), x)


def test_custom_backward_gradient_is_cast_to_the_input_dtype_like_torch():
    class Wide(Function):
        def forward(self, x):
            return x * 2

        def backward(self, dy):
            return np.asarray(dy.data, dtype=np.float64) * 2

    x = tg.ones(2, requires_grad=True)
    Wide.apply(x).sum().backward()
    assert x.grad.dtype == np.float32


def test_custom_forward_returning_a_tuple_is_refused():
    class Two(Function):
        def forward(self, x):
            return x, x * 2

        def backward(self, dy):
            return dy

    with pytest.raises(TypeError, match="Two"):
        Two.apply(tg.ones(2, requires_grad=True))


def test_integer_output_of_a_custom_function_does_not_require_grad_like_torch():
    class Positive(Function):
        def forward(self, x):
            return (x > 0).astype(np.int64)

        def backward(self, dy):
            return None

    assert not Positive.apply(tg.ones(2, requires_grad=True)).requires_grad


# ----------------------------------------------------------------------------------------------
# gradcheck / gradgradcheck
# ----------------------------------------------------------------------------------------------


def _checks(fn_tg, fn_torch, inputs=None, **options):
    """(ours, torch's) verdicts with raise_exception=False, on the same float64 inputs."""
    values = [X] if inputs is None else inputs
    ours = tg.gradcheck(fn_tg, [tg.tensor(v.copy(), dtype=tg.float64, requires_grad=True)
                                for v in values], raise_exception=False, **options)
    theirs = torch.autograd.gradcheck(
        fn_torch, tuple(torch.tensor(v.copy(), requires_grad=True) for v in values),
        raise_exception=False, **options)
    return ours, theirs


@pytest.mark.parametrize("rtol, verdict", [(1e-3, False), (1e-2, True)])
def test_eps_atol_rtol_mean_what_they_mean_in_torch(rtol, verdict):
    # x^3 at x: central difference 3x^2 + eps^2, so with eps = 0.1 the error is 0.01
    one = [np.array([1.0])]
    options = dict(eps=0.1, atol=0.0, rtol=rtol)
    assert _checks(lambda x: x ** 3, lambda x: x ** 3, one, **options) == (verdict, verdict)


def test_outputs_that_do_not_require_grad_are_skipped_like_torch():
    # a detached float output and an integer output next to a differentiable one
    assert _checks(lambda x: (x.sin(), x.detach() * 2, (x > 0).long()),
                   lambda x: (x.sin(), x.detach() * 2, (x > 0).long())) == (True, True)
    # but if no output requires grad, fn must be constant
    assert _checks(lambda x: x.detach() * 2, lambda x: x.detach() * 2) == (False, False)
    assert _checks(lambda x: x.detach() * 0, lambda x: x.detach() * 0) == (True, True)


def test_failure_names_output_and_input_and_shows_both_gradients_like_torch():
    def fn(x, y):
        return x * y, x.detach() * y  # output 1 forgets x

    ins = [X, X[::-1].copy()]
    with pytest.raises(RuntimeError, match="output 1 with respect to input 0"):
        torch.autograd.gradcheck(fn, tuple(torch.tensor(v, requires_grad=True) for v in ins))
    with pytest.raises(GradcheckError) as info:
        tg.gradcheck(fn, [tg.tensor(v, dtype=tg.float64, requires_grad=True) for v in ins])
    text = str(info.value)
    assert text.startswith("gradcheck failed for test_failure_names_output_and_input_and_shows_"
                           "both_gradients_like_torch.<locals>.fn: input 0 (shape (3,)), "
                           "output 1 (shape (3,))")
    assert "numeric:" in text and "analytic:" in text and "vs analytic 0 " in text
    assert issubclass(GradcheckError, RuntimeError)


class Drifting(Function):
    """y = 2x, but each backward returns a little more than the last (not reentrant)."""

    calls = 0

    def forward(self, x):
        return x * 2

    def backward(self, dy):
        Drifting.calls += 1
        return dy * (2 + 1e-7 * Drifting.calls)


class TorchDrifting(torch.autograd.Function):
    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, dy):
        TorchDrifting.calls += 1
        return dy * (2 + 1e-7 * TorchDrifting.calls)


def test_non_reentrant_backward_fails_unless_within_nondet_tol_like_torch():
    assert _checks(Drifting.apply, TorchDrifting.apply) == (False, False)
    assert _checks(Drifting.apply, TorchDrifting.apply, nondet_tol=1e-3) == (True, True)
    with pytest.raises(GradcheckError, match="backward is not reentrant.*nondet_tol=0"):
        tg.gradcheck(Drifting.apply, [tg.tensor(X, dtype=tg.float64, requires_grad=True)])
    with pytest.raises(ValueError, match="^gradcheck: nondet_tol must be a number >= 0"):
        tg.gradcheck(Cube.apply, [tg.tensor(X, dtype=tg.float64, requires_grad=True)],
                     nondet_tol=-1.0)


def test_fast_mode_like_torch():
    assert _checks(Cube.apply, TorchCube.apply, fast_mode=True) == (True, True)

    class Wrong(Cube):
        def backward(self, dy):
            (x,) = self.inputs
            return dy * 2 * x * x

    class TorchWrong(TorchCube):
        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            return dy * 2 * x * x

    assert _checks(Wrong.apply, TorchWrong.apply, fast_mode=True) == (False, False)
    with pytest.raises(GradcheckError, match="mode=random.*\n  direction 0: numeric"):
        tg.gradcheck(Wrong.apply, [tg.tensor(X, dtype=tg.float64, requires_grad=True)],
                     fast_mode=True)


def test_gradcheck_inputs_torch_accepts():
    """A single tensor, non-tensor arguments, non-leaf and non-contiguous inputs, 0-d and empty
    tensors: torch's gradcheck takes them all, and so does this one."""
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda x: x.sin(), x)
    assert tg.gradcheck(lambda x, n: x.sin() * n, [x, 3])
    assert torch.autograd.gradcheck(lambda x, n: x.sin() * n,
                                    (torch.tensor(X, requires_grad=True), 3))
    assert tg.gradcheck(lambda x: x.sin(), [x * 2])
    m = tg.randn(3, 4, dtype=tg.float64).T.detach().requires_grad_()
    assert tg.gradcheck(lambda m: (m @ m.T).tanh(), [m])
    assert tg.gradcheck(lambda x: x.sin(), [tg.tensor(0.5, dtype=tg.float64,
                                                      requires_grad=True)])
    assert tg.gradcheck(lambda x: x * 2, [tg.zeros(0, dtype=tg.float64, requires_grad=True)])
    assert tg.gradcheck(lambda x: [x.sin(), x.cos()], [x])


def test_gradcheck_refuses_what_it_cannot_check():
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    z = tg.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    with pytest.raises(TypeError, match=r"^gradcheck: input 0 is complex \(complex128"):
        tg.gradcheck(lambda z: z * z, [z])
    with pytest.raises(TypeError, match=r"^gradgradcheck: input 0 is complex"):
        tg.gradgradcheck(lambda z: z * z, [z])
    with pytest.raises(TypeError, match=r"^gradcheck: output 1 of .* is a NoneType"):
        tg.gradcheck(lambda x: (x.sin(), None), [x])
    # intentional: torch passes a function with integer outputs only, vacuously
    assert torch.autograd.gradcheck(lambda x: (x > 0).long(),
                                    (torch.tensor(X, requires_grad=True),))
    with pytest.raises(ValueError, match="has no floating point output; nothing to check"):
        tg.gradcheck(lambda x: (x > 0).long(), [x])


def test_gradcheck_inside_no_grad_checks_the_function():
    """Intentional difference: torch's gradcheck inside no_grad sees no graph and fails; this
    one records the analytic pass anyway (gradgradcheck always did)."""
    with torch.no_grad():
        assert not torch.autograd.gradcheck(lambda x: x.sin(),
                                            (torch.tensor(X, requires_grad=True),),
                                            raise_exception=False)
    with tg.no_grad():
        assert tg.gradcheck(lambda x: x.sin(), [tg.tensor(X, dtype=tg.float64,
                                                          requires_grad=True)])
        assert not tg.is_grad_enabled()


def test_gradgradcheck_like_torch():
    def fn(x, y):
        return (x.sin() * y, (x * y).sum())

    ins = [X, X[::-1].copy()]
    assert torch.autograd.gradgradcheck(fn, tuple(torch.tensor(v, requires_grad=True)
                                                  for v in ins))
    ours = [tg.tensor(v, dtype=tg.float64, requires_grad=True) for v in ins]
    assert tg.gradgradcheck(fn, ours)
    assert tg.gradgradcheck(fn, ours, fast_mode=True, nondet_tol=1e-12)

    # a first derivative that is right but half detached: its own derivative is wrong
    class HalfDetached(Cube):
        def backward(self, dy):
            (x,) = self.inputs
            return dy * 3 * x.detach() * x

    class TorchHalfDetached(TorchCube):
        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            return dy * 3 * x.detach() * x

    xt = torch.tensor(X, requires_grad=True)
    assert torch.autograd.gradcheck(TorchHalfDetached.apply, (xt,))
    assert not torch.autograd.gradgradcheck(TorchHalfDetached.apply, (xt,),
                                            raise_exception=False)
    assert tg.gradcheck(HalfDetached.apply, ours[:1])
    with pytest.raises(GradcheckError, match=r"^gradgradcheck failed for d/dx HalfDetached"
                                             r"\.apply: input 0 \(shape \(3,\)\), output 0"):
        tg.gradgradcheck(HalfDetached.apply, ours[:1])
