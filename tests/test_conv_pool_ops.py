"""conv2d / conv_transpose2d / pooling: forward and backward vs torch and numerical gradients,
with every CPU kernel implementation, plus the nn modules built on them."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
import tinygrad_edu.functional as F
import tinygrad_edu.nn as nn
from tinygrad_edu import backend

conv_module = importlib.import_module("tinygrad_edu.functional.conv")

KERNELS = ["reference", "numba"]

CONV_CASES = [
    # x shape, w shape, options
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    ((1, 1, 5, 8), (2, 1, 3, 3), dict()),
    ((2, 4, 5, 5), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((3, 2, 6, 5), (3, 2, 1, 1), dict(stride=2)),
    ((3, 6, 11, 7), (8, 3, 4, 3), dict(groups=2, stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
]
TRANSPOSE_OPTS = [dict(stride=2, padding=1, output_padding=1),
                  dict(stride=(1, 2), dilation=(2, 1)),
                  dict(groups=2)]


@pytest.fixture(params=KERNELS)
def kernel(request, device):
    choice = "auto" if device == "cuda" else request.param
    with tg.use_kernel(choice):
        yield choice


@pytest.mark.parametrize("x_shape,w_shape,opts", CONV_CASES)
def test_conv2d_matches_torch(kernel, device, x_shape, w_shape, opts):
    b_shape = (w_shape[0],)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **opts),
             lambda x, w, b: TF.conv2d(x, w, b, **opts),
             [x_shape, w_shape, b_shape], device=device)


@pytest.fixture
def tiny_im2col_budget(monkeypatch):
    """A column budget of 300 bytes: every conv2d below runs in chunks of 1 or 2 samples."""
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 300)
    monkeypatch.setattr(conv_module, "GPU_IM2COL_BUDGET_BYTES", 300)


@pytest.mark.parametrize("x_shape,w_shape,opts", CONV_CASES)
def test_conv2d_in_chunks_matches_torch(kernel, device, tiny_im2col_budget, x_shape, w_shape,
                                        opts):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **opts),
             lambda x, w, b: TF.conv2d(x, w, b, **opts),
             [x_shape, w_shape, (w_shape[0],)], device=device)


def test_conv2d_chunks_follow_the_budget(monkeypatch):
    x = tg.randn(5, 2, 6, 6, dtype=tg.float64, requires_grad=True)
    w = tg.randn(3, 2, 3, 3, dtype=tg.float64, requires_grad=True)
    per_sample = 2 * 3 * 3 * 4 * 4 * 8  # C*KH*KW*OH*OW float64 numbers of one sample's cols
    for budget, chunk in [(10**9, 5), (2 * per_sample, 2), (per_sample - 1, 1)]:
        monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", budget)
        y = F.conv2d(x, w)
        assert isinstance(y._ctx, conv_module.Conv2d)
        assert y._ctx.spec.chunk == chunk


def test_conv2d_in_chunks_same_results_and_second_order(tiny_im2col_budget):
    a = np.random.randn(5, 3, 6, 5)
    b = np.random.randn(4, 3, 3, 2)
    x = tg.tensor(a, requires_grad=True)
    w = tg.tensor(b, requires_grad=True)
    y = F.conv2d(x, w, padding=1, stride=(1, 2))
    y.backward(tg.tensor(np.ones(y.shape)))
    xt = torch.tensor(a, requires_grad=True)
    wt = torch.tensor(b, requires_grad=True)
    TF.conv2d(xt, wt, padding=1, stride=(1, 2)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    x2 = tg.randn(3, 2, 5, 4, dtype=tg.float64, requires_grad=True)
    w2 = tg.randn(2, 2, 3, 3, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1) ** 2, [x2, w2])


def test_conv2d_in_chunks_only_input_or_only_weight_needs_grad(tiny_im2col_budget):
    a = np.random.randn(3, 2, 5, 5)
    b = np.random.randn(2, 2, 3, 3)
    xt = torch.tensor(a, requires_grad=True)
    wt = torch.tensor(b, requires_grad=True)
    TF.conv2d(xt, wt).sum().backward()
    for x_grad, w_grad in [(False, True), (True, False)]:
        x = tg.tensor(a, requires_grad=x_grad)
        w = tg.tensor(b, requires_grad=w_grad)
        F.conv2d(x, w).sum().backward()
        ours, theirs = (x, xt) if x_grad else (w, wt)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
        assert (w if x_grad else x).grad is None


@pytest.mark.parametrize("opts", TRANSPOSE_OPTS)
def test_conv_transpose2d_in_chunks_matches_torch(kernel, device, tiny_im2col_budget, opts):
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **opts),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **opts),
             [(3, 4, 4, 5), (4, 3, 3, 2), (6 if opts.get("groups") else 3,)], device=device)


def test_second_order_gradients_in_chunks(kernel, tiny_im2col_budget):
    """Conv2d, Conv2dInputGrad and Conv2dWeightGrad differentiate into each other: second
    derivatives through every pair of them, chunk by chunk, with groups, stride and bias."""
    x = tg.randn(3, 4, 6, 5, dtype=tg.float64, requires_grad=True)
    w = tg.randn(6, 2, 3, 2, dtype=tg.float64, requires_grad=True)
    b = tg.randn(6, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2).tanh(), [x, w, b])
    wt = tg.randn(4, 3, 3, 2, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(
        lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1, groups=2) ** 2,
        [x, wt])


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
@pytest.mark.parametrize("x_shape,w_shape,opts", CONV_CASES)
def test_conv2d_with_the_numba_gemm_matches_torch(numba_gemm_at_every_size, monkeypatch,
                                                  chunked, x_shape, w_shape, opts):
    if chunked:
        monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 300)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **opts),
             lambda x, w, b: TF.conv2d(x, w, b, **opts),
             [x_shape, w_shape, (w_shape[0],)])
    check_op(lambda x, w: F.conv2d(x, w, **opts), lambda x, w: TF.conv2d(x, w, **opts),
             [x_shape, w_shape])


@pytest.mark.parametrize("opts", TRANSPOSE_OPTS)
def test_conv_transpose2d_with_the_numba_gemm_matches_torch(numba_gemm_at_every_size, opts):
    C, groups = 4, opts.get("groups", 1)
    check_op(lambda x, w: F.conv_transpose2d(x, w, **opts),
             lambda x, w: TF.conv_transpose2d(x, w, **opts),
             [(2, C, 5, 4), (C, 6 // groups, 3, 2)])


def test_cpu_matmul_is_the_numba_gemm_for_numpy_arrays_only():
    """conv's and linear's products take the Numba GEMM only for NumPy float arrays under the
    numba kernels; GPU arrays never ask (under use_kernel("cuda") asking would raise: that
    kernel choice needs GPU arrays)."""

    class GpuArray:  # stands in for a CuPy array: not a NumPy array
        dtype = np.dtype(np.float32)

    a = np.ones((2, 2), np.float32)
    with tg.use_kernel("cuda"):
        assert backend.cpu_matmul(GpuArray(), GpuArray()) is None
    with tg.use_kernel("reference"):
        assert backend.cpu_matmul(a, a) is None
    with tg.use_kernel("numba"):
        assert backend.cpu_matmul(a, a.astype(np.float64)) is None  # mixed dtypes
        assert backend.cpu_matmul(a.astype(np.float16), a) is None
        assert backend.cpu_matmul(a, a) is not None


@pytest.mark.parametrize("groups", [1, 2])
def test_numba_gemm_and_reference_kernels_agree_in_float32(groups, monkeypatch):
    """A conv large enough for the Numba GEMM at its default thresholds (float32, bias, three
    chunks of the batch, a width OH*OW that is no multiple of the GEMM's tiles): the same
    values and gradients as the reference kernels with BLAS."""
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 3 * 16 * 9 * 15 * 15 * 4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 15, 15)).astype(np.float32)
    w = rng.standard_normal((40, 16 // groups, 3, 3)).astype(np.float32) / 10
    b = rng.standard_normal(40).astype(np.float32)
    dy = rng.standard_normal((8, 40, 15, 15)).astype(np.float32)
    results = []
    for kernel in ("reference", "numba"):
        with tg.use_kernel(kernel):
            xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
            y = F.conv2d(xt, wt, bt, padding=1, groups=groups)
            y.backward(tg.tensor(dy))
            results.append([y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(),
                            bt.grad.numpy()])
    for name, ref, ours in zip(["y", "dx", "dw", "db"], *results):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3, err_msg=name)


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("dtype, ocg", [(np.float32, 32), (np.float64, 16)])
def test_weight_gradient_as_outer_products_matches_the_reference(numba_gemm_at_every_size,
                                                                 monkeypatch, groups, dtype, ocg):
    """Output channels per group that fill the GEMM's tiles (32 float32, 16 float64) and short
    rows n*OH*OW next to the C*KH*KW rows of the columns: dW^T = cols @ dy2^T runs as outer
    products on a transposed copy of dy2, chunk by chunk, and gives the reference's gradients
    in W's C-order layout."""
    from tinygrad_edu.kernels.cpu import gemm

    per_sample = 16 * 9 * 7 * 7 * np.dtype(dtype).itemsize  # C*KH*KW*OH*OW numbers
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 2 * per_sample)  # chunks of 2
    rng = np.random.default_rng(1)
    C, OC = 16, ocg * groups
    x = rng.standard_normal((5, C, 7, 7)).astype(dtype)
    w = (rng.standard_normal((OC, C // groups, 3, 3)) / 10).astype(dtype)
    dy = rng.standard_normal((5, OC, 7, 7)).astype(dtype)
    products = []
    real = gemm.matmul
    monkeypatch.setattr(gemm, "matmul", lambda a, b, **kw: products.append((a.shape, b.shape))
                        or real(a, b, **kw))
    results = []
    for kernel in ("reference", "numba"):
        with tg.use_kernel(kernel):
            xt, wt = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
            F.conv2d(xt, wt, padding=1, groups=groups).backward(tg.tensor(dy))
            results.append((xt.grad.numpy(), wt.grad.numpy()))
    ckk = C // groups * 9
    assert ((ckk, 2 * 49), (2 * 49, ocg)) in products  # cols @ dy2^T of a 2-sample chunk
    assert results[1][1].flags.c_contiguous
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for name, ref, ours in zip(["dx", "dw"], *results):
        np.testing.assert_allclose(ours, ref, err_msg=name, **tol)


def test_conv2d_keeps_no_columns_and_skips_an_unneeded_input_gradient(monkeypatch):
    """The forward keeps only its inputs (the columns are made again in backward), and a first
    layer, whose input needs no gradient, never computes one."""
    x = tg.randn(4, 3, 9, 8)  # a batch of data: no gradient
    w = tg.randn(5, 3, 3, 3, requires_grad=True)
    b = tg.randn(5, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert isinstance(y._ctx, conv_module.Conv2d)
    kept = sorted(k for k, v in vars(y._ctx).items() if hasattr(v, "shape"))
    assert not kept, f"Conv2d keeps arrays {kept} for backward"

    def refuse(*args, **kwargs):
        raise AssertionError("conv2d computed an input gradient that nothing needs")

    monkeypatch.setattr(conv_module.Conv2dInputGrad, "forward", refuse)
    y.sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None


def test_max_pool2d_keeps_an_int32_argmax_and_returns_int64_indices(kernel):
    x = tg.randn(2, 3, 6, 5, requires_grad=True)
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    assert y._ctx.argmax.dtype == np.int32  # what backward needs, at half the bytes
    assert indices.dtype == np.int64  # torch's dtype for the caller
    np.testing.assert_array_equal(y._ctx.argmax, indices.numpy())


def test_im2col_budget_from_environment(monkeypatch):
    for text, value in [("1048576", 2**20), ("64M", 64 * 2**20), ("2g", 2 * 2**30),
                        ("", 2**20)]:
        monkeypatch.setenv("TINYGRAD_EDU_IM2COL_BUDGET", text)
        assert conv_module._budget_from_env() == value
    for bad in ["lots", "-5", "0"]:
        monkeypatch.setenv("TINYGRAD_EDU_IM2COL_BUDGET", bad)
        with pytest.raises(ValueError, match="TINYGRAD_EDU_IM2COL_BUDGET: expected a positive"):
            conv_module._budget_from_env()


def test_conv2d_unbatched_and_same_padding(kernel):
    check_op(lambda x, w: F.conv2d(x, w, padding="same"),
             lambda x, w: TF.conv2d(x, w, padding="same"), [(2, 5, 4), (3, 2, 3, 3)])


@pytest.mark.parametrize("opts", TRANSPOSE_OPTS)
def test_conv_transpose2d_matches_torch(kernel, device, opts):
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **opts),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **opts),
             [(2, 4, 4, 5), (4, 3, 3, 3), (6 if opts.get("groups") else 3,)], device=device)


@pytest.mark.parametrize("opts", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True),
                                  dict(kernel_size=2, dilation=2, padding=1)])
def test_max_pool2d_matches_torch(kernel, device, opts):
    check_op(lambda x: F.max_pool2d(x, **opts), lambda x: TF.max_pool2d(x, **opts),
             [(2, 3, 7, 6)], device=device)


def test_max_pool2d_pads_with_minus_infinity(kernel):
    x = -tg.ones(1, 1, 2, 2) * 5  # all negative: zero padding would wrongly win
    y = F.max_pool2d(x, 3, stride=1, padding=1)
    assert y.max().item() == -5.0


def test_max_pool2d_return_indices_match_torch(kernel):
    a = np.random.randn(2, 3, 7, 6)
    y, i = F.max_pool2d(tg.tensor(a), 3, 2, 1, return_indices=True)
    ty, ti = TF.max_pool2d(torch.tensor(a), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("opts", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                       count_include_pad=False),
                                  dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0))])
def test_avg_pool2d_matches_torch(kernel, device, opts):
    check_op(lambda x: F.avg_pool2d(x, **opts), lambda x: TF.avg_pool2d(x, **opts),
             [(2, 3, 7, 6)], device=device)


@pytest.mark.parametrize("size", [(3, 2), 1, (4, None), (7, 6)])
def test_adaptive_avg_pool2d_matches_torch(kernel, device, size):
    check_op(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
             [(2, 3, 7, 6)], device=device)


def test_second_order_gradients(kernel):
    x = tg.randn(2, 3, 5, 4, dtype=tg.float64, requires_grad=True)
    w = tg.randn(2, 3, 3, 3, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1) ** 2, [x, w])
    assert tg.gradgradcheck(lambda x, w: F.conv_transpose2d(x.tanh(), w.transpose(0, 1)),
                            [x, w])
    assert tg.gradgradcheck(lambda x: F.max_pool2d(x * x, 2), [x])
    assert tg.gradgradcheck(lambda x: F.avg_pool2d(x * x, 2, padding=1), [x])
    assert tg.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x * x, (2, 3)), [x])


def test_kernels_agree_with_each_other():
    x = np.random.randn(3, 4, 9, 8).astype(np.float32)
    w = np.random.randn(5, 4, 3, 3).astype(np.float32)
    outs = []
    for k in KERNELS:
        with tg.use_kernel(k):
            xt = tg.tensor(x, requires_grad=True)
            wt = tg.tensor(w, requires_grad=True)
            y = F.max_pool2d(F.conv2d(xt, wt, padding=1).relu(), 2)
            y.sum().backward()
            outs.append((y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv_modules_match_torch_with_copied_weights():
    torch.manual_seed(0)
    cases = [(nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=True),
              torch.nn.Conv2d(3, 4, (3, 2), stride=2, padding=1)),
             (nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
              torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1))]
    for ours, theirs in cases:
        theirs.double()
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        ours.double()
        a = np.random.randn(2, 3, 6, 5)
        x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10)
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                   rtol=1e-10)
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-10)


def test_conv2d_default_init_statistics_match_torch():
    ours = nn.Conv2d(16, 32, 3)
    theirs = torch.nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = ours.weight.detach().numpy()
    assert np.abs(w).max() <= bound
    np.testing.assert_allclose(w.std(), theirs.weight.detach().numpy().std(), rtol=0.1)


def test_pool_modules():
    x = tg.randn(2, 3, 8, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 8, 8)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.shape == (2, 3, 4, 4) and idx.dtype == np.int64


def test_conv2d_bad_input_messages():
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 6\): expected input \(N, 3, H, W\).*"
                                         r"\(8, 1, 28, 28\)"):
        conv(tg.randn(8, 1, 28, 28))
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 1"):
        F.conv2d(tg.randn(8, 3, 28, 28), tg.randn(6, 1, 5, 5))
    with pytest.raises(ValueError, match="does not fit|kernel"):
        F.conv2d(tg.randn(1, 1, 3, 3), tg.randn(1, 1, 5, 5))
    with pytest.raises(ValueError, match="3-d .* or 4-d"):
        F.max_pool2d(tg.randn(3, 3), 2)
