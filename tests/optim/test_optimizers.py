"""Optimizers vs torch.optim: the same problem, the same start, 50 steps, the same trajectory.

The problem is a small non-linear least squares, written once with tinygrad_edu ops and once
with torch ops, so each side computes its own gradients:

    loss = mean((tanh(X @ W + b) @ V - Y) ** 2)  [+ 0.1 * sum(extra ** 2) on every 3rd step]

``extra`` gets no gradient on the other steps, which checks that parameters whose ``.grad`` is
None are skipped exactly as torch skips them (their step counts do not advance).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn, optim

torch.set_num_threads(1)

STEPS = 50
ATOL = 1e-10
RTOL = 1e-9  # float64 trajectories agree to ~1e-12; this leaves room for other BLAS builds

SHAPES = {"W": (5, 4), "b": (4,), "V": (4, 2), "extra": (3,)}


def make_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    data = {"X": rng.standard_normal((16, 5)), "Y": rng.standard_normal((16, 2))}
    init = {name: rng.standard_normal(shape) * 0.5 for name, shape in SHAPES.items()}
    return data, init


def tg_params(init, device="cpu", dtype=np.float64):
    # .copy(): tg.tensor shares a NumPy array's memory, and the optimizer updates in place
    return {k: tg.tensor(v.astype(dtype).copy(), device=device, requires_grad=True)
            for k, v in init.items()}


def torch_params(init, dtype=np.float64):
    return {k: torch.tensor(v.astype(dtype), requires_grad=True) for k, v in init.items()}


def tg_loss(p, data, step, device="cpu"):
    X = tg.tensor(data["X"].astype(p["W"].dtype), device=device)
    Y = tg.tensor(data["Y"].astype(p["W"].dtype), device=device)
    loss = (((X @ p["W"] + p["b"]).tanh() @ p["V"] - Y) ** 2).mean()
    if step % 3 == 0:
        loss = loss + (p["extra"] ** 2).sum() * 0.1
    return loss


def torch_loss(p, data, step):
    X = torch.tensor(data["X"], dtype=p["W"].dtype)
    Y = torch.tensor(data["Y"], dtype=p["W"].dtype)
    loss = ((torch.tanh(X @ p["W"] + p["b"]) @ p["V"] - Y) ** 2).mean()
    if step % 3 == 0:
        loss = loss + (p["extra"] ** 2).sum() * 0.1
    return loss


def as_groups(p, split_groups: bool, lr2: float | None = None):
    """One group, or two groups where the second (V, extra) has its own lr."""
    if not split_groups:
        return [p["W"], p["b"], p["V"], p["extra"]]
    second = {"params": [p["V"], p["extra"]]}
    if lr2 is not None:
        second["lr"] = lr2
    return [{"params": [p["W"], p["b"]]}, second]


def assert_same_params(tp, pp, step, atol=ATOL, rtol=RTOL):
    for name in SHAPES:
        np.testing.assert_allclose(
            np.asarray(tp[name].detach()), pp[name].detach().numpy(), atol=atol, rtol=rtol,
            err_msg=f"parameter {name} after step {step}",
        )


def train_side_by_side(tg_opt, torch_opt, tp, pp, data, steps, start=0, device="cpu",
                       set_to_none=True, atol=ATOL, rtol=RTOL):
    for step in range(start, start + steps):
        tg_opt.zero_grad(set_to_none=set_to_none)
        torch_opt.zero_grad(set_to_none=set_to_none)
        tg_loss(tp, data, step, device).backward()
        torch_loss(pp, data, step).backward()
        tg_opt.step()
        torch_opt.step()
        assert_same_params(tp, pp, step, atol, rtol)


# (tinygrad_edu class, torch class, keyword arguments) for every important option combination
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-6)),
    ("Adagrad", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6, centered=True, momentum=0.5,
                     weight_decay=0.01)),
    ("RMSprop", dict(lr=0.001, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),
]


def case_id(case):
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_matches_torch(case, device):
    name, kwargs = case
    data, init = make_problem()
    tp, pp = tg_params(init, device), torch_params(init)
    tg_opt = getattr(optim, name)(as_groups(tp, False), **kwargs)
    torch_opt = getattr(torch.optim, name)(as_groups(pp, False), **kwargs)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, STEPS, device=device)
    # the trajectory went somewhere: parameters moved away from the start
    assert not np.allclose(np.asarray(tp["W"].detach()), init["W"])


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adagrad", dict(lr=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
])
def test_param_groups_with_different_lrs(name, kwargs):
    data, init = make_problem(1)
    tp, pp = tg_params(init), torch_params(init)
    lr2 = kwargs["lr"] * 0.3
    tg_opt = getattr(optim, name)(as_groups(tp, True, lr2), **kwargs)
    torch_opt = getattr(torch.optim, name)(as_groups(pp, True, lr2), **kwargs)
    assert [g["lr"] for g in tg_opt.param_groups] == [kwargs["lr"], lr2]
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, STEPS)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
])
def test_zero_grad_set_to_none_false_matches_torch(name, kwargs):
    """With zeroed (not None) gradients, `extra` keeps moving through momentum/decay."""
    data, init = make_problem(2)
    tp, pp = tg_params(init), torch_params(init)
    tg_opt = getattr(optim, name)(as_groups(tp, False), **kwargs)
    torch_opt = getattr(torch.optim, name)(as_groups(pp, False), **kwargs)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 20, set_to_none=False)
    assert tp["extra"].grad is not None


def test_add_param_group_midway_matches_torch():
    data, init = make_problem(3)
    tp, pp = tg_params(init), torch_params(init)
    tg_opt = optim.Adam([tp["W"], tp["b"]], lr=0.01)
    torch_opt = torch.optim.Adam([pp["W"], pp["b"]], lr=0.01)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 10)
    tg_opt.add_param_group({"params": [tp["V"], tp["extra"]], "lr": 0.002})
    torch_opt.add_param_group({"params": [pp["V"], pp["extra"]], "lr": 0.002})
    assert tg_opt.param_groups[1]["betas"] == (0.9, 0.999)  # filled in from the defaults
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 20, start=10)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_float32_parameters_stay_float32_and_track_torch(name):
    data, init = make_problem(4)
    tp, pp = tg_params(init, dtype=np.float32), torch_params(init, dtype=np.float32)
    kwargs = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01, amsgrad=True)
    tg_opt = getattr(optim, name)(as_groups(tp, False), **kwargs)
    torch_opt = getattr(torch.optim, name)(as_groups(pp, False), **kwargs)
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 20, atol=1e-5, rtol=1e-4)
    for p in tp.values():
        assert p.dtype == np.float32
    for state in tg_opt.state.values():
        for value in state.values():
            if hasattr(value, "dtype"):
                assert value.dtype == np.float32


def _step_cast_step(lib_nn, lib_optim, name, kwargs):
    """A Linear(3, 2) with fixed weights: one step in float32, then model.double() with the
    optimizer's state made in float32, then one more step (or its error)."""
    rng = np.random.default_rng(7)
    w, b, x = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal((4, 3))
    lib = tg if lib_nn is nn else torch
    model = lib_nn.Linear(3, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(w, dtype=lib.float32))
        model.bias.copy_(lib.tensor(b, dtype=lib.float32))
    opt = getattr(lib_optim, name)(model.parameters(), **kwargs)
    model(lib.tensor(x, dtype=lib.float32)).square().sum().backward()
    opt.step()
    opt.zero_grad()
    model.double()
    model(lib.tensor(x, dtype=lib.float64)).square().sum().backward()
    return model, opt


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_state_made_before_model_double_is_an_error_like_torch(name):
    """torch 2.13's Adam raises ("expected dtype float for `end` but got dtype double") when
    the model is cast after its first step; before, ours went on silently with float32 moments
    for a float64 weight. We raise too, naming the cause and the fix."""
    model, opt = _step_cast_step(nn, optim, name, dict(lr=0.1))
    with pytest.raises(RuntimeError, match=rf"{name}: a parameter of shape \(2, 3\) is float64 "
                                           r"but its state \(exp_avg\) is float32"):
        opt.step()
    _, torch_opt = _step_cast_step(torch.nn, torch.optim, name, dict(lr=0.1))
    with pytest.raises(RuntimeError, match="expected dtype float"):
        torch_opt.step()
    opt.load_state_dict(opt.state_dict())  # the fix the message names: the state is cast
    opt.step()
    assert opt.state[model.weight]["exp_avg"].dtype == np.float64


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.9)),
                                          ("Adagrad", dict(lr=0.1))])
def test_other_optimizers_keep_float32_state_after_model_double_like_torch(name, kwargs):
    """torch 2.13 goes on with these (its momentum buffer, square_avg and sum stay float32 and
    update the float64 weight), so we do the same, to the same numbers."""
    model, opt = _step_cast_step(nn, optim, name, kwargs)
    torch_model, torch_opt = _step_cast_step(torch.nn, torch.optim, name, kwargs)
    opt.step()
    torch_opt.step()
    for p, q in zip(model.parameters(), torch_model.parameters()):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)
    for key, value in torch_opt.state[torch_model.weight].items():
        if key != "step":
            assert opt.state[model.weight][key].dtype == np.float32 == value.numpy().dtype


# Adam's update on NumPy arrays runs the Numba kernel of kernels/cpu/optim.py under the kernel
# settings "auto" and "numba", the reference lines of kernels/reference/optim.py under
# "reference": both must give the same bits (the trajectories above vs torch use "auto").
ADAM_KERNEL_CASES = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
]


def train_under_kernel(kernel, name, kwargs, init, data, dtype, steps=6):
    """Parameters and optimizer state after ``steps`` steps whose updates run under
    ``use_kernel(kernel)`` (the gradients are computed outside it, the same on both sides)."""
    tp = tg_params(init, dtype=dtype)
    opt = getattr(optim, name)(as_groups(tp, False), **kwargs)
    for step in range(steps):
        opt.zero_grad()
        tg_loss(tp, data, step).backward()
        with tg.use_kernel(kernel):
            opt.step()
    state = [value for s in opt.state.values() for value in s.values()
             if isinstance(value, np.ndarray)]
    return [np.asarray(tp[k].detach()) for k in SHAPES] + state


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", ADAM_KERNEL_CASES, ids=[case_id(c) for c in ADAM_KERNEL_CASES])
def test_adam_numba_kernel_gives_the_bits_of_the_reference_lines(case, dtype):
    name, kwargs = case
    data, init = make_problem(7)
    expected = train_under_kernel("reference", name, kwargs, init, data, dtype)
    for kernel in ("numba", "auto"):
        got = train_under_kernel(kernel, name, kwargs, init, data, dtype)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert a.dtype == dtype and np.array_equal(a, b), kernel


def test_adam_picks_the_numba_kernel_only_where_it_applies():
    from tinygrad_edu.kernels.cpu import optim as cpu_optim

    from tinygrad_edu.optim.adam import _numba_adam_step

    p, g, m, v = (np.zeros((3, 4), np.float32) for _ in range(4))
    kernel = cpu_optim.adam_step_unchecked  # the optimizer has checked the arrays already
    assert _numba_adam_step(p, g, m, v, None)[0] is kernel  # "auto" on the CPU
    with tg.use_kernel("numba"):
        assert _numba_adam_step(p, g, m, v, m.copy())[0] is kernel
    with tg.use_kernel("reference"):
        assert _numba_adam_step(p, g, m, v, None)[0] is None
    assert _numba_adam_step(p.T, g.T, m.T, v.T, None)[0] is None  # a strided parameter
    assert _numba_adam_step(*(a.astype(np.float16) for a in (p, g, m, v)), None)[0] is None
    picked, contiguous_g = _numba_adam_step(p, g.T.copy().T, m, v, None)  # strided gradient
    assert picked is kernel and contiguous_g.flags.c_contiguous


def test_adam_with_strided_parameters_and_gradients_matches_the_reference():
    """A parameter made from a transposed array (strided: the reference lines update it) and a
    weight used transposed (its gradient is strided: copied, then the kernel runs)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w0, u0 = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((5, 3))

    def train(kernel):
        w = nn.Parameter(w0.copy())                         # used as w.T: strided gradient
        u = nn.Parameter(u0.astype(np.float32).T.copy().T)  # strided parameter
        assert not u.data.flags.c_contiguous
        opt = optim.AdamW([w, u], lr=0.05, amsgrad=True)
        for _ in range(4):
            opt.zero_grad()
            h = (tg.tensor(x) @ w.T).tanh()  # (6, 4)
            loss = (h.sum(1, keepdim=True) * (tg.tensor(x) @ u)).sum()
            loss.backward()
            assert not w.grad.data.flags.c_contiguous
            with tg.use_kernel(kernel):
                opt.step()
        return w.detach().numpy(), u.detach().numpy()

    for a, b in zip(train("numba"), train("reference")):
        assert np.array_equal(a, b)


def test_parameter_without_grad_is_untouched_and_has_no_state():
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    frozen = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True)
    opt = optim.Adam([w, frozen], lr=0.1, weight_decay=0.5)
    (w * w).sum().backward()
    opt.step()
    assert frozen.tolist() == [3.0, 4.0]
    assert frozen not in opt.state and w in opt.state
    assert opt.state[w]["step"] == 1


def test_step_returns_closure_loss_and_runs_it_with_grad_enabled():
    w = tg.tensor([1.0, -1.0], dtype=tg.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    seen = {}

    def closure():
        seen["grad_enabled"] = tg.is_grad_enabled()
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert seen["grad_enabled"] is True
    assert loss.item() == 2.0
    assert w.tolist() == [0.0, 0.0]                 # w - 0.5 * 2 w
    assert opt.step() is None


def test_zero_grad_does_not_write_into_a_shared_gradient_array():
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    upstream = np.array([5.0, 6.0])
    w.backward(upstream)  # the leaf's .grad may share this array
    opt = optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    assert upstream.tolist() == [5.0, 6.0]
    opt.zero_grad()
    assert w.grad is None


# ----------------------------------------------------------------------------------------------
# state_dict
# ----------------------------------------------------------------------------------------------


def _assert_plain(value, where="state_dict"):
    """Only NumPy arrays, Python numbers/strings/None, and lists/tuples/dicts of them."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (int, str)), f"{where}: key {k!r}"
            _assert_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _assert_plain(v, f"{where}[{i}]")
    else:
        assert value is None or isinstance(value, (np.ndarray, int, float, bool, str)), \
            f"{where} is a {type(value).__name__}"


ROUND_TRIP = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_round_trip_mid_training_continues_identically(name, kwargs):
    data, init = make_problem(5)
    p1 = tg_params(init)
    opt1 = getattr(optim, name)(as_groups(p1, True, 0.005), **kwargs)

    def train(opt, p, start, steps):
        for step in range(start, start + steps):
            opt.zero_grad()
            tg_loss(p, data, step).backward()
            opt.step()

    train(opt1, p1, 0, 20)
    saved = opt1.state_dict()
    _assert_plain(saved)
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    snapshot = {k: np.asarray(v.detach()).copy() for k, v in p1.items()}

    # a fresh model and optimizer (other hyper-parameters!) restored from the checkpoint
    p2 = tg_params(snapshot)
    opt2 = getattr(optim, name)(as_groups(p2, True), lr=123.0)
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [kwargs["lr"], 0.005]
    assert opt2.param_groups[0]["params"][0] is p2["W"]

    train(opt1, p1, 20, 20)
    train(opt2, p2, 20, 20)
    for k in SHAPES:
        np.testing.assert_array_equal(np.asarray(p1[k].detach()), np.asarray(p2[k].detach()))
    # the saved dict is a copy: training on did not change it
    first_state = saved["state"][0]
    assert all(not isinstance(v, np.ndarray) or v is not opt1.state[p1["W"]][k]
               for k, v in first_state.items())


@pytest.mark.skipif(not hasattr(tg, "save"), reason="tinygrad_edu.save not available")
@pytest.mark.parametrize("name, kwargs", [("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("RMSprop", dict(lr=0.01, centered=True))])
def test_state_dict_survives_the_checkpoint_file_format(name, kwargs):
    data, init = make_problem(8)
    p1 = tg_params(init)
    opt1 = getattr(optim, name)(as_groups(p1, True, 0.002), **kwargs)
    for step in range(5):
        opt1.zero_grad()
        tg_loss(p1, data, step).backward()
        opt1.step()
    buffer = io.BytesIO()
    tg.save(opt1.state_dict(), buffer)
    buffer.seek(0)
    p2 = tg_params({k: np.asarray(v.detach()).copy() for k, v in p1.items()})
    opt2 = getattr(optim, name)(as_groups(p2, True))
    opt2.load_state_dict(tg.load(buffer))
    for step in range(5, 15):
        for opt, p in ((opt1, p1), (opt2, p2)):
            opt.zero_grad()
            tg_loss(p, data, step).backward()
            opt.step()
    for k in SHAPES:
        np.testing.assert_array_equal(np.asarray(p1[k].detach()), np.asarray(p2[k].detach()))


def test_load_torch_state_dict_then_continue_like_torch():
    """A torch Adam checkpoint (tensors, step as a tensor) loads and continues identically."""
    data, init = make_problem(6)
    pp = torch_params(init)
    torch_opt = torch.optim.Adam(as_groups(pp, False), lr=0.01, amsgrad=True)
    for step in range(10):
        torch_opt.zero_grad()
        torch_loss(pp, data, step).backward()
        torch_opt.step()
    current = {k: v.detach().numpy().copy() for k, v in pp.items()}
    tp = tg_params(current)
    tg_opt = optim.Adam(as_groups(tp, False), lr=0.01, amsgrad=True)
    tg_opt.load_state_dict(torch_opt.state_dict())
    assert tg_opt.state[tp["W"]]["step"] == 10
    train_side_by_side(tg_opt, torch_opt, tp, pp, data, 20, start=10)


def test_load_state_dict_rejects_mismatched_groups():
    w = tg.zeros(2, requires_grad=True)
    v = tg.zeros(3, requires_grad=True)
    saved = optim.Adam([w, v]).state_dict()
    with pytest.raises(ValueError, match="Adam: the state dict has 1 parameter group"):
        optim.Adam([{"params": [w]}, {"params": [v]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="Adam: parameter group 0 has 1 parameters"):
        optim.Adam([w]).load_state_dict(saved)


# ----------------------------------------------------------------------------------------------
# LBFGS (closure-based) vs torch
# ----------------------------------------------------------------------------------------------


def rosenbrock_tg(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_torch(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def run_lbfgs_pair(tg_fn, torch_fn, x0, steps, **kwargs):
    x_tg = tg.tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    x_th = torch.tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    tg_opt = optim.LBFGS([x_tg], **kwargs)
    torch_opt = torch.optim.LBFGS([x_th], **kwargs)
    calls = {"tg": 0, "torch": 0}

    def tg_closure():
        calls["tg"] += 1
        tg_opt.zero_grad()
        loss = tg_fn(x_tg)
        loss.backward()
        return loss

    def torch_closure():
        calls["torch"] += 1
        torch_opt.zero_grad()
        loss = torch_fn(x_th)
        loss.backward()
        return loss

    for step in range(steps):
        loss_tg = tg_opt.step(tg_closure)
        loss_th = torch_opt.step(torch_closure)
        np.testing.assert_allclose(loss_tg.item(), loss_th.item(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"loss returned by step {step}")
        np.testing.assert_allclose(np.asarray(x_tg.detach()), x_th.detach().numpy(),
                                   rtol=RTOL, atol=ATOL, err_msg=f"x after step {step}")
        assert calls["tg"] == calls["torch"], f"closure evaluations after step {step}"
    tg_state = tg_opt.state[x_tg]
    torch_state = torch_opt.state[x_th]
    assert tg_state["n_iter"] == torch_state["n_iter"]
    assert tg_state["func_evals"] == torch_state["func_evals"]
    return x_tg


def test_lbfgs_strong_wolfe_matches_torch_on_rosenbrock():
    x = run_lbfgs_pair(rosenbrock_tg, rosenbrock_torch, [-1.5, 2.0], steps=3,
                       line_search_fn="strong_wolfe", max_iter=20)
    np.testing.assert_allclose(np.asarray(x.detach()), [1.0, 1.0], atol=1e-5)


def test_lbfgs_strong_wolfe_short_history_matches_torch():
    run_lbfgs_pair(rosenbrock_tg, rosenbrock_torch, [1.2, -0.5], steps=3,
                   line_search_fn="strong_wolfe", history_size=2, max_iter=8, max_eval=12)


def test_lbfgs_fixed_step_matches_torch():
    # without a line search a unit step overshoots on Rosenbrock, so use a tamer problem
    def quartic_tg(x):
        return ((x - 0.5) ** 2).sum() + 0.1 * (x ** 4).sum() + 0.3 * (x[0] * x[1])

    def quartic_torch(x):
        return ((x - 0.5) ** 2).sum() + 0.1 * (x ** 4).sum() + 0.3 * (x[0] * x[1])

    run_lbfgs_pair(quartic_tg, quartic_torch, [2.0, -1.5, 0.7], steps=4, lr=0.5, max_iter=5,
                   history_size=3)


def test_lbfgs_on_least_squares_model_matches_torch():
    data, init = make_problem(7)
    tp, pp = tg_params(init), torch_params(init)
    params_tg = [tp["W"], tp["b"], tp["V"]]
    params_th = [pp["W"], pp["b"], pp["V"]]
    tg_opt = optim.LBFGS(params_tg, line_search_fn="strong_wolfe", max_iter=15)
    torch_opt = torch.optim.LBFGS(params_th, line_search_fn="strong_wolfe", max_iter=15)

    def tg_closure():
        tg_opt.zero_grad()
        loss = tg_loss(tp, data, 1)
        loss.backward()
        return loss

    def torch_closure():
        torch_opt.zero_grad()
        loss = torch_loss(pp, data, 1)
        loss.backward()
        return loss

    for step in range(3):
        tg_opt.step(tg_closure)
        torch_opt.step(torch_closure)
        for k in ("W", "b", "V"):
            np.testing.assert_allclose(np.asarray(tp[k].detach()), pp[k].detach().numpy(),
                                       rtol=RTOL, atol=ATOL, err_msg=f"{k} after step {step}")


def test_lbfgs_requires_a_closure():
    opt = optim.LBFGS([tg.zeros(2, requires_grad=True)])
    with pytest.raises(RuntimeError, match="LBFGS: step\\(\\) requires a closure"):
        opt.step()


def test_lbfgs_state_dict_round_trip():
    def make():
        x = tg.tensor(np.array([-1.2, 1.0]), requires_grad=True)
        opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=3)

        def closure():
            opt.zero_grad()
            loss = rosenbrock_tg(x)
            loss.backward()
            return loss

        return x, opt, closure

    x1, opt1, closure1 = make()
    opt1.step(closure1)
    saved = opt1.state_dict()
    _assert_plain(saved)
    x2, opt2, closure2 = make()
    x2.data[...] = x1.data
    opt2.load_state_dict(saved)
    for _ in range(3):
        opt1.step(closure1)
        opt2.step(closure2)
    np.testing.assert_array_equal(np.asarray(x1.detach()), np.asarray(x2.detach()))


# ----------------------------------------------------------------------------------------------
# Errors that name the optimizer and the bad value
# ----------------------------------------------------------------------------------------------


def _w():
    return [tg.zeros(2, requires_grad=True)]


INVALID = [
    (lambda: optim.SGD(_w(), lr=-0.1), ValueError, "SGD: invalid learning rate -0.1"),
    (lambda: optim.SGD(_w(), momentum=-0.5), ValueError, "SGD: invalid momentum -0.5"),
    (lambda: optim.SGD(_w(), weight_decay=-1), ValueError, "SGD: invalid weight_decay -1"),
    (lambda: optim.SGD(_w(), nesterov=True), ValueError,
     "SGD: nesterov momentum requires a momentum > 0 and zero dampening"),
    (lambda: optim.SGD(_w(), momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "SGD: nesterov momentum requires"),
    (lambda: optim.SGD(_w(), lr="0.1"), TypeError, "SGD: learning rate must be a real number"),
    (lambda: optim.Adagrad(_w(), lr_decay=-0.1), ValueError, "Adagrad: invalid lr_decay -0.1"),
    (lambda: optim.Adagrad(_w(), initial_accumulator_value=-1), ValueError,
     "Adagrad: invalid initial_accumulator_value -1"),
    (lambda: optim.Adagrad(_w(), eps=-1e-10), ValueError, "Adagrad: invalid epsilon"),
    (lambda: optim.RMSprop(_w(), alpha=1.5), ValueError, "RMSprop: invalid alpha 1.5"),
    (lambda: optim.RMSprop(_w(), momentum=-0.1), ValueError, "RMSprop: invalid momentum -0.1"),
    (lambda: optim.RMSprop(_w(), lr=-0.01), ValueError, "RMSprop: invalid learning rate"),
    (lambda: optim.Adam(_w(), lr=-0.1), ValueError,
     r"Adam: invalid learning rate -0.1 \(must be >= 0"),
    (lambda: optim.Adam(_w(), betas=(1.0, 0.999)), ValueError,
     "Adam: invalid beta parameter at index 0 1.0"),
    (lambda: optim.Adam(_w(), betas=(0.9, -0.1)), ValueError,
     "Adam: invalid beta parameter at index 1 -0.1"),
    (lambda: optim.Adam(_w(), betas=0.9), ValueError, "Adam: betas must be a pair"),
    (lambda: optim.Adam(_w(), eps=-1.0), ValueError, "Adam: invalid epsilon -1.0"),
    (lambda: optim.AdamW(_w(), weight_decay=-0.01), ValueError,
     "AdamW: invalid weight_decay -0.01"),
    (lambda: optim.LBFGS(_w(), lr=-1), ValueError, "LBFGS: invalid learning rate -1"),
    (lambda: optim.LBFGS(_w(), history_size=0), ValueError, "LBFGS: invalid history_size 0"),
    (lambda: optim.LBFGS(_w(), max_iter=2.5), ValueError, "LBFGS: invalid max_iter 2.5"),
    (lambda: optim.LBFGS(_w(), line_search_fn="armijo"), ValueError,
     "LBFGS: line_search_fn must be None or 'strong_wolfe'"),
    (lambda: optim.LBFGS([{"params": _w()}, {"params": _w()}]), ValueError,
     "LBFGS: doesn't support per-parameter options"),
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: got an empty parameter list"),
    (lambda: optim.Adam(tg.zeros(2, requires_grad=True)), TypeError,
     "Adam: params should be an iterable of Tensors or dicts"),
    (lambda: optim.Adam({tg.zeros(2, requires_grad=True)}), TypeError,
     "Adam: parameters must be in an ordered collection"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1), TypeError,
     "SGD: can only optimize Tensors, but parameter 0 is a ndarray"),
    (lambda: optim.SGD([tg.zeros(2, requires_grad=True) * 2], lr=0.1), ValueError,
     "SGD: can't optimize a non-leaf Tensor"),
]


@pytest.mark.parametrize("make, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_hyperparameters_raise_errors_naming_the_optimizer(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_same_parameter_in_two_groups_is_an_error():
    w = tg.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="SGD: a parameter group contains the same parameter"):
        optim.SGD([w, w], lr=0.1)


def test_repr_lists_groups_and_hyperparameters():
    text = repr(optim.Adam(_w(), lr=0.5))
    assert text.startswith("Adam (")
    assert "Parameter Group 0" in text and "lr: 0.5" in text and "amsgrad: False" in text


def test_optimizer_is_exported_for_custom_subclasses():
    class SignSGD(optim.Optimizer):
        """p = p - lr * sign(g)"""

        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _update(self, p, g, state, group):
            p -= group["lr"] * np.sign(g)

    w = tg.tensor([1.0, -1.0], dtype=tg.float64, requires_grad=True)
    opt = SignSGD([w], lr=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (w * 3).sum().backward()
        opt.step()
    assert w.tolist() == [0.75, -1.25]


def test_works_with_module_parameters_generator():
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tg.tensor(np.array([1.0, -2.0])))
            self.b = nn.Parameter(tg.tensor(np.array([0.5])))

        def forward(self, x):
            return (x * self.w).sum() + self.b.sum()

    model = Affine()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = tg.tensor(np.array([2.0, 3.0]))
    for _ in range(2):
        opt.zero_grad()
        model(x).backward()       # dw = x, db = 1
        opt.step()
    # b1 = g, b2 = 0.9 b1 + g = 1.9 g: w moves by -0.1 * (1 + 1.9) * x
    np.testing.assert_allclose(np.asarray(model.w.detach()), [1.0 - 0.58, -2.0 - 0.87])
    np.testing.assert_allclose(np.asarray(model.b.detach()), [0.5 - 0.29])
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [[0, 1]]
