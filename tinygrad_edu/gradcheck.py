"""Check analytic gradients against float64 central differences.

For a function f and a random upstream gradient v, let L(x) = sum(v * f(x)). Autograd gives
dL/dx in one backward pass; the numerical estimate of each element is

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        (error O(eps^2))

``mode="full"`` perturbs every element (exact per-element report, cost: 2 evaluations per
element); ``mode="random"`` compares directional derivatives along a few random directions u:
(L(x + eps u) - L(x - eps u)) / 2 eps  vs  <dL/dx, u>  (cheap for big inputs).
"""

from __future__ import annotations

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
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


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

    Passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` element by element.

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    >>> tg.gradcheck(lambda x: (x.tanh() * x).sum(dim=1), [x])
    True
    """
    if mode not in ("full", "random"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'random', got {mode!r}")
    inputs = _prepare(inputs, "gradcheck")
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    rng = np.random.default_rng(seed)
    with no_grad():
        outputs = _as_tuple(fn(*inputs))
    upstream = [
        Tensor._wrap(backend.to_device(rng.standard_normal(o.shape), o.device), False)
        for o in outputs
    ]
    loss = _loss(fn, inputs, upstream)
    if loss is None:
        raise ValueError("gradcheck: the function has no floating point output")
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
            message = (
                f"gradcheck failed for {_name(fn)}: input {i} (shape {tuple(x.shape)})\n"
                f"  eps={eps:g} atol={atol:g} rtol={rtol:g} mode={mode}\n{report}"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


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
    ``create_graph=True`` (v a fixed random upstream gradient)."""
    inputs = _prepare(inputs, "gradgradcheck")
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    rng = np.random.default_rng(seed + 1)
    with no_grad():
        outputs = _as_tuple(fn(*inputs))
    upstream = [
        Tensor._wrap(backend.to_device(rng.standard_normal(o.shape), o.device), False)
        for o in outputs
    ]

    def first_derivative(*xs):
        with enable_grad():  # the numerical side calls this under no_grad
            loss = _loss(fn, xs, upstream)
            grads = grad(loss, [xs[i] for i in checked], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    first_derivative.__qualname__ = f"d/dx {_name(fn)}"
    return gradcheck(first_derivative, inputs, eps, atol, rtol, mode, seed=seed,
                     raise_exception=raise_exception)
