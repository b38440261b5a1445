"""Review of tg.linalg and the matrix products of functional.linalg against torch: the cases
the first tests missed (symmetric gradients, repeated singular values, degenerate and
odd batched shapes, keyword semantics, error messages). Each bug found has a test here."""

import math

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu import linalg as LA
from tinygrad_edu.functional import linalg as FL


def _rng(seed=0):
    return np.random.default_rng(seed)


def _symmetric(*shape, seed=0):
    a = _rng(seed).standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def _well_conditioned(*shape, seed=0):
    return _rng(seed).uniform(-0.5, 0.5, size=shape) + 2 * np.eye(shape[-1])


def _fix_signs(vectors, lib):
    """Each column times the sign of its first entry (eigen/singular vectors' sign freedom)."""
    return vectors * lib.sign(vectors[..., :1, :])


def _grad(fn, array, weights=None, lib=tg):
    """d/dA sum(weights * fn(A)) in tinygrad_edu or torch, as a NumPy array."""
    if lib is tg:
        a = tg.tensor(array, requires_grad=True)
        out = fn(a)
        (out * tg.tensor(weights if weights is not None else np.ones(out.shape))).sum().backward()
        return a.grad.numpy()
    a = torch.tensor(array, requires_grad=True)
    out = fn(a)
    (out * torch.tensor(weights if weights is not None else np.ones(tuple(out.shape)))).sum(
    ).backward()
    return a.grad.numpy()


# ---------------------------------------------------------------------------- eigh / svd


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_gradient_on_a_symmetric_leaf_is_torchs_symmetric_one(uplo):
    # was: dA = V ((V^T dV) / E) V^T, not symmetric; torch takes the skew part of V^T dV
    def run(lib, eigh):
        def f(a):
            w, v = eigh(a, UPLO=uplo)
            return w, _fix_signs(v, lib)
        return f
    check_op(run(tg, LA.eigh), run(torch, torch.linalg.eigh), None,
             inputs=[_symmetric(2, 4, 4)], atol=1e-4, gradcheck=False)
    a = tg.tensor(_symmetric(2, 4, 4, seed=1), requires_grad=True)
    tg.gradcheck(lambda x: run(tg, LA.eigh)(x + x.transpose(-1, -2)), [a])
    tg.gradgradcheck(lambda x: run(tg, LA.eigh)(x + x.transpose(-1, -2)), [a])


def _with_spectrum(values, seed=0):
    """Q diag(values) Q^T with a random orthogonal Q (repeated values allowed)."""
    q, _ = np.linalg.qr(_rng(seed).standard_normal((len(values), len(values))))
    return q @ np.diag(values) @ q.T


def test_eigvalsh_gradient_with_repeated_eigenvalues_is_finite_like_torch():
    # was NaN: the eigenvector term 0 / (L_j - L_i) was computed even with dV = 0
    a = _with_spectrum([1.0, 1.0, 2.0])
    weights = np.array([1.0, 1.0, 3.0])  # equal on the repeated pair: a unique gradient
    ours = _grad(LA.eigvalsh, a, weights)
    expected = _grad(torch.linalg.eigvalsh, a, weights, lib=torch)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, expected, atol=1e-10)
    for dtype in (np.float32, np.float64):
        eye = np.eye(3, dtype=dtype)
        grad = _grad(LA.eigvalsh, eye)
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, eye, atol=1e-6)


def test_svdvals_and_spectral_norms_with_repeated_singular_values_like_torch():
    # was NaN: 0 / (S_k^2 - S_j^2) with dU = dV = 0
    rng = _rng(2)
    u, _ = np.linalg.qr(rng.standard_normal((4, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    a = u @ np.diag([2.0, 2.0, 1.0]) @ v.T  # (4, 3), a repeated singular value
    weights = np.array([0.5, 0.5, -1.0])
    ours = _grad(LA.svdvals, a, weights)
    np.testing.assert_allclose(ours, _grad(torch.linalg.svdvals, a, weights, lib=torch),
                               atol=1e-10)
    eye = [np.eye(3)[None].repeat(2, 0)]  # (2, 3, 3): every singular value 1
    check_op(lambda x: LA.matrix_norm(x, "nuc"), lambda x: torch.linalg.matrix_norm(x, "nuc"),
             None, inputs=eye)
    check_op(lambda x: LA.matrix_norm(x, 2), lambda x: torch.linalg.matrix_norm(x, 2), None,
             inputs=eye, gradcheck=False)  # the largest of tied values: not differentiable
    check_op(lambda x: LA.norm(x, -2), lambda x: torch.linalg.norm(x, -2), None,
             inputs=[np.eye(3)], gradcheck=False)


def test_svdvals_of_a_rank_deficient_matrix_has_a_finite_gradient():
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # rank 1: S = (sqrt(70), 0)
    grad = _grad(LA.svdvals, a, np.array([1.0, 0.0]))
    np.testing.assert_allclose(grad, _grad(torch.linalg.svdvals, a, np.array([1.0, 0.0]),
                                           lib=torch), atol=1e-10)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_svd_full_matrices_singular_values_are_differentiable(shape):
    # was NotImplementedError for any non-square A with full_matrices=True, even with S alone
    check_op(lambda a: LA.svd(a)[1], lambda a: torch.linalg.svd(a)[1], [shape])
    x = tg.randn(*shape, dtype=tg.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="full_matrices=True"):
        LA.svd(x)[0].sum().backward()  # U's extra columns: documented, not implemented


def test_svdvals_second_order_on_odd_batched_shapes():
    rng = _rng(3)
    tg.gradgradcheck(LA.svdvals, [tg.tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)])
    tg.gradgradcheck(lambda x: LA.eigvalsh(x + x.transpose(-1, -2)),
                     [tg.tensor(rng.standard_normal((2, 4, 4)), requires_grad=True)])


# ---------------------------------------------------------------------------- cholesky, pinv


def test_cholesky_upper_reads_the_upper_triangle_like_torch():
    # was: the lower triangle's factor, transposed (differs for a non-symmetric A)
    a = _well_conditioned(2, 3, 3)
    check_op(lambda x: LA.cholesky(x, upper=True),
             lambda x: torch.linalg.cholesky(x, upper=True), None, inputs=[a], gradcheck=False)
    check_op(LA.cholesky, torch.linalg.cholesky, None, inputs=[a], gradcheck=False)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 0), (1, 1)])
def test_pinv_of_degenerate_shapes(shape):
    # was: "zero-size array to reduction operation maximum" from NumPy
    x = _rng(4).standard_normal(shape)
    ours = LA.pinv(tg.tensor(x))
    expected = torch.linalg.pinv(torch.tensor(x))
    assert tuple(ours.shape) == tuple(expected.shape)
    assert_close(ours, expected)


def test_pinv_atol_zero_keeps_the_default_rtol_like_torch():
    # torch: rtol defaults to eps * max(m, n) unless atol > 0; was rtol = 0 for atol = 0.0
    a = np.diag([1.0, 1e-17])
    for kw in ({"atol": 0.0}, {"atol": 0.0, "rtol": 0.0}, {"atol": 0.5}, {"rtol": 1e-18}):
        ours = LA.pinv(tg.tensor(a), **kw)
        assert_close(ours, torch.linalg.pinv(torch.tensor(a), **kw), what=str(kw))


# ---------------------------------------------------------------------------- solve


@pytest.mark.parametrize("a_shape,b_shape", [((2, 1, 3, 3), (4, 2, 3)), ((3, 3), (2, 5, 3))])
def test_solve_left_false_with_broadcast_batches(a_shape, b_shape):
    rng = _rng(5)
    check_op(lambda a, b: LA.solve(a, b, left=False),
             lambda a, b: torch.linalg.solve(a, b, left=False), None,
             inputs=[_well_conditioned(*a_shape), rng.standard_normal(b_shape)])


def test_solve_errors_name_the_problem():
    a = tg.tensor(_well_conditioned(2, 3, 3))
    for b in (tg.ones(3, dtype=tg.float64), tg.ones(2, 3, dtype=tg.float64)):
        with pytest.raises(ValueError, match=r"linalg.solve: B .* left=True"):
            LA.solve(a, b, left=False)  # torch refuses a vector B with left=False too
        with pytest.raises(RuntimeError):
            torch.linalg.solve(torch.tensor(a.numpy()), torch.tensor(b.numpy()), left=False)
    with pytest.raises(ValueError, match="linalg.solve: B must have at least 1 dim"):
        LA.solve(a, tg.tensor(1.0, dtype=tg.float64))  # was an IndexError
    with pytest.raises(TypeError, match="A's dtype float64, got dtype float32"):
        LA.solve(a, tg.ones(3))


# ---------------------------------------------------------------------------- norms


@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
@pytest.mark.parametrize("ord_", ["fro", "nuc", 1, 2, math.inf])
def test_matrix_norm_of_an_empty_matrix_is_zero_like_torch(shape, ord_):
    # ord 2 and inf (1 for (3, 0)) raised "amax: cannot reduce over an empty dimension"
    x = np.zeros(shape)
    ours = LA.matrix_norm(tg.tensor(x), ord_)
    expected = torch.linalg.matrix_norm(torch.tensor(x), ord_)
    assert tuple(ours.shape) == tuple(expected.shape)
    assert_close(ours, expected)


def test_norm_and_vector_norm_reject_what_torch_rejects():
    with pytest.raises(TypeError, match="linalg.vector_norm: expected a floating-point tensor, "
                                        "got dtype int64"):
        LA.vector_norm(tg.tensor(np.arange(3)))  # was silently cast to float
    with pytest.raises(TypeError, match="linalg.vector_norm: ord must be a number, got 'fro'"):
        LA.vector_norm(tg.ones(3), "fro")  # was a NumPy ufunc error
    with pytest.raises(ValueError, match="linalg.matrix_norm: A must have at least 2 dims"):
        LA.norm(tg.ones(4), "fro")
    with pytest.raises(ValueError, match=r"linalg.matrix_norm: dim must be a 2-tuple, got \(1,\)"):
        LA.norm(tg.ones(3, 4), "nuc", 1)
    with pytest.raises(ValueError, match="linalg.norm: with ord='fro' and dim=None, A must be"):
        LA.norm(tg.ones(2, 3, 4), "fro")


@pytest.mark.parametrize("ord_,dim,keepdim", [("fro", (0, 2), True), ("nuc", (2, 0), False),
                                             (None, (1, 2), True)])
def test_norm_with_a_string_ord_and_dims(ord_, dim, keepdim):
    check_op(lambda a: LA.norm(a, ord_, dim, keepdim),
             lambda a: torch.linalg.norm(a, ord_, dim, keepdim), [(3, 2, 4)])


# ---------------------------------------------------------------------------- products


@pytest.mark.parametrize("shapes", [[(2, 0), (3, 0)], [(0, 4), (3, 4)], [(2, 3, 4), (4,)]],
                         ids=str)
def test_inner_degenerate_and_batched(shapes):
    # (2, 0), (3, 0) was "reshape: shape (-1, 0) is invalid for input of size 0"
    check_op(FL.inner, torch.inner, shapes)


def test_cross_default_dim_is_the_first_size_3_dim_of_input():
    # was: the first size-3 dim of the broadcast shape, (3, 3) -> dim 0 instead of 1
    check_op(FL.cross, lambda a, b: torch.linalg.cross(a, b, dim=1), [(1, 3), (3, 3)])


def test_cross_does_not_broadcast_along_dim_and_checks_dim():
    with pytest.raises(ValueError, match=r"linalg.cross: dim 1 must have size 3 in both inputs, "
                                         r"got shapes \(2, 1\) and \(2, 3\)"):
        LA.cross(tg.ones(2, 1), tg.ones(2, 3))  # was a broadcast result; torch raises
    with pytest.raises(IndexError, match="linalg.cross: dim 5 is out of range for 2 dims"):
        LA.cross(tg.ones(3, 2), tg.ones(3, 2), dim=5)
    with pytest.raises(ValueError, match=r"cross: no dimension of size 3 in input \(2, 2\)"):
        FL.cross(tg.ones(2, 2), tg.ones(2, 2))


@pytest.mark.parametrize("name,shapes,kw", [
    ("addmm", [(), (2, 3), (3, 4)], {"beta": 2.0, "alpha": -0.5}),
    ("addmm", [(2, 4), (2, 0), (0, 4)], {}),
    ("addmv", [(), (2, 3), (3,)], {"alpha": 2.0}),
    ("addr", [(3,), (2,), (3,)], {"beta": 0.5}),
    ("baddbmm", [(1, 3, 1), (2, 3, 5), (2, 5, 4)], {"alpha": 2.0}),
    ("addbmm", [(4,), (2, 3, 5), (2, 5, 4)], {"beta": -1.0}),
    ("addbmm", [(3, 4), (0, 3, 5), (0, 5, 4)], {}),
])
def test_add_products_broadcast_and_degenerate(name, shapes, kw):
    check_op(lambda *a: getattr(FL, name)(*a, **kw),
             lambda *a: getattr(torch, name)(*a, **kw), shapes)


@pytest.mark.parametrize("name,shapes", [
    ("kron", [(), (2, 3)]), ("kron", [(2, 1, 3), (2,)]), ("kron", [(0, 3), (2, 2)]),
    ("dot", [(0,), (0,)]), ("inner", [(), ()]),
])
def test_products_degenerate(name, shapes):
    check_op(getattr(FL, name), getattr(torch, name), shapes)


@pytest.mark.parametrize("fn,args", [
    ("diagonal", (5, 0, 1)), ("diagonal", (-4, 0, 1)), ("diagonal", (1, 2, 1)),
    ("diag_embed", (-1, 1, 3)), ("diag_embed", (1, 3, 1)),
])
def test_diagonals_odd_dims_and_offsets(fn, args):
    shape = (3, 4, 5) if fn == "diagonal" else (2, 3, 4)
    check_op(lambda x: getattr(FL, fn)(x, *args), lambda x: getattr(torch, fn)(x, *args),
             [shape])


# ---------------------------------------------------------------------------- matrix_power,
#                                                                              multi_dot


def test_matrix_power_takes_integer_matrices_and_only_int_n():
    a = np.arange(4).reshape(2, 2)
    for n in (0, 1, 3):
        ours = LA.matrix_power(tg.tensor(a), n)
        expected = torch.linalg.matrix_power(torch.tensor(a), n)
        assert ours.dtype == tg.int64 and ours.tolist() == expected.tolist()
    with pytest.raises(TypeError, match="linalg.matrix_power: expected a floating-point"):
        LA.matrix_power(tg.tensor(a), -1)
    with pytest.raises(TypeError, match="linalg.matrix_power: n must be an int, got 2.0"):
        LA.matrix_power(tg.eye(2), 2.0)


def test_multi_dot_names_the_mismatched_tensors():
    with pytest.raises(ValueError, match=r"linalg.multi_dot: tensors 1 and 2 with shapes "
                                         r"\(3, 4\) and \(5, 1\) cannot be multiplied"):
        LA.multi_dot([tg.ones(2, 3), tg.ones(3, 4), tg.ones(5, 1)])


# ---------------------------------------------------------------------------- odd batched shapes


@pytest.mark.parametrize("shape", [(2, 1, 3, 3), (1, 1)])
def test_det_slogdet_inv_odd_batches(shape):
    x = [_well_conditioned(*shape, seed=6) * np.where(np.eye(shape[-1]), -1.0, 1.0)]
    check_op(LA.det, torch.linalg.det, None, inputs=x)
    check_op(LA.slogdet, torch.linalg.slogdet, None, inputs=x)
    check_op(LA.inv, torch.linalg.inv, None, inputs=x)


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0)])
def test_empty_matrices(shape):
    x = np.zeros(shape)
    for ours, theirs in [(LA.det, torch.linalg.det), (LA.inv, torch.linalg.inv),
                         (LA.cholesky, torch.linalg.cholesky), (LA.eigvalsh,
                                                                torch.linalg.eigvalsh)]:
        out = ours(tg.tensor(x))
        expected = theirs(torch.tensor(x))
        assert tuple(out.shape) == tuple(expected.shape)
        assert_close(out, expected)


def test_beta_zero_ignores_the_input_and_gives_it_a_zero_gradient_like_torch():
    rng = np.random.default_rng(11)
    inp, m1, m2 = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal(
        (2, 4))
    inp[0, 0] = np.nan
    grads = []
    for lib in (tg, torch):
        i, a, b = (lib.tensor(v, requires_grad=True) for v in (inp, m1, m2))
        out = lib.addmm(i, a, b, beta=0)
        assert np.isfinite(out.detach().numpy()).all()
        out.sum().backward()
        grads.append((i.grad.numpy(), a.grad.numpy()))
    np.testing.assert_array_equal(grads[0][0], np.zeros((3, 4)))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])
