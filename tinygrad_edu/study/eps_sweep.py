"""How big should eps be? Sweep it and watch the error of central differences trace a U.

The central difference (f(x + eps) - f(x - eps)) / (2 eps) has two errors:

    truncation   f'''(x) eps^2 / 6          (Taylor terms the formula drops): shrinks with eps
    round-off    ~ u |f(x)| / eps           (u = 2.2e-16 in float64, 1.2e-7 in float32: the
                                             two f values agree in most digits, and subtracting
                                             them cancels those digits): grows as eps shrinks

so on a log-log plot the error falls with slope 2, bottoms out near eps ~ u^(1/3)
(about 1e-5 in float64, 5e-3 in float32) and rises again with slope -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import enable_grad, grad, no_grad
from ..tensor import Tensor
from ._common import fmt_float, format_table, host, new_figure

DEFAULT_EPS = tuple(10.0 ** -k for k in range(1, 11))


@dataclass
class EpsSweepResult:
    """Max |numeric - analytic| over the checked elements, for every eps in ``eps_values``."""

    eps_values: list
    errors: list
    dtype: str
    n_elements: int

    @property
    def best_eps(self) -> float:
        """The eps with the smallest error (the bottom of the U)."""
        return self.eps_values[int(np.nanargmin(self.errors))]

    def slopes(self) -> list:
        """Local slope d log(error) / d log(eps) between neighbouring eps values: about 2 where
        truncation dominates, about -1 where round-off does (None for the first or a zero)."""
        out = [None]
        for k in range(1, len(self.eps_values)):
            e0, e1 = self.errors[k - 1], self.errors[k]
            if e0 > 0 and e1 > 0:
                ratio = self.eps_values[k] / self.eps_values[k - 1]
                out.append(math.log(e1 / e0) / math.log(ratio))
            else:
                out.append(None)
        return out

    def __str__(self) -> str:
        best = self.best_eps
        rows = []
        for eps, err, slope in zip(self.eps_values, self.errors, self.slopes(), strict=True):
            if slope is None:
                regime = ""
            elif slope > 0.5:
                regime = "truncation (~eps^2)"
            elif slope < -0.5:
                regime = "round-off (~1/eps)"
            else:
                regime = "near the minimum"
            rows.append([f"{eps:.0e}", fmt_float(err), "" if slope is None else f"{slope:+.1f}",
                         regime, "<- best" if eps == best else ""])
        table = format_table(["eps", "max |num - ana|", "slope", "regime", ""], rows, right={1})
        return (f"eps sweep ({self.dtype}, {self.n_elements} elements): best eps = {best:.0e}\n"
                + table)


def _prepare(inputs, dtype) -> list:
    """Copies of the inputs in ``dtype``; the float tensors that require grad are checked (all
    float tensors when none requires grad)."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    wanted = [isinstance(t, Tensor) and t.requires_grad for t in inputs]
    if not any(wanted):
        wanted = [isinstance(t, Tensor) and t.dtype.kind == "f" for t in inputs]
    prepared = []
    for t, want in zip(inputs, wanted, strict=True):
        if isinstance(t, Tensor) and t.dtype.kind == "f":
            copy = Tensor._wrap(t.data.astype(dtype, order="C"), False)
            prepared.append(copy.requires_grad_(True) if want else copy)
        else:
            prepared.append(t)
    if not any(isinstance(t, Tensor) and t.requires_grad for t in prepared):
        raise ValueError("eps_sweep: no floating point tensor input to differentiate")
    return prepared


def _outputs(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


class _Problem:
    """L(x) = sum(v * fn(x)) with a fixed random v: its analytic gradient and its value."""

    def __init__(self, fn, inputs, dtype, seed):
        self.fn = fn
        self.inputs = _prepare(inputs, dtype)
        self.checked = [t for t in self.inputs if isinstance(t, Tensor) and t.requires_grad]
        rng = np.random.default_rng(seed)
        self.rng = rng
        with enable_grad():
            outs = _outputs(fn(*self.inputs))
            # v is rounded to the output's dtype, so both sides see the same upstream gradient
            self.upstream = [rng.standard_normal(o.shape).astype(o.dtype).astype(np.float64)
                             if o.dtype.kind == "f" else None for o in outs]
            roots = [o for o in outs if o.dtype.kind == "f" and o.requires_grad]
            vs = [Tensor._wrap(backend.to_device(v, o.device).astype(o.dtype), False)
                  for o, v in zip(outs, self.upstream, strict=True)
                  if o.dtype.kind == "f" and o.requires_grad]
            grads = grad(roots, self.checked, grad_outputs=vs, allow_unused=True)
        self.analytic = [np.zeros(t.shape) if g is None else host(g).astype(np.float64)
                         for t, g in zip(self.checked, grads, strict=True)]

    def value(self) -> float:
        with no_grad():
            outs = _outputs(self.fn(*self.inputs))
        return float(sum(np.sum(host(o).astype(np.float64) * v)
                         for o, v in zip(outs, self.upstream, strict=True)
                         if o.dtype.kind == "f"))

    def numeric(self, x: Tensor, indices, eps: float) -> np.ndarray:
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
        result = np.empty(len(indices))
        for n, j in enumerate(indices):
            original = flat[j].item()
            flat[j] = original + eps
            plus = self.value()
            flat[j] = original - eps
            minus = self.value()
            flat[j] = original
            # divide by the step actually taken (x + eps rounds in float32), subtracted in
            # float64, where the difference of two float32 values is exact
            step = float(np.asarray(original + eps, x.dtype)) - float(
                np.asarray(original - eps, x.dtype))
            result[n] = (plus - minus) / (step if step != 0 else 2 * eps)
        return result

    def indices(self, x: Tensor, max_elements: int) -> np.ndarray:
        if x.data.size <= max_elements:
            return np.arange(x.data.size)
        return np.sort(self.rng.choice(x.data.size, max_elements, replace=False))


def eps_sweep(fn, inputs, eps_values=DEFAULT_EPS, dtype=np.float64, max_elements: int = 256,
              seed: int = 0) -> EpsSweepResult:
    """Max |numeric - analytic| of ``fn``'s gradient for every eps in ``eps_values``.

    ``inputs``: a tensor or a list of tensors (copied in ``dtype``; the ones that require grad
    are checked, or every float tensor when none does). Up to ``max_elements`` elements of each
    checked input are perturbed.

    >>> import tinygrad_edu as tg
    >>> x = tg.linspace(-1, 1, 5, dtype=tg.float64)
    >>> result = eps_sweep(lambda x: x.sin(), [x])
    >>> 1e-7 <= result.best_eps <= 1e-3
    True
    """
    dtype = np.dtype(dtype)
    problem = _Problem(fn, inputs, dtype, seed)
    chosen = [problem.indices(x, max_elements) for x in problem.checked]
    errors = []
    for eps in eps_values:
        worst = 0.0
        for x, a, idx in zip(problem.checked, problem.analytic, chosen, strict=True):
            numeric = problem.numeric(x, idx, float(eps))
            worst = max(worst, float(np.max(np.abs(numeric - a.reshape(-1)[idx]), initial=0.0)))
        errors.append(worst)
    n = int(sum(len(i) for i in chosen))
    return EpsSweepResult([float(e) for e in eps_values], errors, dtype.name, n)


def plot_eps_sweep(result: EpsSweepResult, path) -> str:
    """Save the sweep as a log-log PNG, with eps^2 and 1/eps guide lines through the ends."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    eps = np.asarray(result.eps_values)
    err = np.maximum(np.asarray(result.errors), 1e-300)
    ax.loglog(eps, err, "o-", label="max |numeric - analytic|")
    big = int(np.argmax(eps))
    small = int(np.argmin(eps))
    ax.loglog(eps, err[big] * (eps / eps[big]) ** 2, "--", alpha=0.6,
              label="truncation ~ eps$^2$")
    ax.loglog(eps, err[small] * (eps[small] / eps), ":", alpha=0.6,
              label="round-off ~ 1/eps")
    ax.axvline(result.best_eps, color="gray", alpha=0.4)
    ax.set_ylim(err.min() / 10, err.max() * 10)
    ax.set_xlabel("eps")
    ax.set_ylabel("error")
    ax.set_title(f"central differences in {result.dtype}: best eps = {result.best_eps:.0e}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return str(path)


def error_heatmap(fn, inputs, param_index: int, path, eps: float = 1e-6,
                  dtype=np.float64, seed: int = 0) -> np.ndarray:
    """Save a PNG of |numeric - analytic| for every element of ``inputs[param_index]`` and
    return that error array (shape of the input). 1-d inputs are drawn as one row, inputs with
    more than 2 dims as (shape[0], rest).

    A correct backward gives uniform round-off noise (about 1e-10); a bug lights up the
    elements it touches, e.g. one column for a wrong bias broadcast.
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not 0 <= param_index < len(inputs) or not isinstance(inputs[param_index], Tensor):
        raise IndexError(
            f"error_heatmap: param_index {param_index} does not name a tensor input "
            f"(got {len(inputs)} inputs)"
        )
    marked = [t.detach() if isinstance(t, Tensor) and t.dtype.kind == "f" else t for t in inputs]
    marked[param_index] = marked[param_index].detach().requires_grad_(True)
    problem = _Problem(fn, marked, np.dtype(dtype), seed)
    x = problem.checked[0]
    idx = np.arange(x.data.size)
    numeric = problem.numeric(x, idx, eps).reshape(x.shape)
    error = np.abs(numeric - problem.analytic[0])
    image = error.reshape(1, -1) if error.ndim <= 1 else error.reshape(error.shape[0], -1)
    fig = new_figure((6, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    shown = ax.imshow(np.log10(image + 1e-300), aspect="auto", cmap="viridis")
    fig.colorbar(shown, ax=ax, label="log10 |numeric - analytic|")
    ax.set_title(f"input {param_index} {tuple(x.shape)}: max error {error.max():.2e} "
                 f"(eps={eps:g})")
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return error
