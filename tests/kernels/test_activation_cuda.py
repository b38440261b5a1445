"""Activation kernels, cuda: the Numba ``@cuda.jit`` ReLU and leaky ReLU (under the simulator
without a GPU) give the reference's results bitwise, NaN, infinities and the sign of zero
included.

Bitwise, not close: each element is a selection and at most one multiply in the arrays' dtype,
so there is nothing to round differently. NaNs are compared as NaNs (not by their bits: a GPU
writes its own canonical NaN), every other element by value and by sign (so -0.0 vs 0.0
counts). Tiny shapes: the simulator runs each thread as Python (about 0.1-0.2 ms each).
"""

import importlib

import numpy as np
import pytest

ref = importlib.import_module("tinygrad_edu.kernels.reference.activation")

DTYPES = [np.float32, np.float64]
SHAPES = [(3, 5), (2, 1, 3)]  # odd sizes: one block, most of it spare
# 0.2 is not a float32: the slope must be cast to the arrays' dtype, as the reference does;
# 0.0 turns -inf * slope into NaN
SLOPES = [0.01, 0.2, 0.0]
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0]


def cuda_module():
    return importlib.import_module("tinygrad_edu.kernels.cuda.activation")


def special_array(shape, dtype, seed):
    """Random values of both signs with NaN, +-inf and +-0.0 at random places."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(int(np.prod(shape))) * 3
    places = rng.choice(a.size, size=len(SPECIALS), replace=False)
    a[places] = SPECIALS
    return a.reshape(shape).astype(dtype)


def assert_same_bits(got, expected):
    assert type(got) is np.ndarray, type(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.flags.c_contiguous
    assert np.array_equal(got, expected, equal_nan=True), (got, expected)
    numbers = ~np.isnan(expected)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers])), (
        "the sign of a zero differs", got, expected)


def both(name, *args):
    """(cuda result, reference result) of the function ``name``."""
    with np.errstate(invalid="ignore"):  # inf * 0.0 with a zero slope
        expected = getattr(ref, name)(*args)
        got = getattr(cuda_module(), name)(*args)
    return got, expected


@pytest.mark.cudasim
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_relu_matches_reference_bitwise(dtype, shape):
    x = special_array(shape, dtype, seed=1)
    dy = special_array(shape, dtype, seed=2)
    assert_same_bits(*both("relu_forward", x))
    assert_same_bits(*both("relu_backward", x, dy))


@pytest.mark.cudasim
# a zero slope multiplies +-inf by 0 in the simulator's threads, where np.errstate does not reach
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_leaky_relu_matches_reference_bitwise(dtype, shape, slope):
    x = special_array(shape, dtype, seed=3)
    dy = special_array(shape, dtype, seed=4)
    assert_same_bits(*both("leaky_relu_forward", x, slope))
    assert_same_bits(*both("leaky_relu_backward", x, dy, slope))


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_pair_of_special_values(dtype):
    """x and dy run through every pair of the special values (and +-1.5)."""
    values = [*SPECIALS, 1.5, -1.5]
    x, dy = (a.astype(dtype) for a in np.meshgrid(values, values, indexing="ij"))
    assert_same_bits(*both("relu_forward", x))
    assert_same_bits(*both("relu_backward", x, dy))
    assert_same_bits(*both("leaky_relu_forward", x, 0.2))
    assert_same_bits(*both("leaky_relu_backward", x, dy, 0.2))
    cuda = cuda_module()
    relu_dx = cuda.relu_backward(np.array([np.nan, -1.0, 0.0, 2.0], dtype),
                                 np.array([5.0, np.inf, np.inf, 3.0], dtype))
    assert relu_dx.tolist() == [5.0, 0.0, 0.0, 3.0]  # a selection: no inf * 0 = NaN
    y = cuda.relu_forward(np.array([np.nan, -0.0, -np.inf], dtype))
    assert np.isnan(y[0]) and not np.signbit(y[1]) and y[2] == 0  # np.maximum(x, 0)'s rules


@pytest.mark.cudasim
def test_strided_empty_and_0d_inputs():
    """Inputs that are not C-contiguous are copied; empty and 0-d arrays keep their shape."""
    x = special_array((5, 3), np.float32, seed=5).T  # (3, 5), not C-contiguous
    dy = special_array((3, 5), np.float32, seed=6)
    assert not x.flags.c_contiguous
    assert_same_bits(*both("relu_backward", x, dy))
    assert_same_bits(*both("leaky_relu_forward", x, 0.2))
    for shape in [(0,), (2, 0, 3), ()]:
        x = np.full(shape, -2.0)
        assert_same_bits(*both("relu_forward", x))
        assert_same_bits(*both("leaky_relu_backward", x, np.ones(shape), 0.5))


CALLS = {  # name -> how to call it on (x, dy)
    "relu_forward": lambda m, x, dy: m.relu_forward(x),
    "relu_backward": lambda m, x, dy: m.relu_backward(x, dy),
    "leaky_relu_forward": lambda m, x, dy: m.leaky_relu_forward(x, 0.1),
    "leaky_relu_backward": lambda m, x, dy: m.leaky_relu_backward(x, dy, 0.1),
}


@pytest.mark.cudasim
@pytest.mark.parametrize("name", list(CALLS))
def test_bad_inputs_raise_naming_the_op(name):
    cuda = cuda_module()
    call = CALLS[name]
    x, dy = np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=rf"{name}: x must be float32 or float64, got int32"):
        call(cuda, x.astype(np.int32), dy)
    with pytest.raises(TypeError, match=rf"{name}: x must be an array, got list"):
        call(cuda, x.tolist(), dy)
    if name.endswith("backward"):
        with pytest.raises(ValueError, match=rf"{name}: dy must have x's shape"):
            call(cuda, x, dy.reshape(3, 2))
        with pytest.raises(ValueError, match=rf"{name}: dy must have x's shape and dtype"):
            call(cuda, x, dy.astype(np.float64))
        with pytest.raises(TypeError, match=rf"{name}: dy must be an array, got list"):
            call(cuda, x, dy.tolist())
        with pytest.raises(TypeError, match=rf"{name}: dy must be float32 or float64"):
            call(cuda, x, dy.astype(np.int32))


@pytest.mark.cudasim
def test_array_like_that_is_not_numpy_or_cupy_raises():
    class FakeArray:
        dtype = np.dtype(np.float32)
        shape = (2,)

    with pytest.raises(TypeError, match=r"relu_forward: x must be a CuPy or NumPy array, got "
                                        r"FakeArray"):
        cuda_module().relu_forward(FakeArray())


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sigmoid_matches_reference(dtype):
    """CUDA's exp may differ from NumPy's in the last bit: close to 2 ulp, not bitwise; the
    tails (e^-|x| r for large negative x) keep their relative accuracy, NaN stays NaN."""
    x = special_array((3, 5), dtype, seed=7)
    x.ravel()[:3] = [-100.0, -20.0, 30.0]
    got, expected = both("sigmoid_forward", x)
    assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_erf_matches_reference(dtype):
    """CUDA's erf (erff for float32) against SciPy's: a few ulp; NaN and the infinities."""
    x = special_array((3, 5), dtype, seed=8)
    got, expected = both("erf_forward", x)
    assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps,
                               atol=4 * np.finfo(dtype).tiny)


@pytest.mark.cudasim
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the simulator: -inf * 0
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gelu_matches_reference(dtype):
    """CUDA's erf and exp against SciPy's and NumPy's: a few ulp; NaN stays NaN."""
    x = special_array((3, 5), dtype, seed=9)
    x.ravel()[:4] = [-30.0, -3.0, 0.5, 30.0]
    dy = special_array((3, 5), dtype, seed=10)
    (y, cdf), (y_ref, cdf_ref) = both("gelu_forward", x)
    dx, dx_ref = both("gelu_backward", x, cdf_ref, dy)
    for got, expected in ((y, y_ref), (cdf, cdf_ref), (dx, dx_ref)):
        assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == x.shape
        np.testing.assert_allclose(got, expected, rtol=8 * np.finfo(dtype).eps,
                                   atol=8 * np.finfo(dtype).tiny)
