"""adaptive_max_pool1d/2d and nn.AdaptiveMaxPool1d/2d against torch 2.13: forward, indices,
backward with a random upstream gradient (float32 and float64), float64 numerical gradients,
second order, ties and NaN, bad input, reprs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.pool import adaptive_max_pool1d, adaptive_max_pool2d
from tinygrad_edu.nn.pooling import AdaptiveMaxPool1d, AdaptiveMaxPool2d

# ----------------------------------------------------------------------------------------------
# 2-d: values, indices and gradients vs torch
# ----------------------------------------------------------------------------------------------

SHAPES_2D = [
    ((2, 3, 7, 5), (3, 2)),  # windows of different sizes, overlapping
    ((2, 3, 7, 5), (9, 8)),  # output larger than input: every input in several windows
    ((2, 3, 7, 5), (4, None)),  # None keeps W
    ((2, 3, 7, 5), (None, 3)),  # None keeps H
    ((2, 3, 7, 5), 1),  # global max pooling
    ((3, 6, 4), (5, 3)),  # unbatched (C, H, W)
    ((1, 2, 1, 1), (2, 3)),  # a single pixel copied into every output
]


@pytest.mark.parametrize("shape, size", SHAPES_2D)
def test_adaptive_max_pool2d_matches_torch(shape, size):
    check_op(lambda x: adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size),
             [shape])


@pytest.mark.parametrize("shape, size", SHAPES_2D)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_max_pool2d_indices_match_torch(shape, size, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    y, idx = adaptive_max_pool2d(tg.tensor(x), size, return_indices=True)
    ty, tidx = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    assert y.dtype == dtype and idx.dtype == np.int64
    assert tuple(idx.shape) == tuple(tidx.shape) == tuple(y.shape)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    assert not idx.requires_grad


def test_overlapping_windows_add_their_gradients():
    x = tg.tensor([[[[1.0, 9.0, 2.0]]]], requires_grad=True)  # (1, 1, 1, 3)
    y = adaptive_max_pool2d(x, (1, 5))  # bins [0,1) [0,2) [1,2) [1,3) [2,3)
    assert y.tolist() == [[[[1.0, 9.0, 9.0, 9.0, 2.0]]]]
    y.sum().backward()
    assert x.grad.tolist() == [[[[1.0, 3.0, 1.0]]]]


def test_ties_take_the_first_max_in_row_major_order_like_torch():
    x = np.array([[[[1.0, 3.0, 3.0, 2.0, 3.0],
                    [3.0, 0.0, 0.0, 3.0, 3.0],
                    [3.0, 3.0, 3.0, 3.0, 3.0]]]])  # (1, 1, 3, 5)
    for size in [(1, 1), (1, 2), (2, 2), (3, 4), (5, 7)]:
        xt = tg.tensor(x, requires_grad=True)
        th = torch.tensor(x, requires_grad=True)
        y, idx = adaptive_max_pool2d(xt, size, return_indices=True)
        ty, tidx = TF.adaptive_max_pool2d(th, size, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(xt.grad.numpy(), th.grad.numpy())


def test_nan_wins_and_the_last_nan_takes_the_gradient_like_torch():
    nan = np.nan
    x = np.array([[[[1.0, nan, 2.0, nan, 0.0],
                    [nan, 5.0, 5.0, 1.0, 1.0],
                    [0.0, 1.0, 2.0, 3.0, -np.inf]]]])  # (1, 1, 3, 5)
    for size in [(1, 1), (1, 2), (2, 3), (3, 5), (4, 6)]:
        xt = tg.tensor(x, requires_grad=True)
        th = torch.tensor(x, requires_grad=True)
        y, idx = adaptive_max_pool2d(xt, size, return_indices=True)
        ty, tidx = TF.adaptive_max_pool2d(th, size, return_indices=True)
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())  # NaN == NaN
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(xt.grad.numpy(), th.grad.numpy())


def test_non_contiguous_input_and_empty_batch():
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 6))
    xt = tg.tensor(x).transpose(2, 3)  # (2, 3, 6, 5), not C-contiguous
    ty = TF.adaptive_max_pool2d(torch.tensor(x).transpose(2, 3), (4, 2))
    np.testing.assert_array_equal(adaptive_max_pool2d(xt, (4, 2)).numpy(), ty.numpy())
    assert adaptive_max_pool2d(tg.zeros(0, 3, 5, 6), (2, 4)).shape == (0, 3, 2, 4)


def test_second_order_gradients():
    x = tg.tensor(np.random.default_rng(3).standard_normal((2, 2, 5, 4)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: adaptive_max_pool2d(x * x, (3, 6)), [x])
    assert tg.gradgradcheck(lambda x: adaptive_max_pool1d((x * x)[:, :, 0], 3), [x])


# ----------------------------------------------------------------------------------------------
# 1-d: the 2-d op on a height of 1
# ----------------------------------------------------------------------------------------------

SHAPES_1D = [((2, 3, 9), 4), ((2, 3, 9), 13), ((3, 7), 3), ((2, 3, 9), (5,)), ((2, 1, 1), 3)]


@pytest.mark.parametrize("shape, size", SHAPES_1D)
def test_adaptive_max_pool1d_matches_torch(shape, size):
    check_op(lambda x: adaptive_max_pool1d(x, size), lambda x: TF.adaptive_max_pool1d(x, size),
             [shape])
    x = np.random.default_rng(4).standard_normal(shape)
    y, idx = adaptive_max_pool1d(tg.tensor(x), size, return_indices=True)
    ty, tidx = TF.adaptive_max_pool1d(torch.tensor(x), size, return_indices=True)
    assert idx.dtype == np.int64 and tuple(idx.shape) == tuple(tidx.shape)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


# ----------------------------------------------------------------------------------------------
# Bad input: errors that name the op, what it expected and what it got
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda x: adaptive_max_pool2d(x[0, 0], 2), ValueError,
     r"adaptive_max_pool2d: expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got shape "
     r"\(5, 7\)"),
    (lambda x: adaptive_max_pool2d(x.reshape(1, 2, 3, 5, 7), 2), ValueError,
     r"adaptive_max_pool2d: expected a 3-d .* got shape \(1, 2, 3, 5, 7\)"),
    (lambda x: adaptive_max_pool2d(x, 0), ValueError,
     r"adaptive_max_pool2d: output_size must be >= 1, got 0"),
    (lambda x: adaptive_max_pool2d(x, (2, -1)), ValueError,
     r"adaptive_max_pool2d: output_size must be >= 1, got \(2, -1\)"),
    (lambda x: adaptive_max_pool2d(x, 2.5), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a pair .* got 2.5"),
    (lambda x: adaptive_max_pool2d(x, (2, 3, 4)), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a pair .* got \(2, 3, 4\)"),
    (lambda x: adaptive_max_pool2d(x, None), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a pair .* got None"),
    (lambda x: adaptive_max_pool2d(x, (True, 2)), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a pair"),
    (lambda x: adaptive_max_pool2d(x.numpy(), 2), TypeError,
     r"adaptive_max_pool2d: expected a Tensor input, got ndarray"),
    (lambda x: adaptive_max_pool2d(x.long(), 2), TypeError,
     r"adaptive_max_pool2d: expected a floating-point input, got dtype int64 "
     r"\(x: \(2, 3, 5, 7\)\)"),
    (lambda x: adaptive_max_pool2d(x[:, :, :0], 2), ValueError,
     r"adaptive_max_pool2d: expected a non-empty input apart from the batch dim, got shape "
     r"\(2, 3, 0, 7\)"),
    (lambda x: adaptive_max_pool1d(x, 2), ValueError,
     r"adaptive_max_pool1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) input, got shape "
     r"\(2, 3, 5, 7\)"),
    (lambda x: adaptive_max_pool1d(x[0], 0), ValueError,
     r"adaptive_max_pool1d: output_size must be >= 1, got 0"),
    (lambda x: adaptive_max_pool1d(x[0], (2, 3)), ValueError,
     r"adaptive_max_pool1d: output_size must be an int or a 1-tuple of an int, got \(2, 3\)"),
    (lambda x: adaptive_max_pool1d(x[0].long(), 2), TypeError,
     r"adaptive_max_pool1d: expected a floating-point input, got dtype int64"),
    (lambda x: adaptive_max_pool1d(x[0, 0][:, :0], 2), ValueError,
     r"adaptive_max_pool1d: expected a non-empty input .* got shape \(5, 0\)"),
])
def test_bad_input_gives_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.randn(2, 3, 5, 7))


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(3, 2), 3, (None, 2)])
def test_adaptive_max_pool2d_layer(size):
    layer, theirs = AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size)
    assert repr(layer) == repr(theirs)
    assert repr(AdaptiveMaxPool2d(size, return_indices=True)) == repr(theirs)
    assert list(layer.parameters()) == [] and len(layer.state_dict()) == 0
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    y, idx = AdaptiveMaxPool2d(size, return_indices=True)(tg.tensor(x))
    ty, tidx = torch.nn.AdaptiveMaxPool2d(size, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_adaptive_max_pool1d_layer():
    layer, theirs = AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4)
    assert repr(layer) == repr(theirs) == "AdaptiveMaxPool1d(output_size=4)"
    assert list(layer.parameters()) == [] and len(layer.state_dict()) == 0
    x = np.random.default_rng(6).standard_normal((2, 3, 9))
    np.testing.assert_array_equal(layer(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    y, idx = AdaptiveMaxPool1d(4, return_indices=True)(tg.tensor(x))
    ty, tidx = torch.nn.AdaptiveMaxPool1d(4, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert repr(AdaptiveMaxPool2d((3, 2))) == "AdaptiveMaxPool2d(output_size=(3, 2))"
