"""3-d pooling (max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d and their
layers), BatchNorm3d / InstanceNorm3d and the 3-d padding layers against torch: forward,
gradients with one random upstream gradient, float64 numerical gradients, indices, running
statistics, reprs, state_dict keys and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu.functional.pool3d import (
    adaptive_avg_pool3d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
)
from tinygrad_edu.nn import normalization, padding, pooling

# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------

MAX_POOL = [  # (x shape, keyword arguments)
    ((2, 3, 5, 6, 7), {"kernel_size": 2}),
    ((2, 3, 5, 6, 7), {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": (1, 1, 0),
                       "dilation": (1, 2, 1), "ceil_mode": True}),
    ((3, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),  # unbatched
    ((1, 2, 4, 5, 3), {"kernel_size": (2, 3, 1), "stride": 1, "padding": (1, 1, 0)}),
    ((2, 2, 7, 5, 6), {"kernel_size": 2, "stride": 3, "ceil_mode": True}),
]


@pytest.mark.parametrize("x_shape, kwargs", MAX_POOL)
def test_max_pool3d_matches_torch(device, x_shape, kwargs):
    check_op(lambda x: max_pool3d(x, **kwargs), lambda x: TF.max_pool3d(x, **kwargs),
             [x_shape], device=device, gradcheck=False)
    x = tg.tensor(np.random.default_rng(1).standard_normal(x_shape), device=device)
    _, index = max_pool3d(x, return_indices=True, **kwargs)
    _, expected = TF.max_pool3d(torch.tensor(x.numpy()), return_indices=True, **kwargs)
    assert index.dtype == np.int64
    np.testing.assert_array_equal(index.numpy(), expected.numpy())


AVG_POOL = [
    ((2, 3, 5, 6, 7), {"kernel_size": 2}),
    ((2, 3, 5, 6, 7), {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": (1, 1, 0),
                       "ceil_mode": True}),
    ((2, 3, 5, 6, 7), {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": (1, 1, 0),
                       "ceil_mode": True, "count_include_pad": False}),
    ((3, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 5}),
    ((2, 2, 7, 5, 6), {"kernel_size": (2, 3, 2), "stride": 3, "ceil_mode": True,
                       "count_include_pad": False}),
]


@pytest.mark.parametrize("x_shape, kwargs", AVG_POOL)
def test_avg_pool3d_matches_torch(device, x_shape, kwargs):
    check_op(lambda x: avg_pool3d(x, **kwargs), lambda x: TF.avg_pool3d(x, **kwargs),
             [x_shape], device=device, gradcheck=False)


ADAPTIVE = [((2, 3, 5, 6, 7), (2, 4, 3)), ((2, 3, 5, 6, 7), 1), ((3, 5, 6, 7), (1, None, 3)),
            ((1, 2, 4, 9, 5), (3, 4, 5))]


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_pool3d_matches_torch(device, x_shape, output_size):
    check_op(lambda x: adaptive_avg_pool3d(x, output_size),
             lambda x: TF.adaptive_avg_pool3d(x, output_size), [x_shape], device=device,
             gradcheck=False)
    check_op(lambda x: adaptive_max_pool3d(x, output_size),
             lambda x: TF.adaptive_max_pool3d(x, output_size), [x_shape], device=device,
             gradcheck=False)
    x = np.random.default_rng(1).standard_normal(x_shape)
    _, index = adaptive_max_pool3d(tg.tensor(x, device=device), output_size, True)
    _, expected = TF.adaptive_max_pool3d(torch.tensor(x), output_size, True)
    np.testing.assert_array_equal(index.numpy(), expected.numpy())


def test_pool3d_numerical_gradients():
    x = tg.tensor(np.random.default_rng(2).standard_normal((1, 2, 3, 4, 5)), requires_grad=True)
    for fn in (lambda x: max_pool3d(x, 2, 1, 1, ceil_mode=True),
               lambda x: max_pool3d(x, (2, 2, 3), (1, 2, 1), dilation=(1, 1, 2)),
               lambda x: avg_pool3d(x, (2, 3, 2), 2, 1, True, count_include_pad=False),
               lambda x: avg_pool3d(x, 3, 2, 1, divisor_override=4),
               lambda x: adaptive_avg_pool3d(x, (2, 3, 3)),
               lambda x: adaptive_max_pool3d(x, (2, 3, 4))):
        assert tg.gradcheck(fn, [x])


@pytest.mark.parametrize("pool, torch_pool", [
    (lambda x: max_pool3d(x, 2, 1, 1), lambda x: TF.max_pool3d(x, 2, 1, 1)),
    (lambda x: avg_pool3d(x, 3, 2, 1, ceil_mode=True), lambda x: TF.avg_pool3d(x, 3, 2, 1, True)),
    (lambda x: adaptive_avg_pool3d(x, (2, 3, 2)), lambda x: TF.adaptive_avg_pool3d(x, (2, 3, 2))),
    (lambda x: adaptive_max_pool3d(x, (2, 3, 2)), lambda x: TF.adaptive_max_pool3d(x, (2, 3, 2))),
])
def test_pool3d_second_derivatives_match_torch(pool, torch_pool):
    x = np.random.default_rng(3).standard_normal((2, 2, 3, 5, 4))
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = tg.grad((pool(X) ** 3).sum(), X, create_graph=True)
    (tg_,) = torch.autograd.grad((torch_pool(T) ** 3).sum(), T, create_graph=True)
    (h,) = tg.grad((g * g).sum(), X)
    (th,) = torch.autograd.grad((tg_ * tg_).sum(), T)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-9, atol=1e-12)


def test_max_pools_pad_with_minus_infinity_and_follow_torch_on_nan():
    x = -1 - np.random.default_rng(4).random((1, 2, 3, 4, 5))  # all negative: padding never wins
    y = max_pool3d(tg.tensor(x), 3, 1, 1)
    np.testing.assert_array_equal(y.numpy(), TF.max_pool3d(torch.tensor(x), 3, 1, 1).numpy())
    x[0, 0, 1, 2, 3] = x[0, 1, 0, 0, 0] = x[0, 1, 2, 3, 4] = np.nan
    for ours, theirs in ((lambda t: max_pool3d(t, 2, 1, 1, return_indices=True),
                          lambda t: TF.max_pool3d(t, 2, 1, 1, return_indices=True)),
                         (lambda t: adaptive_max_pool3d(t, (2, 2, 3), True),
                          lambda t: TF.adaptive_max_pool3d(t, (2, 2, 3), True))):
        (y, i), (ty, ti) = ours(tg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_array_equal(y.numpy(), ty.numpy())  # NaN where torch has NaN
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool3d_ties_take_the_first_and_float32_stays_float32():
    x = np.zeros((1, 1, 2, 2, 2), dtype=np.float32)
    y, i = max_pool3d(tg.tensor(x), 2, return_indices=True)
    assert y.dtype == np.float32 and i.tolist() == [[[[[0]]]]]
    x = tg.tensor(np.random.default_rng(5).standard_normal((2, 3, 4, 4, 4)).astype(np.float32),
                  requires_grad=True)
    for fn in (lambda x: max_pool3d(x, 2), lambda x: avg_pool3d(x, 2),
               lambda x: adaptive_avg_pool3d(x, 3), lambda x: adaptive_max_pool3d(x, 3)):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("ours, theirs", [
    (pooling.MaxPool3d(2), torch.nn.MaxPool3d(2)),
    (pooling.MaxPool3d((1, 2, 3), stride=(1, 1, 2), padding=(0, 1, 1), dilation=(2, 1, 1),
                       ceil_mode=True),
     torch.nn.MaxPool3d((1, 2, 3), stride=(1, 1, 2), padding=(0, 1, 1), dilation=(2, 1, 1),
                        ceil_mode=True)),
    (pooling.AvgPool3d(2), torch.nn.AvgPool3d(2)),
    (pooling.AvgPool3d((2, 2, 3), 1, 1, True, False, 3),
     torch.nn.AvgPool3d((2, 2, 3), 1, 1, True, False, 3)),
    (pooling.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3))),
    (pooling.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2)),
])
def test_pool3d_modules_are_torch_modules(ours, theirs):
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 6, 7))
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                               rtol=1e-12, atol=1e-14)


def test_pool3d_modules_return_indices():
    x = np.random.default_rng(7).standard_normal((2, 5, 6, 7))  # unbatched (C, D, H, W)
    for ours, theirs in ((pooling.MaxPool3d(2, return_indices=True),
                          torch.nn.MaxPool3d(2, return_indices=True)),
                         (pooling.AdaptiveMaxPool3d((2, 3, 3), return_indices=True),
                          torch.nn.AdaptiveMaxPool3d((2, 3, 3), return_indices=True))):
        (y, i), (ty, ti) = ours(tg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("build, error, message", [
    (lambda: max_pool3d(tg.randn(2, 3, 4, 5), 5), ValueError,
     r"max_pool3d: kernel \(5, 5, 5\) with stride \(5, 5, 5\), padding \(0, 0, 0\) and "
     r"dilation \(1, 1, 1\) gives output size \(0, 0, 1\) for input of size \(3, 4, 5\)"),
    (lambda: max_pool3d(tg.randn(2, 3, 4, 5), 2, padding=(0, 2, 0)), ValueError,
     r"max_pool3d: padding \(0, 2, 0\) must be >= 0 and at most half the kernel size"),
    (lambda: max_pool3d(tg.randn(4, 5, 6), 2), ValueError,
     r"max_pool3d: expected a 4-d \(C, D, H, W\) or 5-d \(N, C, D, H, W\) input, got shape "
     r"\(4, 5, 6\)"),
    (lambda: max_pool3d(tg.randn(1, 2, 4, 4, 4), (2, 2)), ValueError,
     r"max_pool3d: kernel_size must be an int or a triple of ints \(D, H, W\)"),
    (lambda: max_pool3d(tg.randn(1, 2, 4, 4, 4), 2, stride=0), ValueError,
     "max_pool3d: stride should not be zero"),
    (lambda: avg_pool3d(tg.tensor(np.ones((1, 2, 4, 4, 4), dtype=np.int64)), 2), TypeError,
     "avg_pool3d: expected a floating-point input, got dtype int64"),
    (lambda: avg_pool3d(tg.randn(1, 2, 4, 4, 4), 2, divisor_override=0), ValueError,
     "avg_pool3d: divisor_override must be a non-zero int or None, got 0"),
    (lambda: avg_pool3d(tg.randn(1, 2, 0, 4, 4), 2), ValueError,
     r"avg_pool3d: expected a non-empty input apart from the batch dim, got shape "
     r"\(1, 2, 0, 4, 4\)"),
    (lambda: adaptive_avg_pool3d(tg.randn(1, 2, 4, 4, 4), (2, 2)), ValueError,
     r"adaptive_avg_pool3d: output_size must be an int or a triple \(OD, OH, OW\)"),
    (lambda: adaptive_max_pool3d(tg.randn(1, 2, 4, 4, 4), (2, 0, 2)), ValueError,
     "adaptive_max_pool3d: output_size must be >= 1"),
])
def test_pool3d_errors_name_the_op_and_the_shapes(build, error, message):
    with pytest.raises(error, match=message):
        build()


# ----------------------------------------------------------------------------------------------
# BatchNorm3d and InstanceNorm3d
# ----------------------------------------------------------------------------------------------


def _torch_copy(ours, theirs):
    state = {k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()}
    theirs.double().load_state_dict(state)
    return theirs


def _step(ours, theirs, x, seed):
    """One forward and backward of both with the same upstream gradient; compares y, dx and
    the parameter gradients."""
    X, T = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(X), theirs(T)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-10)
    upstream = np.random.default_rng(seed).standard_normal(ty.shape)
    (y * tg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-8, atol=1e-10)
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-8, atol=1e-10)
        p.grad = tp.grad = None


def _same_state(ours, theirs):
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.numpy(), state[k].numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", ["reference", "numba"])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False},
                                    {"track_running_stats": False}, {"bias": False}])
def test_batch_norm3d_trains_and_evaluates_like_torch(kernel, kwargs):
    rng = np.random.default_rng(8)
    with tg.use_kernel(kernel):
        ours = normalization.BatchNorm3d(3, dtype=tg.float64, **kwargs)
        if ours.weight is not None:  # not the identity: the affine step shows in the check
            ours.weight.data[...] = rng.uniform(0.5, 1.5, 3)
        if ours.bias is not None:
            ours.bias.data[...] = rng.standard_normal(3)
        theirs = _torch_copy(ours, torch.nn.BatchNorm3d(3, **kwargs))
        assert repr(ours) == repr(theirs)
        for step in range(2):  # the running statistics after two batches
            _step(ours, theirs, 2 + rng.standard_normal((2, 3, 3, 4, 5)), step)
        _same_state(ours, theirs)
        ours.eval()
        theirs.eval()
        _step(ours, theirs, rng.standard_normal((2, 3, 3, 4, 5)), 3)
        _same_state(ours, theirs)


@pytest.mark.parametrize("kwargs", [{}, {"affine": True}, {"track_running_stats": True},
                                    {"affine": True, "track_running_stats": True,
                                     "momentum": 0.3}])
def test_instance_norm3d_trains_and_evaluates_like_torch(kwargs):
    rng = np.random.default_rng(9)
    ours = normalization.InstanceNorm3d(3, dtype=tg.float64, **kwargs)
    if ours.weight is not None:
        ours.weight.data[...] = rng.uniform(0.5, 1.5, 3)
        ours.bias.data[...] = rng.standard_normal(3)
    theirs = _torch_copy(ours, torch.nn.InstanceNorm3d(3, **kwargs))
    assert repr(ours) == repr(theirs)
    for step in range(2):
        _step(ours, theirs, 1 + rng.standard_normal((2, 3, 3, 4, 5)), step)
    _step(ours, theirs, rng.standard_normal((3, 2, 4, 3)), 2)  # unbatched (C, D, H, W)
    _same_state(ours, theirs)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal((2, 3, 3, 4, 5)), 3)
    _same_state(ours, theirs)


def test_norm3d_numerical_gradients():
    x = tg.tensor(np.random.default_rng(10).standard_normal((2, 2, 2, 3, 2)), requires_grad=True)
    bn = normalization.BatchNorm3d(2, dtype=tg.float64)
    inorm = normalization.InstanceNorm3d(2, affine=True, dtype=tg.float64)
    assert tg.gradcheck(bn, [x])
    assert tg.gradcheck(inorm, [x])
    bn.eval()
    assert tg.gradcheck(bn, [x])


def test_norm3d_state_dict_keys_and_errors():
    assert list(normalization.BatchNorm3d(4).state_dict()) == \
        list(torch.nn.BatchNorm3d(4).state_dict())
    for kwargs in ({}, {"affine": True, "track_running_stats": True}):
        assert list(normalization.InstanceNorm3d(4, **kwargs).state_dict()) == \
            list(torch.nn.InstanceNorm3d(4, **kwargs).state_dict())
    with pytest.raises(ValueError, match=r"BatchNorm3d\(4\): expected 5D \(N, C, D, H, W\) "
                       r"input, got a 4D input of shape \(4, 3, 3, 3\)"):
        normalization.BatchNorm3d(4)(tg.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm3d\(4\): input has 3 channels \(dim 1\), "
                       r"expected 4"):
        normalization.BatchNorm3d(4)(tg.randn(2, 3, 3, 3, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm3d\(4\): expected 4D \(C, D, H, W\) or "
                       r"5D \(N, C, D, H, W\) input, got a 3D input"):
        normalization.InstanceNorm3d(4)(tg.randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm3d\(4\): expected input's size at "
                       r"dim=1 to match num_features \(4\), but got 3"):
        normalization.InstanceNorm3d(4, affine=True)(tg.randn(2, 3, 3, 3, 3))


# ----------------------------------------------------------------------------------------------
# Padding
# ----------------------------------------------------------------------------------------------

PADS = [
    (padding.ZeroPad3d, torch.nn.ZeroPad3d, ((1, 0, 2, 1, 0, 2),)),
    (padding.ZeroPad3d, torch.nn.ZeroPad3d, (1,)),
    (padding.ConstantPad3d, torch.nn.ConstantPad3d, ((2, 1, 0, 1, 1, 0), 0.5)),
    (padding.ConstantPad3d, torch.nn.ConstantPad3d, (1, -2.0)),
    (padding.ReflectionPad3d, torch.nn.ReflectionPad3d, ((2, 1, 0, 2, 1, 2),)),
    (padding.ReflectionPad3d, torch.nn.ReflectionPad3d, (1,)),
    (padding.ReplicationPad3d, torch.nn.ReplicationPad3d, ((3, 0, 1, 2, 4, 1),)),
    (padding.CircularPad3d, torch.nn.CircularPad3d, ((3, 1, 0, 2, 1, 3),)),
    (padding.CircularPad3d, torch.nn.CircularPad3d, (2,)),
]


@pytest.mark.parametrize("ours, theirs, args", PADS)
@pytest.mark.parametrize("x_shape", [(2, 3, 3, 4, 5), (3, 4, 3, 5)])
def test_pad3d_layers_are_torch_layers(device, ours, theirs, args, x_shape):
    ours, theirs = ours(*args), theirs(*args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    check_op(ours, theirs, [x_shape], device=device, gradcheck=False)


def test_pad3d_numerical_gradients():
    x = tg.tensor(np.random.default_rng(11).standard_normal((1, 2, 2, 3, 3)), requires_grad=True)
    for layer in (padding.ReflectionPad3d((1, 2, 0, 1, 1, 0)),
                  padding.ReplicationPad3d((2, 1, 1, 0, 0, 2)),
                  padding.CircularPad3d((1, 1, 2, 0, 1, 1)),
                  padding.ConstantPad3d(1, 3.0)):
        assert tg.gradcheck(layer, [x])


def test_pad3d_errors():
    with pytest.raises(ValueError, match=r"ReflectionPad3d: padding must be an int or a tuple "
                       r"of 6 ints, got \(1, 1, 1, 1\)"):
        padding.ReflectionPad3d((1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: reflect padding must be smaller than the size of "
                       r"its dim, got padding \(3, 3\) for dim 2 of size 3"):
        padding.ReflectionPad3d((0, 0, 0, 0, 3, 3))(tg.randn(1, 2, 3, 4, 5))
    with pytest.raises(NotImplementedError, match="pad: mode 'replicate' pads the last 1, 2 or 3 "
                       "dims of a"):
        padding.ReplicationPad3d(1)(tg.randn(3, 4, 5))
