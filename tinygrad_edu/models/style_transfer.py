"""Neural style transfer (Gatys, Ecker & Bethge 2016) by optimizing the pixels with L-BFGS.

Nothing is trained here: the *image* is the parameter. Starting from the content image, L-BFGS
changes its pixels to minimize

    L(x) = content_weight * sum_l MSE(F_l(x), F_l(content))          (l in content_layers)
         + style_weight   * sum_l MSE(G(F_l(x)), G(F_l(style)))      (l in style_layers)

    G(F) = F F^T / (C H W)   with F the (C, H*W) feature map: the Gram matrix, i.e. which
                              channels fire together, wherever they are (texture, not layout)

**Honest caveat.** Gatys et al. use the features of a VGG-19 pretrained on ImageNet. No
pretrained weights are available offline in this project, so ``FeatureExtractor`` is a small
CNN with RANDOM, frozen weights. Random convolutional features still capture local texture
statistics, so the style loss does transfer colors and stripe / checker patterns (He, Wang &
Hopcroft 2016, "A Powerful Generative Model Using Random Weights for the Deep Image
Representation"), but the results are cruder than with VGG. With pretrained weights (e.g.
ported from torchvision) the same code gives the classic results: load them into a model with
the same layer names.

The demo images are small synthetic patterns (``make_pattern``): 32x32, 3 channels, in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..backend import to_numpy
from ..nn import functional as F
from ..nn.module import Parameter
from ..tensor import fork_rng, tensor

# ----------------------------------------------------------------------------------------------
# Features and losses
# ----------------------------------------------------------------------------------------------


class FeatureExtractor(nn.Module):
    """A VGG-like stack with random frozen weights; ``forward`` returns the ReLU outputs of
    the layers in ``layers`` as a dict name -> (N, C, H, W).

        conv1 (3 -> 32) relu1, conv2 (32 -> 32) relu2, pool (/2),
        conv3 (32 -> 64) relu3, conv4 (64 -> 64) relu4, pool (/2), conv5 (64 -> 128) relu5

    Average pooling instead of max pooling, as Gatys et al. recommend (smoother gradients).

    >>> import tinygrad_edu as tg
    >>> features = FeatureExtractor(seed=0)(tg.rand(1, 3, 32, 32))
    >>> {name: f.shape for name, f in features.items()}["relu3"]
    (1, 64, 16, 16)
    """

    widths = (("relu1", 32), ("relu2", 32), ("pool", None), ("relu3", 64), ("relu4", 64),
              ("pool", None), ("relu5", 128))

    def __init__(self, in_channels: int = 3, seed: int = 0):
        super().__init__()
        # the random features are part of the "model": repeatable, from a generator of their
        # own (the user's random stream goes on untouched)
        with fork_rng(seed):
            self._build(in_channels)

    def _build(self, in_channels: int) -> None:
        self.names: list[str] = []
        layers: list[nn.Module] = []
        channels = in_channels
        for name, width in self.widths:
            if width is None:
                layers.append(nn.AvgPool2d(2))
                self.names.append("pool")
                continue
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
            self.names += ["conv" + name[-1], name]
            channels = width
        self.layers = nn.Sequential(*layers)
        self.requires_grad_(False)  # frozen: only the image gets gradients
        self.eval()

    def forward(self, x):
        out = {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            if name.startswith("relu"):
                out[name] = x  # (N, C, H, W)
        return out


def gram_matrix(features):
    """G = F F^T / (C H W) for features (N, C, H, W) -> (N, C, C).

    >>> import tinygrad_edu as tg
    >>> gram_matrix(tg.ones(1, 2, 3, 3)).tolist()
    [[[0.5, 0.5], [0.5, 0.5]]]
    """
    N, C, H, W = features.shape
    flat = features.reshape(N, C, H * W)  # (N, C, HW)
    return (flat @ flat.transpose(1, 2)) / (C * H * W)  # (N, C, HW) @ (N, HW, C) -> (N, C, C)


# ----------------------------------------------------------------------------------------------
# The optimization
# ----------------------------------------------------------------------------------------------


@dataclass
class StyleTransferConfig:
    content_layers: tuple[str, ...] = ("relu4",)
    style_layers: tuple[str, ...] = ("relu1", "relu2", "relu3", "relu4", "relu5")
    # weights large enough that the loss is O(1)-O(100): L-BFGS's stopping tests (loss change
    # < tolerance_change = 1e-9) are absolute and would end a run whose loss is ~1e-5 early
    content_weight: float = 1e4
    style_weight: float = 3e6
    steps: int = 10  # L-BFGS steps (each runs up to max_iter iterations)
    max_iter: int = 10
    seed: int = 0  # seed of the random feature extractor
    # filled by style_transfer, anew on each run: (loss, content, style) per step
    history: list = field(default_factory=list)


def style_transfer(content: np.ndarray, style: np.ndarray,
                   config: StyleTransferConfig | None = None, extractor=None, **overrides):
    """Optimize an image that keeps ``content``'s layout and takes ``style``'s textures.

    content, style: (C, H, W) or (1, C, H, W) float arrays in [0, 1] (the same C).
    Returns (image (1, C, H, W) numpy array in [0, 1], losses): losses[k] is the total loss
    after L-BFGS step k (losses[0] is the loss of the starting image: the content, its pixels
    clipped to [0.01, 0.99] so that their logit is finite).
    """
    config = config or StyleTransferConfig(**overrides)
    config.history = []  # this run's losses only, also when a config is used again
    content = np.asarray(content, dtype=np.float32).reshape(1, *np.shape(content)[-3:])
    style = np.asarray(style, dtype=np.float32).reshape(1, *np.shape(style)[-3:])
    if content.shape[1] != style.shape[1]:
        raise ValueError(f"style_transfer: content has {content.shape[1]} channels but style "
                         f"has {style.shape[1]} (shapes {content.shape} and {style.shape})")
    extractor = extractor or FeatureExtractor(content.shape[1], seed=config.seed)
    with no_grad():
        content_targets = {k: v.detach() for k, v in extractor(tensor(content)).items()
                           if k in config.content_layers}
        style_targets = {k: gram_matrix(v).detach() for k, v in extractor(tensor(style)).items()
                         if k in config.style_layers}

    # The pixels must stay in [0, 1]. Clipping after each step would move the image behind
    # L-BFGS's back and spoil its curvature history, so optimize an unconstrained z instead and
    # look at image = sigmoid(z); z starts at logit(content), i.e. at the content image.
    start = np.clip(content, 0.01, 0.99)
    z = Parameter(tensor(np.log(start / (1.0 - start))))  # (1, C, H, W)
    optimizer = optim.LBFGS([z], lr=1.0, max_iter=config.max_iter,
                            line_search_fn="strong_wolfe")

    def losses():
        features = extractor(z.sigmoid())
        content_loss = sum(F.mse_loss(features[k], content_targets[k])
                           for k in config.content_layers)
        style_loss = sum(F.mse_loss(gram_matrix(features[k]), style_targets[k])
                         for k in config.style_layers)
        total = config.content_weight * content_loss + config.style_weight * style_loss
        return total, content_loss, style_loss

    def closure():
        optimizer.zero_grad()
        total, _, _ = losses()
        total.backward()
        return total

    def record():
        with no_grad():
            total, content_loss, style_loss = losses()
        config.history.append((float(total.item()), float(content_loss.item()),
                               float(style_loss.item())))

    record()
    for _ in range(config.steps):
        optimizer.step(closure)
        record()
    with no_grad():
        image = to_numpy(z.sigmoid().data).copy()  # (1, C, H, W) in (0, 1)
    return image, [h[0] for h in config.history]


# ----------------------------------------------------------------------------------------------
# Synthetic images
# ----------------------------------------------------------------------------------------------


def make_pattern(kind: str, size: int = 32) -> np.ndarray:
    """A (3, size, size) float32 image in [0, 1]:

    - ``"disk"``: a red disk on a light gray background (a content image);
    - ``"square"``: a blue square on white (a content image);
    - ``"stripes"``: diagonal yellow / purple stripes (a style image);
    - ``"checkerboard"``: green / black 4x4 checks (a style image).

    >>> make_pattern("stripes", 16).shape
    (3, 16, 16)
    """
    yy, xx = np.mgrid[0:size, 0:size] / size  # (H, W) coordinates in [0, 1)
    image = np.zeros((3, size, size), dtype=np.float32)
    if kind == "disk":
        inside = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.3**2
        image[:] = 0.8
        image[0][inside], image[1][inside], image[2][inside] = 0.9, 0.1, 0.1
    elif kind == "square":
        inside = (abs(yy - 0.5) < 0.25) & (abs(xx - 0.5) < 0.25)
        image[:] = 1.0
        image[0][inside], image[1][inside], image[2][inside] = 0.1, 0.2, 0.9
    elif kind == "stripes":
        on = (np.floor((xx + yy) * 8) % 2).astype(bool)
        image[0], image[1], image[2] = np.where(on, 0.95, 0.5), np.where(on, 0.85, 0.1), \
            np.where(on, 0.1, 0.6)
    elif kind == "checkerboard":
        on = ((np.floor(xx * size / 4) + np.floor(yy * size / 4)) % 2).astype(bool)
        image[1] = np.where(on, 0.8, 0.0)
    else:
        raise ValueError(f"make_pattern: unknown kind {kind!r}; expected 'disk', 'square', "
                         "'stripes' or 'checkerboard'")
    return image
