"""conv_transpose1d / ConvTranspose1d against torch: forward, input, weight and bias gradients
(float32 and float64, same random upstream gradient), float64 numerical and second-order
gradients, torch's initialization, repr, parameter shapes, state_dict keys, and errors."""

import importlib
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op
from test_layers import compare, gradcheck_layer, twin

import tinygrad_edu as tg
from tinygrad_edu.functional.conv import conv1d, conv_transpose1d, conv_transpose2d
from tinygrad_edu.nn.conv import ConvTranspose1d, ConvTranspose2d

conv_module = importlib.import_module("tinygrad_edu.functional.conv")

CASES = [  # x shape, weight shape (C, OC/groups, K), options; odd lengths, C != OC
    ((2, 3, 7), (3, 5, 3), dict()),
    ((2, 3, 7), (3, 5, 4), dict(stride=2, padding=1, output_padding=1)),
    ((3, 4, 5), (4, 3, 3), dict(stride=3, padding=2, output_padding=2, groups=2)),
    ((1, 6, 9), (6, 1, 2), dict(stride=(2,), dilation=(3,), output_padding=2, groups=6)),
    ((2, 4, 6), (4, 2, 5), dict(dilation=2, padding=3, output_padding=1, groups=2)),
    ((3, 8), (3, 2, 3), dict(stride=2, padding=(1,))),  # unbatched (C, L)
]


@pytest.mark.parametrize("x_shape, w_shape, opts", CASES, ids=str)
def test_conv_transpose1d_matches_torch(x_shape, w_shape, opts):
    OC = w_shape[1] * opts.get("groups", 1)
    check_op(lambda x, w, b: conv_transpose1d(x, w, b, **opts),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, **opts),
             [x_shape, w_shape, (OC,)])


def test_conv_transpose1d_without_bias_matches_torch():
    opts = dict(stride=2, padding=1, groups=2)
    check_op(lambda x, w: conv_transpose1d(x, w, **opts),
             lambda x, w: TF.conv_transpose1d(x, w, **opts), [(2, 4, 7), (4, 3, 3)])


@pytest.mark.parametrize("kernel", ["reference", "numba"])
def test_conv_transpose1d_kernels_and_chunks_match_torch(kernel, monkeypatch):
    """Every CPU kernel, and a column budget so small that every sample is its own chunk."""
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 64)
    opts = dict(stride=2, padding=1, output_padding=1, dilation=2, groups=2)
    with tg.use_kernel(kernel):
        check_op(lambda x, w, b: conv_transpose1d(x, w, b, **opts),
                 lambda x, w, b: TF.conv_transpose1d(x, w, b, **opts),
                 [(3, 4, 5), (4, 3, 3), (6,)], gradcheck=False)


def test_conv_transpose1d_second_order_gradients():
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    assert tg.gradgradcheck(
        lambda x, w, b: conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1) ** 2,
        [x, w, b])


def test_conv_transpose1d_is_the_adjoint_of_conv1d():
    """<conv1d(y, W), x> = <y, conv_transpose1d(x, W)>: the same weight, the same window."""
    rng = np.random.default_rng(4)
    opts = dict(stride=3, padding=2, dilation=2, groups=2)
    w = tg.tensor(rng.standard_normal((4, 3, 3)))  # conv1d: (OC, C/groups, K) = (4, 3, 3)
    y = tg.tensor(rng.standard_normal((2, 6, 11)))  # conv1d input (N, C, L)
    x = tg.tensor(rng.standard_normal((2, 4, 4)))  # conv1d output (N, OC, OL), OL = 4
    lhs = (conv1d(y, w, **opts) * x).sum().item()
    # OL = (11 + 4 - 4 - 1) // 3 + 1 = 4; the remainder 1 of that division is output_padding
    rhs = (y * conv_transpose1d(x, w, output_padding=1, **opts)).sum().item()
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))


WIDE_OUTPUT_PADDING_2D = [  # output_padding >= stride (< dilation): rows past the windows
    ((1, 2, 4, 5), (2, 3, 3, 3), dict(dilation=2, output_padding=1)),
    ((1, 2, 4, 5), (2, 3, 3, 2), dict(dilation=(3, 2), output_padding=(2, 1), padding=(1, 2))),
    ((2, 2, 1, 3), (2, 3, 2, 2), dict(dilation=3, output_padding=2, padding=2)),
    ((2, 2, 1, 3), (2, 3, 1, 2), dict(dilation=3, output_padding=2, padding=1)),  # crop it all
    ((1, 4, 3, 3), (4, 1, 2, 3), dict(dilation=4, stride=(2, 3), output_padding=(3, 2),
                                      padding=(3, 1), groups=4)),
]


@pytest.mark.parametrize("x_shape, w_shape, opts", WIDE_OUTPUT_PADDING_2D, ids=str)
def test_conv_transpose2d_output_padding_past_the_stride_matches_torch(x_shape, w_shape, opts):
    """The conv_transpose1d it runs on: an output_padding of stride or more (torch allows up
    to dilation - 1) is made uncropped, then cropped (was a col2im shape error)."""
    OC = w_shape[1] * opts.get("groups", 1)
    check_op(lambda x, w, b: conv_transpose2d(x, w, b, **opts),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **opts),
             [x_shape, w_shape, (OC,)])


# ----------------------------------------------------------------------------------------------
# The layer
# ----------------------------------------------------------------------------------------------

LAYERS = [  # (in_channels, out_channels, kernel_size), keyword arguments
    ((3, 5, 3), dict()),
    ((4, 6, 4), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((4, 2, (3,)), dict(stride=(3,), padding=(2,), dilation=(2,), output_padding=(2,),
                        bias=False)),
    ((6, 6, 2), dict(stride=2, dilation=3, output_padding=2, groups=3)),
]


@pytest.mark.parametrize("args, kwargs", LAYERS, ids=str)
def test_conv_transpose1d_layer_matches_torch(args, kwargs, device):
    ours, theirs = ConvTranspose1d(*args, **kwargs), torch.nn.ConvTranspose1d(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, p), (their_name, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                          strict=True):
        assert name == their_name and tuple(p.shape) == tuple(q.shape)
    ours, theirs = twin(ours, theirs, device)
    rng = np.random.default_rng(1)
    compare(ours, theirs, rng.standard_normal((2, args[0], 7)), device)
    compare(ours, theirs, rng.standard_normal((args[0], 5)), device)  # no batch dim


def test_conv_transpose1d_layer_in_float32_matches_torch():
    ours, theirs = ConvTranspose1d(4, 6, 3, stride=2, groups=2), \
        torch.nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 4, 9)).astype(np.float32)
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, t = ours(X), theirs(T)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-5)
    upstream = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
    (y * tg.tensor(upstream)).sum().backward()
    (t * torch.tensor(upstream)).sum().backward()
    for got, want in ((X.grad, T.grad), (ours.weight.grad, theirs.weight.grad),
                      (ours.bias.grad, theirs.bias.grad)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_transpose1d_layer_gradcheck():
    tg.manual_seed(0)
    layer = ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1)
    gradcheck_layer(layer, np.random.default_rng(5).standard_normal((2, 2, 4)))


def test_conv_transpose1d_init_is_torchs():
    """W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * K =
    out_channels / groups * K for a transposed convolution (torch's rule)."""
    layer = ConvTranspose1d(16, 64, 5, groups=2)
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert weight.shape == (16, 32, 5) and weight.dtype == np.float32
    bound = 1 / np.sqrt(32 * 5)
    assert 0.95 * bound < np.abs(weight).max() <= bound
    assert np.abs(bias).max() <= bound
    assert abs(weight.std() - bound / np.sqrt(3)) < 0.05 * bound  # a uniform's std


def test_conv_transpose1d_draws_what_conv_transpose2d_draws():
    """Under one seed its weight is ConvTranspose2d(C, OC, (1, K))'s, and the random stream
    after it is the same (no hidden draws)."""
    tg.manual_seed(0)
    w1, b1 = (p.detach().numpy() for p in ConvTranspose1d(2, 3, 5).parameters())
    after1 = tg.randn(4).numpy()
    tg.manual_seed(0)
    w2, b2 = (p.detach().numpy() for p in ConvTranspose2d(2, 3, (1, 5)).parameters())
    after2 = tg.randn(4).numpy()
    np.testing.assert_array_equal(w1, w2[:, :, 0, :])
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(after1, after2)


# ----------------------------------------------------------------------------------------------
# Errors, in 1-d terms, naming the op and the shapes
# ----------------------------------------------------------------------------------------------

FUNCTIONAL_ERRORS = [  # x shape, w shape, options, message
    ((2, 3, 7), (4, 5, 3), dict(),
     "conv_transpose1d: input has 3 channels but weight expects 4 (x: (2, 3, 7), w: (4, 5, 3)); "
     "weight is (C_in, C_out/groups, K)"),
    ((2, 3, 7, 1), (3, 5, 3), dict(),
     "conv_transpose1d: expected a 2-d (C, L) or 3-d (N, C, L) input and a 3-d weight "
     "(C, OC/groups, K), got (2, 3, 7, 1) and (3, 5, 3)"),
    ((2, 3, 7), (3, 5, 3, 1), dict(), "a 3-d weight (C, OC/groups, K), got (2, 3, 7) and "
                                      "(3, 5, 3, 1)"),
    ((2, 4, 7), (4, 5, 3), dict(groups=3),
     "conv_transpose1d: groups=3 must be a positive int that divides the input channels 4 "
     "(x: (2, 4, 7), w: (4, 5, 3))"),
    ((2, 3, 7), (3, 5, 3), dict(stride=2, output_padding=2),
     "conv_transpose1d: output_padding 2 must be >= 0 and smaller than stride 2 or dilation 1"),
    ((2, 3, 7), (3, 5, 3), dict(padding=-1), "padding >= 0, got stride=1, dilation=1, K=3, "
                                             "padding=-1"),
    ((2, 3, 7), (3, 5, 3), dict(stride=0), "expected stride >= 1"),
    ((2, 3, 2), (3, 5, 3), dict(padding=3),
     "conv_transpose1d: the output length would be -2 for input length 2, kernel 3, stride 1, "
     "padding 3, dilation 1 and output_padding 0 (x: (2, 3, 2), w: (3, 5, 3))"),
    ((2, 3, 7), (3, 5, 3), dict(stride=(2, 2)),
     "conv_transpose1d: stride must be an int or a 1-tuple of an int, got (2, 2)"),
    ((2, 3, 7), (3, 5, 3), dict(padding="same"), "conv_transpose1d: padding must be an int"),
]


@pytest.mark.parametrize("x_shape, w_shape, opts, message", FUNCTIONAL_ERRORS)
def test_conv_transpose1d_errors(x_shape, w_shape, opts, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        conv_transpose1d(tg.randn(*x_shape), tg.randn(*w_shape), **opts)


def test_conv_transpose1d_bias_and_type_errors():
    with pytest.raises(ValueError, match=re.escape(
            "conv_transpose1d: bias must have shape (out_channels,) = (10,) for weight "
            "(6, 5, 3), got (5,)")):
        conv_transpose1d(tg.randn(2, 6, 7), tg.randn(6, 5, 3), tg.randn(5), groups=2)
    with pytest.raises(TypeError, match="conv_transpose1d: expected Tensors"):
        conv_transpose1d(np.zeros((2, 3, 7)), tg.randn(3, 5, 3))


LAYER_ERRORS = [
    (lambda: ConvTranspose1d(4, 6, 3)(tg.randn(2, 5, 10)),
     r"ConvTranspose1d(4, 6): expected input (N, 4, L) or (4, L), got shape (2, 5, 10)"),
    (lambda: ConvTranspose1d(4, 6, 3)(tg.randn(2, 4, 3, 3)),
     r"ConvTranspose1d(4, 6): expected input (N, 4, L) or (4, L), got shape (2, 4, 3, 3)"),
    (lambda: ConvTranspose1d(4, 6, (3, 3)), "kernel_size must be an int or a 1-tuple"),
    (lambda: ConvTranspose1d(4, 6, 0), "ConvTranspose1d: kernel_size must be >= 1, got (0,)"),
    (lambda: ConvTranspose1d(4, 6, 3, groups=4), "groups=4 must divide in_channels=4 and "
                                                 "out_channels=6"),
    (lambda: ConvTranspose1d(4, 6, 3, stride=2, output_padding=2),
     "ConvTranspose1d: output_padding must be >= 0 and smaller than stride or dilation in each "
     "dim, got output_padding (2,) with stride (2,) and dilation (1,)"),
    (lambda: ConvTranspose1d(4, 6, 3, padding=-1), "ConvTranspose1d: padding must be >= 0"),
    (lambda: ConvTranspose1d(4, 6, 3, padding="same"),
     "ConvTranspose1d: padding must be an int or a 1-tuple of an int (padding strings are for "
     "Conv1d and Conv2d only), got 'same'"),
    (lambda: ConvTranspose1d(4, 6, 3, padding_mode="reflect"),
     'ConvTranspose1d: only "zeros" padding mode is supported'),
]


@pytest.mark.parametrize("build, message", LAYER_ERRORS)
def test_conv_transpose1d_layer_errors(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_conv_transpose1d_layer_refuses_another_dtype_like_torch():
    layer = ConvTranspose1d(3, 2, 3)
    with pytest.raises(RuntimeError):  # the oracle
        torch.nn.ConvTranspose1d(3, 2, 3)(torch.zeros(1, 3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="ConvTranspose1d"):
        layer(tg.zeros(1, 3, 5, dtype=tg.float64))
