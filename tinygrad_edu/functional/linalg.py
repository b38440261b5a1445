"""Matrix multiplication: 1-d, 2-d and batched with broadcast batch dimensions."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import operands
from .shape import reshape, sum_to, transpose


def _product(a, b):
    """a (..., K) @ b (K, N) on arrays (``a``'s leading dims are rows): the Numba GEMM for
    NumPy float arrays under the Numba kernels (``backend.cpu_matmul``: on AVX-512 CPUs about
    twice NumPy's BLAS at the sizes of layers), else ``@``. Tensors multiply with ``@`` too,
    so the backward formulas below read the same on Tensors (create_graph) and on arrays."""
    mm = backend.cpu_matmul(a, b)
    if mm is None or b.ndim != 2 or a.ndim < 2:
        return a @ b
    if a.ndim == 2:
        return mm(a, b)
    return mm(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])  # rows


class MatMul(Function):
    """Y = A @ B;  dA = dY @ B^T,  dB = A^T @ dY  (summed over broadcast batch dims).

    Tensors and arrays share ``@``, ``.T``, ``.reshape`` and ``.sum``, so a backward that
    records no graph (first order) runs the same lines on the arrays: no graph node per
    product, which for small layers costs more than the product itself.

    1-d operands are treated as a row (A) or a column (B) vector and the extra dim is removed
    again, exactly like ``numpy.matmul``.
    """

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, a, b):
        if a.ndim == 2 and b.ndim == 2:
            return _product(a, b)
        return get_array_module(a).matmul(a, b)

    def backward(self, dy):
        a, b = self.inputs
        if a.ndim == 2 and b.ndim == 2:  # plain matrices: no batch dims to sum, no 1-d dims
            if not isinstance(dy, Tensor):  # first order: the same formulas on the arrays
                a, b = a.data, b.data
            da = _product(dy, b.T) if self.needs_input_grad[0] else None  # (M, K)
            db = _product(a.T, dy) if self.needs_input_grad[1] else None  # (K, N)
            return da, db
        if not isinstance(dy, Tensor):
            dy = Tensor._wrap(dy, False)  # the batched formulas below are Tensor ops
        a2 = a if a.ndim > 1 else reshape(a, 1, -1)  # (..., M, K)
        b2 = b if b.ndim > 1 else reshape(b, -1, 1)  # (..., K, N)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        dy = reshape(dy, batch + (a2.shape[-2], b2.shape[-1]))  # (..., M, N), 1-d dims back
        da = db = None
        if self.needs_input_grad[0]:
            da = reshape(sum_to(dy @ transpose(b2, -1, -2), a2.shape), a.shape)  # (..., M, K)
        if self.needs_input_grad[1]:
            db = reshape(sum_to(transpose(a2, -1, -2) @ dy, b2.shape), b.shape)  # (..., K, N)
        return da, db


def _matmul_error(a: Tensor, b: Tensor) -> str | None:
    if a.ndim == 0 or b.ndim == 0:
        return "both arguments to matmul need to be at least 1-d"
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return f"inner dimensions {k_a} and {k_b} differ"
    return None


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with numpy.matmul semantics (batch dims broadcast)."""
    a, b = operands("matmul", a, b)
    problem = _matmul_error(a, b)
    if problem is None:
        try:
            return MatMul.apply(a, b)
        except ValueError:
            problem = "batch dimensions cannot be broadcast together"
    raise ValueError(
        f"matmul: cannot multiply shapes {tuple(a.shape)} and {tuple(b.shape)}: {problem}"
    )


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects 2-d tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expects 3-d tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    return matmul(reshape(a, -1, 1), reshape(b, 1, -1))


class Linear(Function):
    """y = x W^T + b  with x (..., in), W (out, in), b (out,);
    dx = dy W,  dW = dy^T x,  db = dy summed over the leading dims
    (x and dy are seen as (rows, in) and (rows, out) matrices: dW and db sum over every row).

    The same as ``matmul(x, transpose(W)) + b``, as one op: one graph node instead of three,
    BLAS reads W^T without a transposed copy, and dW comes out in W's own (out, in) layout.
    """

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x, weight, *bias):
        y = _product(x, weight.T)  # (..., out)
        if bias:
            y += bias[0]  # y is a fresh array: add the bias in place
        return y

    def backward(self, dy):
        x, weight = self.inputs[0], self.inputs[1]
        if not isinstance(dy, Tensor):  # first order: the same formulas on the arrays
            x, weight = x.data, weight.data
        needs = self.needs_input_grad
        dx = _product(dy, weight) if needs[0] else None  # (..., out) @ (out, in) -> (..., in)
        if x.ndim != 2:
            x, dy = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])  # rows
        dw = _product(dy.T, x) if needs[1] else None  # (out, rows) @ (rows, in)
        if len(needs) == 2:
            return dx, dw
        db = dy.sum(0) if needs[2] else None  # (out,)
        return dx, dw, db


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b with W of shape (out_features, in_features), like torch."""
    xd, wd = x.data, weight.data  # the arrays: their shapes and dtypes are cheaper to read
    if xd.shape[-1] != wd.shape[-1]:
        raise ValueError(
            f"linear: input has {xd.shape[-1]} features but weight expects {wd.shape[-1]} "
            f"(x: {tuple(xd.shape)}, weight: {tuple(wd.shape)})"
        )
    plain = wd.ndim == 2 and xd.dtype == wd.dtype and xd.dtype.kind == "f" and (
        bias is None or (bias.data.shape == wd.shape[:1] and bias.data.dtype == wd.dtype))
    if plain:  # the usual layer: one fused op
        return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)
    y = matmul(x, transpose(weight, 0, 1))  # (..., out_features)
    if bias is None:
        return y
    _check_linear_bias(bias, y, weight)
    return y + bias


def _check_linear_bias(bias: Tensor, y: Tensor, weight: Tensor) -> None:
    """The bias is added to y (..., out_features): (out_features,) or, as torch allows, any
    shape that broadcasts to y's without growing it."""
    try:
        fits = np.broadcast_shapes(tuple(y.shape), tuple(bias.shape)) == tuple(y.shape)
    except ValueError:
        fits = False
    if not fits:
        out_features = weight.shape[0] if weight.ndim == 2 else y.shape[-1]
        raise ValueError(
            f"linear: bias must have shape (out_features,) = ({out_features},) (or broadcast to "
            f"the output {tuple(y.shape)}), got {tuple(bias.shape)} (weight: "
            f"{tuple(weight.shape)})"
        )
