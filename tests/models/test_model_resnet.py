import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models import BasicBlock, ResNet, get_model


def test_basic_block_shortcuts():
    same = BasicBlock(8, 8)
    assert isinstance(same.shortcut, nn.Identity)
    down = BasicBlock(8, 16, stride=2)
    assert isinstance(down.shortcut, nn.Sequential)  # 1x1 conv + BN projection
    assert down(tg.randn(2, 8, 9, 9)).shape == (2, 16, 5, 5)


@pytest.mark.parametrize("size, small_input", [(28, True), (32, True), (64, False)])
def test_resnet_shapes(size, small_input):
    model = ResNet(width=8, in_channels=3, num_classes=7, small_input=small_input)
    assert model(tg.randn(2, 3, size, size)).shape == (2, 7)


def test_resnet18_layout_and_size():
    model = get_model("resnet18")  # width 64, 3 channels, 10 classes
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3, model.layer4)] == [2] * 4
    assert model.num_parameters() == 11_173_962  # torch's CIFAR-style ResNet-18 has the same
    assert model.fc.in_features == 512


def test_resnet_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"expected images \(N, 1, H, W\)"):
        ResNet(width=8, in_channels=1)(tg.randn(2, 3, 28, 28))


def test_zero_init_residual_starts_blocks_as_identity():
    model = ResNet(width=8, in_channels=1, zero_init_residual=True)
    assert float(model.layer1[0].bn2.weight.abs().sum().item()) == 0.0


def test_resnet_trains_on_digits():
    tg.manual_seed(0)
    x, y = get_dataset("digits", "train")
    x = (x[:128].astype(np.float32) / 16.0)[:, None]  # (128, 1, 8, 8)
    y = y[:128]
    model = ResNet(width=8, in_channels=1, num_classes=10)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        idx = np.arange(step * 32, step * 32 + 32) % 128
        loss = nn.functional.cross_entropy(model(tg.tensor(x[idx])), tg.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
