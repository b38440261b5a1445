"""Reductions (sum, mean, var, std, max/min, argmax/argmin, logsumexp, norm, any/all) and the
softmax family, checked forward and backward against torch and numerical gradients."""

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
    assert np.isnan(tg.tensor([1.0]).std().item())  # one sample, correction 1: NaN like torch
    assert tg.tensor([1.0]).var(unbiased=False).item() == 0.0


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
    values, indices = tg.tensor(3.0).max(0)
    assert values.item() == 3.0 and indices.item() == 0
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


def test_any_all():
    x = tg.tensor([[True, False], [True, True]])
    assert x.any().item() is True and x.all().item() is False
    assert x.all(1).tolist() == [False, True]
    assert x.any(0, keepdim=True).shape == (1, 2)
    assert (tg.tensor([0.0, 2.0]) > 1).any().item() is True


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
}


@pytest.mark.parametrize("name", list(SMOOTH_REDUCTIONS))
def test_gradgradcheck_reductions(name):
    x = tg.tensor(distinct((3, 4), 5) + 0.1, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(SMOOTH_REDUCTIONS[name], [x])
