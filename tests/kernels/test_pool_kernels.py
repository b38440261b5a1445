"""Pooling kernels: reference vs torch, and cpu (Numba) / cuda (simulator) vs the reference.

Torch is the specification: ``max_pool2d(return_indices=True)``, ``avg_pool2d`` (ceil_mode and
count_include_pad divisor rules), ``adaptive_avg_pool2d``; backward through torch autograd.
"""

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional


def load(impl):
    return importlib.import_module(f"tinygrad_edu.kernels.{impl}.pool")


ref = load("reference")
DTYPES = [np.float32, np.float64]
ALL_IMPLS = ["reference", "cpu", pytest.param("cuda", marks=pytest.mark.cudasim)]
COMPILED = ["cpu", pytest.param("cuda", marks=pytest.mark.cudasim)]

# (N, C, H, W), kernel, stride, padding, dilation; every case runs with ceil_mode both ways
MAX_CASES = [
    pytest.param((2, 3, 9, 7), (3, 2), (2, 2), (1, 1), (1, 2), id="odd-pad-dil"),
    pytest.param((1, 1, 5, 8), 2, 2, 0, 1, id="1ch-ceil-adds-window"),
    pytest.param((2, 2, 7, 6), 3, (2, 1), 1, 2, id="dilated-overlap"),
    pytest.param((3, 1, 4, 5), (1, 3), (1, 3), (0, 1), 1, id="1xk"),
    pytest.param((1, 2, 3, 3), 2, 2, 1, 1, id="ceil-window-dropped"),
    pytest.param((1, 2, 6, 5), (2, 3), None, 0, 1, id="stride-none"),
]
# (N, C, H, W), kernel, stride, padding; ceil_mode and count_include_pad both ways
AVG_CASES = [
    pytest.param((2, 3, 9, 7), (3, 2), (2, 2), (1, 1), id="odd-pad"),
    pytest.param((1, 1, 5, 8), 2, 2, 0, id="1ch-ceil-overhang"),
    pytest.param((2, 2, 7, 6), 3, (2, 1), 1, id="overlap"),
    pytest.param((3, 1, 4, 5), (1, 3), (1, 3), (0, 1), id="1xk"),
    pytest.param((1, 2, 3, 3), 2, 2, 1, id="ceil-window-dropped"),
    pytest.param((1, 2, 6, 7), (4, 3), (3, 2), (2, 1), id="big-pad-stride"),
]
# (N, C, H, W), output_size
ADAPTIVE_CASES = [
    pytest.param((2, 3, 5, 7), (3, 4), id="shrink-overlapping-bins"),
    pytest.param((1, 1, 6, 6), 3, id="exact-multiple"),
    pytest.param((2, 2, 4, 5), (4, 5), id="identity"),
    pytest.param((1, 2, 3, 2), (5, 3), id="more-bins-than-pixels"),
    pytest.param((2, 1, 7, 7), (1, 1), id="global"),
    pytest.param((1, 2, 5, 6), (None, 2), id="none-keeps-height"),
]
# tiny versions for the CUDA simulator: (N, C, H, W) with N, C <= 2 and H, W <= 7
TINY_MAX = [
    pytest.param((1, 2, 5, 7), (3, 2), (2, 2), (1, 1), (1, 2), True, id="tiny-odd-ceil"),
    pytest.param((2, 1, 5, 4), 3, (2, 1), 1, 2, False, id="tiny-dilated-overlap"),
]
TINY_AVG = [
    pytest.param((1, 2, 5, 7), (3, 2), (2, 2), (1, 1), True, False, id="tiny-ceil-nopad"),
    pytest.param((2, 1, 5, 4), 3, (2, 1), 1, False, True, id="tiny-overlap-pad"),
    pytest.param((1, 1, 5, 6), 2, 2, 0, True, True, id="tiny-ceil-overhang"),
]


def tdouble(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64)).requires_grad_()


def stride_or_kernel(stride, kernel):
    return kernel if stride is None else stride


# ---------------------------------------------------------------------------------------------
# output size
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 9))
@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [
        (2, 2, 0, 1),
        (2, 2, 1, 1),
        (3, 2, 1, 1),
        (3, 3, 1, 2),
        (2, 3, 1, 1),
        (4, 3, 2, 1),
    ],
)
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_torch(size, kernel, stride, padding, dilation, ceil_mode):
    if dilation * (kernel - 1) + 1 > size + 2 * padding:
        return  # torch rejects these; check_pool_args does too (tested below)
    x = torch.zeros(1, 1, size, 1)
    expected = F.max_pool2d(x, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1), ceil_mode)
    out = ref.pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
    assert out == expected.shape[2]


# ---------------------------------------------------------------------------------------------
# max pooling
# ---------------------------------------------------------------------------------------------


def torch_max_pool(x, kernel, stride, padding, dilation, ceil_mode, dy=None):
    """torch forward (y, argmax) and, given dy, the input gradient."""
    xt = tdouble(x)
    y, idx = F.max_pool2d(
        xt,
        kernel,
        stride_or_kernel(stride, kernel),
        padding,
        dilation,
        ceil_mode,
        return_indices=True,
    )
    if dy is None:
        return y.detach().numpy(), idx.numpy(), None
    y.backward(torch.from_numpy(dy))
    return y.detach().numpy(), idx.numpy(), xt.grad.numpy()


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_reference_max_pool_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode):
    x = np.random.standard_normal(shape)
    y, argmax = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    dy = np.random.standard_normal(y.shape)
    ty, tidx, tdx = torch_max_pool(x, kernel, stride, padding, dilation, ceil_mode, dy)
    np.testing.assert_array_equal(y, ty)
    assert argmax.dtype == np.int64
    np.testing.assert_array_equal(argmax, tidx)
    dx = ref.max_pool2d_backward(dy, argmax, shape)
    np.testing.assert_allclose(dx, tdx, rtol=1e-12, atol=1e-12)


def test_reference_max_pool_ties_pick_first_in_window_like_torch():
    x = np.random.randint(0, 3, size=(2, 2, 7, 6)).astype(np.float64)  # many ties
    for args in [(3, 1, 1, 1, False), (2, 2, 0, 1, True), ((3, 2), (1, 2), 1, (2, 1), True)]:
        _, argmax = ref.max_pool2d_forward(x, *args)
        np.testing.assert_array_equal(argmax, torch_max_pool(x, *args)[1])


def test_reference_max_pool_nan_propagates_like_torch():
    x = np.random.standard_normal((1, 2, 5, 5))
    x[0, 0, 1, 2] = np.nan
    x[0, 1, 3, 3] = np.nan
    x[0, 1, 3, 4] = np.nan
    y, argmax = ref.max_pool2d_forward(x, 3, 1, 1, 1, False)
    ty, tidx, _ = torch_max_pool(x, 3, 1, 1, 1, False)
    np.testing.assert_array_equal(y, ty)  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(argmax, tidx)


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_max_pool_padding_is_minus_inf_not_zero(impl):
    """DeZero pads with 0, so an all-negative input would pool to 0 at the border."""
    x = -1.0 - np.random.rand(1, 1, 4, 4)
    y, argmax = load(impl).max_pool2d_forward(x, 3, 1, 1, 1, False)
    assert (y < 0).all()
    assert ((argmax >= 0) & (argmax < 16)).all()


def test_reference_max_pool_window_with_only_padding():
    """Possible with dilation: torch gives -inf and an out-of-plane index; we give -1."""
    y, argmax = ref.max_pool2d_forward(np.ones((1, 1, 1, 1)), 2, 1, 1, 2, False)
    ty = torch_max_pool(np.ones((1, 1, 1, 1)), 2, 1, 1, 2, False)[0]
    np.testing.assert_array_equal(y, ty)
    assert y[0, 0, 0, 0] == -np.inf and argmax[0, 0, 0, 0] == -1
    dx = ref.max_pool2d_backward(np.ones_like(y), argmax, (1, 1, 1, 1))
    np.testing.assert_array_equal(dx, np.zeros((1, 1, 1, 1)))


# ---------------------------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------------------------


def torch_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad, dy):
    xt = tdouble(x)
    y = F.avg_pool2d(
        xt, kernel, stride_or_kernel(stride, kernel), padding, ceil_mode, count_include_pad
    )
    y.backward(torch.from_numpy(dy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding", AVG_CASES)
def test_reference_avg_pool_matches_torch(
    shape, kernel, stride, padding, ceil_mode, count_include_pad
):
    x = np.random.standard_normal(shape)
    args = (kernel, stride, padding, ceil_mode, count_include_pad)
    y = ref.avg_pool2d_forward(x, *args)
    dy = np.random.standard_normal(y.shape)
    ty, tdx = torch_avg_pool(x, *args, dy)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ref.avg_pool2d_backward(dy, shape, *args), tdx, rtol=1e-12, atol=1e-12
    )


def test_avg_pool_divisor_rules_by_hand():
    """Row [1..5], kernel 2, stride 2, padding 1, ceil_mode: windows {pad,1} {2,3} {4,5}."""
    x = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    args = ((1, 2), (1, 2), (0, 1), True)
    np.testing.assert_allclose(ref.avg_pool2d_forward(x, *args, True)[0, 0, 0], [0.5, 2.5, 4.5])
    np.testing.assert_allclose(ref.avg_pool2d_forward(x, *args, False)[0, 0, 0], [1.0, 2.5, 4.5])


@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_reference_adaptive_avg_pool_matches_torch(shape, output_size):
    x = np.random.standard_normal(shape)
    xt = tdouble(x)
    ty = F.adaptive_avg_pool2d(xt, output_size)
    y = ref.adaptive_avg_pool2d_forward(x, output_size)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    dy = np.random.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    dx = ref.adaptive_avg_pool2d_backward(dy, shape)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (1, 2, 4, 1)])
def test_reference_global_avg_pool_matches_torch(shape):
    x = np.random.standard_normal(shape)
    xt = tdouble(x)
    ty = xt.mean(dim=(2, 3), keepdim=True)
    y = ref.global_avg_pool2d_forward(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    dy = np.random.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    dx = ref.global_avg_pool2d_backward(dy, shape)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# cpu (Numba) and cuda (simulator) vs reference
# ---------------------------------------------------------------------------------------------


def tolerance(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


def check_max_pool(impl, shape, kernel, stride, padding, dilation, ceil_mode, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    args = (kernel, stride, padding, dilation, ceil_mode)
    y, argmax = impl.max_pool2d_forward(x, *args)
    ry, rargmax = ref.max_pool2d_forward(x, *args)
    assert y.dtype == dtype and argmax.dtype == np.int64
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(argmax, rargmax)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = impl.max_pool2d_backward(dy, argmax, shape)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, ref.max_pool2d_backward(dy, rargmax, shape), **tolerance(dtype))


def check_avg_pool(impl, shape, kernel, stride, padding, ceil_mode, cip, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    args = (kernel, stride, padding, ceil_mode, cip)
    y = impl.avg_pool2d_forward(x, *args)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.avg_pool2d_forward(x, *args), **tolerance(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = impl.avg_pool2d_backward(dy, shape, *args)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, ref.avg_pool2d_backward(dy, shape, *args), **tolerance(dtype))


def check_adaptive_and_global(impl, shape, output_size, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    y = impl.adaptive_avg_pool2d_forward(x, output_size)
    assert y.dtype == dtype
    np.testing.assert_allclose(
        y, ref.adaptive_avg_pool2d_forward(x, output_size), **tolerance(dtype)
    )
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = impl.adaptive_avg_pool2d_backward(dy, shape)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref.adaptive_avg_pool2d_backward(dy, shape), **tolerance(dtype))
    y = impl.global_avg_pool2d_forward(x)
    assert y.dtype == dtype and y.shape == shape[:2] + (1, 1)
    np.testing.assert_allclose(y, ref.global_avg_pool2d_forward(x), **tolerance(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = impl.global_avg_pool2d_backward(dy, shape)
    np.testing.assert_allclose(dx, ref.global_avg_pool2d_backward(dy, shape), **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_cpu_max_pool_matches_reference(shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    check_max_pool(load("cpu"), shape, kernel, stride, padding, dilation, ceil_mode, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding", AVG_CASES)
def test_cpu_avg_pool_matches_reference(
    shape, kernel, stride, padding, ceil_mode, count_include_pad, dtype
):
    check_avg_pool(load("cpu"), shape, kernel, stride, padding, ceil_mode, count_include_pad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_cpu_adaptive_and_global_avg_pool_match_reference(shape, output_size, dtype):
    check_adaptive_and_global(load("cpu"), shape, output_size, dtype)


@pytest.mark.parametrize("impl", COMPILED)
def test_compiled_max_pool_ties_and_nan_match_reference(impl):
    x = np.random.randint(0, 3, size=(1, 2, 6, 5)).astype(np.float64)
    x[0, 1, 2, 2] = np.nan
    for args in [(3, 1, 1, 1, False), ((3, 2), (1, 2), 1, (2, 1), True)]:
        y, argmax = load(impl).max_pool2d_forward(x, *args)
        ry, rargmax = ref.max_pool2d_forward(x, *args)
        np.testing.assert_array_equal(y, ry)
        np.testing.assert_array_equal(argmax, rargmax)


@pytest.mark.parametrize("impl", COMPILED)
def test_compiled_max_pool_window_with_only_padding(impl):
    y, argmax = load(impl).max_pool2d_forward(np.ones((1, 1, 1, 1)), 2, 1, 1, 2, False)
    assert y[0, 0, 0, 0] == -np.inf and argmax[0, 0, 0, 0] == -1
    dx = load(impl).max_pool2d_backward(np.ones_like(y), argmax, (1, 1, 1, 1))
    np.testing.assert_array_equal(dx, np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("window", load("cpu").FIXED_WINDOWS, ids=str)
def test_cpu_fixed_window_max_pool_kernels_match_reference(window, padding, ceil_mode, dtype):
    """The kernels compiled for one window size: ties, NaN, -inf and padding as the reference."""
    KH, KW, SH, SW = window
    x = np.random.randint(0, 3, size=(2, 3, 9, 8)).astype(dtype)  # many ties
    x[0, 0, 2, 3] = np.nan  # inside
    x[0, 1, 4, 4] = x[0, 1, 4, 5] = np.nan  # two NaNs in one window: the last one wins
    x[0, 2, 0, 0] = np.nan  # a corner, touching the padding
    x[1, 2] = -np.inf  # a whole plane of -inf: argmax is still the first pixel
    args = ((KH, KW), (SH, SW), padding, 1, ceil_mode)
    y, argmax = load("cpu").max_pool2d_forward(x, *args)
    expected_y, expected_argmax = ref.max_pool2d_forward(x, *args)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(argmax, expected_argmax)


def test_cpu_accepts_non_contiguous_input_and_int32_argmax():
    x = np.random.standard_normal((2, 3, 8, 9)).transpose(0, 1, 3, 2)[:, :, ::2]  # strided
    y, argmax = load("cpu").max_pool2d_forward(x, 2, 1, 0, 1, False)
    np.testing.assert_array_equal(y, ref.max_pool2d_forward(x, 2, 1, 0, 1, False)[0])
    dy = np.ones_like(y)
    np.testing.assert_array_equal(
        load("cpu").max_pool2d_backward(dy, argmax.astype(np.int32), x.shape),
        ref.max_pool2d_backward(dy, argmax, x.shape),
    )


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_max_pool_backward_int32_argmax_matches_int64(impl):
    """functional/pool.py keeps the argmax as int32 for backward (half the memory): every
    implementation scatters the same, overlapping windows and windows of padding only
    (argmax -1) included."""
    kernels = load(impl)
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 7)).astype(np.float32)
    y, argmax = kernels.max_pool2d_forward(x, 3, 2, 1, 1, True)  # overlapping windows
    assert argmax.dtype == np.int64
    argmax[0, 1, 0, 0] = -1  # as for a window that saw only padding
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(
        kernels.max_pool2d_backward(dy, argmax.astype(np.int32), x.shape),
        kernels.max_pool2d_backward(dy, argmax, x.shape),
    )


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode", TINY_MAX)
def test_cuda_max_pool_matches_reference(
    shape, kernel, stride, padding, dilation, ceil_mode, dtype
):
    check_max_pool(load("cuda"), shape, kernel, stride, padding, dilation, ceil_mode, dtype)


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, ceil_mode, cip", TINY_AVG)
def test_cuda_avg_pool_matches_reference(shape, kernel, stride, padding, ceil_mode, cip, dtype):
    check_avg_pool(load("cuda"), shape, kernel, stride, padding, ceil_mode, cip, dtype)


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, output_size", [((1, 2, 5, 7), (3, 4)), ((2, 1, 3, 2), (4, 3))])
def test_cuda_adaptive_and_global_avg_pool_match_reference(shape, output_size, dtype):
    check_adaptive_and_global(load("cuda"), shape, output_size, dtype)


# ---------------------------------------------------------------------------------------------
# hypothesis: random shapes / kernels / strides / paddings / dilations / modes
# ---------------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw, max_n=3, max_c=3, max_hw=10, dilation=True):
    """(shape, kernel, stride, padding, dilation, ceil_mode) accepted by torch."""
    shape = (
        draw(st.integers(1, max_n)),
        draw(st.integers(1, max_c)),
        draw(st.integers(1, max_hw)),
        draw(st.integers(1, max_hw)),
    )
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    for i in range(2):
        out = ref.pool_output_size(
            shape[2 + i], kernel[i], stride[i], padding[i], dil[i], ceil_mode
        )
        assume(out >= 1)
    return shape, kernel, stride, padding, dil, ceil_mode


HYPOTHESIS = dict(deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@settings(max_examples=50, **HYPOTHESIS)
@given(case=pool_cases())
def test_hypothesis_reference_max_pool_matches_torch(case):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    x = np.random.standard_normal(shape)
    y, argmax = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    # windows that only cover padding (possible with dilation): torch returns an index outside
    # the plane there and its backward writes out of bounds (it can abort the process), so
    # torch's backward runs only when every window holds a pixel; we return argmax -1 there
    real = argmax >= 0
    dy = np.random.standard_normal(y.shape) if real.all() else None
    ty, tidx, tdx = torch_max_pool(x, kernel, stride, padding, dilation, ceil_mode, dy)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(argmax[real], tidx[real])
    if dy is not None:
        np.testing.assert_allclose(ref.max_pool2d_backward(dy, argmax, shape), tdx, atol=1e-12)


@settings(max_examples=50, **HYPOTHESIS)
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans())
def test_hypothesis_reference_avg_pool_matches_torch(case, count_include_pad):
    shape, kernel, stride, padding, _, ceil_mode = case
    x = np.random.standard_normal(shape)
    args = (kernel, stride, padding, ceil_mode, count_include_pad)
    y = ref.avg_pool2d_forward(x, *args)
    dy = np.random.standard_normal(y.shape)
    ty, tdx = torch_avg_pool(x, *args, dy)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ref.avg_pool2d_backward(dy, shape, *args), tdx, rtol=1e-12, atol=1e-12
    )


@settings(max_examples=30, **HYPOTHESIS)
@given(
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    out=st.tuples(st.integers(1, 6), st.integers(1, 6)),
)
def test_hypothesis_reference_adaptive_matches_torch(hw, out):
    shape = (2, 2, *hw)
    x = np.random.standard_normal(shape)
    ty = F.adaptive_avg_pool2d(torch.from_numpy(x), out).numpy()
    np.testing.assert_allclose(ref.adaptive_avg_pool2d_forward(x, out), ty, rtol=1e-12, atol=1e-12)


def check_all_pools(impl, case, count_include_pad, dtype, seed):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    check_max_pool(impl, shape, kernel, stride, padding, dilation, ceil_mode, dtype, seed)
    check_avg_pool(impl, shape, kernel, stride, padding, ceil_mode, count_include_pad, dtype, seed)
    out = (max(1, shape[2] // kernel[0]), max(1, shape[3] - kernel[1]))
    check_adaptive_and_global(impl, shape, out, dtype, seed)


@settings(max_examples=40, **HYPOTHESIS)
@given(
    case=pool_cases(), cip=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16)
)
def test_hypothesis_cpu_matches_reference(case, cip, dtype, seed):
    check_all_pools(load("cpu"), case, cip, dtype, seed)


@pytest.mark.cudasim
@settings(max_examples=6, **HYPOTHESIS)
@given(
    case=pool_cases(max_n=2, max_c=2, max_hw=6), cip=st.booleans(), dtype=st.sampled_from(DTYPES)
)
def test_hypothesis_cuda_matches_reference(case, cip, dtype):
    check_all_pools(load("cuda"), case, cip, dtype, 0)


# ---------------------------------------------------------------------------------------------
# argument checks: the same clear errors from every implementation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ALL_IMPLS)
@pytest.mark.parametrize(
    "fn, shape, args, match",
    [
        (
            "max_pool2d_forward",
            (1, 1, 6, 6),
            (2, 2, 2, 1, False),
            r"max_pool2d_forward: padding \(2, 2\) must be at most half the kernel size \(2, 2\)",
        ),
        (
            "avg_pool2d_forward",
            (1, 1, 6, 6),
            ((3, 2), 1, (1, 2), False, True),
            r"avg_pool2d_forward: padding \(1, 2\) must be at most half the kernel size \(3, 2\)",
        ),
        (
            "max_pool2d_forward",
            (6, 6),
            (2, 2, 0, 1, False),
            r"max_pool2d_forward: input must be 4-d \(N, C, H, W\), got 2-d shape \(6, 6\)",
        ),
        (
            "max_pool2d_forward",
            (1, 1, 2, 2),
            (3, 1, 0, 1, False),
            r"max_pool2d_forward: kernel \(3, 3\) .* gives output size \(0, 0\) for input of "
            r"size \(2, 2\)",
        ),
        (
            "max_pool2d_forward",
            (1, 1, 4, 4),
            (2, 0, 0, 1, False),
            r"max_pool2d_forward: stride must be >= 1, got \(0, 0\)",
        ),
        (
            "adaptive_avg_pool2d_forward",
            (1, 1, 4, 4),
            ((0, 2),),
            r"adaptive_avg_pool2d_forward: output_size must be >= 1, got \(0, 2\)",
        ),
        (
            "global_avg_pool2d_forward",
            (4, 4, 4),
            (),
            r"global_avg_pool2d_forward: input must be 4-d",
        ),
    ],
)
def test_pool_argument_errors(impl, fn, shape, args, match):
    with pytest.raises(ValueError, match=match):
        getattr(load(impl), fn)(np.zeros(shape), *args)


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_pool_backward_shape_errors(impl):
    m = load(impl)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: argmax must have the shape"):
        m.max_pool2d_backward(
            np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), np.int64), (1, 1, 4, 4)
        )
    with pytest.raises(
        ValueError,
        match=r"avg_pool2d_backward: dy must have shape .* "
        r"\(1, 1, 2, 2\) .* got \(1, 1, 3, 3\)",
    ):
        m.avg_pool2d_backward(np.zeros((1, 1, 3, 3)), (1, 1, 4, 4), 2, 2, 0, False, True)
    with pytest.raises(ValueError, match=r"global_avg_pool2d_backward: dy must have shape"):
        m.global_avg_pool2d_backward(np.zeros((1, 2, 1, 1)), (1, 1, 4, 4))


@pytest.mark.parametrize("impl", COMPILED)
def test_compiled_pools_reject_integer_input(impl):
    with pytest.raises(TypeError, match=r"max_pool2d_forward: x must be float32 or float64"):
        load(impl).max_pool2d_forward(np.zeros((1, 1, 4, 4), np.int64), 2, 2, 0, 1, False)


def test_window_planning_helpers():
    # adaptive bins overlap when the size is not a multiple of the output size
    start, end, div = ref.adaptive_windows(5, 3)
    assert start.tolist() == [0, 1, 3] and end.tolist() == [2, 4, 5] and div.tolist() == [2, 3, 2]
    # window_ranges inverts the windows: input i lies in windows lo[i] <= o < hi[i]
    lo, hi = ref.window_ranges(start, end, 5)
    for i in range(5):
        inside = [o for o in range(3) if start[o] <= i < end[o]]
        assert inside == list(range(lo[i], hi[i]))
    assert ref.adaptive_windows(7, 1)[2].tolist() == [7]  # global pooling: one bin
