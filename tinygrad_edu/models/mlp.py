"""Multi-layer perceptrons: the 784-128-10 MNIST classifier and the 2-3-1 toy net."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import nn


@dataclass
class MLPConfig:
    in_features: int = 784
    hidden: tuple[int, ...] = (128,)
    out_features: int = 10
    dropout: float = 0.0


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU (-> Dropout)] * len(hidden) -> Linear (logits).

    >>> import tinygrad_edu as tg
    >>> MLP()(tg.randn(4, 1, 28, 28)).shape
    (4, 10)
    """

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__()
        self.config = config or MLPConfig(**overrides)
        c = self.config
        layers: list[nn.Module] = [nn.Flatten()]
        width = c.in_features
        for h in c.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if c.dropout:
                layers.append(nn.Dropout(c.dropout))
            width = h
        layers.append(nn.Linear(width, c.out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        features = math.prod(x.shape[1:])
        if x.ndim < 2 or features != self.config.in_features:
            raise ValueError(f"MLP: expected inputs with {self.config.in_features} features "
                             f"per sample ((N, {self.config.in_features}) or images that "
                             f"flatten to it), got shape {tuple(x.shape)}")
        return self.net(x)


class ToyNet(nn.Module):
    """The 2-3-1 network of every backprop tutorial: 2 inputs, 3 sigmoid units, 1 output.

    Small enough to check every gradient by hand (see notebooks/01)."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 3)
        self.out = nn.Linear(3, 1)

    def forward(self, x):
        return self.out(self.hidden(x).sigmoid())
