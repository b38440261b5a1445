"""Transfer learning: pretrain, freeze the features, replace the head, fine-tune.

    freeze(module)            requires_grad = False on every parameter: backward leaves their
                              .grad as None and the optimizer skips them
    unfreeze(module)          the reverse (e.g. to fine-tune everything at a small lr later)
    replace_head(model, new)  swap the last Linear layer (the classifier) for a new one

The demo (``pretrain_then_finetune``) is the classic recipe at MNIST scale: LeNet-5 learns
digits 0-4; its convolutional features are then frozen, its last Linear layer is replaced by a
new 5-way head, and the classifier (the fully connected layers and the new head) is trained on
digits 5-9 with only a few labeled examples. Features learned on one set of classes (strokes,
curves) transfer to the other, so the classifier on top of them reaches a good accuracy from
little data.

Two details that PyTorch users meet too:

- pass only the trainable parameters to the optimizer (``trainable_parameters(model)``);
  a frozen parameter given to Adam would still be skipped (its grad is None), but weight decay
  on some optimizers can still move parameters whose grad is zero rather than None;
- ``freeze`` does not stop BatchNorm layers from updating their running statistics in train
  mode; call ``.eval()`` on frozen parts that contain BatchNorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..backend import to_numpy
from ..nn.utils import evaluating
from ..tensor import manual_seed, tensor
from .cnn import LeNet5


def freeze(module: nn.Module) -> nn.Module:
    """Stop training every parameter of ``module`` (requires_grad = False); returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Train every parameter of ``module`` again (requires_grad = True); returns it."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def trainable_parameters(module: nn.Module) -> list:
    """The parameters that still require a gradient (what the optimizer should get)."""
    return [p for p in module.parameters() if p.requires_grad]


def _find_head(model: nn.Module) -> tuple[nn.Module, str]:
    """(parent module, attribute name) of the last Linear layer in registration order: the
    last one ``named_modules()`` visits (a head registered after a body that holds Linear
    layers of its own is the head, not the body's last layer)."""
    path = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name:
            path = name
    if path is None:
        raise ValueError(f"replace_head: {type(model).__name__} has no nn.Linear layer to "
                         "replace; pass attr='...' with the name of its head")
    parent_path, _, name = path.rpartition(".")
    return (model.get_submodule(parent_path) if parent_path else model), name


def replace_head(model: nn.Module, new_head: nn.Module, attr: str | None = None) -> nn.Module:
    """Put ``new_head`` where the model's classifier was; returns the old head.

    ``attr`` is a dotted path ("fc", "classifier.6"); by default the last ``nn.Linear`` of the
    model is replaced (LeNet5: ``classifier.5``; ResNet: ``fc``). The new head is trainable
    even if the model was frozen.

    >>> model = LeNet5(num_classes=5)
    >>> old = replace_head(freeze(model), nn.Linear(84, 3))
    >>> old.out_features, model.classifier[-1].out_features, len(trainable_parameters(model))
    (5, 3, 2)
    """
    if attr is None:
        parent, name = _find_head(model)
    else:
        *path, name = attr.split(".")
        parent = model.get_submodule(".".join(path)) if path else model
    old = getattr(parent, name)  # a child by name: "fc", or "6" in a Sequential (even a slice)
    setattr(parent, name, new_head)
    unfreeze(new_head)
    return old


# ----------------------------------------------------------------------------------------------
# The demo: digits 0-4 -> digits 5-9
# ----------------------------------------------------------------------------------------------


@dataclass
class FinetuneResult:
    pretrain_accuracy: float  # LeNet on test digits 0-4 after pretraining
    finetune_accuracy: float  # frozen features + new head on test digits 5-9
    scratch_accuracy: float | None  # the same budget from random init (None if not run)
    trainable_parameters: int  # parameters trained during fine-tuning
    total_parameters: int


def _subset(x: np.ndarray, y: np.ndarray, digits: tuple[int, ...], limit: int | None = None):
    """The examples of ``digits`` with labels renumbered 0..len(digits)-1."""
    keep = np.isin(y, digits)
    x, y = x[keep], y[keep]
    y = np.searchsorted(np.array(digits), y).astype(np.int64)
    return (x[:limit], y[:limit]) if limit is not None else (x, y)


def _train(model, params, x, y, epochs: int, batch_size: int, lr: float, seed: int) -> None:
    optimizer = optim.Adam(params, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss = loss_fn(model(tensor(x[batch])), tensor(y[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Share of correct argmax predictions (eval mode, no graph; the mode restored after)."""
    if len(x) == 0:
        raise ValueError("accuracy: got 0 samples")
    correct = 0
    with evaluating(model):
        for start in range(0, len(x), batch_size):
            logits = model(tensor(x[start:start + batch_size]))
            correct += int((to_numpy(logits.data).argmax(1) == y[start:start + batch_size]).sum())
    return correct / len(x)


def pretrain_then_finetune(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                           y_test: np.ndarray, pretrain_limit: int | None = 10000,
                           finetune_limit: int = 100, pretrain_epochs: int = 1,
                           finetune_epochs: int = 20, finetune_lr: float = 3e-3,
                           compare_scratch: bool = True,
                           seed: int = 0) -> FinetuneResult:
    """Pretrain LeNet-5 on digits 0-4, freeze its features (the convolutions), replace its
    head by a fresh ``Linear(84, 5)`` and fine-tune the classifier (the fully connected layers
    and the new head) on ``finetune_limit`` examples of digits 5-9.

    Images are normalized float (N, 1, 28, 28) arrays (``training.cli.prepare_images``)."""
    first, second = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
    xa, ya = _subset(x_train, y_train, first, pretrain_limit)
    xb, yb = _subset(x_train, y_train, second, finetune_limit)
    xa_test, ya_test = _subset(x_test, y_test, first)
    xb_test, yb_test = _subset(x_test, y_test, second)

    manual_seed(seed)
    model = LeNet5(num_classes=len(first))
    _train(model, model.parameters(), xa, ya, pretrain_epochs, 64, 1e-3, seed)
    pretrain_accuracy = accuracy(model, xa_test, ya_test)

    freeze(model.features)  # the convolutions keep the strokes they learned on 0-4
    replace_head(model, nn.Linear(84, len(second)))  # a fresh 5-way classifier for 5-9
    params = trainable_parameters(model)  # classifier: fc 400-120-84 and the new head
    _train(model, params, xb, yb, finetune_epochs, 32, finetune_lr, seed)
    finetune_accuracy = accuracy(model, xb_test, yb_test)

    scratch_accuracy = None
    if compare_scratch:  # the same data and epochs, but every layer from random init
        manual_seed(seed)
        scratch = LeNet5(num_classes=len(second))
        _train(scratch, scratch.parameters(), xb, yb, finetune_epochs, 32, finetune_lr, seed)
        scratch_accuracy = accuracy(scratch, xb_test, yb_test)
    return FinetuneResult(pretrain_accuracy, finetune_accuracy, scratch_accuracy,
                          sum(int(np.prod(p.shape)) for p in params), model.num_parameters())
