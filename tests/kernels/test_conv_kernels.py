"""im2col / col2im: reference vs torch, and cpu (Numba) / cuda (simulator) vs the reference.

The reference is checked against ``torch.nn.functional.unfold`` / ``fold`` (same layout:
(N, C*KH*KW, L)), against ``conv2d`` through one matrix product, and its col2im against torch
autograd's gradient of unfold.  The compiled versions are then checked against the reference
on the same cases and on hypothesis-drawn shapes (tiny ones under the CUDA simulator).
"""

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional


def load(impl):
    return importlib.import_module(f"tinygrad_edu.kernels.{impl}.conv")


ref = load("reference")

# (N, C, H, W), (KH, KW), stride, padding, dilation -- odd, non-square, batch 1, one channel
CASES = [
    pytest.param((2, 3, 7, 5), (3, 2), (1, 1), (0, 0), (1, 1), id="plain-3x2"),
    pytest.param((1, 1, 9, 8), (3, 3), (2, 1), (1, 2), (1, 1), id="stride-pad-1ch"),
    pytest.param((2, 2, 10, 11), (3, 2), (2, 3), (2, 1), (2, 3), id="stride-pad-dilation"),
    pytest.param((3, 1, 5, 6), (1, 1), (1, 1), (0, 0), (1, 1), id="1x1"),
    pytest.param((1, 2, 4, 3), (5, 5), (1, 2), (2, 2), (1, 1), id="kernel-bigger-than-input"),
    pytest.param((1, 4, 6, 7), (2, 3), (3, 2), (0, 1), (2, 1), id="stride-gt-kernel"),
]
# tiny cases for the CUDA simulator (N, C <= 2, H, W <= 7)
TINY_CASES = [
    pytest.param((1, 2, 5, 7), (3, 2), (2, 1), (1, 2), (2, 1), id="tiny-stride-pad-dil"),
    pytest.param((2, 1, 4, 3), (2, 2), (1, 1), (0, 0), (1, 1), id="tiny-plain"),
    pytest.param((1, 1, 3, 2), (3, 3), (2, 2), (1, 1), (1, 1), id="tiny-kernel-gt-input"),
]
DTYPES = [np.float32, np.float64]
ALL_IMPLS = ["reference", "cpu", pytest.param("cuda", marks=pytest.mark.cudasim)]


def random_cols(rng, shape, kernel, stride, padding, dilation, dtype=np.float64):
    OH, OW = ref.conv_output_size(shape[2], shape[3], *kernel, stride, padding, dilation)
    cols = rng.standard_normal((shape[0], shape[1] * kernel[0] * kernel[1], OH * OW))
    return cols.astype(dtype)


def torch_kwargs(stride, padding, dilation):
    return dict(stride=stride, padding=padding, dilation=dilation)


# ---------------------------------------------------------------------------------------------
# reference vs torch (float64)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_im2col_matches_torch_unfold(shape, kernel, stride, padding, dilation):
    x = np.random.standard_normal(shape)
    cols = ref.im2col(x, *kernel, stride, padding, dilation)
    expected = F.unfold(torch.from_numpy(x), kernel, **torch_kwargs(stride, padding, dilation))
    np.testing.assert_array_equal(cols, expected.numpy())


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_col2im_matches_torch_fold(shape, kernel, stride, padding, dilation):
    cols = random_cols(np.random.default_rng(1), shape, kernel, stride, padding, dilation)
    dx = ref.col2im(cols, shape, *kernel, stride, padding, dilation)
    expected = F.fold(
        torch.from_numpy(cols), shape[2:], kernel, **torch_kwargs(stride, padding, dilation)
    )
    np.testing.assert_allclose(dx, expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_col2im_is_torch_autograd_gradient_of_unfold(
    shape, kernel, stride, padding, dilation
):
    """col2im(dcols) is the input gradient of im2col: compare with torch's backward."""
    x = torch.from_numpy(np.random.standard_normal(shape)).requires_grad_()
    dcols = random_cols(np.random.default_rng(2), shape, kernel, stride, padding, dilation)
    F.unfold(x, kernel, **torch_kwargs(stride, padding, dilation)).backward(torch.from_numpy(dcols))
    dx = ref.col2im(dcols, shape, *kernel, stride, padding, dilation)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_im2col_matmul_is_conv2d(shape, kernel, stride, padding, dilation):
    """The documented layout: w.reshape(OC, C*KH*KW) @ cols is the convolution."""
    N, C, H, W = shape
    OC = 4
    x = np.random.standard_normal(shape)
    w = np.random.standard_normal((OC, C, *kernel))
    cols = ref.im2col(x, *kernel, stride, padding, dilation)  # (N, C*KH*KW, OH*OW)
    y = w.reshape(OC, -1) @ cols  # (N, OC, OH*OW)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), **torch_kwargs(stride, padding, dilation)
    )
    np.testing.assert_allclose(y, expected.numpy().reshape(N, OC, -1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_gemm_layout_is_unfold_with_the_batch_beside_the_windows(
    shape, kernel, stride, padding, dilation
):
    """im2col_gemm = unfold moved to (C*KH*KW, N*L); col2im_gemm = fold of that layout."""
    N, C, H, W = shape
    x = np.random.standard_normal(shape)
    unfolded = F.unfold(torch.from_numpy(x), kernel, **torch_kwargs(stride, padding, dilation))
    K, L = unfolded.shape[1], unfolded.shape[2]
    cols = ref.im2col_gemm(x, *kernel, stride, padding, dilation)
    np.testing.assert_array_equal(cols, unfolded.numpy().transpose(1, 0, 2).reshape(K, N * L))
    dcols = np.random.standard_normal((K, N * L))
    dx = ref.col2im_gemm(dcols, shape, *kernel, stride, padding, dilation)
    per_sample = torch.from_numpy(dcols.reshape(K, N, L).transpose(1, 0, 2).copy())
    expected = F.fold(per_sample, (H, W), kernel, **torch_kwargs(stride, padding, dilation))
    np.testing.assert_allclose(dx, expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_reference_gemm_layout_conv_is_one_matmul(shape, kernel, stride, padding, dilation):
    """w.reshape(OC, C*KH*KW) @ im2col_gemm(x) is the whole batch's convolution."""
    N, C, H, W = shape
    OC = 3
    x = np.random.standard_normal(shape)
    w = np.random.standard_normal((OC, C, *kernel))
    y = w.reshape(OC, -1) @ ref.im2col_gemm(x, *kernel, stride, padding, dilation)  # (OC, N*L)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), **torch_kwargs(stride, padding, dilation)
    ).numpy()  # (N, OC, OH, OW)
    np.testing.assert_allclose(
        y, expected.transpose(1, 0, 2, 3).reshape(OC, -1), rtol=1e-10, atol=1e-10
    )


def test_conv_output_size():
    assert ref.conv_output_size(28, 28, 5, 5, (1, 1), (0, 0), (1, 1)) == (24, 24)
    assert ref.conv_output_size(10, 11, 3, 2, (2, 3), (2, 1), (2, 3)) == (5, 4)
    assert ref.conv_output_size(3, 3, 5, 5, (1, 1), (0, 0), (1, 1)) == (-1, -1)


# ---------------------------------------------------------------------------------------------
# cpu (Numba) and cuda (simulator) vs reference
# ---------------------------------------------------------------------------------------------


def check_against_reference(impl, shape, kernel, stride, padding, dilation, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols = impl.im2col(x, *kernel, stride, padding, dilation)
    expected = ref.im2col(x, *kernel, stride, padding, dilation)
    assert cols.dtype == dtype and cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)  # a copy: bitwise equal
    dcols = random_cols(rng, shape, kernel, stride, padding, dilation, dtype)
    dx = impl.col2im(dcols, shape, *kernel, stride, padding, dilation)
    expected = ref.col2im(dcols, shape, *kernel, stride, padding, dilation)
    assert dx.dtype == dtype and dx.shape == shape
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)
    # the GEMM layout: (C*KH*KW, N*OH*OW)
    cols = impl.im2col_gemm(x, *kernel, stride, padding, dilation)
    expected = ref.im2col_gemm(x, *kernel, stride, padding, dilation)
    assert cols.dtype == dtype and cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)
    dcols = rng.standard_normal(expected.shape).astype(dtype)
    dx = impl.col2im_gemm(dcols, shape, *kernel, stride, padding, dilation)
    expected = ref.col2im_gemm(dcols, shape, *kernel, stride, padding, dilation)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_cpu_matches_reference(shape, kernel, stride, padding, dilation, dtype):
    check_against_reference(load("cpu"), shape, kernel, stride, padding, dilation, dtype)


def test_cpu_accepts_non_contiguous_input():
    x = np.random.standard_normal((2, 3, 9, 8)).transpose(0, 1, 3, 2)[:, :, ::2]  # strided
    np.testing.assert_array_equal(
        load("cpu").im2col(x, 2, 3, (1, 2), (1, 0), (1, 1)),
        ref.im2col(x, 2, 3, (1, 2), (1, 0), (1, 1)),
    )
    np.testing.assert_array_equal(
        load("cpu").im2col_gemm(x, 2, 3, (1, 2), (1, 0), (1, 1)),
        ref.im2col_gemm(x, 2, 3, (1, 2), (1, 0), (1, 1)),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride, padding, dilation", [((1, 1), (1, 2), (1, 1)),
                                                       ((2, 3), (0, 1), (2, 1))])
def test_cpu_planes_larger_than_the_stack_copy(stride, padding, dilation, dtype):
    """Planes whose padded copy does not fit ``PLANE_BYTES`` take the in-place loops with
    bounds tests: same results as the reference."""
    cpu = load("cpu")
    H = W = int((cpu.PLANE_BYTES // np.dtype(dtype).itemsize) ** 0.5) + 3
    assert (H + 2 * padding[0]) * (W + 2 * padding[1]) * np.dtype(dtype).itemsize > \
        cpu.PLANE_BYTES
    check_against_reference(cpu, (2, 2, H, W - 1), (3, 2), stride, padding, dilation, dtype)


def test_threads_for_runs_small_calls_on_one_thread_and_restores_the_count():
    import numba
    from tinygrad_edu.kernels.cpu.conv import PARALLEL_GRAIN, threads_for

    before = numba.get_num_threads()
    many = min(2, numba.config.NUMBA_NUM_THREADS)
    try:
        for threads in sorted({1, many}):
            numba.set_num_threads(threads)
            with threads_for(PARALLEL_GRAIN - 1):
                assert numba.get_num_threads() == 1
            assert numba.get_num_threads() == threads
            with threads_for(PARALLEL_GRAIN):
                assert numba.get_num_threads() == threads  # large calls keep the pool
            with pytest.raises(RuntimeError, match="inside"), threads_for(1):
                raise RuntimeError("inside")
            assert numba.get_num_threads() == threads  # restored after an error too
    finally:
        numba.set_num_threads(before)


def test_as_pair_fast_path_keeps_the_checks():
    assert ref.as_pair((2, 3), "stride", "op") == (2, 3)
    assert ref.as_pair(4, "stride", "op") == (4, 4)
    assert ref.as_pair([2, 3], "stride", "op") == (2, 3)
    assert ref.as_pair((np.int64(2), 3), "stride", "op") == (2, 3)
    for bad in [(True, 1), (2,), (2, 3, 4), 2.0, (2, 3.0), "2"]:
        with pytest.raises(ValueError, match=r"op: stride must be an int or a pair of ints"):
            ref.as_pair(bad, "stride", "op")


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", TINY_CASES)
def test_cuda_matches_reference(shape, kernel, stride, padding, dilation, dtype):
    check_against_reference(load("cuda"), shape, kernel, stride, padding, dilation, dtype)


@pytest.mark.cudasim
@pytest.mark.parametrize("version", [1, 2])
def test_cuda_im2col_kernel_versions_agree(version):
    """Every numbered im2col kernel, not only the one the launcher picks."""
    x = np.random.standard_normal((1, 2, 5, 7)).astype(np.float32)
    args = (3, 2, (2, 1), (1, 2), (2, 1))
    cols = load("cuda")._im2col(x, *args, version=version)
    np.testing.assert_array_equal(cols, ref.im2col(x, *args))


# ---------------------------------------------------------------------------------------------
# hypothesis: random shapes / strides / paddings / dilations
# ---------------------------------------------------------------------------------------------


@st.composite
def conv_cases(draw, max_n=3, max_c=3, max_hw=10):
    """(shape, kernel, stride, padding, dilation) with at least one output position."""
    shape = (
        draw(st.integers(1, max_n)),
        draw(st.integers(1, max_c)),
        draw(st.integers(1, max_hw)),
        draw(st.integers(1, max_hw)),
    )
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    OH, OW = ref.conv_output_size(shape[2], shape[3], *kernel, stride, padding, dilation)
    assume(OH >= 1 and OW >= 1)
    return shape, kernel, stride, padding, dilation


HYPOTHESIS = dict(deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@settings(max_examples=40, **HYPOTHESIS)
@given(case=conv_cases())
def test_hypothesis_reference_matches_torch(case):
    shape, kernel, stride, padding, dilation = case
    x = torch.from_numpy(np.random.standard_normal(shape)).requires_grad_()
    cols = F.unfold(x, kernel, **torch_kwargs(stride, padding, dilation))
    np.testing.assert_array_equal(
        ref.im2col(x.detach().numpy(), *kernel, stride, padding, dilation), cols.detach().numpy()
    )
    dcols = np.random.standard_normal(tuple(cols.shape))
    cols.backward(torch.from_numpy(dcols))
    dx = ref.col2im(dcols, shape, *kernel, stride, padding, dilation)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, **HYPOTHESIS)
@given(case=conv_cases(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_hypothesis_cpu_matches_reference(case, dtype, seed):
    check_against_reference(load("cpu"), *case, dtype, seed)


@pytest.mark.cudasim
@settings(max_examples=8, **HYPOTHESIS)
@given(case=conv_cases(max_n=2, max_c=2, max_hw=7), dtype=st.sampled_from(DTYPES))
def test_hypothesis_cuda_matches_reference(case, dtype):
    check_against_reference(load("cuda"), *case, dtype)


# ---------------------------------------------------------------------------------------------
# argument checks: the same clear errors from every implementation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_im2col_kernel_too_big_error(impl):
    x = np.zeros((1, 1, 3, 3))
    msg = (
        r"im2col: kernel \(5, 5\) with dilation \(1, 1\) and padding \(0, 0\) "
        r"does not fit input of size \(3, 3\)"
    )
    with pytest.raises(ValueError, match=msg):
        load(impl).im2col(x, 5, 5, (1, 1), (0, 0), (1, 1))


@pytest.mark.parametrize("impl", ALL_IMPLS)
@pytest.mark.parametrize(
    "x_shape, args, match",
    [
        ((3, 3), (2, 2, (1, 1), (0, 0), (1, 1)), r"im2col: input must be 4-d .* got 2-d"),
        ((1, 1, 4, 4), (2, 2, (0, 1), (0, 0), (1, 1)), r"im2col: stride must be >= 1"),
        ((1, 1, 4, 4), (2, 2, (1, 1), (-1, 0), (1, 1)), r"im2col: padding must be >= 0"),
        ((1, 1, 4, 4), (2, 2, (1, 1), (0, 0), (1, 0)), r"im2col: dilation must be >= 1"),
        ((1, 1, 4, 4), (0, 2, (1, 1), (0, 0), (1, 1)), r"im2col: kernel size must be >= 1"),
        ((1, 1, 4, 4), (2, 2, (1, 1, 1), (0, 0), (1, 1)), r"im2col: stride must be an int or"),
    ],
)
def test_im2col_argument_errors(impl, x_shape, args, match):
    with pytest.raises(ValueError, match=match):
        load(impl).im2col(np.zeros(x_shape), *args)


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_col2im_wrong_cols_shape_error(impl):
    cols = np.zeros((1, 4, 5))  # (N, C*KH*KW, OH*OW) should be (1, 4, 4) for a 3x3 input
    with pytest.raises(ValueError, match=r"col2im: cols must have shape .* \(1, 4, 4\)"):
        load(impl).col2im(cols, (1, 1, 3, 3), 2, 2, (1, 1), (0, 0), (1, 1))


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_col2im_gemm_wrong_cols_shape_error(impl):
    cols = np.zeros((4, 5))  # (C*KH*KW, N*OH*OW) should be (4, 8) for two 3x3 samples
    with pytest.raises(ValueError, match=r"col2im_gemm: cols must have shape .* \(4, 8\)"):
        load(impl).col2im_gemm(cols, (2, 1, 3, 3), 2, 2, (1, 1), (0, 0), (1, 1))


@pytest.mark.parametrize("impl", ALL_IMPLS)
def test_im2col_gemm_kernel_too_big_error(impl):
    with pytest.raises(ValueError, match=r"im2col_gemm: kernel \(5, 5\) .* does not fit"):
        load(impl).im2col_gemm(np.zeros((1, 1, 3, 3)), 5, 5, (1, 1), (0, 0), (1, 1))


@pytest.mark.parametrize("impl", ["cpu", pytest.param("cuda", marks=pytest.mark.cudasim)])
def test_compiled_kernels_reject_integer_input(impl):
    with pytest.raises(TypeError, match=r"im2col: x must be float32 or float64, got int64"):
        load(impl).im2col(np.zeros((1, 1, 3, 3), dtype=np.int64), 2, 2, 1, 0, 1)
