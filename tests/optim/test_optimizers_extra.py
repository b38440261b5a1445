"""NAdam, RAdam, Adamax and Adadelta vs torch.optim: the same problem, the same trajectory.

Reuses the least-squares problem of ``test_optimizers.py`` (``extra`` gets a gradient only on
every 3rd step, so skipped parameters are checked too): float64 to 1e-12 over a few steps
(then 50 steps to the suite's tolerance), float32 to float32 rounding, two parameter groups,
state_dict round trips and torch's argument errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import (
    SHAPES,
    STEPS,
    _assert_plain,
    as_groups,
    make_problem,
    tg_loss,
    tg_params,
    torch_params,
    train_side_by_side,
)

import tinygrad_edu as tg
from tinygrad_edu import optim

torch.set_num_threads(1)

CASES = [
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6)),  # rho_t > 5 from step 6 on
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.5))),  # rho_inf = 3: never rectified
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-4)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adadelta", dict(lr=0.1, maximize=True)),
]


def case_id(case):
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


IDS = [case_id(c) for c in CASES]


def pair(name, kwargs, init, split_groups=False, lr2=None, dtype=np.float64, device="cpu"):
    tp, pp = tg_params(init, device, dtype), torch_params(init, dtype)
    tg_opt = getattr(optim, name)(as_groups(tp, split_groups, lr2), **kwargs)
    torch_opt = getattr(torch.optim, name)(as_groups(pp, split_groups, lr2), **kwargs)
    return tp, pp, tg_opt, torch_opt


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_six_float64_steps_match_torch_to_1e_12(case, device):
    name, kwargs = case
    data, init = make_problem()
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init, device=device)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 6, device=device, atol=1e-12, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_trajectory_matches_torch(case):
    """50 steps on the suite's problem. (On make_problem(1) NAdam with L2 weight decay turns
    chaotic after ~30 steps: torch against itself with a 1e-16 change of the start drifts
    1e-7 apart by step 47, so long runs only compare where the dynamics are stable.)"""
    name, kwargs = case
    data, init = make_problem(0)
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, STEPS)
    assert not np.allclose(np.asarray(tp["W"].detach()), init["W"])


def two_param_groups_match_torch(name, kwargs, steps):
    """The second group at 0.3x the learning rate: float64 steps equal torch's to 1e-12."""
    data, init = make_problem(2)
    lr2 = kwargs.get("lr", 0.01) * 0.3
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init, split_groups=True, lr2=lr2)
    assert tg_opt.param_groups[1]["lr"] == lr2
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, steps, atol=1e-12, rtol=0)


def float32_tracks_torch(name, kwargs, steps):
    """float32 parameters and state stay float32 and follow torch's to float32 rounding."""
    data, init = make_problem(4)
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init, dtype=np.float32)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, steps, atol=1e-6, rtol=1e-5)
    for p in tp.values():
        assert p.dtype == np.float32
    for state in tg_opt.state.values():
        for value in state.values():
            if hasattr(value, "dtype"):
                assert value.dtype == np.float32


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_two_param_groups_match_torch(case):
    two_param_groups_match_torch(*case, steps=6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32_and_tracks_torch(case):
    float32_tracks_torch(*case, steps=6)


def test_zero_grad_set_to_none_false_matches_torch():
    data, init = make_problem(2)
    for name in ("NAdam", "RAdam", "Adamax", "Adadelta"):
        tp, pp, tg_opt, torch_opt = pair(name, dict(weight_decay=0.01), init)
        train_side_by_side(tg_opt, torch_opt, tp, pp, data, 8, set_to_none=False)


# ----------------------------------------------------------------------------------------------
# state_dict
# ----------------------------------------------------------------------------------------------

STATE_KEYS = {
    "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"],
    "RAdam": ["step", "exp_avg", "exp_avg_sq"],
    "Adamax": ["step", "exp_avg", "exp_inf"],
    "Adadelta": ["step", "square_avg", "acc_delta"],
}
ROUND_TRIP = [
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9))),
    ("Adamax", dict(lr=0.01, weight_decay=0.01)),
    ("Adadelta", dict(lr=0.5, rho=0.8)),
]


def train(opt, p, data, start, steps):
    """Steps start .. start + steps - 1 of the least-squares problem with ``opt`` alone."""
    for step in range(start, start + steps):
        opt.zero_grad()
        tg_loss(p, data, step).backward()
        opt.step()


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_round_trip_mid_training_continues_identically(name, kwargs):
    data, init = make_problem(5)
    p1 = tg_params(init)
    opt1 = getattr(optim, name)(as_groups(p1, True, 0.005), **kwargs)
    train(opt1, p1, data, 0, 7)
    saved = opt1.state_dict()
    _assert_plain(saved)
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(saved["state"][0]) == sorted(STATE_KEYS[name])
    assert saved["state"][0]["step"] == 7 and saved["state"][3]["step"] == 3  # extra: 0, 3, 6

    p2 = tg_params({k: np.asarray(v.detach()).copy() for k, v in p1.items()})
    opt2 = getattr(optim, name)(as_groups(p2, True), lr=123.0)
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [kwargs["lr"], 0.005]
    train(opt1, p1, data, 7, 8)
    train(opt2, p2, data, 7, 8)
    for k in SHAPES:
        np.testing.assert_array_equal(np.asarray(p1[k].detach()), np.asarray(p2[k].detach()))


def state_dict_layout_matches_torch(name, kwargs):
    """Same keys as torch's state dict; a torch checkpoint loads and training goes on alike."""
    data, init = make_problem(6)
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init, split_groups=True, lr2=0.005)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 4)
    ours, theirs = tg_opt.state_dict(), torch_opt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, values in theirs["state"].items():
        assert sorted(ours["state"][index]) == sorted(values)
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])

    tp2 = tg_params({k: v.detach().numpy().copy() for k, v in pp.items()})
    tg_opt2 = getattr(optim, name)(as_groups(tp2, True))
    tg_opt2.load_state_dict(theirs)
    train_side_by_side(tg_opt2, torch_opt, tp2, pp, data, 6, start=4, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_layout_matches_torch_and_torch_state_loads(name, kwargs):
    state_dict_layout_matches_torch(name, kwargs)


# ----------------------------------------------------------------------------------------------
# Errors: what torch rejects, with the optimizer's name
# ----------------------------------------------------------------------------------------------


def _w():
    return [tg.zeros(2, requires_grad=True)]


INVALID = [
    (lambda: optim.NAdam(_w(), lr=-0.1), ValueError, "NAdam: invalid learning rate -0.1"),
    (lambda: optim.NAdam(_w(), eps=-1.0), ValueError, "NAdam: invalid epsilon -1.0"),
    (lambda: optim.NAdam(_w(), betas=(1.0, 0.9)), ValueError,
     "NAdam: invalid beta parameter at index 0 1.0"),
    (lambda: optim.NAdam(_w(), betas=(0.9, -0.1)), ValueError,
     "NAdam: invalid beta parameter at index 1 -0.1"),
    (lambda: optim.NAdam(_w(), weight_decay=-1), ValueError, "NAdam: invalid weight_decay -1"),
    (lambda: optim.NAdam(_w(), momentum_decay=-1e-3), ValueError,
     "NAdam: invalid momentum_decay -0.001"),
    (lambda: optim.RAdam(_w(), lr=-1), ValueError, "RAdam: invalid learning rate -1"),
    (lambda: optim.RAdam(_w(), betas=(0.9, 1.0)), ValueError,
     "RAdam: invalid beta parameter at index 1 1.0"),
    (lambda: optim.RAdam(_w(), weight_decay=-0.5), ValueError,
     "RAdam: invalid weight_decay -0.5"),
    (lambda: optim.RAdam(_w(), betas=0.9), ValueError, "RAdam: betas must be a pair"),
    (lambda: optim.Adamax(_w(), lr=-2e-3), ValueError, "Adamax: invalid learning rate"),
    (lambda: optim.Adamax(_w(), eps=-1e-8), ValueError, "Adamax: invalid epsilon"),
    (lambda: optim.Adamax(_w(), betas=(-0.1, 0.9)), ValueError,
     "Adamax: invalid beta parameter at index 0 -0.1"),
    (lambda: optim.Adamax(_w(), weight_decay=-1), ValueError, "Adamax: invalid weight_decay"),
    (lambda: optim.Adadelta(_w(), lr=-1.0), ValueError, "Adadelta: invalid learning rate -1.0"),
    (lambda: optim.Adadelta(_w(), rho=1.5), ValueError, r"Adadelta: invalid rho 1.5"),
    (lambda: optim.Adadelta(_w(), rho=-0.1), ValueError, r"Adadelta: invalid rho -0.1"),
    (lambda: optim.Adadelta(_w(), eps=-1e-6), ValueError, "Adadelta: invalid epsilon"),
    (lambda: optim.Adadelta(_w(), weight_decay=-1), ValueError,
     "Adadelta: invalid weight_decay -1"),
    (lambda: optim.Adadelta([], lr=1.0), ValueError, "Adadelta: got an empty parameter list"),
]


@pytest.mark.parametrize("make, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_hyperparameters_raise_errors_naming_the_optimizer(make, error, message):
    with pytest.raises(error, match=message):
        make()


TORCH_INVALID = [
    (torch.optim.NAdam, dict(momentum_decay=-1e-3)),
    (torch.optim.RAdam, dict(betas=(0.9, 1.0))),
    (torch.optim.Adamax, dict(betas=(-0.1, 0.9))),
    (torch.optim.Adadelta, dict(rho=1.5)),
]


@pytest.mark.parametrize("cls, kwargs", TORCH_INVALID, ids=[c.__name__ for c, _ in TORCH_INVALID])
def test_torch_rejects_the_same_arguments(cls, kwargs):
    """The values rejected above are rejected by torch too (with a ValueError)."""
    with pytest.raises(ValueError):
        cls([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError):
        getattr(optim, cls.__name__)(_w(), **kwargs)


def test_boundary_values_torch_accepts_are_accepted():
    optim.Adadelta(_w(), rho=1.0)
    optim.Adadelta(_w(), rho=0.0)
    optim.NAdam(_w(), betas=(0.0, 0.0), momentum_decay=0.0)
    torch.optim.Adadelta([torch.zeros(2, requires_grad=True)], rho=1.0)


def test_defaults_are_torchs():
    for name in ("NAdam", "RAdam", "Adamax", "Adadelta"):
        ours = getattr(optim, name)(_w()).defaults
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        for key, value in ours.items():
            assert theirs[key] == value, (name, key)
