"""tg.gradcheck / tg.gradgradcheck themselves: their argument checks and failure messages."""

import warnings

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError


def _x(*shape):
    return tg.randn(*shape, dtype=tg.float64, requires_grad=True)


class HalfSquare(Function):
    """y = x^2 / 2;  dx = dy * x  (right, but computed from raw arrays: no graph)"""

    def forward(self, x):
        return x * x / 2

    def backward(self, dy):
        (x,) = self.inputs
        return tg.Tensor(dy.data * x.data)  # raw arrays: correct, but no graph to go further


class WrongSquare(Function):
    """y = x^2;  dx = 2 x dy  (written as x dy)"""

    def forward(self, x):
        return x * x

    def backward(self, dy):
        (x,) = self.inputs
        return dy * x


def test_a_correct_function_passes_both_checks():
    assert tg.gradcheck(lambda x: (x.tanh() * x).sum(dim=1), [_x(3, 4)])
    assert tg.gradgradcheck(lambda x: (x.tanh() * x).sum(dim=1), [_x(3, 4)])


def test_failure_names_the_function_class_of_a_bound_apply():
    with pytest.raises(GradcheckError, match=r"gradcheck failed for WrongSquare\.apply"):
        tg.gradcheck(WrongSquare.apply, [_x(3)])
    with pytest.raises(GradcheckError, match=r"gradgradcheck failed for d/dx HalfSquare\.apply"):
        tg.gradgradcheck(HalfSquare.apply, [_x(3)])


def test_failure_names_a_plain_function():
    def doubled_wrong(x):
        return WrongSquare.apply(x)

    with pytest.raises(GradcheckError, match=r"failed for .*doubled_wrong: input 0"):
        tg.gradcheck(doubled_wrong, [_x(3)])
    assert not tg.gradcheck(doubled_wrong, [_x(3)], raise_exception=False)


@pytest.mark.parametrize("check", [tg.gradcheck, tg.gradgradcheck])
@pytest.mark.parametrize("option, value, expected", [
    ("eps", 0.0, "eps must be a positive number"),
    ("eps", -1e-6, "eps must be a positive number"),
    ("eps", float("nan"), "eps must be a positive number"),
    ("atol", -1e-5, "atol must be a number >= 0"),
    ("rtol", -1e-3, "rtol must be a number >= 0"),
])
def test_bad_tolerances_are_value_errors(check, option, value, expected):
    with pytest.raises(ValueError, match=rf"^{check.__name__}: {expected}.*, got {value}$"):
        check(lambda x: x.tanh(), [_x(3)], **{option: value})


def test_zero_tolerances_are_allowed():
    # a linear function has exact central differences up to round-off in the last bits
    assert tg.gradcheck(lambda x: x * 2.0, [_x(3)], atol=1e-9, rtol=0.0)


def test_bad_mode_and_n_directions():
    with pytest.raises(ValueError, match="gradgradcheck: mode must be 'full' or 'random'"):
        tg.gradgradcheck(lambda x: x.tanh(), [_x(3)], mode="all")
    with pytest.raises(ValueError, match="gradcheck: n_directions must be an integer >= 1"):
        tg.gradcheck(lambda x: x.tanh(), [_x(3)], mode="random", n_directions=0)


def test_no_input_requires_grad_names_the_check():
    x = tg.randn(3, dtype=tg.float64)
    with pytest.raises(ValueError, match="^gradcheck: no input requires grad"):
        tg.gradcheck(lambda x: x.tanh(), [x])
    with pytest.raises(ValueError, match="^gradgradcheck: no input requires grad"):
        tg.gradgradcheck(lambda x: x.tanh(), [x])


def test_gradgradcheck_of_a_constant_function_passes():
    # the first derivative is 0 everywhere, so is its derivative (gradcheck passes it too)
    constant = tg.ones(3, dtype=tg.float64)
    assert tg.gradcheck(lambda x: constant, [_x(3)])
    assert tg.gradgradcheck(lambda x: constant, [_x(3)])
    # a function that ignores one of its inputs: that input's derivatives are 0 too
    assert tg.gradgradcheck(lambda x, y: x.tanh(), [_x(3), _x(2)])


def test_gradgradcheck_of_an_output_without_graph_says_so():
    def no_graph(x):
        return tg.Tensor(np.sin(x.data))  # raw arrays: the output has no graph back to x

    with pytest.raises(GradcheckError, match=r"gradgradcheck failed for .*no_graph") as info:
        tg.gradgradcheck(no_graph, [_x(3)])
    assert "has no graph" in str(info.value)


def test_gradgradcheck_hints_at_a_backward_written_with_raw_arrays():
    assert tg.gradcheck(HalfSquare.apply, [_x(4)])  # first order: right
    with pytest.raises(GradcheckError) as info:
        tg.gradgradcheck(HalfSquare.apply, [_x(4)])
    text = str(info.value)
    assert "gradgradcheck failed for d/dx HalfSquare.apply: input 0" in text
    assert "analytic 0" in text
    assert "first derivative of input 0 has no graph" in text
    assert "Tensor ops" in text


def test_float32_inputs_are_checked_in_float64_with_a_warning():
    x = tg.randn(3, requires_grad=True)
    with pytest.warns(UserWarning, match="gradcheck: input 0 has dtype float32"):
        assert tg.gradcheck(lambda x: x.tanh(), [x])
    assert x.dtype == tg.float32  # the caller's tensor is not changed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradcheck(lambda x: x.tanh(), [_x(3)])


def test_docstring_says_how_it_differs_from_torch():
    doc = tg.gradcheck.__doc__
    for option in ("nondet_tol", "check_undefined_grad", "float64", "torch.autograd.gradcheck"):
        assert option in doc
