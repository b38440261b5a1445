"""Convolution as im2col + one matrix product (Caffe/DeZero style), with PyTorch semantics.

    cols = im2col_gemm(x)                        # (C*KH*KW, N*OH*OW): all receptive fields
    y    = w.reshape(OC, C*KH*KW) @ cols         # (OC, N*OH*OW)       ONE GEMM for the batch
    y    = swap_batch_channels(y, b)             # (N, OC, OH, OW), + b during the copy

The columns use the *GEMM layout* (``kernels/reference/conv.py``): the samples sit side by
side, so the whole batch is one large matrix product. The per-sample layout (N, C*KH*KW, OH*OW)
of ``unfold`` needs N small products (each one a separate multithreaded BLAS call, which on a
busy 2-core machine cost 10x their single-threaded time), and its weight gradient
``sum_n dy_n @ cols_n^T`` an (N, OC, C*KH*KW) temporary summed afterwards; here it is one GEMM
whose inner dimension runs over the batch. The price is one copy of the output in each
direction (``swap_batch_channels``, which also adds the bias), C*KH*KW/OC times smaller than
cols.

``im2col`` and ``col2im`` are linear maps and each other's adjoint (transpose), so the two
Functions below differentiate into each other: the backward of im2col is col2im and the
backward of col2im is im2col. Everything else is ordinary matmul/reshape, so conv2d and
conv_transpose2d are differentiable to any order (``create_graph=True`` works) and their
gradients come out of the graph walk:

    dW = dy2 @ cols^T  (one GEMM, sums over the batch)    dcols = W^T @ dy2    dx = col2im(dcols)

Memory: cols holds C*KH*KW*OH*OW numbers per sample, KH*KW times the input for a stride-1
convolution. When the whole batch's cols would exceed ``IM2COL_BUDGET_BYTES`` (default 256 MiB;
set ``TINYGRAD_EDU_IM2COL_BUDGET`` to a byte count such as ``67108864`` or ``64M``), conv2d runs
``Conv2dInChunks``: the batch goes through in chunks that fit the budget, and the columns are
recomputed in backward instead of kept, so training stays within the budget too (one extra
im2col per chunk). Results are the same as without chunks.

The im2col/col2im kernels are picked by ``Config.kernel`` (reference NumPy, Numba CPU, CUDA).
"""

from __future__ import annotations

import numbers
import os

from .. import backend
from ..autograd import Function, no_grad
from ..backend import get_array_module
from ..kernels.reference.conv import check_conv_args, conv_output_size
from ..tensor import Tensor
from .shape import cat, reshape, transpose


def _budget_from_env(default: int = 256 * 2**20) -> int:
    """``TINYGRAD_EDU_IM2COL_BUDGET``: bytes, optionally with a K, M or G suffix (2**10...)."""
    text = os.environ.get("TINYGRAD_EDU_IM2COL_BUDGET", "").strip()
    if not text:
        return default
    scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(text[-1].lower(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        value = int(float(digits) * scale)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"TINYGRAD_EDU_IM2COL_BUDGET: expected a positive number of bytes such as "
            f"268435456 or 256M, got {text!r}"
        )
    return value


# Most bytes the column matrix of one conv2d may take before the batch is split into chunks.
# Read at call time: change it here (tests do) or through the environment variable at start-up.
IM2COL_BUDGET_BYTES = _budget_from_env()


def _pair(op: str, name: str, value) -> tuple[int, int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


# ----------------------------------------------------------------------------------------------
# im2col / col2im, per-sample layout (torch's unfold / fold)
# ----------------------------------------------------------------------------------------------


class _Unfold(Function):
    """Forward shared by Im2Col and Im2ColGemm: run the conv kernel named ``kernel_name``.
    The subclasses differ only in the cols layout (and so in the kernel and the adjoint)."""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)
    kernel_name: str  # "im2col" or "im2col_gemm"

    def forward(self, x, KH, KW, stride, padding, dilation):
        self.args = (KH, KW, stride, padding, dilation)
        return backend.kernel("conv", self.kernel_name, x)(x, KH, KW, stride, padding, dilation)


class _Fold(Function):
    """Forward shared by Col2Im and Col2ImGemm: run the conv kernel named ``kernel_name``."""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)
    kernel_name: str  # "col2im" or "col2im_gemm"

    def forward(self, cols, x_shape, KH, KW, stride, padding, dilation):
        self.args = (KH, KW, stride, padding, dilation)
        col2im_kernel = backend.kernel("conv", self.kernel_name, cols)
        return col2im_kernel(cols, x_shape, KH, KW, stride, padding, dilation)


class Im2Col(_Unfold):
    """cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW];
    dx = col2im(dcols)  (the adjoint: overlapping windows add up, padding is dropped)"""

    kernel_name = "im2col"

    def backward(self, dcols):
        (x,) = self.inputs
        return col2im(dcols, x.shape, *self.args)


class Col2Im(_Fold):
    """dx[n, c, h, w] = sum of the cols entries copied from pixel (h, w);
    dcols = im2col(dy)  (the adjoint of the adjoint)"""

    kernel_name = "col2im"

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


# ----------------------------------------------------------------------------------------------
# im2col / col2im, GEMM layout (what conv2d and conv_transpose2d use)
# ----------------------------------------------------------------------------------------------


class Im2ColGemm(_Unfold):
    """cols[(c, kh, kw), (n, oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW];
    dx = col2im_gemm(dcols)  (the adjoint)"""

    kernel_name = "im2col_gemm"

    def backward(self, dcols):
        (x,) = self.inputs
        return col2im_gemm(dcols, x.shape, *self.args)


class Col2ImGemm(_Fold):
    """dx[n, c, h, w] = sum of the cols entries copied from pixel (h, w);
    dcols = im2col_gemm(dy)  (the adjoint of the adjoint)"""

    kernel_name = "col2im_gemm"

    def backward(self, dy):
        return im2col_gemm(dy, *self.args)


def im2col_gemm(x: Tensor, KH: int, KW: int, stride=(1, 1), padding=(0, 0),
                dilation=(1, 1)) -> Tensor:
    """(N, C, H, W) -> (C*KH*KW, N*OH*OW): the columns of all samples side by side."""
    return Im2ColGemm.apply(x, KH=KH, KW=KW, stride=stride, padding=padding, dilation=dilation)


def col2im_gemm(cols: Tensor, x_shape, KH: int, KW: int, stride=(1, 1), padding=(0, 0),
                dilation=(1, 1)) -> Tensor:
    """The adjoint of ``im2col_gemm``: (C*KH*KW, N*OH*OW) -> (N, C, H, W)."""
    return Col2ImGemm.apply(cols, x_shape=tuple(x_shape), KH=KH, KW=KW, stride=stride,
                            padding=padding, dilation=dilation)


class SwapBatchChannels(Function):
    """y[j, i] = x[i, j] (+ bias[i]) for a 4-d x, written to contiguous memory;
    dx = the same swap of dy (the swap is its own inverse),  dbias = dx summed per channel"""

    def forward(self, x, bias=None):
        xp = get_array_module(x)
        A, B, H, W = x.shape
        y = xp.empty((B, A, H, W), dtype=x.dtype if bias is None else xp.result_type(x, bias))
        if bias is None:
            y[...] = x.swapaxes(0, 1)
        else:  # the bias rides along with the copy: one pass over the output, not two
            xp.add(x.swapaxes(0, 1), bias.reshape(1, A, 1, 1), out=y)
        return y

    def backward(self, dy):
        dx = swap_batch_channels(dy)  # (A, B, H, W)
        if len(self.inputs) == 1:
            return dx
        if not self.needs_input_grad[1]:
            return dx, None
        return dx, reshape(dx, dx.shape[0], -1).sum(1)  # contiguous rows: a fast reduction


def swap_batch_channels(x: Tensor, bias: Tensor | None = None) -> Tensor:
    """(A, B, H, W) -> (B, A, H, W), contiguous, plus ``bias`` (A,) broadcast over axis 1:
    turns the GEMM's (OC, N, OH, OW) into NCHW and back."""
    if bias is None:
        return SwapBatchChannels.apply(x)
    return SwapBatchChannels.apply(x, bias)


# ----------------------------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------------------------


def _conv2d_gemm(x: Tensor, weight: Tensor, bias: Tensor | None, groups: int, stride, padding,
                 dilation) -> Tensor:
    """conv2d, the whole batch at once (stride, padding, dilation are pairs)."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = conv_output_size(H, W, KH, KW, stride, padding, dilation)
    cols = im2col_gemm(x, KH, KW, stride, padding, dilation)  # (C*KH*KW, N*OH*OW)
    cols = reshape(cols, groups, Cg * KH * KW, N * OH * OW)  # (G, Cg*KH*KW, N*OH*OW)
    w = reshape(weight, groups, OC // groups, Cg * KH * KW)  # (G, OCg, Cg*KH*KW)
    y = w @ cols  # (G, OCg, N*OH*OW): one GEMM per group
    return swap_batch_channels(reshape(y, OC, N, OH, OW), bias)  # (N, OC, OH, OW) + bias


class Conv2dInChunks(Function):
    """conv2d without bias, the batch in chunks of ``chunk`` samples so that the columns of
    only one chunk exist at a time; they are recomputed in backward, not kept:

        y[i:j]  = W @ im2col(x[i:j])                      (no graph recorded)
        dW      = sum over the chunks of dy2[i:j] @ im2col(x[i:j])^T
        dx[i:j] = col2im(W^T @ dy2[i:j])

    The backward is written with Tensor ops, so it is differentiable again."""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

    def forward(self, x, weight, groups, conv_args, chunk):
        self.groups, self.conv_args, self.chunk = groups, conv_args, chunk
        w = Tensor._wrap(weight, False)
        pieces = []
        with no_grad():
            for i in range(0, x.shape[0], chunk):
                xi = Tensor._wrap(x[i : i + chunk], False)  # (n, C, H, W), a view
                pieces.append(_conv2d_gemm(xi, w, None, groups, *conv_args).data)
        return get_array_module(x).concatenate(pieces)  # (N, OC, OH, OW)

    def backward(self, dy):
        x, weight = self.inputs
        OC, Cg, KH, KW = weight.shape
        G = self.groups
        w = reshape(weight, G, OC // G, Cg * KH * KW)  # (G, OCg, Cg*KH*KW)
        dx_pieces, dw = [], None
        for i in range(0, x.shape[0], self.chunk):
            xi = x[i : i + self.chunk]  # (n, C, H, W)
            cols = im2col_gemm(xi, KH, KW, *self.conv_args)  # (C*KH*KW, n*OH*OW) recomputed
            cols = reshape(cols, G, Cg * KH * KW, -1)  # (G, Cg*KH*KW, n*OH*OW)
            dy2 = swap_batch_channels(dy[i : i + self.chunk])  # (OC, n, OH, OW)
            dy2 = reshape(dy2, G, OC // G, -1)  # (G, OCg, n*OH*OW)
            if self.needs_input_grad[1]:
                dw_chunk = dy2 @ transpose(cols, 1, 2)  # (G, OCg, Cg*KH*KW)
                dw = dw_chunk if dw is None else dw + dw_chunk
            if self.needs_input_grad[0]:
                dcols = transpose(w, 1, 2) @ dy2  # (G, Cg*KH*KW, n*OH*OW)
                dcols = reshape(dcols, G * Cg * KH * KW, -1)  # (C*KH*KW, n*OH*OW)
                dx_pieces.append(col2im_gemm(dcols, xi.shape, KH, KW, *self.conv_args))
        dx = cat(dx_pieces, 0) if dx_pieces else None  # (N, C, H, W)
        return dx, None if dw is None else reshape(dw, weight.shape)


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
    stride = _pair("conv2d", "stride", stride)
    dilation = _pair("conv2d", "dilation", dilation)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError("conv2d: padding='same' is only supported with stride 1")
        total = (dilation[0] * (KH - 1), dilation[1] * (KW - 1))
        if total[0] % 2 or total[1] % 2:
            raise ValueError("conv2d: padding='same' needs an odd effective kernel size here")
        padding = (total[0] // 2, total[1] // 2)
    elif padding == "valid":
        padding = 0
    padding = _pair("conv2d", "padding", padding)
    # errors that name the problem, e.g. "kernel (5, 5) ... does not fit input of size (3, 3)"
    *_, OH, OW = check_conv_args("conv2d", x.shape, KH, KW, stride, padding, dilation)
    cols_bytes_per_sample = C * KH * KW * OH * OW * x.data.dtype.itemsize
    chunk = max(1, IM2COL_BUDGET_BYTES // max(1, cols_bytes_per_sample))  # samples per chunk
    if chunk >= N:
        y = _conv2d_gemm(x, weight, bias, groups, stride, padding, dilation)  # (N, OC, OH, OW)
    else:
        y = Conv2dInChunks.apply(x, weight, groups=groups, chunk=chunk,
                                 conv_args=(stride, padding, dilation))
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
    xg = reshape(swap_batch_channels(x), groups, Cg, N * H * W)  # (G, Cg, N*H*W)
    w = reshape(weight, groups, Cg, OCg * KH * KW).transpose(1, 2)  # (G, OCg*KH*KW, Cg)
    cols = reshape(w @ xg, OC * KH * KW, N * H * W)  # (OC*KH*KW, N*H*W)
    y = col2im_gemm(cols, (N, OC, OH, OW), KH, KW, stride, padding, dilation)  # (N, OC, OH, OW)
    if bias is not None:
        y = y + reshape(bias, 1, OC, 1, 1)
    return reshape(y, OC, OH, OW) if unbatched else y
