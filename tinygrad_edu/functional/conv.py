"""Convolution as im2col + matrix products (Caffe/DeZero style), with PyTorch semantics,
one chunk of the batch at a time.

Three Functions, each the adjoint partner of the others, make the whole family::

    Conv2d            y  = W @ im2col(x) + b               x (N, C, H, W) -> y (N, OC, OH, OW)
    Conv2dInputGrad   dx = col2im(W^T @ dy)                dy, W -> dx  (= conv_transpose2d)
    Conv2dWeightGrad  dW = dy @ im2col(x)^T                x, dy -> dW (OC, C/groups, KH, KW)

with ``dy`` as the (OC, N*OH*OW) matrix of the GEMM. The backward of each one is written with
the other two (and itself), so conv2d and conv_transpose2d are differentiable to any order
(``create_graph=True`` works) while every forward runs on raw arrays:

    Conv2d:           dx = Conv2dInputGrad(dy, W)   dW = Conv2dWeightGrad(x, dy)   db = sum dy
    Conv2dInputGrad:  d(dy) = Conv2d(g, W)          dW = Conv2dWeightGrad(g, dy)
    Conv2dWeightGrad: dx = Conv2dInputGrad(dy, g)   d(dy) = Conv2d(x, g)

conv1d and conv_transpose1d are conv2d and conv_transpose2d on a height of 1. padding="same"
pads D (K - 1) in total, half on each side, the odd one out at the end (bottom, right): that
extra zero is added to x with F.pad, the convolution pads the symmetric rest.

The columns use the *GEMM layout* (``kernels/reference/conv.py``),
``cols[(c, kh, kw), (n, oh, ow)]``: the samples sit side by side, so a chunk of the batch is
one large matrix product, and the weight gradient ``dy2 @ cols^T`` sums over the samples
inside the GEMM. (The per-sample layout (N, C*KH*KW, OH*OW) of ``unfold`` needs N small
products, each a separate multithreaded BLAS call that on a busy 2-core machine costs 10x its
single-threaded time.)

Memory. cols holds C*KH*KW*OH*OW numbers per sample, KH*KW times the input for a stride-1
convolution: for LeNet-5's first layer at batch 64, 4.8 MiB, four times its output. So the
columns are never kept for backward. Every Function loops over chunks of the batch, makes the
columns of one chunk, uses them and drops them; a chunk's columns take at most
``IM2COL_BUDGET_BYTES`` (default 1 MiB) on the CPU and ``GPU_IM2COL_BUDGET_BYTES`` (default
256 MiB: there each chunk costs kernel launches, and memory is plentiful) on a GPU; the
environment variable ``TINYGRAD_EDU_IM2COL_BUDGET`` (a byte count such as ``4194304`` or
``4M``) sets both. Conv2d saves nothing but its inputs; the weight gradient makes the columns
again (one extra im2col per conv and step), and the input gradient of a first layer, whose
input needs no gradient, is not computed at all.

The im2col/col2im kernels are picked by ``Config.kernel`` (reference NumPy, Numba CPU, CUDA).
With the Numba kernels the three matrix products go to ``kernels/cpu/gemm.py`` too
(``backend.cpu_matmul``): register-blocked kernels that use AVX-512 where NumPy's BLAS may not, and
hand small products, or all of them on CPUs without AVX-512, to BLAS. There the forward's
product writes y's (n, OC, OH*OW) layout and adds the bias itself (no transposing copy of the
output), and the weight gradient is dy2 @ cols^T, dot products along the long n*OH*OW rows
(or, where those rows are short next to the C*KH*KW rows of cols, the outer products of
cols @ dy2^T).
conv2d's first-order backward makes dx, dW and db in one pass over the chunks of the batch
(``_conv2d_grads``): a chunk's transposed copy of dy serves all three.

3-d. conv3d and conv_transpose3d (at the end of this file) are the same three Functions on
(N, C, D, H, W) arrays, written in plain xp code (NumPy or CuPy, no kernels): the columns are
one copy of a strided view of the zero-padded input, col2im a strided slice-add per kernel
offset.

Winograd. A 3x3, stride-1 convolution with enough channels (``_winograd_kernels``) skips the
columns under the Numba kernels: its forward, the input gradient (the same convolution of
dy with the flipped filters) and the weight gradient (its adjoint, summed over the tiles),
run as Winograd F(2x2, 3x3) (``kernels/cpu/winograd.py``, the algorithm in
``kernels/reference/winograd.py``): 16 products of transformed 4x4 tiles each, 2.25x fewer
multiplies than with the columns. ``WINOGRAD = False`` (or ``TINYGRAD_EDU_WINOGRAD=0``) turns
it off. Its float32 results differ from im2col's by rounding (within a few times a float32
convolution's error); an inf in x can come out as NaN where a direct convolution gives inf
(inf - inf in the transforms).
"""

from __future__ import annotations

import itertools
import numbers
import os
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import get_array_module
from ..kernels.reference.conv import check_conv_args, conv_output_size
from ..tensor import Tensor
from .elementwise import _promoted_dtype, cast
from .shape import pad, reshape


def _budget_from_env(default: int = 2**20) -> int:
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
            f"4194304 or 4M, got {text!r}"
        )
    return value


# Most bytes the column matrix of one chunk of the batch may take (at least one sample always
# goes through), by where the arrays live. On the CPU small chunks cost no speed (a chunk's
# columns are still in cache when the GEMM reads them) and keep a training step's peak memory
# near its activations; on a GPU every chunk is a few more kernel launches, and there is room.
# Read at call time: change them here (tests do) or, both at once, through the environment
# variable at start-up.
IM2COL_BUDGET_BYTES = _budget_from_env(2**20)  # NumPy arrays
GPU_IM2COL_BUDGET_BYTES = _budget_from_env(256 * 2**20)  # CuPy arrays


def _winograd_from_env() -> bool:
    """``TINYGRAD_EDU_WINOGRAD``: "0" (or false, no, off) turns Winograd off; on otherwise."""
    return os.environ.get("TINYGRAD_EDU_WINOGRAD", "").strip().lower() not in (
        "0", "false", "no", "off")


# Whether 3x3 stride-1 convolutions may run as Winograd F(2x2, 3x3), and from how many
# channels (see _winograd_kernels). Read at call time: tests and benchmarks change them.
WINOGRAD = _winograd_from_env()
WINOGRAD_MIN_CHANNELS = 32  # the harmonic mean 2 C OC / (C + OC) of in and out channels
WINOGRAD_MIN_TILES = 128  # 2x2 tiles of the output, N ceil(OH / 2) ceil(OW / 2)


def _pair(op: str, name: str, value) -> tuple[int, int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def same_padding(op: str, kernel_size, stride, dilation) -> tuple[tuple[int, int], ...]:
    """The (before, after) padding of ``padding="same"`` in each spatial dim, which keeps the
    size for stride 1: a total of D (K - 1), before = total // 2, after = total - before.

    Like torch, an even effective kernel size D (K - 1) + 1 (an odd total) gets the extra
    row or column at the end (bottom, right), and strided convolutions are refused.

    >>> same_padding("conv2d", (3, 4), (1, 1), (1, 1))
    ((1, 1), (1, 2))
    """
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride {tuple(stride)})")
    pads = ()
    for k, d in zip(kernel_size, dilation, strict=True):
        total = d * (k - 1)
        pads += ((total // 2, total - total // 2),)
    return pads


def _pad_same_excess(x: Tensor, pads) -> Tensor:
    """x with the asymmetric part of ``same_padding``'s ``pads`` added at the end of each
    spatial dim (one zero row or column where the total is odd, as torch does), so that the
    convolution pads the rest, ``before`` on both sides. F.pad is differentiable: dx is the
    gradient of the padded x with the added entries dropped."""
    widths = ()
    for before, after in reversed(pads):  # F.pad takes (left, right) of the last dim first
        widths += (0, after - before)
    if not any(widths):
        return x  # odd effective kernel sizes: nothing to add, no copy
    return pad(x, widths)  # (N, C, H + 1, W) and/or (N, C, H, W + 1), or (N, C, L + 1)


def _check_bias(op: str, bias: Tensor | None, out_channels: int, weight: Tensor) -> None:
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"{op}: bias must have shape (out_channels,) = ({out_channels},) for weight "
            f"{tuple(weight.shape)}, got {tuple(bias.shape)}"
        )


def _one_dtype(x: Tensor, weight: Tensor, bias: Tensor | None):
    """Promote x, weight and bias to one dtype (the rule of ``x * w``; torch's F.conv2d refuses
    mixed dtypes, as the Conv2d layer here does) with differentiable casts, so that each
    gradient comes back in its own input's dtype: a float32 weight gets a float32 dW even from
    a float64 input."""
    dtype = _promoted_dtype(x.dtype, weight.dtype)
    if bias is not None:
        dtype = _promoted_dtype(dtype, bias.dtype)
    x, weight = cast(x, dtype), cast(weight, dtype)  # no op where the dtype is already right
    return x, weight, None if bias is None else cast(bias, dtype)


# ----------------------------------------------------------------------------------------------
# im2col / col2im, per-sample layout (torch's unfold / fold)
# ----------------------------------------------------------------------------------------------


class Im2Col(Function):
    """cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW];
    dx = col2im(dcols)  (the adjoint: overlapping windows add up, padding is dropped)"""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

    def forward(self, x, KH, KW, stride, padding, dilation):
        self.args = (KH, KW, stride, padding, dilation)
        return backend.kernel("conv", "im2col", x)(x, KH, KW, stride, padding, dilation)

    def backward(self, dcols):
        (x,) = self.inputs
        return col2im(dcols, x.shape, *self.args)


class Col2Im(Function):
    """dx[n, c, h, w] = sum of the cols entries copied from pixel (h, w);
    dcols = im2col(dy)  (the adjoint of the adjoint)"""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

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


# ----------------------------------------------------------------------------------------------
# conv2d and its two adjoints, one chunk of the batch at a time
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvSpec:
    """How one convolution slides its window, and how many samples go through at once."""

    groups: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    chunk: int  # samples per chunk of the batch: their columns fit the im2col budget

    @property
    def window(self) -> tuple:
        """(stride, padding, dilation), the trailing arguments of the im2col/col2im kernels."""
        return (self.stride, self.padding, self.dilation)


def _conv_spec(x: Tensor, groups, stride, padding, dilation, cols_numbers_per_sample) -> ConvSpec:
    """The spec of a convolution of the batch ``x`` whose column matrix holds
    ``cols_numbers_per_sample`` (C*KH*KW*OH*OW) numbers per sample: as many samples per
    chunk as fit the budget."""
    on_gpu = backend.is_cupy_array(x.data)
    budget = GPU_IM2COL_BUDGET_BYTES if on_gpu else IM2COL_BUDGET_BYTES
    chunk = budget // max(1, cols_numbers_per_sample * x.data.dtype.itemsize)
    return ConvSpec(groups, stride, padding, dilation, chunk=max(1, min(x.shape[0], chunk)))


def _batch_chunks(N: int, chunk: int) -> list[slice]:
    """Slices of at most ``chunk`` samples that cover a batch of N."""
    return [slice(i, min(i + chunk, N)) for i in range(0, N, chunk)]


def _winograd_kernels(spec: ConvSpec, w_shape, in_channels: int, out_channels: int,
                      y_shape, gemm, *arrays):
    """``kernels/cpu/winograd.py`` when a convolution of ``in_channels`` into ``out_channels``
    (3x3 filters of shape ``w_shape``, output of shape ``y_shape``) on these arrays runs
    faster as Winograd F(2x2, 3x3) than as im2col + GEMM; None otherwise. ``gemm``: the
    caller's ``backend.numba_float_kernels("gemm", *arrays)`` (it multiplies with it too).

    That is a 3x3, stride 1, dilation 1, one group, padding 0-2, on NumPy float arrays under
    the Numba kernels with the Numba GEMM on (AVX-512: the 16 products run on its tiles),
    and a harmonic mean of C and OC of at least ``WINOGRAD_MIN_CHANNELS``: the transforms
    cost per tile and channel (C + OC), the multiplies saved C * OC. Measured forward, one
    thread, batch 32, float32, Winograd / im2col: C 16 -> 16 at 16 x 16 1.6x (slower),
    16 -> 32 1.3x, 32 -> 32 0.95x, 32 -> 64 0.8x, 64 -> 64 at 8 x 8 0.65x, 128 -> 128 at
    4 x 4 0.6x; 3 -> 32 at 32 x 32 (a first layer) 2.8x. And at least
    ``WINOGRAD_MIN_TILES`` 2x2 tiles of output: the kernels work in blocks of 64 and 128
    tiles (zeros past the last one) and transform the filters on every call. Fwd+bwd, 32 ->
    32: 16 tiles 1.9x, 64 tiles 1.1-1.2x, 128 tiles 0.8-0.95x; 128 -> 128 with 16 tiles 2.4x.
    """
    if not WINOGRAD or w_shape[2:] != (3, 3) or spec.groups != 1 or spec.stride != (1, 1) \
            or spec.dilation != (1, 1) or max(spec.padding) > 2:
        return None
    if 2 * in_channels * out_channels < WINOGRAD_MIN_CHANNELS * (in_channels + out_channels):
        return None
    N, _, OH, OW = y_shape
    if N * ((OH + 1) // 2) * ((OW + 1) // 2) < WINOGRAD_MIN_TILES:
        return None
    if gemm is None or not gemm.NUMBA_GEMM:
        return None
    return backend.numba_kernels("winograd", *arrays)


def _gemm_rows(dy, G: int):
    """(n, OC, OH, OW) -> (G, OC/G, n*OH*OW), a contiguous copy: dy as the GEMM's output."""
    return dy.swapaxes(0, 1).reshape(G, dy.shape[1] // G, -1)  # (G, OCg, n*OH*OW)


def _grouped(matmul, a, b):
    """a (G, M, K) @ b (G, K, N) -> (G, M, N): one matmul per group."""
    if len(a) == 1:
        return matmul(a[0], b[0])[None]  # (1, M, N)
    return np.stack([matmul(a[g], b[g]) for g in range(len(a))])  # (G, M, N)


class Conv2d(Function):
    """y[n, o, oh, ow] = sum_(c, kh, kw) W[o, c, kh, kw] xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]
    + b[o], per group and chunk of the batch:  y = W @ im2col(x) + b  (nothing kept but x, W);
    dx = col2im(W^T @ dy),  dW = dy @ im2col(x)^T,  db = dy summed over (N, OH, OW)"""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

    def forward(self, x, weight, bias=None, *, spec: ConvSpec):
        self.spec = spec
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OC, Cg, KH, KW = weight.shape
        G = spec.groups
        OH, OW = conv_output_size(H, W, KH, KW, *spec.window)
        arrays = (x, weight) if bias is None else (x, weight, bias)
        gemm = backend.numba_float_kernels("gemm", *arrays)  # None: BLAS (or cuBLAS) products
        winograd = _winograd_kernels(spec, weight.shape, C, OC, (N, OC, OH, OW), gemm, *arrays)
        if winograd is not None:  # 16 products of the transformed tiles, no columns
            return winograd.winograd_conv3x3(x, winograd.winograd_weights(weight), bias,
                                             spec.padding)
        unfold = backend.kernel("conv", "im2col_gemm", x)
        matmul = None if gemm is None else gemm.matmul
        w = weight.reshape(G, OC // G, Cg * KH * KW)  # (G, OCg, Cg*KH*KW)
        y = xp.empty((N, OC, OH, OW), dtype=xp.result_type(*arrays))
        for s in _batch_chunks(N, spec.chunk):
            cols = unfold(x[s], KH, KW, *spec.window)  # (C*KH*KW, n*OH*OW)
            if matmul is not None and G == 1:  # the GEMM writes y's layout, bias included
                matmul(w[0], cols, out=y[s].reshape(-1, OC, OH * OW), bias=bias)
                del cols
                continue
            cols = cols.reshape(G, Cg * KH * KW, -1)  # (G, Cg*KH*KW, n*OH*OW)
            if matmul is None:
                yc = w @ cols  # (G, OCg, n*OH*OW): one GEMM per group
            else:
                yc = _grouped(matmul, w, cols)  # (G, OCg, n*OH*OW)
            if bias is not None:  # along contiguous rows: twice as fast as after the swap
                yc = yc.astype(y.dtype, copy=False)
                yc += bias.reshape(G, OC // G, 1)
            y[s] = yc.reshape(OC, -1, OH, OW).swapaxes(0, 1)  # (n, OC, OH, OW)
            del cols, yc  # free this chunk's temporaries before the next chunk makes its own
        return y  # (N, OC, OH, OW)

    def backward(self, dy):
        x, weight = self.inputs[:2]
        needs = self.needs_input_grad
        need_db = len(self.inputs) == 3 and needs[2]
        if not isinstance(dy, Tensor):  # first order: on the arrays, one pass over the chunks
            dx, dw, db = _conv2d_grads(dy, self.spec, x.shape, weight.shape,
                                       x=x.data if needs[1] else None,
                                       weight=weight.data if needs[0] else None, need_db=need_db)
        else:
            dw = conv2d_weight_grad(x, dy, weight.shape, self.spec) if needs[1] else None
            dx = conv2d_input_grad(dy, weight, x.shape, self.spec) if needs[0] else None
            N, OC, OH, OW = dy.shape
            db = dy.reshape(N, OC, OH * OW).sum(2).sum(0) if need_db else None  # (OC,)
        if len(self.inputs) == 2:
            return dx, dw
        return dx, dw, db


class Conv2dInputGrad(Function):
    """dx = col2im(W^T @ dy) per group and chunk: the adjoint of conv2d in x (what
    conv_transpose2d computes);  d(dy) = conv2d(g, W),  dW = dy @ im2col(g)^T"""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

    def forward(self, dy, weight, *, x_shape, spec: ConvSpec):
        self.x_shape, self.spec = x_shape, spec
        return _conv2d_grads(dy, spec, x_shape, weight.shape, weight=weight)[0]  # dx

    def backward(self, g):
        dy, weight = self.inputs
        needs = self.needs_input_grad
        ddy = Conv2d.apply(g, weight, spec=self.spec) if needs[0] else None
        dw = conv2d_weight_grad(g, dy, weight.shape, self.spec) if needs[1] else None
        return ddy, dw


class Conv2dWeightGrad(Function):
    """dW = dy @ im2col(x)^T per group, summed over the chunks of the batch: the adjoint of
    conv2d in W;  dx = col2im(g^T @ dy),  d(dy) = conv2d(x, g)"""

    kernel_family = "conv"  # which kernels it calls (see Config.kernel)

    def forward(self, x, dy, *, w_shape, spec: ConvSpec):
        self.spec = spec
        return _conv2d_grads(dy, spec, x.shape, w_shape, x=x)[1]  # dW

    def backward(self, g):
        x, dy = self.inputs
        needs = self.needs_input_grad
        dx = conv2d_input_grad(dy, g, x.shape, self.spec) if needs[0] else None
        ddy = Conv2d.apply(x, g, spec=self.spec) if needs[1] else None
        return dx, ddy


def _transposed_weight(weight, G: int, matmul):
    """W^T per group (G, Cg*KH*KW, OCg); contiguous for the Numba GEMM (made once, not in
    every chunk's product)."""
    OC = weight.shape[0]
    wt = weight.reshape(G, OC // G, -1).transpose(0, 2, 1)  # (G, Cg*KH*KW, OCg)
    return wt if matmul is None else np.ascontiguousarray(wt)


def _weight_grad_part(unfold, gemm, x_s, rows, w_shape, spec: ConvSpec):
    """dW of one chunk of the batch (G, OCg, Cg*KH*KW) = dy2 @ cols^T per group, with the
    chunk's columns made (again) here; ``rows``: the chunk's dy2 (G, OCg, n*OH*OW); ``gemm``:
    the Numba GEMM module, or None for BLAS. The result may be a transposed view."""
    OC, Cg, KH, KW = w_shape
    cols = unfold(x_s, KH, KW, *spec.window)  # (C*KH*KW, n*OH*OW)
    cols = cols.reshape(spec.groups, Cg * KH * KW, -1)  # (G, Cg*KH*KW, n*OH*OW)
    if gemm is None:  # dW^T = cols @ dy2^T: 10-20% faster in BLAS than dy2 @ cols^T
        return (cols @ rows.transpose(0, 2, 1)).transpose(0, 2, 1)  # (G, OCg, Cg*KH*KW)
    OCg, CKK, K = rows.shape[1], cols.shape[1], cols.shape[2]
    if gemm.NUMBA_GEMM and gemm.fills_tiles(OCg, rows.dtype) and K <= 3 * CKK:
        # dW^T = cols @ dy2^T as outer products (gemm_nn) on a transposed copy of dy2: faster
        # than dot products when the sums are short next to the rows of cols (deeper layers)
        # and OCg fills whole tiles. Measured, conv fwd+bwd, one thread: 32 -> 64 at 16 x 16
        # -5%, 64 -> 64 at 16 x 16 -10%, 128 -> 128 at 8 x 8 -10%, 32 -> 128 at 16 x 16 +3%
        dy2t = np.ascontiguousarray(rows.transpose(0, 2, 1))  # (G, n*OH*OW, OCg)
        return _grouped(gemm.matmul, cols, dy2t).transpose(0, 2, 1)  # (G, OCg, Cg*KH*KW)
    # dot products along the long rows n*OH*OW of dy2 and cols (gemm_nt)
    return _grouped(gemm.matmul, rows, cols.transpose(0, 2, 1))  # (G, OCg, Cg*KH*KW)


def _input_grad_part(fold, matmul, rows, wt, x_shape_s, KH: int, KW: int, spec: ConvSpec):
    """dx of one chunk of the batch (n, C, H, W) = col2im(W^T @ dy2); ``wt``: W^T per group
    (G, Cg*KH*KW, OCg), ``rows``: the chunk's dy2 (G, OCg, n*OH*OW)."""
    if matmul is None:
        dcols = wt @ rows  # (G, Cg*KH*KW, n*OH*OW)
    else:
        dcols = _grouped(matmul, wt, rows)
    dcols = dcols.reshape(-1, dcols.shape[-1])  # (C*KH*KW, n*OH*OW)
    return fold(dcols, x_shape_s, KH, KW, *spec.window)  # (n, C, H, W)


def _conv2d_grads(dy, spec: ConvSpec, x_shape, w_shape, x=None, weight=None,
                  need_db: bool = False):
    """conv2d's first-order gradients on arrays, in one pass over the chunks of the batch: dx
    when ``weight`` is given, dW when ``x`` is given, db when ``need_db`` (None for the others).
    A chunk's dy2 (one transposing copy of dy) serves all three while it is in cache. The
    chunk's columns (for dW) are freed before its dcols (for dx) are made: the peak is dx,
    dy2 and the larger of the two, as when dW and dx are computed one after the other.
    Convolutions that ``_winograd_kernels`` takes make dx and dW as Winograd, with no
    chunks."""
    xp = get_array_module(dy)
    N, C, H, W = x_shape
    OC, Cg, KH, KW = w_shape
    G = spec.groups
    arrays = [a for a in (dy, x, weight) if a is not None]
    gemm = backend.numba_float_kernels("gemm", *arrays)
    matmul = None if gemm is None else gemm.matmul
    dx = dw = db = None
    if N == 0:  # an empty batch has no chunks: dx is empty, dW and db are zeros
        dtype = xp.result_type(*arrays)
        dx = None if weight is None else xp.zeros(x_shape, dtype=dtype)  # (0, C, H, W)
        dw = None if x is None else xp.zeros(w_shape, dtype=dtype)  # (OC, Cg, KH, KW)
        db = xp.zeros(OC, dtype=dtype) if need_db else None  # (OC,)
        return dx, dw, db
    winograd = _winograd_kernels(spec, w_shape, C, OC, dy.shape, gemm, *arrays)
    if winograd is not None:  # Winograd's transforms and products, no columns
        if weight is not None:  # dx = the 3x3 convolution of dy with the flipped filters
            padding = (2 - spec.padding[0], 2 - spec.padding[1])
            u = winograd.winograd_weights(weight, input_grad=True)
            dx = winograd.winograd_conv3x3(dy, u, None, padding)
        if x is not None:
            dw = winograd.winograd_weight_grad(x, dy, spec.padding)  # (OC, C, 3, 3)
        if need_db:  # sums along contiguous rows
            db = dy.reshape(N, OC, -1).sum(2).sum(0)
        return dx, dw, db
    if x is not None:
        unfold = backend.kernel("conv", "im2col_gemm", x)
    if weight is not None:
        fold = backend.kernel("conv", "col2im_gemm", dy)
        wt = _transposed_weight(weight, G, matmul)
    for s in _batch_chunks(N, spec.chunk):
        rows = _gemm_rows(dy[s], G)  # (G, OCg, n*OH*OW)
        if need_db:
            part = rows.sum(-1).reshape(OC)  # sums along contiguous rows
            db = part if db is None else db + part
        if x is not None:
            part = _weight_grad_part(unfold, gemm, x[s], rows, w_shape, spec)
            dw = part if dw is None else dw + part
        if weight is not None:
            dx_s = _input_grad_part(fold, matmul, rows, wt, (s.stop - s.start, C, H, W), KH, KW,
                                    spec)
            if s.stop - s.start == N:
                dx = dx_s  # one chunk: no copy
            else:
                if dx is None:
                    dx = xp.empty(x_shape, dtype=dx_s.dtype)
                dx[s] = dx_s
            del dx_s
        del rows  # free this chunk's temporaries before the next chunk makes its own
    if dw is not None:
        dw = xp.ascontiguousarray(dw).reshape(w_shape)  # (OC, Cg, KH, KW), C order
    return dx, dw, db


def conv2d_input_grad(dy: Tensor, weight: Tensor, x_shape, spec: ConvSpec) -> Tensor:
    """(N, OC, OH, OW) -> (N, C, H, W): the gradient of conv2d with respect to its input."""
    return Conv2dInputGrad.apply(dy, weight, x_shape=tuple(x_shape), spec=spec)


def conv2d_weight_grad(x: Tensor, dy: Tensor, w_shape, spec: ConvSpec) -> Tensor:
    """-> (OC, C/groups, KH, KW): the gradient of conv2d with respect to its weight."""
    return Conv2dWeightGrad.apply(x, dy, w_shape=tuple(w_shape), spec=spec)


def _batched(op: str, x: Tensor) -> tuple[Tensor, bool]:
    """Accept (C, H, W) like torch by adding a batch dimension of 1."""
    if x.ndim == 3:
        return reshape(x, (1,) + tuple(x.shape)), True
    if x.ndim != 4:
        raise ValueError(
            f"{op}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {tuple(x.shape)}"
        )
    return x, False


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation, ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (OC, C/groups, KH, KW), bias (OC,) -> (N, OC, OH, OW) with
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1. ``padding="same"`` keeps H and W (stride 1);
    where a total padding DH (KH - 1) is odd, the extra zero row goes at the bottom (column at
    the right), as in torch.
    """
    input, unbatched = _batched("conv2d", input)
    N, C, H, W = input.shape
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
            f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)}, groups={groups})"
        )
    _check_bias("conv2d", bias, OC, weight)
    stride = _pair("conv2d", "stride", stride)
    dilation = _pair("conv2d", "dilation", dilation)
    if padding == "same":  # an odd total gets its extra zero row/column at the bottom/right
        pads = same_padding("conv2d", (KH, KW), stride, dilation)  # ((PT, PB), (PL, PR))
        input = _pad_same_excess(input, pads)  # (N, C, H + PB - PT, W + PR - PL)
        padding = (pads[0][0], pads[1][0])
    elif padding == "valid":
        padding = 0
    elif isinstance(padding, str):
        raise ValueError(f"conv2d: invalid padding string {padding!r}, should be one of "
                         "'same', 'valid' (or an int or a pair of ints)")
    padding = _pair("conv2d", "padding", padding)
    # errors that name the problem, e.g. "kernel (5, 5) ... does not fit input of size (3, 3)"
    *_, OH, OW = check_conv_args("conv2d", input.shape, KH, KW, stride, padding, dilation)
    input, weight, bias = _one_dtype(input, weight, bias)
    spec = _conv_spec(input, groups, stride, padding, dilation, C * KH * KW * OH * OW)
    if bias is None:
        y = Conv2d.apply(input, weight, spec=spec)  # (N, OC, OH, OW)
    else:
        y = Conv2d.apply(input, weight, bias, spec=spec)
    return reshape(y, OC, OH, OW) if unbatched else y


def _single(op: str, name: str, value) -> int:
    """A 1-d convolution's int argument, given as an int or a 1-tuple (torch's forms)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{op}: {name} must be an int or a 1-tuple of an int, got {value!r}")
    return int(value)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation, ``torch.nn.functional.conv1d``: x (N, C, L) or (C, L), weight
    (OC, C/groups, K), bias (OC,) -> (N, OC, OL) with OL = (L + 2 P - D (K - 1) - 1) // S + 1.
    ``padding="same"`` keeps L (stride 1), with the extra zero at the right where D (K - 1) is
    odd, as in torch.

    It is conv2d on a height of 1: x (N, C, 1, L) and weight (OC, C/groups, 1, K), so it
    shares conv2d's kernels and gradients; the added dims are taken out again.
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("conv1d: expected Tensors for the input and the weight")
    if input.ndim not in (2, 3) or weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 2-d (C, L) or 3-d (N, C, L) input and a 3-d "
                         f"weight (OC, C/groups, K), got {tuple(input.shape)} and "
                         f"{tuple(weight.shape)}")
    C, L = input.shape[-2:]
    OC, Cg, K = weight.shape
    if not isinstance(groups, numbers.Integral) or groups < 1 or C != Cg * groups:
        raise ValueError(f"conv1d: input has {C} channels but weight expects {Cg} * groups "
                         f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)}, groups={groups})")
    S = _single("conv1d", "stride", stride)
    D = _single("conv1d", "dilation", dilation)
    if padding == "same":  # an odd total D (K - 1) gets its extra zero at the right, as torch
        pads = same_padding("conv1d", (K,), (S,), (D,))  # ((PL, PR),)
        input = _pad_same_excess(input, pads)  # (N, C, L + PR - PL)
        L, P = input.shape[-1], pads[0][0]
    elif padding == "valid":
        P = 0
    elif isinstance(padding, str):
        P = None
    else:
        P = _single("conv1d", "padding", padding)
    if P is None:
        raise ValueError(f"conv1d: invalid padding string {padding!r}, should be one of "
                         "'same', 'valid' (or an int)")
    if L + 2 * P < D * (K - 1) + 1:
        raise ValueError(f"conv1d: kernel {K} with dilation {D} and padding {P} does not fit "
                         f"input of length {L} (x: {tuple(input.shape)})")
    padding, stride, dilation = (0, P), (1, S), (1, D)  # conv2d on a height of 1
    try:
        y = conv2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, stride, padding, dilation,
                   groups)
    except ValueError as error:  # name the op called, and the conv2d that ran (shapes in 2-d)
        raise ValueError(f"conv1d, as conv2d on a height of 1: {error}") from None
    return y.squeeze(-2)  # (N, OC, OL) or (OC, OL)


def _crop_uncropped(y: Tensor, wide, padding, size) -> Tensor:
    """conv_transpose2d's uncropped output y (N, OC, OHc, OWc) in the ``wide`` dims cut to
    ``size`` (OH, OW): rows PH ... PH + OH - 1, with zeros past OHc (differentiable: a slice,
    then F.pad)."""
    rows = slice(padding[0], padding[0] + size[0]) if wide[0] else slice(None)
    cols = slice(padding[1], padding[1] + size[1]) if wide[1] else slice(None)
    y = y[:, :, rows, cols]  # (N, OC, <= OH, <= OW)
    short = (size[0] - y.shape[2], size[1] - y.shape[3])
    if short[0] or short[1]:
        y = pad(y, (0, short[1], 0, short[0]))  # (N, OC, OH, OW)
    return y


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (adjoint) of conv2d, ``torch.nn.functional.conv_transpose2d``.

    x (N, C, H, W), weight (C, OC/groups, KH, KW) -> (N, OC, OH, OW) with
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1: the input gradient of the
    conv2d that maps (N, OC, OH, OW) to x, y = col2im(W^T @ x) (``Conv2dInputGrad``).
    """
    input, unbatched = _batched("conv_transpose2d", input)
    N, C, H, W = input.shape
    if weight.ndim != 4 or weight.shape[0] != C:
        raise ValueError(
            f"conv_transpose2d: input has {C} channels but weight expects {weight.shape[0]} "
            f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)}); weight is (C_in, C_out/groups, "
            "KH, KW)"
        )
    if groups < 1 or C % groups:
        raise ValueError(f"conv_transpose2d: groups={groups} must divide input channels {C}")
    _, OCg, KH, KW = weight.shape
    OC = OCg * groups
    _check_bias("conv_transpose2d", bias, OC, weight)
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
    if OH < 1 or OW < 1:
        raise ValueError(
            f"conv_transpose2d: the output would be {(OH, OW)} for input {(H, W)}, kernel "
            f"{(KH, KW)}, stride {stride}, padding {padding} and dilation {dilation}"
        )
    input, weight, bias = _one_dtype(input, weight, bias)
    # An output_padding of stride or more (torch allows up to dilation - 1) asks for rows that
    # the conv2d transposed here cannot map back onto x (it would give x more rows). In such a
    # dim the output is made uncropped, (H - 1) SH + DH (KH - 1) + 1 rows with padding 0, then
    # cropped to rows PH ... PH + OH - 1, zeros past the last row the windows reach.
    wide = (output_padding[0] >= stride[0], output_padding[1] >= stride[1])
    OHc = (H - 1) * stride[0] + dilation[0] * (KH - 1) + 1 if wide[0] else OH
    OWc = (W - 1) * stride[1] + dilation[1] * (KW - 1) + 1 if wide[1] else OW
    conv_padding = (0 if wide[0] else padding[0], 0 if wide[1] else padding[1])
    # the conv2d it transposes maps (N, OC, OH, OW) to x: its columns are (OC*KH*KW, N*H*W)
    spec = _conv_spec(input, groups, stride, conv_padding, dilation, OC * KH * KW * H * W)
    y = conv2d_input_grad(input, weight, (N, OC, OHc, OWc), spec)  # (N, OC, OHc, OWc)
    if wide[0] or wide[1]:
        y = _crop_uncropped(y, wide, padding, (OH, OW))  # (N, OC, OH, OW)
    if bias is not None:
        y = y + reshape(bias, 1, OC, 1, 1)
    return reshape(y, OC, OH, OW) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (adjoint) of conv1d, ``torch.nn.functional.conv_transpose1d``: x (N, C, L)
    or (C, L), weight (C, OC/groups, K), bias (OC,) -> (N, OC, OL) with
    OL = (L - 1) S - 2 P + D (K - 1) + output_padding + 1.

    It is conv_transpose2d on a height of 1: x (N, C, 1, L) and weight (C, OC/groups, 1, K),
    so it shares conv2d's kernels and gradients (to any order); the added dims are taken out
    again.

    >>> import tinygrad_edu as tg
    >>> conv_transpose1d(tg.randn(2, 4, 5), tg.randn(4, 3, 4), stride=2, padding=1).shape
    (2, 3, 10)
    """
    op = "conv_transpose1d"
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: expected Tensors for the input and the weight")
    if input.ndim not in (2, 3) or weight.ndim != 3:
        raise ValueError(f"{op}: expected a 2-d (C, L) or 3-d (N, C, L) input and a 3-d weight "
                         f"(C, OC/groups, K), got {tuple(input.shape)} and {tuple(weight.shape)}")
    C, L = input.shape[-2:]
    _, OCg, K = weight.shape
    if weight.shape[0] != C:
        raise ValueError(f"{op}: input has {C} channels but weight expects {weight.shape[0]} "
                         f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)}); weight is (C_in, "
                         "C_out/groups, K)")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or C % groups:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int that divides the "
                         f"input channels {C} (x: {tuple(input.shape)}, w: {tuple(weight.shape)})")
    _check_bias(op, bias, OCg * groups, weight)
    S = _single(op, "stride", stride)
    P = _single(op, "padding", padding)
    OP = _single(op, "output_padding", output_padding)
    D = _single(op, "dilation", dilation)
    if S < 1 or D < 1 or K < 1 or P < 0:
        raise ValueError(f"{op}: expected stride >= 1, dilation >= 1, kernel size K >= 1 and "
                         f"padding >= 0, got stride={S}, dilation={D}, K={K}, padding={P} "
                         f"(w: {tuple(weight.shape)})")
    if not 0 <= OP < max(S, D):
        raise ValueError(f"{op}: output_padding {OP} must be >= 0 and smaller than stride {S} "
                         f"or dilation {D}")
    OL = (L - 1) * S - 2 * P + D * (K - 1) + OP + 1
    if OL < 1:
        raise ValueError(f"{op}: the output length would be {OL} for input length {L}, kernel "
                         f"{K}, stride {S}, padding {P}, dilation {D} and output_padding {OP} "
                         f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)})")
    stride, padding, output_padding, dilation = (1, S), (0, P), (0, OP), (1, D)  # height 1
    try:
        y = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, stride, padding,
                             output_padding, groups, dilation)
    except ValueError as error:  # name the op called, and the one that ran (shapes in 2-d)
        raise ValueError(f"{op}, as conv_transpose2d on a height of 1: {error}") from None
    return y.squeeze(-2)  # (N, OC, OL) or (OC, OL)


# ----------------------------------------------------------------------------------------------
# 3-d (volumetric, NCDHW) convolution: the same three Functions, on xp code (NumPy or CuPy)
# ----------------------------------------------------------------------------------------------
#
#   Conv3d            y  = W @ im2col3d(x) + b       x (N, C, D, H, W) -> y (N, OC, OD, OH, OW)
#   Conv3dInputGrad   dx = col2im3d(W^T @ dy)        dy, W -> dx  (= conv_transpose3d)
#   Conv3dWeightGrad  dW = dy @ im2col3d(x)^T        x, dy -> dW (OC, C/groups, KD, KH, KW)
#
# each one's backward written with the other two, as in 2-d, so conv3d and conv_transpose3d are
# differentiable to any order. The columns (GEMM layout cols[(c, kd, kh, kw), (n, od, oh, ow)])
# are one copy of a strided view of the zero-padded x (no kernels, no loops); col2im3d adds
# back one strided slice per kernel offset (KD*KH*KW of them). A 3-d column matrix is KD*KH*KW
# times the input, so the batch goes through in chunks within the same im2col budget.


def _triple(op: str, name: str, value) -> tuple[int, int, int]:
    """A 3-d argument given as an int (all three dims) or a triple of ints (D, H, W)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * 3
    if isinstance(value, (tuple, list)) and len(value) == 3 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise ValueError(f"{op}: {name} must be an int or a triple of ints (D, H, W), got {value!r}")


def _conv3d_output_size(size, kernel, stride, padding, dilation) -> tuple[int, int, int]:
    """(OD, OH, OW), in each dim O = (I + 2 P - DIL (K - 1) - 1) // S + 1 (may be < 1)."""
    return tuple((i + 2 * p - d * (k - 1) - 1) // s + 1
                 for i, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True))


def _im2col3d(x, kernel, spec: ConvSpec):
    """cols[(c, kd, kh, kw), (n, od, oh, ow)] = xpad[n, c, od SD + kd DD, oh SH + kh DH,
    ow SW + kw DW], (C*KD*KH*KW, n*OD*OH*OW): a strided view of the zero-padded x whose
    reshape is the one copy."""
    xp = get_array_module(x)
    N, C = x.shape[:2]
    KD, KH, KW = kernel
    PD, PH, PW = spec.padding
    (SD, SH, SW), (DD, DH, DW) = spec.stride, spec.dilation
    OD, OH, OW = _conv3d_output_size(x.shape[2:], kernel, *spec.window)
    xpad = x  # (n, C, Dp, Hp, Wp): as_strided reads any strides, so no copy without padding
    if PD or PH or PW:
        xpad = xp.pad(x, ((0, 0), (0, 0), (PD, PD), (PH, PH), (PW, PW)))
    sN, sC, sD, sH, sW = xpad.strides
    windows = xp.lib.stride_tricks.as_strided(  # a view: nothing is copied yet
        xpad, shape=(C, KD, KH, KW, N, OD, OH, OW),
        strides=(sC, DD * sD, DH * sH, DW * sW, sN, SD * sD, SH * sH, SW * sW))
    return windows.reshape(C * KD * KH * KW, N * OD * OH * OW)  # the copy


def _col2im3d(dcols, x_shape, kernel, spec: ConvSpec):
    """The adjoint of ``_im2col3d``: dx[n, c, d, h, w] = the sum of the dcols entries copied
    from (d, h, w), as one strided slice-add per kernel offset (kd, kh, kw) into a padded
    zero array; the padding is cut off at the end. (C*KD*KH*KW, n*OD*OH*OW) -> (n, C, D, H, W)"""
    xp = get_array_module(dcols)
    N, C, D, H, W = x_shape
    KD, KH, KW = kernel
    PD, PH, PW = spec.padding
    (SD, SH, SW), (DD, DH, DW) = spec.stride, spec.dilation
    OD, OH, OW = _conv3d_output_size((D, H, W), kernel, *spec.window)
    dcols = dcols.reshape(C, KD, KH, KW, N, OD, OH, OW)
    dxpad = xp.zeros((N, C, D + 2 * PD, H + 2 * PH, W + 2 * PW), dtype=dcols.dtype)
    for kd, kh, kw in itertools.product(range(KD), range(KH), range(KW)):
        d, h, w = kd * DD, kh * DH, kw * DW  # where this offset's windows start
        dxpad[:, :, d:d + SD * (OD - 1) + 1:SD, h:h + SH * (OH - 1) + 1:SH,
              w:w + SW * (OW - 1) + 1:SW] += dcols[:, kd, kh, kw].swapaxes(0, 1)  # (n, C, OD..)
    if PD or PH or PW:
        dxpad = xp.ascontiguousarray(dxpad[:, :, PD:PD + D, PH:PH + H, PW:PW + W])
    return dxpad  # (n, C, D, H, W)


class Conv3d(Function):
    """y[n, o, od, oh, ow] = sum_(c, kd, kh, kw) W[o, c, kd, kh, kw]
    xpad[n, c, od SD + kd DD, oh SH + kh DH, ow SW + kw DW] + b[o], per group and chunk of the
    batch:  y = W @ im2col3d(x) + b  (nothing kept but x, W);
    dx = col2im3d(W^T @ dy),  dW = dy @ im2col3d(x)^T,  db = dy summed over (N, OD, OH, OW)"""

    def forward(self, x, weight, bias=None, *, spec: ConvSpec):
        self.spec = spec
        xp = get_array_module(x)
        N = x.shape[0]
        OC, Cg, KD, KH, KW = weight.shape
        G = spec.groups
        OD, OH, OW = _conv3d_output_size(x.shape[2:], (KD, KH, KW), *spec.window)
        w = weight.reshape(G, OC // G, Cg * KD * KH * KW)  # (G, OCg, Cg*KD*KH*KW)
        y = xp.empty((N, OC, OD, OH, OW), dtype=xp.result_type(x, weight))
        for s in _batch_chunks(N, spec.chunk):
            cols = _im2col3d(x[s], (KD, KH, KW), spec)  # (C*KD*KH*KW, n*OD*OH*OW)
            cols = cols.reshape(G, Cg * KD * KH * KW, -1)  # (G, Cg*KD*KH*KW, n*OD*OH*OW)
            yc = w @ cols  # (G, OCg, n*OD*OH*OW): one GEMM per group
            y[s] = yc.reshape(OC, -1, OD, OH, OW).swapaxes(0, 1)  # (n, OC, OD, OH, OW)
            del cols, yc  # free this chunk's temporaries before the next chunk makes its own
        if bias is not None:
            y += bias.reshape(1, OC, 1, 1, 1)
        return y  # (N, OC, OD, OH, OW)

    def backward(self, dy):
        x, weight = self.inputs[:2]
        needs = self.needs_input_grad
        dx = conv3d_input_grad(dy, weight, x.shape, self.spec) if needs[0] else None
        dw = conv3d_weight_grad(x, dy, weight.shape, self.spec) if needs[1] else None
        if len(self.inputs) == 2:
            return dx, dw
        N, OC, OD, OH, OW = dy.shape  # (an explicit size: N may be 0)
        db = dy.reshape(N, OC, OD * OH * OW).sum(2).sum(0) if needs[2] else None  # (OC,)
        return dx, dw, db


class Conv3dInputGrad(Function):
    """dx = col2im3d(W^T @ dy) per group and chunk: the adjoint of conv3d in x (what
    conv_transpose3d computes);  d(dy) = conv3d(g, W),  dW = dy @ im2col3d(g)^T"""

    def forward(self, dy, weight, *, x_shape, spec: ConvSpec):
        self.spec = spec
        xp = get_array_module(dy)
        N, C = x_shape[:2]
        OC, Cg, KD, KH, KW = weight.shape
        G = spec.groups
        wt = weight.reshape(G, OC // G, -1).transpose(0, 2, 1)  # (G, Cg*KD*KH*KW, OCg)
        dx = xp.empty(x_shape, dtype=xp.result_type(dy, weight))
        for s in _batch_chunks(N, spec.chunk):
            rows = _gemm_rows(dy[s], G)  # (G, OCg, n*OD*OH*OW)
            dcols = (wt @ rows).reshape(C * KD * KH * KW, -1)  # (C*KD*KH*KW, n*OD*OH*OW)
            dx[s] = _col2im3d(dcols, (s.stop - s.start,) + tuple(x_shape[1:]), (KD, KH, KW),
                              spec)  # (n, C, D, H, W)
            del rows, dcols
        return dx  # (N, C, D, H, W)

    def backward(self, g):
        dy, weight = self.inputs
        needs = self.needs_input_grad
        ddy = Conv3d.apply(g, weight, spec=self.spec) if needs[0] else None
        dw = conv3d_weight_grad(g, dy, weight.shape, self.spec) if needs[1] else None
        return ddy, dw


class Conv3dWeightGrad(Function):
    """dW = dy @ im2col3d(x)^T per group, summed over the chunks of the batch: the adjoint of
    conv3d in W;  dx = col2im3d(g^T @ dy),  d(dy) = conv3d(x, g)"""

    def forward(self, x, dy, *, w_shape, spec: ConvSpec):
        self.spec = spec
        xp = get_array_module(x)
        OC, Cg, KD, KH, KW = w_shape
        G = spec.groups
        dw = xp.zeros((G, OC // G, Cg * KD * KH * KW), dtype=xp.result_type(x, dy))
        for s in _batch_chunks(x.shape[0], spec.chunk):
            cols = _im2col3d(x[s], (KD, KH, KW), spec)  # (C*KD*KH*KW, n*OD*OH*OW)
            cols = cols.reshape(G, Cg * KD * KH * KW, -1)  # (G, Cg*KD*KH*KW, n*OD*OH*OW)
            rows = _gemm_rows(dy[s], G)  # (G, OCg, n*OD*OH*OW)
            dw += rows @ cols.transpose(0, 2, 1)  # (G, OCg, Cg*KD*KH*KW)
            del cols, rows
        return dw.reshape(w_shape)  # (OC, Cg, KD, KH, KW)

    def backward(self, g):
        x, dy = self.inputs
        needs = self.needs_input_grad
        dx = conv3d_input_grad(dy, g, x.shape, self.spec) if needs[0] else None
        ddy = Conv3d.apply(x, g, spec=self.spec) if needs[1] else None
        return dx, ddy


def conv3d_input_grad(dy: Tensor, weight: Tensor, x_shape, spec: ConvSpec) -> Tensor:
    """(N, OC, OD, OH, OW) -> (N, C, D, H, W): the gradient of conv3d with respect to x."""
    return Conv3dInputGrad.apply(dy, weight, x_shape=tuple(x_shape), spec=spec)


def conv3d_weight_grad(x: Tensor, dy: Tensor, w_shape, spec: ConvSpec) -> Tensor:
    """-> (OC, C/groups, KD, KH, KW): the gradient of conv3d with respect to its weight."""
    return Conv3dWeightGrad.apply(x, dy, w_shape=tuple(w_shape), spec=spec)


def _batched3d(op: str, x) -> tuple[Tensor, bool]:
    """Accept (C, D, H, W) like torch by adding a batch dimension of 1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim == 4:
        return reshape(x, (1,) + tuple(x.shape)), True
    if x.ndim != 5:
        raise ValueError(f"{op}: expected a 4-d (C, D, H, W) or 5-d (N, C, D, H, W) input, got "
                         f"shape {tuple(x.shape)}")
    return x, False


def _check_window3d(op: str, kernel, stride, padding, dilation, w_shape) -> None:
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: expected kernel sizes, stride and dilation >= 1 and padding "
                         f">= 0, got kernel {kernel}, stride {stride}, dilation {dilation}, "
                         f"padding {padding} (w: {tuple(w_shape)})")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
           dilation=1, groups: int = 1) -> Tensor:
    """3-d cross-correlation, ``torch.nn.functional.conv3d``.

    x (N, C, D, H, W) or (C, D, H, W), weight (OC, C/groups, KD, KH, KW), bias (OC,) ->
    (N, OC, OD, OH, OW) with OD = (D + 2 PD - DD (KD - 1) - 1) // SD + 1 (OH, OW alike):
    y = W @ im2col3d(x) + b per group. ``padding="same"`` keeps D, H and W (stride 1), the
    extra zero of an odd total DD (KD - 1) at the end, as in torch.

    >>> import tinygrad_edu as tg
    >>> conv3d(tg.randn(2, 3, 5, 6, 7), tg.randn(4, 3, 3, 3, 3), padding=(0, 1, 1)).shape
    (2, 4, 3, 6, 7)
    """
    op = "conv3d"
    input, unbatched = _batched3d(op, input)
    if not isinstance(weight, Tensor) or weight.ndim != 5:
        got = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a 5-d Tensor (OC, C/groups, KD, KH, KW), got "
                         f"{got}")
    N, C, D, H, W = input.shape
    OC, Cg, KD, KH, KW = weight.shape
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or C % groups or OC % groups:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int that divides both "
                         f"input channels {C} and output channels {OC}")
    if Cg * groups != C:
        raise ValueError(f"{op}: input has {C} channels but weight expects {Cg * groups} "
                         f"(x: {tuple(input.shape)}, w: {tuple(weight.shape)}, groups={groups})")
    _check_bias(op, bias, OC, weight)
    kernel = (KD, KH, KW)
    stride = _triple(op, "stride", stride)
    dilation = _triple(op, "dilation", dilation)
    if isinstance(padding, str):
        if padding == "same":  # an odd total gets its extra zero at the end of its dim
            pads = same_padding(op, kernel, stride, dilation)  # ((PF, PB), (PT, PB), (PL, PR))
            input = _pad_same_excess(input, pads)  # one more plane/row/column where odd
            padding = tuple(before for before, _ in pads)
        elif padding == "valid":
            padding = 0
        else:
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             "'same', 'valid' (or an int or a triple of ints)")
    padding = _triple(op, "padding", padding)
    _check_window3d(op, kernel, stride, padding, dilation, weight.shape)
    size = tuple(input.shape[2:])
    OD, OH, OW = _conv3d_output_size(size, kernel, stride, padding, dilation)
    if min(OD, OH, OW) < 1:
        raise ValueError(f"{op}: kernel {kernel} with dilation {dilation} and padding {padding} "
                         f"does not fit input of size {size} (x: {tuple(input.shape)}, w: "
                         f"{tuple(weight.shape)})")
    input, weight, bias = _one_dtype(input, weight, bias)
    spec = _conv_spec(input, groups, stride, padding, dilation, C * KD * KH * KW * OD * OH * OW)
    if bias is None:
        y = Conv3d.apply(input, weight, spec=spec)  # (N, OC, OD, OH, OW)
    else:
        y = Conv3d.apply(input, weight, bias, spec=spec)
    return reshape(y, OC, OD, OH, OW) if unbatched else y


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (adjoint) of conv3d, ``torch.nn.functional.conv_transpose3d``.

    x (N, C, D, H, W) or (C, D, H, W), weight (C, OC/groups, KD, KH, KW), bias (OC,) ->
    (N, OC, OD, OH, OW) with OD = (D - 1) SD - 2 PD + DD (KD - 1) + output_padding + 1 (OH, OW
    alike): the input gradient of the conv3d that maps (N, OC, OD, OH, OW) to x,
    y = col2im3d(W^T @ x) (``Conv3dInputGrad``).

    >>> import tinygrad_edu as tg
    >>> conv_transpose3d(tg.randn(1, 4, 3, 4, 5), tg.randn(4, 2, 2, 2, 2), stride=2).shape
    (1, 2, 6, 8, 10)
    """
    op = "conv_transpose3d"
    input, unbatched = _batched3d(op, input)
    N, C, D, H, W = input.shape
    if not isinstance(weight, Tensor) or weight.ndim != 5 or weight.shape[0] != C:
        got = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: input has {C} channels but weight expects a 5-d (C_in, "
                         f"C_out/groups, KD, KH, KW) weight with C_in = {C} (x: "
                         f"{tuple(input.shape)}, w: {got})")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or C % groups:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int that divides the "
                         f"input channels {C}")
    _, OCg, KD, KH, KW = weight.shape
    OC = OCg * groups
    _check_bias(op, bias, OC, weight)
    kernel = (KD, KH, KW)
    stride = _triple(op, "stride", stride)
    padding = _triple(op, "padding", padding)
    dilation = _triple(op, "dilation", dilation)
    output_padding = _triple(op, "output_padding", output_padding)
    _check_window3d(op, kernel, stride, padding, dilation, weight.shape)
    if not all(0 <= p < max(s, d) for p, s, d in zip(output_padding, stride, dilation,
                                                      strict=True)):
        raise ValueError(f"{op}: output_padding {output_padding} must be >= 0 and smaller than "
                         f"stride {stride} or dilation {dilation} in each dim")
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + extra + 1 for i, s, p, d, k, extra in zip(
        (D, H, W), stride, padding, dilation, kernel, output_padding, strict=True))
    if min(size) < 1:
        raise ValueError(f"{op}: the output would be {size} for input {(D, H, W)}, kernel "
                         f"{kernel}, stride {stride}, padding {padding} and dilation {dilation}")
    input, weight, bias = _one_dtype(input, weight, bias)
    # As in conv_transpose2d: a dim with output_padding >= stride (torch allows up to
    # dilation - 1) is made uncropped, (I - 1) S + DIL (K - 1) + 1 with padding 0, then cut to
    # P ... P + O - 1, zeros past the last plane the windows reach.
    wide = tuple(p >= s for p, s in zip(output_padding, stride, strict=True))
    full = tuple((i - 1) * s + d * (k - 1) + 1 if cut else o for i, s, d, k, cut, o in zip(
        (D, H, W), stride, dilation, kernel, wide, size, strict=True))
    conv_padding = tuple(0 if cut else p for cut, p in zip(wide, padding, strict=True))
    # the conv3d it transposes maps (N, OC, *full) to x: its columns are (OC*KD*KH*KW, N*D*H*W)
    spec = _conv_spec(input, groups, stride, conv_padding, dilation, OC * KD * KH * KW * D * H * W)
    y = conv3d_input_grad(input, weight, (N, OC) + full, spec)  # (N, OC, *full)
    if any(wide):
        y = y[(slice(None), slice(None)) + tuple(
            slice(p, p + o) if cut else slice(None)
            for cut, p, o in zip(wide, padding, size, strict=True))]  # (N, OC, <= OD, ...)
        short = [o - have for o, have in zip(size, y.shape[2:], strict=True)]
        if any(short):
            y = pad(y, (0, short[2], 0, short[1], 0, short[0]))  # (N, OC, OD, OH, OW)
    if bias is not None:
        y = y + reshape(bias, 1, OC, 1, 1, 1)
    return reshape(y, (OC,) + size) if unbatched else y
