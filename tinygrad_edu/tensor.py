"""``Tensor``: an array (NumPy or CuPy) plus what autograd needs to differentiate through it.

Operators and methods are ordinary methods that call the differentiable ops in
``tinygrad_edu.functional``; jump to an op's ``Function`` class to read its forward and backward.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import numbers
import sys
import warnings
import weakref
from collections.abc import Sequence

import numpy as np

from . import backend
from .autograd import Config, InPlaceClock, _initial_grad, _memory_owner, run_backward
from .autograd import no_grad as _no_grad
from .backend import Device, as_device, device_of, get_array_module

# dtype aliases, so user code reads like torch: tg.float32, tg.int64, ...
float16 = half = np.dtype("float16")
float32 = float_ = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")


def _as_dtype(dtype) -> np.dtype | None:
    if dtype is None:
        return None
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: cannot interpret {dtype!r} as a dtype") from None


_PYTHON_NUMBERS = frozenset((bool, int, float, complex))


def _python_data_dtype(data) -> np.dtype | None:
    """The dtype torch infers for a Python number or nested list: each Python bool, int, float
    or complex counts as bool, int64, the default float or its complex twin, each NumPy scalar,
    array or Tensor inside as its own dtype, promoted as torch promotes (float16 + int stays
    float16). So ``[np.float64(1), 2.0]`` is float64, where NumPy alone would infer float64 for
    ``[1.0]`` too. None for data that is neither (NumPy then decides, or refuses)."""
    default = np.dtype(Config.default_dtype)
    python = {bool: bool_, int: int64, float: default,
              complex: np.dtype(np.complex128 if default == float64 else np.complex64)}
    kinds, dtypes, stack = set(), set(), [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple, range)):
            types = set(map(type, item))  # one pass in C: a row of Python numbers stops here
            if types <= _PYTHON_NUMBERS:
                kinds |= types
            else:
                stack.extend(item)
        elif type(item) in _PYTHON_NUMBERS:
            kinds.add(type(item))
        elif hasattr(item, "dtype") or hasattr(item, "__array__"):
            dtypes.add(np.asarray(item).dtype if not isinstance(item, Tensor) else item.dtype)
        else:
            return None
    from .functional.elementwise import _promoted_dtype

    result = None
    for dtype in [python[k] for k in kinds] + list(dtypes):
        if dtype.kind not in "biufc":
            return None
        result = dtype if result is None else _promoted_dtype(result, dtype)
    return default if result is None else result


class Tensor:
    """A multi-dimensional array that can record how it was computed.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()          # y = sum x_ij^2
    >>> y.backward()               # dy/dx = 2 x
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    __slots__ = ("data", "_grad", "requires_grad", "_ctx", "_hooks", "_retains_grad", "_version",
                 "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        dtype = _as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.data
        if device is None:
            xp = get_array_module(data)
        else:
            xp = backend.array_module_for(as_device(device))
        from_python = not hasattr(data, "dtype")
        if dtype is None and from_python:
            dtype = _python_data_dtype(data)
        if device is not None:
            data = backend.to_device(data, device)
        try:
            array = xp.asarray(data, dtype=dtype)
        except OverflowError as error:  # NumPy 2 refuses a Python int out of the dtype's range
            raise RuntimeError(f"tensor: a value can't be converted to dtype {dtype} without "
                               f"overflow ({error})") from None
        except ValueError as error:
            if "cannot convert float" in str(error):  # nan or inf into an integer dtype
                raise RuntimeError(f"tensor: a value can't be converted to dtype {dtype} "
                                   f"({error})") from None
            if "inhomogeneous" not in str(error):
                raise
            raise ValueError(f"tensor: expected a rectangular nested list (every row of the "
                             f"same length), got a ragged one ({error})") from None
        if array.dtype.kind not in "biufc":
            raise TypeError(f"tensor: expected numbers (bool, int, float, complex), nested lists "
                            f"of them or a numeric array, got data of dtype {array.dtype}")
        self.data = array
        self._grad: Tensor | None = None
        self._ctx = None
        self._hooks: tuple = ()
        self._retains_grad = False
        self._version = 0  # InPlaceClock reading at the last in-place update (autograd checks it)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> Tensor:
        """Fast internal constructor: wrap an array that is already the right type."""
        t = object.__new__(cls)
        if array.__class__ is not np.ndarray and (
            isinstance(array, np.generic) or not hasattr(array, "ndim")
        ):
            array = np.asarray(array)  # NumPy returns scalars for 0-d results
        t.data = array
        t._grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._hooks = ()
        t._retains_grad = False
        t._version = 0
        return t

    # ------------------------------------------------------------------------------------------
    # Attributes
    # ------------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> Device:
        return device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise RuntimeError(f"mT: expected a matrix or a batch of matrices, got a "
                               f"{self.ndim}-D tensor (shape {tuple(self.shape)})")
        return self.transpose(-2, -1)

    @property
    def H(self) -> Tensor:
        """The conjugate transpose of a matrix (the transpose, for real dtypes)."""
        if self.ndim not in (0, 2):
            raise RuntimeError(f"H: expected a matrix or a 0-d tensor, got a {self.ndim}-D "
                               f"tensor (shape {tuple(self.shape)}); use mH for a batch")
        return self._conj_if_complex(self.T)

    @property
    def mH(self) -> Tensor:
        """The conjugate transpose of the last two dimensions (mT, for real dtypes)."""
        return self._conj_if_complex(self.mT)

    @staticmethod
    def _conj_if_complex(t: Tensor) -> Tensor:
        if t.dtype.kind != "c":
            return t
        return Tensor._wrap(t.data.conj(), False)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def nelement(self) -> int:
        return int(self.data.size)

    def ndimension(self) -> int:
        return self.ndim

    def stride(self, dim: int | None = None):
        """Strides in elements (not bytes), as torch: a step of 1 along dim d moves
        stride()[d] elements in memory."""
        strides = tuple(s // self.data.itemsize for s in self.data.strides)
        return strides if dim is None else strides[dim]

    def is_contiguous(self) -> bool:
        return bool(self.data.flags["C_CONTIGUOUS"])

    def element_size(self) -> int:
        return int(self.data.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self.data.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __contains__(self, element) -> bool:
        """``element in t``: does any element of t equal it (torch: ``(t == element).any()``)?"""
        if not isinstance(element, (Tensor, numbers.Number)):
            raise RuntimeError(f"contains: expected a Tensor or a number, got "
                               f"{type(element).__name__}")
        return bool((self == element).any())

    def __iter__(self):
        """Iterate over the first dimension (each item is differentiable, like ``x[i]``)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(F.unbind(self, 0))

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    # ------------------------------------------------------------------------------------------
    # Conversions and device moves
    # ------------------------------------------------------------------------------------------

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU if needed). Refuses if grad is on,
        unless ``force`` (then it is the detached data, as torch's ``numpy(force=True)``)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy()"
            )
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        """NumPy's protocol: ``np.asarray(t)`` shares t's memory (on the CPU), ``np.array(t)``
        (copy=True) gets its own copy, as with torch."""
        array = backend.to_numpy(self.data)
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        if self.data.size != 1:
            raise ValueError(
                f"item: only a tensor with one element can be converted to a Python scalar, "
                f"got shape {tuple(self.shape)}"
            )
        return backend.to_numpy(self.data).reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor with {self.data.size} elements is "
                "ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def to(self, *args, dtype=None, device=None, non_blocking: bool = False,
           copy: bool = False) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)`` (its
        device and dtype); differentiable. ``non_blocking`` is accepted for torch code and
        ignored; ``copy=True`` returns a new tensor even when nothing changes."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (str, Device)):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None and as_device(device) != self.device:
            from .functional.shape import to_device

            out = to_device(out, as_device(device))
        if dtype is not None and _as_dtype(dtype) != self.dtype:
            from .functional.elementwise import cast

            out = cast(out, _as_dtype(dtype))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: int | str | None = None) -> Tensor:
        if isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device or "cuda")

    def type(self, dtype) -> Tensor:
        return self.to(dtype=dtype)

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype=float64)

    def half(self) -> Tensor:
        return self.to(dtype=float16)

    def long(self) -> Tensor:
        return self.to(dtype=int64)

    def int(self) -> Tensor:
        return self.to(dtype=int32)

    def bool(self) -> Tensor:
        return self.to(dtype=bool_)

    def short(self) -> Tensor:
        return self.to(dtype=int16)

    def char(self) -> Tensor:
        return self.to(dtype=int8)

    def byte(self) -> Tensor:
        return self.to(dtype=uint8)

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory, like torch)."""
        return Tensor._wrap(self.data, False)

    def detach_(self) -> Tensor:
        """Cut this tensor itself off from the graph: it becomes a leaf that does not require
        grad (torch's ``detach_``). A view made by an op of the graph (a slice, reshape,
        transpose of a tensor that requires grad) is refused, as in torch: it shares memory
        with its base, so ``detach()`` it instead.

        Unlike torch, a view of a tensor that does not require grad (``x.detach()[0]``) is
        accepted: this library records views only through the graph."""
        ctx = self._ctx
        if ctx is not None:
            owner = _memory_owner(self.data)
            if any(_memory_owner(t.data) is owner for t in ctx.inputs):
                raise RuntimeError(
                    f"detach_: can't detach views in-place (this tensor, shape "
                    f"{tuple(self.shape)}, is a view made by {ctx.name}); use detach() instead"
                )
        self._ctx = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        from .functional.elementwise import clone

        return clone(self)

    def contiguous(self) -> Tensor:
        """Self if its data is C-contiguous, else a contiguous copy (differentiable, as torch)."""
        if self.is_contiguous():
            return self
        return self.clone()  # Clone copies in C order

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(dtype=other.dtype, device=other.device)

    # new_*: a new tensor with self's dtype and device unless given (torch)
    def _new_options(self, dtype, device) -> dict:
        return {"dtype": self.dtype if dtype is None else dtype,
                "device": self.device if device is None else device}

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return zeros(*size, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return ones(*size, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
        return full(size, fill_value, **self._new_options(dtype, device),
                    requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        return tensor(data, **self._new_options(dtype, device), requires_grad=requires_grad)

    # ------------------------------------------------------------------------------------------
    # Autograd
    # ------------------------------------------------------------------------------------------

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind not in "fc":
            raise DtypeCannotRequireGrad(
                f"requires_grad: only floating point tensors can require gradients, "
                f"got dtype {self.dtype} (shape {tuple(self.shape)})"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; use "
                ".detach() for a non-leaf"
            )
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False,
                 inputs=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is the upstream gradient (needed when ``self`` is not a scalar). The graph
        is freed afterwards unless ``retain_graph=True``; ``create_graph=True`` records the
        backward pass so the gradients can be differentiated again. ``inputs`` (a tensor or a
        sequence of them, leaves or not) accumulates into the ``.grad`` of those tensors only,
        like torch: other leaves keep their ``.grad``, and only the part of the graph that
        leads to ``inputs`` is walked (and freed).

        >>> a, b = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
        >>> (a * b).sum().backward(inputs=[a])
        >>> a.grad.tolist(), b.grad
        ([2.0], None)
        """
        seed = _initial_grad(self, gradient, "backward")
        if inputs is None:
            run_backward((self,), (seed,), retain_graph or create_graph, create_graph)
            return
        inputs = _backward_inputs(inputs)
        run_backward((self,), (seed,), retain_graph or create_graph, create_graph,
                     capture=inputs, accumulate=True)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")

        @functools.wraps(hook)
        def registration(grad):  # one per registration: a handle removes its own, as torch
            return hook(grad)

        self._hooks = self._hooks + (registration,)
        tensor = self

        class _Handle:
            def remove(self):
                tensor._hooks = tuple(h for h in tensor._hooks if h is not registration)

        return _Handle()

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (a leaf keeps it anyway: no-op,
        as in torch)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has "
                               "requires_grad=False")
        if self._ctx is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        """Did ``retain_grad()`` ask this non-leaf tensor to keep its ``.grad``? (False for
        leaves, which keep it anyway.)"""
        return self._retains_grad

    def __deepcopy__(self, memo) -> Tensor:
        """``copy.deepcopy``: a new leaf with copies of the data and ``.grad`` and the same
        ``requires_grad`` (and class: a Parameter stays a Parameter), like torch. Refused for a
        tensor made by a recorded op, as in torch: copying it would copy the graph behind it,
        whose copied leaves would then receive the gradients of backward instead of the real
        ones. Copy ``t.detach()`` (the data) or the leaves instead."""
        if self._ctx is not None:
            raise RuntimeError(
                "deepcopy: only tensors created explicitly by the user (graph leaves) support "
                f"the deepcopy protocol; this tensor (shape {tuple(self.shape)}) was made by "
                f"{self._ctx.name}. Deep-copy t.detach() to copy its data."
            )
        cls = type(self)
        new = cls._wrap(copy.deepcopy(self.data, memo), self.requires_grad)
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = copy.deepcopy(self._grad, memo)
        if hasattr(self, "__dict__"):  # a subclass without __slots__: its own attributes
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def zero_grad(self) -> None:
        self._grad = None

    @property
    def grad(self) -> Tensor | None:
        """dL/d(self), written by ``backward`` into leaves that require grad (and tensors that
        called ``retain_grad()``). Read on any other tensor it is None, with torch's warning:
        the classic mistake of asking an intermediate result for its gradient."""
        if self._grad is None and self._ctx is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on "
                "the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
                "you access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        self._grad = value

    # ------------------------------------------------------------------------------------------
    # In-place updates: outside the graph (initializers, optimizers) or recorded in it
    # ------------------------------------------------------------------------------------------

    def _check_inplace(self, op: str, *values) -> bool:
        """Must this in-place update of ``self`` (with ``values``) be recorded in the graph?
        Yes when grad is enabled and ``self`` or a value requires grad (``_update_in_graph``);
        otherwise the caller writes the memory and counts the update (``InPlaceClock.stamp``,
        after the write: a refused update changed nothing), so that a graph that saved this
        tensor before refuses to backward through it instead of using the new values.

        Refused, as in torch: a leaf that requires grad (what its .grad would be the gradient
        of no longer exists), and a view of one. A view made by indexing, reshaping or
        permuting is updated through its base (``_viewed``); other views (``expand``) are
        refused here."""
        if not Config.grad_enabled or not (self.requires_grad or any(
                isinstance(v, Tensor) and v.requires_grad for v in values)):
            return False
        if self._ctx is None and self.requires_grad:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {tuple(self.shape)}) can't be "
                "modified in place while grad is enabled, nor can a view of it; wrap the update "
                "in tinygrad_edu.no_grad() or change .data"
            )
        viewed = self._viewed(op)
        if viewed is not None:
            viewed[0]._check_inplace(op)  # the base is updated too: the same rules hold for it
        return True

    def _viewed(self, op: str):
        """``(base, view_op)`` when ``self`` is a view of ``base`` made inside the graph by
        indexing (``base[index]``), reshaping (``view``, ``flatten``, ``squeeze``, ...) or
        permuting (``t()``, ``transpose``, ``permute``): an in-place update of ``self`` is then an
        update of base's memory and must be one of base's history too (``_through_view``).
        None when self's memory is its own (or a part of a buffer that the op which made it
        allocated). Other views (``expand``, views made outside the graph) are refused."""
        from .functional.shape import GetItem, Permute, Reshape

        owner = _memory_owner(self.data)
        if owner is self.data:
            return None
        ctx = self._ctx
        # (an update recorded before (+=) has self's earlier version, the same memory, as an
        # input: that is no view; a view made otherwise was refused at that update already)
        if ctx is not None and not any(_memory_owner(t.data) is owner for t in ctx.inputs
                                       if not _is_earlier_version_of(t, self)):
            return None
        if isinstance(ctx, (GetItem, Reshape, Permute)):
            base = ctx.inputs[0]
            if isinstance(base, _EarlierVersion):  # resolved by a graph walk since
                base = base.current()
            if base is not None:
                return base, ctx
        how = (f"made by {ctx.name}" if ctx is not None
               else "made outside the graph (of a tensor that does not require grad)")
        raise RuntimeError(
            f"{op}: this tensor (shape {tuple(self.shape)}) is a view {how} of another tensor's "
            "memory, and an in-place update of it can't be recorded in the graph here (the "
            "tensor it views would miss it in its gradient; only views made by indexing, "
            "reshaping or permuting can). Update a clone(), or write into the base tensor: "
            "x[index] = x[index] + value"
        )

    def _update_in_graph(self, update, *values, keep_old: bool = False,
                         op: str | None = None) -> Tensor:
        """``self = update(self, *values)``, recorded in the graph, with the result written
        into self's own memory, as torch's in-place ops do (through the base for a view).

        The op runs out of place on an earlier version of ``self``: a stand-in with self's
        history (``_EarlierVersion``). ``self`` then takes the op as its history, and the ops
        that used ``self`` before the update send their gradients to the earlier version (the
        graph walk asks ``InPlaceClock.as_of``). ``keep_old``: the op's backward reads the old
        values, which the write overwrites, so it runs on a clone of the earlier version. (The
        earlier version itself keeps sharing self's memory: an op that saved self's values
        before the update is then refused, by the version check, instead of reading new ones.)"""
        earlier = _EarlierVersion._wrap(self.data, self.requires_grad)
        earlier._ctx, earlier._version = self._ctx, self._version
        earlier.current = weakref.ref(self)  # weak: the history of self keeps earlier alive
        source = F.clone(earlier) if keep_old else earlier
        made_by = self._ctx
        if keep_old and made_by is not None and "_output_ref" in made_by.__dict__:
            # the op that made self reads its output in its backward (sigmoid, a norm): the
            # copy holds that output, which the write below overwrites in self. A strong
            # reference: the walk lets go of the copy before it reaches that op (a cycle
            # through the copy's history, which the op's release() after its backward breaks)
            made_by._output_ref = _StrongRef(source)
            made_by.output_ticks = InPlaceClock.ticks
        values = tuple(source if v is self else v for v in values)  # x += x
        result = update(source, *values)
        if op is not None:
            self._check_result(op, result)
        if not result.requires_grad:  # a comparison: the values change, the gradient is zero
            result = _everywhere(result, source)
        if result.dtype != self.dtype:  # in place, the dtype stays (torch)
            result = F.cast(result, self.dtype)
        viewed = self._viewed("")
        if viewed is None:
            self.data[...] = result.data
            InPlaceClock.stamp(self)
            InPlaceClock.record_rebase(self, earlier)
        else:  # a view of base: base takes the update, and self is the same view of it anew
            base, view_op = viewed
            write_back, view_again = _through_view(view_op, tuple(self.shape))
            base._update_in_graph(write_back, result)
            result = view_again(base)
            self._version = InPlaceClock.ticks  # the memory was written (and counted) by base
            InPlaceClock.record_rebase(self, earlier, wrote_memory=False)
        ctx = result._ctx
        self._ctx, self.requires_grad = ctx, result.requires_grad
        # the ops that used self before the update reach its earlier version through
        # InPlaceClock.as_of, which holds it weakly: the update's op keeps it (and the graph
        # behind it) alive as long as its own graph lives, also where its result does not read
        # the old values (fill_, copy_, a reshaped view written back)
        ctx.replaced = earlier
        if "_output_ref" in ctx.__dict__:  # a backward that reads the output reads self
            ctx._output_ref = weakref.ref(self)
            ctx.output_ticks = InPlaceClock.ticks
        return self

    def _apply_in_place(self, op: str, fn, args: tuple, kwargs: dict) -> Tensor:
        """``self = fn(self, *args)`` in place, for torch's in-place twins of the value ops
        (``x.sigmoid_()``): recorded in the graph when it must be (on a copy of the old
        values, which the op's backward may read), else computed with no graph and written
        into self's memory. The result keeps self's shape and dtype, as in torch."""
        if self._check_inplace(op, *args, *kwargs.values()):
            return self._update_in_graph(fn, *args, keep_old=True, op=op)
        with _no_grad():
            result = fn(self, *args)
        self._check_result(op, result)
        self.data[...] = result.data
        InPlaceClock.stamp(self)
        return self

    def _check_result(self, op: str, result: Tensor) -> None:
        """An in-place op's result must fit in ``self``: the same shape, and a dtype of no
        higher category (``int_tensor.sqrt_()`` would truncate: refused, as in torch)."""
        from .functional.elementwise import _CATEGORY

        if result.shape != self.shape:
            raise RuntimeError(
                f"{op}: the result has shape {tuple(result.shape)}, but the tensor updated in "
                f"place has shape {tuple(self.shape)} (an in-place op can't change the shape)"
            )
        if _CATEGORY[result.dtype.kind] > _CATEGORY[self.dtype.kind]:
            raise RuntimeError(
                f"{op}: result type {result.dtype} can't be cast to the desired output type "
                f"{self.dtype} of the tensor updated in place (shape {tuple(self.shape)})"
            )

    def _as_array(self, value, op: str = "in-place update", exact: bool = False):
        """``value`` as an array for an in-place update of ``self``.

        With ``exact`` (add_, sub_, mul_, div_, +=, ...) a value whose dtype is of a higher
        category than ``self`` is refused, like torch: ``int_tensor += 0.5`` would silently
        truncate. Assignments (setitem, fill_) convert, as in torch."""
        if isinstance(value, Tensor):
            value = value.data
        xp = get_array_module(self.data)
        if np.isscalar(value):
            from .functional.elementwise import _python_scalar_dtype, constant

            value_dtype = _python_scalar_dtype(op, value)
            array = constant(xp, value, self.dtype)
        else:
            array = xp.asarray(backend.to_device(value, self.device))
            value_dtype = array.dtype
        if exact:
            from .functional.elementwise import _CATEGORY

            if _CATEGORY[value_dtype.kind] > _CATEGORY[self.dtype.kind]:
                raise RuntimeError(
                    f"{op}: result type {value_dtype} can't be cast to the desired output type "
                    f"{self.dtype} of the tensor updated in place (shape {tuple(self.shape)})"
                )
        return array

    def _check_fits(self, op: str, array) -> None:
        """Refuse a value that does not broadcast to ``self``'s shape: an in-place update can't
        change the shape, as in torch (``x.add_(ones(2, 3))`` for x of shape (3,))."""
        if array.ndim and array.shape != self.shape and not _fits(array.shape, self.shape):
            raise RuntimeError(
                f"{op}: a value of shape {tuple(array.shape)} can't be broadcast to the shape "
                f"{tuple(self.shape)} of the tensor updated in place (an in-place update can't "
                "change the tensor's shape)"
            )

    def _operand(self, op: str, other, alpha=1):
        """``alpha * other`` as an array to combine with ``self`` in place (add_, sub_, mul_,
        div_), checked like torch: its type must fit ``self``'s dtype (``_as_array``), so must
        alpha's (an int tensor takes no alpha=2.5), and it must broadcast to ``self``'s shape."""
        array = self._as_array(other, op, exact=True)
        if alpha.__class__ is not int or alpha != 1:
            if self.dtype.kind in "biu" and not isinstance(alpha, numbers.Integral):
                raise RuntimeError(
                    f"{op}: result type {type(alpha).__name__} (alpha={alpha!r}) can't be cast "
                    f"to the desired output type {self.dtype} of the tensor updated in place "
                    f"(shape {tuple(self.shape)}); integer and bool tensors need an integer alpha"
                )
            if isinstance(alpha, (bool, np.bool_)) and self.dtype.kind != "b":
                raise RuntimeError(
                    f"{op}: a bool alpha ({alpha}) is only allowed for bool tensors, got a tensor "
                    f"of dtype {self.dtype}"
                )
            array = alpha * array
        self._check_fits(op, array)
        if self.dtype.kind in "biu" and array.dtype != self.dtype:
            # the categories were checked: integers wrap (and bools saturate) as in torch, where
            # NumPy's same_kind rule would refuse int64 into uint8 or into bool
            array = array.astype(self.dtype)
        return array

    def _graph_value(self, value, array, alpha=1) -> Tensor:
        """The value of an in-place update recorded in the graph: the Tensor itself (its
        gradient is wanted), times ``alpha``, else the checked ``array`` made from it (which
        ``_operand`` has already multiplied by alpha)."""
        if isinstance(value, Tensor):
            return value if alpha == 1 else value * alpha
        return Tensor._wrap(array)

    def __setitem__(self, index, value) -> None:
        from .functional.shape import _normalize_index, index_put

        index = _normalize_index(index)
        array = self._as_array(value, "setitem")
        if self._check_inplace("setitem", value):
            value = self._graph_value(value, array)
            self._update_in_graph(lambda x, v: index_put(x, index, F.cast(v, x.dtype)), value)
            return
        try:
            self.data[index] = array
        except ValueError:
            target = self.data[index].shape
            if _fits(array.shape, target):
                raise  # not a shape mismatch
            raise RuntimeError(
                f"setitem: a value of shape {tuple(array.shape)} can't be broadcast to the shape "
                f"{tuple(target)} of the indexed part of the tensor (shape {tuple(self.shape)})"
            ) from None
        InPlaceClock.stamp(self)

    def _overwrite(self, op: str, value, array) -> Tensor:
        """``self`` becomes ``value`` (broadcast) everywhere: in the graph, the old values get
        no gradient and a value that requires grad gets the sum over the positions it fills."""
        if self._check_inplace(op, value):
            return self._update_in_graph(lambda x, v: _everywhere(F.cast(v, x.dtype), x),
                                         self._graph_value(value, array))
        self.data[...] = array
        InPlaceClock.stamp(self)
        return self

    def zero_(self) -> Tensor:
        return self._overwrite("zero_", 0, self._as_array(0, "zero_"))

    def fill_(self, value) -> Tensor:
        array = self._as_array(value, "fill_")
        if array.ndim:
            raise RuntimeError(
                f"fill_: expected a number or a 0-d tensor, got a value of shape "
                f"{tuple(array.shape)}; use copy_ to copy a tensor's values"
            )
        return self._overwrite("fill_", value, array)

    def copy_(self, src) -> Tensor:
        """Copy ``src`` into this tensor, broadcast to its shape and converted to its dtype."""
        array = self._as_array(src, "copy_")
        self._check_fits("copy_", array)
        return self._overwrite("copy_", src, array)

    def add_(self, other, alpha=1) -> Tensor:
        array = self._operand("add_", other, alpha)
        if self._check_inplace("add_", other):
            return self._update_in_graph(F.add, self._graph_value(other, array, alpha))
        self.data += array
        InPlaceClock.stamp(self)
        return self

    def sub_(self, other, alpha=1) -> Tensor:
        if self.dtype.kind == "b":
            raise RuntimeError(
                "sub_: subtraction of bool tensors is not supported (as in torch); use ^ "
                "(logical_xor) instead"
            )
        array = self._operand("sub_", other, alpha)
        if self._check_inplace("sub_", other):
            return self._update_in_graph(F.sub, self._graph_value(other, array, alpha))
        self.data -= array
        InPlaceClock.stamp(self)
        return self

    def mul_(self, other) -> Tensor:
        array = self._operand("mul_", other)
        if self._check_inplace("mul_", other):
            return self._update_in_graph(F.mul, self._graph_value(other, array), keep_old=True)
        self.data *= array
        InPlaceClock.stamp(self)
        return self

    def __iadd__(self, other) -> Tensor:  # x += y updates x in place, as in torch
        return self.add_(other)

    def __isub__(self, other) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other) -> Tensor:
        return self.mul_(other)

    def div_(self, other) -> Tensor:
        return self.__itruediv__(other)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - torch names
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        lo = None if min is None else self._operand("clamp_", min)
        hi = None if max is None else self._operand("clamp_", max)
        if self._check_inplace("clamp_", min, max):
            return self._update_in_graph(
                lambda x: F.clamp(x, None if lo is None else self._graph_value(min, lo),
                                  None if hi is None else self._graph_value(max, hi)),
                keep_old=True)
        xp = get_array_module(self.data)
        if lo is not None:
            xp.maximum(self.data, lo, out=self.data)
        if hi is not None:
            xp.minimum(self.data, hi, out=self.data)
        InPlaceClock.stamp(self)
        return self

    def masked_fill_(self, mask, value) -> Tensor:
        xp = get_array_module(self.data)
        mask = xp.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill_: mask must be a bool tensor, got dtype {mask.dtype}")
        if not _fits(mask.shape, self.shape):
            raise RuntimeError(
                f"masked_fill_: mask of shape {tuple(mask.shape)} does not broadcast to the "
                f"shape {tuple(self.shape)} of the tensor updated in place"
            )
        array = self._as_array(value, "masked_fill_")
        if array.ndim:
            raise RuntimeError(
                f"masked_fill_: value must be a number or a 0-d tensor, got shape "
                f"{tuple(array.shape)}"
            )
        if self._check_inplace("masked_fill_", value):
            return self._update_in_graph(
                lambda x, v: F.masked_fill(x, mask, v), self._graph_value(value, array))
        xp.copyto(self.data, array.astype(self.dtype), where=mask)
        InPlaceClock.stamp(self)
        return self

    def exp_(self) -> Tensor:
        if self.dtype.kind != "f":
            raise RuntimeError(f"exp_: needs a floating-point tensor, got dtype {self.dtype}")
        if self._check_inplace("exp_"):
            return self._update_in_graph(F.exp)
        get_array_module(self.data).exp(self.data, out=self.data)
        InPlaceClock.stamp(self)
        return self

    def __itruediv__(self, other) -> Tensor:
        if self.dtype.kind != "f":
            raise RuntimeError(
                f"div_: true division gives floats, which can't be stored in place in a tensor "
                f"of dtype {self.dtype}; use x = x / y"
            )
        array = self._operand("div_", other)
        if self._check_inplace("div_", other):
            return self._update_in_graph(F.div, self._graph_value(other, array), keep_old=True)
        self.data /= array
        InPlaceClock.stamp(self)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        return self._overwrite("uniform_", None, _random_array(
            "uniform", self.shape, self.dtype, self.device, a, b,
            generator=_caller_generator("uniform_", generator)))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        return self._overwrite("normal_", None, _random_array(
            "normal", self.shape, self.dtype, self.device, mean, std,
            generator=_caller_generator("normal_", generator)))

    # ------------------------------------------------------------------------------------------
    # Operators and math: each calls its op in tinygrad_edu.functional (F)
    # ------------------------------------------------------------------------------------------

    def __add__(self, other): return F.add(self, other)
    def __radd__(self, other): return F.add(other, self)
    def __sub__(self, other): return F.sub(self, other)
    def __rsub__(self, other): return F.sub(other, self)
    def __mul__(self, other): return F.mul(self, other)
    def __rmul__(self, other): return F.mul(other, self)
    def __truediv__(self, other): return F.div(self, other)
    def __rtruediv__(self, other): return F.div(other, self)
    def __floordiv__(self, other): return F.floor_divide(self, other)
    def __rfloordiv__(self, other): return F.floor_divide(other, self)
    def __mod__(self, other): return F.remainder(self, other)
    def __rmod__(self, other): return F.remainder(other, self)
    def __pow__(self, exponent): return F.pow(self, exponent)
    def __rpow__(self, base): return F.pow(F.elementwise._scalar_tensor(base, self)
                                           if not isinstance(base, Tensor) else base, self)
    def __matmul__(self, other): return F.matmul(self, other)
    def __rmatmul__(self, other): return F.matmul(other, self)
    def __neg__(self): return F.neg(self)
    def __pos__(self): return self
    def __abs__(self): return F.abs(self)
    def __eq__(self, other):  # type: ignore[override]
        return F.eq(self, other) if _comparable(other) else NotImplemented
    def __ne__(self, other):  # type: ignore[override]
        return F.ne(self, other) if _comparable(other) else NotImplemented
    def __lt__(self, other): return F.lt(self, other)
    def __le__(self, other): return F.le(self, other)
    def __gt__(self, other): return F.gt(self, other)
    def __ge__(self, other): return F.ge(self, other)
    def __invert__(self): return F.bitwise_not(self)
    def __and__(self, other): return F.bitwise_and(self, other)
    def __rand__(self, other): return F.bitwise_and(other, self)
    def __or__(self, other): return F.bitwise_or(self, other)
    def __ror__(self, other): return F.bitwise_or(other, self)
    def __xor__(self, other): return F.bitwise_xor(self, other)
    def __rxor__(self, other): return F.bitwise_xor(other, self)
    def __getitem__(self, index): return F.getitem(self, index)

    def add(self, other, alpha=1): return F.add(self, other, alpha=alpha)
    def sub(self, other, alpha=1): return F.sub(self, other, alpha=alpha)
    def mul(self, other): return F.mul(self, other)
    def div(self, other, rounding_mode=None): return F.divide(self, other, rounding_mode)
    def pow(self, exponent): return F.pow(self, exponent)
    def matmul(self, other): return F.matmul(self, other)
    def neg(self): return F.neg(self)
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def rsqrt(self): return F.rsqrt(self)
    def abs(self): return F.abs(self)
    def sin(self): return F.sin(self)
    def cos(self): return F.cos(self)
    def tan(self): return F.tan(self)
    def atan(self): return F.atan(self)
    def atan2(self, other): return F.atan2(self, other)
    arctan2 = atan2
    def asin(self): return F.asin(self)
    def acos(self): return F.acos(self)
    def sinh(self): return F.sinh(self)
    def cosh(self): return F.cosh(self)
    def asinh(self): return F.asinh(self)
    def acosh(self): return F.acosh(self)
    def atanh(self): return F.atanh(self)
    arcsin, arccos, arctan = asin, acos, atan
    arcsinh, arccosh, arctanh = asinh, acosh, atanh
    def log2(self): return F.log2(self)
    def log10(self): return F.log10(self)
    def exp2(self): return F.exp2(self)
    def erfc(self): return F.erfc(self)
    def erfinv(self): return F.erfinv(self)
    def lgamma(self): return F.lgamma(self)
    def digamma(self): return F.digamma(self)
    def polygamma(self, n): return F.polygamma(n, self)
    def sinc(self): return F.sinc(self)
    def frac(self): return F.frac(self)
    def fmod(self, other): return F.fmod(self, other)
    def hypot(self, other): return F.hypot(self, other)
    def logaddexp(self, other): return F.logaddexp(self, other)
    def logaddexp2(self, other): return F.logaddexp2(self, other)
    def xlogy(self, other): return F.xlogy(self, other)
    def lerp(self, end, weight): return F.lerp(self, end, weight)
    def addcmul(self, tensor1, tensor2, value=1):
        return F.addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, value=1):
        return F.addcdiv(self, tensor1, tensor2, value=value)
    def copysign(self, other): return F.copysign(self, other)
    def signbit(self): return F.signbit(self)
    def logit(self, eps=None): return F.logit(self, eps)
    def float_power(self, exponent): return F.float_power(self, exponent)
    def sgn(self): return F.sgn(self)
    def absolute(self): return F.abs(self)
    def multiply(self, other): return F.mul(self, other)
    def subtract(self, other, alpha=1): return F.sub(self, other, alpha=alpha)
    def divide(self, other, rounding_mode=None): return F.divide(self, other, rounding_mode)
    def true_divide(self, other): return F.div(self, other)
    def negative(self): return F.neg(self)
    def positive(self): return F.positive(self)
    def greater(self, other): return F.gt(self, other)
    def greater_equal(self, other): return F.ge(self, other)
    def less(self, other): return F.lt(self, other)
    def less_equal(self, other): return F.le(self, other)
    def not_equal(self, other): return F.ne(self, other)
    def isposinf(self): return F.isposinf(self)
    def isneginf(self): return F.isneginf(self)
    def isreal(self): return F.isreal(self)
    def log1p(self): return F.log1p(self)
    def expm1(self): return F.expm1(self)
    def reciprocal(self): return F.reciprocal(self)
    def floor(self): return F.floor(self)
    def ceil(self): return F.ceil(self)
    def round(self, decimals=0): return F.round(self, decimals=decimals)
    def trunc(self): return F.trunc(self)
    def floor_divide(self, other): return F.floor_divide(self, other)
    def remainder(self, other): return F.remainder(self, other)
    def erf(self): return F.erf(self)
    def square(self): return F.square(self)
    def tanh(self): return F.tanh(self)
    def sigmoid(self): return F.sigmoid(self)
    def relu(self): return F.relu(self)
    def sign(self): return F.sign(self)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)  # noqa: A002
    clip = clamp
    def maximum(self, other): return F.maximum(self, other)
    def minimum(self, other): return F.minimum(self, other)
    def masked_fill(self, mask, value): return F.masked_fill(self, mask, value)
    def clamp_min(self, min): return F.clamp(self, min=min)  # noqa: A002
    def clamp_max(self, max): return F.clamp(self, max=max)  # noqa: A002
    def where(self, condition, other): return F.where(condition, self, other)
    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return F.isclose(self, other, rtol, atol, equal_nan)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return F.nan_to_num(self, nan, posinf, neginf)
    def mm(self, other): return F.mm(self, other)
    def bmm(self, other): return F.bmm(self, other)
    def outer(self, other): return F.outer(self, other)
    def eq(self, other): return F.eq(self, other)
    def ne(self, other): return F.ne(self, other)
    def lt(self, other): return F.lt(self, other)
    def le(self, other): return F.le(self, other)
    def gt(self, other): return F.gt(self, other)
    def ge(self, other): return F.ge(self, other)
    def isnan(self): return F.isnan(self)
    def isfinite(self): return F.isfinite(self)
    def isinf(self): return F.isinf(self)
    def allclose(self, other, rtol=1e-5, atol=1e-8): return F.allclose(self, other, rtol, atol)
    def equal(self, other): return equal(self, other)

    # reductions
    def sum(self, dim=None, keepdim=False, dtype=None): return F.sum(self, dim, keepdim, dtype)
    def mean(self, dim=None, keepdim=False): return F.mean(self, dim, keepdim)
    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return F.var(self, dim, unbiased, keepdim, correction)
    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return F.std(self, dim, unbiased, keepdim, correction)
    def norm(self, p=2, dim=None, keepdim=False): return F.norm(self, p, dim, keepdim)
    def max(self, dim=None, keepdim=False): return F.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return F.min(self, dim, keepdim)
    def amax(self, dim=None, keepdim=False): return F.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return F.amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return F.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return F.argmin(self, dim, keepdim)
    def logsumexp(self, dim=None, keepdim=False): return F.logsumexp(self, dim, keepdim)
    def prod(self, dim=None, keepdim=False, dtype=None): return F.prod(self, dim, keepdim, dtype)
    def sort(self, dim=-1, descending=False, *, stable=False):
        return F.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, *, stable=False):
        return F.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - torch name
        return F.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return F.kthvalue(self, k, dim, keepdim)
    def median(self, dim=None, keepdim=False): return F.median(self, dim, keepdim)
    def softmax(self, dim, dtype=None): return F.softmax(self, dim, dtype)
    def log_softmax(self, dim, dtype=None): return F.log_softmax(self, dim, dtype)
    def any(self, dim=None, keepdim=False): return F.any(self, dim, keepdim)
    def all(self, dim=None, keepdim=False): return F.all(self, dim, keepdim)
    def count_nonzero(self, dim=None): return F.count_nonzero(self, dim)
    def nansum(self, dim=None, keepdim=False, dtype=None):
        return F.nansum(self, dim, keepdim, dtype)
    def nanmean(self, dim=None, keepdim=False): return F.nanmean(self, dim, keepdim)
    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return F.quantile(self, q, dim, keepdim, interpolation=interpolation)
    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return F.nanquantile(self, q, dim, keepdim, interpolation=interpolation)
    def cummax(self, dim): return F.cummax(self, dim)
    def cummin(self, dim): return F.cummin(self, dim)
    def logcumsumexp(self, dim): return F.logcumsumexp(self, dim)
    def aminmax(self, *, dim=None, keepdim=False):
        return F.aminmax(self, dim=dim, keepdim=keepdim)
    def mode(self, dim=-1, keepdim=False): return F.mode(self, dim, keepdim)
    def msort(self): return F.msort(self)
    def unique(self, sorted=True, return_inverse=False, return_counts=False,  # noqa: A002
               dim=None):
        return F.unique(self, sorted, return_inverse, return_counts, dim)
    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return F.unique_consecutive(self, return_inverse, return_counts, dim)
    def bincount(self, weights=None, minlength=0): return F.bincount(self, weights, minlength)
    def histc(self, bins=100, min=0, max=0): return F.histc(self, bins, min, max)  # noqa: A002
    def bernoulli(self, p=None, *, generator=None):
        return bernoulli(self, p, generator=generator)
    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return multinomial(self, num_samples, replacement, generator=generator)

    # shape
    def reshape(self, *shape): return F.reshape(self, *shape)
    def view(self, *shape):
        """``view(*shape)`` (= reshape here), or ``view(dtype)``: the same memory read as
        another dtype (not differentiable, as in torch)."""
        if len(shape) == 1 and (isinstance(shape[0], str) or
                                not isinstance(shape[0], (numbers.Integral, Sequence))):
            return self._view_dtype(_as_dtype(shape[0]))
        return F.reshape(self, *shape)
    def view_as(self, other): return F.reshape(self, other.shape)
    def reshape_as(self, other): return F.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def unflatten(self, dim, sizes): return F.unflatten(self, dim, sizes)
    def squeeze(self, dim=None): return F.squeeze(self, dim)
    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def transpose(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    swapaxes = swapdims = transpose  # torch's aliases (NumPy's name)
    def movedim(self, source, destination): return F.movedim(self, source, destination)
    moveaxis = movedim
    def permute(self, *dims): return F.permute(self, *dims)
    def t(self): return F.t(self)
    def expand(self, *sizes): return F.expand(self, *sizes)
    def expand_as(self, other): return F.expand_as(self, other)
    def broadcast_to(self, shape): return F.broadcast_to(self, shape)
    def repeat(self, *sizes): return F.repeat(self, *sizes)
    def split(self, split_size, dim=0): return F.split(self, split_size, dim)
    def split_with_sizes(self, split_sizes, dim=0): return F.split(self, list(split_sizes), dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)
    def unbind(self, dim=0): return F.unbind(self, dim)
    def gather(self, dim, index): return F.gather(self, dim, index)
    def index_select(self, dim, index): return F.index_select(self, dim, index)
    def scatter(self, dim, index, src, *, reduce=None):
        return F.scatter(self, dim, index, src, reduce=reduce)
    def scatter_add(self, dim, index, src): return F.scatter_add(self, dim, index, src)
    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return F.shape.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
    def index_add(self, dim, index, source, alpha=1):
        return F.index_add(self, dim, index, source, alpha)
    def nonzero(self, as_tuple=False): return F.nonzero(self, as_tuple)
    def repeat_interleave(self, repeats, dim=None): return F.repeat_interleave(self, repeats, dim)
    def tile(self, *dims): return F.tile(self, *dims)
    def flip(self, *dims):
        if not dims:  # torch: flip() missing 1 required positional argument: 'dims'
            raise TypeError("flip: expected the dims to reverse, e.g. x.flip(0) or x.flip(0, 1)")
        return F.flip(self, dims)
    def roll(self, shifts, dims=None): return F.roll(self, shifts, dims)
    def narrow(self, dim, start, length): return F.narrow(self, dim, start, length)
    def cumsum(self, dim, dtype=None): return F.cumsum(self, dim, dtype)
    def cumprod(self, dim, dtype=None): return F.cumprod(self, dim, dtype)
    def tril(self, diagonal=0): return F.tril(self, diagonal)
    def triu(self, diagonal=0): return F.triu(self, diagonal)
    def rot90(self, k=1, dims=(0, 1)): return F.rot90(self, k, dims)
    def fliplr(self): return F.fliplr(self)
    def flipud(self): return F.flipud(self)
    def tensor_split(self, indices_or_sections, dim=0):
        return F.tensor_split(self, indices_or_sections, dim)
    def hsplit(self, indices_or_sections): return F.hsplit(self, indices_or_sections)
    def vsplit(self, indices_or_sections): return F.vsplit(self, indices_or_sections)
    def dsplit(self, indices_or_sections): return F.dsplit(self, indices_or_sections)
    def unfold(self, dimension, size, step): return F.shape.unfold(self, dimension, size, step)
    def take(self, index): return F.take(self, index)
    def take_along_dim(self, indices, dim=None): return F.take_along_dim(self, indices, dim)
    def masked_select(self, mask): return F.masked_select(self, mask)
    def index_copy(self, dim, index, source): return F.index_copy(self, dim, index, source)
    def index_fill(self, dim, index, value): return F.index_fill(self, dim, index, value)
    def select(self, dim, index): return F.select(self, dim, index)
    def select_scatter(self, src, dim, index): return F.select_scatter(self, src, dim, index)
    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return F.slice_scatter(self, src, dim, start, end, step)
    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        return F.diagonal_scatter(self, src, offset, dim1, dim2)
    def argwhere(self): return F.argwhere(self)
    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return F.diff(self, n, dim, prepend, append)
    def sum_to_size(self, *size): return F.sum_to_size(self, *size)
    def ravel(self): return F.ravel(self)
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return F.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return F.addmv(self, mat, vec, beta=beta, alpha=alpha)
    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return F.addr(self, vec1, vec2, beta=beta, alpha=alpha)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return F.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return F.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def dot(self, other): return F.dot(self, other)
    def vdot(self, other): return F.vdot(self, other)
    def inner(self, other): return F.inner(self, other)
    def mv(self, vec): return F.mv(self, vec)
    def kron(self, other): return F.kron(self, other)
    def cross(self, other, dim=None): return F.cross(self, other, dim)
    def diag(self, diagonal=0): return F.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return F.diagonal(self, offset, dim1, dim2)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return F.diag_embed(self, offset, dim1, dim2)
    def diagflat(self, offset=0): return F.diagflat(self, offset)
    def trace(self): return F.trace(self)
    def det(self): return _linalg().det(self)
    def slogdet(self): return _linalg().slogdet(self)
    def inverse(self): return _linalg().inv(self)
    def matrix_power(self, n): return _linalg().matrix_power(self, n)

    def _view_dtype(self, dtype: np.dtype) -> Tensor:
        try:
            array = self.data.view(dtype)
        except ValueError:
            raise RuntimeError(
                f"view: can't view a tensor of dtype {self.dtype} and shape "
                f"{tuple(self.shape)} as {dtype}: the last dimension must be contiguous and "
                f"its size in bytes divisible by {dtype.itemsize}") from None
        return Tensor._wrap(array, False)

    # ------------------------------------------------------------------------------------------
    # Printing
    # ------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        array = backend.to_numpy(self.data)
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        # like torch: 4 fixed decimals unless every value is a whole number ("1.")
        whole = array.dtype.kind != "f" or bool(np.all(finite == np.round(finite)))
        body = _array_text(array, whole)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.name}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d tensor formats its value, like torch (``f"{t}"`` too);
        any other tensor takes only the empty spec, which gives its repr."""
        if self.ndim == 0:
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    # Tensors compare elementwise (==) but hash by identity, as in torch: autograd keys its
    # graph walk by the tensors themselves. Python gives a class that defines __eq__ a
    # __hash__ of None; a subclass that does so keeps Tensor's hash instead.
    __hash__ = object.__hash__

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__hash__", object.__hash__) is None:
            cls.__hash__ = object.__hash__


def _everywhere(value: Tensor, x: Tensor) -> Tensor:
    """``value`` (broadcast) in place of every element of ``x``, x kept in the graph: x gets a
    zero gradient, as torch gives the old values of an overwritten tensor."""
    return F.where(get_array_module(x.data).ones((), dtype=np.bool_), value, x)


class _EarlierVersion(Tensor):
    """What a tensor was before an in-place update recorded in the graph: its data then (the
    same memory, or a copy where the update's backward reads the old values) and its history
    then (``_ctx``). ``current`` is a weak reference to the tensor it was. Ops that used the
    tensor before the update reach this stand-in in the graph walk (``InPlaceClock.as_of``)."""

    __slots__ = ("current",)


class _StrongRef:
    """``weakref.ref``'s interface (call it for the object) with a strong reference."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __call__(self):
        return self.obj


def _through_view(view_op, view_shape: tuple) -> tuple:
    """For a view made by ``view_op`` (of shape ``view_shape``): ``write_back(base, values)``,
    the base with the view's elements replaced by ``values`` (differentiable in both), and
    ``view_again(base)``, the same view of a base. Indexing writes back with ``index_put``; a
    reshape or a permutation covers every element of the base once, so the new base is the
    values reshaped or permuted back (nothing of the old base remains)."""
    from .functional.shape import GetItem, Permute, Reshape, index_put, permute, reshape

    if isinstance(view_op, GetItem):
        index = view_op.index
        return (lambda base, values: index_put(base, index, values),
                lambda base: GetItem.apply(base, index=index))
    if isinstance(view_op, Reshape):
        return (lambda base, values: reshape(values, tuple(base.shape)),
                lambda base: Reshape.apply(base, shape=view_shape))
    dims = view_op.dims  # Permute
    inverse = tuple(int(i) for i in np.argsort(dims))
    return (lambda base, values: permute(values, *inverse),
            lambda base: Permute.apply(base, dims=dims))


def _is_earlier_version_of(t: Tensor, tensor: Tensor) -> bool:
    return isinstance(t, _EarlierVersion) and t.current() is tensor


# torch's in-place twins of the value ops: ``x.sigmoid_()`` is ``x.sigmoid()`` written into x's
# memory (``Tensor._apply_in_place``), recorded in the graph when x or an argument requires grad
_IN_PLACE_TWINS = (
    "abs", "absolute", "acos", "acosh", "addbmm", "addcdiv", "addcmul", "addmm", "addmv",
    "addr", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "asin",
    "asinh", "atan", "atan2", "atanh", "baddbmm", "ceil", "clamp_max", "clamp_min", "clip",
    "copysign", "cos", "cosh", "cumprod", "cumsum", "digamma", "divide", "eq", "erf", "erfc",
    "erfinv", "exp2", "expm1", "floor", "floor_divide", "fmod", "frac", "ge", "greater",
    "greater_equal", "gt", "hypot", "index_add", "index_copy", "index_fill", "le", "lerp",
    "less", "less_equal", "lgamma", "log", "log10", "log1p", "log2", "logit", "lt", "multiply",
    "nan_to_num", "ne", "neg", "negative", "not_equal", "polygamma", "pow", "reciprocal",
    "relu", "remainder", "round", "rsqrt", "scatter", "scatter_add", "scatter_reduce", "sgn",
    "sigmoid", "sign", "sin", "sinc", "sinh", "sqrt", "square", "subtract", "tan", "tanh",
    "tril", "triu", "true_divide", "trunc", "xlogy",
)


def _in_place_twin(name: str):
    op = name + "_"

    def twin(self, *args, **kwargs):
        return self._apply_in_place(op, lambda x, *a: getattr(x, name)(*a, **kwargs), args,
                                    kwargs)

    twin.__name__ = twin.__qualname__ = op
    twin.__doc__ = f"``{name}`` written into this tensor's memory (torch's ``Tensor.{op}``)."
    return twin


for _name in _IN_PLACE_TWINS:
    setattr(Tensor, _name + "_", _in_place_twin(_name))


def _backward_inputs(inputs) -> tuple:
    """``backward(inputs=...)`` as a tuple of tensors that require grad, or a clear error."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif isinstance(inputs, (list, tuple)):
        inputs = tuple(inputs)
    else:
        raise TypeError(f"backward: inputs must be a Tensor or a sequence of Tensors, got "
                        f"{type(inputs).__name__}")
    if not inputs:
        raise RuntimeError("backward: the inputs argument cannot be empty; pass None (the "
                           "default) to accumulate into every leaf")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] (shape {tuple(t.shape)}) does not "
                               "require grad, so it can receive no gradient")
    return inputs


def _fits(shape: tuple, target: tuple) -> bool:
    """Does a value of ``shape`` broadcast to ``target`` without changing it (torch's rule for
    in-place updates)?"""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------------
# Printing options (torch.set_printoptions)
# ----------------------------------------------------------------------------------------------

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}
_PRINT = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """How tensors print, as ``torch.set_printoptions``: ``precision`` digits after the point,
    more than ``threshold`` elements summarized to ``edgeitems`` at each end of each dim,
    lines wrapped at ``linewidth``; ``profile`` "default", "short" or "full" sets those four
    first; ``sci_mode`` True/False forces scientific/fixed notation, None chooses (torch
    resets it on every call, so do we)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        _PRINT.update(_PROFILES[profile])
    for name, value, low in (("precision", precision, 0), ("edgeitems", edgeitems, 0),
                             ("linewidth", linewidth, 1)):
        if value is not None:
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"set_printoptions: {name} must be an int >= {low}, got "
                                 f"{value!r}")
            _PRINT[name] = int(value)
    if threshold is not None:
        if not isinstance(threshold, numbers.Real) or threshold < 0:
            raise ValueError(f"set_printoptions: threshold must be a number >= 0, got "
                             f"{threshold!r}")
        _PRINT["threshold"] = threshold
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise ValueError(f"set_printoptions: sci_mode must be None, True or False, got "
                         f"{sci_mode!r}")
    _PRINT["sci_mode"] = sci_mode


def _array_text(array: np.ndarray, whole: bool) -> str:
    """The numbers of a tensor's repr, under the print options: 4 fixed decimals (torch's
    default) unless every value is a whole number ("1.")."""
    precision, sci_mode = _PRINT["precision"], _PRINT["sci_mode"]
    threshold = _PRINT["threshold"]
    options = dict(separator=", ", prefix="tensor(", precision=precision,
                   threshold=sys.maxsize if threshold == math.inf else int(threshold),
                   # numpy counts a line's trailing comma in its width, torch does not
                   edgeitems=_PRINT["edgeitems"], max_line_width=_PRINT["linewidth"] + 1,
                   floatmode="maxprec" if whole else "fixed")
    if sci_mode is True and array.dtype.kind == "f" and array.size:
        def scientific(v):
            return np.format_float_scientific(v, precision=precision, unique=False,
                                              exp_digits=2)

        width = max(len(scientific(v)) for v in array.reshape(-1))  # one column width
        options["formatter"] = {"float_kind": lambda v: scientific(v).rjust(width)}
    elif sci_mode is False:
        options["suppress_small"] = True  # fixed point always, as torch's sci_mode=False
    # a summarized row: torch leaves two spaces before its "..."
    return np.array2string(array, **options).replace(", ..., ", ",  ..., ")


class DtypeCannotRequireGrad(RuntimeError, TypeError):
    """An integer or bool tensor asked to require grad: torch's RuntimeError, and a TypeError
    too (what this library raised before), so either ``except`` clause catches it."""


def _comparable(other) -> bool:
    """What ``==`` compares elementwise; anything else (None, strings, objects) falls back to
    Python's identity comparison, so ``tensor == None`` is False as in torch."""
    return isinstance(other, (Tensor, numbers.Number, np.ndarray, np.generic, list, tuple)) or (
        hasattr(other, "__cuda_array_interface__")
    )


# ----------------------------------------------------------------------------------------------
# Random numbers: one generator per process, seeded by manual_seed
# ----------------------------------------------------------------------------------------------

class Generator(np.random.Generator):
    """torch.Generator: a random number generator of its own, for the ``generator=`` argument
    of ``rand``/``randn``/``randint``/``randperm``/``normal``/``bernoulli``/``multinomial``/
    ``poisson``, ``nn.init``, ``DataLoader``, the samplers and ``random_split``.

    A ``numpy.random.Generator`` (PCG64) with torch's methods: ``manual_seed(seed)`` returns
    the generator itself, so ``DataLoader(ds, shuffle=True, generator=tg.Generator()
    .manual_seed(0))`` ports as written. Draws are made on the host (also for a CUDA tensor,
    then moved), so a seed gives the same numbers on every device; they are not torch's
    numbers (another algorithm).

    >>> g = Generator().manual_seed(0)
    >>> a = randn(3, generator=g)
    >>> bool((randn(3, generator=g.manual_seed(0)) == a).all())
    True
    """

    DEFAULT_SEED = 67280421310721  # torch's initial seed of a new Generator

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._initial_seed = self.DEFAULT_SEED
        super().__init__(np.random.PCG64(self.DEFAULT_SEED))

    def manual_seed(self, seed: int) -> Generator:
        """Start the stream again from ``seed``; returns the generator itself."""
        if not isinstance(seed, numbers.Integral):
            raise TypeError(f"Generator.manual_seed: expected an int seed, got {seed!r}")
        seed = int(seed)
        self._initial_seed = seed
        self.bit_generator.state = np.random.PCG64(seed % 2**64).state
        return self

    def seed(self) -> int:
        """Seed with a fresh non-deterministic 63-bit number; return it."""
        new_seed = _fresh_seed()
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The state (a dict of numbers and strings that ``tg.save`` can store)."""
        return self.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        try:
            self.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"Generator.set_state: not a state that get_state returned "
                             f"({error})") from None
        return self

    def __repr__(self) -> str:
        return f"Generator(device={str(self.device)!r}, initial_seed={self._initial_seed})"

    __str__ = __repr__  # numpy's Generator defines a __str__ of its own


def _seeded(seed: int) -> Generator:
    """A Generator whose stream is ``np.random.default_rng(seed)``'s (PCG64 seeded with seed),
    so the library's numbers for a seed stay what they were before Generator existed."""
    return Generator().manual_seed(seed)


_GENERATOR = _seeded(0)


def manual_seed(seed: int) -> Generator:
    """Seed every random number source the library uses (NumPy, and CuPy when present);
    returns the library's default generator, as torch does."""
    global _GENERATOR
    _GENERATOR = _seeded(seed)
    cp = backend._cupy()
    if cp is not None:
        cp.random.seed(seed)
    return _GENERATOR


def generator() -> np.random.Generator:
    """The library's NumPy random generator (seeded by ``manual_seed``)."""
    return _GENERATOR


def get_rng_state() -> dict:
    """The state of the library's NumPy generator (what ``manual_seed`` sets and dropout,
    initializers and ``rand*`` draw from), as a dict of numbers and strings that ``tg.save``
    can store; ``set_rng_state`` puts it back (torch.get_rng_state/set_rng_state)."""
    return _GENERATOR.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Go on drawing from a state that ``get_rng_state`` returned."""
    global _GENERATOR
    generator = Generator()
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"set_rng_state: not a state that get_rng_state returned ({error})"
                         ) from None
    _GENERATOR = generator


@contextlib.contextmanager
def fork_rng(seed: int | None = None):
    """``with fork_rng(seed):`` draws inside from a NumPy generator seeded with ``seed`` (if
    given) and leaves the library's NumPy generator as it was (torch.random.fork_rng): code
    that needs repeatable random numbers of its own (a fixed random layer) does not reset the
    user's stream."""
    global _GENERATOR
    saved = _GENERATOR
    if seed is not None:
        _GENERATOR = _seeded(seed)
    try:
        yield
    finally:
        _GENERATOR = saved


def _check_generator(op: str, generator) -> np.random.Generator:
    """The generator a draw uses: ``generator`` (a tg.Generator or any numpy Generator), or
    the library's (None)."""
    if generator is None:
        return _GENERATOR
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{op}: generator must be a tg.Generator (or a numpy.random.Generator), "
                        f"got {type(generator).__name__}")
    return generator


def _random_array(kind: str, shape, dtype, device, a=0.0, b=1.0, generator=None):
    """``kind`` in uniform/normal/randint, drawn on ``device`` (CuPy draws on the GPU, except
    from a ``generator`` of the caller's: drawn on the host, then moved)."""
    device = as_device(device)
    shape = tuple(shape)
    if generator is not None:
        return _host_draw(_draw(generator, kind, shape, dtype, a, b), device)
    if device.type == "cuda":
        cp = backend.array_module_for(device)
        with cp.cuda.Device(device.index):
            if kind == "uniform":
                return _below(cp.random.uniform(a, b, shape).astype(dtype), a, b)
            if kind == "normal":
                return cp.random.normal(a, b, shape).astype(dtype)
            return cp.random.randint(a, b, shape).astype(dtype)
    return _draw(_GENERATOR, kind, shape, dtype, a, b)


def _draw(generator: np.random.Generator, kind: str, shape, dtype, a, b) -> np.ndarray:
    if kind == "uniform":
        return _below(generator.uniform(a, b, shape).astype(dtype, copy=False), a, b)
    if kind == "normal":
        return generator.normal(a, b, shape).astype(dtype, copy=False)
    return generator.integers(a, b, shape).astype(dtype, copy=False)


def _below(draws, a, b):
    """Uniform ``draws`` on [a, b) drawn in float64 and cast to a narrower float: a draw just
    under b can round up to b itself (about one float32 draw in 3e7 from rand); put it back
    on the largest value below b, so the interval stays half-open, as torch's."""
    if draws.dtype.kind == "f" and draws.dtype.itemsize < 8 and a < b:
        xp = get_array_module(draws)
        top = np.nextafter(draws.dtype.type(b), draws.dtype.type(a))
        xp.minimum(draws, top, out=draws)
    return draws


# ----------------------------------------------------------------------------------------------
# Factories (torch names and arguments)
# ----------------------------------------------------------------------------------------------


def _size(size, keyword=None) -> tuple:
    """A factory's size: varargs ``(2, 3)``, one tuple ``((2, 3),)`` or the ``size=`` keyword."""
    if keyword is not None:
        if size:
            raise TypeError(f"size: given both as arguments {tuple(size)} and as size={keyword}")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size: expected integers, got {tuple(size)}")
        if s < 0:
            raise ValueError(f"size: expected non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _factory(array, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    return _as_dtype(dtype) or np.dtype(Config.default_dtype)


def _random_float_dtype(op: str, dtype) -> np.dtype:
    """The dtype of a uniform or normal draw: a floating one (the default unless given)."""
    dtype = _float_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point dtype, got {dtype}; use randint "
                        "for random integers")
    return dtype


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from a list, scalar, NumPy or CuPy array (like ``torch.tensor``).

    Always copies: changing the NumPy array afterwards does not change the tensor (use
    ``from_numpy`` to share memory). Python floats give float32, ints int64, bools bool;
    NumPy arrays keep their dtype.

    >>> tensor([1, 2]).dtype, tensor([1.0, 2]).dtype, tensor(np.zeros(2)).dtype
    (dtype('int64'), dtype('float32'), dtype('float64'))
    """
    if isinstance(data, Tensor):
        data = data.data
    t = Tensor(data, dtype=dtype, device=device)
    if hasattr(data, "dtype") and _root(t.data) is _root(data):
        t.data = t.data.copy()  # the tensor must not see later changes to the source array
    if requires_grad:
        t.requires_grad_(True)
    return t


def _root(array):
    """The array that owns the memory ``array`` looks at (itself unless it is a view)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "dtype"):
        array = array.base
    return array


def zeros(*dims, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros of shape ``dims`` (``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``)."""
    xp = backend.array_module_for(as_device(device))
    return _factory(xp.zeros(_size(dims, size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*dims, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.array_module_for(as_device(device))
    return _factory(xp.ones(_size(dims, size), dtype=_float_dtype(dtype)), requires_grad)


def empty(*dims, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like torch.empty; filled with zeros here (NumPy's empty memory could hold NaNs)."""
    return zeros(*dims, size=size, dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(fill_value) -> np.dtype:
    """The dtype torch's ``full`` infers from its fill value: that of a Python number of the
    same kind (a NumPy int32 gives int64, a float the default float, a 0-d tensor likewise)."""
    from .functional.elementwise import _python_scalar_dtype

    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, numbers.Complex) and not isinstance(fill_value, numbers.Real):
        return _python_data_dtype(complex(fill_value))
    return _python_scalar_dtype("full", fill_value)  # bool, int64 or the default float


def _fill_array(op: str, xp, shape: tuple, fill_value, dtype: np.dtype):
    """``shape`` filled with ``fill_value`` in ``dtype``; a value an integer dtype can't hold
    (nan, inf, out of range) is refused, as in torch, instead of wrapping silently."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype.kind in "iu" and not isinstance(fill_value, (bool, np.bool_)):
        info = np.iinfo(dtype)
        if not (np.isfinite(fill_value) and info.min <= fill_value <= info.max):
            raise RuntimeError(f"{op}: fill_value {fill_value!r} can't be converted to dtype "
                               f"{dtype} without overflow")
    return xp.full(shape, fill_value, dtype=dtype)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``size`` filled with ``fill_value``; the dtype is inferred from it as torch does (bool,
    int64, the default float) unless given."""
    xp = backend.array_module_for(as_device(device))
    dtype = _as_dtype(dtype) or _fill_dtype(fill_value)
    array = _fill_array("full", xp, _size((size,)), fill_value, dtype)
    return _factory(array, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.array_module_for(as_device(device or t.device))
    array = _fill_array("full_like", xp, t.shape, fill_value, _as_dtype(dtype) or t.dtype)
    return _factory(array, requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(t, dtype=dtype, device=device, requires_grad=requires_grad)


def _number(op: str, name: str, value):
    """A 0-d or one-element tensor argument as a Python number (torch accepts both)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{op}: expected a number for {name}, got a tensor of shape "
                            f"{tuple(value.shape)}")
        return value.item()
    return value


def arange(start=0, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``arange(end)`` or ``arange(start, end, step)``: start, start + step, ... up to but not
    including end. Integer arguments give int64, others the default float; with an integer
    ``dtype`` the arguments are truncated to integers first, as in torch."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", n, v) for n, v in
                        (("start", start), ("end", end), ("step", step)))
    xp = backend.array_module_for(as_device(device))
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else Config.default_dtype
    dtype = _as_dtype(dtype)
    if dtype.kind in "iub":
        start, end, step = int(start), int(end), int(step)
    if not all(np.isfinite(v) for v in (start, end, step)):
        raise RuntimeError(f"arange: unsupported range {start} -> {end} (step {step}): "
                           "expected finite numbers")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype.kind == "f":  # like torch: the values are computed in float64, then rounded
        array = xp.arange(start, end, step, dtype=np.float64).astype(dtype)
    else:
        array = xp.arange(start, end, step, dtype=dtype)
    return _factory(array, requires_grad)


def _steps(op: str, steps) -> int:
    if not isinstance(steps, numbers.Integral):
        raise TypeError(f"{op}: expected an integer number of steps, got {steps!r}")
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative, got {steps}")
    return int(steps)


def _evenly_spaced(op: str, xp, start, end, steps):
    """torch's linspace in float64: with h = (end - start) / (steps - 1), y_k = start + k h for
    the first half and end - (steps - 1 - k) h for the second, so both ends are exact."""
    start, end = _number(op, "start", start), _number(op, "end", end)
    steps = _steps(op, steps)
    k = xp.arange(steps, dtype=np.float64)
    h = (end - start) / (steps - 1) if steps > 1 else 0.0
    first_half = k < max(steps // 2, 1)  # steps = 1: [start]
    return xp.where(first_half, start + h * k, end - h * (steps - 1 - k))


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` values from start to end, evenly spaced: y_k = start + k (end - start) /
    (steps - 1); steps=1 gives [start] and steps=0 an empty tensor."""
    xp = backend.array_module_for(as_device(device))
    array = _evenly_spaced("linspace", xp, start, end, steps)
    return _factory(array.astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m = n unless given)."""
    if m is None:
        m = n
    for name, v in (("n", n), ("m", m)):
        if not isinstance(v, numbers.Integral):
            raise TypeError(f"eye: expected an integer {name}, got {v!r}")
        if v < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {v}")
    xp = backend.array_module_for(as_device(device))
    return _factory(xp.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def rand(*dims, size=None, generator=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1), in a floating dtype."""
    array = _random_array("uniform", _size(dims, size), _random_float_dtype("rand", dtype),
                          device, generator=_caller_generator("rand", generator))
    return _factory(array, requires_grad)


def randn(*dims, size=None, generator=None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """Standard normal samples, in a floating dtype."""
    array = _random_array("normal", _size(dims, size), _random_float_dtype("randn", dtype),
                          device, generator=_caller_generator("randn", generator))
    return _factory(array, requires_grad)


def _caller_generator(op: str, generator):
    """``generator=`` as given (checked), or None for the library's own draws."""
    return None if generator is None else _check_generator(op, generator)


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` means low = 0), int64 unless
    ``dtype``; ``high - 1`` must fit in an integer dtype."""
    if high is None or isinstance(high, Sequence):  # randint(high, size), as in torch
        if high is not None:
            size = high
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = _as_dtype(dtype) or int64
    if dtype.kind in "iu" and not (np.iinfo(dtype).min <= low and
                                   high - 1 <= np.iinfo(dtype).max):
        raise RuntimeError(f"randint: the range [{low}, {high}) does not fit in dtype {dtype}")
    array = _random_array("randint", _size((size,)), dtype, device, low, high,
                          generator=_caller_generator("randint", generator))
    return _factory(array, requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def randint_like(t: Tensor, low=0, high=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """``randint(low, high, t.shape)`` in t's dtype (``randint_like(t, high)``: low = 0)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, dtype=dtype or t.dtype, device=device or t.device,
                   requires_grad=requires_grad)


# ----------------------------------------------------------------------------------------------
# More random draws and creation functions (torch names and arguments)
# ----------------------------------------------------------------------------------------------


def _host_draw(array, device) -> np.ndarray:
    """Put an array drawn from the NumPy generator on ``device`` (draws that CuPy's random
    module has no counterpart of are made on the host, then moved, so ``manual_seed`` gives
    the same numbers on every device)."""
    if device is None or as_device(device).type == "cpu":
        return array
    return backend.to_device(array, device)


def _check_tensor_arg(op: str, x, name: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")


def _check_float(op: str, x: Tensor, name: str = "input") -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point {name}, got dtype {x.dtype} "
                        f"(shape {tuple(x.shape)})")


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless ``dtype``)."""
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"randperm: expected an integer n, got {n!r}")
    if n < 0:
        raise ValueError(f"randperm: expected a non-negative integer n, got {n!r}")
    draws = _check_generator("randperm", generator)
    array = draws.permutation(int(n)).astype(_as_dtype(dtype) or int64, copy=False)
    return _factory(_host_draw(array, device), requires_grad)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:  # noqa: A002 - torch name
    """y_i = 1 with probability p_i (``p`` = input's values, or the float ``p``), else 0.

    Drawn as y_i = [u_i < p_i] with u_i ~ U[0, 1); same shape and dtype as ``input``; not
    differentiable (the result does not require grad).
    """
    _check_tensor_arg("bernoulli", input)
    _check_float("bernoulli", input)
    xp = get_array_module(input.data)
    probs = input.data if p is None else xp.full(input.shape, p, dtype=np.float64)
    if probs.size and (xp.isnan(probs).any() or (probs < 0).any() or (probs > 1).any()):
        raise ValueError(f"bernoulli: expected all probabilities in [0, 1], got values from "
                         f"{float(xp.nanmin(probs))} to {float(xp.nanmax(probs))}")
    u = _random_array("uniform", input.shape, np.float64, input.device,
                      generator=_caller_generator("bernoulli", generator))
    return Tensor._wrap((u < probs).astype(input.dtype), False)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator=None) -> Tensor:
    """Draw ``num_samples`` category indices per row with P(i) = w_i / sum_j w_j.

    ``input`` holds non-negative weights, shape (K,) or (B, K); the result is int64 of shape
    (num_samples,) or (B, num_samples). Without replacement a category is drawn at most once
    (then num_samples <= the number of non-zero weights).
    """
    _check_tensor_arg("multinomial", input)
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected a 1-D or 2-D input, got shape "
                         f"{tuple(input.shape)}")
    if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise ValueError(f"multinomial: expected num_samples > 0, got {num_samples!r}")
    _check_float("multinomial", input)
    draws = _check_generator("multinomial", generator)
    weights = np.asarray(backend.to_numpy(input.data), dtype=np.float64)
    rows = weights.reshape(-1, weights.shape[-1])  # (B, K)
    K = rows.shape[1]
    if not replacement and num_samples > K:
        raise ValueError(f"multinomial: cannot sample num_samples={num_samples} > K={K} "
                         f"categories without replacement (input shape {tuple(input.shape)})")
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)  # (B, num_samples)
    for b, w in enumerate(rows):
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"multinomial: row {b} is not a distribution: weights must be "
                             f"finite, >= 0 and sum to more than 0, got {w.tolist()}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"multinomial: row {b} has {np.count_nonzero(w)} non-zero "
                             f"weights, too few for num_samples={num_samples} without "
                             f"replacement")
        out[b] = draws.choice(K, size=num_samples, replace=replacement, p=w / w.sum())
    out = out.reshape(input.shape[:-1] + (num_samples,))
    return Tensor._wrap(_host_draw(out, input.device), False)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """y = mean + std * z, z ~ N(0, 1), elementwise.

    ``mean`` and ``std`` are tensors (broadcast together; the result takes their dtype) or
    floats (then ``size`` gives the shape). Not differentiable in mean or std.
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal: with float mean and std, expected a size, got None")
        if std < 0:
            raise ValueError(f"normal: expected std >= 0, got {std}")
        array = _random_array("normal", _size((size,)), _float_dtype(dtype), device, mean, std,
                              generator=_caller_generator("normal", generator))
        return _factory(array, requires_grad)
    for t in tensors:
        _check_float("normal", t, "mean/std")
    if size is not None:
        raise TypeError("normal: size is only for float mean and std; the shape comes from "
                        f"the tensors ({', '.join(str(tuple(t.shape)) for t in tensors)})")
    xp = get_array_module(tensors[0].data)
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    if (xp.asarray(s) < 0).any():
        raise ValueError("normal: expected std >= 0, got negative values")
    out_dtype = np.result_type(*[t.dtype for t in tensors])
    shape = np.broadcast_shapes(*[t.shape for t in tensors])
    z = _random_array("normal", shape, out_dtype, tensors[0].device,
                      generator=_caller_generator("normal", generator))
    return _factory((m + s * z).astype(out_dtype, copy=False), requires_grad)


def poisson(input: Tensor, generator=None) -> Tensor:  # noqa: A002 - torch name
    """y_i ~ Poisson(rate = input_i): P(y = k) = rate^k e^-rate / k!, in input's dtype."""
    _check_tensor_arg("poisson", input)
    _check_float("poisson", input)
    rates = np.asarray(backend.to_numpy(input.data), dtype=np.float64)
    if rates.size and (np.isnan(rates).any() or (rates < 0).any()):
        raise ValueError(f"poisson: expected rates >= 0, got a minimum of {np.nanmin(rates)}")
    array = _check_generator("poisson", generator).poisson(rates).astype(input.dtype)
    return Tensor._wrap(_host_draw(array, input.device), False)


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """y_k = base ** (start + k (end - start) / (steps - 1)), k = 0 .. steps-1."""
    xp = backend.array_module_for(as_device(device))
    exponents = _evenly_spaced("logspace", xp, start, end, steps)
    array = (xp.float64(base) ** exponents).astype(_float_dtype(dtype))
    return _factory(array, requires_grad)


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002 - torch name
    """True when both tensors have the same shape and equal elements (values compared after
    type promotion, so int 1 equals float 1.0; NaN equals nothing), as torch.equal."""
    for name, t in (("input", input), ("other", other)):
        _check_tensor_arg("equal", t, name)
    if input.device != other.device:
        raise RuntimeError(f"equal: expected both tensors on the same device, got "
                           f"{input.device} and {other.device}")
    if input.shape != other.shape:
        return False
    return bool(get_array_module(input.data).array_equal(input.data, other.data))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor that shares memory with ``data`` when dtype and device allow (a Tensor comes
    back as itself, a NumPy/CuPy array is wrapped without a copy); otherwise a copy."""
    dtype = _as_dtype(dtype)
    if isinstance(data, Tensor):
        same_dtype = dtype is None or dtype == data.dtype
        same_device = device is None or as_device(device) == data.device
        if same_dtype and same_device:
            return data
        return data.to(dtype=dtype or data.dtype, device=device or data.device)
    if hasattr(data, "dtype") and hasattr(data, "shape"):
        xp = get_array_module(data)
        target = xp if device is None else backend.array_module_for(as_device(device))
        if target is xp and (dtype is None or dtype == data.dtype):
            return Tensor._wrap(data, False)
    return Tensor(data, dtype=dtype, device=device)


def _fresh_seed() -> int:
    """A non-deterministic 63-bit seed (from the OS's entropy, through SeedSequence)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def seed() -> int:
    """Seed the library's generator with a fresh non-deterministic 63-bit seed; return it."""
    new_seed = _fresh_seed()
    manual_seed(new_seed)
    return new_seed


def _triangle_indices(op: str, row: int, col: int, offset: int, lower: bool, dtype,
                      device) -> Tensor:
    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}: expected an integer {name}, got {v!r}")
    if row < 0 or col < 0:
        raise ValueError(f"{op}: expected row >= 0 and col >= 0, got row={row}, col={col}")
    if lower:
        rows, cols = np.tril_indices(row, offset, col)
    else:
        rows, cols = np.triu_indices(row, offset, col)
    array = np.stack([rows, cols]).astype(_as_dtype(dtype) or int64)  # (2, count)
    return Tensor._wrap(_host_draw(array, device), False)


def tril_indices(row: int, col: int, offset: int = 0, dtype=None, device=None) -> Tensor:
    """(2, count) coordinates (i, j) with j - i <= offset in a row x col matrix, row-major."""
    return _triangle_indices("tril_indices", row, col, offset, True, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, dtype=None, device=None) -> Tensor:
    """(2, count) coordinates (i, j) with j - i >= offset in a row x col matrix, row-major."""
    return _triangle_indices("triu_indices", row, col, offset, False, dtype, device)


def _check_1d(op: str, tensors) -> None:
    for i, t in enumerate(tensors):
        _check_tensor_arg(op, t, f"tensor {i}")
        if t.ndim != 1:
            raise ValueError(f"{op}: expected 1-D tensors, got shape {tuple(t.shape)} for "
                             f"tensor {i}")


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All tuples (a_i, b_j, ...) of k 1-D tensors, shape (N_a * N_b * ..., k), the last
    tensor varying fastest; one tensor comes back as it is. Differentiable (meshgrid+stack)."""
    if not tensors:
        raise ValueError("cartesian_prod: expected at least one tensor")
    _check_1d("cartesian_prod", tensors)
    if len(tensors) == 1:
        return tensors[0]
    grids = F.meshgrid(*tensors, indexing="ij")  # k tensors of shape (N_a, N_b, ...)
    return F.stack([g.reshape(-1) for g in grids], dim=1)  # (N, k)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    """All length-r combinations of a 1-D tensor's elements, shape (C, r), in
    itertools.combinations order (combinations_with_replacement with ``with_replacement``);
    r = 0 gives an empty (0,) tensor. Differentiable (an index gather)."""
    import itertools

    _check_1d("combinations", (input,))
    if not isinstance(r, numbers.Integral) or r < 0:
        raise ValueError(f"combinations: expected r >= 0, got {r!r}")
    if r == 0:
        return F.reshape(input[:0], 0)
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(make(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[Tensor._wrap(_host_draw(index, input.device), False)]  # (C, r)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """Vandermonde matrix V_ij = x_i ** (N-1-j) (``increasing``: x_i ** j), shape (n, N).

    Built as torch builds it, a cumulative product of [1, x, x, ...], so gradients match
    torch's (also at x = 0). Integer and bool inputs give int64.
    """
    _check_1d("vander", (x,))
    n = x.shape[0]
    if N is None:
        N = n
    if not isinstance(N, numbers.Integral) or N < 0:
        raise ValueError(f"vander: expected N >= 0, got {N!r}")
    if x.dtype.kind in "biu":
        x = x.long()
    if N == 0:
        return zeros(n, 0, dtype=x.dtype, device=x.device)
    first = ones(n, 1, dtype=x.dtype, device=x.device)
    if N == 1:
        powers = first
    else:
        rest = F.expand(F.unsqueeze(x, 1), n, N - 1)  # (n, N-1)
        powers = F.cumprod(F.cat([first, rest], dim=1), 1)  # (n, N): 1, x, x^2, ...
    return powers if increasing else F.flip(powers, (1,))


def from_numpy(array: np.ndarray) -> Tensor:
    return Tensor._wrap(array, False)


# The ops import Tensor from this module, so they are imported last; methods look F up at call
# time.
from . import functional as F  # noqa: E402


def _linalg():
    """``tinygrad_edu.linalg``, imported on first use (it imports the functional ops, which
    import this module)."""
    from . import linalg

    return linalg
