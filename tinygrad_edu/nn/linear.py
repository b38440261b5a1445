"""Linear layers and shape helpers: Identity, Linear, Bilinear, Flatten, Unflatten, and an MLP
builder."""

from __future__ import annotations

import math
import numbers

from .. import functional as F
from ..tensor import Tensor, empty
from . import init
from .activation import make_activation
from .dropout import Dropout
from .module import Module, Parameter, Sequential, check_input_dtype


class Identity(Module):
    """y = x. Accepts (and ignores) any constructor arguments, like torch's placeholder."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b  with W of shape (out_features, in_features) and b of shape (out_features,).

    Input (..., in_features) -> output (..., out_features). Gradients (from ``F.linear``):
    dx = dy W,  dW = dy^T x (summed over the leading dims),  db = dy summed over leading dims.

    Default init (PyTorch's): W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    so std(W) = 1/sqrt(3 in); b ~ U(-1/sqrt(in), 1/sqrt(in)). For unit-variance inputs an
    untrained layer's outputs then have variance 1/3 + 1/(3 in) ~ 1/3 per unit, like torch's.

    >>> import tinygrad_edu as tg
    >>> layer = Linear(784, 10)
    >>> layer(tg.randn(8, 784)).shape
    (8, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(empty(self.out_features, self.in_features, dtype=dtype,
                                      device=device))
        if bias:
            self.bias = Parameter(empty(self.out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ U(-1/sqrt(in), 1/sqrt(in)) via kaiming_uniform_(a=sqrt(5)); b the same bound."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: expected a Tensor input, got "
                            f"{type(input).__name__}")
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = "a 0-d tensor" if input.ndim == 0 else f"{input.shape[-1]} features"
            raise ValueError(
                f"{self._describe()}: input has {got} (input shape {tuple(input.shape)}); "
                f"expected (..., {self.in_features})"
            )
        # the registered Parameters, read from _parameters: ``self.weight`` reaches them only
        # through a failed attribute lookup and Module.__getattr__, which costs about a third
        # of a whole elementwise op. A weight that is no Parameter any more (deleted and set
        # as a plain attribute: torch-style reparametrization), or a bias of None, is read
        # as the attribute it is.
        params = self._parameters
        weight = params.get("weight")
        if weight is None:
            weight = self.weight
        bias = params.get("bias")
        if bias is None:
            bias = self.bias
        check_input_dtype(self, input, weight)
        return F.linear(input, weight, bias)  # (..., out_features)

    def _describe(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y[..., o] = x1^T A_o x2 + b_o = sum_ij x1[..., i] A[o, i, j] x2[..., j] + b[o].

    input1 (*, I), input2 (*, J) with the same leading dims, weight A (O, I, J), bias (O,) ->
    (*, O). Gradients: dx1[..., i] = sum_o dy_o (A_o x2)_i,  dx2[..., j] = sum_o dy_o (A_o^T x1)_j,
    dA_o = sum over the leading dims of dy_o x1 x2^T,  db = dy summed over the leading dims.
    Computed as one matrix product x1 (B, I) @ A (I, O*J), then a product with x2 summed
    over J (all differentiable ops, so higher derivatives work too).
    """
    tensors = (("input1", input1), ("input2", input2), ("weight", weight), ("bias", bias))
    for name, t in tensors:
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"bilinear: expected {name} to be a Tensor, got {type(t).__name__}")
    if weight.ndim != 3:
        raise ValueError(f"bilinear: expected a 3D weight (out_features, in1_features, "
                         f"in2_features), got shape {tuple(weight.shape)}")
    O, I, J = weight.shape
    if input1.ndim != input2.ndim:
        raise ValueError(f"bilinear: input dimensions do not match: got {input1.ndim} and "
                         f"{input2.ndim} (input1: {tuple(input1.shape)}, input2: "
                         f"{tuple(input2.shape)})")
    if input1.ndim == 0:
        raise ValueError("bilinear: expected inputs of shape (*, in1_features) and "
                         "(*, in2_features), got 0-d tensors")
    lead = tuple(input1.shape[:-1])
    if lead != tuple(input2.shape[:-1]):
        raise ValueError(f"bilinear: input batch dimensions do not match: input1 "
                         f"{tuple(input1.shape)}, input2 {tuple(input2.shape)}")
    if input1.shape[-1] != I:
        raise ValueError(f"bilinear: input1 size does not match weight size: got "
                         f"{input1.shape[-1]} but expected {I} (input1: {tuple(input1.shape)}, "
                         f"weight: {tuple(weight.shape)})")
    if input2.shape[-1] != J:
        raise ValueError(f"bilinear: input2 size does not match weight size: got "
                         f"{input2.shape[-1]} but expected {J} (input2: {tuple(input2.shape)}, "
                         f"weight: {tuple(weight.shape)})")
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError(f"bilinear: bias size does not match weight size: got bias shape "
                         f"{tuple(bias.shape)} but expected ({O},) (weight: "
                         f"{tuple(weight.shape)})")
    dtypes = {t.dtype for _, t in tensors if t is not None}
    if len(dtypes) > 1:
        got = ", ".join(f"{name}: {t.dtype}" for name, t in tensors if t is not None)
        raise TypeError(f"bilinear: all tensors must have the same dtype, got {got}")
    B = math.prod(lead)
    x1 = input1.reshape(B, I)  # (B, I)
    x2 = input2.reshape(B, 1, J)  # (B, 1, J)
    A = weight.permute(1, 0, 2).reshape(I, O * J)  # (I, O*J): row i holds A[:, i, :]
    t = (x1 @ A).reshape(B, O, J)  # (B, O, J): t[b, o, j] = sum_i x1[b, i] A[o, i, j]
    y = (t * x2).sum(-1)  # (B, O)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, O)  # (*, O)


class Bilinear(Module):
    """y = x1^T A x2 + b, i.e. y_o = sum_ij x1_i A[o, i, j] x2_j + b_o, with A of shape
    (out_features, in1_features, in2_features) and b of shape (out_features,).

    Inputs (*, in1_features) and (*, in2_features) -> output (*, out_features); gradients as
    in ``bilinear``. Default init (PyTorch's): A and b ~ U(-1/sqrt(in1), 1/sqrt(in1)).

    >>> import tinygrad_edu as tg
    >>> layer = Bilinear(3, 4, 5)
    >>> layer(tg.randn(8, 3), tg.randn(8, 4)).shape
    (8, 5)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        for name, value in (("in1_features", in1_features), ("in2_features", in2_features),
                            ("out_features", out_features)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Bilinear: {name} must be a non-negative int, got {value!r}")
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        self.weight = Parameter(empty(self.out_features, self.in1_features, self.in2_features,
                                      dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(self.out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A and b ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)) (torch's bound)."""
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        check_input_dtype(self, input1, self.weight)
        check_input_dtype(self, input2, self.weight)
        return bilinear(input1, input2, self.weight, self.bias)  # (*, out_features)

    def _describe(self) -> str:
        return (f"Bilinear(in1_features={self.in1_features}, in2_features="
                f"{self.in2_features}, out_features={self.out_features})")

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.
    dx = dy reshaped back."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim <= self.start_dim and self.start_dim >= 0:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): input of shape "
                f"{tuple(input.shape)} has no dimension {self.start_dim}"
            )
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) turns (N, C*H*W)
    into (N, C, H, W). One entry may be -1 (inferred). dx = dy reshaped back."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)
        if sum(s == -1 for s in self.unflattened_size) > 1:
            raise ValueError(f"Unflatten: only one size may be -1, got {self.unflattened_size}")

    def forward(self, input: Tensor) -> Tensor:
        if not -input.ndim <= self.dim < input.ndim:
            raise ValueError(f"{self._describe()}: input of shape {tuple(input.shape)} has no "
                             f"dimension {self.dim}")
        size = input.shape[self.dim]
        known = math.prod(s for s in self.unflattened_size if s != -1)
        if -1 in self.unflattened_size:
            fits = known > 0 and size % known == 0
        else:
            fits = known == size
        if not fits:
            product = " * ".join(str(s) for s in self.unflattened_size)
            raise ValueError(
                f"{self._describe()}: dimension {self.dim} has size {size}, which can't be "
                f"split into {product} (input shape {tuple(input.shape)})"
            )
        return F.unflatten(input, self.dim, self.unflattened_size)

    def _describe(self) -> str:
        return f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size})"

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class MLP(Sequential):
    """A multilayer perceptron: Linear -> activation (-> Dropout) for every hidden size, then a
    final Linear (no activation, so the output can be logits or a regression value).

    ``MLP(784, [256, 128], 10)`` is
    ``Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))``,
    so its state_dict keys ("0.weight", "2.weight", ...) match that torch Sequential.

    ``activation`` is a name ("relu", "leaky_relu", "gelu", "tanh", "sigmoid", "elu", "silu",
    "softplus", "identity") or a zero-argument callable returning a Module (e.g. ``nn.GELU``).
    """

    def __init__(self, in_features: int, hidden_sizes, out_features: int,
                 activation="relu", dropout: float = 0.0, bias: bool = True):
        if isinstance(hidden_sizes, numbers.Integral):
            hidden_sizes = [hidden_sizes]
        hidden_sizes = [int(h) for h in hidden_sizes]
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MLP: dropout probability has to be between 0 and 1, got {dropout}")
        layers = []
        width = in_features
        for hidden in hidden_sizes:
            layers.append(Linear(width, hidden, bias=bias))
            layers.append(make_activation(activation, "MLP"))
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = hidden
        layers.append(Linear(width, out_features, bias=bias))
        super().__init__(*layers)
        self.in_features = in_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.out_features = out_features
