"""Activation kernels: the Numba ReLU, leaky ReLU and sigmoid (cpu) are bitwise equal to the
reference.

Bitwise, not close: each element is a selection and at most one multiply in the arrays' dtype
(the sigmoid: NumPy's own exp, then the same add, division and multiply), so any difference is
a bug (a NaN rule, -0.0, a slope rounded through float64). The reference
itself is the ops' own formula, checked against torch through the op tests
(tests/test_ops_elementwise.py, which also checks that the ops give the same bits under every
CPU kernel setting). The cuda version is in test_activation_cuda.py.
"""

import importlib
import re

import numpy as np
import pytest

ref = importlib.import_module("tinygrad_edu.kernels.reference.activation")
cpu = importlib.import_module("tinygrad_edu.kernels.cpu.activation")

DTYPES = [np.float32, np.float64]
SHAPES = [(7,), (3, 5), (2, 3, 5, 7), (1,), (0,), (), (4, 0, 3)]
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0]  # 1e-40: subnormal
SLOPES = [0.01, 0.2, 1.5, 0.0, -0.3]


def calls(x, dy, slope):
    """(name, args) of the five functions on x (and dy)."""
    return [("relu_forward", (x,)), ("relu_backward", (x, dy)),
            ("leaky_relu_forward", (x, slope)), ("leaky_relu_backward", (x, dy, slope)),
            ("sigmoid_forward", (x,))]


def assert_same(got, expected, what):
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    assert got.flags.c_contiguous, what
    same = np.array_equal(got, expected, equal_nan=True)
    # -0.0 == 0.0 for array_equal: the sign bits must match too (a NaN's sign means nothing)
    numbers = ~np.isnan(got)
    assert same and np.array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers])), (
        f"{what}: {got.ravel()[:8]} vs {expected.ravel()[:8]}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numba_activations_are_bitwise_equal_to_reference(shape, dtype):
    rng = np.random.default_rng(0)
    x = np.asarray(rng.standard_normal(shape) * 30, dtype)  # sigmoid's tails too
    dy = np.asarray(rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, shape), dtype)
    for slope in SLOPES:
        for name, args in calls(x, dy, slope):
            assert_same(getattr(cpu, name)(*args), getattr(ref, name)(*args),
                        f"{name} {shape} {np.dtype(dtype)} slope={slope}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_numba_activations_follow_the_nan_inf_and_signed_zero_rules(dtype):
    """Every pair of special values in x and dy: NaN stays NaN in the forward and -0.0 gives
    0.0 (np.maximum's rules), an infinite dy of an inactive unit gives 0 (a selection, not
    inf * 0), a NaN x passes dy on in ReLU's backward (torch's threshold_backward)."""
    x, dy = (np.array(v, dtype) for v in np.meshgrid(SPECIAL, SPECIAL, indexing="ij"))
    for name, args in calls(x, dy, 0.01):
        with np.errstate(all="ignore"):
            assert_same(getattr(cpu, name)(*args), getattr(ref, name)(*args), name)
    relu_dx = cpu.relu_backward(np.array([np.nan, -1.0, 0.0, 2.0], dtype),
                                np.array([5.0, np.inf, np.inf, 3.0], dtype))
    assert relu_dx.tolist() == [5.0, 0.0, 0.0, 3.0]
    assert np.isnan(cpu.relu_forward(np.array([np.nan], dtype))[0])
    assert not np.signbit(cpu.relu_forward(np.array([-0.0], dtype))[0])  # np.maximum(-0.0, 0)
    tails = cpu.sigmoid_forward(np.array([-80.0, -20.0, 20.0, np.inf, -np.inf], dtype))
    np.testing.assert_allclose(tails, [np.exp(-80.0), np.exp(-20.0) / (1 + np.exp(-20.0)),
                                       1 / (1 + np.exp(-20.0)), 1.0, 0.0], rtol=1e-6)


def test_numba_activations_take_strided_inputs_and_return_c_contiguous_arrays():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 8, 5)).astype(np.float32)
    x = base.transpose(2, 0, 1)[:, ::2]  # (5, 3, 8), no axis contiguous
    dy = base[::-1].transpose(2, 0, 1)[:, ::2]  # the same shape, strided another way
    for name, args in calls(x, dy, 0.1):
        assert_same(getattr(cpu, name)(*args), getattr(ref, name)(*args).copy(order="C"), name)


def test_numba_leaky_relu_scales_in_the_arrays_dtype():
    """A float64 slope must not be applied in float64 to a float32 x (one rounding, not two)."""
    x = np.array([-1.0 / 3.0, -7.0, -1e-3], np.float32)
    slope = 0.1  # not a float32 number
    expected = x * np.float32(slope)
    assert_same(cpu.leaky_relu_forward(x, slope), expected, "forward")
    assert_same(cpu.leaky_relu_backward(np.full(3, -1.0, np.float32), x, slope), expected,
                "backward")


@pytest.mark.parametrize("impl", [ref, cpu], ids=["reference", "cpu"])
def test_activation_kernels_name_the_op_for_bad_input(impl):
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"sigmoid_forward: x must be .*, got int64"):
        impl.sigmoid_forward(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"relu_forward: x must be float32 or float64, got int32"):
        impl.relu_forward(np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"relu_backward: dy must have x's shape and dtype"):
        impl.relu_backward(x, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"leaky_relu_backward: dy must have x's shape and dtype"):
        impl.leaky_relu_backward(x, np.zeros((2, 3), np.float64), 0.1)
    with pytest.raises(TypeError, match=r"leaky_relu_forward: x must be an array, got list"):
        impl.leaky_relu_forward([1.0, -1.0], 0.1)


@pytest.mark.parametrize("kernel", ["_relu_forward_kernel", "_relu_backward_kernel",
                                    "_leaky_forward_kernel", "_leaky_backward_kernel",
                                    "_sigmoid_blend_kernel"])
def test_numba_activation_loops_are_vectorized(kernel):
    """LLVM turns each loop into packed compares feeding blends or masked loads: that is the
    whole 2-50x over NumPy. A branch per element would keep it scalar. Compiled again here with
    the kernel's own options but without the disk cache, whose code cannot be inspected."""
    import numba

    compiled = getattr(cpu, kernel)
    options = {k: v for k, v in compiled.targetoptions.items() if k not in ("nopython", "cache")}
    fn = numba.njit(**options)(compiled.py_func)
    x = np.linspace(-1, 1, 40, dtype=np.float32)
    args = {"_relu_forward_kernel": (x, np.empty_like(x)),
            "_relu_backward_kernel": (x, x.copy(), np.empty_like(x)),
            "_leaky_forward_kernel": (x, np.float32(0.1), np.empty_like(x)),
            "_leaky_backward_kernel": (x, x.copy(), np.float32(0.1), np.empty_like(x)),
            "_sigmoid_blend_kernel": (x, np.exp(-np.abs(x)), np.empty_like(x))}[kernel]
    fn(*args)
    ir = fn.inspect_llvm(fn.signatures[0])
    assert re.search(r"fcmp \w+ <\d+ x float>", ir), "no vector compare"


# erf: float32 through the polynomial (not bitwise: within an ulp of the exact value), float64
# through SciPy (the reference itself)


def ulps_from_exact(got, x):
    """|got - erf(x)| in units of the float32 spacing at erf(x) (SciPy's float64 erf)."""
    from scipy.special import erf

    exact = erf(x.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_numba_erf_float32_is_within_an_ulp_of_the_exact_value():
    """A dense grid over [-4.5, 4.5], tiny values of both signs down to the subnormals'
    threshold, and the seams of the two polynomials (|x| = 2) and of the clamp (|x| = 4)."""
    seams = np.array([2.0, 4.0], np.float32)
    seams = np.concatenate([np.nextafter(seams, 0), seams, np.nextafter(seams, 5)])
    x = np.concatenate([np.linspace(-4.5, 4.5, 1_000_001), np.geomspace(1e-37, 1e-2, 3000),
                        -np.geomspace(1e-37, 1e-2, 3000), seams, -seams]).astype(np.float32)
    got = cpu.erf_forward(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert ulps_from_exact(got, x).max() <= 0.51  # SciPy's own float32 erf: 0.5


def test_numba_erf_special_values_and_float64():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 10.0, -10.0], np.float32)
    got = cpu.erf_forward(x)
    assert got[:2].tolist() == [0.0, 0.0] and np.signbit(got[1]) and not np.signbit(got[0])
    assert got[2:4].tolist() == [1.0, -1.0] and np.isnan(got[4])
    assert got[5:].tolist() == [1.0, -1.0]
    x64 = np.linspace(-5, 5, 1001)
    assert_same(cpu.erf_forward(x64), ref.erf_forward(x64), "float64: SciPy's erf itself")
    strided = np.linspace(-3, 3, 60, dtype=np.float32).reshape(6, 10).T  # not C-contiguous
    got = cpu.erf_forward(strided)
    assert got.shape == (10, 6) and got.flags.c_contiguous
    assert ulps_from_exact(got, strided).max() <= 0.51


def test_erf_coefficients_are_the_documented_fits():
    """ERF_SMALL and ERF_TAIL are the polynomials fit_erf_coefficients computes. Compared by
    value over their intervals: the least squares round differently with another LAPACK
    thread count, which moves the high-order coefficients in their ninth digit."""
    from numpy.polynomial import polynomial

    small, tail = cpu.fit_erf_coefficients()
    t = np.linspace(0, 4, 1001)
    np.testing.assert_allclose(polynomial.polyval(t, small), polynomial.polyval(t, cpu.ERF_SMALL),
                               rtol=1e-12, atol=0)
    s = np.linspace(-1, 1, 1001)
    np.testing.assert_allclose(polynomial.polyval(s, tail), polynomial.polyval(s, cpu.ERF_TAIL),
                               rtol=0, atol=1e-14)


def test_numba_erf_loop_is_vectorized():
    """Both polynomials run as packed float64 arithmetic (8 lanes with AVX-512): what makes
    the kernel 10x SciPy's scalar loop."""
    import numba

    options = {k: v for k, v in cpu._erf_float32_kernel.targetoptions.items()
               if k not in ("nopython", "cache")}
    fn = numba.njit(**options)(cpu._erf_float32_kernel.py_func)
    x = np.linspace(-3, 3, 40, dtype=np.float32)
    fn(x, np.empty_like(x))
    ir = fn.inspect_llvm(fn.signatures[0])
    assert re.search(r"fmul <\d+ x double>", ir), "no vector multiply"


# GELU (exact, erf form): float32 in one pass through the erf polynomial, float64 the reference


def gelu_exact(x):
    """x Phi(x) in float64, Phi by erfc (no cancellation for negative x)."""
    from scipy.special import erfc

    x = x.astype(np.float64)
    return 0.5 * x * erfc(-x / np.sqrt(2))


def gelu_grad_exact(x):
    from scipy.special import erf

    x = x.astype(np.float64)
    return 0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)


def test_numba_gelu_float32_is_within_an_ulp_of_the_exact_value():
    x = np.concatenate([np.linspace(-9, 9, 200_001), np.geomspace(1e-30, 1e-2, 500),
                        -np.geomspace(1e-30, 1e-2, 500)]).astype(np.float32)
    got, cdf = cpu.gelu_forward(x)
    exact = gelu_exact(x)
    assert got.dtype == cdf.dtype == np.float32 and got.shape == cdf.shape == x.shape
    phi = np.where(x == 0, 0.5, exact / np.where(x == 0, 1, x))  # Phi(x)
    np.testing.assert_allclose(cdf, phi, rtol=1e-6, atol=1e-9)  # 7e-10 in the tail
    # within one float32 spacing of the exact value, or 3e-9 in the negative tail (x < -2.8),
    # where the erfc polynomial's 7e-10 can be more than an ulp of the tiny GELU values: a
    # float32 1 + erf(x / sqrt 2) is off by up to 6e-8 there (torch's float32 gelu, and the
    # composite), and 0 below x = -5.5
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(got - exact)
    assert (err <= np.maximum(spacing, 3e-9)).all()
    assert (err <= spacing)[x > -2].all()
    far = x < -5.7  # the asymptotic series: relative accuracy where GELU is below 1e-8
    assert (err[far] <= 1e-3 * np.abs(exact[far]) + 1e-40).all()


def test_numba_gelu_backward_matches_the_exact_derivative():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-9, 9, 100_001), rng.standard_normal(1000) * 1e-3])
    x = x.astype(np.float32)
    dy = rng.uniform(-2, 2, x.shape).astype(np.float32)
    got = cpu.gelu_backward(x, cpu.gelu_forward(x)[1], dy)
    expected = dy.astype(np.float64) * gelu_grad_exact(x)
    # the float32 exp of the density (~2 ulp) and the float32 result: a few ulp of |dy| * 1.13
    np.testing.assert_allclose(got, expected, rtol=0, atol=6e-7 * np.abs(dy).max())
    np.testing.assert_allclose(got, ref.gelu_backward(x, ref.gelu_forward(x)[1], dy), rtol=0,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gelu_reference_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((7, 9)) * 3).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tx)
    ty.backward(torch.tensor(dy))
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for impl in (ref, cpu):
        y, cdf = impl.gelu_forward(x)
        np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
        np.testing.assert_allclose(impl.gelu_backward(x, cdf, dy), tx.grad.numpy(), **tol)


def test_numba_gelu_special_values_strides_and_float64():
    x = np.array([0.0, -0.0, np.inf, np.nan, 40.0, -40.0], np.float32)
    y, cdf = cpu.gelu_forward(x)
    assert y[:2].tolist() == [0.0, 0.0] and y[2] == np.inf and np.isnan(y[3])
    assert y[4] == 40.0 and y[5] == 0.0
    dx = cpu.gelu_backward(x, cdf, np.ones_like(x))
    assert dx[0] == 0.5 and np.isnan(dx[3]) and dx[4] == 1.0 and dx[5] == 0.0
    x64 = np.linspace(-5, 5, 101)
    for got, want in zip(cpu.gelu_forward(x64), ref.gelu_forward(x64)):
        assert_same(got, want, "float64: the reference")
    cdf64 = ref.gelu_forward(x64)[1]
    assert_same(cpu.gelu_backward(x64, cdf64, x64), ref.gelu_backward(x64, cdf64, x64), "f64")
    with pytest.raises(ValueError, match=r"gelu_backward: cdf must have x's shape and dtype"):
        cpu.gelu_backward(x, cdf[:2], np.ones_like(x))
    strided = np.linspace(-3, 3, 60, dtype=np.float32).reshape(6, 10).T
    got, _ = cpu.gelu_forward(strided)
    assert got.shape == (10, 6) and got.flags.c_contiguous
    np.testing.assert_allclose(got, gelu_exact(strided), rtol=1e-6, atol=1e-7)
