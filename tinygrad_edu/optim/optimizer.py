"""``Optimizer``: the base class every optimizer shares (torch's API and state-dict layout).

An optimizer owns

- ``param_groups``: a list of dicts, each holding ``"params"`` (a list of tensors) and that
  group's hyper-parameters (``lr``, ``momentum``, ...). Groups let one model train its parts
  with different settings; a hyper-parameter a group leaves out comes from ``defaults``.
- ``state``: a dict from parameter to that parameter's running buffers (momentum, moving
  averages, step counts), created on the first step that parameter gets a gradient.

``step()`` walks every group and every parameter that has a ``.grad`` and calls the subclass's
``_update(p, g, state, group)`` on raw arrays: ``p`` is ``param.data`` (updated in place), ``g``
is ``param.grad.data``. The update runs under ``no_grad()`` and is written against the array
module of the parameter (NumPy or CuPy), so one implementation serves CPU and GPU.

``state_dict()`` follows torch's layout so checkpoints read the same::

    {"state": {0: {"step": 3, "exp_avg": array(...), ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}]}

Parameters are numbered in the order they appear across the groups; the values are NumPy
arrays (copies, brought to the host) and plain Python numbers, so any array checkpoint format can
store them. ``load_state_dict`` moves the arrays back to each parameter's device and dtype.
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict

import numpy as np

from .. import backend
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


def check_hyperparameter(optimizer: str, name: str, value, low: float = 0.0,
                         high: float | None = None, include_high: bool = False) -> None:
    """Raise a ValueError naming the optimizer unless ``low <= value`` (and ``value < high``).

    >>> check_hyperparameter("Adam", "learning rate", -0.1)
    Traceback (most recent call last):
    ...
    ValueError: Adam: invalid learning rate -0.1 (must be >= 0.0)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {name} must be a real number, got {value!r}")
    if high is None:
        ok = value >= low
        must = f">= {low}"
    elif include_high:
        ok = low <= value <= high
        must = f"in [{low}, {high}]"
    else:
        ok = low <= value < high
        must = f"in [{low}, {high})"
    if not ok:
        raise ValueError(f"{optimizer}: invalid {name} {value!r} (must be {must})")


def check_implementation_flags(optimizer: str, foreach=None, fused=None, capturable=False,
                               differentiable=False) -> None:
    """torch's switches between implementations of one update, accepted so that torch code runs
    unchanged. ``foreach`` and ``fused`` choose how torch loops over the parameters (here one
    loop, or Adam's one Numba kernel, serves every parameter): accepted, they change nothing.
    ``capturable`` (CUDA-graph capture of ``step``) and ``differentiable`` (autograd through
    the update) change what a step is, which these optimizers do not do: True is refused.

    >>> check_implementation_flags("Adam", foreach=False, fused=True)   # accepted, ignored
    >>> check_implementation_flags("Adam", foreach=True, fused=True)
    Traceback (most recent call last):
    ...
    RuntimeError: Adam: `fused` and `foreach` cannot be `True` together
    """
    if foreach and fused:
        raise RuntimeError(f"{optimizer}: `fused` and `foreach` cannot be `True` together")
    if differentiable:
        raise NotImplementedError(
            f"{optimizer}: differentiable=True (autograd through the update) is not supported: "
            "step() updates param.data in place under no_grad; leave it False")
    if capturable:
        raise NotImplementedError(
            f"{optimizer}: capturable=True (CUDA-graph capture of step) is not supported: the "
            "step counts and step sizes live on the host as Python numbers; leave it False")


_SET_ERROR = (
    "{name}: parameters must be in an ordered collection (list, tuple, generator), not a set: "
    "a set's order changes between runs, which would scramble the state dict"
)


def _to_host(value):
    """A checkpoint-friendly copy of a state value: arrays become NumPy copies, lists recurse."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        return backend.to_numpy(value).copy()
    return value


def _to_param(value, param: Tensor, key=None):
    """The inverse of ``_to_host``: arrays go to ``param``'s device (and floating dtype).

    Anything array-like (NumPy, CuPy, or a CPU torch tensor through ``__array__``) is accepted,
    so a torch optimizer's state dict can be loaded too. A 0-d ``step`` becomes a number."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, dict):
        return {k: _to_param(v, param, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_param(v, param) for v in value)
    if value is None or isinstance(value, (numbers.Number, str, np.generic)):
        return value
    if not backend.is_cupy_array(value):
        value = np.asarray(value)
    if key == "step" and value.ndim == 0:
        step = float(value)
        return int(step) if step.is_integer() else step
    value = backend.to_device(value, param.device)
    xp = backend.get_array_module(value)
    if value.dtype.kind == "f" and param.dtype.kind == "f":
        value = value.astype(param.dtype, copy=False)
    return xp.array(value, copy=True)


def ascent_and_decay(p, g, group: dict):
    """The gradient every optimizer here starts from, as torch's do: -g with ``maximize``
    (climb instead of descend), plus weight decay, either as an L2 term (g + weight_decay p)
    or, with ``decoupled_weight_decay`` (AdamW), by shrinking the weight itself in place
    (p *= 1 - lr weight_decay). Returns the gradient; ``p`` may have been updated."""
    if group["maximize"]:
        g = -g
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if group.get("decoupled_weight_decay", False):
            p *= 1 - group["lr"] * weight_decay
        else:
            g = g + weight_decay * p
    return g


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a
            ``"params"`` entry and per-group hyper-parameters that override ``defaults``.
        defaults: the hyper-parameters a group gets when it does not set them itself.

    Subclasses implement ``_update(p, g, state, group)`` (one parameter's update rule on raw
    arrays, in place on ``p``) or override ``step`` entirely (LBFGS).
    """

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, got a single Tensor "
                f"of shape {tuple(params.shape)}; wrap it in a list: {name}([w], ...)"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR.format(name=name))
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._steps_taken = 0  # lets an LR scheduler warn when it is stepped first
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------------------------
    # Parameter groups
    # ------------------------------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (with its own hyper-parameters) to train from now on,
        e.g. a layer unfrozen during fine-tuning: ``opt.add_param_group({"params": head,
        "lr": 1e-4})``. Unset hyper-parameters are filled in from ``defaults``."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR.format(name=name))
        group["params"] = list(params)
        for i, p in enumerate(group["params"]):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {i} is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i}, "
                                 f"shape {tuple(p.shape)}); optimize the leaf it came from")
        seen = {id(p) for p in group["params"]}
        if len(seen) != len(group["params"]):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        for other in self.param_groups:
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter "
                                 "group")
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self.param_groups.append(group)

    # ------------------------------------------------------------------------------------------
    # Gradients and steps
    # ------------------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward, before the next one accumulates.

        ``set_to_none=True`` (the default, like torch) drops ``.grad``: parameters that get no
        gradient in the next backward are then skipped by ``step`` instead of being updated
        with a zero gradient (which would still move them through momentum or weight decay).
        ``set_to_none=False`` fills the existing grad tensors with zeros: the same objects, cut
        from any graph, as torch (and ``Module.zero_grad``), so a reference to ``p.grad`` sees
        the zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                grad = p.grad if p.grad._ctx is None else p.grad.detach()
                grad.requires_grad = False
                # a fresh zero array in the same Tensor: the old array may be shared with the
                # graph or be a read-only broadcast view, so it is not filled in place
                grad.data = backend.get_array_module(grad.data).zeros_like(grad.data)
                p.grad = grad

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss (or None).

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        gradients enabled before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    self._update(param.data, param.grad.data, self.state[param], group)
        self._steps_taken += 1
        return loss

    def _update(self, p, g, state: dict, group: dict) -> None:
        """One parameter's update on raw arrays: change ``p`` in place."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update() or step()")

    # ------------------------------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, torch's
        layout, with NumPy-array copies and plain numbers as values."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of[id(p)] = len(index_of)
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            # (an empty entry, e.g. SGD without momentum, is left out as torch leaves it out)
            if id(p) in index_of and values:
                state[index_of[id(p)]] = _to_host(values)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and buffers saved by ``state_dict`` (of an optimizer built
        over parameters of the same shapes, in the same order). An option the checkpoint's
        groups lack (one newer than the checkpoint) takes its default."""
        name = type(self).__name__
        if "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: load_state_dict expects a dict with 'state' and "
                             f"'param_groups', got keys {sorted(state_dict)}")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}"
            )
        index_to_param = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}: parameter group {i} has {len(group['params'])} parameters but "
                    f"the state dict's group has {len(saved['params'])}"
                )
            for index, p in zip(saved["params"], group["params"], strict=True):
                index_to_param[int(index)] = p
        new_state: defaultdict = defaultdict(dict)
        for index, values in state_dict["state"].items():
            index = int(index)
            if index not in index_to_param:
                raise ValueError(f"{name}: the state dict has state for parameter {index}, "
                                 "which no parameter group lists")
            param = index_to_param[index]
            new_state[param] = _to_param(values, param)
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            for key, default in self.defaults.items():
                saved.setdefault(key, default)  # an option newer than the checkpoint
            new_groups.append(saved)
        self.state = new_state
        self.param_groups = new_groups

    # ------------------------------------------------------------------------------------------
    # Printing
    # ------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

