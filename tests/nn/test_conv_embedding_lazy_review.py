"""Review of conv_transpose1d, conv3d, conv_transpose3d, the conv layers' padding modes,
Embedding / EmbeddingBag and the lazy layers against torch 2.13 (float64, weights copied from
torch; one random upstream gradient), with tg.gradcheck on small cases and the error messages
of bad input. Regressions of the bugs this review fixed are marked "regression"."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.autograd import grad as tg_grad
from tinygrad_edu.functional.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from tinygrad_edu.nn import lazy as L
from tinygrad_edu.nn.embedding import embedding, embedding_bag

conv_module = importlib.import_module("tinygrad_edu.functional.conv")

# torch warns that its padding="same" with an even kernel copies the input: it is the oracle here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _np(t) -> np.ndarray:
    return t.detach().numpy()


def _compare(ours_fn, torch_fn, arrays, upstream_seed=0, atol=1e-10, rtol=1e-9):
    """Forward and the gradients of every array (None: not passed) in float64, ours vs torch,
    with one random upstream gradient."""
    ours = [None if a is None else tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y = ours_fn(*ours)
    ty = torch_fn(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(_np(y), _np(ty), atol=atol, rtol=rtol, err_msg="forward")
    u = np.random.default_rng(upstream_seed).standard_normal(tuple(ty.shape))
    (y * tg.tensor(u)).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a is not None:
            np.testing.assert_allclose(_np(a.grad), _np(b.grad), atol=atol, rtol=rtol,
                                       err_msg=f"gradient of argument {k}")


# ----------------------------------------------------------------------------------------------
# functional: conv3d, conv_transpose3d, conv_transpose1d
# ----------------------------------------------------------------------------------------------

CONV3D = [  # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 4, 5, 3, 6), (6, 2, 2, 3, 1), (2, 1, 3), (1, 0, 2), (1, 1, 2), 2),
    ((1, 3, 4, 5, 3), (2, 3, 2, 1, 2), 1, "same", (2, 1, 3), 1),  # even kernels, dilation
    ((2, 2, 3, 4, 5), (4, 1, 4, 2, 3), 1, "same", 1, 2),
    ((3, 4, 5, 3), (2, 3, 3, 2, 1), (1, 2, 1), "valid", 1, 1),  # unbatched (C, D, H, W)
    ((1, 6, 3, 3, 4), (3, 2, 1, 1, 2), 2, [0, 1, 1], 1, 3),  # padding as a list
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV3D)
def test_conv3d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    torch_padding = tuple(padding) if isinstance(padding, list) else padding
    _compare(lambda x, w, b: conv3d(x, w, b, stride, padding, dilation, groups),
             lambda x, w, b: TF.conv3d(x, w, b, stride, torch_padding, dilation, groups),
             arrays)


CONV_T3D = [  # (x shape, weight shape, stride, padding, output_padding, groups, dilation)
    ((2, 4, 3, 2, 3), (4, 1, 2, 3, 2), (2, 1, 3), (1, 0, 1), (1, 0, 2), 2, (1, 2, 1)),
    ((1, 2, 2, 3, 2), (2, 3, 3, 1, 2), 1, 0, (0, 0, 1), 1, (1, 1, 2)),  # op < dilation only
    ((3, 2, 3, 2), (3, 2, 2, 2, 2), (1, 2, 2), 1, 0, 1, 1),  # unbatched
    ((2, 6, 2, 2, 2), (6, 1, 1, 2, 3), 3, (0, 1, 1), 2, 3, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, groups, dilation",
                         CONV_T3D)
def test_conv_transpose3d_matches_torch(x_shape, w_shape, stride, padding, output_padding,
                                        groups, dilation):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * groups)]
    args = (stride, padding, output_padding, groups, dilation)
    _compare(lambda x, w, b: conv_transpose3d(x, w, b, *args),
             lambda x, w, b: TF.conv_transpose3d(x, w, b, *args), arrays)


CONV_T1D = [  # (x shape, weight shape, stride, padding, output_padding, groups, dilation)
    ((2, 4, 5), (4, 3, 3), 3, 1, 2, 2, 2),
    ((3, 2, 7), (2, 1, 4), 1, 2, 1, 1, 3),  # output_padding < dilation, stride 1
    ((4, 3), (4, 2, 2), 2, 0, 1, 4, 1),  # unbatched, depthwise
    ((1, 3, 1), (3, 2, 5), (2,), (1,), (0,), 1, (1,)),  # 1-tuples
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, groups, dilation",
                         CONV_T1D)
def test_conv_transpose1d_matches_torch(x_shape, w_shape, stride, padding, output_padding,
                                        groups, dilation):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * groups)]
    args = (stride, padding, output_padding, groups, dilation)
    _compare(lambda x, w, b: conv_transpose1d(x, w, b, *args),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, *args), arrays)


def test_conv_transpose1d_without_bias_and_float32():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3)).astype(np.float32)
    y = conv_transpose1d(tg.tensor(x), tg.tensor(w), stride=2, output_padding=1)
    assert y.dtype == np.float32
    expected = TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=2, output_padding=1)
    np.testing.assert_allclose(_np(y), _np(expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fn, shapes", [
    (lambda x, w, b: conv3d(x, w, b, (1, 2, 1), 1, (2, 1, 1), 2),
     [(1, 2, 3, 3, 2), (2, 1, 2, 2, 1), (2,)]),
    (lambda x, w, b: conv3d(x, w, b, padding="same", dilation=(1, 1, 3)),
     [(1, 1, 2, 2, 4), (1, 1, 1, 2, 2), (1,)]),
    (lambda x, w, b: conv_transpose3d(x, w, b, (2, 1, 2), (1, 0, 0), (1, 0, 1), 2, 1),
     [(1, 2, 2, 2, 2), (2, 1, 2, 1, 2), (2,)]),
    (lambda x, w, b: conv_transpose1d(x, w, b, 2, 1, 1, 1, 2), [(2, 2, 3), (2, 2, 3), (2,)]),
])
def test_gradcheck(fn, shapes):
    rng = np.random.default_rng(5)
    inputs = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("ours, theirs, shapes", [
    (lambda x, w, b: conv_transpose3d(x, w, b, (2, 1, 3), (1, 0, 1), (1, 0, 2), 2, (1, 2, 1)),
     lambda x, w, b: TF.conv_transpose3d(x, w, b, (2, 1, 3), (1, 0, 1), (1, 0, 2), 2,
                                         (1, 2, 1)),
     [(2, 4, 3, 2, 3), (4, 1, 2, 2, 3), (2,)]),
    (lambda x, w, b: conv3d(x, w, b, 1, "same", (2, 1, 1)),
     lambda x, w, b: TF.conv3d(x, w, b, 1, "same", (2, 1, 1)),
     [(1, 2, 3, 4, 3), (2, 2, 2, 3, 2), (2,)]),
    (lambda x, w, b: conv_transpose1d(x, w, b, 3, 1, 2, 2, 2),
     lambda x, w, b: TF.conv_transpose1d(x, w, b, 3, 1, 2, 2, 2),
     [(2, 4, 5), (4, 3, 3), (6,)]),
])
def test_second_order_matches_torch(ours, theirs, shapes):
    """d/d(x, W) of |dL/dx|^2 + |dL/dW|^2 (create_graph=True) equals torch's."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in shapes]
    ox = [tg.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*ox), theirs(*tx)
    u = rng.standard_normal(tuple(ty.shape))
    og = tg_grad((y * tg.tensor(u)).sum(), ox[:2], create_graph=True)
    tgr = torch.autograd.grad((ty * torch.tensor(u)).sum(), tx[:2], create_graph=True)
    second = tg_grad(sum((g * g).sum() for g in og), ox[:2])
    expected = torch.autograd.grad(sum((g * g).sum() for g in tgr), tx[:2])
    for a, b in zip(second, expected, strict=True):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-9, rtol=1e-9)


def test_chunked_batch_equals_torch(monkeypatch):
    """A budget of one sample per chunk: conv3d and conv_transpose3d (a wide output_padding)
    over several chunks equal torch."""
    monkeypatch.setattr(conv_module, "IM2COL_BUDGET_BYTES", 64)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 3, 2, 3))
    w = rng.standard_normal((2, 2, 2, 1, 2))
    b = rng.standard_normal(4)
    args = (1, (1, 0, 0), (1, 0, 1), 2, (2, 1, 2))
    _compare(lambda x, w, b: conv_transpose3d(x, w, b, *args),
             lambda x, w, b: TF.conv_transpose3d(x, w, b, *args), [x, w, b])
    _compare(lambda x, w: conv3d(x, w, stride=(1, 1, 2), groups=2),
             lambda x, w: TF.conv3d(x, w, stride=(1, 1, 2), groups=2),
             [x, rng.standard_normal((4, 1, 2, 2, 2))])


@pytest.mark.parametrize("ours, theirs, x_shape, w_shape", [
    (conv_transpose1d, TF.conv_transpose1d, (0, 2, 3), (2, 4, 2)),
    (conv_transpose2d, TF.conv_transpose2d, (0, 2, 3, 2), (2, 4, 2, 1)),
    (conv1d, TF.conv1d, (0, 2, 3), (4, 2, 2)),
    (conv2d, TF.conv2d, (0, 2, 3, 3), (4, 2, 2, 2)),
    (conv3d, TF.conv3d, (0, 2, 3, 3, 2), (4, 2, 2, 2, 1)),
    (conv_transpose3d, TF.conv_transpose3d, (0, 2, 2, 2, 2), (2, 4, 2, 1, 2)),
])
def test_empty_batch_matches_torch(ours, theirs, x_shape, w_shape):
    """regression: an empty batch gave conv_transpose2d an output of shape () (no chunks, dx
    None), so conv_transpose1d raised IndexError; conv2d's dW and db were None and conv3d's
    bias gradient raised (a reshape with -1 of 0 elements). torch: (0, OC, ...) and zero dW,
    db."""
    rng = np.random.default_rng(8)
    _compare(ours, theirs, [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
                            rng.standard_normal(4)])


def test_conv2d_empty_batch_second_order_bias_gradient():
    """regression: with create_graph=True, conv2d's db of an empty batch raised in reshape."""
    x = tg.randn(0, 2, 3, 3, requires_grad=True)
    w = tg.randn(4, 2, 2, 2, requires_grad=True)
    b = tg.randn(4, requires_grad=True)
    dx, dw, db = tg_grad(conv2d(x, w, b).sum(), [x, w, b], create_graph=True)
    assert dx.shape == (0, 2, 3, 3) and dw.shape == (4, 2, 2, 2)
    np.testing.assert_array_equal(_np(db), np.zeros(4))


@pytest.mark.parametrize("call, error, message", [
    (lambda: conv3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 3, 1, 1, 1)), ValueError,
     "conv3d: input has 2 channels but weight expects 3 (x: (1, 2, 3, 3, 3), "
     "w: (2, 3, 1, 1, 1), groups=1)"),
    (lambda: conv3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 3, 3)), ValueError,
     "conv3d: weight must be a 5-d Tensor (OC, C/groups, KD, KH, KW), got (2, 2, 3, 3)"),
    (lambda: conv3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 4, 1, 1)), ValueError,
     "conv3d: kernel (4, 1, 1) with dilation (1, 1, 1) and padding (0, 0, 0) does not fit "
     "input of size (3, 3, 3)"),
    (lambda: conv3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 1, 1, 1), padding=(1, 1)),
     ValueError, "conv3d: padding must be an int or a triple of ints (D, H, W), got (1, 1)"),
    (lambda: conv3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 1, 1, 1), stride=2,
                    padding="same"),
     ValueError, "conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: conv3d(tg.randn(2, 3, 3), tg.randn(2, 2, 1, 1, 1)), ValueError,
     "conv3d: expected a 4-d (C, D, H, W) or 5-d (N, C, D, H, W) input, got shape (2, 3, 3)"),
    (lambda: conv_transpose3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 1, 1, 1),
                              output_padding=1),
     ValueError, "conv_transpose3d: output_padding (1, 1, 1) must be >= 0 and smaller than "
                 "stride (1, 1, 1) or dilation (1, 1, 1)"),
    (lambda: conv_transpose3d(tg.randn(1, 2, 3, 3, 3), tg.randn(2, 2, 1, 1, 1), tg.randn(3),
                              groups=2),
     ValueError, "conv_transpose3d: bias must have shape (out_channels,) = (4,)"),
    (lambda: conv_transpose3d(tg.randn(1, 2, 1, 1, 1), tg.randn(2, 2, 1, 1, 1), padding=1),
     ValueError, "conv_transpose3d: the output would be (-1, -1, -1) for input (1, 1, 1)"),
    (lambda: conv_transpose1d(tg.randn(1, 2, 3), tg.randn(3, 2, 1)), ValueError,
     "conv_transpose1d: input has 2 channels but weight expects 3 (x: (1, 2, 3), "
     "w: (3, 2, 1))"),
    (lambda: conv_transpose1d(tg.randn(1, 2, 3), tg.randn(2, 2, 1), padding="same"),
     ValueError, "conv_transpose1d: padding must be an int or a 1-tuple of an int, got 'same'"),
    (lambda: conv_transpose1d(tg.randn(1, 3, 3), tg.randn(3, 2, 1), groups=2), ValueError,
     "conv_transpose1d: groups=2 must be a positive int that divides the input channels 3"),
    (lambda: conv_transpose1d(tg.randn(1, 2, 1), tg.randn(2, 2, 1), padding=1), ValueError,
     "conv_transpose1d: the output length would be -1 for input length 1"),
])
def test_functional_errors_name_the_op_and_the_shapes(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ----------------------------------------------------------------------------------------------
# layers: padding modes, reprs, state_dict, errors
# ----------------------------------------------------------------------------------------------

LAYERS = [  # (dims, kwargs, input shape)
    (1, dict(kernel_size=4, padding="same", dilation=3, padding_mode="reflect"), (2, 4, 11)),
    (1, dict(kernel_size=3, padding=2, padding_mode="circular", groups=2), (4, 7)),
    (2, dict(kernel_size=(2, 3), padding="same", dilation=(3, 1), padding_mode="replicate"),
     (2, 4, 5, 6)),
    (2, dict(kernel_size=(3, 2), stride=(2, 1), padding=(2, 1), padding_mode="reflect",
             groups=2, bias=False), (1, 4, 5, 4)),
    (2, dict(kernel_size=3, padding="valid", padding_mode="circular"), (4, 5, 6)),
    (3, dict(kernel_size=(2, 1, 2), padding="same", padding_mode="circular"), (1, 4, 3, 2, 3)),
    (3, dict(kernel_size=2, stride=(1, 2, 1), padding=(1, 0, 1), padding_mode="replicate",
             groups=2), (4, 3, 4, 2)),
    (3, dict(kernel_size=(1, 2, 2), padding=1, padding_mode="reflect", dilation=(1, 2, 1)),
     (2, 4, 2, 3, 3)),
    (3, dict(kernel_size=(2, 2, 1), padding="same", dilation=(1, 1, 2)), (1, 4, 3, 3, 2)),
]


def _copy_weights(ours, theirs) -> None:
    for name, p in theirs.named_parameters():
        assert tuple(getattr(ours, name).shape) == tuple(p.shape), name
        getattr(ours, name).data[...] = _np(p)


def _check_layer(ours, theirs, x) -> None:
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_weights(ours, theirs)
    ox = tg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(ox), theirs(tx)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(_np(y), _np(ty), atol=1e-10, rtol=1e-9)
    u = np.random.default_rng(9).standard_normal(tuple(ty.shape))
    (y * tg.tensor(u)).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(_np(ox.grad), _np(tx.grad), atol=1e-10, rtol=1e-9)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(_np(getattr(ours, name).grad), _np(p.grad), atol=1e-10,
                                   rtol=1e-9, err_msg=name)


@pytest.mark.parametrize("dims, kwargs, x_shape", LAYERS)
def test_conv_layer_padding_modes_match_torch(dims, kwargs, x_shape):
    x = np.random.default_rng(10).standard_normal(x_shape)
    theirs = getattr(torch.nn, f"Conv{dims}d")(4, 6, **kwargs).double()
    ours = getattr(nn, f"Conv{dims}d")(4, 6, **kwargs, dtype=np.float64)
    _check_layer(ours, theirs, x)


@pytest.mark.parametrize("dims, args, x_shape", [
    (1, (3, 2, 1, 2, False, 2), (2, 4, 5)),  # stride, padding, output_padding, groups...
    (1, (1, 0, 1, 1, True, 2), (4, 3)),  # unbatched, output_padding < dilation
    (3, ((2, 1, 1), (1, 0, 0), (1, 0, 0), 2, True, (1, 2, 1)), (1, 4, 2, 3, 2)),
    (3, ((1, 1, 2), (0, 0, 1), 0, 4, False), (4, 2, 2, 3)),  # unbatched, depthwise
])
def test_conv_transpose_layers_match_torch(dims, args, x_shape):
    x = np.random.default_rng(11).standard_normal(x_shape)
    kernel = (3,) if dims == 1 else (2, 1, 3)
    theirs = getattr(torch.nn, f"ConvTranspose{dims}d")(4, 8, kernel, *args).double()
    ours = getattr(nn, f"ConvTranspose{dims}d")(4, 8, kernel, *args, dtype=np.float64)
    _check_layer(ours, theirs, x)


def test_numpy_int_channel_counts_like_torch():
    """regression: Conv*d refused NumPy ints for in_channels / out_channels / groups (torch,
    and Linear here, take them)."""
    ours = nn.Conv3d(np.int64(4), np.int32(2), 1, groups=np.int64(2))
    theirs = torch.nn.Conv3d(np.int64(4), np.int32(2), 1, groups=np.int64(2))
    assert repr(ours) == repr(theirs)
    assert type(ours.in_channels) is int and ours.weight.shape == (2, 2, 1, 1, 1)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.Conv3d(3, 4, 3)(tg.randn(1, 2, 5, 5, 5)), ValueError,
     "Conv3d(3, 4): expected input (N, 3, D, H, W) or (3, D, H, W), got shape "
     "(1, 2, 5, 5, 5)"),
    (lambda: nn.ConvTranspose1d(3, 4, 3)(tg.randn(1, 3, 5, 5)), ValueError,
     "ConvTranspose1d(3, 4): expected input (N, 3, L) or (3, L), got shape (1, 3, 5, 5)"),
    (lambda: nn.Conv1d(3, 4, 3, padding=4, padding_mode="reflect")(tg.randn(1, 3, 3)),
     ValueError, "Conv1d(3, 4) with padding_mode='reflect': pad: reflect padding must be "
                 "smaller than the size of its dim"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError,
     "Conv2d: padding_mode must be one of ('zeros', 'reflect', 'replicate', 'circular'), but "
     "got padding_mode='mirror'"),
    (lambda: nn.ConvTranspose3d(3, 4, 3, padding_mode="reflect"), ValueError,
     "ConvTranspose3d: only \"zeros\" padding mode is supported"),
    (lambda: nn.ConvTranspose3d(3, 4, 3, padding="same"), ValueError,
     "ConvTranspose3d: padding must be an int or a triple of ints (padding strings are for "
     "Conv1d, Conv2d and Conv3d only), got 'same'"),
    (lambda: nn.Conv3d(3, 4, 3, stride=2, padding="same"), ValueError,
     "Conv3d: padding='same' is not supported for strided convolutions (stride (2, 2, 2))"),
    (lambda: nn.Conv3d(3, 4, (3, 3)), ValueError,
     "Conv3d: kernel_size must be an int or a triple of ints (D, H, W), got (3, 3)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     "Conv2d: groups=4 must divide in_channels=4 and out_channels=6"),
    (lambda: nn.Conv2d(4, 6, 3, groups=1.5), ValueError,
     "Conv2d: groups=1.5 must divide in_channels=4 and out_channels=6 (a positive int)"),
    (lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, output_padding=2), ValueError,
     "ConvTranspose1d: output_padding must be >= 0 and smaller than stride or dilation"),
    (lambda: nn.Conv3d(3, 4, 1)(tg.randn(1, 3, 2, 2, 2).double()), TypeError,
     "Conv3d(3, 4): input has dtype float64 but the parameters are float32"),
])
def test_layer_errors_name_the_layer_and_the_shapes(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(padding_idx=1),
    dict(padding_idx=-1, scale_grad_by_freq=True),
    dict(max_norm=1.5),
    dict(max_norm=0.7, norm_type=1.0, padding_idx=0),
    dict(max_norm=1.0, norm_type=float("inf"), scale_grad_by_freq=True),
])
def test_embedding_module_matches_torch(kwargs):
    """Forward, dW (padding row none, scale_grad_by_freq divides by each row's count) and the
    table after max_norm's in-place renormalization (only the rows looked up)."""
    rng = np.random.default_rng(12)
    W = rng.standard_normal((6, 3)) * 2
    ids = np.array([[1, 4, 1], [5, 0, 1]])
    theirs = torch.nn.Embedding(6, 3, **kwargs).double()
    ours = nn.Embedding(6, 3, **kwargs, dtype=np.float64)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(W))
    ours.weight.data[...] = W
    y, ty = ours(tg.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-12)
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight), rtol=1e-12)
    if "max_norm" in kwargs:  # row 2 and 3 are not looked up: unchanged
        np.testing.assert_array_equal(_np(ours.weight)[2:4], W[2:4])
        assert not np.allclose(_np(ours.weight), W)
    u = rng.standard_normal(tuple(ty.shape))
    (y * tg.tensor(u)).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(_np(ours.weight.grad), _np(theirs.weight.grad), rtol=1e-12)


def test_functional_embedding_matches_torch_and_checks_padding_idx():
    """F.embedding with max_norm changes the table in place as torch; padding_idx out of range
    is an error (regression: it was silently ignored; torch asserts)."""
    rng = np.random.default_rng(13)
    W = rng.standard_normal((5, 4)) * 3
    ours, theirs = tg.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    ids = np.array([3, 0, 3, 2])
    y = embedding(tg.tensor(ids), ours, padding_idx=-2, max_norm=2.0, scale_grad_by_freq=True)
    ty = TF.embedding(torch.tensor(ids), theirs, padding_idx=-2, max_norm=2.0,
                      scale_grad_by_freq=True)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-12)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(_np(ours.grad), _np(theirs.grad), rtol=1e-12)
    assert not _np(ours.grad)[3].any()  # padding row -2 = 3
    with pytest.raises(ValueError, match=re.escape(
            "embedding: padding_idx 5 must be within [-5, 5) (weight shape (5, 4))")):
        embedding(tg.tensor([1]), ours, padding_idx=5)
    with pytest.raises(NotImplementedError, match="embedding: sparse gradients"):
        embedding(tg.tensor([1]), ours, sparse=True)


def test_embedding_from_pretrained_freeze_and_padding():
    W = np.arange(12.0).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(tg.tensor(W))
    assert not frozen.weight.requires_grad
    trainable = nn.Embedding.from_pretrained(tg.tensor(W), freeze=False, padding_idx=1,
                                             max_norm=5.0)
    torch_emb = torch.nn.Embedding.from_pretrained(torch.tensor(W), freeze=False, padding_idx=1,
                                                   max_norm=5.0)
    assert trainable.weight.requires_grad and repr(trainable) == repr(torch_emb)
    np.testing.assert_array_equal(_np(trainable.weight)[1], W[1])  # not zeroed, as torch
    y = trainable(tg.tensor([1, 2]))
    ty = torch_emb(torch.tensor([1, 2]))
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# EmbeddingBag
# ----------------------------------------------------------------------------------------------

BAGS = [  # (input, offsets, mode, include_last_offset, padding_idx, per_sample_weights)
    ([2, 0, 4, 4, 1, 3], [0, 2, 2, 5], "sum", False, None, True),  # an empty bag
    ([2, 0, 4, 4, 1, 3], [0, 2, 2, 5, 6], "mean", True, 4, False),  # CSR offsets
    ([4, 4, 1, 4, 0, 2, 2], [0, 2, 3], "max", False, 4, False),  # a bag of padding only
    ([[1, 3, 3], [0, 4, 2]], None, "mean", False, 3, False),  # 2-d input
    ([[1, 3, 3], [0, 4, 2]], None, "sum", False, -1, True),
    ([[2, 2], [2, 1]], None, "max", False, None, False),
    ([3, 1, 0, 1], [0, 0, 4], "sum", True, 1, True),
]


@pytest.mark.parametrize("ids, offsets, mode, include_last_offset, padding_idx, psw", BAGS)
def test_embedding_bag_matches_torch(ids, offsets, mode, include_last_offset, padding_idx, psw):
    rng = np.random.default_rng(14)
    W = np.round(rng.standard_normal((5, 3)) * 2) / 2  # ties for max
    ids = np.array(ids)
    arrays = [W, rng.standard_normal(ids.shape) if psw else None]
    ours_offsets = None if offsets is None else tg.tensor(offsets)
    torch_offsets = None if offsets is None else torch.tensor(offsets)
    kwargs = dict(mode=mode, include_last_offset=include_last_offset, padding_idx=padding_idx)
    _compare(lambda w, p: embedding_bag(tg.tensor(ids), w, ours_offsets,
                                        per_sample_weights=p, **kwargs),
             lambda w, p: TF.embedding_bag(torch.tensor(ids), w, torch_offsets,
                                           per_sample_weights=p, **kwargs), arrays)


def test_embedding_bag_module_matches_torch_and_gradcheck():
    rng = np.random.default_rng(15)
    ours = nn.EmbeddingBag(6, 2, mode="sum", padding_idx=2, dtype=np.float64)
    theirs = torch.nn.EmbeddingBag(6, 2, mode="sum", padding_idx=2).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == ["weight"]
    assert not _np(ours.weight)[2].any()  # the padding row starts at zero
    W = rng.standard_normal((6, 2))
    ours.weight.data[...] = W
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(W))
    ids, offsets = np.array([5, 2, 1, 1, 0]), np.array([0, 1, 4])
    psw = rng.standard_normal(5)
    op, tp = tg.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    y = ours(tg.tensor(ids), tg.tensor(offsets), per_sample_weights=op)
    ty = theirs(torch.tensor(ids), torch.tensor(offsets), per_sample_weights=tp)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(_np(op.grad), _np(tp.grad), rtol=1e-12)
    np.testing.assert_allclose(_np(ours.weight.grad), _np(theirs.weight.grad), rtol=1e-12)
    assert tg.gradcheck(lambda w, p: embedding_bag(tg.tensor(ids), w, tg.tensor(offsets),
                                                   mode="sum", per_sample_weights=p),
                        [tg.tensor(W, requires_grad=True), tg.tensor(psw, requires_grad=True)])


@pytest.mark.parametrize("call, error, message", [
    (lambda: embedding_bag(tg.tensor([1, 2]), tg.randn(5, 3), tg.tensor([0]), mode="max",
                           per_sample_weights=tg.randn(2)),
     NotImplementedError, "per_sample_weights is only supported for mode='sum' (got "
                          "mode='max')"),
    (lambda: embedding_bag(tg.tensor([1, 2]), tg.randn(5, 3), tg.tensor([0]), mode="sum",
                           per_sample_weights=tg.randn(3)),
     ValueError, "embedding_bag: per_sample_weights (3,) must have the same shape as the "
                 "input (2,)"),
    (lambda: embedding_bag(tg.tensor([1, 2, 3]), tg.randn(5, 3), tg.tensor([0, 2, 1])),
     ValueError, "embedding_bag: offsets must be non-decreasing, got [0, 2, 1]"),
    (lambda: nn.EmbeddingBag(5, 3)(tg.tensor([[1, 2]]), tg.tensor([0])), ValueError,
     "EmbeddingBag(5, 3): if input is 2D, then offsets has to be None"),
    (lambda: nn.EmbeddingBag(5, 3)(tg.tensor([1, 5]), tg.tensor([0])), IndexError,
     "EmbeddingBag(5, 3): index 5 is out of range [0, 5) (indices shape (2,), weight shape "
     "(5, 3))"),
    (lambda: nn.EmbeddingBag(5, 3, scale_grad_by_freq=True), NotImplementedError,
     "EmbeddingBag: scale_grad_by_freq and sparse are not implemented"),
    (lambda: nn.Embedding(5, 3, sparse=True), NotImplementedError,
     "Embedding: sparse gradients are not implemented"),
])
def test_embedding_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ----------------------------------------------------------------------------------------------
# Lazy layers
# ----------------------------------------------------------------------------------------------

LAZY = [  # (ours, torch's, input shape)
    (lambda: L.LazyConv2d(4, (3, 2), groups=2, padding=1, padding_mode="reflect"),
     lambda: torch.nn.LazyConv2d(4, (3, 2), groups=2, padding=1, padding_mode="reflect"),
     (2, 6, 5, 4)),
    (lambda: L.LazyConv1d(3, 4, padding="same", dilation=3),
     lambda: torch.nn.LazyConv1d(3, 4, padding="same", dilation=3), (5, 9)),
    (lambda: L.LazyConvTranspose3d(4, (1, 2, 3), groups=2, stride=(1, 2, 1), bias=False),
     lambda: torch.nn.LazyConvTranspose3d(4, (1, 2, 3), groups=2, stride=(1, 2, 1),
                                          bias=False), (6, 2, 3, 2)),
    (lambda: L.LazyConvTranspose1d(2, 3, stride=2, output_padding=1),
     lambda: torch.nn.LazyConvTranspose1d(2, 3, stride=2, output_padding=1), (2, 3, 4)),
    (lambda: L.LazyBatchNorm2d(affine=False), lambda: torch.nn.LazyBatchNorm2d(affine=False),
     (2, 3, 4, 2)),
    (lambda: L.LazyBatchNorm1d(bias=False), lambda: torch.nn.LazyBatchNorm1d(bias=False),
     (4, 3)),
]


@pytest.mark.parametrize("make, make_torch, x_shape", LAZY)
def test_lazy_state_dict_before_and_after_and_forward(make, make_torch, x_shape):
    ours, theirs = make(), make_torch()
    assert repr(ours) == repr(theirs)
    before = ours.state_dict()
    assert list(before) == list(theirs.state_dict())
    assert all(L.is_lazy(before[k]) for k in before if k != "num_batches_tracked")
    x = np.random.default_rng(16).standard_normal(x_shape).astype(np.float32)
    y, ty = ours(tg.tensor(x)), theirs(torch.tensor(x))
    assert repr(ours) == repr(theirs) and type(ours).__name__ == type(theirs).__name__
    assert tuple(y.shape) == tuple(ty.shape)
    ours_state, torch_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(torch_state)
    for key in ours_state:
        assert tuple(ours_state[key].shape) == tuple(torch_state[key].shape), key


def test_lazy_reset_parameters_dtype_and_regular_forward():
    m = L.LazyConv3d(2, (2, 1, 2), dtype=np.float64)
    x = tg.randn(1, 3, 3, 2, 3, dtype=np.float64)
    y = m(x)
    assert type(m) is nn.Conv3d and m.weight.dtype == np.float64 and m.bias.dtype == np.float64
    regular = nn.Conv3d(3, 2, (2, 1, 2), dtype=np.float64)
    regular.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(_np(y), _np(regular(x)))
    before = _np(m.weight).copy()
    m.reset_parameters()
    bound = 1 / np.sqrt(3 * 2 * 1 * 2)
    assert not np.array_equal(before, _np(m.weight)) and np.abs(_np(m.weight)).max() <= bound


@pytest.mark.parametrize("make, source", [
    (lambda: L.LazyConv3d(4, 2, groups=2), lambda: nn.Conv3d(6, 4, 2, groups=2)),
    (lambda: L.LazyConvTranspose3d(4, (1, 2, 1)), lambda: nn.ConvTranspose3d(3, 4, (1, 2, 1))),
    (lambda: L.LazyInstanceNorm2d(), lambda: nn.InstanceNorm2d(5, affine=True,
                                                               track_running_stats=True)),
    (lambda: L.LazyBatchNorm3d(affine=False), lambda: nn.BatchNorm3d(2, affine=False)),
])
def test_load_state_dict_into_an_uninitialized_lazy_module(make, source):
    m, regular = make(), source()
    m.load_state_dict(regular.state_dict())
    assert type(m) is type(regular) and repr(m) == repr(regular)
    for (name, a), (_, b) in zip(m.state_dict().items(), regular.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data), err_msg=name)


@pytest.mark.parametrize("make, source, message", [
    (lambda: L.LazyLinear(3), lambda: nn.Linear(5, 4),
     "size mismatch for weight: checkpoint has shape (4, 5), the model has (3, 5)"),
    (lambda: L.LazyConv2d(4, 3), lambda: nn.Conv2d(2, 4, 2),
     "size mismatch for weight: checkpoint has shape (4, 2, 2, 2), the model has "
     "(4, 2, 3, 3)"),
])
def test_load_state_dict_of_another_shape_is_a_size_mismatch(make, source, message):
    """regression: the lazy layer took the checkpoint's shapes whatever they were, e.g. a
    "Linear(in_features=5, out_features=3)" holding a (4, 5) weight (torch too materializes
    them silently); now the shapes follow the layer's arguments and the load reports it."""
    with pytest.raises(RuntimeError, match=re.escape(message)):
        make().load_state_dict(source().state_dict())


def test_partial_load_keeps_its_values_at_the_first_forward():
    """regression: load_state_dict(strict=False) with only the bias, then a forward: the
    forward's reset_parameters overwrote the loaded bias (torch raises here)."""
    m = L.LazyConv2d(4, 3)
    m.load_state_dict({"bias": tg.tensor([0.5, 1.0, 1.5, 2.0])}, strict=False)
    assert L.is_lazy(m.weight)
    m(tg.randn(1, 2, 4, 4))
    assert type(m) is nn.Conv2d and m.weight.shape == (4, 2, 3, 3)
    np.testing.assert_array_equal(_np(m.bias), [0.5, 1.0, 1.5, 2.0])
    norm = L.LazyBatchNorm1d()
    norm.load_state_dict({"running_mean": tg.ones(3), "num_batches_tracked": tg.tensor(7)},
                         strict=False)
    norm(tg.zeros(4, 3))
    np.testing.assert_allclose(_np(norm.running_mean), np.full(3, 0.9), rtol=1e-6)
    assert int(norm.num_batches_tracked.numpy()) == 8


def test_lazy_conv_groups_error_names_what_was_given():
    """regression: LazyConv2d(3, 3, groups=2) said "groups=2 must divide in_channels=2", the
    placeholder in_channels, not an argument of the caller."""
    with pytest.raises(ValueError, match=re.escape(
            "LazyConv2d: groups=2 must divide out_channels=3")):
        L.LazyConv2d(3, 3, groups=2)
    with pytest.raises(ValueError, match=re.escape(
            "LazyConvTranspose1d: the input has 3 channels, which groups=2 must divide "
            "(input shape (1, 3, 4))")):
        L.LazyConvTranspose1d(4, 3, groups=2)(tg.randn(1, 3, 4))
