"""``tg.autograd.functional``: derivatives of a whole Python function, as
``torch.autograd.functional``: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``vhp``, ``hvp``.

Each is built from reverse mode (``tg.grad``), as a student would write it:

    vjp(f, x, v)  = v^T J                      one backward from the outputs, seeded with v
    jvp(f, x, v)  = J v                        the "double-backward trick": u -> u^T J is linear
                                               in u, so J v = d(u^T J v)/du, one more backward
    jacobian(f, x)  J[i, j] = d f_i / d x_j    one backward per output element (row by row)
    hessian(f, x) = jacobian of x -> grad f(x) (f returns a single number)
    vhp(f, x, v)  = v^T H,  hvp(f, x, v) = H v  (equal: a Hessian is symmetric)

As in torch: ``inputs`` is a Tensor or a tuple of Tensors (the results follow the same
structure), so are the function's outputs; the inputs are differentiated as fresh leaves (their
own graph is ignored unless ``create_graph``); an output that does not depend on an input gives
zeros, or an error with ``strict=True``; results carry no graph unless ``create_graph=True``.
``vectorize`` is accepted and changes nothing (the rows are computed one by one either way);
only the reverse-mode strategies exist.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.autograd import functional as AF
>>> AF.hessian(lambda x: (x ** 3).sum(), tg.tensor([1.0, 2.0])).tolist()
[[6.0, 0.0], [0.0, 12.0]]
"""

from __future__ import annotations

from collections.abc import Callable

from .autograd import enable_grad, grad
from .functional import stack
from .tensor import Tensor, ones_like, zeros_like


def _as_tuple(op: str, what: str, value) -> tuple[tuple, bool]:
    """(value as a tuple of Tensors, whether it came as a tuple or list)."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            where = f"{what}[{i}]" if is_tuple else what
            raise TypeError(f"{op}: expected {where} to be a Tensor, got {type(t).__name__}")
    return values, is_tuple


def _leaves(inputs: tuple, create_graph: bool) -> tuple:
    """The inputs as tensors to differentiate with respect to: fresh leaves, or (create_graph)
    views that keep the inputs' own graph, so the results can be differentiated further."""
    if create_graph:
        return tuple(t.view_as(t) if t.requires_grad else t.detach().requires_grad_()
                     for t in inputs)
    return tuple(t.detach().requires_grad_() for t in inputs)


def _call(op: str, func: Callable, leaves: tuple) -> tuple[tuple, bool]:
    """func's outputs as a tuple of Tensors, and whether func returned a tuple."""
    return _as_tuple(op, "the output of func", func(*leaves))


def _scalar_gradient(op: str, func: Callable, leaves: tuple, strict: bool) -> tuple:
    """(func's one-element output, its gradient with a graph) for hessian/vhp/hvp."""
    outputs, _ = _call(op, func, leaves)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(f"{op}: func must return a single Tensor with a single element, "
                           f"got shapes {[tuple(o.shape) for o in outputs]}")
    return outputs[0], _grads(op, outputs, leaves, (ones_like(outputs[0]),), True, strict,
                              "gradient")


def _grads(op: str, outputs, leaves: tuple, grad_outputs, create_graph: bool, strict: bool,
           what: str) -> tuple:
    """d(sum_k v_k . outputs_k)/d(leaves), zeros (strict: an error) where there is no path;
    ``outputs`` may be gradients themselves (a second pass: jvp, vhp, hvp)."""
    connected = [o for o in outputs if o.requires_grad]
    seeds = [v for o, v in zip(outputs, grad_outputs, strict=True) if o.requires_grad]
    found = (grad(connected, leaves, seeds, retain_graph=True, create_graph=create_graph,
                  allow_unused=True) if connected else (None,) * len(leaves))
    result = []
    for i, (g, leaf) in enumerate(zip(found, leaves, strict=True)):
        if g is None:
            if strict:
                raise RuntimeError(f"{op}: the output of func is independent of input {i}, "
                                   f"which strict=True does not allow ({what})")
            g = zeros_like(leaf)
        result.append(g)
    return tuple(result)


def _checked_v(op: str, v, like: tuple, what: str) -> tuple:
    """v given for ``like`` (the outputs or the inputs): one Tensor of the same shape each;
    None only where every one of them holds a single number (then v = 1)."""
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError(f"{op}: v can be omitted only when every {what} has a single "
                               f"element, got shapes {[tuple(t.shape) for t in like]}")
        return tuple(ones_like(t) for t in like)
    given, _ = _as_tuple(op, "v", v)
    if len(given) != len(like):
        raise RuntimeError(f"{op}: v has {len(given)} tensor(s) but there are {len(like)} "
                           f"{what}(s)")
    for i, (a, b) in enumerate(zip(given, like, strict=True)):
        if a.shape != b.shape:
            raise RuntimeError(f"{op}: v[{i}] has shape {tuple(a.shape)} but {what} {i} has "
                               f"shape {tuple(b.shape)}")
    return given


def _finish(values: tuple, is_tuple: bool, create_graph: bool):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if is_tuple else values[0]


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J): the vector-Jacobian product, one reverse pass seeded with v (the
    outputs' shape)."""
    op = "vjp"
    inputs, inputs_tuple = _as_tuple(op, "inputs", inputs)
    with enable_grad():
        leaves = _leaves(inputs, create_graph)
        outputs, outputs_tuple = _call(op, func, leaves)
        v = _checked_v(op, v, outputs, "output")
        result = _grads(op, outputs, leaves, v, create_graph, strict, "vjp")
    return _finish(outputs, outputs_tuple, create_graph), _finish(result, inputs_tuple,
                                                                   create_graph)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product (v: the inputs' shape) by the
    double-backward trick: g(u) = u^T J is linear in u, so J v = d(g(u) . v)/du."""
    op = "jvp"
    inputs, inputs_tuple = _as_tuple(op, "inputs", inputs)
    with enable_grad():
        leaves = _leaves(inputs, create_graph)
        outputs, outputs_tuple = _call(op, func, leaves)
        v = _checked_v(op, v, inputs, "input")
        dummies = tuple(zeros_like(o).requires_grad_() for o in outputs)  # u
        g = _grads(op, outputs, leaves, dummies, True, strict, "jvp")  # u^T J, a graph in u
        result = _grads(op, g, dummies, v, create_graph, False, "jvp")  # d(u^T J v)/du
    return _finish(outputs, outputs_tuple, create_graph), _finish(result, outputs_tuple,
                                                                   create_graph)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """J[i][j] = d outputs_i / d inputs_j, of shape outputs_i.shape + inputs_j.shape; a Tensor
    for one input and one output (torch's nesting otherwise: a tuple per output, each a tuple
    per input, a level dropped where func takes or returns a single Tensor). Row by row: one
    backward per output element, seeded with that element's one-hot vector."""
    op = "jacobian"
    if strategy != "reverse-mode":
        raise NotImplementedError(f"{op}: only strategy='reverse-mode' is implemented, got "
                                  f"{strategy!r}")
    inputs, inputs_tuple = _as_tuple(op, "inputs", inputs)
    with enable_grad():
        leaves = _leaves(inputs, create_graph)
        outputs, outputs_tuple = _call(op, func, leaves)
        blocks = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in leaves]  # per input: the gradient of each element of out
            for k in range(out.numel()):
                one_hot = [zeros_like(o) for o in outputs]
                one_hot[i].data.reshape(-1)[k] = 1  # the seed: element k of output i
                row = _grads(op, outputs, leaves, one_hot, create_graph, strict,
                             f"output {i}, element {k}")
                for j, g in enumerate(row):
                    rows[j].append(g)
            per_input = []
            for j, leaf in enumerate(leaves):
                shape = tuple(out.shape) + tuple(leaf.shape)
                stacked = (stack(rows[j]) if rows[j] else
                           zeros_like(leaf).reshape(-1)[:0])  # an empty output: no rows
                per_input.append(stacked.reshape(shape))
            blocks.append(_finish(tuple(per_input), inputs_tuple, create_graph))
    return tuple(blocks) if outputs_tuple else blocks[0]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """H[i][j] = d^2 func / d inputs_i d inputs_j for a func that returns a single number:
    the jacobian of x -> grad func(x)."""
    op = "hessian"
    inputs_tuple = isinstance(inputs, (tuple, list))

    def gradient(*xs):
        return _scalar_gradient(op, func, xs, strict)[1]

    result = jacobian(gradient, tuple(inputs) if inputs_tuple else (inputs,), create_graph,
                      strict, vectorize, outer_jacobian_strategy)
    if inputs_tuple:
        return result
    return result[0][0]


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H) for a func that returns a single number: the gradient of
    grad func(x) . v, two reverse passes."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v): the same numbers as vhp, since a Hessian is symmetric."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(op: str, func, inputs, v, create_graph: bool, strict: bool):
    inputs, inputs_tuple = _as_tuple(op, "inputs", inputs)
    with enable_grad():
        leaves = _leaves(inputs, create_graph)
        output, first = _scalar_gradient(op, func, leaves, strict)
        v = _checked_v(op, v, leaves, "input")
        result = _grads(op, first, leaves, v, create_graph, strict, "second derivative")
    return _finish((output,), False, create_graph), _finish(result, inputs_tuple, create_graph)
