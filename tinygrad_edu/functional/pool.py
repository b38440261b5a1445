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
from ..tensor import Tensor
from .conv import _batched
from .shape import reshape

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
        return max_pool_scatter(dy, self.argmax, x.shape)


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


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """``torch.nn.functional.max_pool2d``: (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults
    to ``kernel_size``; with ``return_indices`` also the argmax (flat h*W + w per plane)."""
    x, unbatched = _batched("max_pool2d", x)
    stride = pool_stride("max_pool2d", kernel_size, stride)
    indices_out: list = []
    y = MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation, ceil_mode=ceil_mode, indices_out=indices_out)
    if unbatched:
        y = reshape(y, y.shape[1:])
    if not return_indices:
        return y
    argmax = indices_out[0]
    return y, Tensor._wrap(argmax[0] if unbatched else argmax)


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


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """``torch.nn.functional.avg_pool2d`` (``divisor_override`` is not supported)."""
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d: divisor_override is not supported")
    x, unbatched = _batched("avg_pool2d", x)
    stride = pool_stride("avg_pool2d", kernel_size, stride)
    y = AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
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


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """``torch.nn.functional.adaptive_avg_pool2d``; ``None`` in output_size keeps that size."""
    x, unbatched = _batched("adaptive_avg_pool2d", x)
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    output_size = tuple(x.shape[2 + i] if s is None else int(s) for i, s in enumerate(output_size))
    y = AdaptiveAvgPool2d.apply(x, output_size=output_size)
    return reshape(y, y.shape[1:]) if unbatched else y
