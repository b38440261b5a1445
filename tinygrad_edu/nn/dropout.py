"""Dropout: a regularizer that is active only in training mode.

``Dropout`` zeroes single elements; ``Dropout1d`` / ``Dropout2d`` zero whole channels (the
neighbouring values of a feature map are correlated, so dropping single ones regularizes
little). ``AlphaDropout`` / ``FeatureAlphaDropout`` are the versions for self-normalizing
(SELU) networks: dropped values are set to SELU's negative saturation value and an affine map
restores mean 0 and variance 1. Every mask is drawn from the library's generator (seeded by
``tg.manual_seed``), as ``functional.dropout`` draws its own.
"""

from __future__ import annotations

import numbers
import warnings

from .. import functional as F
from ..tensor import Tensor, _random_array, ones
from .activation import in_place
from .module import Module


def _check_p(name: str, p) -> float:
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def _channel_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """torch's feature dropout of (N, C, *): y = x * m / (1 - p) with one m_nc ~ Bernoulli(1 - p)
    per channel of each sample, shared by all its positions;  dx = dy * m / (1 - p).
    The mask m / (1 - p), of shape (N, C, 1, ...), is ``dropout`` applied to ones."""
    if not training or p == 0.0:
        return x
    mask_shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)  # (N, C, 1, ...)
    mask = F.dropout(ones(mask_shape, dtype=x.dtype, device=x.device), p, True)
    return x * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            inplace: bool = False) -> Tensor:
    """Inverted dropout (identity when ``training`` is False); pass ``self.training``.
    ``inplace=True`` writes the result into the input in training, as torch."""
    if inplace and training and p != 0:
        return in_place("dropout_", F.dropout, input, p, training)
    return F.dropout(input, p, training)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002 - torch names
              inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, L) or (C, L) with probability p, scale the rest by
    1 / (1 - p); identity when ``training`` is False (pass ``self.training``)."""
    if inplace and training:  # torch's inplace=True: the result written into the input
        return in_place("dropout1d_", dropout1d, input, p, training)
    p = _check_p("dropout1d", p)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected a 2D (C, L) or 3D (N, C, L) input, got a {input.ndim}D input "
            f"of shape {tuple(input.shape)} (dropout1d drops channels of inputs with 1 spatial "
            "dim; see dropout2d and dropout)"
        )
    if input.ndim == 2:  # no batch dim: a batch of one
        return _channel_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _channel_dropout(input, p, training)


def _warn_unusual_rank(op: str, ndim: int, spatial: int) -> None:
    """torch's deprecation warning for a channel dropout given an input of another rank than
    its ``spatial`` dims + channels (+ batch); stacklevel points at the caller of ``op``."""
    warnings.warn(
        f"{op}: Received a {ndim}-D input to {op}, which is deprecated and will result in an "
        "error in a future release. To retain the behavior and silence this warning, please use "
        f"dropout instead. Note that {op} exists to provide channel-wise dropout on inputs with "
        f"{spatial} spatial dimensions, a channel dimension, and an optional batch dimension "
        f"(i.e. {spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002 - torch names
              inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, H, W) with probability p, scale the rest by 1 / (1 - p);
    identity when ``training`` is False. Like torch, a 3D input is taken as (N, C, L), with a
    warning, and inputs of other ranks (at least 2) drop along dims 0 and 1, with a warning."""
    if inplace and training:  # torch's inplace=True: the result written into the input
        return in_place("dropout2d_", dropout2d, input, p, training)
    p = _check_p("dropout2d", p)
    if input.ndim < 2:
        raise ValueError(f"dropout2d: channel dropout needs an input with at least 2 dims "
                         f"(N, C, *), got shape {tuple(input.shape)}")
    if input.ndim not in (3, 4):
        _warn_unusual_rank("dropout2d", input.ndim, spatial=2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _channel_dropout(input, p, training)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002 - torch names
              inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, D, H, W) or (C, D, H, W) with probability p, scale the rest
    by 1 / (1 - p); identity when ``training`` is False. Like torch, inputs of other ranks (at
    least 1) are taken as unbatched, with a warning."""
    if inplace and training:  # torch's inplace=True: the result written into the input
        return in_place("dropout3d_", dropout3d, input, p, training)
    p = _check_p("dropout3d", p)
    if input.ndim < 1:
        raise ValueError(f"dropout3d: channel dropout needs an input with at least 1 dim, got "
                         f"shape {tuple(input.shape)}")
    if input.ndim not in (4, 5):
        _warn_unusual_rank("dropout3d", input.ndim, spatial=3)
    if input.ndim != 5:  # no batch dim: a batch of one
        return _channel_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _channel_dropout(input, p, training)


# SELU's negative saturation value -scale * alpha, the value a dropped unit takes (torch's
# constant in aten/src/ATen/native/Dropout.cpp; alpha' = -ALPHA_DROPOUT_SATURATION)
ALPHA_DROPOUT_SATURATION = 1.7580993408473766


def _alpha_dropout(name: str, x: Tensor, p: float, training: bool, feature: bool) -> Tensor:
    """y = a (x m + alpha' (1 - m)) + b, m ~ Bernoulli(1 - p) (one per element, or per channel
    of each sample when ``feature``), alpha' = -1.7580993408473766 (SELU's saturation value),
    a = ((1 - p)(1 + p alpha'^2))^(-1/2), b = -a alpha' p: for an input of mean 0 and
    variance 1 the output keeps mean 0 and variance 1.  dx = dy * a m.
    Written as torch computes it: y = x * (a m) + alpha a (m - 1 + p) with alpha = -alpha'."""
    p = _check_p(name, p)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if p == 0.0 or not training or x.numel() == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor in training, got dtype "
                        f"{x.dtype} (shape {tuple(x.shape)})")
    if p == 1.0:
        return x * 0.0  # torch's value: zeros, not the saturation value
    if feature:
        if x.ndim < 2:
            raise ValueError(f"{name}: feature dropout needs an input with at least 2 dims "
                             f"(N, C, *), got shape {tuple(x.shape)}")
        mask_shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)  # (N, C, 1, ...)
    else:
        mask_shape = tuple(x.shape)
    keep = _random_array("uniform", mask_shape, x.dtype, x.device) >= p
    keep = keep.astype(x.dtype)  # m: 1 kept, 0 dropped
    alpha = ALPHA_DROPOUT_SATURATION
    a = 1.0 / ((alpha * alpha * p + 1) * (1 - p)) ** 0.5
    scale = keep * a  # a m
    shift = (keep - 1 + p) * (alpha * a)  # b = alpha a p where kept, alpha a (p - 1) where not
    return x * Tensor._wrap(scale, False) + Tensor._wrap(shift, False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,  # noqa: A002
                  inplace: bool = False) -> Tensor:
    """Alpha dropout for SELU networks: each element is set to SELU's saturation value
    alpha' = -1.7581 with probability p, then y = a x' + b keeps mean 0 and variance 1 (see
    ``_alpha_dropout``); identity when ``training`` is False (the default, as torch)."""
    if inplace and training:
        return in_place("alpha_dropout_", alpha_dropout, input, p, training)
    return _alpha_dropout("alpha_dropout", input, p, training, feature=False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,  # noqa: A002
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels of (N, C, *): each x[n, c] is set to alpha' with
    probability p, then y = a x' + b; identity when ``training`` is False (the default)."""
    if inplace and training:
        return in_place("feature_alpha_dropout_", feature_alpha_dropout, input, p, training)
    return _alpha_dropout("feature_alpha_dropout", input, p, training, feature=True)


class _DropoutNd(Module):
    """Shared code of the dropout layers: ``p`` and ``inplace`` (in training, write the result
    into the input and return it, as torch)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        _check_p(type(self).__name__, p)
        self.p = p  # kept as given, as torch (its repr shows p=1 for Dropout(1))
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout. Training: y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p), so
    E[y] = x and evaluation needs no rescaling; dx = dy * m / (1 - p).
    Evaluation (``model.eval()``): y = x.

    >>> import tinygrad_edu as tg
    >>> drop = Dropout(0.5).eval()
    >>> drop(tg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Channel dropout of (N, C, L) or (C, L) inputs: in training each channel x[n, c, :] is
    zeroed with probability p and the others are scaled by 1 / (1 - p),
    y = x * m_nc / (1 - p);  dx = dy * m_nc / (1 - p). Evaluation: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Channel dropout of (N, C, H, W) inputs: in training each feature map x[n, c] is zeroed
    with probability p and the others are scaled by 1 / (1 - p). Evaluation: y = x.

    >>> import tinygrad_edu as tg
    >>> _ = tg.manual_seed(0)
    >>> y = Dropout2d(0.5)(tg.ones(1, 4, 2, 2))
    >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Channel dropout of (N, C, D, H, W) or (C, D, H, W) inputs: in training each volume
    x[n, c] is zeroed with probability p and the others are scaled by 1 / (1 - p),
    y = x * m_nc / (1 - p);  dx = dy * m_nc / (1 - p). Evaluation: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalizing (SELU) networks. Training: each element is set to
    alpha' = -1.7581 (SELU's saturation value) with probability p, then
    y = a x' + b with a = ((1 - p)(1 + p alpha'^2))^(-1/2), b = -a alpha' p, so an input of
    mean 0 and variance 1 keeps them;  dx = dy * a m. Evaluation: y = x.

    >>> import tinygrad_edu as tg
    >>> AlphaDropout(0.2).eval()(tg.ones(2)).tolist()
    [1.0, 1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *): in training each x[n, c] is set to
    alpha' = -1.7581 with probability p, then y = a x' + b (as ``AlphaDropout``, with one
    mask entry per channel). Evaluation: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        return feature_alpha_dropout(input, self.p, self.training, self.inplace)
