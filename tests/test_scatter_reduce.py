"""scatter_reduce (sum, prod, mean, amax, amin; include_self either way) and scatter(reduce=
"add" | "multiply") against torch: forward, gradients of input and src with one random
upstream gradient, float64 numerical gradients where the function is smooth, torch's tie and
zero rules, integer dtypes, 0-d tensors, second derivatives and the errors."""

import re

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, to_numpy

import tinygrad_edu as tg
from tinygrad_edu.functional.shape import scatter, scatter_reduce

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")

# (x shape, dim, index shape): odd, non-square shapes; index smaller than x off ``dim`` and
# longer than x along it, so positions repeat
CASES = [
    ((5,), 0, (9,)),
    ((3, 5), 0, (7, 4)),
    ((3, 5), 1, (2, 8)),
    ((4, 3, 5), -1, (3, 2, 7)),
    ((4, 3, 5), 1, (4, 6, 5)),
]


def index_for(x_shape, dim, idx_shape, seed=0):
    """A random index of idx_shape with values in [0, x_shape[dim]) and repeats."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, x_shape[dim], size=idx_shape)


def torch_and_ours(idx, dim, reduce, include_self):
    ti = torch.tensor(idx)

    def ours(x, s):
        return scatter_reduce(x, dim, tg.tensor(idx, device=x.device), s, reduce,
                              include_self=include_self)

    def theirs(x, s):
        return x.scatter_reduce(dim, ti, s, reduce, include_self=include_self)

    return ours, theirs


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-dim{c[1]}")
def test_scatter_reduce_matches_torch(case, reduce, include_self):
    x_shape, dim, idx_shape = case
    idx = index_for(x_shape, dim, idx_shape)
    ours, theirs = torch_and_ours(idx, dim, reduce, include_self)
    # continuous random values: no ties, no zeros, so the function is smooth at the point and
    # float64 central differences check the gradients too; prod stays away from 0 and grows
    # moderately
    low, high = (0.5, 1.5) if reduce == "prod" else (-2.0, 2.0)
    check_op(ours, theirs, [x_shape, idx_shape], low=low, high=high)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_ties_share_the_gradient_like_torch(reduce, include_self):
    """Small integers make ties everywhere: within src, and between src and x."""
    rng = np.random.default_rng(1)
    for x_shape, dim, idx_shape in CASES:
        idx = index_for(x_shape, dim, idx_shape, seed=2)
        ours, theirs = torch_and_ours(idx, dim, reduce, include_self)
        inputs = [rng.integers(-1, 2, size=x_shape), rng.integers(-1, 2, size=idx_shape)]
        check_op(ours, theirs, None, inputs=inputs, gradcheck=False)


def test_amax_ties_by_hand():
    x = tg.tensor([1.0, 4.0, 0.0], requires_grad=True)
    src = tg.tensor([4.0, 4.0, 2.0, -1.0], requires_grad=True)
    y = scatter_reduce(x, 0, tg.tensor([1, 1, 0, 2]), src, "amax")
    assert y.tolist() == [2.0, 4.0, 0.0]
    y.backward(tg.tensor([1.0, 3.0, 5.0]))
    # position 1: x and both src 4s tie at the max and share dy = 3 evenly
    assert x.grad.tolist() == [0.0, 1.0, 5.0]
    assert src.grad.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_include_self_false_quirk_follows_torch():
    """torch counts x == y in the tie count even where include_self=False leaves x out: a src
    maximum equal to x's discarded value gets half of dy. We follow torch 2.13."""
    x_t = torch.tensor([5.0, 1.0], dtype=torch.float64, requires_grad=True)
    s_t = torch.tensor([5.0, 3.0, 2.0], dtype=torch.float64, requires_grad=True)
    idx = np.array([0, 0, 1])
    x_t.scatter_reduce(0, torch.tensor(idx), s_t, "amax", include_self=False).sum().backward()
    x = tg.tensor(x_t.detach().numpy(), requires_grad=True)
    s = tg.tensor(s_t.detach().numpy(), requires_grad=True)
    scatter_reduce(x, 0, tg.tensor(idx), s, "amax", include_self=False).sum().backward()
    assert s.grad.tolist() == s_t.grad.tolist() == [0.5, 0.0, 1.0]
    assert x.grad.tolist() == x_t.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("include_self", [True, False])
def test_prod_with_zeros_matches_torch_and_numerical(include_self):
    """Zeros in x and src, one or several at a position: torch's formula is the product of the
    other factors, exact (a product is a polynomial, so central differences agree too)."""
    x = np.array([[0.0, 2.0, 3.0, 1.5], [-1.0, 0.0, 0.5, 2.0], [1.0, 1.0, 0.0, -2.0]])
    src = np.array([[0.0, 4.0, 0.0, 5.0], [0.0, 1.5, 0.0, -1.0], [2.0, 0.0, 0.0, 3.0],
                    [1.0, 0.0, 2.0, 0.0], [0.5, 3.0, 0.0, 0.0]])
    idx = np.array([[0, 1, 1, 0], [0, 2, 2, 0], [1, 1, 0, 2], [2, 0, 0, 2], [1, 1, 1, 1]])
    ours, theirs = torch_and_ours(idx, 0, "prod", include_self)
    check_op(ours, theirs, None, inputs=[x, src])


def test_prod_zero_grads_by_hand():
    x = tg.tensor([0.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    src = tg.tensor([0.0, 4.0, 0.0, 5.0, 0.0], dtype=tg.float64, requires_grad=True)
    y = scatter_reduce(x, 0, tg.tensor([0, 0, 1, 2, 2]), src, "prod")
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.backward(tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]  # 0 * 4, 0, 5 * 0
    assert src.grad.tolist() == [0.0, 0.0, 4.0, 0.0, 45.0]  # 2 * x[1]; 3 * x[2] * 5


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean"])
def test_second_derivatives(reduce, include_self):
    idx = tg.tensor([[0, 2, 1], [0, 0, 1], [2, 2, 2], [0, 1, 1]])
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.uniform(0.5, 1.5, size=(3, 3)), requires_grad=True)
    s = tg.tensor(rng.uniform(0.5, 1.5, size=(4, 3)), requires_grad=True)
    tg.gradgradcheck(
        lambda x, s: scatter_reduce(x, 0, idx, s, reduce, include_self=include_self) ** 2,
        [x, s])


def test_tensor_method_and_src_larger_than_index():
    idx = np.array([[1, 0, 1], [1, 1, 2]])
    ti = torch.tensor(idx)
    check_op(lambda x, s: x.scatter_reduce(1, tg.tensor(idx), s, "mean", include_self=False),
             lambda x, s: x.scatter_reduce(1, ti, s, "mean", include_self=False),
             [(2, 4), (2, 3)])
    # a src larger than index: only its first index.shape entries are read (torch's own
    # backward fails on this shape, so torch checks the forward only; the rest gets zeros)
    for reduce in REDUCTIONS:
        check_op(lambda x, s, r=reduce: x.scatter_reduce(1, tg.tensor(idx), s, r),
                 lambda x, s, r=reduce: x.scatter_reduce(1, ti, s, r),
                 [(2, 4), (3, 5)], grad=False)
        check_op(lambda x, s, r=reduce: x.scatter_reduce(1, tg.tensor(idx), s, r), None,
                 [(2, 4), (3, 5)], low=0.5, high=1.5)


def test_zero_dim_and_empty_index():
    x = tg.tensor(2.0, requires_grad=True)
    s = tg.tensor(3.0, requires_grad=True)
    y = x.scatter_reduce(0, tg.tensor(0), s, "prod")
    assert y.item() == torch.tensor(2.0).scatter_reduce(0, torch.tensor(0),
                                                        torch.tensor(3.0), "prod").item()
    y.backward()
    assert (x.grad.item(), s.grad.item()) == (3.0, 2.0)
    for reduce in REDUCTIONS:
        out = tg.ones(2, 3).scatter_reduce(0, tg.zeros(0, 3, dtype=tg.int64), tg.ones(0, 3),
                                           reduce, include_self=False)
        assert out.tolist() == [[1.0] * 3] * 2


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_integer_dtypes_match_torch(reduce, include_self):
    """Integers: mean rounds down (floor), amax/amin start from the dtype's extremes."""
    rng = np.random.default_rng(4)
    x = rng.integers(-5, 6, size=(3, 4))
    src = rng.integers(-5, 6, size=(5, 4))
    idx = rng.integers(0, 3, size=(5, 4))
    for dtype in (np.int64, np.int32):
        ours = scatter_reduce(tg.tensor(x.astype(dtype)), 0, tg.tensor(idx),
                              tg.tensor(src.astype(dtype)), reduce, include_self=include_self)
        theirs = torch.tensor(x.astype(dtype)).scatter_reduce(
            0, torch.tensor(idx), torch.tensor(src.astype(dtype)), reduce,
            include_self=include_self)
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(to_numpy(ours), theirs.numpy())


# ----------------------------------------------------------------------------------------------
# scatter(..., reduce="add" | "multiply")
# ----------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(reduce):
    idx = index_for((3, 5), 0, (4, 5), seed=5)
    ti = torch.tensor(idx)
    same = {"add": "sum", "multiply": "prod"}[reduce]
    # forward against torch.scatter(reduce=...), which has no backward ("derivative for
    # aten::scatter is not implemented"); the gradient against the same scatter_reduce
    check_op(lambda x, s: x.scatter(0, tg.tensor(idx), s, reduce=reduce),
             lambda x, s: x.scatter(0, ti, s, reduce=reduce), [(3, 5), (4, 5)], grad=False)
    check_op(lambda x, s: scatter(x, 0, tg.tensor(idx), s, reduce=reduce),
             lambda x, s: x.scatter_reduce(0, ti, s, same), [(3, 5), (4, 5)], low=0.5, high=1.5)
    # a number as src
    for dtype in (torch.float32, torch.int64):
        base = torch.arange(1, 16).reshape(3, 5).to(dtype)
        theirs = base.scatter(0, ti, 3, reduce=reduce)
        ours = tg.tensor(base.numpy()).scatter(0, tg.tensor(idx), 3, reduce=reduce)
        np.testing.assert_array_equal(to_numpy(ours), theirs.numpy())
    x = tg.tensor(np.ones((3, 5)), requires_grad=True)
    x.scatter(0, tg.tensor(idx), 2.0, reduce=reduce).sum().backward()
    grads = x.grad.numpy()
    counts = np.zeros((3, 5))
    np.add.at(counts, (idx, np.arange(5)[None, :]), 1)
    assert_close(grads, 2.0 ** counts if reduce == "multiply" else np.ones((3, 5)))


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_errors():
    x, s = tg.zeros(3, 2), tg.ones(2, 2)
    idx = tg.tensor([[0, 1], [2, 2]])
    with pytest.raises(ValueError, match=re.escape(
            "scatter_reduce: reduce argument must be either sum, prod, mean, amax or amin, "
            "got 'max' (use 'amax')")):
        x.scatter_reduce(0, idx, s, "max")
    with pytest.raises(ValueError, match="got 'add'"):
        scatter_reduce(x, 0, idx, s, "add")
    with pytest.raises(IndexError, match="scatter_reduce: index must be an integer tensor, got "
                                         "dtype float32"):
        x.scatter_reduce(0, tg.tensor([[0.0, 1.0]]), s, "sum")
    with pytest.raises(ValueError, match=re.escape(
            "scatter_reduce: index has 1 dimensions but input has 2 (input (3, 2), index (2,))")):
        x.scatter_reduce(0, tg.tensor([0, 1]), s, "sum")
    with pytest.raises(ValueError, match=re.escape(
            "scatter_reduce: expected index (3, 2) to be no larger than input (3, 2) apart "
            "from dimension 0 and no larger than src (2, 2)")):
        x.scatter_reduce(0, tg.zeros(3, 2, dtype=tg.int64), s, "sum")
    with pytest.raises(IndexError, match="scatter_reduce: index 3 is out of bounds for "
                                         "dimension 0 with size 3"):
        x.scatter_reduce(0, tg.tensor([[0, 3]]), s, "amin")
    with pytest.raises(IndexError, match="scatter_reduce: dimension out of range"):
        x.scatter_reduce(2, idx, s, "sum")
    with pytest.raises(TypeError, match="scatter_reduce: expected self.dtype to be equal to "
                                        "src.dtype, got float32 and float64"):
        x.scatter_reduce(0, idx, s.double(), "prod")
    with pytest.raises(TypeError, match="scatter_reduce: src must be a Tensor, got float"):
        x.scatter_reduce(0, idx, 1.0, "sum")
    with pytest.raises(ValueError, match="scatter: reduce argument must be either add or "
                                         "multiply, got 'sum'"):
        x.scatter(0, idx, s, reduce="sum")
    with pytest.raises(TypeError):  # include_self is keyword-only, as in torch
        x.scatter_reduce(0, idx, s, "sum", False)


def test_cpu_or_gpu(device):
    """Every reduction on the device (CuPy: cupyx scatter kernels; prod through the host)."""
    idx = index_for((4, 3, 5), 1, (4, 6, 5), seed=6)
    for reduce in REDUCTIONS:
        for include_self in (True, False):
            ours, theirs = torch_and_ours(idx, 1, reduce, include_self)
            check_op(ours, theirs, [(4, 3, 5), (4, 6, 5)], low=0.5, high=1.5, device=device,
                     gradcheck=False)


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_gradient_of_one_input_only(reduce):
    """Only x, or only src, asks for a gradient: the other one gets none (and no work)."""
    idx = index_for((3, 5), 0, (7, 4), seed=7)
    rng = np.random.default_rng(7)
    x_np, s_np = rng.uniform(0.5, 1.5, size=(3, 5)), rng.uniform(0.5, 1.5, size=(7, 4))
    g = rng.standard_normal((3, 5))
    x_t, s_t = torch.tensor(x_np, requires_grad=True), torch.tensor(s_np, requires_grad=True)
    (x_t.scatter_reduce(0, torch.tensor(idx), s_t, reduce) * torch.tensor(g)).sum().backward()
    for wants in ("x", "src"):
        x = tg.tensor(x_np, requires_grad=wants == "x")
        s = tg.tensor(s_np, requires_grad=wants == "src")
        (scatter_reduce(x, 0, tg.tensor(idx), s, reduce) * tg.tensor(g)).sum().backward()
        leaf, other, expected = (x, s, x_t.grad) if wants == "x" else (s, x, s_t.grad)
        assert_close(leaf.grad, expected)
        assert other.grad is None


def test_prod_double_backward_with_two_zeros_at_one_position_is_refused():
    """Two src zeros reduced into one position: the first-order gradient is exact (0 for both),
    but its derivative is not y / src of the others; torch refuses it, and so do we."""
    x = tg.tensor([2.0, 3.0], requires_grad=True)
    src = tg.tensor([0.0, 0.0, 5.0], requires_grad=True)
    index = tg.tensor([0, 0, 1])
    y = scatter_reduce(x, 0, index, src, "prod")
    (g,) = tg.grad(y.sum(), [src])  # first order: fine
    assert g.tolist() == [0.0, 0.0, 3.0]
    y = scatter_reduce(x, 0, index, src, "prod")  # (the first grad freed the graph)
    with pytest.raises(RuntimeError, match="more than one zero in src"):
        tg.grad(y.sum(), [src], create_graph=True)
    # one zero per position: second order is allowed (and checked against torch above)
    y = scatter_reduce(x, 0, tg.tensor([0, 1, 1]), src, "prod")
    tg.grad(y.sum(), [src], create_graph=True)
