"""Gradient clipping and flat-vector views of parameters (``torch.nn.utils``)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

from .. import backend
from .. import functional as F
from ..autograd import no_grad
from ..backend import get_array_module
from ..tensor import Tensor


def _tensors(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _norm_type(norm_type) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "+inf"):
            raise ValueError(f"clip_grad_norm_: norm_type must be a number or 'inf', got "
                             f"{norm_type!r}")
        return math.inf
    return float(norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Rescale the gradients so that their total norm is at most ``max_norm``.

    total = ( sum_p ||g_p||_q^q )^(1/q)  = the q-norm of all gradients as one long vector
            (q = inf: the largest |g_i|);
    g_p <- g_p * min(1, max_norm / (total + 1e-6)).

    Returns the total norm *before* clipping (a 0-d tensor; log it to watch for exploding
    gradients). Parameters without a gradient are skipped; with none at all the norm is 0.
    """
    params = _tensors(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    q = _norm_type(norm_type)
    if not grads:
        return Tensor(0.0)
    xp = get_array_module(grads[0].data)
    dtype = grads[0].dtype
    if q == math.inf:
        norms = [xp.abs(g.data).max() if g.data.size else xp.zeros((), dtype) for g in grads]
        total = xp.stack([xp.asarray(n, dtype=dtype) for n in norms]).max()
    else:
        # the norm of the per-tensor norms equals the norm of everything concatenated
        norms = [(xp.abs(g.data.astype(dtype)) ** q).sum() ** (1.0 / q) for g in grads]
        total = (xp.stack(norms) ** q).sum() ** (1.0 / q)
    total_value = float(total)
    if error_if_nonfinite and not math.isfinite(total_value):
        raise RuntimeError(
            f"The total norm of order {q} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    clip_coef = max_norm / (total_value + 1e-6)
    if clip_coef < 1.0 or not math.isfinite(total_value):
        coef = min(clip_coef, 1.0) if math.isfinite(clip_coef) else clip_coef
        for p in params:
            if p.grad is not None:
                # a new array, never an in-place write: gradient arrays may be shared/read-only
                p.grad.data = (p.grad.data * coef).astype(p.grad.dtype, copy=False)
    return Tensor._wrap(xp.asarray(total, dtype=dtype))


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
