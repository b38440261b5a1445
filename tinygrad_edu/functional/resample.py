"""Resizing images and sequences: ``interpolate`` (torch.nn.functional.interpolate).

Each spatial axis is resized on its own, so a 2-d resize is two 1-d ones. Along one axis of
input size ``n_in`` and output size ``n_out``, output position ``j`` reads the input at

    nearest         i = min(floor(j * s), n_in - 1)
    nearest-exact   i = min(floor((j + 0.5) * s), n_in - 1)
    linear          u = s * (j + 0.5) - 0.5, at least 0        (align_corners=False)
                    u = j * (n_in - 1) / (n_out - 1)           (align_corners=True)
                    y_j = (1 - t) x[i0] + t x[i1],  i0 = floor(u), i1 = min(i0 + 1, n_in - 1),
                    t = u - i0

with ``s = 1 / scale_factor`` when a scale factor is given (torch's default,
``recompute_scale_factor=None``) and ``s = n_in / n_out`` otherwise: torch's formulas, so the
numbers agree. Both are gathers along the axis (``index_select``) and, for the linear modes, a
weighted sum of two of them, so the gradient is the scatter-add of the gathers' adjoint:
``dx[i0] += (1 - t) dy_j``, ``dx[i1] += t dy_j``, and every order of derivative comes from
the ops it is made of.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from .shape import index_select

# the interpolating modes, by the number of spatial dims they take
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_NEAREST_MODES = ("nearest", "nearest-exact")


def _per_axis(name: str, value, count: int, kind) -> tuple:
    """``value`` (one number, or a sequence of ``count``) as a tuple of ``count``."""
    if isinstance(value, (tuple, list)):
        if len(value) != count:
            raise ValueError(f"interpolate: {name} must have {count} entries for an input with "
                             f"{count} spatial dims, got {tuple(value)}")
        values = tuple(value)
    else:
        values = (value,) * count
    for v in values:
        if not isinstance(v, kind) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"interpolate: {name} must be positive numbers, got {value!r}")
    return values


def _source_positions(n_in: int, n_out: int, scale: float, mode: str,
                      align_corners: bool) -> tuple:
    """Along one axis: (i0, i1, t) for the linear modes, (i, None, None) for nearest."""
    j = np.arange(n_out, dtype=np.float64)
    if mode in _NEAREST_MODES:
        offset = 0.5 if mode == "nearest-exact" else 0.0
        i = np.minimum(np.floor((j + offset) * scale), n_in - 1).astype(np.int64)
        return i, None, None
    if align_corners:
        u = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(j)
    else:
        u = np.maximum(scale * (j + 0.5) - 0.5, 0.0)
    i0 = np.floor(u).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, u - i0


def _resize_axis(x: Tensor, axis: int, n_out: int, scale: float, mode: str,
                 align_corners: bool) -> Tensor:
    """x resized along ``axis`` to ``n_out`` entries."""
    n_in = x.shape[axis]
    i0, i1, t = _source_positions(n_in, n_out, scale, mode, align_corners)
    xp = get_array_module(x.data)
    if t is None:  # nearest: one gather
        return index_select(x, axis, xp.asarray(i0))
    shape = [1] * x.ndim
    shape[axis] = n_out  # the weights broadcast along every other axis
    t = Tensor._wrap(xp.asarray(t.astype(x.dtype).reshape(shape)))
    lo = index_select(x, axis, xp.asarray(i0))  # x[..., i0, ...]
    hi = index_select(x, axis, xp.asarray(i1))  # x[..., i1, ...]
    return lo + (hi - lo) * t  # (1 - t) lo + t hi


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``input`` (N, C, L), (N, C, H, W) or (N, C, D, H, W) to
    ``size`` or by ``scale_factor``, like torch: modes "nearest", "nearest-exact", and
    "linear" / "bilinear" / "trilinear" for 1 / 2 / 3 spatial dims (see the module docstring
    for the formulas). Differentiable to any order.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[[1.0, 2.0]]])
    >>> interpolate(x, scale_factor=2, mode="linear").tolist()
    [[[1.0, 1.25, 1.75, 2.0]]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: expected a Tensor input, got {type(input).__name__}")
    spatial = input.ndim - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"interpolate: expected a 3-d, 4-d or 5-d input (N, C, *spatial), got "
                         f"shape {tuple(input.shape)}")
    if mode not in _NEAREST_MODES and mode not in _LINEAR_MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not implemented; available: nearest, nearest-exact, "
            "linear (3-d input), bilinear (4-d), trilinear (5-d)")
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != spatial:
        raise ValueError(f"interpolate: mode {mode!r} takes a {_LINEAR_MODES[mode] + 2}-d input, "
                         f"got shape {tuple(input.shape)}")
    if align_corners is not None and mode in _NEAREST_MODES:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating point input, got {input.dtype}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    n_in = input.shape[2:]
    if size is not None:
        n_out = _per_axis("size", size, spatial, numbers.Integral)
        scales = tuple(a / b for a, b in zip(n_in, n_out))
    else:
        factors = _per_axis("scale_factor", scale_factor, spatial, numbers.Real)
        n_out = tuple(math.floor(n * f) for n, f in zip(n_in, factors))
        if min(n_out) < 1:
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} makes an empty output "
                             f"from spatial size {tuple(n_in)}")
        if recompute_scale_factor:
            scales = tuple(a / b for a, b in zip(n_in, n_out))
        else:
            scales = tuple(1.0 / f for f in factors)
    y = input
    for k in range(spatial):  # one axis at a time: (N, C, n_out[0], ..., n_out[k], n_in[k+1], ...)
        y = _resize_axis(y, 2 + k, int(n_out[k]), scales[k], mode, bool(align_corners))
    return y
