"""Resizing images and sequences: ``interpolate`` (torch.nn.functional.interpolate), and
moving pixels between channels and space: ``pixel_shuffle`` / ``pixel_unshuffle``.

Each spatial axis is resized on its own, so a 2-d resize is two 1-d ones. Along one axis of
input size ``n_in`` and output size ``n_out``, output position ``j`` reads the input at

    nearest         i = min(floor(j * s), n_in - 1)
    nearest-exact   i = min(floor((j + 0.5) * s), n_in - 1)
    linear          u = s * (j + 0.5) - 0.5, at least 0        (align_corners=False)
                    u = j * (n_in - 1) / (n_out - 1)           (align_corners=True)
                    y_j = (1 - t) x[i0] + t x[i1],  i0 = floor(u), i1 = min(i0 + 1, n_in - 1),
                    t = u - i0

    cubic           u = s * (j + 0.5) - 0.5, not clamped       (align_corners=False)
                    u = j * (n_in - 1) / (n_out - 1)           (align_corners=True)
                    i = floor(u),  t = u - i,
                    y_j = sum_{k=0..3} W(k - 1 - t) x[clamp(i - 1 + k, 0, n_in - 1)]
                    W(d) = (A + 2)|d|^3 - (A + 3)|d|^2 + 1       |d| <= 1
                    W(d) = A|d|^3 - 5A|d|^2 + 8A|d| - 4A         1 < |d| < 2,   A = -0.75
    area            y_j = mean of x[floor(j n_in / n_out) : ceil((j + 1) n_in / n_out)]

with ``s = 1 / scale_factor`` when a scale factor is given (torch's default,
``recompute_scale_factor=None``) and ``s = n_in / n_out`` otherwise: torch's formulas, so the
numbers agree. Two details of torch's CPU kernels are kept too: the nearest modes floor the
position as a float32 (``_nearest_index``), and the linear modes leave an axis whose size does
not change as it is, even when a scale factor such as 1.05 would shift it. "bicubic" is
Keys' cubic convolution with torch's A = -0.75; the taps that fall off the edge read the edge
pixel (the clamp), so the four weights still sum to 1. "area" is
torch's too: adaptive average pooling to the output size (``adaptive_avg_pool1d/2d``), with
``n_out = floor(n_in * scale_factor)`` when a scale factor is given.

Nearest, linear and cubic are gathers along the axis (``index_select``) and, for the linear and
cubic modes, a weighted sum of two or four of them, so the gradient is the scatter-add of the
gathers' adjoint: ``dx[i0] += (1 - t) dy_j``, ``dx[i1] += t dy_j`` (linear),
``dx[clamp(i - 1 + k)] += W(k - 1 - t) dy_j`` (cubic), and every order of derivative comes from
the ops it is made of. Area's gradient is the pooling's: each dy_j spread evenly over its bin.

``pixel_shuffle`` (upscale factor r) only moves entries:

    y[*, c, h r + i, w r + j] = x[*, c r^2 + i r + j, h, w]     (*, C r^2, H, W) -> (*, C, H r, W r)

and ``pixel_unshuffle`` is its inverse; both are a reshape, a permute and a reshape, so the
gradient is the inverse move of dy.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from .pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from .shape import index_select, permute, reshape

# the interpolating modes, by the number of spatial dims they take
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_CUBIC_MODES = {"bicubic": 2}
_NEAREST_MODES = ("nearest", "nearest-exact")
_AREA = "area"
CUBIC_A = -0.75  # torch's cubic convolution constant (OpenCV's; Keys' kernel uses -0.5)


def _per_axis(name: str, value, count: int, kind) -> tuple:
    """``value`` (one number, or a sequence of ``count``) as a tuple of ``count``."""
    if isinstance(value, (tuple, list)):
        if len(value) != count:
            raise ValueError(f"interpolate: {name} must have {count} entries for an input with "
                             f"{count} spatial dims, got {tuple(value)}")
        values = tuple(value)
    else:
        values = (value,) * count
    what = "ints" if kind is numbers.Integral else "numbers"
    for v in values:
        if not isinstance(v, kind) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"interpolate: {name} must be positive {what} (one, or {count} "
                             f"of them), got {value!r}")
    return values


def _nearest_index(n_in: int, n_out: int, scale: float, mode: str, dtype,
                   spatial: int) -> np.ndarray:
    """Along one axis: the input index each output reads in the nearest modes, (n_out,), as
    torch's CPU kernels compute it, so that a position landing on an integer (j s = 15 for
    s = 19 / 3) rounds the same way: the position in the input's precision (float32 for
    float32, float64 otherwise; nearest-exact's s (j + 0.5) - 0.5 rounded once, a fused
    multiply-add), then floored as a float32 (torch's floorf). torch's 2-d "nearest" kernel
    takes a shortcut: an axis that keeps its size is copied, one that doubles reads j // 2,
    whatever the scale factor (e.g. 1.05 or 2.05 on a small image)."""
    j = np.arange(n_out)
    if mode == "nearest" and spatial == 2 and n_out in (n_in, 2 * n_in):
        return j // (n_out // n_in)
    work = np.float64 if np.dtype(dtype) == np.float64 else np.float32  # torch's opmath type
    s = work(scale)
    if mode == "nearest":
        u = j.astype(work) * s  # j s
    else:
        u = (np.float64(s) * (j + 0.5) - 0.5).astype(work)  # s (j + 0.5) - 0.5, one rounding
        u = np.maximum(u, 0) + 0.5
    i = np.floor(u.astype(np.float32)).astype(np.int64)  # floorf
    return np.minimum(i, n_in - 1)


def _source_positions(n_in: int, n_out: int, scale: float, align_corners: bool) -> tuple:
    """Along one axis: (i0, i1, t) for the linear modes, each (n_out,)."""
    j = np.arange(n_out, dtype=np.float64)
    if align_corners:
        u = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(j)
    else:
        u = np.maximum(scale * (j + 0.5) - 0.5, 0.0)
    i0 = np.floor(u).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, u - i0


def _cubic_weight_near(d: np.ndarray) -> np.ndarray:
    """W(d) for |d| <= 1: (A + 2)|d|^3 - (A + 3)|d|^2 + 1 (``d`` is |d| here)."""
    return ((CUBIC_A + 2) * d - (CUBIC_A + 3)) * d * d + 1


def _cubic_weight_far(d: np.ndarray) -> np.ndarray:
    """W(d) for 1 < |d| < 2: A|d|^3 - 5A|d|^2 + 8A|d| - 4A (``d`` is |d| here)."""
    return ((CUBIC_A * d - 5 * CUBIC_A) * d + 8 * CUBIC_A) * d - 4 * CUBIC_A


def _cubic_taps(n_in: int, n_out: int, scale: float, align_corners: bool) -> tuple:
    """Along one axis: (index, weight), each (4, n_out): output j is
    sum_k weight[k, j] * x[index[k, j]], the taps at i - 1, i, i + 1, i + 2 (clamped)."""
    j = np.arange(n_out, dtype=np.float64)
    if align_corners:
        u = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(j)
    else:
        u = scale * (j + 0.5) - 0.5  # may be negative: no clamp at 0 for cubic, as torch
    i = np.minimum(np.floor(u).astype(np.int64), n_in - 1)  # torch's guard_index_and_lambda
    t = np.clip(u - i, 0.0, 1.0)
    weight = np.stack([_cubic_weight_far(1 + t),  # tap i - 1, distance 1 + t
                       _cubic_weight_near(t),  # tap i, distance t
                       _cubic_weight_near(1 - t),  # tap i + 1, distance 1 - t
                       _cubic_weight_far(2 - t)])  # tap i + 2, distance 2 - t
    index = np.clip(i[None, :] + np.arange(-1, 3)[:, None], 0, n_in - 1)  # the border clamp
    return index, weight


def _resize_axis(x: Tensor, axis: int, n_out: int, scale: float, mode: str,
                 align_corners: bool) -> Tensor:
    """x resized along ``axis`` to ``n_out`` entries."""
    n_in = x.shape[axis]
    xp = get_array_module(x.data)
    shape = [1] * x.ndim
    shape[axis] = n_out  # the weights broadcast along every other axis
    if mode in _CUBIC_MODES:  # four weighted gathers
        index, weight = _cubic_taps(n_in, n_out, scale, align_corners)
        y = None
        for k in range(4):
            w = Tensor._wrap(xp.asarray(weight[k].astype(x.dtype).reshape(shape)))
            tap = index_select(x, axis, xp.asarray(index[k])) * w  # W_k x[..., index_k, ...]
            y = tap if y is None else y + tap
        return y
    if mode in _NEAREST_MODES:  # one gather
        index = _nearest_index(n_in, n_out, scale, mode, x.dtype, x.ndim - 2)
        return index_select(x, axis, xp.asarray(index))
    if n_out == n_in:  # torch's linear kernels leave an axis that keeps its size as it is
        return x
    i0, i1, t = _source_positions(n_in, n_out, scale, align_corners)
    t = Tensor._wrap(xp.asarray(t.astype(x.dtype).reshape(shape)))
    lo = index_select(x, axis, xp.asarray(i0))  # x[..., i0, ...]
    hi = index_select(x, axis, xp.asarray(i1))  # x[..., i1, ...]
    return lo + (hi - lo) * t  # (1 - t) lo + t hi


def _area(x: Tensor, n_out: tuple) -> Tensor:
    """torch's "area" mode: adaptive average pooling of the spatial dims to ``n_out``."""
    if len(n_out) == 1:
        return adaptive_avg_pool1d(x, n_out[0])  # (N, C, OL)
    if len(n_out) == 2:
        return adaptive_avg_pool2d(x, n_out)  # (N, C, OH, OW)
    # 3 spatial dims: each bin is a box, so its mean is separable: pool (H, W), then D
    N, C, D, H, W = x.shape
    OD, OH, OW = n_out
    y = adaptive_avg_pool2d(reshape(x, (N, C * D, H, W)), (OH, OW))  # (N, C*D, OH, OW)
    y = permute(reshape(y, (N, C, D, OH * OW)), 0, 1, 3, 2)  # (N, C, OH*OW, D)
    y = adaptive_avg_pool1d(reshape(y, (N, C * OH * OW, D)), OD)  # (N, C*OH*OW, OD)
    return permute(reshape(y, (N, C, OH, OW, OD)), 0, 1, 4, 2, 3)  # (N, C, OD, OH, OW)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``input`` (N, C, L), (N, C, H, W) or (N, C, D, H, W) to
    ``size`` or by ``scale_factor``, like torch: modes "nearest", "nearest-exact", "area",
    "linear" / "bilinear" / "trilinear" for 1 / 2 / 3 spatial dims and "bicubic" for 2 (see
    the module docstring for the formulas). Differentiable to any order.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[[1.0, 2.0]]])
    >>> interpolate(x, scale_factor=2, mode="linear").tolist()
    [[[1.0, 1.25, 1.75, 2.0]]]
    >>> interpolate(tg.tensor([[[1.0, 2.0, 3.0, 5.0]]]), size=2, mode="area").tolist()
    [[[1.5, 4.0]]]
    >>> y = interpolate(tg.tensor([[[[0.0, 1.0], [2.0, 3.0]]]]), size=(2, 4), mode="bicubic",
    ...                 align_corners=True)
    >>> [round(v, 4) for v in y.tolist()[0][0][0]]
    [0.0, 0.3148, 0.6852, 1.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: expected a Tensor input, got {type(input).__name__}")
    spatial = input.ndim - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"interpolate: expected a 3-d, 4-d or 5-d input (N, C, *spatial), got "
                         f"shape {tuple(input.shape)}")
    dims_of_mode = {**_LINEAR_MODES, **_CUBIC_MODES}
    if mode not in _NEAREST_MODES and mode != _AREA and mode not in dims_of_mode:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not implemented; available: nearest, nearest-exact, "
            "area, linear (3-d input), bilinear and bicubic (4-d), trilinear (5-d)")
    if mode in dims_of_mode and dims_of_mode[mode] != spatial:
        raise ValueError(f"interpolate: mode {mode!r} takes a {dims_of_mode[mode] + 2}-d input, "
                         f"got shape {tuple(input.shape)}")
    if align_corners is not None and mode not in dims_of_mode:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError(
            "interpolate: antialias=True is not implemented (torch's antialiased bilinear / "
            "bicubic filters widen the kernel when downsampling); call it with antialias=False")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating point input, got {input.dtype}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"interpolate: give exactly one of size and scale_factor, got "
                         f"size={size!r} and scale_factor={scale_factor!r} (input shape "
                         f"{tuple(input.shape)})")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                         "explicit size")
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
    n_out = tuple(int(n) for n in n_out)
    if mode == _AREA:  # bins of the output size; a scale factor only sets that size
        return _area(input, n_out)
    y = input
    for k in range(spatial):  # one axis at a time: (N, C, n_out[0], ..., n_out[k], n_in[k+1], ...)
        y = _resize_axis(y, 2 + k, n_out[k], scales[k], mode, bool(align_corners))
    return y.clone() if y is input else y  # a new tensor even where no axis changed, as torch


# ----------------------------------------------------------------------------------------------
# pixel_shuffle / pixel_unshuffle: channels <-> space, a reshape, a permute and a reshape
# ----------------------------------------------------------------------------------------------


def _check_factor(op: str, name: str, r) -> int:
    if not isinstance(r, numbers.Integral) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"{op}: {name} must be a positive int, got {r!r}")
    return int(r)


def _check_image(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < 3:
        raise ValueError(f"{op}: expected an input with at least 3 dims (*, C, H, W), got shape "
                         f"{tuple(x.shape)}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002 - torch names
    """``torch.nn.functional.pixel_shuffle``: (*, C r^2, H, W) -> (*, C, H r, W r) with
    y[*, c, h r + i, w r + j] = x[*, c r^2 + i r + j, h, w] (r = upscale_factor); the gradient
    is ``pixel_unshuffle(dy, r)``.

    >>> import tinygrad_edu as tg
    >>> pixel_shuffle(tg.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    _check_image("pixel_shuffle", input)
    r = _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    *batch, CRR, H, W = input.shape
    if CRR % (r * r):
        raise ValueError(f"pixel_shuffle: the channel dim (size {CRR}) must be divisible by "
                         f"upscale_factor**2 = {r * r} (upscale_factor={r}), got input shape "
                         f"{tuple(input.shape)}")
    C = CRR // (r * r)
    B = len(batch)
    lead = tuple(range(B))
    y = reshape(input, (*batch, C, r, r, H, W))  # (*, C, r, r, H, W)
    y = permute(y, *lead, B, B + 3, B + 1, B + 4, B + 2)  # (*, C, H, r, W, r)
    return reshape(y, (*batch, C, H * r, W * r))  # (*, C, H*r, W*r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002 - torch names
    """``torch.nn.functional.pixel_unshuffle``, the inverse of ``pixel_shuffle``:
    (*, C, H r, W r) -> (*, C r^2, H, W) with y[*, c r^2 + i r + j, h, w] = x[*, c, h r + i,
    w r + j] (r = downscale_factor); the gradient is ``pixel_shuffle(dy, r)``.

    >>> import tinygrad_edu as tg
    >>> pixel_unshuffle(tg.arange(4.0).reshape(1, 1, 2, 2), 2).reshape(-1).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    _check_image("pixel_unshuffle", input)
    r = _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    *batch, C, HR, WR = input.shape
    for what, n in (("height", HR), ("width", WR)):
        if n % r:
            raise ValueError(f"pixel_unshuffle: the {what} (size {n}) must be divisible by "
                             f"downscale_factor={r}, got input shape {tuple(input.shape)}")
    H, W = HR // r, WR // r
    B = len(batch)
    lead = tuple(range(B))
    y = reshape(input, (*batch, C, H, r, W, r))  # (*, C, H, r, W, r)
    y = permute(y, *lead, B, B + 2, B + 4, B + 1, B + 3)  # (*, C, r, r, H, W)
    return reshape(y, (*batch, C * r * r, H, W))  # (*, C*r*r, H, W)
