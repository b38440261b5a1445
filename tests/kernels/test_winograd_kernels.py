"""Winograd F(2x2, 3x3): the reference against torch's conv2d and its input and weight
gradients, the Numba kernels against the reference on odd shapes, and the argument checks.

There is no CUDA version (on a GPU conv2d runs im2col + cuBLAS), so no simulator or PTX test.
"""

import numpy as np
import pytest
from tinygrad_edu.kernels.cpu import winograd as cpu
from tinygrad_edu.kernels.reference import winograd as ref

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (N, C, H, W), OC, padding: odd and non-square planes, one sample, one channel, outputs of
# one row or column, tiles cut at an odd edge, and runs of tiles split between blocks of 64
CASES = [
    pytest.param((2, 3, 7, 5), 4, (1, 1), id="odd-same"),
    pytest.param((1, 1, 3, 3), 1, (0, 0), id="one-output"),
    pytest.param((3, 5, 6, 9), 7, (2, 0), id="pad-2-0"),
    pytest.param((2, 4, 8, 8), 9, (1, 2), id="pad-1-2"),
    pytest.param((1, 2, 3, 11), 3, (0, 1), id="one-output-row"),
    pytest.param((5, 17, 11, 13), 33, (1, 1), id="several-blocks"),
    pytest.param((2, 3, 5, 150), 8, (1, 1), id="rows-of-75-tiles"),
]
DTYPES = [np.float32, np.float64]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _case(shape, OC, dtype, seed=0):
    rng = _rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((OC, shape[1], 3, 3)) / 3).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    return x, w, b


def _torch_conv(x, w, b, padding):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                    None if b is None else torch.from_numpy(b), padding=padding).numpy()


def _tolerance(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}


@pytest.mark.parametrize("shape, OC, padding", CASES)
def test_reference_is_torch_conv2d(shape, OC, padding):
    x, w, b = _case(shape, OC, np.float64)
    y = ref.winograd_conv3x3(x, ref.winograd_weights(w), b, padding)
    np.testing.assert_allclose(y, _torch_conv(x, w, b, padding), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("shape, OC, padding", CASES)
def test_reference_with_input_grad_weights_is_conv2d_input_gradient(shape, OC, padding):
    """dx of a 3x3 stride-1 conv2d with padding P is the convolution of dy with the flipped,
    channel-swapped filters and padding 2 - P."""
    x, w, _ = _case(shape, OC, np.float64)
    dy = _rng(1).standard_normal(_torch_conv(x, w, None, padding).shape)
    expected = torch.nn.grad.conv2d_input(x.shape, torch.from_numpy(w), torch.from_numpy(dy),
                                          padding=padding).numpy()
    u = ref.winograd_weights(w, input_grad=True)
    dx = ref.winograd_conv3x3(dy, u, None, (2 - padding[0], 2 - padding[1]))
    np.testing.assert_allclose(dx, expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("shape, OC, padding", CASES)
def test_reference_weight_grad_is_torchs(shape, OC, padding):
    x, w, _ = _case(shape, OC, np.float64)
    dy = _rng(1).standard_normal(_torch_conv(x, w, None, padding).shape)
    expected = torch.nn.grad.conv2d_weight(torch.from_numpy(x), w.shape, torch.from_numpy(dy),
                                           padding=padding).numpy()
    np.testing.assert_allclose(ref.winograd_weight_grad(x, dy, padding), expected, rtol=1e-10,
                               atol=1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, OC, padding", CASES + [
    pytest.param((2, 1030, 4, 5), 3, (1, 1), id="channels-in-pieces"),  # > STACK_T channels
    pytest.param((3, 5, 9, 8), 19, (1, 0), id="three-groups-of-rows"),
])
def test_cpu_weight_grad_is_the_reference(shape, OC, padding, dtype):
    x, w, _ = _case(shape, OC, dtype)
    dy = _rng(1).standard_normal(_torch_conv(x, w, None, padding).shape).astype(dtype)
    dw = cpu.winograd_weight_grad(x, dy, padding)
    expected = ref.winograd_weight_grad(x, dy, padding)
    assert dw.dtype == dtype and dw.shape == (OC, shape[1], 3, 3) and dw.flags.c_contiguous
    np.testing.assert_allclose(dw, expected, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=(1e-4 if dtype == np.float32 else 1e-11)
                               * np.abs(expected).max())


@pytest.mark.parametrize("impl", [ref, cpu], ids=["reference", "cpu"])
def test_weight_grad_bad_arguments_are_named(impl):
    x = np.zeros((2, 3, 6, 6), np.float32)
    dy = np.zeros((2, 4, 6, 6), np.float32)
    run = impl.winograd_weight_grad
    with pytest.raises(TypeError, match="winograd_weight_grad: x and dy must have one dtype"):
        run(x, dy.astype(np.float64), (1, 1))
    with pytest.raises(ValueError, match=r"dy must be \(N, OC, OH, OW\) = \(2, OC, 4, 4\)"):
        run(x, dy, (0, 0))
    with pytest.raises(ValueError, match=r"padding must be 0, 1 or 2 on each side"):
        run(x, dy, (3, 3))
    with pytest.raises(ValueError, match="dy must be 4-d"):
        run(x, dy[0], (1, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_grad", [False, True])
def test_cpu_weights_are_the_reference(dtype, input_grad):
    w = _rng(2).standard_normal((5, 7, 3, 3)).astype(dtype)
    u = cpu.winograd_weights(w, input_grad=input_grad)
    expected = ref.winograd_weights(w, input_grad=input_grad)
    assert u.dtype == dtype
    assert u.shape == expected.shape == ((16, 7, 5) if input_grad else (16, 5, 7))
    np.testing.assert_allclose(u, expected, rtol=1e-14 if dtype == np.float64 else 1e-7, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, OC, padding", CASES)
def test_cpu_is_the_reference(shape, OC, padding, dtype):
    x, w, b = _case(shape, OC, dtype)
    u = ref.winograd_weights(w)
    for bias in (b, None):
        y = cpu.winograd_conv3x3(x, u, bias, padding)
        expected = ref.winograd_conv3x3(x, u, bias, padding)
        assert y.dtype == dtype and y.shape == expected.shape and y.flags.c_contiguous
        np.testing.assert_allclose(y, expected, **_tolerance(dtype))


def test_cpu_float32_error_is_that_of_a_float32_convolution():
    """Winograd's sums of transformed values round differently from a direct convolution's;
    in float32 its error stays within a few times that of torch's float32 conv2d."""
    x, w, b = _case((4, 32, 12, 12), 32, np.float64, seed=3)
    exact = _torch_conv(x, w, b, (1, 1))
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    ours = cpu.winograd_conv3x3(x32, cpu.winograd_weights(w32), b32, (1, 1))
    direct = _torch_conv(x32, w32, b32, (1, 1))
    scale = np.abs(exact).max()
    ours_err, direct_err = np.abs(ours - exact).max() / scale, np.abs(direct - exact).max() / scale
    assert ours_err < max(4 * direct_err, 1e-6), (ours_err, direct_err)


def test_cpu_non_contiguous_input_is_the_contiguous_result():
    x, w, b = _case((2, 6, 9, 7), 5, np.float32)
    u = cpu.winograd_weights(w)
    strided = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(cpu.winograd_conv3x3(strided, u, b, (1, 1)),
                                  cpu.winograd_conv3x3(x, u, b, (1, 1)))


def test_cpu_nan_reaches_the_outputs_whose_window_holds_it():
    """A NaN in the input spreads to the outputs whose 3x3 window covers it, as in a direct
    convolution, no further (the transforms keep each row and column of a tile apart)."""
    x, w, b = _case((1, 2, 8, 9), 3, np.float64, seed=4)
    x[0, 1, 3, 4] = np.nan
    x[0, 0, 0, 0] = np.nan
    y = cpu.winograd_conv3x3(x, cpu.winograd_weights(w), b, (1, 1))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(_torch_conv(x, w, b, (1, 1))))


def test_cpu_inf_makes_the_same_outputs_non_finite_as_a_direct_convolution():
    """An inf reaches the same outputs, but as NaN where the transforms subtract it from
    itself (documented in functional/conv.py): non-finite where torch's are, nowhere else."""
    x, w, b = _case((1, 2, 8, 9), 3, np.float64, seed=5)
    x[0, 0, 3, 3] = np.inf
    y = cpu.winograd_conv3x3(x, cpu.winograd_weights(w), b, (1, 1))
    expected = _torch_conv(x, w, b, (1, 1))
    np.testing.assert_array_equal(~np.isfinite(y), ~np.isfinite(expected))
    assert np.isnan(y).any() and not np.isnan(expected).any()


@pytest.mark.parametrize("impl", [ref, cpu], ids=["reference", "cpu"])
def test_bad_arguments_are_named(impl):
    x = np.zeros((2, 3, 6, 6), np.float32)
    u = np.zeros((16, 4, 3), np.float32)
    run = impl.winograd_conv3x3
    with pytest.raises(ValueError,
                       match=r"winograd_conv3x3: transformed weight must be \(16, OC, C\)"):
        run(x, np.zeros((9, 4, 3), np.float32), None, (1, 1))
    with pytest.raises(ValueError, match="transformed weight .* got \\(16, 4, 5\\)"):
        run(x, np.zeros((16, 4, 5), np.float32), None, (1, 1))
    with pytest.raises(TypeError, match="one dtype, got float32 and float64"):
        run(x, u.astype(np.float64), None, (1, 1))
    with pytest.raises(ValueError, match=r"padding must be 0, 1 or 2 on each side, got \(3, 1\)"):
        run(x, u, None, (3, 1))
    with pytest.raises(ValueError, match="does not fit input of size \\(1, 6\\)"):
        run(np.zeros((2, 3, 1, 6), np.float32), u, None, (0, 0))
    with pytest.raises(ValueError, match=r"bias must be a \(4,\) float32 array, got \(3,\)"):
        run(x, u, np.zeros(3, np.float32), (1, 1))
    with pytest.raises(ValueError, match="must be 4-d"):
        run(x[0], u, None, (1, 1))
    with pytest.raises(TypeError, match="float32 or float64"):
        run(x.astype(np.int32), u.astype(np.int32), None, (1, 1))
    with pytest.raises(ValueError, match=r"weight must be \(OC, C, 3, 3\), got \(4, 3, 5, 5\)"):
        impl.winograd_weights(np.zeros((4, 3, 5, 5), np.float32))
