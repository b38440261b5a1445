"""gradcheck_report: every op of a model gradient-checked on its own, in float64."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.functional.elementwise import Tanh
from tinygrad_edu.study import gradcheck_report
from tinygrad_edu.study._layers import mlp


def _raw_mlp(device="cpu"):
    """x -> tanh(x W1 + b1) W2 + b2 -> mean square, from Tensor ops only."""
    rng = np.random.default_rng(0)

    def param(*shape):
        return tg.tensor(rng.standard_normal(shape) * 0.5, dtype=tg.float32, device=device,
                         requires_grad=True)

    w1, b1, w2, b2 = param(5, 8), param(8), param(8, 3), param(3)

    def forward(x):
        h = (x @ w1 + b1).tanh()
        out = h @ w2 + b2
        return (out * out).mean()

    return forward


def test_report_passes_on_raw_mlp_and_lists_every_op(device):
    x = tg.tensor(np.random.default_rng(1).standard_normal((4, 5)), dtype=tg.float32,
                  device=device)
    report = gradcheck_report(_raw_mlp(device), x)
    assert report.passed, str(report)
    assert [c.op for c in report.checks] == ["MatMul", "Add", "Tanh", "MatMul", "Add", "Mul",
                                             "Sum", "Mul"]
    assert all(c.status == "pass" for c in report.checks)
    assert report.checks[0].input_shapes == [(4, 5), (5, 8)]
    assert all("test_study_gradcheck_report.py" in c.source for c in report.checks)
    assert all(c.max_abs_err < 1e-5 for c in report.checks)
    text = str(report)
    assert "8 op calls, 8 passed, 0 failed" in text and "FIRST FAILURE" not in text


def test_report_passes_on_module_mlp_and_names_the_layer():
    model = mlp([5, 8, 8, 3], "tanh", init="default")
    report = gradcheck_report(model, tg.randn(4, 5))
    assert report.passed, str(report)
    tanh_rows = [c for c in report.checks if c.op == "Tanh"]
    assert [c.where for c in tanh_rows] == [f"1 ({type(model[1]).__name__})",
                                            f"3 ({type(model[3]).__name__})"]
    # every op is labelled with the layer that ran it: 3 Linear layers and 2 activations
    assert len({c.where for c in report.checks}) == 5
    assert report.checks[0].where == f"0 ({type(model[0]).__name__})"


def test_broken_tanh_backward_is_named_with_its_element(monkeypatch):
    def wrong_backward(self, dy):
        y = self.output
        return dy * (1 + y * y)  # the sign of y^2 is wrong: dx = dy (1 - y^2)

    monkeypatch.setattr(Tanh, "backward", wrong_backward)
    model = mlp([5, 8, 3], "tanh", init="default")
    x = tg.randn(4, 5)
    report = gradcheck_report(lambda x: (model(x) ** 2).mean(), x, model=model)
    assert not report.passed
    first = report.first_failure
    assert first.op == "Tanh" and first.where.startswith("1 (")
    assert [c.op for c in report.failures] == ["Tanh"]
    element = first.failure["element"]
    assert len(element) == 2 and 0 <= element[0] < 4 and 0 <= element[1] < 8
    assert abs(first.failure["numeric"] - first.failure["analytic"]) > 1e-3
    text = str(report)
    assert f"FIRST FAILURE: op #{first.index} Tanh" in text
    assert f"worst element {element}" in text


def test_ops_without_grad_inputs_are_skipped_and_listed():
    w = tg.randn(3, requires_grad=True)
    const = tg.randn(3)

    def fn(x):
        scaled = const * 2.0  # no input requires grad: nothing to check
        return (x * w + scaled).sum()

    report = gradcheck_report(fn, tg.randn(3))
    skipped = report.skipped
    assert len(skipped) == 1 and skipped[0].op == "Mul"
    assert skipped[0].reason == "no input requires grad"
    assert report.passed
    assert "skip: no input requires grad" in str(report)


def test_kinks_are_excused_not_failed():
    x = tg.tensor([[-1.0, -2.0, -0.5], [0.3, 0.0, 1.2]], requires_grad=True)
    # relu(row 0) is all zeros: a three-way tie in the max; relu at exactly 0 in row 1
    report = gradcheck_report(lambda x: x.relu().amax(dim=1).sum(), x)
    assert report.passed, str(report)
    assert sum(c.kinks for c in report.checks) > 0
    assert "at kinks" in str(report)


def test_big_inputs_use_sampled_elements_and_random_directions():
    w = tg.randn(40, 30, requires_grad=True)
    report = gradcheck_report(lambda x: (x @ w).sum(), tg.randn(2, 40), max_elements=16)
    matmul = report.checks[0]
    assert matmul.status == "pass"
    assert "16/1200+2dir" in matmul.checked


def test_a_wrong_gradient_in_a_big_input_is_found(monkeypatch):
    from tinygrad_edu.functional.elementwise import Exp

    monkeypatch.setattr(Exp, "backward", lambda self, dy: dy * self.output * 1.01)
    x = (tg.randn(50, 50) * 0.1).requires_grad_()
    report = gradcheck_report(lambda x: x.exp().sum(), x, max_elements=8)
    assert [c.op for c in report.failures] == ["Exp"]
    # an element failed, so no random direction ran: the label says so
    assert report.failures[0].checked == "8/2500"
    exp_row = next(line for line in str(report).splitlines() if " Exp " in line)
    assert " 8/2500 " in exp_row and "dir" not in exp_row
    assert [c.checked for c in report.checks if c.op == "Sum"] == ["8/2500+2dir"]  # passed


@pytest.mark.parametrize("bad", [True, False])
def test_report_truthiness_matches_passed(monkeypatch, bad):
    if bad:
        monkeypatch.setattr(Tanh, "backward", lambda self, dy: dy)
    report = gradcheck_report(lambda x: x.tanh().sum(), tg.randn(3, requires_grad=True))
    assert bool(report) is (not bad)
