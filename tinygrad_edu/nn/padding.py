"""Padding layers (torch.nn.ZeroPad1d/2d/3d, ConstantPad1d/2d/3d, ReflectionPad1d/2d/3d,
ReplicationPad1d/2d/3d, CircularPad1d/2d/3d): thin Modules over ``functional.pad``.

``padding`` is an int (the same on every side) or a tuple in F.pad's order: (left, right) for
1-d, (left, right, top, bottom) for 2-d, (left, right, top, bottom, front, back) for 3-d. The
layer keeps it as that tuple (its repr shows it). The gradient of every mode is the adjoint of
its copy: constant padding crops dy; reflect, replicate and circular add each padded entry's dy
back onto the entry it copied.

>>> import tinygrad_edu as tg
>>> ReflectionPad1d(2)(tg.tensor([[0.0, 1.0, 2.0, 3.0]])).tolist()
[[2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
"""

from __future__ import annotations

import numbers

from ..functional import pad
from ..tensor import Tensor
from .module import Module


def _padding_tuple(layer: str, padding, n: int) -> tuple:
    """torch's ``_pair`` / ``_quadruple``: an int repeated n times, or a tuple of n ints."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * n
    if isinstance(padding, (tuple, list)) and len(padding) == n:
        return tuple(padding)
    raise ValueError(f"{layer}: padding must be an int or a tuple of {n} ints, got {padding!r}")


class _PadNd(Module):
    """What every padding layer shares: ``padding`` as a tuple of 2 * dims ints, one F.pad
    mode, and torch's repr (the padding tuple)."""

    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding_tuple(type(self).__name__, padding, 2 * self.dims)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, mode=self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Pad with ``value``: y = x in the middle, ``value`` around it; dx = dy cropped."""

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (*, L) -> (*, left + L + right)."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: (*, H, W) -> (*, top + H + bottom, left + W +
    right)."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: (*, D, H, W) -> (*, front + D + back,
    top + H + bottom, left + W + right)."""

    dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros (ConstantPad1d with value 0)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros (ConstantPad2d with value 0)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros (ConstantPad3d with value 0).

    >>> import tinygrad_edu as tg
    >>> ZeroPad3d((1, 0, 0, 2, 1, 1))(tg.ones(1, 2, 3, 4, 5)).shape
    (1, 2, 5, 6, 6)
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror (C, L) or (N, C, L) at its ends without repeating the edge:
    [0 1 2 3] -> [2 1 | 0 1 2 3 | 2 1]; each pad must be < L."""

    mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror (C, H, W) or (N, C, H, W) at its borders without repeating the edge."""

    mode = "reflect"
    dims = 2


class ReflectionPad3d(_PadNd):
    """Mirror (C, D, H, W) or (N, C, D, H, W) at its borders without repeating the edge; each
    pad must be smaller than the size of its dim."""

    mode = "reflect"
    dims = 3


class ReplicationPad1d(_PadNd):
    """Repeat the edge entries of (C, L) or (N, C, L): [0 1 2 3] -> [0 0 | 0 1 2 3 | 3 3]."""

    mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the border entries of (C, H, W) or (N, C, H, W)."""

    mode = "replicate"
    dims = 2


class ReplicationPad3d(_PadNd):
    """Repeat the border entries of (C, D, H, W) or (N, C, D, H, W)."""

    mode = "replicate"
    dims = 3


class CircularPad1d(_PadNd):
    """Wrap (C, L) or (N, C, L) around: [0 1 2 3] -> [2 3 | 0 1 2 3 | 0 1]; each pad <= L."""

    mode = "circular"


class CircularPad2d(_PadNd):
    """Wrap (C, H, W) or (N, C, H, W) around in both dims (a torus)."""

    mode = "circular"
    dims = 2


class CircularPad3d(_PadNd):
    """Wrap (C, D, H, W) or (N, C, D, H, W) around in all three dims; each pad <= its size."""

    mode = "circular"
    dims = 3
