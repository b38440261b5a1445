"""More layers against torch.nn with the same weights: Conv1d/Conv2d padding modes, InstanceNorm
(functional form, running statistics, eval mode, inputs without a batch dim), channel dropout
(Dropout1d/2d) and the activations ReLU6, Hardtanh, Hardsigmoid, Hardswish, Mish, PReLU,
Softsign and Tanhshrink (values and gradients at the kinks, gradcheck, second derivatives)."""

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op
from test_layers import compare, gradcheck_layer, twin

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as NF


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# Conv1d / Conv2d padding_mode: F.pad in that mode, then a convolution with padding 0
# ----------------------------------------------------------------------------------------------

PADDING_MODES = ["reflect", "replicate", "circular"]
CONV2D_OPTIONS = [dict(padding=1), dict(padding=(2, 1), stride=2), dict(padding="same", dilation=2),
                  dict(padding=1, groups=3, bias=False), dict(padding="valid")]


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("options", CONV2D_OPTIONS, ids=str)
def test_conv2d_padding_modes_match_torch(mode, options, device):
    torch.manual_seed(0)
    ours, theirs = twin(nn.Conv2d(3, 6, 3, padding_mode=mode, **options),
                        torch.nn.Conv2d(3, 6, 3, padding_mode=mode, **options), device)
    compare(ours, theirs, randn(2, 3, 6, 7), device)
    compare(ours, theirs, randn(3, 5, 6, seed=1), device)  # no batch dim


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("options", [dict(padding=2), dict(padding="same"),
                                     dict(padding=1, stride=2, groups=3)], ids=str)
def test_conv1d_padding_modes_match_torch(mode, options, device):
    torch.manual_seed(0)
    ours, theirs = twin(nn.Conv1d(3, 6, 3, padding_mode=mode, **options),
                        torch.nn.Conv1d(3, 6, 3, padding_mode=mode, **options), device)
    compare(ours, theirs, randn(2, 3, 9), device)
    compare(ours, theirs, randn(3, 8, seed=1), device)  # no batch dim


@pytest.mark.parametrize("mode", PADDING_MODES)
def test_conv_padding_modes_gradcheck_and_repr(mode):
    gradcheck_layer(nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode), randn(1, 2, 4, 5))
    gradcheck_layer(nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode), randn(2, 2, 5))
    for make in (lambda lib: lib.Conv2d(2, 3, 3, padding=1, padding_mode=mode),
                 lambda lib: lib.Conv1d(2, 3, 3, padding=1, padding_mode=mode)):
        assert repr(make(nn)) == repr(make(torch.nn))


def test_conv_padding_mode_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Conv2d: padding_mode must be one of ('zeros', 'reflect', 'replicate', 'circular'), "
            "but got padding_mode='mirror'")):
        nn.Conv2d(2, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv1d: padding_mode must be one of"):
        nn.Conv1d(2, 3, 3, padding_mode="zero")
    with pytest.raises(ValueError, match='ConvTranspose2d: only "zeros" padding mode'):
        nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError):  # the oracle: torch refuses a reflection wider than x
        torch.nn.Conv2d(2, 3, 3, padding=4, padding_mode="reflect")(torch.zeros(1, 2, 4, 6))
    with pytest.raises(ValueError, match=re.escape(
            "Conv2d(2, 3) with padding_mode='reflect': pad: reflect padding must be smaller than "
            "the size of its dim, got padding (4, 4) for dim 2 of size 4")):
        nn.Conv2d(2, 3, 3, padding=4, padding_mode="reflect")(tg.zeros(1, 2, 4, 6))
    with pytest.raises(ValueError, match=re.escape(
            "Conv1d(2, 3) with padding_mode='circular': pad: circular padding must be at most")):
        nn.Conv1d(2, 3, 3, padding=5, padding_mode="circular")(tg.zeros(1, 2, 4))


# ----------------------------------------------------------------------------------------------
# InstanceNorm1d / InstanceNorm2d and F.instance_norm
# ----------------------------------------------------------------------------------------------

INSTANCE_NORM_OPTIONS = [dict(), dict(affine=True), dict(affine=True, bias=False),
                         dict(track_running_stats=True, momentum=0.3),
                         dict(track_running_stats=True, momentum=None, affine=True)]


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 5)),
                                         ("InstanceNorm2d", (2, 3, 4, 5)),
                                         ("InstanceNorm2d", (3, 4, 5))], ids=str)
@pytest.mark.parametrize("options", INSTANCE_NORM_OPTIONS, ids=str)
def test_instance_norm_train_then_eval_matches_torch(name, shape, options, device):
    ours, theirs = twin(getattr(nn, name)(3, **options), getattr(torch.nn, name)(3, **options),
                        device)
    assert repr(ours) == repr(theirs)
    for step in range(2):  # training: per-sample statistics, running stats updated if tracked
        compare(ours, theirs, 2 * randn(*shape, seed=step) + 1, device)
    for key, value in theirs.state_dict().items():  # num_batches_tracked stays 0, as torch
        assert_close(ours.state_dict()[key], value, what=key)
    ours.eval()
    theirs.eval()
    compare(ours, theirs, randn(*shape, seed=5), device)


def test_batchnorm_takes_torchs_bias_keyword_from_the_shared_norm_base():
    ours, theirs = twin(nn.BatchNorm1d(3, bias=False), torch.nn.BatchNorm1d(3, bias=False))
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    compare(ours, theirs, randn(4, 3))


def test_instance_norm_gradcheck_and_second_derivatives():
    gradcheck_layer(nn.InstanceNorm2d(2, affine=True), randn(2, 2, 3, 3))
    gradcheck_layer(nn.InstanceNorm1d(3, affine=True, track_running_stats=True).eval(),
                    randn(2, 3, 4))
    x = tg.tensor(randn(2, 2, 4), requires_grad=True)
    assert tg.gradgradcheck(lambda x: NF.instance_norm(x), [x])


def test_functional_instance_norm_matches_torch():
    check_op(lambda x: NF.instance_norm(x), lambda x: TF.instance_norm(x), [(2, 3, 4, 5)])
    check_op(lambda x, w, b: NF.instance_norm(x, weight=w, bias=b, eps=1e-3),
             lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3),
             [(2, 3, 6), (3,), (3,)])
    rm, rv = randn(3), np.abs(randn(3, seed=1)) + 0.5  # use_input_stats=False: running stats
    check_op(lambda x: NF.instance_norm(x, tg.tensor(rm), tg.tensor(rv), use_input_stats=False),
             lambda x: TF.instance_norm(x, torch.tensor(rm), torch.tensor(rv),
                                        use_input_stats=False), [(2, 3, 4)],
             dtypes=(np.float64,))
    ours = [tg.tensor(rm), tg.tensor(rv)]
    theirs = [torch.tensor(rm), torch.tensor(rv)]
    x = randn(4, 3, 5, seed=2)
    NF.instance_norm(tg.tensor(x), *ours, momentum=0.2)
    TF.instance_norm(torch.tensor(x), *theirs, momentum=0.2)
    assert_close(ours[0], theirs[0], what="running_mean")  # the mean over N of each sample's
    assert_close(ours[1], theirs[1], what="running_var")  # unbiased (L - 1) statistics


def test_instance_norm_errors_and_warning():
    for shape in ((2, 3, 1), (3, 5)):  # one value per channel: torch refuses it too
        with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
            TF.instance_norm(torch.zeros(shape))
        with pytest.raises(ValueError, match=re.escape(
                "instance_norm: expected more than 1 spatial element when training, got input "
                f"of shape {shape}")):
            NF.instance_norm(tg.zeros(*shape))
    with pytest.raises(ValueError, match=re.escape(
            "InstanceNorm1d(3): expected 2D (C, L) or 3D (N, C, L) input, got a 4D input of "
            "shape (1, 3, 4, 5)")):
        nn.InstanceNorm1d(3)(tg.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match=re.escape(
            "InstanceNorm2d(4): expected input's size at dim=1 to match num_features (4), but "
            "got 3 (input shape (2, 3, 4, 5))")):
        nn.InstanceNorm2d(4, affine=True)(tg.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="instance_norm: weight must have shape"):
        NF.instance_norm(tg.zeros(2, 3, 4), weight=tg.ones(4))
    with pytest.raises(ValueError, match="use_input_stats=False needs running_mean"):
        NF.instance_norm(tg.zeros(2, 3, 4), use_input_stats=False)
    with pytest.raises(TypeError, match="InstanceNorm1d.*input has dtype float64"):
        nn.InstanceNorm1d(3, affine=True)(tg.zeros(2, 3, 4, dtype=tg.float64))
    with pytest.warns(UserWarning, match="does not match num_features"):  # unused: as torch
        y = nn.InstanceNorm1d(4)(tg.tensor(randn(2, 3, 5)))
    assert_close(y, TF.instance_norm(torch.tensor(randn(2, 3, 5))))


# ----------------------------------------------------------------------------------------------
# Dropout1d / Dropout2d / Dropout3d: whole channels
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer, shape", [(nn.Dropout1d, (300, 40, 3)), (nn.Dropout1d, (4000, 3)),
                                          (nn.Dropout2d, (300, 40, 2, 3)),
                                          (nn.Dropout3d, (300, 40, 2, 3, 2)),
                                          (nn.Dropout3d, (4000, 2, 3, 2))], ids=str)
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(layer, shape):
    tg.manual_seed(0)
    x = tg.ones(*shape, dtype=tg.float64, requires_grad=True)
    out = layer(0.3)(x)
    values = out.detach().numpy()
    unbatched = len(shape) == 2 or (layer is nn.Dropout3d and len(shape) == 4)
    channels = values.reshape(1, shape[0], -1) if unbatched else \
        values.reshape(shape[0], shape[1], -1)  # unbatched: the channels are the rows
    assert np.all(channels.min(axis=-1) == channels.max(axis=-1))  # one value per channel
    assert set(np.unique(values)) == {0.0, 1 / 0.7}
    assert abs((channels[..., 0] == 0).mean() - 0.3) < 0.03
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values)  # dx = mask / (1 - p)


def test_channel_dropout_seeding_gradcheck_eval_and_repr():
    tg.manual_seed(3)
    first = NF.dropout2d(tg.ones(4, 8, 2, 2), 0.5)
    tg.manual_seed(3)
    assert NF.dropout2d(tg.ones(4, 8, 2, 2), 0.5).tolist() == first.tolist()  # tg.manual_seed

    def same_mask_every_call(x):
        tg.manual_seed(5)
        return NF.dropout1d(x * x, 0.4)

    assert tg.gradcheck(same_mask_every_call, [tg.tensor(randn(3, 4, 2), requires_grad=True)])
    for layer, x in ((nn.Dropout1d(0.9), tg.randn(2, 3, 4)),
                     (nn.Dropout2d(0.9), tg.randn(2, 3, 4, 4))):
        assert layer.eval()(x).tolist() == x.tolist()  # eval: the identity
    assert NF.dropout2d(tg.ones(2, 3, 2, 2), 0.7, training=False).tolist() == \
        tg.ones(2, 3, 2, 2).tolist()
    assert NF.dropout1d(tg.ones(2, 3, 2), 1.0).tolist() == tg.zeros(2, 3, 2).tolist()
    assert NF.dropout1d(tg.ones(2, 3), 0.0).tolist() == tg.ones(2, 3).tolist()
    for p in (0.25, 0.5):
        assert repr(nn.Dropout1d(p)) == repr(torch.nn.Dropout1d(p))
        assert repr(nn.Dropout2d(p)) == repr(torch.nn.Dropout2d(p))
        assert repr(nn.Dropout3d(p)) == repr(torch.nn.Dropout3d(p))
    x = tg.randn(2, 3, 2, 2, 2)
    assert nn.Dropout3d(0.9).eval()(x).tolist() == x.tolist()


def test_channel_dropout_errors_and_warnings():
    with pytest.raises(ValueError, match="Dropout2d: dropout probability has to be between 0 "
                                         "and 1, but got 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout1d: dropout probability"):
        NF.dropout1d(tg.ones(2, 3), -0.1)
    with pytest.raises(RuntimeError):  # the oracle
        TF.dropout1d(torch.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match=re.escape(
            "dropout1d: expected a 2D (C, L) or 3D (N, C, L) input, got a 4D input of shape "
            "(2, 3, 4, 5)")):
        NF.dropout1d(tg.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match="dropout2d: channel dropout needs an input with at "
                                         "least 2 dims"):
        NF.dropout2d(tg.ones(4))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        tg.manual_seed(0)
        y = NF.dropout2d(tg.ones(50, 20, 3), 0.5)  # taken as (N, C, L), like torch
    assert np.all(y.numpy().min(-1) == y.numpy().max(-1))
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        assert NF.dropout2d(tg.ones(2, 3, 2, 2, 2)).shape == (2, 3, 2, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NF.dropout2d(tg.ones(2, 3, 2, 2))  # 4D: no warning
        NF.dropout3d(tg.ones(2, 3, 2, 2))  # 4D (unbatched) and 5D: no warning
        NF.dropout3d(tg.ones(2, 3, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        tg.manual_seed(0)
        y = NF.dropout3d(tg.ones(50, 20, 3), 0.5)  # unbatched, as torch: channels along dim 0
    assert np.all(y.numpy().reshape(50, -1).min(-1) == y.numpy().reshape(50, -1).max(-1))
    with pytest.warns(UserWarning):  # the oracle warns the same way
        TF.dropout3d(torch.ones(50, 20, 3), 0.5)
    with pytest.raises(ValueError, match="Dropout3d: dropout probability"):
        nn.Dropout3d(-1)


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------

KINKS = np.array([-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 7.0])  # every kink of these functions
ELEMENTWISE = ["relu6", "hardtanh", "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_functions_match_torch_including_the_kinks(name, device):
    ours, theirs = getattr(NF, name), getattr(TF, name)
    check_op(ours, theirs, None, inputs=[KINKS], gradcheck=False, device=device)
    check_op(ours, theirs, [(3, 4)], low=-8, high=8, device=device)
    check_op(ours, theirs, [(2, 5)], low=-30, high=30, gradcheck=False, device=device)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_second_derivatives(name):
    x = tg.tensor(np.random.default_rng(1).uniform(-5, 5, (3, 4)), requires_grad=True)
    assert tg.gradgradcheck(getattr(NF, name), [x])


ACTIVATION_MODULES = [
    lambda lib: lib.ReLU6(),
    lambda lib: lib.Hardtanh(),
    lambda lib: lib.Hardtanh(-2.0, 0.5),
    lambda lib: lib.Hardsigmoid(),
    lambda lib: lib.Hardswish(),
    lambda lib: lib.Mish(),
    lambda lib: lib.Softsign(),
    lambda lib: lib.Tanhshrink(),
    lambda lib: lib.PReLU(),
    lambda lib: lib.PReLU(3, init=0.1),
]


@pytest.mark.parametrize("make", ACTIVATION_MODULES)
def test_activation_modules_match_torch(make, device):
    ours, theirs = twin(make(nn), make(torch.nn), device)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, 4 * randn(2, 3, 5), device)
    compare(ours, theirs, KINKS.reshape(2, 4, 1)[:, :3] * np.ones((1, 1, 2)), device)
    gradcheck_layer(make(nn), 4 * randn(2, 3, 4), device)


def test_hardtanh_gradient_stops_at_the_bounds_unlike_clamp():
    x = tg.tensor([-1.0, -0.5, 1.0], requires_grad=True)
    NF.hardtanh(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    x.grad = None
    x.clamp(-1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("x_shape, w_shape", [((2, 3, 4), (3,)), ((2, 3, 4), (1,)),
                                              ((2, 3), ()), ((5,), (1,)), ((), (1,)),
                                              ((2, 4, 2, 3), (4,))], ids=str)
def test_prelu_matches_torch(x_shape, w_shape, device):
    check_op(NF.prelu, TF.prelu, [x_shape, w_shape], device=device)


def test_prelu_at_zero_and_errors():
    x = tg.tensor([0.0, -2.0, 3.0], requires_grad=True)
    w = tg.tensor([0.3], requires_grad=True)
    NF.prelu(x, w).sum().backward()
    assert_close(x.grad, [0.3, 0.3, 1.0])  # x = 0 takes the slope, as torch
    assert_close(w.grad, [-2.0])  # x = 0 adds nothing to the slope's gradient
    with pytest.raises(RuntimeError):  # the oracle
        TF.prelu(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=re.escape(
            "prelu: weight has 2 parameters but the input (shape (2, 3)) has 3 channels (dim 1); "
            "expected 1 or 3")):
        NF.prelu(tg.zeros(2, 3), tg.zeros(2))
    with pytest.raises(ValueError, match="prelu: expected weight to be a scalar or 1D tensor"):
        NF.prelu(tg.zeros(2, 3), tg.zeros(1, 3))
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive int"):
        nn.PReLU(0)
    with pytest.raises(TypeError, match="PReLU.*input has dtype float64"):
        nn.PReLU()(tg.zeros(2, dtype=tg.float64))


def test_hardtanh_errors_and_make_activation_names():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        TF.hardtanh(torch.zeros(2), 2.0, 1.0)  # the oracle
    with pytest.raises(ValueError, match="hardtanh: min_val cannot be greater than max_val, "
                                         "got min_val=2.0 and max_val=1.0"):
        NF.hardtanh(tg.zeros(2), 2.0, 1.0)
    with pytest.raises(ValueError, match=re.escape(
            "Hardtanh: max_val (1.0) must be greater than min_val (1.0)")):
        nn.Hardtanh(1.0, 1.0)
    for name, cls in (("relu6", nn.ReLU6), ("hardswish", nn.Hardswish), ("mish", nn.Mish),
                      ("prelu", nn.PReLU)):
        assert isinstance(nn.MLP(2, [4], 1, activation=name)[1], cls)
