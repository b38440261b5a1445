"""Weight initializers with PyTorch's names, arguments and formulas (``torch.nn.init``).

Every function fills its tensor in place (under ``no_grad``) and returns it. Why these scales:
a layer ``y = W x`` with ``fan_in`` inputs of unit variance gives outputs of variance
``fan_in * Var(W)``. Choosing ``Var(W) = gain^2 / fan_in`` keeps activations at the same scale
from layer to layer (He/Kaiming); averaging fan_in and fan_out balances the forward and the
backward pass (Glorot/Xavier). A uniform U(-b, b) has std b / sqrt(3), so the uniform variants
use ``b = sqrt(3) * std``.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.nn import init
>>> w = init.kaiming_normal_(tg.empty(256, 1024), nonlinearity="relu")  # std = sqrt(2 / 1024)
>>> abs(float(w.std()) - (2 / 1024) ** 0.5) < 2e-3
True
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor, _random_array
from ..tensor import generator as _global_generator

_LINEAR_GAINS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: the factor that restores unit variance.

    ======================  =====================================
    linear, conv*, sigmoid  1
    tanh                    5 / 3
    relu                    sqrt(2)          (relu halves the variance)
    leaky_relu              sqrt(2 / (1 + negative_slope^2)), slope 0.01 by default
    selu                    3 / 4
    ======================  =====================================
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            negative_slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{list(_LINEAR_GAINS) + ['tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out like torch's: (out, in, *kernel).

    fan_in = in * prod(kernel), fan_out = out * prod(kernel). A Linear weight (out, in) has
    fan_in = in; a Conv2d weight (C_out, C_in, KH, KW) has fan_in = C_in * KH * KW.
    """
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= int(s)
    fan_in = int(tensor.shape[1]) * receptive_field_size
    fan_out = int(tensor.shape[0]) * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _is_empty(tensor: Tensor) -> bool:
    if tensor.data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _fill(tensor: Tensor, kind: str, a: float, b: float, generator) -> Tensor:
    """Overwrite ``tensor.data`` with samples (uniform on [a, b) or normal(mean=a, std=b)).

    ``generator`` (a ``numpy.random.Generator``) makes the draw reproducible independently of
    the library's global seed; the samples are drawn on the host and moved to the device.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor, got {type(tensor).__name__}")
    if tensor.data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return tensor
    if generator is None:
        values = _random_array(kind, tensor.shape, tensor.dtype, tensor.device, a, b)
    else:
        draw = generator.uniform if kind == "uniform" else generator.normal
        host = np.asarray(draw(a, b, tensor.shape), dtype=tensor.dtype)
        values = backend.to_device(host, tensor.device)
    with no_grad():
        tensor.data[...] = values
    return tensor


# ----------------------------------------------------------------------------------------------
# Plain fills
# ----------------------------------------------------------------------------------------------


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b (the range [a, b)), got a={a} and b={b}")
    return _fill(tensor, "uniform", a, b, generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    if not std >= 0:
        raise ValueError(f"normal_: expected std >= 0, got std={std}")
    return _fill(tensor, "normal", mean, std, generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b] (samples outside are redrawn).

    Used by vision transformers and GPT-style models (``std=0.02``). Note: a and b are absolute
    bounds, not multiples of std, exactly as in torch. Unlike torch (which only warns that "the
    distribution of values may be incorrect"), a range holding less than 0.1% of the normal's
    mass raises a ValueError, and so does std <= 0.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"trunc_normal_: expected a Tensor, got {type(tensor).__name__}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    # probability that one N(mean, std^2) draw lands in [a, b]
    accept = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) -
                    math.erf((a - mean) / (std * math.sqrt(2))))
    if accept < 1e-3:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] is too far from mean={mean} for std={std} "
            f"(only {accept:.2g} of the normal's mass lies inside); bounds are absolute values"
        )
    rng = generator if generator is not None else _global_generator()
    n = tensor.data.size
    out = np.empty(0)
    while out.size < n:  # rejection sampling: about 1 / accept draws per kept sample
        draw = rng.normal(mean, std, size=int((n - out.size) / accept * 1.2) + 16)
        out = np.concatenate([out, draw[(draw >= a) & (draw <= b)]])
    host = out[:n].reshape(tensor.shape).astype(tensor.dtype)
    with no_grad():
        tensor.data[...] = backend.to_device(host, tensor.device)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the constant ``val``."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


# ----------------------------------------------------------------------------------------------
# Glorot / Xavier: Var(W) = gain^2 * 2 / (fan_in + fan_out)
# ----------------------------------------------------------------------------------------------


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))  (std = gain sqrt(2/(in+out)))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _fill(tensor, "uniform", -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, "normal", 0.0, std, generator)


# ----------------------------------------------------------------------------------------------
# He / Kaiming: Var(W) = gain^2 / fan
# ----------------------------------------------------------------------------------------------


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    ``mode="fan_in"`` preserves the variance of the forward activations, ``"fan_out"`` that of
    the backward gradients. ``a`` is the negative slope of the leaky_relu that follows.
    With ``a = sqrt(5)`` (what ``Linear`` uses) gain = sqrt(1/3), so b = 1 / sqrt(fan_in).
    """
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _fill(tensor, "uniform", -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return _fill(tensor, "normal", 0.0, std, generator)


# ----------------------------------------------------------------------------------------------
# Structured initializers: orthogonal, identity (eye, dirac), sparse
# ----------------------------------------------------------------------------------------------


def _check_tensor(name: str, tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(tensor).__name__}")


def _write(tensor: Tensor, host: np.ndarray) -> Tensor:
    """Overwrite ``tensor.data`` with the host array ``host`` (cast to the tensor's dtype and
    moved to its device), in place and without recording a graph."""
    host = np.asarray(host).astype(tensor.dtype, copy=False)
    with no_grad():
        tensor.data[...] = backend.to_device(host, tensor.device)
    return tensor


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013).

    The tensor is seen as a matrix (rows = shape[0], cols = the product of the other dims).
    Draw A ~ N(0, 1) of shape (rows, cols) (transposed if rows < cols, so A is tall), factor
    A = Q R, and flip the sign of every column of Q whose diagonal entry of R is negative:
    Q diag(sign(diag R)) is then uniformly (Haar) distributed. The result W satisfies
    W^T W = gain^2 I when rows >= cols and W W^T = gain^2 I when rows < cols: every
    singular value equals ``gain``, so a deep linear network neither grows nor shrinks a signal.

    >>> import tinygrad_edu as tg
    >>> w = orthogonal_(tg.empty(5, 3))
    >>> bool(abs(w.T @ w - tg.eye(3)).max() < 1e-5)
    True
    """
    _check_tensor("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: Only tensors with 2 or more dimensions are supported "
            f"(got shape {tuple(tensor.shape)})"
        )
    if tensor.data.size == 0:
        return tensor  # a no-op, as in torch
    rows = int(tensor.shape[0])
    cols = tensor.data.size // rows
    rng = generator if generator is not None else _global_generator()
    flattened = rng.normal(0.0, 1.0, (rows, cols))  # (rows, cols), float64 on the host
    if rows < cols:
        flattened = flattened.T  # (cols, rows): QR of a tall matrix
    q, r = np.linalg.qr(flattened)  # q: (max, min), r: (min, min)
    q = q * np.sign(np.diag(r))  # make Q uniform (Mezzadri 2007, arXiv:math-ph/0609050)
    if rows < cols:
        q = q.T  # (rows, cols)
    return _write(tensor, (q * gain).reshape(tensor.shape))


def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-d ``tensor`` with the identity matrix (ones on the main diagonal, zeros
    elsewhere): a ``Linear`` layer with this weight passes as many inputs through unchanged as
    it has outputs (``y[:min(out, in)] = x[:min(out, in)]``)."""
    _check_tensor("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: Only tensors with 2 dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill the {3, 4, 5}-d convolution weight ``tensor`` (C_out, C_in/groups, *kernel) with the
    Dirac delta: w[g * out_per_group + d, d, centre] = 1 for d < min(out_per_group, C_in/groups),
    zero elsewhere. A convolution with this weight (and "same" padding) copies its input
    channels to the output channels; with ``groups`` > 1 each group does so for its own channels.

    >>> import tinygrad_edu as tg
    >>> w = dirac_(tg.empty(2, 2, 3, 3))
    >>> x = tg.randn(1, 2, 4, 4)
    >>> bool((tg.nn.functional.conv2d(x, w, padding=1) == x).all())
    True
    """
    _check_tensor("dirac_", tensor)
    dimensions = tensor.ndim
    if dimensions not in (3, 4, 5):
        raise ValueError(f"dirac_: Only tensors with 3, 4, or 5 dimensions are supported (got "
                         f"shape {tuple(tensor.shape)})")
    sizes = tuple(int(s) for s in tensor.shape)
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise ValueError(f"dirac_: groups must be a positive int, got {groups!r}")
    if sizes[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 must be divisible by groups (got shape {sizes} and "
                         f"groups={groups})")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    centre = tuple(k // 2 for k in sizes[2:])  # the middle tap of every kernel dim
    host = np.zeros(sizes)
    for g in range(groups):
        for d in range(min_dim):
            host[(g * out_chans_per_grp + d, d) + centre] = 1
    return _write(tensor, host)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill the 2-d ``tensor`` with N(0, std^2) values, then zero ceil(sparsity * rows)
    randomly chosen entries in every column (Martens 2010, "Deep learning via Hessian-free
    optimization"): each output unit then depends on only a few inputs.

    >>> import tinygrad_edu as tg
    >>> w = sparse_(tg.empty(10, 4), sparsity=0.3)
    >>> [int((w[:, j] == 0).sum()) for j in range(4)]
    [3, 3, 3, 3]
    """
    _check_tensor("sparse_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: Only tensors with 2 dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparse_: sparsity is the fraction of zeros in every column and must "
                         f"be in [0, 1], got {sparsity}")
    rows, cols = (int(s) for s in tensor.shape)
    num_zeros = math.ceil(sparsity * rows)
    rng = generator if generator is not None else _global_generator()
    host = rng.normal(0.0, std, (rows, cols))  # (rows, cols)
    for col_idx in range(cols):
        zero_indices = rng.permutation(rows)[:num_zeros]
        host[zero_indices, col_idx] = 0
    return _write(tensor, host)
