"""User mistakes raise errors that teach: the op's name, what was expected and what arrived
(shapes, dtypes, devices). Every test asserts the message, not only the exception type."""

import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import functional as F

# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, message", [
    ((2, 3), (4, 5), r"matmul: cannot multiply shapes \(2, 3\) and \(4, 5\): inner dimensions "
                     r"3 and 4 differ"),
    ((3,), (4,), r"matmul: cannot multiply shapes \(3,\) and \(4,\): inner dimensions 3 and 4"),
    ((2, 3), (2,), r"matmul: cannot multiply shapes \(2, 3\) and \(2,\)"),
    ((2, 2, 3), (3, 3, 2), r"matmul: cannot multiply shapes \(2, 2, 3\) and \(3, 3, 2\): batch "
                           r"dimensions cannot be broadcast together"),
    ((), (4,), r"matmul: cannot multiply shapes \(\) and \(4,\): both arguments to matmul need "
               r"to be at least 1-d"),
], ids=str)
def test_matmul_shape_mismatch(a, b, message):
    with pytest.raises(ValueError, match=message):
        tg.ones(*a) @ tg.ones(*b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq", "lt", "ge"])
def test_broadcasting_mismatch_names_the_op_and_both_shapes(op):
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be "
                                         r"broadcast together"):
        getattr(F, op)(tg.ones(2, 3), tg.ones(4))


def test_broadcasting_mismatch_through_operators_and_where():
    with pytest.raises(ValueError, match=r"mul: shapes \(3, 1, 2\) and \(4, 3\) cannot be"):
        tg.ones(3, 1, 2) * tg.ones(4, 3)
    with pytest.raises(ValueError, match=r"where: condition \(2, 3\), input \(4,\) and other "
                                         r"\(\) cannot be broadcast together"):
        tg.where(tg.ones(2, 3) > 0, tg.ones(4), 0.0)
    with pytest.raises(ValueError, match=r"clamp: shapes \(2, 3\) and \(4,\) cannot be "
                                         r"broadcast"):
        tg.clamp(tg.ones(2, 3), min=tg.zeros(4))


def test_cat_and_stack_mismatch():
    with pytest.raises(ValueError, match=r"cat: tensors must have the same shape except in "
                                         r"dimension 0; got shapes \(2, 3\), \(2, 4\)"):
        tg.cat([tg.ones(2, 3), tg.ones(2, 4)])
    with pytest.raises(ValueError, match=r"cat: tensors must .* dimension 1; got shapes "
                                         r"\(2, 3\), \(3,\)"):
        tg.cat([tg.ones(2, 3), tg.ones(3)], dim=1)
    with pytest.raises(ValueError, match="cat: expected a non-empty list of tensors"):
        tg.cat([])
    with pytest.raises(ValueError, match="cat: zero-dimensional tensors cannot be concatenated"):
        tg.cat([tg.tensor(1.0), tg.tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size, got "
                                         r"\[\(2, 3\), \(2, 4\)\]"):
        tg.stack([tg.ones(2, 3), tg.ones(2, 4)])


def test_reshape_to_the_wrong_size():
    with pytest.raises(ValueError, match=r"reshape: shape \(4, -1\) is invalid for input of "
                                         r"size 6 \(input shape \(2, 3\)\)"):
        tg.ones(2, 3).reshape(4, -1)
    with pytest.raises(ValueError, match=r"reshape: shape \(5,\) is invalid for input of size 6"):
        tg.ones(2, 3).view(5)
    with pytest.raises(ValueError, match=r"reshape: shape \(-1, -1\) is invalid"):
        tg.ones(2, 3).reshape(-1, -1)


def test_expand_repeat_split_pad_flatten_mismatches():
    with pytest.raises(ValueError, match=r"broadcast_to: shape \(2, 3\) cannot be broadcast to "
                                         r"\(3, 3\)"):
        tg.ones(2, 3).expand(3, 3)
    with pytest.raises(ValueError, match=r"expand: the number of sizes \(1\) must be at least"):
        tg.ones(2, 3).expand(3)
    with pytest.raises(ValueError, match=r"repeat: number of repeat dims \(1\) can not be "
                                         r"smaller than the number of tensor dimensions \(2\)"):
        tg.ones(2, 3).repeat(2)
    with pytest.raises(ValueError, match=r"split: sections \[1, 1\] sum to 2 but dimension 1 "
                                         r"has size 3"):
        tg.ones(2, 3).split([1, 1], dim=1)
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        tg.ones(2, 3).split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be positive, got 0"):
        tg.ones(2, 3).chunk(0)
    with pytest.raises(ValueError, match="pad: negative padding is not supported"):
        F.pad(tg.ones(2, 3), (-1, 0))
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        tg.ones(2, 3, 4).flatten(2, 1)
    with pytest.raises(ValueError, match=r"t: expects a tensor with <= 2 dimensions, got shape "
                                         r"\(2, 3, 4\)"):
        tg.ones(2, 3, 4).t()


# ----------------------------------------------------------------------------------------------
# Dims
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, op, valid, got", [
    (lambda x: x.sum(2), "sum", r"\[-2, 1\]", 2),
    (lambda x: x.mean(-3), "mean", r"\[-2, 1\]", -3),
    (lambda x: x.max(5), "max", r"\[-2, 1\]", 5),
    (lambda x: x.argmax(2), "argmax", r"\[-2, 1\]", 2),
    (lambda x: x.softmax(2), "softmax", r"\[-2, 1\]", 2),
    (lambda x: x.logsumexp(-5), "logsumexp", r"\[-2, 1\]", -5),
    (lambda x: x.transpose(0, 2), "transpose", r"\[-2, 1\]", 2),
    (lambda x: x.unsqueeze(3), "unsqueeze", r"\[-3, 2\]", 3),
    (lambda x: x.squeeze(4), "squeeze", r"\[-2, 1\]", 4),
    (lambda x: x.permute(0, 3), "permute", r"\[-2, 1\]", 3),
    (lambda x: tg.cat([x, x], 2), "cat", r"\[-2, 1\]", 2),
    (lambda x: tg.stack([x, x], 4), "stack", r"\[-3, 2\]", 4),
    (lambda x: x.split(1, 2), "split", r"\[-2, 1\]", 2),
    (lambda x: x.flatten(0, 2), "flatten", r"\[-2, 1\]", 2),
    (lambda x: x.index_select(2, tg.tensor([0])), "index_select", r"\[-2, 1\]", 2),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_dim(call, op, valid, got):
    with pytest.raises(IndexError, match=rf"{op}: dimension out of range \(expected to be in "
                                         rf"range of {valid}, but got {got}\)"):
        call(tg.ones(2, 3))


def test_bad_dim_types_and_repeats():
    with pytest.raises(TypeError, match="sum: dim must be an int or a tuple of ints, got float"):
        tg.ones(2).sum(0.5)
    with pytest.raises(ValueError, match=r"var: dim \(1, -1\) names the same dimension twice"):
        tg.ones(2, 3).var((1, -1))
    with pytest.raises(ValueError, match=r"permute: dims \(0, -2\) are not a permutation .* "
                                         r"\(a dimension is repeated\)"):
        tg.ones(2, 3).permute(0, -2)
    with pytest.raises(ValueError, match=r"permute: got 1 dims \(0,\) for a tensor of shape "
                                         r"\(2, 3\) with 2 dimensions"):
        tg.ones(2, 3).permute(0)


# ----------------------------------------------------------------------------------------------
# Indexing
# ----------------------------------------------------------------------------------------------


def test_indexing_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index 3 is out of bounds for axis 0 with "
                                         r"size 3 \(tensor shape \(3, 2\)\)"):
        tg.ones(3, 2)[3]
    with pytest.raises(IndexError, match=r"getitem: index -4 is out of bounds .*\(3, 2\)"):
        tg.ones(3, 2)[-4]
    with pytest.raises(IndexError, match=r"getitem: index 2 is out of bounds for axis 1"):
        tg.ones(3, 2)[tg.tensor([0, 1]), tg.tensor([0, 2])]
    with pytest.raises(IndexError, match=r"getitem: too many indices .*\(tensor shape \(3,\)\)"):
        tg.ones(3)[0, 0]
    with pytest.raises(IndexError, match=r"getitem: only integers, slices .* \(tensor shape"):
        tg.ones(3)[1.5]
    with pytest.raises(IndexError, match=r"getitem: the shape of the mask \(2,\) does not match "
                                         r"the shape \(3,\)"):
        tg.ones(3)[tg.tensor([True, False])]
    with pytest.raises(IndexError, match=r"index_select: index is supposed to be a vector"):
        tg.ones(3).index_select(0, tg.tensor([[0]]))


# ----------------------------------------------------------------------------------------------
# Types and dtypes
# ----------------------------------------------------------------------------------------------


def test_integer_tensor_asked_for_grad():
    with pytest.raises(TypeError, match=r"requires_grad: only floating point tensors can "
                                        r"require gradients, got dtype int64 \(shape \(3,\)\)"):
        tg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="got dtype bool"):
        tg.ones(2).gt(0).requires_grad_()


def test_non_numbers_in_arithmetic():
    with pytest.raises(TypeError, match="add: expected a Tensor or a number, got str"):
        tg.ones(2) + "a"
    with pytest.raises(TypeError, match="mul: expected a Tensor or a number, got None"):
        tg.ones(2) * None
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got dtype "
                                        "float32"):
        tg.where(tg.ones(2), tg.ones(2), tg.ones(2))
    with pytest.raises(TypeError, match="exp: expected a Tensor, got list"):
        tg.exp([1.0, 2.0])


# ----------------------------------------------------------------------------------------------
# In-place updates
# ----------------------------------------------------------------------------------------------

WRONG_SHAPE = "can't be broadcast to the shape"
IN_PLACE_SHAPE_ERRORS = [
    # (update of lib.zeros(3), message, does torch refuse it too?)
    (lambda lib, x: x.add_(lib.ones(4)),
     rf"add_: a value of shape \(4,\) {WRONG_SHAPE} \(3,\) of the tensor updated in place", True),
    (lambda lib, x: x.add_(lib.ones(2, 3)),
     rf"add_: a value of shape \(2, 3\) {WRONG_SHAPE} \(3,\)", True),
    (lambda lib, x: x.add_(lib.ones(1, 3)),  # would fit after dropping the 1: still refused
     rf"add_: a value of shape \(1, 3\) {WRONG_SHAPE} \(3,\)", True),
    (lambda lib, x: x.sub_(lib.ones(4), alpha=2),
     rf"sub_: a value of shape \(4,\) {WRONG_SHAPE} \(3,\)", True),
    (lambda lib, x: x.mul_(lib.ones(2)), rf"mul_: a value of shape \(2,\) {WRONG_SHAPE}", True),
    (lambda lib, x: x.__itruediv__(lib.ones(5)),
     rf"div_: a value of shape \(5,\) {WRONG_SHAPE} \(3,\)", True),
    (lambda lib, x: x.add_(np.ones(2)), rf"add_: a value of shape \(2,\) {WRONG_SHAPE}", False),
    (lambda lib, x: x.copy_(lib.ones(4)),
     rf"copy_: a value of shape \(4,\) {WRONG_SHAPE} \(3,\) of the tensor updated in place",
     True),
    (lambda lib, x: x.copy_(lib.ones(2, 3)),
     rf"copy_: a value of shape \(2, 3\) {WRONG_SHAPE} \(3,\)", True),
    (lambda lib, x: x.copy_(np.ones(2)), rf"copy_: a value of shape \(2,\) {WRONG_SHAPE}",
     False),
    (lambda lib, x: x.__setitem__(0, lib.ones(2)),
     rf"setitem: a value of shape \(2,\) {WRONG_SHAPE} \(\) of the indexed part of the "
     r"tensor \(shape \(3,\)\)", True),
    (lambda lib, x: x.__setitem__(slice(None), lib.ones(2)),
     rf"setitem: a value of shape \(2,\) {WRONG_SHAPE} \(3,\) of the indexed part", True),
    (lambda lib, x: x.__setitem__(slice(0, 2), lib.ones(2, 1, 2)),
     rf"setitem: a value of shape \(2, 1, 2\) {WRONG_SHAPE} \(2,\) of the indexed part", True),
    (lambda lib, x: x.__setitem__(lib.tensor([0, 2]), lib.ones(3)),
     rf"setitem: a value of shape \(3,\) {WRONG_SHAPE} \(2,\) of the indexed part", True),
    (lambda lib, x: x.fill_(lib.ones(3)),
     r"fill_: expected a number or a 0-d tensor, got a value of shape \(3,\); use copy_", True),
    (lambda lib, x: x.fill_(lib.ones(1)),
     r"fill_: expected a number or a 0-d tensor, got a value of shape \(1,\)", True),
]


@pytest.mark.parametrize("update, message, torch_refuses", IN_PLACE_SHAPE_ERRORS)
def test_in_place_update_with_a_value_of_the_wrong_shape_names_the_op_and_both_shapes(
        update, message, torch_refuses):
    x = tg.zeros(3)
    with pytest.raises(RuntimeError, match=message):
        update(tg, x)
    assert x.tolist() == [0.0, 0.0, 0.0]  # nothing was written
    if torch_refuses:
        import torch

        with pytest.raises(RuntimeError):
            update(torch, torch.zeros(3))


def _iadd(t, value):
    t += value


def _isub(t, value):
    t -= value


IN_PLACE_DTYPE_ERRORS = [
    # (update, tensor, message): torch refuses each of them too
    (lambda lib, t: t.add_(lib.tensor([1, 1]), alpha=2.5), lambda lib: lib.tensor([1, 2]),
     r"add_: result type float \(alpha=2.5\) can't be cast to the desired output type int64 "
     r"of the tensor updated in place \(shape \(2,\)\); integer and bool tensors need an "
     r"integer alpha"),
    (lambda lib, t: t.sub_(lib.tensor([1, 1]), alpha=0.5), lambda lib: lib.tensor([1, 2]),
     r"sub_: result type float \(alpha=0.5\) can't be cast to the desired output type int64"),
    (lambda lib, t: t.add_(lib.tensor([True, True]), alpha=1.5),
     lambda lib: lib.tensor([True, False]),
     r"add_: result type float \(alpha=1.5\) can't be cast to the desired output type bool"),
    (lambda lib, t: _iadd(t, 1), lambda lib: lib.tensor([True, False]),
     r"add_: result type int64 can't be cast to the desired output type bool"),
    (lambda lib, t: _iadd(t, lib.tensor([0.5, 0.5])), lambda lib: lib.tensor([True, False]),
     r"add_: result type float32 can't be cast to the desired output type bool"),
    (lambda lib, t: _isub(t, True), lambda lib: lib.tensor([True, False]),
     r"sub_: subtraction of bool tensors is not supported \(as in torch\); use \^"),
    (lambda lib, t: t.add_(lib.tensor([1, 1]), alpha=True), lambda lib: lib.tensor([1, 2]),
     r"add_: a bool alpha \(True\) is only allowed for bool tensors, got a tensor of dtype "
     r"int64"),
]


@pytest.mark.parametrize("update, make, message", IN_PLACE_DTYPE_ERRORS)
def test_in_place_update_whose_result_type_the_tensor_cannot_hold(update, make, message):
    import torch

    t = make(tg)
    before = t.tolist()
    with pytest.raises(RuntimeError, match=message):
        update(tg, t)
    assert t.tolist() == before
    with pytest.raises(RuntimeError):
        update(torch, make(torch))


# ----------------------------------------------------------------------------------------------
# Autograd misuse
# ----------------------------------------------------------------------------------------------


def test_backward_on_non_scalar_without_gradient():
    y = tg.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: grad can be implicitly created only for "
                                           r"scalar outputs, but the output has shape \(3,\)"):
        y.backward()


def test_backward_gradient_of_the_wrong_shape():
    y = tg.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: mismatch in shape: gradient has shape "
                                           r"\(2,\) but the output has shape \(3,\)"):
        y.backward(tg.ones(2))


@pytest.mark.parametrize("seed", [
    lambda: tg.ones(1, 3),       # one leading dim too many (torch refuses it too)
    lambda: tg.ones(1),          # would broadcast, but is not the output's shape
    lambda: np.ones(4),          # not a Tensor
    lambda: [1.0, 2.0],          # a list
], ids=["(1, 3)", "(1,)", "ndarray (4,)", "list (2,)"])
@pytest.mark.parametrize("api", ["backward", "grad"])
def test_seed_gradient_of_the_wrong_shape_names_both_shapes(seed, api):
    x = tg.ones(3, requires_grad=True)
    y = x * 2
    got = tuple(np.shape(seed()))
    message = (rf"{api}: mismatch in shape: gradient has shape {re.escape(str(got))} but the "
               r"output has shape \(3,\)")
    with pytest.raises(RuntimeError, match=message):
        y.backward(seed()) if api == "backward" else tg.grad(y, x, [seed()])


def test_seed_gradient_for_a_scalar_output_must_be_0d_like_torch():
    y = (tg.ones(3, requires_grad=True) * 2).sum()
    with pytest.raises(RuntimeError, match=r"backward: mismatch in shape: gradient has shape "
                                           r"\(1,\) but the output has shape \(\)"):
        y.backward(tg.ones(1))


def test_backward_twice_through_a_freed_graph():
    x = tg.ones(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through \w+ a second time: its saved "
                                           r"values were freed .* retain_graph=True"):
        y.backward()


def test_backward_of_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match=r"backward: tensor of shape \(\) does not require "
                                           r"grad and has no grad_fn"):
        tg.ones(3).sum().backward()


# ----------------------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------------------


class _OtherDeviceArray(np.ndarray):
    """Stands in for an array of another device: the device check compares array types."""


def test_mixing_devices_is_an_error():
    # Without a GPU we cannot make a CuPy array; an ndarray subclass takes the other device's
    # place, which exercises exactly the check that two CuPy/NumPy operands would hit.
    a = tg.ones(2, 3)
    b = tg.Tensor._wrap(np.ones((2, 3)).view(_OtherDeviceArray), False)
    for op in (lambda: a + b, lambda: a @ b.T, lambda: tg.cat([a, b])):
        with pytest.raises(RuntimeError, match=r"expected all tensors on the same device, got "
                                               r"\(2, 3\) on cpu, .*Move them with \.to"):
            op()


@pytest.mark.gpu
def test_mixing_real_devices_is_an_error():
    with pytest.raises(RuntimeError, match=r"Add: expected all tensors on the same device, got "
                                           r"\(2,\) on cpu, \(2,\) on cuda:0"):
        tg.ones(2) + tg.ones(2, device="cuda")


def test_bad_device_names():
    with pytest.raises(ValueError, match="device: expected 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        tg.tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match="got 'gpu'"):
        tg.ones(2).to("gpu")


def test_cuda_without_a_gpu_explains_itself():
    if tg.gpu_available():
        pytest.skip("a GPU is present: moving to cuda works")
    with pytest.raises(RuntimeError, match="device cuda:0: no CUDA GPU available"):
        tg.ones(2).cuda()
