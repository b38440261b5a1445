"""check_my_backward: one deliberately broken Function per classic mistake."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError
from tinygrad_edu.functional import sum_to
from tinygrad_edu.study import check_my_backward


class GoodMul(Function):
    """y = a * b;  da = sum_to(dy * b), db = sum_to(dy * a)"""

    def forward(self, a, b):
        return a * b

    def backward(self, dy):
        a, b = self.inputs
        return sum_to(dy * b, a.shape), sum_to(dy * a, b.shape)


class SignFlippedCos(Function):
    """y = cos x;  dx = -dy sin x   (written with the wrong sign)"""

    def forward(self, x):
        return np.cos(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * x.sin()


class NoUnbroadcastAdd(Function):
    """y = a + b (b broadcast);  db should be sum_to(dy, b.shape)"""

    def forward(self, a, b):
        return a + b

    def backward(self, dy):
        return dy, dy


class TransposedMatMul(Function):
    """Y = A @ B;  dA written as B @ dY^T, the transpose of dY @ B^T"""

    def forward(self, a, b):
        return a @ b

    def backward(self, dy):
        a, b = self.inputs
        return b @ dy.T, a.T @ dy


class UntransposedMatMul(Function):
    """Y = A @ B (B square);  dA written as dY @ B instead of dY @ B^T"""

    def forward(self, a, b):
        return a @ b

    def backward(self, dy):
        a, b = self.inputs
        return dy @ b, a.T @ dy


class MissingTwoSquare(Function):
    """y = x^2;  dx = 2 x dy   (written without the 2)"""

    def forward(self, x):
        return x * x

    def backward(self, dy):
        (x,) = self.inputs
        return dy * x


class SwappedMul(Function):
    """y = a * b;  returns (dy * a, dy * b): each input gets the other's gradient"""

    def forward(self, a, b):
        return a * b

    def backward(self, dy):
        a, b = self.inputs
        return dy * a, dy * b


class ZeroSin(Function):
    """y = sin x;  backward forgets to return anything"""

    def forward(self, x):
        return np.sin(x)

    def backward(self, dy):
        return None


class UnbroadcastSum(Function):
    """y = x summed over dim 1;  backward returns dy as is (reduced shape)"""

    def forward(self, x):
        return x.sum(axis=1)

    def backward(self, dy):
        return dy


class OneGradForTwo(Function):
    """y = a * b;  backward returns only da"""

    def forward(self, a, b):
        return a * b

    def backward(self, dy):
        a, b = self.inputs
        return dy * b


class Crashing(Function):
    """y = A @ B;  backward multiplies mismatched shapes"""

    def forward(self, a, b):
        return a @ b

    def backward(self, dy):
        a, b = self.inputs
        return dy @ b, dy @ a


class WrongRuleSin(Function):
    """y = sin x;  dx = dy cos x   (written as dy * x: no classic pattern)"""

    def forward(self, x):
        return np.sin(x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * x


def _r(*shape, seed=0):
    return tg.tensor(np.random.default_rng(seed + len(shape)).standard_normal(shape),
                     dtype=tg.float32)


CASES = [
    (SignFlippedCos, (_r(3, 4),), {0: "sign_flipped"}, "sign is flipped"),
    (NoUnbroadcastAdd, (_r(3, 4), _r(4)), {1: "missing_unbroadcast"}, "sum_to(grad, x.shape)"),
    (TransposedMatMul, (_r(2, 3), _r(3, 4)), {0: "transposed"}, "transpose of the right one"),
    (UntransposedMatMul, (_r(2, 3), _r(3, 3)), {0: "transposed"}, "equals dY @ B,"),
    (MissingTwoSquare, (_r(3, 4),), {0: "factor_off"}, "0.5 times the right one"),
    (SwappedMul, (_r(3, 4), _r(3, 4, seed=1)), {0: "wrong_input", 1: "wrong_input"},
     "is the gradient of input 1"),
    (ZeroSin, (_r(5),), {0: "zero_gradient"}, "your gradient is None"),
    (UnbroadcastSum, (_r(3, 4),), {0: "wrong_shape"}, "reshape it to (3, 1)"),
    (OneGradForTwo, (_r(3), _r(3)), {None: "wrong_count"}, "returned 1 gradient(s)"),
    (Crashing, (_r(2, 3), _r(3, 4)), {None: "raised"}, "your backward raised"),
    (WrongRuleSin, (_r(5),), {0: "unknown"}, "no common mistake explains it"),
]


@pytest.mark.parametrize("cls, inputs, expected, phrase", CASES,
                         ids=[case[0].__name__ for case in CASES])
def test_each_mistake_is_diagnosed(cls, inputs, expected, phrase):
    diagnosis = check_my_backward(cls, *inputs)
    assert not diagnosis.passed
    assert {f.input: f.kind for f in diagnosis.findings} == expected
    text = str(diagnosis)
    assert phrase in text, text
    assert text.startswith(f"{cls.__name__}.backward does not match")


def test_a_correct_backward_passes():
    diagnosis = check_my_backward(GoodMul, _r(3, 4), _r(4))
    assert diagnosis.passed and diagnosis.findings == []
    assert "matches the numerical gradients" in str(diagnosis)
    # the numeric and analytic gradients are kept for the learner to look at
    np.testing.assert_allclose(diagnosis.analytic[1], diagnosis.numeric[1], atol=1e-6)


def test_raise_on_failure_and_options():
    class Scale(Function):
        """y = s x;  dx = s dy  (written as dx = dy)"""

        def forward(self, x, s):
            self.s = s
            return x * s

        def backward(self, dy):
            return dy

    with pytest.raises(GradcheckError, match=r"\[factor_off\] input 0: .* 0\.3333 times"):
        check_my_backward(Scale, _r(4), s=3.0, raise_on_failure=True)
    assert check_my_backward(Scale, _r(4), s=1.0).passed


def test_needs_a_float_input():
    with pytest.raises(ValueError, match="got no floating point input"):
        check_my_backward(ZeroSin, tg.tensor([1, 2, 3]))


class IgnoresSecond(Function):
    """y = 2 a (b is not used);  da = 2 dy, db = None (right: y does not depend on b)"""

    def forward(self, a, b):
        return 2 * a

    def backward(self, dy):
        return dy * 2, None


def test_none_for_an_input_the_output_does_not_depend_on_passes():
    diagnosis = check_my_backward(IgnoresSecond, _r(3), _r(3, seed=1))
    assert diagnosis.passed, str(diagnosis)
    assert diagnosis.analytic[1] is None and not np.any(diagnosis.numeric[1])
    a, b = (tg.randn(3, dtype=tg.float64, requires_grad=True) for _ in range(2))
    assert tg.gradcheck(IgnoresSecond.apply, [a, b])  # the same verdict as gradcheck


def test_none_for_an_input_the_output_depends_on_still_fails():
    class ForgetsSecond(Function):
        """y = a * b;  db returned as None (wrong)"""

        def forward(self, a, b):
            return a * b

        def backward(self, dy):
            (a, b) = self.inputs
            return dy * b, None

    diagnosis = check_my_backward(ForgetsSecond, _r(3), _r(3, seed=1))
    assert diagnosis.kinds() == ["zero_gradient"]
    assert "your gradient is None, but the output does depend on input 1" in str(diagnosis)


@pytest.mark.parametrize("option", [{"eps": 0.0}, {"atol": -1.0}, {"rtol": -1.0}])
def test_bad_tolerances_are_refused(option):
    with pytest.raises(ValueError, match="^check_my_backward: (eps|atol|rtol) must be"):
        check_my_backward(GoodMul, _r(3, 4), _r(4), **option)
