"""In-place updates inside the graph (``x += y`` on a tensor that requires grad, ``buf[i] = h``
with an ``h`` that does, ...), against torch's forward and backward, and the cases refused."""

import gc

import numpy as np
import pytest
import torch
from helpers import assert_close
from test_tensor import _iadd, _imul

import tinygrad_edu as tg
from tinygrad_edu.autograd import InPlaceClock


def _run(lib, body, arrays):
    """body(lib, *tensors) on float64 leaves that require grad; its output is dotted with a
    fixed random upstream and backpropagated. Returns the output and the leaves' gradients."""
    leaves = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = body(lib, *leaves)
    upstream = np.random.default_rng(1).standard_normal(tuple(out.shape))
    (out * lib.tensor(upstream)).sum().backward()
    grads = [np.zeros(a.shape) if t.grad is None else t.grad.detach().numpy() for t, a in
             zip(leaves, arrays)]
    return out.detach().numpy(), grads


def _matches_torch(body, arrays, tol=1e-12, theirs=None):
    """``body`` run by tinygrad_edu gives torch's output and leaf gradients (torch running
    ``theirs`` where given: the out-of-place answer to an update torch refuses or lacks)."""
    ours_out, ours_grads = _run(tg, body, arrays)
    theirs_out, theirs_grads = _run(torch, theirs or body, arrays)
    assert_close(ours_out, theirs_out, rtol=tol, atol=tol)
    for ours, theirs_grad in zip(ours_grads, theirs_grads, strict=True):
        assert_close(ours, theirs_grad, rtol=tol, atol=tol)


def _zeros(lib, *shape, dtype=None):
    return lib.zeros(*shape, dtype=dtype or lib.float64)


def _rnn_buffer(lib, x, y):
    outputs = _zeros(lib, 3, 4, 3)
    h = y[0]
    for t in range(3):
        h = (x[t] + h * 0.5).tanh()
        outputs[t] = h  # each step's output written into one buffer, as torch RNN code does
    return outputs


def _uses_between_updates(lib, x, y):
    out = x * 2
    a = out + 0  # uses the value before the update: its gradient goes to x * 2 alone
    out += y
    b = out + 0
    out *= 2
    return a + 2 * b + 3 * out


def _clamp_tensor_bounds(lib, x, y):
    out = x * 2
    out.clamp_(min=y - 1, max=y + 1)
    return out


def _update_through(base, make_view, update, *args):
    """``make_view(base).update(*args)``, then base (which the view's update changed)."""
    getattr(make_view(base), update)(*args)
    return base


def _view_update(target, index, method, *args):
    if isinstance(index, tuple):  # a view of a view: target[i][j]
        view = target[index[0]][index[1]]
    else:
        view = target[index]
    getattr(view, method)(*args)
    return target


def _add_into_column(lib, x, y):
    out = x * 2
    out[:, 0] += y[:, 0]
    return out


def _mul_slice(lib, x, y):
    out = x * 2
    view = out[1:3]
    view.mul_(y[1:3])
    return out + (view * y[:2]).sum()


def _view_used_before(lib, x, y):
    out = x * 2
    before = out[0] + 0  # Add keeps no values: fine after the update, as in torch
    out[0].add_(y[0])
    return out + before


CASES = {
    "out += identity, then relu (ResNet)": lambda lib, x, y: _iadd(x * 2, y).relu(),
    "sub_ with alpha": lambda lib, x, y: (x * 1.5).sub_(y, alpha=2),
    "add_ with alpha": lambda lib, x, y: (x * 1.5).add_(y, alpha=0.5),
    "add_ into a zeros buffer": lambda lib, x, y: _zeros(lib, 4, 3).add_(y) * x,
    "add_ of a broadcast row": lambda lib, x, y: (x * 1.5).add_(y[0]),
    "*= tensor": lambda lib, x, y: _imul(x + 1, y),
    "mul_ number": lambda lib, x, y: (x + 1).mul_(3.0),
    "/= tensor": lambda lib, x, y: _idiv(x + 1, y * y + 1),
    "x += x": lambda lib, x, y: _iadd_self(x * 2),
    "clamp_ numbers": lambda lib, x, y: (x * 2).clamp_(-0.5, 0.7),
    "clamp_ tensors": _clamp_tensor_bounds,
    "masked_fill_ number": lambda lib, x, y: (x * 2).masked_fill_(x > 0, 0.25),
    "masked_fill_ 0-d tensor": lambda lib, x, y: (x * 2).masked_fill_(x > 0, y.sum()),
    "exp_ (backward reads the output)": lambda lib, x, y: (x * 0.5).exp_() * y,
    "uses before and between updates": _uses_between_updates,
    "a view made after the update": lambda lib, x, y: _iadd(x * 2, y)[1:3] * 2,
    "setitem into a zeros buffer": lambda lib, x, y: _setitems(
        _zeros(lib, 4, 3), (1, y[0]), ((slice(2, None), slice(1, None)), x[:2, :2] * 2)),
    "setitem on a graph tensor": lambda lib, x, y: _setitems(
        x * 1, (0, y[1] * 3), ((slice(1, 3), 0), y[2, :2])),
    "setitem, integer array index, broadcast value": lambda lib, x, y: _setitems(
        x * 2, ([0, 2], y[3])),
    "setitem, bool mask, number": lambda lib, x, y: _setitems(x * 2, (x.detach() > 0, 0.0)),
    "setitem, bool mask, tensor": lambda lib, x, y: _setitems(
        x * 2, (x.detach() > 0, y[x.detach() > 0])),
    "setitem, 0-d tensor into a row": lambda lib, x, y: _setitems(x * 2, (2, y.sum())),
    "RNN outputs written into a buffer": _rnn_buffer,
    "add_ on a row view": lambda lib, x, y: _view_update(x * 2, 1, "add_", y[0]),
    "x[:, 0] += y (a view updated, then written back)": _add_into_column,
    "mul_ on a slice, both used after": _mul_slice,
    "a view of a view": lambda lib, x, y: _view_update(x * 2, (slice(1, None), 0), "mul_", 3.0),
    "exp_ on a view": lambda lib, x, y: _view_update(x * 1, 0, "exp_") * y,
    "a view used before its update": _view_used_before,
    "fill_ on a graph tensor used before": lambda lib, x, y: _fill_after_use(x, 0.5),
    "fill_ with a 0-d tensor": lambda lib, x, y: _zeros(lib, 4, 3).fill_(y.sum()) * x,
    "zero_": lambda lib, x, y: (x * 2).zero_() + y,
    "copy_ broadcast and cast": lambda lib, x, y: _zeros(lib, 4, 3, dtype=lib.float32).copy_(
        y[0] * 2).to(lib.float64) * x,
    "copy_ over a graph tensor": lambda lib, x, y: (x * 2).copy_(y) * x,
    "add_ on a transposed view (t)": lambda lib, x, y: _update_through(
        x * 2, lambda v: v.t(), "add_", y.t() * 3),
    "mul_ on a permuted 3-d view": lambda lib, x, y: _update_through(
        (x * 2).reshape(2, 2, 3), lambda v: v.permute(2, 0, 1), "mul_", 1.5) * y.reshape(2, 2, 3),
    "sub_ on a reshaped view (view)": lambda lib, x, y: _update_through(
        x * 2, lambda v: v.view(3, 4), "sub_", y.reshape(3, 4)),
    "clamp_ on a flattened view": lambda lib, x, y: _update_through(
        x + y, lambda v: v.flatten(), "clamp_", -0.3, 0.4) * x,
    "add_ on an unsqueezed view": lambda lib, x, y: _update_through(
        x * 1, lambda v: v.unsqueeze(0), "add_", y[None]),
    "exp_ on a transposed row view (a view of a view)": lambda lib, x, y: _update_through(
        x * 1, lambda v: v[1:3].t(), "exp_") * y,
    "mul_ on a reshaped transposed view": lambda lib, x, y: _update_through(
        x * 2, lambda v: v.t().reshape(12), "mul_", y.reshape(12)),
}

FLOAT32_CASES = {"copy_ broadcast and cast"}


def _idiv(a, b):
    a /= b
    return a


def _iadd_self(a):
    a += a
    return a


def _imul_self(a):
    a *= a
    return a


def _setitems(target, *writes):
    for index, value in writes:
        target[index] = value
    return target


def _fill_after_use(out, value):
    out = out * 2
    before = out + 1
    out.fill_(value)
    return before + out


@pytest.mark.parametrize("case", list(CASES))
def test_in_place_updates_in_the_graph_match_torch(case):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]
    if case == "RNN outputs written into a buffer":
        arrays[0] = rng.standard_normal((3, 4, 3))
    _matches_torch(CASES[case], arrays, tol=1e-6 if case in FLOAT32_CASES else 1e-12)


def test_double_backward_through_updates_of_reshaped_and_permuted_views():
    def fn(x, y):
        out = x * y
        out.t().mul_(y.t())  # a permuted view: out's elements, each multiplied by y again
        out.view(6).add_(x.reshape(6) ** 2)  # a reshaped view
        out.unsqueeze(0)[0, 1:].tanh_()  # an indexed view of a reshaped view
        return out

    rng = np.random.default_rng(3)
    x, y = (tg.tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True) for _ in range(2))
    assert tg.gradcheck(fn, (x, y))
    assert tg.gradgradcheck(fn, (x, y))


def test_x_times_equals_x_keeps_the_old_values_where_torch_refuses():
    # torch's mul_ saves self, which the update overwrites: "modified by an inplace operation".
    # Here the update's earlier version keeps a copy of the old values, so it differentiates,
    # and matches torch's out-of-place x * x
    arrays = [np.random.default_rng(0).standard_normal((4, 3))]
    _matches_torch(lambda lib, x: _imul_self(x * 2), arrays,
                   theirs=lambda lib, x: (x * 2) * (x * 2))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _run(torch, lambda lib, x: _imul_self(x * 2), arrays)


def test_the_updated_tensor_keeps_its_memory_and_gets_the_op_as_grad_fn():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x * 2
    memory = out.data
    alias = out.detach()  # shares memory, like torch
    out += 1
    assert out.data is memory and alias.tolist() == [3.0, 5.0, 7.0]
    assert out.grad_fn is not None and not out.is_leaf and out.requires_grad
    buf = tg.zeros(3)
    assert buf.is_leaf and not buf.requires_grad
    buf[0] = x[0]
    assert buf.requires_grad and not buf.is_leaf  # a value that requires grad makes it join


def test_double_backward_through_in_place_updates():
    def fn(x, y):
        out = x * x
        out += y * y
        out *= x  # keeps a copy of x*x + y*y for its backward
        out[0] = y[1] * x[2]
        out[1:].mul_(y[:2])  # a view: its base takes the update
        return out.exp_()

    rng = np.random.default_rng(2)
    x, y = (tg.tensor(rng.uniform(-1, 1, 3), requires_grad=True) for _ in range(2))
    assert tg.gradcheck(fn, (x, y))
    assert tg.gradgradcheck(fn, (x, y))


def test_retain_graph_backward_twice_through_an_update():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 4.0], requires_grad=True)
    out = x * 3
    out += y
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert x.grad.tolist() == [2 * 2 * 3 * 6.0, 2 * 2 * 3 * 10.0]
    assert y.grad.tolist() == [2 * 2 * 6.0, 2 * 2 * 10.0]


def test_tg_grad_of_an_updated_tensor_is_the_gradient_of_its_new_value():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    out = x * 3
    before = out * 1
    out += 1
    (g,) = tg.grad((out * out).sum() + before.sum(), out)
    assert g.tolist() == [8.0, 14.0]  # 2 * out, not the path through ``before``


def test_a_leaf_that_requires_grad_is_refused_as_in_torch():
    for lib in (tg, torch):
        w = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w.add_(1.0)


def test_an_update_of_a_value_an_earlier_op_saved_fails_at_backward_as_in_torch():
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        out = x * 2
        z = out * x  # Mul keeps ``out`` for x's gradient
        out += 1
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            z.sum().backward()


CONSUMERS = {
    "linear": lambda lib, h, w: lib.nn.functional.linear(h, w),
    "matmul": lambda lib, h, w: h @ w.T,
    "pow": lambda lib, h, w: h ** 3,
    "tanh": lambda lib, h, w: h.tanh(),
    "sigmoid": lambda lib, h, w: h.sigmoid(),
    "relu": lambda lib, h, w: h.relu(),
    "softmax": lambda lib, h, w: h.softmax(-1),
    "log_softmax": lambda lib, h, w: h.log_softmax(-1),
    "layer_norm": lambda lib, h, w: lib.nn.functional.layer_norm(h, (3,)),
    "mul by a tensor": lambda lib, h, w: h * w[0],
    "getitem": lambda lib, h, w: h[1:] * 2,
}


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@pytest.mark.parametrize("update", ["mul_", "add_"])
def test_an_op_that_used_the_old_values_is_right_or_refused(consumer, update):
    # the consumer ran before the update: its gradient must be that of the old values (torch's
    # answer with the update made on a clone), or the backward must refuse, never silently use
    # the new values; the update's own copy of the old values (mul_) must not hide that
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((2, 3))]

    def body(lib, x, w, in_place=True):
        h = x * 2
        y = CONSUMERS[consumer](lib, h, w)
        target = h if in_place else h.clone()
        getattr(target, update)(3.0)
        return y + target.sum()

    try:
        _matches_torch(body, arrays, tol=1e-10, theirs=lambda lib, x, w: body(lib, x, w, False))
    except RuntimeError as error:  # ours refused (torch, running on a clone, cannot)
        assert "modified by an in-place operation" in str(error)


class _Square(tg.autograd.Function):
    """y = x^2 with x's array kept in ``saved`` (not read through ``self.inputs``)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, dy):
        (x,) = self.saved
        return dy * tg.tensor(2 * x)


@pytest.mark.parametrize("update", ["mul_", "add_", "clamp_"])
def test_an_array_saved_before_an_update_is_refused_even_where_the_update_copies(update):
    # mul_ and clamp_ run on a clone of the old values; the op that saved the array itself
    # must still see that its memory was overwritten
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = _Square.apply(h)
    getattr(h, update)(*((0.0, 1.0) if update == "clamp_" else (3.0,)))
    with pytest.raises(RuntimeError, match=r"_Square.backward: input 0 .* was modified by an "
                                           r"in-place operation"):
        (y.sum() + h.sum()).backward()


def test_updates_of_expanded_views_and_of_views_of_leaves_are_refused():
    x = tg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad \(shape "
                                           r"\(2, 3\)\) can't be modified in place .* nor can "
                                           r"a view of it"):
        x[0].add_(1.0)  # torch: "a view of a leaf Variable that requires grad ..."
    out = x * 2
    with pytest.raises(RuntimeError, match=r"add_: this tensor \(shape \(2, 2, 3\)\) is a view "
                                           r"made by BroadcastTo of another tensor's memory.*only "
                                           r"views made by indexing, reshaping or permuting can"):
        out[None].expand(2, 2, 3).add_(1.0)  # torch refuses it too (elements share memory)
    buf = tg.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"mul_: this tensor \(shape \(3,\)\) is a view made "
                                           r"outside the graph \(of a tensor that does not "
                                           r"require grad\).*x\[index\] = x\[index\] \+ value"):
        buf[1].mul_(x[0])
    with pytest.raises(RuntimeError, match="add_: this tensor .* is a view made outside"):
        buf[1] += x[0]  # Python: buf[1].__iadd__(x[0]), then buf[1] = ...
    assert buf.tolist() == [[0.0] * 3] * 2 and not buf.requires_grad  # nothing was written
    buf[1] = buf[1] + x[0]  # the supported spelling
    buf.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3, [0.0] * 3]


def test_a_view_made_before_an_update_and_used_after_is_refused_at_backward():
    x = tg.tensor(np.ones((2, 3)), requires_grad=True)
    y = tg.tensor(np.ones((2, 3)), requires_grad=True)
    out = x * 2
    row = out[0]  # a view of out's memory, made before the update
    out += y
    with pytest.raises(RuntimeError, match=r"Mul: its input of shape \(3,\) shares memory with "
                                           r"another tensor \(shape \(2, 3\)\) that was updated "
                                           r"in place .* Make the view after the update"):
        (row * 2).sum().backward()
    # used only before the update, the view is fine (it saw the old value)
    out = x * 2
    row = out[0]
    early = (row + row).sum()  # Add keeps no values (row * 2 would keep row's: refused)
    out += y
    (early + out.sum()).backward()
    assert x.grad.tolist() == [[6.0] * 3, [2.0] * 3]


def test_an_update_outside_the_graph_still_makes_the_graph_refuse_a_saved_value():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = x.exp()
    with tg.no_grad():
        z += 1  # not recorded: exp's backward would read the new values
    with pytest.raises(RuntimeError, match="Exp.backward needs its output, which was modified"):
        z.sum().backward()


def test_bookkeeping_of_updates_is_freed_with_the_tensors():
    x = tg.tensor(np.ones((4, 3)), requires_grad=True)
    for _ in range(50):
        out = x * 2
        out += x
        out.relu().sum().backward()
    del out
    gc.collect()
    assert len(InPlaceClock.history) <= 1 and len(InPlaceClock._rebased) <= 1


def test_updates_of_views_in_forwards_that_never_backward_free_everything():
    """An evaluation loop with grad on (no no_grad) and in-place updates through views: the
    bookkeeping holds the earlier versions weakly, so nothing of the graphs stays alive."""
    x = tg.tensor(np.ones((4, 3)), requires_grad=True)
    for _ in range(50):
        out = x * 2
        out[0] += x[0]
        out.t().mul_(2.0)
        tg.nn.functional.relu(out.view(12), inplace=True)
    del out
    gc.collect()
    assert len(InPlaceClock.history) == 0 and len(InPlaceClock._rebased) == 0


def test_a_torch_style_residual_block_with_in_place_add_and_relu_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 5))

    def block(lib, nn, conv1, conv2, bn1, bn2, inp):
        identity = inp
        out = nn.functional.relu(bn1(conv1(inp)))
        out = bn2(conv2(out))
        out += identity  # torchvision's BasicBlock
        return nn.functional.relu(out)

    results = []
    for lib in (tg, torch):
        nn = lib.nn
        mods = [nn.Conv2d(4, 4, 3, padding=1, bias=False) for _ in range(2)]
        bns = [nn.BatchNorm2d(4) for _ in range(2)]
        if lib is tg:
            weights = [m.weight.data.copy() for m in mods]
        else:
            with torch.no_grad():
                for m, w in zip(mods, weights, strict=True):
                    m.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        inp = lib.tensor(x.astype(np.float32), requires_grad=True)
        out = block(lib, nn, *mods, *bns, inp)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), inp.grad.numpy(),
                        mods[0].weight.grad.numpy(), bns[1].weight.grad.numpy()))
    for ours, theirs in zip(*results, strict=True):
        assert_close(ours, theirs, rtol=2e-4, atol=2e-4)


# ----------------------------------------------------------------------------------------------
# torch's in-place twins of the value ops (x.sigmoid_(), x.index_add_(...), ...)
# ----------------------------------------------------------------------------------------------

ANY, POSITIVE, UNIT, ABOVE_ONE = (-2.0, 2.0), (0.2, 2.0), (-0.9, 0.9), (1.1, 3.0)
IDX = np.array([2, 0])  # rows of the (4, 3) tensor, for index_add_ and friends
IDX2D = np.array([[3, 1, 0], [0, 2, 3]])  # for scatter_: (2, 3) into (4, 3) along dim 0

# name -> (domain of self, args(lib, t, u) with t, u (4, 3) tensors in ``other``'s domain,
# domain of the other tensors)
TWINS = {
    **{name: (ANY, lambda lib, t, u: (), ANY) for name in (
        "abs", "absolute", "sgn", "sign", "neg", "negative", "ceil", "floor", "round", "trunc",
        "frac", "sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "relu", "erf", "erfc",
        "exp2", "expm1", "atan", "arctan", "asinh", "arcsinh", "square", "nan_to_num", "sinc")},
    **{name: (POSITIVE, lambda lib, t, u: (), ANY) for name in (
        "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "digamma", "lgamma")},
    **{name: (UNIT, lambda lib, t, u: (), ANY) for name in (
        "acos", "arccos", "asin", "arcsin", "atanh", "arctanh", "erfinv")},
    **{name: (ABOVE_ONE, lambda lib, t, u: (), ANY) for name in ("acosh", "arccosh")},
    **{name: (ANY, lambda lib, t, u: (t,), ANY) for name in (
        "atan2", "arctan2", "copysign", "multiply", "subtract", "eq", "ne", "not_equal", "lt",
        "less", "le", "less_equal", "gt", "greater", "ge", "greater_equal")},
    **{name: (ANY, lambda lib, t, u: (t,), POSITIVE) for name in (
        "hypot", "fmod", "remainder", "divide", "true_divide", "floor_divide")},
    "pow": (POSITIVE, lambda lib, t, u: (t,), ANY),
    "xlogy": (ANY, lambda lib, t, u: (t,), POSITIVE),
    "logit": (POSITIVE, lambda lib, t, u: (0.1,), ANY),
    "polygamma": (POSITIVE, lambda lib, t, u: (1,), ANY),
    "lerp": (ANY, lambda lib, t, u: (t, 0.3), ANY),
    "addcmul": (ANY, lambda lib, t, u: (t, u), ANY),
    "addcdiv": (ANY, lambda lib, t, u: (t, u), POSITIVE),
    "clamp_min": (ANY, lambda lib, t, u: (0.1,), ANY),
    "clamp_max": (ANY, lambda lib, t, u: (t,), ANY),
    "clip": (ANY, lambda lib, t, u: (-0.5, 0.5), ANY),
    "cumsum": (ANY, lambda lib, t, u: (1,), ANY),
    "cumprod": (ANY, lambda lib, t, u: (0,), ANY),
    "tril": (ANY, lambda lib, t, u: (), ANY),
    "triu": (ANY, lambda lib, t, u: (1,), ANY),
    "addmm": (ANY, lambda lib, t, u: (t[:, :2], u[:2]), ANY),
    "addr": (ANY, lambda lib, t, u: (t[:, 0], u[0]), ANY),
    "addbmm": (ANY, lambda lib, t, u: (t.reshape(1, 4, 3), u[:3].reshape(1, 3, 3)), ANY),
    "index_add": (ANY, lambda lib, t, u: (0, lib.tensor(IDX), t[:2]), ANY),
    "index_copy": (ANY, lambda lib, t, u: (0, lib.tensor(IDX), t[:2]), ANY),
    "index_fill": (ANY, lambda lib, t, u: (0, lib.tensor(IDX), 0.5), ANY),
    "scatter": (ANY, lambda lib, t, u: (0, lib.tensor(IDX2D), t[:2]), ANY),
    "scatter_add": (ANY, lambda lib, t, u: (0, lib.tensor(IDX2D), t[:2]), ANY),
    "scatter_reduce": (ANY, lambda lib, t, u: (0, lib.tensor(IDX2D), t[:2], "amax"), ANY),
}


def _twin_arrays(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    domain, _, other = TWINS[name]
    return [rng.uniform(*domain, (4, 3)), rng.uniform(*other, (4, 3)),
            rng.uniform(*other, (4, 3))]


def test_every_in_place_twin_is_tested():
    from tinygrad_edu.tensor import _IN_PLACE_TWINS

    assert set(TWINS) <= set(_IN_PLACE_TWINS)
    assert set(_IN_PLACE_TWINS) - set(TWINS) == {"addmv", "baddbmm"}  # other shapes: below


@pytest.mark.parametrize("name", list(TWINS))
def test_in_place_twin_outside_the_graph_matches_torch(name):
    x, t, u = _twin_arrays(name)
    results = []
    for lib in (tg, torch):
        target = lib.tensor(x.copy())
        returned = getattr(target, name + "_")(*TWINS[name][1](lib, lib.tensor(t), lib.tensor(u)))
        assert returned is target
        results.append(target.numpy())
    assert_close(results[0], results[1], rtol=1e-8, atol=1e-12)  # polygamma: SciPy vs torch


@pytest.mark.parametrize("name", list(TWINS))
def test_in_place_twin_in_the_graph_matches_torch_out_of_place(name):
    arrays = _twin_arrays(name)

    def body(lib, x, t, u):
        h = x * 1.0
        args = TWINS[name][1](lib, t, u)
        if lib is torch:
            h = getattr(h, name)(*args)  # torch's out-of-place op: the answer to match
            h = h.to(torch.float64)
        else:
            assert getattr(h, name + "_")(*args) is h
        return h + 0 * x  # comparisons: x still gets a (zero) gradient

    if name == "floor_divide":  # no derivative, in torch either
        for lib in (tg, torch):
            with pytest.raises(RuntimeError, match="not implemented"):
                _run(lib, body, arrays)
        return
    _matches_torch(body, arrays, tol=1e-8)


def test_addmv_and_baddbmm_in_place():
    rng = np.random.default_rng(5)
    v, m, w = rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal(3)
    b, b1, b2 = (rng.standard_normal(s) for s in ((2, 4, 3), (2, 4, 5), (2, 5, 3)))
    for body, arrays in ((lambda lib, v, m, w: (v * 1).addmv_(m, w, beta=0.5), (v, m, w)),
                         (lambda lib, b, b1, b2: (b * 1).baddbmm_(b1, b2, alpha=2), (b, b1, b2))):
        _matches_torch(body, arrays)


def test_in_place_twins_keep_the_shape_and_refuse_a_wider_dtype_as_torch():
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            lib.tensor([1, 4, 9]).sqrt_()
        flags = lib.tensor([1.0, 2.0])
        flags.eq_(lib.tensor([1.0, 3.0]))  # a comparison stored in the float tensor
        assert flags.tolist() == [1.0, 0.0] and flags.dtype == lib.float32
    with pytest.raises(RuntimeError, match=r"addr_: the result has shape \(4, 3\), but the "
                                           r"tensor updated in place has shape \(3,\)"):
        tg.ones(3).addr_(tg.ones(4), tg.ones(3))
