"""Review tests: distributions, Adafactor / Rprop / ASGD, swa_utils and nn.utils against torch.

Values and float64 gradients match torch.autograd; optimizers follow torch's trajectories on
odd shapes (0-d included) through a state-dict round trip; sampling is checked by shape, dtype
and statistics; bad input raises errors that name the op.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.distributions as td
import torch.nn.utils as tnu
from torch.nn.utils import fusion as tfusion
from torch.optim import swa_utils as tswa

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.distributions import (
    Bernoulli,
    Categorical,
    Normal,
    Uniform,
    categorical,
)
from tinygrad_edu.nn import utils as U
from tinygrad_edu.optim import swa_utils

torch.set_num_threads(1)
RNG = np.random.default_rng(2024)


@pytest.fixture
def torch_float64():
    """torch's default dtype float64 (so ASGD's eta/mu and layer weights are float64)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def leaves(*arrays):
    """The same float64 values as tinygrad_edu leaves and as torch leaves."""
    ours = [tg.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    return ours, theirs


def check_value_and_grads(fn_ours, fn_torch, *arrays):
    """fn(*leaves) agrees with torch in value and in the gradient of sum(out * w)."""
    ours, theirs = leaves(*arrays)
    out, ref = fn_ours(*ours), fn_torch(*theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    w = RNG.standard_normal(tuple(ref.shape))
    (out * tg.tensor(w)).sum().backward()
    grads = torch.autograd.grad((ref * torch.tensor(w)).sum(), theirs, allow_unused=True)
    for i, (a, g) in enumerate(zip(ours, grads)):
        if g is None:
            assert a.grad is None or not a.grad.numpy().any(), f"leaf {i}: stray gradient"
            continue
        np.testing.assert_allclose(a.grad.numpy(), g.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of leaf {i}")


# ==============================================================================================
# distributions
# ==============================================================================================

def test_normal_icdf_matches_torch_and_inverts_cdf():
    loc, scale, q = [[0.5], [-1.0]], [0.5, 1.0, 2.0], [[0.1, 0.5, 0.97], [0.3, 0.01, 0.8]]
    check_value_and_grads(lambda m, s, p: Normal(m, s).icdf(p),
                          lambda m, s, p: td.Normal(m, s).icdf(p), loc, scale, q)
    d = Normal(tg.tensor([0.3, -2.0], dtype=tg.float64), tg.tensor([1.5, 0.2], dtype=tg.float64))
    x = tg.tensor([[0.0, -2.1], [1.0, -1.9]], dtype=tg.float64)
    np.testing.assert_allclose(d.icdf(d.cdf(x)).numpy(), x.numpy(), rtol=1e-10, atol=1e-12)


def test_uniform_icdf_matches_torch():
    check_value_and_grads(lambda a, b, p: Uniform(a, b).icdf(p),
                          lambda a, b, p: td.Uniform(a, b).icdf(p),
                          [0.0, -1.0], [[1.0, 2.0], [3.0, 0.5]], [[0.1, 0.5], [0.9, 0.0]])


def test_uniform_log_prob_outside_support_has_torch_gradient():
    """Without validation, -inf outside the support, and d/da, d/db of -log(b - a) as torch."""
    value = tg.tensor([[0.5, 5.0], [-3.0, 0.0]], dtype=tg.float64)
    check_value_and_grads(
        lambda a, b: Uniform(a, b, validate_args=False).log_prob(value),
        lambda a, b: td.Uniform(a, b, validate_args=False).log_prob(torch.tensor(value.numpy())),
        [0.0, -1.0], [[1.0, 2.0], [3.0, 0.5]])


def test_uniform_cdf_is_clamped_and_not_validated_at_high():
    d = Uniform(tg.tensor([0.0]), tg.tensor([2.0]))
    assert d.cdf(tg.tensor([-1.0, 1.0, 2.0, 3.0])).tolist() == [0.0, 0.5, 1.0, 1.0]


def test_cdf_validation_errors_name_cdf():
    with pytest.raises(ValueError, match=r"Normal\.cdf: expected value \(shape \(1,\)\)"):
        Normal(0.0, 1.0).cdf(tg.tensor([float("nan")]))
    with pytest.raises(ValueError, match=r"Normal\.cdf: value of shape \(2,\) does not"):
        Normal(tg.zeros(3), 1.0).cdf(tg.zeros(2))


def test_cdf_and_icdf_not_implemented_name_the_distribution():
    d = Bernoulli(probs=tg.tensor([0.5]))
    with pytest.raises(NotImplementedError, match="Bernoulli does not implement cdf"):
        d.cdf(tg.tensor([1.0]))
    with pytest.raises(NotImplementedError, match="Categorical does not implement icdf"):
        Categorical(probs=tg.tensor([0.5, 0.5])).icdf(tg.tensor([0.5]))


@pytest.mark.parametrize("probs", [
    np.append(np.full(12, 1 / 12, np.float32), np.float32(0)),  # float32 cdf_K = 0.9999999
    np.array([0.0, 0.5, 0.5, 0.0], np.float32),
])
def test_categorical_sample_never_draws_a_zero_probability_class(monkeypatch, probs):
    """Even at the extreme uniform draws (0, and the largest below 1), where the cdf's rounding
    used to push the draw onto a trailing or leading zero-probability class."""
    for r in [0.0, 1 - 2.0 ** -53, float(np.float32(1 - 2.0 ** -24)), 0.5]:
        def fake_rand(*size, dtype=None, device=None, r=r):
            return tg.tensor(np.full(size[0], r, dtype=np.dtype(dtype)))
        monkeypatch.setattr(categorical, "rand", fake_rand)
        k = Categorical(probs=tg.tensor(probs)).sample((3,)).numpy()
        assert k.dtype == np.int64 and k.shape == (3,)
        assert (probs[k] > 0).all(), f"u from r={r!r} drew class {k[0]} of probability 0"


def test_categorical_sample_shapes_and_frequencies_float32():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]], np.float32)
    d = Categorical(probs=tg.tensor(probs))
    assert d.sample().shape == (2,) and d.sample(5).shape == (5, 2)
    tg.manual_seed(11)
    k = d.sample((20000, 1)).numpy()
    assert k.shape == (20000, 1, 2) and k.dtype == np.int64
    freq = np.stack([(k[:, 0] == c).mean(0) for c in range(4)], -1)  # (2, 4)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert not (k[..., 0] == 1).any()


@pytest.mark.parametrize("make, batch", [
    (lambda: Normal(tg.zeros(4, 1), tg.ones(3)), (4, 3)),
    (lambda: Uniform(-1.0, tg.tensor([1.0, 2.0])), (2,)),
    (lambda: Bernoulli(logits=tg.zeros(2, 1, 3)), (2, 1, 3)),
    (lambda: Categorical(logits=tg.zeros(5, 6)), (5,)),
    (lambda: Normal(0.0, 1.0), ()),
])
def test_sample_shapes_and_dtypes(make, batch):
    d = make()
    assert d.batch_shape == batch and d.event_shape == ()
    for sample_shape in [(), (7,), (2, 3)]:
        x = d.sample(sample_shape)
        assert x.shape == sample_shape + batch and not x.requires_grad
        expected = np.int64 if isinstance(d, Categorical) else np.float32
        assert x.dtype == expected


def test_sampling_statistics_of_float64_distributions():
    tg.manual_seed(4)
    low, high = tg.tensor([-1.0, 2.0], dtype=tg.float64), tg.tensor([1.0, 6.0], dtype=tg.float64)
    u = Uniform(low, high).rsample((40000,)).numpy()
    assert u.dtype == np.float64 and (u >= [-1, 2]).all() and (u < [1, 6]).all()
    np.testing.assert_allclose(u.var(0), [4 / 12, 16 / 12], rtol=0.03)
    b = Bernoulli(logits=tg.tensor([-2.0, 0.0, 3.0], dtype=tg.float64)).sample((40000,))
    np.testing.assert_allclose(b.numpy().mean(0), 1 / (1 + np.exp([2.0, 0.0, -3.0])),
                               atol=0.01)


def test_uniform_and_bernoulli_stddev_match_torch():
    check_value_and_grads(lambda a, b: Uniform(a, b).stddev,
                          lambda a, b: td.Uniform(a, b).stddev, [0.0, -1.0], [1.0, 3.0])
    check_value_and_grads(lambda p: Bernoulli(probs=p).stddev,
                          lambda p: td.Bernoulli(probs=p).stddev, [0.2, 0.7])


# ==============================================================================================
# Adafactor, Rprop, ASGD: trajectories on odd shapes, with a state-dict round trip midway
# ==============================================================================================

SHAPES = [(3, 5), (2, 3, 4), (7,), (), (1, 1), (4, 1)]


def _losses(ours, theirs, targets):
    lo = sum((((p - tg.tensor(t)) ** 2) * (p.sin() + 2)).sum() for p, t in zip(ours, targets))
    lt = sum((((p - torch.tensor(t)) ** 2) * (p.sin() + 2)).sum()
             for p, t in zip(theirs, targets))
    return lo, lt


def _side_by_side(ours_cls, torch_cls, kwargs, groups=False, steps=8):
    def split(params):  # one group, or two with the second at another lr
        return [{"params": params[:3]}, {"params": params[3:], "lr": 0.03}] if groups \
            else params

    init = [RNG.standard_normal(s) for s in SHAPES]
    targets = [RNG.standard_normal(s) for s in SHAPES]
    ours, theirs = leaves(*init)
    opt, topt = ours_cls(split(ours), **kwargs), torch_cls(split(theirs), **kwargs)
    for step in range(steps):
        if step == steps // 2:  # continue from a reloaded copy of the state
            ours = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in ours]
            state = copy.deepcopy(opt.state_dict())
            opt = ours_cls(split(ours), **kwargs)
            opt.load_state_dict(state)
        opt.zero_grad()
        topt.zero_grad()
        lo, lt = _losses(ours, theirs, targets)
        lo.backward()
        lt.backward()
        opt.step()
        topt.step()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=f"param {i}, step {step + 1}")
    return opt, topt


@pytest.mark.parametrize("kwargs, groups", [
    (dict(), False),
    (dict(lr=0.05, weight_decay=0.1), False),
    (dict(lr=0.05, maximize=True, weight_decay=0.02), True),
    (dict(lr=0.5, d=1.5, beta2_decay=-0.5, eps=(1e-20, 1e-2)), False),
])
def test_adafactor_trajectory_matches_torch(torch_float64, kwargs, groups):
    _side_by_side(optim.Adafactor, torch.optim.Adafactor, kwargs, groups)


@pytest.mark.parametrize("kwargs, groups", [
    (dict(), False),
    (dict(lr=0.05, etas=(0.3, 1.7), step_sizes=(1e-3, 0.07)), False),
    (dict(lr=0.1, maximize=True), False),
    (dict(lr=0.2), True),
])
def test_rprop_trajectory_matches_torch_including_0d_params(torch_float64, kwargs, groups):
    opt, topt = _side_by_side(optim.Rprop, torch.optim.Rprop, kwargs, groups, steps=10)
    ours_state = opt.state_dict()["state"]
    for i, ref in topt.state_dict()["state"].items():
        np.testing.assert_array_equal(ours_state[i]["step_size"], ref["step_size"].numpy())
        np.testing.assert_array_equal(ours_state[i]["prev"], ref["prev"].numpy())


def test_rprop_0d_parameter_does_not_touch_the_gradient():
    w = tg.tensor(1.5, requires_grad=True)
    opt = optim.Rprop([w], lr=0.1, maximize=True)
    for _ in range(3):
        opt.zero_grad()
        (w * w).backward()
        grad_before = w.grad.item()
        opt.step()
        assert w.grad.item() == grad_before
    assert opt.state[w]["prev"].shape == ()


@pytest.mark.parametrize("kwargs, groups", [
    (dict(), False),
    (dict(lr=0.05, weight_decay=0.1, lambd=0.01, alpha=0.6, t0=3), False),
    (dict(lr=0.02, maximize=True, t0=2, weight_decay=0.2), False),
    (dict(t0=2, lambd=0.1), True),
])
def test_asgd_trajectory_and_average_match_torch(torch_float64, kwargs, groups):
    opt, topt = _side_by_side(optim.ASGD, torch.optim.ASGD, kwargs, groups)
    ours_state = opt.state_dict()["state"]
    for i, ref in topt.state_dict()["state"].items():
        np.testing.assert_allclose(ours_state[i]["ax"], ref["ax"].numpy(), rtol=1e-9,
                                   atol=1e-12)
        assert float(ours_state[i]["eta"]) == pytest.approx(ref["eta"].item(), rel=1e-12)
        assert float(ours_state[i]["mu"]) == pytest.approx(ref["mu"].item(), rel=1e-12)


@pytest.mark.parametrize("cls, tcls, kwargs", [
    (optim.Adafactor, torch.optim.Adafactor, dict(lr=0.05, weight_decay=0.01)),
    (optim.Rprop, torch.optim.Rprop, dict(lr=0.05)),
    (optim.ASGD, torch.optim.ASGD, dict(lr=0.05, t0=1, lambd=0.01)),
])
def test_loading_a_torch_state_dict_continues_torchs_trajectory(torch_float64, cls, tcls,
                                                                 kwargs):
    init = [RNG.standard_normal(s) for s in SHAPES]
    targets = [RNG.standard_normal(s) for s in SHAPES]
    _, theirs = leaves(*init)
    topt = tcls(theirs, **kwargs)
    for _ in range(3):
        topt.zero_grad()
        _losses([], theirs, targets)[1].backward()
        topt.step()
    ours = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in theirs]
    opt = cls(ours, **kwargs)
    opt.load_state_dict(topt.state_dict())
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        lo, lt = _losses(ours, theirs, targets)
        lo.backward()
        lt.backward()
        opt.step()
        topt.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("make, match", [
    (lambda w: optim.Adafactor(w, beta2_decay=0.5),
     r"Adafactor: invalid beta2_decay 0\.5 \(must be in \[-inf, 0\.0\]\)"),
    (lambda w: optim.Adafactor(w, eps=(None, -1.0)), r"Adafactor: invalid epsilon2 .* -1\.0"),
    (lambda w: optim.Adafactor(w, d=0.5), r"Adafactor: invalid clipping threshold d 0\.5"),
    (lambda w: optim.Rprop(w, etas=(1.2, 0.5)), r"Rprop: invalid eta values 1\.2, 0\.5"),
    (lambda w: optim.Rprop(w, step_sizes=(1.0, 0.1)), r"Rprop: invalid step_sizes"),
    (lambda w: optim.ASGD(w, weight_decay=-1.0), r"ASGD: invalid weight_decay -1\.0"),
    (lambda w: optim.ASGD(w, lr=-0.1), r"ASGD: invalid learning rate -0\.1"),
])
def test_optimizer_argument_errors_name_op_and_value(make, match):
    with pytest.raises(ValueError, match=match):
        make([tg.zeros(2, requires_grad=True)])


def test_adafactor_accepts_beta2_decay_zero_like_torch():
    w = tg.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adafactor([w], beta2_decay=0.0)
    (w * w).sum().backward()
    opt.step()
    assert opt.param_groups[0]["beta2_decay"] == 0.0 and opt.state[w]["step"] == 1


# ==============================================================================================
# swa_utils
# ==============================================================================================

def _model_pair():
    ours = nn.Sequential(nn.Linear(3, 4, dtype=tg.float64), nn.BatchNorm1d(4, dtype=tg.float64),
                         nn.Linear(4, 2, dtype=tg.float64))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                 torch.nn.Linear(4, 2))
    _copy_state(ours, theirs)
    return ours, theirs


def _copy_state(ours, theirs):
    """torch's parameters and buffers (same names, same order) into ours."""
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for key, value in tsd.items():
        sd[key].data[...] = value.detach().numpy()


def _perturb(ours, theirs):
    """New weights, positive running variances and a bumped batch count, the same in both."""
    with torch.no_grad():
        for value in theirs.state_dict().values():
            if value.dtype == torch.int64:
                value += int(RNG.integers(1, 5))
            else:
                value.copy_(value.abs() + torch.tensor(RNG.uniform(0.1, 1.0, value.shape)))
    _copy_state(ours, theirs)


def _assert_same_state(ours, theirs):
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for key in tsd:
        a, b = sd[key].numpy(), tsd[key].numpy()
        assert a.dtype == b.dtype, key
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("fn, use_buffers", [
    (None, False), (None, True),
    ("get_ema_avg_fn", False), ("get_ema_avg_fn", True),
    ("get_ema_multi_avg_fn", False), ("get_ema_multi_avg_fn", True),
    ("get_swa_multi_avg_fn", False),
    ("get_swa_avg_fn", True),
])
def test_averaged_model_matches_torch(torch_float64, fn, use_buffers):
    model, tmodel = _model_pair()
    kwargs, tkwargs = {}, {}
    if fn is not None:
        key = "multi_avg_fn" if "multi" in fn else "avg_fn"
        args = (0.9,) if "ema" in fn else ()
        kwargs[key], tkwargs[key] = getattr(swa_utils, fn)(*args), getattr(tswa, fn)(*args)
    avg = swa_utils.AveragedModel(model, use_buffers=use_buffers, **kwargs)
    tavg = tswa.AveragedModel(tmodel, use_buffers=use_buffers, **tkwargs)
    for _ in range(4):
        _perturb(model, tmodel)
        avg.update_parameters(model)
        tavg.update_parameters(tmodel)
    _assert_same_state(avg, tavg)
    assert avg.n_averaged.item() == 4 and avg.n_averaged.dtype == np.int64
    x = RNG.standard_normal((5, 3))
    avg.eval()
    tavg.eval()
    np.testing.assert_allclose(avg(tg.tensor(x)).detach().numpy(),
                               tavg(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_update_bn_matches_torch_and_restores_modes(torch_float64):
    model, tmodel = _model_pair()
    avg, tavg = swa_utils.AveragedModel(model), tswa.AveragedModel(tmodel)
    _perturb(model, tmodel)
    avg.update_parameters(model)
    tavg.update_parameters(tmodel)
    avg.eval()
    tavg.eval()
    data = [RNG.standard_normal((6, 3)) for _ in range(3)]
    swa_utils.update_bn([(tg.tensor(x), 0) for x in data], avg)
    tswa.update_bn([(torch.tensor(x), 0) for x in data], tavg)
    _assert_same_state(avg, tavg)
    assert not avg.training and avg.module[1].momentum == 0.1


@pytest.mark.parametrize("fn", ["get_ema_avg_fn", "get_ema_multi_avg_fn"])
def test_ema_decay_error_names_the_function(fn):
    with pytest.raises(ValueError, match=rf"{fn}: invalid decay 1\.5 \(must be in \[0, 1\]\)"):
        getattr(swa_utils, fn)(1.5)


def _sgd_pair():
    ours = [tg.zeros(2, requires_grad=True) for _ in range(2)]
    theirs = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    opt = optim.SGD([{"params": ours[:1], "lr": 1.0}, {"params": ours[1:], "lr": 0.3}],
                    momentum=0.9)
    topt = torch.optim.SGD([{"params": theirs[:1], "lr": 1.0},
                            {"params": theirs[1:], "lr": 0.3}], momentum=0.9)
    return opt, topt


@pytest.mark.parametrize("kwargs", [
    dict(swa_lr=0.05),
    dict(swa_lr=[0.05, 0.5], anneal_epochs=3, anneal_strategy="linear"),
    dict(swa_lr=0.1, anneal_epochs=0),
    dict(swa_lr=0.1, anneal_epochs=1),
    dict(swa_lr=0.2, anneal_epochs=4, anneal_strategy="cos"),
])
def test_swalr_schedule_matches_torch(kwargs):
    opt, topt = _sgd_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched, tsched = swa_utils.SWALR(opt, **kwargs), tswa.SWALR(topt, **kwargs)
        for _ in range(7):
            opt.step()
            topt.step()
            sched.step()
            tsched.step()
            np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-14)
            assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


def test_swalr_after_steplr_and_through_a_state_dict_matches_torch():
    opt, topt = _sgd_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step, tstep = (optim.lr_scheduler.StepLR(opt, 2, 0.5),
                       torch.optim.lr_scheduler.StepLR(topt, 2, 0.5))
        for _ in range(4):
            opt.step()
            topt.step()
            step.step()
            tstep.step()
        sched = swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=5, anneal_strategy="linear")
        tsched = tswa.SWALR(topt, swa_lr=0.01, anneal_epochs=5, anneal_strategy="linear")
        for i in range(6):
            if i == 2:  # swap in a differently built scheduler, then load the state
                state = sched.state_dict()
                sched = swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=1)
                sched.load_state_dict(state)
                assert sched.anneal_func(0.5) == 0.5  # linear again
            opt.step()
            topt.step()
            sched.step()
            tsched.step()
            np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13)


# ==============================================================================================
# nn.utils: gradient clipping
# ==============================================================================================

GRAD_SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


def _grad_pair(dtype, special=None):
    """Parameters with the same gradients in both libraries (and one without a gradient)."""
    ours, theirs = [], []
    for i, shape in enumerate(GRAD_SHAPES):
        g = (RNG.standard_normal(shape) * 3).astype(dtype)
        if special is not None and i == 1:
            g[2] = special
        a = tg.zeros(*shape, dtype=np.dtype(dtype).name, requires_grad=True)
        a.grad = tg.tensor(g.copy())
        b = torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        b.grad = torch.tensor(g.copy())
        ours.append(a)
        theirs.append(b)
    ours.append(tg.zeros(2, requires_grad=True))
    theirs.append(torch.zeros(2, requires_grad=True))
    return ours, theirs


def _assert_grads_equal(ours, theirs, rtol):
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None
            continue
        assert a.grad.dtype == b.grad.numpy().dtype
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2, 1, 3.5, 0.5, 0, float("inf"), -float("inf"), "inf",
                                       "-inf", "2", -1, -2.5])
@pytest.mark.parametrize("max_norm", [1.0, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    ours, theirs = _grad_pair(dtype)
    total = U.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = tnu.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert total.shape == () and total.dtype == ttotal.numpy().dtype
    np.testing.assert_allclose(total.numpy(), ttotal.numpy(), rtol=rtol)
    _assert_grads_equal(ours, theirs, rtol)


@pytest.mark.parametrize("special", [float("nan"), float("inf")])
@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_clip_grad_norm_nonfinite_matches_torch(special, norm_type):
    ours, theirs = _grad_pair(np.float32, special)
    total = U.clip_grad_norm_(ours, 1.0, norm_type)
    ttotal = tnu.clip_grad_norm_(theirs, 1.0, norm_type)
    np.testing.assert_array_equal(total.numpy(), ttotal.numpy())
    for a, b in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    ours, _ = _grad_pair(np.float32, special)
    with pytest.raises(RuntimeError, match=f"total norm of order {norm_type} .* non-finite"):
        U.clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)


def test_clip_grad_norm_bad_norm_type_names_the_op():
    ours, _ = _grad_pair(np.float32)
    with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be a number or "
                                         r"'inf', got 'fro'"):
        U.clip_grad_norm_(ours, 1.0, "fro")
    with pytest.raises(ValueError, match="get_total_norm: norm_type"):
        U.get_total_norm([p.grad for p in ours[:2]], "two")


def test_clip_grads_with_norm_and_get_total_norm_match_torch():
    for total in [5.0, 0.5]:
        ours, theirs = _grad_pair(np.float32)
        U.clip_grads_with_norm_(ours, 1.0, tg.tensor(total))
        tnu.clip_grads_with_norm_(theirs, 1.0, torch.tensor(total))
        _assert_grads_equal(ours, theirs, 1e-6)
    ours, theirs = _grad_pair(np.float64)
    grads = [p.grad for p in ours if p.grad is not None]
    tgrads = [p.grad for p in theirs if p.grad is not None]
    for q in [3, "inf", 0]:
        np.testing.assert_allclose(U.get_total_norm(grads, q).numpy(),
                                   tnu.get_total_norm(tgrads, q).numpy(), rtol=1e-12)


@pytest.mark.parametrize("clip_value", [0.5, 2, -1.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _grad_pair(np.float32, float("nan"))
    U.clip_grad_value_(ours, clip_value)
    tnu.clip_grad_value_(theirs, clip_value)
    for a, b in zip(ours[:-1], theirs[:-1]):
        assert a.grad.dtype == np.float32
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


# ==============================================================================================
# nn.utils: fusion, weight_norm, flat vectors
# ==============================================================================================

def _randomize(module):
    with torch.no_grad():
        for value in module.state_dict().values():
            if value.dtype.is_floating_point:
                value.copy_(torch.tensor(RNG.uniform(0.2, 1.5, value.shape)))


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d", "conv1d"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval_matches_torch(torch_float64, kind, bias, affine):
    f64, kw = tg.float64, dict(affine=affine)
    if kind == "conv2d":
        conv, tconv = nn.Conv2d(3, 4, 3, bias=bias, dtype=f64), torch.nn.Conv2d(3, 4, 3, bias=bias)
        bn, tbn = nn.BatchNorm2d(4, dtype=f64, **kw), torch.nn.BatchNorm2d(4, **kw)
        shape, transpose = (2, 3, 6, 5), False
    elif kind == "conv_transpose2d":
        conv = nn.ConvTranspose2d(4, 6, 3, bias=bias, dtype=f64)
        tconv = torch.nn.ConvTranspose2d(4, 6, 3, bias=bias)
        bn, tbn = nn.BatchNorm2d(6, dtype=f64, **kw), torch.nn.BatchNorm2d(6, **kw)
        shape, transpose = (2, 4, 5, 5), True
    else:
        conv, tconv = nn.Conv1d(3, 4, 3, bias=bias, dtype=f64), torch.nn.Conv1d(3, 4, 3, bias=bias)
        bn, tbn = nn.BatchNorm1d(4, dtype=f64, **kw), torch.nn.BatchNorm1d(4, **kw)
        shape, transpose = (2, 3, 7), False
    for a, b in [(conv, tconv), (bn, tbn)]:
        _randomize(b)
        _copy_state(a, b)
        a.eval()
        b.eval()
    fused = U.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tfused = tfusion.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    x = RNG.standard_normal(shape)
    out = fused(tg.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out, tfused(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(out, bn(conv(tg.tensor(x))).detach().numpy(), rtol=1e-10)
    assert fused.bias.requires_grad == tfused.bias.requires_grad == bias
    assert conv.bias is None or conv.bias is not fused.bias  # the original is untouched


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("num_features", [5, 1])
def test_fuse_linear_bn_eval_matches_torch(torch_float64, bias, num_features):
    lin, tlin = nn.Linear(3, 5, bias=bias, dtype=tg.float64), torch.nn.Linear(3, 5, bias=bias)
    bn, tbn = nn.BatchNorm1d(num_features, dtype=tg.float64), torch.nn.BatchNorm1d(num_features)
    for a, b in [(lin, tlin), (bn, tbn)]:
        _randomize(b)
        _copy_state(a, b)
        a.eval()
        b.eval()
    fused, tfused = U.fuse_linear_bn_eval(lin, bn), tfusion.fuse_linear_bn_eval(tlin, tbn)
    x = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(fused(tg.tensor(x)).detach().numpy(),
                               tfused(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    assert fused.bias.shape == tuple(tfused.bias.shape)


def test_fuse_weights_keep_the_conv_dtypes_like_torch():
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, dtype=tg.float64)
    for conv_b in [conv.bias, None]:
        w, b = U.fuse_conv_bn_weights(conv.weight, conv_b, bn.running_mean, bn.running_var,
                                      1e-5, bn.weight, bn.bias)
        assert w.dtype == b.dtype == np.float32
        assert b.requires_grad == (conv_b is not None)


def test_fuse_conv_bn_eval_in_training_mode_names_op_and_modes():
    with pytest.raises(AssertionError, match=r"fuse_conv_bn_eval: Fusion only for eval!.*"
                                             r"Conv2d\.training=True"):
        U.fuse_conv_bn_eval(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).eval())


@pytest.mark.parametrize("kind", ["linear", "conv2d", "conv_transpose1d"])
@pytest.mark.parametrize("dim", [0, 1, None, -1, -2])
def test_weight_norm_matches_torch(torch_float64, kind, dim):
    if kind == "linear":
        m, t, shape = nn.Linear(3, 5, dtype=tg.float64), torch.nn.Linear(3, 5), (4, 3)
    elif kind == "conv2d":
        m, t, shape = nn.Conv2d(2, 3, 3, dtype=tg.float64), torch.nn.Conv2d(2, 3, 3), (2, 2, 5, 5)
    else:
        m, t, shape = (nn.ConvTranspose1d(2, 3, 3, dtype=tg.float64),
                       torch.nn.ConvTranspose1d(2, 3, 3), (2, 2, 5))
    _copy_state(m, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tnu.weight_norm(t, dim=dim)
    U.weight_norm(m, dim=dim)
    assert tuple(m.weight_g.shape) == tuple(t.weight_g.shape)
    with torch.no_grad():
        t.weight_g.mul_(1.7)
        t.weight_v.add_(0.3)
    _copy_state(m, t)  # also checks that the state-dict keys and order agree
    x = RNG.standard_normal(shape)
    y, ty = m(tg.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10)
    w = RNG.standard_normal(tuple(ty.shape))
    (y * tg.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for (name, a), (_, b) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, err_msg=name)
    U.remove_weight_norm(m)
    tnu.remove_weight_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_weight_norm_errors_name_the_problem():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        U.remove_weight_norm(m)
    with pytest.raises(AttributeError, match="weight_norm: Linear has no parameter 'nope'"):
        U.weight_norm(m, name="nope")
    U.weight_norm(m)
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        U.weight_norm(m)


def test_parameters_to_vector_round_trip_and_gradient():
    params = [tg.tensor(RNG.standard_normal(s), requires_grad=True) for s in [(2, 3), (4,), ()]]
    vec = U.parameters_to_vector(params)
    assert vec.shape == (11,) and vec.requires_grad
    (vec * tg.arange(11, dtype=tg.float64)).sum().backward()
    flat = np.concatenate([p.grad.numpy().reshape(-1) for p in params])
    np.testing.assert_array_equal(flat, np.arange(11.0))
    U.vector_to_parameters(tg.arange(11, dtype=tg.float64) * 2, params)
    assert params[2].item() == 20.0 and params[0].shape == (2, 3) and params[0].is_leaf
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec has shape \(10,\) but "
                                         r"the parameters hold 11 elements"):
        U.vector_to_parameters(tg.zeros(10), params)


def test_uniform_accepts_its_upper_bound_with_density_zero_like_torch():
    ours = Uniform(0.0, 2.0).log_prob(tg.tensor([2.0, 1.0]))
    theirs = torch.distributions.Uniform(0.0, 2.0).log_prob(torch.tensor([2.0, 1.0]))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert str(Uniform(0.0, 2.0).support) == "in [low, high]"
