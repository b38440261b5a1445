"""Custom autograd Functions written torch's way (static forward(ctx, ...) and backward(ctx,
grad_output) on Tensors): each class is written once against a namespace and run by torch and
by tinygrad_edu, comparing outputs, gradients and second derivatives."""

import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu.autograd import FunctionCtx, once_differentiable

TG = SimpleNamespace(lib=tg, Function=tg.autograd.Function, once=once_differentiable)
TORCH = SimpleNamespace(lib=torch, Function=torch.autograd.Function,
                        once=torch.autograd.function.once_differentiable)
X = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]])


def make_functions(L):
    """The same custom Functions for torch and for tinygrad_edu (L is the namespace)."""

    class Cube(L.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            return dy * 3 * x * x

    class Exp(L.Function):  # saves its output
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved_tensors
            return dy * y

    class ScaledMul(L.Function):  # two tensors and a number; attributes on ctx
        @staticmethod
        def forward(ctx, a, alpha, b):
            ctx.save_for_backward(a, b)
            ctx.alpha = alpha
            ctx.seen = ctx.needs_input_grad
            return a * b * alpha

        @staticmethod
        def backward(ctx, dy):
            a, b = ctx.saved_tensors
            da = dy * b * ctx.alpha if ctx.needs_input_grad[0] else None
            db = dy * a * ctx.alpha if ctx.needs_input_grad[2] else None
            return da, None, db

    class Square(L.Function):  # torch 2's split style: forward without ctx + setup_context
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            return 2 * x * dy, None  # a trailing None: allowed

    class OnceCube(L.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @L.once
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            return dy * 3 * x * x

    class RowArgmax(L.Function):  # an integer-like output marked non-differentiable
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(1).to(x.dtype)
            ctx.mark_non_differentiable(idx)
            return idx

        @staticmethod
        def backward(ctx, dy):
            return None

    return SimpleNamespace(Cube=Cube, Exp=Exp, ScaledMul=ScaledMul, Square=Square,
                           OnceCube=OnceCube, RowArgmax=RowArgmax)


FNS = {"tg": make_functions(TG), "torch": make_functions(TORCH)}


def leaf(L, values=X, requires_grad=True):
    return L.lib.tensor(values, dtype=L.lib.float64, requires_grad=requires_grad)


def np_of(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name", ["Cube", "Exp", "Square"])
def test_first_and_second_derivatives_like_torch(name):
    results = {}
    for key, L in (("tg", TG), ("torch", TORCH)):
        x = leaf(L)
        y = getattr(FNS[key], name).apply(x)
        (g,) = L.lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = L.lib.autograd.grad((g * g).sum(), x)
        results[key] = [np_of(y), np_of(g), np_of(gg)]
    for ours, theirs in zip(results["tg"], results["torch"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", ["Cube", "Exp", "Square"])
def test_gradcheck_and_gradgradcheck(name):
    fn = getattr(FNS["tg"], name).apply
    assert tg.gradcheck(fn, [leaf(TG)]) and tg.gradgradcheck(fn, [leaf(TG)])


def test_non_tensor_arguments_ctx_attributes_and_needs_input_grad():
    seen, grads = {}, {}  # grads: the reprs, which name the Function's backward
    for key, L in (("tg", TG), ("torch", TORCH)):
        a, b = leaf(L), leaf(L, X[::-1].copy(), requires_grad=False)
        y = FNS[key].ScaledMul.apply(a, 2.5, b)
        y.backward(L.lib.ones_like(y))
        seen[key] = y.grad_fn is not None, np_of(y), np_of(a.grad), b.grad
        grads[key] = repr(y)
    assert seen["tg"][0] and seen["torch"][0]
    np.testing.assert_allclose(seen["tg"][1], seen["torch"][1])
    np.testing.assert_allclose(seen["tg"][2], seen["torch"][2])
    assert seen["tg"][3] is None and seen["torch"][3] is None
    assert "grad_fn=<ScaledMulBackward>" in grads["tg"] and "ScaledMulBackward" in grads["torch"]


def test_needs_input_grad_is_one_bool_per_forward_argument():
    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, n, b):
            Probe.seen = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, dy):
            return dy, None, dy

    Probe.apply(leaf(TG), 3, leaf(TG, requires_grad=False))
    assert Probe.seen == (True, False, False)


def test_mark_non_differentiable_and_no_grad():
    idx = FNS["tg"].RowArgmax.apply(leaf(TG))
    assert not idx.requires_grad and idx.tolist() == [2.0, 0.0]
    with tg.no_grad():
        y = FNS["tg"].Cube.apply(leaf(TG))
    assert not y.requires_grad and y.grad_fn is None
    assert not FNS["tg"].Cube.apply(leaf(TG, requires_grad=False)).requires_grad


def test_forward_returning_its_input_gives_a_new_tensor():
    class Identity(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, dy):
            return dy * 2

    x = leaf(TG)
    y = Identity.apply(x)
    assert y is not x and y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.ones_like(X))


def test_once_differentiable_refuses_a_second_derivative_as_torch():
    for key, L in (("tg", TG), ("torch", TORCH)):
        x = leaf(L)
        (g,) = L.lib.autograd.grad(FNS[key].OnceCube.apply(x).sum(), x, create_graph=True)
        np.testing.assert_allclose(np_of(g), 3 * X * X)
        with pytest.raises(RuntimeError):
            L.lib.autograd.grad(g.sum(), x)


def test_in_place_update_of_a_saved_tensor_is_refused():
    x = leaf(TG)
    h = x * 1.0
    y = FNS["tg"].Cube.apply(h)
    with tg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="saved tensor 0 .* modified by an in-place"):
        y.sum().backward()


def test_a_saved_output_is_held_weakly():
    """Saving the output makes no reference cycle: the graph goes with the output."""
    y = FNS["tg"].Exp.apply(leaf(TG))
    node = weakref.ref(y.grad_fn)
    gc.disable()
    try:
        del y
        assert node() is None
    finally:
        gc.enable()


def test_errors_name_the_function():
    class Two(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

        @staticmethod
        def backward(ctx, dy):
            return dy

    class NotATensor(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return 3.0

    class WrongCount(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, dy):
            return dy

    class GradForANumber(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, dy):
            return dy, dy

    class WrongShape(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, dy):
            return dy

    x = leaf(TG)
    with pytest.raises(NotImplementedError, match="Two.forward returned 2 outputs"):
        Two.apply(x)
    with pytest.raises(TypeError, match="NotATensor.forward must return a Tensor, got float"):
        NotATensor.apply(x)
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradient.* took 2"):
        WrongCount.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="GradForANumber.backward returned a gradient for "
                       "argument 1, which is not a tensor"):
        GradForANumber.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape "
                       r"\(\) for an input of shape \(2, 3\)"):
        WrongShape.apply(x).backward()
    with pytest.raises(TypeError, match="save_for_backward can only save tensors"):
        FunctionCtx(()).save_for_backward(np.ones(2))
    with pytest.raises(NotImplementedError, match="mark_dirty"):
        FunctionCtx(()).mark_dirty(x)


def test_a_custom_layer_trains_like_torch():
    """A layer built on a custom Function inside a module, three SGD steps."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4))
    data = rng.standard_normal((5, 4))
    losses = {}
    for key, L in (("tg", TG), ("torch", TORCH)):
        w = L.lib.tensor(w0, requires_grad=True)
        opt = L.lib.optim.SGD([w], lr=0.1)
        seen = []
        for _ in range(3):
            h = FNS[key].ScaledMul.apply(L.lib.tensor(data) @ w.T, 0.5,
                                         L.lib.ones(5, 3, dtype=L.lib.float64))
            loss = FNS[key].Cube.apply(h).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen.append(loss.item())
        losses[key] = seen, np_of(w)
    np.testing.assert_allclose(losses["tg"][0], losses["torch"][0], rtol=1e-12)
    np.testing.assert_allclose(losses["tg"][1], losses["torch"][1], rtol=1e-12)
