"""Winograd's minimal filtering F(2x2, 3x3) in plain NumPy: the oracle of ``cpu.winograd``.

A 3x3, stride-1 convolution computes each 2x2 block of outputs from a 4x4 tile ``d`` of the
zero-padded input (tiles start every 2 pixels, so neighbours overlap by 2). Lavin & Gray
(2016, "Fast Algorithms for Convolutional Neural Networks") write that block as::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        * elementwise, g the 3x3 filter

with the constant matrices below: 16 multiplies for the 4 outputs instead of 36. Over the
input channels the elementwise products add up, so a layer is 16 matrix products, one per
position xi = (i, j) of the 4x4 transformed tile::

    U[xi] = (G g G^T)[xi]    (OC, C)   the filters, transformed once per call
    V[xi] = (B^T d B)[xi]    (C, P)    every tile p = (n, th, tw) of the input
    M[xi] = U[xi] @ V[xi]    (OC, P)
    y[n, o, 2th:2th+2, 2tw:2tw+2] = A^T M[:, o, p] A + b[o]       (M[:, o, p] as 4x4)

2.25x fewer multiplies than im2col + GEMM (16 per 2x2 outputs and channel pair against 36);
the transforms are additions and memory passes. Tiles past the output's edge (odd OH or OW)
are computed on zeros and cut off.

The transposed convolution of stride 1 is this convolution too: the input gradient of a 3x3
conv2d with padding (PH, PW) is the convolution of dy with the filters flipped in both axes
and their two channel axes swapped, with padding (2 - PH, 2 - PW) (``input_grad_weight``).

The weight gradient is the adjoint of the same map, g -> U -> Y. Per tile, Y = A^T (U * V) A
is linear in U, with dL/dU = (A dY A^T) * V, and U = G g G^T gives dL/dg = G^T (dL/dU) G.
Summed over the tiles, that is again 16 matrix products (``winograd_weight_grad``)::

    Z[xi] = (A dY A^T)[xi]   (OC, P)   the 2x2 blocks of dy, zeros past its edge
    dU[xi] = Z[xi] @ V[xi]^T  (OC, C)
    dW[o, c] = G^T dU[:, o, c] G       (dU[:, o, c] as 4x4)
"""

import numpy as np

from .conv import check_4d, check_float_dtype

# B^T d B transforms a 4x4 input tile, G g G^T a 3x3 filter, A^T m A gives the 2x2 outputs
BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]], dtype=np.float64)


def check_winograd_args(op, x_shape, x_dtype, u_shape, u_dtype, padding, bias):
    """Validate a call of ``winograd_conv3x3``: x (N, C, H, W) and U (16, OC, C) of one float
    dtype, padding (PH, PW) with 0 <= PH, PW <= 2 and an output of at least 1x1, bias None or
    (OC,). Returns (OH, OW)."""
    check_4d(op, "input", x_shape)
    check_float_dtype(op, "x", x_dtype)
    N, C, H, W = (int(s) for s in x_shape)
    if len(u_shape) != 3 or u_shape[0] != 16 or u_shape[2] != C:
        raise ValueError(f"{op}: transformed weight must be (16, OC, C) = (16, OC, {C}) for an "
                         f"input of shape {tuple(x_shape)}, got {tuple(u_shape)}")
    if u_dtype != x_dtype:
        raise TypeError(f"{op}: x and the transformed weight must have one dtype, got "
                        f"{x_dtype} and {u_dtype}")
    PH, PW = padding
    if not (0 <= PH <= 2 and 0 <= PW <= 2):
        raise ValueError(f"{op}: padding must be 0, 1 or 2 on each side, got {tuple(padding)}")
    OH, OW = H + 2 * PH - 2, W + 2 * PW - 2
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: a 3x3 kernel with padding {tuple(padding)} does not fit "
                         f"input of size {(H, W)}")
    OC = u_shape[1]
    if bias is not None and (tuple(bias.shape) != (OC,) or bias.dtype != x_dtype):
        raise ValueError(f"{op}: bias must be a ({OC},) {x_dtype} array, got "
                         f"{tuple(bias.shape)} {bias.dtype}")
    return OH, OW


def winograd_weights(weight, input_grad: bool = False):
    """U = G g G^T for every filter g: weight (OC, C, 3, 3) -> (16, OC, C), U[4i + j] the
    (i, j) entry of the transformed 4x4 filters; computed in float64, returned in weight's
    dtype. ``input_grad``: the filters of conv2d's input gradient instead (see
    ``input_grad_weight``), (16, C, OC)."""
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.shape[2:] != (3, 3):
        raise ValueError(f"winograd_weights: weight must be (OC, C, 3, 3), got "
                         f"{tuple(weight.shape)}")
    if input_grad:
        weight = input_grad_weight(weight)
    OC, C = weight.shape[:2]
    u = np.einsum("ik,ockl,jl->ijoc", G, weight.astype(np.float64), G)  # (4, 4, OC, C)
    return np.ascontiguousarray(u.reshape(16, OC, C), dtype=weight.dtype)


def input_grad_weight(weight):
    """The filters whose convolution with dy is the input gradient of a 3x3 stride-1 conv2d:
    W (OC, C, 3, 3) -> W' (C, OC, 3, 3), W'[c, o] = W[o, c] rotated by 180 degrees."""
    return np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def _input_tiles(x, padding, TH, TW):
    """V = B^T d B for every 4x4 tile d of x zero-padded by ``padding``: (16, C, N*TH*TW)."""
    N, C, H, W = x.shape
    PH, PW = padding
    # zero-padded so that every tile lies inside: 2 TH + 2 rows cover the last tile
    xpad = np.zeros((N, C, 2 * TH + 2, 2 * TW + 2), dtype=x.dtype)
    xpad[:, :, PH:PH + H, PW:PW + W] = x
    tiles = np.lib.stride_tricks.sliding_window_view(xpad, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
    bt = BT.astype(x.dtype)
    return np.einsum("ik,nchwkl,jl->ijcnhw", bt, tiles, bt).reshape(16, C, N * TH * TW)


def winograd_conv3x3(x, u, bias, padding):
    """y (N, OC, OH, OW) = conv2d(x, g) + bias for x (N, C, H, W), U = winograd_weights(g),
    stride 1, padding (PH, PW) each 0, 1 or 2; OH = H + 2 PH - 2."""
    x, u = np.asarray(x), np.asarray(u)
    OH, OW = check_winograd_args("winograd_conv3x3", x.shape, x.dtype, u.shape, u.dtype,
                                 padding, bias)
    N = x.shape[0]
    OC = u.shape[1]
    TH, TW = -(-OH // 2), -(-OW // 2)  # tiles down and across
    v = _input_tiles(x, padding, TH, TW)  # (16, C, P)
    m = (u @ v).reshape(4, 4, OC, N, TH, TW)  # M[xi] = U[xi] @ V[xi]
    at = AT.astype(x.dtype)
    y = np.einsum("ai,ijonhw,bj->nohawb", at, m, at).reshape(N, OC, 2 * TH, 2 * TW)
    y = y[:, :, :OH, :OW]
    if bias is not None:
        y = y + bias.reshape(1, OC, 1, 1)
    return np.ascontiguousarray(y)


def check_weight_grad_args(op, x_shape, x_dtype, dy_shape, dy_dtype, padding):
    """Validate a call of ``winograd_weight_grad``: x (N, C, H, W) and dy (N, OC, OH, OW) of
    one float dtype, OH = H + 2 PH - 2 (a 3x3 stride-1 conv2d's output), padding 0-2."""
    check_4d(op, "input", x_shape)
    check_4d(op, "dy", dy_shape)
    check_float_dtype(op, "x", x_dtype)
    if dy_dtype != x_dtype:
        raise TypeError(f"{op}: x and dy must have one dtype, got {x_dtype} and {dy_dtype}")
    PH, PW = padding
    if not (0 <= PH <= 2 and 0 <= PW <= 2):
        raise ValueError(f"{op}: padding must be 0, 1 or 2 on each side, got {tuple(padding)}")
    N, C, H, W = (int(s) for s in x_shape)
    expected = (N, H + 2 * PH - 2, W + 2 * PW - 2)
    if (int(dy_shape[0]), int(dy_shape[2]), int(dy_shape[3])) != expected or min(expected) < 1:
        raise ValueError(f"{op}: dy must be (N, OC, OH, OW) = ({N}, OC, {expected[1]}, "
                         f"{expected[2]}) for input {tuple(x_shape)} and padding "
                         f"{tuple(padding)}, got {tuple(dy_shape)}")


def winograd_weight_grad(x, dy, padding):
    """dW (OC, C, 3, 3) of y = conv2d(x, W), 3x3, stride 1, padding (PH, PW) each 0-2, from
    x (N, C, H, W) and dy (N, OC, OH, OW): the sums over the tiles of Z V^T, transformed
    back with G (see the module docstring)."""
    x, dy = np.asarray(x), np.asarray(dy)
    check_weight_grad_args("winograd_weight_grad", x.shape, x.dtype, dy.shape, dy.dtype,
                           padding)
    N, OC, OH, OW = dy.shape
    C = x.shape[1]
    TH, TW = -(-OH // 2), -(-OW // 2)
    v = _input_tiles(x, padding, TH, TW)  # (16, C, P)
    dy_tiles = np.zeros((N, OC, 2 * TH, 2 * TW), dtype=dy.dtype)  # zeros past the edge
    dy_tiles[:, :, :OH, :OW] = dy
    blocks = dy_tiles.reshape(N, OC, TH, 2, TW, 2)  # (n, o, th, a, tw, b)
    at = AT.astype(dy.dtype)
    z = np.einsum("ai,nohawb,bj->ijonhw", at, blocks, at).reshape(16, OC, N * TH * TW)
    du = z @ v.transpose(0, 2, 1)  # (16, OC, C): dU[xi] = Z[xi] @ V[xi]^T
    du = du.reshape(4, 4, OC, C).astype(np.float64)
    dw = np.einsum("ik,ijoc,jl->ockl", G, du, G)  # G^T dU G per filter
    return np.ascontiguousarray(dw, dtype=x.dtype)
