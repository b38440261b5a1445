import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.models import LeNet5, ResNet
from tinygrad_edu.models.finetune import (
    freeze,
    pretrain_then_finetune,
    replace_head,
    trainable_parameters,
    unfreeze,
)


def test_freeze_unfreeze():
    model = LeNet5()
    freeze(model.features)
    assert not any(p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())


def test_replace_head_default_and_by_name():
    lenet = LeNet5(num_classes=5)
    old = replace_head(lenet, nn.Linear(84, 3))
    assert old.out_features == 5 and lenet.classifier[-1].out_features == 3
    resnet = ResNet(width=8, in_channels=1)
    replace_head(resnet, nn.Linear(64, 2), attr="fc")
    assert resnet(tg.randn(2, 1, 28, 28)).shape == (2, 2)
    with pytest.raises(ValueError, match="no nn.Linear"):
        replace_head(nn.Sequential(nn.ReLU()), nn.Linear(2, 2))


def test_frozen_parameters_get_no_gradient_and_do_not_change():
    tg.manual_seed(0)
    model = LeNet5(num_classes=5)
    freeze(model.features)
    replace_head(model, nn.Linear(84, 5))
    frozen = [p.numpy().copy() for p in model.features.parameters()]  # no grad: frozen
    head_before = model.classifier[-1].weight.detach().numpy().copy()
    opt = optim.Adam(trainable_parameters(model), lr=1e-2)
    x, y = tg.randn(8, 1, 28, 28), tg.tensor(np.arange(8) % 5)
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in model.features.parameters())
        opt.step()
    for before, p in zip(frozen, model.features.parameters(), strict=True):
        np.testing.assert_array_equal(before, p.numpy())
    assert not np.allclose(head_before, model.classifier[-1].weight.detach().numpy())


def test_pretrain_then_finetune_runs_on_a_tiny_subset():
    from tinygrad_edu.training.cli import load_split

    _, x, y = load_split("mnist", "train", limit=1200)
    _, xt, yt = load_split("mnist", "test", limit=400)
    result = pretrain_then_finetune(x, y, xt, yt, pretrain_limit=400, finetune_limit=100,
                                    finetune_epochs=2, compare_scratch=False)
    assert result.pretrain_accuracy > 0.5  # 5 classes: chance is 0.2
    assert result.finetune_accuracy > 0.3
    assert result.trainable_parameters < result.total_parameters


def test_replace_head_takes_the_last_linear_registered_not_a_body_layer():
    """A head registered after a body with Linear layers of its own is the head (before,
    the body's last Linear was replaced); GPT's default head is lm_head."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
            self.head = nn.Linear(8, 3)

    net = Net()
    old_head = net.head
    assert replace_head(net, nn.Linear(8, 2)) is old_head and net.head.out_features == 2
    assert net.body[2].out_features == 8  # untouched
    sliced = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))[1:]  # keys "1", "2"
    replace_head(sliced, nn.Linear(3, 5))
    assert list(sliced.state_dict()) == ["2.weight", "2.bias"] and sliced[1].out_features == 5
