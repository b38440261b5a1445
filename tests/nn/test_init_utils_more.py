"""More of nn.init and nn.utils against torch: the structured initializers (orthogonal_, eye_,
dirac_, sparse_), get_total_norm / clip_grads_with_norm_, BatchNorm folding (fuse_conv_bn_eval,
fuse_linear_bn_eval and their *_weights) and the hook-based weight_norm / remove_weight_norm."""

import math
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close
from test_layers import compare, twin

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as NF
from tinygrad_edu.nn.init import dirac_, eye_, orthogonal_, sparse_
from tinygrad_edu.nn.utils import (
    clip_grad_norm_,
    clip_grads_with_norm_,
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
    get_total_norm,
    remove_weight_norm,
    weight_norm,
)

torch.set_num_threads(1)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# orthogonal_
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 4), (3, 7), (5, 5), (4, 2, 3, 3), (8, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    w = orthogonal_(tg.empty(*shape, dtype=tg.float64), gain=gain)
    assert tuple(w.shape) == shape and w.dtype == np.float64
    m = w.numpy().reshape(shape[0], -1)  # (rows, cols)
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T  # Q^T Q (tall) or Q Q^T (wide)
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), gain, rtol=1e-12)
    # torch's result has the same property (the samples themselves differ: other RNGs)
    t = torch.nn.init.orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=gain)
    np.testing.assert_allclose(np.linalg.svd(t.reshape(shape[0], -1).numpy(),
                                             compute_uv=False), gain, rtol=1e-12)


def test_orthogonal_float32_in_place_no_graph_and_seeded():
    p = nn.Parameter(tg.zeros(16, 9))
    out = orthogonal_(p)
    assert out is p and p.dtype == np.float32 and p.requires_grad and p.grad_fn is None
    np.testing.assert_allclose(p.detach().numpy().T @ p.detach().numpy(), np.eye(9), atol=1e-5)
    tg.manual_seed(3)
    a = orthogonal_(tg.empty(5, 8)).numpy()
    tg.manual_seed(3)
    b = orthogonal_(tg.empty(5, 8)).numpy()
    c = orthogonal_(tg.empty(5, 8)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(b, c)
    g1 = orthogonal_(tg.empty(5, 8), generator=np.random.default_rng(7)).numpy()
    g2 = orthogonal_(tg.empty(5, 8), generator=np.random.default_rng(7)).numpy()
    np.testing.assert_array_equal(g1, g2)


def test_orthogonal_haar_signs_first_column_is_not_biased():
    """The sign fix (Q diag(sign(diag R))) makes Q uniform: without it the first column's
    first entry would be negative far more often than not (numpy's Householder QR)."""
    tg.manual_seed(0)
    firsts = [orthogonal_(tg.empty(3, 3, dtype=tg.float64)).numpy()[0, 0] for _ in range(400)]
    assert 0.4 < np.mean(np.array(firsts) > 0) < 0.6


def test_orthogonal_errors_and_empty():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        orthogonal_(tg.empty(5))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        torch.nn.init.orthogonal_(torch.empty(5))
    with pytest.raises(TypeError, match="expected a Tensor"):
        orthogonal_(np.zeros((3, 3)))
    empty = tg.empty(0, 3)
    assert orthogonal_(empty) is empty


# ----------------------------------------------------------------------------------------------
# eye_ and dirac_
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_eye_matches_torch_and_passes_inputs_through_a_linear(shape):
    lin = nn.Linear(shape[1], shape[0], bias=False)
    out = eye_(lin.weight)
    assert out is lin.weight and lin.weight.requires_grad and lin.weight.grad_fn is None
    np.testing.assert_array_equal(lin.weight.detach().numpy(),
                                  torch.nn.init.eye_(torch.empty(*shape)).numpy())
    x = tg.randn(2, shape[1])
    k = min(shape)
    np.testing.assert_array_equal(lin(x).detach().numpy()[:, :k], x.numpy()[:, :k])


def test_eye_errors():
    for shape in [(3,), (2, 3, 4)]:
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
            eye_(tg.empty(*shape))
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
            torch.nn.init.eye_(torch.empty(*shape))


@pytest.mark.parametrize("shape, groups", [
    ((4, 4, 3, 3), 1), ((6, 3, 3, 3), 1), ((3, 6, 3, 3), 1), ((6, 3, 3, 3), 2),
    ((4, 2, 5), 1), ((4, 2, 5), 2), ((2, 2, 3, 3, 3), 1), ((4, 3, 2, 4), 1),
])
def test_dirac_matches_torch(shape, groups):
    ours = dirac_(tg.empty(*shape), groups=groups).numpy()
    theirs = torch.nn.init.dirac_(torch.empty(*shape), groups=groups).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_dirac_convolution_is_the_identity():
    x = tg.tensor(randn(2, 4, 6, 5))
    w = dirac_(tg.empty(4, 4, 3, 3, dtype=tg.float64))
    np.testing.assert_array_equal(NF.conv2d(x, w, padding=1).numpy(), x.numpy())
    wg = dirac_(tg.empty(4, 2, 3, 3, dtype=tg.float64), groups=2)  # each group its own
    np.testing.assert_array_equal(NF.conv2d(x, wg, padding=1, groups=2).numpy(), x.numpy())
    x1 = tg.tensor(randn(2, 3, 7))
    w1 = dirac_(tg.empty(3, 3, 5, dtype=tg.float64))
    np.testing.assert_array_equal(NF.conv1d(x1, w1, padding=2).numpy(), x1.numpy())
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False, dtype=tg.float64)  # more outputs:
    dirac_(conv.weight)                                                 # the extra are 0
    out = conv(x).detach().numpy()
    np.testing.assert_array_equal(out[:, :4], x.numpy())
    np.testing.assert_array_equal(out[:, 4:], 0)


def test_dirac_errors():
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        dirac_(tg.empty(3, 3))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        dirac_(tg.empty(5, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        torch.nn.init.dirac_(torch.empty(5, 2, 3, 3), groups=2)


# ----------------------------------------------------------------------------------------------
# sparse_
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows, cols, sparsity", [(10, 4, 0.3), (7, 5, 0.5), (6, 3, 0.0),
                                                  (5, 2, 1.0), (400, 300, 0.1)])
def test_sparse_zeros_per_column_like_torch(rows, cols, sparsity):
    ours = sparse_(tg.empty(rows, cols), sparsity, std=0.05).numpy()
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity, std=0.05).numpy()
    expected = math.ceil(sparsity * rows)
    np.testing.assert_array_equal((ours == 0).sum(axis=0), expected)
    np.testing.assert_array_equal((theirs == 0).sum(axis=0), expected)
    if rows * cols > 1000:  # the non-zeros are N(0, std^2)
        assert ours[ours != 0].std() == pytest.approx(0.05, rel=0.02)
        assert abs(ours[ours != 0].mean()) < 0.002


def test_sparse_seeded_and_errors():
    tg.manual_seed(1)
    a = sparse_(tg.empty(8, 6), 0.25).numpy()
    tg.manual_seed(1)
    b = sparse_(tg.empty(8, 6), 0.25).numpy()
    np.testing.assert_array_equal(a, b)
    c = sparse_(tg.empty(8, 6), 0.25, generator=np.random.default_rng(2)).numpy()
    d = sparse_(tg.empty(8, 6), 0.25, generator=np.random.default_rng(2)).numpy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        sparse_(tg.empty(3, 2, 2), 0.1)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        torch.nn.init.sparse_(torch.empty(3, 2, 2), 0.1)
    with pytest.raises(ValueError, match=r"sparsity .* must be in \[0, 1\], got 1.5"):
        sparse_(tg.empty(3, 2), 1.5)


# ----------------------------------------------------------------------------------------------
# get_total_norm / clip_grads_with_norm_
# ----------------------------------------------------------------------------------------------

SHAPES = [(3, 4), (5,), (2, 2, 2), (0,)]


def _tensors(seed=0, dtype=np.float64, scale=3.0):
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]
    return [tg.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", -math.inf, 0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_get_total_norm_matches_torch(norm_type, dtype):
    ours, theirs = _tensors(dtype=dtype)
    if norm_type in (math.inf, "inf", -math.inf):  # torch refuses the +-inf norm of an empty
        ours, theirs = ours[:-1], theirs[:-1]      # tensor (we take max |x| over none as 0)
    total = get_total_norm(ours, norm_type)
    expected = torch.nn.utils.get_total_norm(theirs, norm_type)
    assert total.shape == () and total.dtype == dtype
    assert_close(total, expected, dtype)
    assert total.grad_fn is None


def test_get_total_norm_single_tensor_empty_and_errors():
    assert float(get_total_norm(tg.tensor([3.0, -4.0]))) == 5.0
    assert float(get_total_norm([])) == 0.0 == float(torch.nn.utils.get_total_norm([]))
    for bad in (float("nan"), float("inf")):
        ours, theirs = tg.tensor([1.0, bad]), torch.tensor([1.0, bad])
        assert_close(get_total_norm([ours]), torch.nn.utils.get_total_norm([theirs]))
        with pytest.raises(RuntimeError, match="non-finite"):
            get_total_norm([ours], error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.get_total_norm([theirs], error_if_nonfinite=True)
    with pytest.raises(ValueError, match="get_total_norm: norm_type"):
        get_total_norm([tg.ones(2)], "fro")


def _params(seed=0, dtype=np.float64):
    ours, theirs = _tensors(seed, dtype)
    ours, theirs = ours[:-1], theirs[:-1]  # no empty tensor: torch refuses its inf norm
    tp = [tg.zeros(t.shape, dtype=dtype, requires_grad=True) for t in ours]
    pp = [torch.zeros(t.shape, dtype=t.dtype, requires_grad=True) for t in theirs]
    for a, b, o, t in zip(tp, pp, ours, theirs, strict=True):
        a.grad, b.grad = o, t
    return tp, pp


@pytest.mark.parametrize("max_norm", [0.5, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grads_with_norm_matches_torch(max_norm, dtype):
    tp, pp = _params(1, dtype)
    total = get_total_norm([p.grad for p in tp])
    expected = torch.nn.utils.get_total_norm([p.grad for p in pp])
    assert clip_grads_with_norm_(tp, max_norm, total) is None
    torch.nn.utils.clip_grads_with_norm_(pp, max_norm, expected)
    for a, b in zip(tp, pp, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6 if
                                   dtype == np.float32 else 1e-15)
        assert a.grad.dtype == dtype


def test_clip_grads_with_norm_given_total_and_nonfinite_totals_like_torch():
    """A total from elsewhere (e.g. summed over workers) is used as given; an inf total zeros
    the gradients and a nan total makes them nan, as in torch."""
    for total in (10.0, math.inf, math.nan):
        tp, pp = _params(2)
        clip_grads_with_norm_(tp, 1.0, tg.tensor(total, dtype=tg.float64))
        torch.nn.utils.clip_grads_with_norm_(pp, 1.0, torch.tensor(total, dtype=torch.float64))
        for a, b in zip(tp, pp, strict=True):
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    tp, pp = _params(2)
    clip_grads_with_norm_(tp[0], 1.0, 10.0)  # a single tensor and a plain number work too
    np.testing.assert_allclose(tp[0].grad.numpy(), pp[0].grad.numpy() * (1 / (10 + 1e-6)))
    p = tg.zeros(2, requires_grad=True)
    clip_grads_with_norm_([p], 1.0, 5.0)  # no gradient: nothing to do
    assert p.grad is None


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0])
def test_clip_grad_norm_float32_and_inf_grads_match_torch(norm_type):
    tp, pp = _params(3, np.float32)
    assert_close(clip_grad_norm_(tp, 0.7, norm_type),
                 torch.nn.utils.clip_grad_norm_(pp, 0.7, norm_type), np.float32)
    for a, b in zip(tp, pp, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    tp, pp = _params(4)
    tp[0].grad.data[0, 0] = np.inf
    pp[0].grad[0, 0] = math.inf
    assert_close(clip_grad_norm_(tp, 1.0, norm_type),
                 torch.nn.utils.clip_grad_norm_(pp, 1.0, norm_type))
    for a, b in zip(tp, pp, strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())  # zeros, nan at the inf


def test_clip_grad_norm_warns_for_an_empty_generator():
    with pytest.warns(UserWarning, match="empty generator"):
        total = clip_grad_norm_((p for p in []), 1.0)
    assert float(total) == 0.0


# ----------------------------------------------------------------------------------------------
# BatchNorm folding
# ----------------------------------------------------------------------------------------------


def _random_bn(ours, theirs, seed):
    """Random running statistics and affine parameters, the same in both BatchNorms."""
    rng = np.random.default_rng(seed)
    c = ours.num_features
    values = {"running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2.0, c)}
    if ours.affine:
        values.update(weight=rng.uniform(0.5, 1.5, c), bias=rng.standard_normal(c))
    for name, value in values.items():
        getattr(ours, name).data[...] = value
        with torch.no_grad():
            getattr(theirs, name).copy_(torch.tensor(value))


FUSE_CONV = [
    ("Conv2d(bias)", lambda lib: lib.Conv2d(3, 4, 3, padding=1),
     lambda lib: lib.BatchNorm2d(4), (2, 3, 5, 6), False),
    ("Conv2d(no bias, strided)", lambda lib: lib.Conv2d(3, 4, 3, stride=2, bias=False),
     lambda lib: lib.BatchNorm2d(4, eps=1e-3), (2, 3, 7, 7), False),
    ("Conv2d(groups, affine=False)", lambda lib: lib.Conv2d(4, 6, 3, groups=2),
     lambda lib: lib.BatchNorm2d(6, affine=False), (1, 4, 5, 5), False),
    ("Conv1d", lambda lib: lib.Conv1d(3, 5, 3), lambda lib: lib.BatchNorm1d(5), (2, 3, 9),
     False),
    ("ConvTranspose2d", lambda lib: lib.ConvTranspose2d(3, 4, 3, stride=2),
     lambda lib: lib.BatchNorm2d(4), (2, 3, 4, 4), True),
]


@pytest.mark.parametrize("name, make_conv, make_bn, x_shape, transpose", FUSE_CONV,
                         ids=[c[0] for c in FUSE_CONV])
def test_fuse_conv_bn_eval_matches_the_pair_and_torch(name, make_conv, make_bn, x_shape,
                                                      transpose):
    torch.manual_seed(0)
    conv, t_conv = twin(make_conv(nn), make_conv(torch.nn))
    bn, t_bn = make_bn(nn).double(), make_bn(torch.nn).double()
    _random_bn(bn, t_bn, 1)
    for m in (conv, bn, t_conv, t_bn):
        m.eval()
    fused = fuse_conv_bn_eval(conv, bn, transpose=transpose)
    t_fused = torch.nn.utils.fuse_conv_bn_eval(t_conv, t_bn, transpose=transpose)
    assert type(fused) is type(conv) and fused is not conv
    x = randn(*x_shape)
    out = fused(tg.tensor(x))
    assert_close(out, bn(conv(tg.tensor(x))), atol=1e-12, rtol=1e-12)
    assert_close(out, t_fused(torch.tensor(x)), atol=1e-12, rtol=1e-12)
    assert_close(fused.weight, t_fused.weight, atol=1e-14, rtol=1e-14)
    assert_close(fused.bias, t_fused.bias, atol=1e-14, rtol=1e-14)
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.weight.requires_grad == t_fused.weight.requires_grad
    assert fused.bias.requires_grad == t_fused.bias.requires_grad
    # the originals are untouched
    assert_close(conv.weight, t_conv.weight)
    assert (conv.bias is None) == (t_conv.bias is None)


def test_fuse_conv_bn_weights_float32_keeps_dtypes_like_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), rng.standard_normal(4),
              rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal(4)]
    ours = [tg.tensor(a.astype(np.float32)) for a in arrays]
    theirs = [torch.tensor(a.astype(np.float32)) for a in arrays]
    w, b = fuse_conv_bn_weights(ours[0], ours[1], ours[2], ours[3], 1e-5, ours[4], ours[5])
    tw, tb = torch.nn.utils.fuse_conv_bn_weights(theirs[0], theirs[1], theirs[2], theirs[3],
                                                 1e-5, theirs[4], theirs[5])
    assert w.dtype == b.dtype == np.float32
    assert_close(w, tw, np.float32)
    assert_close(b, tb, np.float32)


def test_fuse_conv_bn_errors():
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        fuse_conv_bn_eval(conv, bn)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        torch.nn.utils.fuse_conv_bn_eval(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    conv.eval()
    bn.eval()
    with pytest.raises(ValueError, match="transpose=True but Conv2d is not a transposed"):
        fuse_conv_bn_eval(conv, bn, transpose=True)
    with pytest.raises(ValueError, match="the BatchNorm has 5 channels"):
        fuse_conv_bn_eval(conv, nn.BatchNorm2d(5).eval())
    untracked = nn.BatchNorm2d(4, track_running_stats=False).eval()
    with pytest.raises(AssertionError, match="running_mean and bn.running_var must not be"):
        fuse_conv_bn_eval(conv, untracked)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_linear_bn_eval_matches_the_pair_and_torch(bias, affine):
    torch.manual_seed(0)
    lin, t_lin = twin(nn.Linear(5, 4, bias=bias), torch.nn.Linear(5, 4, bias=bias))
    bn, t_bn = nn.BatchNorm1d(4, affine=affine).double(), \
        torch.nn.BatchNorm1d(4, affine=affine).double()
    _random_bn(bn, t_bn, 2)
    for m in (lin, bn, t_lin, t_bn):
        m.eval()
    fused = fuse_linear_bn_eval(lin, bn)
    x = randn(6, 5)
    out = fused(tg.tensor(x))
    assert_close(out, bn(lin(tg.tensor(x))), atol=1e-12, rtol=1e-12)
    if affine:  # torch's fuse_linear_bn_weights needs the BatchNorm's weight and bias
        t_fused = torch.nn.utils.fuse_linear_bn_eval(t_lin, t_bn)
        assert_close(out, t_fused(torch.tensor(x)), atol=1e-12, rtol=1e-12)
        assert_close(fused.weight, t_fused.weight, atol=1e-14, rtol=1e-14)
        assert_close(fused.bias, t_fused.bias, atol=1e-14, rtol=1e-14)
        assert fused.bias.requires_grad == t_fused.bias.requires_grad
    w, b = fuse_linear_bn_weights(lin.weight, lin.bias, bn.running_mean, bn.running_var,
                                  bn.eps, bn.weight, bn.bias)
    assert_close(w, fused.weight)
    assert_close(b, fused.bias)


def test_fuse_linear_bn_errors():
    lin, bn = nn.Linear(5, 4).eval(), nn.BatchNorm1d(3).eval()
    with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
        fuse_linear_bn_eval(lin, bn)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        fuse_linear_bn_eval(lin.train(), nn.BatchNorm1d(4).eval())


# ----------------------------------------------------------------------------------------------
# weight_norm
# ----------------------------------------------------------------------------------------------


def _torch_weight_norm(module, name="weight", dim=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of parametrize
        return torch.nn.utils.weight_norm(module, name, dim)


WEIGHT_NORM = [
    ("Linear dim=0", lambda lib: lib.Linear(5, 4), 0, (3, 5)),
    ("Linear dim=1", lambda lib: lib.Linear(5, 4), 1, (3, 5)),
    ("Linear dim=None", lambda lib: lib.Linear(5, 4), None, (3, 5)),
    ("Linear dim=-2", lambda lib: lib.Linear(5, 4, bias=False), -2, (3, 5)),
    ("Conv2d dim=0", lambda lib: lib.Conv2d(3, 4, 3, padding=1), 0, (2, 3, 5, 5)),
    ("Conv2d dim=2", lambda lib: lib.Conv2d(3, 4, 3), 2, (2, 3, 5, 5)),
    ("Conv1d dim=0", lambda lib: lib.Conv1d(2, 3, 3), 0, (2, 2, 7)),
]


@pytest.mark.parametrize("name, make, dim, x_shape", WEIGHT_NORM,
                         ids=[c[0] for c in WEIGHT_NORM])
def test_weight_norm_forward_and_gradients_match_torch(name, make, dim, x_shape):
    torch.manual_seed(0)
    ours, theirs = weight_norm(make(nn), dim=dim), _torch_weight_norm(make(torch.nn), dim=dim)
    assert list(dict(ours.named_parameters())) == list(dict(theirs.named_parameters()))
    assert ours.weight_g.shape == tuple(theirs.weight_g.shape)
    ours, theirs = twin(ours, theirs)  # torch's g and v (and bias) copied into ours
    compare(ours, theirs, randn(*x_shape))  # forward, input and g, v, bias gradients
    assert not isinstance(ours.weight, nn.Parameter)
    assert "weight" not in dict(ours.named_parameters())
    # an update of g and v shows in the next forward: the hook recomputes the weight
    with torch.no_grad():
        theirs.weight_g.mul_(2.0)
        theirs.weight_v.add_(0.1)
    ours.weight_g.data *= 2.0
    ours.weight_v.data += 0.1
    ours.zero_grad()
    theirs.zero_grad()
    compare(ours, theirs, randn(*x_shape, seed=1))


def test_weight_norm_starts_from_the_same_weight_and_remove_restores_a_parameter():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3, dtype=tg.float64)
    w0 = lin.weight.detach().numpy().copy()
    x = tg.tensor(randn(2, 4))
    before = lin(x).detach().numpy()
    weight_norm(lin)
    np.testing.assert_allclose(lin.weight_g.detach().numpy()[:, 0],
                               np.linalg.norm(w0, axis=1), rtol=1e-14)
    np.testing.assert_array_equal(lin.weight_v.detach().numpy(), w0)
    np.testing.assert_allclose(lin(x).detach().numpy(), before, rtol=1e-13)
    assert sorted(lin.state_dict()) == ["bias", "weight_g", "weight_v"]
    lin.weight_g.data *= 3.0
    out = lin(x).detach().numpy()
    assert remove_weight_norm(lin) is lin
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.grad_fn is None
    assert list(dict(lin.named_parameters())) == ["bias", "weight"]  # as torch: weight last
    assert not lin._forward_pre_hooks
    np.testing.assert_allclose(lin.weight.detach().numpy(), 3 * w0, rtol=1e-13)
    np.testing.assert_allclose(lin(x).detach().numpy(), out, rtol=1e-13)

    t_lin = _torch_weight_norm(torch.nn.Linear(4, 3))
    torch.nn.utils.remove_weight_norm(t_lin)
    assert list(dict(t_lin.named_parameters())) == ["bias", "weight"]


def test_weight_norm_trains_with_an_optimizer():
    from tinygrad_edu.optim import SGD

    torch.manual_seed(0)
    ours, theirs = twin(weight_norm(nn.Linear(3, 2)), _torch_weight_norm(torch.nn.Linear(3, 2)))
    opt, t_opt = SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    x, y = randn(8, 3), randn(8, 2, seed=1)
    for _ in range(5):
        opt.zero_grad()
        t_opt.zero_grad()
        ((ours(tg.tensor(x)) - tg.tensor(y)) ** 2).mean().backward()
        ((theirs(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        t_opt.step()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p, tp, what=name)


def test_weight_norm_errors():
    lin = weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        weight_norm(lin)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        remove_weight_norm(lin, "bias")
    with pytest.raises(AttributeError, match="Linear has no parameter 'kernel'"):
        weight_norm(nn.Linear(3, 2), name="kernel")
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        weight_norm(nn.Linear(3, 2), dim=2)
    weight_norm(lin, name="bias", dim=None)  # another parameter is fine
    assert sorted(dict(lin.named_parameters())) == ["bias_g", "bias_v", "weight_g", "weight_v"]
    remove_weight_norm(lin)
    remove_weight_norm(lin, "bias")
    assert sorted(dict(lin.named_parameters())) == ["bias", "weight"]


# ----------------------------------------------------------------------------------------------
# The same on every device
# ----------------------------------------------------------------------------------------------


def test_init_utils_and_weight_norm_on_device(device):
    """Each piece once on the device (the GPU through CuPy when present) against the CPU."""
    w = orthogonal_(tg.empty(6, 4, dtype=tg.float64, device=device))
    assert w.device == device
    np.testing.assert_allclose(w.numpy().T @ w.numpy(), np.eye(4), atol=1e-12)
    x = tg.tensor(randn(1, 3, 4, 4), device=device)
    d = dirac_(tg.empty(3, 3, 3, 3, dtype=tg.float64, device=device))
    np.testing.assert_array_equal(NF.conv2d(x, d, padding=1).numpy(), x.numpy())
    s = sparse_(tg.empty(5, 3, device=device), 0.4).numpy()
    np.testing.assert_array_equal((s == 0).sum(axis=0), 2)
    e = eye_(tg.empty(2, 3, device=device))
    np.testing.assert_array_equal(e.numpy(), np.eye(2, 3))

    tp, pp = _params(5)
    for p in tp:
        p.grad = p.grad.to(device)
    total = clip_grad_norm_(tp, 0.5)
    assert total.device == device
    assert_close(total, torch.nn.utils.clip_grad_norm_(pp, 0.5))
    for a, b in zip(tp, pp, strict=True):
        assert_close(a.grad, b.grad)

    torch.manual_seed(0)
    conv, t_conv = twin(nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3), device)
    bn, t_bn = nn.BatchNorm2d(4).double(), torch.nn.BatchNorm2d(4).double()
    _random_bn(bn, t_bn, 3)
    bn.to(device)
    fused = fuse_conv_bn_eval(conv.eval(), bn.eval())
    assert fused.weight.device == device
    t_fused = torch.nn.utils.fuse_conv_bn_eval(t_conv.eval(), t_bn.eval())
    assert_close(fused(x), t_fused(torch.tensor(x.numpy())), atol=1e-12, rtol=1e-12)

    ours = weight_norm(nn.Linear(5, 4))
    theirs = _torch_weight_norm(torch.nn.Linear(5, 4))
    ours, theirs = twin(ours, theirs, device)
    assert ours.weight_g.device == device
    compare(ours, theirs, randn(3, 5), device)
