"""More shape/indexing and reduction ops vs torch: rot90, tensor_split, unfold, take,
masked_select, index_copy/fill, select and *_scatter, diff, sum_to_size; count_nonzero,
nansum/nanmean, quantile, cummax/cummin, logcumsumexp, aminmax, mode, unique, bincount, histc."""

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu.functional import reduce as R
from tinygrad_edu.functional import shape as S

L = torch.tensor
IDX = np.array([2, 0, 2])

SHAPE_OPS = {
    "rot90": (lambda x: S.rot90(x), lambda x: torch.rot90(x), [(3, 4, 2)]),
    "rot90 k=3 dims(-1,0)": (lambda x: S.rot90(x, 3, (-1, 0)),
                             lambda x: torch.rot90(x, 3, (-1, 0)), [(3, 4, 2)]),
    "rot90 k=-2": (lambda x: S.rot90(x, -2, (1, 2)), lambda x: torch.rot90(x, -2, (1, 2)),
                   [(3, 4, 2)]),
    "fliplr": (S.fliplr, torch.fliplr, [(3, 5)]),
    "flipud": (S.flipud, torch.flipud, [(3, 5, 2)]),
    "tensor_split 3": (lambda x: S.tensor_split(x, 3, -1), lambda x: torch.tensor_split(x, 3, -1),
                       [(2, 7)]),
    "tensor_split idx": (lambda x: S.tensor_split(x, [1, 4, 9]),
                         lambda x: torch.tensor_split(x, [1, 4, 9]), [(5, 3)]),
    "hsplit": (lambda x: S.hsplit(x, [1, 2]), lambda x: torch.hsplit(x, [1, 2]), [(3, 4, 2)]),
    "vsplit": (lambda x: S.vsplit(x, 2), lambda x: torch.vsplit(x, 2), [(4, 3)]),
    "dsplit": (lambda x: S.dsplit(x, 3), lambda x: torch.dsplit(x, 3), [(2, 3, 6)]),
    "unfold overlap": (lambda x: S.unfold(x, 1, 3, 2), lambda x: x.unfold(1, 3, 2), [(2, 8, 3)]),
    "unfold -1": (lambda x: S.unfold(x, -1, 2, 3), lambda x: x.unfold(-1, 2, 3), [(3, 8)]),
    "unfold step1": (lambda x: S.unfold(x, 0, 4, 1), lambda x: x.unfold(0, 4, 1), [(5, 2)]),
    "take": (lambda x: S.take(x, tg.tensor([[0, -1], [5, 5]])),
             lambda x: torch.take(x, L([[0, -1], [5, 5]])), [(3, 4)]),
    "take_along_dim": (lambda x: S.take_along_dim(x, tg.tensor([[0, 2, 2]]), -1),
                       lambda x: torch.take_along_dim(x, L([[0, 2, 2]]), -1), [(4, 3)]),
    "take_along_dim None": (lambda x: S.take_along_dim(x, tg.tensor([3, 3, 0])),
                            lambda x: torch.take_along_dim(x, L([3, 3, 0])), [(2, 3)]),
    "masked_select": (lambda x: S.masked_select(x, tg.tensor([True, False, True])),
                      lambda x: torch.masked_select(x, L([True, False, True])), [(2, 3)]),
    "index_copy": (lambda x, s: S.index_copy(x, 1, tg.tensor([3, 0]), s),
                   lambda x, s: torch.index_copy(x, 1, L([3, 0]), s), [(2, 5, 3), (2, 2, 3)]),
    "index_fill": (lambda x: S.index_fill(x, -1, tg.tensor([0, 2]), 1.5),
                   lambda x: torch.index_fill(x, -1, L([0, 2]), 1.5), [(2, 3, 4)]),
    "select": (lambda x: S.select(x, -2, -1), lambda x: torch.select(x, -2, -1), [(2, 3, 4)]),
    "select_scatter": (lambda x, s: S.select_scatter(x, s, 1, 2),
                       lambda x, s: torch.select_scatter(x, s, 1, 2), [(2, 3, 4), (2, 4)]),
    "slice_scatter": (lambda x, s: S.slice_scatter(x, s, -1, 1, None, 2),
                      lambda x, s: torch.slice_scatter(x, s, -1, 1, None, 2), [(3, 5), (3, 2)]),
    "diagonal_scatter": (lambda x, s: S.diagonal_scatter(x, s, 1, 0, 2),
                         lambda x, s: torch.diagonal_scatter(x, s, 1, 0, 2),
                         [(3, 2, 4), (2, 3)]),
    "diagonal_scatter -1": (lambda x, s: S.diagonal_scatter(x, s, -1, -1, -2),
                            lambda x, s: torch.diagonal_scatter(x, s, -1, -1, -2),
                            [(2, 4, 3), (2, 2)]),
    "diff": (lambda x: S.diff(x, 2, 0), lambda x: torch.diff(x, 2, 0), [(5, 3)]),
    "diff prepend": (lambda x, p, a: S.diff(x, 1, -1, p, a),
                     lambda x, p, a: torch.diff(x, 1, -1, p, a), [(3, 4), (3, 1), (3, 2)]),
    "sum_to_size": (lambda x: S.sum_to_size(x, 3, 1), lambda x: x.sum_to_size(3, 1),
                    [(2, 3, 4)]),
    "ravel": (S.ravel, torch.ravel, [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_ops(name):
    tg_fn, th_fn, shapes = SHAPE_OPS[name]
    check_op(tg_fn, th_fn, shapes)


def test_index_fill_tensor_value_grad():
    check_op(lambda x, v: S.index_fill(x, 0, tg.tensor([1]), v.reshape(())),
             lambda x, v: torch.index_fill(x, 0, L([1]), v.reshape(())), [(3, 2), (1,)])


def test_unfold_second_order():
    x = tg.tensor(np.random.default_rng(1).standard_normal((7,)), requires_grad=True)
    tg.gradgradcheck(lambda a: S.unfold(a, 0, 3, 2) ** 2, [x])


def test_argwhere_and_int_ops():
    a = np.array([[0, 1, 0], [2, 0, 3]])
    np.testing.assert_array_equal(S.argwhere(tg.tensor(a)).numpy(), torch.argwhere(L(a)))
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(S.diff(tg.tensor(b)).numpy(), torch.diff(L(b)))


def test_shape_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(ValueError, match="rot90: expected rotation dims to be different"):
        S.rot90(x, 1, (0, -2))
    with pytest.raises(ValueError, match="unfold: maximum size"):
        S.unfold(x, 1, 5, 1)
    with pytest.raises(ValueError, match="unfold: step"):
        S.unfold(x, 1, 2, 0)
    with pytest.raises(IndexError, match="take: index 12"):
        S.take(x, tg.tensor([12]))
    with pytest.raises(ValueError, match="hsplit.*not divisible"):
        S.hsplit(x, 3)
    with pytest.raises(TypeError, match="masked_select: expected a bool mask"):
        S.masked_select(x, tg.tensor([1, 0, 1, 0]))
    with pytest.raises(ValueError, match=r"index_copy: source \(2, 4\)"):
        S.index_copy(x, 1, tg.tensor([0, 1]), tg.zeros(2, 4))
    with pytest.raises(ValueError, match="slice_scatter: expected src"):
        S.slice_scatter(x, tg.zeros(3, 3), 1, 0, 2)
    with pytest.raises(ValueError, match="sum_to_size: size"):
        S.sum_to_size(x, 2, 4)
    with pytest.raises(IndexError, match="select: index 3"):
        S.select(x, 0, 3)


# ----------------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------------

REDUCE_OPS = {
    "nansum": (lambda x: R.nansum(x, -1), lambda x: torch.nansum(x, -1), [(3, 5)]),
    "nanmean": (lambda x: R.nanmean(x, (0, 2), keepdim=True),
                lambda x: torch.nanmean(x, (0, 2), keepdim=True), [(3, 4, 2)]),
    "logcumsumexp": (lambda x: R.logcumsumexp(x, -2), lambda x: torch.logcumsumexp(x, -2),
                     [(4, 3)]),
    "logcumsumexp 0": (lambda x: R.logcumsumexp(x * 30, 0),
                       lambda x: torch.logcumsumexp(x * 30, 0), [(6,)]),
    "cummax": (lambda x: R.cummax(x, 1), lambda x: torch.cummax(x, 1), [(3, 5, 2)]),
    "cummin": (lambda x: R.cummin(x, -1), lambda x: torch.cummin(x, -1), [(3, 5)]),
    "aminmax": (lambda x: R.aminmax(x, dim=0), lambda x: torch.aminmax(x, dim=0), [(4, 3)]),
    "aminmax all": (lambda x: R.aminmax(x), lambda x: torch.aminmax(x), [(4, 3)]),
    "msort": (R.msort, torch.msort, [(5, 2)]),
    "mode": (lambda x: R.mode(x.round(), 1), lambda x: torch.mode(x.round(), 1), [(3, 7)]),
}


@pytest.mark.parametrize("name", list(REDUCE_OPS))
def test_reduce_ops(name):
    tg_fn, th_fn, shapes = REDUCE_OPS[name]
    smooth = name not in ("mode",)
    check_op(tg_fn, th_fn, shapes, gradcheck=smooth)


def test_nan_reductions():
    a = np.array([[1.0, np.nan, 2.0], [np.nan, 4.0, np.nan]])
    for tg_fn, th_fn in ((lambda x: R.nansum(x, 1), lambda x: torch.nansum(x, 1)),
                         (lambda x: R.nanmean(x, 1), lambda x: torch.nanmean(x, 1))):
        check_op(tg_fn, th_fn, None, inputs=[a], gradcheck=False)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, True), (-1, False)])
def test_quantile(interpolation, dim, keepdim):
    q = np.array([0.0, 0.3, 0.5, 1.0])
    for dtype in (np.float64, np.float32):
        qd = q.astype(dtype)
        check_op(lambda x, qd=qd: R.quantile(x, tg.tensor(qd), dim, keepdim,
                                             interpolation=interpolation),
                 lambda x, qd=qd: torch.quantile(x, L(qd), dim, keepdim,
                                                 interpolation=interpolation),
                 [(3, 5)], dtypes=(dtype,),
                 gradcheck=interpolation == "linear" and dtype == np.float64)
    check_op(lambda x: R.quantile(x, 0.25, dim, keepdim, interpolation=interpolation),
             lambda x: torch.quantile(x, 0.25, dim, keepdim, interpolation=interpolation),
             [(2, 4)], gradcheck=False)


def test_quantile_ties_and_nan():
    a = np.array([[1.0, 2.0, 2.0, 2.0, 3.0], [0.5, np.nan, 1.0, 2.0, 2.0]])
    for fn, th in ((R.quantile, torch.quantile), (R.nanquantile, torch.nanquantile)):
        check_op(lambda x, fn=fn: fn(x, tg.tensor([0.4, 0.6, 0.5], dtype=x.dtype), 1),
                 lambda x, th=th: th(x, L([0.4, 0.6, 0.5], dtype=x.dtype), 1), None, inputs=[a],
                 gradcheck=False)


def test_cummax_ties_and_nan():
    a = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [1.0, np.nan, 3.0, np.nan, 0.0]])
    check_op(lambda x: R.cummax(x, 1), lambda x: torch.cummax(x, 1), None, inputs=[a],
             gradcheck=False)
    check_op(lambda x: R.cummin(x, 1), lambda x: torch.cummin(x, 1), None, inputs=[a],
             gradcheck=False)


def test_aminmax_ties():
    a = np.array([[1.0, 3.0, 3.0], [1.0, 1.0, 0.0]])
    check_op(lambda x: R.aminmax(x), lambda x: torch.aminmax(x), None, inputs=[a],
             gradcheck=False)
    check_op(lambda x: R.aminmax(x, dim=-1, keepdim=True),
             lambda x: torch.aminmax(x, dim=-1, keepdim=True), None, inputs=[a], gradcheck=False)


def test_mode_ties():
    a = np.array([[1.0, 2.0, 2.0, 1.0, 3.0], [5.0, 4.0, 4.0, 5.0, 5.0]])
    check_op(lambda x: R.mode(x, -1, True), lambda x: torch.mode(x, -1, True), None,
             inputs=[a], gradcheck=False)
    check_op(lambda x: R.mode(x, 0), lambda x: torch.mode(x, 0), None, inputs=[a],
             gradcheck=False)


def test_counting_ops():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(4, 5))
    for dim in (None, 1, (0, 1)):
        np.testing.assert_array_equal(R.count_nonzero(tg.tensor(a), dim).numpy(),
                                      torch.count_nonzero(L(a), dim))
    b = rng.integers(0, 6, size=9)
    w = rng.standard_normal(9).astype(np.float32)
    for kw in ({}, {"minlength": 10}):
        got, want = R.bincount(tg.tensor(b), **kw), torch.bincount(L(b), **kw)
        np.testing.assert_array_equal(got.numpy(), want)
        assert got.dtype == np.int64
    got = R.bincount(tg.tensor(b), tg.tensor(w))
    assert got.dtype == np.float32
    assert_close(got, torch.bincount(L(b), L(w)), np.float32)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    for args in ((10,), (4, -1.0, 1.0), (5, 0.0, 0.0)):
        assert_close(R.histc(tg.tensor(x), *args), torch.histc(L(x), *args), np.float32)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_unique(dim):
    a = np.array([[3, 1, 3], [3, 1, 3], [2, 2, 0], [3, 1, 3]])
    got = R.unique(tg.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    want = torch.unique(L(a), return_inverse=True, return_counts=True, dim=dim)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    got = R.unique_consecutive(tg.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    want = torch.unique_consecutive(L(a), return_inverse=True, return_counts=True, dim=dim)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    x = tg.tensor([1.0, 2.0, 1.0], requires_grad=True)
    assert not R.unique(x).requires_grad


def test_reduce_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(ValueError, match="quantile: q values must be in the range"):
        R.quantile(x, 1.5)
    with pytest.raises(ValueError, match="quantile: interpolation"):
        R.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="quantile: q tensor must be same dtype"):
        R.quantile(x, tg.tensor([0.5], dtype=np.float64))
    with pytest.raises(TypeError, match="quantile: input tensor must be"):
        R.quantile(tg.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="bincount: only 1-d integer"):
        R.bincount(x)
    with pytest.raises(ValueError, match="bincount: input should contain"):
        R.bincount(tg.tensor([-1, 2]))
    with pytest.raises(TypeError, match="nanmean: expected input"):
        R.nanmean(tg.tensor([1, 2]))
    with pytest.raises(IndexError, match="cummax: dimension out of range"):
        R.cummax(x, 2)
