"""Reverse-mode automatic differentiation: ``Config``, ``Function`` and the graph walk.

How it works, in three sentences. Every differentiable op is a ``Function`` subclass whose
``forward`` computes on raw arrays and whose ``backward`` turns the output gradient into input
gradients. ``Function.apply`` runs the forward and, when gradients are wanted, links the output
tensor to the function that made it (``tensor._ctx``) and to that function's inputs
(``ctx.inputs``), so the tensors form a graph. ``backward`` sorts that graph topologically and
visits it in reverse, applying the chain rule once per node.

Core ops write ``backward`` with Tensor operations, so ``create_graph=True`` records the backward
pass as a graph of its own (higher-order gradients). When ``create_graph`` is False the backward
runs under ``no_grad`` and builds nothing.

In-place updates inside a graph (``out += identity``) are recorded as torch records them: the
op runs out of place on a stand-in for the tensor's earlier version, which takes over its
history, and the tensor takes the op as its own (``Tensor._update_in_graph``). Edges point at
tensors, so an op that used the tensor before the update still names the tensor itself; the
walk swaps in the earlier version it saw (``InPlaceClock.as_of``, from the clock readings).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import time
import traceback
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels as kernels_package
from .backend import get_array_module

if TYPE_CHECKING:
    from .tensor import Tensor


# ----------------------------------------------------------------------------------------------
# Global switches: one Config, one context-manager mechanism
# ----------------------------------------------------------------------------------------------


class Config:
    """Process-wide switches. Change them with the context managers below, not by hand.

    grad_enabled   record graphs for autograd (``no_grad()`` turns it off)
    inference_mode inside ``inference_mode()`` (which is ``no_grad`` here, see there)
    kernel         "auto" | "reference" | "numba" | "cuda": which kernel implementation the
                   kernel-backed ops (conv, pooling, attention) call (``use_kernel()``)
    anomaly        check every forward output and backward gradient for NaN/Inf
    default_dtype  dtype of tensors made from Python floats
    sdpa_backend   "auto" | "math" | "fused": how scaled_dot_product_attention is computed
    hooks          observers of every op call (study tools: tracer, profiler, recorder);
                   empty by default, which costs one truth test per op
    """

    grad_enabled: bool = True
    inference_mode: bool = False
    kernel: str = "auto"
    anomaly: bool = False
    default_dtype: Any = np.float32
    sdpa_backend: str = "auto"
    hooks: tuple = ()


class _Override(contextlib.ContextDecorator):
    """Set ``Config`` attributes inside a ``with`` block (or a decorated function).

    A decorated generator function runs each stretch of its body (up to the next ``yield``)
    under the setting and gives it back while its caller runs, as torch's decorators do: the
    setting would otherwise only cover the call that makes the generator, which runs none of
    its body."""

    def __init__(self, **changes):
        for key in changes:
            if not hasattr(Config, key):
                raise AttributeError(f"Config has no setting {key!r}")
        self.changes = changes
        self._saved: list[dict] = []

    def __enter__(self):
        self._saved.append({key: getattr(Config, key) for key in self.changes})
        for key, value in self.changes.items():
            setattr(Config, key, value)
        return self

    def __exit__(self, *exc):
        for key, value in self._saved.pop().items():
            setattr(Config, key, value)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"a grad-mode or Config switch decorates a function, got "
                            f"{type(func).__name__} {func!r}")
        if inspect.isgeneratorfunction(func):
            return _generator_under(self, func)
        return super().__call__(func)


def _generator_under(switch, func):
    """``func`` (a generator function) with every resume of its generator run inside
    ``with switch:`` (torch.utils._contextlib._wrap_generator): values, ``send``, ``throw``
    and ``close`` are passed through, and its ``return`` value becomes ours."""

    @functools.wraps(func)
    def generator(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with switch:
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with switch:
                        gen.close()
                    raise
                except BaseException as error:  # thrown in by our caller: pass it on
                    with switch:
                        response = gen.throw(error)
                else:
                    with switch:
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return generator


def _switch_or_decorated(switch: _Override, orig_func):
    """``@no_grad`` (the function itself) or ``no_grad()`` / ``@no_grad()`` (the switch)."""
    return switch if orig_func is None else switch(orig_func)


def no_grad(orig_func=None):
    """Context manager / decorator: run without recording a graph (inference, optimizer steps).

    ``with no_grad():``, ``@no_grad()`` and ``@no_grad`` all work, as in torch; a decorated
    generator runs its body under no_grad each time it is resumed."""
    return _switch_or_decorated(_Override(grad_enabled=False), orig_func)


def enable_grad(orig_func=None):
    """Context manager / decorator: record graphs again inside a ``no_grad`` block
    (``with enable_grad():``, ``@enable_grad()`` or ``@enable_grad``)."""
    return _switch_or_decorated(_Override(grad_enabled=True), orig_func)


def inference_mode(mode=True):
    """``no_grad`` under torch's name: ``with inference_mode():``, ``@inference_mode()``,
    ``@inference_mode``; ``inference_mode(False)`` records graphs again (as in torch, it
    enables grad).

    The difference from torch: torch makes "inference tensors" in this mode (no version
    counter, no view tracking, and they may not be saved for backward by a graph recorded
    later). Here the tensors made inside are ordinary tensors, exactly as under ``no_grad``,
    so code that runs under torch's inference_mode runs here too, but not the other way
    round: using a result later in a recorded graph works here and raises in torch."""
    if isinstance(mode, bool):
        return _Override(grad_enabled=not mode, inference_mode=mode)
    return _Override(grad_enabled=False, inference_mode=True)(mode)  # bare @inference_mode


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (torch.is_inference_mode_enabled)."""
    return Config.inference_mode


class set_grad_enabled:  # noqa: N801 - torch's name; a class so it can be used three ways
    """Switch graph recording on or off, three ways, like torch:

    - a plain call, ``set_grad_enabled(False)``, switches it at once, for good;
    - ``with set_grad_enabled(mode):`` switches it for the block and restores the mode found
      when the object was made;
    - ``@set_grad_enabled(mode)`` runs the function under ``mode`` and leaves the mode of the
      caller as it was (the call that made the decorator does not switch it).
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, (bool, np.bool_)):  # bool("no") is True: refuse, like torch
            raise TypeError(f"set_grad_enabled: mode must be a bool, got "
                            f"{type(mode).__name__} {mode!r}")
        self.prev = Config.grad_enabled
        self.mode = bool(mode)
        Config.grad_enabled = self.mode

    def __call__(self, func):
        Config.grad_enabled = self.prev  # decorating is not a call to switch the mode
        return _Override(grad_enabled=self.mode)(func)

    def __enter__(self):
        Config.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        Config.grad_enabled = self.prev
        return False

    def __repr__(self) -> str:
        return f"set_grad_enabled(mode={self.mode})"


def is_grad_enabled() -> bool:
    return Config.grad_enabled


def detect_anomaly():
    """Context manager: raise as soon as a forward or backward produces NaN or Inf, naming the op
    and the line of user code whose forward created it."""
    return _Override(anomaly=True)


def use_kernel(kernel: str):
    """Context manager: pick the kernel implementation ("auto", "reference", "numba", "cuda")."""
    from .backend import KERNEL_CHOICES

    if kernel not in KERNEL_CHOICES:
        raise ValueError(f"use_kernel: expected one of {KERNEL_CHOICES}, got {kernel!r}")
    return _Override(kernel=kernel)


class add_hook(contextlib.ContextDecorator):  # noqa: N801 - used like the other switches
    """Context manager: observe every op. ``hook`` may define ``on_forward(fn, out, seconds)``
    and ``on_backward(fn, grad_output, grad_inputs, seconds)``; both are optional. Hooks nest:
    the list is extended when the block is entered, not when the manager is created.

    Leaving the block removes exactly the hook it added and nothing else, so blocks of two
    tools may end in any order (``a`` entered, ``b`` entered, ``a`` left, ``b`` left) and
    ``Config.hooks`` is left as it was before both. (Restoring a saved tuple, as the other
    switches do, would put ``a`` back when ``b`` ends.)"""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        Config.hooks = Config.hooks + (self.hook,)
        return self

    def __exit__(self, *exc):
        hooks = list(Config.hooks)
        for k in range(len(hooks) - 1, -1, -1):  # the last copy: the one this block added
            if hooks[k] is self.hook:
                del hooks[k]
                break
        Config.hooks = tuple(hooks)
        return False


# ----------------------------------------------------------------------------------------------
# Function: one differentiable op
# ----------------------------------------------------------------------------------------------


_LIBRARY_PACKAGE = __name__.rpartition(".")[0] + "."  # "tinygrad_edu."
_LIBRARY_DIRS = (
    os.path.dirname(os.path.abspath(__file__)),  # tinygrad_edu/
    os.path.dirname(os.path.abspath(kernels_package.__file__)),  # kernels/ (tinygrad_edu.kernels)
)


def _user_frame() -> str:
    """``file:line (code)`` of the innermost stack frame outside the library: the line of user
    code that called the op."""
    for frame in reversed(traceback.extract_stack(limit=40)[:-1]):
        if not os.path.abspath(frame.filename).startswith(_LIBRARY_DIRS):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "<unknown>"


def _memory_owner(array):
    """The array whose memory ``array`` views (``array`` itself when it owns its memory):
    NumPy and CuPy point every view, and every view of a view, at the owner (``.base``)."""
    owner = array
    while owner.base is not None and owner.base.__class__ is owner.__class__:
        owner = owner.base
    return owner


class InPlaceClock:
    """How many in-place updates of tensors the process has made. ``stamp`` (called by
    ``Tensor._check_inplace``) advances it and records the reading twice: on the updated
    tensor (``tensor._version``, 0: never updated) and on the memory it wrote, that is on the
    array that owns it. An op reads the clock when it records the graph
    (``Function.inplace_ticks``); ``updated_after`` then tells whether an input was updated
    after the forward used it (``Function.check_versions``), through itself or through any
    tensor sharing its memory: a slice, a reshape, a ``detach()``-ed alias or the tensor a view
    was taken of (torch's views share one version counter for the same reason). If the clock
    has not moved at all by the time the op's backward runs, the check is skipped.
    """

    ticks: int = 0
    # id(memory owner) -> (weak reference to it, clock reading of its last update); an entry
    # leaves when its array is freed
    _memory: dict = {}
    # In-place updates recorded in the graph (``Tensor._update_in_graph``, torch's rebase):
    # id(tensor) -> (weak reference to it, [(clock reading of the update, weak reference to the
    # tensor's earlier version it replaced)]), in order, so that an op that used the tensor
    # before an update sends its gradient to the version it saw (``as_of``). Weak both ways:
    # the graph of the update keeps the earlier version alive as long as a backward can need
    # it, and this table keeps no graph alive (a forward with no backward frees everything).
    # (Not a WeakKeyDictionary: that compares keys with ==, which is elementwise for tensors.)
    history: dict = {}
    # id(memory owner) -> (weak reference to it, [(clock reading, weak reference to the tensor
    # updated)]): which tensors rewrote that memory inside the graph (``check_aliases``)
    _rebased: dict = {}

    @classmethod
    def stamp(cls, tensor) -> None:
        """Count an in-place update of ``tensor``'s memory."""
        cls.ticks += 1
        tensor._version = cls.ticks
        owner = _memory_owner(tensor.data)
        key = id(owner)
        memory = cls._memory
        ref = weakref.ref(owner, lambda _, key=key: memory.pop(key, None))
        memory[key] = (ref, cls.ticks)

    @classmethod
    def updated_after(cls, tensor, ticks: int) -> bool:
        """Was ``tensor``'s memory written in place after the clock read ``ticks``?"""
        if tensor._version > ticks:
            return True
        owner = _memory_owner(tensor.data)
        entry = cls._memory.get(id(owner))
        return entry is not None and entry[0]() is owner and entry[1] > ticks

    @classmethod
    def record_rebase(cls, tensor, earlier, wrote_memory: bool = True) -> None:
        """Note that ``tensor`` was just updated in place inside the graph (``stamp`` has
        counted it) and that ``earlier`` stands for what it was before. ``wrote_memory``:
        False for a view whose base wrote the memory (and is noted as its writer)."""
        _weak_entry(cls.history, tensor).append((cls.ticks, weakref.ref(earlier)))
        if wrote_memory:
            _weak_entry(cls._rebased, _memory_owner(tensor.data)).append(
                (cls.ticks, weakref.ref(tensor)))

    @classmethod
    def as_of(cls, tensor, ticks: int):
        """``tensor`` as it was when the clock read ``ticks``: itself, or the earlier version
        that an in-place update after that replaced."""
        entry = cls.history.get(id(tensor))
        if entry is not None and entry[0]() is tensor:
            for when, earlier_ref in entry[1]:
                if when > ticks:
                    earlier = earlier_ref()
                    if earlier is None:  # nothing holds the graph of the update any more
                        raise RuntimeError(
                            f"backward: a tensor of shape {tuple(tensor.shape)} was updated in "
                            "place after an op used it, and the graph of that update was freed "
                            "by an earlier backward; pass retain_graph=True to that backward"
                        )
                    return earlier
        return tensor

    @classmethod
    def check_aliases(cls, ctx) -> None:
        """Refuse a graph in which ``ctx`` used a tensor whose memory another tensor (a view
        of it, or the tensor it views) had rewritten in place inside the graph after the
        tensor was made: its value then was not what its own graph computed, so the gradient
        would miss the update. (The tensor that was updated itself is followed exactly.)"""
        for inp in ctx.inputs:
            if not inp.requires_grad:
                continue
            owner = _memory_owner(inp.data)
            entry = cls._rebased.get(id(owner))
            if entry is None or entry[0]() is not owner:
                continue
            maker = inp._ctx
            if maker is not None and maker.freed:
                continue  # its own graph is gone: no gradient goes through it
            current = getattr(inp, "current", None)  # an earlier version: the tensor it was
            itself = inp if current is None else current()
            made = maker.inplace_ticks if maker is not None else -1
            for when, ref in entry[1]:
                if made < when <= ctx.inplace_ticks and ref() is not itself:
                    raise RuntimeError(
                        f"{ctx.name}: its input of shape {tuple(inp.shape)} shares memory with "
                        f"another tensor (shape {_shape_of(ref())}) that was updated in place "
                        "after the input was made and before this op used it; autograd can't "
                        "follow an update through a view. Make the view after the update, or "
                        "update a clone()."
                    )


def _weak_entry(table: dict, obj) -> list:
    """The list kept for ``obj`` in ``table`` (id(obj) -> (weak reference to obj, list)),
    made empty on first use; the entry leaves the table when obj is freed."""
    key = id(obj)
    entry = table.get(key)
    if entry is None or entry[0]() is not obj:
        entry = (weakref.ref(obj, lambda _, key=key: table.pop(key, None)), [])
        table[key] = entry
    return entry[1]


def _shape_of(tensor) -> str:
    return "unknown" if tensor is None else str(tuple(tensor.shape))


class Function:
    """Base class of every op: ``forward`` on arrays, ``backward`` on Tensors, side by side.

    Subclasses implement::

        def forward(self, *arrays, **options) -> array
        def backward(self, dy: Tensor) -> Tensor | array | None | tuple of those (one per input)

    Inside ``backward``: ``self.inputs`` are the input Tensors, ``self.output`` is the output
    Tensor (for ops that set ``reads_output``), ``self.saved`` holds what ``forward`` passed to
    ``save_for_backward`` and ``self.needs_input_grad[i]`` says whether input ``i`` wants a
    gradient. ``dy`` is a Tensor, except for ops that set ``array_backward``: a first-order walk
    hands them the array.

    Kernel-backed ops that can only be differentiated once set ``once_differentiable = True``;
    their gradients then refuse to be differentiated again, with a clear error.
    """

    once_differentiable = False
    kernel_family: str | None = None  # "conv", "pool", "attention" for kernel-backed ops
    # Optional first-order fast path, ``add_grad_into(grad, dy)``: for ops with one input whose
    # gradient is zero except where the op read (slicing), add dy there into the array ``grad``
    # in place. The graph walk uses it when it records no graph (see run_backward).
    add_grad_into = None
    # True when ``backward`` also takes dy as a plain array and then returns plain arrays (its
    # first-order path, see Mul): a first-order walk then hands it the array itself, with no
    # Tensor around it. Ops without it get dy as a Tensor, always.
    array_backward = False
    # True when every plain array ``backward`` returns (its first-order path, see Linear) is
    # newly made and held by nothing else: the walk may keep it as a leaf's ``.grad``, or add
    # later contributions into it, without copying it first. (Add's backward hands the same
    # dy to both inputs, so Add does not say this.)
    fresh_grads = False
    # The walk checks that each gradient a backward returns has its input's shape, so that a
    # wrong backward fails right there, naming the op, instead of broadcasting into a sum. The
    # library's own ops skip that check (outside detect_anomaly): tests compare every gradient
    # they return with torch's and with numerical ones. Set by __init_subclass__, from the
    # module the op is defined in.
    shapes_tested = False
    # True when ``backward`` reads ``self.output`` (Exp, Tanh, Softmax, ...): ``apply`` then
    # keeps a weak reference to the output tensor. The library's other ops skip it (about 0.1 us
    # per op); an op defined anywhere else gets it unless its class says otherwise.
    reads_output = False
    # False for ops whose backward reads only their inputs' shapes and dtypes, never their
    # values (add, sum, reshape, indexing, ...): an input updated in place after the forward
    # changes nothing for them, so ``check_versions`` lets it pass, as torch does.
    reads_inputs = True

    inputs: tuple = ()
    inplace_ticks: int = -1  # InPlaceClock.ticks when the graph was recorded
    output_ticks: int = -1  # InPlaceClock.ticks when the output was written, if later
    needs_input_grad: tuple
    saved: tuple = ()
    freed: bool = False
    created_at: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.shapes_tested = cls.__module__.startswith(_LIBRARY_PACKAGE)
        if not cls.shapes_tested and "reads_output" not in cls.__dict__:
            cls.reads_output = True  # a backward we have not read: keep the output reachable
        if isinstance(cls.__dict__.get("forward"), staticmethod):
            cls.apply = classmethod(_torch_style_apply)  # torch's way: see FunctionCtx

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{self.name}.forward is not implemented")

    def backward(self, dy):
        raise NotImplementedError(f"{self.name}.backward is not implemented")

    def save_for_backward(self, *values) -> None:
        self.saved = values

    @property
    def next_functions(self) -> tuple:
        """torch's graph links: one ``(node, 0)`` per tensor input: the op that made it, an
        ``AccumulateGrad`` for a leaf that requires grad, or None. Walking them from
        ``loss.grad_fn`` visits the whole graph (empty once backward has freed it)."""
        links = []
        for t in self.inputs:
            if t._ctx is not None:
                links.append((t._ctx, 0))
            else:
                links.append((AccumulateGrad(t) if t.requires_grad else None, 0))
        return tuple(links)

    def composite_grads(self, out: Tensor, dy: Tensor) -> tuple:
        """The input gradients of a fused op from ``out``, the same function of its inputs
        rebuilt from differentiable Tensor ops: d(out)/d(inputs) applied to dy, with a graph
        (what a kernel-backed backward hands over to under ``create_graph``, so that every
        order of derivative stays exact). None for inputs that need no gradient."""
        wanted = [t for t, needed in zip(self.inputs, self.needs_input_grad) if needed]
        grads = iter(grad(out, wanted, dy, create_graph=True))
        return tuple(next(grads) if needed else None for needed in self.needs_input_grad)

    @property
    def output(self) -> Tensor:
        ref = self.__dict__.get("_output_ref")
        if ref is None:
            if self.freed:
                raise RuntimeError(f"{self.name}.backward: the graph was already freed")
            raise RuntimeError(
                f"{self.name}.backward reads self.output, but {self.name} does not set "
                "reads_output = True, so apply kept no reference to the output"
            )
        out = ref()
        if out is None:
            raise RuntimeError(f"{self.name}.backward: the output tensor no longer exists")
        # an op recorded for an in-place update (Tensor._update_in_graph) has that tensor as
        # its output, written when the clock read output_ticks
        ticks = max(self.inplace_ticks, self.output_ticks)
        if ticks != InPlaceClock.ticks and \
                InPlaceClock.updated_after(out, ticks):  # any update since?
            raise RuntimeError(
                f"{self.name}.backward needs its output, which was modified by an in-place "
                f"operation after the forward (shape {tuple(out.shape)}); clone it first"
            )
        return out

    def check_versions(self) -> None:
        """Raise if an input was modified in place after the forward saved it (for the ops
        whose backward reads the inputs' values)."""
        if not self.reads_inputs:
            return
        for i, t in enumerate(self.inputs):
            if InPlaceClock.updated_after(t, self.inplace_ticks):
                raise RuntimeError(
                    f"{self.name}.backward: input {i} (shape {tuple(t.shape)}) was modified by "
                    "an in-place operation after the forward used it; its saved value is gone. "
                    "Clone it before the in-place update, or update it after backward()."
                )

    def release(self) -> None:
        """Drop everything kept for backward: inputs, saved arrays and whatever else the
        forward stored on the op (masks, indices, hook arguments). The graph is spent; an
        output tensor that is still alive keeps only this empty shell."""
        self.__dict__.clear()  # inputs, saved, ... fall back to the class defaults: ()
        self.freed = True

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run ``forward`` on the arrays inside ``args`` and, if needed, record the graph edge.

        This is the hottest function of the engine (once per op, forward and backward), so it
        looks at each argument once and keeps no more for the graph than backward reads: the
        inputs, which of them want a gradient, the in-place clock and, for ops that read it, a
        weak reference to the output.
        """
        Tensor = _TENSOR or _tensor_class()
        ctx = cls()
        arrays = []  # what forward gets: each Tensor's array, other arguments as they are
        needs = []  # does tensor input i want a gradient?
        array_type = None  # NumPy or CuPy: every tensor input must be on the same device
        all_tensors = True
        for a in args:
            if isinstance(a, Tensor):
                data = a.data
                if data.__class__ is not array_type:
                    if array_type is not None:
                        raise _mixed_devices_error(ctx, args)
                    array_type = data.__class__
                arrays.append(data)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                all_tensors = False
        if array_type is Tensor:  # p.data = some_tensor (torch's idiom) put a Tensor there
            raise _mixed_devices_error(ctx, args)
        hooks = Config.hooks
        start = time.perf_counter() if hooks else 0.0

        out_data = ctx.forward(*arrays, **kwargs) if kwargs else ctx.forward(*arrays)

        requires_grad = True in needs and Config.grad_enabled
        if not cls.shapes_tested:  # a Function defined outside the library: check its output
            out_data, requires_grad = _custom_output(ctx, out_data, requires_grad)
        out = Tensor._wrap(out_data, requires_grad)
        if requires_grad:
            ctx.inputs = args if all_tensors else tuple(a for a in args if isinstance(a, Tensor))
            ctx.inplace_ticks = InPlaceClock.ticks  # inputs updated in place later: see backward
            ctx.needs_input_grad = tuple(needs)
            if cls.reads_output:
                ctx._output_ref = weakref.ref(out)
            out._ctx = ctx
        if Config.anomaly:
            ctx.created_at = _user_frame()
            _check_finite(out.data, f"forward of {ctx.name}", ctx,
                          [a for a in args if isinstance(a, Tensor)])
        if hooks:
            seconds = time.perf_counter() - start
            ctx.hook_args, ctx.hook_kwargs = args, kwargs
            for hook in hooks:
                on_forward = getattr(hook, "on_forward", None)
                if on_forward is not None:
                    on_forward(ctx, out, seconds)
        return out


_TENSOR = None


def _tensor_class():
    """The Tensor class, imported on first use (tensor.py imports this module)."""
    global _TENSOR
    from .tensor import Tensor

    _TENSOR = Tensor
    return Tensor


def _custom_output(ctx: Function, out, requires_grad: bool) -> tuple:
    """What a user's ``forward`` returned, as (array, requires_grad): one array (a Tensor is
    unwrapped); several outputs are refused; an integer or bool output is not differentiable,
    as in torch."""
    Tensor = _TENSOR or _tensor_class()

    if isinstance(out, Tensor):
        out = out.data
    if isinstance(out, (tuple, list)):
        raise TypeError(
            f"{ctx.name}.forward returned a {type(out).__name__} of {len(out)} values; a "
            "Function here has one output (an array). Split it into one Function per output"
        )
    if not hasattr(out, "dtype") or not hasattr(out, "shape"):
        raise TypeError(f"{ctx.name}.forward must return an array, got {type(out).__name__}")
    return out, requires_grad and out.dtype.kind in "fc"


def _mixed_devices_error(ctx: Function, args) -> Exception:
    Tensor = _TENSOR or _tensor_class()
    for t in args:
        if isinstance(t, Tensor) and isinstance(t.data, Tensor):
            return TypeError(
                f"{ctx.name}: an input of shape {tuple(t.data.shape)} holds a Tensor in .data, "
                "where its array belongs: .data is the raw NumPy/CuPy array here (torch's is a "
                "Tensor). Replace the values with p.detach().copy_(new) (or p.data = new.data)"
            )
    devices = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in args if isinstance(t, Tensor))
    return RuntimeError(
        f"{ctx.name}: expected all tensors on the same device, got {devices}. "
        "Move them with .to(device) first."
    )


def _check_finite(array, what: str, ctx: Function, tensors=()) -> None:
    xp = get_array_module(array)
    if array.dtype.kind in "fc" and not bool(xp.isfinite(array).all()):
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        where = f" (forward called at {ctx.created_at})" if ctx.created_at else ""
        raise RuntimeError(
            f"detect_anomaly: {what} produced NaN or Inf; output shape {tuple(array.shape)}, "
            f"input shapes [{shapes}]{where}"
        )


class AccumulateGrad:
    """The end of a ``next_functions`` walk: the leaf ``variable`` whose ``.grad`` the
    backward pass adds into (torch's AccumulateGrad node)."""

    next_functions: tuple = ()

    def __init__(self, variable):
        self.variable = variable

    @property
    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad of a leaf of shape {tuple(self.variable.shape)}>"


class _NotTwiceDifferentiable(Function):
    """Wraps a gradient produced by a once-differentiable op: differentiating it again raises.

    The op's inputs are passed along (unused) so the wrapped gradient is connected to them, as
    it mathematically is; the error then fires exactly when someone differentiates through it.
    """

    def forward(self, g, *op_inputs, op_name):
        self.op_name = op_name
        return g

    def backward(self, dy):
        raise RuntimeError(
            f"{self.op_name}: its backward is computed by a kernel and is not differentiable; "
            "second-order gradients through it are not supported (for attention, use "
            "tinygrad_edu.functional.sdpa_backend('math'))"
        )


# ----------------------------------------------------------------------------------------------
# Custom Functions written torch's way: staticmethods that take a ctx
# ----------------------------------------------------------------------------------------------


class FunctionCtx:
    """The ``ctx`` of a custom Function written as in torch, with static ``forward(ctx, ...)``
    and ``backward(ctx, grad_output)`` on Tensors (or ``forward(...)`` plus
    ``setup_context(ctx, inputs, output)``)::

        class Cube(tg.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, dy):
                (x,) = ctx.saved_tensors
                return dy * 3 * x * x            # one gradient (or None) per forward argument

        y = Cube.apply(x)

    What torch's ctx offers: ``save_for_backward`` / ``saved_tensors`` (refused if a saved
    tensor was updated in place since), ``needs_input_grad`` (one bool per forward argument),
    ``mark_non_differentiable``, ``set_materialize_grads``, and any attribute the forward sets
    (``ctx.alpha = alpha``). The forward runs without recording a graph, as in torch; the
    backward records one under ``create_graph``, so a backward written in differentiable
    Tensor ops can be differentiated again (``@once_differentiable`` refuses that instead).
    One output Tensor per Function (torch allows several).
    """

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.to_save: tuple = ()
        self.non_differentiable: tuple = ()
        self.materialize_grads = True
        self._ticks = InPlaceClock.ticks
        self._output_ref = None  # the output, when it is saved: held weakly (no cycle)

    def save_for_backward(self, *tensors) -> None:
        Tensor = _TENSOR or _tensor_class()
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but "
                                f"argument {i} is a {type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        saved = tuple(self._output_ref() if t is _SAVED_OUTPUT else t for t in self.to_save)
        for i, t in enumerate(saved):
            if t is not None and InPlaceClock.updated_after(t, self._ticks):
                raise RuntimeError(
                    f"saved_tensors: saved tensor {i} (shape {tuple(t.shape)}) was modified by "
                    "an in-place operation after the forward saved it; clone it first"
                )
        return saved

    def mark_non_differentiable(self, *outputs) -> None:
        """The output needs no gradient (an index, a mask): it does not require grad."""
        self.non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for torch's sake: with one output, grad_output is never None here."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError("mark_dirty: custom Functions that update their inputs in "
                                  "place are not supported; return a new tensor instead")


_SAVED_OUTPUT = object()  # stands for the output in FunctionCtx.to_save


def once_differentiable(backward):
    """Decorate a custom Function's static backward (under ``@staticmethod``, as in torch): it
    runs without recording a graph, and differentiating its gradients again raises."""
    backward.once_differentiable = True
    return backward


class _CustomNode(Function):
    """The graph node of a torch-style custom Function: calls its static ``backward`` with the
    user's ctx and hands the gradients of the tensor arguments on (torch's backward returns
    one per forward argument, None for the non-tensor ones)."""

    reads_inputs = False  # the user's ctx checks the tensors it saved (saved_tensors)

    @property
    def name(self) -> str:
        return self.fn.__name__

    def release(self) -> None:
        fn = self.fn
        super().release()
        self.fn = fn  # the name stays, for grad_fn's repr and the second-backward error

    def backward(self, dy):
        grads = self.fn.backward(self.ctx, dy)
        if not isinstance(grads, tuple):
            grads = (grads,)
        expected = len(self.arg_is_tensor)
        if len(grads) > expected and all(g is None for g in grads[expected:]):
            grads = grads[:expected]  # trailing Nones: allowed, as in torch
        if len(grads) != expected:
            raise RuntimeError(f"{self.name}.backward returned {len(grads)} gradient(s) but "
                               f"forward took {expected} argument(s): return one per "
                               "argument (None for those that need none)")
        kept = []
        for i, (g, is_tensor) in enumerate(zip(grads, self.arg_is_tensor, strict=True)):
            if is_tensor:
                kept.append(g)
            elif g is not None:
                raise RuntimeError(f"{self.name}.backward returned a gradient for argument {i}, "
                                   "which is not a tensor; return None there")
        return tuple(kept)


_CustomNode.shapes_tested = False  # a backward we have not read: its gradients are checked


def _torch_style_apply(cls, *args):
    """``Function.apply`` of a custom Function whose forward is a staticmethod (see
    FunctionCtx): forward on the Tensors without a graph, then one node for the whole call."""
    Tensor = _TENSOR or _tensor_class()
    name = cls.__name__
    ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
    with _Override(grad_enabled=False):
        if getattr(cls, "setup_context", None) is not None:
            out = cls.forward(*args)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args)
    if isinstance(out, (tuple, list)):
        raise NotImplementedError(f"{name}.forward returned {len(out)} outputs; a custom "
                                  "Function here returns one Tensor (split it into several)")
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}.forward must return a Tensor, got {type(out).__name__}")
    if out.requires_grad or any(out is a for a in args):  # an input, or a tensor with history
        out = Tensor._wrap(out.data, False)
    requires_grad = (True in ctx.needs_input_grad and Config.grad_enabled
                     and out.dtype.kind in "fc"
                     and not any(o is out for o in ctx.non_differentiable))
    if not requires_grad:
        return out
    if any(t is out for t in ctx.to_save):  # the output saved: held weakly, no cycle
        ctx._output_ref = weakref.ref(out)
        ctx.to_save = tuple(_SAVED_OUTPUT if t is out else t for t in ctx.to_save)
    node = _CustomNode()
    node.fn, node.ctx = cls, ctx
    node.arg_is_tensor = tuple(isinstance(a, Tensor) for a in args)
    node.inputs = tuple(a for a in args if isinstance(a, Tensor))
    node.needs_input_grad = tuple(t.requires_grad for t in node.inputs)
    node.inplace_ticks = InPlaceClock.ticks
    node.once_differentiable = getattr(cls.backward, "once_differentiable", False)
    out.requires_grad = True
    out._ctx = node
    return out


# ----------------------------------------------------------------------------------------------
# The graph walk
# ----------------------------------------------------------------------------------------------


def _topological_order(roots) -> list:
    """Every tensor that needs a gradient, reachable from ``roots``, parents before children.

    Iterative depth-first search (no recursion limit): ``stack`` is the path from a root down to
    the tensor being explored, each with an iterator over its parents (the inputs of the op
    that made it; none for a leaf) not yet looked at; a tensor joins ``order`` once all its
    parents have. Parents are visited in input order, so the order is the same on every run.
    """
    order: list = []
    visited: set = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(_parents(root._ctx)))]
        while stack:
            node, parents_left = stack[-1]
            for parent in parents_left:
                if parent.requires_grad and parent not in visited:
                    visited.add(parent)
                    ctx = parent._ctx
                    if ctx is not None and ctx.inplace_ticks != InPlaceClock.ticks:
                        parents = _parents(ctx)  # an in-place update since: as ctx saw them
                    else:
                        parents = ctx.inputs if ctx is not None else ()
                    stack.append((parent, iter(parents)))
                    break  # go down into this parent; node's other parents wait on the stack
            else:
                stack.pop()  # all parents of node are in order
                order.append(node)
    return order


def _parents(ctx) -> tuple:
    """The inputs of ``ctx``, each as it was when ``ctx``'s forward used it: a tensor updated in
    place inside the graph since then is replaced, for good, by its earlier version
    (``InPlaceClock.as_of``), which leads to the graph that computed what ``ctx`` saw."""
    if ctx is None:
        return ()
    if ctx.inplace_ticks != InPlaceClock.ticks and InPlaceClock.history:
        ctx.inputs = tuple(InPlaceClock.as_of(t, ctx.inplace_ticks) for t in ctx.inputs)
    return ctx.inputs


def _as_grad_tuple(ctx: Function, grads) -> tuple:
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(ctx.inputs):
        raise RuntimeError(
            f"{ctx.name}.backward returned {len(grads)} gradient(s) but the op has "
            f"{len(ctx.inputs)} tensor input(s)"
        )
    return grads


def run_backward(
    roots,
    root_grads,
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: tuple | None = None,
    accumulate: bool = False,
):
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``capture``, gradients are accumulated into ``.grad`` of leaf tensors (and of
    tensors that called ``retain_grad()``). With ``capture`` (a tuple of tensors), their
    gradients are returned instead and no ``.grad`` is touched (``tinygrad_edu.grad``); with
    ``accumulate`` too, they are added into the ``.grad`` of those tensors alone, and of the
    tensors that retain their grad on the way (``backward(inputs=...)``). Either way the walk
    runs only the backwards that lead to a captured tensor, as torch does: hooks elsewhere do
    not fire and the rest of the graph is not freed.

    Two kinds of walk share this loop. With ``create_graph``, or with study hooks watching,
    the pending gradients are Tensors and every backward runs as written, in Tensor ops (a
    graph is recorded; hooks see each op). Otherwise the walk is first order: the pending
    gradients are plain arrays, an op that says ``array_backward`` gets dy as the array itself
    (and runs its formulas on the arrays, with no graph node per step), and sums of
    contributions are array additions. Both compute the same numbers
    (tests/test_first_order_paths.py).
    """
    Tensor = _TENSOR or _tensor_class()

    hooks = Config.hooks
    anomaly = Config.anomaly
    plain = not create_graph and not hooks  # pending gradients are arrays, not Tensors
    order = _topological_order(roots)
    # tensor -> its gradient so far (array if plain, else Tensor). Tensors hash by identity
    # (object.__hash__), so they are the keys themselves: no id() call per lookup
    grads: dict = {}
    for root, g in zip(roots, root_grads):
        if plain:
            g = g.data
        grads[root] = grads[root] + g if root in grads else g
    captured = None
    if capture is not None:
        captured = dict.fromkeys(capture)
        order, through = _prune_to_captured(order, captured)

    # Without create_graph, a gradient summed from several consumers is a fresh array that only
    # this walk holds, so later contributions are added to it in place.
    owned: set = set()
    # the in-place fast path of slicing ops (Function.add_grad_into); anomaly mode sees every
    # backward as it is written
    scatter = plain and not anomaly
    # backwards that need more than a plain call (see _call_backward_guarded), and gradients
    # that get wrapped or checked on the way
    guarded = create_graph or anomaly

    # The gradient formulas at the edge of a domain (d sqrt(x) at 0, a sum of infinities) give
    # inf or nan silently, as torch's do: NumPy's warnings would point into this walk, not at
    # the user's code (tg.autograd.detect_anomaly finds where a nan appears)
    with _Override(grad_enabled=create_graph), np.errstate(divide="ignore", invalid="ignore",
                                                           over="ignore"):
        while order:
            # popping from the end visits outputs first, and the walk lets go of each tensor as
            # it reaches it: all its consumers are done, so once its ctx is released nothing
            # keeps its array alive (a training step's peak memory falls while the backward
            # runs, instead of holding every activation)
            node = order.pop()
            g = grads.pop(node, None)
            if g is None:
                continue  # no gradient reaches this node
            g_owned = node in owned
            if g_owned:
                owned.remove(node)  # let go of the node here too, as of its entry in grads
            if node._hooks:
                g = _call_tensor_hooks(node, g, plain)
            ctx = node._ctx
            if captured is not None:
                if node in captured:
                    captured[node] = Tensor._wrap(g, False) if plain else g
                elif accumulate and node._retains_grad:
                    _accumulate_grad(node, g, create_graph, owned=g_owned)
                if node not in through:
                    continue  # no captured tensor lies behind it
            elif ctx is None or node._retains_grad:
                _accumulate_grad(node, g, create_graph, owned=g_owned)
            if ctx is None:
                continue
            if ctx.freed:
                raise _second_backward_error(ctx.name)
            if ctx.inplace_ticks != InPlaceClock.ticks:  # something was updated in place
                ctx.check_versions()
            if InPlaceClock._rebased:  # in-place updates inside a graph: any through a view?
                InPlaceClock.check_aliases(ctx)
            if scatter and ctx.add_grad_into is not None:
                # a slice's gradient is zeros with dy where the slice was: add dy into the
                # input's pending gradient instead of building a zero array per slice, so
                # slicing a tensor into n pieces costs one gradient array, not n
                if ctx.needs_input_grad[0]:
                    ctx.add_grad_into(_writable_grad(grads, owned, ctx.inputs[0]), g)
                if not retain_graph:
                    ctx.release()
                continue
            if hooks:
                start = time.perf_counter()
                seen = []  # per input, for the hooks: (gradient, accumulated?)
            dy = Tensor._wrap(g, False) if plain and not ctx.array_backward else g
            if guarded and (anomaly or ctx.once_differentiable):
                input_grads = _call_backward_guarded(ctx, dy, create_graph, anomaly)
            else:
                input_grads = ctx.backward(dy)
            if type(input_grads) is not tuple or len(input_grads) != len(ctx.inputs):
                input_grads = _as_grad_tuple(ctx, input_grads)  # one input, or an error

            # chain rule: each input's gradient is the sum over every path through which it
            # reaches the output, so contributions from several consumers are added up
            check_shapes = anomaly or not ctx.shapes_tested
            fresh = ctx.fresh_grads and not create_graph  # its arrays: new, held by nothing else
            for inp, gi, needed in zip(ctx.inputs, input_grads, ctx.needs_input_grad):
                if gi is None or not needed:
                    if hooks:
                        seen.append((None, False))
                    continue
                own = False  # a new array that only this walk holds?
                if isinstance(gi, Tensor):
                    if plain:
                        gi = gi.data
                else:
                    own = fresh
                    if gi.__class__ is not np.ndarray and isinstance(gi, np.generic):
                        gi = _unscalar(gi)
                    if not plain:
                        gi = Tensor._wrap(gi, False)
                if check_shapes:  # an op defined outside the library (or anomaly mode)
                    gi = _checked_grad(ctx, gi, inp, plain)
                if guarded:
                    if create_graph and ctx.once_differentiable:
                        gi = _NotTwiceDifferentiable.apply(gi, *ctx.inputs, op_name=ctx.name)
                    if anomaly:
                        _check_finite(gi if plain else gi.data, f"backward of {ctx.name}", ctx,
                                      ctx.inputs)
                previous = grads.get(inp)
                if previous is None:
                    grads[inp] = gi
                    if own:
                        owned.add(inp)  # this walk's own array: no copy for .grad
                elif plain:
                    # arrays: only the first sum allocates, and that array belongs to this walk
                    # alone (owned), so later contributions are added to it in place. An array
                    # handed over by a backward is written to only if the op said it is new
                    # (fresh_grads): Add passes the same dy to both of its inputs.
                    if inp in owned and previous.dtype == gi.dtype:
                        previous += gi
                    else:
                        grads[inp] = _unscalar(previous + gi)
                        owned.add(inp)
                else:
                    grads[inp] = previous + gi  # a Tensor op: differentiable, seen by hooks
                if hooks:
                    seen.append((gi, previous is not None))
            if hooks:
                seconds = time.perf_counter() - start
                produced, accumulated = zip(*seen)
                ctx.accumulated_inputs = accumulated  # for tracers
                for hook in hooks:
                    on_backward = getattr(hook, "on_backward", None)
                    if on_backward is not None:
                        on_backward(ctx, g, produced, seconds)
            if not retain_graph:
                ctx.release()

    if captured is not None:
        if accumulate:  # backward(inputs=...)
            if any(g is None for g in captured.values()):  # unreached: a freed graph?
                freed = _freed_op_behind(roots)
                if freed is not None:
                    raise _second_backward_error(freed)
            for t, g in captured.items():
                if g is not None:
                    _accumulate_grad(t, g, create_graph)
            return None
        return tuple(captured[t] for t in capture)
    return None


def _second_backward_error(op: str) -> RuntimeError:
    """A backward reached ``op``, whose saved values an earlier backward freed."""
    return RuntimeError(
        f"backward through {op} a second time: its saved values were freed by the first "
        "backward. Pass retain_graph=True to the first backward() if you need to backward "
        "through the graph again."
    )


def _checked_grad(ctx: Function, gi, inp, plain: bool):
    """A gradient that ``ctx.backward`` returned for ``inp``: it must have inp's shape, and it
    takes inp's dtype (a float64 gradient of a float32 input is cast, as torch casts it)."""
    if not hasattr(gi, "shape"):
        raise TypeError(f"{ctx.name}.backward returned a {type(gi).__name__} for an input of "
                        f"shape {tuple(inp.shape)}; expected an array (or None)")
    if gi.shape != inp.data.shape:
        raise RuntimeError(
            f"{ctx.name}.backward returned a gradient of shape {tuple(gi.shape)} "
            f"for an input of shape {tuple(inp.shape)}"
        )
    if gi.dtype != inp.data.dtype and inp.data.dtype.kind in "fc":
        gi = gi.astype(inp.data.dtype) if plain else gi.to(dtype=inp.data.dtype)
    return gi


def _prune_to_captured(order: list, captured) -> tuple:
    """The part of the walk that reaches the ``captured`` tensors: ``through``, the tensors
    whose op's backward must run (an input is captured, or is in ``through`` itself), and
    ``order`` cut down to those and the captured tensors. ``order`` lists parents before
    children, so one pass over it decides."""
    through = set()
    for node in order:
        ctx = node._ctx
        if ctx is not None:
            for inp in ctx.inputs:
                if inp in captured or inp in through:
                    through.add(node)
                    break
    kept = [node for node in order if node in through or node in captured]
    return kept, through


def _call_tensor_hooks(node, g, plain: bool):
    """Run the hooks registered on ``node`` (``Tensor.register_hook``) on its gradient: each
    gets a Tensor and may return a replacement."""
    Tensor = _TENSOR or _tensor_class()

    if plain:
        g = Tensor._wrap(g, False)
    for hook in node._hooks:
        replaced = hook(g)
        if replaced is not None:
            _check_hook_result(hook, g, replaced)
            g = replaced
    return g.data if plain else g


def _check_hook_result(hook, g, replaced) -> None:
    """A hook may replace a gradient only with one of the same dtype, device and shape (torch's
    rule): anything else would reach ``.grad`` or the next backward as a silent cast, a broadcast
    or an array error far from the hook."""
    Tensor = _TENSOR or _tensor_class()

    name = getattr(hook, "__name__", repr(hook))
    if not isinstance(replaced, Tensor):
        raise TypeError(f"hook {name!r} returned a {type(replaced).__name__}; a tensor hook must "
                        f"return a Tensor (the new gradient, shape {tuple(g.shape)}) or None")
    if replaced.dtype != g.dtype or replaced.device != g.device:
        raise RuntimeError(
            f"hook {name!r} has changed the type of value (was {g.dtype} on {g.device} got "
            f"{replaced.dtype} on {replaced.device}); return a gradient of the same dtype and "
            f"device, e.g. with .to({g.dtype})"
        )
    if replaced.shape != g.shape:
        raise RuntimeError(
            f"hook {name!r} has changed the size of value (was {tuple(g.shape)} got "
            f"{tuple(replaced.shape)}); return a gradient of the tensor's shape"
        )


def _unscalar(array):
    """NumPy arithmetic on 0-d arrays returns scalars (np.float32(...)): turn one back into a
    0-d array, which can be written to in place."""
    return np.asarray(array) if isinstance(array, np.generic) else array


def _writable_grad(grads: dict, owned: set, inp):
    """The pending gradient array of ``inp``, one this walk may write to: zeros if nothing has
    arrived yet, an owned copy if what arrived was handed over by a backward."""
    previous = grads.get(inp)
    if previous is not None and inp in owned:
        return previous
    if previous is None:
        buffer = get_array_module(inp.data).zeros(inp.data.shape, dtype=inp.data.dtype)
    else:
        buffer = previous.copy()
    grads[inp] = buffer
    owned.add(inp)
    return buffer


def _call_backward_guarded(ctx: Function, g, create_graph: bool, anomaly: bool):
    """``ctx.backward(g)`` where the plain call is not enough: kernel-backed (once-differentiable)
    ops never record a graph, and in anomaly mode the ops inside a backward are not checked one
    by one: the gradients they produce are checked afterwards and reported as the backward of
    ``ctx``."""
    overrides = {}
    if create_graph and ctx.once_differentiable:
        overrides["grad_enabled"] = False
    if anomaly:
        overrides["anomaly"] = False
    with _Override(**overrides):
        return ctx.backward(g)


def _accumulate_grad(node, g, create_graph: bool, owned: bool = False) -> None:
    """node.grad += g. Without create_graph the stored gradient is a plain, owned array (the
    same gradient array may reach several leaves, e.g. both inputs of an add), so ``g`` is
    copied unless it belongs to this walk alone (``owned``: a sum of several contributions,
    or a new array from an op with ``fresh_grads``). A later backward adds into that array in
    place, like torch: a reference to ``node.grad`` held by the user stays valid and sees the
    sum. With create_graph (or a ``.grad`` that has a graph of its own) the sum is a new
    Tensor, as in torch."""
    Tensor = _TENSOR or _tensor_class()

    if create_graph:
        if node._grad is not None:
            node._grad = node._grad + g
        elif g.requires_grad:
            node._grad = g  # a graph node: later sums make new Tensors, never write into it
        else:  # copied, as in torch: g may reach another leaf too, or be a read-only view
            node._grad = Tensor._wrap(get_array_module(g.data).array(g.data, copy=True), False)
        return
    array = g.data if isinstance(g, Tensor) else g  # a Tensor while study hooks watch
    old = node._grad
    if old is None:
        if not owned or node._hooks:
            array = get_array_module(array).array(array, copy=True)
        node._grad = Tensor._wrap(array, False)
    elif (not old.requires_grad and old.data.dtype == array.dtype
          and old.data.shape == array.shape):
        try:
            old.data += array
        except ValueError:  # a read-only .grad the user assigned (an expanded view)
            node._grad = Tensor._wrap(old.data + array, False)
    else:
        node._grad = Tensor._wrap(old.data + array, False)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not stored in ``.grad``).

    Like ``torch.autograd.grad``: for outputs y_k and upstream gradients v_k (``grad_outputs``;
    None means 1 for a scalar output) it returns sum_k v_k^T dy_k/dx for every input x (a
    tensor, a sequence of them, or a dict of them: then a dict with the same keys comes back).
    With ``create_graph=True`` the returned gradients are part of a graph themselves, so they
    can be differentiated again (Hessian-vector products, gradient penalties). An input the
    outputs do not depend on is an error, None with ``allow_unused=True``, or zeros with
    ``materialize_grads=True``.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)  # 3 x^2
    >>> (h,) = tg.grad(g.sum(), x)                             # 6 x
    >>> h.tolist()
    [6.0, 12.0]
    """
    Tensor = _TENSOR or _tensor_class()

    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False")
    keys = None
    if isinstance(inputs, dict):  # torch 2.13: a dict of inputs gives a dict of gradients
        keys = tuple(inputs.keys())
        inputs = tuple(inputs.values())
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not inputs:
        raise RuntimeError("grad: the inputs argument cannot be empty; pass the tensors to "
                           "differentiate with respect to")
    for label, tensors in (("outputs", outputs), ("inputs", inputs)):
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"grad: {label}[{i}] must be a Tensor, got {type(t).__name__}")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    else:
        grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; "
                         "give one per output (None for a scalar output)")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad")
    root_grads = tuple(
        _initial_grad(out, g, "grad") for out, g in zip(outputs, grad_outputs)
    )
    for out in outputs:  # a freed op keeps no inputs: every input would look unused
        if out._ctx is not None and out._ctx.freed and not any(out is t for t in inputs):
            raise _freed_graph_error(out._ctx.name)
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, root_grads, retain_graph, create_graph, capture=inputs)
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                # a retained graph may still show an op freed by an earlier call on the way
                freed = _freed_op_behind(outputs) if retain_graph else None
                if freed is not None:
                    raise _freed_graph_error(freed)
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to "
                    "compute the outputs; pass allow_unused=True to get None for it (or "
                    "materialize_grads=True to get zeros)"
                )
    if materialize_grads:
        result = tuple(
            g if g is not None
            else Tensor._wrap(get_array_module(t.data).zeros_like(t.data), create_graph)
            for g, t in zip(result, inputs)
        )
    if keys is not None:
        return dict(zip(keys, result))
    return result


def _freed_graph_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"grad: trying to backward through the graph a second time: {op}, on the way from the "
        "outputs, had its saved values freed by an earlier backward() or grad(). Pass "
        "retain_graph=True to the first call if you need to backward through the graph again."
    )


def _freed_op_behind(outputs) -> str | None:
    """The name of an op of the graph behind ``outputs`` that a backward has freed, or None
    (what lay behind it is cut off: a freed op keeps no inputs)."""
    seen = set()
    stack = [out._ctx for out in outputs if out._ctx is not None]
    while stack:
        ctx = stack.pop()
        if ctx in seen:
            continue
        seen.add(ctx)
        if ctx.freed:
            return ctx.name
        stack.extend(t._ctx for t in ctx.inputs if t._ctx is not None)
    return None


def _initial_grad(out, gradient, op: str):
    """The seed gradient for ``out``: ones for a scalar, else the user's ``gradient``, which
    must have ``out``'s shape and is cast to its dtype, like torch (a float64 or int seed for
    a float32 output still gives float32 gradients)."""
    Tensor = _TENSOR or _tensor_class()

    if not out.requires_grad:
        raise RuntimeError(
            f"{op}: tensor of shape {tuple(out.shape)} does not require grad and has no grad_fn "
            "(did you create it under no_grad, or forget requires_grad=True on the inputs?)"
        )
    if gradient is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"{op}: grad can be implicitly created only for scalar outputs, but the output "
                f"has shape {tuple(out.shape)}; pass gradient= (same shape as the output)"
            )
        xp = get_array_module(out.data)
        return Tensor._wrap(xp.ones_like(out.data), False)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=out.dtype, device=out.device)
    if gradient.shape != out.shape:
        raise RuntimeError(
            f"{op}: mismatch in shape: gradient has shape {tuple(gradient.shape)} but the "
            f"output has shape {tuple(out.shape)}; pass a gradient of the output's shape"
        )
    if gradient.dtype != out.dtype:
        gradient = gradient.to(dtype=out.dtype)  # differentiable: a seed may require grad
    return gradient


def __getattr__(name: str):
    """``tg.autograd.functional`` (jacobian, hessian, vjp, jvp, vhp, hvp), imported on first
    use: it is built on Tensor, whose module imports this one."""
    if name == "functional":
        from . import autograd_functional

        return autograd_functional
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
