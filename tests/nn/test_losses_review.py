"""Review of the margin, distance and likelihood losses against torch 2.13: the gradient at
every kink (torch's choice), ties, unbatched (0-d / 1-d) and empty inputs, integer targets,
broadcasting, float32 and float64, module defaults, errors that name the op; float64
gradchecks and Hessian-vector products on odd shapes.

Regressions: pdist(p=inf) gave tied entries a split gradient (torch gives each the whole of it)
and raised on rows without features (torch: distance 0); triplet_margin_loss reported operands
that do not broadcast as an error of pairwise_distance."""

import math
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.nn import loss as L

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]
REDUCTIONS = ["none", "mean", "sum"]
RNG = np.random.default_rng(7)


def compare(ours_fn, theirs_fn, arrays, grad_of=(), dtype=np.float64, seed=0):
    """Both losses on the same arrays (integer arrays stay integers): output shape, dtype and
    value (NaN where torch has NaN), then the gradient of each input in ``grad_of`` under one
    random upstream gradient. Returns our inputs."""
    def make(lib, a, i):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        return lib.tensor(a, requires_grad=i in grad_of)

    ours_in = [make(tg, a, i) for i, a in enumerate(arrays)]
    theirs_in = [make(torch, a, i) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of an empty batch: 0 / 0
        ours, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    assert tuple(ours.shape) == tuple(theirs.shape), (tuple(ours.shape), tuple(theirs.shape))
    assert ours.dtype == np.dtype(dtype)
    assert_close(ours, theirs, dtype, what="loss value")
    if grad_of:
        upstream = np.random.default_rng(seed).standard_normal(tuple(ours.shape)).astype(dtype)
        (ours * tg.tensor(upstream)).sum().backward()
        (theirs * torch.tensor(upstream)).sum().backward()
        for i in grad_of:
            assert ours_in[i].grad is not None, f"input {i}: no gradient, torch has one"
            assert ours_in[i].grad.dtype == np.dtype(dtype)
            assert_close(ours_in[i].grad, theirs_in[i].grad, dtype, what=f"gradient of {i}")
    return ours_in


def both(name, **kwargs):
    return (lambda *a: getattr(L, name)(*a, **kwargs),
            lambda *a: getattr(TF, name)(*a, **kwargs))


def gradcheck(fn, arrays):
    assert tg.gradcheck(fn, [tg.tensor(np.asarray(a, np.float64), requires_grad=True)
                             for a in arrays])


# ----------------------------------------------------------------------------------------------
# Regressions: pdist at p = inf, triplet_margin_loss's broadcast error
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_pdist_inf_gives_every_tied_entry_the_whole_gradient_like_torch(dtype):
    """|x_0 - x_1| = (1, 1): both entries are the max, and each gets all of dy (torch's pdist;
    norm(p=inf) would give each half)."""
    x = tg.tensor(np.array([[0.0, 0.0], [1.0, -1.0]], dtype), requires_grad=True)
    out = L.pdist(x, p=math.inf)
    out.backward(tg.tensor(np.array([2.0], dtype)))
    assert out.tolist() == [1.0]
    np.testing.assert_array_equal(x.grad.numpy(), [[-2.0, 2.0], [2.0, -2.0]])
    ties = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    compare(lambda a: L.pdist(a, p=math.inf), lambda a: TF.pdist(a, p=math.inf), [ties],
            grad_of=(0,), dtype=dtype)


@pytest.mark.parametrize("p", [0, 0.5, 1, 2, 3, math.inf])
def test_pdist_of_rows_without_features_is_zero_like_torch(p):
    grad_of = () if p == 0 else (0,)  # norm(p=0) records no graph (torch's gradient is 0)
    compare(lambda a: L.pdist(a, p=p), lambda a: TF.pdist(a, p=p), [np.zeros((3, 0))],
            grad_of=grad_of)
    assert L.pdist(tg.zeros((3, 0)), p=p).tolist() == [0.0, 0.0, 0.0]


def test_pdist_inf_away_from_ties_passes_gradcheck():
    gradcheck(lambda a: L.pdist(a, p=math.inf), [RNG.standard_normal((5, 3))])


def test_pdist_inf_on_device(device):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [1.0, 2.0, 3.0]])
    grads = []
    for on in ("cpu", device):
        t = tg.tensor(x, device=on, requires_grad=True)
        out = L.pdist(t, p=math.inf)
        out.sum().backward()
        assert out.device == t.device
        grads.append((out.cpu(), t.grad.cpu()))
    for ours, cpu in zip(*grads):
        assert_close(ours, cpu)


def test_triplet_losses_name_themselves_when_operands_do_not_broadcast():
    x = tg.randn(4, 3)
    with pytest.raises(ValueError, match=re.escape(
            "triplet_margin_loss: anchor (4, 3), positive (2, 3) cannot be broadcast together")):
        L.triplet_margin_loss(x, tg.randn(2, 3), x)
    with pytest.raises(ValueError, match=re.escape(
            "triplet_margin_loss: anchor (4, 3), negative (4, 2) cannot be broadcast together")):
        L.triplet_margin_loss(x, x, tg.randn(4, 2))
    with pytest.raises(ValueError, match=re.escape(
            "triplet_margin_with_distance_loss: anchor (4, 3), positive (2, 3) cannot be "
            "broadcast together")):
        L.triplet_margin_with_distance_loss(x, tg.randn(2, 3), x)
    # positive and negative meet only with swap=True, as in torch
    a, pos, neg = np.array([1.0]), np.array([0.0, 2.0, 3.0]), np.array([5.0, -1.0])
    ours, theirs = both("triplet_margin_loss", margin=4.0)
    compare(ours, theirs, [a, pos, neg], grad_of=(0, 1, 2))
    with pytest.raises(ValueError, match=re.escape(
            "triplet_margin_loss: positive (3,), negative (2,) cannot be broadcast together")):
        L.triplet_margin_loss(tg.tensor(a), tg.tensor(pos), tg.tensor(neg), swap=True)
    # a custom distance decides for itself what it accepts
    first = lambda u, v: u[..., 0] - v[..., 0]  # noqa: E731
    loss = L.triplet_margin_with_distance_loss(x, tg.randn(4, 2), tg.randn(4, 5),
                                               distance_function=first, reduction="none")
    assert tuple(loss.shape) == (4,)


# ----------------------------------------------------------------------------------------------
# Kinks and ties: the gradient torch chooses there
# ----------------------------------------------------------------------------------------------

KINKS = {
    # -y (x1 - x2) + margin = 0 exactly: clamp_min passes the gradient (torch's >=)
    "margin_ranking": (both("margin_ranking_loss", margin=0.5, reduction="none"),
                       [np.array([1.5, 1.0, 2.0]), np.array([1.0, 1.0, 2.5]),
                        np.array([1.0, 1.0, -1.0])], (0, 1, 2)),
    "margin_ranking_margin_0": (both("margin_ranking_loss", reduction="sum"),
                                [np.array([1.0, 2.0]), np.array([1.0, 2.0]),
                                 np.array([1.0, -1.0])], (0, 1, 2)),
    # margin - x = 0 exactly for y = -1 (gradient -1), and a label 0 takes both terms
    "hinge_embedding": (both("hinge_embedding_loss", margin=1.0, reduction="none"),
                        [np.array([1.0, 1.0, 0.5, 1.0]), np.array([-1.0, 1.0, -1.0, 0.0])],
                        (0,)),
    # margin + d(a, p) - d(a, n) = 1 + 1 - 2 = 0 exactly (p = 1 and 2, eps = 0)
    "triplet_p2": (both("triplet_margin_loss", eps=0.0, reduction="none"),
                   [np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]])],
                   (0, 1, 2)),
    "triplet_p1": (both("triplet_margin_loss", p=1.0, eps=0.0, reduction="none"),
                   [np.array([[0.0, 0.0]]), np.array([[0.5, 0.5]]), np.array([[1.0, 1.0]])],
                   (0, 1, 2)),
    # swap with d(a, n) = d(p, n) (a = p): torch.minimum splits the gradient in halves
    "triplet_swap_tie": (both("triplet_margin_loss", swap=True, margin=3.0, reduction="none"),
                         [np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[0.0, 1.0], [2.0, 2.0]]),
                          np.array([[1.0, 3.0], [0.5, 0.0]])], (0, 1, 2)),
    "triplet_with_distance_swap_tie": (
        both("triplet_margin_with_distance_loss", swap=True, margin=3.0, reduction="none"),
        [np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]])], (0, 1, 2)),
    # cos = 0 = margin for y = -1: clamp_min passes the gradient
    "cosine_embedding": (both("cosine_embedding_loss", margin=0.0, reduction="none"),
                         [np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 2.0]]),
                          np.array([-1, 1])], (0, 1)),
    # var = eps exactly: the clamp changes the value only, the gradient passes
    "gaussian_var_at_eps": (both("gaussian_nll_loss", eps=0.25, reduction="none"),
                            [np.array([1.0, 0.0]), np.array([0.0, 0.0]), np.array([0.25, 0.1])],
                            (0, 1, 2)),
    # t = 1 exactly: Stirling's term is masked (t <= 1), so is its gradient
    "poisson_full_t_1": (both("poisson_nll_loss", full=True, reduction="none"),
                         [np.array([0.3, 0.3, 0.3]), np.array([1.0, 1.5, 2.0])], (0, 1)),
    # pairwise_distance at ties of the inf-norm: torch.norm splits the gradient among them
    "pairwise_inf_tie": (both("pairwise_distance", p=math.inf, eps=0.0),
                         [np.array([[1.0, -1.0, 0.5]]), np.array([[0.0, 0.0, 0.0]])], (0, 1)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(KINKS))
def test_gradient_at_kinks_and_ties_is_torchs(case, dtype):
    (ours, theirs), arrays, grad_of = KINKS[case]
    compare(ours, theirs, arrays, grad_of=grad_of, dtype=dtype)


def test_hinge_kink_gradient_is_minus_one():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    L.hinge_embedding_loss(x, tg.tensor([-1.0, -1.0]), margin=1.0, reduction="sum").backward()
    assert x.grad.tolist() == [-1.0, 0.0]


# ----------------------------------------------------------------------------------------------
# Unbatched, empty and integer inputs
# ----------------------------------------------------------------------------------------------


def _unbatched_cases(reduction):
    x, y, z = (RNG.standard_normal(5) for _ in range(3))
    pm = np.array([1.0, -1.0, -1.0, 1.0, 1.0])
    r = {"reduction": reduction}
    return [
        (both("margin_ranking_loss", margin=0.3, **r), [x[0], y[0], pm[1]], (0, 1, 2)),
        (both("hinge_embedding_loss", **r), [np.abs(x[0]), pm[1]], (0,)),
        (both("soft_margin_loss", **r), [x[0], pm[0]], (0,)),
        (both("soft_margin_loss", **r), [x, pm], (0,)),
        (both("multilabel_soft_margin_loss", **r), [x, (pm > 0).astype(float)], (0,)),
        (both("multi_margin_loss", margin=2.0, **r), [x, np.array(3)], (0,)),
        (both("multi_margin_loss", p=2, margin=2.0, **r), [x, np.array([3])], (0,)),
        (both("multi_margin_loss", **r), [x[0], np.array(0)], (0,)),
        (both("multilabel_margin_loss", **r), [x, np.array([4, 1, -1, 0, 2])], (0,)),
        (both("triplet_margin_loss", **r), [x, y, z], (0, 1, 2)),
        (both("triplet_margin_loss", swap=True, margin=2.0, **r), [x[0], y[0], z[0]],
         (0, 1, 2)),
        (both("poisson_nll_loss", full=True, **r), [x[0], np.array(3.0)], (0, 1)),
        (both("gaussian_nll_loss", **r), [x, y, np.array(0.7)], (0, 1, 2)),
        (both("gaussian_nll_loss", **r), [x, y, np.array([0.7])], (0, 1, 2)),
        (both("gaussian_nll_loss", **r), [x[0], y[0], np.array(0.7)], (0, 1, 2)),
        (both("cosine_embedding_loss", margin=-0.2, **r), [x, y, np.array(-1)], (0, 1)),
    ]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_unbatched_inputs_match_torch(reduction, dtype):
    for (ours, theirs), arrays, grad_of in _unbatched_cases(reduction):
        compare(ours, theirs, arrays, grad_of=grad_of, dtype=dtype)
    for keepdim in (False, True):
        ours, theirs = both("pairwise_distance", p=3.0, keepdim=keepdim)
        compare(ours, theirs, [RNG.standard_normal(4), RNG.standard_normal(4)], grad_of=(0, 1),
                dtype=dtype)


def _empty_cases(reduction):
    e, r = np.zeros((0, 3)), {"reduction": reduction}
    return [
        (both("margin_ranking_loss", **r), [e, e, e], (0, 1)),
        (both("hinge_embedding_loss", **r), [e, e], (0,)),
        (both("soft_margin_loss", **r), [e, e], (0,)),
        (both("multilabel_soft_margin_loss", **r), [e, e], (0,)),
        (both("triplet_margin_loss", **r), [e, e, e], (0, 1, 2)),
        (both("triplet_margin_with_distance_loss", **r), [e, e, e], (0,)),
        (both("poisson_nll_loss", full=True, **r), [e, e], (0,)),
        (both("gaussian_nll_loss", **r), [e, e, e], (0, 2)),
        (both("cosine_embedding_loss", **r), [e, e, np.zeros(0)], (0,)),
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch_matches_torch(reduction):
    """'none': an empty loss, 'sum': 0, 'mean': NaN (0 / 0), each as torch."""
    for (ours, theirs), arrays, grad_of in _empty_cases(reduction):
        compare(ours, theirs, arrays, grad_of=grad_of)
    ours, theirs = both("pairwise_distance")
    compare(ours, theirs, [np.zeros((0, 3)), np.zeros((0, 3))], grad_of=(0,))


@pytest.mark.parametrize("name, target", [("multi_margin_loss", np.zeros(0, np.int64)),
                                          ("multilabel_margin_loss", np.zeros((0, 3), np.int64))])
def test_empty_batch_of_multi_class_margin_losses(name, target):
    """'none' and 'sum' as torch; 'mean' is 0 / 0 = NaN (torch 2.13 returns uninitialized
    memory there, so it is not compared)."""
    for reduction in ("none", "sum"):
        compare(*both(name, reduction=reduction), [np.zeros((0, 3)), target], grad_of=(0,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = getattr(L, name)(tg.zeros((0, 3)), tg.tensor(target))
    assert mean.ndim == 0 and math.isnan(mean.item())


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_integer_targets_match_torch(dtype):
    x, x2 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    labels = np.where(RNG.random((3, 4)) < 0.5, -1, 1)
    cases = [
        (both("margin_ranking_loss", margin=0.1, reduction="none"), [x, x2, labels], (0, 1)),
        (both("soft_margin_loss"), [x, labels], (0,)),
        (both("hinge_embedding_loss", reduction="sum"), [np.abs(x), labels], (0,)),
        (both("multilabel_soft_margin_loss", reduction="none"), [x, (labels > 0) * 1], (0,)),
        (both("poisson_nll_loss", full=True), [x, np.array([0, 1, 2, 7])], (0,)),
        (both("poisson_nll_loss", log_input=False), [np.abs(x), np.array([0, 1, 2, 7])], (0,)),
        (both("gaussian_nll_loss"), [x, np.array([0, 1, 2, 7]), np.abs(x2) + 0.1], (0, 2)),
        (both("cosine_embedding_loss", reduction="none"), [x, x2, labels[:, 0]], (0, 1)),
    ]
    for (ours, theirs), arrays, grad_of in cases:
        compare(ours, theirs, arrays, grad_of=grad_of, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Broadcasting (hypothesis), gradchecks and second derivatives on odd shapes
# ----------------------------------------------------------------------------------------------


@st.composite
def broadcast_shapes(draw, n_operands):
    """One shape of 1-3 dims, and ``n_operands`` copies with some sizes set to 1."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    return [tuple(1 if draw(st.booleans()) else s for s in shape) for _ in range(n_operands)]


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_shapes(3), margin=st.sampled_from([0.0, 0.4]),
       reduction=st.sampled_from(REDUCTIONS))
def test_margin_ranking_loss_broadcasts_like_torch(shapes, margin, reduction):
    rng = np.random.default_rng(len(shapes[0]))
    arrays = [rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1]),
              np.where(rng.random(shapes[2]) < 0.5, -1.0, 1.0)]
    compare(*both("margin_ranking_loss", margin=margin, reduction=reduction), arrays,
            grad_of=(0, 1, 2))


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_shapes(2), full=st.booleans(), log_input=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS))
def test_poisson_nll_loss_broadcasts_like_torch(shapes, full, log_input, reduction):
    rng = np.random.default_rng(sum(shapes[0]))
    x = rng.uniform(0.2, 2.0, shapes[0])
    t = rng.integers(1, 6, shapes[1]).astype(np.float64)  # no 0: torch's target grad is NaN
    compare(*both("poisson_nll_loss", full=full, log_input=log_input, reduction=reduction),
            [x, t], grad_of=(0, 1))


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_shapes(2), var_kind=st.sampled_from(["same", "short", "one"]),
       reduction=st.sampled_from(REDUCTIONS))
def test_gaussian_nll_loss_var_shapes_like_torch(shapes, var_kind, reduction):
    """var: the input's shape, the input's without its last dim, or with one dim set to 1."""
    x_shape, t_shape = shapes
    var_shape = {"same": x_shape, "short": x_shape[:-1],
                 "one": x_shape[:-1] + (1,)}[var_kind]
    rng = np.random.default_rng(len(x_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(t_shape),
              rng.uniform(0.1, 2.0, var_shape)]
    compare(*both("gaussian_nll_loss", reduction=reduction), arrays, grad_of=(0, 1, 2))


def test_gradcheck_on_odd_shapes():
    x35, x15, x31 = (RNG.standard_normal(s) for s in ((3, 5), (1, 5), (3, 1)))
    labels = tg.tensor(np.where(RNG.random(5) < 0.5, -1.0, 1.0))
    t_cls = tg.tensor([2, 0, 2, 1, 1, 0, 2])
    probs = tg.tensor(RNG.random(5))
    cases = [
        (lambda a, b, y: L.margin_ranking_loss(a, b, y, margin=0.2, reduction="none"),
         [x31, x15, x35]),
        (lambda a: L.hinge_embedding_loss(a, labels, margin=3.0, reduction="sum"),
         [RNG.uniform(0.0, 2.0, (3, 1))]),  # (3, 1) against labels (5,): the grad sums to it
        (lambda a, y: L.soft_margin_loss(a, y), [x35, RNG.standard_normal(5)]),
        (lambda a, w: L.multilabel_soft_margin_loss(a, probs, weight=w, reduction="none"),
         [RNG.standard_normal((2, 3, 5)), RNG.uniform(0.5, 2.0, (3, 1))]),
        (lambda a: L.multi_margin_loss(a, t_cls, margin=0.3, reduction="sum"),
         [RNG.standard_normal((7, 3))]),
        (lambda a: L.multilabel_margin_loss(a, tg.tensor([3, 0, -1, 1, 4])),
         [RNG.standard_normal(5)]),
        (lambda a, p, n: L.triplet_margin_loss(a, p, n, p=1.5, margin=3.0, swap=True),
         [x35, x15, RNG.standard_normal((3, 5))]),
        (lambda a, b: L.pairwise_distance(a, b, p=math.inf, keepdim=True),
         [RNG.standard_normal((2, 3, 4)), RNG.standard_normal(4)]),
        (lambda x, t: L.poisson_nll_loss(x, t, log_input=False, full=True),
         [RNG.uniform(0.5, 2.0, (4, 1)), RNG.uniform(1.5, 4.0, (4, 5))]),
        (lambda x, t, v: L.gaussian_nll_loss(x, t, v, full=True, reduction="sum"),
         [RNG.standard_normal((2, 3, 4)), RNG.standard_normal(4), RNG.uniform(0.2, 2, (2, 3))]),
        (lambda a, b: L.cosine_embedding_loss(a, b, tg.tensor([1, -1, -1, 1, -1]), margin=-0.9),
         [RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))]),
    ]
    for fn, arrays in cases:
        gradcheck(fn, arrays)


def test_second_derivatives_match_torch():
    """Hessian-vector products of the smooth losses equal torch's."""
    x, x2 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    signs = np.where(RNG.random((3, 4)) < 0.5, -1.0, 1.0)
    cases = [
        (both("soft_margin_loss"), [x, signs], (0,)),
        (both("cosine_embedding_loss", margin=-1.0), [x, x2, signs[:, 0]], (0, 1)),
        (both("gaussian_nll_loss", full=True), [x, x2, RNG.uniform(0.2, 2.0, (3,))], (0, 1, 2)),
        (both("pairwise_distance", p=3.0), [x, x2], (0, 1)),
        (both("poisson_nll_loss", log_input=False), [np.abs(x) + 0.5, np.abs(x2)], (0,)),
    ]
    for (ours_fn, theirs_fn), arrays, wrt in cases:
        results = []
        for lib, fn, grad in ((tg, ours_fn, tg.grad), (torch, theirs_fn, torch.autograd.grad)):
            xs = [lib.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
            leaves = [xs[i] for i in wrt]
            gs = grad(fn(*xs).sum(), leaves, create_graph=True)
            vs = [lib.tensor(np.random.default_rng(i).standard_normal(g.shape))
                  for i, g in enumerate(gs)]
            results.append(grad(sum((g * v).sum() for g, v in zip(gs, vs)), leaves))
        for ours, theirs in zip(*results):
            assert_close(ours, theirs, what="Hessian-vector product")


# ----------------------------------------------------------------------------------------------
# Modules and errors
# ----------------------------------------------------------------------------------------------

ATTRIBUTES = ("reduction", "margin", "p", "eps", "swap", "full", "log_input", "norm", "keepdim",
              "weight")


@pytest.mark.parametrize("name, args", [
    ("MarginRankingLoss", ()), ("HingeEmbeddingLoss", ()), ("SoftMarginLoss", ()),
    ("MultiLabelSoftMarginLoss", ()), ("MultiMarginLoss", ()), ("MultiMarginLoss", (2, 0.5)),
    ("MultiLabelMarginLoss", ()), ("TripletMarginLoss", ()), ("TripletMarginLoss", (0.5, 1.0)),
    ("TripletMarginWithDistanceLoss", ()), ("PoissonNLLLoss", ()),
    ("PoissonNLLLoss", (False, True)), ("GaussianNLLLoss", ()), ("PairwiseDistance", ()),
    ("PairwiseDistance", (1.0, 1e-3, True)), ("CosineEmbeddingLoss", (0.25,)),
])
def test_module_defaults_and_positional_arguments_match_torch(name, args):
    ours, theirs = getattr(L, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    for attribute in ATTRIBUTES:
        if hasattr(theirs, attribute):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute


def test_modules_pass_their_settings_to_the_functional():
    x, x2, x3 = (RNG.standard_normal((4, 5)) for _ in range(3))
    w = RNG.uniform(0.5, 2.0, 5)
    t_cls, probs = np.array([4, 0, 2, 2]), RNG.random((4, 5))
    pairs = [
        (L.MultiMarginLoss(2, 0.5, weight=w, reduction="none"),
         torch.nn.MultiMarginLoss(2, 0.5, weight=torch.tensor(w), reduction="none"), [x, t_cls]),
        (L.MultiLabelSoftMarginLoss(weight=w, reduction="sum"),
         torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor(w), reduction="sum"), [x, probs]),
        (L.TripletMarginLoss(2.0, 1.0, 1e-2, True, reduction="none"),
         torch.nn.TripletMarginLoss(2.0, 1.0, 1e-2, True, reduction="none"), [x, x2, x3]),
        (L.PoissonNLLLoss(False, True, eps=1e-2, reduction="none"),
         torch.nn.PoissonNLLLoss(False, True, eps=1e-2, reduction="none"),
         [np.abs(x), probs * 4]),
        (L.GaussianNLLLoss(full=True, eps=0.5, reduction="sum"),
         torch.nn.GaussianNLLLoss(full=True, eps=0.5, reduction="sum"), [x, x2, probs]),
        (L.HingeEmbeddingLoss(0.3, reduction="none"),
         torch.nn.HingeEmbeddingLoss(0.3, reduction="none"), [np.abs(x), np.sign(x2)]),
        (L.PairwiseDistance(1.0, 1e-3, True), torch.nn.PairwiseDistance(1.0, 1e-3, True),
         [x, x2]),
    ]
    for ours, theirs, arrays in pairs:
        compare(ours, theirs, arrays, grad_of=(0,))


@pytest.mark.parametrize("exc, message, call", [
    (ValueError, "hinge_embedding_loss: input (4, 3), target (2,) cannot be broadcast together",
     lambda x: L.hinge_embedding_loss(x, tg.ones(2))),
    (ValueError, "soft_margin_loss: input (4, 3), target (2,) cannot be broadcast together",
     lambda x: L.soft_margin_loss(x, tg.ones(2))),
    (ValueError, "multilabel_margin_loss: expected input (N, C) or (C,) with C > 0 classes (or "
     "a 0-d input), got shape (2, 4, 3)",
     lambda x: L.multilabel_margin_loss(tg.randn(2, 4, 3), tg.zeros((2, 4, 3), dtype=tg.int64))),
    (ValueError, "multi_margin_loss: expected input (N, C) or (C,) with C > 0 classes (or a "
     "0-d input), got shape (4, 0)",
     lambda x: L.multi_margin_loss(tg.zeros((4, 0)), tg.zeros(4, dtype=tg.int64))),
    (TypeError, "pdist: input must be a Tensor, got list", lambda x: L.pdist([[1.0, 2.0]])),
    (ValueError, "gaussian_nll_loss: input (4, 3), target (2,) cannot be broadcast together",
     lambda x: L.gaussian_nll_loss(x, tg.ones(2), 1.0)),
    (ValueError, "gaussian_nll_loss: var of shape (4, 3) does not fit the input (4, 1)",
     lambda x: L.gaussian_nll_loss(x[:, :1], x, tg.ones(4, 3))),
    (TypeError, "multilabel_soft_margin_loss: input must be a Tensor, got ndarray",
     lambda x: L.multilabel_soft_margin_loss(np.zeros((4, 3)), x)),
    (ValueError, "MultiMarginLoss: weight must be one-dimensional (C,), got shape (3, 1)",
     lambda x: L.MultiMarginLoss(weight=tg.ones((3, 1)))),
], ids=lambda v: v.split(":")[0] if isinstance(v, str) else "")
def test_bad_input_errors_name_the_op_and_the_shapes(exc, message, call):
    with pytest.raises(exc, match=re.escape(message)):
        call(tg.randn(4, 3))
