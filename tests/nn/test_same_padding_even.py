"""padding="same" with an even effective kernel size D (K - 1) + 1 (an odd total padding
D (K - 1)): torch pads total // 2 before and the rest, one more, after (bottom, right).
conv1d / conv2d and Conv1d / Conv2d (every padding_mode) against torch: forward, input,
weight and bias gradients, float64 numerical and second-order gradients, repr, and the
strided 'same' that stays refused."""

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op
from test_layers import compare, gradcheck_layer, twin

import tinygrad_edu as tg
from tinygrad_edu.functional.conv import conv1d, conv2d, same_padding
from tinygrad_edu.nn.conv import Conv1d, Conv2d


@pytest.fixture(autouse=True)
def _quiet_torch():
    """torch warns that an even kernel with 'same' may copy the input (so do we)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*padding='same' with even kernel.*")
        yield


def test_same_padding_puts_the_odd_one_at_the_end():
    assert same_padding("conv2d", (4, 3), (1, 1), (1, 1)) == ((1, 2), (1, 1))
    assert same_padding("conv2d", (2, 4), (1, 1), (3, 2)) == ((1, 2), (3, 3))  # D (K - 1) = 3, 6
    assert same_padding("conv1d", (6,), (1,), (1,)) == ((2, 3),)
    with pytest.raises(ValueError, match=re.escape(
            "conv1d: padding='same' is not supported for strided convolutions (stride (2,))")):
        same_padding("conv1d", (3,), (2,), (1,))


CONV2D = [  # x shape, weight shape, options; odd non-square inputs, one or both totals odd
    ((2, 3, 7, 6), (4, 3, 4, 4), dict()),
    ((2, 3, 5, 8), (5, 3, 2, 3), dict()),  # only H's total is odd
    ((1, 4, 6, 5), (6, 2, 3, 2), dict(groups=2, dilation=(2, 3))),  # totals 4, 3
    ((2, 2, 5, 7), (3, 2, 4, 2), dict(dilation=(1, 5), stride=1)),  # totals 3, 5
    ((3, 6, 5), (2, 3, 2, 4), dict(groups=1, stride=(1, 1))),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("x_shape, w_shape, opts", CONV2D, ids=str)
def test_conv2d_same_even_matches_torch(x_shape, w_shape, opts):
    out = check_op(lambda x, w, b: conv2d(x, w, b, padding="same", **opts),
                   lambda x, w, b: TF.conv2d(x, w, b, padding="same", **opts),
                   [x_shape, w_shape, w_shape[:1]])
    assert tuple(out[0].shape[-2:]) == x_shape[-2:]  # "same": H and W kept


CONV1D = [  # x shape, weight shape, options
    ((2, 3, 9), (4, 3, 4), dict()),
    ((2, 4, 7), (6, 2, 2), dict(groups=2, dilation=3)),  # total 3
    ((1, 3, 10), (3, 1, 6), dict(groups=3, stride=(1,))),  # total 5
    ((3, 8), (2, 3, 2), dict()),  # unbatched (C, L)
]


@pytest.mark.parametrize("x_shape, w_shape, opts", CONV1D, ids=str)
def test_conv1d_same_even_matches_torch(x_shape, w_shape, opts):
    out = check_op(lambda x, w, b: conv1d(x, w, b, padding="same", **opts),
                   lambda x, w, b: TF.conv1d(x, w, b, padding="same", **opts),
                   [x_shape, w_shape, w_shape[:1]])
    assert out[0].shape[-1] == x_shape[-1]


def test_conv_same_even_without_bias_matches_torch():
    check_op(lambda x, w: conv2d(x, w, padding="same"),
             lambda x, w: TF.conv2d(x, w, padding="same"), [(2, 2, 5, 6), (3, 2, 2, 4)])
    check_op(lambda x, w: conv1d(x, w, padding="same", dilation=(3,)),
             lambda x, w: TF.conv1d(x, w, padding="same", dilation=(3,)), [(2, 2, 7), (3, 2, 4)])


@pytest.mark.parametrize("kernel", ["reference", "numba"])
def test_conv2d_same_even_with_each_kernel(kernel):
    """Every CPU kernel, including Winograd's 3x3 territory next door (a 4x4 filter)."""
    with tg.use_kernel(kernel):
        check_op(lambda x, w, b: conv2d(x, w, b, padding="same"),
                 lambda x, w, b: TF.conv2d(x, w, b, padding="same"),
                 [(2, 3, 7, 6), (4, 3, 4, 2), (4,)], gradcheck=False)


def test_conv_same_even_second_order_gradients():
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: conv2d(x, w, padding="same") ** 2, [x, w])
    x1 = tg.tensor(rng.standard_normal((2, 2, 6)), requires_grad=True)
    w1 = tg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: conv1d(x, w, padding="same") ** 2, [x1, w1])


def test_only_odd_totals_copy_the_input():
    """An odd effective kernel size keeps the old path (the convolution pads by itself, x goes
    in as it is); an even one adds one zero row at the bottom with F.pad, the rest as before."""
    x = tg.randn(1, 2, 5, 6, dtype=tg.float64, requires_grad=True)
    y = conv2d(x, tg.randn(3, 2, 3, 5, dtype=tg.float64), padding="same")
    assert type(y.grad_fn).__name__ == "Conv2d" and y.grad_fn.inputs[0] is x
    np.testing.assert_allclose(y.detach().numpy(), conv2d(x, y.grad_fn.inputs[1], padding=(1, 2))
                               .detach().numpy())
    y = conv2d(x, tg.randn(3, 2, 4, 5, dtype=tg.float64), padding="same")
    assert tuple(y.grad_fn.inputs[0].shape) == (1, 2, 6, 6)  # one extra row, not three
    assert y.grad_fn.spec.padding == (1, 2)


# ----------------------------------------------------------------------------------------------
# The layers, in every padding_mode
# ----------------------------------------------------------------------------------------------

MODES = ["zeros", "reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=4), dict(kernel_size=(2, 3), dilation=(3, 1)),
                                    dict(kernel_size=(3, 4), groups=3, bias=False)], ids=str)
def test_conv2d_layer_same_even_matches_torch(mode, kwargs, device):
    ours, theirs = Conv2d(3, 6, padding="same", padding_mode=mode, **kwargs), \
        torch.nn.Conv2d(3, 6, padding="same", padding_mode=mode, **kwargs)
    assert repr(ours) == repr(theirs)
    ours, theirs = twin(ours, theirs, device)
    rng = np.random.default_rng(1)
    out = compare(ours, theirs, rng.standard_normal((2, 3, 7, 6)), device)
    assert tuple(out.shape) == (2, 6, 7, 6)
    compare(ours, theirs, rng.standard_normal((3, 5, 6)), device)  # no batch dim


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=4), dict(kernel_size=2, dilation=3),
                                    dict(kernel_size=6, groups=3, bias=False)], ids=str)
def test_conv1d_layer_same_even_matches_torch(mode, kwargs, device):
    ours, theirs = Conv1d(3, 6, padding="same", padding_mode=mode, **kwargs), \
        torch.nn.Conv1d(3, 6, padding="same", padding_mode=mode, **kwargs)
    assert repr(ours) == repr(theirs)
    ours, theirs = twin(ours, theirs, device)
    rng = np.random.default_rng(2)
    out = compare(ours, theirs, rng.standard_normal((2, 3, 9)), device)
    assert tuple(out.shape) == (2, 6, 9)
    compare(ours, theirs, rng.standard_normal((3, 8)), device)  # no batch dim


def test_conv_layers_same_even_in_float32_match_torch():
    for ours, theirs, shape in ((Conv2d(2, 3, (4, 2), padding="same"),
                                 torch.nn.Conv2d(2, 3, (4, 2), padding="same"), (2, 2, 5, 7)),
                                (Conv1d(2, 3, 4, padding="same", padding_mode="reflect"),
                                 torch.nn.Conv1d(2, 3, 4, padding="same", padding_mode="reflect"),
                                 (2, 2, 9))):
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
        X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, t = ours(X), theirs(T)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-5)
        upstream = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
        (y * tg.tensor(upstream)).sum().backward()
        (t * torch.tensor(upstream)).sum().backward()
        for got, want in ((X.grad, T.grad), (ours.weight.grad, theirs.weight.grad),
                          (ours.bias.grad, theirs.bias.grad)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_layers_same_even_gradcheck():
    tg.manual_seed(0)
    gradcheck_layer(Conv2d(2, 3, (2, 4), padding="same"), np.random.default_rng(5)
                    .standard_normal((2, 2, 4, 5)))
    gradcheck_layer(Conv1d(2, 3, 4, padding="same", padding_mode="circular"),
                    np.random.default_rng(6).standard_normal((2, 2, 5)))


# ----------------------------------------------------------------------------------------------
# Still refused, like torch: 'same' with a stride
# ----------------------------------------------------------------------------------------------

STRIDED = [
    (lambda: Conv2d(2, 4, 4, stride=2, padding="same"),
     "Conv2d: padding='same' is not supported for strided convolutions (stride (2, 2))"),
    (lambda: Conv1d(2, 4, 4, stride=(2,), padding="same"),
     "Conv1d: padding='same' is not supported for strided convolutions (stride (2,))"),
    (lambda: conv2d(tg.randn(1, 2, 5, 5), tg.randn(3, 2, 4, 4), stride=(1, 2), padding="same"),
     "conv2d: padding='same' is not supported for strided convolutions (stride (1, 2))"),
    (lambda: conv1d(tg.randn(1, 2, 5), tg.randn(3, 2, 4), stride=3, padding="same"),
     "conv1d: padding='same' is not supported for strided convolutions (stride (3,))"),
]


@pytest.mark.parametrize("build, message", STRIDED)
def test_strided_same_is_still_refused(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()
    with pytest.raises(RuntimeError, match="not supported for strided"):  # the oracle
        TF.conv1d(torch.zeros(1, 2, 5), torch.zeros(3, 2, 4), stride=2, padding="same")
