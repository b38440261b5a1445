"""scatter / scatter_add / index_add, nonzero, repeat_interleave, tile, meshgrid, the Tensor
methods where / clamp_min / clamp_max / mm / bmm / outer, the in-place clamp_ / masked_fill_ /
div_ / exp_, and tg.is_tensor / isclose / set_default_dtype / nan_to_num, against torch."""

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tests.helpers import check_op

# a permutation per column: scatter writes every position at most once, so torch's gradient
# rule matches the numerical one
IDX = np.array([[2, 0, 1, 3], [0, 3, 2, 1]])


def test_scatter():
    ti = torch.tensor(IDX)
    check_op(lambda x, s: x.scatter(0, tg.tensor(IDX), s),
             lambda x, s: x.scatter(0, ti, s), [(4, 4), (2, 4)])
    check_op(lambda x, s: tg.scatter(x, -1, tg.tensor(IDX.T[:3]), s),
             lambda x, s: torch.scatter(x, -1, ti.T[:3], s), [(3, 4), (3, 2)])
    # a src larger than index: only its first index.shape entries are read (torch's own
    # backward fails on this shape, so torch checks the forward only)
    check_op(lambda x, s: x.scatter(0, tg.tensor(IDX), s),
             lambda x, s: x.scatter(0, ti, s), [(4, 4), (3, 5)], grad=False)
    check_op(lambda x, s: x.scatter(0, tg.tensor(IDX), s), None, [(4, 4), (3, 5)])


def test_scatter_number_and_repeated_index_grad():
    x = tg.zeros(3, 2, requires_grad=True)
    y = x.scatter(0, tg.tensor([[1, 0]]), 5.0)
    assert y.tolist() == torch.zeros(3, 2).scatter(0, torch.tensor([[1, 0]]), 5.0).tolist()
    # repeated positions: torch's rule gives every src entry dy of its position
    idx = np.array([[0, 1], [0, 1]])
    src_t = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    x_t = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    g = torch.arange(4.0, dtype=torch.float64).reshape(2, 2)
    (x_t.scatter(0, torch.tensor(idx), src_t) * g).sum().backward()
    src = tg.ones(2, 2, dtype=tg.float64, requires_grad=True)
    x = tg.zeros(2, 2, dtype=tg.float64, requires_grad=True)
    (x.scatter(0, tg.tensor(idx), src) * tg.tensor(g.numpy())).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), src_t.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), x_t.grad.numpy())


def test_scatter_add_repeats_add_up():
    idx = np.array([[2, 0, 2], [2, 2, 0]])
    ti = torch.tensor(idx)
    check_op(lambda x, s: x.scatter_add(0, tg.tensor(idx), s),
             lambda x, s: x.scatter_add(0, ti, s), [(3, 3), (2, 3)])
    check_op(lambda x, s: x.scatter_add(0, tg.tensor(idx), s),
             lambda x, s: x.scatter_add(0, ti, s), [(3, 3), (2, 4)], grad=False)
    check_op(lambda x, s: x.scatter_add(0, tg.tensor(idx), s), None, [(3, 3), (2, 4)])
    check_op(lambda x, s: tg.scatter_add(x, 1, tg.tensor(idx), s),
             lambda x, s: torch.scatter_add(x, 1, ti, s), [(2, 3), (2, 3)])


@pytest.mark.parametrize("alpha", [1, -2.5])
def test_index_add(alpha):
    idx = np.array([3, 0, 3])
    ti = torch.tensor(idx)
    check_op(lambda x, s: x.index_add(1, tg.tensor(idx), s, alpha=alpha),
             lambda x, s: x.index_add(1, ti, s, alpha=alpha), [(2, 4, 2), (2, 3, 2)])
    check_op(lambda x, s: tg.index_add(x, 0, tg.tensor(idx), s, alpha),
             lambda x, s: torch.index_add(x, 0, ti, s, alpha=alpha), [(4,), (3,)])


@pytest.mark.parametrize("call, message", [
    (lambda x: x.scatter(0, tg.tensor([[3, 0]]), tg.ones(1, 2)), "scatter: index 3 is out"),
    (lambda x: x.scatter(0, tg.tensor([[-1, 0]]), tg.ones(1, 2)), "scatter: index -1 is out"),
    (lambda x: x.scatter_add(1, tg.tensor([[0, 2]]), tg.ones(1, 2)), "scatter_add: index 2"),
    (lambda x: x.index_add(0, tg.tensor([5]), tg.ones(1, 2)), "index_add: index 5 is out"),
])
def test_index_out_of_range(call, message):
    with pytest.raises(IndexError, match=message):
        call(tg.zeros(3, 2))


def test_scatter_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="scatter: index has 1 dimensions"):
        tg.zeros(3, 2).scatter(0, tg.tensor([0]), tg.ones(1, 2))
    with pytest.raises(TypeError, match="scatter: expected self.dtype"):
        tg.zeros(3, 2).scatter(0, tg.tensor([[0, 1]]), tg.ones(1, 2, dtype=tg.float64))
    with pytest.raises(ValueError, match="index_add: source"):
        tg.zeros(3, 2).index_add(0, tg.tensor([0, 1]), tg.ones(1, 2))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_nonzero(shape):
    a = (np.random.default_rng(0).integers(0, 3, size=shape) > 1).astype(np.float32)
    a = a.reshape(shape)
    assert tg.tensor(a).nonzero().tolist() == torch.tensor(a).nonzero().tolist()
    assert tuple(tg.nonzero(tg.tensor(a)).shape) == tuple(torch.nonzero(torch.tensor(a)).shape)
    ours = tg.nonzero(tg.tensor(a), as_tuple=True)
    theirs = torch.nonzero(torch.tensor(a), as_tuple=True)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    assert ours[0].dtype == tg.int64


@pytest.mark.parametrize("repeats, dim, shape", [
    (2, None, (2, 3)), (3, 1, (2, 3)), ([1, 0, 2], 1, (2, 3)), ([2, 1], 0, (2, 3)),
    ([2], -1, (2, 3)),
])
def test_repeat_interleave(repeats, dim, shape):
    def ours(x):
        r = repeats if isinstance(repeats, int) else tg.tensor(repeats)
        return x.repeat_interleave(r, dim)

    def theirs(x):
        r = repeats if isinstance(repeats, int) else torch.tensor(repeats)
        return x.repeat_interleave(r, dim)

    check_op(ours, theirs, [shape])
    with pytest.raises(ValueError, match="repeat_interleave"):
        tg.zeros(2, 3).repeat_interleave(tg.tensor([1, 2]), 1)


@pytest.mark.parametrize("dims, shape", [((2,), (2, 3)), ((2, 1, 3), (2, 3)), ((1, 2), (3,))])
def test_tile(dims, shape):
    check_op(lambda x: x.tile(*dims), lambda x: x.tile(dims), [shape])
    check_op(lambda x: tg.tile(x, dims), lambda x: torch.tile(x, dims), [shape])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check_op(lambda a, b, c: tg.meshgrid(a, b, c, indexing=indexing),
             lambda a, b, c: torch.meshgrid(a, b, c, indexing=indexing), [(2,), (3,), (4,)])
    check_op(lambda a, b: tg.meshgrid([a, b], indexing=indexing),
             lambda a, b: torch.meshgrid([a, b], indexing=indexing), [(3,), ()])


def test_tensor_where_clamp_min_max():
    cond = np.array([[True, False, True], [False, False, True]])
    check_op(lambda x, y: x.where(tg.tensor(cond), y),
             lambda x, y: x.where(torch.tensor(cond), y), [(2, 3), (3,)])
    check_op(lambda x: x.clamp_min(0.3), lambda x: x.clamp_min(0.3), [(4, 5)])
    check_op(lambda x: x.clamp_max(-0.2), lambda x: x.clamp_max(-0.2), [(4, 5)])
    check_op(lambda x, lo: x.clamp_min(lo), lambda x, lo: x.clamp_min(lo), [(4, 5), (5,)])


def test_tensor_mm_bmm_outer():
    check_op(lambda a, b: a.mm(b), lambda a, b: a.mm(b), [(3, 4), (4, 2)])
    check_op(lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), [(2, 3, 4), (2, 4, 5)])
    check_op(lambda a, b: a.outer(b), lambda a, b: a.outer(b), [(3,), (4,)])


def test_inplace_clamp_masked_fill_div_exp():
    a = np.random.default_rng(1).uniform(-2, 2, size=(3, 4)).astype(np.float32)
    mask = a > 0.5
    for ours, theirs in [
        (lambda x: x.clamp_(-0.5, 0.7), lambda x: x.clamp_(-0.5, 0.7)),
        (lambda x: x.clamp_(min=0.1), lambda x: x.clamp_(min=0.1)),
        (lambda x: x.clamp_(max=tg.tensor([0.0, 1.0, -1.0, 2.0])),
         lambda x: x.clamp_(max=torch.tensor([0.0, 1.0, -1.0, 2.0]))),
        (lambda x: x.masked_fill_(tg.tensor(mask), -3.0),
         lambda x: x.masked_fill_(torch.tensor(mask), -3.0)),
        (lambda x: x.masked_fill_(tg.tensor(mask[0]), tg.tensor(9.0)),
         lambda x: x.masked_fill_(torch.tensor(mask[0]), torch.tensor(9.0))),
        (lambda x: x.div_(2.0), lambda x: x.div_(2.0)),
        (lambda x: x.exp_(), lambda x: x.exp_()),
    ]:
        x, y = tg.tensor(a.copy()), torch.tensor(a.copy())
        assert ours(x) is x
        theirs(y)
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6)
    xi = tg.tensor([1, 5, 9])
    xi.clamp_(2, 6)
    assert xi.tolist() == [2, 5, 6]
    with pytest.raises(RuntimeError, match="clamp_"):
        tg.tensor([1, 2]).clamp_(0.5)
    with pytest.raises(RuntimeError, match="clamp_"):
        tg.ones(2, requires_grad=True).clamp_(0.0)
    with pytest.raises(TypeError, match="masked_fill_: mask must be a bool"):
        tg.ones(2).masked_fill_(tg.tensor([1, 0]), 0.0)
    with pytest.raises(RuntimeError, match="div_"):
        tg.tensor([1, 2]).div_(2)


def test_inplace_after_use_is_refused_in_backward():
    w = tg.ones(3, requires_grad=True)
    x = tg.tensor([1.0, 2.0, 3.0])
    y = (w * x).sum()
    x.clamp_(max=2.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_is_tensor_isclose():
    assert tg.is_tensor(tg.zeros(1)) and not tg.is_tensor(np.zeros(1))
    a = [1.0, float("nan"), 2.0, float("inf")]
    b = [1.0 + 1e-7, float("nan"), 2.1, float("inf")]
    for equal_nan in (False, True):
        ours = tg.isclose(tg.tensor(a), tg.tensor(b), equal_nan=equal_nan)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), equal_nan=equal_nan)
        assert ours.tolist() == theirs.tolist() and ours.dtype == tg.bool
    assert tg.tensor(a).isclose(tg.tensor(b), rtol=0.1).tolist() == [True, False, True, True]


def test_default_dtype():
    assert tg.get_default_dtype() == tg.float32
    try:
        tg.set_default_dtype(tg.float64)
        assert tg.get_default_dtype() == tg.float64
        assert tg.tensor([1.5]).dtype == tg.float64
        assert tg.zeros(2).dtype == tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    assert tg.tensor([1.5]).dtype == tg.float32
    with pytest.raises(TypeError, match="set_default_dtype"):
        tg.set_default_dtype(tg.int64)


@pytest.mark.filterwarnings("ignore:overflow")  # the dtype's largest value times dy
@pytest.mark.parametrize("kwargs", [{}, {"nan": 1.5, "posinf": 9.0, "neginf": -9.0}])
def test_nan_to_num(kwargs):
    a = np.array([[np.nan, 1.0, np.inf], [-np.inf, -2.0, 0.5]])
    check_op(lambda x: tg.nan_to_num(x, **kwargs), lambda x: torch.nan_to_num(x, **kwargs),
             None, inputs=[a], gradcheck=False)
    check_op(lambda x: x.nan_to_num(**kwargs), lambda x: x.nan_to_num(**kwargs), [(3, 4)])
    assert tg.nan_to_num(tg.tensor([1, 2])).tolist() == [1, 2]


def test_double_backward():
    idx = tg.tensor(IDX)
    x = tg.tensor(np.random.default_rng(2).standard_normal((4, 4)), requires_grad=True)
    s = tg.tensor(np.random.default_rng(3).standard_normal((2, 4)), requires_grad=True)
    tg.gradgradcheck(lambda x, s: x.scatter(0, idx, s) ** 2, [x, s])
    tg.gradgradcheck(lambda x, s: x.scatter_add(0, idx, s) ** 2, [x, s])
    tg.gradgradcheck(lambda x: x.repeat_interleave(2, 1) ** 2, [x])
