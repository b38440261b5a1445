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
        if t.dtype.kind == "c":
            raise TypeError(f"{op}: input {i} is complex ({t.dtype}, shape {tuple(t.shape)}); "
                            "complex inputs are not supported (real central differences only)")
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


def _check_options(op: str, eps, atol, rtol, mode: str, n_directions: int = 1,
                   nondet_tol=0.0) -> None:
    """Refuse settings that would divide by zero, make every comparison fail, or mean nothing."""
    check_tolerances(op, eps, atol, rtol)
    if not (_finite_number(nondet_tol) and nondet_tol >= 0):
        raise ValueError(f"{op}: nondet_tol must be a number >= 0, got {nondet_tol!r}")
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


def _upstream_for(outputs: tuple, rng) -> list:
    """One fixed random upstream gradient v per output (drawn in order, for every output)."""
    return [
        Tensor._wrap(backend.to_device(rng.standard_normal(o.shape), o.device), False)
        for o in outputs
    ]


def _checked_outputs(outputs: tuple, fn, op: str, skip_no_graph: bool) -> list:
    """Positions of the outputs whose gradients are checked: the floating point ones; with
    ``skip_no_graph``, only those that require grad (torch's "differentiable outputs": a
    detached or integer output has no gradient to check), unless none does: then every float
    output is checked against an analytic gradient of 0 (it must be constant)."""
    for k, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: output {k} of {_name(fn)} is a {type(out).__name__}; "
                            "expected a Tensor (or a tuple of Tensors)")
        if out.dtype.kind == "c":
            raise TypeError(f"{op}: output {k} of {_name(fn)} is complex ({out.dtype}); "
                            "complex outputs are not supported")
    floats = [k for k, out in enumerate(outputs) if out.dtype.kind == "f"]
    if not floats:
        raise ValueError(f"{op}: {_name(fn)} has no floating point output; nothing to check")
    differentiable = [k for k in floats if outputs[k].requires_grad]
    return differentiable if skip_no_graph and differentiable else floats


def _loss(fn, inputs, upstream) -> Tensor:
    """sum_k sum(v_k * y_k) over the floating point outputs y_k of ``fn(*inputs)``."""
    return _loss_of(_as_tuple(fn(*inputs)), upstream)


def _loss_of(outputs: tuple, upstream) -> Tensor:
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
    nondet_tol: float = 0.0,
    fast_mode: bool = False,
) -> bool:
    """True if ``fn``'s analytic gradients match central differences for every input that
    requires grad; otherwise raise ``GradcheckError`` with a report (or return False).

    Passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` element by element. An
    input the outputs do not depend on (its gradient is None) passes when its numerical
    gradient is 0 too. The report names the output and the input, with the numeric and the
    analytic gradient. Each output's backward runs twice: the two results may differ by at
    most ``nondet_tol`` (torch's reentrancy check; with 0 they must agree up to float64
    round-off, which torch does not allow for but GPU atomic additions need).

    As in ``torch.autograd.gradcheck``, outputs that do not require grad (integer, detached)
    are not checked, unless no output requires grad: then fn must be constant (numerical
    gradient 0). How it differs from torch's (same eps, atol, rtol, raise_exception,
    nondet_tol, fast_mode):

    - for each output y_k it compares one vector-Jacobian product v^T J (v a random upstream
      gradient, one backward) with central differences of sum(v * y_k), not the full Jacobian
      column by column; ``mode="random"`` (or ``fast_mode=True``) compares directional
      derivatives along ``n_directions`` random directions instead, like torch's fast mode;
    - float32 (or float16) inputs are not checked in their own precision: they are copied to
      float64 with a warning (torch checks them as they are and warns that they are not
      double); the caller's tensors are never changed; complex inputs and outputs are refused;
    - the analytic pass records its graph even inside a caller's ``no_grad`` block;
    - it does not take torch's ``check_undefined_grad``, ``check_grad_dtypes``,
      ``check_batched_grad``, ``check_batched_forward_grad``, ``check_forward_ad``,
      ``check_backward_ad`` or ``masked`` (no undefined gradients, forward-mode AD, vmap or
      complex numbers here); it adds ``mode``, ``n_directions`` and ``seed`` (the upstream v);
    - the options may be given by position (torch makes them keyword-only).

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    >>> tg.gradcheck(lambda x: (x.tanh() * x).sum(dim=1), [x])
    True
    """
    mode = "random" if fast_mode else mode
    _check_options("gradcheck", eps, atol, rtol, mode, n_directions, nondet_tol)
    inputs = _prepare(inputs, "gradcheck")
    checked = _checked_positions(inputs, "gradcheck")
    report = _first_order_report(fn, inputs, checked, eps, atol, rtol, mode, n_directions,
                                 seed, "gradcheck", nondet_tol)
    return _verdict(report, raise_exception)


def _verdict(report: str | None, raise_exception: bool) -> bool:
    if report is None:
        return True
    if raise_exception:
        raise GradcheckError(report)
    return False


def _first_order_report(fn, inputs: tuple, checked: list, eps, atol, rtol, mode: str,
                        n_directions: int, seed: int, op: str, nondet_tol: float = 0.0,
                        skip_no_graph: bool = True) -> str | None:
    """None when the gradients of ``fn``'s outputs match central differences, else the report
    for the first output and input that do not, headed "``op`` failed for ``fn``: input i
    (...), output k (...)". ``inputs`` are already float64 copies.

    Each checked output y_k gets its own upstream v_k and its own backward, dL_k/dx with
    L_k = sum(v_k * y_k), so that a failure names the output as well as the input; one call of
    ``fn`` per perturbation gives the numerical side of every L_k at once."""
    rng = np.random.default_rng(seed)
    with enable_grad():  # the analytic side needs the graph, even inside the caller's no_grad
        outputs = _as_tuple(fn(*inputs))
    keys = _checked_outputs(outputs, fn, op, skip_no_graph)
    upstream = _upstream_for(outputs, rng)
    wrt = [inputs[i] for i in checked]

    def evaluate() -> np.ndarray:  # L_k for every checked output k
        with no_grad():
            perturbed = _as_tuple(fn(*inputs))
            return np.array([float((perturbed[k] * upstream[k]).sum().item()) for k in keys])

    if mode == "full":
        numeric = [_numeric_full(x, evaluate, eps, len(keys)) for x in wrt]
    else:
        numeric = [_numeric_directions(x, evaluate, eps, n_directions, rng) for x in wrt]
    for n, k in enumerate(keys):
        analytic = _analytic(outputs[k], upstream[k], wrt)
        again = _analytic(outputs[k], upstream[k], wrt)  # a backward must be repeatable
        reports = [_compare_runs(a, b, nondet_tol) for a, b in zip(analytic, again)]
        for j, a in enumerate(analytic):
            if reports[j] is None:
                if mode == "full":
                    reports[j] = _compare(a, numeric[j][n], atol, rtol)
                else:
                    reports[j] = _compare_directions(a, numeric[j], n, atol, rtol)
        for i, report in zip(checked, reports):
            if report is not None:
                return (
                    f"{op} failed for {_name(fn)}: input {i} (shape {tuple(inputs[i].shape)}), "
                    f"output {k} (shape {tuple(outputs[k].shape)})\n"
                    f"  eps={eps:g} atol={atol:g} rtol={rtol:g} mode={mode}\n{report}"
                )
    return None


def _analytic(out: Tensor, v: Tensor, wrt: list) -> list:
    """d sum(v * out) / dx for each x of ``wrt``, as NumPy arrays (zeros where unused)."""
    if not out.requires_grad:  # no graph: to autograd, out is a constant
        return [np.zeros(x.shape) for x in wrt]
    with enable_grad():
        loss = (out * v).sum()
    grads = grad(loss, wrt, retain_graph=True, allow_unused=True)
    return [np.zeros(x.shape) if g is None else backend.to_numpy(g.data)
            for g, x in zip(grads, wrt)]


def _compare_runs(first: np.ndarray, second: np.ndarray, nondet_tol: float) -> str | None:
    """None if two backward passes agree within ``nondet_tol`` plus float64 round-off (1e-12
    of the largest gradient: GPU kernels that add with atomics may sum in another order each
    run), else the report. NaN where both are NaN counts as agreeing, as in torch."""
    difference = np.abs(first - second)
    round_off = 1e-12 * np.max(np.abs(first[np.isfinite(first)]), initial=0.0)
    if not (difference > nondet_tol + round_off).any():
        return None
    return (
        f"  backward is not reentrant: two backward passes with the same input and upstream "
        f"gradient differ by up to {np.nanmax(difference):.3g} (nondet_tol={nondet_tol:g}); "
        "the backward reads something besides its inputs (state kept between calls, "
        "randomness). Raise nondet_tol if that is expected.\n"
        f"  first:\n{np.array2string(first, precision=5, threshold=50)}\n"
        f"  second:\n{np.array2string(second, precision=5, threshold=50)}"
    )


def _numeric_full(x: Tensor, evaluate, eps: float, n_outputs: int) -> np.ndarray:
    """Central differences of ``evaluate()`` (one value per checked output) for every element
    of ``x``: shape (n_outputs, *x.shape)."""
    flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
    numeric = np.zeros((n_outputs, flat.shape[0]))
    for j in range(flat.shape[0]):
        original = flat[j].item()
        flat[j] = original + eps
        plus = evaluate()
        flat[j] = original - eps
        minus = evaluate()
        flat[j] = original
        numeric[:, j] = (plus - minus) / (2 * eps)
    return numeric.reshape((n_outputs,) + tuple(x.shape))


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


def _numeric_directions(x: Tensor, evaluate, eps: float, n_directions: int, rng) -> list:
    """[(u, numeric)] for ``n_directions`` random directions u: numeric holds, per checked
    output, (L(x + eps u) - L(x - eps u)) / 2 eps."""
    flat = x.data.reshape(-1)
    original = flat.copy()
    found = []
    for _ in range(n_directions):
        u = rng.standard_normal(flat.shape[0])
        u_dev = backend.to_device(u, x.device)
        flat[...] = original + eps * u_dev
        plus = evaluate()
        flat[...] = original - eps * u_dev
        minus = evaluate()
        flat[...] = original
        found.append((u, (plus - minus) / (2 * eps)))
    return found


def _compare_directions(analytic: np.ndarray, directions: list, n: int, atol, rtol):
    """None if <analytic, u> matches the numerical directional derivative of output ``n``
    along every direction u, else a report naming the first that does not."""
    for d, (u, numeric) in enumerate(directions):
        numeric = float(numeric[n])
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
    grad_outputs: Sequence | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "full",
    seed: int = 0,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    fast_mode: bool = False,
) -> bool:
    """Check second derivatives: gradcheck the function x -> d/dx sum(v * fn(x)) built with
    ``create_graph=True`` (v a fixed random upstream gradient); its "output k" is the first
    derivative with respect to the k-th input that requires grad.

    A first derivative that autograd cannot differentiate again (a backward written with raw
    arrays: it has no graph) reads as a constant, so its derivative shows as "analytic 0"; the
    report then says which input's first derivative has no graph. A function whose output has
    no graph at all passes only if it really is constant (checked numerically, as gradcheck
    does). ``grad_outputs`` (a Tensor or one per output, third as in
    ``torch.autograd.gradgradcheck``) fixes v; by default v is random, from ``seed``. It takes
    none of the torch-only options listed in ``gradcheck``; ``nondet_tol`` and ``fast_mode``
    mean what they mean there.

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(3, dtype=tg.float64, requires_grad=True)
    >>> tg.gradgradcheck(lambda x: x.tanh() * x, [x])
    True
    """
    mode = "random" if fast_mode else mode
    _check_options("gradgradcheck", eps, atol, rtol, mode, 4, nondet_tol)
    inputs = _prepare(inputs, "gradgradcheck")
    checked = _checked_positions(inputs, "gradgradcheck")
    with enable_grad():
        outputs = _as_tuple(fn(*inputs))
        _checked_outputs(outputs, fn, "gradgradcheck", skip_no_graph=False)  # refuse early
        if grad_outputs is None:
            upstream = _upstream_for(outputs, np.random.default_rng(seed + 1))
        else:
            upstream = _given_upstream(grad_outputs, outputs, fn)
        loss = _loss_of(outputs, upstream)
    if not loss.requires_grad:
        # No graph: to autograd fn is a constant (first and second derivatives 0). Right only
        # if fn really is constant, which central differences of fn itself tell.
        report = _first_order_report(fn, inputs, checked, eps, atol, rtol, mode, 4, seed,
                                     "gradgradcheck", nondet_tol)
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
    # a first derivative without a graph is checked too (skip_no_graph=False): it must then
    # be constant, which is what the hint below is about
    report = _first_order_report(first_derivative, inputs, checked, eps, atol, rtol, mode, 4,
                                 seed, "gradgradcheck", nondet_tol, skip_no_graph=False)
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


def _given_upstream(grad_outputs, outputs: tuple, fn) -> list:
    """The caller's v (``grad_outputs``), one float64 Tensor per output, shapes checked."""
    given = _as_tuple(grad_outputs)
    if len(given) != len(outputs):
        raise ValueError(f"gradgradcheck: got {len(given)} grad_outputs for the "
                         f"{len(outputs)} outputs of {_name(fn)}")
    upstream = []
    for k, (v, out) in enumerate(zip(given, outputs)):
        if not isinstance(v, Tensor) or v.shape != out.shape:
            what = f"shape {tuple(v.shape)}" if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"gradgradcheck: grad_outputs[{k}] must be a Tensor of the shape "
                             f"of output {k} {tuple(out.shape)}, got {what}")
        upstream.append(Tensor._wrap(v.data.astype(np.float64), False))
    return upstream


def _hint(text: str) -> str:
    """A report's closing hint, wrapped like the rest of the report."""
    return "\n" + textwrap.fill(text, width=96, initial_indent="  hint: ",
                                subsequent_indent="        ")
