"""Review of nn/activation.py, nn/dropout.py and nn/init.py against torch 2.13 (the oracle).

Deterministic activations: values and gradients at the special points (0, the kinks, large
magnitudes, +-inf, NaN) in float64 and float32, with one upstream gradient for both libraries.
Random layers and initializers: statistics, shapes and invariants. Reprs, integer inputs and
error messages are compared with torch's."""

import math
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn
from tinygrad_edu.nn import init

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf and NaN

SPECIAL = np.array([-np.inf, -1e4, -30.0, -20.5, -20.0, -6.0, -3.0, -2.5, -1.0, -0.5, -1e-8, 0.0,
                    1e-8, 0.5, 1.0, 2.5, 3.0, 6.0, 20.0, 20.5, 30.0, 1e4, np.inf])

MODULES = {
    "ReLU": lambda lib: lib.ReLU(),
    "ReLU6": lambda lib: lib.ReLU6(),
    "LeakyReLU": lambda lib: lib.LeakyReLU(0.2),
    "ELU": lambda lib: lib.ELU(2.0),
    "SELU": lambda lib: lib.SELU(),
    "CELU": lambda lib: lib.CELU(0.5),
    "GELU": lambda lib: lib.GELU(),
    "GELU_tanh": lambda lib: lib.GELU("tanh"),
    "SiLU": lambda lib: lib.SiLU(),
    "Mish": lambda lib: lib.Mish(),
    "Hardswish": lambda lib: lib.Hardswish(),
    "Hardtanh": lambda lib: lib.Hardtanh(-2.0, 3.0),
    "Softplus": lambda lib: lib.Softplus(beta=2.0, threshold=5.0),
    "Softsign": lambda lib: lib.Softsign(),
    "Tanhshrink": lambda lib: lib.Tanhshrink(),
    "Hardshrink": lambda lib: lib.Hardshrink(0.5),
    "Softshrink": lambda lib: lib.Softshrink(0.5),
    "Threshold": lambda lib: lib.Threshold(0.5, -7.0),
    "LogSigmoid": lambda lib: lib.LogSigmoid(),
    "RReLU_eval": lambda lib: lib.RReLU(0.1, 0.3).eval(),
}


def _run_both(name, x, dtype):
    """(ours y, torch y, ours dx, torch dx) for module ``name`` at ``x`` with one upstream dy."""
    dy = np.linspace(0.5, 1.5, x.size).astype(dtype)
    xt = tg.tensor(x.astype(dtype), requires_grad=True)
    xo = torch.tensor(x.astype(dtype), requires_grad=True)
    yt = MODULES[name](nn)(xt)
    yo = MODULES[name](torch.nn)(xo)
    (yt * tg.tensor(dy)).sum().backward()
    (yo * torch.tensor(dy)).sum().backward()
    return yt.detach().numpy(), yo.detach().numpy(), xt.grad.numpy(), xo.grad.numpy()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_values_and_gradients_match_torch_at_special_points_float64(name):
    y, y_ref, dx, dx_ref = _run_both(name, SPECIAL, "float64")
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12, err_msg=f"{name} forward")
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12, err_msg=f"{name} backward")


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"GELU"}))  # GELU(inf): torch f32 NaN
def test_values_and_gradients_match_torch_at_special_points_float32(name):
    y, y_ref, dx, dx_ref = _run_both(name, SPECIAL, "float32")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6, err_msg=f"{name} forward")
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6, err_msg=f"{name} backward")


@pytest.mark.parametrize("name", ["Hardswish", "Hardtanh", "Softshrink", "Threshold", "Mish"])
def test_nan_propagates_in_forward(name):
    y, y_ref, _, _ = _run_both(name, np.array([np.nan, 1.0]), "float64")
    assert np.isnan(y[0]) and np.isnan(y_ref[0])


# ----------------------------------------------------------------------------------------------
# Integer inputs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, args", [("relu6", ()), ("hardtanh", ()), ("hardtanh", (-2, 4)),
                                        ("threshold", (1, 9))])
def test_clamping_activations_keep_integer_dtype_like_torch(name, args):
    # bug: relu6 / hardtanh of an int64 tensor returned float64 (np.clip with float bounds)
    x = np.array([-5, -3, -1, 0, 1, 3, 5, 7])
    ours = getattr(F, name)(tg.tensor(x), *args)
    theirs = getattr(TF, name)(torch.tensor(x), *args)
    assert ours.dtype == np.int64
    assert ours.tolist() == theirs.tolist()


def test_hardtanh_keeps_float32_with_numpy_scalar_bounds():
    y = F.hardtanh(tg.tensor([-3.0, 0.5, 3.0]), np.float64(-1.0), np.float64(1.0))
    assert y.dtype == np.float32 and y.tolist() == [-1.0, 0.5, 1.0]


@pytest.mark.parametrize("name", ["hardsigmoid", "hardswish"])
def test_hard_sigmoid_swish_reject_integer_input_like_torch(name):
    # bug: returned a float64 tensor; torch raises "not implemented for 'Long'"
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match=rf"{name}: expected a floating point tensor, got dtype "
                                        r"int64 \(shape \(2,\)\)"):
        getattr(F, name)(tg.tensor([1, 2]))


# ----------------------------------------------------------------------------------------------
# Reprs and constructor validation
# ----------------------------------------------------------------------------------------------

REPRS = ["ReLU()", "ReLU(inplace=True)", "ReLU6(True)", "LeakyReLU()", "LeakyReLU(0.2, True)",
         "ELU(0.5)", "ELU(inplace=True)", "SELU(True)", "CELU(2.0, True)", "GELU('tanh')",
         "SiLU(True)", "Mish(True)", "Hardswish(True)", "Hardsigmoid(True)", "Hardtanh(-2, 3)",
         "Hardtanh(-2.0, 3.0, True)", "Softplus(2, 10)", "Hardshrink()", "Softshrink(0.3)",
         "Threshold(0.1, 20, True)", "RReLU(0.1, 0.3, True)", "Softmax()", "LogSoftmax(-1)",
         "Softmin(0)", "Softmax2d()", "GLU()", "PReLU(3, 0.1)", "Dropout()",
         "Dropout(0.2, True)", "Dropout(1)", "Dropout(0)", "Dropout2d(1)", "AlphaDropout(0.2)",
         "FeatureAlphaDropout(0.3)"]


@pytest.mark.parametrize("expr", REPRS)
def test_module_repr_matches_torch(expr):
    # bug: ReLU/LeakyReLU/ELU/SiLU/Mish dropped ", inplace=True"; Dropout(1) showed p=1.0
    assert repr(eval("nn." + expr)) == repr(eval("torch.nn." + expr))


def test_dropout_module_keeps_int_p_and_still_works():
    drop = nn.Dropout(1)
    assert drop.p == 1 and drop(tg.ones(4)).tolist() == [0.0] * 4
    assert nn.Dropout(0)(tg.ones(3)).tolist() == [1.0] * 3


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", None])
def test_dropout_p_validation_names_the_layer_and_the_value(p):
    with pytest.raises(ValueError, match=re.escape(f"Dropout2d: dropout probability has to be "
                                                   f"between 0 and 1, but got {p!r}")):
        nn.Dropout2d(p)


def test_glu_dim_out_of_range_raises_index_error_naming_glu():
    # bug: a bare "IndexError: tuple index out of range"
    with pytest.raises(IndexError):
        torch.nn.GLU(5)(torch.ones(2, 2))
    with pytest.raises(IndexError, match=r"glu: dim 5 is out of range for a 2-d input \(shape "
                                         r"\(2, 2\)\); expected -2 <= dim < 2"):
        nn.GLU(5)(tg.ones(2, 2))
    with pytest.raises(IndexError, match="glu: dim -3"):
        F.glu(tg.ones(2, 2), -3)


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_glu_matches_torch_on_every_dim(dim):
    x = np.random.default_rng(0).standard_normal((4, 6))
    xt, xo = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yt, yo = F.glu(xt, dim), TF.glu(xo, dim)
    yt.sum().backward()
    yo.sum().backward()
    np.testing.assert_allclose(yt.detach().numpy(), yo.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), xo.grad.numpy(), rtol=1e-12)


def test_hardtanh_constructor_and_functional_bounds():
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(1\) must be greater than min_val"):
        nn.Hardtanh(1, 1)
    with pytest.raises(ValueError, match="hardtanh: min_val cannot be greater than max_val"):
        F.hardtanh(tg.ones(2), 2.0, 1.0)
    assert F.hardtanh(tg.tensor([0.0, 5.0]), 1.0, 1.0).tolist() == [1.0, 1.0]  # torch allows


# ----------------------------------------------------------------------------------------------
# Softmax family, PReLU, RReLU
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax", "Softmin"])
def test_implicit_dim_matches_torch_and_warns(shape, cls):
    x = np.random.default_rng(1).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = getattr(nn, cls)()(tg.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn, cls)()(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_prelu_per_channel_gradients_match_torch(shape):
    x = np.random.default_rng(2).standard_normal(shape)
    x.flat[0] = 0.0  # the kink: torch's da gets x * dy = 0 there
    ours, theirs = nn.PReLU(3, dtype=tg.float64), torch.nn.PReLU(3, dtype=torch.float64)
    ours.weight.data[...] = [0.1, 0.2, 0.3]
    with torch.no_grad():
        theirs.weight[:] = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    xt, xo = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xt).sum().backward()
    theirs(xo).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xo.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_prelu_channel_mismatch_error():
    with pytest.raises(ValueError, match=r"prelu: weight has 3 parameters but the input"):
        nn.PReLU(3)(tg.ones(4))


def test_rrelu_training_slopes_are_uniform_and_are_the_gradient():
    tg.manual_seed(0)
    layer = nn.RReLU(0.1, 0.3)
    x = tg.tensor(np.r_[-np.ones(20000), np.ones(10)].astype(np.float32), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    slopes = -y.detach().numpy()[:20000]
    assert 0.1 <= slopes.min() and slopes.max() < 0.3
    assert abs(slopes.mean() - 0.2) < 3e-3
    np.testing.assert_array_equal(x.grad.numpy()[:20000], slopes)
    np.testing.assert_array_equal(y.detach().numpy()[20000:], 1.0)
    assert layer.eval()(tg.tensor([-1.0])).tolist() == pytest.approx([-0.2])


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn, shape, spatial", [(F.dropout1d, (3, 5), 1),
                                                (F.dropout1d, (4, 3, 5), 1),
                                                (F.dropout2d, (4, 3, 5, 6), 2),
                                                (F.dropout3d, (3, 2, 2, 2), 3),
                                                (F.dropout3d, (4, 3, 2, 2, 2), 3)])
def test_channel_dropout_zeroes_whole_channels_and_scales(fn, shape, spatial):
    tg.manual_seed(3)
    y = fn(tg.ones(*shape), 0.25).numpy()
    assert y.shape == shape
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    per_channel = y.reshape(-1, math.prod(shape[-spatial:]))  # (N * C, positions)
    assert all(len(np.unique(c)) == 1 for c in per_channel)
    assert np.array_equal(fn(tg.ones(*shape), 0.25, training=False).numpy(), np.ones(shape))


def test_channel_dropout_rate_and_gradient():
    tg.manual_seed(4)
    x = tg.tensor(np.random.default_rng(4).standard_normal((100, 40, 3)), requires_grad=True)
    y = F.dropout1d(x, 0.3)
    y.sum().backward()
    mask = x.grad.numpy()
    assert abs((mask[:, :, 0] == 0).mean() - 0.3) < 0.03
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() * mask)


def test_dropout2d_warns_like_torch_for_3d_input():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(tg.ones(2, 3, 4), 0.5)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        F.dropout2d(tg.ones(2, 3, 4, 5, 6), 0.5)


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_keeps_mean_and_variance(feature):
    tg.manual_seed(5)
    x = tg.randn(200, 50, 20)
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    y = fn(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.03 and abs(y.std() - 1) < 0.03
    assert np.array_equal(fn(x, 0.3).numpy(), x.numpy())  # training=False by default
    assert np.array_equal(fn(x, 1.0, training=True).numpy(), np.zeros(x.shape, np.float32))


# ----------------------------------------------------------------------------------------------
# init
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["linear", "conv1d", "conv2d", "conv3d",
                                          "conv_transpose1d", "conv_transpose2d",
                                          "conv_transpose3d", "sigmoid", "tanh", "relu",
                                          "leaky_relu", "selu"])
@pytest.mark.parametrize("param", [None, 0, 0.2, 3, math.sqrt(5)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


@pytest.mark.parametrize("bad", [True, "x"])
def test_calculate_gain_rejects_bad_slope(bad):
    with pytest.raises(ValueError, match="calculate_gain: negative_slope"):
        init.calculate_gain("leaky_relu", bad)
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3), (6, 4, 3, 3), (2, 3, 2, 2, 2), (0, 5)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(tg.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_,
                                init.kaiming_uniform_, init.kaiming_normal_])
def test_fan_based_inits_reject_1d_like_torch(fn):
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(got shape \(3,\)\)"):
        fn(tg.empty(3))


@pytest.mark.parametrize("fn, kwargs, std", [
    (init.xavier_uniform_, dict(gain=2.0), 2 * math.sqrt(2 / (64 * 9 + 128 * 9))),
    (init.xavier_normal_, dict(gain=2.0), 2 * math.sqrt(2 / (64 * 9 + 128 * 9))),
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), math.sqrt(1 / 3) / math.sqrt(64 * 9)),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / (128 * 9))),
    (init.kaiming_uniform_, dict(mode="FAN_OUT", nonlinearity="tanh"), 5 / 3 / math.sqrt(1152)),
    (init.kaiming_normal_, dict(a=0.2), math.sqrt(2 / 1.04) / math.sqrt(64 * 9)),
])
def test_fan_based_init_std_of_a_conv_weight(fn, kwargs, std):
    tg.manual_seed(6)
    w = fn(tg.empty(128, 64, 3, 3), **kwargs).numpy()
    assert abs(w.std() / std - 1) < 0.01 and abs(w.mean()) < 0.01 * std * 10
    if fn in (init.xavier_uniform_, init.kaiming_uniform_):
        assert np.abs(w).max() <= math.sqrt(3) * std


def test_kaiming_bad_mode_error():
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported"):
        init.kaiming_uniform_(tg.empty(3, 3), mode="fan_avg")


def test_uniform_and_normal_validate_their_arguments():
    # bug: numpy's bare "high - low < 0" / "scale < 0"
    with pytest.raises(ValueError, match=r"uniform_: expected a <= b .*got a=1.0 and b=0.0"):
        init.uniform_(tg.empty(3), 1.0, 0.0)
    with pytest.raises(ValueError, match=r"normal_: expected std >= 0, got std=-1.0"):
        init.normal_(tg.empty(3), 0.0, -1.0)
    assert init.uniform_(tg.empty(3), 2.0, 2.0).tolist() == [2.0] * 3
    assert init.normal_(tg.empty(2), 1.5, 0.0).tolist() == [1.5, 1.5]


def test_trunc_normal_bounds_and_mean():
    tg.manual_seed(7)
    w = init.trunc_normal_(tg.empty(50000), mean=1.0, std=2.0, a=-1.0, b=2.0).numpy()
    assert w.dtype == np.float32 and w.min() >= -1.0 and w.max() <= 2.0
    assert abs(w.mean() - 0.5865) < 0.02  # torch: 0.586
    with pytest.raises(ValueError, match=r"trunc_normal_: \[a, b\] = \[5, 6\] is too far"):
        init.trunc_normal_(tg.empty(4), a=5, b=6)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3), (6, 2, 2, 2), (1, 7)])
def test_orthogonal_is_semi_orthogonal_times_gain(shape):
    w = init.orthogonal_(tg.empty(*shape, dtype=tg.float64), gain=2.0).numpy()
    w = w.reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w.T @ w if rows >= cols else w @ w.T
    np.testing.assert_allclose(gram, 4 * np.eye(min(rows, cols)), atol=1e-12)


@pytest.mark.parametrize("shape, groups", [((4, 2, 3), 1), ((6, 2, 3, 3), 2), ((6, 4, 3, 3), 3),
                                           ((4, 6, 3, 3, 3), 2), ((3, 3, 4, 4), 1)])
def test_dirac_matches_torch(shape, groups):
    ours = init.dirac_(tg.empty(*shape), groups).numpy()
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


def test_eye_and_sparse():
    np.testing.assert_array_equal(init.eye_(tg.empty(3, 5)).numpy(), np.eye(3, 5))
    tg.manual_seed(8)
    w = init.sparse_(tg.empty(10, 300), 0.25, std=0.5).numpy()
    assert ((w == 0).sum(0) == 3).all()
    assert abs(w[w != 0].std() - 0.5) < 0.03
    with pytest.raises(ValueError, match=r"sparse_: Only tensors with 2 dimensions"):
        init.sparse_(tg.empty(3), 0.1)
