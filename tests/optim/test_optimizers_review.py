"""Review of ``tinygrad_edu.optim`` against ``torch.optim``, option by option.

Every optimizer gets the same float64 parameters and the same gradients as torch's, step by
step, for 40 steps, and must follow the same trajectory to ~1e-12. The parameters cover the
awkward cases of a real model: a matrix, a 0-d scalar, a vector that has no gradient on every
third step (it is skipped, its step count does not advance) and a matrix whose gradient is a
transposed, non-contiguous view. Gradients are random (not from a loss), so every coordinate
sees sign changes and every branch of the update rules runs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.optim import swa_utils

torch.set_num_threads(1)

SHAPES = [(3, 4), (), (5,), (4, 3)]
SKIPPED = 2      # this parameter has no gradient on steps 1, 4, 7, ...
STRIDED = 3      # this parameter's gradient is a transposed view
STEPS = 40
RTOL, ATOL = 1e-12, 1e-13


def gradients(steps: int, seed: int = 1, dtype=np.float64) -> list[list]:
    """One list of gradients (None for a skipped parameter) per step."""
    rng = np.random.default_rng(seed)
    out = []
    for step in range(steps):
        grads = []
        for i, shape in enumerate(SHAPES):
            if i == SKIPPED and step % 3 == 1:
                grads.append(None)
            elif i == STRIDED:
                grads.append(rng.standard_normal(shape[::-1]).astype(dtype).T)  # a view
            else:
                grads.append(rng.standard_normal(shape).astype(dtype))
        out.append(grads)
    return out


def initial(seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


def tg_params(values):
    return [tg.tensor(np.array(v), requires_grad=True) for v in values]


def torch_params(values):
    return [torch.tensor(np.array(v), requires_grad=True) for v in values]


def set_grads(params, grads) -> None:
    """Gradients as given (strided views stay strided on both sides)."""
    for p, g in zip(params, grads, strict=True):
        if g is None:
            p.grad = None
        elif isinstance(p, torch.Tensor):
            p.grad = torch.from_numpy(g)
        else:
            p.grad = tg.Tensor(g)  # Tensor(): keeps the array (and its strides) as it is


def as_groups(params, groups):
    """``groups``: None (one plain list) or dicts whose "params" are indices into params."""
    if groups is None:
        return list(params)
    return [dict(g, params=[params[i] for i in g["params"]]) for g in groups]


def numpy_of(p) -> np.ndarray:
    return p.detach().numpy() if isinstance(p, torch.Tensor) else np.asarray(p.data)


def assert_close(ours, theirs, what="", rtol=RTOL, atol=ATOL) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(numpy_of(a), numpy_of(b), rtol=rtol, atol=atol,
                                   err_msg=f"{what} parameter {i}")


@contextlib.contextmanager
def torch_float64_scalars(name: str):
    """torch keeps ASGD's eta and mu in 0-d tensors of its default dtype (float32): with a
    float64 default they are float64, like ours (see ASGD's docstring)."""
    old = torch.get_default_dtype()
    if name == "ASGD":
        torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def run_pair(name, kwargs, steps=STEPS, groups=None, grads=None, each_step=None):
    """Our optimizer and torch's side by side on the same parameters and gradients."""
    grads = gradients(steps) if grads is None else grads
    tp, pp = tg_params(initial()), torch_params(initial())
    with torch_float64_scalars(name):
        ours = getattr(optim, name)(as_groups(tp, groups), **kwargs)
        theirs = getattr(torch.optim, name)(as_groups(pp, groups), **kwargs)
        for step, g in enumerate(grads):
            set_grads(tp, g)
            set_grads(pp, g)
            ours.step()
            theirs.step()
            if each_step is not None:
                each_step(step, ours, theirs, tp, pp)
    return ours, theirs, tp, pp


def assert_same_state(ours, theirs, rtol=RTOL, atol=ATOL) -> None:
    """Same state keys per parameter (torch's layout) and the same values."""
    a, b = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert sorted(a) == sorted(b)
    for index, values in b.items():
        assert sorted(a[index]) == sorted(values), index
        for key, value in values.items():
            np.testing.assert_allclose(np.asarray(a[index][key], dtype=np.float64),
                                       np.asarray(value, dtype=np.float64), rtol=rtol,
                                       atol=atol, err_msg=f"state[{index}][{key!r}]")


# ----------------------------------------------------------------------------------------------
# Every option of every constructor, against torch
# ----------------------------------------------------------------------------------------------

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.2, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5), eps=1e-3)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, amsgrad=True, weight_decay=0.3, maximize=True, betas=(0.8, 0.9))),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.5, 0.6), eps=1e-2, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01, betas=(0.7, 0.8), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True, eps=1e-4)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-5, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-3, weight_decay=0.1, momentum=0.5,
                     centered=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-4, 1e-2), d=1.5, weight_decay=0.1,
                       maximize=True)),
]


def case_id(case) -> str:
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_and_state_match_torch(case):
    name, kwargs = case

    def compare(step, ours, theirs, tp, pp):
        if step % 10 == 9:
            assert_close(tp, pp, f"{name} step {step}")

    ours, theirs, tp, pp = run_pair(name, kwargs, each_step=compare)
    assert_close(tp, pp, name)
    assert_same_state(ours, theirs)
    assert not np.allclose(numpy_of(tp[0]), initial()[0])  # it went somewhere
    if "step" in ours.state[tp[0]]:  # the skipped parameter's step count did not advance
        assert ours.state[tp[SKIPPED]]["step"] == STEPS - len(range(1, STEPS, 3))


def test_sgd_momentum_buffer_of_a_0d_parameter_keeps_accumulating():
    """Regression: with maximize or weight decay the gradient of a 0-d parameter becomes a
    NumPy scalar (-g, g + wd p); the momentum buffer was a copy of that scalar, which the
    in-place ``buf *= momentum`` could not change, so it froze at the first gradient."""
    w = tg.tensor(np.float64(1.0), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.5, maximize=True)
    for g in (1.0, 1.0):
        w.grad = tg.tensor(np.float64(g))
        opt.step()
    buf = opt.state[w]["momentum_buffer"]
    assert isinstance(buf, np.ndarray) and buf.shape == ()
    assert float(buf) == -1.5                   # b2 = 0.5 * (-1) + (-1)
    assert w.item() == pytest.approx(1.0 + 0.1 + 0.15)


# ----------------------------------------------------------------------------------------------
# Parameter groups: different options per group, add_param_group, zero_grad
# ----------------------------------------------------------------------------------------------

GROUP_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9), [
        dict(params=[0, 1], nesterov=True), dict(params=[2, 3], lr=0.01, dampening=0.5,
                                                 weight_decay=0.1, maximize=True)]),
    ("Adam", dict(lr=0.01), [
        dict(params=[0, 2], amsgrad=True), dict(params=[1, 3], betas=(0.5, 0.7), lr=0.05,
                                                weight_decay=0.1, maximize=True)]),
    ("AdamW", dict(lr=0.01), [dict(params=[0, 1, 2], weight_decay=0.5), dict(params=[3])]),
    ("Adamax", dict(lr=0.01), [dict(params=[0]), dict(params=[1, 2, 3], betas=(0.5, 0.9))]),
    ("NAdam", dict(lr=0.01), [
        dict(params=[0, 1], momentum_decay=0.1),
        dict(params=[2, 3], weight_decay=0.1, decoupled_weight_decay=True)]),
    ("RAdam", dict(lr=0.01), [dict(params=[0, 1]), dict(params=[2, 3], betas=(0.5, 0.6))]),
    ("Adagrad", dict(lr=0.1), [dict(params=[0, 1], lr_decay=0.1), dict(params=[2, 3], eps=1e-3)]),
    ("Adadelta", dict(), [dict(params=[0, 1], rho=0.5), dict(params=[2, 3], lr=0.1)]),
    ("RMSprop", dict(lr=0.01), [
        dict(params=[0, 1], centered=True), dict(params=[2, 3], momentum=0.5, alpha=0.9)]),
    ("Rprop", dict(), [dict(params=[0, 1]), dict(params=[2, 3], etas=(0.4, 1.1), lr=0.1)]),
    ("ASGD", dict(lr=0.05), [dict(params=[0, 1], t0=3), dict(params=[2, 3], lambd=0.1)]),
    ("Adafactor", dict(), [dict(params=[0, 1], d=2.0), dict(params=[2, 3], beta2_decay=-0.3)]),
]


@pytest.mark.parametrize("name, kwargs, groups", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_with_different_options_match_torch(name, kwargs, groups):
    ours, theirs, tp, pp = run_pair(name, kwargs, steps=20, groups=groups)
    assert_close(tp, pp, name)
    assert_same_state(ours, theirs)
    ours_groups = ours.state_dict()["param_groups"]
    theirs_groups = theirs.state_dict()["param_groups"]
    assert [g["params"] for g in ours_groups] == [g["params"] for g in theirs_groups]
    for a, b in zip(ours_groups, theirs_groups, strict=True):
        assert {k: a[k] for k in a} == {k: b[k] for k in a}  # our keys, torch's values


def test_adagrad_uses_each_groups_initial_accumulator_value():
    """A documented difference: torch fills every ``sum`` with the constructor's
    initial_accumulator_value and ignores a group's own; we use the group's."""
    w, v = tg.zeros(2, requires_grad=True), tg.zeros(3, requires_grad=True)
    opt = optim.Adagrad([{"params": [w]}, {"params": [v], "initial_accumulator_value": 2.0}],
                        initial_accumulator_value=0.5)
    assert opt.state[w]["sum"].tolist() == [0.5, 0.5]
    assert opt.state[v]["sum"].tolist() == [2.0, 2.0, 2.0]


ALL = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad", "Adadelta", "RMSprop",
       "Rprop", "ASGD", "Adafactor"]
SOME_OPTIONS = {"SGD": dict(lr=0.1, momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True),
                "Adam": dict(amsgrad=True), "ASGD": dict(t0=2)}


@pytest.mark.parametrize("name", ALL)
def test_add_param_group_midway_matches_torch(name):
    """Parameters 2 and 3 join at step 5 with their own lr (a layer unfrozen midway)."""
    kwargs = SOME_OPTIONS.get(name, {})
    grads = gradients(15)
    tp, pp = tg_params(initial()), torch_params(initial())
    with torch_float64_scalars(name):
        ours = getattr(optim, name)(tp[:2], **kwargs)
        theirs = getattr(torch.optim, name)(pp[:2], **kwargs)
        for step, g in enumerate(grads):
            if step == 5:
                ours.add_param_group({"params": tp[2:], "lr": 0.003})
                theirs.add_param_group({"params": pp[2:], "lr": 0.003})
            n = 2 if step < 5 else 4
            set_grads(tp[:n], g[:n])
            set_grads(pp[:n], g[:n])
            ours.step()
            theirs.step()
    assert_close(tp, pp, name)
    assert_same_state(ours, theirs)
    assert ours.param_groups[1]["lr"] == 0.003
    assert set(ours.param_groups[1]) == set(ours.param_groups[0])  # defaults filled in


@pytest.mark.parametrize("name", ALL)
def test_zero_grad_set_to_none_false_matches_torch(name):
    """Zeroed (not None) gradients still step: momentum, decay and step counts go on."""
    kwargs = dict(SOME_OPTIONS.get(name, {}))
    if name not in ("Rprop", "Adafactor"):
        kwargs.setdefault("weight_decay", 0.1)
    grads = gradients(12)
    tp, pp = tg_params(initial()), torch_params(initial())
    with torch_float64_scalars(name):
        ours = getattr(optim, name)(tp, **kwargs)
        theirs = getattr(torch.optim, name)(pp, **kwargs)
        set_grads(tp, grads[0])
        set_grads(pp, grads[0])
        for step, g in enumerate(grads):
            ours.zero_grad(set_to_none=False)
            theirs.zero_grad(set_to_none=False)
            if step % 4 != 3:  # every 4th step the gradients stay zero
                for ps in (tp, pp):
                    for p, gi in zip(ps, g, strict=True):
                        if gi is not None:
                            p.grad.data[...] = gi if isinstance(p, tg.Tensor) else \
                                torch.from_numpy(np.ascontiguousarray(gi))
            ours.step()
            theirs.step()
    assert_close(tp, pp, name)
    assert_same_state(ours, theirs)
    assert all(p.grad is not None for p in tp)
    ours.zero_grad()
    assert all(p.grad is None for p in tp)  # set_to_none=True is the default, as in torch


# ----------------------------------------------------------------------------------------------
# state_dict: stop, save, load into a fresh optimizer, continue
# ----------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("Adamax", dict()),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("Adagrad", dict(lr_decay=0.1)),
    ("Adadelta", dict()),
    ("RMSprop", dict(momentum=0.5, centered=True)),
    ("Rprop", dict()),
    ("ASGD", dict(t0=5)),
    ("Adafactor", dict(weight_decay=0.1)),
]
TWO_GROUPS = [dict(params=[0, 1]), dict(params=[2, 3], lr=0.003)]


def train(opt, params, grads) -> None:
    for g in grads:
        set_grads(params, g)
        opt.step()


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP, ids=[case_id(c) for c in ROUND_TRIP])
def test_state_dict_round_trip_mid_training_continues_bit_for_bit(name, kwargs):
    grads = gradients(30)
    reference = tg_params(initial())
    train(getattr(optim, name)(as_groups(reference, TWO_GROUPS), **kwargs), reference, grads)

    first = tg_params(initial())
    opt = getattr(optim, name)(as_groups(first, TWO_GROUPS), **kwargs)
    train(opt, first, grads[:13])
    saved = opt.state_dict()
    at_13 = {i: {k: np.array(v) for k, v in values.items()} for i, values in
             saved["state"].items()}
    # a fresh optimizer with other hyper-parameters: the checkpoint's replace them
    second = tg_params([numpy_of(p) for p in first])
    second_opt = getattr(optim, name)(as_groups(second, TWO_GROUPS), lr=123.0)
    second_opt.load_state_dict(saved)
    assert [g["lr"] for g in second_opt.param_groups] == [opt.param_groups[0]["lr"], 0.003]
    train(opt, first, grads[13:16])
    train(second_opt, second, grads[13:])
    for a, b in zip(reference, second, strict=True):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))
    # the saved dict is a copy: neither optimizer's training on changed it
    for index, values in saved["state"].items():
        for key, value in values.items():
            np.testing.assert_array_equal(np.asarray(value), at_13[index][key])


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP, ids=[case_id(c) for c in ROUND_TRIP])
def test_torch_checkpoint_loads_and_training_continues_like_torch(name, kwargs):
    grads = gradients(30)
    pp = torch_params(initial())
    with torch_float64_scalars(name):
        theirs = getattr(torch.optim, name)(as_groups(pp, TWO_GROUPS), **kwargs)
        train(theirs, pp, grads[:13])
        tp = tg_params([numpy_of(p) for p in pp])
        ours = getattr(optim, name)(as_groups(tp, TWO_GROUPS), **kwargs)
        ours.load_state_dict(theirs.state_dict())
        train(theirs, pp, grads[13:])
    train(ours, tp, grads[13:])
    assert_close(tp, pp, name)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP, ids=[case_id(c) for c in ROUND_TRIP])
def test_our_checkpoint_loads_into_torch_which_continues_like_us(name, kwargs):
    """The layout is torch's: torch takes our state dict (arrays wrapped as tensors)."""
    grads = gradients(25)
    tp = tg_params(initial())
    with torch_float64_scalars(name):
        ours = getattr(optim, name)(as_groups(tp, TWO_GROUPS), **kwargs)
        train(ours, tp, grads[:11])
        saved = ours.state_dict()
        saved["state"] = {i: {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                              for k, v in values.items()} for i, values in saved["state"].items()}
        pp = torch_params([numpy_of(p) for p in tp])
        theirs = getattr(torch.optim, name)(as_groups(pp, TWO_GROUPS))
        theirs.load_state_dict(saved)
        train(theirs, pp, grads[11:])
    train(ours, tp, grads[11:])
    assert_close(tp, pp, name)


def test_checkpoint_without_newer_options_loads_with_their_defaults_like_torch():
    """A checkpoint written before an option existed (no "maximize", "foreach", ...): torch
    fills those in with its defaults, and so do we."""
    grads = gradients(12)
    pp = torch_params(initial())
    theirs = torch.optim.Adam(pp, lr=0.01, amsgrad=True)
    train(theirs, pp, grads[:5])
    old = theirs.state_dict()
    for group in old["param_groups"]:
        for key in ("maximize", "foreach", "capturable", "differentiable", "fused",
                    "decoupled_weight_decay"):
            del group[key]
    tp = tg_params([numpy_of(p) for p in pp])
    ours = optim.Adam(tp)
    ours.load_state_dict(old)
    theirs.load_state_dict(old)
    assert ours.param_groups[0]["maximize"] is False and ours.param_groups[0]["amsgrad"]
    train(ours, tp, grads[5:])
    train(theirs, pp, grads[5:])
    assert_close(tp, pp, "Adam")


def test_state_dict_layout_like_torch_before_and_without_state():
    """SGD without momentum keeps no state (torch's dict is empty, so is ours); Adagrad makes
    its state in the constructor, so even a parameter that never had a gradient is listed."""
    for lib, ps in ((optim, tg_params(initial())), (torch.optim, torch_params(initial()))):
        sgd = lib.SGD(ps, lr=0.1)
        set_grads(ps, gradients(1)[0])
        sgd.step()
        assert sgd.state_dict()["state"] == {}
        adagrad = lib.Adagrad(ps, lr=0.1, initial_accumulator_value=0.25)
        state = adagrad.state_dict()["state"]
        assert sorted(state) == [0, 1, 2, 3]
        assert float(state[0]["step"]) == 0
        np.testing.assert_array_equal(np.asarray(state[3]["sum"]), np.full((4, 3), 0.25))


def test_load_state_dict_errors():
    opt = optim.Adam(tg_params(initial()))
    with pytest.raises(ValueError, match="Adam: the state dict has 2 parameter group"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match="parameter group 0 has 4 parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}]})
    with pytest.raises(ValueError, match="expects a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"param_groups": []})


# ----------------------------------------------------------------------------------------------
# torch's implementation switches: foreach, fused, capturable, differentiable
# ----------------------------------------------------------------------------------------------

FLAGS = {
    "SGD": ("foreach", "differentiable", "fused"),
    "Adam": ("foreach", "capturable", "differentiable", "fused"),
    "AdamW": ("foreach", "capturable", "differentiable", "fused"),
    "Adamax": ("foreach", "capturable", "differentiable"),
    "NAdam": ("foreach", "capturable", "differentiable"),
    "RAdam": ("foreach", "capturable", "differentiable"),
    "Adagrad": ("foreach", "differentiable", "fused"),
    "Adadelta": ("foreach", "capturable", "differentiable"),
    "RMSprop": ("foreach", "capturable", "differentiable"),
    "Rprop": ("foreach", "capturable", "differentiable"),
    "ASGD": ("foreach", "capturable", "differentiable"),
    "Adafactor": ("foreach",),
}


@pytest.mark.parametrize("name", list(FLAGS))
def test_torch_implementation_flags_are_accepted_or_refused_clearly(name):
    flags = FLAGS[name]
    # the same keywords as torch's constructor: torch takes them too
    getattr(torch.optim, name)(torch_params(initial()), **{f: False for f in flags})
    # foreach / fused choose torch's loop; here they change nothing
    grads = gradients(5)
    plain = tg_params(initial())
    train(getattr(optim, name)(plain), plain, grads)
    for value in (True, False, None):
        for flag in ("foreach", "fused"):
            if flag in flags:
                ps = tg_params(initial())
                train(getattr(optim, name)(ps, **{flag: value}), ps, grads)
                for a, b in zip(plain, ps, strict=True):
                    np.testing.assert_array_equal(numpy_of(a), numpy_of(b))
    for flag in ("capturable", "differentiable"):
        if flag in flags:
            getattr(optim, name)(tg_params(initial()), **{flag: False})
            with pytest.raises(NotImplementedError, match=f"{name}: {flag}=True"):
                getattr(optim, name)(tg_params(initial()), **{flag: True})
    if "fused" in flags:
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True`"):
            getattr(torch.optim, name)(torch_params(initial()), fused=True, foreach=True)
        with pytest.raises(RuntimeError, match=f"{name}: `fused` and `foreach` cannot"):
            getattr(optim, name)(tg_params(initial()), fused=True, foreach=True)
    # and the switches are not hyper-parameters of ours: the groups do not carry them
    assert not set(flags) - {"foreach"} & set(getattr(optim, name)(plain).param_groups[0])


# ----------------------------------------------------------------------------------------------
# Invalid hyper-parameters: the exception type torch raises, with the optimizer's name
# ----------------------------------------------------------------------------------------------

INVALID = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1e-3)), ("Adam", dict(eps=-1e-8)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, 1.0))), ("Adam", dict(betas=(-0.1, 0.999))),
    ("Adam", dict(weight_decay=-0.1)), ("AdamW", dict(betas=(0.9, 1.5))),
    ("AdamW", dict(weight_decay=-0.1)), ("Adamax", dict(betas=(0.9, -0.1))),
    ("Adamax", dict(eps=-1.0)), ("NAdam", dict(momentum_decay=-1.0)),
    ("NAdam", dict(betas=(1.0, 0.9))), ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(weight_decay=-1.0)), ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)), ("Adagrad", dict(eps=-1.0)),
    ("Adadelta", dict(rho=1.01)), ("Adadelta", dict(rho=-0.01)), ("Adadelta", dict(lr=-1.0)),
    ("RMSprop", dict(alpha=-0.1)), ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(eps=-1.0)), ("Rprop", dict(etas=(1.0, 1.2))),
    ("Rprop", dict(etas=(0.5, 1.0))), ("Rprop", dict(lr=-0.01)),
    ("ASGD", dict(lr=-0.01)), ("ASGD", dict(weight_decay=-0.1)),
    ("LBFGS", dict(lr=-1.0)), ("Adafactor", dict(lr=-0.01)),
    ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(eps=(-1e-30, 1e-3))),
    ("Adafactor", dict(eps=(None, -1e-3))), ("Adafactor", dict(d=0.5)),
    ("Adafactor", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", INVALID, ids=[case_id(c) for c in INVALID])
def test_invalid_hyperparameters_raise_what_torch_raises(name, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(torch.optim, name)(torch_params(initial()), **kwargs)
    with pytest.raises(type(theirs.value), match=f"^{name}: "):
        getattr(optim, name)(tg_params(initial()), **kwargs)


def test_parameter_list_errors():
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(tg.zeros(2, requires_grad=True), lr=0.1)
    w = tg.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="LBFGS: doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [tg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError):  # torch refuses it too
        torch.optim.LBFGS([{"params": [torch.zeros(1, requires_grad=True)]},
                           {"params": [torch.zeros(1, requires_grad=True)]}])


# ----------------------------------------------------------------------------------------------
# NAdam's mu_product follows the default dtype, as torch's does
# ----------------------------------------------------------------------------------------------


def test_nadam_mu_product_is_float64_under_a_float64_default_dtype_like_torch():
    old_tg, old_torch = tg.get_default_dtype(), torch.get_default_dtype()
    tg.set_default_dtype(np.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours, theirs, tp, pp = run_pair("NAdam", dict(lr=0.05, momentum_decay=0.05), steps=20)
    finally:
        tg.set_default_dtype(old_tg)
        torch.set_default_dtype(old_torch)
    assert_close(tp, pp, "NAdam", rtol=1e-13, atol=1e-14)
    mu = ours.state[tp[0]]["mu_product"]
    assert mu == float(theirs.state[pp[0]]["mu_product"])
    assert mu != float(np.float32(mu))  # not rounded to float32 any more


# ----------------------------------------------------------------------------------------------
# float32: dtypes kept, torch tracked, the Numba Adam kernel equal to the reference lines
# ----------------------------------------------------------------------------------------------

FLOAT32_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adam", dict(amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict()),
    ("Adamax", dict(weight_decay=0.1, maximize=True)),
    ("NAdam", dict(weight_decay=0.1, maximize=True)),
    ("RAdam", dict(weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(weight_decay=0.1, maximize=True)),
    ("Adadelta", dict(weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(maximize=True)),
    ("ASGD", dict(t0=5, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("name, kwargs", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_float32_parameters_and_state_stay_float32_arrays_and_track_torch(name, kwargs):
    grads = gradients(20, dtype=np.float32)
    tp, pp = tg_params(initial(dtype=np.float32)), torch_params(initial(dtype=np.float32))
    ours = getattr(optim, name)(tp, **kwargs)
    theirs = getattr(torch.optim, name)(pp, **kwargs)
    train(ours, tp, grads)
    train(theirs, pp, grads)
    assert_close(tp, pp, name, rtol=1e-5, atol=1e-5)
    for p in tp:
        assert p.data.dtype == np.float32
        for key, value in ours.state[p].items():
            if key not in ("step", "eta", "mu", "mu_product"):
                assert isinstance(value, np.ndarray) and value.dtype == np.float32, key
                assert value.shape == p.shape or name == "Adafactor", key


ADAM_KERNEL_CASES = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5), amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, kwargs", ADAM_KERNEL_CASES,
                         ids=[case_id(c) for c in ADAM_KERNEL_CASES])
def test_adam_numba_kernel_equals_the_reference_bit_for_bit(name, kwargs, dtype):
    """0-d parameters, strided gradients and skipped steps included."""
    grads = gradients(25, dtype=dtype)

    def run(kernel):
        ps = tg_params(initial(dtype=dtype))
        opt = getattr(optim, name)(ps, **kwargs)
        for g in grads:
            set_grads(ps, g)
            with tg.use_kernel(kernel):
                opt.step()
        return ps, opt

    (a, opt_a), (b, opt_b) = run("numba"), run("reference")
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(numpy_of(p), numpy_of(q))
        assert p.data.dtype == dtype
    for p, q in zip(a, b, strict=True):
        for key in opt_a.state[p]:
            np.testing.assert_array_equal(opt_a.state[p][key], opt_b.state[q][key])


# ----------------------------------------------------------------------------------------------
# LBFGS: fixed step and strong Wolfe, every option, against torch
# ----------------------------------------------------------------------------------------------

LBFGS_CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.01),
    dict(lr=0.05, max_iter=5),
    dict(lr=0.5, line_search_fn="strong_wolfe", history_size=3),
    dict(max_iter=7, max_eval=9, line_search_fn="strong_wolfe"),
    dict(max_iter=50, line_search_fn="strong_wolfe", tolerance_grad=1e-5,
         tolerance_change=1e-6),
    dict(max_eval=1, line_search_fn="strong_wolfe"),
    dict(max_eval=2, line_search_fn="strong_wolfe"),
    dict(max_iter=3, max_eval=100, lr=0.001, history_size=1),
    dict(max_iter=100, line_search_fn="strong_wolfe", history_size=2),
    dict(lr=10.0, line_search_fn="strong_wolfe", max_iter=4),
    dict(tolerance_grad=10.0),                    # already "optimal": returns at once
    dict(tolerance_change=1.0, max_iter=30),      # stops early on small changes
]


def lbfgs_problem(lib, seed=0):
    """A strongly convex, non-quadratic function of a vector ``x`` and a 0-d ``s``, plus a
    parameter ``z`` it does not use (its gradient stays None: zeros in the flat gradient).
    Well conditioned, so rounding differences do not grow along the trajectory."""
    rng = np.random.default_rng(seed)
    A, b = rng.standard_normal((6, 5)), rng.standard_normal(6)
    x = lib.tensor(rng.standard_normal(5), requires_grad=True)
    s = lib.tensor(np.float64(rng.standard_normal()), requires_grad=True)
    z = lib.tensor(np.ones(2), requires_grad=True)

    def loss():
        r = lib.tensor(A) @ x - lib.tensor(b) + s
        return (r * r).sum() * 0.5 + 0.1 * (x ** 4).sum() + 0.3 * s * s

    return [x, z, s], loss


def lbfgs_pair(kwargs):
    sides = []
    for lib, lib_optim in ((tg, optim), (torch, torch.optim)):
        params, loss = lbfgs_problem(lib)
        opt = lib_optim.LBFGS(params, **kwargs)

        def closure(opt=opt, loss=loss):
            opt.zero_grad()
            value = loss()
            value.backward()
            return value

        sides.append((params, opt, closure))
    return sides


@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=str)
def test_lbfgs_matches_torch(kwargs):
    (tp, ours, tcl), (pp, theirs, pcl) = lbfgs_pair(kwargs)
    for _ in range(4):
        a, b = ours.step(tcl), theirs.step(pcl)
        assert float(a) == pytest.approx(float(b.detach()), rel=1e-12, abs=1e-13)
        assert_close(tp, pp, "LBFGS", rtol=1e-11, atol=1e-12)
    st, sp = ours.state[tp[0]], theirs.state[pp[0]]
    assert (st["func_evals"], st["n_iter"]) == (sp["func_evals"], sp["n_iter"])
    assert len(st.get("old_dirs", [])) == len(sp.get("old_dirs", []))
    assert numpy_of(tp[1]).tolist() == [1.0, 1.0]  # no gradient: never moved


def test_lbfgs_state_dict_round_trip_continues_bit_for_bit():
    kwargs = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4)
    (ref, ref_opt, ref_cl), _ = lbfgs_pair(kwargs)
    for _ in range(6):
        ref_opt.step(ref_cl)
    (first, opt, cl), _ = lbfgs_pair(kwargs)
    for _ in range(3):
        opt.step(cl)
    saved = opt.state_dict()
    (second, opt2, cl2), _ = lbfgs_pair(dict(kwargs, history_size=50))
    for p, q in zip(second, first, strict=True):
        p.data[...] = q.data
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["history_size"] == 3
    for _ in range(3):
        opt2.step(cl2)
    for a, b in zip(ref, second, strict=True):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))


def test_lbfgs_continues_from_a_torch_checkpoint_like_torch():
    kwargs = dict(line_search_fn="strong_wolfe", history_size=4, max_iter=3)
    (tp, ours, tcl), (pp, theirs, pcl) = lbfgs_pair(kwargs)
    for _ in range(2):
        theirs.step(pcl)
    for p, q in zip(tp, pp, strict=True):
        p.data[...] = q.detach().numpy()
    ours.load_state_dict(theirs.state_dict())
    for _ in range(3):
        ours.step(tcl)
        theirs.step(pcl)
        assert_close(tp, pp, "LBFGS", rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# swa_utils
# ----------------------------------------------------------------------------------------------


def bn_models():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model.to(tg.float64)
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                      torch.nn.Linear(4, 2)).double()
    torch_model.load_state_dict({k: torch.tensor(np.asarray(v))
                                 for k, v in model.state_dict().items()})
    return model, torch_model


def assert_same_module_state(ours, theirs, atol=1e-12):
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in b:
        np.testing.assert_allclose(np.asarray(a[key], dtype=np.float64),
                                   b[key].double().numpy(), atol=atol, rtol=0, err_msg=key)
        assert np.asarray(a[key]).dtype.kind == b[key].numpy().dtype.kind, key


@pytest.mark.parametrize("avg", ["swa", "ema", "ema_multi"])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_averaged_model_with_batchnorm_matches_torch(avg, use_buffers):
    """Buffers averaged (use_buffers, the int64 num_batches_tracked included) or copied."""
    rng = np.random.default_rng(3)
    model, torch_model = bn_models()
    kw, torch_kw = {}, {}
    if avg == "ema":
        kw["avg_fn"] = swa_utils.get_ema_avg_fn(0.6)
        torch_kw["avg_fn"] = torch.optim.swa_utils.get_ema_avg_fn(0.6)
    elif avg == "ema_multi":
        kw["multi_avg_fn"] = swa_utils.get_ema_multi_avg_fn(0.6)
        torch_kw["multi_avg_fn"] = torch.optim.swa_utils.get_ema_multi_avg_fn(0.6)
    ours = swa_utils.AveragedModel(model, use_buffers=use_buffers, **kw)
    theirs = torch.optim.swa_utils.AveragedModel(torch_model, use_buffers=use_buffers,
                                                 **torch_kw)
    for _ in range(5):
        x = rng.standard_normal((6, 3))
        model(tg.tensor(x))                   # train mode: the BN statistics move
        torch_model(torch.tensor(x))
        shift = [rng.standard_normal(p.shape) * 0.2 for p in model.parameters()]
        with torch.no_grad():
            for p, q, d in zip(model.parameters(), torch_model.parameters(), shift,
                               strict=True):
                p.data[...] += d
                q += torch.from_numpy(d)
        ours.update_parameters(model)
        theirs.update_parameters(torch_model)
        assert_same_module_state(ours, theirs)
    assert int(ours.n_averaged.item()) == 5


def test_update_bn_matches_torch_and_restores_modes():
    rng = np.random.default_rng(4)
    model, torch_model = bn_models()
    model[1].momentum = torch_model[1].momentum = 0.3
    batches = [rng.standard_normal((n, 3)) for n in (7, 4, 9)]
    model.eval()
    torch_model.eval()
    swa_utils.update_bn([[tg.tensor(x), None] for x in batches], model)
    torch.optim.swa_utils.update_bn([[torch.tensor(x), None] for x in batches], torch_model)
    assert_same_module_state(model, torch_model)
    assert model[1].momentum == 0.3 and not model.training and not model[1].training


@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_swalr_after_another_scheduler_matches_torch(anneal_strategy):
    """SWALR recovers its start lr from the current one: chained after a decay, it anneals
    from wherever that decay left the lr."""
    sides = []
    for lib, lib_optim in ((tg, optim), (torch, torch.optim)):
        opt = lib_optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.5, momentum=0.9)
        sides.append((opt, lib_optim.lr_scheduler.ExponentialLR(opt, gamma=0.8),
                      lib_optim.swa_utils))
    lrs = [[], []]
    for i, (opt, decay, swa) in enumerate(sides):
        swa_sched = None
        for epoch in range(12):
            opt.step()
            if epoch < 4:
                decay.step()
            else:
                if swa_sched is None:
                    swa_sched = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=3,
                                          anneal_strategy=anneal_strategy)
                swa_sched.step()
            lrs[i].append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-14)
    assert lrs[0][-1] == pytest.approx(0.05)
