"""Convolution layers (torch.nn.Conv1d / Conv2d / Conv3d / ConvTranspose1d / ConvTranspose2d /
ConvTranspose3d): parameters + ``functional.conv``.

``padding_mode`` other than "zeros" works as in torch: the input is first padded with
``F.pad(x, ..., mode=padding_mode)`` ('reflect', 'replicate' or 'circular'), then convolved
with padding 0."""

from __future__ import annotations

import math
import numbers

from ..functional.conv import (
    _pair,
    _single,
    _triple,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    same_padding,
)
from ..functional.shape import pad
from ..tensor import Tensor, empty
from . import init
from .module import Module, Parameter, check_input_dtype

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(name: str, padding_mode: str) -> None:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, but got "
                         f"padding_mode={padding_mode!r}")


def _pad_input(layer: Module, x: Tensor, padding: tuple) -> Tensor:
    """x padded by ``padding`` (one (before, after) pair per spatial dim) with
    ``layer.padding_mode``, the convolution's own padding then being 0 (torch's order):
    F.pad takes (left, right) of the last dim first, so the pairs are reversed."""
    widths = ()
    for before, after in reversed(padding):
        widths += (before, after)
    try:
        return pad(x, widths, mode=layer.padding_mode)
    except ValueError as error:
        raise ValueError(f"{layer._describe()} with padding_mode={layer.padding_mode!r}: "
                         f"{error}") from None


class _ConvNd(Module):
    """Shared parameter set-up and argument checks of Conv1d/2d/3d and ConvTranspose1d/2d/3d:
    ``dims`` spatial dims, every window argument a tuple of ``dims`` ints."""

    transposed = False
    dims = 2  # spatial dims: 1 for Conv1d and ConvTranspose1d, 3 for Conv3d and ConvTranspose3d

    def _window(self, name: str, what: str, value) -> tuple:
        """An int or a tuple of ``dims`` ints as a tuple of ``dims`` ints."""
        if self.dims == 1:
            return (_single(name, what, value),)
        if self.dims == 3:
            return _triple(name, what, value)
        return _pair(name, what, value)

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, device, dtype, output_padding=0, padding_mode="zeros"):
        super().__init__()
        name = type(self).__name__
        _check_padding_mode(name, padding_mode)
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got '
                             f"padding_mode={padding_mode!r}")
        self.padding_mode = padding_mode
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
        in_channels, out_channels = int(in_channels), int(out_channels)  # NumPy ints too
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups <= 0 \
                or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups!r} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels} (a positive int)")
        groups = int(groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = self._window(name, "kernel_size", kernel_size)
        self.stride = self._window(name, "stride", stride)
        self.padding = padding if isinstance(padding, str) else \
            self._window(name, "padding", padding)
        self.dilation = self._window(name, "dilation", dilation)
        self.output_padding = self._window(name, "output_padding", output_padding)
        self._check_window()
        if self.transposed:  # (C_in, C_out/groups, KH, KW), or (C_in, C_out/groups, K) in 1-d
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:  # (C_out, C_in/groups, KH, KW), or (C_out, C_in/groups, K) in 1-d
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _check_window(self) -> None:
        """Refuse, when the layer is built, arguments no input could make work (torch finds
        most of these only in the first forward)."""
        name = type(self).__name__
        for what in ("kernel_size", "stride", "dilation"):
            value = getattr(self, what)
            if min(value) < 1:
                raise ValueError(f"{name}: {what} must be >= 1, got {value}")
        if isinstance(self.padding, str):
            ints = {1: "an int or a 1-tuple of an int", 2: "an int or a pair of ints",
                    3: "an int or a triple of ints"}[self.dims]
            if self.transposed:
                convs = "Conv1d and Conv2d" if self.dims < 3 else "Conv1d, Conv2d and Conv3d"
                raise ValueError(f"{name}: padding must be {ints} (padding strings are for "
                                 f"{convs} only), got {self.padding!r}")
            if self.padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {self.padding!r}, should be "
                                 f"one of 'same', 'valid' (or {ints})")
            if self.padding == "same":  # strided: an error
                self._same_padding()
        elif min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be >= 0, got {self.padding}")
        if self.transposed:
            limits = [max(s, d) for s, d in zip(self.stride, self.dilation, strict=True)]
            if not all(0 <= p < limit for p, limit in zip(self.output_padding, limits,
                                                           strict=True)):
                raise ValueError(
                    f"{name}: output_padding must be >= 0 and smaller than stride or dilation "
                    f"in each dim, got output_padding {self.output_padding} with stride "
                    f"{self.stride} and dilation {self.dilation}"
                )

    def _same_padding(self) -> tuple:
        """The padding of ``padding="same"``, a (before, after) pair per spatial dim: after is
        one more than before where D (K - 1) is odd (see ``same_padding``)."""
        return same_padding(type(self).__name__, self.kernel_size, self.stride, self.dilation)

    def reset_parameters(self) -> None:
        """torch's default: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        with fan_in = weight.shape[1] * KH * KW (K in 1-d, KD * KH * KW in 3-d); b ~ the same
        uniform."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[self.dims]
        if x.ndim not in (self.dims + 1, self.dims + 2) or \
                x.shape[-self.dims - 1] != self.in_channels:
            raise ValueError(
                f"{self._describe()}: expected input (N, {self.in_channels}, {spatial}) or "
                f"({self.in_channels}, {spatial}), got shape {tuple(x.shape)}"
            )
        check_input_dtype(self, x, self.weight)

    def _convolve(self, x: Tensor, conv) -> Tensor:
        """The layer's forward with ``conv`` (conv1d, conv2d or conv3d): in a padding mode other
        than zeros, x is padded in that mode first and the convolution pads nothing (torch's
        order)."""
        self._check_input(x)
        if self.padding_mode != "zeros":
            return conv(self._padded(x), self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)
        return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)

    def _padded(self, x: Tensor) -> Tensor:
        """x padded in ``padding_mode`` by the layer's padding (a mode other than zeros)."""
        if self.padding == "same":
            padding = self._same_padding()
        else:
            padding = (0,) * self.dims if self.padding == "valid" else self.padding
            padding = tuple((p, p) for p in padding)
        return _pad_input(self, x, padding)  # (N, C, H + PT + PB, W + PL + PR), (N, C, L + ...)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.dims:  # strings unquoted, as torch: padding=same
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.transposed and self.output_padding != (0,) * self.dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    """Conv1d/2d/3d: torch's constructor, and a forward that runs ``convolution`` (the
    functional conv of ``dims`` spatial dims, set by each layer) after the layer's padding
    mode."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, padding_mode=padding_mode)

    def forward(self, input: Tensor) -> Tensor:
        return self._convolve(input, self.convolution)


class _ConvTranspose(_ConvNd):
    """ConvTranspose1d/2d/3d: torch's constructor (output_padding; dilation after bias), and a
    forward that runs ``convolution`` (the functional transposed conv of ``dims`` dims, set
    by each layer). ``forward(input, output_size)`` picks the output_padding that gives that
    size, as torch does (stride > 1 leaves S choices of output size).

    >>> import tinygrad_edu as tg
    >>> up = ConvTranspose2d(8, 4, 3, stride=2, padding=1)
    >>> up(tg.randn(2, 8, 7, 7)).shape, up(tg.randn(2, 8, 7, 7), output_size=(14, 14)).shape
    ((2, 4, 13, 13), (2, 4, 14, 14))
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, output_padding, padding_mode)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(input, output_size)
        return self.convolution(input, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        """The output_padding that gives the requested ``output_size`` (torch's rule): the
        spatial sizes, or the whole output shape, each between the smallest output
        O_min = (I - 1) S - 2 P + D (K - 1) + 1 and O_min + S - 1; output_padding = O - O_min."""
        name = type(self).__name__
        spatial = tuple(x.shape[-self.dims:])  # (H, W), (L,) or (D, H, W)
        non_spatial = x.ndim - self.dims  # 2 with a batch dim, 1 without
        output_size = tuple(int(size) for size in output_size)
        if len(output_size) == non_spatial + self.dims:
            output_size = output_size[non_spatial:]
        if len(output_size) != self.dims:
            raise ValueError(f"{name}: for {x.ndim}D input, output_size must have {self.dims} "
                             f"or {non_spatial + self.dims} elements (got {len(output_size)})")
        min_sizes = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in zip(
            spatial, self.stride, self.padding, self.dilation, self.kernel_size, strict=True))
        max_sizes = tuple(lo + s - 1 for lo, s in zip(min_sizes, self.stride, strict=True))
        if not all(lo <= size <= hi for size, lo, hi in zip(output_size, min_sizes, max_sizes,
                                                            strict=True)):
            raise ValueError(f"{name}: requested an output size of {output_size}, but valid "
                             f"sizes range from {min_sizes} to {max_sizes} (for an input of "
                             f"{spatial})")
        return tuple(size - lo for size, lo in zip(output_size, min_sizes, strict=True))


class Conv2d(_Conv):
    """2-d convolution (cross-correlation) over NCHW input, as ``torch.nn.Conv2d``:
    y = conv2d(x, W, b) computed as im2col + one matrix product (see functional/conv.py).
    ``padding_mode`` 'reflect', 'replicate' or 'circular' pads x with F.pad in that mode first
    (then the convolution pads nothing).

    >>> import tinygrad_edu as tg
    >>> Conv2d(1, 6, 5)(tg.randn(8, 1, 28, 28)).shape
    (8, 6, 24, 24)
    """

    convolution = staticmethod(conv2d)


class ConvTranspose2d(_ConvTranspose):
    """The transpose of Conv2d (``torch.nn.ConvTranspose2d``), e.g. for upsampling decoders:
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1.

    >>> import tinygrad_edu as tg
    >>> ConvTranspose2d(8, 4, 4, stride=2, padding=1)(tg.randn(2, 8, 7, 7)).shape
    (2, 4, 14, 14)
    """

    convolution = staticmethod(conv_transpose2d)


class Conv1d(_Conv):
    """1-d convolution (cross-correlation) over (N, C, L) input, as ``torch.nn.Conv1d``:
    weight (out_channels, in_channels / groups, kernel_size), y = conv1d(x, W, b), run as a
    Conv2d on a height of 1 (``functional.conv1d``). The arguments are ints (or 1-tuples);
    ``padding`` may be "same" or "valid"; ``padding_mode`` as in Conv2d.

    >>> import tinygrad_edu as tg
    >>> Conv1d(4, 8, 3, padding=1)(tg.randn(2, 4, 10)).shape
    (2, 8, 10)
    """

    dims = 1
    convolution = staticmethod(conv1d)


class ConvTranspose1d(_ConvTranspose):
    """The transpose of Conv1d (``torch.nn.ConvTranspose1d``), e.g. for upsampling audio or
    sequence decoders: weight (in_channels, out_channels / groups, kernel_size),
    OL = (L - 1) S - 2 P + D (K - 1) + output_padding + 1, run as a ConvTranspose2d on a
    height of 1 (``functional.conv_transpose1d``). The arguments are ints (or 1-tuples).

    >>> import tinygrad_edu as tg
    >>> ConvTranspose1d(8, 4, 4, stride=2, padding=1)(tg.randn(2, 8, 7)).shape
    (2, 4, 14)
    """

    dims = 1
    convolution = staticmethod(conv_transpose1d)


class Conv3d(_Conv):
    """3-d (volumetric) convolution (cross-correlation) over (N, C, D, H, W) or (C, D, H, W)
    input, as ``torch.nn.Conv3d``: weight (out_channels, in_channels / groups, KD, KH, KW),
    y = conv3d(x, W, b) = W @ im2col3d(x) + b (``functional.conv3d``),
    OD = (D + 2 PD - DD (KD - 1) - 1) // SD + 1 (OH, OW alike). ``padding`` may be "same" or
    "valid"; ``padding_mode`` as in Conv2d (the last three dims padded first).

    >>> import tinygrad_edu as tg
    >>> Conv3d(3, 4, (3, 3, 3), padding=1)(tg.randn(2, 3, 5, 6, 7)).shape
    (2, 4, 5, 6, 7)
    """

    dims = 3
    convolution = staticmethod(conv3d)


class ConvTranspose3d(_ConvTranspose):
    """The transpose of Conv3d (``torch.nn.ConvTranspose3d``), e.g. for volumetric decoders:
    weight (in_channels, out_channels / groups, KD, KH, KW),
    OD = (D - 1) SD - 2 PD + DD (KD - 1) + output_padding + 1 (OH, OW alike).

    >>> import tinygrad_edu as tg
    >>> ConvTranspose3d(8, 4, 4, stride=2, padding=1)(tg.randn(2, 8, 3, 4, 5)).shape
    (2, 4, 6, 8, 10)
    """

    dims = 3
    convolution = staticmethod(conv_transpose3d)
