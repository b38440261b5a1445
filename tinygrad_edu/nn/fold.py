"""Layers that rearrange or resample pixels without weights: ``Unfold`` / ``Fold`` (sliding
blocks, around ``nn.functional.unfold`` / ``fold``), ``ChannelShuffle`` (ShuffleNet) and the
fixed-mode upsamplers ``UpsamplingNearest2d`` / ``UpsamplingBilinear2d`` (around ``Upsample``).
"""

from __future__ import annotations

import numbers

from ..tensor import Tensor

# nn.functional, not its names: nn.functional may re-export channel_shuffle from this module,
# so its names are read when a layer runs, after both modules have finished importing
from . import functional as NF
from .module import Module
from .upsampling import Upsample


def _pair(op: str, name: str, value, low: int) -> tuple[int, int]:
    """``value`` as an (h, w) pair of ints >= ``low`` (one int stands for both), or an error
    that names the layer and the argument."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    pair = (value, value) if is_int else value
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)
    if not ok:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints (h, w), got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _sliding_blocks(op: str, image: str, size, kernel_size, dilation, padding,
                    stride) -> tuple[int, int]:
    """(OH, OW): how many blocks fit along H and W of an image of ``size`` (H, W),
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1 (OW alike); an error if one is below 1
    (``image`` names that image in it)."""
    (H, W), (KH, KW) = size, _pair(op, "kernel_size", kernel_size, 1)
    (DH, DW), (PH, PW) = _pair(op, "dilation", dilation, 1), _pair(op, "padding", padding, 0)
    SH, SW = _pair(op, "stride", stride, 1)
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: kernel_size {(KH, KW)} with dilation {(DH, DW)} and padding "
                         f"{(PH, PW)} does not fit {image} {(H, W)}: stride {(SH, SW)} gives "
                         f"{OH} x {OW} sliding blocks, at least 1 x 1 needed")
    return OH, OW


def _shape(x: Tensor) -> tuple:
    return tuple(x.shape)


# ----------------------------------------------------------------------------------------------
# Sliding blocks: Unfold (im2col) and Fold (col2im, its adjoint)
# ----------------------------------------------------------------------------------------------


class Unfold(Module):
    """Extract sliding blocks: (N, C, H, W) -> (N, C*KH*KW, L), L = OH*OW the number of
    blocks, OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1 (OW alike);
    y[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW].
    dx = fold(dy): a pixel read by several blocks gets the sum of their gradients.
    A (C, H, W) input without batch dim gives (C*KH*KW, L), as torch.

    >>> import tinygrad_edu as tg
    >>> Unfold(kernel_size=(2, 3))(tg.randn(2, 5, 3, 4)).shape
    (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"Unfold: expected a Tensor input, got {type(input).__name__}")
        if input.ndim == 3:  # (C, H, W): a batch of one
            return self.forward(input.unsqueeze(0)).squeeze(0)  # (C*KH*KW, L)
        if input.ndim != 4:
            raise ValueError(f"Unfold: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got "
                             f"shape {_shape(input)}")
        _sliding_blocks("Unfold", "input of size", input.shape[2:], self.kernel_size,
                        self.dilation, self.padding, self.stride)  # errors in Unfold's terms
        return NF.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Combine sliding blocks into an image, the adjoint of ``Unfold``:
    (N, C*KH*KW, L) -> (N, C, H, W) with (H, W) = ``output_size``;
    y[n, c, h, w] = sum of the block entries that ``Unfold`` would read from (h, w)
    (overlapping blocks add up; entries that fall into the padding are dropped).
    dx = unfold(dy). A (C*KH*KW, L) input without batch dim gives (C, H, W).

    >>> import tinygrad_edu as tg
    >>> Fold(output_size=(3, 4), kernel_size=(2, 3))(tg.randn(2, 30, 4)).shape
    (2, 5, 3, 4)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def _blocks(self) -> tuple[int, int]:
        """(OH, OW): how many blocks fit along H and W (their product is the L of the input)."""
        size = _pair("Fold", "output_size", self.output_size, 1)
        return _sliding_blocks("Fold", "output_size", size, self.kernel_size, self.dilation,
                               self.padding, self.stride)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"Fold: expected a Tensor input, got {type(input).__name__}")
        if input.ndim == 2:  # (C*KH*KW, L): a batch of one
            return self.forward(input.unsqueeze(0)).squeeze(0)  # (C, H, W)
        if input.ndim != 3:
            raise ValueError(f"Fold: expected a 2D (C*KH*KW, L) or 3D (N, C*KH*KW, L) input, "
                             f"got shape {_shape(input)}")
        OH, OW = self._blocks()  # checks the arguments first
        KH, KW = _pair("Fold", "kernel_size", self.kernel_size, 1)
        if input.shape[1] % (KH * KW):
            raise ValueError(f"Fold: input has {input.shape[1]} rows (dim 1), not a multiple of "
                             f"KH*KW = {KH * KW} for kernel_size {self.kernel_size} (input "
                             f"shape {_shape(input)})")
        if input.shape[2] != OH * OW:
            raise ValueError(
                f"Fold: input has {input.shape[2]} blocks (dim 2) but {self.extra_repr()} gives "
                f"{OH} * {OW} = {OH * OW} sliding blocks (input shape {_shape(input)})"
            )
        return NF.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                       self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


# ----------------------------------------------------------------------------------------------
# Channel shuffle (ShuffleNet)
# ----------------------------------------------------------------------------------------------


def channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002 - torch names
    """Interleave the channels of (N, C, *) from ``groups`` groups: view C as (g, C/g),
    transpose to (C/g, g), flatten back, so y[:, k*g + i] = x[:, i*(C/g) + k].
    dx = dy with the inverse permutation (the transpose's adjoint)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"channel_shuffle: expected a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"channel_shuffle: expected an input with more than 2 dims "
                         f"(N, C, *), got shape {_shape(input)}")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise ValueError(f"channel_shuffle: the number of groups must be a positive int, got "
                         f"{groups!r}")
    N, C, *rest = input.shape
    g = int(groups)
    if C % g:
        raise ValueError(f"channel_shuffle: the number of channels must be divisible by groups, "
                         f"got {C} channels and {g} groups (input shape {_shape(input)})")
    y = input.reshape(N, g, C // g, *rest)  # (N, g, C/g, *)
    y = y.transpose(1, 2)  # (N, C/g, g, *)
    return y.reshape(N, C, *rest)  # (N, C, *)


class ChannelShuffle(Module):
    """Shuffle the channels of (N, C, *) across ``groups`` groups (``channel_shuffle``), so
    that the next grouped convolution sees channels from every group.

    >>> import tinygrad_edu as tg
    >>> ChannelShuffle(2)(tg.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


# ----------------------------------------------------------------------------------------------
# Fixed-mode upsamplers (torch keeps them for old code; Upsample is the general layer)
# ----------------------------------------------------------------------------------------------


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")``: y[n, c, h, w] =
    x[n, c, floor(h * H_in / H_out), floor(w * W_in / W_out)];  dx[pixel] = sum of dy over
    the outputs that copied it."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)``: corner pixels
    map onto corner pixels, output h samples the input at h * (H_in - 1) / (H_out - 1)
    (w alike) and interpolates its 4 neighbours linearly;  dx = the same weights applied
    to dy, added into the 4 neighbours."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
