"""Is every layer learning? Per-layer gradient norms and update-to-weight ratios over training.

Two numbers per named parameter and step tell most of the story:

- ``grad norm`` ||dL/dW||: in a deep sigmoid net it shrinks by about 0.25 * ||W|| per layer on
  the way down (sigmoid' <= 1/4), so the first layers get gradients orders of magnitude smaller
  than the last ones (vanishing gradients); ReLU with He init keeps them about level.
- ``update / weight`` ||W_after - W_before|| / ||W_before||: how much one optimizer step moves a
  layer relative to its size. Around 1e-3 is healthy for SGD-like training (Karpathy's rule of
  thumb); 1e-6 means the layer is frozen in practice, 1e-1 means it is thrashing.

Usage::

    health = GradientHealth(model)
    for step in range(steps):
        loss = ...; loss.backward()
        health.record(step)        # gradient norms (and a copy of the weights)
        optimizer.step()
        health.after_step()        # update / weight ratios
        optimizer.zero_grad()
    health.plot("health.png")

or ``optimizer = health.wrap(optimizer)``, whose ``step()`` does both.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from ._common import fmt_float, fmt_shape, format_table, new_figure, norm


class GradientHealth:
    """Record per-parameter gradient norms and update/weight ratios at every step.

    ``model``: an ``nn.Module`` (its ``named_parameters()``), an iterable of (name, tensor)
    pairs (``model.named_parameters()``), or of plain tensors (``model.parameters()``), which
    are then named ``param0``, ``param1``, ... in order.
    """

    def __init__(self, model):
        self.params = [(name, p) for name, p in _named_tensors(model) if p.requires_grad]
        if not self.params:
            raise ValueError("GradientHealth: the model has no parameter that requires grad")
        self.steps: list = []
        self.grad_norms: dict[str, list] = {name: [] for name, _ in self.params}
        self.weight_norms: dict[str, list] = {name: [] for name, _ in self.params}
        self.update_ratios: dict[str, list] = {name: [] for name, _ in self.params}
        self._before: list | None = None

    @property
    def names(self) -> list:
        return [name for name, _ in self.params]

    def weight_names(self) -> list:
        """Names of the matrices (ndim >= 2), in model order: the layers of a plot."""
        return [name for name, p in self.params if p.ndim >= 2]

    def record(self, step=None) -> None:
        """Call after ``backward()`` and before ``optimizer.step()``: stores every parameter's
        gradient norm (0 for a parameter that got no gradient) and a copy of its weights."""
        self.steps.append(len(self.steps) if step is None else step)
        self._before = []
        for name, p in self.params:
            self.grad_norms[name].append(norm(p.grad) if p.grad is not None else 0.0)
            self.weight_norms[name].append(norm(p))
            self.update_ratios[name].append(math.nan)  # filled in by after_step()
            self._before.append(backend.get_array_module(p.data).array(p.data, copy=True))

    def after_step(self) -> None:
        """Call after ``optimizer.step()``: update/weight ratio of the step ``record`` saw."""
        if self._before is None:
            raise RuntimeError(
                "GradientHealth.after_step: call record() after backward() and before "
                "optimizer.step(), then after_step() after it"
            )
        for (name, p), before in zip(self.params, self._before, strict=True):
            weight = norm(before)
            change = norm(p.data.astype(np.float64) - before.astype(np.float64))
            if weight > 0:
                ratio = change / weight
            else:  # a zero weight (a bias at its zero init): any move is infinitely big
                ratio = math.inf if change > 0 else math.nan
            self.update_ratios[name][-1] = ratio
        self._before = None

    def wrap(self, optimizer) -> WatchedOptimizer:
        """An optimizer whose ``step()`` calls ``record()`` before and ``after_step()`` after."""
        return WatchedOptimizer(optimizer, self)

    def summary(self, step: int = -1) -> str:
        """A table of the given recorded step (the last by default)."""
        if not self.steps:
            return "GradientHealth: nothing recorded yet (call record() after backward())"
        rows = []
        for name, p in self.params:
            rows.append([name, fmt_shape(p.shape), fmt_float(self.grad_norms[name][step]),
                         fmt_float(self.weight_norms[name][step]),
                         fmt_float(self.update_ratios[name][step])])
        table = format_table(["parameter", "shape", "grad norm", "weight norm",
                              "update/weight"], rows, right={2, 3, 4})
        return f"gradient health at step {self.steps[step]}\n{table}"

    def __str__(self) -> str:
        return self.summary()

    def plot(self, path, title: str = "") -> str:
        """PNG: gradient norm and update/weight ratio of every weight matrix over the steps."""
        fig = new_figure((10, 4))
        names = self.weight_names() or self.names
        panels = (("grad norm", self.grad_norms), ("update / weight", self.update_ratios))
        for k, (label, series) in enumerate(panels):
            ax = fig.add_subplot(1, 2, k + 1)
            for name in names:
                values = np.asarray(series[name], dtype=float)
                ax.semilogy(self.steps, np.where(values > 0, values, np.nan), label=name)
            if k == 1:
                ax.axhline(1e-3, color="gray", linestyle="--", alpha=0.5)
            ax.set_xlabel("step")
            ax.set_ylabel(label)
        fig.axes[0].legend(fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(str(path), dpi=100)
        return str(path)


def _named_tensors(model) -> list:
    """[(name, tensor)] from a Module, (name, tensor) pairs or plain tensors (see
    ``GradientHealth``); a TypeError naming what arrived otherwise."""
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, Tensor):
        model = [model]
    try:
        items = list(model)
    except TypeError:
        raise TypeError(
            "GradientHealth: expected an nn.Module, model.named_parameters() or "
            f"model.parameters(), got {type(model).__name__}"
        ) from None
    named = []
    for k, item in enumerate(items):
        if isinstance(item, Tensor):
            named.append((f"param{k}", item))
        elif (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
              and isinstance(item[1], Tensor)):
            named.append((item[0], item[1]))
        else:
            raise TypeError(
                "GradientHealth: expected (name, tensor) pairs as model.named_parameters() "
                f"gives, or tensors as model.parameters() gives; item {k} is "
                f"{_describe(item)}"
            )
    names = [name for name, _ in named]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"GradientHealth: parameter names must be unique; repeated: "
                         f"{repeated}")
    return named


def _describe(item) -> str:
    if isinstance(item, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in item)
        return f"a {type(item).__name__} of {len(item)} ({inner})"
    return f"a {type(item).__name__}"


class WatchedOptimizer:
    """Wraps an optimizer: ``step()`` records gradient health around the real step; every
    other attribute (``zero_grad``, ``param_groups``, ...) is the wrapped optimizer's."""

    def __init__(self, optimizer, health: GradientHealth):
        self.optimizer = optimizer
        self.health = health

    def step(self, *args, **kwargs):
        self.health.record()
        result = self.optimizer.step(*args, **kwargs)
        self.health.after_step()
        return result

    def zero_grad(self, *args, **kwargs):
        return self.optimizer.zero_grad(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


# ----------------------------------------------------------------------------------------------
# Demo: deep sigmoid MLP vs deep ReLU MLP
# ----------------------------------------------------------------------------------------------


class _PlainSGD:
    """p -= lr * grad (used when tinygrad_edu.optim is not available)."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        self.lr = lr

    def step(self):
        with no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.data -= self.lr * p.grad.data

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def _sgd(params, lr: float):
    try:
        from ..optim.sgd import SGD
    except Exception:  # the optim package is optional for this demo
        return _PlainSGD(params, lr)
    return SGD(list(params), lr=lr)


def _cross_entropy(logits: Tensor, targets: np.ndarray) -> Tensor:
    """mean_i -log softmax(logits_i)[targets_i]"""
    log_probs = logits.log_softmax(-1)  # (N, C)
    picked = log_probs[np.arange(len(targets)), targets]  # (N,)
    return -picked.mean()


NETS = {
    # name: (activation, init, batchnorm)
    "sigmoid": ("sigmoid", "default", False),
    "relu": ("relu", "he", False),
    "sigmoid+batchnorm": ("sigmoid", "default", True),
}


def compare_deep_nets(depth: int = 10, width: int = 64, in_features: int = 32,
                      n_classes: int = 10, batch_size: int = 64, steps: int = 3,
                      lr: float = 0.1, seed: int = 0, path=None, nets=None) -> dict:
    """Train deep MLPs for a few steps on the same random batch and return
    ``{name: GradientHealth}``.

    ``nets`` (default: all that this version can build) names them: "sigmoid" (PyTorch's
    default Linear init), "relu" (He init), "sigmoid+batchnorm" (BatchNorm1d before every
    sigmoid, when ``nn.BatchNorm1d`` exists). With ``path``, save a PNG of every layer's
    gradient norm at the last step (log scale): the sigmoid curve drops by orders of magnitude
    towards the input; ReLU with He init and BatchNorm keep it level.
    """
    from ._layers import _nn_class, mlp

    if nets is None:
        nets = [name for name, (_, _, bn) in NETS.items()
                if not bn or _nn_class("BatchNorm1d") is not None]
    for name in nets:
        if name not in NETS:
            raise ValueError(f"compare_deep_nets: unknown net {name!r}; choose from "
                             f"{sorted(NETS)}")

    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((batch_size, in_features)).astype(np.float32))
    targets = rng.integers(0, n_classes, batch_size)
    sizes = [in_features] + [width] * depth + [n_classes]
    results = {}
    for name in nets:
        activation, init, batchnorm = NETS[name]
        model = mlp(sizes, activation, init=init, seed=seed, batchnorm=batchnorm)
        health = GradientHealth(model)
        optimizer = health.wrap(_sgd(model.parameters(), lr))
        for _ in range(steps):
            loss = _cross_entropy(model(x), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        results[name] = health
    if path is not None:
        plot_layer_norms(results, path)
    return results


def plot_layer_norms(results: dict, path, step: int = -1) -> str:
    """PNG: gradient norm of each weight matrix (input layer first) for every run in
    ``results`` (name -> GradientHealth), at one recorded step."""
    fig = new_figure((7, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    for name, health in results.items():
        layers = health.weight_names()
        values = [health.grad_norms[layer][step] for layer in layers]
        ax.semilogy(range(1, len(layers) + 1), values, "o-", label=name)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("gradient norm ||dL/dW||")
    ax.set_title("gradient norm per layer (vanishing gradients)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return str(path)
