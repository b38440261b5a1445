"""Elementwise ops: arithmetic (with broadcasting and Python scalars on either side), math
functions, activations, selection, comparisons, dropout, casting and dtype promotion.

Every differentiable op goes through ``check_op``: forward and backward vs torch in float64 and
float32 with a random upstream gradient, and backward vs float64 central differences.
"""

import contextlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu import functional as F

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),  # same shape
    ((), (3, 4)),  # 0-d on the left
    ((3, 4), ()),  # 0-d on the right
    ((3, 1), (1, 4)),  # both sides broadcast
    ((2, 3, 4), (4,)),  # leading dims on the left
    ((4,), (2, 3, 4)),  # leading dims on the right
    ((2, 1, 4), (3, 1)),  # mixed
]


def uniform(shape, low, high, seed=0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def signed_away_from_zero(shape, low=0.3, high=2.0, seed=0):
    """Random values with |x| in [low, high] and random signs (no kinks near 0)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ----------------------------------------------------------------------------------------------
# Arithmetic with broadcasting
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binary_arithmetic_broadcasting(op, shapes, device):
    check_op(getattr(F, op), getattr(torch, op), shapes, device=device)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_div_broadcasting(shapes, device):
    inputs = [uniform(shapes[0], -2, 2, 1), signed_away_from_zero(shapes[1], seed=2)]
    check_op(lambda a, b: a / b, torch.div, shapes, inputs=inputs, device=device)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_pow_tensor_exponent_broadcasting(shapes, device):
    inputs = [uniform(shapes[0], 0.5, 2.0, 1), uniform(shapes[1], -2, 2, 2)]
    check_op(lambda a, b: a**b, torch.pow, shapes, inputs=inputs, device=device)


def test_add_and_sub_with_alpha(device):
    check_op(lambda a, b: a.add(b, alpha=2.5), lambda a, b: a.add(b, alpha=2.5),
             [(3, 4), (4,)], device=device)
    check_op(lambda a, b: a.sub(b, alpha=-3), lambda a, b: a.sub(b, alpha=-3),
             [(3, 1), (1, 4)], device=device)


SCALAR_FORMS = {
    "2 * x": (lambda x: 2 * x, -2, 2),
    "x * 2": (lambda x: x * 2, -2, 2),
    "0.5 + x": (lambda x: 0.5 + x, -2, 2),
    "x + 0.5": (lambda x: x + 0.5, -2, 2),
    "1 - x": (lambda x: 1 - x, -2, 2),
    "x - 1": (lambda x: x - 1, -2, 2),
    "x / 3": (lambda x: x / 3, -2, 2),
    "3 / x": (lambda x: 3 / x, 0.5, 2),
    "2 ** x": (lambda x: 2**x, -2, 2),
    "2.5 ** x": (lambda x: 2.5**x, -2, 2),
    "x ** 2": (lambda x: x**2, -2, 2),
    "-x": (lambda x: -x, -2, 2),
    "x.neg()": (lambda x: x.neg(), -2, 2),
}


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
def test_python_scalars_on_either_side(form, device):
    fn, low, high = SCALAR_FORMS[form]
    out = check_op(fn, fn, [(3, 4)], low=low, high=high, device=device)
    assert out[0].dtype == np.float64  # the scalar does not change the tensor's dtype


def test_scalar_keeps_float32():
    x = tg.ones(3)
    for y in (2 * x, x * 0.5, 1 - x, x / 3, 2**x, x**2, 0.5 + x, x - True):
        assert y.dtype == tg.float32


# ----------------------------------------------------------------------------------------------
# pow
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [2, 3, 0.5, -1, -2.5, 1, 0])
def test_pow_scalar_exponent_positive_base(p, device):
    check_op(lambda x: x**p, lambda x: x**p, [(3, 4)], low=0.5, high=2.0, device=device)


@pytest.mark.parametrize("p", [2, 3, -1, -2, 2.0])
def test_pow_negative_base_integer_exponent(p, device):
    check_op(lambda x: x**p, lambda x: x**p, [(3, 4)], low=-2.0, high=-0.5, device=device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_negative_base_tensor_exponent_matches_torch():
    # the derivative in the exponent does not exist for a negative base: NaN, like torch
    a = np.array([-2.0, -1.5, 0.0, 0.0, 2.0])
    b = np.array([2.0, 3.0, 2.0, 0.0, -1.5])
    check_op(lambda x, y: x**y, torch.pow, None, inputs=[a, b], gradcheck=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_zero_base_matches_torch():
    a = np.array([0.0, 0.0, 0.0])
    b = np.array([0.0, 1.0, 2.5])
    check_op(lambda x, y: x**y, torch.pow, None, inputs=[a, b], gradcheck=False)


def test_pow_integer_tensor_stays_integer():
    y = tg.tensor([1, 2, 3]) ** 2
    assert y.dtype == tg.int64 and y.tolist() == [1, 4, 9]
    assert (tg.tensor([4]) ** 0.5).dtype == tg.float32


# ----------------------------------------------------------------------------------------------
# Math functions and activations
# ----------------------------------------------------------------------------------------------

UNARY = {
    # name: (tinygrad fn, torch fn, low, high)
    "exp": (tg.exp, torch.exp, -2, 2),
    "log": (tg.log, torch.log, 0.2, 3),
    "sqrt": (tg.sqrt, torch.sqrt, 0.2, 3),
    "rsqrt": (F.rsqrt, torch.rsqrt, 0.2, 3),
    "sin": (tg.sin, torch.sin, -3, 3),
    "cos": (tg.cos, torch.cos, -3, 3),
    "tan": (tg.tan, torch.tan, -1.3, 1.3),
    "atan": (tg.atan, torch.atan, -3, 3),
    "log1p": (tg.log1p, torch.log1p, -0.8, 3),
    "expm1": (tg.expm1, torch.expm1, -2, 2),
    "reciprocal": (tg.reciprocal, torch.reciprocal, 0.3, 2),
    "reciprocal_negative": (lambda x: x.reciprocal(), torch.reciprocal, -2, -0.3),
    "tanh": (tg.tanh, torch.tanh, -3, 3),
    "sigmoid": (tg.sigmoid, torch.sigmoid, -4, 4),
    "erf": (tg.erf, torch.erf, -2, 2),
    "square": (F.square, torch.square, -2, 2),
    "silu": (F.silu, TF.silu, -3, 3),
    "gelu": (F.gelu, TF.gelu, -3, 3),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh"), -3, 3),
    "elu": (F.elu, TF.elu, -3, 3),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5), -3, 3),
    "softplus": (F.softplus, TF.softplus, -3, 3),
    "softplus_beta2": (lambda x: F.softplus(x, beta=2.0),
                       lambda x: TF.softplus(x, beta=2.0), -3, 3),
    "softplus_threshold": (lambda x: F.softplus(x, beta=2.0, threshold=1.0),
                           lambda x: TF.softplus(x, beta=2.0, threshold=1.0), -3, 3),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)], ids=str)
def test_unary(name, shape, device):
    tg_fn, th_fn, low, high = UNARY[name]
    check_op(tg_fn, th_fn, [shape], low=low, high=high, device=device)


KINKED = {
    # ops with a kink at 0: tested on inputs away from the kink
    "abs": (tg.abs, torch.abs),
    "relu": (tg.relu, torch.relu),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "elu": (F.elu, TF.elu),
}


@pytest.mark.parametrize("name", list(KINKED))
def test_kinked_activation(name, device):
    tg_fn, th_fn = KINKED[name]
    check_op(tg_fn, th_fn, None, inputs=[signed_away_from_zero((3, 5))], device=device)


@pytest.mark.parametrize("name", ["abs", "relu", "leaky_relu", "elu"])
def test_kink_gradient_at_zero_matches_torch(name):
    tg_fn, th_fn = KINKED[name]
    check_op(tg_fn, th_fn, None, inputs=[np.array([-1.0, 0.0, 1.0])], gradcheck=False)


RELUS = {"relu": (tg.relu, torch.relu),
         "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(RELUS))
def test_relus_give_the_same_bits_under_every_cpu_kernel_setting(name, dtype):
    """The Numba activation kernels (kernel "auto"/"numba" on NumPy arrays) and the ops' own
    array code (kernel "reference") compute the same forward and first-order backward, bit for
    bit, on random values and on zeros, infinities and NaN; and both match torch."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.standard_normal(40), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    grads = np.concatenate([rng.standard_normal(40), [np.inf, -np.inf, np.nan, 1.0, 2.0]])
    tg_fn, th_fn = RELUS[name]
    results = {}
    for setting in ("reference", "numba"):
        x = tg.tensor(values.astype(dtype).reshape(5, 9), requires_grad=True)
        with tg.use_kernel(setting):
            y = tg_fn(x)
            y.backward(tg.tensor(grads.astype(dtype).reshape(5, 9)))
        results[setting] = (y.detach().numpy(), x.grad.numpy())
    for a, b in zip(results["reference"], results["numba"]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)  # NaNs in the same places
    tx = torch.tensor(values.astype(dtype).reshape(5, 9), requires_grad=True)
    ty = th_fn(tx)
    ty.backward(torch.tensor(grads.astype(dtype).reshape(5, 9)))
    np.testing.assert_array_equal(results["numba"][0], ty.detach().numpy())
    np.testing.assert_array_equal(results["numba"][1], tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sigmoid_gives_the_same_bits_under_every_cpu_kernel_setting(dtype):
    """The Numba blend (kernel "numba") and the array code (kernel "reference") of the stable
    sigmoid agree bit for bit, tails and NaN included; the values match torch's."""
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.standard_normal(40) * 30, [-80.0, 80.0, np.inf, -np.inf, np.nan]])
    x = tg.tensor(values.astype(dtype))
    outputs = []
    for setting in ("reference", "numba"):
        with tg.use_kernel(setting):
            outputs.append(x.sigmoid().numpy())
    np.testing.assert_array_equal(*outputs)
    expected = torch.sigmoid(torch.tensor(values.astype(dtype))).numpy()
    np.testing.assert_allclose(outputs[1], expected, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_erf_kernel_setting_changes_float32_by_at_most_an_ulp():
    """float32 erf (and so GELU) runs the Numba polynomial under "numba" and SciPy's erf under
    "reference": at most one float32 ulp apart; float64 runs SciPy's under both."""
    values = np.linspace(-5, 5, 2001)
    for dtype, ulps in ((np.float32, 1), (np.float64, 0)):
        x = tg.tensor(values.astype(dtype))
        outputs = []
        for setting in ("reference", "numba"):
            with tg.use_kernel(setting):
                outputs.append(tg.erf(x).numpy())
        spacing = np.spacing(np.abs(outputs[0]))
        assert np.all(np.abs(outputs[1] - outputs[0]) <= ulps * spacing), dtype


@pytest.mark.parametrize("name", list(RELUS))
def test_relus_differentiate_twice_and_under_hooks(name):
    """create_graph runs the backward as Tensor ops, a graph through dy: d2/dx2 of
    sum(f(x)^2) is 2 f'(x)^2, as torch; and under a tracer's hooks the first-order backward
    gives the same gradient as on the arrays."""
    from tinygrad_edu.study import trace_backward

    tg_fn, th_fn = RELUS[name]
    values = signed_away_from_zero((3, 4), seed=4)
    x = tg.tensor(values, requires_grad=True)
    (gx,) = tg.grad((tg_fn(x) ** 2).sum(), x, create_graph=True)
    (ggx,) = tg.grad(gx.sum(), x)
    tx = torch.tensor(values, requires_grad=True)
    (tgx,) = torch.autograd.grad((th_fn(tx) ** 2).sum(), tx, create_graph=True)
    (tggx,) = torch.autograd.grad(tgx.sum(), tx)
    assert_close(gx.detach().numpy(), tgx.detach().numpy())
    assert_close(ggx.numpy(), tggx.numpy())
    traced = tg.tensor(values, requires_grad=True)
    trace_backward((tg_fn(traced) ** 2).sum(), file=None)
    np.testing.assert_array_equal(traced.grad.numpy(), gx.detach().numpy())


def test_method_forms_match_functions():
    x = tg.randn(3, 4, dtype=tg.float64)
    for method, fn in [("exp", tg.exp), ("tanh", tg.tanh), ("sigmoid", tg.sigmoid),
                       ("relu", tg.relu), ("abs", tg.abs), ("sin", tg.sin), ("tan", tg.tan),
                       ("atan", tg.atan), ("expm1", tg.expm1),
                       ("reciprocal", tg.reciprocal), ("floor", tg.floor), ("ceil", tg.ceil),
                       ("round", tg.round), ("trunc", tg.trunc), ("sign", tg.sign),
                       ("isinf", tg.isinf), ("isnan", tg.isnan), ("isfinite", tg.isfinite)]:
        np.testing.assert_array_equal(getattr(x, method)().numpy(), fn(x).numpy())
    np.testing.assert_array_equal(abs(x).numpy(), np.abs(x.numpy()))
    np.testing.assert_array_equal(abs(x).log1p().numpy(), tg.log1p(abs(x)).numpy())


@pytest.mark.parametrize("value", [1000.0, -1000.0, 88.8, -88.8, 1e30, -1e30])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_huge_inputs(value, dtype):
    x = tg.tensor(np.full(3, value, dtype=dtype), requires_grad=True)
    y = tg.sigmoid(x)
    expected = torch.sigmoid(torch.tensor(np.full(3, value, dtype=dtype)))
    assert np.isfinite(y.detach().numpy()).all()
    assert_close(y, expected, dtype)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, np.zeros(3) if abs(value) > 100 else x.grad, dtype)


@pytest.mark.parametrize("value", [1000.0, -1000.0])
def test_softplus_and_tanh_are_stable_for_huge_inputs(value):
    x = tg.tensor([value], requires_grad=True)
    y = F.softplus(x) + tg.tanh(x)
    assert_close(y, TF.softplus(torch.tensor([value])) + torch.tanh(torch.tensor([value])),
                 np.float32)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("watched", [False, True])
def test_gelu_fused_op_matches_torch_and_the_composite(watched):
    """float32 NumPy under the Numba kernels: GELU is one op (kernels/cpu/activation.py);
    the reference setting builds it from primitives. Both against torch, also while a study
    hook watches (the backward then gets a Tensor) and through a second derivative."""
    x = (np.random.default_rng(1).standard_normal((5, 8)) * 3).astype(np.float32)
    dy = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    (t_dx,) = torch.autograd.grad(TF.gelu(tx), tx, torch.tensor(dy), create_graph=True)
    (t_ddx,) = torch.autograd.grad(t_dx.sum(), tx)
    for kernel, op in (("auto", "GELU"), ("reference", "Mul")):
        xt = tg.tensor(x, requires_grad=True)
        hook = tg.autograd.add_hook(object()) if watched else contextlib.nullcontext()
        with tg.use_kernel(kernel), hook:
            y = F.gelu(xt)
            assert type(y._ctx).__name__ == op
            (dx,) = tg.grad(y, xt, tg.tensor(dy), create_graph=True)
            (ddx,) = tg.grad(dx.sum(), xt)
        np.testing.assert_allclose(y.detach().numpy(), TF.gelu(tx).detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(dx.detach().numpy(), t_dx.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(ddx.numpy(), t_ddx.numpy(), rtol=1e-4, atol=1e-5)
        with tg.use_kernel(kernel):
            xt.grad = None
            F.gelu(xt).backward(tg.tensor(dy))  # the first-order path
        np.testing.assert_allclose(xt.grad.numpy(), t_dx.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(tg.ones(2), approximate="fast")


def test_unary_int_inputs_are_promoted_to_float():
    x = tg.tensor([1, 2, 3])
    for fn in (tg.exp, tg.log, tg.sqrt, tg.sin, tg.tanh, tg.sigmoid, tg.tan, tg.atan,
               tg.log1p, tg.expm1, tg.reciprocal):
        y = fn(x)
        assert y.dtype == tg.float32
        np.testing.assert_allclose(y.numpy(), fn(x.float()).numpy())


# ----------------------------------------------------------------------------------------------
# atan2, rounding, floor_divide and remainder
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_atan2_broadcasting(shapes, device):
    # away from the origin and from the branch cut (b < 0, a = 0), where atan2 jumps by 2 pi
    inputs = [signed_away_from_zero(shapes[0], seed=1), signed_away_from_zero(shapes[1], seed=2)]
    check_op(tg.atan2, torch.atan2, shapes, inputs=inputs, device=device)
    check_op(lambda a, b: a.arctan2(b), torch.arctan2, shapes, inputs=inputs, device=device)


def test_atan2_quadrants_and_integer_inputs_match_torch():
    a = [1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 0.0]
    b = [1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 0.0]
    assert_close(tg.arctan2(tg.tensor(a), tg.tensor(b)),
                 torch.atan2(torch.tensor(a), torch.tensor(b)), np.float32)
    out = tg.atan2(tg.tensor([1, -2]), tg.tensor([3, 1]))
    assert out.dtype == tg.float32
    assert_close(out, torch.atan2(torch.tensor([1, -2]), torch.tensor([3, 1])), np.float32)


STEPWISE = {
    # piecewise-constant ops: torch gives them a zero gradient (not None)
    "floor": (tg.floor, torch.floor),
    "ceil": (lambda x: x.ceil(), torch.ceil),
    "trunc": (tg.trunc, torch.trunc),
    "round": (tg.round, torch.round),
    "round(decimals=1)": (lambda x: x.round(decimals=1), lambda x: x.round(decimals=1)),
    "round(decimals=-1)": (lambda x: tg.round(x, decimals=-1),
                           lambda x: torch.round(x, decimals=-1)),
    "sign": (lambda x: x.sign(), torch.sign),
}


@pytest.mark.parametrize("name", list(STEPWISE))
@pytest.mark.parametrize("shape", [(), (3, 5)], ids=str)
def test_stepwise_ops_have_a_zero_gradient_like_torch(name, shape, device):
    tg_fn, th_fn = STEPWISE[name]
    check_op(tg_fn, th_fn, [shape], low=-30, high=30, device=device)
    x = tg.tensor(uniform(shape, -3, 3), requires_grad=True, device=device)
    y = tg_fn(x)
    assert y.requires_grad and y.grad_fn is not None  # like torch: a graph node...
    y.sum().backward()  # ...whose gradient is zeros
    assert x.grad is not None and not np.any(x.grad.numpy())


def test_round_halves_to_even_and_decimals_match_torch_bit_for_bit():
    halves = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.25, 1.25, 25.0, 35.0]
    for decimals in (0, 1, -1):
        expected = torch.round(torch.tensor(halves), decimals=decimals).numpy()
        np.testing.assert_array_equal(tg.round(tg.tensor(halves), decimals).numpy(), expected)
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        values = (rng.standard_normal(2000) * 100).astype(dtype)
        for decimals in (-2, -1, 0, 1, 2, 3):
            ours = tg.tensor(values).round(decimals=decimals).numpy()
            theirs = torch.tensor(values).round(decimals=decimals).numpy()
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{dtype} decimals={decimals}")


def test_stepwise_ops_on_integers_and_bools_match_torch():
    values = [-3, 0, 2, 7]
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        ours = getattr(tg.tensor(values), name)()
        theirs = getattr(torch.tensor(values), name)()
        assert ours.dtype == tg.int64 and ours.tolist() == theirs.tolist(), name
    assert tg.tensor([True, False]).sign().tolist() == [True, False]
    with pytest.raises(TypeError, match="floor: not implemented for bool tensors"):
        tg.tensor([True]).floor()
    with pytest.raises(TypeError, match="round: decimals needs a floating point tensor"):
        tg.tensor([1, 2]).round(decimals=1)


def test_sign_output_requires_grad_so_backward_works():
    x = tg.tensor([-3.0, 0.0, 2.0], requires_grad=True)
    y = x.sign()
    assert y.requires_grad and y.tolist() == [-1.0, 0.0, 1.0]
    (y * x).sum().backward()  # d/dx (sign(x) x) = sign(x): only the x factor counts
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


def _away_from_integer_ratios(a, b, margin=0.05):
    """Nudge ``a`` so that no a / b (broadcast) is within ``margin`` of a whole number, where
    remainder jumps and the numerical gradient would straddle the jump."""
    a = np.array(a, dtype=np.float64)
    for _ in range(20):
        ratio = np.broadcast_to(a, np.broadcast_shapes(a.shape, np.shape(b))) / b
        if np.all(np.abs(ratio - np.round(ratio)) > margin):
            return a
        a = a + 0.137
    raise AssertionError("could not move the inputs away from the jumps")


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_remainder_broadcasting(shapes, device):
    b = signed_away_from_zero(shapes[1], low=0.5, high=2.0, seed=2)
    a = _away_from_integer_ratios(uniform(shapes[0], -5, 5, 1), b)
    check_op(F.remainder, torch.remainder, shapes, inputs=[a, b], device=device)
    check_op(lambda x, y: x % y, lambda x, y: x % y, shapes, inputs=[a, b], device=device)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_floor_divide_broadcasting(shapes, device):
    b = signed_away_from_zero(shapes[1], low=0.5, high=2.0, seed=2)
    a = uniform(shapes[0], -5, 5, 1)
    check_op(F.floor_divide, torch.floor_divide, shapes, inputs=[a, b], grad=False,
             device=device)
    check_op(lambda x, y: x // y, lambda x, y: x // y, shapes, inputs=[a, b], grad=False,
             device=device)


SCALAR_DIVISIONS = {
    "x // 3": lambda x: x // 3,
    "x // -2.5": lambda x: x // -2.5,
    "7 // x": lambda x: 7 // x,
    "x % 3": lambda x: x % 3,
    "x % -2.5": lambda x: x % -2.5,
    "-7 % x": lambda x: -7 % x,
    "x.remainder(2)": lambda x: x.remainder(2),
    "x.floor_divide(2)": lambda x: x.floor_divide(2),
}


@pytest.mark.parametrize("form", list(SCALAR_DIVISIONS))
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64"])
def test_floor_divide_and_remainder_follow_python_signs_like_torch(form, dtype):
    fn = SCALAR_DIVISIONS[form]
    values = [-7, -5, -3, -1, 1, 2, 3, 5, 7]
    ours = fn(tg.tensor(values, dtype=dtype))
    theirs = fn(torch.tensor(values, dtype=TORCH_DTYPE[np.dtype(dtype)]))
    assert TORCH_DTYPE[ours.dtype] == theirs.dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_floor_divide_has_no_derivative_like_torch():
    a = tg.tensor([5.0, -5.0], requires_grad=True)
    y = a // 3
    assert y.requires_grad and y.tolist() == [1.0, -2.0]
    with pytest.raises(RuntimeError, match="floor_divide: the derivative is not implemented"):
        y.sum().backward()
    ta = torch.tensor([5.0, -5.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide is not implemented"):
        (ta // 3).sum().backward()
    (a.detach() // 3 * a).sum().backward()  # detached, it is a constant factor
    assert a.grad.tolist() == [1.0, -2.0]


def test_remainder_gradient_matches_torch_formula():
    a = tg.tensor([5.0, -5.0, 5.0, -5.0], requires_grad=True)
    b = tg.tensor([3.0, 3.0, -3.0, -3.0], requires_grad=True)
    y = a % b
    assert y.tolist() == [2.0, 1.0, -1.0, -2.0]
    y.sum().backward()
    assert a.grad.tolist() == [1.0] * 4
    assert b.grad.tolist() == [-1.0, 2.0, 2.0, -1.0]  # -floor(a / b)


@pytest.mark.parametrize("op", ["floor_divide", "remainder"])
def test_integer_division_by_zero_raises_like_torch(op):
    with pytest.raises(RuntimeError, match=f"{op}: ZeroDivisionError"):
        getattr(F, op)(tg.tensor([1, 2]), tg.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(torch, op)(torch.tensor([1, 2]), torch.tensor([1, 0]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_float_division_by_zero_gives_inf_and_nan_like_torch():
    values = [1.0, -1.0, 0.0]
    assert_close(tg.tensor(values) // 0.0, torch.tensor(values) // 0.0, np.float32)
    assert_close(tg.tensor(values) % 0.0, torch.tensor(values) % 0.0, np.float32)


# ----------------------------------------------------------------------------------------------
# clamp, maximum, minimum, where, masked_fill
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bounds", [(-0.5, None), (None, 0.7), (-0.5, 0.7), (0.7, -0.5)],
                         ids=str)
def test_clamp_number_bounds(bounds, device):
    lo, hi = bounds
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, size=(4, 5))
    x[np.abs(x - 0.7) < 0.01] = 0.0
    x[np.abs(x + 0.5) < 0.01] = 0.0
    check_op(lambda t: tg.clamp(t, lo, hi), lambda t: torch.clamp(t, lo, hi), None,
             inputs=[x], device=device)


def test_clamp_gradient_at_the_boundary_matches_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.7, 1.0])
    check_op(lambda t: t.clamp(-0.5, 0.7), lambda t: t.clamp(-0.5, 0.7), None,
             inputs=[x], gradcheck=False)
    check_op(lambda t: t.clip(min=0.0), lambda t: t.clip(min=0.0), None,
             inputs=[x], gradcheck=False)


@pytest.mark.parametrize("which", ["min", "max", "both"])
def test_clamp_tensor_bounds(which, device):
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, size=(3, 4))
    lo = rng.uniform(-1.5, -0.1, size=(4,))
    hi = rng.uniform(0.1, 1.5, size=(3, 1))
    if which == "min":
        check_op(lambda a, b: tg.clamp(a, min=b), lambda a, b: torch.clamp(a, min=b),
                 None, inputs=[x, lo], device=device)
    elif which == "max":
        check_op(lambda a, c: tg.clamp(a, max=c), lambda a, c: torch.clamp(a, max=c),
                 None, inputs=[x, hi], device=device)
    else:
        check_op(tg.clamp, torch.clamp, None, inputs=[x, lo, hi], device=device)


def test_clamp_tensor_bounds_ties_and_crossed_bounds_match_torch():
    x = np.array([1.0, 2.0, 3.0, 0.0, 5.0])
    lo = np.array([1.0, 1.0, 1.0, 2.0, 2.0])
    hi = np.array([3.0, 3.0, 3.0, 1.0, 1.0])  # the last two have hi < lo: the output is hi
    check_op(tg.clamp, torch.clamp, None, inputs=[x, lo, hi], gradcheck=False)


def test_clamp_needs_a_bound_and_promotes_ints():
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        tg.clamp(tg.ones(2))
    assert tg.tensor([1, 5]).clamp(2, 4).tolist() == [2, 4]
    assert tg.tensor([1, 5]).clamp(2, 4).dtype == tg.int64
    assert tg.tensor([1, 5]).clamp(min=0.5).dtype == tg.float32


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3), ())], ids=str)
def test_maximum_minimum(op, shapes, device):
    check_op(getattr(tg, op), getattr(torch, op), shapes, device=device)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_split_ties_like_torch(op):
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 4.0])
    check_op(getattr(tg, op), getattr(torch, op), None, inputs=[a, b], gradcheck=False)


def test_max_min_of_two_tensors_is_elementwise():
    a, b = tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0])
    assert tg.max(a, b).tolist() == [3.0, 5.0]
    assert tg.min(a, b).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (3, 4)),
                                    ((4,), (3, 4), ())], ids=str)
def test_where(shapes, device):
    cond = np.random.default_rng(5).random(shapes[2]) > 0.5
    check_op(lambda a, b: tg.where(tg.tensor(cond, device=device), a, b),
             lambda a, b: torch.where(torch.tensor(cond), a, b), shapes[:2], device=device)


def test_where_with_scalars():
    cond = tg.tensor([True, False, True])
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tg.where(cond, x, 0.0)
    assert y.tolist() == [1.0, 0.0, 3.0] and y.dtype == tg.float32
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    assert tg.where(cond, 1, 0).dtype == tg.int64  # like torch
    assert tg.where(cond, 1.0, 0).dtype == tg.float32
    assert tg.where(cond, 2, -1).tolist() == [2, -1, 2]


def test_where_needs_a_bool_condition():
    with pytest.raises(TypeError, match="where: condition must be a bool tensor"):
        tg.where(tg.tensor([1, 0]), tg.ones(2), tg.zeros(2))


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1)], ids=str)
@pytest.mark.parametrize("value", [0.0, -1e9, float("-inf")])
def test_masked_fill(mask_shape, value, device):
    mask = np.random.default_rng(6).random(mask_shape) > 0.5
    check_op(lambda x: x.masked_fill(tg.tensor(mask, device=device), value),
             lambda x: x.masked_fill(torch.tensor(mask), value), [(3, 4)],
             device=device, gradcheck=value == 0.0)  # huge constants swamp differences


def test_masked_fill_keeps_dtype_and_checks_mask():
    x = tg.tensor([1, 2, 3])
    mask = tg.tensor([True, False, True])
    assert x.masked_fill(mask, 0.5).tolist() == torch.tensor([1, 2, 3]).masked_fill(
        torch.tensor([True, False, True]), 0.5).tolist()
    assert x.masked_fill(mask, 0.5).dtype == tg.int64
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(tg.tensor([1, 0, 1]), 0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2,\) does not broadcast"):
        x.masked_fill(tg.tensor([True, False]), 0)


def test_masked_fill_with_a_tensor_value_gets_its_gradient():
    x = tg.ones(2, 3, requires_grad=True)
    v = tg.tensor(2.0, requires_grad=True)
    mask = tg.tensor([[True, False, True], [False, False, True]])
    x.masked_fill(mask, v).sum().backward()
    assert v.grad.item() == 3.0
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]


# ----------------------------------------------------------------------------------------------
# Comparisons and logical ops: no gradient, bool results
# ----------------------------------------------------------------------------------------------

COMPARISONS = {
    "eq": (lambda a, b: a == b, np.equal),
    "ne": (lambda a, b: a != b, np.not_equal),
    "lt": (lambda a, b: a < b, np.less),
    "le": (lambda a, b: a <= b, np.less_equal),
    "gt": (lambda a, b: a > b, np.greater),
    "ge": (lambda a, b: a >= b, np.greater_equal),
}


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_comparisons(name, device):
    op, reference = COMPARISONS[name]
    a = np.array([[1.0, 2.0, 3.0], [4.0, 2.0, 0.0]])
    b = np.array([2.0, 2.0, 1.0])
    x = tg.tensor(a, requires_grad=True, device=device)
    y = tg.tensor(b, device=device)
    for out, expected in [(op(x, y), reference(a, b)), (op(x, 2.0), reference(a, 2.0)),
                          (op(2, x), reference(2, a)), (getattr(x, name)(y), reference(a, b))]:
        assert out.dtype == tg.bool_
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), expected)


def test_comparison_with_none_is_python_identity():
    x = tg.ones(2)
    assert (x == None) is False  # noqa: E711 - exactly the comparison being tested
    assert (x != None) is True  # noqa: E711


def test_logical_and_bitwise_ops_match_torch():
    a, b = [True, False, True, False], [True, True, False, False]
    ta, tb = torch.tensor(a), torch.tensor(b)
    ga, gb = tg.tensor(a), tg.tensor(b)
    assert (ga & gb).tolist() == (ta & tb).tolist()
    assert (ga | gb).tolist() == (ta | tb).tolist()
    assert (ga ^ gb).tolist() == (ta ^ tb).tolist()
    assert (~ga).tolist() == (~ta).tolist()
    # on integers these are bitwise, as in torch
    ia, ib = [3, 5, -1], [6, 1, 4]
    expected = (torch.tensor(ia) & torch.tensor(ib)).tolist()
    assert (tg.tensor(ia) & tg.tensor(ib)).tolist() == expected
    assert (tg.tensor(ia) | 8).tolist() == (torch.tensor(ia) | 8).tolist()
    assert (~tg.tensor(ia)).tolist() == (~torch.tensor(ia)).tolist()
    with pytest.raises(TypeError, match="bitwise_not: only bool and integer tensors"):
        ~tg.ones(2)
    assert F.logical_and(tg.tensor([1.0, 0.0]), tg.tensor([2.0, 2.0])).tolist() == [True, False]


@pytest.mark.parametrize("values", [[1.0, float("nan"), float("inf"), -float("inf"), -0.0],
                                    [3, -1, 0]], ids=["float", "int"])
def test_isinf_isnan_isfinite_match_torch(values, device):
    x = tg.tensor(values, requires_grad=isinstance(values[0], float), device=device)
    for name in ("isinf", "isnan", "isfinite"):
        out = getattr(tg, name)(x)
        assert out.dtype == tg.bool_ and not out.requires_grad and out.grad_fn is None
        assert out.tolist() == getattr(torch, name)(torch.tensor(values)).tolist(), name
        assert getattr(x, name)().tolist() == out.tolist()


def test_isnan_isfinite_sign_allclose():
    x = tg.tensor([1.0, float("nan"), float("inf"), -2.0, 0.0])
    assert tg.functional.isnan(x).tolist() == [False, True, False, False, False]
    assert x.isfinite().tolist() == [True, False, False, True, True]
    assert tg.tensor([-3.0, 0.0, 2.0]).sign().tolist() == [-1.0, 0.0, 1.0]
    assert tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-9]))
    assert not tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.1]))


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------


def test_dropout_eval_and_p0_are_identity():
    x = tg.randn(4, 5, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x


def test_dropout_p1_zeroes_everything_and_the_gradient():
    x = tg.randn(4, 5, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert not np.any(y.detach().numpy())
    y.sum().backward()
    assert not np.any(x.grad.numpy())


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_scales_survivors_and_routes_gradient_through_the_mask(p, device):
    tg.manual_seed(1)
    x = tg.tensor(np.random.default_rng(0).uniform(1, 2, size=(50, 40)), device=device,
                  requires_grad=True)
    y = F.dropout(x, p)
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / (1 - p))
    upstream = np.random.default_rng(1).standard_normal((50, 40))
    (y * tg.tensor(upstream, device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), upstream * kept / (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_preserves_the_expectation(p):
    tg.manual_seed(0)
    n = 200_000
    y = F.dropout(tg.ones(n), p).numpy()
    # each element is 1/(1-p) with probability 1-p, else 0: mean 1, std sqrt(p/(1-p)) / sqrt(n)
    assert abs(y.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / n)
    assert abs((y == 0).mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert y.dtype == np.float32


def test_dropout_is_reproducible_with_manual_seed_and_checks_p():
    tg.manual_seed(7)
    a = F.dropout(tg.ones(100), 0.5).numpy()
    tg.manual_seed(7)
    b = F.dropout(tg.ones(100), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dropout: probability has to be between 0 and 1"):
        F.dropout(tg.ones(3), 1.5)


# ----------------------------------------------------------------------------------------------
# Casting and dtype promotion (torch's rules)
# ----------------------------------------------------------------------------------------------

TORCH_DTYPE = {
    np.dtype("float16"): torch.float16, np.dtype("float32"): torch.float32,
    np.dtype("float64"): torch.float64, np.dtype("int8"): torch.int8,
    np.dtype("int16"): torch.int16, np.dtype("int32"): torch.int32,
    np.dtype("int64"): torch.int64, np.dtype("uint8"): torch.uint8,
    np.dtype("bool"): torch.bool,
}


def _both(value, dtype):
    """The same tensor in tinygrad_edu and torch."""
    return tg.tensor(value, dtype=dtype), torch.tensor(value, dtype=TORCH_DTYPE[np.dtype(dtype)])


PROMOTION_CASES = [
    # (left value, left dtype, right value, right dtype); None dtype = a Python number
    ([1.0, 2.0], "float32", 2.5, None),
    ([1.0, 2.0], "float32", 2, None),
    ([1, 2], "int64", 2.5, None),
    ([1, 2], "int32", 2, None),
    ([True, False], "bool", 2, None),
    ([True, False], "bool", 2.5, None),
    ([1.0, 2.0], "float32", [1.0, 2.0], "float64"),
    ([1.0, 2.0], "float16", [1.0, 2.0], "float32"),
    ([1, 2], "int64", [1.0, 2.0], "float32"),
    ([1, 2], "int32", [1, 2], "int64"),
    ([1, 2], "uint8", [1, 2], "int8"),
    ([True, False], "bool", [1, 2], "int32"),
    ([1.0, 2.0], "float32", 2.0, "float64"),  # 0-d tensors act like numbers...
    ([1, 2], "int32", 2, "int64"),
    ([1.0, 2.0], "float16", 2.0, "float64"),
    ([1, 2], "int32", 2.0, "float64"),  # ...unless of a higher category
    (1.0, "float32", 2.0, "float64"),  # two 0-d tensors: ordinary promotion
]


@pytest.mark.parametrize("case", PROMOTION_CASES, ids=str)
@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum"])
def test_dtype_promotion_matches_torch(case, op):
    a_value, a_dtype, b_value, b_dtype = case
    tg_a, th_a = _both(a_value, a_dtype)
    if b_dtype is None:
        tg_b = th_b = b_value
    else:
        tg_b, th_b = _both(b_value, b_dtype)
    if op == "maximum" and b_dtype is None:
        pytest.skip("torch.maximum takes two tensors")
    for left, right, th_left, th_right in [(tg_a, tg_b, th_a, th_b), (tg_b, tg_a, th_b, th_a)]:
        if not isinstance(left, tg.Tensor) and op == "maximum":
            continue
        ours = getattr(tg.functional, op)(left, right)
        theirs = getattr(torch, op)(th_left, th_right)
        assert TORCH_DTYPE[ours.dtype] == theirs.dtype, f"{case} {op}"
        np.testing.assert_allclose(ours.numpy().astype(np.float64),
                                   theirs.numpy().astype(np.float64), rtol=1e-3)


@pytest.mark.parametrize("case", [c for c in PROMOTION_CASES if "bool" not in c], ids=str)
@pytest.mark.parametrize("op", ["floor_divide", "remainder", "atan2"])
def test_floor_divide_remainder_atan2_promote_like_torch(case, op):
    a_value, a_dtype, b_value, b_dtype = case
    if b_dtype is None:
        if op == "atan2":
            pytest.skip("torch.atan2 takes two tensors")
        b_dtype = "float32" if isinstance(b_value, float) else "int64"
        tg_b, th_b = b_value, b_value
    else:
        tg_b, th_b = _both(b_value, b_dtype)
    tg_a, th_a = _both(a_value, a_dtype)
    ours = getattr(F, op)(tg_a, tg_b)
    theirs = getattr(torch, op)(th_a, th_b)
    assert TORCH_DTYPE[ours.dtype] == theirs.dtype, f"{case} {op}"
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=1e-3)


def test_integer_true_division_gives_float32():
    assert (tg.tensor([3, 4]) / 2).dtype == tg.float32
    assert (tg.tensor([3, 4]) / 2).tolist() == [1.5, 2.0]
    assert (tg.tensor([3]) / tg.tensor([2])).dtype == tg.float32
    assert (7 / tg.tensor([2])).tolist() == [3.5]


@pytest.mark.parametrize("src, dst", [("float64", "float32"), ("float32", "float64"),
                                      ("float32", "float16"), ("float64", "float64")])
def test_cast_between_float_dtypes_is_differentiable(src, dst):
    x = tg.tensor([1.5, -2.25], dtype=src, requires_grad=True)
    y = x.to(np.dtype(dst))
    assert y.dtype == np.dtype(dst)
    (y * tg.tensor([2.0, 3.0], dtype=dst)).sum().backward()
    assert x.grad.dtype == np.dtype(src)  # the gradient comes back in the input's dtype
    assert x.grad.tolist() == [2.0, 3.0]


def test_cast_methods():
    x = tg.tensor([1.7, -2.2])
    assert x.int().tolist() == [1, -2] and x.int().dtype == tg.int32
    assert x.long().dtype == tg.int64 and x.double().dtype == tg.float64
    assert x.half().dtype == tg.float16 and x.bool().tolist() == [True, True]
    assert tg.tensor([0, 3]).float().dtype == tg.float32
    assert x.type(tg.float64).dtype == tg.float64
    y = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (y.float() * y.float()).sum().backward()  # d/dy y^2 through a float32 round trip
    assert y.grad.dtype == tg.float64 and y.grad.tolist() == [2.0, 4.0]


NEW_TENSORS = {
    "new_zeros(2, 3)": lambda x: x.new_zeros(2, 3),
    "new_zeros((2, 3))": lambda x: x.new_zeros((2, 3)),
    "new_zeros([])": lambda x: x.new_zeros([]),
    "new_ones(4)": lambda x: x.new_ones(4),
    "new_ones(2, dtype=int32)": lambda x: x.new_ones(2, dtype=_dtype_of(x, "int32")),
    "new_full((2,), 3)": lambda x: x.new_full((2,), 3),
    "new_full([2, 1], 3.5)": lambda x: x.new_full([2, 1], 3.5),
    "new_tensor([1.7, -2.2])": lambda x: x.new_tensor([1.7, -2.2]),
    "new_tensor([1, 2])": lambda x: x.new_tensor([1, 2]),
    "new_tensor(dtype=float32)": lambda x: x.new_tensor([1, 2], dtype=_dtype_of(x, "float32")),
}


def _dtype_of(x, name):
    """The dtype ``name`` in x's library (tinygrad_edu or torch)."""
    return np.dtype(name) if isinstance(x, tg.Tensor) else getattr(torch, name)


@pytest.mark.parametrize("name", list(NEW_TENSORS))
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_new_tensor_methods_keep_self_dtype_like_torch(name, dtype):
    fn = NEW_TENSORS[name]
    ours = fn(tg.zeros(3, dtype=dtype))
    theirs = fn(torch.zeros(3, dtype=TORCH_DTYPE[np.dtype(dtype)]))
    assert TORCH_DTYPE[ours.dtype] == theirs.dtype
    assert ours.shape == tuple(theirs.shape) and ours.tolist() == theirs.tolist()
    assert not ours.requires_grad and ours.is_leaf


def test_new_tensor_methods_take_requires_grad_and_device(device):
    x = tg.zeros(3, dtype=tg.float64, device=device)
    y = x.new_ones(2, requires_grad=True)
    assert y.requires_grad and y.is_leaf and y.device == x.device and y.dtype == tg.float64
    source = tg.tensor([1.0, 2.0], requires_grad=True)
    copy = x.new_tensor(source)  # a detached copy, as in torch
    assert not copy.requires_grad and copy.dtype == tg.float64 and copy.device == x.device
    copy.data[0] = 5.0
    assert source.tolist() == [1.0, 2.0]
    assert tg.zeros(1).new_zeros(2, device="cpu").device.type == "cpu"


def test_type_as_casts_differentiably_like_torch():
    x = tg.tensor([1.5, -2.5], dtype=tg.float64, requires_grad=True)
    assert x.type_as(x) is x
    y = x.type_as(tg.zeros(1, dtype=tg.float32))
    assert y.dtype == tg.float32 and y.grad_fn is not None
    (y * 2).sum().backward()
    assert x.grad.dtype == tg.float64 and x.grad.tolist() == [2.0, 2.0]
    assert tg.tensor([1.7, -2.2]).type_as(tg.tensor([1])).tolist() == \
        torch.tensor([1.7, -2.2]).type_as(torch.tensor([1])).tolist()


def test_clone_is_a_differentiable_copy(device):
    check_op(lambda x: x.clone() * 2, lambda x: x.clone() * 2, [(2, 3)], device=device)
    x = tg.ones(3)
    y = x.clone()
    y.data[0] = 5.0
    assert x.tolist() == [1.0, 1.0, 1.0]


# ----------------------------------------------------------------------------------------------
# Second derivatives
# ----------------------------------------------------------------------------------------------

SMOOTH = {
    "exp": (tg.exp, -1, 1),
    "log": (tg.log, 0.5, 2),
    "sqrt": (tg.sqrt, 0.5, 2),
    "sin": (tg.sin, -2, 2),
    "cos": (tg.cos, -2, 2),
    "tan": (tg.tan, -1, 1),
    "atan": (tg.atan, -2, 2),
    "log1p": (tg.log1p, -0.5, 2),
    "expm1": (tg.expm1, -1, 1),
    "reciprocal": (tg.reciprocal, 0.5, 2),
    "tanh": (tg.tanh, -2, 2),
    "sigmoid": (tg.sigmoid, -3, 3),
    "softplus": (lambda x: F.softplus(x, beta=1.5), -3, 3),
    "gelu": (F.gelu, -2, 2),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), -2, 2),
    "silu": (F.silu, -2, 2),
    "erf": (tg.erf, -2, 2),
    "elu": (F.elu, 0.2, 2),
    "pow_scalar": (lambda x: x**3, -2, 2),
    "pow_fraction": (lambda x: x**1.5, 0.5, 2),
    "rpow": (lambda x: 2**x, -1, 1),
    "div_scalar": (lambda x: 1 / x, 0.5, 2),
}


@pytest.mark.parametrize("name", list(SMOOTH))
def test_gradgradcheck_unary(name):
    fn, low, high = SMOOTH[name]
    x = tg.tensor(uniform((2, 3), low, high), dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(fn, [x])


@pytest.mark.parametrize("op", ["mul", "div", "pow", "add", "sub", "maximum", "atan2",
                                "remainder"])
def test_gradgradcheck_binary(op):
    a = tg.tensor(uniform((3, 1), 0.5, 2, 1), dtype=tg.float64, requires_grad=True)
    b = tg.tensor(uniform((1, 4), 0.5, 2, 2), dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(getattr(F, op), [a, b])


def test_second_derivative_values_match_torch():
    x_np = uniform((5,), 0.5, 2, 3)
    x = tg.tensor(x_np, requires_grad=True, dtype=tg.float64)
    xt = torch.tensor(x_np, requires_grad=True)
    fns = [(lambda t: (t.tanh() * t.sigmoid() + t.log() * t**2.5).sum(),) * 2]
    for tg_fn, th_fn in fns:
        (g,) = tg.grad(tg_fn(x), x, create_graph=True)
        (h,) = tg.grad(g.sum(), x)
        (gt,) = torch.autograd.grad(th_fn(xt), xt, create_graph=True)
        (ht,) = torch.autograd.grad(gt.sum(), xt)
        assert_close(g, gt)
        assert_close(h, ht)


def test_python_scalars_keep_sign_nan_and_dtype(device):
    """``x * 0.0`` then ``x * -0.0``: on a GPU, scalars become cached 0-d device arrays; the cache
    must keep -0.0 apart from 0.0, find nan again, and keep float32 float32."""
    x = tg.tensor(np.array([1.0, -2.0], dtype=np.float32), device=device)
    with np.errstate(divide="ignore"):
        for _ in range(2):  # the second round reads the cache
            plus, minus = x * 0.0, x * -0.0
            np.testing.assert_array_equal(np.signbit(plus.numpy()), [False, True])
            np.testing.assert_array_equal(np.signbit(minus.numpy()), [True, False])
            assert np.isnan((x + float("nan")).numpy()).all()
            assert (x * 0.5).dtype == np.float32 and (x * 0.5).numpy().tolist() == [0.5, -1.0]
            filled = x.detach().clone().fill_(-0.0)  # in-place updates take the same constants
            assert np.signbit(filled.numpy()).all()
            masked = tg.masked_fill(x, tg.tensor([True, False], device=device), -0.0)
            np.testing.assert_array_equal(np.signbit(masked.numpy()), [True, True])


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_send_the_gradient_to_both_sides_of_a_nan_like_torch(op):
    """torch 2.13 zeroes an input's gradient only where it loses the comparison outright (a < b
    for maximum's a) and halves it on ties: where a or b is NaN both get all of dy. Before, a
    NaN in a sent the gradient to b alone."""
    nan = float("nan")
    a = [nan, 1.0, 2.0, 2.0, nan, 3.0, -np.inf]
    b = [1.0, nan, 2.0, 3.0, nan, 1.0, -np.inf]
    dy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    y, yt = getattr(tg, op)(ta, tb), getattr(torch, op)(pa, pb)
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    y.backward(tg.tensor(dy))
    yt.backward(torch.tensor(dy))
    assert ta.grad.tolist() == pa.grad.tolist()
    assert tb.grad.tolist() == pb.grad.tolist()


def test_sign_of_nan_is_zero_as_torch():
    x = [float("nan"), -2.0, 0.0, 3.0]
    assert tg.sign(tg.tensor(x)).tolist() == torch.sign(torch.tensor(x)).tolist() == \
        [0.0, -1.0, 0.0, 1.0]


def test_floor_divide_and_remainder_by_zero_are_silent(recwarn):
    a = tg.tensor([1.0, -1.0, 0.0])
    assert np.isinf((a // 0.0).numpy()[:2]).all() and np.isnan((a % 0.0).numpy()).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
