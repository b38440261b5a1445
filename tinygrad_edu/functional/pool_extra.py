"""More pooling-family ops with PyTorch semantics, each a composite of differentiable ops (so
every one is differentiable to any order): power-average pooling (``lp_pool1d/2d``), the
inverse of max pooling (``max_unpool1d/2d``), local response normalization, and torch's
``max_pool1d/2d_with_indices`` aliases.

No new Function here: lp pooling is average pooling between two powers, unpooling is a scatter
(its gradient the gather at the same indices), and local response normalization is average
pooling over the channels of the squares.
"""

from __future__ import annotations

import math
import numbers

from ..backend import get_array_module
from ..tensor import Tensor
from .conv import _pair
from .elementwise import where
from .pool import (
    _float_input,
    _pool1d_args,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    pool_stride,
)
from .shape import pad, reshape, scatter

# ----------------------------------------------------------------------------------------------
# Power-average pooling
# ----------------------------------------------------------------------------------------------


def _check_norm_type(op: str, norm_type) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{op}: norm_type must be a number, got {norm_type!r}")
    if norm_type == 0:
        raise ValueError(f"{op}: norm_type must be nonzero (the result is a 1/p power), got "
                         f"{norm_type!r}")
    return norm_type


def _lp_power_root(out: Tensor, window: int, p: float) -> Tensor:
    """torch's last step of lp pooling: (sign(out) * relu(|out|) * window)^(1/p).

    sign(out) * relu(|out|) is out itself; it is there for the gradient: where a window is all
    zeros (out = 0) the 1/p power has an infinite slope, and torch's relu (0 where its input is
    <= 0) turns inf * 0 into a gradient of 0. Here those windows (common after a ReLU) compute
    the power at 1 instead, and ``where`` puts 0^(1/p) in their place: the same values and
    gradients as torch, with no infinity (and no NumPy warning) on the way."""
    zero = out.data == 0  # the all-zero windows
    safe = where(zero, 1.0, out)  # (N, C, OH, OW), 1 in the all-zero windows
    root = (safe.sign() * safe.abs().relu() * window).pow(1.0 / p)
    return where(zero, 0.0 if p > 0 else math.inf, root)  # 0^(1/p) there


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None,  # noqa: A002 - torch names
              ceil_mode: bool = False) -> Tensor:
    """``torch.nn.functional.lp_pool2d``: (N, C, H, W) -> (N, C, OH, OW) (or unbatched),
    OH = (H - KH) // SH + 1 (no padding);  y = (sum over the window of x^p)^(1/p), computed as
    torch does: (avg_pool2d(x^p) * KH KW)^(1/p)  (with ``ceil_mode`` a window cut by the edge
    averages over the entries it has, then is still scaled by KH KW, like torch).

    dy flows back through those differentiable ops: dx = dy * y^(1-p) * x^(p-1) inside each
    window (summed over windows); 0 for an all-zero window, as torch. p = inf gives the max of
    |x|, p = -inf the min of |x|. x^p of a negative x is NaN for a non-integer p, and an odd p
    with a negative window sum gives NaN, as in torch.

    >>> import tinygrad_edu as tg
    >>> lp_pool2d(tg.tensor([[[[3.0, 4.0], [0.0, 0.0]]]]), 2, 2).tolist()
    [[[[5.0]]]]
    """
    op = "lp_pool2d"
    p = _check_norm_type(op, norm_type)
    _float_input(op, input, "a 3-d (C, H, W) or 4-d (N, C, H, W)", (3, 4))
    KH, KW = _pair(op, "kernel_size", kernel_size)
    SH, SW = _pair(op, "stride", pool_stride(op, kernel_size, stride))
    for name, pair in (("kernel_size", (KH, KW)), ("stride", (SH, SW))):
        if min(pair) < 1:
            raise ValueError(f"{op}: {name} must be >= 1, got {pair}")
    sizes = []
    for n, k, s in ((input.shape[-2], KH, SH), (input.shape[-1], KW, SW)):
        out = (n - k + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n:  # the last window may not start past the input
            out -= 1
        sizes.append(out)
    if min(sizes) < 1:
        raise ValueError(f"{op}: kernel_size {(KH, KW)} with stride {(SH, SW)} gives output size "
                         f"{tuple(sizes)} for input of size {tuple(input.shape[-2:])} (x: "
                         f"{tuple(input.shape)}); it must be at least (1, 1)")
    if p == math.inf:
        return max_pool2d(input.abs(), (KH, KW), (SH, SW), 0, 1, ceil_mode)
    if p == -math.inf:
        return -max_pool2d(-input.abs(), (KH, KW), (SH, SW), 0, 1, ceil_mode)
    out = avg_pool2d(input.pow(p), (KH, KW), (SH, SW), 0, ceil_mode)  # (N, C, OH, OW)
    return _lp_power_root(out, KH * KW, p)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None,  # noqa: A002 - torch names
              ceil_mode: bool = False) -> Tensor:
    """``torch.nn.functional.lp_pool1d``: (N, C, L) -> (N, C, OL) (or (C, L) -> (C, OL)),
    OL = (L - K) // S + 1;  y = (sum over the window of x^p)^(1/p) = (avg_pool1d(x^p) K)^(1/p),
    as torch computes it (see ``lp_pool2d`` for the gradient, p = +-inf and NaN cases).

    >>> import tinygrad_edu as tg
    >>> lp_pool1d(tg.tensor([[[3.0, 4.0, 1.0]]]), 1, 2, stride=1).tolist()
    [[[7.0, 5.0]]]
    """
    op = "lp_pool1d"
    p = _check_norm_type(op, norm_type)
    K, S, _, _ = _pool1d_args(op, input, kernel_size, stride, 0, 1, ceil_mode)
    _float_input(op, input, "a 2-d (C, L) or 3-d (N, C, L)", (2, 3))
    if p == math.inf:
        return max_pool1d(input.abs(), K, S, 0, 1, ceil_mode)
    if p == -math.inf:
        return -max_pool1d(-input.abs(), K, S, 0, 1, ceil_mode)
    out = avg_pool1d(input.pow(p), K, S, 0, ceil_mode)  # (N, C, OL)
    return _lp_power_root(out, K, p)


# ----------------------------------------------------------------------------------------------
# Max unpooling: scatter each value back to where max pooling found it
# ----------------------------------------------------------------------------------------------


def _int_tuple(op: str, name: str, value, nd: int) -> tuple:
    """An int (for every dim) or a sequence of ``nd`` ints, as a tuple."""
    if nd == 2:
        return _pair(op, name, value)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{op}: {name} must be an int or a 1-tuple of an int, got {value!r}")
    return (int(value),)


def _unpool_output_size(op: str, in_size: tuple, kernel: tuple, stride: tuple, padding: tuple,
                        output_size) -> tuple:
    """torch's ``_unpool_output_size``: by default (I - 1) S + K - 2 P per dim (the size max
    pooling read); a given ``output_size`` (nd sizes, or nd + 2 with N, C first) must lie
    strictly between that default - S and default + S, the sizes that pool to I."""
    nd = len(kernel)
    default = tuple((i - 1) * s + k - 2 * p
                    for i, k, s, p in zip(in_size, kernel, stride, padding, strict=True))
    if output_size is None:
        size = default
    else:
        if not isinstance(output_size, (tuple, list)) or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in output_size):
            raise ValueError(f"{op}: output_size must be a sequence of ints, got "
                             f"{output_size!r}")
        size = tuple(int(v) for v in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or "
                             f"{nd + 2} elements, but it has a length of {len(size)} "
                             f"(output_size={output_size!r})")
        for d in range(nd):
            low, high = default[d] - stride[d], default[d] + stride[d]
            if not low < size[d] < high:
                raise ValueError(f"{op}: invalid output_size {tuple(output_size)} (dim {d} must "
                                 f"be strictly between {low} and {high}, the sizes that max "
                                 f"pooling with kernel {kernel}, stride {stride} and padding "
                                 f"{padding} takes to {in_size[d]})")
    if min(size) < 0:
        raise ValueError(f"{op}: output_size must contain non-negative spatial dimensions, got "
                         f"{size}")
    return size


def _max_unpool(op: str, nd: int, x: Tensor, indices, kernel_size, stride, padding,
                output_size) -> Tensor:
    """max_unpool{nd}d: x and indices (*, C, *in) -> (*, C, *out) zeros with
    y[n, c].flat[indices[n, c, i]] = x[n, c, i], as a differentiable scatter."""
    layout = ("a 2-d (C, L) or 3-d (N, C, L)" if nd == 1
              else "a 3-d (C, H, W) or 4-d (N, C, H, W)")
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected {layout} input, got shape {tuple(x.shape)}")
    xp = get_array_module(x.data)
    idx = xp.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer (int64) tensor, as max pooling "
                        f"returns them, got dtype {idx.dtype}")
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{op}: expected indices of the input's shape {tuple(x.shape)}, got "
                         f"indices of shape {tuple(idx.shape)}")
    kernel = _int_tuple(op, "kernel_size", kernel_size, nd)
    strides = _int_tuple(op, "stride", pool_stride(op, kernel_size, stride), nd)
    pads = _int_tuple(op, "padding", padding, nd)
    if min(kernel) < 1:
        raise ValueError(f"{op}: kernel_size must be >= 1, got {kernel}")
    size = _unpool_output_size(op, tuple(x.shape[-nd:]), kernel, strides, pads, output_size)
    plane = math.prod(size)  # the number of positions in one output plane
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"{op}: found an invalid max index {bad} (output planes are of size "
                         f"{'x'.join(map(str, size))}, so indices must be in [0, {plane}))")
    lead = tuple(x.shape[:-nd])  # (N, C) or (C,)
    flat = lead + (math.prod(x.shape[-nd:]),)  # (N, C, H*W): -1 cannot size an empty batch
    values = reshape(x, flat)  # (N, C, H*W)
    zeros = Tensor._wrap(xp.zeros(lead + (plane,), dtype=x.dtype))  # (N, C, OH*OW)
    y = scatter(zeros, -1, idx.reshape(flat), values)  # (N, C, OH*OW)
    return reshape(y, lead + size)  # (N, C, OH, OW)


def max_unpool2d(input: Tensor, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    """``torch.nn.functional.max_unpool2d``, the inverse of max pooling given its indices:
    (N, C, H, W) -> zeros (N, C, OH, OW) with y[n, c].flat[indices[n, c, h, w]] = x[n, c, h, w]
    (indices flat oh OW + ow per plane, as ``max_pool2d(..., return_indices=True)`` gives).

    OH = (H - 1) SH + KH - 2 PH by default (the size max pooling read), or ``output_size``
    ((OH, OW) or (N, C, OH, OW)), which must lie strictly within SH of that;
    dx = dy gathered at the indices: dx[n, c, h, w] = dy[n, c].flat[indices[n, c, h, w]].

    >>> import tinygrad_edu as tg
    >>> max_unpool2d(tg.tensor([[[[5.0]]]]), tg.tensor([[[[2]]]]), 2).tolist()
    [[[[0.0, 0.0], [5.0, 0.0]]]]
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool1d(input: Tensor, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    """``torch.nn.functional.max_unpool1d``: (N, C, L) -> zeros (N, C, OL) with
    y[n, c, indices[n, c, l]] = x[n, c, l]; OL = (L - 1) S + K - 2 P by default, or
    ``output_size`` ((OL,) or (N, C, OL)); dx = dy gathered at the indices.

    >>> import tinygrad_edu as tg
    >>> max_unpool1d(tg.tensor([[[5.0, 7.0]]]), tg.tensor([[[1, 2]]]), 2).tolist()
    [[[0.0, 5.0, 7.0, 0.0]]]
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


# ----------------------------------------------------------------------------------------------
# Local response normalization (AlexNet)
# ----------------------------------------------------------------------------------------------


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,  # noqa: A002
                        k: float = 1.0) -> Tensor:
    """``torch.nn.functional.local_response_norm`` for (N, C, *) inputs (3-d or more):

        y[n, c] = x[n, c] / (k + alpha / size * sum_{c' = c - size // 2}^{c + (size - 1) // 2}
                             x[n, c']^2)^beta

    (channels outside [0, C) count as zeros; the sum divided by ``size`` is an average pooling
    over the channels of the zero-padded squares). Differentiable to any order through those
    ops: dx = dy / d^beta - 2 alpha beta / size * x * sum of (dy x / d^(beta+1)) over the
    windows containing x, with d = k + alpha * avg.

    >>> import tinygrad_edu as tg
    >>> local_response_norm(tg.tensor([[[2.0], [0.0]]]), 2, alpha=0.5, beta=1.0).tolist()
    [[[1.0], [0.0]]]
    """
    op = "local_response_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"{op}: expected a 3-d or higher (N, C, *) input, got shape "
                         f"{tuple(input.shape)} ({input.ndim} dimensions)")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype} (x: "
                        f"{tuple(input.shape)})")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{op}: size must be a positive int (the number of channels summed "
                         f"over), got {size!r}")
    if input.numel() == 0:
        return input
    N, C = input.shape[:2]
    squares = reshape(input * input, (N, 1, C, -1))  # (N, 1, C, R), R = the product of the rest
    squares = pad(squares, (0, 0, size // 2, (size - 1) // 2))  # (N, 1, C + size - 1, R)
    avg = avg_pool2d(squares, (size, 1), stride=1)  # (N, 1, C, R)
    div = (reshape(avg, input.shape) * alpha + k).pow(beta)  # (N, C, *)
    return input / div


# ----------------------------------------------------------------------------------------------
# torch's aliases that always return the indices
# ----------------------------------------------------------------------------------------------


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool2d_with_indices``: ``max_pool2d`` returning (y, indices)
    whatever ``return_indices`` says (torch ignores it too)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool1d_with_indices``: ``max_pool1d`` returning (y, indices)
    whatever ``return_indices`` says (torch ignores it too)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
