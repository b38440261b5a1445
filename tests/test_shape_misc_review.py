"""Review of the shape/indexing ops (functional/shape.py) and functional/misc.py against
torch 2.13: the bugs found (one regression test each), then forward and backward on odd,
non-contiguous and 0-d inputs, duplicate indices and integer dtypes."""

import re

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import tinygrad_edu as tg
import tinygrad_edu.functional.misc as M
from tinygrad_edu.functional import shape as S
from tinygrad_edu.gradcheck import gradcheck

L = torch.tensor


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach())


def _same(ours, theirs):
    """Equal values, shapes and dtypes."""
    a, b = _np(ours), _np(theirs)
    assert (a.shape, a.dtype) == (b.shape, b.dtype), (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _grads_match(ours_fn, torch_fn, arrays, seed=0):
    """Forward, then backward with one random upstream gradient, in float64, against torch."""
    rng = np.random.default_rng(seed)
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, z = ours_fn(*ours), torch_fn(*theirs)
    _same(y, z)
    u = rng.standard_normal(tuple(z.shape))
    (y * tg.tensor(u)).sum().backward()
    (z * torch.tensor(u)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if b.grad is None:  # torch: y does not depend on this input
            assert a.grad is None or not np.any(np.asarray(a.grad)), f"grad of input {k}"
            continue
        assert_close(a.grad, b.grad, what=f"grad of input {k}")


def _forward_and_gradcheck(ours_fn, torch_fn, arrays):
    """Forward against torch; gradients against central differences, where torch's backward
    fails (torch 2.13: scatter with src larger than index, index_copy into a 0-d tensor)."""
    _same(ours_fn(*[tg.tensor(a) for a in arrays]), torch_fn(*[torch.tensor(a) for a in arrays]))
    gradcheck(ours_fn, [tg.tensor(a, requires_grad=True) for a in arrays])


# ----------------------------------------------------------------------------------------------
# gather / scatter family: 0-d and 1-d mix as in torch; gather checks like scatter
# ----------------------------------------------------------------------------------------------


def test_gather_refuses_negative_and_oversized_indices_like_torch():
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4))
    with pytest.raises(IndexError, match=r"gather: index -1 is out of bounds for dimension 2 "
                                         r"with size 4"):
        S.gather(x, 2, tg.tensor([[[-1]]]))  # torch refuses it; it used to read x[..., 3]
    with pytest.raises(ValueError, match=re.escape(
            "gather: expected index (2, 3, 5) to be no larger than input (2, 3, 4) apart from "
            "dimension 0")):
        S.gather(x, 0, tg.zeros(2, 3, 5, dtype=tg.int64))
    with pytest.raises(IndexError, match="gather: index must be an integer tensor"):
        S.gather(x, 0, tg.zeros(1, 1, 1))
    with pytest.raises(IndexError, match="take_along_dim: index -1 is out of bounds"):
        S.take_along_dim(x, tg.tensor([-1, 2]))


@pytest.mark.parametrize("x_shape, idx, src_shape", [
    ((), 0, ()), ((), [0, 0], (2,)), ((), 0, (2,)), ((), [0], ()), ((3,), 1, ()),
    ((3,), 2, (1,)),
])
def test_scatter_family_treats_0d_as_1d_like_torch(x_shape, idx, src_shape):
    rng = np.random.default_rng(0)
    x, src = rng.standard_normal(x_shape), rng.standard_normal(src_shape)
    i_ours, i_torch = tg.tensor(np.array(idx)), L(np.array(idx))
    # torch 2.13's backward refuses a src larger than index: gradients by central differences
    check = _grads_match if np.shape(idx) == src_shape else _forward_and_gradcheck
    check(lambda a, s: S.scatter(a, 0, i_ours, s), lambda a, s: torch.scatter(a, 0, i_torch, s),
          [x, src])
    check(lambda a, s: S.scatter_add(a, 0, i_ours, s),
          lambda a, s: torch.scatter_add(a, 0, i_torch, s), [x, src])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            check(lambda a, s, r=reduce, inc=include_self: S.scatter_reduce(
                      a, 0, i_ours, s, r, include_self=inc),
                  lambda a, s, r=reduce, inc=include_self: torch.scatter_reduce(
                      a, 0, i_torch, s, r, include_self=inc), [x, src])
    _grads_match(lambda a: S.gather(a, 0, i_ours), lambda a: torch.gather(a, 0, i_torch), [x])
    _same(S.scatter(tg.tensor(x), 0, i_ours, 2.5), torch.scatter(L(x), 0, i_torch, 2.5))


def test_scatter_0d_shape_errors_keep_the_shapes_given():
    with pytest.raises(ValueError, match=re.escape(
            "scatter: index has 0 dimensions but input has 2 (input (2, 2), index ())")):
        S.scatter(tg.zeros(2, 2), 0, tg.tensor(0), tg.ones(1, 1))
    with pytest.raises(IndexError, match="scatter_add: index 1 is out of bounds for dimension 0 "
                                         "with size 1"):
        S.scatter_add(tg.tensor(1.0), 0, tg.tensor(1), tg.tensor(2.0))


def test_scatter_reduce_mean_refuses_bool_like_torch():
    x = tg.tensor([True, False])
    with pytest.raises(TypeError, match="scatter_reduce: reduce='mean' is not supported for "
                                        "bool"):
        S.scatter_reduce(x, 0, tg.tensor([0, 0]), x, "mean")
    # the other reductions of bools match torch
    for reduce in ("sum", "prod", "amax", "amin"):
        _same(S.scatter_reduce(x, 0, tg.tensor([0, 0]), tg.tensor([False, True]), reduce),
              torch.scatter_reduce(L([True, False]), 0, L([0, 0]), L([False, True]), reduce))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_family_duplicates_and_transposed_inputs(dim):
    """Random indices (with repeats) into transposed (non-contiguous) x and src: forward and
    the gradients of both x and src as torch."""
    rng = np.random.default_rng(3)
    x, src = rng.standard_normal((4, 3, 5)), rng.standard_normal((3, 2, 4))
    xt_shape = (5, 3, 4)
    idx = rng.integers(0, xt_shape[dim], size=(4, 2, 3))  # src.permute(2, 1, 0)'s shape
    i_ours, i_torch = tg.tensor(idx), L(idx)
    perm = (2, 1, 0)
    _grads_match(lambda a, s: S.scatter(a.permute(*perm), dim, i_ours, s.permute(*perm)),
                 lambda a, s: torch.scatter(a.permute(perm), dim, i_torch, s.permute(perm)),
                 [x, src])
    _grads_match(lambda a, s: S.scatter_add(a.permute(*perm), dim, i_ours, s.permute(*perm)),
                 lambda a, s: torch.scatter_add(a.permute(perm), dim, i_torch, s.permute(perm)),
                 [x, src])
    _grads_match(lambda a: S.gather(a.permute(*perm), dim, i_ours),
                 lambda a: torch.gather(a.permute(perm), dim, i_torch), [x])
    for reduce in ("prod", "mean", "amax"):
        _grads_match(
            lambda a, s, r=reduce: S.scatter_reduce(a.permute(*perm), dim, i_ours,
                                                    s.permute(*perm), r, include_self=False),
            lambda a, s, r=reduce: torch.scatter_reduce(a.permute(perm), dim, i_torch,
                                                        s.permute(perm), r, include_self=False),
            [x, src])


def test_gather_and_scatter_add_gradcheck_with_repeats():
    idx = tg.tensor([[0, 0, 2], [1, 0, 0]])
    gradcheck(lambda a: S.gather(a, 1, idx), [tg.tensor(np.random.default_rng(0).standard_normal(
        (2, 4)), requires_grad=True)])
    gradcheck(lambda a, s: S.scatter_add(a, 1, idx, s),
              [tg.randn(2, 4, dtype=tg.float64, requires_grad=True),
               tg.randn(2, 3, dtype=tg.float64, requires_grad=True)])


# ----------------------------------------------------------------------------------------------
# index_select / index_copy / index_fill / index_add
# ----------------------------------------------------------------------------------------------


def test_index_select_range_check_names_the_op_and_0d_input():
    x = tg.tensor(np.arange(12.0).reshape(4, 3))
    for bad in (-1, 4):  # torch: "index out of range in self" (no negative indices)
        with pytest.raises(IndexError, match=f"index_select: index {bad} is out of bounds for "
                                             "dimension 0 with size 4"):
            S.index_select(x, 0, tg.tensor([bad]))
    for idx in (0, [0]):
        _grads_match(lambda a, i=idx: S.index_select(a, 0, tg.tensor(i)),
                     lambda a, i=idx: torch.index_select(a, 0, L(i)), [np.array(2.5)])
    with pytest.raises(IndexError, match="index_select: index to a 0-d tensor can have only 1 "
                                         "value, got 2"):
        S.index_select(tg.tensor(1.0), 0, tg.tensor([0, 0]))


def test_index_copy_refuses_negative_indices_like_torch():
    x = tg.zeros(4, 3)
    with pytest.raises(IndexError, match="index_copy: index -1 is out of bounds for dimension 0 "
                                         "with size 4"):
        S.index_copy(x, 0, tg.tensor([-1]), tg.ones(1, 3))
    # index_fill takes negative indices, as torch does
    _same(S.index_fill(x, 0, tg.tensor([-1]), 2.0), torch.index_fill(torch.zeros(4, 3), 0,
                                                                     L([-1]), 2.0))


@pytest.mark.parametrize("idx, src_shape", [(0, ()), ([0], ()), ([0], (1,)), (0, (1,)),
                                            ([0, 0], (2,)), ([], (0,))])
def test_index_copy_0d_input(idx, src_shape):
    src = np.arange(1.0, 1.0 + np.prod(src_shape)).reshape(src_shape) + 4
    i_ours, i_torch = tg.tensor(np.array(idx, dtype=np.int64)), L(np.array(idx, dtype=np.int64))
    if np.size(idx) == 1:
        _grads_match(lambda a, s: S.index_copy(a, 0, i_ours, s),
                     lambda a, s: torch.index_copy(a, 0, i_torch, s), [np.array(1.0), src])
        return
    # torch 2.13 computes these but its backward fails (index_select on a 0-d gradient)
    x = tg.tensor(np.array(1.0), requires_grad=True)
    s = tg.tensor(src, requires_grad=True)
    y = S.index_copy(x, 0, i_ours, s)
    _same(y, torch.index_copy(L(1.0, dtype=torch.float64), 0, i_torch, L(src)))
    (y * 3.0).backward()
    # torch's rule for repeated indices: every source entry gets dy (index_select of dy)
    assert x.grad.item() == (3.0 if np.size(idx) == 0 else 0.0)
    assert np.asarray(s.grad).tolist() == [3.0] * np.size(idx)


@pytest.mark.parametrize("idx", [[], [0, 0]])
def test_index_copy_0d_source_needs_one_index(idx):
    with pytest.raises(ValueError, match=re.escape(f"index_copy: source () must have the shape "
                                                   f"({len(idx)},)")):
        S.index_copy(tg.tensor(1.0), 0, tg.tensor(np.array(idx, dtype=np.int64)),
                     tg.tensor(5.0))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_ops_with_repeats_on_transposed_input(dim):
    rng = np.random.default_rng(dim + 5)
    x = rng.standard_normal((2, 3, 4))  # transposed to (4, 3, 2) below
    n = (4, 3, 2)[dim]
    idx = np.array([n - 1, 0, n - 1])
    src_shape = [4, 3, 2]
    src_shape[dim] = 3
    src = rng.standard_normal(src_shape)
    i_ours, i_torch = tg.tensor(idx), L(idx)
    _grads_match(lambda a, s: S.index_add(a.permute(2, 1, 0), dim, i_ours, s, alpha=-1.5),
                 lambda a, s: torch.index_add(a.permute(2, 1, 0), dim, i_torch, s, alpha=-1.5),
                 [x, src])
    _grads_match(lambda a, s: S.index_copy(a.permute(2, 1, 0), dim, i_ours, s),
                 lambda a, s: torch.index_copy(a.permute(2, 1, 0), dim, i_torch, s), [x, src])
    _grads_match(lambda a, v: S.index_fill(a.permute(2, 1, 0), dim, i_ours, v),
                 lambda a, v: torch.index_fill(a.permute(2, 1, 0), dim, i_torch, v),
                 [x, np.array(0.25)])


# ----------------------------------------------------------------------------------------------
# select / slice / diagonal scatters: src is cast to x's dtype, as torch's copy_
# ----------------------------------------------------------------------------------------------


def test_scatters_cast_src_to_the_dtype_of_self():
    x64 = np.arange(24.0).reshape(2, 3, 4)
    src = np.full((3, 4), 0.5, dtype=np.float32)
    ours = tg.tensor(src, requires_grad=True)
    y = S.select_scatter(tg.tensor(x64), ours, 0, -1)
    _same(y, torch.select_scatter(L(x64), L(src), 0, -1))
    y.sum().backward()
    assert ours.grad.dtype == np.float32 and np.all(np.asarray(ours.grad) == 1.0)
    _same(S.slice_scatter(tg.tensor(x64), tg.tensor(np.ones((2, 3, 2), np.int32)), 2, 1, None, 2),
          torch.slice_scatter(L(x64), torch.ones(2, 3, 2, dtype=torch.int32), 2, 1, None, 2))
    xi = np.arange(9).reshape(3, 3)
    _same(S.diagonal_scatter(tg.tensor(xi), tg.tensor([7.9, -1.5]), 1),
          torch.diagonal_scatter(L(xi), L([7.9, -1.5]), 1))


@pytest.mark.parametrize("offset, d1, d2", [(0, 0, 1), (2, 2, 0), (-1, -1, 0), (5, 0, 1)])
def test_diagonal_scatter_grads_on_transposed_input(offset, d1, d2):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5))
    diag = torch.tensor(x).permute(2, 0, 1).diagonal(offset, d1, d2)
    src = rng.standard_normal(tuple(diag.shape))
    _grads_match(lambda a, s: S.diagonal_scatter(a.permute(2, 0, 1), s, offset, d1, d2),
                 lambda a, s: torch.diagonal_scatter(a.permute(2, 0, 1), s, offset, d1, d2),
                 [x, src])


# ----------------------------------------------------------------------------------------------
# diff, repeat_interleave
# ----------------------------------------------------------------------------------------------


def test_diff_of_order_0_ignores_prepend_and_append():
    x = np.arange(6.0).reshape(2, 3) ** 2
    p, a = np.ones((2, 2)), np.full((2, 1), 7.0)
    _grads_match(lambda x_, p_, a_: S.diff(x_, 0, -1, p_, a_),
                 lambda x_, p_, a_: torch.diff(x_, 0, -1, p_, a_), [x, p, a])
    x_ = tg.tensor(x)
    y = S.diff(x_, 0)
    assert y is not x_ and not np.shares_memory(y.data, x_.data)  # a copy, as torch's


def test_diff_prepend_shape_error_names_diff():
    with pytest.raises(ValueError, match=re.escape(
            "diff: expected prepend to match the shape of the input outside dim 0, got prepend "
            "(1, 2) and input (3, 4)")):
        S.diff(tg.zeros(3, 4), 1, 0, prepend=tg.zeros(1, 2))


@pytest.mark.parametrize("n", [1, 2, 4])
def test_diff_grads_on_transposed_input_with_prepend_append(n):
    rng = np.random.default_rng(n)
    x, p, a = rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    _grads_match(lambda x_, p_, a_: S.diff(x_.t(), n, 0, p_.t(), a_.t()),
                 lambda x_, p_, a_: torch.diff(x_.t(), n, 0, p_.t(), a_.t()), [x, p, a])


def test_diff_integer_and_bool_dtypes():
    for values in ([1, 5, 2, 9], [True, False, False, True]):
        for n in (1, 2, 3):
            _same(S.diff(tg.tensor(values), n), torch.diff(L(values), n))


def test_repeat_interleave_one_argument_form():
    for counts in ([2, 0, 3], [1]):
        _same(S.repeat_interleave(tg.tensor(counts)), torch.repeat_interleave(L(counts)))
    _same(tg.repeat_interleave(tg.tensor([0, 0]).long()),
          torch.repeat_interleave(L([0, 0])))
    with pytest.raises(ValueError, match=r"repeat_interleave: the counts .* must be a 1-d "
                                         r"tensor, got shape \(\)"):
        S.repeat_interleave(tg.tensor(3))
    with pytest.raises(TypeError, match="repeat_interleave: dim needs repeats"):
        S.repeat_interleave(tg.tensor([1, 2]), dim=0)


# ----------------------------------------------------------------------------------------------
# misc.py: cdist, searchsorted, trapezoid, broadcasting, stacking
# ----------------------------------------------------------------------------------------------


def test_cdist_inf_gives_every_tied_coordinate_the_full_gradient_like_torch():
    x1 = np.array([[0.0, 0.0], [1.0, -2.0]])
    x2 = np.array([[1.0, 1.0], [1.0, -1.0], [2.0, 0.5], [3.0, 0.0]])
    _grads_match(lambda a, b: M.cdist(a, b, float("inf")),
                 lambda a, b: torch.cdist(a, b, float("inf")), [x1, x2])
    a = tg.tensor(x1, requires_grad=True)
    M.cdist(a, tg.tensor(x2[:1]), float("inf")).sum().backward()
    assert np.asarray(a.grad).tolist() == [[-1.0, -1.0], [0.0, -1.0]]  # sign(x1 - x2)


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, float("inf")])
def test_cdist_grads_with_broadcast_batch_and_transposed_points(p):
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 3, 5))
    x2[0, :, 0] = x1[1, :, 2]  # a zero distance: gradient 0 there, as torch
    _grads_match(lambda a, b: M.cdist(a.transpose(-1, -2), b.transpose(-1, -2), p),
                 lambda a, b: torch.cdist(a.transpose(-1, -2), b.transpose(-1, -2), p), [x1, x2])


def test_cdist_errors_name_cdist():
    with pytest.raises(ValueError, match="cdist: 'bogus' is not a valid value for compute_mode"):
        M.cdist(tg.zeros(2, 3), tg.zeros(2, 3), compute_mode="bogus")
    with pytest.raises(ValueError, match=re.escape(
            "cdist: the batch dims of x1 and x2 must broadcast, got x1: (2, 4, 3), x2: "
            "(3, 5, 3)")):
        M.cdist(tg.zeros(2, 4, 3), tg.zeros(3, 5, 3))
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist", None):
        assert M.cdist(tg.zeros(2, 3), tg.ones(1, 3), compute_mode=mode).shape == (2, 1)


def test_searchsorted_with_empty_last_dim_and_sorter_checks():
    seq, vals = np.zeros((2, 0)), np.array([[0.5, 1.0], [2.0, -1.0]])
    for right in (False, True):
        _same(M.searchsorted(tg.tensor(seq), tg.tensor(vals), right=right),
              torch.searchsorted(L(seq), L(vals), right=right))
    u = tg.tensor([5.0, 1.0, 3.0])
    with pytest.raises(TypeError, match="searchsorted: sorter must be an integer tensor, got "
                                        "dtype float"):
        M.searchsorted(u, tg.tensor([2.0]), sorter=tg.tensor([1.0, 2.0, 0.0]))
    with pytest.raises(IndexError, match=re.escape("searchsorted: sorter index out of range: its "
                                                   "values must be in [0, 3), got min 0 and "
                                                   "max 9")):
        M.searchsorted(u, tg.tensor([2.0]), sorter=tg.tensor([1, 9, 0]))
    _same(M.searchsorted(u, tg.tensor([2.0, 5.0]), sorter=tg.tensor([1, 2, 0]), side="right"),
          torch.searchsorted(L([5.0, 1.0, 3.0]), L([2.0, 5.0]), sorter=L([1, 2, 0]),
                             side="right"))


def test_trapezoid_keeps_dim_when_y_broadcasts_up_to_x():
    y = np.array([0.0, 1.0, 4.0, 9.0])
    x = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0]])
    expected = np.trapezoid(np.broadcast_to(y, x.shape), x, axis=-1)  # [9.5, 19]
    for dim in (0, -1):  # dim 0 of y is its only dim, the samples
        for fn in (M.trapezoid, lambda *a, **k: M.cumulative_trapezoid(*a, **k)[..., -1]):
            got = fn(tg.tensor(y), tg.tensor(x), dim=dim)
            np.testing.assert_allclose(np.asarray(got), expected)


@pytest.mark.parametrize("x_shape", [(3, 1), (), (1, 1)])
def test_trapezoid_refuses_x_without_a_value_per_sample(x_shape):
    """A size-1 x along dim used to broadcast to zero widths and give 0; torch refuses it."""
    with pytest.raises(ValueError, match=re.escape("trapezoid: x must have one value for each of "
                                                   "the 4 samples of y along dim 1")):
        M.trapezoid(tg.zeros(3, 4), tg.ones(*x_shape))
    with pytest.raises(ValueError, match="cumulative_trapezoid: x must have one value"):
        M.cumulative_trapezoid(tg.zeros(3, 4), tg.ones(*x_shape))


def test_trapezoid_grads_with_full_x():
    rng = np.random.default_rng(4)
    y, x = rng.standard_normal((3, 5)), np.cumsum(rng.uniform(0.1, 1.0, (3, 5)), axis=0)
    _grads_match(lambda a, b: M.trapezoid(a, b, dim=0), lambda a, b: torch.trapezoid(a, b, dim=0),
                 [y, x])
    _grads_match(lambda a, b: M.cumulative_trapezoid(a, b, dim=0),
                 lambda a, b: torch.cumulative_trapezoid(a, b, dim=0), [y, x])


def test_no_tensors_give_an_empty_tuple_like_torch():
    assert M.broadcast_tensors() == torch.broadcast_tensors() == ()
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        assert getattr(M, name)() == () and getattr(M, name)([]) == ()
        assert getattr(torch, name)() == ()


def test_broadcast_and_stack_errors_name_the_op():
    with pytest.raises(ValueError, match=re.escape("broadcast_tensors: shapes cannot be "
                                                   "broadcast to a single shape: (2,), (3,)")):
        M.broadcast_tensors(tg.zeros(2), tg.zeros(3))
    for name, shapes in (("hstack", [(2, 3), (3, 3)]), ("vstack", [(3,), (2,)]),
                         ("dstack", [(2, 3), (3, 3)]), ("column_stack", [(3,), (2,)])):
        with pytest.raises(ValueError, match=rf"^{name}: cat: tensors must have the same shape"):
            getattr(M, name)([tg.zeros(*s) for s in shapes])


# ----------------------------------------------------------------------------------------------
# Broad checks against torch: forward, backward, numerical gradients
# ----------------------------------------------------------------------------------------------

OPS = {
    "rot90 k=-1": (lambda x: S.rot90(x, -1, (2, 0)), lambda x: torch.rot90(x, -1, (2, 0)),
                   [(3, 4, 5)]),
    "tensor_split idx": (lambda x: S.tensor_split(x, [1, 3, 3, 9], 1),
                         lambda x: torch.tensor_split(x, [1, 3, 3, 9], 1), [(2, 5, 3)]),
    "unfold twice": (lambda x: S.unfold(S.unfold(x, 2, 3, 1), 1, 2, 2),
                     lambda x: x.unfold(2, 3, 1).unfold(1, 2, 2), [(2, 5, 4)]),
    "unfold transposed": (lambda x: S.unfold(x.t(), 0, 2, 1), lambda x: x.t().unfold(0, 2, 1),
                          [(3, 4)]),
    "take_along_dim bcast": (lambda x: S.take_along_dim(x, tg.tensor([[[0], [2]]]), 2),
                             lambda x: torch.take_along_dim(x, L([[[0], [2]]]), 2),
                             [(1, 2, 3)]),
    "masked_select bcast": (lambda x: S.masked_select(x, tg.tensor([[True], [False], [True]])),
                            lambda x: torch.masked_select(x, L([[True], [False], [True]])),
                            [(2, 1, 4)]),
    "repeat_interleave": (lambda x: S.repeat_interleave(x, tg.tensor([2, 0, 3]), -1),
                          lambda x: torch.repeat_interleave(x, L([2, 0, 3]), -1), [(2, 3)]),
    "roll": (lambda x: S.roll(x.t(), (1, -4), (0, 1)),
             lambda x: torch.roll(x.t(), (1, -4), (0, 1)), [(3, 4)]),
    "movedim": (lambda x: S.movedim(x, (0, -1), (-1, 1)),
                lambda x: torch.movedim(x, (0, -1), (-1, 1)), [(2, 3, 4)]),
    "block_diag": (lambda a, b: M.block_diag(a, b, a[0, 0]),
                   lambda a, b: torch.block_diag(a, b, a[0, 0]), [(2, 3), (3,)]),
    "column_stack": (lambda a, b: M.column_stack([a, b]), lambda a, b: torch.column_stack([a, b]),
                     [(3,), (3, 2)]),
    "dstack": (lambda a, b: M.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [(2,), (1, 2)]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_match_torch(name):
    ours, theirs, shapes = OPS[name]
    check_op(ours, theirs, shapes, dtypes=(np.float64,))


def test_tensor_module_ops_match_torch():
    a, b = np.array([1.0, -2.0, 3.0]), np.array([4.0, 5.0])
    _grads_match(lambda x, y: tg.cartesian_prod(x, y), lambda x, y: torch.cartesian_prod(x, y),
                 [a, b])
    _grads_match(lambda x: tg.combinations(x, 2, True), lambda x: torch.combinations(x, 2, True),
                 [a])
    for n in (None, 1, 4):
        for increasing in (False, True):
            _same(tg.vander(tg.tensor(a), n, increasing), torch.vander(L(a), n, increasing))
    # torch 2.13's vander backward fails ("modified by an inplace operation"): numerical check
    gradcheck(lambda x: tg.vander(x, 4), [tg.tensor(np.array([0.0, 2.0, -1.5]),
                                                    requires_grad=True)])
    for row, col, offset in ((3, 4, 1), (4, 3, -2), (0, 3, 0), (3, 3, 5)):
        _same(tg.tril_indices(row, col, offset), torch.tril_indices(row, col, offset))
        _same(tg.triu_indices(row, col, offset), torch.triu_indices(row, col, offset))
