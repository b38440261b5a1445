"""Convolution layers (torch.nn.Conv1d / Conv2d / ConvTranspose2d): parameters +
``functional.conv``.

``padding_mode`` other than "zeros" works as in torch: the input is first padded with
``F.pad(x, ..., mode=padding_mode)`` ('reflect', 'replicate' or 'circular'), then convolved
with padding 0."""

from __future__ import annotations

import math

from ..functional.conv import _pair, _single, conv1d, conv2d, conv_transpose2d, same_padding
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
    """x padded by ``padding`` (one int per spatial dim, both sides) with
    ``layer.padding_mode``, the convolution's own padding then being 0 (torch's order):
    F.pad takes (left, right) of the last dim first, so the pairs are reversed."""
    widths = ()
    for p in reversed(padding):
        widths += (p, p)
    try:
        return pad(x, widths, mode=layer.padding_mode)
    except ValueError as error:
        raise ValueError(f"{layer._describe()} with padding_mode={layer.padding_mode!r}: "
                         f"{error}") from None


class _ConvNd(Module):
    """Shared parameter set-up and argument checks of Conv2d and ConvTranspose2d."""

    transposed = False

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
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(name, "kernel_size", kernel_size)
        self.stride = _pair(name, "stride", stride)
        self.padding = padding if isinstance(padding, str) else _pair(name, "padding", padding)
        self.dilation = _pair(name, "dilation", dilation)
        self.output_padding = _pair(name, "output_padding", output_padding)
        self._check_window()
        if self.transposed:  # (C_in, C_out/groups, KH, KW), torch's layout
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:  # (C_out, C_in/groups, KH, KW)
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
            if self.transposed:
                raise ValueError(f"{name}: padding must be an int or a pair of ints (padding "
                                 f"strings are for Conv2d only), got {self.padding!r}")
            if self.padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {self.padding!r}, should be "
                                 "one of 'same', 'valid' (or an int or a pair of ints)")
            if self.padding == "same":  # strided or even effective kernel: an error
                same_padding(name, self.kernel_size, self.stride, self.dilation)
        elif min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be >= 0, got {self.padding}")
        if self.transposed:
            limit = (max(self.stride[0], self.dilation[0]), max(self.stride[1], self.dilation[1]))
            if min(self.output_padding) < 0 or self.output_padding[0] >= limit[0] or \
                    self.output_padding[1] >= limit[1]:
                raise ValueError(
                    f"{name}: output_padding must be >= 0 and smaller than stride or dilation "
                    f"in each dim, got output_padding {self.output_padding} with stride "
                    f"{self.stride} and dilation {self.dilation}"
                )

    def reset_parameters(self) -> None:
        """torch's default: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        with fan_in = weight.shape[1] * KH * KW; b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}): expected input "
                f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W), got shape "
                f"{tuple(x.shape)}"
            )
        check_input_dtype(self, x, self.weight)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.transposed and self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """2-d convolution (cross-correlation) over NCHW input, as ``torch.nn.Conv2d``:
    y = conv2d(x, W, b) computed as im2col + one matrix product (see functional/conv.py).
    ``padding_mode`` 'reflect', 'replicate' or 'circular' pads x with F.pad in that mode first
    (then the convolution pads nothing).

    >>> import tinygrad_edu as tg
    >>> Conv2d(1, 6, 5)(tg.randn(8, 1, 28, 28)).shape
    (8, 6, 24, 24)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, padding_mode=padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if self.padding_mode != "zeros":
            if self.padding == "same":
                padding = same_padding("Conv2d", self.kernel_size, self.stride, self.dilation)
            else:
                padding = (0, 0) if self.padding == "valid" else self.padding
            x = _pad_input(self, x, padding)  # (N, C, H + 2 PH, W + 2 PW)
            return conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                          self.groups)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)


class ConvTranspose2d(_ConvNd):
    """The transpose of Conv2d (``torch.nn.ConvTranspose2d``), e.g. for upsampling decoders:
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1.

    >>> import tinygrad_edu as tg
    >>> ConvTranspose2d(8, 4, 4, stride=2, padding=1)(tg.randn(2, 8, 7, 7)).shape
    (2, 4, 14, 14)
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, output_padding, padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)


class Conv1d(Module):
    """1-d convolution (cross-correlation) over (N, C, L) input, as ``torch.nn.Conv1d``:
    weight (out_channels, in_channels / groups, kernel_size), y = conv1d(x, W, b), run as a
    Conv2d on a height of 1 (``functional.conv1d``). The arguments are ints (or 1-tuples);
    ``padding`` may be "same" or "valid"; ``padding_mode`` as in Conv2d.

    >>> import tinygrad_edu as tg
    >>> Conv1d(4, 8, 3, padding=1)(tg.randn(2, 4, 10)).shape
    (2, 8, 10)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        _check_padding_mode("Conv1d", padding_mode)
        self.padding_mode = padding_mode
        K = _single("Conv1d", "kernel_size", kernel_size)
        self.kernel_size = (K,)
        self.stride = (_single("Conv1d", "stride", stride),)
        self.padding = padding if isinstance(padding, str) else \
            (_single("Conv1d", "padding", padding),)
        self.dilation = (_single("Conv1d", "dilation", dilation),)
        try:  # the argument checks of the Conv2d on a (1, K) window that it runs as
            Conv2d(in_channels, out_channels, (1, K), (1,) + self.stride,
                   padding if isinstance(padding, str) else (0,) + self.padding,
                   (1,) + self.dilation, groups, bias=False, device="cpu")
        except ValueError as error:
            raise ValueError(f"Conv1d, as a Conv2d on a (1, K) window: {error}") from None
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.weight = Parameter(empty(out_channels, in_channels // groups, K, dtype=dtype,
                                      device=device))  # (OC, C/groups, K), torch's layout
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b, fan_in = C/g * K."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * self.kernel_size[0])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Conv1d: expected a Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3) or x.shape[-2] != self.in_channels:
            raise ValueError(
                f"{self._describe()}: expected input (N, {self.in_channels}, L) or "
                f"({self.in_channels}, L), got shape {tuple(x.shape)}"
            )
        check_input_dtype(self, x, self.weight)
        if self.padding_mode != "zeros":
            if self.padding == "same":  # odd D (K - 1), checked when the layer was built
                padding = (self.dilation[0] * (self.kernel_size[0] - 1) // 2,)
            else:
                padding = (0,) if self.padding == "valid" else self.padding
            x = _pad_input(self, x, padding)  # (N, C, L + 2 P)
            return conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                          self.groups)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def _describe(self) -> str:
        return f"Conv1d({self.in_channels}, {self.out_channels})"

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0,), "valid"):
            text += f", padding={self.padding!r}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text
