"""Adversarial review of ``kernels/``: reference, cpu (Numba) and cuda (simulator, tiny shapes)
against torch as the oracle, on the edges the family tests do not sweep: ties, -inf and NaN,
ceil_mode windows that start in the padding, kernels larger than the input, stride > kernel,
non-contiguous inputs, zero-size dims, the GEMM's partial tiles, Winograd's odd edges and
attention with T not a multiple of the block sizes.

Each test of a fixed bug names it in its docstring; ``xfail(strict=True)`` tests document
discrepancies that are left as they are (see their reasons).
"""

import importlib
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = [np.float32, np.float64]
CUDA = pytest.param("cuda", marks=pytest.mark.cudasim)


def kernels(family, impl):
    return importlib.import_module(f"tinygrad_edu.kernels.{impl}.{family}")


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

# (N, C, H, W), kernel, stride, padding, dilation: odd, non-square, batch 1, channel 1,
# stride > kernel, padding = half the kernel, dilated windows, kernel = the whole input
POOL_CASES = [
    ((1, 1, 5, 7), (3, 2), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 6, 5), (2, 3), (3, 4), (1, 1), (1, 1)),  # stride > kernel
    ((1, 2, 3, 3), (2, 2), (2, 2), (1, 1), (1, 1)),  # ceil window starting in the padding
    ((1, 1, 4, 9), (5, 3), (2, 2), (2, 1), (1, 2)),  # kernel taller than the input
    ((2, 1, 7, 4), (3, 3), (2, 1), (1, 0), (2, 1)),
    ((1, 1, 1, 6), (1, 4), (1, 3), (0, 2), (1, 1)),
]


def _pool_input(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)  # many ties
    x.flat[0] = -np.inf
    return x


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_torch_with_ties_and_minus_inf(impl, case, ceil_mode):
    """Values and indices (torch's first max on ties) equal torch's, float32 and float64."""
    shape, K, S, P, D = case
    pool = kernels("pool", impl)
    for dtype in DTYPES if impl != "cuda" else [np.float32]:
        x = _pool_input(shape, dtype, 1)
        ty, ti = F.max_pool2d(torch.from_numpy(x), K, S, P, D, ceil_mode=ceil_mode,
                              return_indices=True)
        y, i = pool.max_pool2d_forward(x, K, S, P, D, ceil_mode)
        np.testing.assert_array_equal(y, ty.numpy())
        real = i >= 0  # -1: a window with no input pixel (torch returns an outside index)
        np.testing.assert_array_equal(i[real], ti.numpy()[real])
        assert np.all(y[~real] == -np.inf)
        # backward: dx through the indices equals torch autograd's
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
        tx = torch.from_numpy(x).requires_grad_()
        F.max_pool2d(tx, K, S, P, D, ceil_mode=ceil_mode).backward(torch.from_numpy(dy))
        dx = pool.max_pool2d_backward(dy, i, shape)
        np.testing.assert_allclose(dx, tx.grad.numpy(), **tol(dtype))


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("window", [(2, 1), (3, 2), (3, 1), (2, 2)])
def test_max_pool_nan_propagates_like_torch(impl, window):
    """A NaN in a window wins (torch picks the last NaN of the window); the fixed-window cpu
    kernels (3x3/1, 3x3/2, 2x2/2) take the same path as the general one."""
    K, S = window
    x = np.random.default_rng(3).standard_normal((1, 1, 6, 7)).astype(np.float32)
    x[0, 0, 2, 3] = x[0, 0, 3, 2] = x[0, 0, 0, 0] = np.nan
    ty, ti = F.max_pool2d(torch.from_numpy(x), K, S, return_indices=True)
    y, i = kernels("pool", impl).max_pool2d_forward(x, K, S, 0, 1, False)
    np.testing.assert_array_equal(y, ty.numpy())  # NaNs in the same places
    np.testing.assert_array_equal(i, ti.numpy())


AVG_CASES = [
    ((1, 1, 5, 7), (3, 2), (1, 2), (1, 1)),
    ((2, 3, 6, 5), (2, 3), (3, 4), (1, 1)),  # stride > kernel: pixels in no window
    ((1, 2, 3, 3), (2, 2), (2, 2), (1, 1)),
    ((1, 1, 4, 9), (5, 3), (2, 2), (2, 1)),  # kernel taller than the input
    ((1, 1, 1, 6), (1, 4), (1, 3), (0, 2)),
]


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("ceil_mode,count_include_pad",
                         list(itertools.product([False, True], [False, True])))
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool_matches_torch(impl, case, ceil_mode, count_include_pad):
    """Forward and backward of avg_pool2d equal torch's divisor rules (ceil_mode windows
    overhanging the right padding, count_include_pad both ways)."""
    shape, K, S, P = case
    pool = kernels("pool", impl)
    dtype = np.float64
    x = np.random.default_rng(4).standard_normal(shape)
    tx = torch.from_numpy(x).requires_grad_()
    ty = F.avg_pool2d(tx, K, S, P, ceil_mode, count_include_pad)
    y = pool.avg_pool2d_forward(x, K, S, P, ceil_mode, count_include_pad)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol(dtype))
    dy = np.random.default_rng(5).standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    dx = pool.avg_pool2d_backward(dy, shape, K, S, P, ceil_mode, count_include_pad)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol(dtype))


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
def test_pool_non_contiguous_and_zero_size_inputs(impl):
    """Sliced and transposed inputs give the results of their contiguous copies; a batch or
    channel axis of length 0 gives empty results."""
    pool = kernels("pool", impl)
    base = np.random.default_rng(6).standard_normal((2, 3, 9, 8)).astype(np.float32)
    for x in (base[:, ::2, 1::2, ::3], base.transpose(0, 1, 3, 2)):
        assert not x.flags.c_contiguous
        for args in ((3, 2, 1, 1, True), (2, 1, 0, 2, False)):
            got = pool.max_pool2d_forward(x, *args)
            want = pool.max_pool2d_forward(np.ascontiguousarray(x), *args)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        got = pool.avg_pool2d_forward(x, 3, 2, 1, True, False)
        want = pool.avg_pool2d_forward(np.ascontiguousarray(x), 3, 2, 1, True, False)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)  # NumPy's sum order
    for shape in ((0, 2, 5, 5), (2, 0, 5, 5)):
        y, i = pool.max_pool2d_forward(np.zeros(shape, np.float32), 2, 2, 0, 1, False)
        assert y.shape == i.shape == shape[:2] + (2, 2)
        assert pool.max_pool2d_backward(y, i, shape).shape == shape


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------

# (N, C, H, W), kernel, stride, padding, dilation
CONV_CASES = [
    ((1, 1, 5, 7), (3, 2), (1, 1), (0, 0), (1, 1)),
    ((2, 3, 4, 5), (5, 5), (3, 1), (2, 2), (1, 1)),  # kernel larger than the input
    ((1, 2, 6, 5), (2, 3), (4, 5), (1, 0), (2, 1)),  # stride > kernel, dilation
    ((1, 1, 3, 3), (3, 3), (1, 1), (1, 1), (2, 2)),
    ((1, 1, 1, 1), (1, 1), (7, 7), (0, 0), (1, 1)),
]


def _unfold_oracle(x, K, S, P, D):
    return F.unfold(torch.from_numpy(np.ascontiguousarray(x)), K, D, P, S).numpy()


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_col2im_match_unfold_fold(impl, case, dtype):
    """Both layouts, against torch's unfold and fold."""
    shape, K, S, P, D = case
    conv = kernels("conv", impl)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(dtype)
    want = _unfold_oracle(x, K, S, P, D)  # (N, C*KH*KW, L)
    np.testing.assert_array_equal(conv.im2col(x, K[0], K[1], S, P, D), want)
    gemm_layout = want.transpose(1, 0, 2).reshape(want.shape[1], -1)
    np.testing.assert_array_equal(conv.im2col_gemm(x, K[0], K[1], S, P, D), gemm_layout)
    cols = rng.standard_normal(want.shape).astype(dtype)
    folded = F.fold(torch.from_numpy(cols), shape[2:], K, D, P, S).numpy()
    np.testing.assert_allclose(conv.col2im(cols, shape, K[0], K[1], S, P, D), folded,
                               **tol(dtype))
    cols_gemm = np.ascontiguousarray(cols.transpose(1, 0, 2).reshape(cols.shape[1], -1))
    np.testing.assert_allclose(conv.col2im_gemm(cols_gemm, shape, K[0], K[1], S, P, D), folded,
                               **tol(dtype))


@pytest.mark.parametrize("padding", [(0, 0), (1, 2)])
def test_cpu_im2col_planes_larger_than_the_stack_copy(padding):
    """Planes over ``PLANE_BYTES`` take the in-place path with bounds tests; non-contiguous
    input (transposed) too."""
    conv = kernels("conv", "cpu")
    x = np.random.default_rng(8).standard_normal((1, 2, 97, 100)).astype(np.float32)
    x = x.transpose(0, 1, 3, 2)  # (1, 2, 100, 97), not contiguous
    assert 100 * 97 * 4 > conv.PLANE_BYTES
    want = _unfold_oracle(x, (3, 3), (2, 1), padding, (1, 1))
    np.testing.assert_array_equal(conv.im2col(x, 3, 3, (2, 1), padding, 1), want)
    folded = F.fold(torch.from_numpy(want), (100, 97), 3, 1, padding, (2, 1)).numpy()
    np.testing.assert_allclose(conv.col2im(want, x.shape, 3, 3, (2, 1), padding, 1), folded,
                               rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# GEMM and Winograd
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (1, 33, 1), (9, 1, 7), (8, 32, 1),
                                   (17, 31, 300), (7, 65, 257), (13, 100, 2)])
def test_gemm_edge_sizes_match_blas(monkeypatch, M, N, K, dtype):
    """matmul's Numba kernels at every size (NUMBA_GEMM on, MIN_WORK 0): partial tiles of
    rows and columns, K = 1, transposed / strided operands, bias and the (n, M, L) output."""
    gemm = kernels("gemm", "cpu")
    monkeypatch.setattr(gemm, "NUMBA_GEMM", True)
    monkeypatch.setattr(gemm, "MIN_WORK", 0)
    rng = np.random.default_rng(9)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    bias = rng.standard_normal(M).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    accuracy = dict(rtol=1e-4, atol=1e-4 * np.sqrt(K)) if dtype == np.float32 else tol(dtype)
    got = {
        "nn": gemm.matmul(a, b),
        "bias": gemm.matmul(a, b, bias=bias) - bias[:, None],
        "b transposed": gemm.matmul(a, np.ascontiguousarray(b.T).T),
        "a transposed": gemm.matmul(np.ascontiguousarray(a.T).T, b),
        "a strided": gemm.matmul(np.repeat(a, 2, axis=1)[:, ::2], b),
    }
    if N % 2 == 0:
        out = np.empty((2, M, N // 2), dtype)
        gemm.matmul(a, b, out=out, bias=bias)
        got["(n, M, L) out"] = out.transpose(1, 0, 2).reshape(M, N) - bias[:, None]
    for name, value in got.items():
        np.testing.assert_allclose(value, want, err_msg=name, **accuracy)


@pytest.mark.parametrize("impl", ["reference", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,padding", [
    ((1, 1, 3, 3, 1), (0, 0)), ((2, 3, 5, 7, 4), (1, 1)), ((1, 2, 4, 9, 3), (2, 2)),
    ((3, 1, 6, 6, 2), (0, 2)), ((1, 5, 1, 1, 2), (1, 1)), ((1, 2, 2, 8, 3), (2, 0)),
])
def test_winograd_matches_direct_conv(impl, shape, padding, dtype):
    """Forward, input gradient (the flipped filters with padding 2 - P) and weight gradient
    of a 3x3 stride-1 conv against torch's direct convolution, odd and 1x1 outputs."""
    wino = kernels("winograd", impl)
    N, C, H, W, OC = shape
    rng = np.random.default_rng(10)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((OC, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    ty = F.conv2d(tx, tw, torch.tensor(b, dtype=torch.float64), padding=padding)
    y = wino.winograd_conv3x3(x, wino.winograd_weights(w), b, padding)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    loose = dict(rtol=1e-3, atol=1e-4) if dtype == np.float32 else tol(dtype)
    dx = wino.winograd_conv3x3(dy, wino.winograd_weights(w, input_grad=True), None,
                               (2 - padding[0], 2 - padding[1]))
    np.testing.assert_allclose(dx, tx.grad.numpy(), **loose)
    dw = wino.winograd_weight_grad(x, dy, padding)
    np.testing.assert_allclose(dw, tw.grad.numpy(), **loose)


# ---------------------------------------------------------------------------------------------
# attention and softmax
# ---------------------------------------------------------------------------------------------


def _torch_attention(q, k, v, mask, is_causal, dout):
    tq, tk, tv = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v))
    tm = None if mask is None else torch.tensor(mask, dtype=torch.float64)
    if is_causal:  # top-left aligned, as the kernels (torch's is_causal too, for Tq != Tk)
        allowed = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril()
        causal = torch.zeros(allowed.shape, dtype=torch.float64).masked_fill(~allowed, -np.inf)
        tm = causal if tm is None else tm + causal
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return [a.numpy() for a in (out.detach(), tq.grad, tk.grad, tv.grad)]


def _attention_inputs(B, nh, Tq, Tk, hs, dtype, mask_kind, seed):
    rng = np.random.default_rng(seed)
    q, dout = (rng.standard_normal((B, nh, Tq, hs)).astype(dtype) for _ in range(2))
    k, v = (rng.standard_normal((B, nh, Tk, hs)).astype(dtype) for _ in range(2))
    mask = None
    if mask_kind == "2d":  # some -inf, key 0 always kept
        mask = np.where(rng.random((Tq, Tk)) < 0.3, -np.inf, rng.standard_normal((Tq, Tk)))
        mask[:, 0] = 0
        mask = mask.astype(dtype)
    elif mask_kind == "broadcast view":
        mask = np.broadcast_to(rng.standard_normal((1, nh, 1, Tk)).astype(dtype),
                               (B, nh, Tq, Tk))
    return q, k, v, mask, dout


def _check_attention(module, shape, dtype, mask_kind, is_causal, **options):
    q, k, v, mask, dout = _attention_inputs(*shape, dtype, mask_kind, seed=11)
    want = _torch_attention(q, k, v, mask, is_causal, dout)
    out, lse = module.attention_forward(q, k, v, mask, is_causal, **options)
    grads = module.attention_backward(dout, q, k, v, out, lse, mask, is_causal, **options)
    for name, got, expected in zip(("out", "dq", "dk", "dv"), (out, *grads), want):
        np.testing.assert_allclose(got, expected, err_msg=name, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "2d", "broadcast view"])
@pytest.mark.parametrize("shape", [(1, 1, 131, 131, 3), (2, 1, 5, 140, 4), (1, 2, 133, 6, 5)])
def test_cpu_attention_across_query_blocks(shape, mask_kind, is_causal, dtype):
    """T not a multiple of BLOCK_Q (128), Tq != Tk both ways, masks and causal, vs torch."""
    _check_attention(kernels("attention", "cpu"), shape, dtype, mask_kind, is_causal)


@pytest.mark.cudasim
@pytest.mark.parametrize("impl,block_q,block_k", [("flash", 4, 3), ("naive", 4, 2)])
@pytest.mark.parametrize("is_causal,mask_kind", [(False, "2d"), (True, None),
                                                 (True, "broadcast view")])
@pytest.mark.parametrize("shape", [(1, 1, 7, 5, 3), (1, 1, 3, 6, 2)])
def test_cuda_attention_tiles_not_filled(shape, is_causal, mask_kind, impl, block_q, block_k):
    """T not a multiple of the tiles, Tq != Tk both ways, vs torch (simulator, tiny)."""
    _check_attention(kernels("attention", "cuda"), shape, np.float32, mask_kind, is_causal,
                     impl=impl, block_q=block_q, block_k=block_k)


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_row_with_nan_is_nan_like_torch(impl, dtype):
    """Fixed: a row holding a NaN came out as exp(x) unnormalized (reference: its NaN sum
    failed the ``total > 0`` test and the row was divided by 1), raised ZeroDivisionError
    (cpu float32: the float32 exp gives 0 for NaN, so the sum was 0) or came out as a fully
    masked row of zeros (cuda). torch gives NaN for the whole row; other rows are unchanged
    and an all -inf row still gives zeros (the kernels' documented rule)."""
    x = np.array([[1.0, np.nan, 2.0, 0.5], [1.0, 2.0, 3.0, 4.0], [-np.inf] * 4], dtype)
    y = kernels("attention", impl).softmax_lastdim(x)
    want = torch.softmax(torch.from_numpy(x[:2]), -1).numpy()
    assert np.all(np.isnan(y[0])) and np.all(np.isnan(want[0]))
    np.testing.assert_allclose(y[1], want[1], **tol(dtype))
    np.testing.assert_array_equal(y[2], 0)


@pytest.mark.parametrize("impl,options", [("reference", {}), ("cpu", {}),
                                          pytest.param("cuda", {"impl": "flash"},
                                                       marks=pytest.mark.cudasim),
                                          pytest.param("cuda", {"impl": "naive"},
                                                       marks=pytest.mark.cudasim)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_nan_key_gives_nan_like_torch(impl, options, dtype):
    """Fixed: a NaN in k made every score row hold a NaN; the cpu float32 forward raised
    ZeroDivisionError and the cuda kernels returned 0 with lse = -inf (a fully masked row).
    torch returns NaN, and so do the kernels now."""
    rng = np.random.default_rng(12)
    q = rng.standard_normal((1, 1, 3, 2)).astype(dtype)
    k, v = q.copy(), q.copy()
    k[0, 0, 1, 0] = np.nan
    out, lse = kernels("attention", impl).attention_forward(q, k, v, **options)
    want = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v))).numpy()
    assert np.all(np.isnan(want))
    assert np.all(np.isnan(out)) and np.all(np.isnan(lse))


@pytest.mark.parametrize("impl", ["reference", "cpu", CUDA])
@pytest.mark.parametrize("shape", [(3, 0), (0, 5), (2, 0, 3)])
def test_softmax_of_empty_arrays_is_empty(impl, shape):
    """Fixed (reference, cpu): rows of length 0 raised ValueError ("zero-size array to
    reduction", "cannot reshape array of size 0"); torch returns an empty array."""
    x = np.zeros(shape, np.float32)
    y = kernels("attention", impl).softmax_lastdim(x)
    assert y.shape == tuple(torch.softmax(torch.from_numpy(x), -1).shape) and y.dtype == x.dtype


def test_cpu_cross_entropy_float32_nan_logit_is_nan():
    # the row max propagates NaN (np.maximum): Python's max dropped it and the float32 exp gives
    # 0 for NaN, so the loss stayed finite
    loss = kernels("loss", "cpu")
    x = np.array([[1.0, 2.0, np.nan, 0.5]], np.float32)
    t = np.array([0], np.int64)
    assert np.isnan(F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item())
    for row in (x, x[:, ::-1].copy(), np.roll(x, 1, axis=1)):
        losses, dx, _ = loss.cross_entropy_forward(row, t)
        assert np.isnan(losses[0]) and np.isnan(dx).all()


@pytest.mark.cudasim
@pytest.mark.parametrize("impl", ["flash", "naive"])
def test_cuda_attention_nan_query_row_is_nan(impl):
    """A row whose every score is NaN (a NaN in q), or NaN where not masked, is NaN in the
    output, the lse and the gradients, as in torch; a fully masked row stays 0 (lse -inf).
    max() skips NaN (fmax on the GPU), so the kernels look for NaN scores themselves."""
    q = np.random.default_rng(13).standard_normal((1, 1, 3, 2)).astype(np.float32)
    k, v = q.copy(), q.copy()
    q[0, 0, 1, 0] = np.nan
    mask = np.zeros((3, 3), np.float32)
    mask[2] = -np.inf  # row 2: every key masked
    mask[1, 0] = -np.inf  # row 1: NaN where not masked
    attention = kernels("attention", "cuda")
    out, lse = attention.attention_forward(q, k, v, mask, impl=impl)
    assert np.all(np.isnan(out[0, 0, 1])) and np.isnan(lse[0, 0, 1])
    assert not out[0, 0, 2].any() and lse[0, 0, 2] == -np.inf
    ref_out, ref_lse = kernels("attention", "reference").attention_forward(q, k, v, mask)
    np.testing.assert_allclose(out[0, 0, 0], ref_out[0, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(lse[0, 0, 0], ref_lse[0, 0, 0], rtol=1e-5)
    dq, _, _ = attention.attention_backward(np.ones_like(out), q, k, v, out, lse, mask,
                                            impl=impl)
    assert np.all(np.isnan(dq[0, 0, 1])) and not dq[0, 0, 2].any()
    tq = torch.from_numpy(q)
    t_out = torch.nn.functional.scaled_dot_product_attention(tq, tq.clone(), tq.clone(),
                                                             torch.from_numpy(mask))
    assert torch.isnan(t_out[0, 0, 1]).all()  # torch's side of row 1


@pytest.mark.cudasim
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the simulator's NumPy math
def test_cuda_softmax_row_of_nan_and_minus_inf_is_nan():
    x = np.array([[np.nan, -np.inf, np.nan], [-np.inf, -np.inf, -np.inf], [0, 1, np.nan]],
                 np.float32)
    y = kernels("attention", "cuda").softmax_lastdim(x)
    assert np.isnan(y[0]).all() and not y[1].any() and np.isnan(y[2]).all()
    assert torch.isnan(torch.softmax(torch.from_numpy(x[[0, 2]]), -1)).all()


# ---------------------------------------------------------------------------------------------
# argument checks added by the review
# ---------------------------------------------------------------------------------------------


@pytest.mark.cudasim
def test_cuda_gelu_backward_checks_cdf():
    """Fixed: cuda gelu_backward took cdf unchecked; a longer cdf was read silently and a
    shorter one out of bounds. It now refuses a cdf that is not shaped like x, as cpu's."""
    act = kernels("activation", "cuda")
    x = np.linspace(-3, 3, 6, dtype=np.float32)
    dy = np.ones_like(x)
    y, cdf = act.gelu_forward(x)
    for bad in (np.ones(8, np.float32), np.ones(3, np.float32), cdf.astype(np.float64),
                cdf.reshape(2, 3)):
        with pytest.raises(ValueError, match="gelu_backward: cdf"):
            act.gelu_backward(x, bad, dy)
    tx = torch.from_numpy(x).requires_grad_()
    F.gelu(tx).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(act.gelu_backward(x, cdf, dy), tx.grad.numpy(), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("which", ["batch_norm", "layer_norm"])
def test_cpu_norm_backward_checks_statistics(which):
    """Fixed: mean and var of the wrong length were indexed without bounds checks (reading
    past the arrays); now a ValueError naming the op. The right ones still match torch."""
    norm = kernels("norm", "cpu")
    rng = np.random.default_rng(14)
    x = rng.standard_normal((4, 3, 5) if which == "batch_norm" else (6, 5))
    dy = rng.standard_normal(x.shape)
    w = rng.standard_normal(x.shape[1])
    forward = getattr(norm, which + "_forward")
    backward = getattr(norm, which + "_backward")
    _, mean, var = forward(x, w, None, 1e-5)
    with pytest.raises(ValueError, match=f"{which}_backward: mean"):
        backward(dy, x, mean[:1], var, w, 1e-5)
    with pytest.raises(ValueError, match=f"{which}_backward: var"):
        backward(dy, x, mean, np.ones(len(var) + 1), w, 1e-5)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    if which == "batch_norm":
        ty = F.batch_norm(tx, None, None, tw, None, training=True, eps=1e-5)
    else:
        ty = F.layer_norm(tx, (x.shape[1],), tw, None, 1e-5)
    ty.backward(torch.from_numpy(dy))
    dx, dw, _ = backward(dy, x, mean, var, w, 1e-5)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-8, atol=1e-10)
