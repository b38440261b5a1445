"""Small models for the study tools' demos and the CLI: an MLP of any depth and activation.

The layers come from ``tinygrad_edu.nn`` when it provides them (``Linear``, ``ReLU``, ...);
otherwise from the minimal stand-ins below, built on ``nn.Module`` and ``F.linear``, so the
tools work while the nn package grows.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..nn.module import Module, Parameter, Sequential
from ..tensor import Tensor


class StudyLinear(Module):
    """y = x W^T + b, W of shape (out_features, in_features): a stand-in for ``nn.Linear``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1 / math.sqrt(in_features)
        rng = np.random.default_rng(0)
        weight = rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32)
        self.weight = Parameter(weight)
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(np.float32))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)  # (N, out_features)


class StudyActivation(Module):
    """An activation function as a Module (``relu``, ``sigmoid``, ``tanh``)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ("relu", "sigmoid", "tanh"):
            raise ValueError(f"activation: expected 'relu', 'sigmoid' or 'tanh', got {name!r}")
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return getattr(F, self.name)(x)

    def extra_repr(self) -> str:
        return self.name


def _nn_class(name: str):
    """``tinygrad_edu.nn.<name>`` if the nn package provides it (and imports cleanly)."""
    try:
        from .. import nn
    except Exception:  # a half-finished nn package must not break the study tools
        return None
    cls = getattr(nn, name, None)
    if cls is None and name == "Linear":
        try:
            from ..nn.linear import Linear as cls
        except Exception:
            return None
    return cls


def linear(in_features: int, out_features: int) -> Module:
    cls = _nn_class("Linear") or StudyLinear
    return cls(in_features, out_features)


def activation(name: str) -> Module:
    cls = _nn_class({"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}.get(name, ""))
    return cls() if cls is not None else StudyActivation(name)


def batch_norm(features: int) -> Module:
    cls = _nn_class("BatchNorm1d")
    if cls is None:
        raise RuntimeError("mlp: batchnorm=True needs tinygrad_edu.nn.BatchNorm1d, which this "
                           "version does not have")
    return cls(features)


def mlp(sizes, activation_name: str = "relu", init: str | None = None, seed: int = 0,
        dtype=np.float32, batchnorm: bool = False) -> Sequential:
    """``Sequential(Linear, act, Linear, act, ..., Linear)`` for layer widths ``sizes``.

    ``batchnorm=True`` puts ``nn.BatchNorm1d`` between every hidden Linear and its activation
    (an error if the nn package has no BatchNorm1d).

    ``init``: None keeps the layer's default; "he" draws W ~ N(0, 2 / fan_in) (right for ReLU);
    "default" draws W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear default).
    Biases start at zero when ``init`` is given.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp: need at least an input and an output width, got {sizes}")
    rng = np.random.default_rng(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layer = linear(fan_in, fan_out)
        if init is not None:
            _init_linear(layer, init, rng, dtype)
        layers.append(layer)
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(batch_norm(fan_out))
            layers.append(activation(activation_name))
    model = Sequential(*layers)
    if np.dtype(dtype) != np.float32:  # every layer: the batch norms too, not only the Linears
        model.to(dtype=dtype)
    return model


def _init_linear(layer: Module, init: str, rng: np.random.Generator, dtype) -> None:
    fan_out, fan_in = layer.weight.shape
    if init == "he":
        weight = rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_out, fan_in))
    elif init == "default":
        bound = 1 / math.sqrt(fan_in)
        weight = rng.uniform(-bound, bound, (fan_out, fan_in))
    else:
        raise ValueError(f"mlp: init must be None, 'he' or 'default', got {init!r}")
    with no_grad():
        layer.weight.data = weight.astype(dtype)
        if layer.bias is not None:
            layer.bias.data = np.zeros(fan_out, dtype=dtype)
