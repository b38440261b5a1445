"""Full review of tinygrad_edu/nn/loss.py against torch 2.13: every loss, forward values and the
gradients of the input (and of the target / weights where torch has them), float64 at 1e-10 and
float32, every reduction, the unbatched, K-dim, empty and all-ignored forms, the legacy
size_average/reduce arguments, the errors, and the Module forms (arguments, repr, buffers).

Regressions fixed in this review:
- mse_loss and l1_loss lacked torch 2.13's ``weight`` (its "mean" is sum w l / sum w);
- binary_cross_entropy and binary_cross_entropy_with_logits let a weight / pos_weight grow the
  input (torch refuses), and a weight that did not broadcast was reported as an error of ``mul``;
- cosine_embedding_loss refused what torch broadcasts (one (1, D) reference against a batch, a
  (1,) target);
- cross_entropy with label smoothing and class weights that sum to 0 over the targets gave a
  nan loss with a finite nonzero gradient (every other path gives the gradient 0);
- kl_div warned (a NumPy RuntimeWarning) on a negative target and on batchmean of an empty
  batch, and weighted mse/l1 on weights summing to 0: torch gives the nan silently;
- binary_cross_entropy's input gradient at x = 0 or 1 and cosine_embedding_loss's gradient at a
  zero vector differed from torch by 4e-9 (relative): torch's EPSILON is 1e-12 as a float32.
"""

import math
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.autograd import use_kernel
from tinygrad_edu.nn import loss as L

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]
REDUCTIONS = ["none", "mean", "sum"]
TOL = {np.float64: (1e-10, 1e-10), np.float32: (1e-5, 1e-4)}  # (atol, rtol)


def _close(ours, theirs, dtype, what):
    atol, rtol = TOL[dtype]
    a = np.asarray(ours.detach()) if isinstance(ours, tg.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def compare(ours_fn, theirs_fn, arrays, grad_of=(), dtype=np.float64, seed=0):
    """Both losses on the same arrays (integer arrays stay integers): output shape, dtype and
    value (NaN where torch has NaN), then, under one random upstream gradient, the gradient of
    each input in ``grad_of``. Warnings are recorded: returns (ours, torch's) warning messages."""
    def make(lib, a, i):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        return lib.tensor(a, requires_grad=i in grad_of)

    ours_in = [make(tg, a, i) for i, a in enumerate(arrays)]
    theirs_in = [make(torch, a, i) for i, a in enumerate(arrays)]
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = ours_fn(*ours_in)
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = theirs_fn(*theirs_in)
    assert tuple(ours.shape) == tuple(theirs.shape), (tuple(ours.shape), tuple(theirs.shape))
    assert ours.dtype == np.dtype(dtype)
    _close(ours, theirs, dtype, "loss value")
    if grad_of:
        upstream = np.random.default_rng(seed).standard_normal(tuple(ours.shape)).astype(dtype)
        (ours * tg.tensor(upstream)).sum().backward()
        (theirs * torch.tensor(upstream)).sum().backward()
        for i in grad_of:
            assert ours_in[i].grad is not None, f"input {i}: no gradient, torch has one"
            assert ours_in[i].grad.dtype == np.dtype(dtype)
            _close(ours_in[i].grad, theirs_in[i].grad, dtype, f"gradient of input {i}")
    return [str(w.message) for w in ours_warned], [str(w.message) for w in theirs_warned]


def both(name, **kwargs):
    """(ours, torch's) functional loss ``name`` with the same keyword arguments; a numpy array
    among them becomes a tensor of the input's dtype on each side."""
    def ours(*args):
        kw = {k: tg.tensor(v.astype(args[0].dtype)) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
        return getattr(L, name)(*args, **kw)

    def theirs(*args):
        kw = {k: torch.tensor(v).to(args[0].dtype) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
        return getattr(TF, name)(*args, **kw)

    return ours, theirs


RNG = np.random.default_rng(2024)
N, C = 5, 4
X = RNG.standard_normal((N, C))
T = np.array([0, 3, 1, 2, 1])
W = RNG.random(C) + 0.1
XK = RNG.standard_normal((3, C, 2, 3))  # (N, C, d1, d2)
TK = RNG.integers(0, C, (3, 2, 3))
TK_IGNORED = TK.copy()
TK_IGNORED[0, 0, 0] = TK_IGNORED[2, 1, 2] = -100
T_IGNORED = np.array([0, -100, 1, 2, -100])
T_ALL_IGNORED = np.full(N, -100)


def _probs(shape, axis=1, seed=0):
    p = np.random.default_rng(seed).random(shape)
    return p / p.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# ----------------------------------------------------------------------------------------------
# Regressions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weight_of_torch_2_13(name, reduction, dtype):
    """mse/l1: "mean" is the weighted mean sum w l / sum w; huber: the plain mean of w l (torch
    2.13 differs between them, and so do we). Input, target and weight all get gradients."""
    x, y, w = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)), RNG.random((4, 3))
    ours, theirs = (lambda a, b, c, lib=lib: getattr(lib, name)(a, b, reduction=reduction,
                                                                   weight=c)
                    for lib in (L, TF))
    compare(ours, theirs, [x, y, w], (0, 1, 2), dtype)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_weights_summing_to_zero_give_nan_silently_like_torch(name):
    x = tg.tensor(np.ones((2, 3)), requires_grad=True)
    w = tg.tensor(np.zeros((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = getattr(L, name)(x, tg.tensor(np.zeros((2, 3))), weight=w)
    assert math.isnan(loss.item())
    assert math.isnan(getattr(TF, name)(torch.ones(2, 3), torch.zeros(2, 3),
                                        weight=torch.zeros(2, 3)).item())


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weight_of_another_shape_is_refused_like_torch(name):
    x = tg.tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=rf"{name}: weight must have the input's shape \(4, 3\)"):
        getattr(L, name)(x, x, weight=tg.tensor(np.ones(3)))
    with pytest.raises(ValueError):
        getattr(TF, name)(torch.ones(4, 3), torch.ones(4, 3), weight=torch.ones(3))


@pytest.mark.parametrize("call", [
    lambda x, t, w: L.binary_cross_entropy(x.sigmoid(), t, weight=w),
    lambda x, t, w: L.binary_cross_entropy_with_logits(x, t, weight=w),
    lambda x, t, w: L.binary_cross_entropy_with_logits(x, t, pos_weight=w),
], ids=["bce-weight", "bce_with_logits-weight", "bce_with_logits-pos_weight"])
def test_bce_weights_may_not_grow_the_input_like_torch(call):
    x, t = tg.tensor(RNG.standard_normal((5, 4))), tg.tensor(RNG.random((5, 4)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy\w*: \w*weight of shape "
                                         r"\(2, 5, 4\) must broadcast to the input's shape"):
        call(x, t, tg.tensor(np.ones((2, 5, 4))))
    with pytest.raises(ValueError, match=r"binary_cross_entropy\w*: .*\(3,\) cannot be broadcast"):
        call(x, t, tg.tensor(np.ones(3)))  # named after the loss, not after ``mul``
    with pytest.raises(RuntimeError):  # torch: "output with shape [5, 4] doesn't match ..."
        TF.binary_cross_entropy_with_logits(torch.randn(5, 4), torch.rand(5, 4),
                                            pos_weight=torch.ones(2, 5, 4))
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy(torch.rand(5, 4), torch.rand(5, 4), weight=torch.ones(2, 5, 4))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wshape", [(4,), (5, 1), (5, 4), (1,)])
def test_bce_weights_broadcast_like_torch(wshape, reduction, dtype):
    x, t = RNG.standard_normal((5, 4)), RNG.random((5, 4))
    w = RNG.random(wshape) + 0.1
    compare(*both("binary_cross_entropy", reduction=reduction, weight=w),
            [1 / (1 + np.exp(-x)), t], (0, 1), dtype)
    compare(*both("binary_cross_entropy_with_logits", reduction=reduction, weight=w,
                  pos_weight=w * 2), [x, t], (0, 1), dtype)


def test_bce_tensor_weight_gets_the_elementwise_loss_as_gradient():
    """An extension (torch refuses a weight that requires grad): d(sum w l)/dw = l."""
    x, t = RNG.random((3, 2)) * 0.8 + 0.1, RNG.random((3, 2))
    w = tg.tensor(np.ones((3, 2)), requires_grad=True)
    L.binary_cross_entropy(tg.tensor(x), tg.tensor(t), weight=w, reduction="sum").backward()
    expected = TF.binary_cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none")
    _close(w.grad, expected, np.float64, "gradient of the weight")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", [
    ((1, 5), (4, 5), (4,)), ((4, 5), (1, 5), (4,)), ((4, 5), (4, 5), (1,)),
    ((1, 5), (1, 5), (3,)), ((4, 5), (4, 1), (4,)), ((5,), (5,), ()), ((0, 5), (0, 5), (0,)),
], ids=str)
def test_cosine_embedding_loss_broadcasts_like_torch(shapes, reduction, dtype):
    s1, s2, st = shapes
    labels = np.resize(np.array([1, -1, -1, 1]), st)
    compare(*both("cosine_embedding_loss", reduction=reduction, margin=-0.2),
            [RNG.standard_normal(s1), RNG.standard_normal(s2), labels], (0, 1), dtype)


def test_cosine_embedding_loss_shape_errors_name_the_op():
    a = tg.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: a 1-d target expects two 2-d "
                                         r"inputs of one shape, got \(4, 5\) and \(4, 3\), "
                                         r"which do not broadcast"):
        L.cosine_embedding_loss(a, tg.tensor(np.ones((4, 3))), tg.tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target has 3 labels but the "
                                         r"inputs have 4 pairs"):
        L.cosine_embedding_loss(a, a[:1], tg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="a 1-d target expects two 2-d inputs"):
        L.cosine_embedding_loss(a.reshape(4, 1, 5), a.reshape(4, 1, 5), tg.tensor(np.ones(4)))
    with pytest.raises(ValueError, match="expected a 0-d or 1-d target"):
        L.cosine_embedding_loss(a, a, tg.tensor(np.ones((1, 4))))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_epsilon_gradients_match_torch_exactly(dtype):
    """torch's EPSILON (1e-12 stored as a float32) sets the BCE input gradient at x = 0 and 1
    and the cosine_embedding_loss gradient at a zero vector: equal to 1e-10 relative."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.3])
    t = np.array([1.0, 0.0, 0.4, 0.7, 0.2])
    compare(*both("binary_cross_entropy", reduction="none"), [x, t], (0,), dtype)
    a = np.zeros((2, 5))
    compare(*both("cosine_embedding_loss", reduction="none"),
            [a, RNG.standard_normal((2, 5)), np.array([1, -1])], (0, 1), dtype)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_class_weights_summing_to_zero_give_nan_and_zero_gradient(label_smoothing, kernel):
    """torch gives NaN gradients here; we give 0, as for an all-ignored batch (where torch gives
    0 too) - with label smoothing the gradient was finite and nonzero under a NaN loss."""
    x = tg.tensor(X[:3], requires_grad=True)
    with use_kernel(kernel):
        loss = L.cross_entropy(x, tg.tensor(np.array([0, 1, 1])),
                               weight=tg.tensor(np.array([0.0, 0.0, 1.0, 1.0])),
                               label_smoothing=label_smoothing)
    loss.backward()
    assert math.isnan(loss.item())
    assert np.array_equal(np.asarray(x.grad), np.zeros((3, C)))
    expected = TF.cross_entropy(torch.tensor(X[:3]), torch.tensor([0, 1, 1]),
                                weight=torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64),
                                label_smoothing=label_smoothing)
    assert math.isnan(expected.item())


def test_kl_div_nan_cases_are_silent_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        neg = L.kl_div(tg.tensor(np.zeros(3)), tg.tensor(np.array([-0.5, 0.0, 0.5])),
                       reduction="none")
        empty = L.kl_div(tg.tensor(np.zeros((0, 3))), tg.tensor(np.zeros((0, 3))),
                         reduction="batchmean")
    theirs = TF.kl_div(torch.zeros(3, dtype=torch.float64),
                       torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64), reduction="none")
    _close(neg, theirs, np.float64, "kl_div of a negative target")
    assert math.isnan(neg.tolist()[0]) and math.isnan(empty.item())


# ----------------------------------------------------------------------------------------------
# cross_entropy and nll_loss against torch
# ----------------------------------------------------------------------------------------------

INDEX_CASES = {
    "plain": (X, T, {}),
    "weight": (X, T, {"weight": W}),
    "ignored": (X, T_IGNORED, {}),
    "ignored+weight": (X, T_IGNORED, {"weight": W}),
    "ignore_index-in-range": (X, T, {"ignore_index": 1, "weight": W}),
    "all-ignored": (X, T_ALL_IGNORED, {}),
    "all-ignored+weight": (X, T_ALL_IGNORED, {"weight": W}),
    "kdim": (XK, TK, {}),
    "kdim+ignored+weight": (XK, TK_IGNORED, {"weight": W}),
    "unbatched": (X[0], np.array(2), {}),
    "unbatched+weight": (X[0], np.array(2), {"weight": W}),
    "unbatched-ignored": (X[0], np.array(-100), {}),
    "empty": (X[:0], T[:0], {}),
    "empty-spatial": (XK[:, :, :0], TK[:, :0], {}),
    "uint8-targets": (X, T.astype(np.uint8), {}),
    "large-logits": (X * 1e4, T, {}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_cross_entropy_class_indices_match_torch(case, reduction, dtype):
    x, t, kwargs = INDEX_CASES[case]
    for kernel in ("auto", "reference"):  # CrossEntropyRows (Numba) and CrossEntropyIndices
        with use_kernel(kernel):
            compare(*both("cross_entropy", reduction=reduction, **kwargs), [x, t], (0,), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", [c for c in INDEX_CASES if c != "large-logits"])
def test_nll_loss_matches_torch(case, reduction, dtype):
    x, t, kwargs = INDEX_CASES[case]
    class_dim = 0 if x.ndim == 1 else 1
    logp = _log_softmax(x, class_dim) if x.size else x
    compare(*both("nll_loss", reduction=reduction, **kwargs), [logp, t], (0,), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.15, 1.0])
@pytest.mark.parametrize("case", ["plain", "weight", "ignored+weight", "ignore_index-in-range",
                                  "all-ignored", "kdim+ignored+weight", "unbatched+weight",
                                  "empty", "large-logits"])
def test_cross_entropy_label_smoothing_with_indices_matches_torch(case, label_smoothing,
                                                                  reduction, dtype):
    x, t, kwargs = INDEX_CASES[case]
    compare(*both("cross_entropy", reduction=reduction, label_smoothing=label_smoothing,
                  **kwargs), [x, t], (0,), dtype)


PROB_CASES = {
    "plain": (X, _probs((N, C)), {}),
    "weight": (X, _probs((N, C)), {"weight": W}),
    "unnormalized": (X, np.abs(X[::-1]), {}),
    "kdim+weight": (XK, _probs(XK.shape), {"weight": W}),
    "unbatched": (X[0], _probs((C,), axis=0), {"weight": W}),
    "large-logits": (X * 1e4, _probs((N, C)), {}),
    "empty": (X[:0], X[:0], {}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("case", list(PROB_CASES))
def test_cross_entropy_class_probabilities_match_torch(case, label_smoothing, reduction, dtype):
    """Both the logits and the soft targets get torch's gradients."""
    x, p, kwargs = PROB_CASES[case]
    compare(*both("cross_entropy", reduction=reduction, label_smoothing=label_smoothing,
                  **kwargs), [x, p], (0, 1), dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_cross_entropy_second_derivative_matches_torch(kernel, label_smoothing, reduction):
    """Hessian-vector products through the fused op (and its create_graph fallback)."""
    v = RNG.standard_normal((N, C))
    for t, w in ((T_IGNORED, None), (T, W), (T_ALL_IGNORED, None)):
        xo = tg.tensor(X, requires_grad=True)
        xt = torch.tensor(X, requires_grad=True)
        with use_kernel(kernel):
            lo = L.cross_entropy(xo, tg.tensor(t), weight=None if w is None else tg.tensor(w),
                                 reduction=reduction, label_smoothing=label_smoothing)
        lt = TF.cross_entropy(xt, torch.tensor(t), weight=None if w is None else torch.tensor(w),
                              reduction=reduction, label_smoothing=label_smoothing)
        scale = np.arange(1.0, N + 1) if reduction == "none" else np.array(1.0)
        (go,) = tg.autograd.grad((lo * tg.tensor(scale)).sum(), [xo], create_graph=True)
        (gt,) = torch.autograd.grad((lt * torch.tensor(scale)).sum(), [xt], create_graph=True)
        _close(go, gt, np.float64, "gradient")
        (go * tg.tensor(v)).sum().backward()
        (gt * torch.tensor(v)).sum().backward()
        _close(xo.grad, xt.grad, np.float64, "Hessian-vector product")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cross_entropy_on_a_transposed_view_matches_torch(dtype):
    x = RNG.standard_normal((C, 6))
    t = np.array([0, 3, -100, 2, 1, 1])
    compare(lambda a, b: L.cross_entropy(a.transpose(0, 1), b),
            lambda a, b: TF.cross_entropy(a.T, b), [x, t], (0,), dtype)


# ----------------------------------------------------------------------------------------------
# Binary cross entropy
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction, dtype):
    """Inputs exactly 0 and 1 and tiny ones: each log clamped at -100, finite loss and input
    gradient (torch's formula); the target's gradient where no log is clamped."""
    x = np.array([[0.0, 1.0, 1e-30, 0.5], [0.2, 0.9, 0.7, 1 - 1e-6]])
    t = np.array([[1.0, 0.0, 0.5, 0.3], [0.0, 1.0, 1.0, 0.25]])
    compare(*both("binary_cross_entropy", reduction=reduction), [x, t], (0,), dtype)
    inner = RNG.random((3, 4)) * 0.9 + 0.05
    compare(*both("binary_cross_entropy", reduction=reduction), [inner, RNG.random((3, 4))],
            (0, 1), dtype)


def test_binary_cross_entropy_target_gradient_uses_the_clamped_logs():
    """Intentional: dl/dt = max(log(1 - x), -100) - max(log x, -100), the derivative of the
    clamped loss; torch's -logit(x) is +-inf at x = 0 and 1 and -115 at x = 1e-50."""
    x = np.array([0.0, 1.0, 1e-50, 0.3])
    t = tg.tensor(np.array([1.0, 0.0, 0.5, 0.4]), requires_grad=True)
    L.binary_cross_entropy(tg.tensor(x), t, reduction="sum").backward()
    with np.errstate(divide="ignore"):
        expected = np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100)
    np.testing.assert_allclose(np.asarray(t.grad), expected, rtol=1e-12)
    assert expected.tolist()[:2] == [100.0, -100.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pw_shape", [None, (4,), (1,), (3, 1)])
def test_binary_cross_entropy_with_logits_matches_torch(pw_shape, reduction, dtype):
    """pos_weight broadcasting, logits of +-1e4 (finite loss and gradient), target gradient."""
    x = RNG.standard_normal((3, 4)) * np.array([1.0, 1.0, 1e4, -1e4])
    t = RNG.random((3, 4))
    pw = None if pw_shape is None else RNG.random(pw_shape) * 3
    kwargs = {} if pw is None else {"pos_weight": pw}
    compare(*both("binary_cross_entropy_with_logits", reduction=reduction, **kwargs), [x, t],
            (0, 1), dtype)


# ----------------------------------------------------------------------------------------------
# Regression losses and kl_div
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs", [
    ("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.0}),
    ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 2.0}), ("huber_loss", {}),
    ("huber_loss", {"delta": 0.5}), ("huber_loss", {"delta": 2.0}),
], ids=lambda v: str(v) if isinstance(v, dict) else v)
def test_regression_losses_match_torch_including_kinks(name, kwargs, reduction, dtype):
    """|d| exactly at beta/delta and d = 0 (ties): torch's choice of the gradient there."""
    edge = kwargs.get("beta", kwargs.get("delta", 1.0))
    y = RNG.standard_normal((3, 4))
    x = y + RNG.standard_normal((3, 4))
    x[0, :3] = y[0, :3] + np.array([edge, -edge, 0.0])
    compare(*both(name, reduction=reduction, **kwargs), [x, y], (0, 1), dtype)
    compare(*both(name, reduction=reduction, **kwargs), [x[0, 0], y[0, 0]], (0, 1), dtype)
    compare(*both(name, reduction=reduction, **kwargs), [x[:0], y[:0]], (0, 1), dtype)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                                  "kl_div"])
def test_shape_mismatch_is_refused_where_torch_warns_and_broadcasts(name):
    """Intentional (module docstring): torch warns "Using a target size ... different to the
    input size" (kl_div: silently) and compares every prediction with every target."""
    x, y = tg.tensor(np.zeros((4, 1))), tg.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=rf"{name}: target shape \(4,\) differs from input "
                                         r"shape \(4, 1\)"):
        getattr(L, name)(x, y, reduction="none")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        theirs = getattr(TF, name)(torch.zeros(4, 1), torch.zeros(4), reduction="none")
    assert theirs.shape == (4, 4)
    assert any("different to the input size" in str(w.message) for w in warned) == (
        name != "kl_div")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(log_target, reduction, dtype):
    """Zero targets (0 log 0 = 0), the 1-d and 0-d forms; "mean" warns as torch does."""
    logp = _log_softmax(RNG.standard_normal((3, 4)))
    target = _probs((3, 4), seed=3)
    target[0, 1] = 0.0
    target[2] = 0.0
    if log_target:
        target = np.log(target + 0.1)
    grad_of = (0, 1) if log_target else (0,)  # ours is finite at t = 0, torch's NaN (docstring)
    for x, t in ((logp, target), (logp[1], target[1]), (logp[1, 1], target[1, 1])):
        ours_warned, theirs_warned = compare(*both("kl_div", reduction=reduction,
                                                   log_target=log_target), [x, t], grad_of, dtype)
        assert bool(ours_warned) == bool(theirs_warned) == (reduction == "mean")
    if not log_target:  # away from t = 0 the target gradient is torch's too
        compare(*both("kl_div", reduction=reduction), [logp, _probs((3, 4), seed=4)], (0, 1),
                dtype)


# ----------------------------------------------------------------------------------------------
# Likelihood and margin losses (the earlier review covers their kinks and broadcasting)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_poisson_nll_loss_matches_torch(eps, full, log_input, reduction, dtype):
    counts = RNG.integers(0, 5, (3, 4)).astype(float)
    x = RNG.standard_normal((3, 4))
    x = x if log_input else np.abs(x)
    x[0, 0] = 0.0
    compare(*both("poisson_nll_loss", reduction=reduction, log_input=log_input, full=full,
                  eps=eps), [x, counts], (0,), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-6, 0.3])
def test_gaussian_nll_loss_eps_clamp_matches_torch(eps, full, reduction, dtype):
    """Variances below eps (0 included) are clamped in value only: var's gradient is torch's."""
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    var = RNG.random((3, 4)) + 0.1
    var[0, 0], var[1, 1] = 0.0, 1e-9
    compare(*both("gaussian_nll_loss", reduction=reduction, full=full, eps=eps), [x, y, var],
            (0, 1, 2), dtype)
    compare(*both("gaussian_nll_loss", reduction=reduction, full=full, eps=eps),
            [x, y, var[:, 0]], (0, 1, 2), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_losses_match_torch(reduction, dtype):
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    signs = np.sign(RNG.standard_normal((4, 3)))
    labels = (RNG.random((4, 3)) > 0.5).astype(float)
    compare(*both("margin_ranking_loss", reduction=reduction, margin=0.3),
            [x[:, 0], y[:, 0], signs[:, 0]], (0, 1, 2), dtype)
    compare(*both("hinge_embedding_loss", reduction=reduction, margin=0.7), [x, signs], (0,),
            dtype)
    compare(*both("soft_margin_loss", reduction=reduction), [x, signs], (0,), dtype)
    compare(*both("multilabel_soft_margin_loss", reduction=reduction, weight=RNG.random(3)),
            [x, labels], (0, 1), dtype)
    listed = np.array([[2, 0, -1], [1, -1, 0], [0, 1, 2], [-1, 0, 0]])
    compare(*both("multilabel_margin_loss", reduction=reduction), [x, listed], (0,), dtype)
    compare(*both("multilabel_margin_loss", reduction=reduction), [x[0], listed[0]], (0,), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(weighted, margin, p, reduction, dtype):
    x, t = RNG.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    kwargs = {"weight": RNG.random(3) + 0.1} if weighted else {}
    compare(*both("multi_margin_loss", reduction=reduction, p=p, margin=margin, **kwargs),
            [x, t], (0,), dtype)
    compare(*both("multi_margin_loss", reduction=reduction, p=p, margin=margin, **kwargs),
            [x[1], t[1]], (0,), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.3])
def test_cosine_embedding_loss_matches_torch(margin, reduction, dtype):
    """Labels other than +-1 give 0 (torch's masks); float labels work as integers."""
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    for labels in (np.array([1, -1, 1, -1]), np.array([1, 0, 2, -1]), np.array([1.0, -1, -1, 1])):
        compare(*both("cosine_embedding_loss", reduction=reduction, margin=margin),
                [a, b, labels], (0, 1), dtype)


# ----------------------------------------------------------------------------------------------
# Legacy arguments and errors
# ----------------------------------------------------------------------------------------------

LEGACY = [("mse_loss", 2), ("l1_loss", 2), ("smooth_l1_loss", 2), ("kl_div", 2),
          ("binary_cross_entropy", 2), ("binary_cross_entropy_with_logits", 2),
          ("cross_entropy", 2), ("nll_loss", 2), ("soft_margin_loss", 2),
          ("multilabel_soft_margin_loss", 2), ("multi_margin_loss", 2),
          ("multilabel_margin_loss", 2), ("hinge_embedding_loss", 2), ("poisson_nll_loss", 2),
          ("margin_ranking_loss", 3), ("cosine_embedding_loss", 3)]


def _legacy_inputs(name):
    x = RNG.random((3, 4)) * 0.8 + 0.1
    if name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        return [x, np.array([0, 3, 1])]
    if name == "multilabel_margin_loss":
        return [x, np.array([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])]
    if name in ("soft_margin_loss", "hinge_embedding_loss"):
        return [x, np.sign(RNG.standard_normal((3, 4)))]
    if name == "margin_ranking_loss":
        return [x[0], x[1], np.array([1.0, -1.0, 1.0, -1.0])]
    if name == "cosine_embedding_loss":
        return [x, x[::-1].copy(), np.array([1, -1, 1])]
    return [x, RNG.random((3, 4))]


@pytest.mark.parametrize("size_average, reduce", [(False, None), (None, False), (True, True),
                                                  (False, True), (True, False)])
@pytest.mark.parametrize("name", [n for n, _ in LEGACY])
def test_legacy_size_average_and_reduce_map_like_torch(name, size_average, reduce):
    """The same reduction as torch; ours warns with a DeprecationWarning (torch: UserWarning)."""
    ours_warned, theirs_warned = compare(*both(name, size_average=size_average, reduce=reduce),
                                         _legacy_inputs(name), (0,), np.float64)
    assert any("size_average and reduce are deprecated" in m for m in ours_warned)
    assert any("size_average and reduce args will be deprecated" in m for m in theirs_warned)


def _x(*shape):
    return tg.tensor(np.full(shape, 0.5))


ERRORS = [
    (IndexError, r"cross_entropy: target 4 is out of bounds for 4 classes",
     lambda: L.cross_entropy(_x(3, 4), tg.tensor(np.array([0, 4, 1])))),
    (IndexError, r"cross_entropy: target -1 is out of bounds",
     lambda: L.cross_entropy(_x(3, 4, 2), tg.tensor(np.array([[0, 1], [1, -1], [2, 3]])))),
    (IndexError, r"nll_loss: target 7 is out of bounds",
     lambda: L.nll_loss(_x(4), tg.tensor(np.array(7)))),
    (TypeError, r"nll_loss: class-index targets must be integers .* got dtype float64",
     lambda: L.nll_loss(_x(3, 4), tg.tensor(np.array([0.0, 1.0, 2.0])))),
    (ValueError, r"cross_entropy: a floating point target means class probabilities and must "
                 r"have the input's shape \(3, 4\), got \(3,\)",
     lambda: L.cross_entropy(_x(3, 4), tg.tensor(np.array([0.0, 1.0, 2.0])))),
    (ValueError, r"cross_entropy: expected target of shape \(3,\) .* got \(2,\)",
     lambda: L.cross_entropy(_x(3, 4), tg.tensor(np.array([0, 1])))),
    (ValueError, r"nll_loss: expected target of shape \(\) \(the input shape \(4,\)",
     lambda: L.nll_loss(_x(4), tg.tensor(np.array([1, 2])))),
    (ValueError, r"cross_entropy: weight must have shape \(4,\) \(one per class\), got \(3,\)",
     lambda: L.cross_entropy(_x(3, 4), tg.tensor(np.array([0, 1, 2])), weight=np.ones(3))),
    (ValueError, r"cross_entropy: ignore_index is not supported for class-probability",
     lambda: L.cross_entropy(_x(3, 4), _x(3, 4), ignore_index=1)),
    (ValueError, r"cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5",
     lambda: L.cross_entropy(_x(3, 4), tg.tensor(np.array([0, 1, 2])), label_smoothing=1.5)),
    (ValueError, r"cross_entropy: input must have a class dimension",
     lambda: L.cross_entropy(_x(), tg.tensor(np.array(0)))),
    (TypeError, r"cross_entropy: input must be floating point \(logits\), got dtype int64",
     lambda: L.cross_entropy(tg.tensor(np.ones((3, 4), np.int64)), tg.tensor(np.zeros(3, int)))),
    (ValueError, r"mse_loss: 'avg' is not a valid value for reduction",
     lambda: L.mse_loss(_x(3), _x(3), reduction="avg")),
    (ValueError, r"kl_div: 'batchmeans' is not a valid value for reduction",
     lambda: L.kl_div(_x(3), _x(3), reduction="batchmeans")),
    (ValueError, r"binary_cross_entropy: all elements of input should be between 0 and 1",
     lambda: L.binary_cross_entropy(_x(3) * 3, _x(3))),
    (ValueError, r"binary_cross_entropy: all elements of target should be between 0 and 1",
     lambda: L.binary_cross_entropy(_x(3), _x(3) * 3)),
    (ValueError, r"binary_cross_entropy_with_logits: target shape \(3,\) differs from input",
     lambda: L.binary_cross_entropy_with_logits(_x(2, 3), _x(3))),
    (ValueError, r"smooth_l1_loss: beta must be >= 0, got -1",
     lambda: L.smooth_l1_loss(_x(3), _x(3), beta=-1.0)),
    (ValueError, r"huber_loss: delta must be > 0, got 0",
     lambda: L.huber_loss(_x(3), _x(3), delta=0.0)),
    (ValueError, r"gaussian_nll_loss: var of shape \(2, 3\) does not fit the input \(4, 3\)",
     lambda: L.gaussian_nll_loss(_x(4, 3), _x(4, 3), _x(2, 3))),
    (ValueError, r"gaussian_nll_loss: var has negative entries",
     lambda: L.gaussian_nll_loss(_x(3), _x(3), -_x(3))),
    (ValueError, r"multi_margin_loss: only p == 1 and p == 2 are supported, got p=3",
     lambda: L.multi_margin_loss(_x(2, 3), tg.tensor(np.array([0, 1])), p=3)),
    (IndexError, r"multi_margin_loss: target 3 is out of bounds",
     lambda: L.multi_margin_loss(_x(2, 3), tg.tensor(np.array([0, 3])))),
    (IndexError, r"multilabel_margin_loss: target 5 is out of range",
     lambda: L.multilabel_margin_loss(_x(1, 3), tg.tensor(np.array([[5, -1, 0]])))),
]


@pytest.mark.parametrize("exc, message, call", ERRORS,
                         ids=[re.sub(r"\W+", "-", m[:40]) for _, m, _ in ERRORS])
def test_bad_arguments_raise_errors_that_name_the_op(exc, message, call):
    with pytest.raises(exc, match=message):
        call()


def test_integer_targets_other_than_int64_are_accepted_where_torch_refuses():
    """Intentional leniency: torch wants int64 (or uint8) class indices; int32 works here."""
    t = np.array([0, 3, 1, 2, 1])
    ours = L.cross_entropy(tg.tensor(X), tg.tensor(t.astype(np.int32)))
    _close(ours, TF.cross_entropy(torch.tensor(X), torch.tensor(t)), np.float64, "int32")
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        TF.cross_entropy(torch.tensor(X), torch.tensor(t.astype(np.int32)))


# ----------------------------------------------------------------------------------------------
# Module forms
# ----------------------------------------------------------------------------------------------

MODULES = [
    ("CrossEntropyLoss", {"weight": W, "ignore_index": 1, "reduction": "sum",
                          "label_smoothing": 0.1}, [X, T]),
    ("NLLLoss", {"weight": W, "ignore_index": 2, "reduction": "none"}, [_log_softmax(X), T]),
    ("BCELoss", {"weight": W, "reduction": "sum"}, [1 / (1 + np.exp(-X)), _probs((N, C))]),
    ("BCEWithLogitsLoss", {"weight": W, "pos_weight": W * 2}, [X, _probs((N, C))]),
    ("MSELoss", {"reduction": "sum"}, [X, X[::-1]]),
    ("L1Loss", {"reduction": "none"}, [X, X[::-1]]),
    ("SmoothL1Loss", {"beta": 0.5}, [X, X[::-1]]),
    ("HuberLoss", {"delta": 0.5, "reduction": "sum"}, [X, X[::-1]]),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True},
     [_log_softmax(X), _log_softmax(X[::-1])]),
    ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 0.1},
     [np.abs(X), np.abs(np.round(X[::-1] * 3))]),
    ("GaussianNLLLoss", {"full": True, "eps": 0.5}, [X, X[::-1], np.abs(X[:, :1])]),
    ("MarginRankingLoss", {"margin": 0.2}, [X[0], X[1], np.array([1.0, -1, 1, -1])]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [X, np.sign(X[::-1])]),
    ("SoftMarginLoss", {"reduction": "sum"}, [X, np.sign(X[::-1])]),
    ("MultiLabelSoftMarginLoss", {"weight": W}, [X, (X[::-1] > 0).astype(float)]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": W}, [X, T]),
    ("MultiLabelMarginLoss", {}, [X, np.tile(np.array([3, 0, -1, 1]), (N, 1))]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [X, X[::-1], np.array([1, -1, 1, -1, 1])]),
]


@pytest.mark.parametrize("name, kwargs, arrays", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, kwargs, arrays):
    """Constructor arguments, attributes, repr, buffers and state_dict keys; the forward and the
    input gradient on the same arrays."""
    ours = getattr(nn, name)(**{k: tg.tensor(v) if isinstance(v, np.ndarray) else v
                                for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kwargs.items()})
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.parameters()) == []
    for attr, value in vars(theirs).items():
        if not attr.startswith("_"):
            assert getattr(ours, attr) == value, attr
    for key, value in theirs.state_dict().items():
        _close(ours.state_dict()[key], value, np.float64, key)
    compare(ours, theirs, arrays, (0,), np.float64)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss", "BCELoss", "MultiMarginLoss",
                                  "MultiLabelSoftMarginLoss", "BCEWithLogitsLoss"])
def test_weight_buffers_are_none_by_default_and_load_like_torch(name):
    ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
    assert ours.weight is None and theirs.weight is None
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    weighted = getattr(nn, name)(weight=tg.tensor(np.ones(3)))
    weighted.load_state_dict({"weight": tg.tensor(np.array([1.0, 2.0, 3.0]))})
    assert weighted.weight.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="weight"):  # torch: "Unexpected key(s)" too
        ours.load_state_dict({"weight": tg.tensor(np.ones(3))})


def test_module_weight_follows_a_dtype_cast():
    loss = nn.CrossEntropyLoss(weight=tg.tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32)))
    loss = loss.double()
    assert loss.weight.dtype == np.float64
    ours = loss(tg.tensor(X), tg.tensor(T))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0, 4.0],
                                                           dtype=torch.float64))(
        torch.tensor(X), torch.tensor(T))
    _close(ours, theirs, np.float64, "CrossEntropyLoss after .double()")


@pytest.mark.parametrize("name, kwargs", [("MSELoss", {"size_average": False}),
                                          ("L1Loss", {"reduce": False}),
                                          ("KLDivLoss", {"size_average": True, "reduce": True}),
                                          ("CrossEntropyLoss", {"reduce": False}),
                                          ("BCELoss", {"size_average": False})])
def test_module_legacy_arguments_set_the_reduction_like_torch(name, kwargs):
    with pytest.warns(DeprecationWarning):
        ours = getattr(nn, name)(**kwargs)
    with pytest.warns(UserWarning):
        theirs = getattr(torch.nn, name)(**kwargs)
    assert ours.reduction == theirs.reduction
