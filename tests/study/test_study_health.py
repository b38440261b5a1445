"""GradientHealth: per-layer gradient norms and update/weight ratios; deep-net demo."""

import math
import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.study import GradientHealth, compare_deep_nets
from tinygrad_edu.study._layers import _nn_class, mlp
from tinygrad_edu.study.health import _PlainSGD


@pytest.fixture(scope="module")
def deep_nets():
    nets = ["sigmoid", "relu"]
    if _nn_class("BatchNorm1d") is not None:
        nets.append("sigmoid+batchnorm")
    return compare_deep_nets(depth=8, width=32, steps=2, nets=nets)


def _first_over_last(health: GradientHealth) -> float:
    layers = health.weight_names()
    return health.grad_norms[layers[0]][-1] / health.grad_norms[layers[-1]][-1]


def test_deep_sigmoid_gradients_vanish_but_relu_he_ones_do_not(deep_nets):
    sigmoid, relu = deep_nets["sigmoid"], deep_nets["relu"]
    assert len(sigmoid.weight_names()) == 9  # 8 hidden layers + the output layer
    assert _first_over_last(sigmoid) < 1e-4  # orders of magnitude smaller at the input
    assert 0.1 < _first_over_last(relu) < 10  # about level with He init
    norms = [sigmoid.grad_norms[name][-1] for name in sigmoid.weight_names()]
    assert all(a < b for a, b in zip(norms, norms[1:], strict=False))  # shrinks layer after layer
    if "sigmoid+batchnorm" in deep_nets:
        assert _first_over_last(deep_nets["sigmoid+batchnorm"]) > 1e-2


def test_update_ratio_is_lr_times_grad_over_weight():
    model = mlp([3, 4, 2], "relu", init="he")
    health = GradientHealth(model)
    optimizer = health.wrap(_PlainSGD(model.parameters(), lr=0.01))
    x = tg.randn(5, 3)
    for _ in range(3):
        (model(x) ** 2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert health.steps == [0, 1, 2]
    assert math.isinf(health.update_ratios["0.bias"][0])  # biases start at 0: no ratio
    for name in health.weight_names():
        for g, w, ratio in zip(health.grad_norms[name], health.weight_norms[name],
                               health.update_ratios[name], strict=True):
            # plain SGD: ||dW|| = lr ||g||  =>  update / weight = lr ||g|| / ||W||
            assert ratio == pytest.approx(0.01 * g / w, rel=1e-3)
    assert all(p.grad is None for p in model.parameters())  # zero_grad went through
    text = health.summary()
    assert "0.weight" in text and "update/weight" in text


def test_record_and_after_step_by_hand_and_errors():
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    health = GradientHealth([("w", w)])
    with pytest.raises(RuntimeError, match="call record"):
        health.after_step()
    (w * w).sum().backward()  # grad 2 w = (6, 8), norm 10
    health.record(step=7)
    with tg.no_grad():
        w -= 0.1 * w.grad  # moves by norm 1 a weight of norm 5
    health.after_step()
    assert health.steps == [7]
    assert health.grad_norms["w"] == [pytest.approx(10.0)]
    assert health.update_ratios["w"] == [pytest.approx(0.2)]
    health.record()  # without after_step the ratio stays unknown
    assert math.isnan(health.update_ratios["w"][-1])
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        GradientHealth([("c", tg.zeros(2))])


def test_plots_are_valid_pngs(tmp_path, deep_nets):
    health = deep_nets["sigmoid"]
    health.plot(tmp_path / "health.png", title="sigmoid")
    from tinygrad_edu.study.health import plot_layer_norms

    plot_layer_norms(deep_nets, tmp_path / "layers.png")
    for name in ("health.png", "layers.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert np.all(np.isfinite(health.update_ratios[health.weight_names()[0]]))


def test_unknown_net_name_is_refused():
    with pytest.raises(ValueError, match="unknown net 'tanh'"):
        compare_deep_nets(depth=2, nets=["tanh"])


def test_accepts_a_module_named_parameters_and_plain_parameters():
    model = mlp([3, 4, 2], "relu", init="he")
    names = [name for name, _ in model.named_parameters()]
    assert GradientHealth(model).names == names
    assert GradientHealth(model.named_parameters()).names == names
    plain = GradientHealth(model.parameters())  # no names: param0, param1, ...
    assert plain.names == [f"param{k}" for k in range(len(names))]
    assert [p for _, p in plain.params] == [p for _, p in model.named_parameters()]
    w = tg.randn(2, 3, requires_grad=True)
    assert GradientHealth(w).names == ["param0"]


@pytest.mark.parametrize("bad, expected", [
    (3, "expected an nn.Module, model.named_parameters() or model.parameters(), got int"),
    ([("w", tg.zeros(2), 1)], "item 0 is a tuple of 3 (str, Tensor, int)"),
    ([(tg.zeros(2), "w")], "item 0 is a tuple of 2 (Tensor, str)"),
    (["w"], "item 0 is a str"),
])
def test_other_arguments_are_a_clear_type_error(bad, expected):
    with pytest.raises(TypeError, match=r"^GradientHealth: .*" + re.escape(expected)):
        GradientHealth(bad)


def test_repeated_names_are_refused():
    w = tg.randn(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"names must be unique; repeated: \['w'\]"):
        GradientHealth([("w", w), ("w", w * 1)])
