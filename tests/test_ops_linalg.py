"""Matrix products: matmul in every numpy.matmul form (1-d, 2-d, batched with broadcast batch
dims), mm, bmm, outer, linear and einsum."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import functional as F

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot product -> 0-d
    ((3,), (3, 4)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((2, 3), (3, 4)),  # matrix @ matrix
    ((1, 3), (3, 1)),
    ((2, 3, 4), (4, 5)),  # batch @ matrix
    ((4, 5), (2, 5, 3)),  # matrix @ batch
    ((2, 3, 4), (2, 4, 5)),  # batch @ batch
    ((2, 1, 3, 4), (3, 4, 2)),  # broadcast batch dims
    ((4,), (2, 4, 5)),  # vector @ batch
    ((2, 3, 4), (4,)),  # batch @ vector
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, device):
    out = check_op(lambda a, b: a @ b, torch.matmul, shapes, device=device)
    expected = np.matmul(np.zeros(shapes[0]), np.zeros(shapes[1])).shape
    assert out[0].shape == expected


def test_matmul_function_and_method_forms():
    check_op(tg.matmul, torch.matmul, [(2, 3), (3, 2)])
    check_op(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), [(2, 3), (3,)])
    check_op(lambda a, b: np.ones((2, 2)) @ a @ b, lambda a, b: torch.ones(2, 2,
             dtype=a.dtype) @ a @ b, [(2, 3), (3, 2)])


def test_mm_bmm_outer(device):
    check_op(tg.mm, torch.mm, [(2, 3), (3, 4)], device=device)
    check_op(tg.bmm, torch.bmm, [(2, 2, 3), (2, 3, 4)], device=device)
    check_op(tg.outer, torch.outer, [(3,), (4,)], device=device)
    with pytest.raises(ValueError, match=r"mm: expects 2-d tensors, got \(2, 3, 4\) and \(4,"):
        tg.mm(tg.ones(2, 3, 4), tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"bmm: expects 3-d tensors, got \(3, 4\)"):
        tg.bmm(tg.ones(3, 4), tg.ones(2, 4, 2))


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 5, 3), (3,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias, device):
    shapes = [x_shape, (4, 3)] + ([(4,)] if bias else [])
    check_op(F.linear, TF.linear, shapes, device=device)


@pytest.mark.parametrize("x_shape", [(9, 7), (2, 5, 7), (7,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_and_matmul_with_the_numba_gemm_match_torch(numba_gemm_at_every_size, x_shape,
                                                           bias):
    """linear and 2-d matmul on the Numba GEMM (forward, and the first-order backward on
    arrays): odd sizes that fill no tile, rows from leading dims, a 1-d input (BLAS)."""
    shapes = [x_shape, (11, 7)] + ([(11,)] if bias else [])
    check_op(F.linear, TF.linear, shapes)
    check_op(lambda a, b: a @ b, torch.matmul, [(9, 7), (7, 13)])


def test_linear_feature_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"linear: input has 3 features but weight expects 5 "
                                         r"\(x: \(2, 3\), weight: \(4, 5\)\)"):
        F.linear(tg.ones(2, 3), tg.ones(4, 5))


def test_matmul_promotes_int_and_float_like_torch():
    out = tg.tensor([[1, 2]]) @ tg.tensor([[0.5], [0.25]])
    assert out.dtype == tg.float32 and out.tolist() == [[1.0]]
    assert (tg.tensor([[1, 2]]) @ tg.tensor([[3], [4]])).tolist() == [[11]]


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 2)),
                                    ((2, 1, 2, 3), (2, 3, 2))], ids=str)
def test_gradgradcheck_matmul(shapes):
    rng = np.random.default_rng(0)
    a = tg.tensor(rng.standard_normal(shapes[0]), requires_grad=True)
    b = tg.tensor(rng.standard_normal(shapes[1]), requires_grad=True)
    assert tg.gradgradcheck(lambda x, y: (x @ y) * (x @ y), [a, b])


def test_hessian_of_quadratic_form_matches_torch():
    # f(x) = x^T A x has Hessian A + A^T
    rng = np.random.default_rng(1)
    a_np, x_np = rng.standard_normal((4, 4)), rng.standard_normal(4)
    a = tg.tensor(a_np)
    x = tg.tensor(x_np, requires_grad=True)
    (g,) = tg.grad(x @ a @ x, x, create_graph=True)
    rows = [tg.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(4)]
    np.testing.assert_allclose(np.stack(rows), a_np + a_np.T, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# einsum
# ----------------------------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),  # matmul
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output: the letters used once, sorted
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),  # batched matmul
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace
    ("iij->ji", [(3, 3, 2)]),  # a repeated letter beside another
    ("iji,j", [(3, 2, 3), (2,)]),
    ("ij->", [(2, 3)]),  # sum
    ("ij->i", [(2, 3)]),  # sum over a letter only one operand has
    ("ij,j->ij", [(2, 3), (3,)]),
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("i,i", [(4,), (4,)]),  # dot product
    ("ij->ji", [(2, 3)]),  # transpose
    ("Ba", [(2, 3)]),  # implicit order is ASCII: upper case first
    ("ba", [(2, 3)]),  # implicit transpose
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 4)]),  # ellipsis, broadcast batch dims
    ("...ij,...jk", [(2, 3), (4, 3, 5)]),
    ("b...a", [(2, 4, 5, 3)]),  # implicit: ellipsis dims first
    ("...ij->ij", [(2, 3, 4)]),  # ellipsis dims summed out
    ("i...i", [(2, 5, 2)]),
    ("ij,jk", [(2, 3), (1, 4)]),  # a size-1 dim broadcasts against its letter's size
    ("ij,ij->ij", [(2, 1), (2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),  # three operands
    ("bhqd, bhkd -> bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # spaces, attention scores
    ("i,i->", [(0,), (0,)]),  # empty
]


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(equation, shapes, device):
    out = check_op(lambda *t: tg.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
                   shapes, device=device)
    arrays = [np.ones(s) for s in shapes]
    assert out[0].shape == tuple(torch.einsum(equation, *map(torch.tensor, arrays)).shape)


def test_einsum_takes_a_list_of_operands_and_integers():
    check_op(lambda a, b: F.einsum("ij,jk", [a, b]), lambda a, b: torch.einsum("ij,jk", [a, b]),
             [(2, 3), (3, 2)])
    a = np.arange(6).reshape(2, 3)
    ours = tg.einsum("ij,kj->ik", tg.tensor(a), tg.tensor(a))
    assert ours.dtype == tg.int64
    assert ours.tolist() == torch.einsum("ij,kj->ik", torch.tensor(a), torch.tensor(a)).tolist()


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 2)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]), ("...ij,...jk", [(2, 2, 3), (3, 2)]),
    ("i,j,i->ij", [(3,), (2,), (3,)]), ("ij,jk", [(2, 3), (1, 2)]),
], ids=str)
def test_gradgradcheck_einsum(equation, shapes):
    rng = np.random.default_rng(3)
    xs = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert tg.gradgradcheck(lambda *t: tg.einsum(equation, *t) ** 2, xs)


@pytest.mark.parametrize("equation, shapes, error, message", [
    ("ij,jk", [(2, 3)], ValueError,
     r"einsum: the equation has subscripts for 2 operand\(s\) but 1 operand\(s\) were given "
     r"\(equation 'ij,jk', operand shapes \[\(2, 3\)\]\)"),
    ("ij", [(2, 3, 4)], ValueError,
     r"einsum: operand 0 has 3 dimension\(s\) but its subscripts 'ij' name 2 and it has no "
     r"ellipsis"),
    ("ij,j->i", [(2, 3), (4,)], ValueError,
     r"einsum: subscript 'j' has size 4 in operand 1, which does not broadcast with size 3"),
    ("...,...->...", [(2,), (3,)], ValueError,
     r"einsum: an ellipsis dimension has size 3 in operand 1"),
    ("iij", [(2, 3, 4)], ValueError,
     r"einsum: subscript 'i' is repeated in operand 0 but its dimensions differ in size "
     r"\(2 != 3\)"),
    ("ij->ijj", [(2, 3)], ValueError, r"einsum: output subscript 'j' appears more than once"),
    ("ij->k", [(2, 3)], ValueError,
     r"einsum: output subscript 'k' does not appear in the subscripts of any operand"),
    ("i1", [(2, 3)], ValueError, r"einsum: invalid subscript '1' in 'i1': subscripts must be "
                                 r"letters a-z or A-Z"),
    ("ij->i->j", [(2, 3)], ValueError, r"einsum: '->' appears more than once"),
    ("a..b", [(2, 3)], ValueError, r"einsum: 'a..b' has a '.' that is not part of an ellipsis"),
    ("a...b...", [(2, 3)], ValueError, r"einsum: 'a...b...' has more than one ellipsis"),
    ("ij,jk", [(2, 3), [1.0]], TypeError, r"einsum: operand 1 must be a Tensor, got list"),
])
def test_einsum_explains_bad_equations(equation, shapes, error, message):
    operands = [tg.ones(*s) if isinstance(s, tuple) else s for s in shapes]
    with pytest.raises(error, match=message):
        tg.einsum(equation, *operands)


def test_einsum_wants_one_dtype_like_torch():
    with pytest.raises(TypeError, match=r"einsum: all operands must have the same dtype, got "
                                        r"float32 \(operand 0\), float64 \(operand 1\)"):
        tg.einsum("ij,jk", tg.ones(2, 3), tg.ones(3, 2, dtype=tg.float64))
    with pytest.raises(ValueError, match="einsum: expected at least one operand"):
        tg.einsum("ij")
