"""More pooling-family layers (torch.nn.LPPool1d/2d, MaxUnpool1d/2d, LocalResponseNorm), over
``functional.pool_extra``. None has parameters; their arguments and reprs are torch's."""

from __future__ import annotations

from ..functional.pool_extra import (
    local_response_norm,
    lp_pool1d,
    lp_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from ..tensor import Tensor
from .module import Module


class _LPPoolNd(Module):
    """The shared arguments of LPPool1d/2d; ``stride`` stays None in the repr, as in torch."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling along L: y = (sum over the window of x^p)^(1/p), p = norm_type
    (p = inf: the max of |x|). (N, C, L) -> (N, C, OL), OL = (L - K) // S + 1.

    >>> import tinygrad_edu as tg
    >>> LPPool1d(2, 3, stride=2)(tg.randn(1, 4, 9)).shape
    (1, 4, 4)
    """

    def forward(self, input: Tensor) -> Tensor:
        return lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over KH x KW windows: y = (sum over the window of x^p)^(1/p),
    p = norm_type (p = 1: sum pooling; p = inf: max pooling of |x|).

    >>> import tinygrad_edu as tg
    >>> LPPool2d(2, (3, 2))(tg.randn(1, 4, 9, 7)).shape
    (1, 4, 3, 3)
    """

    def forward(self, input: Tensor) -> Tensor:
        return lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


def _n_tuple(value, n: int) -> tuple:
    """torch's ``_single``/``_pair``: an int repeated n times; a sequence kept as a tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _MaxUnpoolNd(Module):
    """The shared arguments of MaxUnpool1d/2d, kept as n-tuples (stride None -> kernel_size)
    like torch, whose repr shows them so."""

    n = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _n_tuple(kernel_size, self.n)
        self.stride = _n_tuple(stride if stride is not None else kernel_size, self.n)
        self.padding = _n_tuple(padding, self.n)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The inverse of MaxPool1d given its indices: zeros (N, C, OL) with each value put back
    where the max came from; OL = (L - 1) S + K - 2 P unless ``output_size`` says otherwise.

    >>> import tinygrad_edu as tg
    >>> MaxUnpool1d(2)(tg.tensor([[[5.0, 7.0]]]), tg.tensor([[[1, 2]]])).tolist()
    [[[0.0, 5.0, 7.0, 0.0]]]
    """

    n = 1

    def forward(self, input: Tensor, indices, output_size=None) -> Tensor:
        return max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """The inverse of MaxPool2d given its indices (``MaxPool2d(..., return_indices=True)``):
    zeros (N, C, OH, OW) with each value put back where the max came from; OH = (H - 1) SH + KH
    - 2 PH unless ``output_size`` ((OH, OW) or (N, C, OH, OW)) says otherwise.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu.nn.pooling import MaxPool2d
    >>> y, i = MaxPool2d(2, return_indices=True)(tg.randn(1, 3, 6, 4))
    >>> MaxUnpool2d(2)(y, i).shape
    (1, 3, 6, 4)
    """

    n = 2

    def forward(self, input: Tensor, indices, output_size=None) -> Tensor:
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)


class LocalResponseNorm(Module):
    """Normalize each channel by its ``size`` neighbours (AlexNet), for (N, C, *) inputs:
    y[n, c] = x[n, c] / (k + alpha / size * sum of x[n, c']^2 over c' in
    [c - size // 2, c + (size - 1) // 2])^beta, channels outside [0, C) counting as zeros.

    >>> import tinygrad_edu as tg
    >>> LocalResponseNorm(2)(tg.randn(2, 5, 3, 4)).shape
    (2, 5, 3, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
