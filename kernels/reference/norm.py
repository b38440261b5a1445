"""Batch normalization (training mode) and layer normalization in NumPy: what
``kernels/cpu/norm.py`` computes. (Layer norm: see ``layer_norm_forward`` at the end.)

x is seen as (N, C, L): the channels C, and for each channel the M = N * L values it
normalizes (L = H * W for BatchNorm2d, L for BatchNorm1d on (N, C, L), 1 on (N, C)).
Per channel, with the statistics summed in float64:

    mean = sum(x) / M,   var = sum((x - mean)^2) / M   (biased),   r = 1 / sqrt(var + eps)
    y    = gamma * (x - mean) * r + beta                           (forward)

    dbeta  = sum(dy),    dgamma = r * sum(dy * (x - mean))
    dx     = gamma * r * (dy - dbeta / M - (x - mean) * r^2 * sum(dy * (x - mean)) / M)

(the backward of y: the paths through mean and var are the two subtracted terms). y and dx
are computed in x's dtype from per-channel float64 coefficients: y = x * scale + shift and
dx = dy * a + x * b + c.
"""

import numpy as np


def _coefficients_forward(mean, var, weight, bias, eps):
    """(scale, shift) per channel, float64: y = x * scale + shift."""
    inv_std = 1.0 / np.sqrt(var + eps)
    gamma = 1.0 if weight is None else weight.astype(np.float64)
    beta = 0.0 if bias is None else bias.astype(np.float64)
    scale = gamma * inv_std
    return scale, beta - mean * scale


def batch_norm_forward(x, weight, bias, eps: float):
    """x (N, C, L), weight and bias (C,) or None -> y (N, C, L) in x's dtype, and the batch
    mean and biased variance (C,) in float64."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2))
    var = ((x64 - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    scale, shift = _coefficients_forward(mean, var, weight, bias, eps)
    y = x * scale.astype(x.dtype)[None, :, None] + shift.astype(x.dtype)[None, :, None]
    return y.astype(x.dtype, copy=False), mean, var


def batch_norm_backward(dy, x, mean, var, weight, eps: float):
    """dy, x (N, C, L); mean, var (C,) float64 from the forward -> dx (N, C, L) in x's dtype,
    dweight and dbias (C,) in x's dtype (dweight is None without ``weight``)."""
    M = x.shape[0] * x.shape[2]
    inv_std = 1.0 / np.sqrt(var + eps)
    centered = x.astype(np.float64) - mean[None, :, None]
    dy64 = dy.astype(np.float64)
    sum_dy = dy64.sum(axis=(0, 2))
    sum_dy_centered = (dy64 * centered).sum(axis=(0, 2))
    gamma = 1.0 if weight is None else weight.astype(np.float64)
    a = gamma * inv_std
    b = -a * inv_std * inv_std * sum_dy_centered / M
    c = -a * sum_dy / M - b * mean
    dx = (dy * a.astype(x.dtype)[None, :, None] + x * b.astype(x.dtype)[None, :, None]
          + c.astype(x.dtype)[None, :, None])
    dweight = None if weight is None else (inv_std * sum_dy_centered).astype(x.dtype)
    return dx.astype(x.dtype, copy=False), dweight, sum_dy.astype(x.dtype)


# ----------------------------------------------------------------------------------------------
# layer norm: each row of x (R, D) over its D values, weight and bias per column
# ----------------------------------------------------------------------------------------------


def layer_norm_forward(x, weight, bias, eps: float):
    """x (R, D), weight and bias (D,) or None -> y (R, D) in x's dtype, and each row's mean and
    biased variance (R,) in float64:  y = (x - mean) * r * weight + bias,  r = 1/sqrt(var+eps)."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1)
    var = ((x64 - mean[:, None]) ** 2).mean(axis=1)
    xhat = (x64 - mean[:, None]) / np.sqrt(var + eps)[:, None]
    y = xhat if weight is None else xhat * weight.astype(np.float64)
    y = y if bias is None else y + bias.astype(np.float64)
    return y.astype(x.dtype), mean, var


def layer_norm_backward(dy, x, mean, var, weight, eps: float):
    """dy, x (R, D); mean, var (R,) from the forward -> dx (R, D), dweight (None without
    ``weight``) and dbias (D,), in x's dtype. With dxhat = dy * weight (dy without it):

        dx = r * (dxhat - mean_j(dxhat) - xhat * mean_j(dxhat * xhat)),
        dweight = sum_r dy * xhat,   dbias = sum_r dy."""
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x.astype(np.float64) - mean[:, None]) * inv_std[:, None]
    dy64 = dy.astype(np.float64)
    dxhat = dy64 if weight is None else dy64 * weight.astype(np.float64)
    dx = inv_std[:, None] * (dxhat - dxhat.mean(axis=1, keepdims=True)
                             - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    dweight = None if weight is None else (dy64 * xhat).sum(axis=0).astype(x.dtype)
    return dx.astype(x.dtype), dweight, dy64.sum(axis=0).astype(x.dtype)
