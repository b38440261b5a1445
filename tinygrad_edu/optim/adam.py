"""Adam and AdamW: momentum plus per-coordinate scaling, with bias correction."""

from __future__ import annotations

import functools

import numpy as np

from .. import backend
from ..backend import get_array_module, is_cupy_array
from ..kernels.reference.optim import adam_step as reference_adam_step
from ._checks import check_adam_family
from .optimizer import Optimizer, ascent_and_decay, check_implementation_flags


@functools.cache
def _cupy_adam_kernel():
    """Adam's moment and weight updates for one parameter as a single CuPy elementwise kernel:
    the arithmetic of the array lines in ``kernels/reference/optim.py``, in the same order (so
    float32 results agree to rounding). p, m and v are updated in place."""
    import cupy  # only reached with CuPy arrays

    return cupy.ElementwiseKernel(
        "T g, T one_minus_beta1, T beta2, T one_minus_beta2, T step_size, T bc2_sqrt, T eps",
        "T p, T m, T v",
        """
        m += one_minus_beta1 * (g - m);
        v = beta2 * v + one_minus_beta2 * (g * g);
        p -= (m / (sqrt(v) / bc2_sqrt + eps)) * step_size;
        """,
        "tinygrad_edu_adam",
    )


def _numba_adam_step(p, g, m, v, max_v):
    """The Numba kernel of ``kernels/cpu/optim.py`` when ``Config.kernel`` picks Numba ("auto"
    or "numba") for these NumPy arrays and the kernel takes them (float32 or float64, one
    dtype, C-contiguous, see ``fits_adam_kernel``); None otherwise (the reference lines run).
    The arrays are checked here, once, so the kernel is ``adam_step_unchecked``. Returns the
    kernel and the gradient, which is copied to C-contiguous memory if it is a strided view (a
    transposed weight's gradient): one pass, cheaper than ten."""
    kernels = backend.numba_kernels("optim", p)
    if kernels is None:
        return None, g
    if g.__class__ is np.ndarray and not g.flags.c_contiguous:
        g = np.ascontiguousarray(g)
    if not kernels.fits_adam_kernel(p, g, m, v, max_v):
        return None, g
    return kernels.adam_step_unchecked, g  # the arrays are checked: no second check


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), with AMSGrad (Reddi et al. 2018), like ``torch.optim.Adam``.

    The update rule, for every parameter ``p`` with gradient ``g`` at its step ``t = 1, 2, ...``
    (``m``, ``v`` and ``v_max`` start at zero; ``beta1, beta2 = betas``)::

        if maximize:        g = -g
        if weight_decay:
            if decoupled:   p = p - lr * weight_decay * p         # AdamW: decay the weight
            else:           g = g + weight_decay * p              # Adam: L2 term in g
        m = beta1 * m + (1 - beta1) * g                           # 1st moment (momentum)
        v = beta2 * v + (1 - beta2) * g * g                       # 2nd moment
        m_hat = m / (1 - beta1 ** t)                              # undo the bias towards 0
        if amsgrad:
            v_max = max(v_max, v)                                 # never let v shrink
            v_hat = v_max / (1 - beta2 ** t)
        else:
            v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    (The code folds the bias corrections into the step size exactly as torch does:
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.)

    Args:
        params: iterable of tensors or of parameter-group dicts.
        lr: learning rate (default 1e-3).
        betas: decay rates of the moment estimates (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        amsgrad: use the maximum of past second moments (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: apply weight decay to the weight directly (AdamW) rather than
            through the gradient (default False; ``AdamW`` sets it).
        foreach, capturable, differentiable, fused: torch's implementation switches, accepted
            for compatibility (see ``check_implementation_flags``: foreach and fused change
            nothing; capturable=True and differentiable=True are refused).

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq`` (v_max).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        name = type(self).__name__
        check_implementation_flags(name, foreach, fused, capturable, differentiable)
        betas = check_adam_family(name, lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        """One parameter's update. ``maximize`` and weight decay are applied here, then the
        moments and the weight are updated in place by one of three implementations of the same
        arithmetic (the same operations in the same order):

        - CuPy arrays without amsgrad: ``_cupy_adam_kernel``, one fused elementwise kernel;
        - NumPy float32/float64 arrays when ``Config.kernel`` is "auto" or "numba": the Numba
          loop of ``kernels/cpu/optim.py`` (one pass over memory instead of ten; bitwise equal
          to the reference); a strided gradient is copied to contiguous memory first;
        - everything else (``use_kernel("reference")``, a non-contiguous parameter or state,
          other dtypes, amsgrad on CuPy): ``kernels/reference/optim.py``, ten in-place NumPy
          (or CuPy) array operations.
        """
        xp = get_array_module(p)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        elif state["exp_avg"].dtype != p.dtype:
            raise _state_dtype_error(type(self).__name__, p, state["exp_avg"])
        state["step"] += 1
        step = state["step"]
        g = ascent_and_decay(p, g, group)  # maximize, weight decay

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        if is_cupy_array(p) and not group["amsgrad"]:
            # on the GPU the ten array operations below are ten kernel launches, and launching
            # costs more than the arithmetic on a small model: one fused kernel does it all
            _cupy_adam_kernel()(g, 1 - beta1, beta2, 1 - beta2, step_size, bias_correction2**0.5,
                                group["eps"], p, exp_avg, exp_avg_sq)
            return

        max_exp_avg_sq = state["max_exp_avg_sq"] if group["amsgrad"] else None
        adam_step, g = _numba_adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq)
        if adam_step is None:
            # ten in-place array passes (NumPy, or CuPy with amsgrad) in plain array code
            adam_step = reference_adam_step
        adam_step(p, g, exp_avg, exp_avg_sq, beta1, beta2, step_size, bias_correction2**0.5,
                  group["eps"], max_v=max_exp_avg_sq)


def _state_dtype_error(name: str, p, exp_avg) -> RuntimeError:
    """torch 2.13's Adam refuses a parameter whose dtype changed after its state was made
    (``model.double()`` after the first step): its fused update needs one dtype. So do we,
    instead of updating a float64 weight with float32 moments."""
    return RuntimeError(
        f"{name}: a parameter of shape {tuple(p.shape)} is {p.dtype} but its state (exp_avg) "
        f"is {exp_avg.dtype}: the model was cast after the optimizer's first step. Create the "
        "optimizer after casting the model, or reload its state to cast it: "
        "opt.load_state_dict(opt.state_dict())"
    )


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, like
    ``torch.optim.AdamW``.

    The same update as ``Adam`` except for weight decay, which shrinks the weight directly
    instead of entering the gradient (so it is not rescaled by the adaptive denominator)::

        p = p - lr * weight_decay * p
        ... then Adam's update with the undecayed gradient g

    The default ``weight_decay`` is 1e-2 (Adam's is 0).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, foreach=foreach, capturable=capturable,
                         differentiable=differentiable, fused=fused)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
