"""conv2d and conv_transpose2d through Winograd F(2x2, 3x3) (``kernels/cpu/winograd.py``):
which convolutions take it, and that they compute what torch and the im2col path compute,
forward, backward and second order."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op
from tinygrad_edu.kernels.cpu import gemm
from tinygrad_edu.kernels.cpu import winograd as winograd_kernels

import tinygrad_edu as tg
import tinygrad_edu.functional as F

conv_module = importlib.import_module("tinygrad_edu.functional.conv")

pytestmark = pytest.mark.skipif(not gemm.NUMBA_GEMM,
                                reason="Winograd runs on the Numba GEMM (a CPU with AVX-512)")


@pytest.fixture
def calls(monkeypatch):
    """The padding of every winograd_conv3x3 call, in order (the forward's P, an input
    gradient's 2 - P), and ("dW", P) for each winograd_weight_grad call."""
    made = []
    conv, weight_grad = winograd_kernels.winograd_conv3x3, winograd_kernels.winograd_weight_grad

    def spy_conv(x, u, bias, padding):
        made.append(tuple(padding))
        return conv(x, u, bias, padding)

    def spy_weight_grad(x, dy, padding):
        made.append(("dW", tuple(padding)))
        return weight_grad(x, dy, padding)

    monkeypatch.setattr(winograd_kernels, "winograd_conv3x3", spy_conv)
    monkeypatch.setattr(winograd_kernels, "winograd_weight_grad", spy_weight_grad)
    return made


@pytest.fixture
def any_channels(monkeypatch):
    """Winograd for every eligible convolution, however few its channels and tiles (small
    cases that the numerical gradient check can afford)."""
    monkeypatch.setattr(conv_module, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_module, "WINOGRAD_MIN_TILES", 1)


CASES = [  # x shape, OC, padding: odd planes, one sample, a one-pixel output
    ((2, 3, 7, 6), 4, 1),
    ((1, 2, 5, 8), 3, 0),
    ((3, 2, 4, 5), 2, (2, 1)),
    ((1, 1, 3, 3), 2, 0),
]


@pytest.mark.parametrize("x_shape, OC, padding", CASES)
def test_conv2d_matches_torch_and_the_numerical_gradient(any_channels, calls, x_shape, OC,
                                                         padding):
    check_op(lambda x, w, b: F.conv2d(x, w, b, padding=padding),
             lambda x, w, b: TF.conv2d(x, w, b, padding=padding),
             [x_shape, (OC, x_shape[1], 3, 3), (OC,)])
    pad = (padding, padding) if isinstance(padding, int) else padding
    assert pad in calls and (2 - pad[0], 2 - pad[1]) in calls  # forward and dx ran
    assert ("dW", pad) in calls


@pytest.mark.parametrize("padding", [0, 1, (1, 2)])
def test_conv_transpose2d_matches_torch(any_channels, calls, padding):
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, padding=padding),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, padding=padding),
             [(2, 3, 6, 5), (3, 4, 3, 3), (4,)])
    assert calls


def _grads(x, w, b, **opts):
    """conv2d's output, first gradients (of a weighted sum) and a second-order gradient."""
    xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, **opts)
    probe = tg.tensor(np.random.default_rng(5).standard_normal(y.shape).astype(x.dtype))
    dx, dw = tg.grad((y * probe).sum(), (xt, wt), create_graph=True)
    (ddw,) = tg.grad((dx * dx).sum() + (dw * dw).sum(), (wt,))  # through both backwards
    (y * probe).sum().backward()
    return [t.detach().numpy() for t in (y, xt.grad, wt.grad, bt.grad, ddw)]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_winograd_and_im2col_give_the_same_gradients(monkeypatch, calls, dtype, rtol):
    """At the default thresholds: 32 -> 48 channels (harmonic mean 38.4) and 8 * 5 * 4 tiles
    take Winograd."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 32, 9, 7)).astype(dtype)
    w = (rng.standard_normal((48, 32, 3, 3)) / 17).astype(dtype)
    b = rng.standard_normal(48).astype(dtype)
    winograd = _grads(x, w, b, padding=1)
    assert calls  # the forward and the input gradient, first and second order
    monkeypatch.setattr(conv_module, "WINOGRAD", False)
    count = len(calls)
    im2col = _grads(x, w, b, padding=1)
    assert len(calls) == count
    for ours, theirs in zip(winograd, im2col):
        scale = np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


def test_conv2d_matches_torch_at_the_benchmarks_shape(calls):
    """The 64x32x16x16 -> 64 convolution of benchmarks/run.py, float32, against torch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) / 17).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    dy = rng.standard_normal((4, 64, 16, 16)).astype(np.float32)
    xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=1)
    y.backward(tg.tensor(dy))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, padding=1)
    ty.backward(torch.tensor(dy))
    assert calls == [(1, 1), (1, 1), ("dW", (1, 1))]  # forward, dx, dW
    for ours, theirs in ((y, ty), (xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-4,
                                   atol=1e-5 * np.abs(theirs).max())


TAKES = [  # x shape, w shape, options, Winograd for the forward?
    ((32, 32, 6, 6), (32, 32, 3, 3), {}, True),  # 32 * 2 * 2 = 128 tiles
    ((31, 32, 6, 6), (32, 32, 3, 3), {}, False),  # 124 tiles
    ((2, 32, 6, 6), (64, 32, 3, 3), dict(padding=2), False),  # 32 tiles
    ((8, 32, 6, 6), (64, 32, 3, 3), dict(padding=2), True),  # 8 * 4 * 4 tiles
    ((8, 16, 6, 6), (32, 16, 3, 3), dict(padding=1), False),  # harmonic mean 21
    ((32, 32, 6, 6), (32, 32, 3, 3), dict(stride=2), False),
    ((32, 32, 8, 8), (32, 32, 3, 3), dict(dilation=2), False),
    ((32, 32, 6, 6), (32, 16, 3, 3), dict(groups=2), False),
    ((32, 32, 6, 6), (32, 32, 5, 5), dict(padding=2), False),
    ((32, 32, 6, 6), (32, 32, 3, 3), dict(padding=3), False),
    ((32, 32, 6, 6), (32, 32, 3, 1), dict(padding=1), False),
]


@pytest.mark.parametrize("x_shape, w_shape, opts, takes", TAKES)
def test_which_convolutions_take_winograd(calls, x_shape, w_shape, opts, takes):
    x = tg.tensor(np.zeros(x_shape, np.float32))
    F.conv2d(x, tg.tensor(np.zeros(w_shape, np.float32)), **opts)
    assert bool(calls) == takes


def test_off_under_the_switch_and_the_reference_kernels(monkeypatch, calls):
    x, w = np.ones((8, 32, 10, 10)), np.ones((32, 32, 3, 3))  # 8 * 4 * 4 tiles
    with tg.use_kernel("reference"):
        F.conv2d(tg.tensor(x), tg.tensor(w))
    monkeypatch.setattr(conv_module, "WINOGRAD", False)
    F.conv2d(tg.tensor(x), tg.tensor(w))
    monkeypatch.setattr(conv_module, "WINOGRAD", True)
    monkeypatch.setattr(gemm, "NUMBA_GEMM", False)  # no AVX-512: the products would be slow
    F.conv2d(tg.tensor(x), tg.tensor(w))
    assert calls == []
    monkeypatch.setattr(gemm, "NUMBA_GEMM", True)
    F.conv2d(tg.tensor(x), tg.tensor(w))
    assert calls == [(0, 0)]


def test_the_switch_reads_the_environment(monkeypatch):
    for text, on in (("", True), ("1", True), ("0", False), ("off", False), (" False ", False)):
        monkeypatch.setenv("TINYGRAD_EDU_WINOGRAD", text)
        assert conv_module._winograd_from_env() is on, text
