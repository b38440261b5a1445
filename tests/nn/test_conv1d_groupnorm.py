"""Conv1d / conv1d and GroupNorm / group_norm against torch: forward, input and parameter
gradients, float64 numerical gradients, torch's initialization, state_dict keys and errors."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as F

CONV1D = [  # (x shape, weight shape, keyword arguments)
    ((2, 4, 11), (6, 4, 3), {}),
    ((2, 4, 11), (6, 2, 5), {"stride": 2, "padding": 2, "groups": 2}),
    ((1, 3, 9), (3, 1, 3), {"padding": "same", "dilation": 2, "groups": 3}),
    ((3, 10), (5, 3, 4), {"padding": "valid", "stride": (3,)}),  # unbatched (C, L)
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D)
def test_conv1d_matches_torch(x_shape, w_shape, kwargs):
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kwargs),
             lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kwargs),
             [x_shape, w_shape, w_shape[:1]])


def _torch_copy(ours, theirs):
    """theirs with ours' parameters (float64)."""
    state = {k: torch.tensor(v.detach().numpy().astype(np.float64))
             for k, v in ours.state_dict().items()}
    theirs.double().load_state_dict(state)
    return theirs


def test_conv1d_module_is_torch_conv1d():
    tg.manual_seed(0)
    m = nn.Conv1d(4, 6, 5, stride=2, padding=1, groups=2)
    t = _torch_copy(m, torch.nn.Conv1d(4, 6, 5, stride=2, padding=1, groups=2))
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    assert tuple(m.weight.shape) == tuple(t.weight.shape) == (6, 2, 5)
    bound = 1 / np.sqrt(8 * 5)  # torch's U(-1/sqrt(fan_in), ...), fan_in = C/groups * K
    weight = nn.Conv1d(16, 64, 5, groups=2).weight.detach().numpy()  # (64, 8, 5)
    assert 0.95 * bound < np.abs(weight).max() <= bound
    x = np.random.default_rng(1).standard_normal((3, 4, 13))
    m = m.to(dtype=tg.float64)
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m(X).sum().backward()
    t(T).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Conv1d(4, 6, 0), "kernel_size must be >= 1"),
    (lambda: nn.Conv1d(4, 6, (3, 3)), "kernel_size must be an int or a 1-tuple"),
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding="same"), "not supported for strided"),
    (lambda: nn.Conv1d(4, 6, 3, groups=4), "groups=4 must divide"),
    (lambda: nn.Conv1d(4, 6, 3)(tg.randn(2, 5, 10)), r"Conv1d\(4, 6\): expected input \(N, 4, L\)"),
    (lambda: nn.Conv1d(4, 6, 30)(tg.randn(2, 4, 10)),
     r"conv1d: kernel 30 with dilation 1 and padding 0 does not fit input of length 10"),
    (lambda: F.conv1d(tg.randn(2, 4, 10), tg.randn(6, 3, 3)),
     r"conv1d: input has 4 channels but weight expects 3 \* groups"),
    (lambda: F.conv1d(tg.randn(2, 4, 10), tg.randn(6, 4, 4), stride=2, padding="same"),
     "conv1d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv1d(tg.randn(2, 4, 10), tg.randn(6, 4, 3, 1)), "a 3-d weight"),
])
def test_conv1d_errors_name_conv1d(build, message):
    with pytest.raises(ValueError, match=message):
        build()


GROUPS = [((2, 6, 5, 3), 3), ((3, 4, 7), 1), ((2, 4, 3, 3), 4), ((2, 6), 2), ((2, 4, 2, 2, 2), 2)]


@pytest.mark.parametrize("shape, groups", GROUPS)
def test_group_norm_matches_torch(shape, groups):
    C = shape[1]
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-5),
             lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b, eps=1e-5),
             [shape, (C,), (C,)])
    check_op(lambda x: F.group_norm(x, groups), lambda x: torch.nn.functional.group_norm(x, groups),
             [shape])


def test_group_norm_module_second_derivative_and_state():
    m, t = nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4).double()
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    assert list(nn.GroupNorm(2, 4, affine=False).state_dict()) == []
    assert repr(nn.GroupNorm(2, 4, bias=False)) == repr(torch.nn.GroupNorm(2, 4, bias=False))
    assert list(nn.GroupNorm(2, 4, bias=False).state_dict()) == ["weight"]
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    m = m.to(dtype=tg.float64)
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = tg.grad((m(X) ** 3).sum(), X, create_graph=True)
    (tg_,) = torch.autograd.grad((t(T) ** 3).sum(), T, create_graph=True)
    (h,) = tg.grad(g.sum(), X)
    (th,) = torch.autograd.grad(tg_.sum(), T)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-8, atol=1e-10)


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\): expected an input \(N, 4, \*\)"):
        nn.GroupNorm(2, 4)(tg.randn(2, 6, 3))
    with pytest.raises(TypeError, match=r"GroupNorm\(2, 4\): input has dtype float64"):
        nn.GroupNorm(2, 4)(tg.randn(2, 4, 3, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"weight must have shape \(num_channels,\) = \(4,\)"):
        F.group_norm(tg.randn(2, 4, 3), 2, tg.ones(3))


def test_conv1d_draws_what_the_conv2d_it_runs_as_draws():
    """Conv1d is a _ConvNd of one spatial dim: under one seed its weight is Conv2d(C, OC,
    (1, K))'s, and the random stream after it is the same (no hidden draws)."""
    tg.manual_seed(0)
    w1, b1 = (p.detach().numpy() for p in nn.Conv1d(2, 3, 5).parameters())
    after1 = tg.randn(4).numpy()
    tg.manual_seed(0)
    w2, b2 = (p.detach().numpy() for p in nn.Conv2d(2, 3, (1, 5)).parameters())
    after2 = tg.randn(4).numpy()
    np.testing.assert_array_equal(w1, w2[:, :, 0, :])
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(after1, after2)


@pytest.mark.parametrize("padding", ["valid", "same", 2])
def test_conv_reprs_show_padding_as_torch(padding):
    for ours, theirs in ((nn.Conv1d(2, 4, 3, padding=padding),
                          torch.nn.Conv1d(2, 4, 3, padding=padding)),
                         (nn.Conv2d(2, 4, 3, padding=padding),
                          torch.nn.Conv2d(2, 4, 3, padding=padding))):
        assert repr(ours) == repr(theirs)
