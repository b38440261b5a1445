"""torch's remaining elementwise math ops (asin ... xlogy, lerp, addcmul, divide modes, aliases).

Each differentiable op goes through ``check_op`` (forward and backward vs torch in float64 and
float32 with one random upstream gradient, and float64 central differences) inside its domain,
then through its domain edges (0, +-1, +-inf, NaN), forward and backward compared with torch.
"""

import math

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu.functional import elementwise as E

EDGES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, -3.0, 1e-8, 40.0, -40.0,
                  np.inf, -np.inf, np.nan])

# name: (tg function, torch function, low, high), inputs drawn uniformly from [low, high]
UNARY = {
    "asin": (E.asin, torch.asin, -0.9, 0.9),
    "acos": (E.acos, torch.acos, -0.9, 0.9),
    "sinh": (E.sinh, torch.sinh, -2.0, 2.0),
    "cosh": (E.cosh, torch.cosh, -2.0, 2.0),
    "asinh": (E.asinh, torch.asinh, -3.0, 3.0),
    "acosh": (E.acosh, torch.acosh, 1.1, 4.0),
    "atanh": (E.atanh, torch.atanh, -0.9, 0.9),
    "log2": (E.log2, torch.log2, 0.1, 4.0),
    "log10": (E.log10, torch.log10, 0.1, 4.0),
    "exp2": (E.exp2, torch.exp2, -3.0, 3.0),
    "erfc": (E.erfc, torch.erfc, -2.0, 2.0),
    "erfinv": (E.erfinv, torch.erfinv, -0.9, 0.9),
    "lgamma": (E.lgamma, torch.lgamma, 0.2, 5.0),
    "digamma": (E.digamma, torch.digamma, 0.2, 5.0),
    "sinc": (E.sinc, torch.sinc, -2.5, 2.5),
    "frac": (E.frac, torch.frac, 0.1, 0.9),  # one integer part: no kink for the gradcheck
    "logit": (E.logit, torch.logit, 0.1, 0.9),
    "logit_eps": (lambda x: E.logit(x, eps=0.2), lambda x: torch.logit(x, eps=0.2), 0.25, 0.75),
    "absolute": (E.absolute, torch.absolute, 0.5, 2.0),
    "negative": (E.negative, torch.negative, -2.0, 2.0),
    "positive": (E.positive, torch.positive, -2.0, 2.0),
    "lgamma_negative": (E.lgamma, torch.lgamma, -2.9, -2.1),
    "digamma_negative": (E.digamma, torch.digamma, -0.9, -0.1),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_inside_domain(name):
    tg_fn, torch_fn, low, high = UNARY[name]
    check_op(tg_fn, torch_fn, [(2, 3, 5)], low=low, high=high)


def _edge_compare(tg_fn, torch_fn, values, dtype):
    """Forward and backward (upstream gradient of ones) on ``values``, compared with torch;
    NaN matches NaN and inf matches inf of the same sign."""
    x = tg.tensor(values.astype(dtype), requires_grad=True)
    xt = torch.tensor(values.astype(dtype), requires_grad=True)
    y, yt = tg_fn(x), torch_fn(xt)
    assert_close(y, yt, dtype, "forward at the edges")
    y.sum().backward()
    yt.sum().backward()
    assert_close(x.grad, xt.grad, dtype, "backward at the edges")


EDGE_SKIP = {
    # the library's abs (not of this file's ops) gives NaN's gradient as NaN, torch as 0
    "absolute": np.array([np.nan]),
    # torch's polygamma(1, x) at x = -1, -2, ... is a huge finite number from its reflection
    # formula (6.6e32), SciPy's an exact inf: digamma's gradient differs only there
    "digamma": np.array([-1.0, -2.0, -3.0, -40.0]),
    "digamma_negative": np.array([-1.0, -2.0, -3.0, -40.0]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", [n for n in UNARY if n not in ("lgamma_negative",
                                                                "digamma_negative")])
def test_unary_domain_edges(name, dtype):
    tg_fn, torch_fn, _, _ = UNARY[name]
    skip = EDGE_SKIP.get(name, np.array([]))
    values = EDGES[~(np.isin(EDGES, skip) | (np.isnan(EDGES) & np.isnan(skip).any()))]
    if name == "logit":  # the sign of torch's inf gradient at -0.0 depends on whether its
        values = np.where(values == 0, 0.0, values)  # vectorized loop (CPU width) meets it
    with np.errstate(all="ignore"):
        _edge_compare(tg_fn, torch_fn, values, dtype)


def test_aliases():
    assert E.arcsin is E.asin and E.arccos is E.acos and E.arctan is E.atan
    assert E.arcsinh is E.asinh and E.arccosh is E.acosh and E.arctanh is E.atanh
    assert E.arctan2 is E.atan2 and E.absolute is E.abs and E.multiply is E.mul
    assert E.subtract is E.sub and E.true_divide is E.div and E.negative is E.neg
    assert (E.greater, E.greater_equal, E.less, E.less_equal, E.not_equal) == (
        E.gt, E.ge, E.lt, E.le, E.ne)


def test_polygamma_and_second_derivatives():
    check_op(lambda x: E.polygamma(2, x), lambda x: torch.polygamma(2, x), [(4, 3)],
             low=0.5, high=3.0)
    x = tg.tensor(np.linspace(0.5, 3.0, 6), requires_grad=True)
    tg.gradgradcheck(E.lgamma, [x])
    tg.gradgradcheck(E.asin, [tg.tensor(np.linspace(-0.8, 0.8, 6), requires_grad=True)])
    tg.gradgradcheck(E.sinc, [tg.tensor(np.linspace(-1.3, 1.7, 6), requires_grad=True)])


@pytest.mark.parametrize("op", ["asin", "sinh", "atanh", "log2", "exp2", "erfc", "erfinv",
                                "lgamma", "digamma", "sinc", "logit"])
def test_unary_integer_inputs_promote(op):
    values = np.array([0, 1, 2, -1, 3])
    with np.errstate(all="ignore"):
        y = getattr(E, op)(tg.tensor(values))
    yt = getattr(torch, op)(torch.tensor(values))
    assert y.dtype == np.float32 and yt.dtype == torch.float32
    assert_close(y, yt, np.float32, op)


# ----------------------------------------------------------------------------------------------
# Binary ops
# ----------------------------------------------------------------------------------------------

BROADCAST_PAIRS = [((3, 5), (3, 5)), ((), (2, 5)), ((2, 1, 5), (3, 1)), ((5,), (2, 3, 5))]


def _away_from_zero(shape, seed, low=0.5, high=2.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


BINARY = {
    "hypot": (E.hypot, torch.hypot, lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
    "logaddexp": (E.logaddexp, torch.logaddexp,
                  lambda s, t: (np.random.default_rng(1).uniform(-3, 3, s),
                                np.random.default_rng(2).uniform(-3, 3, t))),
    "logaddexp2": (E.logaddexp2, torch.logaddexp2,
                   lambda s, t: (np.random.default_rng(1).uniform(-3, 3, s),
                                 np.random.default_rng(2).uniform(-3, 3, t))),
    "xlogy": (E.xlogy, torch.xlogy,
              lambda s, t: (np.random.default_rng(1).uniform(-2, 2, s),
                            np.random.default_rng(2).uniform(0.2, 3, t))),
    # |a| / |b| in (1.2, 2.8): trunc(a / b) is +-1 or +-2 and stays away from its jumps
    "fmod": (E.fmod, torch.fmod,
             lambda s, t: (_away_from_zero(s, 1, 3.0, 3.5), _away_from_zero(t, 2, 1.25, 1.5))),
    "copysign": (E.copysign, torch.copysign,
                 lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
    "float_power": (E.float_power, torch.float_power,
                    lambda s, t: (np.random.default_rng(1).uniform(0.5, 2, s),
                                  np.random.default_rng(2).uniform(-2, 2, t))),
    "multiply": (E.multiply, torch.multiply,
                 lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
    "subtract": (E.subtract, torch.subtract,
                 lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
    "true_divide": (E.true_divide, torch.true_divide,
                    lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
    "divide": (E.divide, torch.divide,
               lambda s, t: (_away_from_zero(s, 1), _away_from_zero(t, 2))),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, shapes):
    tg_fn, torch_fn, make = BINARY[name]
    inputs = list(make(*shapes))
    if name == "float_power":  # float64 results either way: compare in float64 only
        check_op(tg_fn, torch_fn, shapes, inputs=inputs, dtypes=(np.float64,))
        y = tg_fn(*[tg.tensor(a.astype(np.float32), requires_grad=True) for a in inputs])
        assert y.dtype == np.float64
        return
    check_op(tg_fn, torch_fn, shapes, inputs=inputs)


BINARY_EDGES = np.array([0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["hypot", "logaddexp", "logaddexp2", "xlogy", "fmod",
                                  "copysign"])
def test_binary_edges(name, dtype):
    """Every pair of edge values (a grid by broadcasting), forward and backward vs torch."""
    tg_fn, torch_fn, _ = BINARY[name]
    a_values = BINARY_EDGES[:, None].astype(dtype)
    b_values = BINARY_EDGES[None, :].astype(dtype)
    a, b = tg.tensor(a_values, requires_grad=True), tg.tensor(b_values, requires_grad=True)
    at = torch.tensor(a_values, requires_grad=True)
    bt = torch.tensor(b_values, requires_grad=True)
    with np.errstate(all="ignore"):
        y = tg_fn(a, b)
        yt = torch_fn(at, bt)
        assert_close(y, yt, dtype, f"{name} forward")
        y.sum().backward()
        yt.sum().backward()
    assert_close(a.grad, at.grad, dtype, f"{name} grad of input")
    assert_close(b.grad, bt.grad, dtype, f"{name} grad of other")


def test_binary_scalars_and_integers():
    i = np.array([1, 2, -3, 0])
    for name in ["xlogy", "copysign"]:
        y = getattr(E, name)(tg.tensor(i), tg.tensor(i[::-1].copy()))
        yt = getattr(torch, name)(torch.tensor(i), torch.tensor(i[::-1].copy()))
        assert y.dtype == np.float32
        assert_close(y, yt, np.float32, name)
    assert_close(E.xlogy(2, tg.tensor(i)), torch.xlogy(2, torch.tensor(i)), np.float32)
    assert_close(E.copysign(tg.tensor(i), -1.0), torch.copysign(torch.tensor(i), -1.0),
                 np.float32)
    y = E.fmod(tg.tensor(i), 2)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.data, torch.fmod(torch.tensor(i), 2).numpy())
    y = E.fmod(tg.tensor(i), 2.5)
    assert y.dtype == np.float32
    assert_close(y, torch.fmod(torch.tensor(i), 2.5), np.float32)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        E.fmod(tg.tensor(i), 0)
    for name in ["hypot", "logaddexp", "logaddexp2"]:
        with pytest.raises(TypeError, match=name):
            getattr(E, name)(tg.tensor(i), tg.tensor(i))
    with pytest.raises(TypeError, match="frac"):
        E.frac(tg.tensor(i))
    y = E.float_power(tg.tensor(i), 2)
    assert y.dtype == np.float64
    assert_close(y, torch.float_power(torch.tensor(i), 2))
    assert_close(E.float_power(2, tg.tensor(i)), torch.float_power(2, torch.tensor(i)))
    x = tg.tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    E.float_power(x, 3).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, 3 * np.array([0.5, 1.5]) ** 2, np.float32)


# ----------------------------------------------------------------------------------------------
# divide with rounding modes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_divide_rounding_modes(mode):
    a = np.array([[7.0, -7.0, 7.5, -7.5, 0.0, 1.0, -1.0, 0.0, np.inf, np.nan]])
    b = np.array([[2.0, 2.0, -2.0, -2.0, 3.0, 0.0, 0.0, 0.0, 2.0, 1.0]])
    for dtype in (np.float64, np.float32):
        x = tg.tensor(a.astype(dtype), requires_grad=True)
        y = tg.tensor(b.astype(dtype), requires_grad=True)
        xt = torch.tensor(a.astype(dtype), requires_grad=True)
        yt = torch.tensor(b.astype(dtype), requires_grad=True)
        out, out_t = E.divide(x, y, rounding_mode=mode), torch.div(xt, yt, rounding_mode=mode)
        assert_close(out, out_t, dtype, mode)
        out.sum().backward()
        out_t.sum().backward()
        assert_close(x.grad, xt.grad, dtype)
        assert_close(y.grad, yt.grad, dtype)
    ints = np.array([7, -7, 7, -7, 0, -1, 5, -6])
    divs = np.array([2, 2, -2, -2, 3, 4, -5, 3])
    out = E.divide(tg.tensor(ints), tg.tensor(divs), rounding_mode=mode)
    expected = torch.div(torch.tensor(ints), torch.tensor(divs), rounding_mode=mode)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, expected.numpy())
    out = E.divide(tg.tensor(ints), 2, rounding_mode=mode)
    np.testing.assert_array_equal(out.data, torch.div(torch.tensor(ints), 2,
                                                      rounding_mode=mode).numpy())
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        E.divide(tg.tensor(ints), 0, rounding_mode=mode)


def test_divide_without_mode_and_bad_mode():
    i = np.array([1, 2, -3])
    y = E.divide(tg.tensor(i), 2)
    assert y.dtype == np.float32
    assert_close(y, torch.divide(torch.tensor(i), 2), np.float32)
    with pytest.raises(ValueError, match="rounding_mode"):
        E.divide(tg.tensor(i), 2, rounding_mode="round")


# ----------------------------------------------------------------------------------------------
# Ternary ops: lerp, addcmul, addcdiv
# ----------------------------------------------------------------------------------------------

TERNARY_SHAPES = [((3, 5), (3, 5), (3, 5)), ((2, 1, 5), (3, 1), (5,)), ((), (4, 1), (1, 3))]


@pytest.mark.parametrize("shapes", TERNARY_SHAPES, ids=str)
def test_lerp_tensor_weight(shapes):
    check_op(E.lerp, torch.lerp, shapes, low=-1.5, high=1.5)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0, -0.7, 1.8])
def test_lerp_scalar_weight(weight):
    check_op(lambda a, b: E.lerp(a, b, weight), lambda a, b: torch.lerp(a, b, weight),
             [(3, 1), (1, 4)])


def test_lerp_ends_exact_and_integers_refused():
    a = tg.tensor(np.array([0.1, 1e8, -3.3], dtype=np.float32))
    b = tg.tensor(np.array([0.7, -1e-3, 2.9], dtype=np.float32))
    np.testing.assert_array_equal(E.lerp(a, b, 1.0).data, b.data)
    np.testing.assert_array_equal(E.lerp(a, b, 0.0).data, a.data)
    with pytest.raises(TypeError, match="lerp"):
        E.lerp(tg.tensor([1, 2]), tg.tensor([3, 4]), 0.5)


@pytest.mark.parametrize("shapes", TERNARY_SHAPES, ids=str)
@pytest.mark.parametrize("value", [1, -0.5])
def test_addcmul(shapes, value):
    check_op(lambda a, b, c: E.addcmul(a, b, c, value=value),
             lambda a, b, c: torch.addcmul(a, b, c, value=value), shapes)


@pytest.mark.parametrize("shapes", TERNARY_SHAPES, ids=str)
@pytest.mark.parametrize("value", [1, 2.5])
def test_addcdiv(shapes, value):
    rng = np.random.default_rng(3)
    inputs = [rng.uniform(-2, 2, shapes[0]), rng.uniform(-2, 2, shapes[1]),
              _away_from_zero(shapes[2], 4)]
    check_op(lambda a, b, c: E.addcdiv(a, b, c, value=value),
             lambda a, b, c: torch.addcdiv(a, b, c, value=value), shapes, inputs=inputs)


def test_addcmul_integers_and_addcdiv_refusal():
    i = np.array([1, 2, -3])
    y = E.addcmul(tg.tensor(i), tg.tensor(i), tg.tensor(i), value=2)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.data, torch.addcmul(*[torch.tensor(i)] * 3, value=2).numpy())
    with pytest.raises(RuntimeError, match="addcdiv"):
        E.addcdiv(tg.tensor(i), tg.tensor(i), tg.tensor(i))


# ----------------------------------------------------------------------------------------------
# Predicates: no gradient, bool results
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["signbit", "isposinf", "isneginf", "isreal"])
def test_predicates(op):
    values = [np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, -np.nan]),
              np.array([0, 3, -4]), np.array([True, False])]
    for v in values:
        if op == "signbit" and v.dtype == bool:
            continue  # torch.signbit refuses bool
        y = getattr(E, op)(tg.tensor(v))
        yt = getattr(torch, op)(torch.tensor(v))
        assert y.dtype == np.bool_ and not y.requires_grad
        np.testing.assert_array_equal(y.data, yt.numpy(), err_msg=f"{op} {v.dtype}")
    assert not E.signbit(tg.tensor([1.0, -1.0], requires_grad=True)).requires_grad


def test_comparison_aliases_match_torch():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    for op in ["greater", "greater_equal", "less", "less_equal", "not_equal"]:
        np.testing.assert_array_equal(getattr(E, op)(tg.tensor(a), tg.tensor(b)).data,
                                      getattr(torch, op)(torch.tensor(a),
                                                         torch.tensor(b)).numpy())


def test_sgn_matches_sign_with_zero_gradient():
    values = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan])
    x = tg.tensor(values, requires_grad=True)
    y = E.sgn(x)
    assert_close(y, torch.sgn(torch.tensor(values)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(7))  # torch: a zero tensor


def test_positive_and_sgn_on_integers():
    i = np.array([3, 0, -2])
    x = tg.tensor(i)
    assert E.positive(x) is x
    np.testing.assert_array_equal(E.sgn(x).data, torch.sgn(torch.tensor(i)).numpy())
    with pytest.raises(TypeError, match="bool"):
        E.positive(tg.tensor([True]))


def test_logit_edges_with_eps():
    values = np.array([-0.5, 0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0, 1.5, np.nan])
    for dtype in (np.float64, np.float32):
        with np.errstate(all="ignore"):
            _edge_compare(lambda x: E.logit(x, eps=0.1), lambda x: torch.logit(x, eps=0.1),
                          values, dtype)


def test_sinc_at_zero_is_one_with_zero_slope():
    x = tg.tensor([0.0, 1.0, -1.0], requires_grad=True)
    y = E.sinc(x)
    y.sum().backward()
    assert y.data[0] == 1.0 and x.grad[0] == 0.0
    assert math.isclose(float(x.grad[1]), -1.0, rel_tol=1e-6)


def test_abs_gradient_is_zero_at_nan_as_torch():
    x = tg.tensor([float("nan"), -1.0, 0.0, 2.0], requires_grad=True)
    x.abs().sum().backward()
    t = torch.tensor([float("nan"), -1.0, 0.0, 2.0], requires_grad=True)
    t.abs().sum().backward()
    assert x.grad.tolist() == t.grad.tolist() == [0.0, -1.0, 0.0, 1.0]
