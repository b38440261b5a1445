"""Rprop and ASGD vs torch.optim: the same problem, the same trajectory.

Reuses the least-squares problem of ``test_optimizers.py`` (``extra`` gets a gradient only on
every 3rd step, so skipped parameters are checked too): float64 trajectories to 1e-12, the
per-parameter state against torch's, float32 to float32 rounding, two parameter groups,
state_dict round trips (our own and torch's checkpoints) and argument errors.

torch keeps ASGD's ``eta`` and ``mu`` as 0-d tensors of the default dtype (float32), so its
float64 runs round the step size to float32; the comparisons switch torch's default dtype to
float64, which makes those scalars float64 like ours (Python floats).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import (
    SHAPES,
    _assert_plain,
    as_groups,
    make_problem,
    tg_params,
    train_side_by_side,
)
from test_optimizers_extra import (
    case_id,
    float32_tracks_torch,
    pair,
    state_dict_layout_matches_torch,
    train,
    two_param_groups_match_torch,
)

import tinygrad_edu as tg
from tinygrad_edu.optim import ASGD, Rprop

torch.set_num_threads(1)

OURS = {"Rprop": Rprop, "ASGD": ASGD}
STEPS = 20

CASES = [
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08))),  # both clamps bite
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.05, alpha=0.6, t0=5)),  # averaging from step 6 on
    ("ASGD", dict(lr=0.05, lambd=1e-3, t0=0, weight_decay=0.1)),
    ("ASGD", dict(lr=0.01, t0=3, maximize=True)),
]


IDS = [case_id(c) for c in CASES]


@pytest.fixture(autouse=True)
def _torch_float64_scalars():
    """ASGD's eta and mu in float64 on the torch side too (see the module docstring)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def assert_same_state(tg_opt, torch_opt, atol=1e-12):
    ours, theirs = tg_opt.state_dict()["state"], torch_opt.state_dict()["state"]
    assert sorted(ours) == sorted(theirs)
    for index, values in theirs.items():
        assert sorted(ours[index]) == sorted(values)
        for key, value in values.items():
            np.testing.assert_allclose(np.asarray(ours[index][key], dtype=np.float64),
                                       value.detach().double().numpy(), atol=atol, rtol=0,
                                       err_msg=f"state[{index}][{key!r}]")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_trajectory_and_state_match_torch(case, device):
    name, kwargs = case
    data, init = make_problem(0)
    tp, pp, tg_opt, torch_opt = pair(name, kwargs, init, device=device)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, STEPS, device=device, atol=1e-12,
                       rtol=0)
    assert_same_state(tg_opt, torch_opt)
    assert not np.allclose(np.asarray(tp["W"].detach()), init["W"])  # it went somewhere
    assert tg_opt.state[tp["W"]]["step"] == STEPS
    assert tg_opt.state[tp["extra"]]["step"] == 7  # a gradient on steps 0, 3, ..., 18


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_two_param_groups_match_torch(case):
    two_param_groups_match_torch(*case, steps=10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32_and_tracks_torch(case):
    float32_tracks_torch(*case, steps=10)


def test_zero_grad_set_to_none_false_matches_torch():
    """Zeroed (not None) gradients: Rprop leaves `extra` in place (sign(0) = 0) but still
    updates its step sizes; ASGD keeps shrinking it through the decay term."""
    data, init = make_problem(2)
    for name, kwargs in (("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, lambd=0.1, t0=2))):
        tp, pp, tg_opt, torch_opt = pair(name, kwargs, init)
        train_side_by_side(tg_opt, torch_opt, tp, pp, data, 10, set_to_none=False,
                           atol=1e-12, rtol=0)
        assert_same_state(tg_opt, torch_opt)


def test_rprop_step_size_rule_by_hand():
    """Same sign: step * 1.2; a flip: step * 0.5 and no move; a zero gradient: unchanged."""
    w = tg.tensor([1.0, 1.0, 1.0], dtype=tg.float64, requires_grad=True)
    opt = Rprop([w], lr=0.1)
    for grad in ([1.0, 1.0, 1.0], [2.0, -3.0, 0.0], [1.0, 1.0, 1.0]):
        w.grad = tg.tensor(grad, dtype=tg.float64)
        opt.step()
    state = opt.state[w]
    # element 0: steps 0.1, 0.12, 0.144; element 1: 0.1, flip (0.05, no move), then 0.05
    # (prev = 0 after a flip); element 2: 0.1, no move (step stays 0.1), then 0.1
    np.testing.assert_allclose(state["step_size"], [0.144, 0.05, 0.1])
    np.testing.assert_allclose(w.detach().numpy(), [1 - 0.364, 1 - 0.15, 1 - 0.2])
    np.testing.assert_array_equal(state["prev"], [1.0, 1.0, 1.0])


def test_asgd_average_is_the_mean_of_the_iterates_after_t0():
    """With lambd = 0 (constant eta) and t0 = 2, ax after step t is the mean of p_4 .. p_t:
    step t averages with mu = 1 / max(1, t - 1 - t0), set at the end of the step before."""
    w = tg.tensor([4.0], dtype=tg.float64, requires_grad=True)
    opt = ASGD([w], lr=0.1, lambd=0.0, t0=2)
    iterates = []
    for _ in range(8):
        w.grad = w.detach() * 2  # d(w^2)/dw
        opt.step()
        iterates.append(w.item())
    assert opt.state[w]["ax"][0] == pytest.approx(np.mean(iterates[3:]), rel=1e-12)
    assert opt.state[w]["eta"] == 0.1 and opt.state[w]["mu"] == pytest.approx(1 / 6)


# ----------------------------------------------------------------------------------------------
# state_dict
# ----------------------------------------------------------------------------------------------

STATE_KEYS = {"Rprop": ["prev", "step", "step_size"], "ASGD": ["ax", "eta", "mu", "step"]}
ROUND_TRIP = [
    ("Rprop", dict(lr=0.05, etas=(0.4, 1.3), maximize=False)),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=4, weight_decay=0.01)),
]


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_round_trip_mid_training_continues_identically(name, kwargs, tmp_path):
    data, init = make_problem(5)
    p1 = tg_params(init)
    opt1 = OURS[name](as_groups(p1, True, 0.005), **kwargs)
    train(opt1, p1, data, 0, 7)
    saved = opt1.state_dict()
    _assert_plain(saved)
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(saved["state"][0]) == STATE_KEYS[name]
    assert saved["state"][0]["step"] == 7 and saved["state"][3]["step"] == 3  # extra: 0, 3, 6
    tg.save(saved, tmp_path / "opt.pt")  # through the checkpoint format too
    loaded = tg.load(tmp_path / "opt.pt")

    p2 = tg_params({k: np.asarray(v.detach()).copy() for k, v in p1.items()})
    opt2 = OURS[name](as_groups(p2, True), lr=123.0)
    opt2.load_state_dict(loaded)
    assert [g["lr"] for g in opt2.param_groups] == [kwargs["lr"], 0.005]
    train(opt1, p1, data, 7, 8)
    train(opt2, p2, data, 7, 8)
    for k in SHAPES:
        np.testing.assert_array_equal(np.asarray(p1[k].detach()), np.asarray(p2[k].detach()))
    for p, q in zip(p1.values(), p2.values(), strict=True):
        for key in STATE_KEYS[name]:
            np.testing.assert_array_equal(opt1.state[p][key], opt2.state[q][key])


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_layout_matches_torch_and_torch_state_loads(name, kwargs):
    state_dict_layout_matches_torch(name, kwargs)


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------


def _w():
    return [tg.zeros(2, requires_grad=True)]


INVALID = [
    (lambda: Rprop(_w(), lr=-0.1), ValueError, "Rprop: invalid learning rate -0.1"),
    (lambda: Rprop(_w(), etas=(0.5, 0.9)), ValueError, "Rprop: invalid eta values 0.5, 0.9"),
    (lambda: Rprop(_w(), etas=(1.2, 0.5)), ValueError, "Rprop: invalid eta values 1.2, 0.5"),
    (lambda: Rprop(_w(), etas=(0.0, 1.2)), ValueError, "Rprop: invalid eta values 0.0, 1.2"),
    (lambda: Rprop(_w(), etas=0.5), ValueError, r"Rprop: etas \(etaminus, etaplus\) must be"),
    (lambda: Rprop(_w(), step_sizes=(1.0, 0.1)), ValueError, "Rprop: invalid step_sizes"),
    (lambda: Rprop(_w(), step_sizes=(-1.0, 0.1)), ValueError,
     r"Rprop: invalid step_sizes\[0\] -1.0"),
    (lambda: Rprop(_w(), lr="0.1"), TypeError, "Rprop: learning rate must be a real number"),
    (lambda: Rprop([], lr=0.1), ValueError, "Rprop: got an empty parameter list"),
    (lambda: ASGD(_w(), lr=-1.0), ValueError, "ASGD: invalid learning rate -1.0"),
    (lambda: ASGD(_w(), weight_decay=-0.1), ValueError, "ASGD: invalid weight_decay -0.1"),
    (lambda: ASGD(_w(), t0=None), TypeError, "ASGD: t0 must be a real number"),
    (lambda: ASGD(_w(), 0.01, 1e-4, 0.75, 1e6, 0, True), TypeError, "positional"),
    (lambda: ASGD(tg.zeros(2, requires_grad=True)), TypeError, "wrap it in a list"),
]


@pytest.mark.parametrize("make, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_arguments_raise_errors_naming_the_optimizer(make, error, message):
    with pytest.raises(error, match=message):
        make()


TORCH_INVALID = [
    (torch.optim.Rprop, dict(lr=-0.1)),
    (torch.optim.Rprop, dict(etas=(0.5, 0.9))),
    (torch.optim.Rprop, dict(etas=(1.2, 0.5))),
    (torch.optim.ASGD, dict(lr=-1.0)),
    (torch.optim.ASGD, dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("cls, kwargs", TORCH_INVALID,
                         ids=[f"{c.__name__}{k}" for c, k in TORCH_INVALID])
def test_torch_rejects_the_same_arguments(cls, kwargs):
    """The values rejected above are rejected by torch too (with a ValueError)."""
    with pytest.raises(ValueError):
        cls([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError):
        OURS[cls.__name__](_w(), **kwargs)


def test_defaults_are_torchs():
    for name in OURS:
        ours = OURS[name](_w()).defaults
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        for key, value in ours.items():
            assert theirs[key] == value, (name, key)


def test_repr_lists_the_hyperparameters():
    text = repr(Rprop(_w()))
    assert text.startswith("Rprop (") and "etas: (0.5, 1.2)" in text
    assert "t0: 1000000.0" in repr(ASGD(_w()))
