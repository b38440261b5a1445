"""im2col / col2im in plain NumPy: the oracle for the ``cpu`` and ``cuda`` versions.

Notation (DeZero / Caffe): input ``x`` is (N, C, H, W); the kernel is KH x KW with stride
(SH, SW), zero padding (PH, PW) and dilation (DH, DW); the output grid is OH x OW with

    OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1        (same for OW)

``im2col`` copies every receptive field into a column::

    cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]

where ``xpad`` is ``x`` zero-padded by (PH, PW); the row axis is ordered (C, KH, KW) and the
column axis (OH, OW), the layout of ``torch.nn.functional.unfold``.  A convolution is then one
matrix product: ``w.reshape(OC, C*KH*KW) @ cols`` is the output (N, OC, OH*OW).

``col2im`` is the adjoint (transpose) of ``im2col``: every column entry is added back to the
input pixel it was copied from, so pixels shared by overlapping windows receive the sum, and
entries copied from the padding are dropped.  It is the input gradient of im2col:
``dx = col2im(dcols)``.

``im2col_gemm`` / ``col2im_gemm`` are the same two maps with the *GEMM layout*: the batch is
moved next to the window positions, so the columns of all samples sit side by side::

    cols[(c, kh, kw), (n, oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]

and one large matrix product ``w.reshape(OC, C*KH*KW) @ cols`` -> (OC, N*OH*OW) convolves the
whole batch (and ``dw = dy2 @ cols^T`` sums over the batch inside the GEMM), instead of N small
products of (OC, C*KH*KW) @ (C*KH*KW, OH*OW) -- much faster on a CPU.  ``functional/conv.py``
uses this layout; the per-sample one stays for ``unfold``/``fold``.

The argument checks live here once; ``cpu`` and ``cuda`` import them.
"""

import numbers

import numpy as np

# ---------------------------------------------------------------------------------------------
# argument checks shared by the three implementations
# ---------------------------------------------------------------------------------------------


def as_pair(value, name, op):
    """``3 -> (3, 3)``; ``(2, 3) -> (2, 3)``; anything else raises a ValueError naming ``op``."""
    # fast path for what the library passes (a pair of ints, once per kernel call): the
    # general checks below use abstract-class isinstance tests, a few microseconds each call
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int \
            and type(value[1]) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op}: {name} must be an int or a pair of ints (h, w), got {value!r}")


def check_4d(op, name, shape):
    """Raise unless ``shape`` is a 4-d (N, C, H, W) shape."""
    if len(shape) != 4:
        raise ValueError(
            f"{op}: {name} must be 4-d (N, C, H, W), got {len(shape)}-d shape {tuple(shape)}"
        )


def check_float_dtype(op, name, dtype):
    """The compiled kernels are specialised for float32 and float64 only."""
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"{op}: {name} must be float32 or float64, got {np.dtype(dtype)}")


def conv_output_size(H, W, KH, KW, stride, padding, dilation):
    """Output grid (OH, OW) of a KH x KW window sliding over an H x W input.

    ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1`` and the same for OW.  May be <= 0 when the
    window does not fit; ``check_conv_args`` turns that into an error.

    >>> conv_output_size(28, 28, 5, 5, (1, 1), (0, 0), (1, 1))
    (24, 24)
    >>> conv_output_size(7, 5, 3, 3, (2, 2), (1, 1), (1, 1))
    (4, 3)
    """
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    return OH, OW


def check_conv_args(op, x_shape, KH, KW, stride, padding, dilation):
    """Validate im2col / col2im arguments.

    Returns plain ints: ``((KH, KW), stride, padding, dilation, OH, OW)``, the middle three
    as (h, w) pairs.

    Errors name the kernel and show what arrived, e.g.
    ``im2col: kernel (5, 5) with dilation (1, 1) and padding (0, 0) does not fit input of
    size (3, 3)``.
    """
    check_4d(op, "input", x_shape)
    KH, KW = as_pair((KH, KW), "kernel size (KH, KW)", op)
    stride = as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op)
    dilation = as_pair(dilation, "dilation", op)
    if KH < 1 or KW < 1:
        raise ValueError(f"{op}: kernel size must be >= 1, got {(KH, KW)}")
    if min(stride) < 1:
        raise ValueError(f"{op}: stride must be >= 1, got {stride}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding}")
    if min(dilation) < 1:
        raise ValueError(f"{op}: dilation must be >= 1, got {dilation}")
    H, W = int(x_shape[2]), int(x_shape[3])
    OH, OW = conv_output_size(H, W, KH, KW, stride, padding, dilation)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{op}: kernel {(KH, KW)} with dilation {dilation} and padding {padding} "
            f"does not fit input of size {(H, W)}"
        )
    return (KH, KW), stride, padding, dilation, OH, OW


def check_cols_shape(op, cols_shape, x_shape, KH, KW, OH, OW):
    """col2im: ``cols`` must be (N, C*KH*KW, OH*OW) for the given input shape."""
    N, C = int(x_shape[0]), int(x_shape[1])
    expected = (N, C * KH * KW, OH * OW)
    if tuple(cols_shape) != expected:
        raise ValueError(
            f"{op}: cols must have shape (N, C*KH*KW, OH*OW) = {expected} for x_shape "
            f"{tuple(x_shape)} and kernel {(KH, KW)}, got {tuple(cols_shape)}"
        )


def check_cols_gemm_shape(op, cols_shape, x_shape, KH, KW, OH, OW):
    """col2im_gemm: ``cols`` must be (C*KH*KW, N*OH*OW) for the given input shape."""
    N, C = int(x_shape[0]), int(x_shape[1])
    expected = (C * KH * KW, N * OH * OW)
    if tuple(cols_shape) != expected:
        raise ValueError(
            f"{op}: cols must have shape (C*KH*KW, N*OH*OW) = {expected} for x_shape "
            f"{tuple(x_shape)} and kernel {(KH, KW)}, got {tuple(cols_shape)}"
        )


# ---------------------------------------------------------------------------------------------
# reference kernels
# ---------------------------------------------------------------------------------------------


def _window_slices(kh, kw, OH, OW, stride, dilation):
    """Slices of the padded input read by kernel offset (kh, kw) for all (oh, ow) at once."""
    (SH, SW), (DH, DW) = stride, dilation
    rows = slice(kh * DH, kh * DH + SH * (OH - 1) + 1, SH)  # oh*SH + kh*DH, oh = 0..OH-1
    cols = slice(kw * DW, kw * DW + SW * (OW - 1) + 1, SW)  # ow*SW + kw*DW, ow = 0..OW-1
    return rows, cols


def im2col(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (N, C*KH*KW, OH*OW).

    ``cols[n, (c, kh, kw), (oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]`` with zero
    padding; identical to ``torch.nn.functional.unfold``.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2, 2, (1, 1), (0, 0), (1, 1))[0]
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = np.asarray(x)
    (KH, KW), stride, padding, dilation, OH, OW = check_conv_args(
        "im2col", x.shape, KH, KW, stride, padding, dilation
    )
    N, C, H, W = x.shape
    PH, PW = padding
    xpad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))  # (N, C, H + 2PH, W + 2PW)
    cols = np.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            rows, cls = _window_slices(kh, kw, OH, OW, stride, dilation)
            cols[:, :, kh, kw] = xpad[:, :, rows, cls]  # (N, C, OH, OW)
    return cols.reshape(N, C * KH * KW, OH * OW)


def col2im(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (N, C*KH*KW, OH*OW) back into dx (N, C, H, W), the adjoint of im2col.

    ``dx[n, c, h, w] = sum over (kh, kw, oh, ow) with oh*SH + kh*DH - PH == h and
    ow*SW + kw*DW - PW == w of cols[n, (c, kh, kw), (oh, ow)]``; entries that fall into the
    padding are dropped.  Identical to ``torch.nn.functional.fold``.

    >>> cols = np.ones((1, 4, 4))
    >>> col2im(cols, (1, 1, 3, 3), 2, 2, (1, 1), (0, 0), (1, 1))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    cols = np.asarray(cols)
    x_shape = tuple(int(s) for s in x_shape)
    (KH, KW), stride, padding, dilation, OH, OW = check_conv_args(
        "col2im", x_shape, KH, KW, stride, padding, dilation
    )
    check_cols_shape("col2im", cols.shape, x_shape, KH, KW, OH, OW)
    N, C, H, W = x_shape
    PH, PW = padding
    cols = cols.reshape(N, C, KH, KW, OH, OW)
    dxpad = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            rows, cls = _window_slices(kh, kw, OH, OW, stride, dilation)
            # one kernel offset never hits the same pixel twice, so += on the slice is exact
            dxpad[:, :, rows, cls] += cols[:, :, kh, kw]  # (N, C, OH, OW)
    return dxpad[:, :, PH : PH + H, PW : PW + W].copy()  # drop the padding: (N, C, H, W)


def im2col_gemm(x, KH, KW, stride, padding, dilation):
    """Unfold x (N, C, H, W) into cols (C*KH*KW, N*OH*OW), the GEMM layout.

    ``cols[(c, kh, kw), (n, oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]``: the output
    of ``im2col`` with the batch axis moved next to the (oh, ow) axis.

    >>> x = np.arange(8.0).reshape(2, 1, 2, 2)  # two samples, one 2x2 channel each
    >>> im2col_gemm(x, 1, 2, (1, 1), (0, 0), (1, 1))  # rows kw = 0, 1; columns (n, oh)
    array([[0., 2., 4., 6.],
           [1., 3., 5., 7.]])
    """
    x = np.asarray(x)
    check_conv_args("im2col_gemm", x.shape, KH, KW, stride, padding, dilation)
    cols = im2col(x, KH, KW, stride, padding, dilation)  # (N, C*KH*KW, OH*OW)
    N, K, L = cols.shape
    return cols.transpose(1, 0, 2).reshape(K, N * L)  # (C*KH*KW, N*OH*OW)


def col2im_gemm(cols, x_shape, KH, KW, stride, padding, dilation):
    """Fold cols (C*KH*KW, N*OH*OW) back into dx (N, C, H, W), the adjoint of ``im2col_gemm``.

    >>> cols = np.ones((4, 2 * 4))  # 2x2 kernel on two 3x3 samples: 4 windows each
    >>> col2im_gemm(cols, (2, 1, 3, 3), 2, 2, (1, 1), (0, 0), (1, 1))[1, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    cols = np.asarray(cols)
    x_shape = tuple(int(s) for s in x_shape)
    (KH, KW), stride, padding, dilation, OH, OW = check_conv_args(
        "col2im_gemm", x_shape, KH, KW, stride, padding, dilation
    )
    check_cols_gemm_shape("col2im_gemm", cols.shape, x_shape, KH, KW, OH, OW)
    N, K = x_shape[0], cols.shape[0]
    per_sample = cols.reshape(K, N, OH * OW).transpose(1, 0, 2)  # (N, C*KH*KW, OH*OW)
    return col2im(per_sample, x_shape, KH, KW, stride, padding, dilation)
