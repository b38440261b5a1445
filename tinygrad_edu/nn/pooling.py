"""Pooling layers (torch.nn.MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d,
AdaptiveMaxPool1d/2d/3d), over ``functional.pool`` (the 1-d layers run the 2-d ops on a height
of 1) and ``functional.pool3d``."""

from __future__ import annotations

from ..functional.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    pool_stride,
)
from ..functional.pool3d import (
    adaptive_avg_pool3d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
)
from ..tensor import Tensor
from .module import Module


class MaxPool2d(Module):
    """Max over each KH x KW window (padding counts as -inf); the gradient goes to the argmax.

    >>> import tinygrad_edu as tg
    >>> MaxPool2d(2)(tg.randn(1, 3, 8, 6)).shape
    (1, 3, 4, 3)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = pool_stride("MaxPool2d", kernel_size, stride)
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, input: Tensor):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over each window (torch's ``count_include_pad`` and ``ceil_mode`` rules)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = pool_stride("AvgPool2d", kernel_size, stride)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average into a fixed output size (bins [floor(i H/OH), ceil((i+1) H/OH)))."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max into a fixed output size over torch's adaptive bins [floor(i H/OH), ceil((i+1) H/OH))
    x [floor(j W/OW), ceil((j+1) W/OW)) (they overlap when OH does not divide H); the gradient
    goes to each bin's argmax. ``output_size``: an int or a pair, None keeps that input size;
    with ``return_indices`` the layer also returns the argmax (flat h W + w per plane).

    >>> import tinygrad_edu as tg
    >>> AdaptiveMaxPool2d((3, None))(tg.randn(1, 2, 8, 6)).shape
    (1, 2, 3, 6)
    """

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(Module):
    """Max over each window of K along L (padding counts as -inf); the gradient goes to the
    argmax. (N, C, L) -> (N, C, OL), OL = (L + 2 P - D (K - 1) - 1) // S + 1.

    >>> import tinygrad_edu as tg
    >>> MaxPool1d(2)(tg.randn(1, 3, 9)).shape
    (1, 3, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = pool_stride("MaxPool1d", kernel_size, stride)
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, input: Tensor):
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


def _one_tuple(value) -> tuple:
    """torch's ``_single``: AvgPool1d keeps its arguments as 1-tuples (its repr shows them)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class AvgPool1d(Module):
    """Mean over each window of K along L (torch's ``count_include_pad`` and ``ceil_mode``
    rules); dx = dy / divisor spread over the window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _one_tuple(kernel_size)
        self.stride = _one_tuple(pool_stride("AvgPool1d", kernel_size, stride))
        self.padding = _one_tuple(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average (N, C, L) into (N, C, OL) bins [floor(i L/OL), ceil((i+1) L/OL))."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max of (N, C, L) into (N, C, OL) bins [floor(i L/OL), ceil((i+1) L/OL)); the gradient
    goes to each bin's argmax; with ``return_indices`` also the argmax (an index into L)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool3d(Module):
    """Max over each KD x KH x KW window of (N, C, D, H, W) or (C, D, H, W) input (padding
    counts as -inf); the gradient goes to the argmax. With ``return_indices`` the layer also
    returns the argmax (flat d H W + h W + w per plane, as torch's).

    >>> import tinygrad_edu as tg
    >>> MaxPool3d(2)(tg.randn(1, 3, 5, 6, 7)).shape
    (1, 3, 2, 3, 3)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = pool_stride("MaxPool3d", kernel_size, stride)
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, input: Tensor):
        return max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(Module):
    """Mean over each KD x KH x KW window (torch's ``count_include_pad``, ``ceil_mode`` and
    ``divisor_override`` rules); dx = dy / divisor spread over the window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = pool_stride("AvgPool3d", kernel_size, stride)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(Module):
    """Average (N, C, D, H, W) into (N, C, OD, OH, OW) bins [floor(i D/OD), ceil((i+1) D/OD))
    x ... (H, W alike); ``output_size`` an int or a triple, None keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool3d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(Module):
    """Max of (N, C, D, H, W) into (N, C, OD, OH, OW) over torch's adaptive bins; the gradient
    goes to each bin's argmax; with ``return_indices`` also the argmax (flat d H W + h W + w
    per plane)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return adaptive_max_pool3d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
