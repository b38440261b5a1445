"""Convolution as im2col + one matrix product (Caffe/DeZero style), with PyTorch semantics.

    cols = im2col(x)                             # (N, C*KH*KW, OH*OW): every receptive field
    y    = w.reshape(OC, C*KH*KW) @ cols + b     # (N, OC, OH*OW)      one GEMM

``im2col`` and ``col2im`` are linear maps and each other's adjoint (transpose), so the two
Functions below differentiate into each other: the backward of im2col is col2im and the
backward of col2im is im2col. Everything else is ordinary matmul/reshape, so conv2d and
conv_transpose2d are differentiable to any order (``create_graph=True`` works) and their
gradients come out of the graph walk:

    dW = sum_n dy_n @ cols_n^T          dcols = W^T @ dy          dx = col2im(dcols)

The im2col/col2im kernels are picked by ``Config.kernel`` (reference NumPy, Numba CPU, CUDA).
"""

from __future__ import annotations

import numbers

from .. import backend
from ..autograd import Function
from ..kernels.reference.conv import conv_output_size
from ..tensor import Tensor
from .shape import reshape


def _pair(op: str, name: str, value) -> tuple[int, int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


class Im2Col(Function):
    """cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW];
    dx = col2im(dcols)  (the adjoint: overlapping windows add up, padding is dropped)"""

    def forward(self, x, KH, KW, stride, padding, dilation):
        self.args = (KH, KW, stride, padding, dilation)
        return backend.kernel("conv", "im2col", x)(x, KH, KW, stride, padding, dilation)

    def backward(self, dcols):
        (x,) = self.inputs
        return col2im(dcols, x.shape, *self.args)


class Col2Im(Function):
    """dx[n, c, h, w] = sum of the cols entries copied from pixel (h, w);
    dcols = im2col(dy)  (the adjoint of the adjoint)"""

    def forward(self, cols, x_shape, KH, KW, stride, padding, dilation):
        self.args = (KH, KW, stride, padding, dilation)
        col2im_kernel = backend.kernel("conv", "col2im", cols)
        return col2im_kernel(cols, x_shape, KH, KW, stride, padding, dilation)

    def backward(self, dy):
        return im2col(dy, *self.args)


def im2col(x: Tensor, KH: int, KW: int, stride=1, padding=0, dilation=1) -> Tensor:
    """(N, C, H, W) -> (N, C*KH*KW, OH*OW), the layout of ``torch.nn.functional.unfold``."""
    return Im2Col.apply(x, KH=KH, KW=KW, stride=_pair("im2col", "stride", stride),
                        padding=_pair("im2col", "padding", padding),
                        dilation=_pair("im2col", "dilation", dilation))


def col2im(cols: Tensor, x_shape, KH: int, KW: int, stride=1, padding=0, dilation=1) -> Tensor:
    """The adjoint of ``im2col``: (N, C*KH*KW, OH*OW) -> (N, C, H, W) (``fold``)."""
    return Col2Im.apply(cols, x_shape=tuple(x_shape), KH=KH, KW=KW,
                        stride=_pair("col2im", "stride", stride),
                        padding=_pair("col2im", "padding", padding),
                        dilation=_pair("col2im", "dilation", dilation))


def _batched(op: str, x: Tensor) -> tuple[Tensor, bool]:
    """Accept (C, H, W) like torch by adding a batch dimension of 1."""
    if x.ndim == 3:
        return reshape(x, (1,) + tuple(x.shape)), True
    if x.ndim != 4:
        raise ValueError(
            f"{op}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {tuple(x.shape)}"
        )
    return x, False


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation, ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (OC, C/groups, KH, KW), bias (OC,) -> (N, OC, OH, OW) with
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1. ``padding="same"`` keeps H and W (stride 1).
    """
    x, unbatched = _batched("conv2d", x)
    N, C, H, W = x.shape
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-d (OC, C/groups, KH, KW), got shape "
                         f"{tuple(weight.shape)}")
    OC, Cg, KH, KW = weight.shape
    if groups < 1 or C % groups or OC % groups:
        raise ValueError(f"conv2d: groups={groups} must divide both input channels {C} and "
                         f"output channels {OC}")
    if Cg * groups != C:
        raise ValueError(
            f"conv2d: input has {C} channels but weight expects {Cg * groups} "
            f"(x: {tuple(x.shape)}, w: {tuple(weight.shape)}, groups={groups})"
        )
    dilation = _pair("conv2d", "dilation", dilation)
    if padding == "same":
        if _pair("conv2d", "stride", stride) != (1, 1):
            raise ValueError("conv2d: padding='same' is only supported with stride 1")
        total = (dilation[0] * (KH - 1), dilation[1] * (KW - 1))
        if total[0] % 2 or total[1] % 2:
            raise ValueError("conv2d: padding='same' needs an odd effective kernel size here")
        padding = (total[0] // 2, total[1] // 2)
    elif padding == "valid":
        padding = 0
    cols = im2col(x, KH, KW, stride, padding, dilation)  # (N, C*KH*KW, L)
    L = cols.shape[2]
    cols = reshape(cols, N, groups, Cg * KH * KW, L)  # (N, G, Cg*KH*KW, L)
    w = reshape(weight, groups, OC // groups, Cg * KH * KW)  # (G, OCg, Cg*KH*KW)
    y = w @ cols  # (N, G, OCg, L)
    OH, OW = conv_output_size(H, W, KH, KW, _pair("conv2d", "stride", stride),
                              _pair("conv2d", "padding", padding), dilation)
    y = reshape(y, N, OC, OH, OW)  # (N, OC, OH, OW)
    if bias is not None:
        y = y + reshape(bias, 1, OC, 1, 1)
    return reshape(y, OC, OH, OW) if unbatched else y


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (adjoint) of conv2d, ``torch.nn.functional.conv_transpose2d``.

    x (N, C, H, W), weight (C, OC/groups, KH, KW) -> (N, OC, OH, OW) with
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1:
    cols = W^T @ x  then  y = col2im(cols).
    """
    x, unbatched = _batched("conv_transpose2d", x)
    N, C, H, W = x.shape
    if weight.ndim != 4 or weight.shape[0] != C:
        raise ValueError(
            f"conv_transpose2d: input has {C} channels but weight expects {weight.shape[0]} "
            f"(x: {tuple(x.shape)}, w: {tuple(weight.shape)}); weight is (C_in, C_out/groups, "
            "KH, KW)"
        )
    if groups < 1 or C % groups:
        raise ValueError(f"conv_transpose2d: groups={groups} must divide input channels {C}")
    _, OCg, KH, KW = weight.shape
    OC = OCg * groups
    stride = _pair("conv_transpose2d", "stride", stride)
    padding = _pair("conv_transpose2d", "padding", padding)
    dilation = _pair("conv_transpose2d", "dilation", dilation)
    output_padding = _pair("conv_transpose2d", "output_padding", output_padding)
    if output_padding[0] >= max(stride[0], dilation[0]) or \
            output_padding[1] >= max(stride[1], dilation[1]):
        raise ValueError(
            f"conv_transpose2d: output_padding {output_padding} must be smaller than stride "
            f"{stride} or dilation {dilation}"
        )
    OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + output_padding[0] + 1
    OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + output_padding[1] + 1
    Cg = C // groups
    xg = reshape(x, N, groups, Cg, H * W)  # (N, G, Cg, H*W)
    w = reshape(weight, groups, Cg, OCg * KH * KW).transpose(1, 2)  # (G, OCg*KH*KW, Cg)
    cols = reshape(w @ xg, N, OC * KH * KW, H * W)  # (N, OC*KH*KW, H*W)
    y = col2im(cols, (N, OC, OH, OW), KH, KW, stride, padding, dilation)  # (N, OC, OH, OW)
    if bias is not None:
        y = y + reshape(bias, 1, OC, 1, 1)
    return reshape(y, OC, OH, OW) if unbatched else y
