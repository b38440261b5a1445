"""Losses against torch.nn.functional for every option combination (weight, ignore_index,
label_smoothing, pos_weight, reduction; class indices and class probabilities; (C,), (N, C) and
(N, C, d1, d2) inputs), values and gradients in float64, numerical stability at logits +-1e4,
gradcheck, the loss Modules, the regularization penalties, and input errors."""

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as NF

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(0)


def run_both(ours_fn, theirs_fn, arrays, grad_of=(0,), dtype=np.float64):
    """Evaluate both losses on the same arrays (integer arrays stay integers); compare the value
    and the gradients of the inputs listed in ``grad_of``. Returns our value."""
    def make(lib, a, i):
        if a is None:
            return None
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        wants = i in grad_of
        return (tg.tensor(a, requires_grad=wants) if lib == "tg"
                else torch.tensor(a, requires_grad=wants))

    ours_in = [make("tg", a, i) for i, a in enumerate(arrays)]
    theirs_in = [make("torch", a, i) for i, a in enumerate(arrays)]
    ours, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert_close(ours, theirs, dtype, what="loss value")
    upstream = RNG.standard_normal(ours.shape).astype(dtype)
    (ours * tg.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    for i in grad_of:
        assert_close(ours_in[i].grad, theirs_in[i].grad, dtype, what=f"gradient of input {i}")
    return ours


def class_targets(shape, n_classes, ignore_index=None):
    t = RNG.integers(0, n_classes, size=shape)
    if ignore_index is not None and t.size > 1:
        t.reshape(-1)[::3] = ignore_index  # some entries are ignored
    return t


# ----------------------------------------------------------------------------------------------
# cross_entropy and nll_loss with class indices
# ----------------------------------------------------------------------------------------------

CLASS_SHAPES = [((6, 4), (6,)), ((2, 4, 3, 2), (2, 3, 2)), ((4,), ())]


@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices_all_options(shapes, reduction):
    input_shape, target_shape = shapes
    weight = RNG.uniform(0.2, 2.0, size=4)
    for w, ignore_index, smoothing in itertools.product([None, weight], [-100, 1], [0.0, 0.2]):
        x = RNG.standard_normal(input_shape) * 3
        t = class_targets(target_shape, 4, ignore_index if ignore_index >= 0 else None)

        def ours(x, t, w, ii=ignore_index, ls=smoothing):
            return NF.cross_entropy(x, t, weight=w, ignore_index=ii, reduction=reduction,
                                    label_smoothing=ls)

        def theirs(x, t, w, ii=ignore_index, ls=smoothing):
            return TF.cross_entropy(x, t, weight=w, ignore_index=ii, reduction=reduction,
                                    label_smoothing=ls)

        run_both(ours, theirs, [x, t, w])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [-100, 2, 0])
def test_cross_entropy_unweighted_path_matches_torch(reduction, ignore_index):
    """With no weight and no entry ignored, cross_entropy skips the per-sample weights (the
    usual training case). ignore_index 2 lies inside the targets' range but is absent; 0 is
    present. Each must match torch, and the weighted path with weights of one."""
    x = RNG.standard_normal((7, 5)) * 3
    t = np.array([0, 4, 1, 3, 0, 4, 1])

    def ours(x, t, w=None):
        return NF.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction)

    def theirs(x, t, w=None):
        return TF.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction)

    plain = run_both(ours, theirs, [x, t])
    weighted = run_both(ours, theirs, [x, t, np.ones(5)])
    np.testing.assert_allclose(plain.detach().numpy(), weighted.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignored", ["none", "some", "all"])
def test_cross_entropy_kernel_path_matches_array_path_and_torch(dtype, reduction, ignored):
    """Unweighted (N, C) logits under the Numba kernels take ``CrossEntropyRows`` (one kernel
    pass for the loss and the gradient); the reference setting takes ``CrossEntropyIndices``'
    array code. Both match torch, value and gradient, in float32 and float64."""
    x = (RNG.standard_normal((13, 7)) * 3).astype(dtype)
    t = RNG.integers(0, 7, 13)
    t[{"none": [], "some": [0, 5, 12], "all": slice(None)}[ignored]] = 3
    upstream = RNG.standard_normal(13 if reduction == "none" else ()).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    theirs = TF.cross_entropy(tx, torch.tensor(t), ignore_index=3, reduction=reduction)
    theirs.backward(torch.tensor(upstream))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else {}
    for kernel, op in (("numba", "CrossEntropyRows"), ("reference", "CrossEntropyIndices")):
        with tg.use_kernel(kernel):
            ours_x = tg.tensor(x, requires_grad=True)
            ours = NF.cross_entropy(ours_x, tg.tensor(t), ignore_index=3, reduction=reduction)
            assert type(ours._ctx).__name__ == op
            ours.backward(tg.tensor(upstream))
        assert ours.dtype == dtype and ours_x.grad.dtype == dtype
        assert_close(ours, theirs, dtype, what=f"{op} value", **tol)
        assert_close(ours_x.grad, tx.grad, dtype, what=f"{op} gradient", **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignored", [False, True])
def test_cross_entropy_kernel_path_second_order_matches_torch(reduction, ignored):
    """create_graph through ``CrossEntropyRows``: the gradient is itself differentiable (its
    Tensor formulas), so a Hessian-vector product matches torch's."""
    x = RNG.standard_normal((6, 4)) * 2
    t = np.array([0, 3, 1, 2, 3, 1])
    if ignored:
        t[[1, 4]] = -100
    v = RNG.standard_normal((6, 4))
    results = []
    for lib in (tg, torch):
        xx = lib.tensor(x, requires_grad=True)
        f = NF.cross_entropy if lib is tg else TF.cross_entropy
        loss = f(xx, lib.tensor(t), reduction=reduction)
        if reduction == "none":
            loss = (loss * lib.tensor(np.arange(1.0, 7.0))).sum()
        (g,) = (tg.grad if lib is tg else torch.autograd.grad)(loss, xx, create_graph=True)
        (hv,) = (tg.grad if lib is tg else torch.autograd.grad)((g * lib.tensor(v)).sum(), xx)
        results.append((g, hv))
    assert type(NF.cross_entropy(tg.tensor(x, requires_grad=True), tg.tensor(t))._ctx
                ).__name__ == "CrossEntropyRows"
    assert_close(results[0][0].detach(), results[1][0].detach(), what="gradient")
    assert_close(results[0][1], results[1][1], what="Hessian-vector product")


def test_cross_entropy_kernel_path_gradcheck():
    x = tg.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    t = tg.tensor([2, 0, -100, 1, 2])
    assert tg.gradcheck(lambda x: NF.cross_entropy(x, t), (x,))


@pytest.mark.parametrize("kernel", ["numba", "reference"])
def test_cross_entropy_out_of_range_errors_on_both_paths(kernel):
    x = tg.randn(4, 3)
    with tg.use_kernel(kernel):
        for bad in (3, -2):
            with pytest.raises(IndexError, match=re.escape(
                    f"cross_entropy: target {bad} is out of bounds for 3 classes (valid class "
                    "indices are 0..2; input shape (4, 3))")):
                NF.cross_entropy(x, tg.tensor([0, -100, bad, 2]))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
def test_every_target_ignored_gives_nan_mean_and_zero_gradient(shapes, smoothing, device):
    """torch's rule for a batch with nothing left to average: the "mean" loss is 0/0 = nan but
    the gradient is 0 (no nan leaks into the weights); the fused path and nll_loss alike."""
    input_shape, target_shape = shapes
    x = RNG.standard_normal(input_shape)
    t = np.full(target_shape, 1)
    for weight in (None, [1.0, 2.0, 0.5, 1.0]):
        ours_x = tg.tensor(x, device=device, requires_grad=True)
        theirs_x = torch.tensor(x, requires_grad=True)
        w_ours = None if weight is None else tg.tensor(weight)
        w_theirs = None if weight is None else torch.tensor(weight, dtype=torch.float64)
        ours = (NF.cross_entropy(ours_x, tg.tensor(t), weight=w_ours, ignore_index=1,
                                 label_smoothing=smoothing)
                + NF.nll_loss(ours_x, tg.tensor(t), weight=w_ours, ignore_index=1))
        theirs = (TF.cross_entropy(theirs_x, torch.tensor(t), weight=w_theirs, ignore_index=1,
                                   label_smoothing=smoothing)
                  + TF.nll_loss(theirs_x, torch.tensor(t), weight=w_theirs, ignore_index=1))
        ours.backward()
        theirs.backward()
        assert np.isnan(ours.item()) and np.isnan(theirs.item())
        assert_close(ours_x.grad, theirs_x.grad)
        assert not np.isnan(ours_x.grad.numpy()).any()


@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_all_options(shapes, reduction):
    input_shape, target_shape = shapes
    weight = RNG.uniform(0.2, 2.0, size=4)
    for w, ignore_index in itertools.product([None, weight], [-100, 2]):
        logits = torch.tensor(RNG.standard_normal(input_shape))
        logp = torch.log_softmax(logits, dim=0 if len(input_shape) == 1 else 1).numpy()
        t = class_targets(target_shape, 4, ignore_index if ignore_index >= 0 else None)
        run_both(lambda x, t, w, ii=ignore_index: NF.nll_loss(x, t, w, ignore_index=ii,
                                                               reduction=reduction),
                 lambda x, t, w, ii=ignore_index: TF.nll_loss(x, t, w, ignore_index=ii,
                                                               reduction=reduction),
                 [logp, t, w])


def test_cross_entropy_all_targets_ignored_gives_nan_like_torch():
    x, t = RNG.standard_normal((3, 4)), np.full(3, -100)
    ours = NF.cross_entropy(tg.tensor(x), tg.tensor(t))
    theirs = TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(ours.item()) and torch.isnan(theirs)


# ----------------------------------------------------------------------------------------------
# cross_entropy with class probabilities
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_shape", [(6, 4), (2, 4, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_probabilities_all_options(input_shape, reduction):
    weight = RNG.uniform(0.2, 2.0, size=4)
    for w, smoothing in itertools.product([None, weight], [0.0, 0.3]):
        x = RNG.standard_normal(input_shape) * 2
        p = torch.softmax(torch.tensor(RNG.standard_normal(input_shape)), dim=1).numpy()

        def ours(x, p, w, ls=smoothing):
            return NF.cross_entropy(x, p, weight=w, reduction=reduction, label_smoothing=ls)

        def theirs(x, p, w, ls=smoothing):
            return TF.cross_entropy(x, p, weight=w, reduction=reduction, label_smoothing=ls)

        run_both(ours, theirs, [x, p, w], grad_of=(0, 1))  # soft targets get gradients too


# ----------------------------------------------------------------------------------------------
# Numerical stability at +-1e4
# ----------------------------------------------------------------------------------------------

HUGE = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, 1e4], [3.0, 1e4, 1e4, -2.0]])


def _finite(t: tg.Tensor) -> bool:
    return bool(np.all(np.isfinite(np.asarray(t.detach()))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_classification_losses_are_stable_at_huge_logits(dtype):
    t = np.array([1, 3, 0])
    probs = np.array([[0.1, 0.2, 0.3, 0.4]] * 3)
    cases = [
        (lambda x, t: NF.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t), t),
        (lambda x, t: NF.cross_entropy(x, t, label_smoothing=0.1),
         lambda x, t: TF.cross_entropy(x, t, label_smoothing=0.1), t),
        (lambda x, p: NF.cross_entropy(x, p), lambda x, p: TF.cross_entropy(x, p), probs),
        (lambda x, t: NF.nll_loss(x.log_softmax(1), t),
         lambda x, t: TF.nll_loss(x.log_softmax(1), t), t),
    ]
    for ours_fn, theirs_fn, target in cases:
        out = run_both(ours_fn, theirs_fn, [HUGE, target], dtype=dtype)
        assert _finite(out)
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    options = itertools.product([None, weight], [-100, 3], [0.0, 0.25], REDUCTIONS)
    for w, ignore_index, smoothing, reduction in options:
        kwargs = dict(ignore_index=ignore_index, label_smoothing=smoothing, reduction=reduction)
        out = run_both(lambda x, t, w, kw=kwargs: NF.cross_entropy(x, t, weight=w, **kw),
                       lambda x, t, w, kw=kwargs: TF.cross_entropy(x, t, weight=w, **kw),
                       [HUGE, t, w], dtype=dtype)
        assert _finite(out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_is_stable_at_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0, 30.0, -30.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.3, 0.7])
    pos_weight = np.full(7, 2.5)
    for pw in (None, pos_weight):
        out = run_both(
            lambda x, t, pw: NF.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                                 reduction="none"),
            lambda x, t, pw: TF.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                                 reduction="none"),
            [x, t, pw], grad_of=(0, 1), dtype=dtype)
        assert _finite(out)
    value = NF.binary_cross_entropy_with_logits(tg.tensor([-1e4]), tg.tensor([1.0]))
    assert value.item() == pytest.approx(1e4)  # -log sigmoid(-1e4), not inf


def test_bce_clamps_its_logs_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-30])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    out = run_both(lambda x, t: NF.binary_cross_entropy(x, t, reduction="none"),
                   lambda x, t: TF.binary_cross_entropy(x, t, reduction="none"), [x, t])
    assert out.tolist()[:2] == [100.0, 100.0]  # log(0) is clamped at -100
    xt = tg.tensor(x, requires_grad=True)
    tt = tg.tensor(t, requires_grad=True)
    NF.binary_cross_entropy(xt, tt).backward()
    assert _finite(xt.grad) and _finite(tt.grad)


# ----------------------------------------------------------------------------------------------
# Binary losses with every option
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_all_options(reduction):
    x = RNG.uniform(0.02, 0.98, size=(5, 3))
    t = np.concatenate([RNG.integers(0, 2, size=(3, 3)), RNG.uniform(0, 1, size=(2, 3))])
    for w in (None, RNG.uniform(0.5, 2.0, size=3), RNG.uniform(0.5, 2.0, size=(5, 3))):
        run_both(lambda x, t, w: NF.binary_cross_entropy(x, t, w, reduction=reduction),
                 lambda x, t, w: TF.binary_cross_entropy(x, t, w, reduction=reduction),
                 [x, t, w], grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_all_options(reduction):
    x = RNG.standard_normal((5, 3)) * 4
    t = RNG.uniform(0, 1, size=(5, 3))
    weights = (None, RNG.uniform(0.5, 2.0, size=3))
    for w, pw in itertools.product(weights, (None, np.array([0.5, 1.0, 3.0]))):
        run_both(
            lambda x, t, w, pw: NF.binary_cross_entropy_with_logits(
                x, t, w, reduction=reduction, pos_weight=pw),
            lambda x, t, w, pw: TF.binary_cross_entropy_with_logits(
                x, t, w, reduction=reduction, pos_weight=pw),
            [x, t, w, pw], grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction):
    for ours, theirs in [(NF.mse_loss, TF.mse_loss), (NF.l1_loss, TF.l1_loss)]:
        check_op(lambda x, y, f=ours: f(x, y, reduction=reduction),
                 lambda x, y, f=theirs: f(x, y, reduction=reduction), [(4, 3), (4, 3)])


# ----------------------------------------------------------------------------------------------
# gradcheck (float64 central differences), float32 against torch
# ----------------------------------------------------------------------------------------------


def test_losses_gradcheck_and_float32():
    t = np.array([0, 2, 1])
    w = tg.tensor([0.5, 1.0, 2.0], dtype=tg.float64)
    check_op(lambda x: NF.cross_entropy(x, tg.tensor(t), weight=w, label_smoothing=0.1),
             lambda x: TF.cross_entropy(x, torch.tensor(t), weight=torch.tensor(w.numpy()).to(
                 x.dtype), label_smoothing=0.1), [(3, 3)])
    check_op(lambda x, p: NF.cross_entropy(x, p.softmax(1)),
             lambda x, p: TF.cross_entropy(x, p.softmax(1)), [(3, 3), (3, 3)])
    check_op(lambda x: NF.nll_loss(x, tg.tensor(t), ignore_index=2),
             lambda x: TF.nll_loss(x, torch.tensor(t), ignore_index=2), [(3, 3)])
    check_op(lambda x, y: NF.binary_cross_entropy(x, y),
             lambda x, y: TF.binary_cross_entropy(x, y), [(2, 3), (2, 3)], low=0.05, high=0.95)
    check_op(lambda x, y: NF.binary_cross_entropy_with_logits(x, y, pos_weight=w),
             lambda x, y: TF.binary_cross_entropy_with_logits(
                 x, y, pos_weight=torch.tensor(w.numpy()).to(x.dtype)), [(2, 3), (2, 3)], low=0,
             high=1)


# ----------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------


def test_loss_modules_match_torch_and_keep_weights_as_buffers():
    w = np.array([0.5, 1.0, 2.0, 1.5])
    x = RNG.standard_normal((5, 4))
    t = np.array([0, 3, 3, 1, 2])
    pairs = [
        (nn.CrossEntropyLoss(weight=tg.tensor(w), ignore_index=1, reduction="sum",
                             label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=1, reduction="sum",
                                   label_smoothing=0.1), [x, t]),
        (nn.NLLLoss(weight=tg.tensor(w)), torch.nn.NLLLoss(weight=torch.tensor(w)),
         [torch.log_softmax(torch.tensor(x), 1).numpy(), t]),
        (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none"), [x, x[::-1].copy()]),
        (nn.L1Loss(), torch.nn.L1Loss(), [x, x * 0.5]),
        (nn.BCELoss(weight=tg.tensor(w)), torch.nn.BCELoss(weight=torch.tensor(w)),
         [1 / (1 + np.exp(-x)), (x > 0).astype(float)]),
        (nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), [x, (x > 0).astype(float)]),
    ]
    for ours, theirs, arrays in pairs:
        run_both(ours, theirs, arrays)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
    weighted = nn.CrossEntropyLoss(weight=[1.0, 2.0])
    assert isinstance(weighted.weight, tg.Tensor)


def test_deprecated_size_average_and_reduce_arguments():
    x, y = tg.tensor([1.0, 2.0]), tg.tensor([0.0, 0.0])
    with pytest.warns(DeprecationWarning):
        assert NF.mse_loss(x, y, size_average=False).item() == 5.0
    with pytest.warns(DeprecationWarning):
        assert NF.mse_loss(x, y, reduce=False).tolist() == [1.0, 4.0]


# ----------------------------------------------------------------------------------------------
# Penalties
# ----------------------------------------------------------------------------------------------


def test_l1_and_l2_penalties():
    model = nn.Linear(3, 2)
    weights = [p.detach().numpy() for p in model.parameters()]
    l1 = NF.l1_penalty(model)
    l2 = nn.loss.l2_penalty(model.parameters())
    assert l1.item() == pytest.approx(sum(np.abs(w).sum() for w in weights), rel=1e-6)
    assert l2.item() == pytest.approx(sum((w * w).sum() for w in weights), rel=1e-6)
    (0.1 / 2 * l2).backward()  # the same gradient as SGD weight_decay=0.1
    for p in model.parameters():
        assert_close(p.grad, 0.1 * p.detach().numpy(), np.float32)
    assert NF.l2_penalty(tg.tensor([3.0, 4.0])).item() == 25.0
    with pytest.raises(ValueError, match="empty list"):
        NF.l1_penalty([])


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_loss_errors_explain_the_problem():
    x = tg.randn(4, 3)
    with pytest.raises(ValueError, match=re.escape(
            "mse_loss: target shape (4,) differs from input shape (4, 1)")):
        NF.mse_loss(tg.randn(4, 1), tg.randn(4))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        NF.l1_loss(x, x, reduction="avg")
    with pytest.raises(IndexError, match=re.escape(
            "cross_entropy: target 7 is out of bounds for 3 classes")):
        NF.cross_entropy(x, tg.tensor([0, 1, 7, 2]))
    with pytest.raises(IndexError, match="target -2 is out of bounds"):
        nn.CrossEntropyLoss()(x, tg.tensor([0, 1, -2, 2]))
    with pytest.raises(ValueError, match=re.escape(
            "cross_entropy: expected target of shape (4,) (the input shape (4, 3) without the "
            "class dim 1), got (4, 1)")):
        NF.cross_entropy(x, tg.tensor([[0], [1], [2], [0]]))
    with pytest.raises(ValueError, match="class probabilities and must have the input's shape"):
        NF.cross_entropy(x, tg.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        NF.cross_entropy(x, x.softmax(1), ignore_index=0)
    with pytest.raises(ValueError, match=re.escape("weight must have shape (3,)")):
        NF.cross_entropy(x, tg.tensor([0, 1, 2, 0]), weight=tg.ones(4))
    with pytest.raises(TypeError, match="class-index targets must be integers"):
        NF.nll_loss(x, tg.tensor([[0.0, 1.0, 0.0]] * 3))
    with pytest.raises(ValueError, match="label_smoothing must be between"):
        NF.cross_entropy(x, tg.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="between 0 and 1.*use binary_cross_entropy_with_logits"):
        NF.binary_cross_entropy(x, tg.ones(4, 3))
    with pytest.raises(ValueError, match="target shape"):
        NF.binary_cross_entropy_with_logits(x, tg.ones(4))


def test_losses_on_device(device):
    """The same losses on ``device`` give the CPU/torch values (targets may live on the host)."""
    x = RNG.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    logits = tg.tensor(x, device=device, requires_grad=True)
    total = (NF.cross_entropy(logits, tg.tensor(t), weight=tg.tensor([1.0, 2.0, 1.0, 0.5]),
                              label_smoothing=0.1)
             + NF.binary_cross_entropy_with_logits(logits, tg.tensor((x > 0) * 1.0,
                                                                     device=device))
             + NF.mse_loss(logits, tg.zeros(5, 4, dtype=tg.float64, device=device)))
    th_logits = torch.tensor(x, requires_grad=True)
    expected = (TF.cross_entropy(th_logits, torch.tensor(t),
                                 weight=torch.tensor([1.0, 2.0, 1.0, 0.5], dtype=torch.float64),
                                 label_smoothing=0.1)
                + TF.binary_cross_entropy_with_logits(th_logits, torch.tensor((x > 0) * 1.0))
                + TF.mse_loss(th_logits, torch.zeros(5, 4, dtype=torch.float64)))
    total.backward()
    expected.backward()
    assert total.device == device
    assert_close(total, expected)
    assert_close(logits.grad, th_logits.grad)


def test_nn_functional_exports_the_losses():
    for name in ("mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div",
                 "cosine_similarity", "cosine_embedding_loss", "margin_ranking_loss",
                 "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
                 "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_loss",
                 "triplet_margin_with_distance_loss", "poisson_nll_loss", "gaussian_nll_loss",
                 "pairwise_distance", "pdist"):
        assert getattr(NF, name) is getattr(nn.loss, name)
        assert getattr(TF, name)  # the same name exists in torch.nn.functional
    for name in ("MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
                 "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
                 "TripletMarginLoss", "TripletMarginWithDistanceLoss", "PoissonNLLLoss",
                 "GaussianNLLLoss", "PairwiseDistance"):
        assert getattr(nn, name) is getattr(nn.loss, name)
        assert getattr(torch.nn, name)


# ----------------------------------------------------------------------------------------------
# smooth_l1_loss, huber_loss, kl_div, cosine_similarity, cosine_embedding_loss
# ----------------------------------------------------------------------------------------------


def hessian_vector_product_matches_torch(ours_fn, theirs_fn, arrays):
    """create_graph through the loss: d/dx <v, dloss/dx> for every input equals torch's."""
    results = []
    for lib in (tg, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        loss = (ours_fn if lib is tg else theirs_fn)(*xs)
        if loss.ndim:  # the same random upstream gradient for both
            upstream = np.random.default_rng(1).standard_normal(tuple(loss.shape))
            loss = (loss * lib.tensor(upstream)).sum()
        grad = tg.grad if lib is tg else torch.autograd.grad
        gs = grad(loss, xs, create_graph=True)
        vs = [lib.tensor(np.random.default_rng(2 + i).standard_normal(a.shape))
              for i, a in enumerate(arrays)]
        inner = sum((g * v).sum() for g, v in zip(gs, vs))
        results.append((gs, grad(inner, xs, allow_unused=True)))
    for k in range(len(arrays)):
        assert_close(results[0][0][k].detach(), results[1][0][k], what=f"gradient {k}")
        ours, theirs = results[0][1][k], results[1][1][k]
        theirs = np.zeros(arrays[k].shape) if theirs is None else theirs
        ours = np.zeros(arrays[k].shape) if ours is None else ours
        assert_close(ours, theirs, what=f"Hessian-vector product {k}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.4, 2.5, 0.0])
def test_smooth_l1_loss_matches_torch(reduction, beta):
    """float64 and float32 value and gradients (input and target) against torch, and float64
    central differences; |x - y| spans both sides of beta."""
    check_op(lambda x, y: NF.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
             lambda x, y: TF.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
             [(5, 4), (5, 4)], low=-3, high=3)
    module = nn.SmoothL1Loss(reduction=reduction, beta=beta)
    run_both(module, torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
             [RNG.standard_normal((3, 6)) * 2, RNG.standard_normal((3, 6))], grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_loss_matches_torch(reduction, delta):
    check_op(lambda x, y: NF.huber_loss(x, y, reduction=reduction, delta=delta),
             lambda x, y: TF.huber_loss(x, y, reduction=reduction, delta=delta),
             [(5, 4), (5, 4)], low=-3, high=3)
    check_op(lambda x, y, w: NF.huber_loss(x, y, reduction=reduction, delta=delta, weight=w),
             lambda x, y, w: TF.huber_loss(x, y, reduction=reduction, delta=delta, weight=w),
             [(3, 4), (3, 4), (3, 4)], low=-3, high=3)
    run_both(nn.HuberLoss(reduction=reduction, delta=delta),
             torch.nn.HuberLoss(reduction=reduction, delta=delta),
             [RNG.standard_normal((3, 6)) * 2, RNG.standard_normal((3, 6))], grad_of=(0, 1))


def test_huber_is_delta_times_smooth_l1():
    x, y = tg.tensor(RNG.standard_normal(20) * 3), tg.tensor(RNG.standard_normal(20))
    for delta in (0.5, 1.0, 2.0):
        assert_close(NF.huber_loss(x, y, delta=delta),
                     delta * NF.smooth_l1_loss(x, y, beta=delta).numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(dtype, reduction, log_target):
    """Value and gradients (log-probabilities and target) against torch, every reduction."""
    log_q = np.log(RNG.dirichlet(np.ones(5), size=4))  # the model's log-probabilities (N, C)
    p = RNG.dirichlet(np.ones(5), size=4)
    target = np.log(p) if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reduction="mean" warns (both libraries)
        run_both(lambda x, t: NF.kl_div(x, t, reduction=reduction, log_target=log_target),
                 lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target),
                 [log_q, target], grad_of=(0, 1), dtype=dtype)
        run_both(nn.KLDivLoss(reduction=reduction, log_target=log_target),
                 torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
                 [log_q, target], dtype=dtype)


def test_kl_div_gradcheck_zero_targets_and_the_mean_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for log_target in (False, True):
            check_op(lambda x, t, lt=log_target: NF.kl_div(x, t, reduction="batchmean",
                                                           log_target=lt),
                     lambda x, t, lt=log_target: TF.kl_div(x, t, reduction="batchmean",
                                                           log_target=lt),
                     [(3, 4), (3, 4)], low=0.1, high=1.0)
    # 0 log 0 = 0: a zero target adds nothing, and the input gets no gradient there
    x = tg.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    t = tg.tensor([[0.0, 0.25, 0.75]])
    loss = NF.kl_div(x, t, reduction="sum")
    expected = 0.25 * (np.log(0.25) + 2.0) + 0.75 * (np.log(0.75) + 0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert x.grad.tolist() == [[0.0, -0.25, -0.75]]
    with pytest.warns(UserWarning, match="kl_div: reduction='mean' divides the total loss by "
                                         "the number of elements"):
        NF.kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NF.kl_div(x, t, reduction="batchmean")
    assert NF.kl_div(tg.tensor(-1.0), tg.tensor(0.5), reduction="batchmean").item() == (
        pytest.approx(0.5 * (np.log(0.5) + 1.0)))  # 0-d: batchmean is the sum


COSINE_SHAPES = [((4, 5), (4, 5), 1), ((4, 5), (4, 5), 0), ((4, 5), (4, 5), -1),
                 ((1, 5), (4, 5), 0), ((3, 1), (1, 4), 0), ((3, 4), (2, 3, 4), 1),
                 ((2, 3, 4), (2, 3, 4), 2), ((5,), (5,), 0)]


@pytest.mark.parametrize("shapes", COSINE_SHAPES, ids=str)
def test_cosine_similarity_matches_torch(shapes):
    """Broadcast inputs, dim in the broadcast shape; float64 and float32, gradcheck."""
    s1, s2, dim = shapes
    check_op(lambda a, b: NF.cosine_similarity(a, b, dim=dim),
             lambda a, b: TF.cosine_similarity(a, b, dim=dim), [s1, s2])
    run_both(nn.CosineSimilarity(dim=dim), torch.nn.CosineSimilarity(dim=dim),
             [RNG.standard_normal(s1), RNG.standard_normal(s2)], grad_of=(0, 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_cosine_similarity_clamps_the_norms_like_torch(dtype):
    """Norms below eps are clamped in value only: the gradient is the unclamped norm's (torch
    2.13 clamps them in place under no_grad), and a zero vector gives cos 0 and finite grads."""
    x1 = np.array([[1e-9, 2e-9, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    x2 = np.array([[1.0, 0.0, 1.0], [1.0, 2.0, 3.0], [1e-10, 0.0, -1e-10]])
    ours = run_both(lambda a, b: NF.cosine_similarity(a, b, eps=1e-8),
                    lambda a, b: TF.cosine_similarity(a, b, eps=1e-8), [x1, x2],
                    grad_of=(0, 1), dtype=dtype)
    assert ours.detach().numpy()[1] == 0.0
    run_both(lambda a, b: NF.cosine_similarity(a, b, eps=0.5),
             lambda a, b: TF.cosine_similarity(a, b, eps=0.5),
             [x1 * 1e8, x2 * 0.1], grad_of=(0, 1), dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    a = RNG.standard_normal((8, 5))
    b = a + RNG.standard_normal((8, 5))  # mostly positive cosines: the margin matters
    b[4:] = -b[4:]
    y = np.array([1, -1, 1, -1, 1, -1, -1, 0])  # labels other than +-1 add nothing
    run_both(lambda x1, x2, t: NF.cosine_embedding_loss(x1, x2, t, margin=margin,
                                                        reduction=reduction),
             lambda x1, x2, t: TF.cosine_embedding_loss(x1, x2, t, margin=margin,
                                                        reduction=reduction),
             [a, b, y], grad_of=(0, 1))
    run_both(nn.CosineEmbeddingLoss(margin=margin, reduction=reduction),
             torch.nn.CosineEmbeddingLoss(margin=margin, reduction=reduction),
             [a, b, y.astype(np.float64)], grad_of=(0, 1), dtype=np.float32)
    for label in (1, -1):  # (D,) inputs with a 0-d target
        run_both(lambda x1, x2, t: NF.cosine_embedding_loss(x1, x2, t, margin=margin,
                                                            reduction=reduction),
                 lambda x1, x2, t: TF.cosine_embedding_loss(x1, x2, t, margin=margin,
                                                            reduction=reduction),
                 [a[0], b[0], np.array(label)], grad_of=(0, 1))


def test_cosine_embedding_loss_gradcheck():
    y = tg.tensor([1, -1, -1, 1])
    check_op(lambda a, b: NF.cosine_embedding_loss(a, b, y, margin=-0.2),
             lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y.numpy()), margin=-0.2),
             [(4, 3), (4, 3)])


def test_new_losses_second_derivatives_match_torch():
    """The losses are built from differentiable ops: Hessian-vector products equal torch's and
    pass float64 gradgradcheck."""
    x = RNG.standard_normal((4, 5)) * 2
    y = RNG.standard_normal((4, 5))
    p = RNG.dirichlet(np.ones(5), size=4)
    y_pm = tg.tensor([1, -1, 1, -1])
    cases = [
        (lambda a, b: NF.smooth_l1_loss(a, b, beta=0.8),
         lambda a, b: TF.smooth_l1_loss(a, b, beta=0.8), [x, y]),
        (lambda a, b: NF.huber_loss(a, b, delta=1.5, reduction="sum"),
         lambda a, b: TF.huber_loss(a, b, delta=1.5, reduction="sum"), [x, y]),
        (lambda a, b: NF.kl_div(a, b, reduction="batchmean"),
         lambda a, b: TF.kl_div(a, b, reduction="batchmean"), [np.log(p[::-1].copy()), p]),
        (lambda a, b: NF.kl_div(a, b, reduction="none", log_target=True),
         lambda a, b: TF.kl_div(a, b, reduction="none", log_target=True), [x, y]),
        (lambda a, b: NF.cosine_similarity(a, b, dim=1),
         lambda a, b: TF.cosine_similarity(a, b, dim=1), [x, y]),
        (lambda a, b: NF.cosine_embedding_loss(a, b, y_pm, margin=-0.5),
         lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y_pm.numpy()), margin=-0.5),
         [x, y]),
    ]
    for ours, theirs, arrays in cases:
        hessian_vector_product_matches_torch(ours, theirs, arrays)
        inputs = [tg.tensor(a, requires_grad=True) for a in arrays]
        assert tg.gradgradcheck(ours, inputs)


def test_new_loss_errors_explain_the_problem():
    x = tg.randn(4, 3)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0, got -1.0"):
        NF.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0, got 0.0"):
        NF.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=re.escape(
            "huber_loss: weight must have the input's shape (4, 3), got (3,)")):
        NF.huber_loss(x, x, weight=tg.ones(3))
    with pytest.raises(ValueError, match=re.escape(
            "smooth_l1_loss: target shape (4,) differs from input shape (4, 1)")):
        NF.smooth_l1_loss(tg.randn(4, 1), tg.randn(4))
    with pytest.raises(ValueError, match="huber_loss: 'avg' is not a valid value"):
        NF.huber_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=re.escape(
            "kl_div: 'avg' is not a valid value for reduction; expected one of ('none', "
            "'batchmean', 'sum', 'mean')")):
        NF.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="kl_div: target shape"):
        NF.kl_div(x, tg.randn(3), reduction="sum")
    with pytest.raises(ValueError, match="MSELoss: 'batchmean' is not a valid value"):
        nn.MSELoss(reduction="batchmean")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(ValueError, match=re.escape(
            "cosine_similarity: x1 (4, 3) and x2 (4, 5) cannot be broadcast together")):
        NF.cosine_similarity(x, tg.randn(4, 5))
    with pytest.raises(IndexError, match=re.escape(
            "cosine_similarity: dim 2 is out of range for the broadcast shape (4, 3) "
            "(expected a dim in [-2, 1])")):
        NF.cosine_similarity(x, x, dim=2)
    with pytest.raises(TypeError, match="cosine_similarity: x2 must be a Tensor, got list"):
        NF.cosine_similarity(x, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=re.escape(
            "cosine_embedding_loss: expected a 0-d or 1-d target (one label per pair), got "
            "shape (4, 1)")):
        NF.cosine_embedding_loss(x, x, tg.ones(4, 1))
    with pytest.raises(ValueError, match=re.escape(
            "cosine_embedding_loss: a 0-d target expects two 1-d inputs of one shape, got "
            "(4, 3) and (4, 3)")):
        NF.cosine_embedding_loss(x, x, tg.tensor(1.0))
    with pytest.raises(ValueError, match="a 1-d target expects two 2-d inputs of one shape"):
        NF.cosine_embedding_loss(x, tg.randn(4, 5), tg.ones(4))
    with pytest.raises(ValueError, match=re.escape(
            "cosine_embedding_loss: target has 3 labels but the inputs have 4 pairs")):
        NF.cosine_embedding_loss(x, x, tg.ones(3))
