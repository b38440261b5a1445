"""The ``torch.nn.functional`` namespace: ``import tinygrad_edu.nn.functional as F``.

Everything here is either re-exported from ``tinygrad_edu.functional`` (where each op's forward
and backward live) or defined in ``tinygrad_edu.nn`` (losses, normalization, embedding).
A few thin wrappers add torch's extra keyword arguments (``inplace=``, ``dtype=``) so that
torch code ports line by line; ``inplace=True`` and the ``relu_``-style twins write the result
into the input and return it, as torch does (``nn.activation.in_place``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as _F
from ..backend import get_array_module
from ..functional import (  # noqa: F401 - re-exported
    gelu,
    linear,
    logsumexp,
    sigmoid,
    softplus,
    tanh,
)
from ..tensor import Tensor
from .activation import (  # noqa: F401 - re-exported
    _implicit_softmax_dim,
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    in_place,
    mish,
    prelu,
    relu6,
    rrelu,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from .activation import threshold as _threshold  # threshold_'s argument hides the name
from .dropout import (  # noqa: F401 - re-exported
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from .embedding import embedding, embedding_bag  # noqa: F401 - re-exported
from .fold import _pair, _sliding_blocks, channel_shuffle  # noqa: F401 - re-exported
from .linear import bilinear  # noqa: F401 - re-exported
from .loss import (  # noqa: F401 - re-exported
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cosine_similarity,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    l1_penalty,
    l2_penalty,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    nll_loss,
    pairwise_distance,
    pdist,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .normalization import (  # noqa: F401 - re-exported
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    rms_norm,
)

# ----------------------------------------------------------------------------------------------
# Activations with torch's keyword arguments
# ----------------------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch names
    """max(x, 0)"""
    return in_place("relu_", _F.relu, input) if inplace else _F.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01,  # noqa: A002
               inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x"""
    if inplace:
        return in_place("leaky_relu_", _F.leaky_relu, input, negative_slope)
    return _F.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x if x > 0 else alpha (e^x - 1)"""
    return in_place("elu_", _F.elu, input, alpha) if inplace else _F.elu(input, alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x)"""
    return in_place("silu_", _F.silu, input) if inplace else _F.silu(input)


# torch.nn.functional's in-place twins: the activation written into the input, which is returned
def relu_(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    """max(x, 0), in place"""
    return relu(input, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """x if x > 0 else negative_slope * x, in place"""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002 - torch names
    """x if x > 0 else alpha (e^x - 1), in place"""
    return elu(input, alpha, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002 - torch names
    """x if x > 0 else alpha (e^(x / alpha) - 1), in place"""
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:  # noqa: A002 - torch names
    """scale * elu(x, alpha) with torch's constants, in place"""
    return selu(input, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """min(max(x, min_val), max_val), in place"""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002, F811
    """x where x > threshold, else value, in place"""
    return _threshold(input, threshold, value, inplace=True)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,  # noqa: A002
           training: bool = False) -> Tensor:
    """randomized leaky ReLU, in place"""
    return rrelu(input, lower, upper, training, inplace=True)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log sigmoid(x) = -softplus(-x), finite for any x;  d/dx = sigmoid(-x)."""
    return -_F.softplus(-input, beta=1.0, threshold=float("inf"))


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype=None) -> Tensor:
    """e^(x_i) / sum_j e^(x_j) along ``dim`` (computed in ``dtype`` if given)."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim)
    return _F.softmax(input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
                dtype=None) -> Tensor:
    """x_i - log sum_j e^(x_j) along ``dim`` (computed in ``dtype`` if given)."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim)
    return _F.log_softmax(input, dim)


# ----------------------------------------------------------------------------------------------
# Small utilities from torch.nn.functional
# ----------------------------------------------------------------------------------------------


def pad(input: Tensor, pad, mode: str = "constant",  # noqa: A002 - torch names
        value: float | None = None) -> Tensor:
    """Pad with ``value`` (0 by default), or with copies of x's own entries for ``mode``
    'reflect', 'replicate' or 'circular'; ``pad`` = (left, right) of the last dim, then of the
    one before, ... (see ``tinygrad_edu.functional.pad`` for the rules of each mode)"""
    return _F.pad(input, pad, mode=mode, value=0.0 if value is None else value)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices (*) -> int64 one-hot vectors (*, num_classes) (no gradient).
    ``num_classes=-1`` uses max(index) + 1."""
    data = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of class indices, got "
                        f"dtype {data.dtype}")
    xp = get_array_module(data)
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if not isinstance(num_classes, numbers.Integral) or num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be a non-negative int or -1, got "
                         f"{num_classes!r}")
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(
            f"one_hot: class values must be in [0, {num_classes}), got min {int(data.min())} "
            f"and max {int(data.max())}"
        )
    out = (data[..., None] == xp.arange(num_classes)).astype(np.int64)  # (*, num_classes)
    return Tensor._wrap(out, False)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1,  # noqa: A002 - torch names
              eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (unit vectors; cosine similarity, embeddings).

    Written as x / (max(sum |x|^p, eps^p))^(1/p): the same values, and a gradient that stays
    finite for an all-zero slice."""
    if p == 2:
        total = (input * input).sum(dim=dim, keepdim=True)
    else:
        total = (input.abs() ** p).sum(dim=dim, keepdim=True)
    return input / total.clamp(min=eps**p) ** (1.0 / p)


# ----------------------------------------------------------------------------------------------
# Convolution, pooling and attention (kernel-backed; see tinygrad_edu/functional/)
# ----------------------------------------------------------------------------------------------

from ..functional.attention import scaled_dot_product_attention  # noqa: E402, F401
from ..functional.conv import col2im as _col2im  # noqa: E402
from ..functional.conv import (  # noqa: E402, F401
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from ..functional.conv import im2col as _im2col  # noqa: E402
from ..functional.pool import (  # noqa: E402, F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from ..functional.pool3d import (  # noqa: E402, F401
    adaptive_avg_pool3d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
)
from ..functional.pool_extra import (  # noqa: E402, F401
    local_response_norm,
    lp_pool1d,
    lp_pool2d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from ..functional.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: E402, F401


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002 - torch names
    """``torch.nn.functional.unfold`` = im2col: (N, C, H, W) -> (N, C*KH*KW, L); a (C, H, W)
    input gives (C*KH*KW, L)."""
    if input.ndim == 3:  # a batch of one
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    if input.ndim != 4:
        raise ValueError(f"unfold: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got "
                         f"shape {tuple(input.shape)}")
    _sliding_blocks("unfold", "input of size", input.shape[2:], kernel_size, dilation, padding,
                    stride)  # the arguments checked, in unfold's terms
    KH, KW = _pair("unfold", "kernel_size", kernel_size, 1)
    return _im2col(input, KH, KW, stride, padding, dilation)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """``torch.nn.functional.fold`` = col2im, the adjoint of unfold:
    (N, C*KH*KW, L) -> (N, C, H, W) with (H, W) = output_size; overlaps add up. A
    (C*KH*KW, L) input gives (C, H, W)."""
    if input.ndim == 2:  # a batch of one
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding,
                    stride).squeeze(0)
    if input.ndim != 3:
        raise ValueError(f"fold: expected a 2D (C*KH*KW, L) or 3D (N, C*KH*KW, L) input, got "
                         f"shape {tuple(input.shape)}")
    H, W = _pair("fold", "output_size", output_size, 1)
    _sliding_blocks("fold", "output_size", (H, W), kernel_size, dilation, padding, stride)
    KH, KW = _pair("fold", "kernel_size", kernel_size, 1)
    N, CKK = input.shape[0], input.shape[1]
    if CKK % (KH * KW):
        raise ValueError(f"fold: input has {CKK} rows, not a multiple of KH*KW = {KH * KW} "
                         f"(input shape {tuple(input.shape)})")
    return _col2im(input, (N, CKK // (KH * KW), H, W), KH, KW, stride, padding, dilation)
