"""A lab bench for hand-written backwards: check one, and get told what is likely wrong.

You write a ``Function`` with ``forward`` and your own ``backward``; ``check_my_backward`` runs
it on your inputs, compares every gradient with float64 central differences and, where they
disagree, tests the usual suspects one by one on the numbers themselves:

    raised               your backward crashed (the message is passed on, with a hint)
    wrong_count          you returned fewer or more gradients than forward has tensor inputs
    zero_gradient        yours is None or all zeros, but the output does depend on that input
                         (None passes where the numerical gradient is 0 within tolerance)
    missing_unbroadcast  yours has the broadcast (output) shape; summed down it would be right
    transposed           yours is the transpose of the right one, or a matmul product with an
                         operand untransposed or in the wrong order (dY @ B instead of dY @ B^T)
    wrong_input          yours is the right gradient of *another* input (order swapped)
    sign_flipped         yours is exactly minus the right one
    factor_off           yours is a constant multiple of the right one (a missing 2, a 1/n)
    wrong_shape          a shape no hypothesis explains (or a reduction's dy not broadcast back)
    unknown              the right shape, but none of the above: the worst element is named

The kind names are ``Finding.kind`` values; ``str(diagnosis)`` explains each in words.

>>> import tinygrad_edu as tg
>>> class Square(tg.Function):
...     '''y = x^2;  dx = 2 x dy'''
...     def forward(self, x):
...         return x * x
...     def backward(self, dy):
...         (x,) = self.inputs
...         return dy * x                 # forgot the 2
>>> diagnosis = check_my_backward(Square, tg.randn(3, 4))
>>> diagnosis.passed, diagnosis.kinds()
(False, ['factor_off'])
"""

from __future__ import annotations

import itertools
import traceback
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import enable_grad, no_grad
from ..gradcheck import GradcheckError, check_tolerances
from ..tensor import Tensor
from ._common import fmt_shape, host, is_array


@dataclass
class Finding:
    """One conclusion about one input (``input`` is None for the whole backward)."""

    input: int | None
    kind: str
    message: str


@dataclass
class BackwardDiagnosis:
    """What ``check_my_backward`` found: ``passed``, and one ``Finding`` per input that
    failed (or one for the whole backward when it raised or returned the wrong count)."""

    op: str
    passed: bool
    findings: list = field(default_factory=list)
    numeric: list = field(default_factory=list)
    analytic: list = field(default_factory=list)

    def kinds(self) -> list:
        return [f.kind for f in self.findings]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"{self.op}.backward matches the numerical gradients. Well done!"
        lines = [f"{self.op}.backward does not match the numerical gradients:"]
        for f in self.findings:
            where = "backward" if f.input is None else f"input {f.input}"
            lines.append(f"- [{f.kind}] {where}: {f.message}")
        return "\n".join(lines)

    __repr__ = __str__


def _close(x: np.ndarray, y: np.ndarray, atol: float, rtol: float) -> bool:
    """Same rule as gradcheck: |x - y| <= atol + rtol |y| everywhere (and same shape)."""
    return x.shape == y.shape and bool(np.all(np.abs(x - y) <= atol + rtol * np.abs(y)))


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray | None:
    """``g`` summed over the axes broadcasting added to reach ``g.shape`` from ``shape``, or
    None if ``shape`` does not broadcast to ``g.shape``."""
    try:
        if np.broadcast_shapes(shape, g.shape) != g.shape:
            return None
    except ValueError:
        return None
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _numeric(cls, args, options, v, x: Tensor, eps: float) -> np.ndarray:
    """Central differences of L = sum(v * forward(...)) for every element of ``x``."""
    flat = x.data.reshape(-1)  # a view of the float64 copy: perturbing it perturbs x
    out = np.empty(flat.shape[0])

    def value() -> float:
        with no_grad():
            y = cls.apply(*args, **options)
        return float(np.sum(host(y).astype(np.float64) * v))

    for j in range(flat.shape[0]):
        original = flat[j].item()
        flat[j] = original + eps
        plus = value()
        flat[j] = original - eps
        minus = value()
        flat[j] = original
        out[j] = (plus - minus) / (2 * eps)
    return out.reshape(x.shape)


def check_my_backward(cls, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                      seed: int = 0, raise_on_failure: bool = False,
                      **options) -> BackwardDiagnosis:
    """Gradient-check ``cls`` (a ``Function`` subclass) on ``inputs`` and explain failures.

    ``inputs`` are Tensors, arrays or numbers; float tensors and arrays are copied to float64
    and checked. ``options`` are passed to ``forward`` as keywords. Returns a
    ``BackwardDiagnosis`` (``str()`` it for the explanation); with ``raise_on_failure`` a
    failure raises ``GradcheckError`` with that explanation instead.
    """
    check_tolerances("check_my_backward", eps, atol, rtol)
    args = []
    for a in inputs:
        if isinstance(a, Tensor) and a.dtype.kind == "f":
            a = Tensor._wrap(a.data.astype(np.float64, order="C"), False).requires_grad_(True)
        elif is_array(a) and a.dtype.kind == "f":
            a = Tensor._wrap(a.astype(np.float64, order="C"), False).requires_grad_(True)
        args.append(a)
    tensors = [a for a in args if isinstance(a, Tensor)]
    checked = [k for k, t in enumerate(tensors) if t.requires_grad]
    if not checked:
        raise ValueError(f"check_my_backward: {cls.__name__} got no floating point input")
    with enable_grad():
        out = cls.apply(*args, **options)
    if out._ctx is None:  # an integer or bool output: no gradient flows back through it
        raise TypeError(f"check_my_backward: {cls.__name__}.forward returned {out.dtype} values "
                        f"(shape {tuple(out.shape)}); only a floating point output has a "
                        "gradient to check")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.shape)
    diagnosis = BackwardDiagnosis(cls.__name__, passed=True)
    diagnosis.numeric = [_numeric(cls, args, options, v, tensors[k], eps) if k in checked
                         else None for k in range(len(tensors))]

    try:
        with no_grad():
            raw = out._ctx.backward(Tensor._wrap(backend.to_device(v, out.device), False))
    except Exception as e:
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        diagnosis.passed = False
        diagnosis.findings.append(Finding(None, "raised", (
            f"your backward raised {last}. Print the shapes of dy and of self.inputs inside "
            "backward: most crashes are shape mismatches in a product or a transpose.")))
        return _finish(diagnosis, raise_on_failure)
    grads = raw if isinstance(raw, tuple) else (raw,)
    if len(grads) != len(tensors):
        diagnosis.passed = False
        diagnosis.findings.append(Finding(None, "wrong_count", (
            f"your backward returned {len(grads)} gradient(s) but forward takes "
            f"{len(tensors)} tensor input(s). Return one per tensor input, in the order of "
            "forward's arguments (None for an input that needs no gradient).")))
        return _finish(diagnosis, raise_on_failure)
    diagnosis.analytic = [None if g is None else host(g).astype(np.float64) for g in grads]

    for k in checked:
        a, n = diagnosis.analytic[k], diagnosis.numeric[k]
        if a is None:  # "no gradient": right when the output does not depend on input k
            a = np.zeros(n.shape)
        if _close(a, n, atol, rtol):
            continue
        diagnosis.passed = False
        diagnosis.findings.append(_diagnose(k, tensors, diagnosis, out, v, atol, rtol))
    return _finish(diagnosis, raise_on_failure)


def _finish(diagnosis: BackwardDiagnosis, raise_on_failure: bool) -> BackwardDiagnosis:
    if raise_on_failure and not diagnosis.passed:
        raise GradcheckError(str(diagnosis))
    return diagnosis


# ----------------------------------------------------------------------------------------------
# The hypotheses, tested on the numbers
# ----------------------------------------------------------------------------------------------


def _diagnose(k, tensors, diagnosis, out, v, atol, rtol) -> Finding:
    a, n = diagnosis.analytic[k], diagnosis.numeric[k]
    shape = tuple(tensors[k].shape)
    biggest = float(np.max(np.abs(n), initial=0.0))

    if a is None or not np.any(a):
        what = "None" if a is None else "all zeros"
        return Finding(k, "zero_gradient", (
            f"your gradient is {what}, but the output does depend on input {k} (numerical "
            f"gradient up to {biggest:.3g}). Return its gradient; None is only right for an "
            "input the output does not depend on."))

    if a.shape != shape:
        summed = _sum_to(a, shape)
        if summed is not None and _close(summed, n, atol, rtol):
            axes = _broadcast_axes(shape, a.shape)
            return Finding(k, "missing_unbroadcast", (
                f"input {k} has shape {fmt_shape(shape)} but your gradient has the broadcast "
                f"shape {fmt_shape(a.shape)}. In the forward, input {k} was broadcast along "
                f"axes {axes}, so each of its elements was used several times; its gradient is "
                "the SUM over those copies. Return sum_to(grad, x.shape) "
                "(tinygrad_edu.functional.sum_to): summing over the broadcast axes undoes the "
                "broadcast."))
        if a.ndim >= 2 and _close(np.swapaxes(a, -1, -2), n, atol, rtol):
            return Finding(k, "transposed", _transposed_message(k, shape, a.shape))
        other = _matches_other_input(k, a, diagnosis.numeric, atol, rtol)
        if other is not None:
            return _wrong_input(k, other)
        keep = _reduced_shape(a, shape, n, atol, rtol)
        if keep is not None:
            return Finding(k, "wrong_shape", (
                f"your gradient has the reduced shape {fmt_shape(a.shape)} of the output, but "
                f"input {k} has shape {fmt_shape(shape)}. A reduction's gradient goes back to "
                f"every element it reduced: reshape it to {fmt_shape(keep)} and broadcast it "
                f"to {fmt_shape(shape)} (broadcast_to(reshape(dy, keepdim_shape), x.shape))."))
        return Finding(k, "wrong_shape", (
            f"your gradient has shape {fmt_shape(a.shape)} but input {k} has shape "
            f"{fmt_shape(shape)}; a gradient always has the shape of its input. Write the "
            "shape of every factor next to your formula and check each product."))

    if _close(-a, n, atol, rtol):
        return Finding(k, "sign_flipped", (
            "your gradient is exactly minus the right one: a sign is flipped. Typical "
            "places: d(a - b)/db = -1, d(cos x)/dx = -sin x, d(1/x)/dx = -1/x^2, "
            "d(e^-x)/dx = -e^-x."))

    if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and _close(np.swapaxes(a, -1, -2), n, atol,
                                                               rtol):
        return Finding(k, "transposed", _transposed_message(k, shape, a.shape))
    formula = _matmul_mistake(k, tensors, out, v, a, atol, rtol)
    if formula is not None:
        right = "dY @ B^T" if k == 0 else "A^T @ dY"
        return Finding(k, "transposed", (
            f"your gradient equals {formula}, but for Y = A @ B the right one is {right}. "
            "The operands of a matmul gradient are transposed and in a fixed order: "
            "dA = dY @ B^T, dB = A^T @ dY (check: the result must have the input's shape)."))

    other = _matches_other_input(k, a, diagnosis.numeric, atol, rtol)
    if other is not None:
        return _wrong_input(k, other)

    ratio = _constant_ratio(a, n)
    if ratio is not None:
        return Finding(k, "factor_off", (
            f"your gradient is {ratio:.4g} times the right one, everywhere: a constant "
            f"factor is {'missing' if ratio < 1 else 'extra'}{_factor_hint(ratio)}. Typical "
            "places: the 2 in d(x^2)/dx = 2x, the 1/n of a mean, a scale applied in forward."))

    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(a - n))), shape))
    return Finding(k, "unknown", (
        f"no common mistake explains it. Worst element {worst}: numeric {n[worst]:.6g} vs "
        f"yours {a[worst]:.6g}. Compare your formula term by term with the derivative "
        "written on paper, on a 1-element input first."))


def _wrong_input(k: int, other: int) -> Finding:
    return Finding(k, "wrong_input", (
        f"what you return for input {k} is the gradient of input {other}. backward must "
        "return the gradients in the order of forward's arguments: (d_input0, d_input1, "
        "...). Check the order of your return tuple (and which input each formula uses)."))


def _reduced_shape(a: np.ndarray, shape: tuple, n: np.ndarray, atol, rtol) -> tuple | None:
    """If ``a`` is ``n`` with some axes reduced away (a sum's dy returned as is), the keepdim
    shape that broadcasting back needs; else None."""
    if a.ndim >= len(shape):
        return None
    for axes in itertools.combinations(range(len(shape)), len(shape) - a.ndim):
        kept = tuple(s for i, s in enumerate(shape) if i not in axes)
        if kept != a.shape:
            continue
        keep = tuple(1 if i in axes else s for i, s in enumerate(shape))
        if _close(np.broadcast_to(a.reshape(keep), shape), n, atol, rtol):
            return keep
    return None


def _broadcast_axes(shape: tuple, broadcast: tuple) -> tuple:
    lead = len(broadcast) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and broadcast[lead + i] != 1
    )


def _transposed_message(k: int, shape: tuple, got: tuple) -> str:
    return (
        f"your gradient for input {k} is the transpose of the right one (you returned "
        f"{fmt_shape(got)} for an input of shape {fmt_shape(shape)}). For Y = A @ B: "
        "dA = dY @ B^T and dB = A^T @ dY; swapping the operands or the transpose gives the "
        "transposed result."
    )


def _matches_other_input(k, a, numeric, atol, rtol) -> int | None:
    for j, n in enumerate(numeric):
        if j == k or n is None or not np.any(n):
            continue
        if _close(a, n, atol, rtol):
            return j
    return None


def _matmul_mistake(k, tensors, out, v, a, atol, rtol) -> str | None:
    """If forward is Y = A @ B (2-d), name the wrong product the gradient equals."""
    if len(tensors) != 2 or any(t.ndim != 2 for t in tensors) or k > 1:
        return None
    A, B = host(tensors[0]), host(tensors[1])
    if A.shape[1] != B.shape[0] or not np.allclose(A @ B, host(out)):
        return None
    dY = v
    factors = {"dY": dY, "dY^T": dY.T}
    others = {"B": B, "B^T": B.T} if k == 0 else {"A": A, "A^T": A.T}
    for left_name, left in list(factors.items()) + list(others.items()):
        for right_name, right in list(factors.items()) + list(others.items()):
            pair = {left_name.split("^")[0], right_name.split("^")[0]}
            if len(pair) != 2 or left.shape[1] != right.shape[0]:
                continue  # one factor must be dY, the other the other operand
            product = left @ right
            if product.shape == a.shape and _close(a, product, atol, rtol):
                return f"{left_name} @ {right_name}"
    return None


def _constant_ratio(a: np.ndarray, n: np.ndarray) -> float | None:
    """The constant c with a = c * n (within 1e-4 relative), if there is one."""
    big = np.abs(n) > 1e-3 * np.max(np.abs(n), initial=0.0)
    if not np.any(big):
        return None
    ratios = a[big] / n[big]
    c = float(np.median(ratios))
    if c == 0 or not np.allclose(ratios, c, rtol=1e-4, atol=0):
        return None
    if not np.allclose(a, c * n, rtol=1e-4, atol=1e-8):
        return None
    return c


def _factor_hint(ratio: float) -> str:
    for value, text in ((2.0, " (twice too big)"), (0.5, " (half of it: a missing 2?)"),
                        (3.0, " (three times too big)"), (1 / 3, " (a third: a missing 3?)")):
        if abs(ratio - value) < 1e-3 * value:
            return text
    return ""
