"""lp_pool1d/2d, max_unpool1d/2d, local_response_norm, max_pool1d/2d_with_indices and their
layers against torch 2.13: forward, backward with a random upstream gradient (float32 and
float64), float64 numerical gradients, second order, zero windows and negative inputs, the
unpooling round trip and output_size, bad input, reprs."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.pool import max_pool1d, max_pool2d
from tinygrad_edu.functional.pool_extra import (
    local_response_norm,
    lp_pool1d,
    lp_pool2d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from tinygrad_edu.nn.pooling_extra import (
    LocalResponseNorm,
    LPPool1d,
    LPPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)

# ----------------------------------------------------------------------------------------------
# lp pooling
# ----------------------------------------------------------------------------------------------

# (norm_type, kernel_size, stride, ceil_mode, low): inputs uniform in [low, 2); a non-integer or
# odd p needs positive inputs (x^p of a negative x, or a negative window sum, is NaN)
LP_2D = [
    (2, 3, None, False, -2.0),
    (2, (2, 3), (1, 2), True, -2.0),  # overlapping rows, windows cut by the right edge
    (3, (3, 2), 2, True, 0.5),
    (1.5, 2, (3, 1), False, 0.5),
    (1, (3, 4), (2, 3), True, -2.0),  # p = 1: plain sum pooling
    (4.0, 1, 1, False, -2.0),
    (math.inf, (2, 3), 2, True, -2.0),  # max of |x|
    (-math.inf, 3, (2, 1), False, -2.0),  # min of |x|
]


@pytest.mark.parametrize("p, k, s, ceil, low", LP_2D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (3, 8, 5)])
def test_lp_pool2d_matches_torch(p, k, s, ceil, low, shape):
    check_op(lambda x: lp_pool2d(x, p, k, s, ceil), lambda x: TF.lp_pool2d(x, p, k, s, ceil),
             [shape], low=low)


LP_1D = [
    (2, 3, None, False, -2.0),
    (2, 4, 3, True, -2.0),
    (3, 2, 1, False, 0.5),
    (2.5, (3,), (2,), True, 0.5),
    (1, 5, 2, False, -2.0),
    (math.inf, 3, 2, True, -2.0),
]


@pytest.mark.parametrize("p, k, s, ceil, low", LP_1D)
@pytest.mark.parametrize("shape", [(2, 3, 11), (4, 10)])
def test_lp_pool1d_matches_torch(p, k, s, ceil, low, shape):
    torch_k = k[0] if isinstance(k, tuple) else k  # torch's lp_pool1d multiplies by kernel_size
    check_op(lambda x: lp_pool1d(x, p, k, s, ceil),
             lambda x: TF.lp_pool1d(x, p, torch_k, s, ceil), [shape], low=low)


def _compare_with_nans(ours, theirs, g):
    """Forward and backward (upstream g) of a one-input op, NaN where torch has NaN."""
    a = tg.tensor(ours, requires_grad=True)
    b = torch.tensor(ours, requires_grad=True)
    ya, yb = theirs[0](a), theirs[1](b)
    (ya * tg.tensor(g(ya.shape))).sum().backward()
    (yb * torch.tensor(g(ya.shape))).sum().backward()
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-9)
    return ya, a.grad


def test_lp_pool_all_zero_windows_get_zero_gradient_like_torch_and_no_warning():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 9))
    x[:, :, :3, :3] = 0.0  # one all-zero window per plane (a ReLU before pooling makes these)
    x[0, 1, 3:, 6:] = 0.0
    for p in (2, 1, 3.0):
        xp = np.abs(x) if p == 3.0 else x
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the 1/p power's infinite slope at 0 stays hidden
            y, grad = _compare_with_nans(
                xp, (lambda t, p=p: lp_pool2d(t, p, 3), lambda t, p=p: TF.lp_pool2d(t, p, 3)),
                lambda s: np.random.default_rng(1).standard_normal(s))
        assert y.detach().numpy()[0, 0, 0, 0] == 0.0
        assert not np.any(grad.numpy()[:, :, :3, :3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compare_with_nans(x[:, :, 0], (lambda t: lp_pool1d(t, 2, 3), lambda t: TF.lp_pool1d(
            t, 2, 3)), lambda s: np.ones(s))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_lp_pool_negative_inputs_give_torchs_values_and_nans():
    x = np.random.default_rng(2).uniform(-2.0, 1.0, (2, 3, 6, 8))  # many negative window sums
    for p in (2, 3, 1, 1.5):
        y, _ = _compare_with_nans(
            x, (lambda t, p=p: lp_pool2d(t, p, 2), lambda t, p=p: TF.lp_pool2d(t, p, 2)),
            lambda s: np.random.default_rng(3).standard_normal(s))
        if p in (3, 1.5):
            assert np.isnan(y.detach().numpy()).any()  # as torch's


def test_lp_pool_second_order_gradients():
    x = tg.tensor(np.random.default_rng(4).uniform(0.5, 2.0, (2, 2, 5, 6)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: lp_pool2d(x, 3, (2, 3), 1, True), [x])
    assert tg.gradgradcheck(lambda x: lp_pool1d(x[:, :, 0], 2, 2, 1), [x])


def test_lp_pool_keeps_float32():
    x = tg.randn(2, 3, 6, 6, dtype=np.float32)
    assert lp_pool2d(x, 2, 3).dtype == np.float32
    assert lp_pool1d(x[0], 2, 3).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# max unpooling
# ----------------------------------------------------------------------------------------------

# (kernel_size, stride, padding, ceil_mode) of the max pooling that is undone
UNPOOL_2D = [
    (2, None, 0, False),
    ((2, 3), (3, 2), (1, 0), False),
    (3, 3, 1, True),
    ((3, 2), (2, 3), (1, 1), True),
]


def _unpool_inputs(ty, tidx, nd: int) -> dict:
    """check_op's inputs for unpooling ``ty`` at ``tidx``: random values where every index is
    distinct; where overlapping windows repeat an index, the pooled values themselves (one
    value per position, so the scatter is well defined) and no numerical gradient (moving one
    copy of a repeated value does not move the output: only one of them lands)."""
    flat = tidx.reshape(-1, math.prod(tidx.shape[-nd:])).numpy()  # one row per plane
    repeats = any(len(np.unique(row)) < len(row) for row in flat)
    if repeats:
        return dict(shapes=[], inputs=[ty.numpy()], gradcheck=False)
    return dict(shapes=[tuple(ty.shape)])


def _torch_pool(x, k, s, p, ceil, nd=2):
    pool = TF.max_pool2d if nd == 2 else TF.max_pool1d
    return pool(torch.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)


@pytest.mark.parametrize("k, s, p, ceil", UNPOOL_2D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (3, 8, 5)])
def test_max_unpool2d_round_trip_matches_torch(k, s, p, ceil, shape):
    """output_size = the pooled input's size: the indices are flat h W + w of that plane (the
    default size, (OH - 1) S + K - 2 P, can be smaller and then refuses them, as torch)."""
    x = np.random.default_rng(5).standard_normal(shape)
    y, idx = max_pool2d(tg.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    ty, tidx = _torch_pool(x, k, s, p, ceil)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    size = shape[-2:]
    out = max_unpool2d(y, idx, k, s, p, size)
    theirs = TF.max_unpool2d(ty, tidx, k, s, p, size)
    assert tuple(out.shape) == tuple(theirs.shape) == shape
    np.testing.assert_array_equal(out.numpy(), theirs.numpy())
    # the gradient (a gather of dy at the indices) vs torch and numerical differences
    check_op(lambda v: max_unpool2d(v, idx, k, s, p, size),
             lambda v: TF.max_unpool2d(v, tidx, k, s, p, size), **_unpool_inputs(ty, tidx, 2))


@pytest.mark.parametrize("k, s, p, fits", [
    (2, None, 0, True),  # H 9 -> 4 -> 8: the last row was never read, so every index fits
    ((2, 3), (3, 2), (1, 0), False),  # W 8 -> 3 -> 7: an index of the 8-wide plane is past it
    (3, 2, 1, False),
])
def test_max_unpool2d_default_output_size_matches_torch(k, s, p, fits):
    x = np.random.default_rng(16).standard_normal((2, 3, 9, 8))
    ty, tidx = _torch_pool(x, k, s, p, False)
    if not fits:  # torch: RuntimeError "Found an invalid max index"
        with pytest.raises(RuntimeError, match="invalid max index"):
            TF.max_unpool2d(ty, tidx, k, s, p)
        with pytest.raises(IndexError, match="max_unpool2d: found an invalid max index"):
            max_unpool2d(tg.tensor(ty.numpy()), tidx.numpy(), k, s, p)
        return
    check_op(lambda v: max_unpool2d(v, tidx.numpy(), k, s, p),
             lambda v: TF.max_unpool2d(v, tidx, k, s, p), [], inputs=[ty.numpy()])


def test_max_unpool2d_overlapping_windows_match_torch():
    """stride < kernel: two windows may name the same position (with the same max value);
    both get the gradient there, as in torch."""
    x = np.random.default_rng(6).standard_normal((2, 3, 8, 7))
    ty, tidx = _torch_pool(x, 3, 1, 1, False)
    check_op(lambda v: max_unpool2d(v, tidx.numpy(), 3, 1, 1),
             lambda v: TF.max_unpool2d(v, tidx, 3, 1, 1), [], inputs=[ty.numpy()],
             gradcheck=False)


@pytest.mark.parametrize("output_size", [(8, 10), [2, 3, 8, 10], (7, 9), (9, 11)])
def test_max_unpool2d_explicit_output_size(output_size):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 9))
    ty, tidx = _torch_pool(x, 2, None, 0, True)  # (2, 3, 4, 5): the default size is (8, 10)
    theirs = TF.max_unpool2d(ty, tidx, 2, output_size=output_size)
    check_op(lambda v: max_unpool2d(v, tidx.numpy(), 2, output_size=output_size),
             lambda v: TF.max_unpool2d(v, tidx, 2, output_size=output_size), [],
             inputs=[ty.numpy()])
    layer = MaxUnpool2d(2)(tg.tensor(ty.numpy()), tg.tensor(tidx.numpy()), output_size)
    assert tuple(layer.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(layer.numpy(), theirs.numpy())


UNPOOL_1D = [(2, None, 0, False), (3, 2, 1, True), (4, 3, 2, False)]


@pytest.mark.parametrize("k, s, p, ceil", UNPOOL_1D)
@pytest.mark.parametrize("shape", [(2, 3, 11), (4, 10)])
def test_max_unpool1d_round_trip_matches_torch(k, s, p, ceil, shape):
    x = np.random.default_rng(8).standard_normal(shape)
    y, idx = max_pool1d(tg.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    ty, tidx = _torch_pool(x, k, s, p, ceil, nd=1)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    size = [shape[-1]]  # the pooled length (see the 2-d round trip)
    np.testing.assert_array_equal(max_unpool1d(y, idx, k, s, p, size).numpy(),
                                  TF.max_unpool1d(ty, tidx, k, s, p, size).numpy())
    check_op(lambda v: max_unpool1d(v, idx, k, s, p, size),
             lambda v: TF.max_unpool1d(v, tidx, k, s, p, size), **_unpool_inputs(ty, tidx, 1))


def test_max_unpool_second_order_and_float32():
    x = np.random.default_rng(9).standard_normal((2, 2, 6, 5))
    _, tidx = _torch_pool(x, 2, None, 0, False)
    v = tg.tensor(np.random.default_rng(10).standard_normal(tuple(tidx.shape)),
                  requires_grad=True)
    idx = tg.tensor(tidx.numpy())
    assert tg.gradgradcheck(lambda v: max_unpool2d(v * v, idx, 2, output_size=(7, 5)), [v])
    assert max_unpool2d(v.float(), idx, 2, output_size=(6, 5)).dtype == np.float32


def test_max_unpool_empty_batch():
    out = max_unpool2d(tg.zeros(0, 3, 2, 2), tg.zeros(0, 3, 2, 2).long(), 2)
    assert out.shape == TF.max_unpool2d(torch.zeros(0, 3, 2, 2), torch.zeros(
        0, 3, 2, 2, dtype=torch.int64), 2).shape == (0, 3, 4, 4)


# ----------------------------------------------------------------------------------------------
# local response normalization
# ----------------------------------------------------------------------------------------------

LRN = [
    ((2, 5, 7), 3, 1e-4, 0.75, 1.0),
    ((2, 5, 7), 2, 0.5, 0.75, 1.0),  # even size: one more channel before than after
    ((2, 6, 4, 5), 5, 0.3, 0.5, 2.0),
    ((2, 3, 4, 5), 1, 1.0, 1.0, 1.0),
    ((2, 3, 4, 5), 8, 2.0, 0.75, 0.5),  # size > C: every channel sums over all of them
    ((2, 4, 3, 2, 3), 3, 1.0, 0.6, 1.5),  # 5-d
    ((3, 4, 1), 4, 0.1, 2.0, 1.0),
]


@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN)
def test_local_response_norm_matches_torch(shape, size, alpha, beta, k):
    check_op(lambda x: local_response_norm(x, size, alpha, beta, k),
             lambda x: TF.local_response_norm(x, size, alpha, beta, k), [shape])


def test_local_response_norm_second_order_empty_and_float32():
    x = tg.tensor(np.random.default_rng(11).standard_normal((2, 4, 3, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: local_response_norm(x, 3, 0.5, 0.75, 1.0), [x])
    empty = tg.zeros(0, 3, 4)
    assert local_response_norm(empty, 2) is empty  # torch returns the input itself too
    assert local_response_norm(tg.randn(2, 3, 4, dtype=np.float32), 2).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# max_pool{1,2}d_with_indices
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool_with_indices_aliases_match_torch(return_indices):
    x = np.random.default_rng(12).standard_normal((2, 3, 7, 9))
    y, idx = max_pool2d_with_indices(tg.tensor(x), 3, 2, 1, 1, True, return_indices)
    ty, tidx = TF.max_pool2d_with_indices(torch.tensor(x), 3, 2, 1, 1, True, return_indices)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    y, idx = max_pool1d_with_indices(tg.tensor(x[0]), 2, return_indices=return_indices)
    ty, tidx = TF.max_pool1d_with_indices(torch.tensor(x[0]), 2, return_indices=return_indices)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


# ----------------------------------------------------------------------------------------------
# Bad input: errors that name the op, what it expected and what it got
# ----------------------------------------------------------------------------------------------

X = np.random.default_rng(13).standard_normal((2, 3, 4, 6))
IDX = tg.tensor(_torch_pool(X, 2, None, 0, False)[1].numpy())  # (2, 3, 2, 3)
Y = tg.tensor(X[:, :, :2, :3])


@pytest.mark.parametrize("call, error, message", [
    (lambda x: lp_pool2d(x[0, 0], 2, 2), ValueError,
     r"lp_pool2d: expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got shape \(4, 6\)"),
    (lambda x: lp_pool2d(x.long(), 2, 2), TypeError,
     r"lp_pool2d: expected a floating-point input, got dtype int64 \(x: \(2, 3, 4, 6\)\)"),
    (lambda x: lp_pool2d(x, 0, 2), ValueError, r"lp_pool2d: norm_type must be nonzero"),
    (lambda x: lp_pool2d(x, "2", 2), TypeError, r"lp_pool2d: norm_type must be a number"),
    (lambda x: lp_pool2d(x, 2, (5, 2)), ValueError,
     r"lp_pool2d: kernel_size \(5, 2\) with stride \(5, 2\) gives output size \(0, 3\) for "
     r"input of size \(4, 6\)"),
    (lambda x: lp_pool2d(x, 2, (2, 2, 2)), ValueError,
     r"lp_pool2d: kernel_size must be an int or a pair of ints, got \(2, 2, 2\)"),
    (lambda x: lp_pool2d(x, 2, 0), ValueError, r"lp_pool2d: kernel_size must be >= 1"),
    (lambda x: lp_pool2d(x, 2, 2, 0), ValueError, r"lp_pool2d: stride should not be zero"),
    (lambda x: lp_pool1d(x, 2, 2), ValueError,
     r"lp_pool1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) input, got shape \(2, 3, 4, 6\)"),
    (lambda x: lp_pool1d(x[0], 2, 7), ValueError, r"lp_pool1d: kernel_size 7 .* length 6"),
    (lambda x: lp_pool1d(x[0].long(), 2, 2), TypeError,
     r"lp_pool1d: expected a floating-point input, got dtype int64"),
    (lambda x: max_unpool2d(Y[0, 0], IDX[0, 0], 2), ValueError,
     r"max_unpool2d: expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got shape "
     r"\(2, 3\)"),
    (lambda x: max_unpool2d(Y, IDX[:, :, :1], 2), ValueError,
     r"max_unpool2d: expected indices of the input's shape \(2, 3, 2, 3\), got indices of "
     r"shape \(2, 3, 1, 3\)"),
    (lambda x: max_unpool2d(Y, IDX.double(), 2), TypeError,
     r"max_unpool2d: indices must be an integer \(int64\) tensor, .* got dtype float64"),
    (lambda x: max_unpool2d(Y, IDX, 2, output_size=(2, 6)), ValueError,
     r"max_unpool2d: invalid output_size \(2, 6\) \(dim 0 must be strictly between 2 and 6"),
    (lambda x: max_unpool2d(Y, IDX, 2, output_size=(4, 9)), ValueError,
     r"max_unpool2d: invalid output_size \(4, 9\) \(dim 1 must be strictly between 4 and 8"),
    (lambda x: max_unpool2d(Y, IDX, 2, output_size=(1, 4, 6)), ValueError,
     r"max_unpool2d: output_size should be a sequence containing 2 or 4 elements, but it has "
     r"a length of 3"),
    (lambda x: max_unpool2d(Y, IDX, 2, output_size=5), ValueError,
     r"max_unpool2d: output_size must be a sequence of ints, got 5"),
    (lambda x: max_unpool2d(Y, IDX, 2, output_size=(3, 5)), IndexError,
     r"max_unpool2d: found an invalid max index \d+ \(output planes are of size 3x5, so indices "
     r"must be in \[0, 15\)\)"),
    (lambda x: max_unpool2d(Y, IDX - 1, 2), IndexError,
     r"max_unpool2d: found an invalid max index -1"),
    (lambda x: max_unpool2d(Y.numpy(), IDX, 2), TypeError,
     r"max_unpool2d: expected a Tensor input, got ndarray"),
    (lambda x: max_unpool1d(Y, IDX, 2), ValueError,
     r"max_unpool1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) input, got shape "
     r"\(2, 3, 2, 3\)"),
    (lambda x: max_unpool1d(Y[0], IDX[0], (2, 2)), ValueError,
     r"max_unpool1d: kernel_size must be an int or a 1-tuple of an int, got \(2, 2\)"),
    (lambda x: local_response_norm(x[0, 0], 2), ValueError,
     r"local_response_norm: expected a 3-d or higher \(N, C, \*\) input, got shape \(4, 6\)"),
    (lambda x: local_response_norm(x, 0), ValueError,
     r"local_response_norm: size must be a positive int .* got 0"),
    (lambda x: local_response_norm(x.long(), 2), TypeError,
     r"local_response_norm: expected a floating-point input, got dtype int64"),
])
def test_bad_input_gives_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.tensor(X))


# ----------------------------------------------------------------------------------------------
# Layers: reprs and forwards equal to torch's
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs, shape", [
    (LPPool2d(2, 3), torch.nn.LPPool2d(2, 3), (2, 3, 7, 9)),
    (LPPool2d(1.5, (2, 3), 2, True), torch.nn.LPPool2d(1.5, (2, 3), 2, True), (2, 3, 7, 9)),
    (LPPool1d(2, 3), torch.nn.LPPool1d(2, 3), (2, 3, 10)),
    (LPPool1d(3.0, 4, stride=3, ceil_mode=True), torch.nn.LPPool1d(3.0, 4, 3, True), (3, 10)),
    (LocalResponseNorm(3), torch.nn.LocalResponseNorm(3), (2, 5, 4, 3)),
    (LocalResponseNorm(2, 1e-3, 0.5, 2), torch.nn.LocalResponseNorm(2, 1e-3, 0.5, 2), (2, 5, 7)),
])
def test_layers_match_torch(ours, theirs, shape):
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and len(ours.state_dict()) == 0
    x = np.random.default_rng(14).uniform(0.1, 2.0, shape).astype(np.float32)
    assert_close(ours(tg.tensor(x)), theirs(torch.tensor(x)), np.float32)


@pytest.mark.parametrize("args", [(2,), ((2, 3), (3, 2)), (3, 2, 1), ((3,), None, (1,))])
def test_max_unpool_layers_match_torch(args):
    assert repr(MaxUnpool2d(*args)) == repr(torch.nn.MaxUnpool2d(*args))
    assert repr(MaxUnpool1d(*args[:1])) == repr(torch.nn.MaxUnpool1d(*args[:1]))
    assert repr(MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    x = np.random.default_rng(15).standard_normal((2, 3, 11))
    ty, tidx = _torch_pool(x, 3, 2, 1, False, nd=1)
    ours = MaxUnpool1d(3, 2, 1)(tg.tensor(ty.numpy()), tg.tensor(tidx.numpy()))
    np.testing.assert_array_equal(ours.numpy(),
                                  torch.nn.MaxUnpool1d(3, 2, 1)(ty, tidx).numpy())
    assert repr(MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))
