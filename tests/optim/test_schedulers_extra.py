"""MultiplicativeLR and ChainedScheduler vs torch.optim.lr_scheduler: the same lr sequences."""

from __future__ import annotations

import pytest
import torch
from test_schedulers import EPOCHS, lr_sequence, make_optimizers

import tinygrad_edu as tg
from tinygrad_edu import optim
from tinygrad_edu.optim import lr_scheduler


class Halving:
    """A callable object with state: torch saves its ``__dict__`` in the state dict."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor if epoch % 3 == 0 else 1.0


MULTIPLICATIVE = [
    dict(lr_lambda=lambda epoch: 0.95),
    dict(lr_lambda=lambda epoch: 0.9 if epoch % 2 else 1.05),
    dict(lr_lambda=[lambda epoch: 0.95, lambda epoch: 1.0 / (1.0 + 0.1 * epoch)]),
    dict(lr_lambda=(lambda epoch: 0.8, lambda epoch: 0.99)),
]


@pytest.mark.parametrize("kwargs", MULTIPLICATIVE, ids=range(len(MULTIPLICATIVE)))
def test_multiplicative_lr_sequence_equals_torch(kwargs):
    tg_opt, torch_opt = make_optimizers()
    ours = lr_sequence(tg_opt, lr_scheduler.MultiplicativeLR(tg_opt, **kwargs))
    theirs = lr_sequence(torch_opt, torch.optim.lr_scheduler.MultiplicativeLR(torch_opt, **kwargs))
    assert ours == theirs


def test_multiplicative_lr_resumes_with_last_epoch_like_torch():
    tg_opt, torch_opt = make_optimizers()
    for opt in (tg_opt, torch_opt):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
    fn = lambda epoch: 0.9  # noqa: E731
    ours = lr_sequence(tg_opt, lr_scheduler.MultiplicativeLR(tg_opt, fn, last_epoch=4), 5)
    theirs = lr_sequence(torch_opt,
                         torch.optim.lr_scheduler.MultiplicativeLR(torch_opt, fn, last_epoch=4), 5)
    assert ours == theirs


def test_multiplicative_lr_state_dict_round_trip_and_callable_object_state():
    opt1, torch_opt = make_optimizers()
    fn1, fn_torch = Halving(), Halving()
    sched1 = lr_scheduler.MultiplicativeLR(opt1, fn1)
    torch_sched = torch.optim.lr_scheduler.MultiplicativeLR(torch_opt, fn_torch)
    for _ in range(7):
        for opt, sched in ((opt1, sched1), (torch_opt, torch_sched)):
            opt.step()
            sched.step()
    fn1.factor = fn_torch.factor = 0.25
    state = sched1.state_dict()
    torch_state = torch_sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 7
    assert state["lr_lambdas"] == torch_state["lr_lambdas"] == [{"factor": 0.25}] * 2
    assert {"last_epoch", "base_lrs", "_last_lr", "lr_lambdas"} <= set(state)

    plain = lr_scheduler.MultiplicativeLR(make_optimizers()[0], lambda e: 0.5).state_dict()
    assert plain["lr_lambdas"] == [None, None]

    opt2, _ = make_optimizers()
    fn2 = Halving()
    sched2 = lr_scheduler.MultiplicativeLR(opt2, fn2)
    opt2.load_state_dict(opt1.state_dict())
    sched2.load_state_dict(state)
    assert fn2.factor == 0.25
    assert "lr_lambdas" in state  # loading did not consume the caller's dict
    for _ in range(10):
        for opt, sched in ((opt1, sched1), (opt2, sched2), (torch_opt, torch_sched)):
            opt.step()
            sched.step()
        assert sched1.get_last_lr() == sched2.get_last_lr() == torch_sched.get_last_lr()


def _chain_constant_exponential(lib, opt):
    s = lib.optim.lr_scheduler
    return [s.ConstantLR(opt, factor=0.1, total_iters=8), s.ExponentialLR(opt, gamma=0.9)]


def _chain_step_multiplicative_linear(lib, opt):
    s = lib.optim.lr_scheduler
    return [s.StepLR(opt, step_size=4, gamma=0.5),
            s.MultiplicativeLR(opt, lambda epoch: 0.97),
            s.LinearLR(opt, start_factor=0.2, total_iters=6)]


def _chain_single(lib, opt):
    return [lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)]


CHAINS = [_chain_constant_exponential, _chain_step_multiplicative_linear, _chain_single]


@pytest.mark.parametrize("make", CHAINS, ids=[m.__name__ for m in CHAINS])
@pytest.mark.parametrize("pass_optimizer", [False, True])
def test_chained_scheduler_sequence_equals_torch(make, pass_optimizer):
    tg_opt, torch_opt = make_optimizers()
    ours_list, theirs_list = make(tg, tg_opt), make(torch, torch_opt)
    ours = lr_scheduler.ChainedScheduler(ours_list, tg_opt if pass_optimizer else None)
    theirs = torch.optim.lr_scheduler.ChainedScheduler(
        theirs_list, torch_opt if pass_optimizer else None)
    assert ours.optimizer is tg_opt
    assert ours.get_last_lr() == theirs.get_last_lr()
    assert lr_sequence(tg_opt, ours) == lr_sequence(torch_opt, theirs)


def test_chained_scheduler_state_dict_round_trip_continues_identically():
    opt1, torch_opt = make_optimizers()
    sched1 = lr_scheduler.ChainedScheduler(_chain_step_multiplicative_linear(tg, opt1))
    for _ in range(5):
        opt1.step()
        sched1.step()
    state = sched1.state_dict()
    torch_sched = torch.optim.lr_scheduler.ChainedScheduler(
        _chain_step_multiplicative_linear(torch, torch_opt))
    assert {"_schedulers", "_last_lr"} <= set(state) & set(torch_sched.state_dict())
    assert len(state["_schedulers"]) == 3 and "optimizer" not in state

    opt2, _ = make_optimizers()
    sched2 = lr_scheduler.ChainedScheduler(_chain_step_multiplicative_linear(tg, opt2))
    opt2.load_state_dict(opt1.state_dict())
    sched2.load_state_dict(state)
    assert "_schedulers" in state
    for _ in range(EPOCHS):
        for opt, sched in ((opt1, sched1), (opt2, sched2)):
            opt.step()
            sched.step()
        assert sched1.get_last_lr() == sched2.get_last_lr()
    assert [g["lr"] for g in opt1.param_groups] == [g["lr"] for g in opt2.param_groups]


def _other_optimizer_chain(lib, opt):
    other = make_optimizers()[0 if lib is tg else 1]
    s = lib.optim.lr_scheduler
    return [s.StepLR(opt, step_size=2), s.StepLR(other, step_size=2)]


def _plateau_chain(lib, opt):
    s = lib.optim.lr_scheduler
    return [s.StepLR(opt, step_size=2), s.ReduceLROnPlateau(opt)]


INVALID = [
    (lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler([]), ValueError,
     "ChainedScheduler: expects at least one scheduler"),
    (lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler(_other_optimizer_chain(lib, o)),
     ValueError, "ChainedScheduler: all schedulers must belong to the same optimizer"),
    (lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler(_plateau_chain(lib, o)),
     ValueError, "ChainedScheduler: ReduceLROnPlateau \\(at index 1\\) is not supported"),
    (lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler(["steplr"], o), TypeError,
     "ChainedScheduler: the scheduler at index 0 has no 'optimizer'"),
    (lambda lib, o: lib.optim.lr_scheduler.MultiplicativeLR(o, [lambda e: 1.0]), ValueError,
     "MultiplicativeLR: expected 2 lr_lambdas"),
    (lambda lib, o: lib.optim.lr_scheduler.MultiplicativeLR(o, 0.5), TypeError,
     "MultiplicativeLR: lr_lambda should be a function, got float"),
]


@pytest.mark.parametrize("make, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_arguments_raise_what_torch_raises(make, error, message):
    tg_opt, torch_opt = make_optimizers()
    with pytest.raises(error, match=message):
        make(tg, tg_opt)
    with pytest.raises(error):
        make(torch, torch_opt)


def test_exported_from_lr_scheduler():
    assert optim.lr_scheduler.MultiplicativeLR is lr_scheduler.MultiplicativeLR
    assert optim.lr_scheduler.ChainedScheduler is lr_scheduler.ChainedScheduler
