"""pixel_shuffle / pixel_unshuffle and nn.PixelShuffle / nn.PixelUnshuffle against torch:
batch dims (none, one, two), factors 1 to 3, odd non-square images, forward and backward in
float32 and float64, float64 numerical gradients, the round trip, errors and reprs."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.resample import pixel_shuffle, pixel_unshuffle
from tinygrad_edu.nn.upsampling import PixelShuffle, PixelUnshuffle

SHUFFLE = [  # (input shape, upscale factor)
    ((2, 12, 3, 5), 2),
    ((1, 18, 2, 3), 3),
    ((8, 1, 3), 2),  # no batch dim: (C r^2, H, W)
    ((2, 3, 8, 2, 3), 2),  # two batch dims
    ((2, 5, 3, 4), 1),
]

UNSHUFFLE = [  # (input shape, downscale factor)
    ((2, 3, 6, 10), 2),
    ((1, 2, 9, 3), 3),
    ((3, 4, 6), 2),
    ((2, 3, 2, 4, 6), 2),
    ((2, 5, 3, 4), 1),
]


@pytest.mark.parametrize("shape, r", SHUFFLE)
def test_pixel_shuffle_matches_torch(shape, r):
    check_op(lambda x: pixel_shuffle(x, r),
             lambda x: torch.nn.functional.pixel_shuffle(x, r), [shape])


@pytest.mark.parametrize("shape, r", UNSHUFFLE)
def test_pixel_unshuffle_matches_torch(shape, r):
    check_op(lambda x: pixel_unshuffle(x, r),
             lambda x: torch.nn.functional.pixel_unshuffle(x, r), [shape])


def test_layers_round_trip_and_reprs():
    shuffle, unshuffle = PixelShuffle(3), PixelUnshuffle(3)
    assert repr(shuffle) == "PixelShuffle(upscale_factor=3)" == repr(torch.nn.PixelShuffle(3))
    assert repr(unshuffle) == "PixelUnshuffle(downscale_factor=3)" \
        == repr(torch.nn.PixelUnshuffle(3))
    x = np.random.default_rng(0).standard_normal((2, 18, 3, 5))
    y = shuffle(tg.tensor(x))
    assert tuple(y.shape) == (2, 2, 9, 15)
    np.testing.assert_array_equal(y.numpy(), torch.nn.PixelShuffle(3)(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(unshuffle(y).numpy(), x)
    check_op(lambda t: unshuffle(shuffle(t) * 2), lambda t: torch.nn.PixelUnshuffle(3)(
        torch.nn.PixelShuffle(3)(t) * 2), [(1, 9, 2, 3)])


def test_pixel_shuffle_layout():
    """y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]"""
    r, C, H, W = 2, 3, 2, 3
    x = np.arange(C * r * r * H * W, dtype=np.float64).reshape(1, C * r * r, H, W)
    y = pixel_shuffle(tg.tensor(x), r).numpy()
    for c in range(C):
        for i in range(r):
            for j in range(r):
                np.testing.assert_array_equal(y[0, c, i::r, j::r], x[0, c * r * r + i * r + j])


def test_on_device(device):
    check_op(lambda x: pixel_shuffle(x, 2), lambda x: torch.nn.functional.pixel_shuffle(x, 2),
             [(2, 8, 3, 5)], device=device, gradcheck=False)
    check_op(lambda x: pixel_unshuffle(x, 2),
             lambda x: torch.nn.functional.pixel_unshuffle(x, 2), [(2, 3, 4, 6)],
             device=device, gradcheck=False)


@pytest.mark.parametrize("fn, shape, r, error, message", [
    (pixel_shuffle, (1, 7, 3, 3), 2, ValueError,
     r"pixel_shuffle: the channel dim \(size 7\) must be divisible by upscale_factor\*\*2 = 4 "
     r"\(upscale_factor=2\), got input shape \(1, 7, 3, 3\)"),
    (pixel_shuffle, (4, 4), 2, ValueError,
     r"pixel_shuffle: expected an input with at least 3 dims .*got shape \(4, 4\)"),
    (pixel_shuffle, (1, 4, 3, 3), 0, ValueError,
     "pixel_shuffle: upscale_factor must be a positive int, got 0"),
    (pixel_shuffle, (1, 4, 3, 3), 2.0, ValueError,
     "pixel_shuffle: upscale_factor must be a positive int, got 2.0"),
    (pixel_unshuffle, (1, 2, 5, 4), 2, ValueError,
     r"pixel_unshuffle: the height \(size 5\) must be divisible by downscale_factor=2, got "
     r"input shape \(1, 2, 5, 4\)"),
    (pixel_unshuffle, (1, 2, 6, 7), 3, ValueError,
     r"pixel_unshuffle: the width \(size 7\) must be divisible by downscale_factor=3"),
    (pixel_unshuffle, (6,), 2, ValueError, "pixel_unshuffle: expected an input with at least 3"),
    (pixel_unshuffle, (1, 2, 6, 6), -1, ValueError,
     "pixel_unshuffle: downscale_factor must be a positive int, got -1"),
])
def test_bad_input(fn, shape, r, error, message):
    with pytest.raises(error, match=message):
        fn(tg.zeros(*shape), r)


def test_layer_errors_name_the_op():
    with pytest.raises(ValueError, match="pixel_shuffle: the channel dim"):
        PixelShuffle(2)(tg.zeros(1, 6, 2, 2))
    with pytest.raises(TypeError, match="pixel_unshuffle: expected a Tensor input"):
        PixelUnshuffle(2)(np.zeros((1, 1, 4, 4)))
