"""``tg.linalg``: torch.linalg's decompositions and norms, on xp.linalg (NumPy or CuPy), each
with its analytic backward written with Tensor ops (so ``create_graph`` gives higher orders).

Notation: A (..., m, n) batches of matrices (leading dims are batch dims, as in torch),
X^T the transpose of the last two dims, dX the gradient of the loss with respect to X,
I the identity, tril/triu the lower/upper triangle, diag(v) the matrix with v on its diagonal.

Ops with several outputs (slogdet, qr, eigh, svd) compute one packed array (every output's
matrix dims flattened and concatenated on the last dim) and hand back slices of it: their
backward receives the packed gradient and cuts it into the outputs' gradients again.

Singular or non positive-definite inputs raise :class:`LinAlgError` (a RuntimeError, like
torch.linalg.LinAlgError) naming the op and the shapes, never an inf/NaN result.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .autograd import Function
from .backend import get_array_module
from .functional.linalg import _cross, diag_embed, matmul
from .functional.reduce import amax, amin
from .functional.reduce import norm as _p_norm
from .functional.reduce import sum as _sum
from .functional.shape import movedim, reshape, squeeze, sum_to, transpose, tril, unsqueeze
from .tensor import Tensor

__all__ = [
    "LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matrix_norm",
    "matrix_power", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "svd", "svdvals",
    "vector_norm",
]


class LinAlgError(RuntimeError):
    """A singular or non positive-definite matrix (torch.linalg.LinAlgError)."""


# ----------------------------------------------------------------------------------------------
# Helpers: checks, transposes, packed outputs
# ----------------------------------------------------------------------------------------------


def _mT(x: Tensor) -> Tensor:
    """X^T over the last two dims (torch's ``.mT``)."""
    return transpose(x, -1, -2)


def _eye_like(x, n: int):
    """An (n, n) identity array of x's array module and dtype."""
    data = x.data if isinstance(x, Tensor) else x
    return get_array_module(data).eye(n, dtype=data.dtype)


def _check_matrix(op: str, a: Tensor, square: bool = True, floating: bool = True) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(a).__name__}")
    if floating and a.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {a.dtype}")
    if a.ndim < 2:
        raise ValueError(f"{op}: A must have at least 2 dims, got shape {tuple(a.shape)}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: A must be batches of square matrices, but they are "
                         f"{a.shape[-2]} by {a.shape[-1]} matrices (A: {tuple(a.shape)})")


def _call(op: str, fn, *arrays, what: str = "singular"):
    """fn(*arrays), turning LAPACK's error (NumPy) and a non-finite result (CuPy does not raise)
    into a LinAlgError that names the op, the problem and the shapes."""
    shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
    message = f"{op}: the input is {what} (shapes {shapes}); torch raises here too"
    try:
        out = fn(*arrays)
    except np.linalg.LinAlgError as error:
        raise LinAlgError(f"{message} ({error})") from None
    parts = out if isinstance(out, tuple) else (out,)
    xp = get_array_module(parts[0])
    if not all(bool(xp.isfinite(p).all()) for p in parts) and all(
            bool(xp.isfinite(a).all()) for a in arrays):
        raise LinAlgError(message)
    return out


def _pack(parts: list, batch: tuple):
    """Concatenate the outputs, each flattened to (..., size), on the last dim."""
    xp = get_array_module(parts[0])
    return xp.concatenate([p.reshape(batch + (-1,)) for p in parts], axis=-1)


def _unpack(packed: Tensor, batch: tuple, shapes: list) -> list:
    """The slices of a packed Tensor, reshaped to each output's (..., *shape)."""
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(reshape(packed[..., start:start + size], batch + tuple(shape)))
        start += size
    return out


# ----------------------------------------------------------------------------------------------
# Determinants and inverses
# ----------------------------------------------------------------------------------------------


class Det(Function):
    """y = det(A);  dA = dy * y * A^{-T}  (Jacobi's formula; A must be invertible for the
    gradient, torch also handles singular A through the SVD)."""

    reads_output = True

    def forward(self, a):
        return get_array_module(a).linalg.det(a)

    def backward(self, dy):
        (a,) = self.inputs
        scale = unsqueeze(unsqueeze(dy * self.output, -1), -1)  # (..., 1, 1)
        return scale * _mT(inv(a))


def det(A: Tensor) -> Tensor:  # noqa: N803 - torch names
    """det(A) of (..., n, n) -> (...).

    >>> import tinygrad_edu as tg
    >>> round(det(tg.tensor([[2.0, 1.0], [1.0, 3.0]])).item(), 6)
    5.0
    """
    _check_matrix("linalg.det", A)
    return Det.apply(A)


class LogAbsDet(Function):
    """y = log|det(A)|;  dA = dy * A^{-T}."""

    def forward(self, a):
        return get_array_module(a).linalg.slogdet(a)[1]  # -inf for a singular A, as torch

    def backward(self, dy):
        (a,) = self.inputs
        return unsqueeze(unsqueeze(dy, -1), -1) * _mT(inv(a))  # (..., n, n)


def slogdet(A: Tensor) -> tuple:  # noqa: N803
    """(sign, logabsdet) with det(A) = sign * exp(logabsdet); sign has no gradient. A
    singular A gives (0, -inf), as in torch."""
    _check_matrix("linalg.slogdet", A)
    sign = get_array_module(A.data).linalg.slogdet(A.data)[0]
    with np.errstate(divide="ignore"):
        logabsdet = LogAbsDet.apply(A)
    return Tensor._wrap(sign, False), logabsdet


class Inv(Function):
    """Y = A^{-1};  dA = -Y^T dY Y^T."""

    reads_output = True

    def forward(self, a):
        return _call("linalg.inv", get_array_module(a).linalg.inv, a)

    def backward(self, dy):
        y_t = _mT(self.output)
        return -(y_t @ dy @ y_t)


def inv(A: Tensor) -> Tensor:  # noqa: N803
    """A^{-1} of (..., n, n); raises LinAlgError for a singular A."""
    _check_matrix("linalg.inv", A)
    return Inv.apply(A)


class Solve(Function):
    """X = A^{-1} B with A (..., n, n), B (..., n, k) (batch dims broadcast);
    G = A^{-T} dX,  dB = G,  dA = -G X^T  (each summed over its broadcast batch dims)."""

    reads_output = True

    def forward(self, a, b):
        return _call("linalg.solve", get_array_module(a).linalg.solve, a, b)

    def backward(self, dx):
        a, b = self.inputs
        g = Solve.apply(_mT(a), dx)  # (..., n, k)
        da = sum_to(-(g @ _mT(self.output)), a.shape) if self.needs_input_grad[0] else None
        db = sum_to(g, b.shape) if self.needs_input_grad[1] else None
        return da, db


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with A X = B (``left=False``: X A = B). B is a batch of vectors when it is 1-d or
    has shape A.shape[:-1] (as torch decides), else (..., n, k) matrices."""
    _check_matrix("linalg.solve", A)
    if not isinstance(B, Tensor) or B.dtype != A.dtype:
        got = f"dtype {B.dtype}" if isinstance(B, Tensor) else type(B).__name__
        raise TypeError(f"linalg.solve: B must be a Tensor of A's dtype {A.dtype}, got {got}")
    if B.ndim == 0:
        raise ValueError("linalg.solve: B must have at least 1 dim, got a 0-d tensor")
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector and not left:
        raise ValueError(f"linalg.solve: B {tuple(B.shape)} is a vector (batch), which torch "
                         f"allows only with left=True (A: {tuple(A.shape)}); for X A = B pass "
                         "B as (..., 1, n) rows")
    b = unsqueeze(B, -1) if vector else B  # (..., n, k)
    if not left:
        A, b = _mT(A), _mT(b)  # X A = B  <=>  A^T X^T = B^T
    try:
        np.broadcast_shapes(tuple(A.shape[:-2]), tuple(b.shape[:-2]))
        fits = b.shape[-2] == n
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"linalg.solve: cannot solve A {tuple(A.shape)} with B "
                         f"{tuple(B.shape)}: B needs {n} rows (or columns for left=False) "
                         "and batch dims that broadcast with A's")
    x = Solve.apply(A, b)
    if vector:
        return squeeze(x, -1)
    return x if left else _mT(x)


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    """A^n by repeated squaring (a composite of matmuls: their gradients); A^0 = I and
    A^{-n} = (A^{-1})^n. Integer A is allowed for n >= 0, as in torch."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    n = int(n)
    _check_matrix("linalg.matrix_power", A, floating=n < 0)
    if n == 0:
        return A * 0 + Tensor._wrap(_eye_like(A, A.shape[-1]), False)  # I, gradient 0
    base = inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# ----------------------------------------------------------------------------------------------
# Decompositions
# ----------------------------------------------------------------------------------------------


class Cholesky(Function):
    """A = L L^T with L lower triangular (the lower triangle of A is read);
    P = tril(L^T dL),  Phi = (P + tril(P, -1)^T) / 2,  dA = L^{-T} Phi L^{-1}  (as torch)."""

    reads_output = True

    def forward(self, a):
        xp = get_array_module(a)
        return _call("linalg.cholesky", xp.linalg.cholesky, a, what="not positive-definite")

    def backward(self, dl):
        low = self.output
        p = tril(_mT(low) @ dl)
        phi = (p + _mT(tril(p, -1))) * 0.5
        low_inv = inv(low)
        return _mT(low_inv) @ phi @ low_inv


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """L (or U = L^T with ``upper``) with A = L L^T of symmetric positive-definite (..., n, n);
    raises LinAlgError when A is not positive-definite. Only the lower triangle of A is read,
    the upper one with ``upper`` (as torch: U is the factor of A^T's lower triangle)."""
    _check_matrix("linalg.cholesky", A)
    if upper:
        return _mT(Cholesky.apply(_mT(A)))  # A^T = L L^T, U = L^T
    return Cholesky.apply(A)


class QR(Function):
    """A = Q R (reduced: Q (..., m, k), R (..., k, n), k = min(m, n)), packed.
    For m >= n:  M = R dR^T - dQ^T Q,  dA = (dQ + Q copyltu(M)) R^{-T}
    with copyltu(M) = tril(M) + tril(M, -1)^T (the lower triangle mirrored up)."""

    reads_output = True

    def forward(self, a, mode):
        q, r = get_array_module(a).linalg.qr(a, mode=mode)
        self.shapes = [q.shape[-2:], r.shape[-2:]]
        return _pack([q, r], a.shape[:-2])

    def backward(self, dy):
        (a,) = self.inputs
        m, n = a.shape[-2:]
        if m < n or self.shapes[0][1] != n:
            raise NotImplementedError(
                f"linalg.qr backward: only for tall or square A with mode='reduced' (here A is "
                f"{m} by {n}, Q {self.shapes[0]}); torch's wide case is not implemented")
        batch = tuple(a.shape[:-2])
        q, r = _unpack(self.output, batch, self.shapes)
        dq, dr = _unpack(dy, batch, self.shapes)
        mm_ = r @ _mT(dr) - _mT(dq) @ q  # (..., n, n)
        b = dq + q @ (tril(mm_) + _mT(tril(mm_, -1)))  # (..., m, n)
        return b @ _mT(inv(r))


def qr(A: Tensor, mode: str = "reduced") -> tuple:  # noqa: N803
    """(Q, R) with A = Q R, Q with orthonormal columns, R upper triangular; ``mode`` 'reduced'
    or 'complete' (gradients for m >= n, 'reduced')."""
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    out = QR.apply(A, mode=mode)
    return tuple(_unpack(out, tuple(A.shape[:-2]), _qr_shapes(A, mode)))


def _qr_shapes(A: Tensor, mode: str) -> list:
    m, n = A.shape[-2:]
    k = m if mode == "complete" else min(m, n)
    return [(m, k), (k, n)]


class Eigh(Function):
    """A = V diag(L) V^T of symmetric A (its ``UPLO`` triangle read), packed (L, V);
    E_ij = L_j - L_i,  skew(X) = (X - X^T) / 2,
    dA = V (diag(dL) + skew(V^T dV) / E off the diagonal) V^T  (as torch: a symmetric dA;
    with dV = 0, eigenvalues only, dA = V diag(dL) V^T, else needs distinct eigenvalues)."""

    reads_output = True

    def forward(self, a, uplo):
        xp = get_array_module(a)
        w, v = _call("linalg.eigh", lambda x: xp.linalg.eigh(x, UPLO=uplo), a,
                     what="not finite")
        return _pack([w, v], a.shape[:-2])

    def backward(self, dy):
        (a,) = self.inputs
        n = a.shape[-1]
        batch, shapes = tuple(a.shape[:-2]), [(n,), (n, n)]
        w, v = _unpack(self.output, batch, shapes)
        dw, dv = _unpack(dy, batch, shapes)
        inner = diag_embed(dw)  # (..., n, n)
        if dv.data.any():  # V was used: its term divides by the eigenvalue gaps
            eye = Tensor._wrap(_eye_like(a, n), False)
            gap = unsqueeze(w, -2) - unsqueeze(w, -1) + eye  # E_ij = L_j - L_i, 1 on the diagonal
            vt_dv = _mT(v) @ dv  # (..., n, n)
            inner = inner + (vt_dv - _mT(vt_dv)) * 0.5 / gap  # skew: 0 on the diagonal
        return v @ inner @ _mT(v)


def eigh(A: Tensor, UPLO: str = "L") -> tuple:  # noqa: N803
    """(eigenvalues ascending (..., n), eigenvectors as columns (..., n, n)) of symmetric A."""
    _check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    n = A.shape[-1]
    return tuple(_unpack(Eigh.apply(A, uplo=UPLO), tuple(A.shape[:-2]), [(n,), (n, n)]))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues of symmetric A, ascending;  dA = V diag(dL) V^T."""
    return eigh(A, UPLO)[0]


class SVD(Function):
    """A = U diag(S) Vh, packed (U, S, Vh); with k = min(m, n), E_jk = S_k^2 - S_j^2,
    skew(X) = X - X^T and V = Vh^T (as torch, for distinct non-zero singular values):
      dA = U [ (skew(U^T dU) S + S skew(V^T dV)) / E + diag(dS) ] Vh
           + (I - U U^T) dU S^{-1} Vh    (m > k)
           + U S^{-1} dV^T (I - V V^T)   (n > k);
    with dU = dV = 0 (singular values only: svdvals, matrix norms) dA = U diag(dS) Vh, which
    needs neither distinct nor non-zero singular values (as torch)."""

    reads_output = True

    def forward(self, a, full_matrices):
        xp = get_array_module(a)
        u, s, vh = _call("linalg.svd", lambda x: xp.linalg.svd(x, full_matrices=full_matrices),
                         a, what="not finite")
        self.shapes = [u.shape[-2:], s.shape[-1:], vh.shape[-2:]]
        return _pack([u, s, vh], a.shape[:-2])

    def backward(self, dy):
        (a,) = self.inputs
        m, n = a.shape[-2:]
        k = min(m, n)
        batch = tuple(a.shape[:-2])
        u, s, vh = _unpack(self.output, batch, self.shapes)
        du, ds, dvh = _unpack(dy, batch, self.shapes)
        if not (du.data.any() or dvh.data.any()):  # only S was used
            return u[..., :k] @ diag_embed(ds) @ vh[..., :k, :]  # (..., m, n)
        if self.shapes[0][1] != k or self.shapes[2][0] != k:
            raise NotImplementedError(
                f"linalg.svd backward: not implemented with full_matrices=True for a {m} by {n} "
                "matrix (torch ignores the gradient of the extra columns of U / rows of Vh); "
                "use full_matrices=False")
        v, dv = _mT(vh), _mT(dvh)
        eye = Tensor._wrap(_eye_like(a, k), False)
        s_row, s_col = unsqueeze(s, -2), unsqueeze(s, -1)  # S_k along columns, S_j along rows
        utdu, vtdv = _mT(u) @ du, _mT(v) @ dv  # (..., k, k)
        gap = s_row * s_row - s_col * s_col + eye  # E_jk, 1 on the diagonal
        inner = ((utdu - _mT(utdu)) * s_row + s_col * (vtdv - _mT(vtdv))) / gap
        da = u @ (inner + diag_embed(ds)) @ vh  # (..., m, n)
        if m > k:
            du_s = du / s_row  # dU S^{-1}
            da = da + (du_s - u @ (_mT(u) @ du_s)) @ vh
        if n > k:
            dv_s = dv / s_row  # dV S^{-1}
            da = da + u @ _mT(dv_s - v @ (_mT(v) @ dv_s))
        return da


def svd(A: Tensor, full_matrices: bool = True) -> tuple:  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh, S descending. ``full_matrices=True`` (torch's
    default) gives square U and Vh; then gradients through U or Vh need a square A (S alone is
    always differentiable)."""
    _check_matrix("linalg.svd", A, square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    shapes = [(m, m if full_matrices else k), (k,), (n if full_matrices else k, n)]
    return tuple(_unpack(SVD.apply(A, full_matrices=bool(full_matrices)),
                         tuple(A.shape[:-2]), shapes))


def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values, descending (..., k);  dA = U diag(dS) Vh."""
    return svd(A, full_matrices=False)[1]


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:  # noqa: N803
    """A^+ = V diag(1/S) U^T over the singular values S > max(atol, rtol * max(S)) (as torch,
    rtol defaults to eps * max(m, n), or to 0 when atol > 0); a composite of svd, so its
    gradient needs distinct non-zero singular values (torch's pinv backward does not).
    ``hermitian`` is accepted for torch's signature; the SVD serves both cases."""
    _check_matrix("linalg.pinv", A, square=False)
    m, n = A.shape[-2:]
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(A.dtype).eps * max(m, n)
    atol = 0.0 if atol is None else atol
    u, s, vh = svd(A, full_matrices=False)  # (..., m, k), (..., k), (..., k, n)
    xp = get_array_module(s.data)
    s_max = s.data[..., :1]  # (..., 1), S descending; (..., 0) when k = 0
    cutoff = xp.maximum(atol, rtol * s_max)  # (..., 1)
    keep = s.data > cutoff
    safe = s * Tensor._wrap(keep.astype(s.dtype), False) + Tensor._wrap(
        (~keep).astype(s.dtype), False)  # 1 where dropped: no division by ~0
    s_inv = Tensor._wrap(keep.astype(s.dtype), False) / safe  # (..., k)
    return _mT(vh) @ (unsqueeze(s_inv, -1) * _mT(u))  # (..., n, m)


def multi_dot(tensors) -> Tensor:
    """A_1 @ A_2 @ ... @ A_N (left to right; torch picks the cheapest order, same result up
    to rounding); the first may be 1-d (a row), the last 1-d (a column), the rest 2-d."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expects at least 2 tensors, got {len(tensors)}")
    for i, t in enumerate(tensors):
        allowed = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t.ndim not in allowed:
            raise ValueError(f"linalg.multi_dot: tensor {i} must be "
                             f"{' or '.join(f'{d}-d' for d in allowed)}, got shape "
                             f"{tuple(t.shape)}")
        if i and tensors[i - 1].shape[-1] != t.shape[0]:
            raise ValueError(f"linalg.multi_dot: tensors {i - 1} and {i} with shapes "
                             f"{tuple(tensors[i - 1].shape)} and {tuple(t.shape)} cannot be "
                             "multiplied")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """The cross product along ``dim`` (size 3; other dims broadcast)."""
    return _cross("linalg.cross", input, other, dim)


# ----------------------------------------------------------------------------------------------
# Norms
# ----------------------------------------------------------------------------------------------


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements when None); ord inf: max |x|,
    -inf: min |x|, 0: the count of non-zeros. The gradient is functional.reduce.norm's
    (0 at x = 0 for ord 2, like torch)."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"linalg.vector_norm: expected a floating-point tensor, got {got}")
    if not isinstance(ord, numbers.Real) or isinstance(ord, bool):
        raise TypeError(f"linalg.vector_norm: ord must be a number, got {ord!r} ('fro' and "
                        "'nuc' are matrix norms: linalg.matrix_norm)")
    return _p_norm(x, ord, dim, keepdim)


def _matrix_dims(op: str, A: Tensor, dim) -> tuple:  # noqa: N803
    if len(dim) != 2:
        raise ValueError(f"{op}: dim must be a 2-tuple, got {dim!r}")
    d0, d1 = (d % A.ndim if -A.ndim <= d < A.ndim else None for d in dim)
    if d0 is None or d1 is None or d0 == d1:
        raise ValueError(f"{op}: invalid dims {dim!r} for a tensor of shape {tuple(A.shape)}")
    return d0, d1


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False) -> Tensor:  # noqa: A002,N803
    """The matrix norm over the dims ``dim``: 'fro' sqrt(sum a_ij^2), 'nuc' sum of singular
    values, 2 / -2 the largest / smallest singular value, 1 / -1 the max / min column sum of
    |a_ij|, inf / -inf the max / min row sum; gradients those of the composite."""
    _check_matrix("linalg.matrix_norm", A, square=False)
    d0, d1 = _matrix_dims("linalg.matrix_norm", A, tuple(dim))
    if ord == "fro":
        return _p_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))  # (..., k)
        if ord == "nuc" or (ord == 2 and s.shape[-1] == 0):  # no singular value: 0, as torch
            y = _sum(s, -1)
        else:
            y = amax(s, -1) if ord == 2 else amin(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                y = unsqueeze(y, d)
        return y
    if ord in (1, -1, math.inf, -math.inf):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _sum(abs(A), inner, True)  # the column (ord 1) or row (ord inf) sums
        if ord > 0 and A.shape[outer] == 0:
            pick = _sum  # no column (row) at all: 0, as torch
        else:
            pick = amax if ord > 0 else amin
        y = pick(sums, outer, True)
        return y if keepdim else squeeze(y, (d0, d1))
    raise ValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or "
                     f"-inf, got {ord!r}")


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002,N803
    """torch.linalg.norm: a vector norm when ``dim`` is an int (or 1-tuple), a matrix norm when
    it is a 2-tuple; with dim=None, ord=None the 2-norm of the flattened tensor, else A must
    be 1-d (vector norm) or 2-d (matrix norm)."""
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(ord, str):  # 'fro', 'nuc': matrix norms whatever dim is, as torch
        if dim is None and A.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: with ord={ord!r} and dim=None, A must be 1-d or "
                             f"2-d, got shape {tuple(A.shape)}")
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim)
        raise ValueError(f"linalg.norm: dim must be an int or a 1- or 2-tuple, got {dim!r}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim)
    raise ValueError(f"linalg.norm: with ord={ord!r} and dim=None, A must be 1-d or 2-d, got "
                     f"shape {tuple(A.shape)}")
