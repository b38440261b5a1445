"""A review of the newer elementwise ops against torch, element by element.

Gradients are compared per element (each pair of edge values is one element of a flat tensor,
with a random upstream gradient), never summed over a grid: a sum that is NaN on both sides
hides a wrong finite entry next to it (xlogy's gradient at x = 0 hid that way).
"""

import itertools
import math

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.functional import elementwise as E

DTYPES = [np.float64, np.float32]


def _same(ours, theirs, what, signed_zeros=False, rtol=None):
    """Equal element by element (NaN matches NaN, inf matches inf of the same sign), within
    a few ulp; with ``signed_zeros`` the zeros' signs must agree too."""
    a = np.asarray(ours.detach() if isinstance(ours, tg.Tensor) else ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs torch's {b.dtype}"
    if rtol is None:
        rtol = 1e-12 if a.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, equal_nan=True, err_msg=what)
    if signed_zeros:
        zeros = (a == 0) & (b == 0)
        np.testing.assert_array_equal(np.signbit(a[zeros]), np.signbit(b[zeros]),
                                      err_msg=f"{what}: signs of zeros")


def _compare(tg_fn, torch_fn, arrays, what, signed_zeros=False, seed=0, rtol=None):
    """Forward, then backward with a random upstream gradient, ours vs torch, per element."""
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        y, yt = tg_fn(*ours), torch_fn(*theirs)
        _same(y, yt, f"{what} forward", signed_zeros, rtol)
        upstream = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
        y.backward(tg.tensor(upstream))
    yt.backward(torch.tensor(upstream))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.data), f"{what}: grad of input {k}"
            continue
        _same(a.grad, b.grad, f"{what} grad of input {k}", rtol=rtol)


# ----------------------------------------------------------------------------------------------
# Binary ops on every pair of edge values (flattened: one gradient per pair)
# ----------------------------------------------------------------------------------------------

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, 3.0, -6.0, 1e-300, 1e300, -1e300, math.inf,
         -math.inf, math.nan]

BINARY = {
    "atan2": (E.atan2, torch.atan2),
    "fmod": (E.fmod, torch.fmod),
    "remainder": (E.remainder, torch.remainder),
    "hypot": (E.hypot, torch.hypot),
    "logaddexp": (E.logaddexp, torch.logaddexp),
    "xlogy": (E.xlogy, torch.xlogy),
    "copysign": (E.copysign, torch.copysign),
    "true_divide": (E.true_divide, torch.true_divide),
    "multiply": (E.multiply, torch.multiply),
    "subtract": (E.subtract, torch.subtract),
    "div_trunc": (lambda a, b: E.divide(a, b, rounding_mode="trunc"),
                  lambda a, b: torch.div(a, b, rounding_mode="trunc")),
    "div_floor": (lambda a, b: E.divide(a, b, rounding_mode="floor"),
                  lambda a, b: torch.div(a, b, rounding_mode="floor")),
    "lerp_0.3": (lambda a, b: E.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3)),
    "lerp_0.7": (lambda a, b: E.lerp(a, b, 0.7), lambda a, b: torch.lerp(a, b, 0.7)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_edge_pairs_match_torch(name, dtype):
    pairs = np.array(list(itertools.product(EDGES, EDGES)))
    if name in ("fmod", "remainder") and dtype == np.float64:
        # a / b overflows: torch's fmod is NaN, ours exact (docstring); checked below
        pairs = pairs[~((np.abs(pairs[:, 0]) == 1e300) & (pairs[:, 1] == 1e-300))]
    with np.errstate(over="ignore"):  # 1e300 is inf in float32
        a, b = pairs[:, 0].astype(dtype), pairs[:, 1].astype(dtype)
    _compare(*BINARY[name], [a, b], f"{name} {np.dtype(dtype).name}",
             signed_zeros=name in ("fmod", "remainder", "copysign", "div_trunc", "div_floor"))


def test_fmod_and_remainder_exact_where_the_quotient_overflows():
    a, b = tg.tensor(np.array([1e300, -1e300])), tg.tensor(np.array([1e-300, 1e-300]))
    y = E.fmod(a, b)
    np.testing.assert_allclose(y.data, np.fmod([1e300, -1e300], 1e-300), rtol=0)
    assert np.all(np.abs(y.data) < 1e-300)
    y = E.remainder(a, b)
    assert np.all((y.data >= 0) & (y.data < 1e-300))


def test_xlogy_gradient_at_zero_is_log_of_other():
    """torch's rule: the gradient of x is xlogy(dy, b), zeroed only where x == 0 and b <= 0;
    at x = 0 with b > 0 it is ln b (the slope of x ln b), not 0."""
    x = tg.tensor(np.array([0.0, 0.0, 0.0, 0.0, -0.0]), requires_grad=True)
    b = tg.tensor(np.array([2.5, 1e-300, 0.0, -1.0, math.inf]), requires_grad=True)
    E.xlogy(x, b).sum().backward()
    assert x.grad.tolist() == [math.log(2.5), math.log(1e-300), 0.0, 0.0, math.inf]
    # a zero upstream gradient gives 0, not 0 * ln 0 = NaN (xlogy(0, b) = 0), as torch
    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = E.xlogy(x, tg.tensor(np.array([0.0, 3.0])))
    y.backward(tg.tensor(np.array([0.0, 1.0])))
    assert x.grad.tolist() == [0.0, math.log(3.0)]


def test_xlogy_scalar_operands_and_broadcast_match_torch():
    xs = np.array([[0.0], [1.5], [-2.0]])
    bs = np.array([0.0, 0.5, 3.0, np.nan])
    _compare(E.xlogy, torch.xlogy, [xs, bs], "xlogy broadcast")
    _compare(lambda x: E.xlogy(x, 2.0), lambda x: torch.xlogy(x, 2.0),
             [np.array([0.0, -1.0, 2.0])], "xlogy(x, 2.0)")
    _compare(lambda b: E.xlogy(0.0, b), lambda b: torch.xlogy(0.0, b),
             [np.array([0.0, 1.0, 2.0])], "xlogy(0.0, b)")


def test_xlogy_second_derivatives_match_torch_at_zero():
    x0 = np.array([0.0, 0.0, 1.5, -0.5])
    b0 = np.array([2.0, 0.5, 3.0, 1.5])
    x, b = tg.tensor(x0, requires_grad=True), tg.tensor(b0, requires_grad=True)
    xt, bt = torch.tensor(x0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    gx, gb = tg.grad(E.xlogy(x, b).sum(), [x, b], create_graph=True)
    gxt, gbt = torch.autograd.grad(torch.xlogy(xt, bt).sum(), [xt, bt], create_graph=True)
    ours = tg.grad((gx * gx).sum() + gb.sum(), [x, b])
    theirs = torch.autograd.grad((gxt * gxt).sum() + gbt.sum(), [xt, bt])
    for a, t in zip(ours, theirs):
        _same(a, t, "xlogy second derivatives")
    tg.gradgradcheck(E.xlogy, [tg.tensor(x0, requires_grad=True),
                               tg.tensor(b0, requires_grad=True)])


def test_atan2_gradient_is_zero_at_the_origin_as_torch():
    a = tg.tensor(np.array([0.0, -0.0, 0.0, 1e-170, 3.0]), requires_grad=True)
    b = tg.tensor(np.array([0.0, 0.0, -0.0, 1e-170, 4.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        E.atan2(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0, 0.0, 4.0 / 25.0]
    assert b.grad.tolist() == [0.0, 0.0, 0.0, 0.0, -3.0 / 25.0]
    x = tg.tensor(np.array([[0.3, -1.2], [2.0, -0.7]]), requires_grad=True)
    y = tg.tensor(np.array([-0.9, 1.1]), requires_grad=True)
    tg.gradcheck(E.atan2, [x, y])
    tg.gradgradcheck(E.atan2, [x, y])


@pytest.mark.parametrize("dtype", DTYPES)
def test_true_divide_gradient_of_tiny_and_huge_divisors(dtype):
    """db = -dy (a / b) / b, as torch: -dy a / b^2 is 0/0 or inf/inf once b^2 under- or
    overflows."""
    big = 1e300 if dtype == np.float64 else 1e30
    tiny = 1e-300 if dtype == np.float64 else 1e-30
    a = np.array([0.0, 1.0, tiny, math.inf, 2.0], dtype=dtype)
    b = np.array([tiny, tiny, tiny, big, -big], dtype=dtype)
    _compare(E.true_divide, torch.true_divide, [a, b], "true_divide")
    # addcdiv goes through div: finite where the slope is (torch's addcdiv divides by b^2)
    t1, t2 = tg.tensor(a[1:3], requires_grad=True), tg.tensor(b[1:3], requires_grad=True)
    E.addcdiv(tg.tensor(a[1:3]), t1, t2, value=0.5).sum().backward()
    assert np.isinf(t2.grad.data[0]) and np.isfinite(t2.grad.data[1])


def test_remainder_zero_keeps_the_sign_of_input_as_torch():
    a = tg.tensor([0.0, -0.0, 6.0, -6.0, 3.0])
    b = tg.tensor([-3.0, 3.0, -3.0, 3.0, 2.0])
    y = E.remainder(a, b)
    assert np.signbit(y.data).tolist() == [False, True, False, True, False]
    assert y.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    ints = E.remainder(tg.tensor([-5, 5, 6]), 3)
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 0]
    assert (tg.tensor([-5.0]) % 3).tolist() == [1.0]


def test_remainder_and_fmod_refuse_bool_tensors():
    t = tg.tensor([True, False])
    for op in (E.remainder, E.fmod):
        with pytest.raises(TypeError, match=f"{op.__name__}: not implemented for bool"):
            op(t, t)
    with pytest.raises(RuntimeError, match="remainder: ZeroDivisionError"):
        E.remainder(tg.tensor([3, 4]), tg.tensor([1, 0]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-40, 40), st.sampled_from([0.1, 0.3, -0.7, 1.5, -2.0]),
                          st.sampled_from([0.0, 1e-7, -1e-7])), min_size=1, max_size=8),
       st.sampled_from(DTYPES))
def test_division_family_near_exact_multiples_matches_torch(rows, dtype):
    """Quotients that land next to an integer: the rounding and the other's gradient."""
    a = np.array([k * d + e for k, d, e in rows]).astype(dtype)
    b = np.array([d for _, d, _ in rows]).astype(dtype)
    for name in ("fmod", "remainder", "div_trunc", "div_floor"):
        _compare(*BINARY[name], [a, b], name, signed_zeros=True)


# ----------------------------------------------------------------------------------------------
# Unary ops at special inputs: tiny, subnormal, huge
# ----------------------------------------------------------------------------------------------

UNARY_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 1e-20, 1e-200, -1e-200, 1e-310,
               -1e-310, 5e-324, 1e20, 1e300, -1e300, math.inf, -math.inf, math.nan]

UNARY = {
    "asin": (E.asin, torch.asin), "acos": (E.acos, torch.acos), "atan": (E.arctan, torch.atan),
    "sinh": (E.sinh, torch.sinh), "cosh": (E.cosh, torch.cosh), "asinh": (E.asinh, torch.asinh),
    "acosh": (E.acosh, torch.acosh), "atanh": (E.arctanh, torch.atanh),
    "log2": (E.log2, torch.log2), "log10": (E.log10, torch.log10), "exp2": (E.exp2, torch.exp2),
    "erfc": (E.erfc, torch.erfc), "erfinv": (E.erfinv, torch.erfinv),
    "lgamma": (E.lgamma, torch.lgamma), "sinc": (E.sinc, torch.sinc),
    "frac": (E.frac, torch.frac), "logit": (E.logit, torch.logit),
    "nan_to_num": (E.nan_to_num, torch.nan_to_num),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_tiny_and_huge_inputs_match_torch(name, dtype):
    values = np.array(UNARY_EDGES)
    if name == "logit":  # torch's dy * inf at -0.0 takes -0.0's sign in its vectorized loop
        values[1] = 0.0  # (and not in its scalar one): no sign to compare there
    if dtype == np.float32:
        with np.errstate(all="ignore"):
            values = values.astype(np.float32)
        if name == "logit":  # -1e-200 and -1e-310 become -0.0 in float32: which of them torch's
            values[values == 0] = 0.0  # vectorized loop meets depends on the CPU's vector width
    _compare(*UNARY[name], [values.astype(dtype)], f"{name} {np.dtype(dtype).name}",
             signed_zeros=name not in ("lgamma",))


def test_sinc_gradient_is_zero_where_x_squared_underflows():
    x = tg.tensor([1e-200, -1e-170, 5e-324, 0.0, 1e-100], requires_grad=True)
    E.sinc(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0, 0.0]  # the true slope is ~ -3.3 x: ~0
    x32 = tg.tensor(np.array([1e-30, 1e-45], dtype=np.float32), requires_grad=True)
    E.sinc(x32).sum().backward()
    assert x32.grad.tolist() == [0.0, 0.0]


def test_lgamma_of_subnormals_is_minus_log_x():
    v = np.array([1e-310, -1e-310, 5e-324, 2e-308])
    y = E.lgamma(tg.tensor(v))
    np.testing.assert_allclose(y.data, -np.log(np.abs(v)), rtol=1e-15)
    _same(y, torch.lgamma(torch.tensor(v)), "lgamma subnormals")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_polygamma_at_the_infinities_matches_torch(n, dtype):
    """torch: psi'(-inf) = NaN, psi^(n)(+inf) = NaN for n >= 2, psi^(n)(-inf) = +-inf for
    n >= 2 (SciPy: inf, +-0 and +-inf)."""
    values = np.array([math.inf, -math.inf, 0.0, -0.0, 0.25, -2.5, 7.0], dtype=dtype)
    _compare(lambda x: E.polygamma(n, x), lambda x: torch.polygamma(n, x), [values],
             f"polygamma({n})", rtol=1e-9 if dtype == np.float64 else 1e-5)
    # (torch's float64 trigamma is 6e-11 from SciPy's)


# ----------------------------------------------------------------------------------------------
# logit's eps
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.36474828, 0.21134361, 0.1, 1e-6])
def test_logit_float32_bounds_round_as_torch(eps):
    """torch clamps to [lo, hi] with lo = float32(eps), hi = 1 - lo in float32; for these eps
    float32(1 - eps) is one ulp away from that hi."""
    lo = np.float32(eps)
    hi = np.float32(1) - lo
    values = [hi, np.float32(1 - eps), np.nextafter(hi, np.float32(0)),
              np.nextafter(hi, np.float32(1)), lo, np.nextafter(lo, np.float32(0)), 0.5]
    x = np.array(values, dtype=np.float32)
    _compare(lambda t: E.logit(t, eps), lambda t: torch.logit(t, eps), [x], f"logit eps={eps}")


@pytest.mark.parametrize("eps", [-1.0, -0.1, 0.0, 0.6, math.nan])
def test_logit_negative_zero_and_large_eps_as_torch(eps):
    """A negative eps is no eps (torch passes None as -1); eps > 0.5 makes lo > hi, where
    torch's clamp (x < lo ? lo : x > hi ? hi : x) is not NumPy's clip."""
    x = np.array([-0.5, 0.0, 0.3, 0.55, 1.0, 1.5, math.nan])
    if math.isnan(eps):  # torch takes NaN as no eps too
        _compare(lambda t: E.logit(t, eps), lambda t: torch.logit(t), [x], "logit eps=nan")
        return
    _compare(lambda t: E.logit(t, eps), lambda t: torch.logit(t, eps), [x], f"logit eps={eps}")


def test_logit_refuses_a_non_number_eps():
    with pytest.raises(TypeError, match="logit: expected eps to be a number or None, got str"):
        E.logit(tg.tensor([0.5]), eps="0.1")


# ----------------------------------------------------------------------------------------------
# Type promotion, which inputs get a gradient, errors
# ----------------------------------------------------------------------------------------------

PROMOTION_OPS = ["atan2", "fmod", "remainder", "xlogy", "copysign", "float_power", "hypot",
                 "logaddexp"]
OPERANDS = {
    "f32": lambda: np.array([1.5, 2.5, 3.0], dtype=np.float32),
    "f64_0d": lambda: np.array(2.0),
    "i64": lambda: np.array([1, 2, 3]),
    "i32_0d": lambda: np.array(2, dtype=np.int32),
    "u8": lambda: np.array([1, 2, 3], dtype=np.uint8),
    "bool": lambda: np.array([True, True, True]),
    "int": lambda: 2,
    "float": lambda: 2.5,
}


@pytest.mark.parametrize("op", PROMOTION_OPS)
def test_result_dtypes_match_torch(op):
    """Every pair of operand kinds torch takes gives torch's dtype and values; where torch
    refuses (integer hypot/logaddexp), ours refuses too."""
    for (ka, make_a), (kb, make_b) in itertools.product(OPERANDS.items(), repeat=2):
        a, b = make_a(), make_b()
        if np.isscalar(a) and np.isscalar(b):
            continue
        ta = a if np.isscalar(a) else torch.tensor(a)
        tb = b if np.isscalar(b) else torch.tensor(b)
        try:
            expected = getattr(torch, op)(ta, tb)
        except TypeError:  # torch takes no Python number there; ours does
            continue
        except (RuntimeError, NotImplementedError):
            with pytest.raises((TypeError, RuntimeError)):
                getattr(E, op)(a if np.isscalar(a) else tg.tensor(a),
                               b if np.isscalar(b) else tg.tensor(b))
            continue
        y = getattr(E, op)(a if np.isscalar(a) else tg.tensor(a),
                           b if np.isscalar(b) else tg.tensor(b))
        what = f"{op}({ka}, {kb})"
        assert str(y.dtype) == str(expected.dtype).removeprefix("torch."), what
        np.testing.assert_allclose(y.data.astype(float), expected.numpy().astype(float),
                                   rtol=1e-6, err_msg=what)


def test_gradients_land_in_each_inputs_dtype_and_shape():
    a = tg.tensor(np.array([[1.5, -2.5, 0.7]], dtype=np.float32), requires_grad=True)
    b = tg.tensor(np.array(1.3), requires_grad=True)  # float64, 0-d: result stays float32
    at = torch.tensor(a.data, requires_grad=True)
    bt = torch.tensor(b.data, requires_grad=True)
    for op in ("atan2", "hypot", "copysign", "xlogy", "fmod", "remainder", "logaddexp2"):
        a.grad = b.grad = at.grad = bt.grad = None
        y, yt = getattr(E, op)(a, b), getattr(torch, op)(at, bt)
        assert y.dtype == np.float32
        y.sum().backward()
        yt.sum().backward()
        _same(a.grad, at.grad, f"{op} grad of input")
        assert b.grad.dtype == np.float64 and b.grad.shape == ()
        assert_close(b.grad, bt.grad, np.float32, f"{op} grad of other")  # float32 terms


def test_zero_gradients_where_torch_gives_zeros():
    """copysign's other, the rounded quotients and sgn: zeros, as torch (no error)."""
    x = tg.tensor([1.5, -2.0, 0.0], requires_grad=True)
    y = tg.tensor([-1.0, 3.0, 2.0], requires_grad=True)
    (E.copysign(x, y) + E.divide(x, y, rounding_mode="floor") + E.sgn(x)).sum().backward()
    assert y.grad.tolist() == [0.0, 0.0, 0.0]
    assert x.grad.tolist() == [-1.0, -1.0, 0.0]  # copysign's alone: 0 at x == 0


def test_heaviside_matches_torch_and_refuses_a_gradient():
    x = np.array([-1.5, -0.0, 0.0, 2.0, math.nan])
    v = np.array([0.5])
    np.testing.assert_array_equal(tg.heaviside(tg.tensor(x), tg.tensor(v)).data,
                                  torch.heaviside(torch.tensor(x), torch.tensor(v)).numpy())
    xi = np.array([-2, 0, 3])
    np.testing.assert_array_equal(tg.heaviside(tg.tensor(xi), tg.tensor(np.array([7]))).data,
                                  torch.heaviside(torch.tensor(xi), torch.tensor([7])).numpy())
    y = tg.heaviside(tg.tensor(x, requires_grad=True), tg.tensor(v))
    with pytest.raises(RuntimeError, match="heaviside: the derivative is not implemented"):
        y.sum().backward()


@pytest.mark.parametrize("op", ["frac", "nan_to_num", "positive", "sgn", "signbit",
                                "isposinf", "isneginf", "isreal", "asin", "logit", "lgamma"])
def test_non_tensor_input_is_a_type_error_naming_the_op(op):
    for bad in (2.0, [1.0, 2.0]):
        with pytest.raises(TypeError, match=f"^{op}: expected a Tensor, got "
                                            f"{type(bad).__name__}"):
            getattr(E, op)(bad)


def test_bad_operands_are_errors_naming_the_op():
    t3, t4 = tg.tensor(np.ones(3)), tg.tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"lerp: input \(3,\), end \(3,\) and weight \(4,\)"):
        E.lerp(t3, t3, t4)
    with pytest.raises(ValueError, match=r"lerp: shapes \(3,\) and \(4,\)"):
        E.lerp(t3, t4, 0.5)
    for bad, name in ((None, "NoneType"), ("2", "str"), (1j, "complex")):
        with pytest.raises(TypeError, match=f"float_power: expected a Tensor or a real number, "
                                            f"got {name}"):
            E.float_power(t3, bad)
        with pytest.raises(TypeError, match="float_power"):
            E.float_power(bad, t3)
    with pytest.raises(ValueError, match="polygamma: n must be a non-negative integer"):
        E.polygamma(-1, t3)
    with pytest.raises(ValueError, match="div: expected rounding_mode"):
        E.divide(t3, t3, rounding_mode="round")


def test_nan_to_num_takes_none_for_nan_as_torch():
    v = np.array([math.nan, math.inf, -math.inf, 1.5], dtype=np.float32)
    _same(E.nan_to_num(tg.tensor(v), nan=None), torch.nan_to_num(torch.tensor(v), nan=None),
          "nan_to_num(nan=None)")


def test_erfinv_keeps_the_sign_of_zero():
    y = E.erfinv(tg.tensor([-0.0, 0.0]))
    assert np.signbit(y.data).tolist() == [True, False]


# ----------------------------------------------------------------------------------------------
# Odd shapes in float32 and float64, and float64 gradchecks of second order
# ----------------------------------------------------------------------------------------------

SHAPED = {
    "hypot": (E.hypot, torch.hypot, (0.5, 2.0)),
    "logaddexp2": (E.logaddexp2, torch.logaddexp2, (-3.0, 3.0)),
    "atan2": (E.atan2, torch.atan2, (0.5, 2.0)),
    "copysign": (E.copysign, torch.copysign, (0.5, 2.0)),
    "xlogy": (E.xlogy, torch.xlogy, (0.3, 2.0)),
    "true_divide": (E.true_divide, torch.true_divide, (0.5, 2.0)),
}


@pytest.mark.parametrize("name", list(SHAPED))
def test_binary_odd_broadcast_shapes_and_second_order(name):
    tg_fn, torch_fn, (low, high) = SHAPED[name]
    rng = np.random.default_rng(7)
    a = rng.uniform(low, high, (3, 1, 5)) * rng.choice([-1.0, 1.0], (3, 1, 5))
    b = rng.uniform(low, high, (4, 1)) * (1.0 if name == "xlogy" else
                                          rng.choice([-1.0, 1.0], (4, 1)))
    for dtype in DTYPES:
        ours = [tg.tensor(v.astype(dtype), requires_grad=True) for v in (a, b)]
        theirs = [torch.tensor(v.astype(dtype), requires_grad=True) for v in (a, b)]
        y, yt = tg_fn(*ours), torch_fn(*theirs)
        assert y.shape == tuple(yt.shape) == (3, 4, 5)
        assert_close(y, yt, dtype, f"{name} forward")
        upstream = rng.standard_normal(y.shape).astype(dtype)
        y.backward(tg.tensor(upstream))
        yt.backward(torch.tensor(upstream))
        for o, t in zip(ours, theirs):
            assert o.grad.dtype == dtype and o.grad.shape == tuple(t.grad.shape)
            assert_close(o.grad, t.grad, dtype, f"{name} grad")
    xs = [tg.tensor(v, requires_grad=True) for v in (a, b)]
    assert tg.gradcheck(tg_fn, xs) and tg.gradgradcheck(tg_fn, xs)


def test_lerp_tensor_weight_second_order():
    rng = np.random.default_rng(3)
    xs = [tg.tensor(rng.uniform(-2, 2, s), requires_grad=True) for s in ((2, 1, 3), (4, 1), (3,))]
    assert tg.gradgradcheck(E.lerp, xs)
