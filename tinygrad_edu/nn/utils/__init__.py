"""Gradient clipping and flat-vector views of parameters (``torch.nn.utils``)."""

from __future__ import annotations

import contextlib
import copy
import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from ... import backend
from ... import functional as F
from ...autograd import no_grad
from ...backend import get_array_module
from ...tensor import Tensor
from ..module import Parameter
from . import rnn  # nn.utils.rnn: padding and packing variable-length sequences, as in torch


def _tensors(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _norm_type(norm_type, caller: str = "clip_grad_norm_") -> float:
    """float(norm_type), as torch: a number, or a string such as 'inf', '-inf' or '2'."""
    if isinstance(norm_type, str):
        try:
            return float(norm_type)
        except ValueError:
            raise ValueError(f"{caller}: norm_type must be a number or 'inf', got "
                             f"{norm_type!r}") from None
    return float(norm_type)


def _vector_norm(xp, a, q: float):
    """The q-norm of the array ``a`` seen as one long vector (torch.linalg.vector_norm):
    (sum |a_i|^q)^(1/q); q = inf: max |a_i|, q = -inf: min |a_i|, q = 0: the count of non-zeros.
    An empty array has norm 0 (for q = -inf: inf, the minimum over nothing)."""
    if q == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if q == -math.inf:
        return xp.abs(a).min() if a.size else xp.asarray(math.inf, a.dtype)
    if q == 0:
        return (a != 0).sum().astype(a.dtype)
    if q == 1:
        return xp.abs(a).sum()
    if q == 2:
        return xp.sqrt((a * a).sum())
    with np.errstate(divide="ignore"):  # 0 ** (q < 0) = inf, as in torch
        return (xp.abs(a) ** q).sum() ** (1.0 / q)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The q-norm of all ``tensors`` seen as one long vector (usually the gradients:
    ``get_total_norm([p.grad for p in model.parameters() if p.grad is not None])``).

    total = || (||t_1||_q, ||t_2||_q, ...) ||_q  = ( sum_t sum_i |t_i|^q )^(1/q)
            (q = inf: the largest |t_i|): the norm of the per-tensor norms equals the norm of
            everything concatenated, without building that long vector.

    Returns a 0-d tensor on the first tensor's device (0 for no tensors). With
    ``error_if_nonfinite`` a nan or inf total raises a RuntimeError. ``foreach`` is accepted
    for torch compatibility and ignored (there is one implementation). No graph is recorded.

    >>> import tinygrad_edu as tg
    >>> float(get_total_norm([tg.tensor([3.0]), tg.tensor([0.0, 4.0])]))
    5.0
    """
    ts = _tensors(tensors)
    q = _norm_type(norm_type, "get_total_norm")
    if not ts:
        return Tensor(0.0)
    device = ts[0].device
    norms = []
    for t in ts:
        xp = get_array_module(t.data)
        norms.append(backend.to_device(_vector_norm(xp, t.data, q), device))  # (,) each
    xp = get_array_module(norms[0])
    total = _vector_norm(xp, xp.stack(norms), q)  # (,)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"The total norm of order {q} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                          total_norm: Tensor | float, foreach=None) -> None:
    """Scale every gradient by  min(1, max_norm / (total_norm + 1e-6)),  given the total norm
    (from ``get_total_norm``; e.g. one reduced across data-parallel workers).

    Gradients are only ever scaled down. A nan total makes the gradients nan and an inf total
    makes them zero (nan where they were inf), as in torch. ``foreach`` is ignored."""
    grads_of = [p for p in _tensors(parameters) if p.grad is not None]
    if not grads_of:
        return
    # the coefficient in the total's dtype, as torch computes it (float32 for float32 grads)
    if isinstance(total_norm, Tensor):
        scalar = total_norm.dtype.type
        total = scalar(total_norm.item())
    else:
        scalar = np.float64
        total = scalar(total_norm)
    with np.errstate(all="ignore"):  # inf / inf = nan, as in torch
        clip_coef = scalar(max_norm) / (total + scalar(1e-6))
    if clip_coef >= 1.0:  # multiplying by 1 changes nothing (a nan coefficient goes on)
        return
    for p in grads_of:
        # a new array, never an in-place write: gradient arrays may be shared/read-only
        with np.errstate(invalid="ignore"):  # inf * 0 = nan, as in torch
            p.grad.data = (p.grad.data * clip_coef).astype(p.grad.dtype, copy=False)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Rescale the gradients so that their total norm is at most ``max_norm``.

    total = ( sum_p ||g_p||_q^q )^(1/q)  = the q-norm of all gradients as one long vector
            (q = inf: the largest |g_i|);
    g_p <- g_p * min(1, max_norm / (total + 1e-6)).

    The two halves are ``get_total_norm`` and ``clip_grads_with_norm_``. Returns the total norm
    *before* clipping (a 0-d tensor; log it to watch for exploding gradients). Parameters
    without a gradient are skipped; with none at all the norm is 0.
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    params = _tensors(parameters)
    if is_generator and not params:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=2)
    grads = [p.grad for p in params if p.grad is not None]
    _norm_type(norm_type)  # a bad norm_type is an error even without gradients
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _tensors(parameters):
        if p.grad is not None:
            xp = get_array_module(p.grad.data)
            p.grad.data = xp.clip(p.grad.data, -clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-d tensor (differentiable)."""
    params = _tensors(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got an empty list of parameters")
    device = params[0].device
    for p in params:
        if p.device != device:
            raise RuntimeError(f"parameters_to_vector: parameters are on {device} and "
                               f"{p.device}; move the model to one device first")
    return F.cat([p.reshape(-1) for p in params])  # (sum of numel,)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters (the inverse of
    ``parameters_to_vector``); the parameters keep their identity, only their data changes."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got: "
                        f"{type(vec).__name__}")
    params = _tensors(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(
            f"vector_to_parameters: vec has shape {tuple(vec.shape)} but the parameters hold "
            f"{total} elements; expected shape ({total},)"
        )
    pointer = 0
    with no_grad():
        for p in params:
            n = p.numel()
            chunk = vec.data[pointer:pointer + n].reshape(p.shape)
            p.data = backend.to_device(chunk, p.device).astype(p.dtype, copy=True)
            pointer += n


@contextlib.contextmanager
def evaluating(module):
    """``with evaluating(model):`` runs the block in eval mode (dropout off, BatchNorm on its
    running statistics) and without a graph (``no_grad``), then puts the module back in the
    mode it was in, also when the block raises: the chore around sampling, decoding and
    evaluating a model that is being trained."""
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            yield module
    finally:
        module.train(was_training)


# ----------------------------------------------------------------------------------------------
# Folding BatchNorm into the layer before it (inference only)
# ----------------------------------------------------------------------------------------------


def _check_eval(caller: str, layer, bn) -> None:
    if layer.training or bn.training:
        raise AssertionError(
            f"{caller}: Fusion only for eval! The fused layer reproduces BatchNorm with its "
            f"running statistics, which only eval mode uses; call .eval() on both first "
            f"({type(layer).__name__}.training={layer.training}, "
            f"{type(bn).__name__}.training={bn.training})"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError(f"{caller}: bn.running_mean and bn.running_var must not be None "
                             "(a BatchNorm built with track_running_stats=False cannot be fused)")


def _bn_arrays(bn_rm: Tensor, bn_rv: Tensor, bn_w: Tensor | None, bn_b: Tensor | None):
    """(xp, running mean, running var, weight, bias) as arrays; a BatchNorm without an affine
    weight or bias (affine=False) counts as weight ones and bias zeros."""
    xp = get_array_module(bn_rm.data)
    rm = bn_rm.data
    w = xp.ones_like(rm) if bn_w is None else bn_w.data
    b = xp.zeros_like(rm) if bn_b is None else bn_b.data
    return xp, rm, bn_rv.data, w, b


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor,
                         bn_eps: float, bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False):
    """The weight and bias of one convolution that computes bn(conv(x)) in eval mode.

    BatchNorm in eval mode is an affine map per output channel c:
        bn(y)_c = (y_c - mean_c) * s_c + beta_c,   s_c = gamma_c / sqrt(var_c + eps),
    and y_c = (w_c * x) + b_c is linear in the weight of channel c, so
        w'_c = w_c * s_c,    b'_c = (b_c - mean_c) * s_c + beta_c.
    The output channels are dim 0 of a convolution weight (C_out, C_in/groups, *kernel) and
    dim 1 of a transposed one (C_in, C_out/groups, *kernel): ``transpose=True``.

    Returns ``(Parameter, Parameter)`` in the dtypes of ``conv_w`` and ``conv_b``; the bias
    requires grad only if ``conv_b`` did (a missing bias starts from zeros), as in torch.
    """
    xp, rm, rv, w, b = _bn_arrays(bn_rm, bn_rv, bn_w, bn_b)
    channel_dim = 1 if transpose else 0
    if conv_w.ndim < 2 or conv_w.shape[channel_dim] != rm.shape[0]:
        layout = "(C_in, C_out/groups, *kernel)" if transpose else "(C_out, C_in/groups, *kernel)"
        raise ValueError(
            f"fuse_conv_bn_weights: the BatchNorm has {rm.shape[0]} channels but the "
            f"convolution weight {layout} has shape {tuple(conv_w.shape)} "
            f"(transpose={transpose}): its dim {channel_dim} must be the BatchNorm's channels"
        )
    weight_dtype = conv_w.dtype
    bias_dtype = weight_dtype if conv_b is None else conv_b.dtype
    bias = xp.zeros_like(rm) if conv_b is None else conv_b.data
    inv_std = 1 / xp.sqrt(rv + bn_eps)  # (C,)
    shape = [1, -1] if transpose else [-1, 1]
    shape += [1] * (conv_w.ndim - 2)  # (C, 1, 1, 1) or (1, C, 1, 1): per output channel
    fused_w = (conv_w.data * (w * inv_std).reshape(shape)).astype(weight_dtype, copy=False)
    fused_b = ((bias - rm) * inv_std * w + b).astype(bias_dtype, copy=False)
    bias_grad = conv_b.requires_grad if conv_b is not None else False
    return (Parameter(fused_w, requires_grad=conv_w.requires_grad),
            Parameter(fused_b, requires_grad=bias_grad))


def fuse_conv_bn_eval(conv, bn, transpose: bool = False):
    """A new convolution (a deep copy of ``conv``) whose output equals ``bn(conv(x))`` in eval
    mode: one layer instead of two at inference time (see ``fuse_conv_bn_weights``). Both
    modules must be in eval mode; ``transpose=True`` for a ConvTranspose.

    >>> import tinygrad_edu as tg
    >>> conv, bn = tg.nn.Conv2d(2, 3, 3).eval(), tg.nn.BatchNorm2d(3).eval()
    >>> x = tg.randn(1, 2, 5, 5)
    >>> fused = fuse_conv_bn_eval(conv, bn)
    >>> bool((fused(x) - bn(conv(x))).abs().max() < 1e-5)
    True
    """
    _check_eval("fuse_conv_bn_eval", conv, bn)
    if bool(getattr(conv, "transposed", transpose)) != bool(transpose):
        raise ValueError(
            f"fuse_conv_bn_eval: transpose={transpose} but {type(conv).__name__} is "
            f"{'' if conv.transposed else 'not '}a transposed convolution; its output channels "
            f"are weight dim {1 if conv.transposed else 0}: pass transpose={conv.transposed}"
        )
    fused_conv = copy.deepcopy(conv)
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias, transpose)
    return fused_conv


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor,
                           bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None,
                           bn_b: Tensor | None):
    """The weight and bias of one Linear that computes bn(linear(x)) in eval mode:
    s = gamma / sqrt(var + eps),  W' = W * s[:, None],  b' = (b - mean) * s + beta
    (W: (out_features, in_features); see ``fuse_conv_bn_weights``)."""
    xp, rm, rv, w, b = _bn_arrays(bn_rm, bn_rv, bn_w, bn_b)
    weight_dtype = linear_w.dtype
    bias_dtype = weight_dtype if linear_b is None else linear_b.dtype
    bias = xp.zeros_like(rm) if linear_b is None else linear_b.data
    bn_scale = w / xp.sqrt(rv + bn_eps)  # (out_features,) or (1,)
    fused_w = linear_w.data * bn_scale[:, None].astype(weight_dtype, copy=False)  # (out, in)
    fused_b = ((bias - rm) * bn_scale + b).astype(bias_dtype, copy=False)
    bias_grad = linear_b.requires_grad if linear_b is not None else False
    return (Parameter(fused_w, requires_grad=linear_w.requires_grad),
            Parameter(fused_b, requires_grad=bias_grad))


def fuse_linear_bn_eval(linear, bn):
    """A new Linear (a deep copy of ``linear``) whose output equals ``bn(linear(x))`` in eval
    mode (see ``fuse_linear_bn_weights``). The BatchNorm's channels must be the Linear's
    outputs (``bn.num_features == linear.out_features``, or 1)."""
    _check_eval("fuse_linear_bn_eval", linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(
            "fuse_linear_bn_eval: To fuse, linear.out_features == bn.num_features or "
            f"bn.num_features == 1, got linear.out_features={linear.out_features} and "
            f"bn.num_features={bn.num_features}"
        )
    fused_linear = copy.deepcopy(linear)
    fused_linear.weight, fused_linear.bias = fuse_linear_bn_weights(
        fused_linear.weight, fused_linear.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias)
    return fused_linear


# ----------------------------------------------------------------------------------------------
# Weight normalization (Salimans & Kingma 2016), the classic hook-based form
# ----------------------------------------------------------------------------------------------


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """||v||_2 over every dim except ``dim``, that dim kept and the others kept as size 1
    (dim = -1: the norm of the whole tensor, a 0-d tensor), as torch.norm_except_dim."""
    if dim == -1:
        return v.norm(2)  # (,)
    axes = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(2, dim=axes, keepdim=True)  # e.g. (C_out, 1, 1, 1) for dim = 0


class WeightNorm:
    """The forward pre-hook of ``weight_norm``: recomputes ``module.<name>`` from
    ``<name>_g`` and ``<name>_v`` before every forward."""

    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module) -> Tensor:
        """w = g * v / ||v||  (the norm over every dim but ``dim``), a differentiable op of g
        and v: backward sends dL/dw on to
            dL/dg = sum(dL/dw * v) / ||v||,
            dL/dv = g / ||v|| * (dL/dw - (dL/dg / ||v||) * v)."""
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name: str, dim: int | None) -> WeightNorm:
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        weight = module._parameters.get(name)
        if weight is None:
            raise AttributeError(
                f"weight_norm: {type(module).__name__} has no parameter {name!r} (parameters: "
                f"{[k for k, p in module._parameters.items() if p is not None]})"
            )
        if dim is None:
            dim = -1
        if dim != -1:
            if not -weight.ndim <= dim < weight.ndim:
                raise IndexError(f"weight_norm: dim {dim} is out of range for {name} of shape "
                                 f"{tuple(weight.shape)}")
            dim = dim % weight.ndim
        fn = WeightNorm(name, dim)
        del module._parameters[name]  # w stops being a parameter: g and v replace it
        with no_grad():
            g = _norm_except_dim(weight, fn.dim)
        module.register_parameter(name + "_g", Parameter(g.data.copy()))
        module.register_parameter(name + "_v", Parameter(weight.data.copy()))
        setattr(module, name, fn.compute_weight(module))  # a plain attribute, not a Parameter
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Reparametrize ``module.<name>`` as  w = g * v / ||v||  (Salimans & Kingma 2016): the
    length g and the direction v of the weight are learnt separately, which conditions the
    gradient better than w itself.

    The parameter ``name`` is replaced by two parameters, ``name + "_g"`` (the norm, shape
    (C_out, 1, ..., 1) for ``dim=0``) and ``name + "_v"`` (the direction, w's shape); a forward
    pre-hook recomputes w from them before every forward. The norm is taken over every dim
    except ``dim`` (per output channel for ``dim=0``), over the whole tensor for ``dim=None``.
    Start: v = w and g = ||w||, so the layer computes what it computed before.

    >>> import tinygrad_edu as tg
    >>> m = weight_norm(tg.nn.Linear(20, 40))
    >>> tuple(m.weight_g.shape), tuple(m.weight_v.shape)
    ((40, 1), (40, 20))
    """
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes a plain Parameter again, holding the
    current g * v / ||v||, and ``<name>_g``, ``<name>_v`` and the hook are gone."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
