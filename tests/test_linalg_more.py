"""torch's matrix products (addmm ... trace) and the tg.linalg namespace, forward and backward
against torch (float64 and float32, same random upstream gradient) and float64 gradcheck."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import linalg as LA
from tinygrad_edu.functional import linalg as FL


def well_conditioned(*shape, seed=0):
    """Random (..., n, n) matrices near 2 I (condition number small)."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return rng.uniform(-0.5, 0.5, size=shape) + 2 * np.eye(n)


# ---------------------------------------------------------------------------- products


@pytest.mark.parametrize("name,shapes,kw", [
    ("addmm", [(2, 4), (2, 3), (3, 4)], {}),
    ("addmm", [(4,), (2, 3), (3, 4)], {"beta": 0.5, "alpha": -2.0}),
    ("addmv", [(2,), (2, 3), (3,)], {"beta": 2.0, "alpha": 0.5}),
    ("addr", [(2, 3), (2,), (3,)], {"alpha": 3.0}),
    ("baddbmm", [(2, 3, 4), (2, 3, 5), (2, 5, 4)], {"beta": 0.5}),
    ("baddbmm", [(3, 4), (2, 3, 5), (2, 5, 4)], {}),
    ("addbmm", [(3, 4), (2, 3, 5), (2, 5, 4)], {"alpha": 0.5}),
])
def test_add_products(name, shapes, kw):
    check_op(lambda *a: getattr(FL, name)(*a, **kw),
             lambda *a: getattr(torch, name)(*a, **kw), shapes)


def test_beta_zero_ignores_input():
    inp = tg.tensor(np.full((2, 2), np.nan))
    out = FL.addmm(inp, tg.eye(2), tg.eye(2), beta=0)
    assert np.allclose(out.numpy(), np.eye(2))


@pytest.mark.parametrize("name,shapes", [
    ("dot", [(4,), (4,)]), ("vdot", [(4,), (4,)]), ("mv", [(3, 4), (4,)]),
    ("inner", [(2, 3, 4), (5, 4)]), ("inner", [(4,), (4,)]), ("inner", [(), (2, 3)]),
    ("kron", [(2, 3), (3, 2)]), ("kron", [(2, 1, 3), (2, 2)]), ("kron", [(3,), (2, 2)]),
])
def test_products(name, shapes):
    check_op(getattr(FL, name), getattr(torch, name), shapes)


def test_cross():
    check_op(lambda a, b: FL.cross(a, b, dim=1), lambda a, b: torch.cross(a, b, dim=1),
             [(2, 3, 4), (2, 3, 4)])
    check_op(lambda a, b: FL.cross(a, b), lambda a, b: torch.cross(a, b, dim=0),
             [(3, 3), (3, 3)])  # default: the first dim of size 3
    check_op(LA.cross, torch.linalg.cross, [(4, 2, 3), (4, 2, 3)])
    check_op(LA.cross, torch.linalg.cross, [(4, 1, 3), (1, 5, 3)])  # broadcast


@pytest.mark.parametrize("args", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 1, 2), (0, 2, 0),
                                  (-2, -1, 0)])
def test_diagonal(args):
    check_op(lambda x: FL.diagonal(x, *args), lambda x: torch.diagonal(x, *args),
             [(3, 4, 5)])


@pytest.mark.parametrize("args", [(0, -2, -1), (1, 0, 2), (-2, -1, -2), (2, 1, 0)])
def test_diag_embed(args):
    check_op(lambda x: FL.diag_embed(x, *args), lambda x: torch.diag_embed(x, *args),
             [(2, 3)])


@pytest.mark.parametrize("shape,offset", [((4,), 0), ((4,), 2), ((4,), -1), ((3, 5), 0),
                                          ((3, 5), 2), ((3, 5), -2)])
def test_diag(shape, offset):
    check_op(lambda x: FL.diag(x, offset), lambda x: torch.diag(x, offset), [shape])


def test_diagflat_trace():
    check_op(lambda x: FL.diagflat(x, 1), lambda x: torch.diagflat(x, 1), [(2, 2)])
    check_op(FL.trace, torch.trace, [(3, 5)])
    out = FL.diagonal(tg.randn(3, 4, requires_grad=True), 1)
    (out * out).sum().backward(create_graph=True)  # diagonal <-> diag_embed, any order


def test_product_errors():
    with pytest.raises(ValueError, match="matmul: cannot multiply shapes"):
        FL.addmm(tg.zeros(2, 2), tg.zeros(2, 3), tg.zeros(4, 2))
    with pytest.raises(ValueError, match="addmm: input"):
        FL.addmm(tg.zeros(3, 3), tg.zeros(2, 3), tg.zeros(3, 2))
    with pytest.raises(ValueError, match="dot"):
        FL.dot(tg.zeros(3), tg.zeros(4))
    with pytest.raises(ValueError, match="mv"):
        FL.mv(tg.zeros(3), tg.zeros(3))
    with pytest.raises(ValueError, match="size 3"):
        FL.cross(tg.zeros(4), tg.zeros(4))
    with pytest.raises(ValueError, match="trace"):
        FL.trace(tg.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="diag"):
        FL.diag(tg.zeros(2, 2, 2))


# ---------------------------------------------------------------------------- tg.linalg


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_det_inv_slogdet(shape):
    x = [well_conditioned(*shape)]
    check_op(LA.det, torch.linalg.det, None, inputs=x)
    check_op(LA.inv, torch.linalg.inv, None, inputs=x)
    check_op(lambda a: LA.slogdet(a)[1], lambda a: torch.linalg.slogdet(a)[1], None, inputs=x)
    sign = LA.slogdet(tg.tensor(-x[0]))[0]
    assert np.allclose(sign.numpy(), torch.linalg.slogdet(torch.tensor(-x[0]))[0].numpy())


def test_second_order():
    a = tg.tensor(well_conditioned(3, 3), requires_grad=True)
    tg.gradgradcheck(LA.det, [a])
    tg.gradgradcheck(LA.inv, [a])
    tg.gradgradcheck(lambda x: LA.solve(x, x[0]), [a])
    tg.gradgradcheck(lambda x: LA.eigh(x + x.transpose(-1, -2))[0], [a])
    tg.gradgradcheck(LA.svdvals, [a])
    tg.gradgradcheck(lambda x: LA.cholesky(_spd(x, tg)), [a])


@pytest.mark.parametrize("a_shape,b_shape,left", [
    ((3, 3), (3,), True), ((3, 3), (3, 2), True), ((2, 3, 3), (2, 3), True),
    ((2, 3, 3), (3, 4), True), ((3, 3), (2, 3, 2), True), ((2, 3, 3), (2, 4, 3), False),
])
def test_solve(a_shape, b_shape, left):
    rng = np.random.default_rng(1)
    x = [well_conditioned(*a_shape), rng.uniform(-1, 1, b_shape)]
    check_op(lambda a, b: LA.solve(a, b, left=left),
             lambda a, b: torch.linalg.solve(a, b, left=left), None, inputs=x)


def _spd(x, lib):
    """x x^T + n I: symmetric positive-definite, a function of every entry of x."""
    n = x.shape[-1]
    eye = torch.eye(n, dtype=x.dtype) if lib is torch else tg.eye(n, dtype=x.dtype)
    return x @ x.transpose(-1, -2) + n * eye


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cholesky(shape):
    check_op(lambda x: LA.cholesky(_spd(x, tg)), lambda x: torch.linalg.cholesky(_spd(x, torch)),
             [shape])
    check_op(lambda x: LA.cholesky(_spd(x, tg), upper=True),
             lambda x: torch.linalg.cholesky(_spd(x, torch), upper=True), [shape], dtypes=(
                 np.float64,))


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 3)])
def test_qr(shape):
    check_op(LA.qr, torch.linalg.qr, [shape], atol=1e-4)


def _fix_signs(vectors, lib):
    """Each column times the sign of its first entry: undoes the sign freedom of eigen- and
    singular vectors (sign has gradient 0)."""
    return vectors * lib.sign(vectors[..., :1, :])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh(shape):
    def run(lib, eigh):
        def f(x):
            w, v = eigh(x + x.transpose(-1, -2))
            return w, _fix_signs(v, lib)
        return f
    check_op(run(tg, LA.eigh), run(torch, torch.linalg.eigh), [shape], atol=1e-4)
    check_op(lambda x: LA.eigvalsh(x + x.transpose(-1, -2)),
             lambda x: torch.linalg.eigvalsh(x + x.transpose(-1, -2)), [shape])


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 3)])
def test_svd(shape):
    def run(lib, svd):
        def f(x):
            u, s, vh = svd(x, full_matrices=False)
            signs = lib.sign(u[..., :1, :])  # (..., 1, k)
            return u * signs, s, vh * signs.transpose(-1, -2)
        return f
    check_op(run(tg, LA.svd), run(torch, torch.linalg.svd), [shape], atol=1e-4)
    check_op(LA.svdvals, torch.linalg.svdvals, [shape])
    check_op(LA.pinv, torch.linalg.pinv, [shape], atol=1e-4)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power(n):
    x = [well_conditioned(2, 3, 3) / 2]
    check_op(lambda a: LA.matrix_power(a, n), lambda a: torch.linalg.matrix_power(a, n), None,
             inputs=x, gradcheck=n != 0)


@pytest.mark.parametrize("ord_", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)])
def test_matrix_norm(ord_, dim, keepdim):
    check_op(lambda a: LA.matrix_norm(a, ord_, dim, keepdim),
             lambda a: torch.linalg.matrix_norm(a, ord_, dim, keepdim), [(3, 2, 4)])


@pytest.mark.parametrize("ord_,dim,keepdim", [(2, None, False), (1, 1, True), (3, (0, 2), False),
                                             (np.inf, -1, False), (-np.inf, 0, True),
                                             (0.5, 1, False)])
def test_vector_norm(ord_, dim, keepdim):
    check_op(lambda a: LA.vector_norm(a, ord_, dim, keepdim),
             lambda a: torch.linalg.vector_norm(a, ord_, dim, keepdim), [(3, 2, 4)], low=0.1)


@pytest.mark.parametrize("shape,ord_,dim", [((3, 4), None, None), ((2, 3, 4), None, None),
                                            ((4,), 3, None), ((3, 4), "nuc", None),
                                            ((3, 4), 1, None), ((2, 3, 4), None, 1),
                                            ((2, 3, 4), 2, (0, 1))])
def test_norm(shape, ord_, dim):
    check_op(lambda a: LA.norm(a, ord_, dim), lambda a: torch.linalg.norm(a, ord_, dim),
             [shape])


def test_multi_dot():
    check_op(lambda *t: LA.multi_dot(t), lambda *t: torch.linalg.multi_dot(t),
             [(3,), (3, 4), (4, 2), (2,)])
    check_op(lambda *t: LA.multi_dot(t), lambda *t: torch.linalg.multi_dot(t),
             [(2, 3), (3, 4), (4, 2)])


def test_linalg_errors():
    singular = tg.tensor(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(LA.LinAlgError, match="linalg.inv.*singular"):
        LA.inv(singular)
    with pytest.raises(LA.LinAlgError, match="linalg.solve.*singular"):
        LA.solve(singular, tg.tensor(np.ones(2)))
    with pytest.raises(LA.LinAlgError, match="linalg.cholesky.*positive-definite"):
        LA.cholesky(tg.tensor(-np.eye(2)))
    with pytest.raises(RuntimeError):  # LinAlgError is a RuntimeError, as in torch
        LA.inv(singular)
    assert LA.det(singular).item() == 0.0
    sign, logabsdet = LA.slogdet(singular)
    assert sign.item() == 0.0 and logabsdet.item() == -np.inf
    with pytest.raises(ValueError, match="square"):
        LA.det(tg.zeros(2, 3))
    with pytest.raises(ValueError, match="at least 2 dims"):
        LA.inv(tg.zeros(3))
    with pytest.raises(ValueError, match="linalg.solve: cannot solve"):
        LA.solve(tg.eye(3), tg.zeros(4, 2))
    with pytest.raises(TypeError, match="floating"):
        LA.inv(tg.tensor(np.eye(2, dtype=np.int64)))
    with pytest.raises(ValueError, match="multi_dot"):
        LA.multi_dot([tg.zeros(2, 2)])
    with pytest.raises(ValueError, match="ord"):
        LA.matrix_norm(tg.zeros(2, 2), 3)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        x = tg.randn(3, 2, requires_grad=True)
        LA.svd(x)[0].sum().backward()
