"""interpolate(mode="bicubic" | "area") and nn.Upsample with them, against torch: odd non-square
shapes, up and down, sizes and scale factors (per axis, recomputed), align_corners both ways,
forward and backward in float32 and float64, float64 numerical gradients, second derivatives,
bad arguments."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.resample import interpolate
from tinygrad_edu.nn.upsampling import Upsample

BICUBIC = [  # (input shape, the size/scale arguments)
    ((2, 3, 5, 7), {"size": (9, 11)}),  # up
    ((2, 3, 5, 7), {"size": (3, 4)}),  # down
    ((2, 3, 5, 7), {"size": (8, 3)}),  # up along H, down along W
    ((1, 2, 5, 7), {"size": (1, 6)}),  # one output row (align_corners: scale 0)
    ((1, 2, 1, 4), {"size": (3, 9)}),  # one input row: every tap clamps to it
    ((1, 2, 2, 3), {"size": (7, 5)}),  # tiny input: the taps clamp at both borders
    ((2, 2, 5, 7), {"scale_factor": 2}),
    ((2, 2, 5, 7), {"scale_factor": 0.5}),
    ((2, 2, 5, 7), {"scale_factor": (1.7, 0.6)}),  # 1 / scale_factor is not n_in / n_out
    ((2, 2, 5, 7), {"scale_factor": (1.7, 2.3), "recompute_scale_factor": True}),
    ((1, 1, 6, 4), {"scale_factor": 3}),
]

AREA = [  # (input shape, the size/scale arguments)
    ((2, 3, 7), {"size": 3}),
    ((2, 3, 7), {"size": 10}),  # "area" upsampling: overlapping bins
    ((2, 3, 7), {"scale_factor": 0.5}),
    ((2, 3, 7), {"scale_factor": 1.6}),
    ((2, 3, 7, 9), {"size": (3, 4)}),
    ((2, 3, 7, 9), {"size": (5, 12)}),
    ((2, 3, 7, 9), {"size": 7}),
    ((2, 3, 7, 9), {"scale_factor": 0.5}),
    ((2, 3, 7, 9), {"scale_factor": (0.7, 1.3)}),
    ((2, 3, 7, 9), {"scale_factor": 0.45, "recompute_scale_factor": True}),
    ((1, 2, 5, 6, 7), {"size": (2, 3, 4)}),
    ((1, 2, 5, 6, 7), {"scale_factor": (0.5, 1.5, 0.6)}),
]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape, sizes", BICUBIC)
def test_bicubic_matches_torch(shape, sizes, align_corners):
    check_op(lambda x: interpolate(x, mode="bicubic", align_corners=align_corners, **sizes),
             lambda x: torch.nn.functional.interpolate(x, mode="bicubic",
                                                       align_corners=align_corners, **sizes),
             [shape])


@pytest.mark.parametrize("shape, sizes", AREA)
def test_area_matches_torch(shape, sizes):
    check_op(lambda x: interpolate(x, mode="area", **sizes),
             lambda x: torch.nn.functional.interpolate(x, mode="area", **sizes), [shape])


def test_bicubic_default_align_corners_is_false():
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 5))
    y = interpolate(tg.tensor(x), size=(7, 3), mode="bicubic")
    expected = torch.nn.functional.interpolate(torch.tensor(x), size=(7, 3), mode="bicubic")
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_bicubic_keeps_constants_and_same_size(align_corners):
    """The four weights sum to 1 (the clamped taps included), and a same-size resize is the
    identity (t = 0: the weights are 0, 1, 0, 0)."""
    ones = tg.ones(1, 1, 3, 5, dtype=tg.float64)
    y = interpolate(ones, size=(8, 2), mode="bicubic", align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), 1.0, rtol=0, atol=1e-14)
    x = np.random.default_rng(2).standard_normal((2, 1, 3, 5))
    same = interpolate(tg.tensor(x), size=(3, 5), mode="bicubic", align_corners=align_corners)
    np.testing.assert_allclose(same.numpy(), x, rtol=0, atol=1e-14)


def test_area_is_the_mean_of_each_bin():
    x = np.arange(12.0).reshape(1, 1, 2, 6)
    y = interpolate(tg.tensor(x), scale_factor=(0.5, 0.5), mode="area")  # (1, 1, 1, 3)
    np.testing.assert_allclose(y.numpy(), x.reshape(2, 3, 2).mean(axis=(0, 2))[None, None, None])


@pytest.mark.parametrize("mode, shape, kwargs", [
    ("bicubic", (1, 2, 3, 4), {"scale_factor": 1.5, "align_corners": True}),
    ("bicubic", (1, 2, 3, 4), {"size": (2, 6)}),
    ("area", (1, 2, 5, 4), {"size": (3, 3)}),
    ("area", (1, 2, 5), {"size": 3}),
])
def test_second_derivative_matches_torch(mode, shape, kwargs):
    x = np.random.default_rng(3).standard_normal(shape)
    X = tg.tensor(x, requires_grad=True)
    (g,) = tg.grad((interpolate(X, mode=mode, **kwargs) ** 3).sum(), X, create_graph=True)
    (h,) = tg.grad((g * g).sum(), X)
    T = torch.tensor(x, requires_grad=True)
    (tg_t,) = torch.autograd.grad((torch.nn.functional.interpolate(T, mode=mode, **kwargs) ** 3)
                                  .sum(), T, create_graph=True)
    (th,) = torch.autograd.grad((tg_t * tg_t).sum(), T)
    np.testing.assert_allclose(g.detach().numpy(), tg_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, torch_kwargs, text", [
    ({"size": (4, 9), "mode": "bicubic"}, None, "Upsample(size=(4, 9), mode='bicubic')"),
    ({"scale_factor": 2, "mode": "bicubic", "align_corners": True}, None,
     "Upsample(scale_factor=2.0, mode='bicubic')"),
    ({"scale_factor": 0.5, "mode": "area"}, None, "Upsample(scale_factor=0.5, mode='area')"),
    ({"size": 3, "mode": "area"}, None, "Upsample(size=3, mode='area')"),
])
def test_upsample_module(kwargs, torch_kwargs, text):
    up = Upsample(**kwargs)
    assert repr(up) == text
    assert repr(up) == repr(torch.nn.Upsample(**kwargs))
    check_op(lambda t: up(t), lambda t: torch.nn.Upsample(**kwargs)(t), [(2, 2, 5, 7)],
             gradcheck=False)


def test_on_device(device):
    """bicubic and area on the CPU, and through CuPy on the GPU when one is present."""
    check_op(lambda x: interpolate(x, size=(4, 9), mode="bicubic", align_corners=False),
             lambda x: torch.nn.functional.interpolate(x, size=(4, 9), mode="bicubic"),
             [(2, 3, 5, 7)], device=device, gradcheck=False)
    check_op(lambda x: interpolate(x, size=(3, 4), mode="area"),
             lambda x: torch.nn.functional.interpolate(x, size=(3, 4), mode="area"),
             [(2, 3, 5, 7)], device=device, gradcheck=False)


@pytest.mark.parametrize("shape, kwargs, error, message", [
    ((1, 1, 5), {"size": 4, "mode": "bicubic"}, ValueError, "mode 'bicubic' takes a 4-d input"),
    ((1, 1, 2, 3, 5), {"size": 4, "mode": "bicubic"}, ValueError,
     "mode 'bicubic' takes a 4-d input"),
    ((1, 1, 3, 3), {"size": 4, "mode": "area", "align_corners": False}, ValueError,
     "align_corners option can only be set with the interpolating modes: linear | bilinear "
     r"\| bicubic \| trilinear"),
    ((1, 1, 3, 3), {"size": 4, "mode": "bicubic", "antialias": True}, NotImplementedError,
     "antialias=True is not implemented"),
    ((1, 1, 3, 3), {"size": 4, "mode": "bicubic", "recompute_scale_factor": True}, ValueError,
     "recompute_scale_factor is not meaningful with an explicit size"),
    ((1, 1, 3, 3), {"scale_factor": 0.2, "mode": "area"}, ValueError, "makes an empty output"),
    ((1, 1, 3, 3), {"size": (2, 2, 2), "mode": "area"}, ValueError, "size must have 2 entries"),
    ((1, 1, 3, 3), {"size": 0, "mode": "bicubic"}, ValueError, "size must be positive"),
    ((1, 1, 3, 3), {"size": 4, "mode": "cubic"}, NotImplementedError,
     "mode 'cubic' is not implemented; available: .*area.*bicubic"),
])
def test_bad_arguments(shape, kwargs, error, message):
    with pytest.raises(error, match=message):
        interpolate(tg.zeros(*shape), **kwargs)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="expected a floating point input"):
        interpolate(tg.tensor(np.zeros((1, 1, 3, 3), dtype=np.int64)), size=4, mode="bicubic")
