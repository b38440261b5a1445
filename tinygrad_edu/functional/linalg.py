"""Matrix multiplication: 1-d, 2-d and batched with broadcast batch dimensions; linear; einsum."""

from __future__ import annotations

import math
import string

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import operands, where
from .shape import broadcast_to, cat, narrow, reshape, sum_to, transpose


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


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b with W of shape (out_features, in_features), like torch."""
    xd, wd = input.data, weight.data  # the arrays: their shapes and dtypes are cheaper to read
    if xd.shape[-1] != wd.shape[-1]:
        raise ValueError(
            f"linear: input has {xd.shape[-1]} features but weight expects {wd.shape[-1]} "
            f"(x: {tuple(xd.shape)}, weight: {tuple(wd.shape)})"
        )
    plain = wd.ndim == 2 and xd.dtype == wd.dtype and xd.dtype.kind == "f" and (
        bias is None or (bias.data.shape == wd.shape[:1] and bias.data.dtype == wd.dtype))
    if plain:  # the usual layer: one fused op
        return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)
    y = matmul(input, transpose(weight, 0, 1))  # (..., out_features)
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


# ----------------------------------------------------------------------------------------------
# einsum
# ----------------------------------------------------------------------------------------------


class Einsum(Function):
    """y = einsum(equation, x_1, ..., x_n): multiply the operands' elements that share a
    subscript letter, sum over the letters missing from the output ('ij,jk->ik' is matmul,
    'ii->i' a diagonal, 'ij->' a sum, 'i,j->ij' an outer product).

    dx_k = einsum of dy (subscripts: the output's) and the other operands into x_k's
    subscripts: the same product with x_k left out, summed over every letter x_k lacks.
    Two cases need more than one einsum call, since an einsum output names each letter once
    and only letters some operand has:

    - a letter only x_k has (summed in x_k alone, 'ij->i'): y does not depend on where along
      it an element sits, so the gradient is the same along it: broadcast back;
    - a letter repeated in x_k (its diagonal, 'ii->i'): only the diagonal elements were read,
      so the gradient sits on that diagonal and is 0 off it.

    The equation here is already checked, with every letter of one size (``einsum`` below
    expands ellipses into letters and drops size-1 dimensions that broadcast).
    """

    def forward(self, *arrays, subscripts, output):
        self.subscripts, self.output_subscripts = subscripts, output
        xp = get_array_module(arrays[0])
        equation = ",".join(subscripts) + "->" + output
        return xp.asarray(xp.einsum(equation, *arrays, optimize=len(arrays) > 1))

    def backward(self, dy):
        return tuple(self._operand_grad(k, dy) if needed else None
                     for k, needed in enumerate(self.needs_input_grad))

    def _operand_grad(self, k: int, dy: Tensor) -> Tensor:
        x, sub = self.inputs[k], self.subscripts[k]
        letters = "".join(dict.fromkeys(sub))  # x_k's letters, each once, in order
        others = [dy] + [t for i, t in enumerate(self.inputs) if i != k]
        other_subs = (self.output_subscripts,) + tuple(
            s for i, s in enumerate(self.subscripts) if i != k)
        elsewhere = set("".join(other_subs))
        kept = "".join(c for c in letters if c in elsewhere)
        g = Einsum.apply(*others, subscripts=other_subs, output=kept)  # (kept letters)
        size = {c: x.shape[sub.index(c)] for c in letters}
        if kept != letters:  # letters only x_k has: the same gradient all along them
            g = broadcast_to(reshape(g, [size[c] if c in kept else 1 for c in letters]),
                             [size[c] for c in letters])  # (letters)
        if letters != sub:  # a repeated letter: the gradient on the diagonal, 0 off it
            first = [sub.index(c) == a for a, c in enumerate(sub)]
            g = reshape(g, [n if f else 1 for n, f in zip(x.shape, first)])  # (x's dims)
            g = g * _diagonal_mask(sub, x.shape, get_array_module(x.data), x.dtype)
        return g


def _diagonal_mask(sub: str, shape: tuple, xp, dtype):
    """1 where every letter repeated in ``sub`` has equal indices on all its axes, else 0;
    its shape broadcasts against the gradient of ``Einsum._operand_grad`` to ``shape``."""
    mask = xp.ones((1,) * len(shape), dtype=bool)
    for a, c in enumerate(sub):
        a0 = sub.index(c)
        if a0 != a:  # axis a repeats axis a0's letter: keep i_a == i_a0
            n = shape[a]
            i0 = xp.arange(n).reshape([n if i == a0 else 1 for i in range(len(shape))])
            i1 = xp.arange(n).reshape([n if i == a else 1 for i in range(len(shape))])
            mask = mask & (i0 == i1)
    return mask.astype(dtype)


_LETTERS = string.ascii_letters


def _einsum_term(term: str, fail) -> tuple:
    """(letters before the ellipsis, has an ellipsis, letters after it) of one subscript term."""
    if term.count("...") > 1:
        raise fail(f"{term!r} has more than one ellipsis '...'")
    before, ellipsis, after = term.partition("...")
    for c in before + after:
        if c == ".":
            raise fail(f"{term!r} has a '.' that is not part of an ellipsis '...'")
        if c not in _LETTERS:
            raise fail(f"invalid subscript {c!r} in {term!r}: subscripts must be letters "
                       "a-z or A-Z")
    return before, bool(ellipsis), after


def _parse_einsum(equation: str, shapes: list) -> tuple:
    """Check ``equation`` against the operand shapes; return (one subscript string per
    operand, the output subscripts, the operands' shapes) with every ellipsis replaced by
    letters of its own and the size-1 dimensions that broadcast dropped, so that each letter
    has one size."""

    def fail(problem: str) -> ValueError:
        shown = ", ".join(str(tuple(s)) for s in shapes)
        return ValueError(f"einsum: {problem} (equation {equation!r}, operand shapes [{shown}])")

    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise fail("'->' appears more than once")
    terms = [_einsum_term(t, fail) for t in lhs.split(",")]
    if len(terms) != len(shapes):
        raise fail(f"the equation has subscripts for {len(terms)} operand(s) but "
                   f"{len(shapes)} operand(s) were given")
    # each ellipsis covers the dims its operand has beyond its letters, right-aligned
    ellipsis_ndims = []
    for i, ((before, ellipsis, after), shape) in enumerate(zip(terms, shapes)):
        named = len(before) + len(after)
        if len(shape) != named and not (ellipsis and len(shape) > named):
            raise fail(f"operand {i} has {len(shape)} dimension(s) but its subscripts "
                       f"{before + '...' * ellipsis + after!r} name {named}"
                       + ("" if ellipsis else " and it has no ellipsis '...'"))
        ellipsis_ndims.append(len(shape) - named)
    free = [c for c in _LETTERS if c not in eq]
    n_ellipsis = max(ellipsis_ndims, default=0)
    if n_ellipsis > len(free):
        raise fail("the ellipsis covers more dimensions than there are unused letters")
    ellipsis_letters = "".join(free[:n_ellipsis])
    subs = [before + ellipsis_letters[n_ellipsis - e:] + after
            for (before, _, after), e in zip(terms, ellipsis_ndims)]
    named_letters = "".join(before + after for before, _, after in terms)
    if arrow:
        before, ellipsis, after = _einsum_term(rhs, fail)
        output = before + ellipsis_letters * ellipsis + after
        for c in before + after:
            if (before + after).count(c) > 1:
                raise fail(f"output subscript {c!r} appears more than once in the output")
            if c not in named_letters:
                raise fail(f"output subscript {c!r} does not appear in the subscripts of any "
                           "operand")
    else:  # implicit: the ellipsis dims, then the letters used once, in alphabetical order
        once = sorted(c for c in set(named_letters) if named_letters.count(c) == 1)
        output = ellipsis_letters + "".join(once)
    return (*_broadcast_letters(subs, shapes, ellipsis_letters, fail), output)


def _broadcast_letters(subs: list, shapes: list, ellipsis_letters: str, fail) -> tuple:
    """Each letter's size is the one its operands agree on, where size 1 broadcasts (like
    torch); the size-1 dimensions that broadcast are dropped from their operand."""
    size: dict = {}
    for i, (sub, shape) in enumerate(zip(subs, shapes)):
        for a, (c, n) in enumerate(zip(sub, shape)):
            what = "an ellipsis dimension" if c in ellipsis_letters else f"subscript {c!r}"
            if sub.index(c) != a:  # a letter repeated in one operand: no broadcasting
                if n != shape[sub.index(c)]:
                    raise fail(f"subscript {c!r} is repeated in operand {i} but its dimensions "
                               f"differ in size ({shape[sub.index(c)]} != {n})")
            elif size.get(c, 1) == 1:
                size[c] = n
            elif n not in (1, size[c]):
                raise fail(f"{what} has size {n} in operand {i}, which does not broadcast "
                           f"with size {size[c]} of the operands before (sizes must be equal "
                           "or 1)")
    new_subs, new_shapes = [], []
    for sub, shape in zip(subs, shapes):
        keep = [a for a, (c, n) in enumerate(zip(sub, shape)) if n == size[c]]
        new_subs.append("".join(sub[a] for a in keep))
        new_shapes.append(tuple(shape[a] for a in keep))
    return tuple(new_subs), new_shapes


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, like torch.einsum: ``einsum('ij,jk->ik', a, b)`` is ``a @ b``.

    Operands may also come as one list (``einsum('ij,jk', [a, b])``). Without '->' the output
    is the ellipsis dims, then the letters used once, in alphabetical order. '...' stands for
    the leading dims (broadcast, right-aligned), and a size-1 dim broadcasts against its
    letter's size in the other operands. All operands must have the same dtype, as in torch.

    >>> import tinygrad_edu as tg
    >>> a = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> einsum('ii', a).item(), einsum('ij->j', a).tolist(), einsum('ij,jk', a, a).tolist()
    (5.0, [4.0, 6.0], [[7.0, 10.0], [15.0, 22.0]])
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError(f"einsum: expected at least one operand (equation {equation!r})")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} must be a Tensor, got {type(t).__name__}")
    dtypes = [t.dtype for t in operands]
    if any(d != dtypes[0] for d in dtypes):
        shown = ", ".join(f"{d} (operand {i})" for i, d in enumerate(dtypes))
        raise TypeError(f"einsum: all operands must have the same dtype, got {shown}; cast "
                        "them first, e.g. with .double()")
    subs, shapes, output = _parse_einsum(equation, [tuple(t.shape) for t in operands])
    operands = [t if tuple(t.shape) == s else reshape(t, s) for t, s in zip(operands, shapes)]
    return Einsum.apply(*operands, subscripts=subs, output=output)


# ----------------------------------------------------------------------------------------------
# More matrix products (torch names): addmm, addmv, addr, baddbmm, addbmm, dot, vdot, inner,
# mv, kron, cross; diagonals: diagonal, diag_embed, diag, diagflat, trace
# ----------------------------------------------------------------------------------------------


def _need_ndim(op: str, **tensors) -> None:
    """Raise unless each named tensor has the given number of dims: _need_ndim("mv", mat=(m, 2))."""
    for name, (t, ndim) in tensors.items():
        if t.ndim != ndim:
            raise ValueError(f"{op}: {name} must be {ndim}-d, got shape {tuple(t.shape)}")


def _scaled_sum(op: str, input, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product, as torch: with beta == 0 ``input`` is ignored (its NaN
    and inf do not propagate), and ``input`` must broadcast to the product's shape."""
    out = product if alpha == 1 else product * alpha
    shape = tuple(product.shape)
    in_shape = tuple(input.shape) if isinstance(input, Tensor) else np.shape(input)
    try:
        fits = np.broadcast_shapes(in_shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: input of shape {in_shape} does not broadcast to the product's "
                         f"shape {shape}")
    if beta == 0:  # input is ignored, its NaN and inf too, as in torch
        if isinstance(input, Tensor) and input.requires_grad:
            out = out + where(False, input, 0.0)  # ... and gets a zero gradient, as in torch
        return out
    return out + (input if beta == 1 else input * beta)


def addmm(input, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2) with mat1 (n, m), mat2 (m, p), input broadcast to
    (n, p); gradients those of the sum and of matmul."""
    _need_ndim("addmm", mat1=(mat1, 2), mat2=(mat2, 2))
    return _scaled_sum("addmm", input, matmul(mat1, mat2), beta, alpha)


def addmv(input, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat @ vec) with mat (n, m), vec (m,), input broadcast to (n,)."""
    _need_ndim("addmv", mat=(mat, 2), vec=(vec, 1))
    return _scaled_sum("addmv", input, matmul(mat, vec), beta, alpha)


def addr(input, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * outer(vec1, vec2) with vec1 (n,), vec2 (m,), input to (n, m)."""
    _need_ndim("addr", vec1=(vec1, 1), vec2=(vec2, 1))
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * bmm(batch1, batch2): (B, n, m) @ (B, m, p), input to (B, n, p)."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: (B, n, m), (B, m, p) -> (n, p)."""
    return _scaled_sum("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha)  # (n, p)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """sum_i a_i b_i of two 1-d tensors of one size (no broadcasting, like torch.dot)."""
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expects two 1-d tensors of the same size, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    return matmul(a, b)


def vdot(a: Tensor, b: Tensor) -> Tensor:
    """conj(a) . b; the same as dot for the real tensors of this library."""
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"vdot: expects two 1-d tensors of the same size, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def inner(a: Tensor, b: Tensor) -> Tensor:
    """Sum over the last dims: out[i..., j...] = sum_k a[i..., k] b[j..., k], of shape
    a.shape[:-1] + b.shape[:-1]; a 0-d operand multiplies instead (torch.inner)."""
    a, b = operands("inner", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last dims differ: {tuple(a.shape)} and {tuple(b.shape)}")
    k = a.shape[-1]
    rows_a, rows_b = math.prod(a.shape[:-1]), math.prod(b.shape[:-1])  # not -1: K may be 0
    y = matmul(reshape(a, rows_a, k), transpose(reshape(b, rows_b, k), 0, 1))  # (A, K) @ (K, B)
    return reshape(y, tuple(a.shape[:-1]) + tuple(b.shape[:-1]))


def mv(mat: Tensor, vec: Tensor) -> Tensor:
    """mat (n, m) @ vec (m,) -> (n,)."""
    _need_ndim("mv", mat=(mat, 2), vec=(vec, 1))
    return matmul(mat, vec)


def kron(a: Tensor, b: Tensor) -> Tensor:
    """Kronecker product: out[i_k * B_k + j_k, ...] = a[i, ...] * b[j, ...]; the operand with
    fewer dims gets leading 1s. As a broadcast product: a (A0, 1, A1, 1, ...) times
    b (1, B0, 1, B1, ...), then each pair of dims merged, so the gradients are those of mul."""
    a, b = operands("kron", a, b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + tuple(a.shape)
    sb = (1,) * (nd - b.ndim) + tuple(b.shape)
    a2 = reshape(a, [d for n in sa for d in (n, 1)])  # (A0, 1, A1, 1, ...)
    b2 = reshape(b, [d for n in sb for d in (1, n)])  # (1, B0, 1, B1, ...)
    return reshape(a2 * b2, [m * n for m, n in zip(sa, sb)])  # (A0 B0, A1 B1, ...)


def _cross(op: str, a: Tensor, b: Tensor, dim: int) -> Tensor:
    """c = a x b along ``dim`` (size 3; the other dims broadcast):
    c_0 = a_1 b_2 - a_2 b_1,  c_1 = a_2 b_0 - a_0 b_2,  c_2 = a_0 b_1 - a_1 b_0;
    gradients those of the products (da = b x dc, db = dc x a)."""
    a, b = operands(op, a, b)
    if a.ndim != b.ndim:
        raise ValueError(f"{op}: input and other must have the same number of dims, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    dim = _axis(op, dim, a.ndim)
    if a.shape[dim] != 3 or b.shape[dim] != 3:  # both: no broadcasting along dim (torch)
        raise ValueError(f"{op}: dim {dim} must have size 3 in both inputs, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    try:
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                         "broadcast") from None
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    a0, a1, a2 = (narrow(a, dim, i, 1) for i in range(3))
    b0, b1, b2 = (narrow(b, dim, i, 1) for i in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:  # noqa: A002 - torch names
    """torch.cross: the cross product along ``dim``; without ``dim`` along the first dim of
    size 3 of ``input`` (torch's deprecated default, which warns there)."""
    if dim is None:
        sizes = [i for i, n in enumerate(input.shape) if n == 3]
        if not sizes:
            raise ValueError(f"cross: no dimension of size 3 in input {tuple(input.shape)} "
                             f"(other: {tuple(other.shape)})")
        dim = sizes[0]
    return _cross("cross", input, other, dim)


def _diagonal_index(n1: int, n2: int, offset: int, xp) -> tuple:
    """(rows, cols) of the ``offset`` diagonal of an (n1, n2) matrix."""
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    i = xp.arange(length)
    return i + max(-offset, 0), i + max(offset, 0)


def _axis(op: str, dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for {ndim} dims")
    return dim % ndim


class Diagonal(Function):
    """y[..., i] = x[..., r_i, c_i] on dims (dim1, dim2), the ``offset`` diagonal (moved to
    the end, like torch.diagonal);  dx = dy placed on that diagonal, 0 elsewhere (diag_embed)."""

    reads_inputs = False  # only the shape

    def forward(self, x, offset, dim1, dim2):
        self.args = (offset, dim1, dim2, x.shape[dim1], x.shape[dim2])
        xp = get_array_module(x)
        rows, cols = _diagonal_index(x.shape[dim1], x.shape[dim2], offset, xp)
        x = xp.moveaxis(x, (dim1, dim2), (-2, -1))  # (..., n1, n2)
        return x[..., rows, cols]  # (..., L), a copy

    def backward(self, dy):
        offset, dim1, dim2, n1, n2 = self.args
        return DiagEmbed.apply(dy, offset=offset, dim1=dim1, dim2=dim2, n1=n1, n2=n2)


class DiagEmbed(Function):
    """y (zeros, dims dim1 and dim2 of sizes n1, n2 inserted) with y[..., r_i, c_i] = x[..., i]
    on the ``offset`` diagonal;  dx = the same diagonal of dy (Diagonal)."""

    reads_inputs = False

    def forward(self, x, offset, dim1, dim2, n1, n2):
        self.args = (offset, dim1, dim2)
        xp = get_array_module(x)
        rows, cols = _diagonal_index(n1, n2, offset, xp)
        y = xp.zeros(x.shape[:-1] + (n1, n2), dtype=x.dtype)  # (..., n1, n2)
        y[..., rows, cols] = x
        return xp.moveaxis(y, (-2, -1), (dim1, dim2))

    def backward(self, dy):
        offset, dim1, dim2 = self.args
        return Diagonal.apply(dy, offset=offset, dim1=dim1, dim2=dim2)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The ``offset`` diagonal of the matrices on dims (dim1, dim2), appended as the last dim
    (offset > 0 above the main diagonal, < 0 below), like torch.diagonal (a copy here)."""
    d1, d2 = _axis("diagonal", dim1, input.ndim), _axis("diagonal", dim2, input.ndim)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 cannot be the same dim ({dim1}, {dim2})")
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Matrices with the last dim of ``input`` on their ``offset`` diagonal, on new dims
    (dim1, dim2) of size n + |offset|, like torch.diag_embed."""
    nd = input.ndim + 1
    d1, d2 = _axis("diag_embed", dim1, nd), _axis("diag_embed", dim2, nd)
    if d1 == d2:
        raise ValueError(f"diag_embed: dim1 and dim2 cannot be the same dim ({dim1}, {dim2})")
    if input.ndim == 0:
        raise ValueError("diag_embed: input must have at least 1 dim, got a 0-d tensor")
    n = input.shape[-1] + abs(int(offset))
    return DiagEmbed.apply(input, offset=int(offset), dim1=d1, dim2=d2, n1=n, n2=n)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """torch.diag: a 1-d input becomes a square matrix with it on the ``diagonal`` diagonal; a
    2-d input gives that diagonal as a 1-d tensor."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=int(diagonal), dim1=0, dim2=1)
    raise ValueError(f"diag: expects a 1-d or 2-d tensor, got shape {tuple(input.shape)}")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """A square matrix with the flattened input on its ``offset`` diagonal."""
    return diag_embed(reshape(input, -1), offset, 0, 1)


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """sum_i x[i, i] of a 2-d tensor (rectangular allowed);  dx = dy on the diagonal."""
    _need_ndim("trace", input=(input, 2))
    return Diagonal.apply(input, offset=0, dim1=0, dim2=1).sum()
