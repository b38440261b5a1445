"""ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition") with the ResNet-18
layout, for small images.

The idea in one line: a block learns a *residual* F(x) and outputs relu(F(x) + x). When the
block has nothing useful to add, F can go to zero and the block becomes the identity, so a deep
stack is never worse than a shallow one, and the gradient reaches early layers through the
"+ x" path undamped (d(F(x) + x)/dx = dF/dx + I).

    BasicBlock:  x -> conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> (+ shortcut(x)) -> ReLU
    shortcut:    identity, or conv1x1 (stride s) -> BN when the shape changes

    ResNet-18:   stem -> 4 stages of [2, 2, 2, 2] blocks with widths w, 2w, 4w, 8w (strides
                 1, 2, 2, 2) -> global average pool -> Linear(8w, num_classes)

Two stems: ``small_input=True`` (default; for 28x28 / 32x32 images, as in the CIFAR ResNets) is
one 3x3 conv with stride 1 and no max pooling; ``small_input=False`` is the ImageNet stem,
a 7x7 conv with stride 2 followed by a 3x3 max pool with stride 2 (224 -> 56).

Shapes for MNIST with the small stem and width w: (N, 1, 28, 28) -> stem (N, w, 28, 28) ->
layer1 (N, w, 28, 28) -> layer2 (N, 2w, 14, 14) -> layer3 (N, 4w, 7, 7) -> layer4
(N, 8w, 4, 4) -> pool (N, 8w, 1, 1) -> (N, num_classes).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import nn
from ..autograd import no_grad

# ----------------------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------------------


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows, which has its own)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus a shortcut, then ReLU.

    The shortcut is the identity when input and output have the same shape; when the block
    changes the width or the resolution (stride 2) it is a 1x1 convolution with that stride and
    a BatchNorm ("option B" of the paper), so that the two branches can be added.

    >>> import tinygrad_edu as tg
    >>> block = BasicBlock(8, 16, stride=2)
    >>> block(tg.randn(2, 8, 10, 10)).shape          # (N, C, H, W) -> (N, 2C, H/2, W/2)
    (2, 16, 5, 5)
    """

    expansion = 1  # output channels = planes * expansion (4 in the Bottleneck of ResNet-50)

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_channels != planes * self.expansion:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, planes * self.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))  # (N, planes, H / s, W / s)
        out = self.bn2(self.conv2(out))  # (N, planes, H / s, W / s)
        return self.relu(out + self.shortcut(x))  # the residual connection


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


@dataclass
class ResNetConfig:
    layers: tuple[int, ...] = (2, 2, 2, 2)  # blocks per stage; (2, 2, 2, 2) is ResNet-18
    width: int = 64  # channels of the stem and the first stage; stage k has width * 2**k
    in_channels: int = 3
    num_classes: int = 10
    small_input: bool = True  # 3x3 stem, no max pool (28x28, 32x32); False: ImageNet stem
    zero_init_residual: bool = False  # start each block as the identity (bn2.weight = 0)


class ResNet(nn.Module):
    """ResNet with ``BasicBlock`` stages; ``ResNet()`` is ResNet-18 (11.2 M parameters at
    width 64 with 10 classes). Use a small ``width`` (8 or 16) to train on a CPU.

    >>> import tinygrad_edu as tg
    >>> model = ResNet(width=8, in_channels=1, num_classes=10)
    >>> model(tg.randn(2, 1, 28, 28)).shape
    (2, 10)
    >>> sum(len(stage) for stage in (model.layer1, model.layer2, model.layer3, model.layer4))
    8
    """

    def __init__(self, config: ResNetConfig | None = None, **overrides):
        super().__init__()
        self.config = config or ResNetConfig(**overrides)
        c = self.config
        if len(c.layers) != 4 or any(n < 1 for n in c.layers):
            raise ValueError(f"ResNet: layers must be 4 positive block counts like (2, 2, 2, 2), "
                             f"got {c.layers}")
        if c.width < 1:
            raise ValueError(f"ResNet: width must be a positive channel count, got {c.width}")
        w = c.width
        if c.small_input:
            self.stem = nn.Sequential(
                conv3x3(c.in_channels, w), nn.BatchNorm2d(w), nn.ReLU(),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(c.in_channels, w, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(w), nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        self._channels = w  # input channels of the next stage, updated by _make_stage
        self.layer1 = self._make_stage(w, c.layers[0], stride=1)
        self.layer2 = self._make_stage(2 * w, c.layers[1], stride=2)
        self.layer3 = self._make_stage(4 * w, c.layers[2], stride=2)
        self.layer4 = self._make_stage(8 * w, c.layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * w * BasicBlock.expansion, c.num_classes)
        self._init_weights()

    def _make_stage(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        """The first block may downsample (stride) and widen; the others keep the shape."""
        layers = [BasicBlock(self._channels, planes, stride)]
        self._channels = planes * BasicBlock.expansion
        for _ in range(1, blocks):
            layers.append(BasicBlock(self._channels, planes))
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        """torchvision's init: Kaiming-normal convs (fan_out, ReLU gain), BN weight 1, bias 0;
        optionally bn2.weight = 0 in every block so that each block starts as the identity."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.config.zero_init_residual:
            with no_grad():
                for m in self.modules():
                    if isinstance(m, BasicBlock):
                        nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        c = self.config
        if x.ndim != 4 or x.shape[1] != c.in_channels:
            raise ValueError(f"ResNet: expected images (N, {c.in_channels}, H, W), got shape "
                             f"{tuple(x.shape)}")
        x = self.stem(x)  # (N, w, H, W) (small stem) or (N, w, H/4, W/4) (ImageNet stem)
        x = self.layer1(x)  # (N, w, H, W)
        x = self.layer2(x)  # (N, 2w, H/2, W/2)
        x = self.layer3(x)  # (N, 4w, H/4, W/4)
        x = self.layer4(x)  # (N, 8w, H/8, W/8)
        x = self.avgpool(x).flatten(1)  # (N, 8w, 1, 1) -> (N, 8w)
        return self.fc(x)  # (N, num_classes)


def resnet18(**overrides) -> ResNet:
    """ResNet-18: ``ResNet(layers=(2, 2, 2, 2), **overrides)``."""
    return ResNet(ResNetConfig(layers=(2, 2, 2, 2), **overrides))
