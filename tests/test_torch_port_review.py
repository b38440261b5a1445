"""Integration review: small torch training/eval scripts ported line by line to tinygrad_edu.

Each test is one realistic script of the kind torch users write (a model, a data loop, an
optimizer, a scheduler, checkpoints, evaluation) and its port. Where the libraries share their
names, the script is written once against a namespace ``L`` (``L.nn``, ``L.F``, ``L.optim``,
``L.data``) and run on torch and on tinygrad_edu, so the port is the same text; where a port
must differ, the test says so. Both runs start from the same weights (torch's, loaded through
``load_state_dict``) on the same tiny synthetic data, and losses, outputs, gradients, learning
rates and parameters are compared step by step in float32.

Where a port must be written differently on purpose (``.data`` is the array here), the test
shows the port and says so.
"""

from __future__ import annotations

import os
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F
import torch.utils.data as torch_data

import tinygrad_edu as tg
import tinygrad_edu.data as tg_data
import tinygrad_edu.metrics as tg_metrics
import tinygrad_edu.nn.functional as tg_F
from tinygrad_edu import nn as tg_nn

TORCH = types.SimpleNamespace(name="torch", lib=torch, nn=torch.nn, F=torch_F, optim=torch.optim,
                              data=torch_data)
TG = types.SimpleNamespace(name="tinygrad_edu", lib=tg, nn=tg_nn, F=tg_F, optim=tg.optim,
                           data=tg_data)
RTOL = 1e-5
ATOL = 1e-6


# ------------------------------------------------------------------------------------- helpers


def numpy_of(value) -> np.ndarray:
    """A NumPy copy of a torch or tinygrad_edu tensor (or of anything array-like)."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        return np.array(value.numpy())
    return np.asarray(value)


def assert_close(ours, theirs, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(numpy_of(ours), numpy_of(theirs), rtol=rtol, atol=atol,
                               err_msg=what)


def copy_weights(theirs, ours) -> None:
    """Start ``ours`` from the weights and buffers of the torch module ``theirs``."""
    result = ours.load_state_dict({k: v.detach().numpy().copy()
                                   for k, v in theirs.state_dict().items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def assert_same_parameters(theirs, ours, what: str, rtol: float = RTOL, atol: float = ATOL):
    """Same names in the same order (named_parameters and state_dict), same values.

    The key third of an attention layer's ``in_proj_bias`` is the exception: its gradient is
    zero in exact arithmetic (softmax ignores a shift shared by all keys), so both libraries
    hold float32 noise of ~1e-10 there, which Adam's division by sqrt(v) + eps turns into
    updates of either sign. Those entries are only checked to stay near their start, zero."""
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours_state = ours.state_dict()
    for name, value in theirs.state_dict().items():
        a, b = numpy_of(ours_state[name]), numpy_of(value)
        if name.endswith("in_proj_bias"):
            d = b.shape[0] // 3                                  # q | k | v
            assert np.abs(a[d:2 * d]).max() < 1e-2 and np.abs(b[d:2 * d]).max() < 1e-2, name
            a, b = np.concatenate([a[:d], a[2 * d:]]), np.concatenate([b[:d], b[2 * d:]])
        assert_close(a, b, f"{what}: {name}", rtol, atol)


def assert_same_grads(theirs, ours, what: str, rtol: float = RTOL, atol: float = ATOL):
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        if p.grad is None:
            assert ours_params[name].grad is None, f"{what}: {name} has a grad, torch's has none"
        else:
            assert_close(ours_params[name].grad, p.grad, f"{what}: grad of {name}", rtol, atol)


# ------------------------------------------------------- 1. CNN, BatchNorm2d, Dropout, modes


def make_cnn(L):
    class SmallCNN(L.nn.Module):
        def __init__(self, classes: int = 3):
            super().__init__()
            self.conv1 = L.nn.Conv2d(1, 4, 3, padding=1)
            self.bn1 = L.nn.BatchNorm2d(4)
            self.pool = L.nn.MaxPool2d(2)
            self.drop = L.nn.Dropout(0.5)
            self.fc = L.nn.Linear(4 * 4 * 4, classes)

        def forward(self, x):
            x = self.pool(L.F.relu(self.bn1(self.conv1(x))))   # (N, 4, 4, 4)
            x = L.lib.flatten(x, 1)                             # (N, 64)
            return self.fc(self.drop(x))

    return SmallCNN()


def test_cnn_batchnorm_dropout_train_eval_modes():
    """Idiom: CNN with BatchNorm2d + Dropout, model.train()/model.eval(), no_grad evaluation,
    accuracy as (pred == y).float().mean(), SGD with momentum and weight decay. Dropout draws
    other random numbers than torch's, so tinygrad_edu's masks are handed to torch's Dropout
    through forward hooks (the hook API is part of what is compared)."""
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((12, 1, 8, 8)).astype(np.float32)
    y_all = rng.integers(0, 3, 12)
    torch.manual_seed(0)
    theirs, ours = make_cnn(TORCH), make_cnn(TG)
    copy_weights(theirs, ours)
    masks = []   # the port's training-mode dropout masks, in order; torch replays them

    def record_mask(module, args, out):
        if module.training:
            masks.append(out.detach().numpy() != 0)

    def replay_mask(module, args, out):
        if module.training:
            return args[0] * torch.from_numpy(masks.pop(0)) / 0.5
        return None

    ours.drop.register_forward_hook(record_mask)
    theirs.drop.register_forward_hook(replay_mask)
    runs = {}
    for L, model in ((TG, ours), (TORCH, theirs)):   # ours first
        optimizer = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        log = []
        for step in range(3):
            model.train()
            xb = L.lib.tensor(x_all[step * 4:(step + 1) * 4])
            yb = L.lib.tensor(y_all[step * 4:(step + 1) * 4])
            loss = L.F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.eval()
            with L.lib.no_grad():
                logits = model(L.lib.tensor(x_all))
                acc = (logits.argmax(dim=1) == L.lib.tensor(y_all)).float().mean().item()
            log.append((loss.item(), numpy_of(logits), acc))
        runs[L.name] = log
    for step, (a, b) in enumerate(zip(runs["tinygrad_edu"], runs["torch"], strict=True)):
        assert_close(a[0], b[0], f"train loss, step {step}")
        assert_close(a[1], b[1], f"eval logits, step {step}", atol=1e-5)
        assert a[2] == pytest.approx(b[2])
    assert_same_parameters(theirs, ours, "after 3 steps")   # running stats included
    assert int(ours.bn1.num_batches_tracked.item()) == 3
    # eval mode really switches dropout off and uses the running statistics
    ours.eval()
    x = tg.tensor(x_all[:2])
    assert np.array_equal(ours(x).detach().numpy(), ours(x).detach().numpy())


# --------------------- 2. custom Module: ModuleList/Dict, buffers, Parameter, groups, freezing


def make_multihead(L):
    class MultiHead(L.nn.Module):
        def __init__(self, sizes=(5, 8, 8)):
            super().__init__()
            self.layers = L.nn.ModuleList(
                [L.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
            self.heads = L.nn.ModuleDict({"cls": L.nn.Linear(sizes[-1], 3),
                                          "reg": L.nn.Linear(sizes[-1], 1)})
            self.scale = L.nn.Parameter(L.lib.ones(1) * 0.5)
            self.register_buffer("center", L.lib.zeros(5))
            self.register_buffer("scratch", L.lib.zeros(2), persistent=False)

        def forward(self, x):
            x = x - self.center
            for layer in self.layers:
                x = L.F.gelu(layer(x))
            return self.heads["cls"](x) * self.scale, self.heads["reg"](x).squeeze(-1)

    return MultiHead()


def small_bias_init(L):
    def init(m):
        if isinstance(m, L.nn.Linear):
            L.nn.init.constant_(m.bias, 0.01)
    return init


def decay_groups(model):
    decay = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith("weight")]
    return [{"params": decay, "weight_decay": 0.1},
            {"params": rest, "weight_decay": 0.0, "lr": 0.01}]


def test_custom_module_containers_buffers_param_groups_and_freezing():
    """Idiom: a custom nn.Module with ModuleList, ModuleDict, nn.Parameter, register_buffer
    (persistent and not), model.apply(init_fn) with nn.init.constant_, freezing a layer with
    requires_grad_(False), AdamW with two parameter groups (decay / no decay, their own lr),
    a two-headed loss; names and orders of named_parameters/buffers/modules/state_dict."""
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((16, 5)).astype(np.float32)
    y_all = rng.integers(0, 3, 16)
    r_all = rng.standard_normal(16).astype(np.float32)
    torch.manual_seed(0)
    theirs, ours = make_multihead(TORCH), make_multihead(TG)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert "scratch" not in ours.state_dict()
    assert ours.apply(small_bias_init(TG)) is ours
    assert np.all(ours.layers[1].bias.detach().numpy() == np.float32(0.01))
    theirs.apply(small_bias_init(TORCH))
    copy_weights(theirs, ours)
    runs = {}
    for L, model in ((TORCH, theirs), (TG, ours)):
        with L.lib.no_grad():
            model.center.copy_(L.lib.tensor([0.1, 0.2, 0.3, 0.4, 0.5]))
        model.layers[0].requires_grad_(False)
        optimizer = L.optim.AdamW(decay_groups(model), lr=0.05, betas=(0.9, 0.99))
        losses = []
        for step in range(4):
            rows = slice(step * 4, step * 4 + 4)
            logits, pred = model(L.lib.tensor(x_all[rows]))
            loss = (L.F.cross_entropy(logits, L.lib.tensor(y_all[rows]))
                    + 0.5 * L.F.mse_loss(pred, L.lib.tensor(r_all[rows])))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        runs[L.name] = (losses, optimizer.state_dict())
    assert_close(runs["tinygrad_edu"][0], runs["torch"][0], "losses")
    assert_same_parameters(theirs, ours, "after 4 AdamW steps")
    assert ours.layers[0].weight.grad is None            # frozen: no grad, never moved
    ours_sd, theirs_sd = runs["tinygrad_edu"][1], runs["torch"][1]
    flags = {"foreach", "capturable", "differentiable", "fused"}  # torch's implementation flags
    for a, b in zip(ours_sd["param_groups"], theirs_sd["param_groups"], strict=True):
        assert a == {k: v for k, v in b.items() if k not in flags}
    assert sorted(ours_sd["state"]) == sorted(theirs_sd["state"]) == list(range(7))
    assert ours_sd["state"][0]["step"] == int(theirs_sd["state"][0]["step"]) == 4


# ------------------------------------------- 3. SGD + Nesterov momentum, schedulers per epoch

REGRESSION_X = np.random.default_rng(0).standard_normal((24, 6)).astype(np.float32)
REGRESSION_Y = (REGRESSION_X @ np.random.default_rng(1).standard_normal((6, 2))).astype(
    np.float32)

SCHEDULES = {
    "StepLR": (lambda S, opt: S.StepLR(opt, step_size=2, gamma=0.5), "epoch"),
    "CosineAnnealingLR": (lambda S, opt: S.CosineAnnealingLR(opt, T_max=4, eta_min=0.01),
                          "epoch"),
    "OneCycleLR": (lambda S, opt: S.OneCycleLR(opt, max_lr=0.2, epochs=6, steps_per_epoch=3),
                   "batch"),
    "ReduceLROnPlateau": (lambda S, opt: S.ReduceLROnPlateau(opt, mode="min", factor=0.5,
                                                             patience=1), "metric"),
    "SequentialLR": (lambda S, opt: S.SequentialLR(
        opt, [S.LinearLR(opt, start_factor=0.1, total_iters=2), S.ExponentialLR(opt, gamma=0.9)],
        milestones=[2]), "epoch"),
    "ChainedScheduler": (lambda S, opt: S.ChainedScheduler(
        [S.ConstantLR(opt, factor=0.5, total_iters=2), S.ExponentialLR(opt, gamma=0.9)]),
        "epoch"),
}


def sgd_schedule_script(L, init, make_scheduler, when):
    model = L.nn.Sequential(L.nn.Linear(6, 16), L.nn.Tanh(), L.nn.Linear(16, 2))
    model.load_state_dict(init)
    optimizer = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                            weight_decay=1e-3)
    scheduler = make_scheduler(L.optim.lr_scheduler, optimizer)
    log = []
    for epoch in range(6):
        total = 0.0
        for b in range(3):
            xb = L.lib.tensor(REGRESSION_X[b * 8:b * 8 + 8])
            yb = L.lib.tensor(REGRESSION_Y[b * 8:b * 8 + 8])
            loss = L.F.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            if when == "batch":
                scheduler.step()
        if when == "metric":
            scheduler.step(1.0 + 0.5 * (epoch == 1))   # a plateau, then no improvement
        elif when == "epoch":
            scheduler.step()
        group = optimizer.param_groups[0]
        log.append((total, group["lr"], group["momentum"]))
    return model, scheduler, log


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_sgd_nesterov_with_lr_schedulers(schedule):
    """Idiom: SGD(momentum=0.9, nesterov=True, weight_decay) with a scheduler stepped once per
    epoch (StepLR, CosineAnnealingLR, SequentialLR, ChainedScheduler), per batch (OneCycleLR,
    which also cycles the momentum) or on a validation metric (ReduceLROnPlateau); lrs via
    get_last_lr() / param_groups, the scheduler's state_dict."""
    make_scheduler, when = SCHEDULES[schedule]
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 2))
    init = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    theirs, their_sched, their_log = sgd_schedule_script(
        TORCH, {k: torch.from_numpy(v) for k, v in init.items()}, make_scheduler, when)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no spurious "step before optimizer.step()" warning
        ours, our_sched, our_log = sgd_schedule_script(TG, init, make_scheduler, when)
    for epoch, (a, b) in enumerate(zip(our_log, their_log, strict=True)):
        assert a[0] == pytest.approx(b[0], rel=1e-5), f"epoch {epoch} loss"
        assert a[1] == pytest.approx(b[1], rel=1e-12), f"epoch {epoch} lr"
        assert a[2] == pytest.approx(b[2], rel=1e-12), f"epoch {epoch} momentum"
    assert_same_parameters(theirs, ours, schedule)
    if when != "metric":
        assert our_sched.get_last_lr() == pytest.approx(their_sched.get_last_lr(), rel=1e-12)
    ours_state, theirs_state = our_sched.state_dict(), their_sched.state_dict()
    internal = {"_get_lr_called_within_step", "_schedulers"}   # torch bookkeeping, sub-dicts
    assert set(ours_state) - internal == set(theirs_state) - internal


# --------------------------- 4. gradient accumulation, clipping, zero_grad(set_to_none=False)


def accumulation_script(L, init, x_all, y_all):
    model = L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 3))
    model.load_state_dict(init)
    optimizer = L.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    accum_steps = 3
    log = []
    optimizer.zero_grad(set_to_none=False)
    for i in range(6):
        xb = L.lib.tensor(x_all[i * 4:(i + 1) * 4])
        yb = L.lib.tensor(y_all[i * 4:(i + 1) * 4])
        logits = model(xb)
        loss = L.F.cross_entropy(logits, yb) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            total_norm = L.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            L.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.2)
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)
            log.append(total_norm.item())
        acc = (logits.argmax(dim=1) == yb).float().mean().item()
        log.append((loss.item() * accum_steps, acc, logits.detach().view(-1)[:3].tolist()))
    with L.lib.no_grad():
        flat = L.lib.cat([p.view(-1) for p in model.parameters()])
        preds = L.lib.stack([model(L.lib.tensor(x_all[j:j + 4])).argmax(1)
                             for j in range(0, 24, 4)])
    return log, numpy_of(flat), numpy_of(preds), [numpy_of(p.grad) for p in model.parameters()]


def test_gradient_accumulation_clipping_and_zero_grad_keep():
    """Idiom: gradient accumulation over 3 micro-batches (loss / accum_steps), clip_grad_norm_
    (its returned total norm) then clip_grad_value_, optimizer.zero_grad(set_to_none=False),
    .item()/.detach()/.view(-1)/.tolist(), torch.cat of flattened parameters, torch.stack of
    per-batch predictions."""
    rng = np.random.default_rng(1)
    x_all = rng.standard_normal((24, 4)).astype(np.float32)
    y_all = rng.integers(0, 3, 24)
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 3))
    init = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    theirs = accumulation_script(TORCH, {k: torch.from_numpy(v) for k, v in init.items()},
                                 x_all, y_all)
    ours = accumulation_script(TG, init, x_all, y_all)
    for a, b in zip(ours[0], theirs[0], strict=True):
        if isinstance(b, float):   # a total norm
            assert a == pytest.approx(b, rel=1e-5)
        else:
            assert a[0] == pytest.approx(b[0], rel=1e-5) and a[1] == b[1]
            assert_close(a[2], b[2], "first logits")
    assert_close(ours[1], theirs[1], "parameters")
    assert ours[2].dtype == theirs[2].dtype == np.int64 and np.array_equal(ours[2], theirs[2])
    for g in ours[3]:   # zero_grad(set_to_none=False): grads kept, as zeros
        assert g is not None and not g.any()


def test_optimizer_zero_grad_keep_fills_the_same_grad_tensors():
    """Regression (optim/optimizer.py): zero_grad(set_to_none=False) fills the existing grad
    tensors with zeros, as torch does (it used to put new tensors in place, so a reference to
    p.grad kept the old values)."""
    for L in (TORCH, TG):
        L.lib.manual_seed(0)
        model = L.nn.Linear(3, 2)
        optimizer = L.optim.SGD(model.parameters(), lr=0.1)
        model(L.lib.ones(4, 3)).sum().backward()
        grads = [p.grad for p in model.parameters()]
        optimizer.zero_grad(set_to_none=False)
        for p, g in zip(model.parameters(), grads, strict=True):
            assert p.grad is g, L.name
            assert not g.requires_grad and float(g.abs().sum()) == 0.0, L.name
        model(L.lib.ones(2, 3)).sum().backward()   # accumulates into the same tensors
        assert model.weight.grad is grads[0] and float(grads[0].sum()) == 12.0, L.name


# ---------------------------- 5. checkpoint: model + optimizer + scheduler, resume identically

CKPT_X = np.random.default_rng(2).standard_normal((32, 6)).astype(np.float32)
CKPT_Y = np.random.default_rng(3).integers(0, 3, 32)


def build_for_checkpoint(L):
    model = L.nn.Sequential(L.nn.Linear(6, 16, bias=False), L.nn.BatchNorm1d(16), L.nn.ReLU(),
                            L.nn.Linear(16, 3))
    optimizer = L.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4, amsgrad=True)
    scheduler = L.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    return model, optimizer, scheduler


def train_epochs(L, model, optimizer, scheduler, start, end):
    history = []
    for epoch in range(start, end):
        model.train()
        for b in range(4):
            xb, yb = L.lib.tensor(CKPT_X[b * 8:b * 8 + 8]), L.lib.tensor(CKPT_Y[b * 8:b * 8 + 8])
            loss = L.F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with L.lib.no_grad():
            val_loss = L.F.cross_entropy(model(L.lib.tensor(CKPT_X)), L.lib.tensor(CKPT_Y)).item()
        scheduler.step(val_loss if epoch % 2 else 10.0)
        history.append((val_loss, optimizer.param_groups[0]["lr"]))
    return history


def checkpoint_script(L, init, path, save, load):
    model, optimizer, scheduler = build_for_checkpoint(L)
    model.load_state_dict(init)
    history = train_epochs(L, model, optimizer, scheduler, 0, 3)
    save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
          "scheduler": scheduler.state_dict()}, path)
    checkpoint = load(path)
    model, optimizer, scheduler = build_for_checkpoint(L)      # a fresh process, say
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    history += train_epochs(L, model, optimizer, scheduler, checkpoint["epoch"], 6)
    return model, history


def test_checkpoint_resume_model_optimizer_scheduler(tmp_path):
    """Idiom: torch.save({"epoch", "model", "optimizer", "scheduler"}) mid-training, then a
    fresh model/optimizer/scheduler, load_state_dict of each, and training goes on as if never
    interrupted (Adam with amsgrad, BatchNorm running stats, ReduceLROnPlateau's counters).
    Also: a torch checkpoint (optimizer and scheduler state included) loads into the port."""
    torch.manual_seed(0)
    reference, _, _ = build_for_checkpoint(TORCH)
    init = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    theirs, their_history = checkpoint_script(
        TORCH, {k: torch.from_numpy(v) for k, v in init.items()},
        os.path.join(tmp_path, "torch.pt"), torch.save, torch.load)
    ours, our_history = checkpoint_script(TG, init, os.path.join(tmp_path, "tg.pt"), tg.save,
                                          tg.load)
    for epoch, (a, b) in enumerate(zip(our_history, their_history, strict=True)):
        assert a[0] == pytest.approx(b[0], rel=1e-5), f"epoch {epoch} val loss"
        assert a[1] == b[1], f"epoch {epoch} lr"
    assert_same_parameters(theirs, ours, "after resume", atol=1e-5)
    # the interrupted run equals an uninterrupted one, bit for bit
    model, optimizer, scheduler = build_for_checkpoint(TG)
    model.load_state_dict(init)
    straight = train_epochs(TG, model, optimizer, scheduler, 0, 6)
    assert straight == our_history
    for name, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), ours.state_dict()[name].numpy()), name
    # a torch checkpoint taken after 3 epochs resumes in the port like in torch
    model_t, optimizer_t, scheduler_t = build_for_checkpoint(TORCH)
    model_t.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    train_epochs(TORCH, model_t, optimizer_t, scheduler_t, 0, 3)
    model_g, optimizer_g, scheduler_g = build_for_checkpoint(TG)
    model_g.load_state_dict({k: v.numpy() for k, v in model_t.state_dict().items()})
    optimizer_g.load_state_dict(optimizer_t.state_dict())
    scheduler_g.load_state_dict(scheduler_t.state_dict())
    their_rest = train_epochs(TORCH, model_t, optimizer_t, scheduler_t, 3, 6)
    our_rest = train_epochs(TG, model_g, optimizer_g, scheduler_g, 3, 6)
    for a, b in zip(our_rest, their_rest, strict=True):
        assert a[0] == pytest.approx(b[0], rel=1e-5) and a[1] == b[1]


# ---------------------------------------- 6. DataLoader: Dataset subclass, shuffle, collate


def make_dict_dataset(L, features, labels):
    class DictDataset(L.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"x": L.lib.from_numpy(self.x[i]), "y": int(self.y[i]), "index": i}

    return DictDataset(features, labels)


def make_collate(L):
    def collate(batch):
        xb = L.lib.stack([example["x"] for example in batch])         # (B, 5)
        yb = L.lib.tensor([example["y"] for example in batch])        # (B,)
        return xb, yb, [example["index"] for example in batch]
    return collate


def test_dataloader_dataset_subclass_seeded_shuffle_drop_last_collate():
    """Idiom: a Dataset subclass returning dicts, DataLoader(shuffle=True, drop_last=True,
    collate_fn=..., generator=seeded), len(loader), a new order every epoch, the same order for
    the same seed; training on its batches. Port difference: the orders differ from torch's
    (another RNG), so torch is fed the port's order through sampler=."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((22, 5)).astype(np.float32)
    labels = rng.integers(0, 2, 22)
    loader = TG.data.DataLoader(make_dict_dataset(TG, features, labels), batch_size=4,
                                shuffle=True, collate_fn=make_collate(TG), drop_last=True,
                                generator=tg.Generator().manual_seed(0))
    their_loader = torch_data.DataLoader(make_dict_dataset(TORCH, features, labels),
                                         batch_size=4, shuffle=True,
                                         collate_fn=make_collate(TORCH), drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    assert len(loader) == len(their_loader) == 5
    torch.manual_seed(0)
    theirs = torch.nn.Linear(5, 2)
    ours = tg_nn.Linear(5, 2)
    copy_weights(theirs, ours)
    our_opt = tg.optim.SGD(ours.parameters(), lr=0.1)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    orders = []
    for _ in range(2):
        order = []
        for xb, yb, index in loader:
            assert isinstance(xb, tg.Tensor) and xb.shape == (4, 5) and yb.dtype == np.int64
            loss = tg_F.cross_entropy(ours(xb), yb)
            our_opt.zero_grad()
            loss.backward()
            our_opt.step()
            order += index
            sample = torch_data.DataLoader(make_dict_dataset(TORCH, features, labels),
                                           batch_size=4, sampler=index,
                                           collate_fn=make_collate(TORCH))
            txb, tyb, tindex = next(iter(sample))
            assert tindex == index
            their_loss = torch_F.cross_entropy(theirs(txb), tyb)
            their_opt.zero_grad()
            their_loss.backward()
            their_opt.step()
            assert loss.item() == pytest.approx(their_loss.item(), rel=1e-5)
        assert len(order) == len(set(order)) == 20 and set(order) <= set(range(22))
        orders.append(order)
    assert orders[0] != orders[1]   # reshuffled every epoch
    again = TG.data.DataLoader(make_dict_dataset(TG, features, labels), batch_size=4,
                               shuffle=True, collate_fn=make_collate(TG), drop_last=True,
                               generator=tg.Generator().manual_seed(0))
    assert [i for _, _, batch in again for i in batch] == orders[0]
    assert_same_parameters(theirs, ours, "after 10 steps")


def test_dataloader_positional_arguments_in_torch_order():
    """Regression (data/loader.py): DataLoader's positional arguments follow torch's order
    (dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn,
    pin_memory, drop_last, ...); a 4th positional argument used to be drop_last."""
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    for L in (TORCH, TG):
        ds = L.data.TensorDataset(L.lib.tensor(x), L.lib.tensor(y))
        sampler = L.data.SequentialSampler(ds)
        loader = L.data.DataLoader(ds, 4, False, sampler, None, 0, None, False, True)
        assert [numpy_of(yb).tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        assert loader.drop_last is True and loader.sampler is sampler
        assert len(L.data.DataLoader(ds, batch_size=3, pin_memory_device="", in_order=True)) == 4


def test_tensordataset_tensors_and_default_collate():
    """Idiom: TensorDataset(x, y).tensors, random_split by fractions, DataLoader over it with
    the default collate. Regression (data/dataset.py): .tensors exists (torch's name).
    Port difference (documented in data/loader.py): batches are NumPy arrays, not Tensors,
    so the loop wraps them with tg.tensor(xb)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((22, 3)).astype(np.float32)
    y = rng.integers(0, 2, 22)
    ours = tg_data.TensorDataset(tg.tensor(x), tg.tensor(y))
    theirs = torch_data.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours.tensors) == len(theirs.tensors) == 2
    assert np.array_equal(ours.tensors[0], theirs.tensors[0].numpy())
    train, val = tg_data.random_split(ours, [0.75, 0.25], generator=np.random.default_rng(0))
    their_train, their_val = torch_data.random_split(theirs, [0.75, 0.25])
    assert (len(train), len(val)) == (len(their_train), len(their_val)) == (17, 5)
    xb, yb = next(iter(tg_data.DataLoader(train, batch_size=8)))
    assert isinstance(xb, np.ndarray) and xb.shape == (8, 3) and yb.dtype == np.int64
    out = tg_nn.Linear(3, 2)(tg.tensor(xb))   # the port's extra line
    assert out.shape == (8, 2)


# --------------------------------------- 7. LSTM / GRU text classifier with packed sequences


def make_text_classifier(L, cell):
    rnn_utils = L.nn.utils.rnn

    class TextClassifier(L.nn.Module):
        def __init__(self, vocab=12, emb=6, hidden=7, classes=3):
            super().__init__()
            self.embedding = L.nn.Embedding(vocab, emb, padding_idx=0)
            self.rnn = getattr(L.nn, cell)(emb, hidden, num_layers=2, batch_first=True,
                                           bidirectional=True)
            self.fc = L.nn.Linear(2 * hidden, classes)

        def forward(self, tokens, lengths):
            x = self.embedding(tokens)                                      # (B, T, E)
            packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True,
                                                    enforce_sorted=False)
            out, h = self.rnn(packed)
            if isinstance(h, tuple):   # an LSTM's (h, c)
                h = h[0]
            out, out_lengths = rnn_utils.pad_packed_sequence(out, batch_first=True)  # (B, T, 2H)
            last = L.lib.cat([h[-2], h[-1]], dim=1)                          # (B, 2H)
            mean = out.sum(dim=1) / out_lengths.unsqueeze(1).to(out.dtype)
            return self.fc(last + mean)

    return TextClassifier()


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_rnn_text_classifier_embedding_padding_idx_packed(cell):
    """Idiom: Embedding(padding_idx=0) -> pack_padded_sequence(enforce_sorted=False) -> a
    2-layer bidirectional LSTM/GRU -> pad_packed_sequence, final states h[-2], h[-1]
    concatenated, cross_entropy with label_smoothing, RMSprop(centered, momentum). The padding
    row of the embedding gets a zero gradient. Gradients are compared at 1e-6 every step,
    parameters after 3 steps at 1e-4: centered RMSprop divides by sqrt(E[g^2] - E[g]^2), which
    is tiny after three similar gradients and magnifies their float32 rounding (~1e-5 seen)."""
    rng = np.random.default_rng(0)
    lengths = np.array([3, 6, 1, 4, 6])
    tokens = np.zeros((5, 6), np.int64)
    for i, n in enumerate(lengths):
        tokens[i, :n] = rng.integers(1, 12, n)
    labels = rng.integers(0, 3, 5)
    torch.manual_seed(0)
    theirs, ours = make_text_classifier(TORCH, cell), make_text_classifier(TG, cell)
    copy_weights(theirs, ours)
    optimizers = {}
    for L, model in ((TORCH, theirs), (TG, ours)):
        optimizers[L.name] = L.optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5,
                                             centered=True)
    for step in range(3):
        losses = {}
        for L, model in ((TORCH, theirs), (TG, ours)):
            logits = model(L.lib.tensor(tokens), L.lib.tensor(lengths))
            loss = L.F.cross_entropy(logits, L.lib.tensor(labels), label_smoothing=0.1)
            optimizers[L.name].zero_grad()
            loss.backward()
            losses[L.name] = loss.item()
        assert losses["tinygrad_edu"] == pytest.approx(losses["torch"], rel=1e-5)
        assert_same_grads(theirs, ours, f"step {step}", atol=1e-6)
        assert not ours.embedding.weight.grad.numpy()[0].any()
        for name in optimizers:
            optimizers[name].step()
    assert_same_parameters(theirs, ours, cell, rtol=1e-4, atol=1e-4)


# ------------------------------- 8. Transformer encoder classifier with a key padding mask


def make_encoder_classifier(L):
    class EncoderClassifier(L.nn.Module):
        def __init__(self, vocab=11, d=8, nhead=2, classes=3, max_len=7):
            super().__init__()
            self.tok = L.nn.Embedding(vocab, d, padding_idx=0)
            self.pos = L.nn.Parameter(L.lib.zeros(1, max_len, d))
            layer = L.nn.TransformerEncoderLayer(d, nhead, dim_feedforward=16, dropout=0.0,
                                                 activation="gelu", batch_first=True,
                                                 norm_first=True)
            self.encoder = L.nn.TransformerEncoder(layer, num_layers=2, norm=L.nn.LayerNorm(d),
                                                   enable_nested_tensor=False)
            self.head = L.nn.Linear(d, classes)

        def forward(self, tokens):
            pad = tokens == 0                                               # (B, T)
            x = self.tok(tokens) + self.pos[:, :tokens.shape[1]]            # (B, T, d)
            h = self.encoder(x, src_key_padding_mask=pad)                   # (B, T, d)
            keep = (~pad).unsqueeze(-1).float()                             # (B, T, 1)
            return self.head((h * keep).sum(1) / keep.sum(1))

    return EncoderClassifier()


def make_warmup(L):
    class LinearWarmup(L.optim.lr_scheduler._LRScheduler):   # the old base-class name
        def __init__(self, optimizer, warmup, last_epoch=-1):
            self.warmup = warmup
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            scale = min(1.0, (self.last_epoch + 1) / self.warmup)
            return [base * scale for base in self.base_lrs]

    return LinearWarmup


def test_transformer_encoder_classifier_key_padding_mask():
    """Idiom: TransformerEncoder(norm_first, gelu, batch_first) with src_key_padding_mask,
    a learned positional nn.Parameter, masked mean pooling, AdamW, clip_grad_norm_ and a
    warm-up scheduler subclassing lr_scheduler._LRScheduler (regression: the old name exists,
    optim/lr_scheduler.py)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 11, (4, 7))
    tokens[0, 4:] = 0
    tokens[2, 2:] = 0
    labels = rng.integers(0, 3, 4)
    torch.manual_seed(0)
    theirs, ours = make_encoder_classifier(TORCH), make_encoder_classifier(TG)
    with torch.no_grad():
        theirs.pos.normal_(0, 0.1)
    copy_weights(theirs, ours)
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        their_out = theirs(torch.tensor(tokens))
    with tg.no_grad():
        our_out = ours(tg.tensor(tokens))
    assert_close(our_out, their_out, "eval logits", atol=1e-5)
    setups = {}
    for L, model in ((TORCH, theirs), (TG, ours)):
        model.train()
        optimizer = L.optim.AdamW(model.parameters(), lr=1e-2)
        setups[L.name] = (L, model, optimizer, make_warmup(L)(optimizer, warmup=3))
    for step in range(4):
        seen = {}
        for name, (L, model, optimizer, scheduler) in setups.items():
            loss = L.F.cross_entropy(model(L.lib.tensor(tokens)), L.lib.tensor(labels))
            optimizer.zero_grad()
            loss.backward()
            norm = L.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            seen[name] = (loss.item(), norm.item(), scheduler.get_last_lr()[0])
        assert_close(seen["tinygrad_edu"], seen["torch"], f"loss, norm, lr at step {step}")
        assert_same_grads(theirs, ours, f"step {step}", atol=1e-6)
        for _, _, optimizer, scheduler in setups.values():
            optimizer.step()
            scheduler.step()
    assert_same_parameters(theirs, ours, "after 4 steps", atol=1e-5)


# ----------------------------------------------- 9. weight init in model.apply, seeding


def make_init_fn(L):
    def init_weights(m):
        if isinstance(m, L.nn.Conv2d):
            L.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            L.nn.init.zeros_(m.bias)
        elif isinstance(m, L.nn.BatchNorm2d):
            L.nn.init.ones_(m.weight)
            L.nn.init.constant_(m.bias, 0.1)
        elif isinstance(m, L.nn.Linear):
            gain = L.nn.init.calculate_gain("tanh")
            L.nn.init.xavier_uniform_(m.weight, gain=gain)
            L.nn.init.constant_(m.bias, 0.01)
        elif isinstance(m, L.nn.Embedding):
            L.nn.init.trunc_normal_(m.weight, std=0.02)
    return init_weights


def make_init_model(L):
    return L.nn.Sequential(L.nn.Conv2d(16, 32, 3), L.nn.BatchNorm2d(32), L.nn.Flatten(),
                           L.nn.Linear(64, 48), L.nn.Embedding(100, 40))


def test_weight_init_with_apply_and_manual_seed():
    """Idiom: model.apply(init_weights) with nn.init.kaiming_normal_(mode="fan_out"),
    xavier_uniform_(gain=calculate_gain("tanh")), trunc_normal_(std=0.02), zeros_/ones_/
    constant_; torch.manual_seed(0) makes model construction and init repeat. The random
    draws differ from torch's (another generator), so their distributions are compared."""
    models = {}
    for L in (TORCH, TG):
        L.lib.manual_seed(0)
        model = make_init_model(L).apply(make_init_fn(L))
        models[L.name] = {k: numpy_of(v) for k, v in model.state_dict().items()}
    tg.manual_seed(0)
    again = make_init_model(TG).apply(make_init_fn(TG))
    for name, value in again.state_dict().items():
        assert np.array_equal(value.numpy(), models["tinygrad_edu"][name]), name
    ours, theirs = models["tinygrad_edu"], models["torch"]
    assert list(ours) == list(theirs)
    for name in ("0.bias", "1.weight", "1.bias", "3.bias", "1.running_var"):
        assert np.array_equal(ours[name], theirs[name]), name
    conv = ours["0.weight"]                    # kaiming fan_out: std = sqrt(2 / (32 * 9))
    assert conv.std() == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.05)
    bound = 5 / 3 * np.sqrt(6 / (64 + 48))     # xavier uniform with tanh's gain
    assert tg_nn.init.calculate_gain("tanh") == torch.nn.init.calculate_gain("tanh")
    assert np.abs(ours["3.weight"]).max() <= bound < np.abs(ours["3.weight"]).max() * 1.02
    emb = ours["4.weight"]
    assert emb.std() == pytest.approx(0.02, rel=0.05) and np.abs(emb).max() < 2.0


# ---------------------------------------------------- 10. evaluation loop tensor idioms


def evaluation_script(L, model, x_all, y_all, classes=3):
    model.eval()
    all_logits, all_targets = [], []
    correct, total, running = 0, 0, 0.0
    with L.lib.no_grad():
        for start in range(0, len(x_all), 5):
            xb = L.lib.tensor(x_all[start:start + 5]).to(L.lib.float64).float()
            yb = L.lib.tensor(y_all[start:start + 5])
            logits = model(xb)
            running += L.F.cross_entropy(logits, yb, reduction="sum").item()
            _, predicted = L.lib.max(logits, 1)
            correct += (predicted == yb).sum().item()
            total += yb.size(0)
            all_logits.append(logits)
            all_targets.append(yb)
    logits = L.lib.cat(all_logits)                                        # (N, C)
    targets = L.lib.cat(all_targets)                                      # (N,)
    probs = L.F.softmax(logits, dim=-1)
    confidence, pred = probs.max(dim=1)
    confusion = L.lib.bincount(targets * classes + pred, minlength=classes * classes)
    top2 = (logits.topk(2, dim=1).indices == targets.unsqueeze(1)).any(dim=1).float().mean()
    return dict(loss=running / total, acc=correct / total, confidence=numpy_of(confidence),
                pred=numpy_of(pred), confusion=numpy_of(confusion.view(classes, classes)),
                top2=top2.item(), stacked=numpy_of(L.lib.stack([confidence, pred.float()])))


def test_evaluation_loop_tensor_idioms_and_metrics():
    """Idiom: an eval loop under no_grad summing loss.item() with reduction="sum",
    `_, predicted = torch.max(outputs, 1)`, `correct += (predicted == y).sum().item()`,
    `y.size(0)`, .to(float64).float(), torch.cat of per-batch outputs, softmax(...).max(dim=1),
    a confusion matrix from bincount(...).view(C, C), top-k accuracy, torch.stack. The port's
    tinygrad_edu.metrics (accuracy, confusion_matrix) agree with the hand-written torch values."""
    rng = np.random.default_rng(4)
    x_all = rng.standard_normal((23, 4)).astype(np.float32)
    y_all = rng.integers(0, 3, 23)
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.SiLU(), torch.nn.Linear(6, 3))
    ours = tg_nn.Sequential(tg_nn.Linear(4, 6), tg_nn.SiLU(), tg_nn.Linear(6, 3))
    copy_weights(theirs, ours)
    a = evaluation_script(TG, ours, x_all, y_all)
    b = evaluation_script(TORCH, theirs, x_all, y_all)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["acc"] == b["acc"] and a["top2"] == pytest.approx(b["top2"])
    assert np.array_equal(a["pred"], b["pred"]) and np.array_equal(a["confusion"], b["confusion"])
    assert_close(a["confidence"], b["confidence"], "confidence")
    assert_close(a["stacked"], b["stacked"], "stacked")
    assert tg_metrics.accuracy(y_all, a["pred"]) == pytest.approx(b["acc"])
    assert np.array_equal(tg_metrics.confusion_matrix(y_all, a["pred"], num_classes=3),
                          b["confusion"])


# ------------------------ 11. a tiny GPT: tied weights, causal + padding masks, warm-up cosine


def make_tiny_gpt(L, vocab=13, d=8, block_size=6):
    class Block(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = L.nn.LayerNorm(d)
            self.attn = L.nn.MultiheadAttention(d, 2, batch_first=True)
            self.ln2 = L.nn.LayerNorm(d)
            self.mlp = L.nn.Sequential(L.nn.Linear(d, 4 * d), L.nn.GELU(approximate="tanh"),
                                       L.nn.Linear(4 * d, d))

        def forward(self, x, causal, pad):
            h = self.ln1(x)
            a, weights = self.attn(h, h, h, attn_mask=causal, key_padding_mask=pad)
            x = x + a
            return x + self.mlp(self.ln2(x)), weights                       # (B, T, d), (B, T, T)

    class TinyGPT(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = L.nn.Embedding(vocab, d)
            self.wpe = L.nn.Embedding(block_size, d)
            self.blocks = L.nn.ModuleList([Block() for _ in range(2)])
            self.ln_f = L.nn.LayerNorm(d)
            self.lm_head = L.nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight                           # weight tying

        def forward(self, idx, pad):
            B, T = idx.shape
            pos = L.lib.arange(0, T, dtype=L.lib.long)                       # (T,)
            x = self.wte(idx) + self.wpe(pos)                                # (B, T, d)
            causal = L.lib.triu(L.lib.ones(T, T, dtype=L.lib.bool), diagonal=1)
            for block in self.blocks:
                x, weights = block(x, causal, pad)
            return self.lm_head(self.ln_f(x)), weights                      # (B, T, vocab)

    return TinyGPT()


def gpt_script(L, init, idx, targets, pad, steps=6, warmup=2):
    model = make_tiny_gpt(L)
    model.load_state_dict(init)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = L.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=3e-3, betas=(0.9, 0.95))

    def lr_lambda(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + np.cos(np.pi * (step - warmup) / (steps - warmup)))

    scheduler = L.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    log = []
    for _ in range(steps):
        logits, weights = model(L.lib.tensor(idx), L.lib.tensor(pad))
        loss = L.F.cross_entropy(logits.view(-1, logits.size(-1)),
                                 L.lib.tensor(targets).view(-1), ignore_index=-1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        grads = {n: numpy_of(p.grad) for n, p in model.named_parameters()}
        optimizer.step()
        scheduler.step()
        log.append((loss.item(), norm.item(), scheduler.get_last_lr(), grads, numpy_of(weights)))
    return model, log


def test_tiny_gpt_tied_weights_causal_mask_warmup_cosine():
    """Idiom: a nanoGPT-style model: Embedding weight tied to the output Linear (one entry in
    named_parameters, two in state_dict), MultiheadAttention with a boolean causal attn_mask
    and a key_padding_mask (averaged attention weights returned), GELU(approximate="tanh"),
    cross_entropy over logits.view(-1, V) with ignore_index=-1, AdamW groups split by
    p.dim(), a warm-up + cosine LambdaLR, clip_grad_norm_, zero_grad(set_to_none=True)."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 13, (3, 6))
    targets = np.roll(idx, -1, axis=1)
    targets[:, -1] = -1
    pad = np.zeros((3, 6), bool)
    pad[1, 4:] = True
    targets[1, 3:] = -1
    torch.manual_seed(0)
    reference = make_tiny_gpt(TORCH)
    init = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    assert "lm_head.weight" in init
    theirs, their_log = gpt_script(TORCH, {k: torch.from_numpy(v) for k, v in init.items()},
                                   idx, targets, pad)
    ours, our_log = gpt_script(TG, init, idx, targets, pad)
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 28
    for step, (a, b) in enumerate(zip(our_log, their_log, strict=True)):
        assert a[0] == pytest.approx(b[0], rel=1e-5), f"loss at step {step}"
        assert a[1] == pytest.approx(b[1], rel=1e-5), f"grad norm at step {step}"
        assert a[2] == pytest.approx(b[2], rel=1e-12), f"lrs at step {step}"
        for name in b[3]:
            assert_close(a[3][name], b[3][name], f"step {step}: clipped grad of {name}")
        assert_close(a[4], b[4], f"step {step}: attention weights")
    assert_same_parameters(theirs, ours, "after 6 steps", atol=1e-5)


# ------------------------------------ ports that differ on purpose, and torch's small utilities


def test_data_idioms_port_through_detach():
    """Kept on purpose (README, "Known differences"): ``.data`` is the raw NumPy/CuPy array
    here, torch's is a Tensor. ``p.detach()`` is the Tensor that shares p's memory outside
    the graph, so torch's ``p.data.normal_(1.0, 0.02)`` (DCGAN init), ``p.data.clamp_(-c, c)``
    (WGAN) and ``p.data.copy_(new)`` port as ``p.detach().<same call>``; the values match
    torch's after the same updates."""
    def program(lib, nn, data):
        lib.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        with lib.no_grad():
            for p in model.parameters():
                data(p).copy_(lib.tensor(np.arange(p.numel(), dtype=np.float32)
                                         .reshape(tuple(p.shape)) / 10))
            data(model[0].weight).clamp_(-0.5, 0.5)
            data(model[1].bias).fill_(0)
            data(model[0].bias).mul_(2)
        return [p.detach().numpy().copy() for p in model.parameters()]

    ours = program(tg, tg_nn, lambda p: p.detach())
    theirs = program(torch, torch.nn, lambda p: p.data)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b)
    layer = tg_nn.Linear(3, 2)
    layer.weight.detach().normal_(1.0, 0.02)
    assert abs(float(layer.weight.detach().mean()) - 1.0) < 0.1


def test_assigning_a_tensor_to_data_is_a_clear_error():
    """torch's ``p.data = new_tensor`` stores a Tensor where the array belongs; the next op
    that reads p says so and names the port (it said 'expected all tensors on the same
    device ... on cpu, ... on cpu')."""
    layer = tg_nn.Linear(3, 2)
    with tg.no_grad():
        layer.weight.data = tg.zeros(2, 3)
    with pytest.raises(TypeError, match=r"holds a Tensor in \.data, where its array belongs.*"
                       r"p\.detach\(\)\.copy_\(new\)"):
        layer(tg.ones(1, 3))
    with pytest.raises(TypeError, match=r"^Exp: an input of shape \(2, 3\) holds a Tensor"):
        layer.weight.exp()
    layer.weight.data = tg.ones(2, 3).data  # the port: the array itself
    np.testing.assert_allclose(layer(tg.ones(1, 3)).detach().numpy(),
                               3 + layer.bias.detach().numpy()[None])


def test_cuda_is_available_device_line():
    """Idiom: choosing the device (torch.cuda.is_available(), tg.cuda here)."""
    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    assert tg.zeros(2).to(device).device.type in ("cpu", "cuda")


def test_generator_for_seeded_shuffle():
    """Idiom: DataLoader(ds, shuffle=True, generator=torch.Generator().manual_seed(0)): the
    same seed gives the same order, another seed another order."""
    ds = tg_data.TensorDataset(np.arange(12))

    def order(seed):
        generator = tg.Generator().manual_seed(seed)
        loader = tg_data.DataLoader(ds, batch_size=4, shuffle=True, generator=generator)
        return [int(i) for (batch,) in loader for i in batch]

    assert order(0) == order(0) and sorted(order(0)) == list(range(12))
    assert order(0) != order(1)
    parts = tg_data.random_split(ds, [8, 4], generator=tg.Generator().manual_seed(3))
    again = tg_data.random_split(ds, [8, 4], generator=tg.Generator().manual_seed(3))
    assert list(parts[1].indices) == list(again[1].indices)


def test_torch_equal():
    """Idiom: `assert torch.equal(model(x), model(x))` to check eval-mode determinism."""
    a = tg.tensor([1.0, 2.0])
    assert tg.equal(a, a.clone()) is True and a.equal(tg.tensor([1.0, 3.0])) is False
