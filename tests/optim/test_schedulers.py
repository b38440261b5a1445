"""LR schedulers vs torch.optim.lr_scheduler: the same lr sequence, epoch by epoch."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import optim
from tinygrad_edu.optim import lr_scheduler

EPOCHS = 30
LRS = (0.1, 0.03)  # two parameter groups with different lrs


def make_optimizers(lrs=LRS):
    tg_groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    torch_groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(tg_groups, lr=1.0), torch.optim.SGD(torch_groups, lr=1.0)


def lr_sequence(opt, scheduler, epochs=EPOCHS, metrics=None):
    """[lrs after construction, lrs after epoch 1, ...], checking get_last_lr each time."""
    sequence = [[g["lr"] for g in opt.param_groups]]
    for epoch in range(epochs):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        lrs = [g["lr"] for g in opt.param_groups]
        assert list(scheduler.get_last_lr()) == lrs
        sequence.append(lrs)
    return sequence


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[3, 8, 8, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=6)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("LinearLR", dict()),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1.0 / (1.0 + epoch))),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: 0.95 ** epoch, lambda epoch: epoch // 4 + 1])),
]


def scheduler_id(case):
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr_lambda") + ")"


@pytest.mark.parametrize("case", SCHEDULERS, ids=[scheduler_id(c) for c in SCHEDULERS])
def test_lr_sequence_equals_torch(case):
    name, kwargs = case
    tg_opt, torch_opt = make_optimizers()
    tg_sched = getattr(lr_scheduler, name)(tg_opt, **kwargs)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    ours = lr_sequence(tg_opt, tg_sched)
    theirs = lr_sequence(torch_opt, torch_sched)
    assert ours == theirs  # the same float operations in the same order: exactly equal
    assert tg_sched.last_epoch == torch_sched.last_epoch == EPOCHS
    assert tg_sched.base_lrs == list(LRS)


# metric sequences with improvements, plateaus and noise
LOSSES = [1.0, 0.9, 0.85, 0.85, 0.86, 0.84, 0.84, 0.84, 0.84, 0.7, 0.7, 0.69999, 0.7, 0.71,
          0.72, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 0.495, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
ACCURACIES = [0.1, 0.3, 0.5, 0.5, 0.52, 0.52, 0.53, 0.6, 0.6, 0.6, 0.6, 0.61, 0.61, 0.62, 0.62,
              0.62, 0.7, 0.7, 0.7, 0.7, 0.7, 0.71, 0.71, 0.71, 0.72, 0.72, 0.72, 0.72, 0.72, 0.72]

PLATEAU = [
    (dict(patience=2), LOSSES),
    (dict(patience=1, factor=0.5, threshold=0.05), LOSSES),
    (dict(patience=0, threshold_mode="abs", threshold=0.01, cooldown=2), LOSSES),
    (dict(patience=1, cooldown=1, min_lr=[0.01, 0.001], factor=0.2), LOSSES),
    (dict(patience=0, min_lr=0.05, eps=1e-3), LOSSES),
    (dict(mode="max", patience=1), ACCURACIES),
    (dict(mode="max", patience=2, threshold_mode="abs", threshold=0.005, factor=0.7),
     ACCURACIES),
]


@pytest.mark.parametrize("kwargs, metrics", PLATEAU,
                         ids=[",".join(f"{k}={v}" for k, v in c[0].items()) for c in PLATEAU])
def test_reduce_lr_on_plateau_equals_torch(kwargs, metrics):
    tg_opt, torch_opt = make_optimizers()
    tg_sched = lr_scheduler.ReduceLROnPlateau(tg_opt, **kwargs)
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    ours = lr_sequence(tg_opt, tg_sched, metrics=metrics)
    theirs = lr_sequence(torch_opt, torch_sched, metrics=metrics)
    assert ours == theirs
    assert ours[-1] != ours[0]  # the sequence did reduce the lr at least once
    assert tg_sched.best == torch_sched.best
    assert tg_sched.num_bad_epochs == torch_sched.num_bad_epochs


def test_reduce_lr_on_plateau_accepts_a_tensor_metric():
    tg_opt, _ = make_optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(tg_opt, patience=0)
    sched.step(tg.tensor(1.0))
    sched.step(tg.tensor(2.0))
    assert sched.get_last_lr() == [LRS[0] * 0.1, LRS[1] * 0.1]


def test_two_chained_schedulers_compose_like_torch():
    tg_opt, torch_opt = make_optimizers()
    tg_a = lr_scheduler.StepLR(tg_opt, step_size=5, gamma=0.5)
    tg_b = lr_scheduler.ExponentialLR(tg_opt, gamma=0.95)
    th_a = torch.optim.lr_scheduler.StepLR(torch_opt, step_size=5, gamma=0.5)
    th_b = torch.optim.lr_scheduler.ExponentialLR(torch_opt, gamma=0.95)
    for _ in range(EPOCHS):
        tg_opt.step()
        torch_opt.step()
        for sched in (tg_a, tg_b, th_a, th_b):
            sched.step()
        assert [g["lr"] for g in tg_opt.param_groups] == [g["lr"] for g in torch_opt.param_groups]
    assert tg_opt.param_groups[0]["lr"] < LRS[0] * 0.95 ** EPOCHS


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.5, total_iters=4)),
])
def test_step_with_epoch_uses_the_closed_form_like_torch(name, kwargs):
    tg_opt, torch_opt = make_optimizers()
    tg_sched = getattr(lr_scheduler, name)(tg_opt, **kwargs)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 7, 1, 12):
            tg_opt.step()
            torch_opt.step()
            tg_sched.step(epoch)
            torch_sched.step(epoch)
            assert tg_sched.get_last_lr() == pytest.approx(torch_sched.get_last_lr(), rel=1e-12)
            assert tg_sched.last_epoch == epoch


def test_cosine_closed_form_agrees_with_the_recursion():
    tg_opt, _ = make_optimizers(lrs=(0.2,))
    sched = lr_scheduler.CosineAnnealingLR(tg_opt, T_max=8, eta_min=0.02)
    for t in range(1, 9):
        tg_opt.step()
        sched.step()
        closed = 0.02 + (0.2 - 0.02) * (1 + math.cos(math.pi * t / 8)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(closed, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[4, 12, 15], gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=9, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, total_iters=15)),
])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    opt1, _ = make_optimizers()
    sched1 = getattr(lr_scheduler, name)(opt1, **kwargs)
    for _ in range(10):
        opt1.step()
        sched1.step()
    opt_state, sched_state = opt1.state_dict(), sched1.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 10

    opt2, _ = make_optimizers()
    sched2 = getattr(lr_scheduler, name)(opt2, **kwargs)  # construct first, then load both
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    for _ in range(15):
        for opt, sched in ((opt1, sched1), (opt2, sched2)):
            opt.step()
            sched.step()
        assert sched1.get_last_lr() == sched2.get_last_lr()
    assert [g["lr"] for g in opt1.param_groups] == [g["lr"] for g in opt2.param_groups]


def test_resume_with_last_epoch_needs_initial_lr():
    tg_opt, _ = make_optimizers()
    with pytest.raises(KeyError, match="StepLR: param_groups\\[0\\] has no 'initial_lr'"):
        lr_scheduler.StepLR(tg_opt, step_size=2, last_epoch=5)


def test_scheduler_step_before_optimizer_step_warns():
    tg_opt, _ = make_optimizers()
    sched = lr_scheduler.StepLR(tg_opt, step_size=2)
    with pytest.warns(UserWarning, match="StepLR.step\\(\\) was called before optimizer.step"):
        sched.step()


def test_no_warning_in_the_right_order():
    tg_opt, _ = make_optimizers()
    sched = lr_scheduler.StepLR(tg_opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg_opt.step()
        sched.step()
    assert sched.last_epoch == 1


INVALID = [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "StepLR: invalid step_size 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError,
     "CosineAnnealingLR: invalid T_max 0"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError,
     "LinearLR: invalid start_factor 0"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError,
     "LinearLR: invalid end_factor 1.5"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2.5]), TypeError,
     "MultiStepLR: milestones must be integers"),
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 1.0]), ValueError,
     "LambdaLR: expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=0.5), TypeError,
     "LambdaLR: lr_lambda must be callable"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.5), ValueError,
     r"ReduceLROnPlateau: invalid factor 1.5 \(must be < 1.0\)"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError,
     "ReduceLROnPlateau: mode must be 'min' or 'max'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
     "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError,
     "ReduceLROnPlateau: expected 2 min_lrs"),
    (lambda o: lr_scheduler.StepLR("sgd", step_size=2), TypeError,
     "StepLR: expected a tinygrad_edu Optimizer, got str"),
]


@pytest.mark.parametrize("make, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_arguments_raise_errors_naming_the_scheduler(make, error, message):
    tg_opt, _ = make_optimizers()
    with pytest.raises(error, match=message):
        make(tg_opt)


def test_lr_scheduler_is_a_submodule_of_optim():
    assert optim.lr_scheduler.StepLR is lr_scheduler.StepLR
    assert issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler)
