"""Reductions (sum, mean, var, std, max/min, argmax/argmin, prod, logsumexp, norm, any/all), the
softmax family, sorting (sort, argsort, topk, kthvalue, median) and cumprod, checked forward and
backward against torch and numerical gradients."""

import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu import functional as F

DIMS = [None, 0, -1, 1, (0, 2), (-1, 0), (0, 1, 2)]


def distinct(shape, seed=0):
    """Values with no ties (a shuffled grid), so max/min have a unique winner."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n) / n * 4 - 2
    return values.reshape(shape)


@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, dim, keepdim, device):
    def tg_fn(x):
        return getattr(x, op)(dim, keepdim=keepdim)

    def th_fn(x):
        return getattr(x, op)() if dim is None and not keepdim else getattr(x, op)(
            dim if dim is not None else (0, 1, 2), keepdim=keepdim)

    check_op(tg_fn, th_fn, [(2, 3, 4)], device=device)


def test_sum_of_0d_and_of_ints_and_bools():
    assert tg.tensor(3.0).sum().item() == 3.0
    assert tg.tensor([1, 2], dtype=tg.int32).sum().dtype == tg.int64  # like torch
    assert tg.tensor([True, True, False]).sum().item() == 2
    assert tg.tensor([1.5, 2.5]).sum(dtype=tg.float64).dtype == tg.float64
    assert tg.sum(tg.ones(2, 3), dim=[0, 1]).item() == 6.0


def test_mean_of_int_tensor_is_an_error_and_empty_mean_is_nan():
    with pytest.raises(TypeError, match="mean: could not infer output dtype"):
        tg.tensor([1, 2]).mean()
    assert np.isnan(tg.zeros(0).mean().item())


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("kwargs", [{}, {"unbiased": False}, {"correction": 0},
                                    {"correction": 2}, {"keepdim": True}], ids=str)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, dim, kwargs, device):
    def th_fn(x):
        th_kwargs = dict(kwargs)
        if "unbiased" in th_kwargs:
            th_kwargs = {"correction": 0 if not th_kwargs.pop("unbiased") else 1}
        return getattr(torch, op)(x, dim, **th_kwargs)

    check_op(lambda x: getattr(x, op)(dim, **kwargs), th_fn, [(3, 4, 5)], device=device)


def test_var_positional_unbiased_and_degenerate_cases():
    x = tg.tensor([[1.0, 2.0, 4.0]])
    assert_close(x.var(1, False), torch.tensor([[1.0, 2.0, 4.0]]).var(1, False), np.float32)
    with pytest.warns(UserWarning, match="std: degrees of freedom is <= 0"):
        assert np.isnan(tg.tensor([1.0]).std().item())  # one sample, correction 1: NaN, torch
    assert tg.tensor([1.0]).var(unbiased=False).item() == 0.0


@pytest.mark.parametrize("values, correction", [
    ([1.0, 2.0], 2),        # N == correction: a positive sum over 0 is inf
    ([1.0, 2.0, 4.0], 5),   # N < correction: still divided by max(0, N - correction) = 0
    ([1.0, 1.0], 2),        # 0 / 0 = nan
    ([], 1),                # no elements: nan
], ids=str)
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("dim", [None, 1])
def test_var_std_with_too_few_degrees_of_freedom_give_inf_or_nan_like_torch(op, values,
                                                                              correction, dim):
    array = np.array([values], dtype=np.float64)  # (1, N)
    with pytest.warns(UserWarning, match=rf"{op}: degrees of freedom is <= 0 \({len(values)} "
                                         rf"element\(s\) reduced, correction {correction}"):
        ours = getattr(tg.tensor(array), op)(dim, correction=correction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns too
        theirs = getattr(torch.tensor(array), op)(dim, correction=correction)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_equal(ours.numpy(), theirs.numpy())  # inf == inf, nan == nan


CONSTANT_ROWS = np.array([[1.5, 1.5, 1.5, 1.5], [1.0, 2.0, 4.0, 0.5], [-2.0, -2.0, -2.0, -2.0]])


@pytest.mark.parametrize("dim, inputs", [
    (1, CONSTANT_ROWS), (-1, CONSTANT_ROWS), ((1,), CONSTANT_ROWS),
    (None, np.full((3, 4), 0.25)), ((0, 1), np.full((3, 4), -3.0)),
], ids=["1", "-1", "(1,)", "None", "(0, 1)"])
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_std_gradient_where_the_std_is_zero_is_zero_like_torch(dim, inputs, correction,
                                                               keepdim):
    # sqrt has no derivative at 0: torch gives 0 there (not nan); other rows keep theirs.
    # No numerical check: std is not differentiable at a constant input
    def fn(x):
        return x.std(dim, correction=correction, keepdim=keepdim)

    out = check_op(fn, fn, None, inputs=[inputs], gradcheck=False)
    x = tg.tensor(inputs, requires_grad=True)
    fn(x).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert out[0].shape == tuple(fn(torch.tensor(inputs)).shape)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_full_reduction(op, device):
    check_op(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), None,
             inputs=[distinct((3, 4))], device=device)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_returns_values_and_indices(op, dim, keepdim, device):
    x = distinct((3, 4, 2), seed=1)
    out = check_op(lambda t: getattr(t, op)(dim, keepdim=keepdim)[0],
                   lambda t: getattr(t, op)(dim, keepdim=keepdim)[0], None,
                   inputs=[x], device=device)
    result = getattr(tg.tensor(x, device=device), op)(dim, keepdim=keepdim)
    expected = getattr(torch.tensor(x), op)(dim, keepdim=keepdim)
    assert result.values.tolist() == expected.values.tolist()
    assert result.indices.tolist() == expected.indices.tolist()
    assert result.indices.dtype == tg.int64 and not result.indices.requires_grad
    values, indices = result  # unpacks like torch's namedtuple
    assert values.shape == out[0].shape == tuple(expected.values.shape)


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_max_min_ties_share_the_gradient_like_torch(op):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0], [-1.0, -1.0, -1.0]])
    if op in ("max", "min"):
        check_op(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), None, inputs=[x],
                 gradcheck=False)
        check_op(lambda t: getattr(t, op)(1)[0], lambda t: getattr(t, op)(1)[0], None,
                 inputs=[x], gradcheck=False)
    else:
        check_op(lambda t: getattr(t, op)(1), lambda t: getattr(t, op)(1), None, inputs=[x],
                 gradcheck=False)


@pytest.mark.parametrize("dim", [None, 0, (0, 2), -1], ids=str)
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin(op, dim, device):
    th_dim = dim if dim is not None else (0, 1, 2)
    check_op(lambda x: getattr(x, op)(dim), lambda x: getattr(x, op)(th_dim), None,
             inputs=[distinct((2, 3, 4), 2)], device=device)


@pytest.mark.parametrize("dtype", ["uint8", "int64", "bool", "int8"])
def test_max_min_of_integer_and_bool_tensors(dtype):
    values = {"uint8": [0, 5, 255, 3], "int64": [np.iinfo(np.int64).min, 5, -3, 0],
              "bool": [True, False, True, True], "int8": [-128, 127, 0, 5]}[dtype]
    x = tg.tensor(np.array(values, dtype=dtype))
    expected = np.array(values, dtype=dtype)
    assert x.max().item() == expected.max() and x.min().item() == expected.min()
    assert x.max().dtype == np.dtype(dtype)
    assert x.min(0).values.item() == expected.min()
    assert x.min(0).indices.item() == int(np.argmin(expected))


def test_max_on_0d_and_empty_tensors():
    x = tg.tensor(3.0)
    values, indices = x.max(0)
    assert values.item() == 3.0 and indices.item() == 0
    assert values is not x  # a new tensor, as in torch: writing to it leaves x alone
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty dimension"):
        tg.zeros(0, 3).max()
    with pytest.raises(ValueError, match=r"amax: cannot reduce over an empty dimension"):
        tg.zeros(0, 3).amax(0)
    assert tg.zeros(0, 3).amax(1).shape == (0,)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(op, dim, keepdim):
    x = distinct((3, 4, 5), 3)
    ours = getattr(tg.tensor(x), op)(dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(x), op)(dim, keepdim=keepdim)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == tg.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_argmax_ties_pick_the_first_like_torch():
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]]
    assert tg.tensor(x).argmax(1).tolist() == torch.tensor(x).argmax(1).tolist()
    assert tg.tensor(x).argmin(1).tolist() == torch.tensor(x).argmin(1).tolist()


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp(dim, keepdim, device):
    th_dim = dim if dim is not None else (0, 1, 2)
    check_op(lambda x: x.logsumexp(dim, keepdim=keepdim),
             lambda x: x.logsumexp(th_dim, keepdim=keepdim), [(2, 3, 4)], device=device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logsumexp_of_minus_inf_rows_and_huge_values():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, -np.inf], [1e4, 1e4, -1e4]])
    ours = tg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, expected = ours.logsumexp(1), theirs.logsumexp(1)
    assert_close(out, expected)
    assert out.tolist()[0] == -np.inf and np.isfinite(out.tolist()[1:]).all()
    out[1:].sum().backward()
    expected[1:].sum().backward()
    assert_close(ours.grad, theirs.grad)  # finite rows: softmax weights; the -inf row: none


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_log_softmax(op, dim, device):
    check_op(lambda x: getattr(F, op)(x, dim), lambda x: getattr(torch, op)(x, dim),
             [(2, 3, 4)], device=device)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("scale", [1e4, -1e4, 1e30])
def test_softmax_is_stable_for_huge_logits(op, scale):
    x = np.array([[1.0, 0.5, -0.25], [0.0, 0.0, 1e-3]]) * scale
    check_op(lambda t: getattr(t, op)(-1), lambda t: getattr(t, op)(-1), None, inputs=[x],
             gradcheck=False)


def test_softmax_rows_sum_to_one_and_need_a_dim():
    y = tg.randn(4, 7).softmax(dim=1)
    np.testing.assert_allclose(y.sum(1).numpy(), np.ones(4), rtol=1e-6)
    with pytest.raises(TypeError, match="softmax: dim must be given explicitly"):
        F.softmax(tg.ones(3))
    assert F.softmax(tg.tensor([1, 2]), 0, dtype=tg.float64).dtype == tg.float64


@pytest.mark.parametrize("p", [1, 2, 3, float("inf"), float("-inf")])
@pytest.mark.parametrize("dim", [None, 1])
def test_norm(p, dim, device):
    check_op(lambda x: x.norm(p, dim), lambda x: torch.linalg.vector_norm(x, p, dim),
             None, inputs=[distinct((3, 4), 4)], device=device)


def test_norm_gradient_at_zero_is_zero_like_torch():
    x = tg.zeros(3, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert tg.tensor([0.0, 2.0, 0.0, -1.0]).norm(0).item() == 2.0


@pytest.mark.parametrize("p", [3, 4, 1.5, 0.5, -1, 2, 1, float("inf"), float("-inf")],
                         ids=str)
@pytest.mark.parametrize("dim", [None, 1])
@pytest.mark.parametrize("inputs", [
    np.zeros((2, 3)),                                  # all zero: the norm is 0
    np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]]),     # a zero entry, and a zero row
], ids=["zeros", "some zeros"])
def test_p_norm_gradient_at_zero_is_zero_like_torch(p, dim, inputs):
    # |x|^p has no finite derivative at 0 for p < 1, and (sum |x|^p)^(1/p) none at 0:
    # torch gives 0 there. No numerical check: not differentiable at those points
    out = check_op(lambda x: x.norm(p, dim), lambda x: torch.linalg.vector_norm(x, p, dim),
                   None, inputs=[inputs], gradcheck=False)
    x = tg.tensor(inputs, requires_grad=True)
    x.norm(p, dim).sum().backward()
    assert np.isfinite(x.grad.numpy()).all(), x.grad
    assert np.isfinite(out[0].detach().numpy()).all()


@pytest.mark.parametrize("p", [0.5, 1.5, 4, -1], ids=str)
@pytest.mark.parametrize("dim", [None, 1])
def test_p_norm_for_other_p(p, dim):
    check_op(lambda x: x.norm(p, dim), lambda x: torch.linalg.vector_norm(x, p, dim),
             None, inputs=[distinct((3, 4), 4) + 0.05])


def test_any_all():
    x = tg.tensor([[True, False], [True, True]])
    assert x.any().item() is True and x.all().item() is False
    assert x.all(1).tolist() == [False, True]
    assert x.any(0, keepdim=True).shape == (1, 2)
    assert (tg.tensor([0.0, 2.0]) > 1).any().item() is True


# Like torch, a 0-d tensor takes dim 0 and -1 as if it had one dimension of size 1
ZERO_D = {
    "sum(0)": lambda x: x.sum(0),
    "sum(-1, keepdim)": lambda x: x.sum(-1, keepdim=True),
    "sum((0,))": lambda x: x.sum((0,)),
    "mean(0)": lambda x: x.mean(0),
    "mean(-1, keepdim)": lambda x: x.mean(-1, keepdim=True),
    "logsumexp(0)": lambda x: x.logsumexp(0),
    "logsumexp(-1, keepdim)": lambda x: x.logsumexp(-1, keepdim=True),
    "max(0)": lambda x: x.max(0).values,
    "min(-1, keepdim)": lambda x: x.min(-1, keepdim=True).values,
    "amax(0)": lambda x: x.amax(0),
    "amin(-1)": lambda x: x.amin(-1),
    "softmax(0)": lambda x: x.softmax(0),
    "softmax(-1)": lambda x: x.softmax(-1),
    "log_softmax(-1)": lambda x: x.log_softmax(-1),
    "log_softmax(0)": lambda x: x.log_softmax(0),
    "norm(dim=0)": lambda x: x.norm(dim=0),
    "norm(3, dim=0)": lambda x: x.norm(3, dim=0),
    "norm(1, dim=-1)": lambda x: x.norm(1, dim=-1),
    "var(0, correction=0)": lambda x: x.var(0, correction=0),
    "std(-1, correction=0)": lambda x: x.std(-1, correction=0),
}
NOT_DIFFERENTIABLE_AT_0D = {"std(-1, correction=0)"}  # std of one element: sqrt at 0


@pytest.mark.parametrize("name", list(ZERO_D))
def test_reductions_of_a_0d_tensor_over_dim_0_or_minus_1_like_torch(name, device):
    fn = ZERO_D[name]
    (out,) = check_op(fn, fn, [()], device=device,
                      gradcheck=name not in NOT_DIFFERENTIABLE_AT_0D)
    assert out.shape == ()


@pytest.mark.parametrize("name", ["sum(0)", "mean(0)", "logsumexp(0)", "softmax(0)",
                                  "log_softmax(-1)", "norm(3, dim=0)", "var(0, correction=0)"])
def test_gradgradcheck_reductions_of_a_0d_tensor(name):
    x = tg.tensor(0.7, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(ZERO_D[name], [x])


def test_reductions_of_a_0d_tensor_reject_other_dims():
    x = tg.tensor(2.0)
    with pytest.raises(IndexError, match=r"sum: dimension out of range \(expected to be in "
                                         r"range of \[-1, 0\], but got 1\)"):
        x.sum(1)
    with pytest.raises(ValueError, match=r"logsumexp: dim \(0, -1\) names the same dimension"):
        x.logsumexp((0, -1))
    assert x.any(0).item() is True and x.argmax(-1).item() == 0


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin", "norm",
                                "logsumexp"])
@pytest.mark.parametrize("dim", [(), []], ids=["()", "[]"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_an_empty_dim_tuple_reduces_every_dimension_like_torch_2_13(op, dim, keepdim):
    # torch 2.13 gets two of them wrong, so they are compared with every dim named: its
    # logsumexp refuses dim=() (a broadcast error), and its var and std backward treat dim=()
    # as reducing nothing (inf gradients) while their forward reduces everything
    def th_fn(x):
        if op in ("logsumexp", "var", "std"):
            return getattr(x, op)((0, 1, 2), keepdim=keepdim)
        return getattr(x, op)(dim=dim, keepdim=keepdim)

    def tg_fn(x):
        return getattr(x, op)(dim=dim, keepdim=keepdim)

    (out,) = check_op(tg_fn, th_fn, None, inputs=[distinct((2, 3, 4), 6)])
    if op != "logsumexp":
        assert_close(out, getattr(torch.tensor(distinct((2, 3, 4), 6)), op)(dim=dim,
                                                                            keepdim=keepdim))


def test_sum_over_an_empty_dim_tuple_of_ints_and_0d_like_torch():
    for dim in [(), []]:
        assert tg.tensor([[1, 2], [3, 4]]).sum(dim).item() == 10
        assert tg.tensor([[1, 2], [3, 4]]).sum(dim).dtype == tg.int64
        assert tg.tensor(2.5).sum(dim).item() == 2.5


@pytest.mark.parametrize("op", ["any", "all"])
def test_any_all_over_an_empty_dim_tuple_reduce_nothing_like_torch(op):
    values = [[True, False, True], [False, False, True]]
    ours = getattr(tg.tensor(values), op)(())
    theirs = getattr(torch.tensor(values), op)(())
    assert ours.tolist() == theirs.tolist() and ours.shape == tuple(theirs.shape)


def test_reductions_reject_bad_dims():
    x = tg.ones(2, 3)
    with pytest.raises(IndexError, match=r"sum: dimension out of range .*\[-2, 1\], but got 2"):
        x.sum(2)
    with pytest.raises(ValueError, match="mean: dim .* names the same dimension twice"):
        x.mean((0, -2))
    with pytest.raises(IndexError, match="softmax: dimension out of range"):
        x.softmax(-3)
    with pytest.raises(TypeError, match="max: dim must be an int"):
        x.max(1.5)


# ----------------------------------------------------------------------------------------------
# Second derivatives
# ----------------------------------------------------------------------------------------------

SMOOTH_REDUCTIONS = {
    "sum": lambda x: x.sum(1),
    "mean": lambda x: x.mean(0, keepdim=True),
    "var": lambda x: x.var(1),
    "std": lambda x: x.std(),
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(0),
    "logsumexp": lambda x: x.logsumexp(1),
    "norm": lambda x: x.norm(dim=1),
    "norm3": lambda x: x.norm(3),
    "var_dims_keepdim": lambda x: x.var((0, 1), keepdim=True, correction=0),
    "std_dim": lambda x: x.std(1, correction=2),
    "std_dim_keepdim": lambda x: x.std(0, keepdim=True),
    "norm1.5": lambda x: x.norm(1.5, dim=0),
    "norm0.5": lambda x: x.norm(0.5, dim=1),
    "norm-1": lambda x: x.norm(-1),
    "prod": lambda x: x.prod(),
    "prod_dim": lambda x: x.prod(1, keepdim=True),
    "cumprod": lambda x: x.cumprod(0),
    "sort": lambda x: x.sort(1, descending=True).values ** 2,
    "topk": lambda x: x.topk(2, 0).values ** 2,
    "kthvalue": lambda x: x.kthvalue(2, 1).values ** 2,
    "median_dim": lambda x: x.median(0).values ** 2,
    "median": lambda x: x.median() ** 2,
}


@pytest.mark.parametrize("name", list(SMOOTH_REDUCTIONS))
def test_gradgradcheck_reductions(name):
    x = tg.tensor(distinct((3, 4), 5) + 0.1, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(SMOOTH_REDUCTIONS[name], [x])


# ----------------------------------------------------------------------------------------------
# Sorting: sort, argsort, topk, kthvalue, median
# ----------------------------------------------------------------------------------------------

def assert_same_indices(ours, theirs):
    assert ours.dtype == tg.int64 and not ours.requires_grad
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dim, descending, device):
    x = distinct((3, 4, 5), 7)
    out = check_op(lambda t: t.sort(dim, descending).values,
                   lambda t: torch.sort(t, dim, descending).values, None, inputs=[x],
                   device=device)
    result = tg.tensor(x, device=device).sort(dim, descending)
    values, indices = result  # unpacks like torch's namedtuple
    assert_same_indices(indices, torch.sort(torch.tensor(x), dim, descending).indices)
    assert values.shape == out[0].shape == x.shape
    assert_same_indices(tg.tensor(x).argsort(dim, descending), torch.argsort(torch.tensor(x),
                                                                             dim, descending))


SORT_CASES = {
    "ties": [[3.0, 1.0, 2.0, 1.0, 3.0], [2.0, 2.0, 2.0, 0.0, 2.0]],
    "nan": [[np.nan, 0.0, -1.0, 5.0, np.nan], [1.0, np.inf, np.nan, -np.inf, 0.0]],
}


@pytest.mark.parametrize("case", list(SORT_CASES))
@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_and_puts_nan_last_like_torch(case, descending):
    # ties keep their order (torch's stable=True); NaN counts as the largest value
    x = np.array(SORT_CASES[case])
    ours = tg.sort(tg.tensor(x), dim=1, descending=descending, stable=True)
    theirs = torch.sort(torch.tensor(x), dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert_same_indices(ours.indices, theirs.indices)
    assert_same_indices(tg.argsort(tg.tensor(x), 1, descending, stable=True),
                        torch.argsort(torch.tensor(x), dim=1, descending=descending,
                                      stable=True))
    if case == "ties":  # each value's gradient goes where it came from, ties included
        check_op(lambda t: t.sort(1, descending).values,
                 lambda t: t.sort(1, descending).values, None, inputs=[x], gradcheck=False)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool"])
def test_sort_of_integer_and_bool_tensors(dtype):
    x = np.array([[3, 0, 200, 1], [1, 1, 0, 1]]).astype(dtype)
    for descending in (False, True):
        ours = tg.tensor(x).sort(descending=descending)
        theirs = torch.tensor(x).sort(descending=descending, stable=True, dim=-1)
        assert ours.values.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert_same_indices(ours.indices, theirs.indices)


def test_sort_topk_kthvalue_median_of_0d_and_empty_tensors():
    x = tg.tensor(3.0, requires_grad=True)
    for result in (x.sort(), x.sort(0, True), x.topk(1), x.topk(0, -1), x.kthvalue(1),
                   x.median(0), x.median(-1, keepdim=True)):
        assert result.values.shape == () and result.values.item() == 3.0
        assert result.indices.shape == () and result.indices.item() == 0
    x.sort().values.backward()
    assert x.grad.item() == 1.0
    assert x.argsort().shape == () and x.median().item() == 3.0
    assert tg.zeros(0, 3).sort(0).values.shape == (0, 3)
    assert tg.ones(2, 3).topk(0).values.shape == (2, 0)
    assert np.isnan(tg.zeros(0, 2).median().item())  # like torch
    with pytest.raises(ValueError, match=r"median: the median of an empty int64 tensor has no "
                                         r"value \(shape \(0,\)\)"):
        tg.tensor([], dtype=tg.int64).median()
    with pytest.raises(IndexError, match=r"median: cannot take the median over dimension 0 of "
                                         r"size 0"):
        tg.zeros(0, 2).median(0)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("largest", [True, False])
def test_topk(k, dim, largest, device):
    x = distinct((5, 6), 8)
    check_op(lambda t: t.topk(k, dim, largest).values,
             lambda t: t.topk(k, dim, largest).values, None, inputs=[x], device=device)
    ours = tg.topk(tg.tensor(x), k, dim=dim, largest=largest, sorted=True)
    theirs = torch.topk(torch.tensor(x), k, dim=dim, largest=largest, sorted=True)
    assert_same_indices(ours.indices, theirs.indices)


def test_topk_and_kthvalue_reject_k_out_of_range():
    x = tg.ones(2, 4)
    with pytest.raises(IndexError, match=r"topk: k \(5\) is out of range for dimension 1 of size "
                                         r"4 \(expected 0 <= k <= 4; input shape \(2, 4\)\)"):
        x.topk(5)
    with pytest.raises(IndexError, match=r"kthvalue: k \(0\) is out of range for dimension 0 "
                                         r"of size 2 \(expected 1 <= k <= 2"):
        x.kthvalue(0, 0)
    with pytest.raises(TypeError, match="topk: k must be an int, got float"):
        x.topk(1.5)
    with pytest.raises(IndexError, match=r"sort: dimension out of range"):
        x.sort(2)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(k, dim, keepdim, device):
    x = distinct((4, 5, 4), 9)
    check_op(lambda t: t.kthvalue(k, dim, keepdim).values,
             lambda t: t.kthvalue(k, dim, keepdim).values, None, inputs=[x], device=device)
    ours = tg.kthvalue(tg.tensor(x), k, dim, keepdim)
    assert_same_indices(ours.indices, torch.kthvalue(torch.tensor(x), k, dim, keepdim).indices)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_with_dim(dim, keepdim, device):
    x = distinct((4, 5, 6), 10)  # odd and even sizes: the lower of the two middle values
    check_op(lambda t: t.median(dim, keepdim).values,
             lambda t: t.median(dim, keepdim).values, None, inputs=[x], device=device)
    assert_same_indices(tg.tensor(x).median(dim, keepdim).indices,
                        torch.tensor(x).median(dim, keepdim).indices)


@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=str)
def test_median_of_all_elements(shape, device):
    check_op(lambda t: t.median(), lambda t: t.median(), None, inputs=[distinct(shape, 11)],
             device=device)


def test_median_and_kthvalue_ties_and_nan_like_torch():
    x = np.array([[2.0, 1.0, 2.0, 3.0], [3.0, 1.0, 2.0, 1.0], [1.0, np.nan, 2.0, np.nan]])
    for fn in (lambda t: t.median(1), lambda t: t.kthvalue(2, 1), lambda t: t.kthvalue(4, 1)):
        ours, theirs = fn(tg.tensor(x)), fn(torch.tensor(x))
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert_same_indices(ours.indices, theirs.indices)
    # median(): the gradient is split evenly between the elements equal to the median
    check_op(lambda t: t.median(), lambda t: t.median(), None,
             inputs=[np.array([1.0, 2.0, 2.0, 3.0, 5.0, 2.0])], gradcheck=False)
    check_op(lambda t: t.median(), lambda t: t.median(), None,
             inputs=[np.array([1.0, np.nan, 2.0, np.nan])], gradcheck=False)
    check_op(lambda t: t.median(1).values, lambda t: t.median(1).values, None, inputs=[x[:2]],
             gradcheck=False)


# ----------------------------------------------------------------------------------------------
# Products: prod, cumprod
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod(dim, keepdim, device):
    def tg_fn(t):
        return t.prod(dim, keepdim=keepdim)

    def th_fn(t):
        return t.prod() if dim is None else t.prod(dim, keepdim=keepdim)

    if dim is None and keepdim:  # torch's prod has no keepdim without a dim
        (out,) = check_op(tg_fn, lambda t: t.prod().reshape(1, 1, 1), [(2, 3, 4)],
                          device=device, low=0.5, high=1.5)
        assert out.shape == (1, 1, 1)
        return
    check_op(tg_fn, th_fn, [(2, 3, 4)], device=device, low=-1.5, high=1.5)


# rows with no zero, one zero, two zeros, three zeros and only zeros
WITH_ZEROS = np.array([
    [1.5, -0.5, 2.0, -1.0, 0.75],
    [1.5, 0.0, 2.0, -1.0, 0.75],
    [0.0, -0.5, 2.0, 0.0, 0.75],
    [0.0, 0.0, 2.0, -1.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 0.0],
])


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradient_where_x_has_zeros_like_torch(dim):
    # dx_j = the product of the others: with one zero, nonzero at the zero only; with two or
    # more, 0 everywhere (y / x would give nan). prod is a polynomial: numerical gradients
    # check it too
    def fn(t):
        return t.prod() if dim is None else t.prod(dim)

    check_op(fn, fn, None, inputs=[WITH_ZEROS])
    check_op(fn, fn, None, inputs=[WITH_ZEROS.T.copy()])


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("op", ["prod", "cumprod"])
def test_prod_cumprod_second_derivatives_where_x_has_zeros_match_torch(op, dim):
    # the Hessian of sum(u * prod(x)) at inputs with 0, 1, 2, 3 and 5 zeros per slice
    rng = np.random.default_rng(12)
    u = rng.standard_normal(getattr(torch.tensor(WITH_ZEROS), op)(dim).shape)

    def f_th(t):
        return (getattr(t, op)(dim) * torch.tensor(u)).sum()

    expected = torch.autograd.functional.hessian(f_th, torch.tensor(WITH_ZEROS))
    x = tg.tensor(WITH_ZEROS, requires_grad=True)
    (g,) = tg.grad((getattr(x, op)(dim) * tg.tensor(u)).sum(), x, create_graph=True)
    rows = [tg.grad(g.reshape(-1)[i], x, retain_graph=True)[0].numpy().ravel()
            for i in range(x.numel())]
    np.testing.assert_allclose(np.stack(rows), expected.reshape(x.numel(), -1).numpy(),
                               rtol=1e-12, atol=1e-12)
    assert tg.gradgradcheck(lambda t: getattr(t, op)(dim), [x])


def test_prod_dtypes_0d_and_bad_dims():
    assert tg.tensor([[1, 2], [3, 4]], dtype=tg.int32).prod().dtype == tg.int64  # like torch
    assert tg.tensor([[1, 2], [3, 4]], dtype=tg.int32).prod().item() == 24
    assert tg.tensor([True, False]).prod().dtype == tg.int64
    assert tg.tensor([2, 3]).prod(dtype=tg.float64).dtype == tg.float64
    assert tg.tensor(3.0).prod(0).item() == 3.0 and tg.zeros(0, 3).prod(0).tolist() == [1.0] * 3
    with pytest.raises(TypeError, match=r"prod: dim must be an int \(torch.prod reduces one dim "
                                        r"or all\), got tuple"):
        tg.ones(2, 3).prod((0, 1))
    with pytest.raises(IndexError, match=r"prod: dimension out of range"):
        tg.ones(2, 3).prod(2)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod(dim, device):
    check_op(lambda t: t.cumprod(dim), lambda t: t.cumprod(dim), [(3, 4, 5)], device=device,
             low=0.5, high=1.5)
    check_op(lambda t: tg.cumprod(t, dim), lambda t: torch.cumprod(t, dim), [(3, 4, 5)],
             device=device)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_gradient_where_x_has_zeros_like_torch(dim):
    check_op(lambda t: t.cumprod(dim), lambda t: t.cumprod(dim), None, inputs=[WITH_ZEROS])
    check_op(lambda t: t.cumprod(dim), lambda t: t.cumprod(dim), None,
             inputs=[WITH_ZEROS[:, ::-1].copy()])


def test_cumprod_dtypes_and_0d():
    assert tg.tensor([1, 2, 3], dtype=tg.int32).cumprod(0).tolist() == [1, 2, 6]
    assert tg.tensor([1, 2, 3], dtype=tg.int32).cumprod(0).dtype == tg.int64  # like torch
    assert tg.tensor([2, 3]).cumprod(0, dtype=tg.float64).dtype == tg.float64
    check_op(lambda t: t.cumprod(0), lambda t: t.cumprod(0), [()])
    with pytest.raises(IndexError, match=r"cumprod: dimension out of range"):
        tg.ones(2).cumprod(1)


NAN = float("nan")


@pytest.mark.parametrize("values", [[1.0, NAN, 3.0], [NAN, NAN, 3.0], [[2.0, NAN], [NAN, 1.0]],
                                    [3.0, 1.0, 3.0], [3.0, 3.0, 3.0], [1.0, np.inf, np.inf],
                                    NAN], ids=str)
@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_max_min_of_everything_with_nan_and_ties_grads_like_torch(op, values):
    """torch 2.13: max()/min() of the whole tensor send the gradient to the NaN elements (split
    evenly among several) and split it evenly on ties; amax/amin match no element when the
    result is NaN and give NaN gradients everywhere. Before, max()/min() gave NaN too."""
    x = tg.tensor(values, requires_grad=True)
    xt = torch.tensor(values, requires_grad=True)
    y, yt = getattr(x, op)(), getattr(xt, op)()
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    y.backward()
    yt.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_over_a_dim_with_nan_pick_the_first_nan_like_torch(op):
    values = [[1.0, NAN, NAN], [2.0, 5.0, 5.0]]
    x = tg.tensor(values, requires_grad=True)
    xt = torch.tensor(values, requires_grad=True)
    result, expected = getattr(x, op)(1), getattr(xt, op)(1)
    assert result.indices.tolist() == expected.indices.tolist()
    result.values.sum().backward()
    expected.values.sum().backward()
    assert x.grad.tolist() == xt.grad.tolist()


def test_zero_norm_counts_nonzeros_and_backpropagates_zeros():
    # torch's p=0 norm: the count of non-zero entries, piecewise constant, so its gradient is 0;
    # a loss with a 0-norm term (pdist(p=0), triplet_margin_loss(p=0)) still backpropagates
    x = tg.tensor([[0.0, 2.0, -1.0], [0.0, 0.0, 3.0]], requires_grad=True)
    assert x.norm(p=0).item() == 3.0
    assert x.norm(p=0, dim=1, keepdim=True).tolist() == [[2.0], [1.0]]
    (x.norm(p=0, dim=0).sum() + (x * x).sum()).backward()
    assert x.grad.tolist() == (2 * x).tolist()
    d = tg.nn.functional.pdist(tg.tensor([[0.0, 1.0], [0.0, 3.0], [2.0, 1.0]],
                                         requires_grad=True), p=0)
    assert d.tolist() == [1.0, 1.0, 2.0] and d.requires_grad
