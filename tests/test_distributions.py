"""tinygrad_edu.distributions against torch.distributions: values, gradients, sampling, errors."""

import numpy as np
import pytest
import torch
import torch.distributions as td

import tinygrad_edu as tg
from tinygrad_edu.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Normal,
    Uniform,
    kl_divergence,
)

RNG = np.random.default_rng(0)


def pair(array):
    """The same float64 values as a tg leaf and a torch leaf, both requiring grad."""
    array = np.asarray(array, dtype=np.float64)
    return (tg.tensor(array, dtype=tg.float64, requires_grad=True),
            torch.tensor(array, dtype=torch.float64, requires_grad=True))


def check(tg_out, torch_out, tg_leaves, torch_leaves, atol=1e-10):
    """Values agree, and gradients of sum(out * g) for one random upstream g agree."""
    np.testing.assert_allclose(tg_out.detach().numpy(), torch_out.detach().numpy(), rtol=1e-9,
                               atol=atol)
    upstream = RNG.standard_normal(torch_out.shape)
    (tg_out * tg.tensor(upstream, dtype=tg.float64)).sum().backward()
    (torch_out * torch.tensor(upstream)).sum().backward()
    for name, (a, b) in enumerate(zip(tg_leaves, torch_leaves)):
        if b.grad is None:  # out does not depend on this leaf
            assert a.grad is None or not a.grad.numpy().any(), f"leaf {name}: stray gradient"
            continue
        assert a.grad is not None, f"leaf {name} got no gradient"
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=atol,
                                   err_msg=f"gradient of leaf {name}")


def outputs(d, t, what, value):
    """d.<what> and t.<what>: log_prob at ``value``, entropy(), or a property."""
    if what == "log_prob":
        return d.log_prob(tg.tensor(value)), t.log_prob(torch.tensor(value))
    if what == "entropy":
        return d.entropy(), t.entropy()
    return getattr(d, what), getattr(t, what)


# ---- Normal ----------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["log_prob", "entropy", "mean", "variance", "stddev", "cdf"])
def test_normal_matches_torch(what):
    (loc, tloc), (scale, tscale) = pair(RNG.standard_normal((3, 1))), \
        pair(RNG.uniform(0.5, 2, (1, 5)))  # parameters broadcast to batch (3, 5)
    d, t = Normal(loc, scale), td.Normal(tloc, tscale)
    assert d.batch_shape == tuple(t.batch_shape) == (3, 5) and d.event_shape == ()
    value = RNG.standard_normal((2, 3, 5))
    if what in ("log_prob", "cdf"):
        out = getattr(d, what)(tg.tensor(value))
        ref = getattr(t, what)(torch.tensor(value))
    elif what == "entropy":
        out, ref = d.entropy(), t.entropy()
    else:
        out, ref = getattr(d, what), getattr(t, what)
    check(out, ref, [loc, scale], [tloc, tscale])


def test_normal_rsample_gradient_is_reparameterized():
    """x = mu + sigma eps with the same eps: the loss and its gradients match torch."""
    (loc, tloc), (scale, tscale) = pair(RNG.standard_normal(7)), pair(RNG.uniform(0.5, 2, 7))
    tg.manual_seed(3)
    x = Normal(loc, scale).rsample((4,))  # (4, 7)
    eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    tx = tloc + torch.tensor(eps) * tscale
    check((x ** 2).sin(), (tx ** 2).sin(), [loc, scale], [tloc, tscale])
    assert not Normal(loc, scale).sample((4,)).requires_grad


def test_normal_sampling_statistics_and_seed():
    d = Normal(tg.tensor([-1.0, 3.0], dtype=tg.float64), tg.tensor([0.5, 2.0], dtype=tg.float64))
    tg.manual_seed(0)
    a = d.sample((20000,))
    tg.manual_seed(0)
    b = d.sample((20000,))
    assert a.shape == (20000, 2) and a.dtype == tg.float64
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(a.numpy().mean(0), [-1.0, 3.0], atol=0.05)
    np.testing.assert_allclose(a.numpy().std(0), [0.5, 2.0], rtol=0.03)


# ---- Uniform ---------------------------------------------------------------------------------

def test_uniform_matches_torch():
    (low, tlow), (high, thigh) = pair(RNG.uniform(-2, 0, (4, 1))), pair(RNG.uniform(1, 3, 3))
    value = RNG.uniform(0, 1, (4, 3))
    for what in ["log_prob", "entropy", "mean", "variance"]:
        low.grad = high.grad = tlow.grad = thigh.grad = None
        d, t = Uniform(low, high), td.Uniform(tlow, thigh)  # one graph per backward
        check(*outputs(d, t, what, value), [low, high], [tlow, thigh])


def test_uniform_rsample_gradient_and_range():
    (low, tlow), (high, thigh) = pair([0.0, -1.0, 2.0]), pair([1.0, 1.0, 5.0])
    tg.manual_seed(1)
    x = Uniform(low, high).rsample((5000,))  # (5000, 3)
    xs = x.detach().numpy()
    assert (xs >= [0, -1, 2]).all() and (xs < [1, 1, 5]).all()
    np.testing.assert_allclose(xs.mean(0), [0.5, 0.0, 3.5], atol=0.05)
    u = (xs - low.detach().numpy()) / (high - low).detach().numpy()
    tx = tlow + torch.tensor(u) * (thigh - tlow)
    check(x.exp().mean(0), tx.exp().mean(0), [low, high], [tlow, thigh], atol=1e-9)


def test_uniform_without_validation_gives_minus_inf_outside():
    d = Uniform(0.0, 1.0, validate_args=False)
    assert d.log_prob(tg.tensor([2.0, -1.0])).tolist() == [float("-inf")] * 2


# ---- Bernoulli -------------------------------------------------------------------------------

@pytest.mark.parametrize("param", ["probs", "logits"])
def test_bernoulli_matches_torch(param):
    raw = RNG.uniform(0.05, 0.95, (2, 3)) if param == "probs" else RNG.normal(0, 3, (2, 3))
    x, tx = pair(raw)
    value = RNG.integers(0, 2, (4, 2, 3)).astype(np.float64)
    for what in ["log_prob", "entropy", "mean", "variance", "logits", "probs"]:
        x.grad = tx.grad = None
        d, t = Bernoulli(**{param: x}), td.Bernoulli(**{param: tx})  # one graph per backward
        check(*outputs(d, t, what, value), [x], [tx])


def test_bernoulli_sampling_frequency_and_seed():
    d = Bernoulli(probs=tg.tensor([0.1, 0.5, 0.9], dtype=tg.float64))
    tg.manual_seed(5)
    a = d.sample((20000,)).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(a, d.sample((20000,)).numpy())
    assert set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_allclose(a.mean(0), [0.1, 0.5, 0.9], atol=0.015)


# ---- Categorical -----------------------------------------------------------------------------

@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical_matches_torch(param):
    raw = RNG.uniform(0.1, 2.0, (3, 5)) if param == "probs" else RNG.normal(0, 2, (3, 5))
    x, tx = pair(raw)  # unnormalized probs: both libraries normalize
    value = RNG.integers(0, 5, (2, 3))
    for what in ["log_prob", "entropy", "probs", "logits"]:
        x.grad = tx.grad = None
        d, t = Categorical(**{param: x}), td.Categorical(**{param: tx})  # one graph per backward
        check(*outputs(d, t, what, value), [x], [tx])
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert np.isnan(d.mean.numpy()).all() and d.variance.shape == (3,)


def test_categorical_log_prob_broadcasts_value():
    x, tx = pair(RNG.normal(0, 1, (4, 6)))
    value = np.array([[0], [5], [2]])  # (3, 1) against batch (4,) -> (3, 4)
    out = Categorical(logits=x).log_prob(tg.tensor(value))
    ref = td.Categorical(logits=tx).log_prob(torch.tensor(value))
    assert out.shape == (3, 4)
    check(out, ref, [x], [tx])


def test_categorical_entropy_with_zero_probability():
    x, tx = pair([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]])
    check(Categorical(probs=x).entropy(), td.Categorical(probs=tx).entropy(), [x], [tx])


def test_categorical_sampling_frequency_and_seed():
    probs = np.array([[0.2, 0.0, 0.8], [0.3, 0.3, 0.4]])
    d = Categorical(probs=tg.tensor(probs))
    tg.manual_seed(9)
    a = d.sample((30000,)).numpy()
    tg.manual_seed(9)
    np.testing.assert_array_equal(a, d.sample((30000,)).numpy())
    assert a.shape == (30000, 2) and a.dtype == np.int64
    freq = np.stack([(a == k).mean(0) for k in range(3)], -1)  # (2, 3)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert (a[:, 0] != 1).all()  # a zero-probability class is never drawn


def test_categorical_score_function_gradient():
    """REINFORCE: grad of sum(log_prob(a) * R) matches torch for the same actions."""
    x, tx = pair(RNG.normal(0, 1, (8, 4)))
    actions = Categorical(logits=x).sample()
    reward = RNG.standard_normal(8)
    loss = (Categorical(logits=x).log_prob(actions) * tg.tensor(reward)).sum()
    tloss = (td.Categorical(logits=tx).log_prob(torch.tensor(actions.numpy()))
             * torch.tensor(reward)).sum()
    check(loss, tloss, [x], [tx])


# ---- KL --------------------------------------------------------------------------------------

def test_kl_normal_normal():
    ps = [pair(RNG.standard_normal((2, 3))), pair(RNG.uniform(0.5, 2, (2, 3))),
          pair(RNG.standard_normal(3)), pair(RNG.uniform(0.5, 2, (1, 3)))]
    tgs, ths = [a for a, _ in ps], [b for _, b in ps]
    out = kl_divergence(Normal(tgs[0], tgs[1]), Normal(tgs[2], tgs[3]))
    ref = td.kl_divergence(td.Normal(ths[0], ths[1]), td.Normal(ths[2], ths[3]))
    check(out, ref, tgs, ths)


def test_kl_bernoulli_bernoulli():
    (p, tp), (q, tq) = pair(RNG.uniform(0.05, 0.95, 5)), pair(RNG.normal(0, 2, 5))
    out = kl_divergence(Bernoulli(probs=p), Bernoulli(logits=q))
    ref = td.kl_divergence(td.Bernoulli(probs=tp), td.Bernoulli(logits=tq))
    check(out, ref, [p, q], [tp, tq])


def test_kl_categorical_categorical():
    (p, tp), (q, tq) = pair(RNG.uniform(0.1, 1, (3, 4))), pair(RNG.normal(0, 1, (3, 4)))
    out = kl_divergence(Categorical(probs=p), Categorical(logits=q))
    ref = td.kl_divergence(td.Categorical(probs=tp), td.Categorical(logits=tq))
    check(out, ref, [p, q], [tp, tq])


def test_kl_zero_probabilities_match_torch():
    p, q = [[0.0, 0.5, 0.5]], [[0.5, 0.5, 0.0]]
    out = kl_divergence(Categorical(probs=tg.tensor(p)), Categorical(probs=tg.tensor(q)))
    ref = td.kl_divergence(td.Categorical(probs=torch.tensor(p)),
                           td.Categorical(probs=torch.tensor(q)))
    assert out.tolist() == ref.tolist() == [float("inf")]
    out = kl_divergence(Bernoulli(probs=tg.tensor([0.0, 1.0, 0.3])),
                        Bernoulli(probs=tg.tensor([0.5, 0.0, 1.0])))
    ref = td.kl_divergence(td.Bernoulli(probs=torch.tensor([0.0, 1.0, 0.3])),
                           td.Bernoulli(probs=torch.tensor([0.5, 0.0, 1.0])))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


def test_kl_unregistered_pair():
    with pytest.raises(NotImplementedError, match="Normal || Bernoulli"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(probs=tg.tensor(0.5)))


# ---- argument errors -------------------------------------------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: Normal(tg.zeros(2, 3), -tg.ones(1, 3)), r"Normal: .*scale \(shape \(2, 3\)\).*> 0"),
    (lambda: Bernoulli(probs=tg.tensor([0.5, 1.5])), r"Bernoulli: .*probs \(shape \(2,\)\)"),
    (lambda: Bernoulli(probs=tg.tensor([0.5]), logits=tg.tensor([0.0])), "exactly one"),
    (lambda: Categorical(probs=tg.tensor([[0.5, -0.1]])), r"Categorical: .*probs \(shape"),
    (lambda: Categorical(logits=tg.tensor(1.0)), "at least one dimension"),
    (lambda: Uniform(tg.tensor([0.0, 2.0]), 1.0), r"Uniform: expected low < high"),
    (lambda: Normal(0.0, 1.0).log_prob(tg.tensor([float("nan")])), "Normal.log_prob"),
    (lambda: Bernoulli(probs=tg.tensor([0.5])).log_prob(tg.tensor([0.5])), r"in \{0, 1\}"),
    (lambda: Categorical(logits=tg.zeros(2, 3)).log_prob(tg.tensor([0, 3])), r"\[0, 2\]"),
    (lambda: Uniform(0.0, 1.0).log_prob(tg.tensor([1.5])), "Uniform.log_prob"),
    (lambda: Normal(tg.zeros(3), 1.0).log_prob(tg.zeros(2)), "does not broadcast"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_validate_args_off():
    d = Normal(0.0, -1.0, validate_args=False)  # no error, as in torch
    assert np.isnan(d.log_prob(tg.tensor(0.0)).item())
    Distribution.set_default_validate_args(False)
    try:
        Bernoulli(probs=tg.tensor([2.0]))
    finally:
        Distribution.set_default_validate_args(True)


def test_bernoulli_and_categorical_have_no_rsample():
    with pytest.raises(NotImplementedError, match="Bernoulli has no rsample"):
        Bernoulli(probs=tg.tensor([0.5])).rsample()
