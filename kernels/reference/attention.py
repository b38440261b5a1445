"""Scaled dot-product attention and row softmax -- plain NumPy reference (the test oracle).

Notation: B batch, nh heads, Tq queries, Tk keys, hs head size.

Forward, per (b, h)::

    S   = scale * Q @ K^T + M            # (Tq, Tk)  M: additive mask (0 or -inf), causal -> -inf
    P   = softmax(S, axis=-1)            # (Tq, Tk)
    O   = P @ V                          # (Tq, hs)
    lse = log(sum_j exp(S_ij))           # (Tq,)     saved for the backward of the fast kernels

Backward, with dO the upstream gradient::

    dV = P^T @ dO                        # (Tk, hs)
    dP = dO @ V^T                        # (Tq, Tk)
    dS = P * (dP - rowsum(P * dP))       # (Tq, Tk)  softmax backward
    dQ = scale * dS @ K                  # (Tq, hs)
    dK = scale * dS^T @ Q                # (Tk, hs)

The fast kernels use ``rowsum(P * dP) = rowsum(dO * O)`` (called D) and rebuild P from the
saved ``lse`` as ``P = exp(S - lse)``; this file does neither, so that it checks them.

Rows whose keys are all masked: output 0, ``lse = -inf`` and zero gradients.
(``torch.nn.functional.scaled_dot_product_attention`` returns NaN for such rows.)

This file also holds the argument checks shared by the ``cpu`` and ``cuda`` versions.
"""

import math

import numpy as np

from .. import FLOAT_DTYPES

# ----------------------------------------------------------------------------------------------
# argument checks (shared by reference, cpu and cuda)
# ----------------------------------------------------------------------------------------------


def _describe(**arrays):
    """'q: (2, 4, 8, 64) float32, k: ...' for error messages."""
    return ", ".join(f"{name}: {tuple(a.shape)} {a.dtype}" for name, a in arrays.items())


def check_attention_args(name, q, k, v, mask=None, is_causal=False, scale=None):
    """Validate the forward arguments; return ``scale`` as a Python float.

    q: (B, nh, Tq, hs); k, v: (B, nh, Tk, hs); all three the same float32/float64 dtype.
    mask: None or a float array broadcastable to (B, nh, Tq, Tk) (zero strides are fine).
    """
    arrays = {"q": q, "k": k, "v": v}
    for arg, a in arrays.items():
        if not hasattr(a, "shape") or not hasattr(a, "dtype"):
            raise TypeError(f"{name}: {arg} must be an array, got {type(a).__name__}")
        if a.ndim != 4:
            raise ValueError(
                f"{name}: {arg} must be 4-D (B, nh, T, hs) but has {a.ndim} dims "
                f"({_describe(**arrays)})"
            )
        if np.dtype(a.dtype) not in FLOAT_DTYPES:
            raise TypeError(
                f"{name}: {arg} must be float32 or float64 but is {a.dtype} ({_describe(**arrays)})"
            )
        if 0 in tuple(a.shape):
            raise ValueError(f"{name}: {arg} has a zero-length dimension ({_describe(**arrays)})")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{name}: q, k and v must share one dtype ({_describe(**arrays)})")
    B, nh, Tq, hs = q.shape
    if tuple(k.shape[:2]) != (B, nh) or tuple(v.shape[:2]) != (B, nh):
        raise ValueError(
            f"{name}: q, k and v must agree on (B, nh) = {(B, nh)} ({_describe(**arrays)})"
        )
    if k.shape[3] != hs:
        raise ValueError(
            f"{name}: q has head size {hs} but k has {k.shape[3]} "
            f"(q: {tuple(q.shape)}, k: {tuple(k.shape)})"
        )
    if v.shape[3] != hs:
        raise ValueError(
            f"{name}: q has head size {hs} but v has {v.shape[3]} "
            f"(q: {tuple(q.shape)}, v: {tuple(v.shape)})"
        )
    if v.shape[2] != k.shape[2]:
        raise ValueError(
            f"{name}: k has {k.shape[2]} keys but v has {v.shape[2]} "
            f"(k: {tuple(k.shape)}, v: {tuple(v.shape)})"
        )
    Tk = k.shape[2]
    if mask is not None:
        if not hasattr(mask, "shape") or not hasattr(mask, "dtype"):
            raise TypeError(f"{name}: mask must be an array or None, got {type(mask).__name__}")
        if np.dtype(mask.dtype) == np.bool_:
            raise TypeError(
                f"{name}: mask must be an additive float mask; convert a boolean mask "
                f"(True = take part) first, e.g. np.where(mask, 0.0, -np.inf) "
                f"(mask: {tuple(mask.shape)} bool)"
            )
        if np.dtype(mask.dtype).kind != "f":
            raise TypeError(f"{name}: mask must be a float array but is {mask.dtype}")
        target = (B, nh, Tq, Tk)
        ok = mask.ndim <= 4
        if ok:
            try:
                ok = np.broadcast_shapes(tuple(mask.shape), target) == target
            except ValueError:
                ok = False
        if not ok:
            raise ValueError(
                f"{name}: mask of shape {tuple(mask.shape)} does not broadcast to "
                f"(B, nh, Tq, Tk) = {target}"
            )
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{name}: is_causal must be a bool, got {type(is_causal).__name__}")
    if scale is None:
        return 1.0 / math.sqrt(hs)
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"{name}: scale must be finite, got {scale}")
    return scale


def check_attention_backward_args(name, dout, q, k, v, out, lse, mask, is_causal, scale):
    """Validate the backward arguments (forward ones plus dout, out, lse); return ``scale``."""
    scale = check_attention_args(name, q, k, v, mask, is_causal, scale)
    B, nh, Tq, hs = q.shape
    expected = (
        ("dout", dout, (B, nh, Tq, hs)),
        ("out", out, (B, nh, Tq, hs)),
        ("lse", lse, (B, nh, Tq)),
    )
    for arg, a, shape in expected:
        if not hasattr(a, "shape") or not hasattr(a, "dtype"):
            raise TypeError(f"{name}: {arg} must be an array, got {type(a).__name__}")
        if tuple(a.shape) != tuple(shape):
            raise ValueError(
                f"{name}: {arg} must have shape {tuple(shape)} but has {tuple(a.shape)} "
                f"({_describe(q=q, **{arg: a})})"
            )
        if a.dtype != q.dtype:
            raise TypeError(f"{name}: {arg} must have the dtype of q ({q.dtype}) but is {a.dtype}")
    return scale


def check_softmax_args(name, x):
    """x: any shape with at least one axis, float32 or float64."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name}: x must be an array, got {type(x).__name__}")
    if x.ndim == 0:
        raise ValueError(f"{name}: x must have at least one axis (x: {tuple(x.shape)})")
    if np.dtype(x.dtype) not in FLOAT_DTYPES:
        raise TypeError(f"{name}: x must be float32 or float64 but is {x.dtype}")


def compact_mask(mask):
    """The 4-D core of a broadcastable mask: a view, no copy (NumPy or CuPy).

    Prepends length-1 axes up to 4 dims and cuts every zero-stride (broadcast) axis to length 1,
    so that ``np.broadcast_to(m, (B, nh, Tq, Tk))`` gives back ``m`` itself. The fast kernels
    take this small array and broadcast its length-1 axes while reading it.
    """
    mask = mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape))
    index = tuple(
        slice(0, 1) if stride == 0 and size > 1 else slice(None)
        for size, stride in zip(mask.shape, mask.strides, strict=True)
    )
    return mask[index]


# ----------------------------------------------------------------------------------------------
# reference implementation
# ----------------------------------------------------------------------------------------------


def _scores(q, k, mask, is_causal, scale):
    """S = scale * Q @ K^T + mask, with -inf above the diagonal when causal.  (B, nh, Tq, Tk)"""
    Tq, Tk = q.shape[2], k.shape[2]
    s = scale * (q @ k.swapaxes(-1, -2))  # (B, nh, Tq, hs) @ (B, nh, hs, Tk) -> (B, nh, Tq, Tk)
    if mask is not None:
        s = s + np.asarray(mask).astype(q.dtype)
    if is_causal:
        allowed = np.tril(np.ones((Tq, Tk), dtype=bool))  # query i sees keys j <= i
        s = np.where(allowed, s, -np.inf)
    return s.astype(q.dtype)


def _softmax(s):
    """Row softmax and its logsumexp; rows that are all -inf give 0 and -inf."""
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf row: exp(-inf - 0) = 0, no NaN
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        lse = (m + np.log(total))[..., 0]  # log(0) = -inf for fully masked rows
    # only a fully masked row has total 0; a NaN total (a NaN score) must stay NaN, as in torch
    p = e / np.where(total == 0, 1.0, total)
    return p.astype(s.dtype), lse.astype(s.dtype)


def attention_forward(q, k, v, mask=None, is_causal=False, scale=None):
    """Scaled dot-product attention: ``O = softmax(scale * Q K^T + mask) V``.

    q: (B, nh, Tq, hs), k and v: (B, nh, Tk, hs), float32 or float64.
    mask: None or an additive float mask broadcastable to (B, nh, Tq, Tk) (0 = keep, -inf = drop).
    is_causal: query i attends keys j <= i (``tril(ones(Tq, Tk))``, top-left aligned).
    scale: defaults to ``1 / sqrt(hs)``.
    Returns ``(out, lse)``: out (B, nh, Tq, hs) and lse (B, nh, Tq) = logsumexp_j S_ij.
    Rows with every key masked give out = 0 and lse = -inf (torch gives NaN).

    >>> q = np.ones((1, 1, 2, 4))  # (B, nh, T, hs)
    >>> v = np.arange(8.0).reshape(1, 1, 2, 4)
    >>> out, lse = attention_forward(q, q, v)
    >>> out[0, 0, 0]  # equal scores -> the mean of the two value rows
    array([2., 3., 4., 5.])
    >>> np.allclose(lse, 2.0 + np.log(2.0))  # both scores are (q . k) / sqrt(4) = 2
    True
    """
    scale = check_attention_args("attention_forward", q, k, v, mask, is_causal, scale)
    s = _scores(q, k, mask, is_causal, scale)  # (B, nh, Tq, Tk)
    p, lse = _softmax(s)  # (B, nh, Tq, Tk), (B, nh, Tq)
    out = p @ v  # (B, nh, Tq, Tk) @ (B, nh, Tk, hs) -> (B, nh, Tq, hs)
    return out.astype(q.dtype), lse


def attention_backward(dout, q, k, v, out, lse, mask=None, is_causal=False, scale=None):
    """Gradients of :func:`attention_forward` with respect to q, k and v.

    ``dV = P^T dO``, ``dP = dO V^T``, ``dS = P * (dP - rowsum(P * dP))``,
    ``dQ = scale * dS K``, ``dK = scale * dS^T Q``.
    ``out`` and ``lse`` are checked but not used: P is recomputed from scratch here.
    Returns ``(dq, dk, dv)`` shaped like q, k, v.
    """
    scale = check_attention_backward_args(
        "attention_backward", dout, q, k, v, out, lse, mask, is_causal, scale
    )
    s = _scores(q, k, mask, is_causal, scale)  # (B, nh, Tq, Tk)
    p, _ = _softmax(s)  # (B, nh, Tq, Tk)
    dv = p.swapaxes(-1, -2) @ dout  # (B, nh, Tk, Tq) @ (B, nh, Tq, hs) -> (B, nh, Tk, hs)
    dp = dout @ v.swapaxes(-1, -2)  # (B, nh, Tq, hs) @ (B, nh, hs, Tk) -> (B, nh, Tq, Tk)
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))  # (B, nh, Tq, Tk)
    dq = scale * (ds @ k)  # (B, nh, Tq, Tk) @ (B, nh, Tk, hs) -> (B, nh, Tq, hs)
    dk = scale * (ds.swapaxes(-1, -2) @ q)  # (B, nh, Tk, Tq) @ (B, nh, Tq, hs) -> (B, nh, Tk, hs)
    return dq.astype(q.dtype), dk.astype(q.dtype), dv.astype(q.dtype)


def softmax_lastdim(x):
    """Numerically stable softmax over the last axis: ``y = exp(x - max) / sum(exp(x - max))``.

    Any leading shape; float32 or float64. A row that is all -inf gives zeros (torch: NaN).

    >>> softmax_lastdim(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    check_softmax_args("softmax_lastdim", x)
    x = np.asarray(x)
    if x.size == 0:  # empty rows have no max to take
        return x.copy()
    y, _ = _softmax(x)
    return y
