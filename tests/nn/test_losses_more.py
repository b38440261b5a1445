"""The margin, distance and likelihood losses against torch 2.13: margin_ranking_loss,
hinge_embedding_loss, soft_margin_loss, multilabel_soft_margin_loss, multi_margin_loss,
multilabel_margin_loss, triplet_margin_loss, triplet_margin_with_distance_loss, poisson_nll_loss,
gaussian_nll_loss, pairwise_distance and pdist, with their Modules.

Each: value and the gradient of every differentiable input against torch (the same inputs and
upstream gradient) for every reduction, float32 and float64, odd non-square and broadcast
shapes, weights; float64 central differences away from the kinks; the edge cases torch defines
(eps in pairwise_distance, the variance clamp, Stirling's term only where t > 1); input errors;
reprs."""

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close

import tinygrad_edu as tg
from tinygrad_edu.nn import loss as L

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]
RNG = np.random.default_rng(0)


def run_both(ours_fn, theirs_fn, arrays, grad_of=(0,), dtype=np.float64, seed=0):
    """Evaluate both losses on the same arrays (integer arrays stay integers, None stays None;
    a Python number passes as is); compare the output's shape and value, then the gradients of
    the inputs listed in ``grad_of`` under one random upstream gradient. Returns our output and
    our inputs."""
    def make(lib, a, i):
        if a is None or type(a) in (int, float):  # a Python number (not a NumPy scalar)
            return a
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        wants = i in grad_of
        return (tg.tensor(a, requires_grad=wants) if lib == "tg"
                else torch.tensor(a, requires_grad=wants))

    ours_in = [make("tg", a, i) for i, a in enumerate(arrays)]
    theirs_in = [make("torch", a, i) for i, a in enumerate(arrays)]
    ours, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    assert tuple(ours.shape) == tuple(theirs.shape), (tuple(ours.shape), tuple(theirs.shape))
    assert ours.dtype == np.dtype(dtype)
    assert_close(ours, theirs, dtype, what="loss value")
    if not grad_of:
        return ours, ours_in
    upstream = np.random.default_rng(seed).standard_normal(tuple(ours.shape)).astype(dtype)
    (ours * tg.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    for i in grad_of:
        assert ours_in[i].grad is not None, f"input {i}: no gradient, torch has one"
        assert_close(ours_in[i].grad, theirs_in[i].grad, dtype, what=f"gradient of input {i}")
    return ours, ours_in


def both(name, **kwargs):
    """The loss ``name`` of both libraries with the same keyword arguments."""
    return (lambda *a: getattr(L, name)(*a, **kwargs),
            lambda *a: getattr(TF, name)(*a, **kwargs))


def signs(shape):
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0)


def gradcheck(fn, arrays):
    """float64 central differences through ``fn`` for every array (all differentiable)."""
    assert tg.gradcheck(fn, [tg.tensor(np.asarray(a, np.float64), requires_grad=True)
                             for a in arrays])


# ----------------------------------------------------------------------------------------------
# margin_ranking_loss, hinge_embedding_loss, soft_margin_loss
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss_matches_torch(reduction, dtype):
    for margin in (0.0, 0.7):
        ours, theirs = both("margin_ranking_loss", margin=margin, reduction=reduction)
        x1, x2 = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
        run_both(ours, theirs, [x1, x2, signs((5, 3))], grad_of=(0, 1, 2), dtype=dtype)
        # broadcasting: (5, 1) against (1, 3), one label per row
        run_both(ours, theirs, [x1[:, :1], x2[:1], signs((5, 1))], grad_of=(0, 1, 2),
                 dtype=dtype)
        run_both(L.MarginRankingLoss(margin=margin, reduction=reduction),
                 torch.nn.MarginRankingLoss(margin=margin, reduction=reduction),
                 [x1[:, 0], x2[:, 0], signs(5)], grad_of=(0, 1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss_matches_torch(reduction, dtype):
    x = RNG.uniform(0.0, 2.0, size=(4, 7))  # distances, on both sides of the margins
    y = signs((4, 7))
    y[0, :3] = 0  # a label other than +-1 takes both terms, in torch
    for margin in (1.0, 0.5):
        ours, theirs = both("hinge_embedding_loss", margin=margin, reduction=reduction)
        run_both(ours, theirs, [x, y], dtype=dtype)
        run_both(ours, theirs, [x[:, :1], y[0]], dtype=dtype)  # (4, 1) with (7,): (4, 7)
        run_both(ours, theirs, [x, y.astype(np.int64)], dtype=dtype)  # integer labels
        run_both(L.HingeEmbeddingLoss(margin=margin, reduction=reduction),
                 torch.nn.HingeEmbeddingLoss(margin=margin, reduction=reduction), [x, y],
                 dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(reduction, dtype):
    ours, theirs = both("soft_margin_loss", reduction=reduction)
    x = RNG.standard_normal((3, 5)) * 2
    run_both(ours, theirs, [x, signs((3, 5))], dtype=dtype)
    run_both(ours, theirs, [x, signs(5)], dtype=dtype)  # the target broadcasts to the input
    run_both(L.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction),
             [x[0], signs(5)], dtype=dtype)


def test_soft_margin_loss_is_stable_where_torch_overflows():
    """softplus(-y x) is computed stably: torch's e^(-y x) gives inf (and NaN gradients) in
    float32 at -y x = 100; ours is -y x exactly, with gradient -y."""
    x = tg.tensor([-100.0, 100.0, 0.0], requires_grad=True)
    loss = L.soft_margin_loss(x, tg.tensor([1.0, -1.0, 1.0]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(200.0 + np.log(2.0), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5], rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss_matches_torch(reduction, dtype):
    ours, theirs = both("multilabel_soft_margin_loss", reduction=reduction)
    x = RNG.standard_normal((4, 5)) * 2
    y = (RNG.random((4, 5)) < 0.4).astype(np.float64)
    w = RNG.uniform(0.2, 2.0, size=5)
    # input, target and a tensor weight (per class, or per element) all get gradients
    run_both(lambda a, b, c: L.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
             lambda a, b, c: TF.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
             [x, y, w], grad_of=(0, 1, 2), dtype=dtype)
    run_both(lambda a, b, c: L.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
             lambda a, b, c: TF.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
             [x, y, w * np.ones((4, 5))], grad_of=(0, 1, 2), dtype=dtype)
    run_both(ours, theirs, [x, y], grad_of=(0, 1), dtype=dtype)
    run_both(ours, theirs, [x[0], y[0]], dtype=dtype)  # (C,): one sample, a 0-d loss
    run_both(ours, theirs, [RNG.standard_normal((2, 3, 5)), y[:3]], dtype=dtype)  # (2, 3) losses
    run_both(L.MultiLabelSoftMarginLoss(weight=tg.tensor(w.astype(dtype)), reduction=reduction),
             torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor(w.astype(dtype)),
                                               reduction=reduction), [x, y], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss_matches_torch(p, reduction, dtype):
    x = RNG.standard_normal((6, 5))
    t = np.array([0, 4, 2, 2, 1, 3])
    w = RNG.uniform(0.2, 2.0, size=5)
    for margin, weight in ((1.0, None), (0.3, w)):
        def ours(a, b, m=margin, ww=weight):
            ww = None if ww is None else tg.tensor(ww.astype(dtype))
            return L.multi_margin_loss(a, b, p=p, margin=m, weight=ww, reduction=reduction)

        def theirs(a, b, m=margin, ww=weight):
            ww = None if ww is None else torch.tensor(ww.astype(dtype))
            return TF.multi_margin_loss(a, b, p=p, margin=m, weight=ww, reduction=reduction)

        run_both(ours, theirs, [x, t], dtype=dtype)
        run_both(ours, theirs, [x[1], t[1]], dtype=dtype)  # (C,) with a 0-d target: 0-d
        run_both(ours, theirs, [x[1], t[1:2]], dtype=dtype)  # (C,) with (1,): (1,) for "none"
    ours, theirs = both("multi_margin_loss", p=p, reduction=reduction)
    run_both(ours, theirs, [x[:, :1], np.zeros(6, np.int64)], dtype=dtype)  # C = 1: loss 0
    run_both(ours, theirs, [x[0, 0], np.array(0)], dtype=dtype)  # a 0-d input
    run_both(L.MultiMarginLoss(p=p, margin=0.5, weight=w, reduction=reduction),
             torch.nn.MultiMarginLoss(p=p, margin=0.5, weight=torch.tensor(w),
                                      reduction=reduction), [x, t])


MULTILABEL_TARGETS = np.array([
    [3, 0, -1, 1, 2, 4],   # classes {3, 0}; the entries after the -1 are ignored
    [1, 2, 3, 4, 5, 0],    # every class: no unlisted class, loss 0
    [-1, 0, 1, 2, 3, 4],   # no class at all: loss 0
    [5, 5, -1, -1, -1, -1],  # a repeated class counts twice, as in torch
])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_matches_torch(reduction, dtype):
    ours, theirs = both("multilabel_margin_loss", reduction=reduction)
    x = RNG.standard_normal((4, 6))
    run_both(ours, theirs, [x, MULTILABEL_TARGETS], dtype=dtype)
    run_both(ours, theirs, [x[0], MULTILABEL_TARGETS[0]], dtype=dtype)  # (C,): a 0-d loss
    run_both(ours, theirs, [x[0, 0], np.array(0)], dtype=dtype)  # 0-d: one class, loss 0
    run_both(L.MultiLabelMarginLoss(reduction=reduction),
             torch.nn.MultiLabelMarginLoss(reduction=reduction),
             [x * 0.3, MULTILABEL_TARGETS], dtype=dtype)  # small scores: most terms positive


def test_multi_class_margin_losses_have_no_gradient_at_the_kink():
    """Both count a term only where it is positive (torch's z > 0): terms exactly at 0 give loss
    0 and gradient 0 (equal scores with margin 0; a listed class ahead by exactly 1)."""
    for lib, F in ((tg, L), (torch, TF)):
        x = lib.tensor([[1.0, 1.0, 1.0]], requires_grad=True)
        u = lib.tensor([[2.0, 1.0, 1.0]], requires_grad=True)
        loss = (F.multi_margin_loss(x, lib.tensor([1]), margin=0.0)
                + F.multilabel_margin_loss(u, lib.tensor([[0, -1, 0]])))
        loss.backward()
        assert loss.item() == 0.0
        for t in (x, u):
            np.testing.assert_array_equal(np.asarray(t.grad.tolist()), [[0.0, 0.0, 0.0]])


# ----------------------------------------------------------------------------------------------
# pairwise_distance, pdist, triplet losses
# ----------------------------------------------------------------------------------------------

DISTANCE_SHAPES = [((5, 4), (5, 4)), ((3, 1, 4), (5, 4)), ((4,), (5, 4)), ((7,), (7,)),
                   ((), ()), ((), (2,))]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_pairwise_distance_matches_torch(p, dtype):
    for (s1, s2), keepdim in zip(DISTANCE_SHAPES * 2, [False] * 6 + [True] * 6):
        ours, theirs = both("pairwise_distance", p=p, keepdim=keepdim)
        run_both(ours, theirs, [RNG.standard_normal(s1), RNG.standard_normal(s2)],
                 grad_of=(0, 1), dtype=dtype)
    run_both(L.PairwiseDistance(p=p, eps=1e-3, keepdim=True),
             torch.nn.PairwiseDistance(p=p, eps=1e-3, keepdim=True),
             [RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))], grad_of=(0, 1),
             dtype=dtype)


def test_pairwise_distance_at_equal_inputs_adds_eps_like_torch():
    """eps goes into the difference: equal rows are eps * sqrt(D) apart with gradient 1/sqrt(D),
    which keeps a triplet loss on collapsed embeddings trainable; with eps = 0 the gradient is
    0 (the norm's subgradient at 0), as torch."""
    x = np.array([[1.0, 2.0, -3.0], [0.5, 0.5, 0.5]])
    for eps in (1e-6, 0.0):
        ours, theirs = both("pairwise_distance", eps=eps)
        run_both(ours, theirs, [x, x.copy()], grad_of=(0, 1))
        a = tg.tensor(x, requires_grad=True)
        L.pairwise_distance(a, tg.tensor(x), eps=eps).sum().backward()
        expected = np.full((2, 3), 1 / np.sqrt(3) if eps else 0.0)
        np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-9)
    ours, theirs = both("pairwise_distance", p=0)  # p = 0 counts the entries that differ
    run_both(ours, theirs, [np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([[1.0, 0.0]] * 2)],
             grad_of=())


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), 0])
def test_pdist_matches_torch(p, dtype):
    x = RNG.standard_normal((6, 3))
    grad_of = () if p == 0 else (0,)
    run_both(lambda a: L.pdist(a, p=p), lambda a: TF.pdist(a, p=p), [x], grad_of=grad_of,
             dtype=dtype)
    x[3] = x[1]  # two equal rows: distance 0, and no gradient from that pair (torch's rule)
    run_both(lambda a: L.pdist(a, p=p), lambda a: TF.pdist(a, p=p), [x], grad_of=grad_of,
             dtype=dtype)
    run_both(lambda a: L.pdist(a, p=p), lambda a: TF.pdist(a, p=p), [x[:1]], grad_of=grad_of,
             dtype=dtype)  # one row: no pairs
    run_both(lambda a: L.pdist(a, p=p), lambda a: TF.pdist(a, p=p), [x[:0]], grad_of=(),
             dtype=dtype)  # no rows (torch 2.13's backward crashes on it: forward only)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_matches_torch(swap, reduction, dtype):
    a, pos, neg = (RNG.standard_normal((5, 4)) for _ in range(3))
    for margin, p in ((1.0, 2.0), (0.5, 1.0), (2.0, 3.0)):
        ours, theirs = both("triplet_margin_loss", margin=margin, p=p, swap=swap,
                            reduction=reduction)
        run_both(ours, theirs, [a, pos, neg], grad_of=(0, 1, 2), dtype=dtype)
    run_both(ours, theirs, [a, pos[:1], neg], grad_of=(0, 1, 2), dtype=dtype)  # broadcast
    run_both(ours, theirs, [a[0], pos[0], neg[0]], grad_of=(0, 1, 2), dtype=dtype)  # (D,)
    module = L.TripletMarginLoss(margin=0.8, p=1.0, eps=1e-3, swap=swap, reduction=reduction)
    run_both(module, torch.nn.TripletMarginLoss(margin=0.8, p=1.0, eps=1e-3, swap=swap,
                                                reduction=reduction),
             [a, pos, neg], grad_of=(0, 1, 2), dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(swap, reduction):
    a, pos, neg = (RNG.standard_normal((5, 4)) for _ in range(3))
    ours, theirs = both("triplet_margin_with_distance_loss", swap=swap, reduction=reduction,
                        margin=1.5)
    run_both(ours, theirs, [a, pos, neg], grad_of=(0, 1, 2))  # default: pairwise_distance

    def cosine_distance(lib):
        cos = L.cosine_similarity if lib is tg else TF.cosine_similarity
        return lambda x, y: 1.0 - cos(x, y)

    run_both(lambda *t: L.triplet_margin_with_distance_loss(
                 *t, distance_function=cosine_distance(tg), margin=0.5, swap=swap,
                 reduction=reduction),
             lambda *t: TF.triplet_margin_with_distance_loss(
                 *t, distance_function=cosine_distance(torch), margin=0.5, swap=swap,
                 reduction=reduction),
             [a, pos, neg], grad_of=(0, 1, 2))
    for dtype in DTYPES:
        run_both(L.TripletMarginWithDistanceLoss(distance_function=L.PairwiseDistance(p=1.0),
                                                 swap=swap, reduction=reduction),
                 torch.nn.TripletMarginWithDistanceLoss(
                     distance_function=torch.nn.PairwiseDistance(p=1.0), swap=swap,
                     reduction=reduction),
                 [a, pos, neg], grad_of=(0, 1, 2), dtype=dtype)
        run_both(L.TripletMarginWithDistanceLoss(reduction=reduction),
                 torch.nn.TripletMarginWithDistanceLoss(reduction=reduction),
                 [a, pos, neg], grad_of=(0, 1, 2), dtype=dtype)


# ----------------------------------------------------------------------------------------------
# poisson_nll_loss, gaussian_nll_loss
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_matches_torch(full, log_input, reduction, dtype):
    rate = RNG.uniform(0.2, 4.0, size=(4, 5))
    x = np.log(rate) if log_input else rate
    # counts 1, 2, 3... and fractional targets on both sides of 1; no 0 (torch's target
    # gradient is NaN there with full=True; see the next test)
    t = np.maximum(RNG.poisson(rate), 1).astype(np.float64)
    t[0, :3] = [0.5, 1.0, 1.5]
    ours, theirs = both("poisson_nll_loss", log_input=log_input, full=full, reduction=reduction)
    run_both(ours, theirs, [x, t], grad_of=(0, 1), dtype=dtype)
    run_both(ours, theirs, [x[:, :1], t[0]], grad_of=(0, 1), dtype=dtype)  # broadcast (4, 5)
    run_both(L.PoissonNLLLoss(log_input=log_input, full=full, eps=1e-3, reduction=reduction),
             torch.nn.PoissonNLLLoss(log_input=log_input, full=full, eps=1e-3,
                                     reduction=reduction), [x, t], dtype=dtype)


def test_poisson_nll_loss_zero_counts():
    """A zero count: the value and the input's gradient are torch's; the target's gradient with
    full=True is finite (Stirling's term is left out for t <= 1), where torch's is NaN."""
    x = np.array([0.3, -0.2, 1.0])
    t = np.array([0.0, 1.0, 3.0])
    for log_input in (True, False):
        ours, theirs = both("poisson_nll_loss", log_input=log_input, full=True)
        run_both(ours, theirs, [np.abs(x), t], grad_of=(0,))
        xt, tt = tg.tensor(np.abs(x), requires_grad=True), tg.tensor(t, requires_grad=True)
        L.poisson_nll_loss(xt, tt, log_input=log_input, full=True, reduction="sum").backward()
        assert np.isfinite(tt.grad.numpy()).all()
        expected = -(np.log(np.abs(x) + 1e-8) if not log_input else np.abs(x))
        expected[2] += np.log(3.0) + 0.5 / 3.0  # d/dt of t log t - t + 0.5 log(2 pi t)
        np.testing.assert_allclose(tt.grad.numpy(), expected, rtol=1e-10)


GAUSSIAN_VARS = [(4, 5), (4,), (4, 1), (1, 5)]  # per element, per sample, shared along a dim


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss_matches_torch(full, reduction, dtype):
    x, y = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    ours, theirs = both("gaussian_nll_loss", full=full, reduction=reduction)
    for var_shape in GAUSSIAN_VARS:
        var = RNG.uniform(0.1, 2.0, size=var_shape)
        run_both(ours, theirs, [x, y, var], grad_of=(0, 1, 2), dtype=dtype)
    run_both(ours, theirs, [x, y[0], RNG.uniform(0.1, 2.0, size=4)], grad_of=(0, 1, 2),
             dtype=dtype)  # the target broadcasts
    run_both(ours, theirs, [x, y, 0.7], grad_of=(0, 1), dtype=dtype)  # a number
    run_both(ours, theirs, [x[0], y[0], np.array(0.5)], grad_of=(0, 1, 2), dtype=dtype)  # (C,)
    run_both(L.GaussianNLLLoss(full=full, eps=1e-2, reduction=reduction),
             torch.nn.GaussianNLLLoss(full=full, eps=1e-2, reduction=reduction),
             [x, y, RNG.uniform(0.0, 0.05, size=(4, 5))], grad_of=(0, 1, 2), dtype=dtype)


def test_gaussian_nll_loss_clamps_var_in_value_only_like_torch():
    """Variances below eps (0 included) count as eps, and the gradient reaches var through the
    clamp unchanged: d/dvar = 0.5 (1/eps - (x - y)^2 / eps^2) there, as torch."""
    x, y = np.array([1.0, 0.5, -1.0]), np.array([0.0, 0.5, 1.0])
    var = np.array([0.0, 1e-9, 2.0])
    eps = 1e-3
    ours, theirs = both("gaussian_nll_loss", eps=eps, reduction="none")
    _, (_, _, v) = run_both(ours, theirs, [x, y, var], grad_of=(0, 1, 2))
    expected = 0.5 * (1 / np.maximum(var, eps) - (x - y) ** 2 / np.maximum(var, eps) ** 2)
    assert v.grad is not None
    plain = tg.tensor(var, requires_grad=True)
    L.gaussian_nll_loss(tg.tensor(x), tg.tensor(y), plain, eps=eps, reduction="sum").backward()
    np.testing.assert_allclose(plain.grad.numpy(), expected, rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# float64 central differences (away from the kinks) and second derivatives
# ----------------------------------------------------------------------------------------------


def test_losses_gradcheck():
    x, x2, x3 = (RNG.standard_normal((3, 5)) for _ in range(3))
    y_pm = tg.tensor(signs((3, 5)))
    t_cls = tg.tensor([4, 0, 2])
    t_lab = tg.tensor(MULTILABEL_TARGETS[:3, :5] % 5 * (MULTILABEL_TARGETS[:3, :5] >= 0)
                      - (MULTILABEL_TARGETS[:3, :5] < 0))
    cases = [
        (lambda a, b, y: L.margin_ranking_loss(a, b, y, margin=0.3), [x, x2, signs((3, 5))]),
        (lambda a: L.hinge_embedding_loss(a, y_pm, margin=0.9), [np.abs(x)]),
        (lambda a, y: L.soft_margin_loss(a, y), [x, x2]),  # the target too (torch refuses)
        (lambda a, y, w: L.multilabel_soft_margin_loss(a, y, weight=w),
         [x, RNG.random((3, 5)), RNG.uniform(0.5, 2, 5)]),
        (lambda a: L.multi_margin_loss(a, t_cls, p=2, margin=0.7,
                                       weight=tg.tensor([1.0, 2.0, 0.5, 1.0, 3.0])), [x]),
        (lambda a: L.multilabel_margin_loss(a, t_lab, reduction="sum"), [x]),
        (lambda a, p, n: L.triplet_margin_loss(a, p, n, margin=2.0, p=3, swap=True),
         [x, x2, x3]),
        (lambda a, p, n: L.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda u, v: 1 - L.cosine_similarity(u, v), margin=0.5),
         [x, x2, x3]),
        (lambda a, b: L.pairwise_distance(a, b, p=1.5, keepdim=True), [x, x2]),
        (lambda a: L.pdist(a, p=2.5), [x]),
        (lambda a, t: L.poisson_nll_loss(a, t, full=True), [x, RNG.uniform(0.0, 4.0, (3, 5))]),
        (lambda a, t: L.poisson_nll_loss(a, t, log_input=False),
         [np.abs(x) + 0.1, RNG.uniform(0.0, 4.0, (3, 5))]),
        (lambda a, t, v: L.gaussian_nll_loss(a, t, v, full=True),
         [x, x2, RNG.uniform(0.1, 2.0, (3, 1))]),
    ]
    for fn, arrays in cases:
        gradcheck(fn, arrays)


def test_second_derivatives_match_torch():
    """Composites of differentiable ops: Hessian-vector products equal torch's."""
    x, x2, x3 = (RNG.standard_normal((3, 4)) for _ in range(3))
    var = RNG.uniform(0.2, 2.0, (3, 4))
    cases = [
        (both("gaussian_nll_loss"), [x, x2, var]),
        (both("triplet_margin_loss", margin=2.0, p=3.0), [x, x2, x3]),
        (both("poisson_nll_loss"), [x, np.abs(x2)]),
        (both("multilabel_soft_margin_loss"), [x, RNG.random((3, 4))]),
    ]
    for (ours_fn, theirs_fn), arrays in cases:
        results = []
        for lib, fn in ((tg, ours_fn), (torch, theirs_fn)):
            xs = [lib.tensor(a, requires_grad=True) for a in arrays]
            grad = tg.grad if lib is tg else torch.autograd.grad
            gs = grad(fn(*xs), xs, create_graph=True)
            vs = [lib.tensor(np.random.default_rng(i).standard_normal(a.shape))
                  for i, a in enumerate(arrays)]
            results.append(grad(sum((g * v).sum() for g, v in zip(gs, vs)), xs))
        for ours, theirs in zip(*results):
            assert_close(ours, theirs, what="Hessian-vector product")


# ----------------------------------------------------------------------------------------------
# Reprs, deprecated arguments, errors
# ----------------------------------------------------------------------------------------------


def test_layer_reprs_and_attributes_match_torch():
    pairs = [
        (L.MarginRankingLoss(margin=0.5), torch.nn.MarginRankingLoss(margin=0.5)),
        (L.HingeEmbeddingLoss(margin=2.0), torch.nn.HingeEmbeddingLoss(margin=2.0)),
        (L.SoftMarginLoss(reduction="sum"), torch.nn.SoftMarginLoss(reduction="sum")),
        (L.MultiLabelSoftMarginLoss(weight=tg.ones(3)),
         torch.nn.MultiLabelSoftMarginLoss(weight=torch.ones(3))),
        (L.MultiMarginLoss(p=2, margin=0.5), torch.nn.MultiMarginLoss(p=2, margin=0.5)),
        (L.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss()),
        (L.TripletMarginLoss(margin=2.0, p=1.0, eps=1e-3, swap=True),
         torch.nn.TripletMarginLoss(margin=2.0, p=1.0, eps=1e-3, swap=True)),
        (L.TripletMarginWithDistanceLoss(), torch.nn.TripletMarginWithDistanceLoss()),
        (L.TripletMarginWithDistanceLoss(distance_function=L.PairwiseDistance(p=1.0), swap=True),
         torch.nn.TripletMarginWithDistanceLoss(
             distance_function=torch.nn.PairwiseDistance(p=1.0), swap=True)),
        (L.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a)),
        (L.PoissonNLLLoss(log_input=False, full=True), torch.nn.PoissonNLLLoss(False, True)),
        (L.GaussianNLLLoss(full=True, eps=1e-3), torch.nn.GaussianNLLLoss(full=True, eps=1e-3)),
        (L.PairwiseDistance(p=1.0, keepdim=True), torch.nn.PairwiseDistance(p=1.0, keepdim=True)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        for name in ("reduction", "margin", "p", "eps", "swap", "full", "log_input", "norm",
                     "keepdim"):
            if hasattr(theirs, name):
                assert getattr(ours, name) == getattr(theirs, name), name
    weighted = L.MultiMarginLoss(weight=[1.0, 2.0])
    assert "weight" in dict(weighted.named_buffers())  # a buffer, like torch's


FUNCTIONALS = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
               "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
               "triplet_margin_loss", "triplet_margin_with_distance_loss", "poisson_nll_loss",
               "gaussian_nll_loss"]
LAYERS = ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
          "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
          "TripletMarginLoss", "TripletMarginWithDistanceLoss", "PoissonNLLLoss",
          "GaussianNLLLoss", "PairwiseDistance"]


def _parameters(fn):
    """(name, kind, default) of each parameter: torch's signature, type hints left out."""
    return [(q.name, q.kind, q.default) for q in inspect.signature(fn).parameters.values()]


def test_signatures_match_torch():
    """Argument names, order, keyword-only markers and defaults: functionals, layer
    constructors and forwards (PoissonNLLLoss.forward names its input ``log_input``, as torch)."""
    for name in FUNCTIONALS:
        assert _parameters(getattr(L, name)) == _parameters(getattr(TF, name)), name
    for name in LAYERS:
        ours, theirs = getattr(L, name), getattr(torch.nn, name)
        assert _parameters(ours.__init__) == _parameters(theirs.__init__), name
        assert _parameters(ours.forward) == _parameters(theirs.forward), name


def test_deprecated_size_average_and_reduce_arguments():
    x, y = tg.randn(3, 4), tg.tensor(signs((3, 4)))
    with pytest.warns(DeprecationWarning, match="soft_margin_loss: size_average and reduce"):
        none = L.soft_margin_loss(x, y, reduce=False)
    assert tuple(none.shape) == (3, 4)
    with pytest.warns(DeprecationWarning):
        total = L.margin_ranking_loss(x, x * 2, y, size_average=False)
    assert total.ndim == 0
    with pytest.warns(DeprecationWarning):
        assert L.MultiMarginLoss(reduce=False).reduction == "none"


def test_loss_errors_explain_the_problem():
    x = tg.randn(4, 3)
    t = tg.tensor([0, 2, 1, 1])

    def raises(exc, message, fn, *args, **kwargs):
        with pytest.raises(exc, match=re.escape(message)):
            fn(*args, **kwargs)

    raises(ValueError, "margin_ranking_loss: input1, input2 and target must have the same "
           "number of dims, got shapes (4, 3), (4, 3) and (4,)",
           L.margin_ranking_loss, x, x, tg.ones(4))
    raises(ValueError, "margin_ranking_loss: input1 (4, 3), input2 (4, 2), target (4, 3) cannot "
           "be broadcast together", L.margin_ranking_loss, x, tg.randn(4, 2), tg.ones(4, 3))
    raises(ValueError, "hinge_embedding_loss: 'avg' is not a valid value for reduction",
           L.hinge_embedding_loss, x, tg.ones(4, 3), reduction="avg")
    raises(ValueError, "soft_margin_loss: target of shape (2, 4, 3) must broadcast to the "
           "input's shape (4, 3)", L.soft_margin_loss, x, tg.ones(2, 4, 3))
    raises(ValueError, "multilabel_soft_margin_loss: input must have a class dim",
           L.multilabel_soft_margin_loss, tg.tensor(1.0), tg.tensor(1.0))
    raises(ValueError, "multilabel_soft_margin_loss: input (4, 3), weight (4,) cannot be "
           "broadcast together", L.multilabel_soft_margin_loss, x, tg.ones(4, 3),
           weight=tg.ones(4))
    raises(ValueError, "multilabel_soft_margin_loss: weight of shape (2, 1, 3) must broadcast "
           "to the input's shape (4, 3), but it would grow the input",
           L.multilabel_soft_margin_loss, x, tg.ones(4, 3), weight=tg.ones(2, 1, 3))
    raises(ValueError, "multi_margin_loss: only p == 1 and p == 2 are supported, got p=3",
           L.multi_margin_loss, x, t, p=3)
    raises(ValueError, "MultiMarginLoss: only p == 1 and p == 2", L.MultiMarginLoss, p=0)
    raises(ValueError, "multi_margin_loss: expected input (N, C) or (C,) with C > 0 classes (or "
           "a 0-d input), got shape (2, 4, 3)", L.multi_margin_loss, tg.randn(2, 4, 3), t)
    raises(ValueError, "multi_margin_loss: expected a target of shape (4,) (one class index per "
           "sample of the input (4, 3)), got (4, 1)", L.multi_margin_loss, x, t.reshape(4, 1))
    raises(TypeError, "multi_margin_loss: targets must be integer class indices (int64), got "
           "dtype float32", L.multi_margin_loss, x, t.float())
    raises(IndexError, "multi_margin_loss: target 3 is out of bounds for 3 classes",
           L.multi_margin_loss, x, tg.tensor([0, 3, 1, 1]))
    raises(IndexError, "multi_margin_loss: target -1 is out of bounds",
           L.multi_margin_loss, x, tg.tensor([0, -1, 1, 1]))
    raises(ValueError, "multi_margin_loss: weight must have shape (3,) (one per class), got "
           "(4,)", L.multi_margin_loss, x, t, weight=tg.ones(4))
    raises(ValueError, "multilabel_margin_loss: expected a target of shape (4, 3) (the input's: "
           "class indices padded with -1), got (4,)", L.multilabel_margin_loss, x, t)
    raises(IndexError, "multilabel_margin_loss: target 3 is out of range: expected class "
           "indices 0..2, or -1 to end the list", L.multilabel_margin_loss, tg.randn(3),
           tg.tensor([0, -1, 3]))
    raises(IndexError, "multilabel_margin_loss: target -2 is out of range",
           L.multilabel_margin_loss, tg.randn(3), tg.tensor([-2, 0, 1]))
    raises(TypeError, "multilabel_margin_loss: targets must be integer class indices",
           L.multilabel_margin_loss, x, tg.zeros(4, 3))
    raises(ValueError, "pairwise_distance: x1 (4, 3), x2 (4, 2) cannot be broadcast together",
           L.pairwise_distance, x, tg.randn(4, 2))
    raises(TypeError, "pairwise_distance: x2 must be a Tensor, got list",
           L.pairwise_distance, x, [1.0, 2.0, 3.0])
    raises(ValueError, "pdist: expected a 2-d input (N rows of M features), got shape (3,)",
           L.pdist, tg.randn(3))
    raises(ValueError, "pdist: p must be >= 0, got -1", L.pdist, x, p=-1)
    raises(TypeError, "pdist: input must be floating point, got dtype int64", L.pdist,
           tg.tensor([[1, 2], [3, 4]]))
    raises(ValueError, "triplet_margin_loss: margin must be greater than 0, got 0",
           L.triplet_margin_loss, x, x, x, margin=0)
    raises(ValueError, "TripletMarginLoss: margin must be greater than 0, got -1.0",
           L.TripletMarginLoss, margin=-1.0)
    raises(ValueError, "TripletMarginWithDistanceLoss: margin must be greater than 0",
           L.TripletMarginWithDistanceLoss, margin=0.0)
    raises(ValueError, "triplet_margin_with_distance_loss: anchor, positive and negative must "
           "have the same number of dims, got shapes (4, 3), (3,) and (4, 3)",
           L.triplet_margin_with_distance_loss, x, tg.randn(3), x)
    raises(ValueError, "triplet_margin_with_distance_loss: 'avg' is not a valid value",
           L.triplet_margin_with_distance_loss, x, x, x, reduction="avg")
    raises(ValueError, "poisson_nll_loss: input (4, 3), target (2,) cannot be broadcast "
           "together", L.poisson_nll_loss, x, tg.ones(2))
    raises(ValueError, "gaussian_nll_loss: var of shape (3,) does not fit the input (4, 3): "
           "expected the input's shape, the input's shape without its last dim, or the input's "
           "shape with one dim of size 1", L.gaussian_nll_loss, x, x, tg.ones(3))
    raises(ValueError, "gaussian_nll_loss: var of shape (1, 1) does not fit",
           L.gaussian_nll_loss, x, x, tg.ones(1, 1))
    raises(ValueError, "gaussian_nll_loss: var has negative entries (min -1)",
           L.gaussian_nll_loss, x, x, -tg.ones(4, 3))
    raises(ValueError, "gaussian_nll_loss: var must be >= 0, got -0.5",
           L.gaussian_nll_loss, x, x, -0.5)
    raises(ValueError, "gaussian_nll_loss: 'avg' is not a valid value for reduction",
           L.gaussian_nll_loss, x, x, 1.0, reduction="avg")
    raises(ValueError, "GaussianNLLLoss: 'batchmean' is not a valid value",
           L.GaussianNLLLoss, reduction="batchmean")


def test_losses_on_device(device):
    """Every new loss on ``device`` (targets may come from the host) gives the CPU values and
    gradients."""
    x, x2, x3 = (RNG.standard_normal((4, 5)) for _ in range(3))
    y_pm, probs = signs((4, 5)), RNG.random((4, 5))
    t_cls, t_lab = np.array([4, 0, 2, 2]), MULTILABEL_TARGETS[:, :5] % 5
    t_lab[:, 2] = -1
    w = RNG.uniform(0.5, 2.0, 5)

    def total(on, a, b, c):
        return (L.margin_ranking_loss(a, b, y_pm, margin=0.2)
                + L.hinge_embedding_loss(a.abs(), y_pm)
                + L.soft_margin_loss(a, tg.tensor(y_pm, device=on))
                + L.multilabel_soft_margin_loss(a, probs, weight=tg.tensor(w, device=on))
                + L.multi_margin_loss(a, t_cls, p=2, weight=w)
                + L.multilabel_margin_loss(a, tg.tensor(t_lab, device=on))
                + L.triplet_margin_loss(a, b, c, swap=True)
                + L.triplet_margin_with_distance_loss(a, b, c)
                + L.pairwise_distance(a, b, p=3).sum() + L.pdist(a).sum()
                + L.poisson_nll_loss(a, probs * 3, full=True)
                + L.gaussian_nll_loss(a, b, c.abs() + 0.1))

    results = []
    for on in ("cpu", device):
        xs = [tg.tensor(a, device=on, requires_grad=True) for a in (x, x2, x3)]
        loss = total(on, *xs)
        loss.backward()
        assert loss.device == xs[0].device
        results.append([loss] + [t.grad for t in xs])
    for ours, cpu in zip(results[1], results[0]):
        assert_close(ours.cpu(), cpu)
