"""Gradient-check every op of a model separately, and report them in one table.

``tinygrad_edu.gradcheck`` checks a whole function: when it fails you learn that *some* op is
wrong. This tool runs the model once while recording every op call (its ``Function`` class,
its real inputs and options, the module it ran in and the source line), then re-applies each
op alone, in float64, and compares its backward with central differences:

    L(x) = sum(v * op(x))          v: a fixed random upstream gradient
    numeric_i  = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)
    analytic   = op.backward(v)    (one backward through that single op)

An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` (the rule of
``tinygrad_edu.gradcheck``). Big inputs are checked on ``max_elements`` randomly chosen
elements plus a few random directions u over all elements: (L(x + eps u) - L(x - eps u)) / 2 eps
vs <analytic, u>.

Ops are checked on the inputs they really saw, so a bug that only shows for the model's
shapes (a broadcast, a batch dim) or values (a saturation) is caught where it happens.

Non-differentiable points are real in models: a max-pool after a ReLU sees windows of exact
zeros (ties). There the one-sided slopes (L(x + eps e_i) - L(x)) / eps and
(L(x) - L(x - eps e_i)) / eps disagree, the central difference is their average and matches no
backward. Such an element is excused (and counted: "pass (3 at kinks)") when the analytic value
lies between the two slopes, i.e. is a valid one-sided derivative.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import add_hook, enable_grad, grad, no_grad
from ..gradcheck import check_tolerances
from ..tensor import Tensor
from ._common import (
    ModuleScope,
    fmt_float,
    fmt_shape,
    format_table,
    host,
    inside_backward,
    is_array,
    source_line,
)


@dataclass
class OpCall:
    """One recorded op call: what ran, on which inputs, and where."""

    index: int
    cls: type
    args: tuple
    kwargs: dict
    where: str
    source: str

    @property
    def name(self) -> str:
        return self.cls.__name__


@dataclass
class OpCheck:
    """The gradient check of one op call.

    ``status`` is "pass", "FAIL" or "skip"; ``failure`` (for FAIL) names the input, the worst
    element and the numeric and analytic values there.
    """

    index: int
    op: str
    where: str
    source: str
    input_shapes: list
    status: str
    reason: str = ""
    checked: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    failure: dict = field(default_factory=dict)
    kinks: int = 0  # checks excused at non-differentiable points (see _kinks)

    def describe_failure(self) -> str:
        """One paragraph: which op, where, which element, numeric vs analytic."""
        head = f"op #{self.index} {self.op} in {self.where} at {self.source}"
        f = self.failure
        if not f:
            return f"{head}: {self.reason}"
        if "element" in f:
            detail = (
                f"input {f['input']} {fmt_shape(f['shape'])} worst element {f['element']}: numeric "
                f"{f['numeric']:.8g} vs analytic {f['analytic']:.8g} "
                f"(abs error {abs(f['numeric'] - f['analytic']):.3g})"
            )
        else:
            detail = (
                f"input {f['input']} {fmt_shape(f['shape'])} along random direction "
                f"{f['direction']}: numeric {f['numeric']:.8g} vs analytic {f['analytic']:.8g}"
            )
        return f"{head}\n    {detail}"


class GradcheckReport:
    """The result of ``gradcheck_report``: one ``OpCheck`` per recorded op call.

    ``str(report)`` is the table; ``report.passed`` is True when no op failed;
    ``report.first_failure`` is the first failing op in forward order (or None).
    """

    def __init__(self, checks: list[OpCheck], eps: float, atol: float, rtol: float):
        self.checks = checks
        self.eps, self.atol, self.rtol = eps, atol, rtol

    @property
    def failures(self) -> list[OpCheck]:
        return [c for c in self.checks if c.status == "FAIL"]

    @property
    def skipped(self) -> list[OpCheck]:
        return [c for c in self.checks if c.status == "skip"]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def first_failure(self) -> OpCheck | None:
        failures = self.failures
        return failures[0] if failures else None

    def __bool__(self) -> bool:
        return self.passed

    def __len__(self) -> int:
        return len(self.checks)

    def __str__(self) -> str:
        headers = ["#", "op", "where", "line", "input shapes", "checked", "max abs err",
                   "max rel err", "result"]
        rows = []
        for c in self.checks:
            line = c.source.split(" (")[0].rsplit("/", 1)[-1]
            result = c.status if c.status != "skip" else f"skip: {c.reason}"
            if c.kinks:
                result += f" ({c.kinks} at kinks)"
            rows.append([c.index, c.op, c.where, line, " ".join(fmt_shape(s) for s in
                                                                 c.input_shapes),
                         c.checked, fmt_float(c.max_abs_err), fmt_float(c.max_rel_err), result])
        table = format_table(headers, rows, right={0, 6, 7})
        n_pass = sum(c.status == "pass" for c in self.checks)
        summary = (
            f"gradcheck report: {len(self.checks)} op calls, {n_pass} passed, "
            f"{len(self.failures)} failed, {len(self.skipped)} skipped "
            f"(float64, eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})"
        )
        lines = [summary, table]
        first = self.first_failure
        if first is not None:
            lines.append("FIRST FAILURE: " + first.describe_failure())
        return "\n".join(lines)

    __repr__ = __str__


class _Recorder:
    """A ``Config.hooks`` observer that records every forward op call."""

    def __init__(self, scope: ModuleScope):
        self.scope = scope
        self.calls: list[OpCall] = []

    def on_forward(self, fn, out, seconds):
        if inside_backward():
            return  # an op inside some backward: not part of the model's forward
        self.calls.append(OpCall(len(self.calls), type(fn), tuple(fn.hook_args),
                                 dict(fn.hook_kwargs), self.scope.current(), source_line()))


def record_ops(fn_or_model, *inputs, model=None) -> list[OpCall]:
    """Run ``fn_or_model(*inputs)`` once (with grad on) and return every op call it made,
    labelled with the sub-module of ``model`` (default: ``fn_or_model``) that ran it."""
    with ModuleScope(fn_or_model if model is None else model) as scope:
        recorder = _Recorder(scope)
        with add_hook(recorder), enable_grad():
            fn_or_model(*inputs)
    return recorder.calls


def gradcheck_report(
    fn_or_model,
    *inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 64,
    n_directions: int = 2,
    seed: int = 0,
    model=None,
) -> GradcheckReport:
    """Gradient-check every op that ``fn_or_model(*inputs)`` calls, each on its own.

    Args:
        fn_or_model: an ``nn.Module`` (ops are labelled with the innermost sub-module that
            ran them) or any function of tensors.
        inputs: the inputs to call it with (any dtype; the checks run in float64).
        eps, atol, rtol: central-difference step and tolerances (as ``gradcheck``).
        max_elements: at most this many elements of each input are perturbed one by one
            (chosen at random when the input is bigger); bigger inputs are also checked along
            ``n_directions`` random directions covering all elements.
        model: the ``nn.Module`` whose sub-modules label the ops when ``fn_or_model`` is a
            function that calls it (e.g. ``lambda x: loss(model(x))``).

    Only inputs that required grad in the real call are checked (the others are constants of
    that op); ops with no such input, or with a non-float output, are listed as skipped.

    >>> import tinygrad_edu as tg
    >>> w = tg.randn(3, 2, requires_grad=True)
    >>> report = gradcheck_report(lambda x: (x @ w).tanh().sum(), tg.randn(4, 3))
    >>> report.passed, [c.op for c in report.checks]
    (True, ['MatMul', 'Tanh', 'Sum'])
    """
    check_tolerances("gradcheck_report", eps, atol, rtol)
    calls = record_ops(fn_or_model, *inputs, model=model)
    rng = np.random.default_rng(seed)
    checks = [_check_call(call, eps, atol, rtol, max_elements, n_directions, rng)
              for call in calls]
    return GradcheckReport(checks, eps, atol, rtol)


# ----------------------------------------------------------------------------------------------
# Checking one op call
# ----------------------------------------------------------------------------------------------


def _to_float64(value, requires_grad: bool = False):
    """A float64 copy of a float Tensor or array; dtypes that name a float become float64 (so a
    ``Cast`` to float32 does not throw the float64 precision away); anything else unchanged.

    Copies are C-ordered: the checks perturb ``x.data.reshape(-1)``, which is a view only for
    a contiguous array (the transposed weight a Linear layer multiplies by is not)."""
    if isinstance(value, Tensor):
        if value.dtype.kind != "f":
            return value
        t = Tensor._wrap(value.data.astype(np.float64, order="C"), False)
        return t.requires_grad_(True) if requires_grad else t
    if is_array(value) and value.dtype.kind == "f":
        return value.astype(np.float64, order="C")
    if isinstance(value, np.dtype) and value.kind == "f":
        return np.dtype(np.float64)
    if isinstance(value, type) and issubclass(value, np.floating):
        return np.float64
    return value


def _check_call(call: OpCall, eps, atol, rtol, max_elements, n_directions, rng) -> OpCheck:
    shapes = [tuple(a.shape) for a in call.args if isinstance(a, Tensor)]
    check = OpCheck(call.index, call.name, call.where, call.source, shapes, status="skip")
    positions = [i for i, a in enumerate(call.args) if isinstance(a, Tensor) and a.requires_grad]
    if not positions:
        check.reason = "no input requires grad"
        return check
    args = tuple(_to_float64(a, i in positions) for i, a in enumerate(call.args))
    kwargs = {k: _to_float64(v) for k, v in call.kwargs.items()}

    def apply():
        return call.cls.apply(*args, **kwargs)

    try:
        with enable_grad():
            out = apply()
    except Exception as e:  # an op that cannot run in float64 is reported, not fatal
        check.reason = f"forward failed in float64: {type(e).__name__}: {e}"
        return check
    if not isinstance(out, Tensor) or out.dtype.kind != "f":
        check.reason = "output is not floating point"
        return check

    v_host = rng.standard_normal(out.shape)
    upstream = Tensor._wrap(backend.to_device(v_host, out.device), False)
    checked = [args[i] for i in positions]
    try:
        analytic = grad(out, checked, grad_outputs=upstream, allow_unused=True)
    except Exception as e:
        check.status = "FAIL"
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        check.reason = f"backward raised {last}"
        return check

    def evaluate() -> float:
        with no_grad():
            y = apply()
        return float(np.sum(host(y).astype(np.float64) * v_host))

    base = evaluate()
    worst_excess = -np.inf
    max_abs = max_rel = 0.0
    counted = []
    for k, (pos, x) in enumerate(zip(positions, checked, strict=True)):
        a = np.zeros(x.shape) if analytic[k] is None else host(analytic[k]).astype(np.float64)
        result = _compare_input(x, a, evaluate, base, eps, atol, rtol, max_elements,
                                n_directions, rng)
        check.kinks += result["kinks"]
        counted.append(result["checked"])
        max_abs = max(max_abs, result["max_abs"])
        max_rel = max(max_rel, result["max_rel"])
        if result["failure"] and result["excess"] > worst_excess:
            worst_excess = result["excess"]
            check.failure = dict(result["failure"], input=pos, shape=tuple(x.shape))
    check.checked = "+".join(counted)
    check.max_abs_err, check.max_rel_err = max_abs, max_rel
    check.status = "FAIL" if check.failure else "pass"
    return check


def _kinks(base, plus, minus, analytic, eps, atol, rtol):
    """Which checks sit on a non-differentiable point (ReLU at 0, a tie in a max).

    There the one-sided differences (plus - base) / eps and (base - minus) / eps disagree by
    far more than the f'' eps a smooth function gives, and no single derivative exists. Such a
    check is excused when the analytic value lies between the two one-sided slopes (it is then
    a valid one-sided derivative, the choice the op made)."""
    right = (plus - base) / eps
    left = (base - minus) / eps
    tol = atol + rtol * np.maximum(np.abs(right), np.abs(left))
    kink = np.abs(right - left) > 10 * tol
    between = (analytic >= np.minimum(left, right) - tol) & (analytic <= np.maximum(left, right)
                                                            + tol)
    return kink, kink & between


def _compare_input(x: Tensor, analytic: np.ndarray, evaluate, base: float, eps, atol, rtol,
                   max_elements, n_directions, rng) -> dict:
    """Central differences for one input (in place on ``x``), compared with ``analytic``.

    ``base`` is the unperturbed value of L, for the one-sided slopes of the kink test. The
    "checked" label counts what was really checked: "64/9408" elements, then "+2dir" only for
    random directions that ran (none after an element already failed; up to the failing one)."""
    flat = x.data.reshape(-1)  # a view of the float64 copy: perturbing it perturbs x
    size = flat.shape[0]
    if size <= max_elements:
        indices = np.arange(size)
        label = f"{size}"
    else:
        indices = np.sort(rng.choice(size, max_elements, replace=False))
        label = f"{max_elements}/{size}"
    a_flat = analytic.reshape(-1)
    plus = np.empty(len(indices))
    minus = np.empty(len(indices))
    for n, j in enumerate(indices):
        original = flat[j].item()
        flat[j] = original + eps
        plus[n] = evaluate()
        flat[j] = original - eps
        minus[n] = evaluate()
        flat[j] = original
    numeric = (plus - minus) / (2 * eps)
    chosen = a_flat[indices]
    _, excused = _kinks(base, plus, minus, chosen, eps, atol, rtol)
    error = np.where(excused, 0.0, np.abs(chosen - numeric))
    scale = np.maximum(np.maximum(np.abs(chosen), np.abs(numeric)), 1e-300)
    rel = np.where(error > 0, error / scale, 0.0)
    excess = error - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isfinite(excess), excess, np.inf)
    result = {"checked": label, "max_abs": float(np.nanmax(error, initial=0.0)),
              "max_rel": float(np.nanmax(rel, initial=0.0)), "failure": None,
              "excess": -np.inf, "kinks": int(excused.sum())}
    if len(indices) and excess.max() > 0:
        worst = int(np.argmax(excess))
        element = tuple(int(i) for i in np.unravel_index(int(indices[worst]), x.shape))
        result["failure"] = {"element": element, "numeric": float(numeric[worst]),
                             "analytic": float(chosen[worst])}
        result["excess"] = float(excess[worst])
        return result
    if size > max_elements:
        original = flat.copy()
        for d in range(n_directions):
            result["checked"] = f"{label}+{d + 1}dir"
            u = rng.standard_normal(size)
            u_dev = backend.to_device(u, x.device)
            flat[...] = original + eps * u_dev
            plus_d = evaluate()
            flat[...] = original - eps * u_dev
            minus_d = evaluate()
            flat[...] = original
            numeric_d = (plus_d - minus_d) / (2 * eps)
            analytic_d = float(np.dot(a_flat, u))
            err = abs(numeric_d - analytic_d)
            rel = err / max(abs(numeric_d), abs(analytic_d), 1e-300) if err > 0 else 0.0
            if err <= atol + rtol * abs(numeric_d):
                result["max_abs"] = max(result["max_abs"], err)
                result["max_rel"] = max(result["max_rel"], rel)
                continue
            kink, _ = _kinks(base, np.array(plus_d), np.array(minus_d), np.array(analytic_d),
                             eps, atol, rtol)
            if bool(kink):  # a direction crossing kinks proves nothing either way
                result["kinks"] += 1
                continue
            result["max_abs"] = max(result["max_abs"], err)
            result["max_rel"] = max(result["max_rel"], rel)
            result["failure"] = {"direction": d, "numeric": numeric_d, "analytic": analytic_d}
            result["excess"] = err - (atol + rtol * abs(numeric_d))
            break
    return result
