"""torch's remaining top-level creation/random functions (tinygrad_edu.tensor) and misc ops
(tinygrad_edu.functional.misc), checked against torch 2.13."""

import importlib
import math

import numpy as np
import pytest

import tinygrad_edu.functional.misc as M
from tinygrad_edu.gradcheck import gradcheck

T = importlib.import_module("tinygrad_edu.tensor")  # the package re-exports a `tensor` function
torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def _same(ours, theirs, dtype=None, **tol):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    if dtype is None and not tol:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, **(tol or TOL[dtype]))


def _compare_grad(tg_fn, torch_fn, arrays, dtype):
    """Forward and backward (same random upstream gradient) against torch."""
    rng = np.random.default_rng(1)
    ours = [T.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y, ty = tg_fn(*ours), torch_fn(*theirs)
    _same(y, ty, dtype)
    g = rng.standard_normal(ty.shape).astype(dtype)
    y.backward(T.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        _same(a.grad, b.grad, dtype)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# Random draws: statistics and reproducibility
# ----------------------------------------------------------------------------------------------


def _twice(fn):
    T.manual_seed(123)
    a = _np(fn())
    T.manual_seed(123)
    b = _np(fn())
    np.testing.assert_array_equal(a, b)
    return a


def test_randperm():
    p = _twice(lambda: T.randperm(50))
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50))
    assert T.randperm(5, dtype=T.int32).dtype == np.int32
    assert T.randperm(0).shape == (0,)
    with pytest.raises(ValueError, match="randperm"):
        T.randperm(-1)


def test_bernoulli():
    probs = T.tensor(np.linspace(0, 1, 5).repeat(4000).reshape(5, 4000), dtype=T.float32)
    y = _twice(lambda: T.bernoulli(probs))
    assert y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_allclose(y.mean(1), np.linspace(0, 1, 5), atol=0.03)
    z = _twice(lambda: T.zeros(20000, dtype=T.float64).bernoulli(0.3))
    assert z.dtype == np.float64 and abs(z.mean() - 0.3) < 0.02
    assert not T.bernoulli(T.full((3,), 0.5, requires_grad=True)).requires_grad
    with pytest.raises(ValueError, match="bernoulli"):
        T.bernoulli(T.tensor([0.5, 1.5]))
    with pytest.raises(TypeError, match="bernoulli"):
        T.bernoulli(T.tensor([0, 1]))


def test_multinomial():
    w = T.tensor([1.0, 2.0, 0.0, 7.0])
    s = _twice(lambda: T.multinomial(w, 20000, replacement=True))
    assert s.dtype == np.int64 and s.shape == (20000,)
    np.testing.assert_allclose(np.bincount(s, minlength=4) / 20000, [0.1, 0.2, 0, 0.7],
                               atol=0.02)
    rows = _twice(lambda: T.tensor([[1.0, 1.0, 1.0], [0.0, 5.0, 1.0]]).multinomial(2))
    assert rows.shape == (2, 2)
    for row in rows:
        assert len(set(row.tolist())) == 2  # without replacement: distinct
    assert 0 not in rows[1]
    first = np.array([_np(T.multinomial(T.tensor([1.0, 3.0]), 1))[0] for _ in range(2000)])
    assert abs(first.mean() - 0.75) < 0.04
    with pytest.raises(ValueError, match="multinomial.*K=2"):
        T.multinomial(T.tensor([1.0, 1.0]), 3)
    with pytest.raises(ValueError, match="non-zero"):
        T.multinomial(T.tensor([1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="not a distribution"):
        T.multinomial(T.tensor([1.0, -1.0]), 1, True)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        T.multinomial(T.ones(2, 2, 2), 1)


def test_normal():
    y = _twice(lambda: T.normal(2.0, 3.0, size=(40000,)))
    assert y.dtype == np.float32 and abs(y.mean() - 2) < 0.05 and abs(y.std() - 3) < 0.05
    mean = T.tensor(np.array([[-5.0], [5.0]]))
    std = T.tensor(np.array([0.5, 1.0, 2.0]))
    z = _twice(lambda: T.normal(mean.expand(2, 3).repeat(1, 4000),
                                std.repeat(4000)))
    assert z.dtype == np.float64 and z.shape == (2, 12000)
    np.testing.assert_allclose(z.reshape(2, 4000, 3).mean(1), [[-5] * 3, [5] * 3], atol=0.1)
    np.testing.assert_allclose(z.reshape(2, 4000, 3).std(1), [[0.5, 1, 2]] * 2, rtol=0.06)
    w = _np(T.normal(T.zeros(20000, dtype=T.float64), 2.0))
    assert w.dtype == np.float64 and abs(w.std() - 2) < 0.05
    assert T.normal(1.0, T.ones(3)).shape == (3,)
    assert T.normal(0.0, 1.0, (2, 2), dtype=T.float64).dtype == np.float64
    with pytest.raises(ValueError, match="std >= 0"):
        T.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="size"):
        T.normal(0.0, 1.0)


def test_poisson():
    rates = T.tensor(np.repeat([[0.0], [1.0], [4.0]], 20000, axis=1), dtype=T.float32)
    y = _twice(lambda: T.poisson(rates))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(1), [0, 1, 4], atol=0.05)
    np.testing.assert_allclose(y.var(1), [0, 1, 4], atol=0.15)
    with pytest.raises(ValueError, match="poisson"):
        T.poisson(T.tensor([-1.0]))


def test_seed():
    s = T.seed()
    assert isinstance(s, int) and 0 <= s < 2**63
    a = _np(T.randn(3))
    T.manual_seed(s)
    np.testing.assert_array_equal(a, _np(T.randn(3)))
    assert T.seed() != s


# ----------------------------------------------------------------------------------------------
# Deterministic creation functions
# ----------------------------------------------------------------------------------------------


def test_logspace():
    _same(T.logspace(0, 2, 3), torch.logspace(0, 2, 3))
    _same(T.logspace(-1, 3, 7, base=2, dtype=T.float64),
          torch.logspace(-1, 3, 7, base=2, dtype=torch.float64), np.float64)
    _same(T.logspace(0.5, 1.5, 5), torch.logspace(0.5, 1.5, 5), np.float32)
    assert T.logspace(0, 1, 1).tolist() == [1.0]


def test_as_tensor_shares_memory():
    a = np.arange(4.0)
    t = T.as_tensor(a)
    a[0] = 9.0
    assert t.dtype == np.float64 and t.tolist()[0] == 9.0
    x = T.ones(2)
    assert T.as_tensor(x) is x and T.as_tensor(x, dtype=T.float32) is x
    y = T.as_tensor(a, dtype=T.float32)
    a[1] = 7.0
    assert y.dtype == np.float32 and y.tolist()[1] == 1.0  # a copy when the dtype changes
    _same(T.as_tensor([1, 2]), torch.as_tensor([1, 2]))
    _same(T.as_tensor([1.5, 2]), torch.as_tensor([1.5, 2]))
    assert T.as_tensor(x, dtype=T.float64).dtype == np.float64


@pytest.mark.parametrize("row,col,offset", [(3, 4, 0), (4, 3, 1), (3, 3, -1), (0, 2, 0),
                                             (5, 2, -7), (2, 5, 9)])
def test_triangle_indices(row, col, offset):
    _same(T.tril_indices(row, col, offset), torch.tril_indices(row, col, offset))
    _same(T.triu_indices(row, col, offset), torch.triu_indices(row, col, offset))
    assert T.tril_indices(3, 3, dtype=T.int32).dtype == np.int32
    with pytest.raises(ValueError, match="tril_indices"):
        T.tril_indices(-1, 2)


def test_cartesian_prod_and_combinations_values():
    a, b, c = [1, 2], [3, 4, 5], [6]
    _same(T.cartesian_prod(T.tensor(a), T.tensor(b), T.tensor(c)),
          torch.cartesian_prod(torch.tensor(a), torch.tensor(b), torch.tensor(c)))
    _same(T.cartesian_prod(T.tensor(a)), torch.cartesian_prod(torch.tensor(a)))
    x = [1.0, 2.0, 3.0, 4.0]
    for r in (0, 1, 2, 3, 5):
        for rep in (False, True):
            _same(T.combinations(T.tensor(x), r, rep), torch.combinations(torch.tensor(x), r, rep))
    with pytest.raises(ValueError, match="combinations: expected 1-D"):
        T.combinations(T.ones(2, 2))
    with pytest.raises(ValueError, match="cartesian_prod: expected 1-D"):
        T.cartesian_prod(T.ones(2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cartesian_prod_combinations_grad(dtype):
    _compare_grad(lambda a, b: T.cartesian_prod(a, b), torch.cartesian_prod,
                  [_r(3), _r(2, seed=1)], dtype)
    _compare_grad(lambda a: T.combinations(a, 2, True), lambda a: torch.combinations(a, 2, True),
                  [_r(4)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vander(dtype):
    x = np.array([0.0, 1.5, -2.0, 0.5, 3.0])
    for N, inc in [(None, False), (3, True), (1, False), (0, True), (6, False)]:
        _same(T.vander(T.tensor(x.astype(dtype)), N, inc),
              torch.vander(torch.tensor(x.astype(dtype)), N, inc), dtype)
    _same(T.vander(T.tensor([1, 2, 3])), torch.vander(torch.tensor([1, 2, 3])))

    # torch 2.13's own vander backward fails (an in-place cumprod), so the oracle is the
    # construction torch's forward uses: cumprod of [1, x, x, ...]
    def ref(t):
        n = t.shape[0]
        ones = torch.ones(n, 1, dtype=t.dtype)
        return torch.cat([ones, t[:, None].expand(n, 3)], 1).cumprod(1).flip(1)

    _compare_grad(lambda t: T.vander(t, 4), ref, [x], dtype)
    gradcheck(lambda t: T.vander(t, 4, True), [T.tensor(x[1:], requires_grad=True)])


# ----------------------------------------------------------------------------------------------
# Broadcasting, stacking, block_diag
# ----------------------------------------------------------------------------------------------


def test_broadcast_shapes_and_tensors():
    cases = [((2, 1), (3,)), ((), (4, 1, 5), (1, 5)), (2, (3, 1)), ((0, 1), (1, 3))]
    for shapes in cases:
        assert M.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises(ValueError, match=r"broadcast_shapes.*\(2,\), \(3,\)"):
        M.broadcast_shapes((2,), (3,))
    for dtype in DTYPES:
        _compare_grad(lambda a, b: sum(t * (i + 1) for i, t in
                                       enumerate(M.broadcast_tensors(a, b))),
                      lambda a, b: sum(t * (i + 1) for i, t in
                                       enumerate(torch.broadcast_tensors(a, b))),
                      [_r(3, 1), _r(4, seed=2)], dtype)
    x = T.ones(2)
    assert M.broadcast_tensors(x)[0] is x


SHAPE_SETS = [[(), (1,)], [(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 4), (2, 3, 1)], [(3,), (3,), ()]]


@pytest.mark.parametrize("name", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
def test_stacks(name):
    ours, theirs = getattr(M, name), getattr(torch, name)
    for shapes in SHAPE_SETS:
        arrays = [_r(*s, seed=i) for i, s in enumerate(shapes)]
        try:
            expected = theirs([torch.tensor(a) for a in arrays])
        except RuntimeError:
            with pytest.raises(ValueError):
                ours([T.tensor(a) for a in arrays])
            continue
        _same(ours([T.tensor(a) for a in arrays]), expected, np.float64)
    for dtype in DTYPES:
        _compare_grad(lambda a, b: ours([a, b]), lambda a, b: theirs([a, b]),
                      [_r(2, 3), _r(2, 3, seed=3)], dtype)
    _same(ours([T.tensor([1, 2]), T.tensor([3.0, 4.0])]),
          theirs([torch.tensor([1, 2]), torch.tensor([3.0, 4.0])]))
    with pytest.raises(ValueError, match=name if name != "row_stack" else "vstack"):
        ours([])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_atleast(n):
    ours, theirs = getattr(M, f"atleast_{n}d"), getattr(torch, f"atleast_{n}d")
    for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]:
        a = _r(*shape)
        _same(ours(T.tensor(a)), theirs(torch.tensor(a)))
    out = ours(T.tensor(1.0), T.ones(2))
    ref = theirs(torch.tensor(1.0), torch.ones(2))
    assert isinstance(out, tuple) and [o.shape for o in out] == [tuple(r.shape) for r in ref]
    assert isinstance(ours((T.tensor(1.0),)), tuple)
    x = T.tensor(_r(3), requires_grad=True)
    ours(x).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.ones(3))


def test_block_diag():
    blocks = [(), (3,), (2, 2), (0, 2), (2, 0), (1, 3)]
    arrays = [_r(*s, seed=i) for i, s in enumerate(blocks)]
    _same(M.block_diag(*[T.tensor(a) for a in arrays]),
          torch.block_diag(*[torch.tensor(a) for a in arrays]))
    _same(M.block_diag(T.tensor(1), T.tensor([2.0, 3.0]), T.ones(2, 2, dtype=T.int32)),
          torch.block_diag(torch.tensor(1), torch.tensor([2.0, 3.0]),
                           torch.ones(2, 2, dtype=torch.int32)))
    _same(M.block_diag(T.tensor([1, 2])), torch.block_diag(torch.tensor([1, 2])))
    assert M.block_diag().shape == tuple(torch.block_diag().shape)
    for dtype in DTYPES:
        _compare_grad(M.block_diag, torch.block_diag, [_r(2, 3), _r(4, seed=1), _r(seed=2)],
                      dtype)
    gradcheck(M.block_diag, [T.tensor(_r(2, 2), requires_grad=True),
                             T.tensor(_r(1, 3, seed=1), requires_grad=True)])
    with pytest.raises(ValueError, match=r"block_diag.*\(2, 2, 2\)"):
        M.block_diag(T.ones(2, 2, 2))


# ----------------------------------------------------------------------------------------------
# cdist
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf, 0.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cdist_vs_torch(p, dtype):
    x1, x2 = _r(2, 4, 3), _r(1, 5, 3, seed=1)
    x2[0, 0] = x1[0, 1]  # a zero distance in batch 0 (the p = 2 gradient there is 0)
    x2[0, 1, 0] = x1[1, 2, 0]  # one equal coordinate
    if p == 0.0:  # torch gives 0 gradients; here the output does not require grad
        _same(M.cdist(T.tensor(x1.astype(dtype)), T.tensor(x2.astype(dtype)), p),
              torch.cdist(torch.tensor(x1.astype(dtype)), torch.tensor(x2.astype(dtype)), p))
        return
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    rng = np.random.default_rng(3)
    a = T.tensor(x1.astype(dtype), requires_grad=True)
    b = T.tensor(x2.astype(dtype), requires_grad=True)
    ta = torch.tensor(x1.astype(dtype), requires_grad=True)
    tb = torch.tensor(x2.astype(dtype), requires_grad=True)
    y = M.cdist(a, b, p)
    ty = torch.cdist(ta, tb, p)
    _same(y, ty, **tol)
    g = rng.standard_normal(ty.shape).astype(dtype)
    y.backward(T.tensor(g))
    ty.backward(torch.tensor(g))
    _same(a.grad, ta.grad, **tol)
    _same(b.grad, tb.grad, **tol)
    if p == 2.0:
        assert _np(y)[0, 1, 0] == 0.0


def test_cdist_gradcheck_and_errors():
    for p in (2.0, 1.0, 3.0, math.inf):
        x1 = T.tensor(_r(3, 2), requires_grad=True)
        x2 = T.tensor(_r(2, 4, 2, seed=5), requires_grad=True)
        gradcheck(lambda a, b, p=p: M.cdist(a, b, p), [x1, x2])
    big1, big2 = _r(30, 4), _r(27, 4, seed=1)  # torch's matmul path (P, R > 25)
    _same(M.cdist(T.tensor(big1), T.tensor(big2)), torch.cdist(torch.tensor(big1),
                                                              torch.tensor(big2)),
          rtol=1e-7, atol=1e-7)
    with pytest.raises(ValueError, match=r"cdist.*x1: \(2, 3\), x2: \(2, 4\)"):
        M.cdist(T.ones(2, 3), T.ones(2, 4))
    with pytest.raises(TypeError, match="cdist.*int64"):
        M.cdist(T.tensor([[1, 2]]), T.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="non-negative p"):
        M.cdist(T.ones(2, 3), T.ones(2, 3), -1.0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        M.cdist(T.ones(3), T.ones(2, 3))


# ----------------------------------------------------------------------------------------------
# clone, numel, searchsorted, bucketize
# ----------------------------------------------------------------------------------------------


def test_clone_numel():
    x = T.tensor(_r(2, 3), requires_grad=True)
    y = M.clone(x)
    assert y.data is not x.data
    (y * 2).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.full((2, 3), 2.0))
    assert M.numel(T.ones(2, 3, 4)) == 24 == torch.numel(torch.ones(2, 3, 4))
    assert M.numel(T.tensor(1.0)) == 1


def test_searchsorted_bucketize():
    s = [1.0, 3.0, 3.0, 5.0, 7.0]
    v = [[0.0, 3.0, 6.0], [7.0, 8.0, 3.0]]
    for kw in [{}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}]:
        _same(M.searchsorted(T.tensor(s), T.tensor(v), **kw),
              torch.searchsorted(torch.tensor(s), torch.tensor(v), **kw))
        _same(M.searchsorted(T.tensor(s), 3.0, **kw),
              torch.searchsorted(torch.tensor(s), 3.0, **kw))
    rows = [[1.0, 2.0, 3.0], [0.0, 5.0, 9.0]]
    _same(M.searchsorted(T.tensor(rows), T.tensor(v), right=True),
          torch.searchsorted(torch.tensor(rows), torch.tensor(v), right=True))
    unsorted = [5.0, 1.0, 3.0]
    sorter = [1, 2, 0]
    _same(M.searchsorted(T.tensor(unsorted), T.tensor([2.0, 4.0]), sorter=T.tensor(sorter)),
          torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.0, 4.0]),
                             sorter=torch.tensor(sorter)))
    for right in (False, True):
        _same(M.bucketize(T.tensor(v), T.tensor(s), right=right),
              torch.bucketize(torch.tensor(v), torch.tensor(s), right=right))
        _same(M.bucketize(3, T.tensor([1, 3, 5]), right=right),
              torch.bucketize(3, torch.tensor([1, 3, 5]), right=right))
    x = T.tensor([1.0, 4.0], requires_grad=True)
    assert not M.searchsorted(T.tensor(s), x).requires_grad
    with pytest.raises(ValueError, match="opposites"):
        M.searchsorted(T.tensor(s), x, right=True, side="left")
    with pytest.raises(ValueError, match=r"searchsorted.*\(2, 3\).*\(3, 3\)"):
        M.searchsorted(T.tensor(rows), T.ones(3, 3))
    with pytest.raises(ValueError, match="bucketize: boundaries must be a 1-D"):
        M.bucketize(x, T.ones(2, 2))


# ----------------------------------------------------------------------------------------------
# trapezoid rules, heaviside
# ----------------------------------------------------------------------------------------------


TRAP_CASES = [
    ((4, 5), None, None, -1),
    ((4, 5), None, 0.5, 0),
    ((4, 5), "1d", None, 0),
    ((3, 4, 5), "same", None, 1),
    ((3, 5), "bcast", None, -1),
    ((2, 1), None, None, -1),
]


def _trap_args(shape, xkind, dim):
    n = shape[dim]
    if xkind == "1d":
        return [np.sort(_r(n, seed=7))]
    if xkind == "same":
        return [np.cumsum(np.abs(_r(*shape, seed=7)), axis=dim)]
    if xkind == "bcast":
        return [np.cumsum(np.abs(_r(1, n, seed=7)), axis=-1)]
    return []


@pytest.mark.parametrize("case", TRAP_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid"])
def test_trapezoid_vs_torch(case, dtype, name):
    shape, xkind, dx, dim = case
    ours, theirs = getattr(M, name), getattr(torch, name)
    arrays = [_r(*shape)] + _trap_args(shape, xkind, dim)
    kw = {"dim": dim} if dx is None else {"dim": dim, "dx": dx}
    _compare_grad(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), arrays, dtype)
    inputs = [T.tensor(a, requires_grad=True) for a in arrays]
    gradcheck(lambda *t: ours(*t, **kw), inputs)


def test_trapezoid_extras():
    y = [1, 2, 4]
    for name in ("trapezoid", "cumulative_trapezoid"):
        ours, theirs = getattr(M, name), getattr(torch, name)
        _same(ours(T.tensor(y)), theirs(torch.tensor(y)))
        _same(ours(T.tensor(y), dx=2), theirs(torch.tensor(y), dx=2))
        _same(ours(T.tensor([1.0, 2.0, 4.0]), T.tensor([0, 1, 3])),
              theirs(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0, 1, 3])))
        _same(ours(T.tensor([[1.0, 2.0, 4.0]]), 0.5),  # a number x is a spacing (torch: dx only)
              theirs(torch.tensor([[1.0, 2.0, 4.0]]), dx=0.5))
        _same(ours(T.ones(2, 0)), theirs(torch.ones(2, 0)))
        with pytest.raises(ValueError, match=rf"{name}: there must be one x value"):
            ours(T.ones(2, 3), T.ones(4))


def test_heaviside():
    x = [-1.5, 0.0, 2.0, 0.0, -0.0]
    _same(M.heaviside(T.tensor(x), T.tensor([0.5])), torch.heaviside(torch.tensor(x),
                                                                    torch.tensor([0.5])))
    vals = _r(2, 1)
    _same(M.heaviside(T.tensor(x, dtype=T.float64), T.tensor(vals)),
          torch.heaviside(torch.tensor(x, dtype=torch.float64), torch.tensor(vals)))
    _same(M.heaviside(T.tensor([1, 0, -3]), T.tensor([5])),
          torch.heaviside(torch.tensor([1, 0, -3]), torch.tensor([5])))
    t = T.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="heaviside: the derivative is not implemented"):
        M.heaviside(t, T.tensor([0.5])).sum().backward()
    with pytest.raises(TypeError, match="same dtype"):
        M.heaviside(T.tensor([1.0]), T.tensor([1.0], dtype=T.float64))
