"""optim.swa_utils (AveragedModel, EMA, SWALR, update_bn) and optim.Adafactor vs torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import (
    as_groups,
    make_problem,
    tg_params,
    torch_params,
    train_side_by_side,
)

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.optim import swa_utils
from tinygrad_edu.optim.adafactor import Adafactor
from tinygrad_edu.optim.sgd import SGD

torch.set_num_threads(1)
STEPS = 15
ATOL = 1e-10


# ----------------------------------------------------------------------------------------------
# Adafactor
# ----------------------------------------------------------------------------------------------

ADAFACTOR_CASES = [
    dict(),
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.02, maximize=True),
    dict(lr=0.03, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.05),
    dict(lr=0.03, eps=(1e-3, 1e-3), maximize=True, weight_decay=0.01),
]


@pytest.mark.parametrize("kwargs", ADAFACTOR_CASES, ids=str)
def test_adafactor_trajectory_matches_torch(kwargs):
    """1-d (b, extra) and 2-d (W, V) parameters; `extra` skips two steps in three."""
    data, init = make_problem()
    tp, pp = tg_params(init), torch_params(init)
    tg_opt = Adafactor(as_groups(tp, False), **kwargs)
    torch_opt = torch.optim.Adafactor(as_groups(pp, False), **kwargs)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, STEPS)
    assert not np.allclose(np.asarray(tp["W"].detach()), init["W"])


@pytest.mark.parametrize("kwargs", [dict(lr=0.05), dict(lr=0.05, maximize=True,
                                                        weight_decay=0.1)], ids=str)
def test_adafactor_3d_and_0d_parameters_match_torch(kwargs):
    rng = np.random.default_rng(5)
    shapes = {"T": (2, 3, 4), "U": (3, 1, 2, 5), "s": ()}
    init = {k: rng.standard_normal(s) for k, s in shapes.items()}
    target = rng.standard_normal((2, 3, 4))
    tp = {k: tg.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    pp = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    tg_opt = Adafactor(list(tp.values()), **kwargs)
    torch_opt = torch.optim.Adafactor(list(pp.values()), **kwargs)
    for step in range(STEPS):
        tg_opt.zero_grad()
        torch_opt.zero_grad()
        tg_loss = (((tp["T"] * tp["s"]).tanh() - tg.tensor(target)) ** 2).sum() \
            + (tp["U"] ** 3).sum() * 0.1
        torch_loss = ((torch.tanh(pp["T"] * pp["s"]) - torch.tensor(target)) ** 2).sum() \
            + (pp["U"] ** 3).sum() * 0.1
        tg_loss.backward()
        torch_loss.backward()
        tg_opt.step()
        torch_opt.step()
        for k in shapes:
            np.testing.assert_allclose(np.asarray(tp[k].detach()), pp[k].detach().numpy(),
                                       atol=ATOL, rtol=1e-9, err_msg=f"{k} after step {step}")
    state = tg_opt.state[tp["T"]]
    assert state["row_var"].shape == (2, 3, 1) and state["col_var"].shape == (2, 1, 4)
    assert "variance" in tg_opt.state[tp["s"]]


def test_adafactor_float32_uses_float32_eps():
    data, init = make_problem(1)
    tp, pp = tg_params(init, dtype=np.float32), torch_params(init, dtype=np.float32)
    tg_opt = Adafactor(as_groups(tp, False), lr=0.05)
    torch_opt = torch.optim.Adafactor(as_groups(pp, False), lr=0.05)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 10, atol=1e-5, rtol=1e-4)
    assert tp["W"].dtype == np.float32


def test_adafactor_state_dict_layout_and_round_trip():
    data, init = make_problem(2)
    tp, pp = tg_params(init), torch_params(init)
    kwargs = dict(lr=0.05, weight_decay=0.01)
    tg_opt = Adafactor(as_groups(tp, True), **kwargs)
    torch_opt = torch.optim.Adafactor(as_groups(pp, True), **kwargs)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 6)
    ours, theirs = tg_opt.state_dict(), torch_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for i, values in theirs["state"].items():
        assert ours["state"][i].keys() == values.keys()
        assert ours["state"][i]["step"] == float(values["step"])
        for key in values:
            if key != "step":
                np.testing.assert_allclose(ours["state"][i][key], values[key].numpy(),
                                           atol=ATOL)
    # our state dict -> a fresh optimizer continues the same trajectory
    tp2 = {k: tg.tensor(np.asarray(v.detach()).copy(), requires_grad=True)
           for k, v in tp.items()}
    fresh = Adafactor(as_groups(tp2, True), lr=1.0)
    fresh.load_state_dict(ours)
    assert fresh.param_groups[0]["lr"] == 0.05
    train_side_by_side(fresh, torch_opt, tp2, pp, data, 6, start=6)
    # torch's state dict loads too
    tp3 = {k: tg.tensor(np.asarray(v.detach()).copy(), requires_grad=True)
           for k, v in tp2.items()}
    from_torch = Adafactor(as_groups(tp3, True))
    from_torch.load_state_dict(torch_opt.state_dict())
    train_side_by_side(from_torch, torch_opt, tp3, pp, data, 4, start=12)


@pytest.mark.parametrize("kwargs", [
    dict(lr=-1.0), dict(beta2_decay=0.5), dict(eps=(-1.0, 1e-3)), dict(eps=(None, -1.0)),
    dict(eps=1e-3), dict(d=0.5), dict(weight_decay=-0.1),
], ids=str)
def test_adafactor_argument_errors(kwargs):
    with pytest.raises(ValueError, match="Adafactor"):
        Adafactor([tg.zeros(2, requires_grad=True)], **kwargs)


# ----------------------------------------------------------------------------------------------
# AveragedModel, EMA, update_bn
# ----------------------------------------------------------------------------------------------


def make_models(seed=0):
    tg_model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                      torch.nn.Linear(4, 2)).double()
    tg_model.to(tg.float64)
    copy_weights(tg_model, torch_model)
    return tg_model, torch_model


def copy_weights(tg_model, torch_model):
    state = {k: torch.tensor(np.asarray(v)) for k, v in tg_model.state_dict().items()}
    torch_model.load_state_dict(state)


def assert_same_state(tg_module, torch_module, atol=1e-12):
    ours = tg_module.state_dict()
    theirs = torch_module.state_dict()
    assert list(ours) == list(theirs)
    for k in theirs:
        np.testing.assert_allclose(np.asarray(ours[k]), theirs[k].numpy(), atol=atol,
                                   err_msg=k)


def perturb_and_forward(tg_model, torch_model, rng):
    """New weights (the same on both sides) and one train-mode forward (moves BN stats)."""
    for p in tg_model.parameters():
        p.data[...] += rng.standard_normal(p.shape) * 0.3
    copy_weights_params_only(tg_model, torch_model)
    x = rng.standard_normal((8, 3))
    tg_model(tg.tensor(x))
    torch_model(torch.tensor(x))


def copy_weights_params_only(tg_model, torch_model):
    with torch.no_grad():
        for p, q in zip(tg_model.parameters(), torch_model.parameters(), strict=True):
            q.copy_(torch.tensor(np.asarray(p.detach())))


@pytest.mark.parametrize("mode", ["swa", "ema", "ema_multi", "swa_buffers", "ema_buffers"])
def test_averaged_model_matches_torch(mode):
    rng = np.random.default_rng(0)
    tg_model, torch_model = make_models()
    use_buffers = mode.endswith("buffers")
    kw_tg, kw_torch = {}, {}
    if mode.startswith("ema"):
        if mode == "ema_multi":
            kw_tg["multi_avg_fn"] = swa_utils.get_ema_multi_avg_fn(0.7)
            kw_torch["multi_avg_fn"] = torch.optim.swa_utils.get_ema_multi_avg_fn(0.7)
        else:
            kw_tg["avg_fn"] = swa_utils.get_ema_avg_fn(0.7)
            kw_torch["avg_fn"] = torch.optim.swa_utils.get_ema_avg_fn(0.7)
    tg_avg = swa_utils.AveragedModel(tg_model, use_buffers=use_buffers, **kw_tg)
    torch_avg = torch.optim.swa_utils.AveragedModel(torch_model, use_buffers=use_buffers,
                                                    **kw_torch)
    for _ in range(5):
        perturb_and_forward(tg_model, torch_model, rng)
        tg_avg.update_parameters(tg_model)
        torch_avg.update_parameters(torch_model)
        assert_same_state(tg_avg, torch_avg)
    assert tg_avg.n_averaged.item() == 5
    # forward calls the averaged copy
    x = rng.standard_normal((4, 3))
    tg_avg.eval()
    torch_avg.eval()
    np.testing.assert_allclose(np.asarray(tg_avg(tg.tensor(x)).detach()),
                               torch_avg(torch.tensor(x)).detach().numpy(), atol=1e-12)
    # the copy is independent of the model
    assert not np.allclose(np.asarray(tg_avg.module[0].weight.detach()),
                           np.asarray(tg_model[0].weight.detach()))


def test_averaged_model_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="avg_fn or multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_ema_avg_fn(),
                                multi_avg_fn=swa_utils.get_ema_multi_avg_fn())
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_multi_avg_fn(-0.1)


def test_update_bn_matches_torch():
    rng = np.random.default_rng(1)
    tg_model, torch_model = make_models()
    perturb_and_forward(tg_model, torch_model, rng)
    batches = [rng.standard_normal((n, 3)) for n in (8, 5, 11)]
    tg_loader = [(tg.tensor(x), 0) for x in batches]
    torch_loader = [(torch.tensor(x), 0) for x in batches]
    tg_model.eval()
    torch_model.eval()
    swa_utils.update_bn(tg_loader, tg_model)
    torch.optim.swa_utils.update_bn(torch_loader, torch_model)
    assert_same_state(tg_model, torch_model)
    assert tg_model[1].momentum == 0.1 and not tg_model.training
    # plain tensors as batches work too; a model without BatchNorm is left alone
    swa_utils.update_bn([tg.tensor(x) for x in batches], tg_model)
    assert_same_state(tg_model, torch_model)
    swa_utils.update_bn(tg_loader, nn.Linear(3, 2))


# ----------------------------------------------------------------------------------------------
# SWALR
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(swa_lr=0.05),
    dict(swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear"),
    dict(swa_lr=[0.5, 0.01], anneal_epochs=4),
    dict(swa_lr=0.2, anneal_epochs=0),
    dict(swa_lr=0.2, anneal_epochs=1, anneal_strategy="linear"),
], ids=str)
def test_swalr_matches_torch(kwargs):
    tg_opt = SGD([{"params": [tg.zeros(1, requires_grad=True)]},
                  {"params": [tg.zeros(1, requires_grad=True)], "lr": 0.3}], lr=0.1)
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                                 {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}],
                                lr=0.1)
    tg_sched = swa_utils.SWALR(tg_opt, **kwargs)
    torch_sched = torch.optim.swa_utils.SWALR(torch_opt, **kwargs)
    np.testing.assert_allclose(tg_sched.get_last_lr(), torch_sched.get_last_lr(), rtol=1e-14)
    for _ in range(12):
        tg_opt.step()
        torch_opt.step()
        tg_sched.step()
        torch_sched.step()
        np.testing.assert_allclose(tg_sched.get_last_lr(), torch_sched.get_last_lr(),
                                   rtol=1e-14, atol=1e-15)
    assert [g["swa_lr"] for g in tg_opt.param_groups] == \
        [g["swa_lr"] for g in torch_opt.param_groups]


def test_swalr_state_dict_round_trip():
    tg_opt = SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
    sched = swa_utils.SWALR(tg_opt, swa_lr=0.01, anneal_epochs=6, anneal_strategy="linear")
    for _ in range(2):
        tg_opt.step()
        sched.step()
    state = sched.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    assert state["_anneal_strategy"] == "linear" and state["anneal_epochs"] == 6
    saved_group = {k: v for k, v in tg_opt.param_groups[0].items() if k != "params"}
    expected = []
    for _ in range(3):
        tg_opt.step()
        sched.step()
        expected.append(sched.get_last_lr())
    # a scheduler built differently, given the saved state (and the optimizer's groups, which
    # live in the optimizer's own state dict), continues the same schedule
    opt2 = SGD([tg.zeros(1, requires_grad=True)], lr=0.7)
    sched2 = swa_utils.SWALR(opt2, swa_lr=0.5, anneal_strategy="cos")
    sched2.load_state_dict(state)
    opt2.param_groups[0].update(saved_group)
    got = []
    for _ in range(3):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert sched2.anneal_func(0.25) == 0.25  # linear again


@pytest.mark.parametrize("kwargs, match", [
    (dict(swa_lr=0.1, anneal_strategy="exp"), "anneal_strategy"),
    (dict(swa_lr=0.1, anneal_epochs=-1), "anneal_epochs"),
    (dict(swa_lr=0.1, anneal_epochs=2.5), "anneal_epochs"),
    (dict(swa_lr=[0.1, 0.2]), "swa_lr"),
])
def test_swalr_argument_errors(kwargs, match):
    opt = SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=match):
        swa_utils.SWALR(opt, **kwargs)
