"""Check analytic gradients against float64 central differences.

For a function f and a random upstream gradient v, let L(x) = sum(v * f(x)). Autograd gives
dL/dx in one backward pass; the numerical estimate of each element is

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        (error O(eps^2))

``mode="full"`` perturbs every element (exact per-element report, cost: 2 evaluations per
element); ``mode="random"`` compares directional derivatives along a few random directions u:
(L(x + eps u) - L(x - eps u)) / 2 eps  vs  <dL/dx, u>  (cheap for big inputs).
"""

from __future__ import annotations

import inspect
import math
import numbers
import textwrap
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from . import backend
from .autograd import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when analytic and numerical gradients disagree; the message is the report."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare(inputs, op: str) -> tuple:
    inputs = _as_tuple(inputs)
    prepared = []
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            prepared.append(t)
            continue
        if t.requires_grad and t.dtype != np.float64:
            warnings.warn(
                f"{op}: input {i} has dtype {t.dtype}; checking in float64 instead (float32 "
                "central differences are too noisy to tell a bug from round-off)",
                stacklevel=3,
            )
        data = t.data.astype(np.float64) if t.dtype.kind == "f" else t.data
        prepared.append(Tensor._wrap(data.copy(), False).requires_grad_(t.requires_grad)
                        if t.dtype.kind == "f" else Tensor._wrap(data, False))
    return tuple(prepared)


def _name(fn) -> str:
    """How a failure message names ``fn``: ``MyFn.apply`` for a Function's apply (a classmethod
    bound to ``MyFn``, whose own ``__qualname__`` is the base class's ``Function.apply``),
    ``Model.forward`` for a bound method, else the function's qualified name."""
    owner = getattr(fn, "__self__", None)
    method = getattr(fn, "__name__", None)
    if owner is not None and method is not None and not inspect.ismodule(owner):
        cls = owner if isinstance(owner, type) else type(owner)
        return f"{cls.__name__}.{method}"
    return getattr(fn, "__qualname__", None) or method or repr(fn)


def _check_options(op: str, eps, atol, rtol, mode: str, n_directions: int = 1) -> None:
    """Refuse settings that would divide by zero, make every comparison fail, or mean nothing."""
    check_tolerances(op, eps, atol, rtol)
    if mode not in ("full", "random"):
        raise ValueError(f"{op}: mode must be 'full' or 'random', got {mode!r}")
    if mode == "random" and not (isinstance(n_directions, numbers.Integral)
                                 and not isinstance(n_directions, bool) and n_directions >= 1):
        raise ValueError(f"{op}: n_directions must be an integer >= 1 in mode='random', got "
                         f"{n_directions!r}")


def check_tolerances(op: str, eps, atol, rtol) -> None:
    """ValueError naming ``op`` unless eps > 0 and atol, rtol >= 0 (all finite numbers); the
    study tools that difference numerically call it too."""
    if not (_finite_number(eps) and eps > 0):
        raise ValueError(f"{op}: eps must be a positive number (the central-difference step, "
                         f"e.g. 1e-6), got {eps!r}")
    for label, value in (("atol", atol), ("rtol", rtol)):
        if not (_finite_number(value) and value >= 0):
            raise ValueError(f"{op}: {label} must be a number >= 0, got {value!r}")


def _finite_number(value) -> bool:
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return is_number and math.isfinite(value)


def _checked_positions(inputs: tuple, op: str) -> list:
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError(f"{op}: no input requires grad; nothing to check (pass tensors made "
                         "with requires_grad=True)")
    return checked


def _random_upstream(fn, inputs: tuple, rng) -> list:
    """One fixed random upstream gradient v per output of ``fn(*inputs)``."""
    with no_grad():
        outputs = _as_tuple(fn(*inputs))
    return [
        Tensor._wrap(backend.to_device(rng.standard_normal(o.shape), o.device), False)
        for o in outputs
    ]


def _loss(fn, inputs, upstream) -> Tensor:
    outputs = _as_tuple(fn(*inputs))
    total = None
    for out, v in zip(outputs, upstream):
        if out.dtype.kind != "f":
            continue
        term = (out * v).sum()
        total = term if total is None else total + term
    return total


def gradcheck(
    fn: Callable,
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "full",
    n_directions: int = 4,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """True if ``fn``'s analytic gradients match central differences for every input that
    requires grad; otherwise raise ``GradcheckError`` with a report (or return False).

    Passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` element by element. An
    input the outputs do not depend on (its gradient is None) passes when its numerical
    gradient is 0 too.

    How it differs from ``torch.autograd.gradcheck`` (same eps, atol, rtol, raise_exception):

    - it compares one vector-Jacobian product v^T J (v a random upstream gradient, one
      backward) with central differences of sum(v * fn(x)), not the full Jacobian column by
      column; ``mode="random"`` is the counterpart of torch's ``fast_mode=True``;
    - float32 (or float16) inputs are not checked in their own precision: they are copied to
      float64 with a warning (torch checks them as they are and warns that they are not
      double); the caller's tensors are never changed;
    - it does not take torch's ``nondet_tol``, ``check_undefined_grad``, ``check_grad_dtypes``,
      ``check_batched_grad``, ``check_batched_forward_grad``, ``check_forward_ad``,
      ``check_backward_ad`` or ``masked`` (no forward-mode AD, vmap or complex numbers here);
      it adds ``n_directions`` and ``seed`` for ``mode="random"`` and the upstream v;
    - the options may be given by position (torch makes them keyword-only).

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    >>> tg.gradcheck(lambda x: (x.tanh() * x).sum(dim=1), [x])
    True
    """
    _check_options("gradcheck", eps, atol, rtol, mode, n_directions)
    inputs = _prepare(inputs, "gradcheck")
    checked = _checked_positions(inputs, "gradcheck")
    report = _first_order_report(fn, inputs, checked, eps, atol, rtol, mode, n_directions,
                                 seed, "gradcheck")
    return _verdict(report, raise_exception)


def _verdict(report: str | None, raise_exception: bool) -> bool:
    if report is None:
        return True
    if raise_exception:
        raise GradcheckError(report)
    return False


def _first_order_report(fn, inputs: tuple, checked: list, eps, atol, rtol, mode: str,
                        n_directions: int, seed: int, op: str) -> str | None:
    """None when ``fn``'s gradients match central differences, else the failure report
    (headed "``op`` failed for ``fn``"). ``inputs`` are already float64 copies."""
    rng = np.random.default_rng(seed)
    upstream = _random_upstream(fn, inputs, rng)
    loss = _loss(fn, inputs, upstream)
    if loss is None:
        raise ValueError(f"{op}: {_name(fn)} has no floating point output; nothing to check")
    if loss.requires_grad:
        analytic = grad(loss, [inputs[i] for i in checked], allow_unused=True)
    else:  # the outputs do not depend on any checked input: every analytic gradient is 0
        analytic = (None,) * len(checked)

    def evaluate() -> float:
        with no_grad():
            return float(_loss(fn, inputs, upstream).item())

    for k, i in enumerate(checked):
        x = inputs[i]
        a = backend.to_numpy(analytic[k].data) if analytic[k] is not None else np.zeros(x.shape)
        if mode == "full":
            numeric = _numeric_full(x, evaluate, eps)
            report = _compare(a, numeric, atol, rtol)
        else:
            report = _compare_directions(x, a, evaluate, eps, atol, rtol, n_directions, rng)
        if report is not None:
            return (
                f"{op} failed for {_name(fn)}: input {i} (shape {tuple(x.shape)})\n"
                f"  eps={eps:g} atol={atol:g} rtol={rtol:g} mode={mode}\n{report}"
            )
    return None


def _numeric_full(x: Tensor, evaluate, eps: float) -> np.ndarray:
    """Central difference of the scalar ``evaluate()`` for every element of ``x``."""
    flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
    numeric = np.zeros(flat.shape[0])
    for j in range(flat.shape[0]):
        original = flat[j].item()
        flat[j] = original + eps
        plus = evaluate()
        flat[j] = original - eps
        minus = evaluate()
        flat[j] = original
        numeric[j] = (plus - minus) / (2 * eps)
    return numeric.reshape(x.shape)


def _compare(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> str | None:
    """None if close everywhere, else a report naming the worst element."""
    error = np.abs(analytic - numeric)
    excess = error - (atol + rtol * np.abs(numeric))
    if not np.isfinite(analytic).all() or not np.isfinite(numeric).all():
        bad = np.argwhere(~(np.isfinite(analytic) & np.isfinite(numeric)))[0]
        worst = tuple(int(v) for v in bad)
    elif (excess <= 0).all():
        return None
    else:
        worst = tuple(int(v) for v in np.unravel_index(np.argmax(excess), excess.shape))
    failing = int(np.count_nonzero(~(excess <= 0)))
    return (
        f"  worst element {worst}: numeric {numeric[worst]:.8g} vs analytic "
        f"{analytic[worst]:.8g} (abs error {error[worst]:.3g})\n"
        f"  {failing} of {error.size} elements out of tolerance; max abs error "
        f"{np.nanmax(error):.3g}\n"
        f"  numeric:\n{np.array2string(numeric, precision=5, threshold=50)}\n"
        f"  analytic:\n{np.array2string(analytic, precision=5, threshold=50)}"
    )


def _compare_directions(x, analytic, evaluate, eps, atol, rtol, n_directions, rng):
    flat = x.data.reshape(-1)
    original = flat.copy()
    for d in range(n_directions):
        u = rng.standard_normal(flat.shape[0])
        u_dev = backend.to_device(u, x.device)
        flat[...] = original + eps * u_dev
        plus = evaluate()
        flat[...] = original - eps * u_dev
        minus = evaluate()
        flat[...] = original
        numeric = (plus - minus) / (2 * eps)
        projected = float(np.dot(analytic.reshape(-1), u))
        if not abs(projected - numeric) <= atol + rtol * abs(numeric):
            return (
                f"  direction {d}: numeric directional derivative {numeric:.8g} vs analytic "
                f"{projected:.8g} (abs error {abs(projected - numeric):.3g})"
            )
    return None


def gradgradcheck(
    fn: Callable,
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "full",
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck the function x -> d/dx sum(v * fn(x)) built with
    ``create_graph=True`` (v a fixed random upstream gradient).

    A first derivative that autograd cannot differentiate again (a backward written with raw
    arrays: it has no graph) reads as a constant, so its derivative shows as "analytic 0"; the
    report then says which input's first derivative has no graph. A function whose output has
    no graph at all passes only if it really is constant (checked numerically, as gradcheck
    does). Unlike ``torch.autograd.gradgradcheck`` it takes no ``grad_outputs`` (v is random,
    from ``seed``) and none of the torch-only options listed in ``gradcheck``.

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(3, dtype=tg.float64, requires_grad=True)
    >>> tg.gradgradcheck(lambda x: x.tanh() * x, [x])
    True
    """
    _check_options("gradgradcheck", eps, atol, rtol, mode)
    inputs = _prepare(inputs, "gradgradcheck")
    checked = _checked_positions(inputs, "gradgradcheck")
    upstream = _random_upstream(fn, inputs, np.random.default_rng(seed + 1))
    with enable_grad():
        loss = _loss(fn, inputs, upstream)
    if loss is None:
        raise ValueError(f"gradgradcheck: {_name(fn)} has no floating point output; nothing "
                         "to check")
    if not loss.requires_grad:
        # No graph: to autograd fn is a constant (first and second derivatives 0). Right only
        # if fn really is constant, which central differences of fn itself tell.
        report = _first_order_report(fn, inputs, checked, eps, atol, rtol, mode, 4, seed,
                                     "gradgradcheck")
        if report is not None:
            report += _hint(
                f"the output of {_name(fn)} has no graph back to its inputs (built from raw "
                "arrays, or under no_grad), so autograd sees a constant function and both "
                "derivatives read 0; numerically it is not constant. Build it from Tensor ops."
            )
        return _verdict(report, raise_exception)

    no_graph: set = set()  # positions whose first derivative autograd cannot differentiate

    def first_derivative(*xs):
        with enable_grad():  # the numerical side calls this under no_grad
            loss = _loss(fn, xs, upstream)
            if not loss.requires_grad:
                grads = (None,) * len(checked)
            else:
                grads = grad(loss, [xs[i] for i in checked], create_graph=True,
                             allow_unused=True)
        derivatives = []
        for i, g in zip(checked, grads, strict=True):
            if g is None:  # fn does not depend on xs[i]: its derivative is 0 everywhere
                xp = backend.get_array_module(xs[i].data)
                g = Tensor._wrap(xp.zeros_like(xs[i].data), False)
            elif not g.requires_grad:
                no_graph.add(i)
            derivatives.append(g)
        return tuple(derivatives)

    first_derivative.__qualname__ = f"d/dx {_name(fn)}"
    report = _first_order_report(first_derivative, inputs, checked, eps, atol, rtol, mode, 4,
                                 seed, "gradgradcheck")
    if report is not None and no_graph:
        which = ", ".join(str(i) for i in sorted(no_graph))
        inputs_have = f"input {which} has" if len(no_graph) == 1 else f"inputs {which} have"
        report += _hint(
            f"the first derivative of {inputs_have} no graph (requires_grad is False). Right "
            "for a derivative that is constant (of a linear term); otherwise a backward "
            "computed it from raw arrays (or the op is first-order only), so autograd cannot "
            "differentiate it again and its derivative reads 0 ('analytic 0' above). Write "
            "that backward with Tensor ops to make it twice differentiable."
        )
    return _verdict(report, raise_exception)


def _hint(text: str) -> str:
    """A report's closing hint, wrapped like the rest of the report."""
    return "\n" + textwrap.fill(text, width=96, initial_indent="  hint: ",
                                subsequent_indent="        ")
