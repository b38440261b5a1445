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


# ----------------------------------------------------------------------------------------------
# ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, SequentialLR
# ----------------------------------------------------------------------------------------------

STEPS = 50


def make_momentum_optimizers(kind, lrs=LRS):
    """The same two-group optimizer in both libraries: SGD with momentum, or Adam (betas)."""
    tg_groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    torch_groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "sgd":
        return (optim.SGD(tg_groups, lr=1.0, momentum=0.9),
                torch.optim.SGD(torch_groups, lr=1.0, momentum=0.9))
    return optim.Adam(tg_groups, lr=1.0), torch.optim.Adam(torch_groups, lr=1.0)


def hyper_sequence(opt, scheduler, steps=STEPS):
    """Per step: every group's (lr, momentum or beta1), checking get_last_lr each time."""
    def snapshot():
        key = "betas" if "betas" in opt.defaults else "momentum"
        return [(g["lr"], g[key][0] if key == "betas" else g[key]) for g in opt.param_groups]

    sequence = [snapshot()]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        assert list(scheduler.get_last_lr()) == [g["lr"] for g in opt.param_groups]
        sequence.append(snapshot())
    return sequence


def _sequential_warmup_cosine(lib, opt):
    warmup = lib.LinearLR(opt, start_factor=0.1, total_iters=5)
    decay = lib.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)
    return lib.SequentialLR(opt, schedulers=[warmup, decay], milestones=[5])


def _sequential_three(lib, opt):
    schedulers = [lib.ConstantLR(opt, factor=0.5, total_iters=2),
                  lib.ExponentialLR(opt, gamma=0.9),
                  lib.StepLR(opt, step_size=4, gamma=0.5)]
    return lib.SequentialLR(opt, schedulers=schedulers, milestones=[3, 20])


def _sequential_nested(lib, opt):
    inner = lib.SequentialLR(opt, schedulers=[lib.ConstantLR(opt, factor=0.2, total_iters=10),
                                              lib.PolynomialLR(opt, total_iters=15, power=2.0)],
                             milestones=[6])
    return lib.SequentialLR(opt, schedulers=[inner, lib.ExponentialLR(opt, gamma=0.95)],
                            milestones=[30])


NEW_SCHEDULERS = {
    "ConstantLR(0.5,4)": lambda lib, o: lib.ConstantLR(o, factor=0.5, total_iters=4),
    "ConstantLR()": lambda lib, o: lib.ConstantLR(o),
    "PolynomialLR(20,2)": lambda lib, o: lib.PolynomialLR(o, total_iters=20, power=2.0),
    "PolynomialLR(8)": lambda lib, o: lib.PolynomialLR(o, total_iters=8),
    "PolynomialLR(30,0.5)": lambda lib, o: lib.PolynomialLR(o, total_iters=30, power=0.5),
    "WarmRestarts(7,2)": lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2,
                                                                        eta_min=0.001),
    "WarmRestarts(5)": lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=5),
    "WarmRestarts(3,3)": lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=3),
    "CyclicLR(triangular)": lambda lib, o: lib.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                        step_size_up=5),
    "CyclicLR(triangular2)": lambda lib, o: lib.CyclicLR(
        o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=4, step_size_down=6,
        mode="triangular2", base_momentum=[0.8, 0.7], max_momentum=0.95),
    "CyclicLR(exp_range)": lambda lib, o: lib.CyclicLR(o, base_lr=0.001, max_lr=0.1,
                                                       step_size_up=3, mode="exp_range",
                                                       gamma=0.97),
    "CyclicLR(scale_fn)": lambda lib, o: lib.CyclicLR(o, base_lr=0.001, max_lr=0.1,
                                                      step_size_up=7, step_size_down=2,
                                                      scale_fn=lambda x: 0.99**x,
                                                      scale_mode="iterations"),
    "CyclicLR(no momentum)": lambda lib, o: lib.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                         step_size_up=6, cycle_momentum=False),
    "OneCycleLR(cos)": lambda lib, o: lib.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=STEPS),
    "OneCycleLR(linear)": lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=60,
                                                        anneal_strategy="linear"),
    "OneCycleLR(three_phase)": lambda lib, o: lib.OneCycleLR(
        o, max_lr=0.2, epochs=5, steps_per_epoch=11, pct_start=0.25, div_factor=10.0,
        final_div_factor=100.0, three_phase=True, base_momentum=[0.8, 0.85],
        max_momentum=[0.9, 0.99]),
    "OneCycleLR(no momentum)": lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=STEPS,
                                                             cycle_momentum=False),
    "SequentialLR(warmup,cosine)": _sequential_warmup_cosine,
    "SequentialLR(three)": _sequential_three,
    "SequentialLR(nested)": _sequential_nested,
}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(NEW_SCHEDULERS))
def test_new_scheduler_sequences_equal_torch(name, optimizer):
    """50 steps, two parameter groups: the lrs (and the cycled momentum / beta1) are exactly
    torch's at every step."""
    make = NEW_SCHEDULERS[name]
    tg_opt, torch_opt = make_momentum_optimizers(optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's SequentialLR warns about its own schedulers
        ours = hyper_sequence(tg_opt, make(lr_scheduler, tg_opt))
        theirs = hyper_sequence(torch_opt, make(torch.optim.lr_scheduler, torch_opt))
    assert ours == theirs
    assert len({lrs for lrs in map(tuple, ours)}) > 1  # the schedule did change something


@pytest.mark.parametrize("name", list(NEW_SCHEDULERS))
def test_new_scheduler_state_dict_round_trip_continues_identically(name):
    make = NEW_SCHEDULERS[name]
    opt1, _ = make_momentum_optimizers("sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a nested SequentialLR warns at construction (torch too)
        sched1 = make(lr_scheduler, opt1)
    hyper_sequence(opt1, sched1, steps=20)
    opt_state, sched_state = opt1.state_dict(), sched1.state_dict()
    assert "optimizer" not in sched_state
    assert sched_state["last_epoch"] == 20

    opt2, _ = make_momentum_optimizers("sgd", lrs=(0.5, 0.5))  # different lrs: all restored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched2 = make(lr_scheduler, opt2)  # construct first, then load both
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert hyper_sequence(opt1, sched1, steps=25) == hyper_sequence(opt2, sched2, steps=25)


def test_new_scheduler_state_dict_matches_torchs_keys():
    for name, make in NEW_SCHEDULERS.items():
        tg_opt, torch_opt = make_momentum_optimizers("sgd")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = make(lr_scheduler, tg_opt).state_dict()
            theirs = make(torch.optim.lr_scheduler, torch_opt).state_dict()
        torch_only = {"_get_lr_called_within_step", "_scale_fn_ref"}
        assert set(theirs) - torch_only <= set(ours), name
        assert ours["last_epoch"] == theirs["last_epoch"], name


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_equal_torch(T_mult):
    """step(epoch) with fractional epochs (one step per batch), as torch's docstring shows."""
    tg_opt, torch_opt = make_optimizers()
    ours = lr_scheduler.CosineAnnealingWarmRestarts(tg_opt, T_0=4, T_mult=T_mult, eta_min=1e-3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(torch_opt, T_0=4,
                                                                  T_mult=T_mult, eta_min=1e-3)
    iters = 7
    for epoch in range(12):
        for i in range(iters):
            tg_opt.step()
            torch_opt.step()
            ours.step(epoch + i / iters)
            theirs.step(epoch + i / iters)
            assert ours.get_last_lr() == theirs.get_last_lr()
            assert (ours.last_epoch, ours.T_i) == (theirs.last_epoch, theirs.T_i)
    for epoch in (3.5, 0, 17.25, 2, 40.9):  # jumps back and forth
        ours.step(epoch)
        theirs.step(epoch)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours.T_cur == pytest.approx(theirs.T_cur, rel=1e-12)


def test_warm_restarts_closed_form_and_restarts():
    tg_opt, _ = make_optimizers(lrs=(0.2,))
    sched = lr_scheduler.CosineAnnealingWarmRestarts(tg_opt, T_0=3, T_mult=2, eta_min=0.02)
    t_cur, t_i = 0, 3
    for _ in range(20):
        expected = 0.02 + (0.2 - 0.02) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-12)
        tg_opt.step()
        sched.step()
        t_cur += 1
        if t_cur == t_i:  # restart: back to the base lr, a period twice as long
            t_cur, t_i = 0, 2 * t_i
    assert sched.T_i == 12  # periods 3, 6, 12: 20 steps end inside the third


@pytest.mark.parametrize("name, kwargs", [
    ("ConstantLR", dict(factor=0.25, total_iters=6)),
    ("PolynomialLR", dict(total_iters=9, power=1.5)),
])
def test_new_closed_forms_equal_torch(name, kwargs):
    tg_opt, torch_opt = make_optimizers()
    tg_sched = getattr(lr_scheduler, name)(tg_opt, **kwargs)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 7, 1, 12, 6, 0):
            tg_opt.step()
            torch_opt.step()
            tg_sched.step(epoch)
            torch_sched.step(epoch)
            assert tg_sched.get_last_lr() == pytest.approx(torch_sched.get_last_lr(), rel=1e-12)


def test_one_cycle_shape_and_momentum():
    """Starts at max_lr / div_factor, peaks at max_lr after pct_start, ends at
    initial_lr / final_div_factor; momentum moves the other way."""
    tg_opt, _ = make_momentum_optimizers("sgd", lrs=(0.1,))
    sched = lr_scheduler.OneCycleLR(tg_opt, max_lr=1.0, total_steps=22, pct_start=0.5,
                                    div_factor=4.0, final_div_factor=10.0)
    lrs, momenta = [], []
    for _ in range(21):
        lrs.append(sched.get_last_lr()[0])
        momenta.append(tg_opt.param_groups[0]["momentum"])
        tg_opt.step()
        sched.step()
    lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == 0.25 and momenta[0] == 0.95
    assert lrs[10] == pytest.approx(1.0) and momenta[10] == pytest.approx(0.85)  # the peak
    assert max(lrs) == lrs[10] and min(momenta) == momenta[10]
    assert lrs[-1] == pytest.approx(0.025)  # step total_steps - 1: initial_lr / final_div
    tg_opt.step()
    sched.step()  # step total_steps is still allowed (as in torch)
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 23 times, but total_steps "
                                         "is 22"):
        tg_opt.step()
        sched.step()


def test_cyclic_lr_sets_base_lr_and_keeps_a_callable_objects_state():
    class HalfEveryCycle:
        def __init__(self):
            self.base = 0.5

        def __call__(self, x):
            return self.base ** (x - 1)

    tg_opt, _ = make_momentum_optimizers("adam")
    sched = lr_scheduler.CyclicLR(tg_opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                  scale_fn=HalfEveryCycle())
    assert [g["lr"] for g in tg_opt.param_groups] == [0.01, 0.01]
    assert [g["betas"] for g in tg_opt.param_groups] == [(0.9, 0.999)] * 2  # max_momentum
    state = sched.state_dict()
    assert state["_scale_fn_custom"] == {"base": 0.5}
    fresh = HalfEveryCycle()
    fresh.base = 0.0
    other = lr_scheduler.CyclicLR(tg_opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                  scale_fn=fresh)
    other.load_state_dict(state)
    assert fresh.base == 0.5
    assert "_scale_fn_custom" in state  # load_state_dict leaves the caller's dict alone
    plain = lr_scheduler.CyclicLR(tg_opt, base_lr=0.01, max_lr=0.1, scale_fn=lambda x: 1.0)
    assert plain.state_dict()["_scale_fn_custom"] is None  # functions cannot be stored


def _adagrad(lib):
    params = [tg.zeros(2, requires_grad=True)] if lib is lr_scheduler else [
        torch.zeros(2, requires_grad=True)]
    return (optim if lib is lr_scheduler else torch.optim).Adagrad(params, lr=0.1)


NEW_INVALID = [
    (lambda lib, o: lib.ConstantLR(o, factor=1.5), ValueError, "ConstantLR: invalid factor 1.5"),
    (lambda lib, o: lib.ConstantLR(o, factor=-0.5), ValueError,
     "ConstantLR: invalid factor -0.5"),
    (lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "CosineAnnealingWarmRestarts: invalid T_0 0"),
    (lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError,
     "CosineAnnealingWarmRestarts: invalid T_0 2.5"),
    (lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), ValueError,
     "CosineAnnealingWarmRestarts: invalid T_mult 0"),
    (lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=5, eta_min="0"), ValueError,
     "CosineAnnealingWarmRestarts: eta_min must be a float or int"),
    (lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=5).step(-1), ValueError,
     "CosineAnnealingWarmRestarts: expected a non-negative epoch, got -1"),
    (lambda lib, o: lib.CyclicLR(o, base_lr=0.01, max_lr=0.1, mode="sawtooth"), ValueError,
     "CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range'"),
    (lambda lib, o: lib.CyclicLR(o, base_lr=[0.01], max_lr=0.1), ValueError,
     r"CyclicLR: expected 2 values of base_lr \(one per parameter group\), got 1"),
    (lambda lib, o: lib.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2, 0.3]), ValueError,
     "CyclicLR: expected 2 values of max_lr"),
    (lambda lib, o: lib.CyclicLR(_adagrad(lib), base_lr=0.01, max_lr=0.1), ValueError,
     "CyclicLR: cycle_momentum=True needs an optimizer with a 'momentum' or 'betas'"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1), ValueError,
     "OneCycleLR: you must give either total_steps or both epochs and steps_per_epoch"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, epochs=3), ValueError,
     "OneCycleLR: you must give either total_steps"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError,
     "OneCycleLR: invalid total_steps 0"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, epochs=0, steps_per_epoch=3), ValueError,
     "OneCycleLR: invalid epochs 0"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=1.5), ValueError,
     "OneCycleLR: invalid steps_per_epoch 1.5"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"OneCycleLR: invalid pct_start 1.5 \(must be a float in \[0, 1\]\)"),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1), ValueError,
     "OneCycleLR: invalid pct_start 1 "),
    (lambda lib, o: lib.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
     ValueError, "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda lib, o: lib.OneCycleLR(_adagrad(lib), max_lr=0.1, total_steps=10), ValueError,
     "OneCycleLR: cycle_momentum=True needs an optimizer"),
    (lambda lib, o: lib.SequentialLR(o, schedulers=[], milestones=[]), ValueError,
     "SequentialLR: expects at least one scheduler, got none"),
    (lambda lib, o: lib.SequentialLR(o, schedulers=[lib.ConstantLR(o), lib.ConstantLR(o)],
                                     milestones=[2, 5]), ValueError,
     r"SequentialLR: expected 1 milestones \(one fewer than the 2 schedulers\), got 2"),
    (lambda lib, o: lib.SequentialLR(o, schedulers=[lib.ConstantLR(o), "cosine"],
                                     milestones=[2]), TypeError,
     "SequentialLR: the scheduler at index 1 has no 'optimizer' attribute"),
    (lambda lib, o: lib.SequentialLR(o, schedulers=[lib.ReduceLROnPlateau(o)], milestones=[]),
     ValueError, r"SequentialLR: ReduceLROnPlateau \(at index 0\) is not supported"),
    (lambda lib, o: lib.SequentialLR(o, schedulers=[lib.StepLR(_adagrad(lib), step_size=2)],
                                     milestones=[]), ValueError,
     "SequentialLR: all schedulers must belong to the same optimizer, but StepLR at index 0"),
]


@pytest.mark.parametrize("make, error, message", NEW_INVALID, ids=[m for _, _, m in NEW_INVALID])
def test_new_schedulers_reject_what_torch_rejects(make, error, message):
    """The same exception type as torch, with a message that names the scheduler."""
    tg_opt, torch_opt = make_optimizers()
    with pytest.raises(error, match=message):
        make(lr_scheduler, tg_opt)
    with pytest.raises(error):
        make(torch.optim.lr_scheduler, torch_opt)


@pytest.mark.parametrize("make, message", [
    (lambda o: lr_scheduler.ConstantLR(o, factor=0), "ConstantLR: invalid factor 0"),
    (lambda o: lr_scheduler.ConstantLR(o, total_iters=0), "ConstantLR: invalid total_iters 0"),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0),
     "PolynomialLR: invalid total_iters 0"),
    (lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=0),
     "CyclicLR: invalid step_size_up 0"),
    (lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, scale_fn=abs,
                                     scale_mode="epochs"),
     "CyclicLR: scale_mode must be 'cycle' or 'iterations', got 'epochs'"),
])
def test_new_schedulers_reject_values_torch_fails_on_later(make, message):
    """Values torch accepts and then divides by zero with (or silently misreads) fail early."""
    tg_opt, _ = make_optimizers()
    with pytest.raises(ValueError, match=message):
        make(tg_opt)
