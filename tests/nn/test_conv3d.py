"""conv3d / conv_transpose3d and nn.Conv3d / nn.ConvTranspose3d against torch: forward, input,
weight and bias gradients (float32 and float64, one random upstream gradient), float64
numerical gradients, second derivatives, chunked batches, torch's initialization, reprs,
state_dict keys, padding modes and errors."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.conv import conv3d, conv_transpose3d
from tinygrad_edu.nn.conv import Conv3d, ConvTranspose3d

conv_module = importlib.import_module("tinygrad_edu.functional.conv")

# torch warns that its padding="same" with an even kernel copies the input: it is the oracle here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

CONV3D = [  # (x shape, weight shape, keyword arguments)
    ((2, 3, 5, 6, 7), (4, 3, 3, 2, 3), {}),
    ((2, 4, 5, 6, 7), (6, 2, 2, 3, 3),
     {"stride": (2, 1, 3), "padding": (1, 0, 2), "dilation": (1, 2, 1), "groups": 2}),
    ((2, 3, 5, 6, 7), (3, 1, 3, 3, 3), {"stride": 2, "padding": 1, "groups": 3}),
    ((1, 2, 5, 6, 7), (4, 2, 2, 3, 4), {"padding": "same", "dilation": (1, 2, 1)}),
    ((3, 5, 6, 4), (2, 3, 1, 3, 2), {"padding": "valid", "stride": (1, 2, 1)}),  # (C, D, H, W)
    ((2, 2, 3, 4, 5), (3, 2, 1, 1, 1), {}),  # a 1x1x1 kernel
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV3D)
def test_conv3d_matches_torch(device, x_shape, w_shape, kwargs):
    check_op(lambda x, w, b: conv3d(x, w, b, **kwargs),
             lambda x, w, b: TF.conv3d(x, w, b, **kwargs),
             [x_shape, w_shape, w_shape[:1]], device=device, gradcheck=False)


def test_conv3d_without_bias_matches_torch(device):
    check_op(lambda x, w: conv3d(x, w, stride=(1, 2, 2), padding=1),
             lambda x, w: TF.conv3d(x, w, stride=(1, 2, 2), padding=1),
             [(2, 3, 4, 5, 6), (2, 3, 2, 3, 2)], device=device, gradcheck=False)


GRADCHECK = [
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), {"padding": 1, "stride": (1, 2, 1)}),
    ((2, 2, 3, 3, 4), (2, 1, 2, 1, 2), {"groups": 2, "dilation": (1, 1, 2)}),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRADCHECK)
def test_conv3d_numerical_gradients(x_shape, w_shape, kwargs):
    rng = np.random.default_rng(0)
    inputs = [tg.tensor(rng.standard_normal(s), requires_grad=True)
              for s in (x_shape, w_shape, w_shape[:1])]
    assert tg.gradcheck(lambda x, w, b: conv3d(x, w, b, **kwargs), inputs)
    assert tg.gradcheck(lambda x, w: conv_transpose3d(x, w, stride=2, padding=1,
                                                      output_padding=1),
                        [inputs[0], tg.tensor(rng.standard_normal((2, 2, 2, 2, 2)),
                                              requires_grad=True)])


def test_conv3d_second_derivatives_match_torch():
    """d/dx and d/dW of sum(grad_x ** 2 ...): every Function's backward is written with the
    other two, so the gradients are differentiable again."""
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in ((2, 2, 4, 3, 5), (3, 2, 2, 2, 3), (3,)))
    kwargs = {"stride": (2, 1, 1), "padding": (1, 0, 1)}
    X, W, B = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    TX, TW, TB = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = conv3d(X, W, B, **kwargs).tanh().sum()
    ty = TF.conv3d(TX, TW, TB, **kwargs).tanh().sum()
    gx, gw = tg.grad(y, (X, W), create_graph=True)
    tgx, tgw = torch.autograd.grad(ty, (TX, TW), create_graph=True)
    hx, hw = tg.grad((gx * gx).sum() + (gw * gw).sum(), (X, W))
    thx, thw = torch.autograd.grad((tgx * tgx).sum() + (tgw * tgw).sum(), (TX, TW))
    np.testing.assert_allclose(hx.numpy(), thx.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(hw.numpy(), thw.numpy(), rtol=1e-9, atol=1e-11)


CONV_TRANSPOSE3D = [
    ((2, 4, 3, 4, 5), (4, 3, 2, 3, 2), {"stride": 2}),
    ((2, 4, 3, 4, 5), (4, 1, 3, 3, 3),
     {"stride": (2, 1, 2), "padding": 1, "output_padding": (1, 0, 1), "groups": 2,
      "dilation": (1, 2, 1)}),
    # output_padding >= stride (allowed below the dilation): the uncropped, then cut, output
    ((2, 3, 3, 4, 2), (3, 2, 3, 2, 3),
     {"padding": (1, 0, 1), "output_padding": (1, 0, 1), "dilation": (3, 1, 2)}),
    ((3, 3, 4, 5), (3, 2, 2, 2, 3), {"stride": (1, 2, 3)}),  # unbatched (C, D, H, W)
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_TRANSPOSE3D)
def test_conv_transpose3d_matches_torch(device, x_shape, w_shape, kwargs):
    out_channels = w_shape[1] * kwargs.get("groups", 1)
    check_op(lambda x, w, b: conv_transpose3d(x, w, b, **kwargs),
             lambda x, w, b: TF.conv_transpose3d(x, w, b, **kwargs),
             [x_shape, w_shape, (out_channels,)], device=device, gradcheck=False)


@pytest.fixture
def tiny_im2col_budget(monkeypatch):
    """A column budget of 2000 bytes: every conv3d below runs in chunks of one sample."""
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 2000)
    monkeypatch.setattr(conv_module, "GPU_IM2COL_BUDGET_BYTES", 2000)


def test_conv3d_in_chunks_matches_torch(tiny_im2col_budget):
    kwargs = {"stride": (1, 2, 1), "padding": 1, "groups": 2}
    check_op(lambda x, w, b: conv3d(x, w, b, **kwargs),
             lambda x, w, b: TF.conv3d(x, w, b, **kwargs),
             [(3, 4, 3, 4, 5), (2, 2, 2, 2, 2), (2,)], gradcheck=False)
    check_op(lambda x, w: conv_transpose3d(x, w, stride=2, output_padding=1),
             lambda x, w: TF.conv_transpose3d(x, w, stride=2, output_padding=1),
             [(3, 2, 2, 3, 2), (2, 3, 2, 2, 2)], gradcheck=False)


def test_conv3d_keeps_float32_and_only_needed_gradients():
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((2, 3, 4, 5, 6)).astype(np.float32))  # no grad wanted
    w = tg.tensor(rng.standard_normal((2, 3, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = conv3d(x, w, padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 2, 4, 5, 6)
    y.sum().backward()
    assert x.grad is None and w.grad.dtype == np.float32


def test_conv3d_reads_strided_views_and_empty_batches():
    """The columns are a strided view of x itself where nothing is padded: a transposed and
    flipped input (strides out of order, one negative) must give torch's numbers."""
    check_op(lambda x, w: conv3d(x.transpose(2, 4).flip(3), w, stride=(1, 2, 1)),
             lambda x, w: TF.conv3d(x.transpose(2, 4).flip(3), w, stride=(1, 2, 1)),
             [(2, 3, 6, 5, 4), (2, 3, 2, 3, 2)], gradcheck=False)
    x = tg.randn(0, 2, 4, 5, 6, requires_grad=True)
    y = conv3d(x, tg.randn(3, 2, 2, 2, 2))
    y.sum().backward()
    assert y.shape == (0, 3, 3, 4, 5) and x.grad.shape == (0, 2, 4, 5, 6)


def _torch_copy(ours, theirs):
    """theirs (float64) with ours' parameters."""
    state = {k: torch.tensor(v.detach().numpy().astype(np.float64))
             for k, v in ours.state_dict().items()}
    theirs.double().load_state_dict(state)
    return theirs


@pytest.mark.parametrize("kwargs", [
    {},
    {"stride": (2, 1, 1), "padding": 1, "groups": 2, "bias": False},
    {"padding": "same", "dilation": (1, 2, 1)},
    {"padding": "valid"},
    {"padding": (1, 2, 1), "padding_mode": "reflect"},
    {"padding": 1, "padding_mode": "replicate", "stride": 2},
    {"padding": (2, 1, 1), "padding_mode": "circular"},
    {"padding": "same", "padding_mode": "reflect"},
])
def test_conv3d_module_is_torch_conv3d(kwargs):
    tg.manual_seed(0)
    m = Conv3d(4, 6, (2, 3, 3), **kwargs)
    t = _torch_copy(m, torch.nn.Conv3d(4, 6, (2, 3, 3), **kwargs))
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in t.parameters()]
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6, 7))
    m = m.to(dtype=tg.float64)
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(X), t(T)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = np.random.default_rng(2).standard_normal(ty.shape)
    (y * tg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    if m.bias is not None:
        np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-10)
    y1 = m(tg.tensor(x[0]))  # unbatched (C, D, H, W)
    np.testing.assert_allclose(y1.detach().numpy(), ty[0].detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def test_conv_transpose3d_module_is_torch_conv_transpose3d():
    tg.manual_seed(0)
    kwargs = {"stride": (2, 1, 2), "padding": 1, "output_padding": (1, 0, 0), "groups": 2}
    m = ConvTranspose3d(4, 6, 3, **kwargs)
    t = _torch_copy(m, torch.nn.ConvTranspose3d(4, 6, 3, **kwargs))
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    assert tuple(m.weight.shape) == tuple(t.weight.shape) == (4, 3, 3, 3, 3)
    x = np.random.default_rng(3).standard_normal((2, 4, 3, 4, 5))
    m = m.to(dtype=tg.float64)
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(X), t(T)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("build, fan_in", [
    (lambda: Conv3d(16, 32, (2, 3, 4), groups=2), 8 * 2 * 3 * 4),
    (lambda: ConvTranspose3d(8, 48, 3, groups=2), 24 * 27),  # weight (8, 24, 3, 3, 3)
])
def test_default_init_bounds_follow_torch_fan_in(build, fan_in):
    """W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * KD * KH * KW."""
    tg.manual_seed(0)
    m = build()
    bound = 1 / np.sqrt(fan_in)
    weight, bias = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert 0.95 * bound < np.abs(weight).max() <= bound
    assert np.abs(bias).max() <= bound
    assert abs(weight.std() - bound / np.sqrt(3)) < 0.05 * bound  # a uniform's std


@pytest.mark.parametrize("build, error, message", [
    (lambda: conv3d(tg.randn(2, 4, 5, 6, 7), tg.randn(6, 3, 3, 3, 3)), ValueError,
     r"conv3d: input has 4 channels but weight expects 3 \(x: \(2, 4, 5, 6, 7\), "
     r"w: \(6, 3, 3, 3, 3\), groups=1\)"),
    (lambda: conv3d(tg.randn(2, 4, 5, 6, 7), tg.randn(6, 4, 3, 3)), ValueError,
     r"conv3d: weight must be a 5-d Tensor \(OC, C/groups, KD, KH, KW\), got \(6, 4, 3, 3\)"),
    (lambda: conv3d(tg.randn(4, 5, 6), tg.randn(6, 4, 3, 3, 3)), ValueError,
     r"conv3d: expected a 4-d \(C, D, H, W\) or 5-d \(N, C, D, H, W\) input, got shape "
     r"\(4, 5, 6\)"),
    (lambda: conv3d(tg.randn(1, 4, 2, 6, 7), tg.randn(6, 4, 3, 3, 3)), ValueError,
     r"conv3d: kernel \(3, 3, 3\) with dilation \(1, 1, 1\) and padding \(0, 0, 0\) does not "
     r"fit input of size \(2, 6, 7\)"),
    (lambda: conv3d(tg.randn(1, 4, 5, 6, 7), tg.randn(6, 4, 3, 3, 3), stride=2,
                    padding="same"), ValueError,
     "conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: conv3d(tg.randn(1, 4, 5, 6, 7), tg.randn(6, 4, 3, 3, 3), padding="full"),
     ValueError, "conv3d: invalid padding string 'full'"),
    (lambda: conv3d(tg.randn(1, 4, 5, 6, 7), tg.randn(6, 2, 3, 3, 3), groups=3), ValueError,
     "conv3d: groups=3 must be a positive int that divides both input channels 4"),
    (lambda: conv3d(tg.randn(1, 4, 5, 6, 7), tg.randn(6, 4, 3, 3, 3), stride=(1, 2)),
     ValueError, r"conv3d: stride must be an int or a triple of ints \(D, H, W\), got \(1, 2\)"),
    (lambda: conv3d(tg.randn(1, 4, 5, 6, 7), tg.randn(6, 4, 3, 3, 3), tg.randn(5)), ValueError,
     r"conv3d: bias must have shape \(out_channels,\) = \(6,\)"),
    (lambda: conv3d(np.zeros((1, 4, 5, 6, 7)), tg.randn(6, 4, 3, 3, 3)), TypeError,
     "conv3d: expected a Tensor input, got ndarray"),
    (lambda: conv_transpose3d(tg.randn(1, 4, 3, 3, 3), tg.randn(3, 2, 2, 2, 2)), ValueError,
     r"conv_transpose3d: input has 4 channels but weight expects a 5-d \(C_in, C_out/groups, "
     r"KD, KH, KW\) weight with C_in = 4"),
    (lambda: conv_transpose3d(tg.randn(1, 4, 3, 3, 3), tg.randn(4, 2, 2, 2, 2), stride=2,
                              output_padding=2), ValueError,
     r"conv_transpose3d: output_padding \(2, 2, 2\) must be >= 0 and smaller than stride"),
    (lambda: Conv3d(4, 6, 3)(tg.randn(2, 5, 5, 6, 7)), ValueError,
     r"Conv3d\(4, 6\): expected input \(N, 4, D, H, W\) or \(4, D, H, W\), got shape "
     r"\(2, 5, 5, 6, 7\)"),
    (lambda: Conv3d(4, 6, (3, 3)), ValueError,
     "Conv3d: kernel_size must be an int or a triple of ints"),
    (lambda: Conv3d(4, 6, 3, stride=2, padding="same"), ValueError,
     "not supported for strided convolutions"),
    (lambda: Conv3d(4, 6, 3, groups=4), ValueError, "groups=4 must divide"),
    (lambda: Conv3d(4, 6, 3, padding_mode="mirror"), ValueError,
     "Conv3d: padding_mode must be one of"),
    (lambda: Conv3d(4, 6, 3)(tg.randn(2, 4, 5, 6, 7, dtype=tg.float64)), TypeError,
     r"Conv3d\(4, 6\): input has dtype float64 but the parameters are float32"),
    (lambda: ConvTranspose3d(4, 6, 3, padding="same"), ValueError,
     r"ConvTranspose3d: padding must be an int or a triple of ints \(padding strings are for "
     r"Conv1d, Conv2d and Conv3d only\)"),
    (lambda: ConvTranspose3d(4, 6, 3, stride=2, output_padding=2), ValueError,
     "ConvTranspose3d: output_padding must be >= 0 and smaller than stride or dilation"),
    (lambda: Conv3d(4, 6, 3, padding=3, padding_mode="reflect")(tg.randn(1, 4, 3, 6, 7)),
     ValueError, r"Conv3d\(4, 6\) with padding_mode='reflect': pad: reflect padding must be "
     "smaller than the size of its dim"),
])
def test_conv3d_errors_name_the_op_and_the_shapes(build, error, message):
    with pytest.raises(error, match=message):
        build()
