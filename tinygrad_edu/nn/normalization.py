"""Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, RMSNorm and
GroupNorm, plus their functional forms.

Both families standardize x over some axes and then apply a learned per-feature scale and shift:

    xhat = (x - mean) / sqrt(var + eps)        (mean, biased var over the normalized axes)
    y    = gamma * xhat + beta

BatchNorm normalizes each channel over the batch (axes N, and L or H, W or D, H, W);
InstanceNorm each channel of each sample over its positions (axes L or H, W or D, H, W);
LayerNorm normalizes each sample over its last dimensions. The shared ``Normalize`` op below
computes xhat, and the affine step is two more ops (``* gamma``, ``+ beta``): the composite,
which runs everywhere and can be differentiated to any order. On NumPy float arrays under the
Numba kernels, training-mode batch norm and layer norm run instead as one op each
(``BatchNormTrain``, ``LayerNormFused``) on ``kernels/cpu/norm.py``: the same numbers in four
passes over the data instead of about fifteen; their backward differentiates the composite when
a graph is recorded (``create_graph``).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..backend import get_array_module
from ..tensor import Tensor, ones, zeros
from ..tensor import tensor as make_tensor
from .module import Module, Parameter, check_input_dtype

# ----------------------------------------------------------------------------------------------
# The op: xhat = (x - mean) / sqrt(var + eps), with the closed-form backward
# ----------------------------------------------------------------------------------------------


def _moments(x, axes: tuple):
    """Mean and biased variance of array ``x`` over ``axes`` (kept as size-1 dims)."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return mean, var


class Normalize(Function):
    """xhat = (x - mu) * r  with mu = mean(x), r = 1 / sqrt(var(x) + eps) over ``axes``.

    Backward, with all means over the M = prod(sizes of ``axes``) normalized elements:

        dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
           = (1/M) * r * (M dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    (the two subtracted terms are the paths through mu and through var). Why a Function and not
    a composite of mean/sub/var/pow/mul: the composite records ~10 graph nodes, each keeping
    its own (N, C, H, W) temporaries, and its backward walks all of them; this op keeps one
    node and one saved array and evaluates the formula above directly. The backward is written
    with Tensor ops, and under ``create_graph`` r is rebuilt from x with Tensor ops too, so
    second derivatives are exact (gradgradcheck passes).
    """

    reads_output = True  # backward reads self.output

    def forward(self, x, mean, var, axes, eps):
        self.axes = axes
        self.eps = eps
        xp = get_array_module(x)
        inv_std = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        self.save_for_backward(inv_std)
        return ((x - mean) * inv_std).astype(x.dtype, copy=False)

    def backward(self, dy):
        (x,) = self.inputs
        xhat = self.output
        if is_grad_enabled():  # create_graph: r must stay a differentiable function of x
            inv_std = (x.var(dim=self.axes, unbiased=False, keepdim=True) + self.eps) ** -0.5
        else:
            (inv_std_array,) = self.saved
            inv_std = Tensor._wrap(inv_std_array)
        mean_dy = dy.mean(dim=self.axes, keepdim=True)
        mean_dy_xhat = (dy * xhat).mean(dim=self.axes, keepdim=True)
        return inv_std * (dy - mean_dy - xhat * mean_dy_xhat)


def _normalize(x: Tensor, axes: tuple, eps: float):
    """(xhat, batch mean array, batch biased-variance array)."""
    mean, var = _moments(x.data, axes)
    return Normalize.apply(x, mean=mean, var=var, axes=axes, eps=eps), mean, var


class _FusedNorm(Function):
    """A normalization with its affine step as one op on the Numba kernels
    (``kernels/cpu/norm.py``): the same numbers as ``Normalize`` followed by ``* weight`` and
    ``+ bias``, in two passes over x forward and two backward instead of about ten, with
    nothing saved but x and the float64 statistics. Inputs: x, then weight and bias where
    given. Under ``create_graph`` the backward differentiates that composite instead (Tensor
    ops), so second derivatives stay exact.

    A subclass names its kernels and says how x is laid out for them (``_kernel_view``) and
    what the composite is (``_composite``)."""

    array_backward = True  # dy may be the array itself (first order)
    fresh_grads = True  # its first-order backward returns new arrays
    kernel_name = ""  # "batch_norm" or "layer_norm": <name>_forward, <name>_backward

    def forward(self, x, *params, has_weight, has_bias, eps, kernels, stats_out=None):
        self.has_weight, self.has_bias, self.eps, self.kernels = has_weight, has_bias, eps, kernels
        weight = params[0].reshape(-1) if has_weight else None
        bias = params[-1].reshape(-1) if has_bias else None
        forward = getattr(kernels, self.kernel_name + "_forward")
        y, self.mean, self.var = forward(self._kernel_view(x), weight, bias, eps)
        if stats_out is not None:
            stats_out.append((self.mean, self.var))  # float64, for running statistics
        return y.reshape(x.shape)

    def backward(self, dy):
        x = self.inputs[0]
        if is_grad_enabled():  # create_graph: differentiate the composite, to any order
            return self._composite_grads(dy)
        weight = self.inputs[1] if self.has_weight else None
        dy_array = dy.data if isinstance(dy, Tensor) else dy  # a Tensor while hooks watch
        backward = getattr(self.kernels, self.kernel_name + "_backward")
        dx, dweight, dbias = backward(
            self._kernel_view(dy_array), self._kernel_view(x.data), self.mean, self.var,
            None if weight is None else weight.data.reshape(-1), self.eps)
        grads = [dx.reshape(x.shape)]
        if self.has_weight:
            grads.append(dweight.reshape(weight.shape))
        if self.has_bias:
            grads.append(dbias.reshape(self.inputs[-1].shape))
        if isinstance(dy, Tensor):
            return tuple(Tensor._wrap(g) for g in grads)
        return tuple(grads)

    def _composite_grads(self, dy):
        weight = self.inputs[1] if self.has_weight else None
        bias = self.inputs[-1] if self.has_bias else None
        return self.composite_grads(self._composite(self.inputs[0], weight, bias), dy)


class BatchNormTrain(_FusedNorm):
    """Training-mode batch norm: y = gamma * (x - mu) * r + beta per channel, with mu, var the
    batch statistics over N and the spatial dims and r = 1 / sqrt(var + eps); with M values
    per channel,

        dbeta = sum(dy),  dgamma = r * sum(dy * (x - mu)),
        dx = gamma * r * (dy - dbeta / M - (x - mu) * r^2 * sum(dy * (x - mu)) / M).

    (64 x 32 x 28 x 28 float32, fwd+bwd: 7.6 -> 1.0-1.3 ms, torch 3.0-3.1.)"""

    kernel_name = "batch_norm"

    def _kernel_view(self, array):
        """(N, C, *) -> (N, C, L): each channel's values in N runs of L."""
        return array.reshape(array.shape[0], array.shape[1], -1)

    def _composite(self, x, weight, bias):
        channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        out, _, _ = _normalize(x, (0,) + tuple(range(2, x.ndim)), self.eps)
        return _affine(out, weight, bias, channel_shape)


class LayerNormFused(_FusedNorm):
    """Layer norm over the last k dims (D values per row): y = (x - mu) * r * weight + bias
    with mu, var per row; with xhat = (x - mu) * r and dxhat = dy * weight,

        dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))  (means over the row),
        dweight = sum over rows of dy * xhat,  dbias = sum over rows of dy.

    (GPT-sized (32, 64, 128) float32, fwd+bwd: 0.94 -> 0.17 ms, torch 0.22.)"""

    kernel_name = "layer_norm"

    def forward(self, x, *params, normalized_ndim, **options):
        self.normalized_ndim = normalized_ndim
        return super().forward(x, *params, **options)

    def _kernel_view(self, array):
        """(..., *normalized_shape) -> (R, D): one row per normalized group."""
        D = math.prod(array.shape[array.ndim - self.normalized_ndim:])
        return array.reshape(-1, D)

    def _composite(self, x, weight, bias):
        axes = tuple(range(x.ndim - self.normalized_ndim, x.ndim))
        out, _, _ = _normalize(x, axes, self.eps)
        return _affine(out, weight, bias, None)


def _affine(out: Tensor, weight, bias, shape) -> Tensor:
    """out * weight + bias (each where given), weight and bias reshaped to ``shape`` if any."""
    if weight is not None:
        out = out * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        out = out + (bias if shape is None else bias.reshape(shape))
    return out


def _fused_kernels(x: Tensor, *params):
    """``kernels/cpu/norm.py`` when a fused norm op runs on these tensors: NumPy float arrays
    of one dtype under the Numba kernels (params: the weight and bias given). Else None (CuPy
    arrays, the reference setting): the composite ops run."""
    return backend.numba_float_kernels("norm", x.data, *(p.data for p in params))


# ----------------------------------------------------------------------------------------------
# Functional forms (torch.nn.functional.batch_norm / layer_norm)
# ----------------------------------------------------------------------------------------------


def _same_device(op: str, x: Tensor, *others) -> None:
    for t in others:
        if t is not None and type(t.data) is not type(x.data):
            raise RuntimeError(
                f"{op}: input is on {x.device} but a parameter/buffer of shape "
                f"{tuple(t.shape)} is on {t.device}; move the module with .to(device)"
            )


def _check_channel_state(x: Tensor, running_mean, running_var, weight, bias,
                         op: str = "batch_norm"):
    """A norm's per-channel tensors must have one entry per channel C = x.shape[1]: the
    running statistics shape (C,), weight and bias C elements (torch also takes e.g. (1, C),
    used here as (C,)). Returns weight and bias as (C,)."""
    C = x.shape[1]
    for what, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"{op}: {what} must have shape (C,) = ({C},) for input of "
                             f"shape {tuple(x.shape)}, got {tuple(t.shape)}")
    checked = []
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            if t.numel() != C:
                raise ValueError(f"{op}: {what} must have shape (C,) = ({C},) for input "
                                 f"of shape {tuple(x.shape)}, got {tuple(t.shape)}")
            t = t.reshape(C)
        checked.append(t)
    return checked


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization of (N, C, *) over every axis except C.

    training=True: normalize with the batch statistics and, if running buffers are given,
    update them in place:  running_mean = (1 - momentum) running_mean + momentum mean,
    running_var = (1 - momentum) running_var + momentum var_unbiased  (var * M / (M - 1)).
    An empty batch (M = 0) gives weight * x + bias (empty) and leaves the buffers, as torch.
    training=False: normalize with running_mean / running_var (constants for autograd).
    """
    x = input
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {tuple(x.shape)}")
    axes = (0,) + tuple(range(2, x.ndim))  # every axis except the channel axis 1
    channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # (1, C, 1, ...) broadcasts over x
    _same_device("batch_norm", x, running_mean, running_var, weight, bias)
    weight, bias = _check_channel_state(x, running_mean, running_var, weight, bias)
    if training:
        count = math.prod(x.shape[a] for a in axes)
        if count == 0:  # an empty batch (torch): nothing to normalize, running stats unchanged
            return _affine(x, weight, bias, channel_shape)
        if count == 1:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {tuple(x.shape)} (use a batch size > 1, or call .eval())"
            )
        params = tuple(p for p in (weight, bias) if p is not None)
        fused = _fused_kernels(x, *params)
        if fused is not None:  # NumPy float arrays under the Numba kernels: one op
            stats = []  # the op's batch mean and variance, for the running statistics
            out = BatchNormTrain.apply(x, *params, has_weight=weight is not None,
                                       has_bias=bias is not None, eps=eps, kernels=fused,
                                       stats_out=stats)
            ((mean, var),) = stats
        else:
            xhat, mean, var = _normalize(x, axes, eps)
            out = _affine(xhat, weight, bias, channel_shape)
        if running_mean is not None:
            rm = running_mean.data
            rm[...] = ((1 - momentum) * rm + momentum * mean.reshape(rm.shape)).astype(rm.dtype)
        if running_var is not None:
            rv = running_var.data
            unbiased = var.reshape(rv.shape) * (count / (count - 1))
            rv[...] = ((1 - momentum) * rv + momentum * unbiased).astype(rv.dtype)
        return out
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: training=False needs running_mean and running_var")
    # y = x * scale + shift per channel, with scale = weight * r and shift = bias - mean * scale
    # (r = 1 / sqrt(running_var + eps)): two passes over x instead of four; scale and shift are
    # (C,) ops, differentiable in weight and bias (the running stats are constants)
    xp = get_array_module(x.data)
    mean = Tensor._wrap(running_mean.data.astype(x.dtype))
    scale = Tensor._wrap((1.0 / xp.sqrt(running_var.data + eps)).astype(x.dtype))  # (C,)
    if weight is not None:
        scale = scale * weight
    shift = -(mean * scale) if bias is None else bias - mean * scale
    return x * scale.reshape(channel_shape) + shift.reshape(channel_shape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dims, then y = xhat * weight + bias
    (weight and bias have shape ``normalized_shape`` and broadcast over the leading dims)."""
    x = input
    shape = _shape_tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: input's trailing dimensions {tuple(x.shape[max(x.ndim - k, 0):])} "
            f"don't match normalized_shape {shape} (input shape {tuple(x.shape)})"
        )
    _same_device("layer_norm", x, weight, bias)
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {what} must have shape normalized_shape = {shape}, "
                             f"got {tuple(t.shape)}")
    params = tuple(p for p in (weight, bias) if p is not None)
    fused = _fused_kernels(x, *params)
    if fused is not None:
        return LayerNormFused.apply(x, *params, has_weight=weight is not None,
                                    has_bias=bias is not None, eps=eps, kernels=fused,
                                    normalized_ndim=k)
    out, _, _ = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(out, weight, bias, None)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """Root-mean-square normalization over the last ``len(normalized_shape)`` dims (Zhang &
    Sennrich 2019, torch's ``F.rms_norm``): no mean is subtracted and there is no bias,

        y = x / sqrt(mean(x^2) + eps) * weight,   eps = finfo(x.dtype).eps when None.

    Built from Tensor ops, so the gradient (dx = r (w dy - xhat mean(xhat w dy)), r the
    reciprocal RMS, xhat = x r) comes from autograd and is differentiable again."""
    x = input
    shape = _shape_tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"rms_norm: input's trailing dimensions {tuple(x.shape[max(x.ndim - k, 0):])} "
            f"don't match normalized_shape {shape} (input shape {tuple(x.shape)})"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"rms_norm: weight must have shape normalized_shape = {shape}, got "
                         f"{tuple(weight.shape)}")
    _same_device("rms_norm", x, weight)
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean_square = (x * x).mean(dim=axes, keepdim=True)  # (*, 1, ..., 1)
    out = x * (mean_square + eps).rsqrt()
    return out if weight is None else out * weight


def instance_norm(input: Tensor, running_mean: Tensor | None = None,  # noqa: A002
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization of (N, C, *): each channel of each sample normalized over its own
    positions *, xhat = (x - mean_nc) / sqrt(var_nc + eps) (biased variance), then
    y = xhat * weight[c] + bias[c]. The gradient is ``Normalize``'s over the axes *.

    use_input_stats=True: running buffers, if given, are updated in place with the statistics
    averaged over the N samples:  running_mean = (1 - momentum) running_mean + momentum
    mean_n(mean_nc), running_var likewise with the unbiased variances var_nc * L / (L - 1)
    (L = prod(*)). use_input_stats=False: normalize with running_mean / running_var, as
    batch_norm does in eval mode.
    """
    x = input
    if not isinstance(x, Tensor):
        raise TypeError(f"instance_norm: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"instance_norm: expected an input (N, C, *), got shape "
                         f"{tuple(x.shape)}")
    _same_device("instance_norm", x, running_mean, running_var, weight, bias)
    weight, bias = _check_channel_state(x, running_mean, running_var, weight, bias,
                                        op="instance_norm")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    N, C = x.shape[:2]
    L = math.prod(x.shape[2:])  # the positions of one channel of one sample
    if L <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input of shape {tuple(x.shape)}")
    xhat, mean, var = _normalize(x, tuple(range(2, x.ndim)), eps)  # mean, var: (N, C, 1, ...)
    if running_mean is not None:
        rm = running_mean.data
        batch_mean = mean.reshape(N, C).mean(axis=0)  # (C,)
        rm[...] = ((1 - momentum) * rm + momentum * batch_mean).astype(rm.dtype)
    if running_var is not None:
        rv = running_var.data
        unbiased = var.reshape(N, C).mean(axis=0) * (L / (L - 1))  # (C,)
        rv[...] = ((1 - momentum) * rv + momentum * unbiased).astype(rv.dtype)
    return _affine(xhat, weight, bias, (C,) + (1,) * (x.ndim - 2))  # per channel


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the C channels of each sample (N, C, *) into ``num_groups`` groups of C / G and
    normalize each group over its channels and positions: xhat = (x - mean_g) / sqrt(var_g +
    eps) (biased variance), then y = xhat * weight[c] + bias[c] (weight, bias of shape (C,)).
    One group is a layer norm over (C, *); C groups an instance norm. The same in train and
    eval mode, with no running statistics; the gradient is ``Normalize``'s."""
    x = input
    if not isinstance(x, Tensor):
        raise TypeError(f"group_norm: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, *) of at least 2 dims, got "
                         f"shape {tuple(x.shape)}")
    N, C = x.shape[:2]
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: the {C} channels of input {tuple(x.shape)} must split "
                         f"into num_groups={num_groups} groups of equal size")
    _same_device("group_norm", x, weight, bias)
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"group_norm: {what} must have shape (num_channels,) = ({C},), "
                             f"got {tuple(t.shape)}")
    group_size = (C // num_groups) * math.prod(x.shape[2:])  # sizes, not -1: N may be 0
    groups = x.reshape(N, num_groups, group_size)  # (N, G, C/G * prod(*))
    out, _, _ = _normalize(groups, (2,), eps)
    out = out.reshape(x.shape)  # (N, C, *)
    return _affine(out, weight, bias, (C,) + (1,) * (x.ndim - 2))  # per channel


def _reset_affine(norm: Module) -> None:
    """weight = 1 and bias = 0 (where the layer has them): a norm layer that starts as the
    identity after normalizing."""
    if norm.weight is not None:
        norm.weight.data[...] = 1
    if getattr(norm, "bias", None) is not None:  # RMSNorm has no bias
        norm.bias.data[...] = 0


def _shape_tuple(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


# ----------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------


class _NormBase(Module):
    """Shared code of BatchNorm and InstanceNorm (torch's ``_NormBase``): parameters, buffers
    and their resets.

    Parameters: weight (gamma, init 1) and bias (beta, init 0; none with ``bias=False``),
    shape (C,), if ``affine``. Buffers: running_mean (init 0), running_var (init 1),
    num_batches_tracked (int64 scalar), if ``track_running_stats``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None,
                 *, bias: bool = True):
        super().__init__()
        if not isinstance(num_features, numbers.Integral) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(self.num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(self.num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, dtype=dtype,
                                                       device=device))
            self.register_buffer("running_var", ones(self.num_features, dtype=dtype,
                                                     device=device))
            self.register_buffer("num_batches_tracked",
                                 make_tensor(0, dtype=np.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


class _BatchNorm(_NormBase):
    """Shared code of BatchNorm1d/2d/3d: input checks and running-statistics bookkeeping.
    ``momentum=None`` gives the cumulative average: the running stats after k batches are the
    plain mean of the k batch statistics (factor 1/k). Training mode uses batch statistics;
    eval mode uses the running ones (or batch statistics when the module does not track them).
    """

    _expected_ndims: tuple = ()
    _layout: str = ""

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._describe()}: expected a Tensor input, got "
                            f"{type(x).__name__}")
        if x.ndim not in self._expected_ndims:
            raise ValueError(
                f"{self._describe()}: expected {self._layout} input, got a {x.ndim}D input of "
                f"shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._describe()}: input has {x.shape[1]} channels (dim 1), expected "
                f"{self.num_features} (input shape {tuple(x.shape)})"
            )
        check_input_dtype(self, x, self.weight, self.running_mean)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        update = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if update else None,
            self.running_var if update else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=factor,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C:
    y = (x - mean) / sqrt(var + eps) * gamma + beta, statistics over N (and L).

    >>> import tinygrad_edu as tg
    >>> bn = BatchNorm1d(3, dtype=tg.float64)
    >>> y = bn(tg.randn(16, 3, dtype=tg.float64))
    >>> [round(v, 6) + 0.0 for v in y.mean(0).tolist()]
    [0.0, 0.0, 0.0]
    """

    _expected_ndims = (2, 3)
    _layout = "2D (N, C) or 3D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel C (statistics over N, H, W)."""

    _expected_ndims = (4,)
    _layout = "4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of volumetric (N, C, D, H, W) inputs, per channel C (statistics
    over N, D, H, W): y = (x - mean) / sqrt(var + eps) * gamma + beta.

    >>> import tinygrad_edu as tg
    >>> BatchNorm3d(4)
    BatchNorm3d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _expected_ndims = (5,)
    _layout = "5D (N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    """Shared code of InstanceNorm1d/2d/3d (see ``instance_norm``). Unlike BatchNorm, affine and
    track_running_stats are False by default. Training mode (or no running stats) uses each
    sample's own statistics and, when tracked, updates the running stats (num_batches_tracked
    stays 0, as in torch; ``momentum=None`` means 0 here: the running stats do not move). Eval
    mode with tracked stats normalizes with them. An input without the batch dim is run as a
    batch of one."""

    _no_batch_ndim: int = 0  # (C, L), (C, H, W) or (C, D, H, W)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: expected a Tensor input, got "
                            f"{type(input).__name__}")
        if input.ndim not in (self._no_batch_ndim, self._no_batch_ndim + 1):
            raise ValueError(f"{self._describe()}: expected {self._layout} input, got a "
                             f"{input.ndim}D input of shape {tuple(input.shape)}")
        channel_dim = input.ndim - self._no_batch_ndim
        if input.shape[channel_dim] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(
                    f"{self._describe()}: expected input's size at dim={channel_dim} to match "
                    f"num_features ({self.num_features}), but got {input.shape[channel_dim]} "
                    f"(input shape {tuple(input.shape)})"
                )
            warnings.warn(
                f"{self._describe()}: input's size at dim={channel_dim} does not match "
                "num_features. You can silence this warning by not passing in num_features, "
                "which is not used because affine=False", stacklevel=2)
        check_input_dtype(self, input, self.weight, self.running_mean)
        if input.ndim == self._no_batch_ndim:
            return self._instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._instance_norm(input)

    def _instance_norm(self, x: Tensor) -> Tensor:
        return instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             use_input_stats=self.training or not self.track_running_stats,
                             momentum=0.0 if self.momentum is None else self.momentum,
                             eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) inputs: each channel of each sample
    normalized over its L positions, y = (x - mean) / sqrt(var + eps) * gamma + beta.

    >>> import tinygrad_edu as tg
    >>> y = InstanceNorm1d(3)(tg.randn(2, 3, 8, dtype=tg.float64))
    >>> [round(v, 6) + 0.0 for v in y.mean(2).flatten().tolist()]
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """

    _no_batch_ndim = 2
    _layout = "2D (C, L) or 3D (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) inputs: each channel of each sample
    normalized over its H * W positions (style transfer's usual norm)."""

    _no_batch_ndim = 3
    _layout = "3D (C, H, W) or 4D (N, C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W) inputs: each channel of each
    sample normalized over its D * H * W positions, y = (x - mean) / sqrt(var + eps) * gamma +
    beta (with ``affine``)."""

    _no_batch_ndim = 4
    _layout = "4D (C, D, H, W) or 5D (N, C, D, H, W)"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the last
    ``len(normalized_shape)`` dims of each sample (biased variance, like torch).

    weight (init 1) and bias (init 0) have shape ``normalized_shape`` when
    ``elementwise_affine``; ``bias=False`` drops the bias only. Same in train and eval mode.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(
                f"LayerNorm({self.normalized_shape}): input's last {k} dimension(s) "
                f"{tuple(input.shape[max(input.ndim - k, 0):])} don't match normalized_shape "
                f"(input shape {tuple(input.shape)})"
            )
        check_input_dtype(self, input, self.weight, self.bias)
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def _describe(self) -> str:
        return f"LayerNorm({self.normalized_shape})"

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the last ``len(normalized_shape)`` dims of
    each sample (``rms_norm``); weight (init 1) has shape ``normalized_shape`` when
    ``elementwise_affine``. ``eps=None`` uses the machine epsilon of the input's dtype, as torch.

    >>> import tinygrad_edu as tg
    >>> RMSNorm(4)
    RMSNorm((4,), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:  # torch's name here is x
        check_input_dtype(self, x, self.weight)
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def _describe(self) -> str:
        return f"RMSNorm({self.normalized_shape})"

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalization (Wu & He 2018) of (N, C, *) inputs: the C channels in
    ``num_groups`` groups, each normalized over its channels and positions, then a per-channel
    ``weight`` (init 1) and ``bias`` (init 0) when ``affine`` (``bias=False``: the weight only;
    see ``group_norm``). Unlike batch norm it does not depend on the batch: the same in train
    and eval mode."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        for what, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise TypeError(f"GroupNorm: {what} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(num_channels, dtype=dtype, device=device))

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim < 2 or input.shape[1] != self.num_channels:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{self._describe()}: expected an input (N, {self.num_channels}, "
                             f"*), got {got}")
        check_input_dtype(self, input, self.weight)
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def _describe(self) -> str:
        return f"GroupNorm({self.num_groups}, {self.num_channels})"

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
