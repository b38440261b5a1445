"""Pooling ops with PyTorch semantics, computed by the pooling kernels.

Pooling is linear in the gradient, so each backward is itself a Function whose backward is the
forward again (max pooling: scatter to the argmax <-> gather from the argmax; average pooling:
spread the window average back <-> average again). That makes pooling differentiable to any
order while the heavy lifting stays in the kernels picked by ``Config.kernel``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import get_array_module
from ..kernels.reference.pool import adaptive_windows
from ..tensor import Tensor
from .conv import _batched, _single
from .shape import index_put_zeros, reshape

INDEX_DTYPE = np.int32  # how max pooling keeps its argmax for backward


def pool_stride(op: str, kernel_size, stride):
    """``stride``, or ``kernel_size`` where it is None (or an empty tuple/list, as torch
    allows). Only None means "the kernel size": a stride of 0 or below is an error, never
    silently replaced (torch: "stride should not be zero")."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel_size
    values = tuple(stride) if isinstance(stride, (tuple, list)) else (stride,)
    if any(isinstance(v, numbers.Integral) and v < 1 for v in values):
        problem = "should not be zero" if 0 in values else "should be greater than zero"
        raise ValueError(f"{op}: stride {problem}, got stride={stride!r} "
                         f"(kernel_size={kernel_size!r}; stride=None means kernel_size)")
    return stride


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------


class MaxPool2d(Function):
    """y[n, c, oh, ow] = max over the window (padding is -inf);
    dx = dy scattered to the argmax of each window (overlapping windows add up)"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)
    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    def forward(self, x, kernel_size, stride, padding, dilation, ceil_mode, indices_out=None):
        kernel = backend.kernel("pool", "max_pool2d_forward", x)
        y, argmax = kernel(x, kernel_size, stride, padding, dilation, ceil_mode)
        if indices_out is not None:  # return_indices=True: hand the argmax to the caller
            indices_out.append(argmax)  # int64, like torch
        # (N, C, OH, OW) flat index h*W + w into the input plane, kept until backward. On the
        # CPU int32 holds any plane index and halves what the graph keeps (a LeNet step's peak
        # memory); on a GPU, where memory is plentiful and the CUDA backward takes int64, the
        # cast would be two more kernel launches per step
        narrow = not backend.is_cupy_array(argmax) and x.shape[2] * x.shape[3] < 2**31
        self.argmax = argmax.astype(INDEX_DTYPE) if narrow else argmax
        return y

    def backward(self, dy):
        (x,) = self.inputs
        if not isinstance(dy, Tensor):  # first order: the scatter kernel on the arrays
            return backend.kernel("pool", "max_pool2d_backward", dy)(dy, self.argmax, x.shape)
        return max_pool_scatter(dy, self.argmax, x.shape)  # an op: differentiable in dy


class MaxPoolScatter(Function):
    """dx[n, c].flat[argmax] += dy  (the backward of max pooling);
    its own backward gathers: ddy = g[n, c].flat[argmax]"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)

    def forward(self, dy, argmax, x_shape):
        self.argmax = argmax
        return backend.kernel("pool", "max_pool2d_backward", dy)(dy, argmax, x_shape)

    def backward(self, g):
        xp = get_array_module(g.data)
        N, C, OH, OW = self.argmax.shape
        index = xp.maximum(self.argmax, 0).reshape(N, C, OH * OW)  # (N, C, OH*OW)
        valid = (self.argmax >= 0).astype(g.dtype)  # windows that saw only padding: no grad
        picked = reshape(g, N, C, -1).gather(2, index)  # (N, C, OH*OW)
        return reshape(picked, N, C, OH, OW) * valid


def max_pool_scatter(dy: Tensor, argmax, x_shape) -> Tensor:
    return MaxPoolScatter.apply(dy, argmax=argmax, x_shape=tuple(x_shape))


def _pooled(y: Tensor, indices_out: list, unbatched: bool, return_indices: bool):
    """A max pooling's result as its caller asked for it: y, and with ``return_indices`` the
    argmax the op handed over in ``indices_out``; without the batch dim the input lacked."""
    if unbatched:
        y = reshape(y, y.shape[1:])
    if not return_indices:
        return y
    argmax = indices_out[0]
    return y, Tensor._wrap(argmax[0] if unbatched else argmax)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool2d``: (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults
    to ``kernel_size``; with ``return_indices`` also the argmax (flat h*W + w per plane)."""
    input, unbatched = _batched("max_pool2d", input)
    stride = pool_stride("max_pool2d", kernel_size, stride)
    indices_out: list = []
    y = MaxPool2d.apply(input, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation, ceil_mode=ceil_mode, indices_out=indices_out)
    return _pooled(y, indices_out, unbatched, return_indices)


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------


class AvgPool2d(Function):
    """y[n, c, oh, ow] = sum over the window / divisor (torch's count_include_pad rules);
    dx = each dy spread evenly (divided by the same divisor) over its window"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)

    def forward(self, x, **options):
        self.options = options  # kernel_size, stride, padding, ceil_mode, count_include_pad
        return backend.kernel("pool", "avg_pool2d_forward", x)(x, **options)

    def backward(self, dy):
        (x,) = self.inputs
        return AvgPool2dBackward.apply(dy, x_shape=tuple(x.shape), options=self.options)


class AvgPool2dBackward(Function):
    """dx = the adjoint of average pooling applied to dy; its own backward is avg pooling"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)

    def forward(self, dy, x_shape, options):
        self.options = options
        return backend.kernel("pool", "avg_pool2d_backward", dy)(dy, x_shape, **options)

    def backward(self, g):
        return AvgPool2d.apply(g, **self.options)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """``torch.nn.functional.avg_pool2d`` (``divisor_override`` is not supported)."""
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d: divisor_override is not supported")
    input, unbatched = _batched("avg_pool2d", input)
    stride = pool_stride("avg_pool2d", kernel_size, stride)
    y = AvgPool2d.apply(input, kernel_size=kernel_size, stride=stride, padding=padding,
                        ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    return reshape(y, y.shape[1:]) if unbatched else y


class AdaptiveAvgPool2d(Function):
    """y = average over torch's adaptive bins [floor(i H / OH), ceil((i + 1) H / OH));
    dx = each dy spread evenly over its bin"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)

    def forward(self, x, output_size):
        return backend.kernel("pool", "adaptive_avg_pool2d_forward", x)(x, output_size)

    def backward(self, dy):
        (x,) = self.inputs
        return AdaptiveAvgPool2dBackward.apply(dy, x_shape=tuple(x.shape))


class AdaptiveAvgPool2dBackward(Function):
    """dx = the adjoint of adaptive average pooling; its own backward is the pooling again"""

    kernel_family = "pool"  # which kernels it calls (see Config.kernel)

    def forward(self, dy, x_shape):
        self.out_size = tuple(dy.shape[2:])
        return backend.kernel("pool", "adaptive_avg_pool2d_backward", dy)(dy, x_shape)

    def backward(self, g):
        return AdaptiveAvgPool2d.apply(g, output_size=self.out_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002 - torch names
    """``torch.nn.functional.adaptive_avg_pool2d``; ``None`` in output_size keeps that size."""
    input, unbatched = _batched("adaptive_avg_pool2d", input)
    if 0 in input.shape[2:]:
        raise ValueError(f"adaptive_avg_pool2d: expected a non-empty input apart from the batch "
                         f"and channel dims, got shape {tuple(input.shape)}")
    if isinstance(output_size, numbers.Integral):
        output_size = (output_size, output_size)
    output_size = tuple(input.shape[2 + i] if s is None else int(s)
                        for i, s in enumerate(output_size))
    y = AdaptiveAvgPool2d.apply(input, output_size=output_size)
    return reshape(y, y.shape[1:]) if unbatched else y


# ----------------------------------------------------------------------------------------------
# Adaptive max pooling (vectorized xp code: NumPy or CuPy, no kernel)
# ----------------------------------------------------------------------------------------------


def _adaptive_bin_positions(size: int, out_size: int) -> np.ndarray:
    """The input positions each adaptive bin reads along one axis, as an (O, K) int64 array.

    Bin o covers [floor(o size / O), ceil((o + 1) size / O)) (torch's rule, as in
    ``adaptive_avg_pool2d``): neighbouring bins overlap when size is not a multiple of O, and
    their lengths may differ by one. K is the longest bin; a shorter bin repeats its last
    position, which changes neither its max nor the first (or last) position holding it.

    >>> _adaptive_bin_positions(5, 3).tolist()  # bins [0, 2), [1, 4), [3, 5)
    [[0, 1, 1], [1, 2, 3], [3, 4, 4]]
    """
    start, end, length = adaptive_windows(size, out_size)  # (O,) each
    k = np.arange(int(length.max()), dtype=np.int64)  # (K,)
    return np.minimum(start[:, None] + k, end[:, None] - 1)  # (O, K)


class AdaptiveMaxPool2d(Function):
    """y[n, c, oh, ow] = max of x[n, c, h0:h1, w0:w1] over torch's adaptive bin
    h0 = floor(oh H / OH), h1 = ceil((oh + 1) H / OH) (w0, w1 alike);
    argmax[n, c, oh, ow] = h W + w of that max (the first in row-major window order; where the
    bin holds a NaN, y is NaN and argmax the last NaN, as in torch);
    dx[n, c].flat[argmax[n, c, oh, ow]] += dy[n, c, oh, ow]: each dy goes to its bin's argmax,
    and overlapping bins that share an argmax add up. The scatter is ``index_put_zeros``, whose
    own backward gathers (ddy = g[n, c].flat[argmax]), so every order is differentiable."""

    reads_inputs = False  # the backward needs x's shape and the argmax, never x's values

    def forward(self, x, output_size, indices_out=None):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OH, OW = output_size
        rows = _adaptive_bin_positions(H, OH)  # (OH, KH)
        cols = _adaptive_bin_positions(W, OW)  # (OW, KW)
        KH, KW = rows.shape[1], cols.shape[1]
        # flat h W + w of every entry of every bin, in row-major order within the bin
        flat = rows[:, None, :, None] * W + cols[None, :, None, :]  # (OH, OW, KH, KW)
        flat = xp.asarray(flat.reshape(OH, OW, KH * KW))  # (OH, OW, KH*KW)
        planes = x.reshape(N, C, H * W)  # (N, C, H*W), C-contiguous (a copy if x was not)
        bins = planes[:, :, flat]  # (N, C, OH, OW, KH*KW)
        k = bins.argmax(axis=-1)  # (N, C, OH, OW): the first max within each bin
        oh = xp.arange(OH)[:, None]  # (OH, 1)
        ow = xp.arange(OW)[None, :]  # (1, OW)
        argmax = flat[oh, ow, k]  # (N, C, OH, OW) flat index into the input plane
        nan = xp.isnan(bins)  # (N, C, OH, OW, KH*KW)
        if bool(nan.any()):  # torch keeps the last NaN of a bin (flat grows in bin order)
            last_nan = xp.where(nan, flat, -1).max(axis=-1)  # (N, C, OH, OW), -1: no NaN
            argmax = xp.where(last_nan >= 0, last_nan, argmax)
        n = xp.arange(N)[:, None, None, None]  # (N, 1, 1, 1)
        c = xp.arange(C)[None, :, None, None]  # (1, C, 1, 1)
        # one flat index into x for the backward's scatter: (n C + c) H W + h W + w
        self.index = (((n * C + c) * (H * W) + argmax).reshape(-1),)  # (N*C*OH*OW,)
        if indices_out is not None:  # return_indices=True: hand the argmax to the caller
            indices_out.append(argmax)  # int64, like torch
        return planes.reshape(-1)[self.index].reshape(N, C, OH, OW)

    def backward(self, dy):
        (x,) = self.inputs
        dx = index_put_zeros(reshape(dy, -1), self.index, (x.numel(),))  # (N*C*H*W,)
        return reshape(dx, x.shape)  # (N, C, H, W)


def _float_input(op: str, x, layout: str, ndims: tuple) -> None:
    """A Tensor of ``ndims`` dims (``layout`` names them), floating point; errors in the
    caller's terms."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ValueError(f"{op}: expected {layout} input, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype} (x: "
                        f"{tuple(x.shape)})")


def _pool_input(op: str, x, layout: str, ndims: tuple) -> None:
    """torch's input rules for adaptive max and 3-d pooling, in the caller's terms: a Tensor of
    ``ndims`` dims (``layout`` names them), floating point, no empty dim but the batch."""
    _float_input(op, x, layout, ndims)
    non_batch = x.shape[1:] if x.ndim == ndims[1] else x.shape
    if 0 in non_batch:
        raise ValueError(f"{op}: expected a non-empty input apart from the batch dim, got shape "
                         f"{tuple(x.shape)}")


def _adaptive_output_pair(op: str, output_size) -> tuple:
    """``output_size`` as an (OH, OW) pair: an int (both), or a pair of ints where None keeps
    that input size (left as None here). Sizes must be >= 1 (torch allows 0 and returns an
    empty tensor; we refuse it, as ``adaptive_avg_pool2d`` does)."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    pair = (output_size, output_size) if is_int(output_size) else output_size
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
        v is None or is_int(v) for v in pair)
    if not ok:
        raise ValueError(f"{op}: output_size must be an int or a pair (OH, OW) of ints or None "
                         f"(None keeps that input size), got {output_size!r}")
    pair = tuple(None if v is None else int(v) for v in pair)
    if any(v is not None and v < 1 for v in pair):
        raise ValueError(f"{op}: output_size must be >= 1, got {output_size!r}")
    return pair


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """``torch.nn.functional.adaptive_max_pool2d``: (N, C, H, W) -> (N, C, OH, OW) (or
    (C, H, W) -> (C, OH, OW)); y = the max of each bin [floor(i H / OH), ceil((i + 1) H / OH))
    x [floor(j W / OW), ceil((j + 1) W / OW)); dx = dy scattered to each bin's argmax.
    ``output_size``: an int or a pair, None keeps that size. With ``return_indices`` also the
    argmax (int64, flat h W + w per plane, as torch's).

    >>> import tinygrad_edu as tg
    >>> y, i = adaptive_max_pool2d(tg.tensor([[[1.0, 5.0, 2.0], [4.0, 3.0, 6.0]]]), (1, 2),
    ...                            return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[5.0, 6.0]]], [[[1, 5]]])
    """
    op = "adaptive_max_pool2d"
    _pool_input(op, input, "a 3-d (C, H, W) or 4-d (N, C, H, W)", (3, 4))
    pair = _adaptive_output_pair(op, output_size)
    input, unbatched = _batched(op, input)
    output_size = tuple(input.shape[2 + i] if s is None else s for i, s in enumerate(pair))
    indices_out: list = []
    y = AdaptiveMaxPool2d.apply(input, output_size=output_size, indices_out=indices_out)
    return _pooled(y, indices_out, unbatched, return_indices)


# ----------------------------------------------------------------------------------------------
# 1-d pooling: the 2-d ops on a height of 1 (kernel (1, K)), like conv1d
# ----------------------------------------------------------------------------------------------


def _pool1d_args(op: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a 1-d pooling call in 1-d terms (torch's rules: K, S, D >= 1, 0 <= P <= K // 2, at
    least one window) and return (K, S, P, D) as ints. The (C, L) or (N, C, L) input is
    checked here too, so the 2-d op never has to explain a shape the caller did not pass."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape "
                         f"{tuple(x.shape)}")
    K = _single(op, "kernel_size", kernel_size)
    stride = pool_stride(op, kernel_size, stride)
    S = _single(op, "stride", stride)
    P = _single(op, "padding", padding)
    D = _single(op, "dilation", dilation)
    for name, value in (("kernel_size", K), ("stride", S), ("dilation", D)):
        if value < 1:
            raise ValueError(f"{op}: {name} must be >= 1, got {value}")
    if P < 0 or P > K // 2:
        raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got "
                         f"pad={P}, kernel_size={K} (torch's rule: 0 <= padding <= "
                         f"kernel_size // 2)")
    L = x.shape[-1]
    extra = S - 1 if ceil_mode else 0
    OL = (L + 2 * P - D * (K - 1) - 1 + extra) // S + 1
    if ceil_mode and (OL - 1) * S >= L + P:  # the last window may not start in the padding
        OL -= 1
    if OL < 1:
        raise ValueError(f"{op}: kernel_size {K} with stride {S}, padding {P} and dilation {D} "
                         f"gives output length {OL} for input of length {L} (x: "
                         f"{tuple(x.shape)}); it must be at least 1")
    return K, S, P, D


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool1d``: (N, C, L) -> (N, C, OL) (or (C, L) -> (C, OL)),
    OL = (L + 2 P - D (K - 1) - 1) // S + 1; y[n, c, ol] = max of x[n, c, ol S - P + k D];
    dx = dy scattered to each window's argmax. With ``return_indices`` also the argmax, an
    index into L (torch's). Runs as max_pool2d on a height of 1 (x (N, C, 1, L), kernel (1, K)).
    """
    K, S, P, D = _pool1d_args("max_pool1d", input, kernel_size, stride, padding, dilation,
                              ceil_mode)
    out = max_pool2d(input.unsqueeze(-2), (1, K), (1, S), (0, P), (1, D), ceil_mode,
                     return_indices)  # (N, C, 1, OL)
    if not return_indices:
        return out.squeeze(-2)  # (N, C, OL)
    y, argmax = out
    return y.squeeze(-2), argmax.squeeze(-2)  # the flat h W + w of a height of 1 is w


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """``torch.nn.functional.avg_pool1d``: y[n, c, ol] = the window's sum / K (or / the number
    of input entries in it when ``count_include_pad=False``); dx = dy spread evenly over the
    window. Runs as avg_pool2d on a height of 1."""
    K, S, P, _ = _pool1d_args("avg_pool1d", input, kernel_size, stride, padding, 1, ceil_mode)
    y = avg_pool2d(input.unsqueeze(-2), (1, K), (1, S), (0, P), ceil_mode,
                   count_include_pad)  # (N, C, 1, OL)
    return y.squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:  # noqa: A002 - torch names
    """``torch.nn.functional.adaptive_avg_pool1d``: (N, C, L) -> (N, C, OL), bin i averaging
    x[floor(i L / OL) : ceil((i + 1) L / OL)]; runs as adaptive_avg_pool2d on a height of 1."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-d (C, L) or 3-d (N, C, L) input, "
                         f"got {got}")
    if input.shape[-1] == 0:
        raise ValueError(f"adaptive_avg_pool1d: expected a non-empty length L, got shape "
                         f"{tuple(input.shape)}")
    OL = _single("adaptive_avg_pool1d", "output_size", output_size)
    if OL < 1:
        raise ValueError(f"adaptive_avg_pool1d: output_size must be >= 1, got {OL}")
    y = adaptive_avg_pool2d(input.unsqueeze(-2), (1, OL))  # (N, C, 1, OL)
    return y.squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """``torch.nn.functional.adaptive_max_pool1d``: (N, C, L) -> (N, C, OL) (or (C, L) ->
    (C, OL)), y = the max of x[floor(i L / OL) : ceil((i + 1) L / OL)]; dx = dy scattered to
    each bin's argmax. With ``return_indices`` also the argmax, an index into L (int64).
    Runs as adaptive_max_pool2d on a height of 1 (x (N, C, 1, L), output (1, OL))."""
    op = "adaptive_max_pool1d"
    _pool_input(op, input, "a 2-d (C, L) or 3-d (N, C, L)", (2, 3))
    OL = _single(op, "output_size", output_size)
    if OL < 1:
        raise ValueError(f"{op}: output_size must be >= 1, got {OL}")
    out = adaptive_max_pool2d(input.unsqueeze(-2), (1, OL), return_indices)  # (N, C, 1, OL)
    if not return_indices:
        return out.squeeze(-2)  # (N, C, OL)
    y, argmax = out
    return y.squeeze(-2), argmax.squeeze(-2)  # the flat h W + w of a height of 1 is w
