"""interpolate / nn.Upsample against torch: every mode, sizes and scale factors (up, down,
fractional, per axis), align_corners, forward, backward and float64 numerical gradients."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn.functional import interpolate

SIZES = [  # (input shape, mode, the size/scale arguments)
    ((2, 3, 5), "nearest", {"size": 9}),
    ((2, 3, 5), "nearest", {"scale_factor": 0.6}),
    ((2, 3, 5), "nearest-exact", {"scale_factor": 1.7}),
    ((2, 3, 5), "linear", {"size": 11}),
    ((2, 3, 5), "linear", {"scale_factor": 0.5}),
    ((2, 2, 5, 7), "nearest", {"scale_factor": 2}),
    ((2, 2, 5, 7), "nearest", {"size": (3, 10)}),
    ((2, 2, 5, 7), "nearest-exact", {"scale_factor": (2.5, 0.75)}),
    ((2, 2, 5, 7), "bilinear", {"scale_factor": 2}),
    ((2, 2, 5, 7), "bilinear", {"size": (8, 4)}),
    ((2, 2, 5, 7), "bilinear", {"scale_factor": 1.7, "recompute_scale_factor": True}),
    ((1, 2, 3, 4, 5), "trilinear", {"scale_factor": (2, 1.5, 0.8)}),
    ((1, 2, 3, 4, 5), "nearest", {"size": (4, 4, 4)}),
]


# align_corners belongs to the interpolating modes only
CASES = [(shape, mode, sizes, corners) for shape, mode, sizes in SIZES
         for corners in ((None,) if mode.startswith("nearest") else (False, True))]


@pytest.mark.parametrize("shape, mode, sizes, align_corners", CASES)
def test_interpolate_matches_torch(shape, mode, sizes, align_corners):
    check_op(lambda x: interpolate(x, mode=mode, align_corners=align_corners, **sizes),
             lambda x: torch.nn.functional.interpolate(x, mode=mode,
                                                       align_corners=align_corners, **sizes),
             [shape])


def test_upsample_module_and_second_derivative():
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    check_op(lambda t: up(t) ** 2, lambda t: torch.nn.Upsample(
        scale_factor=2, mode="bilinear")(t) ** 2, [(1, 1, 3, 3)], inputs=[x])
    X = tg.tensor(x, requires_grad=True)
    (g,) = tg.grad((up(X) ** 3).sum(), X, create_graph=True)
    T = torch.tensor(x, requires_grad=True)
    (tg_t,) = torch.autograd.grad((torch.nn.Upsample(scale_factor=2, mode="bilinear")(T) ** 3)
                                  .sum(), T, create_graph=True)
    (h,) = tg.grad(g.sum(), X)
    (th,) = torch.autograd.grad(tg_t.sum(), T)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give exactly one of size and scale_factor"),
    ({"size": 4, "scale_factor": 2}, "give exactly one of size and scale_factor"),
    ({"size": (4, 4, 4)}, "size must have 2 entries"),
    ({"size": 0}, "size must be positive"),
    ({"scale_factor": 0.1}, "makes an empty output"),
    ({"size": 4, "mode": "linear"}, "mode 'linear' takes a 3-d input"),
    ({"size": 4, "mode": "lanczos"}, "mode 'lanczos' is not implemented"),
    ({"size": 4, "align_corners": True}, "align_corners option can only be set with"),
])
def test_interpolate_bad_arguments(kwargs, message):
    x = tg.zeros(1, 1, 3, 3)
    with pytest.raises((ValueError, NotImplementedError), match=message):
        interpolate(x, **kwargs)
    with pytest.raises(ValueError, match="expected a 3-d, 4-d or 5-d input"):
        interpolate(tg.zeros(3, 3), size=2)
