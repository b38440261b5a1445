"""``Module`` and ``Parameter``: the containers every layer and model is built from (torch API).

A Module owns Parameters (tensors the optimizer updates), buffers (state that is saved but not
trained, e.g. BatchNorm's running mean) and sub-modules; attribute assignment registers them.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from .. import backend
from ..autograd import is_grad_enabled, no_grad
from ..backend import get_array_module
from ..functional.shape import alias
from ..tensor import Tensor, _as_dtype


class Parameter(Tensor):
    """A tensor that is a trainable weight of a Module (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _HookHandle:
    """What ``register_*_hook`` returns: ``remove()`` unregisters the hook; usable as a context
    manager (the hook is removed on exit), like torch's RemovableHandle."""

    def __init__(self, hooks: dict, key: int, *extra: set):
        self._hooks, self._key, self._extra = hooks, key, extra
        self.id = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)
        for keys in self._extra:  # e.g. the set of hooks registered with_kwargs
            keys.discard(self._key)

    def __enter__(self) -> _HookHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


_hook_ids = itertools.count()  # unique keys for hooks (the same hook may be registered twice)

class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns (torch's named tuple, with torch's repr when empty)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class _BackwardHooks:
    """The backward hooks of one module call (torch's ``BackwardHook``). The inputs that require
    grad and the output go through identity views (``alias``) whose tensor hooks see the
    gradients that cross the module's border: the output's gives grad_output (the pre-hooks may
    replace it), the inputs' give grad_input; when the last of those arrives, the full backward
    hooks run. The hooks are the ones registered at the time of the call, as in torch."""

    def __init__(self, module: Module):
        self.module = module
        self.pre_hooks = list(module._backward_pre_hooks.values())
        self.hooks = list(module._backward_hooks.values())
        self.grad_output: tuple = ()
        self.grad_input: list = []
        self.requiring: tuple = ()  # positions of the arguments that require grad
        self.pending: set = set()

    def wrap_inputs(self, args: tuple) -> tuple:
        self.grad_input = [None] * len(args)
        self.requiring = tuple(i for i, a in enumerate(args)
                               if isinstance(a, Tensor) and a.requires_grad)
        wrapped = list(args)
        for i in self.requiring:
            wrapped[i] = alias(args[i])
            wrapped[i].register_hook(functools.partial(self._on_input_grad, i))
        return tuple(wrapped)

    def wrap_output(self, out):
        name = type(self.module).__name__
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}: backward hooks need a module that returns one Tensor, got "
                            f"{_type_name(out)}; hook the tensors themselves with "
                            "Tensor.register_hook")
        if not out.requires_grad:
            return out
        out = alias(out)
        out.register_hook(self._on_output_grad)
        return out

    def _on_output_grad(self, grad):
        grad_output = (grad,)
        for hook in self.pre_hooks:
            replaced = hook(self.module, grad_output)
            if replaced is not None:
                grad_output = replaced if isinstance(replaced, tuple) else (replaced,)
                if len(grad_output) != 1:
                    raise RuntimeError(f"{type(self.module).__name__}: backward pre-hook "
                                       f"returned {len(grad_output)} gradients, expected 1")
        self.grad_output = grad_output
        self.grad_input = [None] * len(self.grad_input)  # a new backward pass (retain_graph)
        self.pending = set(self.requiring)
        if not self.pending:  # no input requires grad: grad_input is all None, as in torch
            self._run_hooks()
        return grad_output[0]

    def _on_input_grad(self, i: int, grad):
        self.grad_input[i] = grad
        self.pending.discard(i)
        if self.pending:
            return None
        return self._run_hooks()[i]

    def _run_hooks(self) -> tuple:
        name = type(self.module).__name__
        grad_input = tuple(self.grad_input)
        for hook in self.hooks:
            replaced = hook(self.module, grad_input, self.grad_output)
            if replaced is None:
                continue
            replaced = tuple(replaced)
            if len(replaced) != len(grad_input):
                raise RuntimeError(f"{name}: backward hook returned {len(replaced)} grad_input "
                                   f"entries, expected {len(grad_input)} (one per argument)")
            if not self.requiring and any(g is not None for g in replaced):
                raise RuntimeError(f"{name}: no input of this call requires grad, so a backward "
                                   "hook must return None (or None for every gradient)")
            if len(self.requiring) > 1 and any(a is not b for a, b in zip(replaced, grad_input)):
                raise RuntimeError(f"{name}: replacing grad_input is supported only for calls "
                                   "with one input that requires grad (use Tensor.register_hook "
                                   "on the inputs instead)")
            grad_input = replaced
        return grad_input


def _type_name(value) -> str:
    return type(value).__name__


def check_input_dtype(layer, x: Tensor, *state: Tensor | None) -> None:
    """A layer's input must have the dtype of its parameters (and running statistics), as in
    torch: a float64 batch into a float32 layer is an error, not a silent promotion that leaves
    float64 gradients on float32 weights. ``state``: the tensors to compare with (the first one
    that is not None decides), e.g. ``check_input_dtype(self, x, self.weight, self.bias)``;
    the error names the layer by its ``_describe()`` (built only then: this runs every call)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer._describe()}: expected a Tensor input, got {_type_name(x)}")
    for expected in state:  # a loop, not next(genexpr): this runs in every layer call
        if expected is not None:
            break
    else:
        return
    if x.data.dtype == expected.data.dtype:
        return
    name = layer._describe()
    if x.dtype.kind == "f":
        hint = f"convert one of them (x.to({expected.dtype}) or module.to({x.dtype}))"
    else:  # module.to() converts floating point state only
        hint = f"convert the input (x.to({expected.dtype}))"
    raise TypeError(f"{name}: input has dtype {x.dtype} but the parameters are "
                    f"{expected.dtype}; {hint}")


class Module:
    """Base class of layers and models. Subclasses set attributes in ``__init__`` (Parameters,
    sub-Modules) and implement ``forward``; call the module itself to run it."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())  # keys of such hooks
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------------------------------
    # Registration through attribute assignment
    # ------------------------------------------------------------------------------------------

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Parameter, Module)):  # plain attributes are fine, as in torch
                raise AttributeError(
                    f"cannot assign {_type_name(value)} {name!r} before Module.__init__() call "
                    f"(call super().__init__() first in {type(self).__name__}.__init__)"
                )
            object.__setattr__(self, name, value)
            return
        owner = type(self).__name__
        if not isinstance(value, (Parameter, Module)) and value is not None:
            # torch refuses these silent de-registrations (e.g. ``self.weight = w * 2`` would
            # otherwise drop the weight from parameters() and from the optimizer)
            if name in self._parameters:
                raise TypeError(
                    f"{owner}: cannot assign {_type_name(value)} as parameter {name!r} "
                    "(nn.Parameter or None expected); to change its values use "
                    f"`with no_grad(): self.{name}.copy_(...)`"
                )
            if name in self._modules:
                raise TypeError(f"{owner}: cannot assign {_type_name(value)} as child module "
                                f"{name!r} (nn.Module or None expected)")
            if name in self._buffers and not isinstance(value, Tensor):
                raise TypeError(f"{owner}: cannot assign {_type_name(value)} to buffer "
                                f"{name!r} (Tensor or None expected)")
        if value is None and name in self._parameters:
            self._parameters[name] = None
            return
        if value is None and name in self._modules:
            self._modules[name] = None
            return
        if name in self._buffers and (value is None or not isinstance(value, (Parameter, Module))):
            self._buffers[name] = value
            return
        if isinstance(value, Parameter):
            if name not in self._parameters and hasattr(type(self), name):
                # a method or property of the class would hide the parameter (torch refuses)
                raise KeyError(f"{owner}: attribute {name!r} already exists (a class "
                               "attribute); choose another parameter name")
            target = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        else:
            target = None
        for store in (self._parameters, self._buffers, self._modules):
            if store is not target:
                store.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
            return
        target[name] = value  # replacing keeps the position (state_dict order, like torch)
        self.__dict__.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def _check_new_name(self, kind: str, name: str, store: str | None = None) -> None:
        """torch's checks on a name to register: a str (else TypeError), not empty, no '.',
        and (with ``store``) no attribute of that name outside ``store`` (KeyError)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register {kind} {name!r} before Module.__init__() "
                                 "call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {_type_name(name)} {name!r}")
        if not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")
        if store is not None and name not in self.__dict__[store] and hasattr(self, name):
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: a declared but absent parameter, like a bias=False)."""
        self._check_new_name("parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {_type_name(param)} object to parameter {name!r} "
                            "(nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """State that moves with ``to()`` and is saved in ``state_dict`` (unless
        ``persistent=False``) but is not trained: BatchNorm's running mean, a causal mask."""
        self._check_new_name("buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {_type_name(tensor)} object to buffer {name!r} "
                            "(Tensor or None required)")
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} must be a Module, got "
                            f"{_type_name(module)}")
        self._check_new_name("module", name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` ("" is self), e.g. "encoder.layers.0"."""
        module = self
        if target == "":
            return module
        for part in target.split("."):
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = child
        return module

    # ------------------------------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def _describe(self) -> str:
        """How errors name this layer; layers with arguments worth naming override it."""
        return type(self).__name__

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):  # the usual case
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        # iterate over copies: a hook may remove itself (or others) while it runs
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in self._forward_pre_hooks_with_kwargs:
                replaced = hook(self, args, kwargs)
                if replaced is not None:
                    if not (isinstance(replaced, tuple) and len(replaced) == 2):
                        raise RuntimeError(
                            f"{type(self).__name__}: a forward pre-hook registered with "
                            "with_kwargs=True must return None or a tuple (new_args, "
                            f"new_kwargs), got {_type_name(replaced)}"
                        )
                    args, kwargs = replaced
            else:
                replaced = hook(self, args)
                if replaced is not None:
                    args = replaced if isinstance(replaced, tuple) else (replaced,)
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.wrap_inputs(args)  # after the pre-hooks, as torch
        out = self.forward(*args, **kwargs)
        for key, hook in list(self._forward_hooks.items()):
            if key in self._forward_hooks_with_kwargs:
                replaced = hook(self, args, kwargs, out)
            else:
                replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        if backward_hooks is not None:
            out = backward_hooks.wrap_output(out)  # after the forward hooks, as torch
        return out

    @staticmethod
    def _add_hook(hooks: OrderedDict, with_kwargs_keys: set, hook, prepend: bool,
                  with_kwargs: bool) -> _HookHandle:
        key = next(_hook_ids)
        hooks[key] = hook
        if prepend:
            hooks.move_to_end(key, last=False)
        if with_kwargs:
            with_kwargs_keys.add(key)
        return _HookHandle(hooks, key, with_kwargs_keys)

    def register_forward_hook(self, hook, *, prepend: bool = False,
                              with_kwargs: bool = False) -> _HookHandle:
        """``hook(module, args, output)`` after every forward (``with_kwargs=True``:
        ``hook(module, args, kwargs, output)``); a returned value replaces the output.
        ``prepend=True`` runs it before the hooks already registered."""
        return self._add_hook(self._forward_hooks, self._forward_hooks_with_kwargs, hook,
                              prepend, with_kwargs)

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> _HookHandle:
        """``hook(module, args)`` before every forward; a returned value (a tuple, or one
        value) replaces ``args``. With ``with_kwargs=True``: ``hook(module, args, kwargs)``,
        which may return a new ``(args, kwargs)`` pair."""
        return self._add_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs,
                              hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> _HookHandle:
        """``hook(module, grad_input, grad_output)`` in the backward pass of every call made
        while it is registered: ``grad_output`` holds dL/d(output), ``grad_input`` dL/d(each
        positional argument) (None where it is not a Tensor that requires grad). A returned tuple
        replaces ``grad_input`` (unlike torch, only in calls with one input that requires grad).
        The module must return one Tensor (a layer, a Sequential), not a tuple (RNNs)."""
        return self._add_hook(self._backward_hooks, set(), hook, prepend, False)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> _HookHandle:
        """``hook(module, grad_output)`` when dL/d(output) of a call is known, before the
        backward pass enters the module; a returned tuple (or Tensor) replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, set(), hook, prepend, False)

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and (through their own ``train``) its children."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None``, or with ``set_to_none=False`` fill the
        existing grad tensors with zeros (the same objects, cut from any graph, as torch)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
                continue
            grad = p.grad if p.grad._ctx is None else p.grad.detach()
            grad.requires_grad = False
            # a new zero array, not grad * 0 (inf * 0 = nan), nor an in-place fill (a grad
            # may be a read-only broadcast view or share memory with the graph)
            grad.data = get_array_module(grad.data).zeros_like(grad.data)
            p.grad = grad

    # ------------------------------------------------------------------------------------------
    # Traversal
    # ------------------------------------------------------------------------------------------

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator:
        """(dotted name, module) for self and every descendant, parents first; a module
        reachable twice is yielded once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                child_prefix = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator:
        """(name, child) for each direct child; a child held under two names comes once."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator:
        """(dotted name, tensor) of ``store`` ("_parameters" or "_buffers") in every module;
        a tensor reachable twice comes once unless ``remove_duplicate=False``."""
        seen: set[int] = set()
        if recurse:
            modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        else:
            modules = [(prefix, self)]
        for module_prefix, module in modules:
            for name, t in module.__dict__[store].items():
                if t is None or id(t) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(t))
                yield (f"{module_prefix}.{name}" if module_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator:
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------------
    # Devices and dtypes
    # ------------------------------------------------------------------------------------------

    def to(self, device=None, dtype=None) -> Module:
        """Move (or cast floating point) parameters, their gradients and buffers in place.

        ``to("cuda")``, ``to(tg.float64)``, ``to("cuda", tg.float64)``. The Parameter objects
        stay the same (an optimizer built before the move still holds them); returns self.
        Integer buffers (BatchNorm's ``num_batches_tracked``) keep their dtype; the target dtype
        must be floating point, as in torch (integer weights could not require grad)."""
        if device is not None and not isinstance(device, (str, backend.Device)):
            device, dtype = None, device
        if device is not None:
            device = backend.as_device(device)
        if dtype is not None:
            dtype = _as_dtype(dtype)
            if dtype.kind not in "fc":
                raise TypeError(
                    f"nn.Module.to only accepts floating point or complex dtypes, but got "
                    f"desired dtype={dtype} ({type(self).__name__}); cast the inputs or the "
                    "outputs instead"
                )

        def convert(data):
            if device is not None:
                data = backend.to_device(data, device)
            if dtype is not None and data.dtype.kind in "fc":
                data = data.astype(dtype)
            return data

        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    t.data = convert(t.data)
                    if t.grad is not None:
                        t.grad.data = convert(t.grad.data)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move to the GPU: ``cuda()``, ``cuda(1)`` or ``cuda("cuda:1")``."""
        if device is None:
            device = "cuda"
        elif not isinstance(device, (str, backend.Device)):
            device = f"cuda:{operator.index(device)}"
        return self.to(device)

    def float(self) -> Module:
        return self.to(dtype=np.float32)

    def double(self) -> Module:
        return self.to(dtype=np.float64)

    def half(self) -> Module:
        """Cast floating point parameters, gradients and buffers to float16 (torch's
        ``Module.half``). NumPy computes float16 slowly and with float16 rounding at every op;
        use it to study precision, not for speed."""
        return self.to(dtype=np.float16)

    # ------------------------------------------------------------------------------------------
    # State dicts
    # ------------------------------------------------------------------------------------------

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name, e.g. "0.weight", "bn.running_mean".

        Values are detached tensors sharing the live data (``keep_vars=True``: the Parameters
        themselves). A module or parameter reachable under two names appears under both, like
        torch (tied weights stay loadable)."""
        state = OrderedDict() if destination is None else destination
        for module_prefix, module in self.named_modules(remove_duplicate=False):
            dotted = prefix + (f"{module_prefix}." if module_prefix else "")
            for name, p in module._parameters.items():
                if p is not None:
                    state[dotted + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    state[dotted + name] = b if keep_vars else b.detach()
        return state

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into this module's parameters and buffers (shapes must match).

        With ``strict=True`` missing or unexpected keys are an error; a shape mismatch is an
        error either way. Returns ``(missing_keys, unexpected_keys)`` (a named tuple); the
        unexpected keys come in torch's order (grouped by module, in ``named_modules`` order),
        and keys under a child set to None are ignored, as in torch. Values are cast to the
        dtype of the tensor they are copied into; a one-element checkpoint tensor loads into a
        0-d one (torch's compatibility rule). Unlike torch, nothing is copied when it raises.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict (e.g. from state_dict() or "
                            f"tinygrad_edu.load), got {_type_name(state_dict)}")
        lazy = [(prefix, m) for prefix, m in self.named_modules()
                if hasattr(m, "_materialize_from")]
        for prefix, module in lazy:  # lazy layers take their shapes from the checkpoint
            module._materialize_from(state_dict, prefix + "." if prefix else "")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = self._unexpected_keys(state_dict, own)
        problems = []
        sources = {}  # key -> the array to copy, checked
        if strict and (missing or unexpected):
            if missing:
                problems.append(f"missing keys: {missing}")
            if unexpected:
                problems.append(f"unexpected keys: {unexpected}")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            data = value.data if isinstance(value, Tensor) else value
            if not hasattr(data, "shape"):
                data = np.asarray(data)
            if target.ndim == 0 and tuple(data.shape) == (1,):
                data = data.reshape(())
            if tuple(data.shape) != tuple(target.shape):
                problems.append(
                    f"size mismatch for {key}: checkpoint has shape {tuple(data.shape)}, "
                    f"the model has {tuple(target.shape)}"
                )
            sources[key] = data
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(problems)
            )
        with no_grad():
            for key, data in sources.items():
                own[key].copy_(data)
        for _, module in lazy:  # a lazy layer with nothing left uninitialized is the regular one
            if not module.has_uninitialized_params():
                module._become_regular()
        return _IncompatibleKeys(missing, unexpected)

    def _unexpected_keys(self, state_dict: Mapping, own: Mapping) -> list:
        """The keys of ``state_dict`` that load into nothing, ordered as torch's
        ``load_state_dict`` reports them: grouped by the module that finds them (modules in
        ``named_modules`` order), in checkpoint order within one module. A key is followed
        down through the children its dotted name names; one under a child set to None is
        ignored (torch's rule)."""
        order = {name: i for i, (name, _) in
                 enumerate(self.named_modules(remove_duplicate=False))}
        found = []
        for key in state_dict:
            if key in own:
                continue
            module, name = self, ""
            head, dot, rest = str(key).partition(".")
            while dot and head in module._modules:
                module = module._modules[head]
                if module is None:
                    break
                name = f"{name}.{head}" if name else head
                head, dot, rest = rest.partition(".")
            else:
                found.append((order[name], key))
        found.sort(key=lambda item: item[0])  # stable: checkpoint order within a module
        return [key for _, key in found]

    # ------------------------------------------------------------------------------------------
    # Printing
    # ------------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    def __repr__(self) -> str:
        """Like torch's, plus each child's parameter count and, for a module with children, the
        totals on the last line."""
        return self._repr(top=True)

    def _repr(self, top: bool) -> str:
        """torch's layout: ``Name(extra)`` for a one-line extra_repr and no children, else the
        extra_repr lines, then one line per child, each indented by 2 spaces."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        lines = [_child_line(name, child, child._repr(top=False))
                 for name, child in self._modules.items() if child is not None]
        text = f"{type(self).__name__}("
        if len(extra_lines) == 1 and not lines:
            text += extra_lines[0]
        elif extra_lines or lines:
            text += "\n  " + "\n  ".join(extra_lines + lines) + "\n"
        text += ")"
        if top and lines:  # a model (not a single layer) gets its totals on the last line
            text += f"\n# {self.num_parameters():,} parameters " \
                    f"({self.num_parameters(trainable_only=True):,} trainable)"
        return text


def _child_line(name: str, child: Module, child_repr: str, each: str = "") -> str:
    """``(name): <child repr, indented>  # N params`` (one line of a parent's repr)."""
    count = child.num_parameters()
    note = f"  # {count:,} params{each}" if count else ""
    return f"({name}): " + child_repr.replace("\n", "\n  ") + note


def _position(owner: str, index, size: int) -> int:
    """``index`` (an int, negative counts from the end) as a position in ``range(size)``."""
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"{owner}: indices must be integers or slices, got "
                        f"{_type_name(index)}") from None
    if not -size <= index < size:
        raise IndexError(f"{owner}: index {index} is out of range for {size} modules")
    return index % size


def _insert_position(owner: str, index, size: int) -> int:
    """Where ``insert(index, m)`` puts ``m``: 0..size (negative counts from the end)."""
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"{owner}: insert index must be an integer, got "
                        f"{_type_name(index)}") from None
    if not -size <= index <= size:
        raise IndexError(f"{owner}: insert index {index} is out of range for {size} modules "
                         f"(expected {-size} <= index <= {size})")
    return index + size if index < 0 else index


def _check_module(owner: str, module) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: expected an nn.Module, got {_type_name(module)}")


class _Numbered:
    """What Sequential and ModuleList share: children named "0".."n-1"."""

    def _renumber(self, modules: list) -> None:
        """Name the children "0".."n-1" in the given order (torch does this after a delete)."""
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __setitem__(self, index: int, module: Module) -> None:
        """Put ``module`` in the place of the child at ``index`` (which keeps its name)."""
        keys = list(self._modules.keys())
        setattr(self, keys[_position(type(self).__name__, index, len(keys))], module)

    def pop(self, index) -> Module:
        """Remove and return the child at ``index`` (an int or a slice); renumbers the rest."""
        module = self[index]
        del self[index]
        return module


class Sequential(_Numbered, Module):
    """Run modules one after another: ``Sequential(Linear(784, 128), ReLU(), Linear(128, 10))``.

    Children are named "0", "1", ... (or by the keys of a dict). Like torch, a slice keeps the
    names (``seq[1:]`` of Linear-ReLU-Linear saves "2.weight"), while ``del``, ``pop`` and
    ``insert`` renumber the children 0..n-1.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):  # keeps the children's names, like torch
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        items = list(self._modules.values())
        return items[_position("Sequential", index, len(items))]

    def __delitem__(self, index) -> None:
        keys = list(self._modules.keys())
        if isinstance(index, slice):
            doomed = keys[index]
        else:
            doomed = [keys[_position("Sequential", index, len(keys))]]
        for key in doomed:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end under the name ``str(len(self))``, like torch."""
        _check_module("Sequential.append", module)
        name = str(len(self))
        if name in self._modules:  # torch would silently replace that child
            raise KeyError(f"Sequential.append: the name {name!r} is already taken by a child "
                           f"(children {list(self._modules)}, e.g. a slice keeps its names); "
                           f"use add_module with a new name, or insert(len(seq), module)")
        self.add_module(name, module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential running ``self``'s modules, then ``other``'s (named 0..n-1)."""
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            return NotImplemented
        return self.extend(list(other))

    def insert(self, index: int, module: Module) -> Sequential:
        """Put ``module`` before position ``index`` (``-len(self) <= index <= len(self)``);
        the children are renumbered 0..n."""
        _check_module("Sequential.insert", module)
        items = list(self._modules.values())
        items.insert(_insert_position("Sequential.insert", index, len(items)), module)
        self._renumber(items)
        return self


class ModuleList(_Numbered, Module):
    """A list of modules whose parameters are registered; children are named "0".."n-1"."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend: expected an iterable of modules, got "
                            f"{_type_name(modules)}")
        for m in modules:
            self.append(m)
        return self

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        """A new ModuleList holding ``self``'s modules, then ``other``'s."""
        return ModuleList([*self, *other])

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index`` (``-len(self) <= index <= len(self)``)."""
        _check_module("ModuleList.insert", module)
        items = list(self._modules.values())
        items.insert(_insert_position("ModuleList.insert", index, len(items)), module)
        self._renumber(items)

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[_position("ModuleList", index, len(items))]

    def __delitem__(self, index) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[_position("ModuleList", index, len(items))]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _repr(self, top: bool) -> str:
        """torch's ModuleList repr: a run of children with equal reprs is printed once, as
        ``(0-11): 12 x Block(...)`` (the parameter count is then per module)."""
        runs: list[list] = []  # [first index, last index, repr, module]
        for i, child in enumerate(self._modules.values()):
            if child is None:
                continue
            text = child._repr(top=False)
            if runs and runs[-1][2] == text and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i, text, child])
        if not runs:
            return "ModuleList()"
        lines = []
        for first, last, text, child in runs:
            if first == last:
                lines.append(_child_line(str(first), child, text))
            else:
                lines.append(_child_line(f"{first}-{last}", child,
                                         f"{last - first + 1} x {text}", each=" each"))
        text = type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"
        if top:
            text += f"\n# {self.num_parameters():,} parameters " \
                    f"({self.num_parameters(trainable_only=True):,} trainable)"
        return text


class ModuleDict(Module):
    """A dict of modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        """Add or replace modules from a mapping (a ModuleDict too) or an iterable of
        (name, module) pairs, in their order."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable):
            pairs = []
            for j, pair in enumerate(modules):
                if not isinstance(pair, Iterable):
                    raise TypeError(f"ModuleDict.update: element #{j} should be a (name, "
                                    f"module) pair, got {_type_name(pair)}")
                pair = tuple(pair)
                if len(pair) != 2:
                    raise ValueError(f"ModuleDict.update: element #{j} has length "
                                     f"{len(pair)}; a (name, module) pair is required")
                pairs.append(pair)
        else:
            raise TypeError(f"ModuleDict.update: expected a mapping or an iterable of (name, "
                            f"module) pairs, got {_type_name(modules)}")
        for name, module in pairs:
            self[name] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


# ----------------------------------------------------------------------------------------------
# ParameterList and ParameterDict
# ----------------------------------------------------------------------------------------------

_TORCH_TYPE_NAMES = {  # torch.typename of a CPU tensor, by dtype (ParameterDict's repr)
    "float16": "HalfTensor", "bfloat16": "BFloat16Tensor", "float32": "FloatTensor",
    "float64": "DoubleTensor", "int8": "CharTensor", "uint8": "ByteTensor",
    "int16": "ShortTensor", "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor",
}


def _as_parameter(value):
    """torch's rule for the parameter containers: a plain Tensor is wrapped in a Parameter
    (sharing its data); a Parameter, None or any other object is kept as it is."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe_entry(key, value, type_name) -> str:
    """One line of a parameter container's repr, e.g.
    ``(0): Parameter containing: [torch.float32 of size 2x3]`` (torch's wording)."""
    if not isinstance(value, Tensor):
        return f"  ({key}): Object of type: {_type_name(value)}"
    size = "x".join(str(s) for s in value.shape)
    device = "" if value.device.type == "cpu" else f" ({value.device})"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    return f"  ({key}): {kind} containing: [{type_name(value)} of size {size}{device}]"


class _ParameterContainer:
    """What ParameterList and ParameterDict share: a repr listing the entries (torch's), and
    no forward."""

    def _entries(self):
        raise NotImplementedError

    def _type_name(self, value) -> str:
        return f"torch.{value.dtype}"

    def extra_repr(self) -> str:
        return "\n".join(_describe_entry(k, v, self._type_name) for k, v in self._entries())

    def _repr(self, top: bool) -> str:
        extra = self.extra_repr()
        if not extra:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n  " + extra.replace("\n", "\n  ") + "\n)"

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} should not be called.")


class ParameterList(_ParameterContainer, Module):
    """A list of parameters registered under the names "0", "1", ... (``torch.nn.ParameterList``):
    ``named_parameters()`` and ``state_dict()`` use those keys. A plain Tensor put in is wrapped
    in a Parameter (sharing its data), as in torch.

    >>> import tinygrad_edu as tg
    >>> params = ParameterList([Parameter(tg.zeros(3)), tg.ones(2)])
    >>> [name for name, _ in params.named_parameters()]
    ['0', '1']
    """

    def __init__(self, values: Iterable | None = None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _index(self, index) -> str:
        return str(_position("ParameterList", index, self._size))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._size)[index]])
        return getattr(self, self._index(index))

    def __setitem__(self, index, value) -> None:
        setattr(self, self._index(index), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return iter([self[i] for i in range(self._size)])

    def __iadd__(self, values: Iterable) -> ParameterList:
        return self.extend(values)

    def append(self, value) -> ParameterList:
        """Add ``value`` at the end, under the name ``str(len(self))``."""
        object.__setattr__(self, "_size", self._size + 1)
        self[self._size - 1] = value
        return self

    def extend(self, values: Iterable) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{_type_name(values)}")
        for value in values:
            self.append(value)
        return self

    def _entries(self):
        return enumerate(self)


class ParameterDict(_ParameterContainer, Module):
    """A dict of parameters registered under their (string) keys (``torch.nn.ParameterDict``):
    ``named_parameters()`` and ``state_dict()`` use the keys. A plain Tensor put in is wrapped
    in a Parameter. Built from (or updated with) a plain dict, the keys go in sorted order; from
    an OrderedDict, a ParameterDict or (key, value) pairs, in the given order (torch's rule).

    >>> import tinygrad_edu as tg
    >>> params = ParameterDict({"scale": tg.ones(3), "shift": tg.zeros(3)})
    >>> list(params.state_dict())
    ['scale', 'shift']
    """

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})  # insertion order (a dict used as ordered set)
        if parameters is not None:
            self.update(parameters)

    def _attr(self, key) -> str:
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not "
                            f"a string (type is '{_type_name(key)}')")
        return key

    def __getitem__(self, key: str):
        return getattr(self, self._attr(key))

    def __setitem__(self, key: str, value) -> None:
        attr = self._attr(key)
        self._check_new_name("parameter", attr)
        self._keys[key] = None
        setattr(self, attr, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, self._attr(key))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def values(self):
        return [self[k] for k in self._keys]

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def setdefault(self, key: str, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the last inserted (key, value) pair."""
        if not self._keys:
            raise KeyError("popitem(): ParameterDict is empty")
        key = list(self._keys)[-1]
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameter objects."""
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys: Iterable[str], default=None) -> ParameterDict:
        return ParameterDict((k, default) for k in keys)

    def update(self, parameters) -> None:
        """Add or replace entries from a mapping or an iterable of (key, value) pairs."""
        if not isinstance(parameters, Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of "
                            f"key/value pairs, but got {_type_name(parameters)}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be "
                                    f"Iterable; is {_type_name(pair)}")
                pair = tuple(pair)
                if len(pair) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length "
                                     f"{len(pair)}; 2 is required")
                pairs.append(pair)
        for key, value in pairs:
            self[key] = value

    def __or__(self, other: ParameterDict) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other: ParameterDict) -> ParameterDict:
        self.update(other)
        return self

    def _entries(self):
        return self.items()

    def _type_name(self, value) -> str:
        name = _TORCH_TYPE_NAMES.get(str(value.dtype), f"{value.dtype}Tensor")
        return f"torch.cuda.{name}" if value.device.type == "cuda" else f"torch.{name}"
