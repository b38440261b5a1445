"""Lazy layers (torch.nn.LazyLinear, LazyConv*d, LazyConvTranspose*d, LazyBatchNorm*d,
LazyInstanceNorm*d): the input size (in_features, in_channels, num_features) is read from the
first input instead of being passed to the constructor.

Life of a lazy layer, as in torch:

1. Construction: the parameters (and running-statistics buffers) are *uninitialized*:
   ``UninitializedParameter`` / ``UninitializedBuffer`` objects that remember their dtype and
   device (``module.to(...)`` still works) but have no shape yet; reading ``.shape`` raises,
   as does handing them to an optimizer. Nothing is drawn from the random generator.
2. First forward: ``initialize_parameters(x)`` sets the inferred size from x, materializes
   every uninitialized tensor *in place* (the same objects become ordinary Parameters and
   Tensors of the right shape) and runs the regular layer's ``reset_parameters``, so the
   weights come from the same distribution, and the same generator draws, as the regular
   layer's constructor would make.
3. The instance's class then becomes the regular one (``cls_to_become``): after
   ``LazyLinear(10)(x)``, ``type(m) is nn.Linear`` and its repr and state_dict are Linear's.

>>> import tinygrad_edu as tg
>>> m = LazyLinear(10)
>>> m
LazyLinear(in_features=0, out_features=10, bias=True)
>>> m(tg.randn(4, 784)).shape
(4, 10)
>>> m
Linear(in_features=784, out_features=10, bias=True)

Optimizers must be built after a dry forward (``model(example_batch)``): building one over
uninitialized parameters raises. ``load_state_dict`` called on the lazy layer itself
materializes it from the checkpoint's shapes (the values are then copied in).
"""

from __future__ import annotations

import inspect

from .. import backend
from ..tensor import Tensor, empty
from .conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from .linear import Linear
from .module import Parameter
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)

_HINT = ("its shape is known only after the lazy module's first forward; run a dry forward "
         "(model(example_input)) before reading shapes, creating an optimizer or loading a "
         "state_dict into the enclosing model")


class _UninitializedMixin:
    """What UninitializedParameter and UninitializedBuffer share: no shape until
    ``materialize(shape)``, which turns the object itself into ``cls_to_become``."""

    __slots__ = ()
    cls_to_become: type = Tensor

    @property
    def shape(self) -> tuple:
        raise RuntimeError(f"can't access the shape of an {type(self).__name__}: {_HINT}")

    @property
    def ndim(self) -> int:
        raise RuntimeError(f"can't access the ndim of an {type(self).__name__}: {_HINT}")

    @property
    def is_leaf(self) -> bool:
        # an optimizer's first look at each parameter: the place to stop it
        raise RuntimeError(f"{type(self).__name__}: this tensor of a lazy module is not "
                           f"materialized yet ({_HINT})")

    def detach(self) -> Tensor:
        """Stays uninitialized (state_dict of a lazy module holds these, as in torch)."""
        return UninitializedBuffer._from_data(self.data)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor ``shape`` (zeros; the layer's reset_parameters fills it) on its own
        dtype and device unless given, and make it a ``cls_to_become`` (in place: whoever holds
        this object now holds the materialized tensor)."""
        dtype = self.data.dtype if dtype is None else dtype
        device = backend.device_of(self.data) if device is None else device
        self.data = empty(*tuple(int(s) for s in shape), dtype=dtype, device=device).data
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A Parameter of a lazy module before its first forward: a dtype and device, no shape."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad=requires_grad)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer (running statistics) of a lazy module before its first forward."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, device=None, dtype=None):
        super().__init__(empty(0, dtype=dtype, device=device).data)

    @classmethod
    def _from_data(cls, array) -> UninitializedBuffer:
        return cls._wrap(array, False)


def is_lazy(value) -> bool:
    """True for an uninitialized parameter or buffer (torch.nn.parameter.is_lazy)."""
    return isinstance(value, _UninitializedMixin)


class LazyModuleMixin:
    """Shared machinery of the lazy layers (torch's ``LazyModuleMixin``). A lazy class lists
    it first, then the regular class, and defines ``cls_to_become`` (the regular class),
    ``_infer_size(x)`` (the input size, checking x's shape) and ``_size_from_state(state)``
    (the same size read off the shapes of a checkpoint) and ``_set_size(size)``."""

    cls_to_become: type | None = None

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer of this module (not its children) has no shape yet."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(is_lazy(t) for t in tensors)

    def reset_parameters(self) -> None:
        """Nothing while the module is lazy: the regular constructor calls this before its
        tensors are replaced by uninitialized ones (drawing nothing from the generator), and
        ``initialize_parameters`` runs the regular layer's reset once the shapes are known."""

    def initialize_parameters(self, x: Tensor) -> None:
        """Read the input size from x, materialize every uninitialized tensor with it and
        initialize them with the regular layer's ``reset_parameters``. Tensors that already
        hold values (a ``load_state_dict(..., strict=False)`` that gave only some) keep them."""
        size = self._infer_size(x)
        self._set_size(size)
        kept = []  # (tensor, its values) of the tensors that were not lazy
        for store in (self._parameters, self._buffers):
            for t in store.values():
                if is_lazy(t):
                    t.materialize(self._shape_of(t, size))
                elif t is not None:
                    kept.append((t, t.data.copy()))
        self.cls_to_become.reset_parameters(self)
        for t, data in kept:
            t.data = data

    def _become_regular(self) -> None:
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def forward(self, *args, **kwargs):
        """First (and only) lazy forward: materialize, become the regular class, run its
        forward (later calls go straight to the regular class's forward)."""
        if not args:
            raise TypeError(f"{type(self).__name__}: forward expects an input tensor")
        self.initialize_parameters(args[0])
        self._become_regular()
        return self.forward(*args, **kwargs)

    def _materialize_from(self, state_dict: dict, prefix: str = "") -> None:
        """torch's lazy load hook, which ``Module.load_state_dict`` calls on every lazy module
        it holds (``prefix``: this module's key prefix in ``state_dict``): the parameters and
        buffers still uninitialized take the checkpoint's shapes, and the input size follows
        from them. The tensors take the shapes that size gives (the checkpoint's where it
        fits the layer's other arguments; otherwise ``Module.load_state_dict`` reports a size
        mismatch instead of building a layer whose weight disagrees with its arguments). It
        then loads the values and, once nothing is left uninitialized, makes the module its
        regular class."""
        if not self.has_uninitialized_params():
            return
        stores = (self._parameters, self._buffers)
        shapes = {}
        for store in stores:
            for name, t in store.items():
                value = state_dict.get(prefix + name)
                if value is not None and is_lazy(t):
                    shapes[name] = tuple(value.shape) if hasattr(value, "shape") else ()
        if not shapes:
            return
        size = self._size_from_state(shapes)
        self._set_size(size)
        for store in stores:
            for name, t in store.items():
                if name in shapes:
                    t.materialize(self._shape_of(t, size))


# ----------------------------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------------------------


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` with in_features read from the first input's last dim (torch.nn.LazyLinear):
    weight (out_features, in_features), bias (out_features,), init as Linear's
    (U(-1/sqrt(in), 1/sqrt(in))); the module becomes a ``Linear`` after the first forward."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, out_features, False, device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def _infer_size(self, x) -> int:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got "
                            f"{type(x).__name__}")
        if x.ndim == 0:
            raise ValueError(f"{type(self).__name__}(out_features={self.out_features}): "
                             "expected an input of shape (..., in_features), got a 0-d tensor")
        return int(x.shape[-1])

    def _set_size(self, size: int) -> None:
        self.in_features = size

    def _shape_of(self, t, size: int) -> tuple:
        return (self.out_features, size) if t is self._parameters["weight"] \
            else (self.out_features,)

    def _size_from_state(self, shapes: dict) -> int:
        return shapes["weight"][1] if "weight" in shapes else 0


# ----------------------------------------------------------------------------------------------
# Convolutions
# ----------------------------------------------------------------------------------------------


class _LazyConvMixin(LazyModuleMixin):
    """in_channels read from the input's channel dim: x.shape[-dims - 1] ((N, C, ...) or the
    unbatched (C, ...))."""

    def __init__(self, out_channels: int, kernel_size, *args, **kwargs):
        # the regular constructor's arguments by name (Conv and ConvTranspose order them
        # differently), with in_channels=groups: valid, and nothing is drawn (reset_parameters
        # waits); the real tensors are then replaced by uninitialized ones
        regular = self.cls_to_become.__init__
        bound = inspect.signature(regular).bind(self, 1, out_channels, kernel_size, *args,
                                                **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        groups = arguments["groups"]
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{type(self).__name__}: groups must be a positive int, got "
                             f"{groups!r}")
        out_channels = arguments["out_channels"]  # (the regular constructor checks its type)
        if isinstance(out_channels, int) and out_channels % groups:
            raise ValueError(f"{type(self).__name__}: groups={groups} must divide "
                             f"out_channels={out_channels}")
        bias = arguments["bias"]
        arguments["in_channels"] = groups
        arguments["bias"] = False
        regular(*bound.args, **bound.kwargs)
        self.in_channels = 0
        device, dtype = arguments["device"], arguments["dtype"]
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def _infer_size(self, x) -> int:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[self.dims]
        if x.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"{name}: expected input (N, C, {spatial}) or (C, {spatial}), got "
                             f"shape {tuple(x.shape)}")
        channels = int(x.shape[-self.dims - 1])
        if channels == 0 or channels % self.groups:
            raise ValueError(f"{name}: the input has {channels} channels, which groups="
                             f"{self.groups} must divide (input shape {tuple(x.shape)})")
        return channels

    def _set_size(self, size: int) -> None:
        self.in_channels = size

    def _shape_of(self, t, size: int) -> tuple:
        if t is not self._parameters["weight"]:
            return (self.out_channels,)
        if self.transposed:  # (C_in, C_out/groups, KH, KW)
            return (size, self.out_channels // self.groups) + self.kernel_size
        return (self.out_channels, size // self.groups) + self.kernel_size  # (C_out, C_in/g, ..)

    def _size_from_state(self, shapes: dict) -> int:
        if "weight" not in shapes:
            return 0
        weight = shapes["weight"]
        return weight[0] if self.transposed else weight[1] * self.groups


def _lazy_class(mixin: type, regular: type, torch_name: str, size: str) -> type:
    """torch.nn.<torch_name>: ``regular`` with ``size`` (its input size argument) read from the
    first input, the lazy behaviour from ``mixin``."""
    doc = (f"``{regular.__name__}`` with {size} read from the first input "
           f"(torch.nn.{torch_name}): the arguments are {regular.__name__}'s without {size}; "
           f"init as {regular.__name__}'s; the module becomes a ``{regular.__name__}`` after "
           "the first forward.")
    return type(torch_name, (mixin, regular),
                {"cls_to_become": regular, "__doc__": doc, "__module__": __name__})


def _lazy_conv(regular: type, torch_name: str) -> type:
    return _lazy_class(_LazyConvMixin, regular, torch_name, "in_channels")


LazyConv1d = _lazy_conv(Conv1d, "LazyConv1d")
LazyConv2d = _lazy_conv(Conv2d, "LazyConv2d")
LazyConv3d = _lazy_conv(Conv3d, "LazyConv3d")
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, "LazyConvTranspose1d")
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, "LazyConvTranspose2d")
LazyConvTranspose3d = _lazy_conv(ConvTranspose3d, "LazyConvTranspose3d")


# ----------------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------------


class _LazyNormMixin(LazyModuleMixin):
    """num_features read from the input's channel dim (dim 1 for BatchNorm; for InstanceNorm
    the dim before the spatial ones, so an unbatched (C, ...) input works too). Defaults as
    torch's lazy norms: affine=True, track_running_stats=True, for InstanceNorm as well."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        # torch's lazy norms all default to affine=True, track_running_stats=True, the lazy
        # InstanceNorms too (the regular InstanceNorms default to False for both)
        self.cls_to_become.__init__(self, 1, eps, momentum, affine, track_running_stats,
                                    device, dtype, bias=bias)
        self.num_features = 0
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if self.bias is not None:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:  # num_batches_tracked stays a real scalar, as in torch
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)

    def _infer_size(self, x) -> int:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if isinstance(self, _BATCH_NORMS):
            ndims = self._expected_ndims
            channel_dim = 1
        else:
            ndims = (self._no_batch_ndim, self._no_batch_ndim + 1)
            channel_dim = x.ndim - self._no_batch_ndim
        if x.ndim not in ndims:
            raise ValueError(f"{name}: expected {self._layout} input, got a {x.ndim}D input "
                             f"of shape {tuple(x.shape)}")
        return int(x.shape[channel_dim])

    def _set_size(self, size: int) -> None:
        self.num_features = size

    def _shape_of(self, t, size: int) -> tuple:
        return (size,)

    def _size_from_state(self, shapes: dict) -> int:
        for shape in shapes.values():
            if len(shape) == 1:
                return shape[0]
        return 0


_BATCH_NORMS = (BatchNorm1d, BatchNorm2d, BatchNorm3d)


def _lazy_norm(regular: type, torch_name: str) -> type:
    return _lazy_class(_LazyNormMixin, regular, torch_name, "num_features")


LazyBatchNorm1d = _lazy_norm(BatchNorm1d, "LazyBatchNorm1d")
LazyBatchNorm2d = _lazy_norm(BatchNorm2d, "LazyBatchNorm2d")
LazyBatchNorm3d = _lazy_norm(BatchNorm3d, "LazyBatchNorm3d")
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d, "LazyInstanceNorm1d")
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d, "LazyInstanceNorm2d")
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d, "LazyInstanceNorm3d")

__all__ = [
    "LazyModuleMixin",
    "UninitializedParameter",
    "UninitializedBuffer",
    "is_lazy",
    "LazyLinear",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
]
