"""nn.init against torch.nn.init: gains, fans, and the statistics (std, bounds) of every
initializer on big tensors; the default inits of Linear, Embedding and the norm layers."""

import math
import warnings

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity))


def test_calculate_gain_leaky_relu_slope_and_errors():
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (6, 2, 7), (4, 0)])
def test_fan_in_and_fan_out_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(tg.empty(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert ours == theirs


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(tg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(tg.empty(3, 3), mode="fan_avg")


SHAPE = (256, 128, 3, 3)  # fan_in 1152, fan_out 2304, 294912 samples: std to ~0.3%

INITS = [
    ("uniform_", dict(a=-0.3, b=0.7)),
    ("normal_", dict(mean=0.2, std=0.05)),
    ("xavier_uniform_", dict()),
    ("xavier_uniform_", dict(gain=5 / 3)),
    ("xavier_normal_", dict()),
    ("kaiming_uniform_", dict()),
    ("kaiming_uniform_", dict(a=math.sqrt(5))),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", dict(nonlinearity="relu")),
    ("kaiming_normal_", dict(a=0.2, mode="fan_out")),
    ("trunc_normal_", dict(std=0.02)),
    ("trunc_normal_", dict(mean=0.5, std=1.0, a=0.0, b=1.5)),
]


@pytest.mark.parametrize("name,kwargs", INITS)
def test_init_statistics_match_torch(name, kwargs):
    tg.manual_seed(0)
    ours = getattr(init, name)(tg.empty(*SHAPE), **kwargs)
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.empty(*SHAPE), **kwargs).numpy()
    mine = ours.numpy()
    assert mine.dtype == np.float32
    assert mine.std() == pytest.approx(theirs.std(), rel=0.02)
    assert mine.mean() == pytest.approx(theirs.mean(), abs=float(0.015 * theirs.std()) + 1e-4)
    if "uniform" in name:  # the same bounded support (the extremes of 3e5 samples ~ bounds)
        assert mine.min() >= theirs.min() - 0.01 * theirs.std()
        assert mine.max() <= theirs.max() + 0.01 * theirs.std()
    if "trunc" in name:  # a and b are absolute bounds
        assert kwargs.get("a", -2.0) <= mine.min() and mine.max() <= kwargs.get("b", 2.0)


def test_kaiming_and_xavier_std_formulas():
    tg.manual_seed(0)
    w = init.kaiming_normal_(tg.empty(512, 1024), nonlinearity="relu")
    assert float(w.std()) == pytest.approx(math.sqrt(2 / 1024), rel=0.01)
    w = init.xavier_uniform_(tg.empty(512, 1024))
    bound = math.sqrt(6 / (512 + 1024))
    assert float(w.abs().max()) <= bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.01)


def test_constant_zeros_ones_and_returned_object():
    t = tg.empty(3, 2)
    assert init.constant_(t, 2.5) is t and t.tolist() == [[2.5, 2.5]] * 3
    assert init.zeros_(t).tolist() == [[0.0, 0.0]] * 3
    assert init.ones_(t).tolist() == [[1.0, 1.0]] * 3


def test_inits_work_on_parameters_in_grad_mode_and_keep_dtype():
    p = nn.Parameter(tg.empty(4, 5, dtype=tg.float64))
    init.kaiming_uniform_(p)
    init.normal_(p)
    init.constant_(p, 1.0)
    assert p.requires_grad and p.dtype == np.float64 and p.grad is None


def test_generator_makes_draws_reproducible():
    a = init.xavier_normal_(tg.empty(4, 4), generator=np.random.default_rng(7))
    b = init.xavier_normal_(tg.empty(4, 4), generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    tg.manual_seed(3)
    c = init.uniform_(tg.empty(5)).numpy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(init.uniform_(tg.empty(5)).numpy(), c)


def test_zero_element_tensor_warns_and_is_left_alone():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        init.kaiming_uniform_(tg.empty(0, 3))
        init.normal_(tg.empty(0))
    assert [str(w.message) for w in caught] == ["Initializing zero-element tensors is a "
                                                "no-op"] * 2


def test_trunc_normal_refuses_impossible_bounds():
    with pytest.raises(ValueError, match="too far from mean"):
        init.trunc_normal_(tg.empty(10), mean=0.0, std=1.0, a=20.0, b=21.0)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(tg.empty(10), a=1.0, b=0.0)


# ----------------------------------------------------------------------------------------------
# Default initializations of the layers
# ----------------------------------------------------------------------------------------------


def test_linear_default_init_matches_torch_statistics():
    tg.manual_seed(0)
    ours = nn.Linear(1000, 500)
    theirs = torch.nn.Linear(1000, 500)
    bound = 1 / math.sqrt(1000)
    w, b = ours.weight.detach().numpy(), ours.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() == pytest.approx(theirs.weight.detach().numpy().std(), rel=0.02)
    assert w.std() == pytest.approx(1 / math.sqrt(3 * 1000), rel=0.02)
    assert b.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)  # only 500 samples
    # the untrained outputs have torch's statistics: variance (1 + 1/in) / 3 per unit input
    x = np.random.default_rng(0).standard_normal((256, 1000)).astype(np.float32)
    with tg.no_grad():
        out_std = ours(tg.tensor(x)).numpy().std()
    with torch.no_grad():
        their_std = theirs(torch.tensor(x)).numpy().std()
    assert out_std == pytest.approx(their_std, rel=0.05)
    assert out_std == pytest.approx(math.sqrt(1 / 3), rel=0.05)


def test_embedding_and_norm_layer_default_init():
    tg.manual_seed(0)
    emb = nn.Embedding(2000, 64, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert np.all(w[3] == 0)
    assert w.std() == pytest.approx(1.0, rel=0.02) and abs(w.mean()) < 0.015
    bn = nn.BatchNorm2d(5)
    assert bn.weight.tolist() == [1.0] * 5 and bn.bias.tolist() == [0.0] * 5
    assert bn.running_mean.tolist() == [0.0] * 5 and bn.running_var.tolist() == [1.0] * 5
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == np.int64
    ln = nn.LayerNorm((2, 3))
    assert ln.weight.tolist() == [[1.0] * 3] * 2 and ln.bias.tolist() == [[0.0] * 3] * 2
