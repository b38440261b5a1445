"""Convolutional classifiers: LeNet-5, the Keras-style MNIST CNN, the CIFAR-10 tutorial net and
a small VGG-style net. Input NCHW, output logits."""

from __future__ import annotations

from .. import nn
from ._checks import check_images


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) in its common modern form: ReLU and max pooling.

    (N, 1, 28, 28) -> conv 6@5x5 pad 2 -> (N, 6, 28, 28) -> pool -> (N, 6, 14, 14)
    -> conv 16@5x5 -> (N, 16, 10, 10) -> pool -> (N, 16, 5, 5) -> 120 -> 84 -> num_classes

    >>> import tinygrad_edu as tg
    >>> LeNet5()(tg.randn(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        check_images("LeNet5", x, self.in_channels, 28)  # 16 * 5 * 5 features need 28x28
        return self.classifier(self.features(x))


class KerasCNN(nn.Module):
    """The Keras/TensorFlow tutorial CNN: Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense10
    (3x3 valid convolutions, 2x2 max pooling). (N, 1, 28, 28) -> (N, 64, 3, 3) -> 576 -> 64 -> 10.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        side = ((image_size - 2) // 2 - 2) // 2 - 2  # 28 -> 26 -> 13 -> 11 -> 5 -> 3
        if side < 1:
            raise ValueError(f"KerasCNN: image_size must be at least 18 (three 3x3 valid "
                             f"convolutions and two 2x2 poolings), got {image_size}")
        self.in_channels = in_channels
        self.image_size = image_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * side * side, 64), nn.ReLU(), nn.Linear(64, num_classes),
        )

    def forward(self, x):
        check_images("KerasCNN", x, self.in_channels, self.image_size)
        return self.classifier(self.features(x))


class CifarNet(nn.Module):
    """The PyTorch "Training a classifier" tutorial net for 3x32x32 images:
    conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> 10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        check_images("CifarNet", x, self.in_channels, 32)  # 16 * 5 * 5 features need 32x32
        x = self.pool(self.conv1(x).relu())  # (N, 6, 14, 14)
        x = self.pool(self.conv2(x).relu())  # (N, 16, 5, 5)
        x = x.flatten(1)  # (N, 400)
        x = self.fc2(self.fc1(x).relu()).relu()
        return self.fc3(x)


class SmallVGG(nn.Module):
    """A small VGG-style net: blocks of two 3x3 conv + BatchNorm + ReLU, then 2x2 max pooling,
    widths ``widths`` (default 32, 64, 128), global average pooling and a linear classifier."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1,
                 widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        check_images("SmallVGG", x, self.in_channels)
        return self.classifier(self.pool(self.features(x)).flatten(1))
